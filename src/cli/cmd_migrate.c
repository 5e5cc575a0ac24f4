/*
 * cmd_migrate.c - `floe migrate`: plan, run and report a vault's migration to a directory
 * (floe/migrate.h; behaviour in docs/migrate.md).
 *
 *   floe migrate plan VAULT --to DIR ...    the plan and its cost per tier (nothing requested
 *                                           but an inventory job); --list: every archive
 *   floe migrate VAULT --to DIR ...         run (or continue) the migration; --dry-run = plan
 *   floe migrate status VAULT --to DIR      per state counts, throughput, ETA, cost so far;
 *                                           --list / --failed: the archives
 * Exit status: 0 every archive done, 3 done but some archives failed (each named with its
 * reason), 1 failure, 2 usage, 130 interrupted (the same command continues).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "progress.h"

#include "floe/migrate.h"
#include "floe/retrieve.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_USAGE                                                                              \
    "floe migrate plan VAULT --to DEST [--list] [PLAN OPTIONS]\n"                                  \
    "       floe migrate VAULT --to DEST [--dry-run] [PLAN OPTIONS] [--tier TIER]\n"               \
    "                    [--max-per-day SIZE] [--max-jobs N] [--max-staged SIZE]\n"                \
    "                    [--expiry-margin DURATION] [--job-expiry DURATION]\n"                     \
    "                    [--poll-interval DURATION] [--concurrency N] [--retry-failed]\n"          \
    "                    [--staging DIR] [--lease DURATION]\n"                                     \
    "                    [--notify-queue SQS_URL [--notify-topic SNS_ARN]]\n"                      \
    "       floe migrate status VAULT --to DEST [--catalog PATH] [--list] [--failed]\n"            \
    "DEST: a directory, or s3://BUCKET/PREFIX with [--storage-class CLASS]\n"                      \
    "      [--s3-endpoint-url URL] [--chunk-size SIZE] (also in PLAN OPTIONS).\n"                  \
    "PLAN OPTIONS: [--include PATTERN] [--exclude PATTERN] [--filter RULE] [--names FILE.csv]\n"   \
    "              [--prices FILE] [--inventory-job JOB_ID | --inventory FILE]\n"                  \
    "              [--catalog PATH] [--shard I/N]\n"                                               \
    "Names come from archive descriptions (floe1, mt2, else the description as a path);\n"         \
    "filters match names. Defaults: --tier Bulk, no daily quota, --max-jobs 100, --max-staged\n"   \
    "1TiB, --expiry-margin 4h, --job-expiry 24h, --poll-interval 5m, --concurrency adaptive\n"     \
    "(8 MiB segments in flight per archive over 1 MiB to a directory, their SHA-256 taken\n"       \
    "while downloading, and 8 MiB ranges per archive to S3: 4, up to 16 while the fetches\n"       \
    "wait a fifth of their time or more for the first byte (a far link), halved on retries;\n"     \
    "or a fixed N); S3:\n"                                                                         \
    "--storage-class DEEP_ARCHIVE, --chunk-size 64MiB (doubled until 10,000 parts fit),\n"         \
    "--s3-endpoint-url from AWS_ENDPOINT_URL_S3 else AWS. Catalog: DIR/.floe-migrate/VAULT.db\n"   \
    "(manifest beside it); for S3 in $XDG_CACHE_HOME/floe, staging beside it. --shard I/N:\n"      \
    "the archives whose id hashes to I of N (one worker each), with its own catalog.\n"            \
    "Archives up to 1 MiB go 128 at a time (to S3: HeadObject and PutObject in flight\n"           \
    "together), recorded at once.\n"                                                               \
    "--inventory FILE: plan from an inventory job's output already downloaded (JSON or CSV,\n"     \
    "as floe inventory saves it raw) instead of an inventory job.\n"                               \
    "--catalog postgresql://...: N workers share one plan, each archive claimed with a lease\n"    \
    "(--lease, default 60s) that a dead worker's claims lose.\n"                                   \
    "--notify-queue: job completions read from this SQS queue, subscribed to the SNS topic\n"      \
    "the jobs notify (the vault's notification configuration, or --notify-topic: each job's\n"     \
    "SNSTopic); messages of other jobs are left in the queue; ListJobs only every\n"               \
    "--poll-interval (then 15m by default) in case a message is lost."

struct mopts {
    struct floe_migrate_options o;
    struct floe_cli_list filters;
    char **rules;
    const char *to, *max_day, *max_jobs, *max_staged, *margin, *expiry, *poll, *conc, *chunk;
    const char *shard, *lease;
    bool list, failed, dry;
};

static const char *fmt_size(uint64_t b, char buf[32])
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 5) {
        v /= 1024;
        i++;
    }
    snprintf(buf, 32, i ? "%.1f %s" : "%.0f %s", v, u[i]);
    return buf;
}

static const char *fmt_hours(double h, char buf[32])
{
    if (h < 1)
        snprintf(buf, 32, "%.0f min", h * 60);
    else if (h < 48)
        snprintf(buf, 32, "%.1f h", h);
    else
        snprintf(buf, 32, "%.1f days", h / 24);
    return buf;
}

static int parse(const char *cmd, int argc, char **argv, int start, struct mopts *m,
                 const char **pos, int max_pos, int *npos)
{
    struct floe_migrate_options *o = &m->o;
    const struct floe_cli_opt opts[] = {
        {"--to", NULL, &m->to, NULL},
        {"--catalog", NULL, &o->catalog_path, NULL},
        {"--names", NULL, &o->names_path, NULL},
        {"--prices", NULL, &o->prices_path, NULL},
        {"--inventory-job", NULL, &o->inventory_job_id, NULL},
        {"--inventory", NULL, &o->inventory_path, NULL},
        {"--tier", NULL, &o->tier, NULL},
        {"--storage-class", NULL, &o->storage_class, NULL},
        {"--s3-endpoint-url", NULL, &o->s3_endpoint_url, NULL},
        {"--chunk-size", NULL, &m->chunk, NULL},
        {"--staging", NULL, &o->staging_dir, NULL},
        {"--shard", NULL, &m->shard, NULL},
        {"--lease", NULL, &m->lease, NULL},
        {"--notify-queue", NULL, &o->notify_queue, NULL},
        {"--notify-topic", NULL, &o->notify_topic, NULL},
        {"--max-per-day", NULL, &m->max_day, NULL},
        {"--max-jobs", NULL, &m->max_jobs, NULL},
        {"--max-staged", NULL, &m->max_staged, NULL},
        {"--expiry-margin", NULL, &m->margin, NULL},
        {"--job-expiry", NULL, &m->expiry, NULL},
        {"--poll-interval", NULL, &m->poll, NULL},
        {"--concurrency", NULL, &m->conc, NULL},
        {"--dry-run", NULL, NULL, &m->dry},
        {"--list", NULL, NULL, &m->list},
        {"--failed", NULL, NULL, &m->failed},
        {"--retry-failed", NULL, NULL, &m->o.retry_failed},
        {NULL, NULL, NULL, NULL},
    };
    static const char *const list_names[] = {"--include", "--exclude", "--filter", NULL};
    int nargs = floe_cli_take_list(cmd, MIGRATE_USAGE, argc, argv, start, list_names, &m->filters);
    if (nargs < 0)
        return 2;
    int rc = floe_cli_parse(cmd, MIGRATE_USAGE, nargs, argv, start, opts, pos, max_pos, npos);
    if (rc)
        return rc;
    uint64_t n = 0, ms = 0;
    if (o->inventory_job_id && o->inventory_path)
        rc = floe_cli_usage_error(cmd, MIGRATE_USAGE,
                                  "--inventory-job and --inventory both name the inventory: "
                                  "give one");
    if (!rc && m->max_day &&
        !(rc = floe_cli_parse_size(cmd, MIGRATE_USAGE, "--max-per-day", m->max_day, &n)))
        o->max_per_day_bytes = n;
    if (!rc && m->shard) {
        unsigned i = 0, k = 0;
        char tail = 0;
        if (sscanf(m->shard, "%u/%u%c", &i, &k, &tail) != 2 || k < 1 || k > 100000 || i < 1 ||
            i > k)
            rc = floe_cli_usage_error(cmd, MIGRATE_USAGE,
                                      "--shard must be I/N with 1 <= I <= N <= 100000, not '%s'",
                                      m->shard);
        o->shard_index = i;
        o->shard_count = k;
    }
    if (!rc && m->chunk &&
        !(rc = floe_cli_parse_size(cmd, MIGRATE_USAGE, "--chunk-size", m->chunk, &n)))
        o->chunk_size = n;
    if (!rc && m->max_staged &&
        !(rc = floe_cli_parse_size(cmd, MIGRATE_USAGE, "--max-staged", m->max_staged, &n)))
        o->max_staged_bytes = n;
    if (!rc && m->max_jobs &&
        !(rc = floe_cli_parse_uint(cmd, MIGRATE_USAGE, "--max-jobs", m->max_jobs, 100000, &n))) {
        if (n == 0)
            rc = floe_cli_usage_error(cmd, MIGRATE_USAGE, "--max-jobs must be 1 or more");
        o->max_jobs = (unsigned)n;
    }
    if (!rc && (!m->conc || strcmp(m->conc, "adaptive") == 0)) /* the default, see --help */
        o->concurrency = 0;
    else if (!rc && m->conc &&
             !(rc = floe_cli_parse_uint(cmd, MIGRATE_USAGE, "--concurrency", m->conc, 64, &n))) {
        if (n == 0)
            rc = floe_cli_usage_error(cmd, MIGRATE_USAGE, "--concurrency must be 1 or more");
        o->concurrency = (unsigned)n;
    }
    if (!rc && m->margin &&
        !(rc = floe_cli_parse_duration(cmd, MIGRATE_USAGE, "--expiry-margin", m->margin, &ms)))
        o->expiry_margin_s = ms / 1000 ? ms / 1000 : 1;
    if (!rc && m->expiry &&
        !(rc = floe_cli_parse_duration(cmd, MIGRATE_USAGE, "--job-expiry", m->expiry, &ms)))
        o->job_expiry_s = ms / 1000 ? ms / 1000 : 1;
    if (!rc && m->lease &&
        !(rc = floe_cli_parse_duration(cmd, MIGRATE_USAGE, "--lease", m->lease, &ms)))
        o->lease_s = ms / 1000 >= 3 ? (unsigned)(ms / 1000) : 3;
    if (!rc && m->poll &&
        !(rc = floe_cli_parse_duration(cmd, MIGRATE_USAGE, "--poll-interval", m->poll, &ms)))
        o->poll_ms = floe_cli_interval_ms(ms ? ms : 1000);
    if (!rc && *npos != 1)
        rc = floe_cli_usage_error(cmd, MIGRATE_USAGE,
                                  *npos ? "one VAULT at a time" : "missing VAULT");
    if (!rc && !m->to && !o->catalog_path)
        rc = floe_cli_usage_error(cmd, MIGRATE_USAGE, "missing --to DEST");
    if (rc)
        return rc;
    if (!o->s3_endpoint_url && m->to && strncmp(m->to, "s3://", 5) == 0) {
        const char *env = getenv("AWS_ENDPOINT_URL_S3"); /* as the aws CLI resolves it */
        o->s3_endpoint_url = env && env[0] ? env : NULL;
    }
    m->rules = floe_cli_filter_rules(&m->filters);
    o->vault = pos[0];
    o->destination = m->to;
    o->filter_rules = (const char *const *)m->rules;
    o->nfilter_rules = m->filters.n;
    return 0;
}

