#!/usr/bin/env python3
"""floe migrate against a floe-vault it starts (Bulk jobs take a second): the plan (names from
floe1, mt2 and plain descriptions, duplicates dated, traversal and invalid UTF-8 sanitised,
filters, --names, --prices, per-tier costs); a migration to a directory whose files, manifest
(CSV and JSON) and status are checked byte for byte and hash for hash; a re-run that copies
and pays nothing; kill -9 and a re-run that neither pays a job twice nor copies an archive
twice; jobs of someone else reused; a wrong checksum that fails one archive while the rest
go on; a job that fails (its archive deleted while it runs) failing that archive only; a full
destination (exit 1, nothing half-written visible, the re-run finishing without a new job);
throttling and 5xx; the daily quota and Ctrl-C; the user's errors (catalog locked or
damaged, other filters on a re-run, a file in the way, bad options); and the default
concurrency of big archives through tools/linkem.c (its binary beside floe's, as in a build
directory; the test is skipped without it): it grows on a far link, not on a capped one.

usage: test_migrate.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import base64
import csv
import fcntl
import glob
import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

FLOE = VAULT_BIN = None
IN_PASS = "done: SHA-256 taken while downloading"  # an archive's line in floe migrate's log


def mt2(name):
    js = json.dumps({"filename": name, "mtime": "20200101T000000Z"}).encode()
    return "mt2 " + base64.urlsafe_b64encode(js).decode().rstrip("=")


class MigrateTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-migrate-test-")
        cls.vault = servers.start_vault(VAULT_BIN, extra=[
            "--job-delay", "Expedited=0,Standard=0,Bulk=1", "--log-level", "info"])
        cls.env = servers.client_env(cls.tmp.name)
        cls.glacier = servers.glacier_client(cls.vault.url)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.tmp.cleanup()

    def fill(self, descs, size=lambda i: 1000 * (i + 1)):
        type(self).n += 1
        name = "mg%d" % self.n
        self.glacier.create_vault(vaultName=name)
        data = {}
        for i, d in enumerate(descs):
            body = os.urandom(size(i))
            r = self.glacier.upload_archive(vaultName=name, body=body, archiveDescription=d)
            data[r["archiveId"]] = body
        return name, data

    def dest(self):
        return tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)

    def floe(self, *args, expect=0, url=None, timeout=300, env=None):
        r = subprocess.run([FLOE, "--endpoint-url", url or self.vault.url, *args],
                           capture_output=True, timeout=timeout, env=dict(self.env, **(env or {})),
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, expect, err + r.stdout.decode(errors="replace"))
        out = r.stdout.decode()
        if "--json" in args:
            return [json.loads(x) for x in out.splitlines()], err
        return out, err

    def retrieval_jobs(self, vault):
        jobs = self.glacier.list_jobs(vaultName=vault)["JobList"]
        return [j for j in jobs if j["Action"] == "ArchiveRetrieval"]

    def wait_job(self, vault, job_id):
        for _ in range(200):
            if self.glacier.describe_job(vaultName=vault, jobId=job_id)["Completed"]:
                return
            time.sleep(0.05)
        self.fail("job %s did not complete" % job_id)

    def status(self, vault, dest):
        lines, _ = self.floe("--json", "migrate", "status", vault, "--to", dest)
        return lines[0]

    # ---- the plan ----

    def test_plan_names_filters_prices(self):
        garbage = "".join(chr(33 + (i * 37) % 94) for i in range(1024))
        descs = ["floe1 file 1700000000 /home/u/a.txt", mt2("docs/r\u00e9sum\u00e9.txt"),
                 "photos/x.jpg", "photos/x.jpg", "", "../../etc/passwd",
                 "floe1 file 1 /home/u/%FF%FEbad", garbage]
        vault, data = self.fill(descs)
        ids = list(data)
        dest = self.dest()
        lines, _ = self.floe("--json", "migrate", "plan", vault, "--to", dest, "--list")
        plan = lines[-1]
        names = {x["archive_id"]: x["name"] for x in lines[:-1]}
        self.assertEqual(len(names), 8)
        self.assertEqual(names[ids[0]], "home/u/a.txt")
        self.assertEqual(names[ids[1]], "docs/r\u00e9sum\u00e9.txt")
        self.assertTrue(names[ids[2]].startswith("photos/x.2") and names[ids[2]].endswith(".jpg"))
        self.assertNotEqual(names[ids[2]], names[ids[3]])
        self.assertEqual(names[ids[4]], ids[4])  # no description: the archive id
        self.assertEqual(names[ids[5]], "etc/passwd")  # never above the destination
        self.assertEqual(names[ids[6]], "home/u/%FF%FEbad")  # invalid UTF-8 escaped
        self.assertTrue(0 < len(names[ids[7]].encode()) <= 900, names[ids[7]])
        self.assertEqual((plan["archives"], plan["bytes"]), (8, sum(map(len, data.values()))))
        self.assertEqual((plan["renamed_duplicates"], plan["named_by_id"]), (2, 1))
        self.assertEqual(plan["over_s3_limit"], 0)
        tiers = {t["tier"]: t for t in plan["tiers"]}
        self.assertGreater(tiers["Expedited"]["total_usd"], tiers["Bulk"]["total_usd"])
        self.assertGreater(tiers["Bulk"]["hours"], tiers["Expedited"]["hours"])
        self.assertEqual(plan["prices_as_of"], "2026-12-01")
        self.assertFalse(os.listdir(dest))  # a plan writes nothing there
        self.assertEqual(self.retrieval_jobs(vault), [])  # and pays for no retrieval
        # the inventory is reused by the next plan; filters and --names change names
        names_csv = os.path.join(self.tmp.name, "names.csv")
        with open(names_csv, "w") as f:
            f.write('archive_id,name\n%s,"renamed/with, comma.txt"\n' % ids[4])
        lines, _ = self.floe("--json", "migrate", "plan", vault, "--to", dest, "--list",
                             "--exclude", "photos/*", "--names", names_csv)
        plan = lines[-1]
        self.assertTrue(plan["inventory_reused"])
        self.assertEqual((plan["archives"], plan["excluded"], plan["named_by_file"]), (6, 2, 1))
        self.assertIn("renamed/with, comma.txt", {x["name"] for x in lines[:-1]})
        # --prices
        prices = os.path.join(self.tmp.name, "prices.json")
        with open(prices, "w") as f:
            json.dump({"as_of": "2030-01-01", "retrieval": {"Bulk": {"per_gb_usd": 1e6}}}, f)
        lines, _ = self.floe("--json", "migrate", "--dry-run", vault, "--to", dest, "--prices",
                             prices)
        bulk = [t for t in lines[-1]["tiers"] if t["tier"] == "Bulk"][0]
        self.assertAlmostEqual(bulk["retrieval_usd"], lines[-1]["bytes"] / 1e9 * 1e6, places=2)
        self.assertEqual(lines[-1]["prices_as_of"], "2030-01-01")
        out, _ = self.floe("migrate", "plan", vault, "--to", dest)
        self.assertIn("Bulk", out)
        self.assertIn("8 archives", out)
        # bad inputs
        with open(prices, "w") as f:
            f.write('{"retrieval": {"Glacial": {}}}')
        _, err = self.floe("migrate", "plan", vault, "--to", dest, "--prices", prices, expect=2)
        self.assertIn("unknown tier retrieval.Glacial", err)
        with open(names_csv, "w") as f:
            f.write("only-an-id\n")
        _, err = self.floe("migrate", "plan", vault, "--to", dest, "--names", names_csv,
                           expect=2)
        self.assertIn("line 1: expected ARCHIVE_ID,NAME", err)
        with open(names_csv, "w") as f:
            f.write("%s,../..\n" % ids[0])
        _, err = self.floe("migrate", "plan", vault, "--to", dest, "--names", names_csv,
                           expect=2)
        self.assertIn("empty once sanitised", err)
        tmpdir = self.env.get("TMPDIR", tempfile.gettempdir())
        self.assertEqual([d for d in os.listdir(tmpdir) if d.startswith("floe-migrate-plan-")], [])

    # ---- the run ----

    def check_copied(self, dest, data):
        with open(self.manifest(dest, "csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual({r["archive_id"] for r in rows}, set(data))
        for r in rows:
            body = data[r["archive_id"]]
            with open(r["destination"], "rb") as f:
                self.assertEqual(f.read(), body, r["name"])
            self.assertEqual(r["sha256"], hashlib.sha256(body).hexdigest())
            self.assertEqual(int(r["size"]), len(body))
            self.assertEqual(os.path.join(dest, r["name"]), r["destination"])
        with open(self.manifest(dest, "json")) as f:
            js = json.load(f)
        self.assertEqual({(x["archive_id"], x["sha256"], x["tree_hash"]) for x in js},
                         {(r["archive_id"], r["sha256"], r["tree_hash"]) for r in rows})
        leftovers = [f for _, _, fs in os.walk(dest) for f in fs if f.endswith(".floe-part")]
        self.assertEqual(leftovers, [])
        return rows

    def manifest(self, dest, ext):
        d = os.path.join(dest, ".floe-migrate")
        return os.path.join(d, [f for f in os.listdir(d) if f.endswith(".manifest." + ext)][0])

    def test_plan_from_an_inventory_file(self):
        """--inventory FILE: the plan comes from an inventory already downloaded (no inventory
        job); another vault's inventory, a missing file and both inventory options refused."""
        vault, data = self.fill(["inv/f%d.bin" % i for i in range(5)])
        other, _ = self.fill(["other.bin"])
        job = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "inventory-retrieval", "Format": "JSON"})["jobId"]
        self.wait_job(vault, job)
        inv = os.path.join(self.tmp.name, vault + ".inventory.json")
        with open(inv, "wb") as f:
            f.write(self.glacier.get_job_output(vaultName=vault, jobId=job)["body"].read())
        jobs_before = len(self.glacier.list_jobs(vaultName=vault)["JobList"])
        dest = self.dest()
        lines, _ = self.floe("--json", "migrate", "plan", vault, "--to", dest, "--inventory", inv)
        self.assertEqual((lines[0]["archives"], lines[0]["inventory_job_id"]), (5, ""))
        out, _ = self.floe("migrate", "plan", vault, "--to", self.dest(), "--inventory", inv)
        self.assertIn("inventory from a file", out)
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--inventory", inv,
                             "--poll-interval", "1s")
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"]), (5, 5))
        self.check_copied(dest, data)
        jobs = self.glacier.list_jobs(vaultName=vault)["JobList"]
        self.assertEqual(len(jobs), jobs_before + 5)  # the archives' jobs, no inventory job
        _, err = self.floe("migrate", "plan", other, "--to", self.dest(), "--inventory", inv,
                           expect=2)
        self.assertIn("not of vault %s" % other, err)
        missing = os.path.join(self.tmp.name, "no-such-inventory.json")
        _, err = self.floe("migrate", "plan", vault, "--to", self.dest(), "--inventory", missing,
                           expect=1)
        self.assertIn(missing, err)
        _, err = self.floe("migrate", "plan", vault, "--to", self.dest(), "--inventory", inv,
                           "--inventory-job", job, expect=2)
        self.assertIn("give one", err)

    def test_big_archives_sha256_read_back(self):
        """Archives above 16 MiB take the journaled download, and their SHA-256 is read back
        from the file (O_DIRECT, two buffers), two archives hashed together on a thread while
        the next one downloads, an odd one alone at the end: the manifest's SHA-256 must be of
        the bytes on disk, an unaligned tail, a size that is a whole number of read buffers,
        and a pair of different lengths (one stream goes on alone) included. (The read-back is
        what a download that could not take the SHA-256 in its pass falls back to:
        FLOE_MIGRATE_LINEAR_SHA256=0 makes every archive take it.)"""
        sizes = [(17 << 20) + 5, 20 << 20, (16 << 20) + 4097]
        vault, data = self.fill(["big/f%d.bin" % i for i in range(3)], lambda i: sizes[i])
        dest = self.dest()
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s",
                               env={"FLOE_MIGRATE_LINEAR_SHA256": "0"})
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"], lines[-1]["failed"]), (3, 3, 0))
        self.assertNotIn(IN_PASS, err)
        rows = self.check_copied(dest, data)
        self.assertEqual(sorted(int(r["size"]) for r in rows), sorted(sizes))

    def test_big_archives_sha256_in_the_download_pass(self):
        """Archives of several 8 MiB segments get their SHA-256 from the downloaded bytes in
        archive order, in the pass that hashes their leaves (chunks that arrive ahead held in
        memory): an unaligned tail, a whole number of segments, one segment and a few bytes.
        A segment whose tree hash did not match is fetched again: that archive's SHA-256 is
        then read back from the file (the first fetch's bytes went into the hash), and every
        manifest SHA-256 is still the file's."""
        sizes = [(40 << 20) + 5, 24 << 20, (8 << 20) + 4097]
        vault, data = self.fill(["pass/f%d.bin" % i for i in range(3)], lambda i: sizes[i])
        dest = self.dest()
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s")
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"], lines[-1]["failed"]), (3, 3, 0))
        self.assertEqual(err.count(IN_PASS), 3, err)
        rows = self.check_copied(dest, data)
        self.assertEqual(sorted(int(r["size"]) for r in rows), sorted(sizes))
        # a wrong x-amz-sha256-tree-hash on the first segment fetched: refetched, read back
        vault, data = self.fill(["refetch/f%d.bin" % i for i in range(2)], lambda i: sizes[i])
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /output delay:0 1",  # the inventory's output passes
            "GET /output badhash 1"])
        dest = self.dest()
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s",
                               url=proxy.url)
        proxy.stop()
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"], lines[-1]["failed"]), (2, 2, 0))
        self.assertEqual(proxy.log().count("FAULT badhash"), 1)
        self.assertEqual(err.count(IN_PASS), 1, err)
        self.check_copied(dest, data)

    def test_default_concurrency_grows_only_on_a_latency_bound_link(self):
        """A big archive to a directory with no --concurrency (the SHA-256 taken in the
        download's pass) starts at 4 segments in flight and grows only while its fetches wait
        a fifth of their time or more for the first byte: through linkem with a 200 ms round
        trip (each 8 MiB fetch waits one round trip, then moves 4 MiB per round trip) it grows
        past 4; through linkem capped at 40 MB/s with no delay (the fetches move bytes, they
        barely wait) it stays at 4, where the controller alone would double after its first
        window. Both take the SHA-256 in the pass."""
        linkem = os.path.join(os.path.dirname(os.path.abspath(FLOE)), "linkem")
        if not os.access(linkem, os.X_OK):
            self.skipTest("no linkem beside %s (built with the tests)" % FLOE)
        size = 128 << 20  # 16 segments of 8 MiB
        vault, data = self.fill(["far/big.bin"], lambda i: size)
        for link_args, grows in ((["--rtt-ms", "200"], True), (["--rate", "40M"], False)):
            link = servers.start_linkem(linkem, self.vault.port, *link_args)
            try:
                dest = self.dest()
                lines, err = self.floe("--json", "migrate", vault, "--to", dest,
                                       "--poll-interval", "1s",
                                       url="http://127.0.0.1:%d" % link.port)
            finally:
                link.stop()
            self.assertEqual((lines[-1]["copied"], lines[-1]["done"], lines[-1]["failed"]),
                             (1, 1, 0), err)
            self.assertEqual(err.count(IN_PASS), 1, err)
            peak = [int(n) for n in re.findall(r"segments in flight: up to (\d+)", err)]
            self.assertEqual(len(peak), 1, err)
            if grows:
                self.assertGreater(peak[0], 4, (link_args, err))
            else:
                self.assertEqual(peak[0], 4, (link_args, err))
            self.check_copied(dest, data)

    def journals(self):
        return set(glob.glob(os.path.join(self.env["XDG_CACHE_HOME"], "floe", "download-*")))

    def segments_done(self, old=()):
        """The most SEGMENT_DONE records in one download journal under the cache dir but those
        in old (the format: docs/checkpoint-format.md; a torn last record is not counted)."""
        most = 0
        for path in self.journals() - set(old):
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            pos = n = 0
            while pos + 16 <= len(data) and data[pos:pos + 4] == b"FLOJ":
                kind = int.from_bytes(data[pos + 4:pos + 6], "little")
                end = pos + 16 + int.from_bytes(data[pos + 8:pos + 12], "little") + 8
                if end > len(data):
                    break
                n += kind == 5
                pos = end
            most = max(most, n)
        return most

    def test_kill_mid_archive_and_resume_sha256(self):
        """kill -9 while a 64 MiB archive downloads (slowed by the proxy) with segments
        confirmed in its journal: the re-run resumes the download (the confirmed segments
        are not in memory, so the SHA-256 is read back from the file, not taken in the pass)
        and the manifest's SHA-256 is the file's."""
        size = (64 << 20) + 3
        vault, data = self.fill(["kill/big.bin"], lambda i: size)
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /output delay:0 1",  # the inventory's output passes
            "GET /output slowresp:3000000 0"])
        dest = self.dest()
        part = os.path.join(dest, "kill", "big.bin.floe-part")
        args = [FLOE, "--endpoint-url", proxy.url, "migrate", vault, "--to", dest,
                "--poll-interval", "1s"]
        old = self.journals()
        p = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            # killed once the download's journal confirms a segment (SEGMENT_DONE record):
            # then the re-run resumes. The part file past 24 MiB and 0.3 s more used to stand
            # for that, and a loaded machine could take longer to write and sync the records
            deadline = time.time() + 120
            while time.time() < deadline:
                if self.segments_done(old) >= 1 and os.path.exists(part):
                    break
                self.assertIsNone(p.poll(), "migrate ended before it was killed")
                time.sleep(0.05)
            else:
                self.fail("no segment of the download was confirmed in its journal")
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.assertFalse(os.path.exists(os.path.join(dest, "kill", "big.bin")))
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s",
                               url=proxy.url)
        proxy.stop()
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"], r["jobs_requested"]), (1, 1, 0, 0),
                         err)
        self.assertNotIn(IN_PASS, err)  # resumed: read back
        self.assertEqual(len(self.retrieval_jobs(vault)), 1)
        self.check_copied(dest, data)

    def test_migrate_verify_manifest_rerun(self):
        sizes = [2, 1, 1 << 20, (3 << 20) + 5, 70000, 5]
        vault, data = self.fill(["dir/f%d.bin" % i for i in range(6)], lambda i: sizes[i])
        dest = self.dest()
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s")
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"], r["jobs_requested"]), (6, 6, 0, 6))
        self.assertIn("dir/f3.bin", err)  # a line per archive in the log
        self.check_copied(dest, data)
        st = self.status(vault, dest)
        self.assertEqual(st["states"]["done"], {"archives": 6, "bytes": sum(sizes)})
        self.assertEqual((st["jobs_requested"], st["tier"]), (6, "Bulk"))
        self.assertGreater(st["cost_usd"], 0)
        # again: nothing to copy, nothing to pay
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest)
        self.assertEqual((lines[-1]["copied"], lines[-1]["jobs_requested"]), (0, 0))
        self.assertEqual(len(self.retrieval_jobs(vault)), 6)
        out, _ = self.floe("migrate", "status", vault, "--to", dest, "--list")
        self.assertIn("dir/f5.bin", out)
        self.assertIn("done", out)

    def test_refresh_lists_the_tail_not_every_job(self):
        """With thousands of jobs in a vault, each poll used to list every one of them (ListJobs
        walked from the first page). Instant jobs, 300 archives, 20 jobs in flight: 15
        rounds, the listing growing to 7 pages of 50. Once the listing is known to be in
        ascending creation order and spans pages, a poll lists only the tail from the last
        page seen (the jobs requested since are there): full walks only while it fits one page,
        and far fewer ListJobs requests than a full walk per round (about 4 a round)."""
        n = 300
        vault, data = self.fill(["t/%03d" % i for i in range(n)], lambda i: 100 + i)
        dest = self.dest()
        before = self.list_jobs_requests(vault)
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--tier", "Expedited",
                             "--max-jobs", "20", "--poll-interval", "1s")
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"], r["jobs_requested"]), (n, n, 0, n))
        walks = r["job_walks"]
        # the first refresh and the rounds with 21 and 41 jobs fit one page (no tail to start
        # at: the running jobs, then the full walk); one more for slack
        self.assertLessEqual(walks["full"], 6, walks)
        self.assertGreaterEqual(walks["tail"], 10, walks)
        self.check_copied(dest, data)
        # a full walk every round would average about 4 pages a round (1 growing to 7); the
        # rounds' count depends on the machine's speed (more of them under ASan), the pages a
        # round do not
        pages = self.list_jobs_requests(vault) - before
        rounds = walks["full"] + walks["tail"]
        self.assertGreater(pages, 0)
        self.assertLess(pages, 2.5 * rounds, walks)

    def test_refresh_lists_running_jobs_while_they_run(self):
        """Jobs that take a while (Bulk: 1 s here): a poll finds the older requested jobs among
        the jobs in progress (completed=false) and does not walk the whole listing for them;
        a job that finished since the last poll is found by a full walk. Every archive is
        copied either way."""
        n = 12
        vault, data = self.fill(["r/%02d" % i for i in range(n)], lambda i: 2000 + i)
        dest = self.dest()
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--max-jobs", "4",
                             "--poll-interval", "1s")
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"]), (n, n, 0))
        self.assertGreaterEqual(r["job_walks"]["running"], 1, r["job_walks"])
        self.check_copied(dest, data)

    def list_jobs_requests(self, vault):
        """ListJobs requests for vault in the floe-vault's log so far."""
        with open(self.vault.log_path, errors="replace") as f:
            return sum(1 for line in f if "GET /-/vaults/%s/jobs" % vault in line
                       and "ListJobs" in line)

    def test_kill_and_resume(self):
        n = 30
        vault, data = self.fill(["k/%03d" % i for i in range(n)], lambda i: 40000 + i)
        dest = self.dest()
        args = [FLOE, "--endpoint-url", self.vault.url, "migrate", vault, "--to", dest,
                "--max-jobs", "4", "--poll-interval", "1s"]
        p = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        done1 = 0
        deadline = time.time() + 60
        while time.time() < deadline and done1 < 6:
            time.sleep(0.3)
            try:
                done1 = self.status(vault, dest)["states"]["done"]["archives"]
            except AssertionError:
                pass  # no catalog yet
        p.send_signal(signal.SIGKILL)
        p.wait()
        st = self.status(vault, dest)
        done1 = st["states"]["done"]["archives"]
        self.assertTrue(0 < done1 < n, done1)
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s")
        r = lines[-1]
        self.assertEqual(r["done"], n)
        self.assertEqual(r["copied"] + r["already_present"] + done1, n)  # none copied twice
        self.assertEqual(len(self.retrieval_jobs(vault)), n)  # no job paid twice
        self.check_copied(dest, data)

    def test_reuses_existing_jobs(self):
        vault, data = self.fill(["r/%d" % i for i in range(4)])
        ids = list(data)
        for a in ids[:2]:
            j = self.glacier.initiate_job(vaultName=vault, jobParameters={
                "Type": "archive-retrieval", "ArchiveId": a, "Tier": "Expedited"})
            self.wait_job(vault, j["jobId"])
        dest = self.dest()
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s")
        self.assertEqual((lines[-1]["jobs_reused"], lines[-1]["jobs_requested"]), (2, 2))
        self.assertEqual(len(self.retrieval_jobs(vault)), 4)
        self.check_copied(dest, data)

    def test_job_near_expiry_gets_a_fresh_job(self):
        # a succeeded job whose output expires within the margin is not reused: a new job is
        # paid for instead (here the output lives 30 s and the margin is 24 s). The new job
        # must itself be copied while it is still fresh: within 6 s of its completion, less
        # the fraction of a second its whole-second CompletionDate loses (with 10 s and 8 s
        # that left 1-2 s for a poll and the copy, too little under ASan on a loaded machine)
        vault, data = self.fill(["e/0"])
        (aid,) = list(data)
        j = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Expedited"})
        self.wait_job(vault, j["jobId"])
        time.sleep(6.5)  # the old job is past 30 - 24 s (waiting longer only makes it older)
        dest = self.dest()
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--tier", "Expedited",
                             "--job-expiry", "30s", "--expiry-margin", "24s",
                             "--poll-interval", "1s")
        self.assertEqual((lines[-1]["jobs_reused"], lines[-1]["jobs_requested"]), (0, 1))
        self.assertEqual(len(self.retrieval_jobs(vault)), 2)
        self.check_copied(dest, data)

    def test_wrong_checksum_fails_one_archive(self):
        vault, data = self.fill(["c/%d" % i for i in range(3)], lambda i: (1 << 20) + i)
        bad = list(data)[1]
        j = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": bad, "Tier": "Expedited"})
        self.wait_job(vault, j["jobId"])
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /jobs/%s/output badhash 0" % j["jobId"]])
        dest = self.dest()
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s",
                               url=proxy.url, expect=3)
        self.assertEqual((lines[-1]["done"], lines[-1]["failed"]), (2, 1))
        self.assertIn(bad, err)
        failed, _ = self.floe("--json", "migrate", "status", vault, "--to", dest, "--failed")
        rows = [x for x in failed if "archive_id" in x]
        self.assertEqual([x["archive_id"] for x in rows], [bad])
        self.assertIn("bytes 0-", rows[0]["reason"])
        self.assertFalse(os.path.exists(rows[0]["destination"]))  # never visible
        del data[bad]
        self.check_copied(dest, data)
        proxy.stop()

    def test_disk_full_on_the_destination(self):
        mib = 1 << 20
        sizes = [1000, 20 * mib + 3, 70000]
        vault, data = self.fill(["a/small", "b/big", "c/other"], lambda i: sizes[i])
        big = list(data)[1]
        dest = self.dest()

        def limit():  # the destination "fills up" at 4 MiB per file
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4 * mib, 4 * mib))
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "migrate", vault,
                            "--to", dest, "--poll-interval", "1s"], capture_output=True,
                           timeout=300, env=self.env, stdin=subprocess.DEVNULL, preexec_fn=limit)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, err)
        self.assertIn("b/big.floe-part cannot grow past offset", err)
        self.assertFalse(os.path.exists(os.path.join(dest, "b", "big")))  # never visible
        for name, aid in (("a/small", list(data)[0]), ("c/other", list(data)[2])):
            with open(os.path.join(dest, name), "rb") as f:
                self.assertEqual(f.read(), data[aid], name)
        # room again: the same command finishes with the job it has, nothing paid twice
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s")
        r = lines[-1]
        self.assertEqual((r["done"], r["failed"], r["copied"], r["jobs_requested"]),
                         (3, 0, 1, 0), err)
        with open(os.path.join(dest, "b", "big"), "rb") as f:
            self.assertEqual(f.read(), data[big])
        self.assertFalse(os.path.exists(os.path.join(dest, "b", "big.floe-part")))
        self.check_copied(dest, data)

    def test_job_that_fails_fails_its_archive_only(self):
        # a floe-vault whose Bulk jobs take 10 s: an archive deleted while its job runs fails
        # the job ("deleted before the job completed"); the new job for it is refused (the
        # archive is gone), so that archive fails with the reason and the others are copied
        v = servers.start_vault(VAULT_BIN, extra=["--job-delay", "Expedited=0,Standard=0,Bulk=10"])
        try:
            g = servers.glacier_client(v.url)
            g.create_vault(vaultName="jf")
            data = {}
            for i in range(3):
                body = os.urandom(1000 + i)
                data[g.upload_archive(vaultName="jf", body=body,
                                      archiveDescription="f%d" % i)["archiveId"]] = body
            gone = list(data)[1]
            dest = self.dest()
            p = subprocess.Popen([FLOE, "--endpoint-url", v.url, "--json", "migrate", "jf", "--to",
                                  dest, "--poll-interval", "1"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=self.env, stdin=subprocess.DEVNULL)
            try:
                deadline = time.time() + 120
                while time.time() < deadline and not any(
                        j["ArchiveId"] == gone for j in g.list_jobs(vaultName="jf")["JobList"]
                        if j["Action"] == "ArchiveRetrieval"):
                    time.sleep(0.05)
                g.delete_archive(vaultName="jf", archiveId=gone)
                out, err = p.communicate(timeout=180)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.communicate()
            err = err.decode(errors="replace")
            self.assertEqual(p.returncode, 3, err)
            r = json.loads(out.decode().splitlines()[-1])
            self.assertEqual((r["done"], r["failed"]), (2, 1), err)
            self.assertIn("deleted before the job completed", err)
            failed, _ = self.floe("--json", "migrate", "status", "jf", "--to", dest, "--failed",
                                  url=v.url)
            rows = [x for x in failed if "archive_id" in x]
            self.assertEqual([x["archive_id"] for x in rows], [gone])
            self.assertIn("not found", rows[0]["reason"])
            self.assertFalse(os.path.exists(rows[0]["destination"]))
            del data[gone]
            self.check_copied(dest, data)
        finally:
            v.stop()

    def test_progress_lines_while_jobs_wait(self):
        # without a terminal: a line after 1 s and then every 10 s (src/cli/progress.c) while
        # the inventory job runs and while the retrieval jobs run, not silence for the hours
        # they take on Glacier; each archive copied is still named once. Jobs of 4 s: the
        # line after 1 s comes well inside each wait even when the machine is slow
        v = servers.start_vault(VAULT_BIN, extra=["--job-delay", "Expedited=0,Standard=4,Bulk=4"])
        try:
            g = servers.glacier_client(v.url)
            g.create_vault(vaultName="pw")
            for i in range(3):
                g.upload_archive(vaultName="pw", body=os.urandom(1000 + i),
                                 archiveDescription="f%d" % i)
            _, err = self.floe("migrate", "pw", "--to", self.dest(), "--poll-interval", "1",
                               url=v.url)
            lines = [x for x in err.splitlines() if " floe: migrate " in x]
            self.assertTrue(any(re.search(r"migrate waiting for inventory job .{16}\.\.\. "
                                          r"\(InProgress, \d+ s\)", x) for x in lines), err)
            self.assertTrue(any(re.search(r"migrate 0/3 archives done; 3 requested, 0 staged, "
                                          r"0 copying, 0 failed: ", x) for x in lines), err)
            self.assertLessEqual(len(lines), 4, err)
            self.assertEqual(len([x for x in err.splitlines() if x.endswith("): done")]), 3, err)
        finally:
            v.stop()

    def test_job_output_gone_mid_copy_gets_a_new_job(self):
        vault, data = self.fill(["g/%d" % i for i in range(3)])
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /output delay:0 1",  # the inventory's output passes
            "GET /output status:404:ResourceNotFoundException 1"])  # the first archive's: gone
        dest = self.dest()
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s",
                               url=proxy.url)
        r = lines[-1]
        self.assertEqual((r["done"], r["jobs_rerequested"], r["jobs_requested"]), (3, 1, 4))
        self.assertIn("ResourceNotFoundException", err)
        self.check_copied(dest, data)
        proxy.stop()

    def test_throttling_and_5xx_are_retried(self):
        vault, data = self.fill(["t/%d" % i for i in range(3)])
        proxy = servers.start_faultproxy(self.vault.port, [
            "POST /jobs$ status:400:ThrottlingException 2", "GET /jobs status:500 2",
            "GET /output status:503 1"])
        dest = self.dest()
        self.floe("migrate", vault, "--to", dest, "--poll-interval", "1s", url=proxy.url)
        self.assertGreaterEqual(proxy.log().count("FAULT"), 4)
        self.check_copied(dest, data)
        proxy.stop()

    def test_daily_quota_and_interrupt(self):
        vault, data = self.fill(["q/%d" % i for i in range(4)], lambda i: 100000)
        dest = self.dest()
        p = subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, "migrate", vault, "--to",
                              dest, "--max-per-day", "200000", "--poll-interval", "1s"],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            time.sleep(0.3)
            try:
                if self.status(vault, dest)["states"]["done"]["archives"] == 2:
                    break
            except AssertionError:
                pass
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn(b"daily retrieval quota", err)
        self.assertIn(b"run the same command again", err)
        self.assertEqual(len(self.retrieval_jobs(vault)), 2)  # the quota held
        self.assertEqual(self.status(vault, dest)["states"]["planned"]["archives"], 2)

    def test_caps_on_jobs_in_flight_and_bytes_staged(self):
        # Bulk jobs take a second: without a cap every job would be created at once and finish
        # a second later; with a cap of 2 in flight the k-th job is created only after the
        # (k-2)-th archive was copied, so after that job completed
        for cap in (["--max-jobs", "2"], ["--max-staged", "250000"]):
            vault, data = self.fill(["f/%d" % i for i in range(6)], lambda i: 100000)
            dest = self.dest()
            lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s",
                                 *cap)
            self.assertEqual((lines[-1]["done"], lines[-1]["jobs_requested"]), (6, 6))
            jobs = sorted(self.retrieval_jobs(vault), key=lambda j: j["CreationDate"])
            self.assertEqual(len(jobs), 6)
            for k in range(2, 6):
                self.assertGreaterEqual(jobs[k]["CreationDate"], jobs[k - 2]["CompletionDate"],
                                        (cap, jobs))
            self.check_copied(dest, data)

    def test_retrieval_policy_pauses_requests(self):
        # a BytesPerHour data retrieval policy the account is over: InitiateJob answers
        # PolicyEnforcedException; requests pause (nothing fails, nothing is paid), and once
        # the policy allows it the same command finishes
        vault, data = self.fill(["p/%d" % i for i in range(3)], lambda i: 100000)
        dest = self.dest()
        self.glacier.set_data_retrieval_policy(Policy={"Rules": [
            {"Strategy": "BytesPerHour", "BytesPerHour": 1}]})
        try:
            p = subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, "migrate", vault,
                                  "--to", dest, "--poll-interval", "1s"], env=self.env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
            try:
                line = b""
                deadline = time.time() + 60
                while time.time() < deadline and b"paused" not in line:
                    line = p.stderr.readline()
                    if not line:
                        break
            finally:
                p.send_signal(signal.SIGINT)
                err = line + p.communicate(timeout=30)[1]
            self.assertEqual(p.returncode, 130, err)
            self.assertIn(b"retrieval requests paused for 60 s", err)
            self.assertIn(b"PolicyEnforcedException", err)
            self.assertEqual(self.retrieval_jobs(vault), [])
            self.assertEqual(self.status(vault, dest)["states"]["planned"]["archives"], 3)
        finally:
            self.glacier.set_data_retrieval_policy(Policy={"Rules": [{"Strategy": "None"}]})
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s")
        self.assertEqual((lines[-1]["done"], lines[-1]["failed"]), (3, 0))
        self.check_copied(dest, data)

    def test_shards_split_once_and_exclusive(self):
        descs = ["s/%02d" % i for i in range(14)] + ["s/dup", "s/dup"]
        vault, data = self.fill(descs)
        dest = self.dest()
        procs = [subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, "--json", "migrate",
                                   vault, "--to", dest, "--shard", "%d/3" % i, "--poll-interval",
                                   "1s"], env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
                 for i in (1, 2, 3)]
        seen, names = {}, {}
        for i, p in enumerate(procs, 1):
            out, err = p.communicate(timeout=300)
            self.assertEqual(p.returncode, 0, err)
            r = json.loads(out.decode().splitlines()[-1])
            self.assertEqual(r["done"] + r["other_shards"], len(data))
            st = os.path.join(dest, ".floe-migrate", "%s.shard-%d-of-3.manifest.csv" % (vault, i))
            with open(st, newline="") as f:
                for row in csv.DictReader(f):
                    self.assertNotIn(row["archive_id"], seen)  # in exactly one shard
                    seen[row["archive_id"]] = i
                    names[row["archive_id"]] = row["name"]
        self.assertEqual(set(seen), set(data))
        self.assertGreater(len(set(seen.values())), 1)  # the work is really split
        dups = [n for a, n in names.items() if n.startswith("s/dup")]
        self.assertEqual(len(set(dups)), 2)  # named apart even when in different shards
        self.assertNotIn("s/dup", dups)
        self.assertEqual(len(self.retrieval_jobs(vault)), len(data))
        # the same shard twice at once: the second is refused, the first is not disturbed
        vault2, _ = self.fill(["t/%d" % i for i in range(6)])
        first = subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, "migrate", vault2,
                                  "--to", dest, "--shard", "1/1", "--max-jobs", "1",
                                  "--poll-interval", "1s"], env=self.env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
        lock = os.path.join(dest, ".floe-migrate", vault2 + ".shard-1-of-1.db.lock")
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.exists(lock) and os.path.getsize(lock)):
            time.sleep(0.05)
        _, err = self.floe("migrate", vault2, "--to", dest, "--shard", "1/1", expect=1)
        self.assertIn("in use by another floe migrate (pid %d)" % first.pid, err)
        _, ferr = first.communicate(timeout=300)
        self.assertEqual(first.returncode, 0, ferr)
        for bad in ("0/2", "3/2", "1/0", "x", "1/2/3"):
            _, err = self.floe("migrate", vault, "--to", dest, "--shard", bad, expect=2)
            self.assertIn("--shard must be I/N", err)

    # ---- errors ----

    def test_errors(self):
        vault, data = self.fill(["e/a", "e/b"])
        dest = self.dest()
        self.floe("migrate", vault, expect=2)
        self.floe("migrate", vault, "--to", dest, "--tier", "Glacial", expect=2)
        self.floe("migrate", vault, "--to", dest, "--max-jobs", "0", expect=2)
        _, err = self.floe("migrate", vault, "--to", dest, "--expiry-margin", "25h", expect=2)
        self.assertIn("expiry margin", err)
        _, err = self.floe("migrate", "status", vault, "--to", dest, expect=1)
        self.assertIn("no migration catalog", err)
        # a file in the way fails that archive only
        os.makedirs(os.path.join(dest, "e"))
        with open(os.path.join(dest, "e", "a"), "wb") as f:
            f.write(b"someone else's file")
        lines, err = self.floe("--json", "migrate", vault, "--to", dest, "--poll-interval", "1s",
                               expect=3)
        self.assertEqual((lines[-1]["done"], lines[-1]["failed"]), (1, 1))
        self.assertIn("exists and is not this archive", err)
        with open(os.path.join(dest, "e", "a"), "rb") as f:
            self.assertEqual(f.read(), b"someone else's file")  # left alone
        os.unlink(os.path.join(dest, "e", "a"))  # the user moves it away and tries again
        lines, _ = self.floe("--json", "migrate", vault, "--to", dest, "--retry-failed",
                             "--poll-interval", "1s")
        self.assertEqual((lines[-1]["done"], lines[-1]["failed"]), (2, 0))
        self.check_copied(dest, data)
        # other filters on a re-run
        _, err = self.floe("migrate", vault, "--to", dest, "--exclude", "x", expect=2)
        self.assertIn("planned with other", err)
        # the catalog in use by another run
        db = os.path.join(dest, ".floe-migrate", vault + ".db")
        with open(db + ".lock", "a+") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            lk.truncate(0)
            lk.write("4242\n")
            lk.flush()
            _, err = self.floe("migrate", vault, "--to", dest, expect=1)
            self.assertIn("in use by another floe migrate (pid 4242)", err)
        # a damaged catalog
        with open(db, "r+b") as f:
            f.write(b"this is not sqlite" * 10)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        _, err = self.floe("migrate", vault, "--to", dest, expect=1)
        self.assertIn("not a database or is damaged", err)
        _, err = self.floe("migrate", "status", vault, "--to", dest, expect=1)
        self.assertIn("not a database or is damaged", err)


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
