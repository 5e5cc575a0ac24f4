"""Helpers for floe's retrieval integration tests: run the floe CLI against a server, and a
corrupting reverse proxy (in-process thread) that flips one byte in chosen job-output bodies
while keeping their x-amz-sha256-tree-hash header, so verification must catch it."""
import http.client
import json
import os
import re
import socketserver
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "helpers"))
import vault_helper  # noqa: E402  (floe-vault start/stop by PID, boto3 clients)

MIB = 1 << 20
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
       "trailer"}


def floe_env(tmpdir, access=vault_helper.ACCESS_KEY, secret=vault_helper.SECRET_KEY):
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret,
               AWS_DEFAULT_REGION="us-east-1", XDG_CACHE_HOME=os.path.join(tmpdir, "cache"),
               AWS_CONFIG_FILE=os.path.join(tmpdir, "none"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmpdir, "none"),
               FLOE_RETRY_BASE_MS="10")
    env.pop("AWS_PROFILE", None)
    return env


class Floe:
    def __init__(self, binary, url, tmpdir, **envkw):
        self.binary, self.url, self.tmpdir = binary, url, tmpdir
        self.env = floe_env(tmpdir, **envkw)

    def run(self, *args, check=True, preexec_fn=None, timeout=300):
        cmd = [self.binary, "--endpoint-url", self.url, *args]
        p = subprocess.run(cmd, env=self.env, capture_output=True, timeout=timeout,
                           preexec_fn=preexec_fn)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (%d): %s" % (" ".join(args), p.returncode,
                                                         p.stderr.decode(errors="replace")))
        return p

    def json(self, *args, **kw):
        p = self.run("--json", *args, **kw)
        return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]

    def popen(self, *args):
        return subprocess.Popen([self.binary, "--endpoint-url", self.url, *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        """One client connection (its requests one after the other), counted in srv.conns
        while it is open."""
        with self.server.lock:
            self.server.conns += 1
        try:
            super().handle()
        finally:
            with self.server.lock:
                self.server.conns -= 1

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        srv = self.server
        if srv.delay_s and "/output" in self.path:
            time.sleep(srv.delay_s)
        up = http.client.HTTPConnection("127.0.0.1", srv.upstream_port, timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path,
                   body=body if body or self.command in ("PUT", "POST") else None,
                   headers=headers)
        r = up.getresponse()
        data = r.read()
        rng = self.headers.get("Range", "")
        with srv.lock:
            srv.log.append((self.command, self.path, rng, r.status))
            corrupt = (self.command == "GET" and srv.pattern.search(self.path + " " + rng)
                       and r.status in (200, 206) and srv.left != 0 and data)
            if corrupt:
                srv.left -= 1
                srv.corrupted += 1
        if corrupt:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x5a
            data = bytes(data)
        self.send_response_only(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                if corrupt and srv.forge and k.lower() == "x-amz-sha256-tree-hash":
                    v = vault_helper.tree_hash(data)  # the segment check cannot see it
                self.send_header(k, v)
        if (srv.add_hash and self.command == "GET" and "/output" in self.path
                and r.status in (200, 206) and not r.getheader("x-amz-sha256-tree-hash")):
            self.send_header("x-amz-sha256-tree-hash",
                             vault_helper.tree_hash(data) if srv.add_hash == "good" else "0" * 64)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        up.close()

    do_GET = do_PUT = do_POST = do_DELETE = _handle


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client killed with -9 mid-response is expected here


class CorruptProxy:
    """Forwards to 127.0.0.1:upstream_port; corrupts `count` matching GET bodies (-1 = all).
    The pattern is searched in "PATH RANGE". forge: the corrupted body's x-amz-sha256-tree-hash
    is replaced by its own, so only the whole-output check can catch it. add_hash "good" / "bad":
    a job-output answer without x-amz-sha256-tree-hash gets one, its body's or a wrong one."""

    def __init__(self, upstream_port, pattern=r"/output", count=0, delay_s=0.0, forge=False,
                 add_hash=None):
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.add_hash = add_hash
        self.srv.forge = forge  # send the corrupted body's own tree hash with it
        self.srv.delay_s = delay_s  # sleep before forwarding each job-output GET
        self.srv.upstream_port = upstream_port
        self.srv.lock = threading.Lock()
        self.srv.log = []
        self.srv.conns = 0  # client connections open (their requests handled or not)
        self.srv.corrupted = 0
        self.set(pattern, count)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def set(self, pattern, count):
        with self.srv.lock:
            self.srv.pattern = re.compile(pattern)
            self.srv.left = count

    @property
    def log(self):
        with self.srv.lock:
            return list(self.srv.log)

    @property
    def corrupted(self):
        return self.srv.corrupted

    @property
    def conns(self):
        with self.srv.lock:
            return self.srv.conns

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
