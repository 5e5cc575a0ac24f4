/*
 * test_orch.c - the transfer core with a synthetic request type whose one stage is a worker
 * thread: every item runs through start -> stage -> done exactly once, admission bounds what
 * is in flight, the first failure wins and drains everything in flight, cancel stops with
 * "interrupted", a start() that can never be satisfied fails instead of hanging, retries are
 * bounded, done items are journaled (and replayable), and an illegal state transition aborts.
 * Run it under TSan too.
 */
#include "t_util.h"

#include "checkpoint.h"
#include "floe/checkpoint.h"
#include "orch.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ST_PLANNED, ST_WORKING, ST_DONE, ST_COUNT };
static const char *const s_names[ST_COUNT] = {"PLANNED", "WORKING", "DONE"};
static const bool s_legal[ST_COUNT][ST_COUNT] = {
    [ST_PLANNED] = {[ST_WORKING] = true},
    [ST_WORKING] = {[ST_WORKING] = true, [ST_DONE] = true},
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
    bool holding; /* admitted: holds one of the request's slots */
    unsigned works;
};

/* The request: n items, at most `slots` in flight; item fail_at fails in the stage;
 * item flaky fails its first `flaky_times` attempts with a retryable status. */
struct req {
    struct floe_orch orch;
    uint64_t n;
    unsigned slots, used, peak;
    uint64_t fail_at; /* UINT64_MAX: none */
    uint64_t flaky;
    unsigned flaky_times, max_attempts;
    unsigned started, progress_calls, released, freed;
    bool never_admit;    /* start() always says WAIT */
    unsigned later_each; /* start() says LATER this many times before admitting each item */
    unsigned later_left, laters;
    /* the stage: a worker thread serving a queue of items */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item **q;
    size_t qn, qcap;
    bool stop;
};

