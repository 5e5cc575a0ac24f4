/*
 * singles.h - small files each as one archive (a single UploadArchive request), many in flight:
 * a request type of the transfer core (pipeline/orch.h) for the file-per-archive layout.
 *
 *   PLANNED --slot + buffer free--> READING (hash pool task: open, read whole, re-stat, close,
 *   tree + linear SHA-256 and xxh3-128 of the bytes) --> SENDING (UploadArchive on the transfer
 *   thread; a checksum the service computed differently is re-sent, 3 times) --> DONE: the
 *   caller's record() (the catalog row, after the acknowledgement) --> slot and buffer reused
 *
 * Items come from the plan's small list one at a time and live in a fixed set of slots, so
 * memory is the same for a hundred files or a million: no thread, ring or journal per file.
 * A file that cannot be read, or that changed between the plan and the read (size or mtime),
 * is skipped with a warning; a failure of the service (after the transfer's retries) stops the
 * run, with every acknowledged file already handed to record().
 *
 * Threads: floe_singles_run() runs on the calling thread, as do the callbacks.
 */
#ifndef FLOE_ENGINE_BACKUP_SINGLES_H
#define FLOE_ENGINE_BACKUP_SINGLES_H

#include <stdatomic.h>
#include <stdint.h>

#include "floe/client.h"
#include "plan.h"

/* One acknowledged file (everything borrowed for the call). */
struct floe_singles_done {
    const struct floe_plan_item *item;
    const struct floe_archive_result *archive; /* id, tree hash */
    const char *description;
    const uint8_t *xxh3; /* FLOE_CATALOG_XXH3_BYTES of the content */
};

struct floe_singles_options {
    struct floe_client *client;
    const char *vault;
    unsigned concurrency; /* requests in flight (adaptive: the ceiling) */
    bool adaptive;        /* requests in flight follow the link from 16 up (pipeline/adapt.h) */
    uint64_t max_size;    /* the largest file (the plan's threshold): the buffer size */
    atomic_bool *cancel;
    /* required: the archive description of a file */
    void (*describe)(void *user, const struct floe_plan_item *it, char out[1025]);
    /* required: the file is in the vault; record it. Non-zero (err filled) stops the run. */
    int (*record)(void *user, const struct floe_singles_done *d, struct floe_error *err);
    void (*warn)(void *user, const char *path, const char *message); /* a skipped file */
    void (*progress)(void *user, uint64_t files, uint64_t bytes, const char *current);
    void *user;
};

struct floe_singles_stats {
    uint64_t files, bytes; /* uploaded and recorded */
    uint64_t skipped;      /* unreadable, changed since the plan, or empty */
    uint64_t resent;       /* re-sent after a checksum mismatch */
};

/*
 * floe_singles_run() - uploads every item of plan's small list (from its current position; the
 * caller rewinds). Returns FLOE_OK or the failure that stopped it (err filled).
 */
int floe_singles_run(struct floe_plan *plan, const struct floe_singles_options *opts,
                     struct floe_singles_stats *stats, struct floe_error *err);

#endif
