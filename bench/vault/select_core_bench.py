#!/usr/bin/env python3
"""The select core alone (tests/select/select_driver: the reader and evaluator floe-vault runs)
beside grep -c and awk over one CSV, and optionally a second driver (another build, for a
before/after comparison), alternating in one run (docs/performance.md, "Select jobs"). The
query is the issue's: SELECT _1, _3 FROM ARCHIVE WHERE CAST(_2 AS INT) > 500000 over rows
"id,value,name" (bench/vault/select_bench.py writes such a file). Each command runs under
sh -c; its CPU seconds (user + system, from the children's rusage) give MB per CPU second, the
per-core rate, which a busy shared machine distorts far less than the wall time.

usage: select_core_bench.py FILE ROUNDS DRIVER [DRIVER_BEFORE]
"""
import os
import resource
import statistics
import subprocess
import sys

path, rounds, driver = sys.argv[1], int(sys.argv[2]), sys.argv[3]
before = sys.argv[4] if len(sys.argv) > 4 else None
size = os.path.getsize(path)
q = "SELECT _1, _3 FROM ARCHIVE WHERE CAST(_2 AS INT) > 500000"
cmds = {"grep -c": "grep -c ,9 %s | cat" % path,  # piped: grep stops early into /dev/null
        "awk": "awk -F, '$2 > 500000 {print $1\",\"$3}' %s" % path}
if before:
    cmds["select before"] = "%s '%s' < %s" % (before, q, path)
cmds["select"] = "%s '%s' < %s" % (driver, q, path)
res = {k: [] for k in cmds}
for _ in range(rounds):
    for k, c in cmds.items():
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["sh", "-c", c], stdout=subprocess.DEVNULL, check=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res[k].append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
print("# %d bytes, %d rounds" % (size, rounds))
awk = statistics.median(res["awk"])
for k, v in res.items():
    m = statistics.median(v)
    print("%-14s median CPU %.3f s  %6.0f MB per CPU s  %.2fx awk" % (k, m, size / m / 1e6,
                                                                       awk / m))
