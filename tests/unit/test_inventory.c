/*
 * test_inventory.c - streaming inventory parsers: JSON and CSV (backslash-escaped quotes, \n
 * and \r\n), any chunking, errors with byte offsets, and a generated 1,000,000-archive
 * inventory in each format parsed with flat memory (max RSS grows by < 8 MiB).
 */
#include "t_util.h"

#include "floe/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct seen {
    int n;
    char ids[8][64];
    char descs[8][128];
    uint64_t sizes[8];
    bool tree[8];
    uint64_t sum;
};

static int collect(const struct floe_inventory_archive *a, void *user)
{
    struct seen *s = user;
    if (s->n < 8) {
        snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", a->archive_id);
        snprintf(s->descs[s->n], sizeof(s->descs[0]), "%s", a->description);
        s->sizes[s->n] = a->size;
        s->tree[s->n] = a->has_tree_hash;
    }
    s->n++;
    s->sum += a->size;
    return 0;
}

/* Parses doc fed in pieces of `step` bytes (0 = all at once). */
static int parse(const char *doc, size_t step, enum floe_inventory_format f, struct seen *s,
                 struct floe_inventory_summary *sum, struct floe_error *err)
{
    memset(s, 0, sizeof(*s));
    struct floe_inventory_parser *p = floe_inventory_parser_new(f, collect, s);
    size_t n = strlen(doc), off = 0;
    int rc = FLOE_OK;
    while (off < n && !rc) {
        size_t k = step && step < n - off ? step : n - off;
        rc = floe_inventory_parser_feed(p, doc + off, k, err);
        off += k;
    }
    if (!rc)
        rc = floe_inventory_parser_finish(p, sum, err);
    floe_inventory_parser_destroy(p);
    return rc;
}

static const char *s_json =
    "{\"VaultARN\":\"arn:aws:glacier:us-west-2:012345678901:vaults/examplevault\",\n"
    " \"InventoryDate\":\"2011-12-12T14:19:01Z\",\"Extra\":{\"a\":[1,2,{\"b\":null}]},\n"
    " \"ArchiveList\":[\n"
    "  {\"ArchiveId\":\"DMTmICA2\",\"ArchiveDescription\":\"my \\\"archive\\\" "
    "\\u00e9\\ud83d\\ude00\","
    "\"CreationDate\":\"2012-05-15T17:19:46.700Z\",\"Size\":2140123,"
    "\"SHA256TreeHash\":\"6b9d4cf8697bd3af6aa1b590a0b27b337da5b18988dbcc619a3e608a554a1e62\"},\n"
    "  {\"Size\":1,\"ArchiveId\":\"second\",\"ArchiveDescription\":null,\"Unknown\":[true,false],"
    "\"SHA256TreeHash\":null,\"CreationDate\":\"2012-05-15T17:19:47Z\"}\n"
    " ]}\n";

static void test_inventory_json_any_chunking(void **state)
{
    (void)state;
    size_t steps[] = {0, 1, 2, 3, 7, 64};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        struct seen s;
        struct floe_inventory_summary sum;
        struct floe_error err = {0};
        assert_int_equal(parse(s_json, steps[i], FLOE_INVENTORY_AUTO, &s, &sum, &err), FLOE_OK);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.ids[0], "DMTmICA2");
        assert_string_equal(s.descs[0], "my \"archive\" \xc3\xa9\xf0\x9f\x98\x80");
        assert_int_equal(s.sizes[0], 2140123);
        assert_true(s.tree[0]);
        assert_string_equal(s.ids[1], "second");
        assert_string_equal(s.descs[1], "");
        assert_false(s.tree[1]);
        assert_int_equal(sum.format, FLOE_INVENTORY_JSON);
        assert_int_equal(sum.archives, 2);
        assert_int_equal(sum.total_size_bytes, 2140124);
        assert_string_equal(sum.vault_arn,
                            "arn:aws:glacier:us-west-2:012345678901:vaults/examplevault");
        assert_string_equal(sum.inventory_date, "2011-12-12T14:19:01Z");
    }
}

