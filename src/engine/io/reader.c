/*
 * reader.c - the file reader stage: one thread, one io_uring, a fixed number of reads in flight
 * for requests submitted by any thread; a pread()/read() loop on the same thread when io_uring
 * is unavailable.
 *
 * DESIGN
 * Requests. floe_reader_submit() copies a request into one of queue_cap preallocated nodes and
 * appends it to the `submitted` list under the mutex; with every node in use it waits on
 * `not_full` (backpressure, no allocation per request). The reader thread moves submitted
 * nodes to lists only it touches: `pos_wait` (seekable fds, FIFO) and `stream_wait` (pipes,
 * stdin, sockets, ttys: FIFO). After a request's callback has been called its node goes back to
 * the free list (the node is freed just before the callback runs, so a callback's try_submit
 * can reuse it).
 *
 * Reads in flight (io_uring mode). At most queue_depth `chunks` exist; each is one read SQE
 * (or one POLL_ADD, see EAGAIN below) covering at most max_sqe_bytes of one request. The thread
 * fills free chunks from the request at the head of `pos_active` (requests with bytes not yet
 * handed to a chunk), taking the next request from `pos_wait` when it is fully handed out, so
 * a 64 MiB request becomes 8 reads of 8 MiB in flight together and the next request starts as
 * soon as a chunk frees up. A stream request is started only when no earlier request on the
 * same fd is unfinished, and has one chunk at a time reading at the fd's position (offset -1):
 * that is what keeps bytes of a pipe in submission order.
 *
 * Completions. A short read advances the chunk and resubmits it. -EAGAIN (an O_NONBLOCK pipe
 * with no data) becomes a POLL_ADD(POLLIN) on the fd, then the read again; -EAGAIN on a
 * seekable fd and -EINTR just resubmit. A 0 return is end of file: for a seekable request the
 * request's byte count becomes the lowest offset at which any chunk met EOF, and no further
 * chunks are issued; for a stream it ends the request. Any other error marks the request
 * failed (first error wins), stops new chunks for it, and the request completes when its last
 * chunk comes back. Liburing's -errno is turned into errno here and nowhere else.
 *
 * Waking the thread. An eventfd read is kept armed in the ring (user_data WAKE_TAG). Before
 * sleeping in io_uring_submit_and_wait() the thread sets locked.sleeping under the mutex; a
 * submitter that finds it set clears it and writes the eventfd after unlocking. One write per
 * sleep, none while the thread is busy. In sync mode the thread sleeps on `work` instead, and
 * the eventfd only serves to interrupt a poll() on a stream that has no data (cancel).
 *
 * Cancel and shutdown. floe_reader_cancel() sets locked.cancelled and wakes the thread, which
 * completes every request not yet started with ECANCELED, stops issuing chunks, and sends an
 * ASYNC_CANCEL for every chunk in flight (a read of a regular file usually finishes anyway, and
 * a request whose bytes all arrived completes with FLOE_OK). floe_reader_destroy() sets
 * locked.stopping; the thread exits once every accepted request has had its callback, then
 * destroy joins it. Every accepted request gets exactly one callback whatever happens.
 *
 * Fault injection. floe_reader_set_fault() arms a countdown checked when the thread takes
 * requests off `submitted` (in submission order); the chosen request's first completed read
 * is replaced by -errno, so the real error path runs.
 */
#include "reader.h"

#include "alloc.h"

#include <liburing.h>

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAKE_TAG 1ull   /* user_data of the armed eventfd read */
#define CANCEL_TAG 2ull /* user_data of ASYNC_CANCEL SQEs; their CQEs are ignored */
#define MAX_SQE_LIMIT ((size_t)1 << 30)
#define MAX_QUEUE_DEPTH 4096u

static const char *const s_mode_names[] = {"auto", "io_uring", "sync"};
static_assert(sizeof(s_mode_names) / sizeof(s_mode_names[0]) == FLOE_READER_MODE_COUNT,
              "reader mode name table out of sync");

