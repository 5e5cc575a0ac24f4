/*
 * dirsync.c - fsync of the directory that holds a path (see dirsync.h).
 */
#include "dirsync.h"

#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int floe_dir_sync_parent(const char *path, struct floe_error *err)
{
    char *dup = floe_xstrdup(path);
    char *slash = strrchr(dup, '/');
    const char *dir = ".";
    if (slash == dup)
        dir = "/";
    else if (slash) {
        *slash = 0;
        dir = dup;
    }
    int rc = FLOE_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, dir, "cannot sync directory %s", dir);
    if (fd >= 0)
        close(fd);
    free(dup);
    return rc;
}
