/*
 * api_multipart.c - the six multipart operations.
 *
 * Each part is one blob and one segments row (owner = upload id, idx = first / part size)
 * carrying the part's length, tree hash and 1 MiB leaf hashes. Parts may arrive in any order,
 * concurrently, and again (the row is replaced and the old blob removed after the commit:
 * last write wins). Complete checks coverage and sizes from the rows, combines the part tree
 * hashes (valid because every part but the last is the power-of-two part size, which it
 * checks), and in one transaction inserts the archive whose segments are the upload's parts
 * (archives.seg_owner = upload id): no byte is copied or re-read. The upload row is kept as
 * 'completed' so a repeated Complete returns the same archive id.
 */
#include "api.h"

#include "alloc.h"
#include "api_common.h"
#include "commit.h"
#include "errors.h"
#include "store_blob.h"
#include "store_db.h"
#include "upload.h"
#include "vctx.h"
#include "vutil.h"
#include "floe/range.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void upload_not_found(struct floe_vreq *rq)
{
    floe_verr_reply(rq, FLOE_VERR_NOT_FOUND, "The upload ID was not found: %s", rq->id);
}

void floe_vapi_initiate_mpu(struct floe_vreq *rq)
{
    const char *ps = floe_vreq_header(rq, "x-amz-part-size");
    uint64_t part_size = 0;
    char *desc = NULL, id[FLOE_VID_UPLOAD_LEN + 1];
    struct floe_error err = {0};
    if (!floe_vapi_vault_exists(rq))
        return;
    if (!ps) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                        "Required header x-amz-part-size is missing");
        return;
    }
    if (floe_vutil_parse_u64(ps, &part_size) != 0 ||
        floe_range_check_part_size(part_size, NULL) != FLOE_OK) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid part size: %s. Part size must not be null, must be a power of two "
                        "and be between 1048576 and 4294967296 bytes.",
                        ps);
        return;
    }
    if (!floe_vapi_description(rq, &desc))
        return;
    floe_vutil_id(id, FLOE_VID_UPLOAD_LEN, false);
    int64_t now = floe_vutil_now_ms();
    floe_vdb_lock(rq->srv->db);
    if (!floe_vapi_vault_exists_locked(rq)) { /* deleted since the check above */
        floe_vdb_unlock(rq->srv->db);
        free(desc);
        floe_vapi_vault_not_found(rq);
        return;
    }
    int rc = floe_vdb_exec(rq->srv->db, &err,
                           "INSERT INTO uploads(id, vault, description, part_size, created_ms,"
                           " state, touched_ms) VALUES(?, ?, ?, ?, ?, 'open', ?)",
                           "tttiii", id, rq->vault, desc, (int64_t)part_size, now, now);
    floe_vdb_unlock(rq->srv->db);
    free(desc);
    if (rc) {
        floe_vapi_internal(rq, &err);
        return;
    }
    floe_vapi_location(rq, "/multipart-uploads/", id);
    floe_vreq_set_header(rq, "x-amz-multipart-upload-id", id);
    floe_vreq_reply_empty(rq, 201);
}

/* The upload object of the uploads row in st (id, description, part_size, created_ms).
 * A floe_vapi_row_fn (user unused). */
static json_t *upload_json(struct floe_vreq *rq, sqlite3_stmt *st, void *user)
{
    (void)user;
    char arn[512], iso[FLOE_VTIME_ISO_MAX];
    floe_vconfig_vault_arn(&rq->srv->cfg, rq->vault, arn, sizeof(arn));
    floe_vutil_iso(floe_vdb_int(st, 3), true, iso);
    json_t *o = json_object();
    json_object_set_new(o, "ArchiveDescription",
                        floe_vdb_text(st, 1) ? json_string(floe_vdb_text(st, 1)) : json_null());
    json_object_set_new(o, "CreationDate", json_string(iso));
    json_object_set_new(o, "MultipartUploadId", json_string(floe_vdb_text(st, 0)));
    json_object_set_new(o, "PartSizeInBytes", json_integer(floe_vdb_int(st, 2)));
    json_object_set_new(o, "VaultARN", json_string(arn));
    return o;
}

