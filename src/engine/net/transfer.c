/*
 * transfer.c - the transfer stage: one thread owning a curl multi handle (see transfer.h).
 *
 * DESIGN
 * Threads: submitters push xfers onto `locked.incoming` under mu and wake the thread through
 * an eventfd (only the push that finds the list empty writes it). Only the transfer thread
 * touches the CURLM, the easy handles, the epoll set and the `waiting` list (xfers not yet
 * started, or backing off before a retry).
 * Loop: move incoming to waiting; start waiting xfers whose not_before has passed while fewer
 * than max_active are running (prepare() signs each attempt); epoll_wait() on the sockets curl
 * asked for (CURLMOPT_SOCKETFUNCTION keeps the epoll set) and the eventfd, until a socket is
 * ready, new work, curl's own timer (CURLMOPT_TIMERFUNCTION: connect and stall timeouts, new
 * handles) or the next retry is due (a cached connection's socket stays in the set between
 * requests: struct sock_state); curl_multi_socket_action() for each ready socket only (and
 * CURL_SOCKET_TIMEOUT when curl's timer is due): unlike curl_multi_perform, which runs every
 * transfer in flight and polls each one's socket, a wake-up costs only what is ready. Then drain
 * curl_multi_info_read() and classify each finished attempt: success (2xx), retry after a
 * full-jitter backoff (network failure, 5xx, 408, 429, throttling), or final failure.
 * Error bodies are Glacier JSON {code, message, type}, or whatever the xfer's parse_error hook
 * reads (S3's XML); the message reaches the user verbatim.
 * Stop: destroy sets stopping; the thread cancels everything still waiting or running
 * (done with "cancelled") and exits.
 */
#include "transfer.h"

#include "alloc.h"
#include "bwlimit.h"
#include "floe/client.h"
#include "latch.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* What the epoll set holds for a socket number. A socket opened through on_open_socket
 * ("ours": curl closes it through on_close_socket, so its number cannot be reused behind our
 * back) stays in the set while curl does not watch it - an idle connection in curl's cache
 * between two requests - so reusing it costs no EPOLL_CTL_DEL and ADD. */
struct sock_state {
    uint32_t events; /* registered in the set (valid while in_set) */
    bool in_set;
    bool ours;
    bool wanted; /* curl watches it now (the last on_socket call for it was not REMOVE) */
};

struct floe_transfer {
    CURLM *multi; /* transfer thread only */
    pthread_t thread;
    int epfd;                       /* the sockets curl waits on, and evfd; transfer thread only */
    int evfd;                       /* eventfd: new work or stopping (written by any thread) */
    struct floe_transfer_opts opts; /* read-only after new */
    pthread_mutex_t mu;
    struct {
        struct floe_xfer *incoming_head, *incoming_tail;
        bool stopping;
    } locked; /* guarded by mu */
    /* transfer thread only: */
    struct floe_xfer *waiting;
    struct floe_xfer **active; /* max_active slots; NULL = free */
    unsigned max_active;
    unsigned running;
    CURL **spare; /* curl handles of finished xfers, reused (reset) by the next attempts */
    unsigned nspare, spare_cap;
    uint64_t rng;
    uint64_t last_warn_ms; /* the last outage warning (rate limit) */
    bool curl_timer;       /* curl asked for a CURL_SOCKET_TIMEOUT call at curl_due_ms */
    uint64_t curl_due_ms;
    struct sock_state *socks; /* by socket number (see on_socket); transfer thread only */
    size_t nsocks;
    atomic_bool reached; /* an attempt got an HTTP answer; set on the transfer thread */
};

static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *addr);
static int on_close_socket(void *clientp, curl_socket_t s);

/* One line to the embedder's log, when it wants that level. Transfer thread only. */
__attribute__((format(printf, 3, 4))) static void tlog(struct floe_transfer *t, int level,
                                                       const char *fmt, ...)
{
    if (!t->opts.log || t->opts.log_level < level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    t->opts.log(t->opts.log_user, level, line);
}

bool floe_transfer_reached(struct floe_transfer *t)
{
    return atomic_load(&t->reached);
}

/* Header lines whose values are secrets: logged as "[redacted]". */
static bool secret_header(const char *line, size_t n)
{
    static const char *const names[] = {"authorization:", "x-amz-security-token:"};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(names[i]);
        if (n >= k && strncasecmp(line, names[i], k) == 0)
            return true;
    }
    return false;
}

/* CURLOPT_DEBUGFUNCTION at FLOE_LOG_DEBUG: request and response headers and curl's notes,
 * one log line each, secrets redacted; bodies are not logged (only their sizes). */
static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *userp)
{
    (void)e;
    struct floe_transfer *t = userp;
    const char *dir = type == CURLINFO_HEADER_OUT ? "> " : type == CURLINFO_HEADER_IN ? "< " : "* ";
    if (type == CURLINFO_DATA_OUT || type == CURLINFO_DATA_IN) {
        tlog(t, FLOE_LOG_DEBUG, "%s%zu body bytes", type == CURLINFO_DATA_OUT ? "> " : "< ", size);
        return 0;
    }
    if (type != CURLINFO_HEADER_OUT && type != CURLINFO_HEADER_IN && type != CURLINFO_TEXT)
        return 0;
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t shown = n;
        while (shown && (p[shown - 1] == '\r' || p[shown - 1] == '\n'))
            shown--;
        if (shown) {
            if (secret_header(p, shown))
                tlog(t, FLOE_LOG_DEBUG, "%s%.*s [redacted]", dir, (int)(strchr(p, ':') - p + 1), p);
            else
                tlog(t, FLOE_LOG_DEBUG, "%s%.*s", dir, (int)shown, p);
        }
        p += n + (nl ? 1 : 0);
    }
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct floe_xfer *floe_xfer_new(const char *method, const char *url)
{
    /* the inline header storage at the end is not zeroed: 1.2 KiB of memset per request */
    struct floe_xfer *x = floe_xmalloc(sizeof(*x));
    memset(x, 0, offsetof(struct floe_xfer, qh_inline));
    x->method = method;
    x->url = floe_xstrdup(url);
    return x;
}

