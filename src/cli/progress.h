/*
 * progress.h - transfer progress on stderr: bytes, rate, ETA, in MiB and MiB/s (or, after
 * floe_progress_set_unit(), a count of things: "12000 / 50000 archives (24%), 2143/s").
 * On a terminal: one status line redrawn at most 5 times per second. Otherwise (a log, a
 * pipe, --log-file): a timestamped line through log.h every 10 s (the first after 1 s) naming
 * the file, so unattended runs show they are alive. Nothing with --quiet or --json.
 * Several transfers (threads) report into one line.
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
/* The name shown (a file; copied). Without one the verb alone is shown. */
void floe_progress_set_name(struct floe_progress_line *pl, const char *name);
/* Count things instead of bytes: amounts are shown as numbers followed by noun ("archives"; a
 * static string, not copied), the rate per second. Call before the first update. */
void floe_progress_set_unit(struct floe_progress_line *pl, const char *noun);
/* What was done before this line started (a resumed run): the amount shown counts it, the rate
 * and ETA only what is done after. Call before the first update. */
void floe_progress_set_base(struct floe_progress_line *pl, uint64_t done_before);
/* Clears the line (before printing results). */
void floe_progress_clear(struct floe_progress_line *pl);
void floe_progress_destroy(struct floe_progress_line *pl);

#endif
