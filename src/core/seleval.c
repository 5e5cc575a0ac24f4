/*
 * seleval.c - the row evaluator of select jobs (see seleval.h, docs/select.md 1.3).
 *
 * DESIGN
 * A tree walk over the bound query for each record. Values borrow their bytes from the record,
 * the query's literals or a per-record scratch arena (blocks that never move, so a string
 * handed out stays valid until the next record); the arena keeps its first block between
 * records, so a steady stream of rows allocates nothing. Every operator first coerces a CSV
 * string operand to the other operand's kind (number, bool, timestamp): a string that does
 * not read as one makes the result NULL. Runtime errors are reported once, with the record
 * number and the node's position, and stop the evaluation of that record.
 */
#include "seleval.h"

#include "alloc.h"
#include "civil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_S)

struct block {
    struct block *next;
    size_t used, cap;
    char data[];
};

struct floe_seleval {
    const struct floe_selsql_query *q;
    struct floe_selcsv_out out;
    int64_t now_us;
    struct block *blocks;
    /* the record being evaluated */
    const struct floe_selcsv_field *f;
    size_t n;
    uint64_t record_no;
    char *msg;
    size_t cap;
    struct floe_selcsv_buf row; /* the output row being built */
    /* Fast paths, planned at the first row (the query is bound by then): a WHERE of the shape
     * CAST(col AS INT) OP n or col OP n (OP a comparison, n an INT literal) is decided on the
     * field's bytes when they are a plain integer (optional sign, 1-18 digits): str_num() reads
     * such a field as that integer, so the general evaluator gives the same answer; any other
     * field goes the general way. A select list of columns only is written straight out. */
    int plan; /* 0 not planned yet, 1 planned */
    bool fast_where, cols_only;
    size_t fw_col;
    enum floe_selsql_op fw_op;
    int64_t fw_lit;
    unsigned char needs_quote[256]; /* cols_only with ASNEEDED: bytes that make a field quoted */
};

typedef struct floe_selsql_value value;

struct floe_seleval *floe_seleval_new(const struct floe_selsql_query *q,
                                      const struct floe_selcsv_out *out, int64_t now_us)
{
    struct floe_seleval *ev = floe_xcalloc(1, sizeof(*ev));
    ev->q = q;
    ev->out = *out;
    floe_selcsv_out_defaults(&ev->out);
    ev->now_us = now_us;
    return ev;
}

void floe_seleval_destroy(struct floe_seleval *ev)
{
    if (!ev)
        return;
    while (ev->blocks) {
        struct block *b = ev->blocks;
        ev->blocks = b->next;
        free(b);
    }
    floe_selcsv_buf_free(&ev->row);
    free(ev);
}

static char *scratch(struct floe_seleval *ev, size_t n)
{
    struct block *b = ev->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        struct block *nb = floe_xmalloc(sizeof(*nb) + cap);
        nb->used = 0;
        nb->cap = cap;
        nb->next = b;
        ev->blocks = b = nb;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

/* Forget the scratch strings of the last record, keeping one block. */
static void scratch_reset(struct floe_seleval *ev)
{
    struct block *b = ev->blocks;
    if (!b)
        return;
    while (b->next) {
        struct block *x = b->next;
        b->next = x->next;
        free(x);
    }
    b->used = 0;
}

static int err(struct floe_seleval *ev, const struct floe_selsql_expr *e, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(ev->msg, ev->cap, "%s at position %zu (record %llu)", what, e->pos,
             (unsigned long long)ev->record_no);
    return -1;
}

static value v_null(void)
{
    return (value){.type = FLOE_SELSQL_NULL};
}

static value v_bool(bool b)
{
    return (value){.type = FLOE_SELSQL_BOOL, .u.b = b};
}

static value v_int(int64_t i)
{
    return (value){.type = FLOE_SELSQL_INT, .u.i = i};
}

static value v_str(const char *p, size_t len)
{
    value v = {.type = FLOE_SELSQL_STRING};
    v.u.s.p = p;
    v.u.s.len = len;
    return v;
}

static bool is_num(const value *v)
{
    return v->type == FLOE_SELSQL_INT || v->type == FLOE_SELSQL_FLOAT ||
           v->type == FLOE_SELSQL_DECIMAL;
}

static double num_f(const value *v)
{
    return v->type == FLOE_SELSQL_INT ? (double)v->u.i : v->u.f;
}

/* s[0..len) as a number: an integer, else a decimal or float; surrounding spaces allowed. */
static bool str_num(const char *s, size_t len, value *out)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    /* fast path: an optional sign and up to 18 digits, no overflow possible */
    if (len && len <= 19) {
        size_t i0 = (*s == '-' || *s == '+') ? 1 : 0, k = i0;
        int64_t v = 0;
        while (k < len && (unsigned)(s[k] - '0') < 10 && k - i0 < 18)
            v = v * 10 + (s[k++] - '0');
        if (k == len && k > i0) {
            *out = v_int(*s == '-' ? -v : v);
            return true;
        }
    }
    char buf[80];
    if (!len || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    size_t i = (buf[0] == '-' || buf[0] == '+') ? 1 : 0;
    if (i == len)
        return false;
    bool digits = strspn(buf + i, "0123456789") == len - i;
    char *end;
    if (digits) {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (!errno) {
            *out = v_int(v);
            return true;
        }
    }
    /* decimal / float: digits, one '.', an exponent; no hex, inf or nan */
    if (strspn(buf + i, "0123456789.eE+-") != len - i ||
        (!isdigit((unsigned char)buf[i]) && buf[i] != '.'))
        return false;
    errno = 0;
    double d = strtod(buf, &end);
    if (*end || end == buf || !isfinite(d))
        return false;
    out->type = strpbrk(buf, "eE") ? FLOE_SELSQL_FLOAT : FLOE_SELSQL_DECIMAL;
    out->u.f = d;
    return true;
}

static bool str_bool(const char *s, size_t len, bool *out)
{
    if (len == 4 && strncasecmp(s, "true", 4) == 0)
        return *out = true, true;
    if (len == 5 && strncasecmp(s, "false", 5) == 0)
        return *out = false, true;
    return false;
}

/* ---- timestamps ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

struct civil {
    int64_t y;
    unsigned mo, d, h, mi, s;
    int64_t us; /* fraction of the second */
};

