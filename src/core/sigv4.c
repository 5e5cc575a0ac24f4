/*
 * sigv4.c - AWS Signature Version 4 (AWS4-HMAC-SHA256) signing and verification, and the
 * vault-name rule.
 *
 * The client signs every Glacier call with floe_sigv4_sign(); floe-vault checks every request
 * with floe_sigv4_verify(). Both go through one canonical-request builder, so what one side
 * signs the other side rebuilds byte for byte. The builder follows botocore 1.43
 * SigV4Auth.canonical_request() for a request whose URL carries its query string, because
 * botocore's own clients send that and our tests compare against it (docs/internals/sigv4.md
 * lists the rules and the differences from the AWS documentation's prose).
 *
 * DESIGN
 * - Pure functions: no globals, no locks, no I/O. The only allocations are the canonical
 *   request text, the sorted index arrays for headers and query pairs, and the copy of the
 *   header list that gains x-amz-date; all are freed before return. Secrets and derived keys
 *   are wiped with OPENSSL_cleanse before return.
 * - Input is validated before anything is built: request method, target and headers are
 *   checked once (sign: every header; verify: only the headers named in SignedHeaders, since
 *   the rest are not covered by the signature and are not ours to judge). Validation helpers
 *   write a sentence into a `why` buffer; sign turns it into FLOE_E_INVALID_ARG, verify into a
 *   FLOE_E_AUTH verdict with a reason, so both sides report the same rule the same way.
 * - Verification does the cheap structural checks first (parse, date, scope, skew), calls the
 *   secret lookup only once those pass, and compares signatures with CRYPTO_memcmp.
 */
#include "floe/sigv4.h"

#include "alloc.h"
#include "civil.h"
#include "sha256.h"

#include <openssl/crypto.h>

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define WHY_MAX FLOE_ERROR_MSG_MAX
#define MAX_AMZ_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

/* ---- reason names and their Glacier errors ---- */

static const char *const s_reason_names[] = {
    [FLOE_SIGV4_OK] = "OK",
    [FLOE_SIGV4_MISSING] = "MISSING",
    [FLOE_SIGV4_MALFORMED] = "MALFORMED",
    [FLOE_SIGV4_UNKNOWN_KEY] = "UNKNOWN_KEY",
    [FLOE_SIGV4_BAD_SCOPE] = "BAD_SCOPE",
    [FLOE_SIGV4_SKEW] = "SKEW",
    [FLOE_SIGV4_UNSIGNED_HOST_OR_DATE] = "UNSIGNED_HOST_OR_DATE",
    [FLOE_SIGV4_HEADER_MISSING] = "HEADER_MISSING",
    [FLOE_SIGV4_BAD_PAYLOAD_HASH] = "BAD_PAYLOAD_HASH",
    [FLOE_SIGV4_PAYLOAD_MISMATCH] = "PAYLOAD_MISMATCH",
    [FLOE_SIGV4_MISMATCH] = "MISMATCH",
};
static_assert(sizeof(s_reason_names) / sizeof(s_reason_names[0]) == FLOE_SIGV4_REASON_COUNT,
              "every floe_sigv4_reason needs a name");

const char *floe_sigv4_reason_name(enum floe_sigv4_reason reason)
{
    if ((unsigned)reason >= FLOE_SIGV4_REASON_COUNT)
        return "UNKNOWN";
    return s_reason_names[reason];
}

const char *floe_sigv4_reason_glacier_error(enum floe_sigv4_reason reason, int *http_status)
{
    const char *code = "InvalidSignatureException";
    int http = 403;
    switch (reason) {
    case FLOE_SIGV4_OK:
        code = "";
        http = 0;
        break;
    case FLOE_SIGV4_MISSING:
        code = "MissingAuthenticationTokenException";
        http = 400;
        break;
    case FLOE_SIGV4_MALFORMED:
        code = "IncompleteSignatureException";
        http = 400;
        break;
    case FLOE_SIGV4_UNKNOWN_KEY:
        code = "UnrecognizedClientException";
        http = 400;
        break;
    case FLOE_SIGV4_PAYLOAD_MISMATCH:
        code = "InvalidParameterValueException";
        http = 400;
        break;
    case FLOE_SIGV4_BAD_SCOPE:
    case FLOE_SIGV4_SKEW:
    case FLOE_SIGV4_UNSIGNED_HOST_OR_DATE:
    case FLOE_SIGV4_HEADER_MISSING:
    case FLOE_SIGV4_BAD_PAYLOAD_HASH:
    case FLOE_SIGV4_MISMATCH:
    case FLOE_SIGV4_REASON_COUNT: break;
    }
    if (http_status)
        *http_status = http;
    return code;
}

/* ---- a growable string (canonical request, signed-header list) ---- */

/* {0}: on the heap from the first byte. sb_on_stack(): in the caller's buffer until it is
 * outgrown (a request signed per small file then costs no malloc for it). */
struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    bool heap; /* p is malloc'd */
};

static void sb_on_stack(struct sbuf *b, char *buf, size_t cap)
{
    *b = (struct sbuf){.p = buf, .cap = cap};
    buf[0] = 0;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    size_t need;
    if (__builtin_add_overflow(b->len, n + 1, &need))
        need = SIZE_MAX; /* floe_xrealloc aborts with a message */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < need && cap <= SIZE_MAX / 2)
            cap *= 2;
        if (cap < need)
            cap = need;
        char *np = floe_xrealloc(b->heap ? b->p : NULL, cap);
        if (!b->heap && b->len)
            memcpy(np, b->p, b->len);
        b->p = np;
        b->heap = true;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

