/*
 * commit.h - floe-vault's group committer: requests whose data is already written share one
 * fsync of blobs/, one fdatasync per log blob and one SQLite transaction, so N concurrent
 * uploads cost one directory fsync and one WAL fsync instead of N of each (and N small bodies
 * in one log blob one fdatasync instead of N; store_blob.h, "Log blobs"). A body in a file of
 * its own is fdatasync'd by its own request before it queues.
 *
 * Protocol (leader/follower): a request queues its unit of work and waits. If no group is
 * being committed, the first waiting request becomes the leader: it takes every request
 * queued at that moment (those that became ready while the previous group was committing),
 * fdatasyncs each log blob they wrote into, fsyncs blobs/ once if any of them created a file
 * (a blob, or a log never synced before), then under the database lock runs BEGIN,
 * each request's work inside its own SAVEPOINT, and one COMMIT; then it wakes the group with
 * the outcome and hands leadership to the next waiting request. There is no timed window: a
 * lone request commits at once, and under load a group is as large as what arrived during
 * the previous group's fsyncs.
 *
 * Outcomes: a unit whose work fails (a not-found row, a SQL error) is rolled back to its
 * savepoint and gets its own error; the others still commit. If a log or directory sync, BEGIN or
 * COMMIT fails, or a unit's error made SQLite end the whole transaction (SQLITE_FULL, IOERR),
 * every unit in the group fails with FLOE_E_IO and no row of the group remains.
 * floe_vcommit_run() returns FLOE_OK only after the COMMIT that includes the unit returned
 * (WAL fsynced, synchronous=FULL): the caller sends its 2xx only then.
 *
 * Threads: any number of request threads call floe_vcommit_run() at once. The work callback
 * runs on the leader's thread (not necessarily the caller's) with the database lock held
 * inside an open transaction; it may touch only its arg (the caller is blocked until the
 * group is done, so arg stays valid), the database, and nothing that replies or does file
 * I/O. It must not begin, commit or roll back (floe_vdb_begin/commit/end/rollback).
 * Lock order: the committer's mutex is never held while taking the database lock.
 */
#ifndef FLOE_VAULT_COMMIT_H
#define FLOE_VAULT_COMMIT_H

#include <stdbool.h>

#include "floe/error.h"

struct floe_vdb;
struct floe_vblob;
struct floe_vblob_writer;
struct floe_vcommit; /* opaque */

/* The unit of work: database changes only, lock held, inside a transaction. Returns FLOE_OK
 * or an error (in err), after which its changes are rolled back. */
typedef int floe_vcommit_fn(void *arg, struct floe_error *err);

/* floe_vcommit_open() - a committer over db and blobs (borrowed; they outlive it). */
struct floe_vcommit *floe_vcommit_open(struct floe_vdb *db, struct floe_vblob *blobs);

/* floe_vcommit_close() - free; no floe_vcommit_run() may be in progress. NULL is fine. */
void floe_vcommit_close(struct floe_vcommit *gc);

/*
 * floe_vcommit_run() - run fn(arg) in the next group commit and wait for it.
 * blob     the body the rows of fn name (finished: floe_vblob_finish_file()), or NULL when
 *          fn names no new blob. A file of its own was fdatasync'd and closed: its directory
 *          entry is made durable before the COMMIT; a body in a log blob is made durable with
 *          the log's fdatasync (floe_vblob_log_sync()) before the COMMIT.
 * Returns  FLOE_OK once durable; fn's own error; or FLOE_E_IO (in err) when the group's
 *          log or directory sync, BEGIN or COMMIT failed (nothing of fn's work remains).
 */
int floe_vcommit_run(struct floe_vcommit *gc, const struct floe_vblob_writer *blob,
                     floe_vcommit_fn *fn, void *arg, struct floe_error *err);

/* Statistics for logs and tests: groups committed and units in them since open. */
void floe_vcommit_stats(struct floe_vcommit *gc, unsigned long long *groups,
                        unsigned long long *units);

#endif
