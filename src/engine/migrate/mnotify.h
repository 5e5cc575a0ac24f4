/*
 * mnotify.h - the job completions a migration learns from an SQS queue (--notify-queue) that
 * is subscribed to the SNS topic its retrieval jobs notify (docs/migrate.md "Notifications").
 * A batch of messages is received (long poll), each read as a Glacier job notification
 * (floe_job_from_notification) and handed to the caller, who says whether the job is one of
 * its own; after the caller has recorded what it learnt, its own messages are deleted and every
 * other message is left in the queue untouched (it becomes visible again after the queue's
 * visibility timeout), so a queue shared with other consumers loses nothing to floe.
 *
 * Threads: the calling thread; the requests run on the Glacier client's transfer thread.
 */
#ifndef FLOE_ENGINE_MIGRATE_MNOTIFY_H
#define FLOE_ENGINE_MIGRATE_MNOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/jobs.h"

struct floe_mnotify;

/*
 * floe_mnotify_open() - the queue at queue_url through c's transfer thread and keys, checked
 * at once (GetQueueAttributes), so a missing queue or denied access is reported before any job
 * is paid for.
 * out      OUT: set only on FLOE_OK; free with floe_mnotify_close().
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (not a queue URL); FLOE_E_NOT_FOUND (no such queue);
 *          FLOE_E_AUTH (the keys may not read it); other service / network statuses. The
 *          message starts with "--notify-queue URL:".
 */
int floe_mnotify_open(struct floe_client *c, const char *queue_url, struct floe_mnotify **out,
                      struct floe_error *err);
void floe_mnotify_close(struct floe_mnotify *n); /* NULL is fine */

/* Called once per job notification received; returns 1 (a job of this run: its message is
 * deleted at the next floe_mnotify_ack), 0 (not ours: the message is left), or -1 (stop: the
 * caller's own failure; nothing more is read from the batch). */
typedef int floe_mnotify_fn(const struct floe_job_info *job, void *user);

/*
 * floe_mnotify_poll() - one ReceiveMessage (up to 10 messages, waiting up to wait_s seconds
 * for the first, 0..20), each job notification passed to fn; messages that are not job
 * notifications are counted in *foreign and left.
 * got      OUT: messages received (10: more may be waiting).
 * Returns  FLOE_OK (fn may have returned -1: see the caller's own record); the queue's failure
 *          with err filled.
 */
int floe_mnotify_poll(struct floe_mnotify *n, unsigned wait_s, floe_mnotify_fn *fn, void *user,
                      size_t *got, size_t *foreign, struct floe_error *err);

/* floe_mnotify_ack() - delete the messages fn claimed since the last ack (DeleteMessageBatch).
 * Returns FLOE_OK or the queue's failure. */
int floe_mnotify_ack(struct floe_mnotify *n, struct floe_error *err);

#endif
