#!/usr/bin/env python3
"""floe-vault driven by boto3's client and resource APIs: vault.upload_archive,
archive.initiate_archive_retrieval, vault.jobs_in_progress / succeeded_jobs, job.get_output,
Notification(...).set with delivery to an HTTP endpoint and the notifications log, concurrent
and re-sent multipart parts, paginators, inventory Limit/Marker/date filters. Jobs use short
real delays so InProgress is observable. Usage: test_interop_boto3.py <floe-vault binary>."""
import concurrent.futures
import http.server
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = None
TOPIC = "arn:aws:sns:us-east-1:%s:floe-jobs" % vh.ACCOUNT


class Sink(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Sink.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


class Boto3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=cls.sink.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/sns" % cls.sink.server_address[1]
        # Standard 2 s: a retrieval is still InProgress for the two requests after its
        # initiation (0.6 s was tight for a TSan or ASan server on a loaded machine)
        cls.v = vh.Vault(BIN, extra=("--job-delay", "Expedited=0.2,Standard=2,Bulk=2",
                                     "--notify", "%s=%s" % (TOPIC, url)))
        cls.c = cls.v.client()
        cls.g = cls.v.resource()

    @classmethod
    def tearDownClass(cls):
        cls.v.close()
        cls.sink.shutdown()

    def wait_job(self, vault, jid):
        return vh.wait_for(lambda: self.c.describe_job(vaultName=vault, jobId=jid)["Completed"]
                           and self.c.describe_job(vaultName=vault, jobId=jid), 15)

    def test_resource_api_roundtrip_and_notification(self):
        vault = self.g.Vault("-", "b3-res")
        vault.create()
        self.g.Notification("-", "b3-res").set(vaultNotificationConfig={
            "SNSTopic": TOPIC, "Events": ["ArchiveRetrievalCompleted"]})
        data = os.urandom(5 * vh.MIB + 5)
        archive = vault.upload_archive(archiveDescription="boto3 resource", body=data)
        self.assertEqual(len(archive.id), 138)
        job = archive.initiate_archive_retrieval()
        self.assertIn(job.id, [j.id for j in vault.jobs_in_progress.all()])
        self.assertEqual(job.status_code, "InProgress")
        self.assertFalse(job.completed)
        vh.wait_for(lambda: job.id in [j.id for j in vault.succeeded_jobs.all()], 15)
        job.reload()
        self.assertEqual(job.status_code, "Succeeded")
        self.assertEqual(job.sha256_tree_hash, vh.tree_hash(data))
        out = job.get_output()
        self.assertEqual(out["status"], 200)
        self.assertEqual(out["checksum"], vh.tree_hash(data))
        self.assertEqual(out["body"].read(), data)
        # the notification: POSTed to --notify's URL and logged, same fields as DescribeJob
        msgs = vh.wait_for(lambda: [m for m in Sink.received
                                    if json.loads(m["Message"])["JobId"] == job.id], 10)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0]["TopicArn"], TOPIC)
        body = json.loads(msgs[0]["Message"])
        desc = self.c.describe_job(vaultName="b3-res", jobId=job.id)
        for k in ("JobId", "Action", "ArchiveId", "StatusCode", "SHA256TreeHash",
                  "ArchiveSizeInBytes", "CompletionDate"):
            self.assertEqual(str(body[k]), str(desc[k]) if k != "CompletionDate" else body[k])
        with open(os.path.join(self.v.data_dir, "notifications.log")) as f:
            logged = [json.loads(line) for line in f]
        self.assertIn(job.id, [json.loads(m["Message"])["JobId"] for m in logged])

    def test_concurrent_resent_parts_and_paginators(self):
        self.c.create_vault(vaultName="b3-mpu")
        ps = vh.MIB
        data = os.urandom(6 * ps + 777)
        uid = self.c.initiate_multipart_upload(vaultName="b3-mpu", partSize=str(ps))["uploadId"]
        chunks = [(off, data[off:off + ps]) for off in range(0, len(data), ps)]

        def put(item):
            off, chunk = item
            c = self.v.client()
            r = c.upload_multipart_part(vaultName="b3-mpu", uploadId=uid, body=chunk,
                                        range="bytes %d-%d/*" % (off, off + len(chunk) - 1))
            return r["checksum"]

        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            sums = list(ex.map(put, chunks + chunks[:2]))  # two parts re-sent
        self.assertEqual(sums[:len(chunks)], [vh.tree_hash(c) for _, c in chunks])
        pages = list(self.c.get_paginator("list_parts").paginate(
            vaultName="b3-mpu", uploadId=uid, PaginationConfig={"PageSize": 3}))
        self.assertEqual(len(pages), 3)
        self.assertEqual(sum(len(p["Parts"]) for p in pages), 7)
        done = self.c.complete_multipart_upload(vaultName="b3-mpu", uploadId=uid,
                                                archiveSize=str(len(data)),
                                                checksum=vh.tree_hash(data))
        again = self.c.complete_multipart_upload(vaultName="b3-mpu", uploadId=uid,
                                                 archiveSize=str(len(data)),
                                                 checksum=vh.tree_hash(data))
        self.assertEqual(done["archiveId"], again["archiveId"])
        for i in range(3):
            self.c.initiate_multipart_upload(vaultName="b3-mpu", partSize=str(ps))
        ups = [u for p in self.c.get_paginator("list_multipart_uploads").paginate(
            vaultName="b3-mpu", PaginationConfig={"PageSize": 2}) for u in p["UploadsList"]]
        self.assertEqual(len(ups), 3)
        jids = [self.c.initiate_job(vaultName="b3-mpu", jobParameters={
            "Type": "archive-retrieval", "ArchiveId": done["archiveId"], "Tier": "Expedited",
            "RetrievalByteRange": "%d-%d" % (2 * ps, 4 * ps - 1)})["jobId"] for _ in range(5)]
        listed = [j["JobId"] for p in self.c.get_paginator("list_jobs").paginate(
            vaultName="b3-mpu", PaginationConfig={"PageSize": 2}) for j in p["JobList"]]
        self.assertEqual(listed, jids)  # initiation order
        d = self.wait_job("b3-mpu", jids[0])
        self.assertEqual(d["SHA256TreeHash"], vh.tree_hash(data[2 * ps:4 * ps]))
        out = self.c.get_job_output(vaultName="b3-mpu", jobId=jids[0], range="bytes=1048576-")
        self.assertEqual(out["status"], 206)
        self.assertEqual(out["body"].read(), data[3 * ps:4 * ps])
        self.assertEqual(out["checksum"], vh.tree_hash(data[3 * ps:4 * ps]))

    def test_inventory_limit_marker_dates(self):
        self.c.create_vault(vaultName="b3-inv")
        ids = []
        for i in range(5):
            ids.append(self.c.upload_archive(vaultName="b3-inv", body=b"x" * (i + 1),
                                             archiveDescription="n%d" % i)["archiveId"])
            time.sleep(0.01)
        seen, marker = [], None
        while True:
            p = {"Limit": "2"}
            if marker:
                p["Marker"] = marker
            jid = self.c.initiate_job(vaultName="b3-inv", jobParameters={
                "Type": "inventory-retrieval", "InventoryRetrievalParameters": p})["jobId"]
            d = self.wait_job("b3-inv", jid)
            inv = json.loads(self.c.get_job_output(vaultName="b3-inv", jobId=jid)["body"].read())
            self.assertEqual(d["InventorySizeInBytes"],
                             len(json.dumps(inv, separators=(",", ":"))))
            seen += [a["ArchiveId"] for a in inv["ArchiveList"]]
            marker = d["InventoryRetrievalParameters"].get("Marker")
            if not marker:
                break
        self.assertEqual(seen, ids)
        jid = self.c.initiate_job(vaultName="b3-inv", jobParameters={
            "Type": "inventory-retrieval", "InventoryRetrievalParameters": {
                "StartDate": "2000-01-01T00:00:00Z", "EndDate": "2001-01-01T00:00:00Z"}})["jobId"]
        self.wait_job("b3-inv", jid)
        inv = json.loads(self.c.get_job_output(vaultName="b3-inv", jobId=jid)["body"].read())
        self.assertEqual(inv["ArchiveList"], [])

    def test_select_job_refused_without_output(self):
        """Without --select-output-dir a select job is refused at InitiateJob, naming the option
        (tests/vault/test_select_jobs.py runs them with it)."""
        self.c.create_vault(vaultName="b3-sel")
        aid = self.c.upload_archive(vaultName="b3-sel", body=b"a,b\n1,2\n")["archiveId"]
        with self.assertRaises(self.c.exceptions.InvalidParameterValueException) as cm:
            self.c.initiate_job(vaultName="b3-sel", jobParameters={
                "Type": "select", "ArchiveId": aid, "Tier": "Expedited",
                "SelectParameters": {"Expression": "select * from archive", "ExpressionType": "SQL",
                                     "InputSerialization": {"csv": {}},
                                     "OutputSerialization": {"csv": {}}},
                "OutputLocation": {"S3": {"BucketName": "bkt", "Prefix": "out"}}})
        self.assertIn("--select-output-dir", str(cm.exception))


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
