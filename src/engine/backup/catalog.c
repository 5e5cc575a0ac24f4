/*
 * catalog.c - the backup catalog in SQLite: schema, run lock, transactions, lookups, streaming
 * iteration, snapshots and the restore tables (API and contracts in catalog.h; the schema in
 * docs/catalog-format.md).
 *
 * DESIGN
 * One handle = one SQLite connection in WAL mode (synchronous=FULL unless no_sync) used by one
 * thread, with a cache of prepared statements (SQLITE_PREPARE_PERSISTENT), so a lookup is one
 * sqlite3_step on the partial unique index files_current (path, current rows only).
 * A writable handle holds flock(LOCK_EX) on "<catalog>.lock" for its whole life: WAL lets
 * readers in while one writer commits, but a backup run is many transactions and two runs
 * interleaving theirs would each decide "new" for the same file. The lock file holds the pid for
 * the message; the kernel drops the lock when the process dies.
 * Writes: write_begin() opens a transaction unless the caller's (floe_catalog_begin) is open;
 * write_end() commits an own transaction, and on any database failure rolls back whatever
 * transaction is open and closes it, so a failed write never leaves half of anything behind
 * (SQLite itself guarantees the file keeps the last committed state on disk full).
 * The run's "seen" set is a bitmap over files.id, taken at run begin for the ids that exist then
 * (rows recorded by the run are excluded by their run id instead): one bit per file version,
 * 125 KiB per million, O(1) to mark and to probe, and outside the catalog's transactions, so
 * rolling back a batch of archives does not forget which paths the walker saw. The "removed"
 * scan streams current rows in path order and tests their bits.
 */
#include "catalog.h"

#include "alloc.h"
#include "dirsync.h"

#include <sqlite3.h>
#include <xxhash.h>
#include <zstd.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FLOE_CATALOG_APP_ID 0x666c6f65 /* "floe" in PRAGMA application_id */
#define REMOVE_CHUNK 1024              /* rows collected before each removed_at update */

const char *const floe_catalog_outcome_names[FLOE_CATALOG_OUTCOME_COUNT] = {
    "running", "ok", "partial", "failed", "interrupted"};
const char *const floe_catalog_kind_names[FLOE_CATALOG_KIND_COUNT] = {"file", "pack", "catalog"};
const char *const floe_catalog_compression_names[FLOE_CATALOG_COMP_COUNT] = {"none", "zstd"};
const char *const floe_catalog_job_status_names[FLOE_CATALOG_JOB_STATUS_COUNT] = {
    "planned", "initiated", "succeeded", "downloaded", "failed"};
const char *const floe_catalog_rfile_status_names[FLOE_CATALOG_RFILE_STATUS_COUNT] = {
    "pending", "done", "skipped", "failed"};
static_assert(sizeof(floe_catalog_outcome_names) / sizeof(char *) == FLOE_CATALOG_OUTCOME_COUNT,
              "outcome names");
static_assert(sizeof(floe_catalog_kind_names) / sizeof(char *) == FLOE_CATALOG_KIND_COUNT,
              "kind names");
static_assert(sizeof(floe_catalog_job_status_names) / sizeof(char *) ==
                  FLOE_CATALOG_JOB_STATUS_COUNT,
              "job status names");
static_assert(sizeof(floe_catalog_rfile_status_names) / sizeof(char *) ==
                  FLOE_CATALOG_RFILE_STATUS_COUNT,
              "restore file status names");

/* Schema version 1. Changing it means a new version and a migration in migrations[]. */
static const char SCHEMA_V1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER,"
    " outcome TEXT NOT NULL CHECK (outcome IN"
    " ('running','ok','partial','failed','interrupted')),"
    " files_new INTEGER NOT NULL DEFAULT 0, files_changed INTEGER NOT NULL DEFAULT 0,"
    " files_removed INTEGER NOT NULL DEFAULT 0, files_skipped INTEGER NOT NULL DEFAULT 0,"
    " files_failed INTEGER NOT NULL DEFAULT 0, bytes_uploaded INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE archives (id INTEGER PRIMARY KEY, archive_id TEXT NOT NULL UNIQUE,"
    " size_bytes INTEGER NOT NULL, tree_hash BLOB NOT NULL CHECK (length(tree_hash) = 32),"
    " description TEXT NOT NULL DEFAULT '',"
    " kind TEXT NOT NULL CHECK (kind IN ('file','pack','catalog')),"
    " created_at INTEGER NOT NULL, deleted_at INTEGER);"
    "CREATE TABLE files (id INTEGER PRIMARY KEY, path BLOB NOT NULL,"
    " size_bytes INTEGER NOT NULL, mtime_ns INTEGER,"
    " inode INTEGER NOT NULL DEFAULT 0, device INTEGER NOT NULL DEFAULT 0,"
    " xxh3_128 BLOB CHECK (xxh3_128 IS NULL OR length(xxh3_128) = 16),"
    " tree_hash BLOB CHECK (tree_hash IS NULL OR length(tree_hash) = 32),"
    " archive INTEGER NOT NULL REFERENCES archives(id),"
    " offset_bytes INTEGER NOT NULL, length_bytes INTEGER NOT NULL,"
    " compression TEXT NOT NULL CHECK (compression IN ('none','zstd')),"
    " run INTEGER REFERENCES runs(id), uploaded_at INTEGER NOT NULL,"
    " superseded_at INTEGER, removed_at INTEGER);"
    "CREATE UNIQUE INDEX files_current ON files(path)"
    " WHERE superseded_at IS NULL AND removed_at IS NULL;"
    "CREATE INDEX files_archive ON files(archive, offset_bytes);"
    "CREATE TABLE restores (id INTEGER PRIMARY KEY, target TEXT NOT NULL,"
    " started_at INTEGER NOT NULL, ended_at INTEGER,"
    " state TEXT NOT NULL CHECK (state IN ('running','done','abandoned')));"
    "CREATE TABLE restore_jobs (id INTEGER PRIMARY KEY,"
    " restore INTEGER NOT NULL REFERENCES restores(id),"
    " archive INTEGER NOT NULL REFERENCES archives(id),"
    " offset_bytes INTEGER NOT NULL, length_bytes INTEGER NOT NULL, tier TEXT NOT NULL,"
    " job_id TEXT NOT NULL DEFAULT '', status TEXT NOT NULL CHECK (status IN"
    " ('planned','initiated','succeeded','downloaded','failed')),"
    " updated_at INTEGER NOT NULL, UNIQUE (restore, archive, offset_bytes, length_bytes));"
    "CREATE INDEX restore_jobs_range ON restore_jobs(archive, offset_bytes, length_bytes);"
    "CREATE TABLE restore_files (restore INTEGER NOT NULL REFERENCES restores(id),"
    " file INTEGER NOT NULL REFERENCES files(id),"
    " job INTEGER NOT NULL REFERENCES restore_jobs(id), dest_path BLOB NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending','done','skipped','failed')),"
    " PRIMARY KEY (restore, file)) WITHOUT ROWID;"
    "CREATE INDEX restore_files_job ON restore_files(restore, job);";

/* The columns read_file_row() expects, in order (f = files, a = archives). */
#define FILE_COLS                                                                                  \
    "f.id, f.path, f.size_bytes, f.mtime_ns, f.inode, f.device, f.xxh3_128, f.tree_hash,"          \
    " a.archive_id, f.offset_bytes, f.length_bytes, f.compression, f.uploaded_at,"                 \
    " f.superseded_at, f.removed_at, f.run"
#define CURRENT "f.superseded_at IS NULL AND f.removed_at IS NULL"
#define CURRENT_ROW "superseded_at IS NULL AND removed_at IS NULL" /* UPDATE has no alias */
#define ARCHIVE_COLS "archive_id, size_bytes, tree_hash, description, kind, created_at, deleted_at"

enum stmt {
    S_LOOKUP,
    S_CUR_RANGE, /* current files with lo <= path < hi, path order */
    S_CUR_FROM,  /* current files with lo <= path */
    S_ARCHIVE_ID,
    S_ARCHIVE_INSERT,
    S_FILE_SUPERSEDE,
    S_FILE_INSERT,
    S_FILE_REMOVE_ID,
    S_FILE_REMOVE_PATH,
    S_ARCHIVE_FILES,
    S_ARCHIVES_ALL,
    S_ARCHIVES_LIVE,
    S_ARCHIVE_GET,
    S_PRUNABLE,
    S_ARCHIVE_DELETE,
    S_ARCHIVE_DELETE_FILES,
    S_RUN_INSERT,
    S_RUN_END,
    S_RUNS,
    S_RESTORE_INSERT,
    S_RESTORE_FIND,
    S_RESTORE_END,
    S_JOB_INSERT,
    S_JOB_FIND_PLAN,
    S_JOB_SET,
    S_JOB_SET_STATUS,
    S_RFILE_INSERT,
    S_RFILE_SET,
    S_JOBS_OF,
    S_RFILES_ALL,
    S_RFILES_JOB,
    S_JOB_REUSE,
    S_COUNT
};

