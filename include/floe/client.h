/*
 * floe/client.h - a Glacier endpoint and one call per API operation.
 *
 * struct floe_client holds the endpoint, region, credentials and account, and a transfer
 * stage (one thread running curl multi) shared by every call and bulk operation made
 * through it. The calls here are synchronous: they block the calling thread until the answer
 * (after retries) is in. Service errors come back as FLOE_E_SERVICE / FLOE_E_AUTH /
 * FLOE_E_NOT_FOUND / FLOE_E_THROTTLED with the Glacier code and message in the floe_error.
 */
#ifndef FLOE_CLIENT_H
#define FLOE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "floe/credentials.h"
#include "floe/error.h"
#include "floe/treehash.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The local floe-vault that floe targets when no endpoint is configured, and its
 * documented default credentials. */
#define FLOE_DEFAULT_ENDPOINT "http://127.0.0.1:9190"
#define FLOE_LOCAL_ACCESS_KEY "AKIDFLOEVAULTLOCAL"
#define FLOE_LOCAL_SECRET_KEY "floe-vault-local-secret"

struct floe_client;

/* What one request cost, reported once when it finishes (after its retries): for benchmarks
 * (floe bench). Times are CLOCK_MONOTONIC seconds. */
struct floe_request_timing {
    const char *method;      /* "GET", "PUT", ... (static) */
    double start_s;          /* submitted to the transfer thread */
    double first_byte_s;     /* the last attempt's first response byte (0 = none arrived) */
    double end_s;            /* finished */
    uint64_t bytes_sent;     /* request body bytes of the last attempt */
    uint64_t bytes_received; /* response body bytes of the last attempt */
    unsigned attempts;       /* 1 + retries */
    int http_status;         /* of the last attempt (0 = no answer) */
    int status;              /* FLOE_OK or the request's error status */
};
/* Called on the client's transfer thread, before the request's caller sees the result; t is
 * valid only during the call. Must be quick and must not call into the client. */
typedef void floe_request_timing_fn(void *user, const struct floe_request_timing *t);

struct floe_client_config {
    const char *endpoint_url; /* "http://host:port"; NULL = https://glacier.REGION.amazonaws.com */
    const char *region;       /* NULL = "us-east-1" */
    /* The keys: a provider (include/floe/credentials.h), which floe_client_new() takes over
     * in every case (the client destroys it); or, when NULL, fixed keys: */
    struct floe_credentials *credentials;
    const char *access_key_id;     /* required without a provider */
    const char *secret_access_key; /* required without a provider */
    const char *session_token;     /* optional */
    const char *account_id;        /* NULL = "-" (the credentials' account) */
    unsigned max_connections;      /* parallel requests (0 = 8) */
    /* Retries. A failed attempt that may succeed later (network failure, 5xx, 408, 429,
     * throttling) is tried again after a full-jitter exponential backoff, until the request
     * has been failing for retry_for_ms or has had max_retries retries, whichever comes first.
     * Permanent failures (other 4xx, TLS errors such as a plain-HTTP server behind an https
     * URL, bad configuration) are never retried. */
    int max_retries;       /* retries per request after the first try (-1 = none; 0 = no count
                              limit: retry_for_ms decides) */
    uint64_t retry_for_ms; /* how long a failing request is retried (0 = 10 minutes) */
    /* Until the endpoint has answered once (any HTTP status), a request that cannot connect
     * (refused, unknown host) is retried FLOE_RETRY_UNREACHED times only: a wrong endpoint or
     * a server that is not running is reported in seconds. true: the whole budget applies
     * from the start (wait for an endpoint that is coming up). */
    bool wait_for_endpoint;
    uint32_t retry_base_ms; /* backoff: first ceiling (0 = 100 ms) */
    uint32_t retry_cap_ms;  /* backoff: largest ceiling (0 = 20 s) */
    long stall_timeout_s;   /* abort an attempt below stall_min_rate this long (0 = 30 s) */
    long stall_min_rate;    /* bytes/s an attempt must average (0 = FLOE_STALL_MIN_RATE) */
    bool verbose;           /* curl trace on stderr (when log is NULL) */
    /* Optional log of what the transfer does: log(log_user, level, line) with level
     * FLOE_LOG_INFO (each retry and why), FLOE_LOG_DEBUG (each request and response: method,
     * URL, headers, status; Authorization and X-Amz-Security-Token values are replaced by
     * "[redacted]"). Called on the client's transfer thread, one line at a time; line has no
     * newline and is valid only during the call. log_level: the most detailed level wanted. */
    void (*log)(void *log_user, int level, const char *line);
    void *log_user;
    int log_level;
    /* Optional: each finished request's timing (see floe_request_timing_fn). */
    floe_request_timing_fn *on_request;
    void *on_request_user;
    /* TLS, as the aws CLI: ca_bundle = a PEM file of the certificate authorities trusted
     * instead of the system store (NULL = the system store; copied); no_verify_ssl = neither
     * the certificate nor the host name is checked (the caller warns loudly). A TLS failure
     * (untrusted certificate, an http:// server behind an https:// URL) is never retried. */
    const char *ca_bundle;
    bool no_verify_ssl;
};

