/*
 * catalog.h - the backup catalog: which file became which archive, in a SQLite database.
 *
 * One catalog per endpoint + account + vault (floe_catalog_default_path), or any path the user
 * names. The schema (tables files, archives, runs, restores, restore_jobs, restore_files, meta)
 * and its versioning are described in docs/catalog-format.md; this header is the API the backup,
 * restore, check, prune and import code calls.
 *
 * Rules every function follows:
 * - Threads: a catalog handle is used by ONE thread at a time (the backup's orchestrating
 *   thread); nothing here locks. Different handles (different processes) cannot open the same
 *   catalog for writing at once: see floe_catalog_open.
 * - Writes: every write joins the transaction opened by floe_catalog_begin if there is one, and
 *   is otherwise its own transaction. A transaction is all or nothing: a failure (disk full, I/O
 *   error) rolls the whole open transaction back, closes it, and leaves the catalog as it was
 *   before floe_catalog_begin. Input checks (FLOE_E_INVALID_ARG) happen before anything is
 *   written and leave an open transaction intact.
 * - Durability: a commit returns after the WAL is fsynced (synchronous=FULL) unless the catalog
 *   was opened with no_sync (tests, benchmarks). So a row the caller was told is committed
 *   survives kill -9 and power loss.
 * - Errors: SQLite's corrupt / not-a-database -> FLOE_E_CORRUPT; disk full and I/O errors ->
 *   FLOE_E_IO (sys_errno ENOSPC for disk full); a newer schema -> FLOE_E_UNSUPPORTED; the
 *   message names the catalog's path. Out-parameters are written only on success.
 * - Paths are byte strings (a file name need not be valid UTF-8) stored as BLOBs and compared
 *   bytewise (memcmp order); callers pass a pointer and a length.
 * - Times are seconds since the Unix epoch (UTC) unless the name says _ns.
 *
 * Streaming: every iteration hands rows to a callback one at a time, in constant memory; the
 * strings in a row are borrowed for the duration of the callback. A callback returning non-zero
 * stops the iteration, which then returns FLOE_E_CANCELLED (and never calls it again). A
 * callback may call floe_catalog_lookup, floe_catalog_get_archive and the writes that change
 * single rows (floe_catalog_restore_set_job / _set_file, floe_catalog_mark_removed,
 * floe_catalog_archive_deleted): each commits at once (or joins the open transaction) and the
 * iteration goes on without handing a row over twice (tested). It must not call the iterating
 * function itself again (each query has one prepared statement per handle), and must not record
 * archives or mark unseen files removed while iterating current files.
 */
#ifndef FLOE_ENGINE_BACKUP_CATALOG_H
#define FLOE_ENGINE_BACKUP_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"
#include "floe/treehash.h"

#define FLOE_CATALOG_SCHEMA_VERSION 1
#define FLOE_CATALOG_ID_MAX 256 /* archive and job ids (Glacier's are 138 and 92 characters) */
#define FLOE_CATALOG_XXH3_BYTES 16

struct floe_catalog;

/* ---- open, close ---- */

struct floe_catalog_options {
    bool read_only;     /* open an existing catalog without the run lock, for ls / stats / check
                           while a backup may be running: sees committed rows; writes fail */
    bool no_sync;       /* synchronous=OFF: tests and benchmarks only (loses durability) */
    uint32_t cache_mib; /* SQLite page cache limit in MiB (0 = 16): bounds memory whatever
                           the number of files; lookups beyond it read through the kernel's
                           page cache (16, not 64: a re-run of 1,000,000 files was as fast,
                           and its peak RSS 29 MiB instead of 79, docs/performance.md) */
    uint32_t max_page_count; /* tests: the database may not grow past this many pages, which
                                simulates a full disk (0 = no limit) */
};

