/*
 * test_hashpool.c - the pool runs every task exactly once, applies backpressure, drains on
 * destroy, and its parallel leaves equal the serial ones. Run it under TSan too.
 */
#include "t_util.h"

#include "floe/hashpool.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int s_runs;
static atomic_int s_hits[1000];

static void count_task(void *arg)
{
    atomic_fetch_add(&s_hits[(intptr_t)arg], 1);
    atomic_fetch_add(&s_runs, 1);
}

static void test_hashpool_runs_every_task_once(void **state)
{
    (void)state;
    struct floe_hashpool *pool = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_hashpool_new(3, 2, &pool, &err), FLOE_OK);
    atomic_store(&s_runs, 0);
    for (int i = 0; i < 1000; i++) {
        atomic_store(&s_hits[i], 0);
        floe_hashpool_submit(pool, count_task, (void *)(intptr_t)i);
    }
    floe_hashpool_destroy(pool); /* drains */
    assert_int_equal(atomic_load(&s_runs), 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(atomic_load(&s_hits[i]), 1);
}

static atomic_int s_release;
static atomic_int s_started;

static void blocking_task(void *arg)
{
    (void)arg;
    atomic_fetch_add(&s_started, 1);
    while (!atomic_load(&s_release))
        usleep(1000);
}

static void test_hashpool_try_submit_reports_full(void **state)
{
    (void)state;
    struct floe_hashpool *pool = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_hashpool_new(1, 2, &pool, &err), FLOE_OK);
    atomic_store(&s_release, 0);
    atomic_store(&s_started, 0);
    floe_hashpool_submit(pool, blocking_task, NULL); /* occupies the worker */
    while (atomic_load(&s_started) == 0)
        usleep(1000);
    int queued = 0;
    for (int i = 0; i < 10; i++)
        if (floe_hashpool_try_submit(pool, blocking_task, NULL) == 0)
            queued++;
    assert_int_equal(queued, 2); /* the worker is busy; the queue holds exactly two */
    assert_int_equal(floe_hashpool_try_submit(pool, blocking_task, NULL), -1);
    atomic_store(&s_release, 1);
    floe_hashpool_destroy(pool);
    assert_int_equal(atomic_load(&s_started), 3); /* destroy ran the queued ones */
}

static void test_hashpool_leaves_equal_serial(void **state)
{
    (void)state;
    size_t n = 37 * ((size_t)1 << 20) + 999;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    t_fill_random(data, n);
    size_t nl = floe_treehash_leaf_count(n);
    uint8_t(*a)[32] = calloc(nl, 32), (*b)[32] = calloc(nl, 32);
    assert_non_null(a);
    assert_non_null(b);
    floe_treehash_leaves(data, n, a);
    struct floe_hashpool *pool = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_hashpool_new(0, 0, &pool, &err), FLOE_OK);
    assert_true(floe_hashpool_threads(pool) >= 1);
    floe_hashpool_leaves(pool, data, n, b);
    assert_memory_equal(a, b, nl * 32);
    uint8_t t1[32], t2[32];
    floe_treehash_part(data, n, NULL, t1, NULL);
    floe_hashpool_treehash(pool, data, n, t2);
    assert_memory_equal(t1, t2, 32);
    floe_hashpool_leaves(pool, data, 0, b); /* no-op */
    floe_hashpool_destroy(pool);
    floe_hashpool_destroy(NULL);
    free(a);
    free(b);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashpool_runs_every_task_once),
        cmocka_unit_test(test_hashpool_try_submit_reports_full),
        cmocka_unit_test(test_hashpool_leaves_equal_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
