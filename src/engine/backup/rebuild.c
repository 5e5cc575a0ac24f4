/*
 * rebuild.c - floe_rebuild_catalog() (floe/rebuild.h), on the calling thread:
 *
 *   inventory  the job given, else the newest succeeded inventory job of the vault younger than
 *              20 hours (its output lives about 24), else a new one, waited for; its output is
 *              downloaded beside the catalog and parsed in ranges (invrange.h); the archives
 *              are kept as a list (id, size, tree hash, creation time, description) and sorted
 *              by creation time, so a later version of a path supersedes an earlier one
 *   snapshot   the newest archive described `floe1 catalog` is retrieved whole and unpacked
 *              (floe_catalog_snapshot_unpack) into "<catalog>.rebuild"; archives created at
 *              or after it that it does not know (itself, later runs whose snapshot failed)
 *              are then recorded from their descriptions as below
 *   describe   failing that: a new catalog in "<catalog>.rebuild", one transaction; `floe1 file`
 *              and mt2 descriptions become one file row each (path, mtime, the archive's size
 *              and tree hash; a truncated path `%~` is warned about and skipped), `floe1 pack`
 *              archives give their index: the last MiB-aligned range holding the trailer is
 *              retrieved, then (when the index starts before it) the range from the index's
 *              MiB on; every entry becomes a file row; `floe1 catalog` archives are recorded
 *   place      "<catalog>.rebuild" is renamed over the catalog (its stale -wal and -shm
 *              removed first); temporaries are removed on every path
 */
#include "floe/rebuild.h"

#include "alloc.h"
#include "dirsync.h"
#include "catalog.h"
#include "catopen.h"
#include "describe.h"
#include "floe/inventory.h"
#include "floe/jobs.h"
#include "floe/invrange.h"
#include "floe/retrieve.h"
#include "mtglacier.h"
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB ((uint64_t)1 << 20)
#define INVENTORY_MAX_AGE_S (20 * 3600)

struct arc {
    char id[FLOE_CATALOG_ID_MAX];
    uint64_t size;
    uint8_t tree[FLOE_HASH_BYTES];
    int64_t created;
    size_t order; /* inventory order: ties of creation time keep it */
    char *desc;
};

struct rb {
    struct floe_client *client;
    const struct floe_rebuild_options *o;
    struct floe_rebuild_result *out;
    struct floe_error *err;
    struct floe_catalog *cat;
    struct arc *v;
    size_t n, cap;
    char path[4096], tmp_db[4200], tmp_inv[4200], tmp_data[4200];
    /* pack entries of the pack being read */
    struct floe_catalog_file *files;
    size_t nfiles, files_cap;
};

static void phase(struct rb *r, const char *what, const char *detail)
{
    if (r->o->phase)
        r->o->phase(what, detail, r->o->user);
}

static void warn(struct rb *r, const char *archive_id, const char *message)
{
    r->out->archives_skipped++;
    if (r->o->warn)
        r->o->warn(archive_id, message, r->o->user);
}

/* "2026-12-04T08:00:00.000Z" -> seconds (0 when unreadable). */
static int64_t iso_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

/* ---- inventory ---- */

struct jobpick {
    char cutoff[40];
    char best_date[40];
    char best[FLOE_JOB_ID_MAX];
};

static int pick_job(const struct floe_job_info *j, void *user)
{
    struct jobpick *p = user;
    if (strcmp(j->action, "InventoryRetrieval") != 0 || strcmp(j->status_code, "Succeeded") != 0)
        return 0;
    if (strcmp(j->creation_date, p->cutoff) < 0 || strcmp(j->creation_date, p->best_date) <= 0)
        return 0;
    snprintf(p->best_date, sizeof(p->best_date), "%s", j->creation_date);
    snprintf(p->best, sizeof(p->best), "%s", j->job_id);
    return 0;
}

