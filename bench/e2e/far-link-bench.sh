#!/usr/bin/env bash
# bench/e2e/far-link-bench.sh [SIZE_MIB] [RATE] [RUNS] [RTTS] - uploads over an emulated far
# link (tools/linkem.c between the client and a floe-vault): for each round trip in RTTS
# (default "0 20 50 100" ms) with a RATE cap (default 1Gbit), SIZE_MIB MiB (default 256) by
# floe with adaptive concurrency (no flags), floe --concurrency 1 and 4 (8 MiB parts for all
# three), `aws glacier upload-archive` and a boto3 upload_archive (both one request: what
# those tools do for one archive); then the verified retrieval of the same archive (a job
# of floe-vault, ready at once) by floe retrieve with --concurrency adaptive and with
# --concurrency 4 (8 MiB segments for both) and by `aws glacier get-job-output` (one GET,
# not verified). Prints the median MB/s (10^6 B/s) of RUNS runs (default 1).
# BUILD=DIR uses floe, floe-vault and linkem of an existing build.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-256}
RATE=${2:-1Gbit}
RUNS=${3:-1}
RTTS=${4:-0 20 50 100}
. bench/e2e/common.sh
bench_setup farlink "$SIZE_MIB"
linkem_setup

one() { # RTT NAME CMD... -> appends "rtt name seconds"
    local rtt=$1 name=$2; shift 2
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > "$work/out" 2> "$work/err" || { echo "$name at $rtt ms failed:"; cat "$work/err"; exit 1; }
    t1=$(date +%s.%N)
    echo "$rtt $name $(echo "$t1 - $t0" | bc)" >> "$work/results"
}

start_vault
aid=$("$FLOE" --endpoint-url "$url" --json upload --no-checkpoint bench "$file" |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["archive_id"])')
job=$(aws --endpoint-url "$url" glacier initiate-job --account-id - --vault-name bench \
    --job-parameters "{\"Type\": \"archive-retrieval\", \"ArchiveId\": \"$aid\"}" \
    --query jobId --output text)
for run in $(seq "$RUNS"); do
    for rtt in $RTTS; do
        start_linkem "$rtt" "$RATE"
        one "$rtt" floe-adaptive "$FLOE" --endpoint-url "$l" --quiet upload --no-checkpoint \
            --part-size 8M bench "$file"
        one "$rtt" floe-c1 "$FLOE" --endpoint-url "$l" --quiet upload --no-checkpoint \
            --part-size 8M --concurrency 1 bench "$file"
        one "$rtt" floe-c4 "$FLOE" --endpoint-url "$l" --quiet upload --no-checkpoint \
            --part-size 8M --concurrency 4 bench "$file"
        one "$rtt" awscli aws --endpoint-url "$l" glacier upload-archive --account-id - \
            --vault-name bench --body "$file"
        one "$rtt" boto3 python3 -c "
import boto3
g = boto3.client('glacier', endpoint_url='$l')
with open('$file', 'rb') as f:
    g.upload_archive(vaultName='bench', body=f)"
        one "$rtt" get-floe-adaptive "$FLOE" --endpoint-url "$l" --quiet retrieve --no-checkpoint \
            --segment-size 8MiB --concurrency adaptive -o "$work/got" --overwrite bench -- "$aid"
        one "$rtt" get-floe-c4 "$FLOE" --endpoint-url "$l" --quiet retrieve --no-checkpoint \
            --segment-size 8MiB --concurrency 4 -o "$work/got" --overwrite bench -- "$aid"
        one "$rtt" get-awscli aws --endpoint-url "$l" glacier get-job-output --account-id - \
            --vault-name bench --job-id "$job" "$work/got"
        rm -f "$work/got"
        stop_linkem
    done
done
python3 - "$work/results" "$SIZE_MIB" "$RATE" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rtt, name, s = line.split()
    rows.setdefault((int(rtt), name), []).append(float(s))
size = int(sys.argv[2]) << 20
for what, names in (("upload", ["floe-adaptive", "floe-c1", "floe-c4", "awscli", "boto3"]),
                   ("retrieval", ["get-floe-adaptive", "get-floe-c4", "get-awscli"])):
    print(f"{sys.argv[2]} MiB {what}, cap {sys.argv[3]}, MB/s (median):")
    print("| RTT ms | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for rtt in sorted({k[0] for k in rows}):
        print(f"| {rtt} | " + " | ".join(f"{size / statistics.median(rows[(rtt, n)]) / 1e6:.1f}"
                                           for n in names) + " |")
PY
