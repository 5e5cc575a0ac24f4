#!/usr/bin/env python3
"""floe-vault driven by the aws CLI (awscli 1.x): every `aws glacier` command, results checked
byte for byte (archive bytes, tree hashes, inventory content). Usage: test_interop_awscli.py
<floe-vault binary>."""
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = None


class AwsCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = vh.Vault(BIN)
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-awscli-")
        cls.env = cls.v.aws_env(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.v.close()
        cls.tmp.cleanup()

    def aws(self, *args, ok=True):
        # Glacier ids are base64url and may start with '-'; the aws CLI's argparse reads such a
        # value as an option unless it is joined to its flag, as AWS's own docs advise.
        joined, i = [], 0
        while i < len(args):
            if args[i].endswith("-id") and args[i].startswith("--") and i + 1 < len(args):
                joined.append(args[i] + "=" + args[i + 1])
                i += 2
            else:
                joined.append(args[i])
                i += 1
        cmd = ["aws", "glacier", *joined, "--endpoint-url", self.v.url, "--account-id", "-",
               "--output", "json"]
        r = subprocess.run(cmd, env=self.env, capture_output=True, timeout=120)
        if ok:
            self.assertEqual(r.returncode, 0, "%s: %s" % (args, r.stderr.decode()))
            out = r.stdout.decode().strip()
            return json.loads(out) if out else None
        self.assertNotEqual(r.returncode, 0, args)
        return r.stderr.decode()

    def path(self, name, data=None):
        p = os.path.join(self.tmp.name, name)
        if data is not None:
            with open(p, "wb") as f:
                f.write(data)
        return p

    def test_vaults_create_describe_list_wait_delete(self):
        out = self.aws("create-vault", "--vault-name", "cli-v1")
        self.assertEqual(out, {"location": "/%s/vaults/cli-v1" % vh.ACCOUNT})
        self.aws("create-vault", "--vault-name", "cli-v1")  # idempotent
        self.aws("wait", "vault-exists", "--vault-name", "cli-v1")
        d = self.aws("describe-vault", "--vault-name", "cli-v1")
        self.assertEqual(d["VaultARN"], "arn:aws:glacier:us-east-1:%s:vaults/cli-v1" % vh.ACCOUNT)
        self.assertEqual(d["NumberOfArchives"], 0)
        for i in range(12):
            self.aws("create-vault", "--vault-name", "cli-page-%02d" % i)
        names = [x["VaultName"] for x in self.aws("list-vaults")["VaultList"]]
        self.assertEqual(names, sorted(names))
        self.assertTrue({"cli-v1", "cli-page-00", "cli-page-11"} <= set(names))
        page = self.aws("list-vaults", "--limit", "3", "--no-paginate")
        self.assertEqual(len(page["VaultList"]), 3)
        self.assertTrue(page["Marker"].startswith("arn:aws:glacier:"))
        self.aws("delete-vault", "--vault-name", "cli-v1")
        self.aws("wait", "vault-not-exists", "--vault-name", "cli-v1")
        err = self.aws("describe-vault", "--vault-name", "cli-v1", ok=False)
        self.assertIn("ResourceNotFoundException", err)

    def test_upload_retrieve_inventory_delete(self):
        self.aws("create-vault", "--vault-name", "cli-arch")
        data = bytes(i % 251 for i in range(3 * vh.MIB + 5))
        up = self.aws("upload-archive", "--vault-name", "cli-arch", "--body",
                      self.path("a.bin", data), "--archive-description", "cli archive")
        self.assertEqual(up["checksum"], vh.tree_hash(data))
        self.assertEqual(up["checksum"],
                         "c9e0c11a00161b193e0a1b3692ec553d4033a887f2086a7cadd4cd722d87f09f")
        aid = up["archiveId"]
        self.assertEqual(len(aid), 138)
        job = self.aws("initiate-job", "--vault-name", "cli-arch", "--job-parameters",
                       json.dumps({"Type": "archive-retrieval", "ArchiveId": aid,
                                   "Description": "whole", "Tier": "Expedited"}))
        jid = job["jobId"]
        d = self.aws("describe-job", "--vault-name", "cli-arch", "--job-id", jid)
        self.assertEqual(d["StatusCode"], "Succeeded")
        self.assertEqual(d["SHA256TreeHash"], vh.tree_hash(data))
        self.assertEqual(d["ArchiveSizeInBytes"], len(data))
        self.assertEqual(d["RetrievalByteRange"], "0-%d" % (len(data) - 1))
        out = self.aws("get-job-output", "--vault-name", "cli-arch", "--job-id", jid,
                       self.path("out.bin"))
        self.assertEqual(out["status"], 200)
        self.assertEqual(out["checksum"], vh.tree_hash(data))
        self.assertEqual(out["archiveDescription"], "cli archive")
        with open(self.path("out.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        # aligned range: 206 with a tree hash; unaligned: no hash
        out = self.aws("get-job-output", "--vault-name", "cli-arch", "--job-id", jid, "--range",
                       "bytes=2097152-3145732", self.path("r.bin"))
        self.assertEqual(out["status"], 206)
        self.assertEqual(out["contentRange"], "bytes 2097152-3145732/%d" % len(data))
        self.assertEqual(out["checksum"], vh.tree_hash(data[2 * vh.MIB:]))
        with open(self.path("r.bin"), "rb") as f:
            self.assertEqual(f.read(), data[2 * vh.MIB:])
        out = self.aws("get-job-output", "--vault-name", "cli-arch", "--job-id", jid, "--range",
                       "bytes=1048576-3145727", self.path("r2.bin"))
        self.assertNotIn("checksum", out)
        # list-jobs with filters
        jl = self.aws("list-jobs", "--vault-name", "cli-arch", "--statuscode", "Succeeded",
                      "--completed", "true")
        self.assertIn(jid, [j["JobId"] for j in jl["JobList"]])
        # inventory, CSV
        inv = self.aws("initiate-job", "--vault-name", "cli-arch", "--job-parameters",
                       json.dumps({"Type": "inventory-retrieval", "Format": "CSV"}))
        self.aws("get-job-output", "--vault-name", "cli-arch", "--job-id", inv["jobId"],
                 self.path("inv.csv"))
        with open(self.path("inv.csv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash")
        self.assertTrue(lines[1].startswith(aid + ',"cli archive",'))
        self.assertTrue(lines[1].endswith(",%d,%s" % (len(data), vh.tree_hash(data))))
        self.aws("delete-archive", "--vault-name", "cli-arch", "--archive-id=" + aid)
        self.aws("delete-archive", "--vault-name", "cli-arch", "--archive-id=" + aid)  # idempotent
        self.aws("delete-vault", "--vault-name", "cli-arch")

    def test_multipart(self):
        self.aws("create-vault", "--vault-name", "cli-mpu")
        data = os.urandom(2 * vh.MIB + 12345)
        init = self.aws("initiate-multipart-upload", "--vault-name", "cli-mpu", "--part-size",
                        str(vh.MIB), "--archive-description", "mpu")
        uid = init["uploadId"]
        parts = [(0, data[:vh.MIB]), (vh.MIB, data[vh.MIB:2 * vh.MIB]),
                 (2 * vh.MIB, data[2 * vh.MIB:])]
        for first, chunk in reversed(parts):  # out of order
            r = self.aws("upload-multipart-part", "--vault-name", "cli-mpu", "--upload-id", uid,
                         "--range", "bytes %d-%d/*" % (first, first + len(chunk) - 1), "--body",
                         self.path("p%d" % first, chunk))
            self.assertEqual(r["checksum"], vh.tree_hash(chunk))
        lp = self.aws("list-parts", "--vault-name", "cli-mpu", "--upload-id", uid)
        self.assertEqual([p["RangeInBytes"] for p in lp["Parts"]],
                         ["0-1048575", "1048576-2097151", "2097152-%d" % (len(data) - 1)])
        lu = self.aws("list-multipart-uploads", "--vault-name", "cli-mpu")
        self.assertEqual([u["MultipartUploadId"] for u in lu["UploadsList"]], [uid])
        done = self.aws("complete-multipart-upload", "--vault-name", "cli-mpu", "--upload-id", uid,
                        "--archive-size", str(len(data)), "--checksum", vh.tree_hash(data))
        self.assertEqual(done["checksum"], vh.tree_hash(data))
        # a second upload, aborted
        uid2 = self.aws("initiate-multipart-upload", "--vault-name", "cli-mpu", "--part-size",
                        str(4 * vh.MIB))["uploadId"]
        self.aws("abort-multipart-upload", "--vault-name", "cli-mpu", "--upload-id", uid2)
        err = self.aws("list-parts", "--vault-name", "cli-mpu", "--upload-id", uid2, ok=False)
        self.assertIn("ResourceNotFoundException", err)
        job = self.aws("initiate-job", "--vault-name", "cli-mpu", "--job-parameters",
                       json.dumps({"Type": "archive-retrieval", "ArchiveId": done["archiveId"],
                                   "RetrievalByteRange": "1048576-%d" % (len(data) - 1)}))
        out = self.aws("get-job-output", "--vault-name", "cli-mpu", "--job-id", job["jobId"],
                       self.path("mo.bin"))
        with open(self.path("mo.bin"), "rb") as f:
            self.assertEqual(f.read(), data[vh.MIB:])
        # leaves [1, 3) of a 3-leaf archive are not one tree node: no hash anywhere
        self.assertNotIn("checksum", out)
        d = self.aws("describe-job", "--vault-name", "cli-mpu", "--job-id", job["jobId"])
        self.assertNotIn("SHA256TreeHash", d)
        self.assertEqual(d["ArchiveSHA256TreeHash"], vh.tree_hash(data))

    def test_notifications_policy_lock_tags(self):
        v = "cli-sub"
        self.aws("create-vault", "--vault-name", v)
        topic = "arn:aws:sns:us-east-1:%s:floe-topic" % vh.ACCOUNT
        cfg = {"SNSTopic": topic, "Events": ["ArchiveRetrievalCompleted"]}
        self.aws("set-vault-notifications", "--vault-name", v, "--vault-notification-config",
                 json.dumps(cfg))
        self.assertEqual(self.aws("get-vault-notifications", "--vault-name", v)
                         ["vaultNotificationConfig"], cfg)
        self.aws("delete-vault-notifications", "--vault-name", v)
        self.assertIn("ResourceNotFoundException",
                      self.aws("get-vault-notifications", "--vault-name", v, ok=False))
        pol = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "glacier:ListJobs",
             "Resource": "arn:aws:glacier:us-east-1:%s:vaults/%s" % (vh.ACCOUNT, v)}]})
        self.aws("set-vault-access-policy", "--vault-name", v, "--policy",
                 json.dumps({"Policy": pol}))
        self.assertEqual(self.aws("get-vault-access-policy", "--vault-name", v)["policy"],
                         {"Policy": pol})
        self.aws("delete-vault-access-policy", "--vault-name", v)
        lockpol = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "no-early-delete", "Effect": "Deny", "Principal": "*",
             "Action": "glacier:DeleteArchive",
             "Resource": "arn:aws:glacier:us-east-1:%s:vaults/%s" % (vh.ACCOUNT, v),
             "Condition": {"NumericLessThan": {"glacier:ArchiveAgeInDays": "365"}}}]})
        lock = self.aws("initiate-vault-lock", "--vault-name", v, "--policy",
                        json.dumps({"Policy": lockpol}))
        g = self.aws("get-vault-lock", "--vault-name", v)
        self.assertEqual(g["State"], "InProgress")
        self.assertEqual(g["Policy"], lockpol)
        self.aws("abort-vault-lock", "--vault-name", v)
        lock = self.aws("initiate-vault-lock", "--vault-name", v, "--policy",
                        json.dumps({"Policy": lockpol}))
        self.aws("complete-vault-lock", "--vault-name", v, "--lock-id", lock["lockId"])
        self.assertEqual(self.aws("get-vault-lock", "--vault-name", v)["State"], "Locked")
        self.assertIn("AccessDeniedException", self.aws("abort-vault-lock", "--vault-name", v,
                                                        ok=False))
        aid = self.v.upload(v, b"locked bytes")
        err = self.aws("delete-archive", "--vault-name", v, "--archive-id=" + aid, ok=False)
        self.assertIn("AccessDeniedException", err)
        self.aws("add-tags-to-vault", "--vault-name", v, "--tags", "k1=v1,k2=")
        self.assertEqual(self.aws("list-tags-for-vault", "--vault-name", v)["Tags"],
                         {"k1": "v1", "k2": ""})
        self.aws("remove-tags-from-vault", "--vault-name", v, "--tag-keys", "k1")
        self.assertEqual(self.aws("list-tags-for-vault", "--vault-name", v)["Tags"], {"k2": ""})

    def test_account_settings(self):
        self.assertEqual(self.aws("get-data-retrieval-policy")["Policy"],
                         {"Rules": [{"Strategy": "None"}]})
        pol = {"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 10737418240}]}
        self.aws("set-data-retrieval-policy", "--policy", json.dumps(pol))
        self.assertEqual(self.aws("get-data-retrieval-policy")["Policy"], pol)
        self.aws("set-data-retrieval-policy", "--policy",
                 json.dumps({"Rules": [{"Strategy": "None"}]}))
        before = self.aws("list-provisioned-capacity")["ProvisionedCapacityList"]
        cid = self.aws("purchase-provisioned-capacity")["capacityId"]
        after = self.aws("list-provisioned-capacity")["ProvisionedCapacityList"]
        self.assertEqual(len(after), len(before) + 1)
        self.assertIn(cid, [c["CapacityId"] for c in after])


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