static void mopts_free(struct mopts *m)
{
    if (m->rules)
        floe_cli_filter_rules_free(m->rules, m->filters.n);
    free(m->filters.items);
}

/* Parses a subcommand's options into m: -1 to go on, else the exit status (m freed). */
static int begin(const char *cmd, int argc, char **argv, int start, struct mopts *m)
{
    const char *pos[2];
    int npos = 0;
    int rc = parse(cmd, argc, argv, start, m, pos, 2, &npos);
    if (!rc)
        return -1;
    mopts_free(m);
    return rc < 0 ? 0 : rc;
}

/* ---- plan ---- */

static json_t *plan_json(const struct floe_migrate_options *o, const struct floe_migrate_plan *p)
{
    json_t *tiers = json_array();
    for (int t = 0; t < 3; t++) {
        const struct floe_migrate_tier_estimate *e = &p->tiers[t];
        json_array_append_new(tiers,
                              json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "tier", e->tier,
                                        "retrieval_usd", floe_cli_jreal(e->retrieval_usd, 4),
                                        "requests_usd", floe_cli_jreal(e->requests_usd, 4),
                                        "destination_usd", floe_cli_jreal(e->destination_usd, 4),
                                        "total_usd", floe_cli_jreal(e->total_usd, 4), "hours",
                                        floe_cli_jreal(e->hours, 2)));
    }
    json_t *po = json_pack(
        "{s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, "
        "s:b, s:o}",
        "plan", floe_cli_jstr(o->vault), "destination", floe_cli_jstr(o->destination), "archives",
        (json_int_t)p->archives, "bytes", (json_int_t)p->bytes, "excluded", (json_int_t)p->excluded,
        "excluded_bytes", (json_int_t)p->excluded_bytes, "over_s3_limit",
        (json_int_t)p->over_s3_limit, "renamed_duplicates", (json_int_t)p->renamed_duplicates,
        "named_by_id", (json_int_t)p->named_by_id, "named_by_file", (json_int_t)p->named_by_file,
        "requests", (json_int_t)p->requests, "prices_as_of", p->prices_as_of, "inventory_job_id",
        p->inventory_job_id, "inventory_date", p->inventory_date, "inventory_reused",
        p->inventory_reused, "tiers", tiers);
    json_object_set_new(po, "other_shards", json_integer((json_int_t)p->other_shards));
    json_object_set_new(po, "other_shards_bytes", json_integer((json_int_t)p->other_shards_bytes));
    return po;
}

