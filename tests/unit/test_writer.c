/*
 * test_writer.c - the io_uring writer stage: writes at offsets in any order, standard-output
 * style streams in order, both modes (io_uring, sync), disk full (/dev/full -> ENOSPC) and the
 * file size limit (RLIMIT_FSIZE -> EFBIG) reported with path and offset, and O_DIRECT writes
 * that fall back to a buffered fd when the direct write is refused (EINVAL).
 */
#include "t_util.h"

#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct counter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, failed;
    struct floe_error last;
};

static void on_done(void *user, int status, const struct floe_error *err)
{
    struct counter *c = user;
    pthread_mutex_lock(&c->mu);
    c->done++;
    if (status) {
        c->failed++;
        c->last = *err;
    }
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int new_writer(enum floe_writer_mode mode, struct floe_writer **w)
{
    struct floe_error err = {0};
    int rc = floe_writer_new(mode, 4, w, &err);
    if (rc == FLOE_E_UNSUPPORTED)
        return rc;
    assert_int_equal(rc, FLOE_OK);
    return rc;
}

static void write_out_of_order(enum floe_writer_mode mode)
{
    struct floe_writer *w = NULL;
    if (new_writer(mode, &w) != FLOE_OK) {
        print_message("io_uring unavailable here; mode skipped\n");
        return;
    }
    size_t seg = 256 * 1024, n = 24;
    uint8_t *data = malloc(seg * n);
    t_fill_random(data, seg * n);
    char *path = t_write_temp("out.bin", "", 0);
    int fd = open(path, O_RDWR);
    struct counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}};
    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 7) % n; /* a permutation: offsets arrive out of order */
        struct floe_write_req rq = {.fd = fd,
                                    .offset_bytes = i * seg,
                                    .src = data + i * seg,
                                    .length_bytes = seg,
                                    .path = path,
                                    .done = on_done,
                                    .user = &c};
        struct floe_error err = {0};
        assert_int_equal(floe_writer_submit(w, &rq, &err), FLOE_OK);
    }
    floe_writer_destroy(w); /* drains */
    assert_int_equal(c.done, (int)n);
    assert_int_equal(c.failed, 0);
    uint8_t *back = malloc(seg * n);
    assert_int_equal(pread(fd, back, seg * n, 0), (ssize_t)(seg * n));
    assert_memory_equal(back, data, seg * n);
    close(fd);
    free(back);
    free(data);
    free(path);
}

static void test_writer_offsets_uring(void **state)
{
    (void)state;
    write_out_of_order(FLOE_WRITER_URING);
}

static void test_writer_offsets_sync(void **state)
{
    (void)state;
    write_out_of_order(FLOE_WRITER_SYNC);
}

static void test_writer_stream_in_order(void **state)
{
    (void)state;
    struct floe_writer *w = NULL;
    new_writer(FLOE_WRITER_AUTO, &w);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}};
    char chunks[10][8];
    for (int i = 0; i < 10; i++) {
        snprintf(chunks[i], sizeof(chunks[i]), "<%05d>", i);
        struct floe_write_req rq = {.fd = p[1],
                                    .offset_bytes = 999,
                                    .src = chunks[i],
                                    .length_bytes = 7,
                                    .path = "pipe",
                                    .done = on_done,
                                    .user = &c};
        struct floe_error err = {0};
        assert_int_equal(floe_writer_submit(w, &rq, &err), FLOE_OK);
    }
    floe_writer_destroy(w);
    close(p[1]);
    char buf[128] = {0};
    ssize_t got = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    assert_int_equal(got, 70);
    assert_string_equal(buf, "<00000><00001><00002><00003><00004><00005><00006><00007><00008>"
                             "<00009>");
}

/* A slow reader on a non-blocking pipe (stdout may inherit O_NONBLOCK): the writer waits for
 * room instead of spinning on EAGAIN, and every byte arrives in order. */
