/*
 * mcat.c - see mcat.h. Statements are prepared per call (the catalog sees a few statements per
 * archive, not per byte); every failure maps to a floe status naming the catalog.
 */
#include "mcat.h"

#include "alloc.h"
#include "mcat_pg.h"

#include <sqlite3.h>

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct floe_mcat {
    struct floe_mcatpg *pg; /* the PostgreSQL backend, else SQLite */
    sqlite3 *db;
    sqlite3_stmt *insert; /* floe_mcat_insert's, prepared once (a plan inserts every archive) */
    int lock_fd;
    char path[4096];
};

/* SQLite's page cache for a catalog: a plan inserts every archive into four indexes in one
 * transaction, and with the default 2 MiB cache the index pages of a large vault were read
 * back from the OS and spilled to the WAL again and again. Bounded, whatever the vault's size. */
#define MCAT_CACHE_KIB 65536
#define FLOE_STR2(x) #x
#define FLOE_STR(x) FLOE_STR2(x)

static const char *const s_state_names[FLOE_MIGRATE_STATE_COUNT] = {
    "planned", "requested", "staged", "copying", "verified", "done", "failed"};
_Static_assert(sizeof(s_state_names) / sizeof(s_state_names[0]) == FLOE_MIGRATE_STATE_COUNT,
               "a name per state");

/* s_legal[from][to] (docs/migrate.md, "States"). */
static const bool s_legal[FLOE_MIGRATE_STATE_COUNT][FLOE_MIGRATE_STATE_COUNT] = {
    /* planned   */ {false, true, true, false, true, false, true},
    /* requested */ {true, false, true, false, false, false, true},
    /* staged    */ {true, false, false, true, false, false, true},
    /* copying   */ {true, false, true, false, true, false, true},
    /* verified  */ {false, false, false, false, false, true, true},
    /* done      */ {false, false, false, false, false, false, false},
    /* failed    */ {true, false, false, false, false, false, false},
};

const char *floe_migrate_state_name(enum floe_migrate_state s)
{
    return (unsigned)s < FLOE_MIGRATE_STATE_COUNT ? s_state_names[s] : "unknown";
}

static int fail(struct floe_mcat *c, int rc, const char *what, struct floe_error *err)
{
    const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "migration catalog %s is not a database or is damaged (%s while "
                              "%s); it was not changed: move it away to plan again",
                              c->path, msg, what);
    case SQLITE_FULL:
        return floe_error_set_errno(err, FLOE_E_IO, ENOSPC, c->path,
                                    "migration catalog %s: disk full while %s", c->path, what);
    default:
        return floe_error_set(err, FLOE_E_IO, "migration catalog %s: %s while %s", c->path, msg,
                              what);
    }
}

static int exec(struct floe_mcat *c, const char *sql, const char *what, struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_exec(c->pg, sql, what, err);
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? FLOE_OK : fail(c, rc, what, err);
}

/* arch's indexes but the archive id's: dropped while a plan loads (sorted once at its end
 * instead of growing one random insert at a time, which made a 1,000,000-archive plan spend
 * most of its time reading and spilling index pages). */
#define PLAN_INDEXES                                                                               \
    "CREATE INDEX IF NOT EXISTS arch_state ON arch(state, ord);"                                   \
    "CREATE INDEX IF NOT EXISTS arch_base ON arch(base);"                                          \
    "CREATE INDEX IF NOT EXISTS arch_name ON arch(name);"                                          \
    "CREATE INDEX IF NOT EXISTS arch_job ON arch(job_id);"

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);"
    "CREATE TABLE IF NOT EXISTS arch(ord INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL,"
    " base TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, tree TEXT NOT NULL,"
    " created TEXT NOT NULL, description BLOB, state INTEGER NOT NULL, job_id TEXT NOT NULL"
    " DEFAULT '', job_done INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL DEFAULT '', updated INTEGER,"
    " upload_id TEXT NOT NULL DEFAULT '', mine INTEGER NOT NULL DEFAULT 1);" PLAN_INDEXES
    "CREATE TABLE IF NOT EXISTS names(id TEXT PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS daily(day TEXT, tier TEXT, bytes INTEGER, jobs INTEGER,"
    " PRIMARY KEY(day, tier));"
    "CREATE TABLE IF NOT EXISTS runs(started INTEGER PRIMARY KEY, seconds REAL, bytes INTEGER);"
    "INSERT OR IGNORE INTO meta VALUES('schema', '1');";

