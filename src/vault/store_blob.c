/*
 * store_blob.c - data files under <data-dir>/blobs (see store_blob.h for format and protocol).
 *
 * DESIGN
 * Blobs are written once at a random name that no database row references yet, so a crash
 * at any point leaves at worst an orphan file, never a half-visible archive: the database
 * row that makes the bytes visible is written only after fdatasync of the file and fsync of
 * the directory. Readers open by name; an unlinked blob stays readable through open fds, so
 * a download racing an archive deletion finishes normally.
 *
 * Streamed writers (request bodies): the body is copied into 4 MiB page-aligned staging
 * buffers; each full buffer becomes one O_DIRECT write at its offset, submitted to the
 * writer's io_uring (one of RING_POOL kept rings) without waiting, and the next buffer is filled
 * meanwhile. Buffers are used round-robin, so when the one to fill next is still in flight the
 * thread waits for its completion: at most FLOE_VBLOB_STAGE_DEPTH - 1 writes are in flight and
 * memory stays fixed. A short write is resubmitted for its remainder; -EAGAIN is resubmitted; any
 * other error is remembered and reported by the next write or by finish. Before a writer releases
 * its buffers (finish or discard) every write in flight is reaped, so a buffer is never reused
 * while the kernel may still read it. Why: buffered writes cost a page-cache copy plus
 * ext4 delayed-allocation and writeback work per byte, and the dirty pages of a part were
 * only written back by the final fdatasync, with the disk idle during the transfer (see
 * docs/performance.md, floe-vault).
 */
#include "store_blob.h"

#include "alloc.h"
#include "dirsync.h"
#include "vutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIRECT_ALIGN 4096u
/* Rings kept for the next streamed writer: as many as can hold staging buffers at once. A
 * ring made and torn down per upload cost an io_uring_setup and three mmap()/munmap() pairs,
 * and each of those takes the process's memory-map lock for writing, stalling every thread's
 * page faults meanwhile (tens of ms under load: docs/performance.md, "Memory-map churn"). */
#define RING_POOL (FLOE_VBLOB_STAGE_MAX / FLOE_VBLOB_STAGE_DEPTH)

const char *const floe_vblob_io_names[FLOE_VBLOB_IO_COUNT] = {"direct", "buffered"};

/* A log blob (store_blob.h, "Log blobs"). fd and name are read-only while refs > 0. */
struct floe_vblob_log {
    int fd;
    char name[FLOE_VBLOB_NAME_LEN + 1];
    uint64_t end;                /* bytes reserved so far; guarded by the store's log_mu */
    unsigned refs;               /* writers holding it, +1 while it is the current log; log_mu */
    bool dir_synced;             /* its directory entry is durable; log_mu */
    bool orphaned;               /* unlink was asked while it was held; log_mu */
    struct floe_vblob_log *next; /* the store's list of open logs; log_mu */
};

struct floe_vblob {
    int dirfd;                            /* <data-dir>/blobs, O_DIRECTORY; read-only after open */
    char *path;                           /* for messages */
    enum floe_vblob_io io;                /* set before serving, then read-only */
    floe_vblob_referenced_fn *referenced; /* set before serving, then read-only */
    void *referenced_user;
    pthread_mutex_t pool_mu;
    struct {
        void *free[FLOE_VBLOB_STAGE_MAX]; /* idle staging buffers */
        size_t nfree;
        size_t nalloc;                     /* buffers that exist (idle or lent) */
        struct io_uring *rings[RING_POOL]; /* idle rings of streamed writers */
        size_t nrings;
    } locked; /* guarded by pool_mu */
    pthread_mutex_t log_mu;
    struct floe_vblob_log *log_cur;  /* the log taking new bodies, or NULL; log_mu */
    struct floe_vblob_log *log_open; /* every log with refs > 0; log_mu */
};

