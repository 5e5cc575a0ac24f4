/*
 * s3.c - struct floe_s3 and the synchronous S3 operations of floe/s3.h: the local checks of
 * their inputs, the request each one sends (s3req.c), and the reading of each answer (headers,
 * or an XML document through the tables of s3xml.c).
 *
 * DESIGN
 * Every operation is one request built on the caller's thread and run through the transfer
 * thread (floe_s3req_run blocks until the answer, after retries); listings loop over pages on
 * the caller's thread, calling the caller's callback from the page parser. Inputs the service
 * would refuse are refused here first, with a message that states the rule. A HEAD answer has
 * no body, so its failures are named from the status alone. CompleteMultipartUpload can fail
 * inside a 200 answer; that <Error> is a failure like any other, and retried when S3 says it
 * may be (InternalError, SlowDown).
 */
#include "s3_impl.h"

#include "alloc.h"
#include "client_impl.h"
#include "floe/s3part.h"
#include "s3doc.h"
#include "s3req.h"
#include "s3xml.h"
#include "sha256.h"

#include <openssl/evp.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/" /* CreateBucketConfiguration */
#define META_MAX_BYTES 2048
#define MAX_TAGS 10
#define LIST_RESP_MAX ((size_t)16 << 20)

/* ---- client ---- */

static bool valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 63)
        return false;
    for (; *r; r++)
        if (!(isalnum((unsigned char)*r) || *r == '-'))
            return false;
    return true;
}

static int start_transfer(struct floe_s3 *s, const struct floe_s3_config *cfg,
                          struct floe_error *err)
{
    if (cfg->share_transfer) {
        s->transfer = cfg->share_transfer->transfer;
        s->retry = cfg->share_transfer->retry;
        return FLOE_OK;
    }
    /* the same mapping as floe_client_new() (src/engine/net/client.c) */
    s->retry.max_retries = cfg->max_retries < 0 ? 0 : cfg->max_retries ? cfg->max_retries : -1;
    s->retry.budget_ms = cfg->retry_for_ms ? cfg->retry_for_ms : FLOE_RETRY_FOR_DEFAULT_MS;
    s->retry.unreached_retries = cfg->wait_for_endpoint ? -1 : FLOE_RETRY_UNREACHED;
    s->retry.base_ms = cfg->retry_base_ms;
    s->retry.cap_ms = cfg->retry_cap_ms;
    struct floe_transfer_opts to = {.max_active = cfg->max_connections,
                                    .stall_timeout_s = cfg->stall_timeout_s,
                                    .stall_min_rate = cfg->stall_min_rate,
                                    .verbose = cfg->verbose,
                                    .ca_bundle =
                                        cfg->ca_bundle && *cfg->ca_bundle ? cfg->ca_bundle : NULL,
                                    .insecure = cfg->no_verify_ssl};
    int rc = floe_transfer_new(&to, &s->transfer, err);
    s->own_transfer = rc == FLOE_OK;
    return rc;
}

int floe_s3_new(const struct floe_s3_config *cfg, struct floe_s3 **out, struct floe_error *err)
{
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    if (!valid_region(region)) {
        floe_credentials_destroy(cfg->credentials); /* taken over in every case */
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "S3 region \"%s\" is not valid (1-63 letters, digits and '-')",
                              region);
    }
    struct floe_credentials *creds = cfg->credentials;
    bool own_creds = true;
    if (!creds && cfg->access_key_id && *cfg->access_key_id && cfg->secret_access_key &&
        *cfg->secret_access_key) {
        int crc = floe_credentials_new_static(
            cfg->access_key_id, cfg->secret_access_key,
            cfg->session_token && *cfg->session_token ? cfg->session_token : NULL, &creds, err);
        if (crc)
            return crc;
    } else if (!creds && cfg->share_transfer) {
        creds = cfg->share_transfer->creds; /* the Glacier client's provider, borrowed */
        own_creds = false;
    }
    if (!creds)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "no AWS credentials for S3: a provider, or an access key id and "
                              "a secret access key, are required");
    if (cfg->addressing > FLOE_S3_ADDRESSING_VIRTUAL) {
        if (own_creds)
            floe_credentials_destroy(creds);
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "S3 addressing %d is not one of auto (0), "
                              "path (1) or virtual (2)",
                              (int)cfg->addressing);
    }
    char defbuf[200];
    const char *url = cfg->endpoint_url;
    bool aws = !url || !*url;
    if (aws) {
        snprintf(defbuf, sizeof(defbuf), "https://s3.%s.amazonaws.com", region);
        url = defbuf;
    }
    struct floe_s3 *s = floe_xcalloc(1, sizeof(*s));
    s->creds = creds;
    s->own_creds = own_creds;
    int rc = floe_client_parse_endpoint(url, &s->endpoint, &s->host, err);
    if (rc) {
        floe_s3_destroy(s);
        return rc;
    }
    s->https = strncmp(s->endpoint, "https:", 6) == 0;
    s->aws = aws;
    s->region = floe_xstrdup(region);
    s->addressing = cfg->addressing;
    rc = start_transfer(s, cfg, err);
    if (rc) {
        floe_s3_destroy(s);
        return rc;
    }
    *out = s;
    return FLOE_OK;
}

void floe_s3_destroy(struct floe_s3 *s3)
{
    if (!s3)
        return;
    if (s3->own_transfer)
        floe_transfer_destroy(s3->transfer);
    free(s3->endpoint);
    free(s3->host);
    free(s3->region);
    if (s3->own_creds)
        floe_credentials_destroy(s3->creds);
    free(s3);
}

