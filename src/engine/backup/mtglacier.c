/*
 * mtglacier.c - readers (and the mt2 writer) for mt-aws-glacier's public formats, and the import
 * of its journal into a floe catalog (API in mtglacier.h; the formats in
 * docs/mtglacier-format.md).
 *
 * DESIGN
 * Journal: bytes are fed to a line assembler (one scratch line, grown to the longest line seen,
 * at most FLOE_MTGLACIER_LINE_MAX bytes; a longer line is malformed and skipped to its newline), so
 * a file is read in 64 KiB chunks in constant memory and a buffer goes through the same code. Each
 * complete line is checked for UTF-8, then parsed by its shape: "<letter>\t..." (versions A, B, C;
 * a later letter is a newer version this reader refuses by name) or "<digits> ..." (the older
 * format). A parse either fills a record or returns the reason the line is malformed; the caller
 * adds the line number. Nothing is kept between lines. mt2: base64url of UTF-8 JSON; JSON is
 * written here (two known keys, deterministic output) and read with jansson (any key order,
 * escapes, duplicate keys refused). Times are converted with calendar arithmetic, not timegm(), so
 * every year from 1000 to 9999 works on any libc.
 */
#include "mtglacier.h"

#include "alloc.h"
#include "civil.h"

#include <jansson.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const floe_mtglacier_version_names[FLOE_MTGLACIER_VERSION_COUNT] = {"0", "A", "B", "C"};
const char *const floe_mtglacier_type_names[FLOE_MTGLACIER_TYPE_COUNT] = {"CREATED", "DELETED",
                                                                          "RETRIEVE_JOB"};
static_assert(sizeof(floe_mtglacier_version_names) / sizeof(char *) == FLOE_MTGLACIER_VERSION_COUNT,
              "version names");
static_assert(sizeof(floe_mtglacier_type_names) / sizeof(char *) == FLOE_MTGLACIER_TYPE_COUNT,
              "type names");

/* ---- small checks ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Whether n bytes are valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* A relative path as mt-aws-glacier stores one: non-empty, no leading '/', no empty, "." or
 * ".." part, valid UTF-8. */
static const char *relative_problem(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return "has an empty file name";
    if (name[0] == '/')
        return "has an absolute file name (it must be relative)";
    if (!utf8_valid((const uint8_t *)name, n))
        return "has a file name that is not valid UTF-8";
    for (const char *p = name;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return "has a file name with an empty, \".\" or \"..\" part";
        if (!slash)
            break;
        p = slash + 1;
    }
    return NULL;
}

