/*
 * restore.c - floe_restore() (floe/restore.h), in phases on the calling thread, each recorded
 * in the catalog's restore tables so a rerun continues where a killed run stopped:
 *
 *   plan     the current files under the given paths (filters applied): a file already there
 *            with the same size and content is skipped, a different one is skipped with a
 *            warning unless --overwrite; one job per archive: a file's whole archive, or the
 *            MiB-aligned byte range of a pack that holds every wanted frame of it
 *   initiate a job per planned entry, unless a succeeded, unexpired job for the same archive
 *            and range is in the catalog (reused, not paid again)
 *   wait     for each job (FLOE_E_SERVICE "JobFailed": its files fail, the rest goes on)
 *   extract  the job's output is downloaded (floe_job_output_download: verified segments and
 *            whole range, its own resumable journal) into a temporary file under the target;
 *            each file of the job is taken from it (a file archive as it is; a pack frame
 *            through floe_pack_read_frame, which checks the frame and the file's xxh3-128),
 *            written to "<dest>.floe-restore", fsync'ed, given its mtime and renamed into
 *            place. A file at its destination is always complete and verified.
 */
#include "floe/restore.h"

#include "alloc.h"
#include "catalog.h"
#include "client_impl.h"
#include "filter.h"
#include "floe/jobs.h"
#include "floe/retrieve.h"
#include "floe/sigv4.h"
#include "floe/treehash.h"
#include "pack.h"
#include "prices.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define MIB ((uint64_t)1 << 20)
/* The job output's download: segments of 8 MiB, 4 at once, so a restore's memory stays at
 * about 32 MiB of segment buffers (plus the extraction's, fill_stream) whatever the archive's
 * size (floe_retrieve_pick_segment_size raises the segment only for outputs of 512 GiB or more). */
#define RESTORE_SEGMENT (8 * MIB)
#define RESTORE_SEGMENTS_AT_ONCE 4
#define DEFAULT_JOB_MAX_AGE_S (20 * 3600) /* job output lives about 24 h; keep a margin */

/* One archive the restore needs, and the byte span of it that holds the wanted files. */
struct need {
    char archive_id[FLOE_CATALOG_ID_MAX];
    enum floe_catalog_kind kind;
    uint64_t archive_size;
    uint64_t first, end; /* [first, end) of the files' frames */
    int64_t job;         /* restore_jobs row */
};

struct rs {
    struct floe_client *client;
    const struct floe_restore_options *o;
    struct floe_restore_result *out;
    struct floe_catalog *cat;
    uint64_t rid;
    struct floe_filter *filter;
    struct need *needs;
    size_t nneeds, needs_cap;
    struct floe_restore_progress pr;
    struct timespec t0;
    struct floe_error *err;
    int status;        /* a failure inside an iteration callback */
    size_t prefix_len; /* the path argument being planned (for the filters' relpaths) */
};

static void progress(struct rs *r, const char *phase)
{
    if (!r->o->progress)
        return;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    r->pr.phase = phase;
    r->pr.seconds = (double)(t.tv_sec - r->t0.tv_sec) + (double)(t.tv_nsec - r->t0.tv_nsec) / 1e9;
    r->o->progress(&r->pr, r->o->user);
}

static void warn(struct rs *r, const char *path, const char *message)
{
    r->out->partial = true;
    if (r->o->warn)
        r->o->warn(path, message, r->o->user);
}

/* "<to>/<path without its leading '/'>", malloc'd. */
static char *dest_of(const struct rs *r, const char *path, size_t len)
{
    while (len && *path == '/')
        path++, len--;
    size_t tn = strlen(r->o->to);
    char *d = floe_xmalloc(tn + 1 + len + 1);
    memcpy(d, r->o->to, tn);
    d[tn] = '/';
    memcpy(d + tn + 1, path, len);
    d[tn + 1 + len] = '\0';
    return d;
}

/* ---- plan ---- */

/* Whether dest already holds f's content: same size, and the same xxh3-128 (or, for a file
 * recorded with its tree hash only, the same tree hash). Unknown content counts as different. */
static bool already_there(const char *dest, const struct floe_catalog_file *f, bool *exists)
{
    struct stat st;
    *exists = lstat(dest, &st) == 0;
    if (!*exists || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size_bytes)
        return false;
    if (!f->has_xxh3 && !f->has_tree_hash)
        return false;
    int fd = open(dest, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    XXH3_state_t *xs = XXH3_createState();
    XXH3_128bits_reset(xs);
    struct floe_treehash *th = floe_treehash_new(0);
    uint8_t *buf = floe_xmalloc(MIB);
    ssize_t n;
    while ((n = read(fd, buf, MIB)) > 0) {
        if (f->has_xxh3)
            XXH3_128bits_update(xs, buf, (size_t)n);
        else
            floe_treehash_update(th, buf, (size_t)n);
    }
    close(fd);
    free(buf);
    bool same = n == 0;
    if (same && f->has_xxh3) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
        same = memcmp(c.digest, f->xxh3_128, sizeof(c.digest)) == 0;
    } else if (same) {
        uint8_t tree[FLOE_HASH_BYTES];
        floe_treehash_final(th, tree, NULL);
        same = memcmp(tree, f->tree_hash, FLOE_HASH_BYTES) == 0;
    }
    floe_treehash_destroy(th);
    XXH3_freeState(xs);
    return same;
}