static const char *const STMT_SQL[S_COUNT] = {
    [S_LOOKUP] = "SELECT " FILE_COLS " FROM files f JOIN archives a ON a.id = f.archive"
                 " WHERE f.path = ?1 AND " CURRENT,
    [S_CUR_RANGE] = "SELECT " FILE_COLS " FROM files f JOIN archives a ON a.id = f.archive"
                    " WHERE " CURRENT " AND f.path >= ?1 AND f.path < ?2 ORDER BY f.path",
    [S_CUR_FROM] = "SELECT " FILE_COLS " FROM files f JOIN archives a ON a.id = f.archive"
                   " WHERE " CURRENT " AND f.path >= ?1 ORDER BY f.path",
    [S_ARCHIVE_ID] = "SELECT id FROM archives WHERE archive_id = ?1",
    [S_ARCHIVE_INSERT] = "INSERT INTO archives (" ARCHIVE_COLS ") VALUES (?1,?2,?3,?4,?5,?6,NULL)",
    [S_FILE_SUPERSEDE] = "UPDATE files SET superseded_at = ?2 WHERE path = ?1 AND " CURRENT_ROW,
    [S_FILE_INSERT] = "INSERT INTO files (path, size_bytes, mtime_ns, inode, device, xxh3_128,"
                      " tree_hash, archive, offset_bytes, length_bytes, compression, run,"
                      " uploaded_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [S_FILE_REMOVE_ID] = "UPDATE files SET removed_at = ?2 WHERE id = ?1",
    [S_FILE_REMOVE_PATH] = "UPDATE files SET removed_at = ?2 WHERE path = ?1 AND " CURRENT_ROW,
    [S_ARCHIVE_FILES] = "SELECT " FILE_COLS " FROM files f JOIN archives a ON a.id = f.archive"
                        " WHERE f.archive = ?1 ORDER BY f.offset_bytes, f.id",
    [S_ARCHIVES_ALL] = "SELECT " ARCHIVE_COLS " FROM archives ORDER BY id",
    [S_ARCHIVES_LIVE] = "SELECT " ARCHIVE_COLS " FROM archives WHERE deleted_at IS NULL"
                        " ORDER BY id",
    [S_ARCHIVE_GET] = "SELECT " ARCHIVE_COLS " FROM archives WHERE archive_id = ?1",
    /* an archive's files stop being current by superseded_at or removed_at (never both) */
    [S_PRUNABLE] =
        "SELECT " ARCHIVE_COLS " FROM archives a WHERE a.deleted_at IS NULL AND ("
        " (a.kind IN ('file','pack')"
        "  AND NOT EXISTS (SELECT 1 FROM files f WHERE f.archive = a.id"
        "   AND f.superseded_at IS NULL AND f.removed_at IS NULL)"
        "  AND coalesce((SELECT max(coalesce(f.superseded_at, f.removed_at)) FROM files f"
        "   WHERE f.archive = a.id), a.created_at) <= ?1)"
        " OR (a.kind = 'catalog' AND a.created_at <= ?1 AND a.id < (SELECT max(id) FROM archives"
        "  WHERE kind = 'catalog' AND deleted_at IS NULL))"
        ") ORDER BY a.created_at, a.id",
    [S_ARCHIVE_DELETE] = "UPDATE archives SET deleted_at = ?2 WHERE id = ?1",
    [S_ARCHIVE_DELETE_FILES] =
        "UPDATE files SET removed_at = ?2 WHERE archive = ?1 AND " CURRENT_ROW,
    [S_RUN_INSERT] = "INSERT INTO runs (started_at, outcome) VALUES (?1, 'running')",
    [S_RUN_END] = "UPDATE runs SET ended_at = ?2, outcome = ?3, files_new = ?4,"
                  " files_changed = ?5, files_removed = ?6, files_skipped = ?7,"
                  " files_failed = ?8, bytes_uploaded = ?9 WHERE id = ?1",
    [S_RUNS] = "SELECT id, started_at, ended_at, outcome, files_new, files_changed,"
               " files_removed, files_skipped, files_failed, bytes_uploaded FROM runs"
               " ORDER BY id DESC",
    [S_RESTORE_INSERT] = "INSERT INTO restores (target, started_at, state)"
                         " VALUES (?1, ?2, 'running')",
    [S_RESTORE_FIND] = "SELECT id FROM restores WHERE target = ?1 AND state = 'running'"
                       " ORDER BY id DESC LIMIT 1",
    [S_RESTORE_END] = "UPDATE restores SET ended_at = ?2, state = ?3 WHERE id = ?1",
    [S_JOB_INSERT] = "INSERT INTO restore_jobs (restore, archive, offset_bytes, length_bytes,"
                     " tier, status, updated_at) VALUES (?1,?2,?3,?4,?5,'planned',?6)"
                     " ON CONFLICT DO NOTHING",
    [S_JOB_FIND_PLAN] = "SELECT id FROM restore_jobs WHERE restore = ?1 AND archive = ?2"
                        " AND offset_bytes = ?3 AND length_bytes = ?4",
    [S_JOB_SET] = "UPDATE restore_jobs SET job_id = ?2, status = ?3, updated_at = ?4"
                  " WHERE id = ?1",
    [S_JOB_SET_STATUS] = "UPDATE restore_jobs SET status = ?2, updated_at = ?3 WHERE id = ?1",
    [S_RFILE_INSERT] = "INSERT INTO restore_files (restore, file, job, dest_path, status)"
                       " VALUES (?1,?2,?3,?4,'pending') ON CONFLICT DO NOTHING",
    [S_RFILE_SET] = "UPDATE restore_files SET status = ?3 WHERE restore = ?1 AND file = ?2",
    [S_JOBS_OF] = "SELECT j.id, j.restore, a.archive_id, j.offset_bytes, j.length_bytes, j.tier,"
                  " j.job_id, j.status, j.updated_at FROM restore_jobs j"
                  " JOIN archives a ON a.id = j.archive WHERE j.restore = ?1 ORDER BY j.id",
    [S_RFILES_ALL] = "SELECT restore, file, job, dest_path, status FROM restore_files"
                     " WHERE restore = ?1 AND (?2 = 0 OR status = 'pending') ORDER BY file",
    [S_RFILES_JOB] = "SELECT restore, file, job, dest_path, status FROM restore_files"
                     " WHERE restore = ?1 AND job = ?3 AND (?2 = 0 OR status = 'pending')"
                     " ORDER BY file",
    [S_JOB_REUSE] = "SELECT j.job_id FROM restore_jobs j JOIN archives a ON a.id = j.archive"
                    " WHERE a.archive_id = ?1 AND j.offset_bytes = ?2 AND j.length_bytes = ?3"
                    " AND j.status IN ('initiated','succeeded','downloaded') AND j.job_id <> ''"
                    " AND j.updated_at >= ?4 ORDER BY j.updated_at DESC, j.id DESC LIMIT 1",
};

struct floe_catalog {
    sqlite3 *db;
    char *path;
    int lock_fd; /* -1 for read-only handles */
    bool read_only;
    bool in_tx;      /* floe_catalog_begin's transaction is open */
    uint64_t run_id; /* the open run, 0 = none */
    sqlite3_stmt *stmt[S_COUNT];
    /* the run's seen set (see DESIGN): bit i = files.id i was seen; ids < seen_ids */
    uint64_t *seen;
    uint64_t seen_ids;
    char archive_id[FLOE_CATALOG_ID_MAX]; /* lookup's out->archive_id */
    char *desc;                           /* get_archive's out->description */
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- errors ---- */

/* Maps an SQLite result to a floe status with a message naming the catalog and what failed. */
static int db_error(const char *path, sqlite3 *db, int rc, const char *what, struct floe_error *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "catalog %s is not a database or is damaged (%s while %s); it was "
                              "not changed: restore it from a snapshot or rebuild it",
                              path, msg, what);
    case SQLITE_FULL: {
        int st = floe_error_set_errno(err, FLOE_E_IO, ENOSPC, path,
                                      "catalog %s: disk full while %s; nothing of the "
                                      "transaction was recorded (the catalog keeps its previous "
                                      "state)",
                                      path, what);
        return st;
    }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return floe_error_set(err, FLOE_E_IO, "catalog %s is busy while %s: %s", path, what, msg);
    case SQLITE_READONLY:
        return floe_error_set(err, FLOE_E_IO, "catalog %s is read-only while %s: %s", path, what,
                              msg);
    case SQLITE_NOMEM:
        return floe_error_set(err, FLOE_E_NOMEM, "catalog %s: out of memory while %s", path, what);
    case SQLITE_CONSTRAINT:
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "catalog %s: %s breaks a rule of the "
                              "schema: %s",
                              path, what, msg);
    default: return floe_error_set(err, FLOE_E_IO, "catalog %s: %s failed: %s", path, what, msg);
    }
}

static int cat_error(struct floe_catalog *c, int rc, const char *what, struct floe_error *err)
{
    return db_error(c->path, c->db, rc, what, err);
}

/* ---- statements and transactions ---- */

static int stmt_get(struct floe_catalog *c, enum stmt s, sqlite3_stmt **out, struct floe_error *err)
{
    if (!c->stmt[s]) {
        int rc = sqlite3_prepare_v3(c->db, STMT_SQL[s], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[s],
                                    NULL);
        if (rc != SQLITE_OK)
            return cat_error(c, rc, "preparing a statement", err);
    }
    sqlite3_reset(c->stmt[s]);
    sqlite3_clear_bindings(c->stmt[s]);
    *out = c->stmt[s];
    return FLOE_OK;
}

static int exec_sql(struct floe_catalog *c, const char *sql, const char *what,
                    struct floe_error *err)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FLOE_OK : cat_error(c, rc, what, err);
}

/* Runs a statement that returns no rows (or ignores them); resets it. */
static int step_done(struct floe_catalog *c, sqlite3_stmt *st, const char *what,
                     struct floe_error *err)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FLOE_OK : cat_error(c, rc, what, err);
}

