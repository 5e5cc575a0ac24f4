/*
 * floe/treehash.h - Glacier's SHA-256 tree hash: 1 MiB leaves, pairs hashed left to right,
 * an odd node promoted unchanged (docs/glacier-api.md 3.1). Bit-exact with botocore's
 * calculate_tree_hash.
 *
 * Three ways in:
 *   - streaming: floe_treehash_new() / _update() / _final(), bytes fed in any split, optional
 *     linear SHA-256 of the same bytes in the same pass, optional list of leaf hashes;
 *   - one buffer: floe_treehash_part() gives a part's leaf hashes, tree hash and linear
 *     SHA-256 reading each byte from memory once; floe_treehash_leaves() gives leaf hashes
 *     only, two leaves at a time;
 *   - combining: floe_treehash_combine() builds the tree hash over a list of node hashes: the
 *     leaves of any span, or the tree hashes of power-of-two-MiB parts (the archive hash).
 * The parallel mode (many leaves on a pool of threads) is floe/hashpool.h.
 */
#ifndef FLOE_TREEHASH_H
#define FLOE_TREEHASH_H

#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_TREEHASH_LEAF_BYTES ((size_t)1 << 20)
#define FLOE_HASH_BYTES 32
#define FLOE_HASH_HEX 65 /* 64 hex chars + NUL */

/* floe_treehash_new() flags */
#define FLOE_TREEHASH_LINEAR 1u      /* also compute the linear SHA-256 of all bytes */
#define FLOE_TREEHASH_KEEP_LEAVES 2u /* keep every leaf hash (floe_treehash_leaf_hashes) */

struct floe_treehash; /* opaque streaming state */

/*
 * floe_treehash_new() - a streaming tree hash over bytes fed in any split.
 * flags    IN: FLOE_TREEHASH_* bits.
 * Returns  a new state; never NULL (aborts if a few hundred bytes cannot be allocated).
 *          Free with floe_treehash_destroy(). Threads: one state per thread at a time.
 */
FLOE_API struct floe_treehash *floe_treehash_new(unsigned flags);

/* floe_treehash_update() - feed n bytes (n may be 0). Cheapest when n is a multiple of 64. */
FLOE_API void floe_treehash_update(struct floe_treehash *th, const void *data, size_t n);

/*
 * floe_treehash_final() - finish. tree gets the tree hash (SHA256("") for no bytes);
 * linear, if non-NULL, the linear SHA-256 (requires FLOE_TREEHASH_LINEAR, else it is zeroed).
 * After final, only floe_treehash_leaf_hashes(), _size() and _destroy() may be called.
 */
FLOE_API void floe_treehash_final(struct floe_treehash *th, uint8_t tree[FLOE_HASH_BYTES],
                                  uint8_t linear[FLOE_HASH_BYTES]);

/* Bytes fed so far. */
FLOE_API uint64_t floe_treehash_size(const struct floe_treehash *th);

/*
 * floe_treehash_leaf_hashes() - leaf hashes kept so far (FLOE_TREEHASH_KEEP_LEAVES), count in
 * *n. Before final, the leaf being filled is not included. The array is borrowed: valid until
 * the next update/final/destroy.
 */
FLOE_API const uint8_t (*floe_treehash_leaf_hashes(const struct floe_treehash *th,
                                                   size_t *n))[FLOE_HASH_BYTES];

/* floe_treehash_destroy() - free; NULL is fine. */
FLOE_API void floe_treehash_destroy(struct floe_treehash *th);

/* Number of 1 MiB leaves of a payload of size bytes (0 for 0 bytes). */
FLOE_API uint64_t floe_treehash_leaf_count(uint64_t size);

/*
 * floe_treehash_part() - one pass over a buffer: every leaf hash, the tree hash and the linear
 * SHA-256, each byte read from memory once (leaf and linear streams advance together).
 * leaves   OUT: floe_treehash_leaf_count(n) entries, or NULL if not wanted.
 * tree     OUT: tree hash, or NULL.   linear OUT: linear SHA-256, or NULL.
 * Threads: reentrant; callers may hash different parts on different threads.
 */
FLOE_API void floe_treehash_part(const void *data, size_t n, uint8_t (*leaves)[FLOE_HASH_BYTES],
                                 uint8_t tree[FLOE_HASH_BYTES], uint8_t linear[FLOE_HASH_BYTES]);

/*
 * floe_treehash_leaves() - leaf hashes only (floe_treehash_leaf_count(n) entries), two leaves
 * advanced together per core. Reentrant.
 */
FLOE_API void floe_treehash_leaves(const void *data, size_t n, uint8_t (*leaves)[FLOE_HASH_BYTES]);

/*
 * floe_treehash_combine() - the tree hash over count node hashes in order: the leaves of a
 * span, or part tree hashes when every part but the last is a power-of-two MiB (the archive
 * hash of a multipart upload). count 0 gives SHA256(""); count 1 gives the node itself.
 * Uses O(log count) stack space; nodes is not modified. Reentrant.
 */
FLOE_API void floe_treehash_combine(const uint8_t (*nodes)[FLOE_HASH_BYTES], size_t count,
                                    uint8_t out[FLOE_HASH_BYTES]);

/* floe_treehash_kernel_name() - the SHA-256 kernel in use: "shani" (our two-stream SHA-NI
 * kernel) or "portable" (OpenSSL); FLOE_SHA256=portable selects the latter. Static string. */
FLOE_API const char *floe_treehash_kernel_name(void);

/* floe_treehash_hex() - lower-case hex of a 32-byte hash into out (65 bytes). */
FLOE_API void floe_treehash_hex(const uint8_t hash[FLOE_HASH_BYTES], char out[FLOE_HASH_HEX]);

/*
 * floe_treehash_parse_hex() - parse 64 hex chars (either case) into hash.
 * Returns FLOE_OK, or FLOE_E_INVALID_ARG with a message naming what is wrong.
 */
FLOE_API int floe_treehash_parse_hex(const char *hex, uint8_t hash[FLOE_HASH_BYTES],
                                     struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
