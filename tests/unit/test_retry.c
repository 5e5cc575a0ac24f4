/*
 * test_retry.c - which failures are retried, and full-jitter backoff stays within its bounds.
 */
#include "t_util.h"

#include "retry.h"

#include <curl/curl.h>
#include <string.h>

static void test_retry_classification(void **state)
{
    (void)state;
    assert_true(floe_retry_http_retryable(500, NULL));
    assert_true(floe_retry_http_retryable(503, ""));
    assert_true(floe_retry_http_retryable(408, NULL));
    assert_true(floe_retry_http_retryable(429, NULL));
    assert_true(floe_retry_http_retryable(400, "ThrottlingException"));
    assert_true(floe_retry_http_retryable(400, "RequestTimeoutException"));
    assert_true(floe_retry_http_retryable(400, "RequestTimeout")); /* S3 */
    assert_true(floe_retry_http_retryable(503, "SlowDown"));       /* S3 */
    assert_true(floe_retry_http_retryable(500, "InternalError"));  /* S3 */
    assert_false(floe_retry_http_retryable(404, "NoSuchKey"));     /* S3 */
    assert_false(floe_retry_http_retryable(403, "SignatureDoesNotMatch"));
    assert_false(floe_retry_http_retryable(400, "InvalidParameterValueException"));
    assert_false(floe_retry_http_retryable(403, "InvalidSignatureException"));
    assert_false(floe_retry_http_retryable(404, "ResourceNotFoundException"));
    assert_false(floe_retry_http_retryable(400, NULL));
    assert_true(floe_retry_curl_code_retryable(CURLE_COULDNT_CONNECT));
    assert_true(floe_retry_curl_code_retryable(CURLE_RECV_ERROR));
    assert_true(floe_retry_curl_code_retryable(CURLE_OPERATION_TIMEDOUT));
    assert_true(floe_retry_curl_code_retryable(CURLE_GOT_NOTHING));
    assert_false(floe_retry_curl_code_retryable(CURLE_URL_MALFORMAT));
    assert_false(floe_retry_curl_code_retryable(CURLE_WRITE_ERROR));
}

static void test_retry_backoff_bounds_and_jitter(void **state)
{
    (void)state;
    struct floe_retry_policy p = {.max_retries = 10, .base_ms = 100, .cap_ms = 1000};
    uint64_t rng = floe_retry_seed();
    for (int attempt = 1; attempt <= 10; attempt++) {
        uint32_t ceiling = 100u << (attempt - 1);
        if (ceiling > 1000)
            ceiling = 1000;
        uint32_t lo = UINT32_MAX, hi = 0;
        for (int i = 0; i < 2000; i++) {
            uint32_t d = floe_retry_backoff_ms(&p, attempt, &rng);
            assert_true(d <= ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* full jitter: spread over the whole window, not clustered at the top */
        assert_true(lo < ceiling / 10 + 1);
        assert_true(hi > ceiling * 9 / 10);
    }
    struct floe_retry_policy def = {0};
    for (int i = 0; i < 100; i++)
        assert_true(floe_retry_backoff_ms(&def, 30, &rng) <= 20000);
    assert_int_not_equal(floe_retry_seed(), 0);
}

/* The budget: a count, a time, whichever ends first; an endpoint never reached gets a few
 * retries only, unless the caller waits for it. */
static void test_retry_budget(void **state)
{
    (void)state;
    struct floe_retry_policy p = {.max_retries = -1, .budget_ms = 600000, .unreached_retries = 5};
    assert_true(floe_retry_may_retry(&p, 1, 0, false, false));
    assert_true(floe_retry_may_retry(&p, 1000, 599999, false, true));
    assert_false(floe_retry_may_retry(&p, 2, 600000, false, true));
    /* refused before the endpoint ever answered: 5 retries, then reported */
    assert_true(floe_retry_may_retry(&p, 5, 100, true, false));
    assert_false(floe_retry_may_retry(&p, 6, 100, true, false));
    /* ... but once it has answered, an outage gets the whole time budget */
    assert_true(floe_retry_may_retry(&p, 60, 20000, true, true));
    p.unreached_retries = -1; /* wait for the endpoint */
    assert_true(floe_retry_may_retry(&p, 60, 20000, true, false));
    p.max_retries = 2; /* the count wins when it ends first, also before contact */
    assert_true(floe_retry_may_retry(&p, 2, 0, false, true));
    assert_false(floe_retry_may_retry(&p, 3, 0, false, true));
    p.unreached_retries = 5;
    assert_false(floe_retry_may_retry(&p, 3, 0, true, false));
    p.max_retries = 0;
    assert_false(floe_retry_may_retry(&p, 1, 0, false, true));
}

static void test_retry_tls_configuration_errors(void **state)
{
    (void)state;
    const char *w = floe_retry_tls_why(CURLE_SSL_CONNECT_ERROR,
                                       "error:0A00010B:SSL routines::wrong version number");
    assert_non_null(w);
    assert_non_null(strstr(w, "does not speak TLS"));
    w = floe_retry_tls_why(CURLE_PEER_FAILED_VERIFICATION,
                           "SSL certificate problem: self-signed certificate");
    assert_non_null(w);
    assert_non_null(strstr(w, "--ca-bundle"));
    assert_non_null(floe_retry_tls_why(CURLE_SSL_CACERT_BADFILE, "error setting certificate file"));
    assert_non_null(floe_retry_tls_why(CURLE_SSL_CONNECT_ERROR,
                                       "SSL certificate problem: unable to get local issuer"));
    /* a handshake cut by the network is transient */
    assert_null(floe_retry_tls_why(CURLE_SSL_CONNECT_ERROR,
                                   "Connection reset by peer in connection to x:443"));
    assert_null(floe_retry_tls_why(CURLE_SSL_CONNECT_ERROR, NULL));
    assert_null(floe_retry_tls_why(CURLE_RECV_ERROR, "wrong version number"));
    assert_true(floe_retry_curl_code_unreached(CURLE_COULDNT_CONNECT));
    assert_false(floe_retry_curl_code_unreached(CURLE_RECV_ERROR));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_classification),
        cmocka_unit_test(test_retry_backoff_bounds_and_jitter),
        cmocka_unit_test(test_retry_budget),
        cmocka_unit_test(test_retry_tls_configuration_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