/* Opens the write's own transaction unless the caller's is open; *own says which. */
static int write_begin(struct floe_catalog *c, bool *own, struct floe_error *err)
{
    *own = !c->in_tx;
    if (!*own)
        return FLOE_OK;
    return exec_sql(c, "BEGIN IMMEDIATE", "starting a transaction", err);
}

/*
 * Ends a write: st is the write's status so far. Success: commit an own transaction. Failure of
 * anything but an input check: roll back whichever transaction is open and close it.
 */
static int write_end(struct floe_catalog *c, bool own, int st, struct floe_error *err)
{
    if (st == FLOE_OK) {
        if (!own)
            return FLOE_OK;
        int rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return FLOE_OK;
        st = cat_error(c, rc, "committing", err);
    }
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    c->in_tx = false;
    return st;
}

int floe_catalog_begin(struct floe_catalog *c, struct floe_error *err)
{
    if (c->in_tx)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: a transaction is open already",
                              c->path);
    int st = exec_sql(c, "BEGIN IMMEDIATE", "starting a transaction", err);
    if (st == FLOE_OK)
        c->in_tx = true;
    return st;
}

int floe_catalog_commit(struct floe_catalog *c, struct floe_error *err)
{
    if (!c->in_tx)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: no transaction is open",
                              c->path);
    c->in_tx = false;
    return write_end(c, true, FLOE_OK, err);
}

void floe_catalog_rollback(struct floe_catalog *c)
{
    if (c && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    if (c)
        c->in_tx = false;
}

int floe_catalog_read_begin(struct floe_catalog *c, struct floe_error *err)
{
    if (c->in_tx || !sqlite3_get_autocommit(c->db))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: a transaction is open already",
                              c->path);
    return exec_sql(c, "BEGIN", "starting a read transaction", err);
}

void floe_catalog_read_end(struct floe_catalog *c)
{
    if (c && !c->in_tx && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}

bool floe_catalog_in_transaction(const struct floe_catalog *c)
{
    return c->in_tx;
}

const char *floe_catalog_path(const struct floe_catalog *c)
{
    return c->path;
}

/* ---- default path, lock, open ---- */

int floe_catalog_default_path(const char *endpoint, const char *account, const char *vault,
                              char *out, size_t cap, struct floe_error *err)
{
    char key[4096];
    int n = snprintf(key, sizeof(key), "%s\n%s\n%s", endpoint ? endpoint : "",
                     account ? account : "", vault ? vault : "");
    if (n < 0 || (size_t)n >= sizeof(key))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "endpoint, account and vault are too long");
    XXH64_hash_t h = XXH3_64bits(key, (size_t)n);
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    /* mkdir -p of the levels that may be missing: share, then floe (or the /tmp fallback) */
    char parents[2][PATH_MAX] = {{0}};
    if (xdg && *xdg) {
        snprintf(dir, sizeof(dir), "%s/floe", xdg);
        snprintf(parents[0], PATH_MAX, "%s", xdg);
    } else if (home && *home) {
        snprintf(parents[0], PATH_MAX, "%s/.local", home);
        snprintf(parents[1], PATH_MAX, "%s/.local/share", home);
        snprintf(dir, sizeof(dir), "%s/.local/share/floe", home);
    } else {
        snprintf(parents[0], PATH_MAX, "/tmp/floe-%u", (unsigned)getuid());
        snprintf(dir, sizeof(dir), "/tmp/floe-%u/data", (unsigned)getuid());
    }
    for (int i = 0; i < 2; i++)
        if (parents[i][0])
            mkdir(parents[i], 0700);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return floe_error_set_errno(err, FLOE_E_IO, errno, dir,
                                    "cannot create the catalog directory %s", dir);
    n = snprintf(out, cap, "%s/catalog-%016llx.db", dir, (unsigned long long)h);
    if (n < 0 || (size_t)n >= cap)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the catalog path in %s does not fit in %zu "
                              "bytes",
                              dir, cap);
    return FLOE_OK;
}

/* Takes the run lock on "<path>.lock" (see floe_catalog_open); *fd_out owns it. */
static int take_lock(const char *path, int *fd_out, struct floe_error *err)
{
    size_t n = strlen(path) + 6;
    char *lp = floe_xmalloc(n);
    snprintf(lp, n, "%s.lock", path);
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        floe_error_set_errno(err, FLOE_E_IO, e, lp, "cannot open the catalog lock %s", lp);
        free(lp);
        return FLOE_E_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char buf[32] = {0};
        ssize_t r = pread(fd, buf, sizeof(buf) - 1, 0);
        long pid = r > 0 ? strtol(buf, NULL, 10) : 0;
        close(fd);
        free(lp);
        if (e == EWOULDBLOCK) {
            if (pid > 0)
                return floe_error_set(err, FLOE_E_IO,
                                      "catalog %s is in use by another floe run (pid %ld)", path,
                                      pid);
            return floe_error_set(err, FLOE_E_IO, "catalog %s is in use by another floe run", path);
        }
        return floe_error_set_errno(err, FLOE_E_IO, e, path, "cannot lock the catalog %s", path);
    }
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        /* the lock holds anyway; only the pid in another run's message would be missing */
    }
    free(lp);
    *fd_out = fd;
    return FLOE_OK;
}

/* One query returning one integer (0 when there is no row). */
static int query_int(struct floe_catalog *c, const char *sql, int64_t *out, const char *what,
                     struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? FLOE_OK : cat_error(c, rc, what, err);
}

static int create_schema(struct floe_catalog *c, struct floe_error *err)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO meta VALUES ('schema_version', '%d'), ('created_at', '%" PRId64 "');"
             "PRAGMA application_id = %d;",
             FLOE_CATALOG_SCHEMA_VERSION, now_s(), FLOE_CATALOG_APP_ID);
    int st = exec_sql(c, "BEGIN IMMEDIATE", "creating the schema", err);
    if (st == FLOE_OK)
        st = exec_sql(c, SCHEMA_V1, "creating the schema", err);
    if (st == FLOE_OK)
        st = exec_sql(c, sql, "creating the schema", err);
    return write_end(c, true, st, err);
}

/*
 * Migrations: migrations[v] turns version v into v + 1 (SQL run in one transaction with the
 * version update). Version 1 is the first; nothing to migrate yet.
 */
static const char *const migrations[FLOE_CATALOG_SCHEMA_VERSION] = {NULL};

/*
 * What the file holds, by reading only (nothing is written before the file is known to be an
 * empty database or a floe catalog this program can read): *version = 0 for an empty database.
 */
static int identify(struct floe_catalog *c, int64_t *version, struct floe_error *err)
{
    int64_t tables = 0, app = 0, has_meta = 0;
    *version = 0;
    int st = query_int(c, "SELECT count(*) FROM sqlite_master", &tables, "reading the schema", err);
    if (st == FLOE_OK)
        st = query_int(c, "PRAGMA application_id", &app, "reading the schema", err);
    if (st != FLOE_OK)
        return st;
    if (tables == 0) {
        if (c->read_only)
            return floe_error_set(err, FLOE_E_NOT_FOUND, "catalog %s is empty", c->path);
        return FLOE_OK;
    }
    st = query_int(c, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                   &has_meta, "reading the schema", err);
    if (st != FLOE_OK)
        return st;
    if (app != FLOE_CATALOG_APP_ID || !has_meta)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "%s is an SQLite database but not a floe catalog; it was not "
                              "changed",
                              c->path);
    st = query_int(c, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'",
                   version, "reading the schema version", err);
    if (st != FLOE_OK)
        return st;
    if (*version > FLOE_CATALOG_SCHEMA_VERSION)
        return floe_error_set(err, FLOE_E_UNSUPPORTED,
                              "catalog %s has schema version %" PRId64
                              ", written by a newer floe; this floe reads up to version %d",
                              c->path, *version, FLOE_CATALOG_SCHEMA_VERSION);
    if (*version < 1)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "catalog %s has no valid schema_version in its meta table", c->path);
    if (*version < FLOE_CATALOG_SCHEMA_VERSION && c->read_only)
        return floe_error_set(err, FLOE_E_UNSUPPORTED,
                              "catalog %s has schema version %" PRId64
                              " and needs a writable open to be upgraded to %d",
                              c->path, *version, FLOE_CATALOG_SCHEMA_VERSION);
    return FLOE_OK;
}

/* Creates the schema in an empty database, or migrates an older one (version from identify). */
static int prepare_schema(struct floe_catalog *c, int64_t version, struct floe_error *err)
{
    if (version == 0)
        return create_schema(c, err);
    if (version == FLOE_CATALOG_SCHEMA_VERSION)
        return FLOE_OK;
    int st = exec_sql(c, "BEGIN IMMEDIATE", "upgrading the schema", err);
    for (int64_t v = version; st == FLOE_OK && v < FLOE_CATALOG_SCHEMA_VERSION; v++)
        if (migrations[v])
            st = exec_sql(c, migrations[v], "upgrading the schema", err);
    if (st == FLOE_OK) {
        char sql[128];
        snprintf(sql, sizeof(sql), "UPDATE meta SET value = '%d' WHERE key = 'schema_version'",
                 FLOE_CATALOG_SCHEMA_VERSION);
        st = exec_sql(c, sql, "upgrading the schema", err);
    }
    return write_end(c, true, st, err);
}

