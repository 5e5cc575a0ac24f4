/*
 * selcsv.c - CSV for select jobs (see selcsv.h, docs/select.md 2).
 *
 * DESIGN
 * One byte-level state machine (step()) decides, for each input byte, the next state and what
 * the byte means (literal, field end, record end, dropped). The reader applies those actions to
 * its record buffer; the boundary scanner runs the same machine and only looks for record ends,
 * so a split point found by the scanner is exactly where the reader would end a record. The
 * reader's hot loop copies runs of plain bytes of an unquoted field without going through
 * step(), and a record that lies whole in the input with no quote, no '\r' and no comment mark
 * (the common case) is split by fast_records() with one class-table pass and handed over in
 * place, without being copied. Quotes open a quoted section only at the start of a field; after the
 * closing quote further bytes are literal up to the next delimiter ("ab"cd reads abcd). With record
 * delimiter '\n', an unquoted '\r' just before it is dropped (CRLF files).
 */
#include "selcsv.h"

#include "alloc.h"

#include <stdlib.h>
#include <string.h>

enum {
    S_RSTART = 0, /* start of a record (a comment may begin here) */
    S_FSTART,     /* start of a field after a field delimiter */
    S_FIELD,      /* inside an unquoted field, or after a closing quote */
    S_QUOTED,     /* inside quotes */
    S_QPEND,      /* inside quotes, saw quote with escape == quote: doubled or closing */
    S_ESC,        /* inside quotes, saw the escape character (escape != quote) */
    S_COMMENT     /* inside a comment line */
};

enum { A_SKIP, A_LIT, A_ESC_LIT, A_FIELD, A_RECORD, A_CR };

void floe_selcsv_in_defaults(struct floe_selcsv_in *in)
{
    if (!in->record_delim)
        in->record_delim = '\n';
    if (!in->field_delim)
        in->field_delim = ',';
    if (!in->quote)
        in->quote = '"';
    if (!in->quote_escape)
        in->quote_escape = in->quote;
}

/* The machine: from state st on byte c, the next state; *act says what c means. */
static int step(const struct floe_selcsv_in *in, int st, char c, int *act)
{
    switch (st) {
    case S_RSTART:
        if (in->comments && c == in->comments) {
            *act = A_SKIP;
            return S_COMMENT;
        }
        /* fall through */
    case S_FSTART:
        if (c == in->quote) {
            *act = A_SKIP;
            return S_QUOTED;
        }
        /* fall through */
    case S_FIELD:
        if (c == in->field_delim) {
            *act = A_FIELD;
            return S_FSTART;
        }
        if (c == in->record_delim) {
            *act = A_RECORD;
            return S_RSTART;
        }
        *act = (c == '\r' && in->record_delim == '\n') ? A_CR : A_LIT;
        return S_FIELD;
    case S_QUOTED:
        if (c == in->quote_escape && in->quote_escape != in->quote) {
            *act = A_SKIP;
            return S_ESC;
        }
        if (c == in->quote) {
            *act = A_SKIP;
            return in->quote_escape == in->quote ? S_QPEND : S_FIELD;
        }
        *act = A_LIT;
        return S_QUOTED;
    case S_QPEND:
        if (c == in->quote) {
            *act = A_LIT;
            return S_QUOTED;
        }
        return step(in, S_FIELD, c, act);
    case S_ESC:
        /* escape + quote is a quote; escape + anything else keeps both bytes */
        *act = c == in->quote ? A_LIT : A_ESC_LIT;
        return S_QUOTED;
    default: /* S_COMMENT */ *act = A_SKIP; return c == in->record_delim ? S_RSTART : S_COMMENT;
    }
}

struct span {
    size_t off, len;
};

struct floe_selcsv_reader {
    struct floe_selcsv_in in;
    int state;
    char *buf; /* the current record's bytes */
    size_t len, cap;
    size_t field_start; /* offset in buf of the current field */
    size_t cr_at;       /* buf offset + 1 of a trailing unquoted '\r', or 0 */
    struct span *spans;
    size_t nspans, capspans;
    struct floe_selcsv_field *fields;
    size_t capfields;
    bool any; /* the record has begun (a byte other than a comment was seen) */
    uint64_t record_no;
    unsigned char cls[256]; /* fast_records(): C_PLAIN, C_FIELD, C_RECORD or C_SLOW per byte */
};

enum { C_PLAIN = 0, C_FIELD, C_RECORD, C_SLOW };

struct floe_selcsv_reader *floe_selcsv_reader_new(const struct floe_selcsv_in *in)
{
    struct floe_selcsv_reader *r = floe_xcalloc(1, sizeof(*r));
    r->in = *in;
    floe_selcsv_in_defaults(&r->in);
    r->cap = 4096;
    r->buf = floe_xmalloc(r->cap);
    r->capspans = 16;
    r->spans = floe_xmalloc(r->capspans * sizeof(*r->spans));
    r->capfields = 16;
    r->fields = floe_xmalloc(r->capfields * sizeof(*r->fields));
    r->cls[(unsigned char)r->in.quote] = C_SLOW;
    r->cls[(unsigned char)r->in.quote_escape] = C_SLOW;
    r->cls['\r'] = C_SLOW;
    r->cls[(unsigned char)r->in.field_delim] = C_FIELD;
    r->cls[(unsigned char)r->in.record_delim] = C_RECORD;
    return r;
}

