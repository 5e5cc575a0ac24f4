/*
 * jobs.c - the scheduler (see jobs.h).
 *
 * DESIGN
 * One thread sleeps on a condition variable until the earliest InProgress deadline (or 30 s,
 * or a kick), then completes every due job, each in its own short critical section of the
 * database lock. Completion of an archive-retrieval job reads no archive data: the
 * SHA256TreeHash of an aligned range is combined from the leaf hashes stored with each
 * segment. An inventory job writes its JSON or CSV output to a blob (fsynced) before the row
 * that names it is updated, so a crash leaves at worst an orphan blob. With zero delays
 * (--job-delay instant) InitiateJob completes the job itself before answering, so tests see
 * Succeeded at once. Notifications are queued after the database lock is released.
 */
#include "jobs.h"

#include "alloc.h"
#include "notify.h"
#include "store_blob.h"
#include "store_db.h"
#include "vctx.h"
#include "vlog.h"
#include "vselect.h"
#include "vutil.h"
#include "floe/range.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    C_ID = 0,
    C_VAULT,
    C_ACTION,
    C_ARCHIVE_ID,
    C_DESC,
    C_SNS,
    C_TIER,
    C_CREATED,
    C_STATUS,
    C_STATUS_MSG,
    C_COMPLETED,
    C_RANGE_FIRST,
    C_RANGE_LAST,
    C_ARCHIVE_SIZE,
    C_ARCHIVE_TREE,
    C_TREE,
    C_INV_SIZE,
    C_FORMAT,
    C_INV_START,
    C_INV_END,
    C_INV_LIMIT,
    C_INV_MARKER,
    C_NEXT_MARKER,
    C_SELECT,
    C_OUTPUT_PATH,
    C_OUTPUT_BLOB
};

struct floe_vjobs {
    struct floe_vserver *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        bool stopping;
        bool kicked;
    } locked;                    /* guarded by mu */
    int64_t last_gc_ms;          /* scheduler thread only */
    struct floe_vselect *select; /* the select job runner (vselect.h); set before the thread */
};

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const char *s = floe_vdb_text(st, col);
    return s ? json_string(s) : json_null();
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return floe_vdb_is_null(st, col) ? json_null() : json_integer(floe_vdb_int(st, col));
}

static json_t *date_or_null(sqlite3_stmt *st, int col)
{
    char iso[FLOE_VTIME_ISO_MAX];
    if (floe_vdb_is_null(st, col))
        return json_null();
    floe_vutil_iso(floe_vdb_int(st, col), true, iso);
    return json_string(iso);
}

