/*
 * awsconfig.c - aws CLI style discovery of credentials, region and endpoint (awsconfig.h).
 * The INI reader understands [section] headers, "key = value" lines, '#' and ';' comments,
 * and skips indented continuation lines (nested settings such as "s3 =").
 */
#include "awsconfig.h"

#include "alloc.h"
#include "floe/client.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Looks up key in [section] of an INI file; returns a malloc'd value or NULL. *found_section
 * is set when the section exists. */
static char *ini_get(const char *path, const char *section, const char *key, bool *found_section)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char line[4096];
    bool in = false;
    char *val = NULL;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == ' ' || line[0] == '\t')
            continue; /* nested value */
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == 0)
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end) {
                *end = 0;
                in = strcmp(trim(s + 1), section) == 0;
                if (in && found_section)
                    *found_section = true;
            }
            continue;
        }
        if (!in)
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            continue;
        *eq = 0;
        if (strcmp(trim(s), key) == 0) {
            free(val);
            val = floe_xstrdup(trim(eq + 1));
        }
    }
    fclose(f);
    return val;
}

static char *home_file(const char *env, const char *rel)
{
    const char *p = getenv(env);
    if (p && *p)
        return floe_xstrdup(p);
    const char *home = getenv("HOME");
    if (!home)
        return NULL;
    size_t n = strlen(home) + strlen(rel) + 2;
    char *out = floe_xmalloc(n);
    snprintf(out, n, "%s/%s", home, rel);
    return out;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? floe_xstrdup(s) : NULL;
}

int floe_awsconfig_resolve(const struct floe_cli *cli, struct floe_awsconfig *out,
                           struct floe_error *err)
{
    memset(out, 0, sizeof(*out));
    const char *profile = cli->profile;
    bool explicit_profile = profile != NULL;
    if (!profile)
        profile = env_nonempty("AWS_PROFILE");
    if (!profile)
        profile = env_nonempty("AWS_DEFAULT_PROFILE");
    if (!profile)
        profile = "default";
    out->profile = floe_xstrdup(profile);

    char *cred_file = home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    char *conf_file = home_file("AWS_CONFIG_FILE", ".aws/config");
    char conf_section[300];
    if (strcmp(profile, "default") == 0)
        snprintf(conf_section, sizeof(conf_section), "default");
    else
        snprintf(conf_section, sizeof(conf_section), "profile %s", profile);
    bool in_creds = false, in_conf = false;

    /* credentials */
    if (!explicit_profile && env_nonempty("AWS_ACCESS_KEY_ID") &&
        env_nonempty("AWS_SECRET_ACCESS_KEY")) {
        out->access_key_id = floe_xstrdup(getenv("AWS_ACCESS_KEY_ID"));
        out->secret_access_key = floe_xstrdup(getenv("AWS_SECRET_ACCESS_KEY"));
        out->session_token = dup_or_null(env_nonempty("AWS_SESSION_TOKEN"));
        out->credentials_source = "environment";
    }
    if (!out->access_key_id) {
        char *ak = ini_get(cred_file, profile, "aws_access_key_id", &in_creds);
        char *sk = ini_get(cred_file, profile, "aws_secret_access_key", NULL);
        if (ak && sk) {
            out->access_key_id = ak;
            out->secret_access_key = sk;
            out->session_token = ini_get(cred_file, profile, "aws_session_token", NULL);
            out->credentials_source = "shared credentials file";
        } else {
            free(ak);
            free(sk);
        }
    }
    if (!out->access_key_id) {
        char *ak = ini_get(conf_file, conf_section, "aws_access_key_id", &in_conf);
        char *sk = ini_get(conf_file, conf_section, "aws_secret_access_key", NULL);
        if (ak && sk) {
            out->access_key_id = ak;
            out->secret_access_key = sk;
            out->session_token = ini_get(conf_file, conf_section, "aws_session_token", NULL);
            out->credentials_source = "config file";
        } else {
            free(ak);
            free(sk);
        }
    }
    free(ini_get(conf_file, conf_section, "region", &in_conf)); /* notes the section exists */
    free(ini_get(cred_file, profile, "aws_access_key_id", &in_creds));

    /* region */
    const char *r = cli->region;
    if (!r)
        r = env_nonempty("AWS_REGION");
    if (!r)
        r = env_nonempty("AWS_DEFAULT_REGION");
    out->region = r ? floe_xstrdup(r) : ini_get(conf_file, conf_section, "region", NULL);
    if (!out->region)
        out->region = floe_xstrdup("us-east-1");

    /* endpoint */
    const char *e = cli->endpoint_url;
    if (!e)
        e = env_nonempty("AWS_ENDPOINT_URL_GLACIER");
    if (!e)
        e = env_nonempty("AWS_ENDPOINT_URL");
    out->endpoint_url =
        e ? floe_xstrdup(e) : ini_get(conf_file, conf_section, "endpoint_url", NULL);
    if (!out->endpoint_url)
        out->endpoint_url = floe_xstrdup(FLOE_DEFAULT_ENDPOINT);

    int rc = FLOE_OK;
    if (explicit_profile && !in_creds && !in_conf) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "the profile \"%s\" is in neither %s nor %s",
                            profile, cred_file ? cred_file : "~/.aws/credentials",
                            conf_file ? conf_file : "~/.aws/config");
    } else if (!out->access_key_id) {
        if (strcmp(out->endpoint_url, FLOE_DEFAULT_ENDPOINT) == 0) {
            out->access_key_id = floe_xstrdup(FLOE_LOCAL_ACCESS_KEY);
            out->secret_access_key = floe_xstrdup(FLOE_LOCAL_SECRET_KEY);
            out->credentials_source = "floe-vault local default";
        } else {
            rc = floe_error_set(err, FLOE_E_AUTH,
                                "no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY, or add profile \"%s\" to %s",
                                profile, cred_file ? cred_file : "~/.aws/credentials");
        }
    }
    free(cred_file);
    free(conf_file);
    return rc;
}

void floe_awsconfig_free(struct floe_awsconfig *c)
{
    free(c->profile);
    free(c->access_key_id);
    free(c->secret_access_key);
    free(c->session_token);
    free(c->region);
    free(c->endpoint_url);
    memset(c, 0, sizeof(*c));
}
