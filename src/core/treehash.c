/*
 * treehash.c - Glacier SHA-256 tree hash: streaming, one-pass part hashing, leaf hashing two
 * leaves at a time, and combining node hashes.
 *
 * DESIGN
 * The tree is built with a binary counter of "peaks" (complete subtrees of 2^i leaves), as a
 * Merkle mountain range: each new node is pushed and merged with equal-sized peaks. At the end
 * the peaks are folded right to left. This equals Glacier's level-by-level pairing with odd
 * nodes promoted unchanged, because the promoted node of each level is exactly the smallest
 * peak climbing until it meets its left sibling. Space is O(log n): 64 peaks cover 2^64 nodes.
 */
#include "floe/treehash.h"

#include "alloc.h"
#include "hex.h"
#include "sha256.h"
#include "treehash_lin.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LEAF FLOE_TREEHASH_LEAF_BYTES

struct peaks {
    uint8_t h[64][FLOE_HASH_BYTES];
    unsigned n;     /* peaks held */
    uint64_t count; /* nodes pushed */
};

static void hash_pair(const uint8_t l[FLOE_HASH_BYTES], const uint8_t r[FLOE_HASH_BYTES],
                      uint8_t out[FLOE_HASH_BYTES])
{
    uint8_t buf[2 * FLOE_HASH_BYTES];
    memcpy(buf, l, FLOE_HASH_BYTES);
    memcpy(buf + FLOE_HASH_BYTES, r, FLOE_HASH_BYTES);
    floe_sha256(buf, sizeof(buf), out);
}

static void peaks_push(struct peaks *pk, const uint8_t h[FLOE_HASH_BYTES])
{
    memcpy(pk->h[pk->n++], h, FLOE_HASH_BYTES);
    pk->count++;
    for (uint64_t c = pk->count; (c & 1) == 0; c >>= 1) {
        hash_pair(pk->h[pk->n - 2], pk->h[pk->n - 1], pk->h[pk->n - 2]);
        pk->n--;
    }
}

static void peaks_root(const struct peaks *pk, uint8_t out[FLOE_HASH_BYTES])
{
    if (pk->n == 0) {
        floe_sha256("", 0, out);
        return;
    }
    uint8_t acc[FLOE_HASH_BYTES];
    memcpy(acc, pk->h[pk->n - 1], FLOE_HASH_BYTES);
    for (unsigned i = pk->n - 1; i-- > 0;)
        hash_pair(pk->h[i], acc, acc);
    memcpy(out, acc, FLOE_HASH_BYTES);
}

struct floe_treehash {
    unsigned flags;
    bool finished;
    struct floe_sha256 leaf;
    struct floe_sha256 linear;
    uint64_t nbytes;
    size_t leaf_fill; /* bytes in the current leaf */
    struct peaks peaks;
    uint8_t (*kept)[FLOE_HASH_BYTES];
    size_t nkept, cap;
};

struct floe_treehash *floe_treehash_new(unsigned flags)
{
    struct floe_treehash *th = floe_xcalloc(1, sizeof(*th));
    th->flags = flags;
    floe_sha256_init(&th->leaf);
    if (flags & FLOE_TREEHASH_LINEAR)
        floe_sha256_init(&th->linear);
    return th;
}

static void leaf_done(struct floe_treehash *th)
{
    uint8_t h[FLOE_HASH_BYTES];
    floe_sha256_final(&th->leaf, h);
    peaks_push(&th->peaks, h);
    if (th->flags & FLOE_TREEHASH_KEEP_LEAVES) {
        if (th->nkept == th->cap) {
            th->cap = th->cap ? th->cap * 2 : 64;
            th->kept = floe_xrealloc(th->kept, th->cap * sizeof(*th->kept));
        }
        memcpy(th->kept[th->nkept++], h, FLOE_HASH_BYTES);
    }
    floe_sha256_init(&th->leaf);
    th->leaf_fill = 0;
}

void floe_treehash_update(struct floe_treehash *th, const void *data, size_t n)
{
    const uint8_t *p = data;
    th->nbytes += n;
    while (n) {
        size_t take = LEAF - th->leaf_fill;
        if (take > n)
            take = n;
        if (th->flags & FLOE_TREEHASH_LINEAR)
            floe_sha256_update2(&th->linear, p, &th->leaf, p, take);
        else
            floe_sha256_update(&th->leaf, p, take);
        th->leaf_fill += take;
        p += take;
        n -= take;
        if (th->leaf_fill == LEAF)
            leaf_done(th);
    }
}

void floe_treehash_final(struct floe_treehash *th, uint8_t tree[FLOE_HASH_BYTES],
                         uint8_t linear[FLOE_HASH_BYTES])
{
    if (!th->finished) {
        if (th->leaf_fill)
            leaf_done(th);
        th->finished = true;
    }
    peaks_root(&th->peaks, tree);
    if (linear) {
        if (th->flags & FLOE_TREEHASH_LINEAR) {
            struct floe_sha256 copy = th->linear;
            floe_sha256_final(&copy, linear);
        } else {
            memset(linear, 0, FLOE_HASH_BYTES);
        }
    }
}

