/*
 * singles.c - see singles.h. The slots are the request type's own (the core's item table is
 * not used: ops.item_size is 0), recycled through a free list when an item leaves flight.
 * Reads go to the hash pool without waiting for room in its queue: a read that does not fit
 * waits in `unsent` (in order) and is handed over when a finished read makes room, so the
 * orchestrating thread never sleeps on the pool's queue (a futex wake-up per file when the
 * slots outnumber the queue, as they do: 64 requests in flight, a queue of 4 per thread).
 */
#include "singles.h"

#include "adapt.h"
#include "alloc.h"
#include "bufpool.h"
#include "client_impl.h"
#include "floe/hashpool.h"
#include "floe/treehash.h"
#include "orch.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_SENDS 4 /* one send and three re-sends after a checksum mismatch */
/* Files up to this size are read and hashed on the orchestrating thread: for them the two
 * hand-offs through the hash pool (a wake-up of a hashing thread, then of the orchestrator)
 * cost more than the read itself. */
#define INLINE_READ_MAX (4 * 1024)

enum { S_PLANNED, S_READING, S_SENDING, S_DONE, S_COUNT };
static const char *const s_names[S_COUNT] = {"PLANNED", "READING", "SENDING", "DONE"};
static const bool s_legal[S_COUNT][S_COUNT] = {
    [S_PLANNED] = {[S_READING] = true},
    [S_READING] = {[S_SENDING] = true, [S_DONE] = true},
    [S_SENDING] = {[S_SENDING] = true, [S_DONE] = true},
};
static const struct floe_orch_states s_states = {
    .item_name = "file",
    .count = S_COUNT,
    .names = s_names,
    .legal = &s_legal[0][0],
    .done = S_DONE,
};

enum ev_kind { EV_READ, EV_SENT };

struct singles;

struct slot {
    struct floe_orch_item it;
    struct floe_orch_event ev;
    struct singles *s;
    struct slot *next_free;
    struct slot *next_unsent;
    struct floe_plan_item item; /* a copy: the plan's cur is overwritten by the next read */
    size_t path_cap;
    struct floe_buf *buf;
    uint8_t tree[FLOE_HASH_BYTES], linear[FLOE_HASH_BYTES];
    uint8_t xxh3[FLOE_CATALOG_XXH3_BYTES];
    char description[1025];
    struct floe_xfer *xfer;
    bool skip; /* EV_READ: not uploaded (ev.err says why) */
};

struct singles {
    const struct floe_singles_options *o;
    struct floe_plan *plan;
    struct floe_singles_stats *st;
    struct floe_orch orch;
    struct floe_hashpool *hashpool;
    struct floe_bufpool *pool;
    struct slot *slots, *free;
    struct slot *unsent_head, *unsent_tail; /* READING, not yet taken by the hash pool */
    unsigned nslots;
    bool plan_ended;
    struct floe_adapt adapt; /* opts->adaptive: orchestrating thread only */
};

/* ---- stage: hash pool task (any thread) ---- */

static void read_task(void *arg)
{
    struct slot *sl = arg;
    sl->skip = false;
    sl->ev.status = floe_plan_read_item(&sl->item, sl->buf->data, &sl->ev.err);
    if (!sl->ev.status && sl->item.size == 0)
        sl->ev.status = floe_error_set(&sl->ev.err, FLOE_E_INVALID_ARG,
                                       "%s is empty: Glacier keeps no empty archives (the packed "
                                       "layout keeps empty files); skipped",
                                       sl->item.path);
    if (sl->ev.status) {
        sl->skip = true;
    } else {
        floe_treehash_part(sl->buf->data, sl->item.size, NULL, sl->tree, sl->linear);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits(sl->buf->data, sl->item.size));
        memcpy(sl->xxh3, c.digest, sizeof(sl->xxh3));
    }
    floe_orch_post(&sl->s->orch, &sl->ev, EV_READ, sl);
}

/* ---- stage: transfer thread ---- */

static void on_sent(struct floe_xfer *x)
{
    struct slot *sl = x->user;
    sl->ev.status = x->status;
    if (x->status)
        sl->ev.err = x->err;
    floe_orch_post(&sl->s->orch, &sl->ev, EV_SENT, sl);
}

