/*
 * client.c - struct floe_client: endpoint, credentials, request signing, and the synchronous
 * single-request operations of the Glacier API (vaults, archives, multipart bookkeeping).
 *
 * DESIGN
 * Every request is a "call" (signing inputs) wrapped in a transfer xfer whose prepare hook
 * signs it with SigV4 at the moment of each attempt, so retries carry a fresh date. The host
 * value signed is the one curl sends (port included unless it is the scheme's default).
 * Synchronous operations block on floe_transfer_run(); bulk operations (upload.c) submit
 * xfers from their own callbacks.
 */
#include "client_impl.h"

#include "alloc.h"
#include "request.h"
#include "floe/range.h"
#include "floe/sigv4.h"
#include "sha256.h"

#include <ctype.h>
#include <strings.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CALL_HEADERS 12

/* A call's strings (path, query, header names and values) live in one buffer, strs: a request
 * costs one allocation for them instead of two per header. They are found by offset (the
 * buffer moves when it grows); CALL_STR turns one into a pointer. */
struct floe_call {
    struct floe_client *client;
    const char *method;
    char *strs;
    size_t strs_len, strs_cap;
    size_t path;  /* full: /{account}/... */
    size_t query; /* NO_STR: none */
    struct {
        size_t name;
        size_t value;
    } h[MAX_CALL_HEADERS];
    size_t nh;
    const uint8_t *body;
    size_t body_len;
    size_t (*body_read)(void *ctx, uint64_t offset, uint8_t *dst, size_t n);
    void *body_ctx;
    char payload_hex[FLOE_HASH_HEX];
    bool content_sha256;
    _Atomic uint64_t creds_gen; /* the generation of the keys the last attempt was signed with */
};

char *floe_client_encode(const char *s)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = floe_xmalloc(3 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
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

int floe_client_check_description(const char *d, struct floe_error *err)
{
    if (!d)
        return FLOE_OK;
    size_t n = strlen(d);
    if (n > 1024)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "description is %zu characters; Glacier allows at most 1,024", n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)d[i] < 0x20 || (unsigned char)d[i] > 0x7e)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "description has a character Glacier does not allow at "
                                  "position %zu (only printable ASCII, 0x20-0x7E)",
                                  i);
    return FLOE_OK;
}

#define NO_STR SIZE_MAX
#define CALL_STR(k, off) ((off) == NO_STR ? NULL : (k)->strs + (off))

/* Appends the n bytes at s and a NUL to k->strs; returns their offset. */
static size_t call_put(struct floe_call *k, const char *s, size_t n)
{
    if (k->strs_len + n + 1 > k->strs_cap) {
        size_t cap = k->strs_cap ? k->strs_cap : 1024;
        while (cap < k->strs_len + n + 1)
            cap *= 2;
        k->strs = floe_xrealloc(k->strs, cap);
        k->strs_cap = cap;
    }
    size_t off = k->strs_len;
    memcpy(k->strs + off, s, n);
    k->strs[off + n] = 0;
    k->strs_len += n + 1;
    return off;
}

struct floe_call *floe_call_new(struct floe_client *c, const char *method, const char *path,
                                const char *query)
{
    struct floe_call *k = floe_xcalloc(1, sizeof(*k));
    k->client = c;
    k->method = method;
    size_t alen = strlen(c->account_id), plen = strlen(path);
    k->path = call_put(k, "/", 1);
    k->strs_len--; /* the account id and the path follow the '/' */
    call_put(k, c->account_id, alen);
    k->strs_len--;
    call_put(k, path, plen);
    k->query = query && *query ? call_put(k, query, strlen(query)) : NO_STR;
    floe_call_header(k, "x-amz-glacier-version", "2012-06-01");
    return k;
}

struct floe_call *floe_call_job_output(struct floe_client *c, const char *vault, const char *job_id,
                                       bool ranged, uint64_t off, uint64_t len)
{
    char *enc = floe_client_encode(job_id);
    size_t n = strlen(vault) + strlen(enc) + 32;
    char *path = floe_xmalloc(n);
    snprintf(path, n, "/vaults/%s/jobs/%s/output", vault, enc);
    free(enc);
    struct floe_call *k = floe_call_new(c, "GET", path, NULL);
    free(path);
    if (ranged) {
        char range[80];
        snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
        floe_call_header(k, "range", range);
    }
    return k;
}

