/*
 * writer.c - the file writer stage: one thread, one io_uring, writes at offsets for requests
 * submitted by any thread; a pwrite()/write() loop on the same thread when io_uring is missing.
 *
 * DESIGN
 * Submitters append copies of their requests to a mutex-guarded FIFO and signal a condition
 * variable; submit never blocks (the caller's buffer pool bounds what can be queued). The
 * writer thread takes requests while fewer than queue_depth writes are in flight:
 *   - stream fds (pipes, ttys) and SYNC mode are served at once with a blocking write loop,
 *     in FIFO order, so standard output receives requests in the order they were submitted;
 *   - seekable fds in URING mode become one write SQE each (at most 1 GiB per SQE: a longer
 *     request continues like a short write).
 * With writes in flight the thread waits for a completion for at most 2 ms, then looks at the
 * FIFO again, so new work is never held up by a slow write for long. A completion that wrote
 * fewer bytes than asked is resubmitted from where it stopped; -EINTR/-EAGAIN are resubmitted;
 * EINVAL on a request that has a fallback fd (O_DIRECT refused: misaligned, or a file system
 * without direct I/O) continues it on the fallback fd, in either mode;
 * any other error completes the request with FLOE_E_IO, errno, path and offset. Every request
 * completes exactly once, on this thread. Destroy drains the FIFO and the ring before joining.
 */
#include "writer.h"

#include "alloc.h"
#include "latch.h"

#include <errno.h>
#include <poll.h>
#include <inttypes.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SQE_BYTES ((size_t)1 << 30)

static const char *const s_mode_names[FLOE_WRITER_MODE_COUNT] = {"auto", "io_uring", "sync"};

struct wreq {
    struct floe_write_req req;
    size_t done_bytes;
    bool stream;
    bool fell_back; /* now writing to req.fallback_fd */
    struct wreq *next;
};

struct floe_writer {
    enum floe_writer_mode mode; /* set at create, then read-only */
    unsigned qd;                /* set at create, then read-only */
    struct io_uring ring;       /* writer thread only */
    unsigned inflight;          /* writer thread only */
    struct wreq *retry_head;    /* writer thread only: to resubmit */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        struct wreq *head, *tail;
        bool stopping;
    } locked; /* guarded by mu */
};

const char *floe_writer_mode_name(enum floe_writer_mode mode)
{
    return (unsigned)mode < FLOE_WRITER_MODE_COUNT ? s_mode_names[mode] : "unknown";
}

enum floe_writer_mode floe_writer_mode(const struct floe_writer *w)
{
    return w->mode;
}

static void complete(struct wreq *r, int sys_errno)
{
    if (sys_errno == 0) {
        r->req.done(r->req.user, FLOE_OK, NULL);
    } else {
        struct floe_error e = {0};
        const char *p = r->req.path ? r->req.path : "output";
        uint64_t at = r->req.offset_bytes + r->done_bytes;
        if (sys_errno == ENOSPC || sys_errno == EDQUOT)
            floe_error_set_errno(&e, FLOE_E_IO, sys_errno, r->req.path,
                                 "disk full writing %s at offset %" PRIu64, p, at);
        else if (sys_errno == EFBIG)
            floe_error_set_errno(&e, FLOE_E_IO, sys_errno, r->req.path,
                                 "%s cannot grow past offset %" PRIu64
                                 " (file size limit or file system maximum)",
                                 p, at);
        else
            floe_error_set_errno(&e, FLOE_E_IO, sys_errno, r->req.path,
                                 "cannot write %s at offset %" PRIu64, p, at);
        r->req.done(r->req.user, FLOE_E_IO, &e);
    }
    free(r);
}

/* EINVAL from an fd with a fallback: continue the request on the fallback fd. */
static bool try_fallback(struct wreq *r, int sys_errno)
{
    if (sys_errno != EINVAL || !r->req.has_fallback || r->fell_back)
        return false;
    r->req.fd = r->req.fallback_fd;
    r->fell_back = true;
    return true;
}

