/*
 * floe/s3.h - an Amazon S3 (or S3-compatible: moto, MinIO) endpoint and one synchronous call per
 * API operation floe needs: buckets (Head, Create), objects (Put, Head, Get with a range,
 * Delete, ListObjectsV2) and the multipart bookkeeping (Create, UploadPart, Complete, Abort,
 * ListParts, ListMultipartUploads). The asynchronous part upload that bulk transfers use is in
 * floe/s3part.h, with S3's size limits.
 *
 * Requests are signed with SigV4 for the service "s3" (the x-amz-content-sha256 header always
 * carries the hex SHA-256 of the body; never UNSIGNED-PAYLOAD) and sent by a transfer thread
 * (curl multi, retries with backoff; 503 SlowDown, 500 InternalError and 400 RequestTimeout are
 * retried). Service errors come back as FLOE_E_SERVICE / FLOE_E_AUTH (403) /
 * FLOE_E_NOT_FOUND (404) / FLOE_E_THROTTLED with the S3 code ("NoSuchKey"), message, request
 * id and HTTP status in the struct floe_error. The S3 facts relied on are in docs/s3-api.md.
 *
 * Threads: a struct floe_s3 may be used from several threads at once; every call blocks its
 * own thread only. Callbacks run on the calling thread, one at a time.
 */
#ifndef FLOE_S3_H
#define FLOE_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/credentials.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct floe_s3;
struct floe_client;

/* How a request names its bucket (docs/s3-api.md 2). */
enum floe_s3_addressing {
    /* With an endpoint_url: path style. Without (AWS): virtual-hosted style when the bucket
     * name is a DNS label without dots, else path style (a dotted name would not match the
     * *.s3.REGION.amazonaws.com certificate). */
    FLOE_S3_ADDRESSING_AUTO = 0,
    FLOE_S3_ADDRESSING_PATH = 1,    /* http(s)://HOST/BUCKET/KEY */
    FLOE_S3_ADDRESSING_VIRTUAL = 2, /* http(s)://BUCKET.HOST/KEY */
};

struct floe_s3_config {
    const char *endpoint_url; /* "http://host:port"; NULL = https://s3.REGION.amazonaws.com */
    const char *region;       /* NULL = "us-east-1"; also the bucket's LocationConstraint */
    /* The keys: a provider (floe/credentials.h: the chain, refreshed in the background,
     * ExpiredToken answered by one refresh and retry), which floe_s3_new() takes over in every
     * case (floe_s3_destroy() destroys it); or, when NULL, fixed keys below; or, when those
     * are NULL too and share_transfer is set, that Glacier client's provider (borrowed). */
    struct floe_credentials *credentials;
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* optional */
    enum floe_s3_addressing addressing;
    /* Optional: send through this Glacier client's transfer thread instead of starting one
     * (migrations share one pool of connections). Borrowed: it must outlive the S3 client. The
     * settings below then come from that client and are ignored here. */
    struct floe_client *share_transfer;
    unsigned max_connections; /* parallel requests (0 = 8) */
    /* Retries, as struct floe_client_config's (floe/client.h): a failure that may pass (network,
     * 5xx, 408, 429, SlowDown, RequestTimeout) is tried again after a full-jitter backoff until
     * the request has failed for retry_for_ms or had max_retries retries. */
    int max_retries;        /* -1 = none; 0 = no count limit: retry_for_ms decides */
    uint64_t retry_for_ms;  /* 0 = 10 minutes */
    bool wait_for_endpoint; /* false: an endpoint never reached is given up on in seconds */
    uint32_t retry_base_ms; /* backoff: first ceiling (0 = 100 ms) */
    uint32_t retry_cap_ms;  /* backoff: largest ceiling (0 = 20 s) */
    long stall_timeout_s;   /* abort an attempt below stall_min_rate this long (0 = 30 s) */
    long stall_min_rate;    /* bytes/s an attempt must average (0 = FLOE_STALL_MIN_RATE) */
    bool verbose;           /* curl trace on stderr */
    /* TLS, as struct floe_client_config's (floe/client.h); ignored with share_transfer. */
    const char *ca_bundle;
    bool no_verify_ssl;
};