void floe_vapi_list_mpus(struct floe_vreq *rq)
{
    int64_t limit, from = 0;
    const char *marker = floe_vreq_param(rq, "marker");
    if (!floe_vapi_parse_limit(rq, 50, &limit) || !floe_vapi_vault_exists(rq))
        return;
    json_t *list = NULL, *next = NULL;
    floe_vdb_lock_read(rq->srv->db);
    bool bad_marker = !floe_vapi_marker_locked(
        rq, "SELECT rowid FROM uploads WHERE id = ? AND vault = ? AND state = 'open'", marker,
        &from);
    if (!bad_marker) {
        sqlite3_stmt *st =
            floe_vdb_stmt(rq->srv->db, "SELECT id, description, part_size, created_ms FROM uploads"
                                       " WHERE vault = ? AND state = 'open' AND rowid >= ?"
                                       " ORDER BY rowid LIMIT ?");
        floe_vdb_bind(st, "tii", rq->vault, from, limit + 1);
        list = floe_vapi_page_locked(rq, st, limit, upload_json, NULL, NULL, &next);
    }
    floe_vdb_unlock_read(rq->srv->db);
    if (bad_marker) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid marker: %s", marker);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "Marker", next);
    json_object_set_new(o, "UploadsList", list);
    floe_vapi_reply_json(rq, 200, o);
}

/* The open upload rq->id of rq->vault: part size and description; lock held. */
static bool open_upload_locked(struct floe_vreq *rq, uint64_t *part_size)
{
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT part_size FROM uploads WHERE id = ?"
                                                  " AND vault = ? AND state = 'open'");
    floe_vdb_bind(st, "tt", rq->id, rq->vault);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok)
        *part_size = (uint64_t)floe_vdb_int(st, 0);
    sqlite3_reset(st);
    return ok;
}

void floe_vapi_upload_part_begin(struct floe_vreq *rq)
{
    uint64_t part_size = 0;
    struct floe_byte_range r;
    struct floe_error err = {0};
    if (!floe_vapi_vault_exists(rq))
        return;
    floe_vdb_lock(rq->srv->db);
    bool found = open_upload_locked(rq, &part_size);
    floe_vdb_unlock(rq->srv->db);
    if (!found) {
        upload_not_found(rq);
        return;
    }
    const char *cr = floe_vreq_header(rq, "Content-Range");
    if (!cr) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                        "Required header Content-Range is missing");
        return;
    }
    if (floe_range_parse_content_range(cr, &r, &err) != FLOE_OK) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid Content-Range: %s", cr);
        return;
    }
    struct floe_vupload *up = floe_vupload_begin(rq);
    if (!up)
        return;
    uint64_t len = floe_range_len(r);
    if (len != up->expect_bytes) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Content-Range: %s is incompatible with Content-Length: %llu", cr,
                        (unsigned long long)up->expect_bytes);
        return;
    }
    if (r.first % part_size != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Content-Range: %s does not start at a multiple of the part size %llu", cr,
                        (unsigned long long)part_size);
        return;
    }
    if (len > part_size) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Content-Range: %s is larger than the part size %llu", cr,
                        (unsigned long long)part_size);
        return;
    }
    if (r.first / part_size >= FLOE_MAX_PARTS) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Content-Range: %s is part %llu; an upload has at most %u parts", cr,
                        (unsigned long long)(r.first / part_size + 1), FLOE_MAX_PARTS);
        return;
    }
    up->first = r.first;
    up->part_size = part_size;
}

/* The segment row of one UploadMultipartPart, run by the group committer (lock held, in a
 * transaction). old receives the blob the part replaces, if any. */
struct part_row {
    struct floe_vreq *rq;
    struct floe_vupload *up;
    bool found;
    char old[FLOE_VBLOB_NAME_LEN + 1];
};

