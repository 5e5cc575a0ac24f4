/*
 * api.h - the handlers of Glacier's 33 operations, one family per file (api_vaults.c,
 * api_archives.c, api_multipart.c, api_jobs.c, api_policies.c). router.c maps each
 * (method, path, query) to one of them.
 *
 * Contract for every handler: called on the request's connection thread after the request
 * was authenticated and its account and path checked; rq->vault and rq->id hold the decoded
 * path parameters. A handler always answers: it fills rq->resp (success or a Glacier error via
 * errors.h). Buffered handlers (floe_vapi_fn) run once the whole (small) body is in rq->body.
 * Streaming handlers (uploads) get begin -> data* -> end: begin validates headers before any
 * body byte is read and may answer at once (then the body is drained and discarded); data
 * may answer early on an I/O error; end finishes when the body is complete.
 */
#ifndef FLOE_VAULT_API_H
#define FLOE_VAULT_API_H

#include "vreq.h"

typedef void floe_vapi_fn(struct floe_vreq *rq);
typedef void floe_vapi_data_fn(struct floe_vreq *rq, const char *data, size_t n);

/* api_vaults.c */
floe_vapi_fn floe_vapi_create_vault, floe_vapi_describe_vault, floe_vapi_delete_vault,
    floe_vapi_list_vaults;
/* api_archives.c */
floe_vapi_fn floe_vapi_upload_archive_begin, floe_vapi_upload_archive_end, floe_vapi_delete_archive;
floe_vapi_data_fn floe_vapi_upload_data;
/* api_multipart.c */
floe_vapi_fn floe_vapi_initiate_mpu, floe_vapi_list_mpus, floe_vapi_upload_part_begin,
    floe_vapi_upload_part_end, floe_vapi_complete_mpu, floe_vapi_abort_mpu, floe_vapi_list_parts;
/* api_jobs.c */
floe_vapi_fn floe_vapi_initiate_job, floe_vapi_list_jobs, floe_vapi_describe_job,
    floe_vapi_get_job_output;
/* api_policies.c */
floe_vapi_fn floe_vapi_set_notifications, floe_vapi_get_notifications,
    floe_vapi_delete_notifications, floe_vapi_set_access_policy, floe_vapi_get_access_policy,
    floe_vapi_delete_access_policy, floe_vapi_initiate_lock, floe_vapi_get_lock,
    floe_vapi_abort_lock, floe_vapi_complete_lock, floe_vapi_add_tags, floe_vapi_remove_tags,
    floe_vapi_list_tags, floe_vapi_set_retrieval_policy, floe_vapi_get_retrieval_policy,
    floe_vapi_purchase_capacity, floe_vapi_list_capacity;

/* Shared helpers (api_vaults.c). */

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
 * Returns  a new reference, or NULL after answering 400 SerializationException.
 */
struct json_t;
struct json_t *floe_vapi_parse_json_object(struct floe_vreq *rq, const char *const *allowed);

/* The optional x-amz-archive-description (checked; *out malloc'd or NULL); false after
 * answering 400 InvalidParameterValueException. (api_archives.c) */
bool floe_vapi_description(struct floe_vreq *rq, char **out);

/* Answer status with the JSON of o (reference stolen). */
void floe_vapi_reply_json(struct floe_vreq *rq, unsigned status, struct json_t *o);

/* Add "Location: /<account>/vaults/<vault><suffix><id>" (suffix and id may be NULL). */
void floe_vapi_location(struct floe_vreq *rq, const char *suffix, const char *id);

/* Answer 500 ServiceUnavailableException for a local failure (logged with its detail). */
struct floe_error;
void floe_vapi_internal(struct floe_vreq *rq, const struct floe_error *err);

#endif