static void ts_civil(const struct floe_selsql_ts *t, struct civil *c)
{
    int64_t local = t->us + (int64_t)t->tz_min * 60 * US_PER_S;
    int64_t days = floor_div(local, US_PER_DAY);
    int64_t rem = local - days * US_PER_DAY;
    floe_civil_from_days(days, &c->y, &c->mo, &c->d);
    c->h = (unsigned)(rem / (3600 * US_PER_S));
    rem %= 3600 * US_PER_S;
    c->mi = (unsigned)(rem / (60 * US_PER_S));
    rem %= 60 * US_PER_S;
    c->s = (unsigned)(rem / US_PER_S);
    c->us = rem % US_PER_S;
}

static int64_t civil_us(const struct civil *c, int tz_min)
{
    int64_t days = floe_days_from_civil(c->y, c->mo, c->d);
    return days * US_PER_DAY + (int64_t)c->h * 3600 * US_PER_S + (int64_t)c->mi * 60 * US_PER_S +
           (int64_t)c->s * US_PER_S + c->us - (int64_t)tz_min * 60 * US_PER_S;
}

static size_t digits(const char *s, size_t len, size_t at, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (at + i >= len || !isdigit((unsigned char)s[at + i]))
            return 0;
        v = v * 10 + (unsigned)(s[at + i] - '0');
    }
    *out = v;
    return n;
}

int floe_seleval_ts_parse(const char *s, size_t len, struct floe_selsql_ts *out)
{
    struct civil c = {.mo = 1, .d = 1};
    struct floe_selsql_ts t = {0};
    unsigned y;
    size_t i = 0;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    while (len && isspace((unsigned char)*s))
        s++, len--;
    if (!digits(s, len, 0, 4, &y))
        return -1;
    c.y = y;
    i = 4;
    t.prec = FLOE_SELSQL_PREC_YEAR;
    if (i < len && s[i] == '-') {
        if (!digits(s, len, i + 1, 2, &c.mo))
            return -1;
        i += 3;
        t.prec = FLOE_SELSQL_PREC_MONTH;
        if (i < len && s[i] == '-') {
            if (!digits(s, len, i + 1, 2, &c.d))
                return -1;
            i += 3;
            t.prec = FLOE_SELSQL_PREC_DAY;
        }
    }
    int tz = 0;
    if (i < len && s[i] == 'T') {
        i++;
        if (i < len && t.prec == FLOE_SELSQL_PREC_DAY) {
            if (!digits(s, len, i, 2, &c.h) || i + 2 >= len || s[i + 2] != ':' ||
                !digits(s, len, i + 3, 2, &c.mi))
                return -1;
            i += 5;
            t.prec = FLOE_SELSQL_PREC_MINUTE;
            if (i < len && s[i] == ':') {
                if (!digits(s, len, i + 1, 2, &c.s))
                    return -1;
                i += 3;
                t.prec = FLOE_SELSQL_PREC_SECOND;
                if (i < len && s[i] == '.') {
                    i++;
                    size_t nd = 0;
                    int64_t frac = 0;
                    while (i < len && isdigit((unsigned char)s[i])) {
                        if (nd < 6)
                            frac = frac * 10 + (s[i] - '0');
                        nd++;
                        i++;
                    }
                    if (!nd)
                        return -1;
                    for (size_t k = nd; k < 6; k++)
                        frac *= 10;
                    c.us = frac;
                    t.prec = FLOE_SELSQL_PREC_FRACTION;
                    t.frac_digits = (uint8_t)(nd > 6 ? 6 : nd);
                }
            }
            if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
                i++;
            } else if (i < len && (s[i] == '+' || s[i] == '-')) {
                unsigned th, tm;
                if (!digits(s, len, i + 1, 2, &th) || i + 3 >= len || s[i + 3] != ':' ||
                    !digits(s, len, i + 4, 2, &tm) || th > 23 || tm > 59)
                    return -1;
                tz = (int)(th * 60 + tm) * (s[i] == '-' ? -1 : 1);
                i += 6;
            }
        }
    }
    if (i != len)
        return -1;
    if (!floe_civil_valid(c.y, c.mo, c.d) || c.h > 23 || c.mi > 59 || c.s > 59)
        return -1;
    t.tz_min = (int16_t)tz;
    t.us = civil_us(&c, tz);
    *out = t;
    return 0;
}

void floe_seleval_ts_format(const struct floe_selsql_ts *t, char *out, size_t cap)
{
    struct civil c;
    ts_civil(t, &c);
    int n;
    switch (t->prec) {
    case FLOE_SELSQL_PREC_YEAR: snprintf(out, cap, "%04lldT", (long long)c.y); return;
    case FLOE_SELSQL_PREC_MONTH: snprintf(out, cap, "%04lld-%02uT", (long long)c.y, c.mo); return;
    case FLOE_SELSQL_PREC_DAY:
        snprintf(out, cap, "%04lld-%02u-%02uT", (long long)c.y, c.mo, c.d);
        return;
    case FLOE_SELSQL_PREC_MINUTE:
        n = snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u", (long long)c.y, c.mo, c.d, c.h, c.mi);
        break;
    case FLOE_SELSQL_PREC_SECOND:
        n = snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02u", (long long)c.y, c.mo, c.d, c.h,
                     c.mi, c.s);
        break;
    default: {
        int64_t f = c.us;
        for (int k = t->frac_digits; k < 6; k++)
            f /= 10;
        n = snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%0*lld", (long long)c.y, c.mo, c.d,
                     c.h, c.mi, c.s, (int)t->frac_digits, (long long)f);
    }
    }
    if (n < 0 || (size_t)n >= cap)
        return;
    if (t->tz_min == 0)
        snprintf(out + n, cap - (size_t)n, "Z");
    else
        snprintf(out + n, cap - (size_t)n, "%c%02d:%02d", t->tz_min < 0 ? '-' : '+',
                 abs(t->tz_min) / 60, abs(t->tz_min) % 60);
}

/* ---- values as text ---- */

