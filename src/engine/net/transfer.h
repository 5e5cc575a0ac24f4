/*
 * transfer.h - the transfer stage: one thread running a libcurl multi handle, many HTTP
 * requests in flight over kept-alive connections, retries with backoff.
 *
 * A struct floe_xfer is one logical request (possibly attempted several times). The submitter
 * fills the request part, then hands the xfer over with floe_transfer_submit(): from then on
 * the transfer thread owns it and the submitter must not touch it until its done callback
 * runs (on the transfer thread, exactly once). Before every attempt the transfer thread calls
 * prepare() so the request is signed afresh (SigV4 dates must be current on a retry).
 */
#ifndef FLOE_ENGINE_TRANSFER_H
#define FLOE_ENGINE_TRANSFER_H

#include "floe/client.h"
#include "floe/error.h"
#include "retry.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct floe_xfer;
struct floe_transfer;

/* Builds this attempt's request headers (signed): with floe_xfer_add_header(), or as a curl_slist
 * in *headers (freed by the transfer; sent after the added ones). Runs on the transfer thread.
 * Return FLOE_OK or a status (the xfer then fails without being sent). */
typedef int floe_xfer_prepare_fn(struct floe_xfer *x, struct curl_slist **headers,
                                 struct floe_error *err);
/* Called once when the xfer is finished (success, failure after retries, or cancel), on the
 * transfer thread. Ownership of x returns to whoever the callback hands it to. */
typedef void floe_xfer_done_fn(struct floe_xfer *x);
/* Optional: called on the transfer thread before each retry, with the failure that caused
 * it, so callers can log or count retries. */
typedef void floe_xfer_retry_fn(struct floe_xfer *x, const struct floe_error *why,
                                uint32_t delay_ms);
/* Optional: the service answered ExpiredToken / ExpiredTokenException (temporary keys that
 * expired before a refresh replaced them). Called once per xfer on the transfer thread; return
 * true when newer keys are in place, and the attempt is made again at once (not counted as a
 * retry), signed by prepare() with them. */
typedef bool floe_xfer_expired_fn(struct floe_xfer *x);

/* Request header lines an xfer keeps in one buffer (see floe_xfer_add_header): the first
 * FLOE_XFER_HEADERS_INLINE lines and FLOE_XFER_HEADER_BYTES bytes live in the xfer itself. */
#define FLOE_XFER_HEADERS_INLINE 12
#define FLOE_XFER_HEADER_BYTES 1024

struct floe_http_header {
    char *name;  /* lower-case */
    char *value; /* trimmed */
};

struct floe_xfer {
    /* ---- request: set by the submitter before submit ---- */
    const char *method;  /* "GET", "HEAD", "PUT", "POST", "DELETE"; static string */
    char *url;           /* owned: freed by floe_xfer_destroy() */
    const uint8_t *body; /* borrowed; must stay valid until done; NULL = no body */
    size_t body_len;
    /* Alternatively a streamed body of body_len bytes: body_read(body_ctx, offset, dst, n)
     * fills dst with the bytes at offset (n > 0) and returns how many it wrote (0 = failure,
     * which aborts the attempt). Called on the transfer thread; each attempt starts at 0. */
    size_t (*body_read)(void *body_ctx, uint64_t offset, uint8_t *dst, size_t n);
    void *body_ctx;
    /* Optional: a successful (2xx) response body is handed to body_write(body_ctx, src, n)
     * as it arrives (instead of sink / resp); return n to continue, anything else aborts the
     * attempt. Called on the transfer thread; a retried attempt starts the body again, after
     * body_restart(body_ctx) if set. */
    size_t (*body_write)(void *body_ctx, const uint8_t *src, size_t n);
    void (*body_restart)(void *body_ctx);
    /* Optional: reads an error answer's body (HTTP >= 300, the last attempt's resp/rh) that is
     * not Glacier JSON (S3's XML): fills code, message and request_id (each NUL-terminated,
     * truncated to its cap) and returns true, or false when the body is not in its format (the
     * generic message is used). Its code drives the retry decision as Glacier's does. Called on
     * the transfer thread; must not keep pointers into x. */
    bool (*parse_error)(const struct floe_xfer *x, char *code, size_t code_cap, char *message,
                        size_t message_cap, char *request_id, size_t request_id_cap);
    bool path_as_is; /* send the URL path exactly as given (S3 keys may hold "." and ".."
                        segments, which curl would otherwise remove) */
    uint8_t *sink;   /* optional fixed buffer for the response body (borrowed) */
    size_t sink_cap;
    size_t resp_max; /* cap on an in-memory response body (0 = 4 MiB) */
    struct floe_retry_policy retry;
    floe_xfer_prepare_fn *prepare;
    floe_xfer_done_fn *done;
    floe_xfer_retry_fn *on_retry;
    floe_xfer_expired_fn *on_expired;
    void *user;    /* the done callback's context */
    void *req_ctx; /* prepare()'s context (e.g. the signing inputs); owned when ctx_free set */
    void (*ctx_free)(void *req_ctx);

    /* ---- result: valid inside done() ---- */
    int status;            /* FLOE_OK or the failure's status */
    struct floe_error err; /* detail when status != FLOE_OK */
    long http_status;      /* last attempt's HTTP status, 0 if none */
    int attempts;
    uint8_t *resp;               /* response body when no sink (owned; NUL-terminated) */
    size_t resp_len;             /* bytes received (into sink or resp) */
    struct floe_http_header *rh; /* response headers of the last attempt (owned; name and
                                    value point into hbuf) */
    size_t nrh;

