/*
 * filter.c - rsync-style include and exclude rules (the pattern language is in filter.h).
 *
 * DESIGN
 * A rule's pattern is compiled once, in floe_filter_add(), into a token list (literal byte,
 * '?', a 256-bit class, '*', '**'); the leading '/' (anchored) and the trailing '/' (directories
 * only) become flags. Matching runs the token list as an NFA over the path's bytes: the set of
 * live token positions is a bitset on the stack, so a match costs O(path bytes x tokens) with
 * no allocation and no backtracking (no pattern can make it exponential), and
 * floe_filter_match() only reads the filter, so any number of threads may call it at once.
 *
 * Which part of the path a pattern sees (rsync's rules):
 *   anchored ("/a/b")         the whole path;
 *   unanchored, no "**"       the last k components, k = the pattern's component count (a
 *                             path with fewer components does not match);
 *   unanchored, with "**"     any suffix of the path that starts at a component boundary (the
 *                             NFA re-enters its start state after every '/').
 * '*', '?' and classes never match '/'; "**" matches any run of bytes, '/' included, the
 * empty run too (so a "**" alone between two slashes still needs a component there, as in
 * rsync). An escaped
 * "\/" is a separator like '/'. Character classes: [abc], ranges [a-z], negation [!...] or
 * [^...], ']' first is literal, "\X" inside a class is X; POSIX "[:alpha:]" names are not
 * supported (they read as the bytes they are made of).
 */
#include "filter.h"

#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATTERN_MAX 4095 /* bytes; a longer pattern could never match a path anyway */

enum tok_kind { TOK_LIT, TOK_ANY, TOK_CLASS, TOK_STAR, TOK_DSTAR };

struct tok {
    uint8_t kind; /* enum tok_kind */
    uint8_t ch;   /* TOK_LIT: the byte */
    uint16_t cls; /* TOK_CLASS: index into rule.classes */
};

struct rule {
    enum floe_filter_verdict verdict;
    bool anchored, dir_only, has_dstar;
    unsigned ncomp; /* components of the pattern (separators + 1) */
    unsigned ntok;
    struct tok *toks;
    uint8_t (*classes)[32]; /* 256-bit sets of the bytes each class matches */
};

struct floe_filter {
    struct rule *rules;
    unsigned count, cap;
};

struct floe_filter *floe_filter_new(void)
{
    return floe_xcalloc(1, sizeof(struct floe_filter));
}

void floe_filter_free(struct floe_filter *f)
{
    if (!f)
        return;
    for (unsigned i = 0; i < f->count; i++) {
        free(f->rules[i].toks);
        free(f->rules[i].classes);
    }
    free(f->rules);
    free(f);
}

unsigned floe_filter_count(const struct floe_filter *f)
{
    return f ? f->count : 0;
}

