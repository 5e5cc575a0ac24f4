/*
 * s3part.c - S3's part and object size rules, and UploadPart sent asynchronously through the
 * S3 client's transfer thread (floe/s3part.h).
 *
 * DESIGN
 * A part is the caller's memory from submit until its done callback: the xfer borrows the
 * body (or calls the caller's read callback on the transfer thread), and the part struct
 * receives the result when the transfer thread finishes the xfer. Nothing is queued here: the
 * caller bounds how many parts are in flight (the transfer core admits an item only when a
 * slot is free), and the transfer thread bounds how many are on the wire. done runs once, on the
 * transfer thread, after the xfer is destroyed, so the caller may reuse or free the part inside
 * it. The part's SHA-256 is both the signed payload hash and the x-amz-checksum-sha256 the
 * service verifies, so a part corrupted between here and S3 is refused (BadDigest), never
 * stored.
 */
#include "floe/s3part.h"

#include "alloc.h"
#include "s3_impl.h"
#include "s3req.h"

#include <openssl/evp.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1ULL << 20)

int floe_s3_part_size_for(uint64_t object_bytes, uint64_t preferred, uint64_t *out,
                          struct floe_error *err)
{
    uint64_t size = preferred ? preferred : 8 * MIB;
    if (size < FLOE_S3_PART_MIN_BYTES || size > FLOE_S3_PART_MAX_BYTES)
        return floe_error_set(err, FLOE_E_RANGE,
                              "part size %" PRIu64 " bytes: S3 parts are 5 MiB to 5 GiB", size);
    if (object_bytes > FLOE_S3_OBJECT_MAX_BYTES)
        return floe_error_set(err, FLOE_E_RANGE,
                              "an object of %" PRIu64 " bytes is larger than S3's 5 TiB limit",
                              object_bytes);
    if (object_bytes > size * FLOE_S3_MAX_PARTS) {
        size = MIB;
        while (size * FLOE_S3_MAX_PARTS < object_bytes)
            size *= 2;
        if (size > FLOE_S3_PART_MAX_BYTES) /* cannot happen under 5 TiB; kept as a guard */
            return floe_error_set(err, FLOE_E_RANGE,
                                  "an object of %" PRIu64 " bytes needs parts above 5 GiB",
                                  object_bytes);
    }
    *out = size;
    return FLOE_OK;
}

int floe_s3_part_check(uint32_t part_number, uint64_t len, bool last, struct floe_error *err)
{
    if (part_number < 1 || part_number > FLOE_S3_MAX_PARTS)
        return floe_error_set(err, FLOE_E_RANGE, "part number %u: S3 part numbers are 1 to 10,000",
                              part_number);
    if (len > FLOE_S3_PART_MAX_BYTES)
        return floe_error_set(err, FLOE_E_RANGE,
                              "part %u is %" PRIu64 " bytes: S3 parts are at most 5 GiB",
                              part_number, len);
    if (!last && len < FLOE_S3_PART_MIN_BYTES)
        return floe_error_set(err, FLOE_E_RANGE,
                              "part %u is %" PRIu64 " bytes: every S3 part but the last must be "
                              "at least 5 MiB",
                              part_number, len);
    return FLOE_OK;
}

static void done_xfer(struct floe_xfer *x)
{
    struct floe_s3_part *p = x->user;
    p->status = x->status;
    p->attempts = x->attempts;
    if (x->status) {
        char op[1400];
        snprintf(op, sizeof(op), "UploadPart %u of s3://%s/%s", p->part_number, p->bucket, p->key);
        floe_s3req_fail(x, op, &p->err);
        p->status = p->err.status;
    } else {
        memset(&p->err, 0, sizeof(p->err));
        const char *etag = floe_xfer_header(x, "etag");
        snprintf(p->etag, sizeof(p->etag), "%s", etag ? etag : "");
        if (!*p->etag) {
            p->status = floe_error_set(&p->err, FLOE_E_SERVICE,
                                       "UploadPart %u of s3://%s/%s: the answer has no ETag",
                                       p->part_number, p->bucket, p->key);
        }
        const char *echo = floe_xfer_header(x, "x-amz-checksum-sha256");
        if (!p->status && echo && strcmp(echo, p->checksum_sha256) != 0)
            p->status = floe_error_set(&p->err, FLOE_E_CHECKSUM,
                                       "UploadPart %u of s3://%s/%s: the service stored SHA-256 "
                                       "%s, the part's is %s",
                                       p->part_number, p->bucket, p->key, echo, p->checksum_sha256);
    }
    floe_xfer_destroy(x);
    p->done(p);
}