struct slow_reader {
    int fd;
    uint8_t *got;
    size_t len, n;
};

static void *read_slowly(void *arg)
{
    struct slow_reader *r = arg;
    for (;;) {
        usleep(20000);
        ssize_t k = read(r->fd, r->got + r->n, r->len - r->n < 65536 ? r->len - r->n : 65536);
        if (k <= 0)
            break;
        r->n += (size_t)k;
    }
    return NULL;
}

static void writer_waits_on_full_pipe(enum floe_writer_mode mode)
{
    struct floe_writer *w = NULL;
    if (new_writer(mode, &w) != FLOE_OK)
        return;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK), 0);
    size_t len = 1 << 20;
    uint8_t *data = malloc(len);
    t_fill_random(data, len);
    struct slow_reader r = {p[0], malloc(len), len, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_slowly, &r), 0);
    struct rusage r0, r1;
    struct timespec t0, t1;
    getrusage(RUSAGE_SELF, &r0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct floe_error err = {0};
    assert_int_equal(floe_writer_write(w, p[1], 0, data, len, "pipe", &err), FLOE_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &r1);
    close(p[1]);
    pthread_join(t, NULL);
    close(p[0]);
    floe_writer_destroy(w);
    assert_int_equal(r.n, len);
    assert_memory_equal(r.got, data, len);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                          r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                          r0.ru_stime.tv_usec) /
                     1e6;
    /* the reader needs ~0.3 s to drain 1 MiB; a spinning writer burns a whole core meanwhile */
    print_message("%s: %.2f s wall, %.2f s CPU\n", floe_writer_mode_name(mode), wall, cpu);
    assert_true(cpu < 0.5 * wall);
    free(data);
    free(r.got);
}

static void test_writer_waits_on_full_nonblocking_pipe(void **state)
{
    (void)state;
    writer_waits_on_full_pipe(FLOE_WRITER_SYNC);
    writer_waits_on_full_pipe(FLOE_WRITER_URING);
}

static void test_writer_disk_full_is_enospc(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        skip();
    for (int mode = FLOE_WRITER_URING; mode <= FLOE_WRITER_SYNC; mode++) {
        struct floe_writer *w = NULL;
        if (new_writer((enum floe_writer_mode)mode, &w) != FLOE_OK)
            continue;
        char buf[4096] = {1};
        struct floe_error err = {0};
        int rc = floe_writer_write(w, fd, 8192, buf, sizeof(buf), "/dev/full", &err);
        assert_int_equal(rc, FLOE_E_IO);
        assert_int_equal(err.sys_errno, ENOSPC);
        assert_non_null(strstr(err.message, "disk full writing /dev/full at offset 8192"));
        assert_string_equal(err.path, "/dev/full");
        floe_writer_destroy(w);
    }
    close(fd);
}

