/*
 * treehash_check.c - a program built against an installed libfloe (test_install.sh): the tree
 * hash and linear SHA-256 of 3 MiB + 5 bytes (byte i = 7i + 3 mod 256), computed three ways
 * (one-shot part, streaming in odd pieces, leaves combined), must equal the values botocore's
 * calculate_tree_hash and sha256sum give. Prints "ok KERNEL" and exits 0, else says what
 * differs and exits 1.
 */
#include <floe/error.h>
#include <floe/treehash.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE ((size_t)3 * 1024 * 1024 + 5)
static const char *const k_tree =
    "5488f02cf913212e551489ff05e133ea11e9b815c21a8c0fb88b0a2f216af81e";
static const char *const k_linear =
    "8e412f5c2133ab91c007c92ac99185bd7aeb01a1b4fc67f38cb9d9052f614a3f";

static int expect(const char *what, const uint8_t hash[FLOE_HASH_BYTES], const char *want)
{
    char hex[FLOE_HASH_HEX];
    floe_treehash_hex(hash, hex);
    if (strcmp(hex, want) == 0)
        return 0;
    fprintf(stderr, "treehash_check: %s is %s, expected %s\n", what, hex, want);
    return 1;
}

int main(void)
{
    uint8_t *data = malloc(SIZE);
    if (!data)
        return 1;
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    int bad = 0;

    uint8_t tree[FLOE_HASH_BYTES], linear[FLOE_HASH_BYTES];
    uint64_t nleaves = floe_treehash_leaf_count(SIZE);
    uint8_t(*leaves)[FLOE_HASH_BYTES] = calloc(nleaves, FLOE_HASH_BYTES);
    floe_treehash_part(data, SIZE, leaves, tree, linear);
    bad |= expect("floe_treehash_part tree hash", tree, k_tree);
    bad |= expect("floe_treehash_part linear SHA-256", linear, k_linear);
    floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])leaves, nleaves, tree);
    bad |= expect("floe_treehash_combine of the leaves", tree, k_tree);

    struct floe_treehash *th = floe_treehash_new(FLOE_TREEHASH_LINEAR);
    for (size_t off = 0, step = 1; off < SIZE; off += step, step = step * 3 + 1) {
        size_t n = step < SIZE - off ? step : SIZE - off;
        floe_treehash_update(th, data + off, n);
    }
    floe_treehash_final(th, tree, linear);
    if (floe_treehash_size(th) != SIZE) {
        fprintf(stderr, "treehash_check: streaming size is wrong\n");
        bad = 1;
    }
    floe_treehash_destroy(th);
    bad |= expect("streaming tree hash", tree, k_tree);
    bad |= expect("streaming linear SHA-256", linear, k_linear);

    struct floe_error err = {0};
    uint8_t parsed[FLOE_HASH_BYTES];
    if (floe_treehash_parse_hex(k_tree, parsed, &err) != FLOE_OK)
        bad = 1;
    else
        bad |= expect("floe_treehash_parse_hex", parsed, k_tree);

    free(leaves);
    free(data);
    if (bad)
        return 1;
    printf("ok %s\n", floe_treehash_kernel_name());
    return 0;
}
