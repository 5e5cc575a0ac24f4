/*
 * admin.c - the Glacier operations that manage rather than move data: vault access policy,
 * Vault Lock, tags, the account's data retrieval policy and provisioned capacity (see
 * floe/admin.h).
 *
 * DESIGN
 * Each operation is one synchronous "call" (client_impl.h) on the caller's thread; none is
 * paged. Inputs are checked here before anything is sent (policy JSON and size, tag rules,
 * the retrieval-policy rule), so a mistake gets a precise local message and costs no request.
 * Answers are parsed completely and checked before any callback runs, so a list callback
 * never sees half a malformed answer. Requests go through the engine's request helper
 * (net/request.h); floe_json_copy_str() is client.c's.
 */
#include "floe/admin.h"

#include "alloc.h"
#include "client_impl.h"
#include "floe/sigv4.h"
#include "request.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_strategy_names[] = {"None", "FreeTier", "BytesPerHour"};
static_assert(sizeof(s_strategy_names) / sizeof(s_strategy_names[0]) ==
                  FLOE_RETRIEVAL_STRATEGY_COUNT,
              "one name per retrieval strategy");

/* ---- helpers ---- */

/*
 * GET path of vault and parse the answer as a JSON object into *out (set only on FLOE_OK; the
 * caller json_decref()s it); op names the operation in the message of an answer that is not
 * one. Threads: the caller's.
 */
static int get_vault_json(struct floe_client *c, const char *vault, const char *path,
                          const char *op, json_t **out, struct floe_error *err)
{
    return floe_request_json(
        c, &(struct floe_request){.method = "GET", .vault = vault, .path = path}, op, out, err);
}

/* As get_vault_json(), for an account resource ("/provisioned-capacity"). */
static int get_account_json(struct floe_client *c, const char *path, const char *op, json_t **out,
                            struct floe_error *err)
{
    return floe_request_json(
        c, &(struct floe_request){.method = "GET", .account = true, .path = path}, op, out, err);
}

/*
 * Sends r with the JSON document o as its body (compact, keys in insertion order); o is
 * consumed (its reference dropped here) and r.json must be NULL. Threads: the caller's.
 */
static int send_json(struct floe_client *c, struct floe_request r, json_t *o,
                     struct floe_error *err)
{
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    r.json = body;
    int rc = floe_request_run(c, &r, NULL, err);
    free(body); /* after the request: the body is borrowed until then */
    return rc;
}

/* Dumps {"Policy": policy} (the access-policy and lock body); free() the result. */
static char *policy_body(const char *policy)
{
    json_t *o = json_pack("{s:s}", "Policy", policy);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* ---- vault access policy ---- */

int floe_admin_check_policy(const char *policy, struct floe_error *err)
{
    if (!policy || !*policy)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "the policy is empty");
    size_t n = strlen(policy);
    if (n > FLOE_ADMIN_POLICY_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the policy is %zu bytes; Glacier allows at most %d", n,
                              FLOE_ADMIN_POLICY_MAX);
    json_error_t je;
    json_t *doc = json_loads(policy, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!doc)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the policy is not valid JSON: %s (line %d, column %d)", je.text,
                              je.line, je.column);
    bool obj = json_is_object(doc);
    json_decref(doc);
    if (!obj)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the policy must be a JSON object ({\"Version\": ..., "
                              "\"Statement\": [...]})");
    return FLOE_OK;
}

/* Vault name check, then policy check. */
static int check_vault_policy(const char *vault, const char *policy, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (!rc)
        rc = floe_admin_check_policy(policy, err);
    return rc;
}

int floe_admin_set_access_policy(struct floe_client *client, const char *vault, const char *policy,
                                 struct floe_error *err)
{
    int rc = check_vault_policy(vault, policy, err);
    if (rc)
        return rc;
    char *body = policy_body(policy);
    rc = floe_request_run(
        client,
        &(struct floe_request){
            .method = "PUT", .vault = vault, .path = "/access-policy", .json = body},
        NULL, err);
    free(body);
    return rc;
}

int floe_admin_get_access_policy(struct floe_client *client, const char *vault, char **out,
                                 struct floe_error *err)
{
    json_t *doc = NULL;
    int rc = get_vault_json(client, vault, "/access-policy", "GetVaultAccessPolicy", &doc, err);
    if (rc)
        return rc;
    json_t *p = json_object_get(doc, "Policy");
    if (json_is_string(p))
        *out = floe_xstrdup(json_string_value(p));
    else
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "GetVaultAccessPolicy: the answer has no Policy string");
    json_decref(doc);
    return rc;
}

