/*
 * bench_report.c - HTML and SVG reports of a `floe bench` result (bench_report.h).
 *
 * DESIGN: the report is drawn from the same JSON document `--json` prints, so a report shows
 * exactly what the numbers say and nothing the JSON lacks. Three charts, each an <svg> with
 * a stable id (throughput, cdf, sweep) and one <polyline class="series"> per run of each
 * concurrency setting (or one <rect class="bar"> per setting, with a <circle class="run"> per
 * run), which tests find in the browser's DOM. A setting keeps one colour; its first run is a
 * solid line, the repetitions dashed and lighter, so the spread between runs is visible:
 *   throughput  the per-second rate of every run at each setting
 *   cdf         total latency at 101 quantiles (log scale when it spans more than 20x)
 *   sweep       the median rate at each setting, the best one marked, each run a dot
 * No script, no external font or link: the page opens offline, in any browser.
 */
#include "bench_report.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define W 720
#define H 320
#define ML 70 /* margins: left, right, top, bottom */
#define MR 130
#define MT 36
#define MB 48

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};
#define NPAL (sizeof(palette) / sizeof(palette[0]))

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double jnum(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* A "nice" axis maximum at or above v (1, 2, 5 times a power of ten). */
static double nice_max(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v)));
    for (double m = 1; m <= 10; m = m == 1 ? 2 : m == 2 ? 5 : 10)
        if (m * p >= v)
            return m * p;
    return 10 * p;
}

/* xticks: numbered ticks along x (a bar chart labels its bars itself) */
static void frame(FILE *f, const char *id, const char *title, const char *xlabel,
                  const char *ylabel, double xmax, double ymax, bool xlog, double xmin, bool xticks)
{
    fprintf(f,
            "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
            "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">",
            id, W, H, W, H, W, H, ML);
    esc(f, title);
    fprintf(f, "</text>\n<g stroke=\"#ccc\">\n");
    int pw = W - ML - MR, ph = H - MT - MB;
    for (int i = 0; i <= 4; i++) {
        int y = MT + ph - ph * i / 4;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, y, ML + pw, y);
    }
    fprintf(f, "</g>\n<g fill=\"#333\">\n");
    for (int i = 0; i <= 4; i++) {
        int y = MT + ph - ph * i / 4;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", ML - 6, y + 4,
                ymax * i / 4);
    }
    for (int i = 0; xticks && i <= 4; i++) {
        int x = ML + pw * i / 4;
        double v = xlog ? xmin * pow(xmax / xmin, i / 4.0) : xmax * i / 4;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n", x, MT + ph + 16,
                v);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", ML + pw / 2, H - 10);
    esc(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\">",
            MT + ph / 2);
    esc(f, ylabel);
    fprintf(f,
            "</text>\n</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            ML, MT, pw, ph);
}

static void legend(FILE *f, int i, long long conc)
{
    int y = MT + 10 + 18 * i;
    fprintf(f,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
            "<text x=\"%d\" y=\"%d\">concurrency %lld</text>\n",
            W - MR + 12, y, W - MR + 32, y, palette[(size_t)i % NPAL], W - MR + 36, y + 4, conc);
}

/* <polyline class="series"> for run r of setting i: opened up to the points attribute */
static void series_open(FILE *f, size_t i, size_t r, const json_t *lvl)
{
    fprintf(f,
            "<polyline class=\"series\" data-concurrency=\"%lld\" data-run=\"%zu\" "
            "fill=\"none\" stroke-width=\"2\" stroke=\"%s\"%s points=\"",
            (long long)json_integer_value(json_object_get(lvl, "concurrency")), r + 1,
            palette[i % NPAL], r ? " stroke-opacity=\"0.55\" stroke-dasharray=\"5 3\"" : "");
}

static void chart_throughput(FILE *f, const json_t *doc)
{
    const json_t *sweep = json_object_get(doc, "sweep");
    bool mb = strcmp(jstr(doc, "metric"), "mb_per_s") == 0;
    const char *key = mb ? "mb_per_s" : "ops_per_s";
    double xmax = 1, ymax = 0;
    size_t i;
    json_t *lvl;
    json_array_foreach(sweep, i, lvl)
    {
        size_t r;
        json_t *run;
        json_array_foreach(json_object_get(lvl, "runs"), r, run)
        {
            const json_t *tl = json_object_get(json_object_get(run, "timeline"), key);
            if (json_array_size(tl) > xmax)
                xmax = (double)json_array_size(tl);
            size_t k;
            json_t *v;
            json_array_foreach(tl, k, v) if (json_number_value(v) > ymax) ymax =
                json_number_value(v);
        }
    }
    ymax = nice_max(ymax * 1.05);
    frame(f, "throughput", "Throughput over time (every run; repetitions dashed)", "seconds",
          mb ? "MB/s" : "operations/s", xmax, ymax, false, 0, true);
    int pw = W - ML - MR, ph = H - MT - MB;
    json_array_foreach(sweep, i, lvl)
    {
        size_t r;
        json_t *run;
        json_array_foreach(json_object_get(lvl, "runs"), r, run)
        {
            const json_t *tl = json_object_get(json_object_get(run, "timeline"), key);
            series_open(f, i, r, lvl);
            size_t k;
            json_t *v;
            json_array_foreach(tl, k, v)
            {
                /* each value is the rate during second k: drawn at the second's middle */
                double x = ML + pw * ((double)k + 0.5) / xmax;
                double y = MT + ph - ph * json_number_value(v) / ymax;
                fprintf(f, "%.1f,%.1f ", x, y);
            }
            fprintf(f, "\"/>\n");
        }
        legend(f, (int)i, (long long)json_integer_value(json_object_get(lvl, "concurrency")));
    }
    fprintf(f, "</svg>\n");
}

