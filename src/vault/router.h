/*
 * router.h - maps a request (method, decoded path segments, query) to one of the 33 Glacier
 * operations (docs/glacier-api.md 2.0). Path: "/{accountId}/..." with the account id checked by
 * auth.c; one path carries several operations told apart by method, and POST .../tags by
 * ?operation=add|remove.
 *
 * Threads: the table is constant; safe from any thread.
 */
#ifndef FLOE_VAULT_ROUTER_H
#define FLOE_VAULT_ROUTER_H

#include "api.h"

struct floe_vroute {
    const char *name;    /* operation name, for logs: "CreateVault" */
    const char *method;  /* "GET", "PUT", "POST", "DELETE" */
    const char *pattern; /* path after the account id; '*' matches one segment */
    const char *op;      /* required ?operation= value, or NULL */
    floe_vapi_fn *run;   /* buffered operations: called with the whole body */
    floe_vapi_fn *begin; /* streaming operations (uploads): headers only */
    floe_vapi_data_fn *data;
    floe_vapi_fn *end;
};

enum floe_vroute_result { FLOE_VROUTE_OK = 0, FLOE_VROUTE_NO_PATH, FLOE_VROUTE_NO_METHOD };

/*
 * floe_vroute_find() - the route for rq->method, rq->seg[1..] and rq->params.
 * out      OUT: set only on FLOE_VROUTE_OK; a static entry.
 * Returns  FLOE_VROUTE_OK, FLOE_VROUTE_NO_PATH (no operation has this path),
 *          FLOE_VROUTE_NO_METHOD (the path exists, not with this method / operation).
 * Also sets rq->vault and rq->id from the path on FLOE_VROUTE_OK.
 */
enum floe_vroute_result floe_vroute_find(struct floe_vreq *rq, const struct floe_vroute **out);

/* Number of routes (33) and the i-th, for tests. */
size_t floe_vroute_count(void);
const struct floe_vroute *floe_vroute_at(size_t i);

#endif
