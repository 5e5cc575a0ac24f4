/*
 * range.c - Glacier's size and byte-range rules (see floe/range.h). Pure functions; every
 * failure message states the rule that was broken, because users read them.
 */
#include "floe/range.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool is_pow2(uint64_t x)
{
    return x && (x & (x - 1)) == 0;
}

uint64_t floe_range_len(struct floe_byte_range r)
{
    return r.last - r.first + 1;
}

int floe_range_check_part_size(uint64_t part_size, struct floe_error *err)
{
    if (part_size % FLOE_MIB != 0)
        return floe_error_set(err, FLOE_E_RANGE,
                              "part size %" PRIu64 " bytes is not a whole number of MiB "
                              "(it must be a power of two MiB from 1 MiB to 4 GiB)",
                              part_size);
    if (part_size < FLOE_PART_SIZE_MIN || part_size > FLOE_PART_SIZE_MAX)
        return floe_error_set(err, FLOE_E_RANGE,
                              "part size %" PRIu64 " MiB is outside 1 MiB..4096 MiB "
                              "(it must be a power of two MiB from 1 MiB to 4 GiB)",
                              part_size / FLOE_MIB);
    if (!is_pow2(part_size / FLOE_MIB))
        return floe_error_set(err, FLOE_E_RANGE,
                              "part size %" PRIu64 " MiB is not a power of two "
                              "(it must be a power of two MiB from 1 MiB to 4 GiB)",
                              part_size / FLOE_MIB);
    return FLOE_OK;
}

uint64_t floe_range_part_count(uint64_t archive_size, uint64_t part_size)
{
    return part_size ? archive_size / part_size + (archive_size % part_size != 0) : 0;
}

int floe_range_plan_part_size(uint64_t archive_size, uint64_t requested, uint64_t default_size,
                              uint64_t *out, struct floe_error *err)
{
    uint64_t size = requested ? requested : default_size;
    int rc = floe_range_check_part_size(size, err);
    if (rc)
        return rc;
    if (archive_size > FLOE_ARCHIVE_MAX)
        return floe_error_set(err, FLOE_E_RANGE,
                              "archive of %" PRIu64 " bytes exceeds Glacier's maximum of "
                              "10,000 parts of 4 GiB (%" PRIu64 " bytes)",
                              archive_size, FLOE_ARCHIVE_MAX);
    while (floe_range_part_count(archive_size, size) > FLOE_MAX_PARTS)
        size *= 2;
    *out = size;
    return FLOE_OK;
}

int floe_range_check_retrieval(struct floe_byte_range r, uint64_t archive_size,
                               struct floe_error *err)
{
    if (r.first > r.last)
        return floe_error_set(err, FLOE_E_RANGE,
                              "range %" PRIu64 "-%" PRIu64 " ends before it starts", r.first,
                              r.last);
    if (r.last >= archive_size)
        return floe_error_set(err, FLOE_E_RANGE,
                              "range %" PRIu64 "-%" PRIu64 " runs past the end of the %" PRIu64
                              "-byte archive (last byte is %" PRIu64 ")",
                              r.first, r.last, archive_size, archive_size ? archive_size - 1 : 0);
    if (r.first % FLOE_MIB != 0)
        return floe_error_set(err, FLOE_E_RANGE,
                              "range start %" PRIu64 " is not a multiple of 1 MiB (1048576)",
                              r.first);
    if ((r.last + 1) % FLOE_MIB != 0 && r.last != archive_size - 1)
        return floe_error_set(err, FLOE_E_RANGE,
                              "range end %" PRIu64 " is neither one byte before a multiple of "
                              "1 MiB nor the archive's last byte (%" PRIu64 ")",
                              r.last, archive_size - 1);
    return FLOE_OK;
}

