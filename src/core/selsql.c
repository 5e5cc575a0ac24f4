/*
 * selsql.c - the Glacier Select SQL parser (see selsql.h; the grammar is docs/select.md 1).
 *
 * DESIGN
 * A tokenizer and a recursive-descent parser, one function per precedence level (OR, AND,
 * NOT, predicates, additive, multiplicative, unary, primary). Every node records the position
 * of its first token, so the binder and the evaluator can name where a problem is. The first
 * error wins: it is written to the caller's buffer and every level returns NULL up to the top,
 * which frees the partial tree. Column prefixes (s._1) are checked against the FROM alias after
 * the whole statement is read, since the alias comes after the select list.
 */
#include "selsql.h"

#include "alloc.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const floe_selsql_type_names[FLOE_SELSQL_TYPE_COUNT] = {
    "NULL", "BOOL", "INT", "FLOAT", "DECIMAL", "STRING", "TIMESTAMP"};

enum tok {
    T_EOF = 0,
    T_IDENT,  /* plain identifier or keyword */
    T_QIDENT, /* "quoted identifier" */
    T_STRING, /* 'string' */
    T_INT,
    T_NUM, /* with '.' or exponent */
    T_OP,  /* punctuation: text in op[] */
    T_BAD
};

struct token {
    enum tok kind;
    size_t pos; /* 0-based */
    const char *p;
    size_t len;
    char *text; /* identifier / string value, unescaped (owned) */
    char op[3];
};

struct parser {
    const char *sql;
    size_t len, at;
    struct token tok;
    char *msg;
    size_t cap;
    bool failed;
    char *alias;
    /* column prefixes met, checked against the alias at the end */
    struct {
        char *name;
        size_t pos;
    } * prefixes;
    size_t nprefixes;
    size_t first_name_pos, first_position_pos; /* 1-based; 0 = none */
    unsigned depth; /* nesting of parse_expr/parse_unary/parse_not (MAX_DEPTH) */
};

/* Deepest nesting of parentheses, function arguments, unary signs and NOTs a query may have:
 * the parser and the evaluator recurse that deep, and a query must not exhaust the stack. */
#define MAX_DEPTH 256

static void fail(struct parser *ps, size_t pos0, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(ps->msg, ps->cap, "%s at position %zu", what, pos0 + 1);
}

/* The token's text for messages ("end of expression" at the end). */
static void tok_show(const struct token *t, char *out, size_t cap)
{
    if (t->kind == T_EOF)
        snprintf(out, cap, "end of expression");
    else
        snprintf(out, cap, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->p);
}

