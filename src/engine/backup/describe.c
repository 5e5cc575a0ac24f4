/*
 * describe.c - see describe.h.
 */
#include "describe.h"

#include "hex.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_hex[] = "0123456789ABCDEF";

static bool plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '%';
}

static int64_t whole_seconds(int64_t mtime_ns)
{
    return mtime_ns >= 0 ? mtime_ns / 1000000000 : -((-mtime_ns + 999999999) / 1000000000);
}

/* Appends path, encoded, to out[0..at) (see describe.h). */
static void put_path(char out[FLOE_DESCRIBE_CAP], size_t at, const char *path, size_t path_len)
{
    size_t encoded = 0;
    for (size_t i = 0; i < path_len; i++)
        encoded += plain((unsigned char)path[i]) ? 1 : 3;
    /* the whole path, or as much as leaves room for the "%~" marker */
    size_t limit =
        at + encoded <= FLOE_DESCRIBE_CAP - 1 ? FLOE_DESCRIBE_CAP - 1 : FLOE_DESCRIBE_CAP - 1 - 2;
    size_t i = 0;
    for (; i < path_len; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (at + (plain(ch) ? 1 : 3) > limit)
            break;
        if (plain(ch)) {
            out[at++] = (char)ch;
        } else {
            out[at++] = '%';
            out[at++] = s_hex[ch >> 4];
            out[at++] = s_hex[ch & 15];
        }
    }
    if (i < path_len) {
        out[at++] = '%';
        out[at++] = '~';
    }
    out[at] = '\0';
}

void floe_describe_file(const char *path, size_t path_len, int64_t mtime_ns,
                        char out[FLOE_DESCRIBE_CAP])
{
    int n = snprintf(out, FLOE_DESCRIBE_CAP, "floe1 file %" PRId64 " ", whole_seconds(mtime_ns));
    put_path(out, (size_t)n, path, path_len);
}

void floe_describe_zfile(uint32_t set, uint64_t run, const char *path, size_t path_len,
                         int64_t mtime_ns, uint64_t size, char out[FLOE_DESCRIBE_CAP])
{
    int n = snprintf(out, FLOE_DESCRIBE_CAP,
                     "floe1 zfile %08" PRIx32 "-%" PRIu64 " %" PRId64 " %" PRIu64 " ", set, run,
                     whole_seconds(mtime_ns), size);
    put_path(out, (size_t)n, path, path_len);
}

void floe_describe_zfile_prefix(uint32_t set, char out[64])
{
    snprintf(out, 64, "floe1 zfile %08" PRIx32 "-", set);
}

void floe_describe_pack(uint32_t set, uint64_t run, uint64_t seq, char out[FLOE_DESCRIBE_CAP])
{
    snprintf(out, FLOE_DESCRIBE_CAP, "floe1 pack %08" PRIx32 "-%" PRIu64 "-%" PRIu64, set, run,
             seq);
}

void floe_describe_pack_prefix(uint32_t set, char out[64])
{
    snprintf(out, 64, "floe1 pack %08" PRIx32 "-", set);
}

void floe_describe_catalog(uint32_t set, uint64_t run, int64_t unix_time,
                           char out[FLOE_DESCRIBE_CAP])
{
    snprintf(out, FLOE_DESCRIBE_CAP, "floe1 catalog %08" PRIx32 "-%" PRIu64 " %" PRId64, set, run,
             unix_time);
}

/* The encoded path p (to the end of the description) into out->path. */
static bool parse_path(const char *p, struct floe_description *out)
{
    size_t n = 0;
    while (*p) {
        if (p[0] == '%' && p[1] == '~' && !p[2]) {
            out->truncated = true;
            break;
        }
        unsigned char ch;
        if (*p == '%') {
            int hi = floe_hex_nibble(p[1]), lo = hi < 0 ? -1 : floe_hex_nibble(p[2]);
            if (lo < 0)
                return false;
            ch = (unsigned char)(hi << 4 | lo);
            p += 3;
        } else {
            ch = (unsigned char)*p++;
        }
        if (n + 1 >= sizeof(out->path) || ch == 0)
            return false;
        out->path[n++] = (char)ch;
    }
    out->path[n] = '\0';
    out->path_len = n;
    return n > 0;
}

/* "<mtime> <path>" (file) or "<mtime> <size> <path>" (zfile). */
static bool parse_file(const char *s, bool with_size, struct floe_description *out)
{
    char *end = NULL;
    long long secs = strtoll(s, &end, 10);
    if (end == s || *end != ' ')
        return false;
    out->mtime_s = secs;
    if (with_size) {
        const char *q = end + 1;
        if (*q < '0' || *q > '9')
            return false;
        out->size = strtoull(q, &end, 10);
        if (*end != ' ')
            return false;
    }
    return parse_path(end + 1, out);
}

void floe_describe_parse(const char *desc, struct floe_description *out)
{
    memset(out, 0, sizeof(*out));
    if (!desc)
        return;
    unsigned set = 0;
    unsigned long long run = 0, seq = 0;
    long long when = 0;
    int used = 0;
    if (strncmp(desc, "floe1 file ", 11) == 0) {
        if (parse_file(desc + 11, false, out))
            out->kind = FLOE_DESC_FILE;
        else
            memset(out, 0, sizeof(*out));
    } else if (sscanf(desc, "floe1 zfile %8x-%llu%n", &set, &run, &used) == 2 &&
               desc[used] == ' ') {
        if (parse_file(desc + used + 1, true, out)) {
            out->kind = FLOE_DESC_ZFILE;
            out->set = set;
            out->run = run;
        } else {
            memset(out, 0, sizeof(*out));
        }
    } else if (sscanf(desc, "floe1 pack %8x-%llu-%llu%n", &set, &run, &seq, &used) == 3 &&
               !desc[used]) {
        out->kind = FLOE_DESC_PACK;
        out->set = set;
        out->run = run;
        out->seq = seq;
    } else if (sscanf(desc, "floe1 catalog %8x-%llu %lld%n", &set, &run, &when, &used) == 3 &&
               !desc[used]) {
        out->kind = FLOE_DESC_CATALOG;
        out->set = set;
        out->run = run;
        out->unix_time = when;
    }
}
