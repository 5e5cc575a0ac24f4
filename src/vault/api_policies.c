/*
 * api_policies.c - the vault sub-resources and account settings: notifications, access
 * policy, vault lock, tags, data-retrieval policy and provisioned capacity.
 *
 * Storage: notification config, access policy and lock live in the vaults row; tags in table
 * tags; the retrieval policy in settings('retrieval-policy', or 'ACCOUNT:retrieval-policy' for
 * an account other than the default one); capacity units in capacity (column account: the
 * account's vault-key prefix, vconfig.h).
 * Access policies are stored, not enforced; the lock policy's Deny rules for DeleteArchive
 * and DeleteVault are (policy.c).
 */
#include "api.h"

#include "alloc.h"
#include "api_common.h"
#include "errors.h"
#include "policy.h"
#include "store_db.h"
#include "vctx.h"
#include "vutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLICY_MAX 20480
#define TAGS_PER_VAULT 50
#define TAGS_PER_CALL 10
#define LOCK_WINDOW_MS (24LL * 3600 * 1000)
#define CAPACITY_UNITS 2

/* Run one UPDATE on the vault row; answers 404 / 500 itself. Returns true on success. */
static bool update_vault(struct floe_vreq *rq, const char *sql, const char *fmt, const char *a,
                         const char *b)
{
    struct floe_error err = {0};
    floe_vdb_lock(rq->srv->db);
    int rc = floe_vdb_exec(rq->srv->db, &err, sql, fmt, a, b, rq->vault);
    int64_t changed = floe_vdb_changes(rq->srv->db);
    floe_vdb_unlock(rq->srv->db);
    if (rc) {
        floe_vapi_internal(rq, &err);
        return false;
    }
    if (!changed) {
        floe_vapi_vault_not_found(rq);
        return false;
    }
    return true;
}

/* ---- notifications ---- */

void floe_vapi_set_notifications(struct floe_vreq *rq)
{
    static const char *const allowed[] = {"SNSTopic", "Events", NULL};
    if (!floe_vapi_vault_exists(rq))
        return;
    json_t *o = floe_vapi_parse_json_object(rq, allowed);
    if (!o)
        return;
    json_t *topic = json_object_get(o, "SNSTopic"), *events = json_object_get(o, "Events");
    size_t i;
    json_t *v;
    if (!topic || !events) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                        "SNSTopic and Events are both required in the notification configuration");
        goto out;
    }
    if (!json_is_string(topic) || strncmp(json_string_value(topic), "arn:aws:sns:", 12) != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid SNSTopic: want an SNS topic ARN");
        goto out;
    }
    if (!json_is_array(events) || json_array_size(events) == 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Events must be a non-empty list");
        goto out;
    }
    json_array_foreach(events, i, v)
    {
        if (!json_is_string(v) ||
            (strcmp(json_string_value(v), "ArchiveRetrievalCompleted") != 0 &&
             strcmp(json_string_value(v), "InventoryRetrievalCompleted") != 0)) {
            floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                            "Invalid event: %s (valid values: ArchiveRetrievalCompleted, "
                            "InventoryRetrievalCompleted)",
                            json_is_string(v) ? json_string_value(v) : "(not a string)");
            goto out;
        }
    }
    char *ev = json_dumps(events, JSON_COMPACT);
    if (update_vault(rq, "UPDATE vaults SET notify_topic = ?1, notify_events = ?2 WHERE name = ?3",
                     "ttt", json_string_value(topic), ev))
        floe_vreq_reply_empty(rq, 204);
    free(ev);
out:
    json_decref(o);
}

void floe_vapi_get_notifications(struct floe_vreq *rq)
{
    char *col[2]; /* notify_topic, notify_events */
    if (!floe_vapi_vault_columns(
            rq, "SELECT notify_topic, notify_events FROM vaults WHERE name = ?", col, 2))
        return;
    if (!col[0]) {
        floe_verr_reply(rq, FLOE_VERR_NOT_FOUND,
                        "No notification configuration is set for the vault: %s", rq->vault);
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "SNSTopic", json_string(col[0]));
        json_t *ev = json_loads(col[1], 0, NULL);
        json_object_set_new(o, "Events", ev ? ev : json_array());
        floe_vapi_reply_json(rq, 200, o);
    }
    free(col[0]);
    free(col[1]);
}

