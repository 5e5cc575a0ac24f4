/*
 * test_sigv4.c - SigV4 signing is byte-exact with botocore's SigV4Auth, verification accepts
 * what botocore and floe sign and rejects each kind of bad request for the right reason, and
 * vault names follow ^[A-Za-z0-9_.-]{1,255}$.
 *
 * Reference vectors come from docs/glacier-api.md 5.4 (fixed) and from botocore 1.43, run at test
 * time through t_python() over a spec file: one line per request, each field hex-encoded so
 * that spaces, '&', '=' and Unicode pass through unchanged. Part of the batch is random
 * (seeded; FLOE_TEST_SEED replays a failure).
 */
#include "t_util.h"

#include "floe/sigv4.h"

#include <openssl/evp.h>
#include <pthread.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_20120525 1337905493 /* 2012-05-25T00:24:53Z */
#define T_20120507 1336348800 /* 2012-05-07T00:00:00Z */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ZERO_SIG "0000000000000000000000000000000000000000000000000000000000000000"

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    assert_true(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL));
    assert_int_equal(len, 32);
    t_hex(md, 32, out);
}

/* ------------------------------------------------------------------------------------------
 * Fixed vectors (docs/glacier-api.md 5.4)
 * ---------------------------------------------------------------------------------------- */

static void test_sigv4_doc_vector_create_vault(void **state)
{
    (void)state;
    const struct floe_sigv4_header hs[] = {
        {"Host", "glacier.us-east-1.amazonaws.com"},
        {"x-amz-glacier-version", "2012-06-01"},
    };
    struct floe_sigv4_request req = {.method = "PUT",
                                     .path = "/-/vaults/examplevault",
                                     .headers = hs,
                                     .nheaders = 2,
                                     .payload_sha256_hex = EMPTY_SHA};
    struct floe_sigv4_credentials cred = {AKID, SECRET, NULL};
    struct floe_sigv4_signed out;
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", T_20120525, &out, &err),
                     FLOE_OK);
    assert_string_equal(out.amz_date, "20120525T002453Z");
    assert_string_equal(out.signature,
                        "3ce5b2f2fffac9262b4da9256f8d086b4aaf42eba5f111c21681a65a127b7c2a");
    assert_string_equal(
        out.authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20120525/us-east-1/"
        "glacier/aws4_request, SignedHeaders=host;x-amz-date;x-amz-glacier-version, "
        "Signature=3ce5b2f2fffac9262b4da9256f8d086b4aaf42eba5f111c21681a65a127b7c2a");
    assert_null(out.security_token);

    /* the canonical request text and its hash, with x-amz-date passed explicitly */
    const struct floe_sigv4_header hs2[] = {
        {"Host", "glacier.us-east-1.amazonaws.com"},
        {"x-amz-glacier-version", "2012-06-01"},
        {"X-Amz-Date", "20120525T002453Z"},
    };
    req.headers = hs2;
    req.nheaders = 3;
    char *cr = NULL;
    assert_int_equal(floe_sigv4_canonical_request(&req, NULL, &cr, &err), FLOE_OK);
    assert_string_equal(cr, "PUT\n/-/vaults/examplevault\n\n"
                            "host:glacier.us-east-1.amazonaws.com\n"
                            "x-amz-date:20120525T002453Z\n"
                            "x-amz-glacier-version:2012-06-01\n\n"
                            "host;x-amz-date;x-amz-glacier-version\n" EMPTY_SHA);
    char hex[65];
    sha256_hex(cr, strlen(cr), hex);
    assert_string_equal(hex, "5f1da1a2d0feb614dd03d71e87928b8e449ac87614479332aced3a701f916743");
    free(cr);

    /* the same text when the signed-header list is given (the verify side) */
    cr = NULL;
    assert_int_equal(
        floe_sigv4_canonical_request(&req, "host;x-amz-date;x-amz-glacier-version", &cr, &err),
        FLOE_OK);
    sha256_hex(cr, strlen(cr), hex);
    assert_string_equal(hex, "5f1da1a2d0feb614dd03d71e87928b8e449ac87614479332aced3a701f916743");
    free(cr);
}

static void test_sigv4_doc_vector_upload_archive(void **state)
{
    (void)state;
    const char *body = "Welcome to Amazon Glacier.";
    char hash[65];
    sha256_hex(body, strlen(body), hash);
    assert_string_equal(hash, "726e392cb4d09924dbad1cc0ba3b00c3643d03d14cb4b823e2f041cff612a628");
    const struct floe_sigv4_header hs[] = {
        {"Host", "glacier.us-east-1.amazonaws.com"},
        {"x-amz-glacier-version", "2012-06-01"},
        {"x-amz-content-sha256", hash},
    };
    struct floe_sigv4_request req = {
        .method = "POST", .path = "/-/vaults/examplevault/archives", .headers = hs, .nheaders = 3};
    struct floe_sigv4_credentials cred = {AKID, SECRET, NULL};
    struct floe_sigv4_signed out;
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", T_20120507, &out, &err),
                     FLOE_OK);
    assert_string_equal(out.amz_date, "20120507T000000Z");
    assert_string_equal(out.signature,
                        "b092397439375d59119072764a1e9a144677c43d9906fd98a5742c57a2855de6");
    assert_non_null(strstr(out.authorization, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                              "x-amz-glacier-version, "));
    /* the hash given both ways must agree, and then gives the same signature */
    req.payload_sha256_hex = hash;
    struct floe_sigv4_signed out2;
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", T_20120507, &out2, &err),
                     FLOE_OK);
    assert_string_equal(out2.signature, out.signature);
}

/* ------------------------------------------------------------------------------------------
 * botocore vectors: cases, the spec file, the python runner
 * ---------------------------------------------------------------------------------------- */

#define MAXH 24
#define MAXP 12

struct vcase {
    char name[64];
    char method[16], scheme[8], host[64], path[512], query[1024];
    bool params_mode; /* python gets decoded params; C gets our RFC 3986 encoding of them */
    size_t np;
    char pk[MAXP][64], pv[MAXP][128];
    size_t nh; /* headers other than Host (python derives Host from the URL) */
    char hn[MAXH][64], hv[MAXH][256];
    char region[32], service[32], akid[40], secret[64], token[256];
    long long when;
    char *body_path; /* NULL: no body */
    char body_sha[65];
    bool hash_in_header; /* C passes no payload hash; x-amz-content-sha256 carries it */
    /* filled from botocore's output */
    char bc_auth[2048], bc_date[20], bc_token[256];
    char *bc_cr;
};

struct vset {
    struct vcase *c;
    size_t n, cap;
};

static size_t s_body_counter;

static struct vcase *vc_new(struct vset *s, const char *name)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->c = realloc(s->c, s->cap * sizeof(*s->c));
        assert_non_null(s->c);
    }
    struct vcase *c = &s->c[s->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->method, sizeof(c->method), "GET");
    snprintf(c->scheme, sizeof(c->scheme), "https");
    snprintf(c->host, sizeof(c->host), "glacier.us-east-1.amazonaws.com");
    snprintf(c->path, sizeof(c->path), "/");
    snprintf(c->region, sizeof(c->region), "us-east-1");
    snprintf(c->service, sizeof(c->service), "glacier");
    snprintf(c->akid, sizeof(c->akid), AKID);
    snprintf(c->secret, sizeof(c->secret), SECRET);
    c->when = T_20120525;
    return c;
}

static void vc_target(struct vcase *c, const char *method, const char *path, const char *query)
{
    snprintf(c->method, sizeof(c->method), "%s", method);
    snprintf(c->path, sizeof(c->path), "%s", path);
    snprintf(c->query, sizeof(c->query), "%s", query ? query : "");
}

static void vc_param(struct vcase *c, const char *k, const char *v)
{
    assert_true(c->np < MAXP);
    c->params_mode = true;
    snprintf(c->pk[c->np], sizeof(c->pk[0]), "%s", k);
    snprintf(c->pv[c->np], sizeof(c->pv[0]), "%s", v);
    c->np++;
}

static void vc_header(struct vcase *c, const char *n, const char *v)
{
    assert_true(c->nh < MAXH);
    snprintf(c->hn[c->nh], sizeof(c->hn[0]), "%s", n);
    snprintf(c->hv[c->nh], sizeof(c->hv[0]), "%s", v);
    c->nh++;
}

static void vc_body(struct vcase *c, const void *data, size_t n, bool hash_in_header)
{
    char name[32];
    snprintf(name, sizeof(name), "body%zu", s_body_counter++);
    c->body_path = t_write_temp(name, data, n);
    sha256_hex(data, n, c->body_sha);
    c->hash_in_header = hash_in_header;
    if (hash_in_header)
        vc_header(c, "x-amz-content-sha256", c->body_sha);
}

/* RFC 3986 encoding, as our client builds query strings (and botocore's percent_encode). */
static void rfc3986(const char *s, char *out, size_t cap)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';
        assert_true(o + 4 < cap);
        if (keep) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hx[ch >> 4];
            out[o++] = hx[ch & 15];
        }
    }
    out[o] = 0;
}

/* The raw query C signs: the case's query, or the encoding of its params in given order. */
static void vc_c_query(const struct vcase *c, char *out, size_t cap)
{
    if (!c->params_mode) {
        snprintf(out, cap, "%s", c->query);
        return;
    }
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < c->np; i++) {
        char k[256], v[512];
        rfc3986(c->pk[i], k, sizeof(k));
        rfc3986(c->pv[i], v, sizeof(v));
        int w = snprintf(out + o, cap - o, "%s%s=%s", i ? "&" : "", k, v);
        assert_true(w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
    }
}

static void spec_tok(FILE *f, const char *s)
{
    fputs(" x", f);
    for (; *s; s++)
        fprintf(f, "%02x", (unsigned char)*s);
}

