/*
 * notify.c - the notifier thread (see notify.h).
 *
 * DESIGN
 * A mutex-guarded FIFO of messages and one thread. Posting copies the strings and signals;
 * the thread pops one message at a time, writes the log line (O_APPEND, one write() per line
 * so concurrent readers never see half a line), then POSTs it if the topic has a URL. Stop
 * sets a flag; the thread drains the queue before exiting, so a clean shutdown loses nothing.
 * With --sns-endpoint the thread also Publishes the job JSON to the topic through libfloe's SNS
 * client (floe/sns.h), whose transfer retries a failure that may pass (network, 5xx,
 * throttling) for SNS_RETRY_MS; a message still refused is logged and dropped. Only this thread
 * waits for SNS: the scheduler posts and goes on.
 */
#include "notify.h"

#include "alloc.h"
#include "vctx.h"
#include "vlog.h"
#include "vutil.h"

#include "floe/credentials.h"
#include "floe/sns.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct msg {
    struct msg *next;
    char *topic;
    char *message;
};

#define SNS_RETRY_MS 60000
#define SNS_SUBJECT "Notification From AWS Glacier"

struct floe_vnotify {
    struct floe_vserver *srv; /* read-only */
    struct floe_sns *sns;     /* --sns-endpoint, or NULL; used by the thread only */
    pthread_t thread;
    int logfd; /* owned by the thread after start */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        struct msg *head, *tail;
        bool stopping;
    } locked; /* guarded by mu */
};

static size_t discard_body(char *p, size_t size, size_t nmemb, void *user)
{
    return size * nmemb;
}

static void deliver(struct floe_vnotify *n, struct msg *m)
{
    char id[40], when[FLOE_VTIME_ISO_MAX];
    floe_vutil_id(id, 36, true);
    floe_vutil_iso(floe_vutil_now_ms(), true, when);
    json_t *env =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Type", "Notification", "MessageId", id,
                  "TopicArn", m->topic, "Subject", "Notification From AWS Glacier", "Message",
                  m->message, "Timestamp", when, "SignatureVersion", "1");
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!body)
        return;
    size_t len = strlen(body);
    char *line = floe_xmalloc(len + 2);
    memcpy(line, body, len);
    line[len] = '\n';
    if (n->logfd >= 0 && write(n->logfd, line, len + 1) != (ssize_t)(len + 1))
        floe_vlog(&n->srv->cfg, FLOE_VLOG_WARN, "cannot append to notifications.log: %s",
                  strerror(errno));
    free(line);
    if (n->sns) {
        struct floe_error err = {0};
        char mid[FLOE_SNS_MESSAGE_ID_MAX];
        if (floe_sns_publish(n->sns, m->topic, SNS_SUBJECT, m->message, mid, &err) != FLOE_OK)
            floe_vlog(&n->srv->cfg, FLOE_VLOG_WARN, "SNS notification to %s not sent: %s", m->topic,
                      err.message);
        else
            floe_vlog(&n->srv->cfg, FLOE_VLOG_DEBUG, "SNS notification to %s: MessageId %s",
                      m->topic, mid);
    }
    const char *url = NULL;
    for (int i = 0; i < n->srv->cfg.nnotify; i++)
        if (strcmp(n->srv->cfg.notify[i].topic_arn, m->topic) == 0)
            url = n->srv->cfg.notify[i].url;
    if (url) {
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        h = curl_slist_append(h, "Content-Type: text/plain; charset=UTF-8");
        h = curl_slist_append(h, "x-amz-sns-message-type: Notification");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
        CURLcode rc = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK || code >= 300)
            floe_vlog(&n->srv->cfg, FLOE_VLOG_WARN, "notification to %s failed: %s (HTTP %ld)", url,
                      curl_easy_strerror(rc), code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
    }
    free(body);
}

static void *run(void *arg)
{
    struct floe_vnotify *n = arg;
    pthread_mutex_lock(&n->mu);
    for (;;) {
        while (!n->locked.head && !n->locked.stopping)
            pthread_cond_wait(&n->cv, &n->mu);
        struct msg *m = n->locked.head;
        if (!m)
            break; /* stopping and drained */
        n->locked.head = m->next;
        if (!n->locked.head)
            n->locked.tail = NULL;
        pthread_mutex_unlock(&n->mu);
        deliver(n, m);
        free(m->topic);
        free(m->message);
        free(m);
        pthread_mutex_lock(&n->mu);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* The SNS client of --sns-endpoint (keys from the SDK chain), or NULL without the option. */
static int sns_open(const struct floe_vconfig *cfg, struct floe_sns **out, struct floe_error *err)
{
    *out = NULL;
    if (!cfg->sns_endpoint)
        return FLOE_OK;
    struct floe_credentials *creds = NULL;
    struct floe_credentials_options co = {.region = cfg->sns_region};
    struct floe_error e = {0};
    int rc = floe_credentials_new_chain(&co, &creds, &e);
    if (!rc) {
        struct floe_sns_config sc = {.endpoint_url = cfg->sns_endpoint,
                                     .region = cfg->sns_region,
                                     .credentials = creds,
                                     .retry_for_ms = SNS_RETRY_MS};
        rc = floe_sns_new(&sc, out, &e); /* takes creds over in every case */
    }
    if (rc)
        return floe_error_set(err, rc, "--sns-endpoint %s: %s", cfg->sns_endpoint, e.message);
    return FLOE_OK;
}

int floe_vnotify_start(struct floe_vserver *srv, struct floe_vnotify **out, struct floe_error *err)
{
    struct floe_sns *sns = NULL;
    int src = sns_open(&srv->cfg, &sns, err);
    if (src)
        return src;
    struct floe_vnotify *n = floe_xcalloc(1, sizeof(*n));
    n->sns = sns;
    size_t len = strlen(srv->cfg.data_dir) + 32;
    char *path = floe_xmalloc(len);
    snprintf(path, len, "%s/notifications.log", srv->cfg.data_dir);
    n->srv = srv;
    n->logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (n->logfd < 0) {
        int rc = floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open %s", path);
        free(path);
        floe_sns_destroy(n->sns);
        free(n);
        return rc;
    }
    free(path);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    pthread_create(&n->thread, NULL, run, n);
    *out = n;
    return FLOE_OK;
}

void floe_vnotify_stop(struct floe_vnotify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->locked.stopping = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    close(n->logfd);
    floe_sns_destroy(n->sns);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    curl_global_cleanup();
    free(n);
}

void floe_vnotify_post(struct floe_vnotify *n, const char *topic_arn, const char *message)
{
    if (!n)
        return;
    struct msg *m = floe_xcalloc(1, sizeof(*m));
    m->topic = floe_xstrdup(topic_arn);
    m->message = floe_xstrdup(message);
    pthread_mutex_lock(&n->mu);
    if (n->locked.tail)
        n->locked.tail->next = m;
    else
        n->locked.head = m;
    n->locked.tail = m;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}
