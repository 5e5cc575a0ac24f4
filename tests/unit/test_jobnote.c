/*
 * test_jobnote.c - floe_job_from_notification(): a Glacier job notification as an SQS queue
 * receives it from SNS (the envelope whose Message is the job JSON as text) or raw (the job
 * JSON itself) gives the job; every other body is refused with a message that says what is
 * wrong, and nothing is written to the output.
 */
#include "t_util.h"

#include "floe/jobs.h"

#include <string.h>

#define JOB                                                                                        \
    "{\"JobId\":\"j-1\",\"Action\":\"ArchiveRetrieval\",\"ArchiveId\":\"a-9\","                    \
    "\"StatusCode\":\"Succeeded\",\"StatusMessage\":\"Succeeded\",\"Completed\":true,"             \
    "\"CompletionDate\":\"2026-12-04T22:00:00.000Z\",\"ArchiveSizeInBytes\":5,"                    \
    "\"SHA256TreeHash\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\","     \
    "\"RetrievalByteRange\":\"0-4\",\"Tier\":\"Bulk\"}"

static int parse(const char *body, struct floe_job_info *out, struct floe_error *err)
{
    memset(err, 0, sizeof(*err));
    return floe_job_from_notification(body, strlen(body), out, err);
}

static void check_job(const struct floe_job_info *j)
{
    assert_string_equal(j->job_id, "j-1");
    assert_string_equal(j->action, "ArchiveRetrieval");
    assert_string_equal(j->archive_id, "a-9");
    assert_string_equal(j->status_code, "Succeeded");
    assert_string_equal(j->completion_date, "2026-12-04T22:00:00.000Z");
    assert_true(j->completed);
    assert_int_equal(j->archive_size_bytes, 5);
    assert_true(j->has_tree_hash);
    assert_int_equal(j->tree_hash[0], 0x2c);
    assert_true(j->has_range);
    assert_int_equal(j->range.last, 4);
}

static void test_envelope_and_raw(void **state)
{
    (void)state;
    struct floe_job_info j;
    struct floe_error err;
    /* the envelope as SNS delivers it to SQS: Message is a string holding the job JSON */
    const char *env = "{\"Type\":\"Notification\",\"MessageId\":\"m\",\"TopicArn\":\"arn:aws:"
                      "sns:us-east-1:123456789012:t\",\"Subject\":\"Notification From AWS "
                      "Glacier\",\"Message\":\"{\\\"JobId\\\":\\\"j-1\\\",\\\"Action\\\":"
                      "\\\"ArchiveRetrieval\\\",\\\"ArchiveId\\\":\\\"a-9\\\",\\\"StatusCode\\\":"
                      "\\\"Succeeded\\\",\\\"StatusMessage\\\":\\\"Succeeded\\\",\\\"Completed\\\""
                      ":true,\\\"CompletionDate\\\":\\\"2026-12-04T22:00:00.000Z\\\",\\\""
                      "ArchiveSizeInBytes\\\":5,\\\"SHA256TreeHash\\\":\\\"2cf24dba5fb0a30e26e83b"
                      "2ac5b9e29e1b161e5c1fa7425e73043362938b9824\\\",\\\"RetrievalByteRange\\\":"
                      "\\\"0-4\\\",\\\"Tier\\\":\\\"Bulk\\\"}\",\"Timestamp\":\"2026-12-04T22:00:"
                      "00.001Z\",\"SignatureVersion\":\"1\"}";
    memset(&j, 0, sizeof(j));
    assert_int_equal(parse(env, &j, &err), FLOE_OK);
    check_job(&j);
    /* raw message delivery: the job itself */
    memset(&j, 0, sizeof(j));
    assert_int_equal(parse(JOB, &j, &err), FLOE_OK);
    check_job(&j);
    /* a failed job is a notification too */
    const char *failed = "{\"JobId\":\"j-2\",\"StatusCode\":\"Failed\",\"StatusMessage\":\"gone\"}";
    assert_int_equal(parse(failed, &j, &err), FLOE_OK);
    assert_string_equal(j.status_code, "Failed");
    assert_string_equal(j.status_message, "gone");
}

static void test_bad_messages(void **state)
{
    (void)state;
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"", "not a JSON object"},
        {"not json", "not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {"\"a string\"", "not a JSON object"},
        {"{\"JobId\":\"x\",\"JobId\":\"y\",\"StatusCode\":\"Failed\"}", "not a JSON object"},
        {"{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"confirm\"}",
         "Type SubscriptionConfirmation, not a Notification"},
        {"{\"Message\":\"{}\"}", "Type (none), not a Notification"},
        {"{\"Type\":\"Notification\"}", "no Message string"},
        {"{\"Type\":\"Notification\",\"Message\":{\"JobId\":\"x\"}}", "no Message string"},
        {"{\"Type\":\"Notification\",\"Message\":\"hello\"}", "Message is not a JSON object"},
        {"{\"Type\":\"Notification\",\"Message\":\"[]\"}", "Message is not a JSON object"},
        {"{\"Type\":\"Notification\",\"Message\":\"{\\\"StatusCode\\\":\\\"Failed\\\"}\"}",
         "no JobId"},
        {"{\"JobId\":\"\",\"StatusCode\":\"Failed\"}", "no JobId"},
        {"{\"JobId\":7,\"StatusCode\":\"Failed\"}", "no JobId"},
        {"{\"JobId\":\"x\"}", "StatusCode (none) is not"},
        {"{\"JobId\":\"x\",\"StatusCode\":\"Done\"}", "StatusCode Done is not"},
        {"{\"JobId\":\"x\",\"StatusCode\":1}", "StatusCode (none) is not"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct floe_job_info j;
        memset(&j, 0x5a, sizeof(j));
        struct floe_error err;
        assert_int_equal(parse(bad[i].body, &j, &err), FLOE_E_INVALID_ARG);
        if (!strstr(err.message, bad[i].says))
            fail_msg("body %zu (%s): message '%s' does not say '%s'", i, bad[i].body, err.message,
                     bad[i].says);
        assert_int_equal((unsigned char)j.job_id[0], 0x5a); /* untouched */
    }
    /* a job id longer than Glacier's 1,024 bytes */
    char big[1200 + 64];
    memset(big, 0, sizeof(big));
    snprintf(big, sizeof(big), "%s", "{\"StatusCode\":\"Failed\",\"JobId\":\"");
    size_t n = strlen(big);
    memset(big + n, 'a', 1100);
    memcpy(big + n + 1100, "\"}", 3);
    struct floe_job_info j;
    struct floe_error err;
    assert_int_equal(parse(big, &j, &err), FLOE_E_INVALID_ARG);
    /* bytes after a NUL are not read past len; a NULL body is an empty one */
    assert_int_equal(floe_job_from_notification(NULL, 0, &j, &err), FLOE_E_INVALID_ARG);
    assert_int_equal(floe_job_from_notification(JOB, 10, &j, &err), FLOE_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_and_raw),
        cmocka_unit_test(test_bad_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
