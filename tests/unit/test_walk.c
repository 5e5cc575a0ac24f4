/*
 * test_walk.c - walk.c over a temporary tree with every kind of entry (nested and empty
 * directories, a 0-byte file, names with spaces, a newline and invalid UTF-8, a FIFO, symlinks
 * to a file and a directory, a symlink loop, hard links, a directory and a file with mode 000):
 * the exact order of the callbacks and the stats, without and with follow, with filters, as
 * root and as an unprivileged user (nobody, in a child process) where mode 000 means
 * unreadable; a file as the source; a callback stopping the walk; sources that fail;
 * one_file_system where /dev/shm is another file system than /dev; a tree deeper than PATH_MAX,
 * and deeper than the descriptor limit.
 */
#include "t_util.h"

#include "walk.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char s_root[256]; /* the tree: <tmp>/tree, readable by everyone */
static char s_top[64];   /* its parent, a mkdtemp directory made 0755 */

struct log {
    char text[8192]; /* one line per callback */
    size_t len;
    int stop_after; /* on_file returns 7 after this many files (0: never) */
    int files;
};

static const char *rel(const char *path)
{
    size_t n = strlen(s_root);
    return strncmp(path, s_root, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

static void emit(struct log *lg, const char *fmt, const char *a, const char *b)
{
    lg->len += (size_t)snprintf(lg->text + lg->len, sizeof(lg->text) - lg->len, fmt, a, b);
}

static int on_file(void *user, const struct floe_walk_file *f)
{
    struct log *lg = user;
    char extra[64];
    snprintf(extra, sizeof(extra), "%llu%s", (unsigned long long)f->size,
             f->nlink > 1 ? " nlink2" : "");
    emit(lg, "F %s %s\n", f->relpath, extra);
    /* the path is the source + "/" + relpath, and dirfd + name reach the file */
    size_t pl = strlen(f->path), rl = strlen(f->relpath);
    assert_true(pl >= rl && strcmp(f->path + pl - rl, f->relpath) == 0);
    assert_true(pl == rl || f->path[pl - rl - 1] == '/');
    struct stat st;
    assert_int_equal(fstatat(f->dirfd, f->name, &st, 0), 0);
    assert_int_equal((uint64_t)st.st_ino, f->inode);
    assert_int_equal((uint64_t)st.st_size, f->size);
    return ++lg->files == lg->stop_after ? 7 : 0;
}

static int on_skip(void *user, const struct floe_walk_skipped *s)
{
    static const char *why[] = {"special", "symlink", "unreadable", "loop"};
    char extra[64];
    snprintf(extra, sizeof(extra), "%s%s%s", why[s->why], s->is_dir ? " dir" : "",
             s->sys_errno == EACCES   ? " EACCES"
             : s->sys_errno == ENOENT ? " ENOENT"
             : s->sys_errno           ? " errno"
                                      : "");
    emit(user, "S %s %s\n", rel(s->path), extra);
    return 0;
}

static void put(const char *relpath, const char *content)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", s_root, relpath);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void mk(const char *relpath, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", s_root, relpath);
    assert_int_equal(mkdir(p, mode), 0);
}

