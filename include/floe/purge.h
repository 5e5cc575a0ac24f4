/*
 * floe/purge.h - `floe vault purge`: delete every archive of a vault (or those the filters
 * select), fast, resumably, from the vault's inventory.
 *
 * The inventory is the newest succeeded inventory job of the vault (at most a day old), the one
 * named, or a new one waited for; its output is downloaded (verified, resumable) and parsed as a
 * stream, never held whole. DeleteArchive requests run through the transfer core, many in
 * flight, throttling and 5xx backed off by the transfer layer, optionally at most max_rate per
 * second. Progress is a watermark - every archive of the inventory before it is deleted - kept
 * in a small state file beside the checkpoints, so kill -9 and a re-run continue where it
 * stopped; an archive already gone (ResourceNotFound) counts as deleted. An archive a vault
 * lock protects (AccessDenied) is counted and reported, not retried. Behaviour: docs/purge.md.
 */
#ifndef FLOE_PURGE_H
#define FLOE_PURGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/jobs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_PURGE_DEFAULT_CONCURRENCY 32u

/* What the purge would do, known after the counting pass (the confirmation's numbers). */
struct floe_purge_plan {
    uint64_t archives, bytes;     /* selected for deletion (not yet deleted) */
    uint64_t archives_young;      /* of them, younger than the minimum storage duration */
    double early_deletion_usd;    /* the charge for deleting those early */
    double storage_usd_month;     /* storage cost the deletion stops, per month */
    uint64_t archives_kept;       /* in the inventory, not selected by the filters */
    uint64_t archives_unmigrated; /* selected, but not verified by the migration (only_migrated) */
    char inventory_date[40];      /* the inventory's own date (JSON InventoryDate), "" unknown */
};

struct floe_purge_progress {
    uint64_t deleted, total;
    double seconds;
};

struct floe_purge_options {
    const char *vault;               /* required */
    const char *inventory_job_id;    /* use this inventory job; NULL: newest (<= 24 h) or new */
    uint64_t older_than_s;           /* only archives created more than this long ago; 0 = all */
    const char *const *filter_rules; /* rsync rules matched against each archive description */
    size_t nfilter_rules;
    /* Only archives a `floe migrate` verified at their destination (same id, size, tree hash):
     * its manifest (.csv or .json) or its catalog. An inventory archive the migration recorded
     * with another size or tree hash stops the run before anything is deleted. NULL: no such
     * restriction. */
    const char *only_migrated;
    bool dry_run;           /* plan and print; nothing deleted (an inventory job may
                               still be started to know what is there) */
    double max_rate;        /* deletions per second; 0 = as fast as it goes */
    unsigned concurrency;   /* requests in flight; 0 = FLOE_PURGE_DEFAULT_CONCURRENCY */
    bool delete_vault;      /* DeleteVault once every archive is deleted */
    bool wait_vault;        /* with delete_vault: when DeleteVault is refused (written since the
                               last inventory), start an inventory job, wait, try again */
    uint64_t vault_wait_ms; /* give up waiting after this long; 0 = 72 hours */
    uint32_t vault_poll_ms; /* inventory job polls (fixed interval); 0 = floe_job_wait's default */
    /* optional: inventory jobs' completions from notifications (floe_job_wait_options'
     * notified); the polls are then the fallback, every vault_poll_ms or 15 min */
    floe_job_notified_fn *notified;
    void *notified_user;
    const char *state_path; /* NULL: $XDG_CACHE_HOME/floe/purge-<hash>.state */
    atomic_bool *cancel;
    /* Called once the plan is known, before anything is deleted (not in a dry run): return
     * false to stop (nothing deleted: FLOE_E_CANCELLED). NULL: go on. */
    bool (*confirm)(const struct floe_purge_plan *plan, void *user);
    void (*progress)(const struct floe_purge_progress *p, void *user);
    void (*protected_archive)(const char *archive_id, const char *message, void *user);
    void (*note)(const char *message, void *user); /* what the run waits for, and why */
    void *user;
};

struct floe_purge_result {
    struct floe_purge_plan plan;
    uint64_t deleted;      /* acknowledged by the service (this run) */
    uint64_t already_gone; /* ResourceNotFound: deleted before (counted as done) */
    uint64_t protected;    /* refused by a vault lock or policy (AccessDenied) */
    uint64_t resumed_from; /* inventory entries a previous run had finished */
    bool vault_deleted;
    unsigned vault_inventories; /* inventory jobs waited for before DeleteVault was accepted */
    char inventory_job_id[1025];
    double seconds;
};

/*
 * floe_purge() - see the top of this file. Returns FLOE_OK (result filled; protected archives
 * are not a failure but are counted), FLOE_E_CANCELLED (interrupted, or confirm said no: the
 * state is kept), or the failure that stopped it (err).
 * Threads: the calling thread; callbacks run on it.
 */
FLOE_API int floe_purge(struct floe_client *c, const struct floe_purge_options *opts,
                        struct floe_purge_result *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
