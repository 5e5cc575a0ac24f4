#!/usr/bin/env python3
# Server CPU per byte of UploadArchive (curl client), from /proc/PID/stat; --perf/--strace attach to the server.
"""server_cpu.py BINARY [--size-mib 64] [--count 8] [--conns 1] [--perf OUT] [--strace OUT]
Uploads with curl, prints per-run wall and server CPU s (utime+stime from /proc)."""
import argparse, os, sys, time, tempfile, shutil, subprocess, concurrent.futures, statistics
_here = os.path.dirname(os.path.abspath(__file__)); sys.path.insert(0, os.path.join(_here, "..", "..", "tests", "vault")); sys.path.insert(0, _here)
import vault_helper as vh
import bench_vault as bv
ap = argparse.ArgumentParser()
ap.add_argument("binary"); ap.add_argument("--size-mib", type=int, default=64)
ap.add_argument("--count", type=int, default=8); ap.add_argument("--conns", type=int, default=1)
ap.add_argument("--perf"); ap.add_argument("--strace"); ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--extra", default="")
a = ap.parse_args()
size = a.size_mib * vh.MIB
body = os.urandom(size); tree, lin = vh.tree_hash(body), vh.sha256(body)
tmp = tempfile.mkdtemp(prefix="fvprof-", dir=None)
bf = os.path.join(tmp, "body.bin"); open(bf, "wb").write(body)
v = vh.Vault(a.binary, data_dir=os.path.join(tmp, "data"), extra=("--job-delay", "instant", "--log-level", "warn") + tuple(a.extra.split()))
tck = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tck, int(f[11]) / tck, int(f[12]) / tck
try:
    assert v.request("PUT", "/-/vaults/bench")[0] == 201
    bv.upload_curl(v, bf, size, tree, lin)
    side = None
    if a.perf:
        side = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2000", "-g", "-o", a.perf, "-p", str(v.proc.pid)], stderr=subprocess.DEVNULL)
        time.sleep(1)
    if a.strace:
        side = subprocess.Popen(["strace", "-f", "-c", "-w", "-o", a.strace, "-p", str(v.proc.pid)])
        time.sleep(1)
    for r in range(a.repeat):
        c0 = cpu(v.proc.pid); t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(a.conns) as ex:
            list(ex.map(lambda i: bv.upload_curl(v, bf, size, tree, lin), range(a.count)))
        dt = time.perf_counter() - t0; c1 = cpu(v.proc.pid)
        tot = a.count * size
        print("conns=%d %dx%dMiB wall %.3fs %.2f GB/s  server cpu %.2fs (u %.2f s %.2f) = %.2f ns/B" % (
            a.conns, a.count, a.size_mib, dt, tot / dt / 1e9, c1[0]-c0[0], c1[1]-c0[1], c1[2]-c0[2], (c1[0]-c0[0]) / tot * 1e9), flush=True)
    if side:
        side.send_signal(2); side.wait()
finally:
    v.close(); shutil.rmtree(tmp, ignore_errors=True)