static size_t read_part(void *ctx, uint64_t offset, uint8_t *dst, size_t n)
{
    struct floe_s3_part *p = ctx;
    return p->read(p->read_user, offset, dst, n);
}

/* Checks p and builds its xfer; NULL with err filled when a check fails. */
static struct floe_xfer *part_xfer(struct floe_s3 *s3, struct floe_s3_part *p,
                                   struct floe_error *err)
{
    int rc = floe_s3_part_check(p->part_number, p->len, p->last, err);
    if (!rc && (!p->bucket || !*p->bucket || !p->upload_id || !*p->upload_id))
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "UploadPart: bucket or upload id is empty");
    if (!rc)
        rc = floe_s3_key_valid(p->key, err);
    if (!rc && !p->data && !p->read && p->len)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "UploadPart %u: no body (data or read)",
                            p->part_number);
    if (!rc && p->len > SIZE_MAX)
        rc = floe_error_set(err, FLOE_E_RANGE, "UploadPart %u: too large for this machine",
                            p->part_number);
    if (rc)
        return NULL;
    unsigned char b64[64];
    EVP_EncodeBlock(b64, p->sha256, 32);
    snprintf(p->checksum_sha256, sizeof(p->checksum_sha256), "%s", (const char *)b64);
    p->etag[0] = 0;
    char query[64 + FLOE_S3_UPLOAD_ID_MAX * 3];
    char *id = floe_s3req_encode(p->upload_id, false);
    snprintf(query, sizeof(query), "partNumber=%u&uploadId=%s", p->part_number, id);
    free(id);
    struct floe_s3req *r = floe_s3req_new(s3, "PUT", p->bucket, p->key, query);
    if (p->data || !p->len)
        floe_s3req_body(r, p->data ? p->data : "", (size_t)p->len, p->sha256);
    else
        floe_s3req_body_stream(r, p->len, p->sha256, read_part, p);
    floe_s3req_header(r, "x-amz-checksum-sha256", p->checksum_sha256);
    floe_s3req_header(r, "x-amz-sdk-checksum-algorithm", "SHA256"); /* as botocore */
    struct floe_xfer *x = floe_s3req_xfer(r);
    x->user = p;
    return x;
}

int floe_s3_upload_part_submit(struct floe_s3 *s3, struct floe_s3_part *p, struct floe_error *err)
{
    if (!p->done)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "UploadPart: no done callback");
    struct floe_xfer *x = part_xfer(s3, p, err);
    if (!x)
        return err ? err->status : FLOE_E_INVALID_ARG;
    p->status = FLOE_OK;
    memset(&p->err, 0, sizeof(p->err));
    x->done = done_xfer;
    floe_transfer_submit(s3->transfer, x);
    return FLOE_OK;
}

struct part_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void sync_done(struct floe_s3_part *p)
{
    struct part_wait *w = p->user;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int floe_s3_upload_part(struct floe_s3 *s3, struct floe_s3_part *p, struct floe_error *err)
{
    if (p->done)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "UploadPart: the synchronous call takes no done callback");
    struct part_wait w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    p->done = sync_done;
    p->user = &w;
    int rc = floe_s3_upload_part_submit(s3, p, err);
    if (!rc) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = p->status;
        if (rc && err)
            *err = p->err;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    p->done = NULL;
    p->user = NULL;
    return rc;
}
