/*
 * common.h - helpers every network command shares: building a floe_client from the global
 * options (aws CLI conventions) and reporting errors the same way everywhere.
 */
#ifndef FLOE_CLI_COMMON_H
#define FLOE_CLI_COMMON_H

#include "cli.h"
#include "floe/client.h"
#include "floe/credentials.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include "floe/error.h"

struct floe_cli_client_opts {
    unsigned max_connections; /* 0 = default */
    int max_retries;          /* as floe_client_config (-1 = none, 0 = the default); the global
                                 --max-retries, when given, wins */
    /* fixed keys instead of the credential chain (floe bench's own floe-vault); NULL = chain */
    const char *access_key_id, *secret_access_key;
    floe_request_timing_fn *on_request; /* as floe_client_config; NULL = none */
    void *on_request_user;
};

/*
 * floe_cli_client() - a client for the endpoint, region and credentials the global options
 * and environment select. On failure prints "floe CMD: message" and returns non-zero.
 */
int floe_cli_client(const struct floe_cli *cli, const char *cmd,
                    const struct floe_cli_client_opts *opts, struct floe_client **out);

struct floe_awsconfig;
/*
 * floe_cli_credentials() - the TLS settings' checks and side effects (an unreadable CA bundle
 * refused, AWS_CA_BUNDLE exported for the chain's STS/SSO calls, the --no-verify-ssl warning),
 * then, when chain, the credential provider the options select (docs/credentials.md) into
 * *out (NULL otherwise). ac: from floe_awsconfig_resolve(). FLOE_OK or the failure in err.
 * Threads: the main thread, before other threads start (it may setenv).
 */
int floe_cli_credentials(const struct floe_cli *cli, const struct floe_awsconfig *ac, bool chain,
                         struct floe_credentials **out, struct floe_error *err);

/* The exit status for the last floe_cli_client() that failed (2 for a bad --region or
 * --endpoint-url, 1 otherwise). */
int floe_cli_client_status(void);

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

/*
 * floe_cli_fail() - prints "floe CMD: message" on stderr (with a hint when the local default
 * endpoint refused the connection: start floe-vault or pass --endpoint-url); returns the exit
 * status for err: floe_cli_exit_status().
 */
int floe_cli_fail(const char *cmd, const struct floe_error *err);

/*
 * floe_cli_outcome() - the exit status of a command whose engine call returned rc: -1 for
 * FLOE_OK (the caller prints its result and picks 0 or 3); otherwise floe_cli_fail(cmd, err)'s
 * status, and after an interruption (FLOE_E_CANCELLED) also "floe CMD: RESUME_HINT" when a hint
 * is given. Threads: the command's thread.
 */
int floe_cli_outcome(const char *cmd, int rc, const struct floe_error *err,
                     const char *resume_hint);

/* The exit status of a failure (docs/cli.md): 130 FLOE_E_CANCELLED, 2 FLOE_E_INVALID_ARG and
 * FLOE_E_RANGE (an input breaks a rule: the engine checks those before sending anything), 1
 * anything else. */
int floe_cli_exit_status(const struct floe_error *err);

/* Exit status of a command over several files (upload, hash): 0 all done, 3 some failed and
 * some succeeded, else the status of the failures (2 when every one was a usage error). */
int floe_cli_multi_status(int done, int failed, int usage_failed);

/*
 * floe_cli_json_print() - o as one compact line (JSON_COMPACT, keys in insertion order, reals
 * with at most 15 significant digits) on f, flushed; takes o's reference. The one way every
 * command prints --json output.
 */
void floe_cli_json_print(FILE *f, json_t *o);

/* A JSON number rounded to `decimals` places (seconds 3, rates 2): never 17-digit noise. */
json_t *floe_cli_jreal(double v, int decimals);

/* Exit status for a usage error: prints "floe CMD: message" and the usage line; returns 2. */
int floe_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
