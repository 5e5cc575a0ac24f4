#!/usr/bin/env bash
# `floe backup --compress=LEVEL` of small files into packs, against floe-vault on loopback:
# floe built from BASE (a git rev) against the current tree's, side by side in one run, RUNS
# rounds alternating old and new, each run on a fresh floe-vault and catalog. The tree is
# FILES files of 1-64 KiB of log-like text (compressible) in 100 directories.
# Prints per run and as medians: wall time, input MB/s, the client's CPU (user+sys) and the
# bytes the vault received (the packs: the same for both builds when the format is unchanged),
# and the machine's background load (other processes' busy cores, /proc/stat).
# Usage: bash bench/e2e/backup-packs-compress-bench.sh [FILES=3000] [RUNS=3] [BASE=<rev>] [LEVEL=3]
#   BASE defaults to the commit before pack frames were compressed on the hash pool.
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-3000}
RUNS=${2:-3}
c=$(git log --format=%H -1 --grep='compressed on the hash pool' -- src/engine/backup/packer.c)
BASE=${3:-${c:+$c~1}}
BASE=${BASE:-HEAD}
LEVEL=${4:-3}
. bench/e2e/common.sh
bench_setup packzbench 1
export XDG_DATA_HOME=$work/data
echo "base: $(git log -1 --format='%h %s' "$BASE" | cut -c1-90)"
echo "new:  $(git log -1 --format='%h %s' HEAD | cut -c1-90)$(git diff --quiet HEAD -- src || echo ' (+ uncommitted changes)')"
build_rev "$BASE" "$work/base-build" floe
NEW_FLOE=$FLOE OLD_FLOE=$work/base-build/floe
tree=$work/tree
python3 - "$tree" "$FILES" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
hosts = ["web-%02d.example.net" % i for i in range(40)]
words = ["GET", "POST", "/api/v1/items", "/login", "200", "404", "503", "cache-miss", "retry"]
t = 1733300000.0
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    size, out = rnd.randint(1024, 65536), []
    while size > 0:
        t += rnd.random() / 10
        line = "%.3f %s %s %s %d ms=%d\n" % (t, rnd.choice(hosts), rnd.choice(words),
                                             rnd.choice(words), rnd.randrange(1 << 20),
                                             rnd.randrange(2000))
        out.append(line)
        size -= len(line)
    with open(os.path.join(d, "f%06d.log" % i), "w") as f:
        f.write("".join(out))
PY
tree_bytes=$(find "$tree" -type f -printf "%s\n" | awk '{s += $1} END {print s + 0}')
echo "tree: $FILES files, $(awk -v b="$tree_bytes" 'BEGIN{printf "%.1f", b/1e6}') MB, --compress=$LEVEL"
cat $(find "$tree" -type f) > /dev/null # in the page cache

: > "$work/results"
for r in $(seq "$RUNS"); do
    for which in old new; do
        if [ $which = old ]; then FLOE=$OLD_FLOE; else FLOE=$NEW_FLOE; fi
        start_vault
        read -r b0 _ < <(busy)
        /usr/bin/time -f "%e %U %S" -o "$work/t" "$FLOE" --endpoint-url "$url" --json --quiet \
            backup "$tree" bench --catalog "$work/c.$which.$r.db" --no-snapshot \
            --compress="$LEVEL" > "$work/out" 2> "$work/err" ||
            { echo "$which run $r failed:"; tail -5 "$work/err"; exit 1; }
        read -r b1 _ < <(busy)
        stop_vault
        rm -f "$work/c.$which.$r.db"*
        read -r wall user sys < "$work/t"
        stored=$(python3 -c 'import json,sys
print([json.loads(l) for l in open(sys.argv[1]) if "files_new" in l][0]["bytes_uploaded"])' "$work/out")
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')
        bg=$(background_cores "$((b1 - b0))" "$wall" "$cpu")
        echo "$which $r $wall $cpu $stored $bg" | tee -a "$work/results"
    done
done
python3 bench/e2e/ab_medians.py "$work/results" "wall s" "client CPU s" "bytes in the vault" \
    "background cores" | tee "$work/medians"
awk -v n="$tree_bytes" '/^medians/ { w[$2] = $3; c[$2] = $4; printf "%s: %.1f MB/s of input, ratio %.2f\n", $2, n / $3 / 1e6, n / $5 }
    END { printf "new vs old, median wall: %.2fx faster; client CPU %.2fx\n", w["old"] / w["new"], c["new"] / c["old"] }' "$work/medians"
