/*
 * s3req.h - one S3 request: where it goes (addressing, key encoding), its headers and body,
 * and its SigV4 signature for the service "s3", turned into a transfer xfer that signs itself
 * afresh before each attempt. S3's signing differs from Glacier's in the canonical URI (the
 * path as sent, encoded once, never normalised) and in always sending x-amz-content-sha256
 * (docs/s3-api.md 3).
 */
#ifndef FLOE_ENGINE_S3REQ_H
#define FLOE_ENGINE_S3REQ_H

#include "s3_impl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * floe_s3req_encode() - S3's URI encoding of s: every byte outside A-Z a-z 0-9 - _ . ~ becomes
 * %XX (upper-case hex; UTF-8 bytes one by one), and '/' is kept when keep_slash (object keys in
 * paths) or encoded (query values). Returns a new string (the caller free()s it). Threads: any.
 */
char *floe_s3req_encode(const char *s, bool keep_slash);

/* floe_s3req_virtual() - true when a request for bucket goes virtual-hosted
 * (BUCKET.host/KEY) under s3's addressing rule (floe/s3.h enum floe_s3_addressing). */
bool floe_s3req_virtual(const struct floe_s3 *s3, const char *bucket);

struct floe_s3req; /* signing inputs; owned by its xfer once made */

/*
 * floe_s3req_new() - start describing a request.
 * bucket   IN: the bucket (copied).
 * key      IN: the object key (copied; encoded here), or NULL for a bucket request.
 * query    IN: raw query ("uploads", "list-type=2&prefix=a%2Fb"), values already encoded with
 *          floe_s3req_encode(..., false), or NULL.
 * Returns  a new request (never NULL). Threads: the caller's until floe_s3req_xfer().
 */
struct floe_s3req *floe_s3req_new(struct floe_s3 *s3, const char *method, const char *bucket,
                                  const char *key, const char *query);
/* Adds a header that is sent and signed (both copied). */
void floe_s3req_header(struct floe_s3req *r, const char *name, const char *value);
/* The body (borrowed: it must outlive the xfer); sha256: its SHA-256 if known (copied), else
 * NULL to compute it now. Without a body the payload hash is that of "". */
void floe_s3req_body(struct floe_s3req *r, const void *body, size_t len, const uint8_t sha256[32]);
/* A body streamed by read(ctx, offset, dst, n) on the transfer thread (struct floe_xfer's
 * body_read); its SHA-256 must be known. */
void floe_s3req_body_stream(struct floe_s3req *r, uint64_t len, const uint8_t sha256[32],
                            size_t (*read)(void *ctx, uint64_t offset, uint8_t *dst, size_t n),
                            void *ctx);

/* The URL, Host header and path the request is sent to (borrowed from r). */
const char *floe_s3req_url(const struct floe_s3req *r);
const char *floe_s3req_host(const struct floe_s3req *r);
const char *floe_s3req_path(const struct floe_s3req *r);

/*
 * floe_s3req_canonical() - the canonical request r would be signed with at time when (for
 * tests and signature debugging). *out is malloc'd (the caller frees it), set on FLOE_OK.
 */
int floe_s3req_canonical(const struct floe_s3req *r, time_t when, char **out,
                         struct floe_error *err);

/* floe_s3req_sign() - the headers r sends at time when (signed), as a curl list the caller
 * frees; FLOE_OK or the signer's FLOE_E_INVALID_ARG. What prepare() does before each attempt. */
int floe_s3req_sign(struct floe_s3req *r, time_t when, struct curl_slist **headers,
                    struct floe_error *err);

/* floe_s3req_header_line() - l with "name: value" appended (curl_slist_append; the same list
 * on success, NULL when curl could not allocate). Threads: any. Also the sqs room's. */
struct curl_slist *floe_s3req_header_line(struct curl_slist *l, const char *name,
                                          const char *value);

/* Turns the request into an xfer that signs itself before each attempt and reads S3's XML
 * errors; the xfer owns r. */
struct floe_xfer *floe_s3req_xfer(struct floe_s3req *r);

/* floe_s3req_free() - frees a request that was never turned into an xfer. NULL is fine. */
void floe_s3req_free(struct floe_s3req *r);

/*
 * floe_s3req_run() - runs r synchronously (consumes it). *out (always set) holds the answer;
 * destroy it with floe_xfer_destroy(). Returns the xfer's status with err filled on failure;
 * op names the operation in front of the service's message ("HeadObject s3://b/k: ...").
 * Not on the transfer thread.
 */
int floe_s3req_run(struct floe_s3req *r, const char *op, struct floe_xfer **out,
                   struct floe_error *err);

/*
 * floe_s3req_fail() - the failure of a finished xfer x as an S3 operation's: err gets x's
 * detail with op in front of the message, and the status is the S3 code's
 * (floe_s3xml_error_status(): 404 or NoSuch* FLOE_E_NOT_FOUND, 403 FLOE_E_AUTH, InvalidRange
 * FLOE_E_RANGE, SlowDown FLOE_E_THROTTLED), or x's own when the service did not answer.
 */
int floe_s3req_fail(const struct floe_xfer *x, const char *op, struct floe_error *err);

/* The parse_error hook the S3 xfers use (transfer.h): S3's <Error> document. */
bool floe_s3req_parse_error(const struct floe_xfer *x, char *code, size_t code_cap, char *message,
                            size_t message_cap, char *request_id, size_t request_id_cap);

#endif