/*
 * floe_catalog_default_path() - where the catalog of a vault lives when the user names none:
 * $XDG_DATA_HOME/floe (else ~/.local/share/floe, else /tmp/floe-UID/data), created 0700 if
 * missing, file "catalog-<16 hex digits of xxh3-64(endpoint \n account \n vault)>.db".
 * out: IN/OUT buffer of cap bytes (PATH_MAX is enough). Returns FLOE_OK, FLOE_E_INVALID_ARG
 * (the path does not fit in cap) or FLOE_E_IO (the directory cannot be created).
 * Threads: safe from any thread.
 */
int floe_catalog_default_path(const char *endpoint, const char *account, const char *vault,
                              char *out, size_t cap, struct floe_error *err);

/*
 * floe_catalog_open() - open the catalog at path, creating it (and its schema) when the file is
 * missing or empty.
 * Lock: a writable open takes flock(LOCK_EX | LOCK_NB) on "<path>.lock" (created beside it,
 * never deleted; it holds the owner's pid as text) and keeps it until floe_catalog_close. A
 * second writable open of the same catalog - another process, or another handle of this one -
 * fails at once with FLOE_E_IO "catalog PATH is in use by another floe run (pid N)". The lock is
 * released by the kernel if the process dies, so kill -9 never leaves a stale lock. SQLite's own
 * locking (WAL) only guards single transactions; the flock makes a whole run exclusive.
 * Checks, in order: the lock; the file is an SQLite database (else FLOE_E_CORRUPT "catalog PATH
 * is not a database or is damaged", nothing written to it); it is a floe catalog (a database
 * with other tables and no floe meta table: FLOE_E_CORRUPT); its schema_version is not newer
 * than FLOE_CATALOG_SCHEMA_VERSION (else FLOE_E_UNSUPPORTED naming both versions: "written by a
 * newer floe"); older versions are migrated in one transaction. Runs left "running" by a killed
 * process are marked "interrupted" (a writable open holds the lock, so none is alive).
 * opts may be NULL (defaults). On success *out owns the handle (floe_catalog_close).
 * Threads: the returned handle is used by one thread at a time.
 */
int floe_catalog_open(const char *path, const struct floe_catalog_options *opts,
                      struct floe_catalog **out, struct floe_error *err);

/*
 * floe_catalog_close() - roll back an open transaction (nothing of it is kept), close the
 * database and release the lock. NULL is fine.
 */
void floe_catalog_close(struct floe_catalog *c);

/* floe_catalog_path() - the path given to open (borrowed, valid until close). */
const char *floe_catalog_path(const struct floe_catalog *c);

/* ---- transactions ---- */

/*
 * floe_catalog_begin() - open a write transaction (BEGIN IMMEDIATE) that the following writes
 * join, so many small archives (and their files) are committed with one fsync. The caller
 * decides when to commit; a transaction must not stay open across a wait on the service if the
 * archives already acknowledged should be durable.
 * Returns FLOE_OK, FLOE_E_INVALID_ARG (one is open already) or a database error.
 */
int floe_catalog_begin(struct floe_catalog *c, struct floe_error *err);

/*
 * floe_catalog_commit() - commit the open transaction; durable when it returns FLOE_OK. On
 * failure (disk full...) everything since floe_catalog_begin is rolled back and the
 * transaction closed: the caller must treat every archive recorded in it as unrecorded.
 */
int floe_catalog_commit(struct floe_catalog *c, struct floe_error *err);

/* floe_catalog_rollback() - drop the open transaction, if any. Cannot fail. */
void floe_catalog_rollback(struct floe_catalog *c);

/* floe_catalog_in_transaction() - whether a transaction is open (it may have been closed by a
 * failed write: check after an error). */
bool floe_catalog_in_transaction(const struct floe_catalog *c);

/*
 * floe_catalog_read_begin() - open a read transaction (a deferred BEGIN): the lookups that
 * follow share one snapshot and one WAL read lock instead of taking and dropping it each (the
 * backup plan's per-file lookups). No write may happen until floe_catalog_read_end(). Fails
 * with FLOE_E_INVALID_ARG when a transaction is open already.
 * floe_catalog_read_end() - close it (nothing was written: nothing to make durable). Cannot
 * fail; a no-op when none is open. Both: the catalog's thread only, like every call.
 */
