/*
 * test_s3req.c - S3 request building (src/engine/s3/s3req.c) and the local checks and limits
 * of floe/s3.h and floe/s3part.h: key encoding (spaces, unicode, '+', '~', '/', "//", '%', '?',
 * '#'), path-style and virtual-hosted targets and the rule that picks one, the canonical
 * request (path as sent, never normalised; query sorted), and signatures compared with
 * botocore's S3SigV4Auth over the same requests (t_python); bucket, key, storage class and part
 * size rules.
 */
#include "s3req.h"

#include "floe/client.h"
#include "floe/credentials.h"
#include "floe/s3.h"
#include "floe/s3part.h"
#include "t_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_20130524 1369353600 /* 2013-05-24T00:00:00Z, the S3 documentation's examples */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static struct floe_s3 *client(const char *endpoint, const char *region,
                              enum floe_s3_addressing mode)
{
    struct floe_s3_config cfg = {.endpoint_url = endpoint,
                                 .region = region,
                                 .access_key_id = AKID,
                                 .secret_access_key = SECRET,
                                 .addressing = mode,
                                 .max_connections = 1};
    struct floe_s3 *s3 = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_s3_new(&cfg, &s3, &err), FLOE_OK);
    return s3;
}

/* The awkward keys, their encoding in a path. */
static const struct {
    const char *key;
    const char *path;
} s_keys[] = {
    {"plain.txt", "plain.txt"},
    {"with space", "with%20space"},
    {"a+b=c&d", "a%2Bb%3Dc%26d"},
    {"tilde~and-under_score.", "tilde~and-under_score."},
    {"dir/sub/file", "dir/sub/file"},
    {"double//slash/", "double//slash/"},
    {"/leading", "/leading"},
    {"dots/../x/./y", "dots/../x/./y"},
    {"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "%C3%A9t%C3%A9%20%E6%97%A5%E6%9C%AC"},
    {"pct%20lit?q#h", "pct%2520lit%3Fq%23h"},
    {"emoji\xf0\x9f\x98\x80", "emoji%F0%9F%98%80"},
};
#define NKEYS (sizeof(s_keys) / sizeof(s_keys[0]))

static void test_s3req_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKEYS; i++) {
        char *e = floe_s3req_encode(s_keys[i].key, true);
        assert_string_equal(e, s_keys[i].path);
        free(e);
    }
    char *q = floe_s3req_encode("a/b c+~", false);
    assert_string_equal(q, "a%2Fb%20c%2B~");
    free(q);
}

/* The canonical request's second and third lines (path, query) of r. */
static void canonical_lines(const struct floe_s3req *r, char *path, size_t pcap, char *query,
                            size_t qcap)
{
    char *cr = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_s3req_canonical(r, T_20130524, &cr, &err), FLOE_OK);
    char *l1 = strchr(cr, '\n');
    char *l2 = strchr(l1 + 1, '\n');
    char *l3 = strchr(l2 + 1, '\n');
    snprintf(path, pcap, "%.*s", (int)(l2 - l1 - 1), l1 + 1);
    snprintf(query, qcap, "%.*s", (int)(l3 - l2 - 1), l2 + 1);
    free(cr);
}

static void test_s3req_path_style(void **state)
{
    (void)state;
    struct floe_s3 *s3 = client("http://127.0.0.1:9000/", NULL, FLOE_S3_ADDRESSING_AUTO);
    for (size_t i = 0; i < NKEYS; i++) {
        struct floe_s3req *r = floe_s3req_new(s3, "GET", "bucket", s_keys[i].key, NULL);
        char want[512], path[512], query[512];
        snprintf(want, sizeof(want), "/bucket/%s", s_keys[i].path);
        assert_string_equal(floe_s3req_path(r), want);
        assert_string_equal(floe_s3req_host(r), "127.0.0.1:9000");
        char url[600];
        snprintf(url, sizeof(url), "http://127.0.0.1:9000%s", want);
        assert_string_equal(floe_s3req_url(r), url);
        canonical_lines(r, path, sizeof(path), query, sizeof(query));
        assert_string_equal(path, want); /* as sent: no second encoding, no normalising */
        assert_string_equal(query, "");
        floe_s3req_free(r);
    }
    /* a bucket request, and a query: sorted in the canonical form, "uploads" gets its '=' */
    struct floe_s3req *r =
        floe_s3req_new(s3, "GET", "bucket", NULL, "uploads&prefix=a%2Fb&key-marker=k%20m");
    char path[256], query[256];
    canonical_lines(r, path, sizeof(path), query, sizeof(query));
    assert_string_equal(floe_s3req_url(r),
                        "http://127.0.0.1:9000/bucket?uploads&prefix=a%2Fb&key-marker=k%20m");
    assert_string_equal(path, "/bucket");
    assert_string_equal(query, "key-marker=k%20m&prefix=a%2Fb&uploads=");
    floe_s3req_free(r);
    floe_s3_destroy(s3);
}

