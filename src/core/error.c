/*
 * error.c - status names and the error-detail setters used by every module.
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
    size_t n = strlen(err->message);
    if (sys_errno && n < sizeof(err->message))
        snprintf(err->message + n, sizeof(err->message) - n, ": %s", strerror(sys_errno));
    return status;
}