#define FLOE_RETRY_FOR_DEFAULT_MS (10ull * 60 * 1000) /* retry_for_ms 0 */
/* The stall rule's defaults: an attempt moving < 1 KiB/s averaged over 30 s is aborted. */
#define FLOE_STALL_MIN_RATE 1024L
#define FLOE_STALL_TIMEOUT_S 30L
#define FLOE_RETRY_UNREACHED 5 /* retries of an endpoint that never answered (see above) */
enum { FLOE_LOG_WARN = 1, FLOE_LOG_INFO = 2, FLOE_LOG_DEBUG = 3 };

/*
 * floe_client_new() - check the configuration and start the transfer thread.
 * cfg      IN: copied (strings duplicated); the caller may free it after the call.
 * out      OUT: set only on FLOE_OK; free with floe_client_destroy().
 * Returns  FLOE_OK or FLOE_E_INVALID_ARG (bad endpoint URL, missing credentials, bad region
 *          or account id; the message says which), FLOE_E_NETWORK (curl init failed).
 * Threads  a client may be used from several threads at once.
 */
FLOE_API int floe_client_new(const struct floe_client_config *cfg, struct floe_client **out,
                             struct floe_error *err);

/* floe_client_destroy() - cancel what is in flight and free. NULL is fine. */
FLOE_API void floe_client_destroy(struct floe_client *c);

/* The endpoint URL in use (borrowed from c). */
FLOE_API const char *floe_client_endpoint(const struct floe_client *c);

struct floe_vault_info {
    char vault_arn[400];
    char vault_name[256];
    char creation_date[40];
    char last_inventory_date[40]; /* "" when the vault has had no inventory */
    int64_t number_of_archives;   /* -1 when null */
    int64_t size_in_bytes;        /* -1 when null */
};

/* CreateVault. The name is checked locally first (1-255 of A-Za-z0-9_.-). */
FLOE_API int floe_client_create_vault(struct floe_client *c, const char *vault,
                                      struct floe_error *err);
/* DescribeVault; out written only on FLOE_OK. */
FLOE_API int floe_client_describe_vault(struct floe_client *c, const char *vault,
                                        struct floe_vault_info *out, struct floe_error *err);
/* DeleteVault (the service refuses a non-empty vault). */
FLOE_API int floe_client_delete_vault(struct floe_client *c, const char *vault,
                                      struct floe_error *err);

/* Called once per vault, in the service's order; return non-zero to stop early. */
typedef int floe_vault_list_fn(const struct floe_vault_info *v, void *user);
/* ListVaults, following every Marker until the end (page_limit 0 = service default). */
FLOE_API int floe_client_list_vaults(struct floe_client *c, unsigned page_limit,
                                     floe_vault_list_fn *fn, void *user, struct floe_error *err);

struct floe_archive_result {
    char archive_id[1025];
    char location[1400];
    uint8_t tree[FLOE_HASH_BYTES]; /* the tree hash the service computed (checked) */
    bool linear_checksum;          /* the service answered with the body's linear SHA-256 instead of
                                      its tree hash (moto does so above 1 MiB); it matched the data */
};

/*
 * floe_client_upload_archive() - UploadArchive of one in-memory body (1 byte to 4 GiB).
 * Computes the tree and linear hashes, signs, sends, and checks the returned checksum.
 * description  optional (NULL), at most 1,024 printable ASCII characters.
 */
FLOE_API int floe_client_upload_archive(struct floe_client *c, const char *vault, const void *data,
                                        size_t len, const char *description,
                                        struct floe_archive_result *out, struct floe_error *err);

/* DeleteArchive. */
FLOE_API int floe_client_delete_archive(struct floe_client *c, const char *vault,
                                        const char *archive_id, struct floe_error *err);

/* InitiateMultipartUpload; upload_id receives the id (NUL-terminated, < 1025 bytes). */
FLOE_API int floe_client_initiate_multipart(struct floe_client *c, const char *vault,
                                            uint64_t part_size, const char *description,
                                            char upload_id[1025], struct floe_error *err);

/* CompleteMultipartUpload with the archive size and tree hash; the returned checksum is
 * compared with tree (FLOE_E_CHECKSUM on a difference). */
FLOE_API int floe_client_complete_multipart(struct floe_client *c, const char *vault,
                                            const char *upload_id, uint64_t archive_size,
                                            const uint8_t tree[FLOE_HASH_BYTES],
                                            struct floe_archive_result *out,
                                            struct floe_error *err);

/* AbortMultipartUpload. */
FLOE_API int floe_client_abort_multipart(struct floe_client *c, const char *vault,
                                         const char *upload_id, struct floe_error *err);

struct floe_part_info {
    uint64_t first, last; /* inclusive byte range */
    uint8_t tree[FLOE_HASH_BYTES];
};
struct floe_upload_info {
    char upload_id[1025];
    char archive_description[1025];
    char creation_date[40];
    uint64_t part_size;
};
/* Called once per confirmed part; non-zero stops early. */
typedef int floe_part_list_fn(const struct floe_part_info *p, void *user);
/* ListParts, all pages. info (optional) receives the upload's own fields. */
FLOE_API int floe_client_list_parts(struct floe_client *c, const char *vault, const char *upload_id,
                                    floe_part_list_fn *fn, void *user,
                                    struct floe_upload_info *info, struct floe_error *err);

/* Called once per in-progress upload; non-zero stops early. */
typedef int floe_upload_list_fn(const struct floe_upload_info *u, void *user);
/* ListMultipartUploads, all pages. */
FLOE_API int floe_client_list_multipart_uploads(struct floe_client *c, const char *vault,
                                                floe_upload_list_fn *fn, void *user,
                                                struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
