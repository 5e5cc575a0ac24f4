#!/usr/bin/env python3
"""floe-vault for a team (docs/floe-vault.md, Accounts and access keys): --credentials-file
binds each access key to an account and a user ARN; vault names are per account; another
account's vaults answer AccessDeniedException (403) unless the vault's access policy (or lock
policy) allows, and a Deny wins; the owner account keeps full access but for an explicit Deny
of its own access policy; a data dir from before accounts belongs to the default account; a bad
credentials file stops the start with a clear message. boto3 clients, one per user.
Usage: test_accounts.py <floe-vault binary>."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import boto3
import botocore.exceptions
from botocore.config import Config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = None
ALICE_ACCT, BOB_ACCT, EVE_ACCT = "111111111111", "222222222222", "333333333333"
USERS = {  # name: (access key, secret, account, ARN)
    "alice": ("AKIDALICE0000000001", "alice-secret", ALICE_ACCT,
              "arn:aws:iam::111111111111:user/alice"),
    "carol": ("AKIDCAROL0000000001", "carol-secret", ALICE_ACCT,
              "arn:aws:iam::111111111111:user/carol"),
    "bob": ("AKIDBOB000000000001", "bob-secret", BOB_ACCT, "arn:aws:iam::222222222222:user/bob"),
    "eve": ("AKIDEVE000000000001", "eve-secret", EVE_ACCT, "arn:aws:iam::333333333333:user/eve"),
}


def write_creds(path, users):
    with open(path, "w") as f:
        f.write("# floe-vault credentials: ACCESS_KEY_ID SECRET_ACCESS_KEY ACCOUNT_ID USER_ARN\n\n")
        for ak, sk, acct, arn in users:
            f.write("%s  %s\t%s %s\n" % (ak, sk, acct, arn))


def arn(acct, vault):
    return "arn:aws:glacier:us-east-1:%s:vaults/%s" % (acct, vault)


class Team(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-vault-accounts-")
        cls.creds = os.path.join(cls.tmp.name, "team.creds")
        write_creds(cls.creds, USERS.values())
        cls.v = vh.Vault(BIN, data_dir=os.path.join(cls.tmp.name, "data"),
                         extra=("--job-delay", "instant", "--credentials-file", cls.creds,
                                "--account-id", ALICE_ACCT))
        cls.c = {name: boto3.session.Session(
            aws_access_key_id=u[0], aws_secret_access_key=u[1], region_name="us-east-1").client(
                "glacier", endpoint_url=cls.v.url, config=Config(retries={"max_attempts": 1}))
            for name, u in USERS.items()}

    @classmethod
    def tearDownClass(cls):
        cls.v.stop()
        cls.tmp.cleanup()

    def denied(self, fn, action, who="bob", explicit=False, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(**kw)
        r = cm.exception.response
        self.assertEqual(r["Error"]["Code"], "AccessDeniedException", r)
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 403)
        msg = r["Error"]["Message"]
        self.assertIn("User: %s is not authorized to perform: glacier:%s on resource: "
                      % (USERS[who][3], action), msg)
        self.assertEqual(msg.endswith("with an explicit deny in a resource-based policy"),
                         explicit, msg)
        return msg

    def fresh(self, name, policy=None):
        """alice's vault `name` with one archive (and an access policy); returns its id."""
        a = self.c["alice"]
        a.create_vault(vaultName=name)
        aid = a.upload_archive(vaultName=name, body=b"alice's bytes " + name.encode())["archiveId"]
        if policy is not None:
            a.set_vault_access_policy(vaultName=name,
                                      policy={"Policy": json.dumps(policy)})
        return aid

    def count(self, client, name, account="-"):
        return client.describe_vault(accountId=account, vaultName=name)["NumberOfArchives"]

    # ---- isolation ----
    def test_names_are_per_account(self):
        a, b = self.c["alice"], self.c["bob"]
        a.create_vault(vaultName="photos")
        b.create_vault(vaultName="photos")
        a.upload_archive(vaultName="photos", body=b"alice photo")
        self.assertEqual(self.count(a, "photos"), 1)
        self.assertEqual(self.count(b, "photos"), 0)
        d = b.describe_vault(vaultName="photos")
        self.assertEqual((d["VaultName"], d["VaultARN"]), ("photos", arn(BOB_ACCT, "photos")))
        bl = b.list_vaults()["VaultList"]
        self.assertEqual([(x["VaultName"], x["VaultARN"]) for x in bl],
                         [("photos", arn(BOB_ACCT, "photos"))])
        self.assertIn(arn(ALICE_ACCT, "photos"),
                      [x["VaultARN"] for x in a.list_vaults()["VaultList"]])
        self.assertNotIn(arn(BOB_ACCT, "photos"),
                         [x["VaultARN"] for x in a.list_vaults()["VaultList"]])
        # the account id itself in the path works as "-" does for the owner
        self.assertEqual(self.count(b, "photos", BOB_ACCT), 0)
        # a second user of alice's account has the owner's full access
        self.assertEqual(self.count(self.c["carol"], "photos"), 1)
        # paging ListVaults stays inside the account
        for i in range(3):
            b.create_vault(vaultName="page%d" % i)
        seen, marker = [], None
        while True:
            kw = {"marker": marker} if marker else {}
            r = b.list_vaults(limit="1", **kw)
            seen += [x["VaultName"] for x in r["VaultList"]]
            marker = r.get("Marker")
            if not marker:
                break
        self.assertEqual(seen, ["page0", "page1", "page2", "photos"])
        # a name holding the key separator never reaches another account's vault
        for name in ("%s:photos" % BOB_ACCT, ":photos", "photos:"):
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                a.describe_vault(vaultName=name)
            self.assertEqual(cm.exception.response["Error"]["Code"],
                             "ResourceNotFoundException", name)
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                a.upload_archive(vaultName=name, body=b"into bob's?")
            self.assertEqual(cm.exception.response["Error"]["Code"],
                             "ResourceNotFoundException", name)
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                a.create_vault(vaultName=name)
            self.assertEqual(cm.exception.response["Error"]["Code"],
                             "ResourceNotFoundException", name)
        self.assertEqual(self.count(b, "photos"), 0)
        # DeleteVault removes bob's photos only
        b.delete_vault(vaultName="photos")
        self.assertEqual(self.count(a, "photos"), 1)

    def test_account_settings_are_per_account(self):
        a, e = self.c["alice"], self.c["eve"]
        e.set_data_retrieval_policy(Policy={"Rules": [
            {"Strategy": "BytesPerHour", "BytesPerHour": 1 << 30}]})
        self.assertEqual(e.get_data_retrieval_policy()["Policy"]["Rules"][0]["Strategy"],
                         "BytesPerHour")
        self.assertEqual(a.get_data_retrieval_policy()["Policy"]["Rules"][0]["Strategy"], "None")
        cid = e.purchase_provisioned_capacity()["capacityId"]
        self.assertEqual([c["CapacityId"] for c in
                          e.list_provisioned_capacity()["ProvisionedCapacityList"]], [cid])
        self.assertEqual(a.list_provisioned_capacity()["ProvisionedCapacityList"], [])

    def test_retrieval_policy_counts_its_own_account_only(self):
        """A BytesPerHour policy limits what its account retrieves in the hour: other accounts'
        retrievals (the default account's and another named account's) do not count."""
        a, b, e = self.c["alice"], self.c["bob"], self.c["eve"]
        b.set_data_retrieval_policy(Policy={"Rules": [
            {"Strategy": "BytesPerHour", "BytesPerHour": 100}]})
        try:
            for who, name in ((a, "rp-alice"), (e, "rp-eve")):
                who.create_vault(vaultName=name)
                big = who.upload_archive(vaultName=name, body=b"x" * 500)["archiveId"]
                who.initiate_job(vaultName=name, jobParameters={
                    "Type": "archive-retrieval", "ArchiveId": big})
            b.create_vault(vaultName="rp-bob")
            ids = [b.upload_archive(vaultName="rp-bob", body=b"y" * n)["archiveId"]
                   for n in (50, 60)]
            b.initiate_job(vaultName="rp-bob", jobParameters={
                "Type": "archive-retrieval", "ArchiveId": ids[0]})
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                b.initiate_job(vaultName="rp-bob", jobParameters={
                    "Type": "archive-retrieval", "ArchiveId": ids[1]})
            self.assertEqual(cm.exception.response["Error"]["Code"], "PolicyEnforcedException")
        finally:
            b.set_data_retrieval_policy(Policy={"Rules": [{"Strategy": "None"}]})

    def test_other_account_denied_everything(self):
        aid = self.fresh("private")
        b = self.c["bob"]
        A = ALICE_ACCT
        self.denied(b.list_vaults, "ListVaults", accountId=A)
        self.denied(b.describe_vault, "DescribeVault", accountId=A, vaultName="private")
        self.denied(b.create_vault, "CreateVault", accountId=A, vaultName="bobs-in-alice")
        self.denied(b.delete_vault, "DeleteVault", accountId=A, vaultName="private")
        self.denied(b.upload_archive, "UploadArchive", accountId=A, vaultName="private",
                    body=b"intruder")
        self.denied(b.delete_archive, "DeleteArchive", accountId=A, vaultName="private",
                    archiveId=aid)
        self.denied(b.initiate_job, "InitiateJob", accountId=A, vaultName="private",
                    jobParameters={"Type": "archive-retrieval", "ArchiveId": aid})
        self.denied(b.list_jobs, "ListJobs", accountId=A, vaultName="private")
        self.denied(b.initiate_multipart_upload, "InitiateMultipartUpload", accountId=A,
                    vaultName="private", partSize=str(vh.MIB))
        self.denied(b.list_multipart_uploads, "ListMultipartUploads", accountId=A,
                    vaultName="private")
        self.denied(b.get_vault_access_policy, "GetVaultAccessPolicy", accountId=A,
                    vaultName="private")
        self.denied(b.set_vault_access_policy, "SetVaultAccessPolicy", accountId=A,
                    vaultName="private", policy={"Policy": json.dumps(
                        {"Statement": [{"Effect": "Allow", "Principal": "*",
                                        "Action": "glacier:*"}]})})
        self.denied(b.list_tags_for_vault, "ListTagsForVault", accountId=A, vaultName="private")
        self.denied(b.add_tags_to_vault, "AddTagsToVault", accountId=A, vaultName="private",
                    Tags={"k": "v"})
        self.denied(b.get_vault_notifications, "GetVaultNotifications", accountId=A,
                    vaultName="private")
        self.denied(b.initiate_vault_lock, "InitiateVaultLock", accountId=A, vaultName="private",
                    policy={"Policy": json.dumps({"Statement": []})})
        self.denied(b.get_data_retrieval_policy, "GetDataRetrievalPolicy", accountId=A)
        self.denied(b.list_provisioned_capacity, "ListProvisionedCapacity", accountId=A)
        # a vault that does not exist answers the same (no probing of names)
        self.denied(b.describe_vault, "DescribeVault", accountId=A, vaultName="no-such-vault")
        # nothing changed
        a = self.c["alice"]
        self.assertEqual(self.count(a, "private"), 1)
        self.assertNotIn("bobs-in-alice", [x["VaultName"] for x in a.list_vaults()["VaultList"]])
        self.assertEqual(a.list_tags_for_vault(vaultName="private")["Tags"], {})
        with self.assertRaises(botocore.exceptions.ClientError):
            a.get_vault_access_policy(vaultName="private")
        # an account id that is not one is refused, not mistaken for another account
        st, _, body = self.v.request("GET", "/12345/vaults", key=USERS["bob"][0],
                                     secret=USERS["bob"][1])
        self.assertEqual(st, 403, body)
        self.assertEqual(json.loads(body)["code"], "AccessDeniedException")

    # ---- the vault access policy ----
    def test_policy_grants_what_it_names(self):
        vault = "shared"
        aid = self.fresh(vault, {"Version": "2012-10-17", "Statement": [
            {"Sid": "bob-writes", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::222222222222:user/bob"},
             "Action": ["glacier:Upload*", "glacier:*MultipartUpload", "glacier:ListParts",
                        "glacier:Describe*", "glacier:InitiateJob", "glacier:GetJobOutput"],
             "Resource": "arn:aws:glacier:us-east-1:111111111111:vaults/sha*"}]})
        b, A = self.c["bob"], ALICE_ACCT
        # upload and multipart upload into alice's vault
        bid = b.upload_archive(accountId=A, vaultName=vault, body=b"from bob")["archiveId"]
        part = os.urandom(vh.MIB)
        up = b.initiate_multipart_upload(accountId=A, vaultName=vault, partSize=str(vh.MIB))
        b.upload_multipart_part(accountId=A, vaultName=vault, uploadId=up["uploadId"],
                                range="bytes 0-%d/*" % (vh.MIB - 1), body=part)
        b.complete_multipart_upload(accountId=A, vaultName=vault, uploadId=up["uploadId"],
                                    archiveSize=str(vh.MIB), checksum=vh.tree_hash(part))
        d = b.describe_vault(accountId=A, vaultName=vault)
        self.assertEqual((d["NumberOfArchives"], d["VaultARN"]), (3, arn(A, vault)))
        # retrieval: a job and its output, checked byte for byte
        job = b.initiate_job(accountId=A, vaultName=vault,
                             jobParameters={"Type": "archive-retrieval", "ArchiveId": bid})
        vh.wait_for(lambda: b.describe_job(accountId=A, vaultName=vault,
                                           jobId=job["jobId"])["Completed"])
        out = b.get_job_output(accountId=A, vaultName=vault, jobId=job["jobId"])
        self.assertEqual(out["body"].read(), b"from bob")
        # what the policy does not name stays denied
        self.denied(b.list_jobs, "ListJobs", accountId=A, vaultName=vault)
        self.denied(b.delete_archive, "DeleteArchive", accountId=A, vaultName=vault,
                    archiveId=aid)
        self.denied(b.list_vaults, "ListVaults", accountId=A)
        # another account's user is not the principal named
        self.denied(self.c["eve"].describe_vault, "DescribeVault", who="eve", accountId=A,
                    vaultName=vault)
        # the Resource pattern: a vault it does not match is not granted
        self.fresh("other", {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": BOB_ACCT}, "Action": "glacier:*",
             "Resource": arn(A, "shared")}]})
        self.denied(b.describe_vault, "DescribeVault", accountId=A, vaultName="other")

    def test_deny_wins_and_binds_the_owner(self):
        vault = "guarded"
        aid = self.fresh(vault, {"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "glacier:*", "Resource": "*"},
            {"Sid": "keep", "Effect": "Deny", "Principal": "*", "Action": "glacier:Delete*",
             "Resource": arn(ALICE_ACCT, vault),
             "Condition": {"NumericLessThan": {"glacier:ArchiveAgeInDays": "30"}}}]})
        b, a, A = self.c["bob"], self.c["alice"], ALICE_ACCT
        self.assertEqual(self.count(b, vault, A), 1)  # the Allow of "*"
        self.assertEqual(len(b.list_jobs(accountId=A, vaultName=vault)["JobList"]), 0)
        self.denied(b.delete_archive, "DeleteArchive", explicit=True, accountId=A,
                    vaultName=vault, archiveId=aid)
        # the owner too: an explicit Deny of its own policy holds for it
        self.denied(a.delete_archive, "DeleteArchive", who="alice", explicit=True,
                    vaultName=vault, archiveId=aid)
        self.assertEqual(self.count(a, vault), 1)
        # ...but the owner can always replace the policy; then the delete goes through
        a.delete_vault_access_policy(vaultName=vault)
        a.delete_archive(vaultName=vault, archiveId=aid)
        # no policy any more: bob is back to nothing
        self.denied(b.describe_vault, "DescribeVault", accountId=A, vaultName=vault)

    def test_conditions(self):
        vault = "tagged"
        self.fresh(vault, {"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "glacier:DescribeVault",
             "Condition": {"StringEquals": {"glacier:ResourceTag/team": "blue"},
                           "StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/b*"}}},
            {"Effect": "Allow", "Principal": "*", "Action": "glacier:ListTagsForVault",
             "Condition": {"StringEquals": {"aws:PrincipalAccount": [BOB_ACCT, EVE_ACCT]},
                           "Bool": {"aws:SecureTransport": "false"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "glacier:ListTagsForVault",
             "Condition": {"StringNotEquals": {"aws:username": "bob"}}},
            {"Effect": "Allow", "Principal": "*", "Action": "glacier:ListJobs",
             "Condition": {"Frobnicate": {"aws:username": "bob"}}}]})
        b, e, a, A = self.c["bob"], self.c["eve"], self.c["alice"], ALICE_ACCT
        # the tag condition: no tag yet, then another value, then the one named
        self.denied(b.describe_vault, "DescribeVault", accountId=A, vaultName=vault)
        a.add_tags_to_vault(vaultName=vault, Tags={"team": "red"})
        self.denied(b.describe_vault, "DescribeVault", accountId=A, vaultName=vault)
        a.add_tags_to_vault(vaultName=vault, Tags={"team": "blue"})
        self.assertEqual(self.count(b, vault, A), 1)
        # the principal ARN pattern: eve's ARN does not match user/b*
        self.denied(e.describe_vault, "DescribeVault", who="eve", accountId=A, vaultName=vault)
        # the account list allows both; the Deny of every user but bob wins for eve
        self.assertEqual(b.list_tags_for_vault(accountId=A, vaultName=vault)["Tags"],
                         {"team": "blue"})
        self.denied(e.list_tags_for_vault, "ListTagsForVault", who="eve", explicit=True,
                    accountId=A, vaultName=vault)
        # an unknown condition operator never grants
        self.denied(b.list_jobs, "ListJobs", accountId=A, vaultName=vault)

    def test_lock_policy_counts_too(self):
        vault = "locked"
        self.fresh(vault)
        a, b, A = self.c["alice"], self.c["bob"], ALICE_ACCT
        lock = a.initiate_vault_lock(vaultName=vault, policy={"Policy": json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": {"AWS": BOB_ACCT},
                            "Action": "glacier:ListJobs", "Resource": arn(A, vault)},
                           {"Effect": "Deny", "Principal": "*",
                            "Action": "glacier:DeleteArchive", "Resource": arn(A, vault)}]})})
        self.assertEqual(b.list_jobs(accountId=A, vaultName=vault)["JobList"], [])
        # an access policy Allow of everything does not beat the lock's Deny
        a.set_vault_access_policy(vaultName=vault, policy={"Policy": json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "glacier:*"}]})})
        aid = b.upload_archive(accountId=A, vaultName=vault, body=b"b")["archiveId"]
        self.denied(b.delete_archive, "DeleteArchive", explicit=True, accountId=A,
                    vaultName=vault, archiveId=aid)
        a.abort_vault_lock(vaultName=vault)
        b.delete_archive(accountId=A, vaultName=vault, archiveId=aid)
        del lock


