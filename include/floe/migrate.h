/*
 * floe/migrate.h - `floe migrate`: move every archive of a vault (or those the filters select)
 * out of Glacier into a local directory, planned from the vault's inventory, paced, verified
 * and resumable (docs/migrate.md).
 *
 * Plan: the inventory is the one named, else the newest succeeded inventory job of the last
 * 20 hours, else one in progress, else a new one (waited for); its output is downloaded and
 * parsed as a stream into the migration catalog (SQLite), one row per archive, so memory does
 * not depend on the archive count. Each archive gets a name from its description (floe's own
 * `floe1` descriptions, mt-aws-glacier's `mt2`, else the description as a path), sanitised
 * into a relative path; names shared by several archives get the creation date added; an
 * archive with no usable description is named by its id; a `--names` CSV overrides any of it.
 * Filters (rsync rules) match the names.
 *
 * Run: retrieval jobs are requested at the tier asked (Bulk by default) while fewer than
 * max_jobs are in flight, the bytes requested and not yet copied stay under max_staged_bytes,
 * and the bytes requested this UTC day stay under max_per_day_bytes. Job status comes from
 * ListJobs pages (never one DescribeJob per job); a succeeded unexpired job of an archive is
 * reused, including one an interrupted run requested, and a staged archive whose job output
 * expires within the margin gets a new job. Each staged archive is copied through
 * floe_job_output_download() (parallel verified segments, resumable) after its job's tree hash
 * was compared with the inventory's; the file is renamed into place only once its tree hash
 * matched, then its SHA-256 is taken for the manifest. Every step is recorded in the catalog
 * first, so kill -9 and the same command again continues: no archive is copied twice and no job
 * is paid twice while a valid one exists.
 */
#ifndef FLOE_MIGRATE_H
#define FLOE_MIGRATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_MIGRATE_DEFAULT_MAX_JOBS 100u
#define FLOE_MIGRATE_DEFAULT_MAX_STAGED ((uint64_t)1 << 40) /* 1 TiB */
#define FLOE_MIGRATE_DEFAULT_EXPIRY_MARGIN_S (4 * 3600)
#define FLOE_MIGRATE_DEFAULT_POLL_MS (5 * 60 * 1000)
#define FLOE_MIGRATE_NOTIFY_POLL_MS (15 * 60 * 1000)   /* ListJobs fallback with a queue */
#define FLOE_MIGRATE_S3_OBJECT_MAX ((uint64_t)5 << 40) /* S3's largest object: 5 TiB */
#define FLOE_MIGRATE_JOB_ATTEMPTS 3 /* retrieval jobs per archive before it is failed */

/* The states of an archive in the catalog (docs/migrate.md, "States"). */
enum floe_migrate_state {
    FLOE_MIGRATE_PLANNED = 0,
    FLOE_MIGRATE_REQUESTED = 1, /* a retrieval job is in progress */
    FLOE_MIGRATE_STAGED = 2,    /* the job succeeded; its output waits to be copied */
    FLOE_MIGRATE_COPYING = 3,
    FLOE_MIGRATE_VERIFIED = 4, /* in place, tree hash matched the inventory */
    FLOE_MIGRATE_DONE = 5,     /* and its SHA-256 is recorded for the manifest */
    FLOE_MIGRATE_FAILED = 6,   /* with a reason */
    FLOE_MIGRATE_STATE_COUNT
};
/* "planned", "requested", ... (static). */
FLOE_API const char *floe_migrate_state_name(enum floe_migrate_state s);

/* The cost and time of moving the plan at one retrieval tier. */
struct floe_migrate_tier_estimate {
    const char *tier;       /* "Expedited", "Standard", "Bulk" (static) */
    double retrieval_usd;   /* per GB retrieved */
    double requests_usd;    /* retrieval requests */
    double destination_usd; /* PUT requests and the first month of storage (S3 only) */
    double total_usd;       /* the three together */
    double hours;           /* job latency, plus the days --max-per-day spreads it over */
};

struct floe_migrate_plan {
    uint64_t archives, bytes;                  /* selected */
    uint64_t excluded, excluded_bytes;         /* left out by the filters */
    uint64_t over_s3_limit;                    /* selected archives larger than 5 TiB */
    uint64_t renamed_duplicates;               /* names given the creation date (or id) */
    uint64_t named_by_id;                      /* no usable description: named by the archive id */
    uint64_t named_by_file;                    /* named by the --names file */
    uint64_t other_shards, other_shards_bytes; /* left to the other shards (--shard) */
    uint64_t requests;                         /* retrieval jobs (one per archive) */
    struct floe_migrate_tier_estimate tiers[3];
    char prices_as_of[16]; /* the date of the price table used */
    char inventory_job_id[1025];
    char inventory_date[40];
    bool inventory_reused; /* an existing inventory job was used */
};