static void chart_cdf(FILE *f, const json_t *doc)
{
    const json_t *sweep = json_object_get(doc, "sweep");
    double lo = INFINITY, hi = 0;
    size_t i;
    json_t *lvl;
    json_array_foreach(sweep, i, lvl)
    {
        size_t r, k;
        json_t *run, *v;
        json_array_foreach(json_object_get(lvl, "runs"), r, run)
        {
            json_array_foreach(json_object_get(run, "cdf_ms"), k, v)
            {
                double x = json_number_value(v);
                if (x > 0 && x < lo)
                    lo = x;
                if (x > hi)
                    hi = x;
            }
        }
    }
    if (!(hi > 0))
        hi = 1;
    if (!(lo < hi))
        lo = hi / 10;
    bool xlog = hi / lo > 20;
    double xmin = xlog ? pow(10, floor(log10(lo))) : 0;
    double xmax = xlog ? pow(10, ceil(log10(hi))) : nice_max(hi);
    frame(f, "cdf", "Latency CDF (total time of each operation, every run)",
          xlog ? "milliseconds (log scale)" : "milliseconds", "fraction of operations", xmax, 1,
          xlog, xmin, true);
    int pw = W - ML - MR, ph = H - MT - MB;
    json_array_foreach(sweep, i, lvl)
    {
        size_t r;
        json_t *run;
        json_array_foreach(json_object_get(lvl, "runs"), r, run)
        {
            series_open(f, i, r, lvl);
            size_t k;
            json_t *v;
            const json_t *cdf = json_object_get(run, "cdf_ms");
            size_t n = json_array_size(cdf);
            json_array_foreach(cdf, k, v)
            {
                double x = json_number_value(v);
                double fx = xlog ? (x > xmin ? log10(x / xmin) / log10(xmax / xmin) : 0) : x / xmax;
                double q = n > 1 ? (double)k / (double)(n - 1) : 1;
                fprintf(f, "%.1f,%.1f ", ML + pw * fx, MT + ph - ph * q);
            }
            fprintf(f, "\"/>\n");
        }
        legend(f, (int)i, (long long)json_integer_value(json_object_get(lvl, "concurrency")));
    }
    fprintf(f, "</svg>\n");
}

static void chart_sweep(FILE *f, const json_t *doc)
{
    const json_t *sweep = json_object_get(doc, "sweep");
    bool mb = strcmp(jstr(doc, "metric"), "mb_per_s") == 0;
    const char *key = mb ? "mb_per_s" : "ops_per_s";
    long long best =
        json_integer_value(json_object_get(json_object_get(doc, "best"), "concurrency"));
    double ymax = 0;
    size_t i, n = json_array_size(sweep);
    json_t *lvl;
    json_array_foreach(sweep, i, lvl)
    {
        size_t r;
        json_t *run;
        if (jnum(lvl, key) > ymax)
            ymax = jnum(lvl, key);
        json_array_foreach(json_object_get(lvl, "runs"), r, run) if (jnum(run, key) > ymax) ymax =
            jnum(run, key);
    }
    ymax = nice_max(ymax * 1.1);
    frame(f, "sweep",
          "Concurrency sweep (bars: median of the runs, the best filled; dots: each run)",
          "concurrency", mb ? "MB/s" : "operations/s", 1, ymax, false, 0, false);
    int pw = W - ML - MR, ph = H - MT - MB;
    double slot = n ? (double)pw / (double)n : pw;
    json_array_foreach(sweep, i, lvl)
    {
        long long c = (long long)json_integer_value(json_object_get(lvl, "concurrency"));
        double v = jnum(lvl, key);
        double bh = ph * v / ymax, x = ML + slot * (double)i + slot * 0.2;
        bool is_best = c == best;
        fprintf(f,
                "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\" stroke=\"#1f77b4\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g</text>\n",
                is_best ? " best" : "", x, MT + ph - bh, slot * 0.6, bh,
                is_best ? "#1f77b4" : "#cfe0f3", x + slot * 0.3, MT + ph - bh - 4, v);
        size_t r, nr = json_array_size(json_object_get(lvl, "runs"));
        json_t *run;
        json_array_foreach(json_object_get(lvl, "runs"), r, run)
        {
            /* spread across the bar so equal values stay distinguishable */
            double cx = x + slot * 0.6 * ((double)r + 1) / ((double)nr + 1);
            fprintf(f,
                    "<circle class=\"run\" data-concurrency=\"%lld\" data-run=\"%zu\" "
                    "cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#d62728\" stroke=\"#fff\"/>\n",
                    c, r + 1, cx, MT + ph - ph * jnum(run, key) / ymax);
        }
    }
    json_array_foreach(sweep, i, lvl)
    {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%lld</text>\n",
                ML + slot * (double)i + slot * 0.5, MT + ph + 16,
                (long long)json_integer_value(json_object_get(lvl, "concurrency")));
    }
    fprintf(f, "</svg>\n");
}

