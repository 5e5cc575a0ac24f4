/*
 * backup.c - floe_backup() (floe/backup.h): one run, in phases on the calling thread:
 *
 *   open the catalog (its lock makes the run exclusive) -> begin a run -> abort this backup
 *   set's unfinished pack uploads left by a killed run -> plan (walk + compare, plan.c) ->
 *   small files: packs (packer.c) or single requests (singles.c) -> large files: one resumable
 *   multipart upload each (upload.c) -> hard links: recorded in the archive of their first
 *   path, not uploaded -> --delete-removed -> end the run -> upload a snapshot of the catalog.
 *
 * The catalog is written only after an acknowledgement: a pack and its files in one
 * transaction; single-request archives batched (a commit every BATCH_FILES archives or
 * BATCH_SECONDS, and at the end), so a kill -9 loses at most one batch of records - those
 * archives are then uploaded again by the next run (orphans `floe prune` finds), never
 * recorded without being in the vault.
 */
#include "floe/backup.h"

#include "alloc.h"
#include "catalog.h"
#include "client_impl.h"
#include "describe.h"
#include "floe/checkpoint.h"
#include "floe/range.h"
#include "floe/sigv4.h"
#include "floe/upload.h"
#include "mtglacier.h"
#include "packer.h"
#include "plan.h"
#include "prices.h"
#include "singles.h"
#include "zfile.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* A commit writes every page the batch touched: the random archive ids land all over their
 * index, so a small batch rewrites most of that index's pages for a few rows each (10,000
 * one-file archives: about 20 us per file at 256 rows a commit, 15 at 2,048, 14 in one). */
#define BATCH_FILES 2048
#define BATCH_SECONDS 1.0

struct run {
    struct floe_client *client;
    const struct floe_backup_options *o;
    struct floe_backup_result *out;
    struct floe_catalog *cat;
    uint64_t run_id;
    uint32_t set; /* names this catalog in pack descriptions */
    uint64_t threshold;
    struct floe_plan *plan;
    uint64_t batch; /* archives recorded in the open transaction */
    double batch_started;
    struct timespec t0;
    uint64_t files_done, bytes_done; /* progress across phases */
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double elapsed(const struct run *r)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - r->t0.tv_sec) + (double)(t.tv_nsec - r->t0.tv_nsec) / 1e9;
}

static void progress(struct run *r, const char *current)
{
    if (!r->o->progress)
        return;
    struct floe_backup_progress p = {
        .files_done = r->files_done,
        .files_total = r->plan->count[0] + r->plan->count[1],
        .bytes_done = r->bytes_done,
        .bytes_total = r->plan->bytes[0] + r->plan->bytes[1],
        .archives = r->out->archives,
        .current = current,
        .seconds = elapsed(r),
    };
    r->o->progress(&p, r->o->user);
}

/* A note for the user that is not about a file of the backup (the snapshot). */
static void notice(struct run *r, const char *path, const char *message)
{
    if (r->o->warn)
        r->o->warn(path, message, r->o->user);
}

/* A file of the backup was skipped: the run is partial. */
static void warn(struct run *r, const char *path, const char *message)
{
    r->out->files_skipped++;
    r->out->partial = true;
    notice(r, path, message);
}

/* ---- options ---- */

