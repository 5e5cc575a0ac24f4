/*
 * jobs.c - Glacier jobs and vault notifications: Initiate Job (archive and inventory
 * retrieval, select), Describe Job, List Jobs, waiting for completion, and the notification
 * configuration of a vault.
 *
 * DESIGN
 * Each operation is one synchronous request (net/request.h) on the caller's thread; List Jobs
 * walks its pages with floe_request_pages() until Marker is null. Inputs are checked here before
 * anything is sent, so a bad range or date costs no request (and, on the real service, no retrieval
 * fee). floe_job_wait() polls Describe Job with a delay that grows by half each time up to a cap,
 * sleeping in short slices so a cancel request is seen within 100 ms.
 */
#include "floe/jobs.h"

#include "alloc.h"
#include "client_impl.h"
#include "floe/sigv4.h"
#include "request.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- helpers ---- */

static bool get_hash(json_t *obj, const char *key, uint8_t out[FLOE_HASH_BYTES])
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) && floe_treehash_parse_hex(json_string_value(v), out, NULL) == FLOE_OK;
}

static void job_from_json(json_t *o, struct floe_job_info *j)
{
    memset(j, 0, sizeof(*j));
    floe_json_copy_str(j->job_id, sizeof(j->job_id), o, "JobId");
    floe_json_copy_str(j->job_description, sizeof(j->job_description), o, "JobDescription");
    floe_json_copy_str(j->action, sizeof(j->action), o, "Action");
    floe_json_copy_str(j->archive_id, sizeof(j->archive_id), o, "ArchiveId");
    floe_json_copy_str(j->vault_arn, sizeof(j->vault_arn), o, "VaultARN");
    floe_json_copy_str(j->creation_date, sizeof(j->creation_date), o, "CreationDate");
    floe_json_copy_str(j->completion_date, sizeof(j->completion_date), o, "CompletionDate");
    j->completed = json_is_true(json_object_get(o, "Completed"));
    floe_json_copy_str(j->status_code, sizeof(j->status_code), o, "StatusCode");
    floe_json_copy_str(j->status_message, sizeof(j->status_message), o, "StatusMessage");
    j->archive_size_bytes = floe_json_get_int(o, "ArchiveSizeInBytes");
    j->inventory_size_bytes = floe_json_get_int(o, "InventorySizeInBytes");
    floe_json_copy_str(j->sns_topic, sizeof(j->sns_topic), o, "SNSTopic");
    floe_json_copy_str(j->tier, sizeof(j->tier), o, "Tier");
    j->has_tree_hash = get_hash(o, "SHA256TreeHash", j->tree_hash);
    j->has_archive_tree_hash = get_hash(o, "ArchiveSHA256TreeHash", j->archive_tree_hash);
    json_t *r = json_object_get(o, "RetrievalByteRange");
    j->has_range = json_is_string(r) &&
                   floe_range_parse_retrieval(json_string_value(r), &j->range, NULL) == FLOE_OK;
    json_t *inv = json_object_get(o, "InventoryRetrievalParameters");
    if (json_is_object(inv)) {
        floe_json_copy_str(j->inventory_format, sizeof(j->inventory_format), inv, "Format");
        floe_json_copy_str(j->inventory_start_date, sizeof(j->inventory_start_date), inv,
                           "StartDate");
        floe_json_copy_str(j->inventory_end_date, sizeof(j->inventory_end_date), inv, "EndDate");
        floe_json_copy_str(j->inventory_limit, sizeof(j->inventory_limit), inv, "Limit");
        floe_json_copy_str(j->inventory_marker, sizeof(j->inventory_marker), inv, "Marker");
    }
    floe_json_copy_str(j->job_output_path, sizeof(j->job_output_path), o, "JobOutputPath");
    json_t *sp = json_object_get(o, "SelectParameters"), *ol = json_object_get(o, "OutputLocation");
    if (json_is_object(sp) || json_is_object(ol)) {
        json_t *both = json_pack("{s:O, s:O}", "SelectParameters", sp ? sp : json_null(),
                                 "OutputLocation", ol ? ol : json_null());
        char *text = both ? json_dumps(both, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (text && strlen(text) < sizeof(j->select_json))
            memcpy(j->select_json, text, strlen(text) + 1);
        else
            j->select_json_truncated = true;
        free(text);
        json_decref(both);
    }
}

int floe_job_from_notification(const char *body, size_t len, struct floe_job_info *out,
                               struct floe_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &je);
    json_t *job = doc, *inner = NULL;
    int rc = FLOE_OK;
    if (!json_is_object(doc)) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "not a JSON object%s%s", doc ? "" : ": ",
                            doc ? "" : je.text);
    } else if (json_object_get(doc, "Message") || json_object_get(doc, "Type")) {
        /* an SNS envelope: Message is the job description as JSON text */
        const char *type = json_string_value(json_object_get(doc, "Type"));
        const char *msg = json_string_value(json_object_get(doc, "Message"));
        /* loaded apart: json_is_object() evaluates its argument twice */
        if (type && strcmp(type, "Notification") == 0 && msg)
            job = inner = json_loads(msg, JSON_REJECT_DUPLICATES, &je);
        if (!type || strcmp(type, "Notification") != 0)
            rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                "an SNS message of Type %s, not a Notification",
                                type ? type : "(none)");
        else if (!msg)
            rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                "the SNS notification has no Message string");
        else if (!json_is_object(inner))
            rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                "the SNS notification's Message is not a JSON object%s%s",
                                inner ? "" : ": ", inner ? "" : je.text);
    }
    if (!rc) {
        const char *id = json_string_value(json_object_get(job, "JobId"));
        const char *st = json_string_value(json_object_get(job, "StatusCode"));
        if (!id || !*id || strlen(id) >= FLOE_JOB_ID_MAX)
            rc = floe_error_set(err, FLOE_E_INVALID_ARG, "not a job notification: no JobId");
        else if (!st || (strcmp(st, "Succeeded") != 0 && strcmp(st, "Failed") != 0 &&
                         strcmp(st, "InProgress") != 0))
            rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                "job %.64s: StatusCode %s is not InProgress, Succeeded or Failed",
                                id, st ? st : "(none)");
        else
            job_from_json(job, out);
    }
    json_decref(inner);
    json_decref(doc);
    return rc;
}

