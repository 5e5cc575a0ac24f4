/*
 * test_bench_stats.c - the statistics of floe bench (src/cli/bench_stats.c) on data whose
 * answers are known: quantiles as numpy computes them (linear interpolation), Mann-Whitney
 * p-values of the normal approximation with tie and continuity corrections (the method
 * scipy.stats.mannwhitneyu calls "asymptotic"; worked by hand below), and the bootstrap
 * verdict on a clear change, on no change and on too few samples.
 */
#include "t_util.h"

#include "bench_stats.h"

#include <math.h>

static void test_bench_stats_quantiles(void **state)
{
    (void)state;
    double v[10] = {7, 1, 9, 3, 10, 2, 5, 8, 4, 6};
    floe_bench_sort(v, 10);
    for (int i = 0; i < 10; i++)
        assert_true(v[i] == i + 1);
    /* numpy.quantile(range(1, 11), q) */
    assert_true(fabs(floe_bench_quantile(v, 10, 0.5) - 5.5) < 1e-12);
    assert_true(fabs(floe_bench_quantile(v, 10, 0.9) - 9.1) < 1e-12);
    assert_true(fabs(floe_bench_quantile(v, 10, 0.99) - 9.91) < 1e-12);
    assert_true(fabs(floe_bench_quantile(v, 10, 0.25) - 3.25) < 1e-12);
    assert_true(floe_bench_quantile(v, 10, 0) == 1);
    assert_true(floe_bench_quantile(v, 10, 1) == 10);
    double one = 42;
    assert_true(floe_bench_quantile(&one, 1, 0.999) == 42);
    assert_true(floe_bench_quantile(v, 0, 0.5) == 0);
}

static void test_bench_stats_mann_whitney(void **state)
{
    (void)state;
    double a[] = {1, 2, 3, 4, 5}, b[] = {6, 7, 8, 9, 10}, u = -1;
    /* U = 0; mean 12.5, variance 25 * 11 / 12, z = 12 / 4.787 = 2.507: p = 0.012186 */
    double p = floe_bench_mann_whitney(a, 5, b, 5, &u);
    assert_true(u == 0);
    assert_true(fabs(p - 0.012186) < 1e-5);
    /* symmetric: U of b is n1*n2, same p */
    assert_true(fabs(floe_bench_mann_whitney(b, 5, a, 5, &u) - p) < 1e-12);
    assert_true(u == 25);
    /* ties: U = 8 (pairs c > d, a tie counting one half), p = 0.072160 */
    double c[] = {1, 2, 2, 3, 5, 8}, d[] = {2, 4, 6, 6, 9, 10, 12};
    p = floe_bench_mann_whitney(c, 6, d, 7, &u);
    assert_true(fabs(u - 8) < 1e-12);
    assert_true(fabs(p - 0.072160) < 1e-5);
    /* everything tied, or a side empty: no evidence at all */
    double e[] = {3, 3, 3};
    assert_true(floe_bench_mann_whitney(e, 3, e, 3, NULL) == 1);
    assert_true(floe_bench_mann_whitney(a, 5, b, 0, NULL) == 1);
}

static void test_bench_stats_compare(void **state)
{
    (void)state;
    double a[30], b[30], same[30];
    for (int i = 0; i < 30; i++) {
        a[i] = 100 + (i * 7 % 11) - 5; /* 95..105, spread evenly */
        b[i] = a[i] * 1.2;             /* 20% more */
    }
    for (int i = 0; i < 30; i++)
        same[i] = a[(i * 13) % 30]; /* the same values in another order */
    struct floe_bench_change ch;
    floe_bench_compare(a, 30, b, 30, 0.5, 1000, 1, &ch);
    assert_true(ch.enough);
    assert_true(fabs(ch.change - 0.2) < 1e-9);
    assert_true(ch.lo > 0.1 && ch.hi < 0.3 && ch.lo <= ch.change && ch.change <= ch.hi);
    assert_true(ch.p_value < 1e-6);
    assert_true(ch.beyond_noise);
    /* the reverse is the same change seen from the other side */
    floe_bench_compare(b, 30, a, 30, 0.5, 1000, 1, &ch);
    assert_true(ch.beyond_noise && ch.change < 0);
    /* a reshuffle is no change */
    floe_bench_compare(a, 30, same, 30, 0.5, 1000, 1, &ch);
    assert_true(ch.change == 0);
    assert_true(ch.lo <= 0 && ch.hi >= 0);
    assert_true(ch.p_value > 0.9);
    assert_false(ch.beyond_noise);
    /* 2% on noise of +-5%: not a result */
    for (int i = 0; i < 30; i++)
        b[i] = a[(i * 7) % 30] * 1.02;
    floe_bench_compare(a, 30, b, 30, 0.5, 1000, 1, &ch);
    assert_false(ch.beyond_noise);
    /* two samples a side: reported, never called */
    floe_bench_compare(a, 2, b, 2, 0.5, 1000, 1, &ch);
    assert_false(ch.enough);
    assert_false(ch.beyond_noise);
    /* the same input gives the same interval (fixed seed) */
    struct floe_bench_change c1, c2;
    floe_bench_compare(a, 30, same, 30, 0.99, 500, 9, &c1);
    floe_bench_compare(a, 30, same, 30, 0.99, 500, 9, &c2);
    assert_true(c1.lo == c2.lo && c1.hi == c2.hi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_stats_quantiles),
        cmocka_unit_test(test_bench_stats_mann_whitney),
        cmocka_unit_test(test_bench_stats_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
