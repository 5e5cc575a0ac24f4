/*
 * bench/harness.h - helpers shared by the floe_bench benchmarks.
 *
 * One page-aligned buffer of random bytes (256 MiB, the largest input any benchmark hashes) is
 * allocated, filled and faulted in once per process, on first use, and every benchmark reads
 * slices of it. Allocating per benchmark would time page faults (about 10 us per fresh 4 KiB
 * page on this VM, docs/performance.md, The machine), not hashing.
 *
 * Byte counts passed to SetBytesProcessed() are payload bytes: a 64 MiB part hashed as leaves
 * and linear stream counts 64 MiB, not 128, so GB/s figures compare like for like.
 */
#ifndef FLOE_BENCH_HARNESS_H
#define FLOE_BENCH_HARNESS_H

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

/* sha256.h and the floe headers carry their own extern "C" guards. In C++ the function
 * floe_sha256() hides the struct of the same name, which -Wshadow reports; that is C usage
 * (the struct is always written `struct floe_sha256`), so silence it for this include only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#include "sha256.h"
#pragma GCC diagnostic pop
#include "floe/hashpool.h"
#include "floe/treehash.h"

namespace floe_bench
{

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kLeaf = FLOE_TREEHASH_LEAF_BYTES;
constexpr size_t kBufferBytes = 256 * kMiB;

/* The shared input: kBufferBytes of random bytes, page-aligned, touched, never freed. */
inline const uint8_t *data(size_t n)
{
    static uint8_t *buf = [] {
        void *m =
            mmap(nullptr, kBufferBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            std::perror("floe_bench: mmap of the 256 MiB input buffer");
            std::abort();
        }
        madvise(m, kBufferBytes, MADV_HUGEPAGE);
        /* splitmix64: the content does not change SHA-256 speed, but keep it incompressible
         * and different per run of the buffer so nothing can special-case it. */
        uint64_t x = 0x9e3779b97f4a7c15ull;
        uint64_t *w = static_cast<uint64_t *>(m);
        for (size_t i = 0; i < kBufferBytes / sizeof(uint64_t); i++) {
            uint64_t z = (x += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            w[i] = z ^ (z >> 31);
        }
        return static_cast<uint8_t *>(m);
    }();
    if (n > kBufferBytes) {
        std::fprintf(stderr, "floe_bench: %zu bytes requested, buffer holds %zu\n", n,
                     kBufferBytes);
        std::abort();
    }
    return buf;
}

/* SHA-256 fetched once, so EVP benchmarks time hashing, not the provider lookup. */
inline const EVP_MD *evp_sha256()
{
    static const EVP_MD *md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

/* One-shot OpenSSL EVP digest; aborts on failure (it cannot fail with a fetched MD). */
inline void evp_digest(const void *p, size_t n, uint8_t out[FLOE_HASH_BYTES])
{
    unsigned len = 0;
    if (EVP_Digest(p, n, out, &len, evp_sha256(), nullptr) != 1 || len != FLOE_HASH_BYTES) {
        std::fprintf(stderr, "floe_bench: EVP_Digest failed\n");
        std::abort();
    }
}

/*
 * Force floe's SHA-256 implementation for the benchmark about to run. Returns false (and marks
 * the benchmark skipped with a reason) when this CPU cannot run impl.
 */
inline bool use_impl(benchmark::State &state, enum floe_sha256_impl impl)
{
    if (floe_sha256_set_impl(impl) != 0) {
        state.SkipWithError(impl == FLOE_SHA256_SHANI ? "CPU lacks the SHA extensions"
                                                      : "implementation unavailable");
        return false;
    }
    return true;
}

/*
 * Background: CPU that other processes used while a benchmark ran, as a number of cores
 * (counter "bg_cores"). This machine is shared; a hashing case on 2 vCPUs loses up to half its
 * speed when another tenant keeps a core busy, so every result carries this figure and the run
 * script flags cases measured under load. Construct it right before the timed loop and call
 * report() right after. Reads /proc/stat (10 ms ticks) and getrusage(RUSAGE_SELF) (all threads
 * of this process, so pool workers count as ours).
 */
class Background
{
  public:
    Background() : wall0_(wall()), busy0_(system_busy()), self0_(self_cpu())
    {
    }
    void report(benchmark::State &state) const
    {
        double w = wall() - wall0_;
        double other = (system_busy() - busy0_) - (self_cpu() - self0_);
        state.counters["bg_cores"] = w > 0 && other > 0 ? other / w : 0.0;
    }

  private:
    static double wall()
    {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
    }
    /* Seconds of CPU the whole machine spent not idle (user nice system irq softirq steal). */
    static double system_busy()
    {
        unsigned long long v[8] = {};
        FILE *f = std::fopen("/proc/stat", "r");
        if (!f)
            return 0;
        int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                              &v[3], &v[4], &v[5], &v[6], &v[7]);
        std::fclose(f);
        if (got != 8)
            return 0;
        return static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
               static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    static double self_cpu()
    {
        struct rusage r;
        getrusage(RUSAGE_SELF, &r);
        return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
               static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
    }
    double wall0_, busy0_, self0_;
};

/* Payload bytes for SetBytesProcessed(). */
inline void set_bytes(benchmark::State &state, size_t bytes_per_iteration)
{
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(bytes_per_iteration));
}

} // namespace floe_bench

#endif
