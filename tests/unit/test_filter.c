/*
 * test_filter.c - filter.c's rules as a table of (rules, path, is_dir, verdict): every pattern
 * feature (*, **, ?, classes, escapes, anchoring, the last-k-components rule, directory-only
 * rules, first match wins), rsync's documented examples, names that are not UTF-8; then every
 * refused rule with its exact message, and a pattern that would be exponential for a
 * backtracking matcher.
 */
#include "t_util.h"

#include "filter.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N FLOE_FILTER_NONE
#define I FLOE_FILTER_INCLUDE
#define E FLOE_FILTER_EXCLUDE
#define F false
#define D true

struct fcase {
    const char *rules[4];
    const char *path;
    bool is_dir;
    enum floe_filter_verdict want;
};

static const struct fcase s_cases[] = {
    /* '*': any run within one component; an unanchored one-component pattern sees the name */
    {{"- *.tmp"}, "a.tmp", F, E},
    {{"- *.tmp"}, "x/y/a.tmp", F, E},
    {{"- *.tmp"}, "a.tmpx", F, N},
    {{"- *.tmp"}, "a.tmp/b", F, N},
    {{"- *.tmp"}, "dir.tmp", D, E},
    {{"- *"}, "anything/at/all", F, E},
    {{"- *"}, "a", D, E},
    {{"- a*"}, "b/a1", F, E},
    {{"- a*"}, "a1/b", F, N},
    {{"- /abc*"}, "abcdef", F, E},
    {{"- *a*b*c"}, "xxaxxbxxbcc", F, E},
    {{"- *a*b*c"}, "xxaxxbxxbcx", F, N},
    {{"- *.TXT"}, "a.txt", F, N},
    /* anchored: the whole path from the source root */
    {{"- /a.tmp"}, "a.tmp", F, E},
    {{"- /a.tmp"}, "x/a.tmp", F, N},
    {{"- /a/*"}, "a/b", F, E},
    {{"- /a/*"}, "a/b/c", F, N},
    {{"- /a/*"}, "z/a/b", F, N},
    {{"- /*/*/c"}, "a/b/c", F, E},
    {{"- /*/*/c"}, "a/c", F, N},
    /* unanchored with k components: the last k components */
    {{"- cache/*.bin"}, "x/y/cache/a.bin", F, E},
    {{"- cache/*.bin"}, "cache/a.bin", F, E},
    {{"- cache/*.bin"}, "a.bin", F, N},
    {{"- cache/*.bin"}, "xcache/a.bin", F, N},
    {{"- cache/*.bin"}, "cache/sub/a.bin", F, N},
    {{"- a/b/c"}, "a/b/c", F, E},
    {{"- a/b/c"}, "z/a/b/c", F, E},
    {{"- a/b/c"}, "b/c", F, N},
    {{"- a/b"}, "a/b", D, E},
    /* '**': any run, '/' included, possibly empty */
    {{"- /a/**"}, "a/b/c", F, E},
    {{"- /a/**"}, "a", D, N},
    {{"- /a**b"}, "a/b", F, E},
    {{"- /a**b"}, "a/x/y/b", F, E},
    {{"- /a*b"}, "a/b", F, N},
    {{"- a/**/b"}, "a/b", F, N},
    {{"- a/**/b"}, "a/x/b", F, E},
    {{"- a/**/b"}, "q/a/x/y/b", F, E},
    {{"- a/**/b"}, "qa/x/b", F, N},
    {{"- /a/**/b"}, "q/a/x/b", F, N},
    {{"- **/foo"}, "foo", F, N},
    {{"- **/foo"}, "x/foo", F, E},
    {{"- **.o"}, "a/b/c.o", F, E},
    {{"- /**"}, "a/b", F, E},
    {{"- **"}, "a", F, E},
    {{"- ***"}, "a/b", F, E},
    /* '?': one byte, never '/' */
    {{"- ?.c"}, "a.c", F, E},
    {{"- ?.c"}, "ab.c", F, N},
    {{"- ?"}, "x/y", F, E},
    {{"- /a?b"}, "a/b", F, N},
    /* classes */
    {{"- [abc].txt"}, "b.txt", F, E},
    {{"- [abc].txt"}, "d.txt", F, N},
    {{"- [a-c]x"}, "bx", F, E},
    {{"- [a-c]x"}, "dx", F, N},
    {{"- [!a-c]x"}, "dx", F, E},
    {{"- [!a-c]x"}, "ax", F, N},
    {{"- [^0-9]*"}, "7up", F, N},
    {{"- [^0-9]*"}, "up7", F, E},
    {{"- []]"}, "]", F, E},
    {{"- [!]]"}, "a", F, E},
    {{"- [!]]"}, "]", F, N},
    {{"- [a-]"}, "-", F, E},
    {{"- [\\]]"}, "]", F, E},
    {{"- /x[!a]y"}, "x/y", F, N},
    {{"- [a-cx-z0]"}, "y", F, E},
    {{"- [a-cx-z0]"}, "0", F, E},
    {{"- [a-cx-z0]"}, "w", F, N},
    /* escapes */
    {{"- \\*"}, "*", F, E},
    {{"- \\*"}, "a", F, N},
    {{"- a\\?"}, "a?", F, E},
    {{"- a\\?"}, "ab", F, N},
    {{"- \\[x]"}, "[x]", F, E},
    {{"- \\[x]"}, "x", F, N},
    {{"- a\\\\b"}, "a\\b", F, E},
    /* trailing '/': directories only */
    {{"- build/"}, "build", D, E},
    {{"- build/"}, "build", F, N},
    {{"- build/"}, "lib/build", D, E},
    {{"- /build/"}, "lib/build", D, N},
    {{"- *.tmp/"}, "x/y.tmp", D, E},
    {{"- /a/**/"}, "a/b/c", D, E},
    {{"- /a/**/"}, "a/b/c", F, N},
    /* first match wins; no match is NONE */
    {{"+ keep.tmp", "- *.tmp"}, "keep.tmp", F, I},
    {{"+ keep.tmp", "- *.tmp"}, "x.tmp", F, E},
    {{"- *.tmp", "+ keep.tmp"}, "keep.tmp", F, E},
    {{"+ *.c"}, "x.h", F, N},
    {{NULL}, "a", F, N},
    {{"include *.c", "exclude *"}, "x.c", F, I},
    {{"include *.c", "exclude *"}, "x.h", F, E},
    /* rsync's examples: only .c files, at any depth */
    {{"+ */", "+ *.c", "- *"}, "lib", D, I},
    {{"+ */", "+ *.c", "- *"}, "lib/main.c", F, I},
    {{"+ */", "+ *.c", "- *"}, "lib/main.h", F, E},
    {{"+ */", "+ *.c", "- *"}, "README", F, E},
    /* "- /a/" before "+ /a/keep": a itself is excluded (the walk never looks inside) */
    {{"- /a/", "+ /a/keep"}, "a", D, E},
    {{"- /a/", "+ /a/keep"}, "a/keep", F, I},
    /* "- *.o" "- /foo": rsync's man page: foo only at the top, .o anywhere */
    {{"- *.o", "- /foo"}, "foo", F, E},
    {{"- *.o", "- /foo"}, "x/foo", F, N},
    {{"- *.o", "- /foo"}, "x/y.o", F, E},
    /* "- foo/": directories named foo, not files */
    {{"- foo/"}, "a/foo", D, E},
    {{"- foo/"}, "a/foo", F, N},
    /* bar two levels below the top foo, or any number with "**" */
    {{"- /foo/*/bar"}, "foo/x/bar", F, E},
    {{"- /foo/*/bar"}, "foo/x/y/bar", F, N},
    {{"- /foo/**/bar"}, "foo/x/y/bar", F, E},
    /* bytes, not characters; names with spaces, newlines and invalid UTF-8 */
    {{"- *\xff*"},
     "a\xff"
     "b",
     F,
     E},
    {{"- ?"}, "\xe9", F, E},
    {{"- ??"}, "\xc3\xa9", F, E},
    {{"- ?"}, "\xc3\xa9", F, N},
    {{"- a?b"}, "a\nb", F, E},
    {{"- my file"}, "dir/my file", F, E},
    {{"-  lead"}, "x/ lead", F, E},
    {{"-  lead"}, "lead", F, N},
    {{"- [\x80-\xff]*"}, "d/\xc3x", F, E},
    {{"- [\x80-\xff]*"}, "d/x\xc3", F, N},
};

