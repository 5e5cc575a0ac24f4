/*
 * policy.h - the part of IAM policy evaluation floe-vault enforces, on resource policies only
 * (floe-vault has no IAM user policies: an account's own keys may do everything):
 * - a vault lock policy's Deny statements for glacier:DeleteArchive / glacier:DeleteVault (the
 *   "lock's deletion rules"), including the glacier:ArchiveAgeInDays conditions compliance
 *   locks use, for every caller;
 * - before each request (floe_vpolicy_authorize): a caller of another account than the vault's
 *   needs an Allow of the vault's access policy or lock policy and no Deny in either; the
 *   owner account's callers are refused only by an explicit Deny of the access policy.
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
 * Evaluated as floe_vpolicy_eval() with every Principal and Resource matching (the lock holds
 * for every caller of this vault).
 */
/* What a policy says of one request. */
struct floe_vpolicy_ctx {
    const char *action;   /* "glacier:ListJobs" */
    const char *resource; /* the vault's ARN; NULL: every Resource matches */
    const char *principal_account, *principal_arn; /* the caller (NULL: unknown) */
    bool any_principal;       /* every Principal matches (lock rules apply to all) */
    int64_t archive_age_days; /* glacier:ArchiveAgeInDays; -1: not an archive action */
    const char *const *tag_keys, *const *tag_values; /* the vault's tags: glacier:ResourceTag/K */
    size_t ntags;
    bool secure_transport; /* aws:SecureTransport */
    int64_t now_ms;        /* aws:EpochTime */
};

enum floe_vpolicy_verdict { FLOE_VPOLICY_NONE = 0, FLOE_VPOLICY_ALLOW, FLOE_VPOLICY_DENY };

/*
 * floe_vpolicy_eval() - the verdict of policy_json on ctx: DENY when a Deny statement applies
 * (Deny wins), else ALLOW when an Allow statement applies, else NONE (also for a document
 * that does not parse). A statement applies when its Principal / NotPrincipal ("*", {"AWS":
 * ...} with "*", an account id, "arn:aws:iam::ACCOUNT:root" or the caller's ARN), Action /
 * NotAction (IAM wildcards, case-insensitive), Resource / NotResource (wildcards) and every
 * Condition hold. Condition keys: glacier:ArchiveAgeInDays, glacier:ResourceTag/K (and
 * aws:ResourceTag/K), aws:PrincipalAccount, aws:PrincipalArn, aws:username,
 * aws:SecureTransport, aws:EpochTime; operators String*, Arn*, Numeric*, Bool, Null, with
 * IfExists. An unknown operator or key never holds (an Allow does not grant, a Deny does not
 * deny).
 * sid      OUT: the Sid of the deciding statement ("" when none or no Sid).
 */
enum floe_vpolicy_verdict floe_vpolicy_eval(const char *policy_json,
                                            const struct floe_vpolicy_ctx *ctx, char *sid,
                                            size_t sid_cap);

/* floe_vpolicy_glob() - IAM's wildcard match: '*' any run, '?' one character. */
bool floe_vpolicy_glob(const char *pat, const char *s, bool case_sensitive);

/*
 * floe_vpolicy_authorize() - may rq's caller (rq->caller, rq->account, rq->vault set by
 * floe_vauth_account) run its operation? Takes the database lock.
 * Returns  true, or false after answering 403 AccessDeniedException with IAM's message
 *          ("User: ARN is not authorized to perform: glacier:OP on resource: VAULT_ARN").
 */
struct floe_vreq;
bool floe_vpolicy_authorize(struct floe_vreq *rq);

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
