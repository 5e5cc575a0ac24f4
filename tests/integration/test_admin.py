#!/usr/bin/env python3
"""floe's management commands against floe-vault on 127.0.0.1 (started here, stopped by PID):
archive delete, multipart list/parts/abort (every page), vault access policy, vault lock,
tags, data retrieval policy and provisioned capacity; the happy paths, each local input
check (exit 2 with the rule), each service error (exit 1 with the Glacier code), and
cross-checks with boto3 and the aws CLI.

usage: test_admin.py FLOE FLOE_VAULT
"""
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

import boto3  # noqa: E402
import botocore.exceptions  # noqa: E402
from botocore.utils import calculate_tree_hash  # noqa: E402

FLOE = FLOE_VAULT = None
MIB = 1 << 20
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "ro", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]},
     "Action": ["glacier:ListTagsForVault"], "Resource": "*"}]})
DENY_DELETE = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "no-delete", "Effect": "Deny", "Principal": "*", "Action": "glacier:DeleteArchive",
     "Resource": "*"}]})


class Admin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="floe-admin-")
        cls.vault = servers.start_vault(FLOE_VAULT)
        cls.env = servers.client_env(cls.tmp)
        cls.g = boto3.client("glacier", endpoint_url=cls.vault.url, region_name="us-east-1",
                             aws_access_key_id=servers.LOCAL_AK,
                             aws_secret_access_key=servers.LOCAL_SK)

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        shutil.rmtree(cls.vault.workdir, ignore_errors=True)

    # ---- helpers ----

    def floe(self, *args, code=0, stdin=None):
        p = subprocess.run([FLOE, "--endpoint-url", self.vault.url, *args], env=self.env,
                           capture_output=True, text=True, input=stdin, timeout=60)
        if p.returncode != code:
            self.fail("floe %s: exit %d, wanted %d\nstdout: %s\nstderr: %s" %
                      (" ".join(args), p.returncode, code, p.stdout, p.stderr))
        return p

    def fails(self, code, want, *args):
        """floe ARGS must exit code with want in stderr; returns stderr."""
        p = self.floe(*args, code=code)
        self.assertIn(want, p.stderr, "floe %s" % " ".join(args))
        return p.stderr

    def json(self, *args):
        p = self.floe("--json", *args)
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def new_vault(self, name):
        self.floe("vault", "create", name)
        return name

    def aws(self, *args):
        p = subprocess.run([shutil.which("aws"), "--endpoint-url", self.vault.url, *args], env=self.env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout) if p.stdout.strip() else None

    def boto_error(self, fn, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(**kw)
        return cm.exception.response["Error"]["Code"]

    # ---- archives ----

    def test_archive_delete(self):
        v = self.new_vault("arch")
        aid = self.g.upload_archive(vaultName=v, body=b"x" * 1000)["archiveId"]
        out = self.floe("archive", "delete", v, aid).stdout
        self.assertIn("deleted archive", out)
        # the archive is gone: a retrieval job for it is refused
        code = self.boto_error(self.g.initiate_job, vaultName=v,
                               jobParameters={"Type": "archive-retrieval", "ArchiveId": aid})
        self.assertEqual(code, "ResourceNotFoundException")
        # idempotent, and the id may also come after "--" or as --archive-id=
        self.assertEqual(self.json("archive", "delete", v, "--", aid),
                         [{"VaultName": v, "ArchiveId": aid}])
        self.floe("archive", "delete", v, "--archive-id=" + aid)
        self.fails(1, "ResourceNotFoundException", "archive", "delete", "nosuchvault", aid)
        self.fails(2, "needs VAULT and ARCHIVE_ID", "archive", "delete", v)
        self.fails(2, "unknown subcommand 'remove'", "archive", "remove", v, aid)
        self.fails(2, "missing subcommand", "archive")
        self.fails(2, "vault name", "archive", "delete", "bad/name", aid)

    # ---- multipart ----

    def test_multipart_list_parts_abort(self):
        v = self.new_vault("mpu")
        a = self.g.initiate_multipart_upload(vaultName=v, partSize=str(MIB),
                                             archiveDescription="orphan one")["uploadId"]
        b = self.g.initiate_multipart_upload(vaultName=v, partSize=str(2 * MIB))["uploadId"]
        data = bytes(range(256)) * (MIB // 256) * 2 + b"tail"
        for off in (0, MIB, 2 * MIB):
            chunk = data[off:off + MIB]
            self.g.upload_multipart_part(vaultName=v, uploadId=a, body=chunk,
                                         range="bytes %d-%d/*" % (off, off + len(chunk) - 1))
        ups = {u["MultipartUploadId"]: u for u in self.json("multipart", "list", v)}
        self.assertEqual(set(ups), {a, b})
        self.assertEqual(ups[a]["ArchiveDescription"], "orphan one")
        self.assertEqual(ups[a]["PartSizeInBytes"], MIB)
        self.assertIsNone(ups[b]["ArchiveDescription"])
        self.assertEqual(ups[b]["PartSizeInBytes"], 2 * MIB)
        text = self.floe("multipart", "list", v).stdout
        self.assertIn(a, text)
        self.assertIn("2 uploads in progress", text)

        [p] = self.json("multipart", "parts", v, "--", a)
        self.assertEqual(p["MultipartUploadId"], a)
        self.assertEqual(p["PartSizeInBytes"], MIB)
        want = [{"RangeInBytes": "%d-%d" % (o, min(o + MIB, len(data)) - 1),
                 "SHA256TreeHash": calculate_tree_hash(io.BytesIO(data[o:o + MIB]))}
                for o in (0, MIB, 2 * MIB)]
        self.assertEqual(p["Parts"], want)
        text = self.floe("multipart", "parts", v, "--upload-id=" + a).stdout
        self.assertIn("3 parts, %d bytes" % len(data), text)
        self.assertIn("description: orphan one", text)
        self.assertEqual(self.json("multipart", "parts", v, "--", b)[0]["Parts"], [])

        # abort: gone from the list and from ListParts
        self.assertEqual(self.json("multipart", "abort", v, "--", a),
                         [{"VaultName": v, "MultipartUploadId": a}])
        self.assertEqual([u["MultipartUploadId"] for u in self.json("multipart", "list", v)], [b])
        self.assertEqual(self.boto_error(self.g.list_parts, vaultName=v, uploadId=a),
                         "ResourceNotFoundException")
        self.fails(1, "ResourceNotFoundException", "multipart", "parts", v, "--", a)

        # abort of a completed upload fails; so does an unknown id or vault
        done = self.g.initiate_multipart_upload(vaultName=v, partSize=str(MIB))["uploadId"]
        self.g.upload_multipart_part(vaultName=v, uploadId=done, body=b"abc", range="bytes 0-2/*")
        self.g.complete_multipart_upload(vaultName=v, uploadId=done, archiveSize="3",
                                         checksum=calculate_tree_hash(io.BytesIO(b"abc")))
        self.fails(1, "ResourceNotFoundException", "multipart", "abort", v, "--", done)
        self.fails(1, "ResourceNotFoundException", "multipart", "abort", v, "nosuchupload")
        self.fails(1, "ResourceNotFoundException", "multipart", "list", "nosuchvault")
        self.fails(1, "ResourceNotFoundException", "multipart", "parts", v, "nosuchupload")
        self.fails(2, "needs VAULT and UPLOAD_ID", "multipart", "abort", v)
        self.fails(2, "list takes only VAULT", "multipart", "list", v, "extra")
        self.fails(2, "unknown subcommand 'complete'", "multipart", "complete", v, b)
        self.fails(2, "unknown option '--limit'", "multipart", "list", v, "--limit", "3")

    def test_multipart_every_page(self):
        """More uploads and parts than one page (50) holds: all of them are listed."""
        v = self.new_vault("mpu-pages")
        ids = {self.g.initiate_multipart_upload(vaultName=v, partSize=str(MIB))["uploadId"]
               for _ in range(53)}
        self.assertEqual({u["MultipartUploadId"] for u in self.json("multipart", "list", v)}, ids)
        up = sorted(ids)[0]
        part = b"p" * MIB
        tree = calculate_tree_hash(io.BytesIO(part))
        for i in range(52):
            self.g.upload_multipart_part(vaultName=v, uploadId=up, body=part,
                                         range="bytes %d-%d/*" % (i * MIB, (i + 1) * MIB - 1))
        [p] = self.json("multipart", "parts", v, "--", up)
        self.assertEqual(len(p["Parts"]), 52)
        self.assertEqual(p["Parts"][51], {"RangeInBytes": "%d-%d" % (51 * MIB, 52 * MIB - 1),
                                          "SHA256TreeHash": tree})

    # ---- vault access policy ----

    def test_access_policy(self):
        v = self.new_vault("pol")
        self.fails(1, "ResourceNotFoundException", "vault", "policy", "get", v)
        self.assertIn("set the access policy", self.floe("vault", "policy", "set", v,
                                                         "--policy", POLICY).stdout)
        self.assertEqual(self.floe("vault", "policy", "get", v).stdout.strip(), POLICY)
        self.assertEqual(self.json("vault", "policy", "get", v), [{"Policy": POLICY}])
        self.assertEqual(self.g.get_vault_access_policy(vaultName=v)["policy"]["Policy"], POLICY)
        # from a file, and from standard input; replaces the old policy
        other = json.dumps({"Version": "2012-10-17", "Statement": []}, indent=2) + "\n"
        path = os.path.join(self.tmp, "policy.json")
        with open(path, "w") as f:
            f.write(other)
        self.floe("vault", "policy", "set", v, "--file", path)
        self.assertEqual(self.g.get_vault_access_policy(vaultName=v)["policy"]["Policy"], other)
        self.floe("vault", "policy", "set", v, "--file", "-", stdin=POLICY)
        self.assertEqual(self.json("vault", "policy", "get", v), [{"Policy": POLICY}])
        # delete (idempotent)
        self.floe("vault", "policy", "delete", v)
        self.floe("vault", "policy", "delete", v)
        self.assertEqual(self.boto_error(self.g.get_vault_access_policy, vaultName=v),
                         "ResourceNotFoundException")
        self.fails(1, "ResourceNotFoundException", "vault", "policy", "get", v)

        # local checks: nothing is sent
        self.fails(2, "not valid JSON", "vault", "policy", "set", v, "--policy", '{"Statement":')
        self.fails(2, "must be a JSON object", "vault", "policy", "set", v, "--policy", "[1, 2]")
        self.fails(2, "the policy is empty", "vault", "policy", "set", v, "--policy", "")
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write("{\n  \"Statement\": [,]\n}\n")
        err = self.fails(2, "not valid JSON", "vault", "policy", "set", v, "--file", bad)
        self.assertIn("line 2", err)
        big = os.path.join(self.tmp, "big.json")
        with open(big, "w") as f:
            f.write(json.dumps({"Statement": [], "Pad": "x" * 20480}))
        self.fails(2, "larger than 20480 bytes", "vault", "policy", "set", v, "--file", big)
        self.fails(1, "cannot open policy file", "vault", "policy", "set", v, "--file",
                   os.path.join(self.tmp, "missing.json"))
        self.fails(2, "the policy is missing", "vault", "policy", "set", v)
        self.fails(2, "give the policy once", "vault", "policy", "set", v, "--policy", POLICY,
                   "--file", path)
        self.fails(2, "get takes no policy", "vault", "policy", "get", v, "--policy", POLICY)
        self.fails(2, "unknown subcommand 'put'", "vault", "policy", "put", v)
        self.fails(2, "needs VAULT", "vault", "policy", "get")
        self.assertEqual(self.boto_error(self.g.get_vault_access_policy, vaultName=v),
                         "ResourceNotFoundException")
        # service errors
        self.fails(1, "ResourceNotFoundException", "vault", "policy", "set", "nosuchvault",
                   "--policy", POLICY)
        self.fails(1, "InvalidParameterValueException", "vault", "policy", "set", v, "--policy",
                   "{}")  # floe-vault wants a Statement

    # ---- vault lock ----

    def test_vault_lock(self):
        v = self.new_vault("lock")
        self.fails(1, "ResourceNotFoundException", "vault", "lock", "get", v)
        lock_id = self.floe("vault", "lock", "initiate", v, "--policy", DENY_DELETE).stdout.strip()
        self.assertRegex(lock_id, r"^[A-Za-z0-9]{24}$")
        if shutil.which("aws"):
            seen = self.aws("glacier", "get-vault-lock", "--account-id", "-", "--vault-name", v)
        else:  # the aws CLI is optional here; boto3 reads the same answer
            seen = self.g.get_vault_lock(vaultName=v)
        self.assertEqual(seen["State"], "InProgress")
        self.assertEqual(seen["Policy"], DENY_DELETE)
        [got] = self.json("vault", "lock", "get", v)
        self.assertEqual(set(got), {"Policy", "State", "ExpirationDate", "CreationDate"})
        self.assertEqual((got["Policy"], got["State"]), (DENY_DELETE, "InProgress"))
        self.assertEqual(got["ExpirationDate"], seen["ExpirationDate"])
        self.assertIn("State           InProgress", self.floe("vault", "lock", "get", v).stdout)
        # a second initiate is refused; a wrong id does not complete it
        self.fails(1, "AccessDeniedException", "vault", "lock", "initiate", v, "--policy",
                   DENY_DELETE)
        self.fails(1, "InvalidParameterValueException", "vault", "lock", "complete", v,
                   "WrongLockId0000000000000")
        # abort, then the lock is gone
        self.floe("vault", "lock", "abort", v)
        self.fails(1, "ResourceNotFoundException", "vault", "lock", "get", v)
        self.floe("vault", "lock", "abort", v)  # idempotent without a lock
        # initiate again (the lock id comes in --json too) and complete
        [lk] = self.json("vault", "lock", "initiate", v, "--policy", DENY_DELETE)
        self.assertEqual(self.json("vault", "lock", "complete", v, lk["LockId"]),
                         [{"VaultName": v, "LockId": lk["LockId"]}])
        [got] = self.json("vault", "lock", "get", v)
        self.assertEqual(got["State"], "Locked")
        self.assertIsNone(got["ExpirationDate"])
        self.assertEqual(self.g.get_vault_lock(vaultName=v)["State"], "Locked")
        self.floe("vault", "lock", "complete", v, lk["LockId"])  # idempotent with its id
        self.fails(1, "AccessDeniedException", "vault", "lock", "complete", v,
                   "WrongLockId0000000000000")
        self.fails(1, "AccessDeniedException", "vault", "lock", "abort", v)
        self.fails(1, "AccessDeniedException", "vault", "lock", "initiate", v, "--policy",
                   DENY_DELETE)
        # the locked policy is in force: deleting an archive is denied
        aid = self.g.upload_archive(vaultName=v, body=b"kept")["archiveId"]
        self.fails(1, "AccessDeniedException", "archive", "delete", v, "--", aid)

        self.fails(2, "not valid JSON", "vault", "lock", "initiate", v, "--policy", "nope")
        self.fails(2, "the policy is missing", "vault", "lock", "initiate", v)
        self.fails(2, "complete needs VAULT and LOCK_ID", "vault", "lock", "complete", v)
        self.fails(2, "unexpected argument 'x'", "vault", "lock", "abort", v, "x")
        self.fails(2, "unknown subcommand 'delete'", "vault", "lock", "delete", v)
        self.fails(1, "ResourceNotFoundException", "vault", "lock", "get", "nosuchvault")
        self.fails(1, "ResourceNotFoundException", "vault", "lock", "initiate", "nosuchvault",
                   "--policy", DENY_DELETE)

    # ---- tags ----

    def test_tags(self):
        v = self.new_vault("tags")
        self.assertIn("has no tags", self.floe("vault", "tag", "list", v).stdout)
        self.assertEqual(self.json("vault", "tag", "list", v), [{"Tags": {}}])
        self.floe("vault", "tag", "add", v, "owner=ops team", "empty=", "path=/a/b+c@d.e-f_g",
                  "città=Zürich", "eq=a=b")
        want = {"owner": "ops team", "empty": "", "path": "/a/b+c@d.e-f_g", "città": "Zürich",
                "eq": "a=b"}
        self.assertEqual(self.g.list_tags_for_vault(vaultName=v)["Tags"], want)
        self.assertEqual(self.json("vault", "tag", "list", v), [{"Tags": want}])
        self.assertIn("owner\tops team\n", self.floe("vault", "tag", "list", v).stdout)
        # overwrite, remove (idempotent for absent keys)
        self.floe("vault", "tag", "add", v, "owner=sec")
        self.floe("vault", "tag", "remove", v, "empty", "path", "never-set")
        self.assertEqual(self.g.list_tags_for_vault(vaultName=v)["Tags"],
                         {"owner": "sec", "città": "Zürich", "eq": "a=b"})
        # the longest key and value are accepted
        self.floe("vault", "tag", "add", v, "k" * 128 + "=" + "v" * 255)

        # local checks (exit 2, nothing sent)
        eleven = ["t%d=x" % i for i in range(11)]
        self.fails(2, "at most 10 per call", "vault", "tag", "add", v, *eleven)
        self.fails(2, "at most 10 per call", "vault", "tag", "remove", v,
                   *["t%d" % i for i in range(11)])
        self.fails(2, "reserved for AWS", "vault", "tag", "add", v, "aws:team=x")
        self.fails(2, "reserved for AWS", "vault", "tag", "remove", v, "aws:team")
        self.fails(2, "the limit is 128", "vault", "tag", "add", v, "k" * 129 + "=x")
        self.fails(2, "the limit is 255", "vault", "tag", "add", v, "k=" + "v" * 256)
        self.fails(2, "has the character '#'", "vault", "tag", "add", v, "bad#key=x")
        self.fails(2, "has the character '*'", "vault", "tag", "add", v, "k=bad*value")
        self.fails(2, "has the character ':'", "vault", "tag", "add", v, "a:b=x")
        self.fails(2, "a tag key is empty", "vault", "tag", "add", v, "=x")
        self.fails(2, "'lonely' is not KEY=VALUE", "vault", "tag", "add", v, "lonely")
        self.fails(2, "tag key 'dup' is given twice", "vault", "tag", "add", v, "dup=1", "dup=2")
        self.fails(2, "add needs at least one KEY=VALUE", "vault", "tag", "add", v)
        self.fails(2, "remove needs at least one KEY", "vault", "tag", "remove", v)
        self.fails(2, "unexpected argument 'x'", "vault", "tag", "list", v, "x")
        self.fails(2, "unknown subcommand 'set'", "vault", "tag", "set", v, "a=b")
        self.assertEqual(len(self.g.list_tags_for_vault(vaultName=v)["Tags"]), 4)

        # the per-vault limit (50 on floe-vault) is the service's: LimitExceededException
        for n in range(4, 50, 10):
            self.floe("vault", "tag", "add", v,
                      *["n%d=x" % i for i in range(n, min(n + 10, 50))])
        self.assertEqual(len(self.g.list_tags_for_vault(vaultName=v)["Tags"]), 50)
        self.fails(1, "LimitExceededException", "vault", "tag", "add", v, "one-more=x")
        self.fails(1, "ResourceNotFoundException", "vault", "tag", "list", "nosuchvault")
        self.fails(1, "ResourceNotFoundException", "vault", "tag", "add", "nosuchvault", "a=b")

    # ---- data retrieval policy ----

    def test_retrieval_policy(self):
        self.assertEqual(self.json("policy", "get"),
                         [{"Policy": {"Rules": [{"Strategy": "None"}]}}])
        self.floe("policy", "set", "--strategy", "FreeTier")
        self.assertEqual(self.g.get_data_retrieval_policy()["Policy"],
                         {"Rules": [{"Strategy": "FreeTier"}]})
        self.assertEqual(self.floe("policy", "get").stdout, "Strategy      FreeTier\n")
        self.assertEqual(self.json("policy", "set", "--strategy", "BytesPerHour",
                                   "--bytes-per-hour", "10737418240"),
                         [{"Policy": {"Rules": [{"Strategy": "BytesPerHour",
                                                 "BytesPerHour": 10737418240}]}}])
        self.assertEqual(self.g.get_data_retrieval_policy()["Policy"],
                         {"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 10737418240}]})
        self.assertIn("BytesPerHour  10737418240", self.floe("policy", "get").stdout)
        self.floe("policy", "set", "--strategy=BytesPerHour", "--bytes-per-hour=9223372036854775807")
        self.assertEqual(self.json("policy", "get")[0]["Policy"]["Rules"][0]["BytesPerHour"],
                         9223372036854775807)
        # a policy set by boto3 is read back by floe
        self.g.set_data_retrieval_policy(Policy={"Rules": [{"Strategy": "None"}]})
        self.assertEqual(self.floe("policy", "get").stdout, "Strategy      None\n")

        self.fails(2, "unknown retrieval strategy 'bytesperhour'", "policy", "set",
                   "--strategy", "bytesperhour", "--bytes-per-hour", "5")
        self.fails(2, "needs --bytes-per-hour", "policy", "set", "--strategy", "BytesPerHour")
        self.fails(2, "only allowed with --strategy BytesPerHour, not with FreeTier", "policy",
                   "set", "--strategy", "FreeTier", "--bytes-per-hour", "5")
        self.fails(2, "only allowed with --strategy BytesPerHour, not with None", "policy",
                   "set", "--strategy", "None", "--bytes-per-hour", "0")
        for bad in ("0", "-5", "9223372036854775808", "99999999999999999999", "1e9", "10GiB",
                    ""):
            self.fails(2, "--bytes-per-hour must be a whole number from 1 to "
                       "9223372036854775807", "policy", "set", "--strategy", "BytesPerHour",
                       "--bytes-per-hour", bad)
        self.fails(2, "set needs --strategy", "policy", "set")
        self.fails(2, "get takes no options", "policy", "get", "--strategy", "None")
        self.fails(2, "unknown subcommand 'delete'", "policy", "delete")
        self.fails(2, "missing subcommand", "policy")
        self.assertEqual(self.g.get_data_retrieval_policy()["Policy"],
                         {"Rules": [{"Strategy": "None"}]})

    # ---- provisioned capacity ----

    def test_capacity(self):
        self.assertEqual(self.floe("capacity", "list").stdout, "no provisioned capacity\n")
        self.assertEqual(self.json("capacity", "list"), [])
        first = self.floe("capacity", "purchase").stdout.strip()
        self.assertRegex(first, r"^[A-Za-z0-9]{24}$")
        [second] = self.json("capacity", "purchase")
        units = self.json("capacity", "list")
        self.assertEqual([u["CapacityId"] for u in units], [first, second["CapacityId"]])
        boto = self.g.list_provisioned_capacity()["ProvisionedCapacityList"]
        self.assertEqual([b["CapacityId"] for b in boto], [first, second["CapacityId"]])
        for u in units:
            self.assertEqual(set(u), {"CapacityId", "StartDate", "ExpirationDate"})
            self.assertLess(u["StartDate"], u["ExpirationDate"])
        self.assertIn(first, self.floe("capacity", "list").stdout)
        self.fails(1, "LimitExceededException", "capacity", "purchase")
        self.assertEqual(self.boto_error(self.g.purchase_provisioned_capacity),
                         "LimitExceededException")
        self.assertEqual(len(self.json("capacity", "list")), 2)
        self.fails(2, "unknown subcommand 'buy'", "capacity", "buy")
        self.fails(2, "unexpected argument 'x'", "capacity", "list", "x")

    def test_help(self):
        top = self.floe("--help").stdout
        for cmd in ("archive", "multipart", "policy", "capacity"):
            self.assertIn("  %s " % cmd, top)
            self.assertIn("usage: floe %s" % cmd, self.floe(cmd, "--help").stdout)
        for res in ("policy", "lock", "tag"):
            self.assertIn("usage: floe vault %s" % res, self.floe("vault", res, "--help").stdout)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    FLOE, FLOE_VAULT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