/* ---- local checks ---- */

int floe_s3_bucket_name_valid(const char *b, struct floe_error *err)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "bucket name \"%s\" is %zu characters; S3 allows 3 to 63", b ? b : "",
                              n);
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '.' ||
              b[i] == '-'))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "bucket name \"%s\" has '%c' at position %zu; S3 allows only "
                                  "lower-case letters, digits, '.' and '-'",
                                  b, isprint((unsigned char)b[i]) ? b[i] : '?', i);
    if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "bucket name \"%s\" must start and end with a letter or digit", b);
    if (strstr(b, ".."))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "bucket name \"%s\" has two adjacent dots",
                              b);
    unsigned a, c, d, e;
    char tail;
    if (sscanf(b, "%u.%u.%u.%u%c", &a, &c, &d, &e, &tail) == 4)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "bucket name \"%s\" looks like an IP address, which S3 refuses", b);
    return FLOE_OK;
}

/* Length of the UTF-8 sequence at p (1-4), or 0 when it is not valid UTF-8. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xE0) == 0xC0   ? 2
               : (p[0] & 0xF0) == 0xE0 ? 3
               : (p[0] & 0xF8) == 0xF0 ? 4
                                       : 0;
    if (n == 0 || (n == 2 && p[0] < 0xC2) || (n == 4 && p[0] > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    uint32_t cp = p[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3F);
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0; /* overlong, or a surrogate */
    return n;
}

int floe_s3_key_valid(const char *key, struct floe_error *err)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "object key is empty");
    if (n > 1024)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "object key is %zu bytes; S3 allows at most 1,024 (UTF-8)", n);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)key + i);
        if (!l)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "object key is not valid UTF-8 (byte %zu)", i);
        i += l;
    }
    return FLOE_OK;
}

static const char *const s_classes[] = {
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
    "GLACIER",  "DEEP_ARCHIVE",       "GLACIER_IR",  "OUTPOSTS",   "EXPRESS_ONEZONE",
};

int floe_s3_storage_class_valid(const char *sc, struct floe_error *err)
{
    for (size_t i = 0; sc && i < sizeof(s_classes) / sizeof(s_classes[0]); i++)
        if (strcmp(sc, s_classes[i]) == 0)
            return FLOE_OK;
    return floe_error_set(err, FLOE_E_INVALID_ARG,
                          "storage class \"%s\" is not one of STANDARD, REDUCED_REDUNDANCY, "
                          "STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER, DEEP_ARCHIVE, "
                          "GLACIER_IR, OUTPOSTS, EXPRESS_ONEZONE",
                          sc ? sc : "");
}

static int check_target(const char *bucket, const char *key, struct floe_error *err)
{
    /* existing buckets may predate today's rules (upper case, '_'): only what cannot be
     * sent is refused here; new names get the full rule in CreateBucket */
    size_t n = bucket ? strlen(bucket) : 0;
    if (n == 0 || n > 255 || strchr(bucket, '/'))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "bucket name \"%s\" is empty, longer than 255 characters or has "
                              "a '/'",
                              bucket ? bucket : "");
    return key ? floe_s3_key_valid(key, err) : FLOE_OK;
}

static int check_meta(const struct floe_s3_put_opts *o, struct floe_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < o->nmeta; i++) {
        const char *name = o->meta[i].name, *value = o->meta[i].value;
        if (!name || !*name || !value)
            return floe_error_set(err, FLOE_E_INVALID_ARG, "metadata #%zu has no name or value",
                                  i + 1);
        for (const char *p = name; *p; p++)
            if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
                  *p == '_'))
                return floe_error_set(err, FLOE_E_INVALID_ARG,
                                      "metadata name \"%s\" may hold only lower-case letters, "
                                      "digits, '-' and '_'",
                                      name);
        for (const char *p = value; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                return floe_error_set(err, FLOE_E_INVALID_ARG,
                                      "metadata \"%s\" has a character outside printable "
                                      "US-ASCII (0x20-0x7E), which an HTTP header cannot carry",
                                      name);
        total += strlen(name) + strlen(value);
    }
    if (total > META_MAX_BYTES)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "user metadata is %zu bytes (names + values); S3 allows 2 KiB",
                              total);
    return FLOE_OK;
}

static int check_tags(const struct floe_s3_put_opts *o, struct floe_error *err)
{
    if (o->ntags > MAX_TAGS)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "%zu tags; S3 allows at most 10 per object",
                              o->ntags);
    for (size_t i = 0; i < o->ntags; i++) {
        const char *k = o->tags[i].key, *v = o->tags[i].value ? o->tags[i].value : "";
        if (!k || !*k || strlen(k) > 128 || strlen(v) > 256)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "tag #%zu: the key must be 1-128 bytes and the value at most "
                                  "256",
                                  i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->tags[j].key, k) == 0)
                return floe_error_set(err, FLOE_E_INVALID_ARG, "tag key \"%s\" is given twice", k);
    }
    return FLOE_OK;
}