static struct need *need_of(struct rs *r, const char *archive_id)
{
    for (size_t i = 0; i < r->nneeds; i++)
        if (strcmp(r->needs[i].archive_id, archive_id) == 0)
            return &r->needs[i];
    return NULL;
}

/* Pass 1: which archives and spans; files to skip are decided here. */
static int plan_file(const struct floe_catalog_file *f, void *user)
{
    struct rs *r = user;
    if (r->filter && f->path_len > r->prefix_len) {
        char *rel = floe_xmalloc(f->path_len + 1);
        memcpy(rel, f->path, f->path_len);
        rel[f->path_len] = '\0';
        const char *p = rel + r->prefix_len;
        while (*p == '/')
            p++;
        bool out = floe_filter_match(r->filter, p, false) == FLOE_FILTER_EXCLUDE;
        free(rel);
        if (out)
            return 0;
    }
    char *dest = dest_of(r, f->path, f->path_len);
    bool exists = false;
    bool same = already_there(dest, f, &exists);
    int rc = 0;
    if (same || (exists && !r->o->overwrite)) {
        r->out->files_skipped++;
        if (!same) {
            char msg[FLOE_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s exists and differs; kept (--overwrite replaces it)",
                     dest);
            warn(r, dest, msg);
        }
        free(dest);
        return 0;
    }
    free(dest);
    struct need *n = need_of(r, f->archive_id);
    if (!n) {
        struct floe_catalog_archive a;
        if ((rc = floe_catalog_get_archive(r->cat, f->archive_id, &a, r->err))) {
            r->status = rc;
            return 1;
        }
        if (r->nneeds == r->needs_cap) {
            r->needs_cap = r->needs_cap ? 2 * r->needs_cap : 32;
            r->needs = floe_xrealloc(r->needs, r->needs_cap * sizeof(*r->needs));
        }
        n = &r->needs[r->nneeds++];
        memset(n, 0, sizeof(*n));
        snprintf(n->archive_id, sizeof(n->archive_id), "%s", f->archive_id);
        n->kind = a.kind;
        n->archive_size = a.size_bytes;
        n->first = UINT64_MAX;
    }
    if (f->offset_bytes < n->first)
        n->first = f->offset_bytes;
    if (f->offset_bytes + f->length_bytes > n->end)
        n->end = f->offset_bytes + f->length_bytes;
    r->pr.files_total++;
    r->pr.bytes_total += f->size_bytes;
    return 0;
}

/* The job range of a need: a whole file archive, or a MiB-aligned span of a pack. */
static void need_range(const struct need *n, uint64_t *off, uint64_t *len)
{
    if (n->kind != FLOE_CATALOG_KIND_PACK) {
        *off = 0;
        *len = n->archive_size;
        return;
    }
    uint64_t first = n->first / MIB * MIB;
    uint64_t end = (n->end + MIB - 1) / MIB * MIB;
    if (end > n->archive_size)
        end = n->archive_size;
    *off = first;
    *len = end - first;
}

/* Pass 2: every planned file with its job. */
static int plan_file_job(const struct floe_catalog_file *f, void *user)
{
    struct rs *r = user;
    struct need *n = need_of(r, f->archive_id);
    if (!n)
        return 0; /* skipped in pass 1 */
    char *dest = dest_of(r, f->path, f->path_len);
    bool exists = false;
    if (already_there(dest, f, &exists) || (exists && !r->o->overwrite)) {
        free(dest);
        return 0;
    }
    int rc =
        floe_catalog_restore_add_file(r->cat, r->rid, f->id, n->job, dest, strlen(dest), r->err);
    free(dest);
    if (rc) {
        r->status = rc;
        return 1;
    }
    return 0;
}

/* Runs fn over the current files under every path argument (all files without one). */
static int each_planned_path(struct rs *r, floe_catalog_file_fn *fn)
{
    size_t n = r->o->npaths ? r->o->npaths : 1;
    for (size_t i = 0; i < n; i++) {
        const char *p = r->o->npaths ? r->o->paths[i] : "";
        r->prefix_len = strlen(p);
        int rc = floe_catalog_iter_files(r->cat, p, strlen(p), fn, r, r->err);
        if (r->status)
            return r->status;
        if (rc && rc != FLOE_E_CANCELLED)
            return rc;
    }
    return FLOE_OK;
}

/* Each tier's cost and wait for the planned jobs (docs/backup.md, "Prices"). */
static void estimate(struct rs *r)
{
    const struct floe_prices *pr = floe_prices_default();
    uint64_t bytes = 0;
    for (size_t i = 0; i < r->nneeds; i++) {
        uint64_t off, len;
        need_range(&r->needs[i], &off, &len);
        bytes += len;
    }
    static_assert(FLOE_RESTORE_TIERS == FLOE_PRICES_TIERS, "one estimate per priced tier");
    for (int t = 0; t < FLOE_RESTORE_TIERS; t++) {
        const struct floe_retrieval_price *p = &pr->retrieval[t];
        r->out->estimates[t] = (struct floe_restore_estimate){
            .tier = p->tier,
            .usd = (double)bytes / 1e9 * p->per_gb_usd +
                   (double)r->nneeds / 1000.0 * p->per_1000_requests_usd,
            .hours = r->nneeds ? p->typical_hours : 0,
        };
    }
}

