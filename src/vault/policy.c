/*
 * policy.c - vault lock policy evaluation (see policy.h).
 */
#include "policy.h"

#include "alloc.h"
#include "errors.h"
#include "router.h"
#include "store_db.h"
#include "vctx.h"
#include "vutil.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool floe_vpolicy_glob(const char *pat, const char *s, bool case_sensitive)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' || (*pat && (case_sensitive ? *pat == *s
                                                           : tolower((unsigned char)*pat) ==
                                                                 tolower((unsigned char)*s)))) {
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

/* A pattern or a list of patterns (IAM wildcards): does one match s? */
static bool glob_list(json_t *list, const char *s, bool case_sensitive)
{
    if (json_is_string(list))
        return floe_vpolicy_glob(json_string_value(list), s, case_sensitive);
    if (json_is_array(list)) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            if (glob_list(v, s, case_sensitive))
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
        return glob_list(a, action, false); /* action names are case-insensitive */
    json_t *na = json_object_get(stmt, "NotAction");
    return na && !glob_list(na, action, false);
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
    return false;
}

/* The value of a condition key in ctx into buf, or NULL when the request has none. */
static const char *key_value(const struct floe_vpolicy_ctx *ctx, const char *key, char *buf,
                             size_t cap)
{
    static const char *const tag_prefixes[] = {"glacier:ResourceTag/", "aws:ResourceTag/"};
    if (strcasecmp(key, "glacier:ArchiveAgeInDays") == 0) {
        if (ctx->archive_age_days < 0)
            return NULL;
        snprintf(buf, cap, "%lld", (long long)ctx->archive_age_days);
        return buf;
    }
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(tag_prefixes[i]);
        if (strncasecmp(key, tag_prefixes[i], n) != 0)
            continue;
        for (size_t t = 0; t < ctx->ntags; t++)
            if (strcmp(ctx->tag_keys[t], key + n) == 0)
                return ctx->tag_values[t]; /* tag keys are case-sensitive */
        return NULL;
    }
    if (strcasecmp(key, "aws:PrincipalAccount") == 0)
        return ctx->principal_account;
    if (strcasecmp(key, "aws:PrincipalArn") == 0)
        return ctx->principal_arn;
    if (strcasecmp(key, "aws:username") == 0) {
        const char *u = ctx->principal_arn ? strstr(ctx->principal_arn, ":user/") : NULL;
        const char *name = u ? strrchr(u, '/') + 1 : NULL;
        return name;
    }
    if (strcasecmp(key, "aws:SecureTransport") == 0)
        return ctx->secure_transport ? "true" : "false";
    if (strcasecmp(key, "aws:EpochTime") == 0) {
        snprintf(buf, cap, "%lld", (long long)(ctx->now_ms / 1000));
        return buf;
    }
    return NULL;
}

/* One value v of a condition against the request's value have (never NULL) under op (the
 * operator without a "Not" or "IfExists"). -1: an operator floe-vault does not know. */
static int op_matches(const char *op, const char *have, json_t *v)
{
    const char *want = json_is_string(v) ? json_string_value(v) : NULL;
    char num[64];
    if (!want && (json_is_number(v) || json_is_boolean(v))) {
        if (json_is_boolean(v))
            want = json_is_true(v) ? "true" : "false";
        else {
            snprintf(num, sizeof(num), "%.17g", json_number_value(v));
            want = num;
        }
    }
    if (!want)
        return 0;
    if (strcmp(op, "StringEquals") == 0 || strcmp(op, "ArnEquals") == 0)
        return strcmp(have, want) == 0;
    if (strcmp(op, "StringEqualsIgnoreCase") == 0)
        return strcasecmp(have, want) == 0;
    if (strcmp(op, "StringLike") == 0 || strcmp(op, "ArnLike") == 0)
        return floe_vpolicy_glob(want, have, true);
    if (strcmp(op, "Bool") == 0)
        return strcasecmp(have, want) == 0;
    if (strncmp(op, "Numeric", 7) == 0) {
        double a, b;
        char *end = NULL;
        a = strtod(have, &end);
        if (end == have || *end || !number_of(v, &b))
            return 0;
        const char *cmp = op + 7;
        if (strcmp(cmp, "Equals") == 0)
            return a == b;
        if (strcmp(cmp, "LessThan") == 0)
            return a < b;
        if (strcmp(cmp, "LessThanEquals") == 0)
            return a <= b;
        if (strcmp(cmp, "GreaterThan") == 0)
            return a > b;
        if (strcmp(cmp, "GreaterThanEquals") == 0)
            return a >= b;
    }
    return -1;
}