/* v as text (NULL: the empty string); the bytes stay valid until the next record. */
static void to_text(struct floe_seleval *ev, const value *v, const char **p, size_t *len)
{
    char tmp[64];
    switch (v->type) {
    case FLOE_SELSQL_STRING:
        *p = v->u.s.p;
        *len = v->u.s.len;
        return;
    case FLOE_SELSQL_NULL:
        *p = "";
        *len = 0;
        return;
    case FLOE_SELSQL_BOOL:
        *p = v->u.b ? "true" : "false";
        *len = strlen(*p);
        return;
    case FLOE_SELSQL_INT: snprintf(tmp, sizeof(tmp), "%lld", (long long)v->u.i); break;
    case FLOE_SELSQL_FLOAT:
    case FLOE_SELSQL_DECIMAL:
        /* an integral value below 2^53 as digits, else the shortest text that reads back as
           the same double */
        if (v->u.f == floor(v->u.f) && fabs(v->u.f) < 9007199254740992.0) {
            snprintf(tmp, sizeof(tmp), "%.0f", v->u.f == 0 ? 0.0 : v->u.f);
            break;
        }
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, v->u.f);
            if (strtod(tmp, NULL) == v->u.f)
                break;
        }
        break;
    default: floe_seleval_ts_format(&v->u.t, tmp, sizeof(tmp));
    }
    *len = strlen(tmp);
    char *s = scratch(ev, *len);
    memcpy(s, tmp, *len);
    *p = s;
}

/* ---- coercion ---- */

/* Read a string operand as the kind of `like` (number, bool, timestamp). false: it does not. */
static bool coerce_to(value *v, const value *like)
{
    if (v->type != FLOE_SELSQL_STRING || like->type == FLOE_SELSQL_STRING ||
        like->type == FLOE_SELSQL_NULL)
        return true;
    if (is_num(like))
        return str_num(v->u.s.p, v->u.s.len, v);
    if (like->type == FLOE_SELSQL_BOOL) {
        bool b;
        if (!str_bool(v->u.s.p, v->u.s.len, &b))
            return false;
        *v = v_bool(b);
        return true;
    }
    struct floe_selsql_ts t;
    if (floe_seleval_ts_parse(v->u.s.p, v->u.s.len, &t))
        return false;
    v->type = FLOE_SELSQL_TIMESTAMP;
    v->u.t = t;
    return true;
}

/* Compare a and b: 0 and *out -1/0/1; 1 when the result is NULL; -1 on an error. */
static int compare(struct floe_seleval *ev, const struct floe_selsql_expr *e, value a, value b,
                   int *out)
{
    if (a.type == FLOE_SELSQL_NULL || b.type == FLOE_SELSQL_NULL)
        return 1;
    if (!coerce_to(&a, &b) || !coerce_to(&b, &a))
        return 1;
    if (is_num(&a) && is_num(&b)) {
        if (a.type == FLOE_SELSQL_INT && b.type == FLOE_SELSQL_INT)
            *out = (a.u.i > b.u.i) - (a.u.i < b.u.i);
        else {
            double x = num_f(&a), y = num_f(&b);
            *out = (x > y) - (x < y);
        }
        return 0;
    }
    if (a.type != b.type)
        return err(ev, e, "cannot compare %s with %s", floe_selsql_type_names[a.type],
                   floe_selsql_type_names[b.type]);
    switch (a.type) {
    case FLOE_SELSQL_STRING: {
        size_t m = a.u.s.len < b.u.s.len ? a.u.s.len : b.u.s.len;
        int c = m ? memcmp(a.u.s.p, b.u.s.p, m) : 0;
        *out = c ? (c > 0) - (c < 0) : (a.u.s.len > b.u.s.len) - (a.u.s.len < b.u.s.len);
        return 0;
    }
    case FLOE_SELSQL_BOOL: *out = (int)a.u.b - (int)b.u.b; return 0;
    default: *out = (a.u.t.us > b.u.t.us) - (a.u.t.us < b.u.t.us); return 0;
    }
}

/* A logical operand: 1 true, 0 false, 2 NULL, -1 error. */
static int truth(struct floe_seleval *ev, const struct floe_selsql_expr *e, const value *v,
                 const char *what)
{
    bool b;
    switch (v->type) {
    case FLOE_SELSQL_NULL: return 2;
    case FLOE_SELSQL_BOOL: return v->u.b;
    case FLOE_SELSQL_STRING: return str_bool(v->u.s.p, v->u.s.len, &b) ? b : 2;
    default: return err(ev, e, "%s needs a boolean, not %s", what, floe_selsql_type_names[v->type]);
    }
}

static int eval(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out);

/* An operand that must be an integer (SUBSTRING's, DATE_ADD's): 0, 1 for NULL, -1 error. */
static int int_arg(struct floe_seleval *ev, const struct floe_selsql_expr *e, int64_t *out)
{
    value v;
    if (eval(ev, e, &v))
        return -1;
    if (v.type == FLOE_SELSQL_NULL)
        return 1;
    if (v.type == FLOE_SELSQL_STRING && !str_num(v.u.s.p, v.u.s.len, &v))
        return 1;
    if (v.type == FLOE_SELSQL_INT) {
        *out = v.u.i;
        return 0;
    }
    if (is_num(&v) && v.u.f == floor(v.u.f) && fabs(v.u.f) < 9.2e18) {
        *out = (int64_t)v.u.f;
        return 0;
    }
    return err(ev, e, "needs an integer, not %s", floe_selsql_type_names[v.type]);
}

/* An operand that must be a timestamp: 0, 1 for NULL (or a string that is not one), -1. */
static int ts_arg(struct floe_seleval *ev, const struct floe_selsql_expr *e,
                  struct floe_selsql_ts *out)
{
    value v;
    if (eval(ev, e, &v))
        return -1;
    if (v.type == FLOE_SELSQL_NULL)
        return 1;
    if (v.type == FLOE_SELSQL_STRING)
        return floe_seleval_ts_parse(v.u.s.p, v.u.s.len, out) ? 1 : 0;
    if (v.type != FLOE_SELSQL_TIMESTAMP)
        return err(ev, e, "needs a timestamp, not %s", floe_selsql_type_names[v.type]);
    *out = v.u.t;
    return 0;
}

/* A string operand (other kinds as text): 0, 1 for NULL, -1. */
static int str_arg(struct floe_seleval *ev, const struct floe_selsql_expr *e, const char **p,
                   size_t *len)
{
    value v;
    if (eval(ev, e, &v))
        return -1;
    if (v.type == FLOE_SELSQL_NULL)
        return 1;
    to_text(ev, &v, p, len);
    return 0;
}