/* One slot per staging buffer of a streamed writer. */
struct direct_slot {
    unsigned char *buf;
    uint64_t off; /* file offset of buf[0] */
    size_t len;   /* bytes to write (padded to DIRECT_ALIGN for the tail) */
    size_t done;  /* bytes the kernel has written so far */
    bool inflight;
};

struct floe_vblob_direct {
    struct io_uring *ring; /* from ring_take(), back by ring_give() with nothing in flight */
    struct direct_slot slot[FLOE_VBLOB_STAGE_DEPTH];
    unsigned cur; /* slot being filled */
    size_t fill;  /* bytes in slot[cur].buf */
    unsigned inflight;
    uint64_t alloc_bytes; /* fallocate()d so far; UINT64_MAX: not supported here */
    uint64_t want_bytes;  /* the announced length, aligned up: alloc_bytes never passes it */
    int error;            /* first failed write: positive errno, 0 if none */
    bool ring_failed;     /* the ring itself failed: never back in the pool (ring_give) */
};

int floe_vblob_open(const char *data_dir, struct floe_vblob **out, struct floe_error *err)
{
    struct floe_vblob *b = floe_xcalloc(1, sizeof(*b));
    int rc = FLOE_OK;
    size_t n = strlen(data_dir) + 8;
    b->dirfd = -1;
    pthread_mutex_init(&b->pool_mu, NULL);
    pthread_mutex_init(&b->log_mu, NULL);
    b->path = floe_xmalloc(n);
    snprintf(b->path, n, "%s/blobs", data_dir);
    if (mkdir(b->path, 0700) == 0) {
        rc = floe_dir_sync_parent(b->path, err); /* blobs/ itself survives a power cut */
        if (rc)
            goto out;
    } else if (errno != EEXIST) {
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, b->path, "cannot create %s", b->path);
        goto out;
    }
    b->dirfd = open(b->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->dirfd < 0) {
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, b->path, "cannot open %s", b->path);
        goto out;
    }
    *out = b;
    b = NULL;
out:
    floe_vblob_close(b);
    return rc;
}

void floe_vblob_close(struct floe_vblob *b)
{
    if (!b)
        return;
    /* no writer is left (the server stops HTTP first): only the current log is open */
    for (struct floe_vblob_log *l = b->log_open, *next; l; l = next) {
        next = l->next;
        close(l->fd);
        free(l);
    }
    if (b->dirfd >= 0)
        close(b->dirfd);
    for (size_t i = 0; i < b->locked.nfree; i++)
        free(b->locked.free[i]);
    for (size_t i = 0; i < b->locked.nrings; i++) {
        io_uring_queue_exit(b->locked.rings[i]);
        free(b->locked.rings[i]);
    }
    pthread_mutex_destroy(&b->pool_mu);
    pthread_mutex_destroy(&b->log_mu);
    free(b->path);
    free(b);
}

void floe_vblob_set_io(struct floe_vblob *b, enum floe_vblob_io io)
{
    b->io = io;
}

void floe_vblob_set_referenced(struct floe_vblob *b, floe_vblob_referenced_fn *fn, void *user)
{
    b->referenced = fn;
    b->referenced_user = user;
}

/* Take FLOE_VBLOB_STAGE_DEPTH staging buffers, or none (false) if the pool is at its limit or
 * memory is short (the caller then writes buffered). */
static bool pool_take(struct floe_vblob *b, struct direct_slot *slots)
{
    size_t have = 0, want = FLOE_VBLOB_STAGE_DEPTH, reserved = 0;
    pthread_mutex_lock(&b->pool_mu);
    bool ok = b->locked.nfree + (FLOE_VBLOB_STAGE_MAX - b->locked.nalloc) >= want;
    while (ok && have < want && b->locked.nfree)
        slots[have++].buf = b->locked.free[--b->locked.nfree];
    if (ok) {
        reserved = want - have; /* counted now, allocated below outside the lock */
        b->locked.nalloc += reserved;
    }
    pthread_mutex_unlock(&b->pool_mu);
    for (; ok && have < want; have++, reserved--) {
        void *p = NULL;
        if (posix_memalign(&p, (size_t)2 << 20, FLOE_VBLOB_STAGE_BYTES) != 0) {
            ok = false;
            break;
        }
        madvise(p, FLOE_VBLOB_STAGE_BYTES, MADV_HUGEPAGE); /* cheap first touch if THP is on */
        slots[have].buf = p;
    }
    if (!ok && (have || reserved)) {
        pthread_mutex_lock(&b->pool_mu);
        b->locked.nalloc -= reserved;
        while (have)
            b->locked.free[b->locked.nfree++] = slots[--have].buf;
        pthread_mutex_unlock(&b->pool_mu);
        for (size_t i = 0; i < want; i++)
            slots[i].buf = NULL;
    }
    return ok;
}