/* ---- orchestrator ---- */

static void copy_item(struct slot *sl, const struct floe_plan_item *it)
{
    char *path = sl->item.path;
    if (it->path_len + 1 > sl->path_cap) {
        sl->path_cap = it->path_len + 1;
        path = floe_xrealloc(path, sl->path_cap);
    }
    memcpy(path, it->path, it->path_len + 1);
    sl->item = *it;
    sl->item.path = path;
}

/* Hands the unsent reads to the hash pool while its queue has room. */
static void send_reads(struct singles *s)
{
    while (s->unsent_head) {
        struct slot *sl = s->unsent_head, *next = sl->next_unsent;
        if (floe_hashpool_try_submit(s->hashpool, read_task, sl) != 0)
            break;
        s->unsent_head = next;
        if (!next)
            s->unsent_tail = NULL;
    }
}

static void queue_read(struct singles *s, struct slot *sl)
{
    sl->next_unsent = NULL;
    if (s->unsent_tail)
        s->unsent_tail->next_unsent = sl;
    else
        s->unsent_head = sl;
    s->unsent_tail = sl;
    send_reads(s);
}

static enum floe_orch_start start(void *ctx, uint64_t index)
{
    struct singles *s = ctx;
    if (s->plan_ended)
        return FLOE_ORCH_END;
    if (!s->free || (s->o->adaptive && s->orch.in_flight >= floe_adapt_limit(&s->adapt)))
        return FLOE_ORCH_WAIT;
    struct floe_buf *b = floe_bufpool_try_acquire(s->pool);
    if (!b)
        return FLOE_ORCH_WAIT;
    struct floe_error e = {0};
    int n = floe_plan_next(s->plan, FLOE_PLAN_SMALL, &e);
    if (n <= 0) {
        floe_bufpool_release(s->pool, b);
        s->plan_ended = true;
        if (n < 0)
            floe_orch_fail(&s->orch, e.status, &e);
        return FLOE_ORCH_END;
    }
    struct slot *sl = s->free;
    s->free = sl->next_free;
    memset(&sl->it, 0, sizeof(sl->it));
    sl->it.index = index;
    copy_item(sl, &s->plan->cur);
    sl->buf = b;
    floe_orch_set_state(&s->orch, &sl->it, S_READING);
    floe_orch_enter(&s->orch);
    if (sl->item.size <= INLINE_READ_MAX)
        read_task(sl); /* its event is popped next, like a hashing thread's */
    else
        queue_read(s, sl);
    return FLOE_ORCH_STARTED;
}

static void release(void *ctx, void *item)
{
    struct singles *s = ctx;
    struct slot *sl = item;
    floe_bufpool_release(s->pool, sl->buf);
    sl->buf = NULL;
    floe_xfer_destroy(sl->xfer);
    sl->xfer = NULL;
    sl->next_free = s->free;
    s->free = sl;
}

static void send_archive(struct singles *s, struct slot *sl)
{
    floe_orch_set_state(&s->orch, &sl->it, S_SENDING);
    sl->it.attempts++;
    floe_transfer_submit(s->o->client->transfer, sl->xfer);
}

static void handle_read(struct singles *s, struct slot *sl)
{
    if (sl->skip) {
        s->st->skipped++;
        if (s->o->warn)
            s->o->warn(s->o->user, sl->item.path, sl->ev.err.message);
        floe_orch_set_state(&s->orch, &sl->it, S_DONE);
        floe_orch_leave(&s->orch, sl);
        return;
    }
    if (floe_orch_stopping(&s->orch)) {
        floe_orch_leave(&s->orch, sl);
        return;
    }
    s->o->describe(s->o->user, &sl->item, sl->description);
    struct floe_error e = {0};
    sl->xfer =
        floe_client_upload_archive_xfer(s->o->client, s->o->vault, sl->buf->data, sl->item.size,
                                        sl->tree, sl->linear, sl->description, &e);
    if (!sl->xfer) {
        floe_orch_fail_item(&s->orch, sl, e.status, &e);
        return;
    }
    sl->xfer->done = on_sent;
    sl->xfer->user = sl;
    send_archive(s, sl);
}

