/*
 * floe/backup.h - `floe backup`: directories into a vault, incrementally, with a catalog.
 *
 * A run walks the sources (rsync-style filters), compares every file with the catalog (size +
 * mtime, or --checksum: xxh3-128 of the content), and uploads what is new or changed: files
 * under the pack threshold go into pack archives (a container of per-file frames with its own
 * index, docs/pack-format.md), larger files become one archive each (a resumable multipart
 * upload at `floe upload` speed). A file's catalog row is committed only after the archive
 * holding it is acknowledged by the service; after the run a compressed snapshot of the
 * catalog is uploaded too. docs/backup.md describes the behaviour, docs/catalog-format.md the
 * catalog.
 */
#ifndef FLOE_BACKUP_H
#define FLOE_BACKUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_BACKUP_DEFAULT_PACK_THRESHOLD ((uint64_t)4 << 20) /* files below go into packs */
#define FLOE_BACKUP_DEFAULT_PACK_SIZE ((uint64_t)1 << 30)      /* a pack closes at this size */
#define FLOE_BACKUP_PACK_MAX_FILES 10000u /* ... or at this many files (its index in memory) */
/* Small archives in flight at once (file-per-archive). Each is a short request that waits
 * mostly for the service's durable commit, so throughput is what is in flight over that
 * latency: 64 made 1-64 KiB files about 1.6x faster than 16 against floe-vault
 * (docs/performance.md). Memory: a buffer per archive in flight, touched only as far as the
 * file it holds (at most --pack-threshold each). */
#define FLOE_BACKUP_DEFAULT_CONCURRENCY 64u

enum floe_backup_layout {
    FLOE_BACKUP_PACKED = 0,           /* small files in packs, large files one archive each */
    FLOE_BACKUP_FILE_PER_ARCHIVE = 1, /* every file its own archive (mt-aws-glacier's way) */
};

enum floe_backup_descriptions {
    FLOE_BACKUP_DESC_FLOE = 0, /* floe's own format (docs/backup.md) */
    FLOE_BACKUP_DESC_MT2 = 1,  /* mt-aws-glacier's "mt2 " + base64url(JSON) (file archives) */
};

/* What the plan says of a file. */
enum floe_backup_change {
    FLOE_BACKUP_NEW = 0,
    FLOE_BACKUP_CHANGED = 1,
    FLOE_BACKUP_UNCHANGED = 2,
    FLOE_BACKUP_REMOVED = 3, /* in the catalog, no longer under the sources */
};

/* One planned file, for --dry-run listings (borrowed during the callback). */
struct floe_backup_plan_entry {
    const char *path;
    enum floe_backup_change change;
    uint64_t size;
    bool packed; /* goes into a pack (else its own archive) */
};
typedef void floe_backup_plan_fn(const struct floe_backup_plan_entry *e, void *user);

struct floe_backup_progress {
    uint64_t files_done, files_total; /* files to upload this run */
    uint64_t bytes_done, bytes_total;
    uint64_t archives;   /* archives created so far */
    const char *current; /* the file or pack being sent (borrowed), or NULL */
    double seconds;
};
typedef void floe_backup_progress_fn(const struct floe_backup_progress *p, void *user);

/* A file skipped or failed (borrowed during the callback); the run goes on ("partial"). */
typedef void floe_backup_warn_fn(const char *path, const char *message, void *user);

struct floe_backup_options {
    const char *vault;          /* required */
    const char *const *sources; /* required: directories or files */
    size_t nsources;
    const char *const *filter_rules; /* "+ PATTERN" / "- PATTERN", first match wins */
    size_t nfilter_rules;
    bool follow; /* follow symlinks */
    bool one_file_system;
    const char *catalog_path;      /* NULL: the default per endpoint+account+vault */
    bool dry_run;                  /* plan only: nothing uploaded, nothing recorded */
    bool checksum;                 /* compare content (xxh3-128), not size + mtime */
    bool delete_removed;           /* record files gone from the sources as removed */
    uint64_t max_files, max_bytes; /* 0: no limit; the rest waits for the next run */
    enum floe_backup_layout layout;
    enum floe_backup_descriptions description_format;
    uint64_t pack_threshold; /* 0: FLOE_BACKUP_DEFAULT_PACK_THRESHOLD */
    uint64_t pack_size;      /* 0: FLOE_BACKUP_DEFAULT_PACK_SIZE */
    int compress_level;      /* 0: none; 1..19: zstd pack frames and compressible large files */
    unsigned concurrency;    /* 0: FLOE_BACKUP_DEFAULT_CONCURRENCY */
    uint64_t part_size;      /* multipart part size, 0: floe upload's default */
    uint64_t memory_limit;   /* 0: floe upload's default */
    bool no_snapshot;        /* do not upload the catalog snapshot after the run */
    atomic_bool *cancel;
    floe_backup_plan_fn *plan; /* optional: every planned file, in walk order */
    floe_backup_progress_fn *progress;
    floe_backup_warn_fn *warn;
    void *user;
};

struct floe_backup_result {
    uint64_t files_new, files_changed, files_unchanged, files_removed;
    uint64_t files_skipped;  /* unreadable, changed while read (a warning each) */
    uint64_t files_failed;   /* could not be uploaded */
    uint64_t files_deferred; /* left for the next run by --max-files / --max-bytes */
    uint64_t files_linked;   /* hard links recorded with another path's stored content */
    uint64_t specials;       /* devices, sockets and FIFOs met by the walk: never backed up */
    uint64_t symlinks;       /* symlinks not followed (without --follow): not backed up */
    uint64_t bytes_planned, bytes_uploaded;
    uint64_t archives, packs;
    uint64_t requests;      /* planned (dry run) or made */
    double est_request_usd; /* upload requests at the dated price table (docs/backup.md) */
    double est_storage_usd_month;
    double seconds;
    bool partial; /* some files were skipped or failed: exit status 3 in the CLI */
    char catalog_path[4096];
    char snapshot_archive_id[1025]; /* "" when none was uploaded */
};

/*
 * floe_backup() - one backup run. Returns FLOE_OK (result->partial says whether every file
 * made it), or a failure that stopped the run (err: the catalog is in use or corrupt, the
 * vault is missing, credentials...). What was acknowledged before a failure stays recorded.
 * Threads: the calling thread orchestrates; callbacks run on it.
 */
FLOE_API int floe_backup(struct floe_client *c, const struct floe_backup_options *opts,
                         struct floe_backup_result *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
