/*
 * crashfs: a power-loss simulator for tests, loaded with LD_PRELOAD (never linked into floe).
 *
 * In the spirit of SQLite's crash-test VFS, but below every user of the file system at once
 * (floe-vault's blob store, its SQLite database, the client's checkpoint journals and the
 * backup catalog's SQLite file): it wraps the libc calls that change files under one directory
 * (FLOE_CRASH_ROOT) and keeps, for each file, an undo record of every change made since that
 * file's last fsync()/fdatasync(), and for each directory the entries created, renamed, linked
 * or removed since that directory's last fsync(). At the FLOE_CRASH_AT-th change it "loses
 * power": it stops every thread at the shim, and rolls back what a real power cut may lose:
 *   - each unsynced data change (write, pwrite, ftruncate, fallocate) is independently kept,
 *     dropped (the bytes and size before it come back), or torn: a random subset of its
 *     512-byte sectors reverts (so a prefix, a suffix or reordered sectors persist; sectors
 *     past the old end of file read as zeros, as when the size reached the disk but the data
 *     did not);
 *   - the unsynced directory changes are cut at a random point (the journal of a file system
 *     commits them in order): everything after the cut is undone, newest first (a created
 *     file vanishes, a made directory vanishes with all it holds, a renamed one goes back, an
 * unlinked one comes back from a hard link kept in FLOE_CRASH_STASH, which must be on the same file
 * system); Writes the shim cannot see (io_uring submissions: floe-vault's --blob-io direct) are
 * covered by an image: a file opened for writing with O_DIRECT gets a copy of its content at the
 * open and at each later sync; at the cut, each 512-byte sector that differs from that copy
 * independently reverts to it (zeros past its old end) or stays;
 * then it kills the process with SIGKILL. What a synced file or directory holds is never
 * touched. The disk then holds one state a power cut could have left; the test restarts the
 * program on it and checks its promises.
 *
 * Environment: FLOE_CRASH_ROOT (absolute directory; unset: the shim passes everything
 * through), FLOE_CRASH_AT (1-based number of the change to crash before; 0 or unset: never),
 * FLOE_CRASH_SEED (the fates; the same seed and crash point replay the same choices),
 * FLOE_CRASH_STASH (directory for the hard links of unlinked files), FLOE_CRASH_REPORT (file
 * that gets one line of JSON: changes counted, and at a crash the fates applied),
 * FLOE_CRASH_IGNORE_SYNC=1 (a control: syncs make nothing durable, so a test that checks
 * durability must fail under it).
 *
 * Thread safety: one process-wide mutex serialises every wrapped call on a file under the root
 * (the shim is for tests; the cost does not matter). Calls on other files, sockets and pipes
 * are passed through without the lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define SECTOR 512

typedef struct {        /* one unsynced change of a file's bytes or size */
    off_t off, len;     /* the range it changed */
    off_t old_size;     /* the file size before it */
    unsigned char *pre; /* the bytes of [off, min(off+len, old_size)) before it */
    off_t prelen;
    int is_write; /* plain write: may be torn */
} data_op;

typedef struct { /* a file with unsynced changes (pinned open by fd) */
    dev_t dev;
    ino_t ino;
    int fd; /* the shim's own O_RDWR descriptor of the inode */
    data_op *ops;
    size_t n, cap;
    int imaged;         /* opened with O_DIRECT for writing: its writes may bypass the shim */
    unsigned char *img; /* then its content at the open or at its last sync */
    off_t img_size;
} file_rec;

enum { M_CREATE, M_MKDIR, M_UNLINK, M_RENAME, M_LINK, M_RMDIR };
typedef struct { /* one unsynced directory change */
    int kind;
    char *path, *path2; /* path: the entry made or removed; RENAME: from path to path2 */
    char *stash;        /* hard link that keeps a removed or replaced file */
    dev_t dev1, dev2;   /* the directories involved */
    ino_t dir1, dir2;
    int synced1, synced2;
    ino_t ino; /* the inode the entry names (CREATE, LINK, RENAME) */
} meta_op;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_root[PATH_MAX];
static size_t g_rootlen;
static char g_stash[PATH_MAX / 2];
static char g_report[PATH_MAX];
static unsigned long long g_ops, g_crash_at, g_rng, g_stashn, g_imaged;
static int g_enabled = -1;
static int g_ignore_sync; /* FLOE_CRASH_IGNORE_SYNC=1: syncs make nothing durable (control) */
static file_rec *g_files;
static size_t g_nfiles, g_capfiles;
static meta_op *g_meta;
static size_t g_nmeta, g_capmeta;

