/*
 * fuzz_credparse.c - every parser of credparse.h on arbitrary bytes: credential_process JSON,
 * STS XML (as a success and as an error answer), the SSO cache and GetRoleCredentials, metadata
 * JSON, ISO 8601 times. A parse that succeeds must hand back both keys, and free cleanly.
 */
#include "fuzz.h"

#include "credparse.h"

#include <stdlib.h>
#include <string.h>

static void check(int rc, struct floe_cred_values *v)
{
    if (rc == FLOE_OK && (!v->access_key_id || !v->secret_access_key))
        abort();
    floe_cred_values_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct floe_error err;
    struct floe_cred_values v = {0};
    check(floe_cred_parse_process(s, size, "fuzz", &v, &err), &v);
    check(floe_cred_parse_metadata(s, size, "fuzz", &v, &err), &v);
    check(floe_cred_parse_sts(s, size, 200, "AssumeRole", &v, &err), &v);
    if (floe_cred_parse_sts(s, size, 403, "AssumeRole", &v, &err) == FLOE_OK)
        abort(); /* an error status never yields keys */
    struct floe_caller_identity id;
    if (floe_cred_parse_identity(s, size, 200, &id, &err) == FLOE_OK &&
        (!id.arn[0] || !id.account[0]))
        abort(); /* a success names the principal */
    if (floe_cred_parse_identity(s, size, 403, &id, &err) == FLOE_OK)
        abort();
    check(floe_cred_parse_sso_role(s, size, &v, &err), &v);
    char *tok = NULL;
    if (floe_cred_parse_sso_cache(s, size, 0, "", &tok, &err) == FLOE_OK && !tok)
        abort();
    free(tok);
    int64_t t;
    floe_cred_parse_time(s, &t);
    free(s);
    return 0;
}
