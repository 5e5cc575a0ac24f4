/*
 * router.c - the routing table of the 33 operations (see router.h).
 */
#include "router.h"

#include <string.h>

static const struct floe_vroute s_routes[] = {
    {"ListVaults", "GET", "vaults", NULL, floe_vapi_list_vaults, NULL, NULL, NULL},
    {"CreateVault", "PUT", "vaults/*", NULL, floe_vapi_create_vault, NULL, NULL, NULL},
    {"DescribeVault", "GET", "vaults/*", NULL, floe_vapi_describe_vault, NULL, NULL, NULL},
    {"DeleteVault", "DELETE", "vaults/*", NULL, floe_vapi_delete_vault, NULL, NULL, NULL},
    {"UploadArchive", "POST", "vaults/*/archives", NULL, NULL, floe_vapi_upload_archive_begin,
     floe_vapi_upload_data, floe_vapi_upload_archive_end},
    {"DeleteArchive", "DELETE", "vaults/*/archives/*", NULL, floe_vapi_delete_archive, NULL, NULL,
     NULL},
    {"InitiateMultipartUpload", "POST", "vaults/*/multipart-uploads", NULL, floe_vapi_initiate_mpu,
     NULL, NULL, NULL},
    {"ListMultipartUploads", "GET", "vaults/*/multipart-uploads", NULL, floe_vapi_list_mpus, NULL,
     NULL, NULL},
    {"UploadMultipartPart", "PUT", "vaults/*/multipart-uploads/*", NULL, NULL,
     floe_vapi_upload_part_begin, floe_vapi_upload_data, floe_vapi_upload_part_end},
    {"CompleteMultipartUpload", "POST", "vaults/*/multipart-uploads/*", NULL,
     floe_vapi_complete_mpu, NULL, NULL, NULL},
    {"AbortMultipartUpload", "DELETE", "vaults/*/multipart-uploads/*", NULL, floe_vapi_abort_mpu,
     NULL, NULL, NULL},
    {"ListParts", "GET", "vaults/*/multipart-uploads/*", NULL, floe_vapi_list_parts, NULL, NULL,
     NULL},
    {"InitiateJob", "POST", "vaults/*/jobs", NULL, floe_vapi_initiate_job, NULL, NULL, NULL},
    {"ListJobs", "GET", "vaults/*/jobs", NULL, floe_vapi_list_jobs, NULL, NULL, NULL},
    {"DescribeJob", "GET", "vaults/*/jobs/*", NULL, floe_vapi_describe_job, NULL, NULL, NULL},
    {"GetJobOutput", "GET", "vaults/*/jobs/*/output", NULL, floe_vapi_get_job_output, NULL, NULL,
     NULL},
    {"SetVaultNotifications", "PUT", "vaults/*/notification-configuration", NULL,
     floe_vapi_set_notifications, NULL, NULL, NULL},
    {"GetVaultNotifications", "GET", "vaults/*/notification-configuration", NULL,
     floe_vapi_get_notifications, NULL, NULL, NULL},
    {"DeleteVaultNotifications", "DELETE", "vaults/*/notification-configuration", NULL,
     floe_vapi_delete_notifications, NULL, NULL, NULL},
    {"SetVaultAccessPolicy", "PUT", "vaults/*/access-policy", NULL, floe_vapi_set_access_policy,
     NULL, NULL, NULL},
    {"GetVaultAccessPolicy", "GET", "vaults/*/access-policy", NULL, floe_vapi_get_access_policy,
     NULL, NULL, NULL},
    {"DeleteVaultAccessPolicy", "DELETE", "vaults/*/access-policy", NULL,
     floe_vapi_delete_access_policy, NULL, NULL, NULL},
    {"InitiateVaultLock", "POST", "vaults/*/lock-policy", NULL, floe_vapi_initiate_lock, NULL, NULL,
     NULL},
    {"GetVaultLock", "GET", "vaults/*/lock-policy", NULL, floe_vapi_get_lock, NULL, NULL, NULL},
    {"AbortVaultLock", "DELETE", "vaults/*/lock-policy", NULL, floe_vapi_abort_lock, NULL, NULL,
     NULL},
    {"CompleteVaultLock", "POST", "vaults/*/lock-policy/*", NULL, floe_vapi_complete_lock, NULL,
     NULL, NULL},
    {"AddTagsToVault", "POST", "vaults/*/tags", "add", floe_vapi_add_tags, NULL, NULL, NULL},
    {"RemoveTagsFromVault", "POST", "vaults/*/tags", "remove", floe_vapi_remove_tags, NULL, NULL,
     NULL},
    {"ListTagsForVault", "GET", "vaults/*/tags", NULL, floe_vapi_list_tags, NULL, NULL, NULL},
    {"SetDataRetrievalPolicy", "PUT", "policies/data-retrieval", NULL,
     floe_vapi_set_retrieval_policy, NULL, NULL, NULL},
    {"GetDataRetrievalPolicy", "GET", "policies/data-retrieval", NULL,
     floe_vapi_get_retrieval_policy, NULL, NULL, NULL},
    {"PurchaseProvisionedCapacity", "POST", "provisioned-capacity", NULL,
     floe_vapi_purchase_capacity, NULL, NULL, NULL},
    {"ListProvisionedCapacity", "GET", "provisioned-capacity", NULL, floe_vapi_list_capacity, NULL,
     NULL, NULL},
};

size_t floe_vroute_count(void)
{
    return sizeof(s_routes) / sizeof(s_routes[0]);
}

const struct floe_vroute *floe_vroute_at(size_t i)
{
    return i < floe_vroute_count() ? &s_routes[i] : NULL;
}

/* Does the path after the account id (segments seg[1..nseg)) match pattern? */
static bool path_matches(const char *pattern, char *const *seg, size_t nseg)
{
    size_t i = 0;
    const char *p = pattern;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (i >= nseg)
            return false;
        if (!(len == 1 && p[0] == '*') && (strlen(seg[i]) != len || memcmp(seg[i], p, len) != 0))
            return false;
        i++;
        p += len;
        if (*p == '/')
            p++;
    }
    return i == nseg;
}

enum floe_vroute_result floe_vroute_find(struct floe_vreq *rq, const struct floe_vroute **out)
{
    bool path_seen = false;
    if (rq->nseg < 2)
        return FLOE_VROUTE_NO_PATH;
    for (size_t i = 0; i < floe_vroute_count(); i++) {
        const struct floe_vroute *r = &s_routes[i];
        if (!path_matches(r->pattern, rq->seg + 1, rq->nseg - 1))
            continue;
        path_seen = true;
        if (strcmp(r->method, rq->method) != 0)
            continue;
        if (r->op) {
            const char *op = floe_vreq_param(rq, "operation");
            if (!op || strcmp(op, r->op) != 0)
                continue;
        }
        if (strcmp(rq->seg[1], "vaults") == 0 && rq->nseg >= 3)
            rq->vault = rq->seg[2];
        if (rq->nseg >= 5)
            rq->id = rq->seg[4];
        *out = r;
        return FLOE_VROUTE_OK;
    }
    return path_seen ? FLOE_VROUTE_NO_METHOD : FLOE_VROUTE_NO_PATH;
}
