/*
 * common.c - client construction from the global options, and uniform error reporting.
 */
#include "common.h"

#include "awsconfig.h"
#include "env.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The endpoint the last floe_cli_client() resolved was floe's local default. */
static bool s_default_endpoint;
static int s_client_status = 1;

int floe_cli_exit_status(const struct floe_error *err)
{
    switch (err->status) {
    case FLOE_E_CANCELLED: return 130;
    case FLOE_E_INVALID_ARG:
    case FLOE_E_RANGE: return 2;
    default: return 1;
    }
}

int floe_cli_multi_status(int done, int failed, int usage_failed)
{
    if (!failed)
        return 0;
    if (done)
        return 3;
    return usage_failed == failed ? 2 : 1;
}

int floe_cli_fail(const char *cmd, const struct floe_error *err)
{
    fprintf(stderr, "floe %s: %s\n", cmd,
            err->message[0] ? err->message : floe_strerror(err->status));
    if (s_default_endpoint && err->status == FLOE_E_NETWORK && err->http_status == 0 &&
        (strstr(err->message, "Couldn't connect") || strstr(err->message, "Connection refused") ||
         strstr(err->message, "Failed to connect")))
        fprintf(stderr,
                "floe %s: nothing answers at %s, floe's default endpoint: start floe-vault "
                "(floe-vault &), or pass --endpoint-url for another endpoint\n",
                cmd, FLOE_DEFAULT_ENDPOINT);
    return floe_cli_exit_status(err);
}

int floe_cli_outcome(const char *cmd, int rc, const struct floe_error *err, const char *resume_hint)
{
    if (rc == FLOE_OK)
        return -1;
    int status = floe_cli_fail(cmd, err);
    if (rc == FLOE_E_CANCELLED && resume_hint)
        fprintf(stderr, "floe %s: %s\n", cmd, resume_hint);
    return status;
}

void floe_cli_json_print(FILE *f, json_t *o)
{
    json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    fputc('\n', f);
    fflush(f);
    json_decref(o);
}

