/*
 * vdispatch.h - one request's way through floe-vault, independent of how it arrived: header
 * checks (size, headers that must be single), target and query parsing, the route, SigV4 (before
 * any body byte and in full once a buffered body is in), the account, the API version, and the
 * handler. http.c drives it from libmicrohttpd's callbacks (headers, body chunks, end);
 * floe_vdispatch_one() drives the same three steps for a request held in memory (the
 * in-process fuzz target tests/fuzz/fuzz_vault_request.c, tests), with no socket.
 *
 * Threads: a request and its state belong to one thread; the server handles (vctx.h) are
 * internally synchronised, so requests on different threads may run at once.
 */
#ifndef FLOE_VAULT_VDISPATCH_H
#define FLOE_VAULT_VDISPATCH_H

#include "router.h"
#include "vreq.h"

#include <stdbool.h>
#include <stddef.h>

struct floe_vserver;

/* Largest buffered (non-upload) request body; Select expressions (128 KB) fit. */
#define FLOE_VDISPATCH_BODY_MAX (1u << 20)
/* Largest total size of request header names and values answered with a JSON error. */
#define FLOE_VDISPATCH_HEADERS_MAX (16u << 10)

/* A request's progress, between the three steps (zeroed before the first). */
struct floe_vdispatch {
    bool stream;     /* an upload route: the body goes to route->data as it arrives */
    bool target_bad; /* the path could not be parsed (answered once the body is in) */
    bool authed;     /* the signature (or, before a buffered body, its precheck) passed */
    enum floe_vroute_result route_result;
};

/*
 * floe_vdispatch_head() - the headers are in. rq->srv, method, raw_uri, request_id and
 * headers/nheaders (borrowed strings) must be set. Indexes the headers, reads Content-Length,
 * refuses oversized headers and repeats of single headers, parses the target, finds the route;
 * an upload route is authenticated now and its begin handler run, a buffered one gets the
 * precheck (auth.h) when it has a body. Sets rq->resp.status when the answer is decided (the
 * body is then not for the handler: drain or drop it).
 */
void floe_vdispatch_head(struct floe_vreq *rq, struct floe_vdispatch *d);

/*
 * floe_vdispatch_body() - n more body bytes (only while rq->resp.status is 0): streamed to the
 * upload handler, or buffered up to FLOE_VDISPATCH_BODY_MAX (beyond: answered 400). Sets
 * rq->resp.status when the answer is decided.
 */
void floe_vdispatch_body(struct floe_vreq *rq, struct floe_vdispatch *d, const char *data,
                         size_t n);

/*
 * floe_vdispatch_end() - the body is complete: unless answered already, an upload's end
 * handler runs, a buffered request is authenticated with its body's SHA-256, checked (path,
 * route, account, version) and run. Afterwards rq->resp.status is set (503 when a handler
 * produced nothing).
 */
void floe_vdispatch_end(struct floe_vreq *rq, struct floe_vdispatch *d);

/*
 * floe_vdispatch_one() - a whole request held in memory, through the three steps above.
 * srv      a started server (floe_vserver_start_local() is enough: no HTTP needed).
 * headers  every header as sent, in order (copied array, borrowed strings: they must outlive
 *          the returned request); Content-Length, when present, should equal body_len as on
 *          the wire. body: body_len bytes (may be NULL when 0), handed over in pieces of at
 *          most chunk bytes (0: in one piece), as a socket delivers it.
 * Returns  the request with rq->resp filled (status, headers, body; or resp.custom, a streamed
 *          body, for GetJobOutput); the caller frees it with floe_vreq_free(). Never NULL.
 */
struct floe_vreq *floe_vdispatch_one(struct floe_vserver *srv, const char *method,
                                     const char *target, const struct floe_sigv4_header *headers,
                                     size_t nheaders, const void *body, size_t body_len,
                                     size_t chunk);

#endif