uint64_t floe_job_output_size(const struct floe_job_info *job)
{
    if (strcmp(job->action, "InventoryRetrieval") == 0)
        return job->inventory_size_bytes > 0 ? (uint64_t)job->inventory_size_bytes : UINT64_MAX;
    if (job->has_range)
        return floe_range_len(job->range);
    return job->archive_size_bytes > 0 ? (uint64_t)job->archive_size_bytes : UINT64_MAX;
}

int floe_job_check_date(const char *what, const char *date, struct floe_error *err)
{
    /* YYYY-MM-DDTHH:MM:SS[.fff]Z */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t n = strlen(date), i;
    bool ok = n >= sizeof(shape);
    for (i = 0; ok && i < sizeof(shape) - 1; i++)
        ok = shape[i] == 'd' ? isdigit((unsigned char)date[i]) != 0 : date[i] == shape[i];
    if (ok && date[i] == '.') {
        i++;
        size_t d0 = i;
        while (isdigit((unsigned char)date[i]))
            i++;
        ok = i > d0;
    }
    ok = ok && date[i] == 'Z' && date[i + 1] == 0;
    if (ok) {
        int mon = (date[5] - '0') * 10 + (date[6] - '0');
        int day = (date[8] - '0') * 10 + (date[9] - '0');
        int hh = (date[11] - '0') * 10 + (date[12] - '0');
        int mm = (date[14] - '0') * 10 + (date[15] - '0');
        int ss = (date[17] - '0') * 10 + (date[18] - '0');
        ok = mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hh < 24 && mm < 60 && ss < 61;
    }
    if (!ok)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "%s \"%s\" is not an ISO-8601 UTC time like 2013-12-04T21:25:42Z",
                              what, date);
    return FLOE_OK;
}

/* Canonical spelling of a tier, or NULL. */
static const char *canonical_tier(const char *t)
{
    static const char *const tiers[] = {"Expedited", "Standard", "Bulk"};
    for (size_t i = 0; i < 3; i++)
        if (strcasecmp(t, tiers[i]) == 0)
            return tiers[i];
    return NULL;
}

/* The local part of the retrieval range rule: everything that can be judged without the
 * archive size when it is unknown. */