static const char s_botocore_runner[] =
    "import sys, datetime\n"
    "from unittest import mock\n"
    "from botocore.auth import SigV4Auth\n"
    "from botocore.awsrequest import AWSRequest\n"
    "from botocore.credentials import Credentials\n"
    "class A(SigV4Auth):\n"
    "    def canonical_request(self, r):\n"
    "        self.cr = super().canonical_request(r)\n"
    "        return self.cr\n"
    "def d(t): return bytes.fromhex(t[1:]).decode('utf-8')\n"
    "for line in open(sys.argv[1], encoding='ascii'):\n"
    "    f = [d(x) for x in line.split()]\n"
    "    if not f: continue\n"
    "    method, url, region, service, akid, secret, token, when, body = f[:9]\n"
    "    i = 9\n"
    "    n = int(f[i]); i += 1\n"
    "    params = [(f[i + 2 * k], f[i + 2 * k + 1]) for k in range(n)]; i += 2 * n\n"
    "    n = int(f[i]); i += 1\n"
    "    hdrs = [(f[i + 2 * k], f[i + 2 * k + 1]) for k in range(n)]\n"
    "    data = open(body, 'rb').read() if body else None\n"
    "    req = AWSRequest(method=method, url=url, data=data, params=params or None)\n"
    "    for k, v in hdrs:\n"
    "        req.headers[k] = v\n"
    "    a = A(Credentials(akid, secret, token or None), service, region)\n"
    "    now = datetime.datetime.fromtimestamp(int(when), datetime.timezone.utc)\n"
    "    with mock.patch('botocore.auth.get_current_datetime',\n"
    "                    return_value=now.replace(tzinfo=None)):\n"
    "        a.add_auth(req)\n"
    "    print(req.headers['Authorization'], a.cr.encode('utf-8').hex(),\n"
    "          req.headers['X-Amz-Date'], req.headers.get('X-Amz-Security-Token', '-'),\n"
    "          sep='\\t')\n";

/* Runs every case through botocore in one python process and stores the results. */
static void run_botocore(struct vset *s)
{
    char *spec = NULL;
    size_t specn = 0;
    FILE *f = open_memstream(&spec, &specn);
    assert_non_null(f);
    for (size_t i = 0; i < s->n; i++) {
        const struct vcase *c = &s->c[i];
        char url[2048], when[32], num[16];
        snprintf(url, sizeof(url), "%s://%s%s%s%s", c->scheme, c->host, c->path,
                 (!c->params_mode && c->query[0]) ? "?" : "", c->params_mode ? "" : c->query);
        snprintf(when, sizeof(when), "%lld", c->when);
        spec_tok(f, c->method);
        spec_tok(f, url);
        spec_tok(f, c->region);
        spec_tok(f, c->service);
        spec_tok(f, c->akid);
        spec_tok(f, c->secret);
        spec_tok(f, c->token);
        spec_tok(f, when);
        spec_tok(f, c->body_path ? c->body_path : "");
        snprintf(num, sizeof(num), "%zu", c->np);
        spec_tok(f, num);
        for (size_t k = 0; k < c->np; k++) {
            spec_tok(f, c->pk[k]);
            spec_tok(f, c->pv[k]);
        }
        snprintf(num, sizeof(num), "%zu", c->nh);
        spec_tok(f, num);
        for (size_t k = 0; k < c->nh; k++) {
            spec_tok(f, c->hn[k]);
            spec_tok(f, c->hv[k]);
        }
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
    char *path = t_write_temp("spec.txt", spec, specn);
    free(spec);
    char *outp = t_python(s_botocore_runner, path, (char *)NULL);
    free(path);

    char *line = outp;
    for (size_t i = 0; i < s->n; i++) {
        struct vcase *c = &s->c[i];
        assert_non_null(line);
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        char *fld[4];
        fld[0] = line;
        for (int k = 1; k < 4; k++) {
            char *tab = strchr(fld[k - 1], '\t');
            assert_non_null(tab);
            *tab = 0;
            fld[k] = tab + 1;
        }
        snprintf(c->bc_auth, sizeof(c->bc_auth), "%s", fld[0]);
        size_t hl = strlen(fld[1]);
        c->bc_cr = malloc(hl / 2 + 1);
        assert_non_null(c->bc_cr);
        for (size_t k = 0; k < hl / 2; k++) {
            unsigned v = 0;
            assert_int_equal(sscanf(fld[1] + 2 * k, "%2x", &v), 1);
            c->bc_cr[k] = (char)v;
        }
        c->bc_cr[hl / 2] = 0;
        snprintf(c->bc_date, sizeof(c->bc_date), "%s", fld[2]);
        snprintf(c->bc_token, sizeof(c->bc_token), "%s", fld[3]);
        line = nl + 1;
    }
    free(outp);
}

static void vset_free(struct vset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->c[i].body_path);
        free(s->c[i].bc_cr);
    }
    free(s->c);
    memset(s, 0, sizeof(*s));
}

/* Builds the floe request for a case: Host first, then the case's headers. */
static size_t vc_request(const struct vcase *c, struct floe_sigv4_header *hs, char *query,
                         size_t qcap, struct floe_sigv4_request *req)
{
    size_t n = 0;
    hs[n++] = (struct floe_sigv4_header){"Host", c->host};
    for (size_t k = 0; k < c->nh; k++)
        hs[n++] = (struct floe_sigv4_header){c->hn[k], c->hv[k]};
    vc_c_query(c, query, qcap);
    *req = (struct floe_sigv4_request){
        .method = c->method,
        .path = c->path,
        .query = query,
        .headers = hs,
        .nheaders = n,
        .payload_sha256_hex = c->hash_in_header ? NULL
                              : c->body_path    ? c->body_sha
                                                : EMPTY_SHA,
    };
    return n;
}

struct keyring {
    const char *akid;
    const char *secret;
};

static int lookup_one(const char *akid, char *secret_out, size_t cap, void *user)
{
    const struct keyring *k = user;
    if (strcmp(akid, k->akid) != 0)
        return -1;
    snprintf(secret_out, cap, "%s", k->secret);
    return 0;
}

/*
 * For each case: floe's canonical request and Authorization equal botocore's byte for byte,
 * and floe_sigv4_verify() accepts the botocore-signed request as a server would receive it.
 */
static void check_against_botocore(struct vset *s)
{
    run_botocore(s);
    for (size_t i = 0; i < s->n; i++) {
        const struct vcase *c = &s->c[i];
        struct floe_sigv4_header hs[MAXH + 8];
        char query[2048];
        struct floe_sigv4_request req;
        size_t n = vc_request(c, hs, query, sizeof(query), &req);
        struct floe_sigv4_credentials cred = {c->akid, c->secret, c->token};
        struct floe_sigv4_signed out;
        struct floe_error err = {0};
        int rc = floe_sigv4_sign(&req, &cred, c->region, c->service, (time_t)c->when, &out, &err);
        if (rc)
            fprintf(stderr, "case %s: %s\n", c->name, err.message);
        assert_int_equal(rc, FLOE_OK);
        assert_string_equal(out.amz_date, c->bc_date);

        /* canonical request with the headers sign adds, for a readable diff on failure */
        hs[n++] = (struct floe_sigv4_header){"X-Amz-Date", out.amz_date};
        if (c->token[0])
            hs[n++] = (struct floe_sigv4_header){"X-Amz-Security-Token", c->token};
        req.nheaders = n;
        char *cr = NULL;
        assert_int_equal(floe_sigv4_canonical_request(&req, NULL, &cr, &err), FLOE_OK);
        if (strcmp(cr, c->bc_cr) != 0)
            fprintf(stderr, "case %s: canonical request differs\n--- floe\n%s\n--- botocore\n%s\n",
                    c->name, cr, c->bc_cr);
        assert_string_equal(cr, c->bc_cr);
        free(cr);
        if (strcmp(out.authorization, c->bc_auth) != 0)
            fprintf(stderr, "case %s\n", c->name);
        assert_string_equal(out.authorization, c->bc_auth);
        if (c->token[0]) {
            assert_string_equal(out.security_token, c->bc_token);
        } else {
            assert_null(out.security_token);
            assert_string_equal(c->bc_token, "-");
        }

        /* the server side: everything received, including unsigned extras */
        hs[n++] = (struct floe_sigv4_header){"User-Agent", "Botocore/1.43.11"};
        hs[n++] = (struct floe_sigv4_header){"Content-Length", "123"};
        req.nheaders = n;
        struct keyring kr = {c->akid, c->secret};
        struct floe_sigv4_verify_opts vo = {.region = c->region,
                                            .service = c->service,
                                            .now = (time_t)c->when + 60,
                                            .lookup = lookup_one,
                                            .user = &kr};
        struct floe_sigv4_verdict v;
        rc = floe_sigv4_verify(&req, c->bc_auth, &vo, &v, &err);
        if (rc)
            fprintf(stderr, "case %s: verify: %s\n", c->name, err.message);
        assert_int_equal(rc, FLOE_OK);
        assert_int_equal(v.reason, FLOE_SIGV4_OK);
        assert_string_equal(v.access_key_id, c->akid);
        assert_string_equal(v.amz_date, c->bc_date);
    }
}

