/*
 * pack.c - the pack container: writer (frames streamed to a sink, the index at the end) and
 * the pure readers (trailer -> index range, index -> entries, frame -> verified bytes). The
 * byte format, and every rule a reader enforces, is docs/pack-format.md; the offsets below are
 * the same.
 *
 *   pack header (32)  0 magic "FLOEPACK" | 8 u32 version 1 | 12 u32 0 | 16 u64 sequence |
 *                     24 u64 xxh3-64 of bytes 0..23
 *   frame (64 + path + data)
 *                     0 "FLFR" | 4 u16 path_len | 6 u8 compression | 7 u8 0 | 8 u64 size |
 *                     16 i64 mtime_ns | 24 u32 mode | 28 u32 0 | 32 u64 stored_length |
 *                     40 xxh3-128 (canonical) | 56 u64 xxh3-64 of bytes 0..55 + path |
 *                     64 path | 64 + path_len data
 *   index             0 "FLOEINDX" | 8 u32 version 1 | 12 u32 0 | 16 u64 sequence |
 *                     24 u64 count | 32 records | len - 8: u64 xxh3-64 of everything before
 *   record (64 + path)
 *                     0 frame_offset | 8 frame_length | 16 stored_length | 24 size |
 *                     32 mtime_ns | 40 u32 mode | 44 u8 compression | 45 u8 0 |
 *                     46 u16 path_len | 48 xxh3-128 | 64 path
 *   trailer (48)      0 index_offset | 8 index_length | 16 count | 24 u32 version 1 |
 *                     28 u32 0 | 32 u64 xxh3-64 of bytes 0..31 | 40 "FLOEPEND"
 * All little-endian.
 *
 * DESIGN
 * The writer never holds a frame's bytes beyond the call that adds it: the header goes to the
 * sink, then the data, either the caller's buffer or the compressed copy in the writer's
 * scratch buffer. Compression is tried into a buffer one byte smaller than the file, so a frame
 * that would not shrink fails fast with "destination too small" and is stored; the scratch
 * buffer is as large as the largest file added. A frame of 32 KiB or more is first probed: an
 * 8 KiB sample from its middle, compressed at level 1, must save at least 1/32 of itself, or
 * the frame is stored without trying the whole at the writer's level. Already-compressed
 * files (media, archives: most large incompressible data) then cost the writer one fast
 * pass over 8 KiB instead of a full pass at a slow level (docs/performance.md, "Pack
 * writer"); the price is that a file whose middle is incompressible but whose rest is not is
 * stored. The index is kept as one small record per
 * file (paths in an arena of 64 KiB blocks, so entry paths handed out stay valid) and streamed
 * to the sink in 64 KiB pieces by floe_pack_finish(), hashed as it goes. After a sink failure
 * the pack is incomplete and the writer refuses further calls. A frame's data can also be
 * prepared (hashed, compressed) apart from the writer on any thread (struct floe_pack_frame:
 * its own zstd context and scratch) and added in order later; floe_pack_add() is prepare +
 * add on the writer's own frame.
 */
#include "pack.h"

#include "alloc.h"

#include <xxhash.h>
#include <zstd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PACK_VERSION 1
#define HEADER_BYTES 32
#define FRAME_FIXED 64
#define FRAME_CHECKED 56 /* frame bytes covered by the header check, before the path */
#define INDEX_HEADER 32
#define RECORD_FIXED 64
#define INDEX_CHECK 8
#define TRAILER_BYTES 48
#define PATH_MAX_BYTES 4095
#define ARENA_BLOCK 65536
#define INDEX_CHUNK 65536
#define PROBE_MIN 32768  /* frames this large are probed before compressing them whole */
#define PROBE_BYTES 8192 /* the probe: a sample from the middle of the frame */

