/*
 * test_treehash.c - tree hash and linear SHA-256 against botocore's calculate_tree_hash and
 * hashlib, computed by python at test time on the very bytes we hash: sizes 0, 1, 1 MiB-1,
 * 1 MiB, 1 MiB+1, 3 MiB+5, 64 MiB+17 and a random 200 MiB file, fed in random splits, through
 * every entry point, with both SHA-256 implementations.
 */
#include "t_util.h"

#include "floe/filehash.h"
#include "floe/hashpool.h"
#include "floe/treehash.h"
#include "sha256.h"
#include "treehash_lin.h"

#include <stdlib.h>
#include <string.h>

#define MIB ((size_t)1 << 20)

static const char *PY_REF =
    "import sys, hashlib, botocore.utils as u\n"
    "for p in sys.argv[1:]:\n"
    "    with open(p, 'rb') as f: t = u.calculate_tree_hash(f)\n"
    "    with open(p, 'rb') as f: l = hashlib.sha256(f.read()).hexdigest()\n"
    "    print(t, l)\n";

struct vec {
    size_t size;
    uint8_t *data;
    char *path;
    char tree[65], linear[65];
};

static const size_t SIZES[] = {0, 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 5, 64 * MIB + 17, 200 * MIB};
#define NVEC (sizeof(SIZES) / sizeof(SIZES[0]))
static struct vec s_vec[NVEC];
static int s_impls[FLOE_SHA256_IMPL_COUNT], s_nimpls;

static int setup(void **state)
{
    (void)state;
    const char *args[NVEC + 1];
    for (size_t i = 0; i < NVEC; i++) {
        struct vec *v = &s_vec[i];
        v->size = SIZES[i];
        v->data = malloc(v->size ? v->size : 1);
        assert_non_null(v->data);
        t_fill_random(v->data, v->size);
        char name[64];
        snprintf(name, sizeof(name), "vec-%zu.bin", v->size);
        v->path = t_write_temp(name, v->data, v->size);
        args[i] = v->path;
    }
    args[NVEC] = NULL;
    char *out = t_python(PY_REF, args[0], args[1], args[2], args[3], args[4], args[5], args[6],
                         args[7], NULL);
    char *line = out;
    for (size_t i = 0; i < NVEC; i++) {
        assert_int_equal(sscanf(line, "%64s %64s", s_vec[i].tree, s_vec[i].linear), 2);
        line = strchr(line, '\n');
        assert_non_null(line);
        line++;
    }
    free(out);
    s_nimpls = 0;
    for (int i = 0; i < FLOE_SHA256_IMPL_COUNT; i++)
        if (floe_sha256_impl_available((enum floe_sha256_impl)i))
            s_impls[s_nimpls++] = i;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        free(s_vec[i].data);
        free(s_vec[i].path);
    }
    t_cleanup_temp();
    return 0;
}

static void expect_hex(const uint8_t h[32], const char *want, const char *what, size_t size)
{
    char got[65];
    floe_treehash_hex(h, got);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "%s of %zu bytes (impl %s): got %s want %s\n", what, size,
                floe_sha256_impl_name(floe_sha256_impl()), got, want);
        fail();
    }
}

static void test_treehash_streaming_random_splits(void **state)
{
    (void)state;
    for (int k = 0; k < s_nimpls; k++) {
        assert_int_equal(floe_sha256_set_impl((enum floe_sha256_impl)s_impls[k]), 0);
        for (size_t i = 0; i < NVEC; i++) {
            struct vec *v = &s_vec[i];
            for (int round = 0; round < 2; round++) {
                unsigned flags = round ? FLOE_TREEHASH_LINEAR | FLOE_TREEHASH_KEEP_LEAVES : 0;
                struct floe_treehash *th = floe_treehash_new(flags);
                size_t off = 0;
                while (off < v->size) {
                    size_t take;
                    switch (t_rand_below(4)) {
                    case 0: take = t_rand_below(200); break;
                    case 1: take = t_rand_below(MIB + 100); break;
                    case 2: take = 64 * t_rand_below(40000); break;
                    default: take = t_rand_below(9 * MIB); break;
                    }
                    if (take > v->size - off)
                        take = v->size - off;
                    floe_treehash_update(th, v->data + off, take);
                    off += take;
                }
                assert_int_equal(floe_treehash_size(th), v->size);
                uint8_t tree[32], lin[32];
                floe_treehash_final(th, tree, lin);
                expect_hex(tree, v->tree, "streaming tree hash", v->size);
                if (flags & FLOE_TREEHASH_LINEAR) {
                    expect_hex(lin, v->linear, "streaming linear hash", v->size);
                    size_t n;
                    const uint8_t(*lv)[32] = floe_treehash_leaf_hashes(th, &n);
                    assert_int_equal(n, floe_treehash_leaf_count(v->size));
                    uint8_t again[32];
                    floe_treehash_combine(lv, n, again);
                    assert_memory_equal(again, tree, 32);
                } else {
                    static const uint8_t zero[32];
                    assert_memory_equal(lin, zero, 32);
                }
                floe_treehash_destroy(th);
            }
        }
    }
}