static int arith(struct floe_seleval *ev, const struct floe_selsql_expr *e, value a, value b,
                 value *out)
{
    if (a.type == FLOE_SELSQL_NULL || b.type == FLOE_SELSQL_NULL) {
        *out = v_null();
        return 0;
    }
    if ((a.type == FLOE_SELSQL_STRING && !str_num(a.u.s.p, a.u.s.len, &a)) ||
        (b.type == FLOE_SELSQL_STRING && !str_num(b.u.s.p, b.u.s.len, &b))) {
        *out = v_null();
        return 0;
    }
    if (!is_num(&a) || !is_num(&b))
        return err(ev, e, "arithmetic needs numbers, not %s and %s", floe_selsql_type_names[a.type],
                   floe_selsql_type_names[b.type]);
    if (a.type == FLOE_SELSQL_INT && b.type == FLOE_SELSQL_INT) {
        int64_t r = 0;
        bool of = false;
        switch (e->op) {
        case FLOE_SELSQL_ADD: of = __builtin_add_overflow(a.u.i, b.u.i, &r); break;
        case FLOE_SELSQL_SUB: of = __builtin_sub_overflow(a.u.i, b.u.i, &r); break;
        case FLOE_SELSQL_MUL: of = __builtin_mul_overflow(a.u.i, b.u.i, &r); break;
        default:
            if (b.u.i == 0)
                return err(ev, e, "division by zero");
            if (a.u.i == INT64_MIN && b.u.i == -1)
                of = true;
            else
                r = e->op == FLOE_SELSQL_DIV ? a.u.i / b.u.i : a.u.i % b.u.i;
        }
        if (of)
            return err(ev, e, "integer overflow");
        *out = v_int(r);
        return 0;
    }
    double x = num_f(&a), y = num_f(&b), r;
    switch (e->op) {
    case FLOE_SELSQL_ADD: r = x + y; break;
    case FLOE_SELSQL_SUB: r = x - y; break;
    case FLOE_SELSQL_MUL: r = x * y; break;
    default:
        if (y == 0)
            return err(ev, e, "division by zero");
        r = e->op == FLOE_SELSQL_DIV ? x / y : fmod(x, y);
    }
    if (!isfinite(r))
        return err(ev, e, "numeric overflow");
    bool dec = a.type != FLOE_SELSQL_FLOAT && b.type != FLOE_SELSQL_FLOAT;
    out->type = dec ? FLOE_SELSQL_DECIMAL : FLOE_SELSQL_FLOAT;
    out->u.f = r;
    return 0;
}

