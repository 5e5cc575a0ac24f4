#!/usr/bin/env bash
# Large files and --compress inside `floe backup`, against floe-vault on loopback, side by side
# in one run (RUNS rounds, the cases alternating within each round, a fresh floe-vault and
# catalog per case):
#   upload         `floe upload` of one SIZE_MIB MiB file of random bytes (the reference)
#   backup         `floe backup` of a directory holding only that file (its own archive)
#   backup-z3      the same with --compress=3 (incompressible: sampled, sent as it is)
#   packs          `floe backup` of a tree of SMALL_FILES random files of 1-64 KiB (packs)
#   packs-z3       the same with --compress=3 (incompressible frames, probed and stored)
#   text-zN        `floe backup --compress=N` of SIZE_MIB MiB of log-like text, N in LEVELS
#                  (0: no --compress), as one zstd frame: throughput and ratio per level
# Prints per run and as medians: wall s, MB/s (input bytes / wall), client CPU s, and the
# bytes the vault received (ratio = input / stored); then the issue 9 ratios: backup vs upload
# (within 5%) and compressed vs plain on incompressible data (drop <= 15%).
# Odd rounds run the cases in order, even rounds in reverse (a case's run can be slowed by the
# previous one's writeback). CASES="upload backup" runs only those.
# Usage: bash bench/e2e/backup-large-bench.sh [SIZE_MIB=1024] [RUNS=3] [SMALL_FILES=10000] [LEVELS="0 1 3 9"]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE=${1:-1024}
RUNS=${2:-3}
SMALL=${3:-10000}
LEVELS=${4:-0 1 3 9}
. bench/e2e/common.sh
bench_setup largebench "$SIZE"
export XDG_DATA_HOME=$work/data
echo "floe: $(git log -1 --format='%h %s' HEAD | cut -c1-90)$(git diff --quiet HEAD -- src || echo ' (+ uncommitted changes)')"
mkdir -p "$work/one" "$work/text"
cases=()
for c in ${CASES:-upload backup backup-z3 packs packs-z3 $(for l in $LEVELS; do echo text-z"$l"; done)}; do
    cases+=("$c")
done
want() { case " ${cases[*]} " in *" $1"*) return 0 ;; esac; return 1; }
mv "$file" "$work/one/random.bin"
want packs && small_file_tree "$work/tree" "$SMALL"
want text && python3 - "$work/text/app.log" "$SIZE" <<'PY'
import random, sys
path, mib = sys.argv[1], int(sys.argv[2])
rnd = random.Random(9)
hosts = ["web-%02d.example.net" % i for i in range(40)]
words = ["GET", "POST", "/api/v1/items", "/login", "200", "404", "503", "cache-miss", "retry"]
with open(path, "wb") as f:
    n, t = 0, 1733300000.0
    while n < mib << 20:
        t += rnd.random() / 10
        line = ("%.3f %s %s %s %d ms=%d\n" % (t, rnd.choice(hosts), rnd.choice(words),
                rnd.choice(words), rnd.randrange(1 << 20), rnd.randrange(2000))).encode()
        f.write(line)
        n += len(line)
    f.truncate(mib << 20)
PY
cat "$work/one/random.bin" $(ls "$work/text/"* 2>/dev/null) > /dev/null # in the page cache
tree_bytes=$( (find "$work/tree" -type f -printf "%s\n" 2>/dev/null || true) | awk "{s += \$1} END {print s + 0}")

# One case: a fresh floe-vault and catalog, the command timed; "size" (floe upload) or
# "bytes_uploaded" (floe backup) of its --json output is what the vault received.
one() { # one NAME INPUT_BYTES FLOE_ARGS... (after --endpoint-url URL --json --quiet)
    local name=$1 bytes=$2; shift 2
    start_vault
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$FLOE" --endpoint-url "$url" --json --quiet "$@" \
        > "$work/out" 2> "$work/err" || { echo "$name failed:"; tail -5 "$work/err"; exit 1; }
    stop_vault
    rm -rf "$work/c.db"* "$work/data"
    read -r wall user sys < "$work/t"
    local st
    st=$(python3 -c 'import json, sys
d = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(sum(x.get("bytes_uploaded", x.get("size", 0)) for x in d))' "$work/out")
    echo "$name $bytes $wall $user $sys $st" | tee -a "$work/results"
}
C=(--catalog "$work/c.db" --no-snapshot)
: > "$work/results"
run_case() {
    case $1 in
    upload) one upload $((SIZE << 20)) upload bench "$work/one/random.bin" ;;
    backup) one backup $((SIZE << 20)) backup "$work/one" bench "${C[@]}" ;;
    backup-z3) one backup-z3 $((SIZE << 20)) backup "$work/one" bench "${C[@]}" --compress=3 ;;
    packs) one packs "$tree_bytes" backup "$work/tree" bench "${C[@]}" ;;
    packs-z3) one packs-z3 "$tree_bytes" backup "$work/tree" bench "${C[@]}" --compress=3 ;;
    text-z0) one text-z0 $((SIZE << 20)) backup "$work/text" bench "${C[@]}" ;;
    text-z*) one "$1" $((SIZE << 20)) backup "$work/text" bench "${C[@]}" --compress="${1#text-z}" ;;
    esac
}
for r in $(seq "$RUNS"); do
    # odd rounds in order, even rounds reversed: no case always follows the same one
    if [ $((r % 2)) = 1 ]; then order=("${cases[@]}"); else
        order=(); for ((i = ${#cases[@]} - 1; i >= 0; i--)); do order+=("${cases[$i]}"); done
    fi
    for c in "${order[@]}"; do run_case "$c"; done
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| case | runs | wall s | MB/s | client CPU s | ratio (input / stored) |")
print("|---|---:|---:|---:|---:|---:|")
med = {}
for name in dict.fromkeys(r[0] for r in rows):  # in the order of the first round
    r = [list(map(float, x[1:])) for x in rows if x[0] == name]
    wall = statistics.median(x[1] for x in r)
    mbs = statistics.median(x[0] / x[1] / 1e6 for x in r)
    cpu = statistics.median(x[2] + x[3] for x in r)
    ratio = statistics.median(x[0] / x[4] if x[4] else 0 for x in r)
    med[name] = mbs
    print("| %s | %d | %.2f | %.1f | %.2f | %.3f |" % (name, len(r), wall, mbs, cpu, ratio))
print()
for a, b, what in (("backup", "upload", "backup vs upload, one large file"),
                   ("backup-z3", "backup", "backup --compress=3 vs backup, incompressible large file"),
                   ("packs-z3", "packs", "packs --compress=3 vs packs, incompressible small files")):
    if a in med and b in med:
        print("%s, median MB/s: %.3f" % (what, med[a] / med[b]))
PY
