/*
 * api_common.h - what the handler families (api_*.c) share: the vault-exists check and its
 * 404, strict JSON bodies, the limit parameter, the archive description header, JSON and
 * error answers, and the Location header.
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