/* flock on "<path>.lock"; the pid of the holder is in the file. */
static int lock(struct floe_mcat *c, struct floe_error *err)
{
    char lp[4200];
    snprintf(lp, sizeof(lp), "%s.lock", c->path);
    c->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (c->lock_fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, lp, "cannot open %s", lp);
    if (flock(c->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[24] = {0};
        ssize_t n = pread(c->lock_fd, buf, sizeof(buf) - 1, 0);
        buf[strcspn(buf, "\n")] = '\0';
        return floe_error_set(err, FLOE_E_IO,
                              "migration catalog %s is in use by another floe migrate (pid %s)",
                              c->path, n > 0 ? buf : "unknown");
    }
    char pid[24];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(c->lock_fd, 0) != 0 || pwrite(c->lock_fd, pid, (size_t)n, 0) != n) {
        /* the lock holds; only another run's message would lack the pid */
    }
    return FLOE_OK;
}

/* mkdir -p of path's directory. */
static int make_parent(const char *path, struct floe_error *err)
{
    char d[4096];
    snprintf(d, sizeof(d), "%s", path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(d, 0700) != 0 && errno != EEXIST)
            return floe_error_set_errno(err, FLOE_E_IO, errno, d, "cannot create directory %s", d);
        *p = '/';
    }
    return FLOE_OK;
}

bool floe_mcat_is_url(const char *catalog)
{
    return catalog &&
           (strncmp(catalog, "postgresql://", 13) == 0 || strncmp(catalog, "postgres://", 11) == 0);
}

int floe_mcat_open(const char *path, const char *local, unsigned lease_s, bool create,
                   bool readonly, struct floe_mcat **out, struct floe_error *err)
{
    struct floe_mcat *c = floe_xcalloc(1, sizeof(*c));
    c->lock_fd = -1;
    snprintf(c->path, sizeof(c->path), "%s", path);
    int rc = FLOE_OK;
    if (floe_mcat_is_url(path)) {
        if (local && !readonly && (rc = make_parent(local, err))) /* manifest, inventory */
            goto out;
        rc = floe_mcatpg_open(path, lease_s, create, readonly, &c->pg, err);
        if (!rc)
            snprintf(c->path, sizeof(c->path), "%s", local ? local : floe_mcatpg_name(c->pg));
        goto out;
    }
    if (access(path, F_OK) != 0 && !create) {
        rc = floe_error_set(err, FLOE_E_NOT_FOUND,
                            "no migration catalog at %s: nothing was planned there yet", path);
        goto out;
    }
    if (!readonly && ((rc = make_parent(path, err)) || (rc = lock(c, err))))
        goto out;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int src = sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = fail(c, src, "opening it", err);
        goto out;
    }
    sqlite3_busy_timeout(c->db, 10000);
    if (!readonly && ((rc = exec(c,
                                 "PRAGMA journal_mode=WAL;"
                                 " PRAGMA cache_size=-" FLOE_STR(MCAT_CACHE_KIB),
                                 "setting WAL", err)) ||
                      (rc = exec(c, "PRAGMA synchronous=FULL", "setting synchronous", err)) ||
                      (rc = exec(c, s_schema, "creating its tables", err))))
        goto out;
    if (readonly && (rc = exec(c, "SELECT count(*) FROM arch", "reading it", err)))
        goto out;
out:
    if (rc) {
        floe_mcat_close(c);
        return rc;
    }
    *out = c;
    return FLOE_OK;
}

