/*
 * log.h - where floe's diagnostic lines go: -v/--verbose (each retry), --debug (each request
 * and response, secrets redacted by the engine) and the periodic progress lines written when
 * stderr is not a terminal. They go to stderr, or appended to --log-file; each line starts
 * with an ISO 8601 UTC time.
 * Threads: every function is safe from any thread (one mutex around each line).
 */
#ifndef FLOE_CLI_LOG_H
#define FLOE_CLI_LOG_H

#include "cli.h"

#include <stdbool.h>
#include <stdio.h>

/* Opens --log-file (append, created 0600) if given. 0, or 2 after printing why it cannot. */
int floe_cli_log_open(const struct floe_cli *cli);

/* One timestamped line (no newline in fmt) at level (FLOE_LOG_WARN, _INFO, _DEBUG of
 * floe/client.h); written when the global verbosity wants it (WARN: always). */
void floe_cli_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The engine's log callback (floe_client_config.log); user is unused. */
void floe_cli_log_line(void *user, int level, const char *line);

/* The level floe_cli_client() asks the engine for. */
int floe_cli_log_level(void);

/* True when log lines go to a terminal (stderr is one and there is no --log-file). */
bool floe_cli_log_is_tty(void);

#endif
