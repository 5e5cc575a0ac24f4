/*
 * bwlimit.h - the bandwidth limit's parts: the timetable (parsed once, asked for the rates in
 * force at a local time), a token bucket, and the process-wide pair of buckets the transfer
 * thread draws from (floe/bwlimit.h installs them).
 */
#ifndef FLOE_ENGINE_BWLIMIT_H
#define FLOE_ENGINE_BWLIMIT_H

#include "floe/bwlimit.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOE_BWSCHED_MAX 32

enum floe_bw_dir { FLOE_BW_UP = 0, FLOE_BW_DOWN = 1 };

/* A parsed --bwlimit: n entries sorted by start; with one entry and start -1, a constant. */
struct floe_bwsched {
    unsigned n;
    bool weekly; /* some entry names a day: starts are minutes of the week (Sunday 00:00 = 0) */
    struct {
        int start_min;      /* minute of the day (or week); -1 = always */
        double rate_bps[2]; /* bytes per second per direction; 0 = unlimited */
    } e[FLOE_BWSCHED_MAX];
};

/* floe_bwsched_parse() - spec as floe_bwlimit_set() reads it into *out (written only on
 * FLOE_OK). FLOE_E_INVALID_ARG names what is wrong. Pure; any thread. */
int floe_bwsched_parse(const char *spec, struct floe_bwsched *out, struct floe_error *err);

/* floe_bwsched_rates() - the rates in force at weekday wday (0 = Sunday) hour:min, local.
 * Pure. */
void floe_bwsched_rates(const struct floe_bwsched *s, int wday, int hour, int min,
                        double rate_bps[2]);

/* A token bucket: rate bytes/s (0 = unlimited), at most burst saved up; tokens may go below
 * zero (a debt: a receive that could not be refused), repaid before anything else is let
 * through. Not thread-safe: the process-wide pair guards its own. */
struct floe_bwbucket {
    double rate_bps, burst, tokens;
    uint64_t last_ns;
};

/* Set the rate (keeps the tokens, capped at the new burst: 0.3 s of rate, at least
 * 16 KiB). */
void floe_bwbucket_set_rate(struct floe_bwbucket *b, double rate_bps, uint64_t now_ns);
/* Up to want bytes may go now: returns how many (0 = wait), taken from the bucket. */
size_t floe_bwbucket_take(struct floe_bwbucket *b, size_t want, uint64_t now_ns);
/* n bytes arrived: false (nothing taken) when the bucket is empty or in debt (wait), else
 * takes all n, possibly into debt. */
bool floe_bwbucket_charge(struct floe_bwbucket *b, size_t n, uint64_t now_ns);
/* Nanoseconds until the bucket holds 4 KiB (or its burst) again; 0 = now. */
uint64_t floe_bwbucket_wait_ns(struct floe_bwbucket *b, uint64_t now_ns);

/* The process-wide limit (any thread; one mutex). active() is a cheap atomic read: false
 * until floe_bwlimit_set() installed a limit. The rest use CLOCK_MONOTONIC and re-read the
 * timetable at most once a second. */
bool floe_bwlimit_active(void);
size_t floe_bwlimit_take(enum floe_bw_dir dir, size_t want);
bool floe_bwlimit_charge(enum floe_bw_dir dir, size_t n);
uint64_t floe_bwlimit_wait_ns(enum floe_bw_dir dir);
/* The rate in force now (0 = unlimited), for sizing curl's buffers. */
double floe_bwlimit_rate(enum floe_bw_dir dir);

#endif