static bool is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Read the next token into ps->tok. */
static void next(struct parser *ps)
{
    struct token *t = &ps->tok;
    free(t->text);
    memset(t, 0, sizeof(*t));
    const char *s = ps->sql;
    size_t n = ps->len, i = ps->at;
    for (;;) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') { /* -- comment to end of line */
            while (i < n && s[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    t->pos = i;
    t->p = s + i;
    if (i >= n) {
        t->kind = T_EOF;
        ps->at = i;
        return;
    }
    char c = s[i];
    if (is_ident_start(c)) {
        size_t j = i;
        while (j < n && is_ident_char(s[j]))
            j++;
        t->kind = T_IDENT;
        t->len = j - i;
        t->text = floe_xmalloc(t->len + 1);
        memcpy(t->text, s + i, t->len);
        t->text[t->len] = 0;
        ps->at = j;
        return;
    }
    if (c == '\'' || c == '"') {
        /* 'string' or "identifier"; the quote doubled stands for itself */
        char *buf = floe_xmalloc(n - i + 1);
        size_t bl = 0, j = i + 1;
        bool closed = false;
        while (j < n) {
            if (s[j] == c) {
                if (j + 1 < n && s[j + 1] == c) {
                    buf[bl++] = c;
                    j += 2;
                    continue;
                }
                closed = true;
                j++;
                break;
            }
            buf[bl++] = s[j++];
        }
        buf[bl] = 0;
        t->len = j - i;
        t->text = buf;
        ps->at = j;
        if (!closed) {
            t->kind = T_BAD;
            fail(ps, i,
                 c == '\'' ? "unterminated string literal" : "unterminated quoted identifier");
            return;
        }
        t->kind = c == '\'' ? T_STRING : T_QIDENT;
        if (t->kind == T_QIDENT && bl == 0)
            fail(ps, i, "empty quoted identifier");
        return;
    }
    if (isdigit((unsigned char)c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
        size_t j = i;
        bool real = false;
        while (j < n && isdigit((unsigned char)s[j]))
            j++;
        if (j < n && s[j] == '.') {
            real = true;
            j++;
            while (j < n && isdigit((unsigned char)s[j]))
                j++;
        }
        if (j < n && (s[j] == 'e' || s[j] == 'E')) {
            size_t k = j + 1;
            if (k < n && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < n && isdigit((unsigned char)s[k])) {
                real = true;
                j = k;
                while (j < n && isdigit((unsigned char)s[j]))
                    j++;
            }
        }
        t->kind = real ? T_NUM : T_INT;
        t->len = j - i;
        t->text = floe_xmalloc(t->len + 1);
        memcpy(t->text, s + i, t->len);
        t->text[t->len] = 0;
        ps->at = j;
        if (j < n && is_ident_start(s[j]))
            fail(ps, j, "unexpected '%c' after number", s[j]);
        return;
    }
    static const char *const two[] = {"<>", "!=", "<=", ">=", "||"};
    for (size_t k = 0; k < sizeof(two) / sizeof(two[0]); k++) {
        if (i + 1 < n && s[i] == two[k][0] && s[i + 1] == two[k][1]) {
            t->kind = T_OP;
            memcpy(t->op, two[k], 2);
            t->len = 2;
            ps->at = i + 2;
            return;
        }
    }
    if (strchr("=<>+-*/%(),.;", c)) {
        t->kind = T_OP;
        t->op[0] = c;
        t->len = 1;
        ps->at = i + 1;
        return;
    }
    t->kind = T_BAD;
    t->len = 1;
    ps->at = i + 1;
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        fail(ps, i, "unexpected character (byte 0x%02x)", (unsigned char)c);
    else
        fail(ps, i, "unexpected character '%c'", c);
}

static bool is_kw(const struct token *t, const char *kw)
{
    return t->kind == T_IDENT && strcasecmp(t->text, kw) == 0;
}

static bool is_op(const struct token *t, const char *op)
{
    return t->kind == T_OP && strcmp(t->op, op) == 0;
}

static bool accept_kw(struct parser *ps, const char *kw)
{
    if (!is_kw(&ps->tok, kw))
        return false;
    next(ps);
    return true;
}

static bool accept_op(struct parser *ps, const char *op)
{
    if (!is_op(&ps->tok, op))
        return false;
    next(ps);
    return true;
}

static bool expect_op(struct parser *ps, const char *op, const char *context)
{
    if (accept_op(ps, op))
        return true;
    char got[64];
    tok_show(&ps->tok, got, sizeof(got));
    fail(ps, ps->tok.pos, "expected '%s' %s, found %s", op, context, got);
    return false;
}

/* Words that cannot be a column or an alias. */
static const char *const s_reserved[] = {
    "SELECT",    "FROM",   "WHERE", "AS",    "AND",    "OR",       "NOT",     "IS",
    "NULL",      "TRUE",   "FALSE", "IN",    "LIKE",   "ESCAPE",   "BETWEEN", "CAST",
    "LIMIT",     "GROUP",  "ORDER", "BY",    "HAVING", "DISTINCT", "JOIN",    "UNION",
    "ON",        "INNER",  "LEFT",  "RIGHT", "FULL",   "OUTER",    "CROSS",   "OFFSET",
    "INTERSECT", "EXCEPT", "CASE",  "WHEN",  "THEN",   "ELSE",     "END",     "MISSING"};

static bool reserved(const struct token *t)
{
    if (t->kind != T_IDENT)
        return false;
    for (size_t i = 0; i < sizeof(s_reserved) / sizeof(s_reserved[0]); i++)
        if (strcasecmp(t->text, s_reserved[i]) == 0)
            return true;
    return false;
}

/* A clause or construct the subset refuses: names it. */
static bool refuse_unsupported(struct parser *ps)
{
    static const char *const words[] = {
        "LIMIT", "GROUP", "ORDER", "HAVING", "DISTINCT",  "JOIN",   "UNION", "INNER",  "LEFT",
        "RIGHT", "FULL",  "CROSS", "OFFSET", "INTERSECT", "EXCEPT", "CASE",  "MISSING"};
    const struct token *t = &ps->tok;
    if (t->kind != T_IDENT)
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(t->text, words[i]) == 0) {
            char up[16];
            size_t k = 0;
            for (; t->text[k] && k + 1 < sizeof(up); k++)
                up[k] = (char)toupper((unsigned char)t->text[k]);
            up[k] = 0;
            if (!strcmp(up, "GROUP") || !strcmp(up, "ORDER"))
                fail(ps, t->pos, "%s BY is not supported by select jobs", up);
            else if (!strcmp(up, "CASE") || !strcmp(up, "MISSING"))
                fail(ps, t->pos, "%s is not supported by select jobs", up);
            else
                fail(ps, t->pos, "%s is not supported by select jobs", up);
            return true;
        }
    }
    return false;
}

static struct floe_selsql_expr *node(enum floe_selsql_op op, size_t pos0)
{
    struct floe_selsql_expr *e = floe_xcalloc(1, sizeof(*e));
    e->op = op;
    e->pos = pos0 + 1;
    return e;
}

static void add_kid(struct floe_selsql_expr *e, struct floe_selsql_expr *k)
{
    e->kids = floe_xrealloc(e->kids, (e->nkids + 1) * sizeof(*e->kids));
    e->kids[e->nkids++] = k;
}

static void expr_free(struct floe_selsql_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nkids; i++)
        expr_free(e->kids[i]);
    free(e->kids);
    free(e->name);
    if (e->op == FLOE_SELSQL_LIT && e->lit.type == FLOE_SELSQL_STRING)
        free((char *)e->lit.u.s.p);
    free(e);
}

static struct floe_selsql_expr *bin(enum floe_selsql_op op, size_t pos, struct floe_selsql_expr *a,
                                    struct floe_selsql_expr *b)
{
    if (!a || !b) {
        expr_free(a);
        expr_free(b);
        return NULL;
    }
    struct floe_selsql_expr *e = node(op, pos);
    add_kid(e, a);
    add_kid(e, b);
    return e;
}

static struct floe_selsql_expr *parse_expr(struct parser *ps);
static struct floe_selsql_expr *parse_additive(struct parser *ps);

