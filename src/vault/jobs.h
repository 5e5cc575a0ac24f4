/*
 * jobs.h - the job scheduler: moves jobs InProgress -> Succeeded/Failed when their tier's
 * delay has passed, builds inventory output, computes retrieval tree hashes from stored leaf
 * hashes, sends completion notifications, and collects garbage (expired jobs and their output,
 * deleted archives no job still serves, idle multipart uploads).
 *
 * Jobs live only in the database (table jobs); the scheduler thread holds no job state, so a
 * restart resumes exactly where the last run stopped.
 *
 * Threads: one scheduler thread. floe_vjobs_kick() and floe_vjobs_complete() are safe from
 * any thread; completing a job twice is harmless (the second call finds it no longer
 * InProgress). Functions marked "lock held" need floe_vdb_lock().
 */
#ifndef FLOE_VAULT_JOBS_H
#define FLOE_VAULT_JOBS_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "floe/error.h"
#include "floe/treehash.h"

struct floe_vserver;
struct floe_vjobs;

/* The columns floe_vjobs_row_json() reads, in order; select exactly these. */
#define FLOE_VJOBS_COLUMNS                                                                         \
    "id, vault, action, archive_id, description, sns_topic, tier, created_ms, status,"             \
    " status_message, completed_ms, range_first, range_last, archive_size, archive_tree_hash,"     \
    " tree_hash, inventory_size, format, inv_start, inv_end, inv_limit, inv_marker,"               \
    " next_marker, select_json, output_path, output_blob"

/* Start the scheduler thread. out: set only on FLOE_OK. */
int floe_vjobs_start(struct floe_vserver *srv, struct floe_vjobs **out, struct floe_error *err);

/* Stop and join the scheduler. NULL is fine. */
void floe_vjobs_stop(struct floe_vjobs *j);

/* Wake the scheduler: a job was added or a deadline changed. */
void floe_vjobs_kick(struct floe_vjobs *j);

/* Complete job_id now if it is still InProgress (takes the database lock itself). */
void floe_vjobs_complete(struct floe_vserver *srv, const char *job_id);

/* Record the outcome of select job job_id, which ran on the select runner (vselect.h): fail
 * NULL or "" for Succeeded, else the status message of a failed job. Takes the lock; posts
 * the notifications. A job no longer InProgress is left alone. */
void floe_vjobs_finish(struct floe_vserver *srv, const char *job_id, const char *fail);

/* Run one scheduler pass at time now_ms (complete due jobs, collect garbage); for tests. */
void floe_vjobs_tick(struct floe_vserver *srv, int64_t now_ms);

/* The DescribeJob JSON of the current row of st (FLOE_VJOBS_COLUMNS). New reference. */
json_t *floe_vjobs_row_json(const struct floe_vserver *srv, sqlite3_stmt *st);

/*
 * floe_vjobs_range_tree_hash() - tree hash of archive bytes [first, last] from the stored
 * 1 MiB leaf hashes of its segments (no data read). first must be MiB-aligned. Lock held.
 * seg_owner, part_size  the archive's row values.
 * Returns  FLOE_OK, or FLOE_E_CORRUPT when leaf hashes are missing.
 */
int floe_vjobs_range_tree_hash(struct floe_vserver *srv, const char *seg_owner, uint64_t part_size,
                               uint64_t first, uint64_t last, uint8_t out[FLOE_HASH_BYTES],
                               struct floe_error *err);

/* Inventory markers: opaque base64url of "<created_ms>:<archive id>". */
void floe_vjobs_marker_encode(int64_t created_ms, const char *archive_id, char *out, size_t cap);
int floe_vjobs_marker_decode(const char *marker, int64_t *created_ms, char *archive_id, size_t cap);

#endif
