/*
 * floe/checkpoint.h - inspect and validate resume journals (checkpoints).
 *
 * A checkpoint is an append-only journal with one self-checking record per event: a header
 * (what is being transferred, where, from which source) followed by one record per part or
 * segment the server has confirmed, ids learnt late (upload id, job id), and a final COMPLETE
 * record. The byte layout is in docs/checkpoint-format.md and in
 * src/engine/pipeline/checkpoint.c.
 *
 * This header is the read-only side: load a journal, look at what it confirms, check that the
 * source file is still the one it describes. Writing journals is internal to libfloe
 * (src/engine/pipeline/checkpoint.h).
 */
#ifndef FLOE_CHECKPOINT_H
#define FLOE_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_CKPT_FORMAT_VERSION 1
#define FLOE_CKPT_HASH_BYTES 32   /* SHA-256 tree hash */
#define FLOE_CKPT_XXH128_BYTES 16 /* xxh3-128, canonical (big-endian) byte order */
#define FLOE_CKPT_SIZE_UNKNOWN UINT64_MAX

/* Size limits of header strings, NUL included. Longer values are rejected on create. */
#define FLOE_CKPT_ENDPOINT_MAX 1024
#define FLOE_CKPT_NAME_MAX 256 /* vault name, ids */
#define FLOE_CKPT_ACCOUNT_MAX 64
#define FLOE_CKPT_PATH_MAX 4096

/* What the journal is for. The name table is floe_checkpoint_kind_name(). */
enum floe_ckpt_kind {
    FLOE_CKPT_UPLOAD = 1,   /* multipart upload: records are PART_DONE */
    FLOE_CKPT_DOWNLOAD = 2, /* job output download: records are SEGMENT_DONE */
};

/* Identity of a local source file, as stat() reports it. */
struct floe_ckpt_source {
    char path[FLOE_CKPT_PATH_MAX]; /* as given by the user ("-" for stdin); may be "" */
    uint64_t size_bytes;           /* FLOE_CKPT_SIZE_UNKNOWN for a stream */
    int64_t mtime_ns;              /* st_mtim in ns since the epoch */
    uint64_t inode;
    uint64_t device; /* recorded for reports; not compared (it may change across remounts) */
};

/*
 * The header: everything needed to resume without the original command line. Fixed-size
 * arrays, so a struct can be copied and lives on the stack; "" means unknown / not applicable.
 */
struct floe_ckpt_header {
    enum floe_ckpt_kind kind;
    uint64_t created_unix_ns;              /* set by floe_journal_create() when 0 */
    char endpoint[FLOE_CKPT_ENDPOINT_MAX]; /* e.g. "http://127.0.0.1:9000" */
    char vault[FLOE_CKPT_NAME_MAX];
    char account_id[FLOE_CKPT_ACCOUNT_MAX];  /* "-" means the credentials' account */
    char upload_id[FLOE_CKPT_NAME_MAX];      /* upload: multipart upload id (may come later) */
    char job_id[FLOE_CKPT_NAME_MAX];         /* download: retrieval job id (may come later) */
    char archive_id[FLOE_CKPT_NAME_MAX];     /* download: archive retrieved; upload: the id
                                                returned by Complete (COMPLETE record) */
    struct floe_ckpt_source source;          /* upload: the file read; download: unused */
    uint64_t part_size_bytes;                /* part (upload) or segment (download) size */
    uint64_t total_size_bytes;               /* download: expected output size; upload: source
                                                size or FLOE_CKPT_SIZE_UNKNOWN (stdin) */
    bool has_tree_hash;                      /* tree_hash is meaningful */
    uint8_t tree_hash[FLOE_CKPT_HASH_BYTES]; /* download: expected tree hash of the output;
                                                upload: set by the COMPLETE record */
    char output_path[FLOE_CKPT_PATH_MAX];    /* download: the file written */
};

/* One confirmed part (upload) or segment (download). */
struct floe_ckpt_part {
    uint64_t index;        /* 0-based part / segment number */
    uint64_t offset_bytes; /* its first byte in the archive / output */
    uint64_t length_bytes;
    uint8_t tree_hash[FLOE_CKPT_HASH_BYTES]; /* as confirmed by the server */
    uint8_t xxh128[FLOE_CKPT_XXH128_BYTES];  /* zero in new journals; checked when non-zero
                                                (downloads) */
};

