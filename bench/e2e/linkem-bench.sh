#!/usr/bin/env bash
# bench/e2e/linkem-bench.sh [SIZE_MIB] [RUNS] - is the link emulator (tools/linkem.c) the
# bottleneck? Sends SIZE_MIB MiB (default 2048) over one loopback TCP connection, directly and
# through linkem with no delay and no cap, RUNS times (default 3) alternating; prints the
# median MB/s of each and linkem's CPU seconds per GiB (its ceiling on one core is
# 1.074 / that figure GB/s). The sender and the sink are Python (sendall / recv_into of 4 MiB
# buffers), so the direct figure is Python's own ceiling, not the kernel's.
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mib=${1:-2048}
runs=${2:-3}
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFLOE_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target linkem >/dev/null
python3 - "$PWD/build-bench/linkem" "$size_mib" "$runs" <<'PY'
import socket, statistics, subprocess, sys, threading, time
linkem, size, runs = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3])

def one(through):
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
    port = srv.getsockname()[1]
    proc = None
    if through:
        proc = subprocess.Popen([linkem, "--upstream", f"127.0.0.1:{port}"],
                                stdout=subprocess.PIPE, text=True)
        port = int(proc.stdout.readline().split("127.0.0.1:")[1].split()[0])
    got = []
    def sink():
        c, _ = srv.accept(); mv = memoryview(bytearray(4 << 20)); n = 0
        while True:
            k = c.recv_into(mv)
            if not k: break
            n += k
        got.append(n); c.close()
    t = threading.Thread(target=sink); t.start()
    s = socket.create_connection(("127.0.0.1", port)); block = b"x" * (4 << 20)
    t0 = time.monotonic(); sent = 0
    while sent < size:
        s.sendall(block); sent += len(block)
    s.shutdown(socket.SHUT_WR); t.join(); dt = time.monotonic() - t0
    s.close(); srv.close()
    assert got[0] == sent
    cpu = 0.0
    if proc:
        f = open(f"/proc/{proc.pid}/stat").read().split(")")[1].split()
        cpu = (int(f[11]) + int(f[12])) / 100
        proc.terminate(); proc.communicate()
    return sent / dt / 1e6, cpu / (sent / (1 << 30))

direct, via, cpu = [], [], []
for _ in range(runs):
    direct.append(one(False)[0])
    r, c = one(True); via.append(r); cpu.append(c)
print(f"{size >> 20} MiB, {runs} runs, medians:")
print(f"  direct       {statistics.median(direct):8.0f} MB/s")
print(f"  via linkem   {statistics.median(via):8.0f} MB/s")
print(f"  linkem CPU   {statistics.median(cpu):8.2f} core-s/GiB "
      f"(ceiling on one core: {1.074 / statistics.median(cpu):.2f} GB/s)")
PY
