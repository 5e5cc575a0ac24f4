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
 * close + fsync(blobs/) -> database COMMIT -> 2xx (uploads: floe_vblob_finish_file(), then
 * the group committer's one fsync(blobs/) and COMMIT for a group of requests). Nothing is ever
 * renamed or rewritten.
 *
 * Two ways to write (docs/internals/vault.md, "Upload data path"):
 *   - streamed (floe_vblob_create_stream, request bodies of 1 MiB or more): O_DIRECT writes of
 *     4 MiB staging buffers submitted through an io_uring as each fills, so the disk works
 *     while the body is still arriving and being hashed, and no byte goes through the page
 *     cache. The file is fallocate()d ahead of the writes, FLOE_VBLOB_RESERVE_AHEAD at a time
 *     up to its announced size (writes inside i_size do not serialise on ext4's inode lock;
 *     disk is taken as bytes arrive, never for a whole Content-Length on its promise); the last
 * block is written zero-padded to 4 KiB and the file truncated to its real length before fdatasync.
 * Staging buffers come from a pool in the store (at most FLOE_VBLOB_STAGE_MAX, allocated on first
 * use, kept until close).
 *   - buffered (floe_vblob_create, small bodies, inventories, and the fallback when O_DIRECT,
 *     io_uring or a staging buffer is unavailable): write() into the page cache, with
 *     sync_file_range() write-behind every 8 MiB so fdatasync only waits for the tail.
 *
 * Threads: the store's configuration is read-only after open; its staging pool has its own
 * mutex. Writers and readers belong to one thread each.
 */
#ifndef FLOE_VAULT_STORE_BLOB_H
#define FLOE_VAULT_STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

#define FLOE_VBLOB_NAME_LEN 32
#define FLOE_VBLOB_STAGE_BYTES ((size_t)4 << 20)      /* one O_DIRECT write */
#define FLOE_VBLOB_STAGE_DEPTH 4                      /* staging buffers per streamed blob */
#define FLOE_VBLOB_STAGE_MAX 32                       /* staging buffers in the pool (128 MiB) */
#define FLOE_VBLOB_STREAM_MIN ((uint64_t)1 << 20)     /* smaller bodies are written buffered */
#define FLOE_VBLOB_WRITE_BEHIND ((uint64_t)8 << 20)   /* buffered: sync_file_range step */
#define FLOE_VBLOB_RESERVE_AHEAD ((uint64_t)64 << 20) /* streamed: fallocate this far ahead */
#define FLOE_VBLOB_LOG_BYTES ((uint64_t)64 << 20)     /* a log blob takes no body past this */
#define FLOE_VBLOB_LOG_PREFIX "log."                  /* log blob names: this + 28 alnum */

struct floe_vblob;        /* the blob directory */
struct floe_vblob_direct; /* private state of a streamed (O_DIRECT) writer */
struct floe_vblob_log;    /* a shared append-only log blob (small bodies) */

/* How floe_vblob_create_stream() writes (--blob-io): direct with buffered fallback, or never. */
enum floe_vblob_io { FLOE_VBLOB_IO_DIRECT = 0, FLOE_VBLOB_IO_BUFFERED, FLOE_VBLOB_IO_COUNT };
extern const char *const floe_vblob_io_names[FLOE_VBLOB_IO_COUNT];

/* One blob being written. Zero it before floe_vblob_create(); fd is -1 when closed. A body
 * written into a log blob (log != NULL) has fd -1, name = the log's name and its bytes at
 * [off, off + bytes) of that file; a body of its own file has off 0 and log NULL. */
struct floe_vblob_writer {
    int fd;
    char name[FLOE_VBLOB_NAME_LEN + 1];
    uint64_t bytes;
    uint64_t flushed;                 /* buffered: bytes handed to writeback so far */
    struct floe_vblob_direct *direct; /* NULL: buffered writes */
    struct floe_vblob_log *log;       /* the log holding the body (a reference), or NULL */
    uint64_t off;                     /* where the body starts in its file */
    uint64_t cap;                     /* log: the bytes reserved at off */
};

/*
 * floe_vblob_open() - use <data_dir>/blobs (created if missing).
 * out      OUT: set only on FLOE_OK; free with floe_vblob_close().
 * Returns  FLOE_OK or FLOE_E_IO.
 */
int floe_vblob_open(const char *data_dir, struct floe_vblob **out, struct floe_error *err);
void floe_vblob_close(struct floe_vblob *b);

/* floe_vblob_set_io() - choose the streamed write mode; call before serving. */
void floe_vblob_set_io(struct floe_vblob *b, enum floe_vblob_io io);

/* floe_vblob_create() - a new empty blob with a fresh random name. Returns FLOE_OK/FLOE_E_IO. */
int floe_vblob_create(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err);

/*
 * floe_vblob_create_stream() - a new blob for a body of size_bytes announced bytes: streamed
 * (O_DIRECT through io_uring) when the mode, the size, the file system, io_uring and the
 * staging pool allow it, else buffered. Either way the same write/finish/discard calls apply.
 * Returns FLOE_OK or FLOE_E_IO (cannot create, or no space for size_bytes).
 */
int floe_vblob_create_stream(struct floe_vblob *b, uint64_t size_bytes, struct floe_vblob_writer *w,
                             struct floe_error *err);

/*
 * Log blobs (small bodies, under FLOE_VBLOB_STREAM_MIN): instead of a file per body, each body
 * gets a region reserved at the end of the current log blob, a file named
 * FLOE_VBLOB_LOG_PREFIX + 28 random characters, and is written there with pwrite(). A log takes
 * bodies until FLOE_VBLOB_LOG_BYTES are reserved, then a new one is started; a log is never
 * reopened for writing after a restart. The bytes are made durable by the group committer:
 * floe_vblob_log_sync() (one fdatasync of the log for every body of the group, plus one fsync
 * of blobs/ the first time, for the log's directory entry) before the COMMIT of the rows that
 * name the log (segments.blob = the log, segments.off = the region). What a request wrote
 * before it failed is punched out of the file (a hole). A log file is removed once no row
 * names it and no writer holds it: by floe_vblob_unlink() of its name (after the last row
 * naming it was deleted; the referenced callback says whether another row still names it), by
 * the last writer's release when the rows were deleted while it was open, or by the start-up
 * sweep. Space of single deleted bodies inside a live log is not reclaimed.
 * Why: a file per small body costs the server a create (directory entry and inode), a
 * writeback and an fdatasync of its own per archive, about a third of its CPU for 1-64 KiB
 * archives (docs/performance.md, floe-vault, "Many small archives").
 */

/*
 * floe_vblob_set_referenced() - the callback floe_vblob_unlink() and a log's last release ask
 * whether a database row still names a log blob. It takes the database lock itself, so
 * floe_vblob_unlink() of a log name and floe_vblob_done()/floe_vblob_discard() of a log writer
 * must be called without that lock. Call before serving.
 */
typedef bool floe_vblob_referenced_fn(const char *name, void *user);
void floe_vblob_set_referenced(struct floe_vblob *b, floe_vblob_referenced_fn *fn, void *user);

/*
 * floe_vblob_log_sync() - make durable every byte written so far into log (fdatasync), and
 * the first time its directory entry too (fsync of blobs/). Returns FLOE_OK or FLOE_E_IO. Any
 * thread; log must be held by a writer.
 */
int floe_vblob_log_sync(struct floe_vblob *b, struct floe_vblob_log *log, struct floe_error *err);

/* floe_vblob_writer_log() - the log w writes into (NULL: w has a file of its own). */
struct floe_vblob_log *floe_vblob_writer_log(const struct floe_vblob_writer *w);

/* floe_vblob_done() - a writer whose body is kept (its row committed): release what it holds
 * (its log reference). Its file, if it has one, is already closed by floe_vblob_finish*(). */
void floe_vblob_done(struct floe_vblob *b, struct floe_vblob_writer *w);

/* Whether w writes through O_DIRECT (for logs and tests). */
bool floe_vblob_is_direct(const struct floe_vblob_writer *w);

/* floe_vblob_write() - append n bytes (retries short writes). Returns FLOE_OK or FLOE_E_IO. */
int floe_vblob_write(struct floe_vblob_writer *w, const void *p, size_t n, struct floe_error *err);

/*
 * floe_vblob_finish() - make the blob durable: fdatasync, close, fsync the directory.
 * On failure the blob is removed. Returns FLOE_OK or FLOE_E_IO.
 */
int floe_vblob_finish(struct floe_vblob *b, struct floe_vblob_writer *w, struct floe_error *err);

/*
 * floe_vblob_finish_file() - floe_vblob_finish() without the directory fsync: fdatasync and
 * close. The caller must fsync the directory (floe_vblob_sync_dir(), done once per group by
 * the group committer, commit.h) before any row naming the blob is committed. On failure the
 * blob is removed. Returns FLOE_OK or FLOE_E_IO.
 */
int floe_vblob_finish_file(struct floe_vblob *b, struct floe_vblob_writer *w,
                           struct floe_error *err);

/* floe_vblob_sync_dir() - fsync blobs/ (makes every blob created so far findable after a
 * crash). Returns FLOE_OK or FLOE_E_IO. Any thread. */
int floe_vblob_sync_dir(struct floe_vblob *b, struct floe_error *err);

/* floe_vblob_discard() - close (if open) and unlink a blob that will not be used (a log
 * writer's region is punched out and its reference released). Idempotent. */
void floe_vblob_discard(struct floe_vblob *b, struct floe_vblob_writer *w);

/* floe_vblob_unlink() - remove a blob by name (no error if missing). A log blob is removed
 * only when no writer holds it and the referenced callback says no row names it. */
void floe_vblob_unlink(struct floe_vblob *b, const char *name);

/*
 * Names of blobs to remove once the database rows that name them are gone: collected while
 * the database lock is held, unlinked after it is released (no file I/O under the lock).
 * Zero-initialise; the list belongs to one thread.
 */
struct floe_vblob_names {
    char (*v)[FLOE_VBLOB_NAME_LEN + 1];
    size_t n, cap;
};

/* floe_vblob_names_add() - append a copy of name (NULL is ignored). */
void floe_vblob_names_add(struct floe_vblob_names *ns, const char *name);

/* floe_vblob_names_unlink() - unlink the first ns->n names (set ns->n = 0 to keep them all,
 * e.g. after a failed COMMIT) and free the list. */
void floe_vblob_names_unlink(struct floe_vblob *b, struct floe_vblob_names *ns);

/* floe_vblob_open_read() - open a blob read-only; returns an fd or -1 (errno set). */
int floe_vblob_open_read(struct floe_vblob *b, const char *name);

/*
 * floe_vblob_sweep() - remove every file in blobs/ that is not a well-formed blob name or for
 * which referenced() returns false. Returns the number of files removed. Call before serving.
 */
size_t floe_vblob_sweep(struct floe_vblob *b, floe_vblob_referenced_fn *referenced, void *user);

#endif
