/*
 * bench_vault.c - the embedded floe-vault of `floe bench` (bench_vault.h).
 *
 * DESIGN: floe-vault is a separate program (the CLI never links the server), so it is started
 * as a child: fork + exec with --listen 127.0.0.1:0 --port-file, and the port read back from
 * the file once it appears (the server writes it after binding, so there is no race for a
 * port). Its output goes to a log file in the temporary directory, which the error message
 * names if it exits early. The directory is removed with everything in it when it stops.
 */
#include "bench_vault.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool executable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int floe_bench_vault_find(const char *explicit_path, char *bin, size_t bin_cap, char *why,
                          size_t why_cap)
{
    const char *given = explicit_path ? explicit_path : getenv("FLOE_VAULT_BIN");
    if (given && *given) {
        if (!executable(given)) {
            snprintf(why, why_cap, "floe-vault binary %s is not an executable file (%s)", given,
                     explicit_path ? "--vault-bin" : "FLOE_VAULT_BIN");
            return -2;
        }
        snprintf(bin, bin_cap, "%s", given);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        const char *dir = dirname(self);
        const char *rel[] = {"floe-vault", "src/vault/floe-vault", "../sbin/floe-vault"};
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            snprintf(bin, bin_cap, "%s/%s", dir, rel[i]);
            if (executable(bin))
                return 0;
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        snprintf(bin, bin_cap, "%.*s/floe-vault", (int)len, path);
        if (len && executable(bin))
            return 0;
        path = end ? end + 1 : NULL;
    }
    snprintf(why, why_cap,
             "cannot find floe-vault (beside floe, or on PATH): pass --vault-bin PATH, set "
             "FLOE_VAULT_BIN, or benchmark a running server with --endpoint-url");
    return -1;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

void floe_bench_rm_tree(const char *dir)
{
    if (*dir)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int floe_bench_vault_start(struct floe_bench_vault *v, const char *bin, char *why, size_t why_cap)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->binary, sizeof(v->binary), "%s", bin);
    const char *tmp = getenv("TMPDIR");
    snprintf(v->dir, sizeof(v->dir), "%s/floe-bench-vault-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(v->dir)) {
        snprintf(why, why_cap, "cannot create a temporary directory %s: %s", v->dir,
                 strerror(errno));
        v->dir[0] = 0;
        return -1;
    }
    char data[4200], port_file[4200], log[4200];
    snprintf(data, sizeof(data), "%s/data", v->dir);
    snprintf(port_file, sizeof(port_file), "%s/port", v->dir);
    snprintf(log, sizeof(log), "%s/vault.log", v->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, why_cap, "cannot start floe-vault: fork: %s", strerror(errno));
        floe_bench_rm_tree(v->dir);
        v->dir[0] = 0;
        return -1;
    }
    if (pid == 0) {
        /* its own process group: a Ctrl-C on the terminal reaches floe, which then still
         * needs the server to delete what the benchmark created */
        setpgid(0, 0);
        /* and it dies with floe, even a floe killed with SIGKILL */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execl(bin, bin, "--listen", "127.0.0.1:0", "--data-dir", data, "--port-file", port_file,
              "--job-delay", "instant", "--log-level", "warn", (char *)NULL);
        _exit(127);
    }
    v->pid = pid;
    for (int waited = 0; waited < 20000; waited += 20) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            v->pid = 0;
            char msg[512] = "";
            FILE *f = fopen(log, "r");
            if (f) {
                size_t n = fread(msg, 1, sizeof(msg) - 1, f);
                msg[n] = 0;
                fclose(f);
                char *nl = strrchr(msg, '\n');
                if (nl && nl[1] == 0)
                    *nl = 0;
            }
            snprintf(why, why_cap, "floe-vault (%s) exited before listening%s%s", bin,
                     *msg ? ": " : "", msg);
            floe_bench_rm_tree(v->dir);
            v->dir[0] = 0;
            return -1;
        }
        FILE *f = fopen(port_file, "r");
        unsigned port = 0;
        if (f) {
            if (fscanf(f, "%u", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port) {
            snprintf(v->url, sizeof(v->url), "http://127.0.0.1:%u", port);
            return 0;
        }
        sleep_ms(20);
    }
    snprintf(why, why_cap, "floe-vault (%s) did not listen within 20 s", bin);
    floe_bench_vault_stop(v);
    return -1;
}

void floe_bench_vault_stop(struct floe_bench_vault *v)
{
    if (v->pid > 0) {
        kill(v->pid, SIGTERM);
        int st;
        for (int waited = 0; waited < 10000; waited += 20) {
            if (waitpid(v->pid, &st, WNOHANG) == v->pid) {
                v->pid = 0;
                break;
            }
            sleep_ms(20);
        }
        if (v->pid > 0) {
            kill(v->pid, SIGKILL);
            waitpid(v->pid, &st, 0);
            v->pid = 0;
        }
    }
    floe_bench_rm_tree(v->dir);
    v->dir[0] = 0;
}

double floe_bench_proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* fields after the command name, which is in parentheses and may hold spaces */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    /* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime" */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) / (double)(hz > 0 ? hz : 100);
}

/* True when the host part starting at h is name and ends right after it (port, path, end). */
static bool host_is(const char *h, const char *name)
{
    size_t n = strlen(name);
    return strncmp(h, name, n) == 0 && (h[n] == 0 || h[n] == ':' || h[n] == '/');
}

bool floe_bench_url_is_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    if (host_is(h, "localhost") || host_is(h, "[::1]"))
        return true;
    /* 127.0.0.0/8, written as four decimal numbers (not "127.example.com") */
    unsigned a, b, c, d;
    int end = 0;
    if (sscanf(h, "%3u.%3u.%3u.%3u%n", &a, &b, &c, &d, &end) != 4 || a != 127 || b > 255 ||
        c > 255 || d > 255)
        return false;
    return h[end] == 0 || h[end] == ':' || h[end] == '/';
}