static void ln(const char *target, const char *relpath)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", s_root, relpath);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(s_top, sizeof(s_top), "/tmp/floe-walk-XXXXXX");
    assert_non_null(mkdtemp(s_top));
    chmod(s_top, 0755);
    snprintf(s_root, sizeof(s_root), "%s/tree", s_top);
    assert_int_equal(mkdir(s_root, 0755), 0);
    put("a.txt", "hello");
    put("b c.txt", "spaces");
    put("d\nnl", "newline");
    put("e\xff\xfe", "bad utf8");
    mk("empty", 0755);
    char p[512], q[512];
    snprintf(p, sizeof(p), "%s/fifo", s_root);
    assert_int_equal(mkfifo(p, 0644), 0);
    put("h1", "hard");
    mk("sub", 0755);
    mk("sub/deep", 0755);
    put("sub/deep/x.bin", "xyz");
    snprintf(p, sizeof(p), "%s/h1", s_root);
    snprintf(q, sizeof(q), "%s/sub/h2", s_root);
    assert_int_equal(link(p, q), 0);
    ln("sub", "link_dir");
    ln("a.txt", "link_file");
    ln("nowhere", "zdangling");
    mk("locked", 0755);
    put("locked/secret", "s");
    snprintf(p, sizeof(p), "%s/locked", s_root);
    chmod(p, 0);
    mk("loop", 0755);
    ln("..", "loop/up");
    put("noread", "n");
    snprintf(p, sizeof(p), "%s/noread", s_root);
    chmod(p, 0);
    put("zero", "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' && rm -rf '%s'", s_top, s_top);
    return system(cmd) == 0 ? 0 : -1;
}

static int walk(const char *source, const struct floe_walk_options *base, struct log *lg,
                struct floe_walk_stats *st, struct floe_error *err)
{
    struct floe_walk_options o = *base;
    o.on_file = on_file;
    o.on_skip = on_skip;
    o.user = lg;
    return floe_walk(source, &o, st, err);
}

static bool privileged(void)
{
    return geteuid() == 0;
}

/* Expected lines for the tree: locked and noread differ by privilege, follow by links. */
static void expected(char *out, size_t cap, bool follow, bool priv)
{
    snprintf(out, cap,
             "F a.txt 5\n"
             "F b c.txt 6\n"
             "F d\nnl 7\n"
             "F e\xff\xfe 8\n"
             "S fifo special\n"
             "F h1 4 nlink2\n"
             "%s"
             "%s"
             "%s"
             "%s"
             "%s"
             "F sub/deep/x.bin 3\n"
             "F sub/h2 4 nlink2\n"
             "%s"
             "F zero 0\n",
             follow ? "F link_dir/deep/x.bin 3\nF link_dir/h2 4 nlink2\n" : "S link_dir symlink\n",
             follow ? "F link_file 5\n" : "S link_file symlink\n",
             priv ? "F locked/secret 1\n" : "S locked unreadable dir EACCES\n",
             follow ? "S loop/up loop dir\n" : "S loop/up symlink\n",
             priv ? "F noread 1\n" : "S noread unreadable EACCES\n",
             follow ? "S zdangling unreadable ENOENT\n" : "S zdangling symlink\n");
}

/* Walks the tree both ways and compares; returns the number of mismatches (for the child). */
static int check_tree(bool priv)
{
    int bad = 0;
    for (int follow = 0; follow <= 1; follow++) {
        struct floe_walk_options o = {.follow = follow};
        struct log lg = {0};
        struct floe_walk_stats st;
        struct floe_error err = {0};
        int rc = walk(s_root, &o, &lg, &st, &err);
        char want[4096];
        expected(want, sizeof(want), follow, priv);
        if (rc != FLOE_OK || strcmp(lg.text, want) != 0) {
            fprintf(stderr, "follow=%d priv=%d rc=%d\n--- got\n%s--- want\n%s", follow, priv, rc,
                    lg.text, want);
            bad++;
        }
        /* files, dirs (root, empty, sub, sub/deep, loop, locked if readable, link_dir twice) */
        uint64_t files = 8 + (priv ? 2 : 0) + (follow ? 3 : 0);
        uint64_t dirs = 5 + (priv ? 1 : 0) + (follow ? 2 : 0);
        uint64_t bytes = 5 + 6 + 7 + 8 + 4 + 3 + 4 + (priv ? 2 : 0) + (follow ? 3 + 4 + 5 : 0);
        uint64_t symlinks = follow ? 0 : 4;
        uint64_t unreadable = (priv ? 0 : 2) + (follow ? 1 : 0);
        if (st.files != files || st.dirs != dirs || st.bytes != bytes || st.excluded != 0 ||
            st.specials != 1 || st.symlinks != symlinks || st.unreadable != unreadable) {
            fprintf(stderr,
                    "follow=%d priv=%d stats files %llu dirs %llu bytes %llu excluded %llu "
                    "specials %llu symlinks %llu unreadable %llu\n",
                    follow, priv, (unsigned long long)st.files, (unsigned long long)st.dirs,
                    (unsigned long long)st.bytes, (unsigned long long)st.excluded,
                    (unsigned long long)st.specials, (unsigned long long)st.symlinks,
                    (unsigned long long)st.unreadable);
            bad++;
        }
    }
    return bad;
}

