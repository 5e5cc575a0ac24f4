/*
 * request.c - the synchronous request path shared by the Glacier operations (see request.h).
 *
 * DESIGN
 * A request is a plain description (struct floe_request) turned into a call here, so the
 * order every operation follows - vault-name check, path, headers, body, run, free - lives in
 * one place. Nothing is kept between calls; each runs on its caller's thread and blocks on the
 * client's transfer.
 */
#include "request.h"

#include "alloc.h"
#include "floe/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *floe_request_path(const struct floe_request *r)
{
    const char *pre = r->account ? "" : "/vaults/";
    const char *vault = r->account ? "" : r->vault;
    const char *path = r->path ? r->path : "";
    char *enc = r->id ? floe_client_encode(r->id) : NULL;
    size_t n = strlen(pre) + strlen(vault) + strlen(path) + (enc ? strlen(enc) + 1 : 0) + 1;
    char *p = floe_xmalloc(n);
    snprintf(p, n, "%s%s%s%s%s", pre, vault, path, enc ? "/" : "", enc ? enc : "");
    free(enc);
    return p;
}

struct floe_call *floe_request_call(struct floe_client *c, const struct floe_request *r,
                                    struct floe_error *err)
{
    if (!r->account && floe_sigv4_vault_name_valid(r->vault, err) != FLOE_OK)
        return NULL;
    char *path = floe_request_path(r);
    struct floe_call *k = floe_call_new(c, r->method, path, r->query);
    free(path);
    if (r->json)
        floe_call_header(k, "content-type", "application/json");
    for (size_t i = 0; i < sizeof(r->headers) / sizeof(r->headers[0]); i++)
        if (r->headers[i].name && r->headers[i].value && *r->headers[i].value)
            floe_call_header(k, r->headers[i].name, r->headers[i].value);
    if (r->json)
        floe_call_body(k, r->json, strlen(r->json), NULL, false);
    else if (r->data)
        floe_call_body(k, r->data, r->data_len, r->data_sha256, true);
    return k;
}

int floe_request_run(struct floe_client *c, const struct floe_request *r, struct floe_xfer **out,
                     struct floe_error *err)
{
    if (out)
        *out = NULL;
    struct floe_call *k = floe_request_call(c, r, err);
    if (!k)
        return err->status;
    struct floe_xfer *x = NULL;
    int rc = floe_call_run(k, &x, err);
    if (out)
        *out = x;
    else
        floe_xfer_destroy(x);
    return rc;
}

int floe_request_json(struct floe_client *c, const struct floe_request *r, const char *op,
                      json_t **doc, struct floe_error *err)
{
    struct floe_xfer *x = NULL;
    int rc = floe_request_run(c, r, &x, err);
    if (rc == FLOE_OK) {
        json_t *d = floe_call_json(x, op ? op : x->url, err);
        if (d)
            *doc = d;
        else
            rc = FLOE_E_SERVICE;
    }
    floe_xfer_destroy(x);
    return rc;
}

int floe_request_id(struct floe_client *c, const struct floe_request *r, const char *header,
                    char *out, size_t cap, const char *missing, struct floe_error *err)
{
    struct floe_xfer *x = NULL;
    int rc = floe_request_run(c, r, &x, err);
    if (rc == FLOE_OK) {
        const char *id = floe_xfer_header(x, header);
        if (!id || !*id || strlen(id) >= cap)
            rc = floe_error_set(err, FLOE_E_SERVICE, "%s", missing);
        else
            snprintf(out, cap, "%s", id);
    }
    floe_xfer_destroy(x);
    return rc;
}

int floe_request_pages(struct floe_client *c, const struct floe_request *r, const char *op,
                       floe_request_query_fn *query, floe_request_page_fn *page, void *ctx,
                       struct floe_error *err)
{
    struct floe_request pr = *r;
    char *marker = NULL;
    int rc = FLOE_OK;
    for (;;) {
        char q[2400];
        query(q, sizeof(q), marker, ctx);
        pr.query = q;
        json_t *doc = NULL;
        rc = floe_request_json(c, &pr, op, &doc, err);
        if (rc)
            break;
        bool stop = false;
        rc = page(doc, ctx, &stop, err);
        json_t *m = json_object_get(doc, "Marker");
        free(marker);
        marker =
            json_is_string(m) && *json_string_value(m) ? floe_xstrdup(json_string_value(m)) : NULL;
        json_decref(doc);
        if (rc || stop || !marker)
            break;
    }
    free(marker);
    return rc;
}

void floe_request_page_query(char *buf, size_t cap, unsigned limit, const char *marker)
{
    buf[0] = 0;
    size_t n = 0;
    if (limit)
        n += (size_t)snprintf(buf, cap, "limit=%u", limit);
    if (marker && *marker) {
        char *enc = floe_client_encode(marker);
        snprintf(buf + n, cap - n, "%smarker=%s", n ? "&" : "", enc);
        free(enc);
    }
}
