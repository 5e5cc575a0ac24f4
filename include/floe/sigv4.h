/*
 * floe/sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256): signing for the client and
 * verification for floe-vault, plus the vault-name rule both sides share.
 *
 * Signing is bit-exact with botocore 1.43 botocore.auth.SigV4Auth for a request whose URL
 * already carries its query string (what botocore's own clients send). The rules are in
 * docs/internals/sigv4.md. Everything here is pure computation: no allocation survives a call
 * (except floe_sigv4_canonical_request()'s result), no I/O; the only state kept is each thread's
 * last derived signing key (see sigv4.c), which never changes a result.
 *
 * Threads: every function is safe to call from any thread at once; the structs passed in
 * belong to the caller and are only read (inputs) or written (outputs) during the call.
 */
#ifndef FLOE_SIGV4_H
#define FLOE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_SIGV4_AMZ_DATE_LEN 16           /* "20120525T002453Z" */
#define FLOE_SIGV4_SIGNATURE_HEX_LEN 64      /* lower-case hex HMAC-SHA256 */
#define FLOE_SIGV4_KEY_ID_MAX 128            /* longest access key id accepted */
#define FLOE_SIGV4_SECRET_MAX 256            /* longest secret access key accepted */
#define FLOE_SIGV4_SCOPE_PART_MAX 63         /* longest region, service or terminator */
#define FLOE_SIGV4_SIGNED_HEADERS_MAX 1024   /* buffer for "host;x-amz-date;..." incl. NUL */
#define FLOE_SIGV4_AUTHORIZATION_MAX 2048    /* buffer for the Authorization value incl. NUL */
#define FLOE_SIGV4_AUTHORIZATION_IN_MAX 4096 /* longer received Authorization values: MALFORMED */
#define FLOE_SIGV4_DEFAULT_MAX_SKEW_S 900    /* +-15 minutes, as AWS */

/* One HTTP header. Both strings are borrowed for the duration of the call. */
struct floe_sigv4_header {
    const char *name;  /* any case; compared case-insensitively */
    const char *value; /* as sent; canonicalisation trims and collapses spaces itself */
};

/*
 * An HTTP request as it goes on (or came off) the wire. All pointers are borrowed.
 *
 * method   "GET", "PUT", ...; canonicalised upper-case.
 * path     raw path exactly as in the request line (already percent-encoded), starting '/'.
 * query    raw query string without the '?', or NULL / "" for none. Used verbatim: pairs are
 *          sorted but never re-encoded, as botocore does for a URL that carries its query.
 *          Build it with RFC 3986 encoding (only A-Z a-z 0-9 - _ . ~ unescaped, upper-case
 *          hex) and it also equals what AWS computes from decoded parameters.
 * headers  for signing: the headers to sign, including host (required); x-amz-date and
 *          x-amz-security-token are added by floe_sigv4_sign(). For verifying: ALL received
 *          headers; only those named in SignedHeaders are used.
 * payload_sha256_hex  lower-case hex SHA-256 of the body, or NULL to take the value of the
 *          x-amz-content-sha256 header. When both are given they must agree.
 * raw_path false (Glacier and most services): the canonical URI is botocore's generic one
 *          (dot segments removed, empty segments dropped, every byte outside the unreserved
 *          set escaped again, '%' included). true (S3, as botocore's S3SigV4Auth): the path is
 *          used exactly as given, so it must already be encoded once (docs/s3-api.md 3).
 */
struct floe_sigv4_request {
    const char *method;
    const char *path;
    const char *query;
    const struct floe_sigv4_header *headers;
    size_t nheaders;
    const char *payload_sha256_hex;
    bool raw_path;
};

/* Credentials. Borrowed; never copied beyond the call (the derived key is wiped). */
struct floe_sigv4_credentials {
    const char *access_key_id;     /* 1..128 chars of [A-Za-z0-9_.-] */
    const char *secret_access_key; /* 1..256 bytes */
    const char *session_token;     /* NULL or "" when the credentials are not temporary */
};

/* What the caller sends after floe_sigv4_sign(): "X-Amz-Date: <amz_date>",
 * "Authorization: <authorization>" and, when security_token is not NULL,
 * "X-Amz-Security-Token: <security_token>". */
struct floe_sigv4_signed {
    char amz_date[FLOE_SIGV4_AMZ_DATE_LEN + 1];
    char signature[FLOE_SIGV4_SIGNATURE_HEX_LEN + 1];
    char authorization[FLOE_SIGV4_AUTHORIZATION_MAX];
    const char *security_token; /* borrowed from the credentials, or NULL */
};