void floe_vapi_delete_notifications(struct floe_vreq *rq)
{
    if (update_vault(rq, "UPDATE vaults SET notify_topic = ?1, notify_events = ?2 WHERE name = ?3",
                     "ttt", NULL, NULL))
        floe_vreq_reply_empty(rq, 204);
}

/* ---- access policy ---- */

/* The {"Policy": "<json string>"} body shared by access policy and lock; NULL after 400. */
static char *policy_body(struct floe_vreq *rq)
{
    static const char *const allowed[] = {"Policy", NULL};
    char why[256];
    json_t *o = floe_vapi_parse_json_object(rq, allowed);
    char *out = NULL;
    if (!o)
        return NULL;
    json_t *p = json_object_get(o, "Policy");
    if (!p)
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER, "Required parameter Policy is missing");
    else if (!json_is_string(p))
        floe_verr_reply(rq, FLOE_VERR_SERIALIZATION,
                        "Policy must be a string holding a JSON policy");
    else if (json_string_length(p) > POLICY_MAX)
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Policy is %zu bytes; the limit is %d bytes", json_string_length(p),
                        POLICY_MAX);
    else if (!floe_vpolicy_valid(json_string_value(p), why, sizeof(why)))
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "%s", why);
    else
        out = floe_xstrdup(json_string_value(p));
    json_decref(o);
    return out;
}

void floe_vapi_set_access_policy(struct floe_vreq *rq)
{
    if (!floe_vapi_vault_exists(rq))
        return;
    char *p = policy_body(rq);
    if (!p)
        return;
    if (update_vault(rq, "UPDATE vaults SET access_policy = ?1 WHERE name = ?3", "ttt", p, NULL))
        floe_vreq_reply_empty(rq, 204);
    free(p);
}

void floe_vapi_get_access_policy(struct floe_vreq *rq)
{
    char *p;
    if (!floe_vapi_vault_columns(rq, "SELECT access_policy FROM vaults WHERE name = ?", &p, 1))
        return;
    if (!p)
        floe_verr_reply(rq, FLOE_VERR_NOT_FOUND, "No vault access policy is set for: %s",
                        floe_vconfig_vault_name(rq->vault));
    else
        floe_vapi_reply_json(rq, 200, json_pack("{s:s}", "Policy", p));
    free(p);
}

void floe_vapi_delete_access_policy(struct floe_vreq *rq)
{
    if (update_vault(rq, "UPDATE vaults SET access_policy = ?1 WHERE name = ?3", "ttt", NULL, NULL))
        floe_vreq_reply_empty(rq, 204);
}

/* ---- vault lock ---- */

void floe_vapi_initiate_lock(struct floe_vreq *rq)
{
    struct floe_vlock l;
    struct floe_error err = {0};
    char id[FLOE_VID_LOCK_LEN + 1];
    if (!floe_vapi_vault_exists(rq))
        return;
    char *p = policy_body(rq);
    if (!p)
        return;
    floe_vutil_id(id, FLOE_VID_LOCK_LEN, true);
    int64_t now = floe_vutil_now_ms();
    int rc = FLOE_OK;
    floe_vdb_lock(rq->srv->db);
    floe_vpolicy_lock_load_locked(rq->srv, rq->vault, &l);
    if (!l.state)
        rc = floe_vdb_exec(rq->srv->db, &err,
                           "UPDATE vaults SET lock_policy = ?, lock_state = 'InProgress',"
                           " lock_id = ?, lock_created_ms = ?, lock_expires_ms = ? WHERE name = ?",
                           "ttiit", p, id, now, now + LOCK_WINDOW_MS, rq->vault);
    floe_vdb_unlock(rq->srv->db);
    if (!l.vault)
        floe_vapi_vault_not_found(rq);
    else if (l.state && strcmp(l.state, "Locked") == 0)
        floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED, "The vault is locked: %s", rq->vault);
    else if (l.state)
        floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED,
                        "A vault lock is already in progress for %s; abort it first", rq->vault);
    else if (rc)
        floe_vapi_internal(rq, &err);
    else {
        floe_vreq_set_header(rq, "x-amz-lock-id", id);
        floe_vreq_reply_empty(rq, 201);
    }
    floe_vpolicy_lock_free(&l);
    free(p);
}