#define REAL(ret, name, args)                                                                      \
    static ret(*real_##name) args;                                                                 \
    static void load_##name(void)                                                                  \
    {                                                                                              \
        if (!real_##name)                                                                          \
            *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                                      \
    }
REAL(int, open, (const char *, int, ...))
REAL(int, openat, (int, const char *, int, ...))
REAL(ssize_t, write, (int, const void *, size_t))
REAL(ssize_t, pwrite, (int, const void *, size_t, off_t))
REAL(int, ftruncate, (int, off_t))
REAL(int, fallocate, (int, int, off_t, off_t))
REAL(int, fsync, (int))
REAL(int, fdatasync, (int))
REAL(int, syncfs, (int))
REAL(void, sync, (void))
REAL(int, rename, (const char *, const char *))
REAL(int, renameat, (int, const char *, int, const char *))
REAL(int, unlink, (const char *))
REAL(int, unlinkat, (int, const char *, int))
REAL(int, link, (const char *, const char *))
REAL(int, mkdir, (const char *, mode_t))
REAL(int, rmdir, (const char *))

static uint64_t rng(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int enabled(void)
{
    if (g_enabled >= 0)
        return g_enabled;
    const char *r = getenv("FLOE_CRASH_ROOT");
    g_enabled = r && r[0] == '/' && strlen(r) < sizeof g_root - 1;
    if (!g_enabled)
        return 0;
    if (!realpath(r, g_root))
        snprintf(g_root, sizeof g_root, "%s", r);
    g_rootlen = strlen(g_root);
    const char *s = getenv("FLOE_CRASH_STASH");
    snprintf(g_stash, sizeof g_stash, "%s", s ? s : "");
    const char *p = getenv("FLOE_CRASH_REPORT");
    snprintf(g_report, sizeof g_report, "%s", p ? p : "");
    const char *a = getenv("FLOE_CRASH_AT");
    g_crash_at = a ? strtoull(a, NULL, 10) : 0;
    const char *sd = getenv("FLOE_CRASH_SEED");
    g_rng = sd ? strtoull(sd, NULL, 10) : 1;
    const char *ig = getenv("FLOE_CRASH_IGNORE_SYNC");
    g_ignore_sync = ig && ig[0] == '1';
    return 1;
}

/* Under the root, and not SQLite's wal-index ("-shm"): that file is mmap()ed, holds nothing
 * durable (SQLite rebuilds it from the WAL after a crash), and shrinking it under the mapping
 * would kill the process with SIGBUS before the power cut is complete. */
static int under_root(const char *path)
{
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, "-shm") == 0)
        return 0;
    return strncmp(path, g_root, g_rootlen) == 0 && (path[g_rootlen] == '/' || !path[g_rootlen]);
}

/* The absolute path of name relative to dirfd (lexically; no symlinks resolved). */
static void abspath(int dirfd, const char *name, char *out, size_t cap)
{
    char base[PATH_MAX];
    if (name[0] == '/') {
        snprintf(out, cap, "%s", name);
        return;
    }
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base))
            base[0] = 0;
    } else {
        char lk[64];
        snprintf(lk, sizeof lk, "/proc/self/fd/%d", dirfd);
        ssize_t n = readlink(lk, base, sizeof base - 1);
        base[n > 0 ? n : 0] = 0;
    }
    snprintf(out, cap, "%s/%s", base, name);
}

