/*
 * awsrpc.c - a signed POST to an RPC-style AWS service (see awsrpc.h; the SQS and SNS facts are
 * in docs/sqs-sns-api.md).
 *
 * DESIGN
 * As s3req.c does for S3: the request is built on the caller's thread and owned by its xfer,
 * whose prepare hook signs it on the transfer thread before every attempt (a retry carries a
 * fresh date; an expired temporary key is replaced once). The path is always "/", so the
 * canonical URI needs no care; the payload hash is signed and not sent, as botocore does for
 * these services. Error answers: JSON bodies are read by the transfer (__type, message), XML
 * bodies here with the s3 room's expat table (floe_s3xml_parse): no text picked apart by hand.
 */
#include "awsrpc.h"

#include "alloc.h"
#include "client_impl.h"
#include "floe/sigv4.h"
#include "floe/treehash.h"
#include "s3req.h"
#include "s3xml.h"
#include "sha256.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct floe_awsrpc {
    char *endpoint; /* scheme://host[:port] */
    char *host;     /* as signed */
    char *url;      /* endpoint + "/" */
    char *region;
    char *service;
    struct floe_credentials *creds;
    bool own_creds;
    struct floe_retry_policy retry;
    struct floe_transfer *transfer;
    bool own_transfer;
};

/* One request's signing inputs, owned by its xfer. */
struct req {
    struct floe_awsrpc *r;
    char *content_type;
    char *target; /* NULL: none */
    char payload_hex[FLOE_HASH_HEX];
    atomic_ullong creds_gen;
};

static bool valid_region(const char *r)
{
    size_t n = strlen(r);
    return n > 0 && n < 64 &&
           strspn(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-") == n;
}

int floe_awsrpc_new(const struct floe_awsrpc_config *cfg, struct floe_awsrpc **out,
                    struct floe_error *err)
{
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    struct floe_awsrpc *r = floe_xcalloc(1, sizeof(*r));
    r->creds = cfg->credentials;
    r->own_creds = cfg->credentials != NULL;
    if (!r->creds && cfg->share_transfer)
        r->creds = cfg->share_transfer->creds;
    int rc = FLOE_OK;
    if (!valid_region(region))
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "%s region \"%s\" is not valid (1-63 letters, digits and '-')",
                            cfg->service, region);
    else if (!r->creds)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "no AWS credentials for %s", cfg->service);
    else
        rc = floe_client_parse_endpoint(cfg->endpoint_url ? cfg->endpoint_url : "", &r->endpoint,
                                        &r->host, err);
    if (rc) {
        floe_awsrpc_destroy(r);
        return rc;
    }
    r->region = floe_xstrdup(region);
    r->service = floe_xstrdup(cfg->service);
    size_t n = strlen(r->endpoint) + 2;
    r->url = floe_xmalloc(n);
    snprintf(r->url, n, "%s/", r->endpoint);
    if (cfg->share_transfer) {
        r->transfer = cfg->share_transfer->transfer;
        r->retry = cfg->share_transfer->retry;
    } else {
        r->retry.max_retries = -1;
        r->retry.budget_ms = cfg->retry_for_ms ? cfg->retry_for_ms : FLOE_RETRY_FOR_DEFAULT_MS;
        r->retry.unreached_retries = cfg->wait_for_endpoint ? -1 : FLOE_RETRY_UNREACHED;
        struct floe_transfer_opts to = {.max_active = 4};
        rc = floe_transfer_new(&to, &r->transfer, err);
        r->own_transfer = rc == FLOE_OK;
        if (rc) {
            floe_awsrpc_destroy(r);
            return rc;
        }
    }
    *out = r;
    return FLOE_OK;
}

void floe_awsrpc_destroy(struct floe_awsrpc *r)
{
    if (!r)
        return;
    if (r->own_transfer)
        floe_transfer_destroy(r->transfer);
    if (r->own_creds)
        floe_credentials_destroy(r->creds);
    free(r->endpoint);
    free(r->host);
    free(r->url);
    free(r->region);
    free(r->service);
    free(r);
}

const char *floe_awsrpc_region(const struct floe_awsrpc *r)
{
    return r->region;
}

static void req_free(void *p)
{
    struct req *q = p;
    free(q->content_type);
    free(q->target);
    free(q);
}

static int prepare(struct floe_xfer *x, struct curl_slist **headers, struct floe_error *err)
{
    struct req *q = x->req_ctx;
    struct floe_awsrpc *r = q->r;
    struct floe_sigv4_header sh[3] = {{"host", r->host}, {"content-type", q->content_type}};
    size_t nh = 2;
    if (q->target)
        sh[nh++] = (struct floe_sigv4_header){"x-amz-target", q->target};
    struct floe_sigv4_request req = {.method = "POST",
                                     .path = "/",
                                     .headers = sh,
                                     .nheaders = nh,
                                     .payload_sha256_hex = q->payload_hex};
    struct floe_creds_snap *snap = floe_credentials_acquire(r->creds);
    struct floe_sigv4_credentials cred = {snap->access_key_id, snap->secret_access_key,
                                          snap->session_token};
    atomic_store(&q->creds_gen, snap->gen);
    struct floe_sigv4_signed sig;
    int rc = floe_sigv4_sign(&req, &cred, r->region, r->service, floe_transfer_now(), &sig, err);
    if (!rc) {
        struct curl_slist *l = floe_s3req_header_line(NULL, "Content-Type", q->content_type);
        if (q->target)
            l = floe_s3req_header_line(l, "X-Amz-Target", q->target);
        l = floe_s3req_header_line(l, "X-Amz-Date", sig.amz_date);
        l = floe_s3req_header_line(l, "Authorization", sig.authorization);
        if (sig.security_token)
            l = floe_s3req_header_line(l, "X-Amz-Security-Token", sig.security_token);
        *headers = l;
    }
    floe_creds_snap_release(snap);
    return rc;
}

