/*
 * fuzz_vault_request.c - floe-vault's request path on arbitrary requests, in-process: the
 * same code the server runs for a request that came through libmicrohttpd (vdispatch.h:
 * header checks, target and query parsing, the single-header and version checks, the router,
 * the SigV4 check, every handler and its JSON body reader), down to the store (SQLite and blob
 * files in a temp dir removed at exit), without sockets or HTTP parsing.
 *
 * Two servers run in this process (floe_vserver_start_local: no HTTP), one with signatures
 * checked (what any client reaches before authenticating) and one with --no-auth (so that the
 * handlers see the fuzzed requests). One input is one request:
 *
 *   byte 0        bit 0: 1 = the --no-auth server, 0 = the signing one; bits 1-3: k, the body
 *                 is handed over in pieces of 4^k bytes (k = 0: in one piece), as a socket
 *                 would deliver it
 *   then text     "METHOD TARGET\n" then "Name: value\n" lines, a blank line, the body
 *
 * Header lines are split at the first ':' (value trimmed of blanks, as an HTTP parser does;
 * a line without ':' or with an empty name is dropped); CR and NUL are dropped from the
 * request line and headers. Content-Length, Transfer-Encoding, Connection, Expect and Host
 * are the harness's: Host 127.0.0.1:9190, Connection: close and the body's Content-Length are
 * added. So that inputs reach past "not found", the harness remembers the last archive, job,
 * multipart upload and lock id the servers answered with, and puts them in for "{A}", "{J}",
 * "{U}" and "{L}" in the request line, headers and body. Every RESET_EVERY inputs both
 * stores are removed and made again, so a long run's disk use stays bounded.
 *
 * The data dir is made in $TMPDIR (default /tmp); tools/fuzz.sh points it at /dev/shm for
 * speed (the store fsyncs). A crash or sanitizer report is a finding. FLOE_FUZZ_TRACE=1
 * prints each answer's status and operation to stderr (to check what a corpus entry
 * reaches); FLOE_FUZZ_TRACE=2 also its body.
 */
#include "fuzz.h"

#include "server.h"
#include "vdispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESET_EVERY 20000

static struct floe_vserver s_srv[2]; /* [0] signatures checked, [1] --no-auth */
static char s_root[256];
static unsigned long s_count;

/* The ids last answered (response header, token in inputs, value). */
static struct {
    const char *header;
    const char *token;
    char value[192];
} s_ids[] = {{"x-amz-archive-id", "{A}", "none"},
             {"x-amz-job-id", "{J}", "none"},
             {"x-amz-multipart-upload-id", "{U}", "none"},
             {"x-amz-lock-id", "{L}", "none"}};
#define NIDS (sizeof(s_ids) / sizeof(s_ids[0]))

static void remember_ids(const struct floe_vresp *resp)
{
    for (int h = 0; h < resp->nhdr; h++)
        for (size_t i = 0; i < NIDS; i++) {
            size_t n = strlen(resp->hdr[h].value);
            if (strcasecmp(resp->hdr[h].name, s_ids[i].header) == 0 && n &&
                n < sizeof(s_ids[i].value))
                memcpy(s_ids[i].value, resp->hdr[h].value, n + 1);
        }
}

static void stop_servers(void)
{
    for (int i = 0; i < 2; i++) {
        floe_vserver_stop(&s_srv[i]);
        floe_vconfig_free(&s_srv[i].cfg);
        memset(&s_srv[i], 0, sizeof(s_srv[i]));
    }
}

static void remove_root(void)
{
    if (!s_root[0])
        return;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_root);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_vault_request: could not remove %s\n", s_root);
}

static void stop_all(void)
{
    stop_servers();
    remove_root();
}

/* Start both servers on fresh data dirs under s_root (generation gen). */
static void start_servers(unsigned long gen)
{
    for (int i = 0; i < 2; i++) {
        struct floe_vserver *srv = &s_srv[i];
        floe_vconfig_defaults(&srv->cfg);
        char dir[300];
        snprintf(dir, sizeof(dir), "%s/%lu-%d", s_root, gen, i);
        srv->cfg.data_dir = strdup(dir);
        srv->cfg.no_auth = i == 1;
        srv->cfg.log_level = -1; /* quiet: millions of requests */
        srv->cfg.scrub_rate = 0;
        for (int t = 0; t < FLOE_VTIER_COUNT; t++)
            srv->cfg.delay_ms[t] = 0;
        struct floe_error err = {0};
        if (!srv->cfg.data_dir || floe_vserver_start_local(srv, &err) != FLOE_OK) {
            fprintf(stderr, "fuzz_vault_request: server %d: %s\n", i, err.message);
            abort();
        }
    }
}

