/*
 * test_retry.c - which failures are retried, and full-jitter backoff stays within its bounds.
 */
#include "t_util.h"

#include "retry.h"

#include <curl/curl.h>

static void test_retry_classification(void **state)
{
    (void)state;
    assert_true(floe_retry_http_retryable(500, NULL));
    assert_true(floe_retry_http_retryable(503, ""));
    assert_true(floe_retry_http_retryable(408, NULL));
    assert_true(floe_retry_http_retryable(429, NULL));
    assert_true(floe_retry_http_retryable(400, "ThrottlingException"));
    assert_true(floe_retry_http_retryable(400, "RequestTimeoutException"));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_classification),
        cmocka_unit_test(test_retry_backoff_bounds_and_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
