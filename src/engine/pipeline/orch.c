/*
 * orch.c - the transfer core (see orch.h): the item table, the state check, the event loop
 * with its single failure and cancel paths, and the done/journal/progress step every request
 * type shares.
 */
#include "orch.h"

#include "alloc.h"
#include "checkpoint.h"
#include "floe/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POP_TIMEOUT_MS 200 /* how often the loop looks at the cancel flag while waiting */

void floe_orch_init(struct floe_orch *o, const struct floe_orch_ops *ops, void *ctx,
                    const atomic_bool *cancel)
{
    memset(o, 0, sizeof(*o));
    o->ops = ops;
    o->ctx = ctx;
    o->cancel = cancel;
    floe_evq_init(&o->events);
    clock_gettime(CLOCK_MONOTONIC, &o->t0);
}

void floe_orch_cleanup(struct floe_orch *o)
{
    for (uint64_t i = 0; i < o->items_cap; i++) {
        if (o->items[i] && o->ops->item_free)
            o->ops->item_free(o->ctx, o->items[i]);
        free(o->items[i]);
    }
    free(o->items);
    o->items = NULL;
    o->items_cap = 0;
    floe_evq_cleanup(&o->events);
}

void *floe_orch_item(struct floe_orch *o, uint64_t index)
{
    if (index >= o->items_cap) {
        uint64_t cap = o->items_cap ? o->items_cap : 64;
        while (cap <= index)
            cap *= 2;
        o->items = floe_xrealloc(o->items, (size_t)cap * sizeof(*o->items));
        memset(o->items + o->items_cap, 0, (size_t)(cap - o->items_cap) * sizeof(*o->items));
        o->items_cap = cap;
    }
    if (!o->items[index]) {
        struct floe_orch_item *it = floe_xcalloc(1, o->ops->item_size);
        it->index = index;
        o->items[index] = it;
    }
    return o->items[index];
}

void *floe_orch_item_if(const struct floe_orch *o, uint64_t index)
{
    return index < o->items_cap ? o->items[index] : NULL;
}

void floe_orch_set_state(const struct floe_orch *o, struct floe_orch_item *it, unsigned to)
{
    const struct floe_orch_states *t = o->ops->states;
    if (it->state >= t->count || to >= t->count || !t->legal[it->state * t->count + to]) {
        fprintf(stderr, "floe: internal error: %s %" PRIu64 " %s -> %s\n", t->item_name, it->index,
                it->state < t->count ? t->names[it->state] : "?",
                to < t->count ? t->names[to] : "?");
        abort();
    }
    it->state = to;
}

void floe_orch_post(struct floe_orch *o, struct floe_orch_event *ev, unsigned kind, void *obj)
{
    ev->kind = kind;
    ev->obj = obj;
    floe_evq_push(&o->events, &ev->node);
}

void floe_orch_later(struct floe_orch *o, unsigned ms)
{
    o->later_ms = ms < 1 ? 1 : ms > POP_TIMEOUT_MS ? POP_TIMEOUT_MS : ms;
}

void floe_orch_enter(struct floe_orch *o)
{
    o->in_flight++;
}

void floe_orch_leave(struct floe_orch *o, void *item)
{
    if (o->ops->release)
        o->ops->release(o->ctx, item);
    o->in_flight--;
}

void floe_orch_fail(struct floe_orch *o, int status, const struct floe_error *err)
{
    if (o->fatal)
        return;
    o->fatal = status;
    if (err && err != &o->fatal_err)
        o->fatal_err = *err;
    o->fatal_err.status = status;
}

void floe_orch_fail_item(struct floe_orch *o, void *item, int status, const struct floe_error *err)
{
    struct floe_error e = {0};
    if (err)
        e = *err; /* err may live in the item, which release() may recycle */
    floe_orch_leave(o, item);
    floe_orch_fail(o, status, err ? &e : NULL);
}

bool floe_orch_may_retry(const struct floe_orch *o, const struct floe_orch_item *it,
                         unsigned max_attempts)
{
    return !o->fatal && it->attempts < max_attempts;
}

bool floe_orch_item_done(struct floe_orch *o, struct floe_orch_item *it, uint64_t offset,
                         uint64_t len, const uint8_t *tree)
{
    if (o->journal && tree) {
        /* the xxh128 field stays zero: a resume re-checks an item by its tree hash */
        struct floe_ckpt_part rec = {
            .index = it->index, .offset_bytes = offset, .length_bytes = len};
        memcpy(rec.tree_hash, tree, sizeof(rec.tree_hash));
        struct floe_error e = {0};
        if (floe_journal_append_part(o->journal, &rec, &e) != FLOE_OK) {
            floe_orch_fail_item(o, it, FLOE_E_CHECKPOINT, &e);
            return false;
        }
    }
    floe_orch_set_state(o, it, o->ops->states->done);
    o->items_done++;
    o->bytes_done += len;
    floe_orch_leave(o, it);
    if (o->ops->progress)
        o->ops->progress(o->ctx);
    return true;
}

void floe_orch_count_done(struct floe_orch *o, struct floe_orch_item *it, uint64_t len)
{
    floe_orch_set_state(o, it, o->ops->states->done);
    o->items_done++;
    o->bytes_done += len;
}

double floe_orch_elapsed(const struct floe_orch *o)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - o->t0.tv_sec) + (double)(t.tv_nsec - o->t0.tv_nsec) / 1e9;
}

/* Starts items in index order until start() says WAIT or END; returns what it said last. */
static enum floe_orch_start start_items(struct floe_orch *o)
{
    enum floe_orch_start r = FLOE_ORCH_END;
    while (!o->fatal) {
        r = o->ops->start(o->ctx, o->next_start);
        if (r == FLOE_ORCH_WAIT || r == FLOE_ORCH_END || r == FLOE_ORCH_LATER)
            break;
        o->next_start++;
    }
    return r;
}

int floe_orch_run(struct floe_orch *o, struct floe_error *err)
{
    for (;;) {
        if (o->cancel && atomic_load(o->cancel) && !o->fatal) {
            struct floe_error e = {0};
            floe_error_set(&e, FLOE_E_CANCELLED, "interrupted");
            floe_orch_fail(o, FLOE_E_CANCELLED, &e);
        }
        enum floe_orch_start last = start_items(o);
        if (o->ops->tick)
            o->ops->tick(o->ctx);
        if (o->in_flight == 0 && last != FLOE_ORCH_LATER) {
            if (last == FLOE_ORCH_WAIT && !o->fatal) {
                struct floe_error e = {0};
                floe_error_set(&e, FLOE_E_INVALID_ARG,
                               "internal error: %s %" PRIu64
                               " cannot start and nothing is in flight to make room",
                               o->ops->states->item_name, o->next_start);
                floe_orch_fail(o, e.status, &e);
            }
            break;
        }
        unsigned wait_ms = last == FLOE_ORCH_LATER && !o->fatal ? o->later_ms : POP_TIMEOUT_MS;
        struct floe_evq_node *n = floe_evq_pop(&o->events, wait_ms ? wait_ms : 1);
        if (n)
            o->ops->handle(o->ctx, FLOE_EVQ_CONTAINER(n, struct floe_orch_event, node));
    }
    if (o->fatal && err)
        *err = o->fatal_err;
    return o->fatal;
}
