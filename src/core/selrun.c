/*
 * selrun.c - one select query over one slice of CSV input (see selrun.h).
 *
 * DESIGN
 * The reader calls back per record; the callback evaluates it into the output buffer and hands
 * the buffer to the flush callback whenever it passes FLOE_SELRUN_FLUSH_BYTES, so the memory of
 * a run is one record plus about one flush of output, whatever the slice's size. The first
 * error (a runtime error of the query, a record over the limit, a failed flush) stops the run
 * and is kept; the rows of the records before it are still flushed, nothing after it.
 */
#include "selrun.h"

#include "alloc.h"
#include "seleval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct floe_selrun {
    struct floe_selcsv_reader *reader;
    struct floe_seleval *ev;
    struct floe_selcsv_buf out;
    floe_selrun_flush_fn *flush;
    void *ud;
    char *error;
    uint64_t rows, bytes_out;
    uint64_t records_before;
};

struct floe_selrun *floe_selrun_new(const struct floe_selsql_query *q,
                                    const struct floe_selcsv_in *in,
                                    const struct floe_selcsv_out *out, int64_t now_us,
                                    uint64_t records_before, floe_selrun_flush_fn *flush, void *ud)
{
    struct floe_selrun *r = floe_xcalloc(1, sizeof(*r));
    r->records_before = records_before;
    r->reader = floe_selcsv_reader_new(in);
    r->ev = floe_seleval_new(q, out, now_us);
    r->flush = flush;
    r->ud = ud;
    return r;
}

void floe_selrun_destroy(struct floe_selrun *r)
{
    if (!r)
        return;
    floe_selcsv_reader_destroy(r->reader);
    floe_seleval_destroy(r->ev);
    floe_selcsv_buf_free(&r->out);
    free(r->error);
    free(r);
}

void floe_selrun_fail(struct floe_selrun *r, const char *msg)
{
    if (!r->error)
        r->error = floe_xstrdup(msg);
}

const char *floe_selrun_error(const struct floe_selrun *r)
{
    return r->error;
}

bool floe_selrun_at_record_start(const struct floe_selrun *r)
{
    return floe_selcsv_at_record_start(r->reader);
}

void floe_selrun_counts(const struct floe_selrun *r, uint64_t *records, uint64_t *rows,
                        uint64_t *bytes_out)
{
    *records = floe_selcsv_record_no(r->reader);
    *rows = r->rows;
    *bytes_out = r->bytes_out;
}

static int flush(struct floe_selrun *r)
{
    if (!r->out.len)
        return 0;
    if (r->flush(r->ud, r->out.p, r->out.len)) {
        floe_selrun_fail(r, "writing the output failed");
        return -1;
    }
    r->bytes_out += r->out.len;
    r->out.len = 0;
    return 0;
}

static int on_record(void *ud, const struct floe_selcsv_field *f, size_t n)
{
    struct floe_selrun *r = ud;
    char msg[512];
    int rc = floe_seleval_row(r->ev, f, n, r->records_before + floe_selcsv_record_no(r->reader),
                              &r->out, msg, sizeof(msg));
    if (rc < 0) {
        floe_selrun_fail(r, msg);
        return 1;
    }
    r->rows += (uint64_t)rc;
    if (r->out.len >= FLOE_SELRUN_FLUSH_BYTES && flush(r))
        return 1;
    return 0;
}

static int after(struct floe_selrun *r, int rc)
{
    if (rc == -1) {
        char msg[160];
        snprintf(msg, sizeof(msg), "record %llu is longer than %zu bytes (the limit of a record)",
                 (unsigned long long)(r->records_before + floe_selcsv_record_no(r->reader)),
                 FLOE_SELCSV_MAX_RECORD);
        floe_selrun_fail(r, msg);
    }
    return r->error ? -1 : 0;
}

/* After a failure of the query, the rows before the failing record still go out. */
static int fail_flush(struct floe_selrun *r)
{
    if (r->out.len && !r->flush(r->ud, r->out.p, r->out.len))
        r->bytes_out += r->out.len;
    r->out.len = 0;
    return -1;
}

int floe_selrun_feed(struct floe_selrun *r, const char *data, size_t len)
{
    if (r->error)
        return -1;
    if (after(r, floe_selcsv_feed(r->reader, data, len, on_record, r)))
        return fail_flush(r);
    return 0;
}

int floe_selrun_finish(struct floe_selrun *r)
{
    if (r->error)
        return -1;
    if (after(r, floe_selcsv_finish(r->reader, on_record, r)))
        return fail_flush(r);
    return flush(r);
}

struct header_ctx {
    struct floe_selcsv_field *fields;
    size_t n;
};

static int on_header(void *ud, const struct floe_selcsv_field *f, size_t n)
{
    struct header_ctx *h = ud;
    h->fields = floe_xcalloc(n, sizeof(*h->fields));
    for (size_t i = 0; i < n; i++) {
        char *p = floe_xmalloc(f[i].len + 1);
        memcpy(p, f[i].p, f[i].len);
        p[f[i].len] = 0;
        h->fields[i] = (struct floe_selcsv_field){p, f[i].len};
    }
    h->n = n;
    return 1;
}

int floe_selrun_header(const struct floe_selcsv_in *in, const char *data, size_t len, size_t *end,
                       struct floe_selcsv_field **fields, size_t *n)
{
    struct floe_selcsv_reader *rd = floe_selcsv_reader_new(in);
    struct floe_selcsv_scan_state st = {0};
    struct header_ctx h = {0};
    size_t at = 0;
    int rc = 0;
    while (at < len && !h.fields) {
        size_t k = floe_selcsv_scan(in, &st, data + at, len - at);
        rc = floe_selcsv_feed(rd, data + at, k, on_header, &h);
        at += k;
        if (rc == -1)
            break;
    }
    if (!h.fields && rc != -1)
        rc = floe_selcsv_finish(rd, on_header, &h);
    floe_selcsv_reader_destroy(rd);
    if (rc == -1) {
        floe_selrun_header_free(h.fields, h.n);
        return -1;
    }
    *end = at;
    *fields = h.fields;
    *n = h.n;
    return 0;
}

void floe_selrun_header_free(struct floe_selcsv_field *fields, size_t n)
{
    if (!fields)
        return;
    for (size_t i = 0; i < n; i++)
        free((char *)fields[i].p);
    free(fields);
}
