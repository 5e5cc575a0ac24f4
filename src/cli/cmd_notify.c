/*
 * cmd_notify.c - `floe notify set|get|delete VAULT`: the vault's notification configuration
 * (the SNS topic Glacier publishes job completions to, and for which events).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/jobs.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define NOTIFY_USAGE                                                                               \
    "floe notify set VAULT --sns-topic ARN [--events EVENT[,EVENT]]\n"                             \
    "       floe notify get VAULT\n"                                                               \
    "       floe notify delete VAULT\n"                                                            \
    "EVENT: ArchiveRetrievalCompleted, InventoryRetrievalCompleted (default: both)."

static int parse_events(const char *s, unsigned *out)
{
    unsigned ev = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        if (n == 25 && strncmp(s, "ArchiveRetrievalCompleted", n) == 0)
            ev |= FLOE_NOTIFY_ARCHIVE_RETRIEVAL;
        else if (n == 27 && strncmp(s, "InventoryRetrievalCompleted", n) == 0)
            ev |= FLOE_NOTIFY_INVENTORY_RETRIEVAL;
        else
            return floe_cli_usage_error("notify", NOTIFY_USAGE, "unknown event '%.*s'", (int)n, s);
        s += n;
        if (*s == ',')
            s++;
    }
    *out = ev;
    return 0;
}

int floe_cmd_notify(const struct floe_cli *cli, int argc, char **argv)
{
    const char *topic = NULL, *events = NULL;
    const struct floe_cli_opt opts[] = {
        {"--sns-topic", NULL, &topic, NULL},
        {"--events", NULL, &events, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("notify", NOTIFY_USAGE, argc, argv, 1, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 2)
        return floe_cli_usage_error("notify", NOTIFY_USAGE, "missing %s",
                                    npos ? "VAULT" : "subcommand and VAULT");
    const char *sub = pos[0], *vault = pos[1];
    bool set = strcmp(sub, "set") == 0, get = strcmp(sub, "get") == 0,
         del = strcmp(sub, "delete") == 0;
    if (!set && !get && !del)
        return floe_cli_usage_error("notify", NOTIFY_USAGE, "unknown subcommand '%s'", sub);
    struct floe_vault_notifications cfg = {0};
    if (set) {
        if (!topic)
            return floe_cli_usage_error("notify", NOTIFY_USAGE, "set needs --sns-topic ARN");
        if (strlen(topic) >= sizeof(cfg.sns_topic))
            return floe_cli_usage_error("notify", NOTIFY_USAGE, "--sns-topic is too long");
        snprintf(cfg.sns_topic, sizeof(cfg.sns_topic), "%s", topic);
        cfg.events = FLOE_NOTIFY_ARCHIVE_RETRIEVAL | FLOE_NOTIFY_INVENTORY_RETRIEVAL;
        if (events && parse_events(events, &cfg.events))
            return 2;
    }
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "notify", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    if (set)
        rc = floe_job_set_notifications(c, vault, &cfg, &err);
    else if (del)
        rc = floe_job_delete_notifications(c, vault, &err);
    else
        rc = floe_job_get_notifications(c, vault, &cfg, &err);
    floe_client_destroy(c);
    if (rc)
        return floe_cli_fail("notify", &err);
    if (get) {
        if (cli->json) {
            json_t *ev = json_array();
            if (cfg.events & FLOE_NOTIFY_ARCHIVE_RETRIEVAL)
                json_array_append_new(ev, json_string("ArchiveRetrievalCompleted"));
            if (cfg.events & FLOE_NOTIFY_INVENTORY_RETRIEVAL)
                json_array_append_new(ev, json_string("InventoryRetrievalCompleted"));
            json_t *o = json_pack("{s:s, s:o}", "SNSTopic", cfg.sns_topic, "Events", ev);
            floe_cli_json_print(stdout, o);
        } else {
            printf("SNSTopic: %s\nEvents:", cfg.sns_topic);
            if (cfg.events & FLOE_NOTIFY_ARCHIVE_RETRIEVAL)
                printf(" ArchiveRetrievalCompleted");
            if (cfg.events & FLOE_NOTIFY_INVENTORY_RETRIEVAL)
                printf(" InventoryRetrievalCompleted");
            printf("\n");
        }
    } else if (cli->json) { /* set / delete: say what now holds, as vault delete does */
        json_t *o =
            json_pack("{s:s, s:s}", "VaultName", vault, "Notifications", set ? "set" : "deleted");
        floe_cli_json_print(stdout, o);
    } else if (!cli->quiet) {
        printf("%s notifications of vault %s\n", set ? "set" : "deleted", vault);
    }
    return 0;
}