void floe_call_header(struct floe_call *k, const char *name, const char *value)
{
    if (k->nh == MAX_CALL_HEADERS)
        abort(); /* a programming error: no Glacier call needs more */
    k->h[k->nh].name = call_put(k, name, strlen(name));
    k->h[k->nh].value = call_put(k, value, strlen(value));
    k->nh++;
}

void floe_call_body(struct floe_call *k, const void *body, size_t len,
                    const uint8_t linear[FLOE_HASH_BYTES], bool content_sha256)
{
    uint8_t h[FLOE_HASH_BYTES];
    k->body = body;
    k->body_len = len;
    if (!linear) {
        floe_sha256(body, len, h);
        linear = h;
    }
    floe_treehash_hex(linear, k->payload_hex);
    k->content_sha256 = content_sha256;
    if (content_sha256)
        floe_call_header(k, "x-amz-content-sha256", k->payload_hex);
}

void floe_call_body_stream(struct floe_call *k, uint64_t len, const uint8_t linear[FLOE_HASH_BYTES],
                           size_t (*read)(void *ctx, uint64_t offset, uint8_t *dst, size_t n),
                           void *ctx)
{
    k->body = NULL;
    k->body_len = (size_t)len;
    k->body_read = read;
    k->body_ctx = ctx;
    floe_treehash_hex(linear, k->payload_hex);
    k->content_sha256 = true;
    floe_call_header(k, "x-amz-content-sha256", k->payload_hex);
}

static void call_free(void *p)
{
    struct floe_call *k = p;
    if (!k)
        return;
    free(k->strs);
    free(k);
}

static int call_prepare(struct floe_xfer *x, struct curl_slist **headers, struct floe_error *err)
{
    struct floe_call *k = x->req_ctx;
    struct floe_client *c = k->client;
    /* a "." or ".." segment (a vault named "..", an id "."): curl would drop it from the path
     * it sends, so the request would reach another resource, or fail its signature */
    const char *path = CALL_STR(k, k->path), *query = CALL_STR(k, k->query);
    for (const char *seg = path; seg && *seg;) {
        seg += *seg == '/';
        size_t len = strcspn(seg, "/");
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "\"%.*s\" cannot be used as a vault name or id: it is a "
                                  "relative path segment in the request URL",
                                  (int)len, seg);
        seg += len;
    }
    struct floe_sigv4_header sh[MAX_CALL_HEADERS + 1];
    size_t n = 0;
    sh[n].name = "host";
    sh[n++].value = c->host_header;
    bool has_type = false;
    for (size_t i = 0; i < k->nh; i++) {
        sh[n].name = CALL_STR(k, k->h[i].name);
        sh[n++].value = CALL_STR(k, k->h[i].value);
        if (strcasecmp(sh[n - 1].name, "content-type") == 0)
            has_type = true;
    }
    struct floe_sigv4_request req = {
        .method = k->method,
        .path = path,
        .query = query,
        .headers = sh,
        .nheaders = n,
        .payload_sha256_hex =
            k->body || k->content_sha256
                ? k->payload_hex
                : "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    struct floe_creds_snap *snap = floe_credentials_acquire(c->creds);
    struct floe_sigv4_credentials cred = {snap->access_key_id, snap->secret_access_key,
                                          snap->session_token};
    atomic_store(&k->creds_gen, snap->gen);
    struct floe_sigv4_signed sig;
    int rc = floe_sigv4_sign(&req, &cred, c->region, "glacier", floe_transfer_now(), &sig, err);
    if (rc) {
        floe_creds_snap_release(snap);
        return rc;
    }
    /* the lines go into the xfer's own header buffer (no curl_slist: two allocations a line) */
    *headers = NULL;
    for (size_t i = 0; i < k->nh; i++)
        floe_xfer_add_header(x, CALL_STR(k, k->h[i].name), CALL_STR(k, k->h[i].value));
    floe_xfer_add_header(x, "X-Amz-Date", sig.amz_date);
    floe_xfer_add_header(x, "Authorization", sig.authorization);
    if (sig.security_token)
        floe_xfer_add_header(x, "X-Amz-Security-Token", sig.security_token);
    floe_creds_snap_release(snap); /* sig.security_token pointed into it */
    if (!has_type)
        floe_xfer_add_header(x, "Content-Type", NULL); /* no form type on raw bodies */
    return FLOE_OK;
}

