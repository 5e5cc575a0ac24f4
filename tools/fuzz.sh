#!/usr/bin/env bash
# tools/fuzz.sh - run every fuzz target of tests/fuzz/ (or the ones named) for a set time or a
# set number of executions, one after the other, under nice, and keep what it finds.
#
#   tools/fuzz.sh [-t SECONDS | -n RUNS] [-b BUILD_DIR] [-m] [TARGET...]
#
#   -t SECONDS   run each target this long (default 60)
#   -n RUNS      run each target for this many executions instead
#   -b DIR       build directory (default build-fuzz); made with clang when missing
#   -m           merge the new inputs (minimised) into tests/fuzz/corpus/<target>/
#   TARGET       range sigv4_auth checkpoint inventory pack mtglacier s3xml credparse selectsql
#                vault_request (default: all)
#
# With clang, the targets are real libFuzzer binaries (FLOE_LIBFUZZER=ON, ASan+UBSan, the
# library built with -fsanitize=fuzzer-no-link). Each run reads tests/fuzz/corpus/<target>/ and
# writes what it adds to DIR/fuzz-corpus/<target>/ (kept between runs), crashing inputs to
# DIR/fuzz-artifacts/<target>/ and its log to DIR/fuzz-logs/<target>.log. Without clang, the
# plain build's replay driver runs FLOE_FUZZ_ITERATIONS=RUNS mutated inputs (no coverage
# feedback; -t is then not supported).
#
# Prints one line per target: name, executions, seconds, crashes; exits 1 if any crashed.
# Nice level: FLOE_FUZZ_NICE (default 15).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
all="range sigv4_auth checkpoint inventory pack mtglacier s3xml credparse selectsql vault_request"
secs=60 runs="" build=build-fuzz merge=0
while getopts "t:n:b:mh" o; do
    case $o in
    t) secs=$OPTARG ;;
    n) runs=$OPTARG ;;
    b) build=$OPTARG ;;
    m) merge=1 ;;
    *) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=${*:-$all}
nice_n=${FLOE_FUZZ_NICE:-15}

libfuzzer=0
if command -v clang >/dev/null; then
    libfuzzer=1
    if [ ! -f "$build/CMakeCache.txt" ]; then
        CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DFLOE_SANITIZE=address \
            -DFLOE_BENCH=OFF -DFLOE_LIBFUZZER=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link \
            -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
    fi
elif [ -z "$runs" ]; then
    echo "fuzz.sh: no clang: the replay driver needs -n RUNS" >&2
    exit 2
elif [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$here" -B "$build" -DFLOE_BENCH=OFF >/dev/null
fi

failed=0
printf '%-14s %14s %9s %8s\n' target executions seconds crashes
for t in $targets; do
    if [ ! -d "$here/tests/fuzz/corpus/$t" ]; then
        echo "fuzz.sh: no target $t (tests/fuzz/corpus/$t)" >&2
        exit 2
    fi
    nice -n "$nice_n" cmake --build "$build" --target "fuzz_$t" -j2 >/dev/null
    bin="$build/tests/fuzz_$t"
    work="$build/fuzz-corpus/$t" art="$build/fuzz-artifacts/$t" log="$build/fuzz-logs/$t.log"
    mkdir -p "$work" "$art" "$(dirname "$log")"
    start=$(date +%s)
    rc=0
    # vault_request keeps a store (fsync'd) under $TMPDIR: on tmpfs when there is one
    tmpdir=${TMPDIR:-/tmp}
    if [ "$t" = vault_request ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then tmpdir=/dev/shm; fi
    if [ "$libfuzzer" = 1 ]; then
        limit=(-max_total_time="$secs")
        [ -n "$runs" ] && limit=(-runs="$runs")
        TMPDIR=$tmpdir nice -n "$nice_n" "$bin" "${limit[@]}" -timeout=60 -max_len=8192 -print_final_stats=1 \
            -artifact_prefix="$art/" "$work" "$here/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        [ "$merge" = 1 ] && [ "$rc" = 0 ] &&
            nice -n "$nice_n" "$bin" -merge=1 "$here/tests/fuzz/corpus/$t" "$work" >>"$log" 2>&1
    else
        TMPDIR=$tmpdir FLOE_FUZZ_ITERATIONS=$runs nice -n "$nice_n" "$bin" "$here/tests/fuzz/corpus/$t" \
            >"$log" 2>&1 || rc=$?
        execs=$runs
    fi
    crashes=$(find "$art" -type f -newermt "@$start" | wc -l)
    [ "$rc" != 0 ] && [ "$crashes" = 0 ] && crashes=1
    [ "$crashes" != 0 ] && failed=1
    printf '%-14s %14s %9s %8s\n' "$t" "${execs:-?}" $(($(date +%s) - start)) "$crashes"
done
exit $failed
