/*
 * mtglacier.h - mt-aws-glacier's public formats: its journal (record versions A, B, C and the
 * older space-separated one; CREATED, DELETED, RETRIEVE_JOB records), its "mt2" archive
 * descriptions (decode and encode; "mt1" decode), and importing a journal into a floe catalog.
 * The formats, and how floe reads them, are described in docs/mtglacier-format.md.
 *
 * Parsing streams: each record is handed to a callback as soon as its line is read, then
 * forgotten; memory is one line. A malformed line is reported with its 1-based line number.
 * Threads: every function uses only its arguments; different calls may run on different threads.
 */
#ifndef FLOE_ENGINE_BACKUP_MTGLACIER_H
#define FLOE_ENGINE_BACKUP_MTGLACIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "floe/error.h"
#include "floe/treehash.h"

#define FLOE_MTGLACIER_DESC_MAX 1024      /* longest description mt-aws-glacier writes or reads */
#define FLOE_MTGLACIER_LINE_MAX (1 << 20) /* longer journal lines are malformed */

enum floe_mtglacier_version {
    FLOE_MTGLACIER_V0 = 0, /* the older space-separated format (no version letter) */
    FLOE_MTGLACIER_VA = 1,
    FLOE_MTGLACIER_VB = 2,
    FLOE_MTGLACIER_VC = 3,
    FLOE_MTGLACIER_VERSION_COUNT
};
extern const char *const floe_mtglacier_version_names[FLOE_MTGLACIER_VERSION_COUNT];

enum floe_mtglacier_type {
    FLOE_MTGLACIER_CREATED = 0,
    FLOE_MTGLACIER_DELETED = 1,
    FLOE_MTGLACIER_RETRIEVE_JOB = 2,
    FLOE_MTGLACIER_TYPE_COUNT
};
extern const char *const floe_mtglacier_type_names[FLOE_MTGLACIER_TYPE_COUNT];

/* One journal record. Strings are borrowed: valid only during the callback. */
struct floe_mtglacier_record {
    uint64_t line; /* 1-based line number */
    enum floe_mtglacier_version version;
    enum floe_mtglacier_type type;
    int64_t time;           /* when mt-aws-glacier wrote the record, seconds since the epoch */
    const char *archive_id; /* non-empty, no white space */
    /* CREATED only: */
    uint64_t size_bytes;
    bool has_mtime; /* false: B/C "NONE", version A's "no mtime" case, the old format */
    int64_t mtime;  /* the file's mtime, seconds since the epoch */
    uint8_t tree_hash[FLOE_HASH_BYTES];
    /* CREATED and DELETED: relative path, '/'-separated, valid UTF-8, no "." or ".." parts */
    const char *filename;
    /* RETRIEVE_JOB: the job id ("" in the old format, which did not record it) */
    const char *job_id;
};

/* A record; non-zero stops parsing (which then returns FLOE_E_CANCELLED). */
typedef int floe_mtglacier_record_fn(const struct floe_mtglacier_record *r, void *user);

/*
 * A malformed line: reason is a sentence without the line number ("CREATED has a size that is
 * not a number"), borrowed for the call. Return 0 to skip the line and go on, non-zero to stop:
 * parsing then returns FLOE_E_CORRUPT with the message "journal NAME line N: reason".
 */
typedef int floe_mtglacier_malformed_fn(uint64_t line, const char *reason, void *user);

struct floe_mtglacier_parse_stats {
    uint64_t lines;
    uint64_t records[FLOE_MTGLACIER_TYPE_COUNT];
    uint64_t malformed;                              /* lines skipped by on_malformed */
    uint64_t versions[FLOE_MTGLACIER_VERSION_COUNT]; /* records per format version */
};

struct floe_mtglacier_parse {
    floe_mtglacier_record_fn *on_record;       /* required */
    floe_mtglacier_malformed_fn *on_malformed; /* NULL: the first malformed line stops */
    void *user;
    struct floe_mtglacier_parse_stats stats; /* OUT: filled as parsing goes */
};

