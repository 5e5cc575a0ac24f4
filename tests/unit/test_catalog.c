/*
 * test_catalog.c - the backup catalog: create and reopen, a newer schema refused, the run lock
 * against a second process, a corrupt file refused untouched, a failed transaction (disk full
 * via max_page_count) leaving nothing, 100,000 files recorded and looked up (rates printed),
 * removed-marking through the seen set, snapshots round-tripped, restore plan and progress.
 */
#include "t_util.h"

#include "catalog.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct floe_catalog_options s_fast = {.no_sync = true};

static char *tpath(const char *name)
{
    size_t n = strlen(t_temp_dir()) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", t_temp_dir(), name);
    unlink(p);
    char lock[4096], wal[4096], shm[4096];
    snprintf(lock, sizeof(lock), "%s.lock", p);
    snprintf(wal, sizeof(wal), "%s-wal", p);
    snprintf(shm, sizeof(shm), "%s-shm", p);
    unlink(lock);
    unlink(wal);
    unlink(shm);
    return p;
}

/* CPU seconds of this process: the machine running the tests is shared, so wall time would
 * measure the neighbours; the durable-commit figure below uses wall time (fsync waits). */
static double now_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct floe_catalog *open_ok(const char *path)
{
    struct floe_catalog *c = NULL;
    struct floe_error err = {0};
    int st = floe_catalog_open(path, &s_fast, &c, &err);
    if (st != FLOE_OK)
        fprintf(stderr, "open: %s\n", err.message);
    assert_int_equal(st, FLOE_OK);
    return c;
}

static void make_archive(struct floe_catalog_archive *a, const char *id, enum floe_catalog_kind k)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->archive_id, sizeof(a->archive_id), "%s", id);
    a->size_bytes = 1000;
    memset(a->tree_hash, 0xab, sizeof(a->tree_hash));
    a->description = "test archive";
    a->kind = k;
    a->created_at = 1700000000;
}

static void make_file(struct floe_catalog_file *f, const char *path, uint64_t size)
{
    memset(f, 0, sizeof(*f));
    f->path = path;
    f->path_len = strlen(path);
    f->size_bytes = size;
    f->has_mtime = true;
    f->mtime_ns = 1700000000123456789LL;
    f->inode = 42;
    f->device = 7;
    f->has_tree_hash = true;
    memset(f->tree_hash, 0x11, sizeof(f->tree_hash));
    f->length_bytes = size;
}

static void record_one(struct floe_catalog *c, const char *archive_id, const char *path,
                       uint64_t size)
{
    struct floe_catalog_archive a;
    struct floe_catalog_file f;
    struct floe_error err = {0};
    make_archive(&a, archive_id, FLOE_CATALOG_KIND_FILE);
    make_file(&f, path, size);
    int st = floe_catalog_record_archive(c, &a, &f, 1, &err);
    if (st != FLOE_OK)
        fprintf(stderr, "record: %s\n", err.message);
    assert_int_equal(st, FLOE_OK);
}

static void test_catalog_create_reopen(void **state)
{
    (void)state;
    char *path = tpath("create.db");
    struct floe_catalog *c = open_ok(path);
    assert_string_equal(floe_catalog_path(c), path);
    record_one(c, "ARCH-1", "/data/a.txt", 1000);
    floe_catalog_close(c);

    c = open_ok(path);
    struct floe_catalog_file f;
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_lookup(c, "/data/a.txt", 11, &f, &err), FLOE_OK);
    assert_int_equal(f.size_bytes, 1000);
    assert_true(f.has_mtime);
    assert_int_equal(f.mtime_ns, 1700000000123456789LL);
    assert_int_equal(f.inode, 42);
    assert_int_equal(f.device, 7);
    assert_false(f.has_xxh3);
    assert_true(f.has_tree_hash);
    assert_int_equal(f.tree_hash[31], 0x11);
    assert_string_equal(f.archive_id, "ARCH-1");
    assert_int_equal(f.compression, FLOE_CATALOG_COMP_NONE);
    assert_int_equal(f.superseded_at, 0);
    assert_int_equal(f.removed_at, 0);
    assert_int_equal(floe_catalog_lookup(c, "/data/b.txt", 11, &f, &err), FLOE_E_NOT_FOUND);

    struct floe_catalog_archive a;
    assert_int_equal(floe_catalog_get_archive(c, "ARCH-1", &a, &err), FLOE_OK);
    assert_string_equal(a.description, "test archive");
    assert_int_equal(a.kind, FLOE_CATALOG_KIND_FILE);
    assert_int_equal(a.created_at, 1700000000);
    /* the same archive twice is refused by name */
    record_one(c, "ARCH-2", "/data/b.txt", 5);
    make_archive(&a, "ARCH-2", FLOE_CATALOG_KIND_FILE);
    assert_int_equal(floe_catalog_record_archive(c, &a, NULL, 0, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "ARCH-2 is already in catalog"));
    floe_catalog_close(c);

    /* read-only handle next to a writer */
    struct floe_catalog *w = open_ok(path), *r = NULL;
    struct floe_catalog_options ro = {.read_only = true};
    assert_int_equal(floe_catalog_open(path, &ro, &r, &err), FLOE_OK);
    struct floe_catalog_stats stats;
    assert_int_equal(floe_catalog_stats(r, &stats, &err), FLOE_OK);
    assert_int_equal(stats.files_current, 2);
    assert_int_equal(stats.archives, 2);
    floe_catalog_close(r);
    floe_catalog_close(w);
    /* read-only: a missing or empty file is not a catalog to read */
    char *missing = tpath("missing.db");
    assert_int_equal(floe_catalog_open(missing, &ro, &r, &err), FLOE_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "no catalog at"));
    FILE *fp = fopen(missing, "wb");
    fclose(fp);
    assert_int_equal(floe_catalog_open(missing, &ro, &r, &err), FLOE_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "is empty"));
    /* a writable open of the same empty file makes it a catalog */
    r = open_ok(missing);
    floe_catalog_close(r);
    /* a directory that does not exist */
    assert_int_equal(floe_catalog_open("/nonexistent-floe-dir/c.db", &s_fast, &r, &err), FLOE_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent-floe-dir/c.db"));
    free(missing);
    free(path);
}

