/*
 * vconfig.h - floe-vault's configuration: the values main.c reads from the command line, their
 * defaults, and what is derived from them alone (the default data directory, a vault's ARN).
 * A leaf module: it depends on nothing of the server, so every other module may include it.
 *
 * Threads: a configuration is filled by one thread before the server starts and is read-only
 * afterwards; the functions here keep no state and are safe from any thread.
 */
#ifndef FLOE_VAULT_VCONFIG_H
#define FLOE_VAULT_VCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum floe_vtier {
    FLOE_VTIER_EXPEDITED = 0,
    FLOE_VTIER_STANDARD = 1,
    FLOE_VTIER_BULK = 2,
    FLOE_VTIER_COUNT
};

/* --log-level: a line is written when its level is <= cfg.log_level (see vlog.h). */
enum floe_vlog_level { FLOE_VLOG_ERROR = 0, FLOE_VLOG_WARN, FLOE_VLOG_INFO, FLOE_VLOG_DEBUG };

struct floe_vnotify_target {
    char *topic_arn;
    char *url;
};

/* One access key floe-vault accepts (--credentials-file, or --access-key/--secret-key): the
 * account it belongs to and the ARN of the user it stands for (policies name either). */
struct floe_vcred {
    char *access_key, *secret_key;
    char *account_id; /* 12 digits */
    char *arn;        /* "arn:aws:iam::<account_id>:user/NAME" or ":root" */
};

struct floe_vconfig {
    char *host; /* listen address, e.g. "127.0.0.1" */
    char *port; /* "0" picks a free port */
    char *data_dir;
    char *port_file;  /* NULL: none */
    char *access_key; /* defaults: FLOE_VAULT_DEFAULT_ACCESS_KEY / _SECRET_KEY */
    char *secret_key;
    char *account_id; /* the default account: "-" of the one-key shortcut, and the owner of
                         every vault of a data dir from before accounts (see vault keys) */
    char *region;
    /* every access key accepted: --credentials-file, else the one --access-key pair (see
     * accounts.h); the defaults' pair until main.c sets them before the server starts */
    struct floe_vcred *creds;
    size_t ncreds;
    int64_t delay_ms[FLOE_VTIER_COUNT]; /* job completion delay per tier */
    int64_t job_expiry_ms;              /* how long finished jobs and their output stay */
    int64_t inventory_staleness_ms;     /* inventories show the vault as of completion - this */
    int64_t upload_expiry_ms;           /* idle multipart uploads are removed after this */
    int64_t request_timeout_ms;         /* a body with no bytes for this long: 408; 0: never */
    int64_t header_timeout_ms;          /* a request's headers must be in within this; 0: never */
    uint64_t min_body_rate;          /* bytes/s a body must average over rate_window_ms; 0: off */
    int64_t rate_window_ms;          /* the window of min_body_rate */
    unsigned max_connections;        /* open at once beyond this: 503 SlowDown; 0: no limit */
    unsigned max_client_connections; /* the same per client address */
    struct floe_vnotify_target *notify; /* --notify TOPIC_ARN=URL, nnotify entries */
    int nnotify;
    int log_level;           /* enum floe_vlog_level */
    int blob_io;             /* enum floe_vblob_io: how upload bodies are written (--blob-io) */
    char *select_output_dir; /* --select-output-dir: select output as files; NULL: none */
    int select_workers;      /* --select-workers: slices per select job; 0: one per CPU */
    char *s3_endpoint;       /* --s3-endpoint: select output to this S3 endpoint; NULL: none */
    char *s3_region;         /* --s3-region (NULL: the profile's, then us-east-1) */
    char *s3_profile;        /* --s3-profile: the credentials' profile (NULL: the SDK chain) */
    char *sns_endpoint;      /* --sns-endpoint: job notifications Published there; NULL: none */
    char *sns_region;        /* --sns-region (NULL: us-east-1) */
    bool no_auth;
    uint64_t scrub_rate;               /* bytes/s the background scrubber reads; 0: off */
    int64_t scrub_interval_ms;         /* a scrub pass starts at most this often */
    bool delete_vault_after_inventory; /* DeleteVault as the service: refused until an inventory
                                          newer than the last write shows the vault empty */
    /* --tls-cert / --tls-key: HTTPS with this PEM certificate (chain) and private key, read by
     * main.c before the server starts; NULL = plain HTTP. The key is wiped when freed. */
    char *tls_cert_pem;
    char *tls_key_pem;
};