/* A ring for a streamed writer: a kept one, else a new one; NULL when io_uring is not
 * available here (seccomp, an old kernel). */
static struct io_uring *ring_take(struct floe_vblob *b)
{
    struct io_uring *r = NULL;
    pthread_mutex_lock(&b->pool_mu);
    if (b->locked.nrings)
        r = b->locked.rings[--b->locked.nrings];
    pthread_mutex_unlock(&b->pool_mu);
    if (r)
        return r;
    r = floe_xmalloc(sizeof(*r));
    if (io_uring_queue_init(2 * FLOE_VBLOB_STAGE_DEPTH, r, 0) < 0) {
        free(r);
        return NULL;
    }
    return r;
}

/* Back to the pool (every write it carried reaped), or torn down when the pool is full or
 * the ring still holds an entry (it never should: a later writer would take it for its own). */
static void ring_give(struct floe_vblob *b, struct io_uring *r)
{
    bool idle = io_uring_cq_ready(r) == 0 && io_uring_sq_ready(r) == 0;
    pthread_mutex_lock(&b->pool_mu);
    bool kept = idle && b->locked.nrings < RING_POOL;
    if (kept)
        b->locked.rings[b->locked.nrings++] = r;
    pthread_mutex_unlock(&b->pool_mu);
    if (!kept) {
        io_uring_queue_exit(r);
        free(r);
    }
}

static void pool_give(struct floe_vblob *b, struct direct_slot *slots)
{
    pthread_mutex_lock(&b->pool_mu);
    for (unsigned i = 0; i < FLOE_VBLOB_STAGE_DEPTH; i++) {
        if (slots[i].buf)
            b->locked.free[b->locked.nfree++] = slots[i].buf;
        slots[i].buf = NULL;
    }
    pthread_mutex_unlock(&b->pool_mu);
}

/* Create a file with a fresh random name (prefix + random characters, FLOE_VBLOB_NAME_LEN
 * in all) in blobs/: *fd and name on success; 0 or an errno. */
static int create_named(struct floe_vblob *b, const char *prefix, int flags, int *fd,
                        char name[FLOE_VBLOB_NAME_LEN + 1])
{
    size_t np = strlen(prefix);
    for (int attempt = 0; attempt < 8; attempt++) {
        memcpy(name, prefix, np);
        floe_vutil_id(name + np, FLOE_VBLOB_NAME_LEN - np, true);
        *fd = openat(b->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | flags, 0600);
        if (*fd >= 0)
            return 0;
        if (errno != EEXIST)
            return errno;
    }
    return EEXIST;
}

static int open_new(struct floe_vblob *b, int flags, struct floe_vblob_writer *w)
{
    int fd = -1;
    char name[FLOE_VBLOB_NAME_LEN + 1];
    int e = create_named(b, "", flags, &fd, name);
    if (e)
        return e;
    w->fd = fd;
    w->bytes = 0;
    w->flushed = 0;
    w->direct = NULL;
    w->log = NULL;
    w->off = 0;
    w->cap = 0;
    memcpy(w->name, name, sizeof(name));
    return 0;
}

/* ---- log blobs (small bodies) ---- */

/* Drop one reference (log_mu held). Returns true when it was the last one: the caller then
 * closes the log outside the lock with log_close(). */
