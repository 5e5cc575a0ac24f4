#!/usr/bin/env python3
"""floe vault purge against a floe-vault it starts: a dry run deletes nothing and prices the
plan; filters on descriptions keep what they exclude; archives someone else deleted count as
gone; kill -9 in the middle, then a re-run finishes from where it stopped; --delete-vault; and
the errors a user can hit (no --yes off a terminal, bad options).

usage: test_purge.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

FLOE = VAULT_BIN = None


class PurgeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-purge-test-")
        cls.vault = servers.start_vault(VAULT_BIN)
        cls.env = servers.client_env(cls.tmp.name)
        cls.glacier = boto3.client("glacier", endpoint_url=cls.vault.url, region_name="us-east-1",
                                   aws_access_key_id=servers.LOCAL_AK,
                                   aws_secret_access_key=servers.LOCAL_SK,
                                   config=Config(retries={"max_attempts": 1}))
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.tmp.cleanup()

    def fill(self, count, desc=lambda i: "a%d" % i):
        type(self).n += 1
        name = "pg%d" % self.n
        self.glacier.create_vault(vaultName=name)
        ids = {}
        for i in range(count):
            r = self.glacier.upload_archive(vaultName=name, body=b"x" * (i + 1),
                                            archiveDescription=desc(i))
            ids[r["archiveId"]] = desc(i)
        return name, ids

    def listed(self, vault):
        """The archives a fresh inventory lists."""
        job = self.glacier.initiate_job(vaultName=vault,
                                        jobParameters={"Type": "inventory-retrieval"})
        for _ in range(400):
            if self.glacier.describe_job(vaultName=vault, jobId=job["jobId"])["Completed"]:
                break
            time.sleep(0.05)
        body = self.glacier.get_job_output(vaultName=vault, jobId=job["jobId"])["body"].read()
        return {a["ArchiveId"] for a in json.loads(body)["ArchiveList"]}

    def purge(self, *args, expect=0, timeout=300):
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "vault", "purge",
                            *args], capture_output=True, timeout=timeout, env=self.env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, expect, r.stderr.decode(errors="replace"))
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        return lines[-1] if lines else None, lines

    def test_dry_run_then_purge(self):
        vault, ids = self.fill(30)
        s, _ = self.purge(vault, "--dry-run")
        self.assertEqual((s["archives"], s["deleted"], s["archives_kept"]), (30, 0, 0))
        self.assertEqual(s["archives_young"], 30)  # everything is younger than 90 days
        self.assertGreater(s["early_deletion_usd"], 0)
        self.assertEqual(self.listed(vault), set(ids))  # nothing deleted
        s, lines = self.purge(vault, "--yes", "--concurrency", "8")
        self.assertEqual((s["deleted"], s["already_gone"], s["protected"]), (30, 0, 0))
        self.assertTrue(any("plan" in x for x in lines))
        self.assertEqual(self.listed(vault), set())

    def test_filters_and_archives_already_gone(self):
        vault, ids = self.fill(20, lambda i: ("keep-%d" if i % 4 == 0 else "old-%d") % i)
        gone = [a for a, d in ids.items() if d.startswith("old-")][:3]
        s, _ = self.purge(vault, "--dry-run", "--exclude", "keep-*")
        self.assertEqual((s["archives"], s["archives_kept"]), (15, 5))
        for a in gone:  # someone else deletes a few after the inventory
            self.glacier.delete_archive(vaultName=vault, archiveId=a)
        s, _ = self.purge(vault, "--yes", "--exclude", "keep-*", "--inventory-job",
                          s["inventory_job_id"])
        # floe-vault answers 204 to deleting a deleted archive, as Glacier does
        # (docs/glacier-api.md); a service answering ResourceNotFound counts in already_gone
        self.assertEqual(s["deleted"] + s["already_gone"], 15)
        self.assertEqual(self.listed(vault), {a for a, d in ids.items() if d.startswith("keep-")})
        s, _ = self.purge(vault, "--yes", "--older-than", "1", "--dry-run")
        self.assertEqual(s["archives"], 0)  # nothing is a day old

    def test_kill_and_resume(self):
        vault, ids = self.fill(120)
        args = [FLOE, "--endpoint-url", self.vault.url, "vault", "purge", vault, "--yes",
                "--max-rate", "40", "--concurrency", "4"]
        p = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        time.sleep(2.0)
        p.send_signal(signal.SIGKILL)
        p.wait()
        left = self.listed(vault)
        self.assertTrue(0 < len(left) < len(ids), len(left))
        s, _ = self.purge(vault, "--yes")
        self.assertGreater(s["resumed_from"], 0)
        self.assertEqual(s["deleted"] + s["already_gone"] + s["resumed_from"], len(ids))
        self.assertEqual(self.listed(vault), set())

    def test_delete_vault(self):
        vault, _ = self.fill(5)
        s, _ = self.purge(vault, "--yes", "--delete-vault")
        self.assertTrue(s["vault_deleted"])
        names = [v["VaultName"] for v in self.glacier.list_vaults()["VaultList"]]
        self.assertNotIn(vault, names)

    def test_usage_errors(self):
        vault, _ = self.fill(1)
        for args, msg in [((vault,), b"--yes"),
                          ((), b"missing VAULT"),
                          ((vault, "--max-rate", "0", "--yes"), b"--max-rate"),
                          ((vault, "--concurrency", "0", "--yes"), b"--concurrency"),
                          ((vault, "--filter", "x y", "--yes"), b"filter rule")]:
            r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "vault", "purge", *args],
                               capture_output=True, env=self.env, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(msg, r.stderr, args)
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "vault", "purge", "nope",
                            "--yes"], capture_output=True, env=self.env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