/* SQL LIKE on bytes, '_' one UTF-8 character, '%' any run; esc (or -1) quotes the next. */
static bool like(const char *s, size_t sn, const char *p, size_t pn, int esc)
{
    size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn) {
            char c = p[pi];
            if (esc >= 0 && (unsigned char)c == esc && pi + 1 < pn) {
                if (p[pi + 1] == s[si]) {
                    pi += 2;
                    si++;
                    continue;
                }
            } else if (c == '%') {
                star_p = ++pi;
                star_s = si;
                continue;
            } else if (c == '_') {
                si++;
                while (si < sn && ((unsigned char)s[si] & 0xC0) == 0x80)
                    si++;
                pi++;
                continue;
            } else if (c == s[si]) {
                pi++;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return false;
        pi = star_p;
        star_s++;
        while (star_s < sn && ((unsigned char)s[star_s] & 0xC0) == 0x80)
            star_s++;
        si = star_s;
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

static int do_cast(struct floe_seleval *ev, const struct floe_selsql_expr *e, value v, value *out)
{
    enum floe_selsql_type to = e->cast_to;
    const char *tn = floe_selsql_type_names[to];
    if (v.type == FLOE_SELSQL_NULL || v.type == to) {
        *out = v;
        return 0;
    }
    value orig = v; /* for the message */
    switch (to) {
    case FLOE_SELSQL_STRING: {
        const char *p;
        size_t len;
        to_text(ev, &v, &p, &len);
        *out = v_str(p, len);
        return 0;
    }
    case FLOE_SELSQL_BOOL:
        if (v.type == FLOE_SELSQL_STRING && str_bool(v.u.s.p, v.u.s.len, &out->u.b)) {
            out->type = FLOE_SELSQL_BOOL;
            return 0;
        }
        if (is_num(&v)) {
            *out = v_bool(num_f(&v) != 0);
            return 0;
        }
        break;
    case FLOE_SELSQL_INT:
        if (v.type == FLOE_SELSQL_STRING && !str_num(v.u.s.p, v.u.s.len, &v))
            break;
        if (v.type == FLOE_SELSQL_BOOL) {
            *out = v_int(v.u.b);
            return 0;
        }
        if (v.type == FLOE_SELSQL_INT) {
            *out = v;
            return 0;
        }
        if (is_num(&v) && fabs(v.u.f) < 9.2e18) {
            *out = v_int((int64_t)v.u.f); /* truncated toward zero */
            return 0;
        }
        break;
    case FLOE_SELSQL_FLOAT:
    case FLOE_SELSQL_DECIMAL:
        if (v.type == FLOE_SELSQL_STRING && !str_num(v.u.s.p, v.u.s.len, &v))
            break;
        if (v.type == FLOE_SELSQL_BOOL) {
            out->type = to;
            out->u.f = v.u.b;
            return 0;
        }
        if (is_num(&v)) {
            out->u.f = num_f(&v);
            out->type = to;
            return 0;
        }
        break;
    case FLOE_SELSQL_TIMESTAMP:
        if (v.type == FLOE_SELSQL_STRING &&
            floe_seleval_ts_parse(v.u.s.p, v.u.s.len, &out->u.t) == 0) {
            out->type = FLOE_SELSQL_TIMESTAMP;
            return 0;
        }
        break;
    default: break;
    }
    char shown[48];
    if (orig.type == FLOE_SELSQL_STRING)
        snprintf(shown, sizeof(shown), "'%.*s%s'", (int)(orig.u.s.len > 32 ? 32 : orig.u.s.len),
                 orig.u.s.p, orig.u.s.len > 32 ? "..." : "");
    else
        snprintf(shown, sizeof(shown), "a %s", floe_selsql_type_names[orig.type]);
    return err(ev, e, "CAST of %s to %s failed", shown, tn);
}

/* DATE_ADD: months and years move the calendar date (clamped to the month's end). */
static int date_add(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    int64_t q;
    struct floe_selsql_ts t;
    int rc = int_arg(ev, e->kids[0], &q);
    if (rc < 0)
        return -1;
    int rc2 = ts_arg(ev, e->kids[1], &t);
    if (rc2 < 0)
        return -1;
    if (rc || rc2) {
        *out = v_null();
        return 0;
    }
    static const int64_t unit[] = {0, 0, US_PER_DAY, 3600 * US_PER_S, 60 * US_PER_S, US_PER_S};
    if (q > INT64_C(100000000) * 12 || q < -INT64_C(100000000) * 12)
        return err(ev, e, "DATE_ADD quantity %lld is out of range", (long long)q);
    if (e->part <= FLOE_SELSQL_MONTH) {
        struct civil c;
        ts_civil(&t, &c);
        int64_t m = c.y * 12 + (c.mo - 1) + (e->part == FLOE_SELSQL_YEAR ? q * 12 : q);
        c.y = floor_div(m, 12);
        c.mo = (unsigned)(m - c.y * 12) + 1;
        while (c.d > 28 && !floe_civil_valid(c.y, c.mo, c.d))
            c.d--;
        if (c.y < 0 || c.y > 9999)
            return err(ev, e, "DATE_ADD result is outside years 0000 to 9999");
        t.us = civil_us(&c, t.tz_min);
    } else {
        int64_t d;
        if (__builtin_mul_overflow(q, unit[e->part], &d) || __builtin_add_overflow(t.us, d, &t.us))
            return err(ev, e, "DATE_ADD result is out of range");
        uint8_t need = e->part == FLOE_SELSQL_SECOND ? FLOE_SELSQL_PREC_SECOND
                       : e->part == FLOE_SELSQL_DAY  ? FLOE_SELSQL_PREC_DAY
                                                     : FLOE_SELSQL_PREC_MINUTE;
        if (t.prec < need)
            t.prec = need;
    }
    out->type = FLOE_SELSQL_TIMESTAMP;
    out->u.t = t;
    return 0;
}

static int date_diff(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    struct floe_selsql_ts a, b;
    int rc = ts_arg(ev, e->kids[0], &a);
    if (rc < 0)
        return -1;
    int rc2 = ts_arg(ev, e->kids[1], &b);
    if (rc2 < 0)
        return -1;
    if (rc || rc2) {
        *out = v_null();
        return 0;
    }
    if (e->part <= FLOE_SELSQL_MONTH) {
        /* whole months from a to b, both read in UTC */
        struct floe_selsql_ts au = a, bu = b;
        au.tz_min = bu.tz_min = 0;
        struct civil ca, cb;
        ts_civil(&au, &ca);
        ts_civil(&bu, &cb);
        int64_t m = (cb.y * 12 + cb.mo) - (ca.y * 12 + ca.mo);
        int64_t ra = a.us - civil_us(&(struct civil){ca.y, ca.mo, 1, 0, 0, 0, 0}, 0);
        int64_t rb = b.us - civil_us(&(struct civil){cb.y, cb.mo, 1, 0, 0, 0, 0}, 0);
        if (m > 0 && rb < ra)
            m--;
        else if (m < 0 && rb > ra)
            m++;
        *out = v_int(e->part == FLOE_SELSQL_YEAR ? m / 12 : m);
        return 0;
    }
    static const int64_t unit[] = {0, 0, US_PER_DAY, 3600 * US_PER_S, 60 * US_PER_S, US_PER_S};
    *out = v_int((b.us - a.us) / unit[e->part]);
    return 0;
}

static int extract(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    struct floe_selsql_ts t;
    int rc = ts_arg(ev, e->kids[0], &t);
    if (rc) {
        *out = v_null();
        return rc < 0 ? -1 : 0;
    }
    struct civil c;
    ts_civil(&t, &c);
    int64_t r;
    switch (e->part) {
    case FLOE_SELSQL_YEAR: r = c.y; break;
    case FLOE_SELSQL_MONTH: r = c.mo; break;
    case FLOE_SELSQL_DAY: r = c.d; break;
    case FLOE_SELSQL_HOUR: r = c.h; break;
    case FLOE_SELSQL_MINUTE: r = c.mi; break;
    case FLOE_SELSQL_SECOND: r = c.s; break;
    case FLOE_SELSQL_TIMEZONE_HOUR: r = t.tz_min / 60; break;
    default: r = t.tz_min % 60;
    }
    *out = v_int(r);
    return 0;
}

/* TO_STRING(ts, pattern): the pattern letters of docs/select.md 1.4. */
static int to_string(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    struct floe_selsql_ts t;
    const char *p;
    size_t pn;
    int rc = ts_arg(ev, e->kids[0], &t);
    if (rc < 0)
        return -1;
    int rc2 = str_arg(ev, e->kids[1], &p, &pn);
    if (rc2 < 0)
        return -1;
    if (rc || rc2) {
        *out = v_null();
        return 0;
    }
    static const char *const months[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
    struct civil c;
    ts_civil(&t, &c);
    struct floe_selcsv_buf b = {0};
    char tmp[64];
    for (size_t i = 0; i < pn;) {
        char ch = p[i];
        size_t run = 1;
        while (i + run < pn && p[i + run] == ch)
            run++;
        tmp[0] = 0;
        int tzh = abs(t.tz_min) / 60, tzm = abs(t.tz_min) % 60;
        char sign = t.tz_min < 0 ? '-' : '+';
        switch (ch) {
        case 'y':
            if (run == 2)
                snprintf(tmp, sizeof(tmp), "%02lld", (long long)(c.y % 100));
            else
                snprintf(tmp, sizeof(tmp), "%0*lld", (int)run, (long long)c.y);
            break;
        case 'M':
            if (run <= 2)
                snprintf(tmp, sizeof(tmp), "%0*u", (int)run, c.mo);
            else if (run == 3)
                snprintf(tmp, sizeof(tmp), "%.3s", months[c.mo - 1]);
            else if (run == 4)
                snprintf(tmp, sizeof(tmp), "%s", months[c.mo - 1]);
            else
                snprintf(tmp, sizeof(tmp), "%.1s", months[c.mo - 1]);
            break;
        case 'd': snprintf(tmp, sizeof(tmp), "%0*u", (int)(run > 2 ? 2 : run), c.d); break;
        case 'H': snprintf(tmp, sizeof(tmp), "%0*u", (int)(run > 2 ? 2 : run), c.h); break;
        case 'h':
            snprintf(tmp, sizeof(tmp), "%0*u", (int)(run > 2 ? 2 : run),
                     c.h % 12 == 0 ? 12 : c.h % 12);
            break;
        case 'a': snprintf(tmp, sizeof(tmp), "%s", c.h < 12 ? "AM" : "PM"); break;
        case 'm': snprintf(tmp, sizeof(tmp), "%0*u", (int)(run > 2 ? 2 : run), c.mi); break;
        case 's': snprintf(tmp, sizeof(tmp), "%0*u", (int)(run > 2 ? 2 : run), c.s); break;
        case 'S': {
            size_t k = run > 6 ? 6 : run;
            int64_t f = c.us;
            for (size_t d = k; d < 6; d++)
                f /= 10;
            snprintf(tmp, sizeof(tmp), "%0*lld%.*s", (int)k, (long long)f, (int)(run - k),
                     "000000000");
            break;
        }
        case 'X':
        case 'x':
            if (ch == 'X' && t.tz_min == 0)
                snprintf(tmp, sizeof(tmp), "Z");
            else if (run == 1)
                snprintf(tmp, sizeof(tmp), tzm ? "%c%02d%02d" : "%c%02d", sign, tzh, tzm);
            else if (run == 2)
                snprintf(tmp, sizeof(tmp), "%c%02d%02d", sign, tzh, tzm);
            else
                snprintf(tmp, sizeof(tmp), "%c%02d:%02d", sign, tzh, tzm);
            break;
        case '\'': {
            /* 'literal text'; '' is a quote */
            size_t j = i + 1;
            if (run >= 2) {
                floe_selcsv_buf_put(&b, "'", 1);
                i += 2;
                continue;
            }
            while (j < pn && p[j] != '\'')
                j++;
            floe_selcsv_buf_put(&b, p + i + 1, j - i - 1);
            i = j < pn ? j + 1 : j;
            continue;
        }
        default:
            if (isalpha((unsigned char)ch)) {
                floe_selcsv_buf_free(&b);
                return err(ev, e->kids[1], "TO_STRING pattern letter '%c' is not supported", ch);
            }
            floe_selcsv_buf_put(&b, p + i, run);
            i += run;
            continue;
        }
        floe_selcsv_buf_put(&b, tmp, strlen(tmp));
        i += run;
    }
    char *s = scratch(ev, b.len);
    if (b.len)
        memcpy(s, b.p, b.len);
    *out = v_str(s, b.len);
    floe_selcsv_buf_free(&b);
    return 0;
}

/* Byte offset of the cp-th UTF-8 character of s (or len when past the end). */
static size_t utf8_offset(const char *s, size_t len, int64_t cp)
{
    size_t i = 0;
    while (cp > 0 && i < len) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        cp--;
    }
    return i;
}

static int substring(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    const char *p;
    size_t len;
    int64_t start, count = INT64_MAX;
    int rc = str_arg(ev, e->kids[0], &p, &len);
    int rc2 = rc < 0 ? -1 : int_arg(ev, e->kids[1], &start);
    int rc3 = (rc2 < 0 || e->nkids < 3) ? rc2 : int_arg(ev, e->kids[2], &count);
    if (rc < 0 || rc2 < 0 || rc3 < 0)
        return -1;
    if (rc || rc2 || rc3) {
        *out = v_null();
        return 0;
    }
    if (count < 0)
        return err(ev, e, "SUBSTRING length %lld is negative", (long long)count);
    /* characters [start, start + count) of 1-based positions, clipped to the string */
    int64_t end = (start > 0 && count > INT64_MAX - start) ? INT64_MAX : start + count;
    if (start < 1)
        start = 1;
    if (end <= start) {
        *out = v_str(p, 0);
        return 0;
    }
    size_t a = utf8_offset(p, len, start - 1);
    size_t b = utf8_offset(p + a, len - a, end - start) + a;
    *out = v_str(p + a, b - a);
    return 0;
}

static int trim(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    const char *p, *chars = " ";
    size_t len, nchars = 1;
    int rc = str_arg(ev, e->kids[0], &p, &len);
    int rc2 = (rc < 0 || e->nkids < 2) ? rc : str_arg(ev, e->kids[1], &chars, &nchars);
    if (rc < 0 || rc2 < 0)
        return -1;
    if (rc || rc2) {
        *out = v_null();
        return 0;
    }
    size_t a = 0, b = len;
    if (e->part != FLOE_SELSQL_TRIM_TRAILING)
        while (a < b && memchr(chars, p[a], nchars))
            a++;
    if (e->part != FLOE_SELSQL_TRIM_LEADING)
        while (b > a && memchr(chars, p[b - 1], nchars))
            b--;
    *out = v_str(p + a, b - a);
    return 0;
}

static int func(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    const char *p;
    size_t len;
    int rc;
    switch (e->fn) {
    case FLOE_SELSQL_FN_COALESCE:
        for (size_t i = 0; i < e->nkids; i++) {
            if (eval(ev, e->kids[i], out))
                return -1;
            if (out->type != FLOE_SELSQL_NULL)
                return 0;
        }
        return 0;
    case FLOE_SELSQL_FN_NULLIF: {
        value a, b;
        int c;
        if (eval(ev, e->kids[0], &a) || eval(ev, e->kids[1], &b))
            return -1;
        rc = compare(ev, e, a, b, &c);
        if (rc < 0)
            return -1;
        *out = (rc == 0 && c == 0) ? v_null() : a;
        return 0;
    }
    case FLOE_SELSQL_FN_DATE_ADD: return date_add(ev, e, out);
    case FLOE_SELSQL_FN_DATE_DIFF: return date_diff(ev, e, out);
    case FLOE_SELSQL_FN_EXTRACT: return extract(ev, e, out);
    case FLOE_SELSQL_FN_TO_STRING: return to_string(ev, e, out);
    case FLOE_SELSQL_FN_TO_TIMESTAMP:
        rc = str_arg(ev, e->kids[0], &p, &len);
        if (rc) {
            *out = v_null();
            return rc < 0 ? -1 : 0;
        }
        if (floe_seleval_ts_parse(p, len, &out->u.t))
            return err(ev, e, "TO_TIMESTAMP of '%.*s' failed (not an ISO 8601 timestamp)",
                       (int)(len > 32 ? 32 : len), p);
        out->type = FLOE_SELSQL_TIMESTAMP;
        return 0;
    case FLOE_SELSQL_FN_UTCNOW:
        out->type = FLOE_SELSQL_TIMESTAMP;
        out->u.t = (struct floe_selsql_ts){
            .us = ev->now_us, .prec = FLOE_SELSQL_PREC_FRACTION, .frac_digits = 3};
        return 0;
    case FLOE_SELSQL_FN_CHAR_LENGTH: {
        rc = str_arg(ev, e->kids[0], &p, &len);
        if (rc) {
            *out = v_null();
            return rc < 0 ? -1 : 0;
        }
        int64_t n = 0;
        for (size_t i = 0; i < len; i++)
            n += ((unsigned char)p[i] & 0xC0) != 0x80;
        *out = v_int(n);
        return 0;
    }
    case FLOE_SELSQL_FN_LOWER:
    case FLOE_SELSQL_FN_UPPER: {
        rc = str_arg(ev, e->kids[0], &p, &len);
        if (rc) {
            *out = v_null();
            return rc < 0 ? -1 : 0;
        }
        char *s = scratch(ev, len);
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch < 0x80)
                ch = (unsigned char)(e->fn == FLOE_SELSQL_FN_LOWER ? tolower(ch) : toupper(ch));
            s[i] = (char)ch;
        }
        *out = v_str(s, len);
        return 0;
    }
    case FLOE_SELSQL_FN_SUBSTRING: return substring(ev, e, out);
    default: return trim(ev, e, out);
    }
}

