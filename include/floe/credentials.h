/*
 * floe/credentials.h - AWS credentials: the SDKs' provider chain, and refresh.
 *
 * A struct floe_credentials is a credential provider: it holds the current key pair (with a
 * session token and an expiration when the keys are temporary) and knows how to fetch them
 * again. floe_credentials_new_chain() finds the source the way the AWS SDKs do
 * (docs/credentials.md has the order, every variable and profile key); a client made with
 * it (struct floe_client_config credentials) signs every attempt with the current keys, and
 * temporary keys are refreshed by a background thread before they expire.
 */
#ifndef FLOE_CREDENTIALS_H
#define FLOE_CREDENTIALS_H

#include <stdbool.h>
#include <stdint.h>

#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct floe_credentials;

struct floe_credentials_options {
    /* The profile: NULL = AWS_PROFILE, AWS_DEFAULT_PROFILE, then "default". */
    const char *profile;
    /* The profile was named on the command line (--profile): the environment's keys are
     * skipped, as the aws CLI skips them, and a profile without credentials is an error. */
    bool profile_explicit;
    /* The region used for the regional STS endpoint (NULL = the profile's region, then
     * us-east-1). */
    const char *region;
    /* Stop after the environment and the profile: no container or instance metadata lookup
     * (the local floe-vault endpoint, where a laptop must not wait for metadata timeouts). */
    bool no_instance_sources;
    /* Keys to use when no source applies (the CLI passes floe-vault's documented local pair for
     * its default endpoint); NULL = none, and finding nothing is an error. Copied. */
    const char *fallback_access_key_id;
    const char *fallback_secret_access_key;
    /* TLS of the fetches over HTTPS (STS, the SSO portal, a container endpoint), as the
     * Glacier requests have it: the CA bundle to trust (NULL = AWS_CA_BUNDLE, else the system
     * store; copied), and no certificate check at all (--no-verify-ssl). */
    const char *ca_bundle;
    bool no_verify_ssl;
};

/*
 * floe_credentials_new_chain() - find credentials in the SDKs' order and fetch them once.
 * opts     IN: borrowed for the call (strings copied). NULL = all defaults.
 * out      OUT: set only on FLOE_OK; free with floe_credentials_destroy().
 * Returns  FLOE_OK; FLOE_E_AUTH when no source has credentials (the message lists what was
 *          tried) or a source failed (the message names it: a credential_process exit
 *          status, an STS error code, "run aws sso login", ...); FLOE_E_INVALID_ARG for a
 *          profile that is in neither shared file, or a configuration error (a source_profile
 *          loop, an unknown credential_source, mfa_serial).
 * Threads  any; blocks for the first fetch (network sources use short timeouts).
 */
FLOE_API int floe_credentials_new_chain(const struct floe_credentials_options *opts,
                                        struct floe_credentials **out, struct floe_error *err);

/*
 * floe_credentials_new_static() - a provider of one fixed key pair (never refreshed).
 * Strings are copied; session_token may be NULL. Returns FLOE_OK or FLOE_E_AUTH (a key
 * missing). out is set only on FLOE_OK.
 */
FLOE_API int floe_credentials_new_static(const char *access_key_id, const char *secret_access_key,
                                         const char *session_token, struct floe_credentials **out,
                                         struct floe_error *err);

/* floe_credentials_destroy() - stop the refresh thread and free (secrets are wiped). NULL is
 * fine. Not while a client made with it is alive (the client owns the provider it was given). */
FLOE_API void floe_credentials_destroy(struct floe_credentials *p);

struct floe_credentials_info {
    char source[160];        /* which source won: "environment", "profile dev: assume role
                                arn:aws:iam::...", "container", "instance metadata", ... */
    char access_key_id[129]; /* the current key id (never the secret) */
    int64_t expiration;      /* Unix seconds; 0 when the keys do not expire */
    uint64_t fetches;        /* how many times the keys were fetched (1 + refreshes) */
};

/* floe_credentials_describe() - what the provider holds now. Threads: any. */
FLOE_API void floe_credentials_describe(struct floe_credentials *p,
                                        struct floe_credentials_info *out);

struct floe_caller_identity {
    char account[32];  /* the 12-digit account id */
    char arn[512];     /* "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION", ":user/NAME", ... */
    char user_id[256]; /* the principal's unique id ("AROA...:session", "AIDA...") */
};

/*
 * floe_credentials_check() - ask STS GetCallerIdentity (as `aws sts get-caller-identity`),
 * signed with the provider's current keys, who they belong to. region: the regional STS
 * endpoint's (NULL = us-east-1); AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL override the
 * endpoint, AWS_CA_BUNDLE the trusted CAs. out written only on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_AUTH with STS's code and message (InvalidClientTokenId,
 *          ExpiredToken, ...) or a network failure naming STS.
 * Threads  any; blocks for one request (short timeouts).
 */
FLOE_API int floe_credentials_check(struct floe_credentials *p, const char *region,
                                    struct floe_caller_identity *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
