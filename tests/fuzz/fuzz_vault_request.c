/*
 * fuzz_vault_request.c - floe-vault's request path on arbitrary requests: libmicrohttpd's
 * parser as floe-vault configures it, http.c (target and query parsing, single-header and
 * version checks, admission), the router, the SigV4 check, every handler and its JSON body
 * reader, down to the store (SQLite and blob files in a temp dir removed at exit).
 *
 * Two servers run in this process for the whole run, both on 127.0.0.1 port 0: one with
 * signatures checked (what any client on the network reaches before authenticating) and one
 * with --no-auth (so that the handlers see the fuzzed requests). One input is one request:
 *
 *   byte 0        bit 0: 1 = the --no-auth server, 0 = the signing one
 *   then text     "METHOD TARGET\n" then "Name: value\n" lines, a blank line, the body
 *
 * The request sent is "METHOD TARGET HTTP/1.1" with the given headers (CR and NUL dropped;
 * Content-Length, Transfer-Encoding, Connection and Expect are the harness's), Host,
 * Connection: close and the body's Content-Length. So that inputs reach past "not found",
 * the harness remembers the last archive, job, multipart upload and lock id the servers
 * answered with, and puts them in for "{A}", "{J}", "{U}" and "{L}" in the request line,
 * headers and body. The answer is read until the server
 * closes. A crash or sanitizer report is a finding; so is a request with no answer within
 * 20 s (a hang), which aborts. Sequential and single-threaded on the client side.
 * FLOE_FUZZ_TRACE=1 prints each answer's status line to stderr (to check what a corpus
 * entry reaches).
 */
#include "fuzz.h"

#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static struct floe_vserver s_srv[2]; /* [0] signatures checked, [1] --no-auth */
static char s_root[64];

/* The ids last answered (response header, token in inputs, value). */
static struct {
    const char *header;
    const char *token;
    char value[192];
} s_ids[] = {{"x-amz-archive-id:", "{A}", "none"},
             {"x-amz-job-id:", "{J}", "none"},
             {"x-amz-multipart-upload-id:", "{U}", "none"},
             {"x-amz-lock-id:", "{L}", "none"}};
#define NIDS (sizeof(s_ids) / sizeof(s_ids[0]))

/* Remember the ids in a response's head (head: NUL-terminated). */
static void remember_ids(const char *head)
{
    for (size_t i = 0; i < NIDS; i++) {
        const char *h = strcasestr(head, s_ids[i].header);
        if (!h)
            continue;
        h += strlen(s_ids[i].header);
        h += strspn(h, " ");
        size_t n = strcspn(h, "\r\n");
        if (n && n < sizeof(s_ids[i].value)) {
            memcpy(s_ids[i].value, h, n);
            s_ids[i].value[n] = 0;
        }
    }
}

static void stop_all(void)
{
    for (int i = 0; i < 2; i++) {
        floe_vserver_stop(&s_srv[i]);
        floe_vconfig_free(&s_srv[i].cfg);
    }
    if (s_root[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_root);
        if (system(cmd) != 0)
            fprintf(stderr, "fuzz_vault_request: could not remove %s\n", s_root);
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
    signal(SIGPIPE, SIG_IGN);
    atexit(stop_all);
    for (int i = 0; i < 2; i++) {
        struct floe_vserver *srv = &s_srv[i];
        floe_vconfig_defaults(&srv->cfg);
        free(srv->cfg.port);
        srv->cfg.port = strdup("0");
        char dir[96];
        snprintf(dir, sizeof(dir), "%s/%d", s_root, i);
        srv->cfg.data_dir = strdup(dir);
        srv->cfg.no_auth = i == 1;
        srv->cfg.log_level = -1; /* quiet: millions of requests */
        srv->cfg.scrub_rate = 0;
        srv->cfg.request_timeout_ms = 5000;
        srv->cfg.header_timeout_ms = 5000;
        for (int t = 0; t < FLOE_VTIER_COUNT; t++)
            srv->cfg.delay_ms[t] = 0;
        struct floe_error err = {0};
        if (!srv->cfg.port || !srv->cfg.data_dir || floe_vserver_start(srv, &err) != FLOE_OK) {
            fprintf(stderr, "fuzz_vault_request: server %d: %s\n", i, err.message);
            abort();
        }
    }
}

/* Append n bytes to the request buffer (grown as needed). */
static void put(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap : 1024);
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            abort();
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = 0;
}

