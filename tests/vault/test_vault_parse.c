/*
 * test_vault_parse.c - floe-vault's pure parsing and policy pieces: ISO dates, percent-decoding,
 * decimal and base64url parsing, descriptions, the routing table (33 operations, method and
 * ?operation= dispatch), error bodies, lock-policy evaluation, inventory markers and repeated
 * request headers joined as SigV4 signs them.
 */
#include "errors.h"
#include "jobs.h"
#include "policy.h"
#include "router.h"
#include "vreq.h"
#include "vutil.h"
#include "t_util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void test_vutil_iso_roundtrip(void **state)
{
    int64_t ms = 0;
    char out[FLOE_VTIME_ISO_MAX];
    assert_int_equal(floe_vutil_parse_iso("2012-03-20T17:03:43.221Z", &ms), 0);
    floe_vutil_iso(ms, true, out);
    assert_string_equal(out, "2012-03-20T17:03:43.221Z");
    floe_vutil_iso(ms, false, out);
    assert_string_equal(out, "2012-03-20T17:03:43Z");
    assert_int_equal(floe_vutil_parse_iso("2013-03-20T17:03:43Z", &ms), 0);
    assert_int_equal(floe_vutil_parse_iso("2024-02-29T00:00:00+00:00", &ms), 0);
}

static void test_vutil_iso_rejects_bad_dates(void **state)
{
    static const char *bad[] = {"",
                                "yesterday",
                                "2013-02-30T00:00:00Z",
                                "2023-02-29T00:00:00Z",
                                "2013-13-01T00:00:00Z",
                                "2013-01-01T24:00:00Z",
                                "2013-01-01 00:00:00Z",
                                "2013-01-01T00:00:00",
                                "2013-01-01T00:00:00.Z",
                                "1969-12-31T23:59:59Z",
                                "2013-01-01T00:00:00Zjunk"};
    int64_t ms = 42;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(floe_vutil_parse_iso(bad[i], &ms), -1);
        assert_int_equal(ms, 42); /* out-param untouched on failure */
    }
}