/* A replayed journal. */
struct floe_ckpt_state {
    struct floe_ckpt_header header; /* with ids from UPLOAD_ID / JOB_ID / COMPLETE records */
    struct floe_ckpt_part *parts;   /* sorted by index, one per index (the last record wins) */
    size_t part_count;
    bool complete;                /* a COMPLETE record was found */
    uint64_t complete_size_bytes; /* from COMPLETE */
    size_t record_count;          /* valid records, header included */
    uint64_t valid_bytes;         /* length of the valid prefix of the file */
    bool torn_tail;               /* an incomplete final record was found (and ignored) */
    uint64_t torn_bytes;          /* its length on disk */
};

/*
 * floe_checkpoint_load() - read and replay a journal without changing it.
 * out      OUT: set only on FLOE_OK; free with floe_checkpoint_state_free().
 * Returns  FLOE_OK (a torn final record is dropped and reported in torn_tail);
 *          FLOE_E_NOT_FOUND (no such file); FLOE_E_IO (unreadable; errno saved);
 *          FLOE_E_CHECKPOINT (not a floe checkpoint, unsupported format version, or the header
 *          record itself is incomplete); FLOE_E_CORRUPT (a record before the last fails its
 *          check: the message names the record number and byte offset; nothing after it is
 *          trusted).
 * Threads  any thread; it only reads the file.
 */
FLOE_API int floe_checkpoint_load(const char *path, struct floe_ckpt_state **out,
                                  struct floe_error *err);

/* floe_checkpoint_state_free() - free a state from load or floe_journal_open(). NULL is fine. */
FLOE_API void floe_checkpoint_state_free(struct floe_ckpt_state *state);

/*
 * floe_checkpoint_find_part() - the confirmed part with this index, or NULL.
 * Returns  a pointer into state (valid until it is freed). O(log n).
 */
FLOE_API const struct floe_ckpt_part *floe_checkpoint_find_part(const struct floe_ckpt_state *s,
                                                                uint64_t index);

/*
 * floe_checkpoint_source_stat() - fill a source identity from fstat(fd), or stat(path) when
 * fd < 0. A block device opened as fd gets its size in bytes; any other non-regular file
 * (pipe, stdin) gets size FLOE_CKPT_SIZE_UNKNOWN.
 * path     IN: copied into out->path (truncation is an error).
 * out      OUT: set only on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_NOT_FOUND; FLOE_E_IO (errno saved); FLOE_E_INVALID_ARG (path too
 *          long).
 */
FLOE_API int floe_checkpoint_source_stat(const char *path, int fd, struct floe_ckpt_source *out,
                                         struct floe_error *err);

/*
 * floe_checkpoint_check_source() - is the file at path (fd if >= 0) still the source the header
 * describes? Compares size, mtime and inode.
 * Returns  FLOE_OK; FLOE_E_SOURCE_CHANGED with a message naming each difference ("size was
 *          1048576 bytes, now 1048577; mtime was ..., now ..."); FLOE_E_NOT_FOUND / FLOE_E_IO
 *          if it cannot be stat'ed; FLOE_E_INVALID_ARG for a header whose source size is
 *          unknown (a stream cannot be checked: the caller must not resume from stdin).
 */
FLOE_API int floe_checkpoint_check_source(const struct floe_ckpt_header *hdr, const char *path,
                                          int fd, struct floe_error *err);

/*
 * floe_checkpoint_source_diff() - does now differ from was in size, mtime or inode? Writes the
 * differences ("size was 1048576 bytes, now 1048577; mtime was ..., now ...") to msg (cap
 * bytes, NUL-terminated, "" when equal). Pure; any thread.
 */
FLOE_API bool floe_checkpoint_source_diff(const struct floe_ckpt_source *was,
                                          const struct floe_ckpt_source *now, char *msg,
                                          size_t cap);

/* floe_checkpoint_xxh128() - xxh3-128 of data[0..n) in canonical byte order, as recorded. */
FLOE_API void floe_checkpoint_xxh128(const void *data, size_t n,
                                     uint8_t out[FLOE_CKPT_XXH128_BYTES]);

/* floe_checkpoint_kind_name() - "upload", "download"; "unknown" otherwise. Static. */
FLOE_API const char *floe_checkpoint_kind_name(enum floe_ckpt_kind kind);

#ifdef __cplusplus
}
#endif

#endif
