/*
 * api_jobs.c - InitiateJob (validation of every JobParameters field), ListJobs, DescribeJob
 * and GetJobOutput (whole or ranged, streamed from the archive's segment files; the
 * x-amz-sha256-tree-hash header under the tree-hash-aligned rule of docs/glacier-api.md 3.4,
 * computed from stored leaf hashes).
 */
#include "api.h"

#include "alloc.h"
#include "api_common.h"
#include "errors.h"
#include "jobs.h"
#include "scrub.h"
#include "store_blob.h"
#include "store_db.h"
#include "vctx.h"
#include "vselect.h"
#include "vutil.h"
#include "floe/range.h"
#include "floe/treehash.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *s_tiers[FLOE_VTIER_COUNT] = {"Expedited", "Standard", "Bulk"};

static void job_not_found(struct floe_vreq *rq)
{
    floe_verr_reply(rq, FLOE_VERR_NOT_FOUND, "The job ID was not found: %s", rq->id);
}

/* Optional string member: true with *out NULL when absent; false after answering 400. */
static bool opt_string(struct floe_vreq *rq, json_t *o, const char *name, const char **out)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        floe_verr_reply(rq, FLOE_VERR_SERIALIZATION, "%s must be a string", name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* Reject a member that does not apply to this job type. */
static bool forbid(struct floe_vreq *rq, json_t *o, const char *name, const char *type)
{
    json_t *v = json_object_get(o, name);
    if (v && !json_is_null(v)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "%s is not allowed for %s jobs", name,
                        type);
        return false;
    }
    return true;
}

struct job_spec {
    const char *type, *action, *archive_id, *desc, *sns, *tier, *format, *range_s;
    bool archive, inventory, select; /* which type */
    const char *inv_start, *inv_end, *inv_limit, *inv_marker;
    int tier_index;
    uint64_t range_first, range_last, archive_size;
    bool has_range;
    char archive_tree[FLOE_HASH_HEX];
    char *select_json;
    json_t *select_params;  /* SelectParameters of the request body (borrowed) */
    char select_error[800]; /* why the archive refuses the query (JOB_BAD_SELECT) */
    char output_path[1200]; /* the S3 prefix (<= 512 bytes), then prefix/job-id/ */
};

static bool check_inventory_params(struct floe_vreq *rq, json_t *p, struct job_spec *js)
{
    static const char *const allowed[] = {"StartDate", "EndDate", "Limit", "Marker", NULL};
    int64_t start = 0, end = 0, ms;
    char id[FLOE_VID_MAX];
    uint64_t lim;
    if (!json_is_object(p)) {
        floe_verr_reply(rq, FLOE_VERR_SERIALIZATION,
                        "InventoryRetrievalParameters must be a JSON object");
        return false;
    }
    if (!floe_vapi_only_members(rq, p, allowed, "InventoryRetrievalParameters"))
        return false;
    if (!opt_string(rq, p, "StartDate", &js->inv_start) ||
        !opt_string(rq, p, "EndDate", &js->inv_end) ||
        !opt_string(rq, p, "Limit", &js->inv_limit) ||
        !opt_string(rq, p, "Marker", &js->inv_marker))
        return false;
    if (js->inv_start && floe_vutil_parse_iso(js->inv_start, &start) != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid StartDate: %s (want ISO 8601 UTC, e.g. 2013-03-20T17:03:43Z)",
                        js->inv_start);
        return false;
    }
    if (js->inv_end && floe_vutil_parse_iso(js->inv_end, &end) != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid EndDate: %s (want ISO 8601 UTC, e.g. 2013-03-20T17:03:43Z)",
                        js->inv_end);
        return false;
    }
    if (js->inv_start && js->inv_end && start >= end) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "The StartDate %s must be before the EndDate %s", js->inv_start,
                        js->inv_end);
        return false;
    }
    if (js->inv_limit && (floe_vutil_parse_u64(js->inv_limit, &lim) != 0 || lim < 1)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid Limit: %s (want a positive integer)", js->inv_limit);
        return false;
    }
    if (js->inv_marker && floe_vjobs_marker_decode(js->inv_marker, &ms, id, sizeof(id)) != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid inventory Marker: %s",
                        js->inv_marker);
        return false;
    }
    return true;
}

