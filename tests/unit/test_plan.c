/*
 * test_plan.c - plan.c without a service or a catalog: a planned file read back is its bytes
 * only while it is the planned version (a file that changed, shrank or grew since the plan, or
 * cannot be opened, is refused with a status that means "skip it", never read as mixed bytes);
 * and a tree with hard links plans each inode's content once, the later paths in the link list
 * with the first path they share it with.
 */
#include "t_util.h"

#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct floe_plan_item item_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    struct floe_plan_item it = {
        .path = (char *)path,
        .path_len = strlen(path),
        .size = (uint64_t)st.st_size,
        .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
    };
    return it;
}

static void test_plan_read_item_only_the_planned_version(void **state)
{
    (void)state;
    uint8_t data[5000], got[6000];
    t_fill_random(data, sizeof(data));
    char *path = t_write_temp("planned.bin", data, sizeof(data));
    struct floe_error err = {0};
    struct floe_plan_item it = item_of(path);
    assert_int_equal(floe_plan_read_item(&it, got, &err), FLOE_OK);
    assert_memory_equal(got, data, sizeof(data));

    struct floe_plan_item later = it; /* touched since the plan: another mtime */
    later.mtime_ns -= 1000000000;
    assert_int_equal(floe_plan_read_item(&later, got, &err), FLOE_E_SOURCE_CHANGED);
    assert_non_null(strstr(err.message, "changed while it was being backed up"));

    struct floe_plan_item shrank = it; /* the plan saw more bytes than there are */
    shrank.size = sizeof(data) + 100;
    memset(&err, 0, sizeof(err));
    assert_int_equal(floe_plan_read_item(&shrank, got, &err), FLOE_E_SOURCE_CHANGED);
    assert_non_null(strstr(err.message, "shrank"));

    struct floe_plan_item grew = it; /* the file has more bytes than planned */
    grew.size = sizeof(data) - 100;
    memset(&err, 0, sizeof(err));
    assert_int_equal(floe_plan_read_item(&grew, got, &err), FLOE_E_SOURCE_CHANGED);

    unlink(path);
    memset(&err, 0, sizeof(err));
    assert_int_equal(floe_plan_read_item(&it, got, &err), FLOE_E_IO);
    assert_non_null(strstr(err.message, path));
    free(path);
}

static void test_plan_hard_links_planned_once(void **state)
{
    (void)state;
    char root[512], a[600], b[600], c[600], e[600];
    snprintf(root, sizeof(root), "%s/links", t_temp_dir());
    assert_int_equal(mkdir(root, 0755), 0);
    snprintf(a, sizeof(a), "%s/a", root);
    snprintf(b, sizeof(b), "%s/b", root);
    snprintf(c, sizeof(c), "%s/c", root);
    snprintf(e, sizeof(e), "%s/empty", root);
    FILE *f = fopen(a, "wb");
    assert_non_null(f);
    fputs("shared content", f);
    fclose(f);
    assert_int_equal(link(a, b), 0);
    assert_int_equal(link(a, c), 0);
    f = fopen(e, "wb"); /* an empty file with a link: not worth a link record */
    fclose(f);
    char e2[700];
    snprintf(e2, sizeof(e2), "%s2", e);
    assert_int_equal(link(e, e2), 0);

    const char *sources[] = {root};
    struct floe_backup_options o = {.vault = "v", .sources = sources, .nsources = 1};
    struct floe_plan *p = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_plan_build(NULL, false, &o, 1 << 20, &p, &err), FLOE_OK);
    assert_int_equal(p->count[FLOE_PLAN_SMALL], 3); /* a, empty, empty2 */
    assert_int_equal(p->count[FLOE_PLAN_LINK], 2);  /* b, c */
    assert_int_equal(floe_plan_rewind(p, FLOE_PLAN_LINK, &err), FLOE_OK);
    const char *want[] = {b, c};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(floe_plan_next(p, FLOE_PLAN_LINK, &err), 1);
        assert_string_equal(p->cur.path, want[i]);
        assert_string_equal(floe_plan_link_first(p, p->cur.device, p->cur.inode), a);
    }
    assert_int_equal(floe_plan_next(p, FLOE_PLAN_LINK, &err), 0);
    assert_null(floe_plan_link_first(p, 1, 1));
    floe_plan_free(p);
    unlink(a);
    unlink(b);
    unlink(c);
    unlink(e);
    unlink(e2);
    rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_read_item_only_the_planned_version),
        cmocka_unit_test(test_plan_hard_links_planned_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
