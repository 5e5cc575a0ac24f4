#!/usr/bin/env python3
"""floe-vault finds bit rot itself (src/vault/scrub.h): a byte flipped in a stored blob is
  - refused by GetJobOutput as it streams (the response ends with an error before the bad MiB's
    bytes are sent; never the full body with wrong bytes), then refused up front with 500;
  - found by the background scrubber (--scrub-rate/--scrub-interval), logged, and counted by
    DescribeVault (DamagedArchives), while intact archives still serve;
  - reported by `floe-vault scrub --data-dir DIR` (exit 3, the archive named; exit 0 clean);
and damage of a deleted archive is forgotten. Usage: test_scrub.py <floe-vault binary>."""
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = None
MIB = vh.MIB


def blob_of(data_dir, archive_id, idx=0):
    db = sqlite3.connect(os.path.join(data_dir, "floe-vault.db"))
    try:
        row = db.execute("SELECT s.blob FROM segments s JOIN archives a ON s.owner = a.seg_owner"
                         " WHERE a.id = ? AND s.idx = ?", (archive_id, idx)).fetchone()
    finally:
        db.close()
    return os.path.join(data_dir, "blobs", row[0])


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x40]))


class Scrub(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="floe-scrub-test-")
        self.vaults = []

    def tearDown(self):
        for v in self.vaults:
            v.close()
        self.tmp.cleanup()

    def start(self, *extra):
        v = vh.Vault(BIN, data_dir=os.path.join(self.tmp.name, "d%d" % len(self.vaults)),
                     extra=("--job-delay", "instant", *extra))
        self.vaults.append(v)
        self.assertEqual(v.request("PUT", "/-/vaults/sc")[0], 201)
        return v

    def describe(self, v):
        st, _, body = v.request("GET", "/-/vaults/sc")
        self.assertEqual(st, 200)
        return json.loads(body)

    def job_for(self, v, archive_id):
        st, hd, body = v.request("POST", "/-/vaults/sc/jobs",
                                 json.dumps({"Type": "archive-retrieval",
                                             "ArchiveId": archive_id}).encode())
        self.assertEqual(st, 202, body)
        return hd["x-amz-job-id"]

    def raw_output(self, v, job):
        """GetJobOutput over a raw connection: (status, bytes received, declared length)."""
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        url = v.url + "/-/vaults/sc/jobs/%s/output" % job
        req = botocore.awsrequest.AWSRequest(method="GET", url=url, data=b"",
                                             headers={"x-amz-glacier-version": "2012-06-01"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(vh.ACCESS_KEY, vh.SECRET_KEY),
                                "glacier", vh.REGION).add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=60)
        conn.request("GET", "/-/vaults/sc/jobs/%s/output" % job, headers=dict(req.headers))
        r = conn.getresponse()
        got = b""
        try:
            while True:
                chunk = r.read(65536)
                if not chunk:
                    break
                got += chunk
        except (http.client.IncompleteRead, ConnectionError) as e:
            if isinstance(e, http.client.IncompleteRead):
                got += e.partial
        length = int(r.getheader("Content-Length") or -1)
        conn.close()
        return r.status, got, length

    def test_get_job_output_refuses_damaged_bytes(self):
        v = self.start("--scrub-rate", "0")
        data = os.urandom(3 * MIB + 12345)
        good = os.urandom(2 * MIB)
        aid, gid = v.upload("sc", data), v.upload("sc", good)
        flip(blob_of(v.data_dir, aid), 2 * MIB + 7)  # in the third MiB
        job = self.job_for(v, aid)
        st, got, length = self.raw_output(v, job)
        self.assertEqual((st, length), (200, len(data)))
        self.assertLess(len(got), len(data))  # cut short: never the whole (wrong) body
        self.assertLessEqual(len(got), 2 * MIB)  # nothing of the damaged MiB was sent
        self.assertEqual(got, data[:len(got)])  # and what was sent is right
        self.assertIn("damaged data: vault sc archive " + aid, v.log())
        # now known: refused before any byte, with the reason
        st, _, body = v.request("GET", "/-/vaults/sc/jobs/%s/output" % job)
        self.assertEqual(st, 500, body)
        self.assertIn("damaged", json.loads(body)["message"])
        self.assertEqual(self.describe(v).get("DamagedArchives"), 1)
        # the intact archive serves as before
        st, got, _ = self.raw_output(v, self.job_for(v, gid))
        self.assertEqual((st, got), (200, good))

    def test_background_scrubber_finds_it(self):
        v = self.start("--scrub-rate", "64M", "--scrub-interval", "1")
        data = os.urandom(MIB + 5)
        aid = v.upload("sc", data)
        for _ in range(3):
            v.upload("sc", os.urandom(1000))
        self.assertNotIn("DamagedArchives", self.describe(v))
        flip(blob_of(v.data_dir, aid), MIB + 2)  # the last, partial MiB
        self.assertTrue(vh.wait_for(lambda: self.describe(v).get("DamagedArchives") == 1, 30),
                        v.log())
        self.assertIn("damaged data: vault sc archive " + aid, v.log())
        self.assertIn("MiB 1 (bytes 1048576-1048580) does not match its SHA-256", v.log())
        # deleting the damaged archive: its damage goes with it at the end of a pass
        st, _, _ = v.request("DELETE", "/-/vaults/sc/archives/" + aid)
        self.assertEqual(st, 204)
        self.assertTrue(vh.wait_for(lambda: "DamagedArchives" not in self.describe(v), 30))

    def test_one_shot_command(self):
        v = self.start("--scrub-rate", "0")
        ids = [v.upload("sc", os.urandom(n)) for n in (10, MIB, 2 * MIB + 1)]
        r = subprocess.run([BIN, "scrub", "--data-dir", v.data_dir, "--json"],
                           capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        s = json.loads(r.stdout.decode().splitlines()[-1])
        self.assertEqual((s["segments"], s["bytes"], s["damaged"]), (3, 10 + 3 * MIB + 1, 0))
        flip(blob_of(v.data_dir, ids[2]), 5)
        os.truncate(blob_of(v.data_dir, ids[1]), MIB - 1)
        r = subprocess.run([BIN, "scrub", "--data-dir", v.data_dir], capture_output=True,
                           timeout=120)  # beside the running server
        self.assertEqual(r.returncode, 3, r.stderr)
        out = r.stdout.decode()
        self.assertIn("archive " + ids[2], out)
        self.assertIn("archive " + ids[1], out)
        self.assertIn("the data file ends at byte 1048575 of 1048576", out)
        self.assertIn("2 damaged", out)
        self.assertEqual(self.describe(v)["DamagedArchives"], 2)  # the server sees the record
        st, _, body = v.request("GET", "/-/vaults/sc/jobs/%s/output" % self.job_for(v, ids[0]))
        self.assertEqual(st, 200)
        for args, code, msg in [(["--data-dir", os.path.join(self.tmp.name, "none")], 1,
                                 b"no floe-vault data"),
                                (["--bogus"], 2, b"usage")]:
            r = subprocess.run([BIN, "scrub", *args], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, code, r.stderr)
            self.assertIn(msg, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "none")))

    def test_bad_scrub_options(self):
        for args in (["--scrub-rate", "fast"], ["--scrub-rate", "4X"],
                     ["--scrub-interval", "-1"]):
            r = subprocess.run([BIN, "--data-dir", os.path.join(self.tmp.name, "x"), *args],
                               capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(args[0].encode(), r.stderr)


if __name__ == "__main__":
    BIN = sys.argv[1]
    del sys.argv[1:]
    unittest.main(verbosity=2)
