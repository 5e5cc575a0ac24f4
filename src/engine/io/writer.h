/*
 * writer.h - the file writer stage: one thread that owns one io_uring and writes buffers at
 * their offsets for requests other threads submit (the retrieval's counterpart of reader.h).
 *
 * A request says: write length_bytes from src to fd at offset_bytes, then call done(user, ...)
 * exactly once, on the writer thread. Short writes are resubmitted from where they stopped;
 * EINTR/EAGAIN are retried; anything else (ENOSPC: disk full, EFBIG: over the file size limit,
 * EIO) fails the request with the path and offset in the message.
 *
 * Seekable vs. stream fds: a regular file or block device is written at offset_bytes, with
 * several writes in flight in any order. Any other fd (pipe, tty: standard output) is a
 * stream: offset_bytes is ignored and requests are written one after another, in submission
 * order, with write(); the submitter decides the order.
 *
 * Direct I/O: fd may be opened with O_DIRECT (the submitter keeps src, offset and length
 * aligned); a request with a fallback fd finishes there if the direct write is refused.
 *
 * When io_uring is unavailable (ENOSYS, EPERM) the same thread serves requests with pwrite().
 * Queueing never blocks: the submitter bounds memory (each request's src is one of its pool
 * buffers). Processes writing large files should ignore SIGXFSZ so an exceeded file size
 * limit surfaces as EFBIG instead of killing the process.
 */
#ifndef FLOE_ENGINE_WRITER_H
#define FLOE_ENGINE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

struct floe_writer; /* opaque; made by floe_writer_new() */

enum floe_writer_mode {
    FLOE_WRITER_AUTO = 0,  /* options only: FLOE_WRITER env ("uring"/"sync"), else io_uring
                              with a pwrite fallback */
    FLOE_WRITER_URING = 1, /* io_uring; floe_writer_new() fails if it is unavailable */
    FLOE_WRITER_SYNC = 2,  /* pwrite()/write() on the writer thread */
    FLOE_WRITER_MODE_COUNT
};

/* Runs on the writer thread once per accepted request. status FLOE_OK: every byte is written;
 * FLOE_E_IO: err (valid during the call only) has errno, path and offset. Keep it short. */
typedef void floe_writer_done_fn(void *user, int status, const struct floe_error *err);

struct floe_write_req {
    int fd;                /* borrowed: must stay open until done runs */
    uint64_t offset_bytes; /* seekable fds only, unless sequential */
    /* Write at fd's current position with write(2), in submission order, even when fd is a
     * regular file (stdout redirected to one: `> file`, or after other output). Pipes and
     * other non-seekable fds are always written so. */
    bool sequential;
    const void *src;           /* length_bytes readable; borrowed until done runs */
    size_t length_bytes;       /* 0 completes at once */
    const char *path;          /* optional, for messages; borrowed until done runs */
    floe_writer_done_fn *done; /* required */
    void *user;
    /* Optional: when fd refuses a write with EINVAL (an O_DIRECT fd and a misaligned buffer,
     * offset or length, or a file system without direct I/O), the rest of the request is
     * written to fallback_fd instead (a buffered fd of the same file). */
    bool has_fallback;
    int fallback_fd; /* borrowed like fd */
};

/*
 * floe_writer_new() - start the writer thread.
 * queue_depth  writes in flight at once (io_uring); 0 = 8.
 * out      OUT: set only on FLOE_OK; destroy with floe_writer_destroy().
 * Returns  FLOE_OK; FLOE_E_UNSUPPORTED (URING asked for and unavailable: message says why);
 *          FLOE_E_NOMEM (no thread).
 * Threads  the writer may be shared by any number of submitting threads.
 */
int floe_writer_new(enum floe_writer_mode mode, unsigned queue_depth, struct floe_writer **out,
                    struct floe_error *err);

/* How requests are served (URING or SYNC). */
enum floe_writer_mode floe_writer_mode(const struct floe_writer *w);
/* "io_uring" / "sync" / "auto". Static string. */
const char *floe_writer_mode_name(enum floe_writer_mode mode);

/*
 * floe_writer_submit() - queue a request (copied); never blocks.
 * Returns  FLOE_OK (done will run exactly once) or FLOE_E_INVALID_ARG (no done, no src with a
 *          length, or the writer is being destroyed: done will not run).
 * Threads  any thread, including a done callback.
 */
int floe_writer_submit(struct floe_writer *w, const struct floe_write_req *req,
                       struct floe_error *err);

/*
 * floe_writer_write() - write synchronously through the writer (submit and wait).
 * Returns  FLOE_OK or the request's failure (err filled). Must not be called from a done
 *          callback.
 */
int floe_writer_write(struct floe_writer *w, int fd, uint64_t offset_bytes, const void *src,
                      size_t length_bytes, const char *path, struct floe_error *err);

/* floe_writer_destroy() - finish every queued write (callbacks run), then stop. NULL is fine.
 * Must not be called from a done callback. */
void floe_writer_destroy(struct floe_writer *w);

#endif