int floe_catalog_read_begin(struct floe_catalog *c, struct floe_error *err);
void floe_catalog_read_end(struct floe_catalog *c);

/* ---- runs ---- */

enum floe_catalog_outcome {
    FLOE_CATALOG_RUNNING = 0, /* begun, not ended (a killed run until the next open) */
    FLOE_CATALOG_OK = 1,
    FLOE_CATALOG_PARTIAL = 2, /* some files were skipped or failed; the rest is recorded */
    FLOE_CATALOG_FAILED = 3,
    FLOE_CATALOG_INTERRUPTED = 4,
    FLOE_CATALOG_OUTCOME_COUNT
};
/* The names stored in the runs table ("running", "ok", ...), indexed by the enum. */
extern const char *const floe_catalog_outcome_names[FLOE_CATALOG_OUTCOME_COUNT];

struct floe_catalog_run_counts {
    uint64_t files_new;
    uint64_t files_changed;
    uint64_t files_removed;
    uint64_t files_skipped;
    uint64_t files_failed;
    uint64_t bytes_uploaded;
};

struct floe_catalog_run {
    uint64_t id;
    int64_t started_at;
    int64_t ended_at; /* 0 while running */
    enum floe_catalog_outcome outcome;
    struct floe_catalog_run_counts counts;
};

/*
 * floe_catalog_run_begin() - start a backup run (a runs row, outcome "running", started now).
 * Files recorded until floe_catalog_run_end belong to it. It also starts the run's empty "seen"
 * set (floe_catalog_mark_seen). One run at a time per handle: FLOE_E_INVALID_ARG if one is open.
 * *run_id (may be NULL) receives its id. Must not be called inside a transaction.
 */
int floe_catalog_run_begin(struct floe_catalog *c, uint64_t *run_id, struct floe_error *err);

/*
 * floe_catalog_run_end() - record the open run's end time, outcome and counts (counts copied;
 * NULL = zeros) and close it (the seen set is dropped). FLOE_E_INVALID_ARG if none is open, or
 * outcome is RUNNING. Must not be called inside a transaction.
 */
int floe_catalog_run_end(struct floe_catalog *c, enum floe_catalog_outcome outcome,
                         const struct floe_catalog_run_counts *counts, struct floe_error *err);

typedef int floe_catalog_run_fn(const struct floe_catalog_run *run, void *user);

/* floe_catalog_iter_runs() - every run, newest first. */
int floe_catalog_iter_runs(struct floe_catalog *c, floe_catalog_run_fn *fn, void *user,
                           struct floe_error *err);

/* ---- archives ---- */

enum floe_catalog_kind {
    FLOE_CATALOG_KIND_FILE = 0,    /* one file's bytes (possibly compressed) */
    FLOE_CATALOG_KIND_PACK = 1,    /* many small files' frames and the pack's index */
    FLOE_CATALOG_KIND_CATALOG = 2, /* a zstd-compressed snapshot of a catalog */
    FLOE_CATALOG_KIND_COUNT
};
extern const char *const floe_catalog_kind_names[FLOE_CATALOG_KIND_COUNT]; /* "file", ... */

struct floe_catalog_archive {
    char archive_id[FLOE_CATALOG_ID_MAX]; /* Glacier's archive id, NUL-terminated, non-empty */
    uint64_t size_bytes;
    uint8_t tree_hash[FLOE_HASH_BYTES]; /* as the service acknowledged it */
    const char *description;            /* the x-amz-archive-description sent; NULL = "" */
    enum floe_catalog_kind kind;
    int64_t created_at; /* when the service acknowledged it; 0 = now */
    int64_t deleted_at; /* 0 = not deleted (out only: recording never sets it) */
};

/* ---- files ---- */