/* 1 to 20 decimal digits, nothing else, value within max. */
static bool parse_digits(const char *s, uint64_t max, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return false;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* [+-]? 1 to 20 digits fitting an int64. */
static bool parse_signed(const char *s, int64_t *out)
{
    bool neg = s[0] == '-';
    uint64_t v;
    if (!parse_digits(s + (s[0] == '-' || s[0] == '+'), (uint64_t)INT64_MAX + neg, &v))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* A non-empty token without white space (mt-aws-glacier's \S+). */
static bool token_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (is_space(*s))
            return false;
    return true;
}

static bool parse_hex64(const char *s, uint8_t out[FLOE_HASH_BYTES])
{
    if (strlen(s) != 2 * FLOE_HASH_BYTES)
        return false;
    for (size_t i = 0; i < FLOE_HASH_BYTES; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d < 0)
                return false;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

/* ---- journal lines ---- */

/* The next tab-separated field of *cur (NUL-terminated in place), or NULL when none is left. */
static char *take_tab(char **cur)
{
    char *s = *cur;
    if (!s)
        return NULL;
    char *tab = strchr(s, '\t');
    if (tab) {
        *tab = 0;
        *cur = tab + 1;
    } else {
        *cur = NULL;
    }
    return s;
}

/* The CREATED fields after the type, shared by both formats: id, size, tree hash, filename. */
static const char *created_common(struct floe_mtglacier_record *r, const char *id, const char *size,
                                  const char *hash, const char *name)
{
    if (!id || !token_ok(id))
        return "CREATED has no archive id";
    if (!size || !parse_digits(size, INT64_MAX, &r->size_bytes))
        return "CREATED has a size that is not a number of at most 20 digits";
    if (!hash || !parse_hex64(hash, r->tree_hash))
        return "CREATED has a tree hash that is not 64 hex digits";
    if (!name)
        return "CREATED has no file name";
    const char *bad = relative_problem(name);
    if (bad)
        return bad;
    r->archive_id = id;
    r->filename = name;
    return NULL;
}

/* "A|B|C \t time \t TYPE \t ..." (see docs/mtglacier-format.md). */
static const char *parse_lettered(char *s, struct floe_mtglacier_record *r)
{
    char *cur = s;
    char *ver = take_tab(&cur), *time = take_tab(&cur), *type = take_tab(&cur);
    r->version = (enum floe_mtglacier_version)(ver[0] - 'A' + FLOE_MTGLACIER_VA);
    uint64_t t;
    if (!time || !parse_digits(time, INT64_MAX, &t))
        return "has a time that is not a number of at most 20 digits";
    r->time = (int64_t)t;
    if (!type)
        return "has no record type";
    if (strcmp(type, "CREATED") == 0) {
        r->type = FLOE_MTGLACIER_CREATED;
        char *id = take_tab(&cur), *size = take_tab(&cur), *mtime = take_tab(&cur);
        char *hash = take_tab(&cur);
        const char *bad = created_common(r, id, size, hash, cur);
        if (bad)
            return bad;
        if (!mtime)
            return "CREATED has no mtime";
        if (strcmp(mtime, "NONE") == 0) {
            if (r->version == FLOE_MTGLACIER_VA)
                return "CREATED of version A has mtime NONE, which only versions B and C allow";
            r->has_mtime = false;
        } else if (parse_signed(mtime, &r->mtime)) {
            /* version A wrote an mtime even when it had none: archive id == file name marks
             * those records (made from an inventory) */
            r->has_mtime = !(r->version == FLOE_MTGLACIER_VA && strcmp(id, cur) == 0);
        } else {
            return "CREATED has an mtime that is neither a number nor NONE";
        }
        return NULL;
    }
    if (strcmp(type, "DELETED") == 0 || strcmp(type, "RETRIEVE_JOB") == 0) {
        bool del = type[0] == 'D';
        r->type = del ? FLOE_MTGLACIER_DELETED : FLOE_MTGLACIER_RETRIEVE_JOB;
        char *id = take_tab(&cur);
        if (!id || !token_ok(id))
            return del ? "DELETED has no archive id" : "RETRIEVE_JOB has no archive id";
        r->archive_id = id;
        if (!cur)
            return del ? "DELETED has no file name" : "RETRIEVE_JOB has no job id";
        if (del) {
            const char *bad = relative_problem(cur);
            if (bad)
                return bad;
            r->filename = cur;
        } else {
            r->job_id = cur;
        }
        return NULL;
    }
    return "has an unknown record type (not CREATED, DELETED or RETRIEVE_JOB)";
}

/* The next run of non-space characters of *cur (NUL-terminated in place); *cur moves past it
 * and the white space after it. */
static char *take_word(char **cur)
{
    char *s = *cur;
    if (!*s || is_space(*s))
        return NULL;
    while (**cur && !is_space(**cur))
        (*cur)++;
    char *end = *cur;
    while (**cur && is_space(**cur))
        (*cur)++;
    *end = 0;
    return s;
}

/*
 * The older format: "time CREATED id size treehash filename" with single spaces; DELETED
 * ("time DELETED id filename") and RETRIEVE_JOB ("time RETRIEVE_JOB id") separated by any run of
 * white space.
 */
static const char *parse_old(char *s, struct floe_mtglacier_record *r)
{
    r->version = FLOE_MTGLACIER_V0;
    char *sp = strchr(s, ' ');
    if (sp && strncmp(sp, " CREATED ", 9) == 0) {
        r->type = FLOE_MTGLACIER_CREATED;
        *sp = 0;
        uint64_t t;
        if (!parse_digits(s, INT64_MAX, &t))
            return "has a time that is not a number of at most 20 digits";
        r->time = (int64_t)t;
        /* single spaces: id, size and hash are each followed by exactly one ' ' */
        char *f[3], *cur = sp + 9;
        for (int i = 0; i < 3; i++) {
            char *end = cur ? strchr(cur, ' ') : NULL;
            f[i] = cur;
            if (end)
                *end = 0;
            cur = end ? end + 1 : NULL;
        }
        return created_common(r, f[0], f[1], f[2], cur);
    }
    char *cur = s;
    char *time = take_word(&cur), *type = time ? take_word(&cur) : NULL;
    uint64_t t;
    if (!time || !parse_digits(time, INT64_MAX, &t))
        return "has a time that is not a number of at most 20 digits";
    r->time = (int64_t)t;
    if (type && strcmp(type, "DELETED") == 0) {
        r->type = FLOE_MTGLACIER_DELETED;
        char *id = take_word(&cur);
        if (!id)
            return "DELETED has no archive id";
        r->archive_id = id;
        const char *bad = relative_problem(cur);
        if (bad)
            return bad;
        r->filename = cur;
        return NULL;
    }
    if (type && strcmp(type, "RETRIEVE_JOB") == 0) {
        r->type = FLOE_MTGLACIER_RETRIEVE_JOB;
        char *id = take_word(&cur);
        if (!id || *cur || cur != id + strlen(id)) /* nothing after the id, not even space */
            return "RETRIEVE_JOB must hold exactly one archive id in this format";
        r->archive_id = id;
        r->job_id = "";
        return NULL;
    }
    return "has an unknown record type (not CREATED, DELETED or RETRIEVE_JOB)";
}

/* One line (no line end, NUL-terminated, writable): NULL and *r filled, or why it is malformed. */
static const char *parse_line(char *s, size_t len, struct floe_mtglacier_record *r)
{
    if (len == 0)
        return "is empty";
    if (strlen(s) != len)
        return "holds a NUL byte";
    if (!utf8_valid((const uint8_t *)s, len))
        return "is not valid UTF-8";
    if (s[0] >= 'A' && s[0] <= 'Z' && s[1] == '\t') {
        if (s[0] > 'C')
            return "is from a newer mt-aws-glacier journal version (this reader knows A to C)";
        return parse_lettered(s, r);
    }
    if (s[0] >= '0' && s[0] <= '9')
        return parse_old(s, r);
    return "is in an unknown format (neither \"A\"/\"B\"/\"C\" + tab nor a time + space)";
}

/* ---- the line assembler shared by files and buffers ---- */

struct assembler {
    struct floe_mtglacier_parse *p;
    const char *name;
    char *line; /* cap bytes, grown as lines need, at most FLOE_MTGLACIER_LINE_MAX + 1 */
    size_t cap;
    size_t len;
    bool too_long; /* the current line overflowed: skip to its end */
};

/* A complete line (its '\n' removed): parse it and hand over the record or the complaint. */
static int line_done(struct assembler *a, struct floe_error *err)
{
    struct floe_mtglacier_parse *p = a->p;
    uint64_t lineno = ++p->stats.lines;
    size_t len = a->len;
    bool too_long = a->too_long;
    a->len = 0;
    a->too_long = false;
    if (len > 0 && a->line[len - 1] == '\r')
        len--;
    a->line[len] = 0;
    struct floe_mtglacier_record r = {.line = lineno};
    const char *why = too_long ? "is longer than 1 MiB" : parse_line(a->line, len, &r);
    if (why) {
        if (p->on_malformed && p->on_malformed(lineno, why, p->user) == 0) {
            p->stats.malformed++;
            return FLOE_OK;
        }
        return floe_error_set(err, FLOE_E_CORRUPT, "journal %s line %" PRIu64 ": %s", a->name,
                              lineno, why);
    }
    p->stats.records[r.type]++;
    p->stats.versions[r.version]++;
    if (p->on_record(&r, p->user) != 0)
        return floe_error_set(err, FLOE_E_CANCELLED, "journal %s: reading stopped at line %" PRIu64,
                              a->name, lineno);
    return FLOE_OK;
}

static int feed(struct assembler *a, const char *data, size_t n, struct floe_error *err)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (!a->too_long) {
            if (a->len + take > FLOE_MTGLACIER_LINE_MAX) {
                a->too_long = true;
            } else {
                if (a->len + take + 1 > a->cap) {
                    while (a->len + take + 1 > a->cap)
                        a->cap *= 2;
                    if (a->cap > FLOE_MTGLACIER_LINE_MAX + 1)
                        a->cap = FLOE_MTGLACIER_LINE_MAX + 1;
                    a->line = floe_xrealloc(a->line, a->cap);
                }
                memcpy(a->line + a->len, data, take);
                a->len += take;
            }
        }
        if (!nl)
            return FLOE_OK;
        int st = line_done(a, err);
        if (st != FLOE_OK)
            return st;
        data = nl + 1;
        n -= take + 1;
    }
    return FLOE_OK;
}

/* End of input: bytes after the last newline are a torn line (mt-aws-glacier refuses it too). */
static int finish(struct assembler *a, struct floe_error *err)
{
    if (a->len == 0 && !a->too_long)
        return FLOE_OK;
    struct floe_mtglacier_parse *p = a->p;
    uint64_t lineno = p->stats.lines + 1;
    const char *why = "is not terminated by a line end (a torn write?)";
    p->stats.lines++;
    if (p->on_malformed && p->on_malformed(lineno, why, p->user) == 0) {
        p->stats.malformed++;
        return FLOE_OK;
    }
    return floe_error_set(err, FLOE_E_CORRUPT, "journal %s line %" PRIu64 ": %s", a->name, lineno,
                          why);
}

static void assembler_init(struct assembler *a, struct floe_mtglacier_parse *p, const char *name)
{
    memset(a, 0, sizeof(*a));
    memset(&p->stats, 0, sizeof(p->stats));
    a->p = p;
    a->name = name ? name : "(buffer)";
    a->cap = 4096;
    a->line = floe_xmalloc(a->cap);
}

int floe_mtglacier_parse_buffer(const void *data, size_t len, const char *name,
                                struct floe_mtglacier_parse *p, struct floe_error *err)
{
    struct assembler a;
    assembler_init(&a, p, name);
    int st = feed(&a, data, len, err);
    if (st == FLOE_OK)
        st = finish(&a, err);
    free(a.line);
    return st;
}

int floe_mtglacier_parse_file(const char *path, struct floe_mtglacier_parse *p,
                              struct floe_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open journal %s", path);
    struct assembler a;
    assembler_init(&a, p, path);
    char *buf = floe_xmalloc(1 << 16);
    int st = FLOE_OK;
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 16);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot read journal %s", path);
            break;
        }
        if (r == 0) {
            st = finish(&a, err);
            break;
        }
        if ((st = feed(&a, buf, (size_t)r, err)) != FLOE_OK)
            break;
    }
    close(fd);
    free(buf);
    free(a.line);
    return st;
}

