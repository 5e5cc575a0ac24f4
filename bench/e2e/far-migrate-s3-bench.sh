#!/usr/bin/env bash
# bench/e2e/far-migrate-s3-bench.sh [N] [SIZE_MIB] [RUNS] [RTTS] [RATE] - `floe migrate VAULT
# --to s3://BUCKET/P` of N archives of SIZE_MIB MiB (default 2 x 256) from a floe-vault with
# instant jobs into moto's S3 server, with an emulated far link (tools/linkem.c) between floe
# and the vault for each round trip in RTTS (default "0 50 100 200" ms; 0 = no linkem, straight
# to the vault) with a RATE cap (default 1Gbit); S3 stays on loopback: moto's S3 server, or with
# S3=sink bench/e2e/s3sink.py (checks each body's SHA-256 and keeps nothing: moto's Python
# storage and hashing of every byte bound the copy near 20 MB/s). Alternating in each run:
# migrate with no --concurrency (the default), with BASE=DIR the migrate of another build (e.g.
# main before a change), and `floe retrieve` of the same archives one after the other through
# the same link (each its job, wait and verified download to a file). Every migrate starts from
# nothing (new bucket, new catalog), so the figures include the inventory and the jobs. Prints
# per round trip the median MB/s (10^6 B/s, N x SIZE_MIB over the wall time) of RUNS runs
# (default 3), floe's CPU (user + sys) per GiB, and the most ranges in flight (default only).
# BUILD=DIR uses floe, floe-vault and linkem of an existing build.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-2}
SIZE_MIB=${2:-256}
RUNS=${3:-3}
RTTS=${4:-0 50 100 200}
RATE=${5:-1Gbit}
. bench/e2e/common.sh
bench_setup farmigs3 "$SIZE_MIB"
bdir=${BUILD:-build-bench}
cmake --build "$bdir" -j"$(nproc)" --target linkem >/dev/null
LINKEM=$(cd "$bdir" && pwd)/linkem
lpid="" mpid=""
stop_all() {
    [ -z "$lpid" ] || kill "$lpid" 2>/dev/null || true
    [ -z "$mpid" ] || { kill "$mpid"; wait "$mpid" 2>/dev/null || true; }
    bench_cleanup
}
trap stop_all EXIT
if [ "${S3:-moto}" = sink ]; then # bench/e2e/s3sink.py: checks each body's SHA-256, keeps nothing
    python3 bench/e2e/s3sink.py "$work/sport" > "$work/sink.log" 2>&1 &
    mpid=$!
    for _ in $(seq 200); do [ -s "$work/sport" ] && break; sleep 0.05; done
    murl=http://127.0.0.1:$(cat "$work/sport")
else
    mport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m moto.server -H 127.0.0.1 -p "$mport" > "$work/moto.log" 2>&1 &
    mpid=$!
    murl=http://127.0.0.1:$mport
    for _ in $(seq 200); do curl -s -o /dev/null "$murl" && break; sleep 0.1; done
fi

start_vault
ids=()
for i in $(seq "$N"); do
    ids+=("$("$FLOE" --endpoint-url "$url" --json upload --no-checkpoint bench "$file" \
        --description "far/$i.bin" |
        python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["archive_id"])')")
done

b=0
one() { # RTT NAME CMD...: appends "rtt name seconds cpu-seconds peak"
    local rtt=$1 name=$2; shift 2
    local t0 t1
    rm -rf "$work/r" "$work/cache"
    mkdir -p "$work/r"
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/cpu" "$@" > "$work/out" 2> "$work/err" ||
        { echo "$name at $rtt ms failed:"; tail -5 "$work/err"; exit 1; }
    t1=$(date +%s.%N)
    local peak
    peak=$({ grep -o "ranges in flight: up to [0-9]*" "$work/err" || true; } |
        awk '{print $NF}' | sort -n | tail -1)
    echo "$rtt $name $(echo "$t1 - $t0" | bc) $(awk '{print $1 + $2}' "$work/cpu") ${peak:-0}" \
        >> "$work/results"
}
migrate() { # RTT NAME FLOE_BINARY
    b=$((b + 1))
    [ "${S3:-moto}" = sink ] ||
        aws --endpoint-url "$murl" s3api create-bucket --bucket "floe-far-$b" >/dev/null
    one "$1" "$2" "$3" --endpoint-url "$l" migrate bench --to "s3://floe-far-$b/m" \
        --s3-endpoint-url "$murl" --storage-class STANDARD --poll-interval 1s
    [ "${S3:-moto}" = sink ] || aws --endpoint-url "$murl" s3 rb --force "s3://floe-far-$b" >/dev/null
}

for run in $(seq "$RUNS"); do
    for rtt in $RTTS; do
        if [ "$rtt" = 0 ]; then l=$url; else start_linkem "$rtt" "$RATE"; fi
        migrate "$rtt" migrate "$FLOE"
        [ -z "${BASE:-}" ] || migrate "$rtt" base-migrate "$BASE/floe"
        one "$rtt" retrieve bash -c 'for id in "${@:3}"; do "$1" --endpoint-url "$2" retrieve \
            bench --archive-id="$id" --tier Expedited -o "'"$work"'/r/$id" || exit 1; done' \
            _ "$FLOE" "$l" "${ids[@]}"
        [ "$rtt" = 0 ] || stop_linkem
    done
    echo "run $run done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
stop_vault
python3 - "$work/results" "$((N * SIZE_MIB * 1048576))" "$N" "$SIZE_MIB" "$RATE" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rtt, name, s, cpu, peak = line.split()
    rows.setdefault((int(rtt), name), []).append((float(s), float(cpu), int(peak)))
b = int(sys.argv[2])
names = [n for n in ("migrate", "base-migrate", "retrieve") if any(k[1] == n for k in rows)]
print(f"{sys.argv[3]} x {sys.argv[4]} MiB, cap {sys.argv[5]} (RTT 0: no linkem): MB/s (median), "
      "floe CPU s/GiB (median), most ranges in flight (the runs' peaks)")
print("| RTT ms | " + " | ".join(names) + " |")
print("|---" * (len(names) + 1) + "|")
for rtt in sorted({k[0] for k in rows}):
    cells = []
    for n in names:
        r = rows[(rtt, n)]
        mbs = b / statistics.median(x[0] for x in r) / 1e6
        cpu = statistics.median(x[1] for x in r) / (b / 2**30)
        cell = f"{mbs:.1f} ({cpu:.2f} s/GiB"
        cell += f", up to {'/'.join(str(x[2]) for x in r)})" if n == "migrate" else ")"
        cells.append(cell)
    print(f"| {rtt} | " + " | ".join(cells) + " |")
PY
