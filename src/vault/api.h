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
 * may answer early on an I/O error; end finishes when the body is complete. What the
 * families share (vault checks, paged lists, JSON bodies and answers) is in api_common.h.
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

#endif
