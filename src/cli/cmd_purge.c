/*
 * cmd_purge.c - `floe vault purge VAULT [options]`: delete the archives of a vault from its
 * inventory (floe/purge.h; behaviour in docs/purge.md). Asks for confirmation naming the vault
 * and the count unless --yes (required when standard input is not a terminal). Output: the plan
 * and a summary (text, or one JSON object each with --json). Exit status: 0 done, 3 done but
 * some archives were protected by a vault lock or policy, 1 failure, 2 usage, 130 interrupted
 * or not confirmed (run the same command again to continue).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "notifywait.h"
#include "progress.h"

#include "floe/purge.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PURGE_USAGE                                                                                \
    "floe vault purge VAULT [--older-than DAYS] [--include PATTERN] [--exclude PATTERN]\n"         \
    "                 [--filter RULE] [--only-migrated MANIFEST|CATALOG] [--dry-run] [--yes]\n"    \
    "                 [--max-rate N] [--concurrency N] [--inventory-job JOB_ID]\n"                 \
    "                 [--delete-vault [--wait] [--max-wait DURATION] [--poll-interval SECONDS]]\n" \
    "                 [--notify-queue SQS_URL]\n"                                                  \
    "Filters match archive descriptions (rsync rules; the first match decides). Defaults: every\n" \
    "archive, --concurrency 32, no rate limit, the newest inventory of the last day (else a new\n" \
    "inventory job, waited for). --yes is required when standard input is not a terminal.\n"       \
    "--only-migrated: only archives floe migrate verified at their destination (its manifest or\n" \
    "catalog); one it recorded with another size or tree hash stops the run, nothing deleted.\n"   \
    "--delete-vault --wait: when DeleteVault is refused (written since the last inventory),\n"     \
    "start an inventory job, wait for it, try again; at most --max-wait (72h) in all.\n"           \
    "--notify-queue: inventory jobs' completions read from this SQS queue, subscribed to the\n"    \
    "vault's notification topic (InventoryRetrievalCompleted); polls then only every\n"            \
    "--poll-interval (15 min by default) in case the message is lost."

struct ctx {
    const struct floe_cli *cli;
    const char *vault;
    bool yes;
    struct floe_progress_line *pl;
};

static json_t *plan_json(const struct floe_purge_plan *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "archives", json_integer((json_int_t)p->archives));
    json_object_set_new(o, "bytes", json_integer((json_int_t)p->bytes));
    json_object_set_new(o, "archives_kept", json_integer((json_int_t)p->archives_kept));
    json_object_set_new(o, "archives_unmigrated", json_integer((json_int_t)p->archives_unmigrated));
    if (p->inventory_date[0])
        json_object_set_new(o, "inventory_date", json_string(p->inventory_date));
    json_object_set_new(o, "archives_young", json_integer((json_int_t)p->archives_young));
    json_object_set_new(o, "early_deletion_usd", floe_cli_jreal(p->early_deletion_usd, 6));
    json_object_set_new(o, "storage_usd_month", floe_cli_jreal(p->storage_usd_month, 6));
    return o;
}

static void print_plan(const struct ctx *x, const struct floe_purge_plan *p, bool dry)
{
    if (x->cli->json) {
        json_t *o = plan_json(p);
        json_object_set_new(o, "plan", json_string(x->vault));
        floe_cli_json_print(stdout, o);
        return;
    }
    FILE *out = dry ? stdout : stderr;
    if (p->inventory_date[0])
        fprintf(out, "vault %s: inventory of %s (archives added since then are not in it)\n",
                x->vault, p->inventory_date);
    fprintf(out,
            "vault %s: %llu archives (%llu bytes) to delete, %llu kept by the filters, "
            "%llu kept as not migrated; %llu younger than 90 days (early-deletion charge about "
            "$%.4f); storage saved about $%.4f a month\n",
            x->vault, (unsigned long long)p->archives, (unsigned long long)p->bytes,
            (unsigned long long)p->archives_kept, (unsigned long long)p->archives_unmigrated,
            (unsigned long long)p->archives_young, p->early_deletion_usd, p->storage_usd_month);
}

static bool confirm(const struct floe_purge_plan *p, void *user)
{
    struct ctx *x = user;
    print_plan(x, p, false);
    if (x->yes || p->archives == 0)
        return true;
    fprintf(stderr, "Delete %llu archives from vault %s? Type the vault name to confirm: ",
            (unsigned long long)p->archives, x->vault);
    char line[512];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, x->vault) == 0;
}

static void on_protected(const char *archive_id, const char *message, void *user)
{
    struct ctx *x = user;
    floe_progress_clear(x->pl);
    floe_cli_warning(x->cli, "vault purge", archive_id, message);
}

/* The common progress line (src/cli/progress.h), counting archives: redrawn on a terminal,
 * a log line after 1 s and then every 10 s otherwise; none with --quiet or --json. Made at the
 * first deletion, so its rate and ETA leave out the inventory wait and the confirmation. */