void floe_vapi_get_lock(struct floe_vreq *rq)
{
    struct floe_vlock l;
    char iso[FLOE_VTIME_ISO_MAX];
    floe_vdb_lock_read(rq->srv->db);
    floe_vpolicy_lock_load_locked(rq->srv, rq->vault, &l);
    floe_vdb_unlock_read(rq->srv->db);
    if (!l.vault) {
        floe_vapi_vault_not_found(rq);
    } else if (!l.state) {
        floe_verr_reply(rq, FLOE_VERR_NOT_FOUND, "No vault lock policy is set for: %s", rq->vault);
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "Policy", json_string(l.policy));
        json_object_set_new(o, "State", json_string(l.state));
        if (strcmp(l.state, "InProgress") == 0) {
            floe_vutil_iso(l.expires_ms, true, iso);
            json_object_set_new(o, "ExpirationDate", json_string(iso));
        } else {
            json_object_set_new(o, "ExpirationDate", json_null());
        }
        floe_vutil_iso(l.created_ms, true, iso);
        json_object_set_new(o, "CreationDate", json_string(iso));
        floe_vapi_reply_json(rq, 200, o);
    }
    floe_vpolicy_lock_free(&l);
}

void floe_vapi_abort_lock(struct floe_vreq *rq)
{
    struct floe_vlock l;
    struct floe_error err = {0};
    int rc = FLOE_OK;
    floe_vdb_lock(rq->srv->db);
    floe_vpolicy_lock_load_locked(rq->srv, rq->vault, &l);
    bool locked = l.state && strcmp(l.state, "Locked") == 0;
    if (l.vault && !locked)
        rc = floe_vdb_exec(rq->srv->db, &err,
                           "UPDATE vaults SET lock_policy = NULL, lock_state = NULL, lock_id ="
                           " NULL, lock_created_ms = NULL, lock_expires_ms = NULL WHERE name = ?",
                           "t", rq->vault);
    floe_vdb_unlock(rq->srv->db);
    if (!l.vault)
        floe_vapi_vault_not_found(rq);
    else if (locked)
        floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED,
                        "The vault is locked; a completed vault lock cannot be aborted: %s",
                        floe_vconfig_vault_name(rq->vault));
    else if (rc)
        floe_vapi_internal(rq, &err);
    else
        floe_vreq_reply_empty(rq, 204);
    floe_vpolicy_lock_free(&l);
}

void floe_vapi_complete_lock(struct floe_vreq *rq)
{
    struct floe_vlock l;
    struct floe_error err = {0};
    int rc = FLOE_OK;
    floe_vdb_lock(rq->srv->db);
    floe_vpolicy_lock_load_locked(rq->srv, rq->vault, &l);
    bool match = l.id && strcmp(l.id, rq->id) == 0;
    bool in_progress = l.state && strcmp(l.state, "InProgress") == 0;
    if (in_progress && match)
        rc = floe_vdb_exec(rq->srv->db, &err,
                           "UPDATE vaults SET lock_state = 'Locked', lock_expires_ms = NULL WHERE"
                           " name = ?",
                           "t", rq->vault);
    floe_vdb_unlock(rq->srv->db);
    if (!l.vault)
        floe_vapi_vault_not_found(rq);
    else if (!l.state)
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "No vault lock is in progress for %s (it may have expired)", rq->vault);
    else if (!match && in_progress)
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Invalid lock ID: %s", rq->id);
    else if (!match)
        floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED,
                        "The vault is locked with a different lock ID: %s", rq->id);
    else if (rc)
        floe_vapi_internal(rq, &err);
    else
        floe_vreq_reply_empty(rq, 204);
    floe_vpolicy_lock_free(&l);
}