static const char k_pack_magic[8] = {'F', 'L', 'O', 'E', 'P', 'A', 'C', 'K'};
static const char k_index_magic[8] = {'F', 'L', 'O', 'E', 'I', 'N', 'D', 'X'};
static const char k_end_magic[8] = {'F', 'L', 'O', 'E', 'P', 'E', 'N', 'D'};
static const char k_frame_magic[4] = {'F', 'L', 'F', 'R'};

/* ---- little-endian fields ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void xxh128(const void *data, size_t n, uint8_t out[FLOE_PACK_XXH_BYTES])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, n));
    memcpy(out, c.digest, FLOE_PACK_XXH_BYTES);
}

/* The frame header's check: xxh3-64 of its first 56 bytes followed by the path. */
static uint64_t frame_check(const uint8_t *fixed, const char *path, size_t path_len)
{
    uint8_t buf[FRAME_CHECKED + PATH_MAX_BYTES];
    memcpy(buf, fixed, FRAME_CHECKED);
    memcpy(buf + FRAME_CHECKED, path, path_len);
    return XXH3_64bits(buf, FRAME_CHECKED + path_len);
}

/* ---- writer ---- */

struct rec {
    const char *path; /* in the arena */
    uint16_t path_len;
    uint8_t compression;
    uint32_t mode;
    int64_t mtime_ns;
    uint64_t size, frame_offset, frame_length, stored_length;
    uint8_t xxh[FLOE_PACK_XXH_BYTES];
};

struct block {
    struct block *next;
    size_t used;
    char data[ARENA_BLOCK];
};

struct floe_pack_writer {
    floe_pack_sink_fn *sink;
    void *user;
    int level;
    uint64_t sequence;
    struct floe_pack_frame frame; /* floe_pack_add()'s: zstd context and scratch */
    struct rec *recs;
    size_t count, cap;
    struct block *paths; /* newest first */
    uint64_t bytes;      /* written to the sink */
    bool failed, finished;
};

static int emit(struct floe_pack_writer *w, const void *data, size_t len, struct floe_error *err)
{
    int rc = w->sink(w->user, data, len, err);
    if (rc) {
        w->failed = true;
        return rc;
    }
    w->bytes += len;
    return FLOE_OK;
}

static const char *arena_copy(struct floe_pack_writer *w, const char *s, size_t n)
{
    if (!w->paths || ARENA_BLOCK - w->paths->used < n + 1) {
        struct block *b = floe_xmalloc(sizeof(*b));
        b->next = w->paths;
        b->used = 0;
        w->paths = b;
    }
    char *p = w->paths->data + w->paths->used;
    memcpy(p, s, n);
    p[n] = 0;
    w->paths->used += n + 1;
    return p;
}

void floe_pack_writer_free(struct floe_pack_writer *w)
{
    if (!w)
        return;
    floe_pack_frame_free(&w->frame);
    free(w->recs);
    while (w->paths) {
        struct block *b = w->paths;
        w->paths = b->next;
        free(b);
    }
    free(w);
}

int floe_pack_writer_new(const struct floe_pack_writer_options *opts, struct floe_pack_writer **out,
                         struct floe_error *err)
{
    if (!opts || !opts->sink || !out)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack writer: a sink is required");
    if (opts->zstd_level < 0 || opts->zstd_level > 19)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "pack writer: zstd level %d is outside 0..19", opts->zstd_level);
    struct floe_pack_writer *w = floe_xcalloc(1, sizeof(*w));
    w->sink = opts->sink;
    w->user = opts->user;
    w->level = opts->zstd_level;
    w->sequence = opts->sequence;
    if (w->level > 0 && !(w->frame.cctx = ZSTD_createCCtx())) {
        floe_pack_writer_free(w);
        return floe_error_set(err, FLOE_E_NOMEM, "pack writer: no memory for a zstd context");
    }
    uint8_t h[HEADER_BYTES] = {0};
    memcpy(h, k_pack_magic, 8);
    put32(h + 8, PACK_VERSION);
    put64(h + 16, w->sequence);
    put64(h + 24, XXH3_64bits(h, 24));
    int rc = emit(w, h, sizeof(h), err);
    if (rc) {
        floe_pack_writer_free(w);
        return rc;
    }
    *out = w;
    return FLOE_OK;
}

