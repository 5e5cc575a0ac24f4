#!/usr/bin/env python3
"""floe migrate to S3: floe-vault (Bulk jobs take a second) as the source and moto's S3 server
as the destination, both started here on loopback; every object is read back with boto3 and
checked (bytes, x-amz-checksum-sha256, the metadata floe writes, the storage class); a 20 MiB
archive streams up in 8 MiB tree-hash-aligned parts; a re-run with a new catalog pays no job and
copies nothing (HeadObject); kill -9 mid-copy and the re-run continues the same upload from the
parts ListParts confirms; a chunk whose tree hash never matches fails that archive only (its id
and byte range); a missing or denied bucket is reported before any job is paid for; an object in
the way fails that archive only. Skipped (77) without moto.

usage: test_migrate_s3.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import base64
import csv
import hashlib
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

try:
    import boto3  # noqa: E402
    import botocore.utils  # noqa: E402
    import moto  # noqa: E402,F401
except ImportError:
    print("moto or boto3 not installed: skipped")
    sys.exit(77)

FLOE = VAULT_BIN = None


def tree_hash(body):
    """The Glacier tree hash (hex) of body."""
    return botocore.utils.calculate_tree_hash(io.BytesIO(body))


class MigrateS3Tests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-migrate-s3-test-")
        cls.vault = servers.start_vault(VAULT_BIN, extra=[
            "--job-delay", "Expedited=0,Standard=0,Bulk=1"])
        cls.moto = servers.start_moto()
        cls.env = servers.client_env(cls.tmp.name)
        cls.glacier = servers.glacier_client(cls.vault.url)
        cls.s3 = boto3.client("s3", endpoint_url=cls.moto.url, region_name="us-east-1",
                              aws_access_key_id=servers.LOCAL_AK,
                              aws_secret_access_key=servers.LOCAL_SK)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.moto.stop()
        cls.tmp.cleanup()

    def fill(self, items):
        type(self).n += 1
        name = "ms%d" % self.n
        self.glacier.create_vault(vaultName=name)
        data = {}
        for desc, size in items:
            body = os.urandom(size)
            r = self.glacier.upload_archive(vaultName=name, body=body, archiveDescription=desc)
            data[r["archiveId"]] = (desc, body)
        bucket = "floe-mig-%d" % self.n
        self.s3.create_bucket(Bucket=bucket)
        return name, bucket, data

    def floe(self, *args, expect=0, url=None):
        r = subprocess.run([FLOE, "--endpoint-url", url or self.vault.url, "--json", *args],
                           capture_output=True, timeout=300, env=self.env,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, expect, err)
        return [json.loads(x) for x in r.stdout.decode().splitlines()], err

    def jobs(self, vault):
        return self.glacier.list_jobs(vaultName=vault)["JobList"]

    def test_copy_read_back_and_rerun(self):
        vault, bucket, data = self.fill([("docs/small.txt", 1000),
                                         ("floe1 file 1700000000 /srv/big.bin", (20 << 20) + 5)])
        catalog = os.path.join(self.tmp.name, "c1.db")
        lines, _ = self.floe("migrate", vault, "--to", "s3://%s/pre/" % bucket,
                             "--s3-endpoint-url", self.moto.url, "--storage-class", "STANDARD",
                             "--chunk-size", "8MiB", "--poll-interval", "1s",
                             "--catalog", catalog)
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"], r["jobs_requested"]), (2, 2, 0, 2))
        self.assertGreater(r["tiers"][0]["destination_usd"], 0)  # S3 is priced
        keys = {o["Key"]: o for o in self.s3.list_objects_v2(Bucket=bucket)["Contents"]}
        self.assertEqual(set(keys), {"pre/docs/small.txt", "pre/srv/big.bin"})
        for aid, (desc, body) in data.items():
            key = "pre/docs/small.txt" if len(body) == 1000 else "pre/srv/big.bin"
            h = self.s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            meta = h["Metadata"]
            self.assertEqual(meta["glacier-archive-id"], aid)
            if len(body) == 1000:  # a one-part object: its SHA-256 is known before the PUT
                self.assertEqual(meta["sha256"], hashlib.sha256(body).hexdigest())
            else:  # streamed in parts: the SHA-256 is known at the end, in the manifest
                self.assertNotIn("sha256", meta)
            self.assertEqual(meta["glacier-description"], desc)
            self.assertTrue(meta["glacier-creation-date"].startswith("20"))
            self.assertEqual(len(meta["glacier-tree-hash"]), 64)
            self.assertEqual(h.get("StorageClass", "STANDARD"), "STANDARD")
            got = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            self.assertEqual(got, body)
            if len(body) == 1000:  # one PutObject with its checksum
                self.assertEqual(h["ChecksumSHA256"],
                                 base64.b64encode(hashlib.sha256(body).digest()).decode())
        parts = self.s3.head_object(Bucket=bucket, Key="pre/srv/big.bin", PartNumber=1)
        self.assertEqual(parts["PartsCount"], 3)  # 8 + 8 + 4 MiB
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])
        with open(catalog[:-3] + ".manifest.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual({x["destination"] for x in rows},
                         {"s3://%s/pre/docs/small.txt" % bucket, "s3://%s/pre/srv/big.bin" % bucket})
        self.assertEqual({x["sha256"] for x in rows},
                         {hashlib.sha256(b).hexdigest() for _, b in data.values()})
        self.assertEqual(os.listdir(catalog[:-3] + ".staging"), [])  # no parts journal left
        # streamed: the job output was fetched in 8 MiB tree-hash-aligned ranges
        # a new catalog: HeadObject finds every object, no job is paid
        lines, _ = self.floe("migrate", vault, "--to", "s3://%s/pre" % bucket,
                             "--s3-endpoint-url", self.moto.url, "--storage-class", "STANDARD",
                             "--catalog", os.path.join(self.tmp.name, "c2.db"))
        r = lines[-1]
        self.assertEqual((r["copied"], r["already_present"], r["jobs_requested"]), (0, 2, 0))
        self.assertEqual(len([j for j in self.jobs(vault) if j["Action"] == "ArchiveRetrieval"]), 2)

    def start_until_delayed(self, args, proxy):
        """floe ARGS with S3 through proxy, returned once the proxy delays a request."""
        p = subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, *args,
                              "--s3-endpoint-url", proxy.url], env=self.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and "FAULT delay" not in proxy.log():
            time.sleep(0.1)
        return p

    def test_kill_mid_upload_resumes_through_listparts(self):
        vault, bucket, data = self.fill([("k/big.bin", (28 << 20) + 5)])
        (body,) = [b for _, b in data.values()]
        catalog = os.path.join(self.tmp.name, "kill.db")
        proxy = servers.start_faultproxy(self.moto.port, ["PUT partNumber=3 delay:60 1"])
        args = ["migrate", vault, "--to", "s3://%s/k" % bucket, "--storage-class", "STANDARD",
                "--chunk-size", "8MiB", "--poll-interval", "1s", "--catalog", catalog]
        p = self.start_until_delayed(args, proxy)
        staging = catalog[:-3] + ".staging"

        def journaled():  # part 2's journal line is written once its answer is in
            for name in os.listdir(staging) if os.path.isdir(staging) else []:
                if name.endswith(".parts"):
                    with open(os.path.join(staging, name)) as f:
                        if any(line.startswith("2 ") for line in f):
                            return True
            return False

        try:  # parts 1 and 2 can take long beside others' work (CI): wait for the line
            deadline = time.time() + 50  # part 3 is held 60 s
            while not journaled() and time.time() < deadline:
                time.sleep(0.1)
            self.assertTrue(journaled(), "part 2 was never journaled")
        finally:
            p.send_signal(signal.SIGKILL)  # parts 1 and 2 sent, part 3 in flight
            p.wait()
            proxy.stop()
        uploads = self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        self.assertEqual(len(uploads), 1)
        listed = self.s3.list_parts(Bucket=bucket, Key="k/k/big.bin",
                                    UploadId=uploads[0]["UploadId"])["Parts"]
        # parts 1 and 2 confirmed; part 4 may have gone up beside the delayed part 3 (two
        # chunks in flight) but its journal line waits for part 3, so the re-run sends it again
        self.assertEqual([x["PartNumber"] for x in listed][:2], [1, 2])
        self.assertNotIn(3, [x["PartNumber"] for x in listed])
        # the staging directory holds the parts journal only: no archive bytes on disk
        staged = os.listdir(catalog[:-3] + ".staging")
        self.assertEqual([f for f in staged if not f.endswith(".parts")], [])
        lines, err = self.floe(*args, "--s3-endpoint-url", self.moto.url)
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"]), (1, 1))
        self.assertIn("2 parts confirmed by ListParts, 2 sent", err)
        self.assertRegex(err, r"ranges in flight: up to [2-9]")  # the rest fetched in parallel
        # the same upload was completed: nothing left behind, the job was not paid twice
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])
        self.assertEqual(len(self.jobs(vault)) - 1, 1)  # the inventory and one retrieval
        got = self.s3.get_object(Bucket=bucket, Key="k/k/big.bin")["Body"].read()
        self.assertEqual(got, body)
        self.assertEqual(self.s3.head_object(Bucket=bucket, Key="k/k/big.bin",
                                             PartNumber=1)["PartsCount"], 4)
        with open(catalog[:-3] + ".manifest.csv", newline="") as f:
            (row,) = list(csv.DictReader(f))
        self.assertEqual(row["sha256"], hashlib.sha256(body).hexdigest())

    def test_kill_with_unrecorded_upload_leaves_nothing(self):
        # a journal that does not match the recorded upload: the upload is aborted, a new one
        # sent whole; an upload of the key nobody recorded is aborted too
        vault, bucket, data = self.fill([("u/big.bin", (16 << 20) + 1)])
        (body,) = [b for _, b in data.values()]
        stray = self.s3.create_multipart_upload(Bucket=bucket, Key="u/u/big.bin")["UploadId"]
        lines, err = self.floe("migrate", vault, "--to", "s3://%s/u" % bucket,
                               "--s3-endpoint-url", self.moto.url, "--storage-class", "STANDARD",
                               "--chunk-size", "8MiB", "--poll-interval", "1s",
                               "--catalog", os.path.join(self.tmp.name, "stray.db"))
        self.assertEqual((lines[-1]["copied"], lines[-1]["failed"]), (1, 0))
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])
        self.assertNotEqual(stray, "")
        got = self.s3.get_object(Bucket=bucket, Key="u/u/big.bin")["Body"].read()
        self.assertEqual(got, body)

    def wait_inventory(self, vault):
        inv = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "inventory-retrieval"})["jobId"]  # migrate reuses it; its output is spared
        deadline = time.time() + 60
        while not self.glacier.describe_job(vaultName=vault, jobId=inv)["Completed"]:
            self.assertLess(time.time(), deadline)
            time.sleep(0.2)
        return inv

    def test_corrupt_ranges_fetched_again(self):
        # the default: a 40 MiB archive in one 64 MiB chunk, fetched as six ranges (8 MiB) at
        # once; the first two answers carry a wrong tree hash: those two ranges (and only
        # they) are fetched again, the object is right, its SHA-256 is the bytes'
        vault, bucket, data = self.fill([("c/big.bin", (40 << 20) + 7)])
        (body,) = [b for _, b in data.values()]
        inv = self.wait_inventory(vault)
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /jobs/(?!%s/)[^/]+/output badhash 2" % re.escape(inv)])
        catalog = os.path.join(self.tmp.name, "refetch.db")
        try:
            lines, err = self.floe("migrate", vault, "--to", "s3://%s/c" % bucket,
                                   "--s3-endpoint-url", self.moto.url,
                                   "--storage-class", "STANDARD", "--poll-interval", "1s",
                                   "--catalog", catalog, url=proxy.url)
            log = proxy.log()
        finally:
            proxy.stop()
        self.assertEqual(log.count("FAULT badhash"), 2)
        self.assertEqual(len(re.findall(r"GET /[^ ]*/jobs/(?!%s/)[^/ ]+/output" % re.escape(inv),
                                        log)), 6 + 2, log)
        self.assertEqual((lines[-1]["copied"], lines[-1]["failed"]), (1, 0))
        peak = re.findall(r"ranges in flight: up to (\d+), 2 fetched again", err)
        self.assertEqual(len(peak), 1, err)
        self.assertGreater(int(peak[0]), 1, err)
        got = self.s3.get_object(Bucket=bucket, Key="c/c/big.bin")["Body"].read()
        self.assertEqual(got, body)
        h = self.s3.head_object(Bucket=bucket, Key="c/c/big.bin", ChecksumMode="ENABLED")
        self.assertEqual(h["Metadata"]["sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(h["ChecksumSHA256"],
                         base64.b64encode(hashlib.sha256(body).digest()).decode())

    def test_default_grows_only_on_a_latency_bound_link(self):
        """No --concurrency: an archive's ranges start 4 at a time and grow only while they
        wait a fifth of their time or more for the first byte: through linkem with a 200 ms
        round trip between floe and the vault (S3 on loopback) the 16 ranges of a 128 MiB
        archive go more than 4 at a time; through linkem capped at 40 MB/s with no delay
        (the fetches move bytes, they barely wait) they stay at 4. --concurrency 2 is a fixed
        2. Every object read back."""
        linkem = os.path.join(os.path.dirname(os.path.abspath(FLOE)), "linkem")
        if not os.access(linkem, os.X_OK):
            self.skipTest("no linkem beside %s (built with the tests)" % FLOE)
        size = 128 << 20
        vault, bucket, data = self.fill([("far/big.bin", size)])
        (body,) = [b for _, b in data.values()]
        runs = ((["--rtt-ms", "200"], [], lambda p: p > 4),
                (["--rate", "40M"], [], lambda p: p == 4),
                (["--rtt-ms", "200"], ["--concurrency", "2"], lambda p: p == 2))
        for i, (link_args, extra, ok) in enumerate(runs):
            link = servers.start_linkem(linkem, self.vault.port, *link_args)
            try:
                lines, err = self.floe("migrate", vault, "--to", "s3://%s/r%d" % (bucket, i),
                                       "--s3-endpoint-url", self.moto.url,
                                       "--storage-class", "STANDARD", "--poll-interval", "1s",
                                       "--catalog", os.path.join(self.tmp.name, "far%d.db" % i),
                                       *extra, url="http://127.0.0.1:%d" % link.port)
            finally:
                link.stop()
            self.assertEqual((lines[-1]["copied"], lines[-1]["done"]), (1, 1), err)
            peak = [int(n) for n in re.findall(r"ranges in flight: up to (\d+)", err)]
            self.assertEqual(len(peak), 1, err)
            self.assertTrue(ok(peak[0]), (link_args, extra, err))
            key = "r%d/far/big.bin" % i
            got = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            self.assertEqual(got, body)
            self.assertEqual(self.s3.head_object(Bucket=bucket, Key=key,
                                                 PartNumber=1)["PartsCount"], 2)

    def test_chunk_with_wrong_tree_hash_fails_that_archive_only(self):
        # every answer of the first three GetJobOutput calls carries a wrong tree hash: with
        # one range at a time (--concurrency 1) the first archive copied gets its first range
        # fetched three times, then fails with its id and byte range (its upload aborted);
        # the other archive is copied
        vault, bucket, data = self.fill([("b/one.bin", (16 << 20) + 3), ("b/two.bin", 5000)])
        inv = self.wait_inventory(vault)
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /jobs/(?!%s/)[^/]+/output badhash 3" % re.escape(inv)])
        catalog = os.path.join(self.tmp.name, "badhash.db")
        try:
            lines, err = self.floe("migrate", vault, "--to", "s3://%s/b" % bucket,
                                   "--s3-endpoint-url", self.moto.url,
                                   "--storage-class", "STANDARD", "--chunk-size", "8MiB",
                                   "--poll-interval", "1s", "--catalog", catalog,
                                   "--concurrency", "1", url=proxy.url, expect=3)
            self.assertEqual(proxy.log().count("FAULT badhash"), 3)
        finally:
            proxy.stop()
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"]), (1, 1, 1))
        st, _ = self.floe("migrate", "status", vault, "--to", "s3://%s/b" % bucket,
                          "--catalog", catalog, "--list")
        failed = [a for a in st if a.get("state") == "failed"]
        self.assertEqual(len(failed), 1, st)
        self.assertIn(failed[0]["archive_id"], failed[0]["reason"])
        self.assertRegex(failed[0]["reason"], r"bytes \d+-\d+ did not match their tree hash "
                                              r"in 3 fetches")
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        self.assertEqual(len(keys), 1)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])

    def test_failed_part_stops_the_upload(self):
        # part 2 of a 6-part copy is refused for good (400, not retried); the ranges after it
        # are slow (10 s each, one at a time: part 2's refusal is in before the next range is
        # asked for, even on a loaded machine): once the refusal is in, nothing more is sent for
        # that upload - no other part, no retry of part 2, no CompleteMultipartUpload, no range
        # fetched beyond the one in flight - and the run stops with the upload kept; the same
        # command continues it from part 1 (ListParts) and the object is right
        vault, bucket, data = self.fill([("f/big.bin", (40 << 20) + 11)])
        (body,) = [b for _, b in data.values()]
        inv = self.wait_inventory(vault)
        catalog = os.path.join(self.tmp.name, "partfail.db")
        args = ["migrate", vault, "--to", "s3://%s/f" % bucket, "--storage-class", "STANDARD",
                "--chunk-size", "8MiB", "--concurrency", "1", "--poll-interval", "1s",
                "--catalog", catalog]
        s3proxy = servers.start_faultproxy(self.moto.port, [
            "PUT partNumber=2 s3status:400:InvalidArgument 0"])
        gproxy = servers.start_faultproxy(self.vault.port, [
            "GET /jobs/(?!%s/)[^/]+/output delay:10 2+0" % re.escape(inv)])
        try:
            _, err = self.floe(*args, "--s3-endpoint-url", s3proxy.url, url=gproxy.url,
                               expect=1)
            log, glog = s3proxy.log(), gproxy.log()
        finally:
            s3proxy.stop()
            gproxy.stop()
        self.assertIn("InvalidArgument", err)
        parts = re.findall(r"^(\S+)(?: \S+)? PUT \S*partNumber=(\d+)", log, re.M)
        self.assertEqual(sorted(parts), [("FAULT", "2"), ("PASS", "1")], log)
        self.assertNotRegex(log, r"POST \S*uploadId=", log)
        outputs = re.findall(r"GET /[^ ]*/jobs/(?!%s/)[^/ ]+/output" % re.escape(inv), glog)
        self.assertIn(len(outputs), (2, 3), glog)  # ranges 1, 2 and the one in flight, if any
        uploads = self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        self.assertEqual(len(uploads), 1)
        lines, err = self.floe(*args, "--s3-endpoint-url", self.moto.url)
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"]), (1, 1), err)
        self.assertIn("1 parts confirmed by ListParts, 5 sent", err)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])
        got = self.s3.get_object(Bucket=bucket, Key="f/f/big.bin")["Body"].read()
        self.assertEqual(got, body)

    def test_corrupted_part_is_sent_again(self):
        # UploadParts answered BadDigest once, or with a forged checksum once: sent again (as a
        # small archive's PutObject is), the object is right; a part whose checksum comes back
        # forged every time fails that archive only, after 3 UploadParts, naming it; its
        # upload is aborted
        vault, bucket, data = self.fill([("q/one.bin", (16 << 20) + 3),
                                         ("q/two.bin", (16 << 20) + 5)])
        ids = {d: aid for aid, (d, _) in data.items()}
        proxy = servers.start_faultproxy(self.moto.port, [
            "PUT one\\.bin\\?partNumber=2& s3status:400:BadDigest 1",
            "PUT one\\.bin\\?partNumber=3& badsum 1", "PUT two\\.bin\\?partNumber=2& badsum 0"])
        catalog = os.path.join(self.tmp.name, "partsum.db")
        try:
            lines, err = self.floe("migrate", vault, "--to", "s3://%s/q" % bucket,
                                   "--s3-endpoint-url", proxy.url, "--storage-class", "STANDARD",
                                   "--chunk-size", "8MiB", "--poll-interval", "1s",
                                   "--catalog", catalog, expect=3)
            log = proxy.log()
        finally:
            proxy.stop()
        self.assertEqual((lines[-1]["copied"], lines[-1]["failed"]), (1, 1), err)
        for name, part, n in (("one", 1, 1), ("one", 2, 2), ("one", 3, 2), ("two", 2, 3)):
            self.assertEqual(len(re.findall(r"PUT \S*/%s\.bin\?partNumber=%d&" % (name, part),
                                            log)), n, log)
        st, _ = self.floe("migrate", "status", vault, "--to", "s3://%s/q" % bucket,
                          "--catalog", catalog, "--list")
        (failed,) = [a for a in st if a.get("state") == "failed"]
        self.assertEqual(failed["name"], "q/two.bin")
        self.assertIn("archive %s: the body of part 2 arrived corrupted in 3 UploadParts"
                      % ids["q/two.bin"], failed["reason"])
        got = self.s3.get_object(Bucket=bucket, Key="q/q/one.bin")["Body"].read()
        self.assertEqual(got, data[ids["q/one.bin"]][1])
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        self.assertEqual(keys, ["q/q/one.bin"])
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])

    def test_s3_throttling_and_5xx_are_retried(self):
        # SlowDown and 500 on parts, a 503 on the completion: retried, the object arrives whole
        vault, bucket, data = self.fill([("t/big.bin", (17 << 20) + 9)])
        (body,) = [b for _, b in data.values()]
        proxy = servers.start_faultproxy(self.moto.port, [
            "PUT partNumber=1 s3status:503:SlowDown 2", "PUT partNumber=3 s3status:500 1",
            "POST uploadId= s3status:503:ServiceUnavailable 1"])
        try:
            lines, _ = self.floe("migrate", vault, "--to", "s3://%s/t" % bucket,
                                 "--s3-endpoint-url", proxy.url, "--storage-class", "STANDARD",
                                 "--chunk-size", "8MiB", "--poll-interval", "1s",
                                 "--catalog", os.path.join(self.tmp.name, "slow.db"))
            self.assertEqual(proxy.log().count("FAULT"), 4)
        finally:
            proxy.stop()
        self.assertEqual((lines[-1]["copied"], lines[-1]["failed"]), (1, 0))
        got = self.s3.get_object(Bucket=bucket, Key="t/t/big.bin")["Body"].read()
        self.assertEqual(got, body)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])

    def test_default_storage_class_and_object_in_the_way(self):
        vault, bucket, data = self.fill([("x/a", 10), ("x/b", 20)])
        self.s3.put_object(Bucket=bucket, Key="x/a", Body=b"not the archive")
        env_url = dict(self.env, AWS_ENDPOINT_URL_S3=self.moto.url)
        r = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "--json", "migrate", vault,
                            "--to", "s3://" + bucket, "--poll-interval", "1s"],
                           capture_output=True, timeout=300, env=env_url)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(b"exists and is not this archive", r.stderr)
        h = self.s3.head_object(Bucket=bucket, Key="x/b")
        self.assertEqual(h["StorageClass"], "DEEP_ARCHIVE")
        got = self.s3.get_object(Bucket=bucket, Key="x/a")["Body"].read()
        self.assertEqual(got, b"not the archive")  # left alone

    def test_missing_or_denied_bucket_before_any_job(self):
        vault, _, _ = self.fill([("m/a", 10)])
        _, err = self.floe("migrate", vault, "--to", "s3://no-such-bucket-here/p",
                           "--s3-endpoint-url", self.moto.url, expect=1)
        self.assertIn("S3 bucket no-such-bucket-here does not exist", err)
        _, err = self.floe("migrate", "plan", vault, "--to", "s3://no-such-bucket-here/p",
                           "--s3-endpoint-url", self.moto.url, expect=1)
        self.assertIn("does not exist", err)
        proxy = servers.start_faultproxy(self.moto.port, [
            "HEAD ^/floe-mig s3status:403:AccessDenied 0"])
        _, err = self.floe("migrate", vault, "--to", "s3://floe-mig-%d/p" % self.n,
                           "--s3-endpoint-url", proxy.url, expect=1)
        self.assertIn("is denied", err)
        proxy.stop()
        self.assertEqual(self.jobs(vault), [])  # not even the inventory was requested
        _, err = self.floe("migrate", vault, "--to", "s3://floe-mig-%d/p" % self.n,
                           "--s3-endpoint-url", self.moto.url, "--storage-class", "COLD",
                           expect=2)
        self.assertIn("COLD", err)
        _, err = self.floe("migrate", vault, "--to", "s3://floe-mig-%d/p" % self.n,
                           "--s3-endpoint-url", self.moto.url, "--chunk-size", "6MiB", expect=2)
        self.assertIn("power of two", err)
        _, err = self.floe("migrate", vault, "--to", self.tmp.name, "--storage-class",
                           "STANDARD", expect=2)
        self.assertIn("for S3 destinations", err)


    # ---- small archives: copied in batches (HeadObject, GetJobOutput, PutObject in flight
    # together, one catalog transaction per batch) ----

    def fill_small(self, n, sizes, prefix):
        """n archives named PREFIX/fNNN.bin of the given sizes (cycled), and their bucket."""
        return self.fill([("%s/f%03d.bin" % (prefix, i), sizes[i % len(sizes)])
                          for i in range(n)])

    def objects(self, bucket):
        keys = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                keys[o["Key"]] = (o["ETag"], o["LastModified"])
        return keys

    def check_objects(self, bucket, data, skip=(), absent=()):
        """Every archive of data is the object p/DESCRIPTION: bytes, checksum, metadata (not
        checked for skip; absent: no object at all)."""
        keys = self.objects(bucket)
        self.assertEqual(len(keys), len(data) - len(absent))
        for desc in absent:
            self.assertNotIn("p/" + desc, keys)
        for aid, (desc, body) in data.items():
            if desc in skip or desc in absent:
                continue
            key = "p/" + desc
            h = self.s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            meta = h["Metadata"]
            self.assertEqual(meta["glacier-archive-id"], aid)
            self.assertEqual(meta["glacier-description"], desc)
            self.assertEqual(meta["sha256"], hashlib.sha256(body).hexdigest())
            self.assertEqual(meta["glacier-tree-hash"], tree_hash(body))
            self.assertEqual(h["ContentLength"], len(body))
            self.assertEqual(h["ChecksumSHA256"],
                             base64.b64encode(hashlib.sha256(body).digest()).decode())
            self.assertEqual(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read(), body)

    @staticmethod
    def peak(log, method):
        """The most requests the proxy (--inflight) had in flight when a METHOD one came."""
        return max([int(x) for x in re.findall(r"^PASS %s .* inflight=(\d+)$" % method, log,
                                               re.M)] or [0])

    def migrate_small(self, vault, bucket, s3_url, catalog, *extra, expect=0, url=None,
                      pre=()):
        return self.floe(*pre, "migrate", vault, "--to", "s3://%s/p" % bucket,
                         "--s3-endpoint-url", s3_url, "--storage-class", "STANDARD",
                         "--poll-interval", "1s", "--catalog", os.path.join(self.tmp.name, catalog),
                         *extra, expect=expect, url=url)

    def migrate_small_via(self, rules, vault, bucket, catalog, *extra, expect=0, pre=()):
        """migrate_small with S3 through a faultproxy with RULES: (lines, stderr, its log)."""
        proxy = servers.start_faultproxy(self.moto.port, rules)
        try:
            lines, err = self.migrate_small(vault, bucket, proxy.url, catalog, *extra,
                                            expect=expect, pre=pre)
            return lines, err, proxy.log()
        finally:
            proxy.stop()

    def states(self, vault, bucket, catalog):
        """{description: (state, reason)} of the catalog (floe migrate status --list)."""
        st, _ = self.floe("migrate", "status", vault, "--to", "s3://%s/p" % bucket, "--catalog",
                          os.path.join(self.tmp.name, catalog), "--list")
        return {a["name"]: (a["state"], a.get("reason", "")) for a in st if "state" in a}

    @staticmethod
    def puts_of(log, name):
        """The proxy's log lines of the PUTs of key .../NAME (PASS or FAULT)."""
        return re.findall(r"^(?:PASS|FAULT \S+) PUT \S*/%s(?:\?\S*)? *$" % re.escape(name),
                          log, re.M)

    def test_small_archives_go_in_batches(self):
        # 299 archives of 1 byte to 1 MiB (Glacier has no empty archive) and one of 2 MiB (streamed alone): every object
        # right, one PutObject each; HeadObjects and PutObjects went many at a time
        sizes = [1, 2, 1000, 4096, 65536, 12345, 1 << 20, 777, 300000, 31]
        items = [("s/f%03d.bin" % i, sizes[i % len(sizes)]) for i in range(299)]
        vault, bucket, data = self.fill(items + [("s/big.bin", (2 << 20) + 1)])
        proxy = servers.start_faultproxy(self.moto.port, [], inflight=True)
        try:
            lines, err = self.migrate_small(vault, bucket, proxy.url, "many.db")
            log = proxy.log()
        finally:
            proxy.stop()
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"], r["already_present"]),
                         (300, 300, 0, 0), err)
        self.assertEqual(r["copied_bytes"], sum(len(b) for _, b in data.values()))
        self.check_objects(bucket, data)
        self.assertEqual(len(re.findall(r"^PASS PUT ", log, re.M)), 300)
        self.assertGreater(self.peak(log, "PUT"), 8, log[-3000:])
        self.assertGreater(self.peak(log, "HEAD"), 8, log[-3000:])

    def test_corrupt_output_in_a_batch_is_fetched_again_alone(self):
        # the first job output fetched carries a wrong tree hash: that archive (only) goes the
        # one-archive way (DescribeJob, fetched again); the others need no DescribeJob
        vault, bucket, data = self.fill_small(20, [1, 10, 2000, 70000], "c")
        inv = self.wait_inventory(vault)
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /jobs/(?!%s/)[^/]+/output badhash 1" % re.escape(inv)])
        try:
            lines, err = self.migrate_small(vault, bucket, self.moto.url, "corrupt.db",
                                            url=proxy.url)
            log = proxy.log()
        finally:
            proxy.stop()
        self.assertEqual((lines[-1]["copied"], lines[-1]["failed"]), (20, 0), err)
        self.assertEqual(log.count("FAULT badhash"), 1)
        outputs = re.findall(r"GET /[^ ]*/jobs/(?!%s/)[^/ ]+/output" % re.escape(inv), log)
        self.assertEqual(len(outputs), 20 + 1, log)
        describes = re.findall(r"^PASS GET /[^ ]*/jobs/(?!%s)[^/ ?]+$" % re.escape(inv), log,
                               re.M)
        self.assertEqual(len(describes), 1, log)
        self.check_objects(bucket, data)

    def test_object_already_there_is_adopted_without_put(self):
        vault, bucket, data = self.fill_small(6, [100, 5000], "a")
        by_desc = {d: (aid, b) for aid, (d, b) in data.items()}
        aid, body = by_desc["a/f002.bin"]
        self.s3.put_object(Bucket=bucket, Key="p/a/f002.bin", Body=body, Metadata={
            "glacier-archive-id": aid, "glacier-tree-hash": tree_hash(body),
            "glacier-description": "a/f002.bin", "sha256": hashlib.sha256(body).hexdigest()},
            ChecksumAlgorithm="SHA256")
        self.s3.put_object(Bucket=bucket, Key="p/a/f004.bin", Body=b"in the way")
        proxy = servers.start_faultproxy(self.moto.port, [], inflight=True)
        try:
            lines, err = self.migrate_small(vault, bucket, proxy.url, "adopt.db", expect=3)
            log = proxy.log()
        finally:
            proxy.stop()
        r = lines[-1]
        self.assertEqual((r["copied"], r["already_present"], r["failed"]), (4, 1, 1), err)
        self.assertIn("p/a/f004.bin exists and is not this archive", err)
        puts = re.findall(r"^PASS PUT (\S+)", log, re.M)
        self.assertEqual(len(puts), 4, log)
        self.assertFalse([p for p in puts if "f002" in p or "f004" in p], log)
        self.assertGreater(self.peak(log, "HEAD"), 1, log)  # the batch's HeadObjects together
        self.assertEqual(self.s3.get_object(Bucket=bucket, Key="p/a/f004.bin")["Body"].read(),
                         b"in the way")
        self.check_objects(bucket, data, skip=("a/f004.bin",))

    def test_object_whose_checksum_is_not_its_recorded_sha256_is_not_adopted(self):
        # an object at the key with the archive's id, tree hash and size in its metadata, but
        # whose stored checksum is not of the SHA-256 its metadata records (corrupted, or not
        # what floe wrote): in the way, never adopted, left alone
        vault, bucket, data = self.fill_small(3, [100], "s")
        by_desc = {d: (aid, b) for aid, (d, b) in data.items()}
        aid, body = by_desc["s/f001.bin"]
        other = bytes(reversed(body))
        self.s3.put_object(Bucket=bucket, Key="p/s/f001.bin", Body=other, Metadata={
            "glacier-archive-id": aid, "glacier-tree-hash": tree_hash(body),
            "glacier-description": "s/f001.bin", "sha256": hashlib.sha256(body).hexdigest()},
            ChecksumAlgorithm="SHA256")
        lines, err = self.migrate_small(vault, bucket, self.moto.url, "notsha.db", expect=3)
        r = lines[-1]
        self.assertEqual((r["copied"], r["already_present"], r["failed"]), (2, 0, 1), err)
        self.assertIn("p/s/f001.bin exists and is not this archive (S3 stored checksum %s, its "
                      "metadata records SHA-256 %s)"
                      % (base64.b64encode(hashlib.sha256(other).digest()).decode(),
                         hashlib.sha256(body).hexdigest()), err)
        self.assertEqual(self.s3.get_object(Bucket=bucket, Key="p/s/f001.bin")["Body"].read(),
                         other)
        self.check_objects(bucket, data, skip=("s/f001.bin",))
        # the right bytes, but a recorded SHA-256 that is not one: in the way too (it would go
        # into the catalog and the manifest as the archive's)
        aid, body = by_desc["s/f002.bin"]
        self.s3.put_object(Bucket=bucket, Key="p/s/f002.bin", Body=body, Metadata={
            "glacier-archive-id": aid, "glacier-tree-hash": tree_hash(body),
            "glacier-description": "s/f002.bin", "sha256": "not-a-sha256"},
            ChecksumAlgorithm="SHA256")
        lines, err = self.migrate_small(vault, bucket, self.moto.url, "notsha2.db", expect=3)
        r = lines[-1]
        self.assertEqual((r["already_present"], r["failed"]), (1, 2), err)
        self.assertIn("p/s/f002.bin exists and is not this archive (its metadata records "
                      "SHA-256 \"not-a-sha256\", not 64 hex digits)", err)

    def test_objects_already_there_do_not_use_the_daily_quota(self):
        # archives found in S3 before any job is requested cost no job and no retrieval: they
        # must not count against --max-per-day (nor --max-jobs) while a round is gathered, so
        # no "quota used up" note and the archive after them is requested in the same pass
        vault, bucket, data = self.fill_small(5, [5000], "q")
        by_desc = {d: (aid, b) for aid, (d, b) in data.items()}
        for i in range(4):
            aid, body = by_desc["q/f%03d.bin" % i]
            self.s3.put_object(Bucket=bucket, Key="p/q/f%03d.bin" % i, Body=body, Metadata={
                "glacier-archive-id": aid, "glacier-tree-hash": tree_hash(body),
                "glacier-description": "q/f%03d.bin" % i,
                "sha256": hashlib.sha256(body).hexdigest()}, ChecksumAlgorithm="SHA256")
        lines, err = self.floe("migrate", vault, "--to", "s3://%s/p" % bucket,
                               "--s3-endpoint-url", self.moto.url, "--storage-class", "STANDARD",
                               "--poll-interval", "1s", "--max-per-day", "12000", "--catalog",
                               os.path.join(self.tmp.name, "quota.db"))
        r = lines[-1]
        self.assertEqual((r["copied"], r["already_present"], r["done"]), (1, 4, 5), err)
        self.assertNotIn("daily retrieval quota", err)
        self.check_objects(bucket, data)

    def run_until_fault(self, args, proxy, url=None):
        """floe --json ARGS in the background, returned once the proxy logs a FAULT."""
        p = subprocess.Popen([FLOE, "--endpoint-url", url or self.vault.url, "--json", *args],
                             env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        deadline = time.time() + 120
        while "FAULT" not in proxy.log():
            if time.time() > deadline or p.poll() is not None:
                p.kill()
                out, err = p.communicate()
                self.fail("no FAULT in the proxy's log: %s" % err.decode(errors="replace"))
            time.sleep(0.05)
        return p

    def finish(self, p, expect):
        """The JSON lines and stderr of a floe started by run_until_fault (killed if stuck)."""
        try:
            out, err = p.communicate(timeout=300)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, expect, err)
        return [json.loads(x) for x in out.decode().splitlines()], err

    def test_put_failures_in_a_batch_are_retried(self):
        # inside a batch: PutObjects answered 500 / 503 SlowDown or cut without an answer are
        # sent again and the archives copied in the end
        vault, bucket, data = self.fill_small(12, [10, 3000, 70000], "r")
        lines, err, log = self.migrate_small_via([
            "PUT /r/f003\\.bin s3status:500 2", "PUT /r/f007\\.bin reset 1",
            "PUT /r/f009\\.bin s3status:503:SlowDown 1"], vault, bucket, "putretry.db")
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"]), (12, 12, 0), err)
        self.assertEqual(log.count("FAULT"), 4, log)
        self.assertEqual(len(self.puts_of(log, "r/f003.bin")), 3, log)
        self.assertEqual(len(self.puts_of(log, "r/f007.bin")), 2, log)
        self.check_objects(bucket, data)

    def test_put_failing_past_the_retries_records_nothing_it_did_not_send(self):
        # one PutObject of the batch answers 500 every time (--max-retries 1): the run stops
        # with that archive STAGED and every other one of the batch done and in S3 (nothing
        # is recorded done that S3 does not hold); the same command then copies it, no job
        # paid twice. Expedited jobs (instant on this floe-vault) put all ten in one batch.
        vault, bucket, data = self.fill_small(10, [10, 3000, 70000], "h")
        _, err, log = self.migrate_small_via(["PUT /h/f005\\.bin s3status:500 0"], vault, bucket,
                                             "puthard.db", "--tier", "Expedited", expect=1,
                                             pre=("--max-retries", "1"))
        self.assertEqual(len(self.puts_of(log, "h/f005.bin")), 2, log)  # sent, retried once
        self.assertIn("h/f005.bin", err)
        st = self.states(vault, bucket, "puthard.db")
        self.assertEqual(st.pop("h/f005.bin")[0], "staged", err)
        self.assertEqual({v[0] for v in st.values()}, {"done"}, st)
        self.check_objects(bucket, data, absent=("h/f005.bin",))
        lines, err = self.migrate_small(vault, bucket, self.moto.url, "puthard.db", "--tier",
                                        "Expedited")
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"], r["jobs_requested"]),
                         (1, 10, 0, 0), err)
        self.check_objects(bucket, data)

    def test_corrupted_put_is_sent_again_then_fails_that_archive(self):
        # S3 refuses a body as not matching its checksum (BadDigest), or answers another
        # stored checksum than the bytes sent have (a forged x-amz-checksum-sha256): that
        # PutObject is sent again (3 in all) like any corruption on the way; once, the archive
        # is copied; every time, that archive alone fails with its id (never recorded copied,
        # no object left that a later HeadObject could adopt) and the rest of the batch goes
        # on; --retry-failed copies them. f009: S3 keeps the first try's bytes under another
        # checksum, then refuses the next two (BadDigest): what it kept is deleted all the same
        vault, bucket, data = self.fill_small(10, [10, 3000, 70000], "d")
        ids = {d: aid for aid, (d, _) in data.items()}
        lines, err, log = self.migrate_small_via([
            "PUT /d/f002\\.bin s3status:400:BadDigest 1", "PUT /d/f004\\.bin badsum 1",
            "PUT /d/f006\\.bin badsum 0", "PUT /d/f008\\.bin s3status:400:BadDigest 0",
            "PUT /d/f009\\.bin badsum 1", "PUT /d/f009\\.bin s3status:400:BadDigest 0"],
            vault, bucket, "digest.db", expect=3)
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"]), (7, 7, 3), err)
        for name, n in (("f002", 2), ("f004", 2), ("f006", 3), ("f008", 3), ("f009", 3)):
            self.assertEqual(len(self.puts_of(log, "d/%s.bin" % name)), n, log)
        st = self.states(vault, bucket, "digest.db")
        state, why = st["d/f006.bin"]
        self.assertEqual(state, "failed")
        self.assertIn(ids["d/f006.bin"], why)
        self.assertRegex(why, r"S3 stored checksum \S+, the bytes sent have \S+ \(3 PutObjects\)"
                              r": not copied")
        state, why = st["d/f008.bin"]
        self.assertEqual(state, "failed")
        self.assertIn(ids["d/f008.bin"], why)
        self.assertIn("BadDigest", why)
        self.assertIn("in 3 PutObjects", why)
        self.assertNotIn("object S3 kept", why)
        state, why = st["d/f009.bin"]
        self.assertEqual(state, "failed")
        self.assertIn("in 3 PutObjects", why)
        self.assertIn("the object S3 kept is deleted", why)
        self.check_objects(bucket, data, absent=("d/f006.bin", "d/f008.bin", "d/f009.bin"))
        lines, err = self.migrate_small(vault, bucket, self.moto.url, "digest.db",
                                        "--retry-failed")
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"], lines[-1]["failed"]),
                         (3, 10, 0), err)
        self.check_objects(bucket, data)

    def output_fault(self, prefix, fault, catalog, *extra, expect=0):
        """12 small archives PREFIX/fNNN.bin migrated through a proxy before floe-vault that
        answers the first job output fetched (not the inventory's) with FAULT: (vault,
        bucket, data, the run's JSON lines, its stderr, the proxy's log)."""
        vault, bucket, data = self.fill_small(12, [10, 3000], prefix)
        inv = self.wait_inventory(vault)
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /jobs/(?!%s/)[^/]+/output %s 1" % (re.escape(inv), fault)])
        try:
            lines, err = self.migrate_small(vault, bucket, self.moto.url, catalog, *extra,
                                            url=proxy.url, expect=expect)
            log = proxy.log()
        finally:
            proxy.stop()
        self.assertEqual(log.count("FAULT"), 1, log)
        return vault, bucket, data, lines, err, log

    def test_job_output_gone_in_a_batch_is_requested_again(self):
        # the first job output fetched in the batch answers 404: that archive gets a new job
        # (as in the one-archive path), the rest of the batch is copied
        vault, bucket, data, lines, err, _ = self.output_fault(
            "g", "status:404:ResourceNotFoundException", "gone.db")
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"], r["jobs_requested"],
                          r["jobs_rerequested"]), (12, 12, 0, 13, 1), err)
        self.check_objects(bucket, data)

    def test_job_output_failing_in_a_batch_stops_the_run_after_the_rest(self):
        # one job output of the batch answers an error that is not retried (400): the rest
        # of the batch is still sent and recorded; the run then stops naming that archive,
        # left STAGED, and the same command copies it without a new job. Expedited jobs
        # (instant on this floe-vault) put the twelve archives in one batch.
        vault, bucket, data, _, err, log = self.output_fault(
            "e", "status:400:InvalidParameterValueException", "fail.db", "--tier", "Expedited",
            expect=1)
        (job,) = re.findall(r"^FAULT \S+ GET /[^ ]*/jobs/([^/ ]+)/output", log, re.M)
        aid = self.glacier.describe_job(vaultName=vault, jobId=job)["ArchiveId"]
        name = data[aid][0]
        self.assertIn("archive %s (%s): " % (aid, name), err)
        self.assertIn("InvalidParameterValueException", err)
        st = self.states(vault, bucket, "fail.db")
        self.assertEqual(st.pop(name)[0], "staged", err)
        self.assertEqual({v[0] for v in st.values()}, {"done"}, (st, err))
        self.check_objects(bucket, data, absent=(name,))
        lines, err = self.migrate_small(vault, bucket, self.moto.url, "fail.db", "--tier",
                                        "Expedited")
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["jobs_requested"]), (1, 12, 0), err)
        self.check_objects(bucket, data)

    def test_object_in_the_way_found_by_the_batch(self):
        # an object appears at an archive's key after its job was requested (the HeadObject
        # before the request found nothing): the batch's own HeadObject finds it in the way,
        # and it goes as in the one-archive path (test_default_storage_class_and_object_in_
        # the_way): that archive fails ("exists and is not this archive", exit 3), the object
        # is left alone, no PutObject for it, the rest copied; moved away, --retry-failed
        # copies it
        vault, bucket, data = self.fill_small(6, [100, 5000], "w")
        catalog = os.path.join(self.tmp.name, "way.db")
        proxy = servers.start_faultproxy(self.moto.port, ["HEAD /w/f002\\.bin delay:5 1+1"])
        try:
            p = self.run_until_fault(["migrate", vault, "--to", "s3://%s/p" % bucket,
                                      "--s3-endpoint-url", proxy.url, "--storage-class",
                                      "STANDARD", "--poll-interval", "1s", "--catalog", catalog],
                                     proxy)
            self.s3.put_object(Bucket=bucket, Key="p/w/f002.bin", Body=b"in the way")
            lines, err = self.finish(p, 3)
            log = proxy.log()
        finally:
            proxy.stop()
        r = lines[-1]
        self.assertEqual((r["copied"], r["already_present"], r["failed"]), (5, 0, 1), err)
        self.assertIn("p/w/f002.bin exists and is not this archive", err)
        self.assertEqual(len(re.findall(r"HEAD \S*/w/f002\.bin", log)), 2, log)
        self.assertEqual(self.puts_of(log, "w/f002.bin"), [], log)
        self.assertEqual(len(re.findall(r"^PASS PUT ", log, re.M)), 5, log)
        self.assertEqual(self.s3.get_object(Bucket=bucket, Key="p/w/f002.bin")["Body"].read(),
                         b"in the way")
        self.check_objects(bucket, data, skip=("w/f002.bin",))
        self.s3.delete_object(Bucket=bucket, Key="p/w/f002.bin")
        lines, err = self.migrate_small(vault, bucket, self.moto.url, "way.db", "--retry-failed")
        self.assertEqual((lines[-1]["copied"], lines[-1]["done"], lines[-1]["failed"]),
                         (1, 6, 0), err)
        self.check_objects(bucket, data)

    def test_batch_is_recorded_whole_or_not_at_all(self):
        # a catalog write inside the batch's transaction fails (a trigger, created while the
        # batch's job outputs are fetched, refuses the 6th archive's DONE): the whole batch is
        # rolled back - no archive of it done, none counted or reported done - and the run
        # stops; S3 holds the objects (sent before the record), so the next run adopts them
        # all without a PutObject or a job. Expedited jobs (instant here): one batch. The
        # first output is held 10 s: time for the trigger even on a loaded machine.
        vault, bucket, data = self.fill_small(10, [10, 3000], "t")
        inv = self.wait_inventory(vault)
        catalog = os.path.join(self.tmp.name, "atomic.db")
        args = ["migrate", vault, "--to", "s3://%s/p" % bucket, "--s3-endpoint-url",
                self.moto.url, "--storage-class", "STANDARD", "--poll-interval", "1s",
                "--tier", "Expedited", "--catalog", catalog]
        proxy = servers.start_faultproxy(self.vault.port, [
            "GET /jobs/(?!%s/)[^/]+/output delay:10 1" % re.escape(inv)])
        try:
            p = self.run_until_fault(args, proxy, url=proxy.url)
            db = sqlite3.connect(catalog, timeout=60)
            with db:
                db.execute("CREATE TRIGGER refuse BEFORE UPDATE OF state ON arch WHEN"
                           " NEW.state = 5 AND NEW.name = 't/f005.bin' BEGIN SELECT"
                           " RAISE(ABORT, 'refused by the test'); END")
            db.close()
            _, err = self.finish(p, 1)
        finally:
            proxy.stop()
        self.assertIn("refused by the test", err)
        self.assertNotRegex(err, r"\): done", err)
        st = self.states(vault, bucket, "atomic.db")
        self.assertEqual(len(st), 10)
        self.assertEqual({v[0] for v in st.values()}, {"staged"}, (st, err))
        self.check_objects(bucket, data)
        db = sqlite3.connect(catalog, timeout=60)
        with db:
            db.execute("DROP TRIGGER refuse")
        db.close()
        lines, err, log = self.migrate_small_via([], vault, bucket, "atomic.db", "--tier",
                                                 "Expedited")
        r = lines[-1]
        self.assertEqual((r["copied"], r["already_present"], r["done"], r["jobs_requested"]),
                         (0, 10, 10, 0), err)
        self.assertNotIn("PUT", log)

    def test_kill_during_a_batch_then_resume(self):
        # one PutObject of the batch hangs; the others are answered, then kill -9 before the
        # batch is recorded: the re-run adopts what S3 holds (HeadObject: same archive id and
        # tree hash) and sends only what is missing, never an object twice
        n = 60
        vault, bucket, data = self.fill_small(n, [100, 3000, 70000], "k")
        catalog = os.path.join(self.tmp.name, "kb.db")
        proxy = servers.start_faultproxy(self.moto.port, ["PUT f059\\.bin delay:60 1"])
        args = ["migrate", vault, "--to", "s3://%s/p" % bucket, "--storage-class", "STANDARD",
                "--poll-interval", "1s", "--catalog", catalog]
        p = self.start_until_delayed(args, proxy)
        try:
            self.assertIn("FAULT delay", proxy.log())
            # the others answered: every PUT the proxy passed on is in S3, and no more come
            # for a second (a PUT still on its way when floe is killed could land after the
            # listing below and be adopted, not sent, by the re-run)
            puts, deadline = -1, time.time() + 50  # f059 is held 60 s
            while time.time() < deadline:
                now = proxy.log().count("PASS PUT")
                if now == puts and now == len(self.objects(bucket)):
                    break
                puts = now
                time.sleep(1.0)
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
            proxy.stop()
        before = self.objects(bucket)
        self.assertNotIn("p/k/f059.bin", before)
        self.assertTrue(0 < len(before) < n, before)
        proxy = servers.start_faultproxy(self.moto.port, [])
        try:
            lines, err = self.floe(*args, "--s3-endpoint-url", proxy.url)
            log = proxy.log()
        finally:
            proxy.stop()
        r = lines[-1]
        self.assertEqual((r["copied"], r["done"], r["failed"]), (n - len(before), n, 0), err)
        self.assertGreaterEqual(r["already_present"], 1, err)  # sent, not recorded: adopted
        puts = re.findall(r"^PASS PUT /[^/]+/(\S+)", log, re.M)
        self.assertEqual(len(puts), n - len(before), log)
        self.assertFalse(set(puts) & set(before), log)
        after = self.objects(bucket)
        for k, v in before.items():  # not sent again
            self.assertEqual(after[k], v)
        self.check_objects(bucket, data)
        jobs = [j for page in self.glacier.get_paginator("list_jobs").paginate(vaultName=vault)
                for j in page["JobList"] if j["Action"] == "ArchiveRetrieval"]
        self.assertEqual(len(jobs), n)  # no job paid twice

if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