struct rreq {
    struct floe_read_req req;
    struct rreq *next; /* link in exactly one list: free, submitted, or one thread-local list */
    /* below: reader thread only */
    bool stream;
    bool failed;
    bool cancelled;
    int inject_errno;    /* fail the first completed read with this (fault hook) */
    int err_errno;       /* first error */
    uint64_t err_offset; /* where it happened */
    size_t next_off;     /* bytes handed out to chunks so far */
    size_t done_bytes;   /* bytes read so far */
    size_t eof_at;       /* SIZE_MAX, or the lowest request offset where EOF was met */
    unsigned inflight;   /* chunks in flight */
};

struct chunk {
    struct rreq *r;
    size_t off; /* within the request: next byte this chunk reads */
    size_t len; /* bytes still to read in this chunk */
    bool polling;
    struct chunk *next_free;
};

struct rlist {
    struct rreq *head, *tail;
};

struct floe_reader {
    pthread_mutex_t mu;
    pthread_cond_t not_full; /* a node was freed */
    pthread_cond_t work;     /* sync mode: something was submitted, cancelled or stopping */
    struct {
        struct rreq *free_list;
        struct rlist submitted;
        bool sleeping; /* uring mode: the thread is (about to be) in submit_and_wait */
        bool cancelled;
        bool stopping;
        uint64_t fault_countdown;
        int fault_errno;
        struct floe_reader_stats stats;
    } locked;                   /* guarded by mu */
    enum floe_reader_mode mode; /* URING or SYNC; set at create, read-only */
    unsigned qd;                /* read-only after create */
    size_t max_sqe;             /* read-only after create */
    unsigned cap;               /* read-only after create */
    struct rreq *nodes;         /* cap nodes; fixed */
    int efd;                    /* eventfd; read-only after create */
    pthread_t thread;
    bool thread_started;
    /* reader thread only */
    struct io_uring ring;
    bool ring_ready;
    uint64_t wake_buf;
    struct chunk *chunks;
    struct chunk *free_chunks;
    unsigned chunks_inflight;
    unsigned cancels_inflight;
    struct rlist pos_wait, pos_active, stream_wait, stream_active;
    bool cancel_seen;
};

/* ---- lists ---- */

static void rl_push(struct rlist *l, struct rreq *r)
{
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static struct rreq *rl_pop(struct rlist *l)
{
    struct rreq *r = l->head;
    if (r) {
        l->head = r->next;
        if (!l->head)
            l->tail = NULL;
        r->next = NULL;
    }
    return r;
}

static void rl_remove(struct rlist *l, struct rreq *r)
{
    struct rreq *prev = NULL;
    for (struct rreq *p = l->head; p; prev = p, p = p->next) {
        if (p != r)
            continue;
        if (prev)
            prev->next = p->next;
        else
            l->head = p->next;
        if (l->tail == p)
            l->tail = prev;
        p->next = NULL;
        return;
    }
}

/* ---- completion ---- */

static void complete(struct floe_reader *rd, struct rreq *r)
{
    struct floe_read_req req = r->req;
    struct floe_error e = {0};
    int status = FLOE_OK;
    size_t bytes =
        r->eof_at != SIZE_MAX && r->eof_at < req.length_bytes ? r->eof_at : req.length_bytes;
    char where[64];
    if (req.path && *req.path)
        where[0] = 0;
    else
        snprintf(where, sizeof(where), "fd %d", req.fd);
    const char *name = req.path && *req.path ? req.path : where;
    if (r->failed) {
        bytes = r->done_bytes;
        status = floe_error_set_errno(&e, FLOE_E_IO, r->err_errno, req.path,
                                      "read of %s failed at byte %llu (request of %zu bytes at "
                                      "offset %llu)",
                                      name, (unsigned long long)r->err_offset, req.length_bytes,
                                      (unsigned long long)req.offset_bytes);
    } else if (r->cancelled && r->done_bytes < bytes) {
        bytes = r->done_bytes;
        status = floe_error_set_errno(&e, FLOE_E_IO, ECANCELED, req.path,
                                      "read of %s cancelled: the reader is shutting down", name);
    }
    pthread_mutex_lock(&rd->mu);
    rd->locked.stats.requests++;
    if (status)
        rd->locked.stats.failures++;
    else
        rd->locked.stats.bytes += bytes;
    r->next = rd->locked.free_list;
    rd->locked.free_list = r;
    pthread_cond_signal(&rd->not_full);
    pthread_mutex_unlock(&rd->mu);
    req.done(req.user, status, bytes, status ? &e : NULL);
}

static void count(struct floe_reader *rd, uint64_t *field)
{
    pthread_mutex_lock(&rd->mu);
    (*field)++;
    pthread_mutex_unlock(&rd->mu);
}

/* Moves newly submitted requests to the thread's lists; returns false when the thread should
 * exit (stopping, and nothing left anywhere). */
static bool take_submitted(struct floe_reader *rd, bool *cancel)
{
    pthread_mutex_lock(&rd->mu);
    struct rreq *r;
    while ((r = rl_pop(&rd->locked.submitted))) {
        if (rd->locked.fault_errno && rd->locked.fault_countdown-- == 0) {
            r->inject_errno = rd->locked.fault_errno;
            rd->locked.fault_errno = 0;
        }
        rl_push(r->stream ? &rd->stream_wait : &rd->pos_wait, r);
    }
    *cancel = rd->locked.cancelled;
    bool idle = !rd->pos_wait.head && !rd->pos_active.head && !rd->stream_wait.head &&
                !rd->stream_active.head && rd->chunks_inflight == 0;
    bool keep_going = !(rd->locked.stopping && idle);
    pthread_mutex_unlock(&rd->mu);
    return keep_going;
}

static void fail_waiting_on_cancel(struct floe_reader *rd)
{
    struct rreq *r;
    while ((r = rl_pop(&rd->pos_wait))) {
        r->cancelled = true;
        complete(rd, r);
    }
    while ((r = rl_pop(&rd->stream_wait))) {
        r->cancelled = true;
        complete(rd, r);
    }
}

/* ---- io_uring mode ---- */

static struct io_uring_sqe *get_sqe(struct floe_reader *rd)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&rd->ring);
    if (!sqe) { /* the ring is sized for every chunk + wake + cancels; flush and retry */
        io_uring_submit(&rd->ring);
        sqe = io_uring_get_sqe(&rd->ring);
    }
    assert(sqe);
    return sqe;
}