static void set_bit(uint8_t *set, unsigned c)
{
    set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static bool has_bit(const uint8_t *set, unsigned c)
{
    return set[c >> 3] >> (c & 7) & 1;
}

/* State of one compile: the rule text for messages, the pattern being read. */
struct compiler {
    const char *rule;
    const char *p;
    size_t len, i;
    struct rule *r;
    unsigned ncls;
    struct floe_error *err;
};

static int bad(struct compiler *c, const char *what)
{
    return floe_error_set(c->err, FLOE_E_INVALID_ARG, "filter rule '%.200s': %s", c->rule, what);
}

/* One class member at c->i (an escaped byte or a plain one); false at the pattern's end. */
static bool class_byte(struct compiler *c, uint8_t *out)
{
    if (c->i < c->len && c->p[c->i] == '\\')
        c->i++;
    if (c->i >= c->len)
        return false;
    *out = (uint8_t)c->p[c->i++];
    return true;
}

/* A class starting after its '[': fills set, leaves c->i after the closing ']'. */
static int compile_class(struct compiler *c, uint8_t *set)
{
    bool neg = false, first = true;
    if (c->i < c->len && (c->p[c->i] == '!' || c->p[c->i] == '^')) {
        neg = true;
        c->i++;
    }
    for (;;) {
        if (c->i >= c->len)
            return bad(c, "unterminated '[' class");
        if (c->p[c->i] == ']' && !first) {
            c->i++;
            break;
        }
        first = false;
        uint8_t lo, hi;
        if (!class_byte(c, &lo))
            return bad(c, "unterminated '[' class");
        hi = lo;
        if (c->i + 1 < c->len && c->p[c->i] == '-' && c->p[c->i + 1] != ']') {
            c->i++;
            if (!class_byte(c, &hi))
                return bad(c, "unterminated '[' class");
            if (hi < lo)
                return bad(c, "reversed range in a '[' class");
        }
        for (unsigned b = lo; b <= hi; b++)
            set_bit(set, b);
    }
    if (neg)
        for (unsigned b = 0; b < 32; b++)
            set[b] = (uint8_t)~set[b];
    set[(unsigned)'/' >> 3] &= (uint8_t) ~(1u << ('/' & 7)); /* a class is within a component */
    return FLOE_OK;
}

/* The token list of the pattern, before the anchor and directory flags are taken off it. */
static int tokenize(struct compiler *c)
{
    struct rule *r = c->r;
    r->toks = floe_xcalloc(c->len ? c->len : 1, sizeof(struct tok));
    while (c->i < c->len) {
        struct tok t = {.kind = TOK_LIT};
        uint8_t ch = (uint8_t)c->p[c->i++];
        if (ch == '\\') {
            if (c->i >= c->len)
                return bad(c, "a trailing '\\' escapes nothing");
            t.ch = (uint8_t)c->p[c->i++];
        } else if (ch == '*') {
            t.kind = TOK_STAR;
            if (c->i < c->len && c->p[c->i] == '*') {
                t.kind = TOK_DSTAR;
                while (c->i < c->len && c->p[c->i] == '*')
                    c->i++;
            }
        } else if (ch == '?') {
            t.kind = TOK_ANY;
        } else if (ch == '[') {
            t.kind = TOK_CLASS;
            r->classes = floe_xrealloc(r->classes, (size_t)(c->ncls + 1) * sizeof(*r->classes));
            memset(r->classes[c->ncls], 0, sizeof(*r->classes));
            int rc = compile_class(c, r->classes[c->ncls]);
            if (rc)
                return rc;
            t.cls = (uint16_t)c->ncls++;
        } else {
            t.ch = ch;
        }
        r->toks[r->ntok++] = t;
    }
    return FLOE_OK;
}

static bool is_sep(const struct tok *t)
{
    return t->kind == TOK_LIT && t->ch == '/';
}

/* Compiles pattern into r: tokens, then the flags and the component count. */
static int compile(const char *rule, const char *pattern, struct rule *r, struct floe_error *err)
{
    struct compiler c = {.rule = rule, .p = pattern, .len = strlen(pattern), .r = r, .err = err};
    if (c.len == 0)
        return bad(&c, "empty pattern");
    if (c.len > PATTERN_MAX)
        return bad(&c, "pattern longer than 4095 bytes");
    int rc = tokenize(&c);
    if (rc)
        return rc;
    struct tok *t = r->toks;
    if (r->ntok && is_sep(&t[r->ntok - 1])) {
        r->dir_only = true;
        r->ntok--;
    }
    if (r->ntok && is_sep(&t[0])) {
        r->anchored = true;
        memmove(t, t + 1, (r->ntok - 1) * sizeof(*t));
        r->ntok--;
    }
    if (r->ntok == 0)
        return bad(&c, "the pattern names no component");
    r->ncomp = 1;
    for (unsigned i = 0; i < r->ntok; i++) {
        if (is_sep(&t[i])) {
            if (i == 0 || i + 1 == r->ntok || is_sep(&t[i + 1]))
                return bad(&c, "empty path component ('//')");
            r->ncomp++;
        }
        if (t[i].kind == TOK_DSTAR)
            r->has_dstar = true;
    }
    return FLOE_OK;
}

static int add(struct floe_filter *f, enum floe_filter_verdict v, const char *rule,
               const char *pattern, struct floe_error *err)
{
    struct rule r = {.verdict = v};
    int rc = compile(rule, pattern, &r, err);
    if (rc) {
        free(r.toks);
        free(r.classes);
        return rc;
    }
    if (f->count == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->rules = floe_xrealloc(f->rules, f->cap * sizeof(*f->rules));
    }
    f->rules[f->count++] = r;
    return FLOE_OK;
}

int floe_filter_add(struct floe_filter *f, const char *rule, struct floe_error *err)
{
    static const struct {
        const char *prefix;
        enum floe_filter_verdict v;
    } forms[] = {
        {"+ ", FLOE_FILTER_INCLUDE},
        {"- ", FLOE_FILTER_EXCLUDE},
        {"include ", FLOE_FILTER_INCLUDE},
        {"exclude ", FLOE_FILTER_EXCLUDE},
    };
    if (!rule)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "filter rule missing");
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        size_t n = strlen(forms[i].prefix);
        if (strncmp(rule, forms[i].prefix, n) == 0)
            return add(f, forms[i].v, rule, rule + n, err);
    }
    return floe_error_set(err, FLOE_E_INVALID_ARG,
                          "filter rule '%.200s': expected '+ PATTERN' or '- PATTERN'", rule);
}

