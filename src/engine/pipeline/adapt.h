/*
 * adapt.h - adaptive concurrency: how many items a transfer keeps in flight, found by
 * measuring instead of by --concurrency.
 *
 * The request type asks floe_adapt_limit() in its start() (admit while in_flight < limit) and
 * reports each finished item with floe_adapt_done(). The controller measures throughput over
 * windows of `limit` completions (about one round of requests): while a doubling raises it by
 * 10% or more it doubles (slow start), then it climbs by one while a step still gains 5%, and
 * otherwise returns to the best limit seen and holds it for 8 windows before probing one
 * higher again. An item that needed a retry (throttling, a reset, a 5xx) halves the limit at
 * once, at most once per window. Limits stay within [1, max]; max comes from the memory limit
 * and the connection count. A caller that knows more can hold growth (no_growth: a download
 * that measured its fetches as bandwidth-bound, retrieve.c). Not thread-safe: the
 * orchestrating thread only.
 */
#ifndef FLOE_ENGINE_ADAPT_H
#define FLOE_ENGINE_ADAPT_H

#include <stdbool.h>
#include <stdint.h>

struct floe_adapt {
    unsigned limit, max;
    unsigned best;    /* the limit of the best window so far */
    double best_rate; /* its bytes per second */
    bool slow_start;  /* still doubling */
    unsigned hold;    /* windows left before the next probe */
    bool cut_this_window;
    unsigned win_done; /* completions in the current window */
    uint64_t win_bytes, win_start_ns;
    unsigned windows, cuts; /* counters, for logs and tests */
    bool no_growth; /* set by the caller: while true the limit does not grow (probes wait) */
};

/* floe_adapt_init() - start at initial (clamped to [1, max]) at time now_ns. */
void floe_adapt_init(struct floe_adapt *a, unsigned initial, unsigned max, uint64_t now_ns);
/* floe_adapt_limit() - the items to keep in flight now. */
unsigned floe_adapt_limit(const struct floe_adapt *a);
/* floe_adapt_done() - an item of bytes finished at now_ns; retried: it needed more than one
 * attempt (the link or the service pushed back). */
void floe_adapt_done(struct floe_adapt *a, uint64_t bytes, bool retried, uint64_t now_ns);

/*
 * A latency gate: whether ranged fetches are latency-bound, i.e. whether more of them in flight
 * can hide a wait the link imposes (a far link) rather than only queue behind the CPU or the
 * bandwidth (loopback, a capped link). Fed each fetch's send, first-body-byte and end times; the
 * fetches are latency-bound while the shortest wait for a first byte (after the first
 * FLOE_ADAPT_GATE_SKIP fetches, whose waits include the connections' setup; at least
 * FLOE_ADAPT_GATE_MIN fetches measured) is at least FLOE_ADAPT_GATE_SHARE of the moving average
 * fetch time. The floor, not the waits, because the waits of a busy machine are queueing: on
 * loopback the floor is a millisecond or two of fetches of tens of ms, 50-200 ms away it is the
 * round trip (docs/performance.md, "Big archives over a far link"). A caller sets
 * floe_adapt.no_growth = !floe_adapt_gate_fetch(...) after each fetch.
 */
#define FLOE_ADAPT_GATE_SKIP 4u
#define FLOE_ADAPT_GATE_MIN 8u
#define FLOE_ADAPT_GATE_SHARE 0.20

struct floe_adapt_gate {
    uint64_t floor_ns; /* the shortest wait for a first byte so far (UINT64_MAX: none) */
    double avg_ns;     /* moving average of a fetch's time (send to end) */
    unsigned n;        /* fetches measured */
};

/* floe_adapt_gate_init() - nothing measured: not latency-bound yet. */
void floe_adapt_gate_init(struct floe_adapt_gate *g);
/* floe_adapt_gate_fetch() - one successful fetch (sent, first body byte, end; a fetch with no
 * first byte or out-of-order times is ignored). Returns whether the fetches are latency-bound. */
bool floe_adapt_gate_fetch(struct floe_adapt_gate *g, uint64_t sent_ns, uint64_t first_ns,
                           uint64_t end_ns);
/* floe_adapt_gate_bound() - the last answer of floe_adapt_gate_fetch(), without a new fetch. */
bool floe_adapt_gate_bound(const struct floe_adapt_gate *g);

/* floe_adapt_now_ns() - the monotonic clock the callers pass as now_ns. Thread-safe. */
uint64_t floe_adapt_now_ns(void);

#endif
