/*
 * bwlimit.c - the process-wide bandwidth limit (`--bwlimit`): the rclone-style timetable, a
 * token bucket, and the two buckets (send, receive) every transfer thread shares.
 *
 * DESIGN
 * The transfer thread asks before it moves bytes: a request body's read callback takes
 * tokens for at most what it returns (none: curl pauses the handle), a response body's write
 * callback is charged what arrived (the bucket may go into debt: curl cannot hand back part
 * of a receive; an empty bucket pauses the handle instead, and curl keeps the bytes). The
 * transfer loop resumes paused handles when floe_bwlimit_wait_ns() says tokens are back, and
 * sleeps until then. One mutex guards both buckets and the timetable's current rates: a few
 * hundred lock round trips per second at most, as each grant is a curl buffer's worth.
 * The timetable is re-read against local time at most once a second.
 */
#include "bwlimit.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One RATE: "off", a number, an optional binary suffix (bare = KiB/s). -1 = invalid. */
static double parse_rate(const char *s, size_t n)
{
    if (n == 3 && strncmp(s, "off", 3) == 0)
        return 0;
    char buf[32];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end == buf || !(v >= 0) || v > 1e15)
        return -1;
    double mult = 1024;
    if (*end) {
        static const char units[] = "BKMGT";
        const char *u = strchr(units, toupper((unsigned char)*end));
        if (!u || end[1])
            return -1;
        mult = 1;
        for (const char *p = units; p < u; p++)
            mult *= 1024;
    }
    return v * mult;
}

/* "RATE" or "UP:DOWN" into r[2]; false when invalid. */
static bool parse_pair(const char *s, size_t n, double r[2])
{
    const char *colon = memchr(s, ':', n);
    if (!colon) {
        r[0] = r[1] = parse_rate(s, n);
        return r[0] >= 0;
    }
    r[0] = parse_rate(s, (size_t)(colon - s));
    r[1] = parse_rate(colon + 1, n - (size_t)(colon - s) - 1);
    return r[0] >= 0 && r[1] >= 0;
}

static int two_digits(const char *s)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static const char *const s_days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static int cmp_entry(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int floe_bwsched_parse(const char *spec, struct floe_bwsched *out, struct floe_error *err)
{
    struct floe_bwsched s = {0};
    if (!spec)
        spec = "";
    const char *p = spec;
    bool table = strchr(spec, ',') != NULL;
    if (!table) {
        size_t n = strlen(spec);
        s.n = 1;
        s.e[0].start_min = -1;
        if (n && !parse_pair(spec, n, s.e[0].rate_bps))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "--bwlimit '%s': a rate is a number with an optional B, K, M, "
                                  "G or T suffix (a bare number is KiB/s), 'off', or UP:DOWN",
                                  spec);
        *out = s;
        return FLOE_OK;
    }
    bool daily = false;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " ");
        const char *comma = memchr(p, ',', n);
        if (s.n == FLOE_BWSCHED_MAX)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "--bwlimit: a timetable has at most %d entries",
                                  FLOE_BWSCHED_MAX);
        if (!comma)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "--bwlimit entry '%.*s': a timetable entry is HH:MM,RATE or "
                                  "Day-HH:MM,RATE",
                                  (int)n, p);
        const char *t = p;
        int day = -1;
        if (comma - t >= 4 && t[3] == '-') {
            for (int d = 0; d < 7; d++)
                if (strncasecmp(t, s_days[d], 3) == 0)
                    day = d;
            if (day < 0)
                return floe_error_set(err, FLOE_E_INVALID_ARG,
                                      "--bwlimit entry '%.*s': the day is one of Mon, Tue, Wed, "
                                      "Thu, Fri, Sat, Sun",
                                      (int)n, p);
            t += 4;
        }
        int hh = comma - t == 5 && t[2] == ':' ? two_digits(t) : -1;
        int mm = hh >= 0 ? two_digits(t + 3) : -1;
        if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "--bwlimit entry '%.*s': the time is HH:MM, 00:00 to 23:59",
                                  (int)n, p);
        double r[2];
        if (!parse_pair(comma + 1, n - (size_t)(comma + 1 - p), r))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "--bwlimit entry '%.*s': a rate is a number with an optional "
                                  "B, K, M, G or T suffix (a bare number is KiB/s), 'off', or "
                                  "UP:DOWN",
                                  (int)n, p);
        if (day >= 0)
            s.weekly = true;
        else
            daily = true;
        /* stored as minute of the day now; made weekly below when some entry names a day */
        s.e[s.n].start_min = (day >= 0 ? day * 1440 : -1440) + hh * 60 + mm;
        s.e[s.n].rate_bps[0] = r[0];
        s.e[s.n].rate_bps[1] = r[1];
        s.n++;
        p += n;
    }
    if (s.n == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "--bwlimit: an empty timetable");
    if (s.weekly && daily)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--bwlimit '%s': name a day in every entry or in none", spec);
    for (unsigned i = 0; i < s.n; i++)
        if (s.e[i].start_min < 0)
            s.e[i].start_min += 1440;
    qsort(s.e, s.n, sizeof(s.e[0]), cmp_entry); /* start_min is the entry's first member */
    for (unsigned i = 1; i < s.n; i++)
        if (s.e[i].start_min == s.e[i - 1].start_min)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "--bwlimit '%s': two entries start at the same time", spec);
    *out = s;
    return FLOE_OK;
}

