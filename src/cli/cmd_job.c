/*
 * cmd_job.c - `floe job initiate-retrieval | initiate-inventory | describe | list | wait |
 * output`: every Glacier job operation, one subcommand each, over floe/jobs.h and
 * floe/retrieve.h.
 *
 * Text output is one line per job (list) or "Key: value" lines (describe, wait); --json prints
 * one JSON object per line with the service's field names. Progress of wait and output goes to
 * stderr. Ctrl-C stops wait/output cleanly (the download checkpoint is kept); exit status 130.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "notifywait.h"
#include "jobfmt.h"
#include "progress.h"

#include "floe/jobs.h"
#include "floe/range.h"
#include "floe/retrieve.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_USAGE                                                                                  \
    "floe job initiate-retrieval VAULT ARCHIVE_ID [--range START-END] [--tier TIER]\n"             \
    "                [--sns-topic ARN] [--description TEXT] [--archive-size BYTES]\n"              \
    "       floe job initiate-inventory VAULT [--format JSON|CSV] [--start-date DATE]\n"           \
    "                [--end-date DATE] [--limit N] [--marker MARKER] [--sns-topic ARN]\n"          \
    "                [--description TEXT]\n"                                                       \
    "       floe job describe VAULT JOB_ID\n"                                                      \
    "       floe job list VAULT [--completed true|false] [--status-code CODE] [--page-size N]\n"   \
    "       floe job wait VAULT JOB_ID [--timeout SECONDS] [--interval SECONDS]\n"                 \
    "                [--max-interval SECONDS] [--notify-queue SQS_URL]\n"                          \
    "       floe job output VAULT JOB_ID -o FILE [--segment-size SIZE] [--concurrency N]\n"        \
    "                [--memory-limit SIZE] [--checkpoint PATH] [--keep-checkpoint]\n"              \
    "                [--no-checkpoint] [--overwrite]\n"                                            \
    "Defaults: --tier Standard, --format JSON, --timeout none, --interval 1 s growing to\n"        \
    "--max-interval 15 min, --page-size: the service's (1000), --segment-size 32MiB,\n"            \
    "--concurrency adaptive (from 4 up to 32 while the throughput rises, halved on retries;\n"     \
    "or a fixed 1 to 256), --memory-limit 1GiB. An existing -o FILE is refused without\n"          \
    "--overwrite.\n"                                                                               \
    "ARCHIVE_ID may start with '-': put it after '--' or write --archive-id=ID. -o is also\n"      \
    "--output; FILE '-' is standard output (spooled in $TMPDIR and written only after the\n"       \
    "whole output is verified). --status-code is also --statuscode (the API's name).\n"            \
    "wait --notify-queue: the completion read from this SQS queue, subscribed to the job's SNS\n"  \
    "topic; DescribeJob then only every --max-interval in case the message is lost."

static int usage_err(const char *fmt, const char *arg)
{
    return floe_cli_usage_error("job", JOB_USAGE, fmt, arg);
}

static int print_job_id(const struct floe_cli *cli, const char *job_id)
{
    if (cli->json) {
        json_t *o = json_pack("{s:s}", "JobId", job_id);
        floe_cli_json_print(stdout, o);
    } else {
        printf("%s\n", job_id);
    }
    return 0;
}

static int cmd_initiate_retrieval(const struct floe_cli *cli, int argc, char **argv)
{
    const char *range = NULL, *tier = NULL, *topic = NULL, *desc = NULL, *asize = NULL,
               *archive = NULL;
    const struct floe_cli_opt opts[] = {
        {"--range", NULL, &range, NULL},
        {"--tier", NULL, &tier, NULL},
        {"--sns-topic", NULL, &topic, NULL},
        {"--description", NULL, &desc, NULL},
        {"--archive-size", NULL, &asize, NULL},
        {"--archive-id", NULL, &archive, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("job", JOB_USAGE, argc, argv, 2, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1)
        return usage_err("initiate-retrieval needs VAULT and ARCHIVE_ID%s", "");
    if (!archive && npos < 2)
        return usage_err("initiate-retrieval needs ARCHIVE_ID%s", "");
    if (archive && npos > 1)
        return usage_err("ARCHIVE_ID given twice ('%s')", pos[1]);
    struct floe_job_retrieval_params p = {
        .archive_id = archive ? archive : pos[1],
        .tier = tier,
        .sns_topic = topic,
        .description = desc,
    };
    struct floe_error err = {0};
    if (range) {
        if (floe_range_parse_retrieval(range, &p.range, &err) != FLOE_OK)
            return floe_cli_usage_error("job", JOB_USAGE, "--range: %s", err.message);
        p.has_range = true;
    }
    if (asize && floe_cli_parse_size("job", JOB_USAGE, "--archive-size", asize, &p.archive_size))
        return 2;
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "job", NULL, &c))
        return floe_cli_client_status();
    char id[FLOE_JOB_ID_MAX];
    rc = floe_job_initiate_retrieval(c, pos[0], &p, id, &err);
    floe_client_destroy(c);
    if (rc)
        return floe_cli_fail("job", &err);
    return print_job_id(cli, id);
}

static int cmd_initiate_inventory(const struct floe_cli *cli, int argc, char **argv)
{
    const char *format = NULL, *start = NULL, *end = NULL, *limit = NULL, *marker = NULL,
               *topic = NULL, *desc = NULL;
    const struct floe_cli_opt opts[] = {
        {"--format", NULL, &format, NULL},    {"--start-date", NULL, &start, NULL},
        {"--end-date", NULL, &end, NULL},     {"--limit", NULL, &limit, NULL},
        {"--marker", NULL, &marker, NULL},    {"--sns-topic", NULL, &topic, NULL},
        {"--description", NULL, &desc, NULL}, {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = floe_cli_parse("job", JOB_USAGE, argc, argv, 2, opts, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1)
        return usage_err("initiate-inventory needs VAULT%s", "");
    struct floe_job_inventory_params p = {
        .format = format,
        .start_date = start,
        .end_date = end,
        .marker = marker,
        .sns_topic = topic,
        .description = desc,
    };
    if (limit && floe_cli_parse_uint("job", JOB_USAGE, "--limit", limit, UINT64_MAX, &p.limit))
        return 2;
    if (limit && p.limit == 0)
        return usage_err("--limit must be at least 1, not \"%s\"", limit);
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "job", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    char id[FLOE_JOB_ID_MAX];
    rc = floe_job_initiate_inventory(c, pos[0], &p, id, &err);
    floe_client_destroy(c);
    if (rc)
        return floe_cli_fail("job", &err);
    return print_job_id(cli, id);
}

static int cmd_describe(const struct floe_cli *cli, int argc, char **argv)
{
    const struct floe_cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("job", JOB_USAGE, argc, argv, 2, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 2)
        return usage_err("describe needs VAULT and JOB_ID%s", "");
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "job", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    struct floe_job_info *j = calloc(1, sizeof(*j));
    rc = floe_job_describe(c, pos[0], pos[1], j, &err);
    floe_client_destroy(c);
    if (!rc)
        floe_cli_print_job(cli, j, true);
    free(j);
    return rc ? floe_cli_fail("job", &err) : 0;
}

static int print_listed(const struct floe_job_info *j, void *user)
{
    floe_cli_print_job(user, j, false);
    return 0;
}

static int cmd_list(const struct floe_cli *cli, int argc, char **argv)
{
    const char *completed = NULL, *status = NULL, *page = NULL;
    const struct floe_cli_opt opts[] = {
        {"--completed", NULL, &completed, NULL},
        {"--status-code", NULL, &status, NULL},
        {"--statuscode", NULL, &status, NULL},
        {"--page-size", NULL, &page, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = floe_cli_parse("job", JOB_USAGE, argc, argv, 2, opts, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1)
        return usage_err("list needs VAULT%s", "");
    struct floe_job_list_filter f = {.status_code = status, .completed = -1};
    if (completed) {
        if (strcmp(completed, "true") == 0)
            f.completed = 1;
        else if (strcmp(completed, "false") == 0)
            f.completed = 0;
        else
            return usage_err("--completed must be true or false, not \"%s\"", completed);
    }
    uint64_t ps = 0;
    if (page && floe_cli_parse_uint("job", JOB_USAGE, "--page-size", page, 1000, &ps))
        return 2;
    f.page_limit = (unsigned)ps;
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "job", NULL, &c))
        return floe_cli_client_status();
    struct floe_error err = {0};
    rc = floe_job_list(c, pos[0], &f, print_listed, (void *)cli, &err);
    floe_client_destroy(c);
    fflush(stdout);
    return rc ? floe_cli_fail("job", &err) : 0;
}

static void on_wait(const struct floe_job_info *j, double waited, void *user)
{
    const struct floe_cli *cli = user;
    if (cli->quiet || cli->json)
        return;
    fprintf(stderr, "floe job: %s %s after %.0f s%s%s\n", j->job_id, j->status_code, waited,
            j->status_message[0] ? ": " : "", j->status_message);
}

/* Parses seconds (whole or fractional) into ms; 0 or 2. */
static int cmd_wait(const struct floe_cli *cli, int argc, char **argv)
{
    const char *timeout = NULL, *interval = NULL, *maxint = NULL, *queue = NULL;
    const struct floe_cli_opt opts[] = {
        {"--timeout", NULL, &timeout, NULL},
        {"--interval", NULL, &interval, NULL},
        {"--max-interval", NULL, &maxint, NULL},
        {"--notify-queue", NULL, &queue, NULL},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("job", JOB_USAGE, argc, argv, 2, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 2)
        return usage_err("wait needs VAULT and JOB_ID%s", "");
    uint64_t t = 0, i = 0, m = 0;
    if ((timeout && floe_cli_parse_seconds("job", JOB_USAGE, "--timeout", timeout, &t)) ||
        (interval && floe_cli_parse_seconds("job", JOB_USAGE, "--interval", interval, &i)) ||
        (maxint && floe_cli_parse_seconds("job", JOB_USAGE, "--max-interval", maxint, &m)))
        return 2;
    struct floe_job_wait_options wo = {
        .first_interval_ms = floe_cli_interval_ms(i),
        .max_interval_ms = floe_cli_interval_ms(m),
        .timeout_ms = t,
        .cancel = floe_cli_cancel_on_sigint(),
        .progress = on_wait,
        .progress_user = (void *)cli,
    };
    if (timeout && t == 0)
        wo.timeout_ms = 1; /* --timeout 0: check once */
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "job", NULL, &c))
        return floe_cli_client_status();
    struct floe_cli_notify *nq = NULL;
    if (queue && !(nq = floe_cli_notify_open(c, "job", queue))) {
        floe_client_destroy(c);
        return 1;
    }
    if (nq) /* --max-interval: the fallback DescribeJob poll */
        floe_cli_notify_wait_options(nq, floe_cli_interval_ms(m), &wo);
    struct floe_error err = {0};
    struct floe_job_info *j = calloc(1, sizeof(*j));
    rc = floe_job_wait(c, pos[0], pos[1], &wo, j, &err);
    floe_cli_notify_close(nq);
    floe_client_destroy(c);
    if (!rc)
        floe_cli_print_job(cli, j, true);
    free(j);
    if (rc == FLOE_E_CANCELLED) {
        char again[1200];
        snprintf(again, sizeof(again), "floe job wait %s %s (the job keeps running)", pos[0],
                 pos[1]);
        return floe_cli_interrupted("job", &err, again);
    }
    return rc ? floe_cli_fail("job", &err) : 0;
}