static void arm_wake(struct floe_reader *rd)
{
    struct io_uring_sqe *sqe = get_sqe(rd);
    io_uring_prep_read(sqe, rd->efd, &rd->wake_buf, sizeof(rd->wake_buf), 0);
    io_uring_sqe_set_data64(sqe, WAKE_TAG);
}

static void queue_chunk(struct floe_reader *rd, struct chunk *c)
{
    struct rreq *r = c->r;
    struct io_uring_sqe *sqe = get_sqe(rd);
    if (c->polling) {
        io_uring_prep_poll_add(sqe, r->req.fd, POLLIN);
    } else {
        uint64_t at = r->stream ? (uint64_t)-1 : r->req.offset_bytes + c->off;
        io_uring_prep_read(sqe, r->req.fd, (uint8_t *)r->req.dest + c->off, (unsigned)c->len, at);
        count(rd, &rd->locked.stats.reads);
    }
    io_uring_sqe_set_data(sqe, c);
}

static struct chunk *new_chunk(struct floe_reader *rd, struct rreq *r, size_t len)
{
    struct chunk *c = rd->free_chunks;
    rd->free_chunks = c->next_free;
    c->r = r;
    c->off = r->next_off;
    c->len = len;
    c->polling = false;
    r->next_off += len;
    r->inflight++;
    rd->chunks_inflight++;
    return c;
}

static void free_chunk(struct floe_reader *rd, struct chunk *c)
{
    c->r->inflight--;
    c->r = NULL;
    c->next_free = rd->free_chunks;
    rd->free_chunks = c;
    rd->chunks_inflight--;
}

static bool stream_fd_busy(struct floe_reader *rd, int fd, struct rreq *upto)
{
    for (struct rreq *p = rd->stream_active.head; p; p = p->next)
        if (p->req.fd == fd)
            return true;
    for (struct rreq *p = rd->stream_wait.head; p && p != upto; p = p->next)
        if (p->req.fd == fd)
            return true;
    return false;
}