static int usable(const struct floe_pack_writer *w, struct floe_error *err)
{
    if (!w)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack writer missing");
    if (w->finished)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "pack writer: the pack is finished and takes nothing more");
    if (w->failed)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "pack writer: an earlier write failed, the pack is incomplete");
    return FLOE_OK;
}

void floe_pack_frame_free(struct floe_pack_frame *f)
{
    if (!f)
        return;
    ZSTD_freeCCtx(f->cctx);
    free(f->scratch);
    *f = (struct floe_pack_frame){0};
}

/* Compresses data into f's scratch buffer; returns the compressed length, or 0 when the
 * frame is to be stored (level 0, tiny, its sample does not shrink, or not smaller). */
static size_t compress(struct floe_pack_frame *f, int level, const void *data, size_t size)
{
    if (level == 0 || size < 2)
        return 0;
    if (f->scratch_cap < size - 1) {
        free(f->scratch);
        f->scratch_cap = size - 1;
        f->scratch = floe_xmalloc(f->scratch_cap);
    }
    if (size >= PROBE_MIN) {
        // 8 KiB from the middle at level 1 must save 1/32, or the frame is stored untried
        const uint8_t *mid = (const uint8_t *)data + (size - PROBE_BYTES) / 2;
        size_t n = ZSTD_compressCCtx(f->cctx, f->scratch, PROBE_BYTES - PROBE_BYTES / 32, mid,
                                     PROBE_BYTES, 1);
        if (ZSTD_isError(n))
            return 0;
    }
    size_t n = ZSTD_compressCCtx(f->cctx, f->scratch, size - 1, data, size, level);
    return ZSTD_isError(n) ? 0 : n; /* dstSize_tooSmall: it would not shrink */
}

int floe_pack_frame_prepare(struct floe_pack_frame *f, int zstd_level, const void *data,
                            uint64_t size, struct floe_error *err)
{
    if (zstd_level < 0 || zstd_level > 19)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack frame: zstd level %d is outside 0..19",
                              zstd_level);
    if (size > SIZE_MAX || (size && !data))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack frame: no data for %llu bytes",
                              (unsigned long long)size);
    if (zstd_level > 0 && !f->cctx && !(f->cctx = ZSTD_createCCtx()))
        return floe_error_set(err, FLOE_E_NOMEM, "pack writer: no memory for a zstd context");
    xxh128(data ? data : "", (size_t)size, f->xxh128);
    size_t csize = compress(f, zstd_level, data, (size_t)size);
    f->size = size;
    f->compression = csize ? FLOE_PACK_ZSTD : FLOE_PACK_STORED;
    f->stored_length = csize ? csize : size;
    f->stored = csize ? f->scratch : data;
    return FLOE_OK;
}

int floe_pack_add(struct floe_pack_writer *w, const char *path, int64_t mtime_ns, uint32_t mode,
                  const void *data, uint64_t size, struct floe_pack_entry *out,
                  struct floe_error *err)
{
    int rc = usable(w, err);
    if (rc)
        return rc;
    if (size > SIZE_MAX || (size && !data))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack file %s: no data for %llu bytes",
                              path ? path : "", (unsigned long long)size);
    if ((rc = floe_pack_frame_prepare(&w->frame, w->level, data, size, err)) != FLOE_OK)
        return rc;
    return floe_pack_add_prepared(w, path, mtime_ns, mode, &w->frame, out, err);
}

