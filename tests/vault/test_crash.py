#!/usr/bin/env python3
"""kill -9 at awkward moments: during a multipart part upload, during Complete, during a
stream of single uploads, and in a loop during 16 concurrent small uploads (the group commit
path: src/vault/commit.h). After a restart on the same data dir: everything acknowledged is
there byte for byte, nothing half-written is visible, and no orphan blob files remain.
Usage: test_crash.py <floe-vault binary>."""
import json
import os
import random
import signal
import socket
import sqlite3
import sys
import threading
import time
import unittest

import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = None
MIB = vh.MIB


def signed_headers(v, method, path, body, extra):
    h = {"x-amz-glacier-version": "2012-06-01", "x-amz-content-sha256": vh.sha256(body)}
    h.update(extra)
    req = botocore.awsrequest.AWSRequest(method=method, url=v.url + path, data=body, headers=h)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(vh.ACCESS_KEY, vh.SECRET_KEY),
                            "glacier", vh.REGION).add_auth(req)
    return dict(req.headers.items())


def start_partial(v, method, path, body, extra, send_bytes):
    """Send headers and the first send_bytes of body, leave the connection open."""
    s = socket.create_connection(("127.0.0.1", v.port))
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (method, path, v.port)
    for k, val in signed_headers(v, method, path, body, extra).items():
        head += "%s: %s\r\n" % (k, val)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    s.sendall(head.encode() + body[:send_bytes])
    return s


def orphans(v):
    """Blob files that no database row names (must be none after a restart)."""
    db = sqlite3.connect(os.path.join(v.data_dir, "floe-vault.db"))
    names = {r[0] for r in db.execute("SELECT blob FROM segments UNION SELECT output_blob FROM "
                                      "jobs WHERE output_blob IS NOT NULL")}
    db.close()
    return set(os.listdir(os.path.join(v.data_dir, "blobs"))) - names


def retrieve(v, vault, aid):
    st, hd, _ = v.request("POST", "/-/vaults/%s/jobs" % vault,
                          json.dumps({"Type": "archive-retrieval", "ArchiveId": aid}).encode())
    assert st == 202, st
    st, hd, body = v.request("GET", "/-/vaults/%s/jobs/%s/output" % (vault, hd["x-amz-job-id"]))
    assert st == 200, (st, body)
    return body, hd.get("x-amz-sha256-tree-hash")


def inventory(v, vault):
    """{archive id: tree hash} of an inventory job's output (the server's --job-delay instant)."""
    _, hd, _ = v.request("POST", "/-/vaults/%s/jobs" % vault,
                         json.dumps({"Type": "inventory-retrieval"}).encode())
    _, _, body = v.request("GET", "/-/vaults/%s/jobs/%s/output" % (vault, hd["x-amz-job-id"]))
    return {a["ArchiveId"]: a["SHA256TreeHash"] for a in json.loads(body)["ArchiveList"]}


def post_archive(v, vault, data, th):
    """UploadArchive of data with its tree hash th: (status, headers)."""
    st, hd, _ = v.request("POST", "/-/vaults/%s/archives" % vault, data,
                          {"x-amz-sha256-tree-hash": th}, content_sha=vh.sha256(data))
    return st, hd