static void test_s3req_addressing_rule(void **state)
{
    (void)state;
    /* AWS (no endpoint): virtual-hosted for a DNS-label bucket */
    struct floe_s3 *aws = client(NULL, "eu-west-1", FLOE_S3_ADDRESSING_AUTO);
    struct floe_s3req *r = floe_s3req_new(aws, "PUT", "my-bucket", "dir/a b", NULL);
    assert_string_equal(floe_s3req_host(r), "my-bucket.s3.eu-west-1.amazonaws.com");
    assert_string_equal(floe_s3req_path(r), "/dir/a%20b");
    assert_string_equal(floe_s3req_url(r),
                        "https://my-bucket.s3.eu-west-1.amazonaws.com/dir/a%20b");
    floe_s3req_free(r);
    r = floe_s3req_new(aws, "GET", "my-bucket", NULL, "list-type=2");
    assert_string_equal(floe_s3req_path(r), "/");
    floe_s3req_free(r);
    /* ... but path style for a dotted name (the wildcard certificate) or upper case */
    const char *path_buckets[] = {"my.bucket", "Legacy_Bucket"};
    for (size_t i = 0; i < 2; i++) {
        assert_false(floe_s3req_virtual(aws, path_buckets[i]));
        r = floe_s3req_new(aws, "GET", path_buckets[i], "k", NULL);
        assert_string_equal(floe_s3req_host(r), "s3.eu-west-1.amazonaws.com");
        floe_s3req_free(r);
    }
    floe_s3_destroy(aws);
    /* an endpoint: path style, unless virtual is asked for */
    struct floe_s3 *minio = client("http://localhost:9000", NULL, FLOE_S3_ADDRESSING_AUTO);
    assert_false(floe_s3req_virtual(minio, "my-bucket"));
    floe_s3_destroy(minio);
    struct floe_s3 *virt = client("http://localhost:9000", NULL, FLOE_S3_ADDRESSING_VIRTUAL);
    r = floe_s3req_new(virt, "GET", "b1", "k", NULL);
    assert_string_equal(floe_s3req_host(r), "b1.localhost:9000");
    assert_string_equal(floe_s3req_url(r), "http://b1.localhost:9000/k");
    floe_s3req_free(r);
    floe_s3_destroy(virt);
    struct floe_s3 *forced = client(NULL, NULL, FLOE_S3_ADDRESSING_PATH);
    r = floe_s3req_new(forced, "GET", "my-bucket", "k", NULL);
    assert_string_equal(floe_s3req_url(r), "https://s3.us-east-1.amazonaws.com/my-bucket/k");
    floe_s3req_free(r);
    floe_s3_destroy(forced);
}

/* Header lines of a curl list, minus Authorization and curl's "Content-Type:" suppressor,
 * hex-encoded and joined by '\n' before encoding. */
static void headers_hex(const struct curl_slist *l, char *auth, size_t acap, char *out, size_t cap)
{
    char joined[4096] = "";
    size_t n = 0;
    for (; l; l = l->next) {
        if (strncmp(l->data, "Authorization: ", 15) == 0) {
            snprintf(auth, acap, "%s", l->data + 15);
            continue;
        }
        if (strcmp(l->data, "Content-Type:") == 0)
            continue;
        n += (size_t)snprintf(joined + n, sizeof(joined) - n, "%s%s", n ? "\n" : "", l->data);
    }
    assert_true(2 * strlen(joined) + 1 <= cap);
    t_hex((const uint8_t *)joined, strlen(joined), out);
}

static const char *s_botocore =
    "import sys\n"
    "from botocore.auth import S3SigV4Auth\n"
    "from botocore.awsrequest import AWSRequest\n"
    "from botocore.credentials import Credentials\n"
    "for line in open(sys.argv[1]):\n"
    "    m, url, host, hs = [bytes.fromhex(f).decode() for f in line.split()]\n"
    "    h = {'Host': host}\n"
    "    for l in hs.split('\\n'):\n"
    "        k, v = l.split(': ', 1)\n"
    "        h[k] = v\n"
    "    r = AWSRequest(method=m, url=url, headers=h)\n"
    "    a = S3SigV4Auth(Credentials('" AKID "', '" SECRET "'), 's3', 'eu-west-1')\n"
    "    r.context['timestamp'] = h['X-Amz-Date']\n"
    "    cr = a.canonical_request(r)\n"
    "    a._inject_signature_to_request(r, a.signature(a.string_to_sign(r, cr), r))\n"
    "    print(r.headers['Authorization'])\n";

