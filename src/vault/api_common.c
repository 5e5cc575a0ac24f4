/*
 * api_common.c - the helpers every handler family shares (see api_common.h).
 */
#include "api_common.h"

#include "alloc.h"
#include "errors.h"
#include "store_db.h"
#include "vconfig.h"
#include "vctx.h"
#include "vlog.h"
#include "vutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void floe_vapi_internal(struct floe_vreq *rq, const struct floe_error *err)
{
    floe_vlog(&rq->srv->cfg, FLOE_VLOG_ERROR, "%s %s: %s", rq->method, rq->path,
              err ? err->message : "internal error");
    floe_verr_reply(rq, FLOE_VERR_SERVICE_UNAVAILABLE,
                    "The service cannot complete the request: %s",
                    err ? err->message : "internal error");
}

void floe_vapi_vault_not_found(struct floe_vreq *rq)
{
    char arn[512];
    floe_vconfig_vault_arn(&rq->srv->cfg, rq->vault ? rq->vault : "", arn, sizeof(arn));
    floe_verr_reply(rq, FLOE_VERR_NOT_FOUND, "Vault not found for ARN: %s", arn);
}

bool floe_vapi_vault_exists_locked(struct floe_vreq *rq)
{
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT 1 FROM vaults WHERE name = ?");
    floe_vdb_bind(st, "t", rq->vault);
    bool ok = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return ok;
}

bool floe_vapi_vault_exists(struct floe_vreq *rq)
{
    floe_vdb_lock_read(rq->srv->db);
    bool ok = floe_vapi_vault_exists_locked(rq);
    floe_vdb_unlock_read(rq->srv->db);
    if (!ok)
        floe_vapi_vault_not_found(rq);
    return ok;
}

bool floe_vapi_parse_limit(struct floe_vreq *rq, int64_t def, int64_t *out)
{
    const char *s = floe_vreq_param(rq, "limit");
    uint64_t v;
    if (!s) {
        *out = def;
        return true;
    }
    if (floe_vutil_parse_u64(s, &v) != 0 || v < 1 || v > 1000) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid limit: %s (want an integer from 1 to 1000)", s);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

json_t *floe_vapi_parse_json_object(struct floe_vreq *rq, const char *const *allowed)
{
    json_error_t jerr;
    json_t *o;
    if (!rq->body_len)
        o = json_object();
    else
        o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        floe_verr_reply(rq, FLOE_VERR_SERIALIZATION,
                        "The request body is not valid JSON: %s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        floe_verr_reply(rq, FLOE_VERR_SERIALIZATION, "The request body must be a JSON object");
        json_decref(o);
        return NULL;
    }
    if (!floe_vapi_only_members(rq, o, allowed, "request body")) {
        json_decref(o);
        return NULL;
    }
    return o;
}

bool floe_vapi_only_members(struct floe_vreq *rq, json_t *o, const char *const *allowed,
                            const char *where)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; a && *a; a++)
            ok = ok || strcmp(*a, key) == 0;
        if (!ok) {
            floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Unknown field in %s: %s", where, key);
            return false;
        }
    }
    return true;
}

void floe_vapi_reply_json(struct floe_vreq *rq, unsigned status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) {
        floe_vapi_internal(rq, NULL);
        return;
    }
    floe_vreq_reply_body(rq, status, "application/json", s, strlen(s));
}

void floe_vapi_location(struct floe_vreq *rq, const char *suffix, const char *id)
{
    char loc[1024];
    snprintf(loc, sizeof(loc), "/%s/vaults/%s%s%s", rq->account, floe_vconfig_vault_name(rq->vault),
             suffix ? suffix : "", id ? id : "");
    floe_vreq_set_header(rq, "Location", loc);
}

bool floe_vapi_description(struct floe_vreq *rq, char **out)
{
    const char *d = floe_vreq_header(rq, "x-amz-archive-description");
    *out = NULL;
    if (!d)
        return true;
    if (!floe_vutil_desc_valid(d)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid archive description: at most %d printable ASCII characters "
                        "(0x20-0x7E) are allowed (got %zu bytes)",
                        FLOE_VDESC_MAX, strlen(d));
        return false;
    }
    *out = strdup(d);
    return true;
}

bool floe_vapi_vault_columns(struct floe_vreq *rq, const char *sql, char **out, int n)
{
    floe_vdb_lock_read(rq->srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, sql);
    floe_vdb_bind(st, "t", rq->vault);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    for (int i = 0; i < n; i++)
        out[i] = found && floe_vdb_text(st, i) ? floe_xstrdup(floe_vdb_text(st, i)) : NULL;
    sqlite3_reset(st);
    floe_vdb_unlock_read(rq->srv->db);
    if (!found)
        floe_vapi_vault_not_found(rq);
    return found;
}

int floe_vapi_vault_changed_locked(struct floe_vreq *rq, int64_t now, struct floe_error *err)
{
    return floe_vdb_exec(rq->srv->db, err, "UPDATE vaults SET changed_ms = ? WHERE name = ?", "it",
                         now, rq->vault);
}

bool floe_vapi_marker_locked(struct floe_vreq *rq, const char *sql, const char *marker,
                             int64_t *from)
{
    if (!marker || !*marker)
        return true;
    sqlite3_stmt *m = floe_vdb_stmt(rq->srv->db, sql);
    floe_vdb_bind(m, "tt", marker, rq->vault);
    bool found = sqlite3_step(m) == SQLITE_ROW;
    if (found)
        *from = floe_vdb_int(m, 0);
    sqlite3_reset(m);
    return found;
}

json_t *floe_vapi_page_locked(struct floe_vreq *rq, sqlite3_stmt *st, int64_t limit,
                              floe_vapi_row_fn *row, floe_vapi_row_fn *marker, void *user,
                              json_t **next)
{
    json_t *list = json_array();
    *next = json_null();
    int64_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n++ == limit) {
            json_decref(*next);
            *next = marker ? marker(rq, st, user) : json_string(floe_vdb_text(st, 0));
            break;
        }
        json_array_append_new(list, row(rq, st, user));
    }
    sqlite3_reset(st);
    return list;
}

void floe_vapi_retrieval_policy_key(const struct floe_vreq *rq, char *key)
{
    floe_vconfig_vault_key(&rq->srv->cfg, rq->account, "retrieval-policy", key);
}

json_t *floe_vapi_retrieval_policy_locked(struct floe_vreq *rq)
{
    char key[FLOE_VAULT_KEY_MAX];
    floe_vapi_retrieval_policy_key(rq, key);
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT value FROM settings WHERE key = ?");
    floe_vdb_bind(st, "t", key);
    json_t *p = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        p = json_loads(floe_vdb_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    return p;
}
