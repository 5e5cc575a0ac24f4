#!/usr/bin/env python3
"""floe-vault's select jobs writing to an S3 endpoint (--s3-endpoint: libfloe's S3 client) with
moto's S3 server as the endpoint (docs/floe-vault.md "Select jobs"): the API reference's example
(CSV with a header, FileHeaderInfo USE, a WHERE on a casted column) through boto3, the layout
(job.txt, results/, result_manifest.txt) read back with boto3's S3 client together with the
storage class, user metadata, tags, ACL and server-side encryption the job asked for (AES256,
and aws:kms with its key id); a result
over one part (multipart upload); a bucket that does not exist (refused at InitiateJob), one
deleted before the job runs and an unreachable endpoint (the job fails with the S3 error,
written as its StatusMessage); with moto's IAM-like access control, a user denied PutObject
(the job fails with AccessDenied) and one that may not even HeadBucket (refused at
InitiateJob). Usage: test_select_s3.py <floe-vault binary>."""
import csv
import io
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402
import vault_helper as vh  # noqa: E402

import botocore.exceptions  # noqa: E402

BIN = None
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def select_params(expr, header="USE"):
    return {"Expression": expr, "ExpressionType": "SQL",
            "InputSerialization": {"csv": {"FileHeaderInfo": header}},
            "OutputSerialization": {"csv": {}}}


def s3_env():
    """moto's test keys for floe-vault's S3 client (the SDK chain reads the environment); no
    shared files of this machine."""
    home = servers.tempdir("floe-select-s3-env-")
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    for name in ("config", "credentials"):
        open(os.path.join(home, name), "w").close()
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_CONFIG_FILE=os.path.join(home, "config"),
                      AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"),
                      AWS_EC2_METADATA_DISABLED="true")


