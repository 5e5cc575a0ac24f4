/*
 * common.c - client construction from the global options, and uniform error reporting.
 */
#include "common.h"

#include "awsconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int floe_cli_fail(const char *cmd, const struct floe_error *err)
{
    fprintf(stderr, "floe %s: %s\n", cmd,
            err->message[0] ? err->message : floe_strerror(err->status));
    return 1;
}

int floe_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "floe %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return 2;
}

int floe_cli_client(const struct floe_cli *cli, const char *cmd,
                    const struct floe_cli_client_opts *opts, struct floe_client **out)
{
    struct floe_error err = {0};
    struct floe_awsconfig ac;
    int rc = floe_awsconfig_resolve(cli, &ac, &err);
    if (rc == FLOE_OK) {
        struct floe_client_config cfg = {
            .endpoint_url = ac.endpoint_url,
            .region = ac.region,
            .access_key_id = ac.access_key_id,
            .secret_access_key = ac.secret_access_key,
            .session_token = ac.session_token,
            .account_id = cli->account_id,
            .max_connections = opts ? opts->max_connections : 0,
            .max_retries = opts ? opts->max_retries : 0,
            .verbose = getenv("FLOE_CURL_VERBOSE") != NULL,
        };
        /* test and tuning knobs: backoff base and the stall timeout of one attempt */
        const char *base = getenv("FLOE_RETRY_BASE_MS");
        if (base)
            cfg.retry_base_ms = (uint32_t)strtoul(base, NULL, 10);
        const char *stall = getenv("FLOE_STALL_TIMEOUT_S");
        if (stall)
            cfg.stall_timeout_s = strtol(stall, NULL, 10);
        rc = floe_client_new(&cfg, out, &err);
    }
    floe_awsconfig_free(&ac);
    if (rc)
        return floe_cli_fail(cmd, &err);
    return 0;
}