/* Is fd a regular file (1) or directory (2) under the root; 0 otherwise. */
static int fd_kind(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0 || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
        return 0;
    char lk[64], path[PATH_MAX];
    snprintf(lk, sizeof lk, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(lk, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    if (!under_root(path))
        return 0;
    return S_ISDIR(st->st_mode) ? 2 : 1;
}

static void report(const char *extra)
{
    if (!g_report[0])
        return;
    load_open();
    load_write();
    int fd = real_open(g_report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "{\"changes\": %llu, \"direct_files\": %llu%s}\n", g_ops,
                     g_imaged, extra ? extra : "");
    if (real_write(fd, line, (size_t)n) < 0)
        perror("crashfs report");
    close(fd);
}

static void pread_all(int fd, unsigned char *p, off_t len, off_t off)
{
    while (len > 0) {
        ssize_t k = pread(fd, p, (size_t)len, off);
        if (k <= 0) {
            memset(p, 0, (size_t)len);
            return;
        }
        p += k, len -= k, off += k;
    }
}

static void pwrite_all(int fd, const unsigned char *p, off_t len, off_t off)
{
    load_pwrite();
    while (len > 0) {
        ssize_t k = real_pwrite(fd, p, (size_t)len, off);
        if (k <= 0)
            return;
        p += k, len -= k, off += k;
    }
}

static file_rec *file_of(const struct stat *st, int fd)
{
    for (size_t i = 0; i < g_nfiles; i++)
        if (g_files[i].dev == st->st_dev && g_files[i].ino == st->st_ino)
            return &g_files[i];
    if (fd < 0)
        return NULL;
    if (g_nfiles == g_capfiles) {
        g_capfiles = g_capfiles ? 2 * g_capfiles : 64;
        g_files = realloc(g_files, g_capfiles * sizeof *g_files);
    }
    char lk[64];
    snprintf(lk, sizeof lk, "/proc/self/fd/%d", fd);
    load_open();
    file_rec *f = &g_files[g_nfiles++];
    memset(f, 0, sizeof *f);
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->fd = real_open(lk, O_RDWR | O_CLOEXEC);
    return f;
}

/* Record the undo of a change of [off, off+len) (and of the size) of the file open as fd. */
static void record_data(int fd, const struct stat *st, off_t off, off_t len, int is_write)
{
    file_rec *f = file_of(st, fd);
    if (f->fd < 0)
        return;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->ops = realloc(f->ops, f->cap * sizeof *f->ops);
    }
    data_op *o = &f->ops[f->n++];
    o->off = off;
    o->len = len;
    o->old_size = st->st_size;
    o->is_write = is_write;
    o->prelen = off < st->st_size ? (off + len < st->st_size ? len : st->st_size - off) : 0;
    o->pre = o->prelen ? malloc((size_t)o->prelen) : NULL;
    if (o->prelen)
        pread_all(f->fd, o->pre, o->prelen, off);
}

static void forget_ops(file_rec *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->ops[i].pre);
    free(f->ops);
    f->ops = NULL;
    f->n = f->cap = 0;
}

/* Copy the file's current content as its image (what a crash reverts unseen writes to). */
static void take_image(file_rec *f)
{
    struct stat st;
    free(f->img);
    f->img = NULL;
    f->img_size = 0;
    if (f->fd < 0 || fstat(f->fd, &st) != 0)
        return;
    f->img_size = st.st_size;
    f->img = st.st_size ? malloc((size_t)st.st_size) : NULL;
    if (f->img)
        pread_all(f->fd, f->img, st.st_size, 0);
    else
        f->img_size = 0;
}

static void forget_file(file_rec *f)
{
    forget_ops(f);
    free(f->img);
    if (f->fd >= 0)
        close(f->fd);
    *f = g_files[--g_nfiles];
}

/* The file was synced: nothing recorded is at risk any more. An imaged file keeps its record,
 * with its image renewed, since writes the shim cannot see may follow. */
static void file_synced(file_rec *f)
{
    if (!f->imaged) {
        forget_file(f);
        return;
    }
    forget_ops(f);
    take_image(f);
}

/* At the cut, for an imaged file: each sector that differs from the image (zeros past its end)
 * reverts to it or stays, independently. Only within the current size (size changes are
 * data_ops of their own). */
