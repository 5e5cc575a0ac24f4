/*
 * cmd_catalog.c - `floe catalog ls | stats | import-mtglacier | rebuild`: the backup catalog of
 * a vault (floe/catalog_cmd.h, floe/rebuild.h; behaviour in docs/backup.md).
 *
 * Output: text on stdout, or with --json one compact object per line (ls: one per file; stats:
 * the counts, then one per run; import and rebuild: one summary). Exit status: 0 done, 1
 * failure (a malformed journal line is named), 2 usage, 130 interrupted.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/catalog_cmd.h"
#include "floe/rebuild.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CATALOG_USAGE                                                                              \
    "floe catalog ls VAULT [PATH-PREFIX] [--catalog PATH] [--all-versions]\n"                      \
    "       floe catalog stats VAULT [--catalog PATH] [--runs N]\n"                                \
    "       floe catalog import-mtglacier JOURNAL VAULT [--path-prefix P] [--catalog PATH]\n"      \
    "       floe catalog rebuild VAULT [--catalog PATH] [--inventory-job ID] [--force]\n"          \
    "                [--no-snapshot] [--tier Expedited|Standard|Bulk]\n"                           \
    "The catalog defaults to the one floe backup uses for the vault ($XDG_DATA_HOME/floe).\n"      \
    "stats lists the newest N runs (default 5). rebuild: from the newest catalog snapshot in\n"    \
    "the vault, else from archive descriptions and pack indexes; --tier default Standard."

static void print_json(json_t *o)
{
    floe_cli_json_print(stdout, o);
}

/* "2026-12-04T08:00:00Z" (or "-" for 0 / unknown). */
static const char *iso(int64_t t, bool known, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!known || !gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return "-";
    return buf;
}

/* The exit status of an engine call's status (docs/cli.md): 0 for FLOE_OK. */
static int finish(const char *cmd, int rc, const struct floe_error *err)
{
    int status = floe_cli_outcome(cmd, rc, err, NULL);
    return status < 0 ? 0 : status;
}

/* Parses argv[2..] (the subcommand is argv[1]); -1 --help, 0 ok, 2 usage (printed). */
static int parse(int argc, char **argv, const struct floe_cli_opt *opts, const char **pos,
                 int *npos, int min_pos, int max_pos)
{
    int rc = floe_cli_parse("catalog", CATALOG_USAGE, argc, argv, 2, opts, pos, max_pos, npos);
    if (!rc && *npos < min_pos)
        rc = floe_cli_usage_error("catalog", CATALOG_USAGE, "%s: missing %s", argv[1],
                                  min_pos == 2 ? "JOURNAL or VAULT" : "VAULT");
    if (!rc && *npos > max_pos)
        rc = floe_cli_usage_error("catalog", CATALOG_USAGE, "%s: too many arguments", argv[1]);
    return rc;
}

/* ---- ls ---- */

static int ls_one(const struct floe_catalog_ls_entry *e, void *user)
{
    const struct floe_cli *cli = user;
    bool current = !e->superseded_at && !e->removed_at;
    char b1[32], b2[32];
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "path", floe_cli_jstr(e->path));
        json_object_set_new(j, "size", json_integer((json_int_t)e->size));
        json_object_set_new(j, "mtime",
                            e->has_mtime ? json_integer(e->mtime_ns / 1000000000) : json_null());
        json_object_set_new(j, "kind", json_string(e->kind));
        json_object_set_new(j, "archive_id", json_string(e->archive_id));
        json_object_set_new(j, "offset", json_integer((json_int_t)e->offset));
        json_object_set_new(j, "length", json_integer((json_int_t)e->length));
        json_object_set_new(j, "compression", json_string(e->compression));
        json_object_set_new(j, "uploaded_at", json_integer(e->uploaded_at));
        json_object_set_new(j, "current", json_boolean(current));
        if (e->superseded_at)
            json_object_set_new(j, "superseded_at", json_integer(e->superseded_at));
        if (e->removed_at)
            json_object_set_new(j, "removed_at", json_integer(e->removed_at));
        print_json(j);
        return 0;
    }
    printf("%12llu  %-20s  %-7s  %s", (unsigned long long)e->size,
           iso(e->mtime_ns / 1000000000, e->has_mtime, b1), e->kind,
           current         ? ""
           : e->removed_at ? "removed "
                           : "superseded ");
    fwrite(e->path, 1, e->path_len, stdout);
    if (!current)
        printf("  (%s)", iso(e->removed_at ? e->removed_at : e->superseded_at, true, b2));
    fputc('\n', stdout);
    return 0;
}

