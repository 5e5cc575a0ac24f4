#!/usr/bin/env python3
"""floe's credential chain against real peers on 127.0.0.1, each started here and stopped by
PID, temporary directories removed pass or fail (docs/credentials.md):
  - credential_process scripts (good, exit non-zero with its stderr shown, garbage, expired);
  - moto's server as STS: AssumeRole (source_profile) and AssumeRoleWithWebIdentity (the EKS
    variables); the Glacier requests that follow are signed with the ASIA... key and session
    token moto issued (a recording endpoint in tests/helpers/credserver.py checks);
  - tests/helpers/credserver.py as IMDSv2, the container endpoint and the SSO portal, and over
    HTTPS with a CA made here (as tests/integration/test_tls.py makes it): the fetches trust
    --ca-bundle, AWS_CA_BUNDLE and the profile's ca_bundle, refuse an unknown CA, and
    --no-verify-ssl skips the check, as for the Glacier requests;
  - refresh during one long upload to floe-vault (parts delayed by tests/helpers/faultproxy.py):
    credentials that live 20 s are fetched again while the multipart upload runs, and an
    ExpiredTokenException answer makes floe refresh and resend; the archive is retrieved
    again and compared byte for byte; the same for a long retrieval.
floe-vault knows one key pair, so the fake sources hand out that pair with a new session token
each time (floe-vault checks the signature, which covers x-amz-security-token).

usage: test_credentials.py FLOE FLOE_VAULT
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "helpers"))
import servers  # noqa: E402
from test_tls import make_ca, make_server_cert  # noqa: E402

FLOE = FLOE_VAULT = None
MIB = 1 << 20


def stats(srv):
    with urllib.request.urlopen(srv.url + "/_stats", timeout=10) as r:
        return json.loads(r.read())


class Credentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vault = servers.start_vault(FLOE_VAULT)

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        shutil.rmtree(cls.vault.workdir, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="floe-creds-test-")
        self.stop = []
        env = servers.client_env(self.tmp)
        del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        env["HOME"] = self.tmp
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        self.env = env
        self.conf = env["AWS_CONFIG_FILE"]

    def tearDown(self):
        for s in self.stop:
            s.stop()
            shutil.rmtree(s.workdir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, srv):
        self.stop.append(srv)
        return srv

    def floe(self, *args, code=0, endpoint=None, timeout=120):
        p = subprocess.run([FLOE, "--endpoint-url", endpoint or self.vault.url, *args],
                           env=self.env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != code:
            self.fail("floe %s: exit %d, wanted %d\nstdout: %s\nstderr: %s" %
                      (" ".join(args), p.returncode, code, p.stdout, p.stderr))
        return p

    def write_config(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def script(self, name, body):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o700)
        return path

    # ---- credential_process ----

    def test_credential_process(self):
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        good = self.script("good.sh", "echo 'process ran' >&2\nprintf '%s'\n" % json.dumps({
            "Version": 1, "AccessKeyId": servers.LOCAL_AK, "SecretAccessKey": servers.LOCAL_SK,
            "SessionToken": "tok-process", "Expiration": exp}))
        self.write_config("[profile p]\ncredential_process = %s\n" % good)
        p = self.floe("--profile", "p", "vault", "create", "cp1")
        self.assertIn("process ran", p.stderr)  # the process's stderr is passed through
        self.env["AWS_PROFILE"] = "p"
        self.floe("vault", "describe", "cp1")
        cases = [("exit 3", "echo 'no such account' >&2; exit 3",
                  ["exited with status 3", "no such account"]),
                 ("garbage", "echo garbage", ["not a JSON object"]),
                 ("version 2", "echo '{\"Version\": 2}'", ["\"Version\" must be 1"]),
                 ("expired", "printf '%s'" % json.dumps({
                     "Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "SK",
                     "SessionToken": "T", "Expiration": "2020-01-01T00:00:00Z"}),
                  ["already expired"])]
        for name, body, wants in cases:
            s = self.script("bad.sh", body)
            self.write_config("[profile p]\ncredential_process = %s\n" % s)
            p = self.floe("vault", "list", code=1)
            for w in wants:
                self.assertIn(w, p.stderr, name)
            self.assertIn("profile p: credential_process", p.stderr, name)
            self.assertNotIn("SK", p.stderr.replace("ASK", ""), name)

    # ---- STS (moto) ----

    def test_sts_assume_role_and_web_identity(self):
        moto = self.server(servers.start_moto())
        rec = self.server(servers.start_credserver())
        self.env["AWS_ENDPOINT_URL_STS"] = moto.url
        self.write_config(
            "[profile base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
            "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/floe-test\n"
            "source_profile = base\nrole_session_name = floe-it\nexternal_id = ext-1\n"
            "duration_seconds = 900\n"
            "[profile chained]\nrole_arn = arn:aws:iam::123456789012:role/second\n"
            "source_profile = role\n"
            "[profile loop1]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop2\n"
            "[profile loop2]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop1\n"
            "[profile mfa]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\n"
            "mfa_serial = arn:aws:iam::1:mfa/me\n")
        for prof in ("role", "chained"):
            self.floe("--profile", prof, "vault", "list", endpoint=rec.url)
        # floe config credentials --check: GetCallerIdentity with moto's keys names the role
        # and session they were issued for
        p = self.floe("--profile", "role", "--json", "config", "credentials", "--check",
                      endpoint=rec.url)
        c = json.loads(p.stdout)
        self.assertEqual(c["arn"], "arn:aws:sts::123456789012:assumed-role/floe-test/floe-it")
        self.assertEqual(c["account"], "123456789012")
        self.assertTrue(c["access_key_id"].startswith("ASIA"), c)
        self.assertIn("floe-test", c["source"])
        self.assertTrue(c["expiration"].endswith("Z"), c)
        self.assertNotIn("SecretAccessKey", p.stdout)
        p = self.floe("--profile", "base", "config", "credentials", "--check", endpoint=rec.url)
        self.assertIn("expires        never", p.stdout)
        self.assertIn("AKIAIOSFODNN7EXAMPLE", p.stdout)
        self.assertNotIn("wJalrXUtnFEMI", p.stdout + p.stderr)
        # web identity as EKS sets it
        tokf = os.path.join(self.tmp, "token")
        with open(tokf, "w") as f:
            f.write("eyJhbGciOiJSUzI1NiJ9.e30.sig\n")
        env = dict(self.env)
        self.env.update(AWS_WEB_IDENTITY_TOKEN_FILE=tokf,
                        AWS_ROLE_ARN="arn:aws:iam::123456789012:role/eks-pod",
                        AWS_ROLE_SESSION_NAME="pod-1")
        self.floe("vault", "list", endpoint=rec.url)
        self.env = env
        got = stats(rec)["glacier"]
        self.assertEqual(len(got), 3)
        for g in got:  # moto's temporary keys, with their token, signed the Glacier requests
            self.assertTrue(g["akid"].startswith("ASIA"), g)
            self.assertTrue(g["token"], g)
        self.assertNotEqual(got[0]["akid"], got[2]["akid"])
        p = self.floe("--profile", "loop1", "vault", "list", code=2, endpoint=rec.url)
        self.assertIn("source_profile loop: loop1 -> loop2 -> loop1", p.stderr)
        p = self.floe("--profile", "mfa", "vault", "list", code=2, endpoint=rec.url)
        self.assertIn("has mfa_serial", p.stderr)
        # STS unreachable: the error names STS
        self.env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:1"
        p = self.floe("--profile", "role", "vault", "list", code=1, endpoint=rec.url)
        self.assertIn("STS AssumeRole", p.stderr)
        p = self.floe("--profile", "base", "config", "credentials", "--check", code=1,
                      endpoint=rec.url)
        self.assertIn("STS GetCallerIdentity", p.stderr)

    # ---- IMDSv2, container, SSO ----

    def test_imds_container_sso(self):
        srv = self.server(servers.start_credserver("--container-token", "Bearer c-tok"))
        del self.env["AWS_EC2_METADATA_DISABLED"]
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = srv.url
        self.floe("vault", "create", "imds1")
        self.assertEqual(stats(srv)["counts"].get("imds"), 1)
        # the container endpoint comes before instance metadata
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = srv.url + "/container/creds"
        tf = os.path.join(self.tmp, "ctoken")
        with open(tf, "w") as f:
            f.write("Bearer c-tok\n")
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = tf
        self.floe("vault", "describe", "imds1")
        self.assertEqual(stats(srv)["counts"].get("container"), 1)
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = "/nonexistent/token"
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Bearer wrong"
        del self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]
        p = self.floe("vault", "list", code=1)
        self.assertIn("container credentials", p.stderr)
        self.assertIn("HTTP 401", p.stderr)
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://example.com/creds"
        p = self.floe("vault", "list", code=2)
        self.assertIn("must be https, or http to a loopback address", p.stderr)
        del self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        # SSO: the token aws sso login cached, then GetRoleCredentials
        self.env["AWS_ENDPOINT_URL_SSO"] = srv.url
        self.write_config("[profile sso]\nsso_session = corp\nsso_account_id = 111122223333\n"
                          "sso_role_name = Reader\n[sso-session corp]\n"
                          "sso_start_url = https://d-1.awsapps.com/start\nsso_region = eu-west-1\n")
        cache = os.path.join(self.tmp, ".aws", "sso", "cache")
        os.makedirs(cache)
        path = os.path.join(cache, hashlib.sha1(b"corp").hexdigest() + ".json")

        def token(expires):
            with open(path, "w") as f:
                json.dump({"startUrl": "https://d-1.awsapps.com/start", "region": "eu-west-1",
                           "accessToken": "sso-bearer", "expiresAt": time.strftime(
                               "%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))}, f)
        token(time.time() + 3600)
        self.floe("--profile", "sso", "vault", "describe", "imds1")
        self.assertEqual(stats(srv)["counts"].get("sso"), 1)
        token(time.time() - 60)
        p = self.floe("--profile", "sso", "vault", "list", code=1)
        self.assertIn("run aws sso login", p.stderr)
        os.unlink(path)
        p = self.floe("--profile", "sso", "vault", "list", code=1)
        self.assertIn("no cached token: run aws sso login", p.stderr)

    def test_tls_of_credential_fetches(self):
        ca = make_ca(self.tmp, "ca")
        make_ca(self.tmp, "other")
        cert, key = make_server_cert(self.tmp, "ca", "srv")
        srv = self.server(servers.start_credserver("--tls-cert", cert, "--tls-key", key))
        https = "https://127.0.0.1:%d" % srv.port
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = https + "/container/creds"

        def fetches():
            ctx = __import__("ssl").create_default_context(cafile=ca)
            with urllib.request.urlopen(https + "/_stats", context=ctx) as r:
                return json.load(r)["counts"].get("container", 0)
        # the system store does not know the test CA, nor does another CA: refused, no keys
        p = self.floe("config", "credentials", code=1)
        self.assertIn("container credentials", p.stderr)
        self.assertIn("certificate", p.stderr)
        p = self.floe("--ca-bundle", os.path.join(self.tmp, "other.pem"), "config",
                      "credentials", code=1)
        self.assertIn("certificate", p.stderr)
        self.assertEqual(fetches(), 0)
        # trusted through each way of naming the CA
        self.floe("--ca-bundle", ca, "config", "credentials")
        self.assertEqual(fetches(), 1)
        self.env["AWS_CA_BUNDLE"] = ca
        self.floe("vault", "list")
        del self.env["AWS_CA_BUNDLE"]
        self.write_config("[default]\nca_bundle = %s\n" % ca)
        p = self.floe("--json", "config", "credentials")
        self.assertEqual(json.loads(p.stdout)["source"], "container")
        self.assertEqual(fetches(), 3)
        self.write_config("")
        # --no-verify-ssl: no check for the fetch either (and the warning)
        p = self.floe("--no-verify-ssl", "config", "credentials")
        self.assertIn("--no-verify-ssl", p.stderr)
        self.assertEqual(fetches(), 4)
        del self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        # the SSO portal over HTTPS: refused without the CA, fetched with --no-verify-ssl
        self.env["AWS_ENDPOINT_URL_SSO"] = https
        self.write_config("[profile sso]\nsso_start_url = https://d-1.awsapps.com/start\n"
                          "sso_region = eu-west-1\nsso_account_id = 111122223333\n"
                          "sso_role_name = Reader\n")
        cache = os.path.join(self.tmp, ".aws", "sso", "cache")
        os.makedirs(cache)
        with open(os.path.join(cache, hashlib.sha1(b"https://d-1.awsapps.com/start")
                               .hexdigest() + ".json"), "w") as f:
            json.dump({"startUrl": "https://d-1.awsapps.com/start", "region": "eu-west-1",
                       "accessToken": "sso-bearer", "expiresAt": time.strftime(
                           "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))}, f)
        p = self.floe("--profile", "sso", "config", "credentials", code=1)
        self.assertIn("SSO GetRoleCredentials", p.stderr)
        self.assertIn("certificate", p.stderr)
        self.floe("--profile", "sso", "--no-verify-ssl", "config", "credentials")
        self.floe("--profile", "sso", "--ca-bundle", ca, "config", "credentials")

    def test_imds_failures(self):
        v1 = self.server(servers.start_credserver("--mode", "imdsv1"))
        del self.env["AWS_EC2_METADATA_DISABLED"]
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = v1.url
        p = self.floe("vault", "list", code=1)
        self.assertIn("no AWS credentials found: tried the environment", p.stderr)
        self.assertIn("IMDSv2", p.stderr)
        bad = self.server(servers.start_credserver("--mode", "badjson"))
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = bad.url
        p = self.floe("vault", "list", code=1)
        self.assertIn("not a JSON object", p.stderr)
        self.env["AWS_EC2_METADATA_DISABLED"] = "true"
        p = self.floe("vault", "list", code=1)
        self.assertIn("instance metadata (AWS_EC2_METADATA_DISABLED)", p.stderr)

    # ---- refresh during one long upload ----

    def upload_through(self, rules, size_mib, vault, lifetime=20):
        srv = self.server(servers.start_credserver("--lifetime", str(lifetime)))
        proxy = self.server(servers.start_faultproxy(self.vault.port, rules))
        del self.env["AWS_EC2_METADATA_DISABLED"]
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = srv.url
        self.env["FLOE_CREDENTIALS_REFRESH_MARGIN_S"] = "15"
        data = os.path.join(self.tmp, "data")
        with open(data, "wb") as f:
            f.write(os.urandom(size_mib * MIB))
        self.floe("vault", "create", vault, endpoint=proxy.url)
        before = stats(srv)["counts"].get("imds", 0)  # the create's own fetch
        t0 = time.time()
        up = self.floe("--json", "upload", vault, data, "--part-size", "1MiB", "--concurrency",
                       "1", endpoint=proxy.url, timeout=300)
        secs = time.time() - t0
        fetches = stats(srv)["counts"].get("imds", 0) - before
        # the archive is what was sent: retrieved again (directly, local keys), byte for byte
        aid = [json.loads(x) for x in up.stdout.splitlines() if "archive_id" in x][-1]
        out = os.path.join(self.tmp, "back")
        env = dict(self.env, AWS_ACCESS_KEY_ID=servers.LOCAL_AK,
                   AWS_SECRET_ACCESS_KEY=servers.LOCAL_SK, AWS_EC2_METADATA_DISABLED="true")
        subprocess.run([FLOE, "--endpoint-url", self.vault.url, "retrieve", vault,
                        "--archive-id=" + aid["archive_id"], "-o", out, "--tier", "Expedited"],
                       env=env, check=True, capture_output=True, timeout=300)
        with open(data, "rb") as a, open(out, "rb") as b:
            self.assertEqual(hashlib.sha256(a.read()).digest(),
                             hashlib.sha256(b.read()).digest())
        return fetches, secs

    def test_refresh_during_upload(self):
        # every part waits 1 s: the upload lasts > 20 s, the keys live 20 s and are due after
        # 10 s (half their life, as the margin of 15 s is longer): fetched again while it runs
        fetches, secs = self.upload_through(["PUT /multipart-uploads/ delay:1 0"], 24, "refresh1")
        self.assertGreaterEqual(secs, 20)
        self.assertGreaterEqual(fetches, 2, "fetches in %.0f s" % secs)

    def test_expired_token_answer_refreshes(self):
        # keys that live 120 s: no refresh comes due during the upload, however slow the
        # machine (with 20 s one came due after 10 s, a third fetch)
        fetches, _ = self.upload_through(
            ["PUT /multipart-uploads/ status:403:ExpiredTokenException 1"], 3, "refresh2",
            lifetime=120)
        self.assertEqual(fetches, 2)  # the first, and the one the answer forced

    # ---- refresh during one long retrieval ----

    def retrieve_through(self, rules, size_mib, vault, lifetime=20):
        """An archive uploaded directly, then retrieved through the proxy with keys from the
        fake instance metadata that live 20 s; the file is compared byte for byte."""
        env = dict(self.env, AWS_ACCESS_KEY_ID=servers.LOCAL_AK,
                   AWS_SECRET_ACCESS_KEY=servers.LOCAL_SK)
        data = os.path.join(self.tmp, "data")
        with open(data, "wb") as f:
            f.write(os.urandom(size_mib * MIB))
        subprocess.run([FLOE, "--endpoint-url", self.vault.url, "vault", "create", vault],
                       env=env, check=True, capture_output=True)
        up = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "upload", vault,
                             data, "--part-size", "1MiB"], env=env, check=True,
                            capture_output=True, text=True)
        aid = [json.loads(x) for x in up.stdout.splitlines() if "archive_id" in x][-1]
        aid = aid["archive_id"]
        srv = self.server(servers.start_credserver("--lifetime", str(lifetime)))
        proxy = self.server(servers.start_faultproxy(self.vault.port, rules))
        del self.env["AWS_EC2_METADATA_DISABLED"]
        self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = srv.url
        self.env["FLOE_CREDENTIALS_REFRESH_MARGIN_S"] = "15"
        out = os.path.join(self.tmp, "out")
        t0 = time.time()
        self.floe("retrieve", vault, "--archive-id=" + aid, "-o", out, "--tier", "Expedited",
                  "--segment-size", "1MiB", "--concurrency", "1", endpoint=proxy.url,
                  timeout=300)
        with open(data, "rb") as a, open(out, "rb") as b:
            self.assertEqual(hashlib.sha256(a.read()).digest(),
                             hashlib.sha256(b.read()).digest())
        return stats(srv)["counts"].get("imds", 0), time.time() - t0

    def test_refresh_during_retrieval(self):
        # every ranged GET of the output waits 1 s: the retrieval outlives the 20 s keys
        fetches, secs = self.retrieve_through(["GET /output delay:1 0"], 24, "refresh3")
        self.assertGreaterEqual(secs, 20)
        self.assertGreaterEqual(fetches, 2, "fetches in %.0f s" % secs)

    def test_expired_token_answer_during_retrieval(self):
        fetches, _ = self.retrieve_through(
            ["GET /output status:403:ExpiredTokenException 1"], 3, "refresh4", lifetime=120)
        self.assertEqual(fetches, 2)  # the first, and the one the answer forced


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    FLOE, FLOE_VAULT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