static void clear_response(struct floe_xfer *x)
{
    x->nrh = 0; /* rh and hbuf are kept for the next attempt */
    x->hbuf_len = 0;
    free(x->resp);
    x->resp = NULL;
    x->resp_len = 0;
    x->resp_cap = 0;
    x->overflow = false;
    x->http_status = 0;
}

void floe_xfer_destroy(struct floe_xfer *x)
{
    if (!x)
        return;
    clear_response(x);
    free(x->rh);
    free(x->hbuf);
    if (x->qh_buf != x->qh_small)
        free(x->qh_buf);
    if (x->qh_nodes != x->qh_inline)
        free(x->qh_nodes);
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->req_headers);
    if (x->ctx_free)
        x->ctx_free(x->req_ctx);
    free(x->url);
    free(x);
}

void floe_xfer_add_header(struct floe_xfer *x, const char *name, const char *value)
{
    if (!x->qh_buf) {
        x->qh_buf = x->qh_small;
        x->qh_cap = sizeof(x->qh_small);
    }
    size_t nl = strlen(name), vl = value ? strlen(value) : 0, need = nl + (value ? 2 : 1) + vl + 1;
    if (x->qh_len + need > x->qh_cap) {
        size_t cap = 2 * x->qh_cap;
        while (cap < x->qh_len + need)
            cap *= 2;
        char *nb = floe_xmalloc(cap);
        memcpy(nb, x->qh_buf, x->qh_len);
        if (x->qh_buf != x->qh_small)
            free(x->qh_buf);
        x->qh_buf = nb;
        x->qh_cap = cap;
    }
    char *line = x->qh_buf + x->qh_len;
    memcpy(line, name, nl);
    line[nl] = ':';
    size_t k = nl + 1;
    if (value) {
        line[k++] = ' ';
        memcpy(line + k, value, vl);
        k += vl;
    }
    line[k] = 0;
    x->qh_len += k + 1;
    x->qh_n++;
}

/* The list curl is given: the added lines (their pointers taken now: qh_buf may have moved while
 * they were added), then prepare()'s own list. */
static struct curl_slist *header_list(struct floe_xfer *x, struct curl_slist *own)
{
    if (!x->qh_n)
        return own;
    if (!x->qh_nodes) {
        x->qh_nodes = x->qh_inline;
        x->qh_nodes_cap = FLOE_XFER_HEADERS_INLINE;
    }
    if (x->qh_n > x->qh_nodes_cap) {
        if (x->qh_nodes != x->qh_inline)
            free(x->qh_nodes);
        x->qh_nodes_cap = x->qh_n;
        x->qh_nodes = floe_xcalloc(x->qh_nodes_cap, sizeof(*x->qh_nodes));
    }
    char *p = x->qh_buf;
    for (size_t i = 0; i < x->qh_n; i++) {
        x->qh_nodes[i].data = p;
        x->qh_nodes[i].next = i + 1 < x->qh_n ? &x->qh_nodes[i + 1] : own;
        p += strlen(p) + 1;
    }
    return x->qh_nodes;
}

const char *floe_xfer_header(const struct floe_xfer *x, const char *name)
{
    for (size_t i = 0; i < x->nrh; i++)
        if (strcmp(x->rh[i].name, name) == 0)
            return x->rh[i].value;
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_header(char *buf, size_t size, size_t n, void *userp)
{
    struct floe_xfer *x = userp;
    size_t len = size * n;
    if (x->first_byte_s == 0) /* the attempt's first response byte (for opts.on_request) */
        x->first_byte_s = now_s();
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) { /* a new response (e.g. after 100) */
        x->nrh = 0;
        x->hbuf_len = 0;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t nlen = (size_t)(colon - buf);
    const char *v = colon + 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v), need = nlen + 1 + vlen + 1;
    if (x->hbuf_len + need > x->hbuf_cap) { /* grow: move the lines so far, repoint them */
        size_t cap = x->hbuf_cap ? x->hbuf_cap : 1024;
        while (cap < x->hbuf_len + need)
            cap *= 2;
        char *nb = floe_xmalloc(cap);
        if (x->hbuf_len)
            memcpy(nb, x->hbuf, x->hbuf_len);
        for (size_t i = 0; i < x->nrh; i++) {
            x->rh[i].name = nb + (x->rh[i].name - x->hbuf);
            x->rh[i].value = nb + (x->rh[i].value - x->hbuf);
        }
        free(x->hbuf);
        x->hbuf = nb;
        x->hbuf_cap = cap;
    }
    if (x->nrh == x->rh_cap) {
        x->rh_cap = x->rh_cap ? 2 * x->rh_cap : 16;
        x->rh = floe_xrealloc(x->rh, x->rh_cap * sizeof(*x->rh));
    }
    char *name = x->hbuf + x->hbuf_len;
    for (size_t i = 0; i < nlen; i++)
        name[i] = (char)tolower((unsigned char)buf[i]);
    name[nlen] = 0;
    char *value = name + nlen + 1;
    memcpy(value, v, vlen);
    value[vlen] = 0;
    x->hbuf_len += need;
    x->rh[x->nrh].name = name;
    x->rh[x->nrh].value = value;
    x->nrh++;
    return len;
}

/* The cap on an in-memory response body (resp_max, 0 = 4 MiB). */
static size_t resp_limit(const struct floe_xfer *x)
{
    return x->resp_max ? x->resp_max : ((size_t)4 << 20);
}