/*
 * True when every condition holds. Operators: String(Not)Equals[IgnoreCase], String(Not)Like,
 * Arn(Not)Equals, Arn(Not)Like, Numeric(Not)Equals / LessThan[Equals] / GreaterThan[Equals],
 * Bool, Null, each with an optional IfExists suffix; the values of a key are ORed (a negated
 * operator: none may match). A key the request lacks fails a positive operator and passes a
 * negated one (IAM's rules). An unknown operator or key never holds.
 */
static bool conditions_hold(json_t *cond, const struct floe_vpolicy_ctx *ctx)
{
    const char *opname;
    json_t *kv;
    if (!cond)
        return true;
    if (!json_is_object(cond))
        return false;
    json_object_foreach(cond, opname, kv)
    {
        const char *key;
        json_t *val;
        char op[64], buf[64];
        if (!json_is_object(kv) || strlen(opname) >= sizeof(op))
            return false;
        snprintf(op, sizeof(op), "%s", opname);
        size_t n = strlen(op);
        bool if_exists = n > 8 && strcmp(op + n - 8, "IfExists") == 0;
        if (if_exists)
            op[n - 8] = 0;
        char *not_at = strstr(op, "Not");
        bool negated = not_at && strcmp(op, "Null") != 0;
        if (negated)
            memmove(not_at, not_at + 3, strlen(not_at + 3) + 1);
        json_object_foreach(kv, key, val)
        {
            const char *have = key_value(ctx, key, buf, sizeof(buf));
            bool holds = false;
            if (strcmp(op, "Null") == 0) {
                json_t *w = json_is_array(val) ? json_array_get(val, 0) : val;
                bool want_null = json_is_true(w) ||
                                 (json_is_string(w) && strcmp(json_string_value(w), "true") == 0);
                holds = want_null == (have == NULL);
            } else if (!have) {
                holds = if_exists || negated;
            } else {
                bool any = false;
                size_t i;
                json_t *v;
                if (json_is_array(val)) {
                    json_array_foreach(val, i, v)
                    {
                        int m = op_matches(op, have, v);
                        if (m < 0)
                            return false;
                        any = any || m;
                    }
                } else {
                    int m = op_matches(op, have, val);
                    if (m < 0)
                        return false;
                    any = m;
                }
                holds = negated ? !any : any;
            }
            if (!holds)
                return false;
        }
    }
    return true;
}

/* Does one Principal entry (a string) name the caller? "*", the account id, the account's
 * root ARN, or the caller's ARN. */
static bool principal_entry(const char *p, const struct floe_vpolicy_ctx *ctx)
{
    char root[64];
    if (strcmp(p, "*") == 0)
        return true;
    if (!ctx->principal_account)
        return false;
    snprintf(root, sizeof(root), "arn:aws:iam::%s:root", ctx->principal_account);
    return strcmp(p, ctx->principal_account) == 0 || strcmp(p, root) == 0 ||
           (ctx->principal_arn && strcmp(p, ctx->principal_arn) == 0);
}

static bool principal_matches(json_t *p, const struct floe_vpolicy_ctx *ctx)
{
    if (json_is_string(p))
        return principal_entry(json_string_value(p), ctx);
    if (json_is_array(p)) {
        size_t i;
        json_t *v;
        json_array_foreach(p, i, v)
        {
            if (principal_matches(v, ctx))
                return true;
        }
        return false;
    }
    if (json_is_object(p)) {
        json_t *aws = json_object_get(p, "AWS");
        return aws && principal_matches(aws, ctx);
    }
    return false;
}

/* Does statement s apply to the request (principal, action, resource, conditions)? A missing
 * Principal or Resource (lock policies are often written without) applies to all. */
