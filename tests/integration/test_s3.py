#!/usr/bin/env python3
"""libfloe's S3 client against moto's S3 server, through tests/s3/s3_driver.c: every operation
(HeadBucket, CreateBucket with a LocationConstraint, DeleteBucket, PutObject with storage class,
metadata, tags and checksums, HeadObject, ranged GetObject, DeleteObject, ListObjectsV2 pages,
the multipart operations), a 3-part ~11 MiB multipart upload with its parts in flight together
(from memory and streamed by callback) read back by the driver and by boto3, keys with awkward
characters, pagination past 1,000 keys and with small pages, and the error paths (NoSuchBucket,
NoSuchKey, NoSuchUpload, EntityTooSmall, bad credentials) with their messages.

moto runs with IAM authentication switched on, so moto checks every signature floe makes
(with botocore's S3SigV4Auth) and the credentials' access; the keys moto cannot verify
(docs/s3-api.md 9) are sent with authentication off for that test only. Faults between the
client and moto (503 SlowDown, 500 InternalError, 400 RequestTimeout, a dropped connection)
come from tests/helpers/faultproxy.py.

The server binds a free 127.0.0.1 port, is stopped by PID, and the temp dir is removed either
way. Skipped (77) when moto or boto3 is not installed.

usage: test_s3.py S3_DRIVER
"""
import hashlib
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

DRIVER = None
HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers")
MIB = 1 << 20
REGION = "eu-west-1"
MOTO = None  # {"url", "proc", "ak", "sk"}