static const char *const s_parts[FLOE_SELSQL_PART_COUNT] = {
    "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "TIMEZONE_HOUR", "TIMEZONE_MINUTE"};

/* A date part keyword; extract allows the time zone parts. */
static int parse_part(struct parser *ps, const char *fname, bool extract)
{
    int n = extract ? FLOE_SELSQL_PART_COUNT : FLOE_SELSQL_TIMEZONE_HOUR;
    if (ps->tok.kind == T_IDENT || ps->tok.kind == T_QIDENT)
        for (int i = 0; i < n; i++)
            if (strcasecmp(ps->tok.text, s_parts[i]) == 0) {
                next(ps);
                return i;
            }
    char got[64];
    tok_show(&ps->tok, got, sizeof(got));
    fail(ps, ps->tok.pos,
         "%s needs a date part (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND%s), found %s", fname,
         extract ? ", TIMEZONE_HOUR, TIMEZONE_MINUTE" : "", got);
    return -1;
}

static const struct {
    const char *name;
    enum floe_selsql_type type;
} s_types[] = {{"BOOL", FLOE_SELSQL_BOOL},
               {"BOOLEAN", FLOE_SELSQL_BOOL},
               {"INT", FLOE_SELSQL_INT},
               {"INTEGER", FLOE_SELSQL_INT},
               {"STRING", FLOE_SELSQL_STRING},
               {"FLOAT", FLOE_SELSQL_FLOAT},
               {"DECIMAL", FLOE_SELSQL_DECIMAL},
               {"NUMERIC", FLOE_SELSQL_DECIMAL},
               {"TIMESTAMP", FLOE_SELSQL_TIMESTAMP}};

static struct floe_selsql_expr *parse_cast(struct parser *ps, size_t pos)
{
    if (!expect_op(ps, "(", "after CAST"))
        return NULL;
    struct floe_selsql_expr *x = parse_expr(ps);
    if (!x)
        return NULL;
    if (!accept_kw(ps, "AS")) {
        char got[64];
        tok_show(&ps->tok, got, sizeof(got));
        fail(ps, ps->tok.pos, "expected AS in CAST, found %s", got);
        expr_free(x);
        return NULL;
    }
    int ty = -1;
    if (ps->tok.kind == T_IDENT)
        for (size_t i = 0; i < sizeof(s_types) / sizeof(s_types[0]); i++)
            if (strcasecmp(ps->tok.text, s_types[i].name) == 0)
                ty = (int)s_types[i].type;
    if (ty < 0) {
        char got[64];
        tok_show(&ps->tok, got, sizeof(got));
        fail(ps, ps->tok.pos,
             "unknown CAST type %s (BOOL, BOOLEAN, INT, INTEGER, STRING, FLOAT, DECIMAL, NUMERIC,"
             " TIMESTAMP)",
             got);
        expr_free(x);
        return NULL;
    }
    next(ps);
    if (accept_op(ps, "(")) { /* DECIMAL(p, s): accepted, precision not kept */
        while (!ps->failed && !is_op(&ps->tok, ")") && ps->tok.kind != T_EOF)
            next(ps);
        if (!expect_op(ps, ")", "after the type's precision")) {
            expr_free(x);
            return NULL;
        }
    }
    if (!expect_op(ps, ")", "to close CAST")) {
        expr_free(x);
        return NULL;
    }
    struct floe_selsql_expr *e = node(FLOE_SELSQL_CAST, pos);
    e->cast_to = (enum floe_selsql_type)ty;
    add_kid(e, x);
    return e;
}

static const struct {
    const char *name;
    int fn;
    int min, max; /* argument counts for the plain (a, b, ...) form */
} s_fns[] = {
    {"COALESCE", FLOE_SELSQL_FN_COALESCE, 1, 64},
    {"NULLIF", FLOE_SELSQL_FN_NULLIF, 2, 2},
    {"DATE_ADD", FLOE_SELSQL_FN_DATE_ADD, 2, 2},
    {"DATE_DIFF", FLOE_SELSQL_FN_DATE_DIFF, 2, 2},
    {"EXTRACT", FLOE_SELSQL_FN_EXTRACT, 1, 1},
    {"TO_STRING", FLOE_SELSQL_FN_TO_STRING, 2, 2},
    {"TO_TIMESTAMP", FLOE_SELSQL_FN_TO_TIMESTAMP, 1, 1},
    {"UTCNOW", FLOE_SELSQL_FN_UTCNOW, 0, 0},
    {"CHAR_LENGTH", FLOE_SELSQL_FN_CHAR_LENGTH, 1, 1},
    {"CHARACTER_LENGTH", FLOE_SELSQL_FN_CHAR_LENGTH, 1, 1},
    {"LOWER", FLOE_SELSQL_FN_LOWER, 1, 1},
    {"UPPER", FLOE_SELSQL_FN_UPPER, 1, 1},
    {"SUBSTRING", FLOE_SELSQL_FN_SUBSTRING, 2, 3},
    {"TRIM", FLOE_SELSQL_FN_TRIM, 1, 1},
};

/* The argument list after '(' of a function call: (a, b, ...) up to ')'. */
static bool parse_args(struct parser *ps, struct floe_selsql_expr *e, const char *fname, int min,
                       int max, size_t pos)
{
    if (!accept_op(ps, ")")) {
        do {
            struct floe_selsql_expr *a = parse_expr(ps);
            if (!a)
                return false;
            add_kid(e, a);
        } while (accept_op(ps, ","));
        if (!expect_op(ps, ")", "to close the argument list"))
            return false;
    }
    if ((int)e->nkids < min || (int)e->nkids > max) {
        if (min == max)
            fail(ps, pos, "%s takes %d argument%s, not %zu", fname, min, min == 1 ? "" : "s",
                 e->nkids);
        else
            fail(ps, pos, "%s takes %d to %d arguments, not %zu", fname, min, max, e->nkids);
        return false;
    }
    return true;
}

static struct floe_selsql_expr *parse_function(struct parser *ps, const char *name, size_t pos)
{
    static const char *const aggregates[] = {"COUNT", "SUM", "AVG", "MIN", "MAX"};
    for (size_t i = 0; i < sizeof(aggregates) / sizeof(aggregates[0]); i++)
        if (strcasecmp(name, aggregates[i]) == 0) {
            fail(ps, pos, "aggregate function %s is not supported by select jobs", aggregates[i]);
            return NULL;
        }
    int k = -1;
    for (size_t i = 0; i < sizeof(s_fns) / sizeof(s_fns[0]); i++)
        if (strcasecmp(name, s_fns[i].name) == 0)
            k = (int)i;
    if (k < 0) {
        fail(ps, pos, "unknown function %s", name);
        return NULL;
    }
    struct floe_selsql_expr *e = node(FLOE_SELSQL_FUNC, pos);
    e->fn = s_fns[k].fn;
    const char *fname = s_fns[k].name;
    next(ps); /* the '(' */
    bool ok = true;
    switch (e->fn) {
    case FLOE_SELSQL_FN_DATE_ADD:
    case FLOE_SELSQL_FN_DATE_DIFF:
        e->part = parse_part(ps, fname, false);
        ok = e->part >= 0 && expect_op(ps, ",", "after the date part") &&
             parse_args(ps, e, fname, 2, 2, pos);
        break;
    case FLOE_SELSQL_FN_EXTRACT: {
        e->part = parse_part(ps, fname, true);
        if (e->part >= 0 && !accept_kw(ps, "FROM")) {
            char got[64];
            tok_show(&ps->tok, got, sizeof(got));
            fail(ps, ps->tok.pos, "expected FROM in EXTRACT, found %s", got);
        }
        struct floe_selsql_expr *a = ps->failed ? NULL : parse_expr(ps);
        if (a)
            add_kid(e, a);
        ok = a && expect_op(ps, ")", "to close EXTRACT");
        break;
    }
    case FLOE_SELSQL_FN_SUBSTRING: {
        /* SUBSTRING(s, start[, len]) or SUBSTRING(s FROM start [FOR len]) */
        struct floe_selsql_expr *a = parse_expr(ps);
        if (!a) {
            ok = false;
            break;
        }
        add_kid(e, a);
        if (accept_kw(ps, "FROM")) {
            struct floe_selsql_expr *b = parse_expr(ps);
            if (b)
                add_kid(e, b);
            struct floe_selsql_expr *c = NULL;
            if (b && accept_kw(ps, "FOR")) {
                c = parse_expr(ps);
                if (c)
                    add_kid(e, c);
                else
                    b = NULL;
            }
            ok = b && expect_op(ps, ")", "to close SUBSTRING");
        } else {
            ok = accept_op(ps, ",") ? parse_args(ps, e, fname, 2, 3, pos)
                                    : (expect_op(ps, ",", "in SUBSTRING"), false);
        }
        break;
    }
    case FLOE_SELSQL_FN_TRIM: {
        /* TRIM([[LEADING|TRAILING|BOTH] [chars] FROM] s) */
        bool mode = false;
        if (accept_kw(ps, "LEADING"))
            e->part = FLOE_SELSQL_TRIM_LEADING, mode = true;
        else if (accept_kw(ps, "TRAILING"))
            e->part = FLOE_SELSQL_TRIM_TRAILING, mode = true;
        else if (accept_kw(ps, "BOTH"))
            e->part = FLOE_SELSQL_TRIM_BOTH, mode = true;
        struct floe_selsql_expr *chars = NULL, *s = NULL;
        if (mode && accept_kw(ps, "FROM")) {
            s = parse_expr(ps);
        } else {
            struct floe_selsql_expr *a = parse_expr(ps);
            if (a && accept_kw(ps, "FROM")) {
                chars = a;
                s = parse_expr(ps);
            } else if (a && mode) {
                char got[64];
                tok_show(&ps->tok, got, sizeof(got));
                fail(ps, ps->tok.pos, "expected FROM in TRIM, found %s", got);
                expr_free(a);
            } else {
                s = a;
            }
        }
        if (s) {
            add_kid(e, s);
            if (chars)
                add_kid(e, chars);
        } else {
            expr_free(chars);
        }
        ok = s && expect_op(ps, ")", "to close TRIM");
        break;
    }
    default: ok = parse_args(ps, e, fname, s_fns[k].min, s_fns[k].max, pos);
    }
    if (!ok || ps->failed) {
        expr_free(e);
        return NULL;
    }
    return e;
}

/* A column: _N, name, "name", with an optional alias prefix (already read: prefix). */
static struct floe_selsql_expr *column(struct parser *ps, const struct token *t, size_t pos)
{
    struct floe_selsql_expr *e = node(FLOE_SELSQL_COL, pos);
    const char *s = t->text;
    bool positional =
        t->kind == T_IDENT && s[0] == '_' && s[1] && strspn(s + 1, "0123456789") == strlen(s + 1);
    if (positional) {
        errno = 0;
        unsigned long long v = strtoull(s + 1, NULL, 10);
        if (errno || v == 0 || v > 1000000) {
            fail(ps, t->pos, "column position %s is out of range (_1 to _1000000)", s);
            expr_free(e);
            return NULL;
        }
        e->col = (size_t)v - 1;
        if (!ps->first_position_pos)
            ps->first_position_pos = pos + 1;
    } else {
        e->name = floe_xstrdup(s);
        e->quoted = t->kind == T_QIDENT;
        if (!ps->first_name_pos)
            ps->first_name_pos = pos + 1;
    }
    return e;
}

static struct floe_selsql_expr *parse_primary(struct parser *ps)
{
    struct token *t = &ps->tok;
    size_t pos = t->pos;
    char got[64];
    if (ps->failed)
        return NULL;
    switch (t->kind) {
    case T_STRING: {
        struct floe_selsql_expr *e = node(FLOE_SELSQL_LIT, pos);
        e->lit.type = FLOE_SELSQL_STRING;
        e->lit.u.s.len = strlen(t->text);
        e->lit.u.s.p = t->text;
        t->text = NULL;
        next(ps);
        return e;
    }
    case T_INT: {
        struct floe_selsql_expr *e = node(FLOE_SELSQL_LIT, pos);
        errno = 0;
        unsigned long long v = strtoull(t->text, NULL, 10);
        if (errno || v > (unsigned long long)INT64_MAX) {
            e->lit.type = FLOE_SELSQL_FLOAT; /* too big for INT */
            e->lit.u.f = strtod(t->text, NULL);
        } else {
            e->lit.type = FLOE_SELSQL_INT;
            e->lit.u.i = (int64_t)v;
        }
        next(ps);
        return e;
    }
    case T_NUM: {
        struct floe_selsql_expr *e = node(FLOE_SELSQL_LIT, pos);
        e->lit.type = strpbrk(t->text, "eE") ? FLOE_SELSQL_FLOAT : FLOE_SELSQL_DECIMAL;
        e->lit.u.f = strtod(t->text, NULL);
        next(ps);
        return e;
    }
    case T_OP:
        if (accept_op(ps, "(")) {
            if (is_kw(t, "SELECT")) {
                fail(ps, t->pos, "subqueries are not supported by select jobs");
                return NULL;
            }
            struct floe_selsql_expr *e = parse_expr(ps);
            if (e && !expect_op(ps, ")", "to close the parenthesis")) {
                expr_free(e);
                return NULL;
            }
            return e;
        }
        if (is_op(t, "*")) {
            fail(ps, pos, "'*' is only allowed alone as the select list");
            return NULL;
        }
        break;
    case T_QIDENT:
    case T_IDENT: {
        if (refuse_unsupported(ps))
            return NULL;
        if (t->kind == T_IDENT) {
            if (accept_kw(ps, "NULL")) {
                return node(FLOE_SELSQL_LIT, pos);
            }
            if (is_kw(t, "TRUE") || is_kw(t, "FALSE")) {
                struct floe_selsql_expr *e = node(FLOE_SELSQL_LIT, pos);
                e->lit.type = FLOE_SELSQL_BOOL;
                e->lit.u.b = is_kw(t, "TRUE");
                next(ps);
                return e;
            }
            if (accept_kw(ps, "CAST"))
                return parse_cast(ps, pos);
            if (reserved(t))
                break;
        }
        struct token first = *t;
        first.text = floe_xstrdup(t->text);
        next(ps);
        struct floe_selsql_expr *e = NULL;
        if (first.kind == T_IDENT && is_op(t, "(")) {
            e = parse_function(ps, first.text, pos);
        } else if (accept_op(ps, ".")) {
            if (t->kind != T_IDENT && t->kind != T_QIDENT) {
                tok_show(t, got, sizeof(got));
                fail(ps, t->pos, "expected a column name after '%s.', found %s", first.text, got);
            } else {
                ps->prefixes =
                    floe_xrealloc(ps->prefixes, (ps->nprefixes + 1) * sizeof(*ps->prefixes));
                ps->prefixes[ps->nprefixes].name = floe_xstrdup(first.text);
                ps->prefixes[ps->nprefixes++].pos = first.pos;
                struct token col = *t;
                col.text = floe_xstrdup(t->text);
                next(ps);
                e = column(ps, &col, pos);
                free(col.text);
            }
        } else {
            e = column(ps, &first, pos);
        }
        free(first.text);
        return e;
    }
    default: break;
    }
    tok_show(t, got, sizeof(got));
    fail(ps, pos, "expected an expression, found %s", got);
    return NULL;
}

typedef struct floe_selsql_expr *parse_fn(struct parser *ps);

/* fn one level of nesting deeper; NULL (and the query fails) beyond MAX_DEPTH. */
static struct floe_selsql_expr *nested(struct parser *ps, parse_fn *fn)
{
    if (ps->depth >= MAX_DEPTH) {
        if (!ps->failed)
            fail(ps, ps->tok.pos,
                 "the expression is nested too deeply (parentheses, signs and NOTs)");
        return NULL;
    }
    ps->depth++;
    struct floe_selsql_expr *e = fn(ps);
    ps->depth--;
    return e;
}

static struct floe_selsql_expr *parse_unary_in(struct parser *ps);

static struct floe_selsql_expr *parse_unary(struct parser *ps)
{
    return nested(ps, parse_unary_in);
}

static struct floe_selsql_expr *parse_unary_in(struct parser *ps)
{
    size_t pos = ps->tok.pos;
    if (accept_op(ps, "-")) {
        struct floe_selsql_expr *x = parse_unary(ps);
        if (!x)
            return NULL;
        if (x->op == FLOE_SELSQL_LIT && x->lit.type == FLOE_SELSQL_INT && x->lit.u.i >= 0) {
            x->lit.u.i = -x->lit.u.i;
            x->pos = pos + 1;
            return x;
        }
        struct floe_selsql_expr *e = node(FLOE_SELSQL_NEG, pos);
        add_kid(e, x);
        return e;
    }
    if (accept_op(ps, "+"))
        return parse_unary(ps);
    return parse_primary(ps);
}

static struct floe_selsql_expr *parse_mul(struct parser *ps)
{
    struct floe_selsql_expr *a = parse_unary(ps);
    while (a && !ps->failed) {
        size_t pos = ps->tok.pos;
        enum floe_selsql_op op;
        if (accept_op(ps, "*"))
            op = FLOE_SELSQL_MUL;
        else if (accept_op(ps, "/"))
            op = FLOE_SELSQL_DIV;
        else if (accept_op(ps, "%"))
            op = FLOE_SELSQL_MOD;
        else
            break;
        a = bin(op, pos, a, parse_unary(ps));
    }
    return a;
}

static struct floe_selsql_expr *parse_additive(struct parser *ps)
{
    struct floe_selsql_expr *a = parse_mul(ps);
    while (a && !ps->failed) {
        size_t pos = ps->tok.pos;
        enum floe_selsql_op op;
        if (accept_op(ps, "+"))
            op = FLOE_SELSQL_ADD;
        else if (accept_op(ps, "-"))
            op = FLOE_SELSQL_SUB;
        else if (accept_op(ps, "||"))
            op = FLOE_SELSQL_CONCAT;
        else
            break;
        a = bin(op, pos, a, parse_mul(ps));
    }
    return a;
}

static struct floe_selsql_expr *parse_pred(struct parser *ps)
{
    struct floe_selsql_expr *a = parse_additive(ps);
    if (!a || ps->failed)
        return a;
    size_t pos = ps->tok.pos;
    static const struct {
        const char *op;
        enum floe_selsql_op code;
    } cmps[] = {{"=", FLOE_SELSQL_EQ},  {"<>", FLOE_SELSQL_NE}, {"!=", FLOE_SELSQL_NE},
                {"<=", FLOE_SELSQL_LE}, {">=", FLOE_SELSQL_GE}, {"<", FLOE_SELSQL_LT},
                {">", FLOE_SELSQL_GT}};
    for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++)
        if (accept_op(ps, cmps[i].op)) {
            struct floe_selsql_expr *e = bin(cmps[i].code, pos, a, parse_additive(ps));
            if (e && !ps->failed) {
                for (size_t j = 0; j < sizeof(cmps) / sizeof(cmps[0]); j++)
                    if (is_op(&ps->tok, cmps[j].op)) {
                        fail(ps, ps->tok.pos, "comparisons do not chain (use AND): unexpected '%s'",
                             cmps[j].op);
                        break;
                    }
            }
            return e;
        }
    if (accept_kw(ps, "IS")) {
        struct floe_selsql_expr *e = node(FLOE_SELSQL_ISNULL, pos);
        e->pos = a->pos;
        add_kid(e, a);
        e->negated = accept_kw(ps, "NOT");
        if (is_kw(&ps->tok, "MISSING")) {
            fail(ps, ps->tok.pos, "IS MISSING is not supported by select jobs (use IS NULL)");
        } else if (!accept_kw(ps, "NULL")) {
            char got[64];
            tok_show(&ps->tok, got, sizeof(got));
            fail(ps, ps->tok.pos, "expected NULL after IS%s, found %s", e->negated ? " NOT" : "",
                 got);
        }
        return e;
    }
    bool neg = false;
    size_t notpos = ps->tok.pos;
    if (accept_kw(ps, "NOT"))
        neg = true;
    if (accept_kw(ps, "BETWEEN")) {
        struct floe_selsql_expr *e = node(FLOE_SELSQL_BETWEEN, pos);
        e->pos = a->pos;
        e->negated = neg;
        add_kid(e, a);
        struct floe_selsql_expr *lo = parse_additive(ps);
        if (lo) {
            add_kid(e, lo);
            if (!accept_kw(ps, "AND")) {
                char got[64];
                tok_show(&ps->tok, got, sizeof(got));
                fail(ps, ps->tok.pos, "expected AND in BETWEEN, found %s", got);
            } else {
                struct floe_selsql_expr *hi = parse_additive(ps);
                if (hi)
                    add_kid(e, hi);
            }
        }
        return e;
    }
    if (accept_kw(ps, "IN")) {
        struct floe_selsql_expr *e = node(FLOE_SELSQL_IN, pos);
        e->pos = a->pos;
        e->negated = neg;
        add_kid(e, a);
        if (expect_op(ps, "(", "after IN")) {
            if (is_kw(&ps->tok, "SELECT")) {
                fail(ps, ps->tok.pos, "subqueries are not supported by select jobs");
                return e;
            }
            do {
                struct floe_selsql_expr *x = parse_expr(ps);
                if (!x)
                    break;
                add_kid(e, x);
            } while (accept_op(ps, ","));
            if (!ps->failed)
                expect_op(ps, ")", "to close the IN list");
        }
        return e;
    }
    if (accept_kw(ps, "LIKE")) {
        struct floe_selsql_expr *e = node(FLOE_SELSQL_LIKE, pos);
        e->pos = a->pos;
        e->negated = neg;
        add_kid(e, a);
        struct floe_selsql_expr *p = parse_additive(ps);
        if (p) {
            add_kid(e, p);
            if (accept_kw(ps, "ESCAPE")) {
                struct floe_selsql_expr *x = parse_additive(ps);
                if (x)
                    add_kid(e, x);
            }
        }
        return e;
    }
    if (neg) {
        char got[64];
        tok_show(&ps->tok, got, sizeof(got));
        fail(ps, notpos, "expected BETWEEN, IN or LIKE after NOT, found %s", got);
    }
    return a;
}

