/*
 * http.c - libmicrohttpd glue (see http.h).
 *
 * DESIGN
 * A pool of POOL_THREADS threads polls the connections (MHD_USE_INTERNAL_POLLING_THREAD |
 * MHD_USE_EPOLL, MHD_OPTION_THREAD_POOL_SIZE): each takes its share of the accepted
 * connections and serves them from one epoll set. An idle connection costs a socket and
 * libmicrohttpd's per-connection state, not a thread, so 10,000 of them fit in bounded
 * memory, and the runnable threads stay few however many clients are connected (with a
 * thread per connection, as before, 11,000 threads held the load test's idle crowd and the
 * scheduling of a thousand runnable ones made the DescribeVault tail: docs/performance.md).
 * A handler that blocks holds up the other connections of its pool thread. Reads do not
 * wait on a commit (store_db.c: read-only connections).
 *
 * Ends off the pool: the end of a request that changes state (every method but GET and HEAD:
 * an upload's fdatasync and group-commit wait, a buffered request's handler and its commit)
 * runs on one of ENDERS ender threads while its connection is suspended
 * (MHD_ALLOW_SUSPEND_RESUME); the ender resumes it and the pool thread sends the answer. Run
 * inline, a hundred uploads committing at once stalled the kept-alive connections sharing
 * their pool threads for up to 300 ms (the load test's DescribeVault tail; docs/performance.md,
 * "Ends off the pool"). libmicrohttpd must not be stopped with a connection suspended:
 * floe_vhttp_stop() first admits no more ends (a request reaching its end is answered 500
 * ServiceUnavailableException, nothing done), runs the admitted ones inline and waits for those
 * queued or running (an end that never returns would hold it, as it held libmicrohttpd's stop
 * before), then waits (for STOP_ANSWER_WAIT_MS at most) until the answer of every end it let run
 * has been sent: a client whose upload was committed hears so, instead of a closed connection that
 * makes it upload again. Lock order: end_mu, then libmicrohttpd's own (MHD_suspend_connection runs
 * under end_mu, so that the stopping check, the suspend and the count are one step against
 * stop): end_mu is never taken from a libmicrohttpd callback that may hold its mutex.
 *
 * Request life:
 *   1. URI log callback: the raw request target is saved (MHD later unescapes its own copy;
 *      SigV4 needs the bytes as sent).
 *   2. First access-handler call (headers complete): collect headers (every occurrence),
 *      then floe_vdispatch_head() (vdispatch.h: header checks, path and query, route,
 *      authentication of uploads and their begin handler, the precheck of the others).
 *   3. Body calls: floe_vdispatch_body() (uploads stream into their handler; the others
 *      are buffered up to FLOE_VDISPATCH_BODY_MAX).
 *   4. Final call: floe_vdispatch_end() (upload end, or the buffered request authenticated
 *      with its body's SHA-256 and run), then the answer is sent.
 *   The checks, route and handlers are vdispatch.c's, shared with floe_vdispatch_one(), the
 *   in-process path of the fuzz target; this file adds only what the socket needs.
 * An error found before the body is read does not close the connection: the body is drained
 * and discarded, then the error is sent. Clients (urllib3) write the whole body before
 * reading, so closing early would turn a clear 4xx into a connection reset. A client that
 * sent "Expect: 100-continue" is waiting instead: it gets the error on the first call, so
 * libmicrohttpd never sends 100 Continue, and the connection closes after it.
 * Request completion (MHD_OPTION_NOTIFY_COMPLETED, also on client abort or timeout) logs the
 * request and frees it; an upload cut short never reached its commit, so its blob is removed.
 *
 * Hostile clients (docs/floe-vault.md). Work is admitted step by step, each step before it
 * costs anything:
 *   - connections: each one is counted when it opens (MHD_OPTION_NOTIFY_CONNECTION, admit.h);
 *     one over --max-connections or --max-connections-per-client is answered 503 SlowDown
 *     (Retry-After: 1) as soon as its headers are in (or after REFUSED_HEADER_MS without
 *     them), its body never read, and closed. A quarter higher, accept_policy() closes new
 *     connections at once: the silent backstop (libmicrohttpd's own limit would split it
 *     among the pool threads, and one at its share would leave its connections unaccepted).
 *   - headers: a connection's request headers must be complete within --header-timeout
 *     (default 30 s) of its opening (later requests on it: of their request line), else the
 *     watchdog answers 408 on the socket and shuts it down. That bounds how slowly headers
 *     may come, as the minimum rate below bounds bodies (libmicrohttpd shows no header bytes).
 *   - authentication before any body byte: uploads are checked against the signature over
 *     the headers and the declared x-amz-content-sha256; a buffered request with a body gets
 *     floe_vauth_precheck() (the whole signature when x-amz-content-sha256 is sent, else
 *     every check but the signature itself) and its full check once the body is in. A
 *     request refused before it authenticated is answered at once; its body is never read
 *     when it is over UNAUTH_DRAIN_MAX (64 KiB): the connection closes after the answer.
 *   - bodies: --request-timeout (no byte for that long) and a minimum rate, --min-body-rate
 *     bytes/s averaged over --rate-window (defaults 1024 B/s over 30 s; each window met
 *     starts the next), both answered 408 by the watchdog below; an upload's blob (and the
 *     disk it reserved, which grows with the bytes received: store_blob.c) goes first.
 *
 * Stalled bodies (--request-timeout, default 60 s): libmicrohttpd's own idle timeout closes a
 * connection without a word (and shuts the socket for writing before telling us), so a
 * watchdog thread answers instead. Every request whose body is still arriving is on a list
 * (guarded by `mu`) with the time of its last body bytes. When that is older than the
 * timeout, the watchdog takes the request's own mutex (only with trylock: the connection
 * thread holds it while it processes body bytes, which means the body is not stalled),
 * marks it timed out (the connection's pool thread will not touch the upload again: it checks
 * the mark under the same mutex) and takes it for answering. After the sweep it releases the
 * list lock, then for each request taken removes its blob, writes a complete 408
 * RequestTimeoutException response on the socket and shuts the socket down. libmicrohttpd
 * then sees the connection end and completes the request as usual. Answering outside the lock
 * matters when many are cut at once (the load test's thousand slow senders: their unlinks and
 * sends under the lock held up every connection that opened or started a request meanwhile,
 * docs/performance.md). A request taken stays valid until it is answered: unlisting it
 * (unwatch(), at its end or completion) waits for that. Connections whose headers are late are
 * answered the same way, on a duplicate of their socket. The list lock is taken before a
 * request's mutex, never after; completion unlists a request before freeing it.
 */