static int cmd_ls(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_catalog_ls_options o = {0};
    const struct floe_cli_opt opts[] = {
        {"--catalog", NULL, &o.catalog_path, NULL},
        {"--all-versions", NULL, NULL, &o.all_versions},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[3];
    int npos = 0;
    int rc = parse(argc, argv, opts, pos, &npos, 1, 2);
    if (rc)
        return rc < 0 ? 0 : rc;
    o.vault = pos[0];
    o.prefix = npos > 1 ? pos[1] : NULL;
    o.fn = ls_one;
    o.user = (void *)cli;
    struct floe_client *client = NULL;
    if (floe_cli_client(cli, "catalog", NULL, &client))
        return 1;
    struct floe_error err = {0};
    rc = floe_catalog_ls(client, &o, &err);
    floe_client_destroy(client);
    return finish("catalog", rc, &err);
}

/* ---- stats ---- */

struct runs_ctx {
    const struct floe_cli *cli;
    uint64_t left;
};

static int print_run(const struct floe_catalog_run_info *r, void *user)
{
    struct runs_ctx *x = user;
    if (!x->left)
        return 1;
    x->left--;
    char b1[32];
    if (x->cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "run", json_integer((json_int_t)r->id));
        json_object_set_new(j, "started_at", json_integer(r->started_at));
        json_object_set_new(j, "ended_at", r->ended_at ? json_integer(r->ended_at) : json_null());
        json_object_set_new(j, "outcome", json_string(r->outcome));
        json_object_set_new(j, "files_new", json_integer((json_int_t)r->files_new));
        json_object_set_new(j, "files_changed", json_integer((json_int_t)r->files_changed));
        json_object_set_new(j, "files_removed", json_integer((json_int_t)r->files_removed));
        json_object_set_new(j, "files_skipped", json_integer((json_int_t)r->files_skipped));
        json_object_set_new(j, "files_failed", json_integer((json_int_t)r->files_failed));
        json_object_set_new(j, "bytes_uploaded", json_integer((json_int_t)r->bytes_uploaded));
        print_json(j);
        return 0;
    }
    printf("run %llu  %s  %-11s  new %llu, changed %llu, removed %llu, skipped %llu, failed "
           "%llu, %llu bytes\n",
           (unsigned long long)r->id, iso(r->started_at, true, b1), r->outcome,
           (unsigned long long)r->files_new, (unsigned long long)r->files_changed,
           (unsigned long long)r->files_removed, (unsigned long long)r->files_skipped,
           (unsigned long long)r->files_failed, (unsigned long long)r->bytes_uploaded);
    return 0;
}

static void print_stats(const struct floe_cli *cli, const struct floe_catalog_summary *s)
{
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "catalog", floe_cli_jstr(s->catalog_path));
        json_object_set_new(j, "files_current", json_integer((json_int_t)s->files_current));
        json_object_set_new(j, "bytes_current", json_integer((json_int_t)s->bytes_current));
        json_object_set_new(j, "file_versions", json_integer((json_int_t)s->file_versions));
        json_object_set_new(j, "archives", json_integer((json_int_t)s->archives));
        json_object_set_new(j, "archive_bytes", json_integer((json_int_t)s->archive_bytes));
        json_object_set_new(j, "archives_file", json_integer((json_int_t)s->archives_file));
        json_object_set_new(j, "archives_pack", json_integer((json_int_t)s->archives_pack));
        json_object_set_new(j, "archives_catalog", json_integer((json_int_t)s->archives_catalog));
        json_object_set_new(j, "archives_deleted", json_integer((json_int_t)s->archives_deleted));
        json_object_set_new(j, "runs", json_integer((json_int_t)s->runs));
        print_json(j);
        return;
    }
    printf("catalog        %s\n", s->catalog_path);
    printf("current files  %llu (%llu bytes)\n", (unsigned long long)s->files_current,
           (unsigned long long)s->bytes_current);
    printf("file versions  %llu\n", (unsigned long long)s->file_versions);
    printf("archives       %llu (%llu bytes): %llu file, %llu pack, %llu catalog; %llu deleted\n",
           (unsigned long long)s->archives, (unsigned long long)s->archive_bytes,
           (unsigned long long)s->archives_file, (unsigned long long)s->archives_pack,
           (unsigned long long)s->archives_catalog, (unsigned long long)s->archives_deleted);
    printf("runs           %llu\n", (unsigned long long)s->runs);
}

