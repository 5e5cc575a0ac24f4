#!/usr/bin/env bash
# bench/e2e/ab.sh - two builds of floe side by side in one run: floe upload and floe job output
# (download) of the same cached file to/from one floe-vault on loopback, the builds alternating
# (A B B A ...) for RUNS rounds, so the machine's noise falls on both alike. Reports medians per
# build: wall seconds, MB/s (10^6 B/s), client CPU seconds per GiB, peak RSS, and B/A ratios.
#
#   bash bench/e2e/ab.sh REV_A [REV_B=working tree] [SIZE_MIB=2048] [RUNS=5]
#
# REV_A (and REV_B, if given) are git revisions, built in Release in temporary worktrees; the
# working tree's build-bench/ is used for REV_B when it is omitted, and for floe-vault always.
set -euo pipefail
cd "$(dirname "$0")/../.."
REV_A=${1:?usage: bash bench/e2e/ab.sh REV_A [REV_B] [SIZE_MIB] [RUNS]}
REV_B=${2:-}
SIZE_MIB=${3:-2048}
RUNS=${4:-5}
. bench/e2e/common.sh
bench_setup ab "$SIZE_MIB"

build_rev() { # build_rev REV DIR: floe of REV, Release, in DIR; prints the binary's path
    git worktree add -q --detach "$2/src" "$1" >/dev/null
    cmake -S "$2/src" -B "$2/build" -DCMAKE_BUILD_TYPE=Release -DFLOE_TESTS=OFF -DFLOE_BENCH=OFF >/dev/null
    cmake --build "$2/build" -j"$(nproc)" --target floe >/dev/null
    echo "$2/build/floe"
}
cleanup_ab() {
    for d in "$work/a" "$work/b"; do
        [ -d "$d/src" ] && git worktree remove --force "$d/src" 2>/dev/null || true
    done
    bench_cleanup
}
trap cleanup_ab EXIT
A=$(build_rev "$REV_A" "$work/a")
if [ -n "$REV_B" ]; then B=$(build_rev "$REV_B" "$work/b"); else B=$FLOE; fi

start_vault
archive=$("$FLOE" --endpoint-url "$url" --json upload bench "$file" |
          python3 -c "import json,sys; print(json.load(sys.stdin)['archive_id'])")
job=$("$FLOE" --endpoint-url "$url" --json job initiate-retrieval bench -- "$archive" |
      python3 -c "import json,sys; print(json.load(sys.stdin)['JobId'])")
"$FLOE" --endpoint-url "$url" --quiet job wait bench "$job" >/dev/null

python3 - "$work" "$SIZE_MIB" "$RUNS" "$url" "$job" "$file" "$A" "$B" "$REV_A" "${REV_B:-working tree}" <<'PY'
import os, statistics, subprocess, sys
work, size_mib, runs, url, job, src, A, B, name_a, name_b = sys.argv[1:11]
size, runs = int(size_mib) << 20, int(runs)
res = {(b, op): [] for b in "AB" for op in ("upload", "download")}

def timed(cmd):
    t = os.path.join(work, "time")
    r = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", t] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr))
    e, u, s, m = open(t).read().split()[-4:]
    return float(e), float(u) + float(s), int(m)

for rnd in range(runs):
    for b in ("AB" if rnd % 2 == 0 else "BA"):
        binary = A if b == "A" else B
        res[(b, "upload")].append(timed([binary, "--endpoint-url", url, "--quiet", "upload",
                                          "--no-checkpoint", "bench", src]))
        out = os.path.join(work, "out.bin")
        res[(b, "download")].append(timed([binary, "--endpoint-url", url, "--quiet", "job",
                                            "output", "bench", "-o", out, "--no-checkpoint",
                                            "--", job]))
        os.unlink(out)

def med(xs, i):
    return statistics.median(x[i] for x in xs)

print("| op | build | wall s | MB/s | client CPU s/GiB | peak RSS MB |")
print("|---|---|---|---|---|---|")
for op in ("upload", "download"):
    for b, name in (("A", name_a), ("B", name_b)):
        xs = res[(b, op)]
        print("| %s | %s | %.2f | %.0f | %.2f | %.0f |" % (
            op, name, med(xs, 0), size / med(xs, 0) / 1e6, med(xs, 1) / (size / 2**30),
            med(xs, 2) / 1024))
    a, bb = res[("A", op)], res[("B", op)]
    print("| %s | B/A | %.3f | | %.3f | |" % (op, med(bb, 0) / med(a, 0), med(bb, 1) / med(a, 1)))
print("\n%d rounds of %d MiB, builds alternating; medians." % (runs, int(size_mib)))
PY