int floe_catalog_open(const char *path, const struct floe_catalog_options *opts,
                      struct floe_catalog **out, struct floe_error *err)
{
    static const struct floe_catalog_options defaults = {0};
    if (!opts)
        opts = &defaults;
    if (!path || !*path)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "no catalog path given");
    struct floe_catalog *c = floe_xcalloc(1, sizeof(*c));
    c->path = floe_xstrdup(path);
    c->lock_fd = -1;
    c->read_only = opts->read_only;
    int st = FLOE_OK;
    if (c->read_only) {
        if (access(path, F_OK) != 0) {
            st = floe_error_set_errno(err, FLOE_E_NOT_FOUND, errno, path, "no catalog at %s", path);
            goto out;
        }
    } else if ((st = take_lock(path, &c->lock_fd, err)) != FLOE_OK) {
        goto out;
    }
    int flags = (c->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        st = cat_error(c, rc, "opening", err);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 5000);
    /* reading first: a file that is not a database, or not ours, is refused before anything is
     * written to it (even the switch to WAL is a write) */
    int64_t version = 0;
    if ((st = identify(c, &version, err)) != FLOE_OK)
        goto out;
    if (!c->read_only) {
        const char *prag =
            opts->no_sync
                ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY;"
                : "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = "
                  "MEMORY;";
        if ((st = exec_sql(c, prag, "switching to WAL", err)) != FLOE_OK)
            goto out;
    }
    /* a bounded page cache (lookups of 100,000+ files per run stay in memory up to that size).
     * The schema's CHECKs are not evaluated on this connection: SQLite (3.40) evaluates an IN
     * list of three or more values by building a temporary b-tree at every execution, so the
     * archives kind CHECK alone made an archive insert cost 80,000 instructions instead of
     * 47,000 (most of a single-file archive's catalog work). Every value floe writes goes
     * through this file's functions, which refuse what the CHECKs would (kinds, compressions,
     * outcomes and states are enum names checked for range; hashes have fixed sizes); other
     * writers (the sqlite3 shell) still meet the CHECKs. */
    char pragmas[128];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA foreign_keys = ON; PRAGMA ignore_check_constraints = ON;"
             " PRAGMA cache_size = -%u;",
             (opts->cache_mib ? opts->cache_mib : 16u) * 1024u);
    if ((st = exec_sql(c, pragmas, "opening", err)) != FLOE_OK)
        goto out;
    if (opts->max_page_count) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %u", (unsigned)opts->max_page_count);
        if ((st = exec_sql(c, sql, "opening", err)) != FLOE_OK)
            goto out;
    }
    if (!c->read_only && (st = prepare_schema(c, version, err)) != FLOE_OK)
        goto out;
    if (!c->read_only) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "UPDATE runs SET outcome = 'interrupted', ended_at = %" PRId64
                 " WHERE outcome = 'running'",
                 now_s());
        st = exec_sql(c, sql, "closing runs a killed process left open", err);
    }
out:
    if (st != FLOE_OK) {
        floe_catalog_close(c);
        return st;
    }
    *out = c;
    return FLOE_OK;
}

static void seen_close(struct floe_catalog *c)
{
    free(c->seen);
    c->seen = NULL;
    c->seen_ids = 0;
}

void floe_catalog_close(struct floe_catalog *c)
{
    if (!c)
        return;
    seen_close(c);
    if (c->db) {
        floe_catalog_rollback(c);
        for (int i = 0; i < S_COUNT; i++)
            sqlite3_finalize(c->stmt[i]);
        sqlite3_close(c->db);
    }
    if (c->lock_fd >= 0)
        close(c->lock_fd); /* releases the flock */
    free(c->desc);
    free(c->path);
    free(c);
}

/* ---- rows ---- */

static void blob_to(sqlite3_stmt *st, int col, uint8_t *dst, size_t n, bool *has)
{
    const void *p = sqlite3_column_blob(st, col);
    *has = p && (size_t)sqlite3_column_bytes(st, col) == n;
    if (*has)
        memcpy(dst, p, n);
}

static enum floe_catalog_compression comp_from(const char *s)
{
    for (int i = 0; i < FLOE_CATALOG_COMP_COUNT; i++)
        if (s && strcmp(s, floe_catalog_compression_names[i]) == 0)
            return (enum floe_catalog_compression)i;
    return FLOE_CATALOG_COMP_NONE;
}

/* Fills f from a row of FILE_COLS; path and archive_id are borrowed from the statement. */
static void read_file_row(sqlite3_stmt *st, struct floe_catalog_file *f)
{
    memset(f, 0, sizeof(*f));
    f->id = sqlite3_column_int64(st, 0);
    f->path = sqlite3_column_blob(st, 1);
    f->path_len = (size_t)sqlite3_column_bytes(st, 1);
    f->size_bytes = (uint64_t)sqlite3_column_int64(st, 2);
    f->has_mtime = sqlite3_column_type(st, 3) != SQLITE_NULL;
    f->mtime_ns = sqlite3_column_int64(st, 3);
    f->inode = (uint64_t)sqlite3_column_int64(st, 4);
    f->device = (uint64_t)sqlite3_column_int64(st, 5);
    blob_to(st, 6, f->xxh3_128, sizeof(f->xxh3_128), &f->has_xxh3);
    blob_to(st, 7, f->tree_hash, sizeof(f->tree_hash), &f->has_tree_hash);
    f->archive_id = (const char *)sqlite3_column_text(st, 8);
    f->offset_bytes = (uint64_t)sqlite3_column_int64(st, 9);
    f->length_bytes = (uint64_t)sqlite3_column_int64(st, 10);
    f->compression = comp_from((const char *)sqlite3_column_text(st, 11));
    f->uploaded_at = sqlite3_column_int64(st, 12);
    f->superseded_at = sqlite3_column_int64(st, 13);
    f->removed_at = sqlite3_column_int64(st, 14);
    f->run_id = (uint64_t)sqlite3_column_int64(st, 15);
}

static enum floe_catalog_kind kind_from(const char *s)
{
    for (int i = 0; i < FLOE_CATALOG_KIND_COUNT; i++)
        if (s && strcmp(s, floe_catalog_kind_names[i]) == 0)
            return (enum floe_catalog_kind)i;
    return FLOE_CATALOG_KIND_FILE;
}

/* Fills a from a row of ARCHIVE_COLS; description is borrowed from the statement. */
static void read_archive_row(sqlite3_stmt *st, struct floe_catalog_archive *a)
{
    memset(a, 0, sizeof(*a));
    const char *id = (const char *)sqlite3_column_text(st, 0);
    snprintf(a->archive_id, sizeof(a->archive_id), "%s", id ? id : "");
    a->size_bytes = (uint64_t)sqlite3_column_int64(st, 1);
    bool has;
    blob_to(st, 2, a->tree_hash, sizeof(a->tree_hash), &has);
    a->description = (const char *)sqlite3_column_text(st, 3);
    if (!a->description)
        a->description = "";
    a->kind = kind_from((const char *)sqlite3_column_text(st, 4));
    a->created_at = sqlite3_column_int64(st, 5);
    a->deleted_at = sqlite3_column_int64(st, 6);
}

/* ---- recording ---- */

/* The arguments' own checks; an id already in the catalog is found by the insert itself (the
 * archive_id column is UNIQUE), which spares every recorded archive a lookup of its id. */
static int check_archive_input(const struct floe_catalog_archive *a,
                               const struct floe_catalog_file *files, size_t n,
                               struct floe_error *err)
{
    size_t idlen = strnlen(a->archive_id, sizeof(a->archive_id));
    if (idlen == 0 || idlen == sizeof(a->archive_id))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "an archive id must be 1 to %d characters, NUL-terminated",
                              FLOE_CATALOG_ID_MAX - 1);
    if ((unsigned)a->kind >= FLOE_CATALOG_KIND_COUNT || a->size_bytes > INT64_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "archive %s: kind %d or size %" PRIu64 " out of range", a->archive_id,
                              (int)a->kind, a->size_bytes);
    for (size_t i = 0; i < n; i++) {
        const struct floe_catalog_file *f = &files[i];
        if (!f->path || f->path_len == 0 || f->path_len > INT32_MAX)
            return floe_error_set(err, FLOE_E_INVALID_ARG, "archive %s: file %zu has an empty path",
                                  a->archive_id, i);
        if ((unsigned)f->compression >= FLOE_CATALOG_COMP_COUNT || f->size_bytes > INT64_MAX ||
            f->offset_bytes > INT64_MAX || f->length_bytes > INT64_MAX)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "archive %s: file %zu has a compression, size, offset or "
                                  "length out of range",
                                  a->archive_id, i);
    }
    return FLOE_OK;
}

/* Supersedes the current version of f's path, if any. */
static int supersede(struct floe_catalog *c, const struct floe_catalog_file *f, int64_t now,
                     struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_FILE_SUPERSEDE, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_blob(st, 1, f->path, (int)f->path_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return step_done(c, st, "superseding a file version", err);
}

/*
 * The insert comes first: a path without a current version (every file of a first backup, every
 * new file after it) costs one statement, not an UPDATE that finds nothing and then the insert.
 * A path with one fails the insert on files_current (the only UNIQUE index of files: nothing was
 * written, the caller's transaction is intact); its version is superseded and the insert runs
 * again, so the outcome is the same as superseding first.
 */
static int insert_file(struct floe_catalog *c, int64_t archive_row, int64_t now,
                       const struct floe_catalog_file *f, struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_FILE_INSERT, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_blob(st, 1, f->path, (int)f->path_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)f->size_bytes);
    if (f->has_mtime)
        sqlite3_bind_int64(st, 3, f->mtime_ns);
    sqlite3_bind_int64(st, 4, (int64_t)f->inode);
    sqlite3_bind_int64(st, 5, (int64_t)f->device);
    if (f->has_xxh3)
        sqlite3_bind_blob(st, 6, f->xxh3_128, sizeof(f->xxh3_128), SQLITE_STATIC);
    if (f->has_tree_hash)
        sqlite3_bind_blob(st, 7, f->tree_hash, sizeof(f->tree_hash), SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, archive_row);
    sqlite3_bind_int64(st, 9, (int64_t)f->offset_bytes);
    sqlite3_bind_int64(st, 10, (int64_t)f->length_bytes);
    sqlite3_bind_text(st, 11, floe_catalog_compression_names[f->compression], -1, SQLITE_STATIC);
    if (c->run_id)
        sqlite3_bind_int64(st, 12, (int64_t)c->run_id);
    sqlite3_bind_int64(st, 13, f->uploaded_at ? f->uploaded_at : now);
    int rc = sqlite3_step(st);
    sqlite3_reset(st); /* the bindings stay for the second try */
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        if ((s = supersede(c, f, now, err)) != FLOE_OK)
            return s;
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    return rc == SQLITE_DONE ? FLOE_OK : cat_error(c, rc, "recording a file", err);
}

