/*
 * selrun.h - one select query over one slice of CSV input (docs/select.md 3): the reader
 * (selcsv.h) feeding the evaluator (seleval.h), output gathered and handed to a flush callback
 * in pieces of about FLOE_SELRUN_FLUSH_BYTES, and the first runtime error kept as the run's
 * error. Also the header step shared by every caller: where the first record (the header of
 * FileHeaderInfo USE / IGNORE) ends, and its fields.
 *
 * Threads: a run belongs to one thread; runs of one query on different threads are independent
 * (the query is read-only).
 */
#ifndef FLOE_CORE_SELRUN_H
#define FLOE_CORE_SELRUN_H

#include "selcsv.h"
#include "selsql.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOE_SELRUN_FLUSH_BYTES ((size_t)1 << 20)

enum floe_selrun_header {
    FLOE_SELRUN_HEADER_NONE = 0,
    FLOE_SELRUN_HEADER_USE,
    FLOE_SELRUN_HEADER_IGNORE
};

/* Output bytes data[0..len) (borrowed). Return 0, or non-zero to stop the run (an I/O error:
 * set the message with floe_selrun_fail first). */
typedef int floe_selrun_flush_fn(void *ud, const char *data, size_t len);

struct floe_selrun;

/* A run of q (bound; borrowed, must outlive the run). in/out copied. records_before: records of
 * the input before this slice (floe_selcsv_scan_state.records), so messages number records
 * from the start of the archive. Never NULL. */
struct floe_selrun *floe_selrun_new(const struct floe_selsql_query *q,
                                    const struct floe_selcsv_in *in,
                                    const struct floe_selcsv_out *out, int64_t now_us,
                                    uint64_t records_before, floe_selrun_flush_fn *flush, void *ud);
void floe_selrun_destroy(struct floe_selrun *r);

/* Feed input bytes (borrowed), in order. Returns 0, or -1 once the run failed (see
 * floe_selrun_error); later calls return -1 at once. */
int floe_selrun_feed(struct floe_selrun *r, const char *data, size_t len);

/* End of the slice: the last record, then the last output flushed. Returns as feed. */
int floe_selrun_finish(struct floe_selrun *r);

/* Record the run's failure (the first one wins); for flush callbacks. */
void floe_selrun_fail(struct floe_selrun *r, const char *msg);

/* The failure message, or NULL while the run has not failed. Valid until destroy. */
const char *floe_selrun_error(const struct floe_selrun *r);

/* Whether the input fed so far ended at a record end (floe_selcsv_at_record_start); ask before
 * floe_selrun_finish. */
bool floe_selrun_at_record_start(const struct floe_selrun *r);

/* Counters: records read (in this slice), rows written, output bytes handed to flush. */
void floe_selrun_counts(const struct floe_selrun *r, uint64_t *records, uint64_t *rows,
                        uint64_t *bytes_out);

/*
 * floe_selrun_header() - find the first record of data[0..len) (the start of the input;
 * comment lines before it are skipped).
 * end     OUT: offset just past it (len when it has no record delimiter).
 * fields  OUT: a heap array of its fields, each p a heap copy; free with
 *         floe_selrun_header_free(fields, n). NULL/0 when data holds no record.
 * Returns 0, or -1 when the header is longer than FLOE_SELCSV_MAX_RECORD.
 */
int floe_selrun_header(const struct floe_selcsv_in *in, const char *data, size_t len, size_t *end,
                       struct floe_selcsv_field **fields, size_t *n);
void floe_selrun_header_free(struct floe_selcsv_field *fields, size_t n);

#endif
