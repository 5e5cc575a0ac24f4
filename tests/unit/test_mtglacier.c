/*
 * test_mtglacier.c - mt-aws-glacier formats: journal records of versions A, B, C and the older
 * space-separated format (every record type, CRLF, UTF-8 and odd names), malformed lines named
 * by their line number (strict and skipping), torn and over-long lines; mt2 descriptions against
 * vectors made independently (Python's json + base64), round trips with UTF-8 names, lenient
 * times, mt1; the import into a catalog (all or nothing, twice harmless).
 */
#include "t_util.h"

#include "mtglacier.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define H64A "1111111111111111111111111111111111111111111111111111111111111111"
#define H64B "ABCDEFabcdef0123456789abcdef0123456789ABCDEF0123456789abcdef0123"

struct got {
    int n;
    struct {
        uint64_t line;
        int version, type;
        int64_t time;
        char archive_id[64];
        uint64_t size;
        bool has_mtime;
        int64_t mtime;
        uint8_t tree0;
        char filename[128];
        char job_id[64];
    } r[32];
    int bad_n;
    uint64_t bad_line[32];
    char bad_why[32][128];
};

static int on_record(const struct floe_mtglacier_record *r, void *user)
{
    struct got *g = user;
    assert_true(g->n < 32);
    g->r[g->n].line = r->line;
    g->r[g->n].version = (int)r->version;
    g->r[g->n].type = (int)r->type;
    g->r[g->n].time = r->time;
    snprintf(g->r[g->n].archive_id, 64, "%s", r->archive_id);
    g->r[g->n].size = r->size_bytes;
    g->r[g->n].has_mtime = r->has_mtime;
    g->r[g->n].mtime = r->mtime;
    g->r[g->n].tree0 = r->tree_hash[0];
    snprintf(g->r[g->n].filename, 128, "%s", r->filename ? r->filename : "(null)");
    snprintf(g->r[g->n].job_id, 64, "%s", r->job_id ? r->job_id : "(null)");
    g->n++;
    return 0;
}

static int on_bad(uint64_t line, const char *why, void *user)
{
    struct got *g = user;
    assert_true(g->bad_n < 32);
    g->bad_line[g->bad_n] = line;
    snprintf(g->bad_why[g->bad_n], 128, "%s", why);
    g->bad_n++;
    return 0;
}

static int parse(const char *text, struct got *g, bool skip, struct floe_error *err)
{
    memset(g, 0, sizeof(*g));
    struct floe_mtglacier_parse p = {
        .on_record = on_record, .on_malformed = skip ? on_bad : NULL, .user = g};
    return floe_mtglacier_parse_buffer(text, strlen(text), "test.journal", &p, err);
}

