/*
 * check.c - floe_check() (floe/check.h): a directory against the backup catalog, in two passes
 * on the calling thread, in constant memory:
 *
 *   catalog  every current file under DIR/ (one prefix scan of the catalog, path order): lstat
 *            it; gone -> missing; another size, or (size + mtime mode) another mtime -> changed;
 *            with checksum the content is hashed (xxh3-128 when the catalog has it, else the
 *            tree hash it was recorded with; neither: size + mtime decide) -> changed or ok
 *   disk     the directory walk (walk.h, no filters, symlinks not followed): a file with no
 *            current row in the catalog -> new
 *
 * The catalog is opened read-only, so a check runs beside a backup and never changes anything.
 */
#include "floe/check.h"

#include "alloc.h"
#include "catalog.h"
#include "catopen.h"
#include "floe/treehash.h"
#include "walk.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define CHUNK ((size_t)1 << 20)

static const char *const s_state_names[] = {"ok", "changed", "missing", "new"};
static_assert(sizeof(s_state_names) / sizeof(s_state_names[0]) == FLOE_CHECK_STATE_COUNT,
              "a name per state");

const char *floe_check_state_name(enum floe_check_state s)
{
    return (unsigned)s < FLOE_CHECK_STATE_COUNT ? s_state_names[s] : "?";
}

struct ck {
    const struct floe_check_options *o;
    struct floe_check_result *out;
    struct floe_catalog *cat;
    struct floe_error *err;
    uint8_t *buf; /* CHUNK bytes for hashing */
};

static void report(struct ck *k, const char *path, size_t len, enum floe_check_state st,
                   const char *reason, uint64_t csize, uint64_t dsize)
{
    uint64_t *count[] = {&k->out->ok, &k->out->changed, &k->out->missing, &k->out->new_files};
    (*count[st])++;
    if (!k->o->fn)
        return;
    struct floe_check_entry e = {path, len, st, reason, csize, dsize};
    k->o->fn(&e, k->o->user);
}

static void warn(struct ck *k, const char *path, const char *message)
{
    k->out->unreadable++;
    if (k->o->warn)
        k->o->warn(path, message, k->o->user);
}

/* Whether the file at path has f's content (xxh3-128 if recorded, else its tree hash). 1 same,
 * 0 different, -1 unreadable (errno set). */
static int same_content(struct ck *k, const char *path, const struct floe_catalog_file *f)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    XXH3_state_t *xs = XXH3_createState();
    XXH3_128bits_reset(xs);
    struct floe_treehash *th = f->has_xxh3 ? NULL : floe_treehash_new(0);
    ssize_t n;
    while ((n = read(fd, k->buf, CHUNK)) > 0) {
        if (th)
            floe_treehash_update(th, k->buf, (size_t)n);
        else
            XXH3_128bits_update(xs, k->buf, (size_t)n);
    }
    int e = errno;
    close(fd);
    int same = -1;
    if (n == 0 && th) {
        uint8_t tree[FLOE_HASH_BYTES];
        floe_treehash_final(th, tree, NULL);
        same = memcmp(tree, f->tree_hash, FLOE_HASH_BYTES) == 0;
    } else if (n == 0) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
        same = memcmp(c.digest, f->xxh3_128, sizeof(c.digest)) == 0;
    }
    floe_treehash_destroy(th);
    XXH3_freeState(xs);
    errno = e;
    return same;
}

static int check_recorded(const struct floe_catalog_file *f, void *user)
{
    struct ck *k = user;
    if (k->o->cancel && atomic_load(k->o->cancel))
        return 1;
    struct stat st;
    if (lstat(f->path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            report(k, f->path, f->path_len, FLOE_CHECK_MISSING, NULL, f->size_bytes, 0);
        else
            warn(k, f->path, strerror(errno));
        return 0;
    }
    uint64_t size = (uint64_t)st.st_size;
    int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    const char *why = NULL;
    if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (size != f->size_bytes)
        why = "size";
    else if (k->o->checksum && (f->has_xxh3 || f->has_tree_hash)) {
        int same = same_content(k, f->path, f);
        if (same < 0) {
            char msg[256];
            snprintf(msg, sizeof(msg), "cannot read it: %s", strerror(errno));
            warn(k, f->path, msg);
            return 0;
        }
        why = same ? NULL : "content";
    } else if (f->has_mtime && mtime_ns != f->mtime_ns)
        why = "mtime";
    report(k, f->path, f->path_len, why ? FLOE_CHECK_CHANGED : FLOE_CHECK_OK, why, f->size_bytes,
           size);
    return 0;
}

static int on_disk(void *user, const struct floe_walk_file *f)
{
    struct ck *k = user;
    if (k->o->cancel && atomic_load(k->o->cancel))
        return FLOE_E_CANCELLED;
    struct floe_catalog_file row;
    size_t len = strlen(f->path);
    int rc = floe_catalog_lookup(k->cat, f->path, len, &row, k->err);
    if (rc == FLOE_E_NOT_FOUND)
        report(k, f->path, len, FLOE_CHECK_NEW, NULL, 0, f->size);
    else if (rc)
        return rc;
    return 0;
}

static int on_skip(void *user, const struct floe_walk_skipped *s)
{
    struct ck *k = user;
    if (s->why == FLOE_WALK_SKIP_UNREADABLE) {
        char msg[256];
        snprintf(msg, sizeof(msg), "cannot read %s: %s", s->is_dir ? "this directory" : "it",
                 strerror(s->sys_errno));
        warn(k, s->path, msg);
    }
    return 0;
}

static int run(struct ck *k, const char *abs)
{
    /* "DIR/": the files below DIR, not those of "DIR2" */
    size_t n = strlen(abs);
    char *prefix = floe_xmalloc(n + 2);
    memcpy(prefix, abs, n);
    if (!n || abs[n - 1] != '/')
        prefix[n++] = '/';
    prefix[n] = '\0';
    int rc = floe_catalog_iter_files(k->cat, prefix, n, check_recorded, k, k->err);
    free(prefix);
    if (rc == FLOE_E_CANCELLED)
        return floe_error_set(k->err, FLOE_E_CANCELLED, "check interrupted");
    if (rc)
        return rc;
    struct floe_walk_options wo = {.on_file = on_disk, .on_skip = on_skip, .user = k};
    rc = floe_walk(abs, &wo, NULL, k->err);
    if (rc == FLOE_E_CANCELLED)
        return floe_error_set(k->err, FLOE_E_CANCELLED, "check interrupted");
    return rc;
}

int floe_check(struct floe_client *c, const struct floe_check_options *opts,
               struct floe_check_result *out, struct floe_error *err)
{
    struct floe_check_result r;
    memset(&r, 0, sizeof(r));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!opts->dir || !*opts->dir)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "DIR is required");
    char abs[PATH_MAX];
    struct stat st;
    if (!realpath(opts->dir, abs) || stat(abs, &st) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, opts->dir, "cannot check %s", opts->dir);
    if (!S_ISDIR(st.st_mode))
        return floe_error_set_errno(err, FLOE_E_IO, ENOTDIR, opts->dir, "cannot check %s",
                                    opts->dir);
    struct ck k = {.o = opts, .out = &r, .err = err};
    int rc = floe_catopen(c, opts->vault, opts->catalog_path, true, true, &k.cat, NULL, 0, err);
    if (!rc) {
        k.buf = floe_xmalloc(CHUNK);
        rc = run(&k, abs);
    }
    free(k.buf);
    floe_catalog_close(k.cat);
    if (rc)
        return rc;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    *out = r;
    return FLOE_OK;
}
