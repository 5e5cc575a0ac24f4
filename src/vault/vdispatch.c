/*
 * vdispatch.c - a request's checks, route and handler, whatever carried it (see vdispatch.h).
 *
 * DESIGN
 * Order of the checks (docs/floe-vault.md): header size and single headers, then the target;
 * a buffered request (every operation but the uploads) is admitted before its body by the
 * signature precheck and refused when its body is too large, then authenticated in full with
 * the body's hash; only then are a bad path, an unknown operation, the account and the API
 * version reported, so an unsigned client learns nothing about paths. An upload route is
 * authenticated on its headers (payload hash from x-amz-content-sha256) and its begin handler
 * validates them before any body byte; the body then streams into the handler. The transport
 * (http.c) decides what happens to the body of a request answered early (drained or dropped).
 */
#include "vdispatch.h"

#include "alloc.h"
#include "auth.h"
#include "errors.h"
#include "sha256.h"
#include "vctx.h"
#include "vutil.h"
#include "floe/treehash.h"

#include <stdlib.h>
#include <string.h>

static bool parse_query(struct floe_vreq *rq)
{
    const char *q = rq->query;
    size_t cap = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t nlen = eq ? (size_t)(eq - q) : len;
            size_t vlen = eq ? len - nlen - 1 : 0;
            if (rq->nparams == cap) {
                cap = cap ? cap * 2 : 4;
                rq->params = floe_xrealloc(rq->params, cap * sizeof(*rq->params));
            }
            struct floe_vparam *p = &rq->params[rq->nparams];
            p->name = floe_xmalloc(nlen + 1);
            p->value = floe_xmalloc(vlen + 1);
            rq->nparams++;
            if (floe_vutil_pct_decode(q, nlen, p->name, nlen + 1, false) < 0 ||
                floe_vutil_pct_decode(eq ? eq + 1 : "", vlen, p->value, vlen + 1, false) < 0)
                return false;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return true;
}

/* Split the raw target into path segments (decoded) and query parameters. */
static bool parse_target(struct floe_vreq *rq)
{
    const char *u = rq->raw_uri;
    const char *qm = strchr(u, '?');
    size_t plen = qm ? (size_t)(qm - u) : strlen(u);
    rq->path = floe_xmalloc(plen + 1);
    memcpy(rq->path, u, plen);
    rq->path[plen] = '\0';
    rq->query = floe_xstrdup(qm ? qm + 1 : "");
    if (plen == 0 || u[0] != '/')
        return false;
    const char *p = rq->path + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (rq->nseg >= FLOE_VREQ_MAX_SEGMENTS || len == 0)
            return false;
        char *seg = floe_xmalloc(len + 1);
        rq->seg[rq->nseg++] = seg;
        if (floe_vutil_pct_decode(p, len, seg, len + 1, true) < 0)
            return false;
        if (!strcmp(seg, ".") || !strcmp(seg, ".."))
            return false;
        p += len;
        if (*p == '/') {
            p++;
            if (!*p)
                return false; /* trailing slash */
        }
    }
    return parse_query(rq);
}

/* x-amz-glacier-version, when sent, must be the one API version there is; replies if not. */
static bool version_ok(struct floe_vreq *rq)
{
    const char *version = floe_vreq_header(rq, "x-amz-glacier-version");
    if (version && strcmp(version, "2012-06-01") != 0) {
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Invalid x-amz-glacier-version: %s (this server speaks 2012-06-01)",
                        version);
        return false;
    }
    return true;
}

/* Headers a request may carry at most once (docs/floe-vault.md). */
static const char *const s_single[] = {
    "Content-Length",
    "Host",
    "X-Amz-Date",
    "x-amz-content-sha256",
    "x-amz-sha256-tree-hash",
    "Content-Range",
    "x-amz-archive-description",
};

/* A repeat of a header that must be single is 400; a repeated Content-Length also closes
 * the connection (where the body ends is unknown). Replies and returns false on a repeat. */
static bool singles_ok(struct floe_vreq *rq)
{
    for (size_t i = 0; i < sizeof(s_single) / sizeof(s_single[0]); i++) {
        size_t n = floe_vreq_header_count(rq, s_single[i]);
        if (n <= 1)
            continue;
        floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                        "Header %s appears %zu times; it must be sent once", s_single[i], n);
        if (strcmp(s_single[i], "Content-Length") == 0) {
            rq->resp.close = true;
            rq->has_length = false;
        }
        return false;
    }
    return true;
}