static struct floe_selsql_expr *parse_not_in(struct parser *ps);

static struct floe_selsql_expr *parse_not(struct parser *ps)
{
    return nested(ps, parse_not_in);
}

static struct floe_selsql_expr *parse_not_in(struct parser *ps)
{
    size_t pos = ps->tok.pos;
    if (accept_kw(ps, "NOT")) {
        struct floe_selsql_expr *x = parse_not(ps);
        if (!x)
            return NULL;
        struct floe_selsql_expr *e = node(FLOE_SELSQL_NOT, pos);
        add_kid(e, x);
        return e;
    }
    return parse_pred(ps);
}

static struct floe_selsql_expr *parse_and(struct parser *ps)
{
    struct floe_selsql_expr *a = parse_not(ps);
    while (a && !ps->failed) {
        size_t pos = ps->tok.pos;
        if (!accept_kw(ps, "AND"))
            break;
        a = bin(FLOE_SELSQL_AND, pos, a, parse_not(ps));
    }
    return a;
}

static struct floe_selsql_expr *parse_expr_in(struct parser *ps);

static struct floe_selsql_expr *parse_expr(struct parser *ps)
{
    return nested(ps, parse_expr_in);
}

static struct floe_selsql_expr *parse_expr_in(struct parser *ps)
{
    struct floe_selsql_expr *a = parse_and(ps);
    while (a && !ps->failed) {
        size_t pos = ps->tok.pos;
        if (!accept_kw(ps, "OR"))
            break;
        a = bin(FLOE_SELSQL_OR, pos, a, parse_and(ps));
    }
    if (ps->failed) {
        expr_free(a);
        return NULL;
    }
    return a;
}