static void test_sigv4_matches_botocore_operations(void **state)
{
    (void)state;
    struct vset s = {0};
    struct vcase *c;

    c = vc_new(&s, "CreateVault");
    vc_target(c, "PUT", "/-/vaults/examplevault", NULL);
    vc_header(c, "x-amz-glacier-version", "2012-06-01");

    c = vc_new(&s, "ListVaults url-style marker/limit");
    vc_target(c, "GET", "/-/vaults",
              "marker=arn%3Aaws%3Aglacier%3Aus-west-2%3A012345678901%3Avaults%2Fexamplevault"
              "&limit=10");
    vc_header(c, "x-amz-glacier-version", "2012-06-01");

    c = vc_new(&s, "ListVaults params-style");
    vc_target(c, "GET", "/012345678901/vaults", NULL);
    vc_param(c, "marker", "arn:aws:glacier:us-west-2:012345678901:vaults/examplevault");
    vc_param(c, "limit", "10");
    vc_header(c, "x-amz-glacier-version", "2012-06-01");

    static char small[3000];
    t_fill_random(small, sizeof(small));
    c = vc_new(&s, "UploadArchive");
    vc_target(c, "POST", "/-/vaults/examplevault/archives", NULL);
    vc_header(c, "x-amz-glacier-version", "2012-06-01");
    vc_header(c, "x-amz-sha256-tree-hash",
              "beb0fe31a1c7ca8c6c04d574ea906e3f97b31fdca7571defb5b44dca89b5af60");
    vc_header(c, "x-amz-archive-description", "  my   archive\tdescription  ");
    vc_body(c, small, sizeof(small), true);

    size_t part = 4u << 20;
    char *big = malloc(part);
    assert_non_null(big);
    t_fill_random(big, part);
    c = vc_new(&s, "UploadMultipartPart");
    snprintf(c->region, sizeof(c->region), "eu-central-1");
    snprintf(c->host, sizeof(c->host), "glacier.eu-central-1.amazonaws.com");
    vc_target(c, "PUT",
              "/012345678901/vaults/my.vault_name-1/multipart-uploads/"
              "OW2fM5iVylEpFEMM9_HpKowRapC3vn5sSL39_396UW9zLFUWVrnRHaPjUJddQ5OxSHVXjYtrN47NBZ-"
              "khxOjyEXAMPLE",
              NULL);
    vc_header(c, "x-amz-glacier-version", "2012-06-01");
    vc_header(c, "Content-Range", "bytes 0-4194303/*");
    vc_header(c, "Content-Type", "application/octet-stream");
    vc_header(c, "x-amz-sha256-tree-hash",
              "c06f7cd4baacb087002a99a5f48bf953d1e0a7a7d4e8fb23a0b1d0c3e3c6c1b7");
    vc_body(c, big, part, true);
    free(big);

    const char *job = "{\"Type\": \"archive-retrieval\", \"ArchiveId\": "
                      "\"NkbByEejwEggmBz2fTHgJrg0XBoDfjP4q6iu87-TjhqG6eGoOY9Z8i1_AUyUsuhPAdTqLHy8"
                      "pTl5nfCFJmDl2yEZONi5L26Omw12vcs01MNGntHEQL8MBfGlqrEXAMPLEArchiveId\", "
                      "\"Tier\": \"Bulk\", \"Description\": \"My archive description\"}";
    c = vc_new(&s, "InitiateJob");
    snprintf(c->region, sizeof(c->region), "ap-southeast-2");
    snprintf(c->host, sizeof(c->host), "glacier.ap-southeast-2.amazonaws.com");
    vc_target(c, "POST", "/-/vaults/examplevault/jobs", NULL);
    vc_header(c, "x-amz-glacier-version", "2012-06-01");
    vc_header(c, "Content-Type", "application/json");
    vc_body(c, job, strlen(job), false);

    c = vc_new(&s, "ListJobs url-style");
    vc_target(c, "GET", "/-/vaults/examplevault/jobs",
              "completed=true&limit=2&statuscode=Succeeded");
    vc_header(c, "x-amz-glacier-version", "2012-06-01");

    c = vc_new(&s, "ListJobs params-style shuffled");
    vc_target(c, "GET", "/-/vaults/examplevault/jobs", NULL);
    vc_param(c, "statuscode", "Succeeded");
    vc_param(c, "limit", "2");
    vc_param(c, "completed", "true");
    vc_header(c, "x-amz-glacier-version", "2012-06-01");

    const char *tags = "{\"Tags\": {\"examplekey1\": \"examplevalue1\", \"k 2\": \"\"}}";
    c = vc_new(&s, "AddTagsToVault");
    vc_target(c, "POST", "/-/vaults/examplevault/tags", "operation=add");
    vc_header(c, "x-amz-glacier-version", "2012-06-01");
    vc_header(c, "Content-Type", "application/json");
    vc_body(c, tags, strlen(tags), false);

    c = vc_new(&s, "RemoveTagsFromVault params-style");
    vc_target(c, "POST", "/-/vaults/examplevault/tags", NULL);
    vc_param(c, "operation", "remove");
    vc_header(c, "x-amz-glacier-version", "2012-06-01");
    vc_body(c, "{\"TagKeys\": [\"a\"]}", 18, false);

    c = vc_new(&s, "DeleteArchive id starting with '-', empty body");
    vc_target(c, "DELETE",
              "/-/vaults/examplevault/archives/-NkbByEejwEggmBz2fTHgJrg0XBoDfjP4q6iu87-"
              "TjhqG6eGoOY9Z8i1_AUyUsuhPAdTqLHy8pTl5nfCFJmDl2yEZONi5L26Omw12vcs01MNGntHEQL8MBfGl"
              "qrEXAMPLEArchiveId",
              NULL);
    vc_header(c, "x-amz-glacier-version", "2012-06-01");
    vc_body(c, "", 0, false);

    c = vc_new(&s, "GetJobOutput range, port, http");
    snprintf(c->scheme, sizeof(c->scheme), "http");
    snprintf(c->host, sizeof(c->host), "127.0.0.1:5555");
    vc_target(c, "GET",
              "/-/vaults/v/jobs/HkF9p6o7yjhFx-K3CGl6fuSm6VzW9T7esGQfco8nUXVYwS0jlb5gq1JZ55yHgt5v"
              "P54ZShjoQzQVVh7vEXAMPLEjobID/output",
              NULL);
    vc_header(c, "x-amz-glacier-version", "2012-06-01");
    vc_header(c, "Range", "bytes=0-1048575");

    check_against_botocore(&s);
    vset_free(&s);
}

static void test_sigv4_matches_botocore_encoding_and_headers(void **state)
{
    (void)state;
    struct vset s = {0};
    struct vcase *c;

    c = vc_new(&s, "params: reserved chars, unicode, tilde");
    vc_target(c, "GET", "/-/vaults/v/jobs", NULL);
    vc_param(c, "marker", "a b/c+d=e&f~g?h#i%j");
    vc_param(c, "limit", "5");
    vc_param(c, "x", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80");
    vc_param(c, "a-b", "1");
    vc_param(c, "a", "2");
    vc_param(c, "dup", "z");
    vc_param(c, "dup", "a");
    vc_param(c, "empty", "");
    vc_param(c, "k\xc3\xa9y", "v");

    c = vc_new(&s, "url: already-encoded reserved chars");
    vc_target(c, "GET", "/-/vaults/v/jobs",
              "marker=a%20b%2Fc%2Bd%3De%26f~g%C3%A9&limit=2&x=%E4%B8%AD");

    c = vc_new(&s, "url: raw oddities are sorted, not re-encoded");
    vc_target(c, "GET", "/-/vaults", "b=2&a=1&a=0&c&=x&d=a/b&e=%2f%2F&f=x=y&a-b=3&plus=a+b&&");

    c = vc_new(&s, "path: dot segments, double slashes, trailing slash");
    vc_target(c, "GET", "/-/vaults/./a//b/../c/", NULL);

    c = vc_new(&s, "path: encoded slash and reserved chars are encoded again");
    vc_target(c, "GET", "/-/vaults/a%2Fb%20c/~x!$&'()*+,;=:@", NULL);

    c = vc_new(&s, "path: root");
    vc_target(c, "GET", "/", NULL);

    /* past the signer's stack buffers (sigv4.c: 4 KiB canonical request, 512 B signed-header
     * list, 32 path segments, 16 query pairs, 16 headers): the heap takes over, same bytes */
    c = vc_new(&s, "sizes: canonical request over 4 KiB, 40 segments, 20 pairs, 22 headers");
    {
        char path[512] = "", query[1024] = "";
        size_t pn = 0, qn = 0;
        for (int i = 0; i < 40; i++)
            pn += (size_t)snprintf(path + pn, sizeof(path) - pn, "/s%d", i);
        for (int i = 0; i < 20; i++)
            qn += (size_t)snprintf(query + qn, sizeof(query) - qn, "%sq%02d=%d", i ? "&" : "",
                                   19 - i, i);
        vc_target(c, "PUT", path, query);
        for (int i = 0; i < 22; i++) {
            char name[64], value[256];
            snprintf(name, sizeof(name), "x-amz-meta-header-number-%02d", i);
            memset(value, 'a' + i % 26, 250);
            value[250] = 0;
            vc_header(c, name, value);
        }
    }

    c = vc_new(&s, "path: .. above root");
    vc_target(c, "GET", "/../../a/..", NULL);

    c = vc_new(&s, "path: only dots and slashes with trailing slash");
    vc_target(c, "GET", "//.//./", NULL);

    c = vc_new(&s, "headers: case, duplicates, blocklist, blanks");
    vc_target(c, "PUT", "/-/vaults/v", NULL);
    vc_header(c, "X-Amz-Glacier-Version", "2012-06-01");
    vc_header(c, "X-Amz-Meta-Dup", "  first  value ");
    vc_header(c, "User-Agent", "floe/0.1");
    vc_header(c, "x-amz-meta-dup", "second");
    vc_header(c, "Expect", "100-continue");
    vc_header(c, "Connection", "keep-alive");
    vc_header(c, "X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793");
    vc_header(c, "Transfer-Encoding", "chunked");
    vc_header(c, "Keep-Alive", "timeout=5");
    vc_header(c, "Proxy-Authorization", "Basic Zm9vOmJhcg==");
    vc_header(c, "TE", "trailers");
    vc_header(c, "Upgrade", "h2c");
    vc_header(c, "Trailer", "x");
    vc_header(c, "Proxy-Authenticate", "Basic");
    vc_header(c, "x-empty", "");
    vc_header(c, "x-blank", "   \t ");
    vc_header(c, "x-tabs", "a\t\tb \t c");
    vc_header(c, "x-a_b.c~d!#$%&'*+^`|", "tchars");
    vc_header(c, "x-amz-meta-dup", "third,with,commas");

    c = vc_new(&s, "session token");
    snprintf(c->token, sizeof(c->token),
             "FwoGZXIvYXdzEJr//////////wEaDK1+abc/def+ghi=IQoJb3JpZ2luX2VjEKT==");
    vc_target(c, "GET", "/-/vaults", NULL);
    vc_header(c, "x-amz-glacier-version", "2012-06-01");

    static const char *const regions[] = {"us-west-2", "eu-west-1", "cn-north-1", "us-gov-west-1",
                                          "ap-northeast-3"};
    for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
        c = vc_new(&s, regions[i]);
        snprintf(c->region, sizeof(c->region), "%s", regions[i]);
        snprintf(c->host, sizeof(c->host), "glacier.%s.amazonaws.com", regions[i]);
        vc_target(c, "GET", "/012345678901/vaults/examplevault", NULL);
        vc_header(c, "x-amz-glacier-version", "2012-06-01");
    }

    c = vc_new(&s, "other service and key");
    snprintf(c->service, sizeof(c->service), "my_service.x-1");
    snprintf(c->akid, sizeof(c->akid), "test-key_1.a");
    snprintf(c->secret, sizeof(c->secret), "s3cr3t+/=~!");
    vc_target(c, "post", "/", "Action=ListUsers&Version=2010-05-08");

    static const long long times[] = {
        0LL, 951782399LL /* 2000-02-28T23:59:59 */, 1709251199LL /* 2024-02-29T23:59:59 */,
        4102444799LL /* 2099-12-31T23:59:59 */, 253402300799LL /* 9999-12-31T23:59:59 */};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        c = vc_new(&s, "times");
        c->when = times[i];
        vc_target(c, "GET", "/-/vaults", NULL);
    }

    /* a large payload hashed from the body, not from a header */
    size_t n = (3u << 20) + (size_t)t_rand_below(1u << 20);
    char *buf = malloc(n);
    assert_non_null(buf);
    t_fill_random(buf, n);
    c = vc_new(&s, "large payload from body");
    vc_target(c, "PUT", "/-/vaults/v/multipart-uploads/abc", NULL);
    vc_header(c, "Content-Range", "bytes 0-1/*");
    vc_body(c, buf, n, false);
    free(buf);

    check_against_botocore(&s);
    vset_free(&s);
}