class OldDataDir(unittest.TestCase):
    def test_vaults_of_before_belong_to_the_default_account(self):
        with tempfile.TemporaryDirectory(prefix="floe-vault-accounts-") as d:
            data = os.path.join(d, "data")
            v = vh.Vault(BIN, data_dir=data)  # the one-key shortcut, default account
            try:
                v.client().create_vault(vaultName="old")
                v.upload("old", b"kept")
            finally:
                v.stop()
            creds = os.path.join(d, "creds")
            write_creds(creds, [(vh.ACCESS_KEY, vh.SECRET_KEY, vh.ACCOUNT,
                                 "arn:aws:iam::%s:user/admin" % vh.ACCOUNT),
                                USERS["bob"][:4]])
            v = vh.Vault(BIN, data_dir=data, extra=("--credentials-file", creds))
            try:
                d0 = v.client().describe_vault(vaultName="old")
                self.assertEqual((d0["NumberOfArchives"], d0["VaultARN"]),
                                 (1, arn(vh.ACCOUNT, "old")))
                bob = boto3.session.Session(
                    aws_access_key_id=USERS["bob"][0], aws_secret_access_key=USERS["bob"][1],
                    region_name="us-east-1").client("glacier", endpoint_url=v.url)
                self.assertEqual(bob.list_vaults()["VaultList"], [])
                with self.assertRaises(botocore.exceptions.ClientError) as cm:
                    bob.describe_vault(vaultName="old")
                self.assertEqual(cm.exception.response["Error"]["Code"],
                                 "ResourceNotFoundException")
            finally:
                v.stop()


