/*
 * notifywait.c - a job's completion read from an SQS queue (see notifywait.h).
 *
 * DESIGN
 * One ReceiveMessage per call (a long poll of the time floe_job_wait() allows, whole
 * seconds; less than a second is slept), each body read with floe_job_from_notification().
 * The message of the awaited job is deleted and reported; every other message is left in the
 * queue (it is visible again after the queue's visibility timeout, for whoever it belongs to).
 * A command that waits for several jobs one after another (`floe restore`) would otherwise
 * learn of a later job's completion only after that timeout: completions of other jobs are
 * remembered (job id and receipt handle, SEEN_MAX of them, the oldest forgotten first), and a
 * wait for a remembered job deletes its message with the handle kept and reports it at once.
 * A job found complete by its first DescribeJob never needed its message, which may still be
 * in the queue: such jobs are listed (`done`), and floe_cli_notify_close() reads the queue
 * until it holds nothing more of theirs (SWEEP_ROUNDS long polls of a second at most) and
 * deletes what it finds, so a run leaves none of its own messages behind.
 * A failing queue is reported once as a warning and the wait falls back to polling (-1).
 */
#include "notifywait.h"

#include "argparse.h"

#include "need.h"

#include "floe/sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FALLBACK_MS (15u * 60 * 1000)

#define SEEN_MAX 4096
#define SWEEP_ROUNDS 5

struct seen {
    char *job_id, *receipt;
};

struct floe_cli_notify {
    struct floe_sqs *q;
    const char *cmd;
    char *url;
    struct seen seen[SEEN_MAX]; /* other jobs' completions, a ring from `first` */
    size_t first, nseen;
    char *found; /* the job whose message the last wait took */
    char **done; /* jobs complete before their message was read */
    size_t ndone, done_cap;
};

static bool is_done(const struct floe_cli_notify *n, const char *job_id)
{
    for (size_t i = 0; i < n->ndone; i++)
        if (strcmp(n->done[i], job_id) == 0)
            return true;
    return false;
}

/* Deletes the messages of the `done` jobs still in the queue (see DESIGN). */
static void sweep(struct floe_cli_notify *n)
{
    for (int round = 0; round < SWEEP_ROUNDS && n->ndone; round++) {
        struct floe_sqs_message *m = NULL;
        size_t k = 0, mine = 0;
        struct floe_error err = {0};
        int rc = floe_sqs_receive(n->q, 10, 1, 0, &m, &k, &err);
        const char **rh = floe_cli_need(calloc(k + 1, sizeof(*rh)));
        for (size_t i = 0; !rc && i < k; i++) {
            struct floe_job_info *j = floe_cli_need(malloc(sizeof(*j)));
            struct floe_error perr = {0};
            if (floe_job_from_notification(m[i].body, m[i].body_len, j, &perr) == FLOE_OK &&
                is_done(n, j->job_id))
                rh[mine++] = m[i].receipt_handle;
            free(j);
        }
        if (!rc && mine)
            rc = floe_sqs_delete(n->q, rh, mine, &err);
        free(rh);
        floe_sqs_messages_free(m, k);
        if (rc) {
            fprintf(stderr, "floe %s: warning: --notify-queue %s: %s\n", n->cmd, n->url,
                    err.message);
            return;
        }
        if (!mine)
            return;
    }
}

static void seen_free(struct seen *s)
{
    free(s->job_id);
    free(s->receipt);
    s->job_id = s->receipt = NULL;
}

/* Remember that job_id completed (its message stays in the queue until a wait takes it). */
static void seen_add(struct floe_cli_notify *n, const char *job_id, const char *receipt)
{
    for (size_t i = 0; i < n->nseen; i++) { /* a message seen again: its newest handle */
        struct seen *s = &n->seen[(n->first + i) % SEEN_MAX];
        if (strcmp(s->job_id, job_id) == 0) {
            free(s->receipt);
            s->receipt = floe_cli_strdup(receipt);
            return;
        }
    }
    if (n->nseen == SEEN_MAX) {
        seen_free(&n->seen[n->first]);
        n->first = (n->first + 1) % SEEN_MAX;
        n->nseen--;
    }
    struct seen *s = &n->seen[(n->first + n->nseen++) % SEEN_MAX];
    s->job_id = floe_cli_strdup(job_id);
    s->receipt = floe_cli_strdup(receipt);
}