void floe_selcsv_reader_destroy(struct floe_selcsv_reader *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->spans);
    free(r->fields);
    free(r);
}

uint64_t floe_selcsv_record_no(const struct floe_selcsv_reader *r)
{
    return r->record_no;
}

bool floe_selcsv_at_record_start(const struct floe_selcsv_reader *r)
{
    return r->state == S_RSTART && !r->len && !r->nspans && !r->any;
}

/* Room for n more bytes; false when the record would pass the limit. */
static bool reserve(struct floe_selcsv_reader *r, size_t n)
{
    if (r->len + n > FLOE_SELCSV_MAX_RECORD)
        return false;
    if (r->len + n > r->cap) {
        while (r->len + n > r->cap)
            r->cap *= 2;
        r->buf = floe_xrealloc(r->buf, r->cap);
    }
    return true;
}

static void end_field(struct floe_selcsv_reader *r)
{
    if (r->nspans == r->capspans) {
        r->capspans *= 2;
        r->spans = floe_xrealloc(r->spans, r->capspans * sizeof(*r->spans));
    }
    size_t end = r->len;
    if (r->cr_at && r->cr_at == end)
        end--; /* the '\r' of "\r\n" */
    r->spans[r->nspans++] = (struct span){r->field_start, end - r->field_start};
    r->field_start = r->len;
    r->cr_at = 0;
}

static int end_record(struct floe_selcsv_reader *r, floe_selcsv_record_fn *fn, void *ud)
{
    end_field(r);
    int rc = 0;
    bool empty = r->nspans == 1 && r->spans[0].len == 0 && !r->any;
    if (!empty) {
        if (r->capfields < r->nspans) {
            r->capfields = r->capspans > r->nspans ? r->capspans : r->nspans;
            r->fields = floe_xrealloc(r->fields, r->capfields * sizeof(*r->fields));
        }
        for (size_t i = 0; i < r->nspans; i++)
            r->fields[i] = (struct floe_selcsv_field){r->buf + r->spans[i].off, r->spans[i].len};
        r->record_no++;
        rc = fn(ud, r->fields, r->nspans);
    }
    r->len = r->field_start = r->nspans = 0;
    r->cr_at = 0;
    r->any = false;
    return rc;
}

/*
 * Whole records from data + *pos while each lies entirely in data and has only plain bytes and
 * delimiters (a quote, escape or '\r' byte, a comment mark or an empty line, a record that
 * does not end in data or passes the limit: stop there and let the state machine read it).
 * Fields point into data: no copy. Called only at a record's start with nothing buffered.
 */
static int fast_records(struct floe_selcsv_reader *r, const char *data, size_t len, size_t *pos,
                        floe_selcsv_record_fn *fn, void *ud)
{
    const unsigned char *cls = r->cls;
    const char comments = r->in.comments;
    size_t i = *pos;
    while (i < len && data[i] != r->in.record_delim && !(comments && data[i] == comments)) {
        size_t limit = len - i > FLOE_SELCSV_MAX_RECORD ? i + FLOE_SELCSV_MAX_RECORD : len;
        size_t nf = 0, fstart = i, j = i;
        int c = C_PLAIN;
        for (; j < limit; j++) {
            c = cls[(unsigned char)data[j]];
            if (c == C_PLAIN)
                continue;
            if (c == C_SLOW)
                break;
            if (nf == r->capfields) {
                r->capfields *= 2;
                r->fields = floe_xrealloc(r->fields, r->capfields * sizeof(*r->fields));
            }
            r->fields[nf++] = (struct floe_selcsv_field){data + fstart, j - fstart};
            fstart = j + 1;
            if (c == C_RECORD)
                break;
        }
        if (j == limit || c != C_RECORD)
            break;
        r->record_no++;
        i = j + 1;
        *pos = i;
        int rc = fn(ud, r->fields, nf);
        if (rc)
            return rc;
    }
    *pos = i;
    return 0;
}

