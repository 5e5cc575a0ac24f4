#!/usr/bin/env python3
"""floe-vault's select jobs (docs/select.md, docs/floe-vault.md) driven by boto3 and the aws
CLI, with the output as files (--select-output-dir): the API reference's example (CSV with a
header, FileHeaderInfo USE, a WHERE on a casted column), the output layout (job.txt, results/,
result_manifest.txt; errors/ and error_manifest.txt on a runtime error), DescribeJob and
ListJobs echoing the select fields, a large archive split across workers at record boundaries
(results compared with a reference computed here), every synchronous error at InitiateJob, and
the runtime errors. Usage: test_select_jobs.py <floe-vault binary>."""
import csv
import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402
import vault_helper as vh  # noqa: E402

import botocore.exceptions  # noqa: E402

BIN = None
SEED = int(os.environ.get("FLOE_TEST_SEED", random.randrange(1 << 30)))


def select_params(expr, header="USE", out=None, **incsv):
    incsv = dict(incsv)
    incsv.setdefault("FileHeaderInfo", header)
    return {"Expression": expr, "ExpressionType": "SQL",
            "InputSerialization": {"csv": incsv},
            "OutputSerialization": {"csv": out or {}}}


class SelectJobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print("# FLOE_TEST_SEED=%d" % SEED, flush=True)
        cls.out = servers.tempdir("floe-select-out-")
        os.mkdir(os.path.join(cls.out, "results-bucket"))
        cls.v = vh.Vault(BIN, extra=("--job-delay", "instant", "--select-output-dir", cls.out,
                                     "--select-workers", "4"))
        cls.c = cls.v.client()
        cls.c.create_vault(vaultName="sel")

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def upload(self, data):
        return self.c.upload_archive(vaultName="sel", body=data)["archiveId"]

    def initiate(self, aid, params, prefix="out", bucket="results-bucket", **extra):
        body = {"Type": "select", "ArchiveId": aid, "Tier": "Expedited",
                "SelectParameters": params,
                "OutputLocation": {"S3": {"BucketName": bucket, "Prefix": prefix}}}
        body.update(extra)
        return self.c.initiate_job(vaultName="sel", jobParameters=body)

    def wait(self, jid):
        return vh.wait_for(lambda: (lambda d: d["Completed"] and d)(
            self.c.describe_job(vaultName="sel", jobId=jid)), 60)

    def read(self, key):
        with open(os.path.join(self.out, "results-bucket", key), "rb") as f:
            return f.read()

    def results(self, base):
        keys = self.read(base + "result_manifest.txt").decode().split()
        return keys, b"".join(self.read(k) for k in keys)

    def refused(self, aid, params, msg, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.initiate(aid, params, **kw)
        e = cm.exception.response
        self.assertEqual(e["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(e["Error"]["Code"], "InvalidParameterValueException")
        self.assertIn(msg, e["Error"]["Message"])

    def test_api_reference_example(self):
        rows = [["Id", "FirstName", "LastName", "SSN", "Salary"]]
        rows += [[str(i), "Name%d" % i, "Last, %d" % i, "%09d" % (i * 7), str(i * 1000)]
                 for i in range(1, 301)]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        aid = self.upload(text.getvalue().encode())
        params = select_params("SELECT s.Id, s.FirstName, s.SSN FROM archive s "
                               "WHERE CAST(s.Salary AS INT) > 150000")
        r = self.initiate(aid, params, prefix="example", Description="select example")
        jid = r["jobId"]
        self.assertEqual(r["jobOutputPath"], "example/%s/" % jid)
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Succeeded", d)
        self.assertEqual(d["Action"], "Select")
        self.assertEqual(d["JobOutputPath"], "example/%s/" % jid)
        self.assertEqual(d["SelectParameters"]["Expression"], params["Expression"])
        self.assertEqual(d["SelectParameters"]["InputSerialization"]["csv"]["FileHeaderInfo"],
                         "USE")
        self.assertEqual(d["OutputLocation"]["S3"]["BucketName"], "results-bucket")
        listed = [j for j in self.c.list_jobs(vaultName="sel")["JobList"] if j["JobId"] == jid]
        self.assertEqual(listed[0]["SelectParameters"], d["SelectParameters"])
        self.assertEqual(listed[0]["OutputLocation"], d["OutputLocation"])
        base = "example/%s/" % jid
        info = json.loads(self.read(base + "job.txt"))
        self.assertEqual(info["JobId"], jid)
        keys, out = self.results(base)
        self.assertTrue(all(k.startswith(base + "results/") for k in keys), keys)
        want = "".join("%s,%s,%s\n" % (r[0], r[1], r[3]) for r in rows[1:] if int(r[4]) > 150000)
        self.assertEqual(out.decode(), want)
        self.assertFalse(os.path.exists(os.path.join(self.out, "results-bucket", base,
                                                     "error_manifest.txt")))

    def test_large_archive_split_across_workers(self):
        rng = random.Random(SEED)
        rows = []
        for i in range(60000):
            name = rng.choice(["plain", "a,b", 'q"uote', "multi\nline", "", "ümlaut"])
            rows.append([str(i), name, str(rng.randrange(0, 1000))])
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows(rows)
        data = text.getvalue().encode()
        self.assertGreater(len(data), 4 * 64 * 1024)
        aid = self.upload(data)
        jid = self.initiate(aid, select_params("SELECT _1, _2 FROM archive WHERE _3 >= 500",
                                               header="NONE"), prefix="big")["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Succeeded", d)
        keys, out = self.results("big/%s/" % jid)
        self.assertEqual(len(keys), 4, keys)  # --select-workers 4, every slice has rows
        got = list(csv.reader(io.StringIO(out.decode(), newline="")))
        want = [[r[0], r[1]] for r in rows if int(r[2]) >= 500]
        self.assertEqual(got, want)  # slices in manifest order keep the archive's order

    def test_guessed_boundaries_inside_quoted_fields_are_redone(self):
        # Slices are cut just past the first record delimiter after each equal share, a guess:
        # here nearly every byte is a newline inside a quoted field, so the guesses fall inside
        # records. The slice before each one finds its reader mid-record at the guessed end, and
        # the job runs again split exactly: same rows as a sequential read, in order.
        rng = random.Random(SEED)
        rows = [[str(i), "\n" * rng.randrange(500, 3000), str(rng.randrange(1000))]
                for i in range(400)]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        data = text.getvalue().encode()
        self.assertGreater(len(data), 4 * 64 * 1024)
        aid = self.upload(data)
        jid = self.initiate(aid, select_params(
            "SELECT _1, CHAR_LENGTH(_2) FROM archive WHERE CAST(_3 AS INT) >= 300",
            header="NONE"), prefix="quoted")["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Succeeded", d)
        keys, out = self.results("quoted/%s/" % jid)
        self.assertEqual(len(keys), 4, keys)
        got = list(csv.reader(io.StringIO(out.decode(), newline="")))
        want = [[r[0], str(len(r[1]))] for r in rows if int(r[2]) >= 300]
        self.assertEqual(got, want)
        self.assertIn("select job %s: a guessed slice boundary was not a record end" % jid,
                      self.v.log())
        # the dropped first run left no result object behind
        left = []
        for dirpath, _, files in os.walk(os.path.join(self.out, "results-bucket", "quoted", jid)):
            left += [os.path.relpath(os.path.join(dirpath, f),
                                     os.path.join(self.out, "results-bucket")) for f in files]
        self.assertEqual(sorted(left), sorted(keys + ["quoted/%s/job.txt" % jid,
                                                      "quoted/%s/result_manifest.txt" % jid]))

    def test_runtime_error_in_a_later_slice_numbers_the_record_from_the_start(self):
        # The failing record lies in the last of the 4 slices, which began at a guessed
        # boundary without knowing how many records came before it: the job is redone split
        # exactly, and the message numbers the record from the start of the archive.
        rows = ["%d,%d\n" % (i, i % 97) for i in range(60000)]
        bad = 52345
        rows[bad] = "%d,ninety\n" % bad
        aid = self.upload("".join(rows).encode())
        jid = self.initiate(aid, select_params(
            "SELECT _1 FROM archive WHERE CAST(_2 AS INT) > 5", header="NONE"),
            prefix="late")["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Failed", d)
        self.assertEqual(d["StatusMessage"],
                         "CAST of 'ninety' to INT failed at position 30 (record %d)" % (bad + 1))
        base = "late/%s/" % jid
        self.assertEqual(self.read(base + "error_manifest.txt").decode().split(),
                         [base + "errors/0001.txt"])
        self.assertFalse(os.path.exists(os.path.join(self.out, "results-bucket", base,
                                                     "result_manifest.txt")))

    def test_segment_file_shorter_than_the_archive_fails_the_job(self):
        # A segment file cut short outside floe-vault (damage): the worker's read comes up
        # short, the job fails with a message and errors/ objects, and the server goes on.
        # A server of its own: the cut file may hold other archives' segments.
        v = vh.Vault(BIN, extra=("--job-delay", "instant", "--select-output-dir", self.out,
                                 "--select-workers", "2"))
        try:
            c = v.client()
            c.create_vault(vaultName="cut")
            data = b"".join(b"%d,%d\n" % (i, i % 7) for i in range(300000))
            aid = c.upload_archive(vaultName="cut", body=data)["archiveId"]
            db = sqlite3.connect(os.path.join(v.data_dir, "floe-vault.db"))
            try:
                blob, off, n = db.execute(
                    "SELECT s.blob, s.off, s.len FROM segments s JOIN archives a ON s.owner ="
                    " a.seg_owner WHERE a.id = ? ORDER BY s.idx DESC", (aid,)).fetchone()
            finally:
                db.close()
            os.truncate(os.path.join(v.data_dir, "blobs", blob), off + n // 2)
            jid = c.initiate_job(vaultName="cut", jobParameters={
                "Type": "select", "ArchiveId": aid,
                "SelectParameters": select_params("SELECT _1 FROM archive WHERE _2 = 3",
                                                  header="NONE"),
                "OutputLocation": {"S3": {"BucketName": "results-bucket", "Prefix": "cut"}}}
            )["jobId"]
            d = vh.wait_for(lambda: (lambda d: d["Completed"] and d)(
                c.describe_job(vaultName="cut", jobId=jid)), 60)
            self.assertEqual(d["StatusCode"], "Failed", d)
            self.assertEqual(d["StatusMessage"], "reading the archive failed")
            self.assertEqual(self.read("cut/%s/errors/0001.txt" % jid),
                             b"reading the archive failed\n")
            self.assertEqual(v.proc.poll(), None)  # still serving
            self.assertEqual(c.describe_job(vaultName="cut", jobId=jid)["StatusCode"], "Failed")
        finally:
            v.close()

    def test_output_serialization_and_input_characters(self):
        data = "# comment\n1|'a;b'|x\n2|'it''s'|y\n".replace("\n", ";").encode()
        aid = self.upload(data)
        params = select_params("SELECT _2, _1 FROM archive", header="NONE",
                               out={"QuoteFields": "ALWAYS", "FieldDelimiter": "\t",
                                    "RecordDelimiter": "\n"},
                               RecordDelimiter=";", FieldDelimiter="|", QuoteCharacter="'",
                               QuoteEscapeCharacter="'", Comments="#")
        jid = self.initiate(aid, params)["jobId"]
        self.assertEqual(self.wait(jid)["StatusCode"], "Succeeded")
        _, out = self.results("out/%s/" % jid)
        self.assertEqual(out, b'"a;b"\t"1"\n"it\'s"\t"2"\n')

    def test_runtime_error_writes_error_objects(self):
        aid = self.upload(b"Id,Salary\n1,10\n2,ten\n3,30\n")
        jid = self.initiate(aid, select_params(
            "SELECT Id FROM archive WHERE CAST(Salary AS INT) > 5"), prefix="rt")["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Failed")
        self.assertEqual(d["StatusMessage"],
                         "CAST of 'ten' to INT failed at position 30 (record 2)")
        base = "rt/%s/" % jid
        ekeys = self.read(base + "error_manifest.txt").decode().split()
        self.assertEqual(ekeys, [base + "errors/0001.txt"])
        self.assertIn(b"CAST of 'ten' to INT failed", self.read(ekeys[0]))
        self.assertFalse(os.path.exists(os.path.join(self.out, "results-bucket", base,
                                                     "result_manifest.txt")))
        self.assertTrue(os.path.exists(os.path.join(self.out, "results-bucket", base, "job.txt")))

    def test_record_over_one_mib_fails_the_job(self):
        aid = self.upload(b"a\n" + b"x" * (vh.MIB + 5) + b"\nb\n")
        jid = self.initiate(aid, select_params("SELECT * FROM archive", header="NONE"))["jobId"]
        d = self.wait(jid)
        self.assertEqual(d["StatusCode"], "Failed")
        self.assertEqual(d["StatusMessage"],
                         "record 2 is longer than 1048576 bytes (the limit of a record)")

    def test_synchronous_errors(self):
        aid = self.upload(b"Id,Name\n1,Ann\n")
        P = select_params
        cases = [
            (P("SELECT * FROM archive LIMIT 1"),
             "Invalid SelectParameters.Expression: LIMIT is not supported by select jobs at"
             " position 23"),
            (P("SELECT Id FROM archive GROUP BY Id"), "GROUP BY is not supported"),
            (P("SELECT DISTINCT Id FROM archive"), "DISTINCT is not supported"),
            (P("SELECT COUNT(*) FROM archive"), "aggregate function COUNT is not supported"),
            (P("SELECT _1 FROM archive a JOIN archive b"), "JOIN is not supported"),
            (P("SELECT Id FROM archive WHERE"), "expected an expression, found end of"
             " expression at position 29"),
            (P("SELECT s.Nope FROM archive s"), "unknown column name 'Nope' at position 8"),
            (P("SELECT Id, _2 FROM archive"), "may not mix header names and positions"),
            (P("SELECT Id FROM archive", header="IGNORE"),
             "column name 'Id' at position 8 needs FileHeaderInfo USE"),
            (P("SELECT * FROM archive", FieldDelimiter=";;"),
             "SelectParameters.InputSerialization.csv.FieldDelimiter must be one ASCII"
             " character"),
            (P("SELECT * FROM archive", FieldDelimiter="\n"),
             "must be different characters"),
            (P("SELECT * FROM archive", header="MAYBE"),
             "FileHeaderInfo must be USE, IGNORE or NONE, not MAYBE"),
            (P("SELECT * FROM archive", out={"QuoteFields": "SOMETIMES"}),
             "QuoteFields must be ALWAYS or ASNEEDED, not SOMETIMES"),
        ]
        for params, msg in cases:
            with self.subTest(msg=msg):
                self.refused(aid, params, msg)
        self.refused(aid, P("SELECT * FROM archive"), "a Prefix of at most 512 bytes",
                     prefix="p" * 513)
        self.refused(aid, P("SELECT * FROM archive"), "the bucket missing-bucket does not exist",
                     bucket="missing-bucket")
        self.refused(aid, P("SELECT * FROM archive"), "is not a valid bucket name",
                     bucket="Bad_Bucket")
        self.refused(aid, P("SELECT * FROM archive"), "'.' or '..' segment",
                     prefix="a/../../etc")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.initiate(aid, P("SELECT * FROM archive"), RetrievalByteRange="0-1048575")
        self.assertIn("RetrievalByteRange", cm.exception.response["Error"]["Message"])

    def test_aws_cli_initiate_job(self):
        aid = self.upload(b"Id,City\n1,Oslo\n2,Paris\n3,Oslo\n")
        params = {"Type": "select", "ArchiveId": aid, "Tier": "Standard",
                  "SelectParameters": select_params("SELECT Id FROM archive WHERE City = 'Oslo'"),
                  "OutputLocation": {"S3": {"BucketName": "results-bucket", "Prefix": "cli"}}}
        env = dict(os.environ, AWS_ACCESS_KEY_ID=vh.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=vh.SECRET_KEY,
                   AWS_DEFAULT_REGION=vh.REGION, AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        p = subprocess.run(["aws", "--endpoint-url", self.v.url, "glacier", "initiate-job",
                            "--account-id", "-", "--vault-name", "sel", "--job-parameters",
                            json.dumps(params)], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertTrue(out["jobOutputPath"].startswith("cli/"))
        d = self.wait(out["jobId"])
        self.assertEqual(d["StatusCode"], "Succeeded", d)
        _, res = self.results(out["jobOutputPath"])
        self.assertEqual(res, b"1\n3\n")


class NoSelectOutput(unittest.TestCase):
    def test_refused_without_output(self):
        v = vh.Vault(BIN)
        try:
            c = v.client()
            c.create_vault(vaultName="s")
            aid = c.upload_archive(vaultName="s", body=b"a\n")["archiveId"]
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                c.initiate_job(vaultName="s", jobParameters={
                    "Type": "select", "ArchiveId": aid,
                    "SelectParameters": select_params("SELECT * FROM archive"),
                    "OutputLocation": {"S3": {"BucketName": "bkt", "Prefix": "p"}}})
            self.assertIn("start it with --s3-endpoint URL or --select-output-dir DIR",
                          cm.exception.response["Error"]["Message"])
        finally:
            v.close()


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
