/*
 * floe/jobs.h - Glacier jobs (archive retrieval, inventory retrieval) and vault notification
 * configuration: Initiate Job, Describe Job, List Jobs (all pages, filters), waiting for a job,
 * and Set/Get/Delete Vault Notifications.
 *
 * Every call is synchronous on the calling thread (the request itself runs on the client's
 * transfer thread, with its retries). Arguments are checked locally before anything is sent:
 * vault names, descriptions, tiers, inventory formats and dates, and retrieval ranges
 * (MiB-aligned, docs/glacier-api.md 4.1). Downloading a job's output is floe/retrieve.h.
 */
#ifndef FLOE_JOBS_H
#define FLOE_JOBS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/range.h"
#include "floe/treehash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_JOB_ID_MAX 1025 /* ids are opaque strings of at most 1,024 bytes */

/* InitiateJob for an archive retrieval. Zero / NULL fields mean "not sent". */
struct floe_job_retrieval_params {
    const char *archive_id;       /* required */
    bool has_range;               /* send RetrievalByteRange */
    struct floe_byte_range range; /* inclusive; must be MiB-aligned */
    uint64_t archive_size;        /* optional (0 = unknown): enables the full range check (end
                                     inside the archive, a partial last MiB only at the end) */
    const char *tier;        /* "Expedited" | "Standard" | "Bulk" (any case); NULL = Standard */
    const char *sns_topic;   /* optional SNS topic ARN */
    const char *description; /* optional, printable ASCII <= 1,024 */
};

/* InitiateJob for an inventory retrieval. */
struct floe_job_inventory_params {
    const char *format;      /* "JSON" | "CSV" (any case); NULL = JSON */
    const char *start_date;  /* ISO-8601 UTC, e.g. "2013-12-04T21:25:42Z"; NULL = none */
    const char *end_date;    /* exclusive; NULL = none */
    uint64_t limit;          /* most archives in the output; 0 = no limit */
    const char *marker;      /* continue after an earlier job (its InventoryRetrievalParameters
                                Marker); NULL = from the start */
    const char *sns_topic;   /* optional */
    const char *description; /* optional */
};

/* A job description (DescribeJob, ListJobs items). Strings are "" when null. */
struct floe_job_info {
    char job_id[FLOE_JOB_ID_MAX];
    char job_description[1025];
    char action[32]; /* "ArchiveRetrieval" | "InventoryRetrieval" | "Select" */
    char archive_id[FLOE_JOB_ID_MAX];
    char vault_arn[400];
    char creation_date[40];
    char completion_date[40];
    bool completed;
    char status_code[16]; /* "InProgress" | "Succeeded" | "Failed" */
    char status_message[1025];
    int64_t archive_size_bytes;   /* -1 when null */
    int64_t inventory_size_bytes; /* -1 when null */
    char sns_topic[400];
    char tier[16];
    bool has_tree_hash; /* SHA256TreeHash: of the retrieved range (null if not tree-aligned) */
    uint8_t tree_hash[FLOE_HASH_BYTES];
    bool has_archive_tree_hash; /* ArchiveSHA256TreeHash: of the whole archive */
    uint8_t archive_tree_hash[FLOE_HASH_BYTES];
    bool has_range; /* RetrievalByteRange */
    struct floe_byte_range range;
    /* InventoryRetrievalParameters (inventory jobs); marker is the next job's start */
    char inventory_format[8];
    char inventory_start_date[40];
    char inventory_end_date[40];
    char inventory_limit[24];
    char inventory_marker[FLOE_JOB_ID_MAX];
    /* Select jobs: JobOutputPath, and SelectParameters + OutputLocation as one compact JSON
     * object {"SelectParameters": ..., "OutputLocation": ...} ("" for other jobs, and when it
     * does not fit: select_json_truncated). */
    char job_output_path[1100];
    char select_json[16384];
    bool select_json_truncated;
};

/*
 * floe_job_from_notification() - the job a completion notification describes. body is what a
 * queue subscribed to the job's SNS topic receives: the SNS envelope ({"Type": "Notification",
 * "Message": "<the DescribeJob JSON as text>", ...}) or, with raw message delivery, the job
 * JSON itself (docs/migrate.md "Notifications").
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG saying what is wrong (not JSON, another SNS message
 *          type, no Message, a Message that is not a job: no JobId, no known StatusCode).
 * Threads  any; no state.
 */