static void tear_image(file_rec *f, unsigned long long *kept, unsigned long long *reverted)
{
    static const unsigned char zeros[SECTOR];
    unsigned char cur[SECTOR];
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) != 0)
        return;
    for (off_t s = 0; s < st.st_size; s += SECTOR) {
        off_t n = st.st_size - s < SECTOR ? st.st_size - s : SECTOR;
        const unsigned char *old = zeros;
        unsigned char was[SECTOR];
        if (s < f->img_size) {
            off_t k = f->img_size - s < n ? f->img_size - s : n;
            memcpy(was, f->img + s, (size_t)k);
            memset(was + k, 0, (size_t)(SECTOR - k));
            old = was;
        }
        pread_all(f->fd, cur, n, s);
        if (!memcmp(cur, old, (size_t)n))
            continue;
        if (rng() & 1) {
            (*kept)++;
            continue;
        }
        (*reverted)++;
        pwrite_all(f->fd, old, n, s);
    }
}

static void parent_of(const char *path, dev_t *dev, ino_t *ino)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    struct stat st;
    if (stat(dir, &st) == 0)
        *dev = st.st_dev, *ino = st.st_ino;
    else
        *dev = 0, *ino = 0;
}

static meta_op *record_meta(int kind, const char *path, const char *path2)
{
    if (g_nmeta == g_capmeta) {
        g_capmeta = g_capmeta ? 2 * g_capmeta : 64;
        g_meta = realloc(g_meta, g_capmeta * sizeof *g_meta);
    }
    meta_op *m = &g_meta[g_nmeta++];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->path = strdup(path);
    parent_of(path, &m->dev1, &m->dir1);
    m->dev2 = m->dev1, m->dir2 = m->dir1, m->synced2 = 1;
    if (path2) {
        m->path2 = strdup(path2);
        parent_of(path2, &m->dev2, &m->dir2);
        m->synced2 = 0;
    }
    return m;
}

/* A hard link to path in the stash, so an undo can bring it back; NULL if impossible. */
static char *stash_of(const char *path)
{
    if (!g_stash[0])
        return NULL;
    char s[PATH_MAX];
    snprintf(s, sizeof s, "%s/%d.%llu", g_stash, (int)getpid(), ++g_stashn);
    load_link();
    return real_link(path, s) == 0 ? strdup(s) : NULL;
}

static ino_t ino_at(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_ino : 0;
}

static void dir_synced(const struct stat *st)
{
    for (size_t i = 0; i < g_nmeta; i++) {
        if (g_meta[i].dev1 == st->st_dev && g_meta[i].dir1 == st->st_ino)
            g_meta[i].synced1 = 1;
        if (g_meta[i].dev2 == st->st_dev && g_meta[i].dir2 == st->st_ino)
            g_meta[i].synced2 = 1;
    }
}

static void undo_data(file_rec *f, unsigned long long *kept, unsigned long long *dropped,
                      unsigned long long *torn)
{
    load_ftruncate();
    for (size_t i = f->n; i-- > 0;) {
        data_op *o = &f->ops[i];
        unsigned fate = (unsigned)(rng() % 3);
        if (fate == 2 && (!o->is_write || o->len <= 0))
            fate = 1;
        if (fate == 0) {
            (*kept)++;
            continue;
        }
        if (fate == 1) {
            (*dropped)++;
            if (o->prelen)
                pwrite_all(f->fd, o->pre, o->prelen, o->off);
            real_ftruncate(f->fd, o->old_size);
            continue;
        }
        (*torn)++; /* each sector of the write reverts or not */
        static const unsigned char zeros[SECTOR];
        for (off_t s = o->off - o->off % SECTOR; s < o->off + o->len; s += SECTOR) {
            if (rng() & 1)
                continue;
            off_t a = s < o->off ? o->off : s;
            off_t b = s + SECTOR < o->off + o->len ? s + SECTOR : o->off + o->len;
            for (off_t p = a; p < b;) {
                if (p < o->off + o->prelen) {
                    off_t e = b < o->off + o->prelen ? b : o->off + o->prelen;
                    pwrite_all(f->fd, o->pre + (p - o->off), e - p, p);
                    p = e;
                } else {
                    pwrite_all(f->fd, zeros, b - p, p);
                    p = b;
                }
            }
        }
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_DP)
        real_rmdir(path);
    else
        real_unlink(path);
    return 0;
}

