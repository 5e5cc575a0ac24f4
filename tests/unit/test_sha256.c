/*
 * test_sha256.c - floe's SHA-256 against OpenSSL (EVP, one-shot) on random inputs of random
 * lengths, for both implementations and the two-stream entry points. A wrong kernel cannot
 * pass: every digest is compared with EVP_Digest of the same bytes.
 */
#include "t_util.h"

#include "sha256.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void ref(const void *p, size_t n, uint8_t out[32])
{
    unsigned len = 32;
    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

static size_t random_len(void)
{
    switch (t_rand_below(4)) {
    case 0: return t_rand_below(200); /* around block and padding edges */
    case 1: return t_rand_below(64 * 40);
    case 2: return (1 << 20) - 64 + t_rand_below(130); /* around a leaf */
    default: return t_rand_below(3 << 20);
    }
}

static int impls[FLOE_SHA256_IMPL_COUNT];
static int nimpls;

static int setup(void **state)
{
    (void)state;
    nimpls = 0;
    for (int i = 0; i < FLOE_SHA256_IMPL_COUNT; i++)
        if (floe_sha256_impl_available((enum floe_sha256_impl)i))
            impls[nimpls++] = i;
    if (!floe_sha256_impl_available(FLOE_SHA256_SHANI))
        fprintf(stderr, "# NOTE: this CPU has no SHA-NI; only the portable path is tested\n");
    return 0;
}

static void test_sha256_known_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"Welcome to Amazon Glacier.",
         "726e392cb4d09924dbad1cc0ba3b00c3643d03d14cb4b823e2f041cff612a628"},
    };
    for (int k = 0; k < nimpls; k++) {
        assert_int_equal(floe_sha256_set_impl((enum floe_sha256_impl)impls[k]), 0);
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
            uint8_t d[32];
            char hex[65];
            floe_sha256(v[i].msg, strlen(v[i].msg), d);
            t_hex(d, 32, hex);
            assert_string_equal(hex, v[i].hex);
        }
    }
}

static void test_sha256_random_streaming_matches_openssl(void **state)
{
    (void)state;
    uint8_t *buf = malloc(3 << 20);
    assert_non_null(buf);
    for (int k = 0; k < nimpls; k++) {
        assert_int_equal(floe_sha256_set_impl((enum floe_sha256_impl)impls[k]), 0);
        for (int iter = 0; iter < 60; iter++) {
            size_t n = random_len();
            t_fill_random(buf, n);
            uint8_t want[32], got[32];
            ref(buf, n, want);
            struct floe_sha256 c;
            floe_sha256_init(&c);
            assert_int_equal(c.impl, impls[k]);
            size_t off = 0;
            while (off < n) { /* random splits, including 0-byte updates */
                size_t take = t_rand_below(n - off + 1);
                if (t_rand_below(3) == 0)
                    take = t_rand_below(130);
                if (take > n - off)
                    take = n - off;
                floe_sha256_update(&c, buf + off, take);
                off += take;
            }
            floe_sha256_final(&c, got);
            assert_memory_equal(got, want, 32);
        }
    }
    free(buf);
}