FLOE_API int floe_job_from_notification(const char *body, size_t len, struct floe_job_info *out,
                                        struct floe_error *err);

/*
 * floe_job_output_size() - bytes of a succeeded job's output as its description states them:
 * the RetrievalByteRange length, else ArchiveSizeInBytes, for archive jobs; InventorySizeInBytes
 * for inventory jobs. Returns UINT64_MAX when the description does not say (moto).
 */
FLOE_API uint64_t floe_job_output_size(const struct floe_job_info *job);

/*
 * floe_job_initiate_retrieval() / floe_job_initiate_inventory() - InitiateJob.
 * params   IN: borrowed for the call.
 * job_id   OUT: the new job's id; written only on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (bad vault, tier, format, date, description: message
 *          says which); FLOE_E_RANGE (the range breaks the MiB-alignment rule: nothing was
 *          sent); FLOE_E_NOT_FOUND (vault or archive unknown); other service/network statuses.
 * Threads  any thread.
 */
FLOE_API int floe_job_initiate_retrieval(struct floe_client *c, const char *vault,
                                         const struct floe_job_retrieval_params *params,
                                         char job_id[FLOE_JOB_ID_MAX], struct floe_error *err);
FLOE_API int floe_job_initiate_inventory(struct floe_client *c, const char *vault,
                                         const struct floe_job_inventory_params *params,
                                         char job_id[FLOE_JOB_ID_MAX], struct floe_error *err);

/* A select job (docs/select.md): SelectParameters and OutputLocation are the API's JSON
 * objects as text, sent as they are (the service checks them). Strings borrowed. */
struct floe_job_select_params {
    const char *archive_id;             /* required */
    const char *select_parameters_json; /* {"Expression": ..., "ExpressionType": "SQL", ...} */
    const char *output_location_json;   /* {"S3": {"BucketName": ..., "Prefix": ...}} */
    const char *tier;                   /* as floe_job_retrieval_params; NULL = Standard */
    const char *sns_topic;              /* optional */
    const char *description;            /* optional */
};

/* floe_job_select_body() - the InitiateJob body of a select job as compact JSON text (for a
 * dry run; malloc'd, the caller frees), or NULL with err (a JSON member that does not parse
 * as an object, a bad tier, description or archive id). Threads: any. */
FLOE_API char *floe_job_select_body(const struct floe_job_select_params *params,
                                    struct floe_error *err);

/* floe_job_initiate_select() - InitiateJob of a select job; as floe_job_initiate_retrieval. */
FLOE_API int floe_job_initiate_select(struct floe_client *c, const char *vault,
                                      const struct floe_job_select_params *params,
                                      char job_id[FLOE_JOB_ID_MAX], struct floe_error *err);

/*
 * floe_job_describe() - DescribeJob.
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_NOT_FOUND (unknown or expired job); service/network statuses.
 */
FLOE_API int floe_job_describe(struct floe_client *c, const char *vault, const char *job_id,
                               struct floe_job_info *out, struct floe_error *err);

struct floe_job_list_filter {
    const char *status_code; /* "InProgress" | "Succeeded" | "Failed"; NULL = any */
    int completed;           /* -1 = any, 0 = only incomplete, 1 = only completed */
    unsigned page_limit;     /* jobs per request; 0 = service default */
    /* the Marker of a page to start at (one that last_marker returned; NULL or "" = the
     * first page). A marker is the service's token: it may be refused (the job it names has
     * gone), and the caller then walks from the first page. */
    const char *start_marker;
    /* OUT, if not NULL: when the walk reached the last page (fn never stopped it), the Marker
     * that page was requested with ("" when it was the first), so a later walk can start
     * there and see only the jobs listed from that page on; truncated to last_marker_cap. */
    char *last_marker;
    size_t last_marker_cap;
};

/* Called once per job in the service's order (initiation time); non-zero stops the listing. */
typedef int floe_job_list_fn(const struct floe_job_info *job, void *user);

/*
 * floe_job_list() - ListJobs, following every Marker until it is null.
 * filter   IN: may be NULL (no filter). fn runs on the calling thread.
 * Returns  FLOE_OK (also when fn stopped early); FLOE_E_INVALID_ARG (bad status code);
 *          service/network statuses.
 */