void floe_mcat_close(struct floe_mcat *c)
{
    if (!c)
        return;
    floe_mcatpg_close(c->pg);
    sqlite3_finalize(c->insert);
    sqlite3_close(c->db);
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    free(c);
}

int floe_mcat_begin(struct floe_mcat *c, struct floe_error *err)
{
    return exec(c, c->pg ? "BEGIN" : "BEGIN IMMEDIATE", "starting a transaction", err);
}

int floe_mcat_commit(struct floe_mcat *c, struct floe_error *err)
{
    return exec(c, "COMMIT", "committing", err);
}

void floe_mcat_rollback(struct floe_mcat *c)
{
    if (c->pg) {
        floe_mcatpg_exec(c->pg, "ROLLBACK", "rolling back", NULL);
        return;
    }
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int floe_mcat_clear_plan(struct floe_mcat *c, struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_clear_plan(c->pg, err);
    return exec(c,
                "DELETE FROM arch; DELETE FROM names; DROP INDEX IF EXISTS arch_state;"
                " DROP INDEX IF EXISTS arch_base; DROP INDEX IF EXISTS arch_name;"
                " DROP INDEX IF EXISTS arch_job",
                "clearing an unfinished plan", err);
}

int floe_mcat_plan_loaded(struct floe_mcat *c, struct floe_error *err)
{
    return c->pg ? floe_mcatpg_plan_loaded(c->pg, err)
                 : exec(c, PLAN_INDEXES, "indexing the plan", err);
}

/* Prepares sql; NULL on failure (the caller's step reports the database's error). */
static sqlite3_stmt *prep(struct floe_mcat *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
}

/* Runs a statement that returns no rows; finalises it. */
static int step_done(struct floe_mcat *c, sqlite3_stmt *st, const char *what,
                     struct floe_error *err)
{
    if (!st)
        return fail(c, sqlite3_errcode(c->db), what, err);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FLOE_OK : fail(c, rc, what, err);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* The text a one-column query with one text argument finds; false (out "") when none. */
static bool lookup(struct floe_mcat *c, const char *sql, const char *arg, char *out, size_t cap)
{
    sqlite3_stmt *st = prep(c, sql);
    bool found = false;
    out[0] = '\0';
    if (st) {
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            col_text(st, 0, out, cap);
            found = true;
        }
        sqlite3_finalize(st);
    }
    return found;
}

bool floe_mcat_meta_get(struct floe_mcat *c, const char *key, char *out, size_t cap)
{
    if (c->pg)
        return floe_mcatpg_meta_get(c->pg, key, out, cap);
    return lookup(c, "SELECT v FROM meta WHERE k=?", key, out, cap);
}

int floe_mcat_meta_set(struct floe_mcat *c, const char *key, const char *value,
                       struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_meta_set(c->pg, key, value, err);
    sqlite3_stmt *st = prep(c, "INSERT OR REPLACE INTO meta VALUES(?, ?)");
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    }
    return step_done(c, st, "recording its settings", err);
}

int floe_mcat_name_put(struct floe_mcat *c, const char *id, const char *name,
                       struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_name_put(c->pg, id, name, err);
    sqlite3_stmt *st = prep(c, "INSERT OR REPLACE INTO names VALUES(?, ?)");
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    }
    return step_done(c, st, "recording the --names file", err);
}

bool floe_mcat_get_upload(struct floe_mcat *c, int64_t ord, char *out, size_t cap)
{
    if (c->pg)
        return floe_mcatpg_get_upload(c->pg, ord, out, cap);
    char key[24];
    snprintf(key, sizeof(key), "%" PRId64, ord);
    return lookup(c, "SELECT upload_id FROM arch WHERE ord=?", key, out, cap);
}

int floe_mcat_set_upload(struct floe_mcat *c, int64_t ord, const char *upload_id,
                         struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_set_upload(c->pg, ord, upload_id, err);
    sqlite3_stmt *st = prep(c, "UPDATE arch SET upload_id=? WHERE ord=?");
    if (st) {
        sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ord);
    }
    return step_done(c, st, "recording an S3 upload id", err);
}

