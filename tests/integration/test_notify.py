#!/usr/bin/env python3
"""Job completions from notifications: floe-vault Publishes each finished job to its SNS topic
on moto's server (--sns-endpoint), an SQS queue subscribed to the topic receives it, and
`floe migrate --notify-queue` takes the jobs' status from the queue instead of polling ListJobs.
Everything is started here on loopback (moto, floe-vault, the fault proxy) and stopped by PID.

Checked: a migration with notifications completes every job from the queue (jobs_notified),
copies every byte (manifest and files against what was uploaded), sends far fewer ListJobs than
the same migration polling, deletes its own messages and leaves other consumers' messages in the
queue; with no notification arriving at all (lost), the ListJobs fallback still finishes; a
queue that does not exist or denies access is reported before any job is paid for, and one
that goes away mid-run leaves the run to ListJobs polling; floe-vault publishes for the vault's
notification configuration too, retries an SNS that fails, and a topic SNS refuses does not
hold the job back; `floe retrieve`, `floe job wait` and `floe vault purge` wait for their one
job at a time on the queue (DescribeJob at the start and on the notification only); `floe
restore` waits for its jobs one after another on the queue, remembering the completions of the
jobs it has not reached yet, and falls back to polling when nothing arrives. Skipped (77) without moto.

usage: test_notify.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import csv
import json
import os
import re
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
except ImportError:
    print("moto or boto3 not installed: skipped")
    sys.exit(77)

FLOE = VAULT_BIN = None
BULK_DELAY = 4  # seconds a Bulk job takes in floe-vault


class NotifyTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-notify-test-")
        cls.env = servers.client_env(cls.tmp.name)
        cls.moto = servers.start_moto()
        # floe-vault finds its SNS keys in the SDK chain: the environment it inherits
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE",
                  "AWS_SHARED_CREDENTIALS_FILE", "AWS_DEFAULT_REGION"):
            os.environ[k] = cls.env[k]
        os.environ.pop("AWS_PROFILE", None)
        cls.vault = servers.start_vault(VAULT_BIN, extra=[
            "--job-delay", "Expedited=0,Standard=0,Bulk=%d" % BULK_DELAY,
            "--sns-endpoint", cls.moto.url, "--log-level", "info"])
        cls.glacier = servers.glacier_client(cls.vault.url)
        kw = dict(endpoint_url=cls.moto.url, region_name="us-east-1",
                  aws_access_key_id=servers.LOCAL_AK, aws_secret_access_key=servers.LOCAL_SK)
        cls.sns = boto3.client("sns", **kw)
        cls.sqs = boto3.client("sqs", **kw)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.moto.stop()
        cls.tmp.cleanup()
        # a clean stop (the notifier drains, the SNS client is freed: LeakSanitizer under ASan)
        if cls.vault.proc.returncode != 0:
            raise AssertionError("floe-vault exited %d: %s" % (cls.vault.proc.returncode,
                                                              cls.vault.log()[-3000:]))

    # ---- helpers ----

    def topic_and_queue(self, visibility=1):
        """A topic, a queue subscribed to it (messages hidden `visibility` s once received)."""
        type(self).n += 1
        topic = self.sns.create_topic(Name="jobs-%d" % self.n)["TopicArn"]
        url = self.sqs.create_queue(QueueName="jobs-%d" % self.n, Attributes={
            "VisibilityTimeout": str(visibility)})["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return topic, url

    def fill(self, sizes):
        type(self).n += 1
        name = "nt%d" % self.n
        self.glacier.create_vault(vaultName=name)
        data = {}
        for i, size in enumerate(sizes):
            body = os.urandom(size)
            r = self.glacier.upload_archive(vaultName=name, body=body,
                                            archiveDescription="d/f%d.bin" % i)
            data[r["archiveId"]] = body
        return name, data

    def floe(self, *args, expect=0, url=None, timeout=300):
        r = subprocess.run([FLOE, "--endpoint-url", url or self.vault.url, "--json", *args],
                           capture_output=True, timeout=timeout, env=self.env,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, expect, err)
        return [json.loads(x) for x in r.stdout.decode().splitlines()], err

    def requests(self, vault, op):
        """How many requests of operation op floe-vault logged for vault."""
        pat = re.compile(r" /-/vaults/%s(/\S*)? -> \d+ %s\b" % (re.escape(vault), op))
        return sum(1 for line in self.vault.log().splitlines() if pat.search(line))

    def check_copied(self, dest, data):
        d = os.path.join(dest, ".floe-migrate")
        path = os.path.join(d, [f for f in os.listdir(d) if f.endswith(".manifest.csv")][0])
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual({r["archive_id"] for r in rows}, set(data))
        for r in rows:
            with open(r["destination"], "rb") as f:
                self.assertEqual(f.read(), data[r["archive_id"]], r["name"])

    def drain(self, url, want, timeout=30):
        """The bodies of the messages in the queue, read until `want` arrived or timeout."""
        bodies, deadline = {}, time.time() + timeout
        while len(bodies) < want and time.time() < deadline:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                bodies[m["MessageId"]] = m["Body"]
        return list(bodies.values())

    # ---- tests ----

    def test_migrate_from_notifications_vs_polling(self):
        sizes = [1, 4096, 70000, (1 << 20) + 3, 5, 300]
        topic, queue = self.topic_and_queue()
        # two messages of someone else: not a job, and a job floe never asked for
        self.sqs.send_message(QueueUrl=queue, MessageBody="not a notification")
        other = json.dumps({"Type": "Notification", "Message": json.dumps(
            {"JobId": "someone-elses-job", "Action": "ArchiveRetrieval",
             "StatusCode": "Succeeded", "Completed": True})})
        self.sqs.send_message(QueueUrl=queue, MessageBody=other)
        vault, data = self.fill(sizes)
        dest = os.path.join(self.tmp.name, vault)
        t0 = time.time()
        lines, err = self.floe("migrate", vault, "--to", dest, "--notify-queue", queue,
                               "--notify-topic", topic, "--poll-interval", "10m")
        notified_s = time.time() - t0
        r = lines[-1]
        self.assertEqual((r["done"], r["failed"], r["jobs_requested"]), (6, 0, 6), err)
        self.assertEqual(r["jobs_notified"], 6, err)  # every completion came from the queue
        self.check_copied(dest, data)
        notified_lists = self.requests(vault, "ListJobs")
        # a 10-minute fallback never came due: the ListJobs of the start alone
        self.assertLessEqual(notified_lists, 2)
        # the others' messages are still there, ours are gone
        left = self.drain(queue, 2)
        self.assertEqual(sorted(left), sorted(["not a notification", other]))

        # the same migration polling ListJobs
        vault2, data2 = self.fill(sizes)
        dest2 = os.path.join(self.tmp.name, vault2)
        lines, err = self.floe("migrate", vault2, "--to", dest2, "--poll-interval", "10m")
        self.assertEqual((lines[-1]["done"], lines[-1]["jobs_notified"]), (6, 0), err)
        self.check_copied(dest2, data2)
        polled_lists = self.requests(vault2, "ListJobs")
        print("ListJobs requests: %d with notifications, %d polling; DescribeJob %d vs %d;"
              " %.1f s with notifications" % (
                  notified_lists, polled_lists, self.requests(vault, "DescribeJob"),
                  self.requests(vault2, "DescribeJob"), notified_s), file=sys.stderr)
        # polling needs the plan's walk, the start's and at least one after the 4 s the jobs
        # take (8 on this machine: 0.25 s growing by half); no bound that a slow machine's
        # timing could break
        self.assertGreaterEqual(polled_lists, 3)
        self.assertGreater(polled_lists, notified_lists)

    def test_lost_notifications_fall_back_to_listjobs(self):
        _, queue = self.topic_and_queue()
        vault, data = self.fill([10, 20000, 3])
        dest = os.path.join(self.tmp.name, vault)
        # no topic for the jobs: not one notification arrives; ListJobs every 2 s finishes
        lines, err = self.floe("migrate", vault, "--to", dest, "--notify-queue", queue,
                               "--poll-interval", "2s")
        r = lines[-1]
        self.assertEqual((r["done"], r["failed"], r["jobs_notified"]), (3, 0, 0), err)
        self.check_copied(dest, data)
        self.assertGreaterEqual(self.requests(vault, "ListJobs"), 2)

    def test_retrieve_and_job_wait_from_notifications(self):
        topic, queue = self.topic_and_queue()
        vault, data = self.fill([3000])
        aid, body = next(iter(data.items()))
        out = os.path.join(self.tmp.name, vault + ".out")
        self.floe("retrieve", vault, aid, "-o", out, "--tier", "Bulk", "--sns-topic", topic,
                  "--notify-queue", queue)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), body)
        notified = self.requests(vault, "DescribeJob")
        # the same retrieval polling
        self.floe("retrieve", vault, aid, "-o", out + ".2", "--tier", "Bulk", "--new-job")
        with open(out + ".2", "rb") as f:
            self.assertEqual(f.read(), body)
        polled = self.requests(vault, "DescribeJob") - notified
        print("retrieve DescribeJob: %d with notifications, %d polling" % (notified, polled),
              file=sys.stderr)
        # at the start (InProgress), then on the notification; 1 when a loaded machine let the
        # 4 s job finish before the first DescribeJob
        self.assertIn(notified, (1, 2))
        self.assertGreaterEqual(polled, 2)  # 4 here: at 0, 1, 2.5 and 4.75 s
        # floe job wait: at the start, and once the notification is in; the poll is 10 min away
        job = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Bulk",
            "SNSTopic": topic})["jobId"]
        before = self.requests(vault, "DescribeJob")
        lines, _ = self.floe("job", "wait", vault, job, "--notify-queue", queue,
                             "--max-interval", "600", timeout=120)
        self.assertEqual((lines[-1]["JobId"], lines[-1]["StatusCode"]), (job, "Succeeded"))
        waited = self.requests(vault, "DescribeJob") - before
        self.assertIn(waited, (1, 2))  # 1: the job was done before floe started (loaded machine)
        if waited == 2:
            self.assertEqual(self.drain(queue, 1, timeout=3), [])  # both messages were taken
        else:
            self.drain(queue, 2, timeout=3)  # not read: floe never had to wait
        _, err = self.floe("job", "wait", vault, job, "--notify-queue",
                           self.moto.url + "/123456789012/none", expect=1)
        self.assertIn("--notify-queue", err)
        self.assertIn("QueueDoesNotExist", err)

    def backed_up(self, nfiles):
        """A vault holding a file-per-archive backup of nfiles files: (vault, catalog, files
        by their absolute path)."""
        type(self).n += 1
        vault = "rs%d" % self.n
        self.glacier.create_vault(vaultName=vault)
        src = os.path.join(self.tmp.name, vault + "-src")
        os.makedirs(src)
        files = {}
        for i in range(nfiles):
            path = os.path.join(os.path.realpath(src), "f%d.bin" % i)
            files[path] = os.urandom(100 + 7919 * i)
            with open(path, "wb") as f:
                f.write(files[path])
        cat = os.path.join(self.tmp.name, vault + ".db")
        self.floe("backup", src, vault, "--catalog", cat, "--no-snapshot", "--layout",
                  "file-per-archive")
        return vault, cat, files

    def check_restored(self, to, files):
        for path, data in files.items():
            with open(os.path.join(to, path.lstrip("/")), "rb") as f:
                self.assertEqual(f.read(), data, path)

    def test_restore_waits_for_its_jobs_on_notifications(self):
        topic, queue = self.topic_and_queue(visibility=30)
        vault, cat, files = self.backed_up(4)
        self.glacier.set_vault_notifications(vaultName=vault, vaultNotificationConfig={
            "SNSTopic": topic, "Events": ["ArchiveRetrievalCompleted"]})
        to = os.path.join(self.tmp.name, vault + "-to")
        os.makedirs(to)
        # the fallback poll is 10 minutes away: the restore finishes only on the notifications.
        # The queue hides a received message for 30 s: a job's completion read while floe
        # waits for another one is remembered, not left to come back 30 s later
        t0 = time.time()
        lines, err = self.floe("restore", vault, "--to", to, "--catalog", cat, "--tier", "Bulk",
                               "--notify-queue", queue, "--poll-interval", "600", timeout=240)
        took = time.time() - t0
        s = lines[-1]
        self.assertEqual((s["jobs"], s["files"], s["partial"]), (4, 4, False), err)
        self.check_restored(to, files)
        described = self.requests(vault, "DescribeJob")
        print("restore: 4 jobs, DescribeJob %d, %.1f s" % (described, took), file=sys.stderr)
        # each job: once at the start of its wait (InProgress, or already done), once on its
        # notification, once before its output is read; never a poll (600 s away)
        self.assertLessEqual(described, 3 * 4, "\n".join(
            l for l in self.vault.log().splitlines() if vault in l and "Job" in l))
        self.assertLess(took, 120)
        # every message was taken, the ones read while another job was awaited too (those are
        # hidden for 30 s after a read: counted, not drained)
        a = self.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        self.assertEqual((a["ApproximateNumberOfMessages"],
                          a["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))

    def test_restore_without_notifications_falls_back_to_polling(self):
        _, queue = self.topic_and_queue()
        vault, cat, files = self.backed_up(2)
        to = os.path.join(self.tmp.name, vault + "-to")
        os.makedirs(to)
        # no topic for the vault: nothing arrives; DescribeJob every 2 s finishes the restore
        lines, err = self.floe("restore", vault, "--to", to, "--catalog", cat, "--tier", "Bulk",
                               "--notify-queue", queue, "--poll-interval", "2", timeout=240)
        self.assertEqual((lines[-1]["files"], lines[-1]["partial"]), (2, False), err)
        self.check_restored(to, files)
        self.assertGreaterEqual(self.requests(vault, "DescribeJob"), 3)

    def test_restore_queue_missing_before_any_job(self):
        vault, cat, _ = self.backed_up(1)
        to = os.path.join(self.tmp.name, vault + "-to")
        os.makedirs(to)
        missing = self.moto.url + "/123456789012/no-such-queue"
        _, err = self.floe("restore", vault, "--to", to, "--catalog", cat, "--notify-queue",
                           missing, expect=1)
        self.assertIn("floe restore: --notify-queue " + missing, err)
        self.assertIn("QueueDoesNotExist", err)
        _, err = self.floe("restore", vault, "--to", to, "--catalog", cat, "--poll-interval",
                           "soon", expect=2)
        self.assertIn("--poll-interval", err)
        self.assertEqual(self.requests(vault, "InitiateJob"), 0)  # nothing was paid for
        self.assertEqual(os.listdir(to), [])

    def test_purge_waits_for_its_inventory_on_notifications(self):
        topic, queue = self.topic_and_queue()
        vault = servers.start_vault(VAULT_BIN, extra=[
            "--job-delay", "Expedited=0,Standard=3,Bulk=3", "--sns-endpoint", self.moto.url,
            "--log-level", "info"])
        try:
            g = servers.glacier_client(vault.url)
            g.create_vault(vaultName="p")
            for i in range(3):
                g.upload_archive(vaultName="p", body=b"%d" % i)
            g.set_vault_notifications(vaultName="p", vaultNotificationConfig={
                "SNSTopic": topic, "Events": ["InventoryRetrievalCompleted"]})
            r = subprocess.run([FLOE, "--endpoint-url", vault.url, "--json", "vault", "purge",
                                "p", "--yes", "--notify-queue", queue], capture_output=True,
                               timeout=120, env=self.env, stdin=subprocess.DEVNULL)
            err = r.stderr.decode(errors="replace")
            self.assertEqual(r.returncode, 0, err)
            self.assertEqual(json.loads(r.stdout.decode().splitlines()[-1])["deleted"], 3, err)
            log = vault.log()
        finally:
            vault.stop()
        self.assertEqual(vault.proc.returncode, 0, vault.log())
        # the inventory job (3 s) was described at the start and once its notification came
        self.assertEqual(len(re.findall(r" -> 200 DescribeJob\b", log)), 2, log)
        self.assertEqual(self.drain(queue, 1, timeout=3), [])  # its message was taken

    def test_queue_gone_mid_run_falls_back_to_polling(self):
        _, queue = self.topic_and_queue()
        vault, data = self.fill([7, 9000])
        dest = os.path.join(self.tmp.name, vault)
        # no topic: nothing will arrive, and the ListJobs fallback is 10 minutes away
        p = subprocess.Popen([FLOE, "--endpoint-url", self.vault.url, "--json", "migrate", vault,
                              "--to", dest, "--notify-queue", queue, "--poll-interval", "10m"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.time() + 120
            while self.requests(vault, "InitiateJob") < 3 and p.poll() is None:  # inventory + 2
                self.assertLess(time.time(), deadline, "the jobs were not requested")
                time.sleep(0.1)
            self.sqs.delete_queue(QueueUrl=queue)
            out, err = p.communicate(timeout=120)
        except BaseException:
            os.killpg(p.pid, 9)
            p.communicate()
            raise
        err = err.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        r = json.loads(out.decode().splitlines()[-1])
        self.assertEqual((r["done"], r["jobs_notified"]), (2, 0), err)
        self.assertIn("notification queue: ", err)
        self.assertIn("QueueDoesNotExist", err)
        self.assertIn("ListJobs polling from now on", err)
        self.check_copied(dest, data)

    def test_vault_refuses_to_start_without_sns_keys_or_with_a_bad_url(self):
        d = servers.tempdir("floe-notify-nokeys-")
        for f in ("config", "credentials"):
            open(os.path.join(d, f), "w").close()
        env = {"PATH": os.environ["PATH"], "HOME": d, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": os.path.join(d, "config"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(d, "credentials")}
        base = [VAULT_BIN, "--listen", "127.0.0.1:0", "--data-dir", os.path.join(d, "data")]
        r = subprocess.run(base + ["--sns-endpoint", self.moto.url], env=env, timeout=60,
                           capture_output=True, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"--sns-endpoint " + self.moto.url.encode() + b": no AWS credentials found",
                      r.stderr)
        r = subprocess.run(base + ["--sns-endpoint", "ftp://x"], env=env, timeout=60,
                           capture_output=True, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--sns-endpoint wants http://HOST[:PORT]", r.stderr)
        env.update(AWS_ACCESS_KEY_ID=servers.LOCAL_AK, AWS_SECRET_ACCESS_KEY=servers.LOCAL_SK)
        r = subprocess.run(base + ["--sns-endpoint", self.moto.url, "--sns-region", "us east"],
                           env=env, timeout=60, capture_output=True, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b'sns region "us east" is not valid', r.stderr)

    def test_vault_retries_a_failing_sns(self):
        topic, queue = self.topic_and_queue()
        proxy = servers.start_faultproxy(self.moto.port, ["POST ^/ status:500 2"])
        vault = servers.start_vault(VAULT_BIN, extra=["--sns-endpoint", proxy.url])
        try:
            g = servers.glacier_client(vault.url)
            g.create_vault(vaultName="r")
            aid = g.upload_archive(vaultName="r", body=b"x" * 10)["archiveId"]
            job = g.initiate_job(vaultName="r", jobParameters={
                "Type": "archive-retrieval", "ArchiveId": aid, "SNSTopic": topic})["jobId"]
            bodies = self.drain(queue, 1)
        finally:
            vault.stop()
            proxy.stop()
        self.assertEqual(len(bodies), 1, vault.log())
        self.assertEqual(json.loads(json.loads(bodies[0])["Message"])["JobId"], job)
        self.assertEqual(proxy.log().count("FAULT"), 2)  # two 500s, then the Publish passed
        self.assertEqual(vault.proc.returncode, 0, vault.log())
        self.assertNotIn("not sent", vault.log())

    def test_queue_missing_or_denied_before_any_job(self):
        vault, _ = self.fill([10])
        dest = os.path.join(self.tmp.name, vault)
        missing = self.moto.url + "/123456789012/no-such-queue"
        _, err = self.floe("migrate", vault, "--to", dest, "--notify-queue", missing, expect=1)
        self.assertIn("--notify-queue " + missing, err)
        self.assertIn("QueueDoesNotExist", err)
        _, queue = self.topic_and_queue()
        proxy = servers.start_faultproxy(self.moto.port, [
            "POST ^/ status:403:AccessDeniedException 0"])
        try:
            denied = queue.replace(self.moto.url, proxy.url)
            _, err = self.floe("migrate", vault, "--to", dest, "--notify-queue", denied,
                               expect=1)
        finally:
            proxy.stop()
        self.assertIn("--notify-queue " + denied, err)
        self.assertIn("AccessDenied", err)
        _, err = self.floe("migrate", vault, "--to", dest, "--notify-queue", "ftp://x/y",
                           expect=2)
        self.assertIn("not http(s)://HOST/ACCOUNT/NAME", err)
        _, err = self.floe("migrate", vault, "--to", dest, "--notify-queue", queue,
                           "--notify-topic", "jobs", expect=2)
        self.assertIn("not an SNS topic ARN", err)
        # nothing was paid for: not even the inventory job
        self.assertEqual(self.requests(vault, "InitiateJob"), 0)

    def test_vault_publishes_for_its_configuration_and_never_waits_for_sns(self):
        topic, queue = self.topic_and_queue()
        vault, data = self.fill([100])
        aid = next(iter(data))
        self.glacier.set_vault_notifications(vaultName=vault, vaultNotificationConfig={
            "SNSTopic": topic, "Events": ["ArchiveRetrievalCompleted"]})
        job = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Expedited"})["jobId"]
        bodies = self.drain(queue, 1)
        self.assertEqual(len(bodies), 1)
        env = json.loads(bodies[0])
        self.assertEqual((env["Type"], env["TopicArn"]), ("Notification", topic))
        msg = json.loads(env["Message"])
        self.assertEqual((msg["JobId"], msg["StatusCode"], msg["ArchiveId"]),
                         (job, "Succeeded", aid))
        # a topic SNS does not know: the job completes all the same, the failure is logged
        bad = topic + "-gone"
        job = self.glacier.initiate_job(vaultName=vault, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Expedited",
            "SNSTopic": bad})["jobId"]
        self.assertEqual(self.glacier.describe_job(vaultName=vault, jobId=job)["StatusCode"],
                         "Succeeded")
        deadline = time.time() + 30
        while "SNS notification to %s not sent" % bad not in self.vault.log():
            self.assertLess(time.time(), deadline, self.vault.log()[-2000:])
            time.sleep(0.2)
        line = [x for x in self.vault.log().splitlines() if "to %s not sent" % bad in x][0]
        self.assertIn(": NotFound: ", line)  # the code of SNS's XML <ErrorResponse> (expat)


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
