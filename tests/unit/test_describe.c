/*
 * test_describe.c - the archive descriptions `floe backup` writes: every byte of a path comes
 * back from the description, non-ASCII and '%' are escaped, a path too long for 1,024
 * characters is cut at a whole byte and marked, and the pack and catalog forms parse back;
 * anything else is "other".
 */
#include "t_util.h"

#include "describe.h"

#include <string.h>

static void test_describe_file_round_trip(void **state)
{
    (void)state;
    const char path[] = "/home/\xc3\xa9t\xc3\xa9/a b%c\n\xff.txt";
    char d[FLOE_DESCRIBE_CAP];
    floe_describe_file(path, sizeof(path) - 1, 1700000000123456789LL, d);
    assert_string_equal(d, "floe1 file 1700000000 /home/%C3%A9t%C3%A9/a b%25c%0A%FF.txt");
    for (const char *p = d; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    struct floe_description out;
    floe_describe_parse(d, &out);
    assert_int_equal(out.kind, FLOE_DESC_FILE);
    assert_int_equal(out.mtime_s, 1700000000);
    assert_int_equal(out.path_len, sizeof(path) - 1);
    assert_memory_equal(out.path, path, sizeof(path) - 1);
    assert_false(out.truncated);
}

/* the compressed-file form carries the set, run and the size before compression */
static void test_describe_zfile_round_trip(void **state)
{
    (void)state;
    const char path[] = "/data/big \xff.log";
    char d[FLOE_DESCRIBE_CAP], pre[64];
    floe_describe_zfile(0xabcd0123u, 7, path, sizeof(path) - 1, 1700000000999999999LL,
                        5368709120ULL, d);
    assert_string_equal(d, "floe1 zfile abcd0123-7 1700000000 5368709120 /data/big %FF.log");
    floe_describe_zfile_prefix(0xabcd0123u, pre);
    assert_int_equal(strncmp(d, pre, strlen(pre)), 0);
    struct floe_description out;
    floe_describe_parse(d, &out);
    assert_int_equal(out.kind, FLOE_DESC_ZFILE);
    assert_int_equal(out.set, 0xabcd0123u);
    assert_int_equal(out.run, 7);
    assert_int_equal(out.mtime_s, 1700000000);
    assert_int_equal(out.size, 5368709120ULL);
    assert_int_equal(out.path_len, sizeof(path) - 1);
    assert_memory_equal(out.path, path, sizeof(path) - 1);
    /* anything short of the whole form is another program's */
    const char *bad[] = {"floe1 zfile abcd0123-7 1700000000 /x",
                         "floe1 zfile abcd0123-7 1 -5 /x",
                         "floe1 zfile abcd0123-7 1 5 ",
                         "floe1 zfile abcd0123-7 1 5 %G0",
                         "floe1 zfile zz-7 1 5 /x",
                         "floe1 zfile abcd0123-7"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        floe_describe_parse(bad[i], &out);
        assert_int_equal(out.kind, FLOE_DESC_OTHER);
    }
}

static void test_describe_negative_mtime(void **state)
{
    (void)state;
    char d[FLOE_DESCRIBE_CAP];
    floe_describe_file("/x", 2, -1500000000LL, d); /* 1.5 s before the epoch */
    assert_string_equal(d, "floe1 file -2 /x");
}

static void test_describe_long_path_is_cut_and_marked(void **state)
{
    (void)state;
    char path[3000];
    for (size_t i = 0; i < sizeof(path); i++)
        path[i] = i % 7 == 0 ? '\xe2' : 'a'; /* escapes every 7th byte */
    char d[FLOE_DESCRIBE_CAP];
    floe_describe_file(path, sizeof(path), 5, d);
    size_t n = strlen(d);
    assert_true(n <= 1024);
    assert_true(n >= 1020); /* as much as fits */
    assert_string_equal(d + n - 2, "%~");
    struct floe_description out;
    floe_describe_parse(d, &out);
    assert_int_equal(out.kind, FLOE_DESC_FILE);
    assert_true(out.truncated);
    assert_true(out.path_len > 700);
    assert_memory_equal(out.path, path, out.path_len); /* a prefix of the real path */
    /* a path that fits exactly is not marked */
    char exact[1024 - 13];
    memset(exact, 'b', sizeof(exact));
    floe_describe_file(exact, sizeof(exact), 1, d);
    assert_int_equal(strlen(d), 1024);
    floe_describe_parse(d, &out);
    assert_false(out.truncated);
    assert_int_equal(out.path_len, sizeof(exact));
}

static void test_describe_pack_and_catalog(void **state)
{
    (void)state;
    char d[FLOE_DESCRIBE_CAP], prefix[64];
    floe_describe_pack(0x0123abcdu, 42, 7, d);
    assert_string_equal(d, "floe1 pack 0123abcd-42-7");
    floe_describe_pack_prefix(0x0123abcdu, prefix);
    assert_int_equal(strncmp(d, prefix, strlen(prefix)), 0);
    struct floe_description out;
    floe_describe_parse(d, &out);
    assert_int_equal(out.kind, FLOE_DESC_PACK);
    assert_int_equal(out.set, 0x0123abcdu);
    assert_int_equal(out.run, 42);
    assert_int_equal(out.seq, 7);
    floe_describe_catalog(0xffffffffu, 3, 1790000000, d);
    assert_string_equal(d, "floe1 catalog ffffffff-3 1790000000");
    floe_describe_parse(d, &out);
    assert_int_equal(out.kind, FLOE_DESC_CATALOG);
    assert_int_equal(out.run, 3);
    assert_int_equal(out.unix_time, 1790000000);
}

static void test_describe_others(void **state)
{
    (void)state;
    const char *others[] = {"",
                            "nightly",
                            "floe1 file",
                            "floe1 file 12",
                            "floe1 file x /a",
                            "floe1 file 1 /a%G0",
                            "floe1 file 1 /a%0",
                            "floe1 file 1 /a%00b",
                            "floe1 pack 0123abcd-1",
                            "floe1 pack 0123abcd-1-2 extra",
                            "floe1 catalog 1-2",
                            "mt2 eyJmaWxlbmFtZSI6ImEifQ"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        struct floe_description out;
        floe_describe_parse(others[i], &out);
        assert_int_equal(out.kind, FLOE_DESC_OTHER);
    }
    struct floe_description out;
    floe_describe_parse(NULL, &out);
    assert_int_equal(out.kind, FLOE_DESC_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe_file_round_trip),
        cmocka_unit_test(test_describe_negative_mtime),
        cmocka_unit_test(test_describe_zfile_round_trip),
        cmocka_unit_test(test_describe_long_path_is_cut_and_marked),
        cmocka_unit_test(test_describe_pack_and_catalog),
        cmocka_unit_test(test_describe_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
