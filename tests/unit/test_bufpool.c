/*
 * test_bufpool.c - the buffer pool hands each buffer to one holder at a time, blocks and wakes
 * acquirers, wakes them with an error on cancel, times out, and refuses memory it may not use
 * with a message naming the limit. Run it under TSan too.
 */
#include "t_util.h"

#include "bufpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct floe_bufpool *make(size_t size, unsigned count)
{
    struct floe_bufpool_options o = {.buf_size_bytes = size, .count = count};
    struct floe_bufpool *pool = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_bufpool_new(&o, &pool, &err), FLOE_OK);
    return pool;
}

static void test_bufpool_hands_out_each_buffer_once(void **state)
{
    (void)state;
    struct floe_bufpool *pool = make((size_t)3 << 20, 4); /* >= 2 MiB: huge-page aligned */
    struct floe_buf *b[4];
    struct floe_error err = {0};
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(floe_bufpool_acquire(pool, &b[i], &err), FLOE_OK);
        assert_int_equal(b[i]->cap, (size_t)3 << 20);
        assert_int_equal(b[i]->len, 0);
        assert_int_equal((uintptr_t)b[i]->data % (uintptr_t)page, 0);
        assert_int_equal((uintptr_t)b[i]->data % ((uintptr_t)2 << 20), 0);
        memset(b[i]->data, i + 1, b[i]->cap); /* every byte writable, no overlap (checked below) */
        b[i]->len = 7;
        b[i]->user = &b[i];
        for (int k = 0; k < i; k++)
            assert_ptr_not_equal(b[i], b[k]);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(b[i]->data[b[i]->cap - 1], i + 1);
    assert_null(floe_bufpool_try_acquire(pool));
    struct floe_bufpool_stats st;
    floe_bufpool_stats(pool, &st);
    assert_int_equal(st.count, 4);
    assert_int_equal(st.free, 0);
    assert_int_equal(st.peak_in_use, 4);
    assert_int_equal(st.acquires, 4);
    floe_bufpool_release(pool, b[2]);
    struct floe_buf *again = floe_bufpool_try_acquire(pool);
    assert_ptr_equal(again, b[2]); /* LIFO: the warmest buffer comes back first */
    assert_int_equal(again->len, 0);
    assert_null(again->user);
    for (int i = 0; i < 4; i++)
        floe_bufpool_release(pool, b[i]);
    floe_bufpool_release(pool, NULL);
    floe_bufpool_stats(pool, &st);
    assert_int_equal(st.free, 4);
    floe_bufpool_destroy(pool);
    floe_bufpool_destroy(NULL);
}

static void test_bufpool_small_buffers_are_page_aligned(void **state)
{
    (void)state;
    struct floe_bufpool_options o = {
        .buf_size_bytes = 5000, .count = 3, .prefault = true, .no_hugepages = true};
    struct floe_bufpool *pool = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_bufpool_new(&o, &pool, &err), FLOE_OK);
    long page = sysconf(_SC_PAGESIZE);
    struct floe_buf *b[3];
    for (int i = 0; i < 3; i++) {
        b[i] = floe_bufpool_try_acquire(pool);
        assert_non_null(b[i]);
        assert_int_equal((uintptr_t)b[i]->data % (uintptr_t)page, 0);
        assert_int_equal(b[i]->cap, 5000);
        assert_int_equal(b[i]->data[0], 0); /* prefault keeps the pages zero */
        memset(b[i]->data, 0xab, b[i]->cap);
    }
    for (int i = 0; i < 3; i++)
        floe_bufpool_release(pool, b[i]);
    floe_bufpool_destroy(pool);
}