/* A request has nothing left to hand out: it failed, was cancelled, met EOF, or is done. */
static bool pos_exhausted(const struct rreq *r)
{
    return r->failed || r->cancelled || r->eof_at != SIZE_MAX || r->next_off >= r->req.length_bytes;
}

static void fill_chunks(struct floe_reader *rd)
{
    /* Streams first: each startable one takes a chunk (they are few, and cheap). */
    for (struct rreq *r = rd->stream_wait.head, *next; r && rd->free_chunks; r = next) {
        next = r->next;
        if (stream_fd_busy(rd, r->req.fd, r))
            continue;
        rl_remove(&rd->stream_wait, r);
        if (r->req.length_bytes == 0) {
            complete(rd, r);
            continue;
        }
        rl_push(&rd->stream_active, r);
        size_t len = r->req.length_bytes < rd->max_sqe ? r->req.length_bytes : rd->max_sqe;
        queue_chunk(rd, new_chunk(rd, r, len));
    }
    while (rd->free_chunks) {
        struct rreq *r = rd->pos_active.head;
        if (r && pos_exhausted(r)) {
            rl_pop(&rd->pos_active);
            if (r->inflight == 0)
                complete(rd, r);
            continue;
        }
        if (!r) {
            r = rl_pop(&rd->pos_wait);
            if (!r)
                break;
            if (r->req.length_bytes == 0) {
                complete(rd, r);
                continue;
            }
            rl_push(&rd->pos_active, r);
        }
        size_t left = r->req.length_bytes - r->next_off;
        queue_chunk(rd, new_chunk(rd, r, left < rd->max_sqe ? left : rd->max_sqe));
    }
}

static void cancel_inflight(struct floe_reader *rd)
{
    for (unsigned i = 0; i < rd->qd; i++) {
        struct chunk *c = &rd->chunks[i];
        if (!c->r)
            continue;
        c->r->cancelled = true;
        struct io_uring_sqe *sqe = get_sqe(rd);
        io_uring_prep_cancel(sqe, c, 0);
        io_uring_sqe_set_data64(sqe, CANCEL_TAG);
        rd->cancels_inflight++;
    }
    for (struct rreq *r = rd->pos_active.head; r; r = r->next)
        r->cancelled = true;
}

/* After a chunk of r is freed: finish r if nothing more will happen to it. */
static void maybe_finish(struct floe_reader *rd, struct rreq *r)
{
    if (r->inflight)
        return;
    if (r->stream) {
        rl_remove(&rd->stream_active, r);
        complete(rd, r);
    } else if (pos_exhausted(r) && rd->pos_active.head != r) {
        complete(rd, r); /* already popped from pos_active by fill_chunks */
    } else if (pos_exhausted(r)) {
        rl_pop(&rd->pos_active);
        complete(rd, r);
    }
}

static void on_cqe(struct floe_reader *rd, struct chunk *c, int res)
{
    struct rreq *r = c->r;
    if (r->inject_errno && !c->polling) {
        res = -r->inject_errno;
        r->inject_errno = 0;
    }
    bool resubmit = false;
    if (c->polling) {
        c->polling = false;
        resubmit = !r->cancelled && (res >= 0 || res == -EINTR || res == -EAGAIN);
        if (!resubmit && !r->cancelled && !r->failed) {
            r->failed = true;
            r->err_errno = -res;
            r->err_offset = r->req.offset_bytes + c->off;
        }
    } else if (res == -EAGAIN || res == -EINTR) {
        count(rd, &rd->locked.stats.retries);
        resubmit = !r->cancelled;
        if (res == -EAGAIN && r->stream)
            c->polling = true;
    } else if (res < 0) {
        if (!r->failed && !(r->cancelled && res == -ECANCELED)) {
            r->failed = true;
            r->err_errno = -res;
            r->err_offset = (r->stream ? 0 : r->req.offset_bytes) + c->off;
        }
    } else if (res == 0) {
        if (c->off < r->eof_at)
            r->eof_at = c->off;
    } else {
        size_t got = (size_t)res;
        r->done_bytes += got;
        c->off += got;
        c->len -= got;
        if (c->len > 0) {
            count(rd, &rd->locked.stats.short_reads);
            resubmit = !r->cancelled && !r->failed;
        } else if (r->stream && r->next_off < r->req.length_bytes && !r->cancelled) {
            size_t left = r->req.length_bytes - r->next_off;
            c->len = left < rd->max_sqe ? left : rd->max_sqe;
            c->off = r->next_off;
            r->next_off += c->len;
            resubmit = true;
        }
    }
    if (resubmit && !r->failed) {
        queue_chunk(rd, c);
        return;
    }
    free_chunk(rd, c);
    maybe_finish(rd, r);
}