/* Before anything is requested: room under --to for the planned files plus the largest job's
 * output, which is downloaded there and unpacked before it is removed. */
static int check_space(struct rs *r)
{
    uint64_t largest = 0;
    for (size_t i = 0; i < r->nneeds; i++) {
        uint64_t off, len;
        need_range(&r->needs[i], &off, &len);
        largest = len > largest ? len : largest;
    }
    struct statvfs vs;
    if (statvfs(r->o->to, &vs) != 0)
        return FLOE_OK; /* cannot tell: the writes will say */
    uint64_t have = (uint64_t)vs.f_bavail * vs.f_frsize, need = r->pr.bytes_total + largest;
    if (need <= have)
        return FLOE_OK;
    return floe_error_set_errno(r->err, FLOE_E_IO, ENOSPC, r->o->to,
                                "not enough free space in %s: %" PRIu64
                                " MiB to write (the files, and the largest retrieval while it is "
                                "unpacked), %" PRIu64 " MiB free; nothing was retrieved",
                                r->o->to, (need + MIB - 1) / MIB, have / MIB);
}

static int plan(struct rs *r)
{
    int rc = each_planned_path(r, plan_file);
    r->out->files_planned = r->pr.files_total;
    r->out->bytes_planned = r->pr.bytes_total;
    if (!rc)
        estimate(r);
    if (!rc && !r->o->dry_run)
        rc = check_space(r);
    for (size_t i = 0; !rc && i < r->nneeds; i++) {
        uint64_t off, len;
        need_range(&r->needs[i], &off, &len);
        r->out->bytes_retrieved += len;
        if (!r->o->dry_run)
            rc = floe_catalog_restore_add_job(r->cat, r->rid, r->needs[i].archive_id, off, len,
                                              r->o->tier ? r->o->tier : "Standard",
                                              &r->needs[i].job, r->err);
    }
    r->out->jobs = r->nneeds;
    r->pr.jobs_total = r->nneeds;
    if (!rc && !r->o->dry_run)
        rc = each_planned_path(r, plan_file_job);
    return rc;
}

/* ---- jobs ---- */

struct job_list {
    struct floe_catalog_job *jobs;
    size_t n, cap;
};

static int collect_job(const struct floe_catalog_job *j, void *user)
{
    struct job_list *l = user;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->jobs = floe_xrealloc(l->jobs, l->cap * sizeof(*l->jobs));
    }
    l->jobs[l->n] = *j;
    l->jobs[l->n].archive_id = floe_xstrdup(j->archive_id);
    l->jobs[l->n].tier = floe_xstrdup(j->tier ? j->tier : "Standard");
    l->jobs[l->n].job_id = floe_xstrdup(j->job_id ? j->job_id : "");
    l->n++;
    return 0;
}

static void free_jobs(struct job_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->jobs[i].archive_id);
        free((char *)l->jobs[i].tier);
        free((char *)l->jobs[i].job_id);
    }
    free(l->jobs);
}

static bool whole(const struct floe_catalog_job *j, uint64_t archive_size)
{
    return j->offset_bytes == 0 && j->length_bytes == archive_size;
}

/* A job for j: a reusable one from the catalog, or a new one. */
static int initiate(struct rs *r, struct floe_catalog_job *j)
{
    uint64_t age = r->o->job_max_age_s ? r->o->job_max_age_s : DEFAULT_JOB_MAX_AGE_S;
    char id[FLOE_CATALOG_ID_MAX];
    int rc = floe_catalog_find_job(r->cat, j->archive_id, j->offset_bytes, j->length_bytes,
                                   (int64_t)time(NULL) - (int64_t)age, id, r->err);
    if (rc == FLOE_OK) {
        r->out->jobs_reused++;
        return floe_catalog_restore_set_job(r->cat, j->id, id, FLOE_CATALOG_JOB_INITIATED, r->err);
    }
    if (rc != FLOE_E_NOT_FOUND)
        return rc;
    struct floe_catalog_archive a;
    if ((rc = floe_catalog_get_archive(r->cat, j->archive_id, &a, r->err)))
        return rc;
    struct floe_job_retrieval_params p = {
        .archive_id = j->archive_id,
        .has_range = !whole(j, a.size_bytes),
        .range = {j->offset_bytes, j->offset_bytes + j->length_bytes - 1},
        .archive_size = a.size_bytes,
        .tier = j->tier,
    };
    char job_id[FLOE_JOB_ID_MAX];
    if ((rc = floe_job_initiate_retrieval(r->client, r->o->vault, &p, job_id, r->err)))
        return rc;
    return floe_catalog_restore_set_job(r->cat, j->id, job_id, FLOE_CATALOG_JOB_INITIATED, r->err);
}