/*
 * floe_sigv4_sign() - sign a request the way botocore's SigV4Auth does.
 *
 * req      IN: borrowed. Signed headers are every header given except botocore's blocklist
 *          (connection, expect, keep-alive, proxy-authenticate, proxy-authorization, te,
 *          trailer, transfer-encoding, upgrade, user-agent, x-amzn-trace-id), plus x-amz-date
 *          and (with a session token) x-amz-security-token. Passing authorization, date,
 *          x-amz-date or x-amz-security-token yourself is an error. Names must be HTTP tokens
 *          and values printable ASCII (tab allowed); path and query printable ASCII without
 *          space or '#'.
 * cred     IN: borrowed.
 * region   IN: e.g. "us-east-1"; 1..63 chars of [A-Za-z0-9_.-].
 * service  IN: e.g. "glacier"; same rule.
 * when     IN: signing time (UTC seconds since the epoch), year 1970..9999.
 * out      OUT: written only on FLOE_OK.
 * err      OUT: optional; filled on failure.
 * Returns  FLOE_OK, or FLOE_E_INVALID_ARG with the failed rule in err->message.
 * Threads  safe from any thread.
 */
FLOE_API int floe_sigv4_sign(const struct floe_sigv4_request *req,
                             const struct floe_sigv4_credentials *cred, const char *region,
                             const char *service, time_t when, struct floe_sigv4_signed *out,
                             struct floe_error *err);

/*
 * floe_sigv4_canonical_request() - build the canonical request text (for tests, fuzzing and
 * debug logs of signature mismatches).
 *
 * req             IN: borrowed; same rules as floe_sigv4_sign(), except that no header is
 *                 reserved (pass x-amz-date yourself) and host is not required.
 * signed_headers  IN: NULL to sign every header except the blocklist (signing side), or a
 *                 SignedHeaders value ("host;x-amz-date") to use exactly those (verify side).
 * out      OUT: on FLOE_OK a malloc'd NUL-terminated string; the caller frees it with free().
 * Returns  FLOE_OK, or FLOE_E_INVALID_ARG (message in err), including a named header that
 *          is absent.
 * Threads  safe from any thread.
 */
FLOE_API int floe_sigv4_canonical_request(const struct floe_sigv4_request *req,
                                          const char *signed_headers, char **out,
                                          struct floe_error *err);

/* The parts of a received "Authorization: AWS4-HMAC-SHA256 Credential=..., ..." value. */
struct floe_sigv4_auth {
    char access_key_id[FLOE_SIGV4_KEY_ID_MAX + 1];
    char date[9]; /* YYYYMMDD from the credential scope */
    char region[FLOE_SIGV4_SCOPE_PART_MAX + 1];
    char service[FLOE_SIGV4_SCOPE_PART_MAX + 1];
    char terminator[FLOE_SIGV4_SCOPE_PART_MAX + 1]; /* should be "aws4_request" */
    char signed_headers[FLOE_SIGV4_SIGNED_HEADERS_MAX];
    char signature[FLOE_SIGV4_SIGNATURE_HEX_LEN + 1];
};

/*
 * floe_sigv4_parse_authorization() - split an Authorization value into its parts.
 *
 * value    IN: the header value (surrounding white space ignored). Accepted form:
 *          "AWS4-HMAC-SHA256 " then Credential=, SignedHeaders=, Signature= in any order,
 *          each exactly once, separated by ',' and optional spaces. Credential is
 *          key/YYYYMMDD/region/service/terminator; SignedHeaders are lower-case HTTP tokens
 *          in strictly ascending order; Signature is 64 lower-case hex digits.
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK, or FLOE_E_AUTH (the rule broken is in err->message).
 * Threads  safe from any thread.
 */
FLOE_API int floe_sigv4_parse_authorization(const char *value, struct floe_sigv4_auth *out,
                                            struct floe_error *err);

/* Why verification accepted or rejected a request. Stable values; never renumber. */
enum floe_sigv4_reason {
    FLOE_SIGV4_OK = 0,
    FLOE_SIGV4_MISSING = 1,               /* no Authorization header */
    FLOE_SIGV4_MALFORMED = 2,             /* unparsable Authorization, date or request target */
    FLOE_SIGV4_UNKNOWN_KEY = 3,           /* lookup does not know the access key id */
    FLOE_SIGV4_BAD_SCOPE = 4,             /* scope date, region, service or terminator */
    FLOE_SIGV4_SKEW = 5,                  /* request time outside now +- max skew */
    FLOE_SIGV4_UNSIGNED_HOST_OR_DATE = 6, /* host or the date header not in SignedHeaders */
    FLOE_SIGV4_HEADER_MISSING = 7,        /* a header in SignedHeaders was not sent */
    FLOE_SIGV4_BAD_PAYLOAD_HASH = 8,      /* UNSIGNED-PAYLOAD, STREAMING-*, or not hex */
    FLOE_SIGV4_PAYLOAD_MISMATCH = 9,      /* x-amz-content-sha256 differs from the body hash */
    FLOE_SIGV4_MISMATCH = 10,             /* the signature does not match */
    FLOE_SIGV4_REASON_COUNT
};