static bool statement_applies(json_t *s, const struct floe_vpolicy_ctx *ctx)
{
    json_t *p = json_object_get(s, "Principal"), *np = json_object_get(s, "NotPrincipal");
    if (!ctx->any_principal) {
        if (p && !principal_matches(p, ctx))
            return false;
        if (np && principal_matches(np, ctx))
            return false;
    }
    if (!statement_covers(s, ctx->action))
        return false;
    if (ctx->resource) {
        json_t *r = json_object_get(s, "Resource"), *nr = json_object_get(s, "NotResource");
        if (r && !glob_list(r, ctx->resource, true))
            return false;
        if (nr && glob_list(nr, ctx->resource, true))
            return false;
    }
    return conditions_hold(json_object_get(s, "Condition"), ctx);
}

enum floe_vpolicy_verdict floe_vpolicy_eval(const char *policy_json,
                                            const struct floe_vpolicy_ctx *ctx, char *sid,
                                            size_t sid_cap)
{
    json_t *doc = policy_json ? json_loads(policy_json, 0, NULL) : NULL;
    enum floe_vpolicy_verdict verdict = FLOE_VPOLICY_NONE;
    if (sid_cap)
        sid[0] = 0;
    if (!doc)
        return verdict;
    json_t *stmts = json_object_get(doc, "Statement");
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : (stmts ? 1 : 0);
    for (size_t i = 0; i < n && verdict != FLOE_VPOLICY_DENY; i++) {
        json_t *s = json_is_array(stmts) ? json_array_get(stmts, i) : stmts;
        json_t *effect = json_object_get(s, "Effect");
        if (!json_is_string(effect) || !statement_applies(s, ctx))
            continue;
        bool deny = strcmp(json_string_value(effect), "Deny") == 0;
        if (!deny && strcmp(json_string_value(effect), "Allow") != 0)
            continue;
        verdict = deny ? FLOE_VPOLICY_DENY : FLOE_VPOLICY_ALLOW;
        json_t *sidv = json_object_get(s, "Sid");
        if (sid_cap && json_is_string(sidv))
            snprintf(sid, sid_cap, "%s", json_string_value(sidv));
    }
    json_decref(doc);
    return verdict;
}

bool floe_vpolicy_denies(const char *policy_json, const char *action, int64_t archive_created_ms,
                         int64_t now_ms, char *why, size_t why_cap)
{
    char sid[128];
    /* ages are whole days, as IAM evaluates glacier:ArchiveAgeInDays */
    struct floe_vpolicy_ctx ctx = {
        .action = action,
        .any_principal = true,
        .archive_age_days = archive_created_ms >= 0 ? (now_ms - archive_created_ms) / 86400000 : -1,
        .now_ms = now_ms,
    };
    if (floe_vpolicy_eval(policy_json, &ctx, sid, sizeof(sid)) != FLOE_VPOLICY_DENY)
        return false;
    snprintf(why, why_cap, "%s is denied by the vault lock policy%s%s%s", action,
             sid[0] ? " (statement " : "", sid, sid[0] ? ")" : "");
    return true;
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

/* What floe_vpolicy_authorize() reads of a vault (database lock held). Free with
 * facts_free(). */
struct vault_facts {
    bool exists;
    char *access, *lock; /* the access policy, the live lock policy; NULL: none */
    char **keys, **values;
    size_t ntags;
    int64_t archive_created_ms; /* -1: not an archive action, or no such archive */
};

static void facts_load_locked(struct floe_vreq *rq, bool with_lock, struct vault_facts *f)
{
    struct floe_vdb *db = rq->srv->db;
    memset(f, 0, sizeof(*f));
    f->archive_created_ms = -1;
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT access_policy FROM vaults WHERE name = ?");
    floe_vdb_bind(st, "t", rq->vault);
    if (sqlite3_step(st) == SQLITE_ROW) {
        f->exists = true;
        if (floe_vdb_text(st, 0))
            f->access = floe_xstrdup(floe_vdb_text(st, 0));
    }
    sqlite3_reset(st);
    if (!f->exists || (!f->access && !with_lock))
        return;
    if (with_lock) {
        struct floe_vlock l;
        floe_vpolicy_lock_load_locked(rq->srv, rq->vault, &l);
        f->lock = l.policy;
        l.policy = NULL;
        floe_vpolicy_lock_free(&l);
    }
    st = floe_vdb_stmt(db, "SELECT key, value FROM tags WHERE vault = ? ORDER BY key");
    floe_vdb_bind(st, "t", rq->vault);
    while (sqlite3_step(st) == SQLITE_ROW) {
        f->keys = floe_xrealloc(f->keys, (f->ntags + 1) * sizeof(*f->keys));
        f->values = floe_xrealloc(f->values, (f->ntags + 1) * sizeof(*f->values));
        f->keys[f->ntags] = floe_xstrdup(floe_vdb_text(st, 0));
        f->values[f->ntags++] = floe_xstrdup(floe_vdb_text(st, 1));
    }
    sqlite3_reset(st);
    if (rq->id && strcmp(rq->route->name, "DeleteArchive") == 0) {
        st = floe_vdb_stmt(db, "SELECT created_ms FROM archives WHERE id = ? AND vault = ?"
                               " AND deleted_ms IS NULL");
        floe_vdb_bind(st, "tt", rq->id, rq->vault);
        if (sqlite3_step(st) == SQLITE_ROW)
            f->archive_created_ms = floe_vdb_int(st, 0);
        sqlite3_reset(st);
    }
}

static void facts_free(struct vault_facts *f)
{
    free(f->access);
    free(f->lock);
    for (size_t i = 0; i < f->ntags; i++) {
        free(f->keys[i]);
        free(f->values[i]);
    }
    free(f->keys);
    free(f->values);
}

static bool refuse(struct floe_vreq *rq, const char *who, const char *action, const char *resource,
                   bool explicit_deny)
{
    floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED,
                    "User: %s is not authorized to perform: %s on resource: %s%s", who, action,
                    resource,
                    explicit_deny ? " with an explicit deny in a resource-based policy" : "");
    return false;
}