static void test_s3req_signature_matches_botocore(void **state)
{
    (void)state;
    struct floe_s3 *s3s[2] = {client("http://127.0.0.1:9000", "eu-west-1", 0),
                              client(NULL, "eu-west-1", 0)};
    char auth[2 * NKEYS + 4][600];
    size_t nc = 0;
    char *spec = NULL;
    size_t speclen = 0;
    FILE *f = open_memstream(&spec, &speclen);
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < NKEYS + 2; i++) {
            const char *key = i < NKEYS ? s_keys[i].key : NULL;
            const char *query = i == NKEYS       ? "list-type=2&prefix=%C3%A9%20x&max-keys=3"
                                : i == NKEYS + 1 ? NULL
                                : i % 3 == 0     ? "partNumber=2&uploadId=a%2Bb%3D"
                                                 : NULL;
            struct floe_s3req *r =
                floe_s3req_new(s3s[m], i % 2 ? "PUT" : "GET", "my-bucket", key, query);
            if (i % 2) {
                floe_s3req_body(r, "hello", 5, NULL);
                floe_s3req_header(r, "x-amz-meta-note", "a  b\tc");
                floe_s3req_header(r, "x-amz-storage-class", "DEEP_ARCHIVE");
                floe_s3req_header(r, "Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==");
            } else {
                floe_s3req_header(r, "Range", "bytes=0-9");
            }
            struct curl_slist *l = NULL;
            struct floe_error err = {0};
            assert_int_equal(floe_s3req_sign(r, T_20130524, &l, &err), FLOE_OK);
            char hx[8192], mh[16], uh[2048], hh[256];
            headers_hex(l, auth[nc], sizeof(auth[nc]), hx, sizeof(hx));
            t_hex((const uint8_t *)(i % 2 ? "PUT" : "GET"), 3, mh);
            t_hex((const uint8_t *)floe_s3req_url(r), strlen(floe_s3req_url(r)), uh);
            t_hex((const uint8_t *)floe_s3req_host(r), strlen(floe_s3req_host(r)), hh);
            fprintf(f, "%s %s %s %s\n", mh, uh, hh, hx);
            curl_slist_free_all(l);
            floe_s3req_free(r);
            nc++;
        }
    }
    fclose(f);
    char *path = t_write_temp("s3-sign-cases", spec, speclen);
    char *out = t_python(s_botocore, path, (char *)NULL);
    char *line = out;
    for (size_t i = 0; i < nc; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        assert_string_equal(auth[i], line);
        line = nl + 1;
    }
    assert_non_null(strstr(auth[0], "/eu-west-1/s3/aws4_request"));
    free(out);
    free(path);
    free(spec);
    floe_s3_destroy(s3s[0]);
    floe_s3_destroy(s3s[1]);
}

static void test_s3req_payload_hash_header(void **state)
{
    (void)state;
    struct floe_s3 *s3 = client("http://127.0.0.1:9000", NULL, 0);
    struct floe_s3req *r = floe_s3req_new(s3, "HEAD", "b", "k", NULL);
    struct curl_slist *l = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_s3req_sign(r, T_20130524, &l, &err), FLOE_OK);
    bool found = false;
    for (struct curl_slist *p = l; p; p = p->next)
        found |= strcmp(p->data, "x-amz-content-sha256: " EMPTY_SHA) == 0;
    assert_true(found); /* S3 wants the header on every request, body or not */
    curl_slist_free_all(l);
    floe_s3req_free(r);
    floe_s3_destroy(s3);
}

/* The Authorization and X-Amz-Security-Token headers r is signed with (strdup'ed, or NULL). */
static void signed_with(struct floe_s3 *s3, char **auth, char **token)
{
    struct floe_s3req *r = floe_s3req_new(s3, "GET", "b", "k", NULL);
    struct curl_slist *l = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_s3req_sign(r, T_20130524, &l, &err), FLOE_OK);
    *auth = *token = NULL;
    for (struct curl_slist *p = l; p; p = p->next) {
        if (strncmp(p->data, "Authorization: ", 15) == 0)
            *auth = strdup(p->data + 15);
        if (strncmp(p->data, "X-Amz-Security-Token: ", 22) == 0)
            *token = strdup(p->data + 22);
    }
    curl_slist_free_all(l);
    floe_s3req_free(r);
}

/* A provider given in the configuration (taken over), and a Glacier client's provider borrowed
 * through share_transfer: the requests are signed with those keys and that session token. */
