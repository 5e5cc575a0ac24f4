/*
 * walk.c - the directory walk of `floe backup` (contract in walk.h).
 *
 * DESIGN
 * Depth first and iterative: a stack of levels, one per directory on the current path, each
 * holding the directory's descriptor and its names, read whole with readdir and sorted
 * bytewise (strcmp), so the order does not depend on the file system and a child directory
 * is walked at its place among its siblings. Everything is relative to the level's descriptor
 * (fstatat / openat), so paths of any depth or length cost nothing and no name is looked up
 * twice: per entry one fstatat (AT_SYMLINK_NOFOLLOW; a second one, following, only for a
 * symlink with follow); per directory an openat, the getdents of its listing and a close.
 *
 * Memory: the full path of the current entry (one buffer, grown as needed) and, per level,
 * the directory's DIR and sorted names, freed when the walk leaves it; nothing is kept per
 * file. The depth of the tree bounds the descriptors held: a tree deeper than the process's
 * descriptor limit has its deepest directories reported unreadable (EMFILE), not a failure.
 *
 * Decisions, in this order, for each entry:
 *   1. fstatat fails (it vanished, a path component was swapped): UNREADABLE with its errno.
 *   2. a symlink with follow: the target's fstatat.
 *   3. the filter sees the relpath (is_dir: a directory, or with follow a link to one);
 *      excluded: counted, nothing reported, a directory is not descended. Then a dangling
 *      link with follow is UNREADABLE (ENOENT).
 *   4. a symlink without follow: SYMLINK. A device, socket or FIFO: SPECIAL.
 *   5. one_file_system and another device: counted as excluded, not reported.
 *   6. a directory already on the current path (same device and inode: a symlink loop with
 *      follow, or a bind mount of an ancestor): LOOP; otherwise it is opened (O_DIRECTORY,
 *      O_NOFOLLOW unless follow, so a directory swapped for a symlink after step 1 is not
 *      followed) and read; a failure is UNREADABLE for the directory and its subtree.
 *   7. a regular file is reported. Whether it is readable is decided from its mode bits and
 *      the process's credentials without a system call; only when they say "no" is the
 *      answer checked with faccessat(AT_EACCESS) (ACLs may still allow it), so the common
 *      case costs nothing and an unreadable file is reported UNREADABLE (EACCES), not handed
 *      to the caller to fail on.
 *
 * The source: a directory is opened following symlinks (the user named it); a regular file
 * is reported alone (relpath = its base name, dirfd = its directory opened O_PATH) after the
 * filter sees that base name. Anything else, or a source that cannot be opened or read, fails
 * the walk with FLOE_E_IO.
 */
#include "walk.h"

#include "alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One directory on the current path. */
struct level {
    DIR *dir;       /* owns fd */
    int fd;         /* dirfd(dir) */
    char *buf;      /* the names, NUL-terminated, back to back */
    char **names;   /* sorted, pointing into buf */
    size_t count;   /* names */
    size_t next;    /* the next name to visit */
    size_t rel_len; /* bytes of this directory's relpath ("" for the source) */
    dev_t dev;
    ino_t ino;
};

struct walker {
    const struct floe_walk_options *o;
    struct floe_walk_stats st;
    char *path;     /* source prefix + relpath of the current entry, NUL-terminated */
    size_t cap;     /* bytes allocated at path */
    size_t rel_off; /* where the relpath starts in path */
    struct level *lv;
    size_t depth, lcap;
    dev_t root_dev;
    uid_t euid;
    gid_t egid;
    gid_t *groups;
    int ngroups;
};

static void level_free(struct level *l)
{
    if (l->dir)
        closedir(l->dir);
    free(l->buf);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes fd (closed on failure too): its names, sorted. Returns 0 or an errno value. */
static int level_read(struct level *l, int fd)
{
    l->dir = fdopendir(fd);
    if (!l->dir) {
        int e = errno;
        close(fd);
        return e;
    }
    l->fd = fd;
    size_t used = 0, cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(l->dir);
        if (!de) {
            if (errno)
                return errno;
            break;
        }
        const char *n = de->d_name;
        if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0)))
            continue;
        size_t len = strlen(n) + 1;
        if (used + len > cap) {
            cap = cap ? 2 * cap : 4096;
            while (used + len > cap)
                cap *= 2;
            l->buf = floe_xrealloc(l->buf, cap);
        }
        memcpy(l->buf + used, n, len);
        used += len;
        l->count++;
    }
    l->names = floe_xmalloc((l->count ? l->count : 1) * sizeof(*l->names));
    for (size_t i = 0, off = 0; i < l->count; i++) {
        l->names[i] = l->buf + off;
        off += strlen(l->buf + off) + 1;
    }
    qsort(l->names, l->count, sizeof(*l->names), by_bytes);
    return 0;
}

