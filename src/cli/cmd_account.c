/*
 * cmd_account.c - the account-level settings: `floe policy set|get` (the data retrieval
 * policy) and `floe capacity purchase|list` (provisioned capacity units).
 *
 * Inputs are checked with libfloe's own rules (floe/admin.h) before a client is made; a bad
 * input exits 2 with the rule broken, a service error exits 1 with the Glacier code.
 * With --json: the API's shapes, one object per line (one line per capacity unit).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/admin.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_USAGE                                                                               \
    "floe policy set --strategy BytesPerHour|FreeTier|None [--bytes-per-hour N]\n"                 \
    "       floe policy get\n"                                                                     \
    "The account's data retrieval policy; --bytes-per-hour (1 to 9223372036854775807) is\n"        \
    "required with BytesPerHour and not allowed with the other strategies (no default:\n"          \
    "set names the whole policy)."

#define CAPACITY_USAGE                                                                             \
    "floe capacity purchase\n"                                                                     \
    "       floe capacity list\n"                                                                  \
    "Provisioned capacity units of the account (at most 2)."

static void print_json(json_t *o)
{
    floe_cli_json_print(stdout, o);
}

static json_t *policy_json(const struct floe_retrieval_policy *p)
{
    json_t *rule = json_pack("{s:s}", "Strategy", floe_admin_strategy_name(p->strategy));
    if (p->strategy == FLOE_RETRIEVAL_BYTES_PER_HOUR)
        json_object_set_new(rule, "BytesPerHour", json_integer((json_int_t)p->bytes_per_hour));
    return json_pack("{s:{s:[o]}}", "Policy", "Rules", rule);
}

static void print_policy(const struct floe_cli *cli, const struct floe_retrieval_policy *p)
{
    if (cli->json) {
        print_json(policy_json(p));
        return;
    }
    printf("Strategy      %s\n", floe_admin_strategy_name(p->strategy));
    if (p->strategy == FLOE_RETRIEVAL_BYTES_PER_HOUR)
        printf("BytesPerHour  %" PRId64 "\n", p->bytes_per_hour);
}

/* --bytes-per-hour: a whole number 1..INT64_MAX. 0 or 2 (usage error printed). */
static int parse_bph(const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    int e = errno;
    if (!*v || *end || v[0] == '-' || v[0] == '+' || e == ERANGE || n < 1 || n > INT64_MAX)
        return floe_cli_usage_error("policy", POLICY_USAGE,
                                    "--bytes-per-hour must be a whole number from 1 to %" PRId64
                                    ", not \"%s\"",
                                    INT64_MAX, v);
    *out = (int64_t)n;
    return 0;
}

int floe_cmd_policy(const struct floe_cli *cli, int argc, char **argv)
{
    const char *strategy = NULL, *bph = NULL;
    const struct floe_cli_opt opts[] = {
        {"--strategy", NULL, &strategy, NULL},
        {"--bytes-per-hour", NULL, &bph, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = floe_cli_parse("policy", POLICY_USAGE, argc, argv, 1, opts, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1)
        return floe_cli_usage_error("policy", POLICY_USAGE, "missing subcommand");
    bool set = strcmp(pos[0], "set") == 0;
    if (!set && strcmp(pos[0], "get") != 0)
        return floe_cli_usage_error("policy", POLICY_USAGE, "unknown subcommand '%s'", pos[0]);
    struct floe_error err = {0};
    struct floe_retrieval_policy p = {0};
    if (set) {
        if (!strategy)
            return floe_cli_usage_error("policy", POLICY_USAGE,
                                        "set needs --strategy BytesPerHour|FreeTier|None");
        if (floe_admin_parse_strategy(strategy, &p.strategy, &err))
            return floe_cli_usage_error("policy", POLICY_USAGE, "%s", err.message);
        if (bph && p.strategy != FLOE_RETRIEVAL_BYTES_PER_HOUR)
            return floe_cli_usage_error("policy", POLICY_USAGE,
                                        "--bytes-per-hour is only allowed with --strategy "
                                        "BytesPerHour, not with %s",
                                        strategy);
        if (!bph && p.strategy == FLOE_RETRIEVAL_BYTES_PER_HOUR)
            return floe_cli_usage_error("policy", POLICY_USAGE,
                                        "--strategy BytesPerHour needs --bytes-per-hour N");
        if (bph && parse_bph(bph, &p.bytes_per_hour))
            return 2;
        if (floe_admin_check_retrieval_policy(&p, &err))
            return floe_cli_usage_error("policy", POLICY_USAGE, "%s", err.message);
    } else if (strategy || bph) {
        return floe_cli_usage_error("policy", POLICY_USAGE, "get takes no options");
    }
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "policy", NULL, &c))
        return floe_cli_client_status();
    if (set)
        rc = floe_admin_set_retrieval_policy(c, &p, &err);
    else
        rc = floe_admin_get_retrieval_policy(c, &p, &err);
    floe_client_destroy(c);
    if (rc)
        return floe_cli_fail("policy", &err);
    if (!set || cli->json)
        print_policy(cli, &p);
    else if (!cli->quiet)
        printf("data retrieval policy set: %s\n", floe_admin_strategy_name(p.strategy));
    return 0;
}

struct cap_ctx {
    const struct floe_cli *cli;
    unsigned n;
};

static int on_capacity(const struct floe_capacity *cap, void *user)
{
    struct cap_ctx *cc = user;
    if (cc->cli->json) {
        print_json(json_pack("{s:s, s:s, s:s}", "CapacityId", cap->capacity_id, "StartDate",
                             cap->start_date, "ExpirationDate", cap->expiration_date));
    } else {
        if (cc->n == 0)
            printf("%-26s  %-26s  %s\n", "CAPACITY_ID", "START", "EXPIRES");
        printf("%-26s  %-26s  %s\n", cap->capacity_id, cap->start_date, cap->expiration_date);
    }
    cc->n++;
    return 0;
}

int floe_cmd_capacity(const struct floe_cli *cli, int argc, char **argv)
{
    const struct floe_cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
    const char *pos[1];
    int npos = 0;
    int rc = floe_cli_parse("capacity", CAPACITY_USAGE, argc, argv, 1, opts, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1)
        return floe_cli_usage_error("capacity", CAPACITY_USAGE, "missing subcommand");
    bool purchase = strcmp(pos[0], "purchase") == 0;
    if (!purchase && strcmp(pos[0], "list") != 0)
        return floe_cli_usage_error("capacity", CAPACITY_USAGE, "unknown subcommand '%s'", pos[0]);
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "capacity", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    if (purchase) {
        char id[FLOE_ADMIN_ID_MAX];
        rc = floe_admin_purchase_capacity(c, id, &err);
        if (!rc && cli->json)
            print_json(json_pack("{s:s}", "CapacityId", id));
        else if (!rc)
            printf("%s\n", id);
    } else {
        struct cap_ctx cc = {cli, 0};
        rc = floe_admin_list_capacity(c, on_capacity, &cc, &err);
        if (!rc && !cli->json && !cli->quiet && cc.n == 0)
            printf("no provisioned capacity\n");
    }
    floe_client_destroy(c);
    return rc ? floe_cli_fail("capacity", &err) : 0;
}
