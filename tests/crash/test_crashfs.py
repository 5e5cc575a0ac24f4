#!/usr/bin/env python3
"""The crashfs shim itself (tests/crash/crashfs.c): a child process makes a fixed sequence of
synced and unsynced changes and "loses power" before its last call; over many seeds the
parent sees that what was synced always survives, and that each kind of unsynced change is
sometimes kept and sometimes lost (an overwrite, a torn append with zeros past the old end, a
file whose directory was not synced, a rename, an unlink), and that writes the shim cannot see
(pwritev to an O_DIRECT file, as io_uring writes are) are covered by the file's image: after
its sync always there, after it each sector kept or reverted.
Usage: test_crashfs.py <crashfs.so>."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

SHIM = None
CHILD = r"""
import mmap, os, sys
d = sys.argv[1]
def unseen(fd, ch, n, off):  # pwritev is not wrapped by the shim, like an io_uring write
    buf = mmap.mmap(-1, n)
    buf.write(ch * n)
    os.pwritev(fd, [buf], off)
def put(name, data, sync):
    fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)
def dsync():
    fd = os.open(d, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
put("synced", b"S" * 3000, True)
put("over", b"o" * 2048, True)
put("append", b"a" * 512, True)
put("doomed", b"u" * 100, True)
put("target", b"T-old", True)
dsync()
fd = os.open(os.path.join(d, "over"), os.O_WRONLY)
os.pwrite(fd, b"N" * 2048, 0)                 # unsynced overwrite
os.close(fd)
fd = os.open(os.path.join(d, "append"), os.O_WRONLY | os.O_APPEND)
os.write(fd, b"b" * 4096)                     # unsynced append
os.close(fd)
put("fresh", b"F" * 10, True)                 # data synced, directory not
put("target.tmp", b"T-new", True)
os.rename(os.path.join(d, "target.tmp"), os.path.join(d, "target"))  # rename not synced
os.unlink(os.path.join(d, "doomed"))          # unlink not synced
dfd = os.open(os.path.join(d, "direct"), os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
unseen(dfd, b"D", 4096, 0)
os.fsync(dfd)                                 # D synced
unseen(dfd, b"E", 8192, 0)                    # unseen, unsynced: over D and past its end
put("last", b"", True)                        # the power cut falls before this one's fsync
"""


class CrashFs(unittest.TestCase):
    def run_child(self, tmp, crash_at, seed):
        d = os.path.join(tmp, "root")
        if os.path.isdir(d):
            for n in os.listdir(d):
                os.unlink(os.path.join(d, n))
        else:
            os.mkdir(d)
        stash = os.path.join(tmp, "stash")
        os.makedirs(stash, exist_ok=True)
        report = os.path.join(tmp, "report")
        env = dict(os.environ, LD_PRELOAD=SHIM, FLOE_CRASH_ROOT=d, FLOE_CRASH_STASH=stash,
                   FLOE_CRASH_REPORT=report, FLOE_CRASH_AT=str(crash_at),
                   FLOE_CRASH_SEED=str(seed))
        env.pop("ASAN_OPTIONS", None)
        r = subprocess.run([sys.executable, "-c", CHILD, d], env=env, capture_output=True)
        with open(report) as f:
            rep = json.loads(f.read())
        files = {}
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                files[n] = f.read()
        return r.returncode, rep, files

    def test_fates(self):
        with tempfile.TemporaryDirectory(prefix="floe-crashfs-") as tmp:
            rc, rep, files = self.run_child(tmp, 0, 1)
            self.assertEqual(rc, 0)
            self.assertNotIn("crashed", rep)
            crash_at = rep["changes"]  # the last fsync
            seen = {k: set() for k in ("over", "append", "fresh", "target", "doomed",
                                       "direct", "direct_tail", "fresh_direct")}
            for seed in range(1, 41):
                rc, rep, files = self.run_child(tmp, crash_at, seed)
                self.assertEqual(rc, -9, "killed by the shim")
                self.assertTrue(rep["crashed"])
                self.assertEqual(files["synced"], b"S" * 3000)  # synced: always intact
                over = files["over"]
                self.assertEqual(len(over), 2048)
                self.assertTrue(set(over) <= set(b"oN"), over)
                seen["over"].add("new" if over == b"N" * 2048 else
                                 "old" if over == b"o" * 2048 else "torn")
                ap = files["append"]
                self.assertEqual(ap[:512], b"a" * 512)
                self.assertIn(len(ap), (512, 4608))
                seen["append"].add("lost" if len(ap) == 512 else "whole" if
                                   ap[512:] == b"b" * 4096 else "torn")
                if len(ap) > 512:  # every sector either arrived or reads as zeros
                    for s in range(512, 4608, 512):
                        self.assertIn(ap[s:s + 512], (b"b" * 512, b"\0" * 512))
                seen["fresh"].add("fresh" in files)
                self.assertIn(files["target"], (b"T-old", b"T-new"))
                seen["target"].add(files["target"])
                if "doomed" in files:
                    self.assertEqual(files["doomed"], b"u" * 100)
                seen["doomed"].add("doomed" in files)
                self.assertEqual(rep["direct_files"], 1)
                seen["fresh_direct"].add("direct" in files)  # its directory was not synced
                dr = files.get("direct", b"")  # an unseen write: sectors of D or E, then E or 0
                self.assertEqual(len(dr), 8192 if dr else 0)
                for s in range(0, len(dr), 512):
                    sec = dr[s:s + 512]
                    self.assertIn(sec, (b"E" * 512, b"D" * 512 if s < 4096 else b"\0" * 512))
                    seen["direct" if s < 4096 else "direct_tail"].add(sec[:1])
            self.assertEqual(seen["over"], {"new", "old", "torn"})
            self.assertEqual(seen["append"], {"lost", "whole", "torn"})
            self.assertEqual(seen["fresh"], {True, False})
            self.assertEqual(seen["target"], {b"T-old", b"T-new"})
            self.assertEqual(seen["doomed"], {True, False})
            self.assertEqual(seen["direct"], {b"D", b"E"})
            self.assertEqual(seen["direct_tail"], {b"E", b"\0"})
            self.assertEqual(seen["fresh_direct"], {True, False})

    def test_synced_directory_keeps_entries(self):
        """With the directory synced after the rename and unlink, they always stay."""
        global CHILD
        saved = CHILD
        CHILD = CHILD.replace('put("last", b"", True)', 'dsync()\nput("last", b"", True)')
        try:
            with tempfile.TemporaryDirectory(prefix="floe-crashfs-") as tmp:
                crash_at = self.run_child(tmp, 0, 1)[1]["changes"]
                for seed in range(1, 9):
                    rc, rep, files = self.run_child(tmp, crash_at, seed)
                    self.assertEqual(rc, -9)
                    self.assertEqual(files["target"], b"T-new")
                    self.assertNotIn("doomed", files)
                    self.assertEqual(files["fresh"], b"F" * 10)
                    self.assertIn(files["direct"][:512], (b"D" * 512, b"E" * 512))
        finally:
            CHILD = saved


if __name__ == "__main__":
    SHIM = sys.argv.pop(1)
    unittest.main(verbosity=2)
