#!/usr/bin/env bash
# `floe migrate VAULT --to s3://...` from a local floe-vault (instant jobs) into moto's S3 server,
# both on loopback, against `aws s3 cp` of the same bytes from a local file to the same server,
# alternating RUNS times: medians of the wall time (the overhead of floe's streaming and
# verification) and floe's client CPU (user + system) per GiB copied.
# Usage: bash bench/e2e/migrate-s3-bench.sh [N=4] [MIB=64] [RUNS=3]   (BUILD=DIR: an existing build)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-4}
MIB=${2:-64}
RUNS=${3:-3}
. bench/e2e/common.sh
bench_setup migs3bench "$MIB"
mpid=""
trap 'stop_s3; bench_cleanup' EXIT
start_s3
start_vault
for i in $(seq "$N"); do
    "$FLOE" --endpoint-url "$url" upload bench "$file" --description "big/$i.bin" >/dev/null
done
for r in $(seq "$RUNS"); do
    aws --endpoint-url "$murl" s3api create-bucket --bucket "floe-bench-$r" >/dev/null
    rm -rf "$work/cache"
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/cpu" "$FLOE" --endpoint-url "$url" migrate bench \
        --to "s3://floe-bench-$r/m" --s3-endpoint-url "$murl" --storage-class STANDARD \
        --poll-interval 1s >/dev/null 2>"$work/err" || { tail -5 "$work/err"; exit 1; }
    t1=$(date +%s.%N)
    echo "floe $(python3 -c "print($t1 - $t0)") $(cat "$work/cpu")" >> "$work/times"
    t0=$(date +%s.%N)
    for i in $(seq "$N"); do
        aws --endpoint-url "$murl" s3 cp "$file" "s3://floe-bench-$r/cp/$i.bin" >/dev/null
    done
    t1=$(date +%s.%N)
    echo "aws $(python3 -c "print($t1 - $t0)")" >> "$work/times"
done
python3 - "$work/times" "$((N * MIB * 1048576))" "$N" "$MIB" <<'PY'
import statistics, sys
floe, aws, cpu = [], [], []
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "floe":
        floe.append(float(f[1])); cpu.append(float(f[2]) + float(f[3]))
    else:
        aws.append(float(f[1]))
b = int(sys.argv[2])
m, a, c = statistics.median(floe), statistics.median(aws), statistics.median(cpu)
print("%s x %s MiB vault -> S3: floe migrate %.1f s (%.1f MB/s), aws s3 cp of the same bytes "
      "%.1f s (%.1f MB/s): floe takes %.2fx; floe client CPU %.2f s = %.2f s per GiB "
      "(medians of %d)" % (sys.argv[3], sys.argv[4], m, b / m / 1e6, a, b / a / 1e6, m / a, c,
                           c / (b / 2**30), len(floe)))
PY