#include "http.h"

#include "admit.h"
#include "alloc.h"
#include "auth.h"
#include "errors.h"
#include "router.h"
#include "vdispatch.h"
#include "vctx.h"
#include "vlog.h"
#include "vutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bodies of rejected requests are drained up to this size; larger ones close the connection. */
#define DISCARD_MAX ((uint64_t)5 << 30)
/* A request refused before it authenticated is drained only up to this size (a client that
 * writes its whole body before reading then still sees the answer); a larger body is never
 * read: the answer goes out at once and the connection closes. */
#define UNAUTH_DRAIN_MAX ((uint64_t)64 << 10)
/* A connection over a limit waits this long at most for its headers (then 503 all the same):
 * idle connections beyond the cap must not keep their threads for the whole header timeout. */
#define REFUSED_HEADER_MS 2000
/* Threads polling the connections (epoll), each serving its share of them (see DESIGN). */
#define POOL_THREADS 64
/* Threads running the ends of requests that change state (see DESIGN, "Ends off the pool"):
 * as many as the group commit usefully batches; more ends wait in their queue. */
#define ENDERS 32
/* How long a stop waits for the answers of the ends it let run to go out (a client that
 * does not read its answer must not hold the stop). */
#define STOP_ANSWER_WAIT_MS 10000

struct http_req;
struct http_conn;

struct floe_vhttp {
    struct MHD_Daemon *d;
    int lfd;
    struct floe_vserver *srv;
    struct floe_vadmit *admit; /* connection counts (admit.h) */
    unsigned hard_limit;       /* connections beyond this are closed at accept; 0: none */
    /* read-only after start (see DESIGN, "Hostile clients") */
    int64_t timeout_ms;        /* --request-timeout: a body with no bytes this long; 0: never */
    int64_t header_timeout_ms; /* --header-timeout; 0: never */
    uint64_t min_rate;         /* --min-body-rate, bytes/s; 0: none */
    int64_t window_ms;         /* --rate-window */
    bool watchdog_needed;
    pthread_t watchdog;
    bool watchdog_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t reaped; /* the watchdog finished answering a request it took (mu) */
    struct {
        struct http_req *head;       /* requests whose body is still arriving */
        struct http_conn *conn_head; /* connections whose request headers are still arriving */
        bool stopping;
    } locked; /* guarded by mu */
    /* the end of a request that changes state runs on an ender thread while its connection is
     * suspended (see DESIGN, "Ends off the pool") */
    pthread_t enders[ENDERS];
    unsigned nenders;
    pthread_mutex_t end_mu;
    pthread_cond_t end_cv;   /* work queued, or stop */
    pthread_cond_t end_idle; /* pending or answering fell to 0 */
    struct {
        struct http_req *head, *tail; /* ends waiting for an ender */
        unsigned pending;             /* queued or running */
        bool stopping; /* no end admitted any more; the admitted run on the pool thread */
        bool stop;     /* the enders exit */
    } ends;            /* guarded by end_mu */
    /* ends admitted whose answer is not yet sent: raised under end_mu (with the stopping
     * check), lowered without it (by the completion callback) */
    _Atomic unsigned answering;
};

/* Per-connection state (MHD's socket context), from open to close. */
struct http_conn {
    struct sockaddr_storage addr; /* the client's address */
    int fd;
    enum floe_vadmit_verdict verdict; /* over a connection limit: answered 503 */
    unsigned open_from;               /* connections open from addr when this one opened */
    int64_t deadline_ms;              /* the current request's headers are due by then */
    bool listed;                      /* on locked.conn_head; changed under http->mu */
    struct http_conn *prev, *next;    /* guarded by http->mu */
};

enum phase { PH_NEW = 0, PH_BODY, PH_DONE };