int floe_admin_delete_access_policy(struct floe_client *client, const char *vault,
                                    struct floe_error *err)
{
    return floe_request_run(
        client,
        &(struct floe_request){.method = "DELETE", .vault = vault, .path = "/access-policy"}, NULL,
        err);
}

/* ---- vault lock ---- */

int floe_admin_initiate_lock(struct floe_client *client, const char *vault, const char *policy,
                             char lock_id[FLOE_ADMIN_ID_MAX], struct floe_error *err)
{
    int rc = check_vault_policy(vault, policy, err);
    if (rc)
        return rc;
    char *body = policy_body(policy);
    rc =
        floe_request_id(client,
                        &(struct floe_request){
                            .method = "POST", .vault = vault, .path = "/lock-policy", .json = body},
                        "x-amz-lock-id", lock_id, FLOE_ADMIN_ID_MAX,
                        "InitiateVaultLock answer has no usable x-amz-lock-id", err);
    free(body);
    return rc;
}

int floe_admin_get_lock(struct floe_client *client, const char *vault, struct floe_vault_lock *out,
                        struct floe_error *err)
{
    json_t *doc = NULL;
    int rc = get_vault_json(client, vault, "/lock-policy", "GetVaultLock", &doc, err);
    if (rc)
        return rc;
    json_t *p = json_object_get(doc, "Policy"), *st = json_object_get(doc, "State");
    if (!json_is_string(p) || !json_is_string(st)) {
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "GetVaultLock: the answer lacks the Policy or State string");
    } else {
        struct floe_vault_lock l = {0};
        l.policy = floe_xstrdup(json_string_value(p));
        floe_json_copy_str(l.state, sizeof(l.state), doc, "State");
        floe_json_copy_str(l.expiration_date, sizeof(l.expiration_date), doc, "ExpirationDate");
        floe_json_copy_str(l.creation_date, sizeof(l.creation_date), doc, "CreationDate");
        *out = l;
    }
    json_decref(doc);
    return rc;
}

void floe_admin_lock_cleanup(struct floe_vault_lock *l)
{
    if (!l)
        return;
    free(l->policy);
    l->policy = NULL;
}

int floe_admin_complete_lock(struct floe_client *client, const char *vault, const char *lock_id,
                             struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (rc)
        return rc;
    if (!lock_id || !*lock_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "the lock id is empty");
    if (strlen(lock_id) >= FLOE_ADMIN_ID_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the lock id is %zu bytes; ids are at most %d", strlen(lock_id),
                              FLOE_ADMIN_ID_MAX - 1);
    return floe_request_run(
        client,
        &(struct floe_request){
            .method = "POST", .vault = vault, .path = "/lock-policy", .id = lock_id},
        NULL, err);
}

int floe_admin_abort_lock(struct floe_client *client, const char *vault, struct floe_error *err)
{
    return floe_request_run(
        client, &(struct floe_request){.method = "DELETE", .vault = vault, .path = "/lock-policy"},
        NULL, err);
}

/* ---- tags ---- */

/* Length in bytes of the UTF-8 sequence at p (1-4), or 0 if it is malformed. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0; /* overlong, out of range or a surrogate */
    return n;
}

/* Checks the character rule and counts characters; what = "key" or "value". */
static int check_tag_text(const char *what, const char *key, const char *s, size_t max,
                          struct floe_error *err)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (!n)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "tag %s of '%s' is not valid UTF-8 (byte %zu)", what, key,
                                  (size_t)(p - (const unsigned char *)s));
        if (n == 1 && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                        (*p >= '0' && *p <= '9') || strchr(" _./=+-@", *p)))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "tag %s of '%s' has the character '%c' (0x%02x); allowed are "
                                  "letters, digits, spaces and _ . / = + - @",
                                  what, key, *p >= 0x20 && *p < 0x7f ? *p : '?', *p);
        p += n;
        chars++;
    }
    if (chars > max)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "tag %s of '%s' is %zu characters; the limit is %zu", what, key,
                              chars, max);
    return FLOE_OK;
}

int floe_admin_check_tag_key(const char *key, struct floe_error *err)
{
    if (!key || !*key)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "a tag key is empty; keys are 1 to %d characters",
                              FLOE_ADMIN_TAG_KEY_MAX);
    if (strncmp(key, "aws:", 4) == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "tag key '%s' starts with 'aws:', which is reserved for AWS", key);
    return check_tag_text("key", key, key, FLOE_ADMIN_TAG_KEY_MAX, err);
}