static int check_range(const struct floe_job_retrieval_params *p, struct floe_error *err)
{
    struct floe_byte_range r = p->range;
    if (p->archive_size)
        return floe_range_check_retrieval(r, p->archive_size, err);
    if (r.first > r.last)
        return floe_error_set(err, FLOE_E_RANGE,
                              "range %" PRIu64 "-%" PRIu64 " ends before it starts", r.first,
                              r.last);
    if (r.first % FLOE_MIB != 0)
        return floe_error_set(err, FLOE_E_RANGE,
                              "range start %" PRIu64 " is not a multiple of 1 MiB (1048576)",
                              r.first);
    /* an end that is not one byte before a MiB multiple is only valid as the archive's last
     * byte, which only the service knows */
    return FLOE_OK;
}

static int initiate(struct floe_client *c, const char *vault, json_t *body,
                    char job_id[FLOE_JOB_ID_MAX], struct floe_error *err)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int rc = floe_request_id(
        c, &(struct floe_request){.method = "POST", .vault = vault, .path = "/jobs", .json = text},
        "x-amz-job-id", job_id, FLOE_JOB_ID_MAX, "InitiateJob answer has no usable x-amz-job-id",
        err);
    free(text);
    return rc;
}

static void set_opt_str(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

/* The checks every Initiate Job makes first: the vault name, then the description. */
static int check_initiate(const char *vault, const char *description, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (!rc)
        rc = floe_client_check_description(description, err);
    return rc;
}

int floe_job_initiate_retrieval(struct floe_client *c, const char *vault,
                                const struct floe_job_retrieval_params *params,
                                char job_id[FLOE_JOB_ID_MAX], struct floe_error *err)
{
    int rc = check_initiate(vault, params->description, err);
    if (rc)
        return rc;
    if (!params->archive_id || !*params->archive_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "an archive id is required");
    if (strlen(params->archive_id) >= FLOE_JOB_ID_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "archive id is longer than 1,024 bytes");
    const char *tier = NULL;
    if (params->tier && *params->tier && !(tier = canonical_tier(params->tier)))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "tier \"%s\" is not one of Expedited, Standard, Bulk", params->tier);
    if (params->has_range && (rc = check_range(params, err)))
        return rc;
    json_t *body = json_object();
    json_object_set_new(body, "Type", json_string("archive-retrieval"));
    json_object_set_new(body, "ArchiveId", json_string(params->archive_id));
    set_opt_str(body, "Description", params->description);
    set_opt_str(body, "SNSTopic", params->sns_topic);
    set_opt_str(body, "Tier", tier);
    if (params->has_range) {
        char r[64];
        snprintf(r, sizeof(r), "%" PRIu64 "-%" PRIu64, params->range.first, params->range.last);
        json_object_set_new(body, "RetrievalByteRange", json_string(r));
    }
    rc = initiate(c, vault, body, job_id, err);
    json_decref(body);
    return rc;
}

/* The select body, or NULL with err. */
static json_t *select_body(const struct floe_job_select_params *p, struct floe_error *err)
{
    int rc = floe_client_check_description(p->description, err);
    if (rc)
        return NULL;
    if (!p->archive_id || !*p->archive_id || strlen(p->archive_id) >= FLOE_JOB_ID_MAX) {
        floe_error_set(err, FLOE_E_INVALID_ARG, "an archive id (at most 1,024 bytes) is required");
        return NULL;
    }
    const char *tier = NULL;
    if (p->tier && *p->tier && !(tier = canonical_tier(p->tier))) {
        floe_error_set(err, FLOE_E_INVALID_ARG,
                       "tier \"%s\" is not one of Expedited, Standard, Bulk", p->tier);
        return NULL;
    }
    json_error_t je;
    json_t *sp = json_loads(p->select_parameters_json ? p->select_parameters_json : "", 0, &je);
    json_t *ol = json_loads(p->output_location_json ? p->output_location_json : "", 0, &je);
    if (!json_is_object(sp) || !json_is_object(ol)) {
        floe_error_set(err, FLOE_E_INVALID_ARG,
                       "SelectParameters and OutputLocation must be JSON objects");
        json_decref(sp);
        json_decref(ol);
        return NULL;
    }
    json_t *body = json_object();
    json_object_set_new(body, "Type", json_string("select"));
    json_object_set_new(body, "ArchiveId", json_string(p->archive_id));
    set_opt_str(body, "Description", p->description);
    set_opt_str(body, "SNSTopic", p->sns_topic);
    set_opt_str(body, "Tier", tier);
    json_object_set_new(body, "SelectParameters", sp);
    json_object_set_new(body, "OutputLocation", ol);
    return body;
}

