/*
 * awsrpc.h - one request to an AWS service that takes every operation as a POST to "/": SQS
 * (JSON 1.0, the operation in X-Amz-Target) and SNS (the query protocol, a form body whose
 * Action names the operation). Signed with SigV4 for the client's service and region afresh
 * before each attempt, sent by a transfer thread of the net room (its own, or a Glacier
 * client's), retried as every libfloe request is; an error answer is read whether it is JSON
 * ({"__type": ..., "message": ...}) or XML (<ErrorResponse><Error><Code>...).
 *
 * Threads: a struct floe_awsrpc is read-only after floe_awsrpc_new() and may be used from
 * several threads at once; each call blocks its own thread only.
 */
#ifndef FLOE_ENGINE_AWSRPC_H
#define FLOE_ENGINE_AWSRPC_H

#include "floe/client.h"
#include "floe/credentials.h"
#include "floe/error.h"
#include "transfer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct floe_awsrpc;

struct floe_awsrpc_config {
    const char *endpoint_url; /* "http(s)://host[:port]" (a path after it is ignored) */
    const char *region;       /* signing region; NULL = "us-east-1" */
    const char *service;      /* signing name: "sqs", "sns" */
    /* the keys: a provider, taken over in every case; or, when NULL, share_transfer's
     * (borrowed) */
    struct floe_credentials *credentials;
    /* optional: send through this Glacier client's transfer thread (borrowed: it must outlive
     * the rpc client) with its retry policy; the settings below are then ignored */
    struct floe_client *share_transfer;
    uint64_t retry_for_ms;  /* 0 = FLOE_RETRY_FOR_DEFAULT_MS */
    bool wait_for_endpoint; /* false: an endpoint never reached is given up on in seconds */
};

/*
 * floe_awsrpc_new() - check the endpoint and start (or borrow) the transfer thread.
 * out      OUT: set only on FLOE_OK; free with floe_awsrpc_destroy().
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (bad endpoint URL or region, no credentials); the
 *          transfer's start failure.
 */
int floe_awsrpc_new(const struct floe_awsrpc_config *cfg, struct floe_awsrpc **out,
                    struct floe_error *err);

/* floe_awsrpc_destroy() - stop an own transfer thread and free. NULL is fine. */
void floe_awsrpc_destroy(struct floe_awsrpc *r);

/* The region requests are signed for (borrowed). */
const char *floe_awsrpc_region(const struct floe_awsrpc *r);

/*
 * floe_awsrpc_call() - POST body (len bytes, borrowed for the call) with content_type and, when
 * not NULL, X-Amz-Target: target; wait for the answer.
 * out      OUT: always set; the finished xfer (resp, resp_len, http_status); the caller
 *          destroys it with floe_xfer_destroy().
 * op       IN: names the operation in front of the service's message ("ReceiveMessage").
 * Returns  FLOE_OK (2xx) or the failure with err filled: FLOE_E_AUTH (403, access denied, bad
 *          signature or key), FLOE_E_NOT_FOUND (QueueDoesNotExist, NonExistentQueue,
 *          NotFound), FLOE_E_THROTTLED, FLOE_E_SERVICE (another service error; err.code is the
 *          service's code without its "namespace#" prefix), or a network status.
 * Threads  any but the transfer thread.
 */
int floe_awsrpc_call(struct floe_awsrpc *r, const char *content_type, const char *target,
                     const char *body, size_t len, const char *op, struct floe_xfer **out,
                     struct floe_error *err);

/* floe_awsrpc_form_add() - append "&name=value" (or "name=value" when *buf is empty) with
 * value percent-encoded as the query protocol wants, to the growing NUL-terminated *buf (*cap
 * allocated; realloc'd as needed). */
void floe_awsrpc_form_add(char **buf, size_t *cap, const char *name, const char *value);

#endif
