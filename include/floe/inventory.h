/*
 * floe/inventory.h - streaming parsers for vault inventories (the output of an inventory
 * retrieval job), JSON and CSV (docs/glacier-api.md 4.4), in constant memory.
 *
 * Bytes are fed in chunks of any size; each archive is handed to a callback as soon as its
 * record is complete, and then forgotten. Memory is bounded by the longest single field
 * (capped at FLOE_INVENTORY_FIELD_MAX), never by the number of archives, so a 1,000,000-archive
 * inventory parses with the same memory as a 10-archive one.
 *
 * JSON: {"VaultARN":..., "InventoryDate":..., "ArchiveList":[{"ArchiveId":...,
 * "ArchiveDescription":
 * ..., "CreationDate":..., "Size":N, "SHA256TreeHash":...}, ...]}; keys in any order, unknown
 * keys skipped (any value shape), full JSON syntax checked.
 * CSV: a header row naming the columns (ArchiveId, ArchiveDescription, CreationDate, Size,
 * SHA256TreeHash in any order), fields optionally double-quoted, a quote inside a quoted field
 * escaped as \" (a backslash is not escaped), lines ending in \n or \r\n.
 */
#ifndef FLOE_INVENTORY_H
#define FLOE_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"
#include "floe/treehash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_INVENTORY_FIELD_MAX ((size_t)1 << 20) /* longest string / field accepted */

enum floe_inventory_format {
    FLOE_INVENTORY_AUTO = 0, /* decide from the first non-blank byte: '{' JSON, else CSV */
    FLOE_INVENTORY_JSON = 1,
    FLOE_INVENTORY_CSV = 2,
};

/* One archive. Strings are borrowed: valid only during the callback. */
struct floe_inventory_archive {
    const char *archive_id;
    const char *description;   /* "" when absent */
    const char *creation_date; /* "" when absent */
    uint64_t size;
    bool has_tree_hash;
    uint8_t tree_hash[FLOE_HASH_BYTES];
    /* Where the record lies in the bytes fed to this parser: offset is its first byte (JSON:
     * its '{'; CSV: the first byte of its row), end one past its last ('}' or the line break;
     * the end of the input for a last row without one). Used to cut ranges (invrange.h). */
    uint64_t offset, end;
};

/* Called once per archive, in file order, on the feeding thread; non-zero stops parsing
 * (feed then returns FLOE_E_CANCELLED). */
typedef int floe_inventory_fn(const struct floe_inventory_archive *a, void *user);

struct floe_inventory_summary {
    enum floe_inventory_format format; /* the one parsed */
    uint64_t archives;
    uint64_t total_size_bytes;
    char vault_arn[400];     /* JSON only; "" otherwise */
    char inventory_date[40]; /* JSON only */
};

struct floe_inventory_parser;

/*
 * floe_inventory_parser_new() - a parser for one document.
 * fn       IN: required; user is passed to it.
 * Returns  a new parser (never NULL). Free with floe_inventory_parser_destroy().
 * Threads  one parser is used by one thread at a time.
 */
FLOE_API struct floe_inventory_parser *floe_inventory_parser_new(enum floe_inventory_format format,
                                                                 floe_inventory_fn *fn, void *user);

/*
 * floe_inventory_parser_feed() - parse the next n bytes.
 * Returns  FLOE_OK; FLOE_E_CORRUPT (malformed document: the message has the byte offset and
 *          what was expected; the parser is then unusable); FLOE_E_CANCELLED (fn stopped it).
 */
FLOE_API int floe_inventory_parser_feed(struct floe_inventory_parser *p, const void *data, size_t n,
                                        struct floe_error *err);

/*
 * floe_inventory_parser_finish() - end of input: checks the document is complete.
 * out      OUT: written only on FLOE_OK.
 * Returns  FLOE_OK or FLOE_E_CORRUPT (truncated document, no CSV header, ...).
 */
FLOE_API int floe_inventory_parser_finish(struct floe_inventory_parser *p,
                                          struct floe_inventory_summary *out,
                                          struct floe_error *err);

/*
 * floe_inventory_parser_summary() - the summary so far (archives, bytes, and the VaultARN and
 * InventoryDate if already read), for a parse that is stopped before the end of the document.
 * Threads: as the parser.
 */
FLOE_API void floe_inventory_parser_summary(const struct floe_inventory_parser *p,
                                            struct floe_inventory_summary *out);

/* floe_inventory_parser_destroy() - free; NULL is fine. */
FLOE_API void floe_inventory_parser_destroy(struct floe_inventory_parser *p);

/*
 * floe_inventory_parse_file() - parse a whole file (or "-" for stdin) through a parser, reading
 * 1 MiB at a time. Returns as feed/finish, or FLOE_E_IO (unreadable: path named).
 */
FLOE_API int floe_inventory_parse_file(const char *path, enum floe_inventory_format format,
                                       floe_inventory_fn *fn, void *user,
                                       struct floe_inventory_summary *out, struct floe_error *err);

#ifdef __cplusplus
}
#endif

#endif
