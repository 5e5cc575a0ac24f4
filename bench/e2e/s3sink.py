#!/usr/bin/env python3
"""bench/e2e/s3sink.py - an S3 endpoint for benchmarks that keeps nothing: every bucket exists,
every object is absent (HeadObject 404), and PutObject / UploadPart read the body, check it
against its x-amz-checksum-sha256 (400 BadDigest when it differs, as S3 does) and answer with
that checksum and an ETag; CreateMultipartUpload, CompleteMultipartUpload (answered only once
each listed part was received with the ETag given) and ListMultipartUploads (none) answer
what floe's S3 client needs. Path-style requests only; signatures are not checked. For
measuring the Glacier side of `floe migrate VAULT --to s3://...`, where moto's S3 server,
which stores and hashes every byte in Python, is the bottleneck (bench/e2e/far-migrate-s3-bench.sh).
usage: s3sink.py PORT_FILE   (binds 127.0.0.1 on a free port, writes it to PORT_FILE)
"""
import base64
import hashlib
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
PARTS = {}  # upload id -> {part number: etag}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256()
        while n > 0:
            c = self.rfile.read(min(n, 1 << 20))
            if not c:
                break
            h.update(c)
            n -= len(c)
        return h

    def target(self):
        u = urlsplit(self.path)
        parts = u.path.lstrip("/").split("/", 1)
        return parts[0], parts[1] if len(parts) > 1 else "", parse_qs(u.query, keep_blank_values=True)

    def do_HEAD(self):
        bucket, key, _ = self.target()
        self.answer(404 if key else 200)

    def do_GET(self):
        bucket, key, q = self.target()
        if "uploads" in q:
            self.answer(200, b"<ListMultipartUploadsResult><Bucket>%s</Bucket><IsTruncated>false"
                        b"</IsTruncated></ListMultipartUploadsResult>" % bucket.encode())
        else:
            self.answer(404, b"<Error><Code>NoSuchKey</Code><Message>a sink</Message></Error>")

    def do_PUT(self):
        bucket, key, q = self.target()
        h = self.body()
        want = self.headers.get("x-amz-checksum-sha256")
        got = base64.b64encode(h.digest()).decode()
        if want and want != got:
            self.answer(400, b"<Error><Code>BadDigest</Code><Message>checksum</Message></Error>")
            return
        etag = '"%s"' % h.hexdigest()[:32]
        if "uploadId" in q:
            with LOCK:
                PARTS.setdefault(q["uploadId"][0], {})[int(q["partNumber"][0])] = etag
        self.answer(200, headers=[("ETag", etag), ("x-amz-checksum-sha256", got)])

    def do_POST(self):
        bucket, key, q = self.target()
        n = int(self.headers.get("Content-Length") or 0)
        doc = self.rfile.read(n).decode(errors="replace") if n else ""
        if "uploads" in q:
            uid = uuid.uuid4().hex
            with LOCK:
                PARTS[uid] = {}
            self.answer(200, ("<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>"
                              "<UploadId>%s</UploadId></InitiateMultipartUploadResult>"
                              % (bucket, key, uid)).encode())
            return
        uid = q.get("uploadId", [""])[0]
        listed = re.findall(r"<PartNumber>(\d+)</PartNumber>\s*<ETag>([^<]*)</ETag>", doc)
        with LOCK:
            have = PARTS.pop(uid, None)
        if have is None or not listed or any(
                have.get(int(p)) != e.replace("&quot;", '"') for p, e in listed):
            self.answer(400, b"<Error><Code>InvalidPart</Code><Message>part</Message></Error>")
            return
        self.answer(200, b"<CompleteMultipartUploadResult><ETag>\"done-%d\"</ETag>"
                    b"</CompleteMultipartUploadResult>" % len(listed))

    def do_DELETE(self):
        self.answer(204)


class Server(ThreadingHTTPServer):
    # Python's listen backlog is 5: a client opening many connections at once (floe's batches)
    # then has SYNs dropped and waits ~1 s for each retransmission
    request_queue_size = 128


if __name__ == "__main__":
    srv = Server(("127.0.0.1", 0), Sink)
    srv.daemon_threads = True
    with open(sys.argv[1], "w") as f:
        f.write(str(srv.server_address[1]))
    srv.serve_forever()
