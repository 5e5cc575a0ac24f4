/*
 * credchain.c - the credential chain's order, and fetching from a resolved source
 * (credchain.h).
 *
 * DESIGN: resolution and fetching are separate. Resolution reads only the environment and the
 * two shared files and builds a small tree (an assumed role's base source hangs below it), so
 * the order is testable without a network and configuration errors (a source_profile loop,
 * mfa_serial) come out before anything is sent. Fetching walks the tree: an assumed role
 * fetches its base keys afresh each time (they may be temporary themselves), then calls STS.
 */
#include "credchain.h"

#include "alloc.h"
#include "floe/awsini.h"
#include "credfetch.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const floe_cred_kind_names[FLOE_CRED_KIND_COUNT] = {
    "static", "process", "assume-role", "web-identity", "sso", "container", "imds"};
static_assert(sizeof(floe_cred_kind_names) / sizeof(floe_cred_kind_names[0]) ==
                  FLOE_CRED_KIND_COUNT,
              "a name per kind");

#define MAX_CHAIN 16

struct files {
    char *cred, *conf;
    const char *region; /* the caller's region, for STS */
};

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static struct floe_cred_source *source_new(enum floe_cred_kind kind, const char *fmt,
                                           const char *arg)
{
    struct floe_cred_source *s = floe_xcalloc(1, sizeof(*s));
    s->kind = kind;
    snprintf(s->desc, sizeof(s->desc), fmt, arg);
    return s;
}

void floe_cred_source_free(struct floe_cred_source *s)
{
    if (!s)
        return;
    floe_cred_values_free(&s->keys);
    free(s->command);
    free(s->role.arn);
    free(s->role.session_name);
    free(s->role.external_id);
    free(s->role.region);
    free(s->token_file);
    free(s->sso.cache_key);
    free(s->sso.region);
    free(s->sso.account_id);
    free(s->sso.role_name);
    free(s->tried);
    free(s->ca_bundle);
    floe_cred_source_free(s->base);
    free(s);
}

/* A profile key: the credentials file's value, else the config file's. */
static char *pget(const struct files *f, const char *profile, const char *key)
{
    char *v = floe_awsini_get(f->cred, FLOE_AWSINI_CREDENTIALS, profile, key, NULL);
    if (!v)
        v = floe_awsini_get(f->conf, FLOE_AWSINI_CONFIG, profile, key, NULL);
    return v;
}

/* Static keys of profile in one file (kind), as a source; NULL when the pair is not there. */
static struct floe_cred_source *static_keys(const struct files *f, const char *profile,
                                            enum floe_awsini_kind kind)
{
    const char *path = kind == FLOE_AWSINI_CREDENTIALS ? f->cred : f->conf;
    char *ak = floe_awsini_get(path, kind, profile, "aws_access_key_id", NULL);
    char *sk = floe_awsini_get(path, kind, profile, "aws_secret_access_key", NULL);
    if (!ak || !sk || !*ak || !*sk) {
        free(ak);
        free(sk);
        return NULL;
    }
    struct floe_cred_source *s =
        source_new(FLOE_CRED_STATIC,
                   kind == FLOE_AWSINI_CREDENTIALS ? "profile %s: shared credentials file"
                                                   : "profile %s: config file",
                   profile);
    s->keys.access_key_id = ak;
    s->keys.secret_access_key = sk;
    s->keys.session_token = floe_awsini_get(path, kind, profile, "aws_session_token", NULL);
    return s;
}

static struct floe_cred_source *env_keys(struct floe_error *err, int *rc)
{
    const char *ak = env_nonempty("AWS_ACCESS_KEY_ID"), *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
    if ((ak != NULL) != (sk != NULL)) {
        *rc = floe_error_set(err, FLOE_E_AUTH,
                             "partial credentials in the environment: %s is set but %s is not",
                             ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                             ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return NULL;
    }
    if (!ak)
        return NULL;
    struct floe_cred_source *s = source_new(FLOE_CRED_STATIC, "%s", "environment");
    s->keys.access_key_id = floe_xstrdup(ak);
    s->keys.secret_access_key = floe_xstrdup(sk);
    const char *tok = env_nonempty("AWS_SESSION_TOKEN");
    s->keys.session_token = tok ? floe_xstrdup(tok) : NULL;
    return s;
}

/* The role fields of an assume-role or web-identity source, from the profile. */
static int role_fields(const struct files *f, const char *profile, struct floe_cred_source *s,
                       char *arn, struct floe_error *err)
{
    s->role.arn = arn;
    s->role.session_name = pget(f, profile, "role_session_name");
    s->role.external_id = pget(f, profile, "external_id");
    char *reg = f->region ? NULL : pget(f, profile, "region");
    s->role.region = floe_xstrdup(f->region ? f->region : reg ? reg : "us-east-1");
    free(reg);
    char *dur = pget(f, profile, "duration_seconds");
    int rc = FLOE_OK;
    if (dur) {
        char *end;
        long v = strtol(dur, &end, 10);
        if (*end || v < 900 || v > 43200)
            rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                "profile %s: duration_seconds \"%.20s\" must be a number of "
                                "seconds from 900 to 43200",
                                profile, dur);
        s->role.duration_s = (int)v;
    }
    free(dur);
    return rc;
}

