/*
 * bench/bench_pack.cc - the pack writer (src/engine/backup/pack.h) at zstd levels 0, 1, 3 and
 * 9, on compressible and incompressible small files: what `floe backup --compress[=LEVEL]`
 * costs per core and what it saves.
 *
 *   pack_32MiB/text/LEVEL    512 files of 64 KiB of log-like text (timestamps, host names,
 *                            counters: compresses about as well as real logs)
 *   pack_32MiB/random/LEVEL  512 files of 64 KiB of random bytes (harness.h's buffer): zstd
 *                            tries each frame and stores it, the case issue 9 bounds
 * One iteration writes a whole pack (header, 512 frames with their xxh3-128, index, trailer)
 * to a sink that only counts bytes, so the figure is the writer's own CPU. bytes_per_second
 * counts input bytes; the counter "ratio" is input bytes / pack bytes. One core, CPU time.
 */
#include "harness.h"

extern "C" {
#include "pack.h"
}

#include <string>
#include <vector>

namespace
{

using namespace floe_bench;

constexpr size_t kFile = 64 * 1024;
constexpr size_t kFiles = 512;
constexpr size_t kInput = kFile * kFiles;

/* Log-like text, the same on every run (splitmix64 from a fixed seed). */
const uint8_t *text()
{
    static std::vector<uint8_t> buf = [] {
        std::vector<uint8_t> b;
        b.reserve(kInput + 256);
        uint64_t x = 42;
        auto next = [&x] {
            uint64_t z = (x += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            return z ^ (z >> 31);
        };
        static const char *const verbs[] = {"uploaded", "verified", "retried", "queued"};
        char line[256];
        for (unsigned s = 0; b.size() < kInput; s += (unsigned)(next() % 3)) {
            uint64_t r = next();
            int n = std::snprintf(
                line, sizeof(line),
                "2026-12-04T%02u:%02u:%02u.%03uZ host-%02u floe[%u]: vault backups: part %u of "
                "archive %u %s in %u ms (%u.%u MiB/s)\n",
                (s / 3600) % 24, (s / 60) % 60, s % 60, (unsigned)(r % 1000),
                (unsigned)(r >> 10) % 32, 4000 + (unsigned)(r >> 15) % 100,
                (unsigned)(r >> 22) % 10000, (unsigned)(r >> 36) % 100000, verbs[(r >> 60) % 4],
                (unsigned)(r >> 40) % 2000, (unsigned)(r >> 50) % 200, (unsigned)(r >> 58) % 10);
            b.insert(b.end(), line, line + n);
        }
        b.resize(kInput);
        return b;
    }();
    return buf.data();
}

int count_sink(void *user, const void *, size_t len, struct floe_error *)
{
    *static_cast<uint64_t *>(user) += len;
    return FLOE_OK;
}

void pack(benchmark::State &state, bool compressible)
{
    const int level = static_cast<int>(state.range(0));
    const uint8_t *in = compressible ? text() : data(kInput);
    uint64_t out = 0;
    Background bg;
    for (auto _ : state) {
        out = 0;
        struct floe_error err = {};
        struct floe_pack_writer_options o = {};
        o.sink = count_sink;
        o.user = &out;
        o.zstd_level = level;
        struct floe_pack_writer *w = nullptr;
        if (floe_pack_writer_new(&o, &w, &err) != FLOE_OK) {
            state.SkipWithError(err.message);
            return;
        }
        char path[64];
        for (size_t i = 0; i < kFiles; i++) {
            std::snprintf(path, sizeof(path), "var/log/app/%04zu.log", i);
            if (floe_pack_add(w, path, 0, 0100644, in + i * kFile, kFile, nullptr, &err) !=
                FLOE_OK) {
                state.SkipWithError(err.message);
                floe_pack_writer_free(w);
                return;
            }
        }
        floe_pack_finish(w, nullptr, &err);
        floe_pack_writer_free(w);
        benchmark::DoNotOptimize(out);
    }
    bg.report(state);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kInput));
    state.counters["ratio"] = out ? static_cast<double>(kInput) / static_cast<double>(out) : 0;
}

} // namespace

BENCHMARK_CAPTURE(pack, text, true)
    ->Name("pack_32MiB/text")
    ->Arg(0)
    ->Arg(1)
    ->Arg(3)
    ->Arg(9)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(pack, random, false)
    ->Name("pack_32MiB/random")
    ->Arg(0)
    ->Arg(1)
    ->Arg(3)
    ->Arg(9)
    ->Unit(benchmark::kMillisecond);