static int inventory_job(struct rb *r, char job_id[FLOE_JOB_ID_MAX])
{
    if (r->o->inventory_job_id) {
        snprintf(job_id, FLOE_JOB_ID_MAX, "%s", r->o->inventory_job_id);
        r->out->inventory_reused = true;
        return FLOE_OK;
    }
    struct jobpick p = {{0}, {0}, {0}};
    time_t cut = time(NULL) - INVENTORY_MAX_AGE_S;
    struct tm tm;
    gmtime_r(&cut, &tm);
    strftime(p.cutoff, sizeof(p.cutoff), "%Y-%m-%dT%H:%M:%S", &tm);
    struct floe_job_list_filter f = {.status_code = "Succeeded", .completed = 1};
    int rc = floe_job_list(r->client, r->o->vault, &f, pick_job, &p, r->err);
    if (rc)
        return rc;
    if (p.best[0]) {
        snprintf(job_id, FLOE_JOB_ID_MAX, "%s", p.best);
        r->out->inventory_reused = true;
        return FLOE_OK;
    }
    struct floe_job_inventory_params ip = {.format = "JSON"};
    if ((rc = floe_job_initiate_inventory(r->client, r->o->vault, &ip, job_id, r->err)))
        return rc;
    phase(r, "inventory", "waiting for the inventory job");
    struct floe_job_wait_options wo = {.cancel = r->o->cancel};
    struct floe_job_info info;
    return floe_job_wait(r->client, r->o->vault, job_id, &wo, &info, r->err);
}

static int collect(const struct floe_inventory_archive *a, void *user)
{
    struct rb *r = user;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->v = floe_xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    struct arc *x = &r->v[r->n];
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", a->archive_id);
    x->size = a->size;
    if (a->has_tree_hash)
        memcpy(x->tree, a->tree_hash, FLOE_HASH_BYTES);
    x->created = iso_time(a->creation_date);
    x->order = r->n++;
    x->desc = floe_xstrdup(a->description ? a->description : "");
    return 0;
}

