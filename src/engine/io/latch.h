/*
 * latch.h - a countdown latch: a thread waits until a number of completions, signalled from
 * other threads, have happened. The engine's synchronous wrappers over its worker threads
 * (a read, a write, a transfer, a batch of hash tasks) each wait this way.
 *
 * Memory: what a completing thread writes before floe_latch_count_down() is visible to the
 * waiter after floe_latch_wait() returns (both go through the latch's mutex).
 * Lifetime: the completing thread does not touch the latch after its count-down returns, so
 * the waiter may destroy it as soon as floe_latch_wait() returns.
 */
#ifndef FLOE_ENGINE_LATCH_H
#define FLOE_ENGINE_LATCH_H

#include <pthread.h>
#include <stddef.h>

struct floe_latch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending; /* guarded by mu: completions still to come */
};

/* floe_latch_init() - a latch that opens after count completions (0: open at once).
 * Threads: the owner's, before any other thread sees the latch. */
static inline void floe_latch_init(struct floe_latch *l, size_t count)
{
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->pending = count;
}

/* floe_latch_arm() - makes an open latch wait for count more completions (reuse). Threads: the
 * owner's, while no completion of the latch is outstanding. */
static inline void floe_latch_arm(struct floe_latch *l, size_t count)
{
    pthread_mutex_lock(&l->mu);
    l->pending = count;
    pthread_mutex_unlock(&l->mu);
}

/* floe_latch_count_down() - one completion; the last one wakes the waiter. Threads: any. */
static inline void floe_latch_count_down(struct floe_latch *l)
{
    pthread_mutex_lock(&l->mu);
    if (l->pending && --l->pending == 0)
        pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* floe_latch_wait() - blocks until every completion has happened (at once when open).
 * Threads: one waiter at a time, never a thread that must count the latch down. */
static inline void floe_latch_wait(struct floe_latch *l)
{
    pthread_mutex_lock(&l->mu);
    while (l->pending)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
}

/* floe_latch_destroy() - frees the mutex and condition. Threads: the owner's, once open (or
 * never waited on by anyone). */
static inline void floe_latch_destroy(struct floe_latch *l)
{
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
}

#endif
