#!/usr/bin/env bash
# bench/e2e/far-migrate-bench.sh [N] [SIZE_MIB] [RUNS] [RTTS] [RATE] - `floe migrate VAULT --to
# DIR` of N archives of SIZE_MIB MiB (default 2 x 256) over an emulated far link (tools/linkem.c
# between floe and a floe-vault with instant jobs), for each round trip in RTTS (default
# "50 100" ms) with a RATE cap (default 1Gbit), alternating in each run: migrate with no
# --concurrency (the default), migrate --concurrency 4, and `floe retrieve` of the same archives
# one after another (each its job, wait and verified download; its default concurrency), plus
# with BASE=DIR the migrate of another build (e.g. main before a change: build_rev in common.sh).
# Every command starts from nothing (new destination, new catalog), so the figures include the
# inventory and the jobs: the same requests for both migrates. Prints per round trip the median
# MB/s (10^6 B/s, N x SIZE_MIB over the wall time) of RUNS runs (default 3), floe's CPU (user +
# sys) per GiB, and how many archives took their SHA-256 in the download's pass.
# BUILD=DIR uses floe, floe-vault and linkem of an existing build.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-2}
SIZE_MIB=${2:-256}
RUNS=${3:-3}
RTTS=${4:-50 100}
RATE=${5:-1Gbit}
. bench/e2e/common.sh
bench_setup farmigrate "$SIZE_MIB"
linkem_setup

start_vault
ids=()
for i in $(seq "$N"); do
    ids+=("$("$FLOE" --endpoint-url "$url" --json upload --no-checkpoint bench "$file" \
        --description "far/$i.bin" |
        python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["archive_id"])')")
done

one() { # RTT NAME CMD...: appends "rtt name seconds cpu-seconds archives-hashed-in-the-pass"
    local rtt=$1 name=$2; shift 2
    local t0 t1
    rm -rf "$work/m" "$work/r" "$work/cache"
    mkdir -p "$work/r"
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/cpu" "$@" > "$work/out" 2> "$work/err" ||
        { echo "$name at $rtt ms failed:"; tail -5 "$work/err"; exit 1; }
    t1=$(date +%s.%N)
    echo "$rtt $name $(echo "$t1 - $t0" | bc) $(awk '{print $1 + $2}' "$work/cpu")" \
        "$(grep -c "SHA-256 taken while downloading" "$work/err" || true)" >> "$work/results"
    grep -o "segments in flight: up to [0-9]*" "$work/err" | sed "s/^/  $rtt $name: /" || true
}

for run in $(seq "$RUNS"); do
    for rtt in $RTTS; do
        start_linkem "$rtt" "$RATE"
        one "$rtt" migrate "$FLOE" --endpoint-url "$l" migrate bench --to "$work/m" \
            --poll-interval 1s
        one "$rtt" migrate-c4 "$FLOE" --endpoint-url "$l" migrate bench --to "$work/m" \
            --poll-interval 1s --concurrency 4
        if [ -n "${BASE:-}" ]; then
            one "$rtt" base-migrate "$BASE/floe" --endpoint-url "$l" migrate bench --to "$work/m" \
                --poll-interval 1s
        fi
        one "$rtt" retrieve bash -c 'for id in "${@:3}"; do "$1" --endpoint-url "$2" retrieve \
            bench --archive-id="$id" --tier Expedited -o "'"$work"'/r/$id" || exit 1; done' \
            _ "$FLOE" "$l" "${ids[@]}"
        stop_linkem
    done
done
stop_vault
python3 - "$work/results" "$((N * SIZE_MIB * 1048576))" "$N" "$SIZE_MIB" "$RATE" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rtt, name, s, cpu, inpass = line.split()
    rows.setdefault((int(rtt), name), []).append((float(s), float(cpu), int(inpass)))
b = int(sys.argv[2])
names = [n for n in ("migrate", "migrate-c4", "base-migrate", "retrieve") if any(k[1] == n for k in rows)]
print(f"{sys.argv[3]} x {sys.argv[4]} MiB, cap {sys.argv[5]}: MB/s (median), floe CPU s/GiB "
      "(median), archives with the SHA-256 in the pass (min of the runs)")
print("| RTT ms | " + " | ".join(names) + " |")
print("|---" * (len(names) + 1) + "|")
for rtt in sorted({k[0] for k in rows}):
    cells = []
    for n in names:
        r = rows[(rtt, n)]
        mbs = b / statistics.median(x[0] for x in r) / 1e6
        cpu = statistics.median(x[1] for x in r) / (b / 2**30)
        cell = f"{mbs:.1f} ({cpu:.2f} s/GiB"
        cell += f", {min(x[2] for x in r)} in pass)" if n != "retrieve" else ")"
        cells.append(cell)
    print(f"| {rtt} | " + " | ".join(cells) + " |")
PY
