/*
 * checkpoint.h - writing resume journals (the read-only side is <floe/checkpoint.h>).
 *
 * One journal per transfer. It is created once the transfer knows what it is (for an upload,
 * usually right after Initiate Multipart Upload; the upload id may also be appended later with
 * floe_journal_set_upload_id(), and `floe retrieve` appends the job id as soon as Initiate Job
 * returns). Every confirmed part / segment is appended with floe_journal_append_part() and
 * made durable (fdatasync) before the call returns, unless batching was asked for. A finished
 * transfer appends COMPLETE and, unless the user keeps it, removes the file.
 *
 * Threads: a journal has one writer. Calls on one struct floe_journal must not overlap; the
 * orchestrating thread of the transfer (not the curl transfer stage) is the only caller.
 * Distinct journals are independent.
 */
#ifndef FLOE_ENGINE_CHECKPOINT_H
#define FLOE_ENGINE_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/checkpoint.h"
#include "floe/error.h"

struct floe_journal; /* opaque; an open journal file positioned for appending */

struct floe_journal_options {
    unsigned sync_every; /* fdatasync after this many records; 0 or 1 = after every record
                            (the default; anything else is for benchmarks) */
    bool no_sync;        /* never fdatasync (tests and benchmarks only) */
    bool overwrite;      /* create: replace an existing file instead of failing */
};

/*
 * floe_journal_create() - write a new journal holding only the header record, durably: it is
 * written to "<path>.tmp", synced, then linked into place and the directory synced, so path
 * either does not exist or holds a complete header.
 * hdr      IN: copied. kind must be set; strings must fit their arrays (they do if they came
 *          from this header type). created_unix_ns 0 = now.
 * opts     IN: may be NULL (defaults).
 * out      OUT: set only on FLOE_OK; close with floe_journal_destroy().
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (bad kind, string not NUL-terminated in its array);
 *          FLOE_E_CHECKPOINT (path exists and overwrite is false: message says to resume or
 *          remove it); FLOE_E_IO (errno and path saved).
 */
int floe_journal_create(const char *path, const struct floe_ckpt_header *hdr,
                        const struct floe_journal_options *opts, struct floe_journal **out,
                        struct floe_error *err);

/*
 * floe_journal_open() - open an existing journal to resume: replay it, cut off a torn final
 * record (truncate + sync, so later appends follow the last valid record), and position for
 * appending.
 * out      OUT: set only on FLOE_OK; close with floe_journal_destroy().
 * state    OUT: may be NULL; else set only on FLOE_OK to the replayed state (torn_tail tells
 *          whether a torn record was dropped); free with floe_checkpoint_state_free().
 * Returns  as floe_checkpoint_load(); a corrupt journal is left untouched.
 */
int floe_journal_open(const char *path, const struct floe_journal_options *opts,
                      struct floe_journal **out, struct floe_ckpt_state **state,
                      struct floe_error *err);

/*
 * floe_journal_set_upload_id() / floe_journal_set_job_id() - append an UPLOAD_ID / JOB_ID
 * record (the id became known after the journal was created). The last one wins on replay.
 * Returns  FLOE_OK; FLOE_E_INVALID_ARG (empty or longer than FLOE_CKPT_NAME_MAX - 1);
 *          FLOE_E_IO / FLOE_E_CHECKPOINT as floe_journal_append_part().
 */
int floe_journal_set_upload_id(struct floe_journal *j, const char *upload_id,
                               struct floe_error *err);
int floe_journal_set_job_id(struct floe_journal *j, const char *job_id, struct floe_error *err);

/*
 * floe_journal_append_part() - record one confirmed part (upload journal: PART_DONE) or
 * segment (download journal: SEGMENT_DONE); durable when this returns (see sync_every).
 * part     IN: copied.
 * Returns  FLOE_OK; FLOE_E_IO (write or fdatasync failed: errno saved; the file is cut back to
 *          its last complete record, so the journal stays valid and the part simply counts as
 *          unconfirmed); FLOE_E_CHECKPOINT (an earlier failure could not be cut back, or the
 *          journal is already complete: no more appends).
 */
int floe_journal_append_part(struct floe_journal *j, const struct floe_ckpt_part *part,
                             struct floe_error *err);

/*
 * floe_journal_mark_complete() - append COMPLETE: the transfer finished and was verified.
 * archive_id  IN: upload: the archive id from Complete Multipart Upload; download: NULL or "".
 * tree_hash   IN: 32 bytes, the whole archive / output tree hash.
 * Returns  as floe_journal_append_part(). Always synced (sync_every does not apply).
 */
int floe_journal_mark_complete(struct floe_journal *j, const char *archive_id, uint64_t size_bytes,
                               const uint8_t tree_hash[FLOE_CKPT_HASH_BYTES],
                               struct floe_error *err);

/* floe_journal_sync() - fdatasync now (for sync_every > 1). Returns FLOE_OK or FLOE_E_IO. */
int floe_journal_sync(struct floe_journal *j, struct floe_error *err);

/* floe_journal_path() - the journal's path; valid until floe_journal_destroy(). */
const char *floe_journal_path(const struct floe_journal *j);

/*
 * floe_journal_destroy() - sync pending records (errors ignored: every appended record that
 * mattered was synced when its append returned) and close. The file stays. NULL is fine.
 */
void floe_journal_destroy(struct floe_journal *j);

/*
 * floe_journal_remove() - delete a journal file (after success) and sync its directory.
 * Returns  FLOE_OK (also when it does not exist) or FLOE_E_IO.
 */
int floe_journal_remove(const char *path, struct floe_error *err);

/*
 * floe_checkpoint_default_path() - where a journal lives when the user names none:
 * $XDG_CACHE_HOME/floe (else ~/.cache/floe, else /tmp/floe-UID), created 0700 if missing,
 * file "<kind>-<16 hex digits of xxh3-64(key)>.ckpt". The key identifies the transfer (endpoint,
 * account, vault, and the source or output), so running the same command again finds it.
 * Returns FLOE_OK or FLOE_E_IO (the directory cannot be created; message names it).
 * Threads: safe from any thread.
 */
int floe_checkpoint_default_path(const char *kind, const char *key, size_t key_len, char *out,
                                 size_t cap, struct floe_error *err);

#endif
