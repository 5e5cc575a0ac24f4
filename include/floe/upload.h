/*
 * floe/upload.h - upload a file or stream as one archive: single Upload Archive below one part,
 * otherwise a parallel multipart upload through the pipeline reader (io_uring) -> hash pool
 * (leaf + linear SHA-256 in one pass) -> transfer (curl multi), with a checkpoint journal that
 * makes an interrupted upload resumable.
 */
#ifndef FLOE_UPLOAD_H
#define FLOE_UPLOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/treehash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_UPLOAD_DEFAULT_PART_SIZE ((uint64_t)64 << 20)
#define FLOE_UPLOAD_DEFAULT_MEMORY_LIMIT ((uint64_t)1 << 30)
#define FLOE_UPLOAD_DEFAULT_CONCURRENCY 4u
/* Without a concurrency, a file's parts in flight adapt (start at the default, measured up to
 * this many, within the memory limit: src/engine/pipeline/adapt.h). */
#define FLOE_UPLOAD_ADAPTIVE_MAX 32u

struct floe_upload_progress {
    uint64_t bytes_done;              /* confirmed by the service (or verified on resume) */
    uint64_t bytes_total;             /* UINT64_MAX while a stream's size is unknown */
    unsigned parts_done, parts_total; /* parts_total 0 while unknown */
    double seconds;
};

/* Progress callback: runs on the thread that called floe_upload_file(), between events. */
typedef void floe_upload_progress_fn(const struct floe_upload_progress *p, void *user);

struct floe_upload_options {
    const char *vault;           /* required */
    const char *path;            /* required: a file, or "-" for standard input */
    const char *description;     /* optional archive description (printable ASCII <= 1024) */
    uint64_t part_size;          /* 0 = 64 MiB; raised to fit 10,000 parts */
    unsigned concurrency;        /* parts in flight (0 = adaptive for a file: from 4 up to
                                    FLOE_UPLOAD_ADAPTIVE_MAX while throughput rises; 4 for
                                    standard input) */
    uint64_t memory_limit;       /* bytes of part buffers (0 = 1 GiB) */
    const char *checkpoint_path; /* journal path; NULL = floe_checkpoint_default_path() */
    bool no_checkpoint;          /* never write a journal (no resume) */
    bool keep_checkpoint;        /* keep the journal after success */
    bool resume_only;            /* fail unless the journal exists (floe upload --resume) */
    atomic_bool *cancel;         /* optional: set to stop cleanly (journal kept) */
    floe_upload_progress_fn *progress;
    void *progress_user;
    /* Upload from an open descriptor instead of opening path (path then only names it in
     * messages): a pipe or socket is a stream, never journaled; the caller keeps the fd. */
    bool use_source_fd;
    int source_fd;
    /* Optional: called on the caller's thread right after Initiate Multipart Upload with the
     * new upload id, before any part is sent, so a caller without a journal (a stream) can
     * record it and abort the upload if the process dies. */
    void (*initiated)(const char *upload_id, void *user);
    void *initiated_user;
};

struct floe_upload_result {
    char archive_id[1025];
    uint8_t tree[FLOE_HASH_BYTES];
    uint64_t size;
    double seconds;
    bool multipart;
    uint64_t part_size;
    unsigned parts_sent;        /* parts uploaded in this run */
    unsigned parts_resumed;     /* parts skipped because a checkpoint confirmed them */
    char checkpoint_path[4096]; /* the journal used ("" when none) */
    bool linear_checksum;       /* the endpoint answered with the linear SHA-256 instead of the
                                   tree hash (moto does); it matched the data */
};

/*
 * floe_upload_file() - upload one file or stream as one archive, blocking until done.
 * client   IN: borrowed; its transfer thread carries the requests.
 * opts     IN: borrowed for the call.
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG / FLOE_E_RANGE (bad options, the rule in the message;
 *          an empty source); FLOE_E_IO (source unreadable; path named); FLOE_E_SOURCE_CHANGED
 *          (resuming, the file differs from the checkpoint); FLOE_E_CHECKPOINT; FLOE_E_CHECKSUM
 *          (the service computed another hash); FLOE_E_UNSUPPORTED (a stream turned out longer
 *          than 10,000 parts of the part size, after parts were sent: the upload is aborted);
 *          service and network statuses. On failure
 *          after parts were confirmed the journal is kept and err->message says how to resume.
 * Threads  the caller's thread orchestrates; several uploads may run at once on one client.
 */
FLOE_API int floe_upload_file(struct floe_client *client, const struct floe_upload_options *opts,
                              struct floe_upload_result *out, struct floe_error *err);

/*
 * floe_upload_checkpoint_path() - the journal path floe_upload_file() derives when
 * opts->checkpoint_path is NULL: $XDG_CACHE_HOME/floe (else ~/.cache/floe, else
 * /tmp/floe-UID)/upload-<xxh3 of endpoint, account, vault, absolute path>.ckpt (XDG_CACHE_HOME
 * honoured). Size and mtime are deliberately not part of the key: running the same command on a
 * changed file finds the journal and is refused. Returns FLOE_OK or FLOE_E_IO.
 */
FLOE_API int floe_upload_checkpoint_path(struct floe_client *client, const char *vault,
                                         const char *path, char *out, size_t cap,
                                         struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
