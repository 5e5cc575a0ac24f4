/*
 * floe/admin.h - the vault sub-resources and account settings of the Glacier API: vault
 * access policy, Vault Lock, tags, the data retrieval policy and provisioned capacity.
 *
 * Every call is synchronous (it blocks the calling thread until the answer, after retries, is
 * in) and checks its inputs locally first, so a malformed policy or tag costs no request.
 * Service errors come back as in client.h: FLOE_E_SERVICE / FLOE_E_AUTH / FLOE_E_NOT_FOUND /
 * FLOE_E_THROTTLED with the Glacier code in err->code and "Code: message (HTTP n)" in
 * err->message. Archive deletion and multipart bookkeeping (list, parts, abort) are in
 * client.h.
 */
#ifndef FLOE_ADMIN_H
#define FLOE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_ADMIN_POLICY_MAX 20480  /* bytes of a policy (docs/glacier-api.md 1.5) */
#define FLOE_ADMIN_TAGS_PER_CALL 10  /* AddTagsToVault / RemoveTagsFromVault entries per call */
#define FLOE_ADMIN_TAG_KEY_MAX 128   /* characters (UTF-8 code points) */
#define FLOE_ADMIN_TAG_VALUE_MAX 255 /* characters */
#define FLOE_ADMIN_ID_MAX 1025       /* lock and capacity ids: opaque, < 1025 bytes + NUL */

/* ---- vault access policy ---- */

/*
 * floe_admin_check_policy() - check a policy document locally: non-empty, at most
 * FLOE_ADMIN_POLICY_MAX bytes, and a JSON object.
 * policy   IN: NUL-terminated; may be NULL (rejected).
 * Returns  FLOE_OK or FLOE_E_INVALID_ARG (the message names the rule, or the JSON error with
 *          its line and column).
 * Threads  safe from any thread.
 */
FLOE_API int floe_admin_check_policy(const char *policy, struct floe_error *err);

/*
 * floe_admin_set_access_policy() - SetVaultAccessPolicy: replace the vault's access policy.
 * client   IN: borrowed.   vault IN: checked against the vault name rule first.
 * policy   IN: the IAM policy JSON text, sent as the string {"Policy": "<text>"}; checked
 *          with floe_admin_check_policy() first.
 * Returns  FLOE_OK, FLOE_E_INVALID_ARG (local check), or a service status (see above).
 * Threads  any thread; the client may be shared.
 */
FLOE_API int floe_admin_set_access_policy(struct floe_client *client, const char *vault,
                                          const char *policy, struct floe_error *err);

/*
 * floe_admin_get_access_policy() - GetVaultAccessPolicy.
 * out      OUT: set only on FLOE_OK: the policy text, malloc'd; the caller frees it with free().
 * Returns  FLOE_OK, FLOE_E_NOT_FOUND (no such vault, or no policy set: err->message says
 *          which), other service statuses, FLOE_E_SERVICE (malformed answer).
 * Threads  any thread.
 */
FLOE_API int floe_admin_get_access_policy(struct floe_client *client, const char *vault, char **out,
                                          struct floe_error *err);

/* floe_admin_delete_access_policy() - DeleteVaultAccessPolicy (idempotent). Returns as above. */
FLOE_API int floe_admin_delete_access_policy(struct floe_client *client, const char *vault,
                                             struct floe_error *err);

/* ---- vault lock ---- */

struct floe_vault_lock {
    char *policy;             /* malloc'd policy text; freed by floe_admin_lock_cleanup() */
    char state[16];           /* "InProgress" or "Locked" */
    char expiration_date[40]; /* ISO-8601; "" when null (a Locked lock has none) */
    char creation_date[40];   /* ISO-8601 */
};

/*
 * floe_admin_initiate_lock() - InitiateVaultLock: install policy with state InProgress (the
 * service gives 24 h to complete it).
 * policy   IN: checked with floe_admin_check_policy() first.
 * lock_id  OUT: set only on FLOE_OK: the x-amz-lock-id, NUL-terminated.
 * Returns  FLOE_OK, FLOE_E_INVALID_ARG, FLOE_E_AUTH (AccessDeniedException: a lock is already
 *          in progress or the vault is locked), other service statuses, FLOE_E_SERVICE (the
 *          answer has no usable lock id).
 * Threads  any thread.
 */
