/*
 * upload.h - the body receiver shared by UploadArchive and UploadMultipartPart: streams the
 * request body into a new blob while computing its 1 MiB leaf hashes and linear SHA-256 in
 * the same pass (floe_treehash with FLOE_TREEHASH_LINEAR | FLOE_TREEHASH_KEEP_LEAVES), then
 * checks both against the x-amz-content-sha256 and x-amz-sha256-tree-hash headers and
 * fdatasyncs the blob (a body under 1 MiB goes into a shared log blob instead, synced by the
 * group commit: store_blob.h, "Log blobs"). The caller then records the blob through the group
 * committer (floe_vcommit_run() with the writer, which syncs the log or blobs/ before the
 * COMMIT) and calls floe_vupload_keep(); otherwise the blob is removed when the request is
 * freed.
 *
 * Threads: one receiver per request, used on the request's connection thread.
 */
#ifndef FLOE_VAULT_UPLOAD_H
#define FLOE_VAULT_UPLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "store_blob.h"
#include "vreq.h"
#include "floe/treehash.h"

struct floe_vupload {
    struct floe_vblob_writer w;
    struct floe_treehash *th;
    uint8_t want_tree[FLOE_HASH_BYTES];
    uint8_t want_linear[FLOE_HASH_BYTES];
    uint64_t expect_bytes;
    bool kept;
    bool created; /* the blob was created (at the first body byte) */
    /* filled by floe_vupload_finish() */
    uint8_t tree[FLOE_HASH_BYTES];
    char tree_hex[FLOE_HASH_HEX];
    uint8_t *leaves; /* malloc'd, nleaves * 32 bytes */
    size_t nleaves;
    /* operation context set by the handler */
    char *description;
    char *upload_id;
    uint64_t first; /* part: first byte in the archive */
    uint64_t part_size;
};

/*
 * floe_vupload_begin() - check the checksum headers and Content-Length (must equal
 * expect_bytes when expect_bytes != UINT64_MAX), create the blob and attach the receiver to
 * rq (rq->op; freed with the request).
 * Returns  the receiver, or NULL after answering 400 MissingParameterValueException /
 *          InvalidParameterValueException (or 500 when no blob can be created).
 */
struct floe_vupload *floe_vupload_begin(struct floe_vreq *rq);

/* floe_vupload_data() - hash and write n body bytes; answers 500 on a write error. */
void floe_vupload_data(struct floe_vreq *rq, const char *data, size_t n);

/*
 * floe_vupload_finish() - the body is complete: compare the length and both hashes, then
 * fdatasync a blob file (not yet the directory, nor a log blob: floe_vcommit_run() does that).
 * Returns true, or false
 * after answering the 400/500 error (nothing kept).
 */
bool floe_vupload_finish(struct floe_vreq *rq, struct floe_vupload *up);

/* floe_vupload_keep() - a database row now names the blob: do not remove it. */
void floe_vupload_keep(struct floe_vupload *up);

#endif
