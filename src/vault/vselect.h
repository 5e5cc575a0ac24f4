/*
 * vselect.h - floe-vault's select jobs (docs/select.md, docs/floe-vault.md "Select jobs"): the
 * checks InitiateJob makes before it accepts one, and the runner that executes accepted jobs
 * on a pool of threads, writing job.txt, results/, result_manifest.txt or errors/ and
 * error_manifest.txt under <Prefix>/<JobId>/ of the output (vs3out.h: an S3 endpoint, or
 * files under --select-output-dir DIR).
 *
 * Threads: the checks are pure apart from the archive read (lock held where named). The runner
 * is started and stopped by the job scheduler (jobs.c); floe_vselect_launch() is safe from any
 * thread. Each job runs on its own coordinating thread plus its slice workers; when it ends it
 * records the outcome through the done function given at start.
 */
#ifndef FLOE_VAULT_VSELECT_H
#define FLOE_VAULT_VSELECT_H

#include <jansson.h>
#include <stddef.h>

struct floe_vserver;
struct floe_vselect;

/*
 * floe_vselect_check_params() - the checks of a select job that need no archive data:
 * SelectParameters (Expression parsed, ExpressionType, Input/OutputSerialization.csv
 * characters and enums) and OutputLocation.S3 (bucket name, prefix, the output configured).
 * sp, ol borrowed. Returns 0, or -1 with msg (InvalidParameterValueException's message).
 */
int floe_vselect_check_params(const struct floe_vserver *srv, json_t *sp, json_t *ol, char *msg,
                              size_t cap);

/*
 * floe_vselect_check_archive_locked() - the checks that read the archive: with FileHeaderInfo
 * USE its first record is the header the column names must be in; without it, names are
 * refused. Reads at most the first record (<= 1 MiB). Lock held.
 * Returns 0, or -1 with msg.
 */
int floe_vselect_check_archive_locked(struct floe_vserver *srv, json_t *sp, const char *archive_id,
                                      char *msg, size_t cap);

/* Called on a job's thread when it ends: fail NULL for Succeeded, else the status message. */
typedef void floe_vselect_done_fn(struct floe_vserver *srv, const char *job_id, const char *fail);

/* The runner; done records each job's outcome (jobs.c passes floe_vjobs_finish). It also
 * sets up the output (srv->select_out, vs3out.h: the S3 client of --s3-endpoint or the
 * directory of --select-output-dir). Returns 0 with *out, or -1 with msg (no S3 credentials,
 * a bad endpoint). floe_vselect_stop() cancels running jobs (they stay InProgress and run
 * again at the next start), joins every thread and releases the output. */
int floe_vselect_start(struct floe_vserver *srv, floe_vselect_done_fn *done,
                       struct floe_vselect **out, char *msg, size_t cap);
void floe_vselect_stop(struct floe_vselect *s);

/* Run job job_id (a Select job InProgress whose due time has passed) on its own thread. */
void floe_vselect_launch(struct floe_vselect *s, const char *job_id);

#endif