struct visit {
    const char *names[MAX_CHAIN];
    int n;
};

static int resolve_profile(const struct files *f, const char *profile, struct visit *v,
                           bool is_source, struct floe_cred_source **out, struct floe_error *err);

/* The base of an assumed role: credential_source or source_profile. */
static int role_base(const struct files *f, const char *profile, struct visit *v,
                     struct floe_cred_source **out, struct floe_error *err)
{
    char *cs = pget(f, profile, "credential_source");
    char *sp = pget(f, profile, "source_profile");
    int rc = FLOE_OK;
    if (cs && sp) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "profile %s has both source_profile and credential_source: keep one",
                            profile);
    } else if (cs) {
        if (strcmp(cs, "Environment") == 0) {
            *out = env_keys(err, &rc);
            if (!*out && !rc)
                rc = floe_error_set(err, FLOE_E_AUTH,
                                    "profile %s: credential_source Environment, but "
                                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
                                    profile);
        } else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
            *out = source_new(FLOE_CRED_IMDS, "%s", "instance metadata");
        } else if (strcmp(cs, "EcsContainer") == 0) {
            *out = source_new(FLOE_CRED_CONTAINER, "%s", "container");
        } else {
            rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                                "profile %s: credential_source \"%.40s\" is not Environment, "
                                "Ec2InstanceMetadata or EcsContainer",
                                profile, cs);
        }
    } else if (sp) {
        bool seen = false;
        for (int i = 0; i < v->n; i++)
            seen |= strcmp(v->names[i], sp) == 0;
        struct floe_cred_source *self = NULL;
        if (strcmp(sp, profile) == 0)
            self = static_keys(f, sp, FLOE_AWSINI_CREDENTIALS);
        if (self) { /* a profile that is its own source: its static keys (as botocore) */
            *out = self;
        } else if (seen || v->n >= MAX_CHAIN) {
            char chain[600] = "";
            for (int i = 0; i < v->n; i++)
                snprintf(chain + strlen(chain), sizeof(chain) - strlen(chain), "%s -> ",
                         v->names[i]);
            rc = floe_error_set(err, FLOE_E_INVALID_ARG, "source_profile loop: %s%s", chain, sp);
        } else {
            rc = resolve_profile(f, sp, v, true, out, err);
        }
    } else {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "profile %s has role_arn but no source_profile, credential_source "
                            "or web_identity_token_file",
                            profile);
    }
    free(cs);
    free(sp);
    return rc;
}

static int assume_role(const struct files *f, const char *profile, char *arn, struct visit *v,
                       struct floe_cred_source **out, struct floe_error *err)
{
    char *mfa = pget(f, profile, "mfa_serial");
    if (mfa) {
        free(mfa);
        free(arn);
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "profile %s has mfa_serial: floe runs without a terminal prompt and "
                              "cannot ask for the MFA code; use credentials without MFA (or "
                              "cached keys from aws sts get-session-token in another profile)",
                              profile);
    }
    struct floe_cred_source *s =
        source_new(FLOE_CRED_ASSUME_ROLE, "profile %s: assume role", profile);
    int rc = role_fields(f, profile, s, arn, err);
    char *tf = rc ? NULL : pget(f, profile, "web_identity_token_file");
    if (tf) {
        s->kind = FLOE_CRED_WEB_IDENTITY;
        s->token_file = tf;
        snprintf(s->desc, sizeof(s->desc), "profile %.50s: web identity %.80s", profile,
                 s->role.arn);
    } else if (!rc) {
        snprintf(s->desc, sizeof(s->desc), "profile %.50s: assume role %.80s", profile,
                 s->role.arn);
        rc = role_base(f, profile, v, &s->base, err);
    }
    if (rc)
        floe_cred_source_free(s);
    else
        *out = s;
    return rc;
}