static void *stage(void *arg)
{
    struct req *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->qn && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (!r->qn)
            break;
        struct item *p = r->q[0];
        memmove(r->q, r->q + 1, --r->qn * sizeof(*r->q));
        pthread_mutex_unlock(&r->mu);
        p->works++;
        p->ev.status = FLOE_OK;
        if (p->it.index == r->fail_at) {
            p->ev.status = floe_error_set(&p->ev.err, FLOE_E_IO, "item %llu broke",
                                          (unsigned long long)p->it.index);
        } else if (p->it.index == r->flaky && p->works <= r->flaky_times) {
            p->ev.status = floe_error_set(&p->ev.err, FLOE_E_CHECKSUM, "flaky");
        }
        floe_orch_post(&r->orch, &p->ev, 0, p);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void submit(struct req *r, struct item *p)
{
    p->it.attempts++;
    pthread_mutex_lock(&r->mu);
    if (r->qn == r->qcap) {
        r->qcap = r->qcap ? 2 * r->qcap : 16;
        r->q = realloc(r->q, r->qcap * sizeof(*r->q));
        assert_non_null(r->q);
    }
    r->q[r->qn++] = p;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static enum floe_orch_start start(void *ctx, uint64_t index)
{
    struct req *r = ctx;
    if (index >= r->n)
        return FLOE_ORCH_END;
    if (r->never_admit || r->used >= r->slots)
        return FLOE_ORCH_WAIT;
    if (r->later_left) { /* a rate limit: not now, soon */
        r->later_left--;
        r->laters++;
        floe_orch_later(&r->orch, 1);
        return FLOE_ORCH_LATER;
    }
    r->later_left = r->later_each;
    struct item *p = floe_orch_item(&r->orch, index);
    assert_int_equal(p->it.index, index);
    floe_orch_set_state(&r->orch, &p->it, ST_WORKING);
    p->holding = true;
    if (++r->used > r->peak)
        r->peak = r->used;
    r->started++;
    floe_orch_enter(&r->orch);
    submit(r, p);
    return FLOE_ORCH_STARTED;
}

static void handle(void *ctx, struct floe_orch_event *ev)
{
    struct req *r = ctx;
    struct item *p = ev->obj;
    if (ev->status == FLOE_E_CHECKSUM && floe_orch_may_retry(&r->orch, &p->it, r->max_attempts)) {
        floe_orch_set_state(&r->orch, &p->it, ST_WORKING);
        submit(r, p);
        return;
    }
    if (ev->status) {
        floe_orch_fail_item(&r->orch, p, ev->status, &ev->err);
        return;
    }
    uint8_t tree[FLOE_CKPT_HASH_BYTES];
    memset(tree, (int)(p->it.index & 0xff), sizeof(tree));
    floe_orch_item_done(&r->orch, &p->it, p->it.index * 100, 100, tree);
}

static void release(void *ctx, void *item)
{
    struct req *r = ctx;
    struct item *p = item;
    assert_true(p->holding);
    p->holding = false;
    r->used--;
    r->released++;
}

static void item_free(void *ctx, void *item)
{
    ((struct req *)ctx)->freed++;
    (void)item;
}

static void progress(void *ctx)
{
    ((struct req *)ctx)->progress_calls++;
}

static const struct floe_orch_ops s_ops = {
    .states = &s_states,
    .item_size = sizeof(struct item),
    .start = start,
    .handle = handle,
    .release = release,
    .item_free = item_free,
    .progress = progress,
};

static void req_init(struct req *r, uint64_t n, unsigned slots, const atomic_bool *cancel)
{
    memset(r, 0, sizeof(*r));
    r->n = n;
    r->slots = slots;
    r->fail_at = UINT64_MAX;
    r->flaky = UINT64_MAX;
    r->max_attempts = 1;
    floe_orch_init(&r->orch, &s_ops, r, cancel);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    assert_int_equal(pthread_create(&r->th, NULL, stage, r), 0);
}

static void req_end(struct req *r)
{
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->th, NULL);
    assert_int_equal(r->orch.in_flight, 0);
    assert_int_equal(r->used, 0); /* every admitted item gave its slot back */
    floe_orch_cleanup(&r->orch);
    free(r->q);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

static void test_orch_runs_every_item_once_within_its_slots(void **state)
{
    (void)state;
    struct req r;
    req_init(&r, 5000, 7, NULL);
    struct floe_error err = {0};
    assert_int_equal(floe_orch_run(&r.orch, &err), FLOE_OK);
    assert_int_equal(r.orch.items_done, 5000);
    assert_int_equal(r.orch.bytes_done, 5000 * 100);
    assert_int_equal(r.started, 5000);
    assert_int_equal(r.progress_calls, 5000);
    assert_int_equal(r.released, 5000);
    assert_true(r.peak <= 7);
    assert_true(r.peak >= 1);
    for (uint64_t i = 0; i < 5000; i++) {
        struct item *p = floe_orch_item_if(&r.orch, i);
        assert_non_null(p);
        assert_int_equal(p->it.state, ST_DONE);
        assert_int_equal(p->works, 1);
    }
    assert_null(floe_orch_item_if(&r.orch, 1u << 20));
    req_end(&r);
    assert_int_equal(r.freed, 5000);
}

static void test_orch_first_failure_wins_and_drains(void **state)
{
    (void)state;
    struct req r;
    req_init(&r, 1000, 8, NULL);
    r.fail_at = 40;
    struct floe_error err = {0};
    assert_int_equal(floe_orch_run(&r.orch, &err), FLOE_E_IO);
    assert_int_equal(err.status, FLOE_E_IO);
    assert_string_equal(err.message, "item 40 broke");
    /* nothing started after the failure was seen: at most the slots beyond item 40 */
    assert_true(r.started <= 40 + 1 + 8);
    assert_true(r.orch.items_done < r.started);
    req_end(&r);
}

static void test_orch_cancel_says_interrupted(void **state)
{
    (void)state;
    atomic_bool cancel = true;
    struct req r;
    req_init(&r, 100, 4, &cancel);
    struct floe_error err = {0};
    assert_int_equal(floe_orch_run(&r.orch, &err), FLOE_E_CANCELLED);
    assert_string_equal(err.message, "interrupted");
    assert_int_equal(r.started, 0); /* the flag was up before anything started */
    req_end(&r);
}

static void test_orch_wait_with_nothing_in_flight_fails(void **state)
{
    (void)state;
    struct req r;
    req_init(&r, 3, 4, NULL);
    r.never_admit = true;
    struct floe_error err = {0};
    int rc = floe_orch_run(&r.orch, &err); /* returns: never hangs */
    assert_int_not_equal(rc, FLOE_OK);
    assert_non_null(strstr(err.message, "internal error: item 0 cannot start"));
    req_end(&r);
}

/* LATER with nothing in flight waits for time, not for an event: no internal error, no hang. */
static void test_orch_later_waits_for_time(void **state)
{
    (void)state;
    struct req r;
    req_init(&r, 20, 1, NULL);
    r.later_each = 2;
    r.later_left = 2;
    struct floe_error err = {0};
    assert_int_equal(floe_orch_run(&r.orch, &err), FLOE_OK);
    assert_int_equal(r.orch.items_done, 20);
    assert_true(r.laters >= 2 * 20); /* asked again after each pause */
    req_end(&r);
}

static void test_orch_retries_are_bounded(void **state)
{
    (void)state;
    struct req r;
    req_init(&r, 10, 2, NULL);
    r.flaky = 3;
    r.flaky_times = 2;
    r.max_attempts = 3; /* two failures, then success */
    struct floe_error err = {0};
    assert_int_equal(floe_orch_run(&r.orch, &err), FLOE_OK);
    assert_int_equal(((struct item *)floe_orch_item_if(&r.orch, 3))->works, 3);
    req_end(&r);

    req_init(&r, 10, 2, NULL);
    r.flaky = 3;
    r.flaky_times = 5;
    r.max_attempts = 3; /* still failing after three attempts: the request fails */
    assert_int_equal(floe_orch_run(&r.orch, &err), FLOE_E_CHECKSUM);
    assert_string_equal(err.message, "flaky");
    assert_int_equal(((struct item *)floe_orch_item_if(&r.orch, 3))->works, 3);
    req_end(&r);
}

static void test_orch_journals_done_items(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/orch.ckpt", t_temp_dir());
    struct floe_ckpt_header h = {
        .kind = FLOE_CKPT_UPLOAD, .part_size_bytes = 1u << 20, .total_size_bytes = 12345};
    snprintf(h.endpoint, sizeof(h.endpoint), "http://127.0.0.1:1");
    snprintf(h.vault, sizeof(h.vault), "v");
    snprintf(h.account_id, sizeof(h.account_id), "-");
    struct floe_journal_options jo = {.no_sync = true};
    struct floe_journal *j = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_journal_create(path, &h, &jo, &j, &err), FLOE_OK);
    struct req r;
    req_init(&r, 64, 5, NULL);
    r.orch.journal = j;
    assert_int_equal(floe_orch_run(&r.orch, &err), FLOE_OK);
    req_end(&r);
    floe_journal_destroy(j);
    struct floe_ckpt_state *st = NULL;
    assert_int_equal(floe_checkpoint_load(path, &st, &err), FLOE_OK);
    assert_int_equal(st->part_count, 64);
    for (uint64_t i = 0; i < 64; i++) {
        const struct floe_ckpt_part *p = floe_checkpoint_find_part(st, i);
        assert_non_null(p);
        assert_int_equal(p->offset_bytes, i * 100);
        assert_int_equal(p->length_bytes, 100);
        assert_int_equal(p->tree_hash[0], (uint8_t)i);
    }
    floe_checkpoint_state_free(st);
    unlink(path);
}

/* A transition the table forbids is a bug: the process aborts naming it. */
static void test_orch_illegal_transition_aborts(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        struct floe_orch o;
        floe_orch_init(&o, &s_ops, NULL, NULL);
        struct item *p = floe_orch_item(&o, 9);
        floe_orch_set_state(&o, &p->it, ST_DONE); /* PLANNED -> DONE: not in the table */
        _exit(0);
    }
    close(pipefd[1]);
    char buf[256] = {0};
    ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "internal error: item 9 PLANNED -> DONE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orch_runs_every_item_once_within_its_slots),
        cmocka_unit_test(test_orch_first_failure_wins_and_drains),
        cmocka_unit_test(test_orch_cancel_says_interrupted),
        cmocka_unit_test(test_orch_wait_with_nothing_in_flight_fails),
        cmocka_unit_test(test_orch_later_waits_for_time),
        cmocka_unit_test(test_orch_retries_are_bounded),
        cmocka_unit_test(test_orch_journals_done_items),
        cmocka_unit_test(test_orch_illegal_transition_aborts),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
