/*
 * test_range.c - every range and size helper's accept and reject cases, and the tree-hash
 * alignment rule checked by brute force against the tree Glacier actually builds.
 */
#include "t_util.h"

#include "floe/range.h"

#include <stdlib.h>
#include <string.h>

#define MIB FLOE_MIB

static void expect_err(int rc, int want, const struct floe_error *err, const char *needle)
{
    assert_int_equal(rc, want);
    if (!strstr(err->message, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err->message, needle);
        fail();
    }
}

static void test_range_part_size(void **state)
{
    (void)state;
    struct floe_error err = {0};
    for (uint64_t s = MIB; s <= FLOE_PART_SIZE_MAX; s *= 2)
        assert_int_equal(floe_range_check_part_size(s, &err), FLOE_OK);
    expect_err(floe_range_check_part_size(0, &err), FLOE_E_RANGE, &err, "outside 1 MiB..4096");
    expect_err(floe_range_check_part_size(3 * MIB, &err), FLOE_E_RANGE, &err,
               "3 MiB is not a power of two");
    expect_err(floe_range_check_part_size(MIB + 1, &err), FLOE_E_RANGE, &err,
               "not a whole number of MiB");
    expect_err(floe_range_check_part_size(512 * 1024, &err), FLOE_E_RANGE, &err,
               "not a whole number of MiB");
    expect_err(floe_range_check_part_size(8192 * MIB, &err), FLOE_E_RANGE, &err,
               "8192 MiB is outside");
}

static void test_range_plan_part_size(void **state)
{
    (void)state;
    struct floe_error err = {0};
    uint64_t out = 0;
    assert_int_equal(floe_range_plan_part_size(0, 0, 64 * MIB, &out, &err), FLOE_OK);
    assert_int_equal(out, 64 * MIB);
    assert_int_equal(floe_range_plan_part_size(10000 * MIB, MIB, 0, &out, &err), FLOE_OK);
    assert_int_equal(out, MIB); /* exactly 10,000 parts */
    assert_int_equal(floe_range_plan_part_size(10000 * MIB + 1, MIB, 0, &out, &err), FLOE_OK);
    assert_int_equal(out, 2 * MIB);
    assert_int_equal(floe_range_plan_part_size((uint64_t)1 << 40, 0, 64 * MIB, &out, &err),
                     FLOE_OK);
    assert_int_equal(out, 128 * MIB); /* 1 TiB / 64 MiB = 16384 parts: raised */
    assert_int_equal(floe_range_plan_part_size(FLOE_ARCHIVE_MAX, MIB, 0, &out, &err), FLOE_OK);
    assert_int_equal(out, FLOE_PART_SIZE_MAX);
    out = 7;
    expect_err(floe_range_plan_part_size(FLOE_ARCHIVE_MAX + 1, MIB, 0, &out, &err), FLOE_E_RANGE,
               &err, "10,000 parts of 4 GiB");
    assert_int_equal(out, 7); /* out untouched on failure */
    expect_err(floe_range_plan_part_size(100, 3 * MIB, 0, &out, &err), FLOE_E_RANGE, &err,
               "not a power of two");
    assert_int_equal(floe_range_part_count(0, MIB), 0);
    assert_int_equal(floe_range_part_count(1, MIB), 1);
    assert_int_equal(floe_range_part_count(2 * MIB, MIB), 2);
    assert_int_equal(floe_range_part_count(2 * MIB + 1, MIB), 3);
}