FLOE_API int floe_admin_initiate_lock(struct floe_client *client, const char *vault,
                                      const char *policy, char lock_id[FLOE_ADMIN_ID_MAX],
                                      struct floe_error *err);

/*
 * floe_admin_get_lock() - GetVaultLock.
 * out      OUT: set only on FLOE_OK; the caller releases it with floe_admin_lock_cleanup().
 * Returns  FLOE_OK, FLOE_E_NOT_FOUND (no vault or no lock policy), other service statuses,
 *          FLOE_E_SERVICE (malformed answer).
 * Threads  any thread.
 */
FLOE_API int floe_admin_get_lock(struct floe_client *client, const char *vault,
                                 struct floe_vault_lock *out, struct floe_error *err);

/* floe_admin_lock_cleanup() - free what floe_admin_get_lock() put in l; NULL, zeroed memory
 * and a second call are fine. */
FLOE_API void floe_admin_lock_cleanup(struct floe_vault_lock *l);

/*
 * floe_admin_complete_lock() - CompleteVaultLock: InProgress becomes Locked (irreversible).
 * lock_id  IN: the id from floe_admin_initiate_lock(); must be non-empty.
 * Returns  FLOE_OK, FLOE_E_INVALID_ARG (empty id), FLOE_E_SERVICE (InvalidParameterValue:
 *          wrong id or no lock in progress), FLOE_E_AUTH (locked with another id), ...
 * Threads  any thread.
 */
FLOE_API int floe_admin_complete_lock(struct floe_client *client, const char *vault,
                                      const char *lock_id, struct floe_error *err);

/* floe_admin_abort_lock() - AbortVaultLock: remove an InProgress lock (idempotent without
 * one; FLOE_E_AUTH once the vault is Locked). Threads: any thread. */
FLOE_API int floe_admin_abort_lock(struct floe_client *client, const char *vault,
                                   struct floe_error *err);

/* ---- tags ---- */

struct floe_tag {
    const char *key;   /* borrowed */
    const char *value; /* borrowed; "" is a valid value */
};

/*
 * floe_admin_check_tag_key() / floe_admin_check_tag_value() - the tag rules of
 * docs/glacier-api.md 1.5: a key is 1-128 characters, a value 0-255, of valid UTF-8 made of
 * letters, digits, spaces and _ . / = + - @ (any non-ASCII character counts as a letter); a key
 * must not start with "aws:".
 * Returns  FLOE_OK or FLOE_E_INVALID_ARG naming the tag and the rule broken.
 * Threads  safe from any thread.
 */
FLOE_API int floe_admin_check_tag_key(const char *key, struct floe_error *err);
FLOE_API int floe_admin_check_tag_value(const char *key, const char *value, struct floe_error *err);

/*
 * floe_admin_add_tags() - AddTagsToVault: add or overwrite n tags.
 * tags     IN: borrowed for the call; 1..FLOE_ADMIN_TAGS_PER_CALL entries, each checked, and
 *          no key given twice.
 * Returns  FLOE_OK, FLOE_E_INVALID_ARG (local check), FLOE_E_SERVICE (LimitExceededException:
 *          the vault would have too many tags; other 400s), FLOE_E_NOT_FOUND (no such vault).
 * Threads  any thread.
 */
FLOE_API int floe_admin_add_tags(struct floe_client *client, const char *vault,
                                 const struct floe_tag *tags, size_t n, struct floe_error *err);

/*
 * floe_admin_remove_tags() - RemoveTagsFromVault (keys not present are ignored).
 * keys     IN: borrowed; 1..FLOE_ADMIN_TAGS_PER_CALL non-empty keys.
 * Returns  FLOE_OK, FLOE_E_INVALID_ARG, or a service status.  Threads: any thread.
 */
FLOE_API int floe_admin_remove_tags(struct floe_client *client, const char *vault,
                                    const char *const *keys, size_t n, struct floe_error *err);

/* Called once per tag, in the service's order; key and value are borrowed for the call only.
 * Return non-zero to stop early. */
typedef int floe_tag_list_fn(const char *key, const char *value, void *user);

