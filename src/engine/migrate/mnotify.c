/*
 * mnotify.c - job completions from an SQS queue (see mnotify.h).
 *
 * DESIGN
 * A thin layer over floe/sqs.h: ReceiveMessage, the parse of each body
 * (floe_job_from_notification: the SNS envelope or a raw job), the caller's verdict, and the
 * receipt handles of the caller's messages kept until floe_mnotify_ack() deletes them in
 * batches - after the caller has committed what it learnt, so a crash in between leaves the
 * message to be read again rather than a completion forgotten.
 */
#include "mnotify.h"

#include "alloc.h"
#include "floe/sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct floe_mnotify {
    struct floe_sqs *sqs;
    char *url;
    char **acks; /* receipt handles of claimed messages, not deleted yet */
    size_t nacks, cap;
};

int floe_mnotify_open(struct floe_client *c, const char *queue_url, struct floe_mnotify **out,
                      struct floe_error *err)
{
    struct floe_mnotify *n = floe_xcalloc(1, sizeof(*n));
    struct floe_error e = {0};
    struct floe_sqs_config cfg = {.queue_url = queue_url, .share_transfer = c};
    int rc = floe_sqs_new(&cfg, &n->sqs, &e);
    if (!rc)
        rc = floe_sqs_check(n->sqs, NULL, 0, &e);
    if (rc) {
        char msg[FLOE_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", e.message);
        *err = e;
        floe_error_set(err, rc, "--notify-queue %s: %s", queue_url, msg);
        floe_mnotify_close(n);
        return rc;
    }
    n->url = floe_xstrdup(queue_url);
    *out = n;
    return FLOE_OK;
}

void floe_mnotify_close(struct floe_mnotify *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nacks; i++)
        free(n->acks[i]);
    free(n->acks);
    floe_sqs_destroy(n->sqs);
    free(n->url);
    free(n);
}

int floe_mnotify_poll(struct floe_mnotify *n, unsigned wait_s, floe_mnotify_fn *fn, void *user,
                      size_t *got, size_t *foreign, struct floe_error *err)
{
    struct floe_sqs_message *msgs = NULL;
    size_t k = 0;
    *got = 0;
    int rc = floe_sqs_receive(n->sqs, 10, wait_s, 0, &msgs, &k, err);
    if (rc)
        return rc;
    *got = k;
    struct floe_job_info *job = floe_xmalloc(sizeof(*job));
    for (size_t i = 0; i < k; i++) {
        struct floe_error perr = {0};
        if (floe_job_from_notification(msgs[i].body, msgs[i].body_len, job, &perr) != FLOE_OK) {
            (*foreign)++;
            continue;
        }
        int v = fn(job, user);
        if (v < 0)
            break;
        if (v > 0) {
            if (n->nacks == n->cap) {
                n->cap = n->cap ? 2 * n->cap : 16;
                n->acks = floe_xrealloc(n->acks, n->cap * sizeof(*n->acks));
            }
            n->acks[n->nacks++] = msgs[i].receipt_handle;
            msgs[i].receipt_handle = NULL; /* now n's */
        }
    }
    free(job);
    floe_sqs_messages_free(msgs, k);
    return FLOE_OK;
}

int floe_mnotify_ack(struct floe_mnotify *n, struct floe_error *err)
{
    if (!n->nacks)
        return FLOE_OK;
    int rc = floe_sqs_delete(n->sqs, (const char *const *)n->acks, n->nacks, err);
    for (size_t i = 0; i < n->nacks; i++)
        free(n->acks[i]);
    n->nacks = 0;
    return rc;
}