static void start_all(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s_root, sizeof(s_root), "%s/floe-fuzzvault-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (strlen(s_root) >= sizeof(s_root) - 1 || !mkdtemp(s_root)) {
        fprintf(stderr, "fuzz_vault_request: cannot make a temp dir\n");
        abort();
    }
    atexit(stop_all);
    start_servers(0);
}

/* A growing NUL-terminated buffer. */
struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n + 1)
            c *= 2;
        char *nb = realloc(b->p, c);
        if (!nb)
            abort();
        b->p = nb;
        b->cap = c;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
}

/* Copy n bytes of the input with the remembered ids in place of their tokens, minus CR and
 * NUL bytes unless keep_all. */
static void put_ids(struct buf *b, const uint8_t *p, size_t n, bool keep_all)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '{' && i + 3 <= n) {
            size_t k = 0;
            while (k < NIDS && memcmp(p + i, s_ids[k].token, 3) != 0)
                k++;
            if (k < NIDS) {
                put(b, s_ids[k].value, strlen(s_ids[k].value));
                i += 2;
                continue;
            }
        }
        if (keep_all || (p[i] != '\r' && p[i] != 0))
            put(b, &p[i], 1);
    }
}

static bool harness_header(const char *name)
{
    static const char *const own[] = {"content-length", "transfer-encoding", "connection", "expect",
                                      "host"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strcasecmp(name, own[i]) == 0)
            return true;
    return false;
}

#define MAX_HEADERS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_srv[0].db)
        start_all();
    if (size < 2)
        return 0;
    if (++s_count % RESET_EVERY == 0) {
        stop_servers();
        remove_root(); /* made again by the start, as data dirs' parents are */
        start_servers(s_count / RESET_EVERY);
    }
    unsigned which = data[0] & 1, k = (data[0] >> 1) & 7;
    size_t chunk = k ? (size_t)1 << (2 * k) : 0;
    const uint8_t *p = data + 1, *end = data + size;

    /* request line: METHOD TARGET */
    struct buf line = {0};
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    put_ids(&line, p, (size_t)((nl ? nl : end) - p), false);
    p = nl ? nl + 1 : end;
    char *method = line.p ? line.p : "";
    char *target = strchr(method, ' ');
    if (target)
        *target++ = 0;
    else
        target = "";

    /* headers up to a blank line: each one a NUL-terminated "name\0value" in hbuf */
    struct buf hbuf = {0};
    size_t offs[MAX_HEADERS + 3][2];
    size_t nh = 0;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n && p[n - 1] == '\r')
            n--;
        const uint8_t *l = p;
        p = nl ? nl + 1 : end;
        if (n == 0)
            break;
        struct buf h = {0};
        put_ids(&h, l, n, false);
        char *colon = h.p ? strchr(h.p, ':') : NULL;
        if (colon && colon != h.p && nh < MAX_HEADERS) {
            *colon = 0;
            char *v = colon + 1;
            v += strspn(v, " \t");
            size_t vl = strlen(v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                v[--vl] = 0;
            if (!harness_header(h.p)) {
                offs[nh][0] = hbuf.len;
                put(&hbuf, h.p, strlen(h.p) + 1);
                offs[nh][1] = hbuf.len;
                put(&hbuf, v, vl + 1);
                nh++;
            }
        }
        free(h.p);
    }
    struct buf body = {0};
    put_ids(&body, p, (size_t)(end - p), true);
    char clen[32];
    snprintf(clen, sizeof(clen), "%zu", body.len);
    const char *extra[3][2] = {
        {"Host", "127.0.0.1:9190"}, {"Connection", "close"}, {"Content-Length", clen}};
    struct floe_sigv4_header hdrs[MAX_HEADERS + 3];
    for (size_t i = 0; i < nh; i++) {
        hdrs[i].name = hbuf.p + offs[i][0];
        hdrs[i].value = hbuf.p + offs[i][1];
    }
    for (size_t i = 0; i < 3; i++) {
        hdrs[nh + i].name = extra[i][0];
        hdrs[nh + i].value = extra[i][1];
    }

    struct floe_vreq *rq =
        floe_vdispatch_one(&s_srv[which], method, target, hdrs, nh + 3, body.p, body.len, chunk);
    remember_ids(&rq->resp);
    const char *trace = getenv("FLOE_FUZZ_TRACE");
    if (trace)
        fprintf(stderr, "%u %s%s%.*s\n", rq->resp.status, rq->route ? rq->route->name : "-",
                trace[0] == '2' && rq->resp.body ? " " : "",
                trace[0] == '2' && rq->resp.body ? (int)rq->resp.body_len : 0,
                rq->resp.body ? rq->resp.body : "");
    floe_vreq_free(rq);
    free(body.p);
    free(hbuf.p);
    free(line.p);
    return 0;
}
