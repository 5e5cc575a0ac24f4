/*
 * bench_compare.c - `floe bench compare A.json B.json` (bench_compare.h).
 *
 * For each concurrency setting both results measured, four metrics:
 *   the rate (MB/s or operations/s, as the benchmark ranks), latency p50 and p99, and time to
 *   first byte p50. When both sides have at least 3 runs, the samples are the runs' own
 *   figures (compared by their median): runs are the independent repetitions. Otherwise the
 *   rate's samples are the per-second rates and a latency's the operations' latencies (up to
 *   2,000 a run, as the JSON keeps them), compared at the metric's quantile: many samples,
 *   but not independent ones (they share their run's moment of machine load), so such a
 *   verdict is weaker; `--runs 3` or more is the setting for one that matters.
 * A change is "beyond noise" only when its 95% bootstrap interval excludes 0 and the
 * Mann-Whitney test agrees (p < 0.05): bench_stats.c. The verdict says better or worse in the
 * metric's own direction (a higher rate, a lower latency).
 */
#include "bench_compare.h"

#include "argparse.h"
#include "bench_stats.h"
#include "common.h"
#include "need.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPARE_USAGE                                                                              \
    "floe bench compare A.json B.json\n"                                                           \
    "A and B are results of floe bench --json (one object each). For each concurrency\n"           \
    "setting both measured: the rate, latency p50 and p99, TTFB p50; the change from A to B,\n"    \
    "its 95% bootstrap interval, the Mann-Whitney p-value, and whether it is beyond noise."

#define RESAMPLES 2000
#define SEED 20261204u

struct samples {
    double *v;
    size_t n, cap;
};

static void push(struct samples *s, double v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = floe_cli_need(realloc(s->v, s->cap * sizeof(double)));
    }
    s->v[s->n++] = v;
}