static void test_catalog_newer_schema_refused(void **state)
{
    (void)state;
    char *path = tpath("newer.db");
    floe_catalog_close(open_ok(path));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct floe_catalog *c = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_open(path, &s_fast, &c, &err), FLOE_E_UNSUPPORTED);
    assert_null(c);
    assert_non_null(strstr(err.message, "schema version 99, written by a newer floe"));
    assert_non_null(strstr(err.message, path));

    /* a database that is not a catalog */
    char *other = tpath("other.db");
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(floe_catalog_open(other, &s_fast, &c, &err), FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "not a floe catalog"));
    /* not even switched to WAL: header bytes 18 and 19 (write/read versions) still say 1 */
    FILE *f = fopen(other, "rb");
    uint8_t head[20];
    assert_int_equal(fread(head, 1, sizeof(head), f), sizeof(head));
    fclose(f);
    assert_int_equal(head[18], 1);
    assert_int_equal(head[19], 1);
    free(other);
    free(path);
}

static void test_catalog_lock_contention(void **state)
{
    (void)state;
    char *path = tpath("lock.db");
    struct floe_catalog *c = open_ok(path);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct floe_catalog *c2 = NULL;
        struct floe_error err = {0};
        int st = floe_catalog_open(path, &s_fast, &c2, &err);
        char want[256];
        snprintf(want, sizeof(want), "is in use by another floe run (pid %ld)", (long)getppid());
        _exit(st == FLOE_E_IO && strstr(err.message, want) && !c2 ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    /* a second handle in this process is refused too */
    struct floe_catalog *c2 = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_open(path, &s_fast, &c2, &err), FLOE_E_IO);
    assert_non_null(strstr(err.message, "in use by another floe run"));
    floe_catalog_close(c);
    /* released on close: the next opener gets it */
    c = open_ok(path);
    floe_catalog_close(c);
    free(path);
}

static void test_catalog_corrupt_refused(void **state)
{
    (void)state;
    char *path = tpath("corrupt.db");
    char junk[8192];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 7 + 3);
    FILE *f = fopen(path, "wb");
    fwrite(junk, 1, sizeof(junk), f);
    fclose(f);
    struct floe_catalog *c = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_open(path, &s_fast, &c, &err), FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "is not a database or is damaged"));
    /* nothing was overwritten */
    char back[sizeof(junk) + 1];
    f = fopen(path, "rb");
    assert_int_equal(fread(back, 1, sizeof(back), f), sizeof(junk));
    fclose(f);
    assert_memory_equal(back, junk, sizeof(junk));
    free(path);
}

static int count_fn(const struct floe_catalog_file *f, void *user)
{
    (void)f;
    (*(size_t *)user)++;
    return 0;
}

/* An archive id recorded twice inside a batch (backup's transaction): refused by name, and the
 * rows recorded before and after it in the same transaction are kept. */
static void test_catalog_duplicate_in_transaction(void **state)
{
    (void)state;
    char *path = tpath("dup-tx.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
    record_one(c, "ARCH-A", "/data/a", 1);
    struct floe_catalog_archive a;
    struct floe_catalog_file f;
    make_archive(&a, "ARCH-A", FLOE_CATALOG_KIND_FILE);
    make_file(&f, "/data/other", 2);
    assert_int_equal(floe_catalog_record_archive(c, &a, &f, 1, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "ARCH-A is already in catalog"));
    assert_true(floe_catalog_in_transaction(c));
    record_one(c, "ARCH-B", "/data/b", 3);
    assert_int_equal(floe_catalog_commit(c, &err), FLOE_OK);
    floe_catalog_close(c);
    c = open_ok(path);
    struct floe_catalog_file got;
    assert_int_equal(floe_catalog_lookup(c, "/data/a", 7, &got, &err), FLOE_OK);
    assert_string_equal(got.archive_id, "ARCH-A");
    assert_int_equal(floe_catalog_lookup(c, "/data/b", 7, &got, &err), FLOE_OK);
    assert_string_equal(got.archive_id, "ARCH-B");
    assert_int_equal(floe_catalog_lookup(c, "/data/other", 11, &got, &err), FLOE_E_NOT_FOUND);
    struct floe_catalog_stats stats;
    assert_int_equal(floe_catalog_stats(c, &stats, &err), FLOE_OK);
    assert_int_equal(stats.archives, 2);
    assert_int_equal(stats.files_current, 2);
    /* outside a transaction: refused, and the catalog can be written right after */
    assert_int_equal(floe_catalog_record_archive(c, &a, &f, 1, &err), FLOE_E_INVALID_ARG);
    assert_false(floe_catalog_in_transaction(c));
    record_one(c, "ARCH-C", "/data/c", 4);
    floe_catalog_close(c);
    free(path);
}

/* A valid header with damaged pages behind it: reads say FLOE_E_CORRUPT, nothing is rewritten. */
static void test_catalog_damaged_pages(void **state)
{
    (void)state;
    char *path = tpath("damaged.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
    for (int i = 0; i < 3000; i++) {
        char id[32], p[64];
        snprintf(id, sizeof(id), "D-%d", i);
        snprintf(p, sizeof(p), "/damaged/%06d/some/longer/name/to/fill/pages", i);
        struct floe_catalog_archive a;
        struct floe_catalog_file f;
        make_archive(&a, id, FLOE_CATALOG_KIND_FILE);
        make_file(&f, p, 1);
        assert_int_equal(floe_catalog_record_archive(c, &a, &f, 1, &err), FLOE_OK);
    }
    assert_int_equal(floe_catalog_commit(c, &err), FLOE_OK);
    floe_catalog_close(c); /* checkpoints the WAL into the file */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 40 * 4096);
    /* scribble over pages 12 to 40 (page 1, the header and schema, stays intact) */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(0xa5 ^ i);
    for (int pg = 11; pg < 40; pg++) {
        fseek(f, (long)pg * 4096, SEEK_SET);
        fwrite(junk, 1, sizeof(junk), f);
    }
    fclose(f);
    uint8_t *before = malloc((size_t)st.st_size);
    f = fopen(path, "rb");
    assert_int_equal(fread(before, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);

    int rc = floe_catalog_open(path, &s_fast, &c, &err);
    if (rc == FLOE_OK) {
        size_t n = 0;
        rc = floe_catalog_iter_files(c, NULL, 0, count_fn, &n, &err);
        floe_catalog_close(c);
    }
    assert_int_equal(rc, FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "is not a database or is damaged"));
    assert_non_null(strstr(err.message, path));
    uint8_t *after = malloc((size_t)st.st_size + 1);
    f = fopen(path, "rb");
    assert_int_equal(fread(after, 1, (size_t)st.st_size + 1, f), (size_t)st.st_size);
    fclose(f);
    assert_memory_equal(before, after, (size_t)st.st_size);
    free(before);
    free(after);
    free(path);
}

/* Fills the disk (max_page_count) in the middle of a batch: nothing of it stays. */
static void test_catalog_full_rolls_back(void **state)
{
    (void)state;
    char *path = tpath("full.db");
    struct floe_catalog *c = open_ok(path);
    record_one(c, "BEFORE", "/keep", 1);
    floe_catalog_close(c);
    sqlite3 *db;
    /* the catalog's size now + a few pages */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* a "disk" a few pages larger than the catalog */
    struct floe_catalog_options small = {.no_sync = true, .max_page_count = (uint32_t)pages + 2};
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_open(path, &small, &c, &err), FLOE_OK);
    assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
    int st_rec = FLOE_OK;
    char id[32], p[64];
    int i;
    for (i = 0; i < 10000 && st_rec == FLOE_OK; i++) {
        struct floe_catalog_archive a;
        struct floe_catalog_file f;
        snprintf(id, sizeof(id), "A-%d", i);
        snprintf(p, sizeof(p), "/full/path/number/%08d/with/some/length", i);
        make_archive(&a, id, FLOE_CATALOG_KIND_FILE);
        make_file(&f, p, 10);
        st_rec = floe_catalog_record_archive(c, &a, &f, 1, &err);
    }
    assert_int_equal(st_rec, FLOE_E_IO);
    assert_int_equal(err.sys_errno, ENOSPC);
    assert_non_null(strstr(err.message, "disk full"));
    assert_false(floe_catalog_in_transaction(c));
    assert_true(i > 1);
    /* nothing of the batch; the earlier row intact */
    struct floe_catalog_file f;
    assert_int_equal(
        floe_catalog_lookup(c, "/full/path/number/00000000/with/some/length", 42, &f, &err),
        FLOE_E_NOT_FOUND);
    assert_int_equal(floe_catalog_lookup(c, "/keep", 5, &f, &err), FLOE_OK);
    struct floe_catalog_stats stats;
    assert_int_equal(floe_catalog_stats(c, &stats, &err), FLOE_OK);
    assert_int_equal(stats.archives, 1);
    assert_int_equal(stats.file_versions, 1);
    floe_catalog_close(c);
    c = open_ok(path);
    assert_int_equal(floe_catalog_stats(c, &stats, &err), FLOE_OK);
    assert_int_equal(stats.archives, 1);
    floe_catalog_close(c);
    free(path);
}