static void undo_meta(meta_op *m)
{
    load_rename(), load_unlink(), load_link(), load_rmdir(), load_mkdir();
    switch (m->kind) {
    case M_CREATE:
    case M_LINK:
        if (ino_at(m->path) == m->ino)
            real_unlink(m->path);
        break;
    case M_MKDIR: /* the directory's own entry is lost: whatever it holds goes with it */
        nftw(m->path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        break;
    case M_RMDIR: real_mkdir(m->path, 0700); break;
    case M_UNLINK:
        if (m->stash && !ino_at(m->path))
            real_link(m->stash, m->path);
        break;
    case M_RENAME:
        if (m->ino && ino_at(m->path2) == m->ino && !ino_at(m->path))
            real_rename(m->path2, m->path);
        if (m->stash && !ino_at(m->path2))
            real_link(m->stash, m->path2);
        break;
    }
}

/* Lose power: called with g_lock held; never returns. */
static void crash(void)
{
    unsigned long long kept = 0, dropped = 0, torn = 0, undone = 0, unsynced = 0;
    unsigned long long img_kept = 0, img_reverted = 0;
    for (size_t i = 0; i < g_nfiles; i++) {
        if (g_files[i].imaged)
            tear_image(&g_files[i], &img_kept, &img_reverted);
        undo_data(&g_files[i], &kept, &dropped, &torn);
    }
    for (size_t i = 0; i < g_nmeta; i++)
        unsynced += !(g_meta[i].synced1 && g_meta[i].synced2);
    unsigned long long cut = rng() % (unsynced + 1), seen = 0;
    size_t first = g_nmeta;
    for (size_t i = 0; i < g_nmeta; i++)
        if (!(g_meta[i].synced1 && g_meta[i].synced2) && seen++ == cut) {
            first = i;
            break;
        }
    for (size_t i = g_nmeta; i-- > first;)
        if (!(g_meta[i].synced1 && g_meta[i].synced2)) {
            undo_meta(&g_meta[i]);
            undone++;
        }
    char extra[256];
    snprintf(extra, sizeof extra,
             ", \"crashed\": true, \"kept\": %llu, \"dropped\": %llu, \"torn\": %llu,"
             " \"dir_unsynced\": %llu, \"dir_undone\": %llu, \"direct_sectors_kept\": %llu,"
             " \"direct_sectors_reverted\": %llu",
             kept, dropped, torn, unsynced, undone, img_kept, img_reverted);
    report(extra);
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

/* Count one change under the root; crash before it if it is the chosen one. Lock held. */
static void tick(void)
{
    if (++g_ops == g_crash_at)
        crash();
}

#define LOCK() pthread_mutex_lock(&g_lock)
#define UNLOCK() pthread_mutex_unlock(&g_lock)

static int do_open(int dirfd, const char *name, int flags, mode_t mode, int at)
{
    load_openat();
    int direct = (flags & O_DIRECT) && (flags & O_ACCMODE) != O_RDONLY;
    if (!enabled() || !(flags & (O_CREAT | O_TRUNC) || direct))
        return real_openat(at ? dirfd : AT_FDCWD, name, flags, mode);
    char path[PATH_MAX];
    abspath(at ? dirfd : AT_FDCWD, name, path, sizeof path);
    if (!under_root(path))
        return real_openat(at ? dirfd : AT_FDCWD, name, flags, mode);
    LOCK();
    struct stat st;
    int existed = lstat(path, &st) == 0;
    if (!existed && (flags & O_CREAT))
        tick();
    if (existed && (flags & O_TRUNC) && S_ISREG(st.st_mode) && st.st_size > 0) {
        tick();
        int tfd = real_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
        if (tfd >= 0) {
            record_data(tfd, &st, 0, st.st_size, 0);
            close(tfd);
        }
    }
    int fd = real_openat(at ? dirfd : AT_FDCWD, name, flags, mode);
    if (fd >= 0 && !existed && (flags & O_CREAT)) {
        meta_op *m = record_meta(M_CREATE, path, NULL);
        m->ino = ino_at(path);
    }
    if (fd >= 0 && direct && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        file_rec *f = file_of(&st, fd);
        if (!f->imaged) {
            f->imaged = 1;
            g_imaged++;
            take_image(f);
        }
    }
    UNLOCK();
    return fd;
}

#define MODE_ARG(flags, mode)                                                                      \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                       \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

int open(const char *name, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_open(AT_FDCWD, name, flags, mode, 0);
}
int open64(const char *name, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_open(AT_FDCWD, name, flags, mode, 0);
}
int openat(int dirfd, const char *name, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_open(dirfd, name, flags, mode, 1);
}
int openat64(int dirfd, const char *name, int flags, ...)
{
    MODE_ARG(flags, mode)
    return do_open(dirfd, name, flags, mode, 1);
}

static ssize_t do_pwrite(int fd, const void *buf, size_t n, off_t off, int use_off)
{
    load_write(), load_pwrite();
    struct stat st;
    if (!enabled() || fd_kind(fd, &st) != 1)
        return use_off ? real_pwrite(fd, buf, n, off) : real_write(fd, buf, n);
    LOCK();
    tick();
    fstat(fd, &st);
    off_t at = off;
    if (!use_off)
        at = (fcntl(fd, F_GETFL) & O_APPEND) ? st.st_size : lseek(fd, 0, SEEK_CUR);
    record_data(fd, &st, at, (off_t)n, 1);
    ssize_t r = use_off ? real_pwrite(fd, buf, n, off) : real_write(fd, buf, n);
    UNLOCK();
    return r;
}
ssize_t write(int fd, const void *buf, size_t n)
{
    return do_pwrite(fd, buf, n, 0, 0);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite(fd, buf, n, off, 1);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite(fd, buf, n, off, 1);
}

static int do_ftruncate(int fd, off_t len)
{
    load_ftruncate();
    struct stat st;
    if (!enabled() || fd_kind(fd, &st) != 1)
        return real_ftruncate(fd, len);
    LOCK();
    tick();
    fstat(fd, &st);
    if (len < st.st_size)
        record_data(fd, &st, len, st.st_size - len, 0);
    else if (len > st.st_size)
        record_data(fd, &st, st.st_size, len - st.st_size, 0);
    int r = real_ftruncate(fd, len);
    UNLOCK();
    return r;
}
int ftruncate(int fd, off_t len)
{
    return do_ftruncate(fd, len);
}
int ftruncate64(int fd, off_t len)
{
    return do_ftruncate(fd, len);
}

static int do_fallocate(int fd, int mode, off_t off, off_t len)
{
    load_fallocate();
    struct stat st;
    if (!enabled() || fd_kind(fd, &st) != 1)
        return real_fallocate(fd, mode, off, len);
    LOCK();
    tick();
    fstat(fd, &st);
    if (mode & FALLOC_FL_PUNCH_HOLE)
        record_data(fd, &st, off, len, 0);
    else if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > st.st_size)
        record_data(fd, &st, st.st_size, off + len - st.st_size, 0);
    int r = real_fallocate(fd, mode, off, len);
    UNLOCK();
    return r;
}
int fallocate(int fd, int mode, off_t off, off_t len)
{
    return do_fallocate(fd, mode, off, len);
}
int fallocate64(int fd, int mode, off_t off, off_t len)
{
    return do_fallocate(fd, mode, off, len);
}

static int do_sync(int fd, int data_only)
{
    load_fsync(), load_fdatasync();
    struct stat st;
    int kind;
    if (!enabled() || !(kind = fd_kind(fd, &st)))
        return data_only ? real_fdatasync(fd) : real_fsync(fd);
    LOCK();
    tick();
    int r = data_only ? real_fdatasync(fd) : real_fsync(fd);
    if (r == 0 && kind == 2 && !g_ignore_sync)
        dir_synced(&st);
    if (r == 0 && kind == 1 && !g_ignore_sync) {
        file_rec *f = file_of(&st, -1);
        if (f)
            file_synced(f);
    }
    if (kind == 2 || g_ops % 64 == 0)
        report(NULL);
    UNLOCK();
    return r;
}
/* syncfs()/sync(): everything under the root becomes durable (the tests' root is on one file
 * system). Lock held. */
static void all_synced(void)
{
    if (g_ignore_sync)
        return;
    for (size_t i = g_nfiles; i-- > 0;)
        file_synced(&g_files[i]);
    for (size_t i = 0; i < g_nmeta; i++)
        g_meta[i].synced1 = g_meta[i].synced2 = 1;
    report(NULL);
}

int syncfs(int fd)
{
    load_syncfs();
    if (!enabled())
        return real_syncfs(fd);
    LOCK();
    tick();
    int r = real_syncfs(fd);
    if (r == 0)
        all_synced();
    UNLOCK();
    return r;
}

void sync(void)
{
    load_sync();
    if (!enabled()) {
        real_sync();
        return;
    }
    LOCK();
    tick();
    real_sync();
    all_synced();
    UNLOCK();
}

int fsync(int fd)
{
    return do_sync(fd, 0);
}
int fdatasync(int fd)
{
    return do_sync(fd, 1);
}

static int do_rename(int d1, const char *a, int d2, const char *b)
{
    load_renameat();
    char pa[PATH_MAX], pb[PATH_MAX];
    if (!enabled())
        return real_renameat(d1, a, d2, b);
    abspath(d1, a, pa, sizeof pa);
    abspath(d2, b, pb, sizeof pb);
    if (!under_root(pa) && !under_root(pb))
        return real_renameat(d1, a, d2, b);
    LOCK();
    tick();
    char *st = ino_at(pb) ? stash_of(pb) : NULL;
    ino_t ino = ino_at(pa);
    int r = real_renameat(d1, a, d2, b);
    if (r == 0) {
        meta_op *m = record_meta(M_RENAME, pa, pb);
        m->ino = ino;
        m->stash = st;
    } else {
        free(st);
    }
    UNLOCK();
    return r;
}
int rename(const char *a, const char *b)
{
    return do_rename(AT_FDCWD, a, AT_FDCWD, b);
}
int renameat(int d1, const char *a, int d2, const char *b)
{
    return do_rename(d1, a, d2, b);
}

static int do_unlink(int dirfd, const char *name, int flags)
{
    load_unlinkat();
    char p[PATH_MAX];
    if (!enabled())
        return real_unlinkat(dirfd, name, flags);
    abspath(dirfd, name, p, sizeof p);
    if (!under_root(p))
        return real_unlinkat(dirfd, name, flags);
    LOCK();
    tick();
    char *st = (flags & AT_REMOVEDIR) ? NULL : stash_of(p);
    int r = real_unlinkat(dirfd, name, flags);
    if (r == 0)
        record_meta((flags & AT_REMOVEDIR) ? M_RMDIR : M_UNLINK, p, NULL)->stash = st;
    else
        free(st);
    UNLOCK();
    return r;
}
int unlink(const char *name)
{
    return do_unlink(AT_FDCWD, name, 0);
}
int unlinkat(int dirfd, const char *name, int flags)
{
    return do_unlink(dirfd, name, flags);
}
int rmdir(const char *name)
{
    return do_unlink(AT_FDCWD, name, AT_REMOVEDIR);
}

int link(const char *a, const char *b)
{
    load_link();
    char pb[PATH_MAX];
    if (!enabled())
        return real_link(a, b);
    abspath(AT_FDCWD, b, pb, sizeof pb);
    if (!under_root(pb))
        return real_link(a, b);
    LOCK();
    tick();
    int r = real_link(a, b);
    if (r == 0)
        record_meta(M_LINK, pb, NULL)->ino = ino_at(pb);
    UNLOCK();
    return r;
}

int mkdir(const char *name, mode_t mode)
{
    load_mkdir();
    char p[PATH_MAX];
    if (!enabled())
        return real_mkdir(name, mode);
    abspath(AT_FDCWD, name, p, sizeof p);
    if (!under_root(p))
        return real_mkdir(name, mode);
    LOCK();
    tick();
    int r = real_mkdir(name, mode);
    if (r == 0)
        record_meta(M_MKDIR, p, NULL);
    UNLOCK();
    return r;
}

__attribute__((destructor)) static void at_exit_report(void)
{
    if (g_enabled == 1) {
        LOCK();
        report(NULL);
        UNLOCK();
    }
}
