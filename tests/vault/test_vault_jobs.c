/*
 * test_vault_jobs.c - the job scheduler without HTTP: due jobs complete and others wait,
 * ranged tree hashes come from stored leaves and match a hash of the bytes, inventories
 * (JSON and CSV with the backslash quoting rule) list the vault, a job on a deleted archive
 * fails, and garbage collection removes expired jobs and unreferenced archive data.
 */
#include "jobs.h"
#include "server.h"
#include "store_blob.h"
#include "store_db.h"
#include "vutil.h"
#include "floe/range.h"
#include "floe/treehash.h"
#include "t_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1u << 20)
#define PART (2 * MIB)
#define SIZE (5 * MIB + 5)

static struct floe_vserver s_srv;
static uint8_t *s_data;

/* An archive of SIZE bytes stored as 3 segments of PART bytes (a completed multipart). */
static void add_archive(const char *id, const char *desc, int64_t created)
{
    struct floe_error err = {0};
    uint8_t tree[32];
    char hex[65], atree[65];
    floe_treehash_part(s_data, SIZE, NULL, tree, NULL);
    floe_treehash_hex(tree, atree);
    for (int i = 0; i * PART < SIZE; i++) {
        size_t len = SIZE - i * PART < PART ? SIZE - i * PART : PART;
        struct floe_vblob_writer w = {.fd = -1};
        uint8_t leaves[2][32];
        assert_int_equal(floe_vblob_create(s_srv.blobs, &w, &err), FLOE_OK);
        floe_vblob_write(&w, s_data + i * PART, len, &err);
        assert_int_equal(floe_vblob_finish(s_srv.blobs, &w, &err), FLOE_OK);
        floe_treehash_part(s_data + i * PART, len, leaves, tree, NULL);
        floe_treehash_hex(tree, hex);
        assert_int_equal(floe_vdb_exec(s_srv.db, &err,
                                       "INSERT INTO segments(owner, idx, blob, len, tree_hash,"
                                       " leaves) VALUES(?, ?, ?, ?, ?, ?)",
                                       "tititb", id, (int64_t)i, w.name, (int64_t)len, hex,
                                       (const void *)leaves,
                                       (int64_t)(floe_treehash_leaf_count(len) * 32)),
                         FLOE_OK);
    }
    assert_int_equal(floe_vdb_exec(s_srv.db, &err,
                                   "INSERT INTO archives(id, vault, description, created_ms, size,"
                                   " tree_hash, part_size, nparts, seg_owner) VALUES(?1, 'v', ?2,"
                                   " ?3, ?4, ?5, ?6, 3, ?1)",
                                   "ttiiti", id, desc, created, (int64_t)SIZE, atree,
                                   (int64_t)PART),
                     FLOE_OK);
}

static void add_job(const char *id, const char *action, const char *archive, int64_t due,
                    uint64_t first, uint64_t last, const char *format)
{
    struct floe_error err = {0};
    assert_int_equal(floe_vdb_exec(s_srv.db, &err,
                                   "INSERT INTO jobs(id, vault, action, archive_id, created_ms,"
                                   " due_ms, status, range_first, range_last, archive_size,"
                                   " format) VALUES(?, 'v', ?, ?, 0, ?, 'InProgress', ?, ?, ?, ?)",
                                   "tttiiiit", id, action, archive, due, (int64_t)first,
                                   (int64_t)last, (int64_t)SIZE, format),
                     FLOE_OK);
}

static int setup(void **state)
{
    char dir[600], path[700];
    struct floe_error err = {0};
    static int n;
    snprintf(dir, sizeof(dir), "%s/jobs%d", t_temp_dir(), n++);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/db", dir);
    memset(&s_srv, 0, sizeof(s_srv));
    floe_vconfig_defaults(&s_srv.cfg);
    s_srv.cfg.data_dir = strdup(dir);
    s_srv.cfg.log_level = FLOE_VLOG_ERROR;
    assert_int_equal(floe_vdb_open(path, &s_srv.db, &err), FLOE_OK);
    assert_int_equal(floe_vblob_open(dir, &s_srv.blobs, &err), FLOE_OK);
    if (!s_data) {
        s_data = malloc(SIZE);
        for (size_t i = 0; i < SIZE; i++)
            s_data[i] = (uint8_t)(i % 251);
    }
    floe_vdb_exec(s_srv.db, &err, "INSERT INTO vaults(name, created_ms) VALUES('v', 0)", "");
    return 0;
}

static int teardown(void **state)
{
    floe_vdb_close(s_srv.db);
    floe_vblob_close(s_srv.blobs);
    floe_vconfig_free(&s_srv.cfg); /* every string and the access keys' list */
    return 0;
}

static json_t *describe(const char *id)
{
    static const char *sql = "SELECT " FLOE_VJOBS_COLUMNS " FROM jobs WHERE id = ?";
    sqlite3_stmt *st = floe_vdb_stmt(s_srv.db, sql);
    floe_vdb_bind(st, "t", id);
    json_t *o = sqlite3_step(st) == SQLITE_ROW ? floe_vjobs_row_json(&s_srv, st) : NULL;
    sqlite3_reset(st);
    return o;
}