/* ---- times: YYYYMMDDTHHMMSSZ <-> seconds ---- */

/* n digits at *s into *v; *s moves past them. */
static bool digits_n(const char **s, int n, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return false;
        *v = *v * 10 + (unsigned)(**s - '0');
    }
    return true;
}

static void skip_set(const char **s, const char *set)
{
    while (**s && (strchr(set, **s) || is_space(**s)))
        (*s)++;
}

/*
 * mt-aws-glacier's time: YYYYMMDDTHHMMSSZ in UTC; readers also take '-' between the date parts,
 * ':' between the time parts, white space around them, a fraction (dropped), lower-case t/z, and
 * seconds 60 or 61 (a leap second, counted past :59).
 */
static bool parse_iso(const char *s, int64_t *out)
{
    unsigned year, mon, day, hour, min, sec;
    skip_set(&s, "");
    if (!digits_n(&s, 4, &year))
        return false;
    skip_set(&s, "-");
    if (!digits_n(&s, 2, &mon))
        return false;
    skip_set(&s, "-");
    if (!digits_n(&s, 2, &day))
        return false;
    skip_set(&s, "");
    if (*s != 'T' && *s != 't')
        return false;
    s++;
    skip_set(&s, "");
    if (!digits_n(&s, 2, &hour))
        return false;
    skip_set(&s, ":");
    if (!digits_n(&s, 2, &min))
        return false;
    skip_set(&s, ":");
    if (!digits_n(&s, 2, &sec))
        return false;
    for (int i = 0; i < 10 && (*s == ',' || *s == '.' || (*s >= '0' && *s <= '9')); i++)
        s++;
    skip_set(&s, "");
    if (*s != 'Z' && *s != 'z')
        return false;
    s++;
    skip_set(&s, "");
    if (!floe_civil_valid(year, mon, day) || hour > 23 || min > 59 || sec > 61 || *s)
        return false;
    *out = floe_days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    return true;
}