static size_t on_body(char *buf, size_t size, size_t n, void *userp)
{
    struct floe_xfer *x = userp;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    bool error_body = code >= 300;
    if (!error_body && floe_bwlimit_active() && !floe_bwlimit_charge(FLOE_BW_DOWN, len)) {
        x->bw_paused = true; /* curl keeps these bytes; the loop resumes the handle */
        x->bw_dir = FLOE_BW_DOWN;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (x->body_write && !error_body) {
        if (x->body_write(x->body_ctx, (const uint8_t *)buf, len) != len)
            return 0; /* aborts the attempt: CURLE_WRITE_ERROR */
        x->resp_len += len;
        return len;
    }
    if (x->sink && !error_body) {
        if (x->resp_len + len > x->sink_cap) {
            x->overflow = true;
            return 0; /* aborts the attempt: CURLE_WRITE_ERROR */
        }
        memcpy(x->sink + x->resp_len, buf, len);
        x->resp_len += len;
        return len;
    }
    size_t max = resp_limit(x);
    if (x->resp_len + len > max) {
        if (error_body)
            return len; /* keep the head of an oversized error body */
        x->overflow = true;
        return 0;
    }
    if (x->resp_len + len + 1 > x->resp_cap) {
        size_t cap = x->resp_cap ? x->resp_cap : 4096;
        while (cap < x->resp_len + len + 1)
            cap *= 2;
        x->resp = floe_xrealloc(x->resp, cap);
        x->resp_cap = cap;
    }
    memcpy(x->resp + x->resp_len, buf, len);
    x->resp_len += len;
    x->resp[x->resp_len] = 0;
    return len;
}

static size_t on_read_body(char *dst, size_t size, size_t n, void *userp)
{
    struct floe_xfer *x = userp;
    size_t want = size * n;
    if (x->read_off >= x->body_len)
        return 0;
    if (want > x->body_len - x->read_off)
        want = (size_t)(x->body_len - x->read_off);
    if (floe_bwlimit_active()) {
        want = floe_bwlimit_take(FLOE_BW_UP, want);
        if (want == 0) {
            x->bw_paused = true; /* the loop resumes the handle when tokens are back */
            x->bw_dir = FLOE_BW_UP;
            return CURL_READFUNC_PAUSE;
        }
    }
    size_t got = want;
    if (x->body_read) /* else a memory body sent this way for the bandwidth limit */
        got = x->body_read(x->body_ctx, x->read_off, (uint8_t *)dst, want);
    else
        memcpy(dst, x->body + x->read_off, want);
    if (got == 0)
        return CURL_READFUNC_ABORT;
    x->read_off += got;
    return got;
}

/* curl rewinds a streamed body when it re-sends on a fresh connection within one attempt. */
static int on_seek_body(void *userp, curl_off_t offset, int origin)
{
    struct floe_xfer *x = userp;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->read_off = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Fills x->err from an HTTP error answer; returns the status. */
static int service_error(struct floe_xfer *x)
{
    const char *code = "", *message = "";
    json_t *doc = NULL;
    char pcode[64], pmessage[FLOE_ERROR_MSG_MAX], prid[sizeof(x->err.request_id)] = "";
    if (x->parse_error &&
        x->parse_error(x, pcode, sizeof(pcode), pmessage, sizeof(pmessage), prid, sizeof(prid))) {
        code = pcode;
        message = pmessage;
    } else if (x->resp && x->resp_len) {
        doc = json_loadb((const char *)x->resp, x->resp_len, 0, NULL);
    }
    if (doc && json_is_object(doc)) {
        json_t *c = json_object_get(doc, "code");
        if (!json_is_string(c))
            c = json_object_get(doc, "Code");
        if (!json_is_string(c))
            c = json_object_get(doc, "__type");
        json_t *m = json_object_get(doc, "message");
        if (!json_is_string(m))
            m = json_object_get(doc, "Message");
        if (json_is_string(c))
            code = json_string_value(c);
        if (json_is_string(m))
            message = json_string_value(m);
    }
    const char *hdr = floe_xfer_header(x, "x-amzn-errortype");
    if (!*code && hdr)
        code = hdr;
    /* botocore strips anything after ':' and before '#' */
    const char *hash = strchr(code, '#');
    if (hash)
        code = hash + 1;
    char codebuf[64];
    snprintf(codebuf, sizeof(codebuf), "%.*s", (int)strcspn(code, ":"), code);

    int status = FLOE_E_SERVICE;
    if (x->http_status == 403 || strcmp(codebuf, "UnrecognizedClientException") == 0 ||
        strcmp(codebuf, "MissingAuthenticationTokenException") == 0 ||
        strcmp(codebuf, "InvalidSignatureException") == 0)
        status = FLOE_E_AUTH;
    else if (x->http_status == 404 || strcmp(codebuf, "ResourceNotFoundException") == 0)
        status = FLOE_E_NOT_FOUND;
    else if (floe_retry_http_retryable(x->http_status, codebuf) && x->http_status < 500)
        status = FLOE_E_THROTTLED;

    if (*message) {
        floe_error_set(&x->err, status, "%s: %s (HTTP %ld)", *codebuf ? codebuf : "Error", message,
                       x->http_status);
    } else {
        /* not Glacier JSON (a proxy, moto's HTML): show the start of the body */
        char snippet[160] = "";
        if (x->resp) {
            size_t k = 0;
            for (size_t i = 0; i < x->resp_len && k + 1 < sizeof(snippet); i++)
                snippet[k++] = isprint(x->resp[i]) ? (char)x->resp[i] : ' ';
            snippet[k] = 0;
        }
        const char *loc = floe_xfer_header(x, "location");
        floe_error_set(&x->err, status, "%s %s: HTTP %ld%s%s%s%s%s%s", x->method, x->url,
                       x->http_status, *codebuf ? " " : "", codebuf, loc ? " (redirected to " : "",
                       loc ? loc : "", loc ? ")" : "", *snippet ? ": " : "");
        floe_error_append(&x->err, "%s", snippet);
    }
    snprintf(x->err.code, sizeof(x->err.code), "%s", codebuf);
    x->err.http_status = (int)x->http_status;
    const char *rid = floe_xfer_header(x, "x-amz-request-id");
    if (!rid)
        rid = floe_xfer_header(x, "x-amzn-requestid");
    snprintf(x->err.request_id, sizeof(x->err.request_id), "%s", *prid ? prid : rid ? rid : "");
    json_decref(doc);
    return status;
}

/* opts.on_request: what x cost, from curl's counters of its last attempt. */
static void report_timing(struct floe_transfer *t, struct floe_xfer *x, int status)
{
    struct floe_request_timing rt = {.method = x->method,
                                     .start_s = x->submit_s,
                                     .first_byte_s = x->first_byte_s,
                                     .end_s = now_s(),
                                     .attempts = (unsigned)x->attempts,
                                     .http_status = (int)x->http_status,
                                     .status = status};
    if (x->easy && x->attempts > 0) {
        curl_off_t up = 0, down = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0)
            rt.bytes_sent = (uint64_t)up;
        if (curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &down) == CURLE_OK && down > 0)
            rt.bytes_received = (uint64_t)down;
    }
    t->opts.on_request(t->opts.on_request_user, &rt);
}

