/*
 * store_blob.h - floe-vault's data files: every archive part and every job output (inventory)
 * is one immutable file under <data-dir>/blobs/, named by 32 random hex-ish characters.
 *
 * On-disk format: a blob is the raw bytes, nothing else; its length, tree hash and 1 MiB leaf
 * hashes live in the database row that references it (segments.leaves, store_db.c), so the
 * data and its hashes become visible in one SQLite transaction. A blob is valid if and only if
 * a database row names it: a file no row names is garbage from a request that never got its
 * 2xx (crash, abort, checksum mismatch) and floe_vblob_sweep() removes it at start.
 *
 * Write protocol (durability): create (O_EXCL) -> write -> floe_vblob_finish() = fdatasync +
 * close + fsync(blobs/) -> database COMMIT -> 2xx. Nothing is ever renamed or rewritten.
 *
 * Threads: the store is read-only after open; writers and readers belong to one thread each.
 */
#ifndef FLOE_VAULT_STORE_BLOB_H
#define FLOE_VAULT_STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

#define FLOE_VBLOB_NAME_LEN 32

struct floe_vblob; /* the blob directory */

/* One blob being written. Zero it before floe_vblob_create(); fd is -1 when closed. */
struct floe_vblob_writer {
    int fd;
    char name[FLOE_VBLOB_NAME_LEN + 1];
    uint64_t bytes;
};

/*
 * floe_vblob_open() - use <data_dir>/blobs (created if missing).
 * out      OUT: set only on FLOE_OK; free with floe_vblob_close().
 * Returns  FLOE_OK or FLOE_E_IO.
 */
int floe_vblob_open(const char *data_dir, struct floe_vblob **out, struct floe_error *err);
void floe_vblob_close(struct floe_vblob *b);

/* floe_vblob_create() - a new empty blob with a fresh random name. Returns FLOE_OK/FLOE_E_IO. */
int floe_vblob_create(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err);

/* floe_vblob_write() - append n bytes (retries short writes). Returns FLOE_OK or FLOE_E_IO. */
int floe_vblob_write(struct floe_vblob_writer *w, const void *p, size_t n, struct floe_error *err);

/*
 * floe_vblob_finish() - make the blob durable: fdatasync, close, fsync the directory.
 * On failure the blob is removed. Returns FLOE_OK or FLOE_E_IO.
 */
int floe_vblob_finish(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err);

/* floe_vblob_discard() - close (if open) and unlink a blob that will not be used. */
void floe_vblob_discard(struct floe_vblob *b, struct floe_vblob_writer *w);

/* floe_vblob_unlink() - remove a blob by name (no error if missing). */
void floe_vblob_unlink(struct floe_vblob *b, const char *name);

/* floe_vblob_open_read() - open a blob read-only; returns an fd or -1 (errno set). */
int floe_vblob_open_read(struct floe_vblob *b, const char *name);

/* Whether a blob is referenced; called by the sweep for every file found. */
typedef bool floe_vblob_referenced_fn(const char *name, void *user);

/*
 * floe_vblob_sweep() - remove every file in blobs/ that is not a well-formed blob name or for
 * which referenced() returns false. Returns the number of files removed. Call before serving.
 */
size_t floe_vblob_sweep(struct floe_vblob *b, floe_vblob_referenced_fn *referenced, void *user);

#endif
