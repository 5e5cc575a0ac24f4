/*
 * credentials.h - the provider's engine side: snapshots of the current keys for signing, and
 * the refresh after an ExpiredToken answer (the public side is include/floe/credentials.h).
 *
 * Threads: a provider is shared by every thread of a client. The current keys are an immutable
 * reference-counted snapshot swapped under the provider's mutex: a signer takes a reference
 * (floe_credentials_acquire), signs, and releases it, so a request in flight keeps the keys it
 * was signed with while the refresh thread installs new ones for the next attempt.
 */
#ifndef FLOE_ENGINE_CREDENTIALS_H
#define FLOE_ENGINE_CREDENTIALS_H

#include "floe/credentials.h"

#include <stdatomic.h>
#include <stdint.h>

struct floe_creds_snap {
    atomic_int refs;
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL when the keys are not temporary */
    int64_t expiration;  /* Unix seconds; 0 = never */
    uint64_t gen;        /* 1 for the first fetch, +1 per refresh */
};

/* The current keys, with a reference the caller gives back with floe_creds_snap_release().
 * Never NULL. Threads: any; takes the provider's mutex briefly, never waits for a fetch. */
struct floe_creds_snap *floe_credentials_acquire(struct floe_credentials *p);
void floe_creds_snap_release(struct floe_creds_snap *s);

/*
 * floe_credentials_expired() - the service answered ExpiredToken to keys of generation gen:
 * refresh now unless a newer generation is already in place, and wait for it (at most ~30 s).
 * Returns true when newer keys are in place (worth one more attempt). Threads: any (the
 * transfer thread calls it, which stalls its other requests for the length of one fetch: this
 * happens only when a refresh was missed).
 */
bool floe_credentials_expired(struct floe_credentials *p, uint64_t gen);

/* The refresh margin in seconds: FLOE_CREDENTIALS_REFRESH_MARGIN_S, else 600. */
int64_t floe_credentials_margin_s(void);

/* When keys fetched at fetched_at and expiring at expiration are due for refresh: margin
 * seconds before they expire, but no earlier than half their remaining life (short-lived keys
 * are not refetched in a loop), and not sooner than 5 s after the fetch. */
int64_t floe_credentials_due(int64_t fetched_at, int64_t expiration, int64_t margin);

#endif