static void test_range_retrieval(void **state)
{
    (void)state;
    struct floe_error err = {0};
    uint64_t size = 3 * MIB + 5;
    struct floe_byte_range ok[] = {
        {0, MIB - 1}, {MIB, 3 * MIB - 1}, {3 * MIB, size - 1}, {0, size - 1}, {2 * MIB, size - 1}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(floe_range_check_retrieval(ok[i], size, &err), FLOE_OK);
    expect_err(floe_range_check_retrieval((struct floe_byte_range){1, MIB - 1}, size, &err),
               FLOE_E_RANGE, &err, "start 1 is not a multiple of 1 MiB");
    expect_err(floe_range_check_retrieval((struct floe_byte_range){0, MIB}, size, &err),
               FLOE_E_RANGE, &err, "range end 1048576 is neither");
    expect_err(floe_range_check_retrieval((struct floe_byte_range){0, size}, size, &err),
               FLOE_E_RANGE, &err, "runs past the end");
    expect_err(floe_range_check_retrieval((struct floe_byte_range){MIB, MIB - 1}, size, &err),
               FLOE_E_RANGE, &err, "ends before it starts");

    struct floe_byte_range r;
    assert_int_equal(floe_range_parse_retrieval("0-1048575", &r, &err), FLOE_OK);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, MIB - 1);
    const char *bad[] = {
        "",          "-5", "5-", "a-b", "1-2-3", " 1-2", "1 -2", "1-2 ", "99999999999999999999-1",
        "bytes=0-1", NULL};
    for (int i = 0; bad[i]; i++)
        expect_err(floe_range_parse_retrieval(bad[i], &r, &err), FLOE_E_INVALID_ARG, &err,
                   "START-END");
    expect_err(floe_range_parse_retrieval("10-5", &r, &err), FLOE_E_RANGE, &err,
               "ends before it starts");
    expect_err(floe_range_parse_retrieval(NULL, &r, &err), FLOE_E_INVALID_ARG, &err, "START-END");
}

/* Brute force: build the tree as Glacier does, collect every node's leaf span, compare. */
static void test_range_tree_aligned_matches_tree(void **state)
{
    (void)state;
    for (uint64_t n = 1; n <= 40; n++) {
        static uint64_t lo[4096], hi[4096];
        uint64_t cur_lo[64], cur_hi[64];
        size_t nodes = 0, cur = n;
        for (uint64_t k = 0; k < n; k++) {
            cur_lo[k] = k;
            cur_hi[k] = k + 1;
            lo[nodes] = k;
            hi[nodes++] = k + 1;
        }
        while (cur > 1) {
            size_t next = 0;
            for (size_t k = 0; k < cur; k += 2) {
                if (k + 1 < cur) {
                    cur_lo[next] = cur_lo[k];
                    cur_hi[next] = cur_hi[k + 1];
                    lo[nodes] = cur_lo[next];
                    hi[nodes++] = cur_hi[next];
                } else {
                    cur_lo[next] = cur_lo[k];
                    cur_hi[next] = cur_hi[k];
                }
                next++;
            }
            cur = next;
        }
        for (int tail = 0; tail < 2; tail++) {
            uint64_t total = tail ? (n - 1) * MIB + 12345 : n * MIB;
            for (uint64_t a = 0; a < n; a++) {
                for (uint64_t b = a + 1; b <= n; b++) {
                    bool want = false;
                    for (size_t k = 0; k < nodes; k++)
                        if (lo[k] == a && hi[k] == b)
                            want = true;
                    struct floe_byte_range r = {a * MIB, b == n ? total - 1 : b * MIB - 1};
                    if (floe_range_is_tree_aligned(r, total) != want) {
                        fprintf(stderr, "n=%llu leaves [%llu,%llu): want %d\n",
                                (unsigned long long)n, (unsigned long long)a, (unsigned long long)b,
                                want);
                        fail();
                    }
                }
            }
        }
    }
    uint64_t s = 3 * MIB + 5;
    assert_false(floe_range_is_tree_aligned((struct floe_byte_range){1, MIB - 1}, s));
    assert_false(floe_range_is_tree_aligned((struct floe_byte_range){0, MIB}, s));
    assert_false(floe_range_is_tree_aligned((struct floe_byte_range){0, s}, s));
    assert_false(floe_range_is_tree_aligned((struct floe_byte_range){MIB, 3 * MIB - 1}, s));
    assert_true(floe_range_is_tree_aligned((struct floe_byte_range){2 * MIB, s - 1}, s));
    /* the guide's 6.5 MiB example: [2,4) aligned, [1,3) not */
    uint64_t g = 6 * MIB + MIB / 2;
    assert_true(floe_range_is_tree_aligned((struct floe_byte_range){2 * MIB, 4 * MIB - 1}, g));
    assert_false(floe_range_is_tree_aligned((struct floe_byte_range){MIB, 3 * MIB - 1}, g));
}

