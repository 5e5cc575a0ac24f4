#!/usr/bin/env bash
# Source checks run by CTest (label "style"): banned functions (curl checksrc spirit) and
# clang-format conformance of every C source and header.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.cc' 'bench/*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find src include tests bench -name '*.[ch]' -o -name '*.cc' 2>/dev/null)
banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets|rand|srand)\s*\('
for f in $files; do
    case "$f" in src/*|include/*) ;; *) continue ;; esac
    if grep -nE "$banned" "$f" | grep -vE '^\s*[0-9]+:\s*(\*|//)'; then
        echo "check-src: $f uses a banned function (see docs/contributing.md: use snprintf, strtoull, getrandom...)" >&2
        status=1
    fi
done
if command -v clang-format >/dev/null 2>&1; then
    for f in $files; do
        if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
            echo "check-src: $f is not clang-formatted (run: clang-format -i $f)" >&2
            status=1
        fi
    done
else
    echo "check-src: clang-format not installed; format check skipped" >&2
fi
[ $status -eq 0 ] && echo "check-src: ok"
exit $status
