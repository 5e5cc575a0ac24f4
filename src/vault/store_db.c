/*
 * store_db.c - the SQLite metadata store (see store_db.h).
 *
 * DESIGN
 * One connection, one mutex. floe-vault's metadata work is a handful of indexed row reads and
 * writes per request, far cheaper than the request's body I/O and fsync, so a single
 * serialised connection costs little and makes every multi-row change (Complete Multipart
 * Upload, part replacement, job completion) trivially atomic. Durability: journal_mode=WAL
 * with synchronous=FULL, so COMMIT returns only after the WAL is fsynced; a 2xx is sent after
 * COMMIT. kill -9 at any moment leaves either the old or the new state of a transaction.
 *
 * Reads that need no write (DescribeVault, List*, Describe/Get*, the authorizer's facts) do
 * not queue behind that mutex: the group committer holds it through COMMIT's WAL fsync, which
 * under load is most of a read's wait. They run on one of READERS read-only connections of
 * their own (floe_vdb_lock_read), each with its own mutex and statement cache, inside one read
 * transaction: WAL lets readers see the last commit while the writer works, so a reader sees
 * every write acknowledged before it began and one consistent state throughout. The reader a
 * thread holds is thread-local, so floe_vdb_stmt(db, ...) on that thread runs on it and the
 * query code is the same for both kinds of lock.
 *
 * Prepared statements are cached by the address of their SQL text (string literals), which
 * avoids re-parsing on hot paths (upload part, describe job) without a hash table.
 */
#include "store_db.h"

#include "alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 160
#define READERS 4

struct floe_vdb {
    pthread_mutex_t mu;
    sqlite3 *h; /* guarded by mu */
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[STMT_CACHE]; /* guarded by mu */
    int ncache;
    struct floe_vdb *readers[READERS]; /* the writer's read-only connections; none in a reader */
    atomic_uint next_reader;           /* where the next floe_vdb_lock_read() starts looking */
};

/* The reader this thread holds (floe_vdb_lock_read), the store it belongs to, and how many
 * times the thread took it (nested reads reuse it). */
static _Thread_local struct floe_vdb *t_reader, *t_reader_of;
static _Thread_local int t_reader_depth;

/* The connection a statement on db runs on: this thread's reader of db, or db itself. */
static struct floe_vdb *conn(struct floe_vdb *db)
{
    return t_reader && t_reader_of == db ? t_reader : db;
}

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS vaults("
    " name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, changed_ms INTEGER,"
    " notify_topic TEXT, notify_events TEXT, access_policy TEXT,"
    " lock_policy TEXT, lock_state TEXT, lock_id TEXT, lock_created_ms INTEGER,"
    " lock_expires_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS archives("
    " id TEXT PRIMARY KEY, vault TEXT NOT NULL, description TEXT, created_ms INTEGER NOT NULL,"
    " size INTEGER NOT NULL, tree_hash TEXT NOT NULL, part_size INTEGER NOT NULL,"
    " nparts INTEGER NOT NULL, seg_owner TEXT NOT NULL, deleted_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS archives_by_vault ON archives(vault, created_ms, id);"
    "CREATE TABLE IF NOT EXISTS uploads("
    " id TEXT PRIMARY KEY, vault TEXT NOT NULL, description TEXT, part_size INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, state TEXT NOT NULL, archive_id TEXT, size INTEGER,"
    " tree_hash TEXT, touched_ms INTEGER);"
    "CREATE TABLE IF NOT EXISTS segments("
    " owner TEXT NOT NULL, idx INTEGER NOT NULL, blob TEXT NOT NULL, len INTEGER NOT NULL,"
    " tree_hash TEXT NOT NULL, leaves BLOB NOT NULL, off INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(owner, idx));"
    "CREATE INDEX IF NOT EXISTS segments_by_blob ON segments(blob);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, vault TEXT NOT NULL,"
    " action TEXT NOT NULL, archive_id TEXT, description TEXT, sns_topic TEXT, tier TEXT,"
    " created_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL, status TEXT NOT NULL,"
    " status_message TEXT, completed_ms INTEGER, expires_ms INTEGER, range_first INTEGER,"
    " range_last INTEGER, archive_size INTEGER, archive_tree_hash TEXT, tree_hash TEXT,"
    " inventory_size INTEGER, format TEXT, inv_start TEXT, inv_end TEXT, inv_limit TEXT,"
    " inv_marker TEXT, next_marker TEXT, output_blob TEXT, select_json TEXT,"
    " output_path TEXT);"
    "CREATE INDEX IF NOT EXISTS jobs_by_vault ON jobs(vault, seq);"
    "CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, due_ms);"
    "CREATE INDEX IF NOT EXISTS jobs_by_output ON jobs(output_blob);"
    "CREATE TABLE IF NOT EXISTS tags(vault TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY(vault, key));"
    "CREATE TABLE IF NOT EXISTS capacity(id TEXT PRIMARY KEY, start_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL, account TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS damage(owner TEXT NOT NULL, idx INTEGER NOT NULL,"
    " blob TEXT NOT NULL, offset INTEGER NOT NULL, found_ms INTEGER NOT NULL,"
    " detail TEXT NOT NULL, PRIMARY KEY(owner, idx));";

/* Add a column a data dir from before it lacks: probe runs when it exists, alter adds it. */
static int add_column(sqlite3 *h, const char *probe, const char *alter, char **emsg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, probe, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return SQLITE_OK;
    }
    return sqlite3_exec(h, alter, NULL, NULL, emsg);
}