static int cmd_stats(const struct floe_cli *cli, int argc, char **argv)
{
    const char *catalog = NULL, *runs = NULL;
    const struct floe_cli_opt opts[] = {
        {"--catalog", NULL, &catalog, NULL},
        {"--runs", NULL, &runs, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = parse(argc, argv, opts, pos, &npos, 1, 1);
    struct runs_ctx x = {cli, 5};
    if (!rc && runs)
        rc = floe_cli_parse_uint("catalog", CATALOG_USAGE, "--runs", runs, 1000000, &x.left);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct floe_client *client = NULL;
    if (floe_cli_client(cli, "catalog", NULL, &client))
        return 1;
    struct floe_error err = {0};
    struct floe_catalog_summary s;
    /* the counts come first, the runs after them: the runs are gathered by a second call */
    rc = floe_catalog_summary(client, pos[0], catalog, &s, NULL, NULL, &err);
    if (!rc) {
        print_stats(cli, &s);
        if (x.left && !cli->json && s.runs)
            printf("newest runs:\n");
        rc = floe_catalog_summary(client, pos[0], catalog, &s, print_run, &x, &err);
    }
    floe_client_destroy(client);
    return finish("catalog", rc, &err);
}

/* ---- import-mtglacier ---- */

static int cmd_import(const struct floe_cli *cli, int argc, char **argv)
{
    const char *catalog = NULL, *prefix = NULL;
    const struct floe_cli_opt opts[] = {
        {"--catalog", NULL, &catalog, NULL},
        {"--path-prefix", NULL, &prefix, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[3];
    int npos = 0;
    int rc = parse(argc, argv, opts, pos, &npos, 2, 2);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct floe_client *client = NULL;
    if (floe_cli_client(cli, "catalog", NULL, &client))
        return 1;
    struct floe_error err = {0};
    struct floe_catalog_import_result r;
    rc = floe_catalog_import_journal(client, pos[0], pos[1], catalog, prefix, &r, &err);
    floe_client_destroy(client);
    if (rc == FLOE_E_CORRUPT) {
        fprintf(stderr, "floe catalog: %s; nothing was imported\n", err.message);
        return 1;
    }
    if (rc)
        return finish("catalog", rc, &err);
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "catalog", floe_cli_jstr(r.catalog_path));
        json_object_set_new(j, "lines", json_integer((json_int_t)r.lines));
        json_object_set_new(j, "archives_added", json_integer((json_int_t)r.archives_added));
        json_object_set_new(j, "archives_known", json_integer((json_int_t)r.archives_known));
        json_object_set_new(j, "archives_deleted", json_integer((json_int_t)r.archives_deleted));
        json_object_set_new(j, "retrieve_jobs", json_integer((json_int_t)r.retrieve_jobs));
        print_json(j);
    } else {
        printf("imported %llu lines into %s: %llu archives added, %llu already known, %llu "
               "deleted, %llu retrieval jobs (not kept)\n",
               (unsigned long long)r.lines, r.catalog_path, (unsigned long long)r.archives_added,
               (unsigned long long)r.archives_known, (unsigned long long)r.archives_deleted,
               (unsigned long long)r.retrieve_jobs);
    }
    return 0;
}

/* ---- rebuild ---- */

static void rebuild_phase(const char *phase, const char *detail, void *user)
{
    const struct floe_cli *cli = user;
    if (!cli->quiet && !cli->json)
        fprintf(stderr, "floe catalog rebuild: %s: %s\n", phase, detail);
}

static void rebuild_warn(const char *archive_id, const char *message, void *user)
{
    floe_cli_warning(user, "catalog", archive_id, message);
}

static void print_rebuild(const struct floe_cli *cli, const struct floe_rebuild_result *r)
{
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "catalog", floe_cli_jstr(r->catalog_path));
        json_object_set_new(j, "inventory_job_id", json_string(r->inventory_job_id));
        json_object_set_new(j, "inventory_reused", json_boolean(r->inventory_reused));
        json_object_set_new(j, "from_snapshot", json_boolean(r->from_snapshot));
        json_object_set_new(j, "snapshot_archive_id",
                            r->from_snapshot ? json_string(r->snapshot_archive_id) : json_null());
        json_object_set_new(j, "archives", json_integer((json_int_t)r->archives));
        json_object_set_new(j, "archives_recorded", json_integer((json_int_t)r->archives_recorded));
        json_object_set_new(j, "files_recorded", json_integer((json_int_t)r->files_recorded));
        json_object_set_new(j, "archives_skipped", json_integer((json_int_t)r->archives_skipped));
        json_object_set_new(j, "jobs", json_integer((json_int_t)r->jobs));
        json_object_set_new(j, "seconds", floe_cli_jreal(r->seconds, 3));
        print_json(j);
        return;
    }
    if (r->from_snapshot)
        printf("rebuilt %s from snapshot archive %s (%llu archives in the inventory)\n",
               r->catalog_path, r->snapshot_archive_id, (unsigned long long)r->archives);
    else
        printf("rebuilt %s from descriptions: %llu archives, %llu files recorded, %llu archives "
               "skipped, %llu retrieval jobs\n",
               r->catalog_path, (unsigned long long)r->archives_recorded,
               (unsigned long long)r->files_recorded, (unsigned long long)r->archives_skipped,
               (unsigned long long)r->jobs);
}