/*
 * floe_s3_new() - check the configuration and start (or borrow) the transfer thread.
 * cfg      IN: copied (strings duplicated); the caller may free it after the call.
 * out      OUT: set only on FLOE_OK; free with floe_s3_destroy().
 * Returns  FLOE_OK, FLOE_E_INVALID_ARG (bad endpoint URL, region or addressing, missing
 *          credentials; the message says which), FLOE_E_NETWORK (curl init failed).
 * Threads  any; the client may then be used from several threads at once.
 */
FLOE_API int floe_s3_new(const struct floe_s3_config *cfg, struct floe_s3 **out,
                         struct floe_error *err);

/* floe_s3_destroy() - stop the transfer thread if it is the client's own, and free. NULL is
 * fine. No call may be in progress (asynchronous parts included). */
FLOE_API void floe_s3_destroy(struct floe_s3 *s3);

/* floe_s3_bucket_name_valid() - S3's rule for a new bucket name: 3-63 characters of a-z 0-9
 * '.' '-', starting and ending with a letter or digit, no "..", not an IPv4 address. FLOE_OK
 * or FLOE_E_INVALID_ARG naming the rule broken. Threads: any. */
FLOE_API int floe_s3_bucket_name_valid(const char *bucket, struct floe_error *err);

/* floe_s3_key_valid() - an object key: 1 to 1,024 bytes of valid UTF-8 without NUL. FLOE_OK or
 * FLOE_E_INVALID_ARG naming the rule broken. Threads: any. */
FLOE_API int floe_s3_key_valid(const char *key, struct floe_error *err);

/* HeadBucket: FLOE_OK when the bucket exists and the credentials may use it; FLOE_E_NOT_FOUND
 * (code "NoSuchBucket") or FLOE_E_AUTH (code "AccessDenied") otherwise. */
FLOE_API int floe_s3_head_bucket(struct floe_s3 *s3, const char *bucket, struct floe_error *err);

/* CreateBucket in the client's region (a LocationConstraint unless it is us-east-1). The name
 * is checked with floe_s3_bucket_name_valid() first. */
FLOE_API int floe_s3_create_bucket(struct floe_s3 *s3, const char *bucket, struct floe_error *err);

/* DeleteBucket (the service refuses a bucket that is not empty: BucketNotEmpty). */
FLOE_API int floe_s3_delete_bucket(struct floe_s3 *s3, const char *bucket, struct floe_error *err);

/* A user metadata pair, sent as x-amz-meta-NAME: VALUE. Both borrowed. */
struct floe_s3_meta {
    const char *name;  /* lower-case letters, digits, '-' and '_' */
    const char *value; /* printable US-ASCII */
};

/* An object tag. Both borrowed. */
struct floe_s3_tag {
    const char *key;   /* 1-128 bytes */
    const char *value; /* 0-256 bytes */
};

/* Options of PutObject and CreateMultipartUpload. Zero-initialise; every pointer is borrowed
 * for the duration of the call. */