static int put_part_row(void *arg, struct floe_error *err)
{
    struct part_row *p = arg;
    struct floe_vreq *rq = p->rq;
    struct floe_vupload *up = p->up;
    struct floe_vdb *db = rq->srv->db;
    uint64_t part_size = 0;
    int64_t idx = (int64_t)(up->first / up->part_size);
    p->found = open_upload_locked(rq, &part_size);
    if (!p->found)
        return FLOE_E_NOT_FOUND;
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT blob FROM segments WHERE owner = ? AND idx = ?");
    floe_vdb_bind(st, "ti", rq->id, idx);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(p->old, sizeof(p->old), "%s", floe_vdb_text(st, 0));
    sqlite3_reset(st);
    int rc =
        floe_vdb_exec(db, err,
                      "INSERT OR REPLACE INTO segments(owner, idx, blob, len, tree_hash,"
                      " leaves, off) VALUES(?, ?, ?, ?, ?, ?, ?)",
                      "tititbi", rq->id, idx, up->w.name, (int64_t)up->w.bytes, up->tree_hex,
                      up->leaves, (int64_t)(up->nleaves * FLOE_HASH_BYTES), (int64_t)up->w.off);
    if (!rc)
        rc = floe_vdb_exec(db, err, "UPDATE uploads SET touched_ms = ? WHERE id = ?", "it",
                           floe_vutil_now_ms(), rq->id);
    return rc;
}

void floe_vapi_upload_part_end(struct floe_vreq *rq)
{
    struct floe_vupload *up = rq->op;
    struct floe_error err = {0};
    if (!floe_vupload_finish(rq, up))
        return;
    struct part_row p = {.rq = rq, .up = up};
    /* 204 only after the group commit that holds the row (and synced the body) returned */
    int rc = floe_vcommit_run(rq->srv->commit, &up->w, put_part_row, &p, &err);
    if (rc) {
        floe_vblob_discard(rq->srv->blobs, &up->w);
        if (rc == FLOE_E_NOT_FOUND && !p.found)
            upload_not_found(rq);
        else
            floe_vapi_internal(rq, &err);
        return;
    }
    floe_vupload_keep(up);
    if (p.old[0] && strcmp(p.old, up->w.name) != 0)
        floe_vblob_unlink(rq->srv->blobs, p.old);
    floe_vreq_set_header(rq, "x-amz-sha256-tree-hash", up->tree_hex);
    floe_vreq_reply_empty(rq, 204);
}

/*
 * CompleteMultipartUpload's headers: x-amz-archive-size into *size and x-amz-sha256-tree-hash
 * into want and want_hex (lower case). Returns false after answering 400.
 */
static bool complete_headers(struct floe_vreq *rq, uint64_t *size, uint8_t want[FLOE_HASH_BYTES],
                             char want_hex[FLOE_HASH_HEX])
{
    const char *size_s = floe_vreq_header(rq, "x-amz-archive-size");
    const char *hash_s = floe_vreq_header(rq, "x-amz-sha256-tree-hash");
    struct floe_error err = {0};
    if (!size_s) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                        "Required header x-amz-archive-size is missing");
        return false;
    }
    if (!hash_s) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                        "Required header x-amz-sha256-tree-hash is missing");
        return false;
    }
    if (floe_vutil_parse_u64(size_s, size) != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid x-amz-archive-size: %s", size_s);
        return false;
    }
    if (strlen(hash_s) != 64 || floe_treehash_parse_hex(hash_s, want, &err) != FLOE_OK) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid x-amz-sha256-tree-hash: %s",
                        hash_s);
        return false;
    }
    floe_treehash_hex(want, want_hex);
    return true;
}

/*
 * check_parts_locked() - the parts of upload rq->id must be 0..n-1, all of part_size but the
 * last, summing to size, and their tree hashes must combine to want. Lock held.
 * msg      OUT: why not (msg_cap bytes), or "" when the parts make the archive.
 * Returns  the number of parts n.
 */