/* Pushes the directory open at fd (taken) with the given identity and relpath length. */
static int push(struct walker *w, int fd, const struct stat *st, size_t rel_len)
{
    if (w->depth == w->lcap) {
        w->lcap = w->lcap ? 2 * w->lcap : 16;
        w->lv = floe_xrealloc(w->lv, w->lcap * sizeof(*w->lv));
    }
    struct level *l = &w->lv[w->depth];
    memset(l, 0, sizeof(*l));
    int e = level_read(l, fd);
    if (e) {
        level_free(l);
        return e;
    }
    l->rel_len = rel_len;
    l->dev = st->st_dev;
    l->ino = st->st_ino;
    w->depth++;
    w->st.dirs++;
    return 0;
}

static void pop(struct walker *w)
{
    level_free(&w->lv[--w->depth]);
}

/* Puts the relpath of name in directory l at w->path + w->rel_off; returns its length. */
static size_t set_path(struct walker *w, const struct level *l, const char *name)
{
    size_t n = strlen(name);
    size_t at = w->rel_off + l->rel_len + (l->rel_len ? 1 : 0);
    if (at + n + 1 > w->cap) {
        w->cap = 2 * (at + n + 1);
        w->path = floe_xrealloc(w->path, w->cap);
    }
    if (l->rel_len)
        w->path[at - 1] = '/';
    memcpy(w->path + at, name, n + 1);
    return at + n - w->rel_off;
}

static int skip(struct walker *w, enum floe_walk_skip why, int sys_errno, bool is_dir)
{
    switch (why) {
    case FLOE_WALK_SKIP_SPECIAL: w->st.specials++; break;
    case FLOE_WALK_SKIP_SYMLINK: w->st.symlinks++; break;
    case FLOE_WALK_SKIP_UNREADABLE: w->st.unreadable++; break;
    case FLOE_WALK_SKIP_LOOP: break;
    }
    if (!w->o->on_skip)
        return 0;
    struct floe_walk_skipped s = {
        .path = w->path, .why = why, .sys_errno = sys_errno, .is_dir = is_dir};
    return w->o->on_skip(w->o->user, &s);
}

static bool in_group(const struct walker *w, gid_t g)
{
    if (g == w->egid)
        return true;
    for (int i = 0; i < w->ngroups; i++)
        if (w->groups[i] == g)
            return true;
    return false;
}

/* Whether the mode bits let this process read st (root: always; ACLs are not seen here). */
static bool mode_allows_read(const struct walker *w, const struct stat *st)
{
    if (w->euid == 0)
        return true;
    if (st->st_uid == w->euid)
        return st->st_mode & S_IRUSR;
    if (in_group(w, st->st_gid))
        return st->st_mode & S_IRGRP;
    return st->st_mode & S_IROTH;
}

static int report_file(struct walker *w, int dirfd, const char *name, const struct stat *st)
{
    if (!mode_allows_read(w, st) && faccessat(dirfd, name, R_OK, AT_EACCESS) != 0)
        return skip(w, FLOE_WALK_SKIP_UNREADABLE, errno, false);
    struct floe_walk_file f = {
        .path = w->path,
        .relpath = w->path + w->rel_off,
        .dirfd = dirfd,
        .name = name,
        .size = (uint64_t)st->st_size,
        .mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
        .inode = (uint64_t)st->st_ino,
        .device = (uint64_t)st->st_dev,
        .mode = (uint32_t)st->st_mode,
        .nlink = (uint64_t)st->st_nlink,
    };
    w->st.files++;
    w->st.bytes += f.size;
    return w->o->on_file(w->o->user, &f);
}

/* A directory entry of level l that passed the filter: steps 6 of the DESIGN. */
static int enter(struct walker *w, const struct level *l, const char *name, const struct stat *st,
                 size_t rel_len)
{
    for (size_t i = 0; i < w->depth; i++)
        if (w->lv[i].dev == st->st_dev && w->lv[i].ino == st->st_ino)
            return skip(w, FLOE_WALK_SKIP_LOOP, 0, true);
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (w->o->follow ? 0 : O_NOFOLLOW);
    int fd = openat(l->fd, name, flags);
    if (fd < 0)
        return skip(w, FLOE_WALK_SKIP_UNREADABLE, errno, true);
    int e = push(w, fd, st, rel_len);
    return e ? skip(w, FLOE_WALK_SKIP_UNREADABLE, e, true) : 0;
}

