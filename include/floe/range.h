/*
 * floe/range.h - Glacier's size and byte-range rules, checked before anything is sent:
 * part sizes, MiB-aligned retrieval ranges, tree-hash-aligned ranges, Content-Range / Range
 * headers, download segments, and human size strings ("64MiB").
 *
 * All ranges are inclusive [first, last], as on the wire. Every function is reentrant and
 * touches only its arguments. Failing checks return FLOE_E_RANGE (or FLOE_E_INVALID_ARG for
 * text that does not parse) with a message that states the rule that was broken.
 */
#ifndef FLOE_RANGE_H
#define FLOE_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_MIB ((uint64_t)1 << 20)
#define FLOE_PART_SIZE_MIN FLOE_MIB
#define FLOE_PART_SIZE_MAX ((uint64_t)4 << 30)
#define FLOE_MAX_PARTS 10000u
#define FLOE_ARCHIVE_MAX (FLOE_PART_SIZE_MAX * FLOE_MAX_PARTS)
#define FLOE_UPLOAD_ARCHIVE_MAX FLOE_PART_SIZE_MAX /* largest single-request upload */

struct floe_byte_range {
    uint64_t first;
    uint64_t last; /* inclusive */
};

/* Length of r in bytes (last - first + 1). */
FLOE_API uint64_t floe_range_len(struct floe_byte_range r);

/* Part size: a power of two MiB from 1 MiB to 4 GiB. */
FLOE_API int floe_range_check_part_size(uint64_t part_size, struct floe_error *err);

/*
 * floe_range_plan_part_size() - the part size for an archive of archive_size bytes.
 * requested 0 picks default_size (itself raised as needed); a non-zero request must be a valid
 * part size, and is raised to the smallest power of two MiB that fits the archive in 10,000
 * parts. Fails when the archive exceeds 10,000 x 4 GiB. *out set only on success.
 */
FLOE_API int floe_range_plan_part_size(uint64_t archive_size, uint64_t requested,
                                       uint64_t default_size, uint64_t *out,
                                       struct floe_error *err);

/* Parts needed for archive_size at part_size (0 bytes -> 0 parts). */
FLOE_API uint64_t floe_range_part_count(uint64_t archive_size, uint64_t part_size);

/* MiB-aligned retrieval range of an archive: first % 1 MiB == 0, last+1 a MiB multiple or
 * last == size-1, first <= last < size. */
FLOE_API int floe_range_check_retrieval(struct floe_byte_range r, uint64_t archive_size,
                                        struct floe_error *err);

/* True when the bytes [first,last] of a payload of total bytes are one node of its tree
 * (docs/glacier-api.md 3.3): a whole aligned block of 2^i leaves, or its tail running to the
 * end. */
FLOE_API bool floe_range_is_tree_aligned(struct floe_byte_range r, uint64_t total);

/* Parse RetrievalByteRange "S-E" (decimal, inclusive, no prefix). */
FLOE_API int floe_range_parse_retrieval(const char *s, struct floe_byte_range *out,
                                        struct floe_error *err);

/* Parse Content-Range "bytes S-E/<star>" or "bytes S-E/TOTAL" (TOTAL ignored). */
FLOE_API int floe_range_parse_content_range(const char *s, struct floe_byte_range *out,
                                            struct floe_error *err);

/*
 * floe_range_parse_http_range() - parse a Range header against a payload of total bytes:
 * "bytes=S-E" (E clamped to total-1), "bytes=S-", "bytes=-N" (last N bytes). Fails when the
 * text is malformed, S > E, or S >= total.
 */
FLOE_API int floe_range_parse_http_range(const char *s, uint64_t total, struct floe_byte_range *out,
                                         struct floe_error *err);

/* A download segment size: a power of two MiB (any size from 1 MiB up to 4 GiB). */
FLOE_API int floe_range_check_segment_size(uint64_t segment_size, struct floe_error *err);

/* Segments of a download of total bytes at segment_size: count, and the index-th one. */
FLOE_API uint64_t floe_range_segment_count(uint64_t total, uint64_t segment_size);
FLOE_API struct floe_byte_range floe_range_segment(uint64_t total, uint64_t segment_size,
                                                   uint64_t index);

/*
 * floe_range_describe() - one line for people: "bytes 0-1048575 (1 MiB; leaves 0-0;
 * tree-hash aligned)" relative to a payload of total bytes. Returns the length snprintf would
 * have written.
 */
FLOE_API size_t floe_range_describe(struct floe_byte_range r, uint64_t total, char *buf,
                                    size_t cap);

/*
 * floe_range_parse_size() - "4096", "64MiB", "64M", "1GiB", "1G", "512KiB", "2TiB" (binary
 * units; K/M/G/T and KiB/MiB/GiB/TiB; case-insensitive; optional trailing 'B'). Rejects
 * negatives, fractions, overflow and trailing junk with a message quoting the text.
 */
FLOE_API int floe_range_parse_size(const char *s, uint64_t *out, struct floe_error *err);

/* floe_range_format_size() - "64 MiB", "1.5 GiB", "17 B"; returns snprintf's length. */
FLOE_API size_t floe_range_format_size(uint64_t bytes, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