static void rand_str(char *out, size_t len, const char *alphabet)
{
    size_t an = strlen(alphabet);
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[t_rand_below(an)];
    out[len] = 0;
}

/* Random requests within the accepted input space, seeded (see t_seed()). */
static void test_sigv4_matches_botocore_random(void **state)
{
    (void)state;
    static const char *const segs[] = {"-",     "vaults", ".",   "..",    "",    "%2F",
                                       "a%20b", "~x",     "a.b", "A_Z",   "%25", "!$&",
                                       "()*",   "+,;=:@", "..a", "%c3%a9"};
    static const char qalpha[] = "abcXYZ019-_.~%2F=&+!$'()*,;:@/?[]";
    static const char valpha[] = "abc XYZ 019\t-_.~%=&+!\"$'()*,;:@/?[]{}<>\\^`|  ";
    static const char talpha[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.!#$%&'*+^`|~";
    static const char *const ptok[] = {"a", "b", " ", "Z", "9",        "-",
                                       "_", ".", "~", "/", "+",        "=",
                                       "&", "?", "#", "%", "\xc3\xa9", "\xe4\xb8\xad"};
    struct vset s = {0};
    for (int i = 0; i < 40; i++) {
        struct vcase *c = vc_new(&s, "random");
        static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "HEAD"};
        snprintf(c->method, sizeof(c->method), "%s", methods[t_rand_below(5)]);
        size_t o = 0, nseg = 1 + t_rand_below(6);
        for (size_t k = 0; k < nseg; k++)
            o += (size_t)snprintf(c->path + o, sizeof(c->path) - o, "/%s",
                                  segs[t_rand_below(sizeof(segs) / sizeof(segs[0]))]);
        if (t_rand_below(3) == 0)
            snprintf(c->path + o, sizeof(c->path) - o, "/");
        if (t_rand_below(2)) {
            size_t np = t_rand_below(6);
            for (size_t k = 0; k < np; k++) {
                char kv[2][40];
                for (int w = 0; w < 2; w++) {
                    size_t len = (w == 0) + t_rand_below(8), o2 = 0;
                    for (size_t q = 0; q < len; q++)
                        o2 += (size_t)snprintf(kv[w] + o2, sizeof(kv[w]) - o2, "%s",
                                               ptok[t_rand_below(sizeof(ptok) / sizeof(ptok[0]))]);
                    kv[w][o2] = 0;
                }
                vc_param(c, kv[0], kv[1]);
            }
        } else if (t_rand_below(4)) {
            rand_str(c->query, t_rand_below(40), qalpha);
        }
        size_t nh = t_rand_below(8);
        for (size_t k = 0; k < nh; k++) {
            char nn[64], vv[64];
            memcpy(nn, "x-r-", 4);
            rand_str(nn + 4, 1 + t_rand_below(8), talpha);
            if (t_rand_below(3) == 0 && k)
                snprintf(nn, sizeof(nn), "%s", c->hn[t_rand_below(k)]); /* duplicate name */
            rand_str(vv, t_rand_below(30), valpha);
            vc_header(c, nn, vv);
        }
        c->when = (long long)t_rand_below(4102444800ULL);
        if (t_rand_below(4) == 0)
            snprintf(c->token, sizeof(c->token),
                     "tok/%llu+=", (unsigned long long)t_rand_below(1000000));
        if (t_rand_below(3) == 0) {
            char body[64];
            size_t bn = t_rand_below(sizeof(body));
            t_fill_random(body, bn);
            vc_body(c, body, bn, t_rand_below(2));
        }
    }
    check_against_botocore(&s);
    vset_free(&s);
}

/* ------------------------------------------------------------------------------------------
 * Signing input checks
 * ---------------------------------------------------------------------------------------- */

struct sign_bad {
    const char *what;
    const char *method, *path, *query;
    const char *hname, *hvalue; /* one extra header, or NULL */
    const char *payload;
    const char *region, *akid, *token;
    long long when;
    const char *expect; /* substring of the message */
};

static void test_sigv4_sign_rejects_bad_input(void **state)
{
    (void)state;
    static const struct sign_bad cases[] = {
        {"empty method", "", "/", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "HTTP method is empty"},
        {"method with space", "GE T", "/", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "HTTP method contains a space at offset 2"},
        {"relative path", "GET", "-/vaults", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "request path '-/vaults' does not start with '/'"},
        {"empty path", "GET", "", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "request path is empty"},
        {"raw space in path", "GET", "/a b", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "request path contains a space at offset 2"},
        {"unicode path", "GET", "/caf\xc3\xa9", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "request path contains non-ASCII byte 0xC3 at offset 4"},
        {"fragment", "GET", "/a#b", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "request path contains '#' at offset 2"},
        {"query in path", "GET", "/a?b=1", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "request path contains '?' at offset 2"},
        {"control in query", "GET", "/", "a=\x01", NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "query string contains control character 0x01 at offset 2"},
        {"unicode in query", "GET", "/", "a=\xc3\xa9", NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, 0,
         "query string contains non-ASCII byte 0xC3 at offset 2"},
        {"newline in header", "GET", "/", NULL, "x-a", "1\r\nx-b: 2", EMPTY_SHA, NULL, NULL, NULL,
         0, "header 'x-a' value contains control character 0x0D at offset 1"},
        {"unicode header value", "GET", "/", NULL, "x-a", "caf\xc3\xa9", EMPTY_SHA, NULL, NULL,
         NULL, 0, "header 'x-a' value contains non-ASCII byte 0xC3 at offset 3"},
        {"DEL in header value", "GET", "/", NULL, "x-a", "a\x7f", EMPTY_SHA, NULL, NULL, NULL, 0,
         "header 'x-a' value contains control character 0x7F at offset 1"},
        {"unicode header name", "GET", "/", NULL, "x-\xc3\xa9", "1", EMPTY_SHA, NULL, NULL, NULL, 0,
         "header #2 name 'x-?\?' contains non-ASCII byte 0xC3 at offset 2"},
        {"colon in header name", "GET", "/", NULL, "x:a", "1", EMPTY_SHA, NULL, NULL, NULL, 0,
         "header #2 name 'x:a' contains ':' at offset 1"},
        {"empty header name", "GET", "/", NULL, "", "1", EMPTY_SHA, NULL, NULL, NULL, 0,
         "header #2 has an empty name"},
        {"x-amz-date given", "GET", "/", NULL, "X-Amz-Date", "20120525T002453Z", EMPTY_SHA, NULL,
         NULL, NULL, 0, "header 'X-Amz-Date' must not be passed"},
        {"date given", "GET", "/", NULL, "Date", "Fri, 25 May 2012 00:24:53 GMT", EMPTY_SHA, NULL,
         NULL, NULL, 0, "header 'Date' must not be passed"},
        {"authorization given", "GET", "/", NULL, "Authorization", "x", EMPTY_SHA, NULL, NULL, NULL,
         0, "header 'Authorization' must not be passed"},
        {"token header given", "GET", "/", NULL, "x-amz-security-token", "t", EMPTY_SHA, NULL, NULL,
         NULL, 0, "header 'x-amz-security-token' must not be passed"},
        {"second host", "GET", "/", NULL, "HOST", "h2", EMPTY_SHA, NULL, NULL, NULL, 0,
         "request has 2 Host headers"},
        {"no payload hash", "GET", "/", NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,
         "no payload hash"},
        {"UNSIGNED-PAYLOAD", "GET", "/", NULL, NULL, NULL, "UNSIGNED-PAYLOAD", NULL, NULL, NULL, 0,
         "payload hash is UNSIGNED-PAYLOAD, which Glacier does not accept"},
        {"streaming header", "PUT", "/", NULL, "x-amz-content-sha256",
         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", NULL, NULL, NULL, NULL, 0,
         "x-amz-content-sha256 header is STREAMING-AWS4-HMAC-SHA256-PAYLOAD: chunked"},
        {"upper-case hash", "GET", "/", NULL, NULL, NULL,
         "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", NULL, NULL, NULL, 0,
         "is not 64 lower-case hex digits (offset 0)"},
        {"short hash", "GET", "/", NULL, NULL, NULL, "abc", NULL, NULL, NULL, 0,
         "payload hash 'abc' is 3 characters; it must be 64 lower-case hex digits"},
        {"hash conflict", "PUT", "/", NULL, "x-amz-content-sha256",
         "726e392cb4d09924dbad1cc0ba3b00c3643d03d14cb4b823e2f041cff612a628", EMPTY_SHA, NULL, NULL,
         NULL, 0, "differs from the payload hash"},
        {"region with slash", "GET", "/", NULL, NULL, NULL, EMPTY_SHA, "us/east", NULL, NULL, 0,
         "region 'us/east' contains '/' at offset 2"},
        {"empty region", "GET", "/", NULL, NULL, NULL, EMPTY_SHA, "", NULL, NULL, 0,
         "region is empty"},
        {"key with space", "GET", "/", NULL, NULL, NULL, EMPTY_SHA, NULL, "AK ID", NULL, 0,
         "access key id 'AK ID' contains a space at offset 2"},
        {"token with newline", "GET", "/", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, "a\nb", 0,
         "session token: header 'x-amz-security-token' value contains control character 0x0A"},
        {"time before 1970", "GET", "/", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL, -1,
         "signing time -1 is outside 1970-01-01 .. 9999-12-31"},
        {"time after 9999", "GET", "/", NULL, NULL, NULL, EMPTY_SHA, NULL, NULL, NULL,
         253402300800LL, "signing time 253402300800 is outside"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct sign_bad *b = &cases[i];
        struct floe_sigv4_header hs[3] = {
            {"Host", "glacier.us-east-1.amazonaws.com"},
            {"x-amz-glacier-version", "2012-06-01"},
            {b->hname, b->hvalue},
        };
        struct floe_sigv4_request req = {.method = b->method,
                                         .path = b->path,
                                         .query = b->query,
                                         .headers = hs,
                                         .nheaders = b->hname ? 3 : 2,
                                         .payload_sha256_hex = b->payload};
        struct floe_sigv4_credentials cred = {b->akid ? b->akid : AKID, SECRET, b->token};
        struct floe_sigv4_signed out, before;
        memset(&out, 0xab, sizeof(out));
        before = out;
        struct floe_error err = {0};
        int rc = floe_sigv4_sign(&req, &cred, b->region ? b->region : "us-east-1", "glacier",
                                 b->when ? (time_t)b->when : T_20120525, &out, &err);
        if (rc != FLOE_E_INVALID_ARG || !strstr(err.message, b->expect))
            fprintf(stderr, "case '%s': rc %d, message '%s'\n", b->what, rc, err.message);
        assert_int_equal(rc, FLOE_E_INVALID_ARG);
        assert_int_equal(err.status, FLOE_E_INVALID_ARG);
        assert_non_null(strstr(err.message, b->expect));
        assert_memory_equal(&out, &before, sizeof(out)); /* untouched on failure */
    }

    /* no Host at all; empty secret; NULL arguments */
    struct floe_sigv4_header h1 = {"x-amz-glacier-version", "2012-06-01"};
    struct floe_sigv4_request req = {.method = "GET",
                                     .path = "/",
                                     .headers = &h1,
                                     .nheaders = 1,
                                     .payload_sha256_hex = EMPTY_SHA};
    struct floe_sigv4_credentials cred = {AKID, SECRET, NULL};
    struct floe_sigv4_signed out;
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", 0, &out, &err),
                     FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "request has no Host header"));
    struct floe_sigv4_header h2 = {"host", "h"};
    req.headers = &h2;
    cred.secret_access_key = "";
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", 0, &out, &err),
                     FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "secret access key is empty");
    cred.secret_access_key = SECRET;
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", 0, &out, &err), FLOE_OK);
    assert_string_equal(out.amz_date, "19700101T000000Z");
    assert_int_equal(floe_sigv4_sign(NULL, &cred, "us-east-1", "glacier", 0, &out, &err),
                     FLOE_E_INVALID_ARG);
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", 0, NULL, NULL),
                     FLOE_E_INVALID_ARG);
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", NULL, 0, &out, &err),
                     FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "service is empty");

    /* canonical_request: a listed header that is absent */
    char *cr = (char *)"untouched";
    assert_int_equal(floe_sigv4_canonical_request(&req, "host;x-amz-foo", &cr, &err),
                     FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "header 'x-amz-foo' is listed in SignedHeaders but was not "
                                     "sent");
    assert_string_equal(cr, "untouched");
    assert_int_equal(floe_sigv4_canonical_request(&req, "x-amz-foo;host", &cr, &err),
                     FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "not sorted"));
}