#define FLOE_VAULT_DEFAULT_ACCESS_KEY "AKIDFLOEVAULTLOCAL"
#define FLOE_VAULT_DEFAULT_SECRET_KEY "floe-vault-local-secret"
#define FLOE_VAULT_DEFAULT_ACCOUNT "123456789012"
#define FLOE_VAULT_DEFAULT_REGION "us-east-1"
/* floe's default endpoint (FLOE_DEFAULT_ENDPOINT) is http://127.0.0.1:9190 */
#define FLOE_VAULT_DEFAULT_HOST "127.0.0.1"
#define FLOE_VAULT_DEFAULT_PORT "9190"
#define FLOE_VAULT_DEFAULT_REQUEST_TIMEOUT_S 60
#define FLOE_VAULT_DEFAULT_HEADER_TIMEOUT_S 30
#define FLOE_VAULT_DEFAULT_MIN_BODY_RATE 1024
#define FLOE_VAULT_DEFAULT_RATE_WINDOW_S 30
#define FLOE_VAULT_DEFAULT_MAX_CONNECTIONS 1024
#define FLOE_VAULT_DEFAULT_MAX_CLIENT_CONNECTIONS 256

/*
 * floe_vconfig_defaults() - fill every default (listen 127.0.0.1:9190, delays 1/3/5 s, expiry
 * 24 h, request timeout 60 s, header timeout 30 s, minimum body rate 1024 B/s over 30 s,
 * 1024 connections, 256 per client, creds above, as cfg->creds' one key too); data_dir stays NULL
 * (see floe_vconfig_default_data_dir). The strings are malloc'd and owned by cfg.
 */
void floe_vconfig_defaults(struct floe_vconfig *cfg);

/* floe_vconfig_free() - free every string and the notify table cfg owns (the struct itself
 * is the caller's). */
void floe_vconfig_free(struct floe_vconfig *cfg);

/* floe_vconfig_add_cred() - one more accepted key in cfg->creds (strings copied). */
void floe_vconfig_add_cred(struct floe_vconfig *cfg, const char *access_key, const char *secret_key,
                           const char *account_id, const char *arn);

/* floe_vconfig_single_cred() - cfg->creds = the one-key shortcut alone: cfg->access_key and
 * secret_key as the root of cfg->account_id ("arn:aws:iam::ACCOUNT:root"). Call again after
 * changing them. */
void floe_vconfig_single_cred(struct floe_vconfig *cfg);

/* floe_vconfig_clear_creds() - free cfg->creds (secrets wiped) and leave it empty. */
void floe_vconfig_clear_creds(struct floe_vconfig *cfg);

/*
 * floe_vconfig_default_data_dir() - $XDG_DATA_HOME/floe-vault, else $HOME/.local/share/floe-vault
 * (an empty or relative XDG_DATA_HOME is ignored, as the XDG spec says). Returns a malloc'd
 * path (the caller frees it), or NULL when neither variable is usable.
 */
char *floe_vconfig_default_data_dir(void);

/*
 * Vault keys: vault names are per account, and every table keys a vault by one string, its key:
 * the name itself for a vault of the default account (cfg->account_id; so a data dir from
 * before accounts opens unchanged), "<account id>:<name>" for any other account (':' is not a
 * vault name character, so keys never collide). Handlers see rq->vault as the key; the name and
 * account are shown through the functions below.
 */
#define FLOE_VAULT_NAME_MAX 255
#define FLOE_VAULT_KEY_MAX (12 + 1 + FLOE_VAULT_NAME_MAX + 1)

/* floe_vconfig_vault_key() - the key of vault name of account into out (FLOE_VAULT_KEY_MAX
 * bytes). Returns false (out empty) when name is longer than FLOE_VAULT_NAME_MAX. */
bool floe_vconfig_vault_key(const struct floe_vconfig *cfg, const char *account, const char *name,
                            char *out);

/* floe_vconfig_vault_name() - the vault name of key (a pointer into key). */
const char *floe_vconfig_vault_name(const char *key);

/* floe_vconfig_vault_account() - the account id owning key into out (16 bytes). */
void floe_vconfig_vault_account(const struct floe_vconfig *cfg, const char *key, char *out);

/* floe_vconfig_vault_arn() - "arn:aws:glacier:<region>:<account>:vaults/<name>" of the vault
 * key into out (truncated to cap). */
void floe_vconfig_vault_arn(const struct floe_vconfig *cfg, const char *vault, char *out,
                            size_t cap);

#endif
