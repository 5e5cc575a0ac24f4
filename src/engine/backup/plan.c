/*
 * plan.c - see plan.h. The walk (walk.c) calls on_file for every file the filters let
 * through; each is looked up in the catalog (one indexed SELECT), marked seen, classified and,
 * if it is to be uploaded, appended to a work list: a fixed record header and the path bytes,
 * in an unlinked temporary file (tmpfile), read back sequentially by the upload phases.
 *
 * Hard links: a non-empty file with st_nlink > 1 is remembered by (device, inode) with the
 * first path the walk met (an open-addressing table that grows with the hard-linked files
 * only). A later path of the same inode that is new or changed goes to the link list instead
 * of an upload list: the backup records it after the uploads as one more row of the archive
 * that holds the first path's content, so the bytes are stored once.
 */
#include "plan.h"

#include "alloc.h"
#include "filter.h"
#include "floe/treehash.h"
#include "walk.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* A list record: this header, then path_len bytes of path. */
struct rec {
    uint32_t path_len;
    uint8_t change;
    uint8_t has_xxh3;
    uint16_t pad;
    uint32_t rel_off; /* where the path relative to its source starts */
    uint32_t mode;
    uint64_t size;
    int64_t mtime_ns;
    uint64_t inode, device;
    uint8_t xxh3[FLOE_CATALOG_XXH3_BYTES];
};

struct link_slot {
    uint64_t device, inode;
    char *path; /* NULL: a free slot */
};

struct floe_link_map {
    struct link_slot *v;
    size_t cap, n; /* cap a power of two; n < cap / 2 */
};

static size_t link_hash(uint64_t device, uint64_t inode, size_t cap)
{
    uint64_t h = (inode ^ (device * 0x9E3779B97F4A7C15u)) * 0xBF58476D1CE4E5B9u;
    return (size_t)(h ^ (h >> 31)) & (cap - 1);
}

static struct link_slot *link_find(const struct floe_link_map *m, uint64_t device, uint64_t inode)
{
    if (!m || !m->cap)
        return NULL;
    for (size_t i = link_hash(device, inode, m->cap);; i = (i + 1) & (m->cap - 1)) {
        struct link_slot *s = &m->v[i];
        if (!s->path || (s->device == device && s->inode == inode))
            return s;
    }
}

static void link_put(struct floe_link_map *m, uint64_t device, uint64_t inode, const char *path)
{
    if (2 * (m->n + 1) > m->cap) {
        struct floe_link_map old = *m;
        m->cap = old.cap ? 2 * old.cap : 64;
        m->v = floe_xcalloc(m->cap, sizeof(*m->v));
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.v[i].path) {
                *link_find(m, old.v[i].device, old.v[i].inode) = old.v[i];
                m->n++;
            }
        free(old.v);
    }
    struct link_slot *s = link_find(m, device, inode);
    if (s->path)
        return;
    s->device = device;
    s->inode = inode;
    s->path = floe_xstrdup(path);
    m->n++;
}

const char *floe_plan_link_first(const struct floe_plan *p, uint64_t device, uint64_t inode)
{
    const struct link_slot *s = link_find(p->links, device, inode);
    return s && s->path ? s->path : NULL;
}

struct walk_ctx {
    struct floe_plan *p;
    struct floe_catalog *c;
    bool mark_seen; /* else (a dry run) the catalog is only read */
    const struct floe_backup_options *o;
    uint64_t threshold;
    uint64_t planned_files, planned_bytes; /* against --max-files / --max-bytes */
    struct floe_error *err;
    int status; /* a failure inside a callback: stops the walk */
};