def set_auth(on):
    """moto's IAM check on (every request must carry a valid signature of a known key) or off."""
    MOTO["auth"] = on
    req = urllib.request.Request(MOTO["url"] + "/moto-api/reset-auth",
                                 data=b"0" if on else b"inf", method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()


class unsigned:
    """moto's authentication off for a block: it cannot check some signatures that are
    botocore's own (docs/s3-api.md 9)."""

    def __enter__(self):
        self.was = MOTO["auth"]
        set_auth(False)

    def __exit__(self, *exc):
        set_auth(self.was)


def start_moto(workdir):
    """moto's server on a port it binds itself (tests/helpers/motoserver.py), logging to
    workdir/moto.log."""
    import boto3
    log = open(os.path.join(workdir, "moto.log"), "w")
    pf = os.path.join(workdir, "moto.port")
    proc = subprocess.Popen([sys.executable, os.path.join(HELPERS, "motoserver.py"),
                             "--port-file", pf], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    port = None
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("moto's server exited early: " +
                               open(os.path.join(workdir, "moto.log")).read())
        try:
            with open(pf) as f:
                port = int(f.read())
            break
        except (FileNotFoundError, ValueError):
            time.sleep(0.1)
    if port is None:
        proc.kill()
        raise RuntimeError("moto's server did not start within 60 s")
    url = "http://127.0.0.1:%d" % port
    global MOTO
    MOTO = {"url": url, "proc": proc, "auth": False}
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="floe")
    key = iam.create_access_key(UserName="floe")["AccessKey"]
    iam.put_user_policy(UserName="floe", PolicyName="s3", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    MOTO["ak"], MOTO["sk"] = key["AccessKeyId"], key["SecretAccessKey"]
    set_auth(True)


def stop_moto():
    if MOTO and MOTO["proc"].poll() is None:
        os.kill(MOTO["proc"].pid, signal.SIGTERM)
        try:
            MOTO["proc"].wait(10)
        except subprocess.TimeoutExpired:
            os.kill(MOTO["proc"].pid, signal.SIGKILL)
            MOTO["proc"].wait()


def boto():
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=MOTO["url"], region_name=REGION,
                        aws_access_key_id=MOTO["ak"], aws_secret_access_key=MOTO["sk"],
                        config=Config(retries={"max_attempts": 1}))


class Driver:
    def __init__(self, tmp):
        self.tmp = tmp

    def env(self, ak=None, sk=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=ak or MOTO["ak"], AWS_SECRET_ACCESS_KEY=sk or MOTO["sk"],
                   AWS_DEFAULT_REGION=REGION)
        return env

    def run(self, *args, ak=None, sk=None, ok=True, url=None, retries=None, addressing=None):
        env = self.env(ak, sk)
        if retries is not None:
            env["FLOE_S3_RETRIES"] = str(retries)
        if addressing:
            env["FLOE_S3_ADDRESSING"] = addressing
        p = subprocess.run([DRIVER, url or MOTO["url"], *args], capture_output=True, env=env,
                           timeout=300)
        out = [json.loads(line) for line in p.stdout.decode().splitlines() if line]
        if ok and p.returncode != 0:
            raise AssertionError("s3_driver %s failed (%d): %s" %
                                 (" ".join(args), p.returncode, p.stderr.decode()))
        if not ok:
            if p.returncode != 1:
                raise AssertionError("s3_driver %s: exit %d, expected 1: %s %s" %
                                     (" ".join(args), p.returncode, p.stdout.decode(),
                                      p.stderr.decode()))
            return json.loads(p.stderr.decode().strip().splitlines()[-1])
        return out

    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def read(self, name):
        with open(os.path.join(self.tmp, name), "rb") as f:
            return f.read()


STATUS = {"invalid": 100, "range": 101, "not_found": 202, "service": 400, "auth": 401}


class S3Base(unittest.TestCase):
    bucket = None

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory(prefix="floe-s3-test-")
        cls.d = Driver(cls.tmpdir.name)
        cls.s3 = boto()
        if cls.bucket:
            set_auth(True)
            cls.d.run("create-bucket", cls.bucket)

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()


class Buckets(S3Base):
    def test_create_head_delete(self):
        self.assertEqual(self.d.run("create-bucket", "floe-b1"), [{"ok": True}])
        loc = self.s3.get_bucket_location(Bucket="floe-b1")["LocationConstraint"]
        self.assertEqual(loc, REGION)  # the LocationConstraint was sent
        self.assertEqual(self.d.run("head-bucket", "floe-b1"), [{"ok": True}])
        self.d.run("put", "floe-b1", "k", self.d.file("one", b"1"))
        e = self.d.run("delete-bucket", "floe-b1", ok=False)
        self.assertEqual(e["code"], "BucketNotEmpty")
        self.assertEqual(e["http"], 409)
        self.d.run("delete", "floe-b1", "k")
        self.assertEqual(self.d.run("delete-bucket", "floe-b1"), [{"ok": True}])
        e = self.d.run("head-bucket", "floe-b1", ok=False)
        self.assertEqual((e["status"], e["code"], e["http"]),
                         (STATUS["not_found"], "NoSuchBucket", 404))
        self.assertEqual(e["message"], "HeadBucket s3://floe-b1: NoSuchBucket: not found (HTTP 404)")

    def test_bucket_name_checked_locally(self):
        e = self.d.run("create-bucket", "Bad_Name", ok=False)
        self.assertEqual(e["status"], STATUS["invalid"])
        self.assertEqual(e["message"], "bucket name \"Bad_Name\" has 'B' at position 0; S3 allows "
                         "only lower-case letters, digits, '.' and '-'")
        self.assertEqual(e["http"], 0)  # nothing was sent

    def test_missing_bucket(self):
        for args, op in [(("get", "floe-none", "k", os.path.join(self.d.tmp, "x")),
                          "GetObject s3://floe-none/k"),
                         (("list", "floe-none"), "ListObjectsV2 s3://floe-none"),
                         (("put", "floe-none", "k", self.d.file("x1", b"x")),
                          "PutObject s3://floe-none/k")]:
            e = self.d.run(*args, ok=False)
            self.assertEqual((e["status"], e["code"], e["http"]),
                             (STATUS["not_found"], "NoSuchBucket", 404), e)
            self.assertTrue(e["message"].startswith(op + ": NoSuchBucket: "), e["message"])
            self.assertTrue(e["request_id"], e)


class Credentials(S3Base):
    bucket = "floe-auth"

    def test_wrong_secret(self):
        e = self.d.run("get", self.bucket, "k", os.path.join(self.d.tmp, "x"), sk="wrong",
                       ok=False)
        self.assertEqual((e["status"], e["code"], e["http"]),
                         (STATUS["auth"], "SignatureDoesNotMatch", 403))
        self.assertIn("GetObject s3://floe-auth/k: SignatureDoesNotMatch: The request signature "
                      "we calculated does not match", e["message"])
        e = self.d.run("head-bucket", self.bucket, sk="wrong", ok=False)
        self.assertEqual((e["status"], e["code"]), (STATUS["auth"], "AccessDenied"))
        self.assertIn("the credentials were refused", e["message"])

    def test_unknown_key_id(self):
        e = self.d.run("put", self.bucket, "k", self.d.file("k", b"k"), ak="AKIAFLOENOSUCHKEY0",
                       ok=False)
        self.assertEqual((e["status"], e["code"], e["http"]),
                         (STATUS["auth"], "InvalidAccessKeyId", 403))
        self.assertIn("does not exist in our records", e["message"])


class Objects(S3Base):
    bucket = "floe-obj"

    def test_put_head_get_with_metadata_tags_class(self):
        data = os.urandom(70000)
        path = self.d.file("obj", data)
        out = self.d.run("put", self.bucket, "dir/obj", path, "--storage-class", "STANDARD_IA",
                         "--meta", "archive-id=AID123", "--meta", "tree-hash=abc",
                         "--tag", "source=glacier", "--tag", "vault=v 1",
                         "--content-type", "application/x-test")
        self.assertEqual(out[0]["etag"], '"%s"' % hashlib.md5(data).hexdigest())
        h = self.s3.head_object(Bucket=self.bucket, Key="dir/obj")
        self.assertEqual(h["Metadata"], {"archive-id": "AID123", "tree-hash": "abc"})
        self.assertEqual(h["StorageClass"], "STANDARD_IA")
        self.assertEqual(h["ContentType"], "application/x-test")
        tags = self.s3.get_object_tagging(Bucket=self.bucket, Key="dir/obj")["TagSet"]
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in tags),
                         [("source", "glacier"), ("vault", "v 1")])
        info = self.d.run("head", self.bucket, "dir/obj")[0]
        self.assertEqual((info["size"], info["storage_class"], info["meta"]),
                         (70000, "STANDARD_IA", {"archive-id": "AID123", "tree-hash": "abc"}))
        got = self.d.run("get", self.bucket, "dir/obj", os.path.join(self.d.tmp, "got"))[0]
        self.assertEqual(self.d.read("got"), data)
        self.assertEqual(got["size"], 70000)

    def test_put_checksum_sha256(self):
        data = b"checksummed" * 1000
        self.d.run("put", self.bucket, "sum", self.d.file("sum", data), "--sha256")
        want = base64.b64encode(hashlib.sha256(data).digest()).decode()
        h = self.s3.head_object(Bucket=self.bucket, Key="sum", ChecksumMode="ENABLED")
        self.assertEqual(h["ChecksumSHA256"], want)
        self.assertEqual(self.d.run("head", self.bucket, "sum")[0]["checksum_sha256"], want)

    def test_empty_object(self):
        self.d.run("put", self.bucket, "empty", self.d.file("empty", b""))
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="empty")["Body"].read(), b"")
        self.assertEqual(self.d.run("get", self.bucket, "empty",
                                    os.path.join(self.d.tmp, "e"))[0]["size"], 0)

    def test_ranged_get(self):
        data = bytes(range(256)) * 40
        self.d.run("put", self.bucket, "ranged", self.d.file("ranged", data))
        out = os.path.join(self.d.tmp, "part")
        info = self.d.run("get", self.bucket, "ranged", out, "1000", "300")[0]
        self.assertEqual(self.d.read("part"), data[1000:1300])
        self.assertEqual((info["size"], info["range_first"], info["range_len"]),
                         (len(data), 1000, 300))
        info = self.d.run("get", self.bucket, "ranged", out, "10000", "0")[0]  # to the end
        self.assertEqual(self.d.read("part"), data[10000:])
        e = self.d.run("get", self.bucket, "ranged", out, "20000", "5", ok=False)
        self.assertEqual((e["status"], e["code"], e["http"]),
                         (STATUS["range"], "InvalidRange", 416))

    def test_missing_key_and_delete(self):
        e = self.d.run("get", self.bucket, "nope", os.path.join(self.d.tmp, "x"), ok=False)
        self.assertEqual((e["status"], e["code"], e["http"]),
                         (STATUS["not_found"], "NoSuchKey", 404))
        self.assertEqual(e["message"], "GetObject s3://floe-obj/nope: NoSuchKey: The specified "
                         "key does not exist. (HTTP 404)")
        e = self.d.run("head", self.bucket, "nope", ok=False)
        self.assertEqual((e["status"], e["code"], e["message"]),
                         (STATUS["not_found"], "NotFound",
                          "HeadObject s3://floe-obj/nope: NotFound: not found (HTTP 404)"))
        self.d.run("put", self.bucket, "gone", self.d.file("gone", b"g"))
        self.assertEqual(self.d.run("delete", self.bucket, "gone"), [{"ok": True}])
        self.assertEqual(self.d.run("delete", self.bucket, "gone"), [{"ok": True}])  # S3: 204
        self.d.run("head", self.bucket, "gone", ok=False)

    def test_local_checks(self):
        path = self.d.file("lc", b"x")
        cases = [
            (("put", self.bucket, "k", path, "--storage-class", "COLD"), STATUS["invalid"],
             "storage class \"COLD\" is not one of STANDARD"),
            (("put", self.bucket, "k", path, "--meta", "Upper=x"), STATUS["invalid"],
             "metadata name \"Upper\" may hold only lower-case letters, digits, '-' and '_'"),
            (("put", self.bucket, "k", path, "--meta", "n=caf\u00e9"), STATUS["invalid"],
             "metadata \"n\" has a character outside printable US-ASCII"),
            (("put", self.bucket, "k" * 1025, path), STATUS["invalid"],
             "object key is 1025 bytes; S3 allows at most 1,024 (UTF-8)"),
        ]
        for args, status, msg in cases:
            e = self.d.run(*args, ok=False)
            self.assertEqual(e["status"], status, e)
            self.assertTrue(e["message"].startswith(msg), e["message"])
            self.assertEqual(e["http"], 0)


