/*
 * orch_load.c - see orch_load.h. The request type mirrors the shape of upload.c's: start()
 * admits an item when a slot is free, the stage hands it back through floe_orch_post(), and
 * handle() marks it done (no journal, no bytes moved), so what is timed is the core.
 */
#include "orch_load.h"

#include "orch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { ST_PLANNED, ST_WORKING, ST_DONE, ST_COUNT };
static const char *const s_names[ST_COUNT] = {"PLANNED", "WORKING", "DONE"};
static const bool s_legal[ST_COUNT][ST_COUNT] = {
    [ST_PLANNED] = {[ST_WORKING] = true},
    [ST_WORKING] = {[ST_DONE] = true},
};
static const struct floe_orch_states s_states = {
    .item_name = "item",
    .count = ST_COUNT,
    .names = s_names,
    .legal = &s_legal[0][0],
    .done = ST_DONE,
};

struct item {
    struct floe_orch_item it;
    struct floe_orch_event ev;
    struct item *next; /* worker queue link */
};

struct load {
    struct floe_orch orch;
    uint64_t items;
    unsigned slots;
    int threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *head, *tail; /* guarded by mu */
    int stop;                 /* guarded by mu */
};

static void *worker(void *arg)
{
    struct load *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->head && !l->stop)
            pthread_cond_wait(&l->cv, &l->mu);
        struct item *p = l->head;
        if (!p)
            break;
        l->head = p->next;
        if (!l->head)
            l->tail = NULL;
        pthread_mutex_unlock(&l->mu);
        p->ev.status = FLOE_OK;
        floe_orch_post(&l->orch, &p->ev, 0, p);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static enum floe_orch_start start(void *ctx, uint64_t index)
{
    struct load *l = ctx;
    if (index >= l->items)
        return FLOE_ORCH_END;
    if (l->orch.in_flight >= l->slots)
        return FLOE_ORCH_WAIT;
    struct item *p = floe_orch_item(&l->orch, index);
    floe_orch_set_state(&l->orch, &p->it, ST_WORKING);
    floe_orch_enter(&l->orch);
    if (!l->threaded) {
        p->ev.status = FLOE_OK;
        floe_orch_post(&l->orch, &p->ev, 0, p);
        return FLOE_ORCH_STARTED;
    }
    p->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->tail)
        l->tail->next = p;
    else
        l->head = p;
    l->tail = p;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return FLOE_ORCH_STARTED;
}

static void handle(void *ctx, struct floe_orch_event *ev)
{
    struct load *l = ctx;
    struct item *p = ev->obj;
    floe_orch_item_done(&l->orch, &p->it, 0, 0, NULL);
}

static const struct floe_orch_ops s_ops = {
    .states = &s_states,
    .item_size = sizeof(struct item),
    .start = start,
    .handle = handle,
};

uint64_t floe_bench_orch_run(uint64_t items, unsigned slots, int threaded)
{
    struct load *l = calloc(1, sizeof(*l));
    if (!l)
        return 0;
    l->items = items;
    l->slots = slots ? slots : 1;
    l->threaded = threaded;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    floe_orch_init(&l->orch, &s_ops, l, NULL);
    pthread_t th;
    if (threaded && pthread_create(&th, NULL, worker, l) != 0)
        threaded = l->threaded = 0;
    struct floe_error err = {0};
    int rc = floe_orch_run(&l->orch, &err);
    if (threaded) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(th, NULL);
    }
    uint64_t done = rc == FLOE_OK ? l->orch.items_done : 0;
    floe_orch_cleanup(&l->orch);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return done;
}