int floe_pack_add_prepared(struct floe_pack_writer *w, const char *path, int64_t mtime_ns,
                           uint32_t mode, const struct floe_pack_frame *f,
                           struct floe_pack_entry *out, struct floe_error *err)
{
    int rc = usable(w, err);
    if (rc)
        return rc;
    size_t plen = path ? strlen(path) : 0;
    if (plen == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack path is empty");
    if (plen > PATH_MAX_BYTES)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack path of %zu bytes is longer than 4095",
                              plen);
    uint64_t size = f->size;
    struct rec r = {.path_len = (uint16_t)plen,
                    .mode = mode,
                    .mtime_ns = mtime_ns,
                    .size = size,
                    .compression = (uint8_t)f->compression,
                    .stored_length = f->stored_length,
                    .frame_offset = w->bytes,
                    .frame_length = FRAME_FIXED + plen + f->stored_length};
    memcpy(r.xxh, f->xxh128, FLOE_PACK_XXH_BYTES);

    uint8_t h[FRAME_FIXED + PATH_MAX_BYTES] = {0};
    memcpy(h, k_frame_magic, 4);
    put16(h + 4, r.path_len);
    h[6] = r.compression;
    put64(h + 8, size);
    put64(h + 16, (uint64_t)mtime_ns);
    put32(h + 24, mode);
    put64(h + 32, r.stored_length);
    memcpy(h + 40, r.xxh, FLOE_PACK_XXH_BYTES);
    put64(h + 56, frame_check(h, path, plen));
    memcpy(h + FRAME_FIXED, path, plen);
    if ((rc = emit(w, h, FRAME_FIXED + plen, err)) != FLOE_OK)
        return rc;
    if (r.stored_length && (rc = emit(w, f->stored, (size_t)r.stored_length, err)) != FLOE_OK)
        return rc;

    r.path = arena_copy(w, path, plen);
    if (w->count == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 256;
        w->recs = floe_xrealloc(w->recs, w->cap * sizeof(*w->recs));
    }
    w->recs[w->count++] = r;
    if (out) {
        *out = (struct floe_pack_entry){
            .path = r.path,
            .size = r.size,
            .mtime_ns = r.mtime_ns,
            .mode = r.mode,
            .frame_offset = r.frame_offset,
            .frame_length = r.frame_length,
            .stored_length = r.stored_length,
            .compression = r.compression,
        };
        memcpy(out->xxh128, r.xxh, FLOE_PACK_XXH_BYTES);
    }
    return FLOE_OK;
}

uint64_t floe_pack_bytes(const struct floe_pack_writer *w)
{
    return w ? w->bytes : 0;
}

uint64_t floe_pack_count(const struct floe_pack_writer *w)
{
    return w ? w->count : 0;
}

/* The index on its way to the sink: buffered in INDEX_CHUNK pieces, hashed as it goes. */
struct index_out {
    struct floe_pack_writer *w;
    XXH3_state_t *hash;
    uint8_t buf[INDEX_CHUNK];
    size_t used;
};

static int index_flush(struct index_out *o, struct floe_error *err)
{
    if (!o->used)
        return FLOE_OK;
    XXH3_64bits_update(o->hash, o->buf, o->used);
    int rc = emit(o->w, o->buf, o->used, err);
    o->used = 0;
    return rc;
}

static int index_put(struct index_out *o, const void *p, size_t n, struct floe_error *err)
{
    const uint8_t *b = p;
    while (n) {
        size_t k = INDEX_CHUNK - o->used < n ? INDEX_CHUNK - o->used : n;
        memcpy(o->buf + o->used, b, k);
        o->used += k;
        b += k;
        n -= k;
        if (o->used == INDEX_CHUNK) {
            int rc = index_flush(o, err);
            if (rc)
                return rc;
        }
    }
    return FLOE_OK;
}

static int index_record(struct index_out *o, const struct rec *r, struct floe_error *err)
{
    uint8_t b[RECORD_FIXED] = {0};
    put64(b, r->frame_offset);
    put64(b + 8, r->frame_length);
    put64(b + 16, r->stored_length);
    put64(b + 24, r->size);
    put64(b + 32, (uint64_t)r->mtime_ns);
    put32(b + 40, r->mode);
    b[44] = r->compression;
    put16(b + 46, r->path_len);
    memcpy(b + 48, r->xxh, FLOE_PACK_XXH_BYTES);
    int rc = index_put(o, b, sizeof(b), err);
    return rc ? rc : index_put(o, r->path, r->path_len, err);
}