static void on_progress(const struct floe_purge_progress *p, void *user)
{
    struct ctx *x = user;
    if (!x->pl) {
        x->pl = floe_progress_new("vault purge", 1, !x->cli->quiet && !x->cli->json);
        floe_progress_set_name(x->pl, x->vault);
        floe_progress_set_unit(x->pl, "archives");
    }
    floe_progress_update(x->pl, 0, p->deleted, p->total);
}

static void on_note(const char *message, void *user)
{
    struct ctx *x = user;
    floe_progress_clear(x->pl);
    if (!x->cli->quiet) /* stderr, also with --json: a log line about what the run waits for */
        fprintf(stderr, "floe vault purge: %s\n", message);
}

static void print_result(const struct ctx *x, const struct floe_purge_options *o,
                         const struct floe_purge_result *r)
{
    if (x->cli->json) {
        json_t *j = plan_json(&r->plan);
        json_object_set_new(j, "dry_run", json_boolean(o->dry_run));
        json_object_set_new(j, "deleted", json_integer((json_int_t)r->deleted));
        json_object_set_new(j, "already_gone", json_integer((json_int_t)r->already_gone));
        json_object_set_new(j, "protected", json_integer((json_int_t)r->protected));
        json_object_set_new(j, "resumed_from", json_integer((json_int_t)r->resumed_from));
        json_object_set_new(j, "vault_deleted", json_boolean(r->vault_deleted));
        json_object_set_new(j, "vault_inventories", json_integer(r->vault_inventories));
        json_object_set_new(j, "inventory_job_id", json_string(r->inventory_job_id));
        json_object_set_new(j, "seconds", floe_cli_jreal(r->seconds, 3));
        floe_cli_json_print(stdout, j);
        return;
    }
    if (o->dry_run) {
        print_plan(x, &r->plan, true);
        return;
    }
    printf("deleted %llu archives (%llu already gone, %llu protected) in %.2f s%s\n",
           (unsigned long long)r->deleted, (unsigned long long)r->already_gone,
           (unsigned long long)r->protected, r->seconds,
           r->vault_deleted ? "; the vault is deleted" : "");
}

/* Options with values into o; 0 or a usage error (2). */
static int parse_values(struct floe_purge_options *o, const char *older, const char *rate,
                        const char *conc)
{
    uint64_t n = 0;
    int rc = 0;
    if (older &&
        !(rc = floe_cli_parse_uint("vault purge", PURGE_USAGE, "--older-than", older, 1000000, &n)))
        o->older_than_s = n * 86400;
    if (!rc && rate &&
        !(rc = floe_cli_parse_uint("vault purge", PURGE_USAGE, "--max-rate", rate, 1000000, &n))) {
        if (n == 0)
            rc = floe_cli_usage_error("vault purge", PURGE_USAGE, "--max-rate must be 1 or more");
        o->max_rate = (double)n;
    }
    if (!rc && conc &&
        !(rc = floe_cli_parse_uint("vault purge", PURGE_USAGE, "--concurrency", conc, 1024, &n))) {
        if (n == 0)
            rc =
                floe_cli_usage_error("vault purge", PURGE_USAGE, "--concurrency must be 1 or more");
        o->concurrency = (unsigned)n;
    }
    return rc;
}

