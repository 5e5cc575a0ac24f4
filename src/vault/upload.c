/*
 * upload.c - streaming body receiver (see upload.h).
 *
 * DESIGN
 * Bytes are hashed and written exactly once, as MHD hands them over (up to the connection's
 * read buffer at a time), hashed while they are still in the CPU cache from the socket copy;
 * memory is constant whatever the archive size. The blob (streamed: O_DIRECT writes behind
 * the hash, store_blob.h) is created under a fresh random name with the first body byte,
 * after the handler accepted the headers, and is fdatasync'd only after both hashes match
 * (its directory entry is made durable by the group commit that records it, commit.h), so a
 * mismatch, a client abort, a timeout or a crash leaves nothing but an unreferenced file that the
 * request cleanup (or the start-up sweep) removes.
 */
#include "upload.h"

#include "alloc.h"
#include "api_common.h"
#include "errors.h"
#include "vctx.h"
#include "vutil.h"
#include "floe/range.h"

#include <stdlib.h>
#include <string.h>

static void free_op(struct floe_vreq *rq)
{
    struct floe_vupload *up = rq->op;
    if (!up)
        return;
    if (!up->kept)
        floe_vblob_discard(rq->srv->blobs, &up->w);
    else
        floe_vblob_done(rq->srv->blobs, &up->w); /* a log writer's reference */
    floe_treehash_destroy(up->th);
    free(up->leaves);
    free(up->description);
    free(up->upload_id);
    free(up);
    rq->op = NULL;
}

static bool parse_hash_header(struct floe_vreq *rq, const char *name, uint8_t out[32])
{
    const char *v = floe_vreq_header(rq, name);
    struct floe_error err = {0};
    if (!v) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER, "Required header %s is missing", name);
        return false;
    }
    if (strlen(v) != 64 || floe_treehash_parse_hex(v, out, &err) != FLOE_OK) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid %s: %s (want 64 hexadecimal characters)", name, v);
        return false;
    }
    return true;
}

struct floe_vupload *floe_vupload_begin(struct floe_vreq *rq)
{
    struct floe_vupload *up = floe_xcalloc(1, sizeof(*up));
    up->w.fd = -1;
    rq->op = up;
    rq->op_free = free_op;
    if (!rq->has_length || !floe_vreq_header(rq, "Content-Length")) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                        "Required header Content-Length is missing (chunked uploads are not "
                        "accepted)");
        return NULL;
    }
    if (!parse_hash_header(rq, "x-amz-sha256-tree-hash", up->want_tree) ||
        !parse_hash_header(rq, "x-amz-content-sha256", up->want_linear))
        return NULL;
    up->expect_bytes = rq->content_length;
    up->th = floe_treehash_new(FLOE_TREEHASH_LINEAR | FLOE_TREEHASH_KEEP_LEAVES);
    return up;
}

/* The blob is created with the first body bytes, once the handler has accepted the headers:
 * a request rejected by its headers never creates (or fallocates) anything. */
static bool create_blob(struct floe_vreq *rq, struct floe_vupload *up)
{
    struct floe_error err = {0};
    if (up->created)
        return up->w.fd >= 0 || floe_vblob_writer_log(&up->w); /* not discarded */
    up->created = true;
    if (floe_vblob_create_stream(rq->srv->blobs, up->expect_bytes, &up->w, &err) != FLOE_OK) {
        floe_vapi_internal(rq, &err);
        return false;
    }
    return true;
}

void floe_vupload_data(struct floe_vreq *rq, const char *data, size_t n)
{
    struct floe_vupload *up = rq->op;
    struct floe_error err = {0};
    if (!up || !create_blob(rq, up))
        return;
    floe_treehash_update(up->th, data, n);
    if (floe_vblob_write(&up->w, data, n, &err) != FLOE_OK) {
        floe_vblob_discard(rq->srv->blobs, &up->w);
        floe_vapi_internal(rq, &err);
    }
}

static bool check_and_sync(struct floe_vreq *rq, struct floe_vupload *up)
{
    uint8_t linear[FLOE_HASH_BYTES];
    char want_hex[FLOE_HASH_HEX], got_hex[FLOE_HASH_HEX];
    struct floe_error err = {0};
    if (!create_blob(rq, up))
        return false;
    if (up->w.bytes != up->expect_bytes) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Request body has %llu bytes but Content-Length is %llu",
                        (unsigned long long)up->w.bytes, (unsigned long long)up->expect_bytes);
        return false;
    }
    floe_treehash_final(up->th, up->tree, linear);
    if (memcmp(linear, up->want_linear, FLOE_HASH_BYTES) != 0) {
        floe_treehash_hex(up->want_linear, want_hex);
        floe_treehash_hex(linear, got_hex);
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "x-amz-content-sha256 mismatch: expected %s, computed %s", want_hex,
                        got_hex);
        return false;
    }
    if (memcmp(up->tree, up->want_tree, FLOE_HASH_BYTES) != 0) {
        floe_treehash_hex(up->want_tree, want_hex);
        floe_treehash_hex(up->tree, got_hex);
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Checksum mismatch: expected %s, computed %s", want_hex, got_hex);
        return false;
    }
    floe_treehash_hex(up->tree, up->tree_hex);
    size_t n = 0;
    const uint8_t(*lv)[FLOE_HASH_BYTES] = floe_treehash_leaf_hashes(up->th, &n);
    up->nleaves = n;
    up->leaves = floe_xmalloc(n ? n * FLOE_HASH_BYTES : 1);
    if (n)
        memcpy(up->leaves, lv, n * FLOE_HASH_BYTES);
    if (floe_vblob_finish_file(rq->srv->blobs, &up->w, &err) != FLOE_OK) {
        floe_vapi_internal(rq, &err);
        return false;
    }
    return true;
}

bool floe_vupload_finish(struct floe_vreq *rq, struct floe_vupload *up)
{
    if (check_and_sync(rq, up))
        return true;
    /* Removed before the error is answered: a client that sees the 4xx/5xx finds nothing. */
    floe_vblob_discard(rq->srv->blobs, &up->w);
    return false;
}

void floe_vupload_keep(struct floe_vupload *up)
{
    up->kept = true;
}
