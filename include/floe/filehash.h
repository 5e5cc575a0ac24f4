/*
 * floe/filehash.h - tree hash, linear SHA-256 and size of a whole file or stream.
 *
 * The linear SHA-256 of a file is one serial stream; it runs on the calling thread while the
 * pool hashes the leaves of the same buffers beside it, so the whole job takes about the time
 * of one linear pass.
 */
#ifndef FLOE_FILEHASH_H
#define FLOE_FILEHASH_H

#include <stdint.h>

#include "floe/error.h"
#include "floe/hashpool.h"
#include "floe/treehash.h"

#ifdef __cplusplus
extern "C" {
#endif

struct floe_filehash_result {
    uint8_t tree[FLOE_HASH_BYTES];
    uint8_t linear[FLOE_HASH_BYTES];
    uint64_t size;
};

/*
 * floe_filehash() - hash the file at path ("-" = standard input) to its end.
 * pool     IN: borrowed; leaves are hashed on it. NULL hashes everything on the caller.
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_IO when the file cannot be opened or read (err->path and
 *          err->sys_errno set, message names the file); FLOE_E_NOMEM when the read buffers
 *          (64 MiB) cannot be allocated.
 * Threads  the caller blocks; one pool may serve several concurrent callers.
 */
FLOE_API int floe_filehash(const char *path, struct floe_hashpool *pool,
                           struct floe_filehash_result *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