static int check_options(const struct floe_backup_options *o, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(o->vault, err);
    if (rc)
        return rc;
    if (!o->nsources)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "nothing to back up: give a SOURCE");
    if (o->compress_level < 0 || o->compress_level > 19)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--compress level %d is out of range (1 to 19)", o->compress_level);
    uint64_t threshold = o->pack_threshold ? o->pack_threshold : FLOE_BACKUP_DEFAULT_PACK_THRESHOLD;
    if (threshold > FLOE_UPLOAD_ARCHIVE_MAX || threshold > ((uint64_t)1 << 30))
        return floe_error_set(err, FLOE_E_RANGE,
                              "--pack-threshold %" PRIu64 " MiB is above the 1 GiB floe reads "
                              "into memory for a small file",
                              threshold >> 20);
    uint64_t pack = o->pack_size ? o->pack_size : FLOE_BACKUP_DEFAULT_PACK_SIZE;
    if (pack < threshold)
        return floe_error_set(err, FLOE_E_RANGE,
                              "--pack-size (%" PRIu64 " bytes) is smaller than --pack-threshold "
                              "(%" PRIu64 " bytes)",
                              pack, threshold);
    if (o->description_format == FLOE_BACKUP_DESC_MT2 && o->layout != FLOE_BACKUP_FILE_PER_ARCHIVE)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--description-format mt2 describes one file per archive: use it "
                              "with --layout file-per-archive");
    if (o->description_format == FLOE_BACKUP_DESC_MT2 && o->compress_level)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--compress cannot go with --description-format mt2: mt-aws-glacier "
                              "could not restore a compressed archive");
    if (o->part_size)
        return floe_range_check_part_size(o->part_size, err);
    return FLOE_OK;
}

/* ---- catalog ---- */

static int open_catalog(struct run *r, struct floe_error *err)
{
    const struct floe_backup_options *o = r->o;
    char *path = r->out->catalog_path;
    int rc = FLOE_OK;
    if (o->catalog_path)
        snprintf(path, sizeof(r->out->catalog_path), "%s", o->catalog_path);
    else
        rc = floe_catalog_default_path(r->client->endpoint, r->client->account_id, o->vault, path,
                                       sizeof(r->out->catalog_path), err);
    if (rc)
        return rc;
    r->set = (uint32_t)XXH3_64bits(path, strlen(path));
    if (o->dry_run && access(path, F_OK) != 0)
        return FLOE_OK; /* nothing recorded yet: everything is new; create nothing */
    struct floe_catalog_options co = {.read_only = o->dry_run};
    return floe_catalog_open(path, &co, &r->cat, err);
}

/* Commits the open batch of single-request archives. */
static int commit_batch(struct run *r, struct floe_error *err)
{
    if (!r->batch || !floe_catalog_in_transaction(r->cat))
        return FLOE_OK;
    r->batch = 0;
    return floe_catalog_commit(r->cat, err);
}

/* An archive row for id (which must fit the catalog's column: Glacier's ids are 138 bytes). */
static int archive_row(const char *id, uint64_t size, const uint8_t tree[FLOE_HASH_BYTES],
                       const char *description, enum floe_catalog_kind kind,
                       struct floe_catalog_archive *a, struct floe_error *err)
{
    memset(a, 0, sizeof(*a));
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof(a->archive_id))
        return floe_error_set(err, FLOE_E_SERVICE,
                              "the service returned an archive id of %zu bytes; the catalog "
                              "keeps ids of 1 to %zu",
                              n, sizeof(a->archive_id) - 1);
    memcpy(a->archive_id, id, n + 1);
    a->size_bytes = size;
    memcpy(a->tree_hash, tree, FLOE_HASH_BYTES);
    a->description = description;
    a->kind = kind;
    return FLOE_OK;
}

static void file_row(const struct floe_plan_item *it, struct floe_catalog_file *f)
{
    memset(f, 0, sizeof(*f));
    f->path = it->path;
    f->path_len = it->path_len;
    f->size_bytes = it->size;
    f->has_mtime = true;
    f->mtime_ns = it->mtime_ns;
    f->inode = it->inode;
    f->device = it->device;
    f->length_bytes = it->size;
}

/* ---- small files, one archive each ---- */

/* A file archive's description: floe's, or mt-aws-glacier's mt2 (its relative name; a name mt2
 * cannot carry, such as one that is not UTF-8, gets floe's with a note). */
static void describe_file(struct run *r, const struct floe_plan_item *it, char out[1025])
{
    if (r->o->description_format == FLOE_BACKUP_DESC_MT2) {
        struct floe_error e = {0};
        int64_t secs = it->mtime_ns >= 0 ? it->mtime_ns / 1000000000
                                         : -((-it->mtime_ns + 999999999) / 1000000000);
        if (floe_mtglacier_mt2_encode(it->path + it->rel_off, secs, out, 1025, &e) == FLOE_OK)
            return;
        notice(r, it->path, e.message);
    }
    floe_describe_file(it->path, it->path_len, it->mtime_ns, out);
}