bool floe_range_is_tree_aligned(struct floe_byte_range r, uint64_t total)
{
    if (r.first > r.last || r.last >= total)
        return false;
    if (r.first % FLOE_MIB != 0 || ((r.last + 1) % FLOE_MIB != 0 && r.last != total - 1))
        return false;
    uint64_t n = total / FLOE_MIB + (total % FLOE_MIB != 0);
    uint64_t a = r.first / FLOE_MIB;
    uint64_t b = (r.last + 1) / FLOE_MIB + ((r.last + 1) % FLOE_MIB != 0);
    uint64_t len = b - a, p = 1;
    while (p < len)
        p <<= 1;
    return a % p == 0 && (b == a + p || b == n);
}

/* Parses a decimal uint64 at *s, advancing it; false on no digits or overflow. */
static bool parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return false;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
            return false;
        p++;
    }
    *s = p;
    *out = v;
    return true;
}

int floe_range_parse_retrieval(const char *s, struct floe_byte_range *out, struct floe_error *err)
{
    const char *p = s ? s : "";
    struct floe_byte_range r;
    if (!parse_u64(&p, &r.first) || *p++ != '-' || !parse_u64(&p, &r.last) || *p)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "range \"%s\" is not of the form START-END (decimal bytes, "
                              "inclusive)",
                              s ? s : "");
    if (r.first > r.last)
        return floe_error_set(err, FLOE_E_RANGE, "range \"%s\" ends before it starts", s);
    if (r.last == UINT64_MAX) /* its length would not fit in 64 bits */
        return floe_error_set(err, FLOE_E_RANGE, "range \"%s\" is too large", s);
    *out = r;
    return FLOE_OK;
}

int floe_range_parse_content_range(const char *s, struct floe_byte_range *out,
                                   struct floe_error *err)
{
    const char *p = s ? s : "";
    struct floe_byte_range r;
    uint64_t total;
    if (strncmp(p, "bytes ", 6) != 0)
        goto bad;
    p += 6;
    if (!parse_u64(&p, &r.first) || *p++ != '-' || !parse_u64(&p, &r.last) || *p++ != '/')
        goto bad;
    if (*p == '*')
        p++;
    else if (!parse_u64(&p, &total))
        goto bad;
    if (*p)
        goto bad;
    if (r.first > r.last || r.last == UINT64_MAX) /* the length must fit in 64 bits */
        return floe_error_set(err, FLOE_E_RANGE, "Invalid Content-Range: %s", s);
    *out = r;
    return FLOE_OK;
bad:
    return floe_error_set(err, FLOE_E_INVALID_ARG,
                          "Invalid Content-Range: %s (expected \"bytes FIRST-LAST/*\")",
                          s ? s : "");
}

int floe_range_parse_http_range(const char *s, uint64_t total, struct floe_byte_range *out,
                                struct floe_error *err)
{
    const char *p = s ? s : "";
    struct floe_byte_range r;
    if (strncmp(p, "bytes=", 6) != 0)
        goto bad;
    p += 6;
    if (*p == '-') { /* suffix: last N bytes */
        uint64_t nlast;
        p++;
        if (!parse_u64(&p, &nlast) || *p || nlast == 0)
            goto bad;
        if (total == 0)
            return floe_error_set(err, FLOE_E_RANGE, "range %s of an empty payload", s);
        r.last = total - 1;
        r.first = nlast >= total ? 0 : total - nlast;
        *out = r;
        return FLOE_OK;
    }
    if (!parse_u64(&p, &r.first) || *p++ != '-')
        goto bad;
    if (*p == 0) {
        r.last = total ? total - 1 : 0;
    } else {
        if (!parse_u64(&p, &r.last) || *p)
            goto bad;
        if (r.first > r.last)
            return floe_error_set(err, FLOE_E_RANGE, "range %s ends before it starts", s);
        if (total && r.last >= total)
            r.last = total - 1;
    }
    if (r.first >= total)
        return floe_error_set(err, FLOE_E_RANGE,
                              "The start of the range is larger than size of retrieved data: %s",
                              s);
    *out = r;
    return FLOE_OK;
bad:
    return floe_error_set(err, FLOE_E_INVALID_ARG,
                          "invalid Range \"%s\" (expected bytes=FIRST-LAST, bytes=FIRST- or "
                          "bytes=-COUNT)",
                          s ? s : "");
}

