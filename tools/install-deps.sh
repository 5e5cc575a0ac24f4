#!/usr/bin/env bash
# Installs every Debian package floe needs and checks the Python peers.
# Does nothing (no apt-get at all) when everything is already present.
set -euo pipefail

PKGS=(build-essential cmake pkg-config
      liburing-dev libcurl4-openssl-dev libssl-dev libxxhash-dev libzstd-dev libexpat1-dev
      libbenchmark-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev libcmocka-dev
      libpq-dev postgresql  # the migrate catalog's PostgreSQL backend, and the server its tests start
      openssl xxd clang-format
      chromium)  # the headless browser that opens floe bench --report pages (tests/integration/test_bench_report.py)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

# the tests and the demo are driven by python3 (the machine's, with boto3/moto; Debian's only
# when there is none at all)
command -v python3 >/dev/null 2>&1 || missing+=(python3)

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "install-deps: ERROR: missing packages (${missing[*]}) and not root, with no" \
                 "sudo to install them: run this as root or install them first" >&2
            exit 1
        fi
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The real peers floe is tested against: nobody here wrote them, and PyPI is not
# reachable, so they must already be on the machine.
fail=0
for mod in boto3 botocore moto; do
    if ! python3 -c "import $mod" 2>/dev/null; then
        echo "install-deps: ERROR: python3 cannot import '$mod' (needed by the interop tests;" \
             "PyPI is not reachable here, so it must come with the machine's Python)" >&2
        fail=1
    fi
done
if ! aws --version >/dev/null 2>&1; then
    echo "install-deps: ERROR: the 'aws' command (awscli 1.x) does not run; the interop tests need it" >&2
    fail=1
elif ! aws --version 2>&1 | grep -q '^aws-cli/1\.'; then
    echo "install-deps: note: the interop tests were written against awscli 1.x; found" \
         "$(aws --version 2>&1 | head -1)" >&2
fi
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "install-deps: all packages and peers present"
