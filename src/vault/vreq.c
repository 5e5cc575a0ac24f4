/*
 * vreq.c - accessors and response builders for struct floe_vreq (see vreq.h).
 */
#include "vreq.h"

#include "alloc.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *floe_vreq_header(const struct floe_vreq *rq, const char *name)
{
    for (size_t i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value;
    return NULL;
}

const char *floe_vreq_param(const struct floe_vreq *rq, const char *name)
{
    for (size_t i = 0; i < rq->nparams; i++)
        if (strcmp(rq->params[i].name, name) == 0)
            return rq->params[i].value;
    return NULL;
}

void floe_vreq_set_header(struct floe_vreq *rq, const char *name, const char *value)
{
    if (rq->resp.nhdr >= FLOE_VREQ_MAX_RESP_HEADERS)
        return;
    rq->resp.hdr[rq->resp.nhdr].name = floe_xstrdup(name);
    rq->resp.hdr[rq->resp.nhdr].value = floe_xstrdup(value);
    rq->resp.nhdr++;
}

void floe_vreq_reply_empty(struct floe_vreq *rq, unsigned status)
{
    rq->resp.status = status;
}

void floe_vreq_reply_body(struct floe_vreq *rq, unsigned status, const char *content_type,
                          char *body, size_t len)
{
    free(rq->resp.body);
    rq->resp.status = status;
    rq->resp.content_type = content_type;
    rq->resp.body = body;
    rq->resp.body_len = len;
}

void floe_vreq_free(struct floe_vreq *rq)
{
    if (!rq)
        return;
    if (rq->op_free)
        rq->op_free(rq);
    free(rq->raw_uri);
    free(rq->path);
    free(rq->query);
    free(rq->headers);
    for (size_t i = 0; i < rq->nparams; i++) {
        free(rq->params[i].name);
        free(rq->params[i].value);
    }
    free(rq->params);
    for (size_t i = 0; i < rq->nseg; i++)
        free(rq->seg[i]);
    free(rq->body);
    for (int i = 0; i < rq->resp.nhdr; i++) {
        free(rq->resp.hdr[i].name);
        free(rq->resp.hdr[i].value);
    }
    free(rq->resp.body);
    if (rq->resp.custom)
        MHD_destroy_response(rq->resp.custom);
    free(rq);
}
