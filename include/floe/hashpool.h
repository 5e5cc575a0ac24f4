/*
 * floe/hashpool.h - a fixed pool of hashing threads fed through a bounded queue, and the
 * parallel tree-hash mode built on it (many leaves hashed on many cores).
 *
 * A task is a function and an argument. Ownership of the argument passes to the task when it
 * is queued; the submitter must not touch it until the task signals completion by its own
 * means (floe_hashpool_leaves() does this with a counter and a condition variable).
 */
#ifndef FLOE_HASHPOOL_H
#define FLOE_HASHPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"
#include "floe/treehash.h"

#ifdef __cplusplus
extern "C" {
#endif

struct floe_hashpool;

typedef void floe_hashpool_task_fn(void *arg);

/*
 * floe_hashpool_new() - start nthreads workers (0 = one per online CPU) with a queue of
 * queue_cap tasks (0 = 4 per thread).
 * out      OUT: the pool, set only on FLOE_OK; free with floe_hashpool_destroy().
 * Returns  FLOE_OK or FLOE_E_NOMEM (a thread could not be started; message says why).
 * Threads  the pool itself may be shared by any number of submitting threads.
 */
FLOE_API int floe_hashpool_new(unsigned nthreads, size_t queue_cap, struct floe_hashpool **out,
                               struct floe_error *err);

/* Number of worker threads. */
FLOE_API unsigned floe_hashpool_threads(const struct floe_hashpool *pool);

/*
 * floe_hashpool_submit() - queue fn(arg), blocking while the queue is full (backpressure).
 * Tasks start in submission order; they may finish in any order. Never fails on a live pool.
 * Threads: any thread; must not be called from inside a task (it could wait on itself).
 */
FLOE_API void floe_hashpool_submit(struct floe_hashpool *pool, floe_hashpool_task_fn *fn,
                                   void *arg);

/* floe_hashpool_try_submit() - as submit, but returns -1 at once instead of waiting when the
 * queue is full (0 when queued). */
FLOE_API int floe_hashpool_try_submit(struct floe_hashpool *pool, floe_hashpool_task_fn *fn,
                                      void *arg);

/*
 * floe_hashpool_leaves() - the leaf hashes of data[0..n) computed on the pool's threads, two
 * leaves per stream pair, in batches; returns when all are written.
 * leaves   OUT: floe_treehash_leaf_count(n) entries.
 * Threads: the caller blocks; data and leaves must stay valid until return.
 */
FLOE_API void floe_hashpool_leaves(struct floe_hashpool *pool, const void *data, size_t n,
                                   uint8_t (*leaves)[FLOE_HASH_BYTES]);

/*
 * floe_hashpool_treehash() - tree hash of data[0..n) computed in parallel on the pool
 * (leaves on the workers, combined on the caller).
 */
FLOE_API void floe_hashpool_treehash(struct floe_hashpool *pool, const void *data, size_t n,
                                     uint8_t tree[FLOE_HASH_BYTES]);

/* floe_hashpool_destroy() - run every queued task, then join the workers. NULL is fine. */
FLOE_API void floe_hashpool_destroy(struct floe_hashpool *pool);

#ifdef __cplusplus
}
#endif

#endif