/* Too many header names for the SignedHeaders buffer is reported, not truncated. */
static void test_sigv4_sign_rejects_oversized_signed_headers(void **state)
{
    (void)state;
    enum { N = 40 };
    static char names[N][40];
    struct floe_sigv4_header hs[N + 1];
    hs[0] = (struct floe_sigv4_header){"host", "h"};
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "x-amz-meta-a-rather-long-header-name-%02d", i);
        hs[i + 1] = (struct floe_sigv4_header){names[i], "v"};
    }
    struct floe_sigv4_request req = {.method = "GET",
                                     .path = "/",
                                     .headers = hs,
                                     .nheaders = N + 1,
                                     .payload_sha256_hex = EMPTY_SHA};
    struct floe_sigv4_credentials cred = {AKID, SECRET, NULL};
    struct floe_sigv4_signed out;
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", 0, &out, &err),
                     FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "signed header names total"));
    req.nheaders = 20; /* fits */
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", 0, &out, &err), FLOE_OK);
}

/* ------------------------------------------------------------------------------------------
 * Verification
 * ---------------------------------------------------------------------------------------- */

/* A request floe signed, as the server receives it. */
struct rt {
    struct floe_sigv4_header hs[16];
    struct floe_sigv4_request req;
    struct floe_sigv4_signed sig;
    struct keyring kr;
    struct floe_sigv4_verify_opts opts;
    char host[64], version[16], desc[64], path[128], query[128], date[20];
};

static void rt_make(struct rt *r, const char *token)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->host, sizeof(r->host), "glacier.us-east-1.amazonaws.com");
    snprintf(r->version, sizeof(r->version), "2012-06-01");
    snprintf(r->desc, sizeof(r->desc), "a  description");
    snprintf(r->path, sizeof(r->path), "/-/vaults/examplevault/jobs");
    snprintf(r->query, sizeof(r->query), "completed=true&limit=2&statuscode=Succeeded");
    size_t n = 0;
    r->hs[n++] = (struct floe_sigv4_header){"Host", r->host};
    r->hs[n++] = (struct floe_sigv4_header){"x-amz-glacier-version", r->version};
    r->hs[n++] = (struct floe_sigv4_header){"x-amz-archive-description", r->desc};
    r->hs[n++] = (struct floe_sigv4_header){"User-Agent", "floe/0.1"};
    r->req = (struct floe_sigv4_request){.method = "GET",
                                         .path = r->path,
                                         .query = r->query,
                                         .headers = r->hs,
                                         .nheaders = n,
                                         .payload_sha256_hex = EMPTY_SHA};
    struct floe_sigv4_credentials cred = {AKID, SECRET, token};
    struct floe_error err = {0};
    assert_int_equal(
        floe_sigv4_sign(&r->req, &cred, "us-east-1", "glacier", T_20120525, &r->sig, &err),
        FLOE_OK);
    snprintf(r->date, sizeof(r->date), "%s", r->sig.amz_date);
    r->hs[n++] = (struct floe_sigv4_header){"X-Amz-Date", r->date};
    if (r->sig.security_token)
        r->hs[n++] = (struct floe_sigv4_header){"X-Amz-Security-Token", r->sig.security_token};
    r->hs[n++] = (struct floe_sigv4_header){"Content-Length", "0"};
    r->req.nheaders = n;
    r->kr = (struct keyring){AKID, SECRET};
    r->opts = (struct floe_sigv4_verify_opts){.region = "us-east-1",
                                              .service = "glacier",
                                              .now = T_20120525,
                                              .lookup = lookup_one,
                                              .user = &r->kr};
}

/* Verifies and checks the reason, the error's code/status and a message substring. */
static void expect_verdict(struct rt *r, const char *auth, enum floe_sigv4_reason reason,
                           const char *msg)
{
    struct floe_sigv4_verdict v;
    struct floe_error err = {0};
    int rc = floe_sigv4_verify(&r->req, auth, &r->opts, &v, &err);
    if (v.reason != reason || (msg && !strstr(err.message, msg)))
        fprintf(stderr, "expected %s, got %s: '%s'\n", floe_sigv4_reason_name(reason),
                floe_sigv4_reason_name(v.reason), err.message);
    assert_int_equal(v.reason, reason);
    if (reason == FLOE_SIGV4_OK) {
        assert_int_equal(rc, FLOE_OK);
        return;
    }
    assert_int_equal(rc, FLOE_E_AUTH);
    assert_int_equal(err.status, FLOE_E_AUTH);
    int http = 0;
    assert_string_equal(err.code, floe_sigv4_reason_glacier_error(reason, &http));
    assert_int_equal(err.http_status, http);
    if (msg)
        assert_non_null(strstr(err.message, msg));
}

static void test_sigv4_verify_round_trip(void **state)
{
    (void)state;
    struct rt r;
    rt_make(&r, NULL);
    struct floe_sigv4_verdict v;
    memset(&v, 0xab, sizeof(v));
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_verify(&r.req, r.sig.authorization, &r.opts, &v, &err), FLOE_OK);
    assert_int_equal(v.reason, FLOE_SIGV4_OK);
    assert_string_equal(v.access_key_id, AKID);
    assert_string_equal(v.amz_date, "20120525T002453Z");

    /* what is not signed may change: an unsigned header, the query order, header name case,
     * white space inside a signed value, surrounding white space of the Authorization */
    r.hs[3].value = "curl/8";
    snprintf(r.query, sizeof(r.query), "statuscode=Succeeded&limit=2&completed=true");
    r.hs[1].name = "X-AMZ-GLACIER-VERSION";
    snprintf(r.desc, sizeof(r.desc), " a \t description ");
    char auth[2100];
    snprintf(auth, sizeof(auth), "  %s \t", r.sig.authorization);
    expect_verdict(&r, auth, FLOE_SIGV4_OK, NULL);

    /* with a session token, which is then signed */
    rt_make(&r, "token/with+chars=");
    assert_non_null(strstr(r.sig.authorization, "x-amz-security-token"));
    assert_string_equal(r.sig.security_token, "token/with+chars=");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_OK, NULL);
    r.hs[5].value = "other-token";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, NULL);
}

static void test_sigv4_verify_detects_tampering(void **state)
{
    (void)state;
    struct rt r;
    const char *mm = "The request signature we calculated does not match the signature you "
                     "provided.";

    rt_make(&r, NULL);
    snprintf(r.version, sizeof(r.version), "2012-06-02");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    rt_make(&r, NULL);
    snprintf(r.desc, sizeof(r.desc), "another description");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    rt_make(&r, NULL);
    snprintf(r.path, sizeof(r.path), "/-/vaults/othervault/jobs");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH,
                   "The String-to-Sign should have been 'AWS4-HMAC-SHA256\n20120525T002453Z\n"
                   "20120525/us-east-1/glacier/aws4_request\n");

    rt_make(&r, NULL);
    snprintf(r.query, sizeof(r.query), "completed=true&limit=3&statuscode=Succeeded");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    rt_make(&r, NULL);
    r.req.query = NULL;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    rt_make(&r, NULL);
    r.req.method = "DELETE";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    rt_make(&r, NULL);
    snprintf(r.host, sizeof(r.host), "glacier.us-east-1.amazonaws.com:443");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    rt_make(&r, NULL);
    r.req.payload_sha256_hex = "726e392cb4d09924dbad1cc0ba3b00c3643d03d14cb4b823e2f041cff612a628";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    /* a signed header sent twice is joined with ',' and no longer matches */
    rt_make(&r, NULL);
    r.hs[r.req.nheaders++] = (struct floe_sigv4_header){"x-amz-glacier-version", "2012-06-01"};
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    rt_make(&r, NULL);
    r.kr.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, mm);

    /* one flipped signature digit */
    rt_make(&r, NULL);
    char auth[2100];
    snprintf(auth, sizeof(auth), "%s", r.sig.authorization);
    char *last = auth + strlen(auth) - 1;
    *last = *last == '0' ? '1' : '0';
    expect_verdict(&r, auth, FLOE_SIGV4_MISMATCH, mm);
}

