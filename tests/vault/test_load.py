#!/usr/bin/env python3
"""floe-vault under a mixed hostile load (issue 15, "A load test"; CTest vault_load, label
slow): at once, FLOE_LOAD_IDLE idle connections (default 10,000: connected, nothing sent),
FLOE_LOAD_SLOW slow senders (1,000: signed 1 MiB uploads at 1 byte/s), FLOE_LOAD_UNAUTH
unauthenticated 1 MiB bodies (1,000) and FLOE_LOAD_LEGIT legitimate uploaders (100, three 1 MiB
archives each). Checked: every legitimate upload finishes with the tree hash it sent, every
slow sender is cut (408), the server's RSS stays under 256 MB, and its threads stay under
1,000 (a fixed pool polls the connections: the idle crowd costs no threads). DescribeVault,
polled every 50 ms, is measured, not asserted (a latency depends on the machine: the issue's
target is a p99 under 50 ms); the figures are printed as FIGURE lines (docs/performance.md).
The poller is a process of its own (forked before any load starts): in this process its
requests would wait for the interpreter lock behind the hundred uploader threads and the
attackers' loops. It alternates a new connection and one kept alive, signs before its clock
starts, and reports its own run-queue wait, so what is left is the server's and the
machine's. The load generators (this process, after the fork) run at nice 19 (FLOE_LOAD_NICE):
they stand for clients on other machines, and at the same priority on two cores they took the
server's CPU (docs/performance.md). Skipped when the open-file limit cannot
hold the connections.
The server is started here with --max-connections raised for the idle crowd and
--header-timeout 300 (so the idle connections stay for the whole run: the worst case), and
stopped by PID. Attackers connect from 127.0.1.x, legitimate clients from 127.0.0.1.
Usage: test_load.py <floe-vault binary>."""
import multiprocessing
import os
import re
import resource
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import test_admission as ta  # noqa: E402  (signed_head, proc_status, Sampler, read_answer)
import vault_helper as vh  # noqa: E402

BIN = None
IDLE = int(os.environ.get("FLOE_LOAD_IDLE", "10000"))
SLOW = int(os.environ.get("FLOE_LOAD_SLOW", "1000"))
UNAUTH = int(os.environ.get("FLOE_LOAD_UNAUTH", "1000"))
LEGIT = int(os.environ.get("FLOE_LOAD_LEGIT", "100"))
MIB = vh.MIB