static void test_writer_file_size_limit_is_efbig(void **state)
{
    (void)state;
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    for (int mode = FLOE_WRITER_URING; mode <= FLOE_WRITER_SYNC; mode++) {
        struct floe_writer *w = NULL;
        if (new_writer((enum floe_writer_mode)mode, &w) != FLOE_OK)
            continue;
        char *path = t_write_temp("limited.bin", "", 0);
        int fd = open(path, O_RDWR);
        struct rlimit lim = {65536, old.rlim_max};
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        static char buf[256 * 1024];
        struct floe_error err = {0};
        int rc = floe_writer_write(w, fd, 0, buf, sizeof(buf), path, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        /* either the first write stops short at the limit and the retry fails, or it fails */
        assert_int_equal(rc, FLOE_E_IO);
        assert_int_equal(err.sys_errno, EFBIG);
        assert_non_null(strstr(err.message, "cannot grow past offset 65536"));
        close(fd);
        free(path);
        floe_writer_destroy(w);
    }
}

/* Aligned requests go to the O_DIRECT fd; misaligned ones finish on the fallback fd, or fail
 * with EINVAL when there is none. Both modes. */
static void test_writer_direct_io_falls_back(void **state)
{
    (void)state;
    const size_t blk = 4096, n = 16 * blk;
    uint8_t *data = aligned_alloc(blk, n + blk);
    t_fill_random(data, n + blk);
    for (int mode = FLOE_WRITER_URING; mode <= FLOE_WRITER_SYNC; mode++) {
        struct floe_writer *w = NULL;
        if (new_writer((enum floe_writer_mode)mode, &w) != FLOE_OK)
            continue;
        char *path = t_write_temp("direct.bin", "", 0);
        int fd = open(path, O_RDWR);
        int dfd = open(path, O_WRONLY | O_DIRECT);
        if (dfd < 0) {
            print_message("O_DIRECT unsupported on the temp directory; test skipped\n");
            close(fd);
            free(path);
            floe_writer_destroy(w);
            break;
        }
        struct counter c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}};
        struct floe_error err = {0};
        /* aligned: two halves, direct */
        for (size_t k = 0; k < 2; k++) {
            struct floe_write_req rq = {.fd = dfd,
                                        .offset_bytes = k * n / 2,
                                        .src = data + k * n / 2,
                                        .length_bytes = n / 2,
                                        .path = path,
                                        .done = on_done,
                                        .user = &c,
                                        .has_fallback = true,
                                        .fallback_fd = fd};
            assert_int_equal(floe_writer_submit(w, &rq, &err), FLOE_OK);
        }
        /* misaligned source, offset and length: refused by O_DIRECT, written buffered */
        struct floe_write_req odd = {.fd = dfd,
                                     .offset_bytes = n + 100,
                                     .src = data + 1,
                                     .length_bytes = 1000,
                                     .path = path,
                                     .done = on_done,
                                     .user = &c,
                                     .has_fallback = true,
                                     .fallback_fd = fd};
        assert_int_equal(floe_writer_submit(w, &odd, &err), FLOE_OK);
        floe_writer_destroy(w); /* drains */
        assert_int_equal(c.done, 3);
        assert_int_equal(c.failed, 0);
        uint8_t *back = malloc(n + 1100);
        assert_int_equal(pread(fd, back, n + 1100, 0), (ssize_t)(n + 1100));
        assert_memory_equal(back, data, n);
        assert_memory_equal(back + n + 100, data + 1, 1000);
        /* without a fallback the refusal is the request's failure */
        assert_int_equal(new_writer((enum floe_writer_mode)mode, &w), FLOE_OK);
        int rc = floe_writer_write(w, dfd, 100, data + 1, 1000, path, &err);
        assert_int_equal(rc, FLOE_E_IO);
        assert_int_equal(err.sys_errno, EINVAL);
        floe_writer_destroy(w);
        free(back);
        close(dfd);
        close(fd);
        free(path);
    }
    free(data);
}

static void test_writer_rejects_bad_requests(void **state)
{
    (void)state;
    struct floe_writer *w = NULL;
    new_writer(FLOE_WRITER_AUTO, &w);
    struct floe_write_req rq = {.fd = 1, .length_bytes = 10};
    struct floe_error err = {0};
    assert_int_equal(floe_writer_submit(w, &rq, &err), FLOE_E_INVALID_ARG);
    assert_non_null(floe_writer_mode_name(floe_writer_mode(w)));
    floe_writer_destroy(w);
    floe_writer_destroy(NULL);
}

int main(void)
{
    t_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_offsets_uring),
        cmocka_unit_test(test_writer_offsets_sync),
        cmocka_unit_test(test_writer_stream_in_order),
        cmocka_unit_test(test_writer_waits_on_full_nonblocking_pipe),
        cmocka_unit_test(test_writer_disk_full_is_enospc),
        cmocka_unit_test(test_writer_file_size_limit_is_efbig),
        cmocka_unit_test(test_writer_direct_io_falls_back),
        cmocka_unit_test(test_writer_rejects_bad_requests),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
