/*
 * main.c - floe-vault, the local Glacier-compatible server: command line, signals, startup.
 *
 *   floe-vault [--listen HOST:PORT] [--data-dir DIR] [--port-file F] [--access-key K
 *              --secret-key S | --credentials-file F] [--account-id ID] [--region R]
 *              [--job-delay instant|Expedited=S,Standard=S,Bulk=S] [--job-expiry S]
 *              [--inventory-staleness S] [--request-timeout S] [--header-timeout S]
 *              [--min-body-rate B --rate-window S] [--max-connections N]
 *              [--max-connections-per-client N] [--blob-io direct|buffered]
 *              [--notify TOPIC_ARN=URL ...] [--log-level error|warn|info|debug] [--no-auth]
 *              [--tls-cert FILE --tls-key FILE]
 *              [--select-output-dir DIR] [--select-workers N]
 *              [--s3-endpoint URL [--s3-region R] [--s3-profile P]]
 *              [--sns-endpoint URL [--sns-region R]]
 *
 * Without options it serves http://127.0.0.1:9190 (floe's default endpoint) from
 * $XDG_DATA_HOME/floe-vault or ~/.local/share/floe-vault.
 *
 * The first line on stdout is the base URL (flushed at once); --port-file receives the port
 * (written to a temp file and renamed, so readers never see a partial number). SIGTERM and
 * SIGINT stop the server cleanly: they are blocked in every thread and taken by sigwait() here.
 */
#include "server.h"

#include "accounts.h"
#include "alloc.h"
#include "scrub_cmd.h"
#include "store_blob.h"
#include "vutil.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

/* long options without a letter of their own */
enum {
    OPT_SELECT_OUTPUT_DIR = 1000,
    OPT_SELECT_WORKERS,
    OPT_S3_ENDPOINT,
    OPT_S3_REGION,
    OPT_S3_PROFILE,
    OPT_SNS_ENDPOINT,
    OPT_SNS_REGION,
    OPT_CREDENTIALS_FILE
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: floe-vault [--listen HOST:PORT] [--data-dir DIR] [--port-file F]\n"
            "                  [--access-key K --secret-key S | --credentials-file FILE]\n"
            "                  [--account-id ID] [--region R]\n"
            "                  [--job-delay instant|Expedited=S,Standard=S,Bulk=S]\n"
            "                  [--job-expiry SECONDS] [--inventory-staleness SECONDS]\n"
            "                  [--delete-vault-after-inventory]\n"
            "                  [--scrub-rate BYTES] [--scrub-interval SECONDS]\n"
            "                  [--request-timeout SECONDS] [--header-timeout SECONDS]\n"
            "                  [--min-body-rate BYTES_PER_S] [--rate-window SECONDS]\n"
            "                  [--max-connections N] [--max-connections-per-client N]\n"
            "                  [--blob-io direct|buffered] [--notify TOPIC_ARN=URL ...]\n"
            "                  [--log-level error|warn|info|debug] [--no-auth]\n"
            "                  [--tls-cert FILE --tls-key FILE]\n"
            "                  [--select-output-dir DIR] [--select-workers N]\n"
            "                  [--s3-endpoint URL [--s3-region R] [--s3-profile P]]\n"
            "                  [--sns-endpoint URL [--sns-region R]]\n"
            "       floe-vault scrub [--data-dir DIR] [--json] [--quiet]   (see floe-vault scrub "
            "--help)\n"
            "defaults: listen %s:%s (floe's default endpoint; port 0 picks a free one),\n"
            "          data dir $XDG_DATA_HOME/floe-vault or ~/.local/share/floe-vault\n"
            "          (created if missing),\n"
            "          access key %s, secret key %s, account %s, region %s,\n"
            "          (--credentials-file: one key a line, ACCESS_KEY_ID SECRET_ACCESS_KEY\n"
            "          ACCOUNT_ID USER_ARN; --account-id stays the default account, which owns\n"
            "          the vaults of a data dir from before accounts),\n"
            "          job delays Expedited=1,Standard=3,Bulk=5 seconds, job expiry 86400 s,\n"
            "          inventory staleness 0 s (an inventory lists the vault as it was that long\n"
            "          before the job completed; 86400 emulates Glacier's daily inventory),\n"
            "          a scrubber re-reading stored bytes against their hashes at 4M per second\n"
            "          (--scrub-rate, with K, M or G; 0 turns it off), a pass a day at most\n"
            "          (--scrub-interval 86400),\n"
            "          DeleteVault of an empty vault succeeds at once (with\n"
            "          --delete-vault-after-inventory only once an inventory taken after the\n"
            "          vault's last write shows it empty, as the service does),\n"
            "          request timeout %d s (a stalled upload body is answered 408; 0: never),\n"
            "          header timeout %d s (headers not complete by then: 408, closed; 0: never),\n"
            "          min body rate %d bytes/s averaged over a rate window of %d s (a slower\n"
            "          body is answered 408 and dropped; 0: no minimum),\n"
            "          max connections %d, per client address %d (beyond either: 503 SlowDown,\n"
            "          closed; 0: no limit),\n"
            "          blob io direct (O_DIRECT writes behind the hash; buffered if unsupported),\n"
            "          plain HTTP (--tls-cert and --tls-key: HTTPS),\n"
            "          select jobs refused without --s3-endpoint or --select-output-dir\n"
            "          (--s3-endpoint: output to that S3 endpoint, keys from the AWS SDK chain:\n"
            "          AWS_ACCESS_KEY_ID..., --s3-profile or AWS_PROFILE, region us-east-1;\n"
            "          --select-output-dir: output as files DIR/<BucketName>/<key>, the bucket\n"
            "          directory must exist),\n"
            "          select workers one per CPU (at most 16),\n"
            "          job notifications to notifications.log (and --notify URLs) only\n"
            "          (--sns-endpoint: also SNS Publish of the job to its topic at that\n"
            "          endpoint, retried for 60 s, keys from the AWS SDK chain, region\n"
            "          --sns-region or us-east-1)\n",
            FLOE_VAULT_DEFAULT_HOST, FLOE_VAULT_DEFAULT_PORT, FLOE_VAULT_DEFAULT_ACCESS_KEY,
            FLOE_VAULT_DEFAULT_SECRET_KEY, FLOE_VAULT_DEFAULT_ACCOUNT, FLOE_VAULT_DEFAULT_REGION,
            FLOE_VAULT_DEFAULT_REQUEST_TIMEOUT_S, FLOE_VAULT_DEFAULT_HEADER_TIMEOUT_S,
            FLOE_VAULT_DEFAULT_MIN_BODY_RATE, FLOE_VAULT_DEFAULT_RATE_WINDOW_S,
            FLOE_VAULT_DEFAULT_MAX_CONNECTIONS, FLOE_VAULT_DEFAULT_MAX_CLIENT_CONNECTIONS);
}