# moto (with authentication on) verifies these; the rest are in AwkwardKeysUnsigned
SIGNED_KEYS = ["with space", "tilde~x", "dir/sub/file", "double//slash", "/leading",
               "trailing/", "dots/../x/./y", "q?x#h"]
UNSIGNED_KEYS = ["plus+sign", "a&b=c", "pct%20lit", "paren(1)!*'", "\u00e9t\u00e9 \u65e5\u672c",
                 "emoji\U0001F600",
                 "mix +/\u00e9//~%2B"]


class AwkwardKeys(S3Base):
    bucket = "floe-keys"
    keys = SIGNED_KEYS

    def check_keys(self):
        for i, key in enumerate(self.keys):
            data = ("%d:%s" % (i, key)).encode() * 50
            self.d.run("put", self.bucket, key, self.d.file("k%d" % i, data), "--meta",
                       "n=%d" % i)
            got = self.s3.get_object(Bucket=self.bucket, Key=key)
            self.assertEqual(got["Body"].read(), data, key)
            self.assertEqual(got["Metadata"], {"n": str(i)}, key)
            self.d.run("get", self.bucket, key, os.path.join(self.d.tmp, "g%d" % i))
            self.assertEqual(self.d.read("g%d" % i), data, key)
            self.assertEqual(self.d.run("head", self.bucket, key)[0]["size"], len(data), key)
            with unsigned():  # a '/' in a query value (docs/s3-api.md 9)
                listed = [o["key"] for o in
                          self.d.run("list", self.bucket, "--prefix", key)[:-1]]
            self.assertIn(key, listed)
        listed = {o["key"] for o in self.d.run("list", self.bucket)[:-1]}
        boto_listed = {o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket)["Contents"]}
        self.assertEqual(listed, boto_listed)
        self.assertTrue(set(self.keys) <= listed)
        for key in self.keys:
            self.d.run("delete", self.bucket, key)
            with self.assertRaises(self.s3.exceptions.ClientError):
                self.s3.head_object(Bucket=self.bucket, Key=key)

    def test_keys(self):
        self.check_keys()