static void test_sigv4_verify_key_scope_and_skew(void **state)
{
    (void)state;
    struct rt r;
    char auth[2100];

    rt_make(&r, NULL);
    r.kr.akid = "AKIAOTHERKEY";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_UNKNOWN_KEY,
                   "The security token included in the request is invalid.");

    rt_make(&r, NULL);
    r.opts.region = "eu-west-1";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_BAD_SCOPE,
                   "Credential should be scoped to a valid region, not 'us-east-1'.");

    rt_make(&r, NULL);
    r.opts.service = "s3";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_BAD_SCOPE,
                   "Credential should be scoped to correct service: 's3', not 'glacier'.");

    /* the date line says another day than the scope */
    rt_make(&r, NULL);
    snprintf(r.date, sizeof(r.date), "20120526T000000Z");
    r.opts.now = T_20120525 + 86400;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_BAD_SCOPE,
                   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                   "date from HTTP: '20120525' != '20120526', from '20120526T000000Z'.");

    rt_make(&r, NULL);
    snprintf(auth, sizeof(auth), "%s", r.sig.authorization);
    memcpy(strstr(auth, "aws4_request"), "aws4_reqXest", 12);
    expect_verdict(&r, auth, FLOE_SIGV4_BAD_SCOPE,
                   "Credential should be scoped with a valid terminator: 'aws4_request', not "
                   "'aws4_reqXest'.");

    /* skew: the edges of the window pass, one second beyond fails, both directions */
    rt_make(&r, NULL);
    r.opts.now = T_20120525 + 900;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_OK, NULL);
    r.opts.now = T_20120525 - 900;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_OK, NULL);
    r.opts.now = T_20120525 + 901;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_SKEW,
                   "Signature expired: 20120525T002453Z is now earlier than 20120525T002454Z "
                   "(20120525T003954Z - 15 min.)");
    r.opts.now = T_20120525 - 901;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_SKEW,
                   "Signature not yet current: 20120525T002453Z is still later than "
                   "20120525T002452Z (20120525T000952Z + 15 min.)");
    r.opts.max_skew_s = 60;
    r.opts.now = T_20120525 + 61;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_SKEW, "(20120525T002554Z - 1 min.)");
    r.opts.max_skew_s = 90;
    r.opts.now = T_20120525 - 91;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_SKEW, "+ 90 s)");
    r.opts.now = T_20120525 - 90;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_OK, NULL);
    /* a clock far outside the formatted range still gives a verdict */
    r.opts.now = (time_t)-1000000;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_SKEW, "Signature not yet current");
}

static void test_sigv4_verify_signed_header_rules(void **state)
{
    (void)state;
    struct rt r;
    char auth[2100];
    const char *cred = "AWS4-HMAC-SHA256 Credential=" AKID "/20120525/us-east-1/glacier/"
                       "aws4_request, ";

    rt_make(&r, NULL);
    snprintf(auth, sizeof(auth),
             "%sSignedHeaders=x-amz-date;x-amz-glacier-version, "
             "Signature=" ZERO_SIG,
             cred);
    expect_verdict(&r, auth, FLOE_SIGV4_UNSIGNED_HOST_OR_DATE,
                   "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");

    snprintf(auth, sizeof(auth),
             "%sSignedHeaders=host;x-amz-glacier-version, "
             "Signature=" ZERO_SIG,
             cred);
    expect_verdict(&r, auth, FLOE_SIGV4_UNSIGNED_HOST_OR_DATE,
                   "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");

    snprintf(auth, sizeof(auth),
             "%sSignedHeaders=host;x-amz-date;x-amz-foo;"
             "x-amz-glacier-version, Signature=" ZERO_SIG,
             cred);
    expect_verdict(&r, auth, FLOE_SIGV4_HEADER_MISSING,
                   "header 'x-amz-foo' is listed in SignedHeaders but was not sent");

    /* a signed header's value must be clean; an unsigned one is not our business */
    rt_make(&r, NULL);
    r.hs[3].value = "bad\x01value\xff";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_OK, NULL);
    snprintf(r.desc, sizeof(r.desc),
             "a\x01"
             "b");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MALFORMED,
                   "header 'x-amz-archive-description' value contains control character 0x01");

    /* no date header at all, two of them, or a non-ISO one */
    rt_make(&r, NULL);
    r.hs[4].name = "X-Not-A-Date";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MALFORMED,
                   "Authorization header requires existence of either a 'X-Amz-Date' or a "
                   "'Date' header.");
    r.hs[4].name = "Date";
    r.hs[4].value = "Fri, 25 May 2012 00:24:53 GMT";
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MALFORMED,
                   "Date (without X-Amz-Date) header 'Fri, 25 May 2012 00:24:53 GMT' is not an "
                   "ISO 8601 basic UTC time");
    rt_make(&r, NULL);
    snprintf(r.date, sizeof(r.date), "20120230T000000Z");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MALFORMED,
                   "X-Amz-Date header '20120230T000000Z' is not an ISO 8601 basic UTC time");
    rt_make(&r, NULL);
    r.hs[r.req.nheaders++] = (struct floe_sigv4_header){"x-amz-date", "20120525T002453Z"};
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MALFORMED,
                   "request has 2 X-Amz-Date headers");

    /* a bad request target is malformed, not a mismatch */
    rt_make(&r, NULL);
    snprintf(r.path, sizeof(r.path), "vaults");
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MALFORMED,
                   "request path 'vaults' does not start with '/'");
}

/* Date: an ISO-basic Date header, signed by botocore's SigV4Auth internals, verifies. */
static void test_sigv4_verify_accepts_iso_date_header_from_botocore(void **state)
{
    (void)state;
    char *auth = t_python(
        "from botocore.auth import SigV4Auth\n"
        "from botocore.awsrequest import AWSRequest\n"
        "from botocore.credentials import Credentials\n"
        "r = AWSRequest(method='GET', url='https://glacier.us-east-1.amazonaws.com/-/vaults',\n"
        "               headers={'Date': '20120525T002453Z',\n"
        "                        'x-amz-glacier-version': '2012-06-01'})\n"
        "a = SigV4Auth(Credentials('" AKID "', '" SECRET "'), 'glacier', 'us-east-1')\n"
        "r.context['timestamp'] = '20120525T002453Z'\n"
        "cr = a.canonical_request(r)\n"
        "a._inject_signature_to_request(r, a.signature(a.string_to_sign(r, cr), r))\n"
        "print(r.headers['Authorization'], end='')\n",
        (char *)NULL);
    assert_non_null(strstr(auth, "SignedHeaders=date;host;x-amz-glacier-version"));
    struct floe_sigv4_header hs[] = {
        {"Host", "glacier.us-east-1.amazonaws.com"},
        {"Date", "20120525T002453Z"},
        {"x-amz-glacier-version", "2012-06-01"},
    };
    struct floe_sigv4_request req = {.method = "GET",
                                     .path = "/-/vaults",
                                     .headers = hs,
                                     .nheaders = 3,
                                     .payload_sha256_hex = EMPTY_SHA};
    struct keyring kr = {AKID, SECRET};
    struct floe_sigv4_verify_opts o = {.region = "us-east-1",
                                       .service = "glacier",
                                       .now = T_20120525,
                                       .lookup = lookup_one,
                                       .user = &kr};
    struct floe_sigv4_verdict v;
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_verify(&req, auth, &o, &v, &err), FLOE_OK);
    assert_string_equal(v.amz_date, "20120525T002453Z");
    /* Date is the date header here, so it must be the signed one */
    hs[1].value = "20120525T002454Z";
    assert_int_equal(floe_sigv4_verify(&req, auth, &o, &v, &err), FLOE_E_AUTH);
    assert_int_equal(v.reason, FLOE_SIGV4_MISMATCH);
    free(auth);
}

struct malformed {
    const char *auth;
    enum floe_sigv4_reason reason;
    const char *msg;
};

