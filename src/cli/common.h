/*
 * common.h - helpers every network command shares: building a floe_client from the global
 * options (aws CLI conventions) and reporting errors the same way everywhere.
 */
#ifndef FLOE_CLI_COMMON_H
#define FLOE_CLI_COMMON_H

#include "cli.h"
#include "floe/client.h"

#include <jansson.h>
#include <stdatomic.h>
#include "floe/error.h"

struct floe_cli_client_opts {
    unsigned max_connections; /* 0 = default */
    int max_retries;          /* as floe_client_config: 0 = the default (5), -1 = none */
};

/*
 * floe_cli_client() - a client for the endpoint, region and credentials the global options
 * and environment select. On failure prints "floe CMD: message" and returns non-zero.
 */
int floe_cli_client(const struct floe_cli *cli, const char *cmd,
                    const struct floe_cli_client_opts *opts, struct floe_client **out);

/*
 * floe_cli_jstr() - a JSON string of s for --json output. File names need not be UTF-8 (JSON
 * text must be): each byte that is not part of valid UTF-8 becomes U+FFFD. Never NULL; the
 * caller owns the reference (json_pack "o" takes it).
 */
json_t *floe_cli_jstr(const char *s);

/*
 * floe_cli_cancel_on_sigint() - install SIGINT/SIGTERM handlers that set the returned flag
 * (a second signal kills at once), and ignore SIGXFSZ so a file size limit becomes EFBIG.
 * Returns a process-wide flag.
 */
atomic_bool *floe_cli_cancel_on_sigint(void);

/*
 * floe_cli_warning() - a warning about one path that does not stop the command: "floe CMD:
 * warning: MESSAGE" on stderr and, with --json, {"warning":MESSAGE,"path":PATH} as a line on
 * stdout. Threads: the command's thread.
 */
void floe_cli_warning(const struct floe_cli *cli, const char *cmd, const char *path,
                      const char *message);

/* Prints "floe CMD: message" on stderr; returns the exit status for err (1). */
int floe_cli_fail(const char *cmd, const struct floe_error *err);

/* Exit status for a usage error: prints "floe CMD: message" and the usage line; returns 2. */
int floe_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
