/*
 * cmd_bench.c - `floe bench`: what this machine and an endpoint do, measured.
 *
 *   floe bench [hash] [--size SIZE] [--runs N]
 *       SHA-256 and tree-hash throughput on this CPU: OpenSSL's single stream beside floe's
 *       one-pass part hash (leaves + linear), leaves alone, and the hash pool on every core.
 *   floe bench upload|download|small|mixed|jobs|inventory [VAULT] [options]
 *       a workload (bench_run.h) at each --concurrency setting, --runs times, after a warm-up;
 *       per-operation records (bench_rec.h), the final table or --json, --csv, --report
 *       (bench_report.h). Without --endpoint-url it starts its own floe-vault (bench_vault.h);
 *       against a real endpoint it prints the estimated cost and needs --yes.
 *   floe bench compare A.json B.json (bench_compare.h)
 *
 * GB/s and MB/s are 10^9 and 10^6 bytes per second. Speed is measured here, never asserted:
 * this command only reports (docs/bench.md).
 */
#include "argparse.h"
#include "bench_compare.h"
#include "bench_rec.h"
#include "bench_report.h"
#include "bench_run.h"
#include "bench_vault.h"
#include "cli.h"
#include "common.h"
#include "need.h"

#include "floe/client.h"
#include "floe/hashpool.h"
#include "floe/prices.h"
#include "floe/range.h"
#include "floe/treehash.h"
#include "floe/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BENCH_USAGE                                                                                \
    "floe bench [hash] [--size SIZE] [--runs N]\n"                                                 \
    "       floe bench upload|download|small|mixed|jobs|inventory [VAULT] [--duration D]\n"        \
    "                  [--count N] [--warmup D] [--concurrency LIST] [--runs N] [--size SIZE]\n"   \
    "                  [--part-size SIZE] [--segment-size SIZE] [--range SIZE] [--mix MIX]\n"      \
    "                  [--archives N] [--csv FILE] [--report FILE] [--overwrite]\n"                \
    "                  [--vault-bin PATH] [--yes]\n"                                               \
    "       floe bench compare A.json B.json\n"                                                    \
    "Defaults: hash --size 256MiB, --runs 3 (the median is reported). Workloads: --duration 10s\n" \
    "(a bare number is seconds; with --count alone, until N operations), --warmup 1s,\n"           \
    "--runs 1, --concurrency 4 (upload, download: parts or segments in flight; inventory:\n"       \
    "parsers) or 16 (small, mixed, jobs: operations in flight), --size 64MiB (upload,\n"           \
    "download) or 64KiB (small, mixed), --part-size 16MiB, --segment-size floe's default,\n"       \
    "--range the whole archive, --mix put=30,get=45,delete=10,describe=15, --archives 100000;\n"   \
    "a --size list (4KiB,64KiB,1MiB) is taken in turn (upload, small, mixed).\n"                   \
    "VAULT: an existing vault (default: a vault of its own, deleted afterwards).\n"                \
    "Without --endpoint-url: its own floe-vault on a free loopback port (found beside floe,\n"     \
    "with --vault-bin, or $FLOE_VAULT_BIN). A non-loopback endpoint needs --yes (the cost is\n"    \
    "printed first). --report writes FILE.html or FILE.svg; --csv the raw records."

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct hash_case {
    const char *name;
    double gbps;
    int base;     /* the case this one is compared with (itself for a baseline) */
    double ratio; /* gbps / cases[base].gbps */
};

static void openssl_linear(const uint8_t *d, size_t n)
{
    uint8_t out[32];
    unsigned len = 32;
    EVP_Digest(d, n, out, &len, EVP_sha256(), NULL);
}

static void openssl_leaves(const uint8_t *d, size_t n)
{
    for (size_t off = 0; off < n; off += FLOE_TREEHASH_LEAF_BYTES)
        openssl_linear(d + off,
                       n - off < FLOE_TREEHASH_LEAF_BYTES ? n - off : FLOE_TREEHASH_LEAF_BYTES);
}

