# bench/e2e/common.sh - what the end-to-end benchmarks share; sourced from the project root.
#   bench_setup NAME SIZE_MIB   installs what is missing, builds floe and floe-vault (Release,
#                               build-bench/; BUILD=DIR uses an existing build instead), makes $work (removed on exit, any floe-vault
#                               stopped), exports floe-vault's local credentials, and writes
#                               $file: SIZE_MIB MiB of random bytes, left in the page cache.
#   start_vault                 a floe-vault on a free loopback port with an empty data dir and
#                               instant jobs; sets $vpid and $url and creates vault "bench".
#   stop_vault                  stops it (by PID).
#   small_file_tree DIR N       N files of 1-64 KiB random bytes (seeded) in 100 directories under
#                               DIR, and prints their count and size.
#   build_bench_tool NAME...    builds each C tool NAME of bench/e2e (on libfloe's public API,
#                               e.g. archive-loader) against the build's libfloe as $work/NAME.
#   build_rev REV DIR TARGET... builds TARGETs of git revision REV (Release) in DIR (its source
#                               unpacked beside it), for a base-vs-current comparison.
#   start_s3 / stop_s3          S3 on loopback for the migrate-to-S3 benchmarks (below).
#   rtt_table RESULTS ...       the median table of the far-link migrate benchmarks (below).
# Sets FLOE and VAULT (the binaries).

bench_cleanup() {
    if [ -n "${vpid:-}" ]; then kill "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; fi
    rm -rf "$work"
}

bench_setup() {
    local name=$1 size_mib=$2
    if [ -n "${BUILD:-}" ]; then # BUILD=DIR: the binaries of an existing build, as they are
        FLOE=$(cd "$BUILD" && pwd)/floe
        VAULT=$(cd "$BUILD" && pwd)/src/vault/floe-vault
    else
        bash tools/install-deps.sh >/dev/null
        cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFLOE_TESTS=OFF >/dev/null
        cmake --build build-bench -j"$(nproc)" --target floe floe-vault >/dev/null
        FLOE=$PWD/build-bench/floe
        VAULT=$PWD/build-bench/src/vault/floe-vault
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/floe-$name.XXXXXX")
    vpid=""
    trap bench_cleanup EXIT
    export AWS_ACCESS_KEY_ID=AKIDFLOEVAULTLOCAL AWS_SECRET_ACCESS_KEY=floe-vault-local-secret \
           AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
           AWS_SHARED_CREDENTIALS_FILE=/dev/null XDG_CACHE_HOME=$work/cache
    file=$work/data.bin
    head -c $((size_mib * 1048576)) /dev/urandom > "$file"
    cat "$file" > /dev/null
}

start_vault() {
    rm -rf "$work/vd" "$work/port"
    "$VAULT" --listen 127.0.0.1:0 --data-dir "$work/vd" --port-file "$work/port" \
        --job-delay instant > "$work/vault.log" 2>&1 &
    vpid=$!
    for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
    [ -s "$work/port" ] || { echo "floe-vault did not start:"; cat "$work/vault.log"; exit 1; }
    url=http://127.0.0.1:$(cat "$work/port")
    "$FLOE" --endpoint-url "$url" vault create bench >/dev/null
}

build_bench_tool() {
    local libdir t
    libdir=$(dirname "$FLOE")
    [ -e "$libdir/libfloe.so" ] || cmake --build "$libdir" --target floe_shared >/dev/null
    for t in "$@"; do
        cc -O2 -std=c11 -pthread -Iinclude "bench/e2e/$t.c" -o "$work/$t" \
            -L"$libdir" -Wl,-rpath,"$libdir" -lfloe
    done
}

# linkem_setup: builds linkem (tools/linkem.c) in the build of bench_setup (BUILD, else
# build-bench), sets LINKEM, and ends a linkem still running before bench_cleanup at exit.
linkem_setup() {
    local bdir=${BUILD:-build-bench}
    cmake --build "$bdir" -j"$(nproc)" --target linkem >/dev/null
    LINKEM=$(cd "$bdir" && pwd)/linkem
    lpid=""
    trap '[ -z "$lpid" ] || kill "$lpid" 2>/dev/null; bench_cleanup' EXIT
}