/* One archive of the plan (floe_migrate_list). Strings are borrowed for the callback. */
struct floe_migrate_archive {
    const char *archive_id;
    const char *name;        /* relative path (or key below the S3 prefix) */
    const char *destination; /* the full path or key */
    const char *creation_date;
    uint64_t size;
    char tree_hash[65]; /* hex; "" when the inventory had none */
    char sha256[65];    /* hex; "" until done */
    enum floe_migrate_state state;
    const char *reason; /* failed: why; "" otherwise */
    const char *job_id; /* "" when none */
    bool over_s3_limit;
};
typedef int floe_migrate_archive_fn(const struct floe_migrate_archive *a, void *user);

/* Per state counts and the run figures (floe_migrate_status). */
struct floe_migrate_status {
    uint64_t archives[FLOE_MIGRATE_STATE_COUNT];
    uint64_t bytes[FLOE_MIGRATE_STATE_COUNT];
    uint64_t bytes_copied;   /* over every run */
    double seconds;          /* time spent running, over every run */
    double bytes_per_s;      /* bytes_copied / seconds (0 before the first copy) */
    double eta_s;            /* remaining bytes at that rate (-1 unknown) */
    uint64_t jobs_requested; /* retrieval jobs floe paid for (reused ones not counted) */
    uint64_t bytes_requested;
    double cost_usd; /* those jobs at the catalog's tier and price table */
    char tier[16];
    char vault[256];
    char destination[4096];
    char catalog_path[4096];
};

/* An event of the run, for logs: an archive changed state (or a note). */
struct floe_migrate_event {
    const char *archive_id; /* NULL for a note about the whole run */
    const char *name;
    enum floe_migrate_state state;
    uint64_t size;
    const char *message; /* why (failed, re-requested), or the note; may be "" */
};

/* Where a run is, for a progress line: while it waits for the inventory job (stage
 * "inventory": job_id and job_status set, the counts zero), then the catalog's archives and
 * bytes per state (stage "migrate"). */
struct floe_migrate_progress {
    const char *stage;      /* "inventory" or "migrate" (static) */
    const char *job_id;     /* inventory: the job waited for; else NULL */
    const char *job_status; /* inventory: its StatusCode ("InProgress"); else NULL */
    uint64_t archives[FLOE_MIGRATE_STATE_COUNT], bytes[FLOE_MIGRATE_STATE_COUNT];
    uint64_t copied_bytes; /* this run */
    double seconds;        /* since the run started */
};

