/*
 * s3_impl.h - struct floe_s3, shared by the S3 room's modules (s3.c: the client and its
 * synchronous operations; s3req.c: building and signing requests; s3part.c: parts).
 */
#ifndef FLOE_ENGINE_S3_IMPL_H
#define FLOE_ENGINE_S3_IMPL_H

#include "floe/s3.h"
#include "credentials.h"
#include "retry.h"
#include "transfer.h"

#include <stdbool.h>

/* Read-only after floe_s3_new(); the transfer is thread-safe, so the client is too. */
struct floe_s3 {
    char *endpoint; /* scheme://host[:port] (normalised, no trailing slash) */
    bool https;
    char *host; /* host[:port] as signed and sent for path-style requests */
    bool aws;   /* no endpoint_url was given: the AWS endpoint of the region */
    char *region;
    /* the keys (credentials.h: thread-safe); owned unless borrowed from share_transfer */
    struct floe_credentials *creds;
    bool own_creds;
    enum floe_s3_addressing addressing;
    struct floe_retry_policy retry;
    struct floe_transfer *transfer; /* owned when own_transfer, else the shared client's */
    bool own_transfer;
};

#endif