int floe_admin_check_tag_value(const char *key, const char *value, struct floe_error *err)
{
    if (!value)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "tag '%s' has no value", key);
    return check_tag_text("value", key, value, FLOE_ADMIN_TAG_VALUE_MAX, err);
}

static int check_count(size_t n, const char *what, struct floe_error *err)
{
    if (n == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "no %s given; give 1 to %d", what,
                              FLOE_ADMIN_TAGS_PER_CALL);
    if (n > FLOE_ADMIN_TAGS_PER_CALL)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "%zu %s given; Glacier takes at most %d per call", n, what,
                              FLOE_ADMIN_TAGS_PER_CALL);
    return FLOE_OK;
}

int floe_admin_add_tags(struct floe_client *client, const char *vault, const struct floe_tag *tags,
                        size_t n, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (!rc)
        rc = check_count(n, "tags", err);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = floe_admin_check_tag_key(tags[i].key, err);
        if (!rc)
            rc = floe_admin_check_tag_value(tags[i].key, tags[i].value, err);
        for (size_t j = 0; !rc && j < i; j++)
            if (strcmp(tags[i].key, tags[j].key) == 0)
                rc = floe_error_set(err, FLOE_E_INVALID_ARG, "tag key '%s' is given twice",
                                    tags[i].key);
    }
    if (rc)
        return rc;
    json_t *map = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(map, tags[i].key, json_string(tags[i].value));
    return send_json(
        client,
        (struct floe_request){
            .method = "POST", .vault = vault, .path = "/tags", .query = "operation=add"},
        json_pack("{s:o}", "Tags", map), err);
}

int floe_admin_remove_tags(struct floe_client *client, const char *vault, const char *const *keys,
                           size_t n, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (!rc)
        rc = check_count(n, "tag keys", err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = floe_admin_check_tag_key(keys[i], err);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(keys[i]));
    return send_json(
        client,
        (struct floe_request){
            .method = "POST", .vault = vault, .path = "/tags", .query = "operation=remove"},
        json_pack("{s:o}", "TagKeys", arr), err);
}

int floe_admin_list_tags(struct floe_client *client, const char *vault, floe_tag_list_fn *fn,
                         void *user, struct floe_error *err)
{
    json_t *doc = NULL;
    int rc = get_vault_json(client, vault, "/tags", "ListTagsForVault", &doc, err);
    if (rc)
        return rc;
    json_t *tags = json_object_get(doc, "Tags"), *v;
    const char *k;
    if (tags && !json_is_object(tags))
        rc = floe_error_set(err, FLOE_E_SERVICE, "ListTagsForVault: Tags is not a map");
    json_object_foreach(tags, k, v)
    {
        if (!rc && !json_is_string(v))
            rc = floe_error_set(err, FLOE_E_SERVICE,
                                "ListTagsForVault: the value of tag '%s' is not a string", k);
    }
    if (!rc) {
        json_object_foreach(tags, k, v)
        {
            if (fn(k, json_string_value(v), user))
                break;
        }
    }
    json_decref(doc);
    return rc;
}

/* ---- data retrieval policy ---- */

const char *floe_admin_strategy_name(enum floe_retrieval_strategy s)
{
    return (unsigned)s < FLOE_RETRIEVAL_STRATEGY_COUNT ? s_strategy_names[s] : "?";
}

int floe_admin_parse_strategy(const char *s, enum floe_retrieval_strategy *out,
                              struct floe_error *err)
{
    for (unsigned i = 0; s && i < FLOE_RETRIEVAL_STRATEGY_COUNT; i++) {
        if (strcmp(s, s_strategy_names[i]) == 0) {
            *out = (enum floe_retrieval_strategy)i;
            return FLOE_OK;
        }
    }
    return floe_error_set(err, FLOE_E_INVALID_ARG,
                          "unknown retrieval strategy '%s' (valid: BytesPerHour, FreeTier, None)",
                          s ? s : "");
}

int floe_admin_check_retrieval_policy(const struct floe_retrieval_policy *p, struct floe_error *err)
{
    if ((unsigned)p->strategy >= FLOE_RETRIEVAL_STRATEGY_COUNT)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "unknown retrieval strategy %d",
                              (int)p->strategy);
    if (p->strategy == FLOE_RETRIEVAL_BYTES_PER_HOUR && p->bytes_per_hour < 1)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the BytesPerHour strategy needs a bytes-per-hour value from 1 to "
                              "9223372036854775807");
    if (p->strategy != FLOE_RETRIEVAL_BYTES_PER_HOUR && p->bytes_per_hour != 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "a bytes-per-hour value is only allowed with the BytesPerHour "
                              "strategy, not with %s",
                              floe_admin_strategy_name(p->strategy));
    return FLOE_OK;
}

