/*
 * bufpool.c - a fixed set of large page-aligned buffers handed out and taken back, bounding the
 * memory of the whole pipeline.
 *
 * DESIGN
 * All buffers live in one anonymous mmap made at creation and unmapped at destroy; nothing is
 * allocated or freed per part, so each page is faulted in once (first touch costs ~10 us per
 * 4 KiB page on this VM, far less with transparent huge pages, hence MADV_HUGEPAGE and 2 MiB
 * alignment of buffers of 2 MiB or more). With prefault the pages are faulted in during
 * creation (MADV_POPULATE_WRITE, or one write per page on kernels without it), so a machine
 * that cannot back the memory fails here with FLOE_E_NOMEM.
 *
 * One mutex guards the free list - LIFO by default (the most recently released buffer is the
 * warmest in cache and TLB), FIFO for a ring (opts->fifo) - the cancel flag and the counters.
 * Acquirers wait on one condition variable; release signals one waiter, cancel broadcasts. Buffers
 * are handed over, never shared: the pool does not look at a buffer between acquire and release.
 */
#include "bufpool.h"

#include "alloc.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define HUGE_BYTES ((size_t)2 << 20)
#define MAX_BUF_BYTES ((uint64_t)4 << 30)

struct floe_bufpool {
    pthread_mutex_t mu;
    pthread_cond_t freed;
    struct {
        struct floe_buf *free_list;
        struct floe_buf *free_tail; /* fifo: releases append here */
        unsigned free;
        unsigned peak_in_use;
        uint64_t acquires;
        uint64_t waits;
        bool cancelled;
    } locked;              /* guarded by mu */
    struct floe_buf *bufs; /* count entries; fixed after create */
    unsigned count;        /* read-only after create */
    size_t buf_size;       /* cap of each buffer; read-only */
    bool fifo;             /* read-only: hand out the longest-free buffer first */
    uint8_t *map;          /* the mapping, map_bytes long; read-only */
    size_t map_bytes;
};

/* Human-readable size for messages: "64 MiB", "1.5 GiB", "4096 bytes", "390.6 TiB". */
static void fmt_size(uint64_t n, char *out, size_t cap)
{
    if (n >= ((uint64_t)1 << 40))
        snprintf(out, cap, "%.1f TiB", (double)n / (double)((uint64_t)1 << 40));
    else if (n >= ((uint64_t)1 << 30) && n % ((uint64_t)1 << 30) == 0)
        snprintf(out, cap, "%llu GiB", (unsigned long long)(n >> 30));
    else if (n >= ((uint64_t)1 << 30))
        snprintf(out, cap, "%.1f GiB", (double)n / (double)((uint64_t)1 << 30));
    else if (n >= ((uint64_t)1 << 20) && n % ((uint64_t)1 << 20) == 0)
        snprintf(out, cap, "%llu MiB", (unsigned long long)(n >> 20));
    else if (n >= ((uint64_t)1 << 20))
        snprintf(out, cap, "%.1f MiB", (double)n / (double)((uint64_t)1 << 20));
    else
        snprintf(out, cap, "%llu bytes", (unsigned long long)n);
}

static int nomem(struct floe_error *err, int sys_errno, unsigned count, uint64_t size,
                 uint64_t total, uint64_t limit, const char *why)
{
    char s_size[32], s_total[32], s_limit[48];
    fmt_size(size, s_size, sizeof(s_size));
    fmt_size(total, s_total, sizeof(s_total));
    if (limit)
        fmt_size(limit, s_limit, sizeof(s_limit));
    else
        snprintf(s_limit, sizeof(s_limit), "unlimited");
    return floe_error_set_errno(err, FLOE_E_NOMEM, sys_errno, NULL,
                                "cannot allocate %u buffers of %s (%s) within --memory-limit %s%s",
                                count, s_size, s_total, s_limit, why);
}

static int prefault(uint8_t *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(p, n, MADV_POPULATE_WRITE) == 0)
        return 0;
    int e = errno;
    if (e != EINVAL)
        return e; /* ENOMEM, EFAULT...: the memory cannot be backed */
