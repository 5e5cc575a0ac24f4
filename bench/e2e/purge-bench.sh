#!/usr/bin/env bash
# `floe vault purge` against a local floe-vault on loopback, side by side in one run:
#   - a vault of ARCHIVES tiny archives and one of ARCHIVES/10, each created through floe-vault's
#     API (UploadArchive, 1-byte bodies, several processes of boto3 threads), then purged by
#     floe: deletions per second and the client's peak RSS for both sizes (RSS should not grow
#     with the vault: the inventory is streamed, the deletions are a bounded window);
#   - a boto3 loop of delete_archive (one request at a time, one process), timed over SAMPLE
#     archives and scaled.
# Usage: bash bench/e2e/purge-bench.sh [ARCHIVES=1000000] [SAMPLE=2000]
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHIVES=${1:-1000000}
SAMPLE=${2:-2000}
SMALL=$((ARCHIVES / 10))
. bench/e2e/common.sh
bench_setup purgebench 1

load() { # load VAULT COUNT: COUNT 1-byte archives through the API; prints archives/s
    "$FLOE" --endpoint-url "$url" vault create "$1" >/dev/null
    python3 - "$url" "$1" "$2" <<'PY'
import boto3, multiprocessing, sys, threading, time
from botocore.config import Config
url, vault, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
PROCS, THREADS = 3, 12

def proc(count):
    g = boto3.client("glacier", endpoint_url=url, config=Config(max_pool_connections=THREADS))
    per = [count // THREADS + (1 if i < count % THREADS else 0) for i in range(THREADS)]
    def run(k):
        for _ in range(k):
            g.upload_archive(vaultName=vault, body=b"x")
    ts = [threading.Thread(target=run, args=(k,)) for k in per]
    for t in ts: t.start()
    for t in ts: t.join()

t = time.time()
ps = [multiprocessing.Process(target=proc, args=(n // PROCS + (1 if i < n % PROCS else 0),))
      for i in range(PROCS)]
for p in ps: p.start()
for p in ps: p.join()
if any(p.exitcode for p in ps):
    sys.exit("loading failed")
print("loaded %d archives into %s: %.0f archives/s" % (n, vault, n / (time.time() - t)))
PY
}

purge() { # purge NAME VAULT: "NAME wall user sys maxrss_kib"
    /usr/bin/time -f "$1 %e %U %S %M" -o "$work/t.$1" "$FLOE" --endpoint-url "$url" --json \
        vault purge "$2" --yes > "$work/out.$1" 2>"$work/err.$1" ||
        { echo "$1 failed:"; tail -5 "$work/err.$1"; exit 1; }
    cat "$work/t.$1"
}

start_vault
load small "$SMALL"
purge floe_small small
load bench "$ARCHIVES"
purge floe_full bench
load sample "$SAMPLE"
python3 - "$url" "$work/t.boto3" <<'PY'
import boto3, json, sys, time
url, out = sys.argv[1], sys.argv[2]
g = boto3.client("glacier", endpoint_url=url)
job = g.initiate_job(vaultName="sample", jobParameters={"Type": "inventory-retrieval"})["jobId"]
ids = [a["ArchiveId"] for a in json.loads(
    g.get_job_output(vaultName="sample", jobId=job)["body"].read())["ArchiveList"]]
t = time.time()
for a in ids:
    g.delete_archive(vaultName="sample", archiveId=a)
e = time.time() - t
open(out, "w").write("boto3 %f %d\n" % (e, len(ids)))
print("boto3 loop: %d deletions in %.2f s" % (len(ids), e))
PY
stop_vault

python3 - "$work" "$ARCHIVES" "$SMALL" <<'PY'
import json, sys
work, n, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
for name, count in (("floe_small", small), ("floe_full", n)):
    _, e, u, s, rss = open("%s/t.%s" % (work, name)).read().split()[-5:]
    summary = json.loads(open("%s/out.%s" % (work, name)).read().splitlines()[-1])
    assert summary["deleted"] + summary["already_gone"] == count, summary
    rows[name] = (count, float(e), float(u) + float(s), int(rss) / 1024)
_, e, k = open("%s/t.boto3" % work).read().split()
print("| client | archives | wall s | deletions/s | client CPU us/deletion | peak RSS MiB |")
print("|---|---|---|---|---|---|")
for name, (count, e2, cpu, rss) in rows.items():
    print("| %s | %d | %.2f | %.0f | %.1f | %.1f |" % (name, count, e2, count / e2,
                                                       cpu * 1e6 / count, rss))
boto = int(k) / float(e)
print("| boto3 delete_archive loop (sample) | %s | %.2f | %.0f | - | - |" % (k, float(e), boto))
full = rows["floe_full"]
print("\nfloe / boto3 loop: %.1fx; peak RSS %d vs %d archives: %.1f vs %.1f MiB"
      % (full[0] / full[1] / boto, n, small, full[3], rows["floe_small"][3]))
PY
