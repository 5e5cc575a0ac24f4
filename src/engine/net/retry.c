/*
 * retry.c - retry classification and full-jitter exponential backoff (see retry.h).
 */
#include "retry.h"

#include <curl/curl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

bool floe_retry_curl_code_retryable(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_AGAIN: return true;
    default: return false;
    }
}

bool floe_retry_curl_code_unreached(int curl_code)
{
    /* an empty reply from an endpoint that never answered: an https:// server behind an
     * http:// URL closes without a word, and more attempts will not change that */
    return curl_code == CURLE_COULDNT_CONNECT || curl_code == CURLE_COULDNT_RESOLVE_HOST ||
           curl_code == CURLE_COULDNT_RESOLVE_PROXY || curl_code == CURLE_GOT_NOTHING;
}

const char *floe_retry_tls_why(int curl_code, const char *m)
{
    static const char *const not_tls[] = {
        "wrong version number", "unknown protocol", "packet length too long",
        "record layer failure", "http request",
    };
    static const char *const untrusted = "the server's certificate is not trusted (give its CA "
                                         "with --ca-bundle, AWS_CA_BUNDLE or the profile's "
                                         "ca_bundle) or does not name the endpoint's host";
    switch ((CURLcode)curl_code) {
    case CURLE_PEER_FAILED_VERIFICATION: return untrusted;
    case CURLE_SSL_CACERT_BADFILE:
        return "the CA bundle cannot be read or holds no certificate (--ca-bundle, "
               "AWS_CA_BUNDLE, the profile's ca_bundle)";
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return "the TLS configuration is refused";
    case CURLE_SSL_CONNECT_ERROR: break;
    default: return NULL;
    }
    for (size_t i = 0; m && i < sizeof(not_tls) / sizeof(not_tls[0]); i++)
        if (strcasestr(m, not_tls[i]))
            return "the server does not speak TLS: is the endpoint http:// rather than https://?";
    if (m && (strcasestr(m, "certificate") || strcasestr(m, "verify")))
        return untrusted;
    if (m && (strcasestr(m, "unsupported protocol") || strcasestr(m, "no protocols available")))
        return "the server and floe share no TLS version";
    return NULL;
}

bool floe_retry_may_retry(const struct floe_retry_policy *p, int attempts, uint64_t failing_ms,
                          bool connect_failure, bool reached)
{
    if (p->max_retries >= 0 && attempts > p->max_retries)
        return false;
    if (connect_failure && !reached && p->unreached_retries >= 0)
        return attempts <= p->unreached_retries;
    return p->budget_ms == 0 || failing_ms < p->budget_ms;
}

bool floe_retry_http_retryable(long http_status, const char *glacier_code)
{
    if (http_status >= 500 || http_status == 408 || http_status == 429)
        return true;
    if (glacier_code &&
        (strcmp(glacier_code, "ThrottlingException") == 0 ||
         strcmp(glacier_code, "RequestTimeoutException") == 0 ||
         strcmp(glacier_code, "SlowDown") == 0 || strcmp(glacier_code, "RequestTimeout") == 0))
        return true;
    return false;
}

static uint64_t next(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

uint32_t floe_retry_backoff_ms(const struct floe_retry_policy *p, int attempt, uint64_t *rng)
{
    uint64_t base = p->base_ms ? p->base_ms : 100;
    uint64_t cap = p->cap_ms ? p->cap_ms : 20000;
    uint64_t ceil_ms = base;
    for (int i = 1; i < attempt && ceil_ms < cap; i++)
        ceil_ms *= 2;
    if (ceil_ms > cap)
        ceil_ms = cap;
    return (uint32_t)(next(rng) % (ceil_ms + 1));
}

uint64_t floe_retry_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)getpid();
    }
    return s ? s : 1;
}