#endif
    /* Older kernel: touch one byte per page (the mapping is zero-filled; writing 0 keeps it). */
    long page = sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < n; off += (size_t)page)
        ((volatile uint8_t *)p)[off] = 0;
    return 0;
}

int floe_bufpool_new(const struct floe_bufpool_options *opts, struct floe_bufpool **out,
                     struct floe_error *err)
{
    struct floe_bufpool *pool = NULL;
    int rc = FLOE_OK;
    if (!opts || opts->buf_size_bytes == 0) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "buffer size must be at least 1 byte");
        goto out;
    }
    if ((uint64_t)opts->buf_size_bytes > MAX_BUF_BYTES) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "buffer size %zu bytes is over 4 GiB",
                            opts->buf_size_bytes);
        goto out;
    }
    if (opts->count == 0) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "buffer count must be at least 1");
        goto out;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t align = opts->buf_size_bytes >= HUGE_BYTES ? HUGE_BYTES : page;
    size_t stride = (opts->buf_size_bytes + align - 1) / align * align;
    size_t total = 0, map_bytes = 0;
    if (__builtin_mul_overflow(stride, (size_t)opts->count, &total) ||
        __builtin_add_overflow(total, align, &map_bytes)) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "%u buffers of %zu bytes overflow memory",
                            opts->count, opts->buf_size_bytes);
        goto out;
    }
    uint64_t want = (uint64_t)opts->buf_size_bytes * opts->count;
    if (opts->memory_limit_bytes && want > opts->memory_limit_bytes) {
        rc = nomem(err, 0, opts->count, opts->buf_size_bytes, want, opts->memory_limit_bytes, "");
        goto out;
    }

    pool = floe_xcalloc(1, sizeof(*pool));
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->freed, NULL);
    pool->count = opts->count;
    pool->buf_size = opts->buf_size_bytes;
    /* Map one alignment unit extra so the first buffer can start on a 2 MiB boundary. */
    void *m = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        rc = nomem(err, e, opts->count, opts->buf_size_bytes, want, opts->memory_limit_bytes,
                   " (mmap failed)");
        goto out;
    }
    pool->map = m;
    pool->map_bytes = map_bytes;
    uint8_t *base = (uint8_t *)(((uintptr_t)m + align - 1) / align * align);
    if (!opts->no_hugepages && align == HUGE_BYTES)
        (void)madvise(base, total, MADV_HUGEPAGE); /* best effort: THP may be disabled */
    if (opts->prefault) {
        int e = prefault(base, total);
        if (e) {
            rc = nomem(err, e, opts->count, opts->buf_size_bytes, want, opts->memory_limit_bytes,
                       " (pages could not be faulted in)");
            goto out;
        }
    }
    pool->bufs = floe_xcalloc(opts->count, sizeof(struct floe_buf));
    for (unsigned i = opts->count; i-- > 0;) {
        struct floe_buf *b = &pool->bufs[i];
        b->data = base + (size_t)i * stride;
        b->cap = opts->buf_size_bytes;
        b->index = i;
        b->pool = pool;
        b->next_free = pool->locked.free_list;
        pool->locked.free_list = b;
        if (!pool->locked.free_tail)
            pool->locked.free_tail = b;
    }
    pool->locked.free = opts->count;
    pool->fifo = opts->fifo;
    *out = pool;
    pool = NULL;
out:
    floe_bufpool_destroy(pool);
    return rc;
}

static struct floe_buf *take_locked(struct floe_bufpool *pool)
{
    struct floe_buf *b = pool->locked.free_list;
    pool->locked.free_list = b->next_free;
    if (!pool->locked.free_list)
        pool->locked.free_tail = NULL;
    pool->locked.free--;
    pool->locked.acquires++;
    unsigned in_use = pool->count - pool->locked.free;
    if (in_use > pool->locked.peak_in_use)
        pool->locked.peak_in_use = in_use;
    b->next_free = NULL;
    b->len = 0;
    b->offset_bytes = 0;
    b->user = NULL;
    return b;
}

