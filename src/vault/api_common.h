/*
 * api_common.h - what the handler families (api_*.c) share: the vault-exists check and its
 * 404, reading columns of a vault's row, paged lists (marker and limit), strict JSON bodies,
 * the archive description header, the retrieval policy, JSON and error answers, and the
 * Location header.
 *
 * Threads: every helper runs on the request's connection thread and touches only that
 * request; the ones that read the database say whether they take its lock themselves or need
 * it held (_locked).
 */
#ifndef FLOE_VAULT_API_COMMON_H
#define FLOE_VAULT_API_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "vreq.h"

struct json_t;
struct floe_error;
struct sqlite3_stmt;

/*
 * floe_vapi_vault_exists() - true if rq->vault names an existing vault; otherwise answers
 * 404 ResourceNotFoundException "Vault not found for ARN: <arn>" and returns false.
 * Takes and releases the database lock itself.
 */
bool floe_vapi_vault_exists(struct floe_vreq *rq);

/*
 * floe_vapi_vault_exists_locked() - the same check without an answer, for a handler that holds
 * the database lock across the check and its write (so a concurrent DeleteVault cannot commit
 * in between and leave an upload, job or tag in a vault that no longer exists).
 */
bool floe_vapi_vault_exists_locked(struct floe_vreq *rq);

/* Answer 404 "Vault not found for ARN: <arn>" for rq->vault. */
void floe_vapi_vault_not_found(struct floe_vreq *rq);

/*
 * floe_vapi_vault_columns() - n text columns of rq->vault's row, read under the database lock
 * (taken and released here). sql selects the n columns from vaults with one parameter, the
 * vault name ("SELECT a, b FROM vaults WHERE name = ?").
 * out      OUT: n malloc'd copies, NULL for an SQL NULL; the caller frees them. All NULL when
 *          the call returns false.
 * Returns  true, or false after answering 404 "Vault not found" when the vault does not exist.
 */
bool floe_vapi_vault_columns(struct floe_vreq *rq, const char *sql, char **out, int n);

/*
 * floe_vapi_vault_changed_locked() - record that rq->vault's archives changed at now
 * (vaults.changed_ms, DescribeVault's LastInventoryDate). Lock held, inside the caller's
 * transaction. Returns FLOE_OK or FLOE_E_IO (in err).
 */
int floe_vapi_vault_changed_locked(struct floe_vreq *rq, int64_t now, struct floe_error *err);

/*
 * floe_vapi_marker_locked() - where a paged list resumes: sql selects one integer for the
 * parameters (marker, rq->vault). An absent or empty marker leaves *from as it is. Lock held.
 * Returns  true, or false when a marker was given but names no row (the caller answers 400).
 */
bool floe_vapi_marker_locked(struct floe_vreq *rq, const char *sql, const char *marker,
                             int64_t *from);

/* One list item (or marker) made from the current row of st; user as given to the pager.
 * Returns a new reference. */
typedef struct json_t *floe_vapi_row_fn(struct floe_vreq *rq, struct sqlite3_stmt *st, void *user);

/*
 * floe_vapi_page_locked() - one page of a list. st is bound to select at most limit + 1 rows;
 * the first limit become row(rq, st, user) in the returned array. When a further row exists,
 * *next becomes marker(rq, st, user) of that row (marker NULL: the row's column 0 as a
 * string), otherwise JSON null. Lock held; st is reset on return.
 * Returns  a new array; *next is a new reference. The caller owns both.
 */
struct json_t *floe_vapi_page_locked(struct floe_vreq *rq, struct sqlite3_stmt *st, int64_t limit,
                                     floe_vapi_row_fn *row, floe_vapi_row_fn *marker, void *user,
                                     struct json_t **next);

/* floe_vapi_retrieval_policy_key() - the settings key of rq->account's data retrieval policy
 * into key (FLOE_VAULT_KEY_MAX bytes): "retrieval-policy", prefixed as vault keys are. */
void floe_vapi_retrieval_policy_key(const struct floe_vreq *rq, char *key);

/*
 * floe_vapi_retrieval_policy_locked() - the account's data retrieval policy as stored by
 * SetDataRetrievalPolicy ({"Rules": [...]}), or NULL when none is set. Lock held.
 * Returns  a new reference (the caller decrefs it), or NULL.
 */
struct json_t *floe_vapi_retrieval_policy_locked(struct floe_vreq *rq);

/*
 * floe_vapi_parse_limit() - the `limit` query parameter: absent gives def; otherwise a decimal
 * in 1..1000. On a bad value answers 400 InvalidParameterValueException and returns false.
 */
bool floe_vapi_parse_limit(struct floe_vreq *rq, int64_t def, int64_t *out);

/*
 * floe_vapi_parse_json_object() - parse rq->body as a JSON object (an empty body is {}).
 * allowed  NULL-terminated list of accepted member names; any other member answers 400
 *          InvalidParameterValueException "Unknown field ...".
 * Returns  a new reference (the caller decrefs it), or NULL after answering 400
 *          SerializationException.
 */
struct json_t *floe_vapi_parse_json_object(struct floe_vreq *rq, const char *const *allowed);

/*
 * floe_vapi_only_members() - true when every member of the JSON object o is named in allowed
 * (NULL-terminated; NULL allows none); otherwise answers 400 InvalidParameterValueException
 * "Unknown field in <where>: <name>" and returns false.
 */
bool floe_vapi_only_members(struct floe_vreq *rq, struct json_t *o, const char *const *allowed,
                            const char *where);

/* The optional x-amz-archive-description (checked; *out malloc'd or NULL); false after
 * answering 400 InvalidParameterValueException. The caller frees *out. */
bool floe_vapi_description(struct floe_vreq *rq, char **out);

/* Answer status with the JSON of o (reference stolen). */
void floe_vapi_reply_json(struct floe_vreq *rq, unsigned status, struct json_t *o);

/* Add "Location: /<account>/vaults/<vault><suffix><id>" (suffix and id may be NULL). */
void floe_vapi_location(struct floe_vreq *rq, const char *suffix, const char *id);

/* Answer 500 ServiceUnavailableException for a local failure (logged with its detail);
 * err may be NULL. */
void floe_vapi_internal(struct floe_vreq *rq, const struct floe_error *err);

#endif