static void print_plan(const struct floe_cli *cli, const struct floe_migrate_options *o,
                       const struct floe_migrate_plan *p, FILE *f)
{
    if (cli->json) {
        floe_cli_json_print(stdout, plan_json(o, p));
        return;
    }
    char a[32], b[32], h[32];
    fprintf(f, "vault %s -> %s: %llu archives, %s (%llu bytes)\n", o->vault, o->destination,
            (unsigned long long)p->archives, fmt_size(p->bytes, a), (unsigned long long)p->bytes);
    fprintf(f,
            "  %llu excluded by the filters (%s); %llu duplicate names given their date; %llu "
            "named by archive id; %llu named by --names; %llu over S3's 5 TiB object limit\n",
            (unsigned long long)p->excluded, fmt_size(p->excluded_bytes, b),
            (unsigned long long)p->renamed_duplicates, (unsigned long long)p->named_by_id,
            (unsigned long long)p->named_by_file, (unsigned long long)p->over_s3_limit);
    if (o->shard_count)
        fprintf(f, "  shard %u of %u: %llu archives (%s) left to the other shards\n",
                o->shard_index, o->shard_count, (unsigned long long)p->other_shards,
                fmt_size(p->other_shards_bytes, b));
    if (p->inventory_job_id[0])
        fprintf(f, "  inventory job %s%s;", p->inventory_job_id,
                p->inventory_reused ? " (reused)" : "");
    else
        fprintf(f, "  inventory from a file (--inventory);");
    fprintf(f, " prices as of %s (estimates, not a bill)\n", p->prices_as_of);
    fprintf(f, "  %-10s %12s %12s %12s %12s  %s\n", "tier", "retrieval", "requests", "destination",
            "total", "time");
    for (int t = 0; t < 3; t++) {
        const struct floe_migrate_tier_estimate *e = &p->tiers[t];
        fprintf(f, "  %-10s %12.4f %12.4f %12.4f %12.4f  %s\n", e->tier, e->retrieval_usd,
                e->requests_usd, e->destination_usd, e->total_usd, fmt_hours(e->hours, h));
    }
}

