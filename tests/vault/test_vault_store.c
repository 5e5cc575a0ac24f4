/*
 * test_vault_store.c - floe-vault's storage: the SQLite store (schema, bindings, transactions
 * that roll back or persist across reopen, reads on their own connections beside the writer)
 * and the blob store (write/finish/discard, and the start-up sweep that removes every file no
 * row references), and streamed writers (O_DIRECT through io_uring, or buffered with
 * write-behind): exact bytes and length whatever the write split, the tail padding trimmed, a
 * mid-stream discard leaving nothing, the pool limit.
 */
#include "store_blob.h"
#include "store_db.h"
#include "t_util.h"

#include <fcntl.h>
#include <pthread.h>
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

/* A reader on another thread while the writer holds the lock inside an open transaction. */
struct reader_arg {
    struct floe_vdb *db;
    int64_t seen, nested_seen;
};

static void *reader_thread(void *p)
{
    struct reader_arg *a = p;
    floe_vdb_lock_read(a->db);
    a->seen = count(a->db, "SELECT COUNT(*) FROM vaults");
    floe_vdb_lock_read(a->db); /* nested: the same reader and snapshot */
    a->nested_seen = count(a->db, "SELECT COUNT(*) FROM vaults");
    floe_vdb_unlock_read(a->db);
    floe_vdb_unlock_read(a->db);
    return NULL;
}

static int64_t read_count(struct floe_vdb *db)
{
    struct reader_arg a = {db, -1, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_thread, &a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.seen, a.nested_seen);
    return a.seen;
}

/* Reads under floe_vdb_lock_read() neither wait for the writer (its lock is held and its
 * transaction open throughout) nor see its uncommitted rows; they see every committed one,
 * and a write through a read lock fails instead of landing. */
static void test_db_reads_beside_the_writer(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof(path), "%s/meta.db", s_dir);
    struct floe_vdb *db = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_vdb_open(path, &db, &err), FLOE_OK);
    floe_vdb_lock(db);
    assert_int_equal(floe_vdb_exec(db, &err, "INSERT INTO vaults(name, created_ms) VALUES(?, 1)",
                                   "t", "committed"),
                     FLOE_OK);
    assert_int_equal(floe_vdb_begin(db, &err), FLOE_OK);
    assert_int_equal(floe_vdb_exec(db, &err, "INSERT INTO vaults(name, created_ms) VALUES(?, 2)",
                                   "t", "pending"),
                     FLOE_OK);
    assert_int_equal(read_count(db), 1); /* returned while the writer still holds its lock */
    assert_int_equal(floe_vdb_commit(db, &err), FLOE_OK);
    floe_vdb_unlock(db);
    assert_int_equal(read_count(db), 2);
    floe_vdb_lock_read(db);
    assert_int_not_equal(floe_vdb_exec(db, &err, "DELETE FROM vaults", ""), FLOE_OK);
    floe_vdb_unlock_read(db);
    floe_vdb_lock(db);
    assert_int_equal(count(db, "SELECT COUNT(*) FROM vaults"), 2);
    floe_vdb_unlock(db);
    floe_vdb_close(db);
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

