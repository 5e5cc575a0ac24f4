/*
 * floe/check.h - `floe check DIR VAULT`: the files under a directory compared with the backup
 * catalog of a vault (floe/backup.h), locally, without a request to the service: each file the
 * catalog holds as current under DIR is ok, changed or missing; each file on disk the catalog
 * does not hold is new. Behaviour: docs/backup.md ("floe check").
 *
 * Threads: the calling thread; callbacks run on it, one at a time; what they receive is
 * borrowed for the call.
 */
#ifndef FLOE_CHECK_H
#define FLOE_CHECK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum floe_check_state {
    FLOE_CHECK_OK = 0,      /* as recorded */
    FLOE_CHECK_CHANGED = 1, /* size, mtime (or with checksum: content) differ, or not a file */
    FLOE_CHECK_MISSING = 2, /* in the catalog, not on disk */
    FLOE_CHECK_NEW = 3,     /* on disk, not in the catalog */
    FLOE_CHECK_STATE_COUNT
};

/* floe_check_state_name() - "ok", "changed", "missing", "new" ("?" out of range). */
FLOE_API const char *floe_check_state_name(enum floe_check_state s);

struct floe_check_entry {
    const char *path; /* absolute, raw bytes, NUL-terminated */
    size_t path_len;
    enum floe_check_state state;
    const char *reason;    /* CHANGED: "size", "mtime", "content", "not a regular file"; else
                              NULL */
    uint64_t catalog_size; /* 0 for NEW */
    uint64_t disk_size;    /* 0 for MISSING */
};
typedef void floe_check_fn(const struct floe_check_entry *e, void *user);

/* Something that could not be looked at (an unreadable file or directory); the check goes on. */
typedef void floe_check_warn_fn(const char *path, const char *message, void *user);

struct floe_check_options {
    const char *vault;        /* required */
    const char *dir;          /* required: an existing directory */
    const char *catalog_path; /* NULL: the default for endpoint + account + vault */
    bool checksum;            /* compare content (xxh3-128, or the tree hash a file was
                                 recorded with), not size + mtime */
    atomic_bool *cancel;      /* optional */
    floe_check_fn *fn;        /* optional: every file, ok ones too, catalog files first (path
                                 order), then the new ones (walk order) */
    floe_check_warn_fn *warn; /* optional */
    void *user;
};

struct floe_check_result {
    uint64_t ok, changed, missing, new_files;
    uint64_t unreadable; /* files or directories that could not be read (warned) */
    double seconds;
};

/*
 * floe_check() - compares opts->dir (made absolute with realpath, as the backup records paths)
 * with the catalog, opened read-only. Returns FLOE_OK (out filled; differences are results, not
 * errors), FLOE_E_NOT_FOUND (no catalog), FLOE_E_IO (DIR cannot be opened), FLOE_E_CANCELLED,
 * or a catalog error.
 */
FLOE_API int floe_check(struct floe_client *c, const struct floe_check_options *opts,
                        struct floe_check_result *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
