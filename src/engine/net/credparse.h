/*
 * credparse.h - the answers credential sources give, parsed: credential_process JSON, STS
 * AssumeRole / AssumeRoleWithWebIdentity XML, the SSO token cache and GetRoleCredentials,
 * container and instance-metadata JSON, ISO 8601 expirations.
 *
 * Pure functions: no I/O, no threads, no global state; safe from any thread. Every parser
 * writes *out only on FLOE_OK, and its messages never contain a secret.
 */
#ifndef FLOE_ENGINE_CREDPARSE_H
#define FLOE_ENGINE_CREDPARSE_H

#include "floe/credentials.h"
#include "floe/error.h"

#include <stddef.h>
#include <stdint.h>

/* One set of keys as a source returned them; the strings are malloc'd and owned. */
struct floe_cred_values {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when none */
    int64_t expiration;  /* Unix seconds; 0 = does not expire */
};

/* Frees the strings (the secret wiped first) and zeroes v. NULL-safe, idempotent. */
void floe_cred_values_free(struct floe_cred_values *v);

/* An ISO 8601 / RFC 3339 UTC time ("2026-12-04T09:00:00Z", fractions, "+00:00" or a numeric
 * offset, "UTC" suffix as old aws CLI caches wrote it) -> Unix seconds. FLOE_OK or
 * FLOE_E_INVALID_ARG. */
int floe_cred_parse_time(const char *s, int64_t *out);

/*
 * floe_cred_parse_process() - credential_process output: a JSON object with "Version": 1,
 * AccessKeyId, SecretAccessKey, optional SessionToken and Expiration (ISO 8601). what names
 * the source in messages. FLOE_OK or FLOE_E_AUTH (not JSON, another Version, a field missing,
 * an Expiration that is not a time).
 */
int floe_cred_parse_process(const char *text, size_t n, const char *what,
                            struct floe_cred_values *out, struct floe_error *err);

/*
 * floe_cred_parse_metadata() - the JSON of the EC2 instance metadata service or the container
 * credentials endpoint: AccessKeyId, SecretAccessKey, Token, Expiration (and, from IMDS, a
 * "Code" that must be "Success"). FLOE_OK or FLOE_E_AUTH.
 */
int floe_cred_parse_metadata(const char *text, size_t n, const char *what,
                             struct floe_cred_values *out, struct floe_error *err);

/*
 * floe_cred_parse_sts() - an STS AssumeRole or AssumeRoleWithWebIdentity answer (XML).
 * http_status 2xx: the four fields of <Credentials> are required. Otherwise the
 * <Error><Code> and <Message> become FLOE_E_AUTH "STS <op>: <Code>: <Message>" (err->code
 * holds the Code). The XML is not parsed in general: the elements are found by name and their
 * text unescaped (the five predefined entities and numeric references); CDATA is refused.
 */
int floe_cred_parse_sts(const char *xml, size_t n, long http_status, const char *op,
                        struct floe_cred_values *out, struct floe_error *err);

/* floe_cred_parse_identity() - an STS GetCallerIdentity answer: Arn and Account required,
 * UserId copied when present; an error answer as floe_cred_parse_sts(). FLOE_OK or
 * FLOE_E_AUTH; out written only on FLOE_OK. */
int floe_cred_parse_identity(const char *xml, size_t n, long http_status,
                             struct floe_caller_identity *out, struct floe_error *err);

/*
 * floe_cred_parse_sso_cache() - a token file that `aws sso login` wrote under
 * ~/.aws/sso/cache: accessToken and expiresAt. now: Unix seconds. A token expired (or
 * expiring within a minute) or missing says to run `aws sso login`. *token is malloc'd.
 * FLOE_OK or FLOE_E_AUTH.
 */
int floe_cred_parse_sso_cache(const char *text, size_t n, int64_t now, const char *login_hint,
                              char **token, struct floe_error *err);

/* floe_cred_parse_sso_role() - the SSO portal's GetRoleCredentials answer: roleCredentials
 * {accessKeyId, secretAccessKey, sessionToken, expiration (Unix milliseconds)}. */
int floe_cred_parse_sso_role(const char *text, size_t n, struct floe_cred_values *out,
                             struct floe_error *err);

#endif
