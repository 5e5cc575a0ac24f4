/*
 * auth.c - SigV4 and account checks (see auth.h). The canonical-request work is floe_core's
 * floe_sigv4_verify(); this file supplies the raw request, the secret lookup and the mapping
 * of verdicts to responses.
 */
#include "auth.h"

#include "accounts.h"
#include "errors.h"
#include "policy.h"
#include "vctx.h"
#include "vlog.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The secret of a known access key; the key's identity becomes the request's caller. */
static int lookup_secret(const char *access_key_id, char *secret_out, size_t secret_cap, void *user)
{
    struct floe_vreq *rq = user;
    const struct floe_vcred *c = floe_vaccounts_find(&rq->srv->cfg, access_key_id);
    if (!c)
        return 1;
    snprintf(secret_out, secret_cap, "%s", c->secret_key);
    rq->caller = c;
    return 0;
}

/* Is name (any case) in a SignedHeaders list (lower-case names separated by ';')? */
static bool signed_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ';');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/*
 * Every x-amz-* header sent must be signed: an unsigned one could be added or changed by
 * anyone on the way (an unsigned x-amz-archive-description was stored). Glacier does not
 * document its answer; floe-vault's is 403 InvalidSignatureException naming the header.
 */
static bool amz_headers_signed(struct floe_vreq *rq, const char *authz)
{
    struct floe_sigv4_auth parsed;
    struct floe_error err = {0};
    if (floe_sigv4_parse_authorization(authz, &parsed, &err) != FLOE_OK) {
        floe_verr_reply_code(rq, 400, "IncompleteSignatureException", err.message);
        return false;
    }
    for (size_t i = 0; i < rq->nheaders; i++) {
        const char *name = rq->headers[i].name;
        if (strncasecmp(name, "x-amz-", 6) != 0 || signed_has(parsed.signed_headers, name))
            continue;
        char msg[320];
        snprintf(msg, sizeof(msg),
                 "Header '%.128s' is not signed: every x-amz-* header sent must be listed in "
                 "SignedHeaders in the AWS Authorization.",
                 name);
        floe_vlog(&rq->srv->cfg, FLOE_VLOG_INFO, "%s %s: signature rejected: %s", rq->method,
                  rq->path, msg);
        floe_verr_reply_code(rq, 403, "InvalidSignatureException", msg);
        return false;
    }
    return true;
}

/* The SHA-256 of nothing: stands in for a body not read yet (floe_vauth_precheck). */
static const char s_empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* floe_vauth_check(); headers_only: without x-amz-content-sha256 the signature itself is not
 * compared (the body it covers is not read yet), every other check is made. */
static bool check(struct floe_vreq *rq, const char *payload_hex, bool headers_only)
{
    const struct floe_vconfig *cfg = &rq->srv->cfg;
    const char *authz = floe_vreq_header(rq, "Authorization");
    struct floe_error err = {0};
    if (cfg->no_auth) {
        struct floe_sigv4_auth parsed;
        if (!authz) {
            floe_verr_reply_code(rq, 400, "MissingAuthenticationTokenException",
                                 "Missing Authentication Token");
            return false;
        }
        if (floe_sigv4_parse_authorization(authz, &parsed, &err) != FLOE_OK) {
            floe_verr_reply_code(rq, 400, "IncompleteSignatureException", err.message);
            return false;
        }
        rq->caller = floe_vaccounts_find(cfg, parsed.access_key_id);
        return true;
    }
    struct floe_sigv4_request req = {
        .method = rq->method,
        .path = rq->path,
        .query = rq->query,
        .headers = rq->headers,
        .nheaders = rq->nheaders,
        .payload_sha256_hex = payload_hex,
    };
    struct floe_sigv4_verify_opts opts = {
        .region = cfg->region,
        .service = "glacier",
        .now = time(NULL),
        .lookup = lookup_secret,
        .user = rq,
    };
    struct floe_sigv4_verdict verdict;
    int rc = floe_sigv4_verify(&req, authz, &opts, &verdict, &err);
    if (rc == FLOE_OK ||
        (headers_only && rc == FLOE_E_AUTH && verdict.reason == FLOE_SIGV4_MISMATCH))
        return amz_headers_signed(rq, authz);
    if (rc == FLOE_E_AUTH) {
        int status = 0;
        const char *code = floe_sigv4_reason_glacier_error(verdict.reason, &status);
        floe_vlog(&rq->srv->cfg, FLOE_VLOG_INFO, "%s %s: signature rejected (%s): %s", rq->method,
                  rq->path, floe_sigv4_reason_name(verdict.reason), err.message);
        floe_verr_reply_code(rq, (unsigned)status, code,
                             err.message[0] ? err.message : "Signature rejected");
        return false;
    }
    if (!payload_hex && !floe_vreq_header(rq, "x-amz-content-sha256")) {
        floe_verr_reply(rq, FLOE_VERR_MISSING_PARAMETER,
                        "Required header x-amz-content-sha256 is missing");
        return false;
    }
    floe_verr_reply_code(rq, 400, "IncompleteSignatureException",
                         err.message[0] ? err.message : "The request cannot be authenticated");
    return false;
}

bool floe_vauth_check(struct floe_vreq *rq, const char *payload_hex)
{
    return check(rq, payload_hex, false);
}

bool floe_vauth_precheck(struct floe_vreq *rq)
{
    if (floe_vreq_header(rq, "x-amz-content-sha256"))
        return check(rq, NULL, false);
    return check(rq, s_empty_sha256, true);
}

bool floe_vauth_account(struct floe_vreq *rq)
{
    const struct floe_vconfig *cfg = &rq->srv->cfg;
    const char *acct = rq->nseg > 0 ? rq->seg[0] : "";
    const char *own = rq->caller ? rq->caller->account_id : cfg->account_id;
    if (strcmp(acct, "-") == 0)
        acct = own;
    if (!floe_vaccounts_account_id_valid(acct)) {
        floe_verr_reply(rq, FLOE_VERR_ACCESS_DENIED,
                        "Access denied: \"%.64s\" is not an account id (12 digits, or - for the "
                        "signing account %s)",
                        acct, own);
        return false;
    }
    snprintf(rq->account, sizeof(rq->account), "%s", acct);
    if (rq->vault) {
        /* ':' is no vault name character but separates a key's account: a name holding one
         * must never reach another account's vault ("-/vaults/222222222222:photos") */
        if (strchr(rq->vault, ':')) {
            floe_verr_reply(rq, FLOE_VERR_NOT_FOUND,
                            "Vault not found for ARN: arn:aws:glacier:%s:%s:vaults/%.255s",
                            cfg->region, rq->account, rq->vault);
            return false;
        }
        if (!floe_vconfig_vault_key(cfg, rq->account, rq->vault, rq->vault_key)) {
            floe_verr_reply(rq, FLOE_VERR_INVALID_PARAMETER,
                            "Invalid vault name: longer than %d characters", FLOE_VAULT_NAME_MAX);
            return false;
        }
        rq->vault = rq->vault_key;
    }
    return floe_vpolicy_authorize(rq);
}
