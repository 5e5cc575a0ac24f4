/*
 * credfetch.c - one fetch from each kind of credential source (credfetch.h).
 *
 * DESIGN: every network source is one small synchronous exchange, so it uses its own libcurl
 * easy handle with short timeouts instead of the client's transfer thread (which may be busy
 * with a multi-hour upload, and must not wait on itself). The STS request is signed with
 * floe_sigv4_sign() like any Glacier request, with the Host header set explicitly so that what
 * curl sends is what was signed. credential_process runs through /bin/sh -c with a pipe for
 * stdout; stderr is inherited so the user sees the process's own messages.
 */
#include "credfetch.h"

#include "alloc.h"
#include "floe/sigv4.h"
#include "hex.h"
#include "sha256.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_ANSWER (1u << 20)

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- HTTP ---- */

struct answer {
    char *body;
    size_t len;
    bool overflow;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct answer *a = ctx;
    size_t m = size * n;
    if (a->len + m > MAX_ANSWER) {
        a->overflow = true;
        return 0;
    }
    a->body = floe_xrealloc(a->body, a->len + m + 1);
    memcpy(a->body + a->len, p, m);
    a->len += m;
    a->body[a->len] = 0;
    return m;
}

/* One request. headers: NULL-terminated "Name: value" lines; tls: see struct floe_cred_tls.
 * On FLOE_OK *status is the HTTP status and a->body (malloc'd, NUL-terminated, maybe NULL when
 * empty) the answer. */
static int http(const char *what, const char *method, const char *url, const char *const *headers,
                const char *body, long timeout_ms, const struct floe_cred_tls *tls, long *status,
                struct answer *a, struct floe_error *err)
{
    CURL *e = curl_easy_init();
    if (!e)
        return floe_error_set(err, FLOE_E_NETWORK, "%s: curl_easy_init failed", what);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    char cerr[CURL_ERROR_SIZE] = "";
    memset(a, 0, sizeof(*a));
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms * 5);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "floe/0.1");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    const char *ca = tls && tls->ca_bundle ? tls->ca_bundle : env_nonempty("AWS_CA_BUNDLE");
    if (ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    if (tls && tls->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    }
    CURLcode cc = curl_easy_perform(e);
    int rc = FLOE_OK;
    if (cc != CURLE_OK) {
        rc = floe_error_set(err, cc == CURLE_OPERATION_TIMEDOUT ? FLOE_E_TIMEOUT : FLOE_E_NETWORK,
                            "%s: %s %s: %s", what, method, url,
                            a->overflow ? "answer larger than 1 MiB"
                            : cerr[0]   ? cerr
                                        : curl_easy_strerror(cc));
        free(a->body);
        memset(a, 0, sizeof(*a));
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(e);
    return rc;
}

/* application/x-www-form-urlencoded value */
static void form_add(char **buf, size_t *len, const char *key, const char *val)
{
    size_t need = *len + strlen(key) + 3 * strlen(val) + 3;
    *buf = floe_xrealloc(*buf, need);
    char *p = *buf + *len;
    if (*len)
        *p++ = '&';
    p += snprintf(p, need - (size_t)(p - *buf), "%s=", key);
    for (const unsigned char *s = (const unsigned char *)val; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '_' || *s == '.' || *s == '~') {
            *p++ = (char)*s;
        } else {
            static const char hx[] = "0123456789ABCDEF";
            *p++ = '%';
            *p++ = hx[*s >> 4];
            *p++ = hx[*s & 15];
        }
    }
    *p = 0;
    *len = (size_t)(p - *buf);
}

/* "https://host[:port][/path]" -> host[:port] into out. */
static int url_host(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    if (!h)
        return FLOE_E_INVALID_ARG;
    h += 3;
    size_t n = strcspn(h, "/?#");
    if (n == 0 || n >= cap)
        return FLOE_E_INVALID_ARG;
    memcpy(out, h, n);
    out[n] = 0;
    return FLOE_OK;
}

/* The endpoint of service: AWS_ENDPOINT_URL_<SVC>, AWS_ENDPOINT_URL, else the default. */
static void service_endpoint(const char *var, const char *fmt, const char *region, char *out,
                             size_t cap)
{
    const char *e = env_nonempty(var);
    if (!e)
        e = env_nonempty("AWS_ENDPOINT_URL");
    if (e) {
        snprintf(out, cap, "%s", e);
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '/')
            out[--n] = 0;
    } else {
        snprintf(out, cap, fmt, region && *region ? region : "us-east-1");
    }
}

