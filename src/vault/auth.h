/*
 * auth.h - request authentication for floe-vault: SigV4 verification of every request with
 * the access keys of accounts.h (floe_sigv4_verify; the key found becomes rq->caller), and the
 * account id of the path ("-": the caller's; another account's vaults are reached only as
 * their vault policies allow, policy.h).
 *
 * Threads: safe from any thread; reads only the read-only configuration.
 */
#ifndef FLOE_VAULT_AUTH_H
#define FLOE_VAULT_AUTH_H

#include <stdbool.h>

#include "vreq.h"

/*
 * floe_vauth_check() - verify rq's signature.
 * payload_hex  IN: hex SHA-256 of the body, or NULL to take x-amz-content-sha256 (uploads:
 *              the body is then checked against that header after it is read).
 * Returns  true when the request may proceed; false after answering the Glacier error
 *          (MissingAuthenticationTokenException 400, IncompleteSignatureException 400,
 *          UnrecognizedClientException 400, InvalidSignatureException 403, ...). A valid
 *          signature is still refused (403 InvalidSignatureException naming the header) when
 *          an x-amz-* header sent is not in SignedHeaders.
 * With --no-auth, only a well-formed Authorization header is required.
 */
bool floe_vauth_check(struct floe_vreq *rq, const char *payload_hex);

/*
 * floe_vauth_precheck() - admission of a request whose body is not read yet: with
 * x-amz-content-sha256, the whole signature over the headers and that declared payload hash
 * (the body must still be checked against it: floe_vauth_check() with its hash does both);
 * without it, everything the headers decide (Authorization present and well-formed, date and
 * skew, scope, known access key, signed headers present, every x-amz-* header signed), all
 * but the comparison of the signature itself, which covers the body.
 * Returns  true when the body may be read; false after answering as floe_vauth_check() does.
 */
bool floe_vauth_precheck(struct floe_vreq *rq);

/*
 * floe_vauth_account() - the path's account id (rq->seg[0]; "-" is the signing key's account)
 * into rq->account, rq->vault turned into the vault's key (vconfig.h: vault names are per
 * account), and the caller's access to it (floe_vpolicy_authorize: another account's vaults
 * only as their policies allow).
 * Returns  true, or false after answering 403 AccessDeniedException (or 400 for a vault name
 *          too long to exist).
 */
bool floe_vauth_account(struct floe_vreq *rq);

#endif