static int bench_hash(const struct floe_cli *cli, uint64_t size, int runs)
{
    uint8_t *d = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (d == MAP_FAILED) {
        fprintf(stderr, "floe bench: cannot allocate %llu bytes\n", (unsigned long long)size);
        return 1;
    }
    floe_bench_fill(d, size, 42);
    struct floe_error err = {0};
    struct floe_hashpool *pool = NULL;
    if (floe_hashpool_new(0, 0, &pool, &err) != FLOE_OK) {
        munmap(d, size);
        return floe_cli_fail("bench", &err);
    }
    size_t nleaves = (size_t)floe_treehash_leaf_count(size);
    uint8_t(*leaves)[FLOE_HASH_BYTES] = calloc(nleaves ? nleaves : 1, FLOE_HASH_BYTES);
    enum { C_OPENSSL, C_OSSL_LEAVES, C_OSSL_TWO, C_PART, C_LEAVES, C_POOL, NCASES };
    struct hash_case cases[NCASES] = {
        {"OpenSSL SHA-256, one stream", 0, C_OPENSSL, 0},
        {"OpenSSL, 1 MiB leaves", 0, C_OSSL_LEAVES, 0},
        {"OpenSSL, leaves + linear as two passes", 0, C_OSSL_TWO, 0},
        {"floe part hash: leaves + linear in one pass", 0, C_OSSL_TWO, 0},
        {"floe leaves, two per core", 0, C_OSSL_LEAVES, 0},
        {"floe leaves on the pool", 0, C_LEAVES, 0},
    };
    char label[64];
    snprintf(label, sizeof(label), "floe leaves on the pool (%u threads)",
             floe_hashpool_threads(pool));
    cases[C_POOL].name = label;
    double *t = calloc((size_t)runs, sizeof(double));
    for (int c = 0; c < NCASES; c++) {
        for (int r = 0; r < runs; r++) {
            double t0 = now_s();
            uint8_t tree[32], lin[32];
            switch (c) {
            case C_OPENSSL: openssl_linear(d, size); break;
            case C_OSSL_LEAVES: openssl_leaves(d, size); break;
            case C_OSSL_TWO:
                openssl_leaves(d, size);
                openssl_linear(d, size);
                break;
            case C_PART: floe_treehash_part(d, size, leaves, tree, lin); break;
            case C_LEAVES: floe_treehash_leaves(d, size, leaves); break;
            case C_POOL: floe_hashpool_treehash(pool, d, size, tree); break;
            }
            t[r] = now_s() - t0;
        }
        cases[c].gbps = (double)size / median(t, runs) / 1e9;
    }
    for (int c = 0; c < NCASES; c++)
        cases[c].ratio = cases[c].gbps / cases[cases[c].base].gbps;
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:I, s:i, s:s}", "bench", "hash", "size", (json_int_t)size,
                              "runs", runs, "kernel", floe_treehash_kernel_name());
        json_t *arr = json_array();
        for (int c = 0; c < NCASES; c++)
            json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "case", cases[c].name,
                                                 "gb_per_s", floe_cli_jreal(cases[c].gbps, 2),
                                                 "x_openssl", floe_cli_jreal(cases[c].ratio, 2)));
        json_object_set_new(o, "cases", arr);
        floe_cli_json_print(stdout, o);
    } else {
        printf("SHA-256 kernel: %s; %llu MiB per run, median of %d\n", floe_treehash_kernel_name(),
               (unsigned long long)(size >> 20), runs);
        for (int c = 0; c < NCASES; c++) {
            printf("  %-46s %6.2f GB/s", cases[c].name, cases[c].gbps);
            if (cases[c].base != c)
                printf("  %5.2fx %s", cases[c].ratio, cases[cases[c].base].name);
            printf("\n");
        }
    }
    free(t);
    free(leaves);
    floe_hashpool_destroy(pool);
    munmap(d, size);
    return 0;
}

/* ---- transfer workloads ---- */

struct bench_opts {
    const char *size_s, *runs_s, *part_s, *conc_s, *dur_s, *count_s, *warm_s, *seg_s, *range_s,
        *mix_s, *arch_s, *csv, *report, *vault_bin;
    bool yes, overwrite;
};

/* "10s", "2m", "1.5h", or a bare number of seconds, into *s (at most a day). */
static int parse_secs(const char *name, const char *v, double *s)
{
    uint64_t ms = 0;
    size_t n = strlen(v);
    int rc = n && v[n - 1] >= '0' && v[n - 1] <= '9'
                 ? floe_cli_parse_seconds("bench", BENCH_USAGE, name, v, &ms)
                 : floe_cli_parse_duration("bench", BENCH_USAGE, name, v, &ms);
    if (rc)
        return rc;
    if (ms > 86400000ull)
        return floe_cli_usage_error("bench", BENCH_USAGE, "%s must be at most a day, not %s", name,
                                    v);
    *s = (double)ms / 1000;
    return 0;
}

/* "1,4,16,64" into conc[] (each 1..256, at most 16 values, no repeats). */
static int parse_conc(const char *v, unsigned *conc, unsigned *n)
{
    *n = 0;
    const char *p = v;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long c = strtoul(p, &end, 10);
        if (end == p || errno || c < 1 || c > 256 || (*end && *end != ',') || *n == 16)
            return floe_cli_usage_error(
                "bench", BENCH_USAGE,
                "--concurrency must be a list of up to 16 whole numbers from 1 to 256 "
                "(\"1,4,16,64\"), not \"%s\"",
                v);
        for (unsigned i = 0; i < *n; i++)
            if (conc[i] == c)
                return floe_cli_usage_error("bench", BENCH_USAGE, "--concurrency lists %lu twice",
                                            c);
        conc[(*n)++] = (unsigned)c;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return floe_cli_usage_error("bench", BENCH_USAGE,
                                        "--concurrency must not end with a comma: \"%s\"", v);
    }
    if (!*n)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--concurrency is empty");
    return 0;
}