/* Sends an STS form POST (signed when base is not NULL) and parses its answer. */
static int sts_call(const char *op, const char *form, const struct floe_cred_role *r,
                    const struct floe_cred_values *base, struct floe_cred_values *out,
                    struct floe_caller_identity *ident, struct floe_error *err)
{
    char url[512], host[300], what[64];
    snprintf(what, sizeof(what), "STS %s", op);
    service_endpoint("AWS_ENDPOINT_URL_STS", "https://sts.%s.amazonaws.com", r->region, url,
                     sizeof(url));
    if (url_host(url, host, sizeof(host)))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "%s: endpoint \"%s\" is not a URL", what,
                              url);
    size_t hcap = strlen(host) + 8;
    char *hosth = floe_xmalloc(hcap);
    snprintf(hosth, hcap, "Host: %s", host);
    const char *ctype = "application/x-www-form-urlencoded; charset=utf-8";
    char ctypeh[100];
    snprintf(ctypeh, sizeof(ctypeh), "Content-Type: %s", ctype);
    const char *hdrs[6] = {hosth, ctypeh, "Accept:", NULL, NULL, NULL};
    char *dateh = NULL, *authh = NULL, *tokh = NULL;
    int rc = FLOE_OK;
    if (base) {
        uint8_t sum[FLOE_SHA256_BYTES];
        char hexsum[2 * FLOE_SHA256_BYTES + 1];
        floe_sha256(form, strlen(form), sum);
        for (size_t i = 0; i < sizeof(sum); i++)
            snprintf(hexsum + 2 * i, 3, "%02x", sum[i]);
        struct floe_sigv4_header sh[2] = {{"host", host}, {"content-type", ctype}};
        struct floe_sigv4_request req = {.method = "POST",
                                         .path = "/",
                                         .query = NULL,
                                         .headers = sh,
                                         .nheaders = 2,
                                         .payload_sha256_hex = hexsum};
        struct floe_sigv4_credentials cred = {base->access_key_id, base->secret_access_key,
                                              base->session_token};
        struct floe_sigv4_signed sig;
        const char *region = r->region && *r->region ? r->region : "us-east-1";
        rc = floe_sigv4_sign(&req, &cred, region, "sts", time(NULL), &sig, err);
        if (rc == FLOE_OK) {
            size_t n = strlen(sig.authorization) + 32;
            authh = floe_xmalloc(n);
            snprintf(authh, n, "Authorization: %s", sig.authorization);
            dateh = floe_xmalloc(64);
            snprintf(dateh, 64, "X-Amz-Date: %s", sig.amz_date);
            hdrs[2] = dateh;
            hdrs[3] = authh;
            if (sig.security_token) {
                n = strlen(sig.security_token) + 32;
                tokh = floe_xmalloc(n);
                snprintf(tokh, n, "X-Amz-Security-Token: %s", sig.security_token);
                hdrs[4] = tokh;
            }
        }
    }
    long status = 0;
    struct answer a = {0};
    if (rc == FLOE_OK)
        rc = http(what, "POST", url, hdrs, form, 3000, r->tls, &status, &a, err);
    if (rc == FLOE_OK && ident)
        rc = floe_cred_parse_identity(a.body ? a.body : "", a.len, status, ident, err);
    else if (rc == FLOE_OK)
        rc = floe_cred_parse_sts(a.body ? a.body : "", a.len, status, op, out, err);
    free(a.body);
    free(hosth);
    free(dateh);
    free(authh);
    if (tokh) {
        memset(tokh, 0, strlen(tokh));
        free(tokh);
    }
    return rc;
}

static void role_form(const char *action, const struct floe_cred_role *r, char **form, size_t *len)
{
    char session[64], dur[16];
    snprintf(session, sizeof(session), "floe-%lld", (long long)time(NULL));
    form_add(form, len, "Action", action);
    form_add(form, len, "Version", "2011-06-15");
    form_add(form, len, "RoleArn", r->role_arn);
    form_add(form, len, "RoleSessionName",
             r->session_name && *r->session_name ? r->session_name : session);
    if (r->duration_s > 0) {
        snprintf(dur, sizeof(dur), "%d", r->duration_s);
        form_add(form, len, "DurationSeconds", dur);
    }
}