static int cmd_output(const struct floe_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *seg = NULL, *conc = NULL, *mem = NULL, *ckpt = NULL;
    bool keep = false, nockpt = false, overwrite = false;
    const struct floe_cli_opt opts[] = {
        {"--output", "-o", &out, NULL},
        {"--segment-size", NULL, &seg, NULL},
        {"--concurrency", NULL, &conc, NULL},
        {"--memory-limit", NULL, &mem, NULL},
        {"--checkpoint", NULL, &ckpt, NULL},
        {"--keep-checkpoint", NULL, NULL, &keep},
        {"--no-checkpoint", NULL, NULL, &nockpt},
        {"--overwrite", NULL, NULL, &overwrite},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[3];
    int npos = 0;
    int rc = floe_cli_parse("job", JOB_USAGE, argc, argv, 2, opts, pos, 3, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 2)
        return usage_err("output needs VAULT and JOB_ID%s", "");
    if (!out && npos == 3)
        out = pos[2];
    else if (npos == 3)
        return usage_err("unexpected argument '%s' (the output is already given with -o)", pos[2]);
    if (!out)
        return usage_err("output needs -o FILE (or - for standard output)%s", "");
    struct floe_download_options o = {
        .vault = pos[0],
        .job_id = pos[1],
        .output_path = out,
        .checkpoint_path = ckpt,
        .keep_checkpoint = keep,
        .no_checkpoint = nockpt,
    };
    uint64_t n = 0;
    if (seg && floe_cli_parse_size("job", JOB_USAGE, "--segment-size", seg, &o.segment_size))
        return 2;
    if (mem && floe_cli_parse_size("job", JOB_USAGE, "--memory-limit", mem, &o.memory_limit))
        return 2;
    bool adaptive = conc && strcmp(conc, "adaptive") == 0;
    if (conc && !adaptive && floe_cli_parse_uint("job", JOB_USAGE, "--concurrency", conc, 256, &n))
        return 2;
    if (conc && !adaptive && n == 0) /* no --concurrency: adaptive (n 0), see --help */
        return usage_err("--concurrency must be a whole number from 1 to 256, not \"%s\"", conc);
    o.concurrency = (unsigned)n;
    if (floe_cli_check_output(cli, "job", JOB_USAGE, out, overwrite, ckpt))
        return 2;
    return floe_cli_download(cli, "job", &o);
}

int floe_cmd_job(const struct floe_cli *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            return floe_cli_usage_error("job", JOB_USAGE, "missing subcommand");
        printf("usage: %s\n", JOB_USAGE);
        return 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "initiate-retrieval") == 0)
        return cmd_initiate_retrieval(cli, argc, argv);
    if (strcmp(sub, "initiate-inventory") == 0)
        return cmd_initiate_inventory(cli, argc, argv);
    if (strcmp(sub, "describe") == 0)
        return cmd_describe(cli, argc, argv);
    if (strcmp(sub, "list") == 0)
        return cmd_list(cli, argc, argv);
    if (strcmp(sub, "wait") == 0)
        return cmd_wait(cli, argc, argv);
    if (strcmp(sub, "output") == 0)
        return cmd_output(cli, argc, argv);
    return usage_err("unknown subcommand '%s'", sub);
}