/* ---- tags ---- */

static bool tag_text_ok(const char *s, size_t min, size_t max, bool key)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80)
            chars++; /* count UTF-8 characters, not bytes */
        if (*p >= 0x80)
            continue; /* Unicode letters */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(" _./=+-@", *p)))
            return false;
    }
    if (key && strncmp(s, "aws:", 4) == 0)
        return false;
    return chars >= min && chars <= max;
}

/*
 * The body of AddTagsToVault (name "Tags", a map) or RemoveTagsFromVault ("TagKeys", a list):
 * an object whose only member name holds 1 to TAGS_PER_CALL entries.
 * Returns  the body (new reference; *member is borrowed from it), or NULL after answering 400.
 */
static json_t *tags_body(struct floe_vreq *rq, const char *name, bool map, json_t **member)
{
    const char *const allowed[] = {name, NULL};
    json_t *o = floe_vapi_parse_json_object(rq, allowed);
    if (!o)
        return NULL;
    json_t *m = json_object_get(o, name);
    size_t n = map ? json_object_size(m) : json_array_size(m);
    if (!m)
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER, "Required parameter %s is missing", name);
    else if (!(map ? json_is_object(m) : json_is_array(m)) || n == 0 || n > TAGS_PER_CALL)
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "%s must be a %s of 1 to %d %s", name,
                        map ? "map" : "list", TAGS_PER_CALL, map ? "entries" : "keys");
    else {
        *member = m;
        return o;
    }
    json_decref(o);
    return NULL;
}

void floe_vapi_add_tags(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    json_t *tags, *v;
    const char *k;
    if (!floe_vapi_vault_exists(rq))
        return;
    json_t *o = tags_body(rq, "Tags", true, &tags);
    if (!o)
        return;
    json_object_foreach(tags, k, v)
    {
        if (!tag_text_ok(k, 1, 128, true)) {
            floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                            "Invalid tag key: %s (1-128 letters, digits, spaces or _ . / = + - @, "
                            "not starting with aws:)",
                            k);
            goto out;
        }
        if (!json_is_string(v) || !tag_text_ok(json_string_value(v), 0, 255, false)) {
            floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                            "Invalid value for tag %s (0-255 letters, digits, spaces or _ . / = + "
                            "- @)",
                            k);
            goto out;
        }
    }
    struct floe_vdb *db = rq->srv->db;
    bool over = false, gone = false;
    floe_vdb_lock(db);
    int rc = floe_vdb_begin(db, &err);
    if (!rc && !floe_vapi_vault_exists_locked(rq)) { /* deleted since the check above */
        gone = true;
        rc = FLOE_E_NOT_FOUND;
    }
    json_object_foreach(tags, k, v)
    {
        if (!rc)
            rc = floe_vdb_exec(db, &err,
                               "INSERT OR REPLACE INTO tags(vault, key, value) VALUES(?, ?, ?)",
                               "ttt", rq->vault, k, json_string_value(v));
    }
    if (!rc) {
        sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT COUNT(*) FROM tags WHERE vault = ?");
        floe_vdb_bind(st, "t", rq->vault);
        sqlite3_step(st);
        over = floe_vdb_int(st, 0) > TAGS_PER_VAULT;
        sqlite3_reset(st);
    }
    if (!rc && !over)
        rc = floe_vdb_commit(db, &err);
    else
        floe_vdb_rollback(db);
    floe_vdb_unlock(db);
    if (gone)
        floe_vapi_vault_not_found(rq);
    else if (over)
        floe_verr_reply(rq, FLOE_VERR_LIMIT_EXCEEDED, "The vault would have more than %d tags",
                        TAGS_PER_VAULT);
    else if (rc)
        floe_vapi_internal(rq, &err);
    else
        floe_vreq_reply_empty(rq, 204);
out:
    json_decref(o);
}