enum floe_catalog_compression {
    FLOE_CATALOG_COMP_NONE = 0,
    FLOE_CATALOG_COMP_ZSTD = 1,
    FLOE_CATALOG_COMP_COUNT
};
extern const char *const floe_catalog_compression_names[FLOE_CATALOG_COMP_COUNT];

/*
 * One version of one file. Recording: fill everything but id, superseded_at, removed_at,
 * run_id and archive_id (taken from the archive it is recorded with). Reading: every field is
 * set; path and archive_id point into catalog memory valid until the callback returns (or, for
 * floe_catalog_lookup, path is the caller's own pointer).
 */
struct floe_catalog_file {
    int64_t id; /* row id (stable; restore_files refer to it) */
    const char *path;
    size_t path_len;
    uint64_t size_bytes;
    bool has_mtime; /* false: unknown (an mt-aws-glacier record without one) */
    int64_t mtime_ns;
    uint64_t inode;
    uint64_t device;
    bool has_xxh3;                             /* --checksum runs and packed files */
    uint8_t xxh3_128[FLOE_CATALOG_XXH3_BYTES]; /* XXH128 canonical (big-endian) form */
    bool has_tree_hash;
    uint8_t tree_hash[FLOE_HASH_BYTES]; /* of the file's own bytes, uncompressed */
    const char *archive_id;             /* the archive holding it */
    uint64_t offset_bytes;              /* where its frame starts inside that archive */
    uint64_t length_bytes;              /* the frame's length (compressed length if zstd) */
    enum floe_catalog_compression compression;
    int64_t uploaded_at;   /* 0 when recording = now */
    int64_t superseded_at; /* a newer version was recorded then (0 = not) */
    int64_t removed_at;    /* the file was gone from the source then (0 = not) */
    uint64_t run_id;       /* the run that recorded it (0 = none: an import) */
};

/*
 * floe_catalog_record_archive() - record an archive the service has acknowledged and the files
 * it holds (n may be 0), atomically: all rows or none. Each file becomes the current version of
 * its path; the previous current version (if any) gets superseded_at = now. Joins the open
 * transaction if there is one (then it is durable only after floe_catalog_commit).
 * files[i].archive_id is ignored (the archive's id is used). Checked first, leaving an open
 * transaction intact: a non-empty archive id that fits, kind and compression in range, each path
 * non-empty and an archive id not already in the catalog (FLOE_E_INVALID_ARG naming it).
 * Ownership: everything is copied.
 */
int floe_catalog_record_archive(struct floe_catalog *c, const struct floe_catalog_archive *a,
                                const struct floe_catalog_file *files, size_t n,
                                struct floe_error *err);

/*
 * floe_catalog_record_link() - record f as one more file held by the archive archive_id, which
 * the catalog already has: a hard link whose content was stored once (f's offset, length,
 * compression and hashes are those of the other link's row). f becomes the current version of
 * its path (the previous one superseded). Joins the open transaction if there is one. Returns
 * FLOE_OK, FLOE_E_NOT_FOUND (no such archive; err names it), FLOE_E_INVALID_ARG (an empty path
 * or a compression out of range) or a catalog error. Ownership: everything is copied.
 */
int floe_catalog_record_link(struct floe_catalog *c, const char *archive_id,
                             const struct floe_catalog_file *f, struct floe_error *err);

/*
 * floe_catalog_lookup() - the current version of path (newest row neither superseded nor
 * removed), through the partial unique index on current paths. Returns FLOE_OK (*out filled:
 * out->path = path, out->archive_id points into a buffer inside the handle valid until the next
 * call on it) or FLOE_E_NOT_FOUND (err is NOT written, to keep the miss path cheap).
 */
int floe_catalog_lookup(struct floe_catalog *c, const void *path, size_t path_len,
                        struct floe_catalog_file *out, struct floe_error *err);