static int parse_seconds(const char *s, int64_t *ms)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || end == s || *end || !(v >= 0) || v > 1e9)
        return -1;
    *ms = (int64_t)(v * 1000.0 + 0.5);
    return 0;
}

static int parse_delays(const char *s, struct floe_vconfig *cfg)
{
    static const char *names[FLOE_VTIER_COUNT] = {"Expedited", "Standard", "Bulk"};
    if (strcmp(s, "instant") == 0) {
        for (int i = 0; i < FLOE_VTIER_COUNT; i++)
            cfg->delay_ms[i] = 0;
        return 0;
    }
    char *copy = floe_xstrdup(s), *save = NULL, *item;
    int rc = 0;
    for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        int tier = -1;
        if (eq) {
            *eq = '\0';
            for (int i = 0; i < FLOE_VTIER_COUNT; i++)
                if (strcmp(item, names[i]) == 0)
                    tier = i;
        }
        if (tier < 0 || parse_seconds(eq + 1, &cfg->delay_ms[tier]) != 0) {
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

/* "4194304", "512K", "4M", "1G" (binary units) into bytes; 0 or -1. */
static int parse_rate(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    uint64_t mul = 1;
    char num[32];
    if (n && strchr("KMG", s[n - 1])) {
        mul = s[n - 1] == 'K' ? 1u << 10 : s[n - 1] == 'M' ? 1u << 20 : 1u << 30;
        n--;
    }
    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, s, n);
    num[n] = '\0';
    uint64_t v;
    if (floe_vutil_parse_u64(num, &v) != 0 || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int parse_listen(const char *s, struct floe_vconfig *cfg)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return -1;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    free(cfg->host);
    cfg->host = floe_xmalloc(hl + 1);
    memcpy(cfg->host, s, hl);
    cfg->host[hl] = '\0';
    uint64_t port;
    if (floe_vutil_parse_u64(colon + 1, &port) != 0 || port > 65535)
        return -1;
    free(cfg->port);
    cfg->port = floe_xstrdup(colon + 1);
    return 0;
}

static void replace(char **dst, const char *v)
{
    free(*dst);
    *dst = floe_xstrdup(v);
}

/* The port file is written atomically: "PORT\n" goes to PATH.tmp, which is renamed over PATH,
 * so a reader never sees a partial number. The temp file is opened before anything else is
 * started (a port file that cannot be written fails the start before the data directory is
 * created) and removed again when the start fails. */
struct port_file {
    char *tmp;
    FILE *f;
};

/* Refuses to replace anything but a regular file (a device such as /dev/null, a directory):
 * renaming over it would replace the device node itself. 0 or -1 (message printed). */
static int port_file_open(const char *path, struct port_file *pf)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "floe-vault: --port-file %s exists and is not a regular file\n", path);
        return -1;
    }
    size_t n = strlen(path) + 8;
    pf->tmp = floe_xmalloc(n);
    snprintf(pf->tmp, n, "%s.tmp", path);
    pf->f = fopen(pf->tmp, "w");
    if (!pf->f) {
        int e = errno;
        fprintf(stderr, "floe-vault: cannot write --port-file %s: %s\n", path, strerror(e));
        free(pf->tmp);
        pf->tmp = NULL;
        return -1;
    }
    return 0;
}