static int by_created(const void *a, const void *b)
{
    const struct arc *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int read_inventory(struct rb *r)
{
    char job_id[FLOE_JOB_ID_MAX];
    phase(r, "inventory", r->o->vault);
    int rc = inventory_job(r, job_id);
    if (rc)
        return rc;
    snprintf(r->out->inventory_job_id, sizeof(r->out->inventory_job_id), "%s", job_id);
    struct floe_download_options d = {.vault = r->o->vault,
                                      .job_id = job_id,
                                      .output_path = r->tmp_inv,
                                      .no_checkpoint = true,
                                      .cancel = r->o->cancel};
    struct floe_download_result dr;
    unlink(r->tmp_inv);
    if ((rc = floe_job_output_download(r->client, &d, &dr, r->err)))
        return rc;
    struct floe_inventory_summary sum;
    struct floe_invrange_options ro = {.cancel = r->o->cancel}; /* parsed in parallel ranges */
    rc = floe_invrange_parse_file(r->tmp_inv, &ro, collect, r, &sum, NULL, r->err);
    unlink(r->tmp_inv);
    if (rc)
        return rc;
    qsort(r->v, r->n, sizeof(*r->v), by_created);
    r->out->archives = r->n;
    return FLOE_OK;
}

/* ---- retrievals ---- */

/* [offset, size) of archive a into r->tmp_data (offset MiB-aligned; 0 = whole). */
static int fetch(struct rb *r, const struct arc *a, uint64_t offset)
{
    struct floe_retrieve_options ro = {
        .archive_id = a->id,
        .has_range = offset > 0,
        .range = {offset, a->size - 1},
        .tier = r->o->tier,
        .description = "floe catalog rebuild",
    };
    ro.wait.cancel = r->o->cancel;
    ro.download.vault = r->o->vault;
    ro.download.output_path = r->tmp_data;
    ro.download.no_checkpoint = true;
    ro.download.cancel = r->o->cancel;
    struct floe_download_result dr;
    char job_id[FLOE_JOB_ID_MAX];
    unlink(r->tmp_data);
    r->out->jobs++;
    return floe_retrieve_archive(r->client, &ro, &dr, job_id, r->err);
}

/* The whole of r->tmp_data in memory (len bytes expected). */
static int slurp(struct rb *r, uint64_t len, uint8_t **out)
{
    uint8_t *buf = floe_xmalloc(len ? len : 1);
    int fd = open(r->tmp_data, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd < 0 ? -1 : pread(fd, buf, len, 0);
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(r->tmp_data);
    if (got != (ssize_t)len) {
        free(buf);
        return floe_error_set_errno(r->err, FLOE_E_IO, got < 0 ? e : 0, r->tmp_data,
                                    "the retrieved bytes in %s are short", r->tmp_data);
    }
    *out = buf;
    return FLOE_OK;
}

/* ---- from a snapshot ---- */

static int from_snapshot(struct rb *r, const struct arc *a)
{
    phase(r, "snapshot", a->desc);
    int rc = fetch(r, a, 0);
    if (!rc)
        rc = floe_catalog_snapshot_unpack(r->tmp_data, r->tmp_db, r->err);
    unlink(r->tmp_data);
    if (!rc) {
        r->out->from_snapshot = true;
        snprintf(r->out->snapshot_archive_id, sizeof(r->out->snapshot_archive_id), "%s", a->id);
    }
    return rc;
}

/* ---- from descriptions and pack indexes ---- */

static void record_args(const struct arc *a, enum floe_catalog_kind kind,
                        struct floe_catalog_archive *ca)
{
    memset(ca, 0, sizeof(*ca));
    snprintf(ca->archive_id, sizeof(ca->archive_id), "%s", a->id);
    ca->size_bytes = a->size;
    memcpy(ca->tree_hash, a->tree, FLOE_HASH_BYTES);
    ca->description = a->desc;
    ca->kind = kind;
    ca->created_at = a->created ? a->created : 0;
}

static int record(struct rb *r, const struct arc *a, enum floe_catalog_kind kind,
                  const struct floe_catalog_file *files, size_t n)
{
    struct floe_catalog_archive ca;
    record_args(a, kind, &ca);
    int rc = floe_catalog_record_archive(r->cat, &ca, files, n, r->err);
    if (!rc) {
        r->out->archives_recorded++;
        r->out->files_recorded += n;
    }
    return rc;
}

/* A file archive: its whole bytes are the file's (uncompressed). */
/* One file archive: stored (zsize 0: the archive is the file, its tree hash the file's) or one
 * zstd frame of a zsize-byte file (`floe1 zfile`). */
static int record_file(struct rb *r, const struct arc *a, const char *path, size_t len,
                       int64_t mtime_s, uint64_t zsize)
{
    struct floe_catalog_file f = {
        .path = path,
        .path_len = len,
        .size_bytes = zsize ? zsize : a->size,
        .has_mtime = true,
        .mtime_ns = mtime_s * 1000000000,
        .has_tree_hash = !zsize,
        .offset_bytes = 0,
        .length_bytes = a->size,
        .compression = zsize ? FLOE_CATALOG_COMP_ZSTD : FLOE_CATALOG_COMP_NONE,
        .uploaded_at = a->created,
    };
    if (!zsize)
        memcpy(f.tree_hash, a->tree, FLOE_HASH_BYTES);
    return record(r, a, FLOE_CATALOG_KIND_FILE, &f, 1);
}

static int pack_entry(void *user, const struct floe_pack_entry *e)
{
    struct rb *r = user;
    if (r->nfiles == r->files_cap) {
        r->files_cap = r->files_cap ? 2 * r->files_cap : 256;
        r->files = floe_xrealloc(r->files, r->files_cap * sizeof(*r->files));
    }
    struct floe_catalog_file *f = &r->files[r->nfiles++];
    memset(f, 0, sizeof(*f));
    f->path = floe_xstrdup(e->path);
    f->path_len = strlen(e->path);
    f->size_bytes = e->size;
    f->has_mtime = true;
    f->mtime_ns = e->mtime_ns;
    f->has_xxh3 = true;
    memcpy(f->xxh3_128, e->xxh128, FLOE_CATALOG_XXH3_BYTES);
    f->offset_bytes = e->frame_offset;
    f->length_bytes = e->frame_length;
    f->compression =
        e->compression == FLOE_PACK_ZSTD ? FLOE_CATALOG_COMP_ZSTD : FLOE_CATALOG_COMP_NONE;
    return 0;
}

static void free_pack_files(struct rb *r)
{
    for (size_t i = 0; i < r->nfiles; i++)
        free((char *)r->files[i].path);
    r->nfiles = 0;
}

/* A pack: its trailer (the last MiB-aligned range), then its index, into file rows. A pack
 * that is not readable as one is warned about and skipped (FLOE_OK); a failed retrieval
 * stops the rebuild. */
static int record_pack(struct rb *r, const struct arc *a)
{
    uint64_t tb = floe_pack_trailer_bytes();
    if (a->size < tb + floe_pack_header_bytes()) {
        warn(r, a->id, "a pack archive too small to hold a pack; skipped");
        return FLOE_OK;
    }
    phase(r, "pack index", a->desc);
    uint64_t start = (a->size - tb) / MIB * MIB;
    uint8_t *buf = NULL;
    int rc = fetch(r, a, start);
    if (!rc)
        rc = slurp(r, a->size - start, &buf);
    if (rc)
        return rc;
    uint64_t ioff = 0, ilen = 0;
    struct floe_error e = {0};
    int prc = floe_pack_index_range(buf + (a->size - tb - start), tb, a->size, &ioff, &ilen, &e);
    if (!prc && ioff < start) {
        free(buf);
        buf = NULL;
        start = ioff / MIB * MIB;
        rc = fetch(r, a, start);
        if (!rc)
            rc = slurp(r, a->size - start, &buf);
        if (rc)
            return rc;
    }
    if (!prc)
        prc = floe_pack_read_index(buf + (ioff - start), ilen, pack_entry, r, &e);
    free(buf);
    if (prc) {
        char msg[FLOE_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof(msg), "its pack index is unreadable (%s); skipped", e.message);
        warn(r, a->id, msg);
        free_pack_files(r);
        return FLOE_OK;
    }
    rc = record(r, a, FLOE_CATALOG_KIND_PACK, r->files, r->nfiles);
    free_pack_files(r);
    return rc;
}

static int record_one(struct rb *r, const struct arc *a, struct floe_description *d)
{
    floe_describe_parse(a->desc, d);
    char name[FLOE_MTGLACIER_DESC_MAX];
    int64_t mtime = 0;
    struct floe_error e = {0};
    switch (d->kind) {
    case FLOE_DESC_FILE:
    case FLOE_DESC_ZFILE: /* a large file is never empty: a zfile's size is not 0 */
        if (d->truncated) {
            warn(r, a->id,
                 "its description holds only the start of the path (it ends in %~); "
                 "skipped");
            return FLOE_OK;
        }
        return record_file(r, a, d->path, d->path_len, d->mtime_s,
                           d->kind == FLOE_DESC_ZFILE ? d->size : 0);
    case FLOE_DESC_PACK: return record_pack(r, a);
    case FLOE_DESC_CATALOG: return record(r, a, FLOE_CATALOG_KIND_CATALOG, NULL, 0);
    default: break;
    }
    int rc = floe_mtglacier_mt2_decode(a->desc, name, &mtime, &e);
    if (rc == FLOE_OK)
        return record_file(r, a, name, strlen(name), mtime, 0);
    if (rc == FLOE_E_CORRUPT)
        warn(r, a->id, e.message);
    else
        r->out->archives_skipped++; /* another program's archive */
    return FLOE_OK;
}

/* Records the archives v[from..n) into the catalog at tmp_db (created if missing), in one
 * transaction; only_missing: those the catalog does not have yet. */
static int record_archives(struct rb *r, size_t from, bool only_missing)
{
    struct floe_catalog_options co = {0};
    int rc = floe_catalog_open(r->tmp_db, &co, &r->cat, r->err);
    if (!rc)
        rc = floe_catalog_begin(r->cat, r->err);
    struct floe_description *d = floe_xmalloc(sizeof(*d));
    for (size_t i = from; !rc && i < r->n; i++) {
        struct floe_catalog_archive known;
        if (r->o->cancel && atomic_load(r->o->cancel))
            rc = floe_error_set(r->err, FLOE_E_CANCELLED, "rebuild interrupted");
        else if (!only_missing)
            rc = record_one(r, &r->v[i], d);
        else if ((rc = floe_catalog_get_archive(r->cat, r->v[i].id, &known, r->err)) ==
                 FLOE_E_NOT_FOUND)
            rc = record_one(r, &r->v[i], d);
    }
    free(d);
    if (!rc)
        rc = floe_catalog_commit(r->cat, r->err);
    floe_catalog_close(r->cat);
    r->cat = NULL;
    return rc;
}

/* ---- the run ---- */

static int place(struct rb *r)
{
    char side[4200];
    static const char *const sfx[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        snprintf(side, sizeof(side), "%s%s", r->path, sfx[i]);
        unlink(side);
    }
    if (rename(r->tmp_db, r->path) != 0)
        return floe_error_set_errno(r->err, FLOE_E_IO, errno, r->path, "cannot rename %s to %s",
                                    r->tmp_db, r->path);
    return floe_dir_sync_parent(r->path, r->err);
}

static void remove_db(const char *db)
{
    char side[4300];
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal", ".lock"};
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        snprintf(side, sizeof(side), "%s%s", db, sfx[i]);
        unlink(side);
    }
}

static int run(struct rb *r)
{
    int rc = read_inventory(r);
    if (rc)
        return rc;
    const struct arc *snap = NULL;
    struct floe_description *d = floe_xmalloc(sizeof(*d));
    for (size_t i = 0; !r->o->no_snapshot && i < r->n; i++) {
        floe_describe_parse(r->v[i].desc, d);
        if (d->kind == FLOE_DESC_CATALOG)
            snap = &r->v[i]; /* sorted by creation: the last is the newest */
    }
    free(d);
    remove_db(r->tmp_db);
    if (!snap) {
        phase(r, "descriptions", r->o->vault);
        return record_archives(r, 0, false);
    }
    rc = from_snapshot(r, snap);
    /* the snapshot archive itself, and what later runs uploaded (a run whose snapshot failed):
     * archives created at or after it that its catalog does not know */
    if (!rc)
        rc = record_archives(r, (size_t)(snap - r->v), true);
    return rc;
}

int floe_rebuild_catalog(struct floe_client *c, const struct floe_rebuild_options *o,
                         struct floe_rebuild_result *out, struct floe_error *err)
{
    memset(out, 0, sizeof(*out));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct rb r = {.client = c, .o = o, .out = out, .err = err};
    int rc = floe_catopen_path(c, o->vault, o->catalog_path, r.path, sizeof(r.path), err);
    if (rc)
        return rc;
    snprintf(out->catalog_path, sizeof(out->catalog_path), "%s", r.path);
    if (!o->force && access(r.path, F_OK) == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "catalog %s exists; --force replaces it with one rebuilt from "
                              "vault %s",
                              r.path, o->vault);
    snprintf(r.tmp_db, sizeof(r.tmp_db), "%s.rebuild", r.path);
    snprintf(r.tmp_inv, sizeof(r.tmp_inv), "%s.rebuild-inventory", r.path);
    snprintf(r.tmp_data, sizeof(r.tmp_data), "%s.rebuild-data", r.path);
    rc = run(&r);
    if (!rc)
        rc = place(&r);
    if (rc)
        remove_db(r.tmp_db);
    else {
        char lock[4300];
        snprintf(lock, sizeof(lock), "%s.lock", r.tmp_db);
        unlink(lock);
    }
    unlink(r.tmp_inv);
    unlink(r.tmp_data);
    for (size_t i = 0; i < r.n; i++)
        free(r.v[i].desc);
    free(r.v);
    free(r.files);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