/* The content's xxh3-128 (canonical) and tree hash, in one read of the file. */
static int content_hashes(const struct floe_walk_file *f, uint8_t xxh[FLOE_CATALOG_XXH3_BYTES],
                          uint8_t tree[FLOE_HASH_BYTES], struct floe_error *err)
{
    int fd = openat(f->dirfd, f->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, f->path, "cannot open %s", f->path);
    enum { BUF = 1 << 20 };
    uint8_t *buf = floe_xmalloc(BUF);
    XXH3_state_t *xs = XXH3_createState();
    XXH3_128bits_reset(xs);
    struct floe_treehash *th = floe_treehash_new(0);
    int rc = FLOE_OK;
    for (;;) {
        ssize_t n = read(fd, buf, BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, f->path, "cannot read %s", f->path);
            break;
        }
        if (n == 0)
            break;
        XXH3_128bits_update(xs, buf, (size_t)n);
        floe_treehash_update(th, buf, (size_t)n);
    }
    XXH128_canonical_t canon;
    XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(xs));
    memcpy(xxh, canon.digest, FLOE_CATALOG_XXH3_BYTES);
    floe_treehash_final(th, tree, NULL);
    floe_treehash_destroy(th);
    XXH3_freeState(xs);
    free(buf);
    close(fd);
    return rc;
}

/* NEW, CHANGED or UNCHANGED against the catalog's current version (rec gets the xxh3 when
 * --checksum computed it). */
static int classify(struct walk_ctx *w, const struct floe_walk_file *f, struct rec *r,
                    enum floe_backup_change *out)
{
    struct floe_catalog_file cur;
    int rc =
        w->c ? floe_catalog_lookup(w->c, f->path, strlen(f->path), &cur, w->err) : FLOE_E_NOT_FOUND;
    if (rc == FLOE_E_NOT_FOUND) {
        *out = FLOE_BACKUP_NEW;
        return FLOE_OK;
    }
    if (!rc && w->mark_seen) /* in the catalog and still here: not "removed" */
        rc = floe_catalog_mark_seen_id(w->c, cur.id, w->err);
    if (rc)
        return rc;
    if (cur.size_bytes != f->size) {
        *out = FLOE_BACKUP_CHANGED;
        return FLOE_OK;
    }
    if (!w->o->checksum) {
        *out = cur.has_mtime && cur.mtime_ns == f->mtime_ns ? FLOE_BACKUP_UNCHANGED
                                                            : FLOE_BACKUP_CHANGED;
        return FLOE_OK;
    }
    uint8_t tree[FLOE_HASH_BYTES];
    if ((rc = content_hashes(f, r->xxh3, tree, w->err)))
        return rc;
    r->has_xxh3 = 1;
    bool same = cur.has_xxh3        ? memcmp(cur.xxh3_128, r->xxh3, sizeof(r->xxh3)) == 0
                : cur.has_tree_hash ? memcmp(cur.tree_hash, tree, FLOE_HASH_BYTES) == 0
                                    : false;
    *out = same ? FLOE_BACKUP_UNCHANGED : FLOE_BACKUP_CHANGED;
    return FLOE_OK;
}

static void report(const struct walk_ctx *w, const char *path, enum floe_backup_change change,
                   uint64_t size, bool packed)
{
    if (!w->o->plan)
        return;
    struct floe_backup_plan_entry e = {
        .path = path, .change = change, .size = size, .packed = packed};
    w->o->plan(&e, w->o->user);
}

static int append(struct walk_ctx *w, enum floe_plan_list list, const struct floe_walk_file *f,
                  struct rec *r)
{
    r->path_len = (uint32_t)strlen(f->path);
    size_t rel = strlen(f->relpath);
    r->rel_off = rel <= r->path_len ? r->path_len - (uint32_t)rel : 0;
    r->mode = f->mode;
    r->size = f->size;
    r->mtime_ns = f->mtime_ns;
    r->inode = f->inode;
    r->device = f->device;
    FILE *fp = w->p->list[list];
    if (fwrite(r, sizeof(*r), 1, fp) != 1 || fwrite(f->path, 1, r->path_len, fp) != r->path_len)
        return floe_error_set_errno(w->err, FLOE_E_IO, errno, NULL,
                                    "cannot write the backup's work list (temporary directory "
                                    "full?)");
    w->p->count[list]++;
    w->p->bytes[list] += f->size;
    return FLOE_OK;
}

