/*
 * admit.h - floe-vault's connection admission: counts the open connections in total and per
 * client address, and says whether a new one is within --max-connections and
 * --max-connections-per-client. http.c asks when a connection opens and answers the ones over
 * a limit 503 SlowDown (docs/floe-vault.md, "Hostile clients").
 *
 * Threads: every function is safe from any thread (one mutex inside).
 */
#ifndef FLOE_VAULT_ADMIT_H
#define FLOE_VAULT_ADMIT_H

#include <stdbool.h>
#include <sys/socket.h>

struct floe_vadmit;

enum floe_vadmit_verdict {
    FLOE_VADMIT_OK = 0,
    FLOE_VADMIT_TOTAL,  /* more than max_total connections are open */
    FLOE_VADMIT_CLIENT, /* more than max_per_client are open from this address */
};

/*
 * floe_vadmit_new() - an empty table. A limit of 0 means none. Free with floe_vadmit_free().
 */
struct floe_vadmit *floe_vadmit_new(unsigned max_total, unsigned max_per_client);
void floe_vadmit_free(struct floe_vadmit *a);

/*
 * floe_vadmit_enter() - count a connection that opened from addr (IPv4-mapped IPv6 counts as
 * IPv4) and judge it. Counted whatever the verdict: every call is matched by exactly one
 * floe_vadmit_leave() with the same address when the connection closes.
 * Returns  the verdict; *open receives the connections now open from addr (this one included).
 */
enum floe_vadmit_verdict floe_vadmit_enter(struct floe_vadmit *a, const struct sockaddr *addr,
                                           unsigned *open);

/* floe_vadmit_leave() - the connection from addr closed. */
void floe_vadmit_leave(struct floe_vadmit *a, const struct sockaddr *addr);

/* floe_vadmit_open() - connections open now, in total. */
unsigned floe_vadmit_open(struct floe_vadmit *a);

#endif
