/*
 * fuzz_sigv4_auth.c - the Authorization header parser and the verifier on arbitrary bytes:
 * what floe-vault sees from any client on the network.
 */
#include "fuzz.h"

#include "floe/sigv4.h"

#include <stdlib.h>
#include <string.h>

static int lookup(const char *key, char *secret, size_t cap, void *user)
{
    (void)user;
    if (strcmp(key, "AKIDFLOEVAULTLOCAL") != 0 || cap < 32)
        return 1;
    memcpy(secret, "floe-vault-local-secret", 24);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct floe_error err;
    struct floe_sigv4_auth a;
    floe_sigv4_parse_authorization(s, &a, &err);
    struct floe_sigv4_header h[] = {{"host", "127.0.0.1:9190"},
                                    {"x-amz-date", "20261124T120000Z"},
                                    {"x-amz-glacier-version", "2012-06-01"}};
    struct floe_sigv4_request req = {
        .method = "GET",
        .path = "/-/vaults",
        .query = s[0] == 'l' ? s : NULL,
        .headers = h,
        .nheaders = 3,
        .payload_sha256_hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
    struct floe_sigv4_verify_opts o = {
        .region = "us-east-1", .service = "glacier", .now = 1795521600, .lookup = lookup};
    struct floe_sigv4_verdict v;
    floe_sigv4_verify(&req, s, &o, &v, &err);
    floe_sigv4_vault_name_valid(s, &err);
    free(s);
    return 0;
}
