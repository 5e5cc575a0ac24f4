#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test (CTest), then runs every
# test but the slow 10,000-part edge and the style check again under ASan+UBSan, and the
# threaded parts under TSan.
# Usage: bash tools/test.sh            (from the project root or anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

bash tools/install-deps.sh

# Every stage runs with a private TMPDIR that must be empty when the stage ends: a test that
# leaves a file or directory behind (pass or fail) fails the run. It is removed either way.
suite_tmp=$(mktemp -d "${TMPDIR:-/tmp}/floe-suite.XXXXXX")
trap 'rm -rf "$suite_tmp"' EXIT
export TMPDIR=$suite_tmp
check_tmp() {
    if [ -n "$(ls -A "$suite_tmp")" ]; then
        echo "== tests left these behind in the temporary directory ($1):"
        ls -la "$suite_tmp"
        exit 1
    fi
}

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$JOBS"
check_tmp tests

echo "== build (ASan+UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFLOE_SANITIZE=address -DFLOE_BENCH=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
echo "== tests under ASan+UBSan (every label but slow and style)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$JOBS" -LE 'slow|style'
check_tmp "ASan+UBSan tests"

echo "== build (TSan)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DFLOE_SANITIZE=thread -DFLOE_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$JOBS" --target test_hashpool test_bufpool test_reader test_orch
echo "== thread tests under TSan"
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -R 'test_hashpool|test_bufpool|test_reader|test_orch'
echo "== upload pipeline (reader, hash pool, transfer, orchestrator) under TSan"
cmake --build build-tsan -j"$JOBS" --target floe
cmake --build build -j"$JOBS" --target floe-vault
TSAN_OPTIONS=halt_on_error=1 python3 tests/integration/test_upload.py build-tsan/floe \
    build/src/vault/floe-vault UploadTests.test_larger_file_odd_size \
    UploadTests.test_several_files_at_once UploadTests.test_injected_503_and_resets_still_correct \
    UploadTests.test_stdin_multipart_and_single UploadTests.test_resume_after_kill_9
echo "== backup (hash pool, transfer, pack producer) and purge (rate-limited core) under TSan"
TSAN_OPTIONS=halt_on_error=1 python3 tests/integration/test_backup.py build-tsan/floe \
    build/src/vault/floe-vault BackupTests.test_file_per_archive_layout \
    BackupTests.test_packed_backup_then_nothing_changed BackupTests.test_restore_packed_and_one_path \
    BackupTests.test_compressed_packs_on_the_pool
TSAN_OPTIONS=halt_on_error=1 python3 tests/integration/test_purge.py build-tsan/floe \
    build/src/vault/floe-vault PurgeTests.test_dry_run_then_purge PurgeTests.test_kill_and_resume
echo "== floe bench: its workers, per-request timing and cleanup threads under TSan"
# FLOE_WRITER=sync: two downloads one after the other map their writers' io_uring rings at one
# address through raw syscalls TSan does not see, and it reports the second ring's writes as a
# race with the first's (the io_uring writer is not what this stage checks)
FLOE_WRITER=sync TSAN_OPTIONS=halt_on_error=1 python3 tests/integration/test_bench.py \
    build-tsan/floe build/src/vault/floe-vault BenchTests.test_embedded_small_sweep \
    BenchTests.test_mixed_jobs_inventory BenchTests.test_upload_multipart_csv_and_runs \
    BenchTests.test_download_ranged BenchTests.test_interrupt_cleans_up
cmake --build build-tsan -j"$JOBS" --target floe-vault && for t in interop/test_interop_boto3 vault/test_server_options vault/test_scrub; do TSAN_OPTIONS=halt_on_error=1 python3 tests/$t.py build-tsan/src/vault/floe-vault || exit 1; done  # floe-vault's threads (connections, watchdog, scheduler, notifier) under TSan
check_tmp "TSan tests"
echo "== all test stages passed"