class SelectToS3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import boto3
        s3_env()
        cls.moto = servers.start_moto()
        cls.s3 = boto3.client("s3", endpoint_url=cls.moto.url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        cls.s3.create_bucket(Bucket="results")
        # Standard 5 s: the bucket of test_bucket_deleted_before_the_job_runs is gone before
        # its job runs even when the test is slow (2 s was the margin for that)
        cls.v = vh.Vault(BIN, extra=("--job-delay", "Expedited=0,Standard=5,Bulk=5",
                                     "--s3-endpoint", cls.moto.url, "--select-workers", "2"))
        cls.c = cls.v.client()
        cls.c.create_vault(vaultName="sel")

    @classmethod
    def tearDownClass(cls):
        cls.v.close()
        cls.moto.stop()

    def initiate(self, aid, params, s3loc, tier="Expedited"):
        return self.c.initiate_job(vaultName="sel", jobParameters={
            "Type": "select", "ArchiveId": aid, "Tier": tier, "SelectParameters": params,
            "OutputLocation": {"S3": s3loc}})

    def wait(self, jid, timeout=90):
        return vh.wait_for(lambda: (lambda d: d["Completed"] and d)(
            self.c.describe_job(vaultName="sel", jobId=jid)), timeout)

    def get(self, key, bucket="results"):
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def results(self, base):
        keys = self.get(base + "result_manifest.txt").decode().split()
        self.assertTrue(keys and all(k.startswith(base + "results/") for k in keys), keys)
        return keys, b"".join(self.get(k) for k in keys)

    def test_api_reference_example_with_object_headers(self):
        rows = [["Id", "FirstName", "LastName", "SSN", "Salary"]]
        rows += [[str(i), "Name%d" % i, "Last, %d" % i, "%09d" % (i * 7), str(i * 1000)]
                 for i in range(1, 401)]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        aid = self.c.upload_archive(vaultName="sel", body=text.getvalue().encode())["archiveId"]
        params = select_params("SELECT s.Id, s.FirstName, s.SSN FROM archive s "
                               "WHERE CAST(s.Salary AS INT) > 150000")
        loc = {"BucketName": "results", "Prefix": "example",
               "StorageClass": "STANDARD_IA", "CannedACL": "public-read",
               "Encryption": {"EncryptionType": "AES256"},
               "UserMetadata": {"team": "floe", "run-id": "42"},
               "Tagging": {"kind": "select", "owner": "tests"}}
        jid = self.initiate(aid, params, loc)["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Succeeded", d)
        self.assertEqual(d["JobOutputPath"], "example/%s/" % jid)
        self.assertEqual(d["OutputLocation"]["S3"]["StorageClass"], "STANDARD_IA")
        base = "example/%s/" % jid
        self.assertEqual(json.loads(self.get(base + "job.txt"))["JobId"], jid)
        keys, out = self.results(base)
        want = "".join("%s,%s,%s\n" % (r[0], r[1], r[3]) for r in rows[1:] if int(r[4]) > 150000)
        self.assertEqual(out.decode(), want)
        with self.assertRaises(botocore.exceptions.ClientError):
            self.s3.head_object(Bucket="results", Key=base + "error_manifest.txt")
        for key in keys + [base + "result_manifest.txt", base + "job.txt"]:
            h = self.s3.head_object(Bucket="results", Key=key)
            self.assertEqual(h.get("StorageClass"), "STANDARD_IA", key)
            self.assertEqual(h["Metadata"], {"team": "floe", "run-id": "42"}, key)
            self.assertEqual(h.get("ServerSideEncryption"), "AES256", key)
            tags = self.s3.get_object_tagging(Bucket="results", Key=key)["TagSet"]
            self.assertEqual(sorted((t["Key"], t["Value"]) for t in tags),
                             [("kind", "select"), ("owner", "tests")], key)
            grants = self.s3.get_object_acl(Bucket="results", Key=key)["Grants"]
            self.assertIn((ALL_USERS, "READ"), [(g["Grantee"].get("URI"), g["Permission"])
                                                for g in grants], key)

    def test_kms_encryption_headers_reach_the_endpoint(self):
        # aws:kms with a key id: moto records both headers (x-amz-server-side-encryption and
        # its key id) on every object the job wrote, read back here with HeadObject
        aid = self.c.upload_archive(vaultName="sel", body=b"a,1\nb,2\n")["archiveId"]
        key_id = "arn:aws:kms:us-east-1:123456789012:key/floe-test-key"
        loc = {"BucketName": "results", "Prefix": "kms",
               "Encryption": {"EncryptionType": "aws:kms", "KMSKeyId": key_id}}
        jid = self.initiate(aid, select_params("SELECT _1 FROM archive", "NONE"), loc)["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Succeeded", d)
        base = "kms/%s/" % jid
        keys, out = self.results(base)
        self.assertEqual(out, b"a\nb\n")
        for key in keys + [base + "result_manifest.txt", base + "job.txt"]:
            h = self.s3.head_object(Bucket="results", Key=key)
            self.assertEqual(h.get("ServerSideEncryption"), "aws:kms", key)
            self.assertEqual(h.get("SSEKMSKeyId"), key_id, key)

    def test_access_control_list_and_multipart_result(self):
        # two slices of ~10 MiB each: every result object goes up as a multipart upload
        line = b"%08d,abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n"
        data = b"".join(line % i for i in range(300000))
        aid = self.c.upload_archive(vaultName="sel", body=data)["archiveId"]
        loc = {"BucketName": "results", "Prefix": "big",
               "AccessControlList": [{"Grantee": {"Type": "Group", "URI": AUTH_USERS},
                                      "Permission": "READ"}],
               "UserMetadata": {"size": "big"}}
        jid = self.initiate(aid, select_params("SELECT * FROM archive", "NONE"), loc)["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Succeeded", d)
        keys, out = self.results("big/%s/" % jid)
        self.assertEqual(len(keys), 2, keys)
        self.assertEqual(out, data)
        for key in keys:
            h = self.s3.head_object(Bucket="results", Key=key)
            self.assertTrue(h["ETag"].strip('"').endswith("-2"), (key, h["ETag"]))
            self.assertEqual(h["Metadata"], {"size": "big"})
            grants = self.s3.get_object_acl(Bucket="results", Key=key)["Grants"]
            self.assertIn((AUTH_USERS, "READ"), [(g["Grantee"].get("URI"), g["Permission"])
                                                 for g in grants], key)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket="results").get("Uploads", []),
                         [])

    def test_missing_bucket_refused_at_initiate(self):
        aid = self.c.upload_archive(vaultName="sel", body=b"a,1\n")["archiveId"]
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.initiate(aid, select_params("SELECT * FROM archive", "NONE"),
                          {"BucketName": "no-such-bucket", "Prefix": "p"})
        e = cm.exception.response
        self.assertEqual(e["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(e["Error"]["Code"], "InvalidParameterValueException")
        self.assertIn("the bucket no-such-bucket does not exist", e["Error"]["Message"])

    def test_bucket_deleted_before_the_job_runs(self):
        self.s3.create_bucket(Bucket="short-lived")
        aid = self.c.upload_archive(vaultName="sel", body=b"a,1\nb,2\n")["archiveId"]
        jid = self.initiate(aid, select_params("SELECT _1 FROM archive", "NONE"),
                            {"BucketName": "short-lived", "Prefix": "p"}, tier="Standard")["jobId"]
        self.s3.delete_bucket(Bucket="short-lived")
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Failed", d)
        self.assertIn("S3 error", d["StatusMessage"])
        self.assertIn("NoSuchBucket", d["StatusMessage"])

    def test_unreachable_endpoint_fails_the_job(self):
        v = vh.Vault(BIN, extra=("--job-delay", "instant", "--s3-endpoint",
                                 "http://127.0.0.1:1"))
        try:
            c = v.client()
            c.create_vault(vaultName="u")
            aid = c.upload_archive(vaultName="u", body=b"a,1\n")["archiveId"]
            t0 = time.time()
            jid = c.initiate_job(vaultName="u", jobParameters={
                "Type": "select", "ArchiveId": aid, "Tier": "Expedited",
                "SelectParameters": select_params("SELECT * FROM archive", "NONE"),
                "OutputLocation": {"S3": {"BucketName": "results", "Prefix": "p"}}})["jobId"]
            d = vh.wait_for(lambda: (lambda d: d["Completed"] and d)(
                c.describe_job(vaultName="u", jobId=jid)), 90)
            self.assertEqual(d["StatusCode"], "Failed", d)
            self.assertIn("S3 error", d["StatusMessage"])
            self.assertIn("job.txt", d["StatusMessage"])
            self.assertLess(time.time() - t0, 80)
        finally:
            v.close()

    def test_no_credentials_refuses_to_start(self):
        saved = {k: os.environ.pop(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        try:
            with self.assertRaises(RuntimeError) as cm:
                vh.Vault(BIN, data_dir=os.path.join(servers.tempdir("floe-select-s3-"), "d"),
                         extra=("--s3-endpoint", self.moto.url))
            self.assertIn("--s3-endpoint", str(cm.exception))
        finally:
            os.environ.update(saved)


class SelectDenied(unittest.TestCase):
    """moto with IAM-like access control (INITIAL_NO_AUTH_ACTION_COUNT: the first requests run
    without checks, to create the bucket, the users, their policies and keys; every later one is
    signed and checked): a user denied s3:PutObject on the output bucket, one with no policy."""
    SETUP_ACTIONS = 6

    @classmethod
    def setUpClass(cls):
        import boto3
        s3_env()
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(cls.SETUP_ACTIONS)
        try:
            cls.moto = servers.start_moto()
        finally:
            del os.environ["INITIAL_NO_AUTH_ACTION_COUNT"]
        kw = dict(endpoint_url=cls.moto.url, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        boto3.client("s3", **kw).create_bucket(Bucket="results")
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="writer")
        iam.put_user_policy(UserName="writer", PolicyName="no-put", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:PutObject",
                 "Resource": "arn:aws:s3:::results/*"}]}))
        cls.writer = iam.create_access_key(UserName="writer")["AccessKey"]
        iam.create_user(UserName="nobody")
        cls.nobody = iam.create_access_key(UserName="nobody")["AccessKey"]

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def vault(self, key):
        saved = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        os.environ.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                          AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
        try:
            v = vh.Vault(BIN, extra=("--job-delay", "instant", "--s3-endpoint", self.moto.url))
        finally:
            os.environ.update(saved)
        self.addCleanup(v.close)
        c = v.client()
        c.create_vault(vaultName="d")
        aid = c.upload_archive(vaultName="d", body=b"a,1\nb,2\n")["archiveId"]
        return c, aid

    def initiate(self, c, aid):
        return c.initiate_job(vaultName="d", jobParameters={
            "Type": "select", "ArchiveId": aid, "Tier": "Expedited",
            "SelectParameters": select_params("SELECT * FROM archive", "NONE"),
            "OutputLocation": {"S3": {"BucketName": "results", "Prefix": "p"}}})

    def test_put_object_denied_fails_the_job(self):
        c, aid = self.vault(self.writer)
        jid = self.initiate(c, aid)["jobId"]
        d = vh.wait_for(lambda: (lambda d: d["Completed"] and d)(
            c.describe_job(vaultName="d", jobId=jid)), 90)
        self.assertEqual(d["StatusCode"], "Failed", d)
        self.assertIn("S3 error", d["StatusMessage"])
        self.assertIn("AccessDenied", d["StatusMessage"])

    def test_head_bucket_denied_refused_at_initiate(self):
        c, aid = self.vault(self.nobody)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.initiate(c, aid)
        e = cm.exception.response
        status = e["ResponseMetadata"]["HTTPStatusCode"]
        self.assertTrue(400 <= status < 500, e)
        self.assertEqual(status, 400, e)
        self.assertEqual(e["Error"]["Code"], "InvalidParameterValueException")
        self.assertIn("may not use the bucket results", e["Error"]["Message"])
        self.assertIn("AccessDenied", e["Error"]["Message"])


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