/* Takes job_id's remembered completion: its receipt handle (the caller frees), or NULL. */
static char *seen_take(struct floe_cli_notify *n, const char *job_id)
{
    for (size_t i = 0; i < n->nseen; i++) {
        struct seen *s = &n->seen[(n->first + i) % SEEN_MAX];
        if (strcmp(s->job_id, job_id) != 0)
            continue;
        char *receipt = s->receipt;
        free(s->job_id);
        for (size_t k = i; k + 1 < n->nseen; k++) /* close the gap */
            n->seen[(n->first + k) % SEEN_MAX] = n->seen[(n->first + k + 1) % SEEN_MAX];
        n->nseen--;
        n->seen[(n->first + n->nseen) % SEEN_MAX] = (struct seen){0};
        return receipt;
    }
    return NULL;
}

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
    sweep(n);
    free(n->found);
    for (size_t i = 0; i < n->ndone; i++)
        free(n->done[i]);
    free(n->done);
    for (size_t i = 0; i < n->nseen; i++)
        seen_free(&n->seen[(n->first + i) % SEEN_MAX]);
    floe_sqs_destroy(n->q);
    free(n->url);
    free(n);
}

int floe_cli_notify_wait(const char *job_id, uint32_t max_ms, void *user)
{
    struct floe_cli_notify *n = user;
    struct floe_error err = {0};
    char *kept = seen_take(n, job_id);
    if (kept) {
        const char *rh = kept;
        int rc = floe_sqs_delete(n->q, &rh, 1, &err);
        free(kept);
        free(n->found);
        n->found = floe_cli_strdup(job_id);
        if (rc)
            fprintf(stderr, "floe %s: warning: --notify-queue %s: %s\n", n->cmd, n->url,
                    err.message);
        return 1;
    }
    if (max_ms == 0 && n->found && strcmp(n->found, job_id) == 0)
        return 0;      /* its message was taken */
    if (max_ms == 0) { /* complete, its message not read: the close sweeps for it */
        if (n->ndone == n->done_cap) {
            n->done_cap = n->done_cap ? 2 * n->done_cap : 16;
            n->done = floe_cli_need(realloc(n->done, n->done_cap * sizeof(*n->done)));
        }
        n->done[n->ndone++] = floe_cli_strdup(job_id);
        return 0;
    }
    if (max_ms < 1000) {
        struct timespec ts = {0, (long)max_ms * 1000000L};
        nanosleep(&ts, NULL);
        return 0;
    }
    struct floe_sqs_message *m = NULL;
    size_t k = 0;
    int rc = floe_sqs_receive(n->q, 10, max_ms / 1000, 0, &m, &k, &err);
    int found = 0;
    for (size_t i = 0; !rc && i < k; i++) {
        struct floe_job_info *j = floe_cli_need(malloc(sizeof(*j)));
        struct floe_error perr = {0};
        if (floe_job_from_notification(m[i].body, m[i].body_len, j, &perr) == FLOE_OK &&
            strcmp(j->status_code, "InProgress") != 0) {
            if (strcmp(j->job_id, job_id) == 0) {
                const char *rh = m[i].receipt_handle;
                rc = floe_sqs_delete(n->q, &rh, 1, &err);
                found = 1;
                free(n->found);
                n->found = floe_cli_strdup(job_id);
            } else {
                seen_add(n, j->job_id, m[i].receipt_handle);
            }
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

void floe_cli_poll_options(uint64_t poll_ms, struct floe_job_wait_options *wo)
{
    wo->first_interval_ms = floe_cli_interval_ms(poll_ms);
    if (poll_ms)
        wo->max_interval_ms = (uint32_t)(poll_ms * 8 > 900000 ? 900000 : poll_ms * 8);
}

void floe_cli_notify_wait_options(struct floe_cli_notify *n, uint32_t poll_ms,
                                  struct floe_job_wait_options *wo)
{
    wo->notified = floe_cli_notify_wait;
    wo->notified_user = n;
    wo->first_interval_ms = poll_ms ? poll_ms : FALLBACK_MS;
}