void floe_vdispatch_head(struct floe_vreq *rq, struct floe_vdispatch *d)
{
    floe_vreq_index_headers(rq);
    const char *cl = floe_vreq_header(rq, "Content-Length");
    const char *te = floe_vreq_header(rq, "Transfer-Encoding");
    if (cl && !te && floe_vutil_parse_u64(cl, &rq->content_length) == 0)
        rq->has_length = true;
    else if (!cl && !te)
        rq->has_length = true; /* no body */

    if (rq->header_bytes > FLOE_VDISPATCH_HEADERS_MAX) {
        floe_verr_reply(rq, FLOE_VERR_BAD_REQUEST,
                        "Request headers are too large: %zu bytes (limit %u)", rq->header_bytes,
                        FLOE_VDISPATCH_HEADERS_MAX);
        return;
    }
    if (!singles_ok(rq))
        return;
    d->target_bad = !parse_target(rq);
    if (!d->target_bad)
        d->route_result = floe_vroute_find(rq, &rq->route);
    if (d->target_bad || d->route_result != FLOE_VROUTE_OK || !rq->route->begin) {
        /* buffered: a body is read only after the precheck of the headers (auth.h); the
         * signature is checked in full once the body is in; a body too large is refused now */
        bool body = !rq->has_length || rq->content_length > 0;
        if (body && !floe_vauth_precheck(rq))
            return;
        d->authed = true;
        if (rq->has_length && rq->content_length > FLOE_VDISPATCH_BODY_MAX)
            floe_verr_reply(rq, FLOE_VERR_BAD_REQUEST, "Request body is larger than %u bytes",
                            FLOE_VDISPATCH_BODY_MAX);
        return;
    }
    d->stream = true;
    if (!floe_vauth_check(rq, NULL))
        return;
    d->authed = true;
    if (!floe_vauth_account(rq) || !version_ok(rq))
        return;
    rq->route->begin(rq);
}

/* After authentication: path, route and account errors, then the handler. */
static void run_buffered(struct floe_vreq *rq, const struct floe_vdispatch *d)
{
    uint8_t digest[FLOE_HASH_BYTES];
    char hex[FLOE_HASH_HEX];
    floe_sha256(rq->body ? rq->body : "", rq->body_len, digest);
    floe_treehash_hex(digest, hex);
    if (!floe_vauth_check(rq, hex))
        return;
    if (d->target_bad) {
        floe_verr_reply(rq, FLOE_VERR_BAD_REQUEST,
                        "Invalid request path: empty, '.' or '..' segments and encoded '/' or "
                        "NUL are not allowed: %s",
                        rq->path ? rq->path : rq->raw_uri);
        return;
    }
    if (d->route_result == FLOE_VROUTE_NO_PATH) {
        floe_verr_reply(rq, FLOE_VERR_UNKNOWN_OPERATION, "No Glacier operation has the path %s",
                        rq->path);
        return;
    }
    if (d->route_result == FLOE_VROUTE_NO_METHOD) {
        floe_verr_reply(rq, FLOE_VERR_UNKNOWN_OPERATION, "No Glacier operation matches %s %s%s%s",
                        rq->method, rq->path, *rq->query ? "?" : "", rq->query);
        return;
    }
    if (!floe_vauth_account(rq))
        return;
    if (!version_ok(rq))
        return;
    rq->route->run(rq);
}

void floe_vdispatch_body(struct floe_vreq *rq, struct floe_vdispatch *d, const char *data, size_t n)
{
    if (d->stream) {
        rq->route->data(rq, data, n);
        return;
    }
    if (rq->body_len + n > FLOE_VDISPATCH_BODY_MAX) {
        floe_verr_reply(rq, FLOE_VERR_BAD_REQUEST, "Request body is larger than %u bytes",
                        FLOE_VDISPATCH_BODY_MAX);
        return;
    }
    if (rq->body_len + n + 1 > rq->body_cap) {
        rq->body_cap = (rq->body_len + n + 1) * 2;
        rq->body = floe_xrealloc(rq->body, rq->body_cap);
    }
    memcpy(rq->body + rq->body_len, data, n);
    rq->body_len += n;
    rq->body[rq->body_len] = '\0';
}

void floe_vdispatch_end(struct floe_vreq *rq, struct floe_vdispatch *d)
{
    if (!rq->resp.status) {
        if (d->stream)
            rq->route->end(rq);
        else
            run_buffered(rq, d);
    }
    if (!rq->resp.status)
        floe_verr_reply(rq, FLOE_VERR_SERVICE_UNAVAILABLE, "The operation produced no response");
}

struct floe_vreq *floe_vdispatch_one(struct floe_vserver *srv, const char *method,
                                     const char *target, const struct floe_sigv4_header *headers,
                                     size_t nheaders, const void *body, size_t body_len,
                                     size_t chunk)
{
    struct floe_vreq *rq = floe_xcalloc(1, sizeof(*rq));
    struct floe_vdispatch d = {0};
    rq->srv = srv;
    rq->method = method;
    rq->raw_uri = floe_xstrdup(target);
    rq->start_ms = floe_vutil_now_ms();
    floe_vutil_id(rq->request_id, 52, true);
    rq->headers = floe_xcalloc(nheaders ? nheaders : 1, sizeof(*rq->headers));
    if (nheaders)
        memcpy(rq->headers, headers, nheaders * sizeof(*headers));
    rq->nheaders = nheaders;
    floe_vdispatch_head(rq, &d);
    const char *b = body;
    for (size_t off = 0; off < body_len && !rq->resp.status;) {
        size_t n = chunk && chunk < body_len - off ? chunk : body_len - off;
        floe_vdispatch_body(rq, &d, b + off, n);
        off += n;
    }
    if (!rq->resp.status)
        floe_vdispatch_end(rq, &d);
    return rq;
}