class AwkwardKeysUnsigned(AwkwardKeys):
    bucket = "floe-keys-unsigned"
    keys = UNSIGNED_KEYS

    def setUp(self):
        set_auth(False)  # docs/s3-api.md 9: moto cannot check these signatures

    def tearDown(self):
        set_auth(True)


class Listing(S3Base):
    bucket = "floe-list"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.keys = ["k%04d" % i for i in range(1003)] + ["dir/a", "dir/b", "other/c"]
        for k in cls.keys:
            cls.s3.put_object(Bucket=cls.bucket, Key=k, Body=k.encode())

    def listing(self, *args):
        out = self.d.run("list", self.bucket, *args)
        return [o for o in out[:-1]], out[-1]["pages"]

    def test_more_than_1000(self):
        objs, pages = self.listing()
        self.assertEqual(pages, 2)  # 1,000 + 6
        self.assertEqual([o["key"] for o in objs], sorted(self.keys))
        self.assertEqual([o["size"] for o in objs], [len(k) for k in sorted(self.keys)])

    def test_small_pages_and_prefix(self):
        objs, pages = self.listing("--prefix", "k00", "--max-keys", "7")
        self.assertEqual([o["key"] for o in objs], ["k%04d" % i for i in range(100)])
        self.assertEqual(pages, 15)  # ceil(100 / 7)
        objs, pages = self.listing("--prefix", "k", "--max-keys", "3", "--max-pages", "2")
        self.assertEqual([o["key"] for o in objs], ["k0000", "k0001", "k0002", "k0003", "k0004",
                                                    "k0005"])

    def test_delimiter_and_start_after(self):
        with unsigned():  # a '/' in a query value (docs/s3-api.md 9)
            objs, _ = self.listing("--delimiter", "/", "--start-after", "k1001", "--max-keys",
                                   "2")
        # "dir/" sorts before the start key, so it is not listed
        self.assertEqual([(o["key"], o["prefix"]) for o in objs],
                         [("k1002", False), ("other/", True)])
        with unsigned():
            objs, pages = self.listing("--delimiter", "/", "--max-keys", "1000")
        self.assertEqual([o["key"] for o in objs if o["prefix"]], ["dir/", "other/"])