json_t *floe_vjobs_row_json(const struct floe_vserver *srv, sqlite3_stmt *st)
{
    char arn[512];
    const char *action = floe_vdb_text(st, C_ACTION);
    const char *status = floe_vdb_text(st, C_STATUS);
    bool done = strcmp(status, "InProgress") != 0;
    bool archive = strcmp(action, "ArchiveRetrieval") == 0;
    bool inventory = strcmp(action, "InventoryRetrieval") == 0;
    bool select = strcmp(action, "Select") == 0;
    floe_vconfig_vault_arn(&srv->cfg, floe_vdb_text(st, C_VAULT), arn, sizeof(arn));
    json_t *o = json_object();
    json_object_set_new(o, "JobId", text_or_null(st, C_ID));
    json_object_set_new(o, "JobDescription", text_or_null(st, C_DESC));
    json_object_set_new(o, "Action", json_string(action));
    json_object_set_new(o, "ArchiveId", text_or_null(st, C_ARCHIVE_ID));
    json_object_set_new(o, "VaultARN", json_string(arn));
    json_object_set_new(o, "CreationDate", date_or_null(st, C_CREATED));
    json_object_set_new(o, "Completed", json_boolean(done));
    json_object_set_new(o, "StatusCode", json_string(status));
    json_object_set_new(o, "StatusMessage", text_or_null(st, C_STATUS_MSG));
    json_object_set_new(o, "ArchiveSizeInBytes",
                        archive ? int_or_null(st, C_ARCHIVE_SIZE) : json_null());
    json_object_set_new(o, "InventorySizeInBytes",
                        inventory && done ? int_or_null(st, C_INV_SIZE) : json_null());
    json_object_set_new(o, "SNSTopic", text_or_null(st, C_SNS));
    json_object_set_new(o, "CompletionDate", date_or_null(st, C_COMPLETED));
    json_object_set_new(o, "SHA256TreeHash",
                        archive && done ? text_or_null(st, C_TREE) : json_null());
    json_object_set_new(o, "ArchiveSHA256TreeHash",
                        archive ? text_or_null(st, C_ARCHIVE_TREE) : json_null());
    if (archive) {
        char range[64];
        snprintf(range, sizeof(range), "%lld-%lld", (long long)floe_vdb_int(st, C_RANGE_FIRST),
                 (long long)floe_vdb_int(st, C_RANGE_LAST));
        json_object_set_new(o, "RetrievalByteRange", json_string(range));
    } else {
        json_object_set_new(o, "RetrievalByteRange", json_null());
    }
    json_object_set_new(o, "Tier", text_or_null(st, C_TIER));
    json_object_set_new(o, "JobOutputPath", select ? text_or_null(st, C_OUTPUT_PATH) : json_null());
    if (inventory) {
        json_t *p = json_object();
        json_object_set_new(p, "Format", text_or_null(st, C_FORMAT));
        json_object_set_new(p, "StartDate", text_or_null(st, C_INV_START));
        json_object_set_new(p, "EndDate", text_or_null(st, C_INV_END));
        json_object_set_new(p, "Limit", text_or_null(st, C_INV_LIMIT));
        json_object_set_new(p, "Marker", done ? text_or_null(st, C_NEXT_MARKER) : json_null());
        json_object_set_new(o, "InventoryRetrievalParameters", p);
    }
    if (select && floe_vdb_text(st, C_SELECT)) {
        json_t *sel = json_loads(floe_vdb_text(st, C_SELECT), 0, NULL);
        if (sel) {
            json_t *v = json_object_get(sel, "SelectParameters");
            if (v)
                json_object_set(o, "SelectParameters", v);
            v = json_object_get(sel, "OutputLocation");
            if (v)
                json_object_set(o, "OutputLocation", v);
            json_decref(sel);
        }
    }
    return o;
}

void floe_vjobs_marker_encode(int64_t created_ms, const char *archive_id, char *out, size_t cap)
{
    char raw[256];
    int n = snprintf(raw, sizeof(raw), "%lld:%s", (long long)created_ms, archive_id);
    if (n < 0 || (size_t)n >= sizeof(raw) || cap < (size_t)n * 4 / 3 + 4) {
        out[0] = '\0';
        return;
    }
    floe_vutil_b64url_encode(raw, (size_t)n, out);
}

int floe_vjobs_marker_decode(const char *marker, int64_t *created_ms, char *archive_id, size_t cap)
{
    char raw[256];
    size_t n = strlen(marker);
    if (n == 0 || n > 320)
        return -1;
    long len = floe_vutil_b64url_decode(marker, n, raw);
    if (len <= 0 || (size_t)len >= sizeof(raw))
        return -1;
    raw[len] = '\0';
    char *colon = strchr(raw, ':');
    uint64_t ms;
    if (!colon || !colon[1] || strlen(colon + 1) >= cap)
        return -1;
    *colon = '\0';
    if (floe_vutil_parse_u64(raw, &ms) != 0)
        return -1;
    *created_ms = (int64_t)ms;
    snprintf(archive_id, cap, "%s", colon + 1);
    return 0;
}

int floe_vjobs_range_tree_hash(struct floe_vserver *srv, const char *seg_owner, uint64_t part_size,
                               uint64_t first, uint64_t last, uint8_t out[FLOE_HASH_BYTES],
                               struct floe_error *err)
{
    uint64_t leaf_a = first / FLOE_MIB, leaf_b = (last + FLOE_MIB) / FLOE_MIB;
    uint64_t count = leaf_b - leaf_a, filled = 0;
    uint64_t per_seg = part_size / FLOE_MIB;
    uint8_t(*leaves)[FLOE_HASH_BYTES] = floe_xmalloc((size_t)count * FLOE_HASH_BYTES);
    int rc = FLOE_OK;
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT idx, leaves FROM segments WHERE owner = ?"
                                              " AND idx BETWEEN ? AND ? ORDER BY idx");
    floe_vdb_bind(st, "tii", seg_owner, (int64_t)(leaf_a * FLOE_MIB / part_size),
                  (int64_t)((leaf_b - 1) * FLOE_MIB / part_size));
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t base = (uint64_t)floe_vdb_int(st, 0) * per_seg;
        const uint8_t *blob = sqlite3_column_blob(st, 1);
        uint64_t nl = (uint64_t)sqlite3_column_bytes(st, 1) / FLOE_HASH_BYTES;
        for (uint64_t i = 0; i < nl; i++) {
            uint64_t g = base + i;
            if (g >= leaf_a && g < leaf_b) {
                memcpy(leaves[g - leaf_a], blob + i * FLOE_HASH_BYTES, FLOE_HASH_BYTES);
                filled++;
            }
        }
    }
    sqlite3_reset(st);
    if (filled != count) {
        rc = floe_error_set(err, FLOE_E_CORRUPT,
                            "leaf hashes of %s cover %llu of the %llu leaves of bytes %llu-%llu",
                            seg_owner, (unsigned long long)filled, (unsigned long long)count,
                            (unsigned long long)first, (unsigned long long)last);
        goto out;
    }
    floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])leaves, (size_t)count, out);
