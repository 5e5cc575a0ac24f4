/*
 * test_transfer.c - the transfer thread sleeps while it has nothing to do: between requests,
 * and while a cached connection that the server closed waits in curl's cache (its socket is
 * readable then, and curl does not watch it until it picks the connection for a request and
 * finds it closed). The next requests still succeed, on a new connection, and a live cached
 * connection is reused.
 */
#include "t_util.h"

#include "transfer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A one-connection-at-a-time HTTP/1.1 server: keeps a connection alive, answers "ok" to each
 * request, and closes the connection after idle_ms without one. */
struct server {
    int lfd;
    int port;
    int idle_ms;
    atomic_int conns, requests;
    atomic_bool stop;
    pthread_t thread;
};

static bool read_request(int c)
{
    char buf[4096];
    size_t n = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        buf[n] = 0;
        if (strstr(buf, "\r\n\r\n"))
            return true;
    }
    return false;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(s->lfd, NULL, NULL);
        if (c < 0)
            continue;
        atomic_fetch_add(&s->conns, 1);
        for (;;) {
            struct pollfd q = {.fd = c, .events = POLLIN};
            if (poll(&q, 1, s->idle_ms) <= 0 || !read_request(c))
                break; /* idle for idle_ms, or the client closed it */
            atomic_fetch_add(&s->requests, 1);
            if (write(c, ok, sizeof(ok) - 1) != (ssize_t)sizeof(ok) - 1)
                break;
        }
        close(c);
    }
    return NULL;
}

static void server_start(struct server *s, int idle_ms)
{
    memset(s, 0, sizeof(*s));
    s->idle_ms = idle_ms;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void get_ok(struct floe_transfer *t, const char *url)
{
    struct floe_xfer *x = floe_xfer_new("GET", url);
    int rc = floe_transfer_run(t, x);
    if (rc)
        fail_msg("GET %s: %s", url, x->err.message);
    assert_int_equal(x->http_status, 200);
    assert_int_equal(x->resp_len, 2);
    assert_memory_equal(x->resp, "ok", 2);
    floe_xfer_destroy(x);
}

/* host: the URL's host name for the server (on 127.0.0.1 only) */
static void idle_rounds(const char *host)
{
    struct server s;
    server_start(&s, 100);
    struct floe_transfer_opts o = {.max_active = 1};
    struct floe_transfer *t = NULL;
    struct floe_error err = {0};
    assert_int_equal(floe_transfer_new(&o, &t, &err), FLOE_OK);
    char url[64];
    snprintf(url, sizeof(url), "http://%s:%d/x", host, s.port);
    enum { ROUNDS = 4 };
    for (int r = 1; r <= ROUNDS; r++) {
        get_ok(t, url); /* a new connection: the cached one was closed by the server */
        get_ok(t, url); /* the same connection again, its socket still in the set */
        assert_int_equal(atomic_load(&s.conns), r);
        assert_int_equal(atomic_load(&s.requests), 2 * r);
        /* the server closes the idle connection after 100 ms: its socket, in the set but not
         * watched by curl, is readable from then on; a thread polling it in a loop would burn
         * the whole wait */
        double c0 = cpu_s();
        usleep(400 * 1000);
        double used = cpu_s() - c0;
        if (used > 0.15)
            fail_msg("%s, round %d: %.3f s of CPU while idle for 0.4 s", url, r, used);
    }
    floe_transfer_destroy(t);
    server_stop(&s);
}

static void test_idle_connection_closed_by_the_server(void **state)
{
    (void)state;
    idle_rounds("127.0.0.1");
}

/* A name: curl resolves it, and may try ::1 first (refused: a socket opened and closed before
 * the one that connects). */
static void test_idle_connection_by_name(void **state)
{
    (void)state;
    idle_rounds("localhost");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_connection_closed_by_the_server),
        cmocka_unit_test(test_idle_connection_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
