#!/usr/bin/env bash
# floe bench's own overhead (issue 13's target: `floe bench upload` within 5% of timing
# `floe upload` of the same size): alternately, against a fresh floe-vault each time,
#   floe upload of SIZE_MIB MiB (random bytes, page cache), timed from outside (wall clock), and
#   floe bench upload --size SIZE_MIB MiB --count 1 --warmup 0, its own MB/s,
# both with 16 MiB parts and 4 in flight; prints the medians side by side.
# Usage: bash bench/e2e/bench-overhead.sh [SIZE_MIB=256] [RUNS=5]
# BUILD=DIR uses floe and floe-vault from an existing build (default: build-bench/, built
# Release by bench/e2e/common.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-256}
RUNS=${2:-5}
. bench/e2e/common.sh
bench_setup overhead "$SIZE_MIB"

for run in $(seq "$RUNS"); do
    start_vault
    t0=$(date +%s.%N)
    "$FLOE" --endpoint-url "$url" --quiet upload bench "$file" --part-size 16MiB \
        --concurrency 4 --no-checkpoint > "$work/up.out"
    t1=$(date +%s.%N)
    echo "upload $(python3 -c "print($SIZE_MIB * 1048576 / ($t1 - $t0) / 1e6)")" >> "$work/results"
    stop_vault
    start_vault
    "$FLOE" --endpoint-url "$url" --json bench upload bench --size "${SIZE_MIB}MiB" \
        --part-size 16MiB --concurrency 4 --count 1 --warmup 0 > "$work/bench.json"
    echo "bench $(python3 -c "import json; print(json.load(open('$work/bench.json'))['mb_per_s'])")" \
        >> "$work/results"
    stop_vault
done

python3 - "$work/results" "$SIZE_MIB" "$RUNS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, v = line.split()
    rows.setdefault(name, []).append(float(v))
up, b = statistics.median(rows["upload"]), statistics.median(rows["bench"])
print(f"{sys.argv[2]} MiB, 16 MiB parts, 4 in flight, median of {sys.argv[3]} alternating runs")
print("| measured by | MB/s |")
print("|---|---|")
print(f"| floe upload, timed from outside | {up:.1f} |")
print(f"| floe bench upload, its own figure | {b:.1f} ({(b / up - 1) * 100:+.1f}%) |")
PY