struct floe_migrate_options {
    const char *vault;           /* required */
    const char *destination;     /* required: a directory (created if missing) or s3://B/PREFIX */
    const char *catalog_path;    /* NULL: DIR/.floe-migrate/<vault>.db; for S3 the cache
                                    directory's migrate-<hash>.db (floe_migrate_catalog_path);
                                    or postgresql://...: one plan shared by many workers (the
                                    local files then where the default catalog would be) */
    const char *staging_dir;     /* S3: where an archive is staged while it is copied; NULL: the
                                    catalog's path with .staging instead of .db */
    const char *storage_class;   /* S3: NULL = DEEP_ARCHIVE */
    const char *s3_endpoint_url; /* S3: NULL = AWS (https://s3.REGION.amazonaws.com) */
    uint64_t chunk_size; /* S3: power of two >= 8 MiB (0 = 64 MiB), doubled until <= 10,000 parts */
    const char *inventory_job_id;    /* use this inventory job; NULL: reuse or start one */
    const char *inventory_path;      /* plan from this inventory file (JSON or CSV output of an
                                        inventory job); NULL: from a job (not with inventory_job_id) */
    const char *names_path;          /* CSV "archive_id,name" lines overriding names; NULL: none */
    const char *const *filter_rules; /* rsync rules matched against the names */
    size_t nfilter_rules;
    const char *prices_path;    /* JSON price table; NULL: the built-in one */
    const char *tier;           /* "Bulk" (default), "Standard" or "Expedited" */
    uint64_t max_per_day_bytes; /* bytes requested per UTC day; 0 = no limit */
    unsigned max_jobs;          /* retrieval jobs in flight; 0 = FLOE_MIGRATE_DEFAULT_MAX_JOBS */
    uint64_t max_staged_bytes;  /* bytes requested and not yet copied; 0 = 1 TiB */
    uint64_t expiry_margin_s;   /* re-request a staged archive whose output expires within this;
                                   0 = 4 h */
    uint64_t job_expiry_s;      /* how long job output lives; 0 = 24 h */
    uint32_t poll_ms;           /* the longest wait between ListJobs polls; 0 = 5 min (with
                                   notify_queue: the fixed interval; 0 = 15 min) */
    /* an SQS queue URL subscribed to the SNS topic the retrieval jobs notify (the vault's
     * notification configuration, or notify_topic): job completions are read from its
     * messages and ListJobs is only the fallback every poll_ms; NULL: ListJobs polling */
    const char *notify_queue;
    const char *notify_topic; /* sent as the SNSTopic of every retrieval job; NULL: none */
    unsigned concurrency;     /* segments of one archive fetched at once; 0 =
                               * adaptive (floe_download_options.concurrency) */
    bool dry_run;             /* plan only: a temporary catalog, nothing requested */
    bool retry_failed;        /* failed archives are planned again (their attempts start over) */
    unsigned shard_index, shard_count; /* --shard I/N: only archives whose id hashes (xxh3-64)
                                         to I-1 modulo N; 0/0 = every archive. Each shard has
                                         its own catalog (and manifest): ".shard-I-of-N" */
    unsigned lease_s; /* postgresql:// catalog: how long a worker's claim outlives it; 0 = 60 */
    atomic_bool *cancel;
    void (*phase)(const char *what, const char *detail, void *user);
    void (*event)(const struct floe_migrate_event *e, void *user);
    /* optional: at every DescribeJob of the inventory job, then at most every 2 s while
     * archives are copied and at every ListJobs poll while jobs are awaited (up to poll_ms
     * apart); on the calling thread */
    void (*progress)(const struct floe_migrate_progress *p, void *user);
    void *user;
};

struct floe_migrate_result {
    struct floe_migrate_plan plan;
    bool planned_now;              /* the plan was made by this call (else the catalog's) */
    uint64_t copied, copied_bytes; /* this run */
    uint64_t already_present;      /* found in place by a re-run, verified, not copied again */
    uint64_t jobs_requested, jobs_reused, jobs_rerequested;
    uint64_t jobs_notified; /* completions learnt from notify_queue's messages */
    /* ListJobs walks: of every job, of the tail from the last page seen, of the jobs in
     * progress (docs/migrate.md, "refresh") */
    uint64_t job_walks_full, job_walks_tail, job_walks_running;
    uint64_t failed; /* in the catalog after the run */
    uint64_t done;   /* in the catalog after the run */
    double seconds;
    char catalog_path[4096];
    char manifest_csv[4200], manifest_json[4200];
};

/*
 * floe_migrate_plan() - make the plan (a temporary catalog, removed before returning) and
 * report it; nothing but the inventory job is requested. With list, each archive of the plan
 * is passed to it (ordered by name).
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (options, filters, --names or --prices file: the message
 *          names the file and line); the inventory's failures; FLOE_E_CANCELLED.
 * Threads  the calling thread; callbacks run on it.
 */
FLOE_API int floe_migrate_plan(struct floe_client *c, const struct floe_migrate_options *opts,
                               floe_migrate_archive_fn *list, void *list_user,
                               struct floe_migrate_plan *out, struct floe_error *err);

/*
 * floe_migrate() - plan (when the catalog has no plan yet), then run until every archive is
 * done or failed. Returns FLOE_OK (out filled; out->failed archives may have failed, each with
 * its reason in the catalog), FLOE_E_CANCELLED (interrupted: run it again to continue), or the
 * failure that stopped the whole run (disk full, the catalog in use or damaged, the service
 * unreachable past the retry budget, options that differ from the catalog's plan).
 */
FLOE_API int floe_migrate(struct floe_client *c, const struct floe_migrate_options *opts,
                          struct floe_migrate_result *out, struct floe_error *err);

/*
 * floe_migrate_status() - the catalog's figures (read-only; a run may be going on). Only
 * vault, destination, catalog_path and prices_path of opts are used. With list, each archive
 * (in plan order) is passed to it; states_mask (bit per state, 0 = all) selects which.
 * Returns FLOE_OK, FLOE_E_NOT_FOUND (no catalog: nothing planned yet), FLOE_E_CORRUPT.
 */
FLOE_API int floe_migrate_status(const struct floe_migrate_options *opts, unsigned states_mask,
                                 floe_migrate_archive_fn *list, void *list_user,
                                 struct floe_migrate_status *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