int floe_catalog_record_archive(struct floe_catalog *c, const struct floe_catalog_archive *a,
                                const struct floe_catalog_file *files, size_t n,
                                struct floe_error *err)
{
    int st = check_archive_input(a, files, n, err);
    if (st != FLOE_OK)
        return st;
    bool own;
    if ((st = write_begin(c, &own, err)) != FLOE_OK)
        return st;
    int64_t now = now_s();
    sqlite3_stmt *s = NULL;
    if ((st = stmt_get(c, S_ARCHIVE_INSERT, &s, err)) == FLOE_OK) {
        sqlite3_bind_text(s, 1, a->archive_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)a->size_bytes);
        sqlite3_bind_blob(s, 3, a->tree_hash, sizeof(a->tree_hash), SQLITE_STATIC);
        sqlite3_bind_text(s, 4, a->description ? a->description : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, floe_catalog_kind_names[a->kind], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, a->created_at ? a->created_at : now);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc == SQLITE_CONSTRAINT_UNIQUE) {
            /* the id is there already: an input error. The failed statement undid only itself
             * (nothing of this call was written), so a caller's transaction stays as it was */
            st = floe_error_set(err, FLOE_E_INVALID_ARG, "archive %s is already in catalog %s",
                                a->archive_id, c->path);
            if (own)
                sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return st;
        }
        st = rc == SQLITE_DONE ? FLOE_OK : cat_error(c, rc, "recording an archive", err);
    }
    int64_t row = sqlite3_last_insert_rowid(c->db);
    for (size_t i = 0; st == FLOE_OK && i < n; i++)
        st = insert_file(c, row, now, &files[i], err);
    return write_end(c, own, st, err);
}

/* ---- lookups and iteration ---- */

int floe_catalog_lookup(struct floe_catalog *c, const void *path, size_t path_len,
                        struct floe_catalog_file *out, struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_LOOKUP, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_blob(st, 1, path, (int)path_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_file_row(st, out);
        snprintf(c->archive_id, sizeof(c->archive_id), "%s",
                 out->archive_id ? out->archive_id : "");
        out->archive_id = c->archive_id;
        out->path = path;
        out->path_len = path_len;
        sqlite3_reset(st);
        return FLOE_OK;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? FLOE_E_NOT_FOUND : cat_error(c, rc, "looking up a file", err);
}

/*
 * The smallest byte string greater than every string starting with prefix: prefix with its last
 * byte below 0xff incremented and what follows cut off. false when there is none (all 0xff).
 */
static bool prefix_end(const uint8_t *p, size_t n, uint8_t *out, size_t *out_len)
{
    while (n > 0 && p[n - 1] == 0xff)
        n--;
    if (n == 0)
        return false;
    memcpy(out, p, n);
    out[n - 1]++;
    *out_len = n;
    return true;
}

/* Whether the open run marked file row id seen (see DESIGN). */
static bool seen_has(const struct floe_catalog *c, int64_t id)
{
    return id >= 0 && (uint64_t)id < c->seen_ids && (c->seen[id / 64] >> (id % 64) & 1);
}

/*
 * Streams current files with lo <= path (< the end of prefix when there is one), in path order.
 * unseen: only those the open run neither recorded nor marked seen.
 */
static int scan_current(struct floe_catalog *c, const void *prefix, size_t prefix_len,
                        const void *lo, size_t lo_len, bool unseen, floe_catalog_file_fn *fn,
                        void *user, struct floe_error *err)
{
    uint8_t *hi = prefix_len ? floe_xmalloc(prefix_len) : NULL;
    size_t hi_len = 0;
    bool bounded = prefix_len && prefix_end(prefix, prefix_len, hi, &hi_len);
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, bounded ? S_CUR_RANGE : S_CUR_FROM, &st, err);
    if (s != FLOE_OK) {
        free(hi);
        return s;
    }
    sqlite3_bind_blob(st, 1, lo ? lo : "", (int)lo_len, SQLITE_STATIC);
    if (bounded)
        sqlite3_bind_blob(st, 2, hi, (int)hi_len, SQLITE_STATIC);
    int rc = SQLITE_DONE;
    while (s == FLOE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct floe_catalog_file f;
        read_file_row(st, &f);
        if (unseen && ((c->run_id && f.run_id == c->run_id) || seen_has(c, f.id)))
            continue;
        if (fn(&f, user) != 0)
            s = floe_error_set(err, FLOE_E_CANCELLED, "catalog iteration stopped by its caller");
    }
    if (s == FLOE_OK && rc != SQLITE_DONE)
        s = cat_error(c, rc, "reading files", err);
    sqlite3_reset(st);
    free(hi);
    return s;
}

int floe_catalog_iter_files(struct floe_catalog *c, const void *prefix, size_t prefix_len,
                            floe_catalog_file_fn *fn, void *user, struct floe_error *err)
{
    if (!prefix)
        prefix_len = 0;
    return scan_current(c, prefix, prefix_len, prefix, prefix_len, false, fn, user, err);
}

/* ---- the run's seen set, removed files ---- */

/* The seen bitmap for the rows that exist now (files.id is a rowid: ids only grow). */
static int seen_open(struct floe_catalog *c, struct floe_error *err)
{
    int64_t max_id = 0;
    int st = query_int(c, "SELECT max(id) FROM files", &max_id, "starting a run", err);
    if (st != FLOE_OK)
        return st;
    c->seen_ids = (uint64_t)max_id + 1;
    c->seen = floe_xcalloc((size_t)(c->seen_ids + 63) / 64, sizeof(uint64_t));
    return FLOE_OK;
}

