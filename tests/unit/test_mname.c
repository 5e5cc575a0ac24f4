/*
 * test_mname.c - migration names (src/engine/migrate/mname.c) and the migration price table
 * (mprices.c): names from floe1, mt2 and plain descriptions; sanitising of traversal, control
 * bytes, invalid UTF-8, over-long components and names, the state directory; suffixes before
 * the extension; creation dates as suffixes; the --prices file and its errors.
 */
#include "t_util.h"

#include "mname.h"
#include "mprices.h"
#include "mtglacier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void expect_name(const char *desc, const char *want, bool want_by_id)
{
    char out[FLOE_MNAME_CAP];
    bool by_id = !want_by_id;
    floe_mname_from_description(desc, "ARCHIVEID", out, &by_id);
    if (strcmp(out, want) != 0)
        fail_msg("description '%s': name '%s', expected '%s'", desc, out, want);
    assert_int_equal(by_id, want_by_id);
}

static void test_mname_from_descriptions(void **state)
{
    (void)state;
    expect_name("floe1 file 1700000000 /home/u/a.txt", "home/u/a.txt", false);
    expect_name("floe1 file 1 /x/%25done%20now", "x/%done now", false);
    expect_name("floe1 pack 0123abcd-7-42", "floe-packs/0123abcd-7-42.pack", false);
    expect_name("floe1 catalog 0123abcd-7 1700000000", "floe-catalogs/0123abcd-7.catalog", false);
    expect_name("photos/2020/x.jpg", "photos/2020/x.jpg", false);
    expect_name("", "ARCHIVEID", true);
    expect_name("/", "ARCHIVEID", true);
    expect_name("../..", "ARCHIVEID", true);
    char mt2[256];
    struct floe_error err = {0};
    assert_int_equal(floe_mtglacier_mt2_encode("docs/r\xc3\xa9sum\xc3\xa9.txt", 1577836800, mt2,
                                               sizeof(mt2), &err),
                     FLOE_OK);
    expect_name(mt2, "docs/r\xc3\xa9sum\xc3\xa9.txt", false);
    expect_name("mt2 !!!not base64", "mt2 !!!not base64", false); /* a plain name then */
}

static void expect_clean(const char *in, const char *want)
{
    char out[FLOE_MNAME_CAP];
    floe_mname_sanitise(in, out);
    if (strcmp(out, want) != 0)
        fail_msg("sanitise '%s': '%s', expected '%s'", in, out, want);
}

static void test_mname_sanitise(void **state)
{
    (void)state;
    expect_clean("../../etc/passwd", "etc/passwd");
    expect_clean("/a//b/./c/", "a/b/c");
    expect_clean("a/../b", "a/b"); /* ".." never climbs: it is dropped */
    expect_clean("tab\there", "tab%09here");
    expect_clean("del\x7f", "del%7F");
    expect_clean("bad\xff\xfe.bin", "bad%FF%FE.bin");
    expect_clean("overlong\xc0\xaf", "overlong%C0%AF");
    expect_clean("surrogate\xed\xa0\x80", "surrogate%ED%A0%80");
    expect_clean("cut\xe2\x82", "cut%E2%82");
    expect_clean("ok\xe2\x82\xac\xf0\x9f\x98\x80", "ok\xe2\x82\xac\xf0\x9f\x98\x80");
    expect_clean(".floe-migrate/x", "_.floe-migrate/x");
    expect_clean("a/.floe-migrate", "a/.floe-migrate"); /* only the top level is floe's */
    /* a component is cut to 255 bytes, never inside a UTF-8 sequence */
    char in[2000], out[FLOE_MNAME_CAP];
    memset(in, 'x', 254);
    memcpy(in + 254, "\xc3\xa9tail", 7);
    floe_mname_sanitise(in, out);
    assert_int_equal(strlen(out), 254);
    /* the name is cut to FLOE_MNAME_MAX at a component boundary */
    size_t n = 0;
    for (int i = 0; i < 7; i++) {
        memset(in + n, 'a' + i, 200);
        n += 200;
        in[n++] = '/';
    }
    in[n] = '\0';
    floe_mname_sanitise(in, out);
    assert_true(strlen(out) <= FLOE_MNAME_MAX);
    assert_int_equal(strlen(out), 4 * 201 - 1);
    /* 1,024 bytes of printable garbage stay a (cut) name, not a crash */
    for (int i = 0; i < 1024; i++)
        in[i] = (char)(33 + (i * 37) % 94);
    in[1024] = '\0';
    floe_mname_sanitise(in, out);
    assert_true(out[0] != '\0' && strlen(out) <= FLOE_MNAME_MAX);
}

static void test_mname_suffix(void **state)
{
    (void)state;
    char out[FLOE_MNAME_CAP], d[32];
    floe_mname_with_suffix("a/b.txt", "S", out);
    assert_string_equal(out, "a/b.S.txt");
    floe_mname_with_suffix("a.d/b", "S", out);
    assert_string_equal(out, "a.d/b.S");
    floe_mname_with_suffix("a/.profile", "S", out);
    assert_string_equal(out, "a/.profile.S");
    floe_mname_with_suffix("x.tar.gz", "S", out);
    assert_string_equal(out, "x.tar.S.gz");
    floe_mname_date_suffix("2026-12-04T08:00:09.123Z", d);
    assert_string_equal(d, "20261204T080009Z");
    floe_mname_date_suffix("garbage", d);
    assert_string_equal(d, "");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_mprices_file(void **state)
{
    (void)state;
    struct floe_mprices p;
    floe_mprices_default(&p);
    assert_string_equal(p.tier[2].name, "Bulk");
    assert_int_equal(floe_mprices_tier("bulk"), 2);
    assert_int_equal(floe_mprices_tier("Glacial"), -1);
    char path[] = "/tmp/floe-test-prices-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "{\"as_of\":\"2027-01-01\",\"retrieval\":{\"Bulk\":{\"per_gb_usd\":1.5}},"
                     "\"s3\":{\"DEEP_ARCHIVE\":{\"per_gb_month_usd\":0.5}}}");
    struct floe_error err = {0};
    assert_int_equal(floe_mprices_load(path, &p, &err), FLOE_OK);
    assert_string_equal(p.as_of, "2027-01-01");
    assert_true(p.tier[2].per_gb_usd == 1.5);
    assert_true(p.tier[1].per_gb_usd == 0.01); /* untouched */
    assert_true(p.s3[4].per_gb_month_usd == 0.5);
    static const char *const bad[][2] = {
        {"[1]", "expected a JSON object"},
        {"{\"cost\":1}", "unknown key cost"},
        {"{\"retrieval\":{\"Glacial\":{}}}", "unknown tier retrieval.Glacial"},
        {"{\"retrieval\":{\"Bulk\":{\"per_gb_usd\":-1}}}", "Bulk.per_gb_usd must be a number"},
        {"{\"s3\":{\"COLD\":{}}}", "unknown storage class s3.COLD"},
        {"{not json", "line 1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(path, bad[i][0]);
        memset(&err, 0, sizeof(err));
        assert_int_equal(floe_mprices_load(path, &p, &err), FLOE_E_INVALID_ARG);
        if (!strstr(err.message, bad[i][1]))
            fail_msg("prices '%s': message '%s' lacks '%s'", bad[i][0], err.message, bad[i][1]);
    }
    unlink(path);
    assert_int_equal(floe_mprices_load(path, &p, &err), FLOE_E_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mname_from_descriptions),
        cmocka_unit_test(test_mname_sanitise),
        cmocka_unit_test(test_mname_suffix),
        cmocka_unit_test(test_mprices_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