static void test_range_format_size_near_a_unit(void **state)
{
    (void)state;
    char b[32];
    floe_range_format_size(1048575, b, sizeof(b)); /* never "1024.00 KiB" */
    assert_string_equal(b, "1.00 MiB");
    floe_range_format_size(1073741823, b, sizeof(b));
    assert_string_equal(b, "1.00 GiB");
    floe_range_format_size(1536, b, sizeof(b));
    assert_string_equal(b, "1.50 KiB");
    floe_range_format_size(3 * 1048576, b, sizeof(b));
    assert_string_equal(b, "3 MiB");
}

static void test_range_content_range(void **state)
{
    (void)state;
    struct floe_error err = {0};
    struct floe_byte_range r;
    assert_int_equal(floe_range_parse_content_range("bytes 0-1048575/*", &r, &err), FLOE_OK);
    assert_int_equal(r.first, 0);
    assert_int_equal(r.last, MIB - 1);
    assert_int_equal(floe_range_parse_content_range("bytes 4194304-8388607/9000000", &r, &err),
                     FLOE_OK);
    assert_int_equal(r.first, 4 * MIB);
    const char *bad[] = {"bytes 0-1",    "bytes=0-1/*", "0-1/*", "bytes 0-1/", "bytes -1/*",
                         "bytes 0-1/*x", "bytes 0-x/*", "",      NULL};
    for (int i = 0; bad[i]; i++)
        expect_err(floe_range_parse_content_range(bad[i], &r, &err), FLOE_E_INVALID_ARG, &err,
                   "Invalid Content-Range");
    expect_err(floe_range_parse_content_range("bytes 909994937-909994936/*", &r, &err),
               FLOE_E_RANGE, &err, "Invalid Content-Range: bytes 909994937-909994936/*");
    /* a last byte of 2^64-1 would make the length wrap to 0 */
    expect_err(floe_range_parse_content_range("bytes 0-18446744073709551615/*", &r, &err),
               FLOE_E_RANGE, &err, "Invalid Content-Range");
    assert_int_equal(floe_range_parse_content_range("bytes 0-18446744073709551614/*", &r, &err),
                     FLOE_OK);
    assert_true(floe_range_len(r) == UINT64_MAX);
    expect_err(floe_range_parse_retrieval("0-18446744073709551615", &r, &err), FLOE_E_RANGE, &err,
               "too large");
}

static void test_range_http_range(void **state)
{
    (void)state;
    struct floe_error err = {0};
    struct floe_byte_range r;
    assert_int_equal(floe_range_parse_http_range("bytes=0-1023", 8 * MIB, &r, &err), FLOE_OK);
    assert_int_equal(r.last, 1023);
    assert_int_equal(floe_range_parse_http_range("bytes=100-", 1000, &r, &err), FLOE_OK);
    assert_int_equal(r.first, 100);
    assert_int_equal(r.last, 999);
    assert_int_equal(floe_range_parse_http_range("bytes=0-5000", 1000, &r, &err), FLOE_OK);
    assert_int_equal(r.last, 999); /* clamped */
    assert_int_equal(floe_range_parse_http_range("bytes=-10", 1000, &r, &err), FLOE_OK);
    assert_int_equal(r.first, 990);
    assert_int_equal(floe_range_parse_http_range("bytes=-5000", 1000, &r, &err), FLOE_OK);
    assert_int_equal(r.first, 0);
    expect_err(floe_range_parse_http_range("bytes=8388608-12582911", 8 * MIB, &r, &err),
               FLOE_E_RANGE, &err, "The start of the range is larger than size");
    expect_err(floe_range_parse_http_range("bytes=5-1", 100, &r, &err), FLOE_E_RANGE, &err,
               "ends before it starts");
    const char *bad[] = {"bytes 0-4194303/235812776",
                         "bytes=",
                         "bytes=a-b",
                         "bytes=-0",
                         "bytes=1-2,5-6",
                         "items=0-1",
                         NULL};
    for (int i = 0; bad[i]; i++)
        expect_err(floe_range_parse_http_range(bad[i], 100, &r, &err), FLOE_E_INVALID_ARG, &err,
                   "invalid Range");
}

