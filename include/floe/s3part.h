/*
 * floe/s3part.h - S3 multipart parts: the size rules in one checked place, and UploadPart
 * sent asynchronously through the S3 client's transfer thread, so a bulk transfer (the
 * transfer core, src/engine/pipeline/orch.h) keeps many parts in flight and learns of each
 * through a done callback, as the Glacier upload does. The body comes from the caller's memory
 * or from a read callback (a stream: a Glacier retrieval copied into S3 without a temp file).
 *
 * The same way (submit + done callback on the transfer thread), PutObject and HeadObject of many
 * small objects at once (struct floe_s3_put, struct floe_s3_head): a migration copies its small
 * archives in batches without a round trip per object (src/engine/migrate/ms3.c). They build the
 * same requests and read the same answers as floe_s3_put_object() and floe_s3_head_object().
 *
 * Every part carries its SHA-256, computed by the caller before the send: it is the signed
 * payload hash (x-amz-content-sha256) and, base64, the x-amz-checksum-sha256 the service checks
 * and stores. The facts are in docs/s3-api.md 4.
 */
#ifndef FLOE_S3PART_H
#define FLOE_S3PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"
#include "floe/s3.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_S3_PART_MIN_BYTES (5ULL << 20) /* 5 MiB, every part but the last */
#define FLOE_S3_PART_MAX_BYTES (5ULL << 30) /* 5 GiB */
#define FLOE_S3_MAX_PARTS 10000u            /* part numbers 1..10,000 */
#define FLOE_S3_OBJECT_MAX_BYTES (5ULL * 1024 * 1024 * 1024 * 1024) /* 5 TiB ("5 TB") */
#define FLOE_S3_PUT_MAX_BYTES (5ULL << 30)                          /* one PutObject: 5 GiB */

/*
 * floe_s3_part_size_for() - the part size for an object of object_bytes: preferred (0 = 8 MiB)
 * if the object then fits in 10,000 parts, else the smallest power-of-two number of MiB that
 * does. Either way at least 5 MiB and at most 5 GiB.
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK, or FLOE_E_RANGE when the object is larger than 5 TiB or preferred is
 *          outside 5 MiB..5 GiB (the message states the rule). Threads: any.
 */
FLOE_API int floe_s3_part_size_for(uint64_t object_bytes, uint64_t preferred, uint64_t *out,
                                   struct floe_error *err);

/*
 * floe_s3_part_check() - one part against S3's rules: part_number 1..10,000; len at most
 * 5 GiB; at least 5 MiB unless last (the final part may be smaller, even 0 bytes when it is
 * the only one). FLOE_OK or FLOE_E_RANGE naming the rule and the part. Threads: any.
 */
FLOE_API int floe_s3_part_check(uint32_t part_number, uint64_t len, bool last,
                                struct floe_error *err);

/* Reads len bytes of the part at offset (0-based within the part) into dst; returns how many
 * were written (0 = failure, which fails the attempt). A retried attempt reads from 0 again.
 * Runs on the transfer thread; must not block for long (every connection waits on it). */
typedef size_t floe_s3_part_read_fn(void *user, uint64_t offset, uint8_t *dst, size_t len);

struct floe_s3_part;
/* Called exactly once when the part is finished (sent, or failed after retries). Runs on the
 * client's transfer thread: hand the part to your own thread (floe_orch_post) and return;
 * do not call the S3 client from here. */
typedef void floe_s3_part_done_fn(struct floe_s3_part *p);

/*
 * One part to send. Caller-owned; zero it, fill the request fields, and keep it (and its body)
 * untouched from floe_s3_upload_part_submit() until done runs. Result fields are valid in done
 * and after.
 */