json_t *floe_cli_jreal(double v, int decimals)
{
    double scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    double x = v * scale;
    if (!(x > -9e15 && x < 9e15)) /* NaN, or too large to need rounding */
        return json_real(v == v ? v : 0);
    return json_real((double)(int64_t)(x + (x < 0 ? -0.5 : 0.5)) / scale);
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

int floe_cli_credentials(const struct floe_cli *cli, const struct floe_awsconfig *ac, bool chain,
                         struct floe_credentials **out, struct floe_error *err)
{
    int rc = FLOE_OK;
    *out = NULL;
    if (rc == FLOE_OK && ac->ca_bundle && access(ac->ca_bundle, R_OK) != 0)
        rc = floe_error_set_errno(err, FLOE_E_INVALID_ARG, errno, ac->ca_bundle,
                                  "the CA bundle %s (from %s) cannot be read", ac->ca_bundle,
                                  ac->ca_from);
    if (rc == FLOE_OK && ac->ca_bundle)
        setenv("AWS_CA_BUNDLE", ac->ca_bundle, 1); /* the chain's STS and SSO calls trust it too */
    if (rc == FLOE_OK && cli->no_verify_ssl)
        fprintf(stderr,
                "floe: WARNING: --no-verify-ssl: the endpoint's TLS certificate is NOT verified; "
                "anyone on the network path can impersonate it and read or change the data\n");
    if (rc == FLOE_OK && chain) {
        /* the chain (docs/credentials.md); floe-vault's local endpoint: no metadata lookups,
         * and its documented pair when nothing else applies */
        bool local = strcmp(ac->endpoint_url, FLOE_DEFAULT_ENDPOINT) == 0;
        struct floe_credentials_options co = {
            .profile = cli->profile, /* NULL: the chain reads AWS_PROFILE as awsconfig did */
            .profile_explicit = cli->profile != NULL,
            .region = ac->region,
            .no_instance_sources = local,
            .fallback_access_key_id = local ? FLOE_LOCAL_ACCESS_KEY : NULL,
            .fallback_secret_access_key = local ? FLOE_LOCAL_SECRET_KEY : NULL,
            .ca_bundle = ac->ca_bundle, /* STS, SSO, container over HTTPS: as Glacier's */
            .no_verify_ssl = cli->no_verify_ssl,
        };
        rc = floe_credentials_new_chain(&co, out, err);
    }
    return rc;
}

int floe_cli_client(const struct floe_cli *cli, const char *cmd,
                    const struct floe_cli_client_opts *opts, struct floe_client **out)
{
    struct floe_error err = {0};
    struct floe_awsconfig ac;
    int rc = floe_awsconfig_resolve(cli, &ac, &err);
    struct floe_credentials *creds = NULL;
    bool fixed = opts && opts->access_key_id && opts->secret_access_key;
    if (rc == FLOE_OK)
        rc = floe_cli_credentials(cli, &ac, !fixed, &creds, &err);
    if (rc == FLOE_OK) {
        struct floe_client_config cfg = {
            .endpoint_url = ac.endpoint_url,
            .region = ac.region,
            .credentials = creds, /* the client takes it over (NULL: the fixed keys) */
            .access_key_id = fixed ? opts->access_key_id : NULL,
            .secret_access_key = fixed ? opts->secret_access_key : NULL,
            .account_id = cli->account_id,
            .max_connections = opts ? opts->max_connections : 0,
            .max_retries = cli->max_retries >= 0 ? (cli->max_retries ? cli->max_retries : -1)
                           : opts                ? opts->max_retries
                                                 : 0,
            .retry_for_ms = cli->retry_for_set ? cli->retry_for_ms : 0,
            .wait_for_endpoint = cli->retry_for_set,
            .log = floe_cli_log_line,
            .log_level = floe_cli_log_level(),
            .on_request = opts ? opts->on_request : NULL,
            .on_request_user = opts ? opts->on_request_user : NULL,
            /* test and tuning knobs (checked by floe_cli_env_check): backoff base and the
             * stall timeout of one attempt */
            .retry_base_ms = (uint32_t)floe_cli_env_uint("FLOE_RETRY_BASE_MS"),
            .stall_timeout_s = (long)floe_cli_env_uint("FLOE_STALL_TIMEOUT_S"),
            .stall_min_rate = (long)floe_cli_env_uint("FLOE_STALL_MIN_RATE"),
            .ca_bundle = ac.ca_bundle,
            .no_verify_ssl = cli->no_verify_ssl,
        };
        if (cli->retry_for_set && cli->retry_for_ms == 0)
            cfg.max_retries = -1; /* --retry-for 0: no retries */
        s_default_endpoint = strcmp(ac.endpoint_url, FLOE_DEFAULT_ENDPOINT) == 0;
        rc = floe_client_new(&cfg, out, &err);
    }
    floe_awsconfig_free(&ac);
    if (rc)
        return s_client_status = floe_cli_fail(cmd, &err);
    return 0;
}

int floe_cli_client_status(void)
{
    return s_client_status;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xF0 && p[0] <= 0xF4 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (!n || p[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    uint32_t cp = p[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3F);
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0; /* overlong, out of range, or a surrogate */
    return n;
}

json_t *floe_cli_jstr(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return json_string("");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t k = utf8_len(p);
        if (k) {
            memcpy(o, p, k);
            o += k;
            p += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            p++;
        }
    }
    *o = 0;
    json_t *j = json_string(out);
    free(out);
    return j ? j : json_string("");
}

static atomic_bool s_cancel;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&s_cancel, true);
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the process */
    signal(SIGTERM, SIG_DFL);
}

atomic_bool *floe_cli_cancel_on_sigint(void)
{
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    signal(SIGXFSZ, SIG_IGN);
    return &s_cancel;
}

void floe_cli_warning(const struct floe_cli *cli, const char *cmd, const char *path,
                      const char *message)
{
    fprintf(stderr, "floe %s: warning: %s\n", cmd, message);
    if (!cli->json)
        return;
    json_t *o =
        json_pack("{s:o, s:o}", "warning", floe_cli_jstr(message), "path", floe_cli_jstr(path));
    floe_cli_json_print(stdout, o);
}