/* x's curl handle goes back to the spares (or is freed when they are full): a new request
 * costs a curl_easy_reset instead of a curl_easy_init and its buffers. Transfer thread. */
static void park_easy(struct floe_transfer *t, struct floe_xfer *x)
{
    if (!x->easy)
        return;
    if (t->nspare < t->spare_cap)
        t->spare[t->nspare++] = x->easy;
    else
        curl_easy_cleanup(x->easy);
    x->easy = NULL;
}

static void finish(struct floe_transfer *t, struct floe_xfer *x, int status)
{
    if (t->opts.on_request)
        report_timing(t, x, status);
    park_easy(t, x); /* no longer in the multi; nothing reads it after done() */
    /* freed here, on the thread whose arena they came from (prepare ran here), not by whoever
     * destroys x: a cross-thread free takes the other arena's lock */
    curl_slist_free_all(x->req_headers);
    x->req_headers = NULL;
    x->status = status;
    if (status == FLOE_OK)
        memset(&x->err, 0, sizeof(x->err));
    x->done(x);
}

/* A curl buffer of a twentieth of a second at the limited rate, 16 KiB to dflt. */
static long bw_buffer(enum floe_bw_dir dir, long dflt)
{
    double r = floe_bwlimit_rate(dir);
    if (r <= 0)
        return dflt;
    long b = (long)(r / 20);
    return b < 16384 ? 16384 : b > dflt ? dflt : b;
}

/* A new connection under a download limit gets a receive buffer of a twentieth of a second at the
 * rate (64 KiB to 2 MiB) instead of the kernel's autotuned megabytes: TCP's window then slows
 * the sender to the limit on the link itself, instead of the link filling the buffers at full
 * speed while floe drains them slowly. */
static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    (void)clientp;
    double r = floe_bwlimit_rate(FLOE_BW_DOWN);
    if (purpose == CURLSOCKTYPE_IPCXN && r > 0) {
        int rcvbuf = r / 20 < 65536 ? 65536 : r / 20 > 2097152 ? 2097152 : (int)(r / 20);
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    return CURL_SOCKOPT_OK;
}

/* Resume the handles the bandwidth limit paused whose bucket has tokens again; returns the
 * milliseconds until the next one may go (0 = none paused, or all resumed). Transfer thread. */
static int bw_resume(struct floe_transfer *t)
{
    uint64_t wait[2] = {UINT64_MAX, UINT64_MAX};
    bool asked[2] = {false, false};
    uint64_t next = UINT64_MAX;
    for (unsigned i = 0; i < t->max_active; i++) {
        struct floe_xfer *x = t->active[i];
        if (!x || !x->bw_paused)
            continue;
        int d = x->bw_dir;
        if (!asked[d]) {
            wait[d] = floe_bwlimit_wait_ns(d);
            asked[d] = true;
        }
        if (wait[d] == 0) {
            x->bw_paused = false;
            curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may pause it again at once */
        } else if (wait[d] < next) {
            next = wait[d];
        }
    }
    if (next == UINT64_MAX)
        return 0;
    return (int)(next / 1000000) + 1;
}

