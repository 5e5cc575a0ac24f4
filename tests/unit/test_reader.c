/*
 * test_reader.c - the reader returns exactly what pread() returns, for random offsets and
 * lengths, from many submitting threads, in io_uring mode and in the pread fallback; reads
 * pipes in order across short reads; stops at EOF; reports injected and real errors with the
 * path; calls every callback exactly once on cancel and destroy. Run it under TSan too.
 *
 * Every test runs once per mode (io_uring, sync). If io_uring cannot be set up here, the sync
 * half still runs and the program then exits 77 (skipped) saying why.
 */
#include "t_util.h"

#include "reader.h"

#include <liburing.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum floe_reader_mode s_modes[2] = {FLOE_READER_URING, FLOE_READER_SYNC};

static struct floe_reader *make(void **state, unsigned qd, size_t max_sqe, unsigned cap)
{
    struct floe_reader_options o = {.mode = *(enum floe_reader_mode *)*state,
                                    .queue_depth = qd,
                                    .max_sqe_bytes = max_sqe,
                                    .queue_cap = cap};
    struct floe_reader *rd = NULL;
    struct floe_error err = {0};
    int rc = floe_reader_new(&o, &rd, &err);
    if (rc)
        fail_msg("floe_reader_new: %s", err.message);
    assert_int_equal(floe_reader_mode(rd), o.mode);
    return rd;
}

/* Completion bookkeeping shared by a batch of requests. */
struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
};

struct rq {
    struct batch *b;
    uint64_t off;
    size_t len;
    uint8_t *dest;
    int status;
    int sys_errno;
    size_t bytes;
    atomic_int calls;
    char message[FLOE_ERROR_MSG_MAX];
};

static void batch_init(struct batch *b)
{
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->pending = 0;
}

