/*
 * mcat.h - the migration catalog: one SQLite database per migration (vault -> destination)
 * holding the plan and the state of every archive (docs/migrate.md, "The catalog").
 *
 * Schema (version 1):
 *   meta(k PRIMARY KEY, v)          vault, destination, tier, fingerprint (the options the plan
 *                                   was made with), inventory_job_id, inventory_date, planned
 *   arch(ord PRIMARY KEY, id UNIQUE, base, name, size, tree, created, description, state,
 *        job_id, job_done, attempts, reason, sha256, updated, upload_id, mine)
 *                                   one row per selected archive, ord = inventory order; base
 *                                   is the name before duplicates were told apart; job_done the
 *                                   job's completion (unix seconds); tree and sha256 hex
 *   names(id PRIMARY KEY, name)     the --names file
 *   daily(day, tier, bytes, jobs)   retrieval requested per UTC day and tier (quota, cost)
 *   runs(started PRIMARY KEY, seconds, bytes)   time and bytes copied per run
 * WAL, synchronous=FULL: a state change is on disk before the next step acts on it.
 *
 * A writable catalog holds flock(LOCK_EX) on "<path>.lock" while open: a second run of the same
 * migration is refused with the pid of the first. Readers (status) need no lock.
 *
 * With a postgresql:// URI the same API runs on the PostgreSQL backend (mcat_pg.h): N workers
 * share one plan, each row claimed with a lease; the states and transitions are the same.
 *
 * Ownership: the handle owns its connection and lock. Threads: one thread at a time.
 */
#ifndef FLOE_ENGINE_MIGRATE_MCAT_H
#define FLOE_ENGINE_MIGRATE_MCAT_H

#include <stdbool.h>
#include <stdint.h>

#include "floe/error.h"
#include "floe/jobs.h"
#include "floe/migrate.h"
#include "mname.h"

struct floe_mcat;

/* One archive's row. */
struct floe_mcat_row {
    int64_t ord;
    char id[FLOE_JOB_ID_MAX];
    char name[FLOE_MNAME_CAP];
    char created[40];
    uint64_t size;
    char tree[65];
    enum floe_migrate_state state;
    char job_id[FLOE_JOB_ID_MAX];
    int64_t job_done;
    int attempts;
    char reason[600];
    char sha256[65];
};

#define FLOE_MCAT_DEFAULT_LEASE_S 60u /* PostgreSQL: how long a claim outlives its worker */

/* The catalog is a PostgreSQL URI (postgresql:// or postgres://). */
bool floe_mcat_is_url(const char *catalog);

/*
 * floe_mcat_open() - open (create when create is set, with its directory) the catalog at path:
 * a SQLite file, or a postgresql:// URI (the PostgreSQL backend, mcat_pg.h: shared by many
 * workers, rows claimed with leases of lease_s seconds; local is then the local file path the
 * manifest, inventory and staging are named after, NULL for the URL without its password).
 * readonly: no lock, no schema change. Returns FLOE_OK, FLOE_E_NOT_FOUND (missing, !create),
 * FLOE_E_IO (in use by another run: the message names its pid; unwritable), FLOE_E_CORRUPT
 * (not a database or damaged: the message says so and that it was not changed).
 */
int floe_mcat_open(const char *path, const char *local, unsigned lease_s, bool create,
                   bool readonly, struct floe_mcat **out, struct floe_error *err);
void floe_mcat_close(struct floe_mcat *c);

/* The plan is in place: the other workers may go on (PostgreSQL: releases the planning lock
 * a writable open took, so workers starting at once plan once). */
int floe_mcat_ready(struct floe_mcat *c, struct floe_error *err);

/* The first failure of the catalog's database, copied into err (FLOE_OK when none). Functions
 * that return rows or counts report none after a failure: check this after them. */
int floe_mcat_check(struct floe_mcat *c, struct floe_error *err);

/* What messages call the catalog: its path, or its URL without the password (borrowed). */
const char *floe_mcat_name(const struct floe_mcat *c);

/* Transactions around many writes (the plan). */
int floe_mcat_begin(struct floe_mcat *c, struct floe_error *err);
int floe_mcat_commit(struct floe_mcat *c, struct floe_error *err);

/* Rolls back the open transaction (after a failure; nothing to report). */
void floe_mcat_rollback(struct floe_mcat *c);

/* Removes the archive rows and names of an unfinished plan, and arch's indexes but the
 * archive id's until floe_mcat_plan_loaded(). */
int floe_mcat_clear_plan(struct floe_mcat *c, struct floe_error *err);
/* floe_mcat_plan_loaded() - every archive of a plan inserted (after floe_mcat_clear_plan()
 * and the inserts, before anything looks rows up): builds the indexes the clear dropped so the
 * load did not have to grow them row by row. */
int floe_mcat_plan_loaded(struct floe_mcat *c, struct floe_error *err);

