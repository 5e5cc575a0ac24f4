#!/usr/bin/env python3
"""floe vault purge against a floe-vault it starts: a dry run deletes nothing and prices the
plan; archives of several ages (--older-than, early-deletion charges); filters on descriptions
keep what they exclude; archives someone else deleted count as gone; kill -9 in the middle, then
a re-run finishes from where it stopped; throttling, 5xx and resets through the fault proxy; a
locked vault's protected archives; --only-migrated with floe migrate's manifest and catalog
(and ones that do not match); --delete-vault with and without floe-vault's
--delete-vault-after-inventory emulation (--wait, a kill while waiting, --max-wait); and the
errors a user can hit (no --yes off a terminal, bad options).

usage: test_purge.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import glob
import json
import os
import re
import signal
import sqlite3
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


def read(path):
    with open(path, "rb") as f:
        return f.read()


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

    def test_a_second_purge_takes_a_new_inventory(self):
        # a finished purge's inventory is not reused: archives uploaded after it are deleted by
        # the next purge (which says which inventory it went by)
        vault, ids = self.fill(5)
        s, lines = self.purge(vault, "--yes")
        self.assertEqual(s["deleted"], 5)
        first = s["inventory_job_id"]
        self.assertRegex(lines[0]["inventory_date"], r"^\d{4}-\d\d-\d\dT")
        time.sleep(1.1)  # the new inventory job is created in a later second than the finish
        late = {self.glacier.upload_archive(vaultName=vault, body=b"late%d" % i)["archiveId"]
                for i in range(3)}
        self.assertEqual(self.listed(vault), late)
        s, _ = self.purge(vault, "--yes")
        self.assertNotEqual(s["inventory_job_id"], first)
        self.assertEqual((s["archives"], s["deleted"]), (3, 3))
        self.assertEqual(self.listed(vault), set())

    def test_progress_lines_in_a_log(self):
        # stderr not a terminal, no --json: the common progress line, after 1 s and then
        # every 10 s, counting archives with a rate and an ETA
        vault, _ = self.fill(25)
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "vault", "purge", vault,
                            "--yes", "--max-rate", "10"], capture_output=True, timeout=120,
                           env=self.env, stdin=subprocess.DEVNULL)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 0, err)
        self.assertIn("vault %s: inventory of " % vault, err)
        self.assertRegex(err, r"floe: vault purge %s: \d+ / 25 archives \(\d+%%\), \d+/s, "
                              r"ETA \d+s" % vault)
        self.assertIn("deleted 25 archives", r.stdout.decode() + err)

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

    def test_ages(self):
        """Archives of several ages (creation dates moved back in floe-vault's database, which
        its inventories read): --older-than selects by age; the plan counts those younger than
        90 days and prices their early deletion."""
        vault, _ = self.fill(0)
        order = sorted(self.glacier.upload_archive(vaultName=vault, body=os.urandom(4 << 20))[
            "archiveId"] for _ in range(6))  # big enough that the charges show in 6 decimals
        day = 86400 * 1000
        db = sqlite3.connect(os.path.join(self.vault.data_dir, "floe-vault.db"), timeout=30)
        with db:
            for aid, days in zip(order, (200, 200, 30, 30, 0, 0)):
                db.execute("UPDATE archives SET created_ms = created_ms - ? WHERE id = ?",
                           (days * day, aid))
        db.close()
        job = self.glacier.initiate_job(vaultName=vault,
                                        jobParameters={"Type": "inventory-retrieval"})["jobId"]
        s, _ = self.purge(vault, "--dry-run", "--older-than", "100", "--inventory-job", job)
        self.assertEqual((s["archives"], s["archives_young"], s["archives_kept"]), (2, 0, 4))
        self.assertEqual(s["early_deletion_usd"], 0)
        s, _ = self.purge(vault, "--dry-run", "--older-than", "10", "--inventory-job", job)
        self.assertEqual((s["archives"], s["archives_young"]), (4, 2))
        self.assertGreater(s["early_deletion_usd"], 0)
        young30 = s["early_deletion_usd"]
        s, _ = self.purge(vault, "--dry-run", "--inventory-job", job)
        self.assertEqual((s["archives"], s["archives_young"]), (6, 4))
        self.assertGreater(s["early_deletion_usd"], young30)  # newer ones cost more to delete
        s, _ = self.purge(vault, "--yes", "--older-than", "100", "--inventory-job", job)
        self.assertEqual(s["deleted"], 2)
        self.assertEqual(self.listed(vault), set(order[2:]))

    def states(self):
        return set(glob.glob(os.path.join(self.env["XDG_CACHE_HOME"], "**", "purge-*.ckpt"),
                             recursive=True))

    def watermark(self, old=()):
        """The highest watermark in the purge states under the cache dir but those in old (0:
        none yet)."""
        best = 0
        for path in self.states() - set(old):
            try:
                with open(path) as f:
                    m = re.search(r"^watermark (\d+)$", f.read(), re.M)
            except FileNotFoundError:
                continue
            if m:
                best = max(best, int(m.group(1)))
        return best

    def test_kill_and_resume(self):
        vault, ids = self.fill(120)
        args = [FLOE, "--endpoint-url", self.vault.url, "vault", "purge", vault, "--yes",
                "--max-rate", "40", "--concurrency", "4"]
        old = self.states()
        p = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        # killed once its state records deletions (a watermark above 0, saved at most once a
        # second: about 40 of the 120 by then), not after a fixed 2 s that a slow start
        # (ASan, a loaded machine) could spend before the first deletion
        deadline = time.time() + 120
        while self.watermark(old) == 0 and p.poll() is None and time.time() < deadline:
            time.sleep(0.02)
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

    def test_throttling_5xx_and_resets_are_retried(self):
        vault, ids = self.fill(24)
        proxy = servers.start_faultproxy(self.vault.port, [
            "DELETE /archives/ status:400:ThrottlingException 4",
            "DELETE /archives/ status:503:ServiceUnavailableException 4",
            "DELETE /archives/ status:500:InternalFailure 2",
            "DELETE /archives/ reset 2"])
        try:
            r = subprocess.run([FLOE, "--endpoint-url", proxy.url, "--json", "vault", "purge",
                                vault, "--yes", "--concurrency", "6"], capture_output=True,
                               timeout=300, env=self.env, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 0, r.stderr)
            s = json.loads(r.stdout.decode().splitlines()[-1])
            self.assertEqual(s["deleted"] + s["already_gone"], 24)
            self.assertEqual(proxy.log().count("FAULT"), 12)  # every fault fired, then retried
        finally:
            proxy.stop()
        self.assertEqual(self.listed(vault), set())

    def test_locked_vault_protected_archives_are_reported_not_retried(self):
        vault, ids = self.fill(6)
        lock = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "keep-a-year", "Effect": "Deny", "Principal": "*",
             "Action": "glacier:DeleteArchive",
             "Resource": "arn:aws:glacier:us-east-1:%s:vaults/%s" % (servers.LOCAL_ACCOUNT, vault),
             "Condition": {"NumericLessThan": {"glacier:ArchiveAgeInDays": "365"}}}]})
        lid = self.glacier.initiate_vault_lock(vaultName=vault, policy={"Policy": lock})["lockId"]
        self.glacier.complete_vault_lock(vaultName=vault, lockId=lid)
        proxy = servers.start_faultproxy(self.vault.port, [])  # counts the requests
        try:
            r = subprocess.run([FLOE, "--endpoint-url", proxy.url, "--json", "vault", "purge",
                                vault, "--yes", "--delete-vault"], capture_output=True,
                               timeout=300, env=self.env, stdin=subprocess.DEVNULL)
            deletes = [x for x in proxy.log().splitlines() if "DELETE" in x and "/archives/" in x]
        finally:
            proxy.stop()
        self.assertEqual(r.returncode, 1, r.stderr)  # --delete-vault could not be done
        self.assertIn(b"6 archives are protected", r.stderr)
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        warned = {x["path"]: x["warning"] for x in lines if "warning" in x}
        self.assertEqual(set(warned), set(ids))  # each protected archive, by id
        for w in warned.values():
            self.assertIn("keep-a-year", w)  # with the rule that protects it
        self.assertEqual(len(deletes), 6)  # one request each: AccessDenied is not retried
        self.assertEqual(self.listed(vault), set(ids))
        # without --delete-vault the run is done, with exit 3 for "some were protected"
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "vault", "purge",
                            vault, "--yes"], capture_output=True, timeout=300, env=self.env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(json.loads(r.stdout.decode().splitlines()[-1])["protected"], 6)

    def test_only_migrated(self):
        vault, ids = self.fill(8, lambda i: "m/f%d" % i)
        dest = os.path.join(self.tmp.name, "mig-" + vault)
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "migrate", vault, "--to",
                            dest, "--include", "m/f[0-4]", "--exclude", "*"], capture_output=True, timeout=300,
                           env=self.env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        meta = os.path.join(dest, ".floe-migrate")
        csv_path, json_path, catalog = (os.path.join(meta, vault + ext)
                                        for ext in (".manifest.csv", ".manifest.json", ".db"))
        migrated = {a for a, d in ids.items() if d[-1] in "01234"}
        # an archive written after the migration: in neither the manifest nor the inventory
        # the purge reuses (the migration's), so it stays
        late = self.glacier.upload_archive(vaultName=vault, body=b"late")["archiveId"]
        for manifest in (csv_path, json_path, catalog):
            s, _ = self.purge(vault, "--dry-run", "--only-migrated", manifest)
            self.assertEqual((s["archives"], s["archives_unmigrated"]), (5, 3), manifest)
        # a manifest whose tree hash for one archive differs from the vault's: refused
        bad = os.path.join(self.tmp.name, "bad-%s.csv" % vault)
        lines = open(csv_path).read().splitlines()
        row = lines[1].rsplit(",", 2)
        row[1] = "0" * 64
        open(bad, "w").write("\n".join([lines[0], ",".join(row)] + lines[2:]) + "\n")
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "vault", "purge", vault,
                            "--yes", "--only-migrated", bad], capture_output=True, timeout=300,
                           env=self.env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"does not match vault", r.stderr)
        self.assertIn(b"nothing was deleted", r.stderr)
        # the manifest of another vault: refused
        other, _ = self.fill(2)
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "vault", "purge", other,
                            "--yes", "--only-migrated", csv_path], capture_output=True,
                           timeout=300, env=self.env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"another vault", r.stderr)
        # not a manifest at all, an empty one
        junk = os.path.join(self.tmp.name, "junk.csv")
        open(junk, "w").write("hello,world\n")
        empty = os.path.join(self.tmp.name, "empty.csv")
        open(empty, "w").write(lines[0] + "\n")
        for path, msg in ((junk, b"not a floe migrate manifest"), (empty, b"no migrated"),
                          (os.path.join(self.tmp.name, "none.csv"), b"cannot read")):
            r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "vault", "purge", vault,
                                "--yes", "--only-migrated", path], capture_output=True,
                               timeout=300, env=self.env, stdin=subprocess.DEVNULL)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(msg, r.stderr)
        self.assertEqual(self.listed(vault), set(ids) | {late})  # nothing deleted so far
        s, _ = self.purge(vault, "--yes", "--only-migrated", csv_path, "--delete-vault",
                          expect=1)
        self.assertEqual(self.listed(vault), (set(ids) - migrated) | {late})
        # again (the run above used the newest inventory, which lists the late one too): the
        # recorded watermark says everything selected is done
        s, _ = self.purge(vault, "--yes", "--only-migrated", csv_path)
        self.assertEqual((s["deleted"], s["archives_unmigrated"]), (0, 4))
        self.assertEqual(self.listed(vault), (set(ids) - migrated) | {late})

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


class VaultDeleteTests(unittest.TestCase):
    """--delete-vault against a floe-vault that refuses DeleteVault as the service does, until
    an inventory taken after the vault's last write shows it empty
    (--delete-vault-after-inventory): refused first, then --wait waits for an inventory and
    deletes it; a kill during the wait resumes on the same job; a stale inventory runs into
    --max-wait."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-purge-test-")
        cls.env = servers.client_env(cls.tmp.name)
        cls.servers = {}

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers.values():
            s.stop()
        cls.tmp.cleanup()

    def server(self, *extra):
        if extra not in self.servers:
            self.servers[extra] = servers.start_vault(
                VAULT_BIN, extra=("--delete-vault-after-inventory", *extra))
        s = self.servers[extra]
        g = boto3.client("glacier", endpoint_url=s.url, region_name="us-east-1",
                         aws_access_key_id=servers.LOCAL_AK,
                         aws_secret_access_key=servers.LOCAL_SK,
                         config=Config(retries={"max_attempts": 1}))
        return s, g

    def fill(self, g, name, count=4):
        g.create_vault(vaultName=name)
        for i in range(count):
            g.upload_archive(vaultName=name, body=b"y" * (i + 1), archiveDescription="d%d" % i)

    def run_purge(self, s, *args):
        return subprocess.run([FLOE, "--endpoint-url", s.url, "--json", "vault", "purge", *args],
                              capture_output=True, timeout=300, env=self.env,
                              stdin=subprocess.DEVNULL)

    @staticmethod
    def vaults(g):
        return {v["VaultName"] for v in g.list_vaults()["VaultList"]}

    def test_refused_then_wait_deletes(self):
        s, g = self.server()
        self.fill(g, "dv1")
        r = self.run_purge(s, "dv1", "--yes", "--delete-vault")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"--wait", r.stderr)  # says what to do
        self.assertIn(b"not empty or recently written", r.stderr)
        self.assertIn("dv1", self.vaults(g))  # the server refused: written since its inventory
        with self.assertRaises(g.exceptions.InvalidParameterValueException):
            g.delete_vault(vaultName="dv1")
        r = self.run_purge(s, "dv1", "--yes", "--delete-vault", "--wait")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout.decode().splitlines()[-1])
        self.assertTrue(out["vault_deleted"])
        self.assertEqual(out["vault_inventories"], 1)
        self.assertEqual(out["deleted"], 0)  # the first run deleted the archives
        self.assertIn(b"waiting for inventory job", r.stderr)
        self.assertNotIn("dv1", self.vaults(g))

    def test_kill_while_waiting_resumes_on_the_same_job(self):
        s, g = self.server("--job-delay", "Expedited=1,Standard=3,Bulk=3")
        self.fill(g, "dv2")
        args = [FLOE, "--endpoint-url", s.url, "vault", "purge", "dv2", "--yes",
                "--delete-vault", "--wait", "--poll-interval", "0.2"]
        errf = os.path.join(self.tmp.name, "dv2.err")
        with open(errf, "wb") as err:
            p = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL, stderr=err,
                                 stdin=subprocess.DEVNULL)
            deadline = time.time() + 60
            while b"waiting for inventory job" not in read(errf):
                self.assertIsNone(p.poll(), read(errf))
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            p.send_signal(signal.SIGKILL)
            p.wait()
        jobs = [j["JobId"] for j in g.list_jobs(vaultName="dv2")["JobList"]]
        self.assertIn("dv2", self.vaults(g))
        r = self.run_purge(s, "dv2", "--yes", "--delete-vault", "--wait", "--poll-interval",
                           "0.2")
        self.assertEqual(r.returncode, 0, r.stderr)
        # the re-run waited for the job the killed run started, and started none of its own
        self.assertNotIn(b"waiting for inventory job", r.stderr)
        self.assertEqual(len(jobs), 2)  # the purge's inventory and the one waited for
        self.assertTrue(json.loads(r.stdout.decode().splitlines()[-1])["vault_deleted"])
        self.assertNotIn("dv2", self.vaults(g))

    def test_stale_inventories_run_into_max_wait(self):
        s, g = self.server("--inventory-staleness", "3600")
        self.fill(g, "dv3", 2)
        t = time.time()
        r = self.run_purge(s, "dv3", "--yes", "--delete-vault", "--wait", "--max-wait", "3s",
                           "--poll-interval", "0.2")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"still refused after waiting 3 s", r.stderr)
        self.assertLess(time.time() - t, 60)
        self.assertIn("dv3", self.vaults(g))

    def test_usage(self):
        s, g = self.server()
        for args, msg in [(("x", "--yes", "--wait"), b"go with --delete-vault"),
                          (("x", "--yes", "--delete-vault", "--max-wait", "soon"),
                           b"--max-wait")]:
            r = self.run_purge(s, *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(msg, r.stderr)


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
