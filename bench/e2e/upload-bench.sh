#!/usr/bin/env bash
# End-to-end upload throughput to a local floe-vault on loopback, side by side in one run:
# floe upload, `aws glacier upload-archive`, a boto3 upload_archive, and one
# `openssl dgst -sha256` pass over the same cached file as the yardstick.
# Reports the median of RUNS runs: seconds, MB/s (10^6 B/s), client CPU seconds per GiB, peak
# RSS. Usage: bash bench/e2e/upload-bench.sh [SIZE_MIB=2048] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-2048}
RUNS=${2:-3}
. bench/e2e/common.sh
bench_setup upbench "$SIZE_MIB"

# measure NAME CMD...: appends "name elapsed user sys maxrss_kb" to $work/results
measure() {
    local name=$1; shift
    /usr/bin/time -f "$name %e %U %S %M" -a -o "$work/results" "$@" > "$work/out.$name" 2>"$work/err.$name" \
        || { echo "$name failed:"; cat "$work/err.$name"; exit 1; }
}

for run in $(seq "$RUNS"); do
    measure openssl openssl dgst -sha256 "$file"
    start_vault
    measure floe "$FLOE" --endpoint-url "$url" --quiet upload bench "$file"
    stop_vault
    start_vault
    measure awscli aws --endpoint-url "$url" glacier upload-archive --account-id - \
        --vault-name bench --body "$file"
    stop_vault
    start_vault
    measure boto3 python3 -c "
import boto3, sys
g = boto3.client('glacier', endpoint_url='$url')
with open('$file', 'rb') as f:
    r = g.upload_archive(vaultName='bench', body=f)
print(r['checksum'])"
    stop_vault
done

python3 - "$work/results" "$SIZE_MIB" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, e, u, s, m = line.split()
    rows.setdefault(name, []).append((float(e), float(u) + float(s), int(m)))
size = int(sys.argv[2]) * 1048576
gib = size / (1 << 30)
base = statistics.median(r[0] for r in rows["openssl"])
print(f"| tool | median s | MB/s | x openssl dgst | client CPU s/GiB | peak RSS MiB |")
print(f"|---|---|---|---|---|---|")
for name in ("openssl", "floe", "awscli", "boto3"):
    r = rows[name]
    e = statistics.median(x[0] for x in r)
    cpu = statistics.median(x[1] for x in r)
    rss = statistics.median(x[2] for x in r) / 1024
    print(f"| {name} | {e:.2f} | {size / e / 1e6:.0f} | {e / base:.2f} | {cpu / gib:.2f} | {rss:.0f} |")
PY
