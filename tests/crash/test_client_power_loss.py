#!/usr/bin/env python3
"""Power loss under floe backup (issue 15): the client runs with the crashfs shim
(tests/crash/crashfs.c) over its own files (the backup catalog, a SQLite file, and the
checkpoint journals of its multipart uploads); at a random change the shim drops or tears what
was not synced and kills floe. After every crash the catalog opens, passes PRAGMA
integrity_check, and names no archive the vault does not hold (same size and tree hash); the
run is then resumed without the shim and must finish with everything recorded once, and at the
end every file restores byte for byte. The vault is a plain floe-vault (its own power loss is
test_vault_power_loss.py). The consistency checks are those of the kill -9 test
(tests/integration/test_backup_kill.py).
test_retrieve_power_loss does the same for floe retrieve (download journal and partial output),
test_restore_power_loss for floe restore (its catalog tables, job output and renamed files),
test_migrate_power_loss for floe migrate to a directory (its SQLite catalog, .floe-part files
and manifests; the checks of tests/integration/test_migrate.py, and no retrieval job paid
twice).
Environment: FLOE_CRASH_CLIENT_ROUNDS (crashes per test, default 4), FLOE_TEST_SEED (printed).
Usage: test_client_power_loss.py <floe> <floe-vault> <crashfs.so>."""
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "helpers"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import servers  # noqa: E402
import test_backup_kill as bk  # noqa: E402
import test_migrate as mg  # noqa: E402

FLOE = VAULT_BIN = SHIM = None