static const char *vname(enum floe_filter_verdict v)
{
    return v == I ? "include" : v == E ? "exclude" : "none";
}

static void test_filter_table(void **state)
{
    (void)state;
    size_t n = sizeof(s_cases) / sizeof(s_cases[0]);
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        const struct fcase *c = &s_cases[i];
        struct floe_filter *f = floe_filter_new();
        struct floe_error err = {0};
        unsigned rules = 0;
        for (; rules < 4 && c->rules[rules]; rules++)
            assert_int_equal(floe_filter_add(f, c->rules[rules], &err), FLOE_OK);
        assert_int_equal(floe_filter_count(f), rules);
        enum floe_filter_verdict got = floe_filter_match(f, c->path, c->is_dir);
        if (got != c->want) {
            fprintf(stderr, "case %zu: rule '%s'%s path '%s'%s: got %s, want %s\n", i,
                    c->rules[0] ? c->rules[0] : "", rules > 1 ? " ..." : "", c->path,
                    c->is_dir ? " (dir)" : "", vname(got), vname(c->want));
            failures++;
        }
        floe_filter_free(f);
    }
    fprintf(stderr, "# %zu cases\n", n);
    assert_true(n > 60);
    assert_int_equal(failures, 0);
}

struct bad {
    const char *rule;
    const char *message;
};