static void test_inventory_json_empty_and_errors(void **state)
{
    (void)state;
    struct seen s;
    struct floe_inventory_summary sum;
    struct floe_error err = {0};
    assert_int_equal(
        parse("{\"VaultARN\":\"x\",\"ArchiveList\":[]}", 0, FLOE_INVENTORY_JSON, &s, &sum, &err),
        FLOE_OK);
    assert_int_equal(sum.archives, 0);
    struct {
        const char *doc, *msg;
    } bad[] = {
        {"{\"ArchiveList\":[{\"ArchiveId\":\"a\",\"Size\":1}", "ends early"},
        {"{\"ArchiveList\":[{\"ArchiveId\":\"a\",\"Size\":1},]}", "a closing bracket where"},
        {"{\"ArchiveList\":[{\"ArchiveId\":\"a\"}]}", "no whole-number Size"},
        {"{\"ArchiveList\":[{\"Size\":5}]}", "no ArchiveId"},
        {"{\"ArchiveList\":[{\"ArchiveId\":\"a\",\"Size\":-5}]}", "no whole-number Size"},
        {"{\"ArchiveList\":[{\"ArchiveId\":\"a\",\"Size\":1,\"SHA256TreeHash\":\"zz\"}]}",
         "not 64 hex digits"},
        {"{\"ArchiveList\":7}", "ArchiveList is not an array"},
        {"{\"a\":tru}", "unknown literal"},
        {"{\"a\" 1}", "a value where a key"},
        {"{} {}", "data after the end"},
        {"[1]", "an inventory is a JSON object"},
        {"{\"a\":\"\x01\"}", "control character"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        int rc = parse(bad[i].doc, 1, FLOE_INVENTORY_JSON, &s, &sum, &err);
        assert_int_equal(rc, FLOE_E_CORRUPT);
        if (!strstr(err.message, bad[i].msg))
            fail_msg("doc %zu: '%s' lacks '%s'", i, err.message, bad[i].msg);
        assert_non_null(strstr(err.message, "at byte"));
    }
}

static void test_inventory_csv_backslash_quotes_and_crlf(void **state)
{
    (void)state;
    const char *docs[] = {
        "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
        "id1,\"my archive description,1\\\"2\",2012-05-15T17:19:46.700Z,10,"
        "6b9d4cf8697bd3af6aa1b590a0b27b337da5b18988dbcc619a3e608a554a1e62\n"
        "id2,\"back\\\\\"slash\",2012-05-15T17:19:47Z,20,\"6b9d4cf8697bd3af6aa1b590a0b27b337da5b1"
        "8988dbcc619a3e608a554a1e62\"\n"
        "\"id3\",plain,2012-05-15T17:19:48Z,30,\n",
        "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\r\n"
        "id1,\"my archive description,1\\\"2\",2012-05-15T17:19:46.700Z,10,"
        "6b9d4cf8697bd3af6aa1b590a0b27b337da5b18988dbcc619a3e608a554a1e62\r\n"
        "id2,\"back\\\\\"slash\",2012-05-15T17:19:47Z,20,6b9d4cf8697bd3af6aa1b590a0b27b337da5b1"
        "8988dbcc619a3e608a554a1e62\r\n"
        "\"id3\",plain,2012-05-15T17:19:48Z,30,",
    };
    for (size_t d = 0; d < 2; d++) {
        for (size_t step = 0; step < 4; step++) {
            struct seen s;
            struct floe_inventory_summary sum;
            struct floe_error err = {0};
            assert_int_equal(parse(docs[d], step, FLOE_INVENTORY_AUTO, &s, &sum, &err), FLOE_OK);
            assert_int_equal(sum.format, FLOE_INVENTORY_CSV);
            assert_int_equal(s.n, 3);
            assert_string_equal(s.descs[0], "my archive description,1\"2");
            assert_string_equal(s.descs[1], "back\\\"slash");
            assert_string_equal(s.ids[2], "id3");
            assert_false(s.tree[2]);
            assert_true(s.tree[1]);
            assert_int_equal(sum.total_size_bytes, 60);
        }
    }
}

#define H "6b9d4cf8697bd3af6aa1b590a0b27b337da5b18988dbcc619a3e608a554a1e62"

/* Glacier does not escape a backslash: a description ending in one is served as "end\", which
 * reads like an escaped quote; the reader must find the real end of the field. */
static void test_inventory_csv_description_ending_in_backslash(void **state)
{
    (void)state;
    const char *docs[] = {
        /* as floe-vault writes it (only the description quoted), \n and \r\n, last row too */
        "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
        "id1,\"end\\\",2012-05-15T17:19:46.700Z,10," H "\n"
        "id2,\"mid \\\" quote\\\",2012-05-15T17:19:47Z,20," H "\r\n"
        "id3,\"x\\\",2012-05-15T17:19:48Z,30," H "",
        /* every field quoted */
        "\"ArchiveId\",\"ArchiveDescription\",\"CreationDate\",\"Size\",\"SHA256TreeHash\"\n"
        "\"id1\",\"end\\\",\"2012-05-15T17:19:46.700Z\",\"10\",\"" H "\"\n"
        "\"id2\",\"mid \\\" quote\\\",\"2012-05-15T17:19:47Z\",\"20\",\"" H "\"\n"
        "\"id3\",\"x\\\",\"2012-05-15T17:19:48Z\",\"30\",\"" H "\"\n",
        /* the description is the last column */
        "ArchiveId,Size,ArchiveDescription\nid1,10,\"end\\\"\nid2,20,\"mid \\\" quote\\\"\n"
        "id3,30,\"x\\\"",
    };
    for (size_t d = 0; d < 3; d++) {
        for (size_t step = 0; step < 4; step++) {
            struct seen s;
            struct floe_inventory_summary sum;
            struct floe_error err = {0};
            int rc = parse(docs[d], step, FLOE_INVENTORY_CSV, &s, &sum, &err);
            if (rc)
                fprintf(stderr, "document %zu, fed %zu bytes at a time: %s\n", d, step,
                        err.message);
            assert_int_equal(rc, FLOE_OK);
            assert_int_equal(s.n, 3);
            assert_string_equal(s.descs[0], "end\\");
            assert_string_equal(s.descs[1], "mid \" quote\\");
            assert_string_equal(s.descs[2], "x\\");
            assert_string_equal(s.ids[2], "id3");
            assert_int_equal(sum.total_size_bytes, 60);
        }
    }
}

static void test_inventory_csv_errors(void **state)
{
    (void)state;
    struct seen s;
    struct floe_inventory_summary sum;
    struct floe_error err = {0};
    assert_int_equal(parse("a,b\n1,2\n", 0, FLOE_INVENTORY_CSV, &s, &sum, &err), FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "does not name ArchiveId and Size"));
    assert_int_equal(parse("ArchiveId,Size\nx,\"1\n", 0, FLOE_INVENTORY_CSV, &s, &sum, &err),
                     FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "inside a quoted field"));
    assert_int_equal(parse("ArchiveId,Size\nx,\"1\"2\n", 0, FLOE_INVENTORY_CSV, &s, &sum, &err),
                     FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "after a closing quote"));
    assert_int_equal(parse("ArchiveId,Size\nx,1,3\n", 0, FLOE_INVENTORY_CSV, &s, &sum, &err),
                     FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "different number of fields"));
    assert_int_equal(parse("ArchiveId,Size\nx,big\n", 0, FLOE_INVENTORY_CSV, &s, &sum, &err),
                     FLOE_E_CORRUPT);
    assert_int_equal(parse("", 0, FLOE_INVENTORY_AUTO, &s, &sum, &err), FLOE_E_CORRUPT);
    assert_int_equal(parse("ArchiveId,Size\n", 0, FLOE_INVENTORY_CSV, &s, &sum, &err), FLOE_OK);
    assert_int_equal(sum.archives, 0);
}