out:
    free(leaves);
    return rc;
}

/* Writes an inventory row to the blob; returns FLOE_OK or FLOE_E_IO. */
static int put(struct floe_vblob_writer *w, const char *s, struct floe_error *err)
{
    return floe_vblob_write(w, s, strlen(s), err);
}

/* CSV field with the description rule of docs/glacier-api.md 4.4: always quoted, '"' -> '\"'. */
static char *csv_quote(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *q = floe_xmalloc(n * 2 + 3);
    q[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            q[o++] = '\\';
        q[o++] = s[i];
    }
    q[o++] = '"';
    q[o] = '\0';
    return q;
}

struct inv_result {
    char blob[FLOE_VBLOB_NAME_LEN + 1];
    uint64_t size;
    char next_marker[400];
};

/* Build the inventory of a job row (lock held). */
static int build_inventory(struct floe_vserver *srv, const char *vault, const char *format,
                           const char *start, const char *end, const char *limit,
                           const char *marker, int64_t now, struct inv_result *res,
                           struct floe_error *err)
{
    struct floe_vblob_writer w = {.fd = -1};
    int64_t start_ms = 0, end_ms = INT64_MAX, marker_ms = -1;
    uint64_t lim = UINT64_MAX;
    char marker_id[FLOE_VID_MAX] = "";
    char arn[512], iso[FLOE_VTIME_ISO_MAX], line[4096];
    bool csv = format && strcmp(format, "CSV") == 0;
    int rc;
    if (start)
        floe_vutil_parse_iso(start, &start_ms);
    if (end)
        floe_vutil_parse_iso(end, &end_ms);
    if (limit)
        floe_vutil_parse_u64(limit, &lim);
    if (marker && floe_vjobs_marker_decode(marker, &marker_ms, marker_id, sizeof(marker_id)))
        marker_ms = -1;
    rc = floe_vblob_create(srv->blobs, &w, err);
    if (rc)
        return rc;
    floe_vconfig_vault_arn(&srv->cfg, vault, arn, sizeof(arn));
    int64_t asof = now - srv->cfg.inventory_staleness_ms;
    floe_vutil_iso(asof, false, iso);
    if (csv) {
        rc = put(&w, "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n", err);
    } else {
        json_t *head = json_pack("{s:s, s:s}", "VaultARN", arn, "InventoryDate", iso);
        char *h = json_dumps(head, JSON_COMPACT);
        json_decref(head);
        h[strlen(h) - 1] = '\0'; /* drop the closing brace: the list follows */
        rc = put(&w, h, err);
        free(h);
        if (!rc)
            rc = put(&w, ",\"ArchiveList\":[", err);
    }
    /* the snapshot: archives that existed at `asof` (created by then, not yet deleted) */
    sqlite3_stmt *st =
        floe_vdb_stmt(srv->db, "SELECT id, description, created_ms, size, tree_hash FROM archives"
                               " WHERE vault = ?1 AND (deleted_ms IS NULL OR deleted_ms > ?6)"
                               " AND created_ms <= ?6 AND created_ms >= ?2 AND created_ms < ?3"
                               " AND (created_ms > ?4 OR (created_ms = ?4 AND id > ?5))"
                               " ORDER BY created_ms, id");
    floe_vdb_bind(st, "tiiiti", vault, start_ms, end_ms, marker_ms, marker_id, asof);
    uint64_t n = 0;
    res->next_marker[0] = '\0';
    int64_t last_ms = 0;
    char last_id[FLOE_VID_MAX] = "";
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (n == lim) {
            floe_vjobs_marker_encode(last_ms, last_id, res->next_marker, sizeof(res->next_marker));
            break;
        }
        const char *id = floe_vdb_text(st, 0);
        const char *desc = floe_vdb_text(st, 1) ? floe_vdb_text(st, 1) : "";
        int64_t created = floe_vdb_int(st, 2);
        char ciso[FLOE_VTIME_ISO_MAX];
        floe_vutil_iso(created, true, ciso);
        if (csv) {
            char *q = csv_quote(desc);
            snprintf(line, sizeof(line), "%s,%s,%s,%lld,%s\n", id, q, ciso,
                     (long long)floe_vdb_int(st, 3), floe_vdb_text(st, 4));
            free(q);
            rc = put(&w, line, err);
        } else {
            json_t *a =
                json_pack("{s:s, s:s, s:s, s:I, s:s}", "ArchiveId", id, "ArchiveDescription", desc,
                          "CreationDate", ciso, "Size", (json_int_t)floe_vdb_int(st, 3),
                          "SHA256TreeHash", floe_vdb_text(st, 4));
            char *s = json_dumps(a, JSON_COMPACT);
            json_decref(a);
            if (n)
                rc = put(&w, ",", err);
            if (!rc)
                rc = put(&w, s, err);
            free(s);
        }
        last_ms = created;
        snprintf(last_id, sizeof(last_id), "%s", id);
        n++;
    }
    sqlite3_reset(st);
    if (!rc && !csv)
        rc = put(&w, "]}", err);
    if (!rc)
        rc = floe_vblob_finish(srv->blobs, &w, err);
    if (rc) {
        floe_vblob_discard(srv->blobs, &w);
        return rc;
    }
    memcpy(res->blob, w.name, sizeof(res->blob));
    res->size = w.bytes;
    return FLOE_OK;
}