static void run_uring(struct floe_reader *rd)
{
    bool cancel = false;
    arm_wake(rd);
    while (take_submitted(rd, &cancel)) {
        if (cancel && !rd->cancel_seen) {
            rd->cancel_seen = true;
            fail_waiting_on_cancel(rd);
            cancel_inflight(rd);
        }
        if (cancel)
            fail_waiting_on_cancel(rd); /* submitted just before the flag was set */
        else
            fill_chunks(rd);
        /* Exhausted requests at the head of pos_active with nothing in flight. */
        while (rd->pos_active.head && pos_exhausted(rd->pos_active.head) &&
               rd->pos_active.head->inflight == 0)
            complete(rd, rl_pop(&rd->pos_active));

        pthread_mutex_lock(&rd->mu);
        bool sleep = !rd->locked.submitted.head && (!rd->locked.cancelled || rd->cancel_seen);
        rd->locked.sleeping = sleep;
        pthread_mutex_unlock(&rd->mu);
        int rc = sleep ? io_uring_submit_and_wait(&rd->ring, 1) : io_uring_submit(&rd->ring);
        if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
            fprintf(stderr, "floe: reader: io_uring_submit: %s\n", strerror(-rc));
            abort(); /* only a bug in this file (bad SQE) gets here */
        }
        pthread_mutex_lock(&rd->mu);
        rd->locked.sleeping = false;
        pthread_mutex_unlock(&rd->mu);

        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&rd->ring, head, cqe)
        {
            seen++;
            uint64_t ud = io_uring_cqe_get_data64(cqe);
            if (ud == WAKE_TAG)
                arm_wake(rd);
            else if (ud == CANCEL_TAG)
                rd->cancels_inflight--;
            else
                on_cqe(rd, io_uring_cqe_get_data(cqe), cqe->res);
        }
        io_uring_cq_advance(&rd->ring, seen);
    }
}

/* ---- sync mode ---- */

/* Waits until fd is readable; false if the reader was cancelled meanwhile. */
static bool wait_readable(struct floe_reader *rd, int fd)
{
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        bool cancelled = rd->locked.cancelled;
        pthread_mutex_unlock(&rd->mu);
        if (cancelled)
            return false;
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = rd->efd, .events = POLLIN}};
        int n = poll(p, 2, -1);
        if (n < 0 && errno != EINTR)
            return true; /* let read() report the problem */
        if (p[1].revents) {
            uint64_t v;
            ssize_t ignored = read(rd->efd, &v, sizeof(v));
            (void)ignored;
        }
        if (p[0].revents)
            return true;
    }
}

static void serve_sync(struct floe_reader *rd, struct rreq *r)
{
    uint8_t *dest = r->req.dest;
    while (r->next_off < r->req.length_bytes) {
        size_t left = r->req.length_bytes - r->next_off;
        size_t len = left < rd->max_sqe ? left : rd->max_sqe;
        if (r->stream && !wait_readable(rd, r->req.fd)) {
            r->cancelled = true;
            return;
        }
        ssize_t n = r->stream ? read(r->req.fd, dest + r->next_off, len)
                              : pread(r->req.fd, dest + r->next_off, len,
                                      (off_t)(r->req.offset_bytes + r->next_off));
        int e = n < 0 ? errno : 0;
        count(rd, &rd->locked.stats.reads);
        if (r->inject_errno) {
            n = -1;
            e = r->inject_errno;
            r->inject_errno = 0;
        }
        if (n < 0 && (e == EINTR || e == EAGAIN)) {
            count(rd, &rd->locked.stats.retries);
            continue; /* a stream polls before the next try */
        }
        if (n < 0) {
            r->failed = true;
            r->err_errno = e;
            r->err_offset = (r->stream ? 0 : r->req.offset_bytes) + r->next_off;
            return;
        }
        if (n == 0) {
            r->eof_at = r->next_off;
            return;
        }
        if ((size_t)n < len)
            count(rd, &rd->locked.stats.short_reads);
        r->next_off += (size_t)n;
        r->done_bytes += (size_t)n;
    }
}