static void handle_sent(struct singles *s, struct slot *sl)
{
    struct floe_archive_result ar;
    struct floe_error e = {0};
    int rc = floe_client_upload_archive_answer(sl->xfer, sl->tree, sl->linear, &ar, &e);
    if (s->o->adaptive) /* a retried request (throttling, a reset, a 5xx) halves the limit */
        floe_adapt_done(&s->adapt, rc ? 0 : sl->item.size + 1, sl->xfer->attempts > 1,
                        floe_adapt_now_ns());
    if (rc == FLOE_E_CHECKSUM && floe_orch_may_retry(&s->orch, &sl->it, MAX_SENDS)) {
        s->st->resent++;
        send_archive(s, sl);
        return;
    }
    if (rc) {
        floe_error_append(&e, " (uploading %s)", sl->item.path);
        floe_orch_fail_item(&s->orch, sl, rc, &e);
        return;
    }
    struct floe_singles_done d = {
        .item = &sl->item, .archive = &ar, .description = sl->description, .xxh3 = sl->xxh3};
    if ((rc = s->o->record(s->o->user, &d, &e))) {
        floe_orch_fail_item(&s->orch, sl, rc, &e);
        return;
    }
    s->st->files++;
    s->st->bytes += sl->item.size;
    floe_orch_item_done(&s->orch, &sl->it, 0, sl->item.size, NULL);
    if (s->o->progress)
        s->o->progress(s->o->user, s->st->files, s->st->bytes, sl->item.path);
}

static void handle(void *ctx, struct floe_orch_event *ev)
{
    struct singles *s = ctx;
    switch ((enum ev_kind)ev->kind) {
    case EV_READ: handle_read(s, ev->obj); break;
    case EV_SENT: handle_sent(s, ev->obj); break;
    }
}

/* Each turn of the loop (after an event: a finished read left room in the pool's queue; also
 * after a failure, when start() is no longer asked). */
static void tick(void *ctx)
{
    send_reads(ctx);
}

static const struct floe_orch_ops s_ops = {
    .states = &s_states,
    .start = start,
    .handle = handle,
    .release = release,
    .tick = tick,
};

int floe_singles_run(struct floe_plan *plan, const struct floe_singles_options *opts,
                     struct floe_singles_stats *stats, struct floe_error *err)
{
    struct singles s = {.o = opts, .plan = plan, .st = stats};
    int rc = floe_client_hashpool(opts->client, &s.hashpool, err);
    if (rc)
        return rc;
    s.nslots = opts->concurrency ? opts->concurrency : 1;
    /* a buffer per request in flight, plus one per hashing thread reading the next files */
    unsigned nbuf = s.nslots + floe_hashpool_threads(s.hashpool);
    size_t bufsize = opts->max_size ? (size_t)opts->max_size : 1;
    /* small files touch the first pages of a buffer only: no huge pages, which the kernel
     * would zero whole (2 MiB) on the first touch */
    struct floe_bufpool_options bo = {
        .buf_size_bytes = bufsize, .count = nbuf, .no_hugepages = true};
    if ((rc = floe_bufpool_new(&bo, &s.pool, err)))
        return rc;
    s.nslots = nbuf; /* a slot for every buffer: the buffers are the bound */
    s.slots = floe_xcalloc(s.nslots, sizeof(*s.slots));
    for (unsigned i = 0; i < s.nslots; i++) {
        s.slots[i].s = &s;
        s.slots[i].next_free = s.free;
        s.free = &s.slots[i];
    }
    if (opts->adaptive)
        floe_adapt_init(&s.adapt, 16, opts->concurrency ? opts->concurrency : 1,
                        floe_adapt_now_ns());
    floe_orch_init(&s.orch, &s_ops, &s, opts->cancel);
    rc = floe_orch_run(&s.orch, err);
    floe_orch_cleanup(&s.orch);
    for (unsigned i = 0; i < s.nslots; i++) {
        floe_xfer_destroy(s.slots[i].xfer);
        free(s.slots[i].item.path);
    }
    free(s.slots);
    floe_bufpool_destroy(s.pool);
    return rc;
}