/*
 * floe_admin_list_tags() - ListTagsForVault; fn runs on the calling thread, after the whole
 * answer is in and checked, so it never sees a partial list.
 * Returns  FLOE_OK, a service status, FLOE_E_SERVICE (malformed answer).
 */
FLOE_API int floe_admin_list_tags(struct floe_client *client, const char *vault,
                                  floe_tag_list_fn *fn, void *user, struct floe_error *err);

/* ---- data retrieval policy (account level) ---- */

enum floe_retrieval_strategy {
    FLOE_RETRIEVAL_NONE = 0,           /* "None": no retrieval limit (the default) */
    FLOE_RETRIEVAL_FREE_TIER = 1,      /* "FreeTier" */
    FLOE_RETRIEVAL_BYTES_PER_HOUR = 2, /* "BytesPerHour": needs bytes_per_hour */
};
#define FLOE_RETRIEVAL_STRATEGY_COUNT 3

struct floe_retrieval_policy {
    enum floe_retrieval_strategy strategy;
    int64_t bytes_per_hour; /* BytesPerHour: 1 .. INT64_MAX; any other strategy: must be 0 */
};

/* The API's name of a strategy ("BytesPerHour"), or "?" for a value out of range. */
FLOE_API const char *floe_admin_strategy_name(enum floe_retrieval_strategy s);

/*
 * floe_admin_parse_strategy() - "BytesPerHour" | "FreeTier" | "None" (exact case).
 * out      OUT: set only on FLOE_OK.
 * Returns  FLOE_OK or FLOE_E_INVALID_ARG listing the valid values.
 */
FLOE_API int floe_admin_parse_strategy(const char *s, enum floe_retrieval_strategy *out,
                                       struct floe_error *err);

/*
 * floe_admin_check_retrieval_policy() - the rules of docs/glacier-api.md 2.9: a known strategy;
 * bytes_per_hour 1..INT64_MAX with BytesPerHour and 0 (absent) with the others.
 * Returns  FLOE_OK or FLOE_E_INVALID_ARG naming the rule.
 */
FLOE_API int floe_admin_check_retrieval_policy(const struct floe_retrieval_policy *p,
                                               struct floe_error *err);

/* floe_admin_set_retrieval_policy() - SetDataRetrievalPolicy with exactly one rule, checked
 * first. Returns FLOE_OK, FLOE_E_INVALID_ARG or a service status. Threads: any thread. */
FLOE_API int floe_admin_set_retrieval_policy(struct floe_client *client,
                                             const struct floe_retrieval_policy *p,
                                             struct floe_error *err);

/* floe_admin_get_retrieval_policy() - GetDataRetrievalPolicy; out set only on FLOE_OK.
 * FLOE_E_SERVICE when the answer is not one rule of a known strategy. */
FLOE_API int floe_admin_get_retrieval_policy(struct floe_client *client,
                                             struct floe_retrieval_policy *out,
                                             struct floe_error *err);

/* ---- provisioned capacity (account level) ---- */

struct floe_capacity {
    char capacity_id[FLOE_ADMIN_ID_MAX];
    char start_date[40];      /* ISO-8601 */
    char expiration_date[40]; /* ISO-8601 */
};

/*
 * floe_admin_purchase_capacity() - PurchaseProvisionedCapacity (one unit).
 * capacity_id OUT: set only on FLOE_OK, from x-amz-capacity-id.
 * Returns  FLOE_OK, FLOE_E_SERVICE (LimitExceededException: the account has its 2 units; or
 *          an answer without a capacity id), other service statuses.  Threads: any thread.
 */
FLOE_API int floe_admin_purchase_capacity(struct floe_client *client,
                                          char capacity_id[FLOE_ADMIN_ID_MAX],
                                          struct floe_error *err);

/* Called once per unit, in the service's order; non-zero stops early. */
typedef int floe_capacity_list_fn(const struct floe_capacity *cap, void *user);

/* floe_admin_list_capacity() - ListProvisionedCapacity (not paged); fn runs on the calling
 * thread once the answer is checked. Returns FLOE_OK, a service status or FLOE_E_SERVICE. */
FLOE_API int floe_admin_list_capacity(struct floe_client *client, floe_capacity_list_fn *fn,
                                      void *user, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
