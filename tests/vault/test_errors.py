#!/usr/bin/env python3
"""Every error a user can hit on floe-vault: status, Glacier code, exact message where the real
service's is known, JSON shape {code, message, type} and x-amzn-RequestId, and that nothing is
stored after a rejected upload. Raw signed requests (botocore SigV4Auth) so that malformed input
reaches the server unchanged. Usage: test_errors.py <floe-vault binary>."""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = None
MIB = vh.MIB


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Expedited jobs finish at once; Standard ones stay InProgress for the whole test
        cls.v = vh.Vault(BIN, extra=("--job-delay", "Expedited=0,Standard=600,Bulk=600"))
        r = cls.v.request
        assert r("PUT", "/-/vaults/ev")[0] == 201
        cls.data = os.urandom(2 * MIB + 3)
        cls.aid = cls.v.upload("ev", cls.data, "errors")

    @classmethod
    def tearDownClass(cls):
        cls.v.close()

    def err(self, resp, status, code, message=None, contains=None):
        st, hd, body = resp
        self.assertEqual(st, status, body)
        self.assertEqual(hd.get("content-type"), "application/json")
        self.assertTrue(hd.get("x-amzn-requestid"))
        doc = json.loads(body)
        self.assertEqual(set(doc), {"code", "message", "type"})
        self.assertEqual(doc["code"], code, doc)
        self.assertEqual(doc["type"], "Server" if status >= 500 else "Client")
        if message is not None:
            self.assertEqual(doc["message"], message)
        if contains is not None:
            self.assertIn(contains, doc["message"])
        return doc

    def blobs(self):
        return sorted(os.listdir(os.path.join(self.v.data_dir, "blobs")))

    def job(self, params):
        return self.v.request("POST", "/-/vaults/ev/jobs", json.dumps(params).encode(),
                              {"Content-Type": "application/json"})

    # ---- authentication ----
    def test_missing_signature(self):
        self.err(self.v.request("GET", "/-/vaults", sign=False), 400,
                 "MissingAuthenticationTokenException")

    def test_wrong_secret(self):
        self.err(self.v.request("GET", "/-/vaults", secret="nope"), 403,
                 "InvalidSignatureException")

    def test_unknown_access_key(self):
        self.err(self.v.request("GET", "/-/vaults", key="AKIDUNKNOWN"), 400,
                 "UnrecognizedClientException")

    def test_wrong_region_scope(self):
        self.err(self.v.request("GET", "/-/vaults", region="eu-west-1"), 403,
                 "InvalidSignatureException")

    def test_malformed_authorization(self):
        self.err(self.v.request("GET", "/-/vaults", sign=False,
                                headers={"Authorization": "AWS4-HMAC-SHA256 garbage",
                                         "x-amz-date": "20200101T000000Z"}),
                 400, "IncompleteSignatureException")

    def test_other_account(self):
        self.err(self.v.request("GET", "/999999999999/vaults"), 403, "AccessDeniedException")

    def test_body_differs_from_signed_payload_hash(self):
        data = b"x" * 1000
        st = self.v.request("POST", "/-/vaults/ev/archives", data,
                            {"x-amz-sha256-tree-hash": vh.tree_hash(data)},
                            content_sha=vh.sha256(data), raw_body=b"y" * 1000)
        self.err(st, 400, "InvalidParameterValueException", contains="x-amz-content-sha256")

    # ---- paths and routing ----
    def test_path_tricks(self):
        for path in ("/-/vaults/../vaults", "/-/vaults/a%2Fb", "/-/vaults/a%00b", "/-/vaults//x",
                     "/-/vaults/ev/", "/-/vaults/%zz"):
            self.err(self.v.request("GET", path), 400, "BadRequest", contains="Invalid request path")

    def test_unknown_operation(self):
        self.err(self.v.request("GET", "/-/vaults/ev/nothing"), 400, "UnknownOperationException")
        self.err(self.v.request("PATCH", "/-/vaults/ev"), 400, "UnknownOperationException")
        self.err(self.v.request("POST", "/-/vaults/ev/tags?operation=rename", b"{}"), 400,
                 "UnknownOperationException")

    def test_huge_headers(self):
        self.err(self.v.request("GET", "/-/vaults", headers={"x-big": "a" * 20000}), 400,
                 "BadRequest", contains="too large")

    # ---- vault names ----
    def test_bad_vault_names(self):
        self.err(self.v.request("PUT", "/-/vaults/bad%20name%21"), 400,
                 "InvalidParameterValueException", contains="Invalid vault name")
        self.err(self.v.request("PUT", "/-/vaults/" + "a" * 256), 400,
                 "InvalidParameterValueException")
        arn = "arn:aws:glacier:us-east-1:%s:vaults/missing" % vh.ACCOUNT
        self.err(self.v.request("GET", "/-/vaults/missing"), 404, "ResourceNotFoundException",
                 "Vault not found for ARN: " + arn)

    def test_delete_non_empty_vault(self):
        arn = "arn:aws:glacier:us-east-1:%s:vaults/ev" % vh.ACCOUNT
        self.err(self.v.request("DELETE", "/-/vaults/ev"), 400, "InvalidParameterValueException",
                 "Vault not empty or recently written to: " + arn)

    def test_bad_limits_and_markers(self):
        for q in ("limit=0", "limit=x", "limit=1001", "limit=-1"):
            self.err(self.v.request("GET", "/-/vaults?" + q), 400, "InvalidParameterValueException")
        self.err(self.v.request("GET", "/-/vaults?marker=nope"), 400,
                 "InvalidParameterValueException", contains="Invalid marker")
        self.err(self.v.request("GET", "/-/vaults/ev/jobs?marker=nope"), 400,
                 "InvalidParameterValueException")
        self.err(self.v.request("GET", "/-/vaults/ev/jobs?statuscode=finished"), 400,
                 "InvalidParameterValueException", "The job status code is not valid: finished")
        self.err(self.v.request("GET", "/-/vaults/ev/jobs?completed=yes"), 400,
                 "InvalidParameterValueException")

    # ---- uploads ----
    def test_upload_checksum_mismatch_stores_nothing(self):
        before = self.blobs()
        data = os.urandom(MIB + 10)
        bad = "0" * 64
        self.err(self.v.request("POST", "/-/vaults/ev/archives", data,
                                {"x-amz-sha256-tree-hash": bad}, content_sha=vh.sha256(data)),
                 400, "InvalidParameterValueException",
                 "Checksum mismatch: expected %s, computed %s" % (bad, vh.tree_hash(data)))
        self.assertEqual(self.blobs(), before)

    def test_wrong_api_version(self):
        v = {"x-amz-glacier-version": "2099-01-01"}
        msg = "Invalid x-amz-glacier-version: 2099-01-01 (this server speaks 2012-06-01)"
        self.err(self.v.request("GET", "/-/vaults", headers=v), 400,
                 "InvalidParameterValueException", msg)
        # streamed bodies (Upload Archive, Upload Part) are checked before anything is stored
        before = self.blobs()
        data = b"versioned"
        self.err(self.v.request("POST", "/-/vaults/ev/archives", data,
                                dict(v, **{"x-amz-sha256-tree-hash": vh.tree_hash(data)}),
                                content_sha=vh.sha256(data)),
                 400, "InvalidParameterValueException", msg)
        self.assertEqual(self.blobs(), before)

    def test_upload_missing_and_malformed_headers(self):
        data = b"abc"
        self.err(self.v.request("POST", "/-/vaults/ev/archives", data, content_sha=vh.sha256(data)),
                 400, "MissingParameterValueException", contains="x-amz-sha256-tree-hash")
        self.err(self.v.request("POST", "/-/vaults/ev/archives", data,
                                {"x-amz-sha256-tree-hash": "xyz"}, content_sha=vh.sha256(data)),
                 400, "InvalidParameterValueException")

    def test_empty_archive(self):
        self.err(self.v.request("POST", "/-/vaults/ev/archives", b"",
                                {"x-amz-sha256-tree-hash": vh.sha256(b"")},
                                content_sha=vh.sha256(b"")),
                 400, "InvalidParameterValueException", contains="at least 1 byte")

    def test_oversize_and_non_ascii_description(self):
        # a non-ASCII header cannot even be canonicalised for SigV4: rejected before the handler
        self.err(self.v.request("POST", "/-/vaults/ev/archives", b"abc",
                                {"x-amz-sha256-tree-hash": vh.tree_hash(b"abc"),
                                 "x-amz-archive-description": "caf\u00e9".encode().decode("latin-1")},
                                content_sha=vh.sha256(b"abc")),
                 400, "IncompleteSignatureException", contains="non-ASCII")
        for desc in ("d" * 1025, "tab\there", "e" * 4000):
            self.err(self.v.request("POST", "/-/vaults/ev/archives", b"abc",
                                    {"x-amz-sha256-tree-hash": vh.tree_hash(b"abc"),
                                     "x-amz-archive-description": desc},
                                    content_sha=vh.sha256(b"abc")),
                     400, "InvalidParameterValueException", contains="description")

    def test_upload_to_missing_vault(self):
        self.err(self.v.request("POST", "/-/vaults/nov/archives", b"abc",
                                {"x-amz-sha256-tree-hash": vh.tree_hash(b"abc")},
                                content_sha=vh.sha256(b"abc")), 404, "ResourceNotFoundException")

    def test_body_shorter_than_declared_stores_nothing(self):
        before = self.blobs()
        data = os.urandom(300000)
        import botocore.auth, botocore.awsrequest, botocore.credentials
        req = botocore.awsrequest.AWSRequest(
            method="POST", url=self.v.url + "/-/vaults/ev/archives", data=data,
            headers={"x-amz-glacier-version": "2012-06-01",
                     "x-amz-sha256-tree-hash": vh.tree_hash(data),
                     "x-amz-content-sha256": vh.sha256(data)})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(vh.ACCESS_KEY, vh.SECRET_KEY),
                                "glacier", vh.REGION).add_auth(req)
        s = socket.create_connection(("127.0.0.1", self.v.port))
        head = "POST /-/vaults/ev/archives HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % self.v.port
        for k, v in req.headers.items():
            head += "%s: %s\r\n" % (k, v)
        head += "Content-Length: %d\r\n\r\n" % len(data)
        s.sendall(head.encode() + data[:100000])
        time.sleep(0.2)
        s.close()  # the client gives up mid-body
        vh.wait_for(lambda: self.blobs() == before, 30)
        self.assertEqual(self.blobs(), before)

    # ---- multipart ----
    def test_multipart_errors(self):
        self.err(self.v.request("POST", "/-/vaults/ev/multipart-uploads",
                                headers={"x-amz-part-size": "10485760"}), 400,
                 "InvalidParameterValueException",
                 "Invalid part size: 10485760. Part size must not be null, must be a power of two "
                 "and be between 1048576 and 4294967296 bytes.")
        self.err(self.v.request("POST", "/-/vaults/ev/multipart-uploads"), 400,
                 "MissingParameterValueException")
        st, hd, _ = self.v.request("POST", "/-/vaults/ev/multipart-uploads",
                                   headers={"x-amz-part-size": str(MIB)})
        uid = hd["x-amz-multipart-upload-id"]
        base = "/-/vaults/ev/multipart-uploads/" + uid
        part = os.urandom(MIB)

        def put(rng, body=part, **kw):
            return self.v.request("PUT", base, body, dict({"Content-Range": rng,
                                  "x-amz-sha256-tree-hash": vh.tree_hash(body)}, **kw),
                                  content_sha=vh.sha256(body))
        self.err(put("bytes 0-4194303/*"), 400, "InvalidParameterValueException",
                 "Content-Range: bytes 0-4194303/* is incompatible with Content-Length: %d" % MIB)
        self.err(put("bytes 5-4/*"), 400, "InvalidParameterValueException",
                 "Invalid Content-Range: bytes 5-4/*")
        # a last byte of 2^64-1 wraps the length to 0: an empty part must not be stored
        self.err(put("bytes 0-18446744073709551615/*", b""), 400, "InvalidParameterValueException",
                 "Invalid Content-Range: bytes 0-18446744073709551615/*")
        self.err(put("bytes 1-1048576/*"), 400, "InvalidParameterValueException",
                 contains="multiple of the part size")
        big = os.urandom(2 * MIB)
        self.err(put("bytes 0-2097151/*", big), 400, "InvalidParameterValueException",
                 contains="larger than the part size")
        self.err(put("bytes 0-1048575/*", part, **{"x-amz-sha256-tree-hash": "1" * 64}), 400,
                 "InvalidParameterValueException", contains="Checksum mismatch")
        self.assertEqual(put("bytes 0-1048575/*")[0], 204)
        last = b"tail"
        self.assertEqual(put("bytes 1048576-1048579/*", last)[0], 204)
        whole = part + last
        self.err(self.v.request("POST", base, headers={"x-amz-archive-size": str(len(whole)),
                                                       "x-amz-sha256-tree-hash": "2" * 64}),
                 400, "InvalidParameterValueException", "Invalid x-amz-sha256-tree-hash: " + "2" * 64)
        self.err(self.v.request("POST", base, headers={"x-amz-archive-size": "5",
                                "x-amz-sha256-tree-hash": vh.tree_hash(whole)}), 400,
                 "InvalidParameterValueException", contains="Invalid x-amz-archive-size")
        self.err(self.v.request("POST", base, headers={
            "x-amz-sha256-tree-hash": vh.tree_hash(whole)}), 400, "MissingParameterValueException")
        # the upload stayed open: a corrected Complete succeeds
        st, hd, _ = self.v.request("POST", base, headers={"x-amz-archive-size": str(len(whole)),
                                   "x-amz-sha256-tree-hash": vh.tree_hash(whole)})
        self.assertEqual(st, 201)
        self.err(self.v.request("GET", base), 404, "ResourceNotFoundException",
                 "The upload ID was not found: " + uid)
        self.err(self.v.request("DELETE", base), 404, "ResourceNotFoundException")

    def test_multipart_gap(self):
        st, hd, _ = self.v.request("POST", "/-/vaults/ev/multipart-uploads",
                                   headers={"x-amz-part-size": str(MIB)})
        base = "/-/vaults/ev/multipart-uploads/" + hd["x-amz-multipart-upload-id"]
        body = b"z" * 10
        self.v.request("PUT", base, body, {"Content-Range": "bytes 2097152-2097161/*",
                                           "x-amz-sha256-tree-hash": vh.tree_hash(body)},
                       content_sha=vh.sha256(body))
        self.err(self.v.request("POST", base, headers={"x-amz-archive-size": "10",
                                "x-amz-sha256-tree-hash": vh.tree_hash(body)}), 400,
                 "InvalidParameterValueException", contains="never uploaded")
        self.assertEqual(self.v.request("DELETE", base)[0], 204)
        self.assertEqual(self.v.request("DELETE", base)[0], 204)  # idempotent

    def test_unknown_upload_id(self):
        self.err(self.v.request("GET", "/-/vaults/ev/multipart-uploads/nope"), 404,
                 "ResourceNotFoundException", "The upload ID was not found: nope")

    # ---- jobs ----
    def test_bad_json_and_unknown_fields(self):
        self.err(self.v.request("POST", "/-/vaults/ev/jobs", b"{not json"), 400,
                 "SerializationException")
        self.err(self.v.request("POST", "/-/vaults/ev/jobs", b"[1,2]"), 400,
                 "SerializationException")
        self.err(self.job({"Type": "inventory-retrieval", "Bogus": 1}), 400,
                 "InvalidParameterValueException", "Unknown field in request body: Bogus")
        self.err(self.job({"Type": 5}), 400, "SerializationException")
        self.err(self.job({}), 400, "MissingParameterValueException")
        self.err(self.job({"Type": "nap"}), 400, "InvalidParameterValueException",
                 contains="Invalid job type")

    def test_job_parameter_rules(self):
        self.err(self.job({"Type": "archive-retrieval"}), 400, "MissingParameterValueException")
        self.err(self.job({"Type": "archive-retrieval", "ArchiveId": "nope"}), 404,
                 "ResourceNotFoundException", "The archive ID was not found: nope")
        self.err(self.job({"Type": "inventory-retrieval", "ArchiveId": self.aid}), 400,
                 "InvalidParameterValueException", contains="not allowed")
        self.err(self.job({"Type": "archive-retrieval", "ArchiveId": self.aid, "Tier": "Fast"}),
                 400, "InvalidParameterValueException", contains="Invalid Tier")
        self.err(self.job({"Type": "inventory-retrieval", "Format": "XML"}), 400,
                 "InvalidParameterValueException", contains="Invalid Format")
        self.err(self.job({"Type": "archive-retrieval", "ArchiveId": self.aid,
                           "Description": "x" * 1025}), 400, "InvalidParameterValueException")
        self.err(self.job({"Type": "archive-retrieval", "ArchiveId": self.aid,
                           "SNSTopic": "not-an-arn"}), 400, "InvalidParameterValueException")

    def test_bad_ranges(self):
        for rng in ("5-10", "0-1048574", "1048576-99999999", "10-5", "abc", "1048576-"):
            self.err(self.job({"Type": "archive-retrieval", "ArchiveId": self.aid,
                               "RetrievalByteRange": rng}), 400,
                     "InvalidParameterValueException", contains="Invalid RetrievalByteRange")

    def test_bad_dates_and_inventory_params(self):
        for p in ({"StartDate": "yesterday"}, {"EndDate": "2013-02-30T00:00:00Z"},
                  {"StartDate": "2014-01-01T00:00:00Z", "EndDate": "2013-01-01T00:00:00Z"},
                  {"Limit": "0"}, {"Limit": "many"}, {"Marker": "!!"}, {"Other": "x"}):
            self.err(self.job({"Type": "inventory-retrieval",
                               "InventoryRetrievalParameters": p}), 400,
                     "InvalidParameterValueException")

    def test_job_output_errors(self):
        st, hd, _ = self.job({"Type": "archive-retrieval", "ArchiveId": self.aid})  # Standard
        jid = hd["x-amz-job-id"]
        self.err(self.v.request("GET", "/-/vaults/ev/jobs/%s/output" % jid), 400,
                 "InvalidParameterValueException",
                 "The job is not currently available for download: " + jid)
        st, hd, _ = self.job({"Type": "archive-retrieval", "ArchiveId": self.aid,
                              "Tier": "Expedited"})
        out = "/-/vaults/ev/jobs/%s/output" % hd["x-amz-job-id"]
        self.err(self.v.request("GET", out, headers={"Range": "bytes=8388608-12582911"}), 400,
                 "InvalidParameterValueException",
                 "The start of the range is larger than size of retrieved data: "
                 "bytes=8388608-12582911")
        for rng in ("bytes=5-1", "bytes 0-10/100", "items=0-1", "bytes=x-y"):
            self.err(self.v.request("GET", out, headers={"Range": rng}), 400,
                     "InvalidParameterValueException")
        self.err(self.v.request("GET", "/-/vaults/ev/jobs/nope"), 404,
                 "ResourceNotFoundException", "The job ID was not found: nope")
        self.err(self.v.request("GET", "/-/vaults/ev/jobs/nope/output"), 404,
                 "ResourceNotFoundException")

    def test_deleted_archive_job_fails_but_staged_output_stays(self):
        aid = self.v.upload("ev", b"short-lived")
        st, hd, _ = self.job({"Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Expedited"})
        staged = hd["x-amz-job-id"]
        st, hd, _ = self.job({"Type": "archive-retrieval", "ArchiveId": aid, "Tier": "Bulk"})
        pending = hd["x-amz-job-id"]
        self.assertEqual(self.v.request("DELETE", "/-/vaults/ev/archives/" + aid)[0], 204)
        st, _, body = self.v.request("GET", "/-/vaults/ev/jobs/%s/output" % staged)
        self.assertEqual((st, body), (200, b"short-lived"))
        d = json.loads(self.v.request("GET", "/-/vaults/ev/jobs/" + pending)[2])
        self.assertEqual(d["StatusCode"], "InProgress")

    # ---- sub-resources ----
    def test_policy_and_notification_errors(self):
        self.err(self.v.request("PUT", "/-/vaults/ev/access-policy", b'{"Policy": "{bad"}'), 400,
                 "InvalidParameterValueException", contains="not valid JSON")
        self.err(self.v.request("PUT", "/-/vaults/ev/access-policy", b'{"Policy": 5}'), 400,
                 "SerializationException")
        self.err(self.v.request("PUT", "/-/vaults/ev/access-policy",
                                json.dumps({"Policy": json.dumps({"Statement": "x" * 21000})})
                                .encode()), 400, "InvalidParameterValueException")
        self.err(self.v.request("GET", "/-/vaults/ev/access-policy"), 404,
                 "ResourceNotFoundException")
        self.err(self.v.request("PUT", "/-/vaults/ev/notification-configuration",
                                b'{"SNSTopic": "arn:aws:sns:us-east-1:1:t", "Events": ["Nope"]}'),
                 400, "InvalidParameterValueException", contains="Invalid event")
        self.err(self.v.request("PUT", "/-/vaults/ev/notification-configuration", b"{}"), 400,
                 "MissingParameterValueException")
        self.err(self.v.request("GET", "/-/vaults/ev/lock-policy"), 404,
                 "ResourceNotFoundException")
        self.err(self.v.request("POST", "/-/vaults/ev/lock-policy/nolock"), 400,
                 "InvalidParameterValueException")

    def test_lock_state_rules(self):
        self.assertEqual(self.v.request("PUT", "/-/vaults/lk")[0], 201)
        pol = json.dumps({"Policy": json.dumps({"Statement": [{"Effect": "Deny",
                                                              "Action": "glacier:DeleteVault"}]})})
        st, hd, _ = self.v.request("POST", "/-/vaults/lk/lock-policy", pol.encode())
        self.assertEqual(st, 201)
        lid = hd["x-amz-lock-id"]
        self.err(self.v.request("POST", "/-/vaults/lk/lock-policy", pol.encode()), 403,
                 "AccessDeniedException")
        self.err(self.v.request("POST", "/-/vaults/lk/lock-policy/WRONG"), 400,
                 "InvalidParameterValueException")
        self.assertEqual(self.v.request("POST", "/-/vaults/lk/lock-policy/" + lid)[0], 204)
        self.assertEqual(self.v.request("POST", "/-/vaults/lk/lock-policy/" + lid)[0], 204)
        self.err(self.v.request("POST", "/-/vaults/lk/lock-policy/WRONG"), 403,
                 "AccessDeniedException")
        self.err(self.v.request("DELETE", "/-/vaults/lk"), 403, "AccessDeniedException")
        # IAM wildcards and NotAction deny too, once locked
        for name, stmt in (("lw", {"Effect": "Deny", "Action": "glacier:Delete*"}),
                           ("ln", {"Effect": "Deny", "NotAction": ["glacier:Upload*"]})):
            self.assertEqual(self.v.request("PUT", "/-/vaults/" + name)[0], 201)
            pol = json.dumps({"Policy": json.dumps({"Statement": [stmt]})})
            st, hd, _ = self.v.request("POST", "/-/vaults/%s/lock-policy" % name, pol.encode())
            self.assertEqual(st, 201)
            self.assertEqual(self.v.request("POST", "/-/vaults/%s/lock-policy/%s" %
                                            (name, hd["x-amz-lock-id"]))[0], 204)
            self.err(self.v.request("DELETE", "/-/vaults/" + name), 403, "AccessDeniedException")

    def test_no_ghosts_when_a_vault_is_deleted_during_creates(self):
        """InitiateMultipartUpload, InitiateJob and AddTagsToVault racing DeleteVault: when the
        delete wins, nothing may be left behind for a new vault of the same name. A stress check
        of the invariant: the window it guards (check, then write) is microseconds wide, so it
        rarely lands here; the fix holds by construction (the check runs under the lock of the
        write)."""
        import botocore.exceptions
        from concurrent.futures import ThreadPoolExecutor
        g = self.v.client()

        def attempt(fn):
            try:
                fn()
                return True
            except botocore.exceptions.ClientError:
                return False

        def one_round(i):
            name = "race%d" % i
            g.create_vault(vaultName=name)
            with ThreadPoolExecutor(4) as ex:
                fs = [ex.submit(attempt, lambda: g.initiate_multipart_upload(
                          vaultName=name, partSize=str(MIB))),
                      ex.submit(attempt, lambda: g.initiate_job(
                          vaultName=name, jobParameters={"Type": "inventory-retrieval"})),
                      ex.submit(attempt, lambda: g.add_tags_to_vault(vaultName=name,
                                                                     Tags={"k": "v"})),
                      ex.submit(attempt, lambda: g.delete_vault(vaultName=name))]
                deleted = fs[3].result()
            if not deleted:
                return None
            g.create_vault(vaultName=name)
            left = (g.list_multipart_uploads(vaultName=name)["UploadsList"],
                    g.list_jobs(vaultName=name)["JobList"],
                    g.list_tags_for_vault(vaultName=name)["Tags"])
            return name if any(left) else None

        with ThreadPoolExecutor(4) as ex:
            ghosts = [n for n in ex.map(one_round, range(160)) if n]
        self.assertEqual(ghosts, [])

    def test_tag_limits(self):
        self.assertEqual(self.v.request("PUT", "/-/vaults/tg")[0], 201)
        add = lambda tags: self.v.request("POST", "/-/vaults/tg/tags?operation=add",
                                          json.dumps({"Tags": tags}).encode())
        for i in range(5):
            self.assertEqual(add({"k%d-%d" % (i, j): "v" for j in range(10)})[0], 204)
        self.err(add({"one-more": "v"}), 400, "LimitExceededException")
        self.err(add({"k%d" % j: "v" for j in range(11)}), 400, "InvalidParameterValueException")
        self.err(add({"aws:x": "v"}), 400, "InvalidParameterValueException")
        self.err(add({"k": "v" * 256}), 400, "InvalidParameterValueException")
        self.err(add({"a:b": "v"}), 400, "InvalidParameterValueException")
        self.err(add({"k": "c:d"}), 400, "InvalidParameterValueException")
        self.err(self.v.request("POST", "/-/vaults/tg/tags?operation=remove", b'{"TagKeys": []}'),
                 400, "InvalidParameterValueException")

    def test_account_setting_errors(self):
        put = lambda p: self.v.request("PUT", "/-/policies/data-retrieval",
                                       json.dumps({"Policy": p}).encode())
        self.err(put({"Rules": []}), 400, "InvalidParameterValueException")
        self.err(put({"Rules": [{"Strategy": "BytesPerHour"}]}), 400,
                 "InvalidParameterValueException")
        self.err(put({"Rules": [{"Strategy": "None", "BytesPerHour": 5}]}), 400,
                 "InvalidParameterValueException")
        self.err(put({"Rules": [{"Strategy": "Cheap"}]}), 400, "InvalidParameterValueException")
        self.assertEqual(put({"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 10}]})[0],
                         204)
        self.err(self.job({"Type": "archive-retrieval", "ArchiveId": self.aid,
                           "Tier": "Expedited"}), 400, "PolicyEnforcedException",
                 "InitiateJob request denied by current data retrieval policy")
        self.assertEqual(put({"Rules": [{"Strategy": "None"}]})[0], 204)
        codes = [self.v.request("POST", "/-/provisioned-capacity")[0] for _ in range(3)]
        self.assertEqual(codes[-1], 400)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