/* ---- base64url ---- */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes without padding; out must hold 4 * ceil(n / 3) + 1. Returns the length. */
static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = B64URL[(v >> 18) & 63];
        out[o++] = B64URL[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = B64URL[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = B64URL[v & 63];
    }
    out[o] = 0;
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* Decodes base64url (also the standard alphabet; '=' padding allowed at the end). out holds
 * 3 * n / 4 bytes. false on any other character or an impossible length. */
static bool b64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return true;
}

/* ---- mt2 ---- */

int floe_mtglacier_mt2_encode(const char *filename, int64_t mtime, char *out, size_t cap,
                              struct floe_error *err)
{
    const char *bad = relative_problem(filename);
    if (bad)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "cannot describe \"%.64s\" in mt2: it %s",
                              filename, bad);
    int64_t days = mtime / 86400, rem = mtime % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    floe_civil_from_days(days, &y, &m, &d);
    if (y < 1000 || y > 9999)
        return floe_error_set(err, FLOE_E_RANGE,
                              "mt2 description: mtime %" PRId64 " is outside the years 1000 to "
                              "9999 the format can hold",
                              mtime);
    /* JSON by hand: two known keys; '"', '\' and control characters escaped, UTF-8 as is */
    size_t n = strlen(filename);
    if (n > FLOE_MTGLACIER_DESC_MAX)
        return floe_error_set(err, FLOE_E_RANGE,
                              "mt2 description: the file name (%zu bytes) makes it longer than "
                              "%d characters",
                              n, FLOE_MTGLACIER_DESC_MAX);
    char json[6 * FLOE_MTGLACIER_DESC_MAX + 64];
    size_t j = (size_t)snprintf(json, sizeof(json), "{\"filename\":\"");
    for (const uint8_t *p = (const uint8_t *)filename; *p; p++) {
        if (*p == '"' || *p == '\\')
            json[j++] = '\\', json[j++] = (char)*p;
        else if (*p < 0x20)
            j += (size_t)snprintf(json + j, 7, "\\u%04x", *p);
        else
            json[j++] = (char)*p;
    }
    j += (size_t)snprintf(json + j, sizeof(json) - j,
                          "\",\"mtime\":\"%04" PRId64 "%02u%02uT%02u%02u%02uZ\"}", y, m, d,
                          (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
    size_t enc_len = 4 + (j + 2) / 3 * 4;
    if (enc_len > FLOE_MTGLACIER_DESC_MAX)
        return floe_error_set(err, FLOE_E_RANGE,
                              "mt2 description of \"%.64s\"%s would be %zu characters; the "
                              "format allows %d",
                              filename, n > 64 ? "..." : "", enc_len, FLOE_MTGLACIER_DESC_MAX);
    char enc[FLOE_MTGLACIER_DESC_MAX + 8];
    memcpy(enc, "mt2 ", 4);
    size_t len = 4 + b64url_encode((const uint8_t *)json, j, enc + 4);
    if (len + 1 > cap)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "mt2 description: %zu bytes do not fit the %zu given", len + 1, cap);
    memcpy(out, enc, len + 1);
    return FLOE_OK;
}

