#!/usr/bin/env python3
"""floe migrate with a PostgreSQL catalog (--catalog postgresql://...) shared by several
workers, against a floe-vault and a PostgreSQL cluster this test creates (initdb into a temp
dir, the server on a free loopback port, run as the unprivileged user nobody when the test
runs as root, stopped by PID, its directory removed, pass or fail): three workers on one plan
with one of them killed -9 mid-run, a dead worker's verified archives finished by a survivor,
and a worker stalled (SIGSTOP) past its lease (every
archive arrives exactly once, no job paid twice, the manifest complete, status across the
workers); PostgreSQL stopped mid-run (the workers exit non-zero with a clear message, nothing
lost, a re-run completes); an unreachable catalog; --shard refused with a shared catalog.
The S3 variant (moto's server as the destination, started here too; skipped without moto):
three workers, one killed -9 mid-run, every object read back with boto3 (bytes, SHA-256, the
archive id in its metadata), each archive copied once, no multipart upload left.
Without PostgreSQL installed the test fails saying so.

usage: test_migrate_pg.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import base64
import csv
import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

try:
    import boto3  # noqa: E402
    import moto  # noqa: E402,F401
    HAVE_MOTO = True
except ImportError:
    HAVE_MOTO = False

FLOE = VAULT_BIN = None


def pg_bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    return found[-1] if found else shutil.which(name)


class PortTaken(RuntimeError):
    pass


class Postgres:
    """A throwaway cluster: initdb, then postgres itself (one PID to stop) on 127.0.0.1."""

    def __init__(self):
        if not pg_bin("initdb") or not pg_bin("postgres"):
            raise RuntimeError("PostgreSQL is not installed (initdb and postgres not found): "
                               "run tools/install-deps.sh (Debian packages postgresql, "
                               "libpq-dev)")
        self.dir = servers.tempdir_for_others("floe-pg-test-")
        self.data = os.path.join(self.dir, "data")
        self.as_user = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        r = subprocess.run(self.as_user + [pg_bin("initdb"), "-D", self.data, "-U", "floe",
                                           "--auth=trust", "-E", "UTF8", "--no-sync"],
                           capture_output=True, cwd=self.dir)
        if r.returncode:
            raise RuntimeError("initdb failed: " + r.stderr.decode(errors="replace"))
        self.proc = None
        # postgres binds the port it is given: one picked here (bound and released) may be
        # taken before it does by another test's server or connection under ctest -j2; then
        # another port is tried
        for attempt in range(10):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
            sock.close()
            self.url = "postgresql://floe@127.0.0.1:%d/postgres" % self.port
            try:
                self.start(retry_s=0)
                break
            except PortTaken:
                continue
        else:
            raise RuntimeError("postgres found no free port in 10 tries")

    def bind_failed(self):
        with open(os.path.join(self.dir, "pg.log"), errors="replace") as f:
            return "Address already in use" in f.read()[self.log_at:]

    def start(self, retry_s=60):
        """Starts postgres on self.port; while the port is taken (a restart: another test's
        connection may hold it as its own end for a moment), tries again for retry_s, then
        raises PortTaken."""
        deadline = time.time() + retry_s
        while True:
            try:
                return self.start_once()
            except RuntimeError:
                taken = self.bind_failed()
                if self.log:
                    self.log.close()
                    self.log = None
                if not taken:
                    raise
                if time.time() >= deadline:
                    raise PortTaken("127.0.0.1:%d is taken" % self.port) from None
                time.sleep(0.5)

    def start_once(self):
        self.log = open(os.path.join(self.dir, "pg.log"), "a")
        self.log_at = self.log.tell()
        self.proc = subprocess.Popen(
            self.as_user + [pg_bin("postgres"), "-D", self.data, "-p", str(self.port),
                            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                            "-c", "fsync=off"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited: " + open(self.log.name).read())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                r = subprocess.run([pg_bin("pg_isready"), "-h", "127.0.0.1", "-p",
                                    str(self.port)], capture_output=True)
                if r.returncode == 0:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("postgres did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None


class MigratePgTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-migrate-pg-test-")
        cls.pg = None
        cls.vault = servers.start_vault(VAULT_BIN, extra=[
            "--job-delay", "Expedited=0,Standard=0,Bulk=1"])
        try:
            cls.pg = Postgres()
        except Exception:
            cls.tearDownClass()
            raise
        cls.env = servers.client_env(cls.tmp.name)
        cls.glacier = servers.glacier_client(cls.vault.url)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        if cls.pg:
            cls.pg.stop()
            shutil.rmtree(cls.pg.dir, ignore_errors=True)
        cls.vault.stop()
        cls.tmp.cleanup()

    def fill(self, count, size):
        type(self).n += 1
        name = "pg%d" % self.n
        self.glacier.create_vault(vaultName=name)
        data = {}
        for i in range(count):
            body = os.urandom(size(i))
            r = self.glacier.upload_archive(vaultName=name, body=body,
                                            archiveDescription="w/%03d.bin" % i)
            data[r["archiveId"]] = body
        return name, data

    def catalog(self, vault):
        """A database of its own per migration (one plan per database)."""
        r = subprocess.run(["psql", self.pg.url, "-qc", "CREATE DATABASE " + vault],
                           capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return self.pg.url.rsplit("/", 1)[0] + "/" + vault

    def psql(self, url, sql):
        r = subprocess.run(["psql", url, "-tAc", sql], capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.decode().strip()

    def floe(self, *args, expect=0):
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, *args], capture_output=True,
                           timeout=300, env=self.env, stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, expect, err + r.stdout.decode(errors="replace"))
        return r.stdout.decode(), err

    def worker(self, vault, dest, cat, *extra):
        p = subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, "--json", "migrate",
                                 vault, "--to", dest, "--catalog", cat, "--lease", "3s",
                                 "--poll-interval", "1s", *extra],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        self.addCleanup(self.reap, p)
        return p

    def outcome(self, p, cat, timeout=240):
        """A worker's (stdout, stderr) once it ends; one that has not ended within timeout is
        killed and the test fails with its output and the catalog's rows (which claim held
        it up), instead of hanging."""
        try:
            return p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            rows = self.psql(cat, "SELECT ord, state, owner, lease_until < now(), job_id,"
                                  " convert_from(name, 'UTF8') FROM arch WHERE state <> 5")
            self.fail("worker %d still running after %d s; rows not done:\n%s\nits stderr:\n%s"
                      % (p.pid, timeout, rows, err.decode(errors="replace")[-4000:]))

    @staticmethod
    def reap(p):
        if p.poll() is None:
            p.kill()
        p.communicate()

    def wait_done(self, vault, cat, procs, count):
        deadline = time.time() + 90
        while time.time() < deadline and self.done(vault, cat) < count:
            self.assertTrue(all(p.poll() is None for p in procs), "a worker exited early")
            time.sleep(0.2)

    def status(self, vault, cat):
        out, _ = self.floe("--json", "migrate", "status", vault, "--catalog", cat)
        return json.loads(out.splitlines()[0])

    def done(self, vault, cat):
        try:
            return self.status(vault, cat)["states"]["done"]["archives"]
        except AssertionError:
            return 0  # not planned yet

    def retrieval_jobs(self, vault):
        jobs = self.glacier.list_jobs(vaultName=vault)["JobList"]
        return [j for j in jobs if j["Action"] == "ArchiveRetrieval"]

    def check_copied(self, dest, data):
        d = os.path.join(dest, ".floe-migrate")
        csvs = [f for f in os.listdir(d) if f.endswith(".manifest.csv")]
        self.assertEqual(len(csvs), 1, os.listdir(d))
        with open(os.path.join(d, csvs[0]), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(sorted(r["archive_id"] for r in rows), sorted(data))  # each once
        for r in rows:
            with open(r["destination"], "rb") as f:
                self.assertEqual(f.read(), data[r["archive_id"]], r["name"])
            self.assertEqual(r["sha256"], hashlib.sha256(data[r["archive_id"]]).hexdigest())
        files = [os.path.join(p, f) for p, _, fs in os.walk(dest) for f in fs
                 if ".floe-migrate" not in p]
        self.assertEqual(len(files), len(data), files)  # no part files, nothing twice

    def test_plan_rows_round_trip(self):
        """The plan goes up with COPY: descriptions with backslashes and escapes come back
        byte for byte, and the plan is complete."""
        type(self).n += 1
        vault = "pg%d" % self.n
        self.glacier.create_vault(vaultName=vault)
        descs = ["a\\b\\\\c\\t\\n%d.bin" % i for i in range(5)]
        descs += ["plain/%d" % i for i in range(5)]
        ids = {}
        for d in descs:
            ids[self.glacier.upload_archive(vaultName=vault, body=b"x" * 10,
                                            archiveDescription=d)["archiveId"]] = d
        dest = tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)
        cat = self.catalog(vault)
        self.floe("migrate", vault, "--to", dest, "--catalog", cat, "--poll-interval", "1s")
        rows = self.psql(cat, "SELECT id || '|' || encode(description, 'hex') FROM arch")
        got = dict(r.split("|") for r in rows.splitlines())
        self.assertEqual(got, {i: d.encode().hex() for i, d in ids.items()})
        self.check_copied(dest, {i: b"x" * 10 for i in ids})

    def test_three_workers_one_killed(self):
        n = 24
        vault, data = self.fill(n, lambda i: 150000 + 997 * i)
        dest = tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)
        cat = self.catalog(vault)
        procs = [self.worker(vault, dest, cat, "--max-jobs", "6") for _ in range(3)]
        self.wait_done(vault, cat, procs, 3)
        procs[0].send_signal(signal.SIGKILL)  # mid-run: holding claims it never releases
        procs[0].wait()
        self.assertLess(self.done(vault, cat), n)  # the others still have work to take over
        results = []
        for p in procs[1:]:
            out, err = self.outcome(p, cat)
            self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
            results.append(json.loads(out.decode().splitlines()[-1]))
        st = self.status(vault, cat)
        self.assertEqual(st["states"]["done"]["archives"], n, st)
        self.assertEqual(st["bytes_copied"] > 0, True)
        self.assertNotIn(":", st["catalog"].split("@")[0].split("//")[1])  # no password shown
        self.check_copied(dest, data)
        # every archive's job paid once (a worker killed between paying and recording may
        # have paid one more; the claims it held were taken over with their jobs)
        self.assertLessEqual(len(self.retrieval_jobs(vault)), n + 1)
        # both survivors worked, and they did not copy the same archive twice
        copied = sum(r["copied"] + r["already_present"] for r in results)
        self.assertLessEqual(copied, n)
        self.assertEqual(self.psql(cat, "SELECT count(*) FROM arch WHERE owner <> ''"), "0")
        # --shard makes no sense with a shared catalog: refused
        _, err = self.floe("migrate", vault, "--to", dest, "--catalog", cat, "--shard", "1/2",
                           expect=2)
        self.assertIn("--shard", err)

    def slow_worker(self, n, size):
        """A vault of n archives and one worker migrating it to a new directory, one job at a
        time (Bulk takes 1 s each here: it runs for >= n seconds); (vault, data, dest, cat, p)."""
        vault, data = self.fill(n, size)
        dest = tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)
        cat = self.catalog(vault)
        return vault, data, dest, cat, self.worker(vault, dest, cat, "--max-jobs", "1")

    def hand_to_dead_worker(self, cat, p, state, count, lease_s):
        """count planned rows (the last ones) made state, held by a worker that is gone (its
        lease ends in lease_s seconds), while worker p runs; returns [(id, name)]."""
        deadline = time.time() + 60
        dead = []
        while not dead and time.time() < deadline and p.poll() is None:
            time.sleep(0.1)
            r = subprocess.run(
                ["psql", cat, "-qtAc",
                 "UPDATE arch SET state = %d, owner = 'dead-worker', lease_until = now() +"
                 " interval '%d seconds' WHERE ord IN (SELECT ord FROM arch WHERE state = 0 AND"
                 " owner = '' ORDER BY ord DESC LIMIT %d FOR UPDATE SKIP LOCKED)"
                 " RETURNING id || '|' || convert_from(name, 'UTF8')" % (state, lease_s, count)],
                capture_output=True)
            if r.returncode == 0:
                dead = [tuple(line.split("|", 1)) for line in r.stdout.decode().split()]
        self.assertTrue(dead, "no planned rows to hand to the dead worker")
        self.assertIsNone(p.poll(), "the worker finished before the dead worker's rows existed")
        return dead

    def test_dead_workers_verified_rows_finished(self):
        """A worker that died after placing and verifying archives but before recording them
        done: a surviving worker (past its start-up recovery) finishes them once their lease
        expires, re-checking each file, instead of exiting with them left verified."""
        n = 12
        vault, data, dest, cat, p = self.slow_worker(n, lambda i: 20000 + 7 * i)
        dead = self.hand_to_dead_worker(cat, p, 4, 3, 3)
        for aid, name in dead:  # what the dead worker had put in place
            path = os.path.join(dest, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data[aid])
        out, err = self.outcome(p, cat)
        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
        result = json.loads(out.decode().splitlines()[-1])
        self.assertEqual(self.status(vault, cat)["states"]["done"]["archives"], n)
        self.assertEqual(result["already_present"], len(dead), result)
        self.check_copied(dest, data)  # the dead worker's files with their SHA-256 recorded
        self.assertLessEqual(len(self.retrieval_jobs(vault)), n - len(dead))

    def test_dead_workers_copy_with_a_listed_job_taken_over(self):
        """A dead worker's copy whose retrieval job ListJobs still lists as succeeded: once
        its lease expires it goes back to staged and a survivor copies it with that job. (The
        survivor's ListJobs walk used to claim such a row by its job id and leave it copying,
        its lease renewed by the survivor's heartbeat forever: every worker then waited.)"""
        n = 10
        vault, data, dest, cat, p = self.slow_worker(n, lambda i: 30000 + 11 * i)
        dead = self.hand_to_dead_worker(cat, p, 3, 2, 6)
        for aid, _ in dead:  # the dead worker's jobs, succeeded, recorded with its rows
            job = self.glacier.initiate_job(vaultName=vault, jobParameters={
                "Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Expedited"})["jobId"]
            self.psql(cat, "UPDATE arch SET job_id = '%s', job_done = extract(epoch FROM now())"
                           "::bigint WHERE id = '%s'" % (job, aid))
        out, err = self.outcome(p, cat, 120)
        self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
        self.assertEqual(self.status(vault, cat)["states"]["done"]["archives"], n)
        self.check_copied(dest, data)
        self.assertLessEqual(len(self.retrieval_jobs(vault)), n)  # the dead worker's jobs used
        self.assertEqual(self.psql(cat, "SELECT count(*) FROM arch WHERE owner <> ''"), "0")

    @unittest.skipUnless(HAVE_MOTO, "moto or boto3 not installed")
    def test_three_workers_one_killed_to_s3(self):
        # small archives (one PutObject each) and two streamed in 8 MiB parts (multipart)
        n = 18
        sizes = lambda i: (17 << 20) + i if i < 2 else 120000 + 991 * i  # noqa: E731
        vault, data = self.fill(n, sizes)
        moto_srv = servers.start_moto()
        self.addCleanup(moto_srv.stop)
        s3 = boto3.client("s3", endpoint_url=moto_srv.url, region_name="us-east-1",
                          aws_access_key_id=servers.LOCAL_AK,
                          aws_secret_access_key=servers.LOCAL_SK)
        bucket = "floe-pg-" + vault
        s3.create_bucket(Bucket=bucket)
        cat = self.catalog(vault)
        to = "s3://%s/m/" % bucket
        procs = [self.worker(vault, to, cat, "--max-jobs", "6", "--s3-endpoint-url",
                             moto_srv.url, "--storage-class", "STANDARD", "--chunk-size",
                             "8MiB") for _ in range(3)]
        self.wait_done(vault, cat, procs, 3)
        procs[0].send_signal(signal.SIGKILL)  # mid-run, claims (maybe an upload) in hand
        procs[0].wait()
        self.assertLess(self.done(vault, cat), n)
        results = []
        for p in procs[1:]:
            out, err = self.outcome(p, cat)
            self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
            results.append(json.loads(out.decode().splitlines()[-1]))
        self.assertEqual(self.status(vault, cat)["states"]["done"]["archives"], n)
        objs = s3.list_objects_v2(Bucket=bucket)["Contents"]
        self.assertEqual(len(objs), n, [o["Key"] for o in objs])  # one object per archive
        seen = set()
        for o in objs:
            h = s3.head_object(Bucket=bucket, Key=o["Key"], ChecksumMode="ENABLED")
            aid = h["Metadata"]["glacier-archive-id"]
            self.assertNotIn(aid, seen)
            seen.add(aid)
            body = data[aid]
            got = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(body).hexdigest(),
                             o["Key"])
            if len(body) < (8 << 20):  # one PutObject: its checksum is the body's SHA-256
                self.assertEqual(h["ChecksumSHA256"],
                                 base64.b64encode(hashlib.sha256(body).digest()).decode())
                self.assertEqual(h["Metadata"]["sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(seen, set(data))
        # the killed worker's upload was resumed or aborted, never left behind
        self.assertEqual(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])
        copied = sum(r["copied"] + r["already_present"] for r in results)
        self.assertLessEqual(copied, n)
        self.assertLessEqual(len(self.retrieval_jobs(vault)), n + 1)
        self.assertEqual(self.psql(cat, "SELECT count(*) FROM arch WHERE owner <> ''"), "0")

    def test_stalled_worker_loses_its_leases(self):
        n = 16
        vault, data = self.fill(n, lambda i: 100000 + 31 * i)
        dest = tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)
        cat = self.catalog(vault)
        procs = [self.worker(vault, dest, cat, "--max-jobs", "6") for _ in range(2)]
        self.wait_done(vault, cat, procs, 2)
        procs[0].send_signal(signal.SIGSTOP)  # stalled past its 3 s lease, claims in hand
        try:
            out, err = self.outcome(procs[1], cat)  # the other takes everything over
            self.assertEqual(procs[1].returncode, 0, err.decode(errors="replace"))
            self.assertEqual(self.status(vault, cat)["states"]["done"]["archives"], n)
        finally:
            procs[0].send_signal(signal.SIGCONT)
        out, err = self.outcome(procs[0], cat, 120)
        err = err.decode(errors="replace")
        # back, it either finds nothing left or stops at the first row it no longer holds, or
        # (stopped inside a catalog transaction, whose row locks the others pass over) finds its
        # session ended by the database after 10 leases (30 s here), its rows released
        if procs[0].returncode:
            self.assertEqual(procs[0].returncode, 1, err)
            self.assertTrue("is no longer this worker's" in err or
                            "its rows are no longer this worker's" in err, err)
        self.assertEqual(self.status(vault, cat)["states"]["done"]["archives"], n)
        self.check_copied(dest, data)
        self.assertLessEqual(len(self.retrieval_jobs(vault)), n)  # a stall pays no job twice

    def test_worker_stopped_inside_a_transaction(self):
        # A worker holds a catalog transaction over its InitiateJob requests (a batch is claimed,
        # requested and recorded together); stopped there, its row locks stay, SKIP LOCKED makes
        # the others pass those rows over and its lease cannot free them. The database ends a
        # session idle in a transaction for 10 leases (30 s here), so the rows come back.
        n = 8
        vault, data = self.fill(n, lambda i: 50000 + i)
        dest = tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)
        cat = self.catalog(vault)
        # worker 0's InitiateJob requests take 4 s each: it sits in the transaction meanwhile
        proxy = servers.start_faultproxy(self.vault.port,
                                         ["POST /[^/]+/vaults/[^/]+/jobs$ delay:4 0"])
        self.addCleanup(proxy.stop)
        p0 = subprocess.Popen([FLOE, "--endpoint-url", proxy.url, "--json", "migrate", vault,
                               "--to", dest, "--catalog", cat, "--lease", "3s",
                               "--poll-interval", "1s"], env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.addCleanup(self.reap, p0)
        deadline = time.time() + 90
        while time.time() < deadline:
            self.assertIsNone(p0.poll(), "the worker exited early")
            # its claims are not visible to others before the commit: the session's state says
            # it sits in the transaction, after claiming rows, waiting for the service
            held = self.psql(cat, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                                  "AND state = 'idle in transaction' AND now() - state_change > "
                                  "interval '1 second' AND query LIKE 'UPDATE arch SET owner%%'"
                                  % vault)
            if held != "0":
                break
            time.sleep(0.2)
        else:
            self.fail("worker 0 never sat in a transaction holding claims")
        p0.send_signal(signal.SIGSTOP)
        try:
            p1 = self.worker(vault, dest, cat)
            out, err = self.outcome(p1, cat, 150)
            self.assertEqual(p1.returncode, 0, err.decode(errors="replace"))
            self.assertEqual(self.status(vault, cat)["states"]["done"]["archives"], n)
        finally:
            p0.send_signal(signal.SIGCONT)
        out, err = self.outcome(p0, cat, 120)
        err = err.decode(errors="replace")
        self.assertEqual(p0.returncode, 1, err)
        self.assertIn("its rows are no longer this worker's", err)
        self.assertEqual(self.status(vault, cat)["states"]["done"]["archives"], n)
        self.check_copied(dest, data)

    def test_postgres_stopped_mid_run(self):
        n = 16
        vault, data = self.fill(n, lambda i: 120000 + i)
        dest = tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)
        cat = self.catalog(vault)
        procs = [self.worker(vault, dest, cat, "--max-jobs", "4") for _ in range(2)]
        self.wait_done(vault, cat, procs, 2)
        self.pg.stop()
        try:
            for p in procs:
                out, err = p.communicate(timeout=120)
                err = err.decode(errors="replace")
                self.assertNotEqual(p.returncode, 0, err)
                self.assertIn("unreachable", err)
                self.assertIn("127.0.0.1", err)
        finally:
            self.pg.start()
        # nothing lost: a re-run completes, each archive copied once, the manifest whole
        out, err = self.floe("--json", "migrate", vault, "--to", dest, "--catalog", cat,
                             "--poll-interval", "1s")
        self.assertEqual(json.loads(out.splitlines()[-1])["done"], n)
        self.check_copied(dest, data)
        self.assertLessEqual(len(self.retrieval_jobs(vault)), n + 2)

    def test_unreachable_catalog(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        url = "postgresql://floe:secret@127.0.0.1:%d/none" % port
        dest = tempfile.mkdtemp(prefix="dest-", dir=self.tmp.name)
        _, err = self.floe("migrate", "v", "--to", dest, "--catalog", url, expect=1)
        self.assertIn("is unreachable while connecting", err)
        self.assertNotIn("secret", err)
        _, err = self.floe("migrate", "status", "v", "--catalog", url, expect=1)
        self.assertIn("unreachable", err)
        # a database nobody planned in: status says so
        cat = self.catalog("unplanned")
        _, err = self.floe("migrate", "status", "v", "--catalog", cat, expect=1)
        self.assertIn("nothing was planned", err)


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)  # then test names, -k