/* Write len pseudo-random bytes in steps cycling through odd sizes; check bytes and length. */
static void stream_one(struct floe_vblob *b, size_t len, bool want_direct)
{
    struct floe_vblob_writer w = {.fd = -1};
    struct floe_error err = {0};
    static const size_t steps[] = {1, 4095, 131072, 7, 5u << 20, 65536 + 13};
    unsigned char *data = malloc(len ? len : 1), *back = malloc(len + 1);
    t_fill_random(data, len);
    assert_int_equal(floe_vblob_create_stream(b, len, &w, &err), FLOE_OK);
    assert_int_equal(floe_vblob_is_direct(&w), want_direct);
    for (size_t off = 0, i = 0; off < len; i++) {
        size_t n = steps[i % 6] < len - off ? steps[i % 6] : len - off;
        assert_int_equal(floe_vblob_write(&w, data + off, n, &err), FLOE_OK);
        off += n;
    }
    assert_int_equal(floe_vblob_finish(b, &w, &err), FLOE_OK);
    int fd = floe_vblob_open_read(b, w.name);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    bool in_log = floe_vblob_writer_log(&w) != NULL;
    /* a small body sits in a shared log blob at w.off; a larger one is a file of its own */
    assert_int_equal(in_log, len < FLOE_VBLOB_STREAM_MIN);
    assert_int_equal(strncmp(w.name, FLOE_VBLOB_LOG_PREFIX, 4) == 0, in_log);
    if (in_log)
        assert_true((uint64_t)st.st_size >= w.off + len);
    else
        assert_int_equal(st.st_size, len);
    size_t got = 0;
    ssize_t k;
    while (got < len && (k = pread(fd, back + got, len - got, (off_t)(w.off + got))) > 0)
        got += (size_t)k;
    close(fd);
    assert_int_equal(got, len);
    assert_memory_equal(back, data, len);
    floe_vblob_done(b, &w);
    free(data);
    free(back);
}

static bool never_referenced(const char *name, void *user)
{
    (void)name;
    (void)user;
    return false;
}

/* Log blobs: small bodies share a file at aligned offsets; a discarded one leaves zeros; a
 * held log is not removed by unlink, a released one is (once no row names it). */
static void test_blob_log(void **state)
{
    (void)state;
    struct floe_vblob *b = NULL;
    struct floe_error err = {0};
    struct floe_vblob_writer a = {.fd = -1}, d = {.fd = -1}, c = {.fd = -1};
    char path[700], buf[8192];
    assert_int_equal(floe_vblob_open(s_dir, &b, &err), FLOE_OK);
    floe_vblob_set_referenced(b, never_referenced, NULL);
    assert_int_equal(floe_vblob_create_stream(b, 5, &a, &err), FLOE_OK);
    assert_int_equal(floe_vblob_create_stream(b, 5000, &d, &err), FLOE_OK);
    assert_int_equal(floe_vblob_create_stream(b, 3, &c, &err), FLOE_OK);
    assert_string_equal(a.name, d.name);
    assert_string_equal(a.name, c.name);
    assert_int_equal(a.off % 4096, 0);
    assert_int_equal(d.off, a.off + 4096);
    assert_int_equal(c.off, d.off + 8192);
    assert_int_equal(floe_vblob_write(&a, "hello", 5, &err), FLOE_OK);
    assert_int_not_equal(floe_vblob_write(&a, "!", 1, &err), FLOE_OK); /* past its region */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(floe_vblob_write(&d, buf, 5000, &err), FLOE_OK);
    assert_int_equal(floe_vblob_write(&c, "abc", 3, &err), FLOE_OK);
    assert_int_equal(floe_vblob_finish_file(b, &a, &err), FLOE_OK);
    assert_int_equal(floe_vblob_finish_file(b, &c, &err), FLOE_OK);
    assert_int_equal(floe_vblob_log_sync(b, floe_vblob_writer_log(&a), &err), FLOE_OK);
    floe_vblob_discard(b, &d); /* d never finished: nothing of it in the file */
    char name[FLOE_VBLOB_NAME_LEN + 1];
    snprintf(name, sizeof(name), "%s", a.name);
    int fd = floe_vblob_open_read(b, name);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, 5, (off_t)a.off), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(pread(fd, buf, 3, (off_t)c.off), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(pread(fd, buf, 5000, (off_t)(a.off + 4096)), 5000);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(buf[i], 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/blobs/%s", s_dir, name);
    floe_vblob_done(b, &a);
    floe_vblob_done(b, &c);
    floe_vblob_unlink(b, name); /* still the current log: kept */
    assert_int_equal(access(path, F_OK), 0);
    /* the sweep takes log names as blob names */
    assert_int_equal(floe_vblob_sweep(b, referenced, name), 0);
    floe_vblob_close(b);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(floe_vblob_open(s_dir, &b, &err), FLOE_OK);
    floe_vblob_set_referenced(b, never_referenced, NULL);
    floe_vblob_unlink(b, name); /* nobody holds it and no row names it */
    assert_int_equal(access(path, F_OK), -1);
    floe_vblob_close(b);
}

static bool direct_supported(const char *dir)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/odirect-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_DIRECT, 0600);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return fd >= 0;
}