/* mt1's double encoding: the bytes are UTF-8 of characters that are each one original byte. */
static bool undo_latin1(uint8_t *s, size_t *n)
{
    size_t o = 0;
    for (size_t i = 0; i < *n;) {
        if (s[i] < 0x80) {
            s[o++] = s[i++];
        } else if ((s[i] & 0xe0) == 0xc0 && i + 1 < *n && (s[i + 1] & 0xc0) == 0x80 &&
                   s[i] <= 0xc3 && s[i] >= 0xc2) {
            s[o++] = (uint8_t)(((s[i] & 0x1f) << 6) | (s[i + 1] & 0x3f));
            i += 2;
        } else {
            return false;
        }
    }
    *n = o;
    return true;
}

int floe_mtglacier_mt2_decode(const char *description, char filename[FLOE_MTGLACIER_DESC_MAX],
                              int64_t *mtime, struct floe_error *err)
{
    /* like mt-aws-glacier: white-space separated marker and payload, leading space ignored */
    const char *s = description;
    while (is_space(*s))
        s++;
    bool mt1 = strncmp(s, "mt1", 3) == 0, mt2 = strncmp(s, "mt2", 3) == 0;
    if ((!mt1 && !mt2) || !is_space(s[3]))
        return FLOE_E_NOT_FOUND;
    s += 3;
    while (is_space(*s))
        s++;
    size_t n = 0;
    while (s[n] && !is_space(s[n]))
        n++;
    if (n == 0 || n > FLOE_MTGLACIER_DESC_MAX)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "%s description: payload is empty or longer "
                              "than %d characters",
                              mt1 ? "mt1" : "mt2", FLOE_MTGLACIER_DESC_MAX);
    uint8_t raw[FLOE_MTGLACIER_DESC_MAX];
    size_t len;
    if (!b64_decode(s, n, raw, &len))
        return floe_error_set(err, FLOE_E_CORRUPT, "%s description: payload is not base64url",
                              mt1 ? "mt1" : "mt2");
    if (mt1 && !undo_latin1(raw, &len))
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "mt1 description: payload is not double-encoded UTF-8");
    json_error_t jerr;
    json_t *root = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *name = NULL, *when = NULL;
    if (root && json_is_object(root)) {
        name = json_string_value(json_object_get(root, "filename"));
        when = json_string_value(json_object_get(root, "mtime"));
    }
    int st = FLOE_OK;
    int64_t t = 0;
    const char *bad = NULL;
    if (!root || !json_is_object(root) || !name || !when)
        bad = "payload is not a JSON object with string members filename and mtime";
    else if (!parse_iso(when, &t))
        bad = "mtime is not a time of the form YYYYMMDDTHHMMSSZ";
    else if (strlen(name) >= FLOE_MTGLACIER_DESC_MAX || relative_problem(name))
        bad = "filename is not a relative UTF-8 path";
    if (bad) {
        st = floe_error_set(err, FLOE_E_CORRUPT, "%s description: %s", mt1 ? "mt1" : "mt2", bad);
    } else {
        snprintf(filename, FLOE_MTGLACIER_DESC_MAX, "%s", name);
        *mtime = t;
    }
    json_decref(root);
    return st;
}