static void test_range_segments(void **state)
{
    (void)state;
    struct floe_error err = {0};
    assert_int_equal(floe_range_check_segment_size(MIB, &err), FLOE_OK);
    assert_int_equal(floe_range_check_segment_size(64 * MIB, &err), FLOE_OK);
    expect_err(floe_range_check_segment_size(3 * MIB, &err), FLOE_E_RANGE, &err,
               "not a power of two MiB");
    expect_err(floe_range_check_segment_size(0, &err), FLOE_E_RANGE, &err, "segment size 0");
    expect_err(floe_range_check_segment_size(8192 * MIB, &err), FLOE_E_RANGE, &err, "segment");
    uint64_t total = 10 * MIB + 7;
    assert_int_equal(floe_range_segment_count(total, 4 * MIB), 3);
    uint64_t covered = 0;
    for (uint64_t i = 0; i < 3; i++) {
        struct floe_byte_range s = floe_range_segment(total, 4 * MIB, i);
        assert_int_equal(s.first, covered);
        assert_true(floe_range_is_tree_aligned(s, total));
        covered = s.last + 1;
    }
    assert_int_equal(covered, total);
    char buf[160];
    floe_range_describe((struct floe_byte_range){0, MIB - 1}, total, buf, sizeof(buf));
    assert_string_equal(buf, "bytes 0-1048575 (1 MiB; leaves 0-0; tree-hash aligned)");
    floe_range_describe((struct floe_byte_range){MIB, 3 * MIB - 1}, total, buf, sizeof(buf));
    assert_non_null(strstr(buf, "MiB aligned, not tree-hash aligned"));
    floe_range_describe((struct floe_byte_range){5, 9}, total, buf, sizeof(buf));
    assert_non_null(strstr(buf, "not MiB aligned"));
}

static void test_range_sizes(void **state)
{
    (void)state;
    struct floe_error err = {0};
    static const struct {
        const char *s;
        uint64_t v;
    } ok[] = {{"0", 0},           {"4096", 4096},         {"64MiB", 64 * MIB},
              {"64M", 64 * MIB},  {"64m", 64 * MIB},      {"1GiB", (uint64_t)1 << 30},
              {"1G", 1ull << 30}, {"512KiB", 512 * 1024}, {"2TiB", 2ull << 40},
              {"17B", 17},        {"8mb", 8 * MIB}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t v = 1;
        assert_int_equal(floe_range_parse_size(ok[i].s, &v, &err), FLOE_OK);
        assert_int_equal(v, ok[i].v);
    }
    uint64_t v = 99;
    const char *bad_num[] = {"", "-1", "1.5G", "G", " 5", NULL};
    for (int i = 0; bad_num[i]; i++)
        expect_err(floe_range_parse_size(bad_num[i], &v, &err), FLOE_E_INVALID_ARG, &err,
                   "not a whole number");
    const char *bad_unit[] = {"5X", "5MiBs", "5 M", "5Mx", NULL};
    for (int i = 0; bad_unit[i]; i++)
        expect_err(floe_range_parse_size(bad_unit[i], &v, &err), FLOE_E_INVALID_ARG, &err,
                   "unknown unit");
    expect_err(floe_range_parse_size("99999999999T", &v, &err), FLOE_E_RANGE, &err, "too large");
    expect_err(floe_range_parse_size("99999999999999999999", &v, &err), FLOE_E_INVALID_ARG, &err,
               "not a whole number");
    assert_int_equal(v, 99);
    char buf[32];
    floe_range_format_size(17, buf, sizeof(buf));
    assert_string_equal(buf, "17 B");
    floe_range_format_size(64 * MIB, buf, sizeof(buf));
    assert_string_equal(buf, "64 MiB");
    floe_range_format_size(3 * MIB / 2, buf, sizeof(buf));
    assert_string_equal(buf, "1.50 MiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_part_size),
        cmocka_unit_test(test_range_plan_part_size),
        cmocka_unit_test(test_range_retrieval),
        cmocka_unit_test(test_range_tree_aligned_matches_tree),
        cmocka_unit_test(test_range_content_range),
        cmocka_unit_test(test_range_format_size_near_a_unit),
        cmocka_unit_test(test_range_http_range),
        cmocka_unit_test(test_range_segments),
        cmocka_unit_test(test_range_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