static void sb_free(struct sbuf *b)
{
    if (b->heap)
        free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- character classes and small helpers ---- */

static bool is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 3986 unreserved; what Python's quote() never escapes. */
static bool is_unreserved(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 9110 token character (header names, methods). */
static bool is_tchar(unsigned char c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Access key ids, regions, services and the scope terminator. */
static bool is_scope_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static bool is_lower_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (lower((unsigned char)*a) != lower((unsigned char)*b))
            return false;
    return *a == *b;
}

static bool ieq_n(const char *a, const char *b, size_t bn)
{
    size_t i = 0;
    for (; i < bn && a[i]; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return i == bn && a[i] == 0;
}

/* A short printable rendering of untrusted text for messages: at most 48 bytes, anything
 * outside 0x20..0x7E shown as '?'. */
static const char *clip(char dst[64], const char *s, size_t n)
{
    size_t i = 0, o = 0;
    for (; i < n && o < 48; i++)
        dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i < n) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = 0;
    return dst;
}

/* Describes a byte that is not allowed, for "... contains <what> at offset N". */
static void byte_desc(char dst[48], unsigned char c)
{
    if (c >= 0x80)
        snprintf(dst, 48, "non-ASCII byte 0x%02X", c);
    else if (c < 0x20 || c == 0x7f)
        snprintf(dst, 48, "control character 0x%02X", c);
    else if (c == ' ')
        snprintf(dst, 48, "a space");
    else
        snprintf(dst, 48, "'%c'", c);
}

__attribute__((format(printf, 3, 4))) static bool fail_why(char *why, size_t cap, const char *fmt,
                                                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return false;
}

static void trim_span(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* ---- time: "YYYYMMDD'T'HHMMSS'Z'" <-> seconds since the epoch (proleptic Gregorian) ---- */

/* Formats t (0..MAX_AMZ_TIME) as an ISO 8601 basic timestamp; false when out of range. */
static bool format_amz_date(int64_t t, char out[FLOE_SIGV4_AMZ_DATE_LEN + 1])
{
    if (t < 0 || t > MAX_AMZ_TIME)
        return false;
    int64_t y;
    unsigned m, d;
    floe_civil_from_days(t / 86400, &y, &m, &d);
    unsigned s = (unsigned)(t % 86400);
    unsigned f[6] = {(unsigned)y, m, d, s / 3600, s / 60 % 60, s % 60};
    static const int width[6] = {4, 2, 2, 2, 2, 2};
    char *p = out;
    for (int i = 0; i < 6; i++) {
        for (int k = width[i] - 1; k >= 0; k--) {
            p[k] = (char)('0' + f[i] % 10);
            f[i] /= 10;
        }
        p += width[i];
        if (i == 2)
            *p++ = 'T';
    }
    *p++ = 'Z';
    *p = 0;
    assert(p - out == FLOE_SIGV4_AMZ_DATE_LEN);
    return true;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool parse_amz_date(const char *s, size_t n, int64_t *out)
{
    unsigned y, mo, d, h, mi, se;
    if (n != FLOE_SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
        !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
        return false;
    if (!floe_civil_valid(y, mo, d) || h > 23 || mi > 59 || se > 59)
        return false;
    *out = floe_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

/* ---- input validation (shared by sign, canonical_request and verify) ---- */

static bool check_scope_part(const char *what, const char *s, size_t max, char *why, size_t cap)
{
    char c[64], b[48];
    if (!s || !*s)
        return fail_why(why, cap, "%s is empty", what);
    size_t n = strlen(s);
    if (n > max)
        return fail_why(why, cap, "%s '%s' is %zu characters long; the limit is %zu", what,
                        clip(c, s, n), n, max);
    for (size_t i = 0; i < n; i++) {
        if (!is_scope_char((unsigned char)s[i])) {
            byte_desc(b, (unsigned char)s[i]);
            return fail_why(why, cap,
                            "%s '%s' contains %s at offset %zu; only A-Z a-z 0-9 _ . - are "
                            "allowed",
                            what, clip(c, s, n), b, i);
        }
    }
    return true;
}

static bool check_method(const char *m, char *why, size_t cap)
{
    char b[48];
    if (!m || !*m)
        return fail_why(why, cap, "HTTP method is empty");
    for (size_t i = 0; m[i]; i++) {
        if (!is_tchar((unsigned char)m[i])) {
            byte_desc(b, (unsigned char)m[i]);
            return fail_why(why, cap, "HTTP method contains %s at offset %zu", b, i);
        }
    }
    return true;
}

/* Path and query go into the canonical request as they are on the wire: printable ASCII
 * without space or '#' (and no '?' in the path, which would start the query). */
static bool check_target(const char *path, const char *query, char *why, size_t cap)
{
    char c[64], b[48];
    if (!path || !*path)
        return fail_why(why, cap, "request path is empty; it must start with '/'");
    if (path[0] != '/')
        return fail_why(why, cap, "request path '%s' does not start with '/'",
                        clip(c, path, strlen(path)));
    for (size_t i = 0; path[i]; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '?') {
            byte_desc(b, ch);
            return fail_why(
                why, cap, "request path contains %s at offset %zu; send it percent-encoded", b, i);
        }
    }
    for (size_t i = 0; query && query[i]; i++) {
        unsigned char ch = (unsigned char)query[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '#') {
            byte_desc(b, ch);
            return fail_why(
                why, cap, "query string contains %s at offset %zu; send it percent-encoded", b, i);
        }
    }
    return true;
}

static bool check_header_name(const char *name, size_t idx, char *why, size_t cap)
{
    char c[64], b[48];
    if (!name || !*name)
        return fail_why(why, cap, "header #%zu has an empty name", idx);
    for (size_t i = 0; name[i]; i++) {
        if (!is_tchar((unsigned char)name[i])) {
            byte_desc(b, (unsigned char)name[i]);
            return fail_why(why, cap, "header #%zu name '%s' contains %s at offset %zu", idx,
                            clip(c, name, strlen(name)), b, i);
        }
    }
    return true;
}

/* Values: printable ASCII and horizontal tab (which canonicalisation treats as a space). */
static bool check_header_value(const char *name, const char *value, char *why, size_t cap)
{
    char c[64], b[48];
    if (!value)
        return fail_why(why, cap, "header '%s' has a NULL value", clip(c, name, strlen(name)));
    for (size_t i = 0; value[i]; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) {
            byte_desc(b, ch);
            return fail_why(why, cap, "header '%s' value contains %s at offset %zu",
                            clip(c, name, strlen(name)), b, i);
        }
    }
    return true;
}

/* what: "payload hash" or "x-amz-content-sha256 header". */
static bool check_payload_hash(const char *what, const char *h, char *why, size_t cap)
{
    char c[64];
    size_t n = strlen(h);
    if (strcmp(h, "UNSIGNED-PAYLOAD") == 0)
        return fail_why(why, cap,
                        "%s is UNSIGNED-PAYLOAD, which Glacier does not accept; send the hex "
                        "SHA-256 of the whole body",
                        what);
    if (strncmp(h, "STREAMING-", 10) == 0)
        return fail_why(why, cap,
                        "%s is %s: chunked (streaming) signing is not supported by Glacier; send "
                        "the hex SHA-256 of the whole body",
                        what, clip(c, h, n));
    if (n != 64)
        return fail_why(why, cap, "%s '%s' is %zu characters; it must be 64 lower-case hex digits",
                        what, clip(c, h, n), n);
    for (size_t i = 0; i < n; i++) {
        if (!is_lower_hex((unsigned char)h[i]))
            return fail_why(why, cap, "%s '%s' is not 64 lower-case hex digits (offset %zu)", what,
                            clip(c, h, n), i);
    }
    return true;
}

/* A SignedHeaders value: lower-case tokens separated by ';', strictly ascending. */
static bool check_signed_list(const char *s, size_t n, char *why, size_t cap)
{
    char c[64], c2[64], b[48];
    if (n == 0)
        return fail_why(why, cap, "SignedHeaders is empty");
    if (n >= FLOE_SIGV4_SIGNED_HEADERS_MAX)
        return fail_why(why, cap, "SignedHeaders is %zu bytes long; the limit is %d", n,
                        FLOE_SIGV4_SIGNED_HEADERS_MAX - 1);
    const char *prev = NULL;
    size_t prevn = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != ';')
            j++;
        if (j == i)
            return fail_why(why, cap, "SignedHeaders '%s' has an empty name at offset %zu",
                            clip(c, s, n), i);
        for (size_t k = i; k < j; k++) {
            unsigned char ch = (unsigned char)s[k];
            if (ch >= 'A' && ch <= 'Z')
                return fail_why(why, cap, "SignedHeaders name '%s' is not lower-case",
                                clip(c, s + i, j - i));
            if (!is_tchar(ch)) {
                byte_desc(b, ch);
                return fail_why(why, cap, "SignedHeaders '%s' contains %s at offset %zu",
                                clip(c, s, n), b, k);
            }
        }
        if (prev) {
            size_t m = prevn < j - i ? prevn : j - i;
            int r = memcmp(prev, s + i, m);
            if (r == 0 && prevn == j - i)
                return fail_why(why, cap, "SignedHeaders lists '%s' twice", clip(c, s + i, j - i));
            if (r > 0 || (r == 0 && prevn > j - i))
                return fail_why(why, cap, "SignedHeaders are not sorted: '%s' comes after '%s'",
                                clip(c, s + i, j - i), clip(c2, prev, prevn));
        }
        prev = s + i;
        prevn = j - i;
        i = j + 1;
    }
    return true;
}

static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/* Counts headers named `name` (case-insensitive) and returns the first one's value. */
static const char *find_header(const struct floe_sigv4_request *req, const char *name,
                               size_t *count)
{
    const char *v = NULL;
    size_t c = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (req->headers[i].name && ieq(req->headers[i].name, name)) {
            if (!c)
                v = req->headers[i].value;
            c++;
        }
    }
    *count = c;
    return v;
}

static const char *const s_blocklist[] = {
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

static bool blocklisted(const char *name)
{
    for (size_t i = 0; i < sizeof(s_blocklist) / sizeof(s_blocklist[0]); i++)
        if (ieq(name, s_blocklist[i]))
            return true;
    return false;
}

/*
 * Signing-side request check: method, target, every header; with `reserved`, also the headers
 * floe_sigv4_sign() adds itself and exactly one Host.
 */
static bool check_sign_request(const struct floe_sigv4_request *req, bool reserved, char *why,
                               size_t cap)
{
    static const char *const own[] = {"authorization", "date", "x-amz-date",
                                      "x-amz-security-token"};
    char c[64];
    if (!check_method(req->method, why, cap) || !check_target(req->path, req->query, why, cap))
        return false;
    if (req->nheaders && !req->headers)
        return fail_why(why, cap, "request has %zu headers but a NULL header array", req->nheaders);
    size_t hosts = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct floe_sigv4_header *h = &req->headers[i];
        if (!check_header_name(h->name, i, why, cap) ||
            !check_header_value(h->name, h->value, why, cap))
            return false;
        hosts += ieq(h->name, "host");
        for (size_t k = 0; reserved && k < sizeof(own) / sizeof(own[0]); k++) {
            if (ieq(h->name, own[k]))
                return fail_why(why, cap,
                                "header '%s' must not be passed: floe_sigv4_sign() sets "
                                "X-Amz-Date, Authorization and X-Amz-Security-Token itself",
                                clip(c, h->name, strlen(h->name)));
        }
    }
    if (reserved && hosts == 0)
        return fail_why(why, cap, "request has no Host header; it must be signed");
    if (reserved && hosts > 1)
        return fail_why(why, cap, "request has %zu Host headers; send exactly one", hosts);
    return true;
}

/*
 * The payload line: req->payload_sha256_hex, else the x-amz-content-sha256 header. botocore
 * uses the header whenever it is present, so when both are given they must agree.
 */
static bool resolve_payload(const struct floe_sigv4_request *req, const char **out, char *why,
                            size_t cap)
{
    size_t n;
    const char *hdr = find_header(req, "x-amz-content-sha256", &n);
    if (n > 1)
        return fail_why(why, cap, "request has %zu x-amz-content-sha256 headers", n);
    if (req->payload_sha256_hex &&
        !check_payload_hash("payload hash", req->payload_sha256_hex, why, cap))
        return false;
    if (hdr && !check_payload_hash("x-amz-content-sha256 header", hdr, why, cap))
        return false;
    if (hdr && req->payload_sha256_hex && strcmp(hdr, req->payload_sha256_hex) != 0)
        return fail_why(why, cap, "x-amz-content-sha256 header %s differs from the payload hash %s",
                        hdr, req->payload_sha256_hex);
    if (!hdr && !req->payload_sha256_hex)
        return fail_why(why, cap,
                        "no payload hash: pass payload_sha256_hex or an x-amz-content-sha256 "
                        "header");
    *out = hdr ? hdr : req->payload_sha256_hex;
    return true;
}

/* ---- canonical request ---- */

static void put_pct(struct sbuf *b, unsigned char c)
{
    static const char hx[] = "0123456789ABCDEF";
    char e[3] = {'%', hx[c >> 4], hx[c & 15]};
    sb_put(b, e, 3);
}

/* Python quote(s, safe='/~') of one segment (no '/' inside). Runs of unreserved bytes are
 * copied whole. */
static void put_quoted(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && is_unreserved((unsigned char)s[j]))
            j++;
        if (j > i)
            sb_put(b, s + i, j - i);
        if (j < n)
            put_pct(b, (unsigned char)s[j++]);
        i = j;
    }
}