/* ---- extract ---- */

struct file_row {
    int64_t id;
    char *path;
    size_t path_len;
    uint64_t size, offset, length;
    int64_t mtime_ns;
    bool has_mtime, has_xxh3;
    uint8_t xxh3[FLOE_CATALOG_XXH3_BYTES];
    enum floe_catalog_compression comp;
};

struct rows {
    struct file_row *v;
    size_t n, cap;
};

static int collect_row(const struct floe_catalog_file *f, void *user)
{
    struct rows *rs = user;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? 2 * rs->cap : 64;
        rs->v = floe_xrealloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    struct file_row *w = &rs->v[rs->n++];
    w->id = f->id;
    w->path = floe_xmalloc(f->path_len + 1);
    memcpy(w->path, f->path, f->path_len);
    w->path[f->path_len] = '\0';
    w->path_len = f->path_len;
    w->size = f->size_bytes;
    w->offset = f->offset_bytes;
    w->length = f->length_bytes;
    w->mtime_ns = f->mtime_ns;
    w->has_mtime = f->has_mtime;
    w->has_xxh3 = f->has_xxh3;
    memcpy(w->xxh3, f->xxh3_128, sizeof(w->xxh3));
    w->comp = f->compression;
    return 0;
}

static const struct file_row *row_of(const struct rows *rs, int64_t id)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].id == id)
            return &rs->v[i];
    return NULL;
}

/* Creates the directories above dest that are missing. */
static int make_parents(const char *dest, struct floe_error *err)
{
    char *dir = floe_xstrdup(dest);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            int rc = floe_error_set_errno(err, FLOE_E_IO, e, dir, "cannot create %s", dir);
            free(dir);
            return rc;
        }
        *p = '/';
    }
    free(dir);
    return FLOE_OK;
}

/* Creates dest's missing parent directories and names its staging file "<dest>.floe-restore"
 * (*tmp, malloc'd, the caller frees it). */
static int staging_path(const char *dest, char **tmp, struct floe_error *err)
{
    int rc = make_parents(dest, err);
    if (rc)
        return rc;
    size_t n = strlen(dest) + 16;
    *tmp = floe_xmalloc(n);
    snprintf(*tmp, n, "%s.floe-restore", dest);
    return FLOE_OK;
}

/* Makes dest a hard link of src (already restored), atomically: a link at "<dest>.floe-restore"
 * renamed into place. A failure leaves dest as it was. */
