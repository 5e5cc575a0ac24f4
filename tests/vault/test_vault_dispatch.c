/*
 * test_vault_dispatch.c - floe-vault's request path without sockets (vdispatch.h), on a server
 * started without HTTP (floe_vserver_start_local): a vault created and described, an archive
 * uploaded with its body handed over in small pieces and stored with the right tree hash, and
 * the checks that come before any handler: an unsigned request on the signing server, a
 * repeated Content-Length (400, connection to close), a '..' segment, a body over the limit,
 * a wrong API version.
 */
#include "server.h"
#include "sha256.h"
#include "vdispatch.h"
#include "floe/treehash.h"
#include "t_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AUTH                                                                                       \
    "AWS4-HMAC-SHA256 Credential=AKIDFLOEVAULTLOCAL/20261124/us-east-1/glacier/aws4_request, "     \
    "SignedHeaders=host;x-amz-date, Signature="                                                    \
    "abababababababababababababababababababababababababababababababab"

static struct floe_vserver s_srv[2]; /* [0] signatures checked, [1] --no-auth */

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        char dir[600];
        snprintf(dir, sizeof(dir), "%s/dispatch%d", t_temp_dir(), i);
        floe_vconfig_defaults(&s_srv[i].cfg);
        s_srv[i].cfg.data_dir = strdup(dir);
        s_srv[i].cfg.no_auth = i == 1;
        s_srv[i].cfg.log_level = -1;
        s_srv[i].cfg.scrub_rate = 0;
        struct floe_error err = {0};
        if (floe_vserver_start_local(&s_srv[i], &err) != FLOE_OK) {
            fprintf(stderr, "start: %s\n", err.message);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        floe_vserver_stop(&s_srv[i]);
        floe_vconfig_free(&s_srv[i].cfg);
    }
    t_cleanup_temp();
    return 0;
}

/* One request with the usual headers plus the given ones (name, value pairs, NULL-ended). */
static struct floe_vreq *req(int which, const char *method, const char *target, const char *body,
                             size_t chunk, ...)
{
    struct floe_sigv4_header h[16];
    size_t n = 0;
    static char clen[32];
    snprintf(clen, sizeof(clen), "%zu", body ? strlen(body) : 0);
    h[n++] = (struct floe_sigv4_header){"Host", "127.0.0.1:9190"};
    h[n++] = (struct floe_sigv4_header){"Authorization", AUTH};
    h[n++] = (struct floe_sigv4_header){"x-amz-date", "20261124T120000Z"};
    h[n++] = (struct floe_sigv4_header){"Content-Length", clen};
    va_list ap;
    va_start(ap, chunk);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL && n < 16) {
        h[n].name = name;
        h[n].value = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    return floe_vdispatch_one(&s_srv[which], method, target, h, n, body, body ? strlen(body) : 0,
                              chunk);
}

static const char *resp_header(const struct floe_vreq *rq, const char *name)
{
    for (int i = 0; i < rq->resp.nhdr; i++)
        if (strcasecmp(rq->resp.hdr[i].name, name) == 0)
            return rq->resp.hdr[i].value;
    return NULL;
}

static bool body_has(const struct floe_vreq *rq, const char *text)
{
    return rq->resp.body && strstr(rq->resp.body, text) != NULL;
}

/* rq answered status, with text in its body unless text is NULL; frees rq. */
static void expect(struct floe_vreq *rq, unsigned status, const char *text)
{
    assert_int_equal(rq->resp.status, status);
    if (text)
        assert_true(body_has(rq, text));
    floe_vreq_free(rq);
}

static void test_vault_and_upload(void **state)
{
    (void)state;
    struct floe_vreq *rq = req(1, "PUT", "/-/vaults/dv1", NULL, 0, NULL);
    assert_int_equal(rq->resp.status, 201);
    assert_string_equal(rq->route->name, "CreateVault");
    floe_vreq_free(rq);

    expect(req(1, "GET", "/-/vaults/dv1", NULL, 0, NULL), 200, "\"VaultName\":\"dv1\"");

    const char *data = "the bytes of a small archive, handed over three at a time";
    uint8_t digest[FLOE_SHA256_BYTES];
    char hex[FLOE_HASH_HEX];
    floe_sha256(data, strlen(data), digest);
    floe_treehash_hex(digest, hex);
    rq = req(1, "POST", "/-/vaults/dv1/archives", data, 3, "x-amz-sha256-tree-hash", hex,
             "x-amz-content-sha256", hex, NULL);
    assert_int_equal(rq->resp.status, 201);
    assert_string_equal(rq->route->name, "UploadArchive");
    assert_non_null(resp_header(rq, "x-amz-archive-id"));
    assert_string_equal(resp_header(rq, "x-amz-sha256-tree-hash"), hex);
    floe_vreq_free(rq);

    /* a wrong tree hash: refused, nothing stored */
    rq = req(1, "POST", "/-/vaults/dv1/archives", data, 7, "x-amz-sha256-tree-hash",
             "0000000000000000000000000000000000000000000000000000000000000000",
             "x-amz-content-sha256", hex, NULL);
    assert_int_equal(rq->resp.status, 400);
    assert_null(resp_header(rq, "x-amz-archive-id"));
    floe_vreq_free(rq);

    expect(req(1, "GET", "/-/vaults/dv1", NULL, 0, NULL), 200, "\"NumberOfArchives\":1");
}

static void test_checks_before_handlers(void **state)
{
    (void)state;
    /* the signing server: a bad signature never reaches the handler */
    expect(req(0, "PUT", "/-/vaults/dv2", NULL, 0, NULL), 403, NULL);
    /* the refused CreateVault made nothing */
    expect(req(1, "GET", "/-/vaults/dv2", NULL, 0, NULL), 404, NULL);

    struct floe_vreq *rq = req(1, "GET", "/-/vaults", NULL, 0, "Content-Length", "0", NULL);
    assert_int_equal(rq->resp.status, 400);
    assert_true(rq->resp.close);
    assert_true(body_has(rq, "Content-Length appears 2 times"));
    floe_vreq_free(rq);

    expect(req(1, "GET", "/-/vaults/../vaults", NULL, 0, NULL), 400, "Invalid request path");

    expect(req(1, "GET", "/-/vaults", NULL, 0, "x-amz-glacier-version", "2011-01-01", NULL), 400,
           "x-amz-glacier-version");

    size_t big = FLOE_VDISPATCH_BODY_MAX + 1;
    char *body = malloc(big + 1);
    assert_non_null(body);
    memset(body, '{', big);
    body[big] = 0;
    expect(req(1, "POST", "/-/vaults/dv1/jobs", body, 4096, NULL), 400, "larger than");
    free(body);

    rq = req(1, "PATCH", "/-/vaults", NULL, 0, NULL);
    assert_int_equal(rq->resp.status, 400);
    assert_null(rq->route);
    floe_vreq_free(rq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vault_and_upload),
        cmocka_unit_test(test_checks_before_handlers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