/*
 * botocore: quote(remove_dot_segments(path), safe='/~'). Empty and '.' segments vanish (so
 * runs of '/' collapse), '..' drops the previous segment, a trailing '/' stays when anything
 * is left, and every byte outside the unreserved set is escaped, '%' included.
 */
static void put_canonical_uri(struct sbuf *b, const char *path)
{
    size_t n = strlen(path), nseg = 1;
    for (size_t i = 0; i < n; i++)
        nseg += path[i] == '/';
    const char *seg_small[32];
    size_t len_small[32];
    const char **seg = nseg <= 32 ? seg_small : floe_xmalloc(nseg * sizeof(*seg));
    size_t *len = nseg <= 32 ? len_small : floe_xmalloc(nseg * sizeof(*len));
    size_t kept = 0;
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t l = j - i;
        if (l == 2 && path[i] == '.' && path[i + 1] == '.') {
            if (kept)
                kept--;
        } else if (l && !(l == 1 && path[i] == '.')) {
            seg[kept] = path + i;
            len[kept++] = l;
        }
        i = j + 1;
    }
    sb_putc(b, '/'); /* path[0] == '/' was checked */
    for (size_t k = 0; k < kept; k++) {
        if (k)
            sb_putc(b, '/');
        put_quoted(b, seg[k], len[k]);
    }
    if (kept && path[n - 1] == '/')
        sb_putc(b, '/');
    if (seg != seg_small) {
        free(seg);
        free(len);
    }
}

struct qpair {
    const char *k;
    size_t kn;
    const char *v;
    size_t vn;
};

static int span_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r)
        return r;
    return an < bn ? -1 : an > bn;
}

static int qpair_cmp(const void *pa, const void *pb)
{
    const struct qpair *a = pa, *b = pb;
    int r = span_cmp(a->k, a->kn, b->k, b->kn);
    return r ? r : span_cmp(a->v, a->vn, b->v, b->vn);
}

/*
 * botocore _canonical_query_string_url(): split on '&', partition each piece on its first
 * '=', sort by (key, value) bytewise, join "key=value" with '&'. Nothing is re-encoded.
 */
