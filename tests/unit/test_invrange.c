/*
 * test_invrange.c - inventories parsed in parallel byte ranges (floe/invrange.h) give exactly
 * the records of the sequential parse, in the same order: hostile JSON descriptions (braces,
 * escaped quotes, backslashes, an escaped `{"ArchiveId":`, unicode escapes), CSV with quoted
 * line breaks, commas, \" and \r\n, records starting exactly at, one before and one after a
 * range boundary, records whose first key is not ArchiveId (parsed again from the confirmed
 * start); a record longer than the overlap, a truncated document and a stopping callback are
 * clear errors. Random documents are seeded (FLOE_TEST_SEED).
 */
#include "t_util.h"

#include "floe/inventory.h"
#include "floe/invrange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string ---- */

struct str {
    char *p;
    size_t n, cap;
};

static void put(struct str *s, const char *t, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        s->cap = (s->n + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    memcpy(s->p + s->n, t, n);
    s->n += n;
    s->p[s->n] = 0;
}

static void puts_(struct str *s, const char *t)
{
    put(s, t, strlen(t));
}

/* ---- records seen, as one string per record ---- */

struct seen {
    struct str all; /* "offset-end|id|desc|date|size|tree\n" per record */
    unsigned n, stop_after;
    uint64_t offs[1024]; /* the first records' offsets */
};

static int record(const struct floe_inventory_archive *a, void *user)
{
    struct seen *s = user;
    char head[128];
    snprintf(head, sizeof(head), "%llu-%llu|", (unsigned long long)a->offset,
             (unsigned long long)a->end);
    puts_(&s->all, head);
    puts_(&s->all, a->archive_id);
    puts_(&s->all, "|");
    puts_(&s->all, a->description);
    puts_(&s->all, "|");
    puts_(&s->all, a->creation_date);
    snprintf(head, sizeof(head), "|%llu|%d%02x\n", (unsigned long long)a->size, a->has_tree_hash,
             a->tree_hash[0]);
    puts_(&s->all, head);
    if (s->n < 1024)
        s->offs[s->n] = a->offset;
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

/* ---- the document as a source ---- */

struct mem {
    const char *doc;
    size_t len;
};

static int read_mem(void *ctx, uint64_t off, uint8_t *buf, size_t cap, size_t *got, uint64_t *total,
                    struct floe_error *err)
{
    (void)err;
    struct mem *m = ctx;
    size_t n = off < m->len ? m->len - (size_t)off : 0;
    if (n > cap)
        n = cap;
    memcpy(buf, m->doc + off, n);
    *got = n;
    *total = m->len;
    return FLOE_OK;
}

static int sequential(const char *doc, size_t len, struct seen *s,
                      struct floe_inventory_summary *sum, struct floe_error *err)
{
    struct floe_inventory_parser *p = floe_inventory_parser_new(FLOE_INVENTORY_AUTO, record, s);
    int rc = floe_inventory_parser_feed(p, doc, len, err);
    if (!rc)
        rc = floe_inventory_parser_finish(p, sum, err);
    floe_inventory_parser_destroy(p);
    return rc;
}

static int ranged(const char *doc, size_t len, uint64_t range, uint64_t overlap, unsigned conc,
                  struct seen *s, struct floe_inventory_summary *sum,
                  struct floe_invrange_stats *st, struct floe_error *err)
{
    struct mem m = {doc, len};
    struct floe_invrange_options o = {.range_size = range, .overlap = overlap, .concurrency = conc};
    return floe_invrange_parse(&o, read_mem, &m, record, s, sum, st, err);
}

/* The ranged parse at range size R equals the sequential one, record for record. */
static unsigned same_as_sequential(const char *doc, size_t len, uint64_t range, unsigned conc)
{
    struct seen a = {0}, b = {0};
    struct floe_inventory_summary sa, sb;
    struct floe_invrange_stats st;
    struct floe_error err = {0};
    assert_int_equal(sequential(doc, len, &a, &sa, &err), FLOE_OK);
    int rc = ranged(doc, len, range, 0, conc, &b, &sb, &st, &err);
    if (rc)
        fail_msg("range %llu: %s", (unsigned long long)range, err.message);
    assert_int_equal(b.n, a.n);
    assert_string_equal(b.all.p ? b.all.p : "", a.all.p ? a.all.p : "");
    assert_int_equal(sb.archives, sa.archives);
    assert_int_equal(sb.total_size_bytes, sa.total_size_bytes);
    assert_int_equal(sb.format, sa.format);
    assert_string_equal(sb.vault_arn, sa.vault_arn);
    assert_string_equal(sb.inventory_date, sa.inventory_date);
    assert_int_equal(st.size, len);
    free(a.all.p);
    free(b.all.p);
    return st.reparsed;
}

/* ---- hostile documents ---- */

static const char *const s_json_bits[] = {
    "{",       "}",         "},{", "]", "[", "\\\"", "\\\\",     "{\\\"ArchiveId\\\":\\\"x\\\"}",
    "\\u007b", "\\u00e9",   ",",   ":", " ", "\\n",  "\\\\\\\"", "a/b",
    "\\/",     "ArchiveId",
};

/* A description's JSON text (without quotes), made of hostile pieces, about want bytes. */
static void json_desc(struct str *s, size_t want)
{
    size_t start = s->n;
    while (s->n - start < want) {
        size_t k = t_rand_below(sizeof(s_json_bits) / sizeof(s_json_bits[0]));
        puts_(s, s_json_bits[k]);
    }
}

static char *gen_json(unsigned n, bool pretty, bool odd_order, size_t *len)
{
    struct str s = {0};
    puts_(&s, "{\"VaultARN\":\"arn:aws:glacier:us-east-1:1:vaults/v{\\\"ArchiveId\\\":}\","
              "\"InventoryDate\":\"2026-01-02T03:04:05Z\",\"ArchiveList\":[");
    for (unsigned i = 0; i < n; i++) {
        char buf[256];
        if (i)
            puts_(&s, pretty ? ",\n  " : ",");
        bool odd = odd_order && t_rand_below(5) == 0;
        if (odd) {
            snprintf(buf, sizeof(buf), "{\"Size\":%u,", i * 7);
            puts_(&s, buf);
        } else {
            puts_(&s, pretty && t_rand_below(2) ? "{ \"ArchiveId\" : " : "{\"ArchiveId\":");
        }
        snprintf(buf, sizeof(buf), "%s\"id-%u-%llx\",\"ArchiveDescription\":\"",
                 odd ? "\"ArchiveId\":" : "", i, (unsigned long long)t_rand());
        puts_(&s, buf);
        json_desc(&s, (size_t)t_rand_below(t_rand_below(8) == 0 ? 1500 : 120));
        snprintf(buf, sizeof(buf),
                 "\",\"CreationDate\":\"2025-06-01T12:00:%02uZ\"%s,\"SHA256TreeHash\":"
                 "\"%064x\"}",
                 i % 60, "", i);
        puts_(&s, buf);
        if (!odd) {
            /* Size after the hash, before the closing brace */
            s.n--;
            snprintf(buf, sizeof(buf), ",\"Size\":%u}", i * 7);
            s.p[s.n] = 0;
            puts_(&s, buf);
        }
    }
    puts_(&s, pretty ? "\n]}\n" : "]}");
    *len = s.n;
    return s.p;
}

static const char *const s_csv_bits[] = {
    ",", "\\\"", "{", "}", "\n", "\r\n", " ", "ab", "\\x", "\"\"", "\\",
};

static char *gen_csv(unsigned n, bool crlf, size_t *len)
{
    struct str s = {0};
    puts_(&s, crlf ? "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\r\n"
                   : "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n");
    for (unsigned i = 0; i < n; i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "id-%u-%llx,\"", i, (unsigned long long)t_rand());
        puts_(&s, buf);
        /* a description holds line breaks or escaped quotes, not both (a field ending in a
         * backslash is read as ending at the next line break: inventory.h) */
        bool breaks = t_rand_below(3) == 0;
        size_t want = (size_t)t_rand_below(t_rand_below(8) == 0 ? 1200 : 80), start = s.n;
        while (s.n - start < want) {
            const char *b = s_csv_bits[t_rand_below(sizeof(s_csv_bits) / sizeof(s_csv_bits[0]))];
            if (strcmp(b, "\"\"") == 0 || (!breaks && (b[0] == '\n' || b[0] == '\r')) ||
                (breaks && (strchr(b, '\\'))))
                continue;
            puts_(&s, b);
        }
        snprintf(buf, sizeof(buf), "\",2025-06-01T12:00:00Z,%u,%064x%s", i * 3, i,
                 crlf ? "\r\n" : "\n");
        puts_(&s, buf);
    }
    *len = s.n;
    return s.p;
}

static const uint64_t s_ranges[] = {256, 257, 300, 511, 1000, 4096, 65536};

static void test_invrange_json_hostile(void **state)
{
    (void)state;
    for (int pretty = 0; pretty < 2; pretty++) {
        size_t len;
        char *doc = gen_json(600, pretty, false, &len);
        for (size_t i = 0; i < sizeof(s_ranges) / sizeof(s_ranges[0]); i++)
            for (unsigned conc = 1; conc <= 3; conc += 2)
                assert_int_equal(same_as_sequential(doc, len, s_ranges[i], conc), 0);
        uint64_t r = FLOE_INVRANGE_MIN_RANGE + t_rand_below(3000);
        same_as_sequential(doc, len, r, 2);
        free(doc);
    }
}

/* Ranges cut exactly at a record's '{', one byte before and one after, for several records. */
static void test_invrange_boundaries(void **state)
{
    (void)state;
    size_t len;
    char *doc = gen_json(200, false, false, &len);
    struct seen a = {0};
    struct floe_inventory_summary sa;
    struct floe_error err = {0};
    assert_int_equal(sequential(doc, len, &a, &sa, &err), FLOE_OK);
    /* at the starts of records 5, 50 and 120 */
    const unsigned at[] = {5, 50, 120};
    for (unsigned i = 0; i < 3; i++) {
        uint64_t off = a.offs[at[i]];
        assert_int_equal(doc[off], '{');
        for (int d = -1; d <= 1; d++)
            if (off + (uint64_t)d >= FLOE_INVRANGE_MIN_RANGE)
                same_as_sequential(doc, len, off + (uint64_t)d, 3);
    }
    free(a.all.p);
    free(doc);
}

/* Records whose first key is not ArchiveId: the guessed start is wrong, the confirmed one
 * is used and the records still come out exactly once, in order. */
static void test_invrange_json_key_order(void **state)
{
    (void)state;
    size_t len;
    char *doc = gen_json(400, true, true, &len);
    unsigned reparsed = same_as_sequential(doc, len, 300, 3);
    print_message("key order: %u ranges parsed again\n", reparsed);
    assert_true(reparsed > 0);
    free(doc);
}

static void test_invrange_csv_hostile(void **state)
{
    (void)state;
    for (int crlf = 0; crlf < 2; crlf++) {
        size_t len;
        char *doc = gen_csv(600, crlf, &len);
        for (size_t i = 0; i < sizeof(s_ranges) / sizeof(s_ranges[0]); i++)
            same_as_sequential(doc, len, s_ranges[i], 3);
        free(doc);
    }
}

static void test_invrange_small_documents(void **state)
{
    (void)state;
    const char *docs[] = {
        "{\"VaultARN\":\"v\",\"InventoryDate\":\"d\",\"ArchiveList\":[]}",
        "{\"ArchiveList\":[{\"ArchiveId\":\"a\",\"Size\":1}],\"InventoryDate\":\"late\"}",
        "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n",
        "ArchiveId,Size\nx,5",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        same_as_sequential(docs[i], strlen(docs[i]), 256, 2);
    /* the list ends in a later range than the one holding InventoryDate's key */
    struct str s = {0};
    puts_(&s, "{\"ArchiveList\":[");
    for (int i = 0; i < 40; i++) {
        char b[96];
        snprintf(b, sizeof(b), "%s{\"ArchiveId\":\"a%d\",\"Size\":%d}", i ? "," : "", i, i);
        puts_(&s, b);
    }
    puts_(&s, "],\"InventoryDate\":\"2026-01-01T00:00:00Z\"}");
    same_as_sequential(s.p, s.n, 256, 2);
    free(s.p);
}

static void expect_error(const char *doc, size_t len, uint64_t range, uint64_t overlap, int status,
                         const char *msg)
{
    struct seen s = {0};
    struct floe_inventory_summary sum;
    struct floe_error err = {0};
    int rc = ranged(doc, len, range, overlap, 3, &s, &sum, NULL, &err);
    if (rc != status || !strstr(err.message, msg))
        fail_msg("range %llu: status %d \"%s\", expected %d \"%s\"", (unsigned long long)range, rc,
                 err.message, status, msg);
    free(s.all.p);
}

static void test_invrange_errors(void **state)
{
    (void)state;
    /* a record of 3,000 bytes with an overlap of 1,024 */
    struct str s = {0};
    puts_(&s, "{\"ArchiveList\":[");
    for (int i = 0; i < 30; i++) {
        char b[96];
        snprintf(b, sizeof(b), "%s{\"ArchiveId\":\"a%d\",\"Size\":%d,\"ArchiveDescription\":\"",
                 i ? "," : "", i, i);
        puts_(&s, b);
        for (int k = 0; k < (i == 17 ? 3000 : 20); k++)
            puts_(&s, "x");
        puts_(&s, "\"}");
    }
    puts_(&s, "]}");
    expect_error(s.p, s.n, 512, 1024, FLOE_E_CORRUPT, "longer than the overlap");
    /* the same document parses with an overlap that covers it */
    same_as_sequential(s.p, s.n, 512, 3);
    /* a CSV row longer than the overlap */
    struct str c = {0};
    puts_(&c, "ArchiveId,ArchiveDescription,Size\n");
    for (int i = 0; i < 30; i++) {
        char b[64];
        snprintf(b, sizeof(b), "a%d,\"", i);
        puts_(&c, b);
        for (int k = 0; k < (i == 12 ? 2000 : 10); k++)
            puts_(&c, k % 50 == 49 ? "\n" : "y");
        puts_(&c, "\",1\n");
    }
    expect_error(c.p, c.n, 256, 512, FLOE_E_CORRUPT, "longer than the overlap");
    same_as_sequential(c.p, c.n, 256, 3);
    /* truncated documents */
    expect_error(s.p, s.n - 2, 512, 0, FLOE_E_CORRUPT, "ends early");
    expect_error(s.p, s.n / 2, 512, 0, FLOE_E_CORRUPT, "malformed");
    expect_error(c.p, c.n - 4, 256, 0, FLOE_E_CORRUPT, "quoted field");
    /* damage in a middle range is found */
    char *bad = strdup(s.p);
    char *at = strstr(bad, "\"a20\"");
    at[0] = '?';
    expect_error(bad, s.n, 512, 0, FLOE_E_CORRUPT, "malformed");
    free(bad);
    expect_error("", 0, 512, 0, FLOE_E_CORRUPT, "empty");
    expect_error(s.p, s.n, 100, 0, FLOE_E_INVALID_ARG, "range size");
    /* the callback stops it */
    struct seen st = {.stop_after = 25};
    struct floe_inventory_summary sum;
    struct floe_error err = {0};
    assert_int_equal(ranged(s.p, s.n, 256, 0, 3, &st, &sum, NULL, &err), FLOE_E_CANCELLED);
    assert_int_equal(st.n, 25);
    free(st.all.p);
    free(s.p);
    free(c.p);
}

/* A file read in ranges (pread) gives what the sequential parse of it gives; a missing file
 * is FLOE_E_IO naming it. */
static void test_invrange_file(void **state)
{
    (void)state;
    size_t len;
    char *doc = gen_json(300, true, false, &len);
    char *path = t_write_temp("inventory.json", doc, len);
    struct seen a = {0}, b = {0};
    struct floe_inventory_summary sa, sb;
    struct floe_invrange_stats st;
    struct floe_error err = {0};
    struct floe_invrange_options o = {.range_size = 1000, .concurrency = 2};
    assert_int_equal(sequential(doc, len, &a, &sa, &err), FLOE_OK);
    assert_int_equal(floe_invrange_parse_file(path, &o, record, &b, &sb, &st, &err), FLOE_OK);
    assert_string_equal(b.all.p, a.all.p);
    assert_int_equal(st.size, len);
    assert_int_equal(st.ranges, (len + 999) / 1000);
    assert_true(st.bytes_read > len); /* the overlaps */
    assert_int_equal(
        floe_invrange_parse_file("/nonexistent/inv.json", &o, record, &b, &sb, NULL, &err),
        FLOE_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent/inv.json"));
    free(a.all.p);
    free(b.all.p);
    free(path);
    free(doc);
}

int main(void)
{
    t_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invrange_json_hostile),
        cmocka_unit_test(test_invrange_boundaries),
        cmocka_unit_test(test_invrange_json_key_order),
        cmocka_unit_test(test_invrange_csv_hostile),
        cmocka_unit_test(test_invrange_small_documents),
        cmocka_unit_test(test_invrange_errors),
        cmocka_unit_test(test_invrange_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