static void batch_wait(struct batch *b)
{
    pthread_mutex_lock(&b->mu);
    while (b->pending > 0)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void rq_done(void *user, int status, size_t bytes_read, const struct floe_error *err)
{
    struct rq *q = user;
    q->status = status;
    q->bytes = bytes_read;
    if (err) {
        q->sys_errno = err->sys_errno;
        snprintf(q->message, sizeof(q->message), "%s", err->message);
    }
    atomic_fetch_add(&q->calls, 1);
    pthread_mutex_lock(&q->b->mu);
    q->b->pending--;
    pthread_cond_broadcast(&q->b->cv);
    pthread_mutex_unlock(&q->b->mu);
}

static void submit_rq(struct floe_reader *rd, struct rq *q, int fd, const char *path)
{
    pthread_mutex_lock(&q->b->mu);
    q->b->pending++;
    pthread_mutex_unlock(&q->b->mu);
    struct floe_read_req req = {.fd = fd,
                                .offset_bytes = q->off,
                                .length_bytes = q->len,
                                .dest = q->dest,
                                .path = path,
                                .done = rq_done,
                                .user = q};
    struct floe_error err = {0};
    int rc = floe_reader_submit(rd, &req, &err);
    if (rc)
        fail_msg("submit: %s", err.message);
}

static uint8_t *s_file;
static size_t s_file_len;
static char *s_path;

static int open_random_file(size_t len)
{
    free(s_file);
    free(s_path);
    s_file_len = len;
    s_file = malloc(len ? len : 1);
    assert_non_null(s_file);
    t_fill_random(s_file, len);
    s_path = t_write_temp("reader.bin", s_file, len);
    int fd = open(s_path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

/* What pread() would give: bytes available from off, capped at len. */
static size_t expect_len(uint64_t off, size_t len)
{
    if (off >= s_file_len)
        return 0;
    return s_file_len - off < len ? s_file_len - off : len;
}

static void check_rq(const struct rq *q)
{
    assert_int_equal(atomic_load(&q->calls), 1);
    if (q->status != FLOE_OK)
        fail_msg("read at %llu len %zu: %s", (unsigned long long)q->off, q->len, q->message);
    size_t want = expect_len(q->off, q->len);
    assert_int_equal(q->bytes, want);
    if (want)
        assert_memory_equal(q->dest, s_file + q->off, want);
}

static void random_reads(void **state, size_t file_mib, unsigned qd, size_t max_sqe, unsigned cap,
                         int n)
{
    int fd = open_random_file((file_mib << 20) + (size_t)t_rand_below(1 << 20));
    struct floe_reader *rd = make(state, qd, max_sqe, cap);
    struct batch b;
    batch_init(&b);
    struct rq *q = calloc((size_t)n, sizeof(*q));
    assert_non_null(q);
    for (int i = 0; i < n; i++) {
        q[i].b = &b;
        q[i].off = t_rand_below(s_file_len + 4096); /* some start past EOF */
        uint64_t kind = t_rand_below(4);
        q[i].len = kind == 0   ? (size_t)t_rand_below(4096) + 1
                   : kind == 1 ? (size_t)t_rand_below(1 << 20) + 1
                   : kind == 2 ? (size_t)t_rand_below(12 << 20) + 1 /* split into reads */
                               : 0;
        q[i].dest = malloc(q[i].len ? q[i].len : 1);
        submit_rq(rd, &q[i], fd, s_path);
    }
    batch_wait(&b);
    for (int i = 0; i < n; i++) {
        check_rq(&q[i]);
        free(q[i].dest);
    }
    struct floe_reader_stats st;
    floe_reader_stats(rd, &st);
    assert_int_equal(st.requests, (uint64_t)n);
    assert_int_equal(st.failures, 0);
    assert_true(st.reads >= 1);
    floe_reader_destroy(rd);
    free(q);
    close(fd);
}

static void test_reader_random_reads_match_pread(void **state)
{
    random_reads(state, 20, 0, 0, 0, 200); /* defaults: QD 16, 8 MiB reads, 64 queued */
}

static void test_reader_small_reads_and_depths_match_pread(void **state)
{
    /* Combinations of queue depth, split size and queue capacity (liburing-style loop). */
    static const unsigned qds[] = {1, 3, 32};
    static const size_t sqes[] = {4096, 65536 + 512, (size_t)1 << 20};
    static const unsigned caps[] = {1, 8};
    for (size_t a = 0; a < 3; a++)
        for (size_t c = 0; c < 3; c++)
            for (size_t d = 0; d < 2; d++)
                random_reads(state, 2, qds[a], sqes[c], caps[d], 24);
}

struct submitter {
    struct floe_reader *rd;
    int fd;
    struct rq q[150];
    struct batch b;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < 150; i++)
        submit_rq(s->rd, &s->q[i], s->fd, s_path);
    batch_wait(&s->b);
    return NULL;
}

static void test_reader_many_concurrent_submitters(void **state)
{
    int fd = open_random_file((size_t)8 << 20);
    struct floe_reader *rd = make(state, 8, 65536, 8); /* small queue: submitters block */
    enum { N = 4 };
    struct submitter *s = calloc(N, sizeof(*s));
    assert_non_null(s);
    uint64_t seeds[N][150][2]; /* drawn here: t_rand is not thread-safe */
    for (int t = 0; t < N; t++)
        for (int i = 0; i < 150; i++) {
            seeds[t][i][0] = t_rand_below(s_file_len);
            seeds[t][i][1] = t_rand_below(300000) + 1;
        }
    pthread_t th[N];
    for (int t = 0; t < N; t++) {
        s[t].rd = rd;
        s[t].fd = fd;
        batch_init(&s[t].b);
        for (int i = 0; i < 150; i++) {
            s[t].q[i].b = &s[t].b;
            s[t].q[i].off = seeds[t][i][0];
            s[t].q[i].len = (size_t)seeds[t][i][1];
            s[t].q[i].dest = malloc(s[t].q[i].len);
        }
    }
    for (int t = 0; t < N; t++)
        assert_int_equal(pthread_create(&th[t], NULL, submit_many, &s[t]), 0);
    for (int t = 0; t < N; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < N; t++)
        for (int i = 0; i < 150; i++) {
            check_rq(&s[t].q[i]);
            free(s[t].q[i].dest);
        }
    floe_reader_destroy(rd);
    free(s);
    close(fd);
}

struct pipe_writer {
    int fd;
    const uint8_t *data;
    size_t len;
};

static void *write_slowly(void *arg)
{
    struct pipe_writer *w = arg;
    size_t off = 0, step = 1;
    while (off < w->len) {
        size_t n = step < w->len - off ? step : w->len - off;
        ssize_t k = write(w->fd, w->data + off, n);
        if (k < 0 && errno == EAGAIN) {
            usleep(100);
            continue;
        }
        if (k <= 0)
            break;
        off += (size_t)k;
        step = step * 7 % 70001 + 1; /* 1, 8, 57, ... irregular pieces */
        if (off % 5 == 0)
            usleep(200);
    }
    close(w->fd);
    return NULL;
}

static void pipe_reads(void **state, bool nonblocking)
{
    size_t len = 3 * 100000 + 12345;
    uint8_t *data = malloc(len);
    t_fill_random(data, len);
    int p[2];
    assert_int_equal(pipe(p), 0);
    if (nonblocking)
        fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    struct floe_reader *rd = make(state, 4, 32768, 16);
    struct batch b;
    batch_init(&b);
    enum { NREQ = 5 };
    struct rq q[NREQ] = {0};
    uint8_t *out = calloc(1, (size_t)NREQ * 100000);
    for (int i = 0; i < NREQ; i++) {
        q[i].b = &b;
        q[i].off = 999999; /* ignored for streams */
        q[i].len = 100000;
        q[i].dest = out + (size_t)i * 100000;
        submit_rq(rd, &q[i], p[0], "(pipe)");
    }
    struct pipe_writer w = {.fd = p[1], .data = data, .len = len};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_slowly, &w), 0);
    batch_wait(&b);
    pthread_join(t, NULL);
    size_t total = 0;
    for (int i = 0; i < NREQ; i++) {
        assert_int_equal(atomic_load(&q[i].calls), 1);
        if (q[i].status)
            fail_msg("pipe read %d: %s", i, q[i].message);
        size_t want = len - total < 100000 ? len - total : 100000;
        assert_int_equal(q[i].bytes, want); /* in order; the 4th is cut short by EOF */
        total += q[i].bytes;
    }
    assert_int_equal(total, len);
    assert_memory_equal(out, data, len);
    struct floe_reader_stats st;
    floe_reader_stats(rd, &st);
    assert_true(st.reads > NREQ); /* short reads were continued */
    floe_reader_destroy(rd);
    close(p[0]);
    free(out);
    free(data);
}