/* Removes the temp file of a start that failed. */
static void port_file_discard(struct port_file *pf)
{
    if (pf->f)
        fclose(pf->f);
    if (pf->tmp)
        unlink(pf->tmp);
    free(pf->tmp);
    pf->f = NULL;
    pf->tmp = NULL;
}

static int port_file_commit(const char *path, struct port_file *pf, unsigned port)
{
    fprintf(pf->f, "%u\n", port);
    int rc = fclose(pf->f) == 0 && rename(pf->tmp, path) == 0 ? 0 : errno;
    pf->f = NULL;
    if (rc) {
        fprintf(stderr, "floe-vault: cannot write --port-file %s: %s\n", path, strerror(rc));
        port_file_discard(pf);
        return -1;
    }
    free(pf->tmp);
    pf->tmp = NULL;
    return 0;
}

/* Binds HOST:PORT once before anything is created, so "address in use" (or a host that is
 * not an address of this machine) fails the start with the system's reason and leaves no data
 * directory behind. Port 0 always binds. 0 or -1 (message printed). */
static int check_listen(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        fprintf(stderr, "floe-vault: cannot listen on %s:%s: %s\n", host, port, gai_strerror(g));
        return -1;
    }
    int saved = 0, ok = -1;
    for (struct addrinfo *a = res; a && ok; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0)
            ok = 0;
        else
            saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (ok)
        fprintf(stderr, "floe-vault: cannot listen on %s:%s: %s\n", host, port, strerror(saved));
    return ok;
}

/* "floe-vault: <message>" on stderr; returns -1 (a bad command line: exit status 2). */
__attribute__((format(printf, 1, 2))) static int complain(const char *fmt, ...)
{
    va_list ap;
    fputs("floe-vault: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    return -1;
}

/* --tls-cert / --tls-key: the whole PEM file into *dst (at most 1 MiB; one NUL-terminated
 * string, as libmicrohttpd wants it). 0, or -1 after saying why. */
static int read_pem(const char *opt, const char *path, char **dst)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return complain("%s %s: %s\n", opt, path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    char *buf = floe_xmalloc(cap + 1);
    n = fread(buf, 1, cap + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || n > cap || !memmem(buf, n, "-----BEGIN ", 11)) {
        free(buf);
        return complain("%s %s: %s\n", opt, path,
                        bad       ? "cannot be read"
                        : n > cap ? "larger than 1 MiB"
                                  : "not a PEM file");
    }
    buf[n] = 0;
    free(*dst);
    *dst = buf;
    return 0;
}

/* --notify TOPIC_ARN=URL: one more entry of cfg->notify. Returns 0 or -1 (printed). */
static int add_notify(const char *arg, struct floe_vconfig *cfg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return complain("--notify wants TOPIC_ARN=URL, got \"%s\"\n", arg);
    cfg->notify = floe_xrealloc(cfg->notify, (size_t)(cfg->nnotify + 1) * sizeof(*cfg->notify));
    struct floe_vnotify_target *t = &cfg->notify[cfg->nnotify++];
    t->topic_arn = floe_xmalloc((size_t)(eq - arg) + 1);
    memcpy(t->topic_arn, arg, (size_t)(eq - arg));
    t->topic_arn[eq - arg] = '\0';
    t->url = floe_xstrdup(eq + 1);
    return 0;
}

/* The index of arg in names[0..n), or -1. */
static int pick(const char *arg, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(arg, names[i]) == 0)
            return i;
    return -1;
}