static int check_put_opts(const struct floe_s3_put_opts *o, struct floe_error *err)
{
    if (!o)
        return FLOE_OK;
    int rc = o->storage_class ? floe_s3_storage_class_valid(o->storage_class, err) : FLOE_OK;
    if (!rc)
        rc = check_meta(o, err);
    if (!rc)
        rc = check_tags(o, err);
    const char *const hv[] = {o->content_type, o->canned_acl,     o->grant_full_control,
                              o->grant_read,   o->grant_read_acp, o->grant_write_acp,
                              o->sse,          o->sse_kms_key_id, o->sse_kms_context};
    const char *const hn[] = {"content type",    "canned ACL",     "full-control grant",
                              "read grant",      "read-acp grant", "write-acp grant",
                              "encryption type", "KMS key id",     "encryption context"};
    for (size_t i = 0; i < sizeof(hv) / sizeof(hv[0]) && !rc; i++)
        for (const char *p = hv[i]; p && *p && !rc; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                    "%s has a character outside printable US-ASCII", hn[i]);
    return rc;
}

/* ---- request helpers ---- */

static void base64(const uint8_t *p, size_t n, char *out, size_t cap)
{
    unsigned char buf[4 * ((64 + 2) / 3) + 1];
    if (n > 64 || cap < 4 * ((n + 2) / 3) + 1)
        abort(); /* digests only */
    int len = EVP_EncodeBlock(buf, p, (int)n);
    memcpy(out, buf, (size_t)len + 1);
}

/* The object headers of PutObject and CreateMultipartUpload. */
static void put_headers(struct floe_s3req *r, const struct floe_s3_put_opts *o)
{
    if (!o)
        return;
    if (o->storage_class && strcmp(o->storage_class, "STANDARD") != 0)
        floe_s3req_header(r, "x-amz-storage-class", o->storage_class);
    if (o->content_type)
        floe_s3req_header(r, "Content-Type", o->content_type);
    const char *const hv[] = {o->canned_acl,     o->grant_full_control, o->grant_read,
                              o->grant_read_acp, o->grant_write_acp,    o->sse,
                              o->sse_kms_key_id, o->sse_kms_context};
    const char *const hn[] = {"x-amz-acl",
                              "x-amz-grant-full-control",
                              "x-amz-grant-read",
                              "x-amz-grant-read-acp",
                              "x-amz-grant-write-acp",
                              "x-amz-server-side-encryption",
                              "x-amz-server-side-encryption-aws-kms-key-id",
                              "x-amz-server-side-encryption-context"};
    for (size_t i = 0; i < sizeof(hv) / sizeof(hv[0]); i++)
        if (hv[i])
            floe_s3req_header(r, hn[i], hv[i]);
    for (size_t i = 0; i < o->nmeta; i++) {
        char name[300];
        snprintf(name, sizeof(name), "x-amz-meta-%s", o->meta[i].name);
        floe_s3req_header(r, name, o->meta[i].value);
    }
    if (o->ntags) {
        char *buf = NULL;
        size_t len = 0, cap = 0;
        for (size_t i = 0; i < o->ntags; i++) {
            char *k = floe_s3req_encode(o->tags[i].key, false);
            char *v = floe_s3req_encode(o->tags[i].value ? o->tags[i].value : "", false);
            if (i)
                floe_s3xml_append(&buf, &len, &cap, "&");
            floe_s3xml_append(&buf, &len, &cap, k);
            floe_s3xml_append(&buf, &len, &cap, "=");
            floe_s3xml_append(&buf, &len, &cap, v);
            free(k);
            free(v);
        }
        floe_s3req_header(r, "x-amz-tagging", buf);
        free(buf);
    }
}

/* "Op s3://bucket/key" for messages. */
static void op_name(char *dst, size_t cap, const char *op, const char *bucket, const char *key)
{
    snprintf(dst, cap, "%s s3://%s%s%s", op, bucket, key ? "/" : "", key ? key : "");
}

/* Runs r and drops the answer; for operations whose answer is only a status. */
static int run_simple(struct floe_s3req *r, const char *op, struct floe_error *err)
{
    struct floe_xfer *x = NULL;
    int rc = floe_s3req_run(r, op, &x, err);
    floe_xfer_destroy(x);
    return rc;
}

/* A HEAD failure has no body: name it from the status. */
static int head_failure(int rc, const struct floe_xfer *x, const char *op, const char *not_found,
                        struct floe_error *err)
{
    long http = x ? x->http_status : 0;
    if (!err || http == 0 || (http != 403 && http != 404 && http != 400 && http != 301))
        return rc;
    const char *code = http == 404 ? not_found : http == 403 ? "AccessDenied" : "";
    if (http == 404)
        floe_error_set(err, FLOE_E_NOT_FOUND, "%s: %s: not found (HTTP 404)", op, code);
    else if (http == 403)
        floe_error_set(err, FLOE_E_AUTH,
                       "%s: AccessDenied: forbidden (HTTP 403): the credentials were refused "
                       "(wrong key or secret, or a clock off by more than 15 minutes) or may not "
                       "use this bucket",
                       op);
    else if (http == 301)
        floe_error_set(err, FLOE_E_SERVICE,
                       "%s: PermanentRedirect (HTTP 301): the bucket is in another region%s%s", op,
                       floe_xfer_header(x, "x-amz-bucket-region") ? " " : "",
                       floe_xfer_header(x, "x-amz-bucket-region")
                           ? floe_xfer_header(x, "x-amz-bucket-region")
                           : "");
    else
        floe_error_set(err, FLOE_E_SERVICE, "%s: BadRequest (HTTP 400)", op);
    snprintf(err->code, sizeof(err->code), "%s", code);
    err->http_status = (int)http;
    return err->status;
}