class BadCredentialsFile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="floe-vault-accounts-")
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def start(self, content=None, path=None, extra=()):
        if path is None:
            path = os.path.join(self.d, "creds")
            with open(path, "w") as f:
                f.write(content)
        data = os.path.join(self.d, "data")
        r = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--data-dir", data,
                            "--credentials-file", path, *extra],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(data))
        return r.stderr

    def test_errors(self):
        good = "AKIDA sa 111111111111 arn:aws:iam::111111111111:user/a\n"
        cases = [
            ("AKIDA sa 111111111111\n", "line 1: 3 fields, expected 4"),
            ("# c\n\nAKIDA sa\n", "line 3: 2 fields, expected 4"),
            (good + "AKIDB sb 111111111111 arn:aws:iam::111111111111:user/b extra\n",
             "line 2: 5 fields, expected 4"),
            (good + "AKIDA other 222222222222 arn:aws:iam::222222222222:user/x\n",
             "line 2: access key AKIDA is already listed on line 1"),
            ("AKIDA sa 1111 arn:aws:iam::1111:user/a\n", "account id \"1111\" is not 12 digits"),
            ("AKIDA sa 111111111111 arn:aws:iam::222222222222:user/a\n",
             "is not an IAM ARN of account 111111111111"),
            ("# nothing but comments\n\n", "lists no access key"),
        ]
        for content, want in cases:
            with self.subTest(want=want):
                err = self.start(content)
                self.assertIn(want, err)
                self.assertIn(os.path.join(self.d, "creds"), err)
        self.assertIn("cannot read credentials file %s: No such file or directory"
                      % os.path.join(self.d, "missing"),
                      self.start(path=os.path.join(self.d, "missing")))
        self.assertIn("Is a directory", self.start(path=self.d))
        err = self.start(good, extra=("--access-key", "K", "--secret-key", "S"))
        self.assertIn("--credentials-file and --access-key/--secret-key", err)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