int floe_catalog_mark_seen_id(struct floe_catalog *c, int64_t file_id, struct floe_error *err)
{
    if (!c->run_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: no run is open", c->path);
    if (file_id >= 0 && (uint64_t)file_id < c->seen_ids)
        c->seen[file_id / 64] |= (uint64_t)1 << (file_id % 64);
    return FLOE_OK; /* a row recorded by this run: seen by its run id */
}

int floe_catalog_mark_seen(struct floe_catalog *c, const void *path, size_t path_len,
                           struct floe_error *err)
{
    if (!c->run_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: no run is open", c->path);
    struct floe_catalog_file f;
    int st = floe_catalog_lookup(c, path, path_len, &f, err);
    if (st == FLOE_E_NOT_FOUND)
        return FLOE_OK; /* nothing current to keep */
    return st == FLOE_OK ? floe_catalog_mark_seen_id(c, f.id, err) : st;
}

int floe_catalog_iter_unseen(struct floe_catalog *c, const void *prefix, size_t prefix_len,
                             floe_catalog_file_fn *fn, void *user, struct floe_error *err)
{
    if (!c->run_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: no run is open", c->path);
    if (!prefix)
        prefix_len = 0;
    return scan_current(c, prefix, prefix_len, prefix, prefix_len, true, fn, user, err);
}

struct remove_chunk {
    int64_t ids[REMOVE_CHUNK];
    size_t n;
    uint8_t *last; /* path of the last row taken (malloc'd) */
    size_t last_len;
};

static int collect_unseen(const struct floe_catalog_file *f, void *user)
{
    struct remove_chunk *ch = user;
    ch->ids[ch->n++] = f->id;
    if (ch->n < REMOVE_CHUNK)
        return 0;
    /* the chunk is full: remember where to go on (just past this path) */
    ch->last = floe_xrealloc(ch->last, f->path_len + 1);
    memcpy(ch->last, f->path, f->path_len);
    ch->last[f->path_len] = 0; /* path || 0x00 is the smallest string after path */
    ch->last_len = f->path_len + 1;
    return 1;
}

/*
 * Removed-marking in chunks: collect up to REMOVE_CHUNK unseen rows, stop the scan, update them,
 * then scan again from just after the last one (updating rows under a live cursor of the same
 * index is something SQLite does not define the outcome of).
 */
int floe_catalog_mark_unseen_removed(struct floe_catalog *c, const void *prefix, size_t prefix_len,
                                     uint64_t *count, struct floe_error *err)
{
    if (!c->run_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: no run is open", c->path);
    if (!prefix)
        prefix_len = 0;
    bool own;
    int st = write_begin(c, &own, err);
    if (st != FLOE_OK)
        return st;
    struct remove_chunk *ch = floe_xcalloc(1, sizeof(*ch));
    uint64_t total = 0;
    int64_t now = now_s();
    const void *lo = prefix;
    size_t lo_len = prefix_len;
    for (;;) {
        ch->n = 0;
        int s = scan_current(c, prefix, prefix_len, lo, lo_len, true, collect_unseen, ch, err);
        bool more = s == FLOE_E_CANCELLED;
        if (s != FLOE_OK && !more) {
            st = s;
            break;
        }
        sqlite3_stmt *up = NULL;
        for (size_t i = 0; st == FLOE_OK && i < ch->n; i++) {
            if ((st = stmt_get(c, S_FILE_REMOVE_ID, &up, err)) != FLOE_OK)
                break;
            sqlite3_bind_int64(up, 1, ch->ids[i]);
            sqlite3_bind_int64(up, 2, now);
            st = step_done(c, up, "marking removed files", err);
        }
        total += ch->n;
        if (st != FLOE_OK || !more)
            break;
        lo = ch->last;
        lo_len = ch->last_len;
    }
    free(ch->last);
    free(ch);
    st = write_end(c, own, st, err);
    if (st == FLOE_OK && count)
        *count = total;
    return st;
}

int floe_catalog_mark_removed(struct floe_catalog *c, const void *path, size_t path_len,
                              struct floe_error *err)
{
    bool own;
    int st = write_begin(c, &own, err);
    if (st != FLOE_OK)
        return st;
    sqlite3_stmt *up = NULL;
    if ((st = stmt_get(c, S_FILE_REMOVE_PATH, &up, err)) == FLOE_OK) {
        sqlite3_bind_blob(up, 1, path, (int)path_len, SQLITE_STATIC);
        sqlite3_bind_int64(up, 2, now_s());
        st = step_done(c, up, "marking a file removed", err);
    }
    if (st == FLOE_OK && sqlite3_changes(c->db) == 0) {
        /* nothing to undo: an input fact, the open transaction stays */
        if (own)
            write_end(c, own, FLOE_OK, err);
        return FLOE_E_NOT_FOUND;
    }
    return write_end(c, own, st, err);
}

/* ---- runs ---- */

int floe_catalog_run_begin(struct floe_catalog *c, uint64_t *run_id, struct floe_error *err)
{
    if (c->run_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: run %" PRIu64 " is open",
                              c->path, c->run_id);
    if (c->in_tx)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "catalog %s: a run cannot begin inside a transaction", c->path);
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RUN_INSERT, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_int64(st, 1, now_s());
    if ((s = step_done(c, st, "starting a run", err)) != FLOE_OK)
        return s;
    uint64_t id = (uint64_t)sqlite3_last_insert_rowid(c->db);
    if ((s = seen_open(c, err)) != FLOE_OK)
        return s;
    c->run_id = id;
    if (run_id)
        *run_id = id;
    return FLOE_OK;
}

int floe_catalog_run_end(struct floe_catalog *c, enum floe_catalog_outcome outcome,
                         const struct floe_catalog_run_counts *counts, struct floe_error *err)
{
    static const struct floe_catalog_run_counts zero = {0};
    if (!c->run_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "catalog %s: no run is open", c->path);
    if (outcome == FLOE_CATALOG_RUNNING || (unsigned)outcome >= FLOE_CATALOG_OUTCOME_COUNT)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "a run cannot end with outcome %d",
                              (int)outcome);
    if (c->in_tx)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "catalog %s: a run cannot end inside a transaction", c->path);
    if (!counts)
        counts = &zero;
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RUN_END, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_int64(st, 1, (int64_t)c->run_id);
    sqlite3_bind_int64(st, 2, now_s());
    sqlite3_bind_text(st, 3, floe_catalog_outcome_names[outcome], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)counts->files_new);
    sqlite3_bind_int64(st, 5, (int64_t)counts->files_changed);
    sqlite3_bind_int64(st, 6, (int64_t)counts->files_removed);
    sqlite3_bind_int64(st, 7, (int64_t)counts->files_skipped);
    sqlite3_bind_int64(st, 8, (int64_t)counts->files_failed);
    sqlite3_bind_int64(st, 9, (int64_t)counts->bytes_uploaded);
    if ((s = step_done(c, st, "ending a run", err)) != FLOE_OK)
        return s;
    c->run_id = 0;
    seen_close(c);
    return FLOE_OK;
}

static enum floe_catalog_outcome outcome_from(const char *s)
{
    for (int i = 0; i < FLOE_CATALOG_OUTCOME_COUNT; i++)
        if (s && strcmp(s, floe_catalog_outcome_names[i]) == 0)
            return (enum floe_catalog_outcome)i;
    return FLOE_CATALOG_FAILED;
}

int floe_catalog_iter_runs(struct floe_catalog *c, floe_catalog_run_fn *fn, void *user,
                           struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RUNS, &st, err), rc = SQLITE_DONE;
    while (s == FLOE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct floe_catalog_run r = {
            .id = (uint64_t)sqlite3_column_int64(st, 0),
            .started_at = sqlite3_column_int64(st, 1),
            .ended_at = sqlite3_column_int64(st, 2),
            .outcome = outcome_from((const char *)sqlite3_column_text(st, 3)),
            .counts = {(uint64_t)sqlite3_column_int64(st, 4), (uint64_t)sqlite3_column_int64(st, 5),
                       (uint64_t)sqlite3_column_int64(st, 6), (uint64_t)sqlite3_column_int64(st, 7),
                       (uint64_t)sqlite3_column_int64(st, 8),
                       (uint64_t)sqlite3_column_int64(st, 9)},
        };
        if (fn(&r, user) != 0)
            s = floe_error_set(err, FLOE_E_CANCELLED, "catalog iteration stopped by its caller");
    }
    if (s == FLOE_OK && rc != SQLITE_DONE)
        s = cat_error(c, rc, "reading runs", err);
    if (st)
        sqlite3_reset(st);
    return s;
}

/* ---- archives ---- */

/* The archives row id of archive_id: FLOE_OK, FLOE_E_NOT_FOUND (message set) or an error. */
static int archive_row(struct floe_catalog *c, const char *archive_id, int64_t *row,
                       struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_ARCHIVE_ID, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_text(st, 1, archive_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *row = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return FLOE_OK;
    if (rc == SQLITE_DONE)
        return floe_error_set(err, FLOE_E_NOT_FOUND, "archive %s is not in catalog %s", archive_id,
                              c->path);
    return cat_error(c, rc, "looking up an archive", err);
}

/* The archive's row, then a write transaction (write_begin; *own as there). */
static int archive_write_begin(struct floe_catalog *c, const char *archive_id, int64_t *row,
                               bool *own, struct floe_error *err)
{
    int s = archive_row(c, archive_id, row, err);
    return s != FLOE_OK ? s : write_begin(c, own, err);
}

int floe_catalog_record_link(struct floe_catalog *c, const char *archive_id,
                             const struct floe_catalog_file *f, struct floe_error *err)
{
    if (!f->path_len || (unsigned)f->compression >= FLOE_CATALOG_COMP_COUNT)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "a hard link's row needs a path and a known compression");
    int64_t row = 0;
    bool own;
    int s = archive_write_begin(c, archive_id, &row, &own, err);
    if (s != FLOE_OK)
        return s;
    s = insert_file(c, row, now_s(), f, err);
    return write_end(c, own, s, err);
}

int floe_catalog_iter_archive_files(struct floe_catalog *c, const char *archive_id,
                                    floe_catalog_file_fn *fn, void *user, struct floe_error *err)
{
    int64_t row = 0;
    int s = archive_row(c, archive_id, &row, err), rc = SQLITE_DONE;
    sqlite3_stmt *st = NULL;
    if (s == FLOE_OK && (s = stmt_get(c, S_ARCHIVE_FILES, &st, err)) == FLOE_OK) {
        sqlite3_bind_int64(st, 1, row);
        while (s == FLOE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct floe_catalog_file f;
            read_file_row(st, &f);
            if (fn(&f, user) != 0)
                s = floe_error_set(err, FLOE_E_CANCELLED,
                                   "catalog iteration stopped by its caller");
        }
        if (s == FLOE_OK && rc != SQLITE_DONE)
            s = cat_error(c, rc, "reading an archive's files", err);
        sqlite3_reset(st);
    }
    return s;
}

int floe_catalog_iter_archives(struct floe_catalog *c, bool with_deleted,
                               floe_catalog_archive_fn *fn, void *user, struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, with_deleted ? S_ARCHIVES_ALL : S_ARCHIVES_LIVE, &st, err);
    int rc = SQLITE_DONE;
    while (s == FLOE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct floe_catalog_archive a;
        read_archive_row(st, &a);
        if (fn(&a, user) != 0)
            s = floe_error_set(err, FLOE_E_CANCELLED, "catalog iteration stopped by its caller");
    }
    if (s == FLOE_OK && rc != SQLITE_DONE)
        s = cat_error(c, rc, "reading archives", err);
    if (st)
        sqlite3_reset(st);
    return s;
}

int floe_catalog_iter_prunable(struct floe_catalog *c, int64_t older_than,
                               floe_catalog_archive_fn *fn, void *user, struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_PRUNABLE, &st, err), rc = SQLITE_DONE;
    if (s == FLOE_OK)
        sqlite3_bind_int64(st, 1, older_than);
    while (s == FLOE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct floe_catalog_archive a;
        read_archive_row(st, &a);
        if (fn(&a, user) != 0)
            s = floe_error_set(err, FLOE_E_CANCELLED, "catalog iteration stopped by its caller");
    }
    if (s == FLOE_OK && rc != SQLITE_DONE)
        s = cat_error(c, rc, "finding prunable archives", err);
    if (st)
        sqlite3_reset(st);
    return s;
}

