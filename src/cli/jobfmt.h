/*
 * jobfmt.h - what the job, retrieve and inventory commands share: printing job descriptions
 * (text or --json), Ctrl-C handling, and running one verified download with a progress line
 * and a result line.
 */
#ifndef FLOE_CLI_JOBFMT_H
#define FLOE_CLI_JOBFMT_H

#include <stdbool.h>

#include "cli.h"
#include "floe/jobs.h"
#include "floe/retrieve.h"

/*
 * floe_cli_print_job() - one job on stdout. detailed: "Key: value" lines (describe, wait);
 * else one line "JOB_ID  ACTION  STATUS  CREATED  ARCHIVE_ID". --json: one object per line
 * with Glacier's field names either way.
 */
void floe_cli_print_job(const struct floe_cli *cli, const struct floe_job_info *j, bool detailed);

/* Text or JSON line describing a finished download (stdout; notes on stderr). */
void floe_cli_print_download(const struct floe_cli *cli, const char *cmd, const char *job_id,
                             const char *path, const struct floe_download_result *r);

/* The progress callback for floe_download_options; user is a struct floe_progress_line. */
void floe_cli_download_progress(const struct floe_download_progress *p, void *user);

/*
 * floe_cli_download() - make a client, run floe_job_output_download() with a progress line
 * and Ctrl-C handling (o->cancel, o->progress are set here), print the result.
 * Returns the exit status: 0, 1 (failure printed), 130 (interrupted).
 */
int floe_cli_download(const struct floe_cli *cli, const char *cmd, struct floe_download_options *o);

#endif