/* meta: get into out ("" when absent; returns false), set. */
bool floe_mcat_meta_get(struct floe_mcat *c, const char *key, char *out, size_t cap);
int floe_mcat_meta_set(struct floe_mcat *c, const char *key, const char *value,
                       struct floe_error *err);

/* The S3 multipart upload in progress of an archive ("" when none); set "" to clear. */
bool floe_mcat_get_upload(struct floe_mcat *c, int64_t ord, char *out, size_t cap);
int floe_mcat_set_upload(struct floe_mcat *c, int64_t ord, const char *upload_id,
                         struct floe_error *err);

/* The archive's description as the inventory gave it. */
bool floe_mcat_description(struct floe_mcat *c, int64_t ord, char *out, size_t cap);

/* The --names override table. */
int floe_mcat_name_put(struct floe_mcat *c, const char *id, const char *name,
                       struct floe_error *err);
bool floe_mcat_name_get(struct floe_mcat *c, const char *id, char out[FLOE_MNAME_CAP]);

/* A planned archive (state PLANNED); mine: of this worker's shard (the others are kept only
 * until names are told apart, so every shard names every archive alike). */
int floe_mcat_insert(struct floe_mcat *c, const struct floe_mcat_row *r, const char *description,
                     bool mine, struct floe_error *err);

/* Removes the other shards' rows (after floe_mcat_dedup); their count and bytes. */
int floe_mcat_drop_others(struct floe_mcat *c, uint64_t *archives, uint64_t *bytes,
                          struct floe_error *err);

/*
 * floe_mcat_dedup() - names shared by several archives get "." + their creation date before
 * the extension; names still shared (same second) then get "." + the archive id. *renamed:
 * how many rows changed. Returns FLOE_OK or the database's failure.
 */
int floe_mcat_dedup(struct floe_mcat *c, uint64_t *renamed, struct floe_error *err);

/*
 * floe_mcat_set() - move r to state to, writing r's job_id, job_done, attempts, reason and
 * sha256 with it (the one function that writes a state). An illegal transition is a bug and
 * aborts naming both states. r->state becomes to on FLOE_OK.
 */
int floe_mcat_set(struct floe_mcat *c, struct floe_mcat_row *r, enum floe_migrate_state to,
                  struct floe_error *err);

/* The first row (by ord) in state s with ord > after; false when none. */
bool floe_mcat_next(struct floe_mcat *c, enum floe_migrate_state s, int64_t after,
                    struct floe_mcat_row *out);
/* The row of an archive id / of a job id when it is in state s; false when none is. (With a
 * shared catalog the row is claimed, so only the state the caller acts on may be asked for: a
 * row claimed and left alone would stay this worker's, its lease renewed, until it ends.) */
bool floe_mcat_by_id(struct floe_mcat *c, const char *archive_id, enum floe_migrate_state s,
                     struct floe_mcat_row *out);
bool floe_mcat_by_job(struct floe_mcat *c, const char *job_id, enum floe_migrate_state s,
                      struct floe_mcat_row *out);
/* Whether any row has job id job_id (nothing claimed). */
bool floe_mcat_has_job(struct floe_mcat *c, const char *job_id);

/* The catalog's path (borrowed). */
const char *floe_mcat_path(const struct floe_mcat *c);

/* Archives larger than limit bytes. */
uint64_t floe_mcat_count_over(struct floe_mcat *c, uint64_t limit);

/* S3 requests to store every archive: one PutObject up to chunk bytes, else the parts with
 * Create and Complete (the chunk is not doubled here: an estimate). */
uint64_t floe_mcat_s3_requests(struct floe_mcat *c, uint64_t chunk);

/* Per state counts and bytes. */
void floe_mcat_counts(struct floe_mcat *c, uint64_t archives[FLOE_MIGRATE_STATE_COUNT],
                      uint64_t bytes[FLOE_MIGRATE_STATE_COUNT]);

/* Every row in order (ord, or name when by_name), states_mask (bit per state; 0 = all); fn
 * non-zero stops. */
int floe_mcat_each(struct floe_mcat *c, unsigned states_mask, bool by_name,
                   int (*fn)(const struct floe_mcat_row *r, void *user), void *user,
                   struct floe_error *err);

/* daily: bytes requested today (UTC) over every tier; add a job. */
uint64_t floe_mcat_today_bytes(struct floe_mcat *c);
int floe_mcat_add_job(struct floe_mcat *c, const char *tier, uint64_t bytes,
                      struct floe_error *err);
/* Totals of the daily table for one tier (all days). */
void floe_mcat_jobs_total(struct floe_mcat *c, const char *tier, uint64_t *jobs, uint64_t *bytes);

/* runs: record this run's time and bytes so far (started = the run's start, unix seconds). */
int floe_mcat_run_record(struct floe_mcat *c, int64_t started, double seconds, uint64_t bytes,
                         struct floe_error *err);
void floe_mcat_runs_total(struct floe_mcat *c, double *seconds, uint64_t *bytes);

#endif
