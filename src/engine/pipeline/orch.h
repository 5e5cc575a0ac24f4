/*
 * orch.h - the transfer core: one orchestrator that runs a set of work items (the parts of an
 * upload, the segments of a download; next the files of a backup, the archives of a migration,
 * the chunks of an S3 copy) through the stages (reader, hash pool, transfer, writer) and the
 * journal, with one state table, one failure path, one cancel path, one progress feed and one
 * item table. A request type (upload.c, retrieve.c) is a thin description of its items, in
 * the spirit of aws-c-s3's meta-request vtable: it supplies "start item i" (which admits the
 * item only when its memory or concurrency slot is free: that bounds memory), "handle this
 * event" and "release what an item holds"; the core runs the loop.
 *
 * The loop (floe_orch_run), on the calling thread, which is the only thread that decides:
 *
 *   until nothing is in flight and nothing more can start:
 *     cancel requested?              -> fail FLOE_E_CANCELLED "interrupted" (once)
 *     not failed: start items in index order until the request type says WAIT, LATER or END
 *     tick (optional: work that is not an event, e.g. stdout's in-order writes)
 *     pop one stage event (200 ms timeout, so a cancel is seen promptly) -> ops->handle
 *
 * Failure: the first floe_orch_fail() wins; nothing new starts after it; items in flight come
 * back through their events and leave (floe_orch_leave), and run returns once the last one has
 * left, so no stage still holds an item's memory when the request type tears down.
 *
 * Ownership and threads: struct floe_orch and every item belong to the orchestrating thread.
 * Stages on other threads own an item only between its submit and their callback, and their
 * callback does nothing but fill the item's event (status, err, its own fields) and
 * floe_orch_post() it. floe_orch_post() is the only function here callable from any thread.
 * Cost per item: one allocation (first use) and one queue push/pop per stage it passes.
 */
#ifndef FLOE_ENGINE_ORCH_H
#define FLOE_ENGINE_ORCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "evq.h"
#include "floe/error.h"

struct floe_journal;

/* The state table of a request type's items: names for messages, the legal transitions
 * (legal[from * count + to]) and the state that means done. States are small integers. */
struct floe_orch_states {
    const char *item_name; /* "part", "segment": used in the internal-error message */
    unsigned count;
    const char *const *names; /* count names */
    const bool *legal;        /* count * count */
    unsigned done;            /* the final state, entered by floe_orch_item_done() */
};

/* The head of every item: the request type's item struct starts with it (member "it"). */
struct floe_orch_item {
    uint64_t index;
    unsigned state;    /* one of the request type's states (0 = the first, e.g. PLANNED) */
    unsigned attempts; /* times the item's main request was submitted (per-item retries) */
};

/* A stage's report about an item (or a sub-object such as a chunk of one): embedded in that
 * object, filled by the stage (status, err), then posted. Owned by the stage until posted, by
 * the orchestrator after the pop. An event must not be posted again before it is popped. */
struct floe_orch_event {
    unsigned kind; /* the request type's event kind */
    void *obj;     /* the item or sub-object this event is about */
    int status;
    struct floe_error err;
    struct floe_evq_node node;
};

/* What start() says about item index. */
enum floe_orch_start {
    FLOE_ORCH_STARTED, /* the item entered flight (floe_orch_enter): try the next index */
    FLOE_ORCH_SKIP,    /* nothing to do for it (already done): try the next index */
    FLOE_ORCH_WAIT,    /* it cannot start yet (no buffer, concurrency full): wait for an event */
    FLOE_ORCH_END,     /* there is no such item (yet): start nothing more now */
    FLOE_ORCH_LATER,   /* it may start after a while (a rate limit): ask again after the time
                          set with floe_orch_later(), or sooner if an event comes */
};

/* A request type: callbacks run on the orchestrating thread only; ctx is theirs. */
struct floe_orch_ops {
    const struct floe_orch_states *states;
    size_t item_size; /* sizeof the request type's item (it starts with struct floe_orch_item) */
    /* Start item index if it can start now. A failure to start calls floe_orch_fail() (the
     * item must not be in flight then) and returns WAIT or END. */
    enum floe_orch_start (*start)(void *ctx, uint64_t index);
    /* One stage event. Every path ends with the item still in flight (its next stage was
     * submitted) or out of it (floe_orch_item_done, floe_orch_leave, floe_orch_fail_item). */
    void (*handle)(void *ctx, struct floe_orch_event *ev);
    /* The item leaves flight: give back what it holds for the flight (buffers). Optional. */
    void (*release)(void *ctx, void *item);
    /* Free what an item owns for good (a transfer handle), before the core frees the item
     * itself at floe_orch_cleanup(). Optional. */
    void (*item_free)(void *ctx, void *item);
    /* After an item is done (floe_orch_item_done / floe_orch_count_done). Optional. */
    void (*progress)(void *ctx);
    /* Each turn of the loop after starting items, before waiting. Optional. */
    void (*tick)(void *ctx);
};

