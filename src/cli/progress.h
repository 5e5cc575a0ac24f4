/*
 * progress.h - one status line on a terminal (stderr) for transfers: bytes, MB/s, ETA.
 * Prints nothing when stderr is not a terminal, with --quiet or --json. Several transfers
 * (threads) report into one line; updates are rate-limited to 5 per second.
 * Threads: every function is safe from any thread.
 */
#ifndef FLOE_CLI_PROGRESS_H
#define FLOE_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct floe_progress_line;

/* slots: number of concurrent transfers that will report. enabled false = silent. */
struct floe_progress_line *floe_progress_new(const char *verb, unsigned slots, bool enabled);
/* Transfer `slot` has done/total bytes (total UINT64_MAX = unknown). */
void floe_progress_update(struct floe_progress_line *pl, unsigned slot, uint64_t done,
                          uint64_t total);
/* Clears the line (before printing results). */
void floe_progress_clear(struct floe_progress_line *pl);
void floe_progress_destroy(struct floe_progress_line *pl);

#endif