/* Per-request state private to http.c, allocated together with the public request. */
struct http_req {
    struct floe_vreq rq; /* first member: http_req * == floe_vreq * */
    enum phase phase;
    struct floe_vdispatch d; /* checks, route and handler (vdispatch.h) */
    bool discard;            /* an answer is decided; drain the body */
    bool body_seen;          /* a body call came (so 100 Continue, if asked for, went out) */
    bool close_now;          /* answer at once and close, never read the body (over a limit) */
    /* stall watchdog (see DESIGN) */
    struct floe_vhttp *http;
    int fd;                        /* the connection's socket; set when listed */
    bool listed;                   /* on http->locked.head; changed under http->mu */
    struct http_req *prev, *next;  /* guarded by http->mu */
    pthread_mutex_t mu;            /* held by the connection thread while it handles body bytes */
    bool timed_out;                /* guarded by mu: the watchdog answers (answered) 408 */
    bool reaping;                  /* guarded by http->mu: the watchdog is answering it */
    char *reap_msg;                /* the watchdog's while reaping */
    struct http_req *reap_next;    /* the watchdog's while reaping */
    _Atomic int64_t last_body_ms;  /* when body bytes last arrived */
    _Atomic uint64_t window_bytes; /* body bytes since window_start_ms */
    int64_t window_start_ms;       /* the minimum-rate window; the watchdog's (set before) */
    /* an end run by an ender (see DESIGN, "Ends off the pool") */
    struct MHD_Connection *conn; /* the suspended connection, resumed by the ender */
    struct http_req *end_next;   /* guarded by http->end_mu */
    bool ended;                  /* the ender ran the end (read after the resume) */
    bool answering;              /* counted in http->answering until completed */
};

static struct http_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The header deadline: c's request headers are arriving since `since` (http->mu held). A
 * connection over a limit has REFUSED_HEADER_MS at most, then it is answered 503 at once. */
static void conn_watch_locked(struct floe_vhttp *http, struct http_conn *c, int64_t since)
{
    int64_t span = http->header_timeout_ms;
    if (c->verdict != FLOE_VADMIT_OK && (!span || span > REFUSED_HEADER_MS))
        span = REFUSED_HEADER_MS;
    if (c->listed || !span)
        return;
    c->deadline_ms = since + span;
    c->prev = NULL;
    c->next = http->locked.conn_head;
    if (c->next)
        c->next->prev = c;
    http->locked.conn_head = c;
    c->listed = true;
}

static void conn_unwatch_locked(struct floe_vhttp *http, struct http_conn *c)
{
    if (!c->listed)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        http->locked.conn_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->listed = false;
}

/* Before a connection is set up: the silent backstop (see DESIGN, "connections"). Any pool
 * thread; reads the admission counts under their own lock. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    struct floe_vhttp *http = cls;
    (void)addr;
    (void)len;
    return http->hard_limit && floe_vadmit_open(http->admit) >= http->hard_limit ? MHD_NO : MHD_YES;
}

/* A connection opens: count it (admit.h) and start its header deadline. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct floe_vhttp *http = cls;
    struct http_conn *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (!c)
            return;
        pthread_mutex_lock(&http->mu);
        conn_unwatch_locked(http, c); /* the watchdog cannot reach c (or its fd) after this */
        pthread_mutex_unlock(&http->mu);
        floe_vadmit_leave(http->admit, (struct sockaddr *)&c->addr);
        free(c);
        *socket_context = NULL;
        return;
    }
    c = floe_xcalloc(1, sizeof(*c));
    c->fd = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        size_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                            : sizeof(struct sockaddr_in);
        memcpy(&c->addr, ci->client_addr, len);
    }
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        c->fd = ci->connect_fd;
    c->verdict = floe_vadmit_enter(http->admit, (struct sockaddr *)&c->addr, &c->open_from);
    *socket_context = c;
    if (c->fd >= 0) {
        pthread_mutex_lock(&http->mu);
        conn_watch_locked(http, c, floe_vutil_now_ms());
        pthread_mutex_unlock(&http->mu);
    }
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct floe_vhttp *http = cls;
    struct http_conn *c = conn_of(conn);
    if (c && c->fd >= 0) { /* a request after another on the connection: its own deadline */
        pthread_mutex_lock(&http->mu);
        conn_watch_locked(http, c, floe_vutil_now_ms());
        pthread_mutex_unlock(&http->mu);
    }
    struct http_req *h = floe_xcalloc(1, sizeof(*h));
    h->http = http;
    h->fd = -1;
    pthread_mutex_init(&h->mu, NULL);
    h->rq.srv = http->srv;
    h->rq.raw_uri = floe_xstrdup(uri ? uri : "");
    h->rq.start_ms = floe_vutil_now_ms();
    atomic_store(&h->last_body_ms, h->rq.start_ms);
    return h;
}

/* Put a request whose body is still to come under the watchdog. */
static void watch(struct http_req *h, struct MHD_Connection *conn)
{
    struct floe_vhttp *http = h->http;
    if (!http->timeout_ms && !http->min_rate)
        return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    h->fd = ci->connect_fd;
    atomic_store(&h->last_body_ms, floe_vutil_now_ms());
    atomic_store(&h->window_bytes, 0);
    h->window_start_ms = atomic_load(&h->last_body_ms);
    pthread_mutex_lock(&http->mu);
    h->next = http->locked.head;
    if (h->next)
        h->next->prev = h;
    h->prev = NULL;
    http->locked.head = h;
    h->listed = true;
    pthread_mutex_unlock(&http->mu);
}

static void unwatch(struct http_req *h)
{
    struct floe_vhttp *http = h->http;
    pthread_mutex_lock(&http->mu);
    while (h->reaping) /* the watchdog still answers on h->fd and frees h's upload */
        pthread_cond_wait(&http->reaped, &http->mu);
    if (h->listed) {
        if (h->prev)
            h->prev->next = h->next;
        else
            http->locked.head = h->next;
        if (h->next)
            h->next->prev = h->prev;
        h->listed = false;
    }
    pthread_mutex_unlock(&http->mu);
}

