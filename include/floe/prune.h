/*
 * floe/prune.h - `floe prune VAULT --older-than DAYS`: deletes from a vault the archives of a
 * backup (floe/backup.h) that nothing needs any more: every file version an archive holds has
 * been superseded or removed for longer than DAYS (the catalog says so), or it is a catalog
 * snapshot older than the newest three. Each deletion is recorded in the catalog. Behaviour and
 * costs: docs/backup.md ("floe prune").
 *
 * Threads: the calling thread; callbacks run on it, one at a time; what they receive is
 * borrowed for the call.
 */
#ifndef FLOE_PRUNE_H
#define FLOE_PRUNE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_PRUNE_KEEP_SNAPSHOTS 3 /* the newest catalog snapshots are never pruned */

/* One archive to prune, with what deleting it costs and saves at the dated price table. */
struct floe_prune_entry {
    const char *archive_id;
    const char *kind; /* "file", "pack", "catalog" */
    const char *description;
    uint64_t size;
    int64_t created_at;
    double age_days;
    double early_deletion_usd; /* charged when younger than the minimum storage duration */
    double storage_usd_month;  /* the storage charge that stops (with the per-archive overhead) */
    bool deleted;              /* false in a dry run */
};
typedef void floe_prune_entry_fn(const struct floe_prune_entry *e, void *user);

/* Asked once before anything is deleted, with the vault and how many archives and bytes;
 * false: nothing is deleted. */
typedef bool floe_prune_confirm_fn(const char *vault, uint64_t archives, uint64_t bytes,
                                   void *user);

struct floe_prune_options {
    const char *vault;               /* required */
    const char *catalog_path;        /* NULL: the default for endpoint + account + vault */
    uint64_t older_than_days;        /* files superseded or removed longer ago than this */
    bool dry_run;                    /* list and price only: nothing deleted or recorded */
    floe_prune_confirm_fn *confirm;  /* NULL: no confirmation asked */
    floe_prune_entry_fn *on_archive; /* optional: each archive (after its deletion) */
    atomic_bool *cancel;             /* optional: stops between deletions */
    void *user;
};

struct floe_prune_result {
    uint64_t archives, bytes; /* pruned (or, dry run, to prune) */
    uint64_t archives_kept;   /* examined and still needed */
    double early_deletion_usd, storage_usd_month;
    bool declined; /* the confirmation said no: nothing deleted */
};

/*
 * floe_prune() - plans from the catalog (opened for writing: no backup runs meanwhile), then,
 * unless dry_run or declined, DeleteArchive for each archive in creation order, each recorded
 * deleted in the catalog as soon as the service answered (an archive the vault no longer has is
 * recorded deleted too). Returns FLOE_OK, FLOE_E_SERVICE "AccessDeniedException" when the
 * vault's lock denies deleting (the message says so; archives deleted before stay recorded and
 * nothing more is tried), FLOE_E_CANCELLED, FLOE_E_NOT_FOUND (no catalog), or another failure.
 */
FLOE_API int floe_prune(struct floe_client *c, const struct floe_prune_options *opts,
                        struct floe_prune_result *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