static bool log_put_locked(struct floe_vblob *b, struct floe_vblob_log *l)
{
    if (--l->refs)
        return false;
    for (struct floe_vblob_log **pp = &b->log_open; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    return true;
}

/* Close a log nobody holds any more; remove it if rows naming it were deleted while it was
 * held and none is left (no lock held: the referenced callback takes the database lock). */
static void log_close(struct floe_vblob *b, struct floe_vblob_log *l)
{
    close(l->fd);
    if (l->orphaned && b->referenced && !b->referenced(l->name, b->referenced_user))
        unlinkat(b->dirfd, l->name, 0);
    free(l);
}

/* Reserve size bytes for a body in the current log (a new log when there is none or it is
 * full). Returns 0 or an errno. */
static int log_reserve(struct floe_vblob *b, uint64_t size, struct floe_vblob_writer *w)
{
    struct floe_vblob_log *fresh = NULL, *retired = NULL;
    pthread_mutex_lock(&b->log_mu);
    struct floe_vblob_log *l = b->log_cur;
    if (!l || l->end + size > FLOE_VBLOB_LOG_BYTES) {
        pthread_mutex_unlock(&b->log_mu); /* create the file outside the lock */
        fresh = floe_xcalloc(1, sizeof(*fresh));
        int e = create_named(b, FLOE_VBLOB_LOG_PREFIX, 0, &fresh->fd, fresh->name);
        if (e) {
            free(fresh);
            return e;
        }
        fresh->refs = 1; /* the store's, as the current log */
        pthread_mutex_lock(&b->log_mu);
        l = b->log_cur;
        if (!l || l->end + size > FLOE_VBLOB_LOG_BYTES) {
            if (l && log_put_locked(b, l))
                retired = l;
            fresh->next = b->log_open;
            b->log_open = fresh;
            b->log_cur = l = fresh;
            fresh = NULL;
        } /* else another request made a new log meanwhile: use it, drop ours */
    }
    /* regions start page-aligned: a body never shares a page with another, so a failed one
     * is punched out whole */
    w->off = l->end;
    w->cap = size;
    l->end += (size + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
    l->refs++;
    pthread_mutex_unlock(&b->log_mu);
    if (fresh) {
        close(fresh->fd);
        unlinkat(b->dirfd, fresh->name, 0);
        free(fresh);
    }
    if (retired)
        log_close(b, retired);
    w->fd = -1;
    w->bytes = 0;
    w->flushed = 0;
    w->direct = NULL;
    w->log = l;
    memcpy(w->name, l->name, sizeof(w->name));
    return 0;
}

/* Release a log writer's reference (no lock held). */
static void log_release(struct floe_vblob *b, struct floe_vblob_writer *w)
{
    struct floe_vblob_log *l = w->log;
    if (!l)
        return;
    w->log = NULL;
    w->name[0] = '\0';
    pthread_mutex_lock(&b->log_mu);
    bool last = log_put_locked(b, l);
    pthread_mutex_unlock(&b->log_mu);
    if (last)
        log_close(b, l);
}

static int log_write(struct floe_vblob_writer *w, const char *p, size_t n, struct floe_error *err)
{
    if (n > w->cap - w->bytes)
        return floe_error_set(err, FLOE_E_IO, "body longer than the %llu bytes reserved in %s",
                              (unsigned long long)w->cap, w->name);
    while (n) {
        ssize_t k = pwrite(w->log->fd, p, n, (off_t)(w->off + w->bytes));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return floe_error_set_errno(err, FLOE_E_IO, errno, w->name, "cannot write blob %s",
                                        w->name);
        }
        p += k;
        n -= (size_t)k;
        w->bytes += (uint64_t)k;
    }
    return FLOE_OK;
}

int floe_vblob_log_sync(struct floe_vblob *b, struct floe_vblob_log *log, struct floe_error *err)
{
    if (fdatasync(log->fd) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, log->name, "cannot sync blob %s",
                                    log->name);
    pthread_mutex_lock(&b->log_mu);
    bool synced = log->dir_synced;
    pthread_mutex_unlock(&b->log_mu);
    if (!synced) {
        int rc = floe_vblob_sync_dir(b, err);
        if (rc)
            return rc;
        pthread_mutex_lock(&b->log_mu);
        log->dir_synced = true;
        pthread_mutex_unlock(&b->log_mu);
    }
    return FLOE_OK;
}

struct floe_vblob_log *floe_vblob_writer_log(const struct floe_vblob_writer *w)
{
    return w->log;
}

void floe_vblob_done(struct floe_vblob *b, struct floe_vblob_writer *w)
{
    if (w->log && w->bytes)
        posix_fadvise(w->log->fd, (off_t)w->off, (off_t)w->bytes, POSIX_FADV_DONTNEED);
    log_release(b, w);
}

int floe_vblob_create(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err)
{
    int e = open_new(b, 0, w);
    if (e == EEXIST)
        return floe_error_set(err, FLOE_E_IO, "cannot find a free blob name in %s", b->path);
    if (e)
        return floe_error_set_errno(err, FLOE_E_IO, e, b->path, "cannot create a blob in %s",
                                    b->path);
    return FLOE_OK;
}

/* ---- streamed (O_DIRECT + io_uring) writers ---- */

static void direct_submit_slot(struct floe_vblob_direct *d, int fd, unsigned i)
{
    struct direct_slot *s = &d->slot[i];
    struct io_uring_sqe *sqe = io_uring_get_sqe(d->ring);
    /* Never NULL: the ring has more entries than there are slots, one SQE per slot. */
    io_uring_prep_write(sqe, fd, s->buf + s->done, (unsigned)(s->len - s->done), s->off + s->done);
    io_uring_sqe_set_data64(sqe, i);
    int r;
    do
        r = io_uring_submit(d->ring);
    while (r == -EINTR);
    if (r < 0) { /* never submitted: it will not complete, and the ring is not to be trusted */
        if (!d->error)
            d->error = -r;
        d->ring_failed = true;
        s->inflight = false;
        d->inflight--;
    }
}

/* Reap one completion (waiting for it); resubmits short writes and -EAGAIN. */
static void direct_reap_one(struct floe_vblob_direct *d, int fd)
{
    struct io_uring_cqe *cqe = NULL;
    int r;
    do
        r = io_uring_wait_cqe(d->ring, &cqe);
    while (r == -EINTR);
    if (r < 0) { /* the ring itself failed: nothing more will complete */
        if (!d->error)
            d->error = -r;
        d->ring_failed = true;
        for (unsigned i = 0; i < FLOE_VBLOB_STAGE_DEPTH; i++)
            d->slot[i].inflight = false;
        d->inflight = 0;
        return;
    }
    unsigned i = (unsigned)io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(d->ring, cqe);
    struct direct_slot *s = &d->slot[i];
    if (res == -EAGAIN || res == -EINTR || (res > 0 && s->done + (size_t)res < s->len)) {
        if (res > 0)
            s->done += (size_t)res;
        direct_submit_slot(d, fd, i);
        return;
    }
    if (res < 0 && !d->error)
        d->error = -res;
    if (res == 0 && !d->error)
        d->error = EIO; /* no progress on a regular file: treat as an I/O error */
    s->inflight = false;
    d->inflight--;
}

static void direct_drain(struct floe_vblob_direct *d, int fd)
{
    while (d->inflight)
        direct_reap_one(d, fd);
}

static void direct_free(struct floe_vblob *b, struct floe_vblob_writer *w)
{
    struct floe_vblob_direct *d = w->direct;
    if (!d)
        return;
    direct_drain(d, w->fd);
    if (d->ring_failed) { /* completions may still come: no other writer may take them */
        io_uring_queue_exit(d->ring);
        free(d->ring);
    } else {
        ring_give(b, d->ring);
    }
    pool_give(b, d->slot);
    free(d);
    w->direct = NULL;
}

/*
 * Reserve (fallocate) the file up to FLOE_VBLOB_RESERVE_AHEAD past `upto`, never past the
 * announced length: the disk is taken as the body arrives, not on the promise of its
 * Content-Length (a client trickling the first bytes of a 4 GiB body holds 64 MiB, not 4 GiB).
 * Returns 0 or the errno (ENOSPC); a file system without fallocate just goes without.
 */
static int direct_reserve(struct floe_vblob_direct *d, int fd, uint64_t upto)
{
    if (d->alloc_bytes == UINT64_MAX || d->alloc_bytes >= d->want_bytes ||
        (d->alloc_bytes && upto <= d->alloc_bytes))
        return 0;
    uint64_t end = upto + FLOE_VBLOB_RESERVE_AHEAD;
    if (end > d->want_bytes)
        end = d->want_bytes;
    if (fallocate(fd, 0, 0, (off_t)end) != 0) {
        if (errno == EOPNOTSUPP || errno == ENOSYS) {
            d->alloc_bytes = UINT64_MAX; /* never again */
            return 0;
        }
        return errno;
    }
    d->alloc_bytes = end;
    return 0;
}

int floe_vblob_create_stream(struct floe_vblob *b, uint64_t size_bytes, struct floe_vblob_writer *w,
                             struct floe_error *err)
{
    if (size_bytes < FLOE_VBLOB_STREAM_MIN) {
        int e = log_reserve(b, size_bytes, w);
        if (e)
            return floe_error_set_errno(err, FLOE_E_IO, e, b->path,
                                        "cannot create a log blob in %s", b->path);
        return FLOE_OK;
    }
    if (b->io != FLOE_VBLOB_IO_DIRECT)
        return floe_vblob_create(b, w, err);
    struct floe_vblob_direct *d = floe_xcalloc(1, sizeof(*d));
    /* staging buffers first: an upload beyond them goes buffered without setting up a ring */
    if (!pool_take(b, d->slot)) {
        free(d); /* every staging buffer is in use by other uploads: buffered */
        return floe_vblob_create(b, w, err);
    }
    if (!(d->ring = ring_take(b))) {
        pool_give(b, d->slot);
        free(d); /* no io_uring here (seccomp, old kernel): buffered */
        return floe_vblob_create(b, w, err);
    }
    int e = open_new(b, O_DIRECT, w);
    if (e == EINVAL) { /* the file system has no O_DIRECT: buffered */
        ring_give(b, d->ring);
        pool_give(b, d->slot);
        free(d);
        return floe_vblob_create(b, w, err);
    }
    w->direct = d;
    if (e) {
        direct_free(b, w);
        if (e == EEXIST)
            return floe_error_set(err, FLOE_E_IO, "cannot find a free blob name in %s", b->path);
        return floe_error_set_errno(err, FLOE_E_IO, e, b->path, "cannot create a blob in %s",
                                    b->path);
    }
    d->want_bytes = (size_bytes + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
    e = direct_reserve(d, w->fd, 0);
    if (e) {
        floe_vblob_discard(b, w);
        return floe_error_set_errno(err, FLOE_E_IO, e, b->path,
                                    "cannot reserve space for a blob of %llu bytes in %s",
                                    (unsigned long long)size_bytes, b->path);
    }
    return FLOE_OK;
}

bool floe_vblob_is_direct(const struct floe_vblob_writer *w)
{
    return w->direct != NULL;
}

/* Send the slot being filled (len bytes, already padded) and move to the next free slot. */
static void direct_flush_cur(struct floe_vblob_direct *d, int fd, size_t len)
{
    struct direct_slot *s = &d->slot[d->cur];
    int e = direct_reserve(d, fd, s->off + len);
    if (e && !d->error)
        d->error = e; /* reported by the write that follows */
    s->len = len;
    s->done = 0;
    s->inflight = true;
    d->inflight++;
    direct_submit_slot(d, fd, d->cur);
    d->cur = (d->cur + 1) % FLOE_VBLOB_STAGE_DEPTH;
    d->slot[d->cur].off = s->off + len;
    d->fill = 0;
    while (d->slot[d->cur].inflight)
        direct_reap_one(d, fd);
}

static int direct_write(struct floe_vblob_writer *w, const char *p, size_t n,
                        struct floe_error *err)
{
    struct floe_vblob_direct *d = w->direct;
    while (n && !d->error) {
        size_t take = FLOE_VBLOB_STAGE_BYTES - d->fill;
        if (take > n)
            take = n;
        memcpy(d->slot[d->cur].buf + d->fill, p, take);
        d->fill += take;
        p += take;
        n -= take;
        w->bytes += take;
        if (d->fill == FLOE_VBLOB_STAGE_BYTES)
            direct_flush_cur(d, w->fd, FLOE_VBLOB_STAGE_BYTES);
    }
    if (d->error)
        return floe_error_set_errno(err, FLOE_E_IO, d->error, w->name, "cannot write blob %s",
                                    w->name);
    return FLOE_OK;
}

/* Write the zero-padded tail, wait for every write, trim the file to its real length. */
static int direct_complete(struct floe_vblob_writer *w, struct floe_error *err)
{
    struct floe_vblob_direct *d = w->direct;
    if (d->fill && !d->error) {
        size_t padded = (d->fill + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
        memset(d->slot[d->cur].buf + d->fill, 0, padded - d->fill);
        direct_flush_cur(d, w->fd, padded);
    }
    direct_drain(d, w->fd);
    if (d->error)
        return floe_error_set_errno(err, FLOE_E_IO, d->error, w->name, "cannot write blob %s",
                                    w->name);
    struct stat st;
    if (fstat(w->fd, &st) != 0 || (uint64_t)st.st_size != w->bytes) {
        if (ftruncate(w->fd, (off_t)w->bytes) != 0)
            return floe_error_set_errno(err, FLOE_E_IO, errno, w->name,
                                        "cannot set the length of blob %s", w->name);
    }
    return FLOE_OK;
}

/* ---- buffered writers ---- */

/* Start writeback of what was written since the last call, and wait for the step before it,
 * so at most two steps of dirty pages are pending and fdatasync only waits for the tail. */
static void write_behind(struct floe_vblob_writer *w)
{
    if (w->bytes - w->flushed < FLOE_VBLOB_WRITE_BEHIND)
        return;
    if (w->flushed >= FLOE_VBLOB_WRITE_BEHIND)
        sync_file_range(w->fd, (off_t)(w->flushed - FLOE_VBLOB_WRITE_BEHIND),
                        (off_t)FLOE_VBLOB_WRITE_BEHIND, SYNC_FILE_RANGE_WAIT_BEFORE);
    sync_file_range(w->fd, (off_t)w->flushed, (off_t)(w->bytes - w->flushed),
                    SYNC_FILE_RANGE_WRITE);
    w->flushed = w->bytes;
}

int floe_vblob_write(struct floe_vblob_writer *w, const void *p, size_t n, struct floe_error *err)
{
    const char *c = p;
    if (w->log)
        return log_write(w, c, n, err);
    if (w->direct)
        return direct_write(w, c, n, err);
    while (n) {
        ssize_t k = write(w->fd, c, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return floe_error_set_errno(err, FLOE_E_IO, errno, w->name, "cannot write blob %s",
                                        w->name);
        }
        c += k;
        n -= (size_t)k;
        w->bytes += (uint64_t)k;
    }
    write_behind(w);
    return FLOE_OK;
}

int floe_vblob_finish_file(struct floe_vblob *b, struct floe_vblob_writer *w,
                           struct floe_error *err)
{
    int rc = FLOE_OK;
    if (w->log)
        return FLOE_OK; /* made durable by floe_vblob_log_sync() in the group commit */
    if (w->direct) {
        rc = direct_complete(w, err);
        direct_free(b, w);
        if (rc)
            goto out;
    }
    if (fdatasync(w->fd) != 0) {
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, w->name, "cannot sync blob %s", w->name);
        goto out;
    }
    if (close(w->fd) != 0) {
        w->fd = -1;
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, w->name, "cannot close blob %s", w->name);
        goto out;
    }
    w->fd = -1;
out:
    if (rc)
        floe_vblob_discard(b, w);
    return rc;
}

int floe_vblob_sync_dir(struct floe_vblob *b, struct floe_error *err)
{
    if (fsync(b->dirfd) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, b->path, "cannot sync %s", b->path);
    return FLOE_OK;
}

int floe_vblob_finish(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err)
{
    int rc = floe_vblob_finish_file(b, w, err);
    if (!rc && (rc = floe_vblob_sync_dir(b, err)) != FLOE_OK)
        floe_vblob_discard(b, w);
    return rc;
}

void floe_vblob_discard(struct floe_vblob *b, struct floe_vblob_writer *w)
{
    if (w->log) {
        /* give the region's blocks back; its bytes were never named by a row */
        if (w->bytes)
            fallocate(w->log->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)w->off,
                      (off_t)w->bytes);
        log_release(b, w);
        return;
    }
    direct_free(b, w);
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->name[0])
        unlinkat(b->dirfd, w->name, 0);
    w->name[0] = '\0';
}

