/*
 * linkem.c - a link emulator for tests and benchmarks: a TCP proxy between floe (or any
 * client) and floe-vault that makes loopback look like a far-away link.
 *
 * This machine's kernel has no netem, so the far link is made in user space: every byte a
 * connection carries is held back by half the round trip in each direction, the bytes of all
 * connections share one token bucket per direction (the link's capacity), each connection
 * has a bounded amount of data in flight per direction (a TCP window: one connection alone
 * cannot fill a long fat link, several can), and faults can be injected: "loss" (a chunk
 * held back one more retransmission timeout, which is what a lost segment costs a TCP
 * stream) and "reset" (the connection is dropped with a RST).
 *
 *   linkem --upstream 127.0.0.1:PORT [--listen 127.0.0.1:0] [--port-file FILE]
 *          [--rtt-ms N] [--rate RATE | --up-rate RATE --down-rate RATE] [--window BYTES]
 *          [--loss P] [--reset P] [--seed N] [--rate-log FILE]
 *
 * RATE is bytes per second with an optional suffix: k M G (10^3n), Ki Mi Gi (2^10n), and a
 * trailing "bit" for bits (1Gbit = 125,000,000 B/s); 0 or "off" = no cap. "up" is the client
 * to upstream direction. --loss P: each chunk read is late by max(200 ms, RTT) more with
 * probability P; --reset P: after each MiB a connection forwards, it is reset with
 * probability P. --rate-log FILE: one line per second, "SECONDS UP_BYTES DOWN_BYTES", the
 * bytes delivered in that second (so a test can check a rate limit second by second).
 * The port is printed on stdout ("linkem: listening on 127.0.0.1:PORT") and written to
 * --port-file. SIGTERM or SIGINT stops it; it prints its totals on stderr.
 *
 * DESIGN
 * One thread, one epoll set, non-blocking sockets, level-triggered. A connection has two
 * pipes (client->upstream, upstream->client). A pipe reads its source into chunks (up to
 * 256 KiB), each stamped with the time it may be delivered (read time + RTT/2, never earlier
 * than the chunk before it: a TCP stream stays in order), while fewer than --window / 2 bytes
 * are queued (TCP frees its window when the ACK is back, a whole RTT after the send; holding
 * half of it for half the RTT gives the same window / RTT ceiling); a full window stops reading,
 * and the sender's own socket buffers then push back. Delivery writes due chunks as far as the
 * direction's token bucket allows; a would-block write waits for EPOLLOUT. EOF travels as a chunk
 * of its own, so a half-close arrives RTT/2 late like the data before it. The loop sleeps until the
 * next socket event, the next chunk due, or the next refill of a drained bucket. No allocation per
 * byte: chunks come from a free list.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (256u * 1024u)
#define MAX_EVENTS 128

struct chunk {
    struct chunk *next;
    uint64_t due_ns;
    uint32_t len, off;
    bool eof;
    uint8_t data[CHUNK_BYTES];
};

struct bucket {
    double rate; /* bytes per second; 0 = no cap */
    double tokens, burst;
    uint64_t last_ns;
};

struct conn;

struct pipe_ {
    struct conn *c;
    int dir; /* 0 = up (client -> upstream), 1 = down */
    struct chunk *head, *tail;
    uint64_t queued;      /* bytes read and not yet delivered */
    uint64_t since_check; /* bytes delivered since the last reset draw */
    bool src_eof;         /* the source said EOF (an EOF chunk is queued) */
    bool dst_blocked;     /* the last write would block: wait for EPOLLOUT */
    bool dst_shut;        /* EOF delivered */
};

struct end {
    struct conn *c;
    int side; /* 0 = client socket, 1 = upstream socket */
};

struct conn {
    int fd[2]; /* client, upstream */
    struct end ends[2];
    uint32_t mask[2]; /* epoll interest registered for fd[i] */
    bool connecting;  /* the upstream connect is in progress */
    bool dead;
    struct pipe_ p[2]; /* p[0] reads fd[0] writes fd[1]; p[1] the other way */
    struct conn *next;
};

