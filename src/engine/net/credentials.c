/*
 * credentials.c - the credential provider: the current keys, and their refresh
 * (include/floe/credentials.h, credentials.h).
 *
 * DESIGN: the keys a client signs with are an immutable snapshot; the provider holds one
 * reference to the current snapshot and every signer takes its own for the length of one
 * signature, so swapping in new keys never disturbs a signature being computed or a request in
 * flight. A provider whose source can give new keys (anything but fixed keys) runs one refresh
 * thread that sleeps until the keys are due (floe_credentials_due: the margin before expiry,
 * not earlier than half their remaining life), fetches outside the lock, and swaps. A failed
 * refresh keeps the old keys and tries again after a short delay (5-60 s, shorter as expiry
 * nears). An ExpiredToken answer (a refresh missed: a suspended laptop, a clock jump) forces
 * one refresh and waits for it (floe_credentials_expired).
 */
#include "credentials.h"

#include "alloc.h"
#include "credchain.h"
#include "credfetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct floe_credentials {
    struct floe_cred_source *src; /* NULL: fixed keys; immutable after new */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on force, stop and every swap */
    pthread_t thread;
    bool thread_started;
    int64_t margin_s;
    struct {
        struct floe_creds_snap *cur; /* the provider's reference */
        bool stop, force, fetching;
        uint64_t fetches;
        int64_t fetched_at, retry_at;
    } locked; /* guarded by mu */
};

static struct floe_creds_snap *snap_new(struct floe_cred_values *v, uint64_t gen)
{
    struct floe_creds_snap *s = floe_xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->access_key_id = v->access_key_id;
    s->secret_access_key = v->secret_access_key;
    s->session_token = v->session_token;
    s->expiration = v->expiration;
    s->gen = gen;
    memset(v, 0, sizeof(*v)); /* the strings moved into the snapshot */
    return s;
}

void floe_creds_snap_release(struct floe_creds_snap *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    struct floe_cred_values v = {s->access_key_id, s->secret_access_key, s->session_token, 0};
    floe_cred_values_free(&v);
    free(s);
}

struct floe_creds_snap *floe_credentials_acquire(struct floe_credentials *p)
{
    pthread_mutex_lock(&p->mu);
    struct floe_creds_snap *s = p->locked.cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&p->mu);
    return s;
}

int64_t floe_credentials_margin_s(void)
{
    const char *v = getenv("FLOE_CREDENTIALS_REFRESH_MARGIN_S");
    if (v && *v) {
        char *end;
        long long m = strtoll(v, &end, 10);
        if (!*end && m >= 0 && m <= 86400)
            return m;
    }
    return 600;
}

int64_t floe_credentials_due(int64_t fetched_at, int64_t expiration, int64_t margin)
{
    int64_t due = expiration - margin;
    int64_t half = fetched_at + (expiration - fetched_at) / 2;
    if (due < half)
        due = half;
    if (due < fetched_at + 5)
        due = fetched_at + 5;
    return due;
}