struct lister {
    const struct floe_cli *cli;
    bool header;
};

static int list_one(const struct floe_migrate_archive *a, void *user)
{
    struct lister *l = user;
    if (l->cli->json) {
        json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:s, s:s, s:s, s:b}", "archive_id",
                              a->archive_id, "name", floe_cli_jstr(a->name), "destination",
                              floe_cli_jstr(a->destination), "size", (json_int_t)a->size,
                              "tree_hash", a->tree_hash, "creation_date", a->creation_date, "state",
                              floe_migrate_state_name(a->state), "over_s3_limit", a->over_s3_limit);
        if (a->sha256[0])
            json_object_set_new(o, "sha256", json_string(a->sha256));
        if (a->reason[0])
            json_object_set_new(o, "reason", floe_cli_jstr(a->reason));
        floe_cli_json_print(stdout, o);
        return 0;
    }
    if (!l->header)
        printf("%-9s %15s  %-20s %s\n", "state", "size", "archive id", "name");
    l->header = true;
    printf("%-9s %15llu  %-20.20s %s%s%s%s\n", floe_migrate_state_name(a->state),
           (unsigned long long)a->size, a->archive_id, a->name,
           a->over_s3_limit ? "  [over 5 TiB]" : "", a->reason[0] ? "  -- " : "", a->reason);
    return 0;
}

