/*
 * awsconfig.c - aws CLI style discovery of the profile, region and endpoint (awsconfig.h).
 * The INI reader reads what Python's configparser (the aws CLI's) reads: [section] headers,
 * "key = value" and "key: value" lines with keys in any case, '#' and ';' comments, lines of
 * any length; it skips indented continuation lines (nested settings such as "s3 =").
 */
#include "awsconfig.h"

#include "need.h"
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

/* Is the (trimmed) section header text the one profile is kept under? The credentials file
 * names a profile bare ([dev]); the config file as [profile dev] (any spacing), and the
 * default profile as [default] or [profile default]. */
static bool section_is(const char *sec, const char *profile, bool config_file)
{
    if (!config_file || strcmp(profile, "default") == 0)
        if (strcmp(sec, profile) == 0)
            return true;
    if (!config_file || strncmp(sec, "profile", 7) != 0 || !isspace((unsigned char)sec[7]))
        return false;
    const char *name = sec + 8;
    while (isspace((unsigned char)*name))
        name++;
    return strcmp(name, profile) == 0;
}

/* Looks up key in profile's section of an INI file, as Python's configparser reads it (which
 * is what the aws CLI uses): "key = value" or "key: value", keys in any case, lines of any
 * length. Returns a malloc'd value or NULL; *found_section is set when the section exists. */
static char *ini_get(const char *path, const char *profile, bool config_file, const char *key,
                     bool *found_section)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    char *line = NULL;
    size_t cap = 0;
    bool in = false;
    char *val = NULL;
    while (getline(&line, &cap, f) >= 0) {
        if (line[0] == ' ' || line[0] == '\t')
            continue; /* nested value */
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == 0)
            continue;
        if (*s == '[') {
            char *end = strrchr(s, ']');
            if (end) {
                *end = 0;
                in = section_is(trim(s + 1), profile, config_file);
                if (in && found_section)
                    *found_section = true;
            }
            continue;
        }
        if (!in)
            continue;
        char *eq = s + strcspn(s, "=:");
        if (!*eq)
            continue;
        *eq = 0;
        char *k = trim(s);
        for (char *c = k; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (strcmp(k, key) == 0) {
            free(val);
            val = floe_cli_strdup(trim(eq + 1));
        }
    }
    free(line);
    fclose(f);
    return val;
}

static char *home_file(const char *env, const char *rel)
{
    const char *p = getenv(env);
    const char *home = getenv("HOME");
    if (p && *p && p[0] == '~' && (p[1] == '/' || p[1] == 0) && home) { /* as the aws CLI does */
        size_t n = strlen(home) + strlen(p) + 1;
        char *out = floe_cli_need(malloc(n));
        snprintf(out, n, "%s%s", home, p + 1);
        return out;
    }
    if (p && *p)
        return floe_cli_strdup(p);
    if (!home)
        return NULL;
    size_t n = strlen(home) + strlen(rel) + 2;
    char *out = floe_cli_need(malloc(n));
    snprintf(out, n, "%s/%s", home, rel);
    return out;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
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
    out->profile = floe_cli_strdup(profile);

    char *cred_file = home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    char *conf_file = home_file("AWS_CONFIG_FILE", ".aws/config");
    bool in_creds = false, in_conf = false;
    free(ini_get(conf_file, profile, true, "region", &in_conf)); /* notes the section exists */
    free(ini_get(cred_file, profile, false, "aws_access_key_id", &in_creds));

    /* region */
    const char *r = cli->region;
    if (!r)
        r = env_nonempty("AWS_REGION");
    if (!r)
        r = env_nonempty("AWS_DEFAULT_REGION");
    out->region = r ? floe_cli_strdup(r) : ini_get(conf_file, profile, true, "region", NULL);
    if (!out->region)
        out->region = floe_cli_strdup("us-east-1");

    /* endpoint */
    const char *e = cli->endpoint_url;
    if (!e)
        e = env_nonempty("AWS_ENDPOINT_URL_GLACIER");
    if (!e)
        e = env_nonempty("AWS_ENDPOINT_URL");
    out->endpoint_url =
        e ? floe_cli_strdup(e) : ini_get(conf_file, profile, true, "endpoint_url", NULL);
    if (!out->endpoint_url)
        out->endpoint_url = floe_cli_strdup(FLOE_DEFAULT_ENDPOINT);

    int rc = FLOE_OK;
    bool named = explicit_profile || strcmp(profile, "default") != 0; /* --profile, AWS_PROFILE */
    if (named && !in_creds && !in_conf) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "the profile \"%s\" is in neither %s nor %s",
                            profile, cred_file ? cred_file : "~/.aws/credentials",
                            conf_file ? conf_file : "~/.aws/config");
    }
    free(cred_file);
    free(conf_file);
    return rc;
}

void floe_awsconfig_free(struct floe_awsconfig *c)
{
    free(c->profile);
    free(c->region);
    free(c->endpoint_url);
    memset(c, 0, sizeof(*c));
}
