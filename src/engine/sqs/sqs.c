/*
 * sqs.c - an SQS queue over the JSON 1.0 protocol (see floe/sqs.h; facts in
 * docs/sqs-sns-api.md).
 *
 * DESIGN
 * Every operation is one JSON body built with jansson, POSTed through awsrpc.c with
 * X-Amz-Target: AmazonSQS.<Operation>, and one JSON answer read with jansson. The queue URL goes
 * in each body (QueueUrl); the request goes to the URL's own scheme, host and port, which is
 * where AWS and moto both answer for that queue.
 */
#include "floe/sqs.h"

#include "alloc.h"
#include "awsrpc.h"
#include "client_impl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_TYPE "application/x-amz-json-1.0"
#define BATCH 10

struct floe_sqs {
    struct floe_awsrpc *rpc;
    char *queue_url;
};

/* REGION of sqs.REGION.amazonaws.com[.cn] or REGION.queue.amazonaws.com, into out (cap). */
static bool aws_region(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    if (!h)
        return false;
    h += 3;
    size_t hl = strcspn(h, ":/");
    const char *dot = memchr(h, '.', hl);
    if (!dot || !strstr(h, ".amazonaws.com"))
        return false;
    const char *reg = h;
    size_t rl = (size_t)(dot - h);
    if (rl == 3 && strncmp(h, "sqs", 3) == 0) { /* sqs.REGION.amazonaws.com */
        reg = dot + 1;
        const char *d2 = memchr(reg, '.', hl - (size_t)(reg - h));
        if (!d2)
            return false;
        rl = (size_t)(d2 - reg);
    }
    if (rl == 0 || rl >= cap)
        return false;
    memcpy(out, reg, rl);
    out[rl] = '\0';
    return true;
}

int floe_sqs_new(const struct floe_sqs_config *cfg, struct floe_sqs **out, struct floe_error *err)
{
    const char *u = cfg->queue_url ? cfg->queue_url : "";
    const char *after = strstr(u, "://");
    if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) || !after ||
        !strchr(after + 3, '/') || !strchr(after + 3, '/')[1]) {
        floe_credentials_destroy(cfg->credentials);
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the queue URL \"%s\" is not http(s)://HOST/ACCOUNT/NAME", u);
    }
    char reg[64];
    const char *region = cfg->region;
    if (!region && aws_region(u, reg, sizeof(reg)))
        region = reg;
    if (!region && cfg->share_transfer)
        region = cfg->share_transfer->region;
    struct floe_awsrpc_config rc = {.endpoint_url = NULL,
                                    .region = region,
                                    .service = "sqs",
                                    .credentials = cfg->credentials,
                                    .share_transfer = cfg->share_transfer};
    size_t hostlen = (size_t)(strchr(after + 3, '/') - u);
    char *endpoint = floe_xmalloc(hostlen + 1);
    memcpy(endpoint, u, hostlen);
    endpoint[hostlen] = '\0';
    rc.endpoint_url = endpoint;
    struct floe_sqs *q = floe_xcalloc(1, sizeof(*q));
    int st = floe_awsrpc_new(&rc, &q->rpc, err);
    free(endpoint);
    if (st) {
        free(q);
        return st;
    }
    q->queue_url = floe_xstrdup(u);
    *out = q;
    return FLOE_OK;
}

void floe_sqs_destroy(struct floe_sqs *q)
{
    if (!q)
        return;
    floe_awsrpc_destroy(q->rpc);
    free(q->queue_url);
    free(q);
}

