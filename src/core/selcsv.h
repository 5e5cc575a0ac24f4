/*
 * selcsv.h - CSV for select jobs (docs/select.md): a streaming record reader with the
 * InputSerialization.csv options, a boundary scanner that finds where records end (to split
 * an archive across workers), and the writer of OutputSerialization.csv records.
 *
 * The reader is push-based: feed it any slices of the input in order and it calls back once
 * per record with the record's fields; it never holds more than one record (at most
 * FLOE_SELCSV_MAX_RECORD bytes), so memory does not grow with the input.
 *
 * Threads: a reader or writer belongs to one thread at a time; distinct objects are
 * independent. The scanner is a pure function of its state.
 */
#ifndef FLOE_CORE_SELCSV_H
#define FLOE_CORE_SELCSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest record a select job accepts (the service's limit: 1 MiB). */
#define FLOE_SELCSV_MAX_RECORD ((size_t)1 << 20)

/* The input characters; zero fields mean the service's defaults (see floe_selcsv_in_defaults). */
struct floe_selcsv_in {
    char record_delim; /* '\n'; with '\n' a "\r\n" pair also ends a record */
    char field_delim;  /* ',' */
    char quote;        /* '"' */
    char quote_escape; /* '"': inside quotes, this char followed by quote is a literal quote */
    char comments;     /* 0: none; a record whose first char is this one is skipped */
};

/* Fill the unset members of in with the defaults. */
void floe_selcsv_in_defaults(struct floe_selcsv_in *in);

/* One field of a record: bytes [p, p + len) owned by the reader, valid during the callback. */
struct floe_selcsv_field {
    const char *p;
    size_t len;
};

/*
 * floe_selcsv_record_fn - one record. fields[0..n) borrowed until the callback returns.
 * Return 0 to go on, non-zero to stop the reader (floe_selcsv_feed returns that value).
 */
typedef int floe_selcsv_record_fn(void *ud, const struct floe_selcsv_field *fields, size_t n);

struct floe_selcsv_reader;

/* A reader with the characters of in (copied; defaults applied). Never NULL (aborts on OOM). */
struct floe_selcsv_reader *floe_selcsv_reader_new(const struct floe_selcsv_in *in);

/* Free r. NULL is fine. */
void floe_selcsv_reader_destroy(struct floe_selcsv_reader *r);

/*
 * floe_selcsv_feed() - parse data[0..len) (borrowed), calling fn for each complete record.
 * Returns 0; the callback's non-zero value (parsing stops); or -1 when a record grows over
 * FLOE_SELCSV_MAX_RECORD (then floe_selcsv_record_no() is the record's number).
 */
int floe_selcsv_feed(struct floe_selcsv_reader *r, const char *data, size_t len,
                     floe_selcsv_record_fn *fn, void *ud);

/*
 * floe_selcsv_finish() - end of input: a last record without a record delimiter is delivered
 * (an unclosed quote ends with the input). Returns as floe_selcsv_feed. The reader may then be
 * fed again as a fresh input.
 */
int floe_selcsv_finish(struct floe_selcsv_reader *r, floe_selcsv_record_fn *fn, void *ud);

/* The 1-based number of the record being read or last delivered (comments not counted). */
uint64_t floe_selcsv_record_no(const struct floe_selcsv_reader *r);

/* Whether everything fed so far ended at a record end: no byte of a record or comment line is
 * pending (the state a fresh reader starts in). A caller that split an input at a guessed
 * boundary checks it there: true exactly when the boundary is a record end of the input. */
bool floe_selcsv_at_record_start(const struct floe_selcsv_reader *r);

/*
 * The boundary scanner: the reader's quote and comment state without its fields. Start with
 * a zeroed struct (the start of a record); floe_selcsv_scan() moves over data[0..len) and
 * returns the offset just past the first record end at or after `from`, or len when there is
 * none in the slice (the state then covers the whole slice, so scanning the next slice with
 * from 0 goes on). A record end is an unquoted record delimiter outside a comment line.
 */
struct floe_selcsv_scan_state {
    int state;        /* private; 0 = at the start of a record */
    uint64_t records; /* records ended so far (not comment lines, not empty lines) */
};
size_t floe_selcsv_scan(const struct floe_selcsv_in *in, struct floe_selcsv_scan_state *st,
                        const char *data, size_t len);

/* Output characters and quoting; zero fields mean the defaults, as for input. */
enum floe_selcsv_quote_fields { FLOE_SELCSV_ASNEEDED = 0, FLOE_SELCSV_ALWAYS };
struct floe_selcsv_out {
    char record_delim; /* '\n' */
    char field_delim;  /* ',' */
    char quote;        /* '"' */
    char quote_escape; /* '"' */
    enum floe_selcsv_quote_fields quote_fields;
};
void floe_selcsv_out_defaults(struct floe_selcsv_out *out);

/* A growable byte buffer (the writer's output). Zero-initialise; free with floe_selcsv_buf_free. */
struct floe_selcsv_buf {
    char *p;
    size_t len, cap;
};
void floe_selcsv_buf_put(struct floe_selcsv_buf *b, const char *p, size_t n);
/* Room for n more bytes after b->len (the caller then writes them and advances len). */
void floe_selcsv_buf_reserve(struct floe_selcsv_buf *b, size_t n);
void floe_selcsv_buf_free(struct floe_selcsv_buf *b);

/*
 * floe_selcsv_write_field() - append one field to b: the field delimiter first unless first,
 * quoted per out (ASNEEDED: only when it holds the field or record delimiter, the quote or escape
 * character, '\r' or '\n'), quote characters inside escaped with quote_escape.
 * floe_selcsv_write_end() appends the record delimiter. b grows (aborts on OOM).
 */
void floe_selcsv_write_field(struct floe_selcsv_buf *b, const struct floe_selcsv_out *out,
                             bool first, const char *p, size_t n);
void floe_selcsv_write_end(struct floe_selcsv_buf *b, const struct floe_selcsv_out *out);

#endif
