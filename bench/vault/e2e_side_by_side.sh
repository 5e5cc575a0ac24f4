#!/usr/bin/env bash
# e2e_side_by_side.sh VAULT_BIN [RUNS]: floe upload of $FILE (cached, default /tmp/floe-e2e.bin, 2 GiB made if missing)
# to a fresh floe-vault; prints wall, client CPU, server CPU per run. FLOE=client binary,
# VAULT_EXTRA=server options, PERF=perf.data path (records the server). Run two servers alternately.
VAULT=$1; RUNS=${2:-3}; FLOE=${FLOE:-$(cd "$(dirname "$0")/../.." && pwd)/build/floe}
export AWS_ACCESS_KEY_ID=AKIDFLOEVAULTLOCAL AWS_SECRET_ACCESS_KEY=floe-vault-local-secret AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
FILE=${FILE:-/tmp/floe-e2e.bin}; [ -f "$FILE" ] || head -c $((2048*1048576)) /dev/urandom > "$FILE"; cat "$FILE" >/dev/null
w=$(mktemp -d); tck=$(getconf CLK_TCK)
for r in $(seq $RUNS); do
  rm -rf $w/vd $w/port
  $VAULT --listen 127.0.0.1:0 --data-dir $w/vd --port-file $w/port --job-delay instant $VAULT_EXTRA > $w/log 2>&1 & vp=$!
  for _ in $(seq 200); do [ -s $w/port ] && break; sleep 0.05; done
  url=http://127.0.0.1:$(cat $w/port)
  XDG_CACHE_HOME=$w/cache $FLOE --endpoint-url $url vault create bench >/dev/null
  sync; sleep 0.3
  [ -n "$PERF" ] && { perf record -e cpu-clock -F 1000 -g -o $PERF -p $vp 2>/dev/null & pp=$!; sleep 0.5; }
  s0=$(awk '{print $14+$15}' /proc/$vp/stat)
  /usr/bin/time -f "%e %U %S %M" -o $w/t env XDG_CACHE_HOME=$w/cache $FLOE --endpoint-url $url --quiet upload bench "$FILE" $FLOE_ARGS > $w/out 2>$w/err || cat $w/err
  s1=$(awk '{print $14+$15}' /proc/$vp/stat)
  [ -n "$PERF" ] && { kill -INT $pp; wait $pp; }
  read e u s m < $w/t
  echo "run $r: wall $e s  client cpu $(echo "$u+$s"|bc) s  server cpu $(echo "scale=2;($s1-$s0)/$tck"|bc) s  rss ${m}KB"
  kill $vp; wait $vp 2>/dev/null
done
rm -rf $w
