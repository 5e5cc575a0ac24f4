/*
 * zfile.c - see zfile.h. The producer is one thread per file: it reads 1 MiB at a time, feeds
 * xxh3 and zstd, and sends what zstd emits into the socket (MSG_NOSIGNAL: an upload that
 * stopped reading gives EPIPE, not a signal). The calling thread runs floe_upload_file() on the
 * other end, then closes it (unblocking a producer still writing), joins the producer and keeps
 * the archive only if both sides succeeded.
 */
#include "zfile.h"

#include "alloc.h"
#include "client_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define CHUNK (1u << 20)
#define SAMPLE (128u << 10)
#define MAX_WORKERS 4 /* zstd's own compression threads for one large file */

bool floe_zfile_worth(const char *path, uint64_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    uint8_t *in = floe_xmalloc(SAMPLE);
    size_t cap = ZSTD_compressBound(SAMPLE);
    uint8_t *out = floe_xmalloc(cap);
    uint64_t at[3] = {0, size / 2, size > SAMPLE ? size - SAMPLE : 0};
    uint64_t raw = 0, packed = 0;
    for (int i = 0; i < 3; i++) {
        ssize_t n = pread(fd, in, SAMPLE, (off_t)at[i]);
        if (n <= 0)
            break;
        size_t z = ZSTD_compress(out, cap, in, (size_t)n, 1);
        if (ZSTD_isError(z))
            break;
        raw += (uint64_t)n;
        packed += z;
    }
    close(fd);
    free(in);
    free(out);
    return raw > 0 && packed * 16 <= raw * 15;
}

struct producer {
    const struct floe_zfile_options *o;
    int fd; /* the socket's write end */
    uint8_t xxh3[FLOE_CATALOG_XXH3_BYTES];
    int status;
    struct floe_error err;
};