/* The rest of the statement after the select list: FROM source [alias] [WHERE expr] */
static void parse_from_where(struct parser *ps, struct floe_selsql_query *q)
{
    char got[64];
    if (!accept_kw(ps, "FROM")) {
        if (!refuse_unsupported(ps)) {
            tok_show(&ps->tok, got, sizeof(got));
            fail(ps, ps->tok.pos, "expected FROM after the select list, found %s", got);
        }
        return;
    }
    if (!is_kw(&ps->tok, "ARCHIVE") && !is_kw(&ps->tok, "OBJECT")) {
        tok_show(&ps->tok, got, sizeof(got));
        fail(ps, ps->tok.pos, "expected ARCHIVE or OBJECT after FROM, found %s", got);
        return;
    }
    next(ps);
    if (is_op(&ps->tok, "[") || is_op(&ps->tok, ".")) {
        fail(ps, ps->tok.pos, "paths into the archive are not supported by select jobs");
        return;
    }
    bool as = accept_kw(ps, "AS");
    if ((ps->tok.kind == T_IDENT && !reserved(&ps->tok)) || ps->tok.kind == T_QIDENT) {
        ps->alias = floe_xstrdup(ps->tok.text);
        next(ps);
    } else if (as) {
        tok_show(&ps->tok, got, sizeof(got));
        fail(ps, ps->tok.pos, "expected an alias after AS, found %s", got);
        return;
    }
    if (is_op(&ps->tok, ",")) {
        fail(ps, ps->tok.pos, "JOIN is not supported by select jobs (one source only)");
        return;
    }
    if (accept_kw(ps, "WHERE")) {
        q->where = parse_expr(ps);
        if (!q->where)
            return;
    }
    accept_op(ps, ";");
    if (ps->tok.kind != T_EOF && !refuse_unsupported(ps)) {
        tok_show(&ps->tok, got, sizeof(got));
        fail(ps, ps->tok.pos, "unexpected %s after the end of the query", got);
    }
}