/* One operation: body (consumed) -> the answer as a JSON object (*doc, the caller's). */
static int call(struct floe_sqs *q, const char *op, json_t *body, json_t **doc,
                struct floe_error *err)
{
    char target[64], what[80];
    snprintf(target, sizeof(target), "AmazonSQS.%s", op);
    snprintf(what, sizeof(what), "%s", op);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct floe_xfer *x = NULL;
    int rc = floe_awsrpc_call(q->rpc, JSON_TYPE, target, text, strlen(text), what, &x, err);
    free(text);
    if (rc) {
        if (err) { /* the queue in the message: which one does not exist or is denied */
            char msg[FLOE_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s", err->message);
            floe_error_set(err, rc, "%s (queue %s)", msg, q->queue_url);
        }
    } else {
        json_t *d =
            json_loadb(x->resp ? (const char *)x->resp : "{}", x->resp ? x->resp_len : 2, 0, NULL);
        if (!json_is_object(d)) {
            json_decref(d);
            rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the answer is not a JSON object", op);
        } else {
            *doc = d;
        }
    }
    floe_xfer_destroy(x);
    return rc;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int floe_sqs_check(struct floe_sqs *q, char *arn, size_t cap, struct floe_error *err)
{
    json_t *doc = NULL;
    int rc = call(q, "GetQueueAttributes",
                  json_pack("{s:s, s:[s]}", "QueueUrl", q->queue_url, "AttributeNames", "QueueArn"),
                  &doc, err);
    if (!rc && arn)
        snprintf(arn, cap, "%s",
                 or_empty(json_string_value(
                     json_object_get(json_object_get(doc, "Attributes"), "QueueArn"))));
    json_decref(doc);
    return rc;
}

static char *dup_member(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return floe_xstrdup(s ? s : "");
}

int floe_sqs_receive(struct floe_sqs *q, unsigned max, unsigned wait_s, unsigned visibility_s,
                     struct floe_sqs_message **out, size_t *n, struct floe_error *err)
{
    *out = NULL;
    *n = 0;
    if (max < 1 || max > 10 || wait_s > 20)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "ReceiveMessage takes 1-10 messages and waits 0-20 s (asked %u, %u)",
                              max, wait_s);
    json_t *body = json_pack("{s:s, s:I, s:I}", "QueueUrl", q->queue_url, "MaxNumberOfMessages",
                             (json_int_t)max, "WaitTimeSeconds", (json_int_t)wait_s);
    if (visibility_s)
        json_object_set_new(body, "VisibilityTimeout", json_integer(visibility_s));
    json_t *doc = NULL;
    int rc = call(q, "ReceiveMessage", body, &doc, err);
    if (rc)
        return rc;
    json_t *msgs = json_object_get(doc, "Messages");
    size_t k = json_is_array(msgs) ? json_array_size(msgs) : 0;
    if (k) {
        *out = floe_xcalloc(k, sizeof(**out));
        for (size_t i = 0; i < k; i++) {
            json_t *m = json_array_get(msgs, i);
            struct floe_sqs_message *d = &(*out)[*n];
            if (!json_is_object(m) || !json_string_value(json_object_get(m, "ReceiptHandle")))
                continue; /* nothing that could be deleted or read */
            d->message_id = dup_member(m, "MessageId");
            d->receipt_handle = dup_member(m, "ReceiptHandle");
            d->body = dup_member(m, "Body");
            d->body_len = strlen(d->body);
            (*n)++;
        }
        if (!*n) {
            free(*out);
            *out = NULL;
        }
    }
    json_decref(doc);
    return FLOE_OK;
}

void floe_sqs_messages_free(struct floe_sqs_message *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++) {
        free(m[i].message_id);
        free(m[i].receipt_handle);
        free(m[i].body);
    }
    free(m);
}

int floe_sqs_delete(struct floe_sqs *q, const char *const *receipts, size_t n,
                    struct floe_error *err)
{
    for (size_t at = 0; at < n; at += BATCH) {
        json_t *entries = json_array();
        for (size_t i = at; i < n && i < at + BATCH; i++) {
            char id[24];
            snprintf(id, sizeof(id), "m%zu", i);
            json_array_append_new(entries,
                                  json_pack("{s:s, s:s}", "Id", id, "ReceiptHandle", receipts[i]));
        }
        json_t *doc = NULL;
        int rc =
            call(q, "DeleteMessageBatch",
                 json_pack("{s:s, s:o}", "QueueUrl", q->queue_url, "Entries", entries), &doc, err);
        if (rc)
            return rc;
        json_t *failed = json_array_get(json_object_get(doc, "Failed"), 0);
        if (failed) {
            const char *code = json_string_value(json_object_get(failed, "Code"));
            const char *msg = json_string_value(json_object_get(failed, "Message"));
            rc = floe_error_set(err, FLOE_E_SERVICE,
                                "DeleteMessageBatch: entry %s refused: %s (%s) (queue %s)",
                                or_empty(json_string_value(json_object_get(failed, "Id"))),
                                or_empty(msg), or_empty(code), q->queue_url);
        }
        json_decref(doc);
        if (rc)
            return rc;
    }
    return FLOE_OK;
}