static bool check_select(struct floe_vreq *rq, json_t *body, struct job_spec *js)
{
    json_t *sp = json_object_get(body, "SelectParameters");
    json_t *ol = json_object_get(body, "OutputLocation");
    if (!sp || !json_is_object(sp)) {
        floe_verr_reply(rq, sp ? FLOE_VERR_SERIALIZATION : FLOE_VERR_MISSING_PARAMETER,
                        "SelectParameters (a JSON object) is required for select jobs");
        return false;
    }
    if (!ol || !json_is_object(ol)) {
        floe_verr_reply(rq, ol ? FLOE_VERR_SERIALIZATION : FLOE_VERR_MISSING_PARAMETER,
                        "OutputLocation (a JSON object) is required for select jobs");
        return false;
    }
    json_t *expr = json_object_get(sp, "Expression");
    json_t *etype = json_object_get(sp, "ExpressionType");
    if (!json_is_string(expr) || json_string_length(expr) == 0 ||
        json_string_length(expr) > 128000) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "SelectParameters.Expression must be a string of 1 to 128000 characters");
        return false;
    }
    if (!json_is_string(etype) || strcmp(json_string_value(etype), "SQL") != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "SelectParameters.ExpressionType must be SQL");
        return false;
    }
    json_t *s3 = json_object_get(ol, "S3");
    json_t *bucket = json_object_get(s3, "BucketName");
    json_t *prefix = json_object_get(s3, "Prefix");
    if (!json_is_object(s3) || !json_is_string(bucket) || !json_is_string(prefix) ||
        json_string_length(prefix) > 512) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "OutputLocation.S3 needs BucketName and a Prefix of at most 512 bytes");
        return false;
    }
    char msg[800];
    if (floe_vselect_check_params(rq->srv, sp, ol, msg, sizeof(msg))) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "%s", msg);
        return false;
    }
    js->select_params = sp;
    json_t *keep = json_pack("{s:O, s:O}", "SelectParameters", sp, "OutputLocation", ol);
    js->select_json = json_dumps(keep, JSON_COMPACT);
    json_decref(keep);
    snprintf(js->output_path, sizeof(js->output_path), "%s", json_string_value(prefix));
    return true;
}

/* Bytes of archive retrievals the request's account initiated in the last hour (lock held).
 * A job's vault column is the vault key (vconfig.h): the bare name in the default account,
 * "<account>:<name>" in another. */
static int64_t recent_retrieval_bytes_locked(struct floe_vreq *rq, int64_t now)
{
    sqlite3_stmt *st = floe_vdb_stmt(
        rq->srv->db, "SELECT COALESCE(SUM(range_last - range_first + 1), 0) FROM jobs"
                     " WHERE action = 'ArchiveRetrieval' AND created_ms > ?1 AND CASE WHEN ?2 = ''"
                     " THEN instr(vault, ':') = 0 ELSE substr(vault, 1, length(?2) + 1) = ?2 || ':'"
                     " END");
    bool dflt = strcmp(rq->account, rq->srv->cfg.account_id) == 0;
    floe_vdb_bind(st, "it", now - 3600 * 1000, dflt ? "" : rq->account);
    sqlite3_step(st);
    int64_t v = floe_vdb_int(st, 0);
    sqlite3_reset(st);
    return v;
}

/* PolicyEnforcedException when a BytesPerHour retrieval policy would be exceeded. */
static bool retrieval_policy_allows_locked(struct floe_vreq *rq, uint64_t bytes, int64_t now)
{
    json_t *p = floe_vapi_retrieval_policy_locked(rq);
    json_t *rule = json_array_get(json_object_get(p, "Rules"), 0);
    const char *strategy = json_string_value(json_object_get(rule, "Strategy"));
    bool ok = true;
    if (strategy && strcmp(strategy, "BytesPerHour") == 0) {
        json_int_t limit = json_integer_value(json_object_get(rule, "BytesPerHour"));
        if ((int64_t)bytes + recent_retrieval_bytes_locked(rq, now) > (int64_t)limit)
            ok = false;
    }
    json_decref(p);
    return ok;
}

/*
 * InitiateJob's body, unwrapped from the guide's {"jobParameters": {...}} form when it comes
 * that way, with no member outside the job parameters.
 * Returns  the job parameters object (new reference), or NULL after answering 400.
 */