static void test_mtglacier_versions(void **state)
{
    (void)state;
    static const char journal[] =
        "A\t1355666755\tCREATED\tarchA1\t1024\t1355566755\t" H64A "\tdir/file1.txt\n"
        "A\t1355666756\tCREATED\tsame/name\t7\t1355566000\t" H64B "\tsame/name\n"
        "A\t1355666757\tDELETED\tarchA1\tdir/file1.txt\n"
        "A\t1355666758\tRETRIEVE_JOB\tarchA1\tJOB-A\n"
        "B\t1375000000\tCREATED\tarchB1\t0\tNONE\t" H64A "\tфото/отпуск 2013/IMG 1.jpg\r\n"
        "B\t1375000001\tCREATED\tarchB2\t5\t-315619200\t" H64A "\tname\twith\ttabs\n"
        "B\t1375000002\tDELETED\tarchB1\tфото/отпуск 2013/IMG 1.jpg\n"
        "B\t1375000003\tRETRIEVE_JOB\tarchB2\t\n"
        "C\t1400000000\tCREATED\tarchC1\t18446744073709551\t+42\t" H64A "\t 日本語 .txt \n"
        "C\t1400000001\tDELETED\tarchC1\t 日本語 .txt \n"
        "C\t1400000002\tRETRIEVE_JOB\tarchC1\tJOB-C\n";
    struct got g;
    struct floe_error err = {0};
    int st = parse(journal, &g, false, &err);
    if (st != FLOE_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, FLOE_OK);
    assert_int_equal(g.n, 11);
    /* A */
    assert_int_equal(g.r[0].version, FLOE_MTGLACIER_VA);
    assert_int_equal(g.r[0].type, FLOE_MTGLACIER_CREATED);
    assert_int_equal(g.r[0].line, 1);
    assert_int_equal(g.r[0].time, 1355666755);
    assert_string_equal(g.r[0].archive_id, "archA1");
    assert_int_equal(g.r[0].size, 1024);
    assert_true(g.r[0].has_mtime);
    assert_int_equal(g.r[0].mtime, 1355566755);
    assert_int_equal(g.r[0].tree0, 0x11);
    assert_string_equal(g.r[0].filename, "dir/file1.txt");
    assert_false(g.r[1].has_mtime); /* archive id == file name: version A's "no mtime" */
    assert_int_equal(g.r[1].tree0, 0xab);
    assert_int_equal(g.r[2].type, FLOE_MTGLACIER_DELETED);
    assert_string_equal(g.r[2].filename, "dir/file1.txt");
    assert_int_equal(g.r[3].type, FLOE_MTGLACIER_RETRIEVE_JOB);
    assert_string_equal(g.r[3].job_id, "JOB-A");
    /* B */
    assert_int_equal(g.r[4].version, FLOE_MTGLACIER_VB);
    assert_false(g.r[4].has_mtime); /* NONE */
    assert_int_equal(g.r[4].size, 0);
    assert_string_equal(g.r[4].filename, "фото/отпуск 2013/IMG 1.jpg"); /* CRLF */
    assert_true(g.r[5].has_mtime);
    assert_int_equal(g.r[5].mtime, -315619200);
    assert_string_equal(g.r[5].filename, "name\twith\ttabs");
    assert_string_equal(g.r[7].job_id, "");
    /* C */
    assert_int_equal(g.r[8].version, FLOE_MTGLACIER_VC);
    assert_int_equal(g.r[8].size, 18446744073709551ull);
    assert_int_equal(g.r[8].mtime, 42);
    assert_string_equal(g.r[8].filename, " 日本語 .txt ");
    assert_int_equal(g.r[10].type, FLOE_MTGLACIER_RETRIEVE_JOB);
    assert_int_equal(g.r[10].line, 11);
}

