/*
 * bench/bench_main.cc - floe_bench's main: check once that every code path the benchmarks time
 * computes the same digests as OpenSSL on the same inputs, then run Google Benchmark.
 *
 * A benchmark of a wrong answer is worthless, but speed is never asserted and correctness is
 * the unit tests' job: this check is only a guard against timing a broken build. It runs
 * before any timing, on the shared buffer (which also faults that buffer in up front).
 * --benchmark_list_tests skips it.
 */
#include "harness.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace
{

using namespace floe_bench;

bool same(const uint8_t *a, const uint8_t *b, const char *what, const char *impl,
          size_t n = FLOE_HASH_BYTES)
{
    if (std::memcmp(a, b, n) == 0)
        return true;
    std::fprintf(stderr, "floe_bench: self-check FAILED: %s (%s) differs from OpenSSL\n", what,
                 impl);
    return false;
}

/* Reference leaf hashes and tree hash of data(n)[0..n), n a multiple of 1 MiB. */
void reference(size_t n, std::vector<uint8_t> &leaves, uint8_t tree[FLOE_HASH_BYTES])
{
    const uint8_t *p = data(n);
    size_t count = n / kLeaf;
    leaves.resize(count * FLOE_HASH_BYTES);
    for (size_t i = 0; i < count; i++)
        evp_digest(p + i * kLeaf, kLeaf, &leaves[i * FLOE_HASH_BYTES]);
    /* Pairwise by levels, as docs/glacier-api.md 3.1 states it (independent of the peaks
     * code in treehash.c). */
    std::vector<uint8_t> level = leaves;
    while (level.size() > FLOE_HASH_BYTES) {
        std::vector<uint8_t> next;
        for (size_t i = 0; i < level.size(); i += 2 * FLOE_HASH_BYTES) {
            uint8_t h[FLOE_HASH_BYTES];
            if (i + FLOE_HASH_BYTES < level.size())
                evp_digest(&level[i], 2 * FLOE_HASH_BYTES, h);
            else
                std::memcpy(h, &level[i], FLOE_HASH_BYTES);
            next.insert(next.end(), h, h + FLOE_HASH_BYTES);
        }
        level.swap(next);
    }
    std::memcpy(tree, level.data(), FLOE_HASH_BYTES);
}

bool self_check()
{
    bool ok = true;
    const size_t part = 64 * kMiB, big = kBufferBytes;
    const uint8_t *p = data(big);
    uint8_t ref1[FLOE_HASH_BYTES], ref2[FLOE_HASH_BYTES], ref_lin[FLOE_HASH_BYTES];
    uint8_t ref_tree[FLOE_HASH_BYTES], ref_big_tree[FLOE_HASH_BYTES];
    std::vector<uint8_t> ref_leaves, ref_big_leaves;
    evp_digest(p, kMiB, ref1);
    evp_digest(p + kMiB, kMiB, ref2);
    evp_digest(p, part, ref_lin);
    reference(part, ref_leaves, ref_tree);
    reference(big, ref_big_leaves, ref_big_tree);

    for (enum floe_sha256_impl impl : {FLOE_SHA256_PORTABLE, FLOE_SHA256_SHANI}) {
        const char *name = floe_sha256_impl_name(impl);
        if (floe_sha256_set_impl(impl) != 0) {
            std::fprintf(stderr, "floe_bench: %s unavailable on this CPU; its cases skip\n", name);
            continue;
        }
        uint8_t a[FLOE_HASH_BYTES], b[FLOE_HASH_BYTES], tree[FLOE_HASH_BYTES];
        uint8_t lin[FLOE_HASH_BYTES];
        floe_sha256(p, kMiB, a);
        ok &= same(a, ref1, "floe_sha256 of 1 MiB", name);
        floe_sha256_x2(p, kMiB, p + kMiB, kMiB, a, b);
        ok &= same(a, ref1, "floe_sha256_x2 stream a", name);
        ok &= same(b, ref2, "floe_sha256_x2 stream b", name);

        std::vector<uint8_t> lv(ref_leaves.size());
        auto *lvp = reinterpret_cast<uint8_t(*)[FLOE_HASH_BYTES]>(lv.data());
        floe_treehash_part(p, part, lvp, tree, lin);
        ok &= same(lin, ref_lin, "floe_treehash_part linear", name);
        ok &= same(tree, ref_tree, "floe_treehash_part tree", name);
        ok &= same(lv.data(), ref_leaves.data(), "floe_treehash_part leaves", name, lv.size());
        std::fill(lv.begin(), lv.end(), 0);
        floe_treehash_leaves(p, part, lvp);
        ok &= same(lv.data(), ref_leaves.data(), "floe_treehash_leaves", name, lv.size());

        std::vector<uint8_t> blv(ref_big_leaves.size());
        auto *blvp = reinterpret_cast<uint8_t(*)[FLOE_HASH_BYTES]>(blv.data());
        floe_treehash_leaves(p, big, blvp);
        floe_treehash_combine(blvp, big / kLeaf, tree);
        ok &= same(tree, ref_big_tree, "leaves + combine of 256 MiB", name);
        for (unsigned nthreads : {1u, 2u}) {
            struct floe_error err = {};
            struct floe_hashpool *pool = nullptr;
            if (floe_hashpool_new(nthreads, 0, &pool, &err) != FLOE_OK) {
                std::fprintf(stderr, "floe_bench: floe_hashpool_new: %s\n", err.message);
                ok = false;
                continue;
            }
            floe_hashpool_treehash(pool, p, big, tree);
            floe_hashpool_destroy(pool);
            std::string what = "floe_hashpool_treehash, " + std::to_string(nthreads) + " thr";
            ok &= same(tree, ref_big_tree, what.c_str(), name);
        }
    }
    return ok;
}

bool listing_only(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (std::strncmp(argv[i], "--benchmark_list_tests", 22) == 0 ||
            std::strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

} // namespace

int main(int argc, char **argv)
{
    bool listing = listing_only(argc, argv); /* before Initialize() consumes the flags */
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    if (!listing) {
        enum floe_sha256_impl dflt = floe_sha256_impl();
        if (!self_check())
            return 1;
        floe_sha256_set_impl(dflt);
        std::fprintf(stderr, "floe_bench: self-check ok (default SHA-256 implementation: %s)\n",
                     floe_sha256_impl_name(dflt));
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
