/*
 * fuzz_selectsql.c - the select SQL parser (selsql.h) and, when a query parses, the binder,
 * reader and evaluator (selrun.h) on arbitrary bytes. The input is "SQL\0CSV": the text before
 * the first NUL byte is the expression, the rest the archive (its first byte also picks the
 * header mode and the characters). Promises checked: a refused expression always has a
 * message naming a position; a run's output is the same whether the input is fed whole or a
 * byte at a time.
 */
#include "fuzz.h"

#include "selrun.h"
#include "selsql.h"

#include <stdlib.h>
#include <string.h>

struct sink {
    char *p;
    size_t len;
};

static int sink_fn(void *ud, const char *data, size_t len)
{
    struct sink *s = ud;
    char *p = realloc(s->p, s->len + len + 1);
    if (!p)
        return 1;
    memcpy(p + s->len, data, len);
    s->p = p;
    s->len += len;
    return 0;
}

/* Run q over csv fed in steps of `step` bytes; output into *s, the error (or "") into err. */
static void run(const struct floe_selsql_query *q, const struct floe_selcsv_in *in, const char *csv,
                size_t len, size_t step, struct sink *s, char *err, size_t cap)
{
    struct floe_selcsv_out out = {0};
    struct floe_selrun *r = floe_selrun_new(q, in, &out, 0, 0, sink_fn, s);
    int rc = 0;
    for (size_t at = 0; at < len && !rc; at += step)
        rc = floe_selrun_feed(r, csv + at, len - at < step ? len - at : step);
    if (!rc)
        floe_selrun_finish(r);
    const char *e = floe_selrun_error(r);
    strncpy(err, e ? e : "", cap - 1);
    err[cap - 1] = 0;
    floe_selrun_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t sql_len = nul ? (size_t)(nul - text) : size;
    const char *csv = nul ? nul + 1 : "";
    size_t csv_len = nul ? size - sql_len - 1 : 0;
    char msg[600];
    struct floe_selsql_query *q;
    if (floe_selsql_parse(text, sql_len, &q, msg, sizeof(msg))) {
        if (!strstr(msg, " at position "))
            abort();
        return 0;
    }
    unsigned char mode = csv_len ? (unsigned char)csv[0] : 0;
    struct floe_selcsv_in in = {0};
    if (mode & 1)
        in.field_delim = '\t';
    if (mode & 2)
        in.comments = '#';
    if (mode & 4)
        in.quote_escape = '\\';
    floe_selcsv_in_defaults(&in);
    size_t start = 0;
    struct floe_selcsv_field *h = NULL;
    size_t nh = 0;
    bool use = mode & 8;
    if (use && floe_selrun_header(&in, csv, csv_len, &start, &h, &nh)) {
        floe_selsql_free(q);
        return 0;
    }
    int rc = floe_selsql_bind(q, use ? h : NULL, use ? nh : 0, msg, sizeof(msg));
    floe_selrun_header_free(h, nh);
    if (rc) {
        if (!strstr(msg, " at position "))
            abort();
        floe_selsql_free(q);
        return 0;
    }
    struct sink whole = {0}, bytes = {0};
    char e1[600], e2[600];
    run(q, &in, csv + start, csv_len - start, csv_len + 1, &whole, e1, sizeof(e1));
    run(q, &in, csv + start, csv_len - start, 1, &bytes, e2, sizeof(e2));
    if (strcmp(e1, e2) != 0 ||
        (!e1[0] && (whole.len != bytes.len || (whole.len && memcmp(whole.p, bytes.p, whole.len)))))
        abort();
    free(whole.p);
    free(bytes.p);
    floe_selsql_free(q);
    return 0;
}