/* What the callbacks of a plan or a run share. */
struct ui {
    const struct floe_cli *cli;
    struct floe_progress_line *pl; /* the run's progress line (created at its first report) */
    bool based;                    /* pl knows what earlier runs did */
    bool inventory;                /* pl shows the inventory job's wait */
};

static void on_phase(const char *what, const char *detail, void *user)
{
    struct ui *u = user;
    floe_progress_clear(u->pl);
    if (!u->cli->quiet)
        fprintf(stderr, "floe migrate: %s %s\n", what, detail);
}

static void on_event(const struct floe_migrate_event *e, void *user)
{
    struct ui *u = user;
    const struct floe_cli *cli = u->cli;
    if (cli->quiet && e->state != FLOE_MIGRATE_FAILED)
        return;
    floe_progress_clear(u->pl);
    if (!e->archive_id) {
        fprintf(stderr, "floe migrate: %s\n", e->message);
        return;
    }
    if (e->state == FLOE_MIGRATE_FAILED)
        fprintf(stderr, "floe migrate: %s (%s) failed: %s\n", e->name, e->archive_id, e->message);
    else if (e->state == FLOE_MIGRATE_DONE || e->message[0] || cli->verbosity)
        fprintf(stderr, "floe migrate: %s (%llu bytes): %s%s%s\n", e->name,
                (unsigned long long)e->size, floe_migrate_state_name(e->state),
                e->message[0] ? ": " : "", e->message);
}

/* The common progress line (progress.h: redrawn on a terminal, a log line every 10 s
 * otherwise): the bytes of the archives done out of the plan's, the states as its name; while
 * the inventory job runs, that job. What earlier runs did is the line's base (its rate and ETA
 * are this run's). */
static void on_progress(const struct floe_migrate_progress *p, void *user)
{
    struct ui *u = user;
    if (u->pl && u->inventory && !p->job_id) { /* the copy's rate starts now */
        floe_progress_destroy(u->pl);
        u->pl = NULL;
    }
    u->inventory = p->job_id != NULL;
    if (!u->pl)
        u->pl = floe_progress_new("migrate", 1, !u->cli->quiet && !u->cli->json);
    char name[256];
    if (p->job_id) {
        snprintf(name, sizeof(name), "waiting for inventory job %.16s... (%s, %.0f s)", p->job_id,
                 p->job_status, p->seconds);
        floe_progress_set_name(u->pl, name);
        floe_progress_update(u->pl, 0, 0, UINT64_MAX);
        return;
    }
    const uint64_t *n = p->archives;
    uint64_t total = 0, done = p->bytes[FLOE_MIGRATE_DONE] + p->bytes[FLOE_MIGRATE_VERIFIED];
    uint64_t archives = 0;
    for (int s = 0; s < FLOE_MIGRATE_STATE_COUNT; s++) {
        total += p->bytes[s];
        archives += n[s];
    }
    if (!u->based) {
        uint64_t before = done > p->copied_bytes ? done - p->copied_bytes : 0;
        floe_progress_set_base(u->pl, before);
        u->based = true;
    }
    snprintf(name, sizeof(name),
             "%llu/%llu archives done; %llu requested, %llu staged, %llu copying, %llu failed",
             (unsigned long long)(n[FLOE_MIGRATE_DONE] + n[FLOE_MIGRATE_VERIFIED]),
             (unsigned long long)archives, (unsigned long long)n[FLOE_MIGRATE_REQUESTED],
             (unsigned long long)n[FLOE_MIGRATE_STAGED],
             (unsigned long long)n[FLOE_MIGRATE_COPYING],
             (unsigned long long)n[FLOE_MIGRATE_FAILED]);
    floe_progress_set_name(u->pl, name);
    floe_progress_update(u->pl, 0, done, total);
}

static int with_client(const struct floe_cli *cli, const char *cmd, struct floe_client **c)
{
    /* room for an adaptive download's segments in flight (floe/retrieve.h) */
    const struct floe_cli_client_opts o = {.max_connections = FLOE_RETRIEVE_ADAPTIVE_MAX};
    return floe_cli_client(cli, cmd, &o, c) == 0 ? 0 : floe_cli_client_status();
}