/* Writes the index (header, records, check); *length = its bytes. */
static int write_index(struct floe_pack_writer *w, uint64_t *length, struct floe_error *err)
{
    struct index_out *o = floe_xcalloc(1, sizeof(*o));
    o->w = w;
    o->hash = XXH3_createState();
    if (!o->hash) {
        free(o);
        return floe_error_set(err, FLOE_E_NOMEM, "pack writer: no memory for the index hash");
    }
    XXH3_64bits_reset(o->hash);
    uint64_t start = w->bytes;
    uint8_t h[INDEX_HEADER] = {0};
    memcpy(h, k_index_magic, 8);
    put32(h + 8, PACK_VERSION);
    put64(h + 16, w->sequence);
    put64(h + 24, w->count);
    int rc = index_put(o, h, sizeof(h), err);
    for (size_t i = 0; !rc && i < w->count; i++)
        rc = index_record(o, &w->recs[i], err);
    if (!rc)
        rc = index_flush(o, err);
    if (!rc) {
        uint8_t check[INDEX_CHECK];
        put64(check, XXH3_64bits_digest(o->hash));
        rc = emit(w, check, sizeof(check), err);
    }
    XXH3_freeState(o->hash);
    free(o);
    *length = w->bytes - start;
    return rc;
}

int floe_pack_finish(struct floe_pack_writer *w, uint64_t *total, struct floe_error *err)
{
    int rc = usable(w, err);
    if (rc)
        return rc;
    uint64_t index_offset = w->bytes, index_length = 0;
    if ((rc = write_index(w, &index_length, err)) != FLOE_OK)
        return rc;
    uint8_t t[TRAILER_BYTES] = {0};
    put64(t, index_offset);
    put64(t + 8, index_length);
    put64(t + 16, w->count);
    put32(t + 24, PACK_VERSION);
    put64(t + 32, XXH3_64bits(t, 32));
    memcpy(t + 40, k_end_magic, 8);
    if ((rc = emit(w, t, sizeof(t), err)) != FLOE_OK)
        return rc;
    w->finished = true;
    if (total)
        *total = w->bytes;
    return FLOE_OK;
}

/* ---- readers ---- */

size_t floe_pack_header_bytes(void)
{
    return HEADER_BYTES;
}

int floe_pack_read_header(const void *header, size_t len, uint64_t *sequence,
                          struct floe_error *err)
{
    const uint8_t *h = header;
    if (!h || len != HEADER_BYTES)
        return floe_error_set(err, FLOE_E_CORRUPT, "pack header is %zu bytes, not 32", len);
    if (memcmp(h, k_pack_magic, 8) != 0)
        return floe_error_set(err, FLOE_E_CORRUPT, "pack header: bad magic (not a floe pack)");
    if (get64(h + 24) != XXH3_64bits(h, 24))
        return floe_error_set(err, FLOE_E_CORRUPT, "pack header: checksum mismatch");
    if (get32(h + 8) != PACK_VERSION)
        return floe_error_set(err, FLOE_E_CORRUPT, "pack header: version %u, this reader knows 1",
                              get32(h + 8));
    if (get32(h + 12) != 0)
        return floe_error_set(err, FLOE_E_CORRUPT, "pack header: reserved field is not zero");
    if (sequence)
        *sequence = get64(h + 16);
    return FLOE_OK;
}

size_t floe_pack_trailer_bytes(void)
{
    return TRAILER_BYTES;
}

size_t floe_pack_frame_header_bytes(size_t path_len)
{
    return FRAME_FIXED + path_len;
}

/* FLOE_E_CORRUPT with a message of up to two numbers. */
static int corrupt(struct floe_error *err, const char *fmt, unsigned long long a,
                   unsigned long long b)
{
    return floe_error_set(err, FLOE_E_CORRUPT, fmt, a, b);
}

