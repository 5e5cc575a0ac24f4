#!/usr/bin/env bash
# check-includes.sh [DIR...] - fail when the modules of a source folder include each other in
# a circle. A module is a file name without its extension (x.c and x.h are module x); an edge
# A -> B is a file of A with #include "B.h" where B.h lies in the same folder. The edges must
# form a DAG (checked with tsort); on a loop the script prints the modules of the circle.
# Default folder: src/vault. Run from anywhere; paths are relative to the repository root.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- src/vault
status=0
for dir in "$@"; do
    edges=$(
        for f in "$dir"/*.c "$dir"/*.h; do
            [ -e "$f" ] || continue
            from=$(basename "${f%.*}")
            sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)\.h".*/\1/p' "$f" |
                while read -r to; do
                    [ "$to" != "$from" ] && [ -e "$dir/$to.h" ] && echo "$from $to"
                done
        done | sort -u
    )
    if ! out=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
        echo "check-includes: $dir: the includes form a circle:" >&2
        printf '%s\n' "$out" | sed -n 's/^tsort: \(-: \)\{0,1\}//p' >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "check-includes: ok ($*)"
exit $status
