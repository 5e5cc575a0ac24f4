/*
 * cmd_bench.c - `floe bench`: what this machine does, measured.
 *
 *   floe bench [hash] [--size SIZE] [--runs N]
 *       SHA-256 and tree-hash throughput on this CPU: OpenSSL's single stream beside floe's
 *       one-pass part hash (leaves + linear), leaves alone, and the hash pool on every core.
 *   floe bench upload VAULT [--size SIZE] [--part-size SIZE] [--concurrency N] [--keep]
 *       uploads SIZE bytes of generated data to the endpoint, reports MB/s, client CPU
 *       seconds per GiB and peak RSS, then deletes the archive (unless --keep).
 *
 * Medians of --runs runs (default 3). GB/s and MB/s are 10^9 and 10^6 bytes per second.
 * Speed is measured here, never asserted: this command only reports.
 */
#include "argparse.h"
#include "cli.h"
#include "common.h"

#include "floe/hashpool.h"
#include "floe/range.h"
#include "floe/treehash.h"
#include "floe/upload.h"

#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BENCH_USAGE                                                                                \
    "floe bench [hash] [--size SIZE] [--runs N]\n"                                                 \
    "       floe bench upload VAULT [--size SIZE] [--part-size SIZE] [--concurrency N]\n"          \
    "                  [--runs N] [--keep]\n"                                                      \
    "Defaults: hash --size 256MiB; upload --size 1GiB, --part-size 64MiB, --concurrency 4;\n"      \
    "--runs 3 (the median is reported)."

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
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

/* Fast non-cryptographic filler: benchmark data only. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < n; i++)
        p[i] = (uint8_t)(x >> (8 * (i & 7)));
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
    fill(d, size, 42);
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

static int bench_upload(const struct floe_cli *cli, const char *vault, uint64_t size,
                        uint64_t part_size, unsigned conc, int runs, bool keep)
{
    char path[] = "/tmp/floe-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("floe bench: mkstemp");
        return 1;
    }
    /* generate the source in 8 MiB steps (no size-sized allocation) */
    size_t step = (size_t)8 << 20;
    uint8_t *buf = malloc(step);
    int rc = 0;
    for (uint64_t off = 0; off < size && buf; off += step) {
        size_t n = size - off < step ? (size_t)(size - off) : step;
        fill(buf, n, off + 7);
        if (write(fd, buf, n) != (ssize_t)n) {
            perror("floe bench: writing the source");
            rc = 1;
            break;
        }
    }
    free(buf);
    close(fd);
    struct floe_client *client = NULL;
    if (rc == 0 && floe_cli_client(cli, "bench", NULL, &client))
        rc = floe_cli_client_status();
    double *wall = calloc((size_t)runs, sizeof(double));
    double *cpu = calloc((size_t)runs, sizeof(double));
    for (int r = 0; rc == 0 && r < runs; r++) {
        struct floe_upload_options o = {.vault = vault,
                                        .path = path,
                                        .part_size = part_size,
                                        .concurrency = conc,
                                        .no_checkpoint = true};
        struct floe_upload_result res;
        struct floe_error err = {0};
        double c0 = cpu_s(), t0 = now_s();
        if (floe_upload_file(client, &o, &res, &err) != FLOE_OK) {
            rc = floe_cli_fail("bench", &err);
            break;
        }
        wall[r] = now_s() - t0;
        cpu[r] = cpu_s() - c0;
        if (!keep) {
            struct floe_error e2 = {0};
            if (floe_client_delete_archive(client, vault, res.archive_id, &e2) != FLOE_OK)
                fprintf(stderr, "floe bench: could not delete archive %s: %s\n", res.archive_id,
                        e2.message);
        } else if (!cli->json) {
            printf("kept archive %s\n", res.archive_id);
        }
    }
    if (rc == 0) {
        double w = median(wall, runs), c = median(cpu, runs);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double gib = (double)size / (double)(1u << 30);
        if (cli->json) {
            json_t *o =
                json_pack("{s:s, s:s, s:I, s:i, s:o, s:o, s:o, s:I}", "bench", "upload", "endpoint",
                          floe_client_endpoint(client), "size", (json_int_t)size, "runs", runs,
                          "seconds", floe_cli_jreal(w, 3), "mb_per_s",
                          floe_cli_jreal((double)size / w / 1e6, 2), "client_cpu_s_per_gib",
                          floe_cli_jreal(c / gib, 3), "peak_rss_kib", (json_int_t)ru.ru_maxrss);
            floe_cli_json_print(stdout, o);
        } else {
            printf("upload of %llu MiB to %s, median of %d\n", (unsigned long long)(size >> 20),
                   floe_client_endpoint(client), runs);
            printf("  %.2f s  %.1f MB/s  client CPU %.2f s/GiB  peak RSS %ld MiB\n", w,
                   (double)size / w / 1e6, c / gib, ru.ru_maxrss / 1024);
        }
    }
    free(wall);
    free(cpu);
    floe_client_destroy(client);
    unlink(path);
    return rc;
}