static struct floe_cred_source *env_web_identity(const struct files *f)
{
    const char *tf = env_nonempty("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *arn = env_nonempty("AWS_ROLE_ARN");
    if (!tf || !arn)
        return NULL;
    struct floe_cred_source *s = source_new(FLOE_CRED_WEB_IDENTITY,
                                            "web identity %.100s "
                                            "(AWS_WEB_IDENTITY_TOKEN_FILE)",
                                            arn);
    s->token_file = floe_xstrdup(tf);
    s->role.arn = floe_xstrdup(arn);
    const char *sn = env_nonempty("AWS_ROLE_SESSION_NAME");
    s->role.session_name = sn ? floe_xstrdup(sn) : NULL;
    s->role.region = floe_xstrdup(f->region ? f->region : "us-east-1");
    return s;
}

/* SSO: sso_session (its section holds sso_start_url and sso_region) or the legacy keys. */
static int sso_source(const struct files *f, const char *profile, struct floe_cred_source **out,
                      struct floe_error *err)
{
    char *session = pget(f, profile, "sso_session");
    char *start = pget(f, profile, "sso_start_url");
    if (!session && !start)
        return FLOE_OK;
    struct floe_cred_source *s = source_new(FLOE_CRED_SSO, "profile %s: SSO", profile);
    s->sso.account_id = pget(f, profile, "sso_account_id");
    s->sso.role_name = pget(f, profile, "sso_role_name");
    if (session) {
        bool found = false;
        s->sso.region =
            floe_awsini_get(f->conf, FLOE_AWSINI_SSO_SESSION, session, "sso_region", &found);
        s->sso.cache_key = session;
        free(start);
        if (!found) {
            floe_error_set(err, FLOE_E_INVALID_ARG,
                           "profile %s: sso_session \"%.60s\" has no [sso-session %.60s] section "
                           "in the config file",
                           profile, session, session);
            floe_cred_source_free(s); /* frees session */
            return FLOE_E_INVALID_ARG;
        }
    } else {
        s->sso.cache_key = start;
        s->sso.region = pget(f, profile, "sso_region");
    }
    const char *missing = !s->sso.account_id  ? "sso_account_id"
                          : !s->sso.role_name ? "sso_role_name"
                          : !s->sso.region    ? "sso_region"
                                              : NULL;
    if (missing) {
        floe_cred_source_free(s);
        return floe_error_set(err, FLOE_E_INVALID_ARG, "profile %s: SSO needs %s", profile,
                              missing);
    }
    *out = s;
    return FLOE_OK;
}

/* The profile order. *out stays NULL (FLOE_OK) when the profile has no credentials. */
static int resolve_profile(const struct files *f, const char *profile, struct visit *v,
                           bool is_source, struct floe_cred_source **out, struct floe_error *err)
{
    v->names[v->n++] = profile;
    int rc = FLOE_OK;
    if (is_source && (*out = static_keys(f, profile, FLOE_AWSINI_CREDENTIALS)))
        return FLOE_OK; /* botocore: a source profile's static keys win */
    char *arn = pget(f, profile, "role_arn");
    if (arn)
        return assume_role(f, profile, arn, v, out, err);
    char *wit = pget(f, profile, "web_identity_token_file");
    if (wit) {
        free(wit);
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "profile %s has web_identity_token_file but no role_arn", profile);
    }
    if (!is_source && (*out = env_web_identity(f)))
        return FLOE_OK;
    rc = sso_source(f, profile, out, err);
    if (rc || *out)
        return rc;
    if ((*out = static_keys(f, profile, FLOE_AWSINI_CREDENTIALS)))
        return FLOE_OK;
    char *cmd = pget(f, profile, "credential_process");
    if (cmd) {
        *out = source_new(FLOE_CRED_PROCESS, "profile %s: credential_process", profile);
        (*out)->command = cmd;
        return FLOE_OK;
    }
    *out = static_keys(f, profile, FLOE_AWSINI_CONFIG);
    if (!*out && is_source)
        rc = floe_error_set(err, FLOE_E_AUTH, "source_profile %s has no credentials", profile);
    return rc;
}