static bool expired(struct floe_xfer *x)
{
    struct req *q = x->req_ctx;
    return floe_credentials_expired(q->r->creds, atomic_load(&q->creds_gen));
}

/* "com.amazonaws.sqs#QueueDoesNotExist" -> "QueueDoesNotExist" */
static void copy_code(char *dst, size_t cap, const char *code)
{
    const char *hash = strrchr(code, '#');
    snprintf(dst, cap, "%s", hash ? hash + 1 : code);
}

struct xml_err {
    char *code, *message;
    size_t code_cap, message_cap;
};

static int xml_error_record(void *ctx, const char *const *v)
{
    struct xml_err *e = ctx;
    copy_code(e->code, e->code_cap, v[0]);
    snprintf(e->message, e->message_cap, "%s", v[1]);
    return 1;
}

static bool parse_error(const struct floe_xfer *x, char *code, size_t code_cap, char *message,
                        size_t message_cap, char *request_id, size_t request_id_cap)
{
    code[0] = message[0] = request_id[0] = '\0';
    if (!x->resp || !x->resp_len)
        return false;
    if (x->resp[0] == '{')
        return false; /* JSON: the transfer reads __type and message itself */
    static const char *const fields[] = {"Code", "Message"};
    static const char *const top[] = {"RequestId"};
    struct xml_err e = {code, message, code_cap, message_cap};
    const struct floe_s3xml_record rec = {"Error", fields, 2, xml_error_record};
    const struct floe_s3xml_spec spec = {"ErrorResponse", top, 1, &rec, 1, NULL};
    char *t[1] = {NULL};
    struct floe_error perr = {0};
    if (floe_s3xml_parse(&spec, x->resp, x->resp_len, &e, t, "error", &perr) == FLOE_OK) {
        snprintf(request_id, request_id_cap, "%s", t[0]);
        floe_s3xml_free(t, 1);
        return code[0] != '\0';
    }
    /* a bare <Error> document (floe_s3xml_parse fills perr from it) */
    if (perr.code[0]) {
        copy_code(code, code_cap, perr.code);
        snprintf(message, message_cap, "%s", perr.message);
        snprintf(request_id, request_id_cap, "%s", perr.request_id);
        return true;
    }
    return false;
}

static bool has(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

/* The floe status of a service error. */
static int status_of(const char *code, long http)
{
    if (http == 403 || has(code, "AccessDenied") || has(code, "AuthorizationError") ||
        has(code, "InvalidClientTokenId") || has(code, "SignatureDoesNotMatch") ||
        has(code, "UnrecognizedClient") || has(code, "InvalidSecurity"))
        return FLOE_E_AUTH;
    if (has(code, "QueueDoesNotExist") || has(code, "NonExistentQueue") ||
        strcmp(code, "NotFound") == 0 || has(code, "NotFoundException"))
        return FLOE_E_NOT_FOUND;
    if (has(code, "Throttl"))
        return FLOE_E_THROTTLED;
    return FLOE_E_SERVICE;
}

int floe_awsrpc_call(struct floe_awsrpc *r, const char *content_type, const char *target,
                     const char *body, size_t len, const char *op, struct floe_xfer **out,
                     struct floe_error *err)
{
    struct req *q = floe_xcalloc(1, sizeof(*q));
    q->r = r;
    q->content_type = floe_xstrdup(content_type);
    q->target = target ? floe_xstrdup(target) : NULL;
    uint8_t h[FLOE_HASH_BYTES];
    floe_sha256(body, len, h);
    floe_treehash_hex(h, q->payload_hex);
    struct floe_xfer *x = floe_xfer_new("POST", r->url);
    x->body = (const uint8_t *)body;
    x->body_len = len;
    x->retry = r->retry;
    x->prepare = prepare;
    x->on_expired = expired;
    x->parse_error = parse_error;
    x->req_ctx = q;
    x->ctx_free = req_free;
    int rc = floe_transfer_run(r->transfer, x);
    if (rc) {
        int st = x->status ? x->status : FLOE_E_SERVICE;
        if (x->http_status >= 300)
            st = status_of(x->err.code, x->http_status);
        if (err) {
            char msg[FLOE_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s", x->err.message);
            *err = x->err;
            floe_error_set(err, st, "%s: %s", op, msg);
        }
        rc = st;
    }
    *out = x;
    return rc;
}

void floe_awsrpc_form_add(char **buf, size_t *cap, const char *name, const char *value)
{
    char *v = floe_client_encode(value);
    size_t used = *buf ? strlen(*buf) : 0;
    size_t need = used + strlen(name) + strlen(v) + 3;
    if (need > *cap) {
        *cap = need * 2;
        *buf = floe_xrealloc(*buf, *cap);
    }
    snprintf(*buf + used, *cap - used, "%s%s=%s", used ? "&" : "", name, v);
    free(v);
}
