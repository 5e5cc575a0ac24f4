/*
 * api_archives.c - UploadArchive (streamed, verified, durable before 201) and DeleteArchive.
 *
 * An archive uploaded in one request is one segment (index 0) owned by the archive id; its
 * part_size is its own size. Deletion marks the row (deleted_ms): retrieval jobs that already
 * staged its bytes keep serving them, and the scheduler's garbage collection removes the data
 * once no such job remains.
 */
#include "api.h"

#include "api_common.h"
#include "commit.h"
#include "errors.h"
#include "policy.h"
#include "store_db.h"
#include "upload.h"
#include "vctx.h"
#include "vutil.h"
#include "floe/range.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void floe_vapi_upload_data(struct floe_vreq *rq, const char *data, size_t n)
{
    floe_vupload_data(rq, data, n);
}

void floe_vapi_upload_archive_begin(struct floe_vreq *rq)
{
    char *desc = NULL;
    if (!floe_vapi_vault_exists(rq) || !floe_vapi_description(rq, &desc))
        return;
    struct floe_vupload *up = floe_vupload_begin(rq);
    if (!up) {
        free(desc);
        return;
    }
    up->description = desc;
    if (up->expect_bytes == 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid Content-Length: 0 (an archive must have at least 1 byte)");
        return;
    }
    if (up->expect_bytes > FLOE_UPLOAD_ARCHIVE_MAX)
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid Content-Length: %llu (UploadArchive takes at most %llu bytes; "
                        "use a multipart upload)",
                        (unsigned long long)up->expect_bytes,
                        (unsigned long long)FLOE_UPLOAD_ARCHIVE_MAX);
}

/* The rows of one UploadArchive, run by the group committer (lock held, in a transaction). */
struct archive_rows {
    struct floe_vreq *rq;
    struct floe_vupload *up;
    const char *id;
    int64_t now;
    bool vault_gone;
};

static int insert_archive_rows(void *arg, struct floe_error *err)
{
    struct archive_rows *a = arg;
    struct floe_vreq *rq = a->rq;
    struct floe_vupload *up = a->up;
    struct floe_vdb *db = rq->srv->db;
    if (!floe_vapi_vault_exists_locked(rq)) { /* deleted since the check in begin */
        a->vault_gone = true;
        return FLOE_E_NOT_FOUND;
    }
    int rc = floe_vdb_exec(db, err,
                           "INSERT INTO archives(id, vault, description, created_ms, size,"
                           " tree_hash, part_size, nparts, seg_owner) VALUES(?1, ?2, ?3, ?4, ?5,"
                           " ?6, ?5, 1, ?1)",
                           "tttiit", a->id, rq->vault, up->description, a->now,
                           (int64_t)up->w.bytes, up->tree_hex);
    if (!rc)
        rc =
            floe_vdb_exec(db, err,
                          "INSERT INTO segments(owner, idx, blob, len, tree_hash, leaves, off)"
                          " VALUES(?, 0, ?, ?, ?, ?, ?)",
                          "ttitbi", a->id, up->w.name, (int64_t)up->w.bytes, up->tree_hex,
                          up->leaves, (int64_t)(up->nleaves * FLOE_HASH_BYTES), (int64_t)up->w.off);
    if (!rc)
        rc = floe_vapi_vault_changed_locked(rq, a->now, err);
    return rc;
}

void floe_vapi_upload_archive_end(struct floe_vreq *rq)
{
    struct floe_vupload *up = rq->op;
    struct floe_error err = {0};
    char id[FLOE_VID_ARCHIVE_LEN + 1];
    if (!floe_vupload_finish(rq, up))
        return;
    floe_vutil_id(id, FLOE_VID_ARCHIVE_LEN, false);
    struct archive_rows a = {.rq = rq, .up = up, .id = id, .now = floe_vutil_now_ms()};
    /* 201 only after the group commit that holds these rows (and synced the body) returned */
    int rc = floe_vcommit_run(rq->srv->commit, &up->w, insert_archive_rows, &a, &err);
    if (a.vault_gone) {
        floe_vblob_discard(rq->srv->blobs, &up->w);
        floe_vapi_vault_not_found(rq);
        return;
    }
    if (rc) {
        floe_vblob_discard(rq->srv->blobs, &up->w);
        floe_vapi_internal(rq, &err);
        return;
    }
    floe_vupload_keep(up);
    floe_vapi_location(rq, "/archives/", id);
    floe_vreq_set_header(rq, "x-amz-archive-id", id);
    floe_vreq_set_header(rq, "x-amz-sha256-tree-hash", up->tree_hex);
    floe_vreq_reply_empty(rq, 201);
}

/* DeleteArchive's unit of the group commit (commit.h): the checks and the update, lock held,
 * inside the group's transaction. Outcomes other than a database error go in the unit. */
struct delete_unit {
    struct floe_vreq *rq;
    int64_t now;
    bool missing_vault, denied;
    char why[512], other[512];
};

static int delete_archive_rows(void *arg, struct floe_error *err)
{
    struct delete_unit *d = arg;
    struct floe_vreq *rq = d->rq;
    struct floe_vdb *db = rq->srv->db;
    if (!floe_vapi_vault_exists_locked(rq)) {
        d->missing_vault = true;
        return FLOE_OK;
    }
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT vault, created_ms FROM archives WHERE id = ?"
                                         " AND deleted_ms IS NULL");
    floe_vdb_bind(st, "t", rq->id);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    bool other = found && strcmp(floe_vdb_text(st, 0), rq->vault) != 0;
    int64_t created = found ? floe_vdb_int(st, 1) : 0;
    sqlite3_reset(st);
    if (!found) /* unknown or already deleted: 204, as the service answers */
        return FLOE_OK;
    if (other) {
        floe_vconfig_vault_arn(&rq->srv->cfg, rq->vault, d->other, sizeof(d->other));
        return FLOE_OK;
    }
    d->denied = floe_vpolicy_lock_denies_locked(rq->srv, rq->vault, "glacier:DeleteArchive",
                                                created, d->why, sizeof(d->why));
    if (d->denied)
        return FLOE_OK;
    int rc = floe_vdb_exec(db, err, "UPDATE archives SET deleted_ms = ? WHERE id = ?", "it", d->now,
                           rq->id);
    return rc ? rc : floe_vapi_vault_changed_locked(rq, d->now, err);
}

/* Through the group commit, so a purge's many concurrent deletions share one WAL fsync. */
void floe_vapi_delete_archive(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    struct delete_unit d = {.rq = rq, .now = floe_vutil_now_ms()};
    int rc = floe_vcommit_run(rq->srv->commit, false, delete_archive_rows, &d, &err);
    if (rc)
        floe_vapi_internal(rq, &err);
    else if (d.missing_vault)
        floe_vapi_vault_not_found(rq);
    else if (d.other[0])
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid vault name: %s", d.other);
    else if (d.denied)
        floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED, "%s", d.why);
    else
        floe_vreq_reply_empty(rq, 204);
}
