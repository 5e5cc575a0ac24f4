/*
 * test_adapt.c - adaptive concurrency against simulated links: a link whose throughput grows
 * with the requests in flight up to a cap (the controller must climb near the knee and not far
 * past it), a flat link (it must not ratchet up), push-back (a retry halves the limit), and the
 * caller's no_growth (held where it is, then climbs when released).
 */
#include "t_util.h"

#include "adapt.h"

/* Runs the controller for `rounds` windows on a link where n requests in flight move
 * min(n * per_req, cap) bytes per second; items are `item` bytes. Returns the final limit. */
static unsigned simulate(struct floe_adapt *a, double per_req, double cap, uint64_t item,
                         int rounds, uint64_t *now)
{
    for (int r = 0; r < rounds; r++) {
        unsigned n = floe_adapt_limit(a);
        double rate = n * per_req < cap ? n * per_req : cap;
        uint64_t dt = (uint64_t)((double)item * 1e9 / rate); /* one completion every dt */
        for (unsigned i = 0; i < n; i++) {
            *now += dt;
            floe_adapt_done(a, item, false, *now);
        }
    }
    return floe_adapt_limit(a);
}

static void test_adapt_climbs_to_the_knee(void **state)
{
    (void)state;
    struct floe_adapt a;
    uint64_t now = 1;
    floe_adapt_init(&a, 4, 64, now);
    /* 10 MB/s per request, a 200 MB/s link: the knee is at 20 */
    unsigned n = simulate(&a, 10e6, 200e6, 16 << 20, 60, &now);
    assert_true(n >= 16 && n <= 32);
    assert_true(a.best_rate >= 0.8 * 200e6);
}

static void test_adapt_flat_link_stays_low(void **state)
{
    (void)state;
    struct floe_adapt a;
    uint64_t now = 1;
    floe_adapt_init(&a, 4, 64, now);
    /* loopback: 4 requests already fill it */
    unsigned n = simulate(&a, 100e6, 300e6, 16 << 20, 60, &now);
    assert_true(n <= 5);
}

static void test_adapt_respects_max_and_min(void **state)
{
    (void)state;
    struct floe_adapt a;
    uint64_t now = 1;
    floe_adapt_init(&a, 4, 6, now);
    assert_int_equal(simulate(&a, 1e6, 1e12, 1 << 20, 40, &now), 6);
    floe_adapt_init(&a, 0, 0, now);
    assert_int_equal(floe_adapt_limit(&a), 1);
    floe_adapt_done(&a, 1, true, now + 1);
    assert_int_equal(floe_adapt_limit(&a), 1);
}

static void test_adapt_retry_halves_once_per_window(void **state)
{
    (void)state;
    struct floe_adapt a;
    uint64_t now = 1;
    floe_adapt_init(&a, 4, 64, now);
    simulate(&a, 10e6, 200e6, 16 << 20, 60, &now);
    unsigned before = floe_adapt_limit(&a);
    floe_adapt_done(&a, 16 << 20, true, now += 1000);
    assert_int_equal(floe_adapt_limit(&a), before / 2);
    floe_adapt_done(&a, 16 << 20, true, now += 1000); /* same window: no second cut */
    assert_int_equal(floe_adapt_limit(&a), before / 2);
    assert_int_equal(a.cuts, 1);
    /* and it grows again when the push-back stops */
    unsigned n = simulate(&a, 10e6, 200e6, 16 << 20, 120, &now);
    assert_true(n > before / 2);
}

static void test_adapt_no_growth_holds_the_limit(void **state)
{
    (void)state;
    struct floe_adapt a;
    uint64_t now = 1;
    floe_adapt_init(&a, 4, 64, now);
    a.no_growth = true; /* e.g. a download whose fetches do not wait for their first byte */
    assert_int_equal(simulate(&a, 10e6, 200e6, 16 << 20, 30, &now), 4);
    a.no_growth = false; /* the same link, growth allowed: it climbs toward the knee (20) */
    assert_true(simulate(&a, 10e6, 200e6, 16 << 20, 60, &now) >= 16);
    a.no_growth = true; /* held: never grows, but a retry still halves */
    unsigned held = floe_adapt_limit(&a);
    floe_adapt_done(&a, 16 << 20, true, now += 1000);
    assert_int_equal(floe_adapt_limit(&a), held / 2);
    assert_int_equal(simulate(&a, 10e6, 200e6, 16 << 20, 30, &now), held / 2);
}

static void test_adapt_gate(void **state)
{
    (void)state;
    const uint64_t ms = 1000000;
    struct floe_adapt_gate g;
    /* a far link: every fetch waits ~100 ms of its ~320 ms for the first byte; the first
     * FLOE_ADAPT_GATE_SKIP (connection setup) do not count, and nothing is said before
     * FLOE_ADAPT_GATE_MIN fetches */
    floe_adapt_gate_init(&g);
    assert_false(floe_adapt_gate_bound(&g));
    uint64_t t = 1000 * ms;
    for (unsigned i = 1; i <= 12; i++, t += 400 * ms) {
        bool bound = floe_adapt_gate_fetch(&g, t, t + (i <= 4 ? 5 * ms : 100 * ms), t + 320 * ms);
        assert_int_equal(bound, i >= FLOE_ADAPT_GATE_MIN);
    }
    assert_int_equal(g.floor_ns, 100 * ms); /* the setup waits (5 ms) were left out */
    /* loopback on a busy machine: waits that queue (30 ms of 60) but a floor of 2 ms */
    floe_adapt_gate_init(&g);
    for (unsigned i = 1; i <= 20; i++, t += 100 * ms)
        assert_false(floe_adapt_gate_fetch(&g, t, t + (i == 7 ? 2 : 30) * ms, t + 60 * ms));
    /* a capped link with no delay: the fetch moves bytes, it barely waits */
    floe_adapt_gate_init(&g);
    for (unsigned i = 1; i <= 20; i++, t += 300 * ms)
        assert_false(floe_adapt_gate_fetch(&g, t, t + 1 * ms, t + 200 * ms));
    /* no first byte, or times out of order: ignored */
    floe_adapt_gate_init(&g);
    for (unsigned i = 1; i <= 20; i++, t += 300 * ms) {
        assert_false(floe_adapt_gate_fetch(&g, t, 0, t + 200 * ms));
        assert_false(floe_adapt_gate_fetch(&g, t + 10 * ms, t, t + 200 * ms));
    }
    assert_int_equal(g.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adapt_climbs_to_the_knee),
        cmocka_unit_test(test_adapt_flat_link_stays_low),
        cmocka_unit_test(test_adapt_respects_max_and_min),
        cmocka_unit_test(test_adapt_retry_halves_once_per_window),
        cmocka_unit_test(test_adapt_no_growth_holds_the_limit),
        cmocka_unit_test(test_adapt_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
