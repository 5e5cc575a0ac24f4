/*
 * floe/error.h - status codes and the error detail every fallible call fills in.
 *
 * A function that can fail returns int: FLOE_OK (0) or a value of enum floe_status.
 * Values are stable and explicitly numbered by class; never renumber them.
 * The detail of a failure goes in a caller-provided struct floe_error.
 */
#ifndef FLOE_ERROR_H
#define FLOE_ERROR_H

#include <stddef.h>

#ifndef FLOE_API
#define FLOE_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum floe_status {
    FLOE_OK = 0,
    /* usage: the caller asked for something invalid */
    FLOE_E_INVALID_ARG = 100,
    FLOE_E_RANGE = 101,       /* a byte range or size breaks a Glacier rule */
    FLOE_E_UNSUPPORTED = 102, /* valid, but not implemented here */
    FLOE_E_CANCELLED = 103,   /* stopped on request (Ctrl-C); resumable where it says so */
    /* local resources */
    FLOE_E_NOMEM = 200,
    FLOE_E_IO = 201, /* a local file could not be read or written (errno saved) */
    FLOE_E_NOT_FOUND = 202,
    /* network */
    FLOE_E_NETWORK = 300,
    FLOE_E_TIMEOUT = 301,
    /* the service answered with an error */
    FLOE_E_SERVICE = 400,
    FLOE_E_AUTH = 401, /* signature missing, malformed, mismatched or out of its window */
    FLOE_E_THROTTLED = 402,
    /* integrity */
    FLOE_E_CHECKSUM = 500, /* bytes do not match their tree hash or linear hash */
    FLOE_E_CORRUPT = 501,  /* a file or record fails its own integrity check */
    /* resume */
    FLOE_E_SOURCE_CHANGED = 600,
    FLOE_E_CHECKPOINT = 601,
};

#define FLOE_ERROR_MSG_MAX 512

/*
 * Error detail. Zero-initialise it; floe_error_set() fills it. Fields that do not apply are
 * left zero / empty. Owned by the caller; not shared between threads.
 */
struct floe_error {
    int status;      /* enum floe_status */
    int sys_errno;   /* errno saved at the failing call, or 0 */
    int http_status; /* HTTP status of a service error, or 0 */
    char code[64];   /* Glacier error code ("ResourceNotFoundException"), or "" */
    char path[256];  /* the local file involved, or "" */
    char message[FLOE_ERROR_MSG_MAX];
    char request_id[64]; /* the service's request id of a service error (x-amz-request-id,
                            x-amzn-RequestId or an S3 error's RequestId), or "" */
};

/*
 * floe_strerror() - a fixed English description of a status value.
 * Returns a static string; never NULL (unknown values give "unknown status").
 * Threads: safe from any thread.
 */
FLOE_API const char *floe_strerror(int status);

/*
 * floe_error_set() - record status and a printf-style message in err; returns status.
 * err may be NULL (then only the status is returned). Threads: err is the caller's.
 */
FLOE_API int floe_error_set(struct floe_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * floe_error_set_errno() - as floe_error_set, also saving sys_errno and the path, and
 * appending ": <strerror(sys_errno)>" to the message. path may be NULL.
 */
FLOE_API int floe_error_set_errno(struct floe_error *err, int status, int sys_errno,
                                  const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * floe_error_append() - appends printf-style text to err->message, leaving the status, code,
 * path and the message so far as they are; used to add context to a failure ("... (part 3)").
 * Truncation: the message never grows past FLOE_ERROR_MSG_MAX - 1 bytes and stays
 * NUL-terminated; what does not fit is dropped, and a cut never splits a UTF-8 sequence (if the
 * last character of the appended text does not fit whole, none of it is kept), so a message
 * that was valid UTF-8 stays so. A message that is already full, or not NUL-terminated (then
 * its last byte becomes the NUL), is left at that. The text is formatted straight into the
 * message: no argument may point into err->message itself.
 * err may be NULL (nothing happens). Ownership: err is the caller's; nothing is allocated.
 * Threads: err must not be used by another thread during the call.
 */
FLOE_API void floe_error_append(struct floe_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