static void put_canonical_query(struct sbuf *b, const char *q)
{
    if (!q || !*q)
        return;
    size_t n = strlen(q), np = 1;
    for (size_t i = 0; i < n; i++)
        np += q[i] == '&';
    struct qpair small[16];
    struct qpair *p = np <= 16 ? small : floe_xmalloc(np * sizeof(*p));
    size_t k = 0;
    for (size_t i = 0; i <= n; k++) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        const char *eq = memchr(q + i, '=', j - i);
        p[k].k = q + i;
        p[k].kn = eq ? (size_t)(eq - (q + i)) : j - i;
        p[k].v = eq ? eq + 1 : q + j;
        p[k].vn = eq ? (size_t)(q + j - (eq + 1)) : 0;
        i = j + 1;
    }
    assert(k == np);
    qsort(p, np, sizeof(*p), qpair_cmp);
    for (size_t i = 0; i < np; i++) {
        if (i)
            sb_putc(b, '&');
        sb_put(b, p[i].k, p[i].kn);
        sb_putc(b, '=');
        sb_put(b, p[i].v, p[i].vn);
    }
    if (p != small)
        free(p);
}

/* Trimall: drop leading/trailing blanks, collapse inner runs of blanks to one space. Runs of
 * other bytes are copied whole. */
static void put_trimall(struct sbuf *b, const char *v)
{
    bool any = false;
    for (;;) {
        size_t blanks = strspn(v, " \t");
        v += blanks;
        if (!*v)
            return;
        if (blanks && any)
            sb_putc(b, ' ');
        size_t run = strcspn(v, " \t");
        sb_put(b, v, run);
        v += run;
        any = true;
    }
}

static void put_lower(struct sbuf *b, const char *s, size_t n)
{
    char low[64];
    while (n) {
        size_t k = n < sizeof(low) ? n : sizeof(low);
        for (size_t i = 0; i < k; i++)
            low[i] = (char)lower((unsigned char)s[i]);
        sb_put(b, low, k);
        s += k;
        n -= k;
    }
}

struct hitem {
    const struct floe_sigv4_header *h;
    size_t idx; /* position in the request: keeps duplicates in send order */
};

static int hitem_cmp(const void *pa, const void *pb)
{
    const struct hitem *a = pa, *b = pb;
    const unsigned char *x = (const unsigned char *)a->h->name;
    const unsigned char *y = (const unsigned char *)b->h->name;
    for (; *x && lower(*x) == lower(*y); x++, y++)
        ;
    int r = (int)lower(*x) - (int)lower(*y);
    if (r)
        return r;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

enum build_result { BUILD_OK, BUILD_HEADER_MISSING, BUILD_BAD_VALUE };

/*
 * Writes the canonical request into cr. signed_list NULL: sign every header except the
 * blocklist (headers already validated) and write the resulting list into signed_out.
 * Otherwise: use exactly the headers named in signed_list (already validated), checking each
 * value as it is used. Duplicate names are joined with ',' in request order, as botocore's
 * HTTPHeaders.get_all() does.
 */
static enum build_result build_canonical(const struct floe_sigv4_request *req,
                                         const struct floe_sigv4_header *hs, size_t nh,
                                         const char *signed_list, const char *payload,
                                         struct sbuf *cr, struct sbuf *signed_out, char *why,
                                         size_t cap)
{
    char c[64];
    for (const char *m = req->method; *m; m++) {
        unsigned char ch = (unsigned char)*m;
        sb_putc(cr, (char)((ch >= 'a' && ch <= 'z') ? ch - 32 : ch));
    }
    sb_putc(cr, '\n');
    if (req->raw_path)
        sb_puts(cr, req->path);
    else
        put_canonical_uri(cr, req->path);
    sb_putc(cr, '\n');
    put_canonical_query(cr, req->query);
    sb_putc(cr, '\n');

    if (!signed_list) {
        struct hitem small[16];
        struct hitem *it = nh <= 16 ? small : floe_xmalloc(nh * sizeof(*it));
        size_t n = 0;
        for (size_t i = 0; i < nh; i++) {
            if (!blocklisted(hs[i].name)) {
                it[n].h = &hs[i];
                it[n].idx = i;
                n++;
            }
        }
        qsort(it, n, sizeof(*it), hitem_cmp);
        for (size_t i = 0; i < n; i++) {
            bool same = i && ieq(it[i].h->name, it[i - 1].h->name);
            if (same) {
                sb_putc(cr, ',');
            } else {
                if (i) {
                    sb_putc(cr, '\n');
                    sb_putc(signed_out, ';');
                }
                put_lower(cr, it[i].h->name, strlen(it[i].h->name));
                sb_putc(cr, ':');
                put_lower(signed_out, it[i].h->name, strlen(it[i].h->name));
            }
            put_trimall(cr, it[i].h->value);
        }
        if (n)
            sb_putc(cr, '\n');
        if (it != small)
            free(it);
    } else {
        for (const char *p = signed_list; *p;) {
            const char *e = strchr(p, ';');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            sb_put(cr, p, len);
            sb_putc(cr, ':');
            size_t found = 0;
            for (size_t i = 0; i < nh; i++) {
                if (!hs[i].name || !ieq_n(hs[i].name, p, len))
                    continue;
                if (!check_header_value(hs[i].name, hs[i].value, why, cap))
                    return BUILD_BAD_VALUE;
                if (found++)
                    sb_putc(cr, ',');
                put_trimall(cr, hs[i].value);
            }
            if (!found) {
                fail_why(why, cap, "header '%s' is listed in SignedHeaders but was not sent",
                         clip(c, p, len));
                return BUILD_HEADER_MISSING;
            }
            sb_putc(cr, '\n');
            if (!e)
                break;
            p = e + 1;
        }
        sb_puts(signed_out, signed_list);
    }
    sb_putc(cr, '\n');
    sb_put(cr, signed_out->p ? signed_out->p : "", signed_out->len);
    sb_putc(cr, '\n');
    sb_puts(cr, payload);
    return BUILD_OK;
}

/* ---- crypto ---- */

static void hex32(const unsigned char in[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[64] = 0;
}

/* HMAC-SHA256 (RFC 2104) over floe_sha256: OpenSSL 3's one-shot HMAC() fetches the MAC and
 * the digest on every call, which cost more than the hashing itself here (5 HMACs per
 * request, signed by the client and verified by floe-vault: docs/performance.md). */
static bool hmac256(const void *key, size_t klen, const char *msg, size_t mlen,
                    unsigned char out[32])
{
    uint8_t k[FLOE_SHA256_BLOCK] = {0}, pad[FLOE_SHA256_BLOCK], inner[FLOE_SHA256_BYTES];
    struct floe_sha256 c;
    if (klen > sizeof(k))
        floe_sha256(key, klen, k);
    else
        memcpy(k, key, klen);
    for (size_t i = 0; i < sizeof(k); i++)
        pad[i] = k[i] ^ 0x36;
    floe_sha256_init(&c);
    floe_sha256_update(&c, pad, sizeof(pad));
    floe_sha256_update(&c, msg, mlen);
    floe_sha256_final(&c, inner);
    for (size_t i = 0; i < sizeof(k); i++)
        pad[i] = k[i] ^ 0x5c;
    floe_sha256_init(&c);
    floe_sha256_update(&c, pad, sizeof(pad));
    floe_sha256_update(&c, inner, sizeof(inner));
    floe_sha256_final(&c, out);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));
    OPENSSL_cleanse(&c, sizeof(c));
    return true;
}