static int eval(struct floe_seleval *ev, const struct floe_selsql_expr *e, value *out)
{
    value a, b;
    int c, rc;
    switch (e->op) {
    case FLOE_SELSQL_LIT: *out = e->lit; return 0;
    case FLOE_SELSQL_COL:
        *out = e->col < ev->n ? v_str(ev->f[e->col].p, ev->f[e->col].len) : v_null();
        return 0;
    case FLOE_SELSQL_NOT:
        if (eval(ev, e->kids[0], &a))
            return -1;
        rc = truth(ev, e, &a, "NOT");
        if (rc < 0)
            return -1;
        *out = rc == 2 ? v_null() : v_bool(!rc);
        return 0;
    case FLOE_SELSQL_AND:
    case FLOE_SELSQL_OR: {
        bool and_ = e->op == FLOE_SELSQL_AND;
        const char *name = and_ ? "AND" : "OR";
        if (eval(ev, e->kids[0], &a))
            return -1;
        int x = truth(ev, e, &a, name);
        if (x < 0)
            return -1;
        if (x == (and_ ? 0 : 1)) { /* FALSE AND ..., TRUE OR ... */
            *out = v_bool(x);
            return 0;
        }
        if (eval(ev, e->kids[1], &b))
            return -1;
        int y = truth(ev, e, &b, name);
        if (y < 0)
            return -1;
        if (y == (and_ ? 0 : 1))
            *out = v_bool(y);
        else if (x == 2 || y == 2)
            *out = v_null();
        else
            *out = v_bool(y);
        return 0;
    }
    case FLOE_SELSQL_NEG:
        if (eval(ev, e->kids[0], &a))
            return -1;
        return arith(ev, &(struct floe_selsql_expr){.op = FLOE_SELSQL_SUB, .pos = e->pos}, v_int(0),
                     a, out);
    case FLOE_SELSQL_EQ:
    case FLOE_SELSQL_NE:
    case FLOE_SELSQL_LT:
    case FLOE_SELSQL_GT:
    case FLOE_SELSQL_LE:
    case FLOE_SELSQL_GE:
        if (eval(ev, e->kids[0], &a) || eval(ev, e->kids[1], &b))
            return -1;
        rc = compare(ev, e, a, b, &c);
        if (rc < 0)
            return -1;
        if (rc) {
            *out = v_null();
            return 0;
        }
        switch (e->op) {
        case FLOE_SELSQL_EQ: *out = v_bool(c == 0); break;
        case FLOE_SELSQL_NE: *out = v_bool(c != 0); break;
        case FLOE_SELSQL_LT: *out = v_bool(c < 0); break;
        case FLOE_SELSQL_GT: *out = v_bool(c > 0); break;
        case FLOE_SELSQL_LE: *out = v_bool(c <= 0); break;
        default: *out = v_bool(c >= 0);
        }
        return 0;
    case FLOE_SELSQL_ADD:
    case FLOE_SELSQL_SUB:
    case FLOE_SELSQL_MUL:
    case FLOE_SELSQL_DIV:
    case FLOE_SELSQL_MOD:
        if (eval(ev, e->kids[0], &a) || eval(ev, e->kids[1], &b))
            return -1;
        return arith(ev, e, a, b, out);
    case FLOE_SELSQL_CONCAT: {
        const char *p1, *p2;
        size_t l1, l2;
        int r1 = str_arg(ev, e->kids[0], &p1, &l1);
        int r2 = r1 < 0 ? -1 : str_arg(ev, e->kids[1], &p2, &l2);
        if (r1 < 0 || r2 < 0)
            return -1;
        if (r1 || r2) {
            *out = v_null();
            return 0;
        }
        char *s = scratch(ev, l1 + l2);
        memcpy(s, p1, l1);
        memcpy(s + l1, p2, l2);
        *out = v_str(s, l1 + l2);
        return 0;
    }
    case FLOE_SELSQL_BETWEEN: {
        value lo, hi;
        int c1, c2;
        if (eval(ev, e->kids[0], &a) || eval(ev, e->kids[1], &lo) || eval(ev, e->kids[2], &hi))
            return -1;
        int r1 = compare(ev, e, a, lo, &c1), r2 = r1 < 0 ? -1 : compare(ev, e, a, hi, &c2);
        if (r1 < 0 || r2 < 0)
            return -1;
        /* x >= lo AND x <= hi, three-valued */
        int x = r1 ? 2 : c1 >= 0, y = r2 ? 2 : c2 <= 0;
        int r = (x == 0 || y == 0) ? 0 : (x == 2 || y == 2) ? 2 : 1;
        *out = r == 2 ? v_null() : v_bool(e->negated ? !r : r);
        return 0;
    }
    case FLOE_SELSQL_IN: {
        if (eval(ev, e->kids[0], &a))
            return -1;
        bool null_seen = false;
        for (size_t i = 1; i < e->nkids; i++) {
            if (eval(ev, e->kids[i], &b))
                return -1;
            rc = compare(ev, e, a, b, &c);
            if (rc < 0)
                return -1;
            if (rc == 0 && c == 0) {
                *out = v_bool(!e->negated);
                return 0;
            }
            null_seen |= rc == 1;
        }
        *out = null_seen ? v_null() : v_bool(e->negated);
        return 0;
    }
    case FLOE_SELSQL_LIKE: {
        const char *s, *p, *x = NULL;
        size_t sl, pl, xl = 0;
        int r1 = str_arg(ev, e->kids[0], &s, &sl);
        int r2 = r1 < 0 ? -1 : str_arg(ev, e->kids[1], &p, &pl);
        int r3 = (r2 < 0 || e->nkids < 3) ? r2 : str_arg(ev, e->kids[2], &x, &xl);
        if (r1 < 0 || r2 < 0 || r3 < 0)
            return -1;
        if (r1 || r2 || r3) {
            *out = v_null();
            return 0;
        }
        if (x && xl != 1)
            return err(ev, e->kids[2], "the LIKE escape must be one character, not %zu", xl);
        bool m = like(s, sl, p, pl, x ? (unsigned char)x[0] : -1);
        *out = v_bool(e->negated ? !m : m);
        return 0;
    }
    case FLOE_SELSQL_ISNULL:
        if (eval(ev, e->kids[0], &a))
            return -1;
        *out = v_bool((a.type == FLOE_SELSQL_NULL) != e->negated);
        return 0;
    case FLOE_SELSQL_FUNC: return func(ev, e, out);
    case FLOE_SELSQL_CAST:
        if (eval(ev, e->kids[0], &a))
            return -1;
        return do_cast(ev, e, a, out);
    default: return err(ev, e, "internal: unknown operator %d", (int)e->op);
    }
}

