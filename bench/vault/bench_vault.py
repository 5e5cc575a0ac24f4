#!/usr/bin/env python3
"""floe-vault throughput: UploadArchive and ranged GetJobOutput with N parallel connections.

The client does no per-request hashing: the archive body is random bytes whose tree hash and
SHA-256 are computed once, and every request reuses them (each upload still creates a new,
fully verified and fsynced archive on the server). Requests are signed with botocore SigV4 and
sent with http.client from N threads (sendall/readinto release the GIL). So the numbers measure
the server: receive + leaf/linear hashing + write + fdatasync + SQLite commit for uploads;
pread + send for downloads (no hashing: tree hashes come from stored leaves).

usage: bench_vault.py FLOE_VAULT_BINARY [--size-mib 64] [--count 16] [--conns 1,2,4,8]
                      [--data-dir DIR] [--repeat 3]
Prints one line per (operation, connections): median GB/s (10^9 B/s) over --repeat runs.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "vault"))
import vault_helper as vh  # noqa: E402
import http.client  # noqa: E402


def upload_curl(v, path_file, size, tree, lin):
    """The same UploadArchive sent by curl (C client: no Python in the data path)."""
    import subprocess
    import botocore.auth, botocore.awsrequest, botocore.credentials
    url = v.url + "/-/vaults/bench/archives"
    req = botocore.awsrequest.AWSRequest(method="POST", url=url, headers={
        "x-amz-glacier-version": "2012-06-01", "x-amz-sha256-tree-hash": tree,
        "x-amz-content-sha256": lin})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(vh.ACCESS_KEY, vh.SECRET_KEY),
                            "glacier", vh.REGION).add_auth(req)
    # -T streams the file (cached) as it sends; --data-binary @file would first read all of it
    # into a fresh buffer per request, which costs the shared cores more than the server's copy
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
           "-T", path_file, "-H", "Content-Type:", "-H", "Expect:", url]
    for k, val in req.headers.items():
        cmd += ["-H", "%s: %s" % (k, val)]
    out = subprocess.run(cmd, capture_output=True, check=True).stdout
    assert out == b"201", out


def upload_once(v, body, tree, lin):
    st, hd, resp = v.request("POST", "/-/vaults/bench/archives", body,
                             {"x-amz-sha256-tree-hash": tree}, content_sha=lin)
    assert st == 201, (st, resp)
    return hd["x-amz-archive-id"]


def download_once(v, jid, first, last, buf):
    import botocore.auth, botocore.awsrequest, botocore.credentials
    path = "/-/vaults/bench/jobs/%s/output" % jid
    req = botocore.awsrequest.AWSRequest(method="GET", url=v.url + path, headers={
        "x-amz-glacier-version": "2012-06-01", "Range": "bytes=%d-%d" % (first, last)})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(vh.ACCESS_KEY, vh.SECRET_KEY),
                            "glacier", vh.REGION).add_auth(req)
    c = http.client.HTTPConnection("127.0.0.1", v.port, timeout=300)
    c.request("GET", path, headers=dict(req.headers.items()))
    r = c.getresponse()
    assert r.status == 206, r.status
    view = memoryview(buf)
    got = 0
    while got < last - first + 1:
        n = r.readinto(view[got:last - first + 1])
        if not n:
            break
        got += n
    c.close()
    assert got == last - first + 1
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--conns", default="1,2,4,8")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--client", choices=("python", "curl"), default="curl",
                    help="upload client (downloads always use Python readinto)")
    a = ap.parse_args()
    size = a.size_mib * vh.MIB
    body = os.urandom(size)
    tree, lin = vh.tree_hash(body), vh.sha256(body)
    tmp = tempfile.mkdtemp(prefix="floe-vault-bench-", dir=a.data_dir)
    body_file = os.path.join(tmp, "body.bin")
    with open(body_file, "wb") as f:
        f.write(body)
    v = vh.Vault(a.binary, data_dir=os.path.join(tmp, "data"),
                 extra=("--job-delay", "instant", "--log-level", "warn"))
    try:
        assert v.request("PUT", "/-/vaults/bench")[0] == 201
        aid = upload_once(v, body, tree, lin)
        st, hd, _ = v.request("POST", "/-/vaults/bench/jobs", json.dumps(
            {"Type": "archive-retrieval", "ArchiveId": aid}).encode())
        jid = hd["x-amz-job-id"]
        for conns in [int(x) for x in a.conns.split(",")]:
            for op in ("upload", "download"):
                rates = []
                for _ in range(a.repeat):
                    bufs = [bytearray(size) for _ in range(conns)] if op == "download" else None
                    t0 = time.perf_counter()
                    with concurrent.futures.ThreadPoolExecutor(conns) as ex:
                        if op == "upload" and a.client == "curl":
                            list(ex.map(lambda i: upload_curl(v, body_file, size, tree, lin),
                                        range(a.count)))
                        elif op == "upload":
                            list(ex.map(lambda i: upload_once(v, body, tree, lin),
                                        range(a.count)))
                        else:
                            list(ex.map(lambda i: download_once(v, jid, 0, size - 1,
                                                                bufs[i % conns]),
                                        range(a.count)))
                    dt = time.perf_counter() - t0
                    rates.append(a.count * size / dt / 1e9)
                print("%-8s conns=%d  %d x %d MiB  median %.2f GB/s  (runs: %s)" % (
                    op, conns, a.count, a.size_mib, statistics.median(rates),
                    ", ".join("%.2f" % r for r in rates)), flush=True)
                if op == "upload":  # keep the disk from filling: drop the bench vault's archives
                    v.restart()
    finally:
        v.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
