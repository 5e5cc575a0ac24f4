/*
 * awsconfig.h - find the profile, region and endpoint the way the aws CLI does (the
 * credentials themselves come from libfloe's chain, include/floe/credentials.h, which
 * floe_cli_client() asks with the profile found here).
 *
 * Order (first found wins):
 *   profile      --profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, "default"
 *   region       --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1
 *   endpoint     --endpoint-url, AWS_ENDPOINT_URL_GLACIER, AWS_ENDPOINT_URL, the profile's
 *                endpoint_url, then floe's local default (FLOE_DEFAULT_ENDPOINT)
 *   CA bundle    --ca-bundle, AWS_CA_BUNDLE, the profile's ca_bundle, then the system store
 */
#ifndef FLOE_CLI_AWSCONFIG_H
#define FLOE_CLI_AWSCONFIG_H

#include "cli.h"
#include "floe/error.h"

struct floe_awsconfig {
    char *profile;
    char *region;
    char *endpoint_url;
    char *ca_bundle;     /* NULL = the system's trust store */
    const char *ca_from; /* where ca_bundle came from, for messages (static) */
};

/*
 * floe_awsconfig_resolve() - fill out from the global options and the environment.
 * Returns FLOE_OK or FLOE_E_INVALID_ARG (a named --profile or AWS_PROFILE that exists in
 * neither file). out is the caller's; free it with floe_awsconfig_free() in every case.
 */
int floe_awsconfig_resolve(const struct floe_cli *cli, struct floe_awsconfig *out,
                           struct floe_error *err);
void floe_awsconfig_free(struct floe_awsconfig *c);

#endif