static void test_reader_pipe_reads_in_order_across_short_reads(void **state)
{
    pipe_reads(state, false);
}

static void test_reader_nonblocking_pipe_waits_for_data(void **state)
{
    pipe_reads(state, true);
}

static void test_reader_eof_returns_bytes_read(void **state)
{
    int fd = open_random_file(1000);
    struct floe_reader *rd = make(state, 4, 256, 0);
    uint8_t buf[4096];
    size_t got = 12345;
    struct floe_error err = {0};
    assert_int_equal(floe_reader_read(rd, fd, 500, buf, 1000, s_path, &got, &err), FLOE_OK);
    assert_int_equal(got, 500);
    assert_memory_equal(buf, s_file + 500, 500);
    assert_int_equal(floe_reader_read(rd, fd, 0, buf, 4096, s_path, &got, &err), FLOE_OK);
    assert_int_equal(got, 1000); /* 16 reads of 256, most past EOF */
    assert_memory_equal(buf, s_file, 1000);
    assert_int_equal(floe_reader_read(rd, fd, 1000, buf, 10, s_path, &got, &err), FLOE_OK);
    assert_int_equal(got, 0);
    assert_int_equal(floe_reader_read(rd, fd, 1 << 30, buf, 10, s_path, &got, &err), FLOE_OK);
    assert_int_equal(got, 0);
    assert_int_equal(floe_reader_read(rd, fd, 3, buf, 0, s_path, &got, &err), FLOE_OK);
    assert_int_equal(got, 0);
    floe_reader_destroy(rd);
    close(fd);
}