static int send_all(struct producer *p, const uint8_t *d, size_t len)
{
    while (len) {
        ssize_t n = send(p->fd, d, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return floe_error_set_errno(&p->err, FLOE_E_IO, errno, p->o->path,
                                        "%s: the upload stopped reading it", p->o->path);
        d += n;
        len -= (size_t)n;
    }
    return FLOE_OK;
}

static int64_t mtime_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int compress_file(struct producer *p, int fd, ZSTD_CCtx *z, uint8_t *in, uint8_t *out,
                         size_t out_cap, XXH3_state_t *xs)
{
    const struct floe_zfile_options *o = p->o;
    uint64_t done = 0;
    for (;;) {
        ssize_t n = read(fd, in, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return floe_error_set_errno(&p->err, FLOE_E_IO, errno, o->path, "cannot read %s",
                                        o->path);
        done += (uint64_t)n;
        if (done > o->size)
            break; /* grew: judged below */
        XXH3_128bits_update(xs, in, (size_t)n);
        ZSTD_inBuffer ib = {in, (size_t)n, 0};
        ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
        size_t left;
        do {
            ZSTD_outBuffer ob = {out, out_cap, 0};
            left = ZSTD_compressStream2(z, &ob, &ib, mode);
            if (ZSTD_isError(left))
                return floe_error_set(&p->err, FLOE_E_IO, "%s: zstd: %s", o->path,
                                      ZSTD_getErrorName(left));
            int rc = send_all(p, out, ob.pos);
            if (rc)
                return rc;
        } while (mode == ZSTD_e_end ? left != 0 : ib.pos < ib.size);
        if (n == 0)
            break;
    }
    if (done != o->size)
        return floe_error_set(&p->err, FLOE_E_SOURCE_CHANGED,
                              "%s changed while it was being backed up; skipped (the next run "
                              "takes it)",
                              o->path);
    return FLOE_OK;
}

static void *produce(void *arg)
{
    struct producer *p = arg;
    const struct floe_zfile_options *o = p->o;
    int fd = open(o->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        p->status =
            floe_error_set_errno(&p->err, FLOE_E_IO, errno, o->path, "cannot open %s", o->path);
        shutdown(p->fd, SHUT_WR);
        return NULL;
    }
    struct stat before, after;
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, o->level);
    ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    /* one frame still, compressed by zstd's worker threads (one per core, up to MAX_WORKERS) so
     * one core's zstd speed does not cap the upload; a libzstd without threads refuses the
     * parameter and compresses on this thread */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers,
                           cores < 2 ? 0 : (int)(cores < MAX_WORKERS ? cores : MAX_WORKERS));
    ZSTD_CCtx_setPledgedSrcSize(z, o->size);
    size_t out_cap = ZSTD_CStreamOutSize();
    uint8_t *in = floe_xmalloc(CHUNK), *out = floe_xmalloc(out_cap);
    XXH3_state_t *xs = XXH3_createState();
    XXH3_128bits_reset(xs);
    int rc = fstat(fd, &before) != 0 ? floe_error_set_errno(&p->err, FLOE_E_IO, errno, o->path,
                                                            "cannot stat %s", o->path)
                                     : FLOE_OK;
    if (!rc)
        rc = compress_file(p, fd, z, in, out, out_cap, xs);
    if (!rc && fstat(fd, &after) != 0)
        rc = floe_error_set_errno(&p->err, FLOE_E_IO, errno, o->path, "cannot stat %s", o->path);
    if (!rc && ((uint64_t)before.st_size != o->size || (uint64_t)after.st_size != o->size ||
                mtime_of(&before) != o->mtime_ns || mtime_of(&after) != o->mtime_ns))
        rc = floe_error_set(&p->err, FLOE_E_SOURCE_CHANGED,
                            "%s changed while it was being backed up; skipped (the next run "
                            "takes it)",
                            o->path);
    if (!rc) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
        memcpy(p->xxh3, c.digest, sizeof(p->xxh3));
    }
    p->status = rc;
    shutdown(p->fd, SHUT_WR); /* the end of the stream */
    XXH3_freeState(xs);
    free(in);
    free(out);
    ZSTD_freeCCtx(z);
    close(fd);
    return NULL;
}

int floe_zfile_upload(struct floe_client *client, const struct floe_zfile_options *o,
                      struct floe_zfile_result *out, struct floe_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, NULL, "cannot make a socket pair");
    struct producer p = {.o = o, .fd = sv[1]};
    pthread_t th;
    if (pthread_create(&th, NULL, produce, &p) != 0) {
        close(sv[0]);
        close(sv[1]);
        return floe_error_set(err, FLOE_E_NOMEM, "cannot start the compression thread");
    }
    struct floe_upload_options uo = {
        .vault = o->vault,
        .path = o->path,
        .description = o->description,
        .part_size = o->part_size,
        .memory_limit = o->memory_limit,
        .no_checkpoint = true,
        .cancel = o->cancel,
        .progress = o->progress,
        .progress_user = o->progress_user,
        .use_source_fd = true,
        .source_fd = sv[0],
    };
    int rc = floe_upload_file(client, &uo, &out->archive, err);
    close(sv[0]);
    pthread_join(th, NULL);
    close(sv[1]);
    if (!rc && p.status) { /* the archive is not the file its description names */
        struct floe_error ignore = {0};
        floe_client_delete_archive(client, o->vault, out->archive.archive_id, &ignore);
        *err = p.err;
        rc = p.status;
    } else if (rc && p.status && p.status != FLOE_E_IO) {
        *err = p.err; /* the producer's failure explains the upload's */
        rc = p.status;
    } else if (rc && p.status == FLOE_E_IO && p.err.sys_errno != EPIPE) {
        *err = p.err; /* the file could not be read */
        rc = p.status;
    }
    if (!rc)
        memcpy(out->xxh3, p.xxh3, sizeof(out->xxh3));
    return rc;
}