static void describe_single(void *user, const struct floe_plan_item *it, char out[1025])
{
    describe_file(user, it, out);
}

static int record_single(void *user, const struct floe_singles_done *d, struct floe_error *err)
{
    struct run *r = user;
    int rc = FLOE_OK;
    if (!floe_catalog_in_transaction(r->cat)) {
        if ((rc = floe_catalog_begin(r->cat, err)))
            return rc;
        r->batch_started = now_s();
    }
    struct floe_catalog_archive a;
    if ((rc = archive_row(d->archive->archive_id, d->item->size, d->archive->tree, d->description,
                          FLOE_CATALOG_KIND_FILE, &a, err)))
        return rc;
    struct floe_catalog_file f;
    file_row(d->item, &f);
    f.has_xxh3 = true;
    memcpy(f.xxh3_128, d->xxh3, FLOE_CATALOG_XXH3_BYTES);
    f.has_tree_hash = true;
    memcpy(f.tree_hash, d->archive->tree, FLOE_HASH_BYTES);
    if ((rc = floe_catalog_record_archive(r->cat, &a, &f, 1, err)))
        return rc;
    r->out->archives++;
    r->out->bytes_uploaded += d->item->size;
    if (++r->batch >= BATCH_FILES || now_s() - r->batch_started >= BATCH_SECONDS)
        rc = commit_batch(r, err);
    return rc;
}

static void warn_cb(void *user, const char *path, const char *message)
{
    warn(user, path, message);
}

static void progress_small(void *user, uint64_t files, uint64_t bytes, const char *current)
{
    struct run *r = user;
    r->files_done = files;
    r->bytes_done = bytes;
    progress(r, current);
}

static int run_singles(struct run *r, struct floe_error *err)
{
    struct floe_singles_options so = {
        .client = r->client,
        .vault = r->o->vault,
        .concurrency = r->o->concurrency ? r->o->concurrency : FLOE_BACKUP_DEFAULT_CONCURRENCY,
        .adaptive = !r->o->concurrency,
        .max_size = r->threshold,
        .cancel = r->o->cancel,
        .describe = describe_single,
        .record = record_single,
        .warn = warn_cb,
        .progress = progress_small,
        .user = r,
    };
    struct floe_singles_stats st = {0};
    int rc = floe_singles_run(r->plan, &so, &st, err);
    struct floe_error e = {0};
    int crc = commit_batch(r, &e); /* what was acknowledged is recorded, failure or not */
    if (!rc && crc) {
        *err = e;
        rc = crc;
    }
    return rc;
}

/* ---- small files in packs ---- */

static void describe_pack(void *user, uint64_t seq, char out[1025])
{
    struct run *r = user;
    floe_describe_pack(r->set, r->run_id, seq, out);
}

static int record_pack(void *user, const struct floe_upload_result *ar, const char *description,
                       const struct floe_packed_file *files, size_t n, struct floe_error *err)
{
    struct run *r = user;
    struct floe_catalog_archive a;
    int rc = archive_row(ar->archive_id, ar->size, ar->tree, description, FLOE_CATALOG_KIND_PACK,
                         &a, err);
    if (rc)
        return rc;
    struct floe_catalog_file *rows = floe_xcalloc(n ? n : 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        file_row(&files[i].item, &rows[i]);
        rows[i].has_xxh3 = true;
        memcpy(rows[i].xxh3_128, files[i].entry.xxh128, FLOE_CATALOG_XXH3_BYTES);
        rows[i].offset_bytes = files[i].entry.frame_offset;
        rows[i].length_bytes = files[i].entry.frame_length;
        rows[i].compression = files[i].entry.compression == FLOE_PACK_ZSTD ? FLOE_CATALOG_COMP_ZSTD
                                                                           : FLOE_CATALOG_COMP_NONE;
    }
    rc = floe_catalog_record_archive(r->cat, &a, rows, n, err);
    free(rows);
    if (!rc) {
        r->out->archives++;
        r->out->packs++;
        r->out->bytes_uploaded += ar->size;
    }
    return rc;
}

