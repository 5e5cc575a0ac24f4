/*
 * mfetch.h - job outputs (or byte ranges of them) fetched into the caller's memory, many at
 * once: one GetJobOutput per item, all submitted to the Glacier client's transfer thread and
 * awaited together, each item's bytes hashed on return (tree hash and SHA-256, one pass) and its
 * x-amz-sha256-tree-hash kept. Used for the migration's small archives (many in flight) and for
 * the chunks of a streamed S3 copy.
 *
 * Threads: the calling thread; the requests run on the client's transfer thread.
 */
#ifndef FLOE_ENGINE_MIGRATE_MFETCH_H
#define FLOE_ENGINE_MIGRATE_MFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/treehash.h"

/* One fetch. The caller fills the request fields; the result fields are written by the call. */
struct floe_mfetch {
    const char *job_id; /* borrowed */
    uint64_t off, len;  /* the bytes wanted */
    bool whole;         /* the whole output: no Range header (off 0, len its size) */
    uint8_t *buf;       /* len bytes (at least 1), caller-owned */
    /* result */
    int status; /* FLOE_OK when exactly len bytes arrived */
    struct floe_error err;
    char service_tree[65]; /* the service's x-amz-sha256-tree-hash ("" when none) */
    uint8_t tree[FLOE_HASH_BYTES], sha256[FLOE_HASH_BYTES]; /* of buf, on FLOE_OK */
};

/*
 * floe_mfetch_run() - fetch every item at once and wait for all of them; items are independent
 * (one failing does not stop the others). Returns the number of items that failed.
 */
size_t floe_mfetch_run(struct floe_client *c, const char *vault, struct floe_mfetch *items,
                       size_t n);

#endif
