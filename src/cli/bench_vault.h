/*
 * bench_vault.h - the floe-vault `floe bench` starts for itself when no --endpoint-url is
 * given: a free loopback port, a temporary data directory, instant jobs; stopped and removed
 * afterwards. Also the CPU time of a process (the local server's) from /proc.
 * Threads: the command's thread only.
 */
#ifndef FLOE_CLI_BENCH_VAULT_H
#define FLOE_CLI_BENCH_VAULT_H

#include <stdbool.h>
#include <sys/types.h>

struct floe_bench_vault {
    pid_t pid;      /* 0 = not running */
    char dir[4096]; /* the temporary directory (data dir, port file, log); "" = none */
    char url[64];   /* http://127.0.0.1:PORT */
    char binary[4096];
};

/*
 * floe_bench_vault_find() - the floe-vault binary: explicit (the --vault-bin option), else
 * $FLOE_VAULT_BIN, else beside floe's own executable (also src/vault/ of a build tree and
 * ../sbin of an install), else on PATH. Writes bin; returns 0, -1 (none found) or -2 (the
 * given path is not an executable file), with a message in why.
 */
int floe_bench_vault_find(const char *explicit_path, char *bin, size_t bin_cap, char *why,
                          size_t why_cap);

/*
 * floe_bench_vault_start() - start bin on 127.0.0.1 port 0 with a new temporary data
 * directory and --job-delay instant; wait (up to 20 s) for its port. Returns 0, or -1 with a
 * message in why (nothing left behind). Stop with floe_bench_vault_stop().
 */
int floe_bench_vault_start(struct floe_bench_vault *v, const char *bin, char *why, size_t why_cap);

/* SIGTERM, wait (SIGKILL after 10 s), remove the directory. Safe twice and on a zeroed v. */
void floe_bench_vault_stop(struct floe_bench_vault *v);

/* User + system CPU seconds of a process from /proc/PID/stat; -1 when unreadable. */
double floe_bench_proc_cpu_s(pid_t pid);

/* Removes dir and everything under it (symlinks not followed); "" is fine. Best effort. */
void floe_bench_rm_tree(const char *dir);

/* True when url's host is a loopback address (127.x, localhost, [::1]). */
bool floe_bench_url_is_loopback(const char *url);

#endif
