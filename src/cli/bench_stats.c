/*
 * bench_stats.c - quantiles, the Mann-Whitney U test and a bootstrap interval of the change of
 * a quantile, for `floe bench` and `floe bench compare`.
 *
 * DESIGN: "2% faster" on a shared machine is usually noise. A change is called real only when
 * two independent checks agree: the 95% percentile-bootstrap interval of (stat(B) / stat(A) - 1)
 * excludes zero, and the rank test (which assumes nothing about the distribution) gives
 * p < 0.05. With fewer than 3 samples a side neither means anything, and the caller says so.
 * The bootstrap uses splitmix64 with a fixed seed so a comparison is reproducible.
 */
#include "bench_stats.h"

#include "need.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

void floe_bench_sort(double *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(double), cmp_double);
}

double floe_bench_quantile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    if (q <= 0)
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (h - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

struct ranked {
    double v;
    int side; /* 0 = a, 1 = b */
};

static int cmp_ranked(const void *x, const void *y)
{
    return cmp_double(&((const struct ranked *)x)->v, &((const struct ranked *)y)->v);
}

double floe_bench_mann_whitney(const double *a, size_t na, const double *b, size_t nb,
                               double *u_out)
{
    if (u_out)
        *u_out = 0;
    if (na == 0 || nb == 0)
        return 1;
    size_t n = na + nb;
    struct ranked *r = floe_cli_need(calloc(n, sizeof(*r)));
    for (size_t i = 0; i < na; i++)
        r[i] = (struct ranked){a[i], 0};
    for (size_t i = 0; i < nb; i++)
        r[na + i] = (struct ranked){b[i], 1};
    qsort(r, n, sizeof(*r), cmp_ranked);
    double rank_sum_a = 0, tie_term = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && r[j].v == r[i].v)
            j++;
        double avg_rank = ((double)i + 1 + (double)j) / 2; /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (r[k].side == 0)
                rank_sum_a += avg_rank;
        double t = (double)(j - i);
        tie_term += t * t * t - t;
        i = j;
    }
    free(r);
    double n1 = (double)na, n2 = (double)nb, nn = (double)n;
    double u = rank_sum_a - n1 * (n1 + 1) / 2;
    if (u_out)
        *u_out = u;
    double mean = n1 * n2 / 2;
    double var = n1 * n2 / 12 * ((nn + 1) - tie_term / (nn * (nn - 1)));
    if (var <= 0)
        return 1;
    double z = (fabs(u - mean) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    return erfc(z / sqrt(2.0));
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The q-quantile of a resample (with replacement) of v[0..n), using scratch[0..n). */
static double resampled_quantile(const double *v, size_t n, double q, double *scratch,
                                 uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = v[splitmix64(rng) % n];
    floe_bench_sort(scratch, n);
    return floe_bench_quantile(scratch, n, q);
}

static double rel_change(double a, double b)
{
    return a != 0 ? b / a - 1 : 0;
}

void floe_bench_compare(const double *a, size_t na, const double *b, size_t nb, double q,
                        unsigned resamples, uint64_t seed, struct floe_bench_change *out)
{
    memset(out, 0, sizeof(*out));
    out->p_value = 1;
    double *sa = floe_cli_need(calloc(na + 1, sizeof(double)));
    double *sb = floe_cli_need(calloc(nb + 1, sizeof(double)));
    if (na)
        memcpy(sa, a, na * sizeof(double));
    if (nb)
        memcpy(sb, b, nb * sizeof(double));
    floe_bench_sort(sa, na);
    floe_bench_sort(sb, nb);
    out->a = floe_bench_quantile(sa, na, q);
    out->b = floe_bench_quantile(sb, nb, q);
    out->change = rel_change(out->a, out->b);
    out->lo = out->hi = out->change;
    out->enough = na >= 3 && nb >= 3;
    if (out->enough) {
        if (resamples < 100)
            resamples = 100;
        double *changes = floe_cli_need(calloc(resamples, sizeof(double)));
        double *scratch = floe_cli_need(calloc(na > nb ? na : nb, sizeof(double)));
        uint64_t rng = seed;
        for (unsigned i = 0; i < resamples; i++) {
            double qa = resampled_quantile(sa, na, q, scratch, &rng);
            double qb = resampled_quantile(sb, nb, q, scratch, &rng);
            changes[i] = rel_change(qa, qb);
        }
        floe_bench_sort(changes, resamples);
        out->lo = floe_bench_quantile(changes, resamples, 0.025);
        out->hi = floe_bench_quantile(changes, resamples, 0.975);
        out->p_value = floe_bench_mann_whitney(a, na, b, nb, NULL);
        out->beyond_noise = (out->lo > 0 || out->hi < 0) && out->p_value < 0.05;
        free(scratch);
        free(changes);
    }
    free(sa);
    free(sb);
}