static void test_sigv4_verify_rejects_malformed_authorization(void **state)
{
    (void)state;
#define CRED "Credential=" AKID "/20120525/us-east-1/glacier/aws4_request"
#define SH "SignedHeaders=host;x-amz-date"
#define SIG "Signature=" ZERO_SIG
    static const struct malformed cases[] = {
        {NULL, FLOE_SIGV4_MISSING, "Missing Authentication Token"},
        {"", FLOE_SIGV4_MISSING, "Missing Authentication Token"},
        {" \t ", FLOE_SIGV4_MISSING, "Missing Authentication Token"},
        {"AWS4-HMAC-SHA256", FLOE_SIGV4_MALFORMED,
         "Authorization header requires 'Credential' parameter. Authorization header requires "
         "'SignedHeaders' parameter. Authorization header requires 'Signature' parameter."},
        {"AWS " AKID ":frJIUN8DYpKDtOLCwo//yllqDzg=", FLOE_SIGV4_MALFORMED,
         "Authorization algorithm 'AWS' is not supported; only AWS4-HMAC-SHA256 is accepted"},
        {"AWS4-HMAC-SHA512 " CRED ", " SH ", " SIG, FLOE_SIGV4_MALFORMED,
         "Authorization algorithm 'AWS4-HMAC-SHA512' is not supported"},
        {"Bearer abc", FLOE_SIGV4_MALFORMED, "Authorization algorithm 'Bearer'"},
        {"AWS4-HMAC-SHA256" CRED ", " SH ", " SIG, FLOE_SIGV4_MALFORMED,
         "needs a space after AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA256 " CRED ", " SIG, FLOE_SIGV4_MALFORMED,
         "Authorization header requires 'SignedHeaders' parameter."},
        {"AWS4-HMAC-SHA256 " CRED ", " SH, FLOE_SIGV4_MALFORMED,
         "Authorization header requires 'Signature' parameter."},
        {"AWS4-HMAC-SHA256 " SH ", " SIG, FLOE_SIGV4_MALFORMED,
         "Authorization header requires 'Credential' parameter."},
        {"AWS4-HMAC-SHA256 " CRED ", " CRED ", " SH ", " SIG, FLOE_SIGV4_MALFORMED,
         "Authorization header has more than one 'Credential'"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG ", Foo=bar", FLOE_SIGV4_MALFORMED,
         "Authorization component 'Foo' is not Credential, SignedHeaders or Signature"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG ",", FLOE_SIGV4_MALFORMED,
         "Authorization header ends with a ','"},
        {"AWS4-HMAC-SHA256 " CRED ",, " SH ", " SIG, FLOE_SIGV4_MALFORMED,
         "Authorization header has an empty component"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", Signature", FLOE_SIGV4_MALFORMED,
         "Authorization component 'Signature' is not Name=Value"},
        {"AWS4-HMAC-SHA256 credential=" AKID "/20120525/us-east-1/glacier/aws4_request, " SH
         ", " SIG,
         FLOE_SIGV4_MALFORMED, "Authorization component 'credential' is not Credential"},
        {"AWS4-HMAC-SHA256 Credential=" AKID "/20120525/us-east-1/glacier, " SH ", " SIG,
         FLOE_SIGV4_MALFORMED,
         "must be <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request"},
        {"AWS4-HMAC-SHA256 Credential=" AKID "/20120525/us-east-1/glacier/aws4_request/x, " SH
         ", " SIG,
         FLOE_SIGV4_MALFORMED, "must be <access key id>/<YYYYMMDD>"},
        {"AWS4-HMAC-SHA256 Credential=/20120525/us-east-1/glacier/aws4_request, " SH ", " SIG,
         FLOE_SIGV4_MALFORMED, "Credential access key id is empty"},
        {"AWS4-HMAC-SHA256 Credential=" AKID "/2012-5-25/us-east-1/glacier/aws4_request, " SH
         ", " SIG,
         FLOE_SIGV4_MALFORMED, "Credential date '2012-5-25' is not YYYYMMDD"},
        {"AWS4-HMAC-SHA256 Credential=" AKID "/20120525//glacier/aws4_request, " SH ", " SIG,
         FLOE_SIGV4_MALFORMED, "Credential region is empty"},
        {"AWS4-HMAC-SHA256 Credential=AK ID/20120525/us-east-1/glacier/aws4_request, " SH ", " SIG,
         FLOE_SIGV4_MALFORMED, "Credential access key id 'AK ID' contains a space"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=, " SIG, FLOE_SIGV4_MALFORMED,
         "SignedHeaders is empty"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=x-amz-date;host, " SIG, FLOE_SIGV4_MALFORMED,
         "SignedHeaders are not sorted: 'host' comes after 'x-amz-date'"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;host;x-amz-date, " SIG,
         FLOE_SIGV4_MALFORMED, "SignedHeaders lists 'host' twice"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=Host;x-amz-date, " SIG, FLOE_SIGV4_MALFORMED,
         "SignedHeaders name 'Host' is not lower-case"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;;x-amz-date, " SIG, FLOE_SIGV4_MALFORMED,
         "has an empty name at offset 5"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;x-amz-date;, " SIG, FLOE_SIGV4_MALFORMED,
         "has an empty name at offset 16"},
        {"AWS4-HMAC-SHA256 " CRED ", SignedHeaders=host;x:y, " SIG, FLOE_SIGV4_MALFORMED,
         "SignedHeaders 'host;x:y' contains ':' at offset 6"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", Signature=abc", FLOE_SIGV4_MALFORMED,
         "Signature 'abc' is 3 characters; it must be 64 lower-case hex digits"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=3CE5B2F2FFFAC9262B4DA9256F8D086B4AAF42EBA5F111C21681A65A127B7C2A",
         FLOE_SIGV4_MALFORMED, "is not 64 lower-case hex digits"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH
         ", Signature=3ce5b2f2fffac9262b4da9256f8d086b4aaf42eba5f111c21681a65a127b7c2g",
         FLOE_SIGV4_MALFORMED, "is not 64 lower-case hex digits"},
        {"AWS4-HMAC-SHA256 " CRED ", " SH ", " SIG "0", FLOE_SIGV4_MALFORMED, "is 65 characters"},
        /* accepted shapes: any order, no space after ',', tabs; fails only on the signature */
        {"AWS4-HMAC-SHA256 " SIG "," SH ",\t" CRED, FLOE_SIGV4_MISMATCH, NULL},
        {"AWS4-HMAC-SHA256   " CRED " ,  " SH " , " SIG "  ", FLOE_SIGV4_MISMATCH, NULL},
    };
#undef CRED
#undef SH
#undef SIG
    struct rt r;
    rt_make(&r, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct floe_sigv4_verdict v;
        struct floe_error err = {0};
        floe_sigv4_verify(&r.req, cases[i].auth, &r.opts, &v, &err);
        if (v.reason != cases[i].reason)
            fprintf(stderr, "malformed case #%zu: %s\n", i, cases[i].auth ? cases[i].auth : "NULL");
        expect_verdict(&r, cases[i].auth, cases[i].reason, cases[i].msg);
    }

    /* too long */
    size_t n = FLOE_SIGV4_AUTHORIZATION_IN_MAX + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    memcpy(big, "AWS4-HMAC-SHA256 ", 17);
    big[n] = 0;
    expect_verdict(&r, big, FLOE_SIGV4_MALFORMED, "Authorization header is 4106 bytes");
    free(big);

    /* the parser on its own */
    struct floe_sigv4_auth a;
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_parse_authorization(r.sig.authorization, &a, &err), FLOE_OK);
    assert_string_equal(a.access_key_id, AKID);
    assert_string_equal(a.date, "20120525");
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(a.service, "glacier");
    assert_string_equal(a.terminator, "aws4_request");
    assert_string_equal(a.signed_headers,
                        "host;x-amz-archive-description;x-amz-date;x-amz-glacier-version");
    assert_string_equal(a.signature, r.sig.signature);
    struct floe_sigv4_auth before;
    memset(&a, 0x5a, sizeof(a));
    before = a;
    assert_int_equal(floe_sigv4_parse_authorization("AWS4-HMAC-SHA256 x=y", &a, &err), FLOE_E_AUTH);
    assert_memory_equal(&a, &before, sizeof(a));
    assert_int_equal(floe_sigv4_parse_authorization(NULL, &a, &err), FLOE_E_AUTH);
    assert_int_equal(
        floe_sigv4_parse_authorization("AWS4-HMAC-SHA256 Signature=" ZERO_SIG, &a, &err),
        FLOE_E_AUTH);
    assert_string_equal(err.message,
                        "Authorization header requires 'Credential' parameter. Authorization "
                        "header requires 'SignedHeaders' parameter.");
}

static void test_sigv4_verify_payload_hash_rules(void **state)
{
    (void)state;
    /* an upload whose signature covers x-amz-content-sha256 */
    const char *body = "Welcome to Amazon Glacier.";
    char hash[65];
    sha256_hex(body, strlen(body), hash);
    char hv[80];
    snprintf(hv, sizeof(hv), "%s", hash);
    struct floe_sigv4_header hs[8] = {
        {"Host", "glacier.us-east-1.amazonaws.com"},
        {"x-amz-glacier-version", "2012-06-01"},
        {"x-amz-content-sha256", hv},
    };
    struct floe_sigv4_request req = {
        .method = "POST", .path = "/-/vaults/examplevault/archives", .headers = hs, .nheaders = 3};
    struct floe_sigv4_credentials cred = {AKID, SECRET, NULL};
    struct floe_sigv4_signed sig;
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_sign(&req, &cred, "us-east-1", "glacier", T_20120507, &sig, &err),
                     FLOE_OK);
    hs[3] = (struct floe_sigv4_header){"X-Amz-Date", sig.amz_date};
    req.nheaders = 4;
    struct rt r; /* reuse expect_verdict() with our own request */
    memset(&r, 0, sizeof(r));
    r.req = req;
    r.kr = (struct keyring){AKID, SECRET};
    r.opts = (struct floe_sigv4_verify_opts){.region = "us-east-1",
                                             .service = "glacier",
                                             .now = T_20120507,
                                             .lookup = lookup_one,
                                             .user = &r.kr};

    /* signature checked from the header alone, before the body is read */
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_OK, NULL);
    /* body hash known and equal */
    r.req.payload_sha256_hex = hash;
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_OK, NULL);
    /* body hash known and different: the body is not what was signed */
    r.req.payload_sha256_hex = EMPTY_SHA;
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_PAYLOAD_MISMATCH,
                   "x-amz-content-sha256 header 726e392cb4d09924dbad1cc0ba3b00c3643d03d14cb4b823e2f"
                   "041cff612a628 does not match the SHA-256 of the body e3b0c442");
    r.req.payload_sha256_hex = NULL;

    snprintf(hv, sizeof(hv), "UNSIGNED-PAYLOAD");
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_BAD_PAYLOAD_HASH,
                   "x-amz-content-sha256 header is UNSIGNED-PAYLOAD, which Glacier does not "
                   "accept");
    snprintf(hv, sizeof(hv), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_BAD_PAYLOAD_HASH,
                   "chunked (streaming) signing is not supported by Glacier");
    snprintf(hv, sizeof(hv), "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_BAD_PAYLOAD_HASH, "STREAMING-UNSIGNED");
    snprintf(hv, sizeof(hv), "%.63s", hash);
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_BAD_PAYLOAD_HASH, "is 63 characters");
    memset(hv, 'a', 79);
    hv[79] = 0;
    expect_verdict(&r, sig.authorization, FLOE_SIGV4_BAD_PAYLOAD_HASH, "is 79 characters");

    /* caller errors: no hash from either source; a malformed body hash; bad options */
    struct floe_sigv4_verdict v;
    memset(&v, 0xcd, sizeof(v));
    struct floe_sigv4_verdict before = v;
    r.req.nheaders = 2; /* drop x-amz-content-sha256 */
    assert_int_equal(floe_sigv4_verify(&r.req, sig.authorization, &r.opts, &v, &err),
                     FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "no payload hash"));
    r.req.payload_sha256_hex = "xyz";
    assert_int_equal(floe_sigv4_verify(&r.req, sig.authorization, &r.opts, &v, &err),
                     FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "payload hash 'xyz' is 3 characters"));
    r.req.payload_sha256_hex = EMPTY_SHA;
    r.opts.max_skew_s = -1;
    assert_int_equal(floe_sigv4_verify(&r.req, sig.authorization, &r.opts, &v, &err),
                     FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "max_skew_s -1 is negative");
    r.opts.max_skew_s = 0;
    r.opts.lookup = NULL;
    assert_int_equal(floe_sigv4_verify(&r.req, sig.authorization, &r.opts, &v, &err),
                     FLOE_E_INVALID_ARG);
    assert_int_equal(floe_sigv4_verify(&r.req, sig.authorization, NULL, &v, NULL),
                     FLOE_E_INVALID_ARG);
    r.opts.lookup = lookup_one;
    hs[1].value = NULL;
    assert_int_equal(floe_sigv4_verify(&r.req, sig.authorization, &r.opts, &v, &err),
                     FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "header #1 has a NULL name or value");
    assert_memory_equal(&v, &before, sizeof(v)); /* never written on INVALID_ARG */
}