static size_t check_parts_locked(struct floe_vreq *rq, uint64_t part_size, uint64_t size,
                                 const uint8_t want[FLOE_HASH_BYTES], char *msg, size_t msg_cap)
{
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT idx, len, tree_hash FROM segments"
                                                  " WHERE owner = ? ORDER BY idx");
    floe_vdb_bind(st, "t", rq->id);
    uint8_t(*hashes)[FLOE_HASH_BYTES] = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0, prev_len = 0;
    msg[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t idx = (uint64_t)floe_vdb_int(st, 0), len = (uint64_t)floe_vdb_int(st, 1);
        if (idx != n) {
            snprintf(msg, msg_cap,
                     "Part %llu (bytes %llu-%llu) was never uploaded; the parts do not cover the"
                     " archive",
                     (unsigned long long)n, (unsigned long long)(n * part_size),
                     (unsigned long long)((n + 1) * part_size - 1));
            break;
        }
        if (n > 0 && prev_len != part_size) {
            snprintf(msg, msg_cap,
                     "Part %llu has %llu bytes; every part but the last must be the part size"
                     " %llu",
                     (unsigned long long)(n - 1), (unsigned long long)prev_len,
                     (unsigned long long)part_size);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            hashes = floe_xrealloc(hashes, cap * sizeof(*hashes));
        }
        floe_treehash_parse_hex(floe_vdb_text(st, 2), hashes[n], NULL);
        total += len;
        prev_len = len;
        n++;
    }
    sqlite3_reset(st);
    if (!msg[0] && n == 0)
        snprintf(msg, msg_cap, "The multipart upload %s has no parts", rq->id);
    if (!msg[0] && total != size)
        snprintf(msg, msg_cap,
                 "Invalid x-amz-archive-size: %llu; the uploaded parts hold %llu bytes",
                 (unsigned long long)size, (unsigned long long)total);
    if (!msg[0]) {
        uint8_t got[FLOE_HASH_BYTES];
        floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])hashes, n, got);
        if (memcmp(got, want, FLOE_HASH_BYTES) != 0) /* named as the client wrote it */
            snprintf(msg, msg_cap, "Invalid x-amz-sha256-tree-hash: %s",
                     floe_vreq_header(rq, "x-amz-sha256-tree-hash"));
    }
    free(hashes);
    return n;
}

/* Inside the group commit's transaction: the archive archive_id whose segments are the n parts
 * of upload rq->id, the upload marked completed (so a repeated Complete finds it), the vault
 * changed. Lock held. Returns FLOE_OK or FLOE_E_IO (in err). */
static int record_archive_locked(struct floe_vreq *rq, const char *archive_id, const char *desc,
                                 uint64_t size, const char *tree_hex, uint64_t part_size, size_t n,
                                 struct floe_error *err)
{
    struct floe_vdb *db = rq->srv->db;
    int64_t now = floe_vutil_now_ms();
    int rc = floe_vdb_exec(db, err,
                           "INSERT INTO archives(id, vault, description, created_ms, size,"
                           " tree_hash, part_size, nparts, seg_owner) VALUES(?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?)",
                           "tttiitiit", archive_id, rq->vault, desc, now, (int64_t)size, tree_hex,
                           (int64_t)part_size, (int64_t)n, rq->id);
    if (!rc)
        rc = floe_vdb_exec(db, err,
                           "UPDATE uploads SET state = 'completed', archive_id = ?, size = ?,"
                           " tree_hash = ?, touched_ms = ? WHERE id = ?",
                           "titit", archive_id, (int64_t)size, tree_hex, now, rq->id);
    if (!rc)
        rc = floe_vapi_vault_changed_locked(rq, now, err);
    return rc;
}

/* One CompleteMultipartUpload, run by the group committer (lock held, in a transaction). */
struct complete_op {
    struct floe_vreq *rq;
    uint64_t size;
    const uint8_t *want;
    const char *want_hex;
    enum { DONE, NOT_FOUND, INVALID, FAILED } outcome;
    char msg[512];
    char archive_id[FLOE_VID_ARCHIVE_LEN + 1];
};

