/*
 * vreq.c - accessors and response builders for struct floe_vreq (see vreq.h).
 */
#include "vreq.h"

#include "alloc.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Appends v to out trimmed and with inner runs of blanks collapsed (SigV4's Trimall). */
static size_t put_trimall(char *out, const char *v)
{
    size_t n = 0;
    bool any = false, gap = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            gap = any;
            continue;
        }
        if (gap)
            out[n++] = ' ';
        gap = false;
        any = true;
        out[n++] = *v;
    }
    return n;
}

void floe_vreq_index_headers(struct floe_vreq *rq)
{
    size_t n = rq->nheaders ? rq->nheaders : 1;
    rq->fields = floe_xcalloc(n, sizeof(*rq->fields));
    rq->fields_own = floe_xcalloc(n, sizeof(*rq->fields_own));
    rq->nfields = 0;
    rq->header_bytes = 0;
    for (size_t i = 0; i < rq->nheaders; i++)
        rq->header_bytes += strlen(rq->headers[i].name) + strlen(rq->headers[i].value) + 4;
    for (size_t i = 0; i < rq->nheaders; i++) {
        const char *name = rq->headers[i].name;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcasecmp(rq->headers[k].name, name) == 0;
        if (seen)
            continue;
        size_t count = 0, len = 0;
        for (size_t k = i; k < rq->nheaders; k++) {
            if (strcasecmp(rq->headers[k].name, name) == 0) {
                count++;
                len += strlen(rq->headers[k].value) + 1;
            }
        }
        struct floe_sigv4_header *f = &rq->fields[rq->nfields];
        f->name = name;
        f->value = rq->headers[i].value;
        if (count > 1) {
            char *joined = floe_xmalloc(len + 1);
            size_t at = 0;
            for (size_t k = i; k < rq->nheaders; k++) {
                if (strcasecmp(rq->headers[k].name, name) != 0)
                    continue;
                if (k != i)
                    joined[at++] = ',';
                at += put_trimall(joined + at, rq->headers[k].value);
            }
            joined[at] = '\0';
            rq->fields_own[rq->nfields] = joined;
            f->value = joined;
        }
        rq->nfields++;
    }
}

size_t floe_vreq_header_count(const struct floe_vreq *rq, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < rq->nheaders; i++)
        n += strcasecmp(rq->headers[i].name, name) == 0;
    return n;
}

const char *floe_vreq_header(const struct floe_vreq *rq, const char *name)
{
    for (size_t i = 0; i < rq->nfields; i++)
        if (strcasecmp(rq->fields[i].name, name) == 0)
            return rq->fields[i].value;
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
    for (size_t i = 0; i < rq->nfields; i++)
        free(rq->fields_own[i]);
    free(rq->fields);
    free(rq->fields_own);
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
