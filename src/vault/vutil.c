/*
 * vutil.c - see vutil.h. Pure helpers; the only system call is getrandom() for ids.
 */
#include "vutil.h"

#include "hex.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char s_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char s_alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

void floe_vutil_id(char *out, size_t len, bool alnum_only)
{
    uint8_t rnd[256];
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < sizeof(rnd) ? len - done : sizeof(rnd);
        ssize_t got = getrandom(rnd, want, 0);
        if (got <= 0) {
            fprintf(stderr, "floe-vault: getrandom failed\n");
            abort();
        }
        for (ssize_t i = 0; i < got; i++)
            out[done + (size_t)i] = alnum_only ? s_alnum[rnd[i] % 62] : s_b64url[rnd[i] & 63];
        done += (size_t)got;
    }
    out[len] = '\0';
}

int64_t floe_vutil_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void floe_vutil_iso(int64_t ms, bool with_ms, char out[FLOE_VTIME_ISO_MAX])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[96];
    if (with_ms)
        snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    else
        snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    size_t n = strnlen(buf, FLOE_VTIME_ISO_MAX - 1);
    memcpy(out, buf, n);
    out[n] = '\0';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int floe_vutil_parse_iso(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, msec = 0;
    if (!s || strlen(s) < 20)
        return -1;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || s[10] != 'T' || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int n = 0, frac = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                frac = frac * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9)
            return -1;
        for (int i = n; i < 3; i++)
            frac *= 10;
        msec = frac;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *out = (int64_t)t * 1000 + msec;
    return 0;
}

long floe_vutil_pct_decode(const char *in, size_t n, char *out, size_t cap, bool reject_slash)
{
    size_t o = 0;
    if (cap < n + 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = floe_hex_nibble(in[i + 1]), lo = floe_hex_nibble(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0' || (reject_slash && c == '/'))
                return -1;
            i += 2;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

int floe_vutil_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s || strlen(s) > 20)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return -1;
    }
    *out = v;
    return 0;
}

bool floe_vutil_desc_valid(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++)
        if (*p < 0x20 || *p > 0x7e || n >= FLOE_VDESC_MAX)
            return false;
    return true;
}

size_t floe_vutil_b64url_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = s_b64url[v >> 18];
        out[o++] = s_b64url[(v >> 12) & 63];
        out[o++] = s_b64url[(v >> 6) & 63];
        out[o++] = s_b64url[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = s_b64url[v >> 18];
        out[o++] = s_b64url[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = s_b64url[v >> 18];
        out[o++] = s_b64url[(v >> 12) & 63];
        out[o++] = s_b64url[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

long floe_vutil_b64url_decode(const char *in, size_t n, void *out)
{
    uint8_t *o = out;
    size_t len = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *q = memchr(s_b64url, in[i], 64);
        if (!q || !in[i])
            return -1;
        acc = acc << 6 | (uint32_t)(q - s_b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[len++] = (uint8_t)(acc >> bits);
        }
    }
    if (n % 4 == 1)
        return -1;
    return (long)len;
}

const char *floe_vutil_inexact_option(int argc, char *const *argv, const struct option *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return NULL;
        if (strncmp(a, "--", 2) != 0)
            continue;
        size_t n = strcspn(a + 2, "=");
        const struct option *o = opts;
        while (o->name && !(strlen(o->name) == n && strncmp(o->name, a + 2, n) == 0))
            o++;
        if (!o->name)
            return a;
        if (o->has_arg == required_argument && !a[2 + n])
            i++; /* its argument, whatever it looks like */
    }
    return NULL;
}