static void run_sync(struct floe_reader *rd)
{
    bool cancel = false;
    for (;;) {
        pthread_mutex_lock(&rd->mu);
        while (!rd->locked.submitted.head && !rd->locked.stopping && !rd->pos_wait.head &&
               !rd->stream_wait.head)
            pthread_cond_wait(&rd->work, &rd->mu);
        pthread_mutex_unlock(&rd->mu);
        if (!take_submitted(rd, &cancel))
            break;
        /* One request at a time; each list in submission order, which is all a stream needs. */
        struct rreq *r = rl_pop(&rd->pos_wait);
        if (!r)
            r = rl_pop(&rd->stream_wait);
        if (!r)
            continue;
        r->cancelled = cancel;
        if (!cancel)
            serve_sync(rd, r);
        complete(rd, r);
    }
}

static void *reader_main(void *arg)
{
    struct floe_reader *rd = arg;
    if (rd->mode == FLOE_READER_URING)
        run_uring(rd);
    else
        run_sync(rd);
    return NULL;
}

/* ---- public ---- */

const char *floe_reader_mode_name(enum floe_reader_mode mode)
{
    if ((unsigned)mode >= FLOE_READER_MODE_COUNT)
        return "unknown";
    return s_mode_names[mode];
}

enum floe_reader_mode floe_reader_mode(const struct floe_reader *reader)
{
    return reader->mode;
}

static int pick_mode(const struct floe_reader_options *o, enum floe_reader_mode *mode,
                     struct floe_error *err)
{
    *mode = o->mode;
    if (*mode == FLOE_READER_AUTO) {
        const char *env = getenv("FLOE_READER");
        if (env && *env) {
            if (strcmp(env, "sync") == 0)
                *mode = FLOE_READER_SYNC;
            else if (strcmp(env, "uring") == 0 || strcmp(env, "io_uring") == 0)
                *mode = FLOE_READER_URING;
            else
                return floe_error_set(err, FLOE_E_INVALID_ARG,
                                      "FLOE_READER=%s: expected \"uring\" or \"sync\"", env);
        }
    } else if ((unsigned)*mode >= FLOE_READER_MODE_COUNT) {
        return floe_error_set(err, FLOE_E_INVALID_ARG, "reader mode %d is not a known mode",
                              (int)*mode);
    }
    return FLOE_OK;
}

