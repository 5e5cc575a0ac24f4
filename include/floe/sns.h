/*
 * floe/sns.h - Amazon SNS Publish (or an SNS-compatible endpoint: moto): what floe-vault calls
 * to announce a finished job on the job's topic, as Glacier does. The query protocol
 * (Action=Publish&Version=2010-03-31&TopicArn=..&Message=.., a form POST to "/"), SigV4 for the
 * service "sns", the XML answer read with expat; facts in docs/sqs-sns-api.md.
 *
 * Threads: a struct floe_sns may be used from several threads at once; every call blocks its
 * own thread only.
 */
#ifndef FLOE_SNS_H
#define FLOE_SNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/credentials.h"
#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct floe_sns;

struct floe_sns_config {
    const char *endpoint_url;             /* NULL = https://sns.REGION.amazonaws.com */
    const char *region;                   /* NULL = us-east-1 */
    struct floe_credentials *credentials; /* required; taken over in every case */
    /* retries: a failure that may pass (network, 5xx, throttling) is tried again after a
     * full-jitter backoff until it has failed for retry_for_ms (0 = 10 minutes); an endpoint
     * never reached is given up on after a few tries */
    uint64_t retry_for_ms;
};

/* floe_sns_new() - check the configuration and start a transfer thread. out set only on
 * FLOE_OK. Returns FLOE_OK or FLOE_E_INVALID_ARG (bad URL, region, no credentials). */
FLOE_API int floe_sns_new(const struct floe_sns_config *cfg, struct floe_sns **out,
                          struct floe_error *err);
FLOE_API void floe_sns_destroy(struct floe_sns *s); /* NULL is fine */

#define FLOE_SNS_MESSAGE_ID_MAX 128

/*
 * floe_sns_publish() - Publish message (UTF-8, at most 256 KiB) to topic_arn with subject
 * (NULL: none; at most 100 printable ASCII characters).
 * message_id  OUT: optional (FLOE_SNS_MESSAGE_ID_MAX bytes); the service's MessageId.
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (empty topic, message too large); FLOE_E_NOT_FOUND (no
 *          such topic); FLOE_E_AUTH; other service / network statuses, after the retries.
 */
FLOE_API int floe_sns_publish(struct floe_sns *s, const char *topic_arn, const char *subject,
                              const char *message, char *message_id, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
