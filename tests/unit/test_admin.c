/*
 * test_admin.c - admin.c's local checks, which run before anything is sent: policy documents,
 * the tag key/value rules (lengths counted in characters, UTF-8 validity, allowed
 * characters, the aws: prefix), the per-call tag count, and the data retrieval policy rule.
 * A client pointed at a closed port proves that a rejected input never reaches the network.
 */
#include "t_util.h"

#include "floe/admin.h"

#include <stdlib.h>
#include <string.h>

static void expect_err(int rc, int want, const struct floe_error *err, const char *needle)
{
    assert_int_equal(rc, want);
    if (!strstr(err->message, needle)) {
        fprintf(stderr, "message \"%s\" lacks \"%s\"\n", err->message, needle);
        fail();
    }
}

static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = 0;
    return s;
}

static void test_admin_policy_check(void **state)
{
    (void)state;
    struct floe_error err = {0};
    assert_int_equal(floe_admin_check_policy("{\"Statement\": []}", &err), FLOE_OK);
    expect_err(floe_admin_check_policy("", &err), FLOE_E_INVALID_ARG, &err, "empty");
    expect_err(floe_admin_check_policy(NULL, &err), FLOE_E_INVALID_ARG, &err, "empty");
    expect_err(floe_admin_check_policy("{\"a\":\n}", &err), FLOE_E_INVALID_ARG, &err, "line 2");
    expect_err(floe_admin_check_policy("\"text\"", &err), FLOE_E_INVALID_ARG, &err,
               "must be a JSON object");
    expect_err(floe_admin_check_policy("{\"a\":1,\"a\":2}", &err), FLOE_E_INVALID_ARG, &err,
               "not valid JSON");
    /* exactly the limit passes, one byte more does not */
    char *big = malloc(FLOE_ADMIN_POLICY_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', FLOE_ADMIN_POLICY_MAX + 1);
    big[0] = '{';
    big[FLOE_ADMIN_POLICY_MAX - 1] = '}';
    big[FLOE_ADMIN_POLICY_MAX] = 0;
    assert_int_equal(floe_admin_check_policy(big, &err), FLOE_OK);
    big[FLOE_ADMIN_POLICY_MAX] = ' ';
    big[FLOE_ADMIN_POLICY_MAX + 1] = 0;
    expect_err(floe_admin_check_policy(big, &err), FLOE_E_INVALID_ARG, &err,
               "20481 bytes; Glacier allows at most 20480");
    free(big);
}

static void test_admin_tag_rules(void **state)
{
    (void)state;
    struct floe_error err = {0};
    assert_int_equal(floe_admin_check_tag_key("Team name_1.2/3=4+5-6@x", &err), FLOE_OK);
    assert_int_equal(floe_admin_check_tag_value("k", "", &err), FLOE_OK);
    assert_int_equal(floe_admin_check_tag_key("caf\xc3\xa9", &err), FLOE_OK);
    expect_err(floe_admin_check_tag_key("", &err), FLOE_E_INVALID_ARG, &err, "key is empty");
    expect_err(floe_admin_check_tag_key("aws:x", &err), FLOE_E_INVALID_ARG, &err, "aws:");
    expect_err(floe_admin_check_tag_key("a#b", &err), FLOE_E_INVALID_ARG, &err, "'#'");
    expect_err(floe_admin_check_tag_key("a\tb", &err), FLOE_E_INVALID_ARG, &err, "(0x09)");
    expect_err(floe_admin_check_tag_value("k", "v:w", &err), FLOE_E_INVALID_ARG, &err,
               "tag value of 'k' has the character ':'");
    /* invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong '/', a
     * surrogate */
    const char *bad[] = {"a\x80", "a\xc3", "\xc0\xaf", "\xed\xa0\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_err(floe_admin_check_tag_key(bad[i], &err), FLOE_E_INVALID_ARG, &err,
                   "not valid UTF-8");
    /* lengths are characters: 128 two-byte letters are a valid key, 129 are not */
    char *k = repeat("\xc3\xa9", 128);
    assert_int_equal(floe_admin_check_tag_key(k, &err), FLOE_OK);
    free(k);
    k = repeat("\xc3\xa9", 129);
    expect_err(floe_admin_check_tag_key(k, &err), FLOE_E_INVALID_ARG, &err,
               "129 characters; the limit is 128");
    free(k);
    char *v = repeat("v", 255);
    assert_int_equal(floe_admin_check_tag_value("k", v, &err), FLOE_OK);
    free(v);
    v = repeat("v", 256);
    expect_err(floe_admin_check_tag_value("k", v, &err), FLOE_E_INVALID_ARG, &err,
               "256 characters; the limit is 255");
    free(v);
}

static void test_admin_retrieval_policy_rule(void **state)
{
    (void)state;
    struct floe_error err = {0};
    enum floe_retrieval_strategy s;
    for (int i = 0; i < FLOE_RETRIEVAL_STRATEGY_COUNT; i++) {
        assert_int_equal(floe_admin_parse_strategy(floe_admin_strategy_name(i), &s, &err), FLOE_OK);
        assert_int_equal(s, i);
    }
    assert_string_equal(floe_admin_strategy_name(FLOE_RETRIEVAL_BYTES_PER_HOUR), "BytesPerHour");
    assert_string_equal(floe_admin_strategy_name(FLOE_RETRIEVAL_STRATEGY_COUNT), "?");
    s = FLOE_RETRIEVAL_FREE_TIER;
    expect_err(floe_admin_parse_strategy("none", &s, &err), FLOE_E_INVALID_ARG, &err,
               "valid: BytesPerHour, FreeTier, None");
    assert_int_equal(s, FLOE_RETRIEVAL_FREE_TIER); /* untouched on failure */

    struct floe_retrieval_policy p = {FLOE_RETRIEVAL_BYTES_PER_HOUR, INT64_MAX};
    assert_int_equal(floe_admin_check_retrieval_policy(&p, &err), FLOE_OK);
    p.bytes_per_hour = 0;
    expect_err(floe_admin_check_retrieval_policy(&p, &err), FLOE_E_INVALID_ARG, &err,
               "from 1 to 9223372036854775807");
    p.bytes_per_hour = -1;
    expect_err(floe_admin_check_retrieval_policy(&p, &err), FLOE_E_INVALID_ARG, &err, "from 1 to");
    p = (struct floe_retrieval_policy){FLOE_RETRIEVAL_NONE, 5};
    expect_err(floe_admin_check_retrieval_policy(&p, &err), FLOE_E_INVALID_ARG, &err,
               "only allowed with the BytesPerHour strategy, not with None");
    p.bytes_per_hour = 0;
    assert_int_equal(floe_admin_check_retrieval_policy(&p, &err), FLOE_OK);
}

/* Rejected inputs fail with the local message, never a network error: the endpoint is a
 * port nothing listens on. */
static void test_admin_rejects_before_sending(void **state)
{
    (void)state;
    struct floe_client_config cfg = {
        .endpoint_url = "http://127.0.0.1:9",
        .access_key_id = "AKID",
        .secret_access_key = "secret",
        .max_retries = -1,
    };
    struct floe_client *c = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_client_new(&cfg, &c, &err), FLOE_OK);
    struct floe_tag tags[11];
    char keys[11][8];
    for (int i = 0; i < 11; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        tags[i] = (struct floe_tag){keys[i], "v"};
    }
    expect_err(floe_admin_add_tags(c, "v", tags, 11, &err), FLOE_E_INVALID_ARG, &err,
               "11 tags given; Glacier takes at most 10 per call");
    expect_err(floe_admin_add_tags(c, "v", tags, 0, &err), FLOE_E_INVALID_ARG, &err,
               "no tags given");
    tags[1].key = "k0";
    expect_err(floe_admin_add_tags(c, "v", tags, 2, &err), FLOE_E_INVALID_ARG, &err,
               "'k0' is given twice");
    const char *rm[] = {"ok", "aws:no"};
    expect_err(floe_admin_remove_tags(c, "v", rm, 2, &err), FLOE_E_INVALID_ARG, &err, "aws:");
    expect_err(floe_admin_set_access_policy(c, "v", "[", &err), FLOE_E_INVALID_ARG, &err,
               "not valid JSON");
    char id[FLOE_ADMIN_ID_MAX] = "untouched";
    expect_err(floe_admin_initiate_lock(c, "bad/vault", "{}", id, &err), FLOE_E_INVALID_ARG, &err,
               "");
    assert_string_equal(id, "untouched");
    expect_err(floe_admin_complete_lock(c, "v", "", &err), FLOE_E_INVALID_ARG, &err,
               "lock id is empty");
    struct floe_retrieval_policy p = {FLOE_RETRIEVAL_FREE_TIER, 1};
    expect_err(floe_admin_set_retrieval_policy(c, &p, &err), FLOE_E_INVALID_ARG, &err,
               "not with FreeTier");
    /* and a valid call does reach the (absent) network */
    assert_int_equal(floe_admin_list_tags(c, "v", NULL, NULL, &err), FLOE_E_NETWORK);
    floe_client_destroy(c);
    floe_admin_lock_cleanup(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_policy_check),
        cmocka_unit_test(test_admin_tag_rules),
        cmocka_unit_test(test_admin_retrieval_policy_rule),
        cmocka_unit_test(test_admin_rejects_before_sending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