char *floe_job_select_body(const struct floe_job_select_params *params, struct floe_error *err)
{
    json_t *body = select_body(params, err);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    return text;
}

int floe_job_initiate_select(struct floe_client *c, const char *vault,
                             const struct floe_job_select_params *params,
                             char job_id[FLOE_JOB_ID_MAX], struct floe_error *err)
{
    int rc = check_initiate(vault, params->description, err);
    if (rc)
        return rc;
    json_t *body = select_body(params, err);
    if (!body)
        return err ? err->status : FLOE_E_INVALID_ARG;
    rc = initiate(c, vault, body, job_id, err);
    json_decref(body);
    return rc;
}

int floe_job_initiate_inventory(struct floe_client *c, const char *vault,
                                const struct floe_job_inventory_params *params,
                                char job_id[FLOE_JOB_ID_MAX], struct floe_error *err)
{
    int rc = check_initiate(vault, params->description, err);
    if (!rc && params->start_date)
        rc = floe_job_check_date("--start-date", params->start_date, err);
    if (!rc && params->end_date)
        rc = floe_job_check_date("--end-date", params->end_date, err);
    if (rc)
        return rc;
    const char *format = "JSON";
    if (params->format && *params->format) {
        if (strcasecmp(params->format, "JSON") == 0)
            format = "JSON";
        else if (strcasecmp(params->format, "CSV") == 0)
            format = "CSV";
        else
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "inventory format \"%s\" is not JSON or CSV", params->format);
    }
    if (params->start_date && params->end_date && strcmp(params->start_date, params->end_date) >= 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--start-date %s is not before --end-date %s", params->start_date,
                              params->end_date);
    json_t *body = json_object();
    json_object_set_new(body, "Type", json_string("inventory-retrieval"));
    json_object_set_new(body, "Format", json_string(format));
    set_opt_str(body, "Description", params->description);
    set_opt_str(body, "SNSTopic", params->sns_topic);
    if (params->start_date || params->end_date || params->limit || params->marker) {
        json_t *irp = json_object();
        set_opt_str(irp, "StartDate", params->start_date);
        set_opt_str(irp, "EndDate", params->end_date);
        if (params->limit) {
            char l[24];
            snprintf(l, sizeof(l), "%" PRIu64, params->limit);
            json_object_set_new(irp, "Limit", json_string(l));
        }
        set_opt_str(irp, "Marker", params->marker);
        json_object_set_new(body, "InventoryRetrievalParameters", irp);
    }
    rc = initiate(c, vault, body, job_id, err);
    json_decref(body);
    return rc;
}

int floe_job_describe(struct floe_client *c, const char *vault, const char *job_id,
                      struct floe_job_info *out, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (rc)
        return rc;
    if (!job_id || !*job_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "a job id is required");
    json_t *doc = NULL;
    rc = floe_request_json(
        c, &(struct floe_request){.method = "GET", .vault = vault, .path = "/jobs", .id = job_id},
        "DescribeJob", &doc, err);
    if (!rc) {
        job_from_json(doc, out);
        json_decref(doc);
    }
    return rc;
}

/* A List Jobs walk: the filter (NULL: none) and the caller's callback. */
struct list_ctx {
    const struct floe_job_list_filter *f;
    floe_job_list_fn *fn;
    void *user;
    bool stopped; /* fn stopped the walk */
};

/* One page's query: completed, limit, marker, statuscode as the filter asks. */
static void list_query(char *query, size_t cap, const char *marker, void *ctx)
{
    struct list_ctx *lc = ctx;
    const struct floe_job_list_filter *f = lc->f;
    size_t n = 0;
    query[0] = 0;
    if (!marker && f && f->start_marker && *f->start_marker)
        marker = f->start_marker; /* the first page of a walk that starts later */
    if (f && f->last_marker && f->last_marker_cap)
        snprintf(f->last_marker, f->last_marker_cap, "%s", marker ? marker : "");
    /* canonical order does not matter here: the signer sorts the query */
    if (f && f->completed >= 0)
        n += (size_t)snprintf(query + n, cap - n, "%scompleted=%s", n ? "&" : "",
                              f->completed ? "true" : "false");
    if (f && f->page_limit)
        n += (size_t)snprintf(query + n, cap - n, "%slimit=%u", n ? "&" : "", f->page_limit);
    if (marker) {
        char *enc = floe_client_encode(marker);
        n += (size_t)snprintf(query + n, cap - n, "%smarker=%s", n ? "&" : "", enc);
        free(enc);
    }
    if (f && f->status_code)
        snprintf(query + n, cap - n, "%sstatuscode=%s", n ? "&" : "", f->status_code);
}