/* One entry of the top level: the decisions 1-7 of the DESIGN. */
static int visit(struct walker *w, const char *name)
{
    const struct level *l = &w->lv[w->depth - 1];
    size_t rel_len = set_path(w, l, name);
    struct stat st;
    if (fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return skip(w, FLOE_WALK_SKIP_UNREADABLE, errno, false);
    bool link = S_ISLNK(st.st_mode);
    int dangling = 0;
    if (link && w->o->follow && fstatat(l->fd, name, &st, 0) != 0)
        dangling = errno;
    bool is_dir = !dangling && S_ISDIR(st.st_mode);
    if (w->o->filter &&
        floe_filter_match(w->o->filter, w->path + w->rel_off, is_dir) == FLOE_FILTER_EXCLUDE) {
        w->st.excluded++;
        return 0;
    }
    if (dangling)
        return skip(w, FLOE_WALK_SKIP_UNREADABLE, dangling, false);
    if (link && !w->o->follow)
        return skip(w, FLOE_WALK_SKIP_SYMLINK, 0, false);
    if (!is_dir && !S_ISREG(st.st_mode))
        return skip(w, FLOE_WALK_SKIP_SPECIAL, 0, false);
    if (w->o->one_file_system && st.st_dev != w->root_dev) {
        w->st.excluded++;
        return 0;
    }
    if (is_dir)
        return enter(w, l, name, &st, rel_len);
    return report_file(w, l->fd, name, &st);
}

/* A regular file as the source: its directory opened O_PATH, the filter on its base name. */
static int walk_file(struct walker *w, const char *source, const struct stat *st,
                     struct floe_error *err)
{
    const char *slash = strrchr(source, '/');
    const char *name = slash ? slash + 1 : source;
    char *dir = slash ? floe_xstrdup(source) : floe_xstrdup(".");
    if (slash)
        dir[slash == source ? 1 : slash - source] = 0;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    free(dir);
    if (fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, e, source,
                                    "cannot open the directory of backup source %s", source);
    int rc = FLOE_OK;
    w->path = floe_xstrdup(source);
    w->rel_off = (size_t)(name - source);
    if (w->o->filter && floe_filter_match(w->o->filter, name, false) == FLOE_FILTER_EXCLUDE) {
        w->st.excluded++;
    } else if (!mode_allows_read(w, st) && faccessat(fd, name, R_OK, AT_EACCESS) != 0) {
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, source, "cannot read backup source %s",
                                  source);
    } else {
        rc = report_file(w, fd, name, st);
    }
    close(fd);
    return rc;
}

/* The walk proper: visits the top level's names until the stack is empty or a callback stops. */
static int walk_dirs(struct walker *w)
{
    while (w->depth) {
        struct level *l = &w->lv[w->depth - 1];
        if (l->next == l->count) {
            pop(w);
            continue;
        }
        int rc = visit(w, l->names[l->next++]);
        if (rc)
            return rc;
    }
    return 0;
}

static int walk_dir(struct walker *w, const char *source, struct floe_error *err)
{
    int fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return floe_error_set_errno(err, FLOE_E_IO, e, source, "cannot open backup source %s",
                                    source);
    }
    size_t n = strlen(source);
    while (n > 1 && source[n - 1] == '/')
        n--;
    w->cap = n + 4096;
    w->path = floe_xmalloc(w->cap);
    memcpy(w->path, source, n);
    if (source[n - 1] != '/')
        w->path[n++] = '/';
    w->path[n] = 0;
    w->rel_off = n;
    w->root_dev = st.st_dev;
    int e = push(w, fd, &st, 0);
    if (e)
        return floe_error_set_errno(err, FLOE_E_IO, e, source, "cannot read backup source %s",
                                    source);
    return walk_dirs(w);
}

static void credentials(struct walker *w)
{
    w->euid = geteuid();
    w->egid = getegid();
    int n = getgroups(0, NULL);
    if (n > 0) {
        w->groups = floe_xmalloc((size_t)n * sizeof(gid_t));
        w->ngroups = getgroups(n, w->groups);
        if (w->ngroups < 0)
            w->ngroups = 0;
    }
}

int floe_walk(const char *source, const struct floe_walk_options *opts,
              struct floe_walk_stats *stats, struct floe_error *err)
{
    struct walker w = {.o = opts};
    int rc;
    if (!source || !*source || !opts || !opts->on_file) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "floe_walk needs a source and an on_file callback");
        goto out;
    }
    struct stat st;
    if (stat(source, &st) != 0) {
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, source, "cannot open backup source %s",
                                  source);
        goto out;
    }
    credentials(&w);
    if (S_ISDIR(st.st_mode))
        rc = walk_dir(&w, source, err);
    else if (S_ISREG(st.st_mode))
        rc = walk_file(&w, source, &st, err);
    else
        rc = floe_error_set_errno(err, FLOE_E_IO, 0, source,
                                  "backup source %s is neither a directory nor a regular file",
                                  source);
out:
    while (w.depth)
        pop(&w);
    free(w.lv);
    free(w.path);
    free(w.groups);
    if (stats)
        *stats = w.st;
    return rc;
}