static struct {
    uint64_t delay_ns; /* RTT / 2 */
    uint64_t window;
    double loss, reset;
    uint64_t rto_ns;
    struct bucket b[2];
    struct sockaddr_in upstream;
    int ep, lfd;
    struct conn *conns;
    struct chunk *free_chunks;
    uint64_t rng;
    FILE *rate_log;
    uint64_t start_ns, log_next_ns;
    uint64_t sec_bytes[2], total_bytes[2];
    uint64_t nconns, nresets, nlosses;
} g;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: reproducible draws from --seed */
static double draw(void)
{
    g.rng ^= g.rng >> 12;
    g.rng ^= g.rng << 25;
    g.rng ^= g.rng >> 27;
    return (double)((g.rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void die(const char *what)
{
    fprintf(stderr, "linkem: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void usage(const char *msg)
{
    fprintf(stderr,
            "linkem: %s\nusage: linkem --upstream HOST:PORT [--listen 127.0.0.1:0] "
            "[--port-file FILE] [--rtt-ms N] [--rate RATE | --up-rate RATE --down-rate RATE] "
            "[--window BYTES] [--loss P] [--reset P] [--seed N] [--rate-log FILE]\n",
            msg);
    exit(2);
}

/* RATE: a number, then k M G / Ki Mi Gi, then optionally "bit"; "off" = 0. -1 = invalid. */
static double parse_rate(const char *s)
{
    if (strcmp(s, "off") == 0)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double mult = 1;
    if (*end == 'k' || *end == 'K' || *end == 'M' || *end == 'G') {
        int pow = *end == 'G' ? 3 : *end == 'M' ? 2 : 1;
        end++;
        double base = 1000;
        if (*end == 'i') {
            base = 1024;
            end++;
        }
        for (int i = 0; i < pow; i++)
            mult *= base;
    }
    if (strcmp(end, "bit") == 0) {
        mult /= 8;
        end += 3;
    } else if (strcmp(end, "B") == 0) {
        end++;
    }
    if (*end)
        return -1;
    return v * mult;
}

static void parse_hostport(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        usage("an address is HOST:PORT");
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port > 65535)
        usage("bad port");
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        usage("the host must be an IPv4 address");
}

static void bucket_init(struct bucket *b, double rate)
{
    b->rate = rate;
    /* 10 ms of the rate, at least 128 KiB: smooth well below a second, yet a late wakeup on a
     * busy machine does not cost the link its rate */
    b->burst = rate * 0.01 > 131072 ? rate * 0.01 : 131072;
    b->tokens = b->burst;
    b->last_ns = now_ns();
}

static void bucket_refill(struct bucket *b, uint64_t now)
{
    if (!b->rate)
        return;
    b->tokens += (double)(now - b->last_ns) * b->rate / 1e9;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last_ns = now;
}

/* When a drained bucket has 16 KiB (or its burst) again. */
static uint64_t bucket_ready_ns(const struct bucket *b)
{
    double want = b->burst < 16384 ? b->burst : 16384;
    if (b->tokens >= want)
        return b->last_ns;
    return b->last_ns + (uint64_t)((want - b->tokens) * 1e9 / b->rate) + 1;
}

static struct chunk *chunk_get(void)
{
    struct chunk *k = g.free_chunks;
    if (k)
        g.free_chunks = k->next;
    else if (!(k = malloc(sizeof(*k))))
        die("malloc");
    k->next = NULL;
    k->len = k->off = 0;
    k->eof = false;
    return k;
}

static void chunk_put(struct chunk *k)
{
    k->next = g.free_chunks;
    g.free_chunks = k;
}

static void set_mask(struct conn *c, int side, uint32_t mask)
{
    if (c->fd[side] < 0 || c->mask[side] == mask)
        return;
    struct epoll_event ev = {.events = mask, .data.ptr = &c->ends[side]};
    if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd[side], &ev) != 0)
        die("epoll_ctl");
    c->mask[side] = mask;
}

/* The interest of each socket follows from its pipes' states. */
static void update_masks(struct conn *c)
{
    for (int side = 0; side < 2; side++) {
        struct pipe_ *rd = &c->p[side];     /* reads this socket */
        struct pipe_ *wr = &c->p[1 - side]; /* writes this socket */
        uint32_t m = 0;
        if (!rd->src_eof && rd->queued < g.window)
            m |= EPOLLIN;
        if ((side == 1 && c->connecting) || wr->dst_blocked)
            m |= EPOLLOUT;
        set_mask(c, side, m);
    }
}

static void conn_kill(struct conn *c, bool rst)
{
    if (c->dead)
        return;
    c->dead = true;
    for (int i = 0; i < 2; i++) {
        if (c->fd[i] < 0)
            continue;
        if (rst) {
            struct linger l = {1, 0};
            setsockopt(c->fd[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd[i], NULL);
        close(c->fd[i]);
        c->fd[i] = -1;
    }
    for (int d = 0; d < 2; d++) {
        while (c->p[d].head) {
            struct chunk *k = c->p[d].head;
            c->p[d].head = k->next;
            chunk_put(k);
        }
        c->p[d].tail = NULL;
    }
}

static void enqueue(struct pipe_ *p, struct chunk *k, uint64_t now)
{
    k->due_ns = now + g.delay_ns;
    if (g.loss > 0 && !k->eof && draw() < g.loss) {
        k->due_ns += g.rto_ns;
        g.nlosses++;
    }
    if (p->tail && k->due_ns < p->tail->due_ns)
        k->due_ns = p->tail->due_ns; /* a stream stays in order */
    if (p->tail)
        p->tail->next = k;
    else
        p->head = k;
    p->tail = k;
    p->queued += k->len;
}

/* Read from the pipe's source while the window allows. */
static void pipe_read(struct pipe_ *p, uint64_t now)
{
    struct conn *c = p->c;
    int fd = c->fd[p->dir];
    while (!p->src_eof && p->queued < g.window && !c->dead) {
        struct chunk *k = chunk_get();
        uint64_t room = g.window - p->queued;
        size_t want = room < CHUNK_BYTES ? (size_t)room : CHUNK_BYTES;
        ssize_t n = read(fd, k->data, want);
        if (n > 0) {
            k->len = (uint32_t)n;
            enqueue(p, k, now);
            if ((size_t)n < want)
                return;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            chunk_put(k);
            return;
        }
        if (n < 0 && errno == EINTR) {
            chunk_put(k);
            continue;
        }
        if (n < 0) { /* reset by the peer: pass the reset on */
            chunk_put(k);
            conn_kill(c, true);
            return;
        }
        k->eof = true;
        p->src_eof = true;
        enqueue(p, k, now);
    }
}

/* Deliver what is due; returns the time of the next thing this pipe waits for (0 = none). */
static uint64_t pipe_write(struct pipe_ *p, uint64_t now)
{
    struct conn *c = p->c;
    int fd = c->fd[1 - p->dir];
    struct bucket *b = &g.b[p->dir];
    while (p->head && !c->dead && !p->dst_blocked && !(p->dir == 0 && c->connecting)) {
        struct chunk *k = p->head;
        if (k->due_ns > now)
            return k->due_ns;
        if (k->eof) {
            shutdown(fd, SHUT_WR);
            p->dst_shut = true;
            p->head = k->next;
            if (!p->head)
                p->tail = NULL;
            chunk_put(k);
            continue;
        }
        size_t n = k->len - k->off;
        if (b->rate) {
            bucket_refill(b, now);
            if (b->tokens < 1)
                return bucket_ready_ns(b);
            if ((double)n > b->tokens)
                n = (size_t)b->tokens;
        }
        ssize_t w = write(fd, k->data + k->off, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                p->dst_blocked = true;
                return 0;
            }
            if (errno == EINTR)
                continue;
            conn_kill(c, true);
            return 0;
        }
        if (b->rate)
            b->tokens -= (double)w;
        g.sec_bytes[p->dir] += (uint64_t)w;
        g.total_bytes[p->dir] += (uint64_t)w;
        k->off += (uint32_t)w;
        p->queued -= (uint64_t)w;
        p->since_check += (uint64_t)w;
        if (k->off == k->len) {
            p->head = k->next;
            if (!p->head)
                p->tail = NULL;
            chunk_put(k);
        }
        while (g.reset > 0 && p->since_check >= (1u << 20)) {
            p->since_check -= 1u << 20;
            if (draw() < g.reset) {
                g.nresets++;
                conn_kill(c, true);
                return 0;
            }
        }
    }
    return 0;
}

static void conn_accept(void)
{
    for (;;) {
        int cfd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
                return;
            if (errno == EINTR)
                continue;
            die("accept");
        }
        int ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ufd < 0)
            die("socket");
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* what linkem writes counts as delivered (the rate log, the cap): keep its send
         * buffers small, so a written byte is one the receiver has (nearly) taken, not one
         * parked in megabytes of autotuned buffer on linkem's side */
        int sndbuf = 256 * 1024;
        setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        setsockopt(ufd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        struct conn *c = calloc(1, sizeof(*c));
        if (!c)
            die("calloc");
        c->fd[0] = cfd;
        c->fd[1] = ufd;
        for (int i = 0; i < 2; i++) {
            c->ends[i] = (struct end){c, i};
            c->p[i].c = c;
            c->p[i].dir = i;
        }
        if (connect(ufd, (struct sockaddr *)&g.upstream, sizeof(g.upstream)) != 0) {
            if (errno != EINPROGRESS) {
                struct linger l = {1, 0};
                setsockopt(cfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
                close(cfd);
                close(ufd);
                free(c);
                continue;
            }
            c->connecting = true;
        }
        for (int i = 0; i < 2; i++) {
            struct epoll_event ev = {.events = 0, .data.ptr = &c->ends[i]};
            if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd[i], &ev) != 0)
                die("epoll_ctl");
        }
        c->next = g.conns;
        g.conns = c;
        g.nconns++;
        update_masks(c);
    }
}

static void on_event(struct end *e, uint32_t events, uint64_t now)
{
    struct conn *c = e->c;
    if (c->dead)
        return;
    if (e->side == 1 && c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr) { /* the upstream refused: so does the link */
            conn_kill(c, true);
            return;
        }
        c->connecting = false;
    }
    if ((events & EPOLLERR) && !c->connecting) {
        conn_kill(c, true);
        return;
    }
    if (events & EPOLLOUT)
        c->p[1 - e->side].dst_blocked = false;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        pipe_read(&c->p[e->side], now);
}

