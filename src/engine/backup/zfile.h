/*
 * zfile.h - one large file of a backup as a single zstd frame (`floe backup --compress`),
 * streamed straight into a multipart upload: a producer thread reads the file, hashes its
 * original bytes (xxh3-128) and compresses them (ZSTD_compressStream2, content size and zstd's
 * own checksum in the frame; zstd's worker threads, one per core up to 4, do the compressing)
 * into one end of a socket pair; floe_upload_file() reads the other end as a stream (parts
 * hashed and sent in parallel, as `floe upload -` does). Nothing is written to disk; memory is
 * the upload's part buffers plus zstd's window and its workers' job buffers.
 *
 * Before that, floe_zfile_worth() samples the file: data that does not compress (media,
 * archives, encrypted files) goes the ordinary way instead (floe upload's resumable multipart
 * with its journal), so --compress costs nothing on it.
 *
 * A stream has no journal: an upload that fails is aborted, and a run killed during one leaves
 * its multipart upload open until the next run of the same backup set aborts it (it is
 * recognised by its description, floe_describe_zfile_prefix). The archive is reported only if
 * the file was unchanged from the plan to the end of the read (size and mtime); otherwise the
 * archive is deleted again and FLOE_E_SOURCE_CHANGED says why.
 *
 * Threads: floe_zfile_upload() and its callbacks run on the calling thread; the producer thread
 * touches only the file and the socket.
 */
#ifndef FLOE_ENGINE_BACKUP_ZFILE_H
#define FLOE_ENGINE_BACKUP_ZFILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "floe/client.h"
#include "floe/upload.h"

struct floe_zfile_options {
    const char *vault;
    const char *path;        /* the file */
    uint64_t size;           /* as planned */
    int64_t mtime_ns;        /* as planned */
    const char *description; /* the archive's */
    int level;               /* zstd level, 1..19 */
    uint64_t part_size;      /* 0: floe upload's default */
    uint64_t memory_limit;   /* 0: default */
    atomic_bool *cancel;
    floe_upload_progress_fn *progress; /* bytes are compressed bytes sent */
    void *progress_user;
};

struct floe_zfile_result {
    struct floe_upload_result archive;     /* the compressed archive */
    uint8_t xxh3[FLOE_CATALOG_XXH3_BYTES]; /* of the original bytes (canonical form) */
};

/*
 * floe_zfile_worth() - whether compressing path is likely to pay: up to three 128 KiB samples
 * (start, middle, end) compressed at level 1 must shrink by at least 1/16. A file that cannot
 * be read is "not worth it" (the ordinary upload then reports why). Threads: any.
 */
bool floe_zfile_worth(const char *path, uint64_t size);

/*
 * floe_zfile_upload() - uploads o->path as one zstd frame (see the top of this header).
 * Returns FLOE_OK (*out filled); FLOE_E_IO (the file could not be read) or
 * FLOE_E_SOURCE_CHANGED (it changed while read), both meaning "skip this file"; or the upload's
 * failure (FLOE_E_CANCELLED, a service error...). No archive is left behind on any failure.
 */
int floe_zfile_upload(struct floe_client *client, const struct floe_zfile_options *o,
                      struct floe_zfile_result *out, struct floe_error *err);

#endif
