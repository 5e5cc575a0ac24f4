/*
 * t_util.c - see t_util.h.
 */
#include "t_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t s_state;
static uint64_t s_seed;
static char s_tmpdir[256];

uint64_t t_seed(void)
{
    if (!s_seed) {
        const char *env = getenv("FLOE_TEST_SEED");
        if (env && *env) {
            s_seed = strtoull(env, NULL, 0);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            s_seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        }
        if (!s_seed)
            s_seed = 1;
        s_state = s_seed;
        fprintf(stderr, "# FLOE_TEST_SEED=%llu\n", (unsigned long long)s_seed);
    }
    return s_seed;
}

uint64_t t_rand(void)
{
    t_seed();
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 2685821657736338717ULL;
}

uint64_t t_rand_below(uint64_t n)
{
    return n ? t_rand() % n : 0;
}

void t_fill_random(void *p, size_t n)
{
    uint8_t *b = p;
    while (n >= 8) {
        uint64_t r = t_rand();
        memcpy(b, &r, 8);
        b += 8;
        n -= 8;
    }
    uint64_t r = t_rand();
    memcpy(b, &r, n);
}

const char *t_temp_dir(void)
{
    if (!s_tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(s_tmpdir, sizeof(s_tmpdir), "%s/floe-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(s_tmpdir)) {
            fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
            abort();
        }
    }
    return s_tmpdir;
}

void t_cleanup_temp(void)
{
    if (s_tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", s_tmpdir);
        s_tmpdir[0] = 0;
    }
}

char *t_write_temp(const char *name, const void *data, size_t n)
{
    size_t len = strlen(t_temp_dir()) + strlen(name) + 2;
    char *path = malloc(len);
    assert_non_null(path);
    snprintf(path, len, "%s/%s", t_temp_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
    assert_int_equal(close(fd), 0);
    return path;
}

char *t_python(const char *code, ...)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = FLOE_PYTHON;
    argv[argc++] = "-c";
    argv[argc++] = code;
    va_list ap;
    va_start(ap, code);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 63)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        ssize_t r = read(pfd[0], out + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    out[len] = 0;
    close(pfd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "python failed (status %d) running:\n%s\n", status, code);
        fail();
    }
    return out;
}

void t_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = 0;
}