int floe_cmd_bench(const struct floe_cli *cli, int argc, char **argv)
{
    const char *size_s = NULL, *runs_s = NULL, *part_s = NULL, *conc_s = NULL;
    bool keep = false;
    const struct floe_cli_opt opts[] = {
        {.name = "--size", .value = &size_s},      {.name = "--runs", .value = &runs_s},
        {.name = "--part-size", .value = &part_s}, {.name = "--concurrency", .value = &conc_s},
        {.name = "--keep", .flag = &keep},         {0},
    };
    const char *pos[3];
    int npos = 0;
    int rc = floe_cli_parse("bench", BENCH_USAGE, argc, argv, 1, opts, pos, 3, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *what = npos ? pos[0] : "hash";
    uint64_t size = 0, runs = 3, part = 0, conc = 0;
    if (size_s && floe_cli_parse_size("bench", BENCH_USAGE, "--size", size_s, &size))
        return 2;
    if (runs_s && floe_cli_parse_uint("bench", BENCH_USAGE, "--runs", runs_s, 100, &runs))
        return 2;
    if (runs == 0)
        return floe_cli_usage_error("bench", BENCH_USAGE, "--runs must be at least 1");
    if (part_s && floe_cli_parse_size("bench", BENCH_USAGE, "--part-size", part_s, &part))
        return 2;
    if (conc_s && floe_cli_parse_uint("bench", BENCH_USAGE, "--concurrency", conc_s, 256, &conc))
        return 2;
    if (conc_s && conc == 0)
        return floe_cli_usage_error(
            "bench", BENCH_USAGE, "--concurrency must be a whole number from 1 to 256, not \"0\"");
    if (strcmp(what, "hash") == 0) {
        if (npos > 1)
            return floe_cli_usage_error("bench", BENCH_USAGE, "bench hash takes no arguments");
        if (part_s || conc_s || keep)
            return floe_cli_usage_error("bench", BENCH_USAGE,
                                        "--part-size, --concurrency and --keep are for bench "
                                        "upload");
        if (!size)
            size = (uint64_t)256 << 20;
        if (size < FLOE_MIB)
            return floe_cli_usage_error("bench", BENCH_USAGE, "--size must be at least 1MiB");
        return bench_hash(cli, size, (int)runs);
    }
    if (strcmp(what, "upload") == 0) {
        if (npos != 2)
            return floe_cli_usage_error("bench", BENCH_USAGE, "bench upload needs a VAULT");
        if (!size)
            size = (uint64_t)1 << 30;
        if (size == 0 || size > FLOE_ARCHIVE_MAX)
            return floe_cli_usage_error("bench", BENCH_USAGE, "--size is out of range");
        return bench_upload(cli, pos[1], size, part, (unsigned)conc, (int)runs, keep);
    }
    return floe_cli_usage_error("bench", BENCH_USAGE, "unknown benchmark '%s' (hash, upload)",
                                what);
}