static int list_page(json_t *doc, void *ctx, bool *stop, struct floe_error *err)
{
    (void)err;
    struct list_ctx *lc = ctx;
    json_t *list = json_object_get(doc, "JobList"), *item;
    size_t i;
    struct floe_job_info *info = floe_xmalloc(sizeof(*info));
    json_array_foreach(list, i, item)
    {
        job_from_json(item, info);
        if (lc->fn(info, lc->user)) {
            *stop = lc->stopped = true;
            break;
        }
    }
    free(info);
    return FLOE_OK;
}

int floe_job_list(struct floe_client *c, const char *vault, const struct floe_job_list_filter *f,
                  floe_job_list_fn *fn, void *user, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (rc)
        return rc;
    if (f && f->status_code && strcmp(f->status_code, "InProgress") != 0 &&
        strcmp(f->status_code, "Succeeded") != 0 && strcmp(f->status_code, "Failed") != 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "status code \"%s\" is not InProgress, Succeeded or Failed",
                              f->status_code);
    struct list_ctx lc = {.f = f, .fn = fn, .user = user};
    rc = floe_request_pages(
        c, &(struct floe_request){.method = "GET", .vault = vault, .path = "/jobs"}, "ListJobs",
        list_query, list_page, &lc, err);
    if (f && f->last_marker && f->last_marker_cap && (rc || lc.stopped))
        f->last_marker[0] = 0; /* no last page reached: nothing to start at */
    return rc;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int floe_job_wait(struct floe_client *c, const char *vault, const char *job_id,
                  const struct floe_job_wait_options *opts, struct floe_job_info *out,
                  struct floe_error *err)
{
    struct floe_job_wait_options o = {0};
    if (opts)
        o = *opts;
    double interval_ms = o.first_interval_ms ? o.first_interval_ms : 1000;
    double cap_ms = o.max_interval_ms ? o.max_interval_ms : 15.0 * 60 * 1000;
    if (o.notified) /* the polls are the fallback: at once, then every first_interval_ms */
        interval_ms = cap_ms = o.first_interval_ms ? o.first_interval_ms : cap_ms;
    double t0 = now_s();
    struct floe_job_info *info = floe_xmalloc(sizeof(*info));
    int rc;
    for (;;) {
        rc = floe_job_describe(c, vault, job_id, info, err);
        if (rc)
            goto out;
        double waited = now_s() - t0;
        if (o.progress)
            o.progress(info, waited, o.progress_user);
        if (info->completed || strcmp(info->status_code, "InProgress") != 0) {
            if (o.notified) /* a message already read for it is taken (max_ms 0: no wait) */
                o.notified(job_id, 0, o.notified_user);
            if (strcmp(info->status_code, "Succeeded") == 0) {
                *out = *info;
                rc = FLOE_OK;
            } else {
                rc = floe_error_set(err, FLOE_E_SERVICE, "job %s %s: %s", job_id,
                                    info->status_code[0] ? info->status_code : "ended",
                                    info->status_message[0] ? info->status_message
                                                            : "(no status message)");
                snprintf(err->code, sizeof(err->code), "JobFailed");
            }
            goto out;
        }
        if (o.timeout_ms && waited * 1000 >= (double)o.timeout_ms) {
            rc = floe_error_set(err, FLOE_E_TIMEOUT,
                                "job %s is still in progress after %.0f s (the timeout); wait "
                                "again later with: floe job wait %s %s",
                                job_id, waited, vault, job_id);
            goto out;
        }
        double sleep_ms = interval_ms;
        if (o.timeout_ms) {
            double left = (double)o.timeout_ms - waited * 1000;
            if (sleep_ms > left)
                sleep_ms = left > 0 ? left : 0;
        }
        double until = now_s() + sleep_ms / 1000;
        while (now_s() < until) {
            if (o.cancel && atomic_load(o.cancel)) {
                rc = floe_error_set(err, FLOE_E_CANCELLED, "interrupted while waiting for job %s",
                                    job_id);
                goto out;
            }
            double left = until - now_s();
            if (o.notified) {
                int n =
                    o.notified(job_id, (uint32_t)((left < 5 ? left : 5) * 1000), o.notified_user);
                if (n > 0)
                    break;   /* DescribeJob now */
                if (n < 0) { /* polling as without notifications, from the first interval */
                    o.notified = NULL;
                    interval_ms = o.first_interval_ms ? o.first_interval_ms : 1000;
                    cap_ms = o.max_interval_ms ? o.max_interval_ms : 15.0 * 60 * 1000;
                    until = now_s() + interval_ms / 1000;
                }
                continue;
            }
            struct timespec ts = {0, (long)((left < 0.1 ? left : 0.1) * 1e9)};
            nanosleep(&ts, NULL);
        }
        interval_ms *= 1.5;
        if (interval_ms > cap_ms)
            interval_ms = cap_ms;
    }
out:
    free(info);
    return rc;
}

/* ---- notifications ---- */

#define NOTIFY_PATH "/notification-configuration"

int floe_job_set_notifications(struct floe_client *c, const char *vault,
                               const struct floe_vault_notifications *cfg, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (rc)
        return rc;
    if (!cfg->sns_topic[0])
        return floe_error_set(err, FLOE_E_INVALID_ARG, "an SNS topic ARN is required");
    if (!(cfg->events & (FLOE_NOTIFY_ARCHIVE_RETRIEVAL | FLOE_NOTIFY_INVENTORY_RETRIEVAL)))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "at least one event is required (ArchiveRetrievalCompleted, "
                              "InventoryRetrievalCompleted)");
    json_t *body = json_object(), *events = json_array();
    json_object_set_new(body, "SNSTopic", json_string(cfg->sns_topic));
    if (cfg->events & FLOE_NOTIFY_ARCHIVE_RETRIEVAL)
        json_array_append_new(events, json_string("ArchiveRetrievalCompleted"));
    if (cfg->events & FLOE_NOTIFY_INVENTORY_RETRIEVAL)
        json_array_append_new(events, json_string("InventoryRetrievalCompleted"));
    json_object_set_new(body, "Events", events);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    rc = floe_request_run(
        c,
        &(struct floe_request){.method = "PUT", .vault = vault, .path = NOTIFY_PATH, .json = text},
        NULL, err);
    free(text);
    return rc;
}