static int cancelled(struct floe_error *err)
{
    return floe_error_set_errno(err, FLOE_E_IO, ECANCELED, NULL,
                                "no buffer: the buffer pool was cancelled");
}

/* Waits until a buffer is free, the pool is cancelled, or deadline (NULL = forever) passes. */
static int acquire(struct floe_bufpool *pool, const struct timespec *deadline, unsigned timeout_ms,
                   struct floe_buf **out, struct floe_error *err)
{
    int rc = FLOE_OK;
    bool waited = false;
    pthread_mutex_lock(&pool->mu);
    while (!pool->locked.free_list && !pool->locked.cancelled) {
        if (!deadline) {
            pthread_cond_wait(&pool->freed, &pool->mu);
        } else {
            int w =
                timeout_ms ? pthread_cond_timedwait(&pool->freed, &pool->mu, deadline) : ETIMEDOUT;
            if (w == ETIMEDOUT && !pool->locked.free_list && !pool->locked.cancelled) {
                rc = floe_error_set(err, FLOE_E_TIMEOUT,
                                    "no buffer became free within %u ms (all %u in use)",
                                    timeout_ms, pool->count);
                goto out;
            }
        }
        waited = true;
    }
    if (pool->locked.cancelled) {
        rc = cancelled(err);
        goto out;
    }
    if (waited)
        pool->locked.waits++;
    *out = take_locked(pool);
out:
    pthread_mutex_unlock(&pool->mu);
    return rc;
}

int floe_bufpool_acquire(struct floe_bufpool *pool, struct floe_buf **out, struct floe_error *err)
{
    return acquire(pool, NULL, 0, out, err);
}

int floe_bufpool_acquire_timed(struct floe_bufpool *pool, unsigned timeout_ms,
                               struct floe_buf **out, struct floe_error *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline); /* pthread_cond_timedwait's default clock */
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    return acquire(pool, &deadline, timeout_ms, out, err);
}

struct floe_buf *floe_bufpool_try_acquire(struct floe_bufpool *pool)
{
    struct floe_buf *b = NULL;
    pthread_mutex_lock(&pool->mu);
    if (pool->locked.free_list && !pool->locked.cancelled)
        b = take_locked(pool);
    pthread_mutex_unlock(&pool->mu);
    return b;
}

void floe_bufpool_release(struct floe_bufpool *pool, struct floe_buf *buf)
{
    if (!buf)
        return;
    assert(buf->pool == pool && buf->index < pool->count && &pool->bufs[buf->index] == buf);
    pthread_mutex_lock(&pool->mu);
    assert(pool->locked.free < pool->count);
    if (pool->fifo && pool->locked.free_tail) {
        buf->next_free = NULL;
        pool->locked.free_tail->next_free = buf;
        pool->locked.free_tail = buf;
    } else {
        buf->next_free = pool->locked.free_list;
        pool->locked.free_list = buf;
        if (!pool->locked.free_tail)
            pool->locked.free_tail = buf;
    }
    pool->locked.free++;
    pthread_cond_signal(&pool->freed);
    pthread_mutex_unlock(&pool->mu);
}

void floe_bufpool_cancel(struct floe_bufpool *pool)
{
    pthread_mutex_lock(&pool->mu);
    pool->locked.cancelled = true;
    pthread_cond_broadcast(&pool->freed);
    pthread_mutex_unlock(&pool->mu);
}

void floe_bufpool_stats(struct floe_bufpool *pool, struct floe_bufpool_stats *out)
{
    pthread_mutex_lock(&pool->mu);
    out->count = pool->count;
    out->free = pool->locked.free;
    out->peak_in_use = pool->locked.peak_in_use;
    out->acquires = pool->locked.acquires;
    out->waits = pool->locked.waits;
    out->buf_size_bytes = pool->buf_size;
    out->mapped_bytes = pool->map_bytes;
    pthread_mutex_unlock(&pool->mu);
}

void floe_bufpool_destroy(struct floe_bufpool *pool)
{
    if (!pool)
        return;
    if (pool->map)
        munmap(pool->map, pool->map_bytes);
    free(pool->bufs);
    pthread_cond_destroy(&pool->freed);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
}
