#!/usr/bin/env bash
# floe-vault's group commit (src/vault/commit.h), before and after side by side in one run:
# small archives uploaded concurrently to a floe-vault built from BASE (git rev, default
# the parent of the commit that added src/vault/commit.c) and to the
# current tree's floe-vault, one after the other, each on a fresh data dir:
#   floe_per_file  `floe backup --layout file-per-archive` (16 requests in flight)
#   boto3_x16      boto3 upload_archive from 16 threads, one request per file
# Prints files/s per tool and binary, and the groups the new floe-vault committed.
# Usage: bash bench/e2e/group-commit-bench.sh [FILES=2000] [BASE=<rev>]
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${1:-2000}
BASE=${2:-$(git log --diff-filter=A --format=%H -- src/vault/commit.c | tail -1)~1}
. bench/e2e/common.sh
bench_setup gcbench 1
export XDG_DATA_HOME=$work/data
echo "base: $(git log -1 --format='%h %s' "$BASE" | cut -c1-80)"
build_rev "$BASE" "$work/base-build" floe-vault
NEW_VAULT=$VAULT
OLD_VAULT=$work/base-build/src/vault/floe-vault
tree=$work/tree
small_file_tree "$tree" "$FILES"

run() { # run NAME CMD...: records "wall user sys" in $work/t.NAME
    local name=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$work/t.$name" "$@" > "$work/out.$name" 2>"$work/err.$name" ||
        { echo "$name failed:"; tail -5 "$work/err.$name"; exit 1; }
}
cat > "$work/boto3_x16.py" <<'PY'
import boto3, botocore.config, concurrent.futures, os, sys
root, url = sys.argv[1], sys.argv[2]
g = boto3.client("glacier", endpoint_url=url,
                 config=botocore.config.Config(max_pool_connections=16))
files = [os.path.join(d, n) for d, _, ns in os.walk(root) for n in sorted(ns)]
def up(p):
    with open(p, "rb") as f:
        return g.upload_archive(vaultName="bench", body=f.read())["archiveId"]
with concurrent.futures.ThreadPoolExecutor(16) as ex:
    ids = list(ex.map(up, files))
assert len(set(ids)) == len(files)
PY
for which in old new; do
    if [ $which = old ]; then VAULT=$OLD_VAULT; else VAULT=$NEW_VAULT; fi
    start_vault
    run "floe_per_file.$which" "$FLOE" --endpoint-url "$url" --quiet backup "$tree" bench \
        --catalog "$work/c.$which.db" --no-snapshot --layout file-per-archive
    stop_vault
    start_vault
    run "boto3_x16.$which" python3 "$work/boto3_x16.py" "$tree" "$url"
    kill -0 "$vpid"
    stop_vault
done
# the new floe-vault logs its groups when it stops (--log-level info is not the default, so
# count them from one more short run)
VAULT=$NEW_VAULT
rm -rf "$work/vd" "$work/port"
"$VAULT" --listen 127.0.0.1:0 --data-dir "$work/vd" --port-file "$work/port" --log-level info \
    --job-delay instant > "$work/vault.log" 2>&1 &
vpid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$work/port")
"$FLOE" --endpoint-url "$url" vault create bench >/dev/null
run groups python3 "$work/boto3_x16.py" "$tree" "$url"
stop_vault
grep -o 'group commit: .*' "$work/vault.log" | sed 's/^/new floe-vault, boto3_x16: /'

python3 - "$work" "$FILES" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
print("| tool | before files/s | after files/s | speed-up | client CPU ms/file after |")
print("|---|---|---|---|---|")
for tool in ("floe_per_file", "boto3_x16"):
    r = {}
    for w in ("old", "new"):
        e, u, s = map(float, open("%s/t.%s.%s" % (work, tool, w)).read().split()[-3:])
        r[w] = (n / e, (u + s) * 1000 / n)
    print("| %s | %.0f | %.0f | %.1fx | %.3f |" % (tool, r["old"][0], r["new"][0],
                                                  r["new"][0] / r["old"][0], r["new"][1]))
PY