int floe_reader_new(const struct floe_reader_options *opts, struct floe_reader **out,
                    struct floe_error *err)
{
    struct floe_reader_options o = {0};
    if (opts)
        o = *opts;
    struct floe_reader *rd = NULL;
    enum floe_reader_mode mode = FLOE_READER_AUTO;
    int rc = pick_mode(&o, &mode, err);
    if (rc)
        goto out;
    if (o.queue_depth > MAX_QUEUE_DEPTH) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "reader queue depth %u is over %u",
                            o.queue_depth, MAX_QUEUE_DEPTH);
        goto out;
    }
    if (o.max_sqe_bytes > MAX_SQE_LIMIT) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "largest read %zu bytes is over 1 GiB",
                            o.max_sqe_bytes);
        goto out;
    }
    rd = floe_xcalloc(1, sizeof(*rd));
    rd->efd = -1;
    pthread_mutex_init(&rd->mu, NULL);
    pthread_cond_init(&rd->not_full, NULL);
    pthread_cond_init(&rd->work, NULL);
    rd->qd = o.queue_depth ? o.queue_depth : FLOE_READER_DEFAULT_QUEUE_DEPTH;
    rd->max_sqe = o.max_sqe_bytes ? o.max_sqe_bytes : FLOE_READER_DEFAULT_MAX_SQE_BYTES;
    rd->cap = o.queue_cap ? o.queue_cap : FLOE_READER_DEFAULT_QUEUE_CAP;
    rd->nodes = floe_xcalloc(rd->cap, sizeof(struct rreq));
    for (unsigned i = rd->cap; i-- > 0;) {
        rd->nodes[i].next = rd->locked.free_list;
        rd->locked.free_list = &rd->nodes[i];
    }
    rd->chunks = floe_xcalloc(rd->qd, sizeof(struct chunk));
    for (unsigned i = rd->qd; i-- > 0;) {
        rd->chunks[i].next_free = rd->free_chunks;
        rd->free_chunks = &rd->chunks[i];
    }
    rd->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rd->efd < 0) {
        int e = errno;
        rc = floe_error_set_errno(err, FLOE_E_NOMEM, e, NULL, "reader: eventfd failed");
        goto out;
    }
    rd->mode = FLOE_READER_SYNC;
    if (mode != FLOE_READER_SYNC) {
        /* every chunk + the wake read + one cancel per chunk, with room to spare */
        int ur = io_uring_queue_init(2 * rd->qd + 2, &rd->ring, 0);
        if (ur == 0) {
            rd->ring_ready = true;
            rd->mode = FLOE_READER_URING;
        } else if (mode == FLOE_READER_URING) {
            rc = floe_error_set_errno(err, FLOE_E_UNSUPPORTED, -ur, NULL,
                                      "io_uring is unavailable (io_uring_queue_init)");
            goto out;
        } /* AUTO: fall back to sync silently; floe_reader_mode() reports it */
    }
    int e = pthread_create(&rd->thread, NULL, reader_main, rd);
    if (e) {
        rc = floe_error_set_errno(err, FLOE_E_NOMEM, e, NULL, "could not start reader thread");
        goto out;
    }
    rd->thread_started = true;
    *out = rd;
    rd = NULL;
out:
    floe_reader_destroy(rd);
    return rc;
}

static int validate(const struct floe_read_req *req, struct floe_error *err)
{
    if (!req || !req->done)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "read request without a done callback");
    if (req->fd < 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "read request with fd %d", req->fd);
    if (!req->dest && req->length_bytes)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "read request of %zu bytes without a destination", req->length_bytes);
    uint64_t end;
    if (__builtin_add_overflow(req->offset_bytes, (uint64_t)req->length_bytes, &end) ||
        end > (uint64_t)INT64_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "read request at offset %llu of %zu bytes overflows a file offset",
                              (unsigned long long)req->offset_bytes, req->length_bytes);
    return FLOE_OK;
}

static bool is_stream(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false; /* let the read report EBADF with the path */
    return !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
}

static int submit(struct floe_reader *rd, const struct floe_read_req *req, bool wait,
                  struct floe_error *err)
{
    int rc = validate(req, err);
    if (rc)
        return rc;
    bool stream = is_stream(req->fd);
    bool kick = false;
    pthread_mutex_lock(&rd->mu);
    while (!rd->locked.free_list && wait && !rd->locked.cancelled && !rd->locked.stopping)
        pthread_cond_wait(&rd->not_full, &rd->mu);
    if (rd->locked.cancelled || rd->locked.stopping) {
        rc = floe_error_set_errno(err, FLOE_E_IO, ECANCELED, req->path,
                                  "read not queued: the reader is shutting down");
        goto out;
    }
    if (!rd->locked.free_list) {
        rc = -1;
        goto out;
    }
    struct rreq *r = rd->locked.free_list;
    rd->locked.free_list = r->next;
    memset(r, 0, sizeof(*r));
    r->req = *req;
    r->stream = stream;
    r->eof_at = SIZE_MAX;
    rl_push(&rd->locked.submitted, r);
    pthread_cond_signal(&rd->work);
    kick = rd->locked.sleeping;
    rd->locked.sleeping = false;
out:
    pthread_mutex_unlock(&rd->mu);
    if (kick) {
        uint64_t one = 1;
        ssize_t ignored = write(rd->efd, &one, sizeof(one));
        (void)ignored; /* EAGAIN only if the counter is saturated: the thread is awake */
    }
    return rc;
}

int floe_reader_submit(struct floe_reader *reader, const struct floe_read_req *req,
                       struct floe_error *err)
{
    return submit(reader, req, true, err);
}

