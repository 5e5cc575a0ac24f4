/*
 * retry.h - which failed HTTP attempts are worth repeating, and how long to wait first.
 *
 * Retryable (docs/glacier-api.md 2.11, client retry policy): network failures (connection
 * refused or reset, timeouts, empty replies, partial transfers), HTTP 5xx, 408 RequestTimeout,
 * 429, and 400 responses whose Glacier code is ThrottlingException or RequestTimeoutException,
 * or whose S3 code is SlowDown or RequestTimeout (S3's 503 SlowDown and 500 InternalError are
 * retried by their status; docs/s3-api.md 6).
 * Everything else (other 4xx, TLS failures that show a configuration error) fails fast with
 * the server's message. How long and how often: struct floe_retry_policy.
 * Backoff is exponential with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
 */
#ifndef FLOE_ENGINE_RETRY_H
#define FLOE_ENGINE_RETRY_H

#include <stdbool.h>
#include <stdint.h>

struct floe_retry_policy {
    int max_retries;    /* retries after the first attempt; 0 = never retry, -1 = no count limit */
    uint64_t budget_ms; /* retry only while the request has been failing for less (0 = no limit) */
    int unreached_retries; /* before the endpoint answered once: retries of a connection
                              failure (-1 = the limits above apply from the start) */
    uint32_t base_ms;      /* first backoff ceiling (0 = 100 ms) */
    uint32_t cap_ms;       /* largest backoff ceiling (0 = 20 s) */
};

/*
 * floe_retry_may_retry() - the decision after a retryable failure: true when retry number
 * `attempts` (attempts made so far, >= 1) is allowed. failing_ms: how long the request has been
 * failing (since its first failed attempt ended); connect_failure: the attempt never reached the
 * endpoint; reached: the endpoint has answered some request of this client.
 */
bool floe_retry_may_retry(const struct floe_retry_policy *p, int attempts, uint64_t failing_ms,
                          bool connect_failure, bool reached);

/*
 * floe_retry_tls_why() - is a failed attempt (curl_code, curl's message) a TLS or TLS
 * configuration failure that another attempt cannot fix? Returns why, for the user ("the
 * server does not speak TLS: ...", "the server's certificate is not trusted ..."), or NULL
 * when it is not one (a TLS handshake cut by the network stays retryable). Static strings;
 * any thread.
 */
const char *floe_retry_tls_why(int curl_code, const char *curl_message);

/* True when curl's result code means the endpoint could not be reached at all. */
bool floe_retry_curl_code_unreached(int curl_code);

/* True when curl's result code is a transient network failure. */
bool floe_retry_curl_code_retryable(int curl_code);

/* True when an HTTP answer is retryable; glacier_code may be NULL or "". */
bool floe_retry_http_retryable(long http_status, const char *glacier_code);

/*
 * floe_retry_backoff_ms() - delay before retry number attempt (1 = first retry), full jitter.
 * rng      IN/OUT: caller-owned PRNG state (seed with floe_retry_seed()); not shared between
 *          threads without a lock.
 */
uint32_t floe_retry_backoff_ms(const struct floe_retry_policy *p, int attempt, uint64_t *rng);

/* A seed from getrandom(2) (falls back to the clock and pid). */
uint64_t floe_retry_seed(void);

#endif
