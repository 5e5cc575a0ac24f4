/*
 * cmd_config.c - `floe config credentials [--check]`: which credential source won (the chain of
 * docs/credentials.md, for the global options and environment as every command sees them),
 * the access key id and when the keys expire, never the secret; --check asks STS
 * GetCallerIdentity who the keys belong to (as `aws sts get-caller-identity`).
 * With --json: one object.
 */
#include "argparse.h"
#include "awsconfig.h"
#include "cli.h"
#include "common.h"

#include "floe/credentials.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CONFIG_USAGE                                                                               \
    "floe config credentials [--check]\n"                                                          \
    "Which credential source won, the access key id and the expiry (never the secret);\n"          \
    "--check asks STS GetCallerIdentity whose keys they are (AWS_ENDPOINT_URL_STS overrides\n"     \
    "the regional STS endpoint)."

/* "2026-12-04T10:00:00Z" of Unix seconds t into out. */
static void iso(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int floe_cmd_config(const struct floe_cli *cli, int argc, char **argv)
{
    bool check = false;
    const struct floe_cli_opt opts[] = {
        {"--check", NULL, NULL, &check},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("config", CONFIG_USAGE, argc, argv, 1, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1)
        return floe_cli_usage_error("config", CONFIG_USAGE, "missing subcommand");
    if (strcmp(pos[0], "credentials") != 0 || npos > 1)
        return floe_cli_usage_error("config", CONFIG_USAGE, "unknown subcommand '%s'",
                                    pos[npos > 1 ? 1 : 0]);
    struct floe_error err = {0};
    struct floe_awsconfig ac;
    struct floe_credentials *p = NULL;
    rc = floe_awsconfig_resolve(cli, &ac, &err);
    if (rc == FLOE_OK)
        rc = floe_cli_credentials(cli, &ac, true, &p, &err);
    struct floe_credentials_info info;
    struct floe_caller_identity id;
    memset(&id, 0, sizeof(id));
    if (rc == FLOE_OK) {
        floe_credentials_describe(p, &info);
        if (check)
            rc = floe_credentials_check(p, ac.region, &id, &err);
    }
    floe_credentials_destroy(p);
    floe_awsconfig_free(&ac);
    if (rc)
        return floe_cli_fail("config", &err);
    char exp[32] = "";
    if (info.expiration)
        iso(info.expiration, exp);
    if (cli->json) {
        json_t *o =
            json_pack("{s:s, s:s, s:o}", "source", info.source, "access_key_id", info.access_key_id,
                      "expiration", info.expiration ? json_string(exp) : json_null());
        if (check) {
            json_object_set_new(o, "account", json_string(id.account));
            json_object_set_new(o, "arn", json_string(id.arn));
            json_object_set_new(o, "user_id", json_string(id.user_id));
        }
        floe_cli_json_print(stdout, o);
        return 0;
    }
    printf("source         %s\n", info.source);
    printf("access key id  %s\n", info.access_key_id);
    if (info.expiration)
        printf("expires        %s (in %" PRId64 " min; refreshed before)\n", exp,
               (info.expiration - (int64_t)time(NULL)) / 60);
    else
        printf("expires        never\n");
    if (check) {
        printf("account        %s\n", id.account);
        printf("arn            %s\n", id.arn);
        printf("user id        %s\n", id.user_id);
    }
    return 0;
}