FLOE_API int floe_job_list(struct floe_client *c, const char *vault,
                           const struct floe_job_list_filter *filter, floe_job_list_fn *fn,
                           void *user, struct floe_error *err);

/* Called after every poll of floe_job_wait(), on the waiting thread. */
typedef void floe_job_wait_fn(const struct floe_job_info *job, double waited_s, void *user);

/*
 * A source of job notifications for floe_job_wait() (the CLI's --notify-queue reads an SQS
 * queue): called instead of sleeping, with at most max_ms to wait (a few seconds, so a cancel
 * is seen); returns 1 when it learnt that job_id completed (DescribeJob is then sent at once
 * for the authoritative description), 0 when max_ms passed without that, -1 when it can no
 * longer tell (it said why itself): the wait goes on polling as without it. Called on the
 * waiting thread. Called once more with max_ms 0 when the job is found complete, so a message
 * the source already holds for it (read while another job was awaited) is taken; the result
 * is then ignored.
 */
typedef int floe_job_notified_fn(const char *job_id, uint32_t max_ms, void *user);

struct floe_job_wait_options {
    uint32_t first_interval_ms; /* first poll delay; 0 = 1 s (then x1.5 per poll); with
                                   notified: the fixed poll interval, 0 = max_interval_ms */
    uint32_t max_interval_ms;   /* poll delay cap; 0 = 15 min */
    uint64_t timeout_ms;        /* give up after this; 0 = wait forever */
    atomic_bool *cancel;        /* optional: set to stop waiting (FLOE_E_CANCELLED) */
    floe_job_wait_fn *progress; /* optional */
    void *progress_user;
    floe_job_notified_fn *notified; /* optional: notifications; polls become the fallback */
    void *notified_user;
};

/*
 * floe_job_wait() - poll DescribeJob (first at once, then with growing delays) until the job
 * completes. With opts->notified, between polls it waits on the notifications instead of
 * sleeping, and the polls (at a fixed, long interval) only cover a lost notification.
 * opts     IN: may be NULL (defaults).
 * out      OUT: the final description; written only on FLOE_OK.
 * Returns  FLOE_OK (the job Succeeded); FLOE_E_SERVICE with code "JobFailed" and the job's
 *          StatusMessage (the job Failed); FLOE_E_TIMEOUT (still in progress at the timeout);
 *          FLOE_E_CANCELLED; FLOE_E_NOT_FOUND (unknown or expired job); other statuses of
 *          floe_job_describe().
 */
FLOE_API int floe_job_wait(struct floe_client *c, const char *vault, const char *job_id,
                           const struct floe_job_wait_options *opts, struct floe_job_info *out,
                           struct floe_error *err);

/* ---- vault notifications ---- */

#define FLOE_NOTIFY_ARCHIVE_RETRIEVAL 1u   /* "ArchiveRetrievalCompleted" */
#define FLOE_NOTIFY_INVENTORY_RETRIEVAL 2u /* "InventoryRetrievalCompleted" */

struct floe_vault_notifications {
    char sns_topic[400];
    unsigned events; /* FLOE_NOTIFY_* bits */
};

/*
 * floe_job_set_notifications() - SetVaultNotifications: topic (required) and events (at least
 * one FLOE_NOTIFY_* bit). Replaces any earlier configuration.
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (no topic, no event); service/network statuses.
 */
FLOE_API int floe_job_set_notifications(struct floe_client *c, const char *vault,
                                        const struct floe_vault_notifications *cfg,
                                        struct floe_error *err);
/* GetVaultNotifications; out written only on FLOE_OK; FLOE_E_NOT_FOUND when none is set. */
FLOE_API int floe_job_get_notifications(struct floe_client *c, const char *vault,
                                        struct floe_vault_notifications *out,
                                        struct floe_error *err);
/* DeleteVaultNotifications. */
FLOE_API int floe_job_delete_notifications(struct floe_client *c, const char *vault,
                                           struct floe_error *err);

/*
 * floe_job_check_date() - an inventory filter date: "YYYY-MM-DDTHH:MM:SSZ", optionally with
 * fractional seconds. Returns FLOE_OK or FLOE_E_INVALID_ARG naming the option.
 */
FLOE_API int floe_job_check_date(const char *what, const char *date, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
