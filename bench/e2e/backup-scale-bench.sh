#!/usr/bin/env bash
# `floe backup` (packed, the default) of trees of many tiny files against floe-vault on
# loopback, for each count in COUNTS: the first backup, then RERUNS re-runs with nothing
# changed. Prints wall time, CPU (user+sys) and peak RSS (/usr/bin/time %M) of each, and the
# medians of the re-runs, so the issue 9 figures read off directly: a re-run over 100,000
# unchanged files (<= 2 s, no content read) and the peak RSS at 100,000 vs 1,000,000 files
# (within 10%). Files are FILE_BYTES bytes each, 100 per directory; a fresh floe-vault and a
# fresh catalog per count. The page cache is warm for the re-runs (the tree was just read).
# Usage: bash bench/e2e/backup-scale-bench.sh [COUNTS="100000 1000000"] [RERUNS=3] [FILE_BYTES=64]
#   1,000,000 files take a few GB of inodes and about 10 minutes to create on the reference
#   machine kind; the tree is made once per count and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNTS=${1:-100000 1000000}
RERUNS=${2:-3}
FILE_BYTES=${3:-64}
. bench/e2e/common.sh
bench_setup scalebench 1
export XDG_DATA_HOME=$work/data
echo "floe: $(git log -1 --format='%h %s' HEAD | cut -c1-90)"
: > "$work/results"
for n in $COUNTS; do
    tree=$work/tree$n
    python3 - "$tree" "$n" "$FILE_BYTES" <<'PY'
import os, sys
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blob = os.urandom(1 << 20)
for i in range(n):
    d = os.path.join(root, "d%05d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%03d" % (i % 100)), "wb") as f:
        off = (i * 4099) % (len(blob) - size)
        f.write(blob[off:off + size])
PY
    start_vault
    for r in $(seq 0 "$RERUNS"); do
        what=$([ "$r" = 0 ] && echo first || echo rerun)
        /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$FLOE" --endpoint-url "$url" --quiet \
            backup "$tree" bench --catalog "$work/c$n.db" --no-snapshot > "$work/out" \
            2> "$work/err" || { echo "$n $what failed:"; tail -5 "$work/err"; exit 1; }
        echo "$n $what $(cat "$work/t")" | tee -a "$work/results"
    done
    stop_vault
    rm -rf "$tree" "$work/c$n.db"*
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| files | run | wall s | CPU s (user+sys) | peak RSS MiB |")
print("|---:|---|---:|---:|---:|")
for n in dict.fromkeys(r[0] for r in rows):
    for what in ("first", "rerun"):
        r = [list(map(float, x[2:])) for x in rows if x[0] == n and x[1] == what]
        if not r:
            continue
        label = what if len(r) == 1 else "%s (median of %d)" % (what, len(r))
        print("| %s | %s | %.2f | %.2f | %.1f |" % (
            format(int(n), ","), label, statistics.median(x[0] for x in r),
            statistics.median(x[1] + x[2] for x in r), statistics.median(x[3] for x in r) / 1024))
PY