int floe_selcsv_feed(struct floe_selcsv_reader *r, const char *data, size_t len,
                     floe_selcsv_record_fn *fn, void *ud)
{
    const struct floe_selcsv_in *in = &r->in;
    size_t i = 0;
    while (i < len) {
        if (r->state == S_RSTART && !r->len && !r->nspans && !r->any) {
            int rc = fast_records(r, data, len, &i, fn, ud);
            if (rc)
                return rc;
            if (i == len)
                break;
        }
        if (r->state == S_FIELD) {
            /* hot path: a run of plain bytes */
            size_t j = i;
            while (j < len && data[j] != in->field_delim && data[j] != in->record_delim &&
                   data[j] != '\r')
                j++;
            if (j > i) {
                if (!reserve(r, j - i)) {
                    r->record_no++;
                    return -1;
                }
                memcpy(r->buf + r->len, data + i, j - i);
                r->len += j - i;
                r->cr_at = 0;
                r->any = true;
                i = j;
                if (i == len)
                    break;
            }
        }
        char c = data[i++];
        int act;
        r->state = step(in, r->state, c, &act);
        switch (act) {
        case A_SKIP:
            if (r->state != S_COMMENT && r->state != S_RSTART)
                r->any = true;
            break;
        case A_ESC_LIT:
        case A_LIT:
        case A_CR:
            if (!reserve(r, 2)) {
                r->record_no++;
                return -1;
            }
            if (act == A_ESC_LIT)
                r->buf[r->len++] = in->quote_escape;
            r->buf[r->len++] = c;
            r->cr_at = act == A_CR ? r->len : 0;
            r->any = true;
            break;
        case A_FIELD:
            r->any = true;
            end_field(r);
            break;
        default: { /* A_RECORD */
            int rc = end_record(r, fn, ud);
            if (rc)
                return rc;
        }
        }
    }
    return 0;
}

int floe_selcsv_finish(struct floe_selcsv_reader *r, floe_selcsv_record_fn *fn, void *ud)
{
    int rc = 0;
    if (r->state == S_ESC) { /* a lone escape at the very end is literal */
        if (!reserve(r, 1)) {
            r->record_no++;
            return -1;
        }
        r->buf[r->len++] = r->in.quote_escape;
    }
    if (r->state != S_COMMENT && (r->any || r->len || r->nspans))
        rc = end_record(r, fn, ud);
    r->len = r->field_start = r->nspans = 0;
    r->cr_at = 0;
    r->any = false;
    r->state = S_RSTART;
    return rc;
}

size_t floe_selcsv_scan(const struct floe_selcsv_in *in, struct floe_selcsv_scan_state *st,
                        const char *data, size_t len)
{
    struct floe_selcsv_in d = *in;
    floe_selcsv_in_defaults(&d);
    if (st->state == S_RSTART && len && data[0] != d.record_delim &&
        !(d.comments && data[0] == d.comments)) {
        /* a record without a quote ends at the next record delimiter (only a quote changes
         * what a delimiter means; the machine below would end it there too) */
        const char *rd = memchr(data, d.record_delim, len);
        if (rd && !memchr(data, d.quote, (size_t)(rd - data))) {
            st->records++;
            return (size_t)(rd - data) + 1;
        }
    }
    for (size_t i = 0; i < len; i++) {
        int act;
        if (st->state == S_FIELD && data[i] != d.record_delim && data[i] != d.field_delim)
            continue; /* plain byte: the state stays S_FIELD */
        int before = st->state;
        st->state = step(&d, st->state, data[i], &act);
        if (act == A_RECORD) {
            st->records += before != S_RSTART; /* the reader skips empty lines */
            return i + 1;
        }
        if (st->state == S_RSTART && act == A_SKIP)
            return i + 1; /* a comment line ended */
    }
    return len;
}

void floe_selcsv_out_defaults(struct floe_selcsv_out *out)
{
    if (!out->record_delim)
        out->record_delim = '\n';
    if (!out->field_delim)
        out->field_delim = ',';
    if (!out->quote)
        out->quote = '"';
    if (!out->quote_escape)
        out->quote_escape = out->quote;
}

void floe_selcsv_buf_reserve(struct floe_selcsv_buf *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n > cap)
            cap *= 2;
        b->p = floe_xrealloc(b->p, cap);
        b->cap = cap;
    }
}

void floe_selcsv_buf_put(struct floe_selcsv_buf *b, const char *p, size_t n)
{
    floe_selcsv_buf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void floe_selcsv_buf_free(struct floe_selcsv_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void floe_selcsv_write_field(struct floe_selcsv_buf *b, const struct floe_selcsv_out *out,
                             bool first, const char *p, size_t n)
{
    if (!first)
        floe_selcsv_buf_put(b, &out->field_delim, 1);
    bool quote = out->quote_fields == FLOE_SELCSV_ALWAYS;
    for (size_t i = 0; i < n && !quote; i++) {
        char c = p[i];
        quote = c == out->field_delim || c == out->record_delim || c == out->quote ||
                c == out->quote_escape || c == '\r' || c == '\n';
    }
    if (!quote) {
        floe_selcsv_buf_put(b, p, n);
        return;
    }
    floe_selcsv_buf_put(b, &out->quote, 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == out->quote) {
            floe_selcsv_buf_put(b, p + run, i - run);
            floe_selcsv_buf_put(b, &out->quote_escape, 1);
            run = i; /* the quote itself goes out with the next run */
        }
    }
    floe_selcsv_buf_put(b, p + run, n - run);
    floe_selcsv_buf_put(b, &out->quote, 1);
}

void floe_selcsv_write_end(struct floe_selcsv_buf *b, const struct floe_selcsv_out *out)
{
    floe_selcsv_buf_put(b, &out->record_delim, 1);
}
