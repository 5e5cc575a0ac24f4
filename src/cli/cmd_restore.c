/*
 * cmd_restore.c - `floe restore VAULT [PATH...] --to DIR [options]`: files back from a vault,
 * planned from the backup catalog (floe/restore.h; behaviour in docs/backup.md, "Restore").
 *
 * Output: a summary (text, or one JSON object with --json); warnings on stderr (and, with
 * --json, as {"warning":...} lines); progress on the common line (progress.h: redrawn on a
 * terminal, a log line every 10 s otherwise), the phase, jobs and files as its name. Exit status: 0
 * all restored (or already there), 3 partial, 1 failure, 2 usage, 130 interrupted (run the same
 * command again to continue).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "notifywait.h"
#include "progress.h"

#include "floe/restore.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTORE_USAGE                                                                              \
    "floe restore VAULT [PATH...] --to DIR [--include PATTERN] [--exclude PATTERN]\n"              \
    "             [--filter RULE] [--tier Expedited|Standard|Bulk] [--overwrite] [--dry-run]\n"    \
    "             [--catalog PATH] [--poll-interval SECONDS] [--notify-queue SQS_URL]\n"           \
    "PATH: restore only files at or below these paths (as backed up: absolute). Defaults:\n"       \
    "--tier Standard, existing files that differ are kept (--overwrite replaces them), the\n"      \
    "catalog in $XDG_DATA_HOME/floe, --poll-interval 1 s growing to 15 min (each job).\n"          \
    "--notify-queue: the jobs' completions read from this SQS queue, subscribed to the vault's\n"  \
    "notification topic (ArchiveRetrievalCompleted); DescribeJob then only every\n"                \
    "--poll-interval (15 min by default) in case a message is lost."

struct ctx {
    const struct floe_cli *cli;
    struct floe_progress_line *pl;     /* created at the first report */
    struct floe_restore_progress last; /* the last report (its phase is a static string) */
};

static void on_warn(const char *path, const char *message, void *user)
{
    struct ctx *x = user;
    floe_progress_clear(x->pl);
    floe_cli_warning(x->cli, "restore", path, message);
}

/* The common line with what is being done as its name: "waiting for job ABC... (InProgress,
 * 120 s), jobs 0/2, files 0/51". */
static void show(struct ctx *x, const char *doing)
{
    if (!x->pl)
        x->pl = floe_progress_new("restore", 1, !x->cli->quiet && !x->cli->json);
    const struct floe_restore_progress *p = &x->last;
    char name[256];
    snprintf(name, sizeof(name), "%s, jobs %llu/%llu, files %llu/%llu", doing,
             (unsigned long long)p->jobs_done, (unsigned long long)p->jobs_total,
             (unsigned long long)p->files_done, (unsigned long long)p->files_total);
    floe_progress_set_name(x->pl, name);
    floe_progress_update(x->pl, 0, p->bytes_done, p->bytes_total);
}

/* Called at each phase and each file extracted: the progress line decides what is shown. */
static void on_progress(const struct floe_restore_progress *p, void *user)
{
    struct ctx *x = user;
    x->last = *p;
    show(x, p->phase);
}

/* Called at each DescribeJob of a job waited for (1 s apart at first, then up to 15 min):
 * what keeps a log alive through the hours a job takes. */
static void on_wait(const struct floe_job_info *j, double waited, void *user)
{
    struct ctx *x = user;
    char doing[96];
    snprintf(doing, sizeof(doing), "waiting for job %.16s... (%s, %.0f s)", j->job_id,
             j->status_code, waited);
    show(x, doing);
}

static void print_summary(const struct floe_cli *cli, const struct floe_restore_options *o,
                          const struct floe_restore_result *r)
{
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "dry_run", json_boolean(o->dry_run));
        json_object_set_new(j, "files", json_integer((json_int_t)r->files));
        json_object_set_new(j, "bytes", json_integer((json_int_t)r->bytes));
        json_object_set_new(j, "files_skipped", json_integer((json_int_t)r->files_skipped));
        json_object_set_new(j, "files_failed", json_integer((json_int_t)r->files_failed));
        json_object_set_new(j, "jobs", json_integer((json_int_t)r->jobs));
        json_object_set_new(j, "jobs_reused", json_integer((json_int_t)r->jobs_reused));
        json_object_set_new(j, "bytes_retrieved", json_integer((json_int_t)r->bytes_retrieved));
        json_object_set_new(j, "resumed", json_boolean(r->resumed));
        json_object_set_new(j, "partial", json_boolean(r->partial));
        json_object_set_new(j, "seconds", floe_cli_jreal(r->seconds, 3));
        static const char *const keys[FLOE_RESTORE_TIERS][2] = {
            {"est_usd_expedited", "wait_hours_expedited"},
            {"est_usd_standard", "wait_hours_standard"},
            {"est_usd_bulk", "wait_hours_bulk"}};
        json_object_set_new(j, "files_planned", json_integer((json_int_t)r->files_planned));
        json_object_set_new(j, "bytes_planned", json_integer((json_int_t)r->bytes_planned));
        for (int t = 0; t < FLOE_RESTORE_TIERS; t++) {
            json_object_set_new(j, keys[t][0], floe_cli_jreal(r->estimates[t].usd, 6));
            json_object_set_new(j, keys[t][1], floe_cli_jreal(r->estimates[t].hours, 3));
        }
        floe_cli_json_print(stdout, j);
        return;
    }
    if (o->dry_run) {
        printf("plan: %llu files (%llu bytes) from %llu jobs retrieving %llu bytes (%llu "
               "requests); %llu files already there or kept\n",
               (unsigned long long)r->files_planned, (unsigned long long)r->bytes_planned,
               (unsigned long long)r->jobs, (unsigned long long)r->bytes_retrieved,
               (unsigned long long)r->jobs, (unsigned long long)r->files_skipped);
        for (int t = 0; t < FLOE_RESTORE_TIERS && r->estimates[t].tier; t++)
            printf("  %-10s about $%.4f, jobs ready in about %.1f h\n", r->estimates[t].tier,
                   r->estimates[t].usd, r->estimates[t].hours);
    } else
        printf("restored %llu files (%llu bytes) from %llu jobs (%llu reused); %llu skipped, "
               "%llu failed, %.2f s\n",
               (unsigned long long)r->files, (unsigned long long)r->bytes,
               (unsigned long long)r->jobs, (unsigned long long)r->jobs_reused,
               (unsigned long long)r->files_skipped, (unsigned long long)r->files_failed,
               r->seconds);
}