static void test_bufpool_rejects_bad_options(void **state)
{
    (void)state;
    struct floe_bufpool *pool = NULL;
    struct floe_error err = {0};
    struct floe_bufpool_options o = {.buf_size_bytes = 0, .count = 1};
    assert_int_equal(floe_bufpool_new(&o, &pool, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "buffer size must be at least 1 byte");
    o.buf_size_bytes = 4096;
    o.count = 0;
    assert_int_equal(floe_bufpool_new(&o, &pool, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "buffer count must be at least 1");
    o.buf_size_bytes = ((size_t)4 << 30) + 1;
    o.count = 1;
    assert_int_equal(floe_bufpool_new(&o, &pool, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "is over 4 GiB"));
    assert_int_equal(floe_bufpool_new(NULL, &pool, &err), FLOE_E_INVALID_ARG);
    assert_null(pool); /* out-params untouched on failure */
}

static void test_bufpool_names_the_memory_limit(void **state)
{
    (void)state;
    struct floe_bufpool *pool = NULL;
    struct floe_error err = {0};
    struct floe_bufpool_options o = {
        .buf_size_bytes = (size_t)64 << 20, .count = 4, .memory_limit_bytes = (uint64_t)128 << 20};
    assert_int_equal(floe_bufpool_new(&o, &pool, &err), FLOE_E_NOMEM);
    assert_string_equal(
        err.message, "cannot allocate 4 buffers of 64 MiB (256 MiB) within --memory-limit 128 MiB");
    assert_null(pool);

    /* A real mmap failure: 100,000 buffers of 4 GiB is more address space than exists. */
    struct floe_bufpool_options big = {.buf_size_bytes = (size_t)4 << 30, .count = 100000};
    memset(&err, 0, sizeof(err));
    assert_int_equal(floe_bufpool_new(&big, &pool, &err), FLOE_E_NOMEM);
    assert_non_null(strstr(err.message, "cannot allocate 100000 buffers of 4 GiB (390.6 TiB"));
    assert_non_null(strstr(err.message, "within --memory-limit unlimited (mmap failed)"));
    assert_int_equal(err.sys_errno, ENOMEM);
    assert_null(pool);
}

struct waiter {
    struct floe_bufpool *pool;
    atomic_int started;
    atomic_int tid;
    int rc;
    int sys_errno;
    struct floe_buf *buf;
};

static void *wait_one(void *arg)
{
    struct waiter *w = arg;
    struct floe_error err = {0};
    atomic_store(&w->tid, (int)gettid());
    atomic_store(&w->started, 1);
    w->rc = floe_bufpool_acquire(w->pool, &w->buf, &err);
    w->sys_errno = err.sys_errno;
    return NULL;
}

/* Until the waiter thread sleeps (in acquire's wait: it does nothing else that sleeps), or 30 s.
 * A fixed 20 ms let a waiter that was not scheduled in time take the released buffer without
 * waiting (waits 0) on a loaded machine. */
static void until_asleep(struct waiter *w)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", atomic_load(&w->tid));
    for (int i = 0; i < 30000; i++) {
        char line[512] = "";
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(line, 1, sizeof(line) - 1, f);
        fclose(f);
        line[n] = 0;
        const char *end = strrchr(line, ')'); /* the state follows "(comm)" */
        if (end && end[1] == ' ' && end[2] == 'S')
            return;
        usleep(1000);
    }
    fail_msg("the waiter thread never blocked");
}

static void test_bufpool_acquire_waits_for_release(void **state)
{
    (void)state;
    struct floe_bufpool *pool = make(4096, 1);
    struct floe_buf *held = floe_bufpool_try_acquire(pool);
    assert_non_null(held);
    struct waiter w = {.pool = pool};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_one, &w), 0);
    while (!atomic_load(&w.started))
        usleep(1000);
    until_asleep(&w); /* blocked in acquire */
    floe_bufpool_release(pool, held);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, FLOE_OK);
    assert_ptr_equal(w.buf, held);
    struct floe_bufpool_stats st;
    floe_bufpool_stats(pool, &st);
    assert_int_equal(st.waits, 1);
    floe_bufpool_release(pool, w.buf);
    floe_bufpool_destroy(pool);
}

static void test_bufpool_cancel_wakes_waiters(void **state)
{
    (void)state;
    struct floe_bufpool *pool = make(4096, 1);
    struct floe_buf *held = floe_bufpool_try_acquire(pool);
    struct waiter w[3] = {{.pool = pool}, {.pool = pool}, {.pool = pool}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, wait_one, &w[i]), 0);
    for (int i = 0; i < 3; i++)
        while (!atomic_load(&w[i].started))
            usleep(1000);
    usleep(20000);
    floe_bufpool_cancel(pool);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, FLOE_E_IO);
        assert_int_equal(w[i].sys_errno, ECANCELED);
        assert_null(w[i].buf);
    }
    /* Later acquires fail at once; releases still work. */
    struct floe_error err = {0};
    struct floe_buf *b = NULL;
    floe_bufpool_release(pool, held);
    assert_int_equal(floe_bufpool_acquire(pool, &b, &err), FLOE_E_IO);
    assert_string_equal(err.message,
                        "no buffer: the buffer pool was cancelled: Operation canceled");
    assert_null(b);
    assert_null(floe_bufpool_try_acquire(pool));
    floe_bufpool_cancel(pool); /* idempotent */
    floe_bufpool_destroy(pool);
}

static void test_bufpool_acquire_timed_times_out(void **state)
{
    (void)state;
    struct floe_bufpool *pool = make(4096, 2);
    struct floe_buf *a = NULL, *b = NULL, *c = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_bufpool_acquire_timed(pool, 0, &a, &err), FLOE_OK);
    assert_int_equal(floe_bufpool_acquire_timed(pool, 50, &b, &err), FLOE_OK);
    assert_int_equal(floe_bufpool_acquire_timed(pool, 0, &c, &err), FLOE_E_TIMEOUT);
    assert_string_equal(err.message, "no buffer became free within 0 ms (all 2 in use)");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(floe_bufpool_acquire_timed(pool, 30, &c, &err), FLOE_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 25);
    assert_null(c);
    floe_bufpool_release(pool, a);
    floe_bufpool_release(pool, b);
    floe_bufpool_destroy(pool);
}