/* ---- buckets ---- */

int floe_s3_head_bucket(struct floe_s3 *s3, const char *bucket, struct floe_error *err)
{
    int rc = check_target(bucket, NULL, err);
    if (rc)
        return rc;
    char op[400];
    op_name(op, sizeof(op), "HeadBucket", bucket, NULL);
    struct floe_xfer *x = NULL;
    rc = floe_s3req_run(floe_s3req_new(s3, "HEAD", bucket, NULL, NULL), op, &x, err);
    if (rc)
        rc = head_failure(rc, x, op, "NoSuchBucket", err);
    floe_xfer_destroy(x);
    return rc;
}

int floe_s3_create_bucket(struct floe_s3 *s3, const char *bucket, struct floe_error *err)
{
    int rc = floe_s3_bucket_name_valid(bucket, err);
    if (rc)
        return rc;
    char op[400], body[400] = "";
    op_name(op, sizeof(op), "CreateBucket", bucket, NULL);
    struct floe_s3req *r = floe_s3req_new(s3, "PUT", bucket, NULL, NULL);
    if (strcmp(s3->region, "us-east-1") != 0) {
        /* us-east-1 is the default location and refuses to be named (docs/s3-api.md 5) */
        snprintf(body, sizeof(body),
                 "<CreateBucketConfiguration xmlns=\"" S3_XMLNS "\"><LocationConstraint>%s"
                 "</LocationConstraint></CreateBucketConfiguration>",
                 s3->region);
        floe_s3req_body(r, body, strlen(body), NULL);
        floe_s3req_header(r, "Content-Type", "application/xml");
    }
    return run_simple(r, op, err);
}

int floe_s3_delete_bucket(struct floe_s3 *s3, const char *bucket, struct floe_error *err)
{
    int rc = check_target(bucket, NULL, err);
    if (rc)
        return rc;
    char op[400];
    op_name(op, sizeof(op), "DeleteBucket", bucket, NULL);
    return run_simple(floe_s3req_new(s3, "DELETE", bucket, NULL, NULL), op, err);
}

/* ---- objects ---- */

static void copy_header(char *dst, size_t cap, const struct floe_xfer *x, const char *name)
{
    const char *v = floe_xfer_header(x, name);
    snprintf(dst, cap, "%s", v ? v : "");
}

static void put_result(const struct floe_xfer *x, struct floe_s3_put_result *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    copy_header(out->etag, sizeof(out->etag), x, "etag");
    copy_header(out->checksum_sha256, sizeof(out->checksum_sha256), x, "x-amz-checksum-sha256");
    copy_header(out->version_id, sizeof(out->version_id), x, "x-amz-version-id");
}

/* The PutObject request (one copy for the synchronous call and the submitted one): the local
 * checks, then the request with its headers. sha256: the body's, or NULL to compute it here.
 * NULL with err filled when a check fails. */
static struct floe_s3req *put_request(struct floe_s3 *s3, const char *bucket, const char *key,
                                      const void *data, size_t len,
                                      const struct floe_s3_put_opts *opts, const uint8_t *sha256,
                                      struct floe_error *err)
{
    int rc = check_target(bucket, key, err);
    if (!rc)
        rc = check_put_opts(opts, err);
    if (!rc && (uint64_t)len > (5ULL << 30))
        rc = floe_error_set(err, FLOE_E_RANGE,
                            "PutObject of %zu bytes: S3 takes at most 5 GiB in one request; "
                            "use a multipart upload",
                            len);
    if (rc)
        return NULL;
    char b64[FLOE_S3_CHECKSUM_MAX];
    uint8_t sha[FLOE_SHA256_BYTES];
    if (sha256)
        memcpy(sha, sha256, sizeof(sha));
    else
        floe_sha256(data ? data : "", len, sha);
    struct floe_s3req *r = floe_s3req_new(s3, "PUT", bucket, key, NULL);
    floe_s3req_body(r, data, len, sha);
    put_headers(r, opts);
    if (opts && opts->checksum_sha256) {
        base64(sha, sizeof(sha), b64, sizeof(b64));
        floe_s3req_header(r, "x-amz-checksum-sha256", b64);
        floe_s3req_header(r, "x-amz-sdk-checksum-algorithm", "SHA256"); /* as botocore */
    } else {
        uint8_t md5[16];
        unsigned int mdlen = 0;
        EVP_Digest(data ? data : "", len, md5, &mdlen, EVP_md5(), NULL);
        base64(md5, sizeof(md5), b64, sizeof(b64));
        floe_s3req_header(r, "Content-MD5", b64);
    }
    return r;
}

int floe_s3_put_object(struct floe_s3 *s3, const char *bucket, const char *key, const void *data,
                       size_t len, const struct floe_s3_put_opts *opts,
                       struct floe_s3_put_result *out, struct floe_error *err)
{
    struct floe_s3req *r = put_request(s3, bucket, key, data, len, opts, NULL, err);
    if (!r)
        return err ? err->status : FLOE_E_INVALID_ARG;
    char op[1400];
    op_name(op, sizeof(op), "PutObject", bucket, key);
    struct floe_xfer *x = NULL;
    int rc = floe_s3req_run(r, op, &x, err);
    if (!rc)
        put_result(x, out);
    floe_xfer_destroy(x);
    return rc;
}

