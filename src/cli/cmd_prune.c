/*
 * cmd_prune.c - `floe prune VAULT --older-than DAYS [--dry-run] [--yes] [--catalog PATH]`:
 * deletes the archives of a backup that nothing needs any more (floe/prune.h; behaviour in
 * docs/backup.md, "floe prune").
 *
 * Output: one line per archive (--dry-run: what would go, with the early-deletion charge), then
 * a summary; with --json one object per archive and the summary last. Without --yes it asks on
 * the terminal, naming the vault and the count; without a terminal it refuses (exit 2). Exit
 * status: 0 done (or nothing to prune), 1 failure (a vault lock that denies deletion is named)
 * or not confirmed, 2 usage, 130 interrupted.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/prune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRUNE_USAGE                                                                                \
    "floe prune VAULT --older-than DAYS [--dry-run] [--yes] [--catalog PATH]\n"                    \
    "Deletes archives whose files were all superseded or removed more than DAYS days ago, and\n"   \
    "catalog snapshots beyond the newest 3. --dry-run lists them with the early-deletion\n"        \
    "charge (archives younger than 90 days). Without --yes it asks for confirmation on the\n"      \
    "terminal. The catalog defaults to the one floe backup uses."

struct ctx {
    const struct floe_cli *cli;
    bool yes;
    bool no_terminal; /* confirmation needed, none possible */
};

static void on_archive(const struct floe_prune_entry *e, void *user)
{
    struct ctx *x = user;
    if (x->cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "archive_id", json_string(e->archive_id));
        json_object_set_new(j, "kind", json_string(e->kind));
        json_object_set_new(j, "description", floe_cli_jstr(e->description));
        json_object_set_new(j, "size", json_integer((json_int_t)e->size));
        json_object_set_new(j, "created_at", json_integer(e->created_at));
        json_object_set_new(j, "age_days", floe_cli_jreal(e->age_days, 2));
        json_object_set_new(j, "early_deletion_usd", floe_cli_jreal(e->early_deletion_usd, 8));
        json_object_set_new(j, "storage_usd_month", floe_cli_jreal(e->storage_usd_month, 8));
        json_object_set_new(j, "deleted", json_boolean(e->deleted));
        floe_cli_json_print(stdout, j);
        return;
    }
    printf("%s %-7s %12llu bytes, %.1f days old, early-deletion charge $%.6f  %s\n",
           e->deleted ? "deleted" : "would delete", e->kind, (unsigned long long)e->size,
           e->age_days, e->early_deletion_usd, e->archive_id);
}

static bool confirm(const char *vault, uint64_t archives, uint64_t bytes, void *user)
{
    struct ctx *x = user;
    if (x->yes)
        return true;
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)) {
        x->no_terminal = true;
        return false;
    }
    fprintf(stderr,
            "Delete %llu archives (%llu bytes) from vault %s? This cannot be undone. "
            "[y/N] ",
            (unsigned long long)archives, (unsigned long long)bytes, vault);
    char line[16] = "";
    if (!fgets(line, sizeof(line), stdin))
        return false;
    return line[0] == 'y' || line[0] == 'Y';
}

static void print_summary(const struct floe_cli *cli, bool dry_run,
                          const struct floe_prune_result *r)
{
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "dry_run", json_boolean(dry_run));
        json_object_set_new(j, "archives", json_integer((json_int_t)r->archives));
        json_object_set_new(j, "bytes", json_integer((json_int_t)r->bytes));
        json_object_set_new(j, "archives_kept", json_integer((json_int_t)r->archives_kept));
        json_object_set_new(j, "early_deletion_usd", floe_cli_jreal(r->early_deletion_usd, 8));
        json_object_set_new(j, "storage_usd_month", floe_cli_jreal(r->storage_usd_month, 8));
        floe_cli_json_print(stdout, j);
        return;
    }
    printf("%s %llu archives (%llu bytes), kept %llu; early-deletion charge $%.6f, storage "
           "stopped $%.6f a month\n",
           dry_run ? "would delete" : "deleted", (unsigned long long)r->archives,
           (unsigned long long)r->bytes, (unsigned long long)r->archives_kept,
           r->early_deletion_usd, r->storage_usd_month);
}

int floe_cmd_prune(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_prune_options o = {0};
    const char *days = NULL;
    struct ctx x = {cli, false, false};
    const struct floe_cli_opt opts[] = {
        {"--older-than", NULL, &days, NULL},
        {"--dry-run", NULL, NULL, &o.dry_run},
        {"--yes", NULL, NULL, &x.yes},
        {"--catalog", NULL, &o.catalog_path, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = floe_cli_parse("prune", PRUNE_USAGE, argc, argv, 1, opts, pos, 1, &npos);
    if (!rc && npos < 1)
        rc = floe_cli_usage_error("prune", PRUNE_USAGE, "missing VAULT");
    if (!rc && !days)
        rc = floe_cli_usage_error("prune", PRUNE_USAGE, "--older-than DAYS is required");
    if (!rc)
        rc = floe_cli_parse_uint("prune", PRUNE_USAGE, "--older-than", days, 100000,
                                 &o.older_than_days);
    if (rc)
        return rc < 0 ? 0 : rc;
    o.vault = pos[0];
    struct floe_client *client = NULL;
    if (floe_cli_client(cli, "prune", NULL, &client))
        return 1;
    o.cancel = floe_cli_cancel_on_sigint();
    o.confirm = confirm;
    o.on_archive = on_archive;
    o.user = &x;
    struct floe_prune_result r;
    struct floe_error err = {0};
    rc = floe_prune(client, &o, &r, &err);
    floe_client_destroy(client);
    int status = floe_cli_outcome("prune", rc, &err,
                                  "the archives deleted so far are recorded: run the same "
                                  "command again to go on");
    if (status >= 0)
        return status;
    if (r.declined && x.no_terminal)
        return floe_cli_usage_error("prune", PRUNE_USAGE,
                                    "%llu archives of vault %s would be deleted: pass --yes "
                                    "(no terminal to confirm on), or --dry-run to list them",
                                    (unsigned long long)r.archives, o.vault);
    if (r.declined) {
        fprintf(stderr, "floe prune: not confirmed; nothing deleted\n");
        return 1;
    }
    print_summary(cli, o.dry_run, &r);
    return 0;
}