static const char *s_select_cols = "SELECT " FLOE_VJOBS_COLUMNS " FROM jobs WHERE id = ?";

/* The values of a job row that completing it needs, copied (malloc'd; job_row_free()). */
struct job_row {
    char *vault, *action, *archive_id, *sns, *format;
    char *inv[4]; /* inventory StartDate, EndDate, Limit, Marker */
    uint64_t range_first, range_last;
};

static char *dup_or_null(sqlite3_stmt *st, int col)
{
    return floe_vdb_text(st, col) ? floe_xstrdup(floe_vdb_text(st, col)) : NULL;
}

/* Job job_id into j if it exists and is still InProgress; false otherwise. Lock held. */
static bool load_job_locked(struct floe_vserver *srv, const char *job_id, struct job_row *j)
{
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, s_select_cols);
    floe_vdb_bind(st, "t", job_id);
    bool due =
        sqlite3_step(st) == SQLITE_ROW && strcmp(floe_vdb_text(st, C_STATUS), "InProgress") == 0;
    if (due) {
        j->vault = floe_xstrdup(floe_vdb_text(st, C_VAULT));
        j->action = floe_xstrdup(floe_vdb_text(st, C_ACTION));
        j->archive_id = dup_or_null(st, C_ARCHIVE_ID);
        j->sns = dup_or_null(st, C_SNS);
        j->range_first = (uint64_t)floe_vdb_int(st, C_RANGE_FIRST);
        j->range_last = (uint64_t)floe_vdb_int(st, C_RANGE_LAST);
        j->format = dup_or_null(st, C_FORMAT);
        for (int i = 0; i < 4; i++)
            j->inv[i] = dup_or_null(st, C_INV_START + i);
    }
    sqlite3_reset(st);
    return due;
}

static void job_row_free(struct job_row *j)
{
    free(j->vault);
    free(j->action);
    free(j->archive_id);
    free(j->sns);
    free(j->format);
    for (int i = 0; i < 4; i++)
        free(j->inv[i]);
}

/*
 * An archive retrieval's result: the SHA256TreeHash of its range into tree_hex (left "" when
 * the range is not tree-hash aligned), or why it failed into fail (the archive was deleted,
 * leaf hashes are missing). Reads no archive data. Lock held.
 */