/* A select-list item that is an aggregate or a star gets named; others parse as expressions. */
static void parse_select_list(struct parser *ps, struct floe_selsql_query *q)
{
    if (accept_op(ps, "*")) {
        q->star = true;
        return;
    }
    do {
        /* alias.* */
        if ((ps->tok.kind == T_IDENT || ps->tok.kind == T_QIDENT) && !reserved(&ps->tok)) {
            size_t save_at = ps->at;
            if (save_at + 1 < ps->len && ps->sql[save_at] == '.' && ps->sql[save_at + 1] == '*') {
                if (q->nproj) {
                    fail(ps, ps->tok.pos, "'*' is only allowed alone as the select list");
                    return;
                }
                ps->prefixes =
                    floe_xrealloc(ps->prefixes, (ps->nprefixes + 1) * sizeof(*ps->prefixes));
                ps->prefixes[ps->nprefixes].name = floe_xstrdup(ps->tok.text);
                ps->prefixes[ps->nprefixes++].pos = ps->tok.pos;
                next(ps);
                next(ps);
                next(ps);
                q->star = true;
                if (is_op(&ps->tok, ",")) {
                    fail(ps, ps->tok.pos, "'*' is only allowed alone as the select list");
                    return;
                }
                return;
            }
        }
        struct floe_selsql_expr *e = parse_expr(ps);
        if (!e)
            return;
        q->proj = floe_xrealloc(q->proj, (q->nproj + 1) * sizeof(*q->proj));
        q->proj[q->nproj++] = e;
        if (accept_kw(ps, "AS")) { /* output names are not used by CSV output */
            if (ps->tok.kind != T_IDENT && ps->tok.kind != T_QIDENT) {
                char got[64];
                tok_show(&ps->tok, got, sizeof(got));
                fail(ps, ps->tok.pos, "expected a name after AS, found %s", got);
                return;
            }
            next(ps);
        }
    } while (accept_op(ps, ","));
}