/* Watchdog: a complete error answer (408 RequestTimeoutException, or 503 SlowDown for a
 * connection over a limit) with msg straight on the socket, then the socket is shut down
 * (libmicrohttpd sees it and ends the request). */
static void answer_on_socket(int fd, bool slow_down, const char *request_id, const char *msg)
{
    char head[512];
    size_t len = 0;
    const char *code = slow_down ? "SlowDown" : floe_verr_code(FLOE_VERR_REQUEST_TIMEOUT);
    char *body = floe_verr_json(code, msg, slow_down ? 503 : 408, &len);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                     "x-amzn-RequestId: %s\r\nx-amzn-ErrorType: %s\r\n%s"
                     "Connection: close\r\nContent-Length: %zu\r\n\r\n",
                     slow_down ? "503 Service Unavailable" : "408 Request Timeout", request_id,
                     code, slow_down ? "Retry-After: 1\r\n" : "", len);
    /* Small enough for any socket buffer; a client that is gone just loses it. */
    if (n > 0 && (size_t)n < sizeof(head) &&
        send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
        (void)!send(fd, body, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    free(body);
    shutdown(fd, SHUT_RDWR);
}

/* Watchdog, http->mu not held: h was marked timed_out and reaping (so its connection thread
 * leaves its upload alone and unwatch() waits, keeping h and its socket). Answer 408 (msg). */
static void time_out(struct http_req *h, const char *msg)
{
    struct floe_vreq *rq = &h->rq;
    if (rq->op_free)
        rq->op_free(rq); /* an upload's blob goes before anyone hears of the timeout */
    floe_vlog(&rq->srv->cfg, FLOE_VLOG_INFO, "%s %s: %s", rq->method, rq->path, msg);
    answer_on_socket(h->fd, false, rq->request_id, msg);
    rq->resp.status = floe_verr_status(FLOE_VERR_REQUEST_TIMEOUT); /* for the log line */
}

/* Watchdog, h's mutex held: the idle rule (--request-timeout), then the minimum rate over the
 * window (--min-body-rate, --rate-window), which starts again each time it is met. True when
 * h is to be answered 408 with msg. */
static bool check_body_locked(struct floe_vhttp *http, struct http_req *h, int64_t now, char *msg,
                              size_t cap)
{
    int64_t idle = now - atomic_load(&h->last_body_ms);
    if (http->timeout_ms && idle >= http->timeout_ms) {
        snprintf(msg, cap, "The upload body stalled: no bytes for %.1f seconds",
                 (double)idle / 1000.0);
        return true;
    }
    int64_t span = now - h->window_start_ms;
    if (!http->min_rate || span < http->window_ms)
        return false;
    uint64_t got = atomic_exchange(&h->window_bytes, 0);
    if ((double)got * 1000.0 >= (double)http->min_rate * (double)span) {
        h->window_start_ms = now;
        return false;
    }
    snprintf(msg, cap,
             "The request body is too slow: %llu bytes in %.1f seconds (%.1f bytes/s); the "
             "minimum is %llu bytes/s over %.1f seconds",
             (unsigned long long)got, (double)span / 1000.0, (double)got * 1000.0 / (double)span,
             (unsigned long long)http->min_rate, (double)http->window_ms / 1000.0);
    return true;
}

/* A connection the watchdog answers: a duplicate of its socket (the connection may close and
 * its descriptor be reused meanwhile; the duplicate keeps the same socket) and which answer. */
struct late_conn {
    int fd;
    bool over;
};

/* Watchdog, http->mu held: connections whose request headers are past the deadline, taken off
 * the list and appended to *late (grown as needed); answered by answer_late() after the lock. */
static void check_headers_locked(struct floe_vhttp *http, int64_t now, struct late_conn **late,
                                 size_t *n, size_t *cap)
{
    for (struct http_conn *c = http->locked.conn_head, *next; c; c = next) {
        next = c->next;
        if (now < c->deadline_ms)
            continue;
        conn_unwatch_locked(http, c);
        int fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) { /* out of descriptors: the connection is cut without an answer */
            shutdown(c->fd, SHUT_RDWR);
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            *late = floe_xrealloc(*late, *cap * sizeof(**late));
        }
        (*late)[(*n)++] = (struct late_conn){fd, c->verdict != FLOE_VADMIT_OK};
    }
}

static void answer_late(struct floe_vhttp *http, const struct late_conn *late, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char msg[192], id[64];
        if (late[i].over)
            snprintf(msg, sizeof(msg),
                     "Too many connections (--max-connections %u, per client %u); retry later",
                     http->srv->cfg.max_connections, http->srv->cfg.max_client_connections);
        else
            snprintf(msg, sizeof(msg), "The request headers did not arrive within %.1f seconds",
                     (double)http->header_timeout_ms / 1000.0);
        floe_vutil_id(id, 52, true);
        floe_vlog(&http->srv->cfg, FLOE_VLOG_INFO, "connection closed: %s", msg);
        answer_on_socket(late[i].fd, late[i].over, id, msg);
        close(late[i].fd);
    }
}

/* Waits on cv (mu held) until signalled or ms milliseconds have passed (conditions use the
 * default clock, CLOCK_REALTIME). */
static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += (time_t)(ms / 1000) + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(cv, mu, &ts);
}

