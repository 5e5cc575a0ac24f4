#!/usr/bin/env bash
# test_install.sh CMAKE CC PKG_CONFIG BUILD_DIR - CTest install_tree (label integration).
#
# Installs the build into a temporary root (DESTDIR, the configured prefix under it), then
# checks what a user and a packager get: every file in its place, libfloe.so.0's SONAME, each
# public header compiling on its own, a program built with `pkg-config --cflags --libs floe`
# (and one linking libfloe.a with floe.pc's private requirements) computing a known tree hash,
# the same program built through find_package(floe) (floe::floe and floe::floe_static) and a
# version it must refuse, the installed programs, manual pages, completions and systemd units.
# The temporary root is removed on success and on failure.
set -euo pipefail

if [ $# -ne 4 ]; then
    echo "usage: test_install.sh CMAKE CC PKG_CONFIG BUILD_DIR" >&2
    exit 2
fi
CMAKE=$1 CC=$2 PKG_CONFIG=$3 BUILD=$4
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/floe-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step() { echo "== $*"; }
die() {
    echo "test_install: FAIL: $*" >&2
    exit 1
}

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
[ -n "$prefix" ] || die "no CMAKE_INSTALL_PREFIX in $BUILD/CMakeCache.txt"
root="$tmp/root"
p="$root$prefix"

step "cmake --install $BUILD (DESTDIR=$root, prefix $prefix)"
DESTDIR="$root" "$CMAKE" --install "$BUILD" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; die "cmake --install failed"; }
outside=$(find "$root" -mindepth 1 \( -type f -o -type l \) ! -path "$p/*" | head -5)
[ -z "$outside" ] || die "installed outside the prefix: $outside"

