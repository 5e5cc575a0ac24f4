/*
 * migrated.h - the archives a `floe migrate` verified at their destination, for
 * `floe vault purge --only-migrated` (docs/purge.md): read from the migration's manifest (CSV or
 * JSON, docs/migrate.md "Manifest") or from its catalog (the SQLite file; archives in state done,
 * FLOE_MIGRATE_DONE of floe/migrate.h), and looked up by archive id without holding the set in
 * memory: a manifest is indexed into a temporary SQLite file first, a catalog is queried as is
 * (read-only).
 */
#ifndef FLOE_ENGINE_BACKUP_MIGRATED_H
#define FLOE_ENGINE_BACKUP_MIGRATED_H

#include "floe/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct floe_migrated;

/*
 * floe_migrated_open() - opens path (a manifest or a migrate catalog, told apart by content).
 * index_path: where a manifest's temporary index goes (removed by floe_migrated_close; any
 * file there is replaced). out: set only on FLOE_OK.
 * Returns FLOE_OK; FLOE_E_IO (cannot read); FLOE_E_CORRUPT (not a manifest or catalog floe
 * migrate wrote: the message names the line or what is missing).
 * Threads: the returned handle is used by one thread at a time.
 */
int floe_migrated_open(const char *path, const char *index_path, struct floe_migrated **out,
                       struct floe_error *err);

enum floe_migrated_match {
    FLOE_MIGRATED_NO,      /* not migrated (not in the manifest, or not done) */
    FLOE_MIGRATED_YES,     /* migrated, same size and tree hash */
    FLOE_MIGRATED_DIFFERS, /* migrated, but size or tree hash differs: why says how */
};

/* floe_migrated_check() - archive id with size and tree hash (NULL: unknown, which differs)
 * against the set. why (may be NULL) gets the difference. */
enum floe_migrated_match floe_migrated_check(struct floe_migrated *m, const char *id, uint64_t size,
                                             const uint8_t *tree_hash, char *why, size_t why_len);

/* The number of migrated archives in the set. */
uint64_t floe_migrated_count(const struct floe_migrated *m);

/* floe_migrated_close() - closes and removes the temporary index (NULL: nothing). */
void floe_migrated_close(struct floe_migrated *m);

#endif