/* "OK", "MISSING", ...; "UNKNOWN" for values out of range. Static string, never NULL. */
FLOE_API const char *floe_sigv4_reason_name(enum floe_sigv4_reason reason);

/*
 * floe_sigv4_reason_glacier_error() - the Glacier error a server returns for a reason.
 *
 * reason       IN: any value.
 * http_status  OUT: optional; 400 or 403 (0 for FLOE_SIGV4_OK).
 * Returns  the error code ("InvalidSignatureException", ...), "" for FLOE_SIGV4_OK. Static.
 * Mapping  MISSING: MissingAuthenticationTokenException 400; MALFORMED:
 *          IncompleteSignatureException 400; UNKNOWN_KEY: UnrecognizedClientException 400;
 *          PAYLOAD_MISMATCH: InvalidParameterValueException 400; all others:
 *          InvalidSignatureException 403.
 * Threads  safe from any thread.
 */
FLOE_API const char *floe_sigv4_reason_glacier_error(enum floe_sigv4_reason reason,
                                                     int *http_status);

/*
 * Looks up the secret for an access key id. Writes a NUL-terminated secret of at most
 * secret_cap - 1 bytes and returns 0 if the key is known; returns non-zero otherwise.
 * Called at most once per floe_sigv4_verify(), on the caller's thread.
 */
typedef int floe_sigv4_secret_lookup_fn(const char *access_key_id, char *secret_out,
                                        size_t secret_cap, void *user);

/* Options for floe_sigv4_verify(). Zero means default where noted. */
struct floe_sigv4_verify_opts {
    const char *region;                  /* required: the region this server answers for */
    const char *service;                 /* required: "glacier" */
    time_t now;                          /* the server's clock, UTC seconds */
    int max_skew_s;                      /* 0 => FLOE_SIGV4_DEFAULT_MAX_SKEW_S; must be >= 0 */
    floe_sigv4_secret_lookup_fn *lookup; /* required */
    void *user;                          /* passed to lookup */
};

/* The verdict. reason is always meaningful; the other fields are filled as far as parsing
 * got ("" otherwise). */
struct floe_sigv4_verdict {
    enum floe_sigv4_reason reason;
    char access_key_id[FLOE_SIGV4_KEY_ID_MAX + 1]; /* map to the account on FLOE_SIGV4_OK */
    char amz_date[FLOE_SIGV4_AMZ_DATE_LEN + 1];    /* the request time used */
};

/*
 * floe_sigv4_verify() - check a received request's SigV4 signature (docs/glacier-api.md 5.5).
 *
 * req            IN: borrowed; method, raw path and raw query as received and ALL received
 *                headers. payload_sha256_hex may be NULL when x-amz-content-sha256 was sent
 *                (uploads: the signature is then checked before the body is read; the caller
 *                must still compare the body's hash with that header afterwards).
 * authorization  IN: the Authorization header value, or NULL if none was sent.
 * opts           IN: borrowed; region, service and lookup are required.
 * verdict        OUT: written on FLOE_OK and on FLOE_E_AUTH (the verdict is the result of the
 *                call); not written on FLOE_E_INVALID_ARG.
 * err            OUT: optional. On FLOE_E_AUTH: status FLOE_E_AUTH, code and http_status from
 *                floe_sigv4_reason_glacier_error(), and a message in the style of the real
 *                service ("Signature expired: ... is now earlier than ...").
 * Checks, in order: Authorization present and well-formed; a date (x-amz-date, else an
 *                ISO-basic Date); host and that date header signed; scope date, region,
 *                service and "aws4_request"; |now - date| <= max skew; key known; payload
 *                hash a real SHA-256 (never UNSIGNED-PAYLOAD / STREAMING-*); every signed
 *                header present; signature equal (constant-time compare); the body hash, when
 *                both it and x-amz-content-sha256 are known, equal to the header.
 * Returns  FLOE_OK (verdict->reason == FLOE_SIGV4_OK), FLOE_E_AUTH (rejected; see
 *          verdict->reason), or FLOE_E_INVALID_ARG (caller error: NULL arguments, a missing
 *          option, a negative max_skew_s, no payload hash from either source).
 * Threads  safe from any thread; lookup runs on the calling thread.
 */
FLOE_API int floe_sigv4_verify(const struct floe_sigv4_request *req, const char *authorization,
                               const struct floe_sigv4_verify_opts *opts,
                               struct floe_sigv4_verdict *verdict, struct floe_error *err);

/*
 * floe_sigv4_vault_name_valid() - check a vault name against ^[A-Za-z0-9_.-]{1,255}$.
 *
 * name     IN: NUL-terminated, may be NULL (rejected).
 * Returns  FLOE_OK, or FLOE_E_INVALID_ARG with the rule broken in err->message (empty, too
 *          long, a non-ASCII byte such as a Unicode letter, or a disallowed ASCII character).
 * Threads  safe from any thread.
 */
FLOE_API int floe_sigv4_vault_name_valid(const char *name, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