static json_t *job_body(struct floe_vreq *rq)
{
    static const char *const members[] = {
        "jobParameters",      "Type",           "ArchiveId",
        "Description",        "SNSTopic",       "Tier",
        "RetrievalByteRange", "Format",         "InventoryRetrievalParameters",
        "SelectParameters",   "OutputLocation", NULL};
    const char *const *outer_allowed = members, *const *allowed = members + 1;
    json_t *body = floe_vapi_parse_json_object(rq, outer_allowed);
    if (!body)
        return NULL;
    json_t *wrapped = json_object_get(body, "jobParameters");
    if (wrapped) {
        json_t *outer = body;
        body = json_incref(wrapped);
        bool alone = json_object_size(outer) == 1 && json_is_object(body);
        json_decref(outer);
        if (!alone) {
            floe_verr_reply(rq, FLOE_VERR_SERIALIZATION,
                            "jobParameters must be a JSON object and the only member");
            json_decref(body);
            return NULL;
        }
    }
    if (!floe_vapi_only_members(rq, body, allowed, "request body")) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* The members every job type has (Type, ArchiveId, Description, SNSTopic, Tier,
 * RetrievalByteRange, Format) into js, borrowed from body, and the type; false after
 * answering 400. */
static bool check_job_common(struct floe_vreq *rq, json_t *body, struct job_spec *js)
{
    if (!opt_string(rq, body, "Type", &js->type) ||
        !opt_string(rq, body, "ArchiveId", &js->archive_id) ||
        !opt_string(rq, body, "Description", &js->desc) ||
        !opt_string(rq, body, "SNSTopic", &js->sns) || !opt_string(rq, body, "Tier", &js->tier) ||
        !opt_string(rq, body, "RetrievalByteRange", &js->range_s) ||
        !opt_string(rq, body, "Format", &js->format))
        return false;
    if (!js->type) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER, "Required parameter Type is missing");
        return false;
    }
    if (js->desc && !floe_vutil_desc_valid(js->desc)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid job description: at most %d printable ASCII characters "
                        "(0x20-0x7E) are allowed",
                        FLOE_VDESC_MAX);
        return false;
    }
    if (js->sns && (strncmp(js->sns, "arn:aws:sns:", 12) != 0 || strlen(js->sns) > 256)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid SNSTopic: %s (want an SNS topic ARN)", js->sns);
        return false;
    }
    js->tier_index = FLOE_VTIER_STANDARD;
    if (js->tier) {
        js->tier_index = -1;
        for (int i = 0; i < FLOE_VTIER_COUNT; i++)
            if (strcmp(js->tier, s_tiers[i]) == 0)
                js->tier_index = i;
        if (js->tier_index < 0) {
            floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                            "Invalid Tier: %s (valid values: Expedited, Standard, Bulk)", js->tier);
            return false;
        }
    }
    js->tier = s_tiers[js->tier_index];
    js->archive = strcmp(js->type, "archive-retrieval") == 0;
    js->inventory = strcmp(js->type, "inventory-retrieval") == 0;
    js->select = strcmp(js->type, "select") == 0;
    if (!js->archive && !js->inventory && !js->select) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid job type: %s (valid values: archive-retrieval, "
                        "inventory-retrieval, select)",
                        js->type);
        return false;
    }
    return true;
}

/* The rules of js's type: which members it forbids and requires, the select and inventory
 * parameters; false after answering 400. */
static bool check_job_type(struct floe_vreq *rq, json_t *body, struct job_spec *js)
{
    if (js->archive || js->select) {
        js->action = js->archive ? "ArchiveRetrieval" : "Select";
        if (!forbid(rq, body, "Format", js->type) ||
            !forbid(rq, body, "InventoryRetrievalParameters", js->type))
            return false;
        if (js->archive && (!forbid(rq, body, "SelectParameters", js->type) ||
                            !forbid(rq, body, "OutputLocation", js->type)))
            return false;
        if (js->select && !forbid(rq, body, "RetrievalByteRange", js->type))
            return false;
        if (!js->archive_id) {
            floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                            "Required parameter ArchiveId is missing for %s jobs", js->type);
            return false;
        }
        return !js->select || check_select(rq, body, js);
    }
    js->action = "InventoryRetrieval";
    if (!forbid(rq, body, "ArchiveId", js->type) ||
        !forbid(rq, body, "RetrievalByteRange", js->type) ||
        !forbid(rq, body, "SelectParameters", js->type) ||
        !forbid(rq, body, "OutputLocation", js->type))
        return false;
    if (js->format && strcmp(js->format, "CSV") != 0 && strcmp(js->format, "JSON") != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid Format: %s (valid values: CSV, JSON)", js->format);
        return false;
    }
    if (!js->format)
        js->format = "JSON";
    json_t *p = json_object_get(body, "InventoryRetrievalParameters");
    return !p || json_is_null(p) || check_inventory_params(rq, p, js);
}

enum job_outcome {
    JOB_OK,
    JOB_NO_VAULT,
    JOB_NO_ARCHIVE,
    JOB_BAD_RANGE,
    JOB_POLICY,
    JOB_BAD_SELECT,
    JOB_FAILED
};

/* The archive's size and tree hash, the retrieval range and the retrieval policy check for
 * an archive or select job (lock held). */
static enum job_outcome check_job_archive_locked(struct floe_vreq *rq, struct job_spec *js,
                                                 int64_t now, struct floe_error *err)
{
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT size, tree_hash FROM archives WHERE"
                                                  " id = ? AND vault = ? AND deleted_ms IS NULL");
    floe_vdb_bind(st, "tt", js->archive_id, rq->vault);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        js->archive_size = (uint64_t)floe_vdb_int(st, 0);
        snprintf(js->archive_tree, sizeof(js->archive_tree), "%s", floe_vdb_text(st, 1));
    }
    sqlite3_reset(st);
    if (!found)
        return JOB_NO_ARCHIVE;
    if (js->select && floe_vselect_check_archive_locked(rq->srv, js->select_params, js->archive_id,
                                                        js->select_error, sizeof(js->select_error)))
        return JOB_BAD_SELECT;
    if (!js->archive)
        return JOB_OK;
    enum job_outcome outcome = JOB_OK;
    struct floe_byte_range r = {0, js->archive_size - 1};
    if (js->range_s && (floe_range_parse_retrieval(js->range_s, &r, err) != FLOE_OK ||
                        floe_range_check_retrieval(r, js->archive_size, err) != FLOE_OK))
        outcome = JOB_BAD_RANGE;
    js->range_first = r.first;
    js->range_last = r.last;
    if (outcome == JOB_OK && !retrieval_policy_allows_locked(rq, floe_range_len(r), now))
        outcome = JOB_POLICY;
    return outcome;
}