/* Copy one line of the input (without its '\n') minus CR and NUL bytes, with the remembered
 * ids in place of their tokens. */
static void put_ids(char **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n, bool keep_cr)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '{' && i + 3 <= n) {
            size_t k = 0;
            while (k < NIDS && memcmp(p + i, s_ids[k].token, 3) != 0)
                k++;
            if (k < NIDS) {
                put(buf, len, cap, s_ids[k].value, strlen(s_ids[k].value));
                i += 2;
                continue;
            }
        }
        if (keep_cr || (p[i] != '\r' && p[i] != 0))
            put(buf, len, cap, &p[i], 1);
    }
}

static void put_clean(char **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
    put_ids(buf, len, cap, p, n, false);
}

static bool harness_header(const uint8_t *p, size_t n)
{
    static const char *const own[] = {
        "content-length:", "transfer-encoding:", "connection:", "expect:", "host:"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        size_t k = strlen(own[i]);
        if (n >= k && strncasecmp((const char *)p, own[i], k) == 0)
            return true;
    }
    return false;
}

static void exchange(unsigned port, const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        abort();
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        fprintf(stderr, "fuzz_vault_request: connect: %s\n", strerror(errno));
        abort();
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server answered early and closed (e.g. 4xx before the body) */
        off += (size_t)w;
    }
    char sink[16384];
    bool first = true;
    for (;;) {
        ssize_t r = recv(fd, sink, sizeof(sink) - 1, 0);
        if (r > 0 && first) {
            sink[r] = 0;
            char *end = strstr(sink, "\r\n\r\n");
            if (end)
                *end = 0;
            remember_ids(sink);
            if (end)
                *end = '\r';
        }
        if (r > 0 && first && getenv("FLOE_FUZZ_TRACE")) {
            char *eol = memchr(sink, '\r', (size_t)r);
            fprintf(stderr, "%.*s\n",
                    getenv("FLOE_FUZZ_TRACE")[0] == '2' ? (int)r : (int)(eol ? eol - sink : r),
                    sink);
        }
        first = false;
        if (r > 0)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fprintf(stderr, "fuzz_vault_request: no answer within 20 s (hang)\n");
            abort();
        }
        break; /* closed (0) or reset */
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_srv[0].http)
        start_all();
    if (size < 2)
        return 0;
    unsigned which = data[0] & 1;
    const uint8_t *p = data + 1, *end = data + size;
    char *req = NULL;
    size_t len = 0, cap = 0;

    /* request line */
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    const uint8_t *line_end = nl ? nl : end;
    put_clean(&req, &len, &cap, p, (size_t)(line_end - p));
    put(&req, &len, &cap, " HTTP/1.1\r\n", 11);
    p = nl ? nl + 1 : end;

    /* headers up to a blank line */
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n == 0) {
            p = nl ? nl + 1 : end;
            break;
        }
        if (!harness_header(p, n)) {
            put_clean(&req, &len, &cap, p, n);
            put(&req, &len, &cap, "\r\n", 2);
        }
        p = nl ? nl + 1 : end;
    }
    char *body_buf = NULL;
    size_t body = 0, body_cap = 0;
    put_ids(&body_buf, &body, &body_cap, p, (size_t)(end - p), true);
    char tail[160];
    int t = snprintf(tail, sizeof(tail),
                     "Host: 127.0.0.1:%u\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                     s_srv[which].port, body);
    put(&req, &len, &cap, tail, (size_t)t);
    if (body)
        put(&req, &len, &cap, body_buf, body);
    exchange(s_srv[which].port, req, len);
    free(body_buf);
    free(req);
    return 0;
}
