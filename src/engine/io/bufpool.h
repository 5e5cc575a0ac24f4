/*
 * bufpool.h - a bounded pool of large, page-aligned I/O buffers, all of one size, allocated
 * once when the pool is made and reused for every part or segment after that.
 *
 * The pool is what bounds memory in the pipeline: the reader takes a buffer, fills it, hands
 * it to the hashers, the transfer thread sends it and then releases it. With no buffer free,
 * the stage that wants one waits (floe_bufpool_acquire) or backs off (try_acquire).
 *
 * Ownership: a buffer belongs to exactly one holder between acquire and release. The holder
 * may pass it on (hand-over, never sharing); whoever holds it last releases it.
 */
#ifndef FLOE_ENGINE_BUFPOOL_H
#define FLOE_ENGINE_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

struct floe_bufpool; /* opaque; made by floe_bufpool_new() */

/*
 * One buffer. data/cap/index/pool are fixed for the pool's lifetime; len, offset_bytes and
 * user belong to the current holder (acquire resets them to 0 / NULL).
 */
struct floe_buf {
    uint8_t *data;              /* cap bytes, page-aligned (2 MiB-aligned when cap >= 2 MiB) */
    size_t cap;                 /* buffer size in bytes: the pool's buf_size_bytes */
    size_t len;                 /* valid bytes, set by the holder */
    uint64_t offset_bytes;      /* free for the holder (e.g. source offset of the bytes) */
    void *user;                 /* free for the holder (e.g. its part) */
    unsigned index;             /* 0..count-1, stable (e.g. io_uring registered-buffer index) */
    struct floe_bufpool *pool;  /* the owning pool */
    struct floe_buf *next_free; /* pool-private: free list link, guarded by the pool's lock */
};

struct floe_bufpool_options {
    size_t buf_size_bytes;       /* required: 1 byte .. 4 GiB (buffers start page-aligned) */
    unsigned count;              /* required: number of buffers, >= 1 */
    uint64_t memory_limit_bytes; /* 0 = no limit; else count * size must fit (--memory-limit) */
    bool no_hugepages;           /* true: skip madvise(MADV_HUGEPAGE) */
    bool fifo;                   /* true: acquire hands out the buffer free the longest (a
                                    ring: buffers a device may still be reading from are
                                    reused last); false: the one released last (cache-hot) */
    bool prefault;               /* true: fault every page in at creation (pay first-touch
                                    cost up front; an overcommitted machine fails here with
                                    FLOE_E_NOMEM rather than later with the OOM killer) */
};

struct floe_bufpool_stats {
    unsigned count;        /* buffers in the pool */
    unsigned free;         /* buffers free right now */
    unsigned peak_in_use;  /* most buffers held at once since creation */
    uint64_t acquires;     /* successful acquires (blocking and try) */
    uint64_t waits;        /* acquires that had to wait for a release */
    size_t buf_size_bytes; /* cap of each buffer */
    uint64_t mapped_bytes; /* total bytes mapped */
};

/*
 * floe_bufpool_new() - map count buffers of buf_size_bytes in one anonymous mapping.
 * opts     IN: read during the call only.
 * out      OUT: set only on FLOE_OK; free with floe_bufpool_destroy().
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (size 0, over 4 GiB, count 0, or size * count
 *          overflows; message says which); FLOE_E_NOMEM when count * size exceeds
 *          memory_limit_bytes or mmap/prefault fails, with a message naming the numbers and the
 *          limit ("cannot allocate 4 buffers of 64 MiB (256 MiB) within --memory-limit 128
 *          MiB").
 * Threads  any thread.
 */
int floe_bufpool_new(const struct floe_bufpool_options *opts, struct floe_bufpool **out,
                     struct floe_error *err);

/*
 * floe_bufpool_acquire() - take a free buffer, waiting for a release if none is free.
 * out      OUT: set only on FLOE_OK; the caller holds the buffer until floe_bufpool_release().
 * Returns  FLOE_OK, or FLOE_E_IO with err->sys_errno = ECANCELED once floe_bufpool_cancel() has
 *          been called (waiters are woken; later calls fail at once).
 * Threads  any thread; many waiters are served in no particular order.
 */
int floe_bufpool_acquire(struct floe_bufpool *pool, struct floe_buf **out, struct floe_error *err);

/*
 * floe_bufpool_acquire_timed() - as floe_bufpool_acquire(), giving up after timeout_ms
 * (0 = do not wait) with FLOE_E_TIMEOUT.
 */
int floe_bufpool_acquire_timed(struct floe_bufpool *pool, unsigned timeout_ms,
                               struct floe_buf **out, struct floe_error *err);

/*
 * floe_bufpool_try_acquire() - a free buffer, or NULL at once if none is free or the pool is
 * cancelled. Never blocks; safe from the transfer thread or a callback.
 */
struct floe_buf *floe_bufpool_try_acquire(struct floe_bufpool *pool);

/*
 * floe_bufpool_release() - give buf back and wake one waiter. buf must have come from this
 * pool and must not be touched afterwards. NULL is ignored. Works after cancel.
 * Threads  any thread.
 */
void floe_bufpool_release(struct floe_bufpool *pool, struct floe_buf *buf);

/*
 * floe_bufpool_cancel() - shutdown: wake every waiter in acquire with the cancel error and make
 * later acquires fail at once. Releases still work. Idempotent. Threads: any thread.
 */
void floe_bufpool_cancel(struct floe_bufpool *pool);

/* floe_bufpool_stats() - a consistent snapshot of the counters. Threads: any thread. */
void floe_bufpool_stats(struct floe_bufpool *pool, struct floe_bufpool_stats *out);

/*
 * floe_bufpool_destroy() - unmap everything. No thread may be inside acquire (cancel and join
 * them first). Buffers still held (an error path tearing down mid-transfer) become invalid at
 * once: their holders must not touch them again. NULL is fine.
 */
void floe_bufpool_destroy(struct floe_bufpool *pool);

#endif
