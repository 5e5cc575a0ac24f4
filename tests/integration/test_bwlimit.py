#!/usr/bin/env python3
"""floe --bwlimit: one limit shared by every connection of the process, held second by second.

floe uploads and retrieves through tools/linkem.c (no delay, no cap of its own), whose rate
log counts the bytes it delivered each second in each direction; the test checks the average
rate over the transfer (within 10% of the limit) and that no whole second bursts above 1.5x;
one longer upload checks the issue's target itself (+-5%, no more than one second above 2x).
Then UP:DOWN, a timetable, and the command-line checks (exit 2, the rule in the message).
The long form of the rate targets (50M over 30 s) is bench/e2e/bwlimit-bench.sh.

usage: test_bwlimit.py FLOE FLOE_VAULT LINKEM"""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

FLOE = VAULT = LINKEM = None
MIB = 1 << 20


class BwlimitTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = servers.tempdir("floe-bwlimit-")
        cls.vault = servers.start_vault(VAULT)
        cls.rate_log = os.path.join(cls.tmp, "rate.log")
        cls.link = servers.start_linkem(LINKEM, cls.vault.port, "--rate-log", cls.rate_log)
        cls.env = servers.client_env(cls.tmp)
        cls.url = f"http://127.0.0.1:{cls.link.port}"
        cls.floe("vault", "create", "v")

    @classmethod
    def tearDownClass(cls):
        cls.link.stop()
        cls.vault.stop()

    @classmethod
    def floe(cls, *args, check=True, timeout=300):
        r = subprocess.run([FLOE, "--endpoint-url", cls.url, *args], env=cls.env,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("floe %s: exit %d\n%s" % (args, r.returncode, r.stderr))
        return r

    def file(self, name, mib):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(os.urandom(mib * MIB))
        return path

    def seconds(self, col, since):
        """The rate log's whole seconds (bytes in column col) from line `since` on, without
        the idle seconds around the transfer and its first and last (partial) seconds."""
        with open(self.rate_log) as f:
            rows = [line.split() for line in f.read().splitlines()[since:] if line.strip()]
        busy = [int(r[col]) for r in rows if int(r[col]) > 64 * 1024]
        return busy[1:-1]

    def log_lines(self):
        with open(self.rate_log) as f:
            return len(f.read().splitlines())

    def check_rate(self, secs, limit, took, nbytes, floor=0.9):
        """The whole seconds in the middle of the transfer average within 10% of the limit
        (not below floor x the limit), none is above 1.5x, and the whole command (start-up and
        requests around the bytes included) was not faster than the limit allows."""
        self.assertGreaterEqual(len(secs), 2, "%s (%.2f s)" % (secs, took))
        avg = sum(secs) / len(secs)
        self.assertTrue(floor * limit < avg < 1.1 * limit,
                        "%.2f MB/s a second for a %.2f MB/s limit: %s" % (avg / 1e6, limit / 1e6,
                                                                         secs))
        self.assertLess(max(secs), limit * 1.5, "a second above 1.5x the limit: %s" % secs)
        self.assertLess(nbytes / took, limit * 1.1)

    def test_upload_holds_the_limit_across_connections(self):
        # 24 MiB in 4 MiB parts, 4 in flight: 4 connections share one 5 MiB/s limit
        path = self.file("up.bin", 24)
        since = self.log_lines()
        t0 = time.monotonic()
        r = self.floe("--bwlimit", "5M", "--json", "upload", "--part-size", "4M",
                      "--concurrency", "4", "--no-checkpoint", "v", path)
        took = time.monotonic() - t0
        self.assertEqual(json.loads(r.stdout)["size"], 24 * MIB)
        time.sleep(1.2)  # the rate log's last second
        self.check_rate(self.seconds(1, since), 5 * MIB, took, 24 * MIB)

    def test_target_average_within_5_percent(self):
        """The issue's target at a rate a loaded 2-core machine sustains: over ~10 s of an
        upload on 4 connections, the whole seconds counted by linkem (another process) average
        within +-5% of the limit, and no more than one second bursts above 2x. The long form
        (50M over 30 s) is bench/e2e/bwlimit-bench.sh."""
        limit, mib = 4 * MIB, 40
        path = self.file("target.bin", mib)
        since = self.log_lines()
        t0 = time.monotonic()
        self.floe("--bwlimit", "4M", "upload", "--part-size", "4M", "--concurrency", "4",
                  "--no-checkpoint", "v", path)
        took = time.monotonic() - t0
        time.sleep(1.2)  # the rate log's last second
        secs = self.seconds(1, since)
        self.assertGreaterEqual(len(secs), 6, "%s (%.2f s)" % (secs, took))
        avg = sum(secs) / len(secs)
        self.assertTrue(0.95 * limit <= avg <= 1.05 * limit,
                        "%.3f MiB/s a second for a 4 MiB/s limit: %s" % (avg / MIB, secs))
        self.assertLessEqual(sum(1 for x in secs if x > 2 * limit), 1,
                             "more than one second above 2x the limit: %s" % secs)
        # floe's own clock: the whole command (start-up included) was not faster either
        self.assertLessEqual(mib * MIB / took, 1.05 * limit)

    def test_single_request_upload_is_limited(self):
        path = self.file("single.bin", 12)
        t0 = time.monotonic()
        self.floe("--bwlimit", "4M", "upload", "--no-checkpoint", "v", path)
        took = time.monotonic() - t0
        self.assertGreater(took, 12 / 4 * 0.9, "12 MiB at 4 MiB/s took %.2f s" % took)

    def test_retrieve_uses_the_download_rate(self):
        path = self.file("down.bin", 24)
        r = self.floe("--json", "upload", "--no-checkpoint", "v", path)
        aid = json.loads(r.stdout)["archive_id"]
        out = os.path.join(self.tmp, "down.out")
        since = self.log_lines()
        t0 = time.monotonic()
        # the upload rate (1M) would take 24 s: the download one (4M) applies
        self.floe("--bwlimit", "1M:4M", "retrieve", "--segment-size", "4M", "--concurrency",
                  "4", "--no-checkpoint", "v", "--archive-id=" + aid, "-o", out)
        took = time.monotonic() - t0
        with open(path, "rb") as a, open(out, "rb") as b:
            self.assertEqual(a.read(), b.read())
        time.sleep(1.2)
        # a receive limit starts with one burst: the socket buffers on the way fill at once
        # (a few hundred KiB per connection) before TCP's window slows the sender
        # (the floor is lower: a verified retrieval hashes and writes every byte, and a busy
        # 2-core machine can make that, not the limit, the slower one)
        self.check_rate(self.seconds(2, since)[1:], 4 * MIB, took, 24 * MIB, floor=0.6)

    def test_timetable_in_force_now(self):
        # every hour of the day says 2M: whatever the local time, the limit is 2 MiB/s
        table = " ".join("%02d:00,2M" % h for h in range(24))
        path = self.file("table.bin", 8)
        t0 = time.monotonic()
        self.floe("--bwlimit", table, "upload", "--no-checkpoint", "v", path)
        took = time.monotonic() - t0
        self.assertGreater(took, 8 / 2 * 0.9)
        # and "off" at every hour is no limit
        table = " ".join("%02d:00,off" % h for h in range(24))
        t0 = time.monotonic()
        self.floe("--bwlimit", table, "upload", "--no-checkpoint", "v", path)
        self.assertLess(time.monotonic() - t0, 8 / 2 * 0.9)

    def test_bad_values(self):
        for value, msg in [("fast", "a rate is a number"),
                           ("10M:x", "a rate is a number"),
                           ("25:00,1M", "the time is HH:MM"),
                           ("Xyz-08:00,1M", "the day is one of"),
                           ("08:00,1M Mon-09:00,2M", "every entry or in none"),
                           ("08:00,1M 08:00,2M", "same time"),
                           ("08:00,1M 9:00", "timetable entry is HH:MM,RATE")]:
            r = self.floe("--bwlimit", value, "upload", "v", "/nonexistent", check=False)
            self.assertEqual(r.returncode, 2, (value, r.stderr))
            self.assertIn(msg, r.stderr, value)
        r = self.floe("upload", "v", "--bwlimit", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--bwlimit needs a value", r.stderr)


if __name__ == "__main__":
    FLOE, VAULT, LINKEM = sys.argv[1:4]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[4:])