class Multipart(S3Base):
    bucket = "floe-mpu"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = os.urandom(11 * MIB + 12345)
        cls.path = cls.d.file("big", cls.data)

    def verify(self, key, meta=None, storage_class=None):
        got = self.d.run("get", self.bucket, key, os.path.join(self.d.tmp, "big.out"))[0]
        self.assertEqual(self.d.read("big.out"), self.data)
        obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        self.assertEqual(obj["Body"].read(), self.data)
        self.assertEqual(obj["ContentLength"], len(self.data))
        self.assertTrue(obj["ETag"].endswith('-3"'), obj["ETag"])  # boto3 sees 3 parts
        if meta:
            self.assertEqual(obj["Metadata"], meta)
            self.assertEqual(got["meta"], meta)
        if storage_class:
            self.assertEqual(obj.get("StorageClass"), storage_class)
        return obj

    def test_three_parts_from_memory_with_checksums(self):
        out = self.d.run("mpu", self.bucket, "mpu/memory", self.path, str(5 * MIB), "--sha256",
                         "--meta", "archive-id=A1", "--storage-class", "GLACIER_IR")[0]
        self.assertEqual(out["parts"], 3)
        self.verify("mpu/memory", {"archive-id": "A1"}, "GLACIER_IR")
        # the parts' checksums were kept: the object's is the composite of the three
        h = self.s3.head_object(Bucket=self.bucket, Key="mpu/memory", ChecksumMode="ENABLED")
        sums = b"".join(hashlib.sha256(self.data[i:i + 5 * MIB]).digest()
                        for i in range(0, len(self.data), 5 * MIB))
        composite = base64.b64encode(hashlib.sha256(sums).digest()).decode()
        self.assertEqual(h["ChecksumSHA256"].split("-")[0], composite)

    def test_three_parts_streamed(self):
        out = self.d.run("mpu", self.bucket, "mpu/streamed",
                         self.path, str(5 * MIB), "--stream")[0]
        self.assertEqual(out["parts"], 3)
        self.verify("mpu/streamed")

    def test_step_by_step_list_abort(self):
        b, k = self.bucket, "mpu/steps"
        uid = self.d.run("mpu-create", b, k, "--sha256")[0]["upload_id"]
        p1 = self.d.file("p1", self.data[:5 * MIB])
        p2 = self.d.file("p2", self.data[5 * MIB:])
        e1 = self.d.run("mpu-part", b, k, uid, "1", p1)[0]
        e2 = self.d.run("mpu-part", b, k, uid, "2", p2, "--last")[0]
        want1 = base64.b64encode(hashlib.sha256(self.data[:5 * MIB]).digest()).decode()
        self.assertEqual(e1["checksum_sha256"], want1)
        parts = self.d.run("list-parts", b, k, uid)
        self.assertEqual([(p["part"], p["size"], p["etag"]) for p in parts],
                         [(1, 5 * MIB, e1["etag"]), (2, len(self.data) - 5 * MIB, e2["etag"])])
        self.assertEqual(len(self.d.run("list-parts", b, k, uid, "1")), 2)  # two pages of one
        with unsigned():  # a '/' in a query value (docs/s3-api.md 9)
            uploads = self.d.run("list-uploads", b, "mpu/")
        self.assertIn((k, uid), [(u["key"], u["upload_id"]) for u in uploads])
        # a part under 5 MiB that is not the last is refused before anything is sent
        e = self.d.run("mpu-part", b, k, uid, "3", self.d.file("small", b"s" * 100), ok=False)
        self.assertEqual((e["status"], e["http"]), (STATUS["range"], 0))
        self.assertEqual(e["message"], "part 3 is 100 bytes: every S3 part but the last must be "
                         "at least 5 MiB")
        done = self.d.run("mpu-complete", b, k, uid, "1:%s:%s" % (e1["etag"], want1),
                          "2:%s:%s" % (e2["etag"], e2["checksum_sha256"]))[0]
        self.assertTrue(done["etag"].endswith('-2"'))
        self.assertEqual(self.s3.get_object(Bucket=b, Key=k)["Body"].read(), self.data)
        # abort: gone from the listing; a second abort is NoSuchUpload
        uid2 = self.d.run("mpu-create", b, "mpu/aborted")[0]["upload_id"]
        self.d.run("mpu-abort", b, "mpu/aborted", uid2)
        uploads = self.d.run("list-uploads", b)
        self.assertNotIn(uid2, [u["upload_id"] for u in uploads])
        e = self.d.run("mpu-abort", b, "mpu/aborted", uid2, ok=False)
        self.assertEqual((e["status"], e["code"]), (STATUS["not_found"], "NoSuchUpload"))
        e = self.d.run("list-parts", b, "mpu/aborted", uid2, ok=False)
        self.assertEqual(e["code"], "NoSuchUpload")

    def test_service_refuses_small_part(self):
        b, k = self.bucket, "mpu/small"
        uid = self.d.run("mpu-create", b, k)[0]["upload_id"]
        # each part passes the local check as a "last" part; together they break the rule
        e1 = self.d.run("mpu-part", b, k, uid, "1", self.d.file("s1", b"a" * MIB), "--last")[0]
        e2 = self.d.run("mpu-part", b, k, uid, "2", self.d.file("s2", b"b" * MIB), "--last")[0]
        e = self.d.run("mpu-complete", b, k, uid, "1:" + e1["etag"], "2:" + e2["etag"], ok=False)
        self.assertEqual((e["status"], e["code"]), (STATUS["service"], "EntityTooSmall"))
        self.assertTrue(e["message"].startswith(
            "CompleteMultipartUpload s3://floe-mpu/mpu/small: EntityTooSmall: "), e["message"])
        self.d.run("mpu-abort", b, k, uid)

    def test_part_size_rule(self):
        p = subprocess.run([DRIVER, "-", "part-size", str(100 << 30)], capture_output=True)
        self.assertEqual(json.loads(p.stdout), {"part_size": 16 * MIB})
        p = subprocess.run([DRIVER, "-", "part-size", str(6 << 40)], capture_output=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("larger than S3's 5 TiB limit", p.stderr.decode())


class VirtualHosted(S3Base):
    """BUCKET.localhost:PORT (curl resolves *.localhost to the loopback address; moto serves the
    bucket named by the Host header), signed for that Host and checked by moto."""

    def test_virtual_hosted(self):
        url = MOTO["url"].replace("127.0.0.1", "localhost")
        run = lambda *a, **k: self.d.run(*a, url=url, addressing="virtual", **k)  # noqa: E731
        self.assertEqual(run("create-bucket", "floe-vhost"), [{"ok": True}])
        data = os.urandom(6 * MIB)
        run("put", "floe-vhost", "dir/a b", self.d.file("v", data[:1000]))
        run("mpu", "floe-vhost", "big", self.d.file("vb", data), str(5 * MIB))
        self.assertEqual(self.s3.get_object(Bucket="floe-vhost", Key="big")["Body"].read(), data)
        self.assertEqual(run("head", "floe-vhost", "dir/a b")[0]["size"], 1000)
        keys = [o["key"] for o in run("list", "floe-vhost", "--max-keys", "1")[:-1]]
        self.assertEqual(keys, ["big", "dir/a b"])
        e = run("get", "floe-vhost", "nope", os.path.join(self.d.tmp, "x"), ok=False)
        self.assertEqual(e["code"], "NoSuchKey")


class Faults(S3Base):
    """503 SlowDown, 500 InternalError, 400 RequestTimeout and dropped connections between the
    client and moto (tests/helpers/faultproxy.py): retried, each attempt signed again."""
    bucket = "floe-faults"

    def proxy(self, *rules):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "helpers"))
        import servers
        port = int(MOTO["url"].rsplit(":", 1)[1])
        p = servers.start_faultproxy(port, list(rules))
        self.addCleanup(shutil.rmtree, p.workdir, True)
        self.addCleanup(p.stop)
        return p

    def faults(self, p):
        return sum(1 for line in p.log().splitlines() if line.startswith("FAULT"))

    def test_retried_then_ok(self):
        data = os.urandom(11 * MIB)
        path = self.d.file("f", data)
        p = self.proxy("PUT /floe-faults/one s3status:503:SlowDown 2",
                       "GET /floe-faults/one s3status:500:InternalError 1",
                       "HEAD /floe-faults/one s3status:503:SlowDown 1",
                       "PUT partNumber=2 s3status:400:RequestTimeout 1",
                       "PUT partNumber=3 reset 1",
                       "POST uploadId= s3status:503:SlowDown 1")
        self.d.run("put", self.bucket, "one", self.d.file("one", b"1" * 1000), url=p.url)
        self.d.run("get", self.bucket, "one", os.path.join(self.d.tmp, "o"), url=p.url)
        self.assertEqual(self.d.read("o"), b"1" * 1000)
        self.assertEqual(self.d.run("head", self.bucket, "one", url=p.url)[0]["size"], 1000)
        out = self.d.run("mpu", self.bucket, "big", path, str(5 * MIB), "--stream", "--sha256",
                         url=p.url)[0]
        self.assertEqual(out["parts"], 3)
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key="big")["Body"].read(), data)
        self.assertEqual(self.faults(p), 7, p.log())

    def test_gives_up(self):
        p = self.proxy("GET /floe-faults/ s3status:503:SlowDown 0")
        e = self.d.run("get", self.bucket, "nope", os.path.join(self.d.tmp, "x"), url=p.url,
                       retries=2, ok=False)
        self.assertEqual((e["status"], e["code"], e["http"], e["request_id"]),
                         (402, "SlowDown", 503, "FAULTPROXY"))
        self.assertRegex(e["message"], r"^GetObject s3://floe-faults/nope: SlowDown: injected by "
                         r"faultproxy \(HTTP 503\) \(gave up after 3 attempts in [0-9.]+ s\)$")
        self.assertEqual(self.faults(p), 3)


def main():
    global DRIVER
    DRIVER = sys.argv.pop(1)
    try:
        import boto3  # noqa: F401
        import moto  # noqa: F401
    except ImportError as e:
        print("skipped: %s (moto's server and boto3 are needed)" % e)
        sys.exit(77)
    workdir = tempfile.mkdtemp(prefix="floe-s3-moto-")
    rc = 1
    try:
        start_moto(workdir)
        prog = unittest.main(exit=False, verbosity=2)
        rc = 0 if prog.result.wasSuccessful() else 1
    finally:
        stop_moto()
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    main()