int floe_selsql_parse(const char *sql, size_t len, struct floe_selsql_query **out, char *msg,
                      size_t cap)
{
    struct parser ps = {.sql = sql, .len = len, .msg = msg, .cap = cap};
    struct floe_selsql_query *q = floe_xcalloc(1, sizeof(*q));
    if (cap)
        msg[0] = 0;
    if (len > FLOE_SELSQL_MAX_EXPRESSION) {
        fail(&ps, 0, "the expression is longer than %d characters", FLOE_SELSQL_MAX_EXPRESSION);
    } else if (memchr(sql, 0, len)) {
        fail(&ps, (size_t)((const char *)memchr(sql, 0, len) - sql), "NUL byte in the expression");
    } else {
        next(&ps);
        if (!accept_kw(&ps, "SELECT")) {
            char got[64];
            tok_show(&ps.tok, got, sizeof(got));
            fail(&ps, ps.tok.pos, "the expression must start with SELECT, found %s", got);
        }
    }
    if (!ps.failed && is_kw(&ps.tok, "DISTINCT"))
        refuse_unsupported(&ps);
    if (!ps.failed)
        parse_select_list(&ps, q);
    if (!ps.failed)
        parse_from_where(&ps, q);
    for (size_t i = 0; !ps.failed && i < ps.nprefixes; i++) {
        const char *p = ps.prefixes[i].name;
        if (!ps.alias)
            fail(&ps, ps.prefixes[i].pos,
                 "unknown alias '%s' (the FROM clause names no alias; write FROM ARCHIVE %s)", p,
                 p);
        else if (strcasecmp(p, ps.alias) != 0)
            fail(&ps, ps.prefixes[i].pos, "unknown alias '%s' (the FROM clause names '%s')", p,
                 ps.alias);
    }
    if (!ps.failed && ps.first_name_pos && ps.first_position_pos) {
        size_t later =
            ps.first_name_pos > ps.first_position_pos ? ps.first_name_pos : ps.first_position_pos;
        fail(&ps, later - 1, "a query may not mix header names and positions (_1, _2, ...)");
    }
    q->uses_names = ps.first_name_pos != 0;
    for (size_t i = 0; i < ps.nprefixes; i++)
        free(ps.prefixes[i].name);
    free(ps.prefixes);
    free(ps.alias);
    free(ps.tok.text);
    if (ps.failed) {
        floe_selsql_free(q);
        return -1;
    }
    *out = q;
    return 0;
}

