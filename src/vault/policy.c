/*
 * policy.c - vault lock policy evaluation (see policy.h).
 */
#include "policy.h"

#include "alloc.h"
#include "store_db.h"
#include "vctx.h"
#include "vutil.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IAM's wildcard match of an action name: '*' any run, '?' one character, case-insensitive. */
static bool glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' ||
                   (*pat && tolower((unsigned char)*pat) == tolower((unsigned char)*s))) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == 0;
}

static bool action_matches(json_t *a, const char *action)
{
    if (json_is_string(a))
        return glob_match(json_string_value(a), action);
    if (json_is_array(a)) {
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
            if (action_matches(v, action))
                return true;
        }
    }
    return false;
}

/* Does the statement name the action: Action matches it, or NotAction does not? */
static bool statement_covers(json_t *stmt, const char *action)
{
    json_t *a = json_object_get(stmt, "Action");
    if (a)
        return action_matches(a, action);
    json_t *na = json_object_get(stmt, "NotAction");
    return na && !action_matches(na, action);
}

static bool number_of(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (json_is_string(v)) {
        char *end = NULL;
        *out = strtod(json_string_value(v), &end);
        return end && !*end && end != json_string_value(v);
    }
    if (json_is_array(v) && json_array_size(v) == 1)
        return number_of(json_array_get(v, 0), out);
    return false;
}

/* True when every condition holds (so the Deny applies). */
static bool conditions_hold(json_t *cond, double age_days, bool have_age)
{
    const char *op;
    json_t *kv;
    if (!cond)
        return true;
    if (!json_is_object(cond))
        return false;
    json_object_foreach(cond, op, kv)
    {
        const char *key;
        json_t *val;
        if (!json_is_object(kv))
            return false;
        json_object_foreach(kv, key, val)
        {
            double limit;
            if (strcasecmp(key, "glacier:ArchiveAgeInDays") != 0 || !have_age ||
                !number_of(val, &limit))
                return false;
            bool holds;
            if (strcmp(op, "NumericLessThan") == 0)
                holds = age_days < limit;
            else if (strcmp(op, "NumericLessThanEquals") == 0)
                holds = age_days <= limit;
            else if (strcmp(op, "NumericGreaterThan") == 0)
                holds = age_days > limit;
            else if (strcmp(op, "NumericGreaterThanEquals") == 0)
                holds = age_days >= limit;
            else
                return false;
            if (!holds)
                return false;
        }
    }
    return true;
}

bool floe_vpolicy_denies(const char *policy_json, const char *action, int64_t archive_created_ms,
                         int64_t now_ms, char *why, size_t why_cap)
{
    json_t *doc = policy_json ? json_loads(policy_json, 0, NULL) : NULL;
    bool denied = false;
    if (!doc)
        return false;
    json_t *stmts = json_object_get(doc, "Statement");
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : (stmts ? 1 : 0);
    /* ages are whole days, as IAM evaluates glacier:ArchiveAgeInDays */
    double age = archive_created_ms >= 0 ? (double)((now_ms - archive_created_ms) / 86400000) : 0;
    for (size_t i = 0; i < n && !denied; i++) {
        json_t *s = json_is_array(stmts) ? json_array_get(stmts, i) : stmts;
        json_t *effect = json_object_get(s, "Effect");
        if (!json_is_string(effect) || strcmp(json_string_value(effect), "Deny") != 0)
            continue;
        if (!statement_covers(s, action))
            continue;
        if (!conditions_hold(json_object_get(s, "Condition"), age, archive_created_ms >= 0))
            continue;
        denied = true;
        json_t *sid = json_object_get(s, "Sid");
        snprintf(why, why_cap, "%s is denied by the vault lock policy%s%s%s", action,
                 json_is_string(sid) ? " (statement " : "",
                 json_is_string(sid) ? json_string_value(sid) : "", json_is_string(sid) ? ")" : "");
    }
    json_decref(doc);
    return denied;
}

void floe_vpolicy_lock_load_locked(struct floe_vserver *srv, const char *vault,
                                   struct floe_vlock *l)
{
    sqlite3_stmt *st =
        floe_vdb_stmt(srv->db, "SELECT lock_policy, lock_state, lock_id, lock_created_ms,"
                               " lock_expires_ms FROM vaults WHERE name = ?");
    floe_vdb_bind(st, "t", vault);
    memset(l, 0, sizeof(*l));
    if (sqlite3_step(st) == SQLITE_ROW) {
        l->vault = true;
        bool expired = floe_vdb_text(st, 1) && strcmp(floe_vdb_text(st, 1), "InProgress") == 0 &&
                       floe_vdb_int(st, 4) <= floe_vutil_now_ms();
        if (floe_vdb_text(st, 0) && !expired) {
            l->policy = floe_xstrdup(floe_vdb_text(st, 0));
            l->state = floe_xstrdup(floe_vdb_text(st, 1));
            l->id = floe_xstrdup(floe_vdb_text(st, 2));
            l->created_ms = floe_vdb_int(st, 3);
            l->expires_ms = floe_vdb_int(st, 4);
        }
    }
    sqlite3_reset(st);
}

void floe_vpolicy_lock_free(struct floe_vlock *l)
{
    free(l->policy);
    free(l->state);
    free(l->id);
}

bool floe_vpolicy_lock_denies_locked(struct floe_vserver *srv, const char *vault,
                                     const char *action, int64_t archive_created_ms, char *why,
                                     size_t why_cap)
{
    struct floe_vlock l;
    floe_vpolicy_lock_load_locked(srv, vault, &l);
    bool denied = l.policy && floe_vpolicy_denies(l.policy, action, archive_created_ms,
                                                  floe_vutil_now_ms(), why, why_cap);
    floe_vpolicy_lock_free(&l);
    return denied;
}

bool floe_vpolicy_valid(const char *policy_json, char *why, size_t why_cap)
{
    json_error_t jerr;
    json_t *doc = json_loads(policy_json, JSON_REJECT_DUPLICATES, &jerr);
    bool ok = false;
    if (!doc)
        snprintf(why, why_cap, "Policy is not valid JSON: %s", jerr.text);
    else if (!json_is_object(doc) || !json_object_get(doc, "Statement"))
        snprintf(why, why_cap, "Policy must be a JSON object with a Statement");
    else
        ok = true;
    json_decref(doc);
    return ok;
}