static const struct bad s_bad[] = {
    {"* x", "filter rule '* x': expected '+ PATTERN' or '- PATTERN'"},
    {"+x", "filter rule '+x': expected '+ PATTERN' or '- PATTERN'"},
    {"+", "filter rule '+': expected '+ PATTERN' or '- PATTERN'"},
    {"", "filter rule '': expected '+ PATTERN' or '- PATTERN'"},
    {"+\tx", "filter rule '+\tx': expected '+ PATTERN' or '- PATTERN'"},
    {"Include x", "filter rule 'Include x': expected '+ PATTERN' or '- PATTERN'"},
    {"+ ", "filter rule '+ ': empty pattern"},
    {"exclude ", "filter rule 'exclude ': empty pattern"},
    {"- [abc", "filter rule '- [abc': unterminated '[' class"},
    {"- [", "filter rule '- [': unterminated '[' class"},
    {"- [!", "filter rule '- [!': unterminated '[' class"},
    {"- []", "filter rule '- []': unterminated '[' class"},
    {"- [a-\\", "filter rule '- [a-\\': unterminated '[' class"},
    {"- a\\", "filter rule '- a\\': a trailing '\\' escapes nothing"},
    {"- [z-a]", "filter rule '- [z-a]': reversed range in a '[' class"},
    {"- a//b", "filter rule '- a//b': empty path component ('//')"},
    {"- //a", "filter rule '- //a': empty path component ('//')"},
    {"- a//", "filter rule '- a//': empty path component ('//')"},
    {"- /", "filter rule '- /': the pattern names no component"},
    {"+ //", "filter rule '+ //': the pattern names no component"},
};

static void expect_message(int rc, const struct floe_error *err, const char *want)
{
    assert_int_equal(rc, FLOE_E_INVALID_ARG);
    assert_int_equal(err->status, FLOE_E_INVALID_ARG);
    if (strcmp(err->message, want) != 0) {
        fprintf(stderr, "message \"%s\", want \"%s\"\n", err->message, want);
        fail();
    }
}

static void test_filter_bad_rules(void **state)
{
    (void)state;
    struct floe_filter *f = floe_filter_new();
    struct floe_error err = {0};
    assert_int_equal(floe_filter_add(f, "- *.o", &err), FLOE_OK);
    for (size_t i = 0; i < sizeof(s_bad) / sizeof(s_bad[0]); i++)
        expect_message(floe_filter_add(f, s_bad[i].rule, &err), &err, s_bad[i].message);
    expect_message(floe_filter_add(f, NULL, &err), &err, "filter rule missing");
    expect_message(floe_filter_add_include(f, "", &err), &err, "filter rule '+ ': empty pattern");
    expect_message(floe_filter_add_exclude(f, "a[", &err), &err,
                   "filter rule '- a[': unterminated '[' class");
    expect_message(floe_filter_add_include(f, NULL, &err), &err, "filter pattern missing");
    /* a refused rule leaves the list as it was */
    assert_int_equal(floe_filter_count(f), 1);
    assert_int_equal(floe_filter_match(f, "x.o", false), E);
    assert_int_equal(floe_filter_match(f, "x.c", false), N);

    /* the pattern limit: 4,095 bytes pass, 4,096 do not */
    char *rule = malloc(4096 + 3);
    assert_non_null(rule);
    memcpy(rule, "- ", 2);
    memset(rule + 2, 'x', 4095);
    rule[2 + 4095] = 0;
    assert_int_equal(floe_filter_add(f, rule, &err), FLOE_OK);
    assert_int_equal(floe_filter_match(f, rule + 2, false), E);
    rule[2 + 4095] = 'x';
    rule[2 + 4096] = 0;
    assert_int_equal(floe_filter_add(f, rule, &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "': pattern longer than 4095 bytes"));
    assert_int_equal(floe_filter_count(f), 2);
    free(rule);
    floe_filter_free(f);
    floe_filter_free(NULL);
}

/* The include and exclude wrappers are "+ P" / "- P"; the long forms are the short ones. */
static void test_filter_forms(void **state)
{
    (void)state;
    struct floe_error err = {0};
    struct floe_filter *f = floe_filter_new();
    assert_int_equal(floe_filter_add_include(f, "*.c", &err), FLOE_OK);
    assert_int_equal(floe_filter_add_exclude(f, "*", &err), FLOE_OK);
    assert_int_equal(floe_filter_match(f, "a/b.c", false), I);
    assert_int_equal(floe_filter_match(f, "a/b.h", false), E);
    assert_int_equal(floe_filter_match(NULL, "a", false), N);
    floe_filter_free(f);
}

/* "*a*a*a...b" against "aaaa...": exponential for a naive backtracking matcher. */
static void test_filter_no_blowup(void **state)
{
    (void)state;
    struct floe_error err = {0};
    struct floe_filter *f = floe_filter_new();
    assert_int_equal(floe_filter_add(f, "- /**a**a**a**a**a**a**a**a**a**a**b", &err), FLOE_OK);
    assert_int_equal(floe_filter_add(f, "- *a*a*a*a*a*a*a*a*a*a*a*a*b", &err), FLOE_OK);
    char path[4001];
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = 0;
    for (size_t i = 100; i < sizeof(path) - 1; i += 100)
        path[i] = '/';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(floe_filter_match(f, path, false), N);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(s < 2.0);
    floe_filter_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_table),
        cmocka_unit_test(test_filter_bad_rules),
        cmocka_unit_test(test_filter_forms),
        cmocka_unit_test(test_filter_no_blowup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