/* Blocking write of what is left of r; completes it. */
static void serve_sync(struct wreq *r)
{
    const uint8_t *src = r->req.src;
    while (r->done_bytes < r->req.length_bytes) {
        size_t n = r->req.length_bytes - r->done_bytes;
        ssize_t k = r->stream ? write(r->req.fd, src + r->done_bytes, n)
                              : pwrite(r->req.fd, src + r->done_bytes, n,
                                       (off_t)(r->req.offset_bytes + r->done_bytes));
        if (k < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) { /* a non-blocking pipe is full: wait for room */
                struct pollfd pfd = {.fd = r->req.fd, .events = POLLOUT};
                poll(&pfd, 1, 1000);
                continue;
            }
            if (e == EINTR || try_fallback(r, e))
                continue;
            complete(r, e);
            return;
        }
        if (k == 0) {
            complete(r, EIO);
            return;
        }
        r->done_bytes += (size_t)k;
    }
    complete(r, 0);
}

static void queue_sqe(struct floe_writer *w, struct wreq *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    size_t n = r->req.length_bytes - r->done_bytes;
    if (n > MAX_SQE_BYTES)
        n = MAX_SQE_BYTES;
    io_uring_prep_write(sqe, r->req.fd, (const uint8_t *)r->req.src + r->done_bytes, (unsigned)n,
                        r->req.offset_bytes + r->done_bytes);
    io_uring_sqe_set_data(sqe, r);
    w->inflight++;
}

static void on_cqe(struct floe_writer *w, struct wreq *r, int res)
{
    w->inflight--;
    if (res < 0) {
        if (res == -EINTR || res == -EAGAIN || try_fallback(r, -res)) {
            r->next = w->retry_head;
            w->retry_head = r;
            return;
        }
        complete(r, -res);
        return;
    }
    if (res == 0) {
        complete(r, EIO);
        return;
    }
    r->done_bytes += (size_t)res;
    if (r->done_bytes < r->req.length_bytes) {
        r->next = w->retry_head;
        w->retry_head = r;
        return;
    }
    complete(r, 0);
}

static void *writer_main(void *arg)
{
    struct floe_writer *w = arg;
    for (;;) {
        /* resubmit short writes first */
        while (w->retry_head) {
            struct wreq *r = w->retry_head;
            w->retry_head = r->next;
            queue_sqe(w, r);
        }
        pthread_mutex_lock(&w->mu);
        while (!w->locked.head && w->inflight == 0 && !w->locked.stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->locked.head && w->inflight == 0 && w->locked.stopping) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        struct wreq *take = NULL, **tail = &take;
        unsigned room = w->qd > w->inflight ? w->qd - w->inflight : 0;
        while (w->locked.head && room) {
            struct wreq *r = w->locked.head;
            w->locked.head = r->next;
            if (!w->locked.head)
                w->locked.tail = NULL;
            r->next = NULL;
            *tail = r;
            tail = &r->next;
            room--;
        }
        pthread_mutex_unlock(&w->mu);
        while (take) {
            struct wreq *r = take;
            take = r->next;
            if (r->req.length_bytes == 0)
                complete(r, 0);
            else if (r->stream || w->mode == FLOE_WRITER_SYNC)
                serve_sync(r);
            else
                queue_sqe(w, r);
        }
        if (w->inflight == 0)
            continue;
        io_uring_submit(&w->ring);
        struct io_uring_cqe *cqe = NULL;
        struct __kernel_timespec ts = {0, 2 * 1000 * 1000};
        int rc = io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
        if (rc < 0 && rc != -ETIME && rc != -EINTR) {
            fprintf(stderr, "floe: writer: io_uring_wait_cqe: %s\n", strerror(-rc));
            continue;
        }
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            seen++;
            if (cqe->user_data == LIBURING_UDATA_TIMEOUT)
                continue; /* the wait's own timeout on kernels without EXT_ARG */
            on_cqe(w, io_uring_cqe_get_data(cqe), cqe->res);
        }
        io_uring_cq_advance(&w->ring, seen);
    }
    return NULL;
}

