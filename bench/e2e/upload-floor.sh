#!/usr/bin/env bash
# Where the client CPU of an upload goes, and what any client must spend, side by side in one
# run over the same cached file (median of RUNS runs, client process CPU = user + sys):
#   openssl     one `openssl dgst -sha256` pass (the yardstick of issue 4)
#   one-pass    floe's one-pass part hash (leaves + linear SHA-256, what the tree hash and SigV4
#               require before a part may be sent) over bytes already in memory, one thread:
#               `floe bench hash`'s GB/s turned into CPU s/GiB (the linear hash is one serial
#               chain of SHA-NI rounds; no client can split it across cores)
#   read        the file read once from the page cache with pread into a 4 MiB buffer (the
#               hash pass's read)
#   send-floor  the bytes read from the page cache with pread (2 MiB) and sent over one loopback
#               TCP connection to a process that drains them: the least a client pays to put a
#               hashed part on the wire; Python, whose loop costs nothing at 2 MiB per call
#   sendfile    the same with sendfile(2) (no user-space copy)
#   floe-upload `floe upload` to a fresh floe-vault (64 MiB parts, 4 in flight)
# Usage: bash bench/e2e/upload-floor.sh [SIZE_MIB=2048] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-2048}
RUNS=${2:-5}
. bench/e2e/common.sh
bench_setup floor "$SIZE_MIB"

cat > "$work/send.py" <<'PY'
import os, resource, socket, subprocess, sys
mode, path = sys.argv[1], sys.argv[2]
if mode == "read":
    fd = os.open(path, os.O_RDONLY)
    buf = bytearray(4 << 20)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    off = 0
    while True:
        n = os.preadv(fd, [buf], off)
        if n <= 0:
            break
        off += n
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    print("%.4f" % (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))
    sys.exit(0)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
drain = subprocess.Popen([sys.executable, "-c",
    "import socket\ns = socket.create_connection(('127.0.0.1', %d))\nb = bytearray(1 << 20)\n"
    "while s.recv_into(b): pass\n" % port])
conn, _ = srv.accept()
fd = os.open(path, os.O_RDONLY)
size = os.fstat(fd).st_size
buf = bytearray(2 << 20)
view = memoryview(buf)
r0 = resource.getrusage(resource.RUSAGE_SELF)
off = 0
while off < size:
    if mode == "sendfile":
        off += os.sendfile(conn.fileno(), fd, off, min(size - off, 1 << 30))
    else:
        n = os.preadv(fd, [buf], off)
        conn.sendall(view[:n])
        off += n
r1 = resource.getrusage(resource.RUSAGE_SELF)
conn.close()
drain.wait()
print("%.4f" % (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))
PY

# measure NAME CMD...: appends "name cpu_seconds" (user + sys of the process)
measure() {
    local name=$1; shift
    /usr/bin/time -f "%U %S" -o "$work/t" "$@" > "$work/out" 2>"$work/err" \
        || { echo "$name failed:"; cat "$work/err"; exit 1; }
    echo "$name $(awk '{print $1 + $2}' "$work/t")" >> "$work/results"
}

for run in $(seq "$RUNS"); do
    measure openssl openssl dgst -sha256 "$file"
    gbs=$("$FLOE" bench hash --size "${SIZE_MIB}MiB" --runs 1 | sed -n 's/.*in one pass *\([0-9.]*\) GB\/s.*/\1/p')
    echo "one-pass $(python3 -c "print($SIZE_MIB * 1048576 / ($gbs * 1e9))")" >> "$work/results"
    echo "read $(python3 "$work/send.py" read "$file")" >> "$work/results"
    echo "send-floor $(python3 "$work/send.py" pread "$file")" >> "$work/results"
    echo "sendfile $(python3 "$work/send.py" sendfile "$file")" >> "$work/results"
    start_vault
    measure floe-upload "$FLOE" --endpoint-url "$url" --quiet upload bench "$file"
    stop_vault
done

python3 - "$work/results" "$SIZE_MIB" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, cpu = line.split()
    rows.setdefault(name, []).append(float(cpu))
gib = int(sys.argv[2]) / 1024
med = {k: statistics.median(v) / gib for k, v in rows.items()}
print("| what | client CPU s/GiB (median) | runs |")
print("|---|---|---|")
for k in ("openssl", "one-pass", "read", "send-floor", "sendfile", "floe-upload"):
    print("| %s | %.3f | %s |" % (k, med[k], ", ".join("%.2f" % (x / gib) for x in rows[k])))
send = min(med["send-floor"], med["sendfile"])
floor = med["one-pass"] + send
print("\nany client (hash in memory for free reading, then send): one-pass + cheaper send = "
      "%.3f s/GiB" % floor)
print("read, hash, read again and send (floe's streaming design): + read = %.3f s/GiB"
      % (floor + med["read"]))
print("floe-upload: %.3f s/GiB = %.2fx the first, %.2fx the second"
      % (med["floe-upload"], med["floe-upload"] / floor, med["floe-upload"] / (floor + med["read"])))
PY