class Crash(unittest.TestCase):
    def setUp(self):
        self.v = vh.Vault(BIN)
        self.assertEqual(self.v.request("PUT", "/-/vaults/cv")[0], 201)

    def tearDown(self):
        self.v.close()

    def put_part(self, uid, first, chunk):
        st, hd, body = self.v.request(
            "PUT", "/-/vaults/cv/multipart-uploads/" + uid, chunk,
            {"Content-Range": "bytes %d-%d/*" % (first, first + len(chunk) - 1),
             "x-amz-sha256-tree-hash": vh.tree_hash(chunk)}, content_sha=vh.sha256(chunk))
        self.assertEqual(st, 204, body)

    def test_kill_during_part_upload(self):
        data = os.urandom(3 * MIB)
        st, hd, _ = self.v.request("POST", "/-/vaults/cv/multipart-uploads",
                                   headers={"x-amz-part-size": str(MIB)})
        uid = hd["x-amz-multipart-upload-id"]
        self.put_part(uid, 0, data[:MIB])
        self.put_part(uid, MIB, data[MIB:2 * MIB])
        chunk = data[2 * MIB:]
        sock = start_partial(self.v, "PUT", "/-/vaults/cv/multipart-uploads/" + uid, chunk,
                             {"Content-Range": "bytes %d-%d/*" % (2 * MIB, 3 * MIB - 1),
                              "x-amz-sha256-tree-hash": vh.tree_hash(chunk)}, MIB // 2)
        # the half-sent part's blob exists on disk while the request is in flight
        vh.wait_for(lambda: len(os.listdir(os.path.join(self.v.data_dir, "blobs"))) == 3, 5)
        self.v.kill9()
        sock.close()
        self.v.start()
        self.assertEqual(orphans(self.v), set())
        st, _, body = self.v.request("GET", "/-/vaults/cv/multipart-uploads/" + uid)
        parts = [p["RangeInBytes"] for p in json.loads(body)["Parts"]]
        self.assertEqual(parts, ["0-1048575", "1048576-2097151"])
        self.put_part(uid, 2 * MIB, chunk)
        st, hd, _ = self.v.request("POST", "/-/vaults/cv/multipart-uploads/" + uid, headers={
            "x-amz-archive-size": str(len(data)), "x-amz-sha256-tree-hash": vh.tree_hash(data)})
        self.assertEqual(st, 201)
        body, th = retrieve(self.v, "cv", hd["x-amz-archive-id"])
        self.assertEqual(body, data)
        self.assertEqual(th, vh.tree_hash(data))

    def test_kill_during_complete(self):
        rnd = random.Random(int(os.environ.get("FLOE_TEST_SEED", "0")) or None)
        outcomes = set()
        for round_ in range(6):
            data = os.urandom(4 * MIB + 100)
            st, hd, _ = self.v.request("POST", "/-/vaults/cv/multipart-uploads",
                                       headers={"x-amz-part-size": str(MIB)})
            uid = hd["x-amz-multipart-upload-id"]
            for off in range(0, len(data), MIB):
                self.put_part(uid, off, data[off:off + MIB])
            path = "/-/vaults/cv/multipart-uploads/" + uid
            extra = {"x-amz-archive-size": str(len(data)),
                     "x-amz-sha256-tree-hash": vh.tree_hash(data)}
            sock = start_partial(self.v, "POST", path, b"", extra, 0)
            time.sleep(rnd.uniform(0, 0.004) if round_ % 2 else 0)
            self.v.kill9()
            sock.close()
            self.v.start()
            self.assertEqual(orphans(self.v), set())
            st, _, body = self.v.request("GET", "/-/vaults/cv/multipart-uploads")
            open_ids = [u["MultipartUploadId"] for u in json.loads(body)["UploadsList"]]
            outcomes.add(uid in open_ids)
            # whichever side of the commit the kill fell on, Complete now gives one archive
            st, hd, body = self.v.request("POST", path, headers=extra)
            self.assertEqual(st, 201, body)
            got, th = retrieve(self.v, "cv", hd["x-amz-archive-id"])
            self.assertEqual(got, data)
            self.assertEqual(th, vh.tree_hash(data))
        st, _, body = self.v.request("GET", "/-/vaults/cv")
        self.assertEqual(json.loads(body)["NumberOfArchives"], 6)
        print("kill during complete: upload still open after restart:", sorted(outcomes))

    def test_acknowledged_uploads_survive_kill(self):
        acked, stop = {}, threading.Event()

        def writer():
            while not stop.is_set():
                data = os.urandom(random.randint(1, 3 * MIB))
                try:
                    st, hd, _ = self.v.request("POST", "/-/vaults/cv/archives", data,
                                               {"x-amz-sha256-tree-hash": vh.tree_hash(data)},
                                               content_sha=vh.sha256(data))
                except OSError:
                    return
                if st == 201:
                    acked[hd["x-amz-archive-id"]] = vh.tree_hash(data)

        threads = [threading.Thread(target=writer) for _ in range(3)]
        for t in threads:
            t.start()
        vh.wait_for(lambda: len(acked) >= 8, 20)
        self.v.kill9()
        stop.set()
        for t in threads:
            t.join()
        self.v.start()
        self.assertEqual(orphans(self.v), set())
        inv = inventory(self.v, "cv")
        for aid, th in acked.items():
            self.assertEqual(inv.get(aid), th)
        for aid in inv:  # every visible archive is whole
            body, th = retrieve(self.v, "cv", aid)
            self.assertEqual(vh.tree_hash(body), inv[aid])

    def test_sigterm_during_uploads(self):
        """SIGTERM while 16 writers upload: the ends of uploads run on ender threads with their
        connections suspended (src/vault/http.c, "Ends off the pool"), and libmicrohttpd must
        not be stopped with one suspended. The server exits 0 in time, every acknowledged
        archive is there after a restart, no blob is left unreferenced, and nothing is there
        that was not acknowledged: a stop sends the answer of every upload it committed and
        refuses (500 ServiceUnavailableException) the ones that reach their end after it
        began."""
        acked, refused, lock, stop = {}, [], threading.Lock(), threading.Event()

        def writer():
            while not stop.is_set():
                data = os.urandom(random.randint(1, 256 * 1024))
                th = vh.tree_hash(data)
                try:
                    st, hd, body = self.v.request("POST", "/-/vaults/cv/archives", data,
                                                  {"x-amz-sha256-tree-hash": th},
                                                  content_sha=vh.sha256(data))
                except OSError:
                    return
                if st != 201:
                    with lock:
                        refused.append((st, body))
                    return
                with lock:
                    acked[hd["x-amz-archive-id"]] = th

        threads = [threading.Thread(target=writer) for _ in range(16)]
        for t in threads:
            t.start()
        vh.wait_for(lambda: len(acked) >= 50, 30)
        self.v.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.v.proc.wait(30), 0)
        stop.set()
        for t in threads:
            t.join()
        self.v.stop()
        self.v.start()
        self.assertEqual(orphans(self.v), set())
        inv = inventory(self.v, "cv")
        self.assertGreaterEqual(len(acked), 50)
        for aid, th in acked.items():
            self.assertEqual(inv.get(aid), th)
        self.assertEqual(set(inv) - set(acked), set(), "stored but never acknowledged")
        # an upload that reached its end after the stop began (not every run has one) was
        # refused as Glacier refuses when it cannot serve: 500 ServiceUnavailableException
        for st, body in refused:
            self.assertEqual(st, 500, body)
            self.assertIn(b"ServiceUnavailableException", body)
            self.assertIn(b"floe-vault is stopping", body)

    def test_group_commit_kill_loop(self):
        """16 writers of small archives (they share group commits); kill -9 at a random moment,
        restart, check; several rounds on the same data dir."""
        rounds = int(os.environ.get("FLOE_VAULT_CRASH_ROUNDS", "4"))
        acked, sent = {}, set()
        for rnd in range(rounds):
            stop, lock = threading.Event(), threading.Lock()

            def writer():
                while not stop.is_set():
                    data = os.urandom(random.randint(1, 64 * 1024))
                    th = vh.tree_hash(data)
                    with lock:
                        sent.add(th)
                    try:
                        st, hd, _ = self.v.request("POST", "/-/vaults/cv/archives", data,
                                                   {"x-amz-sha256-tree-hash": th},
                                                   content_sha=vh.sha256(data))
                    except OSError:
                        return
                    if st == 201:
                        with lock:
                            acked[hd["x-amz-archive-id"]] = th
                    elif st != 201:
                        return

            threads = [threading.Thread(target=writer) for _ in range(16)]
            for t in threads:
                t.start()
            before = len(acked)
            vh.wait_for(lambda: len(acked) >= before + 4, 20)
            time.sleep(random.uniform(0.0, 0.4))
            self.v.kill9()
            stop.set()
            for t in threads:
                t.join()
            self.v.start()
            self.assertEqual(orphans(self.v), set(), "round %d" % rnd)
            if os.environ.get("FLOE_VAULT_CRASH_VERBOSE"):
                print("round %d: %d acknowledged so far" % (rnd, len(acked)), file=sys.stderr)
            db = sqlite3.connect(os.path.join(self.v.data_dir, "floe-vault.db"))
            rows = dict(db.execute("SELECT id, tree_hash FROM archives WHERE vault = 'cv' AND"
                                   " deleted_ms IS NULL"))
            db.close()
            for aid, th in acked.items():  # every acknowledged archive, with its tree hash
                self.assertEqual(rows.get(aid), th, "round %d: acknowledged %s" % (rnd, aid))
            for aid, th in rows.items():  # nothing visible that was never sent whole
                self.assertIn(th, sent, "round %d: %s" % (rnd, aid))
        # the data behind the rows: a sample read back through the API
        for aid in random.sample(sorted(acked), min(10, len(acked))):
            body, _ = retrieve(self.v, "cv", aid)
            self.assertEqual(vh.tree_hash(body), acked[aid])

    def test_small_archives_share_log_blobs(self):
        """Bodies under 1 MiB go into a shared log blob (store_blob.h, "Log blobs"): each reads
        back whole before and after kill -9; a restart starts a new log; a log no row names is
        removed (at once when nobody holds it, by the start-up sweep otherwise)."""
        blobs = lambda: sorted(os.listdir(os.path.join(self.v.data_dir, "blobs")))  # noqa: E731
        datas = {}
        for i in range(30):
            data = os.urandom(random.randint(1, 200 * 1024))
            datas[self.v.upload("cv", data)] = data
        big = os.urandom(2 * MIB + 3)  # a file of its own
        datas[self.v.upload("cv", big)] = big
        logs = [n for n in blobs() if n.startswith("log.")]
        self.assertEqual((len(logs), len(blobs())), (1, 2), blobs())
        for aid, data in datas.items():
            self.assertEqual(retrieve(self.v, "cv", aid)[0], data)
        self.v.kill9()
        self.v.start()
        self.assertEqual(orphans(self.v), set())
        small = os.urandom(1000)
        datas[self.v.upload("cv", small)] = small
        self.assertEqual(len([n for n in blobs() if n.startswith("log.")]), 2, blobs())
        for aid, data in datas.items():
            self.assertEqual(retrieve(self.v, "cv", aid)[0], data)
        for aid in datas:
            self.assertEqual(self.v.request("DELETE", "/-/vaults/cv/archives/" + aid)[0], 204)
        self.assertEqual(self.v.request("DELETE", "/-/vaults/cv")[0], 204)
        # the old log and the big blob went at once; the current log waits for the restart
        self.assertEqual([n for n in blobs() if not n.startswith("log.")], [])
        self.assertNotIn(logs[0], blobs())
        self.v.stop()
        self.v.start()
        self.assertEqual(blobs(), [])


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
