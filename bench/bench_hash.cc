/*
 * bench/bench_hash.cc - SHA-256, tree hash and hash pool throughput, each case timing one
 * function through its C API (docs/contributing.md, Tests).
 *
 * Groups (names are what bench/run-hash-bench.sh looks up; keep them stable):
 *   sha256_1MiB/...      one 1 MiB message per iteration: OpenSSL EVP_Digest, floe_sha256()
 *                        on the portable and the SHA-NI implementation.
 *   sha256_x2_2x1MiB/... floe_sha256_x2() of two 1 MiB leaves (2 MiB per iteration).
 *   sha256_2streams_2x128MiB/... two 128 MiB messages fed in 4 MiB pieces, as migrate reads
 *                        two files back for their SHA-256: one after the other
 *                        (floe_sha256_update) vs together (floe_sha256_update2). 256 MiB per
 *                        iteration, streaming from memory.
 *   part_64MiB/...       leaf hashes + tree hash + linear SHA-256 of one 64 MiB part: two
 *                        OpenSSL passes (the baseline) vs floe_treehash_part(). 64 MiB counted
 *                        once per iteration.
 *   leaves_64MiB/...     the 64 leaf hashes alone: OpenSSL per leaf vs floe_treehash_leaves().
 *   treehash_256MiB/...  tree hash of 256 MiB: floe_treehash_leaves() + combine on the calling
 *                        thread vs floe_hashpool_treehash() on pools of 1 and 2 threads (pool
 *                        created outside the timed loop). Wall-clock time for all three.
 *
 * Single-threaded groups use CPU time of the benchmark thread, so their GB/s are per core.
 * The 1 MiB and 2 MiB inputs stay in L2/L3 across iterations (as in `openssl speed`); the
 * 64 MiB and 256 MiB inputs exceed the 32 MiB L3 and stream from memory, as a real part does.
 */
#include "harness.h"

#include <vector>

namespace
{

using namespace floe_bench;

void sha256_1MiB_evp(benchmark::State &state)
{
    const uint8_t *p = data(kMiB);
    uint8_t out[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        evp_digest(p, kMiB, out);
        benchmark::DoNotOptimize(out);
    }
    bg.report(state);
    set_bytes(state, kMiB);
}

void sha256_1MiB_floe(benchmark::State &state, enum floe_sha256_impl impl)
{
    if (!use_impl(state, impl))
        return;
    const uint8_t *p = data(kMiB);
    uint8_t out[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        floe_sha256(p, kMiB, out);
        benchmark::DoNotOptimize(out);
    }
    bg.report(state);
    set_bytes(state, kMiB);
}

void sha256_x2(benchmark::State &state, enum floe_sha256_impl impl)
{
    if (!use_impl(state, impl))
        return;
    const uint8_t *p = data(2 * kMiB);
    uint8_t a[FLOE_HASH_BYTES], b[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        floe_sha256_x2(p, kMiB, p + kMiB, kMiB, a, b);
        benchmark::DoNotOptimize(a);
        benchmark::DoNotOptimize(b);
    }
    bg.report(state);
    set_bytes(state, 2 * kMiB);
}

constexpr size_t kStream = 128 * kMiB;
constexpr size_t kPiece = 4 * kMiB;

void sha256_2streams(benchmark::State &state, bool together)
{
    if (!use_impl(state, FLOE_SHA256_SHANI))
        return;
    const uint8_t *p = data(2 * kStream);
    uint8_t a[FLOE_HASH_BYTES], b[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        struct floe_sha256 ca, cb;
        floe_sha256_init(&ca);
        floe_sha256_init(&cb);
        if (together) {
            for (size_t off = 0; off < kStream; off += kPiece)
                floe_sha256_update2(&ca, p + off, &cb, p + kStream + off, kPiece);
        } else {
            for (size_t off = 0; off < kStream; off += kPiece)
                floe_sha256_update(&ca, p + off, kPiece);
            for (size_t off = 0; off < kStream; off += kPiece)
                floe_sha256_update(&cb, p + kStream + off, kPiece);
        }
        floe_sha256_final(&ca, a);
        floe_sha256_final(&cb, b);
        benchmark::DoNotOptimize(a);
        benchmark::DoNotOptimize(b);
    }
    bg.report(state);
    set_bytes(state, 2 * kStream);
}

constexpr size_t kPart = 64 * kMiB;
constexpr size_t kPartLeaves = kPart / kLeaf;

/* Baseline: what a client without the interleaved kernel does. One EVP pass for the linear
 * SHA-256, a second EVP pass leaf by leaf, then the tree over the leaf hashes. */
void part_two_openssl_passes(benchmark::State &state)
{
    const uint8_t *p = data(kPart);
    std::vector<uint8_t> leaves(kPartLeaves * FLOE_HASH_BYTES);
    auto *lv = reinterpret_cast<uint8_t(*)[FLOE_HASH_BYTES]>(leaves.data());
    uint8_t tree[FLOE_HASH_BYTES], linear[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        evp_digest(p, kPart, linear);
        for (size_t i = 0; i < kPartLeaves; i++)
            evp_digest(p + i * kLeaf, kLeaf, lv[i]);
        floe_treehash_combine(lv, kPartLeaves, tree);
        benchmark::DoNotOptimize(linear);
        benchmark::DoNotOptimize(tree);
    }
    bg.report(state);
    set_bytes(state, kPart);
}

void part_floe(benchmark::State &state, enum floe_sha256_impl impl)
{
    if (!use_impl(state, impl))
        return;
    const uint8_t *p = data(kPart);
    std::vector<uint8_t> leaves(kPartLeaves * FLOE_HASH_BYTES);
    auto *lv = reinterpret_cast<uint8_t(*)[FLOE_HASH_BYTES]>(leaves.data());
    uint8_t tree[FLOE_HASH_BYTES], linear[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        floe_treehash_part(p, kPart, lv, tree, linear);
        benchmark::DoNotOptimize(linear);
        benchmark::DoNotOptimize(tree);
    }
    bg.report(state);
    set_bytes(state, kPart);
}

void leaves_evp(benchmark::State &state)
{
    const uint8_t *p = data(kPart);
    std::vector<uint8_t> leaves(kPartLeaves * FLOE_HASH_BYTES);
    auto *lv = reinterpret_cast<uint8_t(*)[FLOE_HASH_BYTES]>(leaves.data());
    Background bg;
    for (auto _ : state) {
        for (size_t i = 0; i < kPartLeaves; i++)
            evp_digest(p + i * kLeaf, kLeaf, lv[i]);
        benchmark::DoNotOptimize(leaves.data());
    }
    bg.report(state);
    set_bytes(state, kPart);
}

void leaves_floe(benchmark::State &state, enum floe_sha256_impl impl)
{
    if (!use_impl(state, impl))
        return;
    const uint8_t *p = data(kPart);
    std::vector<uint8_t> leaves(kPartLeaves * FLOE_HASH_BYTES);
    auto *lv = reinterpret_cast<uint8_t(*)[FLOE_HASH_BYTES]>(leaves.data());
    Background bg;
    for (auto _ : state) {
        floe_treehash_leaves(p, kPart, lv);
        benchmark::DoNotOptimize(leaves.data());
    }
    bg.report(state);
    set_bytes(state, kPart);
}

constexpr size_t kTree = 256 * kMiB;
constexpr size_t kTreeLeaves = kTree / kLeaf;

void treehash_single_thread(benchmark::State &state)
{
    if (floe_sha256_set_impl(FLOE_SHA256_SHANI) != 0) /* the default where the CPU has it */
        floe_sha256_set_impl(FLOE_SHA256_PORTABLE);
    const uint8_t *p = data(kTree);
    std::vector<uint8_t> leaves(kTreeLeaves * FLOE_HASH_BYTES);
    auto *lv = reinterpret_cast<uint8_t(*)[FLOE_HASH_BYTES]>(leaves.data());
    uint8_t tree[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        floe_treehash_leaves(p, kTree, lv);
        floe_treehash_combine(lv, kTreeLeaves, tree);
        benchmark::DoNotOptimize(tree);
    }
    bg.report(state);
    set_bytes(state, kTree);
}

void treehash_pool(benchmark::State &state)
{
    if (floe_sha256_set_impl(FLOE_SHA256_SHANI) != 0)
        floe_sha256_set_impl(FLOE_SHA256_PORTABLE);
    const uint8_t *p = data(kTree);
    unsigned nthreads = static_cast<unsigned>(state.range(0));
    struct floe_error err = {};
    struct floe_hashpool *pool = nullptr;
    if (floe_hashpool_new(nthreads, 0, &pool, &err) != FLOE_OK) {
        state.SkipWithError(err.message);
        return;
    }
    uint8_t tree[FLOE_HASH_BYTES];
    Background bg;
    for (auto _ : state) {
        floe_hashpool_treehash(pool, p, kTree, tree);
        benchmark::DoNotOptimize(tree);
    }
    bg.report(state);
    floe_hashpool_destroy(pool);
    set_bytes(state, kTree);
}

} // namespace