void floe_vapi_remove_tags(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    json_t *keys, *v;
    size_t i;
    if (!floe_vapi_vault_exists(rq))
        return;
    json_t *o = tags_body(rq, "TagKeys", false, &keys);
    if (!o)
        return;
    json_array_foreach(keys, i, v)
    {
        if (!json_is_string(v)) {
            floe_verr_reply(rq, FLOE_VERR_SERIALIZATION, "TagKeys must hold strings");
            goto out;
        }
    }
    floe_vdb_lock(rq->srv->db);
    int rc = floe_vdb_begin(rq->srv->db, &err);
    json_array_foreach(keys, i, v)
    {
        if (!rc)
            rc = floe_vdb_exec(rq->srv->db, &err, "DELETE FROM tags WHERE vault = ? AND key = ?",
                               "tt", rq->vault, json_string_value(v));
    }
    rc = floe_vdb_end(rq->srv->db, rc, &err);
    floe_vdb_unlock(rq->srv->db);
    if (rc)
        floe_vapi_internal(rq, &err);
    else
        floe_vreq_reply_empty(rq, 204);
out:
    json_decref(o);
}

void floe_vapi_list_tags(struct floe_vreq *rq)
{
    if (!floe_vapi_vault_exists(rq))
        return;
    json_t *tags = json_object();
    floe_vdb_lock_read(rq->srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT key, value FROM tags WHERE vault = ?");
    floe_vdb_bind(st, "t", rq->vault);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_object_set_new(tags, floe_vdb_text(st, 0), json_string(floe_vdb_text(st, 1)));
    sqlite3_reset(st);
    floe_vdb_unlock_read(rq->srv->db);
    json_t *o = json_object();
    json_object_set_new(o, "Tags", tags);
    floe_vapi_reply_json(rq, 200, o);
}

/* ---- data retrieval policy ---- */

void floe_vapi_set_retrieval_policy(struct floe_vreq *rq)
{
    static const char *const allowed[] = {"Policy", NULL};
    static const char *const policy_members[] = {"Rules", NULL};
    static const char *const rule_members[] = {"Strategy", "BytesPerHour", NULL};
    struct floe_error err = {0};
    json_t *o = floe_vapi_parse_json_object(rq, allowed);
    if (!o)
        return;
    json_t *pol = json_object_get(o, "Policy");
    json_t *rules = json_object_get(pol, "Rules");
    json_t *rule = json_array_get(rules, 0);
    if (!pol || !json_is_object(pol)) {
        floe_verr_reply(rq, pol ? FLOE_VERR_SERIALIZATION : FLOE_VERR_MISSING_PARAMETER,
                        "Policy (an object with Rules) is required");
        goto out;
    }
    if (!floe_vapi_only_members(rq, pol, policy_members, "Policy"))
        goto out;
    if (!json_is_array(rules) || json_array_size(rules) != 1 || !json_is_object(rule)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER, "Policy.Rules must hold exactly one rule");
        goto out;
    }
    if (!floe_vapi_only_members(rq, rule, rule_members, "rule"))
        goto out;
    const char *strategy = json_string_value(json_object_get(rule, "Strategy"));
    json_t *bph = json_object_get(rule, "BytesPerHour");
    if (!strategy || (strcmp(strategy, "BytesPerHour") != 0 && strcmp(strategy, "FreeTier") != 0 &&
                      strcmp(strategy, "None") != 0)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid Strategy (valid values: BytesPerHour, FreeTier, None)");
        goto out;
    }
    if (strcmp(strategy, "BytesPerHour") == 0 &&
        (!json_is_integer(bph) || json_integer_value(bph) < 1)) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "BytesPerHour (an integer from 1 to 2^63-1) is required with the "
                        "BytesPerHour strategy");
        goto out;
    }
    if (strcmp(strategy, "BytesPerHour") != 0 && bph) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "BytesPerHour is only allowed with the BytesPerHour strategy");
        goto out;
    }
    char *s = json_dumps(pol, JSON_COMPACT), key[FLOE_VAULT_KEY_MAX];
    floe_vapi_retrieval_policy_key(rq, key);
    floe_vdb_lock(rq->srv->db);
    int rc =
        floe_vdb_exec(rq->srv->db, &err, "INSERT OR REPLACE INTO settings(key, value) VALUES(?, ?)",
                      "tt", key, s);
    floe_vdb_unlock(rq->srv->db);
    free(s);
    if (rc)
        floe_vapi_internal(rq, &err);
    else
        floe_vreq_reply_empty(rq, 204);
