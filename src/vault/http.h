/*
 * http.h - floe-vault's HTTP front end on libmicrohttpd: listens, turns each request into a
 * struct floe_vreq, authenticates it, routes it to its handler, streams upload bodies to the
 * handler as they arrive, and sends the response the handler built.
 *
 * Threads: MHD runs a fixed pool of threads, each polling its share of the connections
 * (epoll); a request lives on the pool thread of its connection; one watchdog thread
 * enforces the header deadline and the body timeouts (see http.c, DESIGN).
 */
#ifndef FLOE_VAULT_HTTP_H
#define FLOE_VAULT_HTTP_H

#include "floe/error.h"

struct floe_vserver;
struct floe_vhttp;

/*
 * floe_vhttp_start() - bind cfg.host:cfg.port and serve.
 * port     OUT: the bound port (useful with port 0); set only on FLOE_OK.
 * out      OUT: set only on FLOE_OK; stop with floe_vhttp_stop().
 * Returns  FLOE_OK or FLOE_E_NETWORK (message names the address and the reason).
 */
int floe_vhttp_start(struct floe_vserver *srv, unsigned *port, struct floe_vhttp **out,
                     struct floe_error *err);

/* floe_vhttp_stop() - stop accepting, close connections, join threads. NULL is fine. */
void floe_vhttp_stop(struct floe_vhttp *h);

#endif
