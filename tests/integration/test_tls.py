#!/usr/bin/env python3
"""HTTPS end to end: floe-vault --tls-cert/--tls-key with a CA and a server certificate made
here at run time by openssl (in a temporary directory removed pass or fail), then
  - floe trusting that CA through --ca-bundle, AWS_CA_BUNDLE and a profile's ca_bundle: a
    multi-part upload and a segmented retrieval, compared byte for byte;
  - the aws CLI (--ca-bundle) and boto3 (verify=CA) against the same server;
  - the failures, each permanent (one attempt, in seconds, the reason in the message): no CA
    or another CA ("not trusted"), https:// against a plain floe-vault ("does not speak TLS"),
    http:// against the HTTPS one (a hint after the few attempts an unreached endpoint gets),
    an unreadable --ca-bundle (exit 2); --no-verify-ssl works and warns;
  - floe-vault refusing a lone --tls-cert, a file that is not PEM, a key of another cert.

usage: test_tls.py FLOE FLOE_VAULT
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "helpers"))
import servers  # noqa: E402

FLOE = FLOE_VAULT = None
MIB = 1 << 20


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    """A self-signed CA (name.pem, name.key) in d."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".pem", "-days", "2", "-subj", "/CN=floe test " + name, cwd=d)
    return os.path.join(d, name + ".pem")


