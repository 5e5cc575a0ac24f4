/*
 * server.h - floe-vault's process-wide context: the configuration (read-only once serving)
 * and the handles of every subsystem (database, blob store, job scheduler, notifier, HTTP).
 * main.c fills the configuration from the command line; floe_vserver_start() opens the data
 * directory, sweeps orphans, and starts the threads; floe_vserver_stop() stops them in reverse.
 *
 * Threads: after floe_vserver_start() returns, cfg is read-only and may be read from any
 * thread; the handles are internally synchronised (see each module).
 */
#ifndef FLOE_VAULT_SERVER_H
#define FLOE_VAULT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "floe/error.h"

enum floe_vtier {
    FLOE_VTIER_EXPEDITED = 0,
    FLOE_VTIER_STANDARD = 1,
    FLOE_VTIER_BULK = 2,
    FLOE_VTIER_COUNT
};

enum floe_vlog_level { FLOE_VLOG_ERROR = 0, FLOE_VLOG_WARN, FLOE_VLOG_INFO, FLOE_VLOG_DEBUG };

struct floe_vnotify_target {
    char *topic_arn;
    char *url;
};

struct floe_vconfig {
    char *host; /* listen address, e.g. "127.0.0.1" */
    char *port; /* "0" picks a free port */
    char *data_dir;
    char *port_file;  /* NULL: none */
    char *access_key; /* defaults: FLOE_VAULT_DEFAULT_ACCESS_KEY / _SECRET_KEY */
    char *secret_key;
    char *account_id;
    char *region;
    int64_t delay_ms[FLOE_VTIER_COUNT]; /* job completion delay per tier */
    int64_t job_expiry_ms;              /* how long finished jobs and their output stay */
    int64_t inventory_staleness_ms;     /* inventories show the vault as of completion - this */
    int64_t upload_expiry_ms;           /* idle multipart uploads are removed after this */
    int64_t request_timeout_ms;         /* a body with no bytes for this long: 408; 0: never */
    struct floe_vnotify_target *notify; /* --notify TOPIC_ARN=URL, nnotify entries */
    int nnotify;
    int log_level; /* enum floe_vlog_level */
    int blob_io;   /* enum floe_vblob_io: how upload bodies are written (--blob-io) */
    bool no_auth;
};

#define FLOE_VAULT_DEFAULT_ACCESS_KEY "AKIDFLOEVAULTLOCAL"
#define FLOE_VAULT_DEFAULT_SECRET_KEY "floe-vault-local-secret"
#define FLOE_VAULT_DEFAULT_ACCOUNT "123456789012"
#define FLOE_VAULT_DEFAULT_REGION "us-east-1"
/* floe's default endpoint (FLOE_DEFAULT_ENDPOINT) is http://127.0.0.1:9190 */
#define FLOE_VAULT_DEFAULT_HOST "127.0.0.1"
#define FLOE_VAULT_DEFAULT_PORT "9190"
#define FLOE_VAULT_DEFAULT_REQUEST_TIMEOUT_S 60

struct floe_vdb;
struct floe_vblob;
struct floe_vjobs;
struct floe_vnotify;
struct floe_vhttp;

struct floe_vserver {
    struct floe_vconfig cfg; /* read-only while serving */
    struct floe_vdb *db;
    struct floe_vblob *blobs;
    struct floe_vjobs *jobs;
    struct floe_vnotify *notify;
    struct floe_vhttp *http;
    unsigned port; /* the bound port */
};

/* floe_vconfig_defaults() - fill every default (listen 127.0.0.1:9190, delays 1/3/5 s, expiry
 * 24 h, request timeout 60 s, creds above); data_dir stays NULL (see floe_vconfig_data_dir). */
void floe_vconfig_defaults(struct floe_vconfig *cfg);

/*
 * floe_vconfig_default_data_dir() - $XDG_DATA_HOME/floe-vault, else $HOME/.local/share/floe-vault
 * (an empty or relative XDG_DATA_HOME is ignored, as the XDG spec says). Returns a malloc'd
 * path, or NULL when neither variable is usable.
 */
char *floe_vconfig_default_data_dir(void);

/*
 * floe_vserver_start() - open <data_dir> (created with its parents if missing), the database and
 * blob store, remove orphans of interrupted requests, start the scheduler, the notifier and HTTP.
 * srv      IN/OUT: cfg filled by the caller; the handles are set on FLOE_OK.
 * Returns  FLOE_OK, FLOE_E_IO (data dir), FLOE_E_NETWORK (cannot listen).
 */
int floe_vserver_start(struct floe_vserver *srv, struct floe_error *err);

/* floe_vserver_stop() - stop HTTP, then jobs and notifier, then close stores. Idempotent. */
void floe_vserver_stop(struct floe_vserver *srv);

/* floe_vlog() - one line to stderr if level <= cfg.log_level. Thread-safe (one write()). */
void floe_vlog(const struct floe_vserver *srv, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* floe_vserver_vault_arn() - "arn:aws:glacier:<region>:<account>:vaults/<name>" into out. */
void floe_vserver_vault_arn(const struct floe_vserver *srv, const char *vault, char *out,
                            size_t cap);

#endif