#define STRESS_THREADS 6
#define STRESS_ITERS 2000

struct stress {
    struct floe_bufpool *pool;
    atomic_int owner[4];
    atomic_int errors;
    unsigned id;
};

static struct stress s_stress;

static void *stress_thread(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    struct floe_error err = {0};
    for (int i = 0; i < STRESS_ITERS; i++) {
        struct floe_buf *b = NULL;
        if (i % 3 == 0) {
            b = floe_bufpool_try_acquire(s_stress.pool);
            if (!b)
                continue;
        } else if (floe_bufpool_acquire(s_stress.pool, &b, &err) != FLOE_OK) {
            atomic_fetch_add(&s_stress.errors, 1);
            continue;
        }
        int expected = 0;
        if (!atomic_compare_exchange_strong(&s_stress.owner[b->index], &expected, (int)id + 1))
            atomic_fetch_add(&s_stress.errors, 1); /* two holders at once */
        memset(b->data, (int)id, 256);
        b->len = 256;
        for (int k = 0; k < 256; k++)
            if (b->data[k] != (uint8_t)id)
                atomic_fetch_add(&s_stress.errors, 1);
        atomic_store(&s_stress.owner[b->index], 0);
        floe_bufpool_release(s_stress.pool, b);
    }
    return NULL;
}

static void test_bufpool_many_threads_never_share_a_buffer(void **state)
{
    (void)state;
    memset(&s_stress, 0, sizeof(s_stress));
    s_stress.pool = make(8192, 4);
    pthread_t t[STRESS_THREADS];
    for (unsigned i = 0; i < STRESS_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, stress_thread, (void *)(uintptr_t)i), 0);
    for (unsigned i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&s_stress.errors), 0);
    struct floe_bufpool_stats st;
    floe_bufpool_stats(s_stress.pool, &st);
    assert_int_equal(st.free, 4);
    assert_true(st.peak_in_use <= 4);
    assert_true(st.acquires > 0);
    floe_bufpool_destroy(s_stress.pool);
}

/* fifo: buffers come back in the order they were released (a ring); the default hands out the
 * one released last. */
static void test_bufpool_fifo_and_lifo_order(void **state)
{
    (void)state;
    for (int fifo = 0; fifo < 2; fifo++) {
        struct floe_bufpool_options o = {.buf_size_bytes = 4096, .count = 4, .fifo = fifo};
        struct floe_bufpool *pool = NULL;
        struct floe_error err = {0};
        assert_int_equal(floe_bufpool_new(&o, &pool, &err), FLOE_OK);
        struct floe_buf *b[4];
        for (int i = 0; i < 4; i++)
            assert_int_equal(floe_bufpool_acquire(pool, &b[i], &err), FLOE_OK);
        assert_null(floe_bufpool_try_acquire(pool));
        unsigned order[4] = {2, 0, 3, 1}; /* release order */
        for (int i = 0; i < 4; i++)
            floe_bufpool_release(pool, b[order[i]]);
        for (int i = 0; i < 4; i++) {
            struct floe_buf *got = floe_bufpool_try_acquire(pool);
            assert_non_null(got);
            unsigned want = fifo ? b[order[i]]->index : b[order[3 - i]]->index;
            assert_int_equal(got->index, want);
        }
        /* and again after the list ran empty (the tail must have been reset) */
        for (int i = 0; i < 4; i++)
            floe_bufpool_release(pool, b[order[i]]);
        struct floe_buf *first = floe_bufpool_try_acquire(pool);
        assert_int_equal(first->index, fifo ? b[order[0]]->index : b[order[3]]->index);
        floe_bufpool_release(pool, first);
        floe_bufpool_destroy(pool);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bufpool_hands_out_each_buffer_once),
        cmocka_unit_test(test_bufpool_small_buffers_are_page_aligned),
        cmocka_unit_test(test_bufpool_rejects_bad_options),
        cmocka_unit_test(test_bufpool_names_the_memory_limit),
        cmocka_unit_test(test_bufpool_acquire_waits_for_release),
        cmocka_unit_test(test_bufpool_cancel_wakes_waiters),
        cmocka_unit_test(test_bufpool_acquire_timed_times_out),
        cmocka_unit_test(test_bufpool_many_threads_never_share_a_buffer),
        cmocka_unit_test(test_bufpool_fifo_and_lifo_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