uint64_t floe_treehash_size(const struct floe_treehash *th)
{
    return th->nbytes;
}

const uint8_t (*floe_treehash_leaf_hashes(const struct floe_treehash *th,
                                          size_t *n))[FLOE_HASH_BYTES]
{
    *n = th->nkept;
    return (const uint8_t(*)[FLOE_HASH_BYTES])th->kept;
}

void floe_treehash_destroy(struct floe_treehash *th)
{
    if (!th)
        return;
    free(th->kept);
    free(th);
}

uint64_t floe_treehash_leaf_count(uint64_t size)
{
    return size / LEAF + (size % LEAF != 0);
}

/* One leaf of len bytes at p, and lin over the same bytes. */
static void leaf_lin(const uint8_t *p, size_t len, struct floe_sha256 *lin,
                     uint8_t out[FLOE_HASH_BYTES])
{
    struct floe_sha256 leaf;
    floe_sha256_init(&leaf);
    floe_sha256_update2(lin, p, &leaf, p, len);
    floe_sha256_final(&leaf, out);
}

void floe_treehash_part(const void *data, size_t n, uint8_t (*leaves)[FLOE_HASH_BYTES],
                        uint8_t tree[FLOE_HASH_BYTES], uint8_t linear[FLOE_HASH_BYTES])
{
    const uint8_t *p = data;
    struct floe_sha256 lin;
    struct peaks pk;
    pk.n = 0;
    pk.count = 0;
    floe_sha256_init(&lin);
    for (size_t off = 0, i = 0; off < n; off += LEAF, i++) {
        size_t len = n - off < LEAF ? n - off : LEAF;
        uint8_t h[FLOE_HASH_BYTES];
        leaf_lin(p + off, len, &lin, h);
        if (leaves)
            memcpy(leaves[i], h, FLOE_HASH_BYTES);
        if (tree)
            peaks_push(&pk, h);
    }
    if (tree)
        peaks_root(&pk, tree);
    if (linear)
        floe_sha256_final(&lin, linear);
}

void floe_treehash_leaves(const void *data, size_t n, uint8_t (*leaves)[FLOE_HASH_BYTES])
{
    floe_treehash_leaves_lin(data, n, leaves, NULL);
}

void floe_treehash_leaves_lin(const void *data, size_t n, uint8_t (*leaves)[FLOE_HASH_BYTES],
                              struct floe_sha256 *lin)
{
    const uint8_t *p = data;
    size_t off = 0, i = 0;
    while (off < n) {
        size_t la = n - off < LEAF ? n - off : LEAF;
        if (lin) {
            leaf_lin(p + off, la, lin, leaves[i]);
            off += la;
            i++;
        } else if (off + la < n) {
            size_t lb = n - off - la < LEAF ? n - off - la : LEAF;
            floe_sha256_x2(p + off, la, p + off + la, lb, leaves[i], leaves[i + 1]);
            off += la + lb;
            i += 2;
        } else {
            floe_sha256(p + off, la, leaves[i]);
            off += la;
            i++;
        }
    }
}

void floe_treehash_combine(const uint8_t (*nodes)[FLOE_HASH_BYTES], size_t count,
                           uint8_t out[FLOE_HASH_BYTES])
{
    struct peaks pk;
    pk.n = 0;
    pk.count = 0;
    for (size_t i = 0; i < count; i++)
        peaks_push(&pk, nodes[i]);
    peaks_root(&pk, out);
}

const char *floe_treehash_kernel_name(void)
{
    return floe_sha256_impl_name(floe_sha256_impl());
}

void floe_treehash_hex(const uint8_t hash[FLOE_HASH_BYTES], char out[FLOE_HASH_HEX])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < FLOE_HASH_BYTES; i++) {
        out[2 * i] = hx[hash[i] >> 4];
        out[2 * i + 1] = hx[hash[i] & 15];
    }
    out[64] = 0;
}

int floe_treehash_parse_hex(const char *hex, uint8_t hash[FLOE_HASH_BYTES], struct floe_error *err)
{
    if (!hex)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "missing SHA-256 hash");
    size_t len = strlen(hex);
    if (len != 64)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "SHA-256 hash must be 64 hex characters, got %zu", len);
    uint8_t tmp[FLOE_HASH_BYTES];
    for (int i = 0; i < FLOE_HASH_BYTES; i++) {
        int hi = floe_hex_nibble(hex[2 * i]), lo = floe_hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "SHA-256 hash has a non-hex character at position %d",
                                  hi < 0 ? 2 * i : 2 * i + 1);
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(hash, tmp, FLOE_HASH_BYTES);
    return FLOE_OK;
}
