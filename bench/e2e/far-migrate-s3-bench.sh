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
# SMALL=1: N small archives instead (default 1000, of 1-64 KiB, random, seeded: the files of
# small_file_tree uploaded with `floe upload`), S3 behind its own linkem with the same round
# trip (a migration run far from both), no retrieve column, archives/s and client CPU ms per
# archive (medians) - the small-archive batches of docs/migrate.md "To S3".
set -euo pipefail
cd "$(dirname "$0")/../.."
SMALL=${SMALL:-}
N=${1:-${SMALL:+1000}}
N=${N:-2}
SIZE_MIB=${2:-256}
[ -z "$SMALL" ] || SIZE_MIB=1
RUNS=${3:-3}
RTTS=${4:-0 50 100 200}
RATE=${5:-1Gbit}
. bench/e2e/common.sh
bench_setup farmigs3 "$SIZE_MIB"
bdir=${BUILD:-build-bench}
cmake --build "$bdir" -j"$(nproc)" --target linkem >/dev/null
LINKEM=$(cd "$bdir" && pwd)/linkem
lpid="" mpid="" slpid=""
trap '[ -z "$lpid" ] || kill "$lpid" 2>/dev/null || true
      [ -z "$slpid" ] || kill "$slpid" 2>/dev/null || true; stop_s3; bench_cleanup' EXIT
start_s3

start_vault
ids=()
if [ -n "$SMALL" ]; then
    small_file_tree "$work/tree" "$N"
    bytes=$(du -sb --apparent-size "$work/tree" | cut -f1)
    (cd "$work/tree" && "$FLOE" --endpoint-url "$url" upload --no-checkpoint bench ./*/* \
        >/dev/null)
else
    bytes=$((N * SIZE_MIB * 1048576))
    for i in $(seq "$N"); do
        ids+=("$("$FLOE" --endpoint-url "$url" --json upload --no-checkpoint bench "$file" \
            --description "far/$i.bin" |
            python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["archive_id"])')")
    done
fi

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
        --s3-endpoint-url "$sl" --storage-class STANDARD --poll-interval 1s
    [ "${S3:-moto}" = sink ] || aws --endpoint-url "$murl" s3 rb --force "s3://floe-far-$b" >/dev/null
}

for run in $(seq "$RUNS"); do
    for rtt in $RTTS; do
        if [ "$rtt" = 0 ]; then l=$url; else start_linkem "$rtt" "$RATE"; fi
        sl=$murl
        if [ -n "$SMALL" ] && [ "$rtt" != 0 ]; then # small archives: S3 far away too
            rm -f "$work/slport"
            "$LINKEM" --upstream "${murl#http://}" --port-file "$work/slport" --rtt-ms "$rtt" \
                --rate "$RATE" > "$work/slinkem.log" 2>&1 &
            slpid=$!
            for _ in $(seq 100); do [ -s "$work/slport" ] && break; sleep 0.05; done
            sl=http://127.0.0.1:$(cat "$work/slport")
        fi
        migrate "$rtt" migrate "$FLOE"
        [ -z "${BASE:-}" ] || migrate "$rtt" base-migrate "$BASE/floe"
        [ -n "$SMALL" ] || one "$rtt" retrieve bash -c 'for id in "${@:3}"; do "$1" --endpoint-url "$2" retrieve \
            bench --archive-id="$id" --tier Expedited -o "'"$work"'/r/$id" || exit 1; done' \
            _ "$FLOE" "$l" "${ids[@]}"
        [ "$rtt" = 0 ] || stop_linkem
        [ -z "$slpid" ] || { kill "$slpid"; wait "$slpid" 2>/dev/null || true; slpid=""; }
    done
    echo "run $run done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
stop_vault
if [ -n "$SMALL" ]; then
    rtt_table "$work/results" "$bytes" "$N" \
        "$N small archives ($((bytes / 1024)) KiB), cap $RATE (RTT 0: no linkem): archives/s (median), floe CPU ms per archive (median)" \
        migrate base-migrate
else
    rtt_table "$work/results" "$bytes" 0 \
        "$N x $SIZE_MIB MiB, cap $RATE (RTT 0: no linkem): MB/s (median), floe CPU s/GiB (median), most ranges in flight (the runs' peaks)" \
        migrate base-migrate retrieve
fi
