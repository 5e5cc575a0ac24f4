/*
 * archive-loader - fill a vault with COUNT one-byte archives through the Glacier API, fast, so
 * that a benchmark of a whole-vault operation (bench/e2e/purge-bench.sh) can start from a vault
 * of a million archives without a Python loop doing the loading for half an hour.
 *
 * Usage: archive-loader URL VAULT COUNT [THREADS=32]
 * Keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (as the benchmark scripts export them).
 * Prints "loaded COUNT archives into VAULT: R archives/s" on success; exit 1 on the first
 * failed upload (the message names it). Each THREADS worker calls libfloe's
 * floe_client_upload_archive() in a loop on one shared client (include/floe/client.h), so the
 * server sees THREADS requests in flight and can group-commit them.
 *
 * Built by the script that uses it, against the build's libfloe (see purge-bench.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include <floe/client.h>
#include <floe/error.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct floe_client *client;
static const char *vault;
static atomic_long next_index;
static atomic_int failed;
static long total;

static void *worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&failed) && atomic_fetch_add(&next_index, 1) < total) {
        struct floe_archive_result res;
        struct floe_error err = {0};
        if (floe_client_upload_archive(client, vault, "x", 1, NULL, &res, &err) != FLOE_OK) {
            if (!atomic_exchange(&failed, 1))
                fprintf(stderr, "archive-loader: upload into %s failed: %s\n", vault, err.message);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: archive-loader URL VAULT COUNT [THREADS=32]\n");
        return 2;
    }
    vault = argv[2];
    total = strtol(argv[3], NULL, 10);
    long threads = argc == 5 ? strtol(argv[4], NULL, 10) : 32;
    if (total <= 0 || threads <= 0 || threads > 1024) {
        fprintf(stderr, "archive-loader: COUNT and THREADS (1..1024) must be positive numbers\n");
        return 2;
    }
    struct floe_client_config cfg = {
        .endpoint_url = argv[1],
        .access_key_id = getenv("AWS_ACCESS_KEY_ID"),
        .secret_access_key = getenv("AWS_SECRET_ACCESS_KEY"),
        .max_connections = (unsigned)threads,
    };
    struct floe_error err = {0};
    if (floe_client_new(&cfg, &client, &err) != FLOE_OK) {
        fprintf(stderr, "archive-loader: %s\n", err.message);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    long started = 0;
    for (; tids && started < threads; started++)
        if (pthread_create(&tids[started], NULL, worker, NULL) != 0)
            break;
    for (long i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    floe_client_destroy(client);
    if (started == 0) {
        fprintf(stderr, "archive-loader: could not start a worker thread\n");
        return 1;
    }
    if (atomic_load(&failed))
        return 1;
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("loaded %ld archives into %s: %.0f archives/s\n", total, vault, (double)total / s);
    return 0;
}
