/*
 * client_impl.h - the parts of struct floe_client that engine modules (upload, retrieve)
 * share, and "calls": the signing inputs of one Glacier request, turned into a transfer xfer.
 */
#ifndef FLOE_ENGINE_CLIENT_IMPL_H
#define FLOE_ENGINE_CLIENT_IMPL_H

#include "floe/client.h"
#include "credentials.h"
#include "floe/hashpool.h"
#include "reader.h"
#include "transfer.h"

#include <jansson.h>
#include <pthread.h>

struct floe_client {
    char *endpoint;    /* scheme://host[:port], no trailing slash */
    char *host_header; /* what curl sends as Host and we sign */
    char *region;
    struct floe_credentials *creds; /* owned; thread-safe (credentials.h) */
    char *account_id;
    struct floe_retry_policy retry;
    struct floe_transfer *transfer; /* owned; thread-safe */
    pthread_mutex_t mu;
    struct {
        struct floe_hashpool *hashpool; /* created on first use, shared by bulk operations */
        struct floe_reader *reader;
    } locked; /* guarded by mu (the pointers; the objects are thread-safe themselves) */
};

/* The client's shared hash pool / reader, created on first use. FLOE_OK or a start failure. */
int floe_client_hashpool(struct floe_client *c, struct floe_hashpool **out, struct floe_error *err);
int floe_client_reader(struct floe_client *c, struct floe_reader **out, struct floe_error *err);

struct floe_call; /* one request's signing inputs; owned by its xfer once made */

/*
 * floe_call_new() - start describing a request.
 * path     IN: the part after /{accountId}, already percent-encoded ("/vaults/v1").
 * query    IN: raw query ("limit=2&marker=x") or NULL; values already encoded.
 * Returns  a new call (never NULL). Threads: the caller's until floe_call_xfer().
 */
struct floe_call *floe_call_new(struct floe_client *c, const char *method, const char *path,
                                const char *query);
/*
 * floe_call_job_output() - GetJobOutput of job_id in vault (GET /vaults/VAULT/jobs/ID/output,
 * the id percent-encoded): the whole output, or with ranged "Range: bytes=OFF-(OFF+LEN-1)"
 * (len at least 1). Returns a new call as floe_call_new() does.
 */
struct floe_call *floe_call_job_output(struct floe_client *c, const char *vault, const char *job_id,
                                       bool ranged, uint64_t off, uint64_t len);
/* Adds a header that is sent and signed (copied). */
void floe_call_header(struct floe_call *k, const char *name, const char *value);
/*
 * floe_call_body() - the body (borrowed: must outlive the xfer). linear: its SHA-256 if
 * already known (copied), else NULL to compute it now. content_sha256: also send it as
 * x-amz-content-sha256 (uploads).
 */
void floe_call_body(struct floe_call *k, const void *body, size_t len,
                    const uint8_t linear[FLOE_HASH_BYTES], bool content_sha256);
/* As floe_call_body(), but the body is streamed by read(ctx, offset, dst, n) on the transfer
 * thread (see struct floe_xfer body_read); linear is required (known from a hash pass). */
void floe_call_body_stream(struct floe_call *k, uint64_t len, const uint8_t linear[FLOE_HASH_BYTES],
                           size_t (*read)(void *ctx, uint64_t offset, uint8_t *dst, size_t n),
                           void *ctx);
/* Turns the call into an xfer that signs itself before each attempt; the xfer owns k. */
struct floe_xfer *floe_call_xfer(struct floe_call *k);
/* Runs the call synchronously; on return *out (always set) holds the answer; destroy it with
 * floe_xfer_destroy(). Returns the xfer's status, with err filled on failure. */
int floe_call_run(struct floe_call *k, struct floe_xfer **out, struct floe_error *err);

/*
 * floe_client_upload_archive_xfer() - an UploadArchive of data (borrowed: it must outlive the
 * xfer) whose tree and linear SHA-256 the caller has computed, as an xfer to hand to
 * floe_transfer_submit() (set its done/user first); check the answer with
 * floe_client_upload_archive_answer(). NULL with err set when the vault name, description or
 * size (1 byte .. 4 GiB) is refused. Threads: any; the xfer is the caller's until submitted.
 */
struct floe_xfer *floe_client_upload_archive_xfer(struct floe_client *c, const char *vault,
                                                  const void *data, size_t len,
                                                  const uint8_t tree[FLOE_HASH_BYTES],
                                                  const uint8_t linear[FLOE_HASH_BYTES],
                                                  const char *description, struct floe_error *err);

/*
 * floe_client_upload_archive_answer() - the outcome of a finished UploadArchive xfer: its
 * status, the tree hash the service computed (ours, or moto's linear SHA-256 of the body), and
 * the archive id, into out. Returns FLOE_OK or the failure (err filled). Threads: any.
 */
int floe_client_upload_archive_answer(const struct floe_xfer *x,
                                      const uint8_t tree[FLOE_HASH_BYTES],
                                      const uint8_t linear[FLOE_HASH_BYTES],
                                      struct floe_archive_result *out, struct floe_error *err);

/*
 * floe_client_parse_endpoint() - splits scheme://host[:port][/] and rebuilds the URL curl is
 * given (*endpoint: "scheme://host[:port]", no trailing slash) and the Host value that is signed
 * (*host: the port left out when it is the scheme's default) from the same normalised parts.
 * Both are new strings (the caller free()s them), set only on FLOE_OK; else FLOE_E_INVALID_ARG
 * with the rule in err. Threads: any.
 */
int floe_client_parse_endpoint(const char *url, char **endpoint, char **host,
                               struct floe_error *err);

/* Percent-encodes s for a path segment or query value (RFC 3986 unreserved kept). */
char *floe_client_encode(const char *s);

/*
 * floe_call_json() - the answer of x as a JSON object (the caller json_decref()s it), or NULL
 * with FLOE_E_SERVICE "<op>: the answer is not a JSON object" in err.
 */
json_t *floe_call_json(const struct floe_xfer *x, const char *op, struct floe_error *err);
/* Copies the string member key of obj into dst (cap bytes, truncated); "" when absent or not
 * a string (JSON null included). */
void floe_json_copy_str(char *dst, size_t cap, json_t *obj, const char *key);
/* The integer member key of obj (also a decimal string, as some fields are), or -1 when
 * absent, null or not a non-negative integer. */
int64_t floe_json_get_int(json_t *obj, const char *key);

/* Checks an archive/job description: at most 1,024 printable ASCII characters. */
int floe_client_check_description(const char *d, struct floe_error *err);

#endif