int floe_job_get_notifications(struct floe_client *c, const char *vault,
                               struct floe_vault_notifications *out, struct floe_error *err)
{
    json_t *doc = NULL;
    int rc = floe_request_json(
        c, &(struct floe_request){.method = "GET", .vault = vault, .path = NOTIFY_PATH},
        "GetVaultNotifications", &doc, err);
    if (rc)
        return rc;
    /* the model wraps it as vaultNotificationConfig; AWS sends the bare object */
    json_t *cfg = json_object_get(doc, "vaultNotificationConfig");
    if (!json_is_object(cfg))
        cfg = doc;
    struct floe_vault_notifications n = {0};
    floe_json_copy_str(n.sns_topic, sizeof(n.sns_topic), cfg, "SNSTopic");
    json_t *ev = json_object_get(cfg, "Events"), *e;
    size_t i;
    json_array_foreach(ev, i, e)
    {
        const char *s = json_string_value(e);
        if (s && strcmp(s, "ArchiveRetrievalCompleted") == 0)
            n.events |= FLOE_NOTIFY_ARCHIVE_RETRIEVAL;
        else if (s && strcmp(s, "InventoryRetrievalCompleted") == 0)
            n.events |= FLOE_NOTIFY_INVENTORY_RETRIEVAL;
    }
    *out = n;
    json_decref(doc);
    return rc;
}

int floe_job_delete_notifications(struct floe_client *c, const char *vault, struct floe_error *err)
{
    return floe_request_run(
        c, &(struct floe_request){.method = "DELETE", .vault = vault, .path = NOTIFY_PATH}, NULL,
        err);
}
