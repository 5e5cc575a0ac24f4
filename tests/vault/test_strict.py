#!/usr/bin/env python3
"""Strict SigV4 and HTTP on floe-vault (docs/floe-vault.md, Behaviour): every x-amz-* header
sent must be signed; a repeated header is seen as SigV4 signs it (values joined with ','); a
header that must be single is 400 when repeated; a request refused on its headers gets its
answer instead of 100 Continue. Raw signed requests (botocore SigV4Auth), some on a raw socket.
Usage: test_strict.py <floe-vault binary>."""
import json
import os
import socket
import sys
import unittest

import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = None
MIB = vh.MIB


class Strict(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = vh.Vault(BIN)
        assert cls.v.request("PUT", "/-/vaults/sv")[0] == 201

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def err(self, resp, status, code, contains=None):
        st, hd, body = resp
        self.assertEqual(st, status, body)
        doc = json.loads(body)
        self.assertEqual(doc["code"], code, doc)
        if contains is not None:
            self.assertIn(contains, doc["message"])
        return doc

    def blobs(self):
        return sorted(os.listdir(os.path.join(self.v.data_dir, "blobs")))

    def archives(self):
        st, _, body = self.v.request("GET", "/-/vaults/sv")
        self.assertEqual(st, 200)
        return json.loads(body)["NumberOfArchives"]

    def upload(self, data, headers=None, **kw):
        return self.v.request("POST", "/-/vaults/sv/archives", data,
                              dict({"x-amz-sha256-tree-hash": vh.tree_hash(data)},
                                   **(headers or {})),
                              content_sha=vh.sha256(data), **kw)

    # ---- every x-amz-* header signed ----
    def test_unsigned_amz_header_refused(self):
        before, n = self.blobs(), self.archives()
        data = os.urandom(1000)
        self.err(self.upload(data, unsigned=[("x-amz-archive-description", "evil")]), 403,
                 "InvalidSignatureException", "x-amz-archive-description")
        self.assertEqual(self.blobs(), before)
        self.assertEqual(self.archives(), n)
        self.err(self.v.request("GET", "/-/vaults", unsigned=[("X-Amz-Whatever", "1")]), 403,
                 "InvalidSignatureException", "X-Amz-Whatever")
        # x-amzn-* is not x-amz-*: botocore never signs x-amzn-trace-id
        self.assertEqual(self.v.request("GET", "/-/vaults",
                                        unsigned=[("X-Amzn-Trace-Id", "Root=1-2-3")])[0], 200)

    # ---- repeated headers ----
    def test_repeated_description_refused(self):
        # signed as "a,b" (both values) but used to be stored as "a"
        n = self.archives()
        data = os.urandom(1000)
        self.err(self.upload(data, headers={"x-amz-archive-description": "a"},
                             repeated=[("x-amz-archive-description", "b")]), 400,
                 "InvalidParameterValueException", "x-amz-archive-description")
        self.assertEqual(self.archives(), n)

    def test_repeated_single_headers_refused(self):
        data = os.urandom(1000)
        for name, value in [("x-amz-sha256-tree-hash", vh.tree_hash(data)),
                            ("x-amz-content-sha256", vh.sha256(data)), ("Host", None),
                            ("X-Amz-Date", None)]:
            with self.subTest(name=name):
                if value is None:  # the value botocore signed, sent a second time
                    req = botocore.awsrequest.AWSRequest(method="GET", url=self.v.url)
                    botocore.auth.SigV4Auth(
                        botocore.credentials.Credentials(vh.ACCESS_KEY, vh.SECRET_KEY),
                        "glacier", vh.REGION).add_auth(req)
                    value = req.headers.get(name)
                    if name == "Host":  # botocore signs the URL's host; the helper sends none
                        value = "127.0.0.1:%d" % self.v.port
                        resp = self.upload(data, unsigned=[(name, value), (name, value)])
                    else:
                        resp = self.upload(data, unsigned=[(name, value)])
                else:
                    resp = self.upload(data, repeated=[(name, value)])
                self.err(resp, 400, "InvalidParameterValueException", name)

    def test_two_content_lengths_refused(self):
        n = self.archives()
        data = os.urandom(10)
        self.err(self.upload(data, unsigned=[("Content-Length", "10"), ("Content-Length", "5")]),
                 400, "InvalidParameterValueException", "Content-Length")
        self.assertEqual(self.archives(), n)

    def test_repeated_header_joined_as_signed(self):
        # x-amz-part-size twice: the signature covers "1048576,1048576", and so does the check
        self.err(self.v.request("POST", "/-/vaults/sv/multipart-uploads",
                                headers={"x-amz-part-size": str(MIB)},
                                repeated=[("x-amz-part-size", str(MIB))]),
                 400, "InvalidParameterValueException", "%d,%d" % (MIB, MIB))
        # a repeated header nobody reads verifies: its joined value is what was signed
        st, _, body = self.v.request("GET", "/-/vaults", headers={"x-amz-meta-x": " a  b "},
                                     repeated=[("x-amz-meta-x", "c")])
        self.assertEqual(st, 200, body)

    # ---- no 100 Continue for a request that will be refused ----
    def expect(self, method, path, body, headers, secret=vh.SECRET_KEY):
        """Sends the headers with Expect: 100-continue and no body; returns the first status
        line's code and the whole first answer."""
        req = botocore.awsrequest.AWSRequest(method=method, url=self.v.url + path,
                                             headers=dict(headers,
                                                          **{"x-amz-glacier-version":
                                                             "2012-06-01"}))
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(vh.ACCESS_KEY, secret),
                                "glacier", vh.REGION).add_auth(req)
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, self.v.port)
        for k, v in req.headers.items():
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % len(
            body)
        s = socket.create_connection(("127.0.0.1", self.v.port), timeout=10)
        try:
            s.sendall(head.encode())
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            code = int(got.split(b" ", 2)[1])
            if code == 100:
                s.sendall(body)
            s.settimeout(10)
            while True:  # the rest of the answer, until the server closes
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += chunk
            return code, got
        finally:
            s.close()

    def part_headers(self, rng, data):
        return {"Content-Range": rng, "x-amz-sha256-tree-hash": vh.tree_hash(data),
                "x-amz-content-sha256": vh.sha256(data)}

    def test_expect_continue_refused_part(self):
        st, hd, _ = self.v.request("POST", "/-/vaults/sv/multipart-uploads",
                                   headers={"x-amz-part-size": str(MIB)})
        self.assertEqual(st, 201)
        base = "/-/vaults/sv/multipart-uploads/" + hd["x-amz-multipart-upload-id"]
        big = os.urandom(2 * MIB)
        before = self.blobs()
        code, got = self.expect("PUT", base, big, self.part_headers("bytes 0-2097151/*", big))
        self.assertEqual(code, 400, got[:300])
        self.assertIn(b"larger than the part size", got)
        part = os.urandom(MIB)
        ph = self.part_headers("bytes 0-1048575/*", part)
        # bad signature, unknown upload, unknown vault: each answered before any body byte
        code, got = self.expect("PUT", base, part, ph, secret="nope")
        self.assertEqual(code, 403, got[:300])
        code, got = self.expect("PUT", base + "x", part, ph)
        self.assertEqual(code, 404, got[:300])
        code, got = self.expect("PUT", base.replace("/sv/", "/nosuch/"), part, ph)
        self.assertEqual(code, 404, got[:300])
        code, got = self.expect("POST", "/-/vaults/nosuch/archives", part,
                                {"x-amz-sha256-tree-hash": vh.tree_hash(part),
                                 "x-amz-content-sha256": vh.sha256(part)})
        self.assertEqual(code, 404, got[:300])
        self.assertEqual(self.blobs(), before)
        # a good part still gets 100 Continue, then 204
        code, got = self.expect("PUT", base, part, ph)
        self.assertEqual(code, 100, got[:300])
        self.assertIn(b"HTTP/1.1 204", got)

    def test_expect_continue_body_too_large(self):
        body = b"{" + b" " * (MIB + 10) + b"}"
        code, got = self.expect("PUT", "/-/vaults/sv/access-policy", body,
                                {"Content-Type": "application/json"})
        self.assertEqual(code, 400, got[:300])
        self.assertIn(b"Request body is larger than", got)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