/*
 * The signing key HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
 * depends only on the secret, the day and the scope, so each thread keeps the last one it
 * derived: a run of requests signed on one day for one region and service (every file of a
 * `floe backup --layout file-per-archive`, every request floe-vault checks) pays one HMAC per
 * request instead of five. The entry is keyed on all four inputs (the secret compared in full),
 * so a new day, region, service or secret derives afresh. Thread-local: no lock, no sharing;
 * the entry is cleansed whenever it is replaced.
 */
struct key_cache {
    bool valid;
    char date[8];
    char region[FLOE_SIGV4_SCOPE_PART_MAX + 1];
    char service[FLOE_SIGV4_SCOPE_PART_MAX + 1];
    size_t slen;
    char secret[FLOE_SIGV4_SECRET_MAX];
    unsigned char key[32];
};
static _Thread_local struct key_cache t_key;

static bool key_cache_hit(const struct key_cache *kc, const char *secret, size_t slen,
                          const char *date, const char *region, const char *service)
{
    return kc->valid && kc->slen == slen && memcmp(kc->date, date, 8) == 0 &&
           strcmp(kc->region, region) == 0 && strcmp(kc->service, service) == 0 &&
           memcmp(kc->secret, secret, slen) == 0;
}

/* key = the signing key for (secret, date[0..8), region, service), from t_key or derived into
 * it. region and service are at most FLOE_SIGV4_SCOPE_PART_MAX bytes (checked by callers). */
static bool signing_key(const char *secret, size_t slen, const char *date, const char *region,
                        const char *service, unsigned char key[32])
{
    struct key_cache *kc = &t_key;
    size_t rlen = strlen(region), svlen = strlen(service);
    if (key_cache_hit(kc, secret, slen, date, region, service)) {
        memcpy(key, kc->key, 32);
        return true;
    }
    unsigned char k1[32], k2[32], k3[32];
    char kbuf[4 + FLOE_SIGV4_SECRET_MAX + 1];
    memcpy(kbuf, "AWS4", 4);
    memcpy(kbuf + 4, secret, slen);
    bool ok = hmac256(kbuf, 4 + slen, date, 8, k1) && hmac256(k1, 32, region, rlen, k2) &&
              hmac256(k2, 32, service, svlen, k3) &&
              hmac256(k3, 32, TERMINATOR, strlen(TERMINATOR), key);
    OPENSSL_cleanse(kbuf, sizeof(kbuf));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
    OPENSSL_cleanse(kc, sizeof(*kc));
    if (ok && rlen < sizeof(kc->region) && svlen < sizeof(kc->service) &&
        slen <= sizeof(kc->secret)) {
        memcpy(kc->date, date, 8);
        memcpy(kc->region, region, rlen + 1);
        memcpy(kc->service, service, svlen + 1);
        memcpy(kc->secret, secret, slen);
        kc->slen = slen;
        memcpy(kc->key, key, 32);
        kc->valid = true;
    }
    return ok; /* a failed key is never cached */
}

/*
 * String to sign and signature. sts receives
 * "AWS4-HMAC-SHA256\n<amz_date>\n<date>/<region>/<service>/aws4_request\n<hex sha256(cr)>".
 */
static int compute_signature(const char *cr, size_t crlen, const char *secret, const char *amz_date,
                             const char *region, const char *service, struct sbuf *sts,
                             char sig[65], struct floe_error *err)
{
    unsigned char md[32], key[32], s[32];
    char crhex[65];
    size_t slen = strlen(secret);

    assert(slen <= FLOE_SIGV4_SECRET_MAX);
    floe_sha256(cr, crlen, md);
    hex32(md, crhex);
    sb_puts(sts, ALGORITHM "\n");
    sb_puts(sts, amz_date);
    sb_putc(sts, '\n');
    sb_put(sts, amz_date, 8);
    sb_putc(sts, '/');
    sb_puts(sts, region);
    sb_putc(sts, '/');
    sb_puts(sts, service);
    sb_puts(sts, "/" TERMINATOR "\n");
    sb_puts(sts, crhex);

    bool ok = signing_key(secret, slen, amz_date, region, service, key) &&
              hmac256(key, 32, sts->p, sts->len, s);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok)
        return floe_error_set(err, FLOE_E_UNSUPPORTED, "OpenSSL could not compute HMAC-SHA256");
    hex32(s, sig);
    return FLOE_OK;
}

/* ---- public: canonical request, sign ---- */

int floe_sigv4_canonical_request(const struct floe_sigv4_request *req, const char *signed_headers,
                                 char **out, struct floe_error *err)
{
    char why[WHY_MAX];
    struct sbuf cr = {0}, sl = {0};
    const char *payload = NULL;
    int rc = FLOE_OK;

    if (!req || !out) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "floe_sigv4_canonical_request: req and out are required");
        goto out;
    }
    if (!check_sign_request(req, false, why, sizeof(why)) ||
        (signed_headers &&
         !check_signed_list(signed_headers, strlen(signed_headers), why, sizeof(why))) ||
        !resolve_payload(req, &payload, why, sizeof(why)) ||
        build_canonical(req, req->headers, req->nheaders, signed_headers, payload, &cr, &sl, why,
                        sizeof(why)) != BUILD_OK) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "%s", why);
        goto out;
    }
    *out = cr.p;
    cr.p = NULL;
out:
    sb_free(&cr);
    sb_free(&sl);
    return rc;
}

int floe_sigv4_sign(const struct floe_sigv4_request *req, const struct floe_sigv4_credentials *cred,
                    const char *region, const char *service, time_t when,
                    struct floe_sigv4_signed *out, struct floe_error *err)
{
    char why[WHY_MAX];
    struct floe_sigv4_signed res;
    struct floe_sigv4_header hs_small[16], *hs = NULL;
    char cr_buf[4096], sl_buf[512];
    struct sbuf cr, sl, sts = {0};
    sb_on_stack(&cr, cr_buf, sizeof(cr_buf));
    sb_on_stack(&sl, sl_buf, sizeof(sl_buf));
    const char *payload = NULL;
    int rc = FLOE_OK;

