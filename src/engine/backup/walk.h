/*
 * walk.h - the directory walk of `floe backup`: every regular file under a source, in a
 * stable order (names sorted bytewise within each directory, files and directories
 * interleaved as sorted), with rsync-style filters applied on the way down, symlinks not
 * followed unless asked, devices, sockets and FIFOs skipped and counted, unreadable entries
 * reported and skipped.
 *
 * Cost: it works relative to directory descriptors (openat / fdopendir / fstatat with
 * AT_SYMLINK_NOFOLLOW), one fstatat per entry, so the per-file system-call count is constant
 * and small; memory is the open directory chain, each directory on it with its sorted names
 * (so: the depth times one directory's names), never the whole tree and nothing per file.
 *
 * Ownership: everything a callback receives is borrowed and valid only during the callback.
 * Threads: one walk runs on the calling thread; callbacks are called on it, in walk order.
 */
#ifndef FLOE_ENGINE_WALK_H
#define FLOE_ENGINE_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "filter.h"
#include "floe/error.h"

/* One regular file (or, with follow, the file a symlink leads to). */
struct floe_walk_file {
    const char *path;    /* the full path: the source as given + "/" + relpath */
    const char *relpath; /* relative to the source: "a/b.txt" (a file source: its base name) */
    int dirfd;           /* the open directory holding it: openat(dirfd, name, ...) */
    const char *name;    /* its name in that directory */
    uint64_t size;
    int64_t mtime_ns; /* st_mtim as nanoseconds since the epoch */
    uint64_t inode, device;
    uint32_t mode;  /* st_mode (permission bits and type) */
    uint64_t nlink; /* > 1: a hard link (the backup may store the content once) */
};

/* Why an entry was skipped. */
enum floe_walk_skip {
    FLOE_WALK_SKIP_SPECIAL,    /* a device, socket or FIFO (never backed up) */
    FLOE_WALK_SKIP_SYMLINK,    /* a symlink, not followed (no --follow) */
    FLOE_WALK_SKIP_UNREADABLE, /* open/stat/read of the entry or directory failed: errno set */
    FLOE_WALK_SKIP_LOOP,       /* --follow: a directory already on the current path */
};

struct floe_walk_skipped {
    const char *path; /* full path */
    enum floe_walk_skip why;
    int sys_errno; /* UNREADABLE only */
    bool is_dir;   /* the skipped entry is a directory (its whole subtree is missing) */
};

/* Return 0 to go on; any other value stops the walk, and floe_walk() returns it. */
typedef int floe_walk_file_fn(void *user, const struct floe_walk_file *f);
typedef int floe_walk_skip_fn(void *user, const struct floe_walk_skipped *s);

struct floe_walk_options {
    const struct floe_filter *filter; /* NULL: everything */
    bool follow;                      /* follow symlinks (to files and directories) */
    bool one_file_system;             /* do not cross into other file systems */
    floe_walk_file_fn *on_file;       /* required */
    floe_walk_skip_fn *on_skip;       /* optional */
    void *user;
};

struct floe_walk_stats {
    uint64_t files, dirs; /* regular files reported; directories entered (the source too) */
    uint64_t bytes;       /* sum of the reported files' sizes */
    uint64_t excluded;    /* entries a filter excluded (a directory counts once), and entries
                             one_file_system left out (on another device) */
    uint64_t specials, symlinks, unreadable;
};

/*
 * floe_walk() - walks source (a directory, or a single regular file) and calls on_file for
 * every regular file the filters let through, on_skip for what it skips. The filters see
 * relpaths ("a/b.txt"; directories without a trailing '/').
 * stats  OUT (may be NULL): counts, also when the walk stops early.
 * Returns FLOE_OK; a callback's non-zero value; or FLOE_E_IO (err names the path and errno)
 * when the source itself cannot be opened or is neither a directory nor a regular file (a
 * directory deeper down that cannot be read is a skip, not a failure).
 */
int floe_walk(const char *source, const struct floe_walk_options *opts,
              struct floe_walk_stats *stats, struct floe_error *err);

#endif