static void put_done(struct floe_xfer *x)
{
    struct floe_s3_put *p = x->user;
    memset(&p->err, 0, sizeof(p->err));
    p->status = FLOE_OK;
    if (x->status) {
        char op[1400];
        op_name(op, sizeof(op), "PutObject", p->bucket, p->key);
        p->status = floe_s3req_fail(x, op, &p->err);
    } else {
        put_result(x, &p->result);
    }
    floe_xfer_destroy(x);
    p->done(p);
}

int floe_s3_put_object_submit(struct floe_s3 *s3, struct floe_s3_put *p, struct floe_error *err)
{
    if (!p->done)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "PutObject: no done callback");
    struct floe_s3req *r =
        put_request(s3, p->bucket, p->key, p->data, p->len, p->opts, p->sha256, err);
    if (!r)
        return err ? err->status : FLOE_E_INVALID_ARG;
    struct floe_xfer *x = floe_s3req_xfer(r);
    x->user = p;
    x->done = put_done;
    floe_transfer_submit(s3->transfer, x);
    return FLOE_OK;
}

void floe_s3_object_info_cleanup(struct floe_s3_object_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->nmeta; i++) {
        free((char *)info->meta[i].name);
        free((char *)info->meta[i].value);
    }
    free(info->meta);
    memset(info, 0, sizeof(*info));
}

const char *floe_s3_object_meta(const struct floe_s3_object_info *info, const char *name)
{
    for (size_t i = 0; info && i < info->nmeta; i++)
        if (strcmp(info->meta[i].name, name) == 0)
            return info->meta[i].value;
    return NULL;
}

/* Fills info from an answer's headers; FLOE_E_SERVICE when Content-Length is missing. */
static int object_info(const struct floe_xfer *x, const char *op, struct floe_s3_object_info *info,
                       struct floe_error *err)
{
    floe_s3_object_info_cleanup(info);
    const char *range = floe_xfer_header(x, "content-range");
    uint64_t first = 0, last = 0, total = 0;
    if (range &&
        sscanf(range, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64, &first, &last, &total) == 3 &&
        last >= first) {
        info->size = total;
        info->range_first = first;
        info->range_len = last - first + 1;
    } else if (!floe_s3doc_u64(floe_xfer_header(x, "content-length"), &info->size)) {
        return floe_error_set(err, FLOE_E_SERVICE, "%s: the answer has no Content-Length", op);
    } else {
        info->range_len = info->size;
    }
    copy_header(info->etag, sizeof(info->etag), x, "etag");
    copy_header(info->last_modified, sizeof(info->last_modified), x, "last-modified");
    copy_header(info->storage_class, sizeof(info->storage_class), x, "x-amz-storage-class");
    if (!*info->storage_class)
        snprintf(info->storage_class, sizeof(info->storage_class), "STANDARD");
    copy_header(info->content_type, sizeof(info->content_type), x, "content-type");
    copy_header(info->checksum_sha256, sizeof(info->checksum_sha256), x, "x-amz-checksum-sha256");
    copy_header(info->version_id, sizeof(info->version_id), x, "x-amz-version-id");
    for (size_t i = 0; i < x->nrh; i++) {
        if (strncmp(x->rh[i].name, "x-amz-meta-", 11) != 0)
            continue;
        info->meta = floe_xrealloc(info->meta, (info->nmeta + 1) * sizeof(*info->meta));
        info->meta[info->nmeta].name = floe_xstrdup(x->rh[i].name + 11);
        info->meta[info->nmeta].value = floe_xstrdup(x->rh[i].value);
        info->nmeta++;
    }
    return FLOE_OK;
}

/* The HeadObject request (the synchronous call's and the submitted one's). */
static struct floe_s3req *head_request(struct floe_s3 *s3, const char *bucket, const char *key,
                                       struct floe_error *err)
{
    if (check_target(bucket, key, err))
        return NULL;
    struct floe_s3req *r = floe_s3req_new(s3, "HEAD", bucket, key, NULL);
    floe_s3req_header(r, "x-amz-checksum-mode", "ENABLED");
    return r;
}

/* HeadObject's answer x (rc: the run's status) into info / err. */
static int head_answer(int rc, const struct floe_xfer *x, const char *op,
                       struct floe_s3_object_info *info, struct floe_error *err)
{
    return rc ? head_failure(rc, x, op, "NotFound", err) : object_info(x, op, info, err);
}

int floe_s3_head_object(struct floe_s3 *s3, const char *bucket, const char *key,
                        struct floe_s3_object_info *info, struct floe_error *err)
{
    struct floe_s3req *r = head_request(s3, bucket, key, err);
    if (!r)
        return err ? err->status : FLOE_E_INVALID_ARG;
    char op[1400];
    op_name(op, sizeof(op), "HeadObject", bucket, key);
    struct floe_xfer *x = NULL;
    int rc = floe_s3req_run(r, op, &x, err);
    rc = head_answer(rc, x, op, info, err);
    floe_xfer_destroy(x);
    return rc;
}

static void head_done(struct floe_xfer *x)
{
    struct floe_s3_head *h = x->user;
    char op[1400];
    op_name(op, sizeof(op), "HeadObject", h->bucket, h->key);
    memset(&h->err, 0, sizeof(h->err));
    int rc = x->status ? floe_s3req_fail(x, op, &h->err) : FLOE_OK;
    h->status = head_answer(rc, x, op, &h->info, &h->err);
    floe_xfer_destroy(x);
    h->done(h);
}

