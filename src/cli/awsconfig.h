/*
 * awsconfig.h - find credentials, region and endpoint the way the aws CLI does.
 *
 * Order (first found wins):
 *   profile      --profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"
 *   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) unless
 *                --profile was given; the profile in AWS_SHARED_CREDENTIALS_FILE
 *                (~/.aws/credentials); the profile in AWS_CONFIG_FILE (~/.aws/config)
 *   region       --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1
 *   endpoint     --endpoint-url, AWS_ENDPOINT_URL_GLACIER, AWS_ENDPOINT_URL, the profile's
 *                endpoint_url, then floe's local default (FLOE_DEFAULT_ENDPOINT)
 * When the endpoint is floe's local default and no credentials were found, the local
 * floe-vault's documented default pair is used.
 */
#ifndef FLOE_CLI_AWSCONFIG_H
#define FLOE_CLI_AWSCONFIG_H

#include "cli.h"
#include "floe/error.h"

struct floe_awsconfig {
    char *profile;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char *region;
    char *endpoint_url;
    const char *credentials_source; /* "environment", "shared credentials file", ... */
};

/*
 * floe_awsconfig_resolve() - fill out from the global options and the environment.
 * Returns FLOE_OK, FLOE_E_INVALID_ARG (a named --profile that exists in neither file) or
 * FLOE_E_AUTH (no credentials anywhere, for a non-local endpoint). out is the caller's; free
 * it with floe_awsconfig_free() in every case.
 */
int floe_awsconfig_resolve(const struct floe_cli *cli, struct floe_awsconfig *out,
                           struct floe_error *err);
void floe_awsconfig_free(struct floe_awsconfig *c);

#endif
