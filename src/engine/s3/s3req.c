/*
 * s3req.c - one S3 request: addressing, key encoding, headers, body, SigV4 for "s3", and the
 * transfer xfer that carries it (see s3req.h; the rules are in docs/s3-api.md 2 and 3).
 *
 * DESIGN
 * A request is built on the caller's thread and then owned by its xfer; the xfer's prepare hook
 * (call_prepare) signs it on the transfer thread before every attempt, so a retry carries a
 * fresh date. The URL path is what is signed, byte for byte: the key is encoded once here
 * (S3's canonical URI is the path as sent) and curl is told not to touch it (path_as_is), so a
 * key such as "a/../b" or "a//b" reaches the service as written.
 */
#include "s3req.h"

#include "alloc.h"
#include "floe/sigv4.h"
#include "floe/treehash.h"
#include "s3xml.h"
#include "sha256.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_REQ_HEADERS 40 /* 10 tags go in one header; metadata is bounded by 2 KiB */

struct floe_s3req {
    struct floe_s3 *s3;
    const char *method; /* static string */
    char *url;
    char *host;
    char *path;  /* encoded once, as sent and signed */
    char *query; /* NULL when none */
    struct {
        char *name;
        char *value;
    } h[MAX_REQ_HEADERS];
    size_t nh;
    const uint8_t *body;
    uint64_t body_len;
    size_t (*body_read)(void *ctx, uint64_t offset, uint8_t *dst, size_t n);
    void *body_ctx;
    char payload_hex[FLOE_HASH_HEX];
    atomic_ullong creds_gen; /* the key generation the last attempt was signed with */
};

char *floe_s3req_encode(const char *s, bool keep_slash)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = floe_xmalloc(3 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hx[*p >> 4];
            *o++ = hx[*p & 15];
        }
    }
    *o = 0;
    return out;
}

/* A bucket name that works as a DNS label in front of the endpoint: lower-case letters,
 * digits and '-', 3-63 characters, no dot (a dot breaks the wildcard certificate). */
static bool dns_label(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-'))
            return false;
    return true;
}

bool floe_s3req_virtual(const struct floe_s3 *s3, const char *bucket)
{
    switch (s3->addressing) {
    case FLOE_S3_ADDRESSING_PATH: return false;
    case FLOE_S3_ADDRESSING_VIRTUAL: return true;
    case FLOE_S3_ADDRESSING_AUTO: break;
    }
    return s3->aws && dns_label(bucket);
}

static char *join(const char *a, const char *b, const char *c, const char *d)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
    char *s = floe_xmalloc(n);
    snprintf(s, n, "%s%s%s%s", a, b, c, d);
    return s;
}

struct floe_s3req *floe_s3req_new(struct floe_s3 *s3, const char *method, const char *bucket,
                                  const char *key, const char *query)
{
    struct floe_s3req *r = floe_xcalloc(1, sizeof(*r));
    r->s3 = s3;
    r->method = method;
    char *ekey = key ? floe_s3req_encode(key, true) : NULL;
    if (floe_s3req_virtual(s3, bucket)) {
        r->host = join(bucket, ".", s3->host, "");
        r->path = join("/", ekey ? ekey : "", "", "");
    } else {
        char *ebucket = floe_s3req_encode(bucket, false);
        r->host = floe_xstrdup(s3->host);
        r->path = join("/", ebucket, ekey ? "/" : "", ekey ? ekey : "");
        free(ebucket);
    }
    free(ekey);
    r->query = query && *query ? floe_xstrdup(query) : NULL;
    char *base = join(s3->https ? "https://" : "http://", r->host, r->path, "");
    r->url = join(base, r->query ? "?" : "", r->query ? r->query : "", "");
    free(base);
    floe_s3req_body(r, NULL, 0, NULL);
    return r;
}

void floe_s3req_header(struct floe_s3req *r, const char *name, const char *value)
{
    if (r->nh == MAX_REQ_HEADERS)
        abort(); /* a programming error: the operations bound their headers */
    r->h[r->nh].name = floe_xstrdup(name);
    r->h[r->nh].value = floe_xstrdup(value);
    r->nh++;
}

void floe_s3req_body(struct floe_s3req *r, const void *body, size_t len, const uint8_t sha256[32])
{
    uint8_t h[FLOE_HASH_BYTES];
    r->body = body;
    r->body_len = len;
    r->body_read = NULL;
    if (!sha256) {
        floe_sha256(body ? body : "", len, h);
        sha256 = h;
    }
    floe_treehash_hex(sha256, r->payload_hex);
}

void floe_s3req_body_stream(struct floe_s3req *r, uint64_t len, const uint8_t sha256[32],
                            size_t (*read)(void *ctx, uint64_t offset, uint8_t *dst, size_t n),
                            void *ctx)
{
    r->body = NULL;
    r->body_len = len;
    r->body_read = read;
    r->body_ctx = ctx;
    floe_treehash_hex(sha256, r->payload_hex);
}

const char *floe_s3req_url(const struct floe_s3req *r)
{
    return r->url;
}

const char *floe_s3req_host(const struct floe_s3req *r)
{
    return r->host;
}

const char *floe_s3req_path(const struct floe_s3req *r)
{
    return r->path;
}

void floe_s3req_free(struct floe_s3req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nh; i++) {
        free(r->h[i].name);
        free(r->h[i].value);
    }
    free(r->url);
    free(r->host);
    free(r->path);
    free(r->query);
    free(r);
}

static void ctx_free(void *p)
{
    floe_s3req_free(p);
}

