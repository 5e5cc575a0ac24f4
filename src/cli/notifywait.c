/*
 * notifywait.c - a job's completion read from an SQS queue (see notifywait.h).
 *
 * DESIGN
 * One ReceiveMessage per call (a long poll of the time floe_job_wait() allows, whole
 * seconds; less than a second is slept), each body read with floe_job_from_notification().
 * The message of the awaited job is deleted and reported; every other message is left in the
 * queue (it is visible again after the queue's visibility timeout, for whoever it belongs to).
 * A failing queue is reported once as a warning and the wait falls back to polling (-1).
 */
#include "notifywait.h"

#include "need.h"

#include "floe/sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FALLBACK_MS (15u * 60 * 1000)

struct floe_cli_notify {
    struct floe_sqs *q;
    const char *cmd;
    char *url;
};

struct floe_cli_notify *floe_cli_notify_open(struct floe_client *c, const char *cmd,
                                             const char *url)
{
    struct floe_error err = {0};
    struct floe_sqs_config cfg = {.queue_url = url, .share_transfer = c};
    struct floe_sqs *q = NULL;
    int rc = floe_sqs_new(&cfg, &q, &err);
    if (!rc)
        rc = floe_sqs_check(q, NULL, 0, &err);
    if (rc) {
        fprintf(stderr, "floe %s: --notify-queue %s: %s\n", cmd, url, err.message);
        floe_sqs_destroy(q);
        return NULL;
    }
    struct floe_cli_notify *n = floe_cli_need(calloc(1, sizeof(*n)));
    n->q = q;
    n->cmd = cmd;
    n->url = floe_cli_strdup(url);
    return n;
}

void floe_cli_notify_close(struct floe_cli_notify *n)
{
    if (!n)
        return;
    floe_sqs_destroy(n->q);
    free(n->url);
    free(n);
}

int floe_cli_notify_wait(const char *job_id, uint32_t max_ms, void *user)
{
    struct floe_cli_notify *n = user;
    if (max_ms < 1000) {
        struct timespec ts = {0, (long)max_ms * 1000000L};
        nanosleep(&ts, NULL);
        return 0;
    }
    struct floe_sqs_message *m = NULL;
    size_t k = 0;
    struct floe_error err = {0};
    int rc = floe_sqs_receive(n->q, 10, max_ms / 1000, 0, &m, &k, &err);
    int found = 0;
    for (size_t i = 0; !rc && i < k && !found; i++) {
        struct floe_job_info *j = floe_cli_need(malloc(sizeof(*j)));
        struct floe_error perr = {0};
        if (floe_job_from_notification(m[i].body, m[i].body_len, j, &perr) == FLOE_OK &&
            strcmp(j->job_id, job_id) == 0 && strcmp(j->status_code, "InProgress") != 0) {
            const char *rh = m[i].receipt_handle;
            rc = floe_sqs_delete(n->q, &rh, 1, &err);
            found = 1;
        }
        free(j);
    }
    floe_sqs_messages_free(m, k);
    if (rc) {
        fprintf(stderr, "floe %s: warning: --notify-queue %s: %s; polling the job from now on\n",
                n->cmd, n->url, err.message);
        return found ? 1 : -1;
    }
    return found;
}

void floe_cli_notify_wait_options(struct floe_cli_notify *n, uint32_t poll_ms,
                                  struct floe_job_wait_options *wo)
{
    wo->notified = floe_cli_notify_wait;
    wo->notified_user = n;
    wo->first_interval_ms = poll_ms ? poll_ms : FALLBACK_MS;
}