static void archive_result_locked(struct floe_vserver *srv, const struct job_row *j,
                                  char tree_hex[FLOE_HASH_HEX], char *fail, size_t fail_cap)
{
    struct floe_error err = {0};
    uint64_t rf = j->range_first, rl = j->range_last;
    sqlite3_stmt *a = floe_vdb_stmt(srv->db, "SELECT deleted_ms, seg_owner, part_size, size,"
                                             " tree_hash FROM archives WHERE id = ?");
    floe_vdb_bind(a, "t", j->archive_id);
    if (sqlite3_step(a) != SQLITE_ROW || !floe_vdb_is_null(a, 0)) {
        snprintf(fail, fail_cap, "The archive was deleted before the job completed: %s",
                 j->archive_id);
    } else {
        uint64_t size = (uint64_t)floe_vdb_int(a, 3);
        struct floe_byte_range r = {rf, rl};
        if (rf == 0 && rl + 1 == size) {
            snprintf(tree_hex, FLOE_HASH_HEX, "%s", floe_vdb_text(a, 4));
        } else if (floe_range_is_tree_aligned(r, size)) {
            uint8_t h[FLOE_HASH_BYTES];
            char *owner = floe_xstrdup(floe_vdb_text(a, 1));
            uint64_t ps = (uint64_t)floe_vdb_int(a, 2);
            sqlite3_reset(a);
            if (floe_vjobs_range_tree_hash(srv, owner, ps, rf, rl, h, &err) == FLOE_OK)
                floe_treehash_hex(h, tree_hex);
            else
                snprintf(fail, fail_cap, "Retrieval failed: %s", err.message);
            free(owner);
        }
    }
    sqlite3_reset(a);
}

/*
 * Who hears that job_id completed: topics[0] the vault's topic when its notification
 * configuration names this event, topics[1] the job's own SNSTopic when it differs; and
 * *message, the job's DescribeJob JSON. All malloc'd or NULL. Lock held.
 */
static void notification_locked(struct floe_vserver *srv, const char *job_id,
                                const struct job_row *j, char *topics[2], char **message)
{
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, s_select_cols);
    floe_vdb_bind(st, "t", job_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = floe_vjobs_row_json(srv, st);
        *message = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    sqlite3_reset(st);
    const char *event = strcmp(j->action, "ArchiveRetrieval") == 0 ? "ArchiveRetrievalCompleted"
                        : strcmp(j->action, "InventoryRetrieval") == 0
                            ? "InventoryRetrievalCompleted"
                            : NULL;
    st = floe_vdb_stmt(srv->db, "SELECT notify_topic, notify_events FROM vaults WHERE name = ?");
    floe_vdb_bind(st, "t", j->vault);
    if (event && sqlite3_step(st) == SQLITE_ROW && floe_vdb_text(st, 0) && floe_vdb_text(st, 1)) {
        json_t *ev = json_loads(floe_vdb_text(st, 1), 0, NULL);
        size_t i;
        json_t *v;
        json_array_foreach(ev, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), event) == 0)
                topics[0] = floe_xstrdup(floe_vdb_text(st, 0));
        }
        json_decref(ev);
    }
    sqlite3_reset(st);
    if (j->sns && (!topics[0] || strcmp(topics[0], j->sns) != 0))
        topics[1] = floe_xstrdup(j->sns);
}

/*
 * Record job_id's outcome (fail NULL or "": Succeeded) with its results, then release the
 * lock and post the notifications. Lock held on entry, released on return.
 */
