#!/usr/bin/env python3
"""floe catalog ls / stats / import-mtglacier / rebuild, floe check and floe prune against a
floe-vault it starts: listings and counts after a backup; an mt-aws-glacier journal written from
docs/mtglacier-format.md imported (a malformed line named by number) and one of its archives
restored; the catalog rebuilt from a snapshot and from descriptions and pack indexes, then a
byte-identical restore; check with changed, missing and new files; prune dry-run and real.

usage: test_catalog_cmds.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import hashlib
import json
import os
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


class CatalogCommandTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-catcmd-test-")
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
        try:
            cls.vault.stop()
        finally:
            cls.tmp.cleanup()

    # ---- helpers ----
    def fresh(self):
        """A new vault, source tree root and catalog path for one test."""
        type(self).n += 1
        name = "cc%d" % self.n
        self.glacier.create_vault(vaultName=name)
        src = os.path.join(self.tmp.name, name + "-src")
        os.makedirs(src)
        return name, os.path.realpath(src), os.path.join(self.tmp.name, name + ".db")

    def write(self, root, rel, data):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def tree(self, root):
        files = {
            "a.txt": b"hello\n",
            "dir one/space name.bin": os.urandom(3000),
            "dir one/deeper/\u00e9t\u00e9.txt": "\u00e9t\u00e9".encode() * 100,
            "big/large.bin": os.urandom(300 * KIB),
            "pct%41.txt": b"a percent sign",
        }
        return {self.write(root, rel, data): data for rel, data in files.items()}

    def floe(self, *args, timeout=300):
        cmd = [FLOE, "--endpoint-url", self.vault.url, *args]
        return subprocess.run(cmd, capture_output=True, timeout=timeout, env=self.env)

    def ok(self, *args, expect=0):
        r = self.floe("--json", *args)
        self.assertEqual(r.returncode, expect,
                         "%s: %s" % (args, r.stderr.decode(errors="replace")))
        return [json.loads(x) for x in r.stdout.decode().splitlines()]

    def backup(self, src, vault, cat, *args):
        lines = self.ok("backup", src, vault, "--catalog", cat, "--pack-threshold", "64KiB", *args)
        return [x for x in lines if "files_new" in x][0]

    def restore(self, vault, cat, to, expect=0):
        os.makedirs(to, exist_ok=True)
        return self.ok("restore", vault, "--to", to, "--catalog", cat, "--tier", "Expedited",
                       expect=expect)

    def check_restored(self, to, files):
        for path, data in files.items():
            dest = os.path.join(to, path.lstrip("/"))
            with open(dest, "rb") as f:
                self.assertEqual(f.read(), data, dest)

    def inventory_ids(self, vault):
        """The archive ids an inventory of the vault lists (floe-vault: taken at once)."""
        r = self.floe("--json", "inventory", vault)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = set()
        for line in r.stdout.decode().splitlines():
            o = json.loads(line)
            for a in o.get("ArchiveList", [o]):
                aid = a.get("ArchiveId", a.get("archive_id"))
                if aid:
                    ids.add(aid)
        return ids

    # ---- ls, stats ----
    def test_ls_and_stats_after_backup(self):
        vault, src, cat = self.fresh()
        files = self.tree(src)
        s = self.backup(src, vault, cat)
        self.assertEqual(s["files_new"], len(files))
        rows = self.ok("catalog", "ls", vault, "--catalog", cat)
        self.assertEqual(sorted(r["path"] for r in rows), sorted(files))
        for r in rows:
            self.assertEqual(r["size"], len(files[r["path"]]))
            self.assertEqual(r["mtime"], int(os.stat(r["path"]).st_mtime))
            self.assertEqual(r["kind"], "file" if r["size"] > 64 * KIB else "pack")
            self.assertTrue(r["current"])
        sub = self.ok("catalog", "ls", vault, os.path.join(src, "dir one"), "--catalog", cat)
        self.assertEqual(len(sub), 2)
        # a changed file: two versions with --all-versions, one current
        self.write(src, "a.txt", b"changed\n")
        self.backup(src, vault, cat)
        every = self.ok("catalog", "ls", vault, os.path.join(src, "a.txt"), "--catalog", cat,
                        "--all-versions")
        self.assertEqual(sorted(r["current"] for r in every), [False, True])
        text = self.floe("catalog", "ls", vault, "--catalog", cat)
        self.assertEqual(text.returncode, 0)
        self.assertIn(b"a.txt", text.stdout)

        st = self.ok("catalog", "stats", vault, "--catalog", cat)
        self.assertEqual(st[0]["files_current"], len(files))
        self.assertEqual(st[0]["file_versions"], len(files) + 1)
        self.assertEqual(st[0]["runs"], 2)
        self.assertGreaterEqual(st[0]["archives_catalog"], 2)  # a snapshot per run
        self.assertEqual([r["run"] for r in st[1:]], [2, 1])
        self.assertEqual(st[1]["outcome"], "ok")
        text = self.floe("catalog", "stats", vault, "--catalog", cat)
        self.assertIn(b"current files", text.stdout)

        r = self.floe("catalog", "ls", vault, "--catalog", os.path.join(self.tmp.name, "no.db"))
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"floe catalog rebuild", r.stderr)
        r = self.floe("catalog", "frobnicate", vault)
        self.assertEqual(r.returncode, 2)
        r = self.floe("catalog", "ls")
        self.assertEqual(r.returncode, 2)
        r = self.floe("catalog", "--help")
        self.assertEqual(r.returncode, 0)

    # ---- import-mtglacier ----
    def test_import_mtglacier_then_restore(self):
        vault, src, cat = self.fresh()
        data = os.urandom(5000)
        aid = self.glacier.upload_archive(vaultName=vault, body=data)["archiveId"]
        tree = hashlib.sha256(data).hexdigest()  # below 1 MiB the tree hash is the SHA-256
        good = ("B\t1700000000\tCREATED\t%s\t%d\t1699999999\t%s\tdocs/report.bin\n"
                % (aid, len(data), tree))
        journal = os.path.join(self.tmp.name, vault + ".journal")
        with open(journal, "w") as f:
            f.write(good)
            f.write("B\t1700000001\tCREATED\tx\tNOTANUMBER\t1\t%s\tother\n" % tree)
        r = self.floe("catalog", "import-mtglacier", journal, vault, "--catalog", cat)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"line 2", r.stderr)
        self.assertIn(b"nothing was imported", r.stderr)
        with open(journal, "w") as f:
            f.write(good)
            f.write("B\t1700000002\tRETRIEVE_JOB\t%s\tjob1\n" % aid)
        out = self.ok("catalog", "import-mtglacier", journal, vault, "--catalog", cat)
        self.assertEqual((out[0]["archives_added"], out[0]["retrieve_jobs"]), (1, 1))
        again = self.ok("catalog", "import-mtglacier", journal, vault, "--catalog", cat)
        self.assertEqual((again[0]["archives_added"], again[0]["archives_known"]), (0, 1))
        rows = self.ok("catalog", "ls", vault, "--catalog", cat)
        self.assertEqual([(r["path"], r["size"], r["mtime"]) for r in rows],
                         [("docs/report.bin", len(data), 1699999999)])
        to = os.path.join(self.tmp.name, vault + "-restored")
        self.restore(vault, cat, to)
        self.check_restored(to, {"docs/report.bin": data})
        r = self.floe("catalog", "import-mtglacier", journal + ".nope", vault, "--catalog", cat)
        self.assertEqual(r.returncode, 1)

    # ---- check ----
    def test_check_changed_missing_new(self):
        vault, src, cat = self.fresh()
        files = self.tree(src)
        self.backup(src, vault, cat)
        out = self.ok("check", src, vault, "--catalog", cat)
        self.assertEqual(out[-1]["ok"], len(files))
        self.assertEqual(len(out), 1)  # no difference, no line but the summary
        self.write(src, "a.txt", b"HELLO\n")  # same size: found by mtime, and by content
        os.utime(os.path.join(src, "a.txt"), ns=(0, 1000000000))
        self.write(src, "dir one/space name.bin", b"shorter")
        os.unlink(os.path.join(src, "pct%41.txt"))
        self.write(src, "brand new.txt", b"new")
        out = self.ok("check", src, vault, "--catalog", cat, expect=3)
        states = {(o["state"], o["path"], o.get("reason")) for o in out if "state" in o}
        self.assertEqual(states, {
            ("changed", os.path.join(src, "a.txt"), "mtime"),
            ("changed", os.path.join(src, "dir one/space name.bin"), "size"),
            ("missing", os.path.join(src, "pct%41.txt"), None),
            ("new", os.path.join(src, "brand new.txt"), None)})
        self.assertEqual((out[-1]["ok"], out[-1]["changed"], out[-1]["missing"], out[-1]["new"]),
                         (len(files) - 3, 2, 1, 1))
        # --checksum: the same mtime with other content is still found
        packed = self.ok("catalog", "ls", vault, os.path.join(src, "a.txt"), "--catalog", cat)
        mt = packed[0]["mtime"]
        os.utime(os.path.join(src, "a.txt"), (mt, mt))
        out = self.ok("check", src, vault, "--catalog", cat, "--checksum", "--all", expect=3)
        a = [o for o in out if o.get("path") == os.path.join(src, "a.txt")]
        self.assertEqual((a[0]["state"], a[0]["reason"]), ("changed", "content"))
        self.assertEqual(len([o for o in out if o.get("state") == "ok"]), len(files) - 3)
        text = self.floe("check", src, vault, "--catalog", cat)
        self.assertEqual(text.returncode, 3)
        self.assertIn(b"missing " + os.path.join(src, "pct%41.txt").encode(), text.stdout)
        r = self.floe("check", src, vault, "--catalog", os.path.join(self.tmp.name, "no.db"))
        self.assertEqual(r.returncode, 1)
        r = self.floe("check", os.path.join(src, "nope"), vault, "--catalog", cat)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot check", r.stderr)
        r = self.floe("check", src)
        self.assertEqual(r.returncode, 2)

    # ---- prune ----
    def test_prune_dry_run_and_real(self):
        vault, src, cat = self.fresh()
        self.write(src, "old/x.txt", b"x" * 100)
        self.write(src, "old/y.txt", b"y" * 100)
        self.write(src, "keep.txt", b"kept")
        big = self.write(src, "big.bin", os.urandom(100 * KIB))
        self.backup(src, vault, cat)
        before = {r["path"]: r["archive_id"] for r in self.ok("catalog", "ls", vault,
                                                              "--catalog", cat)}
        # the old directory goes, the big file changes: their archives are no longer needed,
        # but keep.txt shares the first pack with old/ -- so that pack stays
        self.write(src, "big.bin", os.urandom(100 * KIB))
        self.backup(src, vault, cat)
        os.unlink(os.path.join(src, "old/x.txt"))
        os.unlink(os.path.join(src, "old/y.txt"))
        self.write(src, "keep.txt", b"kept, changed")
        self.backup(src, vault, cat, "--delete-removed")
        self.backup(src, vault, cat)  # a fourth snapshot: the oldest goes
        current = {r["archive_id"] for r in self.ok("catalog", "ls", vault, "--catalog", cat)}
        old_pack = before[os.path.join(src, "old/x.txt")]
        old_big = before[big]
        self.assertNotIn(old_pack, current)
        self.assertNotIn(old_big, current)

        r = self.floe("prune", vault, "--older-than", "0", "--catalog", cat)
        self.assertEqual(r.returncode, 2, r.stderr)  # not a terminal, no --yes
        self.assertIn(b"--yes", r.stderr)
        out = self.ok("prune", vault, "--older-than", "30", "--dry-run", "--catalog", cat)
        self.assertEqual(out[-1]["archives"], 0)  # everything was superseded moments ago
        out = self.ok("prune", vault, "--older-than", "0", "--dry-run", "--catalog", cat)
        listed = {o["archive_id"]: o for o in out if "archive_id" in o}
        self.assertEqual(set(k["kind"] for k in listed.values()), {"file", "pack", "catalog"})
        self.assertIn(old_pack, listed)
        self.assertIn(old_big, listed)
        self.assertEqual(len([k for k in listed.values() if k["kind"] == "catalog"]), 1)
        self.assertFalse(set(listed) & current)
        for o in listed.values():
            self.assertFalse(o["deleted"])
            self.assertLess(o["age_days"], 1)  # young: inside the 90 days, charged
        self.assertGreater(out[-1]["early_deletion_usd"], 0)
        self.assertEqual(out[-1]["archives"], len(listed))
        self.assertGreater(out[-1]["storage_usd_month"], 0)
        text = self.floe("prune", vault, "--older-than", "0", "--dry-run", "--catalog", cat)
        self.assertIn(b"early-deletion charge", text.stdout)
        in_vault = self.inventory_ids(vault)
        self.assertTrue(set(listed) <= in_vault)  # a dry run deletes nothing

        out = self.ok("prune", vault, "--older-than", "0", "--yes", "--catalog", cat)
        self.assertEqual({o["archive_id"] for o in out if o.get("deleted")}, set(listed))
        after = self.inventory_ids(vault)
        self.assertFalse(set(listed) & after)
        self.assertTrue(current <= after)  # a current file's archive is never deleted
        again = self.ok("prune", vault, "--older-than", "0", "--yes", "--catalog", cat)
        self.assertEqual(again[-1]["archives"], 0)
        st = self.ok("catalog", "stats", vault, "--catalog", cat)
        self.assertEqual(st[0]["archives_deleted"], len(listed))
        # the current files still restore
        to = os.path.join(self.tmp.name, vault + "-restored")
        self.restore(vault, cat, to)
        with open(os.path.join(to, src.lstrip("/"), "keep.txt"), "rb") as f:
            self.assertEqual(f.read(), b"kept, changed")

    def test_prune_refused_by_vault_lock(self):
        vault, src, cat = self.fresh()
        self.write(src, "f.txt", b"one")
        self.backup(src, vault, cat)
        self.write(src, "f.txt", b"two")
        self.backup(src, vault, cat)
        deny = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "no-delete", "Effect": "Deny", "Principal": "*",
             "Action": "glacier:DeleteArchive", "Resource": "*"}]})
        r = self.floe("vault", "lock", "initiate", vault, "--policy", deny)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.floe("prune", vault, "--older-than", "0", "--yes", "--catalog", cat)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"AccessDeniedException", r.stderr)
        self.assertIn(b"vault lock", r.stderr)
        out = self.ok("prune", vault, "--older-than", "0", "--dry-run", "--catalog", cat)
        self.assertGreater(out[-1]["archives"], 0)  # nothing was recorded deleted
        r = self.floe("prune", vault, "--catalog", cat)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"--older-than", r.stderr)

    # ---- rebuild ----
    def test_rebuild_from_snapshot(self):
        vault, src, cat = self.fresh()
        files = self.tree(src)
        self.backup(src, vault, cat)
        self.write(src, "a.txt", b"second version\n")
        files[os.path.join(src, "a.txt")] = b"second version\n"
        self.backup(src, vault, cat)
        r = self.floe("catalog", "rebuild", vault, "--catalog", cat)
        self.assertEqual(r.returncode, 2, r.stderr)  # it exists
        self.assertIn(b"--force", r.stderr)
        os.unlink(cat)
        out = self.ok("catalog", "rebuild", vault, "--catalog", cat, "--tier", "Expedited")
        self.assertTrue(out[0]["from_snapshot"])
        self.assertFalse(out[0]["inventory_reused"])
        rows = self.ok("catalog", "ls", vault, "--catalog", cat)
        self.assertEqual(sorted(r["path"] for r in rows), sorted(files))
        st = self.ok("catalog", "stats", vault, "--catalog", cat)
        self.assertEqual(st[0]["runs"], 2)
        self.assertEqual(st[0]["archives_catalog"], 2)  # the newest snapshot knows itself too
        to = os.path.join(self.tmp.name, vault + "-restored")
        self.restore(vault, cat, to)
        self.check_restored(to, files)
        # --force replaces it; the inventory job of the first rebuild is reused
        out = self.ok("catalog", "rebuild", vault, "--catalog", cat, "--force")
        self.assertTrue(out[0]["inventory_reused"])
        self.assertFalse([n for n in os.listdir(self.tmp.name) if ".rebuild" in n])

    def test_rebuild_from_descriptions_and_pack_indexes(self):
        vault, src, cat = self.fresh()
        files = self.tree(src)
        for i in range(40):  # a pack of several MiB: its index starts before the last MiB
            files[self.write(src, "many/f%02d.bin" % i, os.urandom(60 * KIB))] = None
        for p, d in list(files.items()):
            if d is None:
                with open(p, "rb") as f:
                    files[p] = f.read()
        # a large file whose path does not fit a description: reported and skipped
        deep = "/".join(["d" * 200] * 6)
        long_path = self.write(src, deep + "/long.bin", os.urandom(100 * KIB))
        self.backup(src, vault, cat, "--no-snapshot")
        self.write(src, "a.txt", b"second version\n")
        files[os.path.join(src, "a.txt")] = b"second version\n"
        self.backup(src, vault, cat, "--no-snapshot")
        mtimes = {p: int(os.stat(p).st_mtime) for p in files}
        before = {r["path"]: r for r in self.ok("catalog", "ls", vault, "--catalog", cat)}
        os.unlink(cat)
        r = self.floe("--json", "catalog", "rebuild", vault, "--catalog", cat, "--tier",
                      "Expedited")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        warnings = [x for x in lines if "warning" in x]
        self.assertEqual(len(warnings), 1, lines)
        self.assertIn("%~", warnings[0]["warning"])
        out = [x for x in lines if "catalog" in x][0]
        self.assertFalse(out["from_snapshot"])
        self.assertEqual(out["archives_skipped"], 1)
        self.assertGreaterEqual(out["jobs"], 2)  # pack index ranges
        rows = {r["path"]: r for r in self.ok("catalog", "ls", vault, "--catalog", cat)}
        self.assertEqual(sorted(rows), sorted(files))
        self.assertNotIn(long_path, rows)
        for p, row in rows.items():
            self.assertEqual((row["size"], row["kind"], row["archive_id"]),
                             (before[p]["size"], before[p]["kind"], before[p]["archive_id"]), p)
            self.assertEqual(row["mtime"], mtimes[p], p)
        to = os.path.join(self.tmp.name, vault + "-restored")
        self.restore(vault, cat, to)
        self.check_restored(to, files)
        r = self.floe("catalog", "rebuild", "no-such-vault", "--catalog", cat + ".x")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"ResourceNotFoundException", r.stderr)


    def test_rebuild_from_mt2_descriptions(self):
        """A vault written by mt-aws-glacier (archives described `mt2 ` + base64url JSON, made
        here with boto3 as mt-aws-glacier would) plus floe's own --description-format mt2
        backup: rebuild without a snapshot records each as its relative name and mtime, a
        malformed mt2 description is warned about and skipped, another program's is skipped, and
        the files restore under --to by their names."""
        import base64

        def mt2(name, stamp):
            doc = json.dumps({"mtime": stamp, "filename": name}, ensure_ascii=False)
            return "mt2 " + base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")

        vault, src, cat = self.fresh()
        theirs = {"notes/r\u00e9sum\u00e9.txt": (os.urandom(2000), "20131102T120000Z", 1383393600),
                  "top.bin": (os.urandom(70 * KIB), "19991231T235959Z", 946684799)}
        ids = {}
        for name, (data, stamp, _) in theirs.items():
            ids[name] = self.glacier.upload_archive(vaultName=vault, body=data,
                                                    archiveDescription=mt2(name, stamp))["archiveId"]
        bad = self.glacier.upload_archive(vaultName=vault, body=b"x",
                                          archiveDescription="mt2 !!!!")["archiveId"]
        self.glacier.upload_archive(vaultName=vault, body=b"y", archiveDescription="hello")
        ours = self.write(src, "mine/a.txt", b"floe wrote this one")
        os.utime(ours, (1700000000, 1700000000))
        self.backup(src, vault, cat, "--layout", "file-per-archive", "--description-format",
                    "mt2", "--no-snapshot")
        os.unlink(cat)
        r = self.floe("--json", "catalog", "rebuild", vault, "--catalog", cat, "--tier",
                      "Expedited")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        warnings = [x for x in lines if "warning" in x]
        self.assertEqual([w["path"] for w in warnings], [bad], lines)
        out = [x for x in lines if "catalog" in x][0]
        self.assertFalse(out["from_snapshot"])
        self.assertEqual((out["files_recorded"], out["archives_skipped"]), (3, 2))
        rows = {x["path"]: x for x in self.ok("catalog", "ls", vault, "--catalog", cat)}
        self.assertEqual(sorted(rows), sorted(list(theirs) + ["mine/a.txt"]))
        for name, (data, _, secs) in theirs.items():
            self.assertEqual((rows[name]["size"], rows[name]["mtime"], rows[name]["kind"],
                              rows[name]["archive_id"]), (len(data), secs, "file", ids[name]))
        self.assertEqual(rows["mine/a.txt"]["mtime"], 1700000000)
        to = os.path.join(self.tmp.name, vault + "-restored")
        self.restore(vault, cat, to)
        self.check_restored(to, {k: v[0] for k, v in theirs.items()})
        self.check_restored(to, {"mine/a.txt": b"floe wrote this one"})
        self.assertEqual(os.stat(os.path.join(to, "top.bin")).st_mtime, 946684799)

if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
