/*
 * floe/prices.h - the dated price table behind every cost estimate floe prints (backup and restore
 * plans, prune, purge, the cost notice of `floe bench` against a real endpoint). The figures and
 * their date are in docs/backup.md ("Prices"); they are estimates for planning, never a bill.
 *
 * Threads: pure functions and constants, any thread.
 */
#ifndef FLOE_PRICES_H
#define FLOE_PRICES_H

#include <stdint.h>

#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Retrieving from a vault, per tier (restore plans). */
struct floe_retrieval_price {
    const char *tier;             /* "Expedited", "Standard", "Bulk" */
    double per_gb_usd;            /* retrieved bytes, per GB (10^9 bytes) */
    double per_1000_requests_usd; /* retrieval jobs */
    double typical_hours;         /* the tier's usual wait for a job */
};
#define FLOE_PRICES_TIERS 3

struct floe_prices {
    const char *as_of;                   /* the date the figures were taken */
    const char *region;                  /* the region they are for */
    double upload_per_1000_requests_usd; /* UploadArchive, Initiate/Upload part/Complete */
    double storage_per_gb_month_usd;     /* vault storage, per GB (10^9 bytes) a month */
    uint64_t archive_overhead_bytes;     /* billed per archive for its index and metadata */
    unsigned minimum_storage_days;       /* deleting earlier is charged as if stored so long */
    struct floe_retrieval_price retrieval[FLOE_PRICES_TIERS]; /* Expedited, Standard, Bulk */
};

/* floe_prices_default() - the built-in table (us-east-1); static, never NULL. */
FLOE_API const struct floe_prices *floe_prices_default(void);

/* floe_prices_upload_requests() - requests one archive of size bytes costs to upload with
 * parts of part_size (a single request below one part). */
FLOE_API uint64_t floe_prices_upload_requests(uint64_t size, uint64_t part_size);

#ifdef __cplusplus
}
#endif

#endif
