/*
 * adapt.c - adaptive concurrency for the transfer core's request types (see adapt.h).
 *
 * DESIGN
 * On a far link the requests in flight, not the CPU, decide the throughput: one request
 * moves at most its window per round trip, so more requests fill more of the link, until the
 * link (or the service, or the memory limit) is full and more only queue. aws-c-s3 sizes its
 * connections from a throughput target the user gives; this controller measures instead. A
 * window closes after `limit` completions, so each window lasts about one round of requests
 * at the current setting and compares like with like; its rate is bytes completed over the
 * window's wall time. Growth needs a real gain (10% for a doubling, 5% for one more), so noise
 * does not ratchet the limit up; a loss returns to the best setting measured. A retried item
 * is the one signal that acts at once (multiplicative decrease), as in TCP.
 */
#include "adapt.h"

#include <time.h>

#define HOLD_WINDOWS 8u

uint64_t floe_adapt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void floe_adapt_init(struct floe_adapt *a, unsigned initial, unsigned max, uint64_t now_ns)
{
    *a = (struct floe_adapt){0};
    a->max = max ? max : 1;
    a->limit = initial < 1 ? 1 : initial > a->max ? a->max : initial;
    a->best = a->limit;
    a->slow_start = true;
    a->win_start_ns = now_ns;
}

unsigned floe_adapt_limit(const struct floe_adapt *a)
{
    return a->limit;
}

static void next_window(struct floe_adapt *a, uint64_t now_ns)
{
    a->win_done = 0;
    a->win_bytes = 0;
    a->win_start_ns = now_ns;
    a->cut_this_window = false;
}

void floe_adapt_done(struct floe_adapt *a, uint64_t bytes, bool retried, uint64_t now_ns)
{
    if (retried && !a->cut_this_window) {
        a->limit = a->limit / 2 ? a->limit / 2 : 1;
        a->best = a->limit;
        a->best_rate = 0; /* what was measured before the push-back no longer holds */
        a->slow_start = false;
        a->hold = HOLD_WINDOWS;
        a->cuts++;
        next_window(a, now_ns);
        a->cut_this_window = true;
        return;
    }
    a->win_done++;
    a->win_bytes += bytes;
    if (a->win_done < a->limit || now_ns <= a->win_start_ns)
        return;
    double rate = (double)a->win_bytes * 1e9 / (double)(now_ns - a->win_start_ns);
    a->windows++;
    if (a->best_rate == 0) { /* the first window (or the first after a cut) is the baseline */
        a->best_rate = rate;
        a->best = a->limit;
    } else if (a->limit != a->best) { /* a probe: judge it against the best */
        double need = a->slow_start ? 1.10 : 1.05;
        if (rate >= a->best_rate * need) {
            a->best = a->limit;
            a->best_rate = rate;
        } else {
            a->limit = a->best; /* no real gain: back to the best, and hold */
            a->slow_start = false;
            a->hold = HOLD_WINDOWS;
            if (rate > a->best_rate)
                a->best_rate = rate;
            next_window(a, now_ns);
            return;
        }
    } else {
        /* at the best limit: follow the link as it drifts */
        a->best_rate = 0.75 * a->best_rate + 0.25 * rate;
    }
    if (a->hold) {
        a->hold--;
    } else if (a->limit < a->max && !a->no_growth) {
        unsigned up = a->slow_start ? a->limit * 2 : a->limit + 1;
        a->limit = up > a->max ? a->max : up;
    }
    next_window(a, now_ns);
}

void floe_adapt_gate_init(struct floe_adapt_gate *g)
{
    *g = (struct floe_adapt_gate){.floor_ns = UINT64_MAX};
}

bool floe_adapt_gate_bound(const struct floe_adapt_gate *g)
{
    return g->n >= FLOE_ADAPT_GATE_MIN && g->floor_ns != UINT64_MAX &&
           (double)g->floor_ns >= FLOE_ADAPT_GATE_SHARE * g->avg_ns;
}

bool floe_adapt_gate_fetch(struct floe_adapt_gate *g, uint64_t sent_ns, uint64_t first_ns,
                           uint64_t end_ns)
{
    if (first_ns > sent_ns && end_ns >= first_ns) {
        uint64_t wait = first_ns - sent_ns;
        double took = (double)(end_ns - sent_ns);
        if (++g->n > FLOE_ADAPT_GATE_SKIP && wait < g->floor_ns)
            g->floor_ns = wait;
        g->avg_ns = g->avg_ns == 0 ? took : 0.75 * g->avg_ns + 0.25 * took;
    }
    return floe_adapt_gate_bound(g);
}
