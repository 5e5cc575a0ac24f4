/*
 * cmd_vault.c - `floe vault create|describe|list|delete`.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define VAULT_USAGE                                                                                \
    "floe vault create|describe|delete VAULT | floe vault list\n"                                  \
    "       floe vault policy set|get|delete VAULT ...   (access policy)\n"                        \
    "       floe vault lock initiate|get|complete|abort VAULT ...\n"                               \
    "       floe vault tag add|remove|list VAULT ...\n"                                            \
    "       floe vault purge VAULT ...   (delete every archive, from the inventory)\n"             \
    "'floe vault policy|lock|tag|purge --help' describes those."

static json_t *vault_json(const struct floe_vault_info *v)
{
    json_t *o = json_object();
    json_object_set_new(o, "VaultARN", json_string(v->vault_arn));
    json_object_set_new(o, "VaultName", json_string(v->vault_name));
    json_object_set_new(o, "CreationDate", json_string(v->creation_date));
    json_object_set_new(o, "LastInventoryDate",
                        v->last_inventory_date[0] ? json_string(v->last_inventory_date)
                                                  : json_null());
    json_object_set_new(o, "NumberOfArchives",
                        v->number_of_archives >= 0 ? json_integer(v->number_of_archives)
                                                   : json_null());
    json_object_set_new(o, "SizeInBytes",
                        v->size_in_bytes >= 0 ? json_integer(v->size_in_bytes) : json_null());
    return o;
}

static void print_json(json_t *o)
{
    floe_cli_json_print(stdout, o);
}

struct list_ctx {
    bool json;
    int n;
};

/* --json: one object per vault; text: the header goes out with the first row, so a listing
 * that fails before any row prints nothing on stdout */
static int on_vault(const struct floe_vault_info *v, void *user)
{
    struct list_ctx *lc = user;
    if (lc->n++ == 0 && !lc->json)
        printf("%-40s %10s %16s  %s\n", "VAULT", "ARCHIVES", "BYTES", "CREATED");
    if (lc->json) {
        print_json(vault_json(v));
    } else {
        char archives[32] = "-", bytes[32] = "-";
        if (v->number_of_archives >= 0)
            snprintf(archives, sizeof(archives), "%lld", (long long)v->number_of_archives);
        if (v->size_in_bytes >= 0)
            snprintf(bytes, sizeof(bytes), "%lld", (long long)v->size_in_bytes);
        printf("%-40s %10s %16s  %s\n", v->vault_name, archives, bytes, v->creation_date);
    }
    return 0;
}

int floe_cmd_vault(const struct floe_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n", VAULT_USAGE);
        return 0;
    }
    if (argc < 2)
        return floe_cli_usage_error("vault", VAULT_USAGE, "missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "policy") == 0 || strcmp(sub, "lock") == 0 || strcmp(sub, "tag") == 0)
        return floe_cmd_vault_sub(cli, argc, argv); /* sub-resources: cmd_vault_sub.c */
    if (strcmp(sub, "purge") == 0)
        return floe_cmd_vault_purge(cli, argc - 1, argv + 1); /* cmd_purge.c */
    bool list = strcmp(sub, "list") == 0;
    if (!list && strcmp(sub, "create") && strcmp(sub, "describe") && strcmp(sub, "delete"))
        return floe_cli_usage_error("vault", VAULT_USAGE, "unknown subcommand '%s'", sub);
    const struct floe_cli_opt none[] = {{NULL, NULL, NULL, NULL}};
    const char *pos[2] = {NULL, NULL};
    int npos = 0; /* after "--" a vault name may start with '-' */
    int prc = floe_cli_parse("vault", VAULT_USAGE, argc, argv, 2, none, pos, 2, &npos);
    if (prc)
        return prc < 0 ? 0 : prc;
    if (list ? npos != 0 : npos != 1)
        return floe_cli_usage_error("vault", VAULT_USAGE,
                                    list ? "list takes no arguments" : "%s needs exactly one VAULT",
                                    sub);
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "vault", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    int rc;
    const char *name = list ? NULL : pos[0];
    if (list) {
        struct list_ctx lc = {cli->json, 0};
        rc = floe_client_list_vaults(c, 0, on_vault, &lc, &err);
        fflush(stdout);
    } else if (strcmp(sub, "create") == 0) {
        rc = floe_client_create_vault(c, name, &err);
        if (rc == FLOE_OK) {
            if (cli->json)
                print_json(json_pack("{s:s}", "VaultName", name));
            else if (!cli->quiet)
                printf("created vault %s\n", name);
        }
    } else if (strcmp(sub, "describe") == 0) {
        struct floe_vault_info v;
        rc = floe_client_describe_vault(c, name, &v, &err);
        if (rc == FLOE_OK) {
            if (cli->json) {
                print_json(vault_json(&v));
            } else {
                printf("VaultName         %s\nVaultARN          %s\nCreationDate      %s\n",
                       v.vault_name, v.vault_arn, v.creation_date);
                printf("LastInventoryDate %s\n",
                       v.last_inventory_date[0] ? v.last_inventory_date : "(none yet)");
                if (v.number_of_archives >= 0)
                    printf("NumberOfArchives  %lld\n", (long long)v.number_of_archives);
                if (v.size_in_bytes >= 0)
                    printf("SizeInBytes       %lld\n", (long long)v.size_in_bytes);
            }
        }
    } else {
        rc = floe_client_delete_vault(c, name, &err);
        if (rc == FLOE_OK && !cli->quiet && !cli->json)
            printf("deleted vault %s\n", name);
        if (rc == FLOE_OK && cli->json)
            print_json(json_pack("{s:s}", "VaultName", name));
    }
    floe_client_destroy(c);
    return rc ? floe_cli_fail("vault", &err) : 0;
}