int floe_pack_index_range(const void *trailer, size_t len, uint64_t pack_size, uint64_t *offset,
                          uint64_t *length, struct floe_error *err)
{
    const uint8_t *t = trailer;
    if (!t || len != TRAILER_BYTES)
        return corrupt(err, "pack trailer is %llu bytes, not %llu", len, TRAILER_BYTES);
    if (memcmp(t + 40, k_end_magic, 8) != 0)
        return corrupt(err, "pack trailer: bad magic (not a floe pack)", 0, 0);
    if (get64(t + 32) != XXH3_64bits(t, 32))
        return corrupt(err, "pack trailer: checksum mismatch", 0, 0);
    if (get32(t + 24) != PACK_VERSION)
        return corrupt(err, "pack trailer: version %llu, this reader knows %llu", get32(t + 24),
                       PACK_VERSION);
    if (get32(t + 28) != 0)
        return corrupt(err, "pack trailer: reserved field is not zero", 0, 0);
    uint64_t off = get64(t), ilen = get64(t + 8), count = get64(t + 16), end;
    if (pack_size < HEADER_BYTES + INDEX_HEADER + INDEX_CHECK + TRAILER_BYTES)
        return corrupt(err, "pack of %llu bytes is smaller than an empty pack (%llu)", pack_size,
                       HEADER_BYTES + INDEX_HEADER + INDEX_CHECK + TRAILER_BYTES);
    if (off < HEADER_BYTES)
        return corrupt(err, "pack trailer: index offset %llu is inside the pack header", off, 0);
    if (ilen < INDEX_HEADER + INDEX_CHECK)
        return corrupt(err, "pack trailer: index length %llu is shorter than %llu", ilen,
                       INDEX_HEADER + INDEX_CHECK);
    if (__builtin_add_overflow(off, ilen, &end) || end != pack_size - TRAILER_BYTES)
        return corrupt(err,
                       "pack trailer: the index at %llu does not end where the trailer "
                       "starts (%llu)",
                       off, pack_size - TRAILER_BYTES);
    if (count > (ilen - INDEX_HEADER - INDEX_CHECK) / RECORD_FIXED)
        return corrupt(err, "pack trailer: %llu files cannot fit in an index of %llu bytes", count,
                       ilen);
    *offset = off;
    *length = ilen;
    return FLOE_OK;
}

/* One index record at p (avail bytes before the check): its entry, path copied to path. */
static int parse_record(const uint8_t *p, size_t avail, uint64_t i, uint64_t expect_offset,
                        struct floe_pack_entry *e, char *path, size_t *used, struct floe_error *err)
{
    if (avail < RECORD_FIXED)
        return corrupt(err, "pack index: record %llu runs past the end", i, 0);
    size_t plen = get16(p + 46);
    if (plen == 0 || plen > PATH_MAX_BYTES)
        return corrupt(err, "pack index: record %llu: path length %llu is outside 1..4095", i,
                       plen);
    if (avail - RECORD_FIXED < plen)
        return corrupt(err, "pack index: record %llu runs past the end", i, 0);
    if (memchr(p + RECORD_FIXED, 0, plen))
        return corrupt(err, "pack index: record %llu: the path contains a NUL byte", i, 0);
    memcpy(path, p + RECORD_FIXED, plen);
    path[plen] = 0;
    *e = (struct floe_pack_entry){
        .path = path,
        .frame_offset = get64(p),
        .frame_length = get64(p + 8),
        .stored_length = get64(p + 16),
        .size = get64(p + 24),
        .mtime_ns = (int64_t)get64(p + 32),
        .mode = get32(p + 40),
        .compression = p[44],
    };
    memcpy(e->xxh128, p + 48, FLOE_PACK_XXH_BYTES);
    uint64_t flen;
    if (p[44] > FLOE_PACK_ZSTD)
        return corrupt(err, "pack index: record %llu: unknown compression %llu", i, p[44]);
    if (p[45])
        return corrupt(err, "pack index: record %llu: reserved byte is not zero", i, 0);
    if (__builtin_add_overflow(e->stored_length, FRAME_FIXED + plen, &flen) ||
        flen != e->frame_length)
        return corrupt(err, "pack index: record %llu: frame length %llu is not 64 + path + data", i,
                       e->frame_length);
    bool fits = e->compression == FLOE_PACK_STORED
                    ? e->stored_length == e->size
                    : e->stored_length > 0 && e->stored_length < e->size;
    if (!fits)
        return corrupt(err,
                       "pack index: record %llu: %llu stored bytes do not fit its size and "
                       "compression",
                       i, e->stored_length);
    if (e->frame_offset != expect_offset)
        return corrupt(err,
                       "pack index: record %llu: frame at %llu, not where the previous one "
                       "ends",
                       i, e->frame_offset);
    *used = RECORD_FIXED + plen;
    return FLOE_OK;
}