struct floe_s3_put_opts {
    const char *storage_class; /* NULL = STANDARD; else one of floe_s3_storage_class_valid() */
    const char *content_type;  /* NULL = binary/octet-stream (the service's default) */
    const struct floe_s3_meta *meta; /* user metadata; at most 2 KiB of names + values */
    size_t nmeta;
    const struct floe_s3_tag *tags; /* at most 10 */
    size_t ntags;
    /* PutObject / UploadPart: integrity header. false: Content-MD5 (every S3 accepts it);
     * true: x-amz-checksum-sha256 (the service stores it and returns it with HeadObject and
     * ListParts). CreateMultipartUpload: true declares the SHA256 checksum algorithm, which
     * then requires x-amz-checksum-sha256 on every part. */
    bool checksum_sha256;
    /* Access and encryption headers, each sent only when not NULL (printable US-ASCII). */
    const char *canned_acl;         /* x-amz-acl: private, public-read, bucket-owner-read, ... */
    const char *grant_full_control; /* x-amz-grant-full-control: id="..", emailAddress="..", */
    const char *grant_read;         /* x-amz-grant-read          uri=".." (comma-separated) */
    const char *grant_read_acp;     /* x-amz-grant-read-acp */
    const char *grant_write_acp;    /* x-amz-grant-write-acp */
    const char *sse;                /* x-amz-server-side-encryption: AES256 or aws:kms */
    const char *sse_kms_key_id;     /* x-amz-server-side-encryption-aws-kms-key-id */
    const char *sse_kms_context;    /* x-amz-server-side-encryption-context (base64 JSON) */
};

/* floe_s3_storage_class_valid() - FLOE_OK for STANDARD, REDUCED_REDUNDANCY, STANDARD_IA,
 * ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE, GLACIER_IR, OUTPOSTS,
 * EXPRESS_ONEZONE; else FLOE_E_INVALID_ARG listing them. Threads: any. */
FLOE_API int floe_s3_storage_class_valid(const char *storage_class, struct floe_error *err);

#define FLOE_S3_ETAG_MAX 128    /* buffer for an ETag, quotes included */
#define FLOE_S3_CHECKSUM_MAX 64 /* buffer for a base64 SHA-256 (44 characters) */

/* What PutObject, UploadPart and CompleteMultipartUpload report. */
struct floe_s3_put_result {
    char etag[FLOE_S3_ETAG_MAX];                /* as the service sent it, quotes included */
    char checksum_sha256[FLOE_S3_CHECKSUM_MAX]; /* base64, or "" when the service sent none */
    char version_id[256];                       /* "" when the bucket is not versioned */
};

/*
 * floe_s3_put_object() - PutObject of one in-memory body (0 bytes to 5 GiB).
 * data     IN: borrowed for the call (may be NULL when len is 0).
 * opts     IN: NULL for defaults.
 * out      OUT: optional; written only on FLOE_OK.
 * Returns  FLOE_OK, FLOE_E_INVALID_ARG / FLOE_E_RANGE (a local check: bucket, key, storage
 *          class, metadata, tags, size), or a service / network status.
 */
FLOE_API int floe_s3_put_object(struct floe_s3 *s3, const char *bucket, const char *key,
                                const void *data, size_t len, const struct floe_s3_put_opts *opts,
                                struct floe_s3_put_result *out, struct floe_error *err);

/* What HeadObject and GetObject report about an object. Caller-owned: zero it or let the call
 * fill it, then release it with floe_s3_object_info_cleanup(). */
struct floe_s3_object_info {
    uint64_t size; /* Content-Length of the whole object */
    char etag[FLOE_S3_ETAG_MAX];
    char last_modified[40]; /* as sent (RFC 1123) */
    char storage_class[32]; /* "STANDARD" when the service sends none */
    char content_type[128];
    char checksum_sha256[FLOE_S3_CHECKSUM_MAX]; /* "" unless stored and asked for */
    char version_id[256];
    struct floe_s3_meta *meta; /* user metadata, names lower-case without x-amz-meta-; owned */
    size_t nmeta;
    /* GetObject with a range: the bytes sent ("bytes FIRST-LAST/SIZE" in Content-Range) */
    uint64_t range_first, range_len;
};

/* floe_s3_object_info_cleanup() - free what info owns and zero it. NULL is fine; twice is
 * fine. Threads: the owner's. */
FLOE_API void floe_s3_object_info_cleanup(struct floe_s3_object_info *info);

