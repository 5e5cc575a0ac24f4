/*
 * inventory-parse - parse a vault inventory file sequentially (floe_inventory_parse_file) or in
 * parallel ranges (floe_invrange_parse_file), or write one, for bench/e2e/inventory-bench.sh.
 *
 * Usage: inventory-parse generate FILE N [json|csv]   N archives as the service writes them
 *                                                     (descriptions of 0-200 characters with
 *                                                     quotes, braces and backslashes)
 *        inventory-parse seq FILE                     one thread, 1 MiB reads
 *        inventory-parse ranged FILE                  ranges as FLOE_INVENTORY_RANGE_* say
 * Parse modes print "archives wall_s cpu_s main_cpu_s": CPU seconds (user + system) of every
 * thread, and of the calling thread alone (the part that does not spread over cores: in ranged
 * mode range 0 and handing the records over; the workers parse the rest).
 * Built by the script that uses it, against the build's libfloe.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <floe/inventory.h>
#include <floe/invrange.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static uint64_t rng = 7;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int generate(const char *path, uint64_t n, int csv)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    static const char *const bits[] = {"a", "b/", "{", "}", "\\\"", "\\\\", " ", ",", "x-1"};
    if (csv)
        fputs("ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n", f);
    else
        fputs("{\"VaultARN\":\"arn:aws:glacier:us-east-1:123456789012:vaults/bench\","
              "\"InventoryDate\":\"2026-01-01T00:00:00Z\",\"ArchiveList\":[",
              f);
    for (uint64_t i = 0; i < n; i++) {
        char id[139], tree[65], desc[1100];
        for (int k = 0; k < 138; k++)
            id[k] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[next_rand() &
                                                                                       63];
        id[138] = 0;
        for (int k = 0; k < 64; k++)
            tree[k] = "0123456789abcdef"[next_rand() & 15];
        tree[64] = 0;
        size_t want = next_rand() % 200, len = 0;
        desc[0] = 0;
        while (len < want) {
            const char *b = bits[next_rand() % (sizeof(bits) / sizeof(bits[0]))];
            size_t k = strlen(b);
            memcpy(desc + len, b, k + 1);
            len += k;
        }
        unsigned long long size = next_rand() % (1ull << 32);
        if (csv)
            fprintf(f, "%s,\"%s\",2025-06-01T12:00:00Z,%llu,%s\n", id, desc, size, tree);
        else
            fprintf(f,
                    "%s{\"ArchiveId\":\"%s\",\"ArchiveDescription\":\"%s\","
                    "\"CreationDate\":\"2025-06-01T12:00:00Z\",\"Size\":%llu,"
                    "\"SHA256TreeHash\":\"%s\"}",
                    i ? "," : "", id, desc, size, tree);
    }
    if (!csv)
        fputs("]}", f);
    return fclose(f) != 0;
}

static int count(const struct floe_inventory_archive *a, void *user)
{
    (void)a;
    ++*(uint64_t *)user;
    return 0;
}

static double cpu_s(int who)
{
    struct rusage u;
    getrusage(who, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec / 1e6;
}

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "generate") == 0)
        return generate(argv[2], strtoull(argv[3], NULL, 10),
                        argc > 4 && strcmp(argv[4], "csv") == 0);
    if (argc != 3 || (strcmp(argv[1], "seq") != 0 && strcmp(argv[1], "ranged") != 0)) {
        fprintf(stderr, "usage: inventory-parse generate FILE N [json|csv] | seq FILE | "
                        "ranged FILE\n");
        return 2;
    }
    uint64_t n = 0;
    struct floe_inventory_summary sum;
    struct floe_error err = {0};
    double w0 = wall_s(), c0 = cpu_s(RUSAGE_SELF), m0 = cpu_s(RUSAGE_THREAD);
    int rc;
    if (strcmp(argv[1], "seq") == 0) {
        rc = floe_inventory_parse_file(argv[2], FLOE_INVENTORY_AUTO, count, &n, &sum, &err);
    } else {
        struct floe_invrange_options o = {0};
        rc = floe_invrange_parse_file(argv[2], &o, count, &n, &sum, NULL, &err);
    }
    if (rc) {
        fprintf(stderr, "inventory-parse: %s\n", err.message);
        return 1;
    }
    printf("%llu %.3f %.3f %.3f\n", (unsigned long long)n, wall_s() - w0, cpu_s(RUSAGE_SELF) - c0,
           cpu_s(RUSAGE_THREAD) - m0);
    return 0;
}