static void test_reader_fault_hook_fails_the_nth_read(void **state)
{
    int fd = open_random_file(1 << 20);
    struct floe_reader *rd = make(state, 0, 65536, 0);
    uint8_t *buf = malloc(1 << 20);
    floe_reader_set_fault(rd, 2, EIO);
    for (int i = 0; i < 5; i++) {
        size_t got = 0;
        struct floe_error err = {0};
        int rc = floe_reader_read(rd, fd, 4096, buf, 300000, s_path, &got, &err);
        if (i == 2) {
            assert_int_equal(rc, FLOE_E_IO);
            assert_int_equal(err.sys_errno, EIO);
            assert_string_equal(err.path, s_path);
            assert_non_null(strstr(err.message, s_path));
            assert_non_null(strstr(err.message, "request of 300000 bytes at offset 4096"));
            assert_non_null(strstr(err.message, "Input/output error"));
            assert_int_equal(got, 0); /* out-param untouched on failure */
        } else {
            assert_int_equal(rc, FLOE_OK);
            assert_int_equal(got, 300000);
            assert_memory_equal(buf, s_file + 4096, 300000);
        }
    }
    struct floe_reader_stats st;
    floe_reader_stats(rd, &st);
    assert_int_equal(st.failures, 1);
    floe_reader_destroy(rd);
    free(buf);
    close(fd);
}

