/*
 * evq.h - the orchestrator's event queue: stages on other threads (reader, hash pool,
 * transfer) push events; the orchestrating thread pops them in order, with a timeout so it
 * also notices cancel requests. Intrusive: the event node lives inside the caller's object,
 * so pushing never allocates.
 *
 * Ownership: a pushed node belongs to the queue until popped, then to the popper. A node must
 * not be pushed twice without being popped in between. One popping thread only (pop takes
 * every queued node at once and hands them out one by one without the lock).
 */
#ifndef FLOE_ENGINE_EVQ_H
#define FLOE_ENGINE_EVQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct floe_evq_node {
    struct floe_evq_node *next; /* owned by the queue while queued */
};

struct floe_evq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        struct floe_evq_node *head, *tail;
        bool sleeping;           /* the popper waits on cv: the next push signals it */
    } locked;                    /* guarded by mu */
    struct floe_evq_node *taken; /* the popper's: nodes taken off the list, not yet returned */
};

/* floe_evq_init() / floe_evq_cleanup() - caller-owned queue; cleanup drops nothing (the nodes
 * belong to their objects) and accepts a queue init never saw only if zeroed. */
void floe_evq_init(struct floe_evq *q);
void floe_evq_cleanup(struct floe_evq *q);

/* floe_evq_push() - append n (FIFO) and wake the popper. Any thread. */
void floe_evq_push(struct floe_evq *q, struct floe_evq_node *n);

/* floe_evq_pop() - the oldest node, waiting up to timeout_ms; NULL if none came. The one
 * popping thread only. */
struct floe_evq_node *floe_evq_pop(struct floe_evq *q, unsigned timeout_ms);

/* The object that embeds node as member. */
#define FLOE_EVQ_CONTAINER(node, type, member)                                                     \
    ((type *)(void *)((char *)(node)-offsetof(type, member)))

#endif
