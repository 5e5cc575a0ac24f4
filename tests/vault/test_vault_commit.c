/*
 * test_vault_commit.c - floe-vault's group committer (src/vault/commit.h): units queued while
 * a group commits go together into the next group (one transaction), every unit's rows are
 * durable (present after reopen) when floe_vcommit_run() returns FLOE_OK, a unit whose own
 * work fails is rolled back alone while the rest of its group commits, and a unit whose error
 * ends the transaction fails its whole group with no row left.
 */
#include "commit.h"
#include "store_blob.h"
#include "store_db.h"
#include "t_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTHREADS 8

static char s_dir[512];

static int setup(void **state)
{
    static int n;
    snprintf(s_dir, sizeof(s_dir), "%s/commit%d", t_temp_dir(), n++);
    mkdir(s_dir, 0700);
    return 0;
}

struct env {
    struct floe_vdb *db;
    struct floe_vblob *blobs;
    struct floe_vcommit *gc;
    atomic_int in_first; /* the first unit's work has started */
};

struct job {
    struct env *e;
    int i;
    bool fail;  /* insert, then report an error */
    bool abort; /* insert, then end the whole transaction (as SQLite does on SQLITE_FULL) */
    int rc;
};

static int insert_vault(void *arg, struct floe_error *err)
{
    struct job *j = arg;
    char name[32];
    snprintf(name, sizeof(name), "v%d", j->i);
    int rc = floe_vdb_exec(j->e->db, err, "INSERT INTO vaults(name, created_ms) VALUES(?, ?)", "ti",
                           name, (int64_t)j->i);
    if (j->i == 0) { /* hold the first group open while the others queue */
        atomic_store(&j->e->in_first, 1);
        usleep(300 * 1000);
    }
    if (!rc && j->fail)
        rc = floe_error_set(err, FLOE_E_NOT_FOUND, "unit %d fails", j->i);
    if (!rc && j->abort) {
        floe_vdb_rollback(j->e->db);
        rc = floe_error_set(err, FLOE_E_IO, "unit %d: disk full", j->i);
    }
    return rc;
}

static void *run_job(void *arg)
{
    struct job *j = arg;
    struct floe_error err = {0};
    j->rc = floe_vcommit_run(j->e->gc, NULL, insert_vault, j, &err);
    return NULL;
}

static int64_t count(struct floe_vdb *db, const char *sql)
{
    floe_vdb_lock(db);
    sqlite3_stmt *st = floe_vdb_stmt(db, sql);
    sqlite3_step(st);
    int64_t v = floe_vdb_int(st, 0);
    sqlite3_reset(st);
    floe_vdb_unlock(db);
    return v;
}

static void open_env(struct env *e)
{
    char path[600];
    struct floe_error err = {0};
    snprintf(path, sizeof(path), "%s/db", s_dir);
    assert_int_equal(floe_vdb_open(path, &e->db, &err), FLOE_OK);
    assert_int_equal(floe_vblob_open(s_dir, &e->blobs, &err), FLOE_OK);
    e->gc = floe_vcommit_open(e->db, e->blobs);
}

static void close_env(struct env *e)
{
    floe_vcommit_close(e->gc);
    floe_vblob_close(e->blobs);
    floe_vdb_close(e->db);
}

static void run_group(struct env *e, struct job jobs[NTHREADS], int fail, int abort)
{
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        jobs[i] = (struct job){.e = e, .i = i, .fail = i == fail, .abort = i == abort, .rc = -1};
    assert_int_equal(pthread_create(&th[0], NULL, run_job, &jobs[0]), 0);
    while (!atomic_load(&e->in_first))
        usleep(1000);
    for (int i = 1; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    unsigned long long groups = 0, units = 0;
    floe_vcommit_stats(e->gc, &groups, &units);
    assert_int_equal(units, NTHREADS);
    /* the first alone; the other seven queued during its 300 ms and went together (a third
     * group only if a thread was not even scheduled in that time) */
    assert_true(groups >= 2 && groups <= 3);
}

static void test_group(void **state)
{
    struct env e = {0};
    struct job jobs[NTHREADS];
    open_env(&e);
    run_group(&e, jobs, 3, -1);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(jobs[i].rc, i == 3 ? FLOE_E_NOT_FOUND : FLOE_OK);
    close_env(&e);
    /* durable: every acknowledged row is there after reopen, the failed unit's is not */
    open_env(&e);
    assert_int_equal(count(e.db, "SELECT count(*) FROM vaults"), NTHREADS - 1);
    assert_int_equal(count(e.db, "SELECT count(*) FROM vaults WHERE name = 'v3'"), 0);
    close_env(&e);
}

/* A unit's error that ends the transaction fails its whole group: no unit of it is
 * acknowledged and none of its rows remain; a row exists exactly for each FLOE_OK. */
static void test_group_transaction_lost(void **state)
{
    struct env e = {0};
    struct job jobs[NTHREADS];
    open_env(&e);
    run_group(&e, jobs, -1, 5);
    assert_int_equal(jobs[0].rc, FLOE_OK);
    assert_int_equal(jobs[5].rc, FLOE_E_IO);
    close_env(&e);
    open_env(&e);
    for (int i = 0; i < NTHREADS; i++) { /* floe_vdb_stmt caches by pointer: bind the name */
        char name[32];
        snprintf(name, sizeof(name), "v%d", i);
        floe_vdb_lock(e.db);
        sqlite3_stmt *st = floe_vdb_stmt(e.db, "SELECT count(*) FROM vaults WHERE name = ?");
        floe_vdb_bind(st, "t", name);
        sqlite3_step(st);
        int64_t n = floe_vdb_int(st, 0);
        sqlite3_reset(st);
        floe_vdb_unlock(e.db);
        assert_int_equal(n, jobs[i].rc == FLOE_OK ? 1 : 0);
    }
    close_env(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_group, setup),
        cmocka_unit_test_setup(test_group_transaction_lost, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