/*
 * apply_option() - one option c (getopt_long's value) with its argument into cfg; *key and
 * *secret record that --access-key / --secret-key were given, *creds_file --credentials-file
 * (read once every option is in).
 * Returns  0, 1 after --help or --version (printed; exit status 0), or -1 after printing
 *          what is wrong (exit status 2).
 */
static int apply_option(int c, const char *arg, struct floe_vconfig *cfg, bool *key, bool *secret,
                        const char **creds_file)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    uint64_t id;
    int i;
    switch (c) {
    case 'l':
        if (parse_listen(arg, cfg) != 0)
            return complain("--listen wants HOST:PORT, got \"%s\"\n", arg);
        return 0;
    case 'd': replace(&cfg->data_dir, arg); return 0;
    case 'p': replace(&cfg->port_file, arg); return 0;
    case 'a':
        replace(&cfg->access_key, arg);
        *key = true;
        return 0;
    case 's':
        replace(&cfg->secret_key, arg);
        *secret = true;
        return 0;
    case 'A':
        if (!floe_vaccounts_account_id_valid(arg))
            return complain("--account-id wants 12 digits, got \"%s\"\n", arg);
        replace(&cfg->account_id, arg);
        return 0;
    case 'r': replace(&cfg->region, arg); return 0;
    case 'j':
        if (parse_delays(arg, cfg) != 0)
            return complain("--job-delay wants instant or Expedited=S,Standard=S,Bulk=S "
                            "(seconds), got \"%s\"\n",
                            arg);
        return 0;
    case 'e':
        if (parse_seconds(arg, &cfg->job_expiry_ms) != 0)
            return complain("--job-expiry wants seconds, got \"%s\"\n", arg);
        return 0;
    case 'I':
        if (parse_seconds(arg, &cfg->inventory_staleness_ms) != 0)
            return complain("--inventory-staleness wants seconds, got \"%s\"\n", arg);
        return 0;
    case 'T':
        if (parse_seconds(arg, &cfg->request_timeout_ms) != 0)
            return complain("--request-timeout wants seconds, got \"%s\"\n", arg);
        return 0;
    case 'H':
        if (parse_seconds(arg, &cfg->header_timeout_ms) != 0)
            return complain("--header-timeout wants seconds, got \"%s\"\n", arg);
        return 0;
    case 'b':
        if (floe_vutil_parse_u64(arg, &id) != 0)
            return complain("--min-body-rate wants bytes per second, got \"%s\"\n", arg);
        cfg->min_body_rate = id;
        return 0;
    case 'W':
        if (parse_seconds(arg, &cfg->rate_window_ms) != 0 || cfg->rate_window_ms < 100)
            return complain("--rate-window wants seconds (at least 0.1), got \"%s\"\n", arg);
        return 0;
    case 'M':
    case 'C':
        if (floe_vutil_parse_u64(arg, &id) != 0 || id > 1000000)
            return complain("%s wants a number of connections (0 to 1000000), got \"%s\"\n",
                            c == 'M' ? "--max-connections" : "--max-connections-per-client", arg);
        *(c == 'M' ? &cfg->max_connections : &cfg->max_client_connections) = (unsigned)id;
        return 0;
    case 'n': return add_notify(arg, cfg);
    case 'L':
        if ((i = pick(arg, levels, 4)) < 0)
            return complain("--log-level wants error|warn|info|debug\n");
        cfg->log_level = i;
        return 0;
    case 'N': cfg->no_auth = true; return 0;
    case 'D': cfg->delete_vault_after_inventory = true; return 0;
    case 'R':
        if (parse_rate(arg, &cfg->scrub_rate) != 0)
            return complain("--scrub-rate wants bytes per second (K, M, G allowed; 0: off), "
                            "got \"%s\"\n",
                            arg);
        return 0;
    case 'S':
        if (parse_seconds(arg, &cfg->scrub_interval_ms) != 0)
            return complain("--scrub-interval wants seconds, got \"%s\"\n", arg);
        return 0;
    case 'B':
        if ((i = pick(arg, floe_vblob_io_names, FLOE_VBLOB_IO_COUNT)) < 0)
            return complain("--blob-io wants direct|buffered, got \"%s\"\n", arg);
        cfg->blob_io = i;
        return 0;
    case 'c': return read_pem("--tls-cert", arg, &cfg->tls_cert_pem);
    case 'k': return read_pem("--tls-key", arg, &cfg->tls_key_pem);
    case OPT_SELECT_OUTPUT_DIR: {
        struct stat st;
        if (!arg[0] || stat(arg, &st) != 0 || !S_ISDIR(st.st_mode))
            return complain("--select-output-dir wants an existing directory, got \"%s\"\n", arg);
        replace(&cfg->select_output_dir, arg);
        return 0;
    }
    case OPT_SELECT_WORKERS:
        if (floe_vutil_parse_u64(arg, &id) != 0 || id < 1 || id > 64)
            return complain("--select-workers wants 1 to 64, got \"%s\"\n", arg);
        cfg->select_workers = (int)id;
        return 0;
    case OPT_S3_ENDPOINT:
        if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0)
            return complain("--s3-endpoint wants http://HOST[:PORT] or https://..., got \"%s\"\n",
                            arg);
        replace(&cfg->s3_endpoint, arg);
        return 0;
    case OPT_S3_REGION: replace(&cfg->s3_region, arg); return 0;
    case OPT_SNS_ENDPOINT:
        if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0)
            return complain("--sns-endpoint wants http://HOST[:PORT] or https://..., got \"%s\"\n",
                            arg);
        replace(&cfg->sns_endpoint, arg);
        return 0;
    case OPT_SNS_REGION: replace(&cfg->sns_region, arg); return 0;
    case OPT_S3_PROFILE: replace(&cfg->s3_profile, arg); return 0;
    case OPT_CREDENTIALS_FILE: *creds_file = arg; return 0;
    case 'h': usage(stdout); return 1;
    case 'V': printf("floe-vault 0.1.0\n"); return 1;
    default: usage(stderr); return -1;
    }
}

