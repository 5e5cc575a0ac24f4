#!/usr/bin/env python3
"""floe backup against a floe-vault it starts: a tree with awkward names backed up in packs and
one archive per file; re-runs that upload nothing; changed, new and removed files; filters;
dry runs with their plan; the catalog's rows checked against the vault's bytes (read back with
boto3); and the errors a user can hit (catalog in use, bad options, a missing source).

usage: test_backup.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import fcntl
import json
import os
import random
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
KIB = 1 << 10


class BackupTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-backup-test-")
        cls.vault = servers.start_vault(VAULT_BIN)
        cls.env = servers.client_env(cls.tmp.name)
        cls.env["XDG_DATA_HOME"] = os.path.join(cls.tmp.name, "data")
        cls.glacier = boto3.client("glacier", endpoint_url=cls.vault.url, region_name="us-east-1",
                                   aws_access_key_id=servers.LOCAL_AK,
                                   aws_secret_access_key=servers.LOCAL_SK,
                                   config=Config(retries={"max_attempts": 1}))
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.tmp.cleanup()

    # ---- helpers ----
    def fresh(self):
        """A new vault, source tree root and catalog path for one test."""
        type(self).n += 1
        name = "bk%d" % self.n
        self.glacier.create_vault(vaultName=name)
        src = os.path.join(self.tmp.name, name + "-src")
        os.makedirs(src)
        return name, src, os.path.join(self.tmp.name, name + ".db")

    def write(self, root, rel, data):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def tree(self, root):
        files = {
            b"a.txt": b"hello\n",
            b"empty": b"",
            b"dir one/space name.bin": os.urandom(3000),
            b"dir one/deeper/\xc3\xa9t\xc3\xa9.txt": "été".encode() * 100,
            b"dir one/deeper/bad-\xff\xfe-utf8": os.urandom(10),
            b"new\nline": b"newline in the name",
            b"big/large.bin": os.urandom(300 * KIB),
            b"pct%41.txt": b"a percent sign",
        }
        for rel, data in files.items():
            path = os.path.join(os.fsencode(root), rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        return {os.path.join(os.fsencode(os.path.realpath(root)), k): v for k, v in files.items()}

    def floe(self, *args, timeout=300):
        cmd = [FLOE, "--endpoint-url", self.vault.url, *args]
        return subprocess.run(cmd, capture_output=True, timeout=timeout, env=self.env)

    def backup(self, *args, expect=0):
        r = self.floe("--json", "backup", *args)
        self.assertEqual(r.returncode, expect, r.stderr.decode(errors="replace"))
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        summary = [x for x in lines if "files_new" in x]
        self.assertEqual(len(summary), 1, lines)
        return summary[0], lines, r

    def read_archive(self, vault, archive_id):
        return servers.read_archive(self.glacier, vault, archive_id)

    def catalog_files(self, catalog):
        """Current rows (docs/catalog-format.md): path -> dict with the archive's Glacier id."""
        db = sqlite3.connect("file:%s?mode=ro" % catalog, uri=True)
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT f.*, a.archive_id AS glacier_id, a.kind AS archive_kind FROM files f "
            "JOIN archives a ON a.id = f.archive "
            "WHERE f.superseded_at IS NULL AND f.removed_at IS NULL").fetchall()
        out = {}
        for r in rows:
            path = r["path"] if isinstance(r["path"], bytes) else r["path"].encode()
            out[path] = dict(r)
        db.close()
        return out

    def check_in_vault(self, vault, catalog, files):
        """Every file's bytes are where the catalog says: the end of its frame (stored frames) or
        the whole archive (its own archive)."""
        rows = self.catalog_files(catalog)
        archives = {}
        for path, data in files.items():
            self.assertIn(path, rows, "not in the catalog: %r" % path)
            r = rows[path]
            self.assertEqual(r["size_bytes"], len(data))
            aid = r["glacier_id"]
            if aid not in archives:
                archives[aid] = self.read_archive(vault, aid)
            blob = archives[aid]
            off, length = r["offset_bytes"], r["length_bytes"]
            if r["archive_kind"] == "file":
                self.assertEqual((off, length, blob), (0, len(data), data))
            frame = blob[off:off + length]
            self.assertTrue(frame.endswith(data), "bytes of %r not at the end of its frame" % path)
        return rows

    # ---- tests ----
    def test_packed_backup_then_nothing_changed(self):
        vault, src, cat = self.fresh()
        files = self.tree(src)
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--pack-threshold", "64KiB")
        self.assertEqual(s["files_new"], len(files))
        self.assertEqual(s["files_changed"], 0)
        self.assertGreaterEqual(s["packs"], 1)
        self.assertEqual(s["archives"], s["packs"] + 1)  # the large file is its own archive
        self.assertFalse(s["partial"])
        self.assertTrue(s.get("snapshot_archive_id"))
        self.check_in_vault(vault, cat, files)
        # a second run with nothing changed uploads nothing (but the catalog snapshot)
        s2, _, _ = self.backup(src, vault, "--catalog", cat, "--pack-threshold", "64KiB",
                               "--no-snapshot")
        self.assertEqual((s2["files_new"], s2["files_changed"], s2["archives"]), (0, 0, 0))
        self.assertEqual(s2["files_unchanged"], len(files))

    def test_pack_closes_at_its_file_count(self):
        """A pack holds at most 10,000 files (FLOE_BACKUP_PACK_MAX_FILES: its index is in memory
        until it is acknowledged): 10,001 tiny files make two packs, the second holding one
        file; the second pack reuses the first one's buffers, and every file is at its place."""
        vault, src, cat = self.fresh()
        files = {}
        for i in range(10001):
            data = b"%d\n" % i
            files[os.fsencode(os.path.realpath(self.write(src, "d%02d/f%05d" % (i // 500, i),
                                                          data)))] = data
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot")
        self.assertEqual((s["files_new"], s["packs"], s["archives"]), (10001, 2, 2))
        rows = self.check_in_vault(vault, cat, files)
        per_pack = {}
        for r in rows.values():
            per_pack[r["glacier_id"]] = per_pack.get(r["glacier_id"], 0) + 1
        self.assertEqual(sorted(per_pack.values()), [1, 10000])

    def test_changed_new_and_removed_files(self):
        vault, src, cat = self.fresh()
        self.write(src, "keep.txt", b"same")
        self.write(src, "edit.txt", b"before")
        gone = self.write(src, "gone.txt", b"soon removed")
        self.backup(src, vault, "--catalog", cat, "--no-snapshot")
        time.sleep(0.01)
        self.write(src, "edit.txt", b"after, and longer")
        self.write(src, "added.txt", b"new")
        os.unlink(gone)
        s, lines, _ = self.backup(src, vault, "--catalog", cat, "--dry-run", "--list")
        plan = {x["path"]: x["plan"] for x in lines if "plan" in x}
        real = os.path.realpath(src)
        self.assertEqual(plan, {os.path.join(real, "edit.txt"): "changed",
                                os.path.join(real, "added.txt"): "new",
                                os.path.join(real, "gone.txt"): "removed"})
        self.assertEqual((s["files_new"], s["files_changed"], s["files_removed"]), (1, 1, 1))
        self.assertEqual(s["archives"], 0)
        self.assertGreater(s["requests"], 0)
        self.assertGreater(s["est_request_usd"], 0)
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--delete-removed")
        self.assertEqual((s["files_new"], s["files_changed"], s["files_removed"]), (1, 1, 1))
        rows = self.check_in_vault(vault, cat, {
            os.path.join(real, "edit.txt").encode(): b"after, and longer",
            os.path.join(real, "added.txt").encode(): b"new",
            os.path.join(real, "keep.txt").encode(): b"same"})
        self.assertNotIn(os.path.join(real, "gone.txt").encode(), rows)

    def test_file_per_archive_layout(self):
        vault, src, cat = self.fresh()
        files = {}
        for i in range(40):
            data = os.urandom(1 + i * 97)
            files[os.path.join(os.path.realpath(src), "f%02d" % i).encode()] = data
            self.write(src, "f%02d" % i, data)
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--layout", "file-per-archive",
                              "--no-snapshot", "--concurrency", "8")
        self.assertEqual((s["files_new"], s["archives"], s["packs"]), (40, 40, 0))
        rows = self.check_in_vault(vault, cat, files)
        # each archive is exactly the file, and its description names it
        db = sqlite3.connect("file:%s?mode=ro" % cat, uri=True)
        descs = [r[0] for r in db.execute("SELECT description FROM archives")]
        db.close()
        self.assertEqual(len(descs), 40)
        self.assertTrue(all(d.startswith("floe1 file ") for d in descs), descs[:3])
        self.assertEqual(len(rows), 40)

    def test_file_per_archive_more_reads_than_the_pool_queue(self):
        # the default concurrency keeps 16 to 64 files in flight while the hash pool queues 4
        # per thread: the reads that do not fit wait in singles.c's own list and are handed over
        # as room appears (src/engine/backup/singles.c); files up to 4 KiB are read on the
        # orchestrating thread instead. None may be lost, repeated or mixed up.
        vault, src, cat = self.fresh()
        rnd = random.Random(9)
        files = {}
        for i in range(240):
            data = os.urandom(rnd.randint(1, 12000))
            rel = "d%d/f%03d" % (i % 7, i)
            files[os.path.join(os.path.realpath(src), rel).encode()] = data
            self.write(src, rel, data)
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--layout", "file-per-archive",
                              "--no-snapshot")
        self.assertEqual((s["files_new"], s["archives"], s["packs"]), (240, 240, 0))
        rows = self.check_in_vault(vault, cat, files)
        self.assertEqual(len(rows), 240)
        self.assertEqual(len({r["glacier_id"] for r in rows.values()}), 240)

    def test_mt2_descriptions(self):
        import base64
        vault, src, cat = self.fresh()
        self.write(src, "sub/r\u00e9sum\u00e9.txt", b"cv")
        self.write(src, "a.txt", b"a")
        mtime = 1700000000
        os.utime(os.path.join(src, "a.txt"), (mtime, mtime))
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--layout",
                              "file-per-archive", "--description-format", "mt2")
        self.assertEqual(s["archives"], 2)
        db = sqlite3.connect("file:%s?mode=ro" % cat, uri=True)
        descs = sorted(r[0] for r in db.execute("SELECT description FROM archives"))
        db.close()
        names = {}
        for d in descs:
            self.assertTrue(d.startswith("mt2 "), d)
            b = d[4:]
            doc = json.loads(base64.urlsafe_b64decode(b + "=" * (-len(b) % 4)).decode())
            names[doc["filename"]] = doc["mtime"]
        self.assertEqual(set(names), {"a.txt", "sub/r\u00e9sum\u00e9.txt"})
        self.assertEqual(names["a.txt"], "20231114T221320Z")
        r = self.floe("backup", src, vault, "--catalog", cat, "--description-format", "mt2")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--layout file-per-archive", r.stderr)

    def test_filters(self):
        vault, src, cat = self.fresh()
        self.write(src, "a.c", b"c")
        self.write(src, "a.o", b"o")
        self.write(src, "build/x.c", b"xc")
        self.write(src, "docs/readme", b"r")
        s, lines, _ = self.backup(src, vault, "--catalog", cat, "--dry-run", "--list",
                                  "--exclude", "*.o", "--exclude", "/build/")
        real = os.path.realpath(src)
        planned = sorted(x["path"] for x in lines if "plan" in x)
        self.assertEqual(planned, [os.path.join(real, "a.c"), os.path.join(real, "docs/readme")])
        self.assertFalse(os.path.exists(cat))  # a dry run creates no catalog
        _, lines, _ = self.backup(src, vault, "--catalog", cat, "--dry-run", "--list",
                                  "--filter", "+ *.c", "--filter", "+ */", "--filter", "- *")
        planned = sorted(x["path"] for x in lines if "plan" in x)
        self.assertEqual(planned, [os.path.join(real, "a.c"), os.path.join(real, "build/x.c")])

    def test_specials_symlinks_limits_and_checksum(self):
        """FIFOs, sockets and symlinks are counted, not backed up (--follow follows symlinks);
        --max-files / --max-bytes leave the rest for the next run; --checksum finds a change
        that keeps size and mtime, which the default comparison cannot see."""
        import socket
        vault, src, cat = self.fresh()
        for rel in ("a.txt", "b.txt", "c.txt", "sub/d.txt"):
            self.write(src, rel, rel.encode() * 100)
        os.mkfifo(os.path.join(src, "pipe"))
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(os.path.join(src, "sock"))
        os.symlink("a.txt", os.path.join(src, "link-to-a"))
        os.symlink("sub", os.path.join(src, "dirlink"))
        try:
            s, lines, _ = self.backup(src, vault, "--catalog", cat, "--dry-run", "--list",
                                      "--follow")
            real = os.path.realpath(src)
            planned = sorted(os.path.relpath(x["path"], real) for x in lines if "plan" in x)
            self.assertEqual(planned, ["a.txt", "b.txt", "c.txt", "dirlink/d.txt", "link-to-a",
                                       "sub/d.txt"])
            s, lines, r = self.backup(src, vault, "--catalog", cat, "--no-snapshot",
                                      "--max-files", "1")
            self.assertEqual((s["specials"], s["symlinks"], s["files_new"], s["files_deferred"],
                              s["partial"]), (2, 2, 1, 3, False))
            self.assertFalse([x for x in lines if "warning" in x])  # counted, not warned
            s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot",
                                  "--max-bytes", "1000")  # two files of 500 bytes fit
            self.assertEqual((s["files_new"], s["files_unchanged"], s["files_deferred"]),
                             (2, 1, 1))
            s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot")
            self.assertEqual((s["files_new"], s["files_unchanged"], s["files_deferred"]),
                             (1, 3, 0))
            text = self.floe("backup", src, vault, "--catalog", cat, "--no-snapshot")
            self.assertEqual(text.returncode, 0, text.stderr)
            self.assertIn(b"2 devices, sockets or FIFOs, 2 symlinks", text.stdout)
            # the same size and mtime, other bytes: only --checksum sees it
            b = os.path.join(src, "b.txt")
            st = os.stat(b)
            with open(b, "r+b") as f:
                f.write(b"X")
            os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
            s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot")
            self.assertEqual((s["files_changed"], s["files_unchanged"]), (0, 4))
            s, lines, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--checksum",
                                      "--dry-run", "--list")
            self.assertEqual([os.path.relpath(x["path"], real) for x in lines
                              if x.get("plan") == "changed"], ["b.txt"])
            s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--checksum")
            self.assertEqual((s["files_changed"], s["files_unchanged"]), (1, 3))
            with open(b, "rb") as f:
                self.check_in_vault(vault, cat, {os.fsencode(os.path.join(real, "b.txt")): f.read()})
        finally:
            sock.close()

    def test_catalog_in_use_is_refused(self):
        vault, src, cat = self.fresh()
        self.write(src, "x", b"x")
        self.backup(src, vault, "--catalog", cat, "--no-snapshot")
        with open(cat + ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            r = self.floe("backup", src, vault, "--catalog", cat)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"in use by another floe run", r.stderr)

    def test_usage_errors(self):
        vault, src, cat = self.fresh()
        for args, msg in [((src,), b"missing VAULT"),
                          ((src, vault, "--layout", "zip"), b"--layout must be packed"),
                          ((src, vault, "--list"), b"--list goes with --dry-run"),
                          ((src, vault, "--compress=99"), b"--compress"),
                          ((src, vault, "--filter", "* x"), b"filter rule"),
                          ((src, vault, "--pack-size", "1KiB"), b"--pack-size")]:
            r = self.floe("backup", *args, "--catalog", cat)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(msg, r.stderr, args)
        r = self.floe("backup", os.path.join(src, "missing"), vault, "--catalog", cat)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot back up", r.stderr)

    def test_unreadable_file_is_partial(self):
        if os.geteuid() == 0:
            self.skipTest("root reads every file")
        vault, src, cat = self.fresh()
        self.write(src, "ok", b"fine")
        p = self.write(src, "locked", b"secret")
        os.chmod(p, 0)
        s, lines, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", expect=3)
        self.assertTrue(s["partial"])
        self.assertTrue(any("warning" in x for x in lines))


    @unittest.skipUnless(os.geteuid() == 0 and os.path.exists("/usr/bin/setpriv"),
                         "needs root and setpriv to run floe as an unprivileged user")
    def test_unreadable_file_and_directory_as_nobody(self):
        """floe run as nobody: a root-only file and a root-only directory are each reported,
        counted and skipped, the run goes on (exit 3, partial), everything readable is recorded
        with its bytes in the vault, and a later run takes what became readable."""
        name, _, _ = self.fresh()
        work = servers.tempdir_for_others("floe-nobody-")
        src = os.path.join(work, "src")
        readable = {}
        for rel in ("a.txt", "sub/b.bin", "sub/deeper/c"):
            readable[rel] = os.urandom(700)
            self.write(src, rel, readable[rel])
        secret = self.write(src, "sub/secret", b"root only")
        closed = os.path.join(src, "closed")
        self.write(closed, "inside", b"behind a closed directory")
        for d, _, fs in os.walk(src):
            os.chmod(d, 0o755)
            for f in fs:
                os.chmod(os.path.join(d, f), 0o644)
        os.chmod(secret, 0o600)
        os.chmod(closed, 0o700)
        cat = os.path.join(work, "cat.db")
        env = {**self.env, "XDG_CACHE_HOME": work, "HOME": work, "TMPDIR": work}
        r = subprocess.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", FLOE, "--endpoint-url", self.vault.url, "--json",
                            "backup", src, name, "--catalog", cat, "--no-snapshot"],
                           env=env, capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 3, r.stderr.decode(errors="replace"))
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        s = [x for x in lines if "files_new" in x][0]
        self.assertEqual((s["files_new"], s["files_skipped"], s["partial"]), (3, 2, True))
        warned = sorted(x["path"] for x in lines if "warning" in x)
        self.assertEqual(warned, sorted([secret, closed]), lines)
        err = r.stderr.decode(errors="replace")
        self.assertIn("Permission denied", err)
        self.assertIn(secret, err)
        self.assertIn(closed, err)
        real = os.fsencode(os.path.realpath(src))
        rows = self.check_in_vault(name, cat, {os.path.join(real, k.encode()): v
                                               for k, v in readable.items()})
        self.assertEqual(len(rows), 3)
        db = sqlite3.connect("file:%s?mode=ro" % cat, uri=True)
        outcome = db.execute("SELECT outcome FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
        db.close()
        self.assertEqual(outcome, "partial")
        # readable now: the next run takes exactly the two skipped files, nothing else
        os.chmod(secret, 0o644)
        os.chmod(closed, 0o755)
        s, _, _ = self.backup(src, name, "--catalog", cat, "--no-snapshot")
        self.assertEqual((s["files_new"], s["files_unchanged"], s["partial"]), (2, 3, False))

    # ---- restore ----
    def restore(self, *args, expect=0):
        r = self.floe("--json", "restore", *args)
        self.assertEqual(r.returncode, expect, r.stderr.decode(errors="replace"))
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        summary = [x for x in lines if "jobs" in x]
        self.assertEqual(len(summary), 1, lines)
        return summary[0], lines

    def check_restored(self, to, files, mtimes=None):
        for path, data in files.items():
            dest = os.path.join(os.fsencode(to), path.lstrip(b"/"))
            with open(dest, "rb") as f:
                self.assertEqual(f.read(), data, dest)
            if mtimes:
                self.assertEqual(os.stat(dest).st_mtime_ns, mtimes[path], dest)

    def restore_round_trip(self, *layout):
        vault, src, cat = self.fresh()
        files = self.tree(src)
        if layout:  # Glacier keeps no empty archive: the file-per-archive layout skips it
            files = {k: v for k, v in files.items() if v}
        mtimes = {p: os.stat(p).st_mtime_ns for p in files}
        self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--pack-threshold", "64KiB",
                    *layout, expect=3 if layout else 0)
        to = os.path.join(self.tmp.name, vault + "-restored")
        os.makedirs(to)
        s, _ = self.restore(vault, "--to", to, "--catalog", cat, "--dry-run")
        self.assertGreater(s["jobs"], 0)
        self.assertEqual((s["files_planned"], s["bytes_planned"]),
                         (len(files), sum(len(d) for d in files.values())))
        # cost and wait per tier, at the dated price table (docs/backup.md)
        gb = s["bytes_retrieved"] / 1e9
        for tier, per_gb, per_1000, hours in (("expedited", 0.03, 10.0, 0.083),
                                              ("standard", 0.01, 0.05, 5.0),
                                              ("bulk", 0.0025, 0.025, 12.0)):
            self.assertAlmostEqual(s["est_usd_" + tier], gb * per_gb + s["jobs"] / 1000 * per_1000,
                                   places=5)
            self.assertEqual(s["wait_hours_" + tier], hours)
        text = self.floe("restore", vault, "--to", to, "--catalog", cat, "--dry-run")
        self.assertEqual(text.returncode, 0, text.stderr)
        for tier in (b"Expedited", b"Standard", b"Bulk"):
            self.assertIn(tier, text.stdout)
        self.assertEqual(os.listdir(to), [])  # a dry run writes nothing
        s, _ = self.restore(vault, "--to", to, "--catalog", cat, "--tier", "Expedited")
        self.assertEqual((s["files"], s["files_failed"]), (len(files), 0))
        self.check_restored(to, files, mtimes)
        leftovers = [n for n in os.listdir(to) if n.startswith(".floe-restore")]
        self.assertEqual(leftovers, [])
        # again: everything is there already, nothing is retrieved
        s, _ = self.restore(vault, "--to", to, "--catalog", cat)
        self.assertEqual((s["files"], s["jobs"], s["files_skipped"]), (0, 0, len(files)))
        # a changed file is kept unless --overwrite
        victim = sorted(files)[0]
        dest = os.path.join(os.fsencode(to), victim.lstrip(b"/"))
        with open(dest, "wb") as f:
            f.write(b"local edit")
        s, lines = self.restore(vault, "--to", to, "--catalog", cat, expect=3)
        self.assertTrue(any("warning" in x for x in lines))
        with open(dest, "rb") as f:
            self.assertEqual(f.read(), b"local edit")
        s, _ = self.restore(vault, "--to", to, "--catalog", cat, "--overwrite")
        self.assertEqual(s["files"], 1)
        self.check_restored(to, files, mtimes)
        return vault, src, cat, files

    def test_compressed_packs_on_the_pool(self):
        """--compress: pack frames are read and compressed ahead on the hash pool and added in
        plan order. The packs close exactly where one thread would close them (every frame but
        a pack's last starts below --pack-size; every pack but one reaches it), compressible
        frames are zstd, noise is stored, and a restore gives every file byte for byte."""
        vault, src, cat = self.fresh()
        rnd = random.Random(int(os.environ.get("FLOE_TEST_SEED", "9")))
        files, noise = {}, set()
        for i in range(240):
            kind = i % 4
            size = rnd.randint(1, 40 * KIB)
            if kind == 3:
                data = os.urandom(size)
            elif i % 37 == 0:
                data = b""
            else:
                data = (b"%06d line of text in file %d of the compressed packs\n" % (i, i)) * \
                    (size // 50 + 1)
            path = os.fsencode(os.path.realpath(self.write(src, "d%d/f%03d" % (i % 7, i), data)))
            files[path] = data
            if kind == 3:
                noise.add(path)
        mtimes = {p: os.stat(p).st_mtime_ns for p in files}
        pack_size = 256 * KIB
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--compress=3",
                              "--pack-threshold", "64KiB", "--pack-size", "256KiB")
        self.assertEqual((s["files_new"], s["partial"]), (len(files), False))
        rows = self.catalog_files(cat)
        packs = {}
        for path, data in files.items():
            r = rows[path]
            self.assertEqual(r["archive_kind"], "pack")
            packs.setdefault(r["glacier_id"], []).append((r["offset_bytes"], r["length_bytes"]))
            if path not in noise and len(data) >= 200:
                self.assertEqual(r["compression"], "zstd", path)
            if path in noise and len(data) > 64:
                self.assertEqual(r["compression"], "none", path)
        self.assertGreaterEqual(len(packs), 3)
        self.assertEqual(s["packs"], len(packs))
        full = 0
        for frames in packs.values():
            frames.sort()
            ends = [off + length for off, length in frames]
            self.assertTrue(all(e < pack_size for e in ends[:-1]), ends)
            full += ends[-1] >= pack_size
        self.assertGreaterEqual(full, len(packs) - 1)
        to = os.path.join(self.tmp.name, vault + "-restored")
        os.makedirs(to)
        r, _ = self.restore(vault, "--to", to, "--catalog", cat)
        self.assertEqual((r["files"], r["files_failed"]), (len(files), 0))
        self.check_restored(to, files, mtimes)

    def test_restore_file_per_archive(self):
        self.restore_round_trip("--layout", "file-per-archive")

    def test_restore_packed_and_one_path(self):
        vault, src, cat, files = self.restore_round_trip()
        # one file out of a pack: only a MiB-aligned range of it is retrieved
        one = [p for p in files if p.endswith(b"space name.bin")][0]
        to = os.path.join(self.tmp.name, vault + "-one")
        os.makedirs(to)
        s, _ = self.restore(vault, os.fsdecode(one), "--to", to, "--catalog", cat)
        self.assertEqual((s["files"], s["jobs"]), (1, 1))
        self.assertLessEqual(s["bytes_retrieved"], 1 << 20)
        self.check_restored(to, {one: files[one]})

    def test_hard_links_stored_once_and_restored_as_links(self):
        for layout in ((), ("--layout", "file-per-archive")):
            with self.subTest(layout=layout):
                self.hard_links(*layout)

    def hard_links(self, *layout):
        vault, src, cat = self.fresh()
        small = self.write(src, "a/small", os.urandom(5000))
        large = self.write(src, "a/large", os.urandom(200 * KIB))
        os.link(small, os.path.join(src, "b-small-link"))
        os.makedirs(os.path.join(src, "c"))
        os.link(small, os.path.join(src, "c/small-link2"))
        os.link(large, os.path.join(src, "z-large-link"))
        self.write(src, "plain", b"not linked")
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--pack-threshold",
                              "64KiB", *layout)
        self.assertEqual((s["files_new"], s["files_linked"], s["partial"]), (6, 3, False))
        # the content of each inode is in the vault once: every link's row names the same frame
        rows = self.catalog_files(cat)
        real = os.fsencode(os.path.realpath(src))
        where = lambda rel: (rows[os.path.join(real, rel)]["glacier_id"],  # noqa: E731
                             rows[os.path.join(real, rel)]["offset_bytes"],
                             rows[os.path.join(real, rel)]["length_bytes"])
        self.assertEqual(where(b"a/small"), where(b"b-small-link"))
        self.assertEqual(where(b"a/small"), where(b"c/small-link2"))
        self.assertEqual(where(b"a/large"), where(b"z-large-link"))
        # packed: one pack (small, plain) + the large file; else one archive each of those three
        self.assertEqual(s["archives"], 3 if layout else 2)
        # nothing changed: nothing uploaded, nothing linked again
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--pack-threshold",
                              "64KiB", *layout)
        self.assertEqual((s["files_unchanged"], s["files_linked"], s["archives"]), (6, 0, 0))
        # a change through one link changes them all: uploaded once, the others linked again
        with open(small, "r+b") as f:
            f.write(b"CHANGED")
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--pack-threshold",
                              "64KiB", *layout)
        self.assertEqual((s["files_changed"], s["files_linked"], s["archives"]), (3, 2, 1))
        rows = self.catalog_files(cat)
        self.assertEqual(where(b"a/small"), where(b"c/small-link2"))
        # restore: byte-identical, the same mtimes, and the links are links again
        to = os.path.join(self.tmp.name, vault + "-restored")
        os.makedirs(to)
        r, _ = self.restore(vault, "--to", to, "--catalog", cat, "--tier", "Expedited")
        self.assertEqual((r["files"], r["files_failed"]), (6, 0))
        dest = lambda rel: os.path.join(to, os.path.realpath(src).lstrip("/"), rel)  # noqa: E731
        for group in (("a/small", "b-small-link", "c/small-link2"), ("a/large", "z-large-link")):
            with open(os.path.join(src, group[0]), "rb") as f:
                want = f.read()
            st0 = os.stat(dest(group[0]))
            self.assertEqual(st0.st_nlink, len(group))
            for rel in group:
                st = os.stat(dest(rel))
                self.assertEqual((st.st_ino, st.st_mtime_ns),
                                 (st0.st_ino, os.stat(os.path.join(src, rel)).st_mtime_ns), rel)
                with open(dest(rel), "rb") as f:
                    self.assertEqual(f.read(), want, rel)
        self.assertEqual(os.stat(dest("plain")).st_nlink, 1)

    def test_compress_large_files(self):
        """--compress on files above the pack threshold: one that compresses becomes one zstd
        frame (described `floe1 zfile`, compression zstd, far fewer bytes in the vault); one
        that does not is uploaded as it is; both restore byte-identical with their mtimes, from
        the catalog and from a catalog rebuilt out of the descriptions alone."""
        vault, src, cat = self.fresh()
        text = b"".join(b"line %08d of a very compressible log file\n" % i for i in range(20000))
        noise = os.urandom(300 * KIB)
        files = {self.write(src, "logs/big.log", text): text,
                 self.write(src, "noise.bin", noise): noise}
        files = {os.fsencode(os.path.realpath(p)): d for p, d in files.items()}
        mtimes = {p: os.stat(p).st_mtime_ns for p in files}
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--pack-threshold",
                              "64KiB", "--compress=5")
        self.assertEqual((s["files_new"], s["archives"], s["partial"]), (2, 2, False))
        self.assertLess(s["bytes_uploaded"], len(noise) + len(text) // 4)
        rows = self.catalog_files(cat)
        db = sqlite3.connect("file:%s?mode=ro" % cat, uri=True)
        desc = dict(db.execute("SELECT archive_id, description FROM archives").fetchall())
        db.close()
        big = rows[[p for p in files if p.endswith(b"big.log")][0]]
        self.assertEqual((big["compression"], big["size_bytes"], big["archive_kind"]),
                         ("zstd", len(text), "file"))
        self.assertTrue(desc[big["glacier_id"]].startswith("floe1 zfile "), desc)
        self.assertIn(" %d " % len(text), desc[big["glacier_id"]])
        blob = self.read_archive(vault, big["glacier_id"])
        self.assertEqual((blob[:4], len(blob)), (b"\x28\xb5\x2f\xfd", big["length_bytes"]))
        self.assertLess(len(blob), len(text) // 4)
        raw = rows[[p for p in files if p.endswith(b"noise.bin")][0]]
        self.assertEqual((raw["compression"], raw["length_bytes"]), ("none", len(noise)))
        self.assertTrue(desc[raw["glacier_id"]].startswith("floe1 file "))
        # nothing changed: nothing uploaded again
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--pack-threshold",
                              "64KiB", "--compress=5")
        self.assertEqual((s["files_unchanged"], s["archives"]), (2, 0))
        for name, catalog in (("restored", cat), ("rebuilt", cat + ".rebuilt")):
            if catalog != cat:
                r = self.floe("catalog", "rebuild", vault, "--catalog", catalog, "--no-snapshot",
                              "--tier", "Expedited")
                self.assertEqual(r.returncode, 0, r.stderr)
                rb = self.catalog_files(catalog)[[p for p in files if p.endswith(b"big.log")][0]]
                self.assertEqual((rb["compression"], rb["size_bytes"]), ("zstd", len(text)))
            to = os.path.join(self.tmp.name, vault + "-" + name)
            os.makedirs(to)
            r, _ = self.restore(vault, "--to", to, "--catalog", catalog, "--tier", "Expedited")
            self.assertEqual((r["files"], r["files_failed"]), (2, 0))
            # a description holds whole seconds only
            self.check_restored(to, files, mtimes if catalog == cat else
                                {p: m // 10**9 * 10**9 for p, m in mtimes.items()})
        r = self.floe("backup", src, vault, "--catalog", cat, "--layout", "file-per-archive",
                      "--description-format", "mt2", "--compress")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--compress cannot go with --description-format mt2", r.stderr)

    def floe_rss(self, *args):
        """Runs floe; returns (exit status, stderr, its peak RSS in KiB). It is started from a
        fresh small Python: a child forked from this test process (which holds the test's
        data) would count the test's memory in its own peak."""
        helper = ("import resource, subprocess, sys\n"
                  "rc = subprocess.call(sys.argv[1:])\n"
                  "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
                  "sys.exit(rc)\n")
        cmd = [sys.executable, "-c", helper, FLOE, "--endpoint-url", self.vault.url, *args]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        return r.returncode, r.stderr, int(r.stdout.split()[-1])

    def test_restore_streams_large_files(self):
        """A file archive is restored through a bounded buffer, never whole in memory: restoring
        a 64 MiB file (stored as it is, and as one zstd frame with --compress) takes less than
        3/4 of its size in memory beyond what restoring a 1-byte file takes (the bound: 32 MiB
        of download segments, 1 MiB of copy buffer, zstd's window). A catalog whose
        size or xxh3 disagrees with the retrieved bytes fails the file with a clear message and
        leaves neither the file nor a staging file behind."""
        vault, src, cat = self.fresh()
        big = 64 << 20
        noise = os.urandom(big)
        line = b"%08d a compressible line of a large log file, with a counter: %08x\n"
        text = b"".join(line % (i, i * 2654435761 & 0xFFFFFFFF) for i in range(big // 80))
        text += b"x" * (big - len(text))
        files = {self.write(src, "tiny", b"t"): b"t", self.write(src, "noise.bin", noise): noise,
                 self.write(src, "text.log", text): text}
        files = {os.fsencode(os.path.realpath(p)): d for p, d in files.items()}
        mtimes = {p: os.stat(p).st_mtime_ns for p in files}
        s, _, _ = self.backup(src, vault, "--catalog", cat, "--no-snapshot", "--checksum",
                              "--layout", "file-per-archive", "--compress=3")
        self.assertEqual((s["files_new"], s["archives"]), (3, 3))
        rows = self.catalog_files(cat)
        by_name = {os.path.basename(p): p for p in files}
        self.assertEqual(rows[by_name[b"text.log"]]["compression"], "zstd")
        self.assertEqual(rows[by_name[b"noise.bin"]]["compression"], "none")
        rss = {}
        for name in (b"tiny", b"noise.bin", b"text.log"):
            to = os.path.join(self.tmp.name, "%s-%s" % (vault, name.decode()))
            os.makedirs(to)
            rc, err, rss[name] = self.floe_rss("--quiet", "restore", vault, by_name[name],
                                                  "--to", to, "--catalog", cat, "--tier",
                                                  "Expedited")
            self.assertEqual(rc, 0, err)
            self.check_restored(to, {by_name[name]: files[by_name[name]]},
                                {by_name[name]: mtimes[by_name[name]]})
        print("peak RSS KiB", rss, file=sys.stderr)
        for name in (b"noise.bin", b"text.log"):
            self.assertLess((rss[name] - rss[b"tiny"]) << 10, big * 3 // 4, rss)
        # the catalog disagrees with the bytes: each file fails, nothing is put in place
        db = sqlite3.connect(cat)
        db.execute("UPDATE files SET xxh3_128 = zeroblob(16) WHERE path = ?",
                   (by_name[b"noise.bin"],))
        db.execute("UPDATE files SET size_bytes = size_bytes - 1 WHERE path = ?",
                   (by_name[b"text.log"],))
        db.commit()
        db.close()
        for name, message in ((b"noise.bin", b"do not match its recorded xxh3"),
                              (b"text.log", b"does not decompress to its %d bytes" % (big - 1))):
            to = os.path.join(self.tmp.name, "%s-bad-%s" % (vault, name.decode()))
            os.makedirs(to)
            r = self.floe("restore", vault, by_name[name], "--to", to, "--catalog", cat,
                          "--tier", "Expedited")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(message, r.stderr)
            left = [os.path.join(d, f) for d, _, fs in os.walk(to) for f in fs]
            self.assertEqual(left, [], r.stderr)

    def test_restore_checks_free_space_first(self):
        vault, src, cat = self.fresh()
        self.write(src, "big.bin", os.urandom(3 << 20))
        self.backup(src, vault, "--catalog", cat, "--no-snapshot")
        mnt = os.path.join(self.tmp.name, vault + "-small-fs")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a small tmpfs here")
        try:
            r = self.floe("restore", vault, "--to", mnt, "--catalog", cat)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(b"not enough free space in " + mnt.encode(), r.stderr)
            self.assertEqual(os.listdir(mnt), [])  # nothing written, nothing requested
            jobs = self.glacier.list_jobs(vaultName=vault)["JobList"]
            self.assertEqual(jobs, [])
        finally:
            subprocess.run(["umount", mnt])
        # nothing left to resume: the same target, now with room, is planned afresh
        s, _ = self.restore(vault, "--to", mnt, "--catalog", cat, "--tier", "Expedited")
        self.assertEqual((s["files"], s["resumed"]), (1, False))

    def test_restore_progress_is_periodic(self):
        """Without a terminal, restore's progress is a log line every 10 s (the first after
        1 s) naming the phase, jobs and files, not a line per file extracted."""
        v = servers.start_vault(VAULT_BIN, extra=("--job-delay",
                                                  "Expedited=2,Standard=2,Bulk=2"))
        try:
            glacier = boto3.client("glacier", endpoint_url=v.url, region_name="us-east-1",
                                   aws_access_key_id=servers.LOCAL_AK,
                                   aws_secret_access_key=servers.LOCAL_SK)
            glacier.create_vault(vaultName="slowjobs")
            src = os.path.join(self.tmp.name, "progress-src")
            files = {}
            for i in range(300):
                data = os.urandom(100 + i)
                files[os.fsencode(os.path.realpath(self.write(src, "f%03d" % i, data)))] = data
            cat = os.path.join(self.tmp.name, "progress.db")
            base = [FLOE, "--endpoint-url", v.url]
            r = subprocess.run(base + ["--quiet", "backup", src, "slowjobs", "--catalog", cat,
                                       "--no-snapshot"], capture_output=True, env=self.env,
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            to = os.path.join(self.tmp.name, "progress-restored")
            os.makedirs(to)
            r = subprocess.run(base + ["restore", "slowjobs", "--to", to, "--catalog", cat],
                               capture_output=True, env=self.env, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_restored(to, files)
            lines = [x for x in r.stderr.decode().splitlines() if "restore" in x]
            # the job waits 2 s: one line after 1 s (maybe one more), never one per file
            self.assertGreaterEqual(len(lines), 1, r.stderr)
            self.assertLessEqual(len(lines), 3, r.stderr)
            self.assertRegex(lines[0], r"restore waiting for job .{16}\.\.\. \(InProgress, \d+ s\), "
                                       r"jobs 0/1, files 0/300")
        finally:
            v.stop()

    def test_restore_errors(self):
        vault, src, cat = self.fresh()
        r = self.floe("restore", vault, "--catalog", cat)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--to DIR is required", r.stderr)
        r = self.floe("restore", vault, "--to", self.tmp.name, "--catalog", cat)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"no catalog", r.stderr)
        r = self.floe("restore", vault, "--to", self.tmp.name, "--tier", "Fast")
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--tier must be", r.stderr)
        r = self.floe("restore", vault, "--to", os.path.join(self.tmp.name, "nope"),
                      "--catalog", cat)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot restore into", r.stderr)

if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
