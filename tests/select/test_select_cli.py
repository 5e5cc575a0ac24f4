#!/usr/bin/env python3
"""`floe select` end to end (docs/cli.md, docs/select.md): floe-vault (started here with
--s3-endpoint) runs the job and writes its output to moto's S3 server (started here); floe
initiates it, waits, and --fetch streams the result objects to a file or standard output through
libfloe's S3 client. Also: the serialization flags, `floe job describe` showing the select
fields (text and --json), --dry-run (nothing sent), the aws CLI's `glacier initiate-job` with
select parameters to the same S3 output, and the error paths: bad SQL (the 400 message with its
position, exit 1), an unknown vault, a job failing at run time (its error objects printed, exit
1), an unreachable S3 endpoint for --fetch, --fetch with credentials moto denies s3:GetObject
(AccessDenied, exit 1, no output file), and usage errors (exit 2).

usage: test_select_cli.py FLOE FLOE_VAULT
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "helpers"))
import servers  # noqa: E402

FLOE = FLOE_VAULT = None


class SelectCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import boto3
        cls.tmp = tempfile.mkdtemp(prefix="floe-select-cli-")
        cls.env = servers.client_env(cls.tmp)
        cls.moto = servers.start_moto()
        cls.s3 = boto3.client("s3", endpoint_url=cls.moto.url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        cls.s3.create_bucket(Bucket="out")
        # floe-vault's S3 client reads its keys from the environment (moto takes any)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(cls.env)
        try:
            cls.vault = servers.start_vault(FLOE_VAULT, extra=(
                "--s3-endpoint", cls.moto.url, "--select-workers", "2"))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        cls.g = servers.glacier_client(cls.vault.url)
        cls.g.create_vault(vaultName="v")
        rows = [["Id", "Name", "Salary"]]
        rows += [[str(i), "Name, %d" % i, str(i * 100)] for i in range(1, 201)]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        cls.rows = rows
        cls.aid = cls.g.upload_archive(vaultName="v", body=text.getvalue().encode())["archiveId"]

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        cls.moto.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def floe(self, *args, code=0, timeout=120):
        p = subprocess.run([FLOE, "--endpoint-url", self.vault.url, *args], env=self.env,
                           capture_output=True, timeout=timeout)
        if p.returncode != code:
            self.fail("floe %s: exit %d, wanted %d\nstdout: %s\nstderr: %s" %
                      (" ".join(args), p.returncode, code, p.stdout, p.stderr))
        return p

    def want(self, limit):
        return "".join('%s,"%s"\n' % (r[0], r[1]) for r in self.rows[1:] if int(r[2]) > limit)

    def test_wait_fetch_to_a_file_and_to_stdout(self):
        sql = "SELECT s.Id, s.Name FROM archive s WHERE CAST(s.Salary AS INT) > 15000"
        path = os.path.join(self.tmp, "result.csv")
        p = self.floe("select", "v", self.aid, "--sql", sql, "--header", "use", "--output",
                      "s3://out/cli/", "--tier", "Expedited", "--fetch", "-o", path,
                      "--s3-endpoint-url", self.moto.url)
        with open(path) as f:
            self.assertEqual(f.read(), self.want(15000))
        self.assertIn(b"result object(s)", p.stderr)
        # again to standard output, the S3 endpoint from AWS_ENDPOINT_URL_S3
        env = dict(self.env, AWS_ENDPOINT_URL_S3=self.moto.url)
        p = subprocess.run([FLOE, "--endpoint-url", self.vault.url, "select", "v", self.aid,
                            "--sql", sql, "--header", "use", "--output", "s3://out/cli",
                            "--tier", "Expedited", "--fetch", "-o", "-"], env=env,
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), self.want(15000))
        # an existing file is refused without --overwrite
        p = self.floe("select", "v", self.aid, "--sql", sql, "--output", "s3://out/cli",
                      "--fetch", "-o", path, code=2)
        self.assertIn(b"--overwrite", p.stderr)

    def test_serialization_flags(self):
        data = b"# a comment\n1;'x;y';10\n2;plain;20\n#another\n3;'q''uote';30\n"
        aid = self.g.upload_archive(vaultName="v", body=data)["archiveId"]
        p = self.floe("select", "v", aid, "--sql", "SELECT _2, _3 FROM archive WHERE _3 > 15",
                      "--field-delimiter", ";", "--comments", "#", "--quote-character", "'",
                      "--quote-escape-character", "'", "--output-field-delimiter", "\\t",
                      "--output-record-delimiter", "|", "--quote-fields", "always",
                      "--output", "s3://out/flags", "--tier", "Expedited", "--fetch",
                      "--s3-endpoint-url", self.moto.url)
        self.assertEqual(p.stdout.decode(), "'plain'\t'20'|'q''uote'\t'30'|")

    def test_no_wait_then_job_describe(self):
        sql = "SELECT s.Id FROM archive s WHERE CAST(s.Salary AS INT) > 19000"
        p = self.floe("--json", "select", "v", self.aid, "--sql", sql, "--header", "use",
                      "--output", "s3://out/desc", "--storage-class", "STANDARD_IA",
                      "--description", "cli select")
        r = json.loads(p.stdout)
        jid = r["JobId"]
        self.assertEqual(r["JobOutputPath"], "desc/%s/" % jid)
        self.assertEqual(r["Bucket"], "out")
        self.floe("job", "wait", "v", jid)
        d = json.loads(self.floe("--json", "job", "describe", "v", jid).stdout)
        self.assertEqual(d["Action"], "Select")
        self.assertEqual(d["StatusCode"], "Succeeded")
        self.assertEqual(d["JobOutputPath"], "desc/%s/" % jid)
        self.assertEqual(d["SelectParameters"]["Expression"], sql)
        self.assertEqual(d["SelectParameters"]["InputSerialization"]["csv"]["FileHeaderInfo"],
                         "USE")
        self.assertEqual(d["OutputLocation"]["S3"], {"BucketName": "out", "Prefix": "desc",
                                                     "StorageClass": "STANDARD_IA"})
        text = self.floe("job", "describe", "v", jid).stdout.decode()
        self.assertIn("Action: Select\n", text)
        self.assertIn("SelectParameters.Expression: %s\n" % sql, text)
        self.assertIn("SelectParameters.InputSerialization.csv.FileHeaderInfo: USE\n", text)
        self.assertIn("OutputLocation.S3.BucketName: out\n", text)
        self.assertIn("JobOutputPath: desc/%s/\n" % jid, text)
        body = self.s3.get_object(Bucket="out", Key="desc/%s/result_manifest.txt" % jid)
        keys = body["Body"].read().decode().split()
        got = b"".join(self.s3.get_object(Bucket="out", Key=k)["Body"].read() for k in keys)
        self.assertEqual(got.decode(), "".join("%d\n" % i for i in range(191, 201)))
        self.assertEqual(self.s3.head_object(Bucket="out", Key=keys[0])["StorageClass"],
                         "STANDARD_IA")

    def test_dry_run_sends_nothing(self):
        before = len(self.g.list_jobs(vaultName="v")["JobList"])
        p = self.floe("--json", "select", "v", self.aid, "--sql", "SELECT * FROM archive",
                      "--output", "s3://out/dry", "--tier", "bulk", "--dry-run")
        r = json.loads(p.stdout)
        self.assertTrue(r["dry_run"])
        self.assertEqual(r["body"]["Type"], "select")
        self.assertEqual(r["body"]["Tier"], "Bulk")
        self.assertEqual(r["body"]["ArchiveId"], self.aid)
        self.assertEqual(r["body"]["OutputLocation"]["S3"]["Prefix"], "dry")
        self.assertEqual(r["body"]["SelectParameters"]["InputSerialization"]["csv"]
                         ["FileHeaderInfo"], "NONE")
        self.assertEqual(len(self.g.list_jobs(vaultName="v")["JobList"]), before)

    def test_aws_cli_initiate_job_to_s3(self):
        if not shutil.which("aws"):
            self.skipTest("aws CLI not installed")
        params = {"Type": "select", "ArchiveId": self.aid, "Tier": "Expedited",
                  "SelectParameters": {"Expression": "SELECT _1 FROM archive WHERE _1 = '7'",
                                       "ExpressionType": "SQL",
                                       "InputSerialization": {"csv": {"FileHeaderInfo": "IGNORE"}},
                                       "OutputSerialization": {"csv": {}}},
                  "OutputLocation": {"S3": {"BucketName": "out", "Prefix": "awscli"}}}
        p = subprocess.run(["aws", "--endpoint-url", self.vault.url, "glacier", "initiate-job",
                            "--account-id", "-", "--vault-name", "v", "--job-parameters",
                            json.dumps(params)], env=self.env, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["jobOutputPath"], "awscli/%s/" % r["jobId"])
        self.floe("job", "wait", "v", r["jobId"])
        keys = self.s3.get_object(Bucket="out", Key=r["jobOutputPath"] + "result_manifest.txt")[
            "Body"].read().decode().split()
        got = b"".join(self.s3.get_object(Bucket="out", Key=k)["Body"].read() for k in keys)
        self.assertEqual(got, b"7\n")

    def test_bad_sql_is_refused_with_its_position(self):
        p = self.floe("select", "v", self.aid, "--sql", "SELECT _1 FROM archive LIMIT 3",
                      "--output", "s3://out/bad", code=1)
        self.assertIn(b"InvalidParameterValueException", p.stderr)
        self.assertIn(b"LIMIT", p.stderr)
        self.assertIn(b"position 24", p.stderr)

    def test_unknown_vault(self):
        p = self.floe("select", "no-such-vault", self.aid, "--sql", "SELECT * FROM archive",
                      "--output", "s3://out/x", code=1)
        self.assertIn(b"ResourceNotFoundException", p.stderr)

    def test_failed_job_prints_its_error_objects(self):
        aid = self.g.upload_archive(vaultName="v", body=b"a,1\nb,two\nc,3\n")["archiveId"]
        p = self.floe("select", "v", aid, "--sql",
                      "SELECT _1 FROM archive WHERE CAST(_2 AS INT) > 0", "--output",
                      "s3://out/fail", "--tier", "Expedited", "--fetch",
                      "--s3-endpoint-url", self.moto.url, code=1)
        err = p.stderr.decode()
        self.assertIn("Failed", err)
        self.assertRegex(err, r"s3://out/fail/[^/]+/errors/0001\.txt: .*CAST")
        self.assertIn(b"StatusCode: Failed", p.stdout)

    def test_unreachable_s3_for_fetch(self):
        p = self.floe("select", "v", self.aid, "--sql", "SELECT _1 FROM archive", "--output",
                      "s3://out/unreach", "--tier", "Expedited", "--fetch", "-o",
                      os.path.join(self.tmp, "never.csv"), "--s3-endpoint-url",
                      "http://127.0.0.1:1", code=1)
        self.assertIn(b"result_manifest.txt", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "never.csv")))

    def test_usage_errors(self):
        for args, want in [
                ((), b"--sql and --output are required"),
                (("--sql", "SELECT * FROM archive", "--output", "bucket/x"), b"s3://BUCKET"),
                (("--sql", "SELECT * FROM archive", "--output", "s3://b", "--header", "yes"),
                 b"--header wants use, ignore or none"),
                (("--sql", "SELECT * FROM archive", "--output", "s3://b",
                  "--field-delimiter", "ab"), b"--field-delimiter wants one ASCII character"),
                (("--sql", "SELECT * FROM archive", "--output", "s3://b", "-o", "f"),
                 b"-o goes with --fetch")]:
            p = self.floe("select", "v", self.aid, *args, code=2)
            self.assertIn(want, p.stderr, args)


class SelectFetchDenied(unittest.TestCase):
    """--fetch with credentials moto (IAM-like access control: INITIAL_NO_AUTH_ACTION_COUNT
    covers the setup requests) denies s3:GetObject: floe-vault writes with a user that may, floe
    (and floe-vault's Glacier API, --access-key) uses a user that may not read."""

    def test_get_object_denied(self):
        import boto3
        tmp = tempfile.mkdtemp(prefix="floe-select-denied-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "7"
        try:
            moto = servers.start_moto()
        finally:
            del os.environ["INITIAL_NO_AUTH_ACTION_COUNT"]
        self.addCleanup(moto.stop)
        kw = dict(endpoint_url=moto.url, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        boto3.client("s3", **kw).create_bucket(Bucket="out")
        iam = boto3.client("iam", **kw)
        keys = {}
        allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
        deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::out/*"}
        for user, statements in (("writer", [allow]), ("reader", [allow, deny])):
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": statements}))
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        w, r = keys["writer"], keys["reader"]
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(servers.client_env(tmp, w["AccessKeyId"], w["SecretAccessKey"]))
        try:
            vault = servers.start_vault(FLOE_VAULT, extra=(
                "--s3-endpoint", moto.url, "--access-key", r["AccessKeyId"],
                "--secret-key", r["SecretAccessKey"]))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.addCleanup(vault.stop)
        env = servers.client_env(tmp, r["AccessKeyId"], r["SecretAccessKey"])
        g = boto3.client("glacier", endpoint_url=vault.url, region_name="us-east-1",
                         aws_access_key_id=r["AccessKeyId"],
                         aws_secret_access_key=r["SecretAccessKey"])
        g.create_vault(vaultName="v")
        aid = g.upload_archive(vaultName="v", body=b"a,1\nb,2\n")["archiveId"]
        out = os.path.join(tmp, "never.csv")
        p = subprocess.run([FLOE, "--endpoint-url", vault.url, "select", "v", aid, "--sql",
                            "SELECT _1 FROM archive", "--output", "s3://out/d", "--tier",
                            "Expedited", "--fetch", "-o", out, "--s3-endpoint-url", moto.url],
                           env=env, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"AccessDenied", p.stderr)
        self.assertIn(b"result_manifest.txt", p.stderr)
        self.assertFalse(os.path.exists(out))
        # the job itself succeeded: the objects are there for a reader that may read them
        self.assertIn(b"Succeeded", p.stderr)


if __name__ == "__main__":
    FLOE, FLOE_VAULT = sys.argv.pop(1), sys.argv.pop(1)
    unittest.main(verbosity=2)