int floe_cred_source_resolve(const struct floe_credentials_options *o,
                             struct floe_cred_source **out, struct floe_error *err)
{
    static const struct floe_credentials_options none = {0};
    if (!o)
        o = &none;
    const char *profile = o->profile;
    if (!profile)
        profile = env_nonempty("AWS_PROFILE");
    if (!profile)
        profile = env_nonempty("AWS_DEFAULT_PROFILE");
    bool named = profile != NULL;
    if (!profile)
        profile = "default";
    struct files f = {floe_awsini_credentials_path(), floe_awsini_config_path(), o->region};
    struct floe_cred_source *s = NULL;
    int rc = FLOE_OK;
    if (!o->profile_explicit)
        s = env_keys(err, &rc);
    bool in_cred = false, in_conf = false;
    free(floe_awsini_get(f.cred, FLOE_AWSINI_CREDENTIALS, profile, "-", &in_cred));
    free(floe_awsini_get(f.conf, FLOE_AWSINI_CONFIG, profile, "-", &in_conf));
    if (!s && !rc && named && !in_cred && !in_conf)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "the profile \"%s\" is in neither %s nor %s",
                            profile, f.cred ? f.cred : "~/.aws/credentials",
                            f.conf ? f.conf : "~/.aws/config");
    struct visit v = {.n = 0};
    if (!s && !rc)
        rc = resolve_profile(&f, profile, &v, false, &s, err);
    if (!s && !rc && o->profile_explicit)
        rc = floe_error_set(err, FLOE_E_AUTH,
                            "profile \"%s\" has no credentials: add aws_access_key_id and "
                            "aws_secret_access_key, role_arn, sso_session or credential_process "
                            "to it in %s",
                            profile, f.cred ? f.cred : "~/.aws/credentials");
    char tried[512];
    snprintf(tried, sizeof(tried),
             "tried the environment (AWS_ACCESS_KEY_ID), profile \"%s\" in %s and %s, container "
             "credentials (AWS_CONTAINER_CREDENTIALS_* not set)",
             profile, f.cred ? f.cred : "~/.aws/credentials", f.conf ? f.conf : "~/.aws/config");
    if (!s && !rc && floe_cred_container_configured()) {
        s = source_new(FLOE_CRED_CONTAINER, "%s", "container");
    } else if (!s && !rc && !o->no_instance_sources && !floe_cred_imds_disabled()) {
        s = source_new(FLOE_CRED_IMDS, "%s", "instance metadata");
        s->tried = floe_xstrdup(tried);
    } else if (!s && !rc && o->fallback_access_key_id && o->fallback_secret_access_key) {
        s = source_new(FLOE_CRED_STATIC, "%s", "floe-vault local default");
        s->keys.access_key_id = floe_xstrdup(o->fallback_access_key_id);
        s->keys.secret_access_key = floe_xstrdup(o->fallback_secret_access_key);
    } else if (!s && !rc) {
        rc = floe_error_set(err, FLOE_E_AUTH, "no AWS credentials found: %s%s", tried,
                            o->no_instance_sources ? ""
                                                   : ", instance metadata "
                                                     "(AWS_EC2_METADATA_DISABLED)");
    }
    free(f.cred);
    free(f.conf);
    if (rc) {
        floe_cred_source_free(s);
        return rc;
    }
    s->ca_bundle = o->ca_bundle && *o->ca_bundle ? floe_xstrdup(o->ca_bundle) : NULL;
    s->tls.ca_bundle = s->ca_bundle;
    s->tls.insecure = o->no_verify_ssl;
    *out = s;
    return rc;
}

/* floe_cred_source_fetch() with the root's TLS for every source of the tree. */
static int fetch(const struct floe_cred_source *s, const struct floe_cred_tls *tls,
                 struct floe_cred_values *out, struct floe_error *err)
{
    struct floe_cred_role r = {s->role.arn,        s->role.session_name, s->role.external_id,
                               s->role.duration_s, s->role.region,       tls};
    switch (s->kind) {
    case FLOE_CRED_STATIC:
        out->access_key_id = floe_xstrdup(s->keys.access_key_id);
        out->secret_access_key = floe_xstrdup(s->keys.secret_access_key);
        out->session_token = s->keys.session_token ? floe_xstrdup(s->keys.session_token) : NULL;
        out->expiration = 0;
        return FLOE_OK;
    case FLOE_CRED_PROCESS: return floe_cred_fetch_process(s->command, s->desc, out, err);
    case FLOE_CRED_ASSUME_ROLE: {
        struct floe_cred_values base = {0};
        int rc = fetch(s->base, tls, &base, err);
        if (rc)
            return rc;
        rc = floe_cred_fetch_assume_role(&r, &base, out, err);
        floe_cred_values_free(&base);
        return rc;
    }
    case FLOE_CRED_WEB_IDENTITY: return floe_cred_fetch_web_identity(&r, s->token_file, out, err);
    case FLOE_CRED_SSO: {
        struct floe_cred_sso sso = {s->sso.cache_key, s->sso.region, s->sso.account_id,
                                    s->sso.role_name, tls};
        return floe_cred_fetch_sso(&sso, out, err);
    }
    case FLOE_CRED_CONTAINER: return floe_cred_fetch_container(tls, out, err);
    case FLOE_CRED_IMDS: {
        int rc = floe_cred_fetch_imds(out, err);
        if (rc && s->tried) {
            struct floe_error e2 = {0};
            floe_error_set(&e2, FLOE_E_AUTH, "no AWS credentials found: %s, instance metadata (%s)",
                           s->tried, err->message);
            *err = e2;
        }
        return rc;
    }
    case FLOE_CRED_KIND_COUNT: break;
    }
    return floe_error_set(err, FLOE_E_INVALID_ARG, "unknown credential source");
}

int floe_cred_source_fetch(const struct floe_cred_source *s, struct floe_cred_values *out,
                           struct floe_error *err)
{
    return fetch(s, &s->tls, out, err);
}