/* ---- import into a catalog ---- */

struct import {
    struct floe_catalog *c;
    const char *prefix;
    size_t prefix_len;
    const char *journal;
    struct floe_mtglacier_import_stats *stats;
    struct floe_error *err;
    int status; /* the catalog failure that stopped the parse */
    char *path; /* prefix + filename scratch */
};

static int import_created(struct import *im, const struct floe_mtglacier_record *r)
{
    struct floe_catalog_archive a = {0}, known;
    snprintf(a.archive_id, sizeof(a.archive_id), "%s", r->archive_id);
    if (strlen(r->archive_id) >= sizeof(a.archive_id))
        return floe_error_set(im->err, FLOE_E_CORRUPT,
                              "journal %s line %" PRIu64
                              ": the archive id is longer than %d characters",
                              im->journal, r->line, FLOE_CATALOG_ID_MAX - 1);
    int st = floe_catalog_get_archive(im->c, r->archive_id, &known, im->err);
    if (st == FLOE_OK) {
        im->stats->archives_known++;
        return FLOE_OK;
    }
    if (st != FLOE_E_NOT_FOUND)
        return st;
    char desc[FLOE_MTGLACIER_DESC_MAX + 1] = "";
    struct floe_error ignore = {0};
    if (r->has_mtime &&
        floe_mtglacier_mt2_encode(r->filename, r->mtime, desc, sizeof(desc), &ignore) != FLOE_OK)
        desc[0] = 0; /* a name too long for mt2: the description stays empty */
    a.size_bytes = r->size_bytes;
    memcpy(a.tree_hash, r->tree_hash, sizeof(a.tree_hash));
    a.description = desc;
    a.kind = FLOE_CATALOG_KIND_FILE;
    a.created_at = r->time;
    size_t n = strlen(r->filename);
    im->path = floe_xrealloc(im->path, im->prefix_len + n + 1);
    memcpy(im->path, im->prefix, im->prefix_len);
    memcpy(im->path + im->prefix_len, r->filename, n + 1);
    struct floe_catalog_file f = {
        .path = im->path,
        .path_len = im->prefix_len + n,
        .size_bytes = r->size_bytes,
        .has_tree_hash = true,
        .length_bytes = r->size_bytes,
        .compression = FLOE_CATALOG_COMP_NONE,
        .uploaded_at = r->time,
    };
    memcpy(f.tree_hash, r->tree_hash, sizeof(f.tree_hash));
    f.has_mtime = r->has_mtime && !__builtin_mul_overflow(r->mtime, 1000000000, &f.mtime_ns);
    st = floe_catalog_record_archive(im->c, &a, &f, 1, im->err);
    if (st == FLOE_OK)
        im->stats->archives_added++;
    return st;
}

