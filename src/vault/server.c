/*
 * server.c - start and stop floe-vault's subsystems in order (see server.h).
 *
 * DESIGN
 * Start order: data dir -> database -> blob store -> sweep of orphan blobs (files no row
 * names: uploads cut short by a crash) -> notifier -> scheduler -> HTTP. Stop runs in
 * reverse, so no request can reach a closed store. Jobs InProgress at a crash are simply
 * picked up again by the scheduler: their state lives only in the database.
 */
#include "server.h"

#include "alloc.h"
#include "http.h"
#include "jobs.h"
#include "notify.h"
#include "store_blob.h"
#include "store_db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void floe_vconfig_defaults(struct floe_vconfig *cfg)
{
    cfg->host = floe_xstrdup(FLOE_VAULT_DEFAULT_HOST);
    cfg->port = floe_xstrdup(FLOE_VAULT_DEFAULT_PORT);
    cfg->request_timeout_ms = FLOE_VAULT_DEFAULT_REQUEST_TIMEOUT_S * 1000LL;
    cfg->access_key = floe_xstrdup(FLOE_VAULT_DEFAULT_ACCESS_KEY);
    cfg->secret_key = floe_xstrdup(FLOE_VAULT_DEFAULT_SECRET_KEY);
    cfg->account_id = floe_xstrdup(FLOE_VAULT_DEFAULT_ACCOUNT);
    cfg->region = floe_xstrdup(FLOE_VAULT_DEFAULT_REGION);
    cfg->delay_ms[FLOE_VTIER_EXPEDITED] = 1000;
    cfg->delay_ms[FLOE_VTIER_STANDARD] = 3000;
    cfg->delay_ms[FLOE_VTIER_BULK] = 5000;
    cfg->job_expiry_ms = 24LL * 3600 * 1000;
    cfg->upload_expiry_ms = 24LL * 3600 * 1000;
    cfg->log_level = FLOE_VLOG_WARN;
}

char *floe_vconfig_default_data_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    const char *base = NULL, *sub = "";
    if (xdg && xdg[0] == '/')
        base = xdg;
    else if (home && home[0]) {
        base = home;
        sub = "/.local/share";
    }
    if (!base)
        return NULL;
    size_t n = strlen(base) + strlen(sub) + sizeof("/floe-vault");
    char *p = floe_xmalloc(n);
    snprintf(p, n, "%s%s/floe-vault", base, sub);
    return p;
}

/* mkdir -p: every missing component, mode 0700 (an existing directory is fine). */
static int make_dirs(const char *dir)
{
    char *p = floe_xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; *s && !rc; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            rc = errno;
        *s = '/';
    }
    if (!rc && mkdir(p, 0700) != 0 && errno != EEXIST)
        rc = errno;
    free(p);
    return rc;
}

void floe_vlog(const struct floe_vserver *srv, int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (srv && level > srv->cfg.log_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld floe-vault %s: ", tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void floe_vserver_vault_arn(const struct floe_vserver *srv, const char *vault, char *out,
                            size_t cap)
{
    snprintf(out, cap, "arn:aws:glacier:%s:%s:vaults/%s", srv->cfg.region, srv->cfg.account_id,
             vault);
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

int floe_vserver_start(struct floe_vserver *srv, struct floe_error *err)
{
    int rc = FLOE_OK;
    const char *dir = srv->cfg.data_dir;
    int e = make_dirs(dir);
    if (e)
        return floe_error_set_errno(err, FLOE_E_IO, e, dir, "cannot create data dir %s", dir);
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
    floe_vdb_lock(srv->db);
    size_t swept = floe_vblob_sweep(srv->blobs, blob_referenced, srv->db);
    floe_vdb_unlock(srv->db);
    if (swept)
        floe_vlog(srv, FLOE_VLOG_WARN, "removed %zu unreferenced blob(s) of interrupted requests",
                  swept);
    rc = floe_vnotify_start(srv, &srv->notify, err);
    if (rc)
        goto out;
    rc = floe_vjobs_start(srv, &srv->jobs, err);
    if (rc)
        goto out;
    rc = floe_vhttp_start(srv, &srv->port, &srv->http, err);
out:
    if (rc)
        floe_vserver_stop(srv);
    return rc;
}

void floe_vserver_stop(struct floe_vserver *srv)
{
    floe_vhttp_stop(srv->http);
    srv->http = NULL;
    floe_vjobs_stop(srv->jobs);
    srv->jobs = NULL;
    floe_vnotify_stop(srv->notify);
    srv->notify = NULL;
    floe_vblob_close(srv->blobs);
    srv->blobs = NULL;
    floe_vdb_close(srv->db);
    srv->db = NULL;
}
