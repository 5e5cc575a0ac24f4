/*
 * store_db.h - floe-vault's metadata store: one SQLite database (WAL, synchronous=FULL) in the
 * data directory holding vaults, archives, multipart uploads, part segments (with their 1 MiB
 * leaf hashes), jobs, tags, provisioned capacity and account settings. The schema is in
 * store_db.c (docs/internals/vault.md describes the files).
 *
 * Threads: one writing connection guarded by one mutex, and a few read-only connections for
 * reads (floe_vdb_lock_read). Callers take floe_vdb_lock() or floe_vdb_lock_read() around a
 * unit of work (a query, or BEGIN..COMMIT) and every other function here requires one of them
 * to be held (the _locked rule, written once here instead of on every name). Work under the lock is
 * metadata only; no request body I/O ever happens while holding it.
 */
#ifndef FLOE_VAULT_STORE_DB_H
#define FLOE_VAULT_STORE_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "floe/error.h"

struct floe_vdb; /* opaque */

/*
 * floe_vdb_open() - open or create the database at path and bring its schema up to date.
 * out      OUT: set only on FLOE_OK; free with floe_vdb_close().
 * Returns  FLOE_OK or FLOE_E_IO (message names the path and SQLite's reason).
 */
int floe_vdb_open(const char *path, struct floe_vdb **out, struct floe_error *err);

/* floe_vdb_close() - finalize cached statements and close; NULL is fine. */
void floe_vdb_close(struct floe_vdb *db);

void floe_vdb_lock(struct floe_vdb *db);
void floe_vdb_unlock(struct floe_vdb *db);

/*
 * floe_vdb_lock_read() / floe_vdb_unlock_read() - a read lock: until the matching unlock, every
 * floe_vdb_stmt(db, ...) on the calling thread runs on one of the store's read-only connections,
 * in one read transaction (one consistent state that includes every write committed before the
 * lock was taken). Readers never wait for the writer's lock or its COMMIT fsync. Nested read
 * locks on one thread are counted. Statements that write fail on a reader; taking
 * floe_vdb_lock() while holding a read lock aborts (a programming error). The reader belongs to
 * the calling thread until it unlocks.
 */
void floe_vdb_lock_read(struct floe_vdb *db);
void floe_vdb_unlock_read(struct floe_vdb *db);

/*
 * floe_vdb_stmt() - a prepared statement for sql, cached by the sql pointer (pass string
 * literals), reset and with bindings cleared. Borrowed: valid until the next floe_vdb_stmt()
 * call with the same sql or floe_vdb_close(). Aborts on a prepare error (a programming error).
 */
sqlite3_stmt *floe_vdb_stmt(struct floe_vdb *db, const char *sql);

/*
 * floe_vdb_bind() - bind parameters 1..n from fmt: 't' const char * (NULL binds NULL),
 * 'i' int64_t, 'b' const void * then int64_t length (a BLOB), 'n' NULL.
 */
void floe_vdb_bind(sqlite3_stmt *st, const char *fmt, ...);

/*
 * floe_vdb_exec() - floe_vdb_stmt + bind + step to completion (for statements without rows).
 * Returns  FLOE_OK, or FLOE_E_IO with SQLite's message in err.
 */
int floe_vdb_exec(struct floe_vdb *db, struct floe_error *err, const char *sql, const char *fmt,
                  ...);

/* Transactions: BEGIN IMMEDIATE / COMMIT (durable on return: WAL + fsync) / ROLLBACK. */
int floe_vdb_begin(struct floe_vdb *db, struct floe_error *err);
int floe_vdb_commit(struct floe_vdb *db, struct floe_error *err);
void floe_vdb_rollback(struct floe_vdb *db);

/* Savepoints inside a transaction (the group committer's one per request, src/vault/commit.h):
 * SAVEPOINT / RELEASE, and rollback_to = ROLLBACK TO + RELEASE (the transaction stays open). */
int floe_vdb_savepoint(struct floe_vdb *db, struct floe_error *err);
int floe_vdb_release(struct floe_vdb *db, struct floe_error *err);
void floe_vdb_rollback_to(struct floe_vdb *db);

/* Whether a transaction is open (SQLite ends one by itself on some errors: SQLITE_FULL,
 * SQLITE_IOERR, SQLITE_NOMEM...; later statements would then each commit on their own). */
bool floe_vdb_in_transaction(struct floe_vdb *db);

/* floe_vdb_end() - end a transaction begun with floe_vdb_begin(): COMMIT when rc is FLOE_OK,
 * else ROLLBACK. Returns rc, or the COMMIT's error (in err). */
int floe_vdb_end(struct floe_vdb *db, int rc, struct floe_error *err);

/* Rows changed by the last statement. */
int64_t floe_vdb_changes(struct floe_vdb *db);

/* Column helpers: text or NULL, and int64 (0 for NULL). */
const char *floe_vdb_text(sqlite3_stmt *st, int col);
int64_t floe_vdb_int(sqlite3_stmt *st, int col);
int floe_vdb_is_null(sqlite3_stmt *st, int col);

#endif
