/*
 * error.c - status names and the error-detail setters used by every module.
 *
 * Threads: floe_strerror() is safe anywhere; the setters and floe_error_append() touch only the
 * caller's struct floe_error.
 */
#include "floe/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *floe_strerror(int status)
{
    switch ((enum floe_status)status) {
    case FLOE_OK: return "success";
    case FLOE_E_INVALID_ARG: return "invalid argument";
    case FLOE_E_RANGE: return "byte range or size breaks a Glacier rule";
    case FLOE_E_UNSUPPORTED: return "not supported";
    case FLOE_E_CANCELLED: return "cancelled";
    case FLOE_E_NOMEM: return "out of memory";
    case FLOE_E_IO: return "local I/O error";
    case FLOE_E_NOT_FOUND: return "not found";
    case FLOE_E_NETWORK: return "network error";
    case FLOE_E_TIMEOUT: return "timed out";
    case FLOE_E_SERVICE: return "service error";
    case FLOE_E_AUTH: return "authentication failed";
    case FLOE_E_THROTTLED: return "throttled by the service";
    case FLOE_E_CHECKSUM: return "checksum mismatch";
    case FLOE_E_CORRUPT: return "corrupt data";
    case FLOE_E_SOURCE_CHANGED: return "source changed since the checkpoint";
    case FLOE_E_CHECKPOINT: return "checkpoint error";
    }
    return "unknown status";
}

static void vset(struct floe_error *err, int status, const char *fmt, va_list ap)
{
    err->status = status;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

int floe_error_set(struct floe_error *err, int status, const char *fmt, ...)
{
    if (!err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vset(err, status, fmt, ap);
    va_end(ap);
    return status;
}

int floe_error_set_errno(struct floe_error *err, int status, int sys_errno, const char *path,
                         const char *fmt, ...)
{
    if (!err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vset(err, status, fmt, ap);
    va_end(ap);
    err->sys_errno = sys_errno;
    snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
    if (sys_errno)
        floe_error_append(err, ": %s", strerror(sys_errno));
    return status;
}

/*
 * Where a message cut at byte end (end > from) must stop so that no UTF-8 sequence in
 * msg[from, end) is left incomplete: end itself, or the start of the last sequence when that
 * one is cut short. Bytes before from are never looked at.
 */
static size_t utf8_cut(const char *msg, size_t from, size_t end)
{
    size_t i = end;
    /* back over at most 3 continuation bytes (10xxxxxx) to the sequence's lead byte */
    while (i > from && end - i < 3 && ((unsigned char)msg[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == from)
        return end; /* only continuation bytes (or nothing): no lead of ours to check */
    unsigned char lead = (unsigned char)msg[i - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    size_t have = end - (i - 1);
    return have < want ? i - 1 : end;
}

void floe_error_append(struct floe_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    const size_t cap = sizeof(err->message);
    const char *nul = memchr(err->message, 0, cap);
    if (!nul) {
        err->message[cap - 1] = 0;
        return;
    }
    size_t n = (size_t)(nul - err->message);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(err->message + n, cap - n, fmt, ap);
    va_end(ap);
    if (w < 0) {
        err->message[n] = 0; /* an encoding error: append nothing */
        return;
    }
    if ((size_t)w >= cap - n) /* cut short: do not leave half a character at the end */
        err->message[utf8_cut(err->message, n, cap - 1)] = 0;
}