static int cmd_plan(const struct floe_cli *cli, int argc, char **argv)
{
    struct mopts m = {0};
    int rc = begin("migrate plan", argc, argv, 2, &m);
    if (rc >= 0)
        return rc;
    struct floe_client *c = NULL;
    if ((rc = with_client(cli, "migrate plan", &c))) {
        mopts_free(&m);
        return rc;
    }
    m.o.cancel = floe_cli_cancel_on_sigint();
    struct ui u = {.cli = cli};
    m.o.phase = on_phase;
    m.o.user = &u;
    struct floe_migrate_plan p;
    struct floe_error err = {0};
    struct lister l = {cli, false};
    int prc = floe_migrate_plan(c, &m.o, m.list ? list_one : NULL, &l, &p, &err);
    int status = floe_cli_outcome("migrate plan", prc, &err, "run the same command again");
    if (status < 0) {
        print_plan(cli, &m.o, &p, stdout);
        status = 0;
    }
    floe_client_destroy(c);
    mopts_free(&m);
    return status;
}

static int cmd_status(const struct floe_cli *cli, int argc, char **argv)
{
    struct mopts m = {0};
    int rc = begin("migrate status", argc, argv, 2, &m);
    if (rc >= 0)
        return rc;
    struct floe_migrate_status s;
    struct floe_error err = {0};
    struct lister l = {cli, false};
    bool list = m.list || m.failed;
    unsigned mask = m.failed ? 1u << FLOE_MIGRATE_FAILED : 0;
    /* the summary first, then the archives */
    int src = floe_migrate_status(&m.o, 0, NULL, NULL, &s, &err);
    int status = floe_cli_outcome("migrate status", src, &err, NULL);
    if (status < 0) {
        status = 0;
        if (cli->json) {
            json_t *states = json_object();
            for (int i = 0; i < FLOE_MIGRATE_STATE_COUNT; i++)
                json_object_set_new(states, floe_migrate_state_name(i),
                                    json_pack("{s:I, s:I}", "archives", (json_int_t)s.archives[i],
                                              "bytes", (json_int_t)s.bytes[i]));
            floe_cli_json_print(
                stdout,
                json_pack(
                    "{s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:I, s:I, s:o, s:s}", "status",
                    floe_cli_jstr(s.vault), "destination", floe_cli_jstr(s.destination), "catalog",
                    floe_cli_jstr(s.catalog_path), "states", states, "bytes_copied",
                    (json_int_t)s.bytes_copied, "seconds", floe_cli_jreal(s.seconds, 3), "mb_per_s",
                    floe_cli_jreal(s.bytes_per_s / 1e6, 2), "eta_s", floe_cli_jreal(s.eta_s, 0),
                    "jobs_requested", (json_int_t)s.jobs_requested, "bytes_requested",
                    (json_int_t)s.bytes_requested, "cost_usd", floe_cli_jreal(s.cost_usd, 4),
                    "tier", s.tier));
        } else {
            char a[32];
            printf("migration of vault %s -> %s (catalog %s)\n", s.vault, s.destination,
                   s.catalog_path);
            for (int i = 0; i < FLOE_MIGRATE_STATE_COUNT; i++)
                printf("  %-9s %10llu archives  %s\n", floe_migrate_state_name(i),
                       (unsigned long long)s.archives[i], fmt_size(s.bytes[i], a));
            char eta[64];
            if (s.eta_s < 0)
                snprintf(eta, sizeof(eta), "unknown");
            else
                snprintf(eta, sizeof(eta), "%.0f s", s.eta_s);
            printf("  copied %s in %.0f s (%.2f MB/s); ETA %s (copying only, job latency not "
                   "included)\n  %llu retrieval jobs requested (%s tier), about $%.4f so far\n",
                   fmt_size(s.bytes_copied, a), s.seconds, s.bytes_per_s / 1e6, eta,
                   (unsigned long long)s.jobs_requested, s.tier, s.cost_usd);
        }
        if (list) {
            src = floe_migrate_status(&m.o, mask, list_one, &l, &s, &err);
            if (src)
                status = floe_cli_fail("migrate status", &err);
        }
    }
    mopts_free(&m);
    return status;
}