/* As floe_filter_add of "+ P" / "- P", with that text in any message. */
static int add_form(struct floe_filter *f, enum floe_filter_verdict v, const char *pattern,
                    struct floe_error *err)
{
    if (!pattern)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "filter pattern missing");
    char rule[256];
    snprintf(rule, sizeof(rule), "%c %s", v == FLOE_FILTER_INCLUDE ? '+' : '-', pattern);
    return add(f, v, rule, pattern, err);
}

int floe_filter_add_include(struct floe_filter *f, const char *pattern, struct floe_error *err)
{
    return add_form(f, FLOE_FILTER_INCLUDE, pattern, err);
}

int floe_filter_add_exclude(struct floe_filter *f, const char *pattern, struct floe_error *err)
{
    return add_form(f, FLOE_FILTER_EXCLUDE, pattern, err);
}

/* ---- matching ---- */

#define WORDS_MAX ((PATTERN_MAX + 1 + 63) / 64)

/* Adds the states reachable from live ones without input: a '*' or '**' may match nothing. */
static void closure(const struct rule *r, uint64_t *s)
{
    for (unsigned i = 0; i < r->ntok; i++)
        if ((s[i / 64] >> (i % 64) & 1) && r->toks[i].kind >= TOK_STAR)
            s[(i + 1) / 64] |= 1ull << ((i + 1) % 64);
}

/* One input byte: next = the states the live states in cur move to on c. */
static bool step(const struct rule *r, const uint64_t *cur, uint64_t *next, unsigned nw, uint8_t c)
{
    bool any = false;
    memset(next, 0, nw * sizeof(*next));
    for (unsigned w = 0; w < nw; w++) {
        for (uint64_t bits = cur[w]; bits; bits &= bits - 1) {
            unsigned i = w * 64 + (unsigned)__builtin_ctzll(bits);
            if (i >= r->ntok)
                continue; /* the accepting state consumes nothing */
            const struct tok *t = &r->toks[i];
            unsigned to = i + 1;
            bool ok;
            switch (t->kind) {
            case TOK_LIT: ok = t->ch == c; break;
            case TOK_ANY: ok = c != '/'; break;
            case TOK_CLASS: ok = has_bit(r->classes[t->cls], c); break;
            case TOK_STAR: ok = c != '/', to = i; break;
            default: ok = true, to = i; break;
            }
            if (ok) {
                next[to / 64] |= 1ull << (to % 64);
                any = true;
            }
        }
    }
    return any;
}

/* Sets s to the start state (and what it reaches without input). */
static void start(const struct rule *r, uint64_t *s, unsigned nw)
{
    memset(s, 0, nw * sizeof(*s));
    s[0] = 1;
    closure(r, s);
}

/* Whether the tokens of r match s[0..n) whole; restart: re-enter the start after each '/'. */
static bool run(const struct rule *r, const uint8_t *s, size_t n, bool restart)
{
    uint64_t a[WORDS_MAX], b[WORDS_MAX];
    unsigned nw = r->ntok / 64 + 1;
    uint64_t *cur = a, *next = b;
    start(r, cur, nw);
    for (size_t k = 0; k < n; k++) {
        if (step(r, cur, next, nw, s[k])) {
            if (restart && s[k] == '/')
                next[0] |= 1;
            closure(r, next);
        } else if (!restart) {
            return false;
        } else {
            // nothing live: only the next component boundary can start a match again
            const uint8_t *slash = memchr(s + k, '/', n - k);
            if (!slash)
                return false;
            k = (size_t)(slash - s);
            start(r, next, nw);
        }
        uint64_t *tmp = cur;
        cur = next;
        next = tmp;
    }
    return cur[r->ntok / 64] >> (r->ntok % 64) & 1;
}

static bool rule_matches(const struct rule *r, const char *path, size_t n, bool is_dir)
{
    if (r->dir_only && !is_dir)
        return false;
    const uint8_t *s = (const uint8_t *)path;
    if (r->anchored)
        return run(r, s, n, false);
    if (r->has_dstar)
        return run(r, s, n, true);
    size_t start = n;
    unsigned comps = 1;
    while (start > 0) {
        if (s[start - 1] == '/') {
            if (comps == r->ncomp)
                break;
            comps++;
        }
        start--;
    }
    if (comps < r->ncomp)
        return false;
    return run(r, s + start, n - start, false);
}

enum floe_filter_verdict floe_filter_match(const struct floe_filter *f, const char *relpath,
                                           bool is_dir)
{
    if (!f || !relpath)
        return FLOE_FILTER_NONE;
    size_t n = strlen(relpath);
    for (unsigned i = 0; i < f->count; i++)
        if (rule_matches(&f->rules[i], relpath, n, is_dir))
            return f->rules[i].verdict;
    return FLOE_FILTER_NONE;
}
