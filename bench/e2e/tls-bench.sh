#!/usr/bin/env bash
# What TLS costs: floe upload and floe retrieve of one cached file to and from a local
# floe-vault over HTTP and over HTTPS (floe-vault --tls-cert, a CA made here with openssl),
# the two alternating in one run. Reports the median of RUNS runs per case: seconds, MB/s
# (10^6 B/s), client CPU seconds per GiB (floe: user + sys), server CPU seconds per GiB
# (floe-vault's utime + stime from /proc across the command).
# Usage: bash bench/e2e/tls-bench.sh [SIZE_MIB=2048] [RUNS=3]   (BUILD=DIR: an existing build)
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-2048}
RUNS=${2:-3}
. bench/e2e/common.sh
bench_setup tlsbench "$SIZE_MIB"

# the CA and a certificate for 127.0.0.1
(cd "$work" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj "/CN=floe bench CA" 2>/dev/null &&
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" \
        2>/dev/null &&
    printf "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" > ext.cnf &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
        -days 2 -extfile ext.cnf 2>/dev/null)

# start MODE: a floe-vault over http or https; sets $vpid and $url, creates vault "bench"
start() {
    local tls=()
    [ "$1" = https ] && tls=(--tls-cert "$work/srv.pem" --tls-key "$work/srv.key")
    rm -rf "$work/vd" "$work/port"
    "$VAULT" --listen 127.0.0.1:0 --data-dir "$work/vd" --port-file "$work/port" \
        --job-delay instant "${tls[@]}" > "$work/vault.log" 2>&1 &
    vpid=$!
    for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
    [ -s "$work/port" ] || { echo "floe-vault did not start:"; cat "$work/vault.log"; exit 1; }
    url=$1://127.0.0.1:$(cat "$work/port")
    "$FLOE" --endpoint-url "$url" --ca-bundle "$work/ca.pem" vault create bench >/dev/null
}

server_ticks() { awk '{print $14 + $15}' "/proc/$vpid/stat"; }

# measure NAME CMD...: appends "name elapsed client_cpu server_cpu" to $work/results
measure() {
    local name=$1; shift
    local t0 t1
    t0=$(server_ticks)
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > "$work/out.$name" 2>"$work/err.$name" \
        || { echo "$name failed:"; cat "$work/err.$name"; exit 1; }
    t1=$(server_ticks)
    read -r e u s < "$work/time"
    echo "$name $e $(echo "$u + $s" | bc) $(echo "($t1 - $t0) / $(getconf CLK_TCK)" | bc -l)" \
        >> "$work/results"
}

for run in $(seq "$RUNS"); do
    for mode in http https; do
        start "$mode"
        measure "upload-$mode" "$FLOE" --endpoint-url "$url" --ca-bundle "$work/ca.pem" \
            --json --quiet upload bench "$file"
        aid=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['archive_id'])" "$work/out.upload-$mode")
        rm -f "$work/restored"
        measure "retrieve-$mode" "$FLOE" --endpoint-url "$url" --ca-bundle "$work/ca.pem" \
            --quiet retrieve bench --archive-id="$aid" -o "$work/restored" --tier Expedited
        cmp -s "$file" "$work/restored" || { echo "retrieve-$mode: the file differs"; exit 1; }
        stop_vault
    done
done

python3 - "$work/results" "$SIZE_MIB" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, e, c, s = line.split()
    rows.setdefault(name, []).append((float(e), float(c), float(s)))
size = int(sys.argv[2]) * 1048576
gib = size / (1 << 30)
print("| case | median s | MB/s | client CPU s/GiB | server CPU s/GiB |")
print("|---|---|---|---|---|")
for name in ("upload-http", "upload-https", "retrieve-http", "retrieve-https"):
    r = rows[name]
    e = statistics.median(x[0] for x in r)
    c = statistics.median(x[1] for x in r)
    s = statistics.median(x[2] for x in r)
    print(f"| {name} | {e:.2f} | {size / e / 1e6:.0f} | {c / gib:.2f} | {s / gib:.2f} |")
PY
