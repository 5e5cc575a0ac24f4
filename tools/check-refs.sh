#!/usr/bin/env bash
# tools/check-refs.sh - the repository stands alone (CTest check_refs, label "style").
#
# Fails when a tracked file
#   1. names a path outside the repository: the sibling "shared" folder seen from the project
#      root, or a machine path under the work or root home directories (someone who clones floe
#      has neither; the patterns are spelled in pieces below so this file does not match itself),
#      or
#   2. names a documentation page that does not exist: docs/NAME.md (from the top), internals/NAME.md
#      (under docs/), or a bare NAME.md, which must exist in the file's own folder, at the top,
#      in docs/ or in docs/internals/. Placeholders such as docs/internals/<module>.md and
#      names inside URLs are not page names and are skipped, or
#   3. names a source, script or build file of the repository (src/..., include/..., tools/...,
#      bench/..., tests/..., docs/..., cmake/... ending in .c .h .cc .sh .py .cmake .in or
#      CMakeLists.txt) that does not exist. Other words with a slash ("include/exclude", an
#      example path such as "docs/a.txt") are prose, not references.
# Usage: bash tools/check-refs.sh     (from anywhere; needs git, or scans the tree without it)
set -uo pipefail
cd "$(dirname "$0")/.."
self=tools/check-refs.sh
status=0

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files)
else
    mapfile -t files < <(find . -type f -not -path './.git/*' -not -path './build*' | sed 's|^\./||')
fi
scan=()
for f in "${files[@]}"; do
    [ "$f" = "$self" ] || [ ! -f "$f" ] || scan+=("$f")
done
[ ${#scan[@]} -gt 0 ] || { echo "check-refs: no files to scan" >&2; exit 1; }

# 1. paths outside the repository
outside='\.\.''/shared|/wo''rk/|/ro''ot/'
if out=$(printf '%s\0' "${scan[@]}" | xargs -0 grep -nIE -- "$outside"); then
    while IFS= read -r line; do
        echo "check-refs: ${line%%:*}: names a path outside the repository: ${line#*:}" >&2
    done <<<"$out"
    status=1
fi

# 2. documentation pages that do not exist
while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    lineno=${rest%%:*}
    name=${rest#*:}
    name=${name#./}
    dir=$(dirname "$file")
    case "$name" in
    docs/*) [ -f "$name" ] && continue ;;
    internals/*) [ -f "docs/$name" ] && continue ;;
    */*) continue ;; # some other folder's file (e.g. a generated report): not a page name
    *) [ -f "$dir/$name" ] || [ -f "$name" ] || [ -f "docs/$name" ] ||
        [ -f "docs/internals/$name" ] && continue ;;
    esac
    echo "check-refs: $file:$lineno: names $name, which is not in the repository" >&2
    status=1
done < <(printf '%s\0' "${scan[@]}" |
    xargs -0 grep -noIP -- '(?<![A-Za-z0-9_./<>*{}$@%:~-])[A-Za-z0-9_][A-Za-z0-9_./-]*\.md\b')

# 3. source, script and build files that do not exist (a placeholder such as
#    src/cli/cmd_<command>.c is skipped)
while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    lineno=${rest%%:*}
    name=${rest#*:}
    name=${name%%[./]}
    [ -n "$name" ] && [ ! -e "$name" ] && [ "${name%.md}" = "$name" ] || continue # pages: check 2
    echo "check-refs: $file:$lineno: names $name, which is not in the repository" >&2
    status=1
done < <(printf '%s\0' "${scan[@]}" |
    xargs -0 grep -noIP -- '(?<![A-Za-z0-9_./<>*{}$@%:~-])(src|include|tools|bench|tests|docs|cmake)/[A-Za-z0-9_./-]*(\.(c|h|cc|sh|py|cmake|in)|CMakeLists\.txt)(?![A-Za-z0-9_/<>*{}$-])(?!\.[A-Za-z0-9_])')

[ $status -eq 0 ] && echo "check-refs: ok"
exit $status
