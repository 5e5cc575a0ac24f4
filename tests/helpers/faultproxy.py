#!/usr/bin/env python3
"""A small HTTP/1.1 fault-injecting reverse proxy for floe's tests.

It forwards every request to an upstream (floe-vault) unchanged, except that requests matching
a rule get a fault instead:
  status:CODE[:GLACIER_CODE[:RETRY_AFTER]]
                              answer CODE with a Glacier JSON error, body drained, keep-alive
                              (and a Retry-After: SECONDS header when given)
  s3status:CODE[:S3_CODE]     answer CODE with an S3 XML error (<Error><Code>S3_CODE</Code>...,
                              RequestId FAULTPROXY), body drained, keep-alive
  reset                       close the connection without answering (after reading the body)
  delay:SECONDS               sleep before forwarding (for timeouts)
  badhash                     forward, but answer with a wrong x-amz-sha256-tree-hash
  badsum                      forward, but answer with a wrong x-amz-checksum-sha256 (a
                              forged echo of the checksum S3 stored)
  slowbody:BYTES_PER_S        read the request body at that rate (logged when the body
                              starts: "FAULT slowbody"), then forward it
  slowresp:BYTES_PER_S        forward, then send the answer's body at that rate (a client
                              that gives up just closes the connection)
Rules: --rule 'METHOD PATH_REGEX FAULT COUNT' fires on the first COUNT matching requests
(COUNT 0 = always); COUNT written SKIP+N lets the first SKIP matching requests pass and fires
on the N after them (SKIP+0: on every one after them). The proxy writes its port to
--port-file and logs one line per request ("FAULT ..." or "PASS ...") to --log; with
--inflight each line ends with "inflight=N", the requests inside the proxy (this one
included) when it was logged: arrived, and not yet answered (a request leaves the count
before the first byte of its answer goes out, so the count never exceeds what the client has
in flight). Stopped by PID (SIGTERM).
"""
import argparse
import base64
import hashlib
import http.client
import json
import re
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

FORGED_SUM = base64.b64encode(hashlib.sha256(b"forged by faultproxy").digest()).decode()
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
       "trailer"}


class Rule:
    def __init__(self, text):
        method, pattern, fault, count = text.split()
        skip, _, count = count.rpartition("+")
        self.skip = int(skip) if skip else 0
        self.method, self.pattern, self.fault, self.left = method, re.compile(pattern), fault, int(count)
        self.always = self.left == 0
        self.lock = threading.Lock()

    def take(self, method, path):
        if self.method not in ("*", method) or not self.pattern.search(path):
            return False
        with self.lock:
            if self.skip > 0:
                self.skip -= 1
                return False
            if self.always:
                return True
            if self.left > 0:
                self.left -= 1
                return True
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _body(self, rate=0):
        n = int(self.headers.get("Content-Length") or 0)
        chunks = []
        step = min(1 << 20, max(1, rate // 10)) if rate else 1 << 20
        while n > 0:
            c = self.rfile.read(min(n, step))
            if not c:
                break
            chunks.append(c)
            n -= len(c)
            if rate:
                time.sleep(len(c) / rate)
        return b"".join(chunks)

    def _log(self, what):
        with self.server.log_lock:
            tail = f" inflight={self.server.inflight}" if self.server.track_inflight else ""
            self.server.log.write(f"{what} {self.command} {self.path}{tail}\n")
            self.server.log.flush()

    def _leave(self):
        if self.counted:
            self.counted = False
            with self.server.log_lock:
                self.server.inflight -= 1

    def send_response_only(self, code, message=None):
        self._leave()
        super().send_response_only(code, message)

    def _handle(self):
        with self.server.log_lock:
            self.server.inflight += 1
        self.counted = True
        try:
            self._forward()
        finally:
            self._leave()

    def _forward(self):
        rate = 0
        for rule in self.server.rules:
            if rule.fault.startswith("slowbody:") and rule.take(self.command, self.path):
                self._log("FAULT " + rule.fault)
                rate = int(rule.fault.split(":")[1])
                break
        body = self._body(rate)
        badhash, badsum, slow = False, False, 0
        for rule in self.server.rules:
            if rule.fault.startswith("slowbody:"):
                continue
            if rule.take(self.command, self.path):
                badhash = rule.fault == "badhash"
                badsum = rule.fault == "badsum"
                if rule.fault.startswith("slowresp:"):
                    slow = int(rule.fault.split(":")[1])
                self._log("FAULT " + rule.fault)
                kind = rule.fault.split(":")
                if kind[0] == "reset":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if kind[0] == "delay":
                    time.sleep(float(kind[1]))
                    break
                if kind[0] in ("badhash", "badsum", "slowresp"):
                    break
                if kind[0] == "s3status":
                    code = int(kind[1])
                    s3code = kind[2] if len(kind) > 2 else "InternalError"
                    payload = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s"
                               "</Code><Message>injected by faultproxy</Message><RequestId>"
                               "FAULTPROXY</RequestId></Error>" % s3code).encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                if kind[0] == "status":
                    code = int(kind[1])
                    gcode = kind[2] if len(kind) > 2 else "ServiceUnavailableException"
                    payload = json.dumps({"code": gcode, "message": "injected by faultproxy",
                                          "type": "Server" if code >= 500 else "Client"}).encode()
                    self.send_response(code)
                    if len(kind) > 3:
                        self.send_header("Retry-After", kind[3])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
        else:
            self._log("PASS")
        up = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port,
                                        timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        up.request(self.command, self.path, body=body if body or self.command in ("PUT", "POST") else None,
                   headers=headers)
        r = up.getresponse()
        data = r.read()
        self.send_response_only(r.status, r.reason)
        head = self.command == "HEAD"  # no body follows; Content-Length is the upstream's
        for k, v in r.getheaders():
            if k.lower() not in HOP and (head or k.lower() != "content-length"):
                if badhash and k.lower() == "x-amz-sha256-tree-hash":
                    v = "0" * 64
                if badsum and k.lower() == "x-amz-checksum-sha256":
                    continue  # sent forged below
                self.send_header(k, v)
        if badsum:
            self.send_header("x-amz-checksum-sha256", FORGED_SUM)
        if not head:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        up.close()
        if head:
            return
        if not slow:
            self.wfile.write(data)
            return
        step = max(1, slow // 10)
        try:
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                time.sleep(step / slow)
        except OSError:
            self.close_connection = True  # the client gave up

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # the default listen backlog of 5 drops SYNs when a client opens many connections at once
    # (each then waits ~1 s for its retransmission)
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="host:port of the real server")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rule", action="append", default=[])
    ap.add_argument("--port", type=int, default=0, help="port to bind (0 = a free one)")
    ap.add_argument("--inflight", action="store_true", help="log the requests in flight")
    a = ap.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.upstream_host, port = a.upstream.rsplit(":", 1)
    srv.upstream_port = int(port)
    srv.rules = [Rule(r) for r in a.rule]
    srv.log = open(a.log, "a")
    srv.log_lock = threading.Lock()
    srv.inflight, srv.track_inflight = 0, a.inflight
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
