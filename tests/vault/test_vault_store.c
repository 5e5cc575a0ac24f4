/*
 * test_vault_store.c - floe-vault's storage: the SQLite store (schema, bindings, transactions
 * that roll back or persist across reopen) and the blob store (write/finish/discard, and the
 * start-up sweep that removes every file no row references).
 */
#include "store_blob.h"
#include "store_db.h"
#include "t_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[512];

static int setup(void **state)
{
    static int n;
    snprintf(s_dir, sizeof(s_dir), "%s/store%d", t_temp_dir(), n++);
    mkdir(s_dir, 0700);
    return 0;
}

static int64_t count(struct floe_vdb *db, const char *sql)
{
    sqlite3_stmt *st = floe_vdb_stmt(db, sql);
    sqlite3_step(st);
    int64_t v = floe_vdb_int(st, 0);
    sqlite3_reset(st);
    return v;
}

static void test_db_transactions(void **state)
{
    char path[600];
    struct floe_vdb *db = NULL;
    struct floe_error err = {0};
    snprintf(path, sizeof(path), "%s/db", s_dir);
    assert_int_equal(floe_vdb_open(path, &db, &err), FLOE_OK);
    floe_vdb_lock(db);
    assert_int_equal(floe_vdb_exec(db, &err, "INSERT INTO vaults(name, created_ms) VALUES(?, ?)",
                                   "ti", "a", (int64_t)1),
                     FLOE_OK);
    assert_int_equal(floe_vdb_begin(db, &err), FLOE_OK);
    floe_vdb_exec(db, &err, "INSERT INTO vaults(name, created_ms) VALUES(?, ?)", "ti", "b",
                  (int64_t)2);
    floe_vdb_rollback(db);
    assert_int_equal(floe_vdb_begin(db, &err), FLOE_OK);
    floe_vdb_exec(db, &err, "INSERT INTO vaults(name, created_ms) VALUES(?, ?)", "ti", "c",
                  (int64_t)3);
    uint8_t leaves[64];
    t_fill_random(leaves, sizeof(leaves));
    floe_vdb_exec(db, &err,
                  "INSERT INTO segments(owner, idx, blob, len, tree_hash, leaves) VALUES(?, 0, ?,"
                  " 5, 'h', ?)",
                  "ttb", "o", "blob", (const void *)leaves, (int64_t)sizeof(leaves));
    assert_int_equal(floe_vdb_commit(db, &err), FLOE_OK);
    /* a duplicate key is a clean error, not a crash */
    assert_int_equal(floe_vdb_exec(db, &err, "INSERT INTO vaults(name, created_ms) VALUES(?, ?)",
                                   "ti", "a", (int64_t)1),
                     FLOE_E_IO);
    assert_non_null(strstr(err.message, "UNIQUE"));
    floe_vdb_unlock(db);
    floe_vdb_close(db);

    db = NULL;
    assert_int_equal(floe_vdb_open(path, &db, &err), FLOE_OK);
    floe_vdb_lock(db);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM vaults"), 2);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM vaults WHERE name = 'b'"), 0);
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT leaves FROM segments WHERE owner = 'o'");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_memory_equal(sqlite3_column_blob(st, 0), leaves, sizeof(leaves));
    sqlite3_reset(st);
    floe_vdb_unlock(db);
    floe_vdb_close(db);
}

static void test_db_open_fails_cleanly(void **state)
{
    struct floe_vdb *db = (struct floe_vdb *)0x1;
    struct floe_error err = {0};
    assert_int_equal(floe_vdb_open("/nonexistent-dir/x/db", &db, &err), FLOE_E_IO);
    assert_true(db == (struct floe_vdb *)0x1); /* untouched on failure */
    assert_non_null(strstr(err.message, "/nonexistent-dir/x/db"));
}

static bool referenced(const char *name, void *user)
{
    return strcmp(name, (const char *)user) == 0;
}

static void test_blob_write_discard_sweep(void **state)
{
    struct floe_vblob *b = NULL;
    struct floe_error err = {0};
    struct floe_vblob_writer keep = {.fd = -1}, drop = {.fd = -1}, orphan = {.fd = -1};
    char path[700], buf[16];
    assert_int_equal(floe_vblob_open(s_dir, &b, &err), FLOE_OK);
    assert_int_equal(floe_vblob_create(b, &keep, &err), FLOE_OK);
    assert_int_equal(strlen(keep.name), FLOE_VBLOB_NAME_LEN);
    assert_int_equal(floe_vblob_write(&keep, "hello", 5, &err), FLOE_OK);
    assert_int_equal(floe_vblob_finish(b, &keep, &err), FLOE_OK);
    assert_int_equal(keep.fd, -1);
    int fd = floe_vblob_open_read(b, keep.name);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 5);
    close(fd);
    assert_memory_equal(buf, "hello", 5);

    assert_int_equal(floe_vblob_create(b, &drop, &err), FLOE_OK);
    snprintf(path, sizeof(path), "%s/blobs/%s", s_dir, drop.name);
    floe_vblob_write(&drop, "x", 1, &err);
    floe_vblob_discard(b, &drop);
    assert_int_equal(access(path, F_OK), -1);

    /* an interrupted upload (never finished) and a stray file are swept; keep stays */
    assert_int_equal(floe_vblob_create(b, &orphan, &err), FLOE_OK);
    close(orphan.fd);
    snprintf(path, sizeof(path), "%s/blobs/stray.tmp", s_dir);
    close(open(path, O_CREAT | O_WRONLY, 0600));
    assert_int_equal(floe_vblob_sweep(b, referenced, keep.name), 2);
    assert_true(floe_vblob_open_read(b, orphan.name) < 0);
    fd = floe_vblob_open_read(b, keep.name);
    assert_true(fd >= 0);
    close(fd);
    assert_true(floe_vblob_open_read(b, "../db") < 0);
    floe_vblob_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_db_transactions, setup),
        cmocka_unit_test_setup(test_db_open_fails_cleanly, setup),
        cmocka_unit_test_setup(test_blob_write_discard_sweep, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