struct floe_orch {
    const struct floe_orch_ops *ops;
    unsigned later_ms; /* FLOE_ORCH_LATER: how long to wait before asking start() again */
    void *ctx;
    const atomic_bool *cancel;    /* NULL: cannot be cancelled */
    struct floe_journal *journal; /* NULL: no records; set and owned by the request type */
    struct floe_evq events;       /* stage callbacks -> orchestrator */
    void **items;                 /* items[i], allocated on first use; addresses are stable */
    uint64_t items_cap;
    uint64_t next_start; /* the next index start() is asked about */
    unsigned in_flight;
    uint64_t items_done; /* items counted done (this run and adopted ones) */
    uint64_t bytes_done; /* their bytes */
    int fatal;
    struct floe_error fatal_err;
    struct timespec t0;
};

/*
 * floe_orch_init() - a ready core for one request; starts its clock. ops and ctx must outlive
 * it; cancel (may be NULL) is read every turn of the loop. Pair with floe_orch_cleanup().
 */
void floe_orch_init(struct floe_orch *o, const struct floe_orch_ops *ops, void *ctx,
                    const atomic_bool *cancel);

/* floe_orch_cleanup() - item_free() and free every item, drop the queue. Nothing may be in
 * flight (floe_orch_run has returned, or run was never called). Leaves journal alone. */
void floe_orch_cleanup(struct floe_orch *o);

/* floe_orch_item() - the item at index, allocated zeroed (index set, state 0) on first use.
 * Orchestrating thread; the address is stable until floe_orch_cleanup(). */
void *floe_orch_item(struct floe_orch *o, uint64_t index);

/* floe_orch_item_if() - the item at index, or NULL if it was never made. */
void *floe_orch_item_if(const struct floe_orch *o, uint64_t index);

/* floe_orch_set_state() - move it to state to, or abort with "internal error: part 3
 * SENDING -> PLANNED" if the table forbids it (a bug, never a runtime condition). */
void floe_orch_set_state(const struct floe_orch *o, struct floe_orch_item *it, unsigned to);

/* floe_orch_post() - hand ev (about obj, of kind) to the orchestrator. ANY thread: the only
 * function a stage calls. ev->status and ev->err are the poster's to fill before. */
void floe_orch_post(struct floe_orch *o, struct floe_orch_event *ev, unsigned kind, void *obj);

/* floe_orch_later() - start() is about to return FLOE_ORCH_LATER: ask again in ms
 * milliseconds (at least 1, at most the loop's 200 ms cancel check). */
void floe_orch_later(struct floe_orch *o, unsigned ms);

/* floe_orch_enter() - an item enters flight (start() admitted it). */
void floe_orch_enter(struct floe_orch *o);

/* floe_orch_leave() - item leaves flight: ops->release(item), then in_flight--. */
void floe_orch_leave(struct floe_orch *o, void *item);

/* floe_orch_fail() - the request fails with status and err (copied; NULL: status only) unless
 * it failed already: the first failure is the one reported. Nothing new starts after it. */
void floe_orch_fail(struct floe_orch *o, int status, const struct floe_error *err);

/* floe_orch_fail_item() - item leaves flight and the request fails: the one failure path of a
 * handler. err may be the item's own event error (it is copied first). */
void floe_orch_fail_item(struct floe_orch *o, void *item, int status, const struct floe_error *err);

/* floe_orch_stopping() - true once the request has failed (or was cancelled). */
static inline bool floe_orch_stopping(const struct floe_orch *o)
{
    return o->fatal != 0;
}

/* floe_orch_may_retry() - whether item may be submitted once more: the request is not
 * stopping and it has been submitted fewer than max_attempts times. */
bool floe_orch_may_retry(const struct floe_orch *o, const struct floe_orch_item *it,
                         unsigned max_attempts);

/*
 * floe_orch_item_done() - item's work is complete and verified: the journal record (offset,
 * len, tree hash) if the core has a journal and tree is not NULL (NULL: recorded already),
 * then state done, counted, out of flight, progress.
 * Returns false (and fails the request with FLOE_E_CHECKPOINT, item out of flight) if the
 * record could not be written.
 */
bool floe_orch_item_done(struct floe_orch *o, struct floe_orch_item *it, uint64_t offset,
                         uint64_t len, const uint8_t *tree);

/* floe_orch_count_done() - an item found done without flight (confirmed by a journal on
 * resume): state done, counted. No record, no progress call. */
void floe_orch_count_done(struct floe_orch *o, struct floe_orch_item *it, uint64_t len);

/* floe_orch_elapsed() - seconds since floe_orch_init(). */
double floe_orch_elapsed(const struct floe_orch *o);

/*
 * floe_orch_run() - the loop (see the top of this file) until nothing is in flight and
 * start() has nothing more to start now. Returns FLOE_OK, or the first failure's status with
 * err (may be NULL) set to its detail. A start() that says WAIT while nothing is in flight
 * (nothing could ever wake it) fails the request as an internal error instead of hanging.
 */
int floe_orch_run(struct floe_orch *o, struct floe_error *err);

#endif
