#!/usr/bin/env python3
"""Power loss under floe-vault (issue 15): rounds of concurrent uploads and deletes with the
crashfs shim (tests/crash/crashfs.c) preloaded; at a random change of the data dir the shim
drops or tears everything not yet synced and kills the server. floe-vault restarts on what is
left, and the test checks: PRAGMA integrity_check is ok; every acknowledged archive is listed
with its tree hash and its bytes (read straight from the blobs its segment rows name) hash to
it; every acknowledged delete stays deleted; nothing is visible that was never sent whole;
every acknowledged multipart part keeps its row, tree hash and bytes; no
blob file is left that no row names. All rounds share one data dir, so later rounds also crash
during the recovery of earlier ones. test_crash_creating_data_dir crashes a first start on an
empty data dir (and the first requests), each round on a new one.
Environment: FLOE_CRASH_ROUNDS (rounds, default 12), FLOE_CRASH_FRESH_ROUNDS (first starts
crashed, default 6), FLOE_CRASH_BLOB_IO (the server's --blob-io: buffered, the default, or
direct, whose io_uring writes the shim covers by its images of O_DIRECT files), FLOE_TEST_SEED
(replay a run; printed).
Usage: test_vault_power_loss.py <floe-vault binary> <crashfs.so>."""
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import vault_helper as vh  # noqa: E402

BIN = SHIM = None
BLOB_IO = os.environ.get("FLOE_CRASH_BLOB_IO", "buffered")
KIB, MIB = 1024, vh.MIB
VAULT = "cv"


class ShimVault(vh.Vault):
    """A vh.Vault whose start() can preload the shim and may die before it prints its URL."""
    shim_env = None

    def start(self):
        saved = {k: os.environ.get(k) for k in (self.shim_env or {})}
        os.environ.update(self.shim_env or {})
        try:
            super().start()
        except (RuntimeError, FileNotFoundError):  # powered off during its own start-up (the
            self.proc.wait(30)                      # port file's rename may be undone too)
            self.proc.stdout.close()
            self.proc = None
            self.stderr.close()
            return False
        finally:
            for k, val in saved.items():
                if val is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = val
        return True

    def wait_dead(self):
        self.status = self.proc.wait(30)
        self.proc.stdout.close()
        self.proc = None
        self.stderr.close()


def archive_bytes(data_dir, db, seg_owner):
    out = []
    for blob, off, ln in db.execute("SELECT blob, off, len FROM segments WHERE owner = ? "
                                    "ORDER BY idx", (seg_owner,)):
        with open(os.path.join(data_dir, "blobs", blob), "rb") as f:
            f.seek(off)
            chunk = f.read(ln)
        if len(chunk) != ln:
            return None
        out.append(chunk)
    return b"".join(out)