static void test_mtglacier_old_format(void **state)
{
    (void)state;
    static const char journal[] = "1355666755 CREATED archO1 1024 " H64A " dir/old file.txt\n"
                                  "1355666756  DELETED \t archO1   dir/old file.txt\n"
                                  "1355666757 RETRIEVE_JOB archO1\n"
                                  "1355666758\tRETRIEVE_JOB\tarchO2\n";
    struct got g;
    struct floe_error err = {0};
    int st = parse(journal, &g, false, &err);
    if (st != FLOE_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, FLOE_OK);
    assert_int_equal(g.n, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(g.r[i].version, FLOE_MTGLACIER_V0);
    assert_int_equal(g.r[0].type, FLOE_MTGLACIER_CREATED);
    assert_false(g.r[0].has_mtime);
    assert_int_equal(g.r[0].size, 1024);
    assert_string_equal(g.r[0].filename, "dir/old file.txt");
    assert_int_equal(g.r[1].type, FLOE_MTGLACIER_DELETED);
    assert_string_equal(g.r[1].archive_id, "archO1");
    assert_string_equal(g.r[1].filename, "dir/old file.txt");
    assert_int_equal(g.r[2].type, FLOE_MTGLACIER_RETRIEVE_JOB);
    assert_string_equal(g.r[2].job_id, "");
    assert_string_equal(g.r[3].archive_id, "archO2");
}

static void test_mtglacier_malformed_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *why;
    } bad[] = {
        {"A\t1\tCREATED\tid\t12x\t5\t" H64A "\tf", "size that is not a number"},
        {"A\t1\tCREATED\tid\t12\tNONE\t" H64A "\tf", "only versions B and C allow"},
        {"B\t1\tCREATED\tid\t12\tyesterday\t" H64A "\tf", "neither a number nor NONE"},
        {"B\t1\tCREATED\tid\t12\t5\tabc\tf", "not 64 hex digits"},
        {"B\t1\tCREATED\tid\t12\t5\t" H64A, "no file name"},
        {"B\t1\tCREATED\tid\t12\t5\t" H64A "\t/etc/passwd", "absolute file name"},
        {"B\t1\tCREATED\tid\t12\t5\t" H64A "\ta/../../b", "\"..\" part"},
        {"C\t1\tCREATED\t\t12\t5\t" H64A "\tf", "no archive id"},
        {"C\t123456789012345678901\tDELETED\tid\tf", "time that is not a number"},
        {"C\t1\tRENAMED\tid\tf", "unknown record type"},
        {"C\t1\tDELETED\tid", "DELETED has no file name"},
        {"D\t1\tCREATED\tid\t12\t5\t" H64A "\tf", "newer mt-aws-glacier journal version"},
        {"1 CREATED id 12 " H64A, "no file name"},
        {"1 RETRIEVE_JOB id extra", "exactly one archive id"},
        {"1 RETRIEVE_JOB id ", "exactly one archive id"},
        {"# a comment", "unknown format"},
        {"", "is empty"},
        {"B\t1\tCREATED\tid\t12\t5\t" H64A "\tbad\xff name", "not valid UTF-8"},
        {"A\t99999999999999999999\tCREATED\tid\t1\t1\t" H64A "\tf", "time that is not a number"},
        {"B\t1\tCREATED\tid\t18446744073709551616\t5\t" H64A "\tf", "size that is not a number"},
    };
    const size_t nbad = sizeof(bad) / sizeof(bad[0]);
    /* good lines between the bad ones: good on odd lines, bad on even */
    char text[8192];
    size_t len = 0;
    for (size_t i = 0; i < nbad; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "B\t%zu\tRETRIEVE_JOB\tok%zu\tjob\n%s\n", i, i, bad[i].line);
    len += (size_t)snprintf(text + len, sizeof(text) - len, "B\t7\tDELETED\tid\ttorn");
    struct got g;
    struct floe_error err = {0};
    assert_int_equal(parse(text, &g, true, &err), FLOE_OK);
    assert_int_equal(g.n, (int)nbad);
    assert_int_equal(g.bad_n, (int)nbad + 1);
    for (size_t i = 0; i < nbad; i++) {
        assert_int_equal(g.r[i].line, 2 * i + 1);
        assert_int_equal(g.bad_line[i], 2 * i + 2);
        if (!strstr(g.bad_why[i], bad[i].why))
            fail_msg("line %zu: got \"%s\", want \"%s\"", 2 * i + 2, g.bad_why[i], bad[i].why);
    }
    assert_int_equal(g.bad_line[nbad], 2 * nbad + 1);
    assert_non_null(strstr(g.bad_why[nbad], "not terminated by a line end"));

    /* strict: the first malformed line stops, named by number */
    assert_int_equal(parse(text, &g, false, &err), FLOE_E_CORRUPT);
    assert_int_equal(g.n, 1);
    assert_non_null(strstr(err.message, "journal test.journal line 2: CREATED has a size"));

    /* an over-long line is malformed and the next line is still read */
    size_t big = FLOE_MTGLACIER_LINE_MAX + 10;
    char *huge = malloc(big + 64);
    memset(huge, 'x', big);
    snprintf(huge + big, 64, "\nB\t1\tRETRIEVE_JOB\tid\tjob\n");
    assert_int_equal(parse(huge, &g, true, &err), FLOE_OK);
    assert_int_equal(g.bad_n, 1);
    assert_int_equal(g.bad_line[0], 1);
    assert_non_null(strstr(g.bad_why[0], "longer than 1 MiB"));
    assert_int_equal(g.n, 1);
    assert_int_equal(g.r[0].line, 2);
    free(huge);
}

