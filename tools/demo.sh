#!/usr/bin/env bash
# The main job: build floe and floe-vault, start floe-vault on a free loopback port with a
# temporary data dir, generate a multi-GiB file, upload it (parallel multipart), retrieve it
# (archive-retrieval job, parallel verified ranged download), check it byte for byte, print
# the throughput of both directions, and stop the server.
# Usage: bash tools/demo.sh [SIZE_MIB]   (default 2048)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-2048}
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target floe floe-vault
FLOE=$PWD/build/floe
VAULT=$PWD/build/src/vault/floe-vault
work=$(mktemp -d "${TMPDIR:-/tmp}/floe-demo.XXXXXX")
vpid=""
cleanup() {
    if [ -n "$vpid" ]; then kill "$vpid" 2>/dev/null || true; wait "$vpid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== starting floe-vault (data in $work/vault)"
"$VAULT" --listen 127.0.0.1:0 --data-dir "$work/vault" --port-file "$work/port" \
    --job-delay instant > "$work/vault.log" 2>&1 &
vpid=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "floe-vault did not start:"; cat "$work/vault.log"; exit 1; }
url=http://127.0.0.1:$(cat "$work/port")
export AWS_ACCESS_KEY_ID=AKIDFLOEVAULTLOCAL AWS_SECRET_ACCESS_KEY=floe-vault-local-secret
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null XDG_CACHE_HOME=$work/cache
F=("$FLOE" --endpoint-url "$url")

echo "== generating ${SIZE_MIB} MiB of random data"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/data.bin"
"${F[@]}" vault create demo

echo "== upload"
"${F[@]}" --json upload demo "$work/data.bin" | tee "$work/up.json"
archive=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['archive_id'])" "$work/up.json")

echo "== retrieve (initiate job, wait, parallel verified download)"
"${F[@]}" --json retrieve demo "--archive-id=$archive" -o "$work/back.bin" | tee "$work/down.json"

echo "== verify"
cmp "$work/data.bin" "$work/back.bin"
python3 - "$work/up.json" "$work/down.json" "$work/data.bin" <<'PY'
import io, json, sys, botocore.utils as u
up = json.load(open(sys.argv[1]))
down = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
with open(sys.argv[3], "rb") as f:
    want = u.calculate_tree_hash(f)
assert up["tree_hash"] == want, (up["tree_hash"], want)
print(f"byte-for-byte identical; tree hash {want} matches botocore")
print(f"upload:   {up['size'] / up['seconds'] / 1e6:8.1f} MB/s  ({up['seconds']:.2f} s)")
secs = down.get("seconds") or down.get("download_seconds")
if secs:
    print(f"retrieve: {up['size'] / secs / 1e6:8.1f} MB/s  ({secs:.2f} s)")
PY
echo "== done"
