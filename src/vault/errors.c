/*
 * errors.c - Glacier error bodies (see errors.h). The JSON is built with jansson so that any
 * message text (which may quote user input) is escaped correctly.
 */
#include "errors.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *code;
    unsigned status;
} s_errors[] = {
    {"AccessDeniedException", 403},          {"BadRequest", 400},
    {"InvalidParameterValueException", 400}, {"MissingParameterValueException", 400},
    {"LimitExceededException", 400},         {"ResourceNotFoundException", 404},
    {"SerializationException", 400},         {"PolicyEnforcedException", 400},
    {"RequestTimeoutException", 408},        {"ServiceUnavailableException", 500},
    {"UnknownOperationException", 400},
};
static_assert(sizeof(s_errors) / sizeof(s_errors[0]) == FLOE_VERR_COUNT,
              "error table matches enum floe_verr");

const char *floe_verr_code(enum floe_verr e)
{
    return (unsigned)e < FLOE_VERR_COUNT ? s_errors[e].code : "ServiceUnavailableException";
}

unsigned floe_verr_status(enum floe_verr e)
{
    return (unsigned)e < FLOE_VERR_COUNT ? s_errors[e].status : 500;
}

char *floe_verr_json(const char *code, const char *message, unsigned status, size_t *len)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "code", code, "message", message, "type",
                          status >= 500 ? "Server" : "Client");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) {
        /* a message that is not UTF-8 (quoted user input): fall back to a fixed text */
        o = json_pack("{s:s, s:s, s:s}", "code", code, "message", "(unprintable message)", "type",
                      status >= 500 ? "Server" : "Client");
        s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    *len = strlen(s);
    return s;
}

void floe_verr_reply_code(struct floe_vreq *rq, unsigned status, const char *code,
                          const char *message)
{
    size_t len;
    char *body = floe_verr_json(code, message, status, &len);
    /* a handler may have added success headers before failing: drop them */
    for (int i = 0; i < rq->resp.nhdr; i++) {
        free(rq->resp.hdr[i].name);
        free(rq->resp.hdr[i].value);
    }
    rq->resp.nhdr = 0;
    floe_vreq_set_header(rq, "x-amzn-ErrorType", code);
    floe_vreq_reply_body(rq, status, "application/json", body, len);
}

void floe_verr_reply(struct floe_vreq *rq, enum floe_verr e, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    floe_verr_reply_code(rq, floe_verr_status(e), floe_verr_code(e), msg);
}