static int stop_at_two(const struct floe_inventory_archive *a, void *user)
{
    (void)a;
    return ++*(int *)user == 2;
}

static void test_inventory_callback_stops(void **state)
{
    (void)state;
    int n = 0;
    struct floe_error err = {0};
    struct floe_inventory_parser *p =
        floe_inventory_parser_new(FLOE_INVENTORY_AUTO, stop_at_two, &n);
    assert_int_equal(floe_inventory_parser_feed(p, s_json, strlen(s_json), &err), FLOE_E_CANCELLED);
    floe_inventory_parser_destroy(p);
    assert_int_equal(n, 2);
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int count_only(const struct floe_inventory_archive *a, void *user)
{
    (void)a;
    (*(uint64_t *)user)++;
    return 0;
}

/* Generates and feeds a million-archive inventory 1,000 archives at a time. */
static void million(enum floe_inventory_format f)
{
    const uint64_t total = 1000000;
    uint64_t seen = 0;
    struct floe_error err = {0};
    struct floe_inventory_parser *p =
        floe_inventory_parser_new(FLOE_INVENTORY_AUTO, count_only, &seen);
    size_t cap = 1 << 20;
    char *chunk = malloc(cap);
    long before = max_rss_kib();
    int n = f == FLOE_INVENTORY_JSON
                ? snprintf(chunk, cap,
                           "{\"VaultARN\":\"arn:aws:glacier:us-east-1:123456789012:vaults/big\","
                           "\"InventoryDate\":\"2024-01-01T00:00:00Z\",\"ArchiveList\":[")
                : snprintf(chunk, cap,
                           "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\r\n");
    assert_int_equal(floe_inventory_parser_feed(p, chunk, (size_t)n, &err), FLOE_OK);
    for (uint64_t i = 0; i < total;) {
        size_t len = 0;
        for (int k = 0; k < 1000 && i < total; k++, i++) {
            if (f == FLOE_INVENTORY_JSON)
                len += (size_t)snprintf(
                    chunk + len, cap - len,
                    "%s{\"ArchiveId\":\"archive-%012llu-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
                    "\"ArchiveDescription\":\"file %llu.tar, \\\"quoted\\\"\","
                    "\"CreationDate\":\"2024-01-01T00:00:00.000Z\",\"Size\":%llu,"
                    "\"SHA256TreeHash\":\"6b9d4cf8697bd3af6aa1b590a0b27b337da5b18988dbcc619a3e6"
                    "08a554a1e62\"}",
                    i ? "," : "", (unsigned long long)i, (unsigned long long)i,
                    (unsigned long long)i * 1000);
            else
                len += (size_t)snprintf(
                    chunk + len, cap - len,
                    "archive-%012llu-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx,\"file %llu.tar, \\\"quoted\\\"\","
                    "2024-01-01T00:00:00.000Z,%llu,6b9d4cf8697bd3af6aa1b590a0b27b337da5b18988db"
                    "cc619a3e608a554a1e62\r\n",
                    (unsigned long long)i, (unsigned long long)i, (unsigned long long)i * 1000);
        }
        assert_int_equal(floe_inventory_parser_feed(p, chunk, len, &err), FLOE_OK);
    }
    if (f == FLOE_INVENTORY_JSON)
        assert_int_equal(floe_inventory_parser_feed(p, "]}\n", 3, &err), FLOE_OK);
    struct floe_inventory_summary sum;
    assert_int_equal(floe_inventory_parser_finish(p, &sum, &err), FLOE_OK);
    long after = max_rss_kib();
    floe_inventory_parser_destroy(p);
    free(chunk);
    assert_int_equal(seen, total);
    assert_int_equal(sum.archives, total);
    print_message("%s: 1,000,000 archives, max RSS %ld KiB before, %ld KiB after (+%ld KiB)\n",
                  f == FLOE_INVENTORY_JSON ? "JSON" : "CSV", before, after, after - before);
    assert_true(after - before < 8 * 1024);
}

static void test_inventory_million_json_flat_memory(void **state)
{
    (void)state;
    million(FLOE_INVENTORY_JSON);
}

static void test_inventory_million_csv_flat_memory(void **state)
{
    (void)state;
    million(FLOE_INVENTORY_CSV);
}

int main(void)
{
    t_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inventory_json_any_chunking),
        cmocka_unit_test(test_inventory_json_empty_and_errors),
        cmocka_unit_test(test_inventory_csv_backslash_quotes_and_crlf),
        cmocka_unit_test(test_inventory_csv_description_ending_in_backslash),
        cmocka_unit_test(test_inventory_csv_errors),
        cmocka_unit_test(test_inventory_callback_stops),
        cmocka_unit_test(test_inventory_million_json_flat_memory),
        cmocka_unit_test(test_inventory_million_csv_flat_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