static int import_record(const struct floe_mtglacier_record *r, void *user)
{
    struct import *im = user;
    int st = FLOE_OK;
    if (r->type == FLOE_MTGLACIER_CREATED) {
        st = import_created(im, r);
    } else if (r->type == FLOE_MTGLACIER_DELETED) {
        st = floe_catalog_archive_deleted(im->c, r->archive_id, r->time, im->err);
        if (st == FLOE_E_NOT_FOUND)
            st = floe_error_set(im->err, FLOE_E_CORRUPT,
                                "journal %s line %" PRIu64 ": DELETED names archive %s, which "
                                "neither an earlier CREATED nor the catalog has",
                                im->journal, r->line, r->archive_id);
        else if (st == FLOE_OK)
            im->stats->archives_deleted++;
    } else {
        im->stats->retrieve_jobs++;
    }
    im->status = st;
    return st != FLOE_OK;
}

int floe_catalog_import_mtglacier(struct floe_catalog *c, const char *journal_path,
                                  const char *path_prefix,
                                  struct floe_mtglacier_import_stats *stats, struct floe_error *err)
{
    if (floe_catalog_in_transaction(c))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "an import is its own transaction: commit the open one first");
    struct floe_mtglacier_import_stats local = {0};
    struct import im = {
        .c = c,
        .prefix = path_prefix ? path_prefix : "",
        .journal = journal_path,
        .stats = &local,
        .err = err,
    };
    im.prefix_len = strlen(im.prefix);
    int st = floe_catalog_begin(c, err);
    if (st != FLOE_OK)
        return st;
    struct floe_mtglacier_parse p = {.on_record = import_record, .user = &im};
    struct floe_error perr = {0}; /* the parser's own; the records' errors go to err directly */
    st = floe_mtglacier_parse_file(journal_path, &p, &perr);
    if (st == FLOE_E_CANCELLED)
        st = im.status;
    else if (st != FLOE_OK && err)
        *err = perr;
    local.lines = p.stats.lines;
    if (st == FLOE_OK)
        st = floe_catalog_commit(c, err);
    else
        floe_catalog_rollback(c);
    free(im.path);
    if (st == FLOE_OK && stats)
        *stats = local;
    return st;
}
