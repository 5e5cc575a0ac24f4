/*
 * policy.h - the part of IAM policy evaluation floe-vault enforces: a vault lock policy's
 * Deny statements for glacier:DeleteArchive / glacier:DeleteVault (the "lock's deletion
 * rules"), including the glacier:ArchiveAgeInDays numeric conditions that compliance locks
 * use. Access policies are stored and returned but, like the rest of IAM, not enforced.
 *
 * Threads: safe from any thread; the _locked functions need floe_vdb_lock().
 */
#ifndef FLOE_VAULT_POLICY_H
#define FLOE_VAULT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct floe_vserver;

/*
 * floe_vpolicy_denies() - does policy_json deny action for an archive created at
 * archive_created_ms (-1: not an archive action) at now_ms?
 * why      OUT: the reason when true.
 * Evaluated: Statement (object or array) with Effect "Deny", Action or NotAction (string or
 * array; IAM wildcards '*' and '?', case-insensitive: "glacier:Delete*"), and Condition operators
 * NumericLessThan / NumericLessThanEquals / NumericGreaterThan / NumericGreaterThanEquals on
 * "glacier:ArchiveAgeInDays". A statement with any other condition key does not apply (fail open,
 * like an unknown key in IAM).
 */
bool floe_vpolicy_denies(const char *policy_json, const char *action, int64_t archive_created_ms,
                         int64_t now_ms, char *why, size_t why_cap);

/* A vault's lock as GetVaultLock shows it. */
struct floe_vlock {
    bool vault;                /* the vault exists */
    char *policy, *state, *id; /* malloc'd; all NULL when there is no live lock */
    int64_t created_ms, expires_ms;
};

/*
 * floe_vpolicy_lock_load_locked() - the lock of vault into l: a Locked lock, or an InProgress
 * one that has not expired (an expired InProgress lock counts as none). Lock held (the
 * database's). Free with floe_vpolicy_lock_free().
 */
void floe_vpolicy_lock_load_locked(struct floe_vserver *srv, const char *vault,
                                   struct floe_vlock *l);

/* floe_vpolicy_lock_free() - free the strings of l (not l itself). */
void floe_vpolicy_lock_free(struct floe_vlock *l);

/* floe_vpolicy_lock_denies_locked() - the same for the vault's current lock policy
 * (InProgress and unexpired, or Locked). Lock held. */
bool floe_vpolicy_lock_denies_locked(struct floe_vserver *srv, const char *vault,
                                     const char *action, int64_t archive_created_ms, char *why,
                                     size_t why_cap);

/* floe_vpolicy_valid() - a policy document: a JSON object with a Statement member.
 * Returns true, or false with the reason in why. */
bool floe_vpolicy_valid(const char *policy_json, char *why, size_t why_cap);

#endif
