/*
 * pack.h - the pack container of `floe backup`: many small files in one archive, each as a
 * frame (a small header with its path and metadata, then its bytes, zstd-compressed or
 * stored), and at the end the pack's own index, so a pack explains itself without the catalog
 * and one file can be restored by fetching only its frame's byte range. The byte format is
 * docs/pack-format.md; every multi-byte integer is little-endian; every frame and the index
 * carry an xxh3 so damage is detected, never passed on.
 *
 * Writing streams: frames go to a sink callback as they are made (the backup sends them on as
 * a multipart stream), so a 1 GiB pack never sits in memory; the index (one entry per file) is
 * kept until floe_pack_finish() writes it.
 *
 * Ownership: the writer owns its index and compression context; data passed in is borrowed
 * for the call. Threads: one writer is used by one thread at a time; the reading functions are
 * pure and thread-safe.
 */
#ifndef FLOE_ENGINE_PACK_H
#define FLOE_ENGINE_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/error.h"

#define FLOE_PACK_XXH_BYTES 16

enum floe_pack_compression { FLOE_PACK_STORED = 0, FLOE_PACK_ZSTD = 1 };

/* One file in a pack: what the index says of it, and what the catalog records. */
struct floe_pack_entry {
    const char *path; /* as added (borrowed from the writer/reader until the next call) */
    uint64_t size;    /* the file's bytes */
    int64_t mtime_ns;
    uint32_t mode;
    uint64_t frame_offset;  /* where its frame starts in the pack */
    uint64_t frame_length;  /* header + stored bytes: fetch [frame_offset, +frame_length) */
    uint64_t stored_length; /* bytes of the frame's data (compressed or not) */
    enum floe_pack_compression compression;
    uint8_t xxh128[FLOE_PACK_XXH_BYTES]; /* xxh3-128 of the file's original bytes */
};

/* Receives the pack's bytes in order. Returns FLOE_OK, or a failure (err filled) that makes
 * the writer's call fail with it. */
typedef int floe_pack_sink_fn(void *user, const void *data, size_t len, struct floe_error *err);

struct floe_pack_writer_options {
    floe_pack_sink_fn *sink; /* required */
    void *user;
    int zstd_level;    /* 0: frames stored; 1..19: zstd at that level (a frame that does not
                          shrink is stored anyway, so incompressible data costs no extra space;
                          a frame of 32 KiB or more whose middle 8 KiB do not shrink by 1/32
                          at level 1 is stored without being compressed whole) */
    uint64_t sequence; /* the pack's number in its backup set: in its header and index */
};

struct floe_pack_writer;

/* floe_pack_writer_new() - writes the pack header to the sink. */
int floe_pack_writer_new(const struct floe_pack_writer_options *opts, struct floe_pack_writer **out,
                         struct floe_error *err);

/*
 * floe_pack_add() - one file's frame: path (any bytes but NUL, at most 4,095), metadata, and
 * its size bytes at data (the caller has read them and checked they are one version of the
 * file). out (may be NULL) receives the entry (its path points into the writer's index).
 * Returns FLOE_OK, the sink's failure, or FLOE_E_INVALID_ARG (bad path).
 */
int floe_pack_add(struct floe_pack_writer *w, const char *path, int64_t mtime_ns, uint32_t mode,
                  const void *data, uint64_t size, struct floe_pack_entry *out,
                  struct floe_error *err);

/*
 * A file's frame data made ready apart from the writer: its xxh3-128 and, at a zstd level, the
 * compressed copy (or the decision to store it), exactly as floe_pack_add() would make them.
 * Frames can so be prepared on several threads and written in order by the writer's one
 * thread (floe_pack_add_prepared()); the pack's bytes are the same either way.
 * Ownership: zero-initialise; the frame owns its zstd context and scratch buffer, kept from
 * call to call; free them with floe_pack_frame_free(). data is borrowed: the frame may point
 * at it until it is added. Threads: one frame is used by one thread at a time.
 */
struct floe_pack_frame {
    uint8_t xxh128[FLOE_PACK_XXH_BYTES];
    enum floe_pack_compression compression;
    uint64_t size;          /* the file's bytes */
    uint64_t stored_length; /* the frame's data bytes */
    const void *stored;     /* the frame's data: the caller's bytes or the scratch copy */
    void *cctx;             /* ZSTD_CCtx, made on first use (a caller may lend its own) */
    uint8_t *scratch;       /* private */
    size_t scratch_cap;
};

/* floe_pack_frame_prepare() - hashes data[0..size) and, at zstd_level 1..19, compresses it
 * (the writer's rules: probe, stored if not smaller). Returns FLOE_OK, FLOE_E_INVALID_ARG (no
 * data, bad level) or FLOE_E_NOMEM (no zstd context). Pure apart from f; any thread. */