/*
 * insert_job() - record job_id of the checked spec js as InProgress, due after its tier's
 * delay; for a select job js->output_path becomes prefix/job-id/. Takes and releases the
 * database lock (the vault is checked again under it: a DeleteVault may have come between).
 * Returns  the outcome; err holds the detail of JOB_BAD_RANGE and JOB_FAILED.
 */
static enum job_outcome insert_job(struct floe_vreq *rq, struct job_spec *js, const char *job_id,
                                   struct floe_error *err)
{
    struct floe_vdb *db = rq->srv->db;
    enum job_outcome outcome = JOB_OK;
    floe_vdb_lock(db);
    /* taken under the lock: ListJobs lists in insertion order, and the creation dates must
     * not go down along it (jobs requested at once, their ends run on several threads, were
     * inserted in another order than they were dated; clients that read the listing as
     * ascending then lost their short walks, tests/integration/test_migrate.py) */
    int64_t now = floe_vutil_now_ms();
    if (!floe_vapi_vault_exists_locked(rq))
        outcome = JOB_NO_VAULT;
    if (outcome == JOB_OK && js->archive_id)
        outcome = check_job_archive_locked(rq, js, now, err);
    if (outcome == JOB_OK) {
        bool archive = js->archive;
        char out_path[1200] = "";
        if (js->select)
            snprintf(out_path, sizeof(out_path), "%.1024s/%.92s/", js->output_path, job_id);
        int rc = floe_vdb_exec(
            db, err,
            "INSERT INTO jobs(id, vault, action, archive_id, description, sns_topic, tier,"
            " created_ms, due_ms, status, status_message, range_first, range_last, archive_size,"
            " archive_tree_hash, format, inv_start, inv_end, inv_limit, inv_marker, select_json,"
            " output_path) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 'InProgress', 'Operation in"
            " progress.', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "tttttttiiiiitttttttt", job_id, rq->vault, js->action, js->archive_id, js->desc,
            js->sns, js->tier, now, now + rq->srv->cfg.delay_ms[js->tier_index],
            archive ? (int64_t)js->range_first : (int64_t)0,
            archive ? (int64_t)js->range_last : (int64_t)0,
            archive ? (int64_t)js->archive_size : (int64_t)0, archive ? js->archive_tree : NULL,
            js->inventory ? js->format : NULL, js->inv_start, js->inv_end, js->inv_limit,
            js->inv_marker, js->select_json, js->select ? out_path : NULL);
        if (rc)
            outcome = JOB_FAILED;
        snprintf(js->output_path, sizeof(js->output_path), "%s", out_path);
    }
    floe_vdb_unlock(db);
    return outcome;
}

void floe_vapi_initiate_job(struct floe_vreq *rq)
{
    struct job_spec js = {0};
    struct floe_error err = {0};
    char job_id[FLOE_VID_JOB_LEN + 1];
    if (!floe_vapi_vault_exists(rq))
        return;
    json_t *body = job_body(rq);
    if (!body)
        return;
    if (!check_job_common(rq, body, &js) || !check_job_type(rq, body, &js))
        goto out;
    floe_vutil_id(job_id, FLOE_VID_JOB_LEN, false);
    switch (insert_job(rq, &js, job_id, &err)) {
    case JOB_NO_VAULT: floe_vapi_vault_not_found(rq); goto out;
    case JOB_NO_ARCHIVE:
        floe_verr_reply(rq, FLOE_VERR_NOT_FOUND, "The archive ID was not found: %s", js.archive_id);
        goto out;
    case JOB_BAD_RANGE:
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid RetrievalByteRange: %s (%s)",
                        js.range_s, err.message);
        goto out;
    case JOB_POLICY:
        floe_verr_reply(rq, FLOE_VERR_POLICY_ENFORCED,
                        "InitiateJob request denied by current data retrieval policy");
        goto out;
    case JOB_BAD_SELECT:
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "%s", js.select_error);
        goto out;
    case JOB_FAILED: floe_vapi_internal(rq, &err); goto out;
    case JOB_OK: break;
    }
    if (rq->srv->cfg.delay_ms[js.tier_index] == 0)
        floe_vjobs_complete(rq->srv, job_id);
    else
        floe_vjobs_kick(rq->srv->jobs);
    floe_vapi_location(rq, "/jobs/", job_id);
    floe_vreq_set_header(rq, "x-amz-job-id", job_id);
    if (js.select)
        floe_vreq_set_header(rq, "x-amz-job-output-path", js.output_path);
    floe_vreq_reply_empty(rq, 202);
