/*
 * mprices.h - the dated price table behind a migration's estimates (docs/migrate.md,
 * "Prices"): Glacier retrieval per tier (per GB, per 1,000 requests, typical hours until a job
 * completes; these come from floe/prices.h, the one table of every estimate) and, for S3
 * destinations, PUT requests and storage per storage class. The built-in figures are us-east-1
 * list prices on the date they carry; `--prices FILE` replaces any of them with a JSON document
 * of the same shape (floe_mprices_load).
 *
 * Threads: the table is plain data; loading is single-threaded.
 */
#ifndef FLOE_ENGINE_MIGRATE_MPRICES_H
#define FLOE_ENGINE_MIGRATE_MPRICES_H

#include <stdint.h>

#include "floe/error.h"

enum { FLOE_MPRICES_TIERS = 3, FLOE_MPRICES_CLASSES = 5 };

struct floe_mprices {
    char as_of[16];
    char region[32];
    struct {
        const char *name; /* "Expedited", "Standard", "Bulk" */
        double per_gb_usd, per_1000_requests_usd, hours;
    } tier[FLOE_MPRICES_TIERS];
    struct {
        const char *name; /* "STANDARD", ..., "DEEP_ARCHIVE" */
        double per_1000_puts_usd, per_gb_month_usd;
    } s3[FLOE_MPRICES_CLASSES];
};

/* floe_mprices_default() - the built-in table, copied into out. */
void floe_mprices_default(struct floe_mprices *out);

/*
 * floe_mprices_load() - the built-in table with what the JSON file at path overrides:
 * {"as_of":"YYYY-MM-DD", "region":"...", "retrieval":{"Bulk":{"per_gb_usd":N,
 * "per_1000_requests_usd":N, "hours":N}, ...}, "s3":{"DEEP_ARCHIVE":{"per_1000_puts_usd":N,
 * "per_gb_month_usd":N}, ...}}; every key optional. Returns FLOE_OK, FLOE_E_IO (unreadable) or
 * FLOE_E_INVALID_ARG (not JSON, an unknown key or tier, a negative or non-numeric price: the
 * message names the file and the key).
 */
int floe_mprices_load(const char *path, struct floe_mprices *out, struct floe_error *err);

/* floe_mprices_tier() - index of a tier name (any case), or -1. */
int floe_mprices_tier(const char *name);

#endif