/*
 * floe_catalog_mark_seen_id() - the walker saw the file whose current row (from
 * floe_catalog_lookup in this run) has id file_id: it is not "removed". The seen set is a bitmap
 * over file row ids held by the handle (one bit per row of files: 125 KiB per million), O(1),
 * outside the catalog's transactions (a rolled-back batch does not forget seen paths), dropped by
 * floe_catalog_run_end. Files recorded by the open run count as seen without a mark.
 * FLOE_E_INVALID_ARG without an open run. Cannot fail otherwise.
 */
int floe_catalog_mark_seen_id(struct floe_catalog *c, int64_t file_id, struct floe_error *err);

/*
 * floe_catalog_mark_seen() - the same by path, for a caller that did not look it up: a lookup,
 * then the mark (a path with no current row has nothing to mark: FLOE_OK).
 */
int floe_catalog_mark_seen(struct floe_catalog *c, const void *path, size_t path_len,
                           struct floe_error *err);

typedef int floe_catalog_file_fn(const struct floe_catalog_file *f, void *user);

/*
 * floe_catalog_iter_unseen() - the current files under prefix (bytewise; NULL or "" = all) that
 * the open run neither marked seen nor recorded: the backup's "removed" list, in path order.
 * FLOE_E_INVALID_ARG without an open run.
 */
int floe_catalog_iter_unseen(struct floe_catalog *c, const void *prefix, size_t prefix_len,
                             floe_catalog_file_fn *fn, void *user, struct floe_error *err);

/*
 * floe_catalog_mark_unseen_removed() - set removed_at = now on every file
 * floe_catalog_iter_unseen would list (--delete-removed, or just to record it), in one
 * transaction (or the open one). *count (may be NULL) receives how many.
 */
int floe_catalog_mark_unseen_removed(struct floe_catalog *c, const void *prefix, size_t prefix_len,
                                     uint64_t *count, struct floe_error *err);

/*
 * floe_catalog_mark_removed() - set removed_at = now on path's current version.
 * FLOE_E_NOT_FOUND when it has none.
 */
int floe_catalog_mark_removed(struct floe_catalog *c, const void *path, size_t path_len,
                              struct floe_error *err);

/*
 * floe_catalog_iter_files() - the current files under prefix (NULL or "" = all), in path order
 * (restore, check, ls).
 */
int floe_catalog_iter_files(struct floe_catalog *c, const void *prefix, size_t prefix_len,
                            floe_catalog_file_fn *fn, void *user, struct floe_error *err);

/*
 * floe_catalog_iter_archive_files() - every version (current, superseded, removed) held by one
 * archive, in offset order (prune: is any of them still current?).
 * FLOE_E_NOT_FOUND if the archive is not in the catalog.
 */
int floe_catalog_iter_archive_files(struct floe_catalog *c, const char *archive_id,
                                    floe_catalog_file_fn *fn, void *user, struct floe_error *err);

typedef int floe_catalog_archive_fn(const struct floe_catalog_archive *a, void *user);

/* floe_catalog_iter_archives() - every archive in creation order (with_deleted: also those
 * marked deleted). description is borrowed for the callback. */
int floe_catalog_iter_archives(struct floe_catalog *c, bool with_deleted,
                               floe_catalog_archive_fn *fn, void *user, struct floe_error *err);

/*
 * floe_catalog_iter_prunable() - the archives `floe prune --older-than` may delete, oldest first:
 * not deleted, and either (file / pack) none of the file versions it holds is current and the
 * last of them stopped being current (superseded or removed) at or before older_than - an
 * archive recorded with no files counts from its created_at - or (catalog) a snapshot created
 * at or before older_than that is not the newest snapshot. The caller deletes each from the
 * vault, then calls floe_catalog_archive_deleted (from the callback if it likes).
 */
int floe_catalog_iter_prunable(struct floe_catalog *c, int64_t older_than,
                               floe_catalog_archive_fn *fn, void *user, struct floe_error *err);

/* floe_catalog_get_archive() - one archive by id; description is borrowed until the next call
 * on the handle. FLOE_E_NOT_FOUND if absent. */
int floe_catalog_get_archive(struct floe_catalog *c, const char *archive_id,
                             struct floe_catalog_archive *out, struct floe_error *err);