bool floe_mcat_description(struct floe_mcat *c, int64_t ord, char *out, size_t cap)
{
    if (c->pg)
        return floe_mcatpg_description(c->pg, ord, out, cap);
    char key[24];
    snprintf(key, sizeof(key), "%" PRId64, ord);
    return lookup(c, "SELECT CAST(description AS TEXT) FROM arch WHERE ord=?", key, out, cap);
}

bool floe_mcat_name_get(struct floe_mcat *c, const char *id, char out[FLOE_MNAME_CAP])
{
    if (c->pg)
        return floe_mcatpg_name_get(c->pg, id, out);
    return lookup(c, "SELECT name FROM names WHERE id=?", id, out, FLOE_MNAME_CAP);
}

int floe_mcat_insert(struct floe_mcat *c, const struct floe_mcat_row *r, const char *description,
                     bool mine, struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_insert(c->pg, r, description, mine, err);
    if (!c->insert)
        c->insert =
            prep(c, "INSERT INTO arch(ord, id, base, name, size, tree, created, description,"
                    " state, updated, mine) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)");
    sqlite3_stmt *st = c->insert;
    if (!st)
        return fail(c, sqlite3_errcode(c->db), "recording the plan", err);
    sqlite3_bind_int64(st, 1, r->ord);
    sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)r->size);
    sqlite3_bind_text(st, 6, r->tree, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->created, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, description, (int)strlen(description), SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)time(NULL));
    sqlite3_bind_int(st, 10, mine);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? FLOE_OK : fail(c, rc, "recording the plan", err);
}

int floe_mcat_drop_others(struct floe_mcat *c, uint64_t *archives, uint64_t *bytes,
                          struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_drop_others(c->pg, archives, bytes, err);
    *archives = *bytes = 0;
    sqlite3_stmt *st = prep(c, "SELECT count(*), total(size) FROM arch WHERE mine=0");
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        *archives = (uint64_t)sqlite3_column_int64(st, 0);
        *bytes = (uint64_t)sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return exec(c, "DELETE FROM arch WHERE mine=0", "keeping this shard's archives", err);
}

/* Renames the rows a query selects (ord, name, created, id) with a suffix chosen by by_date. */
static int rename_dups(struct floe_mcat *c, const char *sql, bool by_date, uint64_t *renamed,
                       struct floe_error *err)
{
    sqlite3_stmt *st = prep(c, sql);
    if (!st)
        return fail(c, sqlite3_errcode(c->db), "finding duplicate names", err);
    int rc = FLOE_OK, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        char name[FLOE_MNAME_CAP], suffix[FLOE_JOB_ID_MAX], out[FLOE_MNAME_CAP];
        col_text(st, 1, name, sizeof(name));
        if (by_date) {
            char created[40];
            col_text(st, 2, created, sizeof(created));
            floe_mname_date_suffix(created, suffix);
        } else {
            col_text(st, 3, suffix, 17); /* 16 characters of a random id: 96 bits */
        }
        if (!suffix[0])
            continue;
        floe_mname_with_suffix(name, suffix, out);
        sqlite3_stmt *up = prep(c, "UPDATE arch SET name=? WHERE ord=?");
        if (up) {
            sqlite3_bind_text(up, 1, out, -1, SQLITE_STATIC);
            sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 0));
        }
        if ((rc = step_done(c, up, "renaming a duplicate", err)))
            break;
        (*renamed)++;
    }
    sqlite3_finalize(st);
    if (!rc && s != SQLITE_DONE && s != SQLITE_ROW)
        rc = fail(c, s, "finding duplicate names", err);
    return rc;
}