static void record_outcome_unlock(struct floe_vserver *srv, const char *job_id,
                                  const struct job_row *j, const char *fail, const char *tree_hex,
                                  const struct inv_result *ir)
{
    struct floe_error err = {0};
    char *message = NULL, *topics[2] = {NULL, NULL};
    int64_t now = floe_vutil_now_ms();
    bool failed = fail && fail[0];
    const char *status = failed ? "Failed" : "Succeeded", *status_msg = failed ? fail : "Succeeded";
    if (floe_vdb_exec(srv->db, &err,
                      "UPDATE jobs SET status = ?, status_message = ?, completed_ms = ?,"
                      " expires_ms = ?, tree_hash = ?, inventory_size = ?, output_blob = ?,"
                      " next_marker = ? WHERE id = ? AND status = 'InProgress'",
                      "ttiitittt", status, status_msg, now, now + srv->cfg.job_expiry_ms,
                      tree_hex[0] ? tree_hex : NULL, ir->blob[0] ? (int64_t)ir->size : 0,
                      ir->blob[0] ? ir->blob : NULL, ir->next_marker[0] ? ir->next_marker : NULL,
                      job_id) != FLOE_OK) {
        floe_vlog(&srv->cfg, FLOE_VLOG_ERROR, "job %s: cannot record completion: %s", job_id,
                  err.message);
        if (ir->blob[0])
            floe_vblob_unlink(srv->blobs, ir->blob);
    } else {
        notification_locked(srv, job_id, j, topics, &message);
    }
    floe_vdb_unlock(srv->db);
    floe_vlog(&srv->cfg, FLOE_VLOG_INFO, "job %.16s... %s: %s", job_id, status, status_msg);
    for (int i = 0; i < 2; i++) {
        if (topics[i] && message)
            floe_vnotify_post(srv->notify, topics[i], message);
        free(topics[i]);
    }
    free(message);
}

void floe_vjobs_complete(struct floe_vserver *srv, const char *job_id)
{
    struct floe_error err = {0};
    struct job_row j = {0};
    floe_vdb_lock(srv->db);
    if (!load_job_locked(srv, job_id, &j)) {
        floe_vdb_unlock(srv->db);
        return;
    }
    char tree_hex[FLOE_HASH_HEX] = "", fail[1024] = "";
    struct inv_result ir = {0};
    if (strcmp(j.action, "ArchiveRetrieval") == 0) {
        archive_result_locked(srv, &j, tree_hex, fail, sizeof(fail));
    } else if (strcmp(j.action, "InventoryRetrieval") == 0) {
        if (build_inventory(srv, j.vault, j.format, j.inv[0], j.inv[1], j.inv[2], j.inv[3],
                            floe_vutil_now_ms(), &ir, &err))
            snprintf(fail, sizeof(fail), "Inventory could not be written: %s", err.message);
    } else if (srv->jobs && srv->jobs->select) {
        /* a select job runs on its own thread and records its outcome with floe_vjobs_finish */
        floe_vdb_unlock(srv->db);
        floe_vselect_launch(srv->jobs->select, job_id);
        job_row_free(&j);
        return;
    } else {
        snprintf(fail, sizeof(fail), "the select runner is not started");
    }
    record_outcome_unlock(srv, job_id, &j, fail, tree_hex, &ir);
    job_row_free(&j);
}

void floe_vjobs_finish(struct floe_vserver *srv, const char *job_id, const char *fail)
{
    struct job_row j = {0};
    struct inv_result ir = {0};
    floe_vdb_lock(srv->db);
    if (!load_job_locked(srv, job_id, &j)) {
        floe_vdb_unlock(srv->db);
        return;
    }
    record_outcome_unlock(srv, job_id, &j, fail, "", &ir);
    job_row_free(&j);
}

#define DEAD_ARCHIVE                                                                               \
    "deleted_ms IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.archive_id = a.id"        \
    " AND j.action = 'ArchiveRetrieval' AND j.status = 'Succeeded')"
#define IDLE_UPLOAD "SELECT id FROM uploads WHERE state = 'open' AND touched_ms <= ?1"

static void collect_garbage(struct floe_vserver *srv, int64_t now)
{
    struct floe_vblob_names ns = {0};
    struct floe_error err = {0};
    int64_t idle = now - srv->cfg.upload_expiry_ms;
    floe_vdb_lock(srv->db);
    if (floe_vdb_begin(srv->db, &err) != FLOE_OK)
        goto out;
    /* expired jobs and their output */
    sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT output_blob FROM jobs WHERE expires_ms <= ?");
    floe_vdb_bind(st, "i", now);
    while (sqlite3_step(st) == SQLITE_ROW)
        floe_vblob_names_add(&ns, floe_vdb_text(st, 0));
    sqlite3_reset(st);
    floe_vdb_exec(srv->db, NULL, "DELETE FROM jobs WHERE expires_ms <= ?", "i", now);
    /* deleted archives that no staged job output still serves; idle uploads (aborted) */
    st =
        floe_vdb_stmt(srv->db, "SELECT blob FROM segments WHERE owner IN (SELECT seg_owner FROM"
                               " archives a WHERE " DEAD_ARCHIVE ") OR owner IN (" IDLE_UPLOAD ")");
    floe_vdb_bind(st, "i", idle);
    while (sqlite3_step(st) == SQLITE_ROW)
        floe_vblob_names_add(&ns, floe_vdb_text(st, 0));
    sqlite3_reset(st);
    floe_vdb_exec(
        srv->db, NULL,
        "DELETE FROM segments WHERE owner IN (SELECT seg_owner FROM archives a WHERE " DEAD_ARCHIVE
        ") OR owner IN (" IDLE_UPLOAD ")",
        "i", idle);
    floe_vdb_exec(srv->db, NULL,
                  "DELETE FROM archives WHERE id IN (SELECT id FROM archives a"
                  " WHERE " DEAD_ARCHIVE ")",
                  "");
    /* finished upload records (kept for idempotent Complete/Abort) and idle uploads */
    floe_vdb_exec(srv->db, NULL, "DELETE FROM uploads WHERE touched_ms <= ?", "i", idle);
    if (floe_vdb_commit(srv->db, &err) != FLOE_OK)
        ns.n = 0;
out:
    floe_vdb_unlock(srv->db);
    floe_vblob_names_unlink(srv->blobs, &ns);
}