int floe_s3_head_object_submit(struct floe_s3 *s3, struct floe_s3_head *h, struct floe_error *err)
{
    if (!h->done)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "HeadObject: no done callback");
    struct floe_s3req *r = head_request(s3, h->bucket, h->key, err);
    if (!r)
        return err ? err->status : FLOE_E_INVALID_ARG;
    struct floe_xfer *x = floe_s3req_xfer(r);
    x->user = h;
    x->done = head_done;
    floe_transfer_submit(s3->transfer, x);
    return FLOE_OK;
}

struct get_sink {
    floe_s3_write_fn *write;
    void *user;
    uint64_t offset;
    bool stopped;
};

static size_t get_write(void *ctx, const uint8_t *src, size_t n)
{
    struct get_sink *g = ctx;
    if (g->write(g->user, g->offset, src, n)) {
        g->stopped = true;
        return 0;
    }
    g->offset += n;
    return n;
}

static void get_restart(void *ctx)
{
    ((struct get_sink *)ctx)->offset = 0;
}

/* After a successful GET: the object's headers, and the body length against them. */
static int get_check(const struct floe_xfer *x, const char *op, uint64_t first, uint64_t len,
                     const struct get_sink *g, struct floe_s3_object_info *info,
                     struct floe_error *err)
{
    int rc = object_info(x, op, info, err);
    if (rc)
        return rc;
    if ((first || len) && x->http_status != 206)
        return floe_error_set(err, FLOE_E_SERVICE,
                              "%s: asked for a range, the service answered HTTP %ld with the "
                              "whole object",
                              op, x->http_status);
    if (g->offset != info->range_len)
        return floe_error_set(err, FLOE_E_SERVICE,
                              "%s: received %" PRIu64 " bytes, the answer announced %" PRIu64, op,
                              g->offset, info->range_len);
    return FLOE_OK;
}

int floe_s3_get_object(struct floe_s3 *s3, const char *bucket, const char *key, uint64_t first,
                       uint64_t len, floe_s3_write_fn *write, void *user,
                       struct floe_s3_object_info *info, struct floe_error *err)
{
    int rc = check_target(bucket, key, err);
    if (rc)
        return rc;
    uint64_t last;
    if (len && __builtin_add_overflow(first, len - 1, &last))
        return floe_error_set(err, FLOE_E_RANGE, "range %" PRIu64 "+%" PRIu64 " overflows", first,
                              len);
    char op[1400], range[64];
    op_name(op, sizeof(op), "GetObject", bucket, key);
    struct floe_s3req *r = floe_s3req_new(s3, "GET", bucket, key, NULL);
    if (len)
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, first, last);
    else
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", first);
    if (first || len)
        floe_s3req_header(r, "Range", range);
    floe_s3req_header(r, "x-amz-checksum-mode", "ENABLED");
    struct get_sink g = {.write = write, .user = user};
    struct floe_xfer *x = floe_s3req_xfer(r);
    x->body_write = get_write;
    x->body_restart = get_restart;
    x->body_ctx = &g;
    rc = floe_transfer_run(s3->transfer, x);
    if (rc && g.stopped) {
        rc = floe_error_set(err, FLOE_E_CANCELLED, "%s: stopped by the receiver at byte %" PRIu64,
                            op, g.offset);
    } else if (rc) {
        rc = floe_s3req_fail(x, op, err);
    } else {
        struct floe_s3_object_info tmp = {0};
        rc = get_check(x, op, first, len, &g, info ? info : &tmp, err);
        floe_s3_object_info_cleanup(&tmp);
    }
    floe_xfer_destroy(x);
    return rc;
}

int floe_s3_delete_object(struct floe_s3 *s3, const char *bucket, const char *key,
                          struct floe_error *err)
{
    int rc = check_target(bucket, key, err);
    if (rc)
        return rc;
    char op[1400];
    op_name(op, sizeof(op), "DeleteObject", bucket, key);
    return run_simple(floe_s3req_new(s3, "DELETE", bucket, key, NULL), op, err);
}

/* ---- listings ---- */

/* Appends "&name=encoded(value)" to a query being built (nothing when value is NULL or ""). */
static void query_add(char **q, size_t *len, size_t *cap, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    char *v = floe_s3req_encode(value, false);
    if (*len)
        floe_s3xml_append(q, len, cap, "&");
    floe_s3xml_append(q, len, cap, name);
    floe_s3xml_append(q, len, cap, "=");
    floe_s3xml_append(q, len, cap, v);
    free(v);
}

static void query_add_uint(char **q, size_t *len, size_t *cap, const char *name, unsigned v)
{
    char buf[16];
    if (!v)
        return;
    snprintf(buf, sizeof(buf), "%u", v);
    query_add(q, len, cap, name, buf);
}

/* The reader of one kind of listing page (an s3doc.h function behind one signature). */
enum page_kind { PAGE_OBJECTS, PAGE_PARTS, PAGE_UPLOADS };

struct pager {
    enum page_kind kind;
    union {
        floe_s3_object_fn *object;
        floe_s3_part_fn *part;
        floe_s3_upload_fn *upload;
    } fn;
    void *user;
};