int floe_range_check_segment_size(uint64_t segment_size, struct floe_error *err)
{
    if (segment_size % FLOE_MIB != 0 || !is_pow2(segment_size / FLOE_MIB) ||
        segment_size > FLOE_PART_SIZE_MAX)
        return floe_error_set(err, FLOE_E_RANGE,
                              "segment size %" PRIu64 " bytes is not a power of two MiB from "
                              "1 MiB to 4 GiB (segments must be tree-hash aligned)",
                              segment_size);
    return FLOE_OK;
}

uint64_t floe_range_segment_count(uint64_t total, uint64_t segment_size)
{
    return floe_range_part_count(total, segment_size);
}

struct floe_byte_range floe_range_segment(uint64_t total, uint64_t segment_size, uint64_t index)
{
    struct floe_byte_range r;
    r.first = index * segment_size;
    r.last = r.first + segment_size - 1;
    if (r.last >= total)
        r.last = total - 1;
    return r;
}

size_t floe_range_describe(struct floe_byte_range r, uint64_t total, char *buf, size_t cap)
{
    char sz[32];
    floe_range_format_size(r.last >= r.first ? floe_range_len(r) : 0, sz, sizeof(sz));
    const char *kind =
        floe_range_is_tree_aligned(r, total) ? "tree-hash aligned"
        : (r.first % FLOE_MIB == 0 && ((r.last + 1) % FLOE_MIB == 0 || r.last + 1 == total))
            ? "MiB aligned, not tree-hash aligned"
            : "not MiB aligned";
    return (size_t)snprintf(
        buf, cap, "bytes %" PRIu64 "-%" PRIu64 " (%s; leaves %" PRIu64 "-%" PRIu64 "; %s)", r.first,
        r.last, sz, r.first / FLOE_MIB, r.last / FLOE_MIB, kind);
}

int floe_range_parse_size(const char *s, uint64_t *out, struct floe_error *err)
{
    const char *p = s ? s : "";
    uint64_t v;
    if (!parse_u64(&p, &v))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "size \"%s\" is not a whole number of bytes with an optional unit "
                              "(K, M, G, T, KiB, MiB, GiB, TiB)",
                              s ? s : "");
    if (*p == '.' || *p == ',')
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "size \"%s\" is not a whole number: use a smaller unit "
                              "(1536M, not 1.5G)",
                              s);
    unsigned shift = 0;
    switch (toupper((unsigned char)*p)) {
    case 0: break;
    case 'B': p++; break;
    case 'K':
        shift = 10;
        p++;
        break;
    case 'M':
        shift = 20;
        p++;
        break;
    case 'G':
        shift = 30;
        p++;
        break;
    case 'T':
        shift = 40;
        p++;
        break;
    default: goto bad;
    }
    if (shift) {
        if (*p == 'i' || *p == 'I')
            p++;
        if (*p == 'b' || *p == 'B')
            p++;
    }
    if (*p)
        goto bad;
    if (shift && v > (UINT64_MAX >> shift))
        return floe_error_set(err, FLOE_E_RANGE, "size \"%s\" is too large", s);
    *out = v << shift;
    return FLOE_OK;
bad:
    return floe_error_set(err, FLOE_E_INVALID_ARG,
                          "size \"%s\" has an unknown unit (use K, M, G, T, KiB, MiB, GiB or "
                          "TiB)",
                          s);
}

size_t floe_range_format_size(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    unsigned u = 0;
    uint64_t whole = bytes;
    while (whole >= 1024 && u < 5) {
        whole /= 1024;
        u++;
    }
    if (u == 0)
        return (size_t)snprintf(buf, cap, "%" PRIu64 " B", bytes);
    uint64_t unit = (uint64_t)1 << (10 * u);
    if (bytes % unit == 0)
        return (size_t)snprintf(buf, cap, "%" PRIu64 " %s", bytes / unit, units[u]);
    double v = (double)bytes / (double)unit;
    if (v >= 1023.995 && u < 5) { /* would print as "1024.00": name the next unit */
        u++;
        v /= 1024;
    }
    return (size_t)snprintf(buf, cap, "%.2f %s", v, units[u]);
}