BENCHMARK(sha256_1MiB_evp)->Name("sha256_1MiB/openssl_evp")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(sha256_1MiB_floe, portable, FLOE_SHA256_PORTABLE)
    ->Name("sha256_1MiB/floe_portable")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(sha256_1MiB_floe, shani, FLOE_SHA256_SHANI)
    ->Name("sha256_1MiB/floe_shani")
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_CAPTURE(sha256_x2, shani, FLOE_SHA256_SHANI)
    ->Name("sha256_x2_2x1MiB/floe_shani")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(sha256_x2, portable, FLOE_SHA256_PORTABLE)
    ->Name("sha256_x2_2x1MiB/floe_portable")
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_CAPTURE(sha256_2streams, one_after_the_other, false)
    ->Name("sha256_2streams_2x128MiB/one_after_the_other")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sha256_2streams, together, true)
    ->Name("sha256_2streams_2x128MiB/update2")
    ->Unit(benchmark::kMillisecond);

BENCHMARK(part_two_openssl_passes)
    ->Name("part_64MiB/openssl_two_passes")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(part_floe, shani, FLOE_SHA256_SHANI)
    ->Name("part_64MiB/floe_part_shani")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(part_floe, portable, FLOE_SHA256_PORTABLE)
    ->Name("part_64MiB/floe_part_portable")
    ->Unit(benchmark::kMillisecond);

BENCHMARK(leaves_evp)->Name("leaves_64MiB/openssl_evp")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(leaves_floe, shani, FLOE_SHA256_SHANI)
    ->Name("leaves_64MiB/floe_shani")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(leaves_floe, portable, FLOE_SHA256_PORTABLE)
    ->Name("leaves_64MiB/floe_portable")
    ->Unit(benchmark::kMillisecond);

BENCHMARK(treehash_single_thread)
    ->Name("treehash_256MiB/single_thread")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(treehash_pool)
    ->Name("treehash_256MiB/pool_threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
