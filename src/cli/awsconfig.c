/*
 * awsconfig.c - aws CLI style discovery of the profile, region and endpoint (awsconfig.h),
 * reading the shared files through libfloe's one reader of them (floe/awsini.h).
 */
#include "awsconfig.h"

#include "need.h"
#include "floe/awsini.h"
#include "floe/client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

    char *cred_file = floe_awsini_credentials_path();
    char *conf_file = floe_awsini_config_path();
    bool in_creds = false, in_conf = false;
    free(floe_awsini_get(conf_file, FLOE_AWSINI_CONFIG, profile, "region",
                         &in_conf)); /* notes the section exists */
    free(floe_awsini_get(cred_file, FLOE_AWSINI_CREDENTIALS, profile, "aws_access_key_id",
                         &in_creds));

    /* region */
    const char *r = cli->region;
    if (!r)
        r = env_nonempty("AWS_REGION");
    if (!r)
        r = env_nonempty("AWS_DEFAULT_REGION");
    out->region = r ? floe_cli_strdup(r)
                    : floe_awsini_get(conf_file, FLOE_AWSINI_CONFIG, profile, "region", NULL);
    if (!out->region)
        out->region = floe_cli_strdup("us-east-1");

    /* endpoint */
    const char *e = cli->endpoint_url;
    if (!e)
        e = env_nonempty("AWS_ENDPOINT_URL_GLACIER");
    if (!e)
        e = env_nonempty("AWS_ENDPOINT_URL");
    out->endpoint_url =
        e ? floe_cli_strdup(e)
          : floe_awsini_get(conf_file, FLOE_AWSINI_CONFIG, profile, "endpoint_url", NULL);
    if (!out->endpoint_url)
        out->endpoint_url = floe_cli_strdup(FLOE_DEFAULT_ENDPOINT);

    /* CA bundle */
    const char *ca = cli->ca_bundle;
    out->ca_from = "--ca-bundle";
    if (!ca) {
        ca = env_nonempty("AWS_CA_BUNDLE");
        out->ca_from = "AWS_CA_BUNDLE";
    }
    out->ca_bundle =
        ca ? floe_cli_strdup(ca)
           : floe_awsini_get(conf_file, FLOE_AWSINI_CONFIG, profile, "ca_bundle", NULL);
    if (!ca)
        out->ca_from = "the profile's ca_bundle";
    if (out->ca_bundle && !*out->ca_bundle) {
        free(out->ca_bundle);
        out->ca_bundle = NULL;
    }

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
    free(c->ca_bundle);
    memset(c, 0, sizeof(*c));
}