static void test_treehash_part_and_leaves(void **state)
{
    (void)state;
    for (int k = 0; k < s_nimpls; k++) {
        assert_int_equal(floe_sha256_set_impl((enum floe_sha256_impl)s_impls[k]), 0);
        for (size_t i = 0; i < NVEC; i++) {
            struct vec *v = &s_vec[i];
            size_t n = floe_treehash_leaf_count(v->size);
            uint8_t(*l1)[32] = calloc(n + 1, 32), (*l2)[32] = calloc(n + 1, 32);
            assert_non_null(l1);
            assert_non_null(l2);
            uint8_t tree[32], lin[32], tree2[32];
            floe_treehash_part(v->data, v->size, l1, tree, lin);
            expect_hex(tree, v->tree, "part tree hash", v->size);
            expect_hex(lin, v->linear, "part linear hash", v->size);
            floe_treehash_leaves(v->data, v->size, l2);
            assert_memory_equal(l1, l2, n * 32);
            /* the leaves with a running SHA-256, continued over a split at a leaf boundary
             * (as retrieve.c feeds 2 MiB chunks in order): the same leaves, the linear hash */
            struct floe_sha256 ctx;
            floe_sha256_init(&ctx);
            size_t cut = v->size / 2 / MIB * MIB;
            memset(l2, 0, n * 32);
            floe_treehash_leaves_lin(v->data, cut, l2, &ctx);
            floe_treehash_leaves_lin(v->data + cut, v->size - cut, l2 + cut / MIB, &ctx);
            assert_memory_equal(l1, l2, n * 32);
            floe_sha256_final(&ctx, lin);
            expect_hex(lin, v->linear, "leaves_lin linear hash", v->size);
            floe_treehash_combine((const uint8_t(*)[32])l2, n, tree2);
            expect_hex(tree2, v->tree, "combined leaves", v->size);
            /* each leaf equals a plain SHA-256 of its bytes */
            for (size_t j = 0; j < n; j++) {
                uint8_t h[32];
                size_t len = v->size - j * MIB < MIB ? v->size - j * MIB : MIB;
                floe_sha256(v->data + j * MIB, len, h);
                assert_memory_equal(h, l1[j], 32);
            }
            free(l1);
            free(l2);
        }
    }
}

/* Composition: the tree hash of power-of-two-MiB parts' tree hashes is the archive hash. */
static void test_treehash_parts_compose(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        struct vec *v = &s_vec[i];
        for (size_t part = MIB; part <= 64 * MIB; part *= 2) {
            size_t nparts = v->size / part + (v->size % part != 0);
            if (nparts == 0)
                continue;
            uint8_t(*ph)[32] = calloc(nparts, 32);
            assert_non_null(ph);
            for (size_t p = 0; p < nparts; p++) {
                size_t len = v->size - p * part < part ? v->size - p * part : part;
                floe_treehash_part(v->data + p * part, len, NULL, ph[p], NULL);
            }
            uint8_t tree[32];
            floe_treehash_combine((const uint8_t(*)[32])ph, nparts, tree);
            expect_hex(tree, v->tree, "archive hash from parts", v->size);
            free(ph);
        }
    }
}

static void test_treehash_parallel_pool(void **state)
{
    (void)state;
    for (unsigned threads = 1; threads <= 3; threads++) {
        struct floe_hashpool *pool = NULL;
        struct floe_error err = {0};
        assert_int_equal(floe_hashpool_new(threads, 0, &pool, &err), FLOE_OK);
        assert_int_equal(floe_hashpool_threads(pool), threads);
        for (size_t i = 0; i < NVEC; i++) {
            uint8_t tree[32];
            floe_hashpool_treehash(pool, s_vec[i].data, s_vec[i].size, tree);
            expect_hex(tree, s_vec[i].tree, "pool tree hash", s_vec[i].size);
        }
        floe_hashpool_destroy(pool);
    }
}

