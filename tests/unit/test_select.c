/*
 * test_select.c - the select modules of core (selcsv.c, selsql.c, seleval.c, selrun.c): the
 * CSV reader fed in every slicing agrees with itself, the boundary scanner agrees with the
 * reader, the record limit, output quoting, parse errors with positions, binding, three-valued
 * logic, timestamps. The long query table is tests/select/test_select_conformance.py.
 */
#include "seleval.h"
#include "selrun.h"
#include "selsql.h"

#include "t_util.h"

#include <stdlib.h>
#include <string.h>

struct rec {
    char text[4096]; /* fields joined with '|' and records ended with '/' */
    size_t len;
    int stop_at; /* stop after this many records (0: never) */
    int n;
};

static int on_rec(void *ud, const struct floe_selcsv_field *f, size_t n)
{
    struct rec *r = ud;
    size_t total = n;
    for (size_t i = 0; i < n; i++)
        total += f[i].len;
    if (r->len + total + 1 >= sizeof(r->text)) { /* too big to show: counted only */
        r->n++;
        return r->stop_at && r->n >= r->stop_at;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            r->text[r->len++] = '|';
        memcpy(r->text + r->len, f[i].p, f[i].len);
        r->len += f[i].len;
    }
    r->text[r->len++] = '/';
    r->text[r->len] = 0;
    r->n++;
    return r->stop_at && r->n >= r->stop_at;
}

/* Read all of s with in, fed in pieces of step bytes. */
static void read_all(const struct floe_selcsv_in *in, const char *s, size_t step, struct rec *out)
{
    memset(out, 0, sizeof(*out));
    struct floe_selcsv_reader *r = floe_selcsv_reader_new(in);
    size_t len = strlen(s);
    for (size_t at = 0; at < len; at += step)
        assert_int_equal(
            floe_selcsv_feed(r, s + at, len - at < step ? len - at : step, on_rec, out), 0);
    assert_int_equal(floe_selcsv_finish(r, on_rec, out), 0);
    floe_selcsv_reader_destroy(r);
}

