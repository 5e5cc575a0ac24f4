/*
 * sns.c - SNS Publish over the query protocol (see floe/sns.h; facts in docs/sqs-sns-api.md).
 *
 * DESIGN
 * The form body is built with awsrpc's encoder and POSTed through awsrpc.c (its own transfer
 * thread: floe-vault has no Glacier client to share); the PublishResponse is read with the s3
 * room's expat table for its MessageId.
 */
#include "floe/sns.h"

#include "alloc.h"
#include "awsrpc.h"
#include "s3xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define MESSAGE_MAX (256 * 1024)

struct floe_sns {
    struct floe_awsrpc *rpc;
};

int floe_sns_new(const struct floe_sns_config *cfg, struct floe_sns **out, struct floe_error *err)
{
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    char def[128];
    const char *url = cfg->endpoint_url;
    if (!url || !*url) {
        snprintf(def, sizeof(def), "https://sns.%.60s.amazonaws.com", region);
        url = def;
    }
    if (!cfg->credentials)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "no AWS credentials for SNS");
    struct floe_awsrpc_config rc = {.endpoint_url = url,
                                    .region = region,
                                    .service = "sns",
                                    .credentials = cfg->credentials,
                                    .retry_for_ms = cfg->retry_for_ms};
    struct floe_sns *s = floe_xcalloc(1, sizeof(*s));
    int st = floe_awsrpc_new(&rc, &s->rpc, err);
    if (st) {
        free(s);
        return st;
    }
    *out = s;
    return FLOE_OK;
}

void floe_sns_destroy(struct floe_sns *s)
{
    if (!s)
        return;
    floe_awsrpc_destroy(s->rpc);
    free(s);
}

static int keep_id(void *ctx, const char *const *v)
{
    snprintf(ctx, FLOE_SNS_MESSAGE_ID_MAX, "%s", v[0]);
    return 0;
}

int floe_sns_publish(struct floe_sns *s, const char *topic_arn, const char *subject,
                     const char *message, char *message_id, struct floe_error *err)
{
    if (!topic_arn || !*topic_arn)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "Publish: a topic ARN is required");
    if (strlen(message) > MESSAGE_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "Publish: the message is %zu bytes; SNS takes at most %d",
                              strlen(message), MESSAGE_MAX);
    char *form = NULL;
    size_t cap = 0;
    floe_awsrpc_form_add(&form, &cap, "Action", "Publish");
    floe_awsrpc_form_add(&form, &cap, "Version", "2010-03-31");
    floe_awsrpc_form_add(&form, &cap, "TopicArn", topic_arn);
    floe_awsrpc_form_add(&form, &cap, "Message", message);
    if (subject && *subject)
        floe_awsrpc_form_add(&form, &cap, "Subject", subject);
    char op[500];
    snprintf(op, sizeof(op), "Publish to %.400s", topic_arn);
    struct floe_xfer *x = NULL;
    int rc = floe_awsrpc_call(s->rpc, FORM_TYPE, NULL, form, strlen(form), op, &x, err);
    free(form);
    if (!rc && message_id) {
        /* PublishResponse > PublishResult > MessageId: the result is one record */
        static const char *const fields[] = {"MessageId"};
        const struct floe_s3xml_record rec = {"PublishResult", fields, 1, keep_id};
        const struct floe_s3xml_spec spec = {"PublishResponse", NULL, 0, &rec, 1, NULL};
        message_id[0] = '\0';
        rc = floe_s3xml_parse(&spec, x->resp, x->resp_len, message_id, NULL, "Publish", err);
    }
    floe_xfer_destroy(x);
    return rc;
}