/* ExpiredToken: new keys, once (see floe_xfer_expired_fn). */
static bool call_expired(struct floe_xfer *x)
{
    struct floe_call *k = x->req_ctx;
    return floe_credentials_expired(k->client->creds, atomic_load(&k->creds_gen));
}

struct floe_xfer *floe_call_xfer(struct floe_call *k)
{
    struct floe_client *c = k->client;
    const char *path = CALL_STR(k, k->path), *query = CALL_STR(k, k->query);
    size_t n = strlen(c->endpoint) + strlen(path) + (query ? strlen(query) : 0) + 2;
    char small[512];
    char *url = n <= sizeof(small) ? small : floe_xmalloc(n);
    snprintf(url, n, "%s%s%s%s", c->endpoint, path, query ? "?" : "", query ? query : "");
    struct floe_xfer *x = floe_xfer_new(k->method, url);
    if (url != small)
        free(url);
    x->body = k->body;
    x->body_len = k->body_len;
    x->body_read = k->body_read;
    x->body_ctx = k->body_ctx;
    x->retry = c->retry;
    x->prepare = call_prepare;
    x->on_expired = call_expired;
    x->req_ctx = k;
    x->ctx_free = call_free;
    return x;
}

int floe_call_run(struct floe_call *k, struct floe_xfer **out, struct floe_error *err)
{
    struct floe_xfer *x = floe_call_xfer(k);
    int rc = floe_transfer_run(k->client->transfer, x);
    if (rc && err)
        *err = x->err;
    *out = x;
    return rc;
}

/* ---- client lifecycle ---- */

/*
 * Splits scheme://host[:port][/] and rebuilds both the URL curl is given and the Host value that
 * is signed from the same normalised parts (scheme in lower case, IPv6 literal in canonical form,
 * port without leading zeros and omitted from Host when it is the scheme's default), so what
 * curl sends is exactly what was signed.
 */
int floe_client_parse_endpoint(const char *url, char **endpoint, char **host,
                               struct floe_error *err)
{
    const char *p;
    bool https;
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
        https = false;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
        https = true;
    } else {
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "endpoint URL \"%s\" must start with http:// or https://", url);
    }
    size_t hostlen = strcspn(p, "/?#");
    const char *rest = p + hostlen;
    if (*rest && strcmp(rest, "/") != 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "endpoint URL \"%s\" must not have a path, query or fragment", url);
    char name[256] = "", port[16] = "";
    const char *portp = NULL;
    if (hostlen && p[0] == '[') { /* [IPv6] */
        const char *close = memchr(p, ']', hostlen);
        char lit[64];
        struct in6_addr a6;
        size_t n = close ? (size_t)(close - p - 1) : 0;
        if (!close || n == 0 || n >= sizeof(lit))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "endpoint URL \"%s\" has an invalid IPv6 address", url);
        memcpy(lit, p + 1, n);
        lit[n] = 0;
        char canon[INET6_ADDRSTRLEN];
        if (inet_pton(AF_INET6, lit, &a6) != 1 || !inet_ntop(AF_INET6, &a6, canon, sizeof(canon)))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "endpoint URL \"%s\" has an invalid IPv6 address", url);
        snprintf(name, sizeof(name), "[%s]", canon);
        if (close + 1 < rest) {
            if (close[1] != ':')
                return floe_error_set(err, FLOE_E_INVALID_ARG,
                                      "endpoint URL \"%s\" has an invalid host", url);
            portp = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', hostlen);
        size_t n = colon ? (size_t)(colon - p) : hostlen;
        if (n == 0)
            return floe_error_set(err, FLOE_E_INVALID_ARG, "endpoint URL \"%s\" has no host", url);
        if (n >= sizeof(name))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "endpoint URL \"%s\" has a host name longer than 255 characters",
                                  url);
        for (size_t i = 0; i < n; i++)
            if (!(isalnum((unsigned char)p[i]) || p[i] == '.' || p[i] == '-' || p[i] == '_'))
                return floe_error_set(err, FLOE_E_INVALID_ARG,
                                      "endpoint URL \"%s\" has an invalid host", url);
        memcpy(name, p, n);
        name[n] = 0;
        portp = colon ? colon + 1 : NULL;
    }
    if (portp) {
        size_t n = (size_t)(rest - portp);
        unsigned long v = 0;
        bool digits = n > 0 && n < 12;
        for (size_t i = 0; digits && i < n; i++) {
            digits = isdigit((unsigned char)portp[i]);
            v = v * 10 + (unsigned long)(portp[i] - '0');
        }
        if (!digits || v == 0 || v > 65535)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "endpoint URL \"%s\" has an invalid port (1 to 65535)", url);
        snprintf(port, sizeof(port), "%lu", v);
    }
    bool default_port = !*port || strcmp(port, https ? "443" : "80") == 0;
    size_t cap = strlen(name) + strlen(port) + 16;
    *endpoint = floe_xmalloc(cap);
    snprintf(*endpoint, cap, "%s://%s%s%s", https ? "https" : "http", name, *port ? ":" : "", port);
    *host = floe_xmalloc(cap);
    snprintf(*host, cap, "%s%s%s", name, default_port ? "" : ":", default_port ? "" : port);
    return FLOE_OK;
}

