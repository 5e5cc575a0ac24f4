/*
 * bench/bench_orch.cc - the transfer core's own cost per work item (src/engine/pipeline/orch.h):
 * item allocation, state checks, admission, the event queue and the done bookkeeping, with no
 * bytes moved. Backups of many small files need this to stay far below the ~0.1 ms per item a
 * small-file workload can afford (issue: the per-file budget of `floe backup`).
 *
 *   Orch/Inline/N/SLOTS   - the stage posts from start() (the core's bookkeeping alone)
 *   Orch/Threaded/N/SLOTS - a worker thread posts (plus the cross-thread hand-off every real
 *                           stage pays: a mutex, a condition variable, a wake-up)
 * items_per_second is items through the core per second; 1e6 / that = microseconds per item.
 */
#include <benchmark/benchmark.h>

#include "orch_load.h"

namespace
{

void run(benchmark::State &state, int threaded)
{
    const auto items = static_cast<uint64_t>(state.range(0));
    const auto slots = static_cast<unsigned>(state.range(1));
    for (auto _ : state) {
        uint64_t done = floe_bench_orch_run(items, slots, threaded);
        if (done != items) {
            state.SkipWithError("the core did not finish every item");
            return;
        }
        benchmark::DoNotOptimize(done);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
}

void BM_OrchInline(benchmark::State &state)
{
    run(state, 0);
}

void BM_OrchThreaded(benchmark::State &state)
{
    run(state, 1);
}

BENCHMARK(BM_OrchInline)->Name("Orch/Inline")->Args({100000, 16})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OrchThreaded)
    ->Name("Orch/Threaded")
    ->Args({100000, 1})
    ->Args({100000, 16})
    ->Args({100000, 256})
    ->Unit(benchmark::kMillisecond);

} // namespace