class ClientPowerLoss(unittest.TestCase):
    # the kill -9 test's checks: make_tree, inventory, check_consistent (self.glacier, self.rnd)
    inventory = bk.BackupKillTests.inventory
    # the migrate test's checks: manifest, check_copied (files, manifests, no .floe-part left)
    manifest = mg.MigrateTests.manifest

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="floe-crash-client-")
        self.vault = servers.start_vault(VAULT_BIN)
        self.glacier = servers.glacier_client(self.vault.url)
        self.root = os.path.join(self.tmp.name, "client")
        self.stash = os.path.join(self.tmp.name, "stash")
        self.report = os.path.join(self.tmp.name, "report.json")
        os.makedirs(self.root)
        os.makedirs(self.stash)
        self.env = servers.client_env(self.tmp.name)
        self.env.update(XDG_CACHE_HOME=os.path.join(self.root, "cache"),
                        XDG_DATA_HOME=os.path.join(self.root, "data"))
        seed = int(os.environ.get("FLOE_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
        print("FLOE_TEST_SEED=%d" % seed, file=sys.stderr)
        self.seed = seed
        self.rnd = random.Random(seed)

    def tearDown(self):
        self.vault.stop()
        self.tmp.cleanup()

    def run_floe(self, args, crash_at=None, seed=0):
        env = dict(self.env)
        if crash_at is not None:
            env.update(LD_PRELOAD=SHIM, FLOE_CRASH_ROOT=self.root, FLOE_CRASH_STASH=self.stash,
                       FLOE_CRASH_REPORT=self.report, FLOE_CRASH_AT=str(crash_at),
                       FLOE_CRASH_SEED=str(seed),
                       ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, *args], env=env,
                           capture_output=True, timeout=300)
        rep = None
        if crash_at is not None:
            self.assertTrue(os.path.exists(self.report), (r.returncode, r.stderr[-2000:]))
            with open(self.report) as f:
                rep = json.loads(f.read())
            os.unlink(self.report)
        return r, rep

    def catalog_ok(self, cat, label):
        if os.path.exists(cat):
            # read-write, as floe's next run opens it: after a power cut the WAL index (-shm,
            # never synced) must be rebuilt, which a mode=ro connection refuses to do
            # ("attempt to write a readonly database")
            db = sqlite3.connect(cat)
            try:
                self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok", label)
            finally:
                db.close()
        bk.BackupKillTests.check_consistent(self, self.name, cat)

    def test_backup_power_loss(self):
        rounds = int(os.environ.get("FLOE_CRASH_CLIENT_ROUNDS", "4"))
        self.name = "pl%d" % self.rnd.randint(0, 1 << 30)
        self.glacier.create_vault(vaultName=self.name)
        src = os.path.join(self.tmp.name, "src")
        files = bk.BackupKillTests.make_tree(self, src, 40)
        cat = os.path.join(self.root, "cat.db")
        args = ["--quiet", "backup", src, self.name, "--catalog", cat, "--no-snapshot",
                "--pack-size", "2MiB", "--pack-threshold", "1MiB", "--part-size", "1MiB"]
        # calibration on a throwaway catalog and vault: the changes one whole backup makes
        self.glacier.create_vault(vaultName=self.name + "-cal")
        r, rep = self.run_floe([*args[:3], self.name + "-cal", "--catalog",
                                os.path.join(self.root, "cal.db"), *args[6:]], crash_at=0)
        self.assertEqual(r.returncode, 0, r.stderr)
        span = rep["changes"]
        stats = {"crashes": 0, "finished_first": 0, "kept": 0, "dropped": 0, "torn": 0,
                 "dir_undone": 0, "changes_first_backup": span}
        for i in range(rounds):
            label = "round %d (FLOE_TEST_SEED=%d)" % (i, self.seed)
            for path in self.rnd.sample(sorted(files), 4):  # new work for this round
                data = os.urandom(self.rnd.randint(1, 40 * 1024))
                with open(path, "wb") as f:
                    f.write(data)
                files[path] = data
            r, rep = self.run_floe(args, crash_at=self.rnd.randint(1, span),
                                   seed=self.seed * 1000 + i)
            if rep.get("crashed"):
                stats["crashes"] += 1
                for k in ("kept", "dropped", "torn", "dir_undone"):
                    stats[k] += rep[k]
            else:  # this round needed fewer changes: aim the next crash inside them
                stats["finished_first"] += 1
                self.assertEqual(r.returncode, 0, r.stderr)
                span = max(2, rep["changes"])
            self.catalog_ok(cat, label)
            r, _ = self.run_floe(args)  # resume, no shim
            self.assertEqual(r.returncode, 0, (label, r.stderr))
            self.catalog_ok(cat, label)
            r, _ = self.run_floe(["--json", *args[1:]])
            summary = json.loads(r.stdout.decode().splitlines()[-1])
            self.assertEqual((summary["files_new"], summary["files_changed"]), (0, 0), label)
        self.assertEqual(self.glacier.list_multipart_uploads(vaultName=self.name)["UploadsList"],
                         [])
        to = os.path.join(self.tmp.name, "out")
        os.makedirs(to)
        r, _ = self.run_floe(["restore", self.name, "--to", to, "--catalog", cat,
                              "--tier", "Expedited"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for path, data in files.items():
            with open(os.path.join(to, path.lstrip("/")), "rb") as f:
                self.assertEqual(f.read(), data, path)
        print("client power loss: " + json.dumps(stats), file=sys.stderr)
        self.assertGreater(stats["crashes"], 0)
    def test_restore_power_loss(self):
        """floe restore (the catalog's restore tables, the job output it downloads and the
        files it renames into place, all under the shim) crashed and resumed: every file ends
        up byte for byte, the catalog passes its checks, no staging file is left."""
        rounds = int(os.environ.get("FLOE_CRASH_CLIENT_ROUNDS", "4"))
        name = self.name = "rs%d" % self.rnd.randint(0, 1 << 30)
        self.glacier.create_vault(vaultName=name)
        src = os.path.join(self.tmp.name, "src")
        files = bk.BackupKillTests.make_tree(self, src, 30)
        cat = os.path.join(self.root, "cat.db")
        r, _ = self.run_floe(["--quiet", "backup", src, name, "--catalog", cat, "--no-snapshot",
                              "--pack-size", "2MiB", "--pack-threshold", "1MiB"])
        self.assertEqual(r.returncode, 0, r.stderr)

        def restore(to, **kw):
            return self.run_floe(["--quiet", "restore", name, "--to", to, "--catalog", cat,
                                  "--tier", "Expedited"], **kw)

        def check(to, label):
            for path, data in files.items():
                with open(os.path.join(to, path.lstrip("/")), "rb") as f:
                    self.assertEqual(f.read(), data, (label, path))
            left = [n for _, _, names in os.walk(to) for n in names if ".floe-restore" in n]
            self.assertEqual(left, [], label)

        cal = os.path.join(self.root, "cal")
        os.makedirs(cal)
        r, rep = restore(cal, crash_at=0)  # calibration: the changes one whole restore makes
        self.assertEqual(r.returncode, 0, r.stderr)
        span = rep["changes"]
        stats = {"crashes": 0, "finished_first": 0, "changes_per_restore": span}
        for i in range(rounds):
            label = "round %d (FLOE_TEST_SEED=%d)" % (i, self.seed)
            to = os.path.join(self.root, "out%d" % i)
            os.makedirs(to)
            r, rep = restore(to, crash_at=self.rnd.randint(1, span), seed=self.seed * 1000 + i)
            stats["crashes" if rep.get("crashed") else "finished_first"] += 1
            if not rep.get("crashed"):
                self.assertEqual(r.returncode, 0, (label, r.stderr))
            self.catalog_ok(cat, label)
            r, _ = restore(to)  # resume, no shim
            self.assertEqual(r.returncode, 0, (label, r.stderr))
            check(to, label)
        print("restore power loss: " + json.dumps(stats), file=sys.stderr)
        self.assertGreater(stats["crashes"], 0)

    def test_retrieve_power_loss(self):
        """floe retrieve (download journal + partial output under the shim) crashed and resumed:
        the output ends up byte for byte the archive."""
        rounds = int(os.environ.get("FLOE_CRASH_CLIENT_ROUNDS", "4"))
        name = "rt%d" % self.rnd.randint(0, 1 << 30)
        self.glacier.create_vault(vaultName=name)
        data = self.rnd.randbytes(5 * 1024 * 1024 + 123)
        aid = self.glacier.upload_archive(vaultName=name, body=data)["archiveId"]
        out = os.path.join(self.root, "out", "archive.bin")
        os.makedirs(os.path.dirname(out))
        args = ["--quiet", "retrieve", name, "-o", out, "--segment-size", "1MiB",
                "--concurrency", "2", "--poll-interval", "0.05", "--archive-id=" + aid]
        r, rep = self.run_floe(args, crash_at=0)
        self.assertEqual(r.returncode, 0, r.stderr)
        span = rep["changes"]
        stats = {"crashes": 0, "finished_first": 0, "changes_per_retrieve": span}
        for i in range(rounds):
            label = "round %d (FLOE_TEST_SEED=%d)" % (i, self.seed)
            os.unlink(out)
            r, rep = self.run_floe(args, crash_at=self.rnd.randint(1, span),
                                   seed=self.seed * 1000 + i)
            stats["crashes" if rep.get("crashed") else "finished_first"] += 1
            if not rep.get("crashed"):
                self.assertEqual(r.returncode, 0, (label, r.stderr))
            r, _ = self.run_floe(args)  # resume, no shim
            if r.returncode != 0 and os.path.exists(out):
                # the cut fell after the output was complete: an existing file is refused
                self.assertIn(b"exists", r.stderr, (label, r.stderr))
            else:
                self.assertEqual(r.returncode, 0, (label, r.stderr))
            with open(out, "rb") as f:
                self.assertEqual(f.read(), data, label)
        print("retrieve power loss: " + json.dumps(stats), file=sys.stderr)
        self.assertGreater(stats["crashes"], 0)

    def test_migrate_power_loss(self):
        """floe migrate to a directory (its catalog in .floe-migrate, the copied files and
        their .floe-part staging) crashed and re-run: every archive ends up copied once, byte
        for byte, with both manifests, and no retrieval job is requested twice."""
        rounds = int(os.environ.get("FLOE_CRASH_CLIENT_ROUNDS", "4"))
        stats = {"crashes": 0, "finished_first": 0, "archives": 0}
        for i in range(rounds):
            label = "round %d (FLOE_TEST_SEED=%d)" % (i, self.seed)
            name = "mg%d" % self.rnd.randint(0, 1 << 30)
            self.glacier.create_vault(vaultName=name)
            data = {}
            for k in range(6):
                body = self.rnd.randbytes(self.rnd.randint(1, 300 * 1024))
                data[self.glacier.upload_archive(vaultName=name, body=body,
                                                 archiveDescription="m/%d" % k)["archiveId"]] = body
            dest = os.path.join(self.root, "dest%d" % i)
            os.makedirs(dest)
            args = ["--quiet", "migrate", name, "--to", dest, "--poll-interval", "0.1s"]
            if i == 0:  # calibration: the changes one whole migration makes
                cal = os.path.join(self.root, "cal")
                os.makedirs(cal)
                r, rep = self.run_floe(["--quiet", "migrate", name, "--to", cal,
                                        "--poll-interval", "0.1s"], crash_at=0)
                self.assertEqual(r.returncode, 0, r.stderr)
                span = rep["changes"]
                jobs_before = len(mg.MigrateTests.retrieval_jobs(self, name))
            else:
                jobs_before = 0
            r, rep = self.run_floe(args, crash_at=self.rnd.randint(1, span),
                                   seed=self.seed * 1000 + i)
            stats["crashes" if rep.get("crashed") else "finished_first"] += 1
            r, _ = self.run_floe(args)  # re-run, no shim
            self.assertEqual(r.returncode, 0, (label, r.stderr))
            mg.MigrateTests.check_copied(self, dest, data)
            # one retrieval job per archive for this destination (the calibration's own
            # are reused by it, or not: they are counted before)
            jobs = len(mg.MigrateTests.retrieval_jobs(self, name))
            self.assertLessEqual(jobs - jobs_before, len(data) if i else 0, label)
            stats["archives"] += len(data)
        print("migrate power loss: " + json.dumps(stats), file=sys.stderr)
        self.assertGreater(stats["crashes"], 0)


if __name__ == "__main__":
    SHIM = sys.argv.pop(3)
    VAULT_BIN = sys.argv.pop(2)
    FLOE = sys.argv.pop(1)
    bk.FLOE, bk.VAULT_BIN = FLOE, VAULT_BIN
    mg.FLOE, mg.VAULT_BIN = FLOE, VAULT_BIN
    unittest.main(verbosity=2)