static int lookup_truncating(const char *akid, char *secret_out, size_t cap, void *user)
{
    (void)akid;
    (void)user;
    memset(secret_out, 'k', cap); /* misbehaves: no terminator */
    return 0;
}

static int lookup_empty(const char *akid, char *secret_out, size_t cap, void *user)
{
    (void)akid;
    (void)user;
    (void)cap;
    secret_out[0] = 0;
    return 0;
}

static void test_sigv4_verify_survives_bad_lookup(void **state)
{
    (void)state;
    struct rt r;
    rt_make(&r, NULL);
    r.opts.lookup = lookup_truncating;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_MISMATCH, NULL);
    r.opts.lookup = lookup_empty;
    expect_verdict(&r, r.sig.authorization, FLOE_SIGV4_UNKNOWN_KEY, NULL);
}

static void test_sigv4_reason_names_and_errors(void **state)
{
    (void)state;
    for (int i = 0; i < FLOE_SIGV4_REASON_COUNT; i++) {
        const char *n = floe_sigv4_reason_name((enum floe_sigv4_reason)i);
        assert_non_null(n);
        assert_string_not_equal(n, "UNKNOWN");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, floe_sigv4_reason_name((enum floe_sigv4_reason)j));
    }
    assert_string_equal(floe_sigv4_reason_name(FLOE_SIGV4_REASON_COUNT), "UNKNOWN");
    assert_string_equal(floe_sigv4_reason_name((enum floe_sigv4_reason) - 1), "UNKNOWN");
    assert_string_equal(floe_sigv4_reason_name(FLOE_SIGV4_SKEW), "SKEW");

    static const struct {
        enum floe_sigv4_reason r;
        const char *code;
        int http;
    } map[] = {
        {FLOE_SIGV4_OK, "", 0},
        {FLOE_SIGV4_MISSING, "MissingAuthenticationTokenException", 400},
        {FLOE_SIGV4_MALFORMED, "IncompleteSignatureException", 400},
        {FLOE_SIGV4_UNKNOWN_KEY, "UnrecognizedClientException", 400},
        {FLOE_SIGV4_BAD_SCOPE, "InvalidSignatureException", 403},
        {FLOE_SIGV4_SKEW, "InvalidSignatureException", 403},
        {FLOE_SIGV4_UNSIGNED_HOST_OR_DATE, "InvalidSignatureException", 403},
        {FLOE_SIGV4_HEADER_MISSING, "InvalidSignatureException", 403},
        {FLOE_SIGV4_BAD_PAYLOAD_HASH, "InvalidSignatureException", 403},
        {FLOE_SIGV4_PAYLOAD_MISMATCH, "InvalidParameterValueException", 400},
        {FLOE_SIGV4_MISMATCH, "InvalidSignatureException", 403},
    };
    assert_int_equal(sizeof(map) / sizeof(map[0]), FLOE_SIGV4_REASON_COUNT);
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int http = -1;
        assert_string_equal(floe_sigv4_reason_glacier_error(map[i].r, &http), map[i].code);
        assert_int_equal(http, map[i].http);
        assert_string_equal(floe_sigv4_reason_glacier_error(map[i].r, NULL), map[i].code);
    }
}

/* ------------------------------------------------------------------------------------------
 * Vault names
 * ---------------------------------------------------------------------------------------- */

static void test_sigv4_vault_names(void **state)
{
    (void)state;
    char n255[256], n256[257];
    memset(n255, 'a', 255);
    n255[255] = 0;
    memset(n256, 'Z', 256);
    n256[256] = 0;
    const char *good[] = {"a", "examplevault", "My.Vault_name-1", "-", "..", "0123456789", n255};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct floe_error err = {0};
        assert_int_equal(floe_sigv4_vault_name_valid(good[i], &err), FLOE_OK);
        assert_int_equal(err.status, 0);
    }
    static const struct {
        const char *name;
        const char *msg;
    } bad[] = {
        {NULL, "vault name is empty; it must be 1-255 characters from A-Z a-z 0-9 _ . -"},
        {"", "vault name is empty"},
        {"caf\xc3\xa9", "vault name contains non-ASCII byte 0xC3 at offset 3: Unicode vault "
                        "names are not allowed"},
        {"\xe5\xad\x98\xe6\xa1\xa3", "non-ASCII byte 0xE5 at offset 0: Unicode vault names"},
        {"a/b", "vault name contains '/' at offset 1; only A-Z a-z 0-9 _ . - are allowed"},
        {"a b", "vault name contains a space at offset 1"},
        {"a:b", "vault name contains ':' at offset 1"},
        {"tab\there", "vault name contains control character 0x09 at offset 3"},
        {"a%20b", "vault name contains '%' at offset 1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct floe_error err = {0};
        assert_int_equal(floe_sigv4_vault_name_valid(bad[i].name, &err), FLOE_E_INVALID_ARG);
        if (!strstr(err.message, bad[i].msg))
            fprintf(stderr, "vault name #%zu: '%s'\n", i, err.message);
        assert_non_null(strstr(err.message, bad[i].msg));
    }
    struct floe_error err = {0};
    assert_int_equal(floe_sigv4_vault_name_valid(n256, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "vault name is 256 characters long; the limit is 255");
    assert_int_equal(floe_sigv4_vault_name_valid(n256, NULL), FLOE_E_INVALID_ARG);
}

static int teardown_group(void **state)
{
    (void)state;
    t_cleanup_temp();
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The per-thread signing-key cache: a new day, region, service or secret must derive a new key
 * ---------------------------------------------------------------------------------------- */

struct key_case {
    time_t when;
    const char *region, *service, *secret;
    char sig[FLOE_SIGV4_SIGNATURE_HEX_LEN + 1];
};

/* no cmocka assertion here: it runs on other threads too; sig is "" on failure */
static void sign_case(struct key_case *kc)
{
    const struct floe_sigv4_header hs[] = {
        {"Host", "glacier.us-east-1.amazonaws.com"},
        {"x-amz-glacier-version", "2012-06-01"},
    };
    struct floe_sigv4_request req = {.method = "PUT",
                                     .path = "/-/vaults/examplevault",
                                     .headers = hs,
                                     .nheaders = 2,
                                     .payload_sha256_hex = EMPTY_SHA};
    struct floe_sigv4_credentials cred = {AKID, kc->secret, NULL};
    struct floe_sigv4_signed out;
    struct floe_error err = {0};
    kc->sig[0] = 0;
    if (floe_sigv4_sign(&req, &cred, kc->region, kc->service, kc->when, &out, &err) == FLOE_OK)
        memcpy(kc->sig, out.signature, sizeof(kc->sig));
    else
        fprintf(stderr, "floe_sigv4_sign: %s\n", err.message);
}

/* a new thread starts with an empty cache: its signature is derived from scratch */
static void *sign_case_fresh(void *arg)
{
    sign_case(arg);
    return NULL;
}

static void test_sigv4_signing_key_cache_follows_inputs(void **state)
{
    (void)state;
    const time_t day1 = T_20120525, prev_day = T_20120525 - (24 * 60 + 53) - 1; /* 23:59:59 */
    struct key_case cases[] = {
        {day1, "us-east-1", "glacier", SECRET, ""},
        {day1 + 60, "us-east-1", "glacier", SECRET, ""}, /* same day: same key, new time */
        {prev_day, "us-east-1", "glacier", SECRET, ""},  /* one second before midnight */
        {day1, "eu-west-1", "glacier", SECRET, ""},
        {day1, "us-east-1", "s3", SECRET, ""},
        {day1, "us-east-1", "glacier", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", ""},
        {day1, "us-east-1", "glacier", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE", ""},
        {day1, "us-east-1", "glacier", SECRET, ""}, /* back to the first: its key again */
    };
    const size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t round = 0; round < 2; round++) { /* the second round starts from a warm cache */
        for (size_t i = 0; i < n; i++) {
            struct key_case fresh = cases[i];
            pthread_t th;
            assert_int_equal(pthread_create(&th, NULL, sign_case_fresh, &fresh), 0);
            assert_int_equal(pthread_join(th, NULL), 0);
            sign_case(&cases[i]);
            assert_int_equal(strlen(fresh.sig), FLOE_SIGV4_SIGNATURE_HEX_LEN);
            assert_string_equal(cases[i].sig, fresh.sig);
        }
    }
    assert_string_equal(cases[7].sig, cases[0].sig);
    for (size_t i = 0; i + 1 < n - 1; i++)
        for (size_t j = i + 1; j < n - 1; j++)
            assert_string_not_equal(cases[i].sig, cases[j].sig);
}

int main(void)
{
    t_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_doc_vector_create_vault),
        cmocka_unit_test(test_sigv4_doc_vector_upload_archive),
        cmocka_unit_test(test_sigv4_matches_botocore_operations),
        cmocka_unit_test(test_sigv4_matches_botocore_encoding_and_headers),
        cmocka_unit_test(test_sigv4_matches_botocore_random),
        cmocka_unit_test(test_sigv4_sign_rejects_bad_input),
        cmocka_unit_test(test_sigv4_sign_rejects_oversized_signed_headers),
        cmocka_unit_test(test_sigv4_verify_round_trip),
        cmocka_unit_test(test_sigv4_verify_detects_tampering),
        cmocka_unit_test(test_sigv4_verify_key_scope_and_skew),
        cmocka_unit_test(test_sigv4_verify_signed_header_rules),
        cmocka_unit_test(test_sigv4_verify_accepts_iso_date_header_from_botocore),
        cmocka_unit_test(test_sigv4_verify_rejects_malformed_authorization),
        cmocka_unit_test(test_sigv4_verify_payload_hash_rules),
        cmocka_unit_test(test_sigv4_verify_survives_bad_lookup),
        cmocka_unit_test(test_sigv4_reason_names_and_errors),
        cmocka_unit_test(test_sigv4_vault_names),
        cmocka_unit_test(test_sigv4_signing_key_cache_follows_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_group);
}
