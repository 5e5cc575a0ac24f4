/*
 * cmd_backup.c - `floe backup SOURCE... VAULT [options]`: an incremental backup of directories
 * into a vault with a catalog (floe/backup.h; behaviour in docs/backup.md).
 *
 * Output: a summary (text, or one JSON object with --json); --dry-run --list prints the plan's
 * files first (one line, or one JSON object, each). Warnings about skipped files go to stderr
 * (and, with --json, as {"warning":...} lines). Exit status: 0 every file backed up, 3 partial
 * (some files skipped or failed; the rest is recorded), 1 failure, 2 usage, 130 interrupted.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "progress.h"

#include "floe/backup.h"
#include "floe/range.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKUP_USAGE                                                                               \
    "floe backup SOURCE... VAULT [--include PATTERN] [--exclude PATTERN] [--filter RULE]\n"        \
    "            [--follow] [--one-file-system] [--dry-run [--list]] [--checksum]\n"               \
    "            [--delete-removed] [--max-files N] [--max-bytes SIZE]\n"                          \
    "            [--layout packed|file-per-archive] [--pack-threshold SIZE] [--pack-size SIZE]\n"  \
    "            [--compress[=LEVEL]] [--concurrency N] [--part-size SIZE]\n"                      \
    "            [--memory-limit SIZE] [--catalog PATH] [--no-snapshot]\n"                         \
    "            [--description-format floe|mt2]\n"                                                \
    "Filters are rsync's: the first rule that matches decides (--include P is '+ P', --exclude\n"  \
    "P is '- P'). Defaults: --layout packed, --pack-threshold 4MiB, --pack-size 1GiB,\n"           \
    "--concurrency adaptive (small-file requests in flight from 16 up to 64, halved on\n"          \
    "retries; N = fixed), --compress off (level 3 when given without one), --description-format\n" \
    "floe (mt2: mt-aws-glacier's, with --layout file-per-archive), the catalog in\n"               \
    "$XDG_DATA_HOME/floe. Exit status 3: partial (some files skipped; see the warnings)."

struct ctx {
    const struct floe_cli *cli;
    bool list;
    struct floe_progress_line *pl;
};

static const char *change_name(enum floe_backup_change c)
{
    static const char *const names[] = {"new", "changed", "unchanged", "removed"};
    return (unsigned)c < 4 ? names[c] : "?";
}

static void on_plan(const struct floe_backup_plan_entry *e, void *user)
{
    struct ctx *x = user;
    if (!x->list || e->change == FLOE_BACKUP_UNCHANGED)
        return;
    if (x->cli->json) {
        json_t *o =
            json_pack("{s:s, s:o, s:I, s:b}", "plan", change_name(e->change), "path",
                      floe_cli_jstr(e->path), "size", (json_int_t)e->size, "packed", e->packed);
        floe_cli_json_print(stdout, o);
    } else {
        printf("%-8s %12llu  %s\n", change_name(e->change), (unsigned long long)e->size, e->path);
    }
}

static void on_warn(const char *path, const char *message, void *user)
{
    struct ctx *x = user;
    floe_progress_clear(x->pl);
    floe_cli_warning(x->cli, "backup", path, message);
}

static void on_progress(const struct floe_backup_progress *p, void *user)
{
    struct ctx *x = user;
    floe_progress_update(x->pl, 0, p->bytes_done, p->bytes_total);
}

static json_t *summary_json(const struct floe_backup_options *o, const struct floe_backup_result *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "dry_run", json_boolean(o->dry_run));
    json_object_set_new(j, "vault", json_string(o->vault));
    const struct {
        const char *k;
        uint64_t v;
    } n[] = {
        {"files_new", r->files_new},
        {"files_changed", r->files_changed},
        {"files_unchanged", r->files_unchanged},
        {"files_removed", r->files_removed},
        {"files_skipped", r->files_skipped},
        {"files_failed", r->files_failed},
        {"files_deferred", r->files_deferred},
        {"files_linked", r->files_linked},
        {"specials", r->specials},
        {"symlinks", r->symlinks},
        {"bytes_planned", r->bytes_planned},
        {"bytes_uploaded", r->bytes_uploaded},
        {"archives", r->archives},
        {"packs", r->packs},
        {"requests", r->requests},
    };
    for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++)
        json_object_set_new(j, n[i].k, json_integer((json_int_t)n[i].v));
    json_object_set_new(j, "est_request_usd", floe_cli_jreal(r->est_request_usd, 6));
    json_object_set_new(j, "est_storage_usd_month", floe_cli_jreal(r->est_storage_usd_month, 6));
    json_object_set_new(j, "seconds", floe_cli_jreal(r->seconds, 3));
    json_object_set_new(j, "partial", json_boolean(r->partial));
    json_object_set_new(j, "catalog", floe_cli_jstr(r->catalog_path));
    if (r->snapshot_archive_id[0])
        json_object_set_new(j, "snapshot_archive_id", json_string(r->snapshot_archive_id));
    return j;
}

static void print_summary(const struct floe_cli *cli, const struct floe_backup_options *o,
                          const struct floe_backup_result *r)
{
    if (cli->json) {
        json_t *j = summary_json(o, r);
        floe_cli_json_print(stdout, j);
        return;
    }
    printf("%s: %llu new, %llu changed, %llu unchanged, %llu removed, %llu skipped%s\n",
           o->dry_run ? "plan" : "backup", (unsigned long long)r->files_new,
           (unsigned long long)r->files_changed, (unsigned long long)r->files_unchanged,
           (unsigned long long)r->files_removed, (unsigned long long)r->files_skipped,
           r->files_deferred ? " (more left for the next run by --max-files/--max-bytes)" : "");
    if (r->files_linked || r->specials || r->symlinks)
        printf("%llu hard links recorded with their first path's content; not backed up: %llu "
               "devices, sockets or FIFOs, %llu symlinks (--follow follows them)\n",
               (unsigned long long)r->files_linked, (unsigned long long)r->specials,
               (unsigned long long)r->symlinks);
    if (o->dry_run)
        printf("would upload %llu bytes in about %llu requests: about $%.4f in requests, "
               "$%.4f a month of storage (prices: docs/backup.md)\n",
               (unsigned long long)r->bytes_planned, (unsigned long long)r->requests,
               r->est_request_usd, r->est_storage_usd_month);
    else
        printf("uploaded %llu bytes in %llu archives (%llu packs) in %.2f s; catalog %s\n",
               (unsigned long long)r->bytes_uploaded, (unsigned long long)r->archives,
               (unsigned long long)r->packs, r->seconds, r->catalog_path);
}

/* Options with values, parsed into o; 0 or a usage error (2). */
static int parse_values(struct floe_backup_options *o, const char *const v[10], bool compress)
{
    const char *const names[9] = {"--max-files",    "--max-bytes",   "--pack-threshold",
                                  "--pack-size",    "--concurrency", "--part-size",
                                  "--memory-limit", "--compress",    "--layout"};
    uint64_t n = 0;
    int rc = 0;
    if (!rc && v[0] &&
        !(rc = floe_cli_parse_uint("backup", BACKUP_USAGE, names[0], v[0], UINT64_MAX, &n)))
        o->max_files = n;
    if (!rc && v[1])
        rc = floe_cli_parse_size("backup", BACKUP_USAGE, names[1], v[1], &o->max_bytes);
    if (!rc && v[2])
        rc = floe_cli_parse_size("backup", BACKUP_USAGE, names[2], v[2], &o->pack_threshold);
    if (!rc && v[3])
        rc = floe_cli_parse_size("backup", BACKUP_USAGE, names[3], v[3], &o->pack_size);
    /* "adaptive" is the default (0), see --help */
    const char *conc = v[4] && strcmp(v[4], "adaptive") != 0 ? v[4] : NULL;
    if (!rc && conc &&
        !(rc = floe_cli_parse_uint("backup", BACKUP_USAGE, names[4], conc, 1024, &n))) {
        if (n == 0)
            rc = floe_cli_usage_error("backup", BACKUP_USAGE, "--concurrency must be 1 or more");
        o->concurrency = (unsigned)n;
    }
    if (!rc && v[5])
        rc = floe_cli_parse_size("backup", BACKUP_USAGE, names[5], v[5], &o->part_size);
    if (!rc && v[6])
        rc = floe_cli_parse_size("backup", BACKUP_USAGE, names[6], v[6], &o->memory_limit);
    if (!rc && compress) {
        o->compress_level = 3;
        if (v[7] && !(rc = floe_cli_parse_uint("backup", BACKUP_USAGE, names[7], v[7], 19, &n))) {
            if (n == 0)
                rc = floe_cli_usage_error("backup", BACKUP_USAGE,
                                          "--compress level must be 1 to 19");
            o->compress_level = (int)n;
        }
    }
    if (!rc && v[8]) {
        if (strcmp(v[8], "packed") == 0)
            o->layout = FLOE_BACKUP_PACKED;
        else if (strcmp(v[8], "file-per-archive") == 0)
            o->layout = FLOE_BACKUP_FILE_PER_ARCHIVE;
        else
            rc =
                floe_cli_usage_error("backup", BACKUP_USAGE,
                                     "--layout must be packed or file-per-archive, not '%s'", v[8]);
    }
    if (!rc && v[9]) {
        if (strcmp(v[9], "floe") == 0)
            o->description_format = FLOE_BACKUP_DESC_FLOE;
        else if (strcmp(v[9], "mt2") == 0)
            o->description_format = FLOE_BACKUP_DESC_MT2;
        else
            rc = floe_cli_usage_error("backup", BACKUP_USAGE,
                                      "--description-format must be floe or mt2, not '%s'", v[9]);
    }
    return rc;
}

