#!/usr/bin/env python3
"""floe's retrieval side against floe-vault on 127.0.0.1 (started here, stopped by PID):
whole and ranged retrievals (first MiB, last partial MiB, unaligned range rejected before
sending), every tier, standard output, inventory in JSON and CSV with date filters and
markers, wait timeout, failed job, expired output, a corrupt segment (caught, retried, then a
failure naming the byte range), kill -9 and resume, and a full disk on the output; segments of
several chunks in every write mode (streamed or buffered, O_DIRECT or not), a connection cut
mid-body (curl retries, the body restarts), and resume re-hashing what the journal recorded.

usage: test_retrieve.py FLOE FLOE_VAULT
"""
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler

import socketserver

import retrieve_helper as rh
import servers  # noqa: E402  (tests/helpers, on the path through retrieve_helper)
from retrieve_helper import MIB, vault_helper

FLOE = FLOE_VAULT = None
FAULTPROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers",
                          "faultproxy.py")


def pattern(n, seed=0):
    """n deterministic bytes that differ in every MiB."""
    base = bytes((i * 7 + seed) % 251 for i in range(MIB + 3))
    out = bytearray()
    k = 0
    while len(out) < n:
        out += base[k % 97:]
        k += 1
    return bytes(out[:n])


class CutProxy:
    """Forwards to floe-vault; the first `count` GET answers whose "PATH RANGE" matches
    `pat` send their headers and only part of the body, then the connection is closed."""

    def __init__(self, upstream_port, pat, count):
        self.lock, self.log, self.left, self.cuts = threading.Lock(), [], count, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                up.request("GET", self.path, headers={
                    k: v for k, v in self.headers.items() if k.lower() not in rh.HOP})
                r = up.getresponse()
                data = r.read()
                up.close()
                key = self.path + " " + self.headers.get("Range", "")
                with proxy.lock:
                    proxy.log.append(key)
                    cut = bool(re.search(pat, key)) and proxy.left > 0 and r.status in (200, 206)
                    if cut:
                        proxy.left -= 1
                        proxy.cuts += 1
                self.send_response_only(r.status, r.reason)
                for k, v in r.getheaders():
                    if k.lower() not in rh.HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not cut:
                    self.wfile.write(data)
                    return
                self.wfile.write(data[:len(data) // 2 + 12345])  # into the second chunk
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        self.srv = Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class Retrieve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-retrieve-")
        cls.vault = vault_helper.Vault(FLOE_VAULT)
        cls.floe = rh.Floe(FLOE, cls.vault.url, cls.tmp.name)
        cls.floe.run("vault", "create", "v")
        cls.data = pattern(9 * MIB + 5)
        cls.aid = cls.vault.upload("v", cls.data, "nine mebibytes")  # raw SigV4, like boto3

    @classmethod
    def tearDownClass(cls):
        cls.vault.close()
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_whole_archive_parallel_segments(self):
        out = self.path("whole.bin")
        r = self.floe.json("retrieve", "v", "-o", out, "--segment-size", "2MiB",
                           "--concurrency", "3", "--", self.aid)[0]
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.data)
        self.assertEqual(r["verified"], "whole")
        self.assertEqual(r["segments"], 5)
        self.assertEqual(r["tree_hash"], vault_helper.tree_hash(self.data))
        self.assertFalse(os.path.exists(out + ".floe-part"))

    def test_first_mib_and_last_partial_mib(self):
        for rng, lo, hi in (("0-1048575", 0, MIB), ("9437184-9437188", 9 * MIB, 9 * MIB + 5),
                            ("4194304-8388607", 4 * MIB, 8 * MIB)):
            with self.subTest(range=rng):
                out = self.path("range.bin")
                r = self.floe.json("retrieve", "v", "-o", out, "--overwrite", "--range", rng,
                                   "--segment-size", "1MiB", "--", self.aid)[0]
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), self.data[lo:hi])
                self.assertEqual(r["verified"], "whole")

    def test_unaligned_range_rejected_before_sending(self):
        proxy = rh.CorruptProxy(self.vault.port)
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            # a malformed range and a well-formed one that breaks Glacier's alignment rule are
            # both usage errors (2) in both commands, found before sending
            for rng, msg, code in (("100-1048675", b"not a multiple of 1 MiB", 2),
                                   ("2097152-1048575", b"ends before it starts", 2)):
                p = f.run("retrieve", "v", "-o", self.path("x.bin"), "--range", rng, "--",
                          self.aid, check=False)
                self.assertEqual(p.returncode, code, rng)
                self.assertIn(msg, p.stderr)
                p = f.run("job", "initiate-retrieval", "v", "--range", rng, "--", self.aid,
                          check=False)
                self.assertEqual(p.returncode, code, rng)
                self.assertIn(msg, p.stderr)
            # with the archive size known, an end inside a MiB is refused locally too
            p = f.run("job", "initiate-retrieval", "v", "--range", "0-1000",
                      "--archive-size", str(len(self.data)), "--", self.aid, check=False)
            self.assertIn(b"neither one byte before a multiple of 1 MiB", p.stderr)
            self.assertEqual([e for e in proxy.log if e[0] == "POST"], [])
            self.assertFalse(os.path.exists(self.path("x.bin")))
        finally:
            proxy.close()

    def test_every_tier_and_job_commands(self):
        for tier in ("Expedited", "Standard", "Bulk", "bulk"):
            with self.subTest(tier=tier):
                j = self.floe.json("job", "initiate-retrieval", "v", "--tier", tier,
                                   "--description", "tier " + tier, "--", self.aid)[0]["JobId"]
                d = self.floe.json("job", "wait", "v", j, "--interval", "0.05",
                                   "--timeout", "30")[0]
                self.assertEqual(d["Tier"].lower(), tier.lower())
                self.assertEqual(d["StatusCode"], "Succeeded")
                self.assertEqual(d["JobDescription"], "tier " + tier)
                self.assertEqual(d["SHA256TreeHash"], vault_helper.tree_hash(self.data))
        p = self.floe.run("job", "initiate-retrieval", "v", "--tier", "Fast", "--", self.aid,
                          check=False)
        self.assertIn(b"not one of Expedited, Standard, Bulk", p.stderr)
        jobs = self.floe.json("job", "list", "v", "--completed", "true", "--page-size", "2")
        self.assertGreaterEqual(len(jobs), 4)  # several pages of 2
        self.assertTrue(all(j["Completed"] for j in jobs))
        self.assertEqual(self.floe.json("job", "list", "v", "--status-code", "InProgress"), [])
        p = self.floe.run("job", "list", "v", "--status-code", "Done", check=False)
        self.assertIn(b"not InProgress, Succeeded or Failed", p.stderr)

    def test_job_output_to_stdout_in_order(self):
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        p = self.floe.run("-q", "job", "output", "v", j, "-o", "-", "--segment-size", "1MiB",
                          "--concurrency", "4")
        self.assertEqual(p.stdout, self.data)

    def test_stdout_failure_ends_instead_of_hanging(self):
        # segment 0 never verifies while later ones do and wait for their turn on stdout
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        proxy = rh.CorruptProxy(self.vault.port, r"/output bytes=0-", -1)
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            p = f.run("-q", "job", "output", "v", j, "-o", "-", "--segment-size", "1MiB",
                      "--concurrency", "4", check=False, timeout=60)
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"failed verification", p.stderr)
        self.assertEqual(p.stdout, b"")  # nothing after the bad segment either

    def test_stdout_gets_nothing_that_fails_the_whole_check(self):
        """A segment corrupted with a forged matching segment hash passes its own check; only
        the job's tree hash catches it, at the end: standard output must still be empty, and
        the message must say so (issue 15, finding 5: 5,242,880 bytes had gone out)."""
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        proxy = rh.CorruptProxy(self.vault.port, r"/output bytes=5242880-", -1, forge=True)
        spool = self.path("spool")
        os.mkdir(spool)
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            f.env["TMPDIR"] = spool
            p = f.run("-q", "job", "output", "v", j, "-o", "-", "--segment-size", "1MiB",
                      "--concurrency", "4", check=False, timeout=60)
            self.assertGreater(proxy.corrupted, 0)
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"nothing was written to standard output", p.stderr)
        self.assertEqual(p.stdout, b"")
        self.assertEqual(os.listdir(spool), [])  # the spool is unlinked
        # no spool, no output: refused before anything is written, naming the way out
        f = rh.Floe(FLOE, self.vault.url, self.tmp.name)
        f.env["TMPDIR"] = os.path.join(spool, "missing")
        p = f.run("-q", "job", "output", "v", j, "-o", "-", check=False, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"cannot create the spool for standard output", p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_stalled_download_fails_then_resumes(self):
        """A job output trickling at 1 B/s is a stall (< FLOE_STALL_MIN_RATE over
        FLOE_STALL_TIMEOUT_S): each attempt is abandoned, the command fails with exit 1 naming
        it, and the same command, once the path is healthy, resumes the same job (issue 15,
        finding 6: it ran until killed)."""
        out, ckpt = self.path("slow.bin"), self.path("slow.ckpt")
        proxy = servers.start_faultproxy(self.vault.port, ["GET /output slowresp:1 0"])
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            f.env.update(FLOE_STALL_TIMEOUT_S="2")
            t0 = time.time()
            p = f.run("retrieve", "v", "-o", out, "--checkpoint", ckpt, "--max-retries", "1",
                      "--segment-size", "1MiB", "--", self.aid, check=False, timeout=120)
            took = time.time() - t0
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"too slow", p.stderr.lower())
            self.assertLess(took, 60)
            self.assertFalse(os.path.exists(out))
            self.assertIn("FAULT slowresp:1", proxy.log())
        finally:
            proxy.stop()
        healthy = servers.start_faultproxy(self.vault.port, [], port=proxy.port)
        try:
            f = rh.Floe(FLOE, healthy.url, self.tmp.name)
            p = f.run("retrieve", "v", "-o", out, "--checkpoint", ckpt, "--segment-size",
                      "1MiB", "--", self.aid, timeout=120)
            self.assertNotIn("POST", healthy.log())  # the same job: nothing initiated
        finally:
            healthy.stop()
        with open(out, "rb") as fh:
            self.assertEqual(fh.read(), self.data)

    def test_stdout_redirected_to_a_file_and_json(self):
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        # `(echo hello; floe ... -o -) > out`: the data follows what is already written
        out = self.path("redirected.bin")
        with open(out, "wb") as fh:
            fh.write(b"hello\n")
            fh.flush()
            p = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "job",
                                "output", "v", j, "-o", "-", "--segment-size", "1MiB",
                                "--concurrency", "4"], env=self.floe.env, stdout=fh,
                               stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as fh:
            self.assertEqual(fh.read(), b"hello\n" + self.data)
        # --json with -o -: the summary goes to stderr, never into the data
        summary = json.loads(p.stderr.decode().strip().splitlines()[-1])
        self.assertEqual((summary["file"], summary["size"]), ("-", len(self.data)))
        p = self.floe.run("--json", "job", "output", "v", j, "-o", "-")
        self.assertEqual(p.stdout, self.data)

    def test_corrupt_segment_is_refetched_then_fails(self):
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        proxy = rh.CorruptProxy(self.vault.port, r"/output bytes=2097152-", 1)
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            out = self.path("corrupt.bin")
            r = f.json("job", "output", "v", j, "-o", out, "--segment-size", "1MiB")[0]
            self.assertEqual(proxy.corrupted, 1)
            self.assertEqual(r["segments_refetched"], 1)
            self.assertEqual(r["verified"], "whole")
            with open(out, "rb") as fh:
                self.assertEqual(fh.read(), self.data)
            os.unlink(out)
            proxy.set(r"/output bytes=3145728-", -1)  # always corrupt segment 3
            p = f.run("job", "output", "v", j, "-o", out, "--segment-size", "1MiB",
                      check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"bytes 3145728-4194303 failed verification", p.stderr)
            self.assertIn(b"fetched 3 times", p.stderr)
            self.assertFalse(os.path.exists(out))  # never a corrupt file at the output path
        finally:
            proxy.close()

    def test_kill9_and_resume(self):
        data = pattern(48 * MIB, seed=3)
        aid = self.vault.upload("v", data)
        j = self.floe.json("job", "initiate-retrieval", "v", "--", aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        out = self.path("resume.bin")
        ckpt = self.path("resume.ckpt")
        # slow every output GET a little so the kill lands mid-download
        proxy = rh.CorruptProxy(self.vault.port, r"^$", 0, delay_s=0.15)
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            p = f.popen("job", "output", "v", j, "-o", out, "--segment-size", "1MiB",
                        "--concurrency", "2", "--checkpoint", ckpt)
            part = out + ".floe-part"
            ok = vault_helper.wait_for(
                lambda: os.path.exists(ckpt) and os.path.getsize(ckpt) > 2000, 30)
            self.assertTrue(ok, "no checkpoint records appeared")
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)
            p.stdout.close()
            p.stderr.close()
            self.assertTrue(os.path.exists(part))
            self.assertFalse(os.path.exists(out))
            # the requests in flight at the kill finish at the proxy (logged as they end):
            # until the killed client's connections are all gone there, not a fixed 0.5 s,
            # which a loaded machine's proxy threads can outlast (then the re-run's count is
            # off by them)
            time.sleep(0.5)
            self.assertTrue(vault_helper.wait_for(lambda: proxy.conns == 0, 60),
                            "%d connections of the killed floe still open" % proxy.conns)
            before = len([e for e in proxy.log if "/output" in e[1]])
            r = f.json("job", "output", "v", j, "-o", out, "--segment-size", "1MiB",
                       "--checkpoint", ckpt)[0]
            after = len([e for e in proxy.log if "/output" in e[1]])
            self.assertGreater(r["segments_resumed"], 0)
            self.assertEqual(r["segments_resumed"] + r["segments_fetched"], 48)
            self.assertEqual(after - before, r["segments_fetched"])  # only missing ones
            self.assertEqual(r["verified"], "whole")
            with open(out, "rb") as fh:
                self.assertEqual(fh.read(), data)
            self.assertFalse(os.path.exists(ckpt))
        finally:
            proxy.close()

    def test_retrieve_resumes_the_same_job(self):
        """floe retrieve interrupted after initiation keeps the job id in its checkpoint."""
        out = self.path("again.bin")
        ckpt = self.path("again.ckpt")
        # jobs of 3 s: the first run (--timeout 0) finds its job still in progress even when
        # its one DescribeJob comes late (ASan, a loaded machine; 1 s was the margin)
        slow = vault_helper.Vault(FLOE_VAULT, extra=("--job-delay",
                                                     "Expedited=3,Standard=3,Bulk=3"))
        try:
            f = rh.Floe(FLOE, slow.url, self.tmp.name)
            f.run("vault", "create", "s")
            aid = slow.upload("s", self.data[:3 * MIB])
            p = f.run("retrieve", "s", "-o", out, "--checkpoint", ckpt, "--timeout", "0",
                      "--", aid, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"still in progress", p.stderr)
            self.assertIn(b"run the same command again", p.stderr)
            p = f.run("retrieve", "s", "-o", out, "--checkpoint", ckpt, "--poll-interval",
                      "0.2", "--", aid)
            self.assertIn(b"resuming job", p.stderr)
            jobs = f.json("job", "list", "s")
            self.assertEqual(len(jobs), 1)  # the rerun initiated nothing new
            with open(out, "rb") as fh:
                self.assertEqual(fh.read(), self.data[:3 * MIB])
        finally:
            slow.close()

    def test_retrieve_resumes_at_the_recorded_segment_size(self):
        """The checkpoint is written (with the default segment size) before the job is ready;
        a later run that downloads with another --segment-size and fails part-way must still
        be resumed from its recorded segments."""
        out = self.path("resize.bin")
        ckpt = self.path("resize.ckpt")
        # jobs of 3 s: the first run (--timeout 0) finds its job still in progress even when
        # its one DescribeJob comes late (ASan, a loaded machine; 1 s was the margin)
        slow = vault_helper.Vault(FLOE_VAULT, extra=("--job-delay",
                                                     "Expedited=3,Standard=3,Bulk=3"))
        proxy = rh.CorruptProxy(slow.port, r"bytes=5242880-", -1)  # segment 5 never verifies
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            f.run("vault", "create", "s")
            aid = slow.upload("s", self.data)
            p = f.run("retrieve", "s", "-o", out, "--checkpoint", ckpt, "--timeout", "0",
                      "--", aid, check=False)
            self.assertIn(b"still in progress", p.stderr)
            p = f.run("retrieve", "s", "-o", out, "--checkpoint", ckpt, "--poll-interval",
                      "0.2", "--segment-size", "1MiB", "--concurrency", "1", "--", aid,
                      check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"failed verification", p.stderr)
            proxy.set(r"^$", 0)
            r = f.json("retrieve", "s", "-o", out, "--checkpoint", ckpt, "--", aid)[0]
            self.assertGreaterEqual(r["segments_resumed"], 5)
            self.assertEqual(r["segments"], 10)
            with open(out, "rb") as fh:
                self.assertEqual(fh.read(), self.data)
        finally:
            proxy.close()
            slow.close()

    def test_archives_uploaded_by_aws_cli_and_boto3(self):
        # clients nobody here wrote upload; floe retrieves in verified parallel segments
        data = pattern(5 * MIB + 333, seed=9)
        src = self.path("interop-src.bin")
        with open(src, "wb") as f:
            f.write(data)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        env.update(AWS_ACCESS_KEY_ID=vault_helper.ACCESS_KEY,
                   AWS_SECRET_ACCESS_KEY=vault_helper.SECRET_KEY,
                   AWS_DEFAULT_REGION=vault_helper.REGION,
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        p = subprocess.run(["aws", "--endpoint-url", self.vault.url, "glacier", "upload-archive",
                            "--account-id", "-", "--vault-name", "v", "--body", src],
                           capture_output=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        cli_id = __import__("json").loads(p.stdout)["archiveId"]
        boto_id = self.vault.client().upload_archive(vaultName="v", body=data)["archiveId"]
        for aid in (cli_id, boto_id):
            out = self.path("interop-out.bin")
            r = self.floe.json("retrieve", "v", "-o", out, "--overwrite", "--segment-size",
                               "1MiB", "--concurrency", "3", "--", aid)[0]
            with open(out, "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertEqual(r["verified"], "whole")

    def test_ids_starting_with_dash_are_ids_not_options(self):
        # the service's ids may begin with '-': such a token is taken as the id, not an option
        fake = "-" + "A" * 91
        for args in (("job", "describe", "v", fake), ("job", "wait", "v", fake, "--timeout", "1"),
                     ("retrieve", "v", fake, "-o", self.path("dash.bin"))):
            p = self.floe.run(*args, check=False)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(b"ResourceNotFoundException", p.stderr, args)
        p = self.floe.run("job", "describe", "v", "-x", check=False)  # short: still an option
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"unknown option '-x'", p.stderr)

    def test_wait_timeout_and_failed_job(self):
        # Expedited jobs of 5 s: each archive below is deleted while its job runs, by a new
        # boto3 client after a floe run (1 s was tight for that on a loaded machine)
        slow = vault_helper.Vault(FLOE_VAULT, extra=("--job-delay",
                                                     "Expedited=5,Standard=30,Bulk=30"))
        try:
            f = rh.Floe(FLOE, slow.url, self.tmp.name)
            f.run("vault", "create", "s")
            aid = slow.upload("s", b"x" * 1000)
            j = f.json("job", "initiate-retrieval", "s", "--", aid)[0]["JobId"]
            t0 = time.time()
            p = f.run("job", "wait", "s", j, "--timeout", "0.5", "--interval", "0.1",
                      check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"still in progress after", p.stderr)
            self.assertLess(time.time() - t0, 10)
            p = f.run("job", "output", "s", j, "-o", self.path("early.bin"), check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"not ready for download", p.stderr)
            # an archive deleted before the job completes makes the job fail
            j2 = f.json("job", "initiate-retrieval", "s", "--tier", "Expedited", "--",
                        aid)[0]["JobId"]
            slow.client().delete_archive(vaultName="s", archiveId=aid)
            p = f.run("job", "wait", "s", j2, "--interval", "0.2", "--timeout", "20",
                      check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"Failed", p.stderr)
            # floe retrieve whose job fails: the checkpoint does not keep pointing at it
            aid2 = slow.upload("s", b"y" * 1000)
            ckpt = self.path("failed.ckpt")
            p = f.run("retrieve", "s", "-o", self.path("failed.bin"), "--checkpoint", ckpt,
                      "--tier", "Expedited", "--timeout", "0", "--", aid2, check=False)
            self.assertIn(b"still in progress", p.stderr)
            slow.client().delete_archive(vaultName="s", archiveId=aid2)
            p = f.run("retrieve", "s", "-o", self.path("failed.bin"), "--checkpoint", ckpt,
                      "--poll-interval", "0.2", "--", aid2, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"Failed", p.stderr)
            self.assertIn(b"checkpoint was removed", p.stderr)
            self.assertFalse(os.path.exists(ckpt))
        finally:
            slow.close()

    def test_output_expired(self):
        """An expired job answers 404 ResourceNotFoundException (AWS keeps output ~24 h;
        floe-vault only expires jobs on its 30 s scheduler tick, so the answer is injected
        with tests/helpers/faultproxy.py, started and stopped by PID)."""
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        pf, log = self.path("fp.port"), self.path("fp.log")
        fp = subprocess.Popen([sys.executable, FAULTPROXY, "--upstream",
                               "127.0.0.1:%d" % self.vault.port, "--port-file", pf, "--log",
                               log, "--rule", "GET /jobs/ status:404:ResourceNotFoundException 0"])
        try:
            self.assertTrue(vault_helper.wait_for(lambda: os.path.exists(pf), 60))
            with open(pf) as fh:
                f = rh.Floe(FLOE, "http://127.0.0.1:%s" % fh.read().strip(), self.tmp.name)
            out = self.path("late.bin")
            p = f.run("job", "output", "v", j, "-o", out, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"ResourceNotFoundException", p.stderr)
            self.assertFalse(os.path.exists(out))
            # floe retrieve resuming an expired job from its checkpoint says what to do
            ckpt = self.path("late.ckpt")
            self.floe.run("retrieve", "v", "-o", out, "--checkpoint", ckpt, "--timeout", "0",
                          "--keep-checkpoint", "--", self.aid)
            os.unlink(out)
            p = f.run("retrieve", "v", "-o", out, "--checkpoint", ckpt, "--", self.aid,
                      check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"delete the checkpoint to start a new retrieval", p.stderr)
        finally:
            fp.terminate()
            fp.wait(10)

    def test_disk_full_keeps_checkpoint(self):
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        out = self.path("full.bin")
        ckpt = self.path("full.ckpt")

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4 * MIB, 4 * MIB))
        p = self.floe.run("job", "output", "v", j, "-o", out, "--segment-size", "1MiB",
                          "--concurrency", "1", "--checkpoint", ckpt, check=False,
                          preexec_fn=limit)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"cannot grow past offset", p.stderr)
        self.assertIn(b"run the same command again", p.stderr)
        self.assertTrue(os.path.exists(ckpt))
        self.assertFalse(os.path.exists(out))
        r = self.floe.json("job", "output", "v", j, "-o", out, "--segment-size", "1MiB",
                           "--checkpoint", ckpt)[0]
        self.assertGreaterEqual(r["segments_resumed"], 3)
        with open(out, "rb") as fh:
            self.assertEqual(fh.read(), self.data)

    def test_segments_of_several_chunks_in_every_write_mode(self):
        """4 MiB segments are streamed as two 2 MiB chunks each; the 5-byte tail is padded to a
        block for O_DIRECT and truncated away. Same bytes and hash in every mode."""
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        for streaming in ("1", "0"):
            for direct in ("1", "0"):
                with self.subTest(streaming=streaming, direct=direct):
                    f = rh.Floe(FLOE, self.vault.url, self.tmp.name)
                    f.env.update(FLOE_RETRIEVE_STREAMING=streaming, FLOE_DIRECT_IO=direct)
                    out = self.path("modes.bin")
                    r = f.json("job", "output", "v", j, "-o", out, "--segment-size", "4MiB",
                               "--concurrency", "2")[0]
                    self.assertEqual(r["verified"], "whole")
                    self.assertEqual(r["segments"], 3)
                    self.assertEqual(os.path.getsize(out), len(self.data))
                    with open(out, "rb") as fh:
                        self.assertEqual(fh.read(), self.data)
                    os.unlink(out)

    def test_streaming_memory_is_chunks_not_segments(self):
        """Streaming holds 2 MiB chunks, not segments: 4 MiB segments, 4 in flight, fit in
        12 MiB; a limit below what the concurrency needs is refused with the numbers, before
        any file or checkpoint is created."""
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        out = self.path("small-memory.bin")
        r = self.floe.json("job", "output", "v", j, "-o", out, "--segment-size", "4MiB",
                           "--memory-limit", "12MiB", "--concurrency", "4")[0]
        self.assertEqual(r["verified"], "whole")
        os.unlink(out)
        cache = os.path.join(self.tmp.name, "cache", "floe")
        ckpts = lambda: sorted(os.listdir(cache)) if os.path.isdir(cache) else []
        before = ckpts()
        p = self.floe.run("job", "output", "v", j, "-o", out, "--segment-size", "4MiB",
                          "--memory-limit", "8MiB", "--concurrency", "4", check=False)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"--memory-limit 8 MiB is below the 12 MiB that --concurrency 4 needs",
                      p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".floe-part"))
        self.assertEqual(ckpts(), before)

    def test_streamed_segment_corrupt_or_cut_mid_body(self):
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        out = self.path("streamed.bin")
        # a connection cut halfway through segment 1: curl retries, the body starts again
        cut = CutProxy(self.vault.port, r"/output bytes=4194304-", 1)
        try:
            f = rh.Floe(FLOE, cut.url, self.tmp.name)
            r = f.json("job", "output", "v", j, "-o", out, "--segment-size", "4MiB")[0]
            self.assertEqual(cut.cuts, 1)
            self.assertEqual(len([k for k in cut.log if "bytes=4194304-" in k]), 2)
            self.assertEqual(r["segments_refetched"], 0)
            self.assertEqual(r["verified"], "whole")
            with open(out, "rb") as fh:
                self.assertEqual(fh.read(), self.data)
            os.unlink(out)
        finally:
            cut.close()
        # a flipped byte in a two-chunk segment: caught, fetched again; always: a failure
        proxy = rh.CorruptProxy(self.vault.port, r"/output bytes=4194304-", 1)
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            r = f.json("job", "output", "v", j, "-o", out, "--segment-size", "4MiB")[0]
            self.assertEqual(proxy.corrupted, 1)
            self.assertEqual(r["segments_refetched"], 1)
            with open(out, "rb") as fh:
                self.assertEqual(fh.read(), self.data)
            os.unlink(out)
            proxy.set(r"/output bytes=4194304-", -1)
            p = f.run("job", "output", "v", j, "-o", out, "--segment-size", "4MiB",
                      check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"bytes 4194304-8388607 failed verification", p.stderr)
            self.assertFalse(os.path.exists(out))
        finally:
            proxy.close()

    def test_resume_rehashes_recorded_segments(self):
        """A journal record is a claim: a recorded segment whose bytes changed in the part
        file is fetched again, the others are kept."""
        j = self.floe.json("job", "initiate-retrieval", "v", "--", self.aid)[0]["JobId"]
        self.floe.run("job", "wait", "v", j, "--interval", "0.05")
        out, ckpt = self.path("rehash.bin"), self.path("rehash.ckpt")
        part = out + ".floe-part"

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4 * MIB, 4 * MIB))
        args = ("job", "output", "v", j, "-o", out, "--segment-size", "1MiB", "--checkpoint",
                ckpt, "--overwrite")
        p = self.floe.run(*args, "--concurrency", "1", check=False, preexec_fn=limit)
        self.assertEqual(p.returncode, 1, p.stderr)
        shutil.copy(part, part + ".bak")
        shutil.copy(ckpt, ckpt + ".bak")
        kept = self.floe.json(*args)[0]["segments_resumed"]
        self.assertGreaterEqual(kept, 3)
        os.replace(part + ".bak", part)
        os.replace(ckpt + ".bak", ckpt)
        with open(part, "r+b") as fh:  # segment 0 no longer holds what was verified
            fh.seek(100)
            b = fh.read(1)
            fh.seek(100)
            fh.write(bytes([b[0] ^ 1]))
        r = self.floe.json(*args)[0]
        self.assertEqual(r["segments_resumed"], kept - 1)
        self.assertEqual(r["segments_fetched"], 10 - (kept - 1))
        with open(out, "rb") as fh:
            self.assertEqual(fh.read(), self.data)

    def test_inventory_formats_filters_markers(self):
        f = self.floe
        f.run("vault", "create", "inv")
        descs = ['plain', 'comma, and "quotes"', 'back\\slash "q"', 'tail', 'ends in \\']
        ids = [self.vault.upload("inv", b"z" * (100 + i), d) for i, d in enumerate(descs)]
        for fmt in ("JSON", "CSV"):
            with self.subTest(format=fmt):
                rows = f.json("inventory", "inv", "--format", fmt, "--poll-interval", "0.05")
                self.assertEqual(sorted(r["ArchiveId"] for r in rows), sorted(ids))
                got = {r["ArchiveId"]: r["ArchiveDescription"] for r in rows}
                self.assertEqual(got, dict(zip(ids, descs)))
                self.assertEqual({r["Size"] for r in rows}, {100, 101, 102, 103, 104})
                raw = self.path("inv." + fmt.lower())
                f.run("inventory", "inv", "--format", fmt, "-o", raw, "--raw")
                with open(raw, "rb") as fh:
                    head = fh.read(20)
                self.assertTrue(head.startswith(b"{") if fmt == "JSON"
                                else head.startswith(b"ArchiveId,"))
        # markers: pages of one archive each until the marker is null
        rows = f.json("inventory", "inv", "--limit", "1", "--poll-interval", "0.05")
        self.assertEqual(sorted(r["ArchiveId"] for r in rows), sorted(ids))
        # date filters
        rows = f.json("inventory", "inv", "--start-date", "2999-01-01T00:00:00Z")
        self.assertEqual(rows, [])
        rows = f.json("inventory", "inv", "--end-date", "2999-01-01T00:00:00Z",
                      "--format", "CSV")
        self.assertEqual(len(rows), 5)
        p = f.run("inventory", "inv", "--start-date", "yesterday", check=False)
        self.assertIn(b"not an ISO-8601 UTC time", p.stderr)

    def test_inventory_table_write_error_fails(self):
        for args in (["-o", "/dev/full", "--overwrite"], []):
            with open("/dev/full", "wb") as full:
                p = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "-q", "inventory",
                                    "v", *args], env=self.floe.env, stdout=full,
                                   stderr=subprocess.PIPE, timeout=120)
            self.assertEqual(p.returncode, 1, args)
            self.assertIn(b"cannot write the inventory", p.stderr)
            self.assertIn(b"No space left on device", p.stderr)

    def test_notifications(self):
        f = self.floe
        topic = "arn:aws:sns:us-east-1:123456789012:t"
        p = f.run("notify", "get", "v", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(f.json("notify", "set", "v", "--sns-topic", topic, "--events",
                                "ArchiveRetrievalCompleted"),
                         [{"VaultName": "v", "Notifications": "set"}])
        got = f.json("notify", "get", "v")[0]
        self.assertEqual(got, {"SNSTopic": topic, "Events": ["ArchiveRetrievalCompleted"]})
        self.assertEqual(f.json("notify", "delete", "v"),
                         [{"VaultName": "v", "Notifications": "deleted"}])
        self.assertEqual(f.run("notify", "get", "v", check=False).returncode, 1)
        # job output: a second output name, an overlong job id, a wrapping poll interval
        p = f.run("job", "output", "v", "J" * 50, "-o", self.path("o1"), self.path("o2"),
                  check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"unexpected argument", p.stderr)
        p = f.run("job", "output", "v", "J" * 2000, "-o", self.path("o1"), check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"too long to be a Glacier job id", p.stderr)
        p = f.run("notify", "set", "v", "--sns-topic", topic, "--events", "Nope", check=False)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    FLOE, FLOE_VAULT = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