/* Columns added since the first schema, with what existing rows get:
 * - segments.off (where a segment starts in its blob file; log blobs): 0, each row had a
 *   file of its own;
 * - capacity.account (the owning account's vault-key prefix, vconfig.h; accounts): '', the
 *   default account. */
static int add_columns(sqlite3 *h, char **emsg)
{
    int rc = add_column(h, "SELECT off FROM segments LIMIT 0",
                        "ALTER TABLE segments ADD COLUMN off INTEGER NOT NULL DEFAULT 0", emsg);
    if (rc == SQLITE_OK)
        rc = add_column(h, "SELECT account FROM capacity LIMIT 0",
                        "ALTER TABLE capacity ADD COLUMN account TEXT NOT NULL DEFAULT ''", emsg);
    return rc;
}

int floe_vdb_open(const char *path, struct floe_vdb **out, struct floe_error *err)
{
    struct floe_vdb *db = floe_xcalloc(1, sizeof(*db));
    int rc = FLOE_OK;
    char *emsg = NULL;
    pthread_mutex_init(&db->mu, NULL);
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = floe_error_set(err, FLOE_E_IO, "cannot open database %s: %s", path,
                            db->h ? sqlite3_errmsg(db->h) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db->h, 5000);
    if (sqlite3_exec(db->h,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
                     " PRAGMA temp_store=MEMORY;",
                     NULL, NULL, &emsg) != SQLITE_OK ||
        sqlite3_exec(db->h, s_schema, NULL, NULL, &emsg) != SQLITE_OK ||
        add_columns(db->h, &emsg) != SQLITE_OK) {
        rc = floe_error_set(err, FLOE_E_IO, "cannot prepare database %s: %s", path,
                            emsg ? emsg : "unknown error");
        goto out;
    }
    for (int i = 0; i < READERS; i++) {
        struct floe_vdb *r = db->readers[i] = floe_xcalloc(1, sizeof(*r));
        pthread_mutex_init(&r->mu, NULL);
        if (sqlite3_open_v2(path, &r->h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
            rc = floe_error_set(err, FLOE_E_IO, "cannot open database %s for reading: %s", path,
                                r->h ? sqlite3_errmsg(r->h) : "out of memory");
            goto out;
        }
        sqlite3_busy_timeout(r->h, 5000);
    }
    *out = db;
    db = NULL;
out:
    sqlite3_free(emsg);
    floe_vdb_close(db);
    return rc;
}

void floe_vdb_close(struct floe_vdb *db)
{
    if (!db)
        return;
    for (int i = 0; i < READERS; i++)
        floe_vdb_close(db->readers[i]);
    for (int i = 0; i < db->ncache; i++)
        sqlite3_finalize(db->cache[i].st);
    if (db->h)
        sqlite3_close(db->h);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

void floe_vdb_lock(struct floe_vdb *db)
{
    if (t_reader && t_reader_of == db) {
        /* a programming error: the writes would run on the read-only connection */
        fprintf(stderr, "floe-vault: floe_vdb_lock() while this thread holds a read lock\n");
        abort();
    }
    pthread_mutex_lock(&db->mu);
}

void floe_vdb_lock_read(struct floe_vdb *db)
{
    if (t_reader && t_reader_of == db) {
        t_reader_depth++;
        return;
    }
    unsigned start = atomic_fetch_add_explicit(&db->next_reader, 1, memory_order_relaxed);
    struct floe_vdb *r = NULL;
    for (unsigned i = 0; i < READERS && !r; i++) {
        struct floe_vdb *c = db->readers[(start + i) % READERS];
        if (pthread_mutex_trylock(&c->mu) == 0)
            r = c;
    }
    if (!r) { /* all busy: wait for one (reads are short) */
        r = db->readers[start % READERS];
        pthread_mutex_lock(&r->mu);
    }
    /* one snapshot for the whole unit of work; a BEGIN that fails leaves each statement its
     * own snapshot, which is still a committed state */
    sqlite3_exec(r->h, "BEGIN", NULL, NULL, NULL);
    t_reader = r;
    t_reader_of = db;
    t_reader_depth = 1;
}

void floe_vdb_unlock_read(struct floe_vdb *db)
{
    struct floe_vdb *r = t_reader;
    if (!r || t_reader_of != db) {
        fprintf(stderr, "floe-vault: floe_vdb_unlock_read() without a read lock\n");
        abort();
    }
    if (--t_reader_depth > 0)
        return;
    if (!sqlite3_get_autocommit(r->h))
        sqlite3_exec(r->h, "COMMIT", NULL, NULL, NULL);
    t_reader = t_reader_of = NULL;
    pthread_mutex_unlock(&r->mu);
}

void floe_vdb_unlock(struct floe_vdb *db)
{
    pthread_mutex_unlock(&db->mu);
}

sqlite3_stmt *floe_vdb_stmt(struct floe_vdb *db, const char *sql)
{
    db = conn(db);
    for (int i = 0; i < db->ncache; i++) {
        if (db->cache[i].sql == sql) {
            sqlite3_reset(db->cache[i].st);
            sqlite3_clear_bindings(db->cache[i].st);
            return db->cache[i].st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK || db->ncache >= STMT_CACHE) {
        fprintf(stderr, "floe-vault: cannot prepare \"%s\": %s\n", sql, sqlite3_errmsg(db->h));
        abort();
    }
    db->cache[db->ncache].sql = sql;
    db->cache[db->ncache].st = st;
    db->ncache++;
    return st;
}

static void vbind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int i = 1;
    if ((int)strlen(fmt ? fmt : "") != sqlite3_bind_parameter_count(st)) {
        /* a programming error: the format must name every parameter of the statement */
        fprintf(stderr, "floe-vault: bind format \"%s\" does not fit \"%s\"\n", fmt ? fmt : "",
                sqlite3_sql(st));
        abort();
    }
    for (const char *f = fmt; f && *f; f++, i++) {
        switch (*f) {
        case 't': {
            const char *s = va_arg(ap, const char *);
            if (s)
                sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'i': sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            int64_t n = va_arg(ap, int64_t);
            sqlite3_bind_blob64(st, i, p, (sqlite3_uint64)n, SQLITE_TRANSIENT);
            break;
        }
        default: sqlite3_bind_null(st, i); break;
        }
    }
}

void floe_vdb_bind(sqlite3_stmt *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbind(st, fmt, ap);
    va_end(ap);
}

int floe_vdb_exec(struct floe_vdb *db, struct floe_error *err, const char *sql, const char *fmt,
                  ...)
{
    sqlite3_stmt *st = floe_vdb_stmt(db, sql);
    va_list ap;
    va_start(ap, fmt);
    vbind(st, fmt, ap);
    va_end(ap);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE)
        return floe_error_set(err, FLOE_E_IO, "database error: %s", sqlite3_errmsg(conn(db)->h));
    sqlite3_reset(st);
    return FLOE_OK;
}

static int simple(struct floe_vdb *db, const char *sql, struct floe_error *err)
{
    char *emsg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &emsg) != SQLITE_OK) {
        int rc = floe_error_set(err, FLOE_E_IO, "database error (%s): %s", sql,
                                emsg ? emsg : sqlite3_errmsg(db->h));
        sqlite3_free(emsg);
        return rc;
    }
    return FLOE_OK;
}

