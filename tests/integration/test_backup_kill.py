#!/usr/bin/env python3
"""floe backup killed with SIGKILL at random moments, then run again until it finishes: after
every round the catalog and the vault agree (every archive the catalog names is in the vault's
inventory with the same size and tree hash; no path recorded twice as current), and at the end
everything is recorded once, no multipart upload is left open (a killed pack or compressed
file stream is aborted by the next run; a large file's resumes) and it restores byte for byte.
Then floe restore is killed the same way and run again: the files come out whole, with no
staging file left. Both layouts, and packs with --compress (a compressible large file goes as
a zstd stream). Rounds: FLOE_KILL_ROUNDS (default 3; the "slow" label runs 20).

usage: test_backup_kill.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import json
import os
import random
import shutil
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
ROUNDS = int(os.environ.get("FLOE_KILL_ROUNDS", "3"))


class BackupKillTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-backup-kill-")
        cls.vault = servers.start_vault(VAULT_BIN)
        cls.env = servers.client_env(cls.tmp.name)
        cls.env["XDG_DATA_HOME"] = os.path.join(cls.tmp.name, "data")
        cls.glacier = boto3.client("glacier", endpoint_url=cls.vault.url, region_name="us-east-1",
                                   aws_access_key_id=servers.LOCAL_AK,
                                   aws_secret_access_key=servers.LOCAL_SK,
                                   config=Config(retries={"max_attempts": 1}))
        seed = int(os.environ.get("FLOE_TEST_SEED", "0")) or random.randrange(1, 1 << 31)
        print("FLOE_TEST_SEED=%d" % seed, file=sys.stderr)
        cls.rnd = random.Random(seed)

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.tmp.cleanup()

    def make_tree(self, root, n):
        files = {}
        for i in range(n):
            rel = "d%02d/f%04d" % (i % 10, i)
            data = os.urandom(self.rnd.randint(0, 40 * 1024))
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            files[os.path.realpath(path)] = data
        big = os.path.join(root, "big.bin")  # a multipart upload to interrupt too
        data = os.urandom(3 * 1024 * 1024 + 17)
        with open(big, "wb") as f:
            f.write(data)
        files[os.path.realpath(big)] = data
        log = os.path.join(root, "big.log")  # with --compress: a zstd stream to interrupt
        data = b"".join(b"%08d some very compressible log text\n" % i for i in range(80000))
        with open(log, "wb") as f:
            f.write(data)
        files[os.path.realpath(log)] = data
        return files

    def inventory(self, vault):
        job = self.glacier.initiate_job(vaultName=vault,
                                        jobParameters={"Type": "inventory-retrieval"})
        for _ in range(400):
            d = self.glacier.describe_job(vaultName=vault, jobId=job["jobId"])
            if d["Completed"]:
                break
            time.sleep(0.05)
        out = self.glacier.get_job_output(vaultName=vault, jobId=job["jobId"])["body"].read()
        return {a["ArchiveId"]: a for a in json.loads(out)["ArchiveList"]}

    def check_consistent(self, vault, cat):
        if not os.path.exists(cat):
            return
        # A copy is opened read-write: after kill -9 the WAL index or a hot journal must be
        # recovered, which a mode=ro connection refuses to do ("attempt to write a readonly
        # database"), and recovering the original would spare floe's next run its own recovery.
        look = tempfile.mkdtemp(prefix="floe-catcopy-")
        try:
            for ext in ("", "-wal", "-journal"):
                if os.path.exists(cat + ext):
                    shutil.copyfile(cat + ext, os.path.join(look, "c.db" + ext))
            db = sqlite3.connect(os.path.join(look, "c.db"))
            try:
                self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
                archives, dup = BackupKillTests.catalog_rows(db)
            finally:
                db.close()
        finally:
            shutil.rmtree(look)
        if archives is None:
            return  # killed while the catalog was being created: its schema is one
            #         transaction, so there is nothing in it yet
        self.assertEqual(dup, [])
        inv = self.inventory(vault)
        for aid, size, tree in archives:
            self.assertIn(aid, inv, "recorded archive not in the vault")
            self.assertEqual(inv[aid]["Size"], size)
            self.assertEqual(inv[aid]["SHA256TreeHash"], tree.lower())

    @staticmethod
    def catalog_rows(db):
        """(archives not deleted, paths recorded twice) of an open catalog; (None, None) when
        its schema is not there yet."""
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'archives'").fetchall():
            return None, None
        archives = db.execute("SELECT archive_id, size_bytes, hex(tree_hash) FROM archives "
                              "WHERE deleted_at IS NULL").fetchall()
        dup = db.execute("SELECT path, count(*) FROM files WHERE superseded_at IS NULL AND "
                         "removed_at IS NULL GROUP BY path HAVING count(*) > 1").fetchall()
        return archives, dup

    def kill_rounds(self, *layout):
        name = "kill%d" % self.rnd.randint(0, 1 << 30)
        self.glacier.create_vault(vaultName=name)
        src = os.path.join(self.tmp.name, name)
        files = self.make_tree(src, 300)
        if layout:  # one archive per file: Glacier keeps no empty archive (skipped, exit 3)
            for k in [k for k, v in files.items() if not v]:
                os.unlink(k)
                del files[k]
        cat = os.path.join(self.tmp.name, name + ".db")
        args = [FLOE, "--endpoint-url", self.vault.url, "--quiet", "backup", src, name,
                "--catalog", cat, "--no-snapshot", "--pack-size", "2MiB", "--pack-threshold", "1MiB",
                "--part-size", "1MiB", *layout]
        for _ in range(ROUNDS):
            p = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(self.rnd.uniform(0.05, 0.6))
            p.send_signal(signal.SIGKILL)
            p.wait()
            self.check_consistent(name, cat)
        r = subprocess.run(args, env=self.env, capture_output=True, timeout=300)
        self.assertIn(r.returncode, (0, 3), r.stderr)
        self.check_consistent(name, cat)
        # a last run finds nothing to do
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", *args[4:]],
                           env=self.env, capture_output=True, timeout=300)
        summary = json.loads(r.stdout.decode().splitlines()[-1])
        self.assertEqual((summary["files_new"], summary["files_changed"]), (0, 0))
        self.assertEqual(self.glacier.list_multipart_uploads(vaultName=name)["UploadsList"], [])
        to = os.path.join(self.tmp.name, name + "-out")
        os.makedirs(to)
        restore = [FLOE, "--endpoint-url", self.vault.url, "restore", name, "--to", to,
                   "--catalog", cat, "--tier", "Expedited"]
        for _ in range(ROUNDS):
            p = subprocess.Popen(restore, env=self.env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(self.rnd.uniform(0.02, 0.4))
            p.send_signal(signal.SIGKILL)
            p.wait()
        r = subprocess.run(restore, env=self.env, capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        for path, data in files.items():
            with open(os.path.join(to, path.lstrip("/")), "rb") as f:
                self.assertEqual(f.read(), data, path)
        staged = [os.path.join(d, n) for d, _, ns in os.walk(to) for n in ns
                  if ".floe-restore" in n]
        self.assertEqual(staged, [])

    def test_stale_large_file_journal(self):
        """A large file's upload journal left by a failed run whose multipart upload is gone
        (completed or aborted behind its back), or whose file changed since: the next backup
        uploads the file as it is now, once (aborting the stale upload), instead of failing or
        skipping the file on every run."""
        name = "stale%d" % self.rnd.randint(0, 1 << 30)
        self.glacier.create_vault(vaultName=name)
        src = os.path.join(self.tmp.name, name)
        os.makedirs(src)
        big = os.path.join(src, "big")
        with open(big, "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024 + 5))
        cat = os.path.join(self.tmp.name, name + ".db")

        def backup(url, *extra):
            return subprocess.run([FLOE, "--endpoint-url", url, "--json", *extra, "backup", src,
                                   name, "--catalog", cat, "--no-snapshot", "--pack-threshold",
                                   "1MiB", "--part-size", "1MiB"], env=self.env,
                                  capture_output=True, timeout=120)

        def open_uploads():
            return [u["MultipartUploadId"] for u in
                    self.glacier.list_multipart_uploads(vaultName=name)["UploadsList"]]
        def change(data):
            with open(big, "r+b") as f:
                f.write(data)
            t = time.time() + (10 if data == b"second" else 5)
            os.utime(big, (t, t))
        for case in ("gone", "changed"):
            if case == "changed":
                change(b"first")  # so that the run below has the file to upload again
            # through a proxy (the journal is the endpoint's) that fails every
            # CompleteMultipartUpload: that run fails with its journal kept, parts uploaded
            proxy = servers.start_faultproxy(self.vault.port, [
                r"POST /multipart-uploads/[^/]+$ status:500:InternalFailure 0"])
            try:
                r = backup(proxy.url, "--retry-for", "1s")
                self.assertNotEqual(r.returncode, 0, (r.stdout, r.stderr, proxy.log()))
            finally:
                proxy.stop()
            stale = open_uploads()
            self.assertEqual(len(stale), 1, case)
            if case == "gone":
                self.glacier.abort_multipart_upload(vaultName=name, uploadId=stale[0])
            else:
                change(b"second")
            proxy = servers.start_faultproxy(self.vault.port, [], port=proxy.port)  # same URL
            try:
                r = backup(proxy.url)
            finally:
                proxy.stop()
            self.assertEqual(r.returncode, 0, (case, r.stderr))
            if case == "gone":
                self.assertIn(b"uploading the file afresh", r.stdout + r.stderr)
            self.assertEqual(open_uploads(), [], case)  # the stale upload is not left open
            self.check_consistent(name, cat)
        db = sqlite3.connect("file:%s?mode=ro" % cat, uri=True)
        n = db.execute("SELECT count(*) FROM files WHERE superseded_at IS NULL AND "
                       "removed_at IS NULL").fetchone()[0]
        db.close()
        self.assertEqual(n, 1)

    def test_kill_packed(self):
        self.kill_rounds()

    def test_kill_file_per_archive(self):
        self.kill_rounds("--layout", "file-per-archive")

    def test_kill_packed_compressed(self):
        self.kill_rounds("--compress")


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