int floe_pack_frame_prepare(struct floe_pack_frame *f, int zstd_level, const void *data,
                            uint64_t size, struct floe_error *err);

/* floe_pack_frame_free() - the frame's context and scratch (the struct itself is the
 * caller's); the frame is zeroed and may be used again. NULL is fine. */
void floe_pack_frame_free(struct floe_pack_frame *f);

/*
 * floe_pack_add_prepared() - as floe_pack_add(), with the data prepared by
 * floe_pack_frame_prepare() (at the writer's level, so the pack is what floe_pack_add() would
 * have written). f and the data it points at are only read, for the call.
 */
int floe_pack_add_prepared(struct floe_pack_writer *w, const char *path, int64_t mtime_ns,
                           uint32_t mode, const struct floe_pack_frame *f,
                           struct floe_pack_entry *out, struct floe_error *err);

/* floe_pack_bytes() - bytes written to the sink so far (where the next frame will start). */
uint64_t floe_pack_bytes(const struct floe_pack_writer *w);

/* floe_pack_count() - files added so far. */
uint64_t floe_pack_count(const struct floe_pack_writer *w);

/* floe_pack_finish() - the index and the trailer; *total (may be NULL) = the pack's size. The
 * writer accepts nothing after it, nor after a failed call (the pack is then incomplete:
 * FLOE_E_INVALID_ARG). */
int floe_pack_finish(struct floe_pack_writer *w, uint64_t *total, struct floe_error *err);

/* floe_pack_writer_free() - NULL is fine. */
void floe_pack_writer_free(struct floe_pack_writer *w);

/* floe_pack_header_bytes() - the size of the pack header at offset 0 (the first frame starts
 * right after it). */
size_t floe_pack_header_bytes(void);

/*
 * floe_pack_read_header() - checks the pack header (the first floe_pack_header_bytes() bytes of
 * a pack: magic, version, its xxh3) and gives its sequence (sequence may be NULL); tells a pack
 * from any other archive by its first bytes. Returns FLOE_OK or FLOE_E_CORRUPT.
 */
int floe_pack_read_header(const void *header, size_t len, uint64_t *sequence,
                          struct floe_error *err);

/* floe_pack_trailer_bytes() - how many bytes at the end of a pack hold the trailer: read them
 * first to learn where the index is. */
size_t floe_pack_trailer_bytes(void);

/*
 * floe_pack_index_range() - from the trailer (the last floe_pack_trailer_bytes() bytes of a
 * pack of pack_size bytes), the byte range of the index: [*offset, *offset + *length).
 * Returns FLOE_OK or FLOE_E_CORRUPT (bad magic, version, or a range outside the pack).
 */
int floe_pack_index_range(const void *trailer, size_t len, uint64_t pack_size, uint64_t *offset,
                          uint64_t *length, struct floe_error *err);

/* Called once per index entry, in pack order; non-zero stops (and is returned). */
typedef int floe_pack_entry_fn(void *user, const struct floe_pack_entry *e);

/*
 * floe_pack_read_index() - parses the index bytes (checked against their xxh3) and calls fn
 * for every entry. Returns FLOE_OK, fn's value, or FLOE_E_CORRUPT naming what is wrong.
 */
int floe_pack_read_index(const void *index, size_t len, floe_pack_entry_fn *fn, void *user,
                         struct floe_error *err);

/*
 * floe_pack_read_frame() - one frame (its frame_length bytes, as fetched from the pack) back
 * into the file's bytes: the header is checked against e (path, sizes), the data decompressed
 * into dst (e->size bytes of room) and checked against e->xxh128. Returns FLOE_OK, or
 * FLOE_E_CORRUPT / FLOE_E_CHECKSUM naming the path: no unverified byte is reported as good (on
 * a failure dst may hold some bytes; they are not the file).
 */
int floe_pack_read_frame(const void *frame, size_t len, const struct floe_pack_entry *e, void *dst,
                         struct floe_error *err);

/*
 * floe_pack_frame_meta() - the mtime and mode a frame's header records (the catalog keeps the
 * rest of an entry but not the mode), after checking the header's magic and its own checksum.
 * Returns FLOE_OK or FLOE_E_CORRUPT. Pure; any thread.
 */
int floe_pack_frame_meta(const void *frame, size_t len, int64_t *mtime_ns, uint32_t *mode,
                         struct floe_error *err);

/* floe_pack_frame_header_bytes() - the size of a frame's header for a path of path_len bytes
 * (frame_offset + this = where its data starts). */
size_t floe_pack_frame_header_bytes(size_t path_len);

#endif