void floe_vjobs_tick(struct floe_vserver *srv, int64_t now_ms)
{
    for (;;) {
        char ids[32][FLOE_VID_MAX];
        int n = 0;
        floe_vdb_lock(srv->db);
        sqlite3_stmt *st = floe_vdb_stmt(srv->db, "SELECT id FROM jobs WHERE status ="
                                                  " 'InProgress' AND due_ms <= ? ORDER BY due_ms"
                                                  " LIMIT 32");
        floe_vdb_bind(st, "i", now_ms);
        while (n < 32 && sqlite3_step(st) == SQLITE_ROW)
            snprintf(ids[n++], FLOE_VID_MAX, "%s", floe_vdb_text(st, 0));
        sqlite3_reset(st);
        floe_vdb_unlock(srv->db);
        for (int i = 0; i < n; i++)
            floe_vjobs_complete(srv, ids[i]);
        if (n < 32)
            break;
    }
    collect_garbage(srv, now_ms);
}

static void *run(void *arg)
{
    struct floe_vjobs *j = arg;
    struct floe_vserver *srv = j->srv;
    pthread_mutex_lock(&j->mu);
    while (!j->locked.stopping) {
        pthread_mutex_unlock(&j->mu);
        int64_t now = floe_vutil_now_ms();
        floe_vjobs_tick(srv, now);
        int64_t next = now + 30000;
        floe_vdb_lock(srv->db);
        sqlite3_stmt *st =
            floe_vdb_stmt(srv->db, "SELECT MIN(due_ms) FROM jobs WHERE status = 'InProgress'");
        if (sqlite3_step(st) == SQLITE_ROW && !floe_vdb_is_null(st, 0) &&
            floe_vdb_int(st, 0) < next)
            next = floe_vdb_int(st, 0);
        sqlite3_reset(st);
        floe_vdb_unlock(srv->db);
        struct timespec ts = {.tv_sec = (time_t)(next / 1000),
                              .tv_nsec = (long)(next % 1000) * 1000000};
        pthread_mutex_lock(&j->mu);
        while (!j->locked.stopping && !j->locked.kicked && floe_vutil_now_ms() < next)
            if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) != 0)
                break;
        j->locked.kicked = false;
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int floe_vjobs_start(struct floe_vserver *srv, struct floe_vjobs **out, struct floe_error *err)
{
    struct floe_vjobs *j = floe_xcalloc(1, sizeof(*j));
    j->srv = srv;
    char msg[1024];
    if (floe_vselect_start(srv, floe_vjobs_finish, &j->select, msg, sizeof(msg))) {
        free(j);
        return floe_error_set(err, FLOE_E_INVALID_ARG, "%s", msg);
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL); /* CLOCK_REALTIME: deadlines are wall-clock ms */
    if (pthread_create(&j->thread, NULL, run, j) != 0) {
        floe_vselect_stop(j->select);
        free(j);
        return floe_error_set(err, FLOE_E_IO, "cannot start the job scheduler thread");
    }
    *out = j;
    return FLOE_OK;
}

void floe_vjobs_stop(struct floe_vjobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->locked.stopping = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->thread, NULL);
    floe_vselect_stop(j->select);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void floe_vjobs_kick(struct floe_vjobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->locked.kicked = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}