static int cmd_rebuild(const struct floe_cli *cli, int argc, char **argv)
{
    struct floe_rebuild_options o = {0};
    const struct floe_cli_opt opts[] = {
        {"--catalog", NULL, &o.catalog_path, NULL},
        {"--inventory-job", NULL, &o.inventory_job_id, NULL},
        {"--force", NULL, NULL, &o.force},
        {"--no-snapshot", NULL, NULL, &o.no_snapshot},
        {"--tier", NULL, &o.tier, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = parse(argc, argv, opts, pos, &npos, 1, 1);
    if (!rc && o.tier && strcasecmp(o.tier, "Expedited") && strcasecmp(o.tier, "Standard") &&
        strcasecmp(o.tier, "Bulk"))
        rc = floe_cli_usage_error("catalog", CATALOG_USAGE,
                                  "--tier must be Expedited, Standard or Bulk, not '%s'", o.tier);
    if (rc)
        return rc < 0 ? 0 : rc;
    o.vault = pos[0];
    struct floe_client *client = NULL;
    if (floe_cli_client(cli, "catalog", NULL, &client))
        return 1;
    o.cancel = floe_cli_cancel_on_sigint();
    o.phase = rebuild_phase;
    o.warn = rebuild_warn;
    o.user = (void *)cli;
    struct floe_rebuild_result r;
    struct floe_error err = {0};
    rc = floe_rebuild_catalog(client, &o, &r, &err);
    floe_client_destroy(client);
    int status = floe_cli_outcome("catalog", rc, &err, "nothing was written: run it again");
    if (status >= 0)
        return status;
    print_rebuild(cli, &r);
    return 0;
}

int floe_cmd_catalog(const struct floe_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            return floe_cli_usage_error("catalog", CATALOG_USAGE, "missing subcommand");
        printf("usage: %s\n", CATALOG_USAGE);
        return 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "ls") == 0)
        return cmd_ls(cli, argc, argv);
    if (strcmp(sub, "stats") == 0)
        return cmd_stats(cli, argc, argv);
    if (strcmp(sub, "import-mtglacier") == 0)
        return cmd_import(cli, argc, argv);
    if (strcmp(sub, "rebuild") == 0)
        return cmd_rebuild(cli, argc, argv);
    return floe_cli_usage_error("catalog", CATALOG_USAGE, "unknown subcommand '%s'", sub);
}