static int run_packs(struct run *r, struct floe_error *err)
{
    struct floe_packer_options po = {
        .client = r->client,
        .vault = r->o->vault,
        .pack_size = r->o->pack_size ? r->o->pack_size : FLOE_BACKUP_DEFAULT_PACK_SIZE,
        .max_files = FLOE_BACKUP_PACK_MAX_FILES,
        .max_file_size = r->threshold,
        .zstd_level = r->o->compress_level,
        .part_size = r->o->part_size,
        .memory_limit = r->o->memory_limit,
        .cancel = r->o->cancel,
        .describe = describe_pack,
        .record = record_pack,
        .warn = warn_cb,
        .progress = progress_small,
        .user = r,
    };
    struct floe_packer_stats st = {0};
    return floe_packer_run(r->plan, &po, 1, &st, err);
}

/* A killed run may have left the multipart upload of a pack or of a compressed file (streams,
 * without a journal) open: abort this set's; and a large file's upload that no journal names. */
struct stale_ctx {
    struct run *r;
    char prefix[2][64];
};

/* Whether path is one of this run's sources or below one. */
static bool under_sources(const struct run *r, const char *path)
{
    for (size_t i = 0; i < r->o->nsources; i++) {
        char abs[PATH_MAX];
        if (!realpath(r->o->sources[i], abs))
            continue;
        size_t n = strlen(abs);
        if (strncmp(path, abs, n) == 0 && (path[n] == '\0' || path[n] == '/' || n == 1))
            return true;
    }
    return false;
}

/* A large file's multipart upload that its journal does not name: floe upload creates the
 * journal just after Initiate, so a run killed between the two left an upload nothing resumes. */
static bool orphan_upload(struct run *r, const char *upload_id, const char *description)
{
    struct floe_description *d = floe_xmalloc(sizeof(*d));
    floe_describe_parse(description, d);
    bool orphan = false;
    if (d->kind == FLOE_DESC_FILE && !d->truncated && under_sources(r, d->path)) {
        char ckpt[PATH_MAX];
        struct floe_ckpt_state *st = NULL;
        struct floe_error ignore = {0};
        if (floe_upload_checkpoint_path(r->client, r->o->vault, d->path, ckpt, sizeof(ckpt),
                                        &ignore) == FLOE_OK) {
            int rc = floe_checkpoint_load(ckpt, &st, &ignore);
            orphan = rc == FLOE_E_NOT_FOUND ||
                     (rc == FLOE_OK && strcmp(st->header.upload_id, upload_id) != 0);
        }
        floe_checkpoint_state_free(st);
    }
    free(d);
    return orphan;
}

static int abort_stale(const struct floe_upload_info *u, void *user)
{
    struct stale_ctx *s = user;
    if (strncmp(u->archive_description, s->prefix[0], strlen(s->prefix[0])) == 0 ||
        strncmp(u->archive_description, s->prefix[1], strlen(s->prefix[1])) == 0 ||
        orphan_upload(s->r, u->upload_id, u->archive_description)) {
        struct floe_error ignore = {0};
        floe_client_abort_multipart(s->r->client, s->r->o->vault, u->upload_id, &ignore);
    }
    return 0;
}

static int abort_stale_packs(struct run *r, struct floe_error *err)
{
    struct stale_ctx s = {.r = r};
    floe_describe_pack_prefix(r->set, s.prefix[0]);
    floe_describe_zfile_prefix(r->set, s.prefix[1]);
    return floe_client_list_multipart_uploads(r->client, r->o->vault, abort_stale, &s, err);
}

/* ---- large files ---- */

struct large_progress {
    struct run *r;
    const char *path;
    uint64_t base;
};

static void on_large_progress(const struct floe_upload_progress *p, void *user)
{
    struct large_progress *lp = user;
    lp->r->bytes_done = lp->base + p->bytes_done;
    progress(lp->r, lp->path);
}