struct floe_s3_part {
    /* request (borrowed strings: valid until done) */
    const char *bucket;
    const char *key;
    const char *upload_id;
    uint32_t part_number;
    uint64_t len;
    const void *data;           /* the body in memory, or NULL with read set */
    floe_s3_part_read_fn *read; /* or the body from a callback */
    void *read_user;
    uint8_t sha256[32];         /* the body's SHA-256 (required) */
    bool last;                  /* the final part (may be under 5 MiB) */
    floe_s3_part_done_fn *done; /* required for submit */
    void *user;                 /* for done */
    /* result */
    int status;            /* FLOE_OK or the failure */
    struct floe_error err; /* detail when status != FLOE_OK */
    char etag[FLOE_S3_ETAG_MAX];
    char checksum_sha256[FLOE_S3_CHECKSUM_MAX]; /* base64 of sha256, as sent and echoed */
    int attempts;
};

/*
 * floe_s3_upload_part_submit() - check the part and queue UploadPart on the transfer thread.
 * p        IN/OUT: caller-owned (see struct floe_s3_part); done(p) runs exactly once on the
 *          transfer thread when the call returns FLOE_OK, and never when it fails.
 * Returns  FLOE_OK (submitted), or FLOE_E_INVALID_ARG / FLOE_E_RANGE (a local check failed;
 *          nothing was sent; err filled).
 * Threads  any thread, including a done callback (to send a part again).
 */
FLOE_API int floe_s3_upload_part_submit(struct floe_s3 *s3, struct floe_s3_part *p,
                                        struct floe_error *err);

/*
 * floe_s3_upload_part() - UploadPart synchronously (submit and wait); p->done must be NULL.
 * Returns  p->status (err filled on failure); the result is in p. Not on the transfer thread.
 */
FLOE_API int floe_s3_upload_part(struct floe_s3 *s3, struct floe_s3_part *p,
                                 struct floe_error *err);

/*
 * One PutObject to send asynchronously. Caller-owned: zero it, fill the request fields and keep
 * it (and data, opts, the strings) untouched from floe_s3_put_object_submit() until done runs.
 */
struct floe_s3_put;
typedef void floe_s3_put_done_fn(struct floe_s3_put *p);
struct floe_s3_put {
    /* request (borrowed) */
    const char *bucket;
    const char *key;
    const void *data; /* len bytes (NULL when len is 0) */
    size_t len;
    const struct floe_s3_put_opts *opts; /* NULL for defaults */
    const uint8_t *sha256;               /* data's SHA-256 if known (32 bytes), else NULL */
    floe_s3_put_done_fn *done;           /* required */
    void *user;
    /* result, valid in done and after */
    int status;
    struct floe_error err;
    struct floe_s3_put_result result;
};

/*
 * floe_s3_put_object_submit() - check p as floe_s3_put_object() does and queue the PutObject on
 * the transfer thread. done(p) runs exactly once on the transfer thread when this returns
 * FLOE_OK (never when it fails); it must not call the S3 client.
 * Returns  FLOE_OK (submitted), or the local check's FLOE_E_INVALID_ARG / FLOE_E_RANGE (err).
 * Threads  any thread.
 */
FLOE_API int floe_s3_put_object_submit(struct floe_s3 *s3, struct floe_s3_put *p,
                                       struct floe_error *err);

/* One HeadObject to send asynchronously; as struct floe_s3_put. info is filled on FLOE_OK
 * (release it with floe_s3_object_info_cleanup() in any case). */
struct floe_s3_head;
typedef void floe_s3_head_done_fn(struct floe_s3_head *h);
struct floe_s3_head {
    const char *bucket; /* borrowed */
    const char *key;
    floe_s3_head_done_fn *done; /* required */
    void *user;
    /* result: status as floe_s3_head_object() returns it (FLOE_E_NOT_FOUND: no object) */
    int status;
    struct floe_error err;
    struct floe_s3_object_info info;
};

/* floe_s3_head_object_submit() - floe_s3_head_object() asynchronously (as
 * floe_s3_put_object_submit()). */
FLOE_API int floe_s3_head_object_submit(struct floe_s3 *s3, struct floe_s3_head *h,
                                        struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