/* A column name as messages quote it: at most NAME_SHOWN bytes and "..." (a long quoted name
 * must not push the position out of a message of bounded size). */
#define NAME_SHOWN 100

static int bind_expr(struct floe_selsql_expr *e, const struct floe_selcsv_field *header, size_t n,
                     char *msg, size_t cap)
{
    if (e->op == FLOE_SELSQL_COL && e->name) {
        const char *more = strlen(e->name) > NAME_SHOWN ? "..." : "";
        if (!header) {
            snprintf(msg, cap,
                     "column name '%.*s%s' at position %zu needs FileHeaderInfo USE (without it,"
                     " columns are _1, _2, ...)",
                     NAME_SHOWN, e->name, more, e->pos);
            return -1;
        }
        size_t nl = strlen(e->name);
        for (size_t i = 0; i < n; i++) {
            if (header[i].len != nl)
                continue;
            if (e->quoted ? memcmp(header[i].p, e->name, nl) == 0
                          : strncasecmp(header[i].p, e->name, nl) == 0) {
                e->col = i;
                return 0;
            }
        }
        snprintf(msg, cap, "unknown column name '%.*s%s' at position %zu (not in the header)",
                 NAME_SHOWN, e->name, more, e->pos);
        return -1;
    }
    for (size_t i = 0; i < e->nkids; i++)
        if (bind_expr(e->kids[i], header, n, msg, cap))
            return -1;
    return 0;
}

int floe_selsql_bind(struct floe_selsql_query *q, const struct floe_selcsv_field *header, size_t n,
                     char *msg, size_t cap)
{
    for (size_t i = 0; i < q->nproj; i++)
        if (bind_expr(q->proj[i], header, n, msg, cap))
            return -1;
    if (q->where && bind_expr(q->where, header, n, msg, cap))
        return -1;
    q->bound = true;
    return 0;
}

void floe_selsql_free(struct floe_selsql_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nproj; i++)
        expr_free(q->proj[i]);
    free(q->proj);
    expr_free(q->where);
    free(q);
}