/* Records a large file's acknowledged archive (compressed: zr set) and counts it. */
static int record_large(struct run *r, const struct floe_plan_item *it, const char *desc,
                        const struct floe_upload_result *ur, const struct floe_zfile_result *zr,
                        uint64_t base, struct floe_error *err)
{
    struct floe_catalog_archive a;
    int rc = archive_row(ur->archive_id, ur->size, ur->tree, desc, FLOE_CATALOG_KIND_FILE, &a, err);
    if (rc)
        return rc;
    struct floe_catalog_file f;
    file_row(it, &f);
    if (zr) { /* the archive is the zstd frame; the file's own hash is the xxh3 */
        f.length_bytes = ur->size;
        f.compression = FLOE_CATALOG_COMP_ZSTD;
        f.has_xxh3 = true;
        memcpy(f.xxh3_128, zr->xxh3, FLOE_CATALOG_XXH3_BYTES);
    } else {
        f.has_tree_hash = true;
        memcpy(f.tree_hash, ur->tree, FLOE_HASH_BYTES);
        if (it->has_xxh3) {
            f.has_xxh3 = true;
            memcpy(f.xxh3_128, it->xxh3, FLOE_CATALOG_XXH3_BYTES);
        }
    }
    if ((rc = floe_catalog_record_archive(r->cat, &a, &f, 1, err)))
        return rc;
    r->out->archives++;
    r->out->bytes_uploaded += ur->size;
    r->files_done++;
    r->bytes_done = base + it->size;
    return FLOE_OK;
}

/* --compress on a large file that compresses: one zstd frame streamed into the vault. */
static int one_large_compressed(struct run *r, const struct floe_plan_item *it,
                                struct floe_error *err)
{
    char desc[FLOE_DESCRIBE_CAP];
    floe_describe_zfile(r->set, r->run_id, it->path, it->path_len, it->mtime_ns, it->size, desc);
    struct large_progress lp = {r, it->path, r->bytes_done};
    struct floe_zfile_options zo = {
        .vault = r->o->vault,
        .path = it->path,
        .size = it->size,
        .mtime_ns = it->mtime_ns,
        .description = desc,
        .level = r->o->compress_level,
        .part_size = r->o->part_size,
        .memory_limit = r->o->memory_limit,
        .cancel = r->o->cancel,
        .progress = on_large_progress,
        .progress_user = &lp,
    };
    struct floe_zfile_result zr;
    struct floe_error e = {0};
    int rc = floe_zfile_upload(r->client, &zo, &zr, &e);
    if (rc == FLOE_E_IO || rc == FLOE_E_SOURCE_CHANGED) { /* the file's fault: skip it */
        warn(r, it->path, e.message);
        return FLOE_OK;
    }
    if (rc) {
        *err = e;
        return rc;
    }
    return record_large(r, it, desc, &zr.archive, &zr, lp.base, err);
}

/* Removes an upload journal that no longer applies; with abort, also aborts its multipart
 * upload (best effort: it may be gone already), so nothing is left behind in the vault. */
static void drop_stale_checkpoint(struct run *r, const char *ckpt, bool abort)
{
    struct floe_ckpt_state *st = NULL;
    struct floe_error e = {0};
    if (abort && floe_checkpoint_load(ckpt, &st, &e) == FLOE_OK && st->header.upload_id[0])
        floe_client_abort_multipart(r->client, r->o->vault, st->header.upload_id, &e);
    floe_checkpoint_state_free(st);
    unlink(ckpt);
}

