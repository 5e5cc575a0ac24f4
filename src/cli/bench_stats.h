/*
 * bench_stats.h - the statistics of `floe bench`: quantiles, and whether two sets of samples
 * differ beyond the noise (bootstrap interval of the change of a quantile, Mann-Whitney U).
 * Pure functions over arrays: no I/O, no globals, safe from any thread.
 */
#ifndef FLOE_CLI_BENCH_STATS_H
#define FLOE_CLI_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sorts v ascending in place (NaN must not occur). */
void floe_bench_sort(double *v, size_t n);

/*
 * floe_bench_quantile() - the q-quantile (0 <= q <= 1) of sorted[0..n), linear interpolation
 * between closest ranks (R's type 7, numpy's default): q = 0 is the minimum, 1 the maximum,
 * 0.5 the median. n == 0 gives 0.
 */
double floe_bench_quantile(const double *sorted, size_t n, double q);

/*
 * floe_bench_mann_whitney() - two-sided Mann-Whitney U test of a[0..na) against b[0..nb):
 * the p-value from the normal approximation with the tie correction and a continuity
 * correction. Returns 1 when either side is empty or every value is tied. u_out (optional)
 * receives U of a. Allocates scratch (aborts on exhaustion).
 */
double floe_bench_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                               double *u_out);

/* The outcome of comparing a statistic of sample A with the same of sample B. */
struct floe_bench_change {
    double a, b;       /* the statistic (a quantile) of each side */
    double change;     /* b / a - 1 (0 when a == 0) */
    double lo, hi;     /* 95% bootstrap interval of change */
    double p_value;    /* Mann-Whitney, two-sided */
    bool enough;       /* both sides have at least 3 samples: lo/hi/p mean something */
    bool beyond_noise; /* enough, the interval excludes 0 and p < 0.05 */
};

/*
 * floe_bench_compare() - the change of the q-quantile from a to b, with a percentile bootstrap
 * interval (resamples draws of each side, a fixed seed: the same input gives the same
 * answer) and the Mann-Whitney p-value. a and b are not modified.
 */
void floe_bench_compare(const double *a, size_t na, const double *b, size_t nb, double q,
                        unsigned resamples, uint64_t seed, struct floe_bench_change *out);

#endif