/*
 * floe_mtglacier_parse_file() - read the journal at path, line by line, in constant memory.
 * Returns FLOE_OK, FLOE_E_CORRUPT (a malformed line stopped it; the message names path and line),
 * FLOE_E_CANCELLED (on_record stopped it), FLOE_E_IO (cannot read path; errno saved).
 * p: IN/OUT (the callbacks in, stats out); borrowed for the call.
 */
int floe_mtglacier_parse_file(const char *path, struct floe_mtglacier_parse *p,
                              struct floe_error *err);

/*
 * floe_mtglacier_parse_buffer() - the same over len bytes in memory (name is used in messages).
 * The bytes are not changed (lines are copied to a scratch buffer).
 */
int floe_mtglacier_parse_buffer(const void *data, size_t len, const char *name,
                                struct floe_mtglacier_parse *p, struct floe_error *err);

/*
 * floe_mtglacier_mt2_encode() - the description mt-aws-glacier writes for a file:
 * "mt2 " + base64url (no padding) of the UTF-8 JSON {"filename":..., "mtime":"YYYYMMDDTHHMMSSZ"}.
 * filename: relative, valid UTF-8 (FLOE_E_INVALID_ARG otherwise); mtime: seconds, years 1000 to
 * 9999 (FLOE_E_RANGE). The result must fit FLOE_MTGLACIER_DESC_MAX characters (FLOE_E_RANGE,
 * as mt-aws-glacier refuses longer ones) and cap bytes with its NUL (FLOE_E_INVALID_ARG).
 */
int floe_mtglacier_mt2_encode(const char *filename, int64_t mtime, char *out, size_t cap,
                              struct floe_error *err);

/*
 * floe_mtglacier_mt2_decode() - the file name and mtime in an "mt2 " (or the older,
 * double-encoded "mt1 ") description. Returns FLOE_OK (filename: NUL-terminated, at most
 * FLOE_MTGLACIER_DESC_MAX bytes with its NUL; *mtime in seconds), FLOE_E_NOT_FOUND (not an
 * mt1/mt2 description at all: another program's archive; err not written) or FLOE_E_CORRUPT (the
 * marker is there but what follows is not valid base64url, JSON, a relative UTF-8 name or a
 * time; the message says which).
 */
int floe_mtglacier_mt2_decode(const char *description, char filename[FLOE_MTGLACIER_DESC_MAX],
                              int64_t *mtime, struct floe_error *err);

struct floe_mtglacier_import_stats {
    uint64_t lines;
    uint64_t archives_added;   /* CREATED records recorded */
    uint64_t archives_known;   /* CREATED records already in the catalog (a second import) */
    uint64_t archives_deleted; /* DELETED records applied */
    uint64_t retrieve_jobs;    /* RETRIEVE_JOB records (not recorded: they expire in a day) */
};

/*
 * floe_catalog_import_mtglacier() - import an mt-aws-glacier journal into catalog c, in ONE
 * transaction: all of it or nothing. CREATED adds an archive (kind file, the mt2 description of
 * its name and mtime, created at the record's time) and the file row of its content (path =
 * path_prefix + the journal's relative filename, size, mtime, tree hash; the archive's whole
 * range, uncompressed); a later CREATED of the same name supersedes the earlier (journal order).
 * A CREATED whose archive id is already in the catalog is skipped (importing twice is harmless).
 * DELETED marks the archive deleted at the record's time and its current file removed.
 * RETRIEVE_JOB is counted only. path_prefix may be NULL ("").
 * Returns FLOE_OK (stats filled if non-NULL), FLOE_E_CORRUPT (a malformed line, or a DELETED of
 * an archive neither the journal before it nor the catalog has; the message names the line;
 * nothing imported), FLOE_E_INVALID_ARG (a transaction is open on c), FLOE_E_IO, or a catalog
 * error. Threads: c's thread.
 */
int floe_catalog_import_mtglacier(struct floe_catalog *c, const char *journal_path,
                                  const char *path_prefix,
                                  struct floe_mtglacier_import_stats *stats,
                                  struct floe_error *err);

#endif