int floe_catalog_get_archive(struct floe_catalog *c, const char *archive_id,
                             struct floe_catalog_archive *out, struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_ARCHIVE_GET, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_text(st, 1, archive_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_archive_row(st, out);
        free(c->desc);
        c->desc = floe_xstrdup(out->description);
        out->description = c->desc;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return FLOE_OK;
    return rc == SQLITE_DONE ? FLOE_E_NOT_FOUND : cat_error(c, rc, "reading an archive", err);
}

int floe_catalog_archive_deleted(struct floe_catalog *c, const char *archive_id, int64_t deleted_at,
                                 struct floe_error *err)
{
    int64_t row = 0;
    bool own;
    int s = archive_write_begin(c, archive_id, &row, &own, err);
    if (s != FLOE_OK)
        return s;
    int64_t when = deleted_at ? deleted_at : now_s();
    sqlite3_stmt *st = NULL;
    if ((s = stmt_get(c, S_ARCHIVE_DELETE, &st, err)) == FLOE_OK) {
        sqlite3_bind_int64(st, 1, row);
        sqlite3_bind_int64(st, 2, when);
        s = step_done(c, st, "marking an archive deleted", err);
    }
    if (s == FLOE_OK && (s = stmt_get(c, S_ARCHIVE_DELETE_FILES, &st, err)) == FLOE_OK) {
        sqlite3_bind_int64(st, 1, row);
        sqlite3_bind_int64(st, 2, when);
        s = step_done(c, st, "marking a deleted archive's files removed", err);
    }
    return write_end(c, own, s, err);
}

int floe_catalog_stats(struct floe_catalog *c, struct floe_catalog_stats *out,
                       struct floe_error *err)
{
    struct floe_catalog_stats r = {0};
    int64_t v[6] = {0};
    static const char *const q[6] = {
        "SELECT count(*) FROM files f WHERE " CURRENT,
        "SELECT total(size_bytes) FROM files f WHERE " CURRENT,
        "SELECT count(*) FROM files",
        "SELECT count(*) FROM archives WHERE deleted_at IS NULL",
        "SELECT total(size_bytes) FROM archives WHERE deleted_at IS NULL",
        "SELECT count(*) FROM runs",
    };
    for (int i = 0; i < 6; i++) {
        int s = query_int(c, q[i], &v[i], "counting", err);
        if (s != FLOE_OK)
            return s;
    }
    r.files_current = (uint64_t)v[0];
    r.bytes_current = (uint64_t)v[1];
    r.file_versions = (uint64_t)v[2];
    r.archives = (uint64_t)v[3];
    r.archive_bytes = (uint64_t)v[4];
    r.runs = (uint64_t)v[5];
    *out = r;
    return FLOE_OK;
}

/* ---- snapshots ---- */

/* fsync of the directory holding path, so a rename into it is durable. */
static char *path_plus(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *p = floe_xmalloc(n);
    snprintf(p, n, "%s%s", path, suffix);
    return p;
}

/*
 * Streams in_fd through zstd (compress or decompress) into out_fd. Decompression checks that the
 * input ends exactly with a complete frame (its checksum verified by zstd).
 */
static int zstd_pipe(int in_fd, int out_fd, bool compress, const char *in_path,
                     const char *out_path, struct floe_error *err)
{
    size_t in_cap = compress ? ZSTD_CStreamInSize() : ZSTD_DStreamInSize();
    size_t out_cap = compress ? ZSTD_CStreamOutSize() : ZSTD_DStreamOutSize();
    uint8_t *in = floe_xmalloc(in_cap), *outb = floe_xmalloc(out_cap);
    ZSTD_CCtx *cc = compress ? ZSTD_createCCtx() : NULL;
    ZSTD_DCtx *dc = compress ? NULL : ZSTD_createDCtx();
    int st = FLOE_OK;
    size_t last = 0; /* decompression: 0 once a frame is complete */
    bool any = false;
    if (cc) {
        ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 9);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    }
    for (bool eof = false; st == FLOE_OK && !eof;) {
        ssize_t r = read(in_fd, in, in_cap);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            st = floe_error_set_errno(err, FLOE_E_IO, errno, in_path, "cannot read %s", in_path);
            break;
        }
        eof = r == 0;
        any |= r > 0;
        ZSTD_inBuffer ib = {in, (size_t)r, 0};
        /* decompression: an empty call after the frame would start a new one and lose `last` */
        bool more = compress || r > 0;
        while (st == FLOE_OK && more) {
            ZSTD_outBuffer ob = {outb, out_cap, 0};
            size_t z = compress
                           ? ZSTD_compressStream2(cc, &ob, &ib, eof ? ZSTD_e_end : ZSTD_e_continue)
                           : ZSTD_decompressStream(dc, &ob, &ib);
            if (ZSTD_isError(z)) {
                st = floe_error_set(err, compress ? FLOE_E_IO : FLOE_E_CORRUPT, "%s %s: %s",
                                    compress ? "cannot compress" : "snapshot",
                                    compress ? out_path : in_path, ZSTD_getErrorName(z));
                break;
            }
            if (!compress)
                last = z;
            for (size_t off = 0; off < ob.pos;) {
                ssize_t w = write(out_fd, outb + off, ob.pos - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0) {
                    st = floe_error_set_errno(err, FLOE_E_IO, errno, out_path, "cannot write %s",
                                              out_path);
                    break;
                }
                off += (size_t)w;
            }
            more = compress ? (eof ? z != 0 : ib.pos < ib.size)
                            : (ib.pos < ib.size || ob.pos == ob.size);
        }
    }
    if (st == FLOE_OK && !compress && (!any || last != 0))
        st = floe_error_set(err, FLOE_E_CORRUPT,
                            "snapshot %s is truncated (its zstd frame does not end)", in_path);
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
    free(in);
    free(outb);
    return st;
}

int floe_catalog_snapshot(struct floe_catalog *c, const char *out_path, struct floe_error *err)
{
    if (c->in_tx)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "catalog %s: no snapshot inside a transaction", c->path);
    char *raw = path_plus(out_path, ".db.tmp"), *part = path_plus(out_path, ".tmp");
    int in_fd = -1, out_fd = -1, st;
    unlink(raw); /* VACUUM INTO wants a new file */
    sqlite3_stmt *vac = NULL;
    int rc = sqlite3_prepare_v2(c->db, "VACUUM INTO ?1", -1, &vac, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(vac, 1, raw, -1, SQLITE_STATIC);
        rc = sqlite3_step(vac);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(vac);
    if (rc != SQLITE_OK) {
        st = cat_error(c, rc, "writing a snapshot copy", err);
        goto out;
    }
    in_fd = open(raw, O_RDONLY | O_CLOEXEC);
    out_fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in_fd < 0 || out_fd < 0) {
        st = floe_error_set_errno(err, FLOE_E_IO, errno, in_fd < 0 ? raw : part, "cannot open %s",
                                  in_fd < 0 ? raw : part);
        goto out;
    }
    if ((st = zstd_pipe(in_fd, out_fd, true, raw, part, err)) != FLOE_OK)
        goto out;
    if (fsync(out_fd) != 0 || close(out_fd) != 0) {
        out_fd = -1;
        st = floe_error_set_errno(err, FLOE_E_IO, errno, part, "cannot write %s", part);
        goto out;
    }
    out_fd = -1;
    if (rename(part, out_path) != 0) {
        st = floe_error_set_errno(err, FLOE_E_IO, errno, out_path, "cannot rename %s to %s", part,
                                  out_path);
        goto out;
    }
    (void)floe_dir_sync_parent(out_path, NULL);
out:
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    unlink(raw);
    if (st != FLOE_OK)
        unlink(part);
    free(raw);
    free(part);
    return st;
}

int floe_catalog_snapshot_unpack(const char *snapshot_path, const char *db_path,
                                 struct floe_error *err)
{
    if (access(db_path, F_OK) == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "%s exists already; a snapshot is unpacked into a new file", db_path);
    char *part = path_plus(db_path, ".tmp");
    int st = FLOE_OK;
    int in_fd = open(snapshot_path, O_RDONLY | O_CLOEXEC);
    int out_fd = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in_fd < 0 || out_fd < 0) {
        st = floe_error_set_errno(err, FLOE_E_IO, errno, in_fd < 0 ? snapshot_path : part,
                                  "cannot open %s", in_fd < 0 ? snapshot_path : part);
        goto out;
    }
    if ((st = zstd_pipe(in_fd, out_fd, false, snapshot_path, part, err)) != FLOE_OK)
        goto out;
    static const char magic[16] = "SQLite format 3";
    char head[16];
    if (pread(out_fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
        memcmp(head, magic, sizeof(head)) != 0) {
        st = floe_error_set(err, FLOE_E_CORRUPT, "snapshot %s does not hold a database",
                            snapshot_path);
        goto out;
    }
    if (fsync(out_fd) != 0) {
        st = floe_error_set_errno(err, FLOE_E_IO, errno, part, "cannot write %s", part);
        goto out;
    }
    /* link, not rename: a file that appeared at db_path meanwhile is not replaced */
    if (link(part, db_path) != 0) {
        st = floe_error_set_errno(err, FLOE_E_IO, errno, db_path, "cannot create %s", db_path);
        goto out;
    }
    (void)floe_dir_sync_parent(db_path, NULL);
out:
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    unlink(part);
    free(part);
    return st;
}

/* ---- restore plan and progress ---- */

int floe_catalog_restore_begin(struct floe_catalog *c, const char *target, uint64_t *restore_id,
                               struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RESTORE_INSERT, &st, err);
    if (s != FLOE_OK)
        return s;
    bool own;
    if ((s = write_begin(c, &own, err)) != FLOE_OK)
        return s;
    sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_s());
    s = step_done(c, st, "starting a restore", err);
    int64_t id = sqlite3_last_insert_rowid(c->db);
    s = write_end(c, own, s, err);
    if (s == FLOE_OK)
        *restore_id = (uint64_t)id;
    return s;
}