out:
    free(js.select_json);
    json_decref(body);
}

/* A finished job past its expiry is gone at once, not only at the next cleanup tick. */
static const char *s_job_by_id =
    "SELECT " FLOE_VJOBS_COLUMNS " FROM jobs WHERE id = ? AND vault = ?"
    " AND (expires_ms IS NULL OR expires_ms > ?)";

void floe_vapi_describe_job(struct floe_vreq *rq)
{
    json_t *o = NULL;
    if (!floe_vapi_vault_exists(rq))
        return;
    floe_vdb_lock_read(rq->srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, s_job_by_id);
    floe_vdb_bind(st, "tti", rq->id, rq->vault, floe_vutil_now_ms());
    if (sqlite3_step(st) == SQLITE_ROW)
        o = floe_vjobs_row_json(rq->srv, st);
    sqlite3_reset(st);
    floe_vdb_unlock_read(rq->srv->db);
    if (!o) {
        job_not_found(rq);
        return;
    }
    floe_vapi_reply_json(rq, 200, o);
}

/* The DescribeJob object of the job row in st (FLOE_VJOBS_COLUMNS). A floe_vapi_row_fn. */
static json_t *job_json(struct floe_vreq *rq, sqlite3_stmt *st, void *user)
{
    (void)user;
    return floe_vjobs_row_json(rq->srv, st);
}

void floe_vapi_list_jobs(struct floe_vreq *rq)
{
    int64_t limit, from = 0;
    const char *marker = floe_vreq_param(rq, "marker");
    const char *code = floe_vreq_param(rq, "statuscode");
    const char *completed = floe_vreq_param(rq, "completed");
    if (!floe_vapi_parse_limit(rq, 50, &limit))
        return;
    if (code && strcmp(code, "InProgress") != 0 && strcmp(code, "Succeeded") != 0 &&
        strcmp(code, "Failed") != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "The job status code is not valid: %s",
                        code);
        return;
    }
    if (completed && strcmp(completed, "true") != 0 && strcmp(completed, "false") != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "The completed value is not valid: %s (want true or false)", completed);
        return;
    }
    if (!floe_vapi_vault_exists(rq))
        return;
    json_t *list = NULL, *next = NULL;
    floe_vdb_lock_read(rq->srv->db);
    bool bad_marker = !floe_vapi_marker_locked(
        rq, "SELECT seq FROM jobs WHERE id = ? AND vault = ?", marker, &from);
    if (!bad_marker) {
        sqlite3_stmt *st = floe_vdb_stmt(
            rq->srv->db, "SELECT " FLOE_VJOBS_COLUMNS " FROM jobs WHERE vault = ?1 AND seq >= ?2"
                         " AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR (?4 = 'true') ="
                         " (status <> 'InProgress')) AND (expires_ms IS NULL OR expires_ms > ?6)"
                         " ORDER BY seq LIMIT ?5");
        floe_vdb_bind(st, "tittii", rq->vault, from, code, completed, limit + 1,
                      floe_vutil_now_ms());
        list = floe_vapi_page_locked(rq, st, limit, job_json, NULL, NULL, &next);
    }
    floe_vdb_unlock_read(rq->srv->db);
    if (bad_marker) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid marker: %s", marker);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "JobList", list);
    json_object_set_new(o, "Marker", next);
    floe_vapi_reply_json(rq, 200, o);
}

/* The body of a job output: consecutive pieces of open files. A piece of archive data is
 * (part of) one segment and carries the segment's leaf hashes: it is read a whole MiB at a time
 * into the reader's buffer and each MiB checked before any byte of it is sent (scrub.h). */
struct piece {
    int fd;
    uint64_t seg_off;  /* where its segment starts in the file (a log blob holds many) */
    uint64_t file_off; /* where the piece starts in its segment */
    uint64_t len;
    uint8_t *leaves;  /* the segment's leaf hashes (NULL: an inventory, not checked) */
    uint64_t seg_len; /* the segment's length (its file's meaningful bytes) */
    char *owner;      /* the segment, for the damage record */
    int64_t idx;
};

struct reader {
    struct floe_vserver *srv;
    struct piece *p;
    size_t n;
    size_t cur;         /* piece holding the next byte */
    uint64_t cur_start; /* response offset of piece cur */
    uint8_t *mib; /* the checked MiB: file bytes [mib_at, mib_at + mib_len) of piece mib_piece */
    size_t mib_piece, mib_len;
    uint64_t mib_at;
    bool mib_valid;
};

/* Loads and checks the MiB of piece pc (index i) holding file offset at. False: not readable or
 * damaged (recorded and logged): the response ends with an error, never with those bytes. */