static void test_mtglacier_parse_file(void **state)
{
    (void)state;
    static const char journal[] = "A\t1\tCREATED\tx\t1\t1\t" H64A "\tf\nB\t2\tDELETED\tx\tf\n";
    char *path = t_write_temp("j.journal", journal, strlen(journal));
    struct got g;
    memset(&g, 0, sizeof(g));
    struct floe_mtglacier_parse p = {.on_record = on_record, .user = &g};
    struct floe_error err = {0};
    assert_int_equal(floe_mtglacier_parse_file(path, &p, &err), FLOE_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(p.stats.lines, 2);
    assert_int_equal(p.stats.records[FLOE_MTGLACIER_CREATED], 1);
    assert_int_equal(p.stats.versions[FLOE_MTGLACIER_VB], 1);
    assert_int_equal(floe_mtglacier_parse_file("/nonexistent/j", &p, &err), FLOE_E_IO);
    free(path);
}

static void test_mtglacier_mt2_vectors(void **state)
{
    (void)state;
    /* made with Python: "mt2 " + urlsafe_b64encode(json.dumps({...}, ensure_ascii=False,
     * separators=(',',':')).encode()).rstrip('=') */
    static const struct {
        const char *name;
        int64_t mtime;
        const char *desc;
    } v[] = {
        {"фото/отпуск 2013/IMG 1.jpg", 1383393600,
         "mt2 "
         "eyJmaWxlbmFtZSI6ItGE0L7RgtC-L9C-0YLQv9GD0YHQuiAyMDEzL0lNRyAxLmpwZyIsIm10aW1lIjoiMjAxMz"
         "ExMDJUMTIwMDAwWiJ9"},
        {"dir/\"quoted\"\\back", -315619200,
         "mt2 eyJmaWxlbmFtZSI6ImRpci9cInF1b3RlZFwiXFxiYWNrIiwibXRpbWUiOiIxOTYwMDEwMVQwMDAwMDBaIn0"},
    };
    struct floe_error err = {0};
    for (size_t i = 0; i < 2; i++) {
        char out[FLOE_MTGLACIER_DESC_MAX + 1];
        assert_int_equal(floe_mtglacier_mt2_encode(v[i].name, v[i].mtime, out, sizeof(out), &err),
                         FLOE_OK);
        assert_string_equal(out, v[i].desc);
        char name[FLOE_MTGLACIER_DESC_MAX];
        int64_t t;
        assert_int_equal(floe_mtglacier_mt2_decode(v[i].desc, name, &t, &err), FLOE_OK);
        assert_string_equal(name, v[i].name);
        assert_int_equal(t, v[i].mtime);
    }
    /* another writer: keys reversed, spaces, \u escape, a lenient time with a fraction */
    char name[FLOE_MTGLACIER_DESC_MAX];
    int64_t t;
    assert_int_equal(
        floe_mtglacier_mt2_decode("  mt2  eyJtdGltZSI6ICIyMDEzLTExLTAyIFQgMTI6MDA6MDAuNXoiLCAiZmls"
                                  "ZW5hbWUiOiAiY2FmXHUwMGU5L3gifQ ",
                                  name, &t, &err),
        FLOE_OK);
    assert_string_equal(name, "caf\xc3\xa9/x");
    assert_int_equal(t, 1383393600);
    /* mt1: the same JSON double-encoded */
    assert_int_equal(floe_mtglacier_mt2_decode(
                         "mt1 eyJmaWxlbmFtZSI6ICLDg8KpL3giLCAibXRpbWUiOiAiMjAwMDAxMDFUMDAwMDAwWiJ9",
                         name, &t, &err),
                     FLOE_OK);
    assert_string_equal(name, "\xc3\xa9/x");
    assert_int_equal(t, 946684800);
    /* not ours, and ours but broken */
    assert_int_equal(floe_mtglacier_mt2_decode("", name, &t, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_mtglacier_mt2_decode("floe-pack 1", name, &t, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_mtglacier_mt2_decode("mt2x abc", name, &t, &err), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_mtglacier_mt2_decode("mt2 !!!!", name, &t, &err), FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "not base64url"));
    assert_int_equal(floe_mtglacier_mt2_decode("mt2 e30", name, &t, &err), FLOE_E_CORRUPT); /* {} */
    assert_non_null(strstr(err.message, "filename and mtime"));
    char desc[FLOE_MTGLACIER_DESC_MAX + 1];
    assert_int_equal(floe_mtglacier_mt2_encode("x", 0, desc, sizeof(desc), &err), FLOE_OK);
    /* the same with a broken time: {"filename":"x","mtime":"20131302T000000Z"} (month 13) */
    assert_int_equal(
        floe_mtglacier_mt2_decode("mt2 eyJmaWxlbmFtZSI6IngiLCJtdGltZSI6IjIwMTMxMzAyVDAwMDAwMFoifQ",
                                  name, &t, &err),
        FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "YYYYMMDDTHHMMSSZ"));
}

static void test_mtglacier_mt2_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {
        "a",
        "日本語/ファイル.txt",
        "emoji/\xf0\x9f\x98\x80 smile",
        "tab\tand\nnewline",
        "x/y/z/"
        "very long component name with spaces and symbols !@#$%^&*()",
        "ctrl\x01"
        "char",
        "quote\"back\\slash/end"};
    static const int64_t times[] = {0,           1, -1, 1383393600, -30610224000 /* 1000-01-01 */,
                                    253402300799 /* 9999-12-31T23:59:59 */};
    struct floe_error err = {0};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
            char desc[FLOE_MTGLACIER_DESC_MAX + 1], back[FLOE_MTGLACIER_DESC_MAX];
            int64_t t;
            assert_int_equal(
                floe_mtglacier_mt2_encode(names[i], times[k], desc, sizeof(desc), &err), FLOE_OK);
            assert_int_equal(strncmp(desc, "mt2 ", 4), 0);
            assert_null(strpbrk(desc + 4, "+/= "));
            assert_int_equal(floe_mtglacier_mt2_decode(desc, back, &t, &err), FLOE_OK);
            assert_string_equal(back, names[i]);
            assert_int_equal(t, times[k]);
        }
    char desc[FLOE_MTGLACIER_DESC_MAX + 1];
    assert_int_equal(floe_mtglacier_mt2_encode("x", -30610224001, desc, sizeof(desc), &err),
                     FLOE_E_RANGE);
    assert_int_equal(floe_mtglacier_mt2_encode("x", 253402300800, desc, sizeof(desc), &err),
                     FLOE_E_RANGE);
    assert_int_equal(floe_mtglacier_mt2_encode("/abs", 0, desc, sizeof(desc), &err),
                     FLOE_E_INVALID_ARG);
    assert_int_equal(floe_mtglacier_mt2_encode("bad\xff", 0, desc, sizeof(desc), &err),
                     FLOE_E_INVALID_ARG);
    char longname[800];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    assert_int_equal(floe_mtglacier_mt2_encode(longname, 0, desc, sizeof(desc), &err),
                     FLOE_E_RANGE);
    assert_non_null(strstr(err.message, "allows 1024"));
    char small[8];
    assert_int_equal(floe_mtglacier_mt2_encode("x", 0, small, sizeof(small), &err),
                     FLOE_E_INVALID_ARG);
}