struct collect {
    size_t n;
    char paths[16][64];
    int64_t superseded[16];
};

static int collect_fn(const struct floe_catalog_file *f, void *user)
{
    struct collect *col = user;
    if (col->n < 16) {
        snprintf(col->paths[col->n], 64, "%.*s", (int)f->path_len, f->path);
        col->superseded[col->n] = f->superseded_at;
    }
    col->n++;
    return 0;
}

/* Keeps the first three runs in runs[0..2]; runs[3].id counts them. */
static int run_fn(const struct floe_catalog_run *r, void *user)
{
    struct floe_catalog_run *runs = user;
    size_t i = (size_t)runs[3].id;
    if (i < 3)
        runs[i] = *r;
    runs[3].id = i + 1;
    return 0;
}

/* A hard link's row joins the archive of the first path: same frame, its own path; an unknown
 * archive or an empty path is refused with nothing written. */
static void test_catalog_record_link(void **state)
{
    (void)state;
    char *path = tpath("link.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    record_one(c, "L-1", "/s/a", 10);
    struct floe_catalog_file f, got;
    assert_int_equal(floe_catalog_lookup(c, "/s/a", 4, &f, &err), FLOE_OK);
    f.path = "/s/b";
    f.path_len = 4;
    assert_int_equal(floe_catalog_record_link(c, "L-1", &f, &err), FLOE_OK);
    assert_int_equal(floe_catalog_lookup(c, "/s/b", 4, &got, &err), FLOE_OK);
    assert_string_equal(got.archive_id, "L-1");
    assert_int_equal(got.size_bytes, 10);
    assert_int_equal(got.inode, 42);
    assert_int_equal(floe_catalog_record_link(c, "L-nope", &f, &err), FLOE_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "L-nope"));
    f.path = "/s/c";
    f.path_len = 0;
    assert_int_equal(floe_catalog_record_link(c, "L-1", &f, &err), FLOE_E_INVALID_ARG);
    assert_int_equal(floe_catalog_lookup(c, "/s/c", 4, &got, &err), FLOE_E_NOT_FOUND);
    /* a second link of the same path supersedes its previous row */
    f.path = "/s/b";
    f.path_len = 4;
    f.size_bytes = 10;
    assert_int_equal(floe_catalog_record_link(c, "L-1", &f, &err), FLOE_OK);
    struct floe_catalog_stats stats;
    assert_int_equal(floe_catalog_stats(c, &stats, &err), FLOE_OK);
    assert_int_equal(stats.files_current, 2);
    assert_int_equal(stats.file_versions, 3);
    floe_catalog_close(c);
    free(path);
}

/* A read transaction: lookups inside it work, it refuses to nest with itself or a write
 * transaction, and once it ends writes work again. */