static int start_attempt(struct floe_transfer *t, struct floe_xfer *x)
{
    struct curl_slist *hdrs = NULL;
    memset(&x->err, 0, sizeof(x->err));
    clear_response(x);
    if (x->body_write && x->body_restart && x->attempts > 0)
        x->body_restart(x->body_ctx);
    x->qh_len = 0; /* this attempt's lines (floe_xfer_add_header) */
    x->qh_n = 0;
    if (x->prepare) {
        int rc = x->prepare(x, &hdrs, &x->err);
        if (rc) {
            curl_slist_free_all(hdrs);
            return rc;
        }
    }
    floe_xfer_add_header(x, "Expect", NULL);
    curl_slist_free_all(x->req_headers);
    x->req_headers = hdrs;
    hdrs = header_list(x, hdrs);
    if (!x->easy && t->nspare)
        x->easy = t->spare[--t->nspare];
    if (!x->easy)
        x->easy = curl_easy_init();
    else
        curl_easy_reset(x->easy);
    CURL *e = x->easy;
    if (!e)
        return floe_error_set(&x->err, FLOE_E_NOMEM, "curl_easy_init failed");
    x->curl_err[0] = 0;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, t);
    /* curl allocates the receive buffer for every attempt and frees it when the attempt ends:
     * 512 KiB for downloads (GET, or a body streamed or sunk), curl's default 16 KiB for the
     * short answers to uploads and other calls. A 512 KiB malloc and free per small file cost
     * more than its whole request: arena growth and trimming (mprotect, madvise), fresh pages
     * faulted in, malloc_consolidate on the free. */
    bool download = x->body_write || x->sink || strcmp(x->method, "GET") == 0;
    long down_buf = download ? 512L * 1024 : CURL_MAX_WRITE_SIZE, up_buf = 2L * 1024 * 1024;
    if (floe_bwlimit_active()) { /* a limited rate moves in smaller steps: no bursts */
        down_buf = bw_buffer(FLOE_BW_DOWN, down_buf);
        up_buf = bw_buffer(FLOE_BW_UP, up_buf);
    }
    x->bw_paused = false;
    if (floe_bwlimit_active())
        curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, down_buf);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, up_buf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     t->opts.connect_timeout_ms ? t->opts.connect_timeout_ms : 10000L);
    /* stall rule: curl aborts an attempt whose rate stays below the limit for the time */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
                     t->opts.stall_min_rate ? t->opts.stall_min_rate : FLOE_STALL_MIN_RATE);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     t->opts.stall_timeout_s ? t->opts.stall_timeout_s : FLOE_STALL_TIMEOUT_S);
    if (t->opts.log && t->opts.log_level >= FLOE_LOG_DEBUG) {
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(e, CURLOPT_DEBUGDATA, t);
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_VERBOSE, t->opts.verbose && !t->opts.log ? 1L : 0L);
    }
    curl_easy_setopt(e, CURLOPT_USERAGENT, "floe/0.1");
    if (t->opts.ca_bundle)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->opts.ca_bundle);
    if (t->opts.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (x->path_as_is)
        curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    if (strcmp(x->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(x->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L); /* no body follows, whatever Content-Length */
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
        if (x->body_read || (x->body && x->body_len && floe_bwlimit_active())) {
            x->read_off = 0;
            curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read_body);
            curl_easy_setopt(e, CURLOPT_READDATA, x);
            curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek_body);
            curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
            curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
        } else if (x->body || strcmp(x->method, "PUT") == 0 || strcmp(x->method, "POST") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? (const char *)x->body : "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        }
    }
    x->attempts++;
    x->first_byte_s = 0;
    CURLMcode mc = curl_multi_add_handle(t->multi, e);
    if (mc != CURLM_OK)
        return floe_error_set(&x->err, FLOE_E_NETWORK, "curl_multi_add_handle: %s",
                              curl_multi_strerror(mc));
    for (unsigned i = 0; i < t->max_active; i++) {
        if (!t->active[i]) {
            t->active[i] = x;
            break;
        }
    }
    t->running++;
    return FLOE_OK;
}

/* Decide what a finished attempt means: FLOE_OK, a final status, or -1 = retry. */
static int classify(struct floe_transfer *t, struct floe_xfer *x, CURLcode cc)
{
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->http_status);
    if (x->http_status > 0)
        atomic_store(&t->reached, true);
    const char *tls_why = floe_retry_tls_why(cc, x->curl_err);
    if (tls_why) /* configuration, not a passing failure: never retried */
        return floe_error_set(&x->err, FLOE_E_NETWORK, "%s %s: TLS error: %s (%s; not retried)",
                              x->method, x->url,
                              x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc), tls_why);
    if (cc != CURLE_OK) {
        if (x->overflow)
            return floe_error_set(&x->err, FLOE_E_SERVICE,
                                  "response body from %s is larger than expected (%zu bytes)",
                                  x->url, x->sink ? x->sink_cap : resp_limit(x));
        int status = cc == CURLE_OPERATION_TIMEDOUT ? FLOE_E_TIMEOUT : FLOE_E_NETWORK;
        floe_error_set(&x->err, status, "%s %s: %s", x->method, x->url,
                       x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc));
        if (cc == CURLE_GOT_NOTHING && !atomic_load(&t->reached) &&
            strncmp(x->url, "http://", 7) == 0)
            floe_error_append(&x->err, " (an HTTPS server says nothing to plain HTTP: is the "
                                       "endpoint https://?)");
        return floe_retry_curl_code_retryable(cc) ? -1 : status;
    }
    if (x->http_status >= 200 && x->http_status < 300)
        return FLOE_OK;
    int status = service_error(x);
    return floe_retry_http_retryable(x->http_status, x->err.code) ? -1 : status;
}

static void deactivate(struct floe_transfer *t, struct floe_xfer *x)
{
    curl_multi_remove_handle(t->multi, x->easy);
    for (unsigned i = 0; i < t->max_active; i++)
        if (t->active[i] == x)
            t->active[i] = NULL;
    t->running--;
}

static void append_waiting(struct floe_transfer *t, struct floe_xfer *list)
{
    struct floe_xfer **tail = &t->waiting;
    while (*tail)
        tail = &(*tail)->next;
    *tail = list;
}

static atomic_llong s_clock_offset; /* seconds added to time(NULL) when signing */
static pthread_once_t s_offset_once = PTHREAD_ONCE_INIT;

static void offset_init(void)
{
    const char *e = getenv("FLOE_CLOCK_OFFSET_S");
    if (e && *e)
        atomic_store(&s_clock_offset, strtoll(e, NULL, 10));
}

time_t floe_transfer_now(void)
{
    pthread_once(&s_offset_once, offset_init);
    return time(NULL) + (time_t)atomic_load(&s_clock_offset);
}

/* A refusal of the request's time (the service's clock and ours disagree by more than its
 * window): learn the offset from its Date header. true when it was learnt (resend once). */