# start_linkem RTT_MS RATE: linkem ($LINKEM, the link emulator) in front of the floe-vault of
# start_vault; sets lpid (stop_linkem ends it) and l, its URL.
start_linkem() {
    rm -f "$work/lport"
    "$LINKEM" --upstream "127.0.0.1:$(cat "$work/port")" --port-file "$work/lport" \
        --rtt-ms "$1" --rate "$2" > "$work/linkem.log" 2>&1 &
    lpid=$!
    for _ in $(seq 100); do [ -s "$work/lport" ] && break; sleep 0.05; done
    [ -s "$work/lport" ] || { echo "linkem did not start:"; cat "$work/linkem.log"; exit 1; }
    l=http://127.0.0.1:$(cat "$work/lport")
}

stop_linkem() {
    kill "$lpid"; wait "$lpid" 2>/dev/null || true; lpid=""
}

stop_vault() {
    kill "$vpid"; wait "$vpid" 2>/dev/null || true; vpid=""
}

small_file_tree() {
    python3 - "$1" "$2" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(os.urandom(rnd.randint(1024, 65536)))
PY
    du -sb "$1" | awk '{printf "tree: %d files, %.1f MB\n", '"$2"', $1/1e6}'
}

build_rev() {
    local rev=$1 dir=$2; shift 2
    mkdir -p "$dir.src"
    git archive "$rev" | tar -x -C "$dir.src"
    cmake -S "$dir.src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DFLOE_TESTS=OFF -DFLOE_BENCH=OFF >/dev/null
    cmake --build "$dir" -j"$(nproc)" --target "$@" >/dev/null
}
# busy: the machine's busy and total jiffies (/proc/stat), read before and after a run.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
# background_cores BUSY_JIFFIES WALL_S OURS_S: other processes' busy cores during a run (the
# machine's busy time minus the CPU seconds of our own processes, per second of wall time).
background_cores() {
    awk -v b="$1" -v w="$2" -v o="$3" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { x = (b / hz - o) / w; if (x < 0) x = 0; printf "%.2f", x }'
}

# start_s3: S3 on a free loopback port for the migrate-to-S3 benchmarks: moto's S3 server, or
# with S3=sink bench/e2e/s3sink.py (keeps nothing).
# Sets murl and mpid (stop_s3 ends it; call it from the script's exit trap).
start_s3() {
    if [ "${S3:-moto}" = sink ]; then
        python3 bench/e2e/s3sink.py "$work/sport" > "$work/sink.log" 2>&1 &
        mpid=$!
        for _ in $(seq 200); do [ -s "$work/sport" ] && break; sleep 0.05; done
        murl=http://127.0.0.1:$(cat "$work/sport")
    else
        local mport
        mport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        python3 -m moto.server -H 127.0.0.1 -p "$mport" > "$work/moto.log" 2>&1 &
        mpid=$!
        murl=http://127.0.0.1:$mport
        for _ in $(seq 200); do curl -s -o /dev/null "$murl" && break; sleep 0.1; done
    fi
}

stop_s3() {
    [ -z "${mpid:-}" ] || { kill "$mpid"; wait "$mpid" 2>/dev/null || true; mpid=""; }
}

# rtt_table RESULTS BYTES ARCHIVES TITLE NAME...: per round trip (rows) and NAME (columns, in
# that order, those present) the medians of RESULTS' lines "RTT NAME SECONDS CPU_S [EXTRA]":
# MB/s (10^6 B/s) and client CPU s/GiB for BYTES, or with ARCHIVES > 0 archives/s and CPU ms
# per archive; EXTRA (when not 0) listed per run after "up to".
rtt_table() {
    python3 - "$@" <<'PY'
import statistics, sys
path, total, archives, title, order = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
rows = {}
for line in open(path):
    f = line.split()
    rows.setdefault((int(f[0]), f[1]), []).append((float(f[2]), float(f[3]), f[4] if len(f) > 4 else "0"))
names = [n for n in order if any(k[1] == n for k in rows)]
print(title)
print("| RTT ms | " + " | ".join(names) + " |")
print("|---" * (len(names) + 1) + "|")
for rtt in sorted({k[0] for k in rows}):
    cells = []
    for n in names:
        r = rows.get((rtt, n), [])
        if not r:
            cells.append("-")
            continue
        s, cpu = statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)
        if archives:
            cell = f"{archives / s:.0f} archives/s ({1000 * cpu / archives:.2f} ms CPU/archive"
        else:
            cell = f"{total / s / 1e6:.1f} ({cpu / (total / 2**30):.2f} s/GiB"
        extra = [x[2] for x in r if x[2] != "0"]
        cells.append(cell + (f", up to {'/'.join(extra)})" if extra else ")"))
    print(f"| {rtt} | " + " | ".join(cells) + " |")
PY
}