int floe_reader_try_submit(struct floe_reader *reader, const struct floe_read_req *req,
                           struct floe_error *err)
{
    return submit(reader, req, false, err);
}

void floe_read_wait_init(struct floe_read_wait *w)
{
    memset(w, 0, sizeof(*w));
    floe_latch_init(&w->done, 0);
}

void floe_read_wait_destroy(struct floe_read_wait *w)
{
    floe_latch_destroy(&w->done);
}

static void wait_done(void *user, int status, size_t bytes_read, const struct floe_error *err)
{
    struct floe_read_wait *w = user;
    w->status = status;
    w->bytes = bytes_read;
    if (err)
        w->err = *err;
    floe_latch_count_down(&w->done);
}

int floe_reader_submit_wait(struct floe_reader *reader, int fd, uint64_t offset_bytes, void *dest,
                            size_t length_bytes, const char *path, struct floe_read_wait *w)
{
    struct floe_read_req req = {.fd = fd,
                                .offset_bytes = offset_bytes,
                                .length_bytes = length_bytes,
                                .dest = dest,
                                .path = path,
                                .done = wait_done,
                                .user = w};
    floe_latch_arm(&w->done, 1); /* nothing else touches w until the submit is accepted */
    w->status = FLOE_OK;
    w->bytes = 0;
    memset(&w->err, 0, sizeof(w->err));
    int rc = floe_reader_submit(reader, &req, &w->err);
    if (rc) { /* never accepted: done is never called */
        w->status = rc;
        floe_latch_count_down(&w->done);
    }
    return rc;
}

int floe_read_wait(struct floe_read_wait *w)
{
    floe_latch_wait(&w->done);
    return w->status;
}

int floe_reader_read(struct floe_reader *reader, int fd, uint64_t offset_bytes, void *dest,
                     size_t length_bytes, const char *path, size_t *bytes_read,
                     struct floe_error *err)
{
    struct floe_read_wait w;
    floe_read_wait_init(&w);
    int rc = floe_reader_submit_wait(reader, fd, offset_bytes, dest, length_bytes, path, &w);
    if (!rc)
        rc = floe_read_wait(&w);
    if (rc && err)
        *err = w.err;
    if (!rc)
        *bytes_read = w.bytes;
    floe_read_wait_destroy(&w);
    return rc;
}

static void wake(struct floe_reader *rd)
{
    uint64_t one = 1;
    ssize_t ignored = write(rd->efd, &one, sizeof(one));
    (void)ignored;
}

void floe_reader_cancel(struct floe_reader *reader)
{
    pthread_mutex_lock(&reader->mu);
    reader->locked.cancelled = true;
    pthread_cond_broadcast(&reader->work);
    pthread_cond_broadcast(&reader->not_full);
    pthread_mutex_unlock(&reader->mu);
    wake(reader);
}

void floe_reader_set_fault(struct floe_reader *reader, uint64_t after_n_requests, int sys_errno)
{
    pthread_mutex_lock(&reader->mu);
    reader->locked.fault_countdown = after_n_requests;
    reader->locked.fault_errno = sys_errno;
    pthread_mutex_unlock(&reader->mu);
}

void floe_reader_stats(struct floe_reader *reader, struct floe_reader_stats *out)
{
    pthread_mutex_lock(&reader->mu);
    *out = reader->locked.stats;
    pthread_mutex_unlock(&reader->mu);
}

void floe_reader_destroy(struct floe_reader *reader)
{
    if (!reader)
        return;
    if (reader->thread_started) {
        pthread_mutex_lock(&reader->mu);
        reader->locked.stopping = true;
        pthread_cond_broadcast(&reader->work);
        pthread_cond_broadcast(&reader->not_full);
        pthread_mutex_unlock(&reader->mu);
        wake(reader);
        pthread_join(reader->thread, NULL);
    }
    if (reader->ring_ready)
        io_uring_queue_exit(&reader->ring);
    if (reader->efd >= 0)
        close(reader->efd);
    free(reader->chunks);
    free(reader->nodes);
    pthread_cond_destroy(&reader->work);
    pthread_cond_destroy(&reader->not_full);
    pthread_mutex_destroy(&reader->mu);
    free(reader);
}
