#!/usr/bin/env python3
"""Inventories read in parallel byte ranges (floe/invrange.h) against floe-vault on
127.0.0.1 (started here, stopped by PID): a vault of a few thousand archives whose
descriptions are full of braces, quotes, backslashes and an escaped `{"ArchiveId":`, listed by
`floe inventory` in JSON and CSV with small ranges (FLOE_INVENTORY_RANGE_SIZE=4096, three at
once) gives exactly the records of one range covering the whole output and of the raw output
parsed by Python, in the same order; the GETs seen by a logging proxy are ranged and overlap;
`floe migrate plan` plans every archive through the same path; an overlap shorter than a
record fails with a clear message and exit 1, and out-of-bounds settings exit 2; Ctrl-C while ranges are read exits 130 with
the --job-id to resume with. A proxy that adds x-amz-sha256-tree-hash to each
ranged answer: the right hash passes, a wrong one fails (exit 1, the byte range named). moto,
which ignores Range, is read whole once and gives the same records (skipped without moto).

usage: test_inventory_ranged.py FLOE FLOE_VAULT   (FLOE_TEST_SEED: the descriptions' seed)
"""
import concurrent.futures
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import unittest

import retrieve_helper as rh
import servers
import vault_helper

FLOE = FLOE_VAULT = None
N = int(os.environ.get("FLOE_TEST_INVENTORY_ARCHIVES", "2500"))
PIECES = ['{"ArchiveId":"x"}', "{", "}", "},{", "]", "[", '"', "\\", '\\"', "\\\\", ",", ":",
          " ", "/", "ArchiveId", "a", "0"]


def description(rng):
    n = rng.choice([0, 1, 5, 40, 200, rng.randrange(1024)])
    out = ""
    while len(out) < n:
        out += rng.choice(PIECES)
    return out[:n].strip(" ")  # HTTP trims a header's outer blanks