/* The watchdog. Each tick it finds, under http->mu, the bodies that stalled or are too slow
 * and the connections whose headers are late, and marks them; it answers them (and frees the
 * uploads' blobs) after releasing the lock, so a sweep that cuts a thousand slow senders at
 * once does not hold up every connection that opens or starts a request meanwhile (they take
 * http->mu). A marked request stays valid meanwhile: unwatch() waits until it is answered. */
static void *watchdog_main(void *arg)
{
    struct floe_vhttp *http = arg;
    int64_t tick_ms = 1000;
    const int64_t spans[] = {http->timeout_ms, http->header_timeout_ms,
                             http->min_rate ? http->window_ms : 0, REFUSED_HEADER_MS};
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
        if (spans[i] && spans[i] / 4 < tick_ms)
            tick_ms = spans[i] / 4;
    if (tick_ms < 10)
        tick_ms = 10;
    struct late_conn *late = NULL;
    size_t nlate = 0, caplate = 0;
    pthread_mutex_lock(&http->mu);
    while (!http->locked.stopping) {
        int64_t now = floe_vutil_now_ms();
        struct http_req *reap = NULL;
        for (struct http_req *h = http->locked.head; h; h = h->next) {
            if (pthread_mutex_trylock(&h->mu) != 0)
                continue; /* its thread is taking body bytes right now */
            char msg[256];
            if (!h->timed_out && check_body_locked(http, h, now, msg, sizeof(msg))) {
                h->timed_out = true;
                h->reaping = true;
                h->reap_msg = floe_xstrdup(msg);
                h->reap_next = reap;
                reap = h;
            }
            pthread_mutex_unlock(&h->mu);
        }
        nlate = 0;
        if (http->header_timeout_ms)
            check_headers_locked(http, now, &late, &nlate, &caplate);
        if (reap || nlate) {
            pthread_mutex_unlock(&http->mu);
            /* each request is released as soon as it is answered: its connection thread, woken
             * by the shut-down socket, waits in unwatch() for that one only */
            for (struct http_req *h = reap, *next; h; h = next) {
                next = h->reap_next; /* h may be freed once it is released */
                time_out(h, h->reap_msg);
                free(h->reap_msg);
                h->reap_msg = NULL;
                pthread_mutex_lock(&http->mu);
                h->reaping = false;
                pthread_cond_broadcast(&http->reaped);
                pthread_mutex_unlock(&http->mu);
            }
            answer_late(http, late, nlate);
            pthread_mutex_lock(&http->mu);
            continue; /* look again before sleeping: time went by */
        }
        wait_ms(&http->cv, &http->mu, tick_ms);
    }
    pthread_mutex_unlock(&http->mu);
    free(late);
    return NULL;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (*(size_t *)cls)++;
    return MHD_YES;
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct floe_vreq *rq = cls;
    rq->headers[rq->nheaders].name = key;
    rq->headers[rq->nheaders].value = value ? value : "";
    rq->nheaders++;
    return MHD_YES;
}