int floe_writer_new(enum floe_writer_mode mode, unsigned queue_depth, struct floe_writer **out,
                    struct floe_error *err)
{
    struct floe_writer *w = floe_xcalloc(1, sizeof(*w));
    int rc = FLOE_OK;
    bool ring = false, mu = false;
    w->qd = queue_depth ? queue_depth : 8;
    if (mode == FLOE_WRITER_AUTO) {
        const char *env = getenv("FLOE_WRITER");
        mode = env && strcmp(env, "sync") == 0 ? FLOE_WRITER_SYNC : FLOE_WRITER_AUTO;
    }
    if (mode != FLOE_WRITER_SYNC) {
        int ur = io_uring_queue_init(2 * w->qd + 2, &w->ring, 0);
        if (ur == 0) {
            ring = true;
            mode = FLOE_WRITER_URING;
        } else if (mode == FLOE_WRITER_URING) {
            rc = floe_error_set_errno(err, FLOE_E_UNSUPPORTED, -ur, NULL,
                                      "io_uring is unavailable (io_uring_queue_init)");
            goto out;
        } else {
            mode = FLOE_WRITER_SYNC;
        }
    }
    w->mode = mode;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    mu = true;
    int e = pthread_create(&w->thread, NULL, writer_main, w);
    if (e != 0) {
        rc = floe_error_set_errno(err, FLOE_E_NOMEM, e, NULL, "cannot start the writer thread");
        goto out;
    }
    *out = w;
    w = NULL;
out:
    if (w) {
        if (ring)
            io_uring_queue_exit(&w->ring);
        if (mu) {
            pthread_cond_destroy(&w->cv);
            pthread_mutex_destroy(&w->mu);
        }
        free(w);
    }
    return rc;
}

static bool is_stream(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false;
    return !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
}

int floe_writer_submit(struct floe_writer *w, const struct floe_write_req *req,
                       struct floe_error *err)
{
    if (!req->done || (!req->src && req->length_bytes))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "write request without done or source");
    struct wreq *r = floe_xcalloc(1, sizeof(*r));
    r->req = *req;
    r->stream = req->sequential || is_stream(req->fd);
    pthread_mutex_lock(&w->mu);
    if (w->locked.stopping) {
        pthread_mutex_unlock(&w->mu);
        free(r);
        return floe_error_set(err, FLOE_E_INVALID_ARG, "the writer is shutting down");
    }
    if (w->locked.tail)
        w->locked.tail->next = r;
    else
        w->locked.head = r;
    w->locked.tail = r;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return FLOE_OK;
}

struct sync_wait {
    struct floe_latch done;
    int status; /* written before the count-down, read after the wait */
    struct floe_error err;
};

static void sync_done(void *user, int status, const struct floe_error *err)
{
    struct sync_wait *sw = user;
    sw->status = status;
    if (err)
        sw->err = *err;
    floe_latch_count_down(&sw->done);
}

int floe_writer_write(struct floe_writer *w, int fd, uint64_t offset_bytes, const void *src,
                      size_t length_bytes, const char *path, struct floe_error *err)
{
    struct sync_wait sw = {.status = FLOE_OK};
    floe_latch_init(&sw.done, 1);
    struct floe_write_req rq = {
        .fd = fd,
        .offset_bytes = offset_bytes,
        .src = src,
        .length_bytes = length_bytes,
        .path = path,
        .done = sync_done,
        .user = &sw,
    };
    int rc = floe_writer_submit(w, &rq, err);
    if (rc == FLOE_OK) {
        floe_latch_wait(&sw.done);
        rc = sw.status;
        if (rc && err)
            *err = sw.err;
    }
    floe_latch_destroy(&sw.done);
    return rc;
}

void floe_writer_destroy(struct floe_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->locked.stopping = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (w->mode == FLOE_WRITER_URING)
        io_uring_queue_exit(&w->ring);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
