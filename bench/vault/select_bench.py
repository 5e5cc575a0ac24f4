#!/usr/bin/env python3
"""Select jobs in floe-vault beside grep -c and awk over the same CSV (docs/performance.md,
"Select jobs"). Generates a CSV of SIZE_MIB (rows "id,value,name"), uploads it to a floe-vault
started here (--select-output-dir in a temporary directory, --job-delay instant), then for each
of RUNS rounds, alternating, times:
  grep -c ,9 FILE | cat           (a yardstick: one pass, no parsing)
  awk -F, '$2 > N {print $1","$3}' FILE > /dev/null
  the select job SELECT _1, _3 FROM ARCHIVE WHERE CAST(_2 AS INT) > N with --select-workers 1
  and 2 (InitiateJob to Succeeded, as DescribeJob reports it),
and prints the medians in MB/s (10^6 bytes), with floe-vault's peak RSS per worker count. The
CPU seconds of each (user + system: the children's rusage for grep and awk, floe-vault's
/proc/PID/stat across the job) give MB per CPU second, the per-core rate, which a busy shared
machine does not distort the way it distorts the wall time.

With OTHER_FLOE_VAULT (another build, e.g. the commit before a change), its two select jobs
run in the same rounds, alternating with this build's, as "other select ...".

With FLOE_SELECT_BENCH_PERF=stat or record in the environment, perf stat (task clock, context
switches, migrations, page faults, major faults, cache misses) or perf record -g is attached
to floe-vault across each select job; the files go to FLOE_SELECT_BENCH_PERF_DIR (default .)
as perf-stat-LABEL-ROUND.txt or perf-LABEL-ROUND.data.

usage: select_bench.py FLOE_VAULT [SIZE_MIB=1024] [RUNS=3] [OTHER_FLOE_VAULT]
"""
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "helpers"))
import servers  # noqa: E402
import vault_helper as vh  # noqa: E402

BIN = sys.argv[1]
SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
OTHER = sys.argv[4] if len(sys.argv) > 4 else None
# (label, binary, --select-workers) of every select job a round runs
CONFIGS = [("select 1 worker", BIN, 1), ("select 2 workers", BIN, 2)]
if OTHER:
    CONFIGS += [("other select 1 worker", OTHER, 1), ("other select 2 workers", OTHER, 2)]
N = 500000

work = servers.tempdir("floe-select-bench-")
path = os.path.join(work, "data.csv")
rng = random.Random(1)
names = ["alpha", "beta", "gamma", "delta", "a somewhat longer name", "x"]
with open(path, "w") as f:
    i = 0
    chunk = []
    written = 0
    while written < SIZE << 20:
        line = "%d,%d,%s\n" % (i, rng.randrange(1000000), names[i % len(names)])
        chunk.append(line)
        written += len(line)
        i += 1
        if len(chunk) == 10000:
            f.write("".join(chunk))
            chunk = []
    f.write("".join(chunk))
size = os.path.getsize(path)
print("# %d bytes, %d rows" % (size, i), flush=True)


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def timed(cmd):
    t = time.monotonic()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.monotonic() - t, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


results = {"grep -c": [], "awk": []}
results.update((label, []) for label, _, _ in CONFIGS)
rss = {}
vaults = {}
for label, binary, workers in CONFIGS:
    out = servers.tempdir("floe-select-bench-out-")
    os.mkdir(os.path.join(out, "bench"))
    v = vh.Vault(binary, extra=("--job-delay", "instant", "--select-output-dir", out,
                             "--select-workers", str(workers)))
    c = v.client()
    c.create_vault(vaultName="b")
    with open(path, "rb") as f:
        up = c.initiate_multipart_upload(vaultName="b", partSize=str(64 << 20))["uploadId"]
        off = 0
        hashes = []
        while True:
            part = f.read(64 << 20)
            if not part:
                break
            c.upload_multipart_part(vaultName="b", uploadId=up, body=part,
                                    range="bytes %d-%d/*" % (off, off + len(part) - 1))
            off += len(part)
    with open(path, "rb") as f:
        th = vh.tree_hash(f.read())
    aid = c.complete_multipart_upload(vaultName="b", uploadId=up, archiveSize=str(size),
                                      checksum=th)["archiveId"]
    vaults[label] = (v, c, aid, out)


PERF = os.environ.get("FLOE_SELECT_BENCH_PERF")
PERF_DIR = os.environ.get("FLOE_SELECT_BENCH_PERF_DIR", ".")


def perf_attach(pid, name):
    if PERF == "stat":
        cmd = ["perf", "stat", "-e", "task-clock,context-switches,cpu-migrations,page-faults,"
               "major-faults,cache-misses", "-o", os.path.join(PERF_DIR, "perf-stat-%s.txt" % name)]
    elif PERF == "record":
        cmd = ["perf", "record", "-g", "-o", os.path.join(PERF_DIR, "perf-%s.data" % name)]
    else:
        return None
    p = subprocess.Popen(cmd + ["-p", str(pid)], stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the job starts
    return p


def run_select(label, rnd):
    v, c, aid, out = vaults[label]
    perf = perf_attach(v.proc.pid, "%s-%d" % (label.replace(" ", "-"), rnd))
    t = time.monotonic()
    cpu = proc_cpu(v.proc.pid)
    jid = c.initiate_job(vaultName="b", jobParameters={
        "Type": "select", "ArchiveId": aid,
        "SelectParameters": {"Expression": "SELECT _1, _3 FROM ARCHIVE WHERE CAST(_2 AS INT) > %d"
                             % N, "ExpressionType": "SQL",
                             "InputSerialization": {"csv": {}},
                             "OutputSerialization": {"csv": {}}},
        "OutputLocation": {"S3": {"BucketName": "bench", "Prefix": "p"}}})["jobId"]
    while True:
        d = c.describe_job(vaultName="b", jobId=jid)
        if d["Completed"]:
            break
        time.sleep(0.01)
    dt = time.monotonic() - t
    cpu = proc_cpu(v.proc.pid) - cpu
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
    assert d["StatusCode"] == "Succeeded", d
    subprocess.run(["rm", "-rf", os.path.join(out, "bench", "p")], check=True)
    return dt, cpu


for r in range(RUNS):
    # through a pipe: GNU grep stops at the first match when its output is /dev/null
    results["grep -c"].append(timed("grep -c ,9 %s | cat" % path))
    results["awk"].append(timed("awk -F, '$2 > %d {print $1\",\"$3}' %s" % (N, path)))
    for label, _, _ in CONFIGS:
        results[label].append(run_select(label, r))
for label, _, _ in CONFIGS:
    rss[label] = peak_rss_kib(vaults[label][0].proc.pid)
    vaults[label][0].close()
print("%-24s %10s %10s %12s %14s" % ("", "median s", "MB/s", "median CPU s", "MB per CPU s"))
for k, ts in results.items():
    m = statistics.median(t for t, _ in ts)
    cpu = statistics.median(c for _, c in ts)
    print("%-24s %10.3f %10.1f %12.3f %14.1f" % (k, m, size / m / 1e6, cpu,
                                                size / cpu / 1e6 if cpu else 0))
for label, _, _ in CONFIGS:
    print("floe-vault peak RSS, %s: %d MiB" % (label, rss[label] // 1024))
print("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