/* The headers signed: host, x-amz-content-sha256, then the request's own. */
static size_t sign_headers(const struct floe_s3req *r, struct floe_sigv4_header *sh)
{
    size_t n = 0;
    sh[n].name = "host";
    sh[n++].value = r->host;
    sh[n].name = "x-amz-content-sha256";
    sh[n++].value = r->payload_hex;
    for (size_t i = 0; i < r->nh; i++) {
        sh[n].name = r->h[i].name;
        sh[n++].value = r->h[i].value;
    }
    return n;
}

int floe_s3req_canonical(const struct floe_s3req *r, time_t when, char **out,
                         struct floe_error *err)
{
    (void)when; /* the date is a header the caller would add; the path and query are the point */
    struct floe_sigv4_header sh[MAX_REQ_HEADERS + 2];
    size_t n = sign_headers(r, sh);
    struct floe_sigv4_request req = {.method = r->method,
                                     .path = r->path,
                                     .query = r->query,
                                     .headers = sh,
                                     .nheaders = n,
                                     .payload_sha256_hex = r->payload_hex,
                                     .raw_path = true};
    return floe_sigv4_canonical_request(&req, NULL, out, err);
}

struct curl_slist *floe_s3req_header_line(struct curl_slist *l, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = floe_xmalloc(n);
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *res = curl_slist_append(l, line);
    free(line);
    return res;
}

int floe_s3req_sign(struct floe_s3req *r, time_t when, struct curl_slist **headers,
                    struct floe_error *err)
{
    const struct floe_s3 *s3 = r->s3;
    struct floe_sigv4_header sh[MAX_REQ_HEADERS + 2];
    size_t n = sign_headers(r, sh);
    struct floe_sigv4_request req = {.method = r->method,
                                     .path = r->path,
                                     .query = r->query,
                                     .headers = sh,
                                     .nheaders = n,
                                     .payload_sha256_hex = r->payload_hex,
                                     .raw_path = true};
    struct floe_creds_snap *snap = floe_credentials_acquire(s3->creds);
    struct floe_sigv4_credentials cred = {snap->access_key_id, snap->secret_access_key,
                                          snap->session_token};
    atomic_store(&r->creds_gen, snap->gen);
    struct floe_sigv4_signed sig;
    int rc = floe_sigv4_sign(&req, &cred, s3->region, "s3", when, &sig, err);
    if (rc) {
        floe_creds_snap_release(snap);
        return rc;
    }
    bool has_type = false;
    struct curl_slist *l = floe_s3req_header_line(NULL, "x-amz-content-sha256", r->payload_hex);
    for (size_t i = 0; i < r->nh; i++) {
        l = floe_s3req_header_line(l, r->h[i].name, r->h[i].value);
        if (strcasecmp(r->h[i].name, "content-type") == 0)
            has_type = true;
    }
    l = floe_s3req_header_line(l, "X-Amz-Date", sig.amz_date);
    l = floe_s3req_header_line(l, "Authorization", sig.authorization);
    if (sig.security_token)
        l = floe_s3req_header_line(l, "X-Amz-Security-Token", sig.security_token);
    floe_creds_snap_release(snap); /* sig.security_token pointed into it */
    if (!has_type)
        l = curl_slist_append(l, "Content-Type:"); /* not curl's form type */
    *headers = l;
    return FLOE_OK;
}

static int call_prepare(struct floe_xfer *x, struct curl_slist **headers, struct floe_error *err)
{
    return floe_s3req_sign(x->req_ctx, floe_transfer_now(), headers, err);
}

/* ExpiredToken: new keys, once (see floe_xfer_expired_fn). */
static bool call_expired(struct floe_xfer *x)
{
    struct floe_s3req *r = x->req_ctx;
    return floe_credentials_expired(r->s3->creds, atomic_load(&r->creds_gen));
}

bool floe_s3req_parse_error(const struct floe_xfer *x, char *code, size_t code_cap, char *message,
                            size_t message_cap, char *request_id, size_t request_id_cap)
{
    return floe_s3xml_error(x->resp, x->resp_len, code, code_cap, message, message_cap, request_id,
                            request_id_cap);
}

struct floe_xfer *floe_s3req_xfer(struct floe_s3req *r)
{
    struct floe_xfer *x = floe_xfer_new(r->method, r->url);
    x->body = r->body;
    x->body_len = (size_t)r->body_len;
    x->body_read = r->body_read;
    x->body_ctx = r->body_ctx;
    x->retry = r->s3->retry;
    x->prepare = call_prepare;
    x->on_expired = call_expired;
    x->parse_error = floe_s3req_parse_error;
    x->path_as_is = true;
    x->req_ctx = r;
    x->ctx_free = ctx_free;
    return x;
}

int floe_s3req_fail(const struct floe_xfer *x, const char *op, struct floe_error *err)
{
    int rc = x->status ? x->status : FLOE_E_SERVICE;
    if (x->http_status >= 300 && x->err.http_status)
        rc = floe_s3xml_error_status(x->err.code, (int)x->http_status);
    if (err) {
        *err = x->err;
        err->status = rc;
        if (op && *op) {
            char msg[FLOE_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s", x->err.message);
            floe_error_set(err, rc, "%s: %s", op, msg);
        }
    }
    return rc;
}

int floe_s3req_run(struct floe_s3req *r, const char *op, struct floe_xfer **out,
                   struct floe_error *err)
{
    struct floe_transfer *t = r->s3->transfer;
    struct floe_xfer *x = floe_s3req_xfer(r);
    int rc = floe_transfer_run(t, x);
    if (rc)
        rc = floe_s3req_fail(x, op, err);
    *out = x;
    return rc;
}
