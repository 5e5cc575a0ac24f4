/*
 * seleval.h - the row evaluator of select jobs (docs/select.md 1.3): runs a bound query
 * (selsql.h) over one CSV record at a time and appends the selected rows as output CSV.
 *
 * Three-valued logic: a comparison with NULL is NULL, NOT NULL is NULL, NULL AND FALSE is
 * FALSE, NULL OR TRUE is TRUE, and WHERE keeps a row only when the condition is TRUE. A field
 * past the end of a record is NULL; an empty field is the empty string. A CSV field compared
 * with or computed against a number (or timestamp, or bool) is read as one; a field that does
 * not read as one makes that comparison or operation NULL. A failed CAST, a division by zero
 * or an integer overflow is a runtime error that stops the query.
 *
 * Threads: an evaluator belongs to one thread; many evaluators may share one query.
 */
#ifndef FLOE_CORE_SELEVAL_H
#define FLOE_CORE_SELEVAL_H

#include "selcsv.h"
#include "selsql.h"

#include <stddef.h>
#include <stdint.h>

struct floe_seleval;

/*
 * floe_seleval_new() - an evaluator of q (borrowed, bound, must outlive it) writing rows with
 * the characters of out (copied, defaults applied). now_us is UTCNOW() for the whole query
 * (microseconds since the epoch), so every worker of one job agrees. Never NULL.
 */
struct floe_seleval *floe_seleval_new(const struct floe_selsql_query *q,
                                      const struct floe_selcsv_out *out, int64_t now_us);

/* Free ev. NULL is fine. */
void floe_seleval_destroy(struct floe_seleval *ev);

/*
 * floe_seleval_row() - evaluate record f[0..n) (borrowed); when WHERE holds, append the
 * projected row (a CSV record) to buf. record_no is for messages.
 * Returns 1 when the row was written, 0 when WHERE dropped it, -1 on a runtime error with msg
 * naming it, the record number and the position in the expression (buf unchanged).
 */
int floe_seleval_row(struct floe_seleval *ev, const struct floe_selcsv_field *f, size_t n,
                     uint64_t record_no, struct floe_selcsv_buf *buf, char *msg, size_t cap);

/* ISO 8601 text of a timestamp at its precision ("2007-02-23T12:14:33.079-08:00"); cap >= 40. */
void floe_seleval_ts_format(const struct floe_selsql_ts *t, char *out, size_t cap);

/* Parse an ISO 8601 timestamp (YYYY[T], YYYY-MM[T], YYYY-MM-DD[T], YYYY-MM-DDThh:mm[:ss[.f]]
 * with Z or +-hh:mm, Z when absent). Returns 0, or -1 when s[0..len) is not one. */
int floe_seleval_ts_parse(const char *s, size_t len, struct floe_selsql_ts *out);

#endif
