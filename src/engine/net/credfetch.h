/*
 * credfetch.h - fetching keys from each kind of credential source: credential_process, STS
 * AssumeRole and AssumeRoleWithWebIdentity, the SSO portal, the container credentials endpoint,
 * the EC2 instance metadata service (IMDSv2).
 *
 * Each function is one blocking fetch with short timeouts (a plain libcurl easy handle, not
 * the client's transfer thread); it runs on the caller's thread (the chain at start, the
 * provider's refresh thread later). Endpoints and their test overrides are read from the
 * environment at each call (docs/credentials.md lists them). *out is written only on FLOE_OK;
 * messages name the source and never contain a secret. Failures are FLOE_E_AUTH unless said.
 */
#ifndef FLOE_ENGINE_CREDFETCH_H
#define FLOE_ENGINE_CREDFETCH_H

#include "credparse.h"

#include <stdbool.h>

/* TLS of the credential fetches, as the Glacier requests have it (--ca-bundle and the
 * profile's ca_bundle, --no-verify-ssl). Borrowed. NULL, or ca_bundle NULL: AWS_CA_BUNDLE,
 * else the system's trust store. */
struct floe_cred_tls {
    const char *ca_bundle;
    bool insecure; /* no certificate or host check */
};

/* credential_process: runs command with /bin/sh -c; its stdout is the JSON, its stderr goes to
 * floe's stderr. what names the profile in messages. */
int floe_cred_fetch_process(const char *command, const char *what, struct floe_cred_values *out,
                            struct floe_error *err);

struct floe_cred_role {
    const char *role_arn;
    const char *session_name;        /* NULL = "floe-<unix time>" */
    const char *external_id;         /* NULL = none */
    int duration_s;                  /* 0 = the service's default (1 hour) */
    const char *region;              /* the regional STS endpoint's region; NULL = us-east-1 */
    const struct floe_cred_tls *tls; /* NULL: see struct floe_cred_tls */
};

/* STS AssumeRole signed with base's keys. */
int floe_cred_fetch_assume_role(const struct floe_cred_role *r, const struct floe_cred_values *base,
                                struct floe_cred_values *out, struct floe_error *err);

/* STS GetCallerIdentity signed with keys (region: the regional endpoint's; NULL = us-east-1). */
int floe_cred_fetch_identity(const char *region, const struct floe_cred_tls *tls,
                             const struct floe_cred_values *keys, struct floe_caller_identity *out,
                             struct floe_error *err);

/* STS AssumeRoleWithWebIdentity with the token read from token_file (unsigned request). */
int floe_cred_fetch_web_identity(const struct floe_cred_role *r, const char *token_file,
                                 struct floe_cred_values *out, struct floe_error *err);

struct floe_cred_sso {
    const char *cache_key;  /* the sso_session name, or the legacy sso_start_url */
    const char *region;     /* sso_region */
    const char *account_id; /* sso_account_id */
    const char *role_name;  /* sso_role_name */
    const struct floe_cred_tls *tls;
};

/* The token `aws sso login` cached (~/.aws/sso/cache/<sha1 of cache_key>.json), then the
 * portal's GetRoleCredentials. */
int floe_cred_fetch_sso(const struct floe_cred_sso *s, struct floe_cred_values *out,
                        struct floe_error *err);

/* Is a container source configured (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)? */
bool floe_cred_container_configured(void);
/* The container credentials endpoint (ECS task role, EKS Pod Identity). */
int floe_cred_fetch_container(const struct floe_cred_tls *tls, struct floe_cred_values *out,
                              struct floe_error *err);

/* Is instance metadata disabled (AWS_EC2_METADATA_DISABLED=true)? */
bool floe_cred_imds_disabled(void);
/* IMDSv2: token PUT, role name, credentials. */
int floe_cred_fetch_imds(struct floe_cred_values *out, struct floe_error *err);

/* The SHA-1 hex of s (the SSO cache file name), into out[41]. */
void floe_cred_sha1_hex(const char *s, char out[41]);

#endif