static void test_select_csv_reader_dialects(void **state)
{
    (void)state;
    static const struct {
        struct floe_selcsv_in in;
        const char *input, *want;
    } cases[] = {
        {{0}, "a,b,c\n1,2,3\n", "a|b|c/1|2|3/"},
        {{0}, "a,\"b,\"\"x\"\"\nnl\",c\r\nlast", "a|b,\"x\"\nnl|c/last/"},
        {{0}, "\n\na\n\n", "a/"},
        {{0}, ",\n", "|/"},
        {{0}, "\"\"\n", "/"},
        {{0}, "a\rb\n", "a\rb/"},
        {{0}, "\"ab\"cd,e", "abcd|e/"},
        {{.field_delim = '\t', .record_delim = ';'}, "a\tb;c\t\"d;e\";", "a|b/c|d;e/"},
        {{.quote = '\'', .quote_escape = '\\'}, "'a\\'b','c\\d'\n", "a'b|c\\d/"},
        {{.comments = '#'}, "#skip,\"me\n#x\na,#b\n#\n", "a|#b/"},
        {{.comments = '#'}, "\"#quoted\",x\n", "#quoted|x/"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (size_t step = 1; step <= 5; step++) {
            struct rec got;
            read_all(&cases[c].in, cases[c].input, step, &got);
            if (strcmp(got.text, cases[c].want) != 0)
                fail_msg("case %zu step %zu: got '%s' want '%s'", c, step, got.text, cases[c].want);
        }
    }
}

static void test_select_csv_record_limit(void **state)
{
    (void)state;
    size_t len = FLOE_SELCSV_MAX_RECORD + 10;
    char *big = malloc(len);
    memset(big, 'x', len);
    big[0] = 'a';
    big[1] = '\n';
    struct floe_selcsv_in in = {0};
    struct floe_selcsv_reader *r = floe_selcsv_reader_new(&in);
    struct rec got = {0};
    assert_int_equal(floe_selcsv_feed(r, big, len, on_rec, &got), -1);
    assert_int_equal(got.n, 1);
    assert_int_equal(floe_selcsv_record_no(r), 2);
    floe_selcsv_reader_destroy(r);
    /* exactly the limit is fine */
    r = floe_selcsv_reader_new(&in);
    memset(&got, 0, sizeof(got));
    got.stop_at = 1;
    big[FLOE_SELCSV_MAX_RECORD + 2] = '\n';
    assert_int_equal(floe_selcsv_feed(r, big + 2, FLOE_SELCSV_MAX_RECORD + 1, on_rec, &got), 1);
    floe_selcsv_reader_destroy(r);
    free(big);
}

static void test_select_csv_stop_from_callback(void **state)
{
    (void)state;
    struct floe_selcsv_in in = {0};
    struct floe_selcsv_reader *r = floe_selcsv_reader_new(&in);
    struct rec got = {.stop_at = 2};
    assert_int_equal(floe_selcsv_feed(r, "a\nb\nc\n", 6, on_rec, &got), 1);
    assert_string_equal(got.text, "a/b/");
    floe_selcsv_reader_destroy(r);
}

/* The scanner ends records exactly where the reader does, whatever the input. */
static void test_select_csv_scanner_agrees(void **state)
{
    (void)state;
    t_seed();
    static const char alphabet[] = "ab,\"\n\r#\\;";
    for (int iter = 0; iter < 2000; iter++) {
        char s[64];
        size_t len = (size_t)t_rand_below(60);
        for (size_t i = 0; i < len; i++)
            s[i] = alphabet[t_rand_below(sizeof(alphabet) - 1)];
        s[len] = 0;
        struct floe_selcsv_in in = {0};
        if (iter & 1)
            in.comments = '#';
        if (iter & 2)
            in.quote_escape = '\\';
        struct rec whole;
        read_all(&in, s, 64, &whole);
        /* reader over the scanner's slices, one record each */
        struct rec sliced = {0};
        struct floe_selcsv_scan_state st = {0};
        size_t at = 0;
        while (at < len) {
            size_t k = floe_selcsv_scan(&in, &st, s + at, len - at);
            struct floe_selcsv_reader *r = floe_selcsv_reader_new(&in);
            floe_selcsv_feed(r, s + at, k, on_rec, &sliced);
            floe_selcsv_finish(r, on_rec, &sliced);
            floe_selcsv_reader_destroy(r);
            at += k;
        }
        if (strcmp(whole.text, sliced.text) != 0)
            fail_msg("input '%s': whole '%s' sliced '%s'", s, whole.text, sliced.text);
    }
}

static void test_select_csv_writer_quoting(void **state)
{
    (void)state;
    struct floe_selcsv_out out = {0};
    floe_selcsv_out_defaults(&out);
    struct floe_selcsv_buf b = {0};
    floe_selcsv_write_field(&b, &out, true, "plain", 5);
    floe_selcsv_write_field(&b, &out, false, "a,b", 3);
    floe_selcsv_write_field(&b, &out, false, "say \"hi\"", 8);
    floe_selcsv_write_field(&b, &out, false, "l\nf", 3);
    floe_selcsv_write_field(&b, &out, false, "", 0);
    floe_selcsv_write_end(&b, &out);
    floe_selcsv_buf_put(&b, "", 1);
    assert_string_equal(b.p, "plain,\"a,b\",\"say \"\"hi\"\"\",\"l\nf\",\n");
    floe_selcsv_buf_free(&b);
    out = (struct floe_selcsv_out){.quote_fields = FLOE_SELCSV_ALWAYS,
                                   .quote = '\'',
                                   .quote_escape = '\\',
                                   .field_delim = '\t',
                                   .record_delim = ';'};
    floe_selcsv_write_field(&b, &out, true, "x", 1);
    floe_selcsv_write_field(&b, &out, false, "it's", 4);
    floe_selcsv_write_end(&b, &out);
    floe_selcsv_buf_put(&b, "", 1);
    assert_string_equal(b.p, "'x'\t'it\\'s';");
    floe_selcsv_buf_free(&b);
}

static void test_select_sql_errors_name_position(void **state)
{
    (void)state;
    static const struct {
        const char *sql, *msg;
    } cases[] = {
        {"SELECT * FROM archive LIMIT 1", "LIMIT is not supported by select jobs at position 23"},
        {"select _1 from archive where _1 >",
         "expected an expression, found end of expression at position 34"},
        {"SELECT COUNT(_1) FROM archive",
         "aggregate function COUNT is not supported by select jobs at position 8"},
        {"SELECT s._1, s.x FROM archive s",
         "a query may not mix header names and positions (_1, _2, ...) at position 14"},
        {"SELECT _1 FROM archive WHERE _1 LIKE",
         "expected an expression, found end of expression at position 37"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct floe_selsql_query *q = NULL;
        char msg[512];
        assert_int_equal(
            floe_selsql_parse(cases[i].sql, strlen(cases[i].sql), &q, msg, sizeof(msg)), -1);
        assert_null(q);
        assert_string_equal(msg, cases[i].msg);
    }
    /* a NUL inside and an over-long expression */
    struct floe_selsql_query *q = NULL;
    char msg[512];
    assert_int_equal(floe_selsql_parse("SELECT\0", 7, &q, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "NUL byte in the expression at position 7");
    size_t big = FLOE_SELSQL_MAX_EXPRESSION + 1;
    char *s = malloc(big);
    memset(s, ' ', big);
    assert_int_equal(floe_selsql_parse(s, big, &q, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "longer than 128000 characters"));
    free(s);
}

/* Evaluate "SELECT expr FROM archive" over one record; the output text (without "\n"). */
static void eval1(const char *expr, const char *record, char *out, size_t cap)
{
    char sql[512], msg[512];
    snprintf(sql, sizeof(sql), "SELECT %s FROM archive", expr);
    struct floe_selsql_query *q;
    if (floe_selsql_parse(sql, strlen(sql), &q, msg, sizeof(msg)))
        fail_msg("%s: %s", sql, msg);
    assert_int_equal(floe_selsql_bind(q, NULL, 0, msg, sizeof(msg)), 0);
    struct floe_selcsv_out o = {0};
    struct floe_seleval *ev = floe_seleval_new(q, &o, 0);
    struct floe_selcsv_field f[8];
    size_t n = 0;
    for (const char *p = record;; n++) {
        const char *c = strchr(p, ',');
        f[n] = (struct floe_selcsv_field){p, c ? (size_t)(c - p) : strlen(p)};
        if (!c) {
            n++;
            break;
        }
        p = c + 1;
    }
    struct floe_selcsv_buf b = {0};
    int rc = floe_seleval_row(ev, f, n, 1, &b, msg, sizeof(msg));
    if (rc < 0)
        snprintf(out, cap, "ERROR %.400s", msg);
    else
        snprintf(out, cap, "%.*s", b.len ? (int)b.len - 1 : 0, b.p ? b.p : "");
    floe_selcsv_buf_free(&b);
    floe_seleval_destroy(ev);
    floe_selsql_free(q);
}

static void test_select_eval_three_valued(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *record, *want;
    } cases[] = {
        {"_3 IS NULL, _1 IS NULL, _2 IS NOT NULL", "a,", "true,false,true"},
        {"NULL AND FALSE, NULL AND TRUE, NULL OR TRUE, NULL OR FALSE, NOT NULL", "a",
         "false,,true,,"},
        {"_1 > 5, _1 = 'x', _1 > '5'", "x", ",true,true"},
        {"_1 IN (1, NULL), _1 IN (2, NULL), _1 NOT IN (2, NULL)", "1", "true,,"},
        {"_1 BETWEEN NULL AND 7, _1 BETWEEN 7 AND NULL", "6", ",false"},
        {"_1 < 10, _1 < '10'", "9", "true,false"},
        {"COALESCE(_5, NULL, _1), NULLIF(_1, '9'), NULLIF(_1, 9)", "9", "9,,"},
        {"1 / 2, 1.0 / 4, 5 % -3, -7 / 2, 2 * 3.5, 0.1 + 0.2", "x",
         "0,0.25,2,-3,7,0.30000000000000004"},
        {"'a''b', 'x' || NULL, CHAR_LENGTH('日本語'), UPPER('straße')", "x", "a'b,,3,STRAßE"},
        {"SUBSTRING('hello', 0, 3), SUBSTRING('hello', 4), SUBSTRING('日本語', 2, 1)", "x",
         "he,lo,本"},
        {"TRIM(BOTH 'xy' FROM 'xyhixy'), TRIM('  a  '), TRIM(LEADING '0' FROM '007')", "x",
         "hi,a,7"},
        {"'a_c' LIKE 'a!_c' ESCAPE '!', 'abc' LIKE 'a!_c' ESCAPE '!', 'ÿx' LIKE '_x'", "x",
         "true,false,true"},
        {"CAST(_1 AS INT) + 1", "9223372036854775807",
         "ERROR integer overflow at position 24 (record 1)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[512];
        eval1(cases[i].expr, cases[i].record, got, sizeof(got));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s over '%s': got '%s' want '%s'", cases[i].expr, cases[i].record, got,
                     cases[i].want);
    }
}

static void test_select_timestamps(void **state)
{
    (void)state;
    static const char *const round_trip[] = {"2007T",
                                             "2007-02T",
                                             "2007-02-23T",
                                             "2007-02-23T12:14Z",
                                             "2007-02-23T12:14:33Z",
                                             "2007-02-23T12:14:33.079-08:00",
                                             "1969-12-31T23:59:59.999999Z",
                                             "0001-01-01T",
                                             "9999-12-31T23:59:59+14:00"};
    for (size_t i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++) {
        struct floe_selsql_ts t;
        char out[64];
        assert_int_equal(floe_seleval_ts_parse(round_trip[i], strlen(round_trip[i]), &t), 0);
        floe_seleval_ts_format(&t, out, sizeof(out));
        assert_string_equal(out, round_trip[i]);
    }
    static const char *const bad[] = {"",
                                      "07",
                                      "2007-13T",
                                      "2007-02-30T",
                                      "2007-02-23T25:00Z",
                                      "2007-02-23T12",
                                      "2007-02-23T12:14+1:00",
                                      "2007-02-23x",
                                      "2007-02-23T12:14:33."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct floe_selsql_ts t;
        if (floe_seleval_ts_parse(bad[i], strlen(bad[i]), &t) == 0)
            fail_msg("'%s' parsed", bad[i]);
    }
}

static int collect(void *ud, const char *data, size_t len)
{
    struct floe_selcsv_buf *b = ud;
    floe_selcsv_buf_put(b, data, len);
    return 0;
}

static void test_select_run_header_and_bind(void **state)
{
    (void)state;
    const char *csv = "#c\nId,\"First Name\"\n1,Ann\n2,Bob\n";
    struct floe_selcsv_in in = {.comments = '#'};
    floe_selcsv_in_defaults(&in);
    size_t end, n;
    struct floe_selcsv_field *h;
    assert_int_equal(floe_selrun_header(&in, csv, strlen(csv), &end, &h, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(end, 19);
    const char *sql = "SELECT \"First Name\", id FROM archive WHERE Id > 1";
    struct floe_selsql_query *q;
    char msg[256];
    assert_int_equal(floe_selsql_parse(sql, strlen(sql), &q, msg, sizeof(msg)), 0);
    assert_int_equal(floe_selsql_bind(q, NULL, 0, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "column name 'First Name' at position 8 needs FileHeaderInfo USE"
                             " (without it, columns are _1, _2, ...)");
    assert_int_equal(floe_selsql_bind(q, h, n, msg, sizeof(msg)), 0);
    struct floe_selcsv_buf b = {0};
    struct floe_selcsv_out o = {0};
    struct floe_selrun *r = floe_selrun_new(q, &in, &o, 0, 0, collect, &b);
    assert_int_equal(floe_selrun_feed(r, csv + end, strlen(csv) - end), 0);
    assert_int_equal(floe_selrun_finish(r), 0);
    uint64_t rec, rows, bytes;
    floe_selrun_counts(r, &rec, &rows, &bytes);
    assert_int_equal(rec, 2);
    assert_int_equal(rows, 1);
    assert_int_equal(bytes, 6);
    floe_selcsv_buf_put(&b, "", 1);
    assert_string_equal(b.p, "Bob,2\n");
    floe_selrun_destroy(r);
    floe_selcsv_buf_free(&b);
    floe_selsql_free(q);
    floe_selrun_header_free(h, n);
    /* no record at all */
    assert_int_equal(floe_selrun_header(&in, "#only\n", 6, &end, &h, &n), 0);
    assert_null(h);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_csv_reader_dialects),
        cmocka_unit_test(test_select_csv_record_limit),
        cmocka_unit_test(test_select_csv_stop_from_callback),
        cmocka_unit_test(test_select_csv_scanner_agrees),
        cmocka_unit_test(test_select_csv_writer_quoting),
        cmocka_unit_test(test_select_sql_errors_name_position),
        cmocka_unit_test(test_select_eval_three_valued),
        cmocka_unit_test(test_select_timestamps),
        cmocka_unit_test(test_select_run_header_and_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
