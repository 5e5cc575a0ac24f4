/*
 * commit.c - group commit of request metadata (see commit.h).
 *
 * DESIGN
 * One queue of waiting units under one mutex and one condition variable. A unit is on the
 * caller's stack; the caller waits until the leader marks it done. Only one group is in
 * flight at a time (leader_active), so a unit that arrives while a group commits waits for
 * the next group, which then carries everything that arrived meanwhile: the batch size
 * adapts to the load without a timer. The leader takes the whole queue, releases the mutex,
 * does the directory fsync (if any unit needs it) and the transaction, then marks the units
 * done under the mutex and broadcasts; a still-waiting unit whose caller wakes finds no
 * leader and becomes the next one.
 *
 * Durability: each blob file was fdatasync'd and closed by its own request before it queued,
 * and its directory entry was created before that; the leader's fsync(blobs/) therefore covers
 * every blob of the group, and it happens before BEGIN, so a row is never committed before
 * the entry of the blob it names is durable. A body in a log blob was written (pwrite) before
 * its request queued; the leader's fdatasync of that log, before BEGIN, covers it (and the
 * first sync of a log fsyncs blobs/ for its entry). A unit is reported FLOE_OK only after COMMIT
 * (synchronous=FULL: the WAL is fsynced) returned.
 */
#include "commit.h"

#include "alloc.h"
#include "store_blob.h"
#include "store_db.h"

#include <pthread.h>
#include <stdlib.h>

struct unit {
    floe_vcommit_fn *fn;
    void *arg;
    bool sync_dir;              /* a file of its own: its directory entry */
    struct floe_vblob_log *log; /* a body in this log blob, or NULL */
    bool done;
    int rc;
    struct floe_error *err; /* the caller's */
    struct unit *next;
};

struct floe_vcommit {
    struct floe_vdb *db;
    struct floe_vblob *blobs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct unit *head, **tail; /* waiting units, arrival order */
    bool leader_active;
    unsigned long long groups, units;
};

struct floe_vcommit *floe_vcommit_open(struct floe_vdb *db, struct floe_vblob *blobs)
{
    struct floe_vcommit *gc = floe_xcalloc(1, sizeof(*gc));
    gc->db = db;
    gc->blobs = blobs;
    pthread_mutex_init(&gc->mu, NULL);
    pthread_cond_init(&gc->cv, NULL);
    gc->tail = &gc->head;
    return gc;
}

void floe_vcommit_close(struct floe_vcommit *gc)
{
    if (!gc)
        return;
    pthread_cond_destroy(&gc->cv);
    pthread_mutex_destroy(&gc->mu);
    free(gc);
}

/* Every unit of the group fails with the same error. */
static void fail_all(struct unit *g, const struct floe_error *e)
{
    for (struct unit *u = g; u; u = u->next) {
        if (u->rc == FLOE_OK) {
            *u->err = *e;
            u->rc = FLOE_E_IO;
        }
    }
}

/* The leader's work, no committer mutex held. */
static void commit_group(struct floe_vcommit *gc, struct unit *g)
{
    struct floe_error e = {0};
    bool sync = false;
    for (struct unit *u = g; u; u = u->next) {
        sync = sync || u->sync_dir;
        if (!u->log)
            continue;
        bool seen = false; /* one fdatasync per log, however many bodies it got */
        for (struct unit *v = g; v != u && !seen; v = v->next)
            seen = v->log == u->log;
        if (!seen && floe_vblob_log_sync(gc->blobs, u->log, &e) != FLOE_OK) {
            fail_all(g, &e);
            return;
        }
    }
    if (sync && floe_vblob_sync_dir(gc->blobs, &e) != FLOE_OK) {
        fail_all(g, &e);
        return;
    }
    floe_vdb_lock(gc->db);
    if (floe_vdb_begin(gc->db, &e) != FLOE_OK) {
        floe_vdb_unlock(gc->db);
        fail_all(g, &e);
        return;
    }
    for (struct unit *u = g; u; u = u->next) {
        u->rc = floe_vdb_savepoint(gc->db, u->err);
        if (u->rc == FLOE_OK)
            u->rc = u->fn(u->arg, u->err);
        if (u->rc == FLOE_OK)
            u->rc = floe_vdb_release(gc->db, u->err);
        if (u->rc != FLOE_OK)
            floe_vdb_rollback_to(gc->db);
        if (!floe_vdb_in_transaction(gc->db)) {
            /* SQLite rolled the whole transaction back after this unit's error: the units
             * before it lost their rows too, and the ones after it must not run outside a
             * transaction (each statement would commit alone). Fail the whole group. */
            floe_error_set(&e, FLOE_E_IO, "group transaction rolled back: %s", u->err->message);
            for (struct unit *v = u->next; v; v = v->next)
                v->rc = FLOE_OK; /* not run: failed below with the others */
            fail_all(g, &e);
            floe_vdb_unlock(gc->db);
            return;
        }
    }
    if (floe_vdb_commit(gc->db, &e) != FLOE_OK) /* rolls back on failure */
        fail_all(g, &e);
    floe_vdb_unlock(gc->db);
}

int floe_vcommit_run(struct floe_vcommit *gc, const struct floe_vblob_writer *blob,
                     floe_vcommit_fn *fn, void *arg, struct floe_error *err)
{
    struct unit me = {.fn = fn, .arg = arg, .err = err};
    if (blob) {
        me.log = floe_vblob_writer_log(blob);
        me.sync_dir = !me.log;
    }
    pthread_mutex_lock(&gc->mu);
    *gc->tail = &me;
    gc->tail = &me.next;
    while (!me.done) {
        if (gc->leader_active) {
            pthread_cond_wait(&gc->cv, &gc->mu);
            continue;
        }
        /* lead: take every waiting unit (me among them) */
        gc->leader_active = true;
        struct unit *g = gc->head;
        gc->head = NULL;
        gc->tail = &gc->head;
        pthread_mutex_unlock(&gc->mu);
        commit_group(gc, g);
        pthread_mutex_lock(&gc->mu);
        unsigned long long n = 0;
        for (struct unit *u = g, *next; u; u = next) {
            next = u->next; /* u may be gone as soon as done is seen */
            u->done = true;
            n++;
        }
        gc->groups++;
        gc->units += n;
        gc->leader_active = false;
        pthread_cond_broadcast(&gc->cv);
    }
    pthread_mutex_unlock(&gc->mu);
    return me.rc;
}

void floe_vcommit_stats(struct floe_vcommit *gc, unsigned long long *groups,
                        unsigned long long *units)
{
    pthread_mutex_lock(&gc->mu);
    *groups = gc->groups;
    *units = gc->units;
    pthread_mutex_unlock(&gc->mu);
}
