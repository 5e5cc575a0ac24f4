/*
 * notify.h - job-completion notifications (there is no SNS locally). Each message is an
 * SNS-style envelope whose "Message" is the DescribeJob JSON; it is appended as one line to
 * <data-dir>/notifications.log and, when the topic ARN was mapped with --notify ARN=URL,
 * POSTed to that URL (libcurl, 5 s timeout, no retry).
 *
 * Threads: floe_vnotify_post() is safe from any thread and never blocks on the network; one
 * notifier thread does the writing and posting, in posting order.
 */
#ifndef FLOE_VAULT_NOTIFY_H
#define FLOE_VAULT_NOTIFY_H

#include "floe/error.h"

struct floe_vserver;
struct floe_vnotify;

/* Start the notifier thread. out: set only on FLOE_OK. Returns FLOE_OK or FLOE_E_IO. */
int floe_vnotify_start(struct floe_vserver *srv, struct floe_vnotify **out, struct floe_error *err);

/* Deliver what is queued, then stop. NULL is fine. */
void floe_vnotify_stop(struct floe_vnotify *n);

/* Queue one message (both strings copied). */
void floe_vnotify_post(struct floe_vnotify *n, const char *topic_arn, const char *message);

#endif