static int cmd_run(const struct floe_cli *cli, int argc, char **argv)
{
    struct mopts m = {0};
    int rc = begin("migrate", argc, argv, 1, &m);
    if (rc >= 0)
        return rc;
    if (!m.to) {
        mopts_free(&m);
        return floe_cli_usage_error("migrate", MIGRATE_USAGE, "missing --to DEST");
    }
    m.o.dry_run = m.dry;
    struct floe_client *c = NULL;
    if ((rc = with_client(cli, "migrate", &c))) {
        mopts_free(&m);
        return rc;
    }
    m.o.cancel = floe_cli_cancel_on_sigint();
    struct ui u = {.cli = cli};
    m.o.phase = on_phase;
    m.o.event = on_event;
    m.o.progress = on_progress;
    m.o.user = &u;
    struct floe_migrate_result r;
    struct floe_error err = {0};
    int mrc = floe_migrate(c, &m.o, &r, &err);
    floe_progress_destroy(u.pl);
    int status = floe_cli_outcome("migrate", mrc, &err,
                                  "every step is recorded: run the same command again to continue");
    if (status < 0 && m.dry) {
        print_plan(cli, &m.o, &r.plan, stdout);
        status = 0;
    } else if (status < 0) {
        if (cli->json) {
            json_t *o = plan_json(&m.o, &r.plan);
            json_object_del(o, "plan");
            json_object_set_new(o, "migrate", floe_cli_jstr(m.o.vault));
            json_t *add = json_pack(
                "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "copied",
                (json_int_t)r.copied, "copied_bytes", (json_int_t)r.copied_bytes, "already_present",
                (json_int_t)r.already_present, "jobs_requested", (json_int_t)r.jobs_requested,
                "jobs_reused", (json_int_t)r.jobs_reused, "jobs_rerequested",
                (json_int_t)r.jobs_rerequested, "jobs_notified", (json_int_t)r.jobs_notified,
                "done", (json_int_t)r.done, "failed", (json_int_t)r.failed, "seconds",
                floe_cli_jreal(r.seconds, 3), "catalog", floe_cli_jstr(r.catalog_path),
                "manifest_csv", floe_cli_jstr(r.manifest_csv), "manifest_json",
                floe_cli_jstr(r.manifest_json));
            json_object_update(o, add);
            json_object_set_new(o, "job_walks",
                                json_pack("{s:I, s:I, s:I}", "full", (json_int_t)r.job_walks_full,
                                          "tail", (json_int_t)r.job_walks_tail, "running",
                                          (json_int_t)r.job_walks_running));
            json_decref(add);
            floe_cli_json_print(stdout, o);
        } else {
            if (r.planned_now && !cli->quiet)
                print_plan(cli, &m.o, &r.plan, stderr);
            char a[32];
            printf("migrated %llu archives (%s) in %.1f s; %llu already in place; %llu done, "
                   "%llu failed of %llu; jobs: %llu requested, %llu reused, %llu re-requested\n"
                   "manifest: %s, %s\n",
                   (unsigned long long)r.copied, fmt_size(r.copied_bytes, a), r.seconds,
                   (unsigned long long)r.already_present, (unsigned long long)r.done,
                   (unsigned long long)r.failed, (unsigned long long)r.plan.archives,
                   (unsigned long long)r.jobs_requested, (unsigned long long)r.jobs_reused,
                   (unsigned long long)r.jobs_rerequested, r.manifest_csv, r.manifest_json);
            if (m.o.notify_queue)
                printf("notifications: %llu job completions read from %s\n",
                       (unsigned long long)r.jobs_notified, m.o.notify_queue);
        }
        if (r.failed)
            fprintf(stderr,
                    "floe migrate: %llu archives failed: `floe migrate status %s --to %s "
                    "--failed` lists them with the reasons\n",
                    (unsigned long long)r.failed, m.o.vault, m.o.destination);
        status = r.failed == 0 ? 0 : r.done ? 3 : 1;
    }
    floe_client_destroy(c);
    mopts_free(&m);
    return status;
}

int floe_cmd_migrate(const struct floe_cli *cli, int argc, char **argv)
{
    if (argc < 2)
        return floe_cli_usage_error("migrate", MIGRATE_USAGE, "missing VAULT");
    if (strcmp(argv[1], "plan") == 0)
        return cmd_plan(cli, argc, argv);
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(cli, argc, argv);
    return cmd_run(cli, argc, argv);
}
