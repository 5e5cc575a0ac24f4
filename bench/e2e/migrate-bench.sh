#!/usr/bin/env bash
# `floe migrate` against a local floe-vault (instant jobs) on loopback, side by side in one run:
#   - BIG archives of BIG_MIB MiB: `floe migrate VAULT --to DIR` against `floe retrieve` of the
#     same archives one after another (each its job, wait and verified download), alternating
#     RUNS times; medians of MB/s (issue 10 asks migrate >= 90% of retrieve);
#   - SMALL archives of 64 KiB: `floe migrate` end to end (inventory, jobs, copies, manifest),
#     archives per second (issue 10 asks >= 500/s at 10,000 archives), and the CPU per archive
#     of floe and of floe-vault; each run migrates a new vault (uploaded just before, not timed),
#     so that every archive needs its retrieval job (an earlier run's jobs would be reused).
#   - with BASE=DIR (another build's directory, e.g. of an older revision: build_rev in
#     common.sh), the same two migrations by that build's floe too, alternating in each run.
# Usage: bash bench/e2e/migrate-bench.sh [BIG=4] [BIG_MIB=64] [SMALL=1000] [RUNS=3]
#        (BUILD=DIR uses an existing build; BASE=DIR adds a base build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIG=${1:-4}
BIG_MIB=${2:-64}
SMALL=${3:-1000}
RUNS=${4:-3}
. bench/e2e/common.sh
bench_setup migratebench "$BIG_MIB"

start_vault
ids=()
for i in $(seq "$BIG"); do
    ids+=("$("$FLOE" --endpoint-url "$url" --json upload bench "$file" --description "big/$i.bin" |
        python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["archive_id"])')")
done
small_vault() { # small_vault NAME: a new vault of $SMALL archives of 64 KiB, none with a job yet
    "$FLOE" --endpoint-url "$url" vault create "$1" >/dev/null
    python3 - "$url" "$SMALL" "$1" <<'PY'
import boto3, os, sys, threading
url, n, vault = sys.argv[1], int(sys.argv[2]), sys.argv[3]
g = boto3.client("glacier", endpoint_url=url)
body = os.urandom(65536)
def run(lo, hi):
    for i in range(lo, hi):
        g.upload_archive(vaultName=vault, body=body, archiveDescription="s/%06d" % i)
ts = [threading.Thread(target=run, args=(k * n // 8, (k + 1) * n // 8)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
PY
}
vault_cpu() { awk '{print $14 + $15}' "/proc/$vpid/stat"; } # floe-vault's CPU so far, in ticks
small() { # small NAME FLOE VAULT: migrates VAULT, appends "NAME seconds floe-cpu-s vault-cpu-s"
    local v0 v1 a b
    rm -rf "$work/s" "$work/cache"
    v0=$(vault_cpu)
    read -r a b < <(timed /usr/bin/time -f "%U %S" -o "$work/cpu" "$2" --endpoint-url "$url" \
        migrate "$3" --to "$work/s" --poll-interval 1s)
    v1=$(vault_cpu)
    echo "$1 $(python3 -c "print($b - $a)") $(awk '{print $1 + $2}' "$work/cpu") \
        $(python3 -c "print(($v1 - $v0) / $(getconf CLK_TCK))")" >> "$work/times"
}
bytes=$((BIG * BIG_MIB * 1048576))
timed() { # timed NAME CMD...: appends "NAME seconds" to $work/times
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$work/err" || { echo "$1 failed:"; tail -5 "$work/err"; exit 1; }
    t1=$(date +%s.%N)
    echo "$t0 $t1"
}
for r in $(seq "$RUNS"); do
    rm -rf "$work/m" "$work/r" "$work/cache"
    mkdir -p "$work/r"
    read -r a b < <(timed "$FLOE" --endpoint-url "$url" migrate bench --to "$work/m" --poll-interval 1s)
    echo "migrate $(python3 -c "print($b - $a)")" >> "$work/times"
    read -r a b < <(timed bash -c 'for id in "${@:3}"; do "$1" --endpoint-url "$2" retrieve bench \
        --archive-id="$id" --tier Expedited -o "'"$work"'/r/$id" || exit 1; done' _ "$FLOE" "$url" "${ids[@]}")
    echo "retrieve $(python3 -c "print($b - $a)")" >> "$work/times"
    # a new vault each time: the jobs of an earlier run would be reused, not requested
    small_vault "small$r"
    small small "$FLOE" "small$r"
    if [ -n "${BASE:-}" ]; then
        rm -rf "$work/m" "$work/cache"
        read -r a b < <(timed "$BASE/floe" --endpoint-url "$url" migrate bench --to "$work/m" --poll-interval 1s)
        echo "base-migrate $(python3 -c "print($b - $a)")" >> "$work/times"
        small_vault "base-small$r"
        small base-small "$BASE/floe" "base-small$r"
    fi
done
stop_vault
python3 - "$work/times" "$bytes" "$SMALL" "$BIG" "$BIG_MIB" <<'PY'
import statistics, sys
rows = {}
cpu = {}
for line in open(sys.argv[1]):
    k, v, *c = line.split()
    rows.setdefault(k, []).append(float(v))
    cpu.setdefault(k, []).append([float(x) for x in c])
b, small = int(sys.argv[2]), int(sys.argv[3])
m, r, s = (statistics.median(rows[k]) for k in ("migrate", "retrieve", "small"))
print("%s x %s MiB: floe migrate %.1f MB/s, floe retrieve (one after another) %.1f MB/s: "
      "migrate = %.0f%% of retrieve (medians of %d)" % (sys.argv[4], sys.argv[5], b / m / 1e6,
                                                        b / r / 1e6, 100 * r / m, len(rows["small"])))
def per_archive(k):  # median CPU ms per archive: floe, floe-vault
    return tuple(1000 * statistics.median(c[i] for c in cpu[k]) / small for i in (0, 1))
print("%d x 64 KiB: floe migrate %.1f s end to end = %.0f archives/s (median); CPU per archive: "
      "floe %.2f ms, floe-vault %.2f ms" % ((small, s, small / s) + per_archive("small")))
if "base-small" in rows:
    bm, bs = statistics.median(rows["base-migrate"]), statistics.median(rows["base-small"])
    print("base build: big %.1f MB/s (= %.0f%% of retrieve), small %.1f s = %.0f archives/s; "
          "small: this build %.1fx the base; base CPU per archive: floe %.2f ms, floe-vault %.2f ms"
          % ((b / bm / 1e6, 100 * r / bm, bs, small / bs, bs / s) + per_archive("base-small")))
PY