static void test_blob_stream_modes(void **state)
{
    struct floe_vblob *b = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_vblob_open(s_dir, &b, &err), FLOE_OK);
    /* io_uring may be off (seccomp) or O_DIRECT unsupported: streamed is then buffered */
    struct floe_vblob_writer probe = {.fd = -1};
    assert_int_equal(floe_vblob_create_stream(b, 2u << 20, &probe, &err), FLOE_OK);
    bool direct = floe_vblob_is_direct(&probe);
    floe_vblob_discard(b, &probe);
    if (direct_supported(s_dir) && !direct)
        fprintf(stderr, "note: io_uring unavailable here; streamed writers are buffered\n");
    static const size_t sizes[] = {(size_t)1 << 20,    (4u << 20) - 1,
                                   4u << 20,           (4u << 20) + 1,
                                   (17u << 20) + 4097, FLOE_VBLOB_WRITE_BEHIND * 3 + 5};
    for (size_t i = 0; i < 6; i++)
        stream_one(b, sizes[i], direct);
    stream_one(b, 1000, false); /* below FLOE_VBLOB_STREAM_MIN: buffered */
    floe_vblob_set_io(b, FLOE_VBLOB_IO_BUFFERED);
    for (size_t i = 0; i < 6; i++)
        stream_one(b, sizes[i], false);
    floe_vblob_close(b);
}

static void test_blob_stream_discard_and_pool_limit(void **state)
{
    struct floe_vblob *b = NULL;
    struct floe_error err = {0};
    enum { N = FLOE_VBLOB_STAGE_MAX / FLOE_VBLOB_STAGE_DEPTH + 1 };
    struct floe_vblob_writer w[N];
    char path[700];
    unsigned char *chunk = calloc(1, 3u << 20);
    assert_int_equal(floe_vblob_open(s_dir, &b, &err), FLOE_OK);
    bool direct = false;
    for (int i = 0; i < N; i++) {
        w[i] = (struct floe_vblob_writer){.fd = -1};
        assert_int_equal(floe_vblob_create_stream(b, 64u << 20, &w[i], &err), FLOE_OK);
        assert_int_equal(floe_vblob_write(&w[i], chunk, 3u << 20, &err), FLOE_OK);
        assert_int_equal(floe_vblob_write(&w[i], chunk, 3u << 20, &err), FLOE_OK);
    }
    /* the pool lends FLOE_VBLOB_STAGE_MAX buffers at most: the last writer is buffered */
    direct = floe_vblob_is_direct(&w[0]);
    if (direct)
        assert_false(floe_vblob_is_direct(&w[N - 1]));
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "%s/blobs/%s", s_dir, w[i].name);
        floe_vblob_discard(b, &w[i]); /* writes in flight are reaped first */
        assert_int_equal(access(path, F_OK), -1);
    }
    /* the buffers came back: a new writer streams again */
    struct floe_vblob_writer again = {.fd = -1};
    assert_int_equal(floe_vblob_create_stream(b, 64u << 20, &again, &err), FLOE_OK);
    assert_int_equal(floe_vblob_is_direct(&again), direct);
    floe_vblob_discard(b, &again);
    floe_vblob_close(b);
    free(chunk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_db_transactions, setup),
        cmocka_unit_test_setup(test_db_open_fails_cleanly, setup),
        cmocka_unit_test_setup(test_db_reads_beside_the_writer, setup),
        cmocka_unit_test_setup(test_blob_write_discard_sweep, setup),
        cmocka_unit_test_setup(test_blob_stream_modes, setup),
        cmocka_unit_test_setup(test_blob_log, setup),
        cmocka_unit_test_setup(test_blob_stream_discard_and_pool_limit, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