int floe_mcat_dedup(struct floe_mcat *c, uint64_t *renamed, struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_dedup(c->pg, renamed, err);
    *renamed = 0;
    int rc = rename_dups(c,
                         "SELECT ord, name, created, id FROM arch WHERE base IN (SELECT base FROM"
                         " arch GROUP BY base HAVING count(*) > 1) ORDER BY ord",
                         true, renamed, err);
    uint64_t again = 0;
    if (!rc)
        rc = rename_dups(c,
                         "SELECT ord, name, created, id FROM arch WHERE name IN (SELECT name FROM"
                         " arch GROUP BY name HAVING count(*) > 1) ORDER BY ord",
                         false, &again, err);
    (void)again; /* a name needing both suffixes is counted once, by the first pass */
    sqlite3_stmt *st = rc ? NULL
                          : prep(c, "SELECT name FROM arch GROUP BY name HAVING count(*) > 1"
                                    " LIMIT 1");
    if (st && sqlite3_step(st) == SQLITE_ROW)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "several archives are named '%s' even with their dates and ids; "
                            "name them apart with --names",
                            (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc;
}

int floe_mcat_set(struct floe_mcat *c, struct floe_mcat_row *r, enum floe_migrate_state to,
                  struct floe_error *err)
{
    if (!s_legal[r->state][to]) {
        fprintf(stderr, "floe: migrate: illegal state change %s -> %s of archive %s\n",
                floe_migrate_state_name(r->state), floe_migrate_state_name(to), r->id);
        abort();
    }
    if (c->pg) {
        int rc = floe_mcatpg_set(c->pg, r, to, err);
        if (!rc)
            r->state = to;
        return rc;
    }
    sqlite3_stmt *st = prep(c, "UPDATE arch SET state=?, job_id=?, job_done=?, attempts=?,"
                               " reason=?, sha256=?, updated=? WHERE ord=?");
    if (st) {
        sqlite3_bind_int(st, 1, (int)to);
        sqlite3_bind_text(st, 2, r->job_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->job_done);
        sqlite3_bind_int(st, 4, r->attempts);
        sqlite3_bind_text(st, 5, r->reason, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, r->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
        sqlite3_bind_int64(st, 8, r->ord);
    }
    int rc = step_done(c, st, "recording an archive's state", err);
    if (!rc)
        r->state = to;
    return rc;
}

#define ROW_COLS                                                                                   \
    "ord, id, name, created, size, tree, state, job_id, job_done, attempts, reason, sha256"

static void read_row(sqlite3_stmt *st, struct floe_mcat_row *r)
{
    r->ord = sqlite3_column_int64(st, 0);
    col_text(st, 1, r->id, sizeof(r->id));
    col_text(st, 2, r->name, sizeof(r->name));
    col_text(st, 3, r->created, sizeof(r->created));
    r->size = (uint64_t)sqlite3_column_int64(st, 4);
    col_text(st, 5, r->tree, sizeof(r->tree));
    r->state = (enum floe_migrate_state)sqlite3_column_int(st, 6);
    if ((unsigned)r->state >= FLOE_MIGRATE_STATE_COUNT)
        r->state = FLOE_MIGRATE_FAILED;
    col_text(st, 7, r->job_id, sizeof(r->job_id));
    r->job_done = sqlite3_column_int64(st, 8);
    r->attempts = sqlite3_column_int(st, 9);
    col_text(st, 10, r->reason, sizeof(r->reason));
    col_text(st, 11, r->sha256, sizeof(r->sha256));
}

/* One row of a query with its arguments: text s then int64 i when s is given, else int64 i
 * and j (a statement with fewer parameters ignores the others). */
static bool one_row(struct floe_mcat *c, const char *sql, const char *s, int64_t i, int64_t j,
                    struct floe_mcat_row *out)
{
    sqlite3_stmt *st = prep(c, sql);
    bool found = false;
    if (!st)
        return false;
    if (s) {
        sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, i); /* when the statement has a second parameter */
    } else {
        sqlite3_bind_int64(st, 1, i);
        sqlite3_bind_int64(st, 2, j);
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        read_row(st, out);
        found = true;
    }
    sqlite3_finalize(st);
    return found;
}

bool floe_mcat_next(struct floe_mcat *c, enum floe_migrate_state s, int64_t after,
                    struct floe_mcat_row *out)
{
    if (c->pg)
        return floe_mcatpg_next(c->pg, s, after, out);
    return one_row(c, "SELECT " ROW_COLS " FROM arch WHERE state=? AND ord>? ORDER BY ord LIMIT 1",
                   NULL, (int64_t)s, after, out);
}

bool floe_mcat_by_id(struct floe_mcat *c, const char *archive_id, enum floe_migrate_state s,
                     struct floe_mcat_row *out)
{
    if (c->pg)
        return floe_mcatpg_by(c->pg, "id", archive_id, s, out);
    return one_row(c, "SELECT " ROW_COLS " FROM arch WHERE id=? AND state=?", archive_id, s, 0,
                   out);
}

bool floe_mcat_by_job(struct floe_mcat *c, const char *job_id, enum floe_migrate_state s,
                      struct floe_mcat_row *out)
{
    if (c->pg)
        return job_id[0] && floe_mcatpg_by(c->pg, "job_id", job_id, s, out);
    return job_id[0] &&
           one_row(c,
                   "SELECT " ROW_COLS " FROM arch WHERE job_id=? AND state=? ORDER BY ord LIMIT 1",
                   job_id, s, 0, out);
}

bool floe_mcat_has_job(struct floe_mcat *c, const char *job_id)
{
    if (c->pg)
        return job_id[0] && floe_mcatpg_has_job(c->pg, job_id);
    struct floe_mcat_row r;
    return job_id[0] &&
           one_row(c, "SELECT " ROW_COLS " FROM arch WHERE job_id=? LIMIT 1", job_id, 0, 0, &r);
}

const char *floe_mcat_path(const struct floe_mcat *c)
{
    return c->path;
}

uint64_t floe_mcat_count_over(struct floe_mcat *c, uint64_t limit)
{
    if (c->pg)
        return floe_mcatpg_count_over(c->pg, limit);
    sqlite3_stmt *st = prep(c, "SELECT count(*) FROM arch WHERE size > ?");
    uint64_t n = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

uint64_t floe_mcat_s3_requests(struct floe_mcat *c, uint64_t chunk)
{
    if (c->pg)
        return floe_mcatpg_s3_requests(c->pg, chunk);
    sqlite3_stmt *st = prep(c, "SELECT total(CASE WHEN size <= ?1 THEN 1 ELSE"
                               " (size + ?1 - 1) / ?1 + 2 END) FROM arch");
    uint64_t n = 0;
    if (st) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)chunk);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (uint64_t)sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

void floe_mcat_counts(struct floe_mcat *c, uint64_t archives[FLOE_MIGRATE_STATE_COUNT],
                      uint64_t bytes[FLOE_MIGRATE_STATE_COUNT])
{
    if (c->pg) {
        floe_mcatpg_counts(c->pg, archives, bytes);
        return;
    }
    memset(archives, 0, sizeof(uint64_t) * FLOE_MIGRATE_STATE_COUNT);
    memset(bytes, 0, sizeof(uint64_t) * FLOE_MIGRATE_STATE_COUNT);
    sqlite3_stmt *st = prep(c, "SELECT state, count(*), total(size) FROM arch GROUP BY state");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int s = sqlite3_column_int(st, 0);
        if (s < 0 || s >= FLOE_MIGRATE_STATE_COUNT)
            s = FLOE_MIGRATE_FAILED;
        archives[s] += (uint64_t)sqlite3_column_int64(st, 1);
        bytes[s] += (uint64_t)sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
}

int floe_mcat_each(struct floe_mcat *c, unsigned states_mask, bool by_name,
                   int (*fn)(const struct floe_mcat_row *r, void *user), void *user,
                   struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_each(c->pg, states_mask, by_name, fn, user, err);
    sqlite3_stmt *st = prep(c, by_name ? "SELECT " ROW_COLS " FROM arch ORDER BY name"
                                       : "SELECT " ROW_COLS " FROM arch ORDER BY ord");
    if (!st)
        return fail(c, sqlite3_errcode(c->db), "listing archives", err);
    struct floe_mcat_row *r = floe_xmalloc(sizeof(*r));
    int rc = FLOE_OK, s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        read_row(st, r);
        if (states_mask && !(states_mask & (1u << r->state)))
            continue;
        if (fn(r, user)) {
            rc = FLOE_E_CANCELLED;
            break;
        }
    }
    if (!rc && s != SQLITE_DONE)
        rc = fail(c, s, "listing archives", err);
    sqlite3_finalize(st);
    free(r);
    return rc;
}

