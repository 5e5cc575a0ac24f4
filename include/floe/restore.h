/*
 * floe/restore.h - `floe restore`: files back out of a vault, planned from the backup catalog
 * (floe/backup.h). Whole archives for files stored alone; for packs, only the MiB-aligned byte
 * range that holds the wanted frames. Every byte is verified (the service's tree hashes per
 * segment and range, and each packed file's xxh3-128) before a file is put in place; mtimes
 * and permission bits are restored. The plan and its progress live in the catalog, so a killed
 * restore resumes, and a succeeded job that has not expired is reused rather than paid again.
 * Behaviour: docs/backup.md ("Restore").
 */
#ifndef FLOE_RESTORE_H
#define FLOE_RESTORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/jobs.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct floe_restore_progress {
    const char *phase; /* "planning", "waiting", "downloading", "extracting" */
    uint64_t jobs_done, jobs_total;
    uint64_t files_done, files_total;
    uint64_t bytes_done, bytes_total; /* of the files */
    double seconds;
};
typedef void floe_restore_progress_fn(const struct floe_restore_progress *p, void *user);
typedef void floe_restore_warn_fn(const char *path, const char *message, void *user);

struct floe_restore_options {
    const char *vault;        /* required */
    const char *to;           /* required: the directory files are restored under */
    const char *const *paths; /* restore only these paths and what is below them (absolute,
                                 as backed up); none: everything current */
    size_t npaths;
    const char *const *filter_rules; /* rsync rules on the path below each given path */
    size_t nfilter_rules;
    const char *catalog_path; /* NULL: the default for endpoint + account + vault */
    const char *tier;         /* "Expedited" | "Standard" | "Bulk"; NULL = Standard */
    bool overwrite;           /* replace existing files that differ (else they are skipped) */
    bool dry_run;             /* plan and print; nothing initiated, nothing written */
    uint64_t job_max_age_s;   /* reuse succeeded jobs younger than this; 0 = 20 hours */
    /* how each retrieval job is waited for (floe_job_wait(): poll intervals, timeout, and
     * optionally notifications); its cancel defaults to cancel below */
    struct floe_job_wait_options wait;
    atomic_bool *cancel;
    floe_restore_progress_fn *progress;
    floe_restore_warn_fn *warn;
    void *user;
};

/* What the planned jobs would cost and how long they would wait, for one retrieval tier, at the
 * dated price table (docs/backup.md, "Prices"): an estimate, never a bill. */
struct floe_restore_estimate {
    const char *tier; /* "Expedited", "Standard", "Bulk" (static) */
    double usd;       /* bytes_retrieved per GB + jobs per 1,000 requests */
    double hours;     /* the tier's typical wait for a job */
};
#define FLOE_RESTORE_TIERS 3

struct floe_restore_result {
    uint64_t files, bytes;  /* restored */
    uint64_t files_skipped; /* identical already there, or different and not overwritten */
    uint64_t files_failed;
    uint64_t files_planned, bytes_planned; /* to restore, as planned by this run */
    uint64_t jobs, jobs_reused;            /* retrieval jobs needed; of them, reused */
    uint64_t bytes_retrieved;              /* bytes the jobs fetch from the vault */
    bool resumed; /* an unfinished restore into the same directory went on */
    /* every tier's estimate for the planned jobs, in the order Expedited, Standard, Bulk (a
     * resumed restore: zeros, nothing planned) */
    struct floe_restore_estimate estimates[FLOE_RESTORE_TIERS];
    bool partial;
    double seconds;
};

/*
 * floe_restore() - plans (or resumes) a restore, initiates or reuses the jobs, waits for them,
 * downloads and verifies their output, and puts the files in place. Returns FLOE_OK
 * (result->partial when some files were skipped or failed) or the failure that stopped it; a
 * rerun after a failure or kill continues from the catalog.
 * Threads: the calling thread; callbacks run on it.
 */
FLOE_API int floe_restore(struct floe_client *c, const struct floe_restore_options *opts,
                          struct floe_restore_result *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
