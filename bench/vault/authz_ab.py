#!/usr/bin/env python3
"""Cost of floe-vault's per-request authorization (docs/performance.md, "Vault access checks"):
two floe-vault binaries A and B (e.g. before and after a change) serve the same owner
requests, alternating runs, and the server's CPU seconds (utime+stime from /proc/PID/stat
across the requests) and the wall time are compared as medians.

Workloads: describe = N DescribeVault; upload = N (UploadArchive of 1 KiB + DescribeVault);
--policy sets a vault access policy of three statements (Allow/Deny with wildcards and a
condition) first, so B evaluates it on every request (A, without enforcement, ignores it).

usage: authz_ab.py A_BINARY B_BINARY [--workload describe|upload] [-n N] [--runs R] [--policy]
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "helpers"))
import vault_helper as vh  # noqa: E402

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "222222222222"}, "Action": ["glacier:Describe*",
                                                                         "glacier:Upload*"],
     "Resource": "arn:aws:glacier:us-east-1:123456789012:vaults/b*"},
    {"Effect": "Deny", "Principal": "*", "Action": "glacier:Delete*",
     "Condition": {"NumericLessThan": {"glacier:ArchiveAgeInDays": "365"}}},
    {"Effect": "Allow", "Principal": "*", "Action": "glacier:ListJobs",
     "Condition": {"StringEquals": {"glacier:ResourceTag/team": "blue"}}}]}


def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def run(binary, a):
    v = vh.Vault(binary, extra=("--job-delay", "instant", "--log-level", "warn"))
    try:
        assert v.request("PUT", "/-/vaults/b")[0] == 201
        if a.policy:
            body = json.dumps({"Policy": json.dumps(POLICY)}).encode()
            assert v.request("PUT", "/-/vaults/b/access-policy", body)[0] == 204
        data = b"x" * 1024
        c0, t0 = cpu(v.proc.pid), time.time()
        for _ in range(a.n):
            if a.workload == "upload":
                v.upload("b", data)
            assert v.request("GET", "/-/vaults/b")[0] == 200
        return cpu(v.proc.pid) - c0, time.time() - t0
    finally:
        v.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--workload", choices=["describe", "upload"], default="describe")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--policy", action="store_true")
    a = ap.parse_args()
    res = {"A": [], "B": []}
    for _ in range(a.runs):
        for k, b in (("A", a.a), ("B", a.b)):
            res[k].append(run(b, a))
    med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
           for k, v in res.items()}
    for k in "AB":
        print("%s server CPU s median %.3f  wall s median %.2f  runs %s" % (
            k, med[k][0], med[k][1], [round(x[0], 2) for x in res[k]]))
    print("B/A server CPU %.2f, wall %.2f" % (med["B"][0] / med["A"][0], med["B"][1] / med["A"][1]))


if __name__ == "__main__":
    main()
