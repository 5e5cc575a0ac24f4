/*
 * floe/bwlimit.h - one bandwidth limit for the whole process (`floe --bwlimit`).
 *
 * Every transfer thread of the process (every client, every connection) draws from the same
 * two token buckets, one for bytes sent and one for bytes received, so N connections share
 * the rate instead of getting it N times. The rate may follow a timetable as rclone writes it.
 */
#ifndef FLOE_BWLIMIT_H
#define FLOE_BWLIMIT_H

#include "floe/error.h"

/*
 * floe_bwlimit_set() - install the process-wide limit.
 * spec  IN, copied: NULL, "" or "off" = no limit; a RATE for both directions; "UP:DOWN"
 *       (upload and download rates, either "off"); or a timetable of space-separated
 *       "HH:MM,RATE" entries (also "Mon-HH:MM,RATE" .. "Sun-HH:MM,RATE" for one weekday),
 *       each RATE possibly "UP:DOWN": from each entry's local time on, its rate applies, until
 *       the next entry (the last entry applies before the first: the table wraps around the
 *       day, or the week when any entry names a day). A RATE is a number of bytes per second
 *       with a binary suffix B, K, M, G or T (K = 1024; "10M" = 10 MiB/s); a bare number is
 *       KiB/s, as rclone reads it; "off" or 0 = unlimited.
 * Returns FLOE_OK, or FLOE_E_INVALID_ARG with a message naming the entry and the rule; the
 *         previous limit then stays.
 * Threads any thread; transfers already running pick the new limit up at once.
 */
FLOE_API int floe_bwlimit_set(const char *spec, struct floe_error *err);

#endif