int floe_cmd_restore(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_restore_options o = {0};
    struct floe_cli_list filters = {0};
    const char *poll = NULL, *queue = NULL;
    const struct floe_cli_opt opts[] = {
        {"--to", NULL, &o.to, NULL},
        {"--tier", NULL, &o.tier, NULL},
        {"--catalog", NULL, &o.catalog_path, NULL},
        {"--overwrite", NULL, NULL, &o.overwrite},
        {"--dry-run", NULL, NULL, &o.dry_run},
        {"--poll-interval", NULL, &poll, NULL},
        {"--notify-queue", NULL, &queue, NULL},
        {NULL, NULL, NULL, NULL},
    };
    static const char *const list_names[] = {"--include", "--exclude", "--filter", NULL};
    const char **pos = calloc((size_t)argc, sizeof(char *));
    int npos = 0;
    int nargs = floe_cli_take_list("restore", RESTORE_USAGE, argc, argv, 1, list_names, &filters);
    int rc = nargs < 0
                 ? 2
                 : floe_cli_parse("restore", RESTORE_USAGE, nargs, argv, 1, opts, pos, argc, &npos);
    if (!rc && npos < 1)
        rc = floe_cli_usage_error("restore", RESTORE_USAGE, "missing VAULT");
    if (!rc && !o.to)
        rc = floe_cli_usage_error("restore", RESTORE_USAGE, "--to DIR is required");
    if (!rc && o.tier && strcasecmp(o.tier, "Expedited") && strcasecmp(o.tier, "Standard") &&
        strcasecmp(o.tier, "Bulk"))
        rc = floe_cli_usage_error("restore", RESTORE_USAGE,
                                  "--tier must be Expedited, Standard or Bulk, not '%s'", o.tier);
    uint64_t poll_ms = 0;
    if (!rc && poll)
        rc = floe_cli_parse_seconds("restore", RESTORE_USAGE, "--poll-interval", poll, &poll_ms);
    char **rules = rc ? NULL : floe_cli_filter_rules(&filters);
    if (rc) {
        free(filters.items);
        free(pos);
        return rc < 0 ? 0 : rc;
    }
    o.vault = pos[0];
    o.paths = pos + 1;
    o.npaths = (size_t)npos - 1;
    o.filter_rules = (const char *const *)rules;
    o.nfilter_rules = filters.n;
    struct floe_client *client = NULL;
    int status = 1;
    struct floe_cli_notify *nq = NULL;
    floe_cli_poll_options(poll_ms, &o.wait);
    if (floe_cli_client(cli, "restore", NULL, &client) == 0 &&
        (!queue || (nq = floe_cli_notify_open(client, "restore", queue)))) {
        struct ctx x = {.cli = cli};
        if (nq)
            floe_cli_notify_wait_options(nq, floe_cli_interval_ms(poll_ms), &o.wait);
        o.cancel = floe_cli_cancel_on_sigint();
        o.warn = on_warn;
        o.progress = on_progress;
        o.wait.progress = on_wait;
        o.wait.progress_user = &x;
        o.user = &x;
        struct floe_restore_result r;
        struct floe_error err = {0};
        int xrc = floe_restore(client, &o, &r, &err);
        floe_progress_destroy(x.pl);
        status = floe_cli_outcome("restore", xrc, &err,
                                  "the plan and progress are in the catalog: run the same "
                                  "command again to continue");
        if (status < 0) {
            print_summary(cli, &o, &r);
            status = r.partial ? 3 : 0;
        }
    }
    floe_cli_notify_close(nq);
    floe_client_destroy(client);
    floe_cli_filter_rules_free(rules, filters.n);
    free(filters.items);
    free(pos);
    return status;
}