static void today(char out[16])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

uint64_t floe_mcat_today_bytes(struct floe_mcat *c)
{
    if (c->pg)
        return floe_mcatpg_today_bytes(c->pg);
    char day[16];
    today(day);
    sqlite3_stmt *st = prep(c, "SELECT total(bytes) FROM daily WHERE day=?");
    uint64_t n = 0;
    if (st) {
        sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (uint64_t)sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

int floe_mcat_add_job(struct floe_mcat *c, const char *tier, uint64_t bytes, struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_add_job(c->pg, tier, bytes, err);
    char day[16];
    today(day);
    sqlite3_stmt *st = prep(c, "INSERT INTO daily VALUES(?, ?, ?, 1) ON CONFLICT(day, tier)"
                               " DO UPDATE SET bytes=bytes+excluded.bytes, jobs=jobs+1");
    if (st) {
        sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, tier, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)bytes);
    }
    return step_done(c, st, "recording a retrieval job", err);
}

void floe_mcat_jobs_total(struct floe_mcat *c, const char *tier, uint64_t *jobs, uint64_t *bytes)
{
    if (c->pg) {
        floe_mcatpg_jobs_total(c->pg, tier, jobs, bytes);
        return;
    }
    *jobs = *bytes = 0;
    sqlite3_stmt *st = prep(c, "SELECT total(jobs), total(bytes) FROM daily WHERE tier=?");
    if (st) {
        sqlite3_bind_text(st, 1, tier, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *jobs = (uint64_t)sqlite3_column_double(st, 0);
            *bytes = (uint64_t)sqlite3_column_double(st, 1);
        }
        sqlite3_finalize(st);
    }
}