def attacker(i):
    s = socket.socket()
    # the source port is picked at connect() for the whole 4-tuple: a bind to port 0 alone
    # reserves a port for every destination, and back-to-back runs (TIME_WAIT) then ran out
    s.setsockopt(socket.IPPROTO_IP, ta.IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind(("127.0.1.%d" % (1 + i // 20000), 0))
    return s


def pct(sorted_values, q):
    """The q-quantile (nearest rank) of a sorted list; -1 when it is empty."""
    if not sorted_values:
        return -1
    return sorted_values[max(0, min(len(sorted_values) - 1, int(len(sorted_values) * q + 0.5) - 1))]


def read_response(s):
    """One HTTP response on s (Content-Length framed); its status, or 0 when s closed early."""
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(65536)
        if not chunk:
            return 0
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    want = int(m.group(1)) if m else 0
    while len(body) < want:
        chunk = s.recv(65536)
        if not chunk:
            return 0
        body += chunk
    return ta.status_of(got) or 0


def run_wait():
    """Seconds this process has waited runnable for a CPU so far (/proc/self/schedstat: the
    run-queue delay); 0 where the kernel does not keep it."""
    try:
        with open("/proc/self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def describe_poller(port, stop, out):
    """DescribeVault every 50 ms until stop, alternately on a new connection and on one kept
    alive; puts ([(kind, connect seconds, total seconds, status, seconds the poller itself
    waited for a CPU meanwhile, wall-clock start)], its niceness) on out. The request
    is signed before the clock starts (the signature is the client's CPU, not the server's
    latency); a kept-alive connection the server closed is reopened untimed."""
    # It stands for a client on a machine of its own, as the generators at nice 19 stand for
    # clients elsewhere: at nice 0 on two cores it waited up to 120 ms for a CPU behind the
    # server's pool threads, time no remote client spends (docs/performance.md). Raised where
    # the user may (root); FLOE_LOAD_POLLER_NICE=0 measures it at the server's priority.
    try:
        os.nice(int(os.environ.get("FLOE_LOAD_POLLER_NICE", "-10")))
    except OSError:
        pass
    lat = []
    keep = None
    n = 0
    while not stop.is_set():
        req = ta.signed_head(port, "GET", "/-/vaults/load", {}, 0)
        fresh = n % 2 == 0
        n += 1
        try:
            if not fresh and keep is None:
                keep = socket.create_connection(("127.0.0.1", port), timeout=60)
            w = run_wait()
            t = time.time()
            a = time.perf_counter()
            if fresh:
                s = socket.create_connection(("127.0.0.1", port), timeout=60)
            else:
                s = keep
            c = time.perf_counter() - a
            s.sendall(req)
            st = read_response(s)
            lat.append(("new" if fresh else "kept", c, time.perf_counter() - a, st,
                        run_wait() - w, t))
            if fresh:
                s.close()
            elif st == 0:
                keep.close()
                keep = None
        except OSError:
            lat.append(("new" if fresh else "kept", 0, 0, 0, 0, time.time()))
            if not fresh and keep is not None:
                keep.close()
                keep = None
        time.sleep(0.05)
    if keep is not None:
        keep.close()
    out.put((lat, os.nice(0)))


class Load(unittest.TestCase):
    def test_mixed_load(self):
        need = IDLE + SLOW + UNAUTH + LEGIT + 256
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard < need:
            self.skipTest("the open-file limit %d is below the %d this load needs" % (hard, need))
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        v = vh.Vault(BIN, extra=("--job-delay", "instant", "--max-connections",
                                 str(IDLE + SLOW + UNAUTH + 2 * LEGIT + 64),
                                 "--max-connections-per-client", "0", "--header-timeout", "300",
                                 "--min-body-rate", "1024", "--rate-window", "10"))
        try:
            self.run_load(v)
        finally:
            v.close()

    def run_load(self, v):
        self.assertEqual(v.request("PUT", "/-/vaults/load")[0], 201)
        pid = v.proc.pid
        # DescribeVault every 50 ms from a legitimate client in a process of its own
        mp = multiprocessing.get_context("fork")
        stop_poll = mp.Event()
        lat_q = mp.Queue()
        poller = mp.Process(target=describe_poller, args=(v.port, stop_poll, lat_q), daemon=True)
        poller.start()
        # From here on this process is the load generator: 100 uploaders hashing and sending
        # and the attackers' loops. On the machine's two cores they would take CPU that the
        # server and the poller need, where in use clients sit on other machines; at nice 19
        # (FLOE_LOAD_NICE, 0 to keep the same priority) they get what the server leaves. The
        # server (started above) and the poller (forked above) keep nice 0.
        nice = int(os.environ.get("FLOE_LOAD_NICE", "19"))
        if nice:
            os.nice(nice)
        sampler = ta.Sampler(pid)
        stop = threading.Event()
        socks = []
        t0 = time.time()
        for i in range(IDLE):
            s = attacker(i)
            s.connect(("127.0.0.1", v.port))
            socks.append(s)
        t_idle = time.time() - t0
        # slow senders: signed heads, then a byte a second from one loop
        slow = []
        for i in range(SLOW):
            s = attacker(IDLE + i)
            s.connect(("127.0.0.1", v.port))
            s.sendall(ta.signed_head(v.port, "POST", "/-/vaults/load/archives",
                                     {"x-amz-sha256-tree-hash": "ab" * 32,
                                      "x-amz-content-sha256": "cd" * 32}, MIB))
            slow.append(s)
        t_slow = time.time()
        slow_answers = {}
        cut_times = []  # when each slow sender saw its answer

        def trickle():
            while not stop.is_set() and len(slow_answers) < len(slow):
                for k, s in enumerate(slow):
                    if k in slow_answers:
                        continue
                    try:
                        s.send(b"x", socket.MSG_DONTWAIT)
                        got = s.recv(65536, socket.MSG_DONTWAIT)
                        slow_answers[k] = got
                        cut_times.append(time.time())
                    except BlockingIOError:
                        pass
                    except OSError:
                        slow_answers[k] = b""
                time.sleep(1)

        threading.Thread(target=trickle, daemon=True).start()

        def unauth():
            body = b"x" * (MIB - 1)
            for i in range(UNAUTH):
                s = attacker(IDLE + SLOW + i)
                try:
                    s.connect(("127.0.0.1", v.port))
                    s.sendall(("PUT /-/vaults/load/access-policy HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: %d\r\n\r\n" % len(body)).encode())
                    s.setblocking(False)
                    s.send(body)
                except OSError:
                    pass
                socks.append(s)

        threading.Thread(target=unauth, daemon=True).start()
        results = []

        def uploader(k):
            for j in range(3):
                data = os.urandom(MIB)
                want = vh.tree_hash(data)
                st, hd, body = v.request("POST", "/-/vaults/load/archives", data,
                                         {"x-amz-sha256-tree-hash": want},
                                         content_sha=vh.sha256(data))
                results.append(st == 201 and hd.get("x-amz-sha256-tree-hash") == want)

        t1 = time.time()
        ups = [threading.Thread(target=uploader, args=(k,)) for k in range(LEGIT)]
        for t in ups:
            t.start()
        for t in ups:
            t.join(600)
        t_legit = time.time() - t1
        # the slow senders are cut by the 10 s window
        end = time.time() + 40
        while len(slow_answers) < len(slow) and time.time() < end:
            time.sleep(0.5)
        stop.set()
        stop_poll.set()
        lat, poller_nice = lat_q.get(timeout=60)
        poller.join(10)
        rss, threads = ta.proc_status(pid)
        sampler.stop()
        for s in socks + slow:
            s.close()
        cut = sum(1 for a in slow_answers.values() if ta.status_of(a) == 408 or a == b"")
        ok = sorted(d * 1000 for _, _, d, st, _, _ in lat if st == 200)
        # the poller's own run-queue wait during each request: a client tail it explains is
        # the machine's CPU, not the server
        own = sorted(w * 1000 for _, _, _, st, w, _ in lat if st == 200)
        net = sorted((d - w) * 1000 for _, _, d, st, w, _ in lat if st == 200)
        p50, p99 = pct(ok, 0.5), pct(ok, 0.99)
        by = {}
        for kind in ("new", "kept"):
            tot = sorted(d * 1000 for k, _, d, st, _, _ in lat if k == kind and st == 200)
            con = sorted(c * 1000 for k, c, _, st, _, _ in lat if k == kind and st == 200)
            by[kind] = (len(tot), pct(tot, 0.5), pct(tot, 0.99), pct(tot, 1.0), pct(con, 0.99))
        # DescribeVault while the slow senders are cut (the watchdog answers them all in one
        # sweep): from 1.5 s before the first answer was seen (the loop looks once a second)
        # to 0.5 s after the last
        at_cut = sorted(d * 1000 for _, _, d, st, _, t in lat if st == 200 and cut_times and
                        min(cut_times) - 1.5 <= t <= max(cut_times) + 0.5)
        # the server's own time per DescribeVault (request line in to response queued), from
        # its log: what the client figure adds on top is the client's and the machine's
        srv_ms = sorted(int(m) for m in re.findall(r"-> 200 DescribeVault \((\d+) ms\)",
                                                   v.log()))
        ta.figure("load: %d idle (connected in %.1f s), %d slow senders (%d cut), %d "
                  "unauthenticated 1 MiB bodies, %d uploaders x 3 MiB (%d/%d verified in %.1f s); "
                  "DescribeVault n=%d p50 %.1f ms p99 %.1f ms max %.1f ms (non-200: %d), in the "
                  "server p50 %d ms p99 %d ms max %d ms; new connection each: n=%d p50 %.1f p99 %.1f "
                  "max %.1f ms (connect p99 %.1f); kept alive: n=%d p50 %.1f p99 %.1f max %.1f "
                  "ms (connect p99 %.1f); while the slow senders were cut (%.1f s): n=%d max %.1f ms; "
                  "the poller's own CPU wait per request p99 %.1f max %.1f ms, "
                  "client time less it p50 %.1f p99 %.1f ms; RSS peak %.1f MB "
                  "(end %.1f), threads peak %d (end %d); load average %.1f; generators at nice %d, "
                  "the poller at nice %d"
                  % (IDLE, t_idle, SLOW, cut, UNAUTH, LEGIT, sum(results), len(results),
                     t_legit, len(ok), p50, p99, pct(ok, 1.0), len(lat) - len(ok),
                     pct(srv_ms, 0.5), pct(srv_ms, 0.99), pct(srv_ms, 1.0),
                     *by["new"], *by["kept"],
                     max(cut_times) - min(cut_times) if cut_times else 0, len(at_cut),
                     pct(at_cut, 1.0), pct(own, 0.99), pct(own, 1.0),
                     pct(net, 0.5), pct(net, 0.99), sampler.peak_rss / 1e6, rss / 1e6, sampler.peak_threads, threads, os.getloadavg()[0], nice,
                     poller_nice))
        if os.environ.get("FLOE_LOAD_TIMELINE"):
            # FLOE_LOAD_TIMELINE=MS: the phases and every DescribeVault slower than MS ms, in
            # seconds since the idle crowd began to connect (where a tail comes from)
            slowest = float(os.environ["FLOE_LOAD_TIMELINE"])
            sys.stderr.write("TIMELINE phases: idle connected %.2f, slow senders sent %.2f, "
                             "uploads %.2f-%.2f, cut %s\n"
                             % (t_idle, t_slow - t0, t1 - t0, t1 - t0 + t_legit,
                                "%.2f-%.2f" % (min(cut_times) - t0, max(cut_times) - t0)
                                if cut_times else "-"))
            for kind, c, d, st, w, t in lat:
                if d * 1000 > slowest:
                    sys.stderr.write("TIMELINE %6.2f s %-4s %6.1f ms (connect %.1f, own CPU "
                                     "wait %.1f)\n" % (t - t0, kind, d * 1000, c * 1000, w * 1000))
        self.assertEqual(len(results), 3 * LEGIT)
        self.assertTrue(all(results))
        self.assertEqual(cut, SLOW)
        self.assertEqual(len(lat), len(ok))  # DescribeVault always answered 200
        self.assertLess(sampler.peak_rss, 256 * MIB)
        self.assertLess(sampler.peak_threads, 1000)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    ta.BIN = BIN
    unittest.main(verbosity=2)