static int one_large(struct run *r, const struct floe_plan_item *it, struct floe_error *err)
{
    if (r->o->compress_level && floe_zfile_worth(it->path, it->size))
        return one_large_compressed(r, it, err);
    char desc[FLOE_DESCRIBE_CAP];
    describe_file(r, it, desc);
    struct large_progress lp = {r, it->path, r->bytes_done};
    struct floe_upload_options uo = {
        .vault = r->o->vault,
        .path = it->path,
        .description = desc,
        .part_size = r->o->part_size,
        .memory_limit = r->o->memory_limit,
        .cancel = r->o->cancel,
        .progress = on_large_progress,
        .progress_user = &lp,
    };
    struct floe_upload_result ur;
    struct floe_error e = {0};
    char ckpt[4096];
    bool resumed = floe_upload_checkpoint_path(r->client, r->o->vault, it->path, ckpt, sizeof(ckpt),
                                               &e) == FLOE_OK &&
                   access(ckpt, F_OK) == 0;
    int rc = floe_upload_file(r->client, &uo, &ur, &e);
    if (resumed && (rc == FLOE_E_NOT_FOUND || rc == FLOE_E_SOURCE_CHANGED)) {
        /* the journal of a killed run no longer applies: its multipart upload is gone (the
         * killed run completed it before it could record it, or it was aborted or expired), or
         * the file changed since. Upload the file as it is now, once. */
        drop_stale_checkpoint(r, ckpt, rc == FLOE_E_SOURCE_CHANGED);
        if (rc == FLOE_E_NOT_FOUND)
            notice(r, it->path,
                   "the multipart upload of an interrupted run is gone (completed before it "
                   "was recorded, or aborted): uploading the file afresh; a completed one stays "
                   "in the vault unrecorded");
        e = (struct floe_error){0};
        rc = floe_upload_file(r->client, &uo, &ur, &e);
    }
    if (rc == FLOE_E_IO || rc == FLOE_E_SOURCE_CHANGED) { /* the file's fault: skip it */
        warn(r, it->path, e.message);
        return FLOE_OK;
    }
    if (rc) {
        *err = e;
        return rc;
    }
    return record_large(r, it, desc, &ur, NULL, lp.base, err);
}

static int run_large(struct run *r, struct floe_error *err)
{
    int rc = floe_plan_rewind(r->plan, FLOE_PLAN_LARGE, err);
    while (!rc) {
        int n = floe_plan_next(r->plan, FLOE_PLAN_LARGE, err);
        if (n <= 0)
            return n < 0 ? err->status : FLOE_OK;
        rc = one_large(r, &r->plan->cur, err);
    }
    return rc;
}

/* ---- hard links ---- */

/* Records each planned later link as one more row of the archive holding its first path's
 * content, once that path is recorded with this inode's size and mtime (by this run or an
 * earlier one). A first path that was skipped or failed leaves its links skipped too. */
static int run_links(struct run *r, struct floe_error *err)
{
    struct floe_plan *p = r->plan;
    if (!p->count[FLOE_PLAN_LINK])
        return FLOE_OK;
    int rc = floe_plan_rewind(p, FLOE_PLAN_LINK, err);
    if (!rc)
        rc = floe_catalog_begin(r->cat, err); /* the links: one transaction */
    while (!rc) {
        int n = floe_plan_next(p, FLOE_PLAN_LINK, err);
        if (n <= 0) {
            rc = n < 0 ? FLOE_E_IO : FLOE_OK;
            break;
        }
        const struct floe_plan_item *it = &p->cur;
        const char *first = floe_plan_link_first(p, it->device, it->inode);
        struct floe_catalog_file f;
        rc = first ? floe_catalog_lookup(r->cat, first, strlen(first), &f, err) : FLOE_E_NOT_FOUND;
        if (rc == FLOE_E_NOT_FOUND ||
            (!rc && (f.size_bytes != it->size || !f.has_mtime || f.mtime_ns != it->mtime_ns ||
                     (f.inode && f.inode != it->inode)))) {
            char msg[FLOE_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg),
                     "%s: skipped: it is a hard link of %s, which this run did not back up",
                     it->path, first ? first : "another file");
            warn(r, it->path, msg);
            rc = FLOE_OK;
            continue;
        }
        if (rc)
            break;
        char archive_id[FLOE_CATALOG_ID_MAX];
        snprintf(archive_id, sizeof(archive_id), "%s", f.archive_id);
        f.path = it->path;
        f.path_len = it->path_len;
        f.device = it->device;
        f.uploaded_at = 0;
        if (!(rc = floe_catalog_record_link(r->cat, archive_id, &f, err)))
            r->out->files_linked++;
    }
    return rc ? rc : floe_catalog_commit(r->cat, err);
}

