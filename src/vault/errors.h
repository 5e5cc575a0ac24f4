/*
 * errors.h - Glacier's error responses: the JSON body {"code","message","type"} with the
 * status of each code (docs/glacier-api.md 2.11), plus x-amzn-errortype for SDKs that read it.
 *
 * Threads: safe from any thread (the table is constant; the request is the caller's).
 */
#ifndef FLOE_VAULT_ERRORS_H
#define FLOE_VAULT_ERRORS_H

#include "vreq.h"

/* The error codes floe-vault answers with. Stable order; s_errors in errors.c mirrors it. */
enum floe_verr {
    FLOE_VERR_ACCESS_DENIED = 0,   /* 403 AccessDeniedException */
    FLOE_VERR_BAD_REQUEST,         /* 400 BadRequest */
    FLOE_VERR_INVALID_PARAMETER,   /* 400 InvalidParameterValueException */
    FLOE_VERR_MISSING_PARAMETER,   /* 400 MissingParameterValueException */
    FLOE_VERR_LIMIT_EXCEEDED,      /* 400 LimitExceededException */
    FLOE_VERR_NOT_FOUND,           /* 404 ResourceNotFoundException */
    FLOE_VERR_SERIALIZATION,       /* 400 SerializationException */
    FLOE_VERR_POLICY_ENFORCED,     /* 400 PolicyEnforcedException */
    FLOE_VERR_REQUEST_TIMEOUT,     /* 408 RequestTimeoutException */
    FLOE_VERR_SERVICE_UNAVAILABLE, /* 500 ServiceUnavailableException */
    FLOE_VERR_UNKNOWN_OPERATION,   /* 400 UnknownOperationException */
    FLOE_VERR_COUNT
};

/* Code name ("ResourceNotFoundException") and HTTP status of an error. */
const char *floe_verr_code(enum floe_verr e);
unsigned floe_verr_status(enum floe_verr e);

/* floe_verr_reply() - answer rq with error e and a printf-style message. */
void floe_verr_reply(struct floe_vreq *rq, enum floe_verr e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* floe_verr_reply_code() - answer with an arbitrary code/status (SigV4 verdicts). */
void floe_verr_reply_code(struct floe_vreq *rq, unsigned status, const char *code,
                          const char *message);

/* floe_verr_json() - the error body; malloc'd, caller frees. */
char *floe_verr_json(const char *code, const char *message, unsigned status, size_t *len);

#endif