static int complete_rows(void *arg, struct floe_error *err)
{
    struct complete_op *c = arg;
    struct floe_vreq *rq = c->rq;
    struct floe_vdb *db = rq->srv->db;
    uint64_t part_size = 0;
    c->outcome = DONE;
    c->archive_id[0] = '\0';
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT state, part_size, description, archive_id, size,"
                                         " tree_hash FROM uploads WHERE id = ? AND vault = ?");
    floe_vdb_bind(st, "tt", rq->id, rq->vault);
    if (sqlite3_step(st) != SQLITE_ROW) {
        c->outcome = NOT_FOUND;
    } else if (strcmp(floe_vdb_text(st, 0), "completed") == 0) {
        /* a repeated Complete with the same values returns the same archive */
        if ((uint64_t)floe_vdb_int(st, 4) == c->size &&
            strcmp(floe_vdb_text(st, 5), c->want_hex) == 0)
            snprintf(c->archive_id, sizeof(c->archive_id), "%s", floe_vdb_text(st, 3));
        else
            c->outcome = NOT_FOUND;
    } else if (strcmp(floe_vdb_text(st, 0), "open") != 0) {
        c->outcome = NOT_FOUND;
    }
    part_size = (uint64_t)floe_vdb_int(st, 1);
    char *desc = floe_vdb_text(st, 2) ? floe_xstrdup(floe_vdb_text(st, 2)) : NULL;
    sqlite3_reset(st);
    int rc = FLOE_OK;
    if (c->outcome == DONE && !c->archive_id[0]) {
        size_t n = check_parts_locked(rq, part_size, c->size, c->want, c->msg, sizeof(c->msg));
        if (c->msg[0]) {
            c->outcome = INVALID;
        } else {
            floe_vutil_id(c->archive_id, FLOE_VID_ARCHIVE_LEN, false);
            rc = record_archive_locked(rq, c->archive_id, desc, c->size, c->want_hex, part_size, n,
                                       err);
            if (rc)
                c->outcome = FAILED;
        }
    }
    free(desc);
    if (c->outcome == NOT_FOUND || c->outcome == INVALID)
        return FLOE_E_NOT_FOUND; /* nothing written; rolled back to the savepoint anyway */
    return rc;
}

void floe_vapi_complete_mpu(struct floe_vreq *rq)
{
    uint8_t want[FLOE_HASH_BYTES];
    char want_hex[FLOE_HASH_HEX];
    struct floe_error err = {0};
    struct complete_op c = {.rq = rq, .want = want, .want_hex = want_hex, .outcome = FAILED};
    if (!floe_vapi_vault_exists(rq) || !complete_headers(rq, &c.size, want, want_hex))
        return;
    /* 201 only after the group commit that holds the archive row returned (no blob written
     * here: the parts' blobs were made durable by their own commits) */
    int rc = floe_vcommit_run(rq->srv->commit, NULL, complete_rows, &c, &err);
    if (rc && c.outcome == DONE)
        c.outcome = FAILED; /* the group's COMMIT failed: nothing of it remains */
    if (rc && c.outcome == FAILED && err.status == 0)
        floe_error_set(&err, FLOE_E_IO, "group commit failed");
    switch (c.outcome) {
    case NOT_FOUND: upload_not_found(rq); return;
    case INVALID: floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "%s", c.msg); return;
    case FAILED: floe_vapi_internal(rq, &err); return;
    case DONE: break;
    }
    floe_vapi_location(rq, "/archives/", c.archive_id);
    floe_vreq_set_header(rq, "x-amz-archive-id", c.archive_id);
    floe_vreq_set_header(rq, "x-amz-sha256-tree-hash", want_hex);
    floe_vreq_reply_empty(rq, 201);
}