static void test_s3req_credentials_provider(void **state)
{
    (void)state;
    struct floe_error err = {0};
    struct floe_credentials *p = NULL;
    assert_int_equal(floe_credentials_new_static("ASIAPROVIDERKEY", SECRET, "tok-1", &p, &err),
                     FLOE_OK);
    struct floe_s3_config cfg = {.endpoint_url = "http://127.0.0.1:9000", .credentials = p};
    struct floe_s3 *s3 = NULL;
    assert_int_equal(floe_s3_new(&cfg, &s3, &err), FLOE_OK);
    char *auth, *token;
    signed_with(s3, &auth, &token);
    assert_non_null(strstr(auth, "Credential=ASIAPROVIDERKEY/20130524/us-east-1/s3/aws4_request"));
    assert_string_equal(token, "tok-1");
    free(auth);
    free(token);
    floe_s3_destroy(s3); /* destroys p: ASan would report a leak otherwise */

    struct floe_client_config gc = {.endpoint_url = "http://127.0.0.1:9",
                                    .access_key_id = "AKIDGLACIERCLIENT",
                                    .secret_access_key = SECRET};
    struct floe_client *c = NULL;
    assert_int_equal(floe_client_new(&gc, &c, &err), FLOE_OK);
    struct floe_s3_config shared = {.endpoint_url = "http://127.0.0.1:9000", .share_transfer = c};
    assert_int_equal(floe_s3_new(&shared, &s3, &err), FLOE_OK);
    signed_with(s3, &auth, &token);
    assert_non_null(strstr(auth, "Credential=AKIDGLACIERCLIENT/"));
    assert_null(token);
    free(auth);
    floe_s3_destroy(s3);
    floe_client_destroy(c);
}