def make_server_cert(d, ca, name):
    """A certificate for 127.0.0.1 and localhost signed by ca: (cert path, key path)."""
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=127.0.0.1", cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = servers.tempdir("floe-tls-test-")
        cls.ca = make_ca(cls.tmp, "ca")
        cls.other_ca = make_ca(cls.tmp, "other")
        cls.cert, cls.key = make_server_cert(cls.tmp, "ca", "srv")
        cls.vault = servers.start_vault(FLOE_VAULT, extra=("--tls-cert", cls.cert,
                                                           "--tls-key", cls.key))
        cls.url = "https://127.0.0.1:%d" % cls.vault.port
        cls.plain = servers.start_vault(FLOE_VAULT)

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.plain.stop()

    def setUp(self):
        self.env = servers.client_env(servers.tempdir("floe-tls-case-"))

    def floe(self, *args, code=0, endpoint=None, timeout=120):
        p = subprocess.run([FLOE, "--endpoint-url", endpoint or self.url, *args],
                           env=self.env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != code:
            self.fail("floe %s: exit %d, wanted %d\nstdout: %s\nstderr: %s" %
                      (" ".join(args), p.returncode, code, p.stdout, p.stderr))
        return p

    def test_floe_upload_and_retrieve_over_https(self):
        d = servers.tempdir("floe-tls-data-")
        data = os.path.join(d, "data")
        with open(data, "wb") as f:
            f.write(os.urandom(5 * MIB + 123))
        self.floe("--ca-bundle", self.ca, "vault", "create", "tls1")
        up = self.floe("--ca-bundle", self.ca, "--json", "upload", "tls1", data,
                       "--part-size", "1MiB")
        aid = json.loads(up.stdout.splitlines()[-1])["archive_id"]
        out = os.path.join(d, "out")
        self.env["AWS_CA_BUNDLE"] = self.ca  # the variable instead of the option
        self.floe("retrieve", "tls1", "--archive-id=" + aid, "-o", out, "--tier", "Expedited",
                  "--segment-size", "1MiB")
        with open(data, "rb") as a, open(out, "rb") as b:
            self.assertEqual(hashlib.sha256(a.read()).digest(), hashlib.sha256(b.read()).digest())
        # a profile's ca_bundle
        del self.env["AWS_CA_BUNDLE"]
        with open(self.env["AWS_CONFIG_FILE"], "w") as f:
            f.write("[default]\nca_bundle = %s\n" % self.ca)
        p = self.floe("--json", "vault", "list")
        self.assertIn("tls1", p.stdout)

    def test_untrusted_certificate_is_permanent(self):
        for extra in ((), ("--ca-bundle", self.other_ca)):
            t0 = time.time()
            p = self.floe(*extra, "-v", "vault", "list", code=1)
            self.assertLess(time.time() - t0, 10)
            self.assertIn("TLS error", p.stderr)
            self.assertIn("not trusted", p.stderr)
            self.assertIn("not retried", p.stderr)
            self.assertNotIn("retry 1", p.stderr)  # -v logs every retry

    def test_https_against_plain_server_is_permanent(self):
        t0 = time.time()
        p = self.floe("-v", "vault", "list", code=1,
                      endpoint="https://127.0.0.1:%d" % self.plain.port)
        self.assertLess(time.time() - t0, 10)
        self.assertIn("does not speak TLS", p.stderr)
        # the plain server may close on the ClientHello before its 400 is read (a reset,
        # retryable like any); once its answer is seen there is no further attempt
        self.assertNotIn("retry 3", p.stderr)

    def test_http_against_https_server_gives_up_with_a_hint(self):
        t0 = time.time()
        p = self.floe("vault", "list", code=1, endpoint="http://127.0.0.1:%d" % self.vault.port)
        self.assertLess(time.time() - t0, 30)  # not the 10-minute retry budget
        self.assertIn("is the endpoint https://?", p.stderr)

    def test_clock_skew_taken_from_the_date_header(self):
        # floe's clock an hour behind, then two hours ahead: floe-vault refuses the first
        # signature ("Signature expired" / "not yet current", as Glacier), floe takes the
        # offset from its Date header and the request goes through
        plain = "http://127.0.0.1:%d" % self.plain.port
        # the Date header has whole seconds, so the offset read from it can be one short
        for off in (-3600, 7200):
            self.env["FLOE_CLOCK_OFFSET_S"] = str(off)
            p = self.floe("vault", "list", endpoint=plain)
            self.assertIn("the service refused the request time", p.stderr)
            m = re.search(r"GMT, ([+-]\d+) s from the clock used", p.stderr)
            self.assertIsNotNone(m, p.stderr)
            self.assertLessEqual(abs(int(m.group(1)) + off), 2, p.stderr)

    def test_no_verify_ssl_warns(self):
        p = self.floe("--no-verify-ssl", "vault", "list")
        self.assertIn("WARNING: --no-verify-ssl", p.stderr)

    def test_unreadable_ca_bundle_is_a_usage_error(self):
        p = self.floe("--ca-bundle", os.path.join(self.tmp, "missing.pem"), "vault", "list",
                      code=2)
        self.assertIn("cannot be read", p.stderr)
        self.assertIn("--ca-bundle", p.stderr)

    def test_aws_cli_over_https(self):
        d = servers.tempdir("floe-tls-aws-")
        body = os.path.join(d, "body")
        with open(body, "wb") as f:
            f.write(os.urandom(4096))
        base = ["aws", "--endpoint-url", self.url, "--ca-bundle", self.ca, "--output", "json",
                "glacier"]
        subprocess.run(base + ["create-vault", "--account-id", "-", "--vault-name", "awstls"],
                       env=self.env, check=True, capture_output=True)
        p = subprocess.run(base + ["upload-archive", "--account-id", "-", "--vault-name",
                                   "awstls", "--body", body], env=self.env, capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout)["archiveId"])
        # without the CA the aws CLI refuses the certificate too
        p = subprocess.run(base + ["list-vaults", "--account-id", "-"], env=dict(
            self.env, AWS_MAX_ATTEMPTS="1"), capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run(["aws", "--endpoint-url", self.url, "glacier", "list-vaults",
                            "--account-id", "-"], env=dict(self.env, AWS_MAX_ATTEMPTS="1"),
                           capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", p.stderr)

    def test_boto3_over_https(self):
        import boto3
        g = boto3.client("glacier", endpoint_url=self.url, verify=self.ca,
                         region_name="us-east-1", aws_access_key_id=servers.LOCAL_AK,
                         aws_secret_access_key=servers.LOCAL_SK)
        g.create_vault(vaultName="botls")
        data = os.urandom(100000)
        aid = g.upload_archive(vaultName="botls", body=data)["archiveId"]
        self.assertEqual(servers.read_archive(g, "botls", aid), data)

    def test_vault_tls_option_errors(self):
        d = servers.tempdir("floe-tls-opt-")
        cases = [
            (("--tls-cert", self.cert), 2, "--tls-cert and --tls-key go together"),
            (("--tls-cert", os.path.join(self.tmp, "ext.cnf"), "--tls-key", self.key), 2,
             "not a PEM file"),
            (("--tls-cert", os.path.join(d, "none.pem"), "--tls-key", self.key), 2,
             "No such file"),
            (("--tls-cert", self.cert, "--tls-key", os.path.join(self.tmp, "other.key")), 1,
             "is --tls-key the private key of --tls-cert"),
        ]
        for args, code, msg in cases:
            p = subprocess.run([FLOE_VAULT, "--listen", "127.0.0.1:0", "--data-dir",
                                os.path.join(d, "data"), *args], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(p.returncode, code, (args, p.stderr))
            self.assertIn(msg, p.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    FLOE, FLOE_VAULT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
