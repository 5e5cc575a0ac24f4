/*
 * treehash_lin.h - tree-hash leaves with an optional SHA-256 over the same bytes (internal: the
 * linear context is src/core/sha256.h's). floe_treehash_leaves() is this without one.
 */
#ifndef FLOE_CORE_TREEHASH_LIN_H
#define FLOE_CORE_TREEHASH_LIN_H

#include "floe/treehash.h"
#include "sha256.h"

#include <stddef.h>
#include <stdint.h>

/*
 * floe_treehash_leaves_lin() - the 1 MiB leaf hashes of data[0..n) into leaves
 * (floe_treehash_leaf_count(n) entries). lin NULL: two leaves at a time (floe_sha256_x2);
 * else each leaf and lin (a running SHA-256, continued) take the same bytes at once
 * (floe_sha256_update2: one message schedule, two chains), as floe_treehash_part() does.
 */
void floe_treehash_leaves_lin(const void *data, size_t n, uint8_t (*leaves)[FLOE_HASH_BYTES],
                              struct floe_sha256 *lin);

#endif