    memset(&res, 0, sizeof(res));
    if (!req || !cred || !out) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "floe_sigv4_sign: req, cred and out are required");
        goto out;
    }
    if (!check_scope_part("access key id", cred->access_key_id, FLOE_SIGV4_KEY_ID_MAX, why,
                          sizeof(why)) ||
        !check_scope_part("region", region, FLOE_SIGV4_SCOPE_PART_MAX, why, sizeof(why)) ||
        !check_scope_part("service", service, FLOE_SIGV4_SCOPE_PART_MAX, why, sizeof(why)) ||
        !check_sign_request(req, true, why, sizeof(why)) ||
        !resolve_payload(req, &payload, why, sizeof(why))) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "%s", why);
        goto out;
    }
    if (!cred->secret_access_key || !*cred->secret_access_key) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "secret access key is empty");
        goto out;
    }
    if (strlen(cred->secret_access_key) > FLOE_SIGV4_SECRET_MAX) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "secret access key is longer than %d bytes",
                            FLOE_SIGV4_SECRET_MAX);
        goto out;
    }
    const char *token = cred->session_token && *cred->session_token ? cred->session_token : NULL;
    if (token && !check_header_value("x-amz-security-token", token, why, sizeof(why))) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "session token: %s", why);
        goto out;
    }
    if (!format_amz_date((int64_t)when, res.amz_date)) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "signing time %lld is outside 1970-01-01 .. 9999-12-31",
                            (long long)when);
        goto out;
    }

    size_t nh = req->nheaders;
    hs = nh + 2 <= 16 ? hs_small : floe_xmalloc((nh + 2) * sizeof(*hs));
    if (nh)
        memcpy(hs, req->headers, nh * sizeof(*hs));
    hs[nh++] = (struct floe_sigv4_header){"x-amz-date", res.amz_date};
    if (token)
        hs[nh++] = (struct floe_sigv4_header){"x-amz-security-token", token};
    build_canonical(req, hs, nh, NULL, payload, &cr, &sl, why, sizeof(why));
    if (sl.len >= FLOE_SIGV4_SIGNED_HEADERS_MAX) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "signed header names total %zu bytes; the limit is %d", sl.len,
                            FLOE_SIGV4_SIGNED_HEADERS_MAX - 1);
        goto out;
    }
    rc = compute_signature(cr.p, cr.len, cred->secret_access_key, res.amz_date, region, service,
                           &sts, res.signature, err);
    if (rc)
        goto out;
    int n = snprintf(res.authorization, sizeof(res.authorization),
                     ALGORITHM " Credential=%s/%.8s/%s/%s/" TERMINATOR
                               ", SignedHeaders=%s, Signature=%s",
                     cred->access_key_id, res.amz_date, region, service, sl.p, res.signature);
    assert(n > 0 && (size_t)n < sizeof(res.authorization)); /* bounded by the checks above */
    (void)n;
    res.security_token = token;
    *out = res;
out:
    if (hs != hs_small)
        free(hs);
    sb_free(&cr);
    sb_free(&sl);
    if (sts.p)
        OPENSSL_cleanse(sts.p, sts.cap);
    sb_free(&sts);
    return rc;
}

/* ---- Authorization parsing ---- */

static bool copy_part(char *dst, size_t cap, const char *what, const char *s, size_t n, size_t max,
                      char *why, size_t wcap)
{
    char c[64], b[48];
    if (n == 0)
        return fail_why(why, wcap, "Credential %s is empty", what);
    if (n > max)
        return fail_why(why, wcap, "Credential %s '%s' is longer than %zu characters", what,
                        clip(c, s, n), max);
    for (size_t i = 0; i < n; i++) {
        if (!is_scope_char((unsigned char)s[i])) {
            byte_desc(b, (unsigned char)s[i]);
            return fail_why(why, wcap, "Credential %s '%s' contains %s", what, clip(c, s, n), b);
        }
    }
    assert(n < cap);
    memcpy(dst, s, n);
    dst[n] = 0;
    return true;
}

static bool parse_credential(const char *s, size_t n, struct floe_sigv4_auth *a, char *why,
                             size_t cap)
{
    char c[64];
    const char *part[5];
    size_t len[5], k = 0, i = 0;
    while (k < 5) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        part[k] = s + i;
        len[k++] = j - i;
        if (j == n)
            break;
        i = j + 1;
    }
    if (k != 5 || part[4] + len[4] != s + n)
        return fail_why(why, cap,
                        "Credential '%s' must be <access key id>/<YYYYMMDD>/<region>/<service>/"
                        "aws4_request",
                        clip(c, s, n));
    unsigned ymd;
    if (len[1] != 8 || !digits(part[1], 8, &ymd))
        return fail_why(why, cap, "Credential date '%s' is not YYYYMMDD", clip(c, part[1], len[1]));
    memcpy(a->date, part[1], 8);
    a->date[8] = 0;
    return copy_part(a->access_key_id, sizeof(a->access_key_id), "access key id", part[0], len[0],
                     FLOE_SIGV4_KEY_ID_MAX, why, cap) &&
           copy_part(a->region, sizeof(a->region), "region", part[2], len[2],
                     FLOE_SIGV4_SCOPE_PART_MAX, why, cap) &&
           copy_part(a->service, sizeof(a->service), "service", part[3], len[3],
                     FLOE_SIGV4_SCOPE_PART_MAX, why, cap) &&
           copy_part(a->terminator, sizeof(a->terminator), "terminator", part[4], len[4],
                     FLOE_SIGV4_SCOPE_PART_MAX, why, cap);
}

static bool parse_auth(const char *value, struct floe_sigv4_auth *a, char *why, size_t cap)
{
    char c[64];
    const char *s = value;
    size_t n = strlen(value);
    trim_span(&s, &n);
    if (n > FLOE_SIGV4_AUTHORIZATION_IN_MAX)
        return fail_why(why, cap, "Authorization header is %zu bytes; the limit is %d", n,
                        FLOE_SIGV4_AUTHORIZATION_IN_MAX);
    size_t alg = 0;
    while (alg < n && s[alg] != ' ' && s[alg] != '\t')
        alg++;
    if (alg != strlen(ALGORITHM) || memcmp(s, ALGORITHM, alg) != 0) {
        if (alg > strlen(ALGORITHM) && memcmp(s, ALGORITHM, strlen(ALGORITHM)) == 0)
            return fail_why(why, cap, "Authorization header needs a space after " ALGORITHM);
        return fail_why(why, cap,
                        "Authorization algorithm '%s' is not supported; only " ALGORITHM
                        " is accepted",
                        clip(c, s, alg));
    }
    const char *cred = NULL, *sh = NULL, *sig = NULL;
    size_t credn = 0, shn = 0, sign = 0;
    size_t i = alg;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n)
            break;
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        const char *item = s + i;
        size_t itemn = j - i;
        trim_span(&item, &itemn);
        const char *eq = memchr(item, '=', itemn);
        if (!itemn)
            return fail_why(why, cap, "Authorization header has an empty component");
        if (!eq)
            return fail_why(why, cap, "Authorization component '%s' is not Name=Value",
                            clip(c, item, itemn));
        size_t namen = (size_t)(eq - item);
        const char **slot = NULL;
        size_t *slotn = NULL;
        if (namen == 10 && memcmp(item, "Credential", 10) == 0) {
            slot = &cred;
            slotn = &credn;
        } else if (namen == 13 && memcmp(item, "SignedHeaders", 13) == 0) {
            slot = &sh;
            slotn = &shn;
        } else if (namen == 9 && memcmp(item, "Signature", 9) == 0) {
            slot = &sig;
            slotn = &sign;
        } else {
            return fail_why(why, cap,
                            "Authorization component '%s' is not Credential, "
                            "SignedHeaders or Signature",
                            clip(c, item, namen));
        }
        if (*slot)
            return fail_why(why, cap, "Authorization header has more than one '%s'",
                            clip(c, item, namen));
        *slot = eq + 1;
        *slotn = itemn - namen - 1;
        if (j == n)
            break;
        i = j + 1;
        size_t k = i;
        while (k < n && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k == n)
            return fail_why(why, cap, "Authorization header ends with a ','");
    }
    if (!cred || !sh || !sig) {
        /* AWS's wording, one sentence per missing part */
        fail_why(why, cap, "%s%s%s",
                 !cred ? "Authorization header requires 'Credential' parameter. " : "",
                 !sh ? "Authorization header requires 'SignedHeaders' parameter. " : "",
                 !sig ? "Authorization header requires 'Signature' parameter. " : "");
        why[strlen(why) - 1] = 0; /* the last sentence's trailing space */
        return false;
    }
    if (!parse_credential(cred, credn, a, why, cap) || !check_signed_list(sh, shn, why, cap))
        return false;
    memcpy(a->signed_headers, sh, shn);
    a->signed_headers[shn] = 0;
    if (sign != FLOE_SIGV4_SIGNATURE_HEX_LEN)
        return fail_why(why, cap,
                        "Signature '%s' is %zu characters; it must be 64 lower-case hex "
                        "digits",
                        clip(c, sig, sign), sign);
    for (size_t k = 0; k < sign; k++)
        if (!is_lower_hex((unsigned char)sig[k]))
            return fail_why(why, cap, "Signature '%s' is not 64 lower-case hex digits",
                            clip(c, sig, sign));
    memcpy(a->signature, sig, sign);
    a->signature[sign] = 0;
    return true;
}

