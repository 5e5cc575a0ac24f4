/*
 * test_dirsync.c - floe_dir_sync_parent() syncs the directory holding a path (a nested path,
 * a bare name, a name under the root) and reports a directory it cannot open with FLOE_E_IO,
 * its errno and its name; err may be NULL.
 */
#include "t_util.h"

#include "dirsync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_dirsync_existing_directories(void **state)
{
    (void)state;
    struct floe_error e = {0};
    char *file = t_write_temp("entry", "x", 1);
    assert_int_equal(floe_dir_sync_parent(file, &e), FLOE_OK);
    assert_int_equal(floe_dir_sync_parent("bare-name", &e), FLOE_OK); /* "." */
    assert_int_equal(floe_dir_sync_parent("/etc", &e), FLOE_OK);      /* "/" */
    assert_int_equal(e.status, FLOE_OK);
    free(file);
}

static void test_dirsync_missing_directory_is_an_io_error(void **state)
{
    (void)state;
    char path[PATH_MAX + 16], dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/no-such-dir", t_temp_dir());
    snprintf(path, sizeof(path), "%s/file", dir);
    struct floe_error e = {0};
    assert_int_equal(floe_dir_sync_parent(path, &e), FLOE_E_IO);
    assert_int_equal(e.sys_errno, ENOENT);
    assert_non_null(strstr(e.message, "cannot sync directory"));
    assert_non_null(strstr(e.message, dir));
    assert_int_equal(floe_dir_sync_parent(path, NULL), FLOE_E_IO);
}

static void test_dirsync_parent_that_is_a_file(void **state)
{
    (void)state;
    char *file = t_write_temp("plain", "y", 1);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/child", file);
    struct floe_error e = {0};
    assert_int_equal(floe_dir_sync_parent(path, &e), FLOE_E_IO);
    assert_int_equal(e.sys_errno, ENOTDIR);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dirsync_existing_directories),
        cmocka_unit_test(test_dirsync_missing_directory_is_an_io_error),
        cmocka_unit_test(test_dirsync_parent_that_is_a_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