/*
 * floe_catalog_archive_deleted() - the archive was deleted from the vault at deleted_at (0 =
 * now): archives.deleted_at is set, and its files that were still current get removed_at.
 * FLOE_E_NOT_FOUND if the archive is not in the catalog.
 */
int floe_catalog_archive_deleted(struct floe_catalog *c, const char *archive_id, int64_t deleted_at,
                                 struct floe_error *err);

struct floe_catalog_stats {
    uint64_t files_current;
    uint64_t bytes_current; /* sum of the current files' sizes */
    uint64_t file_versions; /* every row of files */
    uint64_t archives;      /* not deleted */
    uint64_t archive_bytes; /* their sizes */
    uint64_t runs;
};

/* floe_catalog_stats() - counts for `floe catalog stats`. */
int floe_catalog_stats(struct floe_catalog *c, struct floe_catalog_stats *out,
                       struct floe_error *err);

/* ---- snapshots (the catalog backs itself up) ---- */

/*
 * floe_catalog_snapshot() - write a consistent copy of the catalog as one zstd frame to out_path
 * (VACUUM INTO a temporary file beside out_path, compressed streaming, fsynced, renamed into
 * place; temporaries removed on every path). The caller uploads it (an archive of kind
 * "catalog"). Not inside a transaction (FLOE_E_INVALID_ARG). FLOE_E_IO names the file.
 */
int floe_catalog_snapshot(struct floe_catalog *c, const char *out_path, struct floe_error *err);

/*
 * floe_catalog_snapshot_unpack() - decompress a snapshot made by floe_catalog_snapshot into a
 * database file at db_path (must not exist: FLOE_E_INVALID_ARG), for `floe catalog rebuild`;
 * open it with floe_catalog_open afterwards. A damaged or foreign file -> FLOE_E_CORRUPT and
 * nothing left at db_path. Threads: any.
 */
int floe_catalog_snapshot_unpack(const char *snapshot_path, const char *db_path,
                                 struct floe_error *err);

/* ---- restore plan and progress (a killed restore resumes from here) ---- */

enum floe_catalog_job_status {
    FLOE_CATALOG_JOB_PLANNED = 0,    /* no retrieval job initiated yet */
    FLOE_CATALOG_JOB_INITIATED = 1,  /* job id known, not complete */
    FLOE_CATALOG_JOB_SUCCEEDED = 2,  /* the service completed it: output downloadable */
    FLOE_CATALOG_JOB_DOWNLOADED = 3, /* its bytes are written and verified */
    FLOE_CATALOG_JOB_FAILED = 4,
    FLOE_CATALOG_JOB_STATUS_COUNT
};
extern const char *const floe_catalog_job_status_names[FLOE_CATALOG_JOB_STATUS_COUNT];

enum floe_catalog_restore_file_status {
    FLOE_CATALOG_RFILE_PENDING = 0,
    FLOE_CATALOG_RFILE_DONE = 1,
    FLOE_CATALOG_RFILE_SKIPPED = 2, /* an identical file was there already, or not overwritten */
    FLOE_CATALOG_RFILE_FAILED = 3,
    FLOE_CATALOG_RFILE_STATUS_COUNT
};
extern const char *const floe_catalog_rfile_status_names[FLOE_CATALOG_RFILE_STATUS_COUNT];

/* One retrieval job of a restore: an archive, or a byte range of a pack. */
struct floe_catalog_job {
    int64_t id; /* row id */
    uint64_t restore_id;
    const char *archive_id;
    uint64_t offset_bytes;
    uint64_t length_bytes; /* the whole archive: 0 and its size */
    const char *tier;      /* "Standard", "Bulk", "Expedited" */
    const char *job_id;    /* "" until initiated */
    enum floe_catalog_job_status status;
    int64_t updated_at;
};