int floe_catalog_restore_find(struct floe_catalog *c, const char *target, uint64_t *restore_id,
                              struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RESTORE_FIND, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *restore_id = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return FLOE_OK;
    return rc == SQLITE_DONE ? FLOE_E_NOT_FOUND : cat_error(c, rc, "finding a restore", err);
}

/* Runs one prepared write (bound by the caller) as its own transaction or in the open one. */
static int write_one(struct floe_catalog *c, sqlite3_stmt *st, const char *what,
                     struct floe_error *err)
{
    bool own;
    int s = write_begin(c, &own, err);
    if (s != FLOE_OK) {
        sqlite3_reset(st);
        return s;
    }
    return write_end(c, own, step_done(c, st, what, err), err);
}

int floe_catalog_restore_end(struct floe_catalog *c, uint64_t restore_id, bool done,
                             struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RESTORE_END, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_int64(st, 1, (int64_t)restore_id);
    sqlite3_bind_int64(st, 2, now_s());
    sqlite3_bind_text(st, 3, done ? "done" : "abandoned", -1, SQLITE_STATIC);
    return write_one(c, st, "ending a restore", err);
}

int floe_catalog_restore_add_job(struct floe_catalog *c, uint64_t restore_id,
                                 const char *archive_id, uint64_t offset_bytes,
                                 uint64_t length_bytes, const char *tier, int64_t *job,
                                 struct floe_error *err)
{
    if (offset_bytes > INT64_MAX || length_bytes > INT64_MAX || !tier)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "restore job: range or tier out of range");
    int64_t arch;
    int s = archive_row(c, archive_id, &arch, err);
    if (s != FLOE_OK)
        return s;
    bool own;
    if ((s = write_begin(c, &own, err)) != FLOE_OK)
        return s;
    sqlite3_stmt *st = NULL;
    if ((s = stmt_get(c, S_JOB_INSERT, &st, err)) == FLOE_OK) {
        sqlite3_bind_int64(st, 1, (int64_t)restore_id);
        sqlite3_bind_int64(st, 2, arch);
        sqlite3_bind_int64(st, 3, (int64_t)offset_bytes);
        sqlite3_bind_int64(st, 4, (int64_t)length_bytes);
        sqlite3_bind_text(st, 5, tier, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, now_s());
        s = step_done(c, st, "planning a retrieval job", err);
    }
    int64_t id = 0;
    if (s == FLOE_OK && (s = stmt_get(c, S_JOB_FIND_PLAN, &st, err)) == FLOE_OK) {
        sqlite3_bind_int64(st, 1, (int64_t)restore_id);
        sqlite3_bind_int64(st, 2, arch);
        sqlite3_bind_int64(st, 3, (int64_t)offset_bytes);
        sqlite3_bind_int64(st, 4, (int64_t)length_bytes);
        int rc = sqlite3_step(st);
        id = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW)
            s = cat_error(c, rc == SQLITE_DONE ? SQLITE_CONSTRAINT : rc,
                          "planning a retrieval job (is the restore id valid?)", err);
    }
    s = write_end(c, own, s, err);
    if (s == FLOE_OK)
        *job = id;
    return s;
}

int floe_catalog_restore_set_job(struct floe_catalog *c, int64_t job, const char *job_id,
                                 enum floe_catalog_job_status status, struct floe_error *err)
{
    if ((unsigned)status >= FLOE_CATALOG_JOB_STATUS_COUNT ||
        (job_id && strlen(job_id) >= FLOE_CATALOG_ID_MAX))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "restore job %" PRId64 ": status or job id out of range", job);
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, job_id ? S_JOB_SET : S_JOB_SET_STATUS, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_int64(st, 1, job);
    if (job_id) {
        sqlite3_bind_text(st, 2, job_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, floe_catalog_job_status_names[status], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_s());
    } else {
        sqlite3_bind_text(st, 2, floe_catalog_job_status_names[status], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now_s());
    }
    return write_one(c, st, "recording a retrieval job", err);
}

int floe_catalog_restore_add_file(struct floe_catalog *c, uint64_t restore_id, int64_t file_id,
                                  int64_t job, const void *dest_path, size_t dest_path_len,
                                  struct floe_error *err)
{
    if (!dest_path || !dest_path_len || dest_path_len > INT32_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "restore of file %" PRId64 ": empty destination path", file_id);
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RFILE_INSERT, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_int64(st, 1, (int64_t)restore_id);
    sqlite3_bind_int64(st, 2, file_id);
    sqlite3_bind_int64(st, 3, job);
    sqlite3_bind_blob(st, 4, dest_path, (int)dest_path_len, SQLITE_STATIC);
    return write_one(c, st, "planning a file restore", err);
}

int floe_catalog_restore_set_file(struct floe_catalog *c, uint64_t restore_id, int64_t file_id,
                                  enum floe_catalog_restore_file_status status,
                                  struct floe_error *err)
{
    if ((unsigned)status >= FLOE_CATALOG_RFILE_STATUS_COUNT)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "restore file status %d out of range",
                              (int)status);
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_RFILE_SET, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_int64(st, 1, (int64_t)restore_id);
    sqlite3_bind_int64(st, 2, file_id);
    sqlite3_bind_text(st, 3, floe_catalog_rfile_status_names[status], -1, SQLITE_STATIC);
    return write_one(c, st, "recording a file restore", err);
}

static int status_from(const char *s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (s && strcmp(s, names[i]) == 0)
            return i;
    return count - 1; /* the last status of each table is "failed" */
}

int floe_catalog_restore_iter_jobs(struct floe_catalog *c, uint64_t restore_id,
                                   floe_catalog_job_fn *fn, void *user, struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_JOBS_OF, &st, err), rc = SQLITE_DONE;
    if (s == FLOE_OK)
        sqlite3_bind_int64(st, 1, (int64_t)restore_id);
    while (s == FLOE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct floe_catalog_job j = {
            .id = sqlite3_column_int64(st, 0),
            .restore_id = (uint64_t)sqlite3_column_int64(st, 1),
            .archive_id = (const char *)sqlite3_column_text(st, 2),
            .offset_bytes = (uint64_t)sqlite3_column_int64(st, 3),
            .length_bytes = (uint64_t)sqlite3_column_int64(st, 4),
            .tier = (const char *)sqlite3_column_text(st, 5),
            .job_id = (const char *)sqlite3_column_text(st, 6),
            .status = (enum floe_catalog_job_status)status_from(
                (const char *)sqlite3_column_text(st, 7), floe_catalog_job_status_names,
                FLOE_CATALOG_JOB_STATUS_COUNT),
            .updated_at = sqlite3_column_int64(st, 8),
        };
        if (fn(&j, user) != 0)
            s = floe_error_set(err, FLOE_E_CANCELLED, "catalog iteration stopped by its caller");
    }
    if (s == FLOE_OK && rc != SQLITE_DONE)
        s = cat_error(c, rc, "reading retrieval jobs", err);
    if (st)
        sqlite3_reset(st);
    return s;
}

int floe_catalog_restore_iter_files(struct floe_catalog *c, uint64_t restore_id, int64_t job,
                                    bool pending_only, floe_catalog_restore_file_fn *fn, void *user,
                                    struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, job ? S_RFILES_JOB : S_RFILES_ALL, &st, err), rc = SQLITE_DONE;
    if (s == FLOE_OK) {
        sqlite3_bind_int64(st, 1, (int64_t)restore_id);
        sqlite3_bind_int(st, 2, pending_only ? 1 : 0);
        if (job)
            sqlite3_bind_int64(st, 3, job);
    }
    while (s == FLOE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct floe_catalog_restore_file f = {
            .restore_id = (uint64_t)sqlite3_column_int64(st, 0),
            .file_id = sqlite3_column_int64(st, 1),
            .job = sqlite3_column_int64(st, 2),
            .dest_path = sqlite3_column_blob(st, 3),
            .dest_path_len = (size_t)sqlite3_column_bytes(st, 3),
            .status = (enum floe_catalog_restore_file_status)status_from(
                (const char *)sqlite3_column_text(st, 4), floe_catalog_rfile_status_names,
                FLOE_CATALOG_RFILE_STATUS_COUNT),
        };
        if (fn(&f, user) != 0)
            s = floe_error_set(err, FLOE_E_CANCELLED, "catalog iteration stopped by its caller");
    }
    if (s == FLOE_OK && rc != SQLITE_DONE)
        s = cat_error(c, rc, "reading planned files", err);
    if (st)
        sqlite3_reset(st);
    return s;
}

int floe_catalog_find_job(struct floe_catalog *c, const char *archive_id, uint64_t offset_bytes,
                          uint64_t length_bytes, int64_t not_before,
                          char job_id[FLOE_CATALOG_ID_MAX], struct floe_error *err)
{
    sqlite3_stmt *st = NULL;
    int s = stmt_get(c, S_JOB_REUSE, &st, err);
    if (s != FLOE_OK)
        return s;
    sqlite3_bind_text(st, 1, archive_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)offset_bytes);
    sqlite3_bind_int64(st, 3, (int64_t)length_bytes);
    sqlite3_bind_int64(st, 4, not_before);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        snprintf(job_id, FLOE_CATALOG_ID_MAX, "%s", id ? id : "");
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return FLOE_OK;
    return rc == SQLITE_DONE ? FLOE_E_NOT_FOUND : cat_error(c, rc, "finding a retrieval job", err);
}