/* Runs one page request (GET with query) and reads its answer into page. */
static int run_page(struct floe_s3 *s3, const char *bucket, const char *key, const char *query,
                    const char *op, const struct pager *pg, struct floe_s3doc_page *page,
                    struct floe_error *err)
{
    struct floe_xfer *x = floe_s3req_xfer(floe_s3req_new(s3, "GET", bucket, key, query));
    x->resp_max = LIST_RESP_MAX;
    int rc = floe_transfer_run(s3->transfer, x);
    if (rc)
        rc = floe_s3req_fail(x, op, err);
    else if (pg->kind == PAGE_OBJECTS)
        rc = floe_s3doc_list_objects(x->resp, x->resp_len, op, pg->fn.object, pg->user, page, err);
    else if (pg->kind == PAGE_PARTS)
        rc = floe_s3doc_list_parts(x->resp, x->resp_len, op, pg->fn.part, pg->user, page, err);
    else
        rc = floe_s3doc_list_uploads(x->resp, x->resp_len, op, pg->fn.upload, pg->user, page, err);
    floe_xfer_destroy(x);
    return rc;
}

/* Whether to ask for the page after page; a marker that does not move would loop forever. */
static int go_on(const struct floe_s3doc_page *page, const char *prev, const char *op, bool *more,
                 struct floe_error *err)
{
    *more = page->truncated && !page->stopped;
    if (*more && prev && strcmp(prev, page->next) == 0)
        return floe_error_set(err, FLOE_E_SERVICE, "%s: the page marker \"%s\" did not advance", op,
                              prev);
    return FLOE_OK;
}

int floe_s3_list_objects(struct floe_s3 *s3, const char *bucket,
                         const struct floe_s3_list_opts *opts, floe_s3_object_fn *fn, void *user,
                         unsigned *pages, struct floe_error *err)
{
    static const struct floe_s3_list_opts none;
    const struct floe_s3_list_opts *o = opts ? opts : &none;
    int rc = check_target(bucket, NULL, err);
    if (rc)
        return rc;
    if (o->max_keys > 1000)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "max_keys %u: S3 returns at most 1,000 keys per page", o->max_keys);
    char op[400], *token = NULL;
    op_name(op, sizeof(op), "ListObjectsV2", bucket, NULL);
    struct pager pg = {.kind = PAGE_OBJECTS, .fn.object = fn, .user = user};
    unsigned n = 0;
    for (bool more = true; more && !rc && (!o->max_pages || n < o->max_pages);) {
        struct floe_s3doc_page page = {0};
        char *q = NULL;
        size_t len = 0, cap = 0;
        query_add(&q, &len, &cap, "list-type", "2");
        query_add(&q, &len, &cap, "continuation-token", token);
        query_add(&q, &len, &cap, "delimiter", o->delimiter);
        query_add_uint(&q, &len, &cap, "max-keys", o->max_keys);
        query_add(&q, &len, &cap, "prefix", o->prefix);
        query_add(&q, &len, &cap, "start-after", token ? NULL : o->start_after);
        rc = run_page(s3, bucket, NULL, q, op, &pg, &page, err);
        free(q);
        n += rc == FLOE_OK;
        if (!rc)
            rc = go_on(&page, token, op, &more, err);
        free(token);
        token = !rc && more ? floe_xstrdup(page.next) : NULL;
        floe_s3doc_page_free(&page);
    }
    free(token);
    if (pages)
        *pages = n;
    return rc;
}

/* ---- multipart bookkeeping ---- */

int floe_s3_create_multipart(struct floe_s3 *s3, const char *bucket, const char *key,
                             const struct floe_s3_put_opts *opts,
                             char upload_id[FLOE_S3_UPLOAD_ID_MAX], struct floe_error *err)
{
    int rc = check_target(bucket, key, err);
    if (!rc)
        rc = check_put_opts(opts, err);
    if (rc)
        return rc;
    char op[1400];
    op_name(op, sizeof(op), "CreateMultipartUpload", bucket, key);
    struct floe_s3req *r = floe_s3req_new(s3, "POST", bucket, key, "uploads");
    put_headers(r, opts);
    if (opts && opts->checksum_sha256)
        floe_s3req_header(r, "x-amz-checksum-algorithm", "SHA256");
    struct floe_xfer *x = NULL;
    rc = floe_s3req_run(r, op, &x, err);
    if (!rc)
        rc = floe_s3doc_upload_id(x->resp, x->resp_len, op, upload_id, err);
    floe_xfer_destroy(x);
    return rc;
}

static int check_upload(const char *bucket, const char *key, const char *upload_id,
                        struct floe_error *err)
{
    int rc = check_target(bucket, key, err);
    if (!rc && (!upload_id || !*upload_id))
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "upload id is empty");
    return rc;
}

/* One CompleteMultipartUpload request; *retry set when S3 failed inside a 200 in a way it says
 * may be retried (InternalError, SlowDown). */
static int complete_once(struct floe_s3 *s3, const char *bucket, const char *key, const char *query,
                         const char *body, const char *op, struct floe_s3_put_result *out,
                         bool *retry, struct floe_error *err)
{
    struct floe_s3req *r = floe_s3req_new(s3, "POST", bucket, key, query);
    floe_s3req_body(r, body, strlen(body), NULL);
    floe_s3req_header(r, "Content-Type", "application/xml");
    struct floe_xfer *x = NULL;
    struct floe_s3_put_result res;
    int rc = floe_s3req_run(r, op, &x, err);
    *retry = false;
    if (!rc) {
        rc = floe_s3doc_complete(x->resp, x->resp_len, op, &res, err);
        *retry = rc && err &&
                 (strcmp(err->code, "InternalError") == 0 || strcmp(err->code, "SlowDown") == 0);
    }
    if (!rc && out) {
        *out = res;
        copy_header(out->version_id, sizeof(out->version_id), x, "x-amz-version-id");
    }
    floe_xfer_destroy(x);
    return rc;
}