/* "put=30,get=45,delete=10,describe=15" into mix[4]. */
static int parse_mix(const char *v, unsigned mix[4])
{
    static const char *const names[4] = {"put", "get", "delete", "describe"};
    unsigned m[4] = {0};
    char *copy = floe_cli_strdup(v), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int k = -1;
        for (int i = 0; eq && i < 4; i++)
            if ((size_t)(eq - tok) == strlen(names[i]) &&
                strncmp(tok, names[i], strlen(names[i])) == 0)
                k = i;
        char *end = NULL;
        unsigned long w = eq ? strtoul(eq + 1, &end, 10) : 0;
        if (k < 0 || !end || end == eq + 1 || *end || w > 1000)
            rc = floe_cli_usage_error("bench", BENCH_USAGE,
                                      "--mix must be NAME=WEIGHT,... with names put, get, "
                                      "delete, describe and weights 0 to 1000, not \"%s\"",
                                      v);
        else
            m[k] = (unsigned)w;
    }
    free(copy);
    if (!rc && m[0] + m[1] + m[2] + m[3] == 0)
        rc = floe_cli_usage_error("bench", BENCH_USAGE, "--mix gives every operation weight 0");
    if (!rc)
        memcpy(mix, m, sizeof(m));
    return rc;
}

/* "--size 64KiB" or a list "4KiB,64KiB,1MiB" (upload, small, mixed: taken in turn) into spec;
 * spec->size becomes the largest. */
static int parse_sizes(enum floe_bench_workload wl, const char *v, struct floe_bench_spec *spec)
{
    char *copy = floe_cli_strdup(v), *save = NULL;
    int rc = 0;
    spec->nsizes = 0;
    spec->size = 0;
    bool list = strchr(v, ',') != NULL;
    if (list && wl != FLOE_BENCH_W_UPLOAD && wl != FLOE_BENCH_W_SMALL && wl != FLOE_BENCH_W_MIXED)
        rc = floe_cli_usage_error("bench", BENCH_USAGE,
                                  "a list of sizes is for bench upload, small and mixed");
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        uint64_t sz = 0;
        if (spec->nsizes == 16)
            rc = floe_cli_usage_error("bench", BENCH_USAGE, "--size lists at most 16 sizes");
        else if (floe_cli_parse_size("bench", BENCH_USAGE, "--size", tok, &sz))
            rc = 2;
        else if (sz == 0)
            rc = floe_cli_usage_error("bench", BENCH_USAGE, "--size is out of range");
        if (!rc) {
            spec->sizes[spec->nsizes++] = sz;
            if (sz > spec->size)
                spec->size = sz;
        }
    }
    if (!rc && !spec->nsizes)
        rc = floe_cli_usage_error("bench", BENCH_USAGE, "--size is empty");
    if (!list)
        spec->nsizes = 0;
    free(copy);
    return rc;
}

