/*
 * floe/invrange.h - an inventory (the output of an inventory retrieval job) read in parallel
 * byte ranges and parsed as the ranges arrive, records handed over in file order.
 *
 * The document of S bytes is cut into ranges of R bytes: range i nominally covers
 * [i*R, min((i+1)*R, S)) and is read as [i*R - 1, min((i+1)*R + O, S)): one byte before it (so a
 * CSV row starting exactly at i*R is seen to follow a line break) and O bytes of overlap after
 * it. A record belongs to the range its first byte lies in (JSON: its '{'; CSV: the first byte
 * of its row). Each range skips the partial record at its start and finishes the record that
 * straddles its end inside the overlap, so every record is handed over exactly once. O must be
 * at least the longest record (FLOE_INVRANGE_DEFAULT_OVERLAP: see below); a record that does not
 * end inside the overlap stops the parse with a clear error, never a skipped archive.
 *
 * Where a range's first record starts is found without the bytes before it: JSON, the next
 * `{"ArchiveId":` (blanks allowed around the key), which cannot occur inside a JSON string
 * (there a quote is escaped); CSV, the byte after the next line break. Each range is parsed
 * from there by the streaming parser of floe/inventory.h (so its syntax is fully checked), on a
 * worker thread. That start is then confirmed in file order: it must be exactly where the
 * record after the previous range's last record starts, which the previous range found by
 * parsing from a known state. When it is not (a CSV description holding a line break, a record
 * whose first key is not ArchiveId), the range is parsed again from the confirmed start on the
 * calling thread (counted in reparsed): slower, never wrong.
 *
 * Verification: inventories carry no tree hash on AWS or on floe-vault (docs/glacier-api.md
 * 3.4), so nothing is skipped here; a range whose answer does carry x-amz-sha256-tree-hash is
 * checked against it, and a job that publishes a SHA256TreeHash is not read this way (see
 * floe_invrange_usable(): such a job goes through the verified download of floe/retrieve.h).
 */
#ifndef FLOE_INVRANGE_H
#define FLOE_INVRANGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/inventory.h"
#include "floe/jobs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_INVRANGE_DEFAULT_RANGE ((uint64_t)8 << 20) /* 8 MiB, MiB-aligned ranges */
#define FLOE_INVRANGE_DEFAULT_CONCURRENCY 4u
/*
 * The longest JSON record floe-vault or AWS writes: an ArchiveId of 138 characters, a
 * description of at most 1,024 printable ASCII characters that JSON may escape up to 6 bytes
 * each (\u00XX), a date, a 20-digit size, a 64-digit tree hash and the keys: under 6,600 bytes;
 * 4 KiB of keys and ids plus 6 x 1,024 = 10,240 bytes; 16 KiB leaves room for unknown keys.
 * A CSV row is shorter (a quote is written \", 2 bytes).
 */
#define FLOE_INVRANGE_DEFAULT_OVERLAP ((uint64_t)16 << 10)
#define FLOE_INVRANGE_MIN_RANGE ((uint64_t)256)

/*
 * Reads up to cap bytes of the document at offset into buf (the bytes read go in *got; fewer
 * than cap only at the end of the document) and the document's size into *total.
 * Returns FLOE_OK or a status with err filled. Called from several threads at once.
 */
typedef int floe_invrange_read_fn(void *ctx, uint64_t offset, uint8_t *buf, size_t cap, size_t *got,
                                  uint64_t *total, struct floe_error *err);

struct floe_invrange_options {
    enum floe_inventory_format format; /* AUTO: '{' first is JSON, else CSV */
    uint64_t range_size;  /* R; 0 = $FLOE_INVENTORY_RANGE_SIZE or the default; >= MIN_RANGE */
    unsigned concurrency; /* ranges read at once; 0 = $FLOE_INVENTORY_RANGE_CONCURRENCY or 4 */
    uint64_t overlap;     /* O; 0 = $FLOE_INVENTORY_RANGE_OVERLAP or the default */
    atomic_bool *cancel;  /* optional: set to stop (FLOE_E_CANCELLED) */
};

struct floe_invrange_stats {
    uint64_t size;        /* the document's bytes */
    uint64_t bytes_read;  /* bytes read, overlaps included */
    unsigned ranges;      /* ranges read */
    unsigned reparsed;    /* ranges parsed again from the confirmed start */
    unsigned concurrency; /* threads used */
    uint64_t range_size, overlap;
};

/*
 * floe_invrange_parse() - reads the document through read(ctx, ...) in ranges and hands each
 * archive to fn(a, user) once, in file order, on the calling thread (the a->offset / a->end
 * fields are absolute offsets in the document).
 * sum      OUT: as floe_inventory_parser_finish(); written only on FLOE_OK.
 * stats    OUT: optional.
 * Returns  FLOE_OK; FLOE_E_CORRUPT (malformed document, or a record longer than the overlap:
 *          the message names the byte offset); FLOE_E_CANCELLED (fn returned non-zero, or
 *          cancel); read()'s failure; FLOE_E_INVALID_ARG (a range size under MIN_RANGE).
 * Threads  read and parse run on up to concurrency worker threads, joined before return.
 */
FLOE_API int floe_invrange_parse(const struct floe_invrange_options *opts,
                                 floe_invrange_read_fn *read, void *ctx, floe_inventory_fn *fn,
                                 void *user, struct floe_inventory_summary *sum,
                                 struct floe_invrange_stats *stats, struct floe_error *err);

/* floe_invrange_parse_file() - floe_invrange_parse() of a local file (pread). FLOE_E_IO names
 * a file that cannot be opened or read. */
FLOE_API int floe_invrange_parse_file(const char *path, const struct floe_invrange_options *opts,
                                      floe_inventory_fn *fn, void *user,
                                      struct floe_inventory_summary *sum,
                                      struct floe_invrange_stats *stats, struct floe_error *err);

/* floe_invrange_usable() - whether job's output may be read in ranges: a succeeded inventory
 * job that publishes no SHA256TreeHash (one that does is downloaded verified instead). */
FLOE_API bool floe_invrange_usable(const struct floe_job_info *job);

/*
 * floe_invrange_download() - floe_invrange_parse() of a succeeded inventory job's output,
 * read with ranged GetJobOutput requests through client (its retries apply to each range).
 * The first range also tells the output's size (Content-Range), so a description without
 * InventorySizeInBytes is fine. An endpoint that ignores Range (moto answers 200 with the
 * whole output) is read whole once, into memory, and the ranges are parsed from there.
 * Returns as floe_invrange_parse(), and FLOE_E_SERVICE when a range comes back short;
 * FLOE_E_CHECKSUM when a range's x-amz-sha256-tree-hash does not match its bytes.
 * Threads  as floe_invrange_parse(); the client is shared.
 */
FLOE_API int floe_invrange_download(struct floe_client *client, const char *vault,
                                    const char *job_id, const struct floe_invrange_options *opts,
                                    floe_inventory_fn *fn, void *user,
                                    struct floe_inventory_summary *sum,
                                    struct floe_invrange_stats *stats, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