static bool learn_skew(struct floe_transfer *t, struct floe_xfer *x)
{
    bool skew = strcmp(x->err.code, "RequestTimeTooSkewed") == 0 ||
                (strcmp(x->err.code, "InvalidSignatureException") == 0 &&
                 (strstr(x->err.message, "Signature expired") ||
                  strstr(x->err.message, "Signature not yet current")));
    const char *date = floe_xfer_header(x, "date");
    time_t server = date ? curl_getdate(date, NULL) : -1;
    if (!skew || server <= 0)
        return false;
    long long was = (long long)(server - floe_transfer_now());
    atomic_store(&s_clock_offset, (long long)(server - time(NULL)));
    tlog(t, FLOE_LOG_WARN,
         "the service refused the request time (its Date: %s, %+lld s from the clock used): "
         "signing with its clock from now on",
         date, was);
    return true;
}

static void on_attempt_done(struct floe_transfer *t, struct floe_xfer *x, CURLcode cc)
{
    deactivate(t, x);
    int rc = classify(t, x, cc);
    if (rc != -1 && rc != FLOE_OK && !x->skew_retried && learn_skew(t, x)) {
        x->skew_retried = true;
        x->not_before_ms = 0;
        x->next = NULL;
        append_waiting(t, x);
        return;
    }
    if (rc != -1 && rc != FLOE_OK && x->on_expired && !x->expired_retried &&
        (strcmp(x->err.code, "ExpiredToken") == 0 ||
         strcmp(x->err.code, "ExpiredTokenException") == 0)) {
        x->expired_retried = true;
        if (x->on_expired(x)) {
            tlog(t, FLOE_LOG_INFO,
                 "%s %s: the credentials had expired; sending again with "
                 "refreshed ones",
                 x->method, x->url);
            x->not_before_ms = 0;
            x->next = NULL;
            append_waiting(t, x);
            return;
        }
    }
    if (rc != -1) {
        finish(t, x, rc);
        return;
    }
    uint64_t now = now_ms();
    if (!x->failing_since_ms)
        x->failing_since_ms = now;
    uint64_t failing = now - x->failing_since_ms;
    bool unreached = x->http_status == 0 && floe_retry_curl_code_unreached(cc);
    if (!floe_retry_may_retry(&x->retry, x->attempts, failing, unreached,
                              atomic_load(&t->reached))) {
        int status = x->err.status ? x->err.status : FLOE_E_NETWORK;
        floe_error_append(&x->err, " (gave up after %d attempt%s in %.1f s)", x->attempts,
                          x->attempts == 1 ? "" : "s", (double)failing / 1000);
        finish(t, x, status);
        return;
    }
    uint32_t delay = floe_retry_backoff_ms(&x->retry, x->attempts, &t->rng);
    tlog(t, FLOE_LOG_INFO, "retry %d of %s %s in %.1f s: %s", x->attempts, x->method, x->url,
         (double)delay / 1000, x->err.message);
    if (failing >= 10000 && now - t->last_warn_ms >= 60000) { /* an outage, not a blip */
        t->last_warn_ms = now;
        tlog(t, FLOE_LOG_WARN, "still retrying after %.0f s (for up to %.0f s): %s",
             (double)failing / 1000, (double)x->retry.budget_ms / 1000, x->err.message);
    }
    /* a service that says when to come back (429/503 Retry-After: seconds) is believed, up to
     * a minute */
    const char *ra = floe_xfer_header(x, "retry-after");
    if (ra && *ra && strspn(ra, "0123456789") == strlen(ra) && strlen(ra) < 6) {
        unsigned long s = strtoul(ra, NULL, 10);
        uint32_t ms = (uint32_t)(s > 60 ? 60 : s) * 1000u;
        if (ms > delay)
            delay = ms;
    }
    if (x->on_retry)
        x->on_retry(x, &x->err, delay);
    x->not_before_ms = now_ms() + delay;
    x->next = NULL;
    append_waiting(t, x);
}

static void start_ready(struct floe_transfer *t, uint64_t *next_due)
{
    unsigned max = t->max_active;
    uint64_t now = now_ms();
    struct floe_xfer **pp = &t->waiting; /* submission order */
    while (*pp && t->running < max) {
        struct floe_xfer *x = *pp;
        if (x->not_before_ms > now) {
            if (!*next_due || x->not_before_ms < *next_due)
                *next_due = x->not_before_ms;
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        x->next = NULL;
        int rc = start_attempt(t, x);
        if (rc)
            finish(t, x, rc);
    }
    for (struct floe_xfer *x = *pp; x; x = x->next)
        if (x->not_before_ms > now && (!*next_due || x->not_before_ms < *next_due))
            *next_due = x->not_before_ms;
}

static void take_incoming(struct floe_transfer *t, bool *stopping)
{
    pthread_mutex_lock(&t->mu);
    struct floe_xfer *in = t->locked.incoming_head;
    t->locked.incoming_head = t->locked.incoming_tail = NULL;
    *stopping = t->locked.stopping;
    pthread_mutex_unlock(&t->mu);
    append_waiting(t, in);
}

static void cancel_all(struct floe_transfer *t)
{
    for (unsigned i = 0; i < t->max_active; i++) {
        struct floe_xfer *x = t->active[i];
        if (!x)
            continue;
        deactivate(t, x);
        floe_error_set(&x->err, FLOE_E_NETWORK, "%s %s: cancelled", x->method, x->url);
        finish(t, x, FLOE_E_NETWORK);
    }
    while (t->waiting) {
        struct floe_xfer *x = t->waiting;
        t->waiting = x->next;
        floe_error_set(&x->err, FLOE_E_NETWORK, "%s %s: cancelled", x->method, x->url);
        finish(t, x, FLOE_E_NETWORK);
    }
}

/* The state of socket number s, grown to fit (NULL for a negative number). Transfer thread. */
static struct sock_state *sock_at(struct floe_transfer *t, curl_socket_t s)
{
    if (s < 0)
        return NULL;
    if ((size_t)s >= t->nsocks) {
        size_t n = t->nsocks ? t->nsocks : 64;
        while (n <= (size_t)s)
            n *= 2;
        t->socks = floe_xrealloc(t->socks, n * sizeof(*t->socks));
        memset(t->socks + t->nsocks, 0, (n - t->nsocks) * sizeof(*t->socks));
        t->nsocks = n;
    }
    return &t->socks[s];
}

/* CURLOPT_OPENSOCKETFUNCTION: what curl would do itself, and the number is marked ours. A fresh
 * number is in no epoll set (closing a socket takes it out of every set). */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    struct floe_transfer *t = clientp;
    curl_socket_t s = socket(addr->family, addr->socktype, addr->protocol);
    struct sock_state *ss = sock_at(t, s);
    if (ss)
        *ss = (struct sock_state){.ours = true};
    return s;
}

