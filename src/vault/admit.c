/*
 * admit.c - connection counts per client address (see admit.h).
 *
 * DESIGN
 * A chained hash table of addresses (16 bytes: IPv6, or IPv4 in its mapped form) with their
 * open-connection counts; an entry goes when its count reaches 0, so the table holds at most
 * one entry per open connection. FNV-1a over the 16 bytes picks one of 1024 buckets.
 */
#include "admit.h"

#include "alloc.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024

struct client {
    uint8_t key[16];
    unsigned open;
    struct client *next;
};

struct floe_vadmit {
    unsigned max_total, max_per_client; /* read-only */
    pthread_mutex_t mu;
    struct {
        unsigned open;
        struct client *bucket[NBUCKETS];
    } locked; /* guarded by mu */
};

struct floe_vadmit *floe_vadmit_new(unsigned max_total, unsigned max_per_client)
{
    struct floe_vadmit *a = floe_xcalloc(1, sizeof(*a));
    a->max_total = max_total;
    a->max_per_client = max_per_client;
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void floe_vadmit_free(struct floe_vadmit *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (struct client *c = a->locked.bucket[i], *next; c; c = next) {
            next = c->next;
            free(c);
        }
    }
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* The address as 16 bytes (IPv4 mapped into IPv6); anything else is all zeros. */
static void key_of(const struct sockaddr *addr, uint8_t key[16])
{
    memset(key, 0, 16);
    if (addr && addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
    } else if (addr && addr->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)addr)->sin6_addr, 16);
    }
}

static struct client **slot_of(struct floe_vadmit *a, const uint8_t key[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 16777619u;
    struct client **p = &a->locked.bucket[h % NBUCKETS];
    while (*p && memcmp((*p)->key, key, 16) != 0)
        p = &(*p)->next;
    return p;
}

enum floe_vadmit_verdict floe_vadmit_enter(struct floe_vadmit *a, const struct sockaddr *addr,
                                           unsigned *open)
{
    uint8_t key[16];
    key_of(addr, key);
    pthread_mutex_lock(&a->mu);
    struct client **p = slot_of(a, key);
    if (!*p) {
        *p = floe_xcalloc(1, sizeof(**p));
        memcpy((*p)->key, key, 16);
    }
    unsigned mine = ++(*p)->open;
    unsigned total = ++a->locked.open;
    pthread_mutex_unlock(&a->mu);
    if (open)
        *open = mine;
    if (a->max_total && total > a->max_total)
        return FLOE_VADMIT_TOTAL;
    if (a->max_per_client && mine > a->max_per_client)
        return FLOE_VADMIT_CLIENT;
    return FLOE_VADMIT_OK;
}

void floe_vadmit_leave(struct floe_vadmit *a, const struct sockaddr *addr)
{
    uint8_t key[16];
    key_of(addr, key);
    pthread_mutex_lock(&a->mu);
    struct client **p = slot_of(a, key);
    if (*p) {
        a->locked.open--;
        if (--(*p)->open == 0) {
            struct client *gone = *p;
            *p = gone->next;
            free(gone);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

unsigned floe_vadmit_open(struct floe_vadmit *a)
{
    pthread_mutex_lock(&a->mu);
    unsigned n = a->locked.open;
    pthread_mutex_unlock(&a->mu);
    return n;
}