class Workload:
    """Writers upload archives of mixed sizes (shared log blobs below 1 MiB, own blobs above)
    and delete some of their acknowledged ones, until the server goes away."""

    def __init__(self, rnd):
        self.rnd = rnd
        self.lock = threading.Lock()
        self.acked, self.sent = {}, set()
        self.deleted, self.maybe_deleted = set(), set()
        self.round_acked = set()
        self.parts = {}  # acknowledged multipart parts: (upload id, idx) -> tree hash
        self.round_uploads = set()  # uploads with a part acknowledged this round

    def size(self, r):
        x = r.random()
        if x < 0.6:
            return r.randint(1, 64 * KIB)
        if x < 0.9:
            return r.randint(64 * KIB, MIB - 1)
        return r.randint(MIB, MIB + MIB // 2)

    def writer(self, v, seed, limit):
        r = random.Random(seed)
        for _ in range(limit):
            try:
                with self.lock:
                    mine = sorted(set(self.acked) - self.deleted - self.maybe_deleted)
                if mine and r.random() < 0.25:
                    aid = r.choice(mine)
                    with self.lock:
                        self.maybe_deleted.add(aid)
                    st, _, _ = v.request("DELETE", "/-/vaults/%s/archives/%s" % (VAULT, aid))
                    if st == 204:
                        with self.lock:
                            self.deleted.add(aid)
                            self.maybe_deleted.discard(aid)
                    continue
                if r.random() < 0.08:
                    if not self.multipart(v, r):
                        return
                    continue
                data = r.randbytes(self.size(r))
                th = vh.tree_hash(data)
                with self.lock:
                    self.sent.add(th)
                st, hd, _ = v.request("POST", "/-/vaults/%s/archives" % VAULT, data,
                                      {"x-amz-sha256-tree-hash": th},
                                      content_sha=vh.sha256(data))
            except OSError:
                return
            if st != 201:
                return
            with self.lock:
                self.acked[hd["x-amz-archive-id"]] = th
                self.round_acked.add(hd["x-amz-archive-id"])

    def multipart(self, v, r):
        """Initiate, 1 MiB parts (each acknowledged part recorded), Complete; False if the
        server went away (OSError propagates) or refused."""
        data = r.randbytes(r.randint(MIB + 1, 3 * MIB))
        st, hd, _ = v.request("POST", "/-/vaults/%s/multipart-uploads" % VAULT,
                              headers={"x-amz-part-size": str(MIB)})
        if st != 201:
            return False
        uid = hd["x-amz-multipart-upload-id"]
        th = vh.tree_hash(data)
        with self.lock:
            self.sent.add(th)
        for off in range(0, len(data), MIB):
            chunk = data[off:off + MIB]
            pth = vh.tree_hash(chunk)
            st, _, _ = v.request("PUT", "/-/vaults/%s/multipart-uploads/%s" % (VAULT, uid), chunk,
                                 {"Content-Range": "bytes %d-%d/*" % (off, off + len(chunk) - 1),
                                  "x-amz-sha256-tree-hash": pth}, content_sha=vh.sha256(chunk))
            if st != 204:
                return False
            with self.lock:
                self.parts[(uid, off // MIB)] = pth
                self.round_uploads.add(uid)
        st, hd, _ = v.request("POST", "/-/vaults/%s/multipart-uploads/%s" % (VAULT, uid), headers={
            "x-amz-archive-size": str(len(data)), "x-amz-sha256-tree-hash": th})
        if st != 201:
            return False
        with self.lock:
            self.acked[hd["x-amz-archive-id"]] = th
            self.round_acked.add(hd["x-amz-archive-id"])
        return True

    def run(self, v, seed, writers=4, limit=1000):
        threads = [threading.Thread(target=self.writer, args=(v, seed * 31 + i, limit))
                   for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


class PowerLoss(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="floe-crash-")
        self.root = os.path.join(self.tmp.name, "root")  # the shim's root: data dir's parent
        os.mkdir(self.root)
        self.data = os.path.join(self.root, "data")
        self.stash = os.path.join(self.tmp.name, "stash")
        self.report = os.path.join(self.tmp.name, "report.json")
        os.mkdir(self.stash)
        # direct blob I/O: io_uring writes, covered by the shim's images (docs/crash-tests.md)
        self.v = ShimVault(BIN, data_dir=self.data,
                           extra=("--job-delay", "instant", "--blob-io", BLOB_IO))

    def tearDown(self):
        if self.v.proc:
            self.v.stop()
        self.tmp.cleanup()

    def shim(self, crash_at, seed, ignore_sync=False):
        return {"FLOE_CRASH_IGNORE_SYNC": "1" if ignore_sync else "0","LD_PRELOAD": SHIM, "FLOE_CRASH_ROOT": self.root, "FLOE_CRASH_STASH": self.stash,
                "FLOE_CRASH_REPORT": self.report, "FLOE_CRASH_AT": str(crash_at),
                "FLOE_CRASH_SEED": str(seed),
                "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}

    def read_report(self):
        with open(self.report) as f:
            text = f.read()
        self.assertTrue(text.endswith("\n"), "crashfs report: %r; status %s; log: %s" % (
            text, getattr(self.v, "status", None), self.v.log()[-1500:]))
        rep = json.loads(text)
        os.unlink(self.report)
        return rep

    def check(self, w, rnd, label):
        """The promises, on the data dir after a restart (server stopped again)."""
        db = sqlite3.connect(os.path.join(self.data, "floe-vault.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok", label)
            rows = {aid: (th, owner) for aid, th, owner in db.execute(
                "SELECT id, tree_hash, seg_owner FROM archives WHERE vault = ? AND "
                "deleted_ms IS NULL", (VAULT,))}
            for aid, th in w.acked.items():
                if aid in w.deleted:
                    self.assertNotIn(aid, rows, "%s: acknowledged delete of %s undone" % (label, aid))
                elif aid not in w.maybe_deleted:
                    self.assertIn(aid, rows, "%s: acknowledged archive %s lost" % (label, aid))
                    self.assertEqual(rows[aid][0], th, "%s: %s" % (label, aid))
            for aid, (th, _) in rows.items():
                self.assertIn(th, w.sent, "%s: %s was never sent whole" % (label, aid))
            # bytes: this round's acknowledged and unacknowledged-but-visible archives, and a
            # sample of older ones (the last round reads them all)
            new = {a for a in rows if a in w.round_acked or a not in w.acked}
            old = sorted(set(rows) - new)
            check = new | set(rnd.sample(old, min(len(old), 12)))
            if label == "final":
                check = set(rows)
            for aid in check:
                body = archive_bytes(self.data, db, rows[aid][1])
                self.assertIsNotNone(body, "%s: %s's blob is short" % (label, aid))
                self.assertEqual(vh.tree_hash(body), rows[aid][0], "%s: %s's bytes" % (label, aid))
            # every acknowledged part: its row, with its tree hash and bytes (the upload may
            # have been completed since; its parts are then the archive's segments)
            new_parts = w.round_uploads if label != "final" else {k[0] for k in w.parts}
            segs = {(o, i): (th, b, off, ln) for o, i, th, b, off, ln in db.execute(
                "SELECT owner, idx, tree_hash, blob, off, len FROM segments")}
            for key, pth in w.parts.items():
                owner = key[0]
                done = db.execute("SELECT archive_id FROM uploads WHERE id = ? AND state = "
                                  "'completed'", (owner,)).fetchone()
                if done and (done[0] in w.deleted or done[0] in w.maybe_deleted):
                    continue  # the archive it became was deleted
                self.assertIn(key, segs, "%s: acknowledged part %s lost" % (label, key))
                self.assertEqual(segs[key][0], pth, "%s: part %s" % (label, key))
                if key[0] in new_parts:
                    with open(os.path.join(self.data, "blobs", segs[key][1]), "rb") as f:
                        f.seek(segs[key][2])
                        self.assertEqual(vh.tree_hash(f.read(segs[key][3])), pth,
                                         "%s: part %s's bytes" % (label, key))
            names = {r[0] for r in db.execute("SELECT blob FROM segments UNION SELECT output_blob "
                                              "FROM jobs WHERE output_blob IS NOT NULL")}
        finally:
            db.close()
        self.assertEqual(set(os.listdir(os.path.join(self.data, "blobs"))) - names, set(),
                         "%s: orphan blobs" % label)
        return len(check)

    def test_power_loss_rounds(self):
        rounds = int(os.environ.get("FLOE_CRASH_ROUNDS", "12"))
        seed = int(os.environ.get("FLOE_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
        print("FLOE_TEST_SEED=%d FLOE_CRASH_ROUNDS=%d" % (seed, rounds), file=sys.stderr)
        rnd = random.Random(seed)
        self.assertEqual(self.v.request("PUT", "/-/vaults/" + VAULT)[0], 201)
        self.v.stop()
        w = Workload(rnd)
        # calibration: how many changes a start-up and 24 uploads make (no crash)
        self.v.shim_env = self.shim(0, seed)
        self.assertTrue(self.v.start())
        w.run(self.v, seed, writers=4, limit=6)
        self.v.stop()
        span = self.read_report()["changes"]
        self.check(w, rnd, "calibration")
        stats = self.rounds(w, rnd, seed, rounds, span)
        stats["blob_io"] = BLOB_IO
        print("power loss: " + json.dumps(stats), file=sys.stderr)
        if BLOB_IO == "direct":  # the direct path was taken (not its buffered fallback)
            self.assertGreater(stats["direct_files"], 0)

    def test_crash_creating_data_dir(self):
        """A first start on an empty data dir, crashed at a random change of the start-up, the
        vault's creation or the first uploads; restarted without the shim it must start, keep
        what it acknowledged (the vault, its archives) and take new uploads."""
        rounds = int(os.environ.get("FLOE_CRASH_FRESH_ROUNDS", "6"))
        seed = int(os.environ.get("FLOE_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
        print("FLOE_TEST_SEED=%d FLOE_CRASH_FRESH_ROUNDS=%d" % (seed, rounds), file=sys.stderr)
        rnd = random.Random(seed)
        self.v.stop()
        self.v.shim_env = self.shim(0, seed)  # calibration: start, create the vault, stop
        shutil.rmtree(self.data)
        self.assertTrue(self.v.start())
        self.assertEqual(self.v.request("PUT", "/-/vaults/" + VAULT)[0], 201)
        self.v.stop()
        span = self.read_report()["changes"]
        lost_dir = 0
        for i in range(rounds):
            label = "fresh round %d (FLOE_TEST_SEED=%d)" % (i, seed)
            shutil.rmtree(self.data)
            for n in os.listdir(self.stash):
                os.unlink(os.path.join(self.stash, n))
            w = Workload(rnd)
            made = False
            self.v.shim_env = self.shim(rnd.randint(1, span), seed * 1000 + i)
            if self.v.start():
                try:
                    made = self.v.request("PUT", "/-/vaults/" + VAULT)[0] == 201
                except OSError:
                    pass
                if made:  # uploads until the power cut
                    w.run(self.v, seed * 7919 + i, writers=2)
                self.v.wait_dead()
            self.assertTrue(self.read_report().get("crashed"), label)
            lost_dir += not os.path.isdir(self.data)
            self.v.shim_env = None
            self.assertTrue(self.v.start(), "%s: no start after the cut: %s" % (
                label, self.v.log()[-1500:]))
            if made:
                self.assertEqual(self.v.request("GET", "/-/vaults/" + VAULT)[0], 200,
                                 "%s: acknowledged vault lost" % label)
            self.assertEqual(self.v.request("PUT", "/-/vaults/" + VAULT)[0], 201, label)
            w.round_acked, w.round_uploads = set(), set()
            w.run(self.v, seed * 7919 + i + 1, writers=2, limit=3)
            self.v.stop()
            self.check(w, rnd, "final")
        print("fresh data dir: %d rounds, data dir gone after %d" % (rounds, lost_dir),
              file=sys.stderr)

    def test_control_without_syncs(self):
        """The same rounds with a shim whose syncs make nothing durable: the checks must catch
        lost acknowledged data within a few crashes (else they could not fail)."""
        seed = int(os.environ.get("FLOE_TEST_SEED", "0")) or random.randrange(1, 1 << 30)
        rnd = random.Random(seed)
        self.assertEqual(self.v.request("PUT", "/-/vaults/" + VAULT)[0], 201)
        self.v.stop()
        w = Workload(rnd)
        with self.assertRaises(AssertionError) as caught:
            self.rounds(w, rnd, seed, 20, 400, ignore_sync=True)
        msg = str(caught.exception)
        self.assertNotIn("crashfs report", msg)  # caught by the checks, not by the shim failing
        print("control (syncs ignored) caught: %s" % msg.splitlines()[0][:160], file=sys.stderr)

    def rounds(self, w, rnd, seed, rounds, span, ignore_sync=False):
        """rounds crashes at a random change in [1, span]; returns the figures."""
        stats = {"rounds": rounds, "crashes": 0, "kept": 0, "dropped": 0, "torn": 0,
                 "dir_undone": 0, "acknowledged": 0, "deleted": 0, "byte_checks": 0,
                 "crash_in_startup": 0, "changes_per_round": span}
        for i in range(rounds):
            label = "round %d (FLOE_TEST_SEED=%d)" % (i, seed)
            w.round_acked, w.round_uploads = set(), set()
            self.v.shim_env = self.shim(rnd.randint(1, span), seed * 1000 + i, ignore_sync)
            if self.v.start():
                w.run(self.v, seed * 7919 + i)
                self.v.wait_dead()
            else:
                stats["crash_in_startup"] += 1
            rep = self.read_report()
            self.assertTrue(rep.get("crashed"), "%s: no crash: %s" % (label, rep))
            stats["crashes"] += 1
            for k in ("kept", "dropped", "torn", "dir_undone", "direct_sectors_kept",
                      "direct_sectors_reverted"):
                stats[k] = stats.get(k, 0) + rep[k]
            stats["direct_files"] = stats.get("direct_files", 0) + rep["direct_files"]
            self.v.shim_env = None
            self.assertTrue(self.v.start(), label)
            self.v.stop()
            stats["byte_checks"] += self.check(w, rnd, label)
        self.v.start()
        self.v.stop()
        stats["byte_checks"] += self.check(w, rnd, "final")
        stats["acknowledged"] = len(w.acked)
        stats["deleted"] = len(w.deleted)
        stats["parts_acknowledged"] = len(w.parts)
        return stats


if __name__ == "__main__":
    SHIM = sys.argv.pop(2)
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
