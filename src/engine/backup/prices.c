/*
 * prices.c - see prices.h.
 */
#include "prices.h"

static const struct floe_prices s_default = {
    .as_of = "2026-12-01",
    .region = "us-east-1",
    .upload_per_1000_requests_usd = 0.05,
    .storage_per_gb_month_usd = 0.0036,
    .archive_overhead_bytes = 32768,
    .minimum_storage_days = 90,
    .retrieval = {{"Expedited", 0.03, 10.0, 0.083},
                  {"Standard", 0.01, 0.05, 5.0},
                  {"Bulk", 0.0025, 0.025, 12.0}},
};

const struct floe_prices *floe_prices_default(void)
{
    return &s_default;
}

uint64_t floe_prices_upload_requests(uint64_t size, uint64_t part_size)
{
    if (!part_size || size <= part_size)
        return 1;
    return 2 + (size + part_size - 1) / part_size; /* initiate, the parts, complete */
}
