/*
 * scrub.h - floe-vault's scrubbing: stored archive bytes checked against the SHA-256 leaf
 * hashes (one per MiB) that every segment row keeps, so bit rot on the disk is found by the
 * server, not only by a client's tree-hash check.
 *
 *   - a background scrubber (--scrub-rate BYTES/s, on by default at a low rate): walks the
 *     segments in row order, reads at most that many bytes a second, wraps around; where it
 *     resumes is kept in settings('scrub-cursor');
 *   - a one-shot pass over everything (`floe-vault scrub --data-dir DIR`), at full speed;
 *   - GetJobOutput (api_jobs.c) checks each MiB it serves with floe_vscrub_check_mib() and
 *     refuses a segment already recorded as damaged.
 * Damage is recorded in the table `damage` (owner, idx: the segment; offset: the first bad byte
 * of the segment's first bad MiB; detail), logged at error level, and counted per vault by
 * DescribeVault (`DamagedArchives`, present when not zero). A segment that is deleted loses its
 * damage rows at the end of the next pass.
 */
#ifndef FLOE_VAULT_SCRUB_H
#define FLOE_VAULT_SCRUB_H

#include "floe/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct floe_vserver;
struct floe_vscrub;

/*
 * floe_vscrub_check_mib() - reads MiB i of a segment that starts at seg_off in fd and holds
 * seg_len bytes into buf (1 MiB), and compares it with leaves[i] (32 bytes each).
 * Returns 0 intact (buf holds its bytes), 1 damaged: *bad is the segment offset of the first
 * unreadable byte or of the damaged MiB, detail says why (a short file, a read error, a hash
 * that differs). Any thread; it only reads fd.
 */
int floe_vscrub_check_mib(int fd, uint64_t seg_off, uint64_t seg_len, uint64_t i,
                          const uint8_t *leaves, uint8_t *buf, uint64_t *bad, char *detail,
                          size_t dn);

/*
 * floe_vscrub_record() - records segment (owner, idx) stored in blob as damaged at offset
 * (detail: why) and logs it at error level. Takes the database lock: call without it.
 * Threads: any.
 */
void floe_vscrub_record(struct floe_vserver *srv, const char *owner, int64_t idx, uint64_t offset,
                        const char *detail);

/* What a pass found (the one-shot command's report). */
struct floe_vscrub_report {
    uint64_t segments, bytes;
    uint64_t damaged; /* segments found damaged in this pass */
};

/* Called for each damaged segment of a one-shot pass (database lock not held). */
typedef void floe_vscrub_damage_fn(const char *vault, const char *archive_id, const char *owner,
                                   int64_t idx, uint64_t offset, const char *detail, void *user);

/* Called after each segment of a one-shot pass with the counts so far. */
typedef void floe_vscrub_progress_fn(const struct floe_vscrub_report *so_far, void *user);

/*
 * floe_vscrub_all() - one pass over every segment of srv (db and blobs open, no HTTP needed),
 * as fast as the disk reads; damage recorded and passed to fn; progress after each segment
 * (either may be NULL). Fills report.
 * Threads: the calling thread; may run beside a serving floe-vault on the same data dir.
 */
void floe_vscrub_all(struct floe_vserver *srv, struct floe_vscrub_report *report,
                     floe_vscrub_damage_fn *fn, floe_vscrub_progress_fn *progress, void *user);

/*
 * floe_vscrub_start() - the background scrubber at srv->cfg.scrub_rate bytes/s (0: *out is
 * NULL, nothing runs). Stop it with floe_vscrub_stop() before the database closes.
 * Returns FLOE_OK or FLOE_E_IO (no thread).
 */
int floe_vscrub_start(struct floe_vserver *srv, struct floe_vscrub **out, struct floe_error *err);

/* floe_vscrub_stop() - stops and joins the scrubber (NULL: nothing). Promptly: it sleeps on a
 * condition variable, never inside a read of more than one MiB. */
void floe_vscrub_stop(struct floe_vscrub *s);

#endif