int floe_pack_read_index(const void *index, size_t len, floe_pack_entry_fn *fn, void *user,
                         struct floe_error *err)
{
    const uint8_t *p = index;
    if (!p || len < INDEX_HEADER + INDEX_CHECK)
        return corrupt(err, "pack index of %llu bytes is shorter than %llu", len,
                       INDEX_HEADER + INDEX_CHECK);
    size_t end = len - INDEX_CHECK;
    if (get64(p + end) != XXH3_64bits(p, end))
        return corrupt(err, "pack index: checksum mismatch", 0, 0);
    if (memcmp(p, k_index_magic, 8) != 0)
        return corrupt(err, "pack index: bad magic", 0, 0);
    if (get32(p + 8) != PACK_VERSION)
        return corrupt(err, "pack index: version %llu, this reader knows %llu", get32(p + 8),
                       PACK_VERSION);
    if (get32(p + 12) != 0)
        return corrupt(err, "pack index: reserved field is not zero", 0, 0);
    uint64_t count = get64(p + 24);
    if (count > (end - INDEX_HEADER) / RECORD_FIXED)
        return corrupt(err, "pack index: %llu records cannot fit in %llu bytes", count, len);
    size_t pos = INDEX_HEADER;
    uint64_t expect = HEADER_BYTES;
    char path[PATH_MAX_BYTES + 1];
    for (uint64_t i = 0; i < count; i++) {
        struct floe_pack_entry e;
        size_t used = 0;
        int rc = parse_record(p + pos, end - pos, i, expect, &e, path, &used, err);
        if (rc)
            return rc;
        if (__builtin_add_overflow(expect, e.frame_length, &expect))
            return corrupt(err, "pack index: record %llu: frame length %llu overflows", i,
                           e.frame_length);
        pos += used;
        if ((rc = fn(user, &e)) != 0)
            return rc;
    }
    if (pos != end)
        return corrupt(err, "pack index: %llu bytes after the last of %llu records", end - pos,
                       count);
    return FLOE_OK;
}

