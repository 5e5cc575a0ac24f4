/*
 * reader.h - the file reader stage: one thread that owns one io_uring and keeps a fixed number
 * of reads in flight for requests that other threads submit.
 *
 * A request says: read length_bytes from fd at offset_bytes into dest, then call done(user,
 * ...). Requests are copied into a bounded queue when submitted; a full queue blocks the
 * submitter (backpressure). The reader thread splits large requests into reads of at most
 * max_sqe_bytes, resubmits short reads from where they stopped, retries EAGAIN/EINTR, and calls
 * done exactly once per accepted request, on the reader thread.
 *
 * Seekable vs. stream fds: a regular file or block device is read at offset_bytes, and many of
 * its reads may be in flight at once, in any order. Any other fd (pipe, FIFO, socket, tty, i.e.
 * stdin) is a stream: offset_bytes is ignored and bytes come from the fd's current position
 * with read() semantics. Stream requests are served one at a time, in submission order, one
 * read in flight, so consecutive requests receive consecutive bytes. A stream request
 * completes when length_bytes have arrived or at end of file, whichever comes first.
 *
 * When io_uring is unavailable (ENOSYS, EPERM: old kernels, seccomp, some containers) the same
 * thread serves requests with pread()/read() instead. Results are identical; only speed
 * differs. floe_reader_mode() tells which one runs.
 */
#ifndef FLOE_ENGINE_READER_H
#define FLOE_ENGINE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"
#include "latch.h"

#include <pthread.h>

struct floe_reader; /* opaque; made by floe_reader_new() */

/* How requests are served. The name table is floe_reader_mode_name(). */
enum floe_reader_mode {
    FLOE_READER_AUTO = 0,  /* options only: FLOE_READER env ("uring"/"sync"), else io_uring
                              with a pread fallback */
    FLOE_READER_URING = 1, /* io_uring; floe_reader_new() fails if it is unavailable */
    FLOE_READER_SYNC = 2,  /* pread()/read() on the reader thread */
    FLOE_READER_MODE_COUNT
};

/* Default tunables (used when the option is 0). */
#define FLOE_READER_DEFAULT_QUEUE_DEPTH 16u
#define FLOE_READER_DEFAULT_MAX_SQE_BYTES ((size_t)8 << 20)
#define FLOE_READER_DEFAULT_QUEUE_CAP 64u

struct floe_reader_options {
    enum floe_reader_mode mode; /* 0 = AUTO */
    unsigned queue_depth;       /* reads in flight at once; 0 = 16 */
    size_t max_sqe_bytes;       /* largest single read; larger requests are split; 0 = 8 MiB */
    unsigned queue_cap;         /* accepted requests not yet completed (queued + in progress)
                                   before submit blocks; 0 = 64 */
};

/*
 * Completion callback. Runs on the reader thread, once per accepted request, never inside
 * floe_reader_submit(). Keep it short: the reader serves nothing else while it runs. It may
 * call floe_reader_try_submit() but not floe_reader_submit() (which could wait for a slot
 * only the reader thread frees) nor floe_reader_destroy().
 *
 * user        the request's user pointer.
 * status      FLOE_OK: bytes_read bytes are in dest. bytes_read < length_bytes only at end of
 *             file (regular file shorter than offset + length; stream closed by the writer).
 *             FLOE_E_IO: the read failed; err says why (sys_errno, path, message with the
 *             offset). A request cancelled before it finished also gets FLOE_E_IO, with
 *             err->sys_errno == ECANCELED.
 * bytes_read  bytes written to dest (on error: bytes that arrived before the failure).
 * err         NULL on FLOE_OK; otherwise valid only during the call.
 */
typedef void floe_reader_done_fn(void *user, int status, size_t bytes_read,
                                 const struct floe_error *err);

struct floe_read_req {
    int fd;                    /* borrowed: must stay open until done runs */
    uint64_t offset_bytes;     /* seekable fds only; ignored for streams */
    size_t length_bytes;       /* 0 completes at once with bytes_read 0 */
    void *dest;                /* length_bytes writable; owned by the reader until done */
    const char *path;          /* optional, for messages; borrowed until done runs */
    floe_reader_done_fn *done; /* required */
    void *user;                /* passed to done */
};

struct floe_reader_stats {
    uint64_t requests;    /* requests completed (any status) */
    uint64_t reads;       /* read operations issued (SQEs or pread/read calls) */
    uint64_t bytes;       /* bytes delivered */
    uint64_t short_reads; /* reads that returned less than asked, before EOF, and resubmitted */
    uint64_t retries;     /* EAGAIN / EINTR retries */
    uint64_t failures;    /* requests completed with an error (cancellations included) */
};

