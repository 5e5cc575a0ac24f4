/*
 * orch_load.h - a synthetic request type for the transfer core (src/engine/pipeline/orch.h),
 * so the C++ benchmark harness can time the core's own cost per item without including its
 * C11 headers (stdatomic.h is not C++17).
 */
#ifndef FLOE_BENCH_ORCH_LOAD_H
#define FLOE_BENCH_ORCH_LOAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * floe_bench_orch_run() - runs `items` items through one floe_orch with at most `slots` in
 * flight. threaded = 0: the "stage" posts each item's event from start() itself (the core's
 * bookkeeping only); 1: a worker thread posts it (plus the cross-thread hand-off every real
 * stage pays). Returns the number of items that finished (== items), or 0 on failure.
 * Not thread-safe: one run at a time per caller thread.
 */
uint64_t floe_bench_orch_run(uint64_t items, unsigned slots, int threaded);

#ifdef __cplusplus
}
#endif

#endif