int floe_vdb_begin(struct floe_vdb *db, struct floe_error *err)
{
    return simple(db, "BEGIN IMMEDIATE", err);
}

int floe_vdb_commit(struct floe_vdb *db, struct floe_error *err)
{
    int rc = simple(db, "COMMIT", err);
    if (rc)
        floe_vdb_rollback(db);
    return rc;
}

int floe_vdb_end(struct floe_vdb *db, int rc, struct floe_error *err)
{
    if (rc == FLOE_OK)
        return floe_vdb_commit(db, err);
    floe_vdb_rollback(db);
    return rc;
}

void floe_vdb_rollback(struct floe_vdb *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int floe_vdb_savepoint(struct floe_vdb *db, struct floe_error *err)
{
    return simple(db, "SAVEPOINT unit", err);
}

int floe_vdb_release(struct floe_vdb *db, struct floe_error *err)
{
    return simple(db, "RELEASE unit", err);
}

void floe_vdb_rollback_to(struct floe_vdb *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK TO unit; RELEASE unit", NULL, NULL, NULL);
}

bool floe_vdb_in_transaction(struct floe_vdb *db)
{
    return !sqlite3_get_autocommit(db->h);
}

int64_t floe_vdb_changes(struct floe_vdb *db)
{
    return sqlite3_changes(db->h);
}

const char *floe_vdb_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

int64_t floe_vdb_int(sqlite3_stmt *st, int col)
{
    return sqlite3_column_int64(st, col);
}

int floe_vdb_is_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL;
}