bool floe_vpolicy_authorize(struct floe_vreq *rq)
{
    const struct floe_vconfig *cfg = &rq->srv->cfg;
    char action[96], resource[512], root[64];
    const char *account = rq->caller ? rq->caller->account_id : rq->account;
    snprintf(root, sizeof(root), "arn:aws:iam::%s:root", account);
    const char *who = rq->caller ? rq->caller->arn : root;
    bool owner = strcmp(account, rq->account) == 0;
    snprintf(action, sizeof(action), "glacier:%s", rq->route->name);
    if (!rq->vault) {
        /* account-level operations (ListVaults, retrieval policy, capacity): owner only */
        if (owner)
            return true;
        snprintf(resource, sizeof(resource), "arn:aws:glacier:%s:%s:vaults/*", cfg->region,
                 rq->account);
        return refuse(rq, who, action, resource, false);
    }
    /* the owner can always read and replace the access policy (no lock-out) */
    if (owner && strstr(rq->route->name, "VaultAccessPolicy"))
        return true;
    floe_vconfig_vault_arn(cfg, rq->vault, resource, sizeof(resource));
    struct vault_facts f;
    floe_vdb_lock_read(rq->srv->db);
    facts_load_locked(rq, !owner, &f);
    floe_vdb_unlock_read(rq->srv->db);
    int64_t now = floe_vutil_now_ms();
    struct floe_vpolicy_ctx ctx = {
        .action = action,
        .resource = resource,
        .principal_account = account,
        .principal_arn = who,
        .archive_age_days =
            f.archive_created_ms >= 0 ? (now - f.archive_created_ms) / 86400000 : -1,
        .tag_keys = (const char *const *)f.keys,
        .tag_values = (const char *const *)f.values,
        .ntags = f.ntags,
        .secure_transport = cfg->tls_cert_pem != NULL,
        .now_ms = now,
    };
    enum floe_vpolicy_verdict a = floe_vpolicy_eval(f.access, &ctx, NULL, 0);
    enum floe_vpolicy_verdict l =
        owner ? FLOE_VPOLICY_NONE : floe_vpolicy_eval(f.lock, &ctx, NULL, 0);
    facts_free(&f);
    if (a == FLOE_VPOLICY_DENY || l == FLOE_VPOLICY_DENY)
        return refuse(rq, who, action, resource, true);
    if (owner || a == FLOE_VPOLICY_ALLOW || l == FLOE_VPOLICY_ALLOW)
        return true;
    return refuse(rq, who, action, resource, false);
}
