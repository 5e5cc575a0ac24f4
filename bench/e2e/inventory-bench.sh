#!/usr/bin/env bash
# Inventories read sequentially vs in parallel ranges (src/engine/pipeline/invrange.c), side by
# side in one run, alternating A and B:
#   - parse: a generated JSON and CSV inventory of ARCHIVES archives (bench/e2e/inventory-parse.c)
#     parsed by one thread from the file (floe_inventory_parse_file, "seq") and in ranges
#     (floe_invrange_parse_file with the defaults: 8 MiB ranges, 4 threads, "ranged"), ROUNDS
#     each: archives/s from the wall time, CPU seconds of all threads, and of the calling thread
#     alone (what cannot spread over cores; wall time on a loaded 2-core machine cannot show the
#     speedup, this CPU split does);
#   - download: floe-vault holding LOAD archives (bench/e2e/archive-loader.c), one inventory job,
#     `floe inventory --job-id J --json` to /dev/null with one range covering the whole output
#     (FLOE_INVENTORY_RANGE_SIZE=1073741824: one GET, parsed on one thread, "one-range") and with
#     the defaults ("ranged"), and `floe inventory -o FILE --raw` (the verified segmented
#     download alone, no parse, "raw-download") for reference, ROUNDS each.
# Prints medians (bench/e2e/ab_medians.py) and the load average.
# Usage: bash bench/e2e/inventory-bench.sh [ARCHIVES=1000000] [ROUNDS=5] [LOAD=100000]
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHIVES=${1:-1000000}
ROUNDS=${2:-5}
LOAD=${3:-100000}
. bench/e2e/common.sh
bench_setup invbench 1

build_bench_tool inventory-parse archive-loader

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for fmt in json csv; do
    inv=$work/inventory.$fmt
    "$work/inventory-parse" generate "$inv" "$ARCHIVES" "$fmt"
    echo "$fmt inventory: $ARCHIVES archives, $(stat -c %s "$inv") bytes"
    cat "$inv" > /dev/null
    : > "$work/parse.$fmt"
    for r in $(seq "$ROUNDS"); do
        for mode in seq ranged; do
            read -r n wall cpu main < <("$work/inventory-parse" "$mode" "$inv")
            [ "$n" = "$ARCHIVES" ] || { echo "$mode parsed $n of $ARCHIVES"; exit 1; }
            echo "$mode $r $wall $cpu $main $(python3 -c "print(round($n / $wall))")" \
                >> "$work/parse.$fmt"
        done
    done
    echo "parse $fmt:"
    python3 bench/e2e/ab_medians.py "$work/parse.$fmt" wall_s cpu_s main_thread_cpu_s archives_per_s
    rm -f "$inv"
done

start_vault
t0=$(date +%s.%N)
"$work/archive-loader" "$url" bench "$LOAD" 32
job=$("$FLOE" --endpoint-url "$url" --json job initiate-inventory bench |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["JobId"])')
"$FLOE" --endpoint-url "$url" job wait bench "$job" >/dev/null
: > "$work/dl"
for r in $(seq "$ROUNDS"); do
    for mode in one-range ranged raw-download; do
        case $mode in
            one-range) env=(FLOE_INVENTORY_RANGE_SIZE=1073741824); args=(--json) ;;
            ranged) env=(); args=(--json) ;;
            raw-download) env=(); args=(-o "$work/raw" --raw --overwrite) ;;
        esac
        /usr/bin/time -f "%e %U %S %M" -o "$work/t" env "${env[@]}" "$FLOE" --endpoint-url "$url" \
            -q inventory bench --job-id "$job" "${args[@]}" > "$work/out"
        [ "$mode" = raw-download ] || [ "$(wc -l < "$work/out")" = "$LOAD" ] ||
            { echo "$mode listed $(wc -l < "$work/out") of $LOAD"; exit 1; }
        read -r wall user sys rss < "$work/t"
        echo "$mode $r $wall $(python3 -c "print(round($user + $sys, 3))") $rss" >> "$work/dl"
    done
done
echo "download + parse of $LOAD archives ($(stat -c %s "$work/raw") bytes) through floe inventory:"
python3 bench/e2e/ab_medians.py "$work/dl" wall_s cpu_s maxrss_kib
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