static void test_treehash_filehash(void **state)
{
    (void)state;
    struct floe_hashpool *pool = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_hashpool_new(2, 0, &pool, &err), FLOE_OK);
    for (int with_pool = 0; with_pool < 2; with_pool++) {
        for (size_t i = 0; i < NVEC; i++) {
            struct floe_filehash_result r;
            assert_int_equal(floe_filehash(s_vec[i].path, with_pool ? pool : NULL, &r, &err),
                             FLOE_OK);
            assert_int_equal(r.size, s_vec[i].size);
            expect_hex(r.tree, s_vec[i].tree, "file tree hash", s_vec[i].size);
            expect_hex(r.linear, s_vec[i].linear, "file linear hash", s_vec[i].size);
        }
    }
    struct floe_filehash_result r;
    memset(&r, 0x5a, sizeof(r));
    struct floe_filehash_result untouched = r;
    assert_int_equal(floe_filehash("/nonexistent/floe/x", pool, &r, &err), FLOE_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent/floe/x"));
    assert_non_null(strstr(err.message, "No such file"));
    assert_memory_equal(&r, &untouched, sizeof(r)); /* out written only on success */
    assert_int_equal(floe_filehash(t_temp_dir(), pool, &r, &err), FLOE_E_IO);
    assert_non_null(strstr(err.message, "Is a directory"));
    floe_hashpool_destroy(pool);
}

/* The worked example of docs/glacier-api.md 3.2: a fixed vector, independent of python. */
static void test_treehash_documented_example(void **state)
{
    (void)state;
    size_t n = 3 * MIB + 5;
    uint8_t *d = malloc(n);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(i % 251);
    uint8_t leaves[4][32], tree[32], lin[32], pair[2][32], root[32];
    floe_treehash_part(d, n, leaves, tree, lin);
    expect_hex(tree, "c9e0c11a00161b193e0a1b3692ec553d4033a887f2086a7cadd4cd722d87f09f", "doc", n);
    expect_hex(lin, "b01669d77761c4dfdfc8fb927821087bcf5c9ef1f917c4f1f8504e529f19edab", "doc", n);
    expect_hex(leaves[3], "3d9c75a83e954d9ebfc264912bd97910c9286a07a3f50c14900c443f77335a6a",
               "doc leaf 3", n);
    /* spans: [L0,L1] = H01, [L2,L3] = H23 */
    floe_treehash_combine((const uint8_t(*)[32])leaves, 2, pair[0]);
    floe_treehash_combine((const uint8_t(*)[32])leaves + 2, 2, pair[1]);
    expect_hex(pair[0], "bf4dff263ae686b64403208c35a3767e38453d6477e841947588d13d04e1d816", "H01",
               n);
    expect_hex(pair[1], "35e6bf6dfac666483bda3a35065b1e389741608ab2ddec6a51b2dcfd1e26442b", "H23",
               n);
    floe_treehash_combine((const uint8_t(*)[32])pair, 2, root);
    assert_memory_equal(root, tree, 32);
    floe_treehash_combine((const uint8_t(*)[32])leaves, 1, root);
    assert_memory_equal(root, leaves[0], 32);
    free(d);
}

static void test_treehash_hex_parse(void **state)
{
    (void)state;
    uint8_t h[32], back[32];
    char hex[65];
    struct floe_error err = {0};
    t_fill_random(h, 32);
    floe_treehash_hex(h, hex);
    assert_int_equal(floe_treehash_parse_hex(hex, back, &err), FLOE_OK);
    assert_memory_equal(h, back, 32);
    for (char *p = hex; *p; p++)
        if (*p >= 'a')
            *p = (char)(*p - 32);
    assert_int_equal(floe_treehash_parse_hex(hex, back, &err), FLOE_OK);
    assert_memory_equal(h, back, 32);
    assert_int_equal(floe_treehash_parse_hex("abc", back, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "64 hex characters, got 3"));
    hex[10] = 'g';
    assert_int_equal(floe_treehash_parse_hex(hex, back, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "position 10"));
    assert_int_equal(floe_treehash_parse_hex(NULL, back, &err), FLOE_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_treehash_documented_example),
        cmocka_unit_test(test_treehash_streaming_random_splits),
        cmocka_unit_test(test_treehash_part_and_leaves),
        cmocka_unit_test(test_treehash_parts_compose),
        cmocka_unit_test(test_treehash_parallel_pool),
        cmocka_unit_test(test_treehash_filehash),
        cmocka_unit_test(test_treehash_hex_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
