/*
 * mplan.h - a migration's plan: the inventory (reused, resumed or requested, waited for,
 * downloaded verified and resumable beside the catalog), parsed as a stream into the catalog
 * with a name per archive (mname.h; --names overrides), the filters applied to the names,
 * duplicate names told apart; and the plan's summary and estimates (mprices.h). The figures the
 * summary needs beyond the rows (excluded archives, names by id) are kept in the catalog's meta
 * table, so a re-run reports the same plan without the inventory.
 *
 * Threads: the calling thread.
 */
#ifndef FLOE_ENGINE_MIGRATE_MPLAN_H
#define FLOE_ENGINE_MIGRATE_MPLAN_H

#include "floe/client.h"
#include "floe/migrate.h"
#include "mcat.h"
#include "mprices.h"

/* floe_mplan_iso_seconds() - "2026-12-04T08:00:00.000Z" as unix seconds (0 when unreadable). */
int64_t floe_mplan_iso_seconds(const char *s);

/* The canonical text of the options a plan depends on (filters, --names path), malloc'd. */
char *floe_mplan_fingerprint(const struct floe_migrate_options *o);

/*
 * floe_mplan_make() - plan into cat (which has no archive rows yet) and fill out. Returns
 * FLOE_OK, FLOE_E_INVALID_ARG (filters, --names file), the inventory's failures,
 * FLOE_E_CANCELLED (the inventory job id is kept in the catalog for the next run).
 */
int floe_mplan_make(struct floe_client *c, const struct floe_migrate_options *o,
                    struct floe_mcat *cat, struct floe_migrate_plan *out, struct floe_error *err);

/* floe_mplan_summary() - out from the catalog's rows and meta, priced with prices. */
void floe_mplan_summary(struct floe_mcat *cat, const struct floe_migrate_options *o,
                        const struct floe_mprices *prices, struct floe_migrate_plan *out);

#endif