static int on_file(void *user, const struct floe_walk_file *f)
{
    struct walk_ctx *w = user;
    struct floe_plan *p = w->p;
    struct rec r = {0};
    enum floe_backup_change change = FLOE_BACKUP_NEW;
    int rc = classify(w, f, &r, &change); /* one catalog lookup, which also marks it seen */
    if (rc == FLOE_E_IO && w->err->sys_errno && w->o->checksum) { /* unreadable: skip it */
        p->skipped++;
        if (w->o->warn)
            w->o->warn(f->path, w->err->message, w->o->user);
        memset(w->err, 0, sizeof(*w->err));
        return 0;
    }
    if (rc) {
        w->status = rc;
        return 1;
    }
    bool later_link = false;
    if (f->nlink > 1 && f->size > 0) {
        const char *first = floe_plan_link_first(p, f->device, f->inode);
        if (!first)
            link_put(p->links, f->device, f->inode, f->path);
        later_link = first && strcmp(first, f->path) != 0;
    }
    if (later_link && change != FLOE_BACKUP_UNCHANGED) { /* recorded, not uploaded */
        r.change = (uint8_t)change;
        report(w, f->path, change, f->size, false);
        if ((rc = append(w, FLOE_PLAN_LINK, f, &r))) {
            w->status = rc;
            return 1;
        }
        return 0;
    }
    if (change == FLOE_BACKUP_UNCHANGED) {
        p->unchanged++;
        p->unchanged_bytes += f->size;
        report(w, f->path, change, f->size, false);
        return 0;
    }
    if ((w->o->max_files && w->planned_files >= w->o->max_files) ||
        (w->o->max_bytes && w->planned_bytes + f->size > w->o->max_bytes)) {
        p->deferred++; /* seen (not "removed"), left for the next run */
        return 0;
    }
    w->planned_files++;
    w->planned_bytes += f->size;
    bool small = f->size < w->threshold;
    r.change = (uint8_t)change;
    report(w, f->path, change, f->size, small && w->o->layout == FLOE_BACKUP_PACKED);
    if ((rc = append(w, small ? FLOE_PLAN_SMALL : FLOE_PLAN_LARGE, f, &r))) {
        w->status = rc;
        return 1;
    }
    return 0;
}

static int on_skip(void *user, const struct floe_walk_skipped *s)
{
    struct walk_ctx *w = user;
    if (s->why == FLOE_WALK_SKIP_SYMLINK || s->why == FLOE_WALK_SKIP_SPECIAL)
        return 0; /* counted by the walk; not a warning */
    w->p->skipped++;
    if (w->o->warn) {
        char msg[300];
        if (s->why == FLOE_WALK_SKIP_LOOP)
            snprintf(msg, sizeof(msg), "symlink loop: %s not entered again", s->path);
        else
            snprintf(msg, sizeof(msg), "cannot read %s%s: %s", s->is_dir ? "directory " : "",
                     s->path, strerror(s->sys_errno));
        w->o->warn(s->path, msg, w->o->user);
    }
    return 0;
}

struct removed_ctx {
    struct walk_ctx *w;
    const char *exact;                /* a file source: only this path */
    const struct floe_filter *filter; /* a dry run: judge each catalog file by the disk */
    size_t prefix_len;
};

/* A dry run has no seen set: a catalog file is removed if it is gone from the disk or the
 * filters now exclude it. */
static bool gone(const struct removed_ctx *rc, const struct floe_catalog_file *f)
{
    char *path = floe_xmalloc(f->path_len + 1);
    memcpy(path, f->path, f->path_len);
    path[f->path_len] = '\0';
    struct stat st;
    bool out = lstat(path, &st) != 0 || !S_ISREG(st.st_mode);
    if (!out && rc->filter && f->path_len > rc->prefix_len)
        out = floe_filter_match(rc->filter, path + rc->prefix_len, false) == FLOE_FILTER_EXCLUDE;
    free(path);
    return out;
}

