/*
 * env.c - the table of FLOE_* variables and their valid values (see env.h).
 *
 * The engine reads these variables itself (src/core/sha256.c, src/engine/io/reader.c, ...);
 * this table is the CLI's guard in front of it: one row per variable, and a value the engine
 * would ignore or misread is refused here first.
 */
#include "env.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct env_var {
    const char *name;
    const char *values; /* '|'-separated valid values, or NULL for a whole number */
    uint64_t min, max;  /* whole numbers: min..max */
};

static const struct env_var s_vars[] = {
    {"FLOE_SHA256", "auto|shani|portable", 0, 0},
    {"FLOE_READER", "auto|uring|io_uring|sync", 0, 0},
    {"FLOE_WRITER", "auto|sync", 0, 0},
    {"FLOE_DIRECT_IO", "0|1", 0, 0},
    {"FLOE_RETRIEVE_STREAMING", "0|1", 0, 0},
    {"FLOE_UPLOAD_BUFFERED", "0|1", 0, 0},
    {"FLOE_RETRY_BASE_MS", NULL, 1, 60000},
    {"FLOE_STALL_TIMEOUT_S", NULL, 1, 86400},
    {"FLOE_STALL_MIN_RATE", NULL, 1, 1ull << 30},
    {"FLOE_CREDENTIALS_REFRESH_MARGIN_S", NULL, 1, 86400},
    {"FLOE_INVENTORY_RANGE_SIZE", NULL, 256, 1ull << 30},
    {"FLOE_INVENTORY_RANGE_OVERLAP", NULL, 1, 1ull << 30},
    {"FLOE_INVENTORY_RANGE_CONCURRENCY", NULL, 1, 64},
};

static bool one_of(const char *v, const char *values)
{
    size_t n = strlen(v);
    for (const char *p = values; *p;) {
        size_t k = strcspn(p, "|");
        if (k == n && strncmp(p, v, n) == 0)
            return true;
        p += k + (p[k] == '|');
    }
    return false;
}

static bool whole(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    if (!*v || v[0] == '-' || v[0] == '+')
        return false;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || n < min || n > max)
        return false;
    *out = n;
    return true;
}

int floe_cli_env_check(void)
{
    for (size_t i = 0; i < sizeof(s_vars) / sizeof(s_vars[0]); i++) {
        const struct env_var *e = &s_vars[i];
        const char *v = getenv(e->name);
        uint64_t n;
        if (!v || (e->values ? one_of(v, e->values) : whole(v, e->min, e->max, &n)))
            continue;
        if (e->values) {
            fprintf(stderr, "floe: %s=%s is not valid: use one of ", e->name, v);
            for (const char *p = e->values; *p; p++)
                fputs(*p == '|' ? ", " : (char[]){*p, 0}, stderr);
            fputs("\n", stderr);
        } else {
            fprintf(stderr, "floe: %s=%s is not valid: use a whole number from %llu to %llu\n",
                    e->name, v, (unsigned long long)e->min, (unsigned long long)e->max);
        }
        return 2;
    }
    return 0;
}

uint64_t floe_cli_env_uint(const char *name)
{
    const char *v = getenv(name);
    return v ? strtoull(v, NULL, 10) : 0;
}