static bool load_mib(struct reader *r, size_t i, uint64_t at)
{
    struct piece *pc = &r->p[i];
    uint64_t leaf = at / FLOE_MIB, start = leaf * FLOE_MIB;
    size_t n = (size_t)(pc->seg_len - start < FLOE_MIB ? pc->seg_len - start : FLOE_MIB);
    if (!r->mib)
        r->mib = floe_xmalloc(FLOE_MIB);
    r->mib_valid = false;
    char detail[256];
    uint64_t bad;
    if (floe_vscrub_check_mib(pc->fd, pc->seg_off, pc->seg_len, leaf, pc->leaves, r->mib, &bad,
                              detail, sizeof(detail)) == 0) {
        r->mib_valid = true;
        r->mib_piece = i;
        r->mib_at = start;
        r->mib_len = n;
        return true;
    }
    strncat(detail, " (found while serving GetJobOutput)", sizeof(detail) - strlen(detail) - 1);
    floe_vscrub_record(r->srv, pc->owner, pc->idx, bad, detail);
    return false;
}

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reader *r = cls;
    while (r->cur < r->n && pos >= r->cur_start + r->p[r->cur].len) {
        r->cur_start += r->p[r->cur].len;
        r->cur++;
    }
    if (r->cur >= r->n)
        return MHD_CONTENT_READER_END_OF_STREAM;
    struct piece *pc = &r->p[r->cur];
    uint64_t in = pos - r->cur_start;
    uint64_t left = pc->len - in;
    size_t want = max < left ? max : (size_t)left;
    uint64_t at = pc->file_off + in;
    if (pc->leaves) {
        if (!(r->mib_valid && r->mib_piece == r->cur && at >= r->mib_at &&
              at < r->mib_at + r->mib_len) &&
            !load_mib(r, r->cur, at))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        size_t avail = (size_t)(r->mib_at + r->mib_len - at);
        size_t k = want < avail ? want : avail;
        memcpy(buf, r->mib + (at - r->mib_at), k);
        return (ssize_t)k;
    }
    ssize_t k;
    do {
        k = pread(pc->fd, buf, want, (off_t)(pc->seg_off + at));
    } while (k < 0 && errno == EINTR);
    if (k <= 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return k;
}

static void free_reader(void *cls)
{
    struct reader *r = cls;
    for (size_t i = 0; i < r->n; i++) {
        if (r->p[i].fd >= 0)
            close(r->p[i].fd);
        free(r->p[i].leaves);
        free(r->p[i].owner);
    }
    free(r->p);
    free(r->mib);
    free(r);
}

/* Open the files holding archive bytes [first, last] (lock held). */
static int open_archive_range_locked(struct floe_vreq *rq, const char *seg_owner,
                                     uint64_t part_size, uint64_t first, uint64_t last,
                                     struct reader *r, struct floe_error *err)
{
    sqlite3_stmt *st = floe_vdb_stmt(
        rq->srv->db, "SELECT s.idx, s.blob, s.len, s.leaves, d.detail, s.off FROM segments s"
                     " LEFT JOIN damage d ON d.owner = s.owner AND d.idx = s.idx WHERE"
                     " s.owner = ? AND s.idx BETWEEN ? AND ? ORDER BY s.idx");
    floe_vdb_bind(st, "tii", seg_owner, (int64_t)(first / part_size), (int64_t)(last / part_size));
    size_t cap = 0;
    uint64_t covered = 0;
    int rc = FLOE_OK;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        uint64_t start = (uint64_t)floe_vdb_int(st, 0) * part_size;
        uint64_t len = (uint64_t)floe_vdb_int(st, 2);
        uint64_t a = first > start ? first : start;
        uint64_t b = last < start + len - 1 ? last : start + len - 1;
        if (a > b)
            continue;
        if (!floe_vdb_is_null(st, 4)) { /* known damaged: refuse rather than send it */
            rc = floe_error_set(err, FLOE_E_CORRUPT,
                                "The archive's stored data is damaged (part %lld: %s); this "
                                "server will not serve it",
                                (long long)floe_vdb_int(st, 0), floe_vdb_text(st, 4));
            break;
        }
        size_t nleaves = (size_t)sqlite3_column_bytes(st, 3) / FLOE_HASH_BYTES;
        if (nleaves != (len + FLOE_MIB - 1) / FLOE_MIB && !(len == 0 && nleaves == 1)) {
            rc = floe_error_set(err, FLOE_E_CORRUPT, "leaf hashes of part %lld do not cover it",
                                (long long)floe_vdb_int(st, 0));
            break;
        }
        if (r->n == cap) {
            cap = cap ? cap * 2 : 8;
            r->p = floe_xrealloc(r->p, cap * sizeof(*r->p));
        }
        int fd = floe_vblob_open_read(rq->srv->blobs, floe_vdb_text(st, 1));
        if (fd < 0) {
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, floe_vdb_text(st, 1),
                                      "cannot open archive data %s", floe_vdb_text(st, 1));
            break;
        }
        uint8_t *leaves = floe_xmalloc(nleaves * FLOE_HASH_BYTES + 1);
        memcpy(leaves, sqlite3_column_blob(st, 3), nleaves * FLOE_HASH_BYTES);
        /* seg_off: where the segment starts in its file (a log blob holds many) */
        r->p[r->n++] = (struct piece){.fd = fd,
                                      .seg_off = (uint64_t)floe_vdb_int(st, 5),
                                      .file_off = a - start,
                                      .len = b - a + 1,
                                      .leaves = leaves,
                                      .seg_len = len,
                                      .owner = floe_xstrdup(seg_owner),
                                      .idx = floe_vdb_int(st, 0)};
        covered += b - a + 1;
    }
    sqlite3_reset(st);
    if (!rc && covered != last - first + 1)
        rc = floe_error_set(err, FLOE_E_CORRUPT, "archive data of %s is incomplete", seg_owner);
    return rc;
}