/* The frame header at f against the index entry e; path_len = strlen(e->path). */
static int check_frame_header(const uint8_t *f, size_t len, const struct floe_pack_entry *e,
                              size_t plen, struct floe_error *err)
{
    const char *p = e->path;
    if (len != e->frame_length || len < FRAME_FIXED + plen)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "pack frame of %s is %zu bytes, the index says %llu", p, len,
                              (unsigned long long)e->frame_length);
    if (memcmp(f, k_frame_magic, 4) != 0)
        return floe_error_set(err, FLOE_E_CORRUPT, "pack frame of %s: bad magic", p);
    if (get16(f + 4) != plen)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "pack frame of %s: path length %u, the index says %zu", p,
                              get16(f + 4), plen);
    if (get64(f + 56) != frame_check(f, (const char *)f + FRAME_FIXED, plen))
        return floe_error_set(err, FLOE_E_CORRUPT, "pack frame of %s: header checksum mismatch", p);
    const char *field = NULL;
    if (memcmp(f + FRAME_FIXED, p, plen) != 0)
        field = "path";
    else if (f[6] != e->compression)
        field = "compression";
    else if (get64(f + 8) != e->size)
        field = "size";
    else if ((int64_t)get64(f + 16) != e->mtime_ns)
        field = "mtime";
    else if (get32(f + 24) != e->mode)
        field = "mode";
    else if (get64(f + 32) != e->stored_length)
        field = "stored length";
    else if (memcmp(f + 40, e->xxh128, FLOE_PACK_XXH_BYTES) != 0)
        field = "xxh3-128";
    else if (f[7] || get32(f + 28))
        field = "reserved";
    if (field)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "pack frame of %s: its header does not match the index (%s)", p,
                              field);
    if (len - FRAME_FIXED - plen != e->stored_length)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "pack frame of %s: %zu data bytes, the header says %llu", p,
                              len - FRAME_FIXED - plen, (unsigned long long)e->stored_length);
    return FLOE_OK;
}

int floe_pack_frame_meta(const void *frame, size_t len, int64_t *mtime_ns, uint32_t *mode,
                         struct floe_error *err)
{
    const uint8_t *f = frame;
    if (!f || len < FRAME_FIXED || memcmp(f, k_frame_magic, 4) != 0)
        return floe_error_set(err, FLOE_E_CORRUPT, "pack frame: no frame header");
    size_t plen = get16(f + 4);
    if (plen == 0 || len < FRAME_FIXED + plen ||
        get64(f + 56) != frame_check(f, (const char *)f + FRAME_FIXED, plen))
        return floe_error_set(err, FLOE_E_CORRUPT, "pack frame: header checksum mismatch");
    *mtime_ns = (int64_t)get64(f + 16);
    *mode = get32(f + 24);
    return FLOE_OK;
}

int floe_pack_read_frame(const void *frame, size_t len, const struct floe_pack_entry *e, void *dst,
                         struct floe_error *err)
{
    if (!frame || !e || !e->path)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack frame: no frame or entry");
    size_t plen = strlen(e->path);
    if (plen == 0 || plen > PATH_MAX_BYTES || e->size > SIZE_MAX || (e->size && !dst))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "pack frame: the entry is not usable");
    const uint8_t *f = frame;
    int rc = check_frame_header(f, len, e, plen, err);
    if (rc)
        return rc;
    const uint8_t *data = f + FRAME_FIXED + plen;
    if (e->compression == FLOE_PACK_STORED) {
        if (e->stored_length != e->size)
            return floe_error_set(err, FLOE_E_CORRUPT,
                                  "pack frame of %s: stored data is not its size", e->path);
        if (e->size)
            memcpy(dst, data, (size_t)e->size);
    } else if (e->compression == FLOE_PACK_ZSTD) {
        size_t n = ZSTD_decompress(dst, (size_t)e->size, data, (size_t)e->stored_length);
        if (ZSTD_isError(n))
            return floe_error_set(err, FLOE_E_CORRUPT,
                                  "pack frame of %s: zstd data does not decompress: %s", e->path,
                                  ZSTD_getErrorName(n));
        if (n != e->size)
            return floe_error_set(err, FLOE_E_CORRUPT,
                                  "pack frame of %s: decompresses to %zu bytes, not %llu", e->path,
                                  n, (unsigned long long)e->size);
    } else {
        return floe_error_set(err, FLOE_E_CORRUPT, "pack frame of %s: unknown compression %d",
                              e->path, (int)e->compression);
    }
    uint8_t sum[FLOE_PACK_XXH_BYTES];
    xxh128(e->size ? dst : "", (size_t)e->size, sum);
    if (memcmp(sum, e->xxh128, FLOE_PACK_XXH_BYTES) != 0)
        return floe_error_set(err, FLOE_E_CHECKSUM,
                              "pack frame of %s: the content does not match its xxh3-128", e->path);
    return FLOE_OK;
}