int floe_admin_set_retrieval_policy(struct floe_client *client,
                                    const struct floe_retrieval_policy *p, struct floe_error *err)
{
    int rc = floe_admin_check_retrieval_policy(p, err);
    if (rc)
        return rc;
    json_t *rule = json_pack("{s:s}", "Strategy", floe_admin_strategy_name(p->strategy));
    if (p->strategy == FLOE_RETRIEVAL_BYTES_PER_HOUR)
        json_object_set_new(rule, "BytesPerHour", json_integer((json_int_t)p->bytes_per_hour));
    return send_json(
        client,
        (struct floe_request){.method = "PUT", .account = true, .path = "/policies/data-retrieval"},
        json_pack("{s:{s:[o]}}", "Policy", "Rules", rule), err);
}

int floe_admin_get_retrieval_policy(struct floe_client *client, struct floe_retrieval_policy *out,
                                    struct floe_error *err)
{
    json_t *doc = NULL;
    int rc =
        get_account_json(client, "/policies/data-retrieval", "GetDataRetrievalPolicy", &doc, err);
    if (rc)
        return rc;
    json_t *rules = json_object_get(json_object_get(doc, "Policy"), "Rules");
    json_t *rule = json_array_get(rules, 0);
    json_t *bph = json_object_get(rule, "BytesPerHour");
    struct floe_retrieval_policy p = {0};
    struct floe_error perr = {0};
    if (!json_is_array(rules) || json_array_size(rules) != 1 || !json_is_object(rule))
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "GetDataRetrievalPolicy: the answer does not hold exactly one rule");
    else if (floe_admin_parse_strategy(json_string_value(json_object_get(rule, "Strategy")),
                                       &p.strategy, &perr))
        rc = floe_error_set(err, FLOE_E_SERVICE, "GetDataRetrievalPolicy: %s", perr.message);
    else if (p.strategy == FLOE_RETRIEVAL_BYTES_PER_HOUR &&
             (!json_is_integer(bph) || json_integer_value(bph) < 1))
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "GetDataRetrievalPolicy: the BytesPerHour rule has no positive "
                            "BytesPerHour");
    if (!rc) {
        if (p.strategy == FLOE_RETRIEVAL_BYTES_PER_HOUR)
            p.bytes_per_hour = (int64_t)json_integer_value(bph);
        *out = p;
    }
    json_decref(doc);
    return rc;
}

/* ---- provisioned capacity ---- */

int floe_admin_purchase_capacity(struct floe_client *client, char capacity_id[FLOE_ADMIN_ID_MAX],
                                 struct floe_error *err)
{
    return floe_request_id(
        client,
        &(struct floe_request){.method = "POST", .account = true, .path = "/provisioned-capacity"},
        "x-amz-capacity-id", capacity_id, FLOE_ADMIN_ID_MAX,
        "PurchaseProvisionedCapacity answer has no usable x-amz-capacity-id", err);
}

int floe_admin_list_capacity(struct floe_client *client, floe_capacity_list_fn *fn, void *user,
                             struct floe_error *err)
{
    json_t *doc = NULL;
    int rc =
        get_account_json(client, "/provisioned-capacity", "ListProvisionedCapacity", &doc, err);
    if (rc)
        return rc;
    json_t *list = json_object_get(doc, "ProvisionedCapacityList"), *item;
    size_t i;
    if (list && !json_is_array(list))
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "ListProvisionedCapacity: ProvisionedCapacityList is not a list");
    json_array_foreach(list, i, item)
    {
        if (!rc && !json_is_string(json_object_get(item, "CapacityId")))
            rc = floe_error_set(err, FLOE_E_SERVICE,
                                "ListProvisionedCapacity: entry %zu has no CapacityId", i);
    }
    if (!rc) {
        json_array_foreach(list, i, item)
        {
            struct floe_capacity cap;
            floe_json_copy_str(cap.capacity_id, sizeof(cap.capacity_id), item, "CapacityId");
            floe_json_copy_str(cap.start_date, sizeof(cap.start_date), item, "StartDate");
            floe_json_copy_str(cap.expiration_date, sizeof(cap.expiration_date), item,
                               "ExpirationDate");
            if (fn(&cap, user))
                break;
        }
    }
    json_decref(doc);
    return rc;
}
