#!/usr/bin/env bash
# Planning a migration of a big vault (issue 10: a 1,000,000-archive inventory planned in <= 60 s
# with memory independent of the archive count). For each COUNT: a floe-vault (instant jobs) is
# loaded with COUNT one-byte archives through its API (bench/e2e/archive-loader.c, 32 uploads in
# flight), then `floe migrate plan VAULT --to DIR` runs under /usr/bin/time once per catalog:
# the inventory job, its download (parallel ranges) and the plan written to the catalog (the
# default SQLite file, then with PG=postgresql://... a PostgreSQL database too, whose floe
# tables must not exist yet: give an empty database). Prints wall seconds, user+system CPU
# seconds (of floe; PostgreSQL's own CPU is not counted) and floe's peak RSS per COUNT and
# catalog, and the load average.
# Usage: bash bench/e2e/migrate-plan-bench.sh [COUNTS="100000 1000000"]
#        (BUILD=DIR uses an existing build; PG=postgresql://... adds PostgreSQL; each COUNT
#        plans into a fresh database PREFIX_COUNT created there (psql), dropped after)
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNTS=${1:-100000 1000000}
. bench/e2e/common.sh
bench_setup migplanbench 1

build_bench_tool archive-loader

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $COUNTS; do
    start_vault
    "$work/archive-loader" "$url" bench "$n" 32
    cats=(sqlite)
    if [ -n "${PG:-}" ]; then
        psql -q "$PG" -c "CREATE DATABASE migplan_$n" >/dev/null
        cats+=("${PG%/*}/migplan_$n")
    fi
    for cat in "${cats[@]}"; do
        rm -rf "$work/dest"
        cat_opt=()
        [ "$cat" != sqlite ] && cat_opt=(--catalog "$cat")
        /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$FLOE" --endpoint-url "$url" \
            migrate plan bench --to "$work/dest" "${cat_opt[@]}" > "$work/plan.out" 2>"$work/err" ||
            { echo "plan of $n ($cat) failed:"; tail -5 "$work/err"; exit 1; }
        read -r wall usr sys rss < "$work/time"
        echo "$n archives, ${cat%%:*}: plan $wall s wall," \
             "$(python3 -c "print('%.2f' % ($usr + $sys))") s CPU (user $usr + system $sys)," \
             "peak RSS $((rss / 1024)) MiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
        grep -m1 -i "archives" "$work/plan.out" || true
    done
    [ -n "${PG:-}" ] && psql -q "$PG" -c "DROP DATABASE migplan_$n" >/dev/null
    stop_vault
done
