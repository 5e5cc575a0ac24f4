/*
 * test_error.c - every status has a description, the setters fill the detail, and
 * floe_error_append() extends a message without overrunning it or splitting a UTF-8 character.
 */
#include "t_util.h"

#include "floe/error.h"

#include <errno.h>
#include <string.h>

static void test_error_every_status_has_a_name(void **state)
{
    (void)state;
    static const int all[] = {
        FLOE_OK,          FLOE_E_INVALID_ARG, FLOE_E_RANGE,   FLOE_E_UNSUPPORTED,
        FLOE_E_CANCELLED, FLOE_E_NOMEM,       FLOE_E_IO,      FLOE_E_NOT_FOUND,
        FLOE_E_NETWORK,   FLOE_E_TIMEOUT,     FLOE_E_SERVICE, FLOE_E_AUTH,
        FLOE_E_THROTTLED, FLOE_E_CHECKSUM,    FLOE_E_CORRUPT, FLOE_E_SOURCE_CHANGED,
        FLOE_E_CHECKPOINT};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *s = floe_strerror(all[i]);
        assert_non_null(s);
        assert_string_not_equal(s, "unknown status");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, floe_strerror(all[j]));
    }
    assert_string_equal(floe_strerror(12345), "unknown status");
}

static void test_error_setters_fill_detail(void **state)
{
    (void)state;
    struct floe_error e = {0};
    assert_int_equal(floe_error_set(&e, FLOE_E_RANGE, "part %d bad", 3), FLOE_E_RANGE);
    assert_int_equal(e.status, FLOE_E_RANGE);
    assert_string_equal(e.message, "part 3 bad");
    assert_int_equal(floe_error_set_errno(&e, FLOE_E_IO, ENOENT, "/x/y", "cannot open %s", "/x/y"),
                     FLOE_E_IO);
    assert_int_equal(e.sys_errno, ENOENT);
    assert_string_equal(e.path, "/x/y");
    assert_string_equal(e.message, "cannot open /x/y: No such file or directory");
    assert_int_equal(floe_error_set(NULL, FLOE_E_IO, "ignored"), FLOE_E_IO);
}

/* Fills e.message with len bytes of 'a' (len < FLOE_ERROR_MSG_MAX). */
static void fill(struct floe_error *e, size_t len)
{
    memset(e->message, 'a', len);
    e->message[len] = 0;
}

static void test_error_append_extends_and_keeps_the_rest(void **state)
{
    (void)state;
    struct floe_error e = {0};
    floe_error_set(&e, FLOE_E_NOT_FOUND, "no such job");
    snprintf(e.code, sizeof(e.code), "ResourceNotFoundException");
    e.http_status = 404;
    floe_error_append(&e, " (%s %d)", "part", 7);
    assert_string_equal(e.message, "no such job (part 7)");
    assert_int_equal(e.status, FLOE_E_NOT_FOUND);
    assert_int_equal(e.http_status, 404);
    assert_string_equal(e.code, "ResourceNotFoundException");
    floe_error_append(&e, "%s", "");
    assert_string_equal(e.message, "no such job (part 7)");
    floe_error_append(NULL, "ignored %d", 1); /* no crash */
}

static void test_error_append_to_an_empty_message(void **state)
{
    (void)state;
    struct floe_error e = {0};
    floe_error_append(&e, "first %s", "words");
    assert_string_equal(e.message, "first words");
    assert_int_equal(e.status, FLOE_OK);
}

static void test_error_append_truncates_at_the_buffer_end(void **state)
{
    (void)state;
    struct floe_error e = {0};
    char want[FLOE_ERROR_MSG_MAX];
    fill(&e, FLOE_ERROR_MSG_MAX - 4);
    floe_error_append(&e, "%s", "0123456789");
    memset(want, 'a', FLOE_ERROR_MSG_MAX - 4);
    memcpy(want + FLOE_ERROR_MSG_MAX - 4, "012", 4);
    assert_int_equal(strlen(e.message), FLOE_ERROR_MSG_MAX - 1);
    assert_string_equal(e.message, want);
    /* full: nothing more goes in, the message stays as it is */
    floe_error_append(&e, "more");
    assert_string_equal(e.message, want);
    /* a message that is not NUL-terminated gets its last byte made the terminator */
    memset(e.message, 'b', sizeof(e.message));
    floe_error_append(&e, "x");
    assert_int_equal(strlen(e.message), FLOE_ERROR_MSG_MAX - 1);
    assert_int_equal(e.message[0], 'b');
}

static void test_error_append_does_not_split_utf8(void **state)
{
    (void)state;
    /* "é" is 2 bytes, "€" 3, U+1F600 4: with room for 1, 2 or 3 more bytes, a character that
     * does not fit whole is dropped, one that fits is kept */
    static const struct {
        const char *text;
        size_t room; /* bytes left before the terminator */
        const char *kept;
    } cases[] = {
        {"x\xc3\xa9", 1, "x"},
        {"x\xc3\xa9", 2, "x"},
        {"x\xc3\xa9", 3, "x\xc3\xa9"},
        {"\xe2\x82\xac", 2, ""},
        {"\xe2\x82\xac!", 3, "\xe2\x82\xac"},
        {"ab\xf0\x9f\x98\x80", 5, "ab"},
        {"ab\xf0\x9f\x98\x80", 6, "ab\xf0\x9f\x98\x80"},
        {"\xc3\xa9\xc3\xa9", 3, "\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct floe_error e = {0};
        size_t before = FLOE_ERROR_MSG_MAX - 1 - cases[i].room;
        fill(&e, before);
        floe_error_append(&e, "%s", cases[i].text);
        assert_int_equal(strlen(e.message), before + strlen(cases[i].kept));
        assert_memory_equal(e.message + before, cases[i].kept, strlen(cases[i].kept) + 1);
    }
    /* the message so far is never shortened, even when it ends in a broken sequence */
    struct floe_error e = {0};
    fill(&e, FLOE_ERROR_MSG_MAX - 3);
    e.message[FLOE_ERROR_MSG_MAX - 4] = (char)0xe2;
    floe_error_append(&e, "\x82\xac\xac");
    assert_int_equal(strlen(e.message), FLOE_ERROR_MSG_MAX - 1);
}

static void test_error_set_errno_appends_once(void **state)
{
    (void)state;
    struct floe_error e = {0};
    floe_error_set_errno(&e, FLOE_E_IO, 0, NULL, "no errno");
    assert_string_equal(e.message, "no errno");
    assert_string_equal(e.path, "");
    char longname[FLOE_ERROR_MSG_MAX + 8];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    floe_error_set_errno(&e, FLOE_E_IO, ENOENT, NULL, "%s", longname);
    assert_int_equal(strlen(e.message), FLOE_ERROR_MSG_MAX - 1);
    assert_null(strchr(e.message, ':'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_every_status_has_a_name),
        cmocka_unit_test(test_error_setters_fill_detail),
        cmocka_unit_test(test_error_append_extends_and_keeps_the_rest),
        cmocka_unit_test(test_error_append_to_an_empty_message),
        cmocka_unit_test(test_error_append_truncates_at_the_buffer_end),
        cmocka_unit_test(test_error_append_does_not_split_utf8),
        cmocka_unit_test(test_error_set_errno_appends_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