static int link_file(const char *src, const char *dest, struct floe_error *err)
{
    char *tmp = NULL;
    int rc = staging_path(dest, &tmp, err);
    if (rc)
        return rc;
    unlink(tmp);
    if (link(src, tmp) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, dest, "cannot link %s to %s", dest, src);
    else if (rename(tmp, dest) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, dest, "cannot rename %s to %s", tmp, dest);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Writes len bytes of data to out (the staging file tmp). */
static int write_all(int out, const void *data, uint64_t len, const char *tmp,
                     struct floe_error *err)
{
    for (uint64_t at = 0; at < len;) {
        ssize_t w = write(out, (const uint8_t *)data + at, len - at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return floe_error_set_errno(err, FLOE_E_IO, errno, tmp, "cannot write %s", tmp);
        at += (uint64_t)w;
    }
    return FLOE_OK;
}

/* Writes a file's content into the staging file out (named tmp); FLOE_OK or a failure in err. */
typedef int fill_fn(int out, const char *tmp, void *user, struct floe_error *err);

/* Writes dest atomically (fill into tmp, fsync, mode, mtime, rename), creating parent
 * directories. A failure leaves dest as it was and no staging file behind. */
static int put_file(const char *dest, fill_fn *fill, void *user, const struct file_row *f,
                    uint32_t mode, struct floe_error *err)
{
    char *tmp = NULL;
    int rc = staging_path(dest, &tmp, err);
    if (rc)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, tmp, "cannot create %s", tmp);
    if (!rc)
        rc = fill(fd, tmp, user, err);
    if (!rc && fchmod(fd, mode) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, tmp, "cannot set the mode of %s", tmp);
    if (!rc && fsync(fd) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, tmp, "cannot write %s", tmp);
    if (!rc && f->has_mtime) {
        struct timespec ts[2] = {{0, UTIME_OMIT},
                                 {f->mtime_ns / 1000000000, f->mtime_ns % 1000000000}};
        if (futimens(fd, ts) != 0)
            rc =
                floe_error_set_errno(err, FLOE_E_IO, errno, tmp, "cannot set the mtime of %s", tmp);
    }
    if (fd >= 0)
        close(fd);
    if (!rc && rename(tmp, dest) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, dest, "cannot rename %s to %s", tmp, dest);
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* A pack's file, already extracted and verified in memory. */
struct mem_src {
    const uint8_t *data;
    uint64_t size;
};

static int fill_mem(int out, const char *tmp, void *user, struct floe_error *err)
{
    const struct mem_src *m = user;
    return write_all(out, m->data, m->size, tmp, err);
}

/* A file archive in the downloaded output (its bytes as they are, or one zstd frame), copied
 * into the staging file through buffers of a fixed size: the file's size and xxh3-128 are
 * checked on the way, so a file of any size is restored in bounded memory (RESTORE_BUF plus
 * zstd's window, at most 1 << RESTORE_WINDOW_LOG). */
#define RESTORE_BUF ((size_t)1 << 20)
#define RESTORE_WINDOW_LOG 24 /* zfile.c's levels (1..19) use windows up to 8 MiB */
struct stream_src {
    int in; /* the job's output, the archive from offset 0 */
    const struct file_row *f;
    bool zstd;
};

static int stream_short(const struct file_row *f, ssize_t got, const char *what,
                        struct floe_error *err)
{
    return floe_error_set_errno(err, FLOE_E_IO, got < 0 ? errno : 0, NULL,
                                "the retrieved bytes of %s are short%s", f->path, what);
}

static int stream_corrupt(const struct file_row *f, const char *why, struct floe_error *err)
{
    return floe_error_set(err, FLOE_E_CORRUPT,
                          "%s: the retrieved archive does not decompress to its %" PRIu64
                          " bytes (%s)",
                          f->path, f->size, why);
}

static int fill_stream(int out, const char *tmp, void *user, struct floe_error *err)
{
    const struct stream_src *s = user;
    const struct file_row *f = s->f;
    uint64_t len = s->zstd ? f->length : f->size; /* the archive's bytes */
    uint8_t *ibuf = floe_xmalloc(RESTORE_BUF);
    size_t ocap = s->zstd ? ZSTD_DStreamOutSize() : 0;
    uint8_t *obuf = s->zstd ? floe_xmalloc(ocap) : NULL;
    ZSTD_DCtx *z = s->zstd ? ZSTD_createDCtx() : NULL;
    XXH3_state_t *xs = XXH3_createState();
    int rc = FLOE_OK;
    if (!xs || (s->zstd && !z))
        rc = floe_error_set(err, FLOE_E_NOMEM, "%s: no memory to restore it", f->path);
    else if (s->zstd)
        ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, RESTORE_WINDOW_LOG);
    if (!rc)
        XXH3_128bits_reset(xs);
    uint64_t at = 0, produced = 0;
    size_t zret = 1; /* ZSTD_decompressStream: 0 once the frame is complete */
    while (!rc && at < len) {
        size_t want = len - at < RESTORE_BUF ? (size_t)(len - at) : RESTORE_BUF;
        ssize_t got = pread(s->in, ibuf, want, (off_t)at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = stream_short(f, got, "", err);
            break;
        }
        at += (uint64_t)got;
        if (!s->zstd) {
            XXH3_128bits_update(xs, ibuf, (size_t)got);
            produced += (uint64_t)got;
            rc = write_all(out, ibuf, (uint64_t)got, tmp, err);
            continue;
        }
        ZSTD_inBuffer in = {ibuf, (size_t)got, 0};
        while (!rc && in.pos < in.size) {
            ZSTD_outBuffer o = {obuf, ocap, 0};
            zret = ZSTD_decompressStream(z, &o, &in);
            if (ZSTD_isError(zret))
                rc = stream_corrupt(f, ZSTD_getErrorName(zret), err);
            else if ((produced += o.pos) > f->size)
                rc = stream_corrupt(f, "another size", err);
            else {
                XXH3_128bits_update(xs, obuf, o.pos);
                rc = write_all(out, obuf, o.pos, tmp, err);
            }
            if (!rc && zret == 0 && in.pos < in.size)
                rc = stream_corrupt(f, "bytes after its frame", err);
        }
        if (!rc && s->zstd && zret == 0 && at < len)
            rc = stream_corrupt(f, "bytes after its frame", err);
    }
    if (!rc && s->zstd && zret != 0)
        rc = stream_corrupt(f, "the frame ends early", err);
    if (!rc && produced != f->size)
        rc = s->zstd ? stream_corrupt(f, "another size", err) : stream_short(f, 0, "", err);
    if (!rc && f->has_xxh3) { /* cheap, after the tree hash */
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
        if (memcmp(c.digest, f->xxh3, sizeof(c.digest)) != 0)
            rc = floe_error_set(err, FLOE_E_CHECKSUM,
                                "%s: the retrieved bytes do not match its recorded xxh3", f->path);
    }
    XXH3_freeState(xs);
    ZSTD_freeDCtx(z);
    free(obuf);
    free(ibuf);
    return rc;
}

/* One packed file out of the downloaded output (fd holds the job's bytes from job_off on):
 * its frame read and checked in memory (a pack holds only files under the pack threshold). */
static int extract_packed(int fd, uint64_t job_off, const struct file_row *f, const char *dest,
                          struct floe_error *err)
{
    uint64_t len = f->length;
    uint8_t *frame = floe_xmalloc(len ? len : 1);
    uint8_t *data = floe_xmalloc(f->size ? f->size : 1);
    ssize_t got = pread(fd, frame, len, (off_t)(f->offset - job_off));
    int rc = got == (ssize_t)len ? FLOE_OK : stream_short(f, got, "", err);
    struct floe_pack_entry e = {
        .path = f->path,
        .size = f->size,
        .frame_offset = f->offset,
        .frame_length = f->length,
        .stored_length = f->length - floe_pack_frame_header_bytes(f->path_len),
        .compression = f->comp == FLOE_CATALOG_COMP_ZSTD ? FLOE_PACK_ZSTD : FLOE_PACK_STORED,
    };
    memcpy(e.xxh128, f->xxh3, sizeof(e.xxh128));
    if (!rc)
        rc = floe_pack_frame_meta(frame, len, &e.mtime_ns, &e.mode, err);
    if (!rc)
        rc = floe_pack_read_frame(frame, len, &e, data, err);
    struct mem_src m = {data, f->size};
    if (!rc)
        rc = put_file(dest, fill_mem, &m, f, e.mode & 07777, err);
    free(data);
    free(frame);
    return rc;
}

/* One file out of the downloaded output (fd holds the job's bytes from job_off on). */
static int extract_one(struct rs *r, int fd, uint64_t job_off, enum floe_catalog_kind kind,
                       const struct file_row *f, const char *dest, struct floe_error *err)
{
    int rc;
    if (kind == FLOE_CATALOG_KIND_PACK) {
        rc = extract_packed(fd, job_off, f, dest, err);
    } else { /* the archive's tree hash was checked; now the content, streamed */
        struct stream_src s = {fd, f, f->comp == FLOE_CATALOG_COMP_ZSTD};
        rc = put_file(dest, fill_stream, &s, f, 0644, err); /* a file archive has no mode */
    }
    if (!rc) {
        r->out->files++;
        r->out->bytes += f->size;
        r->pr.files_done++;
        r->pr.bytes_done += f->size;
    }
    return rc;
}

/* A file this job restored, by where its content sits in the archive: a later file row with the
 * same frame is a hard link of it (the backup stores a hard-linked file's content once and
 * records every other path with the first one's frame). */
struct restored {
    uint64_t offset, length;
    char *dest;
};

struct extract_ctx {
    struct rs *r;
    int fd;
    const struct floe_catalog_job *job;
    enum floe_catalog_kind kind;
    const struct rows *rows;
    struct restored *done; /* the files of this job restored so far */
    size_t ndone, done_cap;
};

/* The destination of a file this job already restored from the same frame as f, or NULL. */
static const char *restored_frame(const struct extract_ctx *x, const struct file_row *f)
{
    for (size_t i = 0; i < x->ndone; i++)
        if (x->done[i].offset == f->offset && x->done[i].length == f->length)
            return x->done[i].dest;
    return NULL;
}

static void remember_restored(struct extract_ctx *x, const struct file_row *f, const char *dest)
{
    if (x->ndone == x->done_cap) {
        x->done_cap = x->done_cap ? 2 * x->done_cap : 16;
        x->done = floe_xrealloc(x->done, x->done_cap * sizeof(*x->done));
    }
    x->done[x->ndone++] = (struct restored){f->offset, f->length, floe_xstrdup(dest)};
}

static int extract_file(const struct floe_catalog_restore_file *rf, void *user)
{
    struct extract_ctx *x = user;
    struct rs *r = x->r;
    const struct file_row *f = row_of(x->rows, rf->file_id);
    struct floe_error e = {0};
    char *dest = floe_xmalloc(rf->dest_path_len + 1);
    memcpy(dest, rf->dest_path, rf->dest_path_len);
    dest[rf->dest_path_len] = '\0';
    const char *twin = f ? restored_frame(x, f) : NULL;
    int rc = twin && link_file(twin, dest, &e) == FLOE_OK ? FLOE_OK : 1;
    if (rc == FLOE_OK) { /* a hard link of a file restored just before */
        r->out->files++;
        r->out->bytes += f->size;
        r->pr.files_done++;
        r->pr.bytes_done += f->size;
    } else {
        memset(&e, 0, sizeof(e)); /* linking failed (another file system?): write a copy */
        rc = f ? extract_one(r, x->fd, x->job->offset_bytes, x->kind, f, dest, &e)
               : floe_error_set(&e, FLOE_E_CORRUPT, "file row %" PRId64 " is not in archive %s",
                                rf->file_id, x->job->archive_id);
        if (rc == FLOE_OK && !twin)
            remember_restored(x, f, dest);
    }
    enum floe_catalog_restore_file_status st = FLOE_CATALOG_RFILE_DONE;
    if (rc) {
        st = FLOE_CATALOG_RFILE_FAILED;
        r->out->files_failed++;
        warn(r, dest, e.message);
    }
    free(dest);
    rc = floe_catalog_restore_set_file(r->cat, r->rid, rf->file_id, st, r->err);
    if (rc) {
        r->status = rc;
        return 1;
    }
    progress(r, "extracting");
    return 0;
}

/* One syncfs() of the filesystem under the target: the data and renames of every file
 * restored so far are durable. */
static int sync_target(struct rs *r, struct floe_error *err)
{
    int fd = open(r->o->to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 || syncfs(fd) != 0
                 ? floe_error_set_errno(err, FLOE_E_IO, errno, r->o->to, "cannot sync %s", r->o->to)
                 : FLOE_OK;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Where a job's output is downloaded: next to the files, removed once they are out of it. */
static void job_output_path(const struct rs *r, const struct floe_catalog_job *j, char *out,
                            size_t n)
{
    snprintf(out, n, "%s/.floe-restore-%" PRIu64 "-%" PRId64, r->o->to, r->rid, j->id);
}

/* Downloads a succeeded job's output next to the files and takes its files out of it. */
static int extract_job(struct rs *r, const struct floe_catalog_job *j)
{
    char tmp[PATH_MAX];
    job_output_path(r, j, tmp, sizeof(tmp));
    struct floe_download_options d = {.vault = r->o->vault,
                                      .job_id = j->job_id,
                                      .output_path = tmp,
                                      .segment_size = RESTORE_SEGMENT,
                                      .concurrency = RESTORE_SEGMENTS_AT_ONCE,
                                      .memory_limit = RESTORE_SEGMENT * RESTORE_SEGMENTS_AT_ONCE,
                                      .cancel = r->o->cancel};
    struct floe_download_result dr;
    int rc = floe_job_output_download(r->client, &d, &dr, r->err);
    if (rc)
        return rc;
    struct floe_catalog_archive a;
    struct rows rows = {0};
    if (!(rc = floe_catalog_get_archive(r->cat, j->archive_id, &a, r->err)))
        rc = floe_catalog_iter_archive_files(r->cat, j->archive_id, collect_row, &rows, r->err);
    int fd = rc ? -1 : open(tmp, O_RDONLY | O_CLOEXEC);
    if (!rc && fd < 0)
        rc = floe_error_set_errno(r->err, FLOE_E_IO, errno, tmp, "cannot open %s", tmp);
    /* The job's files are recorded in one transaction, committed only after one syncfs() has
     * made their renames durable: after a power cut the catalog never names a file as restored
     * whose directory entry was lost (a rerun extracts what was not committed again). */
    bool tx = false;
    if (!rc && !(rc = floe_catalog_begin(r->cat, r->err)))
        tx = true;
    if (!rc) {
        struct extract_ctx x = {r, fd, j, a.kind, &rows, NULL, 0, 0};
        rc = floe_catalog_restore_iter_files(r->cat, r->rid, j->id, true, extract_file, &x, r->err);
        if (r->status)
            rc = r->status;
        else if (rc == FLOE_E_CANCELLED)
            rc = FLOE_OK;
        for (size_t i = 0; i < x.ndone; i++)
            free(x.done[i].dest);
        free(x.done);
    }
    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < rows.n; i++)
        free(rows.v[i].path);
    free(rows.v);
    if (!rc)
        rc = floe_catalog_restore_set_job(r->cat, j->id, NULL, FLOE_CATALOG_JOB_DOWNLOADED, r->err);
    if (tx) { /* what was restored is kept even when a later file failed */
        struct floe_error e = {0};
        int src = sync_target(r, rc ? &e : r->err);
        if (src) {
            floe_catalog_rollback(r->cat);
            rc = rc ? rc : src;
        } else {
            int crc = floe_catalog_commit(r->cat, rc ? &e : r->err);
            rc = rc ? rc : crc;
        }
    }
    if (!rc)
        unlink(tmp);
    return rc;
}

/* Failed job: its files fail, the rest of the restore goes on. */
static int fail_job_files(const struct floe_catalog_restore_file *rf, void *user)
{
    struct rs *r = user;
    r->out->files_failed++;
    r->out->partial = true;
    int rc = floe_catalog_restore_set_file(r->cat, r->rid, rf->file_id, FLOE_CATALOG_RFILE_FAILED,
                                           r->err);
    if (rc) {
        r->status = rc;
        return 1;
    }
    return 0;
}

static int wait_and_extract(struct rs *r, struct floe_catalog_job *j)
{
    if (j->status == FLOE_CATALOG_JOB_DOWNLOADED) {
        /* a run stopped between recording the job and removing its output */
        char tmp[PATH_MAX];
        job_output_path(r, j, tmp, sizeof(tmp));
        unlink(tmp);
    }
    if (j->status == FLOE_CATALOG_JOB_DOWNLOADED || j->status == FLOE_CATALOG_JOB_FAILED)
        return FLOE_OK;
    progress(r, "waiting");
    struct floe_job_wait_options wo = r->o->wait;
    if (!wo.cancel)
        wo.cancel = r->o->cancel;
    struct floe_job_info info;
    int rc = floe_job_wait(r->client, r->o->vault, j->job_id, &wo, &info, r->err);
    if (rc == FLOE_E_SERVICE && strcmp(r->err->code, "JobFailed") == 0) {
        warn(r, j->archive_id, r->err->message);
        rc = floe_catalog_restore_set_job(r->cat, j->id, NULL, FLOE_CATALOG_JOB_FAILED, r->err);
        if (!rc) {
            int irc = floe_catalog_restore_iter_files(r->cat, r->rid, j->id, true, fail_job_files,
                                                      r, r->err);
            rc = r->status ? r->status : irc == FLOE_E_CANCELLED ? FLOE_OK : irc;
        }
        return rc;
    }
    if (!rc)
        rc = floe_catalog_restore_set_job(r->cat, j->id, NULL, FLOE_CATALOG_JOB_SUCCEEDED, r->err);
    if (!rc) {
        progress(r, "downloading");
        rc = extract_job(r, j);
    }
    if (!rc)
        r->pr.jobs_done++;
    return rc;
}

static int run_jobs(struct rs *r)
{
    struct job_list l = {0};
    int rc = floe_catalog_restore_iter_jobs(r->cat, r->rid, collect_job, &l, r->err);
    for (size_t i = 0; !rc && i < l.n; i++)
        if (l.jobs[i].status == FLOE_CATALOG_JOB_PLANNED) {
            rc = initiate(r, &l.jobs[i]);
            l.jobs[i].status = FLOE_CATALOG_JOB_INITIATED;
        }
    free_jobs(&l);
    memset(&l, 0, sizeof(l));
    if (!rc) /* again: the job ids are in the catalog now */
        rc = floe_catalog_restore_iter_jobs(r->cat, r->rid, collect_job, &l, r->err);
    for (size_t i = 0; !rc && i < l.n; i++)
        rc = wait_and_extract(r, &l.jobs[i]);
    free_jobs(&l);
    return rc;
}

/* ---- the run ---- */

static int check(const struct floe_restore_options *o, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(o->vault, err);
    if (rc)
        return rc;
    if (!o->to || !*o->to)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "--to DIR is required");
    struct stat st;
    if (!o->dry_run && (stat(o->to, &st) != 0 || !S_ISDIR(st.st_mode)))
        return floe_error_set_errno(err, FLOE_E_IO, errno ? errno : ENOTDIR, o->to,
                                    "cannot restore into %s", o->to);
    return FLOE_OK;
}

static int open_catalog(struct rs *r)
{
    char path[PATH_MAX];
    int rc = FLOE_OK;
    if (r->o->catalog_path)
        snprintf(path, sizeof(path), "%s", r->o->catalog_path);
    else
        rc = floe_catalog_default_path(r->client->endpoint, r->client->account_id, r->o->vault,
                                       path, sizeof(path), r->err);
    if (!rc && access(path, F_OK) != 0)
        return floe_error_set_errno(r->err, FLOE_E_NOT_FOUND, ENOENT, path,
                                    "no catalog %s: nothing was backed up to vault %s from here "
                                    "(floe catalog rebuild makes one from the vault)",
                                    path, r->o->vault);
    struct floe_catalog_options co = {.read_only = r->o->dry_run};
    return rc ? rc : floe_catalog_open(path, &co, &r->cat, r->err);
}

static int make_filter(struct rs *r)
{
    if (!r->o->nfilter_rules)
        return FLOE_OK;
    r->filter = floe_filter_new();
    for (size_t i = 0; i < r->o->nfilter_rules; i++) {
        int rc = floe_filter_add(r->filter, r->o->filter_rules[i], r->err);
        if (rc)
            return rc;
    }
    return FLOE_OK;
}

int floe_restore(struct floe_client *c, const struct floe_restore_options *opts,
                 struct floe_restore_result *out, struct floe_error *err)
{
    memset(out, 0, sizeof(*out));
    struct rs r = {.client = c, .o = opts, .out = out, .err = err};
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    int rc = check(opts, err);
    if (!rc)
        rc = make_filter(&r);
    if (!rc)
        rc = open_catalog(&r);
    if (!rc && !opts->dry_run) {
        rc = floe_catalog_restore_find(r.cat, opts->to, &r.rid, err);
        out->resumed = rc == FLOE_OK;
        if (rc == FLOE_E_NOT_FOUND) {
            /* the restore and its whole plan in one transaction: a kill while planning leaves
             * nothing, never half a plan that a rerun would take for the whole one */
            rc = floe_catalog_begin(r.cat, err);
            if (!rc)
                rc = floe_catalog_restore_begin(r.cat, opts->to, &r.rid, err);
            if (!rc) {
                progress(&r, "planning");
                rc = plan(&r);
            }
            struct floe_error ignore = {0};
            if (rc && r.rid) /* nothing was requested: no restore to resume */
                floe_catalog_restore_end(r.cat, r.rid, false, &ignore);
            if (floe_catalog_in_transaction(r.cat)) {
                int crc = floe_catalog_commit(r.cat, rc ? &ignore : err);
                rc = rc ? rc : crc;
            }
        }
    } else if (!rc) {
        rc = plan(&r);
    }
    if (!rc && !opts->dry_run)
        rc = run_jobs(&r);
    if (!rc && !opts->dry_run) /* the job outputs' removal is durable before the end is */
        rc = sync_target(&r, err);
    if (!rc && !opts->dry_run)
        rc = floe_catalog_restore_end(r.cat, r.rid, true, err);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    out->seconds = (double)(t.tv_sec - r.t0.tv_sec) + (double)(t.tv_nsec - r.t0.tv_nsec) / 1e9;
    floe_filter_free(r.filter);
    free(r.needs);
    floe_catalog_close(r.cat);
    return rc;
}