static void test_reader_real_error_names_the_path(void **state)
{
    int dfd = open(t_temp_dir(), O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    struct floe_reader *rd = make(state, 0, 0, 0);
    uint8_t buf[64];
    size_t got = 0;
    struct floe_error err = {0};
    assert_int_equal(floe_reader_read(rd, dfd, 0, buf, 64, t_temp_dir(), &got, &err), FLOE_E_IO);
    assert_int_equal(err.sys_errno, EISDIR);
    assert_string_equal(err.path, t_temp_dir());
    assert_non_null(strstr(err.message, "Is a directory"));
    /* Without a path the message names the fd. */
    assert_int_equal(floe_reader_read(rd, dfd, 0, buf, 64, NULL, &got, &err), FLOE_E_IO);
    char want[32];
    snprintf(want, sizeof(want), "read of fd %d failed", dfd);
    assert_non_null(strstr(err.message, want));
    floe_reader_destroy(rd);
    close(dfd);
}

static void test_reader_cancel_calls_every_callback_once(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    int fd = open_random_file(1 << 20);
    struct floe_reader *rd = make(state, 2, 4096, 32);
    struct batch b;
    batch_init(&b);
    enum { NREQ = 12 };
    struct rq q[NREQ] = {0};
    static uint8_t bufs[NREQ][65536];
    for (int i = 0; i < NREQ; i++) {
        q[i].b = &b;
        q[i].len = 65536;
        q[i].off = (uint64_t)i * 65536;
        q[i].dest = bufs[i];
        /* Half wait on a pipe that never gets data; they can only end by cancel. */
        submit_rq(rd, &q[i], i % 2 ? p[0] : fd, i % 2 ? "(pipe)" : s_path);
    }
    usleep(20000);
    floe_reader_cancel(rd);
    batch_wait(&b);
    int cancelled = 0;
    for (int i = 0; i < NREQ; i++) {
        assert_int_equal(atomic_load(&q[i].calls), 1);
        if (q[i].status == FLOE_OK) {
            assert_true(i % 2 == 0); /* only file reads can finish */
            check_rq(&q[i]);
        } else {
            assert_int_equal(q[i].status, FLOE_E_IO);
            assert_int_equal(q[i].sys_errno, ECANCELED);
            cancelled++;
        }
    }
    assert_true(cancelled >= NREQ / 2);
    struct floe_read_req req = {.fd = fd, .length_bytes = 1, .dest = bufs[0], .done = rq_done};
    struct floe_error err = {0};
    assert_int_equal(floe_reader_submit(rd, &req, &err), FLOE_E_IO);
    assert_int_equal(err.sys_errno, ECANCELED);
    floe_reader_cancel(rd);
    floe_reader_destroy(rd);
    close(p[0]);
    close(p[1]);
    close(fd);
}

static void test_reader_destroy_drains_accepted_requests(void **state)
{
    int fd = open_random_file((size_t)4 << 20);
    struct floe_reader *rd = make(state, 4, 65536, 64);
    struct batch b;
    batch_init(&b);
    enum { NREQ = 64 };
    struct rq *q = calloc(NREQ, sizeof(*q));
    for (int i = 0; i < NREQ; i++) {
        q[i].b = &b;
        q[i].off = t_rand_below(s_file_len);
        q[i].len = 65536;
        q[i].dest = malloc(65536);
        submit_rq(rd, &q[i], fd, s_path);
    }
    floe_reader_destroy(rd); /* returns only when every callback has run */
    for (int i = 0; i < NREQ; i++) {
        check_rq(&q[i]);
        free(q[i].dest);
    }
    free(q);
    close(fd);
}

static void test_reader_try_submit_reports_full(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct floe_reader *rd = make(state, 2, 0, 2);
    struct batch b;
    batch_init(&b);
    struct rq q[2] = {0};
    uint8_t buf[2][16];
    struct floe_error err = {0};
    for (int i = 0; i < 2; i++) {
        q[i].b = &b;
        q[i].len = 16;
        q[i].dest = buf[i];
        pthread_mutex_lock(&b.mu);
        b.pending++;
        pthread_mutex_unlock(&b.mu);
        struct floe_read_req req = {
            .fd = p[0], .length_bytes = 16, .dest = buf[i], .done = rq_done, .user = &q[i]};
        assert_int_equal(floe_reader_try_submit(rd, &req, &err), FLOE_OK);
    }
    struct floe_read_req req = {.fd = p[0], .length_bytes = 16, .dest = buf[0], .done = rq_done};
    assert_int_equal(floe_reader_try_submit(rd, &req, &err), -1);
    assert_int_equal(write(p[1], "0123456789abcdefFEDCBA9876543210", 32), 32);
    batch_wait(&b);
    assert_memory_equal(buf[0], "0123456789abcdef", 16);
    assert_memory_equal(buf[1], "FEDCBA9876543210", 16);
    floe_reader_destroy(rd);
    close(p[0]);
    close(p[1]);
}

static void test_reader_rejects_bad_requests(void **state)
{
    struct floe_reader *rd = make(state, 0, 0, 0);
    uint8_t buf[4];
    struct floe_error err = {0};
    struct floe_read_req req = {.fd = -1, .length_bytes = 4, .dest = buf, .done = rq_done};
    assert_int_equal(floe_reader_submit(rd, &req, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "read request with fd -1");
    req.fd = 0;
    req.done = NULL;
    assert_int_equal(floe_reader_submit(rd, &req, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "read request without a done callback");
    req.done = rq_done;
    req.dest = NULL;
    assert_int_equal(floe_reader_submit(rd, &req, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "read request of 4 bytes without a destination");
    req.dest = buf;
    req.offset_bytes = UINT64_MAX - 1;
    assert_int_equal(floe_reader_submit(rd, &req, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "overflows a file offset"));
    floe_reader_destroy(rd);
}

/* Mode selection: options, the FLOE_READER variable, and the names. Mode-independent. */
static void test_reader_mode_selection(void **state)
{
    (void)state;
    assert_string_equal(floe_reader_mode_name(FLOE_READER_AUTO), "auto");
    assert_string_equal(floe_reader_mode_name(FLOE_READER_URING), "io_uring");
    assert_string_equal(floe_reader_mode_name(FLOE_READER_SYNC), "sync");
    assert_string_equal(floe_reader_mode_name(FLOE_READER_MODE_COUNT), "unknown");
    struct floe_reader *rd = NULL;
    struct floe_error err = {0};
    setenv("FLOE_READER", "sync", 1);
    assert_int_equal(floe_reader_new(NULL, &rd, &err), FLOE_OK);
    assert_int_equal(floe_reader_mode(rd), FLOE_READER_SYNC);
    floe_reader_destroy(rd);
    rd = NULL;
    setenv("FLOE_READER", "bogus", 1);
    assert_int_equal(floe_reader_new(NULL, &rd, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "FLOE_READER=bogus: expected \"uring\" or \"sync\"");
    assert_null(rd);
    unsetenv("FLOE_READER");
    assert_int_equal(floe_reader_new(NULL, &rd, &err), FLOE_OK); /* auto: uring or fallback */
    assert_true(floe_reader_mode(rd) == FLOE_READER_URING ||
                floe_reader_mode(rd) == FLOE_READER_SYNC);
    floe_reader_destroy(rd);
    rd = NULL;
    struct floe_reader_options o = {.queue_depth = 100000};
    assert_int_equal(floe_reader_new(&o, &rd, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "reader queue depth 100000 is over 4096");
    o = (struct floe_reader_options){.max_sqe_bytes = (size_t)2 << 30};
    assert_int_equal(floe_reader_new(&o, &rd, &err), FLOE_E_INVALID_ARG);
    o = (struct floe_reader_options){.mode = 7};
    assert_int_equal(floe_reader_new(&o, &rd, &err), FLOE_E_INVALID_ARG);
    assert_null(rd);
}

#define MODE_TESTS(mode_ptr)                                                                       \
    cmocka_unit_test_prestate(test_reader_random_reads_match_pread, mode_ptr),                     \
        cmocka_unit_test_prestate(test_reader_small_reads_and_depths_match_pread, mode_ptr),       \
        cmocka_unit_test_prestate(test_reader_many_concurrent_submitters, mode_ptr),               \
        cmocka_unit_test_prestate(test_reader_pipe_reads_in_order_across_short_reads, mode_ptr),   \
        cmocka_unit_test_prestate(test_reader_nonblocking_pipe_waits_for_data, mode_ptr),          \
        cmocka_unit_test_prestate(test_reader_eof_returns_bytes_read, mode_ptr),                   \
        cmocka_unit_test_prestate(test_reader_fault_hook_fails_the_nth_read, mode_ptr),            \
        cmocka_unit_test_prestate(test_reader_real_error_names_the_path, mode_ptr),                \
        cmocka_unit_test_prestate(test_reader_cancel_calls_every_callback_once, mode_ptr),         \
        cmocka_unit_test_prestate(test_reader_destroy_drains_accepted_requests, mode_ptr),         \
        cmocka_unit_test_prestate(test_reader_try_submit_reports_full, mode_ptr),                  \
        cmocka_unit_test_prestate(test_reader_rejects_bad_requests, mode_ptr)

int main(void)
{
    unsetenv("FLOE_READER");
    struct io_uring ring;
    int ur = io_uring_queue_init(8, &ring, 0);
    if (ur == 0)
        io_uring_queue_exit(&ring);
    const struct CMUnitTest uring_tests[] = {MODE_TESTS(&s_modes[0])};
    const struct CMUnitTest sync_tests[] = {
        MODE_TESTS(&s_modes[1]),
        cmocka_unit_test(test_reader_mode_selection),
    };
    int failed = 0;
    if (ur == 0)
        failed += cmocka_run_group_tests_name("reader io_uring", uring_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("reader sync (pread fallback)", sync_tests, NULL, NULL);
    free(s_file);
    free(s_path);
    t_cleanup_temp();
    if (failed)
        return 1;
    if (ur != 0) {
        fprintf(stderr,
                "SKIP: io_uring_queue_init failed (%s): only the pread fallback was tested\n",
                strerror(-ur));
        return 77;
    }
    return 0;
}
