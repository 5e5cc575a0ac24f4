#!/usr/bin/env bash
# End-to-end backup of many small files to a local floe-vault on loopback, side by side in one
# run: `floe backup` (packs), `floe backup --layout file-per-archive` (one archive per file),
# a boto3 loop of upload_archive (one request per file, one process), an aws CLI loop (one
# process per file: a sample, scaled), and a re-run of floe backup with nothing changed.
# Reports files/s and client CPU; each tool gets a fresh floe-vault.
# Usage: bash bench/e2e/backup-bench.sh [FILES=10000] [AWS_SAMPLE=40]
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-10000}
AWS_SAMPLE=${2:-40}
. bench/e2e/common.sh
bench_setup backupbench 1
export XDG_DATA_HOME=$work/data
tree=$work/tree
small_file_tree "$tree" "$FILES"

run() { # run NAME CMD...: prints "NAME wall user sys"
    local name=$1; shift
    /usr/bin/time -f "$name %e %U %S" -o "$work/t.$name" "$@" > "$work/out.$name" 2>"$work/err.$name" ||
        { echo "$name failed:"; tail -5 "$work/err.$name"; exit 1; }
    cat "$work/t.$name"
}

start_vault
run floe_packed "$FLOE" --endpoint-url "$url" --quiet backup "$tree" bench --catalog "$work/c1.db" --no-snapshot
run floe_rerun "$FLOE" --endpoint-url "$url" --quiet backup "$tree" bench --catalog "$work/c1.db" --no-snapshot
stop_vault
start_vault
run floe_per_file "$FLOE" --endpoint-url "$url" --quiet backup "$tree" bench --catalog "$work/c2.db" --no-snapshot --layout file-per-archive
stop_vault
start_vault
run boto3 python3 - "$tree" "$url" <<'PY'
import boto3, os, sys
root, url = sys.argv[1], sys.argv[2]
g = boto3.client("glacier", endpoint_url=url)
for d, _, names in os.walk(root):
    for n in sorted(names):
        with open(os.path.join(d, n), "rb") as f:
            g.upload_archive(vaultName="bench", body=f.read())
PY
python3 -c 'import os,sys; fs=[os.path.join(d,n) for d,_,ns in os.walk(sys.argv[1]) for n in sorted(ns)]; print("\n".join(fs[:int(sys.argv[2])]))' "$tree" "$AWS_SAMPLE" > "$work/sample"
run awscli_sample bash -c 'while read -r f; do aws --endpoint-url "$0" glacier upload-archive --account-id - --vault-name bench --body "$f" >/dev/null; done < "$1"' "$url" "$work/sample"
stop_vault

python3 - "$work" "$FILES" "$AWS_SAMPLE" <<'PY'
import sys
work, n, sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
for name in ("floe_packed", "floe_rerun", "floe_per_file", "boto3", "awscli_sample"):
    _, e, u, s = open("%s/t.%s" % (work, name)).read().split()[-4:]
    rows[name] = (float(e), float(u) + float(s))
files = {k: n for k in rows}
files["awscli_sample"] = sample
print("| tool | files | wall s | files/s | client CPU ms/file |")
print("|---|---|---|---|---|")
for k, (e, cpu) in rows.items():
    print("| %s | %d | %.2f | %.0f | %.3f |" % (k, files[k], e, files[k] / e, cpu * 1000 / files[k]))
fs = lambda k: files[k] / rows[k][0]
print("\nfloe packed / boto3: %.1fx; floe file-per-archive / boto3: %.1fx; floe packed / aws CLI: %.0fx"
      % (fs("floe_packed") / fs("boto3"), fs("floe_per_file") / fs("boto3"),
         fs("floe_packed") / fs("awscli_sample")))
PY