static void test_walk_tree(void **state)
{
    (void)state;
    assert_int_equal(check_tree(privileged()), 0);
}

/* Mode 000 as an unprivileged user: as root the check needs another user (nobody). */
static void test_walk_unreadable_unprivileged(void **state)
{
    (void)state;
    if (!privileged())
        return; /* test_walk_tree already ran unprivileged */
    struct passwd *pw = getpwnam("nobody");
    if (!pw) {
        fprintf(stderr, "# no user 'nobody': mode 000 as an unprivileged user not checked\n");
        skip();
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            _exit(99);
        _exit(check_tree(false) ? 1 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 99) {
        fprintf(stderr, "# cannot become nobody: mode 000 as an unprivileged user not checked\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void filtered(const char **rules, const char *want, uint64_t excluded)
{
    struct floe_filter *f = floe_filter_new();
    struct floe_error err = {0};
    for (; *rules; rules++)
        assert_int_equal(floe_filter_add(f, *rules, &err), FLOE_OK);
    struct floe_walk_options o = {.filter = f};
    struct log lg = {0};
    struct floe_walk_stats st;
    assert_int_equal(walk(s_root, &o, &lg, &st, &err), FLOE_OK);
    if (strcmp(lg.text, want) != 0) {
        fprintf(stderr, "--- got\n%s--- want\n%s", lg.text, want);
        fail();
    }
    assert_int_equal(st.excluded, excluded);
    floe_filter_free(f);
}

static void test_walk_filters(void **state)
{
    (void)state;
    /* only .bin files at any depth: every directory included, everything else excluded */
    const char *only_bin[] = {"- /locked/", "+ */", "+ *.bin", "- *", NULL};
    filtered(only_bin, "F sub/deep/x.bin 3\n", 14);
    /* an excluded directory is not descended: its include rule never sees x.bin */
    const char *no_sub[] = {"- /sub/", "+ /sub/deep/x.bin", "- /locked/", "- [!s]*", NULL};
    filtered(no_sub, "", 15);
    /* files and directories by pattern; the symlink is excluded before it is a skip */
    const char *some[] = {"- *.txt", "- deep/", "- link_*", "- [l-z]*", "+ *", NULL};
    filtered(some, "F d\nnl 7\nF e\xff\xfe 8\nS fifo special\nF h1 4 nlink2\n", 10);
}

static void test_walk_file_source(void **state)
{
    (void)state;
    char src[512];
    snprintf(src, sizeof(src), "%s/sub/h2", s_root);
    struct floe_walk_options o = {0};
    struct log lg = {0};
    struct floe_walk_stats st;
    struct floe_error err = {0};
    assert_int_equal(walk(src, &o, &lg, &st, &err), FLOE_OK);
    assert_string_equal(lg.text, "F h2 4 nlink2\n");
    assert_int_equal(st.files, 1);
    assert_int_equal(st.dirs, 0);
    /* the filter sees the base name */
    struct floe_filter *f = floe_filter_new();
    assert_int_equal(floe_filter_add(f, "- h?", &err), FLOE_OK);
    o.filter = f;
    memset(&lg, 0, sizeof(lg));
    assert_int_equal(walk(src, &o, &lg, &st, &err), FLOE_OK);
    assert_string_equal(lg.text, "");
    assert_int_equal(st.excluded, 1);
    floe_filter_free(f);
    /* a relative file source: dirfd is the current directory's */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(src, sizeof(src), "%s/sub", s_root);
    assert_int_equal(chdir(src), 0);
    o.filter = NULL;
    memset(&lg, 0, sizeof(lg));
    assert_int_equal(
        floe_walk("h2", &(struct floe_walk_options){.on_file = on_file, .user = &lg}, &st, &err),
        FLOE_OK);
    assert_string_equal(lg.text, "F h2 4 nlink2\n");
    assert_int_equal(chdir(cwd), 0);
}

static void test_walk_stop_and_sources(void **state)
{
    (void)state;
    struct floe_walk_options o = {0};
    struct log lg = {.stop_after = 2};
    struct floe_walk_stats st;
    struct floe_error err = {0};
    assert_int_equal(walk(s_root, &o, &lg, &st, &err), 7);
    assert_string_equal(lg.text, "F a.txt 5\nF b c.txt 6\n");
    assert_int_equal(st.files, 2);

    char src[512];
    snprintf(src, sizeof(src), "%s/missing", s_root);
    assert_int_equal(walk(src, &o, &lg, &st, &err), FLOE_E_IO);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_string_equal(err.path, src);
    assert_non_null(strstr(err.message, "cannot open backup source"));
    snprintf(src, sizeof(src), "%s/fifo", s_root);
    assert_int_equal(walk(src, &o, &lg, &st, &err), FLOE_E_IO);
    assert_non_null(strstr(err.message, "is neither a directory nor a regular file"));
    assert_int_equal(floe_walk(s_root, &o, &st, &err), FLOE_E_INVALID_ARG);
}

/* The paths reported under a source that contains a trailing slash. */
static int on_file_path(void *user, const struct floe_walk_file *f)
{
    struct log *lg = user;
    emit(lg, "%s%s\n", f->path, "");
    return 0;
}

static void test_walk_paths(void **state)
{
    (void)state;
    char src[512], want[1024];
    snprintf(src, sizeof(src), "%s/sub//", s_root);
    struct log lg = {0};
    struct floe_walk_options o = {.on_file = on_file_path, .user = &lg};
    struct floe_error err = {0};
    assert_int_equal(floe_walk(src, &o, NULL, &err), FLOE_OK);
    snprintf(want, sizeof(want), "%s/sub/deep/x.bin\n%s/sub/h2\n", s_root, s_root);
    assert_string_equal(lg.text, want);
}

/* Stores the relpath's length in files (one file expected). */
static int count_file_len(void *user, const struct floe_walk_file *f)
{
    struct log *lg = user;
    lg->files = (int)strlen(f->relpath);
    return 0;
}

/* one_file_system: /dev/shm is usually its own tmpfs under /dev. */
static void test_walk_one_file_system(void **state)
{
    (void)state;
    struct stat a, b;
    if (stat("/dev", &a) != 0 || stat("/dev/shm", &b) != 0 || a.st_dev == b.st_dev) {
        fprintf(stderr, "# /dev/shm is not a separate file system here: one_file_system not "
                        "checked\n");
        skip();
    }
    char name[64];
    snprintf(name, sizeof(name), "/dev/shm/floe-walk-%d", (int)getpid());
    FILE *f = fopen(name, "w");
    if (!f) {
        fprintf(stderr, "# cannot write in /dev/shm: one_file_system not checked\n");
        skip();
    }
    fclose(f);
    struct floe_filter *flt = floe_filter_new();
    struct floe_error err = {0};
    assert_int_equal(floe_filter_add(flt, "+ /shm/", &err), FLOE_OK);
    assert_int_equal(floe_filter_add(flt, "+ /shm/floe-walk-*", &err), FLOE_OK);
    assert_int_equal(floe_filter_add(flt, "- *", &err), FLOE_OK);
    for (int ofs = 0; ofs <= 1; ofs++) {
        struct log lg = {0};
        struct floe_walk_options o = {
            .filter = flt, .one_file_system = ofs, .on_file = on_file_path, .user = &lg};
        struct floe_walk_stats st;
        assert_int_equal(floe_walk("/dev", &o, &st, &err), FLOE_OK);
        bool seen = strstr(lg.text, name + 1) != NULL;
        assert_int_equal(seen, !ofs);
    }
    unlink(name);
    floe_filter_free(flt);
}

/* Depth 150 with 40-byte names: paths of 6,000+ bytes (over PATH_MAX), one file at the bottom;
 * then the same walk with a descriptor limit of 24, where the deep directories are reported
 * unreadable (EMFILE) and the walk still ends FLOE_OK. */
static void test_walk_deep(void **state)
{
    (void)state;
    char top[512];
    snprintf(top, sizeof(top), "%s/deep", s_top);
    assert_int_equal(mkdir(top, 0755), 0);
    const char *name = "a-directory-name-forty-bytes-long-xxxxxx";
    int fd = open(top, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    for (int i = 0; i < 150; i++) {
        assert_int_equal(mkdirat(fd, name, 0755), 0);
        int next = openat(fd, name, O_RDONLY | O_DIRECTORY);
        assert_true(next >= 0);
        close(fd);
        fd = next;
    }
    int f = openat(fd, "bottom", O_WRONLY | O_CREAT, 0644);
    assert_true(f >= 0);
    assert_int_equal(write(f, "deep", 4), 4);
    close(f);
    close(fd);
    struct log lg = {0};
    struct floe_walk_options o = {.on_file = count_file_len, .user = &lg};
    struct floe_walk_stats st;
    struct floe_error err = {0};
    assert_int_equal(floe_walk(top, &o, &st, &err), FLOE_OK);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.dirs, 151);
    assert_int_equal(lg.files, 150 * 41 + 6); /* the relpath's length */

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {24, 24};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(2);
        struct log l2 = {0};
        struct floe_walk_options o2 = {.on_file = count_file_len, .on_skip = on_skip, .user = &l2};
        int rc = floe_walk(top, &o2, &st, &err);
        bool ok = rc == FLOE_OK && st.files == 0 && st.unreadable == 1 &&
                  strstr(l2.text, " unreadable dir errno\n") && st.dirs > 10 && st.dirs < 24;
        if (!ok)
            fprintf(stderr, "rc %d files %llu dirs %llu unreadable %llu: %s\n", rc,
                    (unsigned long long)st.files, (unsigned long long)st.dirs,
                    (unsigned long long)st.unreadable, l2.text);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int count_file(void *user, const struct floe_walk_file *f)
{
    (void)user, (void)f;
    return 0;
}

/* test_walk DIR: walks DIR and prints the stats instead of running the tests (the system-call
 * count in docs/performance.md, "Backup walk", is strace -c of this). */
static int walk_only(const char *dir)
{
    struct floe_walk_options o = {.on_file = count_file};
    struct floe_walk_stats st;
    struct floe_error err = {0};
    int rc = floe_walk(dir, &o, &st, &err);
    printf("rc %d files %llu dirs %llu bytes %llu skipped %llu %s\n", rc,
           (unsigned long long)st.files, (unsigned long long)st.dirs, (unsigned long long)st.bytes,
           (unsigned long long)(st.specials + st.symlinks + st.unreadable), err.message);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 2)
        return walk_only(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_tree),
        cmocka_unit_test(test_walk_unreadable_unprivileged),
        cmocka_unit_test(test_walk_filters),
        cmocka_unit_test(test_walk_file_source),
        cmocka_unit_test(test_walk_stop_and_sources),
        cmocka_unit_test(test_walk_paths),
        cmocka_unit_test(test_walk_one_file_system),
        cmocka_unit_test(test_walk_deep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
