/*
 * bench_rec.c - records of a `floe bench` phase and their summary (bench_rec.h).
 *
 * DESIGN: workers append one record per operation under one mutex (an append is a few
 * nanoseconds against milliseconds of I/O per operation, so the lock is not a bottleneck).
 * Everything else runs after the workers joined. Throughput counts an operation's bytes in the
 * second it ended; latency quantiles are over successful operations only (a failure's time
 * says little), failures are counted apart.
 */
#include "bench_rec.h"

#include "bench_stats.h"
#include "common.h"
#include "need.h"

#include "floe/error.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const floe_bench_kind_names[FLOE_BENCH_KIND_COUNT] = {
    "upload", "download", "put", "get", "delete", "initiate", "describe", "list", "parse",
};
static_assert(sizeof(floe_bench_kind_names) / sizeof(floe_bench_kind_names[0]) ==
                  FLOE_BENCH_KIND_COUNT,
              "a name per kind");

void floe_bench_log_init(struct floe_bench_log *l)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
}

void floe_bench_log_cleanup(struct floe_bench_log *l)
{
    free(l->locked.ops);
    l->locked.ops = NULL;
    l->locked.n = l->locked.cap = 0;
    pthread_mutex_destroy(&l->mu);
}

void floe_bench_log_add(struct floe_bench_log *l, const struct floe_bench_op *op)
{
    pthread_mutex_lock(&l->mu);
    if (l->locked.n == l->locked.cap) {
        size_t cap = l->locked.cap ? l->locked.cap * 2 : 1024;
        l->locked.ops = floe_cli_need(realloc(l->locked.ops, cap * sizeof(*op)));
        l->locked.cap = cap;
    }
    l->locked.ops[l->locked.n++] = *op;
    if (op->status == FLOE_OK)
        l->locked.bytes += op->bytes;
    else
        l->locked.errors++;
    pthread_mutex_unlock(&l->mu);
}

void floe_bench_log_counts(struct floe_bench_log *l, size_t *ops, size_t *errors, uint64_t *bytes)
{
    pthread_mutex_lock(&l->mu);
    *ops = l->locked.n;
    *errors = l->locked.errors;
    *bytes = l->locked.bytes;
    pthread_mutex_unlock(&l->mu);
}

static void lat_of(const double *sorted, size_t n, struct floe_bench_lat *o)
{
    o->p50 = floe_bench_quantile(sorted, n, 0.5);
    o->p90 = floe_bench_quantile(sorted, n, 0.9);
    o->p99 = floe_bench_quantile(sorted, n, 0.99);
    o->p999 = floe_bench_quantile(sorted, n, 0.999);
    o->max = n ? sorted[n - 1] : 0;
}

void floe_bench_summarize(const struct floe_bench_log *l, double seconds,
                          struct floe_bench_summary *s)
{
    memset(s, 0, sizeof(*s));
    size_t n = l->locked.n;
    s->ops = n;
    s->seconds = seconds;
    /* whole seconds; a last fraction under a quarter joins the second before it */
    s->nsec = seconds > 0 ? (size_t)floor(seconds + 0.75) : 0;
    if (!s->nsec)
        s->nsec = 1;
    s->sec_mb = floe_cli_need(calloc(s->nsec, sizeof(double)));
    s->sec_ops = floe_cli_need(calloc(s->nsec, sizeof(double)));
    s->total_sorted = floe_cli_need(calloc(n + 1, sizeof(double)));
    s->ttfb_sorted = floe_cli_need(calloc(n + 1, sizeof(double)));
    size_t ok = 0, nttfb = 0;
    for (size_t i = 0; i < n; i++) {
        const struct floe_bench_op *op = &l->locked.ops[i];
        s->retries += op->retries;
        s->kind_ops[op->kind]++;
        if (op->status != FLOE_OK) {
            s->errors++;
            continue;
        }
        s->bytes += op->bytes;
        s->total_sorted[ok++] = op->total_s;
        if (op->ttfb_s > 0)
            s->ttfb_sorted[nttfb++] = op->ttfb_s;
        double end = op->start_s + op->total_s;
        size_t sec = end > 0 ? (size_t)end : 0;
        if (sec >= s->nsec)
            sec = s->nsec - 1;
        s->sec_mb[sec] += (double)op->bytes / 1e6;
        s->sec_ops[sec] += 1;
    }
    s->nlat = ok;
    floe_bench_sort(s->total_sorted, ok);
    floe_bench_sort(s->ttfb_sorted, nttfb);
    lat_of(s->total_sorted, ok, &s->total);
    lat_of(s->ttfb_sorted, nttfb, &s->ttfb);
    /* each kind's own latencies (the mixed and jobs workloads interleave kinds) */
    double *scratch = floe_cli_need(calloc(n + 1, sizeof(double)));
    for (int k = 0; k < FLOE_BENCH_KIND_COUNT; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (l->locked.ops[i].kind == (enum floe_bench_kind)k &&
                l->locked.ops[i].status == FLOE_OK)
                scratch[m++] = l->locked.ops[i].total_s;
        floe_bench_sort(scratch, m);
        lat_of(scratch, m, &s->kind_total[k]);
    }
    free(scratch);
    if (seconds > 0) {
        s->mb_per_s = (double)s->bytes / seconds / 1e6;
        s->ops_per_s = (double)ok / seconds;
    }
    /* the last bucket lasts seconds - (nsec - 1) (0.25 s to 1.25 s): scaled to a rate */
    double last = seconds - (double)(s->nsec - 1);
    if (last > 0) {
        s->sec_mb[s->nsec - 1] /= last;
        s->sec_ops[s->nsec - 1] /= last;
    }
}

