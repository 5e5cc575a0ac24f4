/*
 * select_driver.c - runs one select query over stdin with the core modules floe-vault uses
 * (selsql, selrun), for tests/select/test_select_conformance.py:
 *
 *   select_driver [--header use|ignore|none] [--rd C] [--fd C] [--quote C] [--esc C]
 *                 [--comments C] [--ord C] [--ofd C] [--oquote C] [--oesc C] [--always]
 *                 [--pieces N] SQL  < input.csv  > output.csv
 *
 * --pieces N splits the input at record boundaries found by the scanner into N slices run
 * one after the other (each its own run, as floe-vault's workers do), so the result must not
 * depend on N. Exit 0; 1 a synchronous error (parse/bind; "error: MESSAGE" on stderr); 3 a
 * runtime error (the output so far on stdout, "runtime: MESSAGE" on stderr); 2 usage.
 */
#include "selrun.h"
#include "selsql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int out_fn(void *ud, const char *data, size_t len)
{
    (void)ud;
    return fwrite(data, 1, len, stdout) == len ? 0 : 1;
}

static char ch(const char *s)
{
    if (!strcmp(s, "\\n"))
        return '\n';
    if (!strcmp(s, "\\r"))
        return '\r';
    if (!strcmp(s, "\\t"))
        return '\t';
    return s[0];
}

int main(int argc, char **argv)
{
    struct floe_selcsv_in in = {0};
    struct floe_selcsv_out out = {0};
    enum floe_selrun_header hdr = FLOE_SELRUN_HEADER_NONE;
    size_t pieces = 1;
    const char *sql = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--always")) {
            out.quote_fields = FLOE_SELCSV_ALWAYS;
            continue;
        }
        if (a[0] == '-' && a[1] == '-' && !v) {
            fprintf(stderr, "usage: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--header")) {
            hdr = !strcmp(v, "use")      ? FLOE_SELRUN_HEADER_USE
                  : !strcmp(v, "ignore") ? FLOE_SELRUN_HEADER_IGNORE
                                         : FLOE_SELRUN_HEADER_NONE;
        } else if (!strcmp(a, "--rd")) {
            in.record_delim = ch(v);
        } else if (!strcmp(a, "--fd")) {
            in.field_delim = ch(v);
        } else if (!strcmp(a, "--quote")) {
            in.quote = ch(v);
        } else if (!strcmp(a, "--esc")) {
            in.quote_escape = ch(v);
        } else if (!strcmp(a, "--comments")) {
            in.comments = ch(v);
        } else if (!strcmp(a, "--ord")) {
            out.record_delim = ch(v);
        } else if (!strcmp(a, "--ofd")) {
            out.field_delim = ch(v);
        } else if (!strcmp(a, "--oquote")) {
            out.quote = ch(v);
        } else if (!strcmp(a, "--oesc")) {
            out.quote_escape = ch(v);
        } else if (!strcmp(a, "--pieces")) {
            pieces = strtoull(v, NULL, 10);
        } else {
            sql = a;
            continue;
        }
        i++;
    }
    if (!sql || !pieces) {
        fprintf(stderr, "usage: select_driver [options] SQL < input\n");
        return 2;
    }
    floe_selcsv_in_defaults(&in);
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap);
    size_t k;
    while (data && (k = fread(data + len, 1, cap - len, stdin)) > 0) {
        len += k;
        if (len == cap)
            data = realloc(data, cap *= 2);
    }
    if (!data)
        return 2;
    char msg[600];
    struct floe_selsql_query *q;
    if (floe_selsql_parse(sql, strlen(sql), &q, msg, sizeof(msg))) {
        fprintf(stderr, "error: %s\n", msg);
        free(data);
        return 1;
    }
    size_t start = 0;
    struct floe_selcsv_field *h = NULL;
    size_t nh = 0;
    if (hdr != FLOE_SELRUN_HEADER_NONE && floe_selrun_header(&in, data, len, &start, &h, &nh)) {
        fprintf(stderr, "error: the header record is too long\n");
        return 1;
    }
    int rc = floe_selsql_bind(q, hdr == FLOE_SELRUN_HEADER_USE ? h : NULL,
                              hdr == FLOE_SELRUN_HEADER_USE ? nh : 0, msg, sizeof(msg));
    floe_selrun_header_free(h, nh);
    if (rc) {
        fprintf(stderr, "error: %s\n", msg);
        floe_selsql_free(q);
        free(data);
        return 1;
    }
    int status = 0;
    uint64_t records = 0;
    for (size_t p = 0; p < pieces && !status; p++) {
        /* this slice ends at the first record end at or after its share */
        size_t target = start + (len - start) * (p + 1) / pieces, end = start;
        uint64_t records_next = 0;
        if (p + 1 == pieces) {
            end = len;
        } else {
            struct floe_selcsv_scan_state st = {0};
            end = start;
            while (end < target)
                end += floe_selcsv_scan(&in, &st, data + end, len - end);
            records_next = st.records;
        }
        struct floe_selrun *run =
            floe_selrun_new(q, &in, &out, 1700000000000000, records, out_fn, NULL);
        records += records_next;
        if (floe_selrun_feed(run, data + start, end - start) || floe_selrun_finish(run)) {
            fprintf(stderr, "runtime: %s\n", floe_selrun_error(run));
            status = 3;
        }
        floe_selrun_destroy(run);
        start = end;
    }
    floe_selsql_free(q);
    free(data);
    return status;
}
