#!/usr/bin/env python3
"""floe upload against a floe-vault it starts: single and multipart uploads, stdin, resume after
kill -9, a changed source refused, injected 503s / resets, and every error a user can hit.
Each archive's tree hash is checked against botocore's calculate_tree_hash, and archives are
read back with boto3 (a client nobody here wrote).

usage: test_upload.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

import boto3  # noqa: E402
import botocore.utils  # noqa: E402
from botocore.config import Config  # noqa: E402

FLOE = VAULT_BIN = None
MIB = 1 << 20


def tree_hash(data):
    return botocore.utils.calculate_tree_hash(io.BytesIO(data))


class UploadTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-upload-test-")
        cls.vault = servers.start_vault(VAULT_BIN)
        cls.env = servers.client_env(cls.tmp.name)
        cls.glacier = boto3.client("glacier", endpoint_url=cls.vault.url, region_name="us-east-1",
                                   aws_access_key_id=servers.LOCAL_AK,
                                   aws_secret_access_key=servers.LOCAL_SK,
                                   config=Config(retries={"max_attempts": 1}))
        cls.glacier.create_vault(vaultName="up")

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.tmp.cleanup()

    # ---- helpers ----
    def file(self, name, data):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def floe(self, *args, endpoint=None, stdin=None, env=None, timeout=300):
        cmd = [FLOE, *args] if endpoint == "" else [FLOE, "--endpoint-url",
                                                     endpoint or self.vault.url, *args]
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout,
                              env=env or self.env)

    def upload_json(self, *args, **kw):
        r = self.floe("--json", "upload", *args, **kw)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        return lines

    def read_back(self, archive_id, vault="up"):
        return servers.read_archive(self.glacier, vault, archive_id)

    def check_archive(self, out, data, name):
        self.assertEqual(out["file"], name)
        self.assertEqual(out["size"], len(data))
        self.assertEqual(out["tree_hash"], tree_hash(data))
        self.assertGreaterEqual(out["mb_per_s"], 0)  # 2 decimals: a tiny file may show 0.0
        self.assertEqual(self.read_back(out["archive_id"]), data)

    # ---- sizes and shapes ----
    def test_one_byte(self):
        data = b"\x07"
        p = self.file("one", data)
        (out,) = self.upload_json("up", p)
        self.check_archive(out, data, p)

    def test_exact_part_multiple_is_multipart(self):
        data = os.urandom(4 * MIB)
        p = self.file("four", data)
        (out,) = self.upload_json("up", p, "--part-size", "1MiB", "--concurrency", "3")
        self.check_archive(out, data, p)

    def test_part_plus_one_byte(self):
        data = os.urandom(4 * MIB + 1)
        p = self.file("fourplus", data)
        (out,) = self.upload_json("up", p, "--part-size", "1M", "--description", "part plus one")
        self.check_archive(out, data, p)

    def test_larger_file_odd_size(self):
        data = os.urandom(48 * MIB + 17)
        p = self.file("big", data)
        (out,) = self.upload_json("up", p, "--part-size", "8MiB", "--concurrency", "4",
                                  "--memory-limit", "40MiB")
        self.check_archive(out, data, p)

    def test_stdin_multipart_and_single(self):
        data = os.urandom(3 * MIB + 12345)
        (out,) = self.upload_json("up", "-", "--part-size", "1MiB", stdin=data)
        self.check_archive(out, data, "-")
        small = b"hello from stdin\n"
        (out,) = self.upload_json("up", "-", stdin=small)
        self.check_archive(out, small, "-")

    def test_several_files_at_once(self):
        datas = [os.urandom(n) for n in (1, 2 * MIB + 3, 5 * MIB)]
        paths = [self.file(f"multi{i}", d) for i, d in enumerate(datas)]
        outs = self.upload_json("up", *paths, "--part-size", "1MiB")
        self.assertEqual(len(outs), 3)
        by_file = {o["file"]: o for o in outs}
        for p, d in zip(paths, datas):
            self.check_archive(by_file[p], d, p)

    def test_progress_only_on_a_terminal(self):
        import pty
        data = os.urandom(8 * MIB)
        p = self.file("progress", data)
        slow = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads delay:0.15 0"])
        try:
            # stderr on a pseudo-terminal: a status line with bytes, MB/s and ETA
            master, slave = pty.openpty()
            proc = subprocess.Popen([FLOE, "--endpoint-url", slow.url, "upload", "up", p,
                                     "--part-size", "1MiB", "--concurrency", "2"],
                                    env=self.env, stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            seen = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
            proc.wait(timeout=60)
            proc.stdout.close()
            os.close(master)
            self.assertEqual(proc.returncode, 0)
            self.assertIn(b"MiB/s", seen)
            self.assertIn(b"ETA", seen)
            self.assertIn(b"MiB / 8.0 MiB", seen)
            # piped: the result line on stdout; on stderr no status line, only the log's
            # progress lines (docs/cli.md: one after 1 s, then every 10 s - an upload slower
            # than 1 s, under ASan on a loaded machine, has one); --quiet: nothing at all
            for extra in ((), ("--quiet",)):
                r = self.floe(*extra, "upload", "up", p, "--part-size", "1MiB",
                              endpoint=slow.url)
                self.assertEqual(r.returncode, 0)
                self.assertEqual(len(r.stdout.decode().splitlines()), 1)
                if extra:
                    self.assertEqual(r.stderr, b"")
                    continue
                self.assertNotIn(b"\r", r.stderr)
                for line in r.stderr.decode().splitlines():
                    self.assertRegex(line, r"^\d{4}-\d\d-\d\dT[\d:.]+Z floe: upload .*progress: "
                                           r"[\d.]+ MiB / 8\.0 MiB \(\d+%\)")
        finally:
            slow.stop()

    def test_bench_command(self):
        r = self.floe("--json", "bench", "--size", "4MiB", "--runs", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertIn(doc["kernel"], ("shani", "portable"))
        self.assertEqual(len(doc["cases"]), 6)
        self.assertTrue(all(c["gb_per_s"] > 0 for c in doc["cases"]))
        # the upload workload and its errors: tests/integration/test_bench.py
        for args, msg in [(("bench", "frob"), "unknown benchmark 'frob'"),
                          (("bench", "--runs", "0"), "--runs must be at least 1"),
                          (("bench", "--size", "12"), "at least 1MiB")]:
            r = self.floe(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr.decode(), args)

    def test_text_output(self):
        data = os.urandom(2 * MIB)
        p = self.file("text", data)
        r = self.floe("upload", "up", p, "--part-size", "1MiB")
        self.assertEqual(r.returncode, 0, r.stderr)
        fields = r.stdout.decode().split()
        self.assertEqual(fields[1], tree_hash(data))
        self.assertEqual(fields[2], str(len(data)))
        self.assertEqual(fields[-1], p)

    # ---- errors a user can hit ----
    def test_empty_file_refused(self):
        p = self.file("empty", b"")
        r = self.floe("upload", "up", p)
        self.assertEqual(r.returncode, 2)  # a validation error, before any request
        self.assertIn("does not accept empty archives", r.stderr.decode())
        r = self.floe("upload", "up", "-", stdin=b"")
        self.assertEqual(r.returncode, 2)
        self.assertIn("standard input is empty", r.stderr.decode())

    def test_missing_and_unreadable(self):
        r = self.floe("upload", "up", os.path.join(self.tmp.name, "nope"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr.decode())
        r = self.floe("upload", "up", self.tmp.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Is a directory", r.stderr.decode())

    def test_vault_missing(self):
        p = self.file("novault", b"abc")
        r = self.floe("upload", "no-such-vault", p)
        self.assertEqual(r.returncode, 1)
        self.assertIn("ResourceNotFoundException", r.stderr.decode())

    def test_bad_credentials(self):
        p = self.file("badcred", b"abc")
        env = servers.client_env(self.tmp.name, sk="wrong-secret")
        r = self.floe("upload", "up", p, env=env)
        self.assertEqual(r.returncode, 1)
        err = r.stderr.decode()
        self.assertIn("InvalidSignatureException", err)
        self.assertIn("403", err)
        env = servers.client_env(self.tmp.name, ak="AKIDUNKNOWN")
        r = self.floe("upload", "up", p, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("UnrecognizedClientException", r.stderr.decode())

    def test_bad_options(self):
        p = self.file("opts", b"abc")
        for args, msg in [(["--part-size", "3MiB"], "not a power of two"),
                          (["--part-size", "8GiB"], "outside 1 MiB..4096"),
                          (["--part-size", "1.5G"], "not a whole number"),
                          (["--concurrency", "x"], "--concurrency must be a whole number"),
                          (["--description", "caf\u00e9"], "printable ASCII"),
                          (["--bogus"], "unknown option '--bogus'")]:
            r = self.floe("upload", "up", p, *args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(msg, r.stderr.decode(), args)
        r = self.floe("upload", "up")
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing FILE", r.stderr.decode())
        r = self.floe("upload", "bad/vault", p)
        self.assertEqual(r.returncode, 2)
        self.assertIn("vault name", r.stderr.decode())

    def test_parts_larger_than_memory_limit_stream_from_the_file(self):
        data = os.urandom(5 * MIB + 3)
        p = self.file("streamed", data)
        (out,) = self.upload_json("up", p, "--part-size", "2MiB", "--memory-limit", "3MiB")
        self.check_archive(out, data, p)

    def test_memory_limit_too_small_for_stdin(self):
        r = self.floe("upload", "up", "-", "--part-size", "2MiB", "--memory-limit", "1MiB",
                      stdin=os.urandom(3 * MIB))
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not fit in the memory limit of", r.stderr.decode())

    # ---- faults, resume ----
    def test_injected_503_and_resets_still_correct(self):
        # both part paths: streamed from the file (default) and whole parts in memory
        for mode_env in ({}, {"FLOE_UPLOAD_BUFFERED": "1"}):
            proxy = servers.start_faultproxy(self.vault.port, [
                "PUT multipart-uploads status:503 3",
                "PUT multipart-uploads reset 2",
                "PUT multipart-uploads status:429:TooManyRequests 1",
                "PUT multipart-uploads status:408:RequestTimeoutException 1",
                "POST multipart-uploads/ status:500 1",
                "POST multipart-uploads$ status:400:ThrottlingException 1"])
            try:
                data = os.urandom(6 * MIB + 99)
                p = self.file("faulty", data)
                (out,) = self.upload_json("up", p, "--part-size", "1MiB", endpoint=proxy.url,
                                          env={**self.env, **mode_env})
                self.check_archive(out, data, p)
                log = proxy.log()
                self.assertEqual(log.count("FAULT status:503"), 3)
                self.assertEqual(log.count("FAULT reset"), 2)
                self.assertEqual(log.count("FAULT status:500"), 1)
                self.assertEqual(log.count("FAULT status:400:ThrottlingException"), 1)
                self.assertEqual(log.count("FAULT status:429"), 1)
                self.assertEqual(log.count("FAULT status:408"), 1)
            finally:
                proxy.stop()

    def test_wrong_checksum_from_the_service(self):
        data = os.urandom(3 * MIB)
        p = self.file("badhash", data)
        # once on a part: the part is sent again and the archive is right
        proxy = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads badhash 1"])
        try:
            (out,) = self.upload_json("up", p, "--part-size", "1MiB", endpoint=proxy.url)
            self.check_archive(out, data, p)
            self.assertEqual(proxy.log().count("FAULT badhash"), 1)
        finally:
            proxy.stop()
        # always on a part: it fails naming the part, after re-sending it
        proxy = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads badhash 0"])
        try:
            r = self.floe("upload", "up", p, "--part-size", "1MiB", "--concurrency", "1",
                          endpoint=proxy.url)
            self.assertEqual(r.returncode, 1)
            self.assertIn("the service computed tree hash 0000", r.stderr.decode())
            self.assertIn("sent 4 times", r.stderr.decode())
        finally:
            proxy.stop()
        # on Complete (and on a single-request upload): refused, never reported as success
        for rule, args in (("POST multipart-uploads/ badhash 0", ("--part-size", "1MiB")),
                           ("POST archives badhash 0", ())):
            proxy = servers.start_faultproxy(self.vault.port, [rule])
            try:
                r = self.floe("upload", "up", p, *args, endpoint=proxy.url)
                self.assertEqual(r.returncode, 1, rule)
                self.assertIn("the service reports tree hash 0000", r.stderr.decode())
                self.assertEqual(r.stdout, b"")
            finally:
                proxy.stop()

    def test_account_id(self):
        p = self.file("acct", b"account")
        r = self.floe("--account-id", servers.LOCAL_ACCOUNT, "upload", "up", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.floe("--account-id", "999999999999", "upload", "up", p)
        self.assertEqual(r.returncode, 1)
        self.assertIn("AccessDeniedException", r.stderr.decode())
        r = self.floe("--account-id", "12345", "upload", "up", p)
        self.assertEqual(r.returncode, 2)
        self.assertIn("must be '-' or 12 digits", r.stderr.decode())

    def test_vault_commands(self):
        names = [f"vc-{i:02d}" for i in range(13)]  # more than one page (10 per page)
        for n in names:
            r = self.floe("vault", "create", n)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.floe("--json", "vault", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = [json.loads(x)["VaultName"] for x in r.stdout.splitlines()]  # one per vault
        self.assertTrue(set(names) <= set(listed))
        self.assertEqual(listed, sorted(listed))
        r = self.floe("--json", "vault", "describe", "vc-03")
        d = json.loads(r.stdout)
        self.assertEqual(d["VaultName"], "vc-03")
        self.assertEqual(d["VaultARN"],
                         f"arn:aws:glacier:us-east-1:{servers.LOCAL_ACCOUNT}:vaults/vc-03")
        self.assertEqual(d["NumberOfArchives"], 0)
        r = self.floe("vault", "delete", "vc-03")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.floe("vault", "describe", "vc-03")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ResourceNotFoundException", r.stderr.decode())
        self.assertIn("Vault not found", r.stderr.decode())
        # a vault with an archive is not deleted
        p = self.file("keep", b"x")
        self.assertEqual(self.floe("upload", "vc-04", p).returncode, 0)
        r = self.floe("vault", "delete", "vc-04")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Vault not empty", r.stderr.decode())
        for args, code, msg in [(("vault",), 2, "missing subcommand"),
                                (("vault", "frob", "x"), 2, "unknown subcommand 'frob'"),
                                (("vault", "create"), 2, "needs exactly one VAULT"),
                                (("vault", "create", "caf\u00e9"), 2, "vault name"),
                                (("vault", "create", "a" * 256), 2, "vault name")]:
            r = self.floe(*args)
            self.assertEqual(r.returncode, code, args)
            self.assertIn(msg, r.stderr.decode(), args)

    @unittest.skipUnless(os.geteuid() == 0 and os.path.exists("/usr/bin/setpriv"),
                         "needs root and setpriv to run floe as an unprivileged user")
    def test_unreadable_file(self):
        p = self.file("secret", b"top secret")
        os.chmod(p, 0o600)  # owned by root: nobody cannot read it
        cache = servers.tempdir_for_others("floe-nobody-")
        env = {**self.env, "XDG_CACHE_HOME": cache, "HOME": cache}
        r = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", FLOE, "--endpoint-url", self.vault.url, "upload",
                            "up", p], env=env, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("Permission denied", r.stderr.decode())
        self.assertIn(p, r.stderr.decode())

    def test_stalled_request_times_out_and_is_retried(self):
        proxy = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads delay:4 1"])
        try:
            data = os.urandom(3 * MIB)
            p = self.file("stall", data)
            t0 = time.time()
            (out,) = self.upload_json("up", p, "--part-size", "1MiB", endpoint=proxy.url,
                                      env={**self.env, "FLOE_STALL_TIMEOUT_S": "1"})
            self.check_archive(out, data, p)
            self.assertEqual(proxy.log().count("FAULT delay:4"), 1)
            self.assertLess(time.time() - t0, 30)
        finally:
            proxy.stop()

    def test_max_retries_bounds_attempts(self):
        proxy = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads status:503 0"])
        try:
            p = self.file("noretry", os.urandom(2 * MIB))
            r = self.floe("upload", "up", p, "--part-size", "1MiB", "--max-retries", "2",
                          "--concurrency", "1", endpoint=proxy.url)
            self.assertEqual(r.returncode, 1)
            self.assertIn("gave up after 3 attempts", r.stderr.decode())
            self.assertIn("ServiceUnavailableException", r.stderr.decode())
        finally:
            proxy.stop()

    def test_ctrl_c_keeps_checkpoint_and_resumes(self):
        proxy = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads delay:0.2 0"])
        data = os.urandom(20 * MIB)
        p = self.file("sigint", data)
        ckpt = os.path.join(self.tmp.name, "sigint.ckpt")
        try:
            proc = subprocess.Popen([FLOE, "--endpoint-url", proxy.url, "upload", "up", p,
                                     "--part-size", "1MiB", "--concurrency", "2", "--checkpoint",
                                     ckpt], env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            deadline = time.time() + 60
            while time.time() < deadline and proxy.log().count("FAULT delay") < 6:
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGINT)
            err = proc.communicate(timeout=60)[1].decode()
            self.assertEqual(proc.returncode, 130, err)
            self.assertIn("interrupted", err)
            self.assertIn("floe upload --resume " + ckpt, err)
            self.assertTrue(os.path.exists(ckpt))
            (out,) = self.upload_json("--resume", ckpt, endpoint=proxy.url)
            self.assertGreater(out.get("parts_resumed", 0), 0)
            self.check_archive(out, data, p)
        finally:
            proxy.stop()

    def test_credentials_from_a_profile(self):
        cred = os.path.join(self.tmp.name, "profile-creds")
        with open(cred, "w") as f:
            f.write("[local]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    "[wrong]\naws_access_key_id = %s\naws_secret_access_key = nope\n"
                    % (servers.LOCAL_AK, servers.LOCAL_SK, servers.LOCAL_AK))
        env = {k: v for k, v in self.env.items()
               if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        env["AWS_SHARED_CREDENTIALS_FILE"] = cred
        p = self.file("profiled", b"profile upload")
        r = self.floe("--profile", "local", "upload", "up", p, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.floe("upload", "up", p, env={**env, "AWS_PROFILE": "wrong"})
        self.assertEqual(r.returncode, 1)
        self.assertIn("InvalidSignatureException", r.stderr.decode())
        r = self.floe("--profile", "absent", "upload", "up", p, env=env)
        self.assertEqual(r.returncode, 2)  # configuration, before any request
        self.assertIn('the profile "absent" is in neither', r.stderr.decode())

    def test_client_error_fails_fast_and_resume_completes(self):
        proxy = servers.start_faultproxy(self.vault.port, [
            "PUT multipart-uploads status:400:InvalidParameterValueException 1"])
        ckpt = os.path.join(self.tmp.name, "failfast.ckpt")
        data = os.urandom(5 * MIB)
        p = self.file("failfast", data)
        try:
            r = self.floe("upload", "up", p, "--part-size", "1MiB", "--concurrency", "1",
                          "--checkpoint", ckpt, endpoint=proxy.url)
        finally:
            proxy.stop()
        self.assertEqual(r.returncode, 1)
        self.assertIn("InvalidParameterValueException", r.stderr.decode())
        self.assertEqual(proxy.log().count("FAULT"), 1)  # not retried
        self.assertTrue(os.path.exists(ckpt))
        # resuming against another endpoint than the checkpoint's is refused ...
        r = self.floe("upload", "--resume", ckpt)
        self.assertEqual(r.returncode, 1)
        self.assertIn("was made against " + proxy.url, r.stderr.decode())
        # ... without --endpoint-url, --resume uses the checkpoint's (a new proxy there)
        proxy2 = servers.start_faultproxy(self.vault.port, [], port=proxy.port)
        try:
            (out,) = self.upload_json("--resume", ckpt, endpoint="")
        finally:
            proxy2.stop()
        self.check_archive(out, data, p)
        self.assertFalse(os.path.exists(ckpt))  # removed after success

    def test_resume_after_kill_9(self):
        proxy = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads delay:0.15 0"])
        data = os.urandom(40 * MIB)
        p = self.file("killed", data)
        ckpt = os.path.join(self.tmp.name, "killed.ckpt")
        try:
            proc = subprocess.Popen([FLOE, "--endpoint-url", proxy.url, "upload", "up", p,
                                     "--part-size", "1MiB", "--concurrency", "2", "--checkpoint",
                                     ckpt], env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            deadline = time.time() + 60
            while time.time() < deadline and proxy.log().count("FAULT delay") < 8:
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            proxy.stop()
        self.assertEqual(proc.returncode, -signal.SIGKILL)
        self.assertTrue(os.path.exists(ckpt))
        # the same command again finishes, sending only what is missing (the same endpoint:
        # a pass-through proxy on the same port)
        again = servers.start_faultproxy(self.vault.port, [], port=proxy.port)
        try:
            (out,) = self.upload_json("up", p, "--part-size", "1MiB", "--checkpoint", ckpt,
                                      endpoint=again.url)
        finally:
            again.stop()
        self.assertGreaterEqual(out.get("parts_resumed", 0), 4)
        self.assertLess(out.get("parts_resumed", 0), 40)
        self.check_archive(out, data, p)

    def test_changed_source_refused(self):
        data = bytearray(os.urandom(6 * MIB))
        p = self.file("changing", bytes(data))
        ckpt = os.path.join(self.tmp.name, "changing.ckpt")
        slow = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads delay:0.2 0"])
        try:
            proc = subprocess.Popen([FLOE, "--endpoint-url", slow.url, "upload", "up", p,
                                     "--part-size", "1MiB", "--concurrency", "1",
                                     "--checkpoint", ckpt], env=self.env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 60
            while time.time() < deadline and slow.log().count("FAULT delay") < 3:
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            slow.stop()
        # same size, same mtime restored, different bytes in part 0: its xxh3 catches it
        st = os.stat(p)
        data[10] ^= 0xFF
        with open(p, "r+b") as f:
            f.write(bytes(data))
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        again = servers.start_faultproxy(self.vault.port, [], port=slow.port)
        try:
            r = self.floe("upload", "up", p, "--part-size", "1MiB", "--checkpoint", ckpt,
                          endpoint=again.url)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("changed since part 0", r.stderr.decode())
            # a different size is caught from the file's identity alone
            with open(p, "ab") as f:
                f.write(b"more")
            r = self.floe("upload", "up", p, "--part-size", "1MiB", "--checkpoint", ckpt,
                          endpoint=again.url)
            self.assertEqual(r.returncode, 1)
            self.assertIn("size", r.stderr.decode())
        finally:
            again.stop()
        self.assertTrue(os.path.exists(ckpt))  # kept: nothing was completed

    def test_finished_checkpoint_of_a_changed_file_is_not_reused(self):
        data = os.urandom(3 * MIB + 7)
        p = self.file("kept", data)
        ckpt = os.path.join(self.tmp.name, "kept.ckpt")
        args = ("up", p, "--part-size", "1MiB", "--checkpoint", ckpt)
        (first,) = self.upload_json(*args, "--keep-checkpoint")
        self.check_archive(first, data, p)
        # unchanged: the finished upload is reported again, nothing is sent
        (again,) = self.upload_json(*args)
        self.assertEqual(again["archive_id"], first["archive_id"])
        # changed (another size): a new archive of the new bytes, never the old one
        data2 = os.urandom(5 * MIB)
        with open(p, "wb") as f:
            f.write(data2)
        (second,) = self.upload_json(*args, "--keep-checkpoint")
        self.assertNotEqual(second["archive_id"], first["archive_id"])
        self.check_archive(second, data2, p)
        # --resume of a finished checkpoint whose file changed has nothing to resume
        with open(p, "ab") as f:
            f.write(b"more")
        r = self.floe("upload", "--resume", ckpt)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("finished upload of the earlier file", r.stderr.decode())
        self.assertIn(second["archive_id"], r.stderr.decode())

    def test_file_modified_during_upload_is_not_completed(self):
        data = bytearray(os.urandom(6 * MIB))
        p = self.file("modified", bytes(data))
        ckpt = os.path.join(self.tmp.name, "modified.ckpt")
        slow = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads delay:0.3 0"])
        try:
            proc = subprocess.Popen([FLOE, "--endpoint-url", slow.url, "upload", "up", p,
                                     "--part-size", "1MiB", "--concurrency", "1",
                                     "--description", "modified", "--checkpoint", ckpt],
                                    env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.time() + 60
            while time.time() < deadline and slow.log().count("FAULT delay") < 2:
                time.sleep(0.02)
            # the last part (not read yet) gets new bytes: every part is consistent on its
            # own, but the archive would mix two versions of the file
            data[-5] ^= 0xFF
            with open(p, "r+b") as f:
                f.seek(len(data) - 5)
                f.write(bytes(data[-5:-4]))
            out, err = proc.communicate(timeout=120)
        finally:
            slow.stop()
        self.assertEqual(proc.returncode, 1, out)
        self.assertIn("changed while being uploaded", err.decode())
        self.assertIn("not completed", err.decode())
        self.assertFalse(os.path.exists(ckpt))  # spent: its parts mix two versions
        uploads = self.glacier.list_multipart_uploads(vaultName="up")["UploadsList"]
        self.assertEqual([u for u in uploads if u.get("ArchiveDescription") == "modified"], [])
        (done,) = self.upload_json("up", p, "--part-size", "1MiB", "--checkpoint", ckpt)
        self.check_archive(done, bytes(data), p)

    def test_file_truncated_while_parts_are_sent(self):
        data = os.urandom(48 * MIB)
        p = self.file("truncated", data)
        slow = servers.start_faultproxy(self.vault.port,
                                        ["PUT multipart-uploads slowbody:4000000 0"])
        try:
            proc = subprocess.Popen([FLOE, "--endpoint-url", slow.url, "upload", "up", p,
                                     "--part-size", "16MiB", "--concurrency", "1",
                                     "--no-checkpoint", "--max-retries", "0"], env=self.env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.time() + 60
            while time.time() < deadline and slow.log().count("FAULT slowbody") < 1:
                time.sleep(0.02)
            time.sleep(0.5)
            os.truncate(p, 1000)
            out, err = proc.communicate(timeout=120)
        finally:
            slow.stop()
        self.assertEqual(proc.returncode, 1, out)
        self.assertIn("shrank while being uploaded", err.decode())
        self.assertNotIn("aborted by callback", err.decode())

    def test_stdin_redirected_from_a_file(self):
        for size in (3 * MIB + 5, 500):
            data = os.urandom(size)
            p = self.file("redirected", data)
            with open(p, "rb") as f:
                r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "upload",
                                    "up", "-", "--part-size", "1MiB"], stdin=f,
                                   capture_output=True, timeout=120, env=self.env)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.check_archive(json.loads(r.stdout), data, "-")
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "upload", "--resume",
                            "x.ckpt", "--no-checkpoint"], capture_output=True, env=self.env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot be used with --no-checkpoint", r.stderr.decode())

    def test_block_device(self):
        # st_size of a block device is 0: its size must come from the device itself
        data = os.urandom(3 * MIB)
        img = self.file("disk.img", data)
        lo = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True) \
            if shutil.which("losetup") else None
        if not lo or lo.returncode != 0:
            self.skipTest("no loop device here (losetup needs root and /dev/loop-control)")
        dev = lo.stdout.strip()
        try:
            (out,) = self.upload_json("up", dev, "--part-size", "1MiB")
            self.check_archive(out, data, dev)
        finally:
            subprocess.run(["losetup", "-d", dev])

    def test_endpoint_url_forms(self):
        port = self.vault.port
        # what is signed is what curl sends: a port with leading zeros, an upper-case scheme
        for url in (f"http://127.0.0.1:0{port}", f"HTTP://127.0.0.1:{port}/"):
            r = self.floe("vault", "list", endpoint=url)
            self.assertEqual(r.returncode, 0, (url, r.stderr))
        for url, why in (("http://:%d" % port, "has no host"),
                         ("http://127.0.0.1:70000", "invalid port"),
                         ("http://127.0.0.1:", "invalid port"),
                         ("http://[::zz]:80", "invalid IPv6"),
                         ("http://127.0.0.1:80/vaults", "must not have a path"),
                         ("ftp://127.0.0.1", "must start with http")):
            r = self.floe("vault", "list", endpoint=url)
            self.assertEqual(r.returncode, 2, url)
            self.assertIn(why, r.stderr.decode(), url)

    def test_retry_after_is_honoured(self):
        data = os.urandom(2 * MIB)
        p = self.file("retryafter", data)
        proxy = servers.start_faultproxy(self.vault.port, [
            "PUT multipart-uploads status:503:ServiceUnavailableException:2 1"])
        env = dict(self.env, FLOE_RETRY_BASE_MS="1")
        try:
            t0 = time.time()
            (out,) = self.upload_json("up", p, "--part-size", "1MiB", endpoint=proxy.url,
                                      env=env)
            took = time.time() - t0
        finally:
            proxy.stop()
        self.check_archive(out, data, p)
        # with a 1 ms backoff base only the service's Retry-After: 2 explains the wait
        self.assertGreaterEqual(took, 2.0)

    def test_dot_names_are_refused_before_sending(self):
        for args in (["vault", "create", "."], ["vault", "describe", ".."],
                     ["archive", "delete", "up", ".."]):
            r = self.floe(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("relative path segment", r.stderr.decode(), args)

    def test_json_with_a_non_utf8_file_name(self):
        data = os.urandom(3000)
        name = os.path.join(self.tmp.name.encode(), b"bad\xff.bin")
        with open(name, "wb") as f:
            f.write(data)
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "upload", "up",
                            name], capture_output=True, timeout=120, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)  # valid JSON, the archive id not lost
        self.assertTrue(out["file"].endswith("bad\ufffd.bin"))
        self.assertEqual(self.read_back(out["archive_id"]), data)
        r = subprocess.run([FLOE, "--json", "hash", name, name + b".missing"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 3)  # one file hashed, one failed
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(lines[0]["tree_hash"], tree_hash(data))
        self.assertIn("error", lines[1])

    def test_option_equals_and_double_dash(self):
        data = os.urandom(2 * MIB + 1)
        p = self.file("-dash.bin", data)
        r = subprocess.run([os.path.abspath(FLOE), "--endpoint-url", self.vault.url, "--json",
                            "upload", "--part-size=1MiB", "--description=equals form", "up", "--",
                            "-dash.bin"], cwd=self.tmp.name, capture_output=True, timeout=120,
                           env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["part_size"], out["parts"]), (MIB, 3))
        self.assertEqual(self.read_back(out["archive_id"]), data)
        r = self.floe("upload", "up", p, "--no-checkpoint=yes")
        self.assertEqual(r.returncode, 2)
        self.assertIn("takes no value", r.stderr.decode())
        # a vault whose name starts with '-' is reachable after "--"
        for sub in ("create", "describe", "delete"):
            r = self.floe("vault", sub, "--", "-dash")
            self.assertEqual(r.returncode, 0, (sub, r.stderr))
        r = self.floe("vault", "describe", "-dash")
        self.assertEqual(r.returncode, 2)

    def test_same_file_twice_refused(self):
        p = self.file("twice", b"twice")
        r = self.floe("upload", "up", p, os.path.join(self.tmp.name, ".", "twice"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("are the same file", r.stderr.decode())

    def test_resume_without_checkpoint(self):
        r = self.floe("upload", "--resume", os.path.join(self.tmp.name, "absent.ckpt"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("absent.ckpt", r.stderr.decode())


class TenThousandParts(unittest.TestCase):
    """The 10,000-part edge: 10,000 MiB in 1 MiB parts is exactly Glacier's part limit. The
    source is a sparse file (no disk used); the server stores the 10,000 MiB, so the test
    needs that much free space and says so when it is not there."""

    def test_exactly_ten_thousand_parts(self):
        tmp = servers.tempdir("floe-10k-")
        free = os.statvfs(tmp).f_bavail * os.statvfs(tmp).f_frsize
        need = 10000 * MIB * 5 // 4
        if free < need:
            self.skipTest(f"needs {need >> 30} GiB free in {tmp}, has {free >> 30} GiB")
        env = servers.client_env(tmp)
        vault = None

        def fresh_vault():
            """A new server on an empty data dir: each phase stores 10,000 MiB, and a deleted
            archive's blobs are only collected later, so phases must not share a disk budget."""
            nonlocal vault
            if vault:
                vault.stop()
            subprocess.run(["rm", "-rf", os.path.join(tmp, "data")])
            vault = servers.start_vault(VAULT_BIN, data_dir=os.path.join(tmp, "data"))
            r = subprocess.run([FLOE, "--endpoint-url", vault.url, "vault", "create", "big"],
                               env=env, capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            return [FLOE, "--endpoint-url", vault.url]

        def piped_upload(base, src):
            cat = subprocess.Popen(["cat", src], stdout=subprocess.PIPE)
            r = subprocess.run(base + ["--json", "upload", "big", "-", "--part-size", "1MiB",
                                       "--concurrency", "8"], env=env, stdin=cat.stdout,
                               capture_output=True, timeout=900)
            cat.stdout.close()
            cat.wait()
            return r

        try:
            src = os.path.join(tmp, "sparse.bin")
            with open(src, "wb") as f:
                f.truncate(10000 * MIB)
            base = fresh_vault()
            r = subprocess.run(base + ["--json", "upload", "big", src, "--part-size", "1MiB",
                                       "--concurrency", "8"], env=env, capture_output=True,
                               timeout=900)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            self.assertEqual(out["parts"], 10000)
            self.assertEqual(out["part_size"], MIB)
            zeros = bytes(MIB)

            class Zeros:  # 10,000 MiB of zeros for botocore, without the memory
                left = 10000

                def read(self, n):
                    assert n == MIB
                    if not self.left:
                        return b""
                    self.left -= 1
                    return zeros

            self.assertEqual(out["tree_hash"], botocore.utils.calculate_tree_hash(Zeros()))
            # the same 10,000 MiB through a pipe: a stream of exactly 10,000 full parts fits
            # (the end is only known when the read after the last part finds nothing)
            base = fresh_vault()
            r = piped_upload(base, src)
            self.assertEqual(r.returncode, 0, r.stderr)
            piped = json.loads(r.stdout)
            self.assertEqual((piped["parts"], piped["size"]), (10000, 10000 * MIB))
            self.assertEqual(piped["tree_hash"], out["tree_hash"])
            # one byte more no longer fits in 10,000 parts of 1 MiB: the plan raises the part
            # size (checked without sending anything: a missing vault fails after planning)
            with open(src, "ab") as f:
                f.write(b"x")
            r = subprocess.run(base + ["--json", "upload", "no-such-vault", src, "--part-size",
                                       "1MiB"], env=env, capture_output=True, timeout=120)
            self.assertEqual(r.returncode, 1)
            self.assertIn("ResourceNotFoundException", r.stderr.decode())
            # ... and a stream one byte longer than 10,000 parts is refused, its upload aborted
            base = fresh_vault()
            r = piped_upload(base, src)
            self.assertEqual(r.returncode, 1)
            self.assertIn("longer than 10,000 parts", r.stderr.decode())
            self.assertIn("multipart upload was aborted", r.stderr.decode())
        finally:
            if vault:
                vault.stop()
            subprocess.run(["rm", "-rf", tmp])


class MotoTests(unittest.TestCase):
    """floe against moto's server: single-request uploads (moto has no multipart)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-moto-test-")
        cls.moto = servers.start_moto()
        cls.env = servers.client_env(cls.tmp.name, ak="AKIDMOTO", sk="moto-secret")

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        cls.tmp.cleanup()

    def floe(self, *args, stdin=None):
        return subprocess.run([FLOE, "--endpoint-url", self.moto.url, *args], input=stdin,
                              capture_output=True, timeout=120, env=self.env)

    def test_vault_and_upload_against_moto(self):
        r = self.floe("vault", "create", "mv")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.floe("--json", "vault", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("mv", [json.loads(x)["VaultName"] for x in r.stdout.splitlines()])
        data = os.urandom(3 * MIB + 5)
        path = os.path.join(self.tmp.name, "m.bin")
        with open(path, "wb") as f:
            f.write(data)
        r = self.floe("--json", "upload", "mv", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["tree_hash"], tree_hash(data))
        # boto3 reads back what floe uploaded
        g = boto3.client("glacier", endpoint_url=self.moto.url, region_name="us-east-1",
                         aws_access_key_id="AKIDMOTO", aws_secret_access_key="moto-secret",
                         config=Config(retries={"max_attempts": 1}))
        job = g.initiate_job(vaultName="mv", jobParameters={
            "Type": "archive-retrieval", "ArchiveId": out["archive_id"], "Tier": "Expedited"})
        for _ in range(100):
            if g.describe_job(vaultName="mv", jobId=job["jobId"])["Completed"]:
                break
            time.sleep(0.1)
        body = g.get_job_output(vaultName="mv", jobId=job["jobId"])["body"].read()
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(data).digest())
        r = self.floe("vault", "describe", "no-such")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Vault not found", r.stderr.decode())


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