int floe_cred_fetch_assume_role(const struct floe_cred_role *r, const struct floe_cred_values *base,
                                struct floe_cred_values *out, struct floe_error *err)
{
    char *form = NULL;
    size_t len = 0;
    role_form("AssumeRole", r, &form, &len);
    if (r->external_id && *r->external_id)
        form_add(&form, &len, "ExternalId", r->external_id);
    int rc = sts_call("AssumeRole", form, r, base, out, NULL, err);
    free(form);
    return rc;
}

int floe_cred_fetch_identity(const char *region, const struct floe_cred_tls *tls,
                             const struct floe_cred_values *keys, struct floe_caller_identity *out,
                             struct floe_error *err)
{
    char *form = NULL;
    size_t len = 0;
    form_add(&form, &len, "Action", "GetCallerIdentity");
    form_add(&form, &len, "Version", "2011-06-15");
    struct floe_cred_role r = {.region = region, .tls = tls};
    int rc = sts_call("GetCallerIdentity", form, &r, keys, NULL, out, err);
    free(form);
    return rc;
}

/* Reads a small file whole (at most MAX_ANSWER bytes), trailing whitespace removed. */
static int read_small(const char *what, const char *path, char **out, size_t *n,
                      struct floe_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return floe_error_set_errno(err, FLOE_E_AUTH, errno, path, "%s: cannot open %s", what,
                                    path);
    char *buf = floe_xmalloc(MAX_ANSWER + 1);
    size_t len = fread(buf, 1, MAX_ANSWER + 1, f);
    bool bad = ferror(f) || len > MAX_ANSWER;
    fclose(f);
    if (bad) {
        free(buf);
        return floe_error_set(err, FLOE_E_AUTH, "%s: cannot read %s (or larger than 1 MiB)", what,
                              path);
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    buf[len] = 0;
    *out = buf;
    *n = len;
    return FLOE_OK;
}

int floe_cred_fetch_web_identity(const struct floe_cred_role *r, const char *token_file,
                                 struct floe_cred_values *out, struct floe_error *err)
{
    char *tok = NULL;
    size_t tn = 0;
    int rc = read_small("web identity token", token_file, &tok, &tn, err);
    if (rc)
        return rc;
    if (tn == 0) {
        free(tok);
        return floe_error_set(err, FLOE_E_AUTH, "web identity token file %s is empty", token_file);
    }
    char *form = NULL;
    size_t len = 0;
    role_form("AssumeRoleWithWebIdentity", r, &form, &len);
    form_add(&form, &len, "WebIdentityToken", tok);
    rc = sts_call("AssumeRoleWithWebIdentity", form, r, NULL, out, NULL, err);
    memset(form, 0, len);
    free(form);
    memset(tok, 0, tn);
    free(tok);
    return rc;
}

/* ---- SSO ---- */

void floe_cred_sha1_hex(const char *s, char out[41])
{
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)s, strlen(s), d);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int floe_cred_fetch_sso(const struct floe_cred_sso *s, struct floe_cred_values *out,
                        struct floe_error *err)
{
    const char *home = getenv("HOME");
    char sha[41], path[4096], hint[4400];
    floe_cred_sha1_hex(s->cache_key, sha);
    snprintf(path, sizeof(path), "%s/.aws/sso/cache/%s.json", home ? home : "", sha);
    snprintf(hint, sizeof(hint), " (no usable token for %.200s in %s)", s->cache_key, path);
    char *text = NULL, *token = NULL;
    size_t n = 0;
    if (access(path, F_OK) != 0)
        return floe_error_set(err, FLOE_E_AUTH, "SSO: no cached token: run aws sso login%s", hint);
    int rc = read_small("SSO token cache", path, &text, &n, err);
    if (rc == FLOE_OK)
        rc = floe_cred_parse_sso_cache(text, n, (int64_t)time(NULL), hint, &token, err);
    free(text);
    if (rc)
        return rc;
    char base[512], url[1200];
    service_endpoint("AWS_ENDPOINT_URL_SSO", "https://portal.sso.%s.amazonaws.com", s->region, base,
                     sizeof(base));
    char *acct = curl_easy_escape(NULL, s->account_id, 0);
    char *role = curl_easy_escape(NULL, s->role_name, 0);
    snprintf(url, sizeof(url), "%s/federation/credentials?account_id=%s&role_name=%s", base,
             acct ? acct : "", role ? role : "");
    curl_free(acct);
    curl_free(role);
    size_t hn = strlen(token) + 40;
    char *th = floe_xmalloc(hn);
    snprintf(th, hn, "x-amz-sso_bearer_token: %s", token);
    const char *hdrs[] = {th, NULL};
    long status = 0;
    struct answer a = {0};
    rc = http("SSO GetRoleCredentials", "GET", url, hdrs, NULL, 3000, s->tls, &status, &a, err);
    if (rc == FLOE_OK && (status == 401 || status == 403))
        rc = floe_error_set(err, FLOE_E_AUTH,
                            "SSO GetRoleCredentials: HTTP %ld (the token was refused, or the role "
                            "%s in account %s is not yours): run aws sso login",
                            status, s->role_name, s->account_id);
    else if (rc == FLOE_OK && (status < 200 || status > 299))
        rc = floe_error_set(err, FLOE_E_AUTH, "SSO GetRoleCredentials: HTTP %ld: %.200s", status,
                            a.body ? a.body : "");
    else if (rc == FLOE_OK)
        rc = floe_cred_parse_sso_role(a.body ? a.body : "", a.len, out, err);
    free(a.body);
    memset(th, 0, strlen(th));
    free(th);
    memset(token, 0, strlen(token));
    free(token);
    return rc;
}

