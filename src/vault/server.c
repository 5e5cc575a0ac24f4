/*
 * server.c - start and stop floe-vault's subsystems in order (see server.h).
 *
 * DESIGN
 * Start order: data dir -> database -> blob store -> group committer -> sweep of orphan blobs
 * (files no row names: uploads cut short by a crash) -> notifier -> scheduler -> HTTP. Stop runs in
 * reverse, so no request can reach a closed store. Jobs InProgress at a crash are simply
 * picked up again by the scheduler: their state lives only in the database.
 */
#include "server.h"

#include "alloc.h"
#include "commit.h"
#include "dirsync.h"
#include "http.h"
#include "jobs.h"
#include "notify.h"
#include "scrub.h"
#include "store_blob.h"
#include "store_db.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p: every missing component, mode 0700 (an existing directory is fine), each one made
 * durable in its parent (else a power cut could take the data dir, synced files and all). *created
 * receives a copy of the first directory this call made (NULL when all existed), so a failed
 * start can remove exactly what it created. On failure the directories made are removed. */
static int make_dirs(const char *dir, char **created)
{
    char *p = floe_xstrdup(dir);
    int rc = 0;
    *created = NULL;
    for (char *s = p + 1; *s && !rc; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) == 0) {
            if (!*created)
                *created = floe_xstrdup(p);
            if (floe_dir_sync_parent(p, NULL) != FLOE_OK)
                rc = EIO;
        } else if (errno != EEXIST) {
            rc = errno;
        }
        *s = '/';
    }
    if (!rc) {
        if (mkdir(p, 0700) == 0) {
            if (!*created)
                *created = floe_xstrdup(p);
            if (floe_dir_sync_parent(p, NULL) != FLOE_OK)
                rc = EIO;
        } else if (errno != EEXIST) {
            rc = errno;
        } else {
            struct stat st;
            if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode))
                rc = ENOTDIR;
        }
    }
    free(p);
    return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Removes the tree rooted at the directory make_dirs() created: everything in it is this
 * start's own (the database, blobs/), since the directory did not exist before. */
static void remove_created(const char *top)
{
    if (top)
        nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool blob_referenced(const char *name, void *user);

/* blob_referenced() for a caller without the database lock (store_blob.h,
 * floe_vblob_set_referenced()). */
static bool blob_referenced_unlocked(const char *name, void *user)
{
    bool found;
    floe_vdb_lock(user);
    found = blob_referenced(name, user);
    floe_vdb_unlock(user);
    return found;
}

static bool blob_referenced(const char *name, void *user)
{
    struct floe_vdb *db = user;
    sqlite3_stmt *st = floe_vdb_stmt(db, "SELECT 1 FROM segments WHERE blob = ?1 UNION ALL "
                                         "SELECT 1 FROM jobs WHERE output_blob = ?1 LIMIT 1");
    floe_vdb_bind(st, "t", name);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return found;
}

static int start(struct floe_vserver *srv, bool http, struct floe_error *err)
{
    int rc = FLOE_OK;
    const char *dir = srv->cfg.data_dir;
    char *created = NULL;
    int e = make_dirs(dir, &created);
    if (e) {
        remove_created(created);
        free(created);
        return floe_error_set_errno(err, FLOE_E_IO, e, dir, "cannot create data dir %s", dir);
    }
    size_t n = strlen(dir) + 32;
    char *path = floe_xmalloc(n);
    snprintf(path, n, "%s/floe-vault.db", dir);
    rc = floe_vdb_open(path, &srv->db, err);
    free(path);
    if (rc)
        goto out;
    rc = floe_vblob_open(dir, &srv->blobs, err);
    if (rc)
        goto out;
    floe_vblob_set_io(srv->blobs, (enum floe_vblob_io)srv->cfg.blob_io);
    floe_vblob_set_referenced(srv->blobs, blob_referenced_unlocked, srv->db);
    srv->commit = floe_vcommit_open(srv->db, srv->blobs);
    floe_vdb_lock(srv->db);
    size_t swept = floe_vblob_sweep(srv->blobs, blob_referenced, srv->db);
    floe_vdb_unlock(srv->db);
    if (swept)
        floe_vlog(&srv->cfg, FLOE_VLOG_WARN,
                  "removed %zu unreferenced blob(s) of interrupted requests", swept);
    rc = floe_vnotify_start(srv, &srv->notify, err);
    if (rc)
        goto out;
    rc = floe_vjobs_start(srv, &srv->jobs, err);
    if (rc)
        goto out;
    rc = floe_vscrub_start(srv, &srv->scrub, err);
    if (rc)
        goto out;
    if (http)
        rc = floe_vhttp_start(srv, &srv->port, &srv->http, err);
out:
    if (rc) {
        floe_vserver_stop(srv);
        remove_created(created); /* a failed start leaves nothing behind */
    }
    free(created);
    return rc;
}

int floe_vserver_start(struct floe_vserver *srv, struct floe_error *err)
{
    return start(srv, true, err);
}

int floe_vserver_start_local(struct floe_vserver *srv, struct floe_error *err)
{
    return start(srv, false, err);
}

void floe_vserver_stop(struct floe_vserver *srv)
{
    floe_vhttp_stop(srv->http);
    srv->http = NULL;
    floe_vscrub_stop(srv->scrub);
    srv->scrub = NULL;
    floe_vjobs_stop(srv->jobs);
    srv->jobs = NULL;
    floe_vnotify_stop(srv->notify);
    srv->notify = NULL;
    if (srv->commit) {
        unsigned long long groups = 0, units = 0;
        floe_vcommit_stats(srv->commit, &groups, &units);
        floe_vlog(&srv->cfg, FLOE_VLOG_INFO, "group commit: %llu unit(s) in %llu group(s)", units,
                  groups);
    }
    floe_vcommit_close(srv->commit);
    srv->commit = NULL;
    floe_vblob_close(srv->blobs);
    srv->blobs = NULL;
    floe_vdb_close(srv->db);
    srv->db = NULL;
}