static void test_catalog_read_snapshot(void **state)
{
    (void)state;
    char *path = tpath("readtx.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    record_one(c, "R-1", "/s/a", 10);
    assert_int_equal(floe_catalog_read_begin(c, &err), FLOE_OK);
    struct floe_catalog_file got;
    assert_int_equal(floe_catalog_lookup(c, "/s/a", 4, &got, &err), FLOE_OK);
    assert_string_equal(got.archive_id, "R-1");
    assert_int_equal(floe_catalog_lookup(c, "/s/b", 4, &got, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_catalog_read_begin(c, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "open already"));
    assert_int_not_equal(floe_catalog_begin(c, &err), FLOE_OK); /* no write inside it */
    floe_catalog_read_end(c);
    floe_catalog_read_end(c); /* none open: a no-op */
    record_one(c, "R-2", "/s/b", 20);
    assert_int_equal(floe_catalog_lookup(c, "/s/b", 4, &got, &err), FLOE_OK);
    assert_int_equal(got.size_bytes, 20);
    /* not inside a write transaction either, and read_end leaves that one alone */
    assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
    assert_int_equal(floe_catalog_read_begin(c, &err), FLOE_E_INVALID_ARG);
    floe_catalog_read_end(c);
    assert_true(floe_catalog_in_transaction(c));
    assert_int_equal(floe_catalog_commit(c, &err), FLOE_OK);
    floe_catalog_close(c);
    free(path);
}

/* floe's connection does not evaluate the schema's CHECKs (see floe_catalog_open): the API
 * refuses what they would, and another writer of the file still meets them. */
static void test_catalog_checks_by_api(void **state)
{
    (void)state;
    char *path = tpath("checks.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    struct floe_catalog_archive a;
    struct floe_catalog_file f;
    make_archive(&a, "K1", FLOE_CATALOG_KIND_COUNT);
    make_file(&f, "/k/1", 1);
    assert_int_equal(floe_catalog_record_archive(c, &a, &f, 1, &err), FLOE_E_INVALID_ARG);
    make_archive(&a, "K1", FLOE_CATALOG_KIND_FILE);
    f.compression = FLOE_CATALOG_COMP_COUNT;
    assert_int_equal(floe_catalog_record_archive(c, &a, &f, 1, &err), FLOE_E_INVALID_ARG);
    uint64_t run;
    assert_int_equal(floe_catalog_run_begin(c, &run, &err), FLOE_OK);
    assert_int_equal(floe_catalog_run_end(c, FLOE_CATALOG_OUTCOME_COUNT, NULL, &err),
                     FLOE_E_INVALID_ARG);
    assert_int_equal(floe_catalog_run_end(c, FLOE_CATALOG_OK, NULL, &err), FLOE_OK);
    record_one(c, "K2", "/k/2", 2);
    floe_catalog_close(c);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_extended_result_codes(db, 1);
    static const char *const bad[] = {
        "INSERT INTO archives (archive_id, size_bytes, tree_hash, kind, created_at)"
        " VALUES ('K3', 1, zeroblob(32), 'bogus', 1)",
        "INSERT INTO archives (archive_id, size_bytes, tree_hash, kind, created_at)"
        " VALUES ('K4', 1, zeroblob(31), 'file', 1)",
        "UPDATE files SET compression = 'lz4'",
        "UPDATE runs SET outcome = 'maybe'",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sqlite3_exec(db, bad[i], NULL, NULL, NULL), SQLITE_CONSTRAINT_CHECK);
    sqlite3_close(db);
    c = open_ok(path);
    struct floe_catalog_file got;
    assert_int_equal(floe_catalog_lookup(c, "/k/2", 4, &got, &err), FLOE_OK);
    assert_int_equal(got.compression, FLOE_CATALOG_COMP_NONE);
    floe_catalog_close(c);
    free(path);
}

/* A path recorded twice in one transaction (the second insert meets the first on files_current):
 * the first version is superseded, the second is current, the transaction goes on. */
static void test_catalog_new_version_in_transaction(void **state)
{
    (void)state;
    char *path = tpath("version-tx.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    record_one(c, "V0", "/data/a", 1); /* committed before: superseded in the transaction */
    assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
    record_one(c, "V1", "/data/a", 2);
    record_one(c, "V2", "/data/a", 3);
    record_one(c, "V3", "/data/b", 4);
    assert_true(floe_catalog_in_transaction(c));
    assert_int_equal(floe_catalog_commit(c, &err), FLOE_OK);
    struct floe_catalog_file got;
    assert_int_equal(floe_catalog_lookup(c, "/data/a", 7, &got, &err), FLOE_OK);
    assert_string_equal(got.archive_id, "V2");
    assert_int_equal(got.size_bytes, 3);
    assert_int_equal(got.superseded_at, 0);
    struct floe_catalog_stats stats;
    assert_int_equal(floe_catalog_stats(c, &stats, &err), FLOE_OK);
    assert_int_equal(stats.files_current, 2);
    assert_int_equal(stats.file_versions, 4);
    const char *old[] = {"V0", "V1"};
    for (int i = 0; i < 2; i++) {
        struct collect col = {0};
        assert_int_equal(floe_catalog_iter_archive_files(c, old[i], collect_fn, &col, &err),
                         FLOE_OK);
        assert_int_equal(col.n, 1);
        assert_string_equal(col.paths[0], "/data/a");
        assert_true(col.superseded[0] > 0);
    }
    floe_catalog_close(c);
    free(path);
}

static void test_catalog_versions_and_removed(void **state)
{
    (void)state;
    char *path = tpath("removed.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    uint64_t run1;
    assert_int_equal(floe_catalog_run_begin(c, &run1, &err), FLOE_OK);
    record_one(c, "R1-a", "/src/a", 1);
    record_one(c, "R1-b", "/src/b", 2);
    record_one(c, "R1-c", "/src/c", 3);
    record_one(c, "R1-d", "/src/d/x", 4);
    record_one(c, "R1-o", "/other/o", 5);
    /* recorded by this run: none is unseen */
    struct collect col = {0};
    assert_int_equal(floe_catalog_iter_unseen(c, "/src/", 5, collect_fn, &col, &err), FLOE_OK);
    assert_int_equal(col.n, 0);
    struct floe_catalog_run_counts counts = {.files_new = 5, .bytes_uploaded = 15};
    assert_int_equal(floe_catalog_run_end(c, FLOE_CATALOG_OK, &counts, &err), FLOE_OK);

    uint64_t run2;
    assert_int_equal(floe_catalog_run_begin(c, &run2, &err), FLOE_OK);
    assert_true(run2 > run1);
    assert_int_equal(floe_catalog_mark_seen(c, "/src/a", 6, &err), FLOE_OK);
    assert_int_equal(floe_catalog_mark_seen(c, "/src/a", 6, &err), FLOE_OK);   /* twice is fine */
    assert_int_equal(floe_catalog_mark_seen(c, "/src/new", 8, &err), FLOE_OK); /* not in it */
    record_one(c, "R2-b", "/src/b", 20); /* changed: a new version */
    memset(&col, 0, sizeof(col));
    assert_int_equal(floe_catalog_iter_unseen(c, "/src/", 5, collect_fn, &col, &err), FLOE_OK);
    assert_int_equal(col.n, 2);
    assert_string_equal(col.paths[0], "/src/c");
    assert_string_equal(col.paths[1], "/src/d/x");
    uint64_t removed = 0;
    assert_int_equal(floe_catalog_mark_unseen_removed(c, "/src/", 5, &removed, &err), FLOE_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(floe_catalog_run_end(c, FLOE_CATALOG_PARTIAL, NULL, &err), FLOE_OK);

    struct floe_catalog_file f;
    assert_int_equal(floe_catalog_lookup(c, "/src/c", 6, &f, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_catalog_lookup(c, "/src/b", 6, &f, &err), FLOE_OK);
    assert_int_equal(f.size_bytes, 20);
    assert_string_equal(f.archive_id, "R2-b");
    assert_int_equal(floe_catalog_lookup(c, "/other/o", 8, &f, &err), FLOE_OK); /* not in prefix */
    memset(&col, 0, sizeof(col));
    assert_int_equal(floe_catalog_iter_files(c, NULL, 0, collect_fn, &col, &err), FLOE_OK);
    assert_int_equal(col.n, 3);
    assert_string_equal(col.paths[0], "/other/o");
    assert_string_equal(col.paths[1], "/src/a");
    assert_string_equal(col.paths[2], "/src/b");
    /* every version an archive holds, superseded ones too */
    memset(&col, 0, sizeof(col));
    assert_int_equal(floe_catalog_iter_archive_files(c, "R1-b", collect_fn, &col, &err), FLOE_OK);
    assert_int_equal(col.n, 1);
    assert_int_equal(floe_catalog_iter_archive_files(c, "nope", collect_fn, &col, &err),
                     FLOE_E_NOT_FOUND);
    /* mark one path removed, then an archive deleted */
    assert_int_equal(floe_catalog_mark_removed(c, "/src/a", 6, &err), FLOE_OK);
    assert_int_equal(floe_catalog_mark_removed(c, "/src/a", 6, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_catalog_archive_deleted(c, "R1-o", 0, &err), FLOE_OK);
    assert_int_equal(floe_catalog_lookup(c, "/other/o", 8, &f, &err), FLOE_E_NOT_FOUND);
    struct floe_catalog_stats stats;
    assert_int_equal(floe_catalog_stats(c, &stats, &err), FLOE_OK);
    assert_int_equal(stats.files_current, 1);
    assert_int_equal(stats.file_versions, 6);
    assert_int_equal(stats.archives, 5);
    assert_int_equal(stats.runs, 2);
    /* runs newest first; a run left open by a killed process becomes interrupted */
    assert_int_equal(floe_catalog_run_begin(c, NULL, &err), FLOE_OK);
    floe_catalog_close(c);
    c = open_ok(path);
    struct floe_catalog_run runs[4] = {0};
    assert_int_equal(floe_catalog_iter_runs(c, run_fn, runs, &err), FLOE_OK);
    int nruns = (int)runs[3].id;
    assert_int_equal(nruns, 3);
    assert_int_equal(runs[0].outcome, FLOE_CATALOG_INTERRUPTED);
    assert_int_equal(runs[1].outcome, FLOE_CATALOG_PARTIAL);
    assert_int_equal(runs[2].outcome, FLOE_CATALOG_OK);
    assert_int_equal(runs[2].counts.files_new, 5);
    assert_int_equal(runs[2].counts.bytes_uploaded, 15);
    floe_catalog_close(c);
    free(path);
}

/* 100,000 files recorded in batches of 1,000 archives, then every one looked up. */
static void test_catalog_100k_rate(void **state)
{
    (void)state;
    enum { N = 100000, BATCH = 1000 };
    char *path = tpath("big.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    double t0 = now_cpu();
    char id[32], p[96];
    for (int i = 0; i < N; i++) {
        if (i % BATCH == 0)
            assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
        struct floe_catalog_archive a;
        struct floe_catalog_file f;
        snprintf(id, sizeof(id), "ARCHIVE-%08d", i);
        snprintf(p, sizeof(p), "/home/user/photos/%03d/IMG_%06d.jpg", i % 997, i);
        make_archive(&a, id, FLOE_CATALOG_KIND_FILE);
        make_file(&f, p, (uint64_t)i);
        assert_int_equal(floe_catalog_record_archive(c, &a, &f, 1, &err), FLOE_OK);
        if (i % BATCH == BATCH - 1)
            assert_int_equal(floe_catalog_commit(c, &err), FLOE_OK);
    }
    double t1 = now_cpu();
    for (int i = 0; i < N; i++) {
        struct floe_catalog_file f;
        snprintf(p, sizeof(p), "/home/user/photos/%03d/IMG_%06d.jpg", i % 997, i);
        assert_int_equal(floe_catalog_lookup(c, p, strlen(p), &f, &err), FLOE_OK);
        assert_int_equal(f.size_bytes, (uint64_t)i);
    }
    double t2 = now_cpu();
    for (int i = 0; i < N; i++) {
        struct floe_catalog_file f;
        snprintf(p, sizeof(p), "/home/user/photos/%03d/IMG_%06d.jpX", i % 997, i);
        assert_int_equal(floe_catalog_lookup(c, p, strlen(p), &f, &err), FLOE_E_NOT_FOUND);
    }
    double t3 = now_cpu();
    /* an unchanged re-run: every path looked up and marked seen, then the removed scan */
    assert_int_equal(floe_catalog_run_begin(c, NULL, &err), FLOE_OK);
    for (int i = 0; i < N; i++) {
        struct floe_catalog_file f;
        snprintf(p, sizeof(p), "/home/user/photos/%03d/IMG_%06d.jpg", i % 997, i);
        assert_int_equal(floe_catalog_lookup(c, p, strlen(p), &f, &err), FLOE_OK);
        if (i != 77)
            assert_int_equal(floe_catalog_mark_seen_id(c, f.id, &err), FLOE_OK);
    }
    double t4 = now_cpu();
    struct collect col = {0};
    assert_int_equal(floe_catalog_iter_unseen(c, NULL, 0, collect_fn, &col, &err), FLOE_OK);
    double t5 = now_cpu();
    assert_int_equal(col.n, 1);
    assert_string_equal(col.paths[0], "/home/user/photos/077/IMG_000077.jpg");
    assert_int_equal(floe_catalog_run_end(c, FLOE_CATALOG_OK, NULL, &err), FLOE_OK);
    printf("# catalog (CPU time): %d archives+files recorded (batches of %d, no_sync) in %.3f s = "
           "%.0f/s; "
           "%d lookups (hits) in %.3f s = %.0f/s; misses %.0f/s\n",
           N, BATCH, t1 - t0, N / (t1 - t0), N, t2 - t1, N / (t2 - t1), N / (t3 - t2));
    printf("# catalog (CPU time): unchanged re-run of %d files: lookup + mark_seen_id %.3f s "
           "(%.0f/s), "
           "removed scan %.3f s\n",
           N, t4 - t3, N / (t4 - t3), t5 - t4);
    floe_catalog_close(c);

    /* durable commits (synchronous=FULL): 20 batches of 100 archives */
    struct floe_catalog_options durable = {0};
    assert_int_equal(floe_catalog_open(path, &durable, &c, &err), FLOE_OK);
    double t6 = now_wall();
    for (int i = 0; i < 2000; i++) {
        if (i % 100 == 0)
            assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
        struct floe_catalog_archive a;
        struct floe_catalog_file f;
        snprintf(id, sizeof(id), "SYNCED-%08d", i);
        snprintf(p, sizeof(p), "/synced/%06d", i);
        make_archive(&a, id, FLOE_CATALOG_KIND_FILE);
        make_file(&f, p, 1);
        assert_int_equal(floe_catalog_record_archive(c, &a, &f, 1, &err), FLOE_OK);
        if (i % 100 == 99)
            assert_int_equal(floe_catalog_commit(c, &err), FLOE_OK);
    }
    double t7 = now_wall();
    printf("# catalog (wall time): 2000 archives in 20 durable commits (synchronous=FULL): %.3f s "
           "= %.0f/s, "
           "%.1f ms per commit\n",
           t7 - t6, 2000 / (t7 - t6), (t7 - t6) * 1000 / 20);
    floe_catalog_close(c);
    free(path);
}

struct names {
    int n;
    char ids[8][32];
};

static int names_fn(const struct floe_catalog_archive *a, void *user)
{
    struct names *nm = user;
    if (nm->n < 8)
        snprintf(nm->ids[nm->n], 32, "%.31s", a->archive_id);
    nm->n++;
    return 0;
}

struct prune_ctx {
    struct floe_catalog *c;
    const char *victim;
    int visits;
};

static int prune_fn(const struct floe_catalog_archive *a, void *user)
{
    struct prune_ctx *x = user;
    struct floe_error err = {0};
    x->visits++;
    if (strcmp(a->archive_id, x->victim) == 0)
        assert_int_equal(floe_catalog_archive_deleted(x->c, a->archive_id, 0, &err), FLOE_OK);
    return 0;
}

static void test_catalog_prunable(void **state)
{
    (void)state;
    char *path = tpath("prune.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    record_one(c, "V1", "/p/f", 1);   /* superseded by V2 below */
    record_one(c, "V2", "/p/f", 2);   /* current */
    record_one(c, "GONE", "/p/g", 3); /* removed below */
    struct floe_catalog_archive a;
    struct floe_catalog_file files[2];
    make_archive(&a, "PACK", FLOE_CATALOG_KIND_PACK);
    make_file(&files[0], "/p/packed1", 1);
    make_file(&files[1], "/p/packed2", 1);
    assert_int_equal(floe_catalog_record_archive(c, &a, files, 2, &err), FLOE_OK);
    assert_int_equal(floe_catalog_mark_removed(c, "/p/g", 4, &err), FLOE_OK);
    assert_int_equal(floe_catalog_mark_removed(c, "/p/packed1", 10, &err), FLOE_OK);
    for (int i = 0; i < 3; i++) { /* three snapshots, the newest stays */
        char id[16];
        snprintf(id, sizeof(id), "SNAP%d", i);
        make_archive(&a, id, FLOE_CATALOG_KIND_CATALOG);
        a.created_at = 1000 + i;
        assert_int_equal(floe_catalog_record_archive(c, &a, NULL, 0, &err), FLOE_OK);
    }
    int64_t later = time(NULL) + 10;
    struct names nm = {0};
    assert_int_equal(floe_catalog_iter_prunable(c, later, names_fn, &nm, &err), FLOE_OK);
    assert_int_equal(nm.n, 4); /* SNAP0, SNAP1 (oldest first), then V1 and GONE */
    assert_string_equal(nm.ids[0], "SNAP0");
    assert_string_equal(nm.ids[1], "SNAP1");
    assert_true((strcmp(nm.ids[2], "V1") == 0 && strcmp(nm.ids[3], "GONE") == 0) ||
                (strcmp(nm.ids[2], "GONE") == 0 && strcmp(nm.ids[3], "V1") == 0));
    /* too recent: only the old snapshots */
    memset(&nm, 0, sizeof(nm));
    assert_int_equal(floe_catalog_iter_prunable(c, time(NULL) - 3600, names_fn, &nm, &err),
                     FLOE_OK);
    assert_int_equal(nm.n, 2);
    /* the pack's last file goes: the pack too; deleted archives are not listed again, even
     * when deleted from inside the iteration */
    assert_int_equal(floe_catalog_mark_removed(c, "/p/packed2", 10, &err), FLOE_OK);
    struct prune_ctx px = {c, "V1", 0};
    assert_int_equal(floe_catalog_iter_prunable(c, later, prune_fn, &px, &err), FLOE_OK);
    assert_int_equal(px.visits, 5);
    memset(&nm, 0, sizeof(nm));
    assert_int_equal(floe_catalog_iter_prunable(c, later, names_fn, &nm, &err), FLOE_OK);
    assert_int_equal(nm.n, 4);
    bool pack = false;
    for (int i = 0; i < nm.n; i++) {
        pack |= strcmp(nm.ids[i], "PACK") == 0;
        assert_string_not_equal(nm.ids[i], "V1");
    }
    assert_true(pack);
    floe_catalog_close(c);
    free(path);
}

struct dump {
    char text[8192];
    size_t len;
};

/* Appends one file row's every field to a text dump, so two catalogs can be compared. */
static int dump_fn(const struct floe_catalog_file *f, void *user)
{
    struct dump *d = user;
    char hex[33];
    t_hex(f->xxh3_128, sizeof(f->xxh3_128), hex);
    int n =
        snprintf(d->text + d->len, sizeof(d->text) - d->len,
                 "%" PRId64 " %.*s %" PRIu64 " %d %" PRId64 " %" PRIu64 " %" PRIu64
                 " %d %s %d %s %" PRIu64 " %" PRIu64 " %d %" PRId64 " %" PRIu64 "\n",
                 f->id, (int)f->path_len, f->path, f->size_bytes, f->has_mtime, f->mtime_ns,
                 f->inode, f->device, f->has_xxh3, hex, f->has_tree_hash, f->archive_id,
                 f->offset_bytes, f->length_bytes, (int)f->compression, f->uploaded_at, f->run_id);
    d->len += (size_t)n;
    assert_true(d->len < sizeof(d->text));
    return 0;
}

static int dump_archive_fn(const struct floe_catalog_archive *a, void *user)
{
    struct dump *d = user;
    int n = snprintf(d->text + d->len, sizeof(d->text) - d->len,
                     "%s %" PRIu64 " %s %d %" PRId64 " %" PRId64 "\n", a->archive_id, a->size_bytes,
                     a->description, (int)a->kind, a->created_at, a->deleted_at);
    d->len += (size_t)n;
    return 0;
}

static void dump_catalog(struct floe_catalog *c, struct dump *d)
{
    struct floe_error err = {0};
    memset(d, 0, sizeof(*d));
    assert_int_equal(floe_catalog_iter_files(c, NULL, 0, dump_fn, d, &err), FLOE_OK);
    assert_int_equal(floe_catalog_iter_archives(c, true, dump_archive_fn, d, &err), FLOE_OK);
}

static void test_catalog_snapshot_round_trip(void **state)
{
    (void)state;
    char *path = tpath("snap-src.db"), *snap = tpath("snap.zst"), *back = tpath("snap-back.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_run_begin(c, NULL, &err), FLOE_OK);
    struct floe_catalog_archive a;
    struct floe_catalog_file files[3];
    make_archive(&a, "PACK-1", FLOE_CATALOG_KIND_PACK);
    make_file(&files[0], "/p/one", 10);
    make_file(&files[1], "/p/two \xff\xfe not utf-8", 20);
    make_file(&files[2], "/p/\xc3\xa9t\xc3\xa9", 30);
    for (int i = 0; i < 3; i++) {
        files[i].offset_bytes = (uint64_t)i * 100;
        files[i].has_xxh3 = true;
        memset(files[i].xxh3_128, 0x30 + i, sizeof(files[i].xxh3_128));
        files[i].compression = FLOE_CATALOG_COMP_ZSTD;
    }
    files[2].has_mtime = false;
    assert_int_equal(floe_catalog_record_archive(c, &a, files, 3, &err), FLOE_OK);
    record_one(c, "FILE-1", "/big", 1 << 30);
    assert_int_equal(floe_catalog_archive_deleted(c, "FILE-1", 1700000500, &err), FLOE_OK);
    /* not inside a transaction */
    assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
    assert_int_equal(floe_catalog_snapshot(c, snap, &err), FLOE_E_INVALID_ARG);
    floe_catalog_rollback(c);
    assert_int_equal(floe_catalog_snapshot(c, snap, &err), FLOE_OK);
    struct dump d1, d2;
    dump_catalog(c, &d1);
    floe_catalog_close(c);

    int ust = floe_catalog_snapshot_unpack(snap, back, &err);
    if (ust != FLOE_OK)
        fprintf(stderr, "unpack: %s\n", err.message);
    assert_int_equal(ust, FLOE_OK);
    assert_int_equal(floe_catalog_snapshot_unpack(snap, back, &err), FLOE_E_INVALID_ARG);
    c = open_ok(back);
    dump_catalog(c, &d2);
    assert_string_equal(d1.text, d2.text);
    assert_non_null(strstr(d2.text, "PACK-1"));
    floe_catalog_close(c);

    /* a damaged snapshot: refused, nothing left behind */
    FILE *f = fopen(snap, "r+b");
    fseek(f, 40, SEEK_SET);
    fputc(0x5a ^ fgetc(f), f);
    fclose(f);
    char *bad = tpath("snap-bad.db");
    int st = floe_catalog_snapshot_unpack(snap, bad, &err);
    assert_int_equal(st, FLOE_E_CORRUPT);
    assert_int_not_equal(access(bad, F_OK), 0);
    /* a truncated one */
    assert_int_equal(truncate(snap, 30), 0);
    assert_int_equal(floe_catalog_snapshot_unpack(snap, bad, &err), FLOE_E_CORRUPT);
    assert_int_not_equal(access(bad, F_OK), 0);
    free(bad);
    free(path);
    free(snap);
    free(back);
}

struct jobs_seen {
    int n;
    int64_t ids[8];
    enum floe_catalog_job_status status[8];
    char job_ids[8][32];
};

static int jobs_fn(const struct floe_catalog_job *j, void *user)
{
    struct jobs_seen *js = user;
    js->ids[js->n] = j->id;
    js->status[js->n] = j->status;
    snprintf(js->job_ids[js->n], 32, "%s", j->job_id);
    js->n++;
    return 0;
}

static int rfiles_fn(const struct floe_catalog_restore_file *f, void *user)
{
    (*(int *)user)++;
    assert_true(f->dest_path_len > 0);
    return 0;
}

struct set_ctx {
    struct floe_catalog *c;
    int visits;
};

static int set_done_fn(const struct floe_catalog_restore_file *f, void *user)
{
    struct set_ctx *x = user;
    struct floe_error err = {0};
    x->visits++;
    assert_int_equal(floe_catalog_restore_set_file(x->c, f->restore_id, f->file_id,
                                                   FLOE_CATALOG_RFILE_DONE, &err),
                     FLOE_OK);
    return 0;
}

/* The restore updates each file's status from inside the iteration over the pending ones: each
 * write commits at once, every row is visited exactly once. */
static void test_catalog_write_inside_iteration(void **state)
{
    (void)state;
    char *path = tpath("inside.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    struct floe_catalog_archive a;
    struct floe_catalog_file files[50];
    char names[50][16];
    make_archive(&a, "PACK", FLOE_CATALOG_KIND_PACK);
    for (int i = 0; i < 50; i++) {
        snprintf(names[i], sizeof(names[i]), "/in/%02d", i);
        make_file(&files[i], names[i], 1);
    }
    assert_int_equal(floe_catalog_record_archive(c, &a, files, 50, &err), FLOE_OK);
    uint64_t rid;
    int64_t job;
    assert_int_equal(floe_catalog_restore_begin(c, "/to", &rid, &err), FLOE_OK);
    assert_int_equal(floe_catalog_restore_add_job(c, rid, "PACK", 0, 0, "Bulk", &job, &err),
                     FLOE_OK);
    for (int i = 0; i < 50; i++) {
        struct floe_catalog_file f;
        assert_int_equal(floe_catalog_lookup(c, names[i], strlen(names[i]), &f, &err), FLOE_OK);
        assert_int_equal(
            floe_catalog_restore_add_file(c, rid, f.id, job, names[i], strlen(names[i]), &err),
            FLOE_OK);
    }
    struct set_ctx x = {c, 0};
    assert_int_equal(floe_catalog_restore_iter_files(c, rid, job, true, set_done_fn, &x, &err),
                     FLOE_OK);
    assert_int_equal(x.visits, 50);
    floe_catalog_close(c); /* every write committed */
    c = open_ok(path);
    int pending = 0;
    assert_int_equal(floe_catalog_restore_iter_files(c, rid, 0, true, rfiles_fn, &pending, &err),
                     FLOE_OK);
    assert_int_equal(pending, 0);
    floe_catalog_close(c);
    free(path);
}

static void test_catalog_restore_tables(void **state)
{
    (void)state;
    char *path = tpath("restore.db");
    struct floe_catalog *c = open_ok(path);
    struct floe_error err = {0};
    record_one(c, "ARCH-A", "/r/a", 100);
    record_one(c, "ARCH-B", "/r/b", 200);
    struct floe_catalog_file fa, fb;
    assert_int_equal(floe_catalog_lookup(c, "/r/a", 4, &fa, &err), FLOE_OK);
    assert_int_equal(floe_catalog_lookup(c, "/r/b", 4, &fb, &err), FLOE_OK);

    uint64_t rid;
    assert_int_equal(floe_catalog_restore_find(c, "/restore/to", &rid, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_catalog_restore_begin(c, "/restore/to", &rid, &err), FLOE_OK);
    int64_t ja, jb, ja2;
    assert_int_equal(floe_catalog_begin(c, &err), FLOE_OK);
    assert_int_equal(floe_catalog_restore_add_job(c, rid, "ARCH-A", 0, 100, "Bulk", &ja, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_restore_add_job(c, rid, "ARCH-B", 0, 200, "Bulk", &jb, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_restore_add_job(c, rid, "ARCH-A", 0, 100, "Bulk", &ja2, &err),
                     FLOE_OK);
    assert_int_equal(ja, ja2); /* idempotent */
    assert_int_equal(floe_catalog_restore_add_job(c, rid, "NOPE", 0, 1, "Bulk", &ja2, &err),
                     FLOE_E_NOT_FOUND);
    assert_true(floe_catalog_in_transaction(c));
    assert_int_equal(floe_catalog_restore_add_file(c, rid, fa.id, ja, "/restore/to/r/a", 15, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_restore_add_file(c, rid, fb.id, jb, "/restore/to/r/b", 15, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_commit(c, &err), FLOE_OK);
    assert_int_equal(floe_catalog_restore_set_job(c, ja, "JOB-1", FLOE_CATALOG_JOB_INITIATED, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_restore_set_job(c, ja, NULL, FLOE_CATALOG_JOB_SUCCEEDED, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_restore_set_file(c, rid, fa.id, FLOE_CATALOG_RFILE_DONE, &err),
                     FLOE_OK);
    floe_catalog_close(c); /* killed here */

    c = open_ok(path);
    uint64_t rid2;
    assert_int_equal(floe_catalog_restore_find(c, "/restore/to", &rid2, &err), FLOE_OK);
    assert_int_equal(rid2, rid);
    struct jobs_seen js = {0};
    assert_int_equal(floe_catalog_restore_iter_jobs(c, rid, jobs_fn, &js, &err), FLOE_OK);
    assert_int_equal(js.n, 2);
    assert_int_equal(js.status[0], FLOE_CATALOG_JOB_SUCCEEDED);
    assert_string_equal(js.job_ids[0], "JOB-1");
    assert_int_equal(js.status[1], FLOE_CATALOG_JOB_PLANNED);
    assert_string_equal(js.job_ids[1], "");
    int pending = 0, all = 0, of_a = 0;
    assert_int_equal(floe_catalog_restore_iter_files(c, rid, 0, true, rfiles_fn, &pending, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_restore_iter_files(c, rid, 0, false, rfiles_fn, &all, &err),
                     FLOE_OK);
    assert_int_equal(floe_catalog_restore_iter_files(c, rid, ja, false, rfiles_fn, &of_a, &err),
                     FLOE_OK);
    assert_int_equal(pending, 1);
    assert_int_equal(all, 2);
    assert_int_equal(of_a, 1);
    /* a later restore reuses the succeeded job, unless it is too old */
    char job_id[FLOE_CATALOG_ID_MAX];
    assert_int_equal(floe_catalog_find_job(c, "ARCH-A", 0, 100, time(NULL) - 3600, job_id, &err),
                     FLOE_OK);
    assert_string_equal(job_id, "JOB-1");
    assert_int_equal(floe_catalog_find_job(c, "ARCH-A", 0, 100, time(NULL) + 10, job_id, &err),
                     FLOE_E_NOT_FOUND);
    assert_int_equal(floe_catalog_find_job(c, "ARCH-B", 0, 200, 0, job_id, &err),
                     FLOE_E_NOT_FOUND); /* planned only */
    assert_int_equal(floe_catalog_restore_end(c, rid, true, &err), FLOE_OK);
    assert_int_equal(floe_catalog_restore_find(c, "/restore/to", &rid2, &err), FLOE_E_NOT_FOUND);
    floe_catalog_close(c);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_create_reopen),
        cmocka_unit_test(test_catalog_newer_schema_refused),
        cmocka_unit_test(test_catalog_lock_contention),
        cmocka_unit_test(test_catalog_corrupt_refused),
        cmocka_unit_test(test_catalog_duplicate_in_transaction),
        cmocka_unit_test(test_catalog_new_version_in_transaction),
        cmocka_unit_test(test_catalog_checks_by_api),
        cmocka_unit_test(test_catalog_damaged_pages),
        cmocka_unit_test(test_catalog_full_rolls_back),
        cmocka_unit_test(test_catalog_versions_and_removed),
        cmocka_unit_test(test_catalog_record_link),
        cmocka_unit_test(test_catalog_read_snapshot),
        cmocka_unit_test(test_catalog_prunable),
        cmocka_unit_test(test_catalog_snapshot_round_trip),
        cmocka_unit_test(test_catalog_restore_tables),
        cmocka_unit_test(test_catalog_write_inside_iteration),
        cmocka_unit_test(test_catalog_100k_rate),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
