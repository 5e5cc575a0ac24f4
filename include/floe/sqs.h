/*
 * floe/sqs.h - an Amazon SQS queue (or an SQS-compatible one: moto), read the way a consumer of
 * Glacier's job notifications needs: ReceiveMessage with a long poll, DeleteMessageBatch, and
 * GetQueueAttributes to check that the queue exists and the keys may use it. The JSON 1.0
 * protocol (X-Amz-Target: AmazonSQS.<Operation>, as current botocore sends), SigV4 for the
 * service "sqs"; the SQS facts relied on are in docs/sqs-sns-api.md.
 *
 * Threads: a struct floe_sqs may be used from several threads at once; every call blocks its
 * own thread only.
 */
#ifndef FLOE_SQS_H
#define FLOE_SQS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/credentials.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct floe_sqs;

struct floe_sqs_config {
    /* the queue: https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (requests go to its scheme,
     * host and port) */
    const char *queue_url;
    /* signing region; NULL = the REGION of an AWS queue URL, else share_transfer's region,
     * else us-east-1 */
    const char *region;
    /* the keys: a provider, taken over in every case; or, when NULL, share_transfer's */
    struct floe_credentials *credentials;
    /* optional: send through this Glacier client's transfer thread and retry policy
     * (borrowed: it must outlive the SQS client) */
    struct floe_client *share_transfer;
};

/*
 * floe_sqs_new() - check the queue URL and set up the client (nothing is sent).
 * out      OUT: set only on FLOE_OK; free with floe_sqs_destroy().
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (not an http(s) URL with a path, bad region, no keys).
 */
FLOE_API int floe_sqs_new(const struct floe_sqs_config *cfg, struct floe_sqs **out,
                          struct floe_error *err);
FLOE_API void floe_sqs_destroy(struct floe_sqs *q); /* NULL is fine */

/*
 * floe_sqs_check() - GetQueueAttributes (QueueArn): the queue exists and the keys may read it.
 * arn      OUT: the queue's ARN (cap bytes, truncated), on FLOE_OK; may be NULL.
 * Returns  FLOE_OK; FLOE_E_NOT_FOUND (QueueDoesNotExist); FLOE_E_AUTH (access denied, bad
 *          keys); other service / network statuses. The message names the queue.
 */
FLOE_API int floe_sqs_check(struct floe_sqs *q, char *arn, size_t cap, struct floe_error *err);

/* One received message. Strings owned by the array (floe_sqs_messages_free). */
struct floe_sqs_message {
    char *message_id;
    char *receipt_handle; /* what DeleteMessage(Batch) takes */
    char *body;
    size_t body_len;
};

/*
 * floe_sqs_receive() - ReceiveMessage.
 * max          IN: 1..10 messages.
 * wait_s       IN: long poll: 0..20 seconds to wait for a first message.
 * visibility_s IN: how long the messages stay hidden from other receivers (0 = the queue's
 *              VisibilityTimeout).
 * out, n       OUT: the messages (*out NULL when *n is 0); free with floe_sqs_messages_free().
 * Returns  FLOE_OK (also with no message); FLOE_E_INVALID_ARG (max, wait_s out of range);
 *          service / network statuses as floe_sqs_check().
 */
FLOE_API int floe_sqs_receive(struct floe_sqs *q, unsigned max, unsigned wait_s,
                              unsigned visibility_s, struct floe_sqs_message **out, size_t *n,
                              struct floe_error *err);
FLOE_API void floe_sqs_messages_free(struct floe_sqs_message *m, size_t n); /* NULL is fine */

/*
 * floe_sqs_delete() - DeleteMessageBatch of n receipt handles (any n: sent 10 at a time).
 * Returns  FLOE_OK when every message was deleted; FLOE_E_SERVICE naming the first entry the
 *          service refused (with its code); service / network statuses.
 */
FLOE_API int floe_sqs_delete(struct floe_sqs *q, const char *const *receipts, size_t n,
                             struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