static void test_range_tree_hash_from_leaves(void **state)
{
    struct floe_error err = {0};
    add_archive("a1", "d", 1);
    /* every tree-hash-aligned range of the 6-leaf archive, checked against the bytes */
    int checked = 0;
    for (uint64_t a = 0; a < 6; a++) {
        for (uint64_t b = a + 1; b <= 6; b++) {
            struct floe_byte_range r = {a * MIB, b == 6 ? SIZE - 1 : b * MIB - 1};
            if (!floe_range_is_tree_aligned(r, SIZE))
                continue;
            uint8_t got[32], want[32];
            assert_int_equal(
                floe_vjobs_range_tree_hash(&s_srv, "a1", PART, r.first, r.last, got, &err),
                FLOE_OK);
            floe_treehash_part(s_data + r.first, floe_range_len(r), NULL, want, NULL);
            assert_memory_equal(got, want, 32);
            checked++;
        }
    }
    assert_true(checked >= 6);
}

static void test_tick_completes_only_due_jobs(void **state)
{
    add_archive("a1", "d", 1);
    add_job("due", "ArchiveRetrieval", "a1", 100, 2 * MIB, 4 * MIB - 1, NULL);
    add_job("later", "ArchiveRetrieval", "a1", 10000, 0, SIZE - 1, NULL);
    floe_vjobs_tick(&s_srv, 500);
    json_t *d = describe("due"), *l = describe("later");
    assert_string_equal(json_string_value(json_object_get(d, "StatusCode")), "Succeeded");
    assert_true(json_is_true(json_object_get(d, "Completed")));
    uint8_t want[32];
    char hex[65];
    floe_treehash_part(s_data + 2 * MIB, 2 * MIB, NULL, want, NULL);
    floe_treehash_hex(want, hex);
    assert_string_equal(json_string_value(json_object_get(d, "SHA256TreeHash")), hex);
    assert_string_equal(json_string_value(json_object_get(d, "RetrievalByteRange")),
                        "2097152-4194303");
    assert_string_equal(json_string_value(json_object_get(l, "StatusCode")), "InProgress");
    assert_true(json_is_null(json_object_get(l, "CompletionDate")));
    assert_true(json_is_null(json_object_get(l, "SHA256TreeHash")));
    json_decref(d);
    json_decref(l);
}

static char *read_output(const char *job)
{
    static const char *sql = "SELECT output_blob, inventory_size FROM jobs WHERE id = ?";
    sqlite3_stmt *st = floe_vdb_stmt(s_srv.db, sql);
    floe_vdb_bind(st, "t", job);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int fd = floe_vblob_open_read(s_srv.blobs, floe_vdb_text(st, 0));
    size_t n = (size_t)floe_vdb_int(st, 1);
    sqlite3_reset(st);
    assert_true(fd >= 0);
    char *buf = calloc(1, n + 1);
    assert_int_equal(read(fd, buf, n), (ssize_t)n);
    close(fd);
    return buf;
}

static void test_inventory_json_and_csv(void **state)
{
    add_archive("a1", "plain", 1000);
    add_archive("a2", "my archive description,1\"2", 2000);
    add_job("inv-json", "InventoryRetrieval", NULL, 0, 0, 0, "JSON");
    add_job("inv-csv", "InventoryRetrieval", NULL, 0, 0, 0, "CSV");
    floe_vjobs_tick(&s_srv, 10);
    char *js = read_output("inv-json");
    json_t *inv = json_loads(js, 0, NULL);
    assert_non_null(inv);
    json_t *list = json_object_get(inv, "ArchiveList");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(list, 1), "ArchiveDescription")),
        "my archive description,1\"2");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "Size")), SIZE);
    json_decref(inv);
    free(js);
    char *csv = read_output("inv-csv");
    assert_non_null(strstr(csv, "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
                                "a1,\"plain\",1970-01-01T00:00:01.000Z,5242885,"));
    assert_non_null(strstr(csv, "\na2,\"my archive description,1\\\"2\",1970-01-01T00:00:02.000Z"));
    free(csv);
}

static void test_deleted_archive_fails_and_gc(void **state)
{
    struct floe_error err = {0};
    add_archive("a1", "d", 1);
    add_job("j", "ArchiveRetrieval", "a1", 0, 0, SIZE - 1, NULL);
    floe_vdb_exec(s_srv.db, &err, "UPDATE archives SET deleted_ms = 1 WHERE id = 'a1'", "");
    floe_vjobs_tick(&s_srv, 10);
    json_t *d = describe("j");
    assert_string_equal(json_string_value(json_object_get(d, "StatusCode")), "Failed");
    assert_non_null(strstr(json_string_value(json_object_get(d, "StatusMessage")), "deleted"));
    json_decref(d);
    /* no job serves the deleted archive: its segments and blobs are gone */
    sqlite3_stmt *st = floe_vdb_stmt(s_srv.db, "SELECT COUNT(*) FROM segments");
    sqlite3_step(st);
    assert_int_equal(floe_vdb_int(st, 0), 0);
    sqlite3_reset(st);
    /* the finished job expires after job_expiry_ms */
    floe_vjobs_tick(&s_srv, floe_vutil_now_ms() + s_srv.cfg.job_expiry_ms + 1000);
    assert_null(describe("j"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_range_tree_hash_from_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_completes_only_due_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inventory_json_and_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_archive_fails_and_gc, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(s_data);
    t_cleanup_temp();
    return rc;
}