/* CURLOPT_CLOSESOCKETFUNCTION: curl closes an opened socket here, never behind our back. */
static int on_close_socket(void *clientp, curl_socket_t s)
{
    struct floe_transfer *t = clientp;
    if (s >= 0 && (size_t)s < t->nsocks)
        t->socks[s] = (struct sock_state){0}; /* close() takes it out of the set */
    return close(s);
}

/* CURLMOPT_SOCKETFUNCTION: keep the epoll set to what curl waits for on socket s. socketp is
 * NULL until the socket is first added (then marked with curl_multi_assign). A socket of ours
 * that curl stops watching stays in the set, with curl's last interest, until curl watches it
 * again (no system call when the interest is the same), it is closed, or it becomes ready
 * while unwatched (the loop takes it out then: a server closing an idle connection). */
static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct floe_transfer *t = userp;
    struct sock_state *ss = sock_at(t, s);
    bool ours = ss && ss->ours;
    if (what == CURL_POLL_REMOVE) {
        if (ours && ss->in_set) {
            ss->wanted = false;
            return 0;
        }
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, s, NULL); /* ENOENT/EBADF: already gone with close */
        if (ss)
            ss->in_set = false;
        return 0;
    }
    struct epoll_event ev = {.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
                                       (what & CURL_POLL_OUT ? EPOLLOUT : 0u),
                             .data.fd = s};
    if (ours && ss->in_set && ss->events == ev.events) {
        ss->wanted = true;
    } else {
        int op = (ours ? ss->in_set : socketp != NULL) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(t->epfd, op, s, &ev) != 0) {
            /* a closed socket left the set by itself, or a number reused before curl said
             * REMOVE (sockets curl opens without on_open_socket: the resolver's pair) */
            if (errno == ENOENT)
                epoll_ctl(t->epfd, EPOLL_CTL_ADD, s, &ev);
            else if (errno == EEXIST)
                epoll_ctl(t->epfd, EPOLL_CTL_MOD, s, &ev);
        }
        if (ss) {
            ss->in_set = true;
            ss->events = ev.events;
            ss->wanted = true;
        }
    }
    if (!socketp)
        curl_multi_assign(t->multi, s, t);
    return 0;
}

/* An event on a socket of ours that curl does not watch (an idle connection the server closed,
 * or one that became readable): out of the set; curl checks a cached connection before it
 * reuses one. true when fd was such a socket. */
static bool drop_unwatched(struct floe_transfer *t, int fd)
{
    if (fd < 0 || (size_t)fd >= t->nsocks)
        return false;
    struct sock_state *ss = &t->socks[fd];
    if (!ss->ours || !ss->in_set || ss->wanted)
        return false;
    epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
    ss->in_set = false;
    return true;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants CURL_SOCKET_TIMEOUT (-1 = never). The due time stays
 * until curl sets another: a TIMEOUT call that finds nothing expired yet is simply repeated. */
static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    struct floe_transfer *t = userp;
    t->curl_timer = timeout_ms >= 0;
    if (t->curl_timer)
        t->curl_due_ms = now_ms() + (uint64_t)timeout_ms;
    return 0;
}

/* The transfer thread's own struct (done callbacks that submit do not need to wake it). */
static _Thread_local struct floe_transfer *tls_self;

