/*
 * evq.c - see evq.h. A mutex-protected intrusive FIFO with a condition variable; pop waits
 * against CLOCK_REALTIME (pthread_cond_timedwait's default clock).
 * The popper takes the whole list at once into its own `taken` list and pops from that without
 * the lock until it is empty (one lock round per batch, not per event); a push signals only
 * when the popper is asleep (under the lock: once the lock is released the popper may take the
 * node, finish and free the queue).
 */
#include "evq.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>

void floe_evq_init(struct floe_evq *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->locked.head = q->locked.tail = NULL;
    q->locked.sleeping = false;
    q->taken = NULL;
}

void floe_evq_cleanup(struct floe_evq *q)
{
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

void floe_evq_push(struct floe_evq *q, struct floe_evq_node *n)
{
    n->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->locked.tail)
        q->locked.tail->next = n;
    else
        q->locked.head = n;
    q->locked.tail = n;
    if (q->locked.sleeping) {
        q->locked.sleeping = false; /* one signal per sleep is enough */
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
}

struct floe_evq_node *floe_evq_pop(struct floe_evq *q, unsigned timeout_ms)
{
    struct floe_evq_node *n = q->taken;
    if (n) {
        q->taken = n->next;
        return n;
    }
    pthread_mutex_lock(&q->mu);
    if (!q->locked.head) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!q->locked.head) {
            q->locked.sleeping = true;
            if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT)
                break;
        }
        q->locked.sleeping = false;
    }
    n = q->locked.head;
    q->locked.head = q->locked.tail = NULL;
    pthread_mutex_unlock(&q->mu);
    if (n)
        q->taken = n->next;
    return n;
}