int floe_sigv4_parse_authorization(const char *value, struct floe_sigv4_auth *out,
                                   struct floe_error *err)
{
    char why[WHY_MAX];
    struct floe_sigv4_auth a;
    memset(&a, 0, sizeof(a));
    if (!out)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "floe_sigv4_parse_authorization: out "
                              "is required");
    if (!value)
        return floe_error_set(err, FLOE_E_AUTH, "no Authorization header");
    if (!parse_auth(value, &a, why, sizeof(why)))
        return floe_error_set(err, FLOE_E_AUTH, "%s", why);
    *out = a;
    return FLOE_OK;
}

/* ---- verify ---- */

__attribute__((format(printf, 4, 5))) static int deny(struct floe_sigv4_verdict *v,
                                                      struct floe_error *err,
                                                      enum floe_sigv4_reason r, const char *fmt,
                                                      ...)
{
    v->reason = r;
    if (err) {
        int http = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        err->status = FLOE_E_AUTH;
        snprintf(err->code, sizeof(err->code), "%s", floe_sigv4_reason_glacier_error(r, &http));
        err->http_status = http;
    }
    return FLOE_E_AUTH;
}

static void skew_text(char *dst, size_t cap, int64_t skew_s)
{
    if (skew_s % 60 == 0)
        snprintf(dst, cap, "%lld min.", (long long)(skew_s / 60));
    else
        snprintf(dst, cap, "%lld s", (long long)skew_s);
}

/* Formats t for a message; out-of-range times print as seconds. */
static const char *when_text(char dst[32], int64_t t)
{
    if (!format_amz_date(t, dst))
        snprintf(dst, 32, "@%lld", (long long)t);
    return dst;
}

/* Picks the request time: X-Amz-Date, else an ISO-basic Date. *name gets the header used. */
static bool request_time(const struct floe_sigv4_request *req, const char **name, int64_t *t,
                         char amz[FLOE_SIGV4_AMZ_DATE_LEN + 1], char *why, size_t cap)
{
    char c[64];
    size_t n;
    const char *v = find_header(req, "x-amz-date", &n);
    *name = "x-amz-date";
    if (n > 1)
        return fail_why(why, cap, "request has %zu X-Amz-Date headers", n);
    if (!n) {
        v = find_header(req, "date", &n);
        *name = "date";
        if (n > 1)
            return fail_why(why, cap, "request has %zu Date headers", n);
        if (!n)
            return fail_why(why, cap,
                            "Authorization header requires existence of either a "
                            "'X-Amz-Date' or a 'Date' header.");
    }
    if (!v)
        return fail_why(why, cap, "%s header has a NULL value", *name);
    size_t vn = strlen(v);
    trim_span(&v, &vn);
    if (!parse_amz_date(v, vn, t))
        return fail_why(
            why, cap, "%s header '%s' is not an ISO 8601 basic UTC time (YYYYMMDD'T'HHMMSS'Z')",
            strcmp(*name, "date") ? "X-Amz-Date" : "Date (without X-Amz-Date)", clip(c, v, vn));
    memcpy(amz, v, FLOE_SIGV4_AMZ_DATE_LEN);
    amz[FLOE_SIGV4_AMZ_DATE_LEN] = 0;
    return true;
}

int floe_sigv4_verify(const struct floe_sigv4_request *req, const char *authorization,
                      const struct floe_sigv4_verify_opts *opts, struct floe_sigv4_verdict *verdict,
                      struct floe_error *err)
{
    char why[WHY_MAX], c[64], t1[32], t2[32], t3[32], skew[32];
    char secret[FLOE_SIGV4_SECRET_MAX + 1];
    char sig[FLOE_SIGV4_SIGNATURE_HEX_LEN + 1];
    struct floe_sigv4_verdict v;
    struct floe_sigv4_auth a;
    struct sbuf cr = {0}, sl = {0}, sts = {0};
    const char *date_name = NULL;
    int64_t t = 0;
    int rc = FLOE_OK;