struct floe_catalog_restore_file {
    uint64_t restore_id;
    int64_t file_id; /* files.id of the version restored */
    int64_t job;     /* restore_jobs.id that brings its bytes */
    const char *dest_path;
    size_t dest_path_len;
    enum floe_catalog_restore_file_status status;
};

/*
 * floe_catalog_restore_begin() - a new restore into target (a directory path, copied);
 * *restore_id receives its id. floe_catalog_restore_find() finds an unfinished one to resume.
 */
int floe_catalog_restore_begin(struct floe_catalog *c, const char *target, uint64_t *restore_id,
                               struct floe_error *err);

/* floe_catalog_restore_find() - the newest unfinished restore into target: FLOE_OK and its id,
 * or FLOE_E_NOT_FOUND (err not written). */
int floe_catalog_restore_find(struct floe_catalog *c, const char *target, uint64_t *restore_id,
                              struct floe_error *err);

/* floe_catalog_restore_end() - the restore is over (done = all files restored or skipped;
 * false = abandoned). */
int floe_catalog_restore_end(struct floe_catalog *c, uint64_t restore_id, bool done,
                             struct floe_error *err);

/*
 * floe_catalog_restore_add_job() - plan one retrieval (archive, range, tier) for the restore;
 * *job (row id) receives its id. The same (restore, archive, offset, length) twice returns the
 * existing row's id (planning is idempotent on resume).
 */
int floe_catalog_restore_add_job(struct floe_catalog *c, uint64_t restore_id,
                                 const char *archive_id, uint64_t offset_bytes,
                                 uint64_t length_bytes, const char *tier, int64_t *job,
                                 struct floe_error *err);

/* floe_catalog_restore_set_job() - the job's Glacier job id (NULL = keep) and status. */
int floe_catalog_restore_set_job(struct floe_catalog *c, int64_t job, const char *job_id,
                                 enum floe_catalog_job_status status, struct floe_error *err);

/*
 * floe_catalog_restore_add_file() - plan restoring one file version (files.id) to dest_path
 * through job. The same (restore, file) twice keeps the first plan.
 */
int floe_catalog_restore_add_file(struct floe_catalog *c, uint64_t restore_id, int64_t file_id,
                                  int64_t job, const void *dest_path, size_t dest_path_len,
                                  struct floe_error *err);

/* floe_catalog_restore_set_file() - a planned file's status. */
int floe_catalog_restore_set_file(struct floe_catalog *c, uint64_t restore_id, int64_t file_id,
                                  enum floe_catalog_restore_file_status status,
                                  struct floe_error *err);

typedef int floe_catalog_job_fn(const struct floe_catalog_job *job, void *user);
typedef int floe_catalog_restore_file_fn(const struct floe_catalog_restore_file *f, void *user);

/* floe_catalog_restore_iter_jobs() - the restore's jobs in plan order. */
int floe_catalog_restore_iter_jobs(struct floe_catalog *c, uint64_t restore_id,
                                   floe_catalog_job_fn *fn, void *user, struct floe_error *err);

/* floe_catalog_restore_iter_files() - the restore's files of one job (job 0 = all jobs), only
 * those still pending if pending_only, in plan order. */
int floe_catalog_restore_iter_files(struct floe_catalog *c, uint64_t restore_id, int64_t job,
                                    bool pending_only, floe_catalog_restore_file_fn *fn, void *user,
                                    struct floe_error *err);

/*
 * floe_catalog_find_job() - a retrieval job of ANY restore for the same archive and range whose
 * status is SUCCEEDED or DOWNLOADED (or INITIATED) and that was updated at or after not_before
 * (the caller's expiry rule: job output lives about 24 hours), newest first: its Glacier job id
 * is copied into job_id (FLOE_CATALOG_ID_MAX bytes). FLOE_E_NOT_FOUND (err not written) when
 * none.
 */
int floe_catalog_find_job(struct floe_catalog *c, const char *archive_id, uint64_t offset_bytes,
                          uint64_t length_bytes, int64_t not_before,
                          char job_id[FLOE_CATALOG_ID_MAX], struct floe_error *err);

#endif