out:
    json_decref(o);
}

void floe_vapi_get_retrieval_policy(struct floe_vreq *rq)
{
    floe_vdb_lock_read(rq->srv->db);
    json_t *pol = floe_vapi_retrieval_policy_locked(rq);
    floe_vdb_unlock_read(rq->srv->db);
    if (!pol)
        pol = json_pack("{s:[{s:s}]}", "Rules", "Strategy", "None");
    floe_vapi_reply_json(rq, 200, json_pack("{s:o}", "Policy", pol));
}

/* ---- provisioned capacity ---- */

/* One calendar month later, to the second; the 31st rolls to the next month's last day. */
static int64_t add_month(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int day = tm.tm_mday;
    tm.tm_mday = 1;
    tm.tm_mon += 1;
    time_t first = timegm(&tm);
    struct tm nm;
    gmtime_r(&first, &nm);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = nm.tm_year + 1900;
    int last =
        mdays[nm.tm_mon] + (nm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    nm.tm_mday = day < last ? day : last;
    return (int64_t)timegm(&nm) * 1000 + ms % 1000;
}

void floe_vapi_purchase_capacity(struct floe_vreq *rq)
{
    struct floe_error err = {0};
    char id[FLOE_VID_CAPACITY_LEN + 1];
    int64_t now = floe_vutil_now_ms();
    bool full;
    int rc = FLOE_OK;
    char acct[FLOE_VAULT_KEY_MAX];
    floe_vconfig_vault_key(&rq->srv->cfg, rq->account, "", acct);
    floe_vutil_id(id, FLOE_VID_CAPACITY_LEN, true);
    floe_vdb_lock(rq->srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(
        rq->srv->db, "SELECT COUNT(*) FROM capacity WHERE expires_ms > ? AND account = ?");
    floe_vdb_bind(st, "it", now, acct);
    sqlite3_step(st);
    full = floe_vdb_int(st, 0) >= CAPACITY_UNITS;
    sqlite3_reset(st);
    if (!full)
        rc = floe_vdb_exec(rq->srv->db, &err,
                           "INSERT INTO capacity(id, start_ms, expires_ms, account)"
                           " VALUES(?, ?, ?, ?)",
                           "tiit", id, now, add_month(now), acct);
    floe_vdb_unlock(rq->srv->db);
    if (full)
        floe_verr_reply(rq, FLOE_VERR_LIMIT_EXCEEDED,
                        "An account can have at most %d provisioned capacity units",
                        CAPACITY_UNITS);
    else if (rc)
        floe_vapi_internal(rq, &err);
    else {
        floe_vreq_set_header(rq, "x-amz-capacity-id", id);
        floe_vreq_reply_empty(rq, 201);
    }
}

void floe_vapi_list_capacity(struct floe_vreq *rq)
{
    json_t *list = json_array();
    char a[FLOE_VTIME_ISO_MAX], b[FLOE_VTIME_ISO_MAX], acct[FLOE_VAULT_KEY_MAX];
    floe_vconfig_vault_key(&rq->srv->cfg, rq->account, "", acct);
    floe_vdb_lock_read(rq->srv->db);
    sqlite3_stmt *st = floe_vdb_stmt(rq->srv->db, "SELECT id, start_ms, expires_ms FROM capacity"
                                                  " WHERE account = ? ORDER BY start_ms");
    floe_vdb_bind(st, "t", acct);
    while (sqlite3_step(st) == SQLITE_ROW) {
        floe_vutil_iso(floe_vdb_int(st, 1), true, a);
        floe_vutil_iso(floe_vdb_int(st, 2), true, b);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "CapacityId", floe_vdb_text(st, 0),
                                              "StartDate", a, "ExpirationDate", b));
    }
    sqlite3_reset(st);
    floe_vdb_unlock_read(rq->srv->db);
    floe_vapi_reply_json(rq, 200, json_pack("{s:o}", "ProvisionedCapacityList", list));
}
