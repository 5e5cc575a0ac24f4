/*
 * progress.c - the terminal status line (see progress.h).
 */
#include "progress.h"

#include "need.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct floe_progress_line {
    pthread_mutex_t mu;
    const char *verb;
    bool enabled;
    unsigned slots;
    uint64_t *done, *total; /* guarded by mu */
    double t0, last_print;  /* guarded by mu */
    bool printed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct floe_progress_line *floe_progress_new(const char *verb, unsigned slots, bool enabled)
{
    struct floe_progress_line *pl = floe_cli_need(calloc(1, sizeof(*pl)));
    pthread_mutex_init(&pl->mu, NULL);
    pl->verb = verb;
    pl->enabled = enabled && isatty(2);
    pl->slots = slots ? slots : 1;
    pl->done = floe_cli_need(calloc(pl->slots, sizeof(uint64_t)));
    pl->total = floe_cli_need(calloc(pl->slots, sizeof(uint64_t)));
    pl->t0 = now_s();
    return pl;
}

static void fmt_bytes(double b, char *out, size_t cap)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

void floe_progress_update(struct floe_progress_line *pl, unsigned slot, uint64_t done,
                          uint64_t total)
{
    if (!pl || !pl->enabled || slot >= pl->slots)
        return;
    pthread_mutex_lock(&pl->mu);
    pl->done[slot] = done;
    pl->total[slot] = total;
    double t = now_s();
    if (t - pl->last_print >= 0.2) {
        pl->last_print = t;
        uint64_t d = 0, tot = 0;
        bool unknown = false;
        for (unsigned i = 0; i < pl->slots; i++) {
            d += pl->done[i];
            if (pl->total[i] == UINT64_MAX)
                unknown = true;
            else
                tot += pl->total[i];
        }
        double secs = t - pl->t0, rate = secs > 0 ? (double)d / secs : 0;
        char db[32], tb[32] = "?", eta[32] = "";
        fmt_bytes((double)d, db, sizeof(db));
        if (!unknown) {
            fmt_bytes((double)tot, tb, sizeof(tb));
            if (rate > 0 && tot >= d)
                snprintf(eta, sizeof(eta), "  ETA %.0fs", (double)(tot - d) / rate);
        }
        fprintf(stderr, "\r\033[K%s %s / %s  %.1f MB/s%s", pl->verb, db, tb, rate / 1e6, eta);
        fflush(stderr);
        pl->printed = true;
    }
    pthread_mutex_unlock(&pl->mu);
}

void floe_progress_clear(struct floe_progress_line *pl)
{
    if (!pl)
        return;
    pthread_mutex_lock(&pl->mu);
    if (pl->printed) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        pl->printed = false;
    }
    pthread_mutex_unlock(&pl->mu);
}

void floe_progress_destroy(struct floe_progress_line *pl)
{
    if (!pl)
        return;
    floe_progress_clear(pl);
    pthread_mutex_destroy(&pl->mu);
    free(pl->done);
    free(pl->total);
    free(pl);
}