enum output_outcome {
    OUT_OK,
    OUT_NOT_FOUND,
    OUT_NOT_READY,
    OUT_BAD_RANGE,
    OUT_RANGE_START,
    OUT_FAILED
};

/*
 * The Range header of GetJobOutput (range_h; NULL: the whole output) over total bytes into
 * *dl, with *partial set when a range was asked for.
 * Returns  OUT_OK, OUT_RANGE_START (a well-formed range starting at or past the end), or
 *          OUT_BAD_RANGE (err says why).
 */
static enum output_outcome output_range(const char *range_h, uint64_t total,
                                        struct floe_byte_range *dl, bool *partial,
                                        struct floe_error *err)
{
    *partial = false;
    if (!range_h) {
        dl->first = 0;
        dl->last = total - 1;
        return OUT_OK;
    }
    if (floe_range_parse_http_range(range_h, total, dl, err) == FLOE_OK) {
        *partial = true;
        return OUT_OK;
    }
    uint64_t s = 0;
    const char *p = strncmp(range_h, "bytes=", 6) == 0 ? range_h + 6 : NULL;
    const char *dash = p ? strchr(p, '-') : NULL;
    char num[32];
    if (p && dash && (size_t)(dash - p) < sizeof(num) && dash > p) {
        memcpy(num, p, (size_t)(dash - p));
        num[dash - p] = '\0';
        if (floe_vutil_parse_u64(num, &s) == 0 && s >= total)
            return OUT_RANGE_START;
    }
    return OUT_BAD_RANGE;
}

/* What GetJobOutput sends: the pieces to stream and the headers that describe them. */
struct output {
    struct reader *r;
    struct floe_byte_range dl; /* within the job's output */
    uint64_t total;            /* the whole output's size */
    bool partial;
    char tree_hex[FLOE_HASH_HEX]; /* "" when the range is not tree-hash aligned */
    char *desc;                   /* archive description (malloc'd) or NULL */
    char ctype[32];
};

/*
 * An archive retrieval's output: the files of archive bytes rf + dl into out->r, and the
 * tree hash of those bytes when the range allows one (docs/glacier-api.md 3.4). st is the job
 * row of floe_vapi_get_job_output (it is reset here). Lock held.
 */
static int open_archive_output_locked(struct floe_vreq *rq, sqlite3_stmt *st, uint64_t rf,
                                      uint64_t rl, struct output *out, struct floe_error *err)
{
    if (floe_vdb_text(st, 11))
        out->desc = floe_xstrdup(floe_vdb_text(st, 11));
    char *owner = floe_xstrdup(floe_vdb_text(st, 8));
    uint64_t ps = (uint64_t)floe_vdb_int(st, 9), asize = (uint64_t)floe_vdb_int(st, 10);
    struct floe_byte_range job_r = {rf, rl}, abs_r = {rf + out->dl.first, rf + out->dl.last};
    if (floe_vdb_text(st, 7) && out->dl.first == 0 && out->dl.last == out->total - 1) {
        snprintf(out->tree_hex, sizeof(out->tree_hex), "%s", floe_vdb_text(st, 7));
    } else if (floe_range_is_tree_aligned(job_r, asize) &&
               floe_range_is_tree_aligned(abs_r, asize)) {
        uint8_t h[FLOE_HASH_BYTES];
        sqlite3_reset(st);
        if (floe_vjobs_range_tree_hash(rq->srv, owner, ps, abs_r.first, abs_r.last, h, err) ==
            FLOE_OK)
            floe_treehash_hex(h, out->tree_hex);
    }
    sqlite3_reset(st);
    int rc = open_archive_range_locked(rq, owner, ps, abs_r.first, abs_r.last, out->r, err);
    free(owner);
    return rc;
}

/* An inventory job's output: its blob (column 5 of st) as the one piece of out->r, and its
 * content type (column 6, the format). Lock held. */
