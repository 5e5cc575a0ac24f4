/*
 * progress.c - the terminal status line (see progress.h).
 */
#include "progress.h"

#include "log.h"
#include "need.h"

#include "floe/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct floe_progress_line {
    pthread_mutex_t mu;
    const char *verb;
    const char *noun; /* NULL: bytes in MiB */
    char *name;       /* guarded by mu */
    bool enabled;
    bool tty; /* a redrawn line; else periodic log lines */
    unsigned slots;
    uint64_t *done, *total; /* guarded by mu */
    uint64_t base;          /* done before the line started (floe_progress_set_base); mu */
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
    pl->enabled = enabled;
    pl->tty = floe_cli_log_is_tty();
    pl->slots = slots ? slots : 1;
    pl->done = floe_cli_need(calloc(pl->slots, sizeof(uint64_t)));
    pl->total = floe_cli_need(calloc(pl->slots, sizeof(uint64_t)));
    pl->t0 = now_s();
    return pl;
}

/* An amount in the line's unit: MiB, or a count. */
static void fmt_amount(const struct floe_progress_line *pl, double b, char *out, size_t cap)
{
    if (pl->noun)
        snprintf(out, cap, "%.0f", b);
    else
        snprintf(out, cap, "%.1f MiB", b / 1048576.0);
}

/* The rate in the line's unit. */
static void fmt_rate(const struct floe_progress_line *pl, double rate, char *out, size_t cap)
{
    if (pl->noun)
        snprintf(out, cap, "%.0f/s", rate);
    else
        snprintf(out, cap, "%.1f MiB/s", rate / 1048576.0);
}

static void fmt_eta(double s, char *out, size_t cap)
{
    long sec = (long)(s + 0.5);
    if (sec >= 3600)
        snprintf(out, cap, "%ldh%02ldm", sec / 3600, sec % 3600 / 60);
    else if (sec >= 60)
        snprintf(out, cap, "%ldm%02lds", sec / 60, sec % 60);
    else
        snprintf(out, cap, "%lds", sec);
}

void floe_progress_set_name(struct floe_progress_line *pl, const char *name)
{
    if (!pl)
        return;
    pthread_mutex_lock(&pl->mu);
    free(pl->name);
    pl->name = name ? floe_cli_strdup(name) : NULL;
    pthread_mutex_unlock(&pl->mu);
}

void floe_progress_set_unit(struct floe_progress_line *pl, const char *noun)
{
    if (!pl)
        return;
    pthread_mutex_lock(&pl->mu);
    pl->noun = noun;
    pthread_mutex_unlock(&pl->mu);
}

void floe_progress_set_base(struct floe_progress_line *pl, uint64_t done_before)
{
    if (!pl)
        return;
    pthread_mutex_lock(&pl->mu);
    pl->base = done_before;
    pthread_mutex_unlock(&pl->mu);
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
    double every = pl->tty ? 0.2 : pl->last_print > 0 ? 10 : 1;
    if (t - (pl->last_print > 0 ? pl->last_print : pl->t0) >= every) {
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
        double secs = t - pl->t0;
        double rate = secs > 0 && d > pl->base ? (double)(d - pl->base) / secs : 0;
        char db[32], tb[64] = "?", eta[80] = "", pct[16] = "", e[48], rb[32];
        fmt_amount(pl, (double)d, db, sizeof(db));
        fmt_rate(pl, rate, rb, sizeof(rb));
        if (!unknown) {
            fmt_amount(pl, (double)tot, tb, sizeof(tb));
            if (tot)
                snprintf(pct, sizeof(pct), " (%.0f%%)", 100.0 * (double)d / (double)tot);
            if (rate > 0 && tot >= d) {
                fmt_eta((double)(tot - d) / rate, e, sizeof(e));
                snprintf(eta, sizeof(eta), ", ETA %s", e);
            }
        }
        if (pl->noun) {
            size_t n = strlen(tb);
            snprintf(tb + n, sizeof(tb) - n, " %s", pl->noun);
        }
        const char *name = pl->name ? pl->name : "";
        if (pl->tty) {
            fprintf(stderr, "\r\033[K%s %s%s%s / %s%s, %s%s", pl->verb, name, *name ? ": " : "", db,
                    tb, pct, rb, eta);
            fflush(stderr);
            pl->printed = true;
        } else {
            floe_cli_logf(FLOE_LOG_WARN, "%s %s%s%s / %s%s, %s%s", pl->verb, name,
                          *name ? ": " : "", db, tb, pct, rb, eta);
        }
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
    free(pl->name);
    free(pl->done);
    free(pl->total);
    free(pl);
}
