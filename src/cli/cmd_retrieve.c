/*
 * cmd_retrieve.c - `floe retrieve VAULT ARCHIVE_ID -o FILE`: initiate an archive retrieval,
 * wait for it, download it in parallel verified segments, in one command that is resumable as
 * a whole (the checkpoint remembers the job id from before the job is initiated).
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"
#include "notifywait.h"
#include "jobfmt.h"
#include "progress.h"

#include "floe/range.h"
#include "floe/retrieve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRIEVE_USAGE                                                                             \
    "floe retrieve VAULT ARCHIVE_ID -o FILE [--range START-END] [--tier TIER]\n"                   \
    "              [--description TEXT] [--sns-topic ARN] [--segment-size SIZE]\n"                 \
    "              [--concurrency N] [--memory-limit SIZE] [--checkpoint PATH]\n"                  \
    "              [--keep-checkpoint] [--no-checkpoint] [--timeout SECONDS]\n"                    \
    "              [--poll-interval SECONDS] [--notify-queue SQS_URL]\n"                           \
    "              [--overwrite] [--new-job] [--retry-for DURATION] [--max-retries N]\n"           \
    "ARCHIVE_ID may start with '-': put it after '--' or use --archive-id=ID.\n"                   \
    "FILE '-' is standard output (not resumable; spooled in $TMPDIR and written only after\n"      \
    "the whole archive is verified); an existing FILE is refused without\n"                        \
    "--overwrite. A succeeded, unexpired job for the same archive and range is reused\n"           \
    "(--new-job starts another). Defaults: --tier Standard, the whole archive,\n"                  \
    "--segment-size 32MiB, --concurrency adaptive (segments in flight from 4 up to 32 while\n"     \
    "the throughput rises, halved on retries; or a fixed 1 to 256), --memory-limit 1GiB,\n"        \
    "--timeout none (wait as long as the job takes), --poll-interval 1 s growing to 15 min,\n"     \
    "checkpoint in $XDG_CACHE_HOME/floe; --retry-for 10m, --max-retries no limit (global\n"        \
    "options). --notify-queue: the job's completion read from this SQS queue, subscribed to\n"     \
    "the job's SNS topic (--sns-topic or the vault's notifications); DescribeJob then only\n"      \
    "every --poll-interval (15 min by default) in case the message is lost."

struct ui {
    const struct floe_cli *cli;
    struct floe_progress_line *pl;
};

static void on_phase(enum floe_retrieve_phase phase, const char *job_id, void *user)
{
    struct ui *ui = user;
    if (ui->cli->quiet || ui->cli->json)
        return;
    if (phase == FLOE_RETRIEVE_INITIATED)
        fprintf(stderr, "floe retrieve: job %s initiated; waiting for it to complete\n", job_id);
    else if (phase == FLOE_RETRIEVE_REUSED)
        fprintf(stderr,
                "floe retrieve: reusing job %s, which retrieved this archive and range and has "
                "not expired (--new-job starts another)\n",
                job_id);
    else if (phase == FLOE_RETRIEVE_RESUMED)
        fprintf(stderr, "floe retrieve: resuming job %s from the checkpoint\n", job_id);
    else
        fprintf(stderr, "floe retrieve: job %s is ready; downloading\n", job_id);
}

static void on_wait(const struct floe_job_info *j, double waited, void *user)
{
    struct ui *ui = user;
    if (ui->cli->quiet || ui->cli->json || !j->completed)
        return;
    fprintf(stderr, "floe retrieve: job %s %s after %.0f s\n", j->job_id, j->status_code, waited);
}

int floe_cmd_retrieve(const struct floe_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *range = NULL, *tier = NULL, *desc = NULL, *topic = NULL, *seg = NULL,
               *conc = NULL, *mem = NULL, *ckpt = NULL, *archive = NULL, *timeout = NULL,
               *poll = NULL, *queue = NULL;
    bool keep = false, nockpt = false, overwrite = false, new_job = false;
    const struct floe_cli_opt opts[] = {
        {"--output", "-o", &out, NULL},
        {"--range", NULL, &range, NULL},
        {"--tier", NULL, &tier, NULL},
        {"--description", NULL, &desc, NULL},
        {"--sns-topic", NULL, &topic, NULL},
        {"--segment-size", NULL, &seg, NULL},
        {"--concurrency", NULL, &conc, NULL},
        {"--memory-limit", NULL, &mem, NULL},
        {"--checkpoint", NULL, &ckpt, NULL},
        {"--archive-id", NULL, &archive, NULL},
        {"--timeout", NULL, &timeout, NULL},
        {"--poll-interval", NULL, &poll, NULL},
        {"--notify-queue", NULL, &queue, NULL},
        {"--keep-checkpoint", NULL, NULL, &keep},
        {"--no-checkpoint", NULL, NULL, &nockpt},
        {"--overwrite", NULL, NULL, &overwrite},
        {"--new-job", NULL, NULL, &new_job},
        {NULL, NULL, NULL, NULL},
    };
    const char *pos[2];
    int npos = 0;
    int rc = floe_cli_parse("retrieve", RETRIEVE_USAGE, argc, argv, 1, opts, pos, 2, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos < 1 || (!archive && npos < 2))
        return floe_cli_usage_error("retrieve", RETRIEVE_USAGE, "missing VAULT or ARCHIVE_ID");
    if (archive && npos > 1)
        return floe_cli_usage_error("retrieve", RETRIEVE_USAGE, "ARCHIVE_ID given twice");
    if (!out)
        return floe_cli_usage_error("retrieve", RETRIEVE_USAGE,
                                    "-o FILE is required (- for standard output)");
    struct floe_retrieve_options o = {
        .archive_id = archive ? archive : pos[1],
        .tier = tier,
        .description = desc,
        .sns_topic = topic,
        .download =
            {
                .vault = pos[0],
                .output_path = out,
                .checkpoint_path = ckpt,
                .keep_checkpoint = keep,
                .no_checkpoint = nockpt,
            },
    };
    struct floe_error err = {0};
    if (range) {
        if (floe_range_parse_retrieval(range, &o.range, &err) != FLOE_OK)
            return floe_cli_usage_error("retrieve", RETRIEVE_USAGE, "--range: %s", err.message);
        o.has_range = true;
    }
    uint64_t n = 0;
    if (seg && floe_cli_parse_size("retrieve", RETRIEVE_USAGE, "--segment-size", seg,
                                   &o.download.segment_size))
        return 2;
    if (mem && floe_cli_parse_size("retrieve", RETRIEVE_USAGE, "--memory-limit", mem,
                                   &o.download.memory_limit))
        return 2;
    bool adaptive = conc && strcmp(conc, "adaptive") == 0;
    if (conc && !adaptive &&
        floe_cli_parse_uint("retrieve", RETRIEVE_USAGE, "--concurrency", conc, 256, &n))
        return 2;
    if (conc && !adaptive && n == 0) /* no --concurrency: adaptive (n 0), see --help */
        return floe_cli_usage_error(
            "retrieve", RETRIEVE_USAGE,
            "--concurrency must be a whole number from 1 to 256, not \"0\"");
    o.download.concurrency = (unsigned)n;
    uint64_t t = 0, p = 0;
    if ((timeout && floe_cli_parse_seconds("retrieve", RETRIEVE_USAGE, "--timeout", timeout, &t)) ||
        (poll && floe_cli_parse_seconds("retrieve", RETRIEVE_USAGE, "--poll-interval", poll, &p)))
        return 2;
    o.wait.timeout_ms = timeout && t == 0 ? 1 : t;
    floe_cli_poll_options(p, &o.wait);

    if (floe_cli_check_output(cli, "retrieve", RETRIEVE_USAGE, out, overwrite, ckpt))
        return 2;
    struct floe_cli_client_opts copts = {
        .max_connections = n ? (unsigned)n : FLOE_RETRIEVE_ADAPTIVE_MAX, /* n 0: adaptive */
    };
    struct floe_client *c = NULL;
    if (floe_cli_client(cli, "retrieve", &copts, &c))
        return floe_cli_client_status();
    char reuse[FLOE_JOB_ID_MAX] = "";
    if (!new_job && floe_cli_find_job(c, pos[0], o.archive_id, o.has_range, &o.range, reuse))
        o.reuse_job_id = reuse;
    struct ui ui = {cli, floe_progress_new("retrieve", 1, !cli->quiet && !cli->json)};
    floe_progress_set_name(ui.pl, out);
    o.download.cancel = floe_cli_cancel_on_sigint();
    o.download.progress = floe_cli_download_progress;
    o.download.progress_user = ui.pl;
    o.wait.progress = on_wait;
    o.wait.progress_user = &ui;
    struct floe_cli_notify *nq = NULL;
    if (queue && !(nq = floe_cli_notify_open(c, "retrieve", queue))) {
        floe_progress_destroy(ui.pl);
        floe_client_destroy(c);
        return 1;
    }
    if (nq)
        floe_cli_notify_wait_options(nq, floe_cli_interval_ms(p), &o.wait);
    o.phase = on_phase;
    o.phase_user = &ui;
    struct floe_download_result r;
    char job_id[FLOE_JOB_ID_MAX] = "";
    rc = floe_retrieve_archive(c, &o, &r, job_id, &err);
    floe_progress_clear(ui.pl);
    floe_progress_destroy(ui.pl);
    floe_cli_notify_close(nq);
    floe_client_destroy(c);
    if (rc == FLOE_E_CANCELLED) {
        char again[8192];
        snprintf(again, sizeof(again), "the same floe retrieve command again (%s%s%s)",
                 job_id[0] ? "job " : "", job_id,
                 strcmp(out, "-") == 0 || nockpt
                     ? "; standard output and --no-checkpoint download from the start"
                 : job_id[0] ? " continues; verified segments are kept"
                             : "verified segments are kept");
        return floe_cli_interrupted("retrieve", &err, again);
    }
    if (rc)
        return floe_cli_fail("retrieve", &err);
    floe_cli_print_download(cli, "retrieve", job_id, out, &r);
    return 0;
}
