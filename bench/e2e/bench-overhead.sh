#!/usr/bin/env bash
# floe bench's own overhead (issue 13's target: `floe bench upload` within 5% of timing
# `floe upload` of the same size): alternately, against a fresh floe-vault each time,
#   floe upload of SIZE_MIB MiB (random bytes, page cache), timed from outside (wall clock), and
#   floe bench upload --size SIZE_MIB MiB --count 1 --warmup 0, its own MB/s,
# both with 16 MiB parts and 4 in flight, the order within each run alternating; prints the
# medians side by side and the median of the per-run ratios with a bootstrap 95% interval, with the client CPU
# (user + system seconds per GiB) of each whole command (/usr/bin/time, robust to the load of
# a shared machine where the wall clock is not) and the bench's own client CPU figure.
# Usage: bash bench/e2e/bench-overhead.sh [SIZE_MIB=256] [RUNS=5]
# BUILD=DIR uses floe and floe-vault from an existing build (default: build-bench/, built
# Release by bench/e2e/common.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-256}
RUNS=${2:-5}
. bench/e2e/common.sh
bench_setup overhead "$SIZE_MIB"

run_upload() {
    start_vault
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/up.time" "$FLOE" --endpoint-url "$url" --quiet upload \
        bench "$file" --part-size 16MiB --concurrency 4 --no-checkpoint > "$work/up.out"
    t1=$(date +%s.%N)
    echo "upload $(python3 -c "print($SIZE_MIB * 1048576 / ($t1 - $t0) / 1e6)")" >> "$work/results"
    echo "upload-cpu $(awk -v m="$SIZE_MIB" '{print ($1 + $2) * 1024 / m}' "$work/up.time")" \
        >> "$work/results"
    stop_vault
}

run_bench() {
    start_vault
    /usr/bin/time -f "%U %S" -o "$work/bench.time" "$FLOE" --endpoint-url "$url" --json bench \
        upload bench --size "${SIZE_MIB}MiB" --part-size 16MiB --concurrency 4 --count 1 \
        --warmup 0 > "$work/bench.json"
    python3 - "$work/bench.json" >> "$work/results" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
def find(o, k):  # the first value of key k anywhere in the result
    if isinstance(o, dict):
        if k in o:
            return o[k]
        o = list(o.values())
    if isinstance(o, list):
        for v in o:
            r = find(v, k)
            if r is not None:
                return r
    return None
print("bench", j["mb_per_s"])
print("bench-owncpu", find(j, "client_cpu_s_per_gib"))
PY
    echo "bench-cpu $(awk -v m="$SIZE_MIB" '{print ($1 + $2) * 1024 / m}' "$work/bench.time")" \
        >> "$work/results"
    stop_vault
}

# the two alternate, and which goes first alternates too (a pair's order is not a bias)
for run in $(seq "$RUNS"); do
    if [ $((run % 2)) = 1 ]; then
        run_upload
        run_bench
    else
        run_bench
        run_upload
    fi
done

python3 - "$work/results" "$SIZE_MIB" "$RUNS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, v = line.split()
    rows.setdefault(name, []).append(float(v))
med = {k: statistics.median(v) for k, v in rows.items()}
up, b = med["upload"], med["bench"]
uc, bc, bo = med["upload-cpu"], med["bench-cpu"], med["bench-owncpu"]
print(f"{sys.argv[2]} MiB, 16 MiB parts, 4 in flight, median of {sys.argv[3]} alternating runs")
print("| measured by | MB/s | client CPU s/GiB (whole command) | bench's own CPU s/GiB |")
print("|---|---|---|---|")
print(f"| floe upload, timed from outside | {up:.1f} | {uc:.2f} | |")
print(f"| floe bench upload, its own figure | {b:.1f} ({(b / up - 1) * 100:+.1f}%) | "
      f"{bc:.2f} ({(bc / uc - 1) * 100:+.1f}%) | {bo:.2f} ({(bo / uc - 1) * 100:+.1f}%) |")
# each run's pair (run back to back) as a ratio: the load of a shared machine moves both
# members of a pair more than it moves their ratio; its median with a bootstrap 95% interval
import random
ratios = [bb / uu for uu, bb in zip(rows["upload"], rows["bench"])]
rnd = random.Random(1)
boots = sorted(statistics.median(rnd.choices(ratios, k=len(ratios))) for _ in range(2000))
lo, hi = boots[int(0.025 * len(boots))], boots[int(0.975 * len(boots)) - 1]
print(f"bench / upload per pair: median {(statistics.median(ratios) - 1) * 100:+.1f}%, "
      f"bootstrap 95% interval {(lo - 1) * 100:+.1f}% .. {(hi - 1) * 100:+.1f}% "
      f"({len(ratios)} pairs; the target: within 5%)")
print("MB/s per run, upload:", [round(x, 1) for x in rows["upload"]])
print("MB/s per run, bench: ", [round(x, 1) for x in rows["bench"]])
PY