void floe_bwsched_rates(const struct floe_bwsched *s, int wday, int hour, int min,
                        double rate_bps[2])
{
    int now = (s->weekly ? wday * 1440 : 0) + hour * 60 + min;
    unsigned k = s->n - 1; /* before the first entry: the last one, wrapped around */
    for (unsigned i = 0; i < s->n; i++)
        if (s->e[i].start_min <= now)
            k = i;
    rate_bps[0] = s->e[k].rate_bps[0];
    rate_bps[1] = s->e[k].rate_bps[1];
}

void floe_bwbucket_set_rate(struct floe_bwbucket *b, double rate_bps, uint64_t now_ns)
{
    if (!b->last_ns || !b->rate_bps)
        b->tokens = 0;
    b->rate_bps = rate_bps;
    /* 0.3 s: a client that lost the CPU for a moment (a loaded machine) catches up instead of
     * losing the time, which kept the average at 88-92% of the limit with a tenth of a
     * second; the next second still stays below 1.3x */
    b->burst = rate_bps * 0.3 > 16384 ? rate_bps * 0.3 : 16384;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last_ns = now_ns;
}

static void refill(struct floe_bwbucket *b, uint64_t now_ns)
{
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) * b->rate_bps / 1e9;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
    }
    b->last_ns = now_ns;
}

size_t floe_bwbucket_take(struct floe_bwbucket *b, size_t want, uint64_t now_ns)
{
    if (!b->rate_bps)
        return want;
    refill(b, now_ns);
    if (b->tokens < 1)
        return 0;
    size_t n = (double)want < b->tokens ? want : (size_t)b->tokens;
    b->tokens -= (double)n;
    return n;
}

bool floe_bwbucket_charge(struct floe_bwbucket *b, size_t n, uint64_t now_ns)
{
    if (!b->rate_bps)
        return true;
    refill(b, now_ns);
    if (b->tokens < 1)
        return false;
    b->tokens -= (double)n;
    return true;
}

uint64_t floe_bwbucket_wait_ns(struct floe_bwbucket *b, uint64_t now_ns)
{
    if (!b->rate_bps)
        return 0;
    refill(b, now_ns);
    double want = b->burst < 4096 ? b->burst : 4096;
    if (b->tokens >= want)
        return 0;
    return (uint64_t)((want - b->tokens) * 1e9 / b->rate_bps) + 1;
}

/* ---- the process-wide pair ---- */

static struct {
    pthread_mutex_t mu;
    struct {
        struct floe_bwsched sched;
        struct floe_bwbucket b[2];
        time_t checked_s; /* the wall-clock second the timetable was last read */
    } locked;             /* guarded by mu */
    atomic_bool active;
} g_bw = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The timetable's rates for this second. Needs mu. */
static void follow_table_locked(uint64_t now_ns)
{
    time_t t = time(NULL);
    if (t == g_bw.locked.checked_s)
        return;
    g_bw.locked.checked_s = t;
    struct tm tm;
    localtime_r(&t, &tm);
    double r[2];
    floe_bwsched_rates(&g_bw.locked.sched, tm.tm_wday, tm.tm_hour, tm.tm_min, r);
    for (int d = 0; d < 2; d++)
        if (r[d] != g_bw.locked.b[d].rate_bps)
            floe_bwbucket_set_rate(&g_bw.locked.b[d], r[d], now_ns);
}

int floe_bwlimit_set(const char *spec, struct floe_error *err)
{
    struct floe_bwsched s;
    int rc = floe_bwsched_parse(spec, &s, err);
    if (rc)
        return rc;
    bool any = false;
    for (unsigned i = 0; i < s.n; i++)
        any = any || s.e[i].rate_bps[0] > 0 || s.e[i].rate_bps[1] > 0;
    pthread_mutex_lock(&g_bw.mu);
    g_bw.locked.sched = s;
    g_bw.locked.checked_s = 0;
    follow_table_locked(mono_ns());
    pthread_mutex_unlock(&g_bw.mu);
    atomic_store(&g_bw.active, any);
    return FLOE_OK;
}

bool floe_bwlimit_active(void)
{
    return atomic_load_explicit(&g_bw.active, memory_order_relaxed);
}

/* take (charge = false) or charge the process-wide bucket of dir; returns the bytes granted,
 * or for a charge 1 (accepted) or 0 (wait). */
static size_t draw_bucket(enum floe_bw_dir dir, size_t n, bool charge)
{
    uint64_t now = mono_ns();
    pthread_mutex_lock(&g_bw.mu);
    follow_table_locked(now);
    struct floe_bwbucket *b = &g_bw.locked.b[dir];
    size_t got = charge ? floe_bwbucket_charge(b, n, now) : floe_bwbucket_take(b, n, now);
    pthread_mutex_unlock(&g_bw.mu);
    return got;
}

size_t floe_bwlimit_take(enum floe_bw_dir dir, size_t want)
{
    return draw_bucket(dir, want, false);
}

bool floe_bwlimit_charge(enum floe_bw_dir dir, size_t n)
{
    return draw_bucket(dir, n, true) != 0;
}

uint64_t floe_bwlimit_wait_ns(enum floe_bw_dir dir)
{
    uint64_t now = mono_ns();
    pthread_mutex_lock(&g_bw.mu);
    follow_table_locked(now);
    uint64_t w = floe_bwbucket_wait_ns(&g_bw.locked.b[dir], now);
    pthread_mutex_unlock(&g_bw.mu);
    return w;
}

double floe_bwlimit_rate(enum floe_bw_dir dir)
{
    pthread_mutex_lock(&g_bw.mu);
    double r = g_bw.locked.b[dir].rate_bps;
    pthread_mutex_unlock(&g_bw.mu);
    return r;
}
