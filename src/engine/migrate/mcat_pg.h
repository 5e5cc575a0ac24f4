/*
 * mcat_pg.h - the PostgreSQL backend of the migration catalog (mcat.h): N workers on N machines
 * share one plan in one database (docs/migrate.md, "Many workers on one PostgreSQL catalog").
 * Only mcat.c calls it; each function is the backend of the floe_mcat_ function of the same
 * name and has its contract, plus what is said here.
 *
 * Schema: the tables of the SQLite catalog (names and text in bytea so any byte goes through),
 * arch with two more columns, owner (the worker holding the row, '' none) and lease_until;
 * runs keyed by (started, worker).
 *
 * Leases: every row this backend hands out (next, by_id, by_job) is claimed first, in one
 * UPDATE over a SELECT ... FOR UPDATE SKIP LOCKED of the rows nobody holds, this worker holds,
 * or whose lease has expired; a state change is written only while the row is still this
 * worker's, and a row moved to done or failed is released with it. A heartbeat thread (its own
 * connection) renews this worker's leases every third of the lease; close releases them. A worker
 * killed -9 stops renewing: its rows return to the pool when the lease expires (copying rows go
 * back to staged then).
 *
 * Planning: a writable open holds a session advisory lock until floe_mcatpg_ready(), so when
 * several workers start at once one creates the tables and loads the plan and the others wait,
 * then find it planned.
 *
 * Failure: the first database failure is kept (floe_mcatpg_failed); calls that return no status
 * report "nothing" after it, so the caller checks floe_mcat_check().
 *
 * Ownership: the handle owns its connections and the heartbeat thread. Threads: one caller
 * thread at a time (the heartbeat has its own connection).
 */
#ifndef FLOE_ENGINE_MIGRATE_MCAT_PG_H
#define FLOE_ENGINE_MIGRATE_MCAT_PG_H

#include "mcat.h"

struct floe_mcatpg;

/* url: a libpq connection URI; lease_s: lease length (0: FLOE_MCAT_DEFAULT_LEASE_S). */
int floe_mcatpg_open(const char *url, unsigned lease_s, bool create, bool readonly,
                     struct floe_mcatpg **out, struct floe_error *err);
void floe_mcatpg_close(struct floe_mcatpg *p);
const char *floe_mcatpg_name(const struct floe_mcatpg *p);
int floe_mcatpg_ready(struct floe_mcatpg *p, struct floe_error *err);
int floe_mcatpg_failed(struct floe_mcatpg *p, struct floe_error *err);
/* floe_mcat_clear_plan() and floe_mcat_plan_loaded() (mcat.h) of this backend. */
int floe_mcatpg_clear_plan(struct floe_mcatpg *p, struct floe_error *err);
int floe_mcatpg_plan_loaded(struct floe_mcatpg *p, struct floe_error *err);
int floe_mcatpg_exec(struct floe_mcatpg *p, const char *sql, const char *what,
                     struct floe_error *err);
bool floe_mcatpg_meta_get(struct floe_mcatpg *p, const char *key, char *out, size_t cap);
int floe_mcatpg_meta_set(struct floe_mcatpg *p, const char *key, const char *value,
                         struct floe_error *err);
int floe_mcatpg_name_put(struct floe_mcatpg *p, const char *id, const char *name,
                         struct floe_error *err);
bool floe_mcatpg_name_get(struct floe_mcatpg *p, const char *id, char out[FLOE_MNAME_CAP]);
bool floe_mcatpg_get_upload(struct floe_mcatpg *p, int64_t ord, char *out, size_t cap);
int floe_mcatpg_set_upload(struct floe_mcatpg *p, int64_t ord, const char *upload_id,
                           struct floe_error *err);
bool floe_mcatpg_description(struct floe_mcatpg *p, int64_t ord, char *out, size_t cap);
int floe_mcatpg_insert(struct floe_mcatpg *p, const struct floe_mcat_row *r,
                       const char *description, bool mine, struct floe_error *err);
int floe_mcatpg_drop_others(struct floe_mcatpg *p, uint64_t *archives, uint64_t *bytes,
                            struct floe_error *err);
int floe_mcatpg_dedup(struct floe_mcatpg *p, uint64_t *renamed, struct floe_error *err);
int floe_mcatpg_set(struct floe_mcatpg *p, const struct floe_mcat_row *r,
                    enum floe_migrate_state to, struct floe_error *err);
bool floe_mcatpg_next(struct floe_mcatpg *p, enum floe_migrate_state s, int64_t after,
                      struct floe_mcat_row *out);
bool floe_mcatpg_by(struct floe_mcatpg *p, const char *column, const char *value,
                    enum floe_migrate_state s, struct floe_mcat_row *out);
bool floe_mcatpg_has_job(struct floe_mcatpg *p, const char *job_id);
uint64_t floe_mcatpg_count_over(struct floe_mcatpg *p, uint64_t limit);
uint64_t floe_mcatpg_s3_requests(struct floe_mcatpg *p, uint64_t chunk);
void floe_mcatpg_counts(struct floe_mcatpg *p, uint64_t archives[FLOE_MIGRATE_STATE_COUNT],
                        uint64_t bytes[FLOE_MIGRATE_STATE_COUNT]);
int floe_mcatpg_each(struct floe_mcatpg *p, unsigned states_mask, bool by_name,
                     int (*fn)(const struct floe_mcat_row *r, void *user), void *user,
                     struct floe_error *err);
uint64_t floe_mcatpg_today_bytes(struct floe_mcatpg *p);
int floe_mcatpg_add_job(struct floe_mcatpg *p, const char *tier, uint64_t bytes,
                        struct floe_error *err);
void floe_mcatpg_jobs_total(struct floe_mcatpg *p, const char *tier, uint64_t *jobs,
                            uint64_t *bytes);
int floe_mcatpg_run_record(struct floe_mcatpg *p, int64_t started, double seconds, uint64_t bytes,
                           struct floe_error *err);
void floe_mcatpg_runs_total(struct floe_mcatpg *p, double *seconds, uint64_t *bytes);

#endif