/* ---- the plan's summary ---- */

static void summarize_plan(struct run *r)
{
    struct floe_backup_result *out = r->out;
    const struct floe_plan *p = r->plan;
    const struct floe_prices *pr = floe_prices_default();
    uint64_t part = r->o->part_size ? r->o->part_size : FLOE_UPLOAD_DEFAULT_PART_SIZE;
    out->files_unchanged = p->unchanged;
    out->files_removed = p->removed;
    out->files_deferred = p->deferred;
    out->specials = p->specials;
    out->symlinks = p->symlinks;
    out->bytes_planned = p->bytes[0] + p->bytes[1];
    uint64_t requests = 0, archives = 0;
    if (r->o->layout == FLOE_BACKUP_FILE_PER_ARCHIVE || !p->count[FLOE_PLAN_SMALL]) {
        requests += p->count[FLOE_PLAN_SMALL];
        archives += p->count[FLOE_PLAN_SMALL];
    } else {
        uint64_t pack = r->o->pack_size ? r->o->pack_size : FLOE_BACKUP_DEFAULT_PACK_SIZE;
        uint64_t packs = (p->bytes[FLOE_PLAN_SMALL] + pack - 1) / pack;
        uint64_t by_count = (p->count[FLOE_PLAN_SMALL] + FLOE_BACKUP_PACK_MAX_FILES - 1) /
                            FLOE_BACKUP_PACK_MAX_FILES;
        packs = packs > by_count ? packs : by_count;
        if (!packs)
            packs = 1;
        archives += packs;
        requests += floe_prices_upload_requests(p->bytes[FLOE_PLAN_SMALL], part) +
                    (packs - 1) * 2; /* roughly: each further pack adds initiate + complete */
    }
    /* large files: their sizes are in the list only; an average gives the parts well enough */
    if (p->count[FLOE_PLAN_LARGE]) {
        uint64_t avg = p->bytes[FLOE_PLAN_LARGE] / p->count[FLOE_PLAN_LARGE];
        requests += p->count[FLOE_PLAN_LARGE] * floe_prices_upload_requests(avg, part);
        archives += p->count[FLOE_PLAN_LARGE];
    }
    out->requests = requests;
    out->est_request_usd = (double)requests / 1000.0 * pr->upload_per_1000_requests_usd;
    double gb = (double)(out->bytes_planned + archives * pr->archive_overhead_bytes) / 1e9;
    out->est_storage_usd_month = gb * pr->storage_per_gb_month_usd;
}

static void count_changes(struct run *r)
{
    /* new vs changed are in the lists' records: one pass over each list */
    struct floe_error ignore = {0};
    for (int l = 0; l < FLOE_PLAN_LISTS; l++) {
        if (floe_plan_rewind(r->plan, (enum floe_plan_list)l, &ignore))
            continue;
        while (floe_plan_next(r->plan, (enum floe_plan_list)l, &ignore) > 0) {
            if (r->plan->cur.change == FLOE_BACKUP_CHANGED)
                r->out->files_changed++;
            else
                r->out->files_new++;
        }
    }
}

/* ---- the run ---- */

static int upload_phases(struct run *r, struct floe_error *err)
{
    int rc = abort_stale_packs(r, err);
    if (!rc)
        rc = floe_plan_rewind(r->plan, FLOE_PLAN_SMALL, err);
    if (!rc && r->plan->count[FLOE_PLAN_SMALL])
        rc = r->o->layout == FLOE_BACKUP_FILE_PER_ARCHIVE ? run_singles(r, err) : run_packs(r, err);
    if (!rc)
        rc = run_large(r, err);
    if (!rc)
        rc = commit_batch(r, err);
    if (!rc)
        rc = run_links(r, err);
    if (!rc && r->o->delete_removed) {
        for (size_t i = 0; !rc && i < r->o->nsources; i++) {
            char abs[PATH_MAX], prefix[PATH_MAX + 2];
            if (!realpath(r->o->sources[i], abs))
                continue;
            snprintf(prefix, sizeof(prefix), "%s/", abs);
            rc = floe_catalog_mark_unseen_removed(r->cat, prefix, strlen(prefix), NULL, err);
        }
    }
    return rc;
}