static int on_removed(const struct floe_catalog_file *f, void *user)
{
    struct removed_ctx *rc = user;
    struct floe_plan *p = rc->w->p;
    if (rc->exact && (f->path_len != strlen(rc->exact) || memcmp(f->path, rc->exact, f->path_len)))
        return 0;
    if (!rc->w->mark_seen && !gone(rc, f))
        return 0;
    p->removed++;
    p->removed_bytes += f->size_bytes;
    if (rc->w->o->plan) {
        char *path = floe_xmalloc(f->path_len + 1);
        memcpy(path, f->path, f->path_len);
        path[f->path_len] = '\0';
        report(rc->w, path, FLOE_BACKUP_REMOVED, f->size_bytes, false);
        free(path);
    }
    return 0;
}

/* Walks one source (made absolute) and lists what the catalog has under it but the walk did
 * not see. */
static int plan_source(struct walk_ctx *w, const char *source, const struct floe_filter *filter)
{
    char abs[PATH_MAX];
    if (!realpath(source, abs))
        return floe_error_set_errno(w->err, FLOE_E_IO, errno, source, "cannot back up %s", source);
    struct floe_walk_options wo = {.filter = filter,
                                   .follow = w->o->follow,
                                   .one_file_system = w->o->one_file_system,
                                   .on_file = on_file,
                                   .on_skip = on_skip,
                                   .user = w};
    struct floe_walk_stats st = {0};
    int rc = floe_walk(abs, &wo, &st, w->err);
    w->p->excluded += st.excluded;
    w->p->specials += st.specials;
    w->p->symlinks += st.symlinks;
    if (w->status)
        return w->status;
    if (rc)
        return rc;
    if (!w->c)
        return FLOE_OK;
    struct stat sb;
    bool is_dir = stat(abs, &sb) == 0 && S_ISDIR(sb.st_mode);
    char prefix[PATH_MAX + 2];
    snprintf(prefix, sizeof(prefix), "%s%s", abs, is_dir && strcmp(abs, "/") ? "/" : "");
    struct removed_ctx rctx = {w, is_dir ? NULL : abs, filter, strlen(prefix)};
    if (w->mark_seen)
        rc = floe_catalog_iter_unseen(w->c, prefix, strlen(prefix), on_removed, &rctx, w->err);
    else
        rc = floe_catalog_iter_files(w->c, prefix, strlen(prefix), on_removed, &rctx, w->err);
    return rc == FLOE_E_CANCELLED ? FLOE_OK : rc;
}

static int make_filter(const struct floe_backup_options *o, struct floe_filter **out,
                       struct floe_error *err)
{
    struct floe_filter *f = floe_filter_new();
    for (size_t i = 0; i < o->nfilter_rules; i++) {
        int rc = floe_filter_add(f, o->filter_rules[i], err);
        if (rc) {
            floe_filter_free(f);
            return rc;
        }
    }
    *out = f;
    return FLOE_OK;
}

int floe_plan_build(struct floe_catalog *c, bool mark_seen, const struct floe_backup_options *opts,
                    uint64_t threshold, struct floe_plan **out, struct floe_error *err)
{
    struct floe_plan *p = floe_xcalloc(1, sizeof(*p));
    p->links = floe_xcalloc(1, sizeof(*p->links));
    struct floe_filter *filter = NULL;
    int rc = make_filter(opts, &filter, err);
    for (int i = 0; !rc && i < FLOE_PLAN_LISTS; i++)
        if (!(p->list[i] = tmpfile()))
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, NULL,
                                      "cannot create the backup's work list in the temporary "
                                      "directory");
    struct walk_ctx w = {
        .p = p, .c = c, .mark_seen = c && mark_seen, .o = opts, .threshold = threshold, .err = err};
    /* one read snapshot for the walk's lookups: no WAL read lock taken and dropped per file */
    struct floe_error se = {0}; /* without it the lookups still work, one lock each */
    bool snap = !rc && c && floe_catalog_read_begin(c, &se) == FLOE_OK;
    for (size_t i = 0; !rc && i < opts->nsources; i++)
        rc = plan_source(&w, opts->sources[i], filter);
    if (snap)
        floe_catalog_read_end(c);
    for (int i = 0; !rc && i < FLOE_PLAN_LISTS; i++)
        if (fflush(p->list[i]) != 0)
            rc = floe_error_set_errno(err, FLOE_E_IO, errno, NULL,
                                      "cannot write the backup's work list");
    floe_filter_free(filter);
    if (rc) {
        floe_plan_free(p);
        return rc;
    }
    *out = p;
    return FLOE_OK;
}