void floe_vapi_abort_mpu(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    struct floe_vdb *db = rq->srv->db;
    struct floe_vblob_names blobs = {0};
    int rc = FLOE_OK;
    bool found = false;
    if (!floe_vapi_vault_exists(rq))
        return;
    floe_vdb_lock(db);
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT state FROM uploads WHERE id = ? AND vault = ?");
    floe_vdb_bind(st, "tt", rq->id, rq->vault);
    const char *state = sqlite3_step(st) == SQLITE_ROW ? floe_vdb_text(st, 0) : NULL;
    bool open = state && strcmp(state, "open") == 0;
    found = state && strcmp(state, "completed") != 0;
    sqlite3_reset(st);
    if (open) {
        st = floe_vdb_stmt(db, "SELECT blob FROM segments WHERE owner = ?");
        floe_vdb_bind(st, "t", rq->id);
        while (sqlite3_step(st) == SQLITE_ROW)
            floe_vblob_names_add(&blobs, floe_vdb_text(st, 0));
        sqlite3_reset(st);
        rc = floe_vdb_begin(db, &err);
        if (!rc)
            rc = floe_vdb_exec(db, &err, "DELETE FROM segments WHERE owner = ?", "t", rq->id);
        if (!rc)
            rc = floe_vdb_exec(db, &err,
                               "UPDATE uploads SET state = 'aborted', touched_ms = ? WHERE id = ?",
                               "it", floe_vutil_now_ms(), rq->id);
        rc = floe_vdb_end(db, rc, &err);
        if (rc)
            blobs.n = 0;
    }
    floe_vdb_unlock(db);
    floe_vblob_names_unlink(rq->srv->blobs, &blobs);
    if (rc)
        floe_vapi_internal(rq, &err);
    else if (!found)
        upload_not_found(rq);
    else
        floe_vreq_reply_empty(rq, 204);
}

/* The ListParts item of the segments row in st (idx, len, tree_hash); user points at the
 * upload's part size. A floe_vapi_row_fn. */
static json_t *part_json(struct floe_vreq *rq, sqlite3_stmt *st, void *user)
{
    uint64_t part_size = *(const uint64_t *)user;
    uint64_t first = (uint64_t)floe_vdb_int(st, 0) * part_size;
    char range[64];
    (void)rq;
    snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)first,
             (unsigned long long)(first + (uint64_t)floe_vdb_int(st, 1) - 1));
    return json_pack("{s:s, s:s}", "RangeInBytes", range, "SHA256TreeHash", floe_vdb_text(st, 2));
}

void floe_vapi_list_parts(struct floe_vreq *rq)
{
    int64_t limit;
    uint64_t from = 0;
    const char *marker = floe_vreq_param(rq, "marker");
    if (!floe_vapi_parse_limit(rq, 50, &limit) || !floe_vapi_vault_exists(rq))
        return;
    if (marker && *marker && floe_vutil_parse_u64(marker, &from) != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid marker: %s", marker);
        return;
    }
    json_t *o = NULL;
    floe_vdb_lock_read(rq->srv->db);
    sqlite3_stmt *st =
        floe_vdb_stmt(rq->srv->db, "SELECT id, description, part_size, created_ms FROM uploads"
                                   " WHERE id = ? AND vault = ? AND state = 'open'");
    floe_vdb_bind(st, "tt", rq->id, rq->vault);
    if (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t part_size = (uint64_t)floe_vdb_int(st, 2);
        o = upload_json(rq, st, NULL);
        sqlite3_reset(st);
        json_t *next;
        st = floe_vdb_stmt(rq->srv->db, "SELECT idx, len, tree_hash FROM segments WHERE owner = ?"
                                        " AND idx >= ? ORDER BY idx LIMIT ?");
        floe_vdb_bind(st, "tii", rq->id, (int64_t)from, limit + 1);
        json_t *parts = floe_vapi_page_locked(rq, st, limit, part_json, NULL, &part_size, &next);
        json_object_set_new(o, "Marker", next);
        json_object_set_new(o, "Parts", parts);
    }
    sqlite3_reset(st);
    floe_vdb_unlock_read(rq->srv->db);
    if (!o) {
        upload_not_found(rq);
        return;
    }
    floe_vapi_reply_json(rq, 200, o);
}