    /* ---- private to the transfer thread ---- */
    CURL *easy;
    struct curl_slist *req_headers; /* prepare()'s own list (freed with curl_slist_free_all) */
    /* the lines of floe_xfer_add_header, NUL-terminated one after the other in qh_buf (qh_small
     * or the heap), and the list curl is given (qh_nodes: qh_inline or the heap) */
    char *qh_buf;
    size_t qh_len, qh_cap;
    struct curl_slist *qh_nodes;
    size_t qh_n, qh_nodes_cap;
    uint64_t not_before_ms;
    uint64_t failing_since_ms; /* end of the first failed attempt (0 = none failed yet) */
    double submit_s;           /* CLOCK_MONOTONIC at submit (for opts.on_request) */
    double first_byte_s;       /* CLOCK_MONOTONIC of the attempt's first response byte (0 = none) */
    uint64_t read_off;
    size_t resp_cap;
    size_t rh_cap;             /* slots of rh */
    char *hbuf;                /* the response headers' names and values, NUL-terminated */
    size_t hbuf_len, hbuf_cap; /* kept across attempts: no malloc per header line */
    bool overflow;
    bool expired_retried; /* on_expired was called */
    bool skew_retried;    /* resent once after a clock skew answer */
    bool bw_paused;       /* paused by the bandwidth limit (bwlimit.h) */
    uint8_t bw_dir;       /* which of its buckets ran dry: enum floe_bw_dir */
    char curl_err[CURL_ERROR_SIZE];
    struct floe_xfer *next;
    /* last, and not zeroed by floe_xfer_new (written before they are read) */
    struct curl_slist qh_inline[FLOE_XFER_HEADERS_INLINE];
    char qh_small[FLOE_XFER_HEADER_BYTES];
};

/*
 * floe_transfer_now() - the time requests are signed with: the clock plus the offset learnt from
 * a service that refused a signature as outside its time window (RequestTimeTooSkewed,
 * "Signature expired" / "not yet current"): its Date header minus our clock, as the SDKs do.
 * FLOE_CLOCK_OFFSET_S (tests) starts the process off by that many seconds. Any thread.
 */
time_t floe_transfer_now(void);

/* floe_xfer_new() - a zeroed xfer owning a copy of url. Never NULL. */
struct floe_xfer *floe_xfer_new(const char *method, const char *url);
/* floe_xfer_destroy() - free the xfer and everything it owns; NULL is fine. Not while it is
 * submitted (only after done ran). */
void floe_xfer_destroy(struct floe_xfer *x);
/*
 * floe_xfer_add_header() - for prepare(): one request header line of this attempt, "name: value"
 * (value NULL: "name:", which keeps curl from sending a header of its own by that name). The
 * lines live in a buffer the xfer keeps across attempts: no allocation per line (curl_slist_append
 * makes two). Transfer thread.
 */
void floe_xfer_add_header(struct floe_xfer *x, const char *name, const char *value);
/* Response header value by lower-case name, or NULL. Borrowed from x. */
const char *floe_xfer_header(const struct floe_xfer *x, const char *name);

struct floe_transfer_opts {
    unsigned max_active;     /* requests in flight at once (0 = 8) */
    long connect_timeout_ms; /* 0 = 10 s */
    long stall_timeout_s; /* fail an attempt that moves < stall_min_rate B/s this long (0 = 30) */
    long stall_min_rate;  /* bytes/s an attempt must average over stall_timeout_s (0 = 1024) */
    bool verbose;         /* curl's own trace on stderr (when log is NULL) */
    /* optional, as floe_client_config's log: called on the transfer thread only */
    void (*log)(void *log_user, int level, const char *line);
    void *log_user;
    int log_level;
    /* optional, as floe_client_config's on_request: called on the transfer thread only */
    floe_request_timing_fn *on_request;
    void *on_request_user;
    /* TLS: a PEM file of the certificate authorities to trust instead of the system's (NULL =
     * the system store; copied), and insecure = do not verify the server's certificate or
     * name (--no-verify-ssl; the caller warns). */
    const char *ca_bundle;
    bool insecure;
};

/* True once any attempt of t got an HTTP answer (the endpoint is reachable). Any thread. */
bool floe_transfer_reached(struct floe_transfer *t);

/*
 * floe_transfer_new() - start the transfer thread.
 * out      OUT: set only on FLOE_OK; destroy with floe_transfer_destroy().
 * Returns  FLOE_OK, FLOE_E_NETWORK (curl could not initialise), FLOE_E_NOMEM (no thread).
 * Threads  the transfer may be shared by any number of submitting threads.
 */
int floe_transfer_new(const struct floe_transfer_opts *opts, struct floe_transfer **out,
                      struct floe_error *err);

/* floe_transfer_submit() - hand x to the transfer thread (see ownership above). Any thread,
 * including the transfer thread itself (from a done callback). */
void floe_transfer_submit(struct floe_transfer *t, struct floe_xfer *x);

/*
 * floe_transfer_run() - submit x and wait for it: x->done must be NULL (the call installs its
 * own); returns x->status. Must not be called on the transfer thread.
 */
int floe_transfer_run(struct floe_transfer *t, struct floe_xfer *x);

/*
 * floe_transfer_destroy() - stop the thread. xfers still queued or in flight finish with
 * FLOE_E_NETWORK "cancelled" (their done callbacks run on the transfer thread before it
 * exits). NULL is fine. Must not be called on the transfer thread.
 */
void floe_transfer_destroy(struct floe_transfer *t);

/* floe_transfer_global_init() - curl_global_init once per process (thread-safe). */
int floe_transfer_global_init(struct floe_error *err);

#endif
