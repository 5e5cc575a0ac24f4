/*
 * dirsync.h - making a directory entry durable: after a file is created, renamed or unlinked,
 * its name survives a power cut only once the directory that holds it is synced. One helper
 * for every module that renames a finished file into place (retrieval output, checkpoints,
 * catalogs, migrated files, select output).
 */
#ifndef FLOE_CORE_DIRSYNC_H
#define FLOE_CORE_DIRSYNC_H

#include "floe/error.h"

/* floe_dir_sync_parent() - fsync the directory holding path's last component ("." for a bare
 * name, "/" for a name directly under the root). Returns FLOE_OK, or FLOE_E_IO with err set
 * (err may be NULL) naming the directory. Ownership: path is only read. Thread-safety: any
 * thread; no shared state. */
int floe_dir_sync_parent(const char *path, struct floe_error *err);

#endif