/* After the run: the catalog itself goes into the vault (a failure only warns). */
static void upload_snapshot(struct run *r)
{
    char tmp[sizeof(r->out->catalog_path) + 16];
    snprintf(tmp, sizeof(tmp), "%s.snapshot.zst", r->out->catalog_path);
    struct floe_error e = {0};
    if (floe_catalog_snapshot(r->cat, tmp, &e) != FLOE_OK) {
        notice(r, r->out->catalog_path, e.message);
        return;
    }
    char desc[FLOE_DESCRIBE_CAP];
    floe_describe_catalog(r->set, r->run_id, (int64_t)time(NULL), desc);
    struct floe_upload_options uo = {
        .vault = r->o->vault, .path = tmp, .description = desc, .no_checkpoint = true};
    struct floe_upload_result ur;
    struct floe_catalog_archive a;
    if (floe_upload_file(r->client, &uo, &ur, &e) == FLOE_OK &&
        archive_row(ur.archive_id, ur.size, ur.tree, desc, FLOE_CATALOG_KIND_CATALOG, &a, &e) ==
            FLOE_OK) {
        if (floe_catalog_record_archive(r->cat, &a, NULL, 0, &e) == FLOE_OK)
            snprintf(r->out->snapshot_archive_id, sizeof(r->out->snapshot_archive_id), "%s",
                     ur.archive_id);
    }
    if (e.status)
        notice(r, r->out->catalog_path, e.message);
    unlink(tmp);
}

static enum floe_catalog_outcome outcome_of(int rc, const struct floe_backup_result *out)
{
    if (rc == FLOE_E_CANCELLED)
        return FLOE_CATALOG_INTERRUPTED;
    if (rc)
        return FLOE_CATALOG_FAILED;
    return out->partial ? FLOE_CATALOG_PARTIAL : FLOE_CATALOG_OK;
}

int floe_backup(struct floe_client *c, const struct floe_backup_options *opts,
                struct floe_backup_result *out, struct floe_error *err)
{
    memset(out, 0, sizeof(*out));
    struct run r = {.client = c, .o = opts, .out = out};
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    r.threshold = opts->pack_threshold ? opts->pack_threshold : FLOE_BACKUP_DEFAULT_PACK_THRESHOLD;
    int rc = check_options(opts, err);
    if (!rc)
        rc = open_catalog(&r, err);
    bool in_run = false;
    if (!rc && !opts->dry_run) {
        rc = floe_catalog_run_begin(r.cat, &r.run_id, err);
        in_run = !rc;
    }
    if (!rc)
        rc = floe_plan_build(r.cat, !opts->dry_run, opts, r.threshold, &r.plan, err);
    if (!rc) {
        out->files_skipped += r.plan->skipped;
        out->partial = r.plan->skipped > 0;
        summarize_plan(&r);
        count_changes(&r);
        if (!opts->dry_run) {
            progress(&r, NULL);
            rc = upload_phases(&r, err);
        }
    }
    if (in_run) {
        struct floe_catalog_run_counts counts = {
            .files_new = out->files_new,
            .files_changed = out->files_changed,
            .files_removed = out->files_removed,
            .files_skipped = out->files_skipped,
            .files_failed = out->files_failed,
            .bytes_uploaded = out->bytes_uploaded,
        };
        struct floe_error e = {0};
        int erc = floe_catalog_run_end(r.cat, outcome_of(rc, out), &counts, &e);
        if (!rc && erc) {
            *err = e;
            rc = erc;
        }
        if (!rc && !opts->no_snapshot)
            upload_snapshot(&r);
    }
    out->seconds = elapsed(&r);
    floe_plan_free(r.plan);
    floe_catalog_close(r.cat);
    return rc;
}
