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

void floe_describe_file(const char *path, size_t path_len, int64_t mtime_ns,
                        char out[FLOE_DESCRIBE_CAP])
{
    int64_t secs = mtime_ns >= 0 ? mtime_ns / 1000000000 : -((-mtime_ns + 999999999) / 1000000000);
    size_t at = (size_t)snprintf(out, FLOE_DESCRIBE_CAP, "floe1 file %" PRId64 " ", secs);
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

static bool parse_file(const char *s, struct floe_description *out)
{
    char *end = NULL;
    long long secs = strtoll(s, &end, 10);
    if (end == s || *end != ' ')
        return false;
    out->mtime_s = secs;
    const char *p = end + 1;
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
        if (parse_file(desc + 11, out))
            out->kind = FLOE_DESC_FILE;
        else
            memset(out, 0, sizeof(*out));
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
