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

/*
 * floe_cli_check_output() - the -o rules of every download (docs/cli.md): "-" is standard
 * output; an existing path is refused unless overwrite, and never when it is a file this run
 * reads or writes itself (the checkpoint, --log-file), whatever overwrite says.
 * Returns 0, or 2 after printing the usage error.
 */
int floe_cli_check_output(const struct floe_cli *cli, const char *cmd, const char *usage,
                          const char *path, bool overwrite, const char *checkpoint);

/*
 * floe_cli_find_job() - a job worth reusing for an archive retrieval: ArchiveRetrieval of
 * archive_id over the same range (the whole archive when !has_range), completed with
 * Succeeded, whose output is still available (completed less than 23 hours ago: Glacier keeps
 * it 24 hours). The most recently completed such job wins. Writes out (FLOE_JOB_ID_MAX) and
 * returns true when found; a failing ListJobs only means "none found" (the retrieval then
 * initiates a job as usual).
 */
bool floe_cli_find_job(struct floe_client *c, const char *vault, const char *archive_id,
                       bool has_range, const struct floe_byte_range *range, char *out);

/* "floe CMD: interrupted; ..." plus how to resume (what run_again names: the command line
 * to run), on stderr. Returns 130. */
int floe_cli_interrupted(const char *cmd, const struct floe_error *err, const char *run_again);

#endif