int floe_cmd_backup(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_backup_options o = {0};
    struct floe_cli_list filters = {0};
    const char *v[10] = {0};
    bool compress = false, list = false;
    const struct floe_cli_opt opts[] = {
        {"--follow", NULL, NULL, &o.follow},
        {"--one-file-system", NULL, NULL, &o.one_file_system},
        {"--dry-run", NULL, NULL, &o.dry_run},
        {"--list", NULL, NULL, &list},
        {"--checksum", NULL, NULL, &o.checksum},
        {"--delete-removed", NULL, NULL, &o.delete_removed},
        {"--max-files", NULL, &v[0], NULL},
        {"--max-bytes", NULL, &v[1], NULL},
        {"--pack-threshold", NULL, &v[2], NULL},
        {"--pack-size", NULL, &v[3], NULL},
        {"--concurrency", NULL, &v[4], NULL},
        {"--part-size", NULL, &v[5], NULL},
        {"--memory-limit", NULL, &v[6], NULL},
        {"--compress", NULL, &v[7], &compress},
        {"--layout", NULL, &v[8], NULL},
        {"--description-format", NULL, &v[9], NULL},
        {"--catalog", NULL, &o.catalog_path, NULL},
        {"--no-snapshot", NULL, NULL, &o.no_snapshot},
        {NULL, NULL, NULL, NULL},
    };
    static const char *const list_names[] = {"--include", "--exclude", "--filter", NULL};
    const char **pos = calloc((size_t)argc, sizeof(char *));
    int npos = 0;
    int nargs = floe_cli_take_list("backup", BACKUP_USAGE, argc, argv, 1, list_names, &filters);
    int rc = nargs < 0
                 ? 2
                 : floe_cli_parse("backup", BACKUP_USAGE, nargs, argv, 1, opts, pos, argc, &npos);
    if (!rc)
        rc = parse_values(&o, v, compress);
    if (!rc && npos < 2)
        rc = floe_cli_usage_error("backup", BACKUP_USAGE,
                                  npos ? "missing VAULT (the last argument)"
                                       : "missing SOURCE and VAULT");
    if (!rc && list && !o.dry_run)
        rc = floe_cli_usage_error("backup", BACKUP_USAGE, "--list goes with --dry-run");
    char **rules = rc ? NULL : floe_cli_filter_rules(&filters);
    if (rc) {
        free(filters.items);
        free(pos);
        return rc < 0 ? 0 : rc;
    }
    o.vault = pos[npos - 1];
    o.sources = pos;
    o.nsources = (size_t)npos - 1;
    o.filter_rules = (const char *const *)rules;
    o.nfilter_rules = filters.n;

    struct floe_cli_client_opts copts = {
        .max_connections = o.concurrency ? o.concurrency : FLOE_BACKUP_DEFAULT_CONCURRENCY};
    struct floe_client *client = NULL;
    int status = 1;
    if (floe_cli_client(cli, "backup", &copts, &client) == 0) {
        struct ctx x = {.cli = cli, .list = list};
        x.pl = floe_progress_new("backup", 1, !cli->quiet && !cli->json && !o.dry_run);
        o.cancel = floe_cli_cancel_on_sigint();
        o.plan = on_plan;
        o.warn = on_warn;
        o.progress = on_progress;
        o.user = &x;
        struct floe_backup_result r;
        struct floe_error err = {0};
        int brc = floe_backup(client, &o, &r, &err);
        floe_progress_clear(x.pl);
        floe_progress_destroy(x.pl);
        status = floe_cli_outcome("backup", brc, &err,
                                  "what was uploaded is recorded in the catalog: run the same "
                                  "command again to continue");
        if (status < 0) {
            print_summary(cli, &o, &r);
            status = r.partial ? 3 : 0;
        }
        floe_client_destroy(client);
    }
    floe_cli_filter_rules_free(rules, filters.n);
    free(filters.items);
    free(pos);
    return status;
}
