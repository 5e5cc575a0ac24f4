#!/usr/bin/env bash
# `floe backup --layout file-per-archive` (one UploadArchive per file) against floe-vault on
# loopback: floe and floe-vault built from BASE (a git rev) against the current tree's, side by
# side in one run, RUNS rounds alternating old and new, each run on a fresh floe-vault and a
# fresh catalog. FILES files of 1-64 KiB in 100 directories (the issue 9 tree).
# Prints per run and as medians: wall time, files/s, the client's CPU (user+sys, ms per file)
# and floe-vault's CPU (ms per archive, from /proc/PID/stat just before it is stopped), and
# the machine's background load during each run (other processes' busy cores, /proc/stat).
# Usage: bash bench/e2e/backup-per-file-bench.sh [FILES=10000] [RUNS=5] [BASE=<rev>]
#   BASE defaults to the commit before floe-vault's log blobs (src/vault/store_blob.h).
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-10000}
RUNS=${2:-5}
BASE=${3:-$(git log --format=%H -1 --grep='go into shared log blobs' -- src/vault/store_blob.c)~1}
. bench/e2e/common.sh
bench_setup perfilebench 1
export XDG_DATA_HOME=$work/data
echo "base: $(git log -1 --format='%h %s' "$BASE" | cut -c1-90)"
echo "new:  $(git log -1 --format='%h %s' HEAD | cut -c1-90)$(git diff --quiet HEAD -- src || echo ' (+ uncommitted changes)')"
build_rev "$BASE" "$work/base-build" floe floe-vault
NEW_FLOE=$FLOE NEW_VAULT=$VAULT
OLD_FLOE=$work/base-build/floe OLD_VAULT=$work/base-build/src/vault/floe-vault
tree=$work/tree
small_file_tree "$tree" "$FILES"

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
: > "$work/results"
for r in $(seq "$RUNS"); do
    for which in old new; do
        if [ $which = old ]; then FLOE=$OLD_FLOE VAULT=$OLD_VAULT; else FLOE=$NEW_FLOE VAULT=$NEW_VAULT; fi
        start_vault
        read -r b0 t0 < <(busy)
        /usr/bin/time -f "%e %U %S" -o "$work/t" "$FLOE" --endpoint-url "$url" --quiet backup \
            "$tree" bench --catalog "$work/c.$which.$r.db" --no-snapshot \
            --layout file-per-archive > "$work/out" 2> "$work/err" ||
            { echo "$which run $r failed:"; tail -5 "$work/err"; exit 1; }
        read -r b1 t1 < <(busy)
        vt=$(ticks "$vpid")
        stop_vault
        rm -f "$work/c.$which.$r.db"*
        read -r wall user sys < "$work/t"
        bg=$(background_cores "$((b1 - b0))" "$wall" \
            "$(awk -v u="$user" -v s="$sys" -v v="$vt" -v hz="$hz" 'BEGIN { print u + s + v / hz }')")
        echo "$which $r $wall $user $sys $(awk -v v="$vt" -v hz="$hz" 'BEGIN{print v/hz}') $bg" |
            tee -a "$work/results"
    done
done
python3 - "$work/results" "$FILES" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
print()
print("| build | runs | wall s | files/s | client CPU ms/file | floe-vault CPU ms/archive | background cores |")
print("|---|---:|---:|---:|---:|---:|---:|")
med = {}
for w in ("old", "new"):
    r = [list(map(float, x[2:])) for x in rows if x[0] == w]
    wall = statistics.median(x[0] for x in r)
    cli = statistics.median((x[1] + x[2]) * 1000 / n for x in r)
    srv = statistics.median(x[3] * 1000 / n for x in r)
    bg = statistics.median(x[4] for x in r)
    med[w] = wall
    print("| %s | %d | %.2f | %.0f | %.3f | %.3f | %.2f |" % (w, len(r), wall, n / wall, cli, srv, bg))
print()
print("new vs old, median files/s: %.2fx" % (med["old"] / med["new"]))
PY