static void wake_thread(struct floe_transfer *t)
{
    uint64_t one = 1;
    while (write(t->evfd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

#define MAX_EVENTS 64

static void *transfer_main(void *arg)
{
    struct floe_transfer *t = arg;
    struct epoll_event evs[MAX_EVENTS];
    tls_self = t;
    for (;;) {
        bool stopping;
        take_incoming(t, &stopping);
        if (stopping) {
            cancel_all(t);
            take_incoming(t, &stopping);
            if (!t->waiting)
                break;
            continue;
        }
        uint64_t next_due = 0;
        start_ready(t, &next_due);
        /* curl's timers belong to its easy handles. When the last one leaves the multi (we
         * remove it after the socket_action call that finished it), curl does not always say
         * -1: a due time left behind would make every turn a TIMEOUT call with nothing to do,
         * a busy loop until the next request */
        if (t->running == 0)
            t->curl_timer = false;
        int timeout = 1000;
        uint64_t now = now_ms();
        if (next_due)
            timeout = next_due <= now ? 0 : (int)(next_due - now < 1000 ? next_due - now : 1000);
        int bw_ms = bw_resume(t); /* also when the limit was lifted meanwhile */
        if (bw_ms && bw_ms < timeout)
            timeout = bw_ms;
        if (t->curl_timer) { /* after bw_resume: a resumed handle asks to run at once */
            uint64_t d = t->curl_due_ms <= now ? 0 : t->curl_due_ms - now;
            if (d < (uint64_t)timeout)
                timeout = (int)d;
        }
        int n = epoll_wait(t->epfd, evs, MAX_EVENTS, timeout);
        int still = 0;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == t->evfd) {
                uint64_t v;
                while (read(t->evfd, &v, sizeof(v)) < 0 && errno == EINTR)
                    ;
                continue;
            }
            if (drop_unwatched(t, fd))
                continue;
            uint32_t e = evs[i].events;
            int mask = (e & EPOLLIN ? CURL_CSELECT_IN : 0) | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                       (e & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(t->multi, fd, mask, &still);
        }
        if (t->curl_timer && now_ms() >= t->curl_due_ms)
            curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(t->multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct floe_xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            on_attempt_done(t, x, msg->data.result);
        }
    }
    return NULL;
}

static pthread_once_t s_global_once = PTHREAD_ONCE_INIT;
static CURLcode s_global_rc;

static void global_init(void)
{
    s_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int floe_transfer_global_init(struct floe_error *err)
{
    pthread_once(&s_global_once, global_init);
    if (s_global_rc != CURLE_OK)
        return floe_error_set(err, FLOE_E_NETWORK, "curl_global_init: %s",
                              curl_easy_strerror(s_global_rc));
    return FLOE_OK;
}

int floe_transfer_new(const struct floe_transfer_opts *opts, struct floe_transfer **out,
                      struct floe_error *err)
{
    int rc = floe_transfer_global_init(err);
    if (rc)
        return rc;
    struct floe_transfer *t = floe_xcalloc(1, sizeof(*t));
    if (opts)
        t->opts = *opts;
    if (t->opts.ca_bundle)
        t->opts.ca_bundle = floe_xstrdup(t->opts.ca_bundle); /* freed by destroy */
    t->rng = floe_retry_seed();
    t->max_active = t->opts.max_active ? t->opts.max_active : 8;
    t->active = floe_xcalloc(t->max_active, sizeof(*t->active));
    t->spare_cap = t->max_active;
    t->spare = floe_xcalloc(t->spare_cap, sizeof(*t->spare));
    pthread_mutex_init(&t->mu, NULL);
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = t->evfd};
    if (t->epfd < 0 || t->evfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev) != 0) {
        rc = floe_error_set_errno(err, FLOE_E_NETWORK, errno, NULL,
                                  "cannot set up the transfer thread's epoll set");
        goto fail;
    }
    t->multi = curl_multi_init();
    if (!t->multi) {
        rc = floe_error_set(err, FLOE_E_NETWORK, "curl_multi_init failed");
        goto fail;
    }
    /* Idle connections kept: enough for every slot towards two endpoints, since one transfer
     * thread may serve two clients (migrate to S3: the Glacier client's and the S3 client's).
     * With max_active + 4, batches of requests to one and then the other evicted each other's
     * connections, and each batch connected again (457 connects to migrate 1,000 small
     * archives on loopback; on a far link each costs a round trip or three with TLS). */
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, 2 * (long)t->max_active + 4);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    int prc = pthread_create(&t->thread, NULL, transfer_main, t);
    if (prc) {
        rc = floe_error_set_errno(err, FLOE_E_NOMEM, prc, NULL, "cannot start the transfer thread");
        goto fail;
    }
    *out = t;
    return FLOE_OK;
fail:
    if (t->multi)
        curl_multi_cleanup(t->multi);
    if (t->evfd >= 0)
        close(t->evfd);
    if (t->epfd >= 0)
        close(t->epfd);
    pthread_mutex_destroy(&t->mu);
    free(t->active);
    free(t->spare);
    free((void *)t->opts.ca_bundle);
    free(t);
    return rc;
}

void floe_transfer_submit(struct floe_transfer *t, struct floe_xfer *x)
{
    x->next = NULL;
    x->not_before_ms = 0;
    x->failing_since_ms = 0;
    x->attempts = 0;
    x->submit_s = t->opts.on_request ? now_s() : 0;
    pthread_mutex_lock(&t->mu);
    /* a non-empty list has not been taken yet: whoever pushed its first xfer wakes the thread
     * (after unlocking), and the thread takes the whole list. One wake-up for a burst. */
    bool wake = !t->locked.incoming_head;
    if (t->locked.incoming_tail)
        t->locked.incoming_tail->next = x;
    else
        t->locked.incoming_head = x;
    t->locked.incoming_tail = x;
    pthread_mutex_unlock(&t->mu);
    /* the transfer thread itself (a done callback submitting the next request) takes the list
     * before it waits again */
    if (wake && tls_self != t)
        wake_thread(t);
}

static void sync_done(struct floe_xfer *x)
{
    floe_latch_count_down(x->user);
}

int floe_transfer_run(struct floe_transfer *t, struct floe_xfer *x)
{
    struct floe_latch done;
    floe_latch_init(&done, 1);
    x->done = sync_done;
    x->user = &done;
    floe_transfer_submit(t, x);
    floe_latch_wait(&done);
    floe_latch_destroy(&done);
    x->done = NULL;
    x->user = NULL;
    return x->status;
}

void floe_transfer_destroy(struct floe_transfer *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->locked.stopping = true;
    pthread_mutex_unlock(&t->mu);
    wake_thread(t);
    pthread_join(t->thread, NULL);
    while (t->nspare)
        curl_easy_cleanup(t->spare[--t->nspare]);
    free(t->spare);
    curl_multi_cleanup(t->multi); /* closes the cached connections (on_close_socket) */
    free(t->socks);
    close(t->evfd);
    close(t->epfd);
    pthread_mutex_destroy(&t->mu);
    free(t->active);
    free((void *)t->opts.ca_bundle);
    free(t);
}
