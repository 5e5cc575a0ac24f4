#!/usr/bin/env python3
"""floe bench's workloads (docs/bench.md): its own floe-vault when no --endpoint-url is given
(started on a free loopback port, removed afterwards), a floe-vault the test starts, the
per-operation records (--csv), the whole result (--json), the warm-up, the concurrency sweep,
`bench compare`, Ctrl-C, and every error a user can hit. Everything the benchmark creates is
deleted: each test checks the vault (through boto3) and the temporary directory afterwards.
Speed is never asserted: only that the numbers are there and consistent.

usage: test_bench.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

FLOE = VAULT_BIN = None
MIB = 1 << 20


class BenchTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = servers.tempdir("floe-bench-test-")
        cls.vault = servers.start_vault(VAULT_BIN)
        cls.glacier = boto3.client("glacier", endpoint_url=cls.vault.url, region_name="us-east-1",
                                   aws_access_key_id=servers.LOCAL_AK,
                                   aws_secret_access_key=servers.LOCAL_SK,
                                   config=Config(retries={"max_attempts": 1}))

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()

    def setUp(self):
        # floe bench's own temporary files go here: it must be empty after every run
        self.benchtmp = servers.tempdir("floe-bench-tmpdir-")
        self.env = servers.client_env(self.tmp)
        self.env["TMPDIR"] = self.benchtmp
        self.env["FLOE_VAULT_BIN"] = VAULT_BIN

    def tearDown(self):
        self.assertEqual(os.listdir(self.benchtmp), [], "floe bench left files in TMPDIR")

    def floe(self, *args, endpoint=None, timeout=300):
        cmd = [FLOE, *args] if endpoint is None else [FLOE, "--endpoint-url", endpoint, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)

    def bench_json(self, *args, endpoint=None):
        r = self.floe("--json", "bench", *args, endpoint=endpoint)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, r.stdout)
        return json.loads(lines[0])

    def check_run(self, run, ops=None):
        if ops is not None:
            self.assertEqual(run["ops"], ops)
        self.assertEqual(run["errors"], 0)
        for which in ("ttfb", "total"):
            lat = run["latency_ms"][which]
            self.assertLessEqual(lat["p50"], lat["p90"])
            self.assertLessEqual(lat["p90"], lat["p99"])
            self.assertLessEqual(lat["p99"], lat["p99_9"])
            self.assertLessEqual(lat["p99_9"], lat["max"])
        # the first byte of an answer comes before the operation ends
        self.assertLessEqual(run["latency_ms"]["ttfb"]["p50"], run["latency_ms"]["total"]["max"])
        self.assertGreater(run["latency_ms"]["ttfb"]["p50"], 0)
        self.assertEqual(len(run["cdf_ms"]), 101)
        self.assertEqual(run["cdf_ms"], sorted(run["cdf_ms"]))
        self.assertGreater(run["seconds"], 0)
        self.assertGreater(run["client_cpu_s"], 0)
        self.assertEqual(len(run["timeline"]["ops_per_s"]), len(run["timeline"]["mb_per_s"]))

    def archives(self, vault):
        """Archives in a vault, counted from a fresh inventory (floe-vault with instant jobs)."""
        job = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "inventory-retrieval"})
        for _ in range(200):
            d = self.glacier.describe_job(vaultName=vault, jobId=job["jobId"])
            if d["Completed"]:
                break
            time.sleep(0.05)
        body = self.glacier.get_job_output(vaultName=vault, jobId=job["jobId"])["body"].read()
        return json.loads(body)["ArchiveList"]

    def our_vaults(self):
        return [v["VaultName"] for v in self.glacier.list_vaults()["VaultList"]
                if v["VaultName"].startswith("floe-bench-")]

    # ---- its own floe-vault ----
    def test_embedded_small_sweep(self):
        doc = self.bench_json("small", "--count", "12", "--warmup", "0", "--concurrency", "1,4",
                              "--size", "4KiB")
        self.assertEqual(doc["bench"], "small")
        self.assertTrue(doc["embedded"])
        self.assertRegex(doc["endpoint"], r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(doc["endpoint"], self.vault.url)
        self.assertEqual(doc["metric"], "ops_per_s")
        self.assertEqual([lvl["concurrency"] for lvl in doc["sweep"]], [1, 4])
        for lvl in doc["sweep"]:
            (run,) = lvl["runs"]
            self.check_run(run, ops=12)
            self.assertEqual(run["kinds"], {"put": 12})
            self.assertEqual(run["bytes"], 12 * 4096)
            self.assertGreaterEqual(run["server_cpu_s"], 0)  # the server is local: measured
        best = max(doc["sweep"], key=lambda lvl: lvl["ops_per_s"])
        self.assertEqual(doc["best"]["concurrency"], best["concurrency"])
        self.assertEqual(doc["ops_per_s"], best["ops_per_s"])
        self.assertGreater(doc["peak_rss_kib"], 0)
        self.assertEqual(doc["cleanup"], "ok")
        # the embedded server is gone (its port refuses) and its data directory with it
        port = int(doc["endpoint"].rsplit(":", 1)[1])
        with self.assertRaises(OSError):
            import socket
            socket.create_connection(("127.0.0.1", port), timeout=1).close()

    def test_embedded_text_table(self):
        r = self.floe("bench", "jobs", "--count", "9", "--warmup", "0", "--concurrency", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(its own floe-vault)", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^\s+3\s+0\s+9\s+0\s+0\s")
        self.assertRegex(r.stdout, r"best: concurrency 3, [\d.]+ ops/s")
        # each kind's own latency (3 workers share the count of 9: not always 3 each)
        per_kind = re.findall(r"(?m)^\s+(initiate|describe|list)\s+(\d+) ops, p50 [\d.]+ms", r.stdout)
        self.assertEqual({k for k, _ in per_kind}, {"initiate", "describe", "list"})
        self.assertEqual(sum(int(n) for _, n in per_kind), 9)
        self.assertIn("peak RSS", r.stdout)

    def test_live_line_on_a_terminal(self):
        import pty
        master, slave = pty.openpty()
        p = subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, "bench", "small",
                              "--duration", "2", "--warmup", "0", "--concurrency", "2"],
                             stdout=subprocess.PIPE, stderr=slave, text=True, env=self.env)
        os.close(slave)
        out, _ = p.communicate(timeout=120)
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
        os.close(master)
        self.assertEqual(p.returncode, 0, err)
        # redrawn in place twice a second, then cleared before the table
        lines = re.findall(rb"\rbench small c=2: (\d+) s, (\d+) ops \([\d.]+ ops/s\), [\d.]+ MB/s, 0 errors",
                           err)
        self.assertGreaterEqual(len(lines), 2, err)
        self.assertLessEqual(int(lines[0][1]), int(lines[-1][1]))
        self.assertIn("best: concurrency 2", out)
        self.assertNotIn("bench small c=2", out)  # progress stays on stderr

    def test_vault_bin_option_and_errors(self):
        self.env.pop("FLOE_VAULT_BIN")
        doc = self.bench_json("small", "--count", "2", "--warmup", "0", "--concurrency", "1",
                              "--vault-bin", VAULT_BIN)
        self.assertTrue(doc["embedded"])
        r = self.floe("bench", "small", "--vault-bin", "/nonexistent/floe-vault")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/floe-vault is not an executable file (--vault-bin)", r.stderr)
        # a server that dies at once is reported with its output
        r = self.floe("bench", "small", "--vault-bin", "/bin/false")
        self.assertEqual(r.returncode, 1)
        self.assertIn("floe-vault (/bin/false) exited before listening", r.stderr)
        self.env["FLOE_VAULT_BIN"] = "/nonexistent/fv"
        r = self.floe("bench", "small")
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/fv is not an executable file (FLOE_VAULT_BIN)", r.stderr)

    # ---- a floe-vault the test started (--endpoint-url) ----
    def test_upload_multipart_csv_and_runs(self):
        self.glacier.create_vault(vaultName="bu")
        path = os.path.join(self.tmp, "up.csv")
        doc = self.bench_json("upload", "bu", "--count", "2", "--warmup", "0", "--size", "3MiB",
                              "--part-size", "1MiB", "--runs", "2", "--concurrency", "2",
                              "--csv", path, "--overwrite", endpoint=self.vault.url)
        self.assertFalse(doc["embedded"])
        self.assertEqual(doc["vault"], "bu")
        self.assertEqual(doc["size"], 3 * MIB)
        self.assertEqual(doc["metric"], "mb_per_s")
        (lvl,) = doc["sweep"]
        self.assertEqual(len(lvl["runs"]), 2)
        for run in lvl["runs"]:
            self.check_run(run, ops=2)
            self.assertEqual(run["bytes"], 6 * MIB)
            self.assertGreater(run["client_cpu_s_per_gib"], 0)
            self.assertNotIn("server_cpu_s", run)  # not a server this command started
        with open(path) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 4)
        self.assertEqual({r["kind"] for r in rows}, {"upload"})
        self.assertEqual(sorted(r["run"] for r in rows), ["0", "0", "1", "1"])
        for r in rows:
            self.assertEqual((r["bytes"], r["status"], r["concurrency"]), (str(3 * MIB), "0", "2"))
            self.assertLessEqual(float(r["ttfb_s"]), float(r["total_s"]))
            self.assertGreaterEqual(float(r["start_s"]), 0)
        # every archive deleted, no multipart upload left, the given vault kept
        self.assertEqual(self.archives("bu"), [])
        self.assertEqual(self.glacier.list_multipart_uploads(vaultName="bu")["UploadsList"], [])
        self.assertEqual(self.our_vaults(), [])

    def test_size_distribution(self):
        path = os.path.join(self.tmp, "sizes.csv")
        doc = self.bench_json("small", "--size", "1KiB,3KiB", "--count", "10", "--warmup", "0",
                              "--concurrency", "2", "--csv", path, "--overwrite",
                              endpoint=self.vault.url)
        self.assertEqual(doc["sizes"], [1024, 3072])
        self.assertEqual(doc["size"], 3072)
        with open(path) as f:
            sizes = [int(r["bytes"]) for r in csv.DictReader(f)]
        self.assertEqual(sorted(set(sizes)), [1024, 3072])  # both, taken in turn
        self.assertLessEqual(abs(sizes.count(1024) - sizes.count(3072)), 2)
        doc = self.bench_json("upload", "--size", "1MiB,2MiB", "--part-size", "1MiB", "--count",
                              "2", "--warmup", "0", "--concurrency", "1", endpoint=self.vault.url)
        self.assertEqual(doc["sweep"][0]["runs"][0]["bytes"], 3 * MIB)
        self.assertIn("1 MiB, 2 MiB in turn", doc["what"])
        self.assertEqual(self.our_vaults(), [])

    def test_download_ranged(self):
        doc = self.bench_json("download", "--size", "4MiB", "--range", "2MiB", "--count", "2",
                              "--warmup", "0", "--concurrency", "2", "--segment-size", "1MiB",
                              endpoint=self.vault.url)
        (lvl,) = doc["sweep"]
        self.check_run(lvl["runs"][0], ops=2)
        self.assertEqual(lvl["runs"][0]["bytes"], 4 * MIB)
        self.assertEqual(lvl["runs"][0]["kinds"], {"download": 2})
        self.assertEqual(doc["range"], 2 * MIB)
        self.assertEqual(self.our_vaults(), [])  # its own vault, deleted with its archive

    def test_mixed_jobs_inventory(self):
        doc = self.bench_json("mixed", "--count", "40", "--warmup", "0", "--concurrency", "4",
                              "--mix", "put=1,get=1,delete=1,describe=1", endpoint=self.vault.url)
        run = doc["sweep"][0]["runs"][0]
        self.check_run(run, ops=40)
        self.assertLessEqual(set(run["kinds"]), {"put", "get", "delete", "describe"})
        self.assertGreaterEqual(len(run["kinds"]), 3)
        self.assertEqual(doc["mix"], {"put": 1, "get": 1, "delete": 1, "describe": 1})
        self.assertEqual(set(run["kind_latency_ms"]), set(run["kinds"]))
        doc = self.bench_json("jobs", "--count", "6", "--warmup", "0", "--concurrency", "1",
                              endpoint=self.vault.url)
        run = doc["sweep"][0]["runs"][0]
        self.assertEqual(run["kinds"], {"initiate": 2, "describe": 2, "list": 2})
        for kind, lat in run["kind_latency_ms"].items():
            self.assertLessEqual(lat["p50"], lat["max"], kind)
            self.assertLessEqual(lat["max"], run["latency_ms"]["total"]["max"], kind)
        self.assertEqual(self.our_vaults(), [])
        # parsing needs no server (and starts none)
        self.env.pop("FLOE_VAULT_BIN")
        self.env["PATH"] = "/nonexistent"
        doc = self.bench_json("inventory", "--archives", "500", "--count", "3", "--warmup", "0",
                              "--concurrency", "1,2")
        self.assertEqual(doc["endpoint"], "")
        for lvl in doc["sweep"]:
            run = lvl["runs"][0]
            self.assertEqual(run["kinds"], {"parse": 3})
            self.assertEqual(run["bytes"] % 3, 0)
            self.assertGreater(run["bytes"], 500 * 138)
            self.assertEqual(run["latency_ms"]["ttfb"]["max"], 0)  # no request, no first byte

    def test_duration_and_warmup(self):
        path = os.path.join(self.tmp, "d.csv")
        t0 = time.time()
        doc = self.bench_json("small", "--duration", "1.5", "--warmup", "1", "--concurrency",
                              "2", "--size", "1KiB", "--csv", path, "--overwrite",
                              endpoint=self.vault.url)
        elapsed = time.time() - t0
        run = doc["sweep"][0]["runs"][0]
        self.assertGreater(run["ops"], 0)
        # bounded by the duration: within one operation of it (a 1 KiB upload, which a loaded
        # machine's fsync can hold for seconds; one that ran on to the default 10 s would not
        # pass)
        self.assertGreaterEqual(run["seconds"], 1.5)
        self.assertLess(run["seconds"], 1.5 + 5)
        self.assertGreaterEqual(elapsed, 2.5)  # the warm-up ran, before the measured phase
        # a whole second per bucket, the last one 0.25-1.25 s: 2, or 3 if the last op ran late
        # (seconds is printed to the millisecond: either side of a bucket's edge)
        self.assertIn(len(run["timeline"]["ops_per_s"]),
                      {int(run["seconds"] + 0.7495), int(run["seconds"] + 0.7505)})
        with open(path) as f:
            rows = list(csv.DictReader(f))
        # warm-up operations are not recorded: every record starts inside the measured phase
        self.assertEqual(len(rows), run["ops"])
        self.assertTrue(all(0 <= float(r["start_s"]) < 1.5 for r in rows))
        self.assertEqual(self.our_vaults(), [])

    # ---- Ctrl-C ----
    def embedded_blobs(self):
        """The blob files of the floe-vault floe bench started in its TMPDIR (none until the
        first archive arrives: the small workload uploads nothing before its measured phase)."""
        found = []
        for d in os.listdir(self.benchtmp):
            blobs = os.path.join(self.benchtmp, d, "data", "blobs")
            if d.startswith("floe-bench-vault-"):
                try:
                    found += os.listdir(blobs)
                except FileNotFoundError:
                    pass
        return found

    def test_interrupt_cleans_up(self):
        p = subprocess.Popen([FLOE, "bench", "small", "--duration", "60", "--warmup", "0",
                              "--concurrency", "2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env)
        # interrupted once the measured phase runs: its first archive reached the embedded
        # floe-vault (a fixed 2 s could end a slow start-up, under TSan or a loaded machine,
        # before anything was measured, and then there is no table to print)
        deadline = time.time() + 120
        while not self.embedded_blobs() and p.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(self.embedded_blobs(), "no archive reached floe bench's floe-vault")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("interrupted", err)
        # the table of what was measured until then
        self.assertIn("best: concurrency 2", out)

    def test_killed_floe_takes_its_server_along(self):
        p = subprocess.Popen([FLOE, "bench", "small", "--duration", "60", "--warmup", "0",
                              "--concurrency", "1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=self.env)
        child = None
        deadline = time.time() + 30
        while child is None and time.time() < deadline:
            time.sleep(0.1)
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except FileNotFoundError:
                kids = []
            for k in kids:
                with open(f"/proc/{k}/cmdline", "rb") as f:
                    if b"--job-delay" in f.read():
                        child = k
        self.assertIsNotNone(child, "floe bench did not start its floe-vault")
        time.sleep(1)
        p.kill()
        p.wait()
        gone = False
        for _ in range(600):  # the server exits on its own (PR_SET_PDEATHSIG; a clean stop
            # under ASan on a loaded machine can take seconds)
            try:
                with open(f"/proc/{child}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                state = "gone"
            if state in ("gone", "Z"):  # exited (a zombie until whoever adopted it reaps it)
                gone = True
                break
            time.sleep(0.1)
        self.assertTrue(gone, "floe-vault %d outlived floe" % child)
        # a SIGKILL leaves the data directory (nothing could remove it): this test does
        for d in os.listdir(self.benchtmp):
            subprocess.run(["rm", "-rf", os.path.join(self.benchtmp, d)], check=True)

    # ---- compare ----
    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    @staticmethod
    def fake(rates, latency_s, bench="small"):
        """A result with runs at the given rates, whose operations took latency_s (the runs'
        own p50/p99 vary by a per-mille with the run, as real runs do)."""
        lat = sorted(latency_s)

        def q(p):
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3

        runs = [{"ops_per_s": r, "mb_per_s": r / 10, "timeline": {"ops_per_s": [r] * 3},
                 "latency_ms": {"total": {"p50": q(0.5) * (1 + k / 1000),
                                          "p99": q(0.99) * (1 + k / 1000)},
                                "ttfb": {"p50": q(0.5) / 2 * (1 + k / 1000)}},
                 "samples": {"total_s": latency_s, "ttfb_s": [x / 2 for x in latency_s]}}
                for k, r in enumerate(rates)]
        return {"bench": bench, "metric": "ops_per_s",
                "sweep": [{"concurrency": 4, "runs": runs}]}

    def test_compare(self):
        lat_a = [0.010 + 0.0001 * (i % 17) for i in range(200)]
        a = self.write("a.json", self.fake([100, 103, 98, 101, 99], lat_a))
        b = self.write("b.json", self.fake([150, 149, 152, 151, 148], [x * 0.5 for x in lat_a]))
        same = self.write("same.json", self.fake([101, 99, 100, 102, 98], lat_a[::-1]))
        r = self.floe("--json", "bench", "compare", a, b)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {x["metric"]: x for x in map(json.loads, r.stdout.splitlines())}
        self.assertEqual(set(rows), {"ops_per_s", "latency_p50_ms", "latency_p99_ms",
                                     "ttfb_p50_ms"})
        self.assertEqual(rows["ops_per_s"]["basis"], "runs")
        self.assertEqual(rows["ops_per_s"]["verdict"], "better")
        self.assertAlmostEqual(rows["ops_per_s"]["change"], 0.5, places=2)
        self.assertGreater(rows["ops_per_s"]["lo"], 0)
        self.assertEqual(rows["latency_p50_ms"]["verdict"], "better")  # lower latency
        self.assertAlmostEqual(rows["latency_p50_ms"]["change"], -0.5, places=2)
        r = self.floe("--json", "bench", "compare", b, a)
        self.assertEqual({json.loads(x)["verdict"] for x in r.stdout.splitlines()}, {"worse"})
        r = self.floe("--json", "bench", "compare", a, same)
        self.assertEqual({json.loads(x)["verdict"] for x in r.stdout.splitlines()},
                         {"within noise"})
        # the text table
        r = self.floe("bench", "compare", a, b)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^\s+4 ops/s\s+100\.00\s+150\.00\s+\+50\.0%.*better$")
        # one run a side: per-second samples, and too few of them for a verdict
        one_a = self.write("one_a.json", self.fake([100], lat_a[:2]))
        one_b = self.write("one_b.json", self.fake([150], lat_a[:2]))
        r = self.floe("--json", "bench", "compare", one_a, one_b)
        rows = {x["metric"]: x for x in map(json.loads, r.stdout.splitlines())}
        self.assertEqual(rows["ops_per_s"]["basis"], "seconds")
        self.assertEqual(rows["ops_per_s"]["verdict"], "better")  # 3 seconds a side: enough
        self.assertEqual(rows["latency_p50_ms"]["basis"], "operations")
        self.assertEqual(rows["latency_p50_ms"]["verdict"], "too few samples")
        # with 3 runs or more the runs are the samples, also for latency: thousands of
        # operations of one run are not independent evidence
        many_a = self.write("many_a.json", self.fake([100, 101, 99], lat_a))
        many_b = self.write("many_b.json", self.fake([100, 99, 101], [x * 1.01 for x in lat_a]))
        r = self.floe("--json", "bench", "compare", many_a, many_b)
        rows = {x["metric"]: x for x in map(json.loads, r.stdout.splitlines())}
        self.assertEqual(rows["latency_p50_ms"]["basis"], "runs")
        self.assertEqual(rows["latency_p50_ms"]["samples_a"], 3)
        self.assertEqual(rows["latency_p50_ms"]["verdict"], "within noise")

    def test_compare_real_results(self):
        paths = []
        for name in ("r1.json", "r2.json"):
            doc = self.bench_json("small", "--count", "20", "--warmup", "0", "--runs", "3",
                                  "--concurrency", "2", "--size", "1KiB",
                                  endpoint=self.vault.url)
            paths.append(self.write(name, doc))
        r = self.floe("--json", "bench", "compare", *paths)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(len(rows), 4)
        for row in rows:
            self.assertEqual(row["concurrency"], 2)
            self.assertIn(row["verdict"], ("better", "worse", "within noise"))
            self.assertLessEqual(row["lo"], row["hi"])
        self.assertEqual(rows[0]["samples_a"], 3)  # three runs: the runs are the samples

    def test_compare_errors(self):
        a = self.write("ca.json", self.fake([1, 2, 3], [0.1]))
        up = self.write("cu.json", self.fake([1, 2, 3], [0.1], bench="upload"))
        other = self.fake([1, 2, 3], [0.1])
        other["sweep"][0]["concurrency"] = 8
        other = self.write("c8.json", other)
        notres = self.write("notres.json", {"bench": "hash", "cases": []})
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        for args, msg in [((a,), "needs two result files"),
                          ((a, os.path.join(self.tmp, "missing.json")), "cannot read"),
                          ((a, bad), "cannot read"),
                          ((a, notres), "is not a result of floe bench --json of a workload"),
                          ((a, up), "is a small benchmark and"),
                          ((a, other), "have no concurrency setting in common")]:
            r = self.floe("bench", "compare", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr, args)
            self.assertEqual(r.stdout, "", args)

    # ---- errors a user can hit ----
    def test_usage_errors(self):
        existing = os.path.join(self.tmp, "exists.csv")
        open(existing, "w").close()
        for args, msg in [
                (("bench", "frob"), "unknown benchmark 'frob'"),
                (("bench", "small", "--concurrency", "0"), "--concurrency must be a list"),
                (("bench", "small", "--concurrency", "1,,2"), "--concurrency must be a list"),
                (("bench", "small", "--concurrency", "1,2,"), "must not end with a comma"),
                (("bench", "small", "--concurrency", "4,4"), "--concurrency lists 4 twice"),
                (("bench", "small", "--concurrency", "300"), "from 1 to 256"),
                (("bench", "mixed", "--mix", "put=1,frob=2"), "--mix must be NAME=WEIGHT"),
                (("bench", "mixed", "--mix", "put=0"), "every operation weight 0"),
                (("bench", "upload", "--mix", "put=1"), "--mix is for bench mixed"),
                (("bench", "small", "--archives", "5"), "--archives is for bench inventory"),
                (("bench", "small", "--range", "1MiB"), "are for bench download"),
                (("bench", "download", "--size", "4MiB", "--range", "1500KiB"),
                 "--range must be a whole number of MiB"),
                (("bench", "small", "--size", "65MiB"), "at most 64MiB"),
                (("bench", "small", "--size", "1KiB,65MiB"), "at most 64MiB"),
                (("bench", "download", "--size", "1MiB,2MiB"), "a list of sizes is for bench"),
                (("bench", "small", "--size", "1KiB,0"), "--size is out of range"),
                (("bench", "small", "--count", "0"), "--count must be at least 1"),
                (("bench", "small", "--runs", "0"), "--runs must be at least 1"),
                (("bench", "small", "--duration", "0"), "--duration must be more than 0"),
                (("bench", "small", "--duration", "2d"), "--duration"),
                (("bench", "small", "--report", "r.txt"), "a .html or .svg file"),
                (("bench", "small", "--csv", existing), "exists (--overwrite replaces it)"),
                (("bench", "inventory", "v"), "no VAULT"),
                (("bench", "small", "a", "b"), "at most a VAULT"),
                (("bench", "hash", "--count", "3"), "bench hash takes only --size and --runs"),
                (("--endpoint-url", self.vault.url, "bench", "small", "--vault-bin", VAULT_BIN),
                 "--vault-bin is for the benchmark's own floe-vault")]:
            r = self.floe(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr, args)
            self.assertEqual(r.stdout, "", args)

    def test_real_endpoint_needs_yes(self):
        # a non-loopback endpoint: the cost first, then nothing without --yes (no request is
        # sent: 192.0.2.1 is TEST-NET-1 and is never contacted)
        r = self.floe("bench", "upload", "--size", "100MiB", "--part-size", "16MiB", "--count",
                      "10", "--concurrency", "1,4", endpoint="http://192.0.2.1:9")
        self.assertEqual(r.returncode, 2)
        self.assertIn("against a real endpoint costs money (prices of", r.stderr)
        self.assertIn("9 requests", r.stderr)  # initiate, 7 parts, complete
        self.assertIn("20 measured operations", r.stderr)
        self.assertIn("--yes runs the benchmark", r.stderr)
        self.assertEqual(r.stdout, "")
        # names that only start like a loopback address are not one
        for url in ("http://localhost.example:9", "http://127.0.0.1.example:9",
                    "http://127.example.com:9"):
            r = self.floe("bench", "small", "--count", "1", endpoint=url)
            self.assertEqual(r.returncode, 2, url)
            self.assertIn("--yes runs the benchmark", r.stderr, url)
        r = self.floe("bench", "download", "--duration", "5", endpoint="http://192.0.2.1:9")
        self.assertIn("retrieval and data transfer fees", r.stderr)
        self.assertIn("not known in advance", r.stderr)
        self.assertEqual(r.returncode, 2)

    def test_service_errors(self):
        r = self.floe("bench", "small", "nosuchvault", "--count", "1", endpoint=self.vault.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("ResourceNotFoundException", r.stderr)
        # a server that refuses every request: the failures are counted, not hidden
        r = self.floe("--retry-for", "0", "bench", "small", "--count", "1",
                      endpoint="http://127.0.0.1:9")
        self.assertEqual(r.returncode, 1)
        self.assertIn("floe bench:", r.stderr)


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
