/*
 * floe/catalog_cmd.h - `floe catalog ls | stats | import-mtglacier`: reading the backup catalog
 * of a vault (floe/backup.h) and bringing an mt-aws-glacier journal into it. Nothing here talks
 * to the service; the client only names the endpoint and account whose default catalog is
 * meant. The catalog's tables are docs/catalog-format.md; the journal docs/mtglacier-format.md.
 *
 * Threads: each call runs on the calling thread; callbacks run on it, one at a time. Strings a
 * callback receives are borrowed for the call.
 */
#ifndef FLOE_CATALOG_CMD_H
#define FLOE_CATALOG_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One file version as `floe catalog ls` shows it. */
struct floe_catalog_ls_entry {
    const char *path; /* raw bytes (need not be UTF-8), path_len of them, NUL-terminated */
    size_t path_len;
    uint64_t size;
    bool has_mtime; /* false: unknown (an imported mt-aws-glacier record) */
    int64_t mtime_ns;
    const char *archive_id;
    const char *kind;        /* the archive's kind: "file", "pack" or "catalog" */
    const char *compression; /* "none" or "zstd" */
    uint64_t offset, length; /* the file's frame in the archive */
    int64_t uploaded_at;
    int64_t superseded_at, removed_at; /* 0: not; both 0 = the current version */
};
typedef int floe_catalog_ls_fn(const struct floe_catalog_ls_entry *e, void *user);

struct floe_catalog_ls_options {
    const char *vault;        /* required */
    const char *catalog_path; /* NULL: the default for endpoint + account + vault */
    const char *prefix;       /* only paths starting with these bytes (NULL: all) */
    bool all_versions;        /* every version, archive by archive (else the current files in
                                 path order) */
    floe_catalog_ls_fn *fn;   /* required; non-zero stops (FLOE_E_CANCELLED) */
    void *user;
};

/*
 * floe_catalog_ls() - the files of the catalog (opened read-only: a running backup is not
 * disturbed). Returns FLOE_OK, FLOE_E_NOT_FOUND (no catalog: the message says how to make
 * one), FLOE_E_CANCELLED (fn stopped it) or a catalog error.
 */
FLOE_API int floe_catalog_ls(struct floe_client *c, const struct floe_catalog_ls_options *o,
                             struct floe_error *err);

struct floe_catalog_summary {
    char catalog_path[4096];
    uint64_t files_current, bytes_current;                   /* current versions and their bytes */
    uint64_t file_versions;                                  /* every version recorded */
    uint64_t archives, archive_bytes;                        /* archives not deleted */
    uint64_t archives_file, archives_pack, archives_catalog; /* of them, by kind */
    uint64_t archives_deleted;
    uint64_t runs;
};

/* One backup run, for the runs summary (outcome: "ok", "partial", ...). */
struct floe_catalog_run_info {
    uint64_t id;
    int64_t started_at, ended_at; /* ended_at 0: running */
    const char *outcome;
    uint64_t files_new, files_changed, files_removed, files_skipped, files_failed;
    uint64_t bytes_uploaded;
};
typedef int floe_catalog_run_info_fn(const struct floe_catalog_run_info *r, void *user);

/*
 * floe_catalog_summary() - counts of the catalog (out) and its runs, newest first, through
 * run_fn (may be NULL; non-zero stops the runs, not the call). Read-only. Returns as
 * floe_catalog_ls.
 */
FLOE_API int floe_catalog_summary(struct floe_client *c, const char *vault,
                                  const char *catalog_path, struct floe_catalog_summary *out,
                                  floe_catalog_run_info_fn *run_fn, void *user,
                                  struct floe_error *err);

struct floe_catalog_import_result {
    char catalog_path[4096];
    uint64_t lines;
    uint64_t archives_added, archives_known, archives_deleted, retrieve_jobs;
};

/*
 * floe_catalog_import_journal() - import the mt-aws-glacier journal at journal into the catalog
 * of vault (created if missing), in one transaction: all of it or nothing (docs/backup.md,
 * "floe catalog import-mtglacier"). path_prefix (NULL = "") is put before every journal file
 * name. Returns FLOE_OK, FLOE_E_CORRUPT (a malformed line: the message names the journal and
 * the line number; nothing imported), FLOE_E_IO (cannot read the journal; the catalog is in use),
 * or a catalog error.
 */
FLOE_API int floe_catalog_import_journal(struct floe_client *c, const char *journal,
                                         const char *vault, const char *catalog_path,
                                         const char *path_prefix,
                                         struct floe_catalog_import_result *out,
                                         struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
