/*
 * floe/rebuild.h - `floe catalog rebuild VAULT`: the backup catalog (floe/backup.h) made again
 * on a machine that lost it, from the vault alone: an inventory (a recent succeeded inventory
 * job is reused, else one is started and waited for), then the newest `floe1 catalog` snapshot
 * archive, retrieved and unpacked; failing that, the archives' descriptions (`floe1 file`, mt2)
 * and the indexes of `floe1 pack` archives (only their last MiB-aligned ranges are retrieved).
 * Behaviour: docs/backup.md ("floe catalog rebuild").
 *
 * Threads: the calling thread; callbacks run on it, one at a time, with borrowed strings.
 */
#ifndef FLOE_REBUILD_H
#define FLOE_REBUILD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the rebuild is doing ("inventory", "snapshot", "pack index"), for progress lines. */
typedef void floe_rebuild_phase_fn(const char *phase, const char *detail, void *user);
/* An archive that could not be used (a truncated path, an unreadable pack index). */
typedef void floe_rebuild_warn_fn(const char *archive_id, const char *message, void *user);

struct floe_rebuild_options {
    const char *vault;            /* required */
    const char *catalog_path;     /* NULL: the default for endpoint + account + vault */
    const char *inventory_job_id; /* use this inventory job's output (NULL: find or start one) */
    const char *tier;             /* retrievals: NULL = Standard */
    bool force;                   /* replace an existing catalog (else it is refused) */
    bool no_snapshot;             /* ignore snapshots: rebuild from descriptions and packs */
    atomic_bool *cancel;
    floe_rebuild_phase_fn *phase;
    floe_rebuild_warn_fn *warn;
    void *user;
};

struct floe_rebuild_result {
    char catalog_path[4096];
    char inventory_job_id[1025];
    bool inventory_reused;
    bool from_snapshot; /* the catalog is the newest snapshot, unpacked */
    char snapshot_archive_id[1025];
    uint64_t archives;          /* in the inventory */
    uint64_t archives_recorded; /* descriptions: archives recorded */
    uint64_t files_recorded;    /* descriptions: file rows recorded (pack entries included) */
    uint64_t archives_skipped;  /* foreign descriptions, truncated paths, unreadable packs */
    uint64_t jobs;              /* retrieval jobs made (snapshot, pack ranges) */
    double seconds;
};

/*
 * floe_rebuild_catalog() - builds the catalog in "<path>.rebuild" and renames it into place
 * only when complete. Returns FLOE_OK; FLOE_E_INVALID_ARG (a catalog exists and force is off:
 * the message says --force); FLOE_E_NOT_FOUND (vault unknown); FLOE_E_CANCELLED; service,
 * network or catalog failures (nothing is left at the catalog path then).
 */
FLOE_API int floe_rebuild_catalog(struct floe_client *c, const struct floe_rebuild_options *o,
                                  struct floe_rebuild_result *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