static bool is_log_name(const char *name)
{
    return strncmp(name, FLOE_VBLOB_LOG_PREFIX, sizeof(FLOE_VBLOB_LOG_PREFIX) - 1) == 0;
}

void floe_vblob_unlink(struct floe_vblob *b, const char *name)
{
    if (!name || !*name || strchr(name, '/'))
        return;
    if (is_log_name(name)) {
        bool held = false;
        pthread_mutex_lock(&b->log_mu);
        for (struct floe_vblob_log *l = b->log_open; l && !held; l = l->next) {
            if (strcmp(l->name, name) == 0) {
                held = true;
                l->orphaned = true; /* its last release checks again */
            }
        }
        pthread_mutex_unlock(&b->log_mu);
        /* a log nobody holds is never written again: once no row names it, it is garbage */
        if (held || !b->referenced || b->referenced(name, b->referenced_user))
            return;
    }
    unlinkat(b->dirfd, name, 0);
}

void floe_vblob_names_add(struct floe_vblob_names *ns, const char *name)
{
    if (!name)
        return;
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 16;
        ns->v = floe_xrealloc(ns->v, ns->cap * sizeof(*ns->v));
    }
    snprintf(ns->v[ns->n++], FLOE_VBLOB_NAME_LEN + 1, "%s", name);
}

void floe_vblob_names_unlink(struct floe_vblob *b, struct floe_vblob_names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        floe_vblob_unlink(b, ns->v[i]);
    free(ns->v);
    *ns = (struct floe_vblob_names){0};
}

int floe_vblob_open_read(struct floe_vblob *b, const char *name)
{
    if (!name || !*name || strchr(name, '/')) {
        errno = EINVAL;
        return -1;
    }
    return openat(b->dirfd, name, O_RDONLY | O_CLOEXEC);
}

static bool name_ok(const char *s)
{
    size_t n = 0;
    if (is_log_name(s))
        n = sizeof(FLOE_VBLOB_LOG_PREFIX) - 1;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return false;
    }
    return n == FLOE_VBLOB_NAME_LEN;
}

size_t floe_vblob_sweep(struct floe_vblob *b, floe_vblob_referenced_fn *referenced, void *user)
{
    int fd = dup(b->dirfd);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    rewinddir(d);
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!name_ok(e->d_name) || !referenced(e->d_name, user)) {
            if (unlinkat(b->dirfd, e->d_name, 0) == 0)
                removed++;
        }
    }
    closedir(d);
    if (removed)
        fsync(b->dirfd);
    return removed;
}
