#!/usr/bin/env python3
"""The CLI contract of docs/cli.md, command by command, against a floe-vault the test starts:
--json is exactly one compact object per line for every command (lists one object per item,
an empty list no line), reals rounded; every exit status (0, 1, 2, 3, 130) where it applies;
no table header before a failure; --help shows defaults; -v/--debug/--log-file with secrets
redacted; periodic progress lines when stderr is not a terminal; FLOE_* values checked; -o
safety (--overwrite, free space) and the reuse of a succeeded retrieval job.
Usage: test_cli_contract.py FLOE FLOE_VAULT."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

FLOE = FLOE_VAULT = None
MIB = 1 << 20
COMMANDS = ["hash", "vault", "vault policy", "vault lock", "vault tag", "archive", "multipart",
            "upload", "bench", "job", "retrieve", "inventory", "notify", "policy", "capacity",
            "migrate", "config"]


def check_json_lines(tc, out, what):
    """Every line of out is one compact JSON object; reals have at most 3 decimals."""
    objs = []
    for line in out.splitlines():
        tc.assertTrue(line.startswith("{") and line.endswith("}"), (what, line))
        o = json.loads(line)
        tc.assertIsInstance(o, dict, (what, line))
        # compact: exactly what a compact dump of the same object prints
        tc.assertEqual(json.dumps(o, separators=(",", ":"), ensure_ascii=False), line, what)
        for m in re.finditer(r'(?<=[:\[,])(-?\d+\.\d+)(?=[,}\]])', line):
            tc.assertLessEqual(len(m.group(1).split(".")[1]), 3, (what, line))
        objs.append(o)
    return objs


class Contract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-cli-contract-")
        cls.vault = servers.start_vault(FLOE_VAULT)
        cls.env = servers.client_env(cls.tmp.name)
        cls.url = cls.vault.url

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.tmp.cleanup()

    def floe(self, *args, env=None, endpoint=True, timeout=300):
        argv = [FLOE] + (["--endpoint-url", self.url] if endpoint else []) + list(args)
        return subprocess.run(argv, env=env or self.env, capture_output=True, text=True,
                              timeout=timeout)

    def ok(self, *args, **kw):
        r = self.floe(*args, **kw)
        self.assertEqual(r.returncode, 0, (args, r.stderr))
        return r

    def jlines(self, *args, **kw):
        r = self.ok("--json", *args, **kw)
        return check_json_lines(self, r.stdout, args)

    def file(self, name, data):
        p = os.path.join(self.tmp.name, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    # ---- --json, every command ----
    def test_json_every_command(self):
        self.assertEqual(self.jlines("vault", "create", "cj"), [{"VaultName": "cj"}])
        (d,) = self.jlines("vault", "describe", "cj")
        self.assertEqual(d["VaultName"], "cj")
        vaults = self.jlines("vault", "list")
        self.assertIn("cj", [v["VaultName"] for v in vaults])  # one object per vault
        a = self.file("a", os.urandom(3 * MIB + 5))
        b = self.file("b", b"bee")
        ups = self.jlines("upload", "cj", a, b, "--part-size", "1MiB")
        self.assertEqual(sorted(u["file"] for u in ups), sorted([a, b]))
        aid = [u for u in ups if u["file"] == a][0]["archive_id"]
        self.assertIsInstance(ups[0]["seconds"], float)
        self.assertEqual(len(self.jlines("hash", a, b)), 2)
        (job,) = self.jlines("job", "initiate-retrieval", "cj", "--archive-id=" + aid)
        jid = job["JobId"]
        self.assertTrue(self.jlines("job", "list", "cj"))
        self.assertEqual(self.jlines("job", "describe", "cj", jid)[0]["JobId"], jid)
        self.assertTrue(self.jlines("job", "wait", "cj", jid)[0]["Completed"])
        out = os.path.join(self.tmp.name, "jo")
        (dl,) = self.jlines("job", "output", "cj", jid, "-o", out)
        self.assertEqual(dl["verified"], "whole")
        (rt,) = self.jlines("retrieve", "cj", "--archive-id=" + aid, "-o",
                            os.path.join(self.tmp.name, "rt"))
        self.assertEqual(rt["size"], 3 * MIB + 5)
        inv = self.jlines("inventory", "cj")
        self.assertIn(aid, [x["ArchiveId"] for x in inv])
        self.jlines("notify", "set", "cj", "--sns-topic", "arn:aws:sns:us-east-1:1:t")
        self.assertEqual(self.jlines("notify", "get", "cj")[0]["SNSTopic"],
                         "arn:aws:sns:us-east-1:1:t")
        self.jlines("notify", "delete", "cj")
        self.jlines("vault", "tag", "add", "cj", "k=v")
        self.assertEqual(self.jlines("vault", "tag", "list", "cj")[0]["Tags"], {"k": "v"})
        self.jlines("vault", "tag", "remove", "cj", "k")
        self.jlines("policy", "get")
        self.jlines("capacity", "list")
        (bh,) = self.jlines("bench", "hash", "--size", "1MiB", "--runs", "1")
        self.assertTrue(all(isinstance(c["gb_per_s"], float) for c in bh["cases"]))
        self.jlines("archive", "delete", "cj", "--archive-id=" + aid)

    def test_json_empty_lists_print_no_line(self):
        self.ok("vault", "create", "empty")
        for args in (("multipart", "list", "empty"), ("job", "list", "empty")):
            r = self.ok("--json", *args)
            self.assertEqual(r.stdout, "", args)

    def test_json_multipart_objects(self):
        self.ok("vault", "create", "mp")
        r = subprocess.run(["aws", "glacier", "initiate-multipart-upload", "--account-id", "-",
                            "--vault-name", "mp", "--part-size", str(MIB), "--endpoint-url",
                            self.url], env=self.env, capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("aws CLI unavailable: " + r.stderr)
        uid = json.loads(r.stdout)["uploadId"]
        (u,) = self.jlines("multipart", "list", "mp")
        self.assertEqual(u["MultipartUploadId"], uid)
        (p,) = self.jlines("multipart", "parts", "mp", "--upload-id=" + uid)
        self.assertEqual(p["Parts"], [])
        self.jlines("multipart", "abort", "mp", "--upload-id=" + uid)

    # ---- exit statuses ----
    def test_exit_2_usage_and_validation(self):
        self.ok("vault", "create", "ev")
        p = self.file("ev", b"x")
        existing = self.file("exists", b"keep me")
        x = os.path.join(self.tmp.name, "not-there")
        cases = [
            (("vault", "create", "bad name!"), "only A-Z a-z 0-9"),
            (("upload", "ev", p, "--description", "caf\u00e9"), "printable ASCII"),
            (("retrieve", "ev", "A" * 60, "-o", x, "--range", "100-200"), "multiple of 1 MiB"),
            (("upload", "ev", p, "--concurrency", "0"), "--concurrency"),
            (("retrieve", "ev", "A" * 60, "-o", x, "--concurrency", "0"), "--concurrency"),
            (("job", "output", "ev", "J" * 60, "-o", x, "--concurrency", "0"), "--concurrency"),
            (("upload", "ev", p, "--part-size", "3MiB"), "power of two"),
            (("vault", "frobnicate"), "unknown subcommand"),
            (("upload", "ev", p, "--bogus"), "unknown option"),
            (("--retry-for", "soon", "vault", "list"), "--retry-for"),
            (("--max-retries", "-1", "vault", "list"), "--max-retries"),
            (("--region", "bad region", "vault", "list"), "region"),
            (("retrieve", "ev", "A" * 60, "-o", existing), "--overwrite"),
            (("job", "output", "ev", "J" * 60, "-o", existing), "--overwrite"),
            (("inventory", "ev", "-o", existing), "--overwrite"),
            (("nosuchcommand",), "unknown command"),
        ]
        for args, msg in cases:
            r = self.floe(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(msg, r.stderr, args)
            self.assertEqual(r.stdout, "", args)
        with open(existing, "rb") as f:
            self.assertEqual(f.read(), b"keep me")
        for var, value, valid in (("FLOE_SHA256", "bogus", "auto, shani, portable"),
                                  ("FLOE_READER", "x", "sync"),
                                  ("FLOE_UPLOAD_BUFFERED", "yes", "0, 1"),
                                  ("FLOE_RETRY_BASE_MS", "0", "whole number")):
            r = self.floe("hash", p, env={**self.env, var: value})
            self.assertEqual(r.returncode, 2, var)
            self.assertIn("%s=%s is not valid" % (var, value), r.stderr)
            self.assertIn(valid, r.stderr)

    def test_exit_1_service_error(self):
        r = self.floe("--json", "vault", "describe", "no-such-vault")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ResourceNotFoundException", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_exit_3_partial_success(self):
        self.ok("vault", "create", "partial")
        good = self.file("good", b"good data")
        bad = self.file("unreadable", b"x")
        missing = os.path.join(self.tmp.name, "missing")
        r = self.floe("--json", "upload", "partial", good, missing)
        self.assertEqual(r.returncode, 3, r.stderr)
        objs = check_json_lines(self, r.stdout, "partial upload")
        self.assertEqual(len(objs), 2)
        self.assertIn("error", [o for o in objs if o["file"] == missing][0])
        r = self.floe("hash", good, missing)
        self.assertEqual(r.returncode, 3)
        r = self.floe("upload", "partial", missing)  # every file failed
        self.assertEqual(r.returncode, 1)
        if os.geteuid() != 0:  # root reads anything
            os.chmod(bad, 0)
            r = self.floe("upload", "partial", good, bad)
            self.assertEqual(r.returncode, 3, r.stderr)

    def interrupt_after(self, proc, mark):
        """SIGINT to proc once its stderr has a line with mark (the job initiated, the wait
        begun) rather than after a fixed time, which a slow start (ASan, a loaded machine) can
        outlast: the hint names the job only once there is one. The lines read, for the
        caller's checks."""
        got = ""
        deadline = time.time() + 60
        while mark not in got and time.time() < deadline:
            line = proc.stderr.readline()
            if not line:
                break  # exited before it got there: the caller's checks say how
            got += line
        self.assertIn(mark, got)
        proc.send_signal(signal.SIGINT)
        return got

    def test_exit_130_with_resume_hint(self):
        slow = servers.start_vault(FLOE_VAULT, extra=("--job-delay", "Standard=60"))
        try:
            env = self.env
            url = slow.url
            subprocess.run([FLOE, "--endpoint-url", url, "vault", "create", "slow"], env=env,
                           check=True, capture_output=True)
            p = self.file("slowsrc", b"slow job")
            up = subprocess.run([FLOE, "--endpoint-url", url, "--json", "upload", "slow", p],
                                env=env, check=True, capture_output=True, text=True)
            aid = json.loads(up.stdout)["archive_id"]
            out = os.path.join(self.tmp.name, "slowout")
            for argv, hint in (
                    (["retrieve", "slow", "--archive-id=" + aid, "-o", out],
                     "the same floe retrieve command again (job "),
                    (["inventory", "slow"], "floe inventory slow --job-id ")):
                proc = subprocess.Popen([FLOE, "--endpoint-url", url] + argv, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                first = self.interrupt_after(proc, " initiated")
                so, se = proc.communicate(timeout=60)
                se = first + se
                self.assertEqual(proc.returncode, 130, se)
                self.assertIn("interrupted", se)
                self.assertIn("to resume, run: " + hint, se)
            jobs = subprocess.run([FLOE, "--endpoint-url", url, "--json", "job", "list", "slow"],
                                  env=env, capture_output=True, text=True).stdout
            jid = json.loads(jobs.splitlines()[0])["JobId"]
            proc = subprocess.Popen([FLOE, "--endpoint-url", url, "job", "wait", "slow", jid],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
            first = self.interrupt_after(proc, " InProgress after ")
            so, se = proc.communicate(timeout=60)
            se = first + se
            self.assertEqual(proc.returncode, 130)
            self.assertIn("to resume, run: floe job wait slow " + jid, se)
        finally:
            slow.stop()

    # ---- no table header before a failure ----
    def test_no_header_before_failure(self):
        r = self.floe("vault", "list", env={**self.env, "AWS_SECRET_ACCESS_KEY": "wrong"})
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("InvalidSignatureException", r.stderr)
        dead = servers.start_vault(FLOE_VAULT)
        url = dead.url
        dead.stop()
        r = subprocess.run([FLOE, "--endpoint-url", url, "--max-retries", "1", "vault", "list"],
                           env=self.env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        r = self.ok("vault", "list")
        self.assertTrue(r.stdout.startswith("VAULT "))

    # ---- --help ----
    def test_help_shows_defaults(self):
        top = subprocess.run([FLOE, "--help"], capture_output=True, text=True)
        self.assertEqual(top.returncode, 0)
        self.assertIn("--retry-for 10m", top.stdout)
        for cmd in COMMANDS:
            r = subprocess.run([FLOE] + cmd.split() + ["--help"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, cmd)
            self.assertTrue(r.stdout.startswith("usage: "), cmd)
            if re.search(r"--[a-z-]+ (SIZE|SECONDS|N)\b", r.stdout):  # valued options: defaults
                self.assertRegex(r.stdout, r"[Dd]efault", cmd)
        for cmd, default in (("upload", "--concurrency adaptive"), ("upload", "--part-size 64MiB"),
                             ("upload", "--memory-limit 1GiB"), ("retrieve", "--segment-size 32MiB"),
                             ("retrieve", "--tier Standard"), ("retrieve", "--concurrency adaptive"), ("bench", "--runs 3")):
            r = subprocess.run([FLOE, cmd, "--help"], capture_output=True, text=True)
            self.assertIn(default, r.stdout, cmd)

    def test_concurrency_adaptive_is_accepted(self):
        # --help names the default "--concurrency adaptive": writing it out must work too
        self.ok("vault", "create", "ad")
        p = self.file("ad", b"adaptive" * 1000)
        up = self.jlines("upload", "ad", p, "--concurrency", "adaptive")
        self.assertEqual(up[-1]["size"], 8000, up)
        tree = os.path.join(self.tmp.name, "ad-tree")
        os.makedirs(tree, exist_ok=True)
        self.file(os.path.join("ad-tree", "one"), b"one")
        cat = os.path.join(self.tmp.name, "ad-catalog")
        self.ok("backup", tree, "ad", "--catalog", cat, "--concurrency", "adaptive")
        for cmd in (("upload", "ad", p), ("backup", tree, "ad", "--catalog", cat)):
            r = self.floe(*cmd, "--concurrency", "fast")
            self.assertEqual(r.returncode, 2, (cmd, r.stderr))
            self.assertIn("--concurrency", r.stderr, cmd)

    # ---- logs ----
    def test_debug_log_redacts_secrets(self):
        token = "SESSIONTOKENSECRET123"
        env = {**self.env, "AWS_SESSION_TOKEN": token}
        r = self.floe("--debug", "vault", "list", env=env)
        # floe-vault ignores the token; the request still carries it
        self.assertIn("> GET /-/vaults HTTP/1.1", r.stderr)
        self.assertIn("Authorization: [redacted]", r.stderr)
        self.assertIn("X-Amz-Security-Token: [redacted]", r.stderr)
        self.assertNotIn(token, r.stderr)
        self.assertNotIn("Signature=", r.stderr)
        self.assertRegex(r.stderr, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z floe: < HTTP/1.1")

    def test_verbose_and_log_file(self):
        dead = servers.start_vault(FLOE_VAULT)
        url = dead.url
        dead.stop()
        log = os.path.join(self.tmp.name, "floe.log")
        r = subprocess.run([FLOE, "--endpoint-url", url, "-v", "--log-file", log,
                            "--max-retries", "2", "vault", "list"], env=self.env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        with open(log) as f:
            text = f.read()
        self.assertEqual(text.count(" floe: retry "), 2, text)
        self.assertIn("gave up after 3 attempts", r.stderr)  # errors stay on stderr
        self.assertNotIn(" floe: retry ", r.stderr)

    def test_progress_lines_when_not_a_terminal(self):
        self.ok("vault", "create", "prog")
        data = os.urandom(12 * MIB)
        p = self.file("progress.bin", data)
        proxy = servers.start_faultproxy(self.vault.port, ["PUT multipart-uploads delay:0.25 0"])
        try:
            r = subprocess.run([FLOE, "--endpoint-url", proxy.url, "upload", "prog", p,
                                "--part-size", "1MiB", "--concurrency", "1"], env=self.env,
                               capture_output=True, text=True, timeout=120)
        finally:
            proxy.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"Z floe: upload .*progress\.bin: \d+\.\d MiB / 12\.0 MiB "
                                   r"\(\d+%\), \d+\.\d MiB/s, ETA \d+s")
        self.assertNotIn("MB/s", r.stderr)
        r = self.ok("--quiet", "upload", "prog", p)
        self.assertEqual(r.stderr, "")

    # ---- downloads ----
    def test_overwrite_and_reuse_of_a_job(self):
        self.ok("vault", "create", "reuse")
        data = os.urandom(2 * MIB + 3)
        src = self.file("reuse-src", data)
        (up,) = self.jlines("upload", "reuse", src)
        aid = up["archive_id"]
        out = os.path.join(self.tmp.name, "reuse-out")
        r = self.ok("retrieve", "reuse", "--archive-id=" + aid, "-o", out)
        self.assertIn("initiated", r.stderr)
        r = self.floe("retrieve", "reuse", "--archive-id=" + aid, "-o", out)
        self.assertEqual(r.returncode, 2)
        r = self.ok("retrieve", "reuse", "--archive-id=" + aid, "-o", out, "--overwrite")
        self.assertIn("reusing job", r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        jobs = self.jlines("job", "list", "reuse")
        self.assertEqual(len(jobs), 1)
        r = self.ok("retrieve", "reuse", "--archive-id=" + aid, "-o", out, "--overwrite",
                    "--new-job")
        self.assertIn("initiated", r.stderr)
        self.assertEqual(len(self.jlines("job", "list", "reuse")), 2)
        # another range is another job
        r = self.ok("retrieve", "reuse", "--archive-id=" + aid, "-o", out, "--overwrite",
                    "--range", "0-1048575")
        self.assertIn("initiated", r.stderr)
        # never the file the command uses itself
        ck = self.file("reuse.ckpt", b"")
        r = self.floe("retrieve", "reuse", "--archive-id=" + aid, "-o", ck, "--checkpoint", ck,
                      "--overwrite")
        self.assertEqual(r.returncode, 2)
        self.assertIn("uses itself", r.stderr)

    def test_free_space_checked_before_download(self):
        mnt = os.path.join(self.tmp.name, "small-fs")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a small tmpfs here")
        try:
            self.ok("vault", "create", "space")
            src = self.file("space-src", os.urandom(3 * MIB))
            (up,) = self.jlines("upload", "space", src)
            r = self.floe("retrieve", "space", "--archive-id=" + up["archive_id"], "-o",
                          os.path.join(mnt, "out"))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("not enough free space", r.stderr)
            self.assertEqual(os.listdir(mnt), [])
        finally:
            subprocess.run(["umount", mnt])

    def test_default_endpoint_refused_says_start_floe_vault(self):
        import socket
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", 9190))
            self.skipTest("something listens on 127.0.0.1:9190 here")
        except OSError:
            pass
        finally:
            s.close()
        env = {k: v for k, v in self.env.items() if not k.startswith("AWS_ENDPOINT")}
        t0 = time.time()
        r = self.floe("vault", "create", "photos", env=env, endpoint=False, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("start floe-vault", r.stderr)
        self.assertIn("--endpoint-url", r.stderr)
        self.assertLess(time.time() - t0, 20)  # not the 10-minute budget: never reached

    def test_tls_to_plain_http_is_not_retried(self):
        t0 = time.time()
        r = self.floe("--endpoint-url", self.url.replace("http:", "https:"), "vault", "list",
                      endpoint=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not retried", r.stderr)
        self.assertNotIn("gave up after", r.stderr)
        self.assertLess(time.time() - t0, 10)


if __name__ == "__main__":
    FLOE, FLOE_VAULT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    del sys.argv[1:3]
    unittest.main(verbosity=2)