static void wait_until_locked(struct floe_credentials *p, int64_t when)
{
    struct timespec ts = {.tv_sec = (time_t)when, .tv_nsec = 0};
    pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

/* One refresh, called with mu held; returns with mu held. */
static void refresh_locked(struct floe_credentials *p)
{
    p->locked.fetching = true;
    p->locked.force = false;
    uint64_t gen = p->locked.cur->gen;
    int64_t exp = p->locked.cur->expiration;
    pthread_mutex_unlock(&p->mu);
    struct floe_cred_values v = {0};
    struct floe_error err = {0};
    int rc = floe_cred_source_fetch(p->src, &v, &err);
    int64_t now = (int64_t)time(NULL);
    if (rc == FLOE_OK && v.expiration && v.expiration <= now) {
        floe_cred_values_free(&v); /* no better than what we have: try again later */
        rc = FLOE_E_AUTH;
    }
    pthread_mutex_lock(&p->mu);
    p->locked.fetching = false;
    if (rc == FLOE_OK) {
        struct floe_creds_snap *old = p->locked.cur;
        p->locked.cur = snap_new(&v, gen + 1);
        p->locked.fetches++;
        p->locked.fetched_at = now;
        p->locked.retry_at = 0;
        floe_creds_snap_release(old);
    } else {
        int64_t left = exp > now ? exp - now : 0;
        int64_t delay = left / 8 < 5 ? 5 : left / 8 > 60 ? 60 : left / 8;
        p->locked.retry_at = now + delay;
    }
    pthread_cond_broadcast(&p->cv);
}

static void *refresh_main(void *arg)
{
    struct floe_credentials *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->locked.stop) {
        const struct floe_creds_snap *cur = p->locked.cur;
        int64_t now = (int64_t)time(NULL);
        if (!p->locked.force && cur->expiration == 0) {
            pthread_cond_wait(&p->cv, &p->mu); /* keys that never expire: only on request */
            continue;
        }
        int64_t due = now;
        if (!p->locked.force) {
            due = floe_credentials_due(p->locked.fetched_at, cur->expiration, p->margin_s);
            if (p->locked.retry_at > due)
                due = p->locked.retry_at;
        }
        if (due > now) {
            wait_until_locked(p, due);
            continue;
        }
        refresh_locked(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

bool floe_credentials_expired(struct floe_credentials *p, uint64_t gen)
{
    pthread_mutex_lock(&p->mu);
    if (p->thread_started && p->locked.cur->gen == gen) {
        p->locked.force = true;
        pthread_cond_broadcast(&p->cv);
        int64_t deadline = (int64_t)time(NULL) + 30;
        while (p->locked.cur->gen == gen && !p->locked.stop &&
               (p->locked.force || p->locked.fetching) && (int64_t)time(NULL) < deadline)
            wait_until_locked(p, deadline);
    }
    bool newer = p->locked.cur->gen != gen;
    pthread_mutex_unlock(&p->mu);
    return newer;
}

static struct floe_credentials *provider_new(struct floe_cred_source *src,
                                             struct floe_cred_values *first)
{
    struct floe_credentials *p = floe_xcalloc(1, sizeof(*p));
    p->src = src;
    p->margin_s = floe_credentials_margin_s();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->locked.cur = snap_new(first, 1);
    p->locked.fetches = 1;
    p->locked.fetched_at = (int64_t)time(NULL);
    if (src && src->kind != FLOE_CRED_STATIC)
        p->thread_started = pthread_create(&p->thread, NULL, refresh_main, p) == 0;
    return p;
}

int floe_credentials_new_chain(const struct floe_credentials_options *opts,
                               struct floe_credentials **out, struct floe_error *err)
{
    struct floe_cred_source *src = NULL;
    int rc = floe_cred_source_resolve(opts, &src, err);
    if (rc)
        return rc;
    struct floe_cred_values v = {0};
    rc = floe_cred_source_fetch(src, &v, err);
    if (rc == FLOE_OK && v.expiration && v.expiration <= (int64_t)time(NULL)) {
        floe_cred_values_free(&v);
        rc = floe_error_set(err, FLOE_E_AUTH, "%s: the credentials it gave have already expired",
                            src->desc);
    }
    if (rc) {
        floe_cred_source_free(src);
        return rc;
    }
    *out = provider_new(src, &v);
    return FLOE_OK;
}

int floe_credentials_new_static(const char *access_key_id, const char *secret_access_key,
                                const char *session_token, struct floe_credentials **out,
                                struct floe_error *err)
{
    if (!access_key_id || !*access_key_id || !secret_access_key || !*secret_access_key)
        return floe_error_set(err, FLOE_E_AUTH,
                              "no AWS credentials: an access key id and a secret access key are "
                              "both needed");
    struct floe_cred_values v = {
        floe_xstrdup(access_key_id), floe_xstrdup(secret_access_key),
        session_token && *session_token ? floe_xstrdup(session_token) : NULL, 0};
    *out = provider_new(NULL, &v);
    return FLOE_OK;
}

void floe_credentials_destroy(struct floe_credentials *p)
{
    if (!p)
        return;
    if (p->thread_started) {
        pthread_mutex_lock(&p->mu);
        p->locked.stop = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    floe_creds_snap_release(p->locked.cur);
    floe_cred_source_free(p->src);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void floe_credentials_describe(struct floe_credentials *p, struct floe_credentials_info *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->mu);
    snprintf(out->source, sizeof(out->source), "%s", p->src ? p->src->desc : "given keys");
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", p->locked.cur->access_key_id);
    out->expiration = p->locked.cur->expiration;
    out->fetches = p->locked.fetches;
    pthread_mutex_unlock(&p->mu);
}

int floe_credentials_check(struct floe_credentials *p, const char *region,
                           struct floe_caller_identity *out, struct floe_error *err)
{
    struct floe_creds_snap *s = floe_credentials_acquire(p);
    struct floe_cred_values keys = {s->access_key_id, s->secret_access_key, s->session_token,
                                    s->expiration};
    /* keys borrowed from s; the chain's TLS settings (a provider of given keys has none) */
    int rc = floe_cred_fetch_identity(region, p->src ? &p->src->tls : NULL, &keys, out, err);
    floe_creds_snap_release(s);
    return rc;
}
