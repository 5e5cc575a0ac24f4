#!/usr/bin/env python3
"""floe-vault's server options: --request-timeout (a stalled body is answered 408
RequestTimeoutException and nothing is stored; a slow but steady body is not cut) and the
defaults that let the floe CLI work out of the box (--listen 127.0.0.1:9190, --data-dir
$XDG_DATA_HOME/floe-vault or ~/.local/share/floe-vault, created with its parents).
Usage: test_server_options.py <floe-vault binary>."""
import json
import os
import stat
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.awsrequest  # noqa: E402
import botocore.credentials  # noqa: E402

BIN = None
MIB = vh.MIB


def signed_headers(v, method, path, headers, content_sha):
    h = {"x-amz-glacier-version": "2012-06-01", "x-amz-content-sha256": content_sha,
         "Host": "127.0.0.1:%d" % v.port}
    h.update(headers)
    req = botocore.awsrequest.AWSRequest(method=method, url=v.url + path, headers=h)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(vh.ACCESS_KEY, vh.SECRET_KEY),
                            "glacier", vh.REGION).add_auth(req)
    return dict(req.headers.items())


def send_partial(v, method, path, body, sent, headers=None):
    """Send the headers for all of body but only body[:sent]; return the connected socket."""
    h = signed_headers(v, method, path, dict(headers or {}), vh.sha256(body))
    h["Content-Length"] = str(len(body))
    s = socket.create_connection(("127.0.0.1", v.port), timeout=30)
    head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join(
        "%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    s.sendall(head.encode() + body[:sent])
    return s


def read_response(s):
    """(status, headers, body) of one response read until the server closes."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    hdrs = {k.lower(): val.strip() for k, _, val in (ln.partition(":") for ln in lines[1:])}
    return status, hdrs, body


class ExpiryAndStaleness(unittest.TestCase):
    """--job-expiry takes effect when a job is read (not only at the cleanup tick), and
    --inventory-staleness makes an inventory show the vault as it was that long ago."""

    def test_expired_job_is_gone_at_once(self):
        # the output is read within 3 s of the job's completion (two requests: a loaded
        # machine under ASan can take more than the 1 s this used to leave), gone 3.5 s after
        v = vh.Vault(BIN, extra=("--job-delay", "instant", "--job-expiry", "3"))
        try:
            g = v.client()
            g.create_vault(vaultName="e")
            aid = v.upload("e", b"expiring")
            jid = g.initiate_job(vaultName="e", jobParameters={
                "Type": "archive-retrieval", "ArchiveId": aid})["jobId"]
            for _ in range(100):
                if g.describe_job(vaultName="e", jobId=jid)["Completed"]:
                    break
                time.sleep(0.05)
            self.assertEqual(g.get_job_output(vaultName="e", jobId=jid)["body"].read(),
                             b"expiring")
            time.sleep(3.5)
            for call in (lambda: g.describe_job(vaultName="e", jobId=jid),
                         lambda: g.get_job_output(vaultName="e", jobId=jid)):
                with self.assertRaises(g.exceptions.ResourceNotFoundException):
                    call()
            self.assertEqual(g.list_jobs(vaultName="e")["JobList"], [])
        finally:
            v.close()

    def test_inventory_staleness(self):
        # 4 s: each inventory below must start within that of the write before it (a loaded
        # machine under ASan can take more than the 2 s this used to leave)
        v = vh.Vault(BIN, extra=("--job-delay", "instant", "--inventory-staleness", "4"))
        try:
            g = v.client()
            g.create_vault(vaultName="s")
            aid = v.upload("s", b"new archive")

            def inventory():
                jid = g.initiate_job(vaultName="s", jobParameters={
                    "Type": "inventory-retrieval"})["jobId"]
                for _ in range(100):
                    if g.describe_job(vaultName="s", jobId=jid)["Completed"]:
                        break
                    time.sleep(0.05)
                out = json.loads(g.get_job_output(vaultName="s", jobId=jid)["body"].read())
                return [a["ArchiveId"] for a in out["ArchiveList"]]

            self.assertEqual(inventory(), [])  # not in the snapshot of 4 s ago
            time.sleep(4.3)
            self.assertEqual(inventory(), [aid])
            g.delete_archive(vaultName="s", archiveId=aid)
            self.assertEqual(inventory(), [aid])  # deleted after the snapshot: still listed
        finally:
            v.close()


class RequestTimeout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = vh.Vault(BIN, extra=("--job-delay", "instant", "--request-timeout", "1"))
        assert cls.v.request("PUT", "/-/vaults/t")[0] == 201

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def blobs(self):
        """The blob files, and for each shared log blob (bodies under 1 MiB) whether it holds
        any byte that is not zero: a failed body's region is punched out, so a log that only
        ever saw failed bodies counts as empty."""
        d = os.path.join(self.v.data_dir, "blobs")
        out = []
        for n in sorted(os.listdir(d)):
            if n.startswith("log."):
                with open(os.path.join(d, n), "rb") as f:
                    if not f.read().strip(b"\0"):
                        continue
            out.append(n)
        return out

    def archives(self):
        st, _, body = self.v.request("GET", "/-/vaults/t")
        self.assertEqual(st, 200)
        return json.loads(body)["NumberOfArchives"]

    def check_408(self, s, t0):
        st, hd, body = read_response(s)
        took = time.monotonic() - t0
        s.close()
        self.assertEqual(st, 408, body)
        self.assertEqual(hd.get("content-type"), "application/json")
        self.assertTrue(hd.get("x-amzn-requestid"))
        doc = json.loads(body)
        self.assertEqual(doc["code"], "RequestTimeoutException")
        self.assertEqual(doc["type"], "Client")
        self.assertIn("The upload body stalled", doc["message"])
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 10)

    def test_stalled_upload_archive_is_408_and_stores_nothing(self):
        before, n = self.blobs(), self.archives()
        body = os.urandom(6 * MIB + 5)  # streamed (O_DIRECT) writer, a buffer already sent
        t0 = time.monotonic()
        s = send_partial(self.v, "POST", "/-/vaults/t/archives", body, 5 * MIB,
                         {"x-amz-sha256-tree-hash": vh.tree_hash(body)})
        self.check_408(s, t0)
        self.assertEqual(self.blobs(), before)
        self.assertEqual(self.archives(), n)
        self.assertIn("body stalled", self.v.log())
        # the server still works, also on the same route
        self.v.upload("t", body)
        self.assertEqual(self.archives(), n + 1)

    def test_stalled_small_part_is_408_and_stores_nothing(self):
        st, hd, _ = self.v.request("POST", "/-/vaults/t/multipart-uploads", b"",
                                   {"x-amz-part-size": str(MIB)})
        self.assertEqual(st, 201)
        uid = hd["x-amz-multipart-upload-id"]
        before = self.blobs()
        body = os.urandom(1000)  # buffered writer
        t0 = time.monotonic()
        s = send_partial(self.v, "PUT", "/-/vaults/t/multipart-uploads/" + uid, body, 10,
                         {"x-amz-sha256-tree-hash": vh.tree_hash(body),
                          "Content-Range": "bytes 0-999/*"})
        self.check_408(s, t0)
        self.assertEqual(self.blobs(), before)
        st, _, parts = self.v.request("GET", "/-/vaults/t/multipart-uploads/" + uid)
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(parts)["Parts"], [])

    def test_stalled_json_body_is_408(self):
        body = json.dumps({"Type": "inventory-retrieval"}).encode()
        t0 = time.monotonic()
        s = send_partial(self.v, "POST", "/-/vaults/t/jobs", body, 5)
        self.check_408(s, t0)

    def test_slow_steady_body_is_not_cut(self):
        body = os.urandom(2 * MIB)
        s = send_partial(self.v, "POST", "/-/vaults/t/archives", body, 0,
                         {"x-amz-sha256-tree-hash": vh.tree_hash(body)})
        step = len(body) // 10
        for i in range(10):  # 10 pieces, 0.3 s apart: 3 s in all, never 1 s idle (0.7 s to
            time.sleep(0.3)  # spare for a loaded machine's scheduling)
            s.sendall(body[i * step:(i + 1) * step if i < 9 else len(body)])
        s.settimeout(30)
        data = s.recv(65536)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 201"), data[:200])


class Defaults(unittest.TestCase):
    def run_vault(self, env, args, expect_url=None):
        p = subprocess.Popen([BIN, "--log-level", "info"] + args, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = p.stdout.readline().decode().strip()
            if not line:
                err = p.stderr.read().decode()
                p.wait(10)
                return None, err
            return line, None
        finally:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
            p.stdout.close()
            p.stderr.close()

    def test_data_dir_defaults(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, XDG_DATA_HOME=os.path.join(tmp, "xdg", "share"),
                       HOME=os.path.join(tmp, "home"))
            line, err = self.run_vault(env, ["--listen", "127.0.0.1:0"])
            self.assertTrue(line and line.startswith("http://127.0.0.1:"), err)
            self.assertTrue(os.path.isfile(os.path.join(tmp, "xdg", "share", "floe-vault",
                                                        "floe-vault.db")))
            # without XDG_DATA_HOME (or with a relative one): ~/.local/share/floe-vault
            for xdg in (None, "relative/dir"):
                env = dict(os.environ, HOME=os.path.join(tmp, "home"))
                env.pop("XDG_DATA_HOME", None)
                if xdg:
                    env["XDG_DATA_HOME"] = xdg
                line, err = self.run_vault(env, ["--listen", "127.0.0.1:0"])
                self.assertTrue(line and line.startswith("http://127.0.0.1:"), err)
                self.assertTrue(os.path.isdir(os.path.join(tmp, "home", ".local", "share",
                                                           "floe-vault", "blobs")))
            env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_DATA_HOME")}
            line, err = self.run_vault(env, ["--listen", "127.0.0.1:0"])
            self.assertIsNone(line)
            self.assertIn("give --data-dir", err)

    def test_listen_default_is_floe_default_endpoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            line, err = self.run_vault(dict(os.environ), ["--data-dir", tmp + "/d"])
            if line is None and "cannot listen on 127.0.0.1:9190" in err:
                self.skipTest("port 9190 is in use on this machine")
            self.assertEqual(line, "http://127.0.0.1:9190", err)

    def test_help_lists_defaults(self):
        out = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
        self.assertIn("listen 127.0.0.1:9190", out)
        self.assertIn("~/.local/share/floe-vault", out)
        self.assertIn("--request-timeout SECONDS", out)
        r = subprocess.run([BIN, "--request-timeout", "soon"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--request-timeout wants seconds", r.stderr)

    def test_port_file_never_replaces_a_non_regular_file(self):
        # renaming the temp file over a device (say /dev/null, as root) would replace the node
        with tempfile.TemporaryDirectory(prefix="floe-portfile-") as d:
            fifo = os.path.join(d, "fifo")
            os.mkfifo(fifo)
            r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--data-dir",
                                os.path.join(d, "data"), "--port-file", fifo],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("is not a regular file", r.stderr)
            self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