static void test_s3req_config_checks(void **state)
{
    (void)state;
    struct {
        struct floe_s3_config cfg;
        const char *msg;
    } bad[] = {
        {{.access_key_id = AKID},
         "no AWS credentials for S3: a provider, or an access key id and a secret access key, "
         "are required"},
        {{.access_key_id = AKID, .secret_access_key = SECRET, .region = "eu west"},
         "S3 region \"eu west\" is not valid (1-63 letters, digits and '-')"},
        {{.access_key_id = AKID, .secret_access_key = SECRET, .endpoint_url = "ftp://x"},
         "endpoint URL \"ftp://x\" must start with http:// or https://"},
        {{.access_key_id = AKID, .secret_access_key = SECRET, .addressing = 7},
         "S3 addressing 7 is not one of auto (0), path (1) or virtual (2)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct floe_s3 *s3 = NULL;
        struct floe_error err = {0};
        assert_int_equal(floe_s3_new(&bad[i].cfg, &s3, &err), FLOE_E_INVALID_ARG);
        assert_string_equal(err.message, bad[i].msg);
        assert_null(s3);
    }
    floe_s3_destroy(NULL);
}

static void test_s3req_name_rules(void **state)
{
    (void)state;
    const char *good[] = {"abc", "my-bucket.logs", "a1-2-3",
                          "x23456789012345678901234567890123456789"
                          "012345678901234567890123"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(floe_s3_bucket_name_valid(good[i], NULL), FLOE_OK);
    struct {
        const char *name, *msg;
    } bad[] = {
        {"ab", "bucket name \"ab\" is 2 characters; S3 allows 3 to 63"},
        {"My-Bucket", "bucket name \"My-Bucket\" has 'M' at position 0; S3 allows only "
                      "lower-case letters, digits, '.' and '-'"},
        {"-abc", "bucket name \"-abc\" must start and end with a letter or digit"},
        {"a..b", "bucket name \"a..b\" has two adjacent dots"},
        {"192.168.5.4", "bucket name \"192.168.5.4\" looks like an IP address, which S3 refuses"},
        {"a_b", "bucket name \"a_b\" has '_' at position 1; S3 allows only lower-case letters, "
                "digits, '.' and '-'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct floe_error err = {0};
        assert_int_equal(floe_s3_bucket_name_valid(bad[i].name, &err), FLOE_E_INVALID_ARG);
        assert_string_equal(err.message, bad[i].msg);
    }
    struct floe_error err = {0};
    for (size_t i = 0; i < NKEYS; i++)
        assert_int_equal(floe_s3_key_valid(s_keys[i].key, &err), FLOE_OK);
    assert_int_equal(floe_s3_key_valid("", &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "object key is empty");
    assert_int_equal(floe_s3_key_valid("bad\xc3(", &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "object key is not valid UTF-8 (byte 3)");
    assert_int_equal(floe_s3_key_valid("over\xc0\xaflong", &err), FLOE_E_INVALID_ARG);
    assert_int_equal(floe_s3_key_valid("surrogate\xed\xa0\x80", &err), FLOE_E_INVALID_ARG);
    char longkey[1026];
    memset(longkey, 'k', 1025);
    longkey[1025] = 0;
    assert_int_equal(floe_s3_key_valid(longkey, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "object key is 1025 bytes; S3 allows at most 1,024 (UTF-8)");
    longkey[1024] = 0;
    assert_int_equal(floe_s3_key_valid(longkey, &err), FLOE_OK);

    assert_int_equal(floe_s3_storage_class_valid("DEEP_ARCHIVE", &err), FLOE_OK);
    assert_int_equal(floe_s3_storage_class_valid("GLACIER_IR", &err), FLOE_OK);
    assert_int_equal(floe_s3_storage_class_valid("deep_archive", &err), FLOE_E_INVALID_ARG);
    assert_non_null(strstr(err.message, "storage class \"deep_archive\" is not one of STANDARD"));
}

static void test_s3req_part_rules(void **state)
{
    (void)state;
    const uint64_t MiB = 1ULL << 20;
    struct {
        uint64_t object, preferred, want;
    } ok[] = {
        {0, 0, 8 * MiB},
        {11 * MiB, 5 * MiB, 5 * MiB},
        {80000 * MiB, 0, 8 * MiB},           /* exactly 10,000 parts of 8 MiB */
        {80000 * MiB + 1, 0, 16 * MiB},      /* one byte more: the next power of two */
        {50000 * MiB, 5 * MiB, 5 * MiB},     /* 10,000 parts of 5 MiB */
        {50000 * MiB + 1, 5 * MiB, 8 * MiB}, /* 5 MiB is not a power of two: the next is 8 */
        {FLOE_S3_OBJECT_MAX_BYTES, 0, 1024 * MiB},
        {FLOE_S3_OBJECT_MAX_BYTES, FLOE_S3_PART_MAX_BYTES, FLOE_S3_PART_MAX_BYTES},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t out = 0;
        assert_int_equal(floe_s3_part_size_for(ok[i].object, ok[i].preferred, &out, NULL), FLOE_OK);
        assert_true(out == ok[i].want);
        assert_true(out * FLOE_S3_MAX_PARTS >= ok[i].object);
    }
    struct floe_error err = {0};
    uint64_t out = 42;
    assert_int_equal(floe_s3_part_size_for(FLOE_S3_OBJECT_MAX_BYTES + 1, 0, &out, &err),
                     FLOE_E_RANGE);
    assert_string_equal(err.message,
                        "an object of 5497558138881 bytes is larger than S3's 5 TiB limit");
    assert_true(out == 42);
    assert_int_equal(floe_s3_part_size_for(1, 4 * MiB, &out, &err), FLOE_E_RANGE);
    assert_string_equal(err.message, "part size 4194304 bytes: S3 parts are 5 MiB to 5 GiB");

    assert_int_equal(floe_s3_part_check(1, 5 * MiB, false, &err), FLOE_OK);
    assert_int_equal(floe_s3_part_check(10000, 0, true, &err), FLOE_OK);
    assert_int_equal(floe_s3_part_check(0, 5 * MiB, false, &err), FLOE_E_RANGE);
    assert_string_equal(err.message, "part number 0: S3 part numbers are 1 to 10,000");
    assert_int_equal(floe_s3_part_check(10001, 5 * MiB, true, &err), FLOE_E_RANGE);
    assert_int_equal(floe_s3_part_check(3, 5 * MiB - 1, false, &err), FLOE_E_RANGE);
    assert_string_equal(err.message, "part 3 is 5242879 bytes: every S3 part but the last must be "
                                     "at least 5 MiB");
    assert_int_equal(floe_s3_part_check(2, FLOE_S3_PART_MAX_BYTES + 1, true, &err), FLOE_E_RANGE);
    assert_string_equal(err.message, "part 2 is 5368709121 bytes: S3 parts are at most 5 GiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3req_encode),
        cmocka_unit_test(test_s3req_path_style),
        cmocka_unit_test(test_s3req_addressing_rule),
        cmocka_unit_test(test_s3req_signature_matches_botocore),
        cmocka_unit_test(test_s3req_payload_hash_header),
        cmocka_unit_test(test_s3req_config_checks),
        cmocka_unit_test(test_s3req_credentials_provider),
        cmocka_unit_test(test_s3req_name_rules),
        cmocka_unit_test(test_s3req_part_rules),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    t_cleanup_temp();
    return rc;
}
