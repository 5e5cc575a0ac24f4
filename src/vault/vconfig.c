/*
 * vconfig.c - configuration defaults and the values derived from the configuration alone
 * (see vconfig.h).
 */
#include "vconfig.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void floe_vconfig_defaults(struct floe_vconfig *cfg)
{
    cfg->host = floe_xstrdup(FLOE_VAULT_DEFAULT_HOST);
    cfg->port = floe_xstrdup(FLOE_VAULT_DEFAULT_PORT);
    cfg->request_timeout_ms = FLOE_VAULT_DEFAULT_REQUEST_TIMEOUT_S * 1000LL;
    cfg->header_timeout_ms = FLOE_VAULT_DEFAULT_HEADER_TIMEOUT_S * 1000LL;
    cfg->min_body_rate = FLOE_VAULT_DEFAULT_MIN_BODY_RATE;
    cfg->rate_window_ms = FLOE_VAULT_DEFAULT_RATE_WINDOW_S * 1000LL;
    cfg->max_connections = FLOE_VAULT_DEFAULT_MAX_CONNECTIONS;
    cfg->max_client_connections = FLOE_VAULT_DEFAULT_MAX_CLIENT_CONNECTIONS;
    cfg->access_key = floe_xstrdup(FLOE_VAULT_DEFAULT_ACCESS_KEY);
    cfg->secret_key = floe_xstrdup(FLOE_VAULT_DEFAULT_SECRET_KEY);
    cfg->account_id = floe_xstrdup(FLOE_VAULT_DEFAULT_ACCOUNT);
    cfg->region = floe_xstrdup(FLOE_VAULT_DEFAULT_REGION);
    floe_vconfig_single_cred(cfg);
    cfg->delay_ms[FLOE_VTIER_EXPEDITED] = 1000;
    cfg->delay_ms[FLOE_VTIER_STANDARD] = 3000;
    cfg->delay_ms[FLOE_VTIER_BULK] = 5000;
    cfg->job_expiry_ms = 24LL * 3600 * 1000;
    cfg->upload_expiry_ms = 24LL * 3600 * 1000;
    cfg->log_level = FLOE_VLOG_WARN;
    cfg->scrub_rate = 4u << 20;                  /* bytes/s: a 4 TB store in about 12 days */
    cfg->scrub_interval_ms = 24LL * 3600 * 1000; /* a pass a day at most */
}

void floe_vconfig_add_cred(struct floe_vconfig *cfg, const char *access_key, const char *secret_key,
                           const char *account_id, const char *arn)
{
    cfg->creds = floe_xrealloc(cfg->creds, (cfg->ncreds + 1) * sizeof(*cfg->creds));
    struct floe_vcred *c = &cfg->creds[cfg->ncreds++];
    c->access_key = floe_xstrdup(access_key);
    c->secret_key = floe_xstrdup(secret_key);
    c->account_id = floe_xstrdup(account_id);
    c->arn = floe_xstrdup(arn);
}

void floe_vconfig_single_cred(struct floe_vconfig *cfg)
{
    char arn[64];
    floe_vconfig_clear_creds(cfg);
    snprintf(arn, sizeof(arn), "arn:aws:iam::%.12s:root", cfg->account_id);
    floe_vconfig_add_cred(cfg, cfg->access_key, cfg->secret_key, cfg->account_id, arn);
}

void floe_vconfig_clear_creds(struct floe_vconfig *cfg)
{
    for (size_t i = 0; i < cfg->ncreds; i++) {
        free(cfg->creds[i].access_key);
        if (cfg->creds[i].secret_key)
            memset(cfg->creds[i].secret_key, 0, strlen(cfg->creds[i].secret_key));
        free(cfg->creds[i].secret_key);
        free(cfg->creds[i].account_id);
        free(cfg->creds[i].arn);
    }
    free(cfg->creds);
    cfg->creds = NULL;
    cfg->ncreds = 0;
}

void floe_vconfig_free(struct floe_vconfig *cfg)
{
    free(cfg->host);
    free(cfg->port);
    free(cfg->data_dir);
    free(cfg->select_output_dir);
    free(cfg->s3_endpoint);
    free(cfg->s3_region);
    free(cfg->s3_profile);
    free(cfg->sns_endpoint);
    free(cfg->sns_region);
    free(cfg->port_file);
    free(cfg->access_key);
    free(cfg->secret_key);
    free(cfg->account_id);
    free(cfg->region);
    floe_vconfig_clear_creds(cfg);
    free(cfg->tls_cert_pem);
    if (cfg->tls_key_pem)
        memset(cfg->tls_key_pem, 0, strlen(cfg->tls_key_pem));
    free(cfg->tls_key_pem);
    for (int i = 0; i < cfg->nnotify; i++) {
        free(cfg->notify[i].topic_arn);
        free(cfg->notify[i].url);
    }
    free(cfg->notify);
}

char *floe_vconfig_default_data_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    const char *base = NULL, *sub = "";
    if (xdg && xdg[0] == '/')
        base = xdg;
    else if (home && home[0]) {
        base = home;
        sub = "/.local/share";
    }
    if (!base)
        return NULL;
    size_t n = strlen(base) + strlen(sub) + sizeof("/floe-vault");
    char *p = floe_xmalloc(n);
    snprintf(p, n, "%s%s/floe-vault", base, sub);
    return p;
}

bool floe_vconfig_vault_key(const struct floe_vconfig *cfg, const char *account, const char *name,
                            char *out)
{
    out[0] = 0;
    if (strlen(name) > FLOE_VAULT_NAME_MAX)
        return false;
    if (strcmp(account, cfg->account_id) == 0)
        snprintf(out, FLOE_VAULT_KEY_MAX, "%s", name);
    else
        snprintf(out, FLOE_VAULT_KEY_MAX, "%.12s:%s", account, name);
    return true;
}

const char *floe_vconfig_vault_name(const char *key)
{
    const char *colon = strchr(key, ':');
    return colon ? colon + 1 : key;
}

void floe_vconfig_vault_account(const struct floe_vconfig *cfg, const char *key, char *out)
{
    const char *colon = strchr(key, ':');
    if (colon && colon - key <= 12)
        snprintf(out, 16, "%.*s", (int)(colon - key), key);
    else
        snprintf(out, 16, "%s", cfg->account_id);
}

void floe_vconfig_vault_arn(const struct floe_vconfig *cfg, const char *vault, char *out,
                            size_t cap)
{
    char account[16];
    floe_vconfig_vault_account(cfg, vault, account);
    snprintf(out, cap, "arn:aws:glacier:%s:%s:vaults/%s", cfg->region, account,
             floe_vconfig_vault_name(vault));
}