class InventoryRanged(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        seed = int(os.environ.get("FLOE_TEST_SEED") or random.randrange(1 << 30))
        print("FLOE_TEST_SEED=%d" % seed, file=sys.stderr)
        rng = random.Random(seed)
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-invrange-")
        try:
            cls.vault = vault_helper.Vault(FLOE_VAULT)
        except BaseException:
            cls.tmp.cleanup()
            raise
        cls.floe = rh.Floe(FLOE, cls.vault.url, cls.tmp.name)
        cls.floe.run("vault", "create", "inv")
        descs = [description(rng) for _ in range(N)]
        bodies = [b"%d" % i for i in range(N)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # the server group-commits
            ids = list(pool.map(lambda i: cls.vault.upload("inv", bodies[i], descs[i]),
                                range(N)))
        cls.want = {a: (d, len(b)) for a, d, b in zip(ids, descs, bodies)}

    @classmethod
    def tearDownClass(cls):
        cls.vault.close()
        cls.tmp.cleanup()

    def listing(self, fmt, job, env, url=None):
        f = rh.Floe(FLOE, url or self.vault.url, self.tmp.name)
        f.env.update(env)
        p = f.run("--json", "inventory", "inv", "--format", fmt, "--job-id", job)
        return [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]

    def job(self, fmt):
        raw = os.path.join(self.tmp.name, "raw." + fmt)
        p = self.floe.run("inventory", "inv", "--format", fmt, "-o", raw, "--raw", "--overwrite",
                          "--poll-interval", "0.05")
        job = re.search(rb"job (\S+) initiated", p.stderr).group(1).decode()
        with open(raw, "rb") as fh:
            return job, fh.read()

    def test_json_and_csv_small_ranges_match_whole(self):
        for fmt in ("JSON", "CSV"):
            with self.subTest(format=fmt):
                job, raw = self.job(fmt)
                self.assertGreater(len(raw), 20 * 4096)  # many ranges
                proxy = rh.CorruptProxy(self.vault.port)  # count=0: only logs
                try:
                    small = self.listing(fmt, job, {"FLOE_INVENTORY_RANGE_SIZE": "4096",
                                                    "FLOE_INVENTORY_RANGE_CONCURRENCY": "3"},
                                         url=proxy.url)
                    gets = [r for (m, path, r, st) in proxy.log
                            if m == "GET" and path.endswith("/output")]
                finally:
                    proxy.close()
                whole = self.listing(fmt, job, {"FLOE_INVENTORY_RANGE_SIZE": "1073741824"})
                self.assertEqual(small, whole)  # the same records, in the same order
                self.assertEqual(len(small), N)
                got = {r["ArchiveId"]: (r["ArchiveDescription"], r["Size"]) for r in small}
                self.assertEqual(got, self.want)
                if fmt == "JSON":  # and what Python's json reads from the raw output
                    doc = json.loads(raw)
                    self.assertEqual([a["ArchiveId"] for a in doc["ArchiveList"]],
                                     [r["ArchiveId"] for r in small])
                # ranged GETs: one per 4 KiB range, each reaching into the next range
                ranges = len(raw) // 4096 + (len(raw) % 4096 > 0)
                self.assertEqual(len(gets), ranges)
                spans = sorted(tuple(map(int, re.match(r"bytes=(\d+)-(\d+)$", g).groups()))
                               for g in gets)
                for i, (first, last) in enumerate(spans):
                    # range i: one byte before it, 16 KiB of overlap after it (the first
                    # asks for all of that, whatever the output's size)
                    end = (i + 1) * 4096 + 16384
                    self.assertEqual(first, i * 4096 - 1 if i else 0)
                    self.assertEqual(last, (end if i == 0 else min(end, len(raw))) - 1)

    def test_plan_reads_ranges(self):
        dest = os.path.join(self.tmp.name, "dest")
        f = rh.Floe(FLOE, self.vault.url, self.tmp.name)
        f.env.update(FLOE_INVENTORY_RANGE_SIZE="2048", FLOE_INVENTORY_RANGE_CONCURRENCY="2")
        p = f.run("--json", "migrate", "plan", "inv", "--to", dest, "--list", timeout=600)
        lines = [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]
        self.assertEqual(lines[-1]["archives"], N)
        self.assertEqual({x["archive_id"] for x in lines[:-1]}, set(self.want))

    def test_range_tree_hash_checked(self):
        job, _ = self.job("JSON")
        env = {"FLOE_INVENTORY_RANGE_SIZE": "8192"}
        for good in (True, False):
            proxy = rh.CorruptProxy(self.vault.port, add_hash="good" if good else "bad")
            try:
                f = rh.Floe(FLOE, proxy.url, self.tmp.name)
                f.env.update(env)
                p = f.run("--json", "inventory", "inv", "--job-id", job, check=False)
            finally:
                proxy.close()
            if good:
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(len(p.stdout.decode().splitlines()), N)
            else:
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"do not match their x-amz-sha256-tree-hash", p.stderr)
                self.assertRegex(p.stderr, rb"inventory bytes \d+-\d+ ")

    def test_moto_ignores_range(self):
        try:
            import boto3  # noqa: F401
            import moto  # noqa: F401
        except ImportError:
            self.skipTest("moto or boto3 not installed")
        m = servers.start_moto()
        try:
            g = boto3.client("glacier", endpoint_url=m.url, region_name="us-east-1",
                             aws_access_key_id="AKIDMOTO", aws_secret_access_key="moto")
            g.create_vault(vaultName="m")
            rng = random.Random(5)
            want = {}
            for i in range(150):
                d = description(rng) or "d"
                want[g.upload_archive(vaultName="m", body=b"%d" % i,
                                      archiveDescription=d)["archiveId"]] = d
            f = rh.Floe(FLOE, m.url, self.tmp.name, access="AKIDMOTO", secret="moto")
            f.env.update(FLOE_INVENTORY_RANGE_SIZE="4096")
            p = f.run("--json", "inventory", "m", "--poll-interval", "0.5", "--timeout", "120")
            rows = [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]
            self.assertEqual({r["ArchiveId"]: r["ArchiveDescription"] for r in rows}, want)
        finally:
            m.stop()

    def test_interrupt_while_reading_ranges(self):
        job, _ = self.job("JSON")
        proxy = rh.CorruptProxy(self.vault.port, delay_s=1.0)  # each range takes a second
        try:
            f = rh.Floe(FLOE, proxy.url, self.tmp.name)
            f.env.update(FLOE_INVENTORY_RANGE_SIZE="4096", FLOE_INVENTORY_RANGE_CONCURRENCY="1")
            proc = subprocess.Popen([FLOE, "--endpoint-url", proxy.url, "inventory", "inv",
                                     "--job-id", job], env=f.env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
            try:
                # the first range's rows are out: the ranges after it are being read
                first = proc.stdout.readline()
                self.assertTrue(first.strip(), "no row before the interrupt")
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=120)
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        finally:
            proxy.close()
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn(b"interrupted", err)
        self.assertIn(b"floe inventory inv --job-id " + job.encode(), err)
        self.assertLess(len(out.splitlines()) + 1, N)  # stopped before the end

    def test_settings_out_of_bounds_refused(self):
        for var, val, bounds in (("FLOE_INVENTORY_RANGE_SIZE", "100", b"from 256 to 1073741824"),
                                 ("FLOE_INVENTORY_RANGE_CONCURRENCY", "65", b"from 1 to 64"),
                                 ("FLOE_INVENTORY_RANGE_OVERLAP", "16k", b"from 1 to")):
            f = rh.Floe(FLOE, self.vault.url, self.tmp.name)
            f.env[var] = val
            p = f.run("inventory", "inv", check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(("%s=%s is not valid" % (var, val)).encode(), p.stderr)
            self.assertIn(bounds, p.stderr)

    def test_overlap_shorter_than_a_record_fails_clearly(self):
        job, _ = self.job("JSON")
        f = rh.Floe(FLOE, self.vault.url, self.tmp.name)
        f.env.update(FLOE_INVENTORY_RANGE_SIZE="4096", FLOE_INVENTORY_RANGE_OVERLAP="64")
        p = f.run("inventory", "inv", "--job-id", job, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"longer than the overlap", p.stderr)
        self.assertIn(b"FLOE_INVENTORY_RANGE_OVERLAP", p.stderr)


if __name__ == "__main__":
    FLOE, FLOE_VAULT = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