pc=$(find "$p" -name floe.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pc" ] || die "floe.pc not installed"
libdir=$(dirname "$(dirname "$pc")")

step "the installed tree"
expect_files=(
    bin/floe bin/floe-vault
    share/man/man1/floe.1 share/man/man8/floe-vault.8
    share/bash-completion/completions/floe share/bash-completion/completions/floe-vault
    share/zsh/site-functions/_floe
    lib/systemd/system/floe-vault.service lib/systemd/system/floe-backup@.service
    lib/systemd/system/floe-backup@.timer
)
for f in "${expect_files[@]}"; do
    [ -e "$p/$f" ] || die "$prefix/$f not installed"
done
for f in "$libdir"/libfloe.so.0 "$libdir"/libfloe.so "$libdir"/libfloe.a \
    "$libdir"/cmake/floe/floeConfig.cmake "$libdir"/cmake/floe/floeConfigVersion.cmake \
    "$libdir"/cmake/floe/floeTargets.cmake; do
    [ -e "$f" ] || die "${f#"$root"} not installed"
done
for h in "$SRC"/include/floe/*.h; do
    [ -f "$p/include/floe/$(basename "$h")" ] || die "header floe/$(basename "$h") not installed"
done
soname=$(readelf -d "$libdir/libfloe.so.0" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libfloe.so.0" ] || die "libfloe.so.0 has SONAME '$soname'"
ver=$("$p/bin/floe" --version) || die "installed floe --version failed"
"$p/bin/floe-vault" --version >/dev/null || die "installed floe-vault --version failed"
echo "$ver; libfloe.so.0 -> $(readlink "$libdir/libfloe.so.0")"
debver=$(sed -n '1s/^floe (\([^)-]*\).*/\1/p' "$SRC/debian/changelog")
[ "$debver" = "${ver#floe }" ] || die "debian/changelog's version is '$debver', floe says '$ver'"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
# a floe.pc with absolute paths (FLOE_PKGCONFIG_RELOCATABLE=OFF) is read the packagers' way
# shellcheck disable=SC2016 # a literal ${pcfiledir}
grep -q '^prefix=${pcfiledir}' "$pc" || export PKG_CONFIG_SYSROOT_DIR="$root"
step "pkg-config: $("$PKG_CONFIG" --modversion floe), $("$PKG_CONFIG" --cflags --libs floe)"
[ "$("$PKG_CONFIG" --modversion floe)" = "${ver#floe }" ] || die "floe.pc version is not $ver"
cflags=$("$PKG_CONFIG" --cflags floe)
# shellcheck disable=SC2086
for h in "$SRC"/include/floe/*.h; do
    echo "#include <floe/$(basename "$h")>" |
        "$CC" -std=c11 -Wall -Wextra -Werror -fsyntax-only $cflags -x c - ||
        die "installed header floe/$(basename "$h") does not compile on its own"
done

step "program built with pkg-config (shared libfloe)"
# shellcheck disable=SC2046
"$CC" -std=c11 -o "$tmp/check_pc" "$HERE/treehash_check.c" $("$PKG_CONFIG" --cflags --libs floe)
ldd_line=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/check_pc" | grep 'libfloe\.so\.0' || true)
case "$ldd_line" in
    *"$libdir/libfloe.so.0"*) ;;
    *) die "check_pc does not load the installed libfloe.so.0: $ldd_line" ;;
esac
LD_LIBRARY_PATH="$libdir" "$tmp/check_pc" || die "check_pc (pkg-config, shared) failed"

step "program linking libfloe.a with floe.pc's Requires.private and Libs.private"
requires=$("$PKG_CONFIG" --print-requires-private floe | awk '{print $1}' | tr '\n' ' ')
libs_private=$(sed -n 's/^Libs\.private: *//p' "$pc")
# (not `pkg-config --static`: Debian's libcurl.pc lists static-only libraries no -dev installs)
# --whole-archive: every object of libfloe.a, so every library any of them needs must be named
# shellcheck disable=SC2086,SC2046
"$CC" -std=c11 -o "$tmp/check_pc_static" "$HERE/treehash_check.c" $cflags \
    -Wl,--whole-archive "$libdir/libfloe.a" -Wl,--no-whole-archive \
    $("$PKG_CONFIG" --libs $requires) $libs_private ||
    die "libfloe.a does not link with Requires.private: $requires and Libs.private: $libs_private"
if ldd "$tmp/check_pc_static" | grep -q libfloe; then die "check_pc_static loads libfloe.so"; fi
"$tmp/check_pc_static" || die "check_pc_static (libfloe.a) failed"

step "find_package(floe) from a CMake project"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR # the package finds itself; its deps are the system's
"$CMAKE" -S "$HERE/consumer" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_PREFIX_PATH="$p" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/consumer.log" 2>&1 ||
    { cat "$tmp/consumer.log" >&2; die "consumer project does not configure"; }
"$CMAKE" --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 ||
    { cat "$tmp/consumer.log" >&2; die "consumer project does not build"; }
"$tmp/consumer/check_shared" || die "floe::floe program failed"
"$tmp/consumer/check_static" || die "floe::floe_static program failed"
if "$CMAKE" -S "$HERE/consumer" -B "$tmp/consumer99" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_PREFIX_PATH="$p" -DFLOE_WANT_VERSION=99 >"$tmp/consumer99.log" 2>&1; then
    die "find_package(floe 99) succeeded against version ${ver#floe }"
fi

step "manual pages"
for page in "$p/share/man/man1/floe.1" "$p/share/man/man8/floe-vault.8"; do
    if command -v man >/dev/null 2>&1; then
        out=$(MANWIDTH=100 man -l "$page" 2>&1) || die "man -l $page failed: $out"
    else
        out=$(cat "$page")
    fi
    grep -q 'floe' <<<"$out" || die "$page renders without its name"
done
for c in $("$p/bin/floe" --help | awk '/^commands:/ {f = 1; next} f && /^  [a-z]/ {print $1}'); do
    grep -q "^\.SS \"floe $c\"" "$p/share/man/man1/floe.1" || die "floe.1 has no section for $c"
done

step "bash completion (installed file, installed programs)"
out=$(PATH="$p/bin:$PATH" bash -c '
    set -uo pipefail
    source "$1"
    t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
          if [ "$1" = floe-vault ]; then _floe_vault; else _floe; fi; echo "${COMPREPLY[*]}"; }
    t floe up; t floe job i; t floe upload v f --part; t floe inventory v --format ""
    t floe-vault --log; t floe vault policy s' _ "$p/share/bash-completion/completions/floe")
expected=$'upload\ninitiate-inventory initiate-retrieval\n--part-size\nJSON CSV\n--log-level\nset'
[ "$out" = "$expected" ] || die "bash completion gave:
$out
expected:
$expected"
if command -v zsh >/dev/null 2>&1; then
    zsh -n "$p/share/zsh/site-functions/_floe" || die "_floe is not valid zsh"
else
    echo "(zsh not installed: _floe not syntax-checked)"
fi

step "systemd units"
grep -qx "ExecStart=$prefix/bin/floe-vault --listen 127.0.0.1:9190 .*" \
    "$p/lib/systemd/system/floe-vault.service" || die "floe-vault.service does not run $prefix/bin/floe-vault on 127.0.0.1"
grep -q "^ExecStart=$prefix/bin/floe upload " "$p/lib/systemd/system/floe-backup@.service" ||
    die "floe-backup@.service does not run $prefix/bin/floe upload"
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify needs the ExecStart binaries where the units say: point them into the temp root
    mkdir "$tmp/units"
    for u in floe-vault.service floe-backup@.service floe-backup@.timer; do
        sed "s#=$prefix/bin/#=$p/bin/#" "$p/lib/systemd/system/$u" >"$tmp/units/${u/@./@nightly.}"
    done
    (cd "$tmp/units" && systemd-analyze verify --man=no ./floe-vault.service \
        ./floe-backup@nightly.service ./floe-backup@nightly.timer) >"$tmp/verify.log" 2>&1 || true
    if grep -F "$tmp/units" "$tmp/verify.log"; then die "systemd-analyze verify complains"; fi
else
    echo "(systemd-analyze not installed: units not verified)"
fi

echo "test_install: ok ($(find "$root" -type f | wc -l) files installed under $prefix)"