static void html_table(FILE *f, const json_t *doc)
{
    fputs("<table>\n<tr><th>concurrency</th><th>run</th><th>ops</th><th>errors</th>"
          "<th>retries</th><th>MB/s</th><th>ops/s</th><th>TTFB p50 ms</th><th>TTFB p99 ms</th>"
          "<th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th>"
          "<th>client CPU s/GiB</th><th>server CPU s/GiB</th></tr>\n",
          f);
    size_t i, k;
    json_t *lvl, *run;
    json_array_foreach(json_object_get(doc, "sweep"), i, lvl)
    {
        json_array_foreach(json_object_get(lvl, "runs"), k, run)
        {
            const json_t *lat = json_object_get(run, "latency_ms");
            const json_t *t = json_object_get(lat, "total"), *b = json_object_get(lat, "ttfb");
            fprintf(f,
                    "<tr><td>%lld</td><td>%zu</td><td>%lld</td><td>%lld</td><td>%lld</td>"
                    "<td>%.2f</td><td>%.1f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                    "<td>%.2f</td><td>%.2f</td><td>%.2f</td>",
                    (long long)json_integer_value(json_object_get(lvl, "concurrency")), k,
                    (long long)json_integer_value(json_object_get(run, "ops")),
                    (long long)json_integer_value(json_object_get(run, "errors")),
                    (long long)json_integer_value(json_object_get(run, "retries")),
                    jnum(run, "mb_per_s"), jnum(run, "ops_per_s"), jnum(b, "p50"), jnum(b, "p99"),
                    jnum(t, "p50"), jnum(t, "p90"), jnum(t, "p99"), jnum(t, "p99_9"),
                    jnum(t, "max"));
            const char *cpu[] = {"client_cpu_s_per_gib", "server_cpu_s_per_gib"};
            for (int c = 0; c < 2; c++) {
                const json_t *v = json_object_get(run, cpu[c]);
                if (json_is_number(v))
                    fprintf(f, "<td>%.2f</td>", json_number_value(v));
                else
                    fputs("<td>-</td>", f);
            }
            fputs("</tr>\n", f);
        }
    }
    fputs("</table>\n", f);
}

static void write_html(FILE *f, const json_t *doc)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>floe bench ",
          f);
    esc(f, jstr(doc, "bench"));
    fputs("</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
          "padding:2px 6px;text-align:right}svg{display:block;margin:1em 0}</style>\n"
          "</head><body>\n<h1>floe bench ",
          f);
    esc(f, jstr(doc, "bench"));
    fputs("</h1>\n<p>", f);
    esc(f, jstr(doc, "what"));
    fputs("; endpoint ", f);
    esc(f, *jstr(doc, "endpoint") ? jstr(doc, "endpoint") : "none (local parsing)");
    if (json_is_true(json_object_get(doc, "embedded")))
        fputs(" (its own floe-vault)", f);
    const json_t *best = json_object_get(doc, "best");
    bool mb = strcmp(jstr(doc, "metric"), "mb_per_s") == 0;
    if (best)
        fprintf(f,
                ".</p>\n<p><strong>Best: concurrency %lld, %.2f %s</strong> (median of %lld "
                "run(s); peak RSS %lld MiB).</p>\n",
                (long long)json_integer_value(json_object_get(best, "concurrency")),
                jnum(best, mb ? "mb_per_s" : "ops_per_s"), mb ? "MB/s" : "operations/s",
                (long long)json_integer_value(json_object_get(doc, "runs")),
                (long long)json_integer_value(json_object_get(doc, "peak_rss_kib")) / 1024);
    else
        fputs(".</p>\n", f);
    html_table(f, doc);
    chart_throughput(f, doc);
    chart_cdf(f, doc);
    chart_sweep(f, doc);
    fputs("</body></html>\n", f);
}

static void write_svg(FILE *f, const json_t *doc)
{
    /* one image: the three charts stacked, each a nested <svg> with its id */
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n<g>\n",
            W, 3 * H, W, 3 * H);
    fputs("<g transform=\"translate(0,0)\">\n", f);
    chart_throughput(f, doc);
    fprintf(f, "</g>\n<g transform=\"translate(0,%d)\">\n", H);
    chart_cdf(f, doc);
    fprintf(f, "</g>\n<g transform=\"translate(0,%d)\">\n", 2 * H);
    chart_sweep(f, doc);
    fputs("</g>\n</g>\n</svg>\n", f);
}

int floe_bench_report_write(const char *path, const json_t *doc)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -1;
    const char *ext = strrchr(path, '.');
    if (ext && strcmp(ext, ".svg") == 0)
        write_svg(f, doc);
    else
        write_html(f, doc);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int e = errno ? errno : EIO;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}
