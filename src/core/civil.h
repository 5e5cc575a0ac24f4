/*
 * civil.h - proleptic Gregorian dates <-> days since 1970-01-01 (H. Hinnant's algorithms), for
 * the timestamps floe reads and writes itself (SigV4's "YYYYMMDDTHHMMSSZ", mt-aws-glacier's
 * mt2 mtime) without the C library's time zone state. Pure functions; any thread.
 */
#ifndef FLOE_CORE_CIVIL_H
#define FLOE_CORE_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31; not checked: see floe_civil_valid). */
int64_t floe_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The date of day z (days since 1970-01-01, negative before). */
void floe_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* Whether y-m-d is a real date (month 1..12, day within the month, 29 February in leap years). */
bool floe_civil_valid(int64_t y, unsigned m, unsigned d);

#endif