static void plan_fast(struct floe_seleval *ev)
{
    const struct floe_selsql_query *q = ev->q;
    const struct floe_selsql_expr *w = q->where;
    ev->plan = 1;
    ev->cols_only = !q->star;
    for (size_t i = 0; i < q->nproj && ev->cols_only; i++)
        ev->cols_only = q->proj[i]->op == FLOE_SELSQL_COL;
    /* the bytes floe_selcsv_write_field() quotes a field for */
    const char special[] = {
        ev->out.field_delim, ev->out.record_delim, ev->out.quote, ev->out.quote_escape, '\r', '\n'};
    for (size_t i = 0; i < sizeof(special); i++)
        ev->needs_quote[(unsigned char)special[i]] = 1;
    if (!w || w->op < FLOE_SELSQL_EQ || w->op > FLOE_SELSQL_GE || w->nkids != 2)
        return;
    const struct floe_selsql_expr *x = w->kids[0], *l = w->kids[1];
    if (l->op != FLOE_SELSQL_LIT || l->lit.type != FLOE_SELSQL_INT)
        return;
    if (x->op == FLOE_SELSQL_CAST && x->cast_to == FLOE_SELSQL_INT && x->nkids == 1)
        x = x->kids[0];
    if (x->op != FLOE_SELSQL_COL)
        return;
    ev->fast_where = true;
    ev->fw_col = x->col;
    ev->fw_op = w->op;
    ev->fw_lit = l->lit.u.i;
}

