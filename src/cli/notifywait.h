/*
 * notifywait.h - `--notify-queue SQS_URL` of the commands that wait for one job at a time
 * (`floe retrieve`, `floe job wait`, `floe vault purge`'s inventory jobs): an SQS queue subscribed
 * to the job's SNS topic, read as a floe_job_notified_fn (floe/jobs.h) so floe_job_wait() waits on
 * it instead of polling DescribeJob (docs/cli.md "Job status from notifications").
 *
 * Threads: the command's thread; the requests run on the client's transfer thread.
 */
#ifndef FLOE_CLI_NOTIFYWAIT_H
#define FLOE_CLI_NOTIFYWAIT_H

#include "floe/client.h"
#include "floe/jobs.h"

struct floe_cli_notify;

/*
 * floe_cli_notify_open() - the queue at url through c's connections and keys, checked at once
 * (GetQueueAttributes). On failure prints "floe CMD: --notify-queue URL: ..." and returns NULL.
 */
struct floe_cli_notify *floe_cli_notify_open(struct floe_client *c, const char *cmd,
                                             const char *url);
void floe_cli_notify_close(struct floe_cli_notify *n); /* NULL is fine */

/* The floe_job_notified_fn over n (user = n): for options structs that carry one (purge). */
int floe_cli_notify_wait(const char *job_id, uint32_t max_ms, void *user);

/* The --poll-interval of a job wait (poll_ms; 0: floe_job_wait's default, 1 s growing to
 * 15 min): the first poll after poll_ms, growing to 8 times that (at most 15 min). */
void floe_cli_poll_options(uint64_t poll_ms, struct floe_job_wait_options *wo);

/* Set wo up to wait on n: wo->notified and its user, the fallback DescribeJob poll every
 * poll_ms (0: 15 min). */
void floe_cli_notify_wait_options(struct floe_cli_notify *n, uint32_t poll_ms,
                                  struct floe_job_wait_options *wo);

#endif