/* floe_s3_object_meta() - the value of user metadata name (lower-case, without x-amz-meta-),
 * or NULL. Borrowed from info. */
FLOE_API const char *floe_s3_object_meta(const struct floe_s3_object_info *info, const char *name);

/*
 * floe_s3_head_object() - HeadObject (asks for the stored checksum: x-amz-checksum-mode).
 * info     OUT: filled only on FLOE_OK (it is cleaned first); release with
 *          floe_s3_object_info_cleanup().
 * Returns  FLOE_OK, FLOE_E_NOT_FOUND (code "NotFound": a HEAD answer has no body, so a
 *          missing key and a missing bucket look alike), or another status.
 */
FLOE_API int floe_s3_head_object(struct floe_s3 *s3, const char *bucket, const char *key,
                                 struct floe_s3_object_info *info, struct floe_error *err);

/*
 * Receives GetObject's body in order: n bytes at offset (from the first byte asked for). A
 * retried attempt starts again at offset 0, so write at the offset rather than append.
 * Return 0 to go on, non-zero to stop (the call then fails with FLOE_E_CANCELLED).
 * Runs on the client's transfer thread, one call at a time; it must not call the client.
 */
typedef int floe_s3_write_fn(void *user, uint64_t offset, const void *data, size_t n);

/*
 * floe_s3_get_object() - GetObject, whole or the bytes [first, first + len).
 * len      0 = to the end of the object (the whole object when first is 0).
 * write    IN: receives the body (see floe_s3_write_fn); never called for an error answer.
 * info     OUT: optional; on FLOE_OK the object's headers (size is the whole object's; a range
 *          is in range_first / range_len). Release with floe_s3_object_info_cleanup().
 * Returns  FLOE_OK, FLOE_E_NOT_FOUND (NoSuchKey / NoSuchBucket), FLOE_E_RANGE (first beyond
 *          the end: InvalidRange), FLOE_E_CANCELLED (write stopped it), FLOE_E_SERVICE when the
 *          service sent a different length than it announced, or another status.
 */
FLOE_API int floe_s3_get_object(struct floe_s3 *s3, const char *bucket, const char *key,
                                uint64_t first, uint64_t len, floe_s3_write_fn *write, void *user,
                                struct floe_s3_object_info *info, struct floe_error *err);

/* floe_s3_delete_object() - DeleteObject. S3 answers 204 for a key that does not exist, so
 * FLOE_OK does not mean there was an object. */
FLOE_API int floe_s3_delete_object(struct floe_s3 *s3, const char *bucket, const char *key,
                                   struct floe_error *err);

/* One entry of a listing; every string is borrowed for the callback only. */
struct floe_s3_object_entry {
    const char *key;           /* the key, or the common prefix when is_prefix */
    bool is_prefix;            /* a CommonPrefixes entry (a delimiter was given) */
    uint64_t size;             /* 0 for a prefix */
    const char *etag;          /* "" for a prefix */
    const char *last_modified; /* ISO 8601, "" for a prefix */
    const char *storage_class; /* "" for a prefix */
};

/* Called once per entry in the service's order; return non-zero to stop the walk early (the
 * call then returns FLOE_OK). Runs on the calling thread. */
typedef int floe_s3_object_fn(const struct floe_s3_object_entry *o, void *user);

/* Options of ListObjectsV2; zero-initialise. Strings borrowed for the call. */
struct floe_s3_list_opts {
    const char *prefix;      /* only keys that start with it */
    const char *delimiter;   /* e.g. "/": group what follows the prefix into common prefixes */
    const char *start_after; /* keys after this one */
    unsigned max_keys;       /* keys per page, 1-1000 (0 = the service's 1,000) */
    unsigned max_pages;      /* stop after this many pages (0 = no limit) */
};

/*
 * floe_s3_list_objects() - ListObjectsV2, page after page (continuation tokens) until the
 * listing ends, fn stops it, or max_pages pages were read.
 * pages    OUT: optional; the number of pages read.
 * Returns  FLOE_OK or the first failure (a request, or an answer that is not a listing).
 */