static void log_rates(uint64_t now)
{
    if (!g.rate_log)
        return;
    while (now >= g.log_next_ns) {
        fprintf(g.rate_log, "%.0f %" PRIu64 " %" PRIu64 "\n",
                (double)(g.log_next_ns - g.start_ns) / 1e9, g.sec_bytes[0], g.sec_bytes[1]);
        fflush(g.rate_log);
        g.sec_bytes[0] = g.sec_bytes[1] = 0;
        g.log_next_ns += 1000000000u;
    }
}

int main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:0", *upstream = NULL, *port_file = NULL;
    const char *rate_log = NULL;
    double rtt_ms = 0, rate[2] = {0, 0};
    g.window = 2u << 20; /* --window 4Mi */
    g.rng = 0x9e3779b97f4a7c15ull;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            printf("usage: linkem --upstream HOST:PORT [--listen 127.0.0.1:0] [--port-file FILE] "
                   "[--rtt-ms N] [--rate RATE | --up-rate RATE --down-rate RATE] "
                   "[--window BYTES] [--loss P] [--reset P] [--seed N] [--rate-log FILE]\n");
            return 0;
        }
        if (!v)
            usage("an option needs a value");
        i++;
        char *end = NULL;
        if (strcmp(a, "--upstream") == 0) {
            upstream = v;
        } else if (strcmp(a, "--listen") == 0) {
            listen_at = v;
        } else if (strcmp(a, "--port-file") == 0) {
            port_file = v;
        } else if (strcmp(a, "--rate-log") == 0) {
            rate_log = v;
        } else if (strcmp(a, "--rtt-ms") == 0) {
            rtt_ms = strtod(v, &end);
            if (*end || rtt_ms < 0 || rtt_ms > 60000)
                usage("--rtt-ms is 0 to 60000");
        } else if (strcmp(a, "--rate") == 0 || strcmp(a, "--up-rate") == 0 ||
                   strcmp(a, "--down-rate") == 0) {
            double r = parse_rate(v);
            if (r < 0)
                usage("a RATE is a number with an optional k/M/G/Ki/Mi/Gi and bit suffix");
            if (strcmp(a, "--down-rate") != 0)
                rate[0] = r;
            if (strcmp(a, "--up-rate") != 0)
                rate[1] = r;
        } else if (strcmp(a, "--window") == 0) {
            double w = parse_rate(v);
            if (w < 65536)
                usage("--window is at least 64Ki");
            g.window = (uint64_t)w / 2; /* the queue limit: see DESIGN */
        } else if (strcmp(a, "--loss") == 0 || strcmp(a, "--reset") == 0) {
            double p = strtod(v, &end);
            if (*end || p < 0 || p > 1)
                usage("a probability is 0 to 1");
            *(strcmp(a, "--loss") == 0 ? &g.loss : &g.reset) = p;
        } else if (strcmp(a, "--seed") == 0) {
            g.rng = strtoull(v, &end, 10) * 2 + 1;
            if (*end)
                usage("--seed is a number");
        } else {
            usage("unknown option");
        }
    }
    if (!upstream)
        usage("--upstream is required");
    parse_hostport(upstream, &g.upstream);
    g.delay_ns = (uint64_t)(rtt_ms * 1e6 / 2);
    g.rto_ns = rtt_ms > 200 ? (uint64_t)(rtt_ms * 1e6) : 200000000u;
    for (int d = 0; d < 2; d++)
        bucket_init(&g.b[d], rate[d]);

    struct sockaddr_in la;
    parse_hostport(listen_at, &la);
    g.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (g.lfd < 0 || bind(g.lfd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
        listen(g.lfd, 512) != 0)
        die("listen");
    socklen_t len = sizeof(la);
    getsockname(g.lfd, (struct sockaddr *)&la, &len);
    unsigned port = ntohs(la.sin_port);
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (g.ep < 0 || epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &lev) != 0)
        die("epoll");
    if (rate_log && !(g.rate_log = fopen(rate_log, "w")))
        die(rate_log);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0)
            die(port_file);
    }
    printf("linkem: listening on 127.0.0.1:%u (rtt %.1f ms, up %.0f B/s, down %.0f B/s, "
           "window %" PRIu64 ")\n",
           port, rtt_ms, rate[0], rate[1], g.window * 2);
    fflush(stdout);
    g.start_ns = now_ns();
    g.log_next_ns = g.start_ns + 1000000000u;

    struct epoll_event evs[MAX_EVENTS];
    uint64_t next_due = 0;
    while (!g_stop) {
        uint64_t now = now_ns();
        int timeout = -1;
        if (next_due)
            timeout = next_due <= now ? 0 : (int)((next_due - now + 999999) / 1000000);
        if (g.rate_log) {
            int t = (int)((g.log_next_ns > now ? g.log_next_ns - now : 0) / 1000000) + 1;
            if (timeout < 0 || t < timeout)
                timeout = t;
        }
        int n = epoll_wait(g.ep, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        now = now_ns();
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                conn_accept();
            else
                on_event(evs[i].data.ptr, evs[i].events, now);
        }
        next_due = 0;
        for (struct conn **pc = &g.conns; *pc;) {
            struct conn *c = *pc;
            for (int d = 0; d < 2 && !c->dead; d++) {
                /* (a window this frees is read on the next turn: EPOLLIN comes back) */
                uint64_t due = pipe_write(&c->p[d], now);
                if (due && (!next_due || due < next_due))
                    next_due = due;
            }
            if (!c->dead && c->p[0].dst_shut && c->p[1].dst_shut)
                conn_kill(c, false);
            if (c->dead) {
                *pc = c->next;
                free(c);
                continue;
            }
            update_masks(c);
            pc = &c->next;
        }
        log_rates(now);
    }
    fprintf(stderr,
            "linkem: %" PRIu64 " connections, %" PRIu64 " bytes up, %" PRIu64
            " bytes down, %" PRIu64 " resets, %" PRIu64 " late chunks\n",
            g.nconns, g.total_bytes[0], g.total_bytes[1], g.nresets, g.nlosses);
    if (g.rate_log)
        fclose(g.rate_log);
    return 0;
}