static int open_inventory_output_locked(struct floe_vreq *rq, sqlite3_stmt *st, struct output *out,
                                        struct floe_error *err)
{
    snprintf(out->ctype, sizeof(out->ctype), "%s",
             floe_vdb_text(st, 6) && strcmp(floe_vdb_text(st, 6), "CSV") == 0 ? "text/csv"
                                                                              : "application/json");
    int fd = floe_vblob_open_read(rq->srv->blobs, floe_vdb_text(st, 5));
    if (fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, NULL, "cannot open inventory output");
    out->r->p = floe_xcalloc(1, sizeof(*out->r->p));
    out->r->p[0] = (struct piece){
        .fd = fd, .file_off = out->dl.first, .len = out->dl.last - out->dl.first + 1};
    out->r->n = 1;
    return FLOE_OK;
}

/*
 * open_output() - look up job rq->id of rq->vault (an expired job is gone), check that it
 * succeeded, apply the Range header and open the files of the bytes to send into out. Takes
 * and releases the database lock. Returns the outcome; err holds the detail of
 * OUT_BAD_RANGE and OUT_FAILED.
 */
static enum output_outcome open_output(struct floe_vreq *rq, const char *range_h,
                                       struct output *out, struct floe_error *err)
{
    struct floe_vdb *db = rq->srv->db;
    enum output_outcome outcome = OUT_OK;
    floe_vdb_lock(db);
    sqlite3_stmt *st =
        floe_vdb_stmt(db, "SELECT j.action, j.status, j.range_first, j.range_last,"
                          " j.inventory_size, j.output_blob, j.format, j.tree_hash,"
                          " a.seg_owner, a.part_size, a.size, a.description FROM jobs j"
                          " LEFT JOIN archives a ON a.id = j.archive_id WHERE j.id = ?"
                          " AND j.vault = ? AND (j.expires_ms IS NULL OR j.expires_ms > ?)");
    floe_vdb_bind(st, "tti", rq->id, rq->vault, floe_vutil_now_ms());
    if (sqlite3_step(st) != SQLITE_ROW)
        outcome = OUT_NOT_FOUND;
    else if (strcmp(floe_vdb_text(st, 1), "Succeeded") != 0)
        outcome = OUT_NOT_READY;
    if (outcome == OUT_OK) {
        bool archive = strcmp(floe_vdb_text(st, 0), "ArchiveRetrieval") == 0;
        uint64_t rf = (uint64_t)floe_vdb_int(st, 2), rl = (uint64_t)floe_vdb_int(st, 3);
        out->total = archive ? rl - rf + 1 : (uint64_t)floe_vdb_int(st, 4);
        outcome = output_range(range_h, out->total, &out->dl, &out->partial, err);
        if (outcome == OUT_OK && (archive ? open_archive_output_locked(rq, st, rf, rl, out, err)
                                          : open_inventory_output_locked(rq, st, out, err)))
            outcome = OUT_FAILED;
    }
    sqlite3_reset(st);
    floe_vdb_unlock(db);
    return outcome;
}

/* Answer 200/206 with a response that streams out's pieces (out->r is taken, even on
 * failure; out->desc stays the caller's). */
static void reply_output(struct floe_vreq *rq, struct output *out)
{
    uint64_t len = out->dl.last - out->dl.first + 1;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(len, 256 * 1024, read_body, out->r, free_reader);
    if (!resp) {
        free_reader(out->r);
        floe_vapi_internal(rq, NULL);
        return;
    }
    MHD_add_response_header(resp, "Content-Type", out->ctype);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    if (out->partial) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)out->dl.first,
                 (unsigned long long)out->dl.last, (unsigned long long)out->total);
        MHD_add_response_header(resp, "Content-Range", cr);
    }
    if (out->tree_hex[0])
        MHD_add_response_header(resp, "x-amz-sha256-tree-hash", out->tree_hex);
    if (out->desc)
        MHD_add_response_header(resp, "x-amz-archive-description", out->desc);
    rq->resp.custom = resp;
    rq->resp.status = out->partial ? 206 : 200;
}

void floe_vapi_get_job_output(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    const char *range_h = floe_vreq_header(rq, "Range");
    struct output out = {.ctype = "application/octet-stream"};
    if (!floe_vapi_vault_exists(rq))
        return;
    out.r = floe_xcalloc(1, sizeof(*out.r));
    out.r->srv = rq->srv;
    enum output_outcome outcome = open_output(rq, range_h, &out, &err);
    switch (outcome) {
    case OUT_NOT_FOUND: job_not_found(rq); break;
    case OUT_NOT_READY:
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "The job is not currently available for download: %s", rq->id);
        break;
    case OUT_RANGE_START:
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "The start of the range is larger than size of retrieved data: %s",
                        range_h);
        break;
    case OUT_BAD_RANGE:
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid Range: %s (%s)", range_h,
                        err.message);
        break;
    case OUT_FAILED: floe_vapi_internal(rq, &err); break;
    case OUT_OK: break;
    }
    if (outcome == OUT_OK)
        reply_output(rq, &out);
    else
        free_reader(out.r);
    free(out.desc);
}
