#!/usr/bin/env bash
# End-to-end retrieval throughput from a local floe-vault on loopback, side by side in one run:
# `floe job output` (parallel, every segment and the whole output verified, fsynced),
# `aws glacier get-job-output` and a boto3 get_job_output streamed to a file (neither verifies
# nor fsyncs), all downloading the same archive-retrieval job, and one `openssl dgst -sha256`
# pass over the same bytes (cached) as the yardstick. The tools alternate, RUNS rounds.
# Reports medians: seconds, MB/s (10^6 B/s), x openssl, client CPU seconds per GiB, server
# (floe-vault) CPU seconds per GiB, peak RSS, and the CPU other processes used meanwhile.
# Usage: bash bench/e2e/download-bench.sh [SIZE_MIB=2048] [RUNS=5]
# Env: FLOE_ARGS="--concurrency 6" adds options to the floe command.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-2048}
RUNS=${2:-5}
. bench/e2e/common.sh
bench_setup downbench "$SIZE_MIB"
start_vault
archive=$("$FLOE" --endpoint-url "$url" --json upload bench "$file" |
          python3 -c "import json,sys; print(json.load(sys.stdin)['archive_id'])")
job=$("$FLOE" --endpoint-url "$url" --json job initiate-retrieval bench -- "$archive" |
      python3 -c "import json,sys; print(json.load(sys.stdin)['JobId'])")
"$FLOE" --endpoint-url "$url" --quiet job wait bench "$job" >/dev/null
sync

# One round = each tool once, in this order; outputs are checked against the source once.
python3 - "$work" "$SIZE_MIB" "$RUNS" "$vpid" "$FLOE" "$url" "$job" "$file" \
    "${FLOE_ARGS:-}" <<'PY'
import os, shlex, statistics, subprocess, sys, time
work, size_mib, runs, vpid, floe, url, job, src, floe_args = sys.argv[1:10]
size, runs = int(size_mib) << 20, int(runs)
gib = size / (1 << 30)
tick = os.sysconf("SC_CLK_TCK")
boto = f"""
import boto3, shutil, sys
g = boto3.client('glacier', endpoint_url='{url}')
r = g.get_job_output(vaultName='bench', jobId='{job}')
with open(sys.argv[1], 'wb') as f:
    shutil.copyfileobj(r['body'], f, 1 << 20)
"""
tools = {
    "floe": lambda out: [floe, "--endpoint-url", url, "--quiet", "job", "output", "bench", job,
                         "-o", out, *shlex.split(floe_args)],
    "awscli": lambda out: ["aws", "--endpoint-url", url, "glacier", "get-job-output",
                           "--account-id", "-", "--vault-name", "bench", "--job-id=" + job, out],
    "boto3": lambda out: [sys.executable, "-c", boto, out],
    "openssl": lambda out: ["openssl", "dgst", "-sha256", src],
}

def busy():  # machine-wide busy CPU seconds
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / tick

def proc_cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

rows = {t: [] for t in tools}
with open(os.path.join(work, "raw.txt"), "w") as raw:
    for run in range(runs):
        for name, cmd in tools.items():
            out = os.path.join(work, f"out.{name}")
            if os.path.exists(out):
                os.unlink(out)
            subprocess.run(["sync"])
            tf = os.path.join(work, "time.txt")
            b0, v0, t0 = busy(), proc_cpu(vpid), time.monotonic()
            p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf, *cmd(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wall_mono = time.monotonic() - t0
            b1, v1 = busy(), proc_cpu(vpid)
            if p.returncode:
                sys.exit(f"{name} failed: {p.stderr.decode(errors='replace')}")
            e, u, s, m = open(tf).read().split()[-4:]
            cpu, server = float(u) + float(s), v1 - v0
            bg = max(0.0, (b1 - b0 - cpu - server) / wall_mono)
            rows[name].append((float(e), cpu, int(m), server, bg))
            print(name, e, u, s, m, f"{server:.2f}", f"{bg:.2f}", file=raw, flush=True)
            if run == 0 and name != "openssl":
                if subprocess.run(["cmp", "-s", src, out]).returncode:
                    sys.exit(f"{name}: the output differs from the uploaded file")
        print(f"round {run + 1}/{runs} done", file=sys.stderr)

base = statistics.median(r[0] for r in rows["openssl"])
print(f"{size_mib} MiB, {runs} alternating rounds, medians; floe-vault on 127.0.0.1, job {job[:12]}...")
print()
print("| tool | median s | MB/s | x openssl dgst | client CPU s/GiB | server CPU s/GiB "
      "| peak RSS MiB | background cores |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name in ("floe", "awscli", "boto3", "openssl"):
    r = rows[name]
    med = lambda i: statistics.median(x[i] for x in r)
    e = med(0)
    srv = f"{med(3) / gib:.2f}" if name != "openssl" else ""
    print(f"| {name} | {e:.2f} | {size / e / 1e6:.0f} | {e / base:.2f} | {med(1) / gib:.2f} "
          f"| {srv} | {med(2) / 1024:.0f} | {med(4):.2f} |")
print()
print("raw (tool wall user sys maxrss_kb server_cpu background):")
print(open(os.path.join(work, "raw.txt")).read(), end="")
PY