static json_t *load(const char *path)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        fprintf(stderr, "floe bench compare: cannot read %s: %s (line %d)\n", path, je.text,
                je.line);
        return NULL;
    }
    if (!json_is_object(doc) || !json_is_string(json_object_get(doc, "bench")) ||
        !json_is_array(json_object_get(doc, "sweep"))) {
        fprintf(stderr,
                "floe bench compare: %s is not a result of floe bench --json of a workload "
                "(no \"bench\" and \"sweep\")\n",
                path);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static const json_t *level(const json_t *doc, json_int_t conc)
{
    size_t i;
    json_t *lvl;
    json_array_foreach(json_object_get(doc, "sweep"), i, lvl)
    {
        if (json_integer_value(json_object_get(lvl, "concurrency")) == conc)
            return lvl;
    }
    return NULL;
}

struct metric {
    const char *label, *key;
    const char *source;           /* the rate's key, or "total_s" / "ttfb_s" (operation samples) */
    const char *which, *quantile; /* latency: the run's own figure ("total", "p50") */
    double q, scale;
    bool higher_better;
};

/*
 * The samples of one metric at one level, and the quantile of them to compare (*q); *basis
 * names them. With runs: one value per run (a latency metric: the run's own quantile, then
 * compared by their median), because runs are what is independent: thousands of operations of
 * one run share its moment's machine load, and a rank test over them calls the difference
 * between two moments a result.
 */
static void gather(const json_t *lvl, const struct metric *m, bool by_runs, struct samples *s,
                   const char **basis, double *q)
{
    const json_t *runs = json_object_get(lvl, "runs");
    bool latency = m->which != NULL;
    size_t k, j;
    json_t *run, *v;
    *q = by_runs ? 0.5 : m->q;
    json_array_foreach(runs, k, run)
    {
        if (by_runs) {
            *basis = "runs";
            const json_t *x =
                latency
                    ? json_object_get(json_object_get(json_object_get(run, "latency_ms"), m->which),
                                      m->quantile)
                    : json_object_get(run, m->source);
            push(s, json_number_value(x));
        } else if (latency) {
            *basis = "operations";
            json_array_foreach(json_object_get(json_object_get(run, "samples"), m->source), j, v)
                push(s, json_number_value(v) * m->scale);
        } else {
            *basis = "seconds";
            json_array_foreach(json_object_get(json_object_get(run, "timeline"), m->source), j, v)
                push(s, json_number_value(v));
        }
    }
}

int floe_bench_compare_cmd(const struct floe_cli *cli, int argc, char **argv)
{
    const struct floe_cli_opt opts[] = {{0}};
    const char *pos[3];
    int npos = 0;
    int rc = floe_cli_parse("bench compare", COMPARE_USAGE, argc, argv, 1, opts, pos, 3, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos != 2)
        return floe_cli_usage_error("bench compare", COMPARE_USAGE,
                                    "bench compare needs two result files, A.json and B.json");
    json_t *a = load(pos[0]);
    json_t *b = a ? load(pos[1]) : NULL;
    if (!a || !b) {
        json_decref(a);
        return 2;
    }
    const char *ka = json_string_value(json_object_get(a, "bench"));
    const char *kb = json_string_value(json_object_get(b, "bench"));
    if (strcmp(ka, kb) != 0) {
        fprintf(stderr,
                "floe bench compare: %s is a %s benchmark and %s a %s one: compare "
                "results of the same workload\n",
                pos[0], ka, pos[1], kb);
        json_decref(a);
        json_decref(b);
        return 2;
    }
    const char *rate = json_string_value(json_object_get(a, "metric"));
    rate = rate && strcmp(rate, "mb_per_s") == 0 ? "mb_per_s" : "ops_per_s";
    const struct metric metrics[] = {
        {strcmp(rate, "mb_per_s") == 0 ? "MB/s" : "ops/s", rate, rate, NULL, NULL, 0.5, 1, true},
        {"p50 ms", "latency_p50_ms", "total_s", "total", "p50", 0.5, 1e3, false},
        {"p99 ms", "latency_p99_ms", "total_s", "total", "p99", 0.99, 1e3, false},
        {"TTFB p50 ms", "ttfb_p50_ms", "ttfb_s", "ttfb", "p50", 0.5, 1e3, false},
    };
    bool header = false;
    int rows = 0;
    size_t i;
    json_t *la;
    json_array_foreach(json_object_get(a, "sweep"), i, la)
    {
        json_int_t conc = json_integer_value(json_object_get(la, "concurrency"));
        const json_t *lb = level(b, conc);
        if (!lb)
            continue;
        bool by_runs = json_array_size(json_object_get(la, "runs")) >= 3 &&
                       json_array_size(json_object_get(lb, "runs")) >= 3;
        for (size_t m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
            struct samples sa = {0}, sb = {0};
            const char *basis = "runs";
            double q = 0.5;
            gather(la, &metrics[m], by_runs, &sa, &basis, &q);
            gather(lb, &metrics[m], by_runs, &sb, &basis, &q);
            if (!sa.n || !sb.n) { /* e.g. no TTFB: parsing makes no requests */
                free(sa.v);
                free(sb.v);
                continue;
            }
            struct floe_bench_change ch;
            floe_bench_compare(sa.v, sa.n, sb.v, sb.n, q, RESAMPLES, SEED, &ch);
            bool better = metrics[m].higher_better ? ch.change > 0 : ch.change < 0;
            const char *verdict = !ch.enough         ? "too few samples"
                                  : !ch.beyond_noise ? "within noise"
                                  : better           ? "better"
                                                     : "worse";
            if (cli->json) {
                floe_cli_json_print(
                    stdout,
                    json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:I, s:I, s:s}",
                              "concurrency", conc, "metric", metrics[m].key, "a",
                              floe_cli_jreal(ch.a, 3), "b", floe_cli_jreal(ch.b, 3), "change",
                              floe_cli_jreal(ch.change, 4), "lo", floe_cli_jreal(ch.lo, 4), "hi",
                              floe_cli_jreal(ch.hi, 4), "p_value", floe_cli_jreal(ch.p_value, 4),
                              "basis", basis, "samples_a", (json_int_t)sa.n, "samples_b",
                              (json_int_t)sb.n, "verdict", verdict));
            } else {
                if (!header) {
                    printf("floe bench compare (%s): %s -> %s\n", ka, pos[0], pos[1]);
                    printf("%5s %-12s %10s %10s %8s %20s %7s %-11s %s\n", "conc", "metric", "A",
                           "B", "change", "95% interval", "p", "samples", "verdict");
                    header = true;
                }
                char iv[64], ns[64];
                snprintf(iv, sizeof(iv), "[%+.1f%%, %+.1f%%]", ch.lo * 100, ch.hi * 100);
                snprintf(ns, sizeof(ns), "%zu/%zu %s", sa.n, sb.n, basis);
                printf("%5lld %-12s %10.2f %10.2f %+7.1f%% %20s %7.3f %-11s %s\n", (long long)conc,
                       metrics[m].label, ch.a, ch.b, ch.change * 100, iv, ch.p_value, ns, verdict);
            }
            rows++;
            free(sa.v);
            free(sb.v);
        }
    }
    json_decref(a);
    json_decref(b);
    if (!rows) {
        fprintf(stderr, "floe bench compare: %s and %s have no concurrency setting in common\n",
                pos[0], pos[1]);
        return 2;
    }
    return 0;
}
