/*
 * store_blob.c - data files under <data-dir>/blobs (see store_blob.h for format and protocol).
 *
 * DESIGN
 * Blobs are written once at a random name that no database row references yet, so a crash
 * at any point leaves at worst an orphan file, never a half-visible archive: the database
 * row that makes the bytes visible is written only after fdatasync of the file and fsync of
 * the directory. Readers open by name; an unlinked blob stays readable through open fds, so
 * a download racing an archive deletion finishes normally.
 */
#include "store_blob.h"

#include "alloc.h"
#include "vutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct floe_vblob {
    int dirfd;  /* <data-dir>/blobs, O_DIRECTORY; read-only after open */
    char *path; /* for messages */
};

int floe_vblob_open(const char *data_dir, struct floe_vblob **out, struct floe_error *err)
{
    struct floe_vblob *b = floe_xcalloc(1, sizeof(*b));
    int rc = FLOE_OK;
    size_t n = strlen(data_dir) + 8;
    b->dirfd = -1;
    b->path = floe_xmalloc(n);
    snprintf(b->path, n, "%s/blobs", data_dir);
    if (mkdir(b->path, 0700) != 0 && errno != EEXIST) {
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
    if (b->dirfd >= 0)
        close(b->dirfd);
    free(b->path);
    free(b);
}

int floe_vblob_create(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        char name[FLOE_VBLOB_NAME_LEN + 1];
        floe_vutil_id(name, FLOE_VBLOB_NAME_LEN, true);
        int fd = openat(b->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            w->fd = fd;
            w->bytes = 0;
            memcpy(w->name, name, sizeof(name));
            return FLOE_OK;
        }
        if (errno != EEXIST)
            return floe_error_set_errno(err, FLOE_E_IO, errno, b->path,
                                        "cannot create a blob in %s", b->path);
    }
    return floe_error_set(err, FLOE_E_IO, "cannot find a free blob name in %s", b->path);
}

int floe_vblob_write(struct floe_vblob_writer *w, const void *p, size_t n, struct floe_error *err)
{
    const char *c = p;
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
    return FLOE_OK;
}

int floe_vblob_finish(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err)
{
    int rc = FLOE_OK;
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
    if (fsync(b->dirfd) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, b->path, "cannot sync %s", b->path);
out:
    if (rc)
        floe_vblob_discard(b, w);
    return rc;
}

void floe_vblob_discard(struct floe_vblob *b, struct floe_vblob_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->name[0])
        unlinkat(b->dirfd, w->name, 0);
    w->name[0] = '\0';
}

void floe_vblob_unlink(struct floe_vblob *b, const char *name)
{
    if (name && *name && !strchr(name, '/'))
        unlinkat(b->dirfd, name, 0);
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
