#!/usr/bin/env bash
# bench/e2e/far-small-bench.sh [N=1000] [RTT_MS=100] [AWS_SAMPLE=30] [RUNS=3] - many small
# archives over an emulated far link (tools/linkem.c, RTT_MS round trip, 1 Gbit/s): floe
# backup --layout file-per-archive of N files of 1-64 KiB (one archive each, adaptive
# concurrency, no flags) against the aws CLI loop users write for it (one `aws glacier
# upload-archive` process per file), timed on the first AWS_SAMPLE files and scaled to N
# (the loop is sequential: its time per file does not depend on N). Prints the medians of
# RUNS runs: files/s of each and the ratio.
# BUILD=DIR uses floe, floe-vault and linkem of an existing build.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000}
RTT=${2:-100}
SAMPLE=${3:-30}
RUNS=${4:-3}
. bench/e2e/common.sh
bench_setup farsmall 1
linkem_setup
small_file_tree "$work/src" "$N"
start_vault
start_linkem "$RTT" 1Gbit
for run in $(seq "$RUNS"); do
    rm -f "$work/cat.db"
    t0=$(date +%s.%N)
    "$FLOE" --endpoint-url "$l" --quiet backup "$work/src" bench --catalog "$work/cat.db" \
        --no-snapshot --layout file-per-archive > "$work/out"
    t1=$(date +%s.%N)
    echo "floe $(echo "$N / ($t1 - $t0)" | bc -l)" >> "$work/results"
    t0=$(date +%s.%N)
    find "$work/src" -type f | sort | sed -n "1,${SAMPLE}p" | while read -r f; do
        aws --endpoint-url "$l" glacier upload-archive --account-id - --vault-name bench \
            --body "$f" > /dev/null
    done
    t1=$(date +%s.%N)
    echo "awscli $(echo "$SAMPLE / ($t1 - $t0)" | bc -l)" >> "$work/results"
done
python3 - "$work/results" "$N" "$RTT" "$SAMPLE" "$RUNS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    rows.setdefault(k, []).append(float(v))
f, a = statistics.median(rows["floe"]), statistics.median(rows["awscli"])
print(f"{sys.argv[2]} small archives at {sys.argv[3]} ms, median of {sys.argv[5]} "
      f"(aws CLI: first {sys.argv[4]} files, one process each)")
print(f"| floe backup (adaptive) files/s | aws CLI loop files/s | ratio | floe time for {sys.argv[2]} s | aws CLI loop for {sys.argv[2]} (scaled) s |")
print("|---|---|---|---|---|")
n = int(sys.argv[2])
print(f"| {f:.1f} | {a:.2f} | {f / a:.1f}x | {n / f:.1f} | {n / a:.0f} |")
print("floe per run:", [round(x, 1) for x in rows["floe"]], "aws per run:", [round(x, 2) for x in rows["awscli"]])
PY