int floe_plan_rewind(struct floe_plan *p, enum floe_plan_list list, struct floe_error *err)
{
    if (fseeko(p->list[list], 0, SEEK_SET) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, NULL,
                                    "cannot read the backup's work list");
    return FLOE_OK;
}

int floe_plan_next(struct floe_plan *p, enum floe_plan_list list, struct floe_error *err)
{
    struct rec r;
    FILE *fp = p->list[list];
    if (fread(&r, sizeof(r), 1, fp) != 1)
        return ferror(fp) ? (floe_error_set_errno(err, FLOE_E_IO, errno, NULL,
                                                  "cannot read the backup's work list"),
                             -1)
                          : 0;
    if (r.path_len + 1 > p->cur_cap) {
        p->cur_cap = r.path_len + 1;
        p->cur.path = floe_xrealloc(p->cur.path, p->cur_cap);
    }
    if (fread(p->cur.path, 1, r.path_len, fp) != r.path_len) {
        floe_error_set(err, FLOE_E_IO, "the backup's work list is truncated");
        return -1;
    }
    p->cur.path[r.path_len] = '\0';
    p->cur.path_len = r.path_len;
    p->cur.rel_off = r.rel_off <= r.path_len ? r.rel_off : 0;
    p->cur.size = r.size;
    p->cur.mtime_ns = r.mtime_ns;
    p->cur.inode = r.inode;
    p->cur.device = r.device;
    p->cur.mode = r.mode;
    p->cur.change = (enum floe_backup_change)r.change;
    p->cur.has_xxh3 = r.has_xxh3;
    memcpy(p->cur.xxh3, r.xxh3, sizeof(r.xxh3));
    return 1;
}

int floe_plan_read_item(const struct floe_plan_item *it, void *dst, struct floe_error *err)
{
    int fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, it->path, "cannot open %s", it->path);
    /* one fstat, after the read: a change before the open or during the read leaves a size or
     * an mtime other than the plan's (a second fstat before the read told nothing more, and was
     * one of the few syscalls a small file costs) */
    struct stat after;
    size_t got = 0;
    int rc = FLOE_OK;
    while (!rc && got < it->size) {
        ssize_t n = pread(fd, (uint8_t *)dst + got, it->size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? floe_error_set_errno(err, FLOE_E_IO, errno, it->path, "cannot read %s",
                                              it->path)
                       : floe_error_set(err, FLOE_E_SOURCE_CHANGED,
                                        "%s shrank since it was planned; skipped", it->path);
            break;
        }
        got += (size_t)n;
    }
    if (!rc && fstat(fd, &after) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, it->path, "cannot stat %s", it->path);
    close(fd);
    if (rc)
        return rc;
    int64_t m1 = (int64_t)after.st_mtim.tv_sec * 1000000000 + after.st_mtim.tv_nsec;
    if ((uint64_t)after.st_size != it->size || m1 != it->mtime_ns)
        return floe_error_set(err, FLOE_E_SOURCE_CHANGED,
                              "%s changed while it was being backed up; skipped (the next run "
                              "takes it)",
                              it->path);
    return FLOE_OK;
}

void floe_plan_free(struct floe_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < FLOE_PLAN_LISTS; i++)
        if (p->list[i])
            fclose(p->list[i]);
    if (p->links) {
        for (size_t i = 0; i < p->links->cap; i++)
            free(p->links->v[i].path);
        free(p->links->v);
        free(p->links);
    }
    free(p->cur.path);
    free(p);
}
