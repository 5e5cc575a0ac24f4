/*
 * credchain.h - which credential source applies, found in the AWS SDKs' order from the
 * environment and the shared files, as a tree of sources (an assumed role points at the source
 * of its base keys); and one fetch from such a tree.
 *
 * The order (docs/credentials.md): environment keys (unless the profile was named on the
 * command line) -> the profile's role_arn (source_profile / credential_source / its
 * web_identity_token_file) -> AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN -> the profile's SSO
 * -> static keys in the credentials file -> credential_process -> static keys in the config
 * file -> container credentials -> instance metadata. A source profile with static keys uses
 * them; one without role_arn goes through the profile order; a loop of source_profile is an
 * error.
 *
 * No threads of its own: a source tree is immutable after floe_cred_source_resolve(), so
 * several threads may fetch from it, but the provider (credentials.c) fetches from one.
 */
#ifndef FLOE_ENGINE_CREDCHAIN_H
#define FLOE_ENGINE_CREDCHAIN_H

#include "credfetch.h"
#include "credparse.h"
#include "floe/credentials.h"

#include <stdbool.h>

enum floe_cred_kind {
    FLOE_CRED_STATIC,
    FLOE_CRED_PROCESS,
    FLOE_CRED_ASSUME_ROLE,
    FLOE_CRED_WEB_IDENTITY,
    FLOE_CRED_SSO,
    FLOE_CRED_CONTAINER,
    FLOE_CRED_IMDS,
    FLOE_CRED_KIND_COUNT
};
extern const char *const floe_cred_kind_names[FLOE_CRED_KIND_COUNT];

struct floe_cred_source {
    enum floe_cred_kind kind;
    char desc[160];               /* "profile dev: assume role arn:..." (no secret) */
    struct floe_cred_values keys; /* STATIC */
    char *command;                /* PROCESS */
    struct {                      /* ASSUME_ROLE, WEB_IDENTITY */
        char *arn, *session_name, *external_id, *region;
        int duration_s;
    } role;
    char *token_file; /* WEB_IDENTITY */
    struct {          /* SSO */
        char *cache_key, *region, *account_id, *role_name;
    } sso;
    struct floe_cred_source *base; /* ASSUME_ROLE: where its base keys come from (owned) */
    char *tried;                   /* IMDS as the last resort: what the chain tried before */
    /* the root's: TLS of its fetches and its base's (options ca_bundle, no_verify_ssl) */
    char *ca_bundle;
    struct floe_cred_tls tls; /* tls.ca_bundle points at ca_bundle */
};

/*
 * floe_cred_source_resolve() - the source that applies (reads the environment and the shared
 * files; no network, no process). out is set only on FLOE_OK; free with floe_cred_source_free.
 * Returns FLOE_OK, FLOE_E_AUTH (nothing applies: the message lists what was tried),
 * FLOE_E_INVALID_ARG (a profile that does not exist, a source_profile loop, mfa_serial, a
 * role_arn without a source, an unknown credential_source, partial keys).
 */
int floe_cred_source_resolve(const struct floe_credentials_options *o,
                             struct floe_cred_source **out, struct floe_error *err);
void floe_cred_source_free(struct floe_cred_source *s);

/* floe_cred_source_fetch() - keys from s now (base sources fetched first), with s's TLS. */
int floe_cred_source_fetch(const struct floe_cred_source *s, struct floe_cred_values *out,
                           struct floe_error *err);

#endif