static void test_mtglacier_import(void **state)
{
    (void)state;
    static const char journal[] =
        "1300000000 CREATED old1 10 " H64A " docs/old.txt\n"
        "B\t1400000000\tCREATED\tb1\t20\t1390000000\t" H64A "\tdocs/a.txt\n"
        "B\t1400000001\tCREATED\tb2\t21\t1390000001\t" H64B "\tdocs/a.txt\n"
        "B\t1400000002\tCREATED\tb3\t30\tNONE\t" H64A "\tdocs/gone.txt\n"
        "B\t1400000003\tDELETED\tb3\tdocs/gone.txt\n"
        "B\t1400000004\tRETRIEVE_JOB\tb2\tJOB\n";
    char *jpath = t_write_temp("import.journal", journal, strlen(journal));
    char dbpath[512];
    snprintf(dbpath, sizeof(dbpath), "%s/import.db", t_temp_dir());
    struct floe_catalog_options o = {.no_sync = true};
    struct floe_catalog *c = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_catalog_open(dbpath, &o, &c, &err), FLOE_OK);
    struct floe_mtglacier_import_stats s;
    int st = floe_catalog_import_mtglacier(c, jpath, "/home/me/", &s, &err);
    if (st != FLOE_OK)
        fprintf(stderr, "%s\n", err.message);
    assert_int_equal(st, FLOE_OK);
    assert_int_equal(s.lines, 6);
    assert_int_equal(s.archives_added, 4);
    assert_int_equal(s.archives_deleted, 1);
    assert_int_equal(s.retrieve_jobs, 1);
    struct floe_catalog_file f;
    assert_int_equal(floe_catalog_lookup(c, "/home/me/docs/a.txt", 19, &f, &err), FLOE_OK);
    assert_string_equal(f.archive_id, "b2");
    assert_int_equal(f.size_bytes, 21);
    assert_int_equal(f.mtime_ns, 1390000001000000000LL);
    assert_int_equal(f.tree_hash[0], 0xab);
    assert_int_equal(f.uploaded_at, 1400000001);
    assert_int_equal(floe_catalog_lookup(c, "/home/me/docs/old.txt", 21, &f, &err), FLOE_OK);
    assert_false(f.has_mtime);
    assert_int_equal(floe_catalog_lookup(c, "/home/me/docs/gone.txt", 22, &f, &err),
                     FLOE_E_NOT_FOUND);
    struct floe_catalog_archive a;
    assert_int_equal(floe_catalog_get_archive(c, "b3", &a, &err), FLOE_OK);
    assert_int_equal(a.deleted_at, 1400000003);
    assert_int_equal(floe_catalog_get_archive(c, "b1", &a, &err), FLOE_OK);
    char name[FLOE_MTGLACIER_DESC_MAX];
    int64_t t;
    assert_int_equal(floe_mtglacier_mt2_decode(a.description, name, &t, &err), FLOE_OK);
    assert_string_equal(name, "docs/a.txt");
    assert_int_equal(t, 1390000000);
    /* twice: nothing new */
    assert_int_equal(floe_catalog_import_mtglacier(c, jpath, "/home/me/", &s, &err), FLOE_OK);
    assert_int_equal(s.archives_added, 0);
    assert_int_equal(s.archives_known, 4);

    /* a bad line late in a journal: nothing of it is imported, the line is named */
    static const char broken[] = "B\t1\tCREATED\tnew1\t1\t1\t" H64A "\tn/1\n"
                                 "B\t2\tCREATED\tnew2\t1\t1\t" H64A "\tn/2\n"
                                 "B\t3\tCREATED\tnew3\tone\t1\t" H64A "\tn/3\n";
    char *bpath = t_write_temp("broken.journal", broken, strlen(broken));
    assert_int_equal(floe_catalog_import_mtglacier(c, bpath, "", &s, &err), FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "line 3: CREATED has a size"));
    assert_int_equal(floe_catalog_get_archive(c, "new1", &a, &err), FLOE_E_NOT_FOUND);
    /* a DELETED of an unknown archive */
    static const char orphan[] = "B\t1\tDELETED\tnobody\tx/y\n";
    char *opath = t_write_temp("orphan.journal", orphan, strlen(orphan));
    assert_int_equal(floe_catalog_import_mtglacier(c, opath, "", &s, &err), FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "line 1: DELETED names archive nobody"));
    floe_catalog_close(c);
    free(jpath);
    free(bpath);
    free(opath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mtglacier_versions),
        cmocka_unit_test(test_mtglacier_old_format),
        cmocka_unit_test(test_mtglacier_malformed_lines),
        cmocka_unit_test(test_mtglacier_parse_file),
        cmocka_unit_test(test_mtglacier_mt2_vectors),
        cmocka_unit_test(test_mtglacier_mt2_round_trip),
        cmocka_unit_test(test_mtglacier_import),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