static void log_request(struct http_req *h, const char *how)
{
    struct floe_vreq *rq = &h->rq;
    floe_vlog(&rq->srv->cfg, FLOE_VLOG_INFO, "%s %s%s%s -> %u %s (%lld ms)%s%s",
              rq->method ? rq->method : "?", rq->path ? rq->path : rq->raw_uri,
              rq->query && *rq->query ? "?" : "", rq->query ? rq->query : "", rq->resp.status,
              rq->route ? rq->route->name : "-", (long long)(floe_vutil_now_ms() - rq->start_ms),
              how ? " " : "", how ? how : "");
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct http_req *h)
{
    struct floe_vreq *rq = &h->rq;
    struct MHD_Response *r;
    if (rq->resp.custom) {
        r = rq->resp.custom;
        rq->resp.custom = NULL;
    } else {
        r = MHD_create_response_from_buffer(rq->resp.body_len, rq->resp.body,
                                            rq->resp.body ? MHD_RESPMEM_MUST_FREE
                                                          : MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        rq->resp.body = NULL;
        if (rq->resp.content_type)
            MHD_add_response_header(r, "Content-Type", rq->resp.content_type);
    }
    MHD_add_response_header(r, "x-amzn-RequestId", rq->request_id);
    for (int i = 0; i < rq->resp.nhdr; i++)
        MHD_add_response_header(r, rq->resp.hdr[i].name, rq->resp.hdr[i].value);
    if (rq->resp.close)
        MHD_add_response_header(r, "Connection", "close");
    h->phase = PH_DONE;
    enum MHD_Result ret = MHD_queue_response(conn, rq->resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Did the client send "Expect: 100-continue" (it waits for 100 before sending the body)? */
static bool expects_continue(const struct floe_vreq *rq)
{
    const char *e = floe_vreq_header(rq, "Expect");
    return e && strcasecmp(e, "100-continue") == 0;
}

/*
 * An answer is decided before the body was read: drain it, or close if it is huge. A client
 * waiting for 100 Continue gets the answer at once instead (queued on the first call, so
 * libmicrohttpd never sends 100 and closes the connection after it: the body never comes).
 */
static enum MHD_Result answer_early(struct MHD_Connection *conn, struct http_req *h)
{
    struct floe_vreq *rq = &h->rq;
    if (rq->has_length && rq->content_length == 0)
        return send_response(conn, h);
    if (h->close_now || (!h->d.authed && h->phase == PH_BODY && !h->body_seen &&
                         !(rq->has_length && rq->content_length <= UNAUTH_DRAIN_MAX))) {
        rq->resp.close = true; /* refused before any body byte: never read it */
        return send_response(conn, h);
    }
    if (h->phase == PH_BODY && !h->body_seen && expects_continue(rq)) {
        rq->resp.close = true;
        return send_response(conn, h);
    }
    if (rq->has_length && rq->content_length <= DISCARD_MAX) {
        h->discard = true;
        return MHD_YES;
    }
    rq->resp.close = true;
    return send_response(conn, h);
}

/* The headers are in: collect every one (libmicrohttpd's strings, valid for the request's
 * life) and let vdispatch.c check, route and admit the request. */
static void start_request(struct http_req *h, struct MHD_Connection *conn, const char *method)
{
    struct floe_vreq *rq = &h->rq;
    rq->method = method;
    floe_vutil_id(rq->request_id, 52, true);
    size_t n = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &n);
    rq->headers = floe_xcalloc(n ? n : 1, sizeof(*rq->headers));
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, rq);
    floe_vdispatch_head(rq, &h->d);
}

/* A connection over --max-connections or --max-connections-per-client: 503 SlowDown at once
 * (the body, if any, is never read) and the connection closes. */
static void refuse_over_limit(struct http_req *h, const struct http_conn *c, const char *method)
{
    struct floe_vreq *rq = &h->rq;
    const struct floe_vconfig *cfg = &h->http->srv->cfg;
    rq->method = method;
    floe_vutil_id(rq->request_id, 52, true);
    rq->headers = floe_xcalloc(1, sizeof(*rq->headers));
    h->close_now = true;
    char addr[64] = "?", msg[256];
    getnameinfo((const struct sockaddr *)&c->addr, sizeof(c->addr), addr, sizeof(addr), NULL, 0,
                NI_NUMERICHOST);
    if (c->verdict == FLOE_VADMIT_TOTAL)
        snprintf(msg, sizeof(msg),
                 "Too many connections: floe-vault serves at most %u at once "
                 "(--max-connections); retry later",
                 cfg->max_connections);
    else
        snprintf(msg, sizeof(msg),
                 "Too many connections from %s: %u open, at most %u per client "
                 "(--max-connections-per-client); retry later",
                 addr, c->open_from, cfg->max_client_connections);
    floe_verr_reply_code(rq, 503, "SlowDown", msg);
    floe_vreq_set_header(rq, "Retry-After", "1");
}

/* Body bytes of a request (h->mu held). */
static enum MHD_Result body_bytes(struct MHD_Connection *conn, struct http_req *h, const char *data,
                                  size_t n)
{
    struct floe_vreq *rq = &h->rq;
    if (h->discard || h->timed_out)
        return MHD_YES;
    floe_vdispatch_body(rq, &h->d, data, n);
    if (!rq->resp.status)
        return MHD_YES;
    if (h->d.stream) { /* the upload handler refused: drain the rest */
        h->discard = true;
        return MHD_YES;
    }
    return answer_early(conn, h); /* a buffered body too large */
}

/* An ender: runs queued ends (floe_vdispatch_end: the upload's fdatasync and group commit, a
 * buffered request's handler) and resumes each connection, whose pool thread then sends the
 * answer (on_request, h->ended). */
static void *ender_main(void *arg)
{
    struct floe_vhttp *http = arg;
    pthread_mutex_lock(&http->end_mu);
    for (;;) {
        while (!http->ends.head && !http->ends.stop)
            pthread_cond_wait(&http->end_cv, &http->end_mu);
        struct http_req *h = http->ends.head;
        if (!h)
            break; /* stop, and nothing left */
        http->ends.head = h->end_next;
        if (!http->ends.head)
            http->ends.tail = NULL;
        pthread_mutex_unlock(&http->end_mu);
        floe_vdispatch_end(&h->rq, &h->d);
        h->ended = true;
        /* the resume goes through libmicrohttpd's mutex: the pool thread that then calls
         * on_request sees everything the end wrote */
        MHD_resume_connection(h->conn);
        pthread_mutex_lock(&http->end_mu);
        if (--http->ends.pending == 0)
            pthread_cond_broadcast(&http->end_idle);
    }
    pthread_mutex_unlock(&http->end_mu);
    return NULL;
}

/* Does the request's end change state (every method but GET and HEAD)? */
static bool changes_state(const struct http_req *h)
{
    const char *m = h->rq.method;
    return m && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

/* Admits a request that changes state to its end, counted until its answer has been sent
 * (on_completed), so that stop can wait for the answer of everything it let change: false
 * once stop has begun (the request is refused and nothing it asked for is done). */
static bool admit_end(struct http_req *h)
{
    struct floe_vhttp *http = h->http;
    if (!changes_state(h))
        return true;
    pthread_mutex_lock(&http->end_mu);
    bool ok = !http->ends.stopping;
    if (ok) {
        atomic_fetch_add(&http->answering, 1);
        h->answering = true;
    }
    pthread_mutex_unlock(&http->end_mu);
    return ok;
}

/* The answer of an admitted end went out (or its client left): stop need not wait for it.
 * Called from the completion callback, so end_mu is not taken (see DESIGN, lock order): the
 * wake-up may come between stop's check and its wait, which then ends at its next tick. */
static void answered(struct http_req *h)
{
    struct floe_vhttp *http = h->http;
    if (!h->answering)
        return;
    h->answering = false;
    if (atomic_fetch_sub(&http->answering, 1) == 1)
        pthread_cond_broadcast(&http->end_idle);
}

/* Hands a request's end to an ender, its connection suspended meanwhile: true when it did
 * (the pool thread returns to its other connections), false when the end is cheap (GET and
 * HEAD change nothing and wait on no commit) or the server is stopping (it runs inline). */
static bool defer_end(struct MHD_Connection *conn, struct http_req *h)
{
    struct floe_vhttp *http = h->http;
    if (!http->nenders || !changes_state(h))
        return false;
    pthread_mutex_lock(&http->end_mu);
    if (http->ends.stopping) {
        pthread_mutex_unlock(&http->end_mu);
        return false;
    }
    /* suspended before it is queued: an ender may resume it at once */
    MHD_suspend_connection(conn);
    h->conn = conn;
    h->end_next = NULL;
    if (http->ends.tail)
        http->ends.tail->end_next = h;
    else
        http->ends.head = h;
    http->ends.tail = h;
    http->ends.pending++;
    pthread_cond_signal(&http->end_cv);
    pthread_mutex_unlock(&http->end_mu);
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_req *h = *con_cls;
    if (!h) {
        h = uri_log(cls, url, conn);
        *con_cls = h;
    }
    struct floe_vreq *rq = &h->rq;
    if (h->phase == PH_DONE) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (h->phase == PH_NEW) {
        h->phase = PH_BODY;
        struct http_conn *c = conn_of(conn);
        if (c) {
            pthread_mutex_lock(&h->http->mu);
            conn_unwatch_locked(h->http, c); /* the headers are in */
            pthread_mutex_unlock(&h->http->mu);
        }
        if (c && c->verdict != FLOE_VADMIT_OK)
            refuse_over_limit(h, c, method);
        else
            start_request(h, conn, method);
        enum MHD_Result ret = MHD_YES;
        if (rq->resp.status)
            ret = answer_early(conn, h);
        if (h->phase == PH_BODY && !(rq->has_length && rq->content_length == 0))
            watch(h, conn);
        return ret;
    }
    if (*upload_data_size) {
        h->body_seen = true;
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        pthread_mutex_lock(&h->mu);
        enum MHD_Result ret = body_bytes(conn, h, upload_data, n);
        atomic_store(&h->last_body_ms, floe_vutil_now_ms());
        atomic_fetch_add(&h->window_bytes, (uint64_t)n);
        pthread_mutex_unlock(&h->mu);
        return ret;
    }
    if (h->ended) /* resumed: an ender ran the end */
        return send_response(conn, h);
    unwatch(h);
    pthread_mutex_lock(&h->mu);
    bool timed_out = h->timed_out;
    pthread_mutex_unlock(&h->mu);
    if (timed_out)
        return MHD_NO; /* already answered 408 on the socket */
    if (!rq->resp.status) {
        if (!admit_end(h)) {
            floe_verr_reply(rq, FLOE_VERR_SERVICE_UNAVAILABLE,
                            "floe-vault is stopping: nothing was done; retry the request");
            rq->resp.close = true;
        } else if (defer_end(conn, h)) {
            return MHD_YES;
        } else {
            floe_vdispatch_end(rq, &h->d);
        }
    }
    return send_response(conn, h);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_req *h = *con_cls;
    if (!h)
        return;
    unwatch(h); /* the watchdog cannot reach h after this */
    answered(h);
    const char *how = NULL;
    if (h->timed_out)
        how = "(body stalled: answered 408, nothing stored)";
    else if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
        how = "(timed out; nothing stored)";
    else if (toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT)
        how = "(client closed the connection)";
    else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        how = "(terminated)";
    if (h->rq.method)
        log_request(h, how);
    floe_vreq_free(&h->rq);
    pthread_mutex_destroy(&h->mu);
    *con_cls = NULL;
}

/* Connections the kernel completes before they are accepted (it caps this at
 * net.core.somaxconn, 4096 on current kernels). A crowd connecting at once overflowed a queue
 * of 128 while the listening thread started each connection's thread: the kernel then dropped
 * SYNs and the clients, a legitimate one among them, waited a second to retry (the load test's
 * DescribeVault tail; its 10,000 idle connections took 44-50 s to connect). */
#define LISTEN_BACKLOG 4096

static int listen_on(const char *host, const char *port, unsigned *bound, struct floe_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        floe_error_set(err, FLOE_E_NETWORK, "cannot resolve %s:%s: %s", host, port,
                       gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        floe_error_set_errno(err, FLOE_E_NETWORK, saved, NULL, "cannot listen on %s:%s", host,
                             port);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char sport[16];
    getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, sport, sizeof(sport), NI_NUMERICSERV);
    uint64_t p = 0;
    floe_vutil_parse_u64(sport, &p);
    *bound = (unsigned)p;
    return fd;
}

int floe_vhttp_start(struct floe_vserver *srv, unsigned *port, struct floe_vhttp **out,
                     struct floe_error *err)
{
    struct floe_vhttp *h = floe_xcalloc(1, sizeof(*h));
    int rc = FLOE_OK;
    unsigned bound = 0;
    h->srv = srv;
    h->timeout_ms = srv->cfg.request_timeout_ms;
    h->header_timeout_ms = srv->cfg.header_timeout_ms;
    h->min_rate = srv->cfg.min_body_rate;
    h->window_ms = srv->cfg.rate_window_ms > 0 ? srv->cfg.rate_window_ms : 1000;
    h->watchdog_needed = h->timeout_ms || h->header_timeout_ms || h->min_rate ||
                         srv->cfg.max_connections || srv->cfg.max_client_connections;
    h->admit = floe_vadmit_new(srv->cfg.max_connections, srv->cfg.max_client_connections);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    pthread_cond_init(&h->reaped, NULL);
    pthread_mutex_init(&h->end_mu, NULL);
    pthread_cond_init(&h->end_cv, NULL);
    pthread_cond_init(&h->end_idle, NULL);
    /* libmicrohttpd's idle timeout (silent close) stays above ours (a 408 answer) */
    unsigned mhd_timeout_s = (unsigned)(h->timeout_ms / 1000) + 30;
    if (mhd_timeout_s < 300)
        mhd_timeout_s = 300;
    /* Beyond --max-connections, connections are answered 503 and closed at once;
     * accept_policy(), which closes without a word, sits above that as a backstop. */
    unsigned hard_limit = 0;
    if (srv->cfg.max_connections)
        hard_limit = srv->cfg.max_connections + srv->cfg.max_connections / 4 + 16;
    h->hard_limit = hard_limit;
    /* libmicrohttpd splits its connection limit evenly among the pool threads, and a thread at
     * its share stops accepting (the rest would wait unanswered in the listen queue): so each
     * thread may take them all, and accept_policy() holds the total. */
    unsigned mhd_limit = (unsigned)FD_SETSIZE * 64;
    if (hard_limit && hard_limit < UINT_MAX / POOL_THREADS)
        mhd_limit = hard_limit * POOL_THREADS;
    h->lfd = listen_on(srv->cfg.host, srv->cfg.port, &bound, err);
    if (h->lfd < 0) {
        rc = FLOE_E_NETWORK;
        goto out;
    }
    /* the enders start before the pool threads that read nenders (they only wait meanwhile) */
    while (h->nenders < ENDERS && pthread_create(&h->enders[h->nenders], NULL, ender_main, h) == 0)
        h->nenders++;
    if (!h->nenders) {
        rc = floe_error_set(err, FLOE_E_NETWORK, "cannot start the request enders");
        goto out;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (srv->cfg.log_level >= FLOE_VLOG_DEBUG)
        flags |= MHD_USE_ERROR_LOG;
    /* --tls-cert/--tls-key: HTTPS (libmicrohttpd's GnuTLS) on the same socket and threads */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cfg.tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->cfg.tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (srv->cfg.tls_cert_pem)
        flags |= MHD_USE_TLS;
    h->d = MHD_start_daemon(
        flags, 0, accept_policy, h, on_request, h, MHD_OPTION_LISTEN_SOCKET, h->lfd,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32u << 10), MHD_OPTION_CONNECTION_TIMEOUT,
        mhd_timeout_s, MHD_OPTION_URI_LOG_CALLBACK, uri_log, h, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_CONNECTION_LIMIT, mhd_limit, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS, MHD_OPTION_ARRAY,
        srv->cfg.tls_cert_pem ? tls : tls + 2, MHD_OPTION_END);
    if (!h->d) {
        rc = floe_error_set(err, FLOE_E_NETWORK, "libmicrohttpd could not start on %s:%s%s",
                            srv->cfg.host, srv->cfg.port,
                            srv->cfg.tls_cert_pem ? " with TLS (is --tls-key the private key of "
                                                    "--tls-cert, both PEM?)"
                                                  : "");
        goto out;
    }
    h->lfd = -1; /* MHD owns it now */
    if (h->watchdog_needed) {
        if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
            rc = floe_error_set(err, FLOE_E_NETWORK, "cannot start the request watchdog");
            goto out;
        }
        h->watchdog_started = true;
    }
    *port = bound;
    *out = h;
    h = NULL;
out:
    floe_vhttp_stop(h);
    return rc;
}

void floe_vhttp_stop(struct floe_vhttp *h)
{
    if (!h)
        return;
    /* libmicrohttpd must not be stopped with a connection suspended: no end is admitted from
     * here on (the request is answered 500 ServiceUnavailableException, nothing done), the
     * admitted ones run inline, and those queued or running finish (and resume theirs) first. Then
     * the answers of all the admitted ends go out before the connections are closed (a client whose
     * change was made hears so and does not repeat it), for STOP_ANSWER_WAIT_MS at most. */
    pthread_mutex_lock(&h->end_mu);
    h->ends.stopping = true;
    while (h->ends.pending)
        pthread_cond_wait(&h->end_idle, &h->end_mu);
    int64_t give_up = floe_vutil_now_ms() + STOP_ANSWER_WAIT_MS;
    while (atomic_load(&h->answering) && floe_vutil_now_ms() < give_up) {
        wait_ms(&h->end_idle, &h->end_mu, 100);
    }
    h->ends.stop = true;
    pthread_cond_broadcast(&h->end_cv);
    pthread_mutex_unlock(&h->end_mu);
    for (unsigned i = 0; i < h->nenders; i++)
        pthread_join(h->enders[i], NULL);
    if (h->d)
        MHD_stop_daemon(h->d); /* completes (and unlists) every request */
    if (h->watchdog_started) {
        pthread_mutex_lock(&h->mu);
        h->locked.stopping = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->watchdog, NULL);
    }
    if (h->lfd >= 0)
        close(h->lfd);
    floe_vadmit_free(h->admit);
    pthread_cond_destroy(&h->cv);
    pthread_cond_destroy(&h->reaped);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->end_cv);
    pthread_cond_destroy(&h->end_idle);
    pthread_mutex_destroy(&h->end_mu);
    free(h);
}
