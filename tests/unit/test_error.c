/*
 * test_error.c - every status has a description, and the setters fill the detail.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_every_status_has_a_name),
        cmocka_unit_test(test_error_setters_fill_detail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