int floe_cmd_vault_purge(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_purge_options o = {0};
    struct floe_cli_list filters = {0};
    const char *older = NULL, *rate = NULL, *conc = NULL, *max_wait = NULL, *poll = NULL,
               *queue = NULL;
    bool yes = false;
    const struct floe_cli_opt opts[] = {
        {"--older-than", NULL, &older, NULL},
        {"--max-rate", NULL, &rate, NULL},
        {"--concurrency", NULL, &conc, NULL},
        {"--inventory-job", NULL, &o.inventory_job_id, NULL},
        {"--only-migrated", NULL, &o.only_migrated, NULL},
        {"--dry-run", NULL, NULL, &o.dry_run},
        {"--yes", NULL, NULL, &yes},
        {"--delete-vault", NULL, NULL, &o.delete_vault},
        {"--wait", NULL, NULL, &o.wait_vault},
        {"--max-wait", NULL, &max_wait, NULL},
        {"--poll-interval", NULL, &poll, NULL},
        {"--notify-queue", NULL, &queue, NULL},
        {NULL, NULL, NULL, NULL},
    };
    static const char *const list_names[] = {"--include", "--exclude", "--filter", NULL};
    const char *pos[2] = {0};
    int npos = 0;
    int nargs = floe_cli_take_list("vault purge", PURGE_USAGE, argc, argv, 1, list_names, &filters);
    int rc = nargs < 0
                 ? 2
                 : floe_cli_parse("vault purge", PURGE_USAGE, nargs, argv, 1, opts, pos, 2, &npos);
    if (!rc)
        rc = parse_values(&o, older, rate, conc);
    uint64_t ms = 0;
    if (!rc && max_wait &&
        !(rc = floe_cli_parse_duration("vault purge", PURGE_USAGE, "--max-wait", max_wait, &ms)))
        o.vault_wait_ms = ms ? ms : 1;
    if (!rc && poll &&
        !(rc = floe_cli_parse_seconds("vault purge", PURGE_USAGE, "--poll-interval", poll, &ms)))
        o.vault_poll_ms = floe_cli_interval_ms(ms ? ms : 1);
    if (!rc && (o.wait_vault || max_wait || poll) && !o.delete_vault)
        rc = floe_cli_usage_error("vault purge", PURGE_USAGE,
                                  "--wait, --max-wait and --poll-interval go with --delete-vault");
    if (!rc && npos != 1)
        rc = floe_cli_usage_error("vault purge", PURGE_USAGE,
                                  npos ? "one VAULT at a time" : "missing VAULT");
    if (!rc && !yes && !o.dry_run && !isatty(0))
        rc = floe_cli_usage_error("vault purge", PURGE_USAGE,
                                  "standard input is not a terminal: give --yes to delete "
                                  "without a confirmation (or --dry-run to see the plan)");
    char **rules = rc ? NULL : floe_cli_filter_rules(&filters);
    if (rc) {
        free(filters.items);
        return rc < 0 ? 0 : rc;
    }
    o.vault = pos[0];
    o.filter_rules = (const char *const *)rules;
    o.nfilter_rules = filters.n;
    struct floe_client *client = NULL;
    int status = 1;
    struct floe_cli_notify *nq = NULL;
    if (floe_cli_client(cli, "vault purge", NULL, &client) == 0 &&
        (!queue || (nq = floe_cli_notify_open(client, "vault purge", queue)))) {
        struct ctx x = {cli, o.vault, yes, NULL};
        o.notified = nq ? floe_cli_notify_wait : NULL;
        o.notified_user = nq;
        o.cancel = floe_cli_cancel_on_sigint();
        o.confirm = confirm;
        o.progress = on_progress;
        o.protected_archive = on_protected;
        o.note = on_note;
        o.user = &x;
        struct floe_purge_result r;
        struct floe_error err = {0};
        int prc = floe_purge(client, &o, &r, &err);
        floe_progress_destroy(x.pl);
        status = floe_cli_outcome("vault purge", prc, &err,
                                  "what was deleted is recorded: run the same command again to "
                                  "continue");
        if (status < 0) {
            print_result(&x, &o, &r);
            status = r.protected ? 3 : 0;
        }
    }
    floe_cli_notify_close(nq);
    floe_client_destroy(client);
    floe_cli_filter_rules_free(rules, filters.n);
    free(filters.items);
    return status;
}