/* The fast WHERE (see struct floe_seleval): 1 true, 0 false, -2 not a plain integer. */
static int fast_where(const struct floe_seleval *ev)
{
    if (ev->fw_col >= ev->n)
        return -2;
    const char *s = ev->f[ev->fw_col].p;
    size_t len = ev->f[ev->fw_col].len, i = len && (s[0] == '-' || s[0] == '+');
    if (len == i || len - i > 18)
        return -2;
    int64_t v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return -2;
        v = v * 10 + (int64_t)d;
    }
    if (s[0] == '-')
        v = -v;
    int c = (v > ev->fw_lit) - (v < ev->fw_lit);
    switch (ev->fw_op) {
    case FLOE_SELSQL_EQ: return c == 0;
    case FLOE_SELSQL_NE: return c != 0;
    case FLOE_SELSQL_LT: return c < 0;
    case FLOE_SELSQL_GT: return c > 0;
    case FLOE_SELSQL_LE: return c <= 0;
    default: return c >= 0;
    }
}

int floe_seleval_row(struct floe_seleval *ev, const struct floe_selcsv_field *f, size_t n,
                     uint64_t record_no, struct floe_selcsv_buf *buf, char *msg, size_t cap)
{
    const struct floe_selsql_query *q = ev->q;
    if (!ev->plan)
        plan_fast(ev);
    ev->f = f;
    ev->n = n;
    ev->record_no = record_no;
    ev->msg = msg;
    ev->cap = cap;
    int t = ev->fast_where ? fast_where(ev) : -2;
    if (t == -2 && q->where) {
        scratch_reset(ev);
        value w;
        if (eval(ev, q->where, &w))
            return -1;
        t = truth(ev, q->where, &w, "WHERE");
        if (t < 0)
            return -1;
    }
    if (q->where && t != 1)
        return 0;
    if (ev->cols_only) { /* no error can happen: straight into buf */
        bool asneeded = ev->out.quote_fields != FLOE_SELCSV_ALWAYS;
        for (size_t i = 0; i < q->nproj; i++) {
            size_t c = q->proj[i]->col, len = c < n ? f[c].len : 0, k = 0;
            const char *p = c < n ? f[c].p : "";
            while (asneeded && k < len && !ev->needs_quote[(unsigned char)p[k]])
                k++;
            if (k < len || !asneeded) { /* quoting needed: the general writer */
                floe_selcsv_write_field(buf, &ev->out, i == 0, p, len);
                continue;
            }
            floe_selcsv_buf_reserve(buf, len + 1); /* the delimiter and the field */
            if (i)
                buf->p[buf->len++] = ev->out.field_delim;
            memcpy(buf->p + buf->len, p, len);
            buf->len += len;
        }
        floe_selcsv_write_end(buf, &ev->out);
        return 1;
    }
    scratch_reset(ev);
    if (q->star) {
        for (size_t i = 0; i < n; i++)
            floe_selcsv_write_field(buf, &ev->out, i == 0, f[i].p, f[i].len);
        floe_selcsv_write_end(buf, &ev->out);
        return 1;
    }
    ev->row.len = 0;
    for (size_t i = 0; i < q->nproj; i++) {
        value v;
        const char *p;
        size_t len;
        if (eval(ev, q->proj[i], &v))
            return -1;
        to_text(ev, &v, &p, &len);
        floe_selcsv_write_field(&ev->row, &ev->out, i == 0, p, len);
    }
    floe_selcsv_write_end(&ev->row, &ev->out);
    floe_selcsv_buf_put(buf, ev->row.p, ev->row.len);
    return 1;
}