static bool valid_region(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 63)
        return false;
    for (; *r; r++)
        if (!(isalnum((unsigned char)*r) || *r == '-' || *r == '_' || *r == '.'))
            return false;
    return true;
}

static bool valid_account(const char *a)
{
    if (strcmp(a, "-") == 0)
        return true;
    size_t n = strlen(a);
    return n == 12 && strspn(a, "0123456789") == 12;
}

int floe_client_new(const struct floe_client_config *cfg, struct floe_client **out,
                    struct floe_error *err)
{
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    const char *account = cfg->account_id && *cfg->account_id ? cfg->account_id : "-";
    struct floe_credentials *creds = cfg->credentials;
    if (!valid_region(region)) {
        floe_credentials_destroy(creds);
        return floe_error_set(err, FLOE_E_INVALID_ARG, "region \"%s\" is not a valid region name",
                              region);
    }
    if (!valid_account(account)) {
        floe_credentials_destroy(creds);
        return floe_error_set(err, FLOE_E_INVALID_ARG, "account id \"%s\" must be '-' or 12 digits",
                              account);
    }
    if (!creds && (!cfg->access_key_id || !*cfg->access_key_id || !cfg->secret_access_key ||
                   !*cfg->secret_access_key))
        return floe_error_set(err, FLOE_E_AUTH,
                              "no AWS credentials: set AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY, or use a profile in ~/.aws/credentials");
    if (!creds) {
        int crc = floe_credentials_new_static(cfg->access_key_id, cfg->secret_access_key,
                                              cfg->session_token, &creds, err);
        if (crc)
            return crc;
    }
    char defbuf[200];
    const char *url = cfg->endpoint_url;
    if (!url || !*url) {
        snprintf(defbuf, sizeof(defbuf), "https://glacier.%s.amazonaws.com", region);
        url = defbuf;
    }
    struct floe_client *c = floe_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    int rc = floe_client_parse_endpoint(url, &c->endpoint, &c->host_header, err);
    if (rc) {
        floe_credentials_destroy(creds);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    c->region = floe_xstrdup(region);
    c->account_id = floe_xstrdup(account);
    c->creds = creds;
    c->retry.max_retries = cfg->max_retries < 0 ? 0 : cfg->max_retries ? cfg->max_retries : -1;
    c->retry.budget_ms = cfg->retry_for_ms ? cfg->retry_for_ms : FLOE_RETRY_FOR_DEFAULT_MS;
    c->retry.unreached_retries = cfg->wait_for_endpoint ? -1 : FLOE_RETRY_UNREACHED;
    c->retry.base_ms = cfg->retry_base_ms;
    c->retry.cap_ms = cfg->retry_cap_ms;
    struct floe_transfer_opts topts = {
        .max_active = cfg->max_connections,
        .stall_timeout_s = cfg->stall_timeout_s,
        .stall_min_rate = cfg->stall_min_rate,
        .verbose = cfg->verbose,
        .log = cfg->log,
        .log_user = cfg->log_user,
        .log_level = cfg->log_level,
        .on_request = cfg->on_request,
        .on_request_user = cfg->on_request_user,
        .ca_bundle = cfg->ca_bundle && *cfg->ca_bundle ? cfg->ca_bundle : NULL,
        .insecure = cfg->no_verify_ssl,
    };
    rc = floe_transfer_new(&topts, &c->transfer, err);
    if (rc) {
        floe_client_destroy(c);
        return rc;
    }
    *out = c;
    return FLOE_OK;
}

void floe_client_destroy(struct floe_client *c)
{
    if (!c)
        return;
    floe_transfer_destroy(c->transfer);
    floe_reader_destroy(c->locked.reader);
    floe_hashpool_destroy(c->locked.hashpool);
    pthread_mutex_destroy(&c->mu);
    free(c->endpoint);
    free(c->host_header);
    free(c->region);
    free(c->account_id);
    floe_credentials_destroy(c->creds);
    free(c);
}

const char *floe_client_endpoint(const struct floe_client *c)
{
    return c->endpoint;
}

int floe_client_hashpool(struct floe_client *c, struct floe_hashpool **out, struct floe_error *err)
{
    int rc = FLOE_OK;
    pthread_mutex_lock(&c->mu);
    if (!c->locked.hashpool)
        rc = floe_hashpool_new(0, 0, &c->locked.hashpool, err);
    if (rc == FLOE_OK)
        *out = c->locked.hashpool;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int floe_client_reader(struct floe_client *c, struct floe_reader **out, struct floe_error *err)
{
    int rc = FLOE_OK;
    pthread_mutex_lock(&c->mu);
    if (!c->locked.reader)
        rc = floe_reader_new(NULL, &c->locked.reader, err);
    if (rc == FLOE_OK)
        *out = c->locked.reader;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- JSON helpers (shared by every engine module that reads answers) ---- */

json_t *floe_call_json(const struct floe_xfer *x, const char *op, struct floe_error *err)
{
    json_error_t je;
    json_t *doc = x->resp ? json_loadb((const char *)x->resp, x->resp_len, 0, &je) : NULL;
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        floe_error_set(err, FLOE_E_SERVICE, "%s: the answer is not a JSON object", op);
        return NULL;
    }
    return doc;
}

void floe_json_copy_str(char *dst, size_t cap, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int64_t floe_json_get_int(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : -1;
    if (json_is_string(v)) { /* tolerate numbers sent as strings */
        char *end = NULL;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (end && end != json_string_value(v) && !*end && n >= 0)
            return n;
    }
    return -1;
}

static void vault_from_json(json_t *o, struct floe_vault_info *v)
{
    floe_json_copy_str(v->vault_arn, sizeof(v->vault_arn), o, "VaultARN");
    floe_json_copy_str(v->vault_name, sizeof(v->vault_name), o, "VaultName");
    floe_json_copy_str(v->creation_date, sizeof(v->creation_date), o, "CreationDate");
    floe_json_copy_str(v->last_inventory_date, sizeof(v->last_inventory_date), o,
                       "LastInventoryDate");
    v->number_of_archives = floe_json_get_int(o, "NumberOfArchives");
    v->size_in_bytes = floe_json_get_int(o, "SizeInBytes");
}

/* ---- vaults ---- */

int floe_client_create_vault(struct floe_client *c, const char *vault, struct floe_error *err)
{
    return floe_request_run(c, &(struct floe_request){.method = "PUT", .vault = vault}, NULL, err);
}

int floe_client_describe_vault(struct floe_client *c, const char *vault,
                               struct floe_vault_info *out, struct floe_error *err)
{
    json_t *doc = NULL;
    int rc = floe_request_json(c, &(struct floe_request){.method = "GET", .vault = vault}, NULL,
                               &doc, err);
    if (rc == FLOE_OK) {
        vault_from_json(doc, out);
        json_decref(doc);
    }
    return rc;
}

int floe_client_delete_vault(struct floe_client *c, const char *vault, struct floe_error *err)
{
    return floe_request_run(c, &(struct floe_request){.method = "DELETE", .vault = vault}, NULL,
                            err);
}

/*
 * The query of a plain paged list: "limit=N&marker=M". ctx is a list's context, whose first
 * member is its page size (unsigned, 0 for the service's default).
 */
static void list_query(char *buf, size_t cap, const char *marker, void *ctx)
{
    floe_request_page_query(buf, cap, *(const unsigned *)ctx, marker);
}

struct vaults_ctx {
    unsigned limit; /* first: see list_query() */
    floe_vault_list_fn *fn;
    void *user;
};

static int vaults_page(json_t *doc, void *ctx, bool *stop, struct floe_error *err)
{
    (void)err;
    struct vaults_ctx *vc = ctx;
    json_t *list = json_object_get(doc, "VaultList"), *item;
    size_t i;
    json_array_foreach(list, i, item)
    {
        struct floe_vault_info v;
        vault_from_json(item, &v);
        if (vc->fn(&v, vc->user)) {
            *stop = true;
            break;
        }
    }
    return FLOE_OK;
}

int floe_client_list_vaults(struct floe_client *c, unsigned page_limit, floe_vault_list_fn *fn,
                            void *user, struct floe_error *err)
{
    struct vaults_ctx vc = {page_limit, fn, user};
    return floe_request_pages(
        c, &(struct floe_request){.method = "GET", .account = true, .path = "/vaults"}, NULL,
        list_query, vaults_page, &vc, err);
}

/* ---- archives ---- */

/* Compares the service's x-amz-sha256-tree-hash with ours. linear (optional): the body's
 * linear SHA-256; a service that echoes that instead (moto) is accepted, *was_linear set. */
static int check_returned_tree(const struct floe_xfer *x, const uint8_t want[FLOE_HASH_BYTES],
                               const uint8_t *linear, bool *was_linear, struct floe_error *err)
{
    const char *h = floe_xfer_header(x, "x-amz-sha256-tree-hash");
    uint8_t got[FLOE_HASH_BYTES];
    if (!h) /* the guide's Complete syntax omits it; never trust it is there */
        return FLOE_OK;
    char want_hex[FLOE_HASH_HEX];
    floe_treehash_hex(want, want_hex);
    if (floe_treehash_parse_hex(h, got, NULL) == FLOE_OK) {
        if (memcmp(got, want, FLOE_HASH_BYTES) == 0)
            return FLOE_OK;
        if (linear && memcmp(got, linear, FLOE_HASH_BYTES) == 0) {
            *was_linear = true;
            return FLOE_OK;
        }
    }
    return floe_error_set(err, FLOE_E_CHECKSUM,
                          "the service reports tree hash %s but the data hashes to %s", h,
                          want_hex);
}

static void archive_result(const struct floe_xfer *x, const uint8_t tree[FLOE_HASH_BYTES],
                           struct floe_archive_result *out)
{
    const char *id = floe_xfer_header(x, "x-amz-archive-id");
    const char *loc = floe_xfer_header(x, "location");
    snprintf(out->archive_id, sizeof(out->archive_id), "%s", id ? id : "");
    snprintf(out->location, sizeof(out->location), "%s", loc ? loc : "");
    memcpy(out->tree, tree, FLOE_HASH_BYTES);
}

struct floe_xfer *floe_client_upload_archive_xfer(struct floe_client *c, const char *vault,
                                                  const void *data, size_t len,
                                                  const uint8_t tree[FLOE_HASH_BYTES],
                                                  const uint8_t linear[FLOE_HASH_BYTES],
                                                  const char *description, struct floe_error *err)
{
    if (floe_sigv4_vault_name_valid(vault, err) || floe_client_check_description(description, err))
        return NULL;
    if (len == 0) {
        floe_error_set(err, FLOE_E_INVALID_ARG, "Glacier does not accept empty archives (0 bytes)");
        return NULL;
    }
    if (len > FLOE_UPLOAD_ARCHIVE_MAX) {
        floe_error_set(err, FLOE_E_RANGE,
                       "a single-request upload is at most 4 GiB; use multipart");
        return NULL;
    }
    char tree_hex[FLOE_HASH_HEX];
    floe_treehash_hex(tree, tree_hex);
    struct floe_call *k =
        floe_request_call(c,
                          &(struct floe_request){
                              .method = "POST",
                              .vault = vault,
                              .path = "/archives",
                              .data = data,
                              .data_len = len,
                              .data_sha256 = linear,
                              .headers = {{"x-amz-archive-description", description},
                                          {"x-amz-sha256-tree-hash", tree_hex}},
                          },
                          err);
    return k ? floe_call_xfer(k) : NULL;
}

int floe_client_upload_archive_answer(const struct floe_xfer *x,
                                      const uint8_t tree[FLOE_HASH_BYTES],
                                      const uint8_t linear[FLOE_HASH_BYTES],
                                      struct floe_archive_result *out, struct floe_error *err)
{
    if (x->status) {
        if (err)
            *err = x->err;
        return x->status;
    }
    bool was_linear = false;
    int rc = check_returned_tree(x, tree, linear, &was_linear, err);
    if (!rc && !floe_xfer_header(x, "x-amz-archive-id"))
        rc = floe_error_set(err, FLOE_E_SERVICE, "UploadArchive answer has no x-amz-archive-id");
    if (!rc) {
        archive_result(x, tree, out);
        out->linear_checksum = was_linear;
    }
    return rc;
}

int floe_client_upload_archive(struct floe_client *c, const char *vault, const void *data,
                               size_t len, const char *description, struct floe_archive_result *out,
                               struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (!rc)
        rc = floe_client_check_description(description, err);
    if (rc)
        return rc;
    uint8_t tree[FLOE_HASH_BYTES], linear[FLOE_HASH_BYTES];
    if (len > 0 && len <= FLOE_UPLOAD_ARCHIVE_MAX)
        floe_treehash_part(data, len, NULL, tree, linear);
    struct floe_xfer *x =
        floe_client_upload_archive_xfer(c, vault, data, len, tree, linear, description, err);
    if (!x)
        return err->status;
    floe_transfer_run(c->transfer, x);
    rc = floe_client_upload_archive_answer(x, tree, linear, out, err);
    floe_xfer_destroy(x);
    return rc;
}

int floe_client_delete_archive(struct floe_client *c, const char *vault, const char *archive_id,
                               struct floe_error *err)
{
    return floe_request_run(
        c,
        &(struct floe_request){
            .method = "DELETE", .vault = vault, .path = "/archives", .id = archive_id},
        NULL, err);
}

/* ---- multipart bookkeeping ---- */

int floe_client_initiate_multipart(struct floe_client *c, const char *vault, uint64_t part_size,
                                   const char *description, char upload_id[1025],
                                   struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(vault, err);
    if (!rc)
        rc = floe_client_check_description(description, err);
    if (!rc)
        rc = floe_range_check_part_size(part_size, err);
    if (rc)
        return rc;
    char ps[32];
    snprintf(ps, sizeof(ps), "%" PRIu64, part_size);
    return floe_request_id(
        c,
        &(struct floe_request){
            .method = "POST",
            .vault = vault,
            .path = "/multipart-uploads",
            .headers = {{"x-amz-part-size", ps}, {"x-amz-archive-description", description}},
        },
        "x-amz-multipart-upload-id", upload_id, 1025,
        "InitiateMultipartUpload answer has no usable x-amz-multipart-upload-id (does this "
        "endpoint support multipart uploads?)",
        err);
}

int floe_client_complete_multipart(struct floe_client *c, const char *vault, const char *upload_id,
                                   uint64_t archive_size, const uint8_t tree[FLOE_HASH_BYTES],
                                   struct floe_archive_result *out, struct floe_error *err)
{
    char size[32], tree_hex[FLOE_HASH_HEX];
    bool was_linear = false;
    snprintf(size, sizeof(size), "%" PRIu64, archive_size);
    floe_treehash_hex(tree, tree_hex);
    struct floe_xfer *x = NULL;
    int rc = floe_request_run(
        c,
        &(struct floe_request){
            .method = "POST",
            .vault = vault,
            .path = "/multipart-uploads",
            .id = upload_id,
            .headers = {{"x-amz-archive-size", size}, {"x-amz-sha256-tree-hash", tree_hex}},
        },
        &x, err);
    if (!rc)
        rc = check_returned_tree(x, tree, NULL, &was_linear, err);
    if (!rc && !floe_xfer_header(x, "x-amz-archive-id"))
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "CompleteMultipartUpload answer has no x-amz-archive-id");
    if (!rc) {
        archive_result(x, tree, out);
        out->linear_checksum = false;
    }
    floe_xfer_destroy(x);
    return rc;
}

int floe_client_abort_multipart(struct floe_client *c, const char *vault, const char *upload_id,
                                struct floe_error *err)
{
    return floe_request_run(
        c,
        &(struct floe_request){
            .method = "DELETE", .vault = vault, .path = "/multipart-uploads", .id = upload_id},
        NULL, err);
}

static void upload_from_json(json_t *o, struct floe_upload_info *u)
{
    floe_json_copy_str(u->upload_id, sizeof(u->upload_id), o, "MultipartUploadId");
    floe_json_copy_str(u->archive_description, sizeof(u->archive_description), o,
                       "ArchiveDescription");
    floe_json_copy_str(u->creation_date, sizeof(u->creation_date), o, "CreationDate");
    int64_t ps = floe_json_get_int(o, "PartSizeInBytes");
    u->part_size = ps > 0 ? (uint64_t)ps : 0;
}

struct parts_ctx {
    unsigned limit; /* first: see list_query(); 0 */
    floe_part_list_fn *fn;
    void *user;
    struct floe_upload_info *info;
};

static int parts_page(json_t *doc, void *ctx, bool *stop, struct floe_error *err)
{
    struct parts_ctx *pc = ctx;
    if (pc->info) {
        upload_from_json(doc, pc->info);
        pc->info = NULL; /* first page only */
    }
    json_t *parts = json_object_get(doc, "Parts"), *item;
    size_t i;
    json_array_foreach(parts, i, item)
    {
        struct floe_part_info p;
        json_t *r = json_object_get(item, "RangeInBytes");
        json_t *h = json_object_get(item, "SHA256TreeHash");
        if (!json_is_string(r) || !json_is_string(h) ||
            sscanf(json_string_value(r), "%" SCNu64 "-%" SCNu64, &p.first, &p.last) != 2 ||
            floe_treehash_parse_hex(json_string_value(h), p.tree, NULL) != FLOE_OK)
            return floe_error_set(err, FLOE_E_SERVICE, "ListParts returned a malformed part");
        if (pc->fn(&p, pc->user)) {
            *stop = true;
            break;
        }
    }
    return FLOE_OK;
}

int floe_client_list_parts(struct floe_client *c, const char *vault, const char *upload_id,
                           floe_part_list_fn *fn, void *user, struct floe_upload_info *info,
                           struct floe_error *err)
{
    struct parts_ctx pc = {0, fn, user, info};
    return floe_request_pages(
        c,
        &(struct floe_request){
            .method = "GET", .vault = vault, .path = "/multipart-uploads", .id = upload_id},
        NULL, list_query, parts_page, &pc, err);
}

struct uploads_ctx {
    unsigned limit; /* first: see list_query(); 0 */
    floe_upload_list_fn *fn;
    void *user;
};

static int uploads_page(json_t *doc, void *ctx, bool *stop, struct floe_error *err)
{
    (void)err;
    struct uploads_ctx *uc = ctx;
    json_t *list = json_object_get(doc, "UploadsList"), *item;
    size_t i;
    json_array_foreach(list, i, item)
    {
        struct floe_upload_info u;
        upload_from_json(item, &u);
        if (uc->fn(&u, uc->user)) {
            *stop = true;
            break;
        }
    }
    return FLOE_OK;
}

int floe_client_list_multipart_uploads(struct floe_client *c, const char *vault,
                                       floe_upload_list_fn *fn, void *user, struct floe_error *err)
{
    struct uploads_ctx uc = {0, fn, user};
    return floe_request_pages(
        c, &(struct floe_request){.method = "GET", .vault = vault, .path = "/multipart-uploads"},
        NULL, list_query, uploads_page, &uc, err);
}