static void test_vutil_pct_decode(void **state)
{
    char out[64];
    assert_int_equal(floe_vutil_pct_decode("a%20b", 5, out, sizeof(out), true), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(floe_vutil_pct_decode("a%2Fb", 5, out, sizeof(out), true), -1);
    assert_int_equal(floe_vutil_pct_decode("a%2Fb", 5, out, sizeof(out), false), 3);
    assert_int_equal(floe_vutil_pct_decode("a%00b", 5, out, sizeof(out), false), -1);
    assert_int_equal(floe_vutil_pct_decode("a%2", 3, out, sizeof(out), false), -1);
    assert_int_equal(floe_vutil_pct_decode("%zz", 3, out, sizeof(out), false), -1);
}

static void test_vutil_numbers_and_descriptions(void **state)
{
    uint64_t v = 7;
    assert_int_equal(floe_vutil_parse_u64("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(floe_vutil_parse_u64("18446744073709551616", &v), -1);
    assert_int_equal(floe_vutil_parse_u64("-1", &v), -1);
    assert_int_equal(floe_vutil_parse_u64(" 1", &v), -1);
    assert_int_equal(floe_vutil_parse_u64("", &v), -1);
    char d[1100];
    memset(d, 'x', sizeof(d));
    d[1024] = '\0';
    assert_true(floe_vutil_desc_valid(d));
    d[1024] = 'x';
    d[1025] = '\0';
    assert_false(floe_vutil_desc_valid(d));
    assert_false(floe_vutil_desc_valid("caf\xc3\xa9"));
    assert_false(floe_vutil_desc_valid("a\nb"));
}

static void test_vutil_ids_and_b64(void **state)
{
    char id[FLOE_VID_MAX], enc[64];
    uint8_t dec[64];
    floe_vutil_id(id, FLOE_VID_ARCHIVE_LEN, false);
    assert_int_equal(strlen(id), 138);
    assert_int_equal(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     138);
    floe_vutil_id(id, FLOE_VID_LOCK_LEN, true);
    assert_int_equal(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
                     24);
    for (size_t n = 0; n < 20; n++) {
        uint8_t src[20];
        t_fill_random(src, n);
        size_t e = floe_vutil_b64url_encode(src, n, enc);
        assert_int_equal(floe_vutil_b64url_decode(enc, e, dec), (long)n);
        assert_memory_equal(src, dec, n);
    }
    assert_int_equal(floe_vutil_b64url_decode("a+b", 3, dec), -1);
}

static void test_router_has_33_operations(void **state)
{
    assert_int_equal(floe_vroute_count(), 33);
    for (size_t i = 0; i < floe_vroute_count(); i++) {
        const struct floe_vroute *r = floe_vroute_at(i);
        assert_true((r->run != NULL) != (r->begin != NULL));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(r->name, floe_vroute_at(j)->name);
    }
}

static const char *route(const char *method, const char *path, const char *op, int *result)
{
    static struct floe_vreq rq;
    static char buf[256];
    static struct floe_vparam param;
    memset(&rq, 0, sizeof(rq));
    snprintf(buf, sizeof(buf), "%s", path);
    rq.method = method;
    char *save = NULL;
    for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save))
        rq.seg[rq.nseg++] = p;
    if (op) {
        param.name = "operation";
        param.value = (char *)op;
        rq.params = &param;
        rq.nparams = 1;
    }
    const struct floe_vroute *r = NULL;
    *result = floe_vroute_find(&rq, &r);
    return r ? r->name : NULL;
}

static void test_router_dispatch(void **state)
{
    int res;
    assert_string_equal(route("GET", "-/vaults", NULL, &res), "ListVaults");
    assert_string_equal(route("PUT", "-/vaults/v/multipart-uploads/u", NULL, &res),
                        "UploadMultipartPart");
    assert_string_equal(route("POST", "-/vaults/v/multipart-uploads/u", NULL, &res),
                        "CompleteMultipartUpload");
    assert_string_equal(route("DELETE", "-/vaults/v/multipart-uploads/u", NULL, &res),
                        "AbortMultipartUpload");
    assert_string_equal(route("GET", "-/vaults/v/multipart-uploads/u", NULL, &res), "ListParts");
    assert_string_equal(route("GET", "-/vaults/v/jobs/j/output", NULL, &res), "GetJobOutput");
    assert_string_equal(route("POST", "-/vaults/v/tags", "add", &res), "AddTagsToVault");
    assert_string_equal(route("POST", "-/vaults/v/tags", "remove", &res), "RemoveTagsFromVault");
    assert_null(route("POST", "-/vaults/v/tags", "other", &res));
    assert_int_equal(res, FLOE_VROUTE_NO_METHOD);
    assert_null(route("GET", "-/vaults/v/jobs/j/output/x", NULL, &res));
    assert_int_equal(res, FLOE_VROUTE_NO_PATH);
    assert_string_equal(route("GET", "-/provisioned-capacity", NULL, &res),
                        "ListProvisionedCapacity");
}

static void test_vreq_repeated_headers_joined(void **state)
{
    struct floe_sigv4_header hs[] = {
        {"x-amz-archive-description", " a  b "}, {"Host", "h"},
        {"X-Amz-Archive-Description", ""},       {"x-amz-archive-description", "\tc"},
        {"x-amz-part-size", "1048576"},
    };
    struct floe_vreq *rq = calloc(1, sizeof(*rq));
    assert_non_null(rq);
    rq->headers = malloc(sizeof(hs));
    memcpy(rq->headers, hs, sizeof(hs));
    rq->nheaders = sizeof(hs) / sizeof(hs[0]);
    assert_string_equal(floe_vreq_header(rq, "X-AMZ-ARCHIVE-DESCRIPTION"), " a  b ");
    floe_vreq_index_headers(rq);
    assert_int_equal(rq->nfields, 3);
    assert_string_equal(floe_vreq_header(rq, "X-AMZ-ARCHIVE-DESCRIPTION"), "a b,,c");
    assert_int_equal(floe_vreq_header_count(rq, "x-amz-archive-description"), 3);
    assert_string_equal(floe_vreq_header(rq, "host"), "h");
    assert_int_equal(floe_vreq_header_count(rq, "host"), 1);
    assert_string_equal(floe_vreq_header(rq, "x-amz-part-size"), "1048576");
    assert_null(floe_vreq_header(rq, "x-amz-date"));
    assert_int_equal(floe_vreq_header_count(rq, "x-amz-date"), 0);
    floe_vreq_free(rq);
}

static void test_error_json_shape(void **state)
{
    size_t len;
    char *s = floe_verr_json("ResourceNotFoundException", "Vault \"x\" not found", 404, &len);
    json_t *o = json_loads(s, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "ResourceNotFoundException");
    assert_string_equal(json_string_value(json_object_get(o, "message")), "Vault \"x\" not found");
    assert_string_equal(json_string_value(json_object_get(o, "type")), "Client");
    assert_int_equal(json_object_size(o), 3);
    json_decref(o);
    free(s);
    assert_int_equal(floe_verr_status(FLOE_VERR_NOT_FOUND), 404);
    assert_int_equal(floe_verr_status(FLOE_VERR_SERVICE_UNAVAILABLE), 500);
}

static void test_policy_archive_age(void **state)
{
    const char *pol = "{\"Statement\":[{\"Sid\":\"keep\",\"Effect\":\"Deny\",\"Action\":["
                      "\"glacier:DeleteArchive\"],\"Condition\":{\"NumericLessThan\":{"
                      "\"glacier:ArchiveAgeInDays\":\"365\"}}}]}";
    char why[256];
    int64_t day = 86400000, now = 1000 * day;
    assert_true(
        floe_vpolicy_denies(pol, "glacier:DeleteArchive", now - 10 * day, now, why, sizeof(why)));
    assert_non_null(strstr(why, "keep"));
    assert_false(
        floe_vpolicy_denies(pol, "glacier:DeleteArchive", now - 400 * day, now, why, sizeof(why)));
    assert_false(floe_vpolicy_denies(pol, "glacier:DeleteVault", -1, now, why, sizeof(why)));
    assert_true(floe_vpolicy_denies("{\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"*\"}}",
                                    "glacier:DeleteVault", -1, now, why, sizeof(why)));
    assert_false(floe_vpolicy_denies("{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\"}}",
                                     "glacier:DeleteVault", -1, now, why, sizeof(why)));
    /* IAM wildcards and NotAction */
    const char *wild = "{\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"glacier:delete*\"}}";
    assert_true(floe_vpolicy_denies(wild, "glacier:DeleteArchive", now, now, why, sizeof(why)));
    assert_true(floe_vpolicy_denies(wild, "glacier:DeleteVault", -1, now, why, sizeof(why)));
    assert_false(floe_vpolicy_denies(wild, "glacier:UploadArchive", -1, now, why, sizeof(why)));
    const char *q = "{\"Statement\":{\"Effect\":\"Deny\",\"Action\":[\"glacier:Delete?ault\"]}}";
    assert_true(floe_vpolicy_denies(q, "glacier:DeleteVault", -1, now, why, sizeof(why)));
    assert_false(floe_vpolicy_denies(q, "glacier:DeleteArchive", now, now, why, sizeof(why)));
    const char *notact = "{\"Statement\":{\"Effect\":\"Deny\",\"NotAction\":[\"glacier:Upload*\","
                         "\"glacier:Get*\"]}}";
    assert_true(floe_vpolicy_denies(notact, "glacier:DeleteArchive", now, now, why, sizeof(why)));
    assert_false(floe_vpolicy_denies(notact, "glacier:UploadArchive", -1, now, why, sizeof(why)));
    assert_false(floe_vpolicy_denies("{\"Statement\":{\"Effect\":\"Deny\"}}",
                                     "glacier:DeleteArchive", now, now, why, sizeof(why)));
    assert_true(floe_vpolicy_valid("{\"Statement\":[]}", why, sizeof(why)));
    assert_false(floe_vpolicy_valid("{\"Statement\":", why, sizeof(why)));
    assert_false(floe_vpolicy_valid("[]", why, sizeof(why)));
}

static void test_inventory_marker_roundtrip(void **state)
{
    char m[400], id[FLOE_VID_MAX];
    int64_t ms = 0;
    floe_vjobs_marker_encode(1700000000123, "abc-DEF_1", m, sizeof(m));
    assert_int_equal(floe_vjobs_marker_decode(m, &ms, id, sizeof(id)), 0);
    assert_true(ms == 1700000000123);
    assert_string_equal(id, "abc-DEF_1");
    assert_int_equal(floe_vjobs_marker_decode("!!", &ms, id, sizeof(id)), -1);
    assert_int_equal(floe_vjobs_marker_decode("", &ms, id, sizeof(id)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vutil_iso_roundtrip),
        cmocka_unit_test(test_vutil_iso_rejects_bad_dates),
        cmocka_unit_test(test_vutil_pct_decode),
        cmocka_unit_test(test_vutil_numbers_and_descriptions),
        cmocka_unit_test(test_vutil_ids_and_b64),
        cmocka_unit_test(test_router_has_33_operations),
        cmocka_unit_test(test_router_dispatch),
        cmocka_unit_test(test_vreq_repeated_headers_joined),
        cmocka_unit_test(test_error_json_shape),
        cmocka_unit_test(test_policy_archive_age),
        cmocka_unit_test(test_inventory_marker_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