int floe_mcat_run_record(struct floe_mcat *c, int64_t started, double seconds, uint64_t bytes,
                         struct floe_error *err)
{
    if (c->pg)
        return floe_mcatpg_run_record(c->pg, started, seconds, bytes, err);
    sqlite3_stmt *st = prep(c, "INSERT OR REPLACE INTO runs VALUES(?, ?, ?)");
    if (st) {
        sqlite3_bind_int64(st, 1, started);
        sqlite3_bind_double(st, 2, seconds);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)bytes);
    }
    return step_done(c, st, "recording the run", err);
}

void floe_mcat_runs_total(struct floe_mcat *c, double *seconds, uint64_t *bytes)
{
    if (c->pg) {
        floe_mcatpg_runs_total(c->pg, seconds, bytes);
        return;
    }
    *seconds = 0;
    *bytes = 0;
    sqlite3_stmt *st = prep(c, "SELECT total(seconds), total(bytes) FROM runs");
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        *seconds = sqlite3_column_double(st, 0);
        *bytes = (uint64_t)sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
}

int floe_mcat_ready(struct floe_mcat *c, struct floe_error *err)
{
    return c->pg ? floe_mcatpg_ready(c->pg, err) : FLOE_OK;
}

int floe_mcat_check(struct floe_mcat *c, struct floe_error *err)
{
    return c->pg ? floe_mcatpg_failed(c->pg, err) : FLOE_OK;
}

const char *floe_mcat_name(const struct floe_mcat *c)
{
    return c->pg ? floe_mcatpg_name(c->pg) : c->path;
}