/*
 * floe_reader_new() - start the reader thread.
 * opts     IN: may be NULL (all defaults); read during the call only.
 * out      OUT: set only on FLOE_OK; free with floe_reader_destroy().
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (bad mode or option, or FLOE_READER env value not
 *          "uring"/"sync"); FLOE_E_UNSUPPORTED when mode is URING (or FLOE_READER=uring) and
 *          io_uring cannot be set up (message has the kernel's reason); FLOE_E_NOMEM (thread
 *          or eventfd could not be created).
 * Threads  any thread.
 */
int floe_reader_new(const struct floe_reader_options *opts, struct floe_reader **out,
                    struct floe_error *err);

/* floe_reader_mode() - FLOE_READER_URING or FLOE_READER_SYNC: what this reader runs. */
enum floe_reader_mode floe_reader_mode(const struct floe_reader *reader);

/* floe_reader_mode_name() - "auto", "io_uring", "sync"; "unknown" out of range. Static. */
const char *floe_reader_mode_name(enum floe_reader_mode mode);

/*
 * floe_reader_submit() - queue one read, waiting while queue_cap requests are outstanding.
 * req      IN: copied; the struct may be reused at once (dest, path, fd may not).
 * Returns  FLOE_OK: done will be called exactly once. FLOE_E_INVALID_ARG (fd < 0, dest NULL
 *          with length > 0, done NULL) or FLOE_E_IO with sys_errno ECANCELED (the reader was
 *          cancelled or is being destroyed): done is never called.
 * Threads  any thread except the reader thread (i.e. not from a done callback).
 */
int floe_reader_submit(struct floe_reader *reader, const struct floe_read_req *req,
                       struct floe_error *err);

/*
 * floe_reader_try_submit() - as floe_reader_submit() but never waits: returns -1 (not a
 * status; err untouched, done never called) when queue_cap requests are outstanding.
 * Threads  any thread, including done callbacks.
 */
int floe_reader_try_submit(struct floe_reader *reader, const struct floe_read_req *req,
                           struct floe_error *err);

/*
 * A read the submitting thread waits for itself: a thread that keeps a read or two of its own
 * in flight (a hash-pool task double-buffering a part) submits with floe_reader_submit_wait()
 * and collects with floe_read_wait(). Owned by that thread; the reader thread touches it only
 * between the submit and the completion: it writes status, bytes and err, then opens done.
 */
struct floe_read_wait {
    struct floe_latch done; /* open when no read of this wait is in flight */
    int status;
    size_t bytes;
    struct floe_error err;
};

/* floe_read_wait_init() / _destroy() - a ready, done (idle) wait object. Destroy only when
 * done: after floe_read_wait() returned, or when nothing was submitted. */
void floe_read_wait_init(struct floe_read_wait *w);
void floe_read_wait_destroy(struct floe_read_wait *w);

/*
 * floe_reader_submit_wait() - as floe_reader_submit() of one read whose completion lands in w
 * (which must be done: nothing of it in flight). A refused submit marks w done with that
 * status and error at once, so floe_read_wait() never blocks on it. Returns submit's status.
 * Threads  any thread except the reader thread.
 */
int floe_reader_submit_wait(struct floe_reader *reader, int fd, uint64_t offset_bytes, void *dest,
                            size_t length_bytes, const char *path, struct floe_read_wait *w);

/* floe_read_wait() - blocks until w's read completed; returns its status (w->bytes and w->err
 * say the rest). At once for an idle or refused w. */
int floe_read_wait(struct floe_read_wait *w);

/*
 * floe_reader_read() - convenience: submit one read and wait for it (resume checks, tests).
 * bytes_read OUT: set only on FLOE_OK.
 * Returns  the request's status, or submit's. Threads: any thread except the reader thread.
 */
int floe_reader_read(struct floe_reader *reader, int fd, uint64_t offset_bytes, void *dest,
                     size_t length_bytes, const char *path, size_t *bytes_read,
                     struct floe_error *err);

/*
 * floe_reader_cancel() - stop early: requests not yet started complete with the cancel status,
 * reads in flight are cancelled (a stream read waiting for data included), and later submits
 * fail. Every accepted request still gets its one callback. Returns at once; idempotent.
 * Threads  any thread, including done callbacks.
 */
void floe_reader_cancel(struct floe_reader *reader);

/*
 * floe_reader_set_fault() - test hook: the request that is the (after_n_requests+1)-th to
 * start from now on fails with sys_errno (e.g. EIO) as if its first read had returned
 * -sys_errno. One-shot; sys_errno 0 disarms. Threads: any thread.
 */
void floe_reader_set_fault(struct floe_reader *reader, uint64_t after_n_requests, int sys_errno);

/* floe_reader_stats() - a snapshot of the counters. Threads: any thread. */
void floe_reader_stats(struct floe_reader *reader, struct floe_reader_stats *out);

/*
 * floe_reader_destroy() - finish every accepted request (drain: call floe_reader_cancel()
 * first to cut it short), then join the thread and free everything. No submit may race with
 * it. Must not be called from a done callback. NULL is fine.
 */
void floe_reader_destroy(struct floe_reader *reader);

#endif
