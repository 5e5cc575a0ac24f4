#!/usr/bin/env bash
# `floe vault purge` against a local floe-vault on loopback, side by side in one run:
#   - a vault of ARCHIVES tiny archives and one of ARCHIVES/10, each created through floe-vault's
#     API (UploadArchive, 1-byte bodies, 32 in flight from bench/e2e/archive-loader.c), then purged by
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

# The loader: libfloe's client in C with many uploads in flight (bench/e2e/archive-loader.c),
# built here against the build's libfloe.
build_bench_tool archive-loader

load() { # load VAULT COUNT: COUNT 1-byte archives through the API; prints archives/s
    "$FLOE" --endpoint-url "$url" vault create "$1" >/dev/null
    "$work/archive-loader" "$url" "$1" "$2" 32
}

purge() { # purge NAME VAULT: "NAME wall user sys maxrss_kib"
    /usr/bin/time -f "$1 %e %U %S %M" -o "$work/t.$1" "$FLOE" --endpoint-url "$url" --json \
        vault purge "$2" --yes > "$work/out.$1" 2>"$work/err.$1" ||
        { echo "$1 failed:"; tail -5 "$work/err.$1"; exit 1; }
    cat "$work/t.$1"
}

boto3_loop() { # boto3_loop VAULT: one delete_archive at a time over the whole vault
    python3 - "$url" "$1" "$work/t.boto3.$1" <<'PY'
import boto3, json, sys, time
url, vault, out = sys.argv[1], sys.argv[2], sys.argv[3]
g = boto3.client("glacier", endpoint_url=url)
job = g.initiate_job(vaultName=vault, jobParameters={"Type": "inventory-retrieval"})["jobId"]
ids = [a["ArchiveId"] for a in json.loads(
    g.get_job_output(vaultName=vault, jobId=job)["body"].read())["ArchiveList"]]
t = time.time()
for a in ids:
    g.delete_archive(vaultName=vault, archiveId=a)
e = time.time() - t
open(out, "w").write("boto3 %f %d\n" % (e, len(ids)))
print("boto3 loop (%s): %d deletions in %.2f s" % (vault, len(ids), e))
PY
}

# Everything is loaded first; then the boto3 samples alternate with floe's purges, so each floe
# figure has a boto3 figure taken just before and just after it at the machine's load then.
start_vault
load small "$SMALL"
load bench "$ARCHIVES"
for i in 1 2 3; do load "sample$i" "$SAMPLE"; done
boto3_loop sample1
purge floe_small small
boto3_loop sample2
purge floe_full bench
boto3_loop sample3
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
boto = []
for i in (1, 2, 3):
    _, e, k = open("%s/t.boto3.sample%d" % (work, i)).read().split()
    boto.append((int(k), float(e)))
print("| client | archives | wall s | deletions/s | client CPU us/deletion | peak RSS MiB |")
print("|---|---|---|---|---|---|")
for name, (count, e2, cpu, rss) in rows.items():
    print("| %s | %d | %.2f | %.0f | %.1f | %.1f |" % (name, count, e2, count / e2,
                                                       cpu * 1e6 / count, rss))
for i, (k, e) in enumerate(boto, 1):
    print("| boto3 delete_archive loop (sample %d) | %d | %.2f | %.0f | - | - |" % (i, k, e, k / e))
# floe_small sits between samples 1 and 2, floe_full between 2 and 3: each against the faster
# of its two neighbours (the conservative ratio).
near = {"floe_small": max(boto[0][0] / boto[0][1], boto[1][0] / boto[1][1]),
        "floe_full": max(boto[1][0] / boto[1][1], boto[2][0] / boto[2][1])}
full = rows["floe_full"]
for name, (count, e2, _, _) in rows.items():
    print("%s / the faster neighbouring boto3 loop: %.1fx" % (name, count / e2 / near[name]))
print("peak RSS %d vs %d archives: %.1f vs %.1f MiB" % (n, small, full[3], rows["floe_small"][3]))
PY