/* "64 MiB", or "4 KiB, 64 KiB, 1 MiB in turn" for a list. */
static void size_str(char *out, size_t cap, const struct floe_bench_spec *s)
{
    unsigned n = s->nsizes ? s->nsizes : 1;
    size_t len = 0;
    out[0] = 0;
    for (unsigned i = 0; i < n && len < cap; i++) {
        uint64_t v = s->nsizes ? s->sizes[i] : s->size;
        const char *unit = v % FLOE_MIB == 0 ? "MiB" : v % 1024 == 0 ? "KiB" : "B";
        uint64_t shown = v % FLOE_MIB == 0 ? v >> 20 : v % 1024 == 0 ? v >> 10 : v;
        int k = snprintf(out + len, cap - len, "%s%llu %s", i ? ", " : "",
                         (unsigned long long)shown, unit);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (n > 1 && len < cap)
        snprintf(out + len, cap - len, " in turn");
}

static bool throughput_bound(enum floe_bench_workload w)
{
    return w == FLOE_BENCH_W_UPLOAD || w == FLOE_BENCH_W_DOWNLOAD || w == FLOE_BENCH_W_INVENTORY;
}

/* The cost notice before a run against a real endpoint (docs/bench.md, "Cost"). */
static void print_cost(const struct floe_bench_spec *s, const unsigned *conc, unsigned nconc,
                       int runs)
{
    const struct floe_prices *p = floe_prices_default();
    uint64_t part = s->part_size ? s->part_size : (uint64_t)64 << 20;
    uint64_t size = s->workload == FLOE_BENCH_W_JOBS ? FLOE_MIB : s->size;
    uint64_t reqs = floe_prices_upload_requests(size, part);
    double req_usd = (double)reqs * p->upload_per_1000_requests_usd / 1000;
    /* deleted at once, an archive is billed its minimum storage time */
    double store_usd = (double)(size + p->archive_overhead_bytes) / 1e9 *
                       p->storage_per_gb_month_usd * p->minimum_storage_days / 30;
    double per_archive = req_usd + store_usd;
    fprintf(stderr,
            "floe bench: %s against a real endpoint costs money (prices of %s, %s):\n"
            "  each archive uploaded: $%.6f (%llu request%s $%.6f, %u-day minimum storage of "
            "%llu bytes $%.6f)\n",
            floe_bench_workload_names[s->workload], p->as_of, p->region, per_archive,
            (unsigned long long)reqs, reqs == 1 ? "" : "s", req_usd, p->minimum_storage_days,
            (unsigned long long)size, store_usd);
    if (s->count) {
        uint64_t ops = s->count * (uint64_t)nconc * (uint64_t)runs;
        fprintf(stderr,
                "  %llu measured operations (%u concurrency setting%s x %d run%s), "
                "plus the warm-up: about $%.4f if every operation uploads\n",
                (unsigned long long)ops, nconc, nconc == 1 ? "" : "s", runs, runs == 1 ? "" : "s",
                per_archive * (double)ops);
    } else {
        fprintf(stderr,
                "  bounded by time (%.0f s per run, %u setting%s x %d run%s): the number "
                "of operations is not known in advance; --count bounds it\n",
                s->duration_s, nconc, nconc == 1 ? "" : "s", runs, runs == 1 ? "" : "s");
    }
    if (s->workload == FLOE_BENCH_W_DOWNLOAD || s->workload == FLOE_BENCH_W_MIXED ||
        s->workload == FLOE_BENCH_W_JOBS)
        fprintf(stderr, "  plus retrieval and data transfer fees for the retrieval jobs and "
                        "downloads (not in floe's price table)\n");
    (void)conc;
}

static json_t *run_json(const struct floe_bench_summary *sum, const struct floe_bench_usage *u,
                        int run)
{
    json_t *o = floe_bench_summary_json(sum);
    double gib = (double)sum->bytes / (double)(1u << 30);
    json_object_set_new(o, "run", json_integer(run));
    json_object_set_new(o, "client_cpu_s", floe_cli_jreal(u->client_cpu_s, 3));
    json_object_set_new(o, "client_cpu_s_per_gib",
                        gib > 0 ? floe_cli_jreal(u->client_cpu_s / gib, 3) : json_null());
    if (u->server_cpu_s >= 0) {
        json_object_set_new(o, "server_cpu_s", floe_cli_jreal(u->server_cpu_s, 3));
        json_object_set_new(o, "server_cpu_s_per_gib",
                            gib > 0 ? floe_cli_jreal(u->server_cpu_s / gib, 3) : json_null());
    }
    return o;
}

static double jnum(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

static double jlat(const json_t *run, const char *which, const char *q)
{
    return jnum(json_object_get(json_object_get(run, "latency_ms"), which), q);
}

/* The final table, from the result document. */
static void print_table(const json_t *doc)
{
    bool tput = strcmp(json_string_value(json_object_get(doc, "metric")), "mb_per_s") == 0;
    const char *ep = json_string_value(json_object_get(doc, "endpoint"));
    printf("floe bench %s: %s, endpoint %s%s\n", json_string_value(json_object_get(doc, "bench")),
           json_string_value(json_object_get(doc, "what")), *ep ? ep : "none (local parsing)",
           json_is_true(json_object_get(doc, "embedded")) ? " (its own floe-vault)" : "");
    printf("%5s %4s %8s %6s %7s %10s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s\n", "conc", "run",
           "ops", "errors", "retries", "MB/s", "ops/s", "ttfb p50", "p99", "total p50", "p90",
           "p99", "p99.9", "max", "cpu/GiB", "srv/GiB");
    size_t i;
    json_t *lvl;
    json_array_foreach(json_object_get(doc, "sweep"), i, lvl)
    {
        size_t k;
        json_t *run;
        json_array_foreach(json_object_get(lvl, "runs"), k, run)
        {
            json_t *srv = json_object_get(run, "server_cpu_s_per_gib");
            json_t *cli = json_object_get(run, "client_cpu_s_per_gib");
            char cbuf[16] = "-", sbuf[16] = "-";
            if (json_is_number(cli))
                snprintf(cbuf, sizeof(cbuf), "%.2fs", json_number_value(cli));
            if (json_is_number(srv))
                snprintf(sbuf, sizeof(sbuf), "%.2fs", json_number_value(srv));
            printf("%5lld %4lld %8lld %6lld %7lld %10.2f %9.1f %7.2fms %7.2fms %7.2fms %7.2fms "
                   "%7.2fms %7.2fms %7.2fms %8s %8s\n",
                   (long long)json_integer_value(json_object_get(lvl, "concurrency")),
                   (long long)json_integer_value(json_object_get(run, "run")),
                   (long long)json_integer_value(json_object_get(run, "ops")),
                   (long long)json_integer_value(json_object_get(run, "errors")),
                   (long long)json_integer_value(json_object_get(run, "retries")),
                   jnum(run, "mb_per_s"), jnum(run, "ops_per_s"), jlat(run, "ttfb", "p50"),
                   jlat(run, "ttfb", "p99"), jlat(run, "total", "p50"), jlat(run, "total", "p90"),
                   jlat(run, "total", "p99"), jlat(run, "total", "p99_9"),
                   jlat(run, "total", "max"), cbuf, sbuf);
            const json_t *kl = json_object_get(run, "kind_latency_ms");
            if (json_object_size(kl) > 1) { /* mixed, jobs: each kind's own latency */
                const char *kind;
                json_t *lat;
                json_object_foreach((json_t *)kl, kind, lat)
                {
                    printf("%18s %-8s %lld ops, p50 %.2fms, p99 %.2fms, max %.2fms\n", "", kind,
                           (long long)json_integer_value(
                               json_object_get(json_object_get(run, "kinds"), kind)),
                           jnum(lat, "p50"), jnum(lat, "p99"), jnum(lat, "max"));
                }
            }
        }
    }
    const json_t *best = json_object_get(doc, "best");
    if (best)
        printf("best: concurrency %lld, %.2f %s (median of %lld run%s)\n",
               (long long)json_integer_value(json_object_get(best, "concurrency")),
               jnum(best, tput ? "mb_per_s" : "ops_per_s"), tput ? "MB/s" : "ops/s",
               (long long)json_integer_value(json_object_get(doc, "runs")),
               json_integer_value(json_object_get(doc, "runs")) == 1 ? "" : "s");
    printf("peak RSS %lld MiB\n",
           (long long)json_integer_value(json_object_get(doc, "peak_rss_kib")) / 1024);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int bench_workload(const struct floe_cli *cli, enum floe_bench_workload wl,
                          const char *vault, const struct bench_opts *bo)
{
    struct floe_bench_spec spec = {
        .workload = wl, .vault = vault, .live = !cli->quiet && !cli->json};
    unsigned conc[16] = {4}, nconc = 1;
    uint64_t runs = 1, count = 0, archives = 100000;
    if (wl == FLOE_BENCH_W_SMALL || wl == FLOE_BENCH_W_MIXED || wl == FLOE_BENCH_W_JOBS)
        conc[0] = 16;
    spec.size = wl == FLOE_BENCH_W_UPLOAD || wl == FLOE_BENCH_W_DOWNLOAD ? (uint64_t)64 << 20
                                                                         : (uint64_t)64 << 10;
    spec.part_size = (uint64_t)16 << 20;
    spec.duration_s = 10;
    spec.warmup_s = 1;
    unsigned mix[4] = {30, 45, 10, 15};
    if (bo->conc_s && parse_conc(bo->conc_s, conc, &nconc))
        return 2;
    if (bo->size_s && parse_sizes(wl, bo->size_s, &spec))
        return 2;
    if (bo->part_s &&
        floe_cli_parse_size("bench", BENCH_USAGE, "--part-size", bo->part_s, &spec.part_size))
        return 2;
    if (bo->seg_s &&
        floe_cli_parse_size("bench", BENCH_USAGE, "--segment-size", bo->seg_s, &spec.segment_size))
        return 2;
    if (bo->range_s &&
        floe_cli_parse_size("bench", BENCH_USAGE, "--range", bo->range_s, &spec.range))
        return 2;
    if (bo->runs_s && floe_cli_parse_uint("bench", BENCH_USAGE, "--runs", bo->runs_s, 100, &runs))
        return 2;
    if (runs == 0)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--runs must be at least 1");
    if (bo->count_s &&
        floe_cli_parse_uint("bench", BENCH_USAGE, "--count", bo->count_s, 1000000000, &count))
        return 2;
    if (bo->count_s && count == 0)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--count must be at least 1");
    if (bo->dur_s && parse_secs("--duration", bo->dur_s, &spec.duration_s))
        return 2;
    if (bo->dur_s && spec.duration_s <= 0)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--duration must be more than 0");
    if (bo->warm_s && parse_secs("--warmup", bo->warm_s, &spec.warmup_s))
        return 2;
    if (bo->mix_s && wl != FLOE_BENCH_W_MIXED)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--mix is for bench mixed");
    if (bo->mix_s && parse_mix(bo->mix_s, mix))
        return 2;
    if (bo->arch_s && wl != FLOE_BENCH_W_INVENTORY)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--archives is for bench inventory");
    if (bo->arch_s &&
        floe_cli_parse_uint("bench", BENCH_USAGE, "--archives", bo->arch_s, 100000000, &archives))
        return 2;
    if ((bo->seg_s || bo->range_s) && wl != FLOE_BENCH_W_DOWNLOAD)
        return floe_cli_usage_error("bench", BENCH_USAGE,
                                    "--segment-size and --range are for bench download");
    if (spec.size == 0 || spec.size > FLOE_ARCHIVE_MAX)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--size is out of range");
    if ((wl == FLOE_BENCH_W_SMALL || wl == FLOE_BENCH_W_MIXED) && spec.size > ((uint64_t)64 << 20))
        return floe_cli_usage_error("bench", BENCH_USAGE,
                                    "--size of bench %s is at most 64MiB (one request each)",
                                    floe_bench_workload_names[wl]);
    if (spec.range && (spec.range % FLOE_MIB != 0 || spec.range > spec.size))
        return floe_cli_usage_error("bench", BENCH_USAGE,
                                    "--range must be a whole number of MiB, at most --size");
    if (bo->count_s && !bo->dur_s)
        spec.duration_s = 0; /* --count alone: as long as it takes */
    spec.count = count;
    memcpy(spec.mix, mix, sizeof(mix));
    spec.archives = archives;
    for (unsigned i = 0; i < nconc; i++)
        if (conc[i] > spec.max_concurrency)
            spec.max_concurrency = conc[i];
    if (bo->csv && exists(bo->csv) && !bo->overwrite)
        return floe_cli_usage_error("bench", BENCH_USAGE,
                                    "--csv %s exists (--overwrite replaces it)", bo->csv);
    const char *ext = bo->report ? strrchr(bo->report, '.') : NULL;
    if (bo->report && (!ext || (strcmp(ext, ".html") != 0 && strcmp(ext, ".svg") != 0)))
        return floe_cli_usage_error("bench", BENCH_USAGE,
                                    "--report must name a .html or .svg file, not %s", bo->report);
    if (bo->report && exists(bo->report) && !bo->overwrite)
        return floe_cli_usage_error("bench", BENCH_USAGE,
                                    "--report %s exists (--overwrite replaces it)", bo->report);

    /* where: the given endpoint (after the cost notice and --yes when it is real), or a
     * floe-vault of its own */
    /* Ctrl-C from here on stops cleanly: whatever was started is stopped and deleted */
    spec.cancel = floe_cli_cancel_on_sigint();
    struct floe_bench_vault sv = {0};
    struct floe_cli local = *cli;
    bool embedded = false, real = false;
    if (wl != FLOE_BENCH_W_INVENTORY) {
        if (cli->endpoint_url) {
            if (bo->vault_bin)
                return floe_cli_usage_error("bench", BENCH_USAGE,
                                            "--vault-bin is for the benchmark's own floe-vault "
                                            "(without --endpoint-url)");
            real = !floe_bench_url_is_loopback(cli->endpoint_url);
        } else {
            char bin[4096], why[1024];
            int found = floe_bench_vault_find(bo->vault_bin, bin, sizeof(bin), why, sizeof(why));
            if (found != 0) {
                fprintf(stderr, "floe bench: %s\n", why);
                return found == -2 ? 2 : 1;
            }
            if (floe_bench_vault_start(&sv, bin, why, sizeof(why)) != 0) {
                fprintf(stderr, "floe bench: %s\n", why);
                return 1;
            }
            embedded = true;
            local.endpoint_url = sv.url;
            spec.access_key_id = FLOE_LOCAL_ACCESS_KEY;
            spec.secret_access_key = FLOE_LOCAL_SECRET_KEY;
        }
    }
    if (real) {
        print_cost(&spec, conc, nconc, (int)runs);
        if (!bo->yes) {
            fprintf(stderr,
                    "floe bench: %s is not a local endpoint: --yes runs the benchmark "
                    "(it deletes what it creates)\n",
                    cli->endpoint_url);
            return 2;
        }
    }
    spec.cli = &local;

    FILE *csv = NULL;
    if (bo->csv) {
        csv = fopen(bo->csv, "we");
        if (!csv || floe_bench_csv_header(csv) != 0) {
            fprintf(stderr, "floe bench: cannot write %s: %s\n", bo->csv, strerror(errno));
            if (csv)
                fclose(csv);
            floe_bench_vault_stop(&sv);
            return 1;
        }
    }
    struct floe_bench_run *run = NULL;
    int rc = floe_bench_prepare(&spec, &run);
    json_t *sweep = json_array();
    int best = -1;
    double best_v = -1;
    bool tput = throughput_bound(wl);
    for (unsigned c = 0; rc == 0 && c < nconc; c++) {
        json_t *rs = json_array();
        double *vals = floe_cli_need(calloc(runs, sizeof(double)));
        double *mbs = floe_cli_need(calloc(runs, sizeof(double)));
        double *opss = floe_cli_need(calloc(runs, sizeof(double)));
        for (int k = 0; rc == 0 && k < (int)runs; k++) {
            struct floe_bench_log log;
            floe_bench_log_init(&log);
            struct floe_bench_usage use;
            rc = floe_bench_phase(run, conc[c], embedded ? (int)sv.pid : 0, &log, &use);
            struct floe_bench_summary sum;
            floe_bench_summarize(&log, use.seconds, &sum);
            json_array_append_new(rs, run_json(&sum, &use, k));
            mbs[k] = sum.mb_per_s;
            opss[k] = sum.ops_per_s;
            vals[k] = tput ? sum.mb_per_s : sum.ops_per_s;
            if (csv && floe_bench_csv_rows(csv, &log, conc[c], k) != 0 && rc == 0) {
                fprintf(stderr, "floe bench: cannot write %s: %s\n", bo->csv, strerror(errno));
                rc = 1;
            }
            floe_bench_summary_free(&sum);
            floe_bench_log_cleanup(&log);
        }
        size_t done = json_array_size(rs);
        if (done) {
            double v = median(vals, (int)done);
            json_array_append_new(
                sweep, json_pack("{s:i, s:o, s:o, s:o}", "concurrency", (int)conc[c], "mb_per_s",
                                 floe_cli_jreal(median(mbs, (int)done), 2), "ops_per_s",
                                 floe_cli_jreal(median(opss, (int)done), 2), "runs", rs));
            if (v > best_v) {
                best_v = v;
                best = (int)json_array_size(sweep) - 1;
            }
        } else {
            json_decref(rs);
        }
        free(vals);
        free(mbs);
        free(opss);
    }
    const char *vault_used = run ? floe_bench_run_vault(run) : "";
    json_t *doc = json_pack(
        "{s:s, s:s, s:b, s:s, s:I, s:i, s:o, s:o, s:I}", "bench", floe_bench_workload_names[wl],
        "endpoint",
        wl == FLOE_BENCH_W_INVENTORY ? ""
        : local.endpoint_url         ? local.endpoint_url
                                     : FLOE_DEFAULT_ENDPOINT,
        "embedded", embedded, "vault", vault_used, "size", (json_int_t)spec.size, "runs", (int)runs,
        "duration_s", spec.duration_s > 0 ? floe_cli_jreal(spec.duration_s, 3) : json_null(),
        "warmup_s", floe_cli_jreal(spec.warmup_s, 3), "count", (json_int_t)spec.count);
    char what[512], sizes[256] = "";
    size_str(sizes, sizeof(sizes), &spec);
    if (spec.nsizes) {
        json_t *a = json_array();
        for (unsigned i = 0; i < spec.nsizes; i++)
            json_array_append_new(a, json_integer((json_int_t)spec.sizes[i]));
        json_object_set_new(doc, "sizes", a);
    }
    switch (wl) {
    case FLOE_BENCH_W_UPLOAD:
        snprintf(what, sizeof(what), "%s archives, %llu MiB parts", sizes,
                 (unsigned long long)(spec.part_size >> 20));
        json_object_set_new(doc, "part_size", json_integer((json_int_t)spec.part_size));
        break;
    case FLOE_BENCH_W_DOWNLOAD:
        snprintf(what, sizeof(what), "%llu MiB %s",
                 (unsigned long long)((spec.range ? spec.range : spec.size) >> 20),
                 spec.range ? "ranged retrieval" : "archive retrieval");
        json_object_set_new(doc, "range", json_integer((json_int_t)spec.range));
        break;
    case FLOE_BENCH_W_INVENTORY:
        snprintf(what, sizeof(what), "inventory of %llu archives", (unsigned long long)archives);
        json_object_set_new(doc, "archives", json_integer((json_int_t)archives));
        break;
    case FLOE_BENCH_W_MIXED:
        snprintf(what, sizeof(what), "%s archives, put/get/delete/describe %u/%u/%u/%u", sizes,
                 mix[0], mix[1], mix[2], mix[3]);
        json_object_set_new(doc, "mix",
                            json_pack("{s:i, s:i, s:i, s:i}", "put", mix[0], "get", mix[1],
                                      "delete", mix[2], "describe", mix[3]));
        break;
    case FLOE_BENCH_W_JOBS: snprintf(what, sizeof(what), "initiate, describe, list jobs"); break;
    default: snprintf(what, sizeof(what), "%s archives", sizes); break;
    }
    json_object_set_new(doc, "what", json_string(what));
    json_object_set_new(doc, "metric", json_string(tput ? "mb_per_s" : "ops_per_s"));
    json_object_set_new(doc, "sweep", sweep);
    if (best >= 0) {
        json_t *b = json_array_get(sweep, (size_t)best);
        json_object_set_new(doc, "best",
                            json_pack("{s:O, s:O, s:O}", "concurrency",
                                      json_object_get(b, "concurrency"), "mb_per_s",
                                      json_object_get(b, "mb_per_s"), "ops_per_s",
                                      json_object_get(b, "ops_per_s")));
        json_object_set(doc, "mb_per_s", json_object_get(b, "mb_per_s"));
        json_object_set(doc, "ops_per_s", json_object_get(b, "ops_per_s"));
    }
    int frc = floe_bench_finish(run);
    floe_bench_vault_stop(&sv);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json_object_set_new(doc, "peak_rss_kib", json_integer((json_int_t)ru.ru_maxrss));
    json_object_set_new(doc, "cleanup", json_string(frc ? "incomplete" : "ok"));
    if (csv && fclose(csv) != 0 && rc == 0) {
        fprintf(stderr, "floe bench: cannot write %s: %s\n", bo->csv, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && bo->report && floe_bench_report_write(bo->report, doc) != 0) {
        fprintf(stderr, "floe bench: cannot write %s: %s\n", bo->report, strerror(errno));
        rc = 1;
    }
    if (rc == 0 || rc == 130) {
        if (cli->json)
            floe_cli_json_print(stdout, json_incref(doc));
        else if (best >= 0)
            print_table(doc);
    }
    json_decref(doc);
    if (rc == 130)
        fprintf(stderr, "floe bench: interrupted; what it had created is deleted\n");
    return rc ? rc : frc;
}

int floe_cmd_bench(const struct floe_cli *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "compare") == 0)
        return floe_bench_compare_cmd(cli, argc - 1, argv + 1);
    struct bench_opts bo = {0};
    const struct floe_cli_opt opts[] = {
        {.name = "--size", .value = &bo.size_s},
        {.name = "--runs", .value = &bo.runs_s},
        {.name = "--part-size", .value = &bo.part_s},
        {.name = "--concurrency", .value = &bo.conc_s},
        {.name = "--duration", .value = &bo.dur_s},
        {.name = "--count", .value = &bo.count_s},
        {.name = "--warmup", .value = &bo.warm_s},
        {.name = "--segment-size", .value = &bo.seg_s},
        {.name = "--range", .value = &bo.range_s},
        {.name = "--mix", .value = &bo.mix_s},
        {.name = "--archives", .value = &bo.arch_s},
        {.name = "--csv", .value = &bo.csv},
        {.name = "--report", .value = &bo.report},
        {.name = "--vault-bin", .value = &bo.vault_bin},
        {.name = "--yes", .flag = &bo.yes},
        {.name = "--overwrite", .flag = &bo.overwrite},
        {0},
    };
    const char *pos[3];
    int npos = 0;
    int rc = floe_cli_parse("bench", BENCH_USAGE, argc, argv, 1, opts, pos, 3, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *what = npos ? pos[0] : "hash";
    if (strcmp(what, "hash") == 0) {
        uint64_t size = 0, runs = 3;
        if (npos > 1)
            return floe_cli_usage_error("bench", BENCH_USAGE, "bench hash takes no arguments");
        if (bo.part_s || bo.conc_s || bo.dur_s || bo.count_s || bo.warm_s || bo.seg_s ||
            bo.range_s || bo.mix_s || bo.arch_s || bo.csv || bo.report || bo.vault_bin || bo.yes)
            return floe_cli_usage_error("bench", BENCH_USAGE,
                                        "bench hash takes only --size and --runs");
        if (bo.size_s && floe_cli_parse_size("bench", BENCH_USAGE, "--size", bo.size_s, &size))
            return 2;
        if (bo.runs_s && floe_cli_parse_uint("bench", BENCH_USAGE, "--runs", bo.runs_s, 100, &runs))
            return 2;
        if (runs == 0)
            return floe_cli_usage_error("bench", BENCH_USAGE, "--runs must be at least 1");
        if (!size)
            size = (uint64_t)256 << 20;
        if (size < FLOE_MIB)
            return floe_cli_usage_error("bench", BENCH_USAGE, "--size must be at least 1MiB");
        return bench_hash(cli, size, (int)runs);
    }
    for (int w = 0; w < FLOE_BENCH_W_COUNT; w++) {
        if (strcmp(what, floe_bench_workload_names[w]) != 0)
            continue;
        if (npos > 2)
            return floe_cli_usage_error("bench", BENCH_USAGE, "bench %s takes at most a VAULT",
                                        what);
        if (w == FLOE_BENCH_W_INVENTORY && npos > 1)
            return floe_cli_usage_error("bench", BENCH_USAGE,
                                        "bench inventory parses a generated document: no VAULT");
        return bench_workload(cli, (enum floe_bench_workload)w, npos > 1 ? pos[1] : NULL, &bo);
    }
    return floe_cli_usage_error("bench", BENCH_USAGE,
                                "unknown benchmark '%s' (hash, upload, download, small, mixed, "
                                "jobs, inventory, compare)",
                                what);
}
