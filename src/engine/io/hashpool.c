/*
 * hashpool.c - fixed pool of hashing threads behind a bounded FIFO queue.
 *
 * DESIGN
 * One mutex guards the ring of tasks and the stopping flag. Workers wait on not_empty,
 * submitters wait on not_full: a full queue blocks the submitting stage, so memory held by
 * queued work never grows past queue_cap tasks. Destroy sets stopping; workers drain what is
 * queued and exit, then destroy joins them. Tasks own their argument while they run.
 *
 * floe_hashpool_leaves() cuts the buffer into batches of BATCH_LEAVES leaves (an even number,
 * so each worker can advance two leaves at once) and waits on a per-call counter.
 */
#include "floe/hashpool.h"

#include "alloc.h"
#include "latch.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_LEAVES 8

struct task {
    floe_hashpool_task_fn *fn;
    void *arg;
};

struct floe_hashpool {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    struct {
        struct task *ring;
        size_t head, count;
        bool stopping;
    } locked;          /* guarded by mu */
    size_t cap;        /* set at create, then read-only */
    unsigned nthreads; /* threads actually started; read-only after create */
    pthread_t *threads;
};

static void *worker(void *arg)
{
    struct floe_hashpool *pool = arg;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (pool->locked.count == 0 && !pool->locked.stopping)
            pthread_cond_wait(&pool->not_empty, &pool->mu);
        if (pool->locked.count == 0)
            break; /* stopping and drained */
        struct task t = pool->locked.ring[pool->locked.head];
        pool->locked.head = (pool->locked.head + 1) % pool->cap;
        pool->locked.count--;
        pthread_cond_signal(&pool->not_full);
        pthread_mutex_unlock(&pool->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

int floe_hashpool_new(unsigned nthreads, size_t queue_cap, struct floe_hashpool **out,
                      struct floe_error *err)
{
    if (nthreads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n > 0 ? (unsigned)n : 1;
    }
    if (queue_cap == 0)
        queue_cap = 4 * (size_t)nthreads;
    struct floe_hashpool *pool = floe_xcalloc(1, sizeof(*pool));
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->not_empty, NULL);
    pthread_cond_init(&pool->not_full, NULL);
    pool->cap = queue_cap;
    pool->locked.ring = floe_xcalloc(queue_cap, sizeof(struct task));
    pool->threads = floe_xcalloc(nthreads, sizeof(pthread_t));
    for (unsigned i = 0; i < nthreads; i++) {
        int rc = pthread_create(&pool->threads[i], NULL, worker, pool);
        if (rc) {
            floe_hashpool_destroy(pool);
            return floe_error_set_errno(err, FLOE_E_NOMEM, rc, NULL,
                                        "could not start hashing thread %u of %u", i + 1, nthreads);
        }
        pool->nthreads = i + 1;
    }
    *out = pool;
    return FLOE_OK;
}

unsigned floe_hashpool_threads(const struct floe_hashpool *pool)
{
    return pool->nthreads;
}

static void enqueue_locked(struct floe_hashpool *pool, floe_hashpool_task_fn *fn, void *arg)
{
    size_t tail = (pool->locked.head + pool->locked.count) % pool->cap;
    pool->locked.ring[tail].fn = fn;
    pool->locked.ring[tail].arg = arg;
    pool->locked.count++;
    pthread_cond_signal(&pool->not_empty);
}

void floe_hashpool_submit(struct floe_hashpool *pool, floe_hashpool_task_fn *fn, void *arg)
{
    pthread_mutex_lock(&pool->mu);
    while (pool->locked.count == pool->cap)
        pthread_cond_wait(&pool->not_full, &pool->mu);
    enqueue_locked(pool, fn, arg);
    pthread_mutex_unlock(&pool->mu);
}

int floe_hashpool_try_submit(struct floe_hashpool *pool, floe_hashpool_task_fn *fn, void *arg)
{
    int rc = -1;
    pthread_mutex_lock(&pool->mu);
    if (pool->locked.count < pool->cap) {
        enqueue_locked(pool, fn, arg);
        rc = 0;
    }
    pthread_mutex_unlock(&pool->mu);
    return rc;
}

void floe_hashpool_destroy(struct floe_hashpool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->locked.stopping = true;
    pthread_cond_broadcast(&pool->not_empty);
    pthread_mutex_unlock(&pool->mu);
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->not_empty);
    pthread_cond_destroy(&pool->not_full);
    pthread_mutex_destroy(&pool->mu);
    free(pool->locked.ring);
    free(pool->threads);
    free(pool);
}

/* ---- parallel leaves ---- */

struct leaves_batch {
    struct floe_latch *done; /* counted down once per batch */
    const uint8_t *data;
    size_t n;
    uint8_t (*leaves)[FLOE_HASH_BYTES];
};

static void leaves_task(void *arg)
{
    struct leaves_batch *b = arg;
    floe_treehash_leaves(b->data, b->n, b->leaves);
    floe_latch_count_down(b->done);
}

void floe_hashpool_leaves(struct floe_hashpool *pool, const void *data, size_t n,
                          uint8_t (*leaves)[FLOE_HASH_BYTES])
{
    const size_t batch_bytes = BATCH_LEAVES * FLOE_TREEHASH_LEAF_BYTES;
    size_t nbatches = n / batch_bytes + (n % batch_bytes != 0);
    if (nbatches == 0)
        return;
    struct floe_latch done;
    floe_latch_init(&done, nbatches);
    struct leaves_batch *batches = floe_xcalloc(nbatches, sizeof(*batches));
    for (size_t i = 0; i < nbatches; i++) {
        size_t off = i * batch_bytes;
        batches[i].done = &done;
        batches[i].data = (const uint8_t *)data + off;
        batches[i].n = n - off < batch_bytes ? n - off : batch_bytes;
        batches[i].leaves = leaves + i * BATCH_LEAVES;
        floe_hashpool_submit(pool, leaves_task, &batches[i]);
    }
    floe_latch_wait(&done);
    floe_latch_destroy(&done);
    free(batches);
}

void floe_hashpool_treehash(struct floe_hashpool *pool, const void *data, size_t n,
                            uint8_t tree[FLOE_HASH_BYTES])
{
    size_t count = (size_t)floe_treehash_leaf_count(n);
    uint8_t(*leaves)[FLOE_HASH_BYTES] = floe_xcalloc(count ? count : 1, FLOE_HASH_BYTES);
    floe_hashpool_leaves(pool, data, n, leaves);
    floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])leaves, count, tree);
    free(leaves);
}