int floe_s3_complete_multipart(struct floe_s3 *s3, const char *bucket, const char *key,
                               const char *upload_id, const struct floe_s3_completed_part *parts,
                               size_t n, struct floe_s3_put_result *out, struct floe_error *err)
{
    int rc = check_upload(bucket, key, upload_id, err);
    if (rc)
        return rc;
    char *body = floe_s3doc_complete_body(parts, n, err);
    if (!body)
        return FLOE_E_INVALID_ARG;
    char op[1400], *q = NULL;
    size_t qlen = 0, qcap = 0;
    op_name(op, sizeof(op), "CompleteMultipartUpload", bucket, key);
    query_add(&q, &qlen, &qcap, "uploadId", upload_id);
    /* an <Error> inside a 200 is retried here, at most 3 times (the policy's count if lower) */
    int limit = s3->retry.max_retries < 0 || s3->retry.max_retries > 3 ? 3 : s3->retry.max_retries;
    uint64_t rng = floe_retry_seed();
    for (int attempt = 1;; attempt++) {
        bool retry;
        rc = complete_once(s3, bucket, key, q, body, op, out, &retry, err);
        if (!retry || attempt > limit)
            break;
        uint32_t ms = floe_retry_backoff_ms(&s3->retry, attempt, &rng);
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    free(q);
    free(body);
    return rc;
}

int floe_s3_abort_multipart(struct floe_s3 *s3, const char *bucket, const char *key,
                            const char *upload_id, struct floe_error *err)
{
    int rc = check_upload(bucket, key, upload_id, err);
    if (rc)
        return rc;
    char op[1400], *q = NULL;
    size_t qlen = 0, qcap = 0;
    op_name(op, sizeof(op), "AbortMultipartUpload", bucket, key);
    query_add(&q, &qlen, &qcap, "uploadId", upload_id);
    rc = run_simple(floe_s3req_new(s3, "DELETE", bucket, key, q), op, err);
    free(q);
    return rc;
}

int floe_s3_list_parts(struct floe_s3 *s3, const char *bucket, const char *key,
                       const char *upload_id, unsigned max_parts, floe_s3_part_fn *fn, void *user,
                       struct floe_error *err)
{
    int rc = check_upload(bucket, key, upload_id, err);
    if (!rc && max_parts > 1000)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "max_parts %u: S3 lists at most 1,000 parts per page", max_parts);
    if (rc)
        return rc;
    char op[1400], *marker = NULL;
    op_name(op, sizeof(op), "ListParts", bucket, key);
    struct pager pg = {.kind = PAGE_PARTS, .fn.part = fn, .user = user};
    for (bool more = true; more && !rc;) {
        struct floe_s3doc_page page = {0};
        char *q = NULL;
        size_t len = 0, cap = 0;
        query_add_uint(&q, &len, &cap, "max-parts", max_parts);
        query_add(&q, &len, &cap, "part-number-marker", marker);
        query_add(&q, &len, &cap, "uploadId", upload_id);
        rc = run_page(s3, bucket, key, q, op, &pg, &page, err);
        free(q);
        if (!rc)
            rc = go_on(&page, marker, op, &more, err);
        free(marker);
        marker = !rc && more ? floe_xstrdup(page.next) : NULL;
        floe_s3doc_page_free(&page);
    }
    free(marker);
    return rc;
}

int floe_s3_list_multipart_uploads(struct floe_s3 *s3, const char *bucket, const char *prefix,
                                   unsigned max_uploads, floe_s3_upload_fn *fn, void *user,
                                   struct floe_error *err)
{
    int rc = check_target(bucket, NULL, err);
    if (!rc && max_uploads > 1000)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "max_uploads %u: S3 lists at most 1,000 uploads per page", max_uploads);
    if (rc)
        return rc;
    char op[400], *key_marker = NULL, *id_marker = NULL;
    op_name(op, sizeof(op), "ListMultipartUploads", bucket, NULL);
    struct pager pg = {.kind = PAGE_UPLOADS, .fn.upload = fn, .user = user};
    for (bool more = true; more && !rc;) {
        struct floe_s3doc_page page = {0};
        char *q = NULL;
        size_t len = 0, cap = 0;
        floe_s3xml_append(&q, &len, &cap, "uploads");
        query_add(&q, &len, &cap, "key-marker", key_marker);
        query_add_uint(&q, &len, &cap, "max-uploads", max_uploads);
        query_add(&q, &len, &cap, "prefix", prefix);
        query_add(&q, &len, &cap, "upload-id-marker", id_marker);
        rc = run_page(s3, bucket, NULL, q, op, &pg, &page, err);
        free(q);
        /* the pair (key, upload id) advances; the key alone may repeat */
        more = !rc && page.truncated && !page.stopped;
        if (more && key_marker && id_marker && strcmp(key_marker, page.next) == 0 &&
            strcmp(id_marker, page.next2 ? page.next2 : "") == 0)
            rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the page markers did not advance", op);
        free(key_marker);
        free(id_marker);
        key_marker = !rc && more ? floe_xstrdup(page.next) : NULL;
        id_marker = !rc && more ? floe_xstrdup(page.next2 ? page.next2 : "") : NULL;
        floe_s3doc_page_free(&page);
    }
    free(key_marker);
    free(id_marker);
    return rc;
}