void floe_bench_summary_free(struct floe_bench_summary *s)
{
    free(s->sec_mb);
    free(s->sec_ops);
    free(s->total_sorted);
    free(s->ttfb_sorted);
    s->sec_mb = s->sec_ops = s->total_sorted = s->ttfb_sorted = NULL;
}

static json_t *lat_json(const struct floe_bench_lat *l)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "p50", floe_cli_jreal(l->p50 * 1e3, 3), "p90",
                     floe_cli_jreal(l->p90 * 1e3, 3), "p99", floe_cli_jreal(l->p99 * 1e3, 3),
                     "p99_9", floe_cli_jreal(l->p999 * 1e3, 3), "max",
                     floe_cli_jreal(l->max * 1e3, 3));
}

static json_t *strided(const double *v, size_t n, size_t max)
{
    json_t *a = json_array();
    size_t step = n > max ? (n + max - 1) / max : 1;
    for (size_t i = 0; i < n; i += step)
        json_array_append_new(a, floe_cli_jreal(v[i], 6));
    return a;
}

json_t *floe_bench_summary_json(const struct floe_bench_summary *s)
{
    json_t *kinds = json_object(), *kind_lat = json_object();
    for (int k = 0; k < FLOE_BENCH_KIND_COUNT; k++) {
        if (!s->kind_ops[k])
            continue;
        json_object_set_new(kinds, floe_bench_kind_names[k],
                            json_integer((json_int_t)s->kind_ops[k]));
        json_object_set_new(kind_lat, floe_bench_kind_names[k], lat_json(&s->kind_total[k]));
    }
    json_t *tl_mb = json_array(), *tl_ops = json_array();
    for (size_t i = 0; i < s->nsec; i++) {
        json_array_append_new(tl_mb, floe_cli_jreal(s->sec_mb[i], 2));
        json_array_append_new(tl_ops, floe_cli_jreal(s->sec_ops[i], 2));
    }
    json_t *cdf = json_array();
    for (int i = 0; i <= 100 && s->nlat; i++)
        json_array_append_new(
            cdf, floe_cli_jreal(floe_bench_quantile(s->total_sorted, s->nlat, i / 100.0) * 1e3, 3));
    /* samples in the order of the records would be better for drift; sorted and strided keeps
     * the distribution, which is what the rank test compares */
    size_t nttfb = 0;
    while (nttfb < s->nlat && s->ttfb_sorted[nttfb] > 0)
        nttfb++;
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:{s:o, s:o}, s:o, s:o, s:{s:o, s:o}, "
        "s:o, s:{s:o, s:o}}",
        "ops", (json_int_t)s->ops, "errors", (json_int_t)s->errors, "retries",
        (json_int_t)s->retries, "bytes", (json_int_t)s->bytes, "seconds",
        floe_cli_jreal(s->seconds, 3), "mb_per_s", floe_cli_jreal(s->mb_per_s, 2), "ops_per_s",
        floe_cli_jreal(s->ops_per_s, 2), "latency_ms", "ttfb", lat_json(&s->ttfb), "total",
        lat_json(&s->total), "kinds", kinds, "kind_latency_ms", kind_lat, "timeline", "mb_per_s",
        tl_mb, "ops_per_s", tl_ops, "cdf_ms", cdf, "samples", "total_s",
        strided(s->total_sorted, s->nlat, 2000), "ttfb_s", strided(s->ttfb_sorted, nttfb, 2000));
}

int floe_bench_csv_header(FILE *f)
{
    return fputs("concurrency,run,kind,start_s,ttfb_s,total_s,bytes,status,retries\n", f) < 0 ? -1
                                                                                              : 0;
}

int floe_bench_csv_rows(FILE *f, const struct floe_bench_log *l, unsigned concurrency, int run)
{
    for (size_t i = 0; i < l->locked.n; i++) {
        const struct floe_bench_op *op = &l->locked.ops[i];
        if (fprintf(f, "%u,%d,%s,%.6f,%.6f,%.6f,%llu,%d,%u\n", concurrency, run,
                    floe_bench_kind_names[op->kind], op->start_s, op->ttfb_s, op->total_s,
                    (unsigned long long)op->bytes, op->status, op->retries) < 0)
            return -1;
    }
    return 0;
}
