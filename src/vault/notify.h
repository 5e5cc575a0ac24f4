/*
 * notify.h - job-completion notifications. Each message is an SNS-style envelope whose
 * "Message" is the DescribeJob JSON; it is appended as one line to
 * <data-dir>/notifications.log and, when the topic ARN was mapped with --notify ARN=URL,
 * POSTed to that URL (libcurl, 5 s timeout, no retry); with --sns-endpoint the job JSON is
 * also Published to the topic by SNS's API (retried for 60 s when the failure may pass).
 *
 * Threads: floe_vnotify_post() is safe from any thread and never blocks on the network; one
 * notifier thread does the writing and posting, in posting order.
 */
#ifndef FLOE_VAULT_NOTIFY_H
#define FLOE_VAULT_NOTIFY_H

#include "floe/error.h"

struct floe_vserver;
struct floe_vnotify;

/* Start the notifier thread (and the SNS client of --sns-endpoint: keys from the SDK chain).
 * out: set only on FLOE_OK. Returns FLOE_OK, FLOE_E_IO, or the SNS client's failure (no keys,
 * a bad endpoint): the server must not start. */
int floe_vnotify_start(struct floe_vserver *srv, struct floe_vnotify **out, struct floe_error *err);

/* Deliver what is queued, then stop. NULL is fine. */
void floe_vnotify_stop(struct floe_vnotify *n);

/* Queue one message (both strings copied). */
void floe_vnotify_post(struct floe_vnotify *n, const char *topic_arn, const char *message);

#endif