FLOE_API int floe_s3_list_objects(struct floe_s3 *s3, const char *bucket,
                                  const struct floe_s3_list_opts *opts, floe_s3_object_fn *fn,
                                  void *user, unsigned *pages, struct floe_error *err);

#define FLOE_S3_UPLOAD_ID_MAX 1024 /* buffer for an upload id */

/*
 * floe_s3_create_multipart() - CreateMultipartUpload; the object's storage class, metadata and
 * tags are given here (opts), not with the parts.
 * upload_id  OUT: the id (NUL-terminated), written only on FLOE_OK.
 */
FLOE_API int floe_s3_create_multipart(struct floe_s3 *s3, const char *bucket, const char *key,
                                      const struct floe_s3_put_opts *opts,
                                      char upload_id[FLOE_S3_UPLOAD_ID_MAX],
                                      struct floe_error *err);

/* One part of CompleteMultipartUpload. Strings borrowed for the call. */
struct floe_s3_completed_part {
    uint32_t part_number;        /* 1-10,000, ascending */
    const char *etag;            /* as UploadPart returned it */
    const char *checksum_sha256; /* base64, required when the upload declared SHA256; or NULL */
};

/*
 * floe_s3_complete_multipart() - CompleteMultipartUpload. The service can fail after answering
 * 200 (an <Error> document in the body): that is reported as a failure like any other, with
 * its code.
 * parts    IN: n parts in ascending part_number order (checked here).
 * out      OUT: optional; the object's ETag ("...-N") and checksum; written only on FLOE_OK.
 */
FLOE_API int floe_s3_complete_multipart(struct floe_s3 *s3, const char *bucket, const char *key,
                                        const char *upload_id,
                                        const struct floe_s3_completed_part *parts, size_t n,
                                        struct floe_s3_put_result *out, struct floe_error *err);

/* floe_s3_abort_multipart() - AbortMultipartUpload (NoSuchUpload when it is gone already). */
FLOE_API int floe_s3_abort_multipart(struct floe_s3 *s3, const char *bucket, const char *key,
                                     const char *upload_id, struct floe_error *err);

/* One part as ListParts reports it; strings borrowed for the callback only. */
struct floe_s3_part_entry {
    uint32_t part_number;
    uint64_t size;
    const char *etag;
    const char *checksum_sha256; /* "" when none */
    const char *last_modified;
};
/* Called once per part in ascending order; non-zero stops the walk (FLOE_OK). */
typedef int floe_s3_part_fn(const struct floe_s3_part_entry *p, void *user);

/* floe_s3_list_parts() - ListParts, following NextPartNumberMarker until the end (max_parts
 * per page, 1-1000; 0 = the service's 1,000). */
FLOE_API int floe_s3_list_parts(struct floe_s3 *s3, const char *bucket, const char *key,
                                const char *upload_id, unsigned max_parts, floe_s3_part_fn *fn,
                                void *user, struct floe_error *err);

/* One multipart upload in progress; strings borrowed for the callback only. */
struct floe_s3_upload_entry {
    const char *key;
    const char *upload_id;
    const char *initiated;     /* ISO 8601 */
    const char *storage_class; /* "" when not sent */
};
typedef int floe_s3_upload_fn(const struct floe_s3_upload_entry *u, void *user);

/* floe_s3_list_multipart_uploads() - ListMultipartUploads of the bucket (only keys starting
 * with prefix, if not NULL), following the key / upload-id markers until the end (max_uploads
 * per page, 1-1000; 0 = the service's 1,000). */
FLOE_API int floe_s3_list_multipart_uploads(struct floe_s3 *s3, const char *bucket,
                                            const char *prefix, unsigned max_uploads,
                                            floe_s3_upload_fn *fn, void *user,
                                            struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