static void test_sha256_two_streams_match_openssl(void **state)
{
    (void)state;
    uint8_t *a = malloc(3 << 20), *b = malloc(3 << 20);
    assert_non_null(a);
    assert_non_null(b);
    for (int k = 0; k < nimpls; k++) {
        assert_int_equal(floe_sha256_set_impl((enum floe_sha256_impl)impls[k]), 0);
        for (int iter = 0; iter < 40; iter++) {
            size_t na = random_len(), nb = random_len();
            t_fill_random(a, na);
            t_fill_random(b, nb);
            uint8_t wa[32], wb[32], ga[32], gb[32];
            ref(a, na, wa);
            ref(b, nb, wb);
            floe_sha256_x2(a, na, b, nb, ga, gb);
            assert_memory_equal(ga, wa, 32);
            assert_memory_equal(gb, wb, 32);

            /* update2 in random equal-length steps, from unaligned partial blocks too */
            struct floe_sha256 ca, cb;
            floe_sha256_init(&ca);
            floe_sha256_init(&cb);
            size_t n = na < nb ? na : nb, off = 0;
            while (off < n) {
                size_t take = t_rand_below(3) ? t_rand_below(n - off + 1) : t_rand_below(100);
                if (take > n - off)
                    take = n - off;
                floe_sha256_update2(&ca, a + off, &cb, b + off, take);
                off += take;
            }
            floe_sha256_update(&ca, a + n, na - n);
            floe_sha256_update(&cb, b + n, nb - n);
            floe_sha256_final(&ca, ga);
            floe_sha256_final(&cb, gb);
            assert_memory_equal(ga, wa, 32);
            assert_memory_equal(gb, wb, 32);

            /* same buffer in both streams (leaf + linear of the same bytes) */
            floe_sha256_init(&ca);
            floe_sha256_init(&cb);
            floe_sha256_update2(&ca, a, &cb, a, na);
            floe_sha256_final(&ca, ga);
            floe_sha256_final(&cb, gb);
            assert_memory_equal(ga, wa, 32);
            assert_memory_equal(gb, wa, 32);
        }
    }
    free(a);
    free(b);
}

static void test_sha256_mismatched_partial_blocks(void **state)
{
    (void)state;
    /* Streams whose partial blocks differ take the fallback path; results stay exact. */
    uint8_t a[500], b[500], wa[32], wb[32], ga[32], gb[32];
    t_fill_random(a, sizeof(a));
    t_fill_random(b, sizeof(b));
    for (int k = 0; k < nimpls; k++) {
        assert_int_equal(floe_sha256_set_impl((enum floe_sha256_impl)impls[k]), 0);
        struct floe_sha256 ca, cb;
        floe_sha256_init(&ca);
        floe_sha256_init(&cb);
        floe_sha256_update(&ca, a, 7);
        floe_sha256_update(&cb, b, 30);
        floe_sha256_update2(&ca, a + 7, &cb, b + 30, 400);
        floe_sha256_update(&ca, a + 407, 93);
        floe_sha256_update(&cb, b + 430, 70);
        floe_sha256_final(&ca, ga);
        floe_sha256_final(&cb, gb);
        ref(a, 500, wa);
        ref(b, 500, wb);
        assert_memory_equal(ga, wa, 32);
        assert_memory_equal(gb, wb, 32);
    }
}

static void test_sha256_impl_selection(void **state)
{
    (void)state;
    assert_int_equal(floe_sha256_set_impl(FLOE_SHA256_PORTABLE), 0);
    assert_int_equal(floe_sha256_impl(), FLOE_SHA256_PORTABLE);
    assert_string_equal(floe_sha256_impl_name(FLOE_SHA256_PORTABLE), "portable");
    assert_string_equal(floe_sha256_impl_name(FLOE_SHA256_SHANI), "shani");
    assert_string_equal(floe_sha256_impl_name((enum floe_sha256_impl)7), "unknown");
    if (floe_sha256_impl_available(FLOE_SHA256_SHANI)) {
        assert_int_equal(floe_sha256_set_impl(FLOE_SHA256_SHANI), 0);
        assert_int_equal(floe_sha256_impl(), FLOE_SHA256_SHANI);
    } else {
        assert_int_equal(floe_sha256_set_impl(FLOE_SHA256_SHANI), -1);
        assert_int_equal(floe_sha256_impl(), FLOE_SHA256_PORTABLE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_vectors),
        cmocka_unit_test(test_sha256_random_streaming_matches_openssl),
        cmocka_unit_test(test_sha256_two_streams_match_openssl),
        cmocka_unit_test(test_sha256_mismatched_partial_blocks),
        cmocka_unit_test(test_sha256_impl_selection),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
