/*
 * env.h - the FLOE_* environment variables floe reads, checked once at startup.
 *
 * Each variable has a fixed set of valid values (or is a whole number in a range); a value
 * outside it is a usage error naming the variable and the valid values, so a typo never
 * silently changes nothing. docs/cli.md (Environment) lists the same table.
 * Threads: call floe_cli_env_check() from main before any thread starts; the getters are
 * then safe from any thread (they only read the environment).
 */
#ifndef FLOE_CLI_ENV_H
#define FLOE_CLI_ENV_H

#include <stdint.h>

/* Checks every FLOE_* variable that is set. Returns 0, or 2 after printing
 * "floe: FLOE_X=value is not valid: ..." on stderr. */
int floe_cli_env_check(void);

/* A whole-number variable (FLOE_RETRY_BASE_MS, FLOE_STALL_TIMEOUT_S) already checked by
 * floe_cli_env_check(); 0 when unset. */
uint64_t floe_cli_env_uint(const char *name);

#endif
