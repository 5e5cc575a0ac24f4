#!/usr/bin/env python3
"""Interop subset against moto's server (docs/glacier-api.md 7): archives uploaded with
boto3 are retrieved by `floe retrieve` and compared byte for byte; moto describes archive jobs
with size 0 and no hashes and ignores Range, so floe must discover the size from the answer
and report the output as unverified; `floe inventory` reads moto's (always JSON) inventory.
Skipped (77) when moto is not installed. The server binds a free 127.0.0.1 port itself and is
stopped by PID.

usage: test_retrieve_moto.py FLOE
"""
import os
import subprocess
import sys
import tempfile
import unittest

import retrieve_helper as rh
import servers  # noqa: E402  (tests/helpers, on the path retrieve_helper set)

FLOE = None


class Moto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import boto3
        from botocore.config import Config
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-moto-")
        # moto's server on a port it binds itself (a port picked here and bound after its
        # imports could be taken in between), up to 60 s to start on a loaded machine
        cls.moto = servers.start_moto()
        cls.url = cls.moto.url
        cls.glacier = boto3.client("glacier", endpoint_url=cls.url, region_name="us-east-1",
                                   aws_access_key_id="x", aws_secret_access_key="y",
                                   config=Config(retries={"max_attempts": 1}))
        cls.glacier.create_vault(vaultName="m")
        cls.floe = rh.Floe(FLOE, cls.url, cls.tmp.name, access="x", secret="y")

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        cls.tmp.cleanup()

    def test_retrieve_boto3_uploads(self):
        for n in (1000, 3 * rh.MIB + 5):
            with self.subTest(size=n):
                data = os.urandom(n)
                aid = self.glacier.upload_archive(vaultName="m", body=data)["archiveId"]
                out = os.path.join(self.tmp.name, "out-%d.bin" % n)
                r = self.floe.json("retrieve", "m", "-o", out, "--tier", "Expedited",
                                   "--poll-interval", "0.2", "--", aid)[0]
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), data)
                self.assertEqual(r["verified"], "none")  # moto sends no hashes
                self.assertEqual(r["size"], n)

    def test_retrieve_aws_cli_upload(self):
        data = os.urandom(2 * rh.MIB + 77)
        src = os.path.join(self.tmp.name, "cli-src.bin")
        with open(src, "wb") as f:
            f.write(data)
        env = dict(self.floe.env) if hasattr(self.floe, "env") else dict(os.environ)
        env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y",
                   AWS_DEFAULT_REGION="us-east-1")
        p = subprocess.run(["aws", "--endpoint-url", self.url, "glacier", "upload-archive",
                            "--account-id", "-", "--vault-name", "m", "--body", src],
                           capture_output=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        aid = __import__("json").loads(p.stdout)["archiveId"]
        out = os.path.join(self.tmp.name, "cli-out.bin")
        self.floe.json("retrieve", "m", "-o", out, "--tier", "Expedited", "--poll-interval",
                       "0.2", "--", aid)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_inventory_and_jobs(self):
        self.glacier.upload_archive(vaultName="m", body=b"inv", archiveDescription="d1")
        rows = self.floe.json("inventory", "m", "--format", "CSV", "--poll-interval", "0.5",
                              "--timeout", "60")
        self.assertIn("d1", [r["ArchiveDescription"] for r in rows])
        jobs = self.floe.json("job", "list", "m")
        self.assertTrue(any(j["Action"] == "InventoryRetrieval" for j in jobs))


if __name__ == "__main__":
    FLOE = sys.argv[1]
    del sys.argv[1:2]
    try:
        import moto  # noqa: F401
        import boto3  # noqa: F401
    except ImportError:
        print("moto or boto3 not installed: skipped")
        sys.exit(77)
    unittest.main(verbosity=2)