/*
 * parse_args() - the whole command line into cfg (which holds the defaults), then the data
 * directory's default and the checks that span options.
 * Returns  0 to serve, 1 to exit with status 0 (--help, --version), -1 to exit with status 2
 *          (the reason printed).
 */
static int parse_args(int argc, char **argv, struct floe_vconfig *cfg)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'd'},
        {"port-file", required_argument, NULL, 'p'},
        {"access-key", required_argument, NULL, 'a'},
        {"secret-key", required_argument, NULL, 's'},
        {"account-id", required_argument, NULL, 'A'},
        {"region", required_argument, NULL, 'r'},
        {"job-delay", required_argument, NULL, 'j'},
        {"job-expiry", required_argument, NULL, 'e'},
        {"inventory-staleness", required_argument, NULL, 'I'},
        {"delete-vault-after-inventory", no_argument, NULL, 'D'},
        {"scrub-rate", required_argument, NULL, 'R'},
        {"scrub-interval", required_argument, NULL, 'S'},
        {"notify", required_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, 'L'},
        {"no-auth", no_argument, NULL, 'N'},
        {"blob-io", required_argument, NULL, 'B'},
        {"request-timeout", required_argument, NULL, 'T'},
        {"header-timeout", required_argument, NULL, 'H'},
        {"min-body-rate", required_argument, NULL, 'b'},
        {"rate-window", required_argument, NULL, 'W'},
        {"max-connections", required_argument, NULL, 'M'},
        {"max-connections-per-client", required_argument, NULL, 'C'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"select-output-dir", required_argument, NULL, OPT_SELECT_OUTPUT_DIR},
        {"select-workers", required_argument, NULL, OPT_SELECT_WORKERS},
        {"s3-endpoint", required_argument, NULL, OPT_S3_ENDPOINT},
        {"s3-region", required_argument, NULL, OPT_S3_REGION},
        {"s3-profile", required_argument, NULL, OPT_S3_PROFILE},
        {"sns-endpoint", required_argument, NULL, OPT_SNS_ENDPOINT},
        {"sns-region", required_argument, NULL, OPT_SNS_REGION},
        {"credentials-file", required_argument, NULL, OPT_CREDENTIALS_FILE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    bool key = false, secret = false;
    const char *creds_file = NULL;
    int c, rc;
    const char *inexact = floe_vutil_inexact_option(argc, argv, opts);
    if (inexact)
        return complain("unknown option \"%s\" (options are spelt out in full: "
                        "floe-vault --help)\n",
                        inexact);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if ((rc = apply_option(c, optarg, cfg, &key, &secret, &creds_file)) != 0)
            return rc;
    if (optind < argc)
        return complain("unexpected argument \"%s\"\n", argv[optind]);
    if (!cfg->data_dir && !(cfg->data_dir = floe_vconfig_default_data_dir()))
        return complain("neither an absolute XDG_DATA_HOME nor HOME is set: give --data-dir\n");
    if (key != secret)
        return complain("--access-key and --secret-key go together\n");
    if (creds_file && key)
        return complain("--credentials-file and --access-key/--secret-key: give one of them\n");
    if (creds_file) {
        char why[512];
        if (floe_vaccounts_load_file(cfg, creds_file, why, sizeof(why)) != 0)
            return complain("%s\n", why);
    } else {
        floe_vconfig_single_cred(cfg);
    }
    if (!cfg->tls_cert_pem != !cfg->tls_key_pem)
        return complain("--tls-cert and --tls-key go together\n");
    return 0;
}