/* ---- container and instance metadata ---- */

bool floe_cred_container_configured(void)
{
    return env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
           env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

/* The hosts the SDKs allow for a plain-http FULL_URI: loopback, the ECS and EKS addresses. */
static bool allowed_http_host(const char *host)
{
    static const char *ok[] = {"localhost", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]",
                               "[::1]"};
    char h[300];
    snprintf(h, sizeof(h), "%s", host);
    char *colon = h[0] == '[' ? strchr(h, ']') : strrchr(h, ':');
    if (colon && h[0] == '[')
        colon[1] = 0;
    else if (colon)
        *colon = 0;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(h, ok[i]) == 0)
            return true;
    return strncmp(h, "127.", 4) == 0;
}

int floe_cred_fetch_container(const struct floe_cred_tls *tls, struct floe_cred_values *out,
                              struct floe_error *err)
{
    const char *what = "container credentials";
    char url[2048], host[300];
    const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel) {
        snprintf(url, sizeof(url), "http://169.254.170.2%s%s", rel[0] == '/' ? "" : "/", rel);
    } else if (full) {
        snprintf(url, sizeof(url), "%s", full);
        if (url_host(url, host, sizeof(host)) ||
            (strncmp(url, "https://", 8) != 0 &&
             (strncmp(url, "http://", 7) != 0 || !allowed_http_host(host))))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%.200s\" must be https, or "
                                  "http to a loopback address, 169.254.170.2 or 169.254.170.23",
                                  full);
    } else {
        return floe_error_set(err, FLOE_E_AUTH, "%s: not configured", what);
    }
    char *tok = NULL, *authh = NULL;
    const char *tfile = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    size_t tn = 0;
    int rc = FLOE_OK;
    if (full && tfile)
        rc = read_small(what, tfile, &tok, &tn, err);
    else if (full && env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
        tok = floe_xstrdup(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    if (rc)
        return rc;
    if (tok && strpbrk(tok, "\r\n")) {
        free(tok);
        return floe_error_set(err, FLOE_E_AUTH, "%s: the authorization token has a line break",
                              what);
    }
    if (tok) {
        size_t n = strlen(tok) + 20;
        authh = floe_xmalloc(n);
        snprintf(authh, n, "Authorization: %s", tok);
    }
    const char *hdrs[] = {authh, NULL};
    long status = 0;
    struct answer a = {0};
    rc = http(what, "GET", url, authh ? hdrs : NULL, NULL, 2000, tls, &status, &a, err);
    if (rc == FLOE_OK && (status < 200 || status > 299))
        rc = floe_error_set(err, FLOE_E_AUTH, "%s: %s answered HTTP %ld", what, url, status);
    else if (rc == FLOE_OK)
        rc = floe_cred_parse_metadata(a.body ? a.body : "", a.len, what, out, err);
    free(a.body);
    if (authh) {
        memset(authh, 0, strlen(authh));
        free(authh);
    }
    if (tok) {
        memset(tok, 0, strlen(tok));
        free(tok);
    }
    return rc;
}

bool floe_cred_imds_disabled(void)
{
    const char *v = env_nonempty("AWS_EC2_METADATA_DISABLED");
    return v && strcasecmp(v, "true") == 0;
}

int floe_cred_fetch_imds(struct floe_cred_values *out, struct floe_error *err)
{
    const char *what = "instance metadata";
    char base[512], url[1024];
    const char *ep = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    snprintf(base, sizeof(base), "%s", ep ? ep : "http://169.254.169.254");
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        base[--bl] = 0;
    long timeout_ms = 1000;
    const char *t = env_nonempty("AWS_METADATA_SERVICE_TIMEOUT");
    if (t && strtol(t, NULL, 10) > 0)
        timeout_ms = strtol(t, NULL, 10) * 1000;
    long status = 0;
    struct answer a = {0}, b = {0}, c = {0};
    char *tokh = NULL, *role = NULL;
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    const char *ttl[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    int rc = http(what, "PUT", url, ttl, "", timeout_ms, NULL, &status, &a, err);
    if (rc == FLOE_OK && (status != 200 || !a.body || strpbrk(a.body, "\r\n")))
        rc = floe_error_set(err, FLOE_E_AUTH,
                            "%s: the IMDSv2 token PUT %s answered HTTP %ld (floe uses IMDSv2 only)",
                            what, url, status);
    if (rc == FLOE_OK) {
        size_t n = strlen(a.body) + 40;
        tokh = floe_xmalloc(n);
        snprintf(tokh, n, "X-aws-ec2-metadata-token: %s", a.body);
        const char *hdrs[] = {tokh, NULL};
        snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
        rc = http(what, "GET", url, hdrs, NULL, timeout_ms, NULL, &status, &b, err);
        if (rc == FLOE_OK && status == 404)
            rc = floe_error_set(err, FLOE_E_AUTH, "%s: the instance has no IAM role", what);
        else if (rc == FLOE_OK && (status != 200 || !b.body || !b.body[0]))
            rc = floe_error_set(err, FLOE_E_AUTH, "%s: %s answered HTTP %ld", what, url, status);
        if (rc == FLOE_OK) {
            role = floe_xstrdup(b.body);
            role[strcspn(role, "\r\n")] = 0;
            char *esc = curl_easy_escape(NULL, role, 0);
            snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base,
                     esc ? esc : "");
            curl_free(esc);
            rc = http(what, "GET", url, hdrs, NULL, timeout_ms, NULL, &status, &c, err);
            if (rc == FLOE_OK && status != 200)
                rc =
                    floe_error_set(err, FLOE_E_AUTH, "%s: %s answered HTTP %ld", what, url, status);
            else if (rc == FLOE_OK)
                rc = floe_cred_parse_metadata(c.body ? c.body : "", c.len, what, out, err);
        }
    }
    free(a.body);
    free(b.body);
    free(c.body);
    free(tokh);
    free(role);
    return rc;
}

/* ---- credential_process ---- */

int floe_cred_fetch_process(const char *command, const char *what, struct floe_cred_values *out,
                            struct floe_error *err)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return floe_error_set_errno(err, FLOE_E_AUTH, errno, NULL, "%s: pipe", what);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    pid_t pid;
    int e = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (e != 0) {
        close(fds[0]);
        return floe_error_set_errno(err, FLOE_E_AUTH, e, NULL, "%s: cannot start /bin/sh", what);
    }
    struct answer a = {0};
    char buf[4096];
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (!a.overflow && on_body(buf, 1, (size_t)r, &a) != (size_t)r)
            a.overflow = true;
    }
    close(fds[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    int rc;
    if (WIFSIGNALED(ws))
        rc = floe_error_set(err, FLOE_E_AUTH, "%s: the process was killed by signal %d", what,
                            WTERMSIG(ws));
    else if (WEXITSTATUS(ws) != 0)
        rc = floe_error_set(err, FLOE_E_AUTH,
                            "%s: the process exited with status %d (its messages, if any, are "
                            "above on stderr)",
                            what, WEXITSTATUS(ws));
    else if (a.overflow)
        rc = floe_error_set(err, FLOE_E_AUTH, "%s: the output is larger than 1 MiB", what);
    else
        rc = floe_cred_parse_process(a.body ? a.body : "", a.len, what, out, err);
    if (a.body) {
        memset(a.body, 0, a.len);
        free(a.body);
    }
    return rc;
}