    memset(&v, 0, sizeof(v));
    memset(&a, 0, sizeof(a));
    memset(secret, 0, sizeof(secret));
    if (!req || !opts || !verdict || !opts->lookup || !opts->region || !opts->service ||
        !req->method || !req->path || (req->nheaders && !req->headers)) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "floe_sigv4_verify: req (method, path, headers), opts (region, "
                            "service, lookup) and verdict are required");
        goto out;
    }
    if (opts->max_skew_s < 0) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "max_skew_s %d is negative", opts->max_skew_s);
        goto out;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!req->headers[i].name || !req->headers[i].value) {
            rc = floe_error_set(err, FLOE_E_INVALID_ARG, "header #%zu has a NULL name or value", i);
            goto out;
        }
    }
    if (req->payload_sha256_hex &&
        !check_payload_hash("payload hash", req->payload_sha256_hex, why, sizeof(why))) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "%s", why);
        goto out;
    }
    size_t nhash;
    const char *hash_hdr = find_header(req, "x-amz-content-sha256", &nhash);
    if (!req->payload_sha256_hex && !nhash) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "no payload hash: hash the body or require x-amz-content-sha256");
        goto out;
    }

    int64_t max_skew = opts->max_skew_s ? opts->max_skew_s : FLOE_SIGV4_DEFAULT_MAX_SKEW_S;
    const char *auth = authorization;
    size_t authn = auth ? strlen(auth) : 0;
    trim_span(&auth, &authn);
    if (!authn) {
        rc = deny(&v, err, FLOE_SIGV4_MISSING, "Missing Authentication Token");
        goto out;
    }
    if (!parse_auth(authorization, &a, why, sizeof(why))) {
        rc = deny(&v, err, FLOE_SIGV4_MALFORMED, "%s", why);
        goto out;
    }
    memcpy(v.access_key_id, a.access_key_id, sizeof(v.access_key_id));
    if (!check_method(req->method, why, sizeof(why)) ||
        !check_target(req->path, req->query, why, sizeof(why)) ||
        !request_time(req, &date_name, &t, v.amz_date, why, sizeof(why))) {
        rc = deny(&v, err, FLOE_SIGV4_MALFORMED, "%s", why);
        goto out;
    }
    if (!list_has(a.signed_headers, "host")) {
        rc = deny(&v, err, FLOE_SIGV4_UNSIGNED_HOST_OR_DATE,
                  "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        goto out;
    }
    if (!list_has(a.signed_headers, date_name)) {
        rc = deny(&v, err, FLOE_SIGV4_UNSIGNED_HOST_OR_DATE,
                  "'%s' must be a 'SignedHeader' in the AWS Authorization.",
                  strcmp(date_name, "date") ? "X-Amz-Date" : "Date");
        goto out;
    }
    if (memcmp(a.date, v.amz_date, 8) != 0) {
        rc = deny(&v, err, FLOE_SIGV4_BAD_SCOPE,
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                  "date from HTTP: '%s' != '%.8s', from '%s'.",
                  a.date, v.amz_date, v.amz_date);
        goto out;
    }
    if (strcmp(a.region, opts->region) != 0) {
        rc = deny(&v, err, FLOE_SIGV4_BAD_SCOPE,
                  "Credential should be scoped to a valid region, not '%s'. This endpoint "
                  "serves '%s'.",
                  a.region, clip(c, opts->region, strlen(opts->region)));
        goto out;
    }
    if (strcmp(a.service, opts->service) != 0) {
        rc = deny(&v, err, FLOE_SIGV4_BAD_SCOPE,
                  "Credential should be scoped to correct service: '%s', not '%s'.",
                  clip(c, opts->service, strlen(opts->service)), a.service);
        goto out;
    }
    if (strcmp(a.terminator, TERMINATOR) != 0) {
        rc =
            deny(&v, err, FLOE_SIGV4_BAD_SCOPE,
                 "Credential should be scoped with a valid terminator: '" TERMINATOR "', not '%s'.",
                 a.terminator);
        goto out;
    }
    int64_t now = (int64_t)opts->now, lo, hi;
    if (__builtin_sub_overflow(now, max_skew, &lo))
        lo = INT64_MIN;
    if (__builtin_add_overflow(now, max_skew, &hi))
        hi = INT64_MAX;
    skew_text(skew, sizeof(skew), max_skew);
    if (t < lo) {
        rc =
            deny(&v, err, FLOE_SIGV4_SKEW, "Signature expired: %s is now earlier than %s (%s - %s)",
                 v.amz_date, when_text(t1, lo), when_text(t2, now), skew);
        goto out;
    }
    if (t > hi) {
        rc = deny(&v, err, FLOE_SIGV4_SKEW,
                  "Signature not yet current: %s is still later than %s (%s + %s)", v.amz_date,
                  when_text(t1, hi), when_text(t3, now), skew);
        goto out;
    }
    int known = opts->lookup(a.access_key_id, secret, sizeof(secret), opts->user) == 0;
    secret[FLOE_SIGV4_SECRET_MAX] = 0; /* whatever the callback did */
    if (!known || !secret[0]) {
        rc = deny(&v, err, FLOE_SIGV4_UNKNOWN_KEY,
                  "The security token included in the request is invalid. (unknown access key "
                  "id '%s')",
                  a.access_key_id);
        goto out;
    }
    if (nhash > 1) {
        rc = deny(&v, err, FLOE_SIGV4_MALFORMED, "request has %zu x-amz-content-sha256 headers",
                  nhash);
        goto out;
    }
    char payload_line[FLOE_SIGV4_SIGNATURE_HEX_LEN + 1];
    if (hash_hdr) {
        char hv[80];
        const char *h = hash_hdr;
        size_t hn = strlen(h);
        trim_span(&h, &hn);
        if (hn >= sizeof(hv)) {
            rc = deny(&v, err, FLOE_SIGV4_BAD_PAYLOAD_HASH,
                      "x-amz-content-sha256 header is %zu characters; it must be 64 lower-case "
                      "hex digits",
                      hn);
            goto out;
        }
        memcpy(hv, h, hn);
        hv[hn] = 0;
        if (!check_payload_hash("x-amz-content-sha256 header", hv, why, sizeof(why))) {
            rc = deny(&v, err, FLOE_SIGV4_BAD_PAYLOAD_HASH, "%s", why);
            goto out;
        }
        memcpy(payload_line, hv, sizeof(payload_line));
    } else {
        memcpy(payload_line, req->payload_sha256_hex, sizeof(payload_line));
    }
    enum build_result br = build_canonical(req, req->headers, req->nheaders, a.signed_headers,
                                           payload_line, &cr, &sl, why, sizeof(why));
    if (br != BUILD_OK) {
        rc = deny(&v, err,
                  br == BUILD_HEADER_MISSING ? FLOE_SIGV4_HEADER_MISSING : FLOE_SIGV4_MALFORMED,
                  "%s", why);
        goto out;
    }
    rc = compute_signature(cr.p, cr.len, secret, v.amz_date, a.region, a.service, &sts, sig, err);
    if (rc)
        goto out;
    if (CRYPTO_memcmp(sig, a.signature, FLOE_SIGV4_SIGNATURE_HEX_LEN) != 0) {
        rc = deny(&v, err, FLOE_SIGV4_MISMATCH,
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method. Consult the "
                  "service documentation for details. The String-to-Sign should have been '%s'",
                  sts.p);
        goto out;
    }
    if (hash_hdr && req->payload_sha256_hex && strcmp(payload_line, req->payload_sha256_hex) != 0) {
        rc = deny(&v, err, FLOE_SIGV4_PAYLOAD_MISMATCH,
                  "x-amz-content-sha256 header %s does not match the SHA-256 of the body %s",
                  payload_line, req->payload_sha256_hex);
        goto out;
    }
    v.reason = FLOE_SIGV4_OK;
out:
    if (rc == FLOE_OK || rc == FLOE_E_AUTH)
        *verdict = v; /* the verdict is the result; caller errors leave it untouched */
    OPENSSL_cleanse(secret, sizeof(secret));
    sb_free(&cr);
    sb_free(&sl);
    sb_free(&sts);
    return rc;
}

/* ---- vault names ---- */

int floe_sigv4_vault_name_valid(const char *name, struct floe_error *err)
{
    char b[48];
    if (!name || !*name)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "vault name is empty; it must be 1-255 characters from A-Z a-z "
                              "0-9 _ . -");
    size_t n = strnlen(name, 256);
    if (n > 255)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "vault name is %zu characters long; the limit is 255", strlen(name));
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch >= 0x80)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "vault name contains non-ASCII byte 0x%02X at offset %zu: "
                                  "Unicode vault names are not allowed; use only A-Z a-z 0-9 "
                                  "_ . -",
                                  ch, i);
        if (!is_alnum(ch) && ch != '_' && ch != '.' && ch != '-') {
            byte_desc(b, ch);
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "vault name contains %s at offset %zu; only A-Z a-z 0-9 _ . "
                                  "- are allowed",
                                  b, i);
        }
    }
    return FLOE_OK;
}