/*
 * serve() - start the server of srv->cfg, announce it (port file, then the URL on stdout),
 * wait for SIGINT or SIGTERM, and stop it. Runs on the main thread, which blocks those
 * signals first so that every thread the server starts inherits the mask.
 * Returns  the exit status: 0 after a clean stop, 1 when the server cannot start.
 */
/* Each connection is a descriptor: raise the soft open-file limit (often 1024) toward what
 * --max-connections needs (connections, a quarter over for libmicrohttpd's own limit, plus
 * files), as far as the hard limit allows, and warn when that is not enough. */
static void raise_file_limit(const struct floe_vconfig *cfg)
{
    struct rlimit rl;
    if (!cfg->max_connections || getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t need = (rlim_t)cfg->max_connections + cfg->max_connections / 4 + 16 + 256;
    if (rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        floe_vlog(cfg, FLOE_VLOG_WARN,
                  "the open-file limit (%llu) is below what --max-connections %u needs (%llu): "
                  "connections beyond it are refused by the system",
                  (unsigned long long)rl.rlim_cur, cfg->max_connections, (unsigned long long)need);
}

static int serve(struct floe_vserver *srv)
{
    struct floe_error err = {0};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started below inherits it */
    signal(SIGPIPE, SIG_IGN);
    raise_file_limit(&srv->cfg);

    /* checks that need no file: nothing exists on disk when one of them fails */
    struct port_file pf = {0};
    if (srv->cfg.port_file && port_file_open(srv->cfg.port_file, &pf) != 0)
        return 1;
    if (check_listen(srv->cfg.host, srv->cfg.port) != 0 ||
        floe_vserver_start(srv, &err) != FLOE_OK) {
        if (err.message[0])
            fprintf(stderr, "floe-vault: %s\n", err.message);
        port_file_discard(&pf);
        return 1;
    }
    if (srv->cfg.port_file && port_file_commit(srv->cfg.port_file, &pf, srv->port) != 0) {
        floe_vserver_stop(srv);
        return 1;
    }
    /* after the port file, so whoever reads the URL can also read the file */
    bool v6 = strchr(srv->cfg.host, ':') != NULL;
    printf("%s://%s%s%s:%u\n", srv->cfg.tls_cert_pem ? "https" : "http", v6 ? "[" : "",
           srv->cfg.host, v6 ? "]" : "", srv->port);
    fflush(stdout);
    floe_vlog(&srv->cfg, FLOE_VLOG_INFO, "serving %s on port %u (account %s, region %s%s%s)",
              srv->cfg.data_dir, srv->port, srv->cfg.account_id, srv->cfg.region,
              srv->cfg.no_auth ? ", signatures NOT checked" : "",
              srv->cfg.tls_cert_pem ? ", HTTPS" : "");
    int sig = 0;
    sigwait(&set, &sig);
    floe_vlog(&srv->cfg, FLOE_VLOG_INFO, "signal %d: shutting down", sig);
    floe_vserver_stop(srv);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "scrub") == 0)
        return floe_vscrub_main(argc - 1, argv + 1);
    struct floe_vserver srv = {0};
    floe_vconfig_defaults(&srv.cfg);
    int rc = parse_args(argc, argv, &srv.cfg);
    int status = rc < 0 ? 2 : rc > 0 ? 0 : serve(&srv);
    floe_vconfig_free(&srv.cfg);
    return status;
}
