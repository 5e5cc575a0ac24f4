/*
 * checkpoint.c - resume journals: an append-only file of self-checking records, one per event
 * of a transfer, replayed on resume.
 *
 * DESIGN
 * A journal is written by one thread (the orchestrator: the thread that runs the transfer, never
 * the transfer stage's curl thread, whose connections an fdatasync would stall) and read by
 * floe_journal_open() / floe_checkpoint_load() on resume or inspection. Creation writes the header
 * record to a temporary file, syncs it and links it into place, so a journal path never holds a
 * partial header. Every later event is one record appended with pwrite() at the end of the last
 * valid record and then fdatasync'ed, so "append returned FLOE_OK" means "survives a crash". A
 * write that fails half way is cut back off with ftruncate() at once; if even that fails, the
 * handle refuses further appends (the file may end in a torn record, which replay drops). An
 * exclusive flock() on the open journal stops two floe processes resuming the same transfer.
 *
 * ON-DISK FORMAT (version 1; docs/checkpoint-format.md has the same with examples)
 * All integers little-endian. The file is a sequence of records, the first being HEADER:
 *
 *   offset  size  record frame (struct ckpt_frame_disk, 16 bytes)
 *        0     4  magic "FLOJ" (0x46 0x4c 0x4f 0x4a)
 *        4     2  type: 1 HEADER, 2 UPLOAD_ID, 3 JOB_ID, 4 PART_DONE, 5 SEGMENT_DONE, 6 COMPLETE
 *        6     2  format version (1)
 *        8     4  body_len: bytes of body that follow the frame (at most 65536)
 *       12     4  frame_check: low 32 bits of XXH3_64bits(bytes 0..11 of the frame)
 *       16     n  body (body_len bytes, layout by type, below)
 *     16+n     8  record_check: XXH3_64bits(frame + body)
 *
 *   HEADER body: struct ckpt_header_disk (112 bytes) then `string_count` strings, each a u32
 *   length and that many bytes (no NUL), in this order: endpoint, vault, account_id, upload_id,
 *   job_id, archive_id, source path, output path. Fixed part:
 *        0  8  file magic "FLOECKPT"        56  8  part / segment size in bytes
 *        8  4  format version (1)           64  8  total size (UINT64_MAX = unknown)
 *       12  4  kind: 1 upload, 2 download   72 32  tree hash (valid if flags bit 0)
 *       16  8  created, unix ns            104  4  flags: bit 0 = tree hash present
 *       24  8  source size (UINT64_MAX)    108  4  string_count (8; more are skipped)
 *       32  8  source mtime, ns (signed)
 *       40  8  source inode
 *       48  8  source device
 *   UPLOAD_ID / JOB_ID body: u32 length, then the id's bytes.
 *   PART_DONE / SEGMENT_DONE body: struct ckpt_part_disk (72 bytes): u64 index, u64 offset,
 *   u64 length, 32-byte tree hash, 16-byte xxh3-128 (canonical, big-endian). A whole part
 *   record is 96 bytes.
 *   COMPLETE body: struct ckpt_complete_disk (48 bytes): u64 size, 32-byte tree hash, u32 id
 *   length, u32 zero; then the archive id's bytes.
 *
 * When a record is valid, and what replay does
 * A record is valid when its frame has the magic, a matching frame_check, version 1, and the
 * whole record is present with a matching record_check and a well-formed body. Replay reads
 * records in order and stops at the first one that is not valid:
 *   - the rest of the file is a torn final write, dropped (torn_tail = true) when: fewer than
 *     16 bytes remain; or the frame is intact but the record runs past the end of the file; or
 *     the record ends exactly at the end of the file but its record_check fails; or every
 *     remaining byte is zero (file size extended, data never written); or the record is
 *     damaged and no valid frame starts after it (only the last, unsynced append can be torn,
 *     and a power cut may keep some of its sectors and zero others: frame_follows());
 *   - anything else is FLOE_E_CORRUPT naming the record number and byte offset, and nothing
 *     after it is trusted (a flipped bit in the middle of the journal is not a crash artefact);
 *   - a bad first record is FLOE_E_CHECKPOINT (not a journal, newer version, torn header).
 * Opening for append truncates a torn tail away before the first new record is written.
 * Duplicate parts are allowed (a part re-sent after a crash); the last record of an index wins.
 */
#include "checkpoint.h"

#include "alloc.h"
#include "dirsync.h"

#include <xxhash.h>

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h> /* BLKGETSIZE64 */
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAGIC 0x4a4f4c46u /* "FLOJ" */
#define FILE_MAGIC "FLOECKPT"
#define MAX_BODY_BYTES 65536u
#define HEADER_STRINGS 8u

enum ckpt_record_type {
    CKPT_REC_NONE = 0,
    CKPT_REC_HEADER = 1,
    CKPT_REC_UPLOAD_ID = 2,
    CKPT_REC_JOB_ID = 3,
    CKPT_REC_PART_DONE = 4,
    CKPT_REC_SEGMENT_DONE = 5,
    CKPT_REC_COMPLETE = 6,
    CKPT_REC_COUNT
};

static const char *const s_record_names[] = {"NONE",      "HEADER",       "UPLOAD_ID", "JOB_ID",
                                             "PART_DONE", "SEGMENT_DONE", "COMPLETE"};
static_assert(sizeof(s_record_names) / sizeof(s_record_names[0]) == CKPT_REC_COUNT,
              "record name table out of sync");

static const char *record_name(unsigned type)
{
    return type < CKPT_REC_COUNT ? s_record_names[type] : "unknown";
}

struct ckpt_frame_disk {
    uint32_t magic;
    uint16_t type;
    uint16_t version;
    uint32_t body_len;
    uint32_t frame_check;
};
static_assert(sizeof(struct ckpt_frame_disk) == 16, "checkpoint frame layout is on-disk ABI");

struct ckpt_header_disk {
    uint8_t file_magic[8];
    uint32_t format_version;
    uint32_t kind;
    uint64_t created_unix_ns;
    uint64_t source_size;
    int64_t source_mtime_ns;
    uint64_t source_inode;
    uint64_t source_device;
    uint64_t part_size;
    uint64_t total_size;
    uint8_t tree_hash[32];
    uint32_t flags;
    uint32_t string_count;
};
static_assert(sizeof(struct ckpt_header_disk) == 112, "checkpoint header layout is on-disk ABI");

struct ckpt_part_disk {
    uint64_t index;
    uint64_t offset;
    uint64_t length;
    uint8_t tree_hash[32];
    uint8_t xxh128[16];
};
static_assert(sizeof(struct ckpt_part_disk) == 72, "checkpoint part layout is on-disk ABI");

struct ckpt_complete_disk {
    uint64_t size;
    uint8_t tree_hash[32];
    uint32_t id_len;
    uint32_t reserved;
};
static_assert(sizeof(struct ckpt_complete_disk) == 48, "checkpoint complete layout is on-disk ABI");

#define FRAME_BYTES sizeof(struct ckpt_frame_disk)
#define TRAILER_BYTES sizeof(uint64_t)
#define HEADER_FLAG_TREE_HASH 1u

struct floe_journal {
    int fd;
    char *path;
    enum floe_ckpt_kind kind;
    uint64_t size_bytes; /* end of the last complete record */
    unsigned sync_every;
    unsigned unsynced;
    bool no_sync;
    bool broken;   /* a failed append could not be cut back: refuse more */
    bool complete; /* COMPLETE written: refuse more parts */
};

/* ---- small helpers ---- */

const char *floe_checkpoint_kind_name(enum floe_ckpt_kind kind)
{
    switch (kind) {
    case FLOE_CKPT_UPLOAD: return "upload";
    case FLOE_CKPT_DOWNLOAD: return "download";
    }
    return "unknown";
}

void floe_checkpoint_xxh128(const void *data, size_t n, uint8_t out[FLOE_CKPT_XXH128_BYTES])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(data, n));
    memcpy(out, c.digest, FLOE_CKPT_XXH128_BYTES);
}

static uint32_t frame_check(const uint8_t *frame)
{
    return (uint32_t)XXH3_64bits(frame, 12);
}

/* A growable byte buffer for building records. */
struct bbuf {
    uint8_t *p;
    size_t len, cap;
};

static void bb_put(struct bbuf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = floe_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void bb_put_str(struct bbuf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    uint32_t le = htole32(n);
    bb_put(b, &le, 4);
    bb_put(b, s, n);
}

/* Frames body[0..n) as a record of type into out (replacing its contents). */
static void build_record(struct bbuf *out, unsigned type, const void *body, size_t n)
{
    struct ckpt_frame_disk f = {.magic = htole32(FRAME_MAGIC),
                                .type = htole16((uint16_t)type),
                                .version = htole16(FLOE_CKPT_FORMAT_VERSION),
                                .body_len = htole32((uint32_t)n)};
    f.frame_check = htole32(frame_check((const uint8_t *)&f));
    out->len = 0;
    bb_put(out, &f, sizeof(f));
    bb_put(out, body, n);
    uint64_t check = htole64(XXH3_64bits(out->p, out->len));
    bb_put(out, &check, sizeof(check));
}

static bool fits(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

static int check_header_strings(const struct floe_ckpt_header *h, struct floe_error *err)
{
    struct {
        const char *name;
        const char *s;
        size_t cap;
    } f[] = {
        {"endpoint", h->endpoint, sizeof(h->endpoint)},
        {"vault", h->vault, sizeof(h->vault)},
        {"account id", h->account_id, sizeof(h->account_id)},
        {"upload id", h->upload_id, sizeof(h->upload_id)},
        {"job id", h->job_id, sizeof(h->job_id)},
        {"archive id", h->archive_id, sizeof(h->archive_id)},
        {"source path", h->source.path, sizeof(h->source.path)},
        {"output path", h->output_path, sizeof(h->output_path)},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (!fits(f[i].s, f[i].cap))
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "checkpoint header: %s is not NUL-terminated within %zu bytes",
                                  f[i].name, f[i].cap);
    return FLOE_OK;
}

static void encode_header(const struct floe_ckpt_header *h, struct bbuf *body)
{
    struct ckpt_header_disk d = {0};
    memcpy(d.file_magic, FILE_MAGIC, 8);
    d.format_version = htole32(FLOE_CKPT_FORMAT_VERSION);
    d.kind = htole32((uint32_t)h->kind);
    d.created_unix_ns = htole64(h->created_unix_ns);
    d.source_size = htole64(h->source.size_bytes);
    d.source_mtime_ns = (int64_t)htole64((uint64_t)h->source.mtime_ns);
    d.source_inode = htole64(h->source.inode);
    d.source_device = htole64(h->source.device);
    d.part_size = htole64(h->part_size_bytes);
    d.total_size = htole64(h->total_size_bytes);
    memcpy(d.tree_hash, h->tree_hash, 32);
    d.flags = htole32(h->has_tree_hash ? HEADER_FLAG_TREE_HASH : 0);
    d.string_count = htole32(HEADER_STRINGS);
    bb_put(body, &d, sizeof(d));
    bb_put_str(body, h->endpoint);
    bb_put_str(body, h->vault);
    bb_put_str(body, h->account_id);
    bb_put_str(body, h->upload_id);
    bb_put_str(body, h->job_id);
    bb_put_str(body, h->archive_id);
    bb_put_str(body, h->source.path);
    bb_put_str(body, h->output_path);
}

/* ---- replay ---- */

struct part_seq {
    struct floe_ckpt_part part;
    size_t seq;
};

struct replay {
    const char *path;
    struct floe_ckpt_state *st;
    struct part_seq *parts;
    size_t nparts, cap;
};

/* Reads a length-prefixed string into dst (cap bytes, NUL added); false if malformed. */
static bool get_str(const uint8_t *b, size_t n, size_t *pos, char *dst, size_t cap)
{
    uint32_t len;
    if (n - *pos < 4)
        return false;
    memcpy(&len, b + *pos, 4);
    len = le32toh(len);
    *pos += 4;
    if (n - *pos < len)
        return false;
    if (dst) {
        if (len >= cap)
            return false;
        memcpy(dst, b + *pos, len);
        dst[len] = 0;
        if (memchr(dst, 0, len))
            return false; /* embedded NUL */
    }
    *pos += len;
    return true;
}

static int malformed(struct replay *rp, size_t recno, uint64_t off, unsigned type, const char *why,
                     struct floe_error *err)
{
    return floe_error_set(err, FLOE_E_CORRUPT,
                          "checkpoint %s: record %zu (%s) at byte offset %" PRIu64 " is malformed: "
                          "%s; nothing after it is trusted",
                          rp->path, recno, record_name(type), off, why);
}

static int apply_header(struct replay *rp, const uint8_t *b, size_t n, struct floe_error *err)
{
    struct ckpt_header_disk d;
    if (n < sizeof(d))
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s: header record is %zu bytes, too short", rp->path, n);
    memcpy(&d, b, sizeof(d));
    if (memcmp(d.file_magic, FILE_MAGIC, 8) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "%s is not a floe checkpoint journal (bad header magic)", rp->path);
    if (le32toh(d.format_version) != FLOE_CKPT_FORMAT_VERSION)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s has format version %u; this floe reads version %d",
                              rp->path, le32toh(d.format_version), FLOE_CKPT_FORMAT_VERSION);
    struct floe_ckpt_header *h = &rp->st->header;
    uint32_t kind = le32toh(d.kind);
    if (kind != FLOE_CKPT_UPLOAD && kind != FLOE_CKPT_DOWNLOAD)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "checkpoint %s: unknown transfer kind %u",
                              rp->path, kind);
    h->kind = (enum floe_ckpt_kind)kind;
    h->created_unix_ns = le64toh(d.created_unix_ns);
    h->source.size_bytes = le64toh(d.source_size);
    h->source.mtime_ns = (int64_t)le64toh((uint64_t)d.source_mtime_ns);
    h->source.inode = le64toh(d.source_inode);
    h->source.device = le64toh(d.source_device);
    h->part_size_bytes = le64toh(d.part_size);
    h->total_size_bytes = le64toh(d.total_size);
    memcpy(h->tree_hash, d.tree_hash, 32);
    h->has_tree_hash = (le32toh(d.flags) & HEADER_FLAG_TREE_HASH) != 0;
    uint32_t nstr = le32toh(d.string_count);
    struct {
        char *dst;
        size_t cap;
    } f[HEADER_STRINGS] = {
        {h->endpoint, sizeof(h->endpoint)},       {h->vault, sizeof(h->vault)},
        {h->account_id, sizeof(h->account_id)},   {h->upload_id, sizeof(h->upload_id)},
        {h->job_id, sizeof(h->job_id)},           {h->archive_id, sizeof(h->archive_id)},
        {h->source.path, sizeof(h->source.path)}, {h->output_path, sizeof(h->output_path)},
    };
    size_t pos = sizeof(d);
    for (uint32_t i = 0; i < nstr; i++)
        if (!get_str(b, n, &pos, i < HEADER_STRINGS ? f[i].dst : NULL,
                     i < HEADER_STRINGS ? f[i].cap : 0))
            return floe_error_set(err, FLOE_E_CHECKPOINT,
                                  "checkpoint %s: header string %u is malformed", rp->path, i);
    return FLOE_OK;
}

static int apply_record(struct replay *rp, size_t recno, uint64_t off, unsigned type,
                        const uint8_t *b, size_t n, struct floe_error *err)
{
    struct floe_ckpt_state *st = rp->st;
    if (recno == 0) {
        if (type != CKPT_REC_HEADER)
            return floe_error_set(err, FLOE_E_CHECKPOINT,
                                  "checkpoint %s: first record is %s, not HEADER", rp->path,
                                  record_name(type));
        return apply_header(rp, b, n, err);
    }
    switch (type) {
    case CKPT_REC_UPLOAD_ID:
    case CKPT_REC_JOB_ID: {
        char *dst = type == CKPT_REC_UPLOAD_ID ? st->header.upload_id : st->header.job_id;
        char tmp[FLOE_CKPT_NAME_MAX];
        size_t pos = 0;
        if (!get_str(b, n, &pos, tmp, sizeof(tmp)) || pos != n)
            return malformed(rp, recno, off, type, "bad id string", err);
        memcpy(dst, tmp, sizeof(tmp));
        return FLOE_OK;
    }
    case CKPT_REC_PART_DONE:
    case CKPT_REC_SEGMENT_DONE: {
        unsigned want =
            st->header.kind == FLOE_CKPT_UPLOAD ? CKPT_REC_PART_DONE : CKPT_REC_SEGMENT_DONE;
        if (type != want)
            return malformed(rp, recno, off, type, "wrong record kind for this journal", err);
        struct ckpt_part_disk d;
        if (n != sizeof(d))
            return malformed(rp, recno, off, type, "wrong body length", err);
        memcpy(&d, b, sizeof(d));
        struct floe_ckpt_part p = {.index = le64toh(d.index),
                                   .offset_bytes = le64toh(d.offset),
                                   .length_bytes = le64toh(d.length)};
        uint64_t end;
        if (__builtin_add_overflow(p.offset_bytes, p.length_bytes, &end))
            return malformed(rp, recno, off, type, "offset + length overflows", err);
        memcpy(p.tree_hash, d.tree_hash, 32);
        memcpy(p.xxh128, d.xxh128, 16);
        if (rp->nparts == rp->cap) {
            rp->cap = rp->cap ? rp->cap * 2 : 64;
            rp->parts = floe_xrealloc(rp->parts, rp->cap * sizeof(*rp->parts));
        }
        rp->parts[rp->nparts].part = p;
        rp->parts[rp->nparts].seq = rp->nparts;
        rp->nparts++;
        return FLOE_OK;
    }
    case CKPT_REC_COMPLETE: {
        struct ckpt_complete_disk d;
        if (n < sizeof(d))
            return malformed(rp, recno, off, type, "wrong body length", err);
        memcpy(&d, b, sizeof(d));
        uint32_t id_len = le32toh(d.id_len);
        if (id_len != n - sizeof(d) || id_len >= FLOE_CKPT_NAME_MAX ||
            memchr(b + sizeof(d), 0, id_len))
            return malformed(rp, recno, off, type, "bad archive id", err);
        if (id_len) {
            memcpy(st->header.archive_id, b + sizeof(d), id_len);
            st->header.archive_id[id_len] = 0;
        }
        st->complete = true;
        st->complete_size_bytes = le64toh(d.size);
        memcpy(st->header.tree_hash, d.tree_hash, 32);
        st->header.has_tree_hash = true;
        return FLOE_OK;
    }
    case CKPT_REC_HEADER: return malformed(rp, recno, off, type, "a second HEADER", err);
    default: return malformed(rp, recno, off, type, "unknown record type", err);
    }
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Whether a valid record frame (magic and frame_check) starts anywhere in p[1..n). Each append
 * is synced before the next one is written, so only the last record can be torn by a crash; a
 * damaged record with no valid frame after it is that last write, torn (a power cut can keep
 * some of its sectors and lose others, with the file size already extended). */
static bool frame_follows(const uint8_t *p, size_t n)
{
    for (size_t i = 1; i + FRAME_BYTES <= n; i++) {
        struct ckpt_frame_disk f;
        memcpy(&f, p + i, sizeof(f));
        if (le32toh(f.magic) == FRAME_MAGIC && le32toh(f.frame_check) == frame_check(p + i))
            return true;
    }
    return false;
}

static int cmp_part(const void *a, const void *b)
{
    const struct part_seq *x = a, *y = b;
    if (x->part.index != y->part.index)
        return x->part.index < y->part.index ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int torn_at(struct replay *rp, uint64_t off, uint64_t size, struct floe_error *err)
{
    if (off == 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              size ? "checkpoint %s: the header record is incomplete (torn)"
                                   : "checkpoint %s is empty (its header was never written)",
                              rp->path);
    rp->st->torn_tail = true;
    rp->st->torn_bytes = size - off;
    return FLOE_OK;
}

/* Replays data[0..size) into a new state. */
static int replay_buffer(const char *path, const uint8_t *data, uint64_t size,
                         struct floe_ckpt_state **out, struct floe_error *err)
{
    struct replay rp = {.path = path, .st = floe_xcalloc(1, sizeof(struct floe_ckpt_state))};
    int rc = FLOE_OK;
    uint64_t off = 0;
    size_t recno = 0;
    while (off < size) {
        uint64_t left = size - off;
        const uint8_t *p = data + off;
        if (left < FRAME_BYTES) {
            rc = torn_at(&rp, off, size, err);
            goto done;
        }
        struct ckpt_frame_disk f;
        memcpy(&f, p, sizeof(f));
        bool magic_ok = le32toh(f.magic) == FRAME_MAGIC;
        bool frame_ok = magic_ok && le32toh(f.frame_check) == frame_check(p);
        if (!frame_ok) {
            if (all_zero(p, left) || (off > 0 && !frame_follows(p, (size_t)left))) {
                rc = torn_at(&rp, off, size, err);
                goto done;
            }
            if (off == 0) {
                rc = floe_error_set(err, FLOE_E_CHECKPOINT,
                                    "%s is not a floe checkpoint journal (%s)", path,
                                    magic_ok ? "damaged first record" : "bad magic");
            } else {
                rc = floe_error_set(err, FLOE_E_CORRUPT,
                                    "checkpoint %s: record %zu at byte offset %" PRIu64
                                    " has a damaged frame; nothing after it is trusted",
                                    path, recno, off);
            }
            goto out;
        }
        unsigned version = le16toh(f.version);
        if (version != FLOE_CKPT_FORMAT_VERSION) {
            rc = floe_error_set(err, FLOE_E_CHECKPOINT,
                                "checkpoint %s: record %zu has format version %u; this floe reads "
                                "version %d",
                                path, recno, version, FLOE_CKPT_FORMAT_VERSION);
            goto out;
        }
        uint32_t body_len = le32toh(f.body_len);
        unsigned type = le16toh(f.type);
        if (body_len > MAX_BODY_BYTES) {
            rc = malformed(&rp, recno, off, type, "body longer than 64 KiB", err);
            goto out;
        }
        uint64_t rec_len = FRAME_BYTES + body_len + TRAILER_BYTES;
        if (rec_len > left) {
            rc = torn_at(&rp, off, size, err);
            goto done;
        }
        uint64_t check;
        memcpy(&check, p + FRAME_BYTES + body_len, 8);
        if (le64toh(check) != XXH3_64bits(p, FRAME_BYTES + body_len)) {
            if (rec_len == left || !frame_follows(p, (size_t)left)) {
                rc = torn_at(&rp, off, size, err);
                goto done;
            }
            rc = floe_error_set(err, FLOE_E_CORRUPT,
                                "checkpoint %s: record %zu (%s) at byte offset %" PRIu64
                                " fails its checksum; nothing after it is trusted",
                                path, recno, record_name(type), off);
            goto out;
        }
        rc = apply_record(&rp, recno, off, type, p + FRAME_BYTES, body_len, err);
        if (rc)
            goto out;
        off += rec_len;
        recno++;
    }
done:
    if (rc == FLOE_OK && recno == 0)
        rc = torn_at(&rp, 0, size, err); /* empty, or nothing but a torn header */
    if (rc)
        goto out;
    if (rp.nparts)
        qsort(rp.parts, rp.nparts, sizeof(*rp.parts), cmp_part);
    struct floe_ckpt_state *st = rp.st;
    st->parts = floe_xcalloc(rp.nparts ? rp.nparts : 1, sizeof(struct floe_ckpt_part));
    for (size_t i = 0; i < rp.nparts; i++) {
        if (i + 1 < rp.nparts && rp.parts[i + 1].part.index == rp.parts[i].part.index)
            continue; /* a later record of the same index wins */
        st->parts[st->part_count++] = rp.parts[i].part;
    }
    st->record_count = recno;
    st->valid_bytes = off;
    *out = st;
    rp.st = NULL;
out:
    free(rp.parts);
    floe_checkpoint_state_free(rp.st);
    return rc;
}

static int read_all(int fd, const char *path, uint8_t **out, uint64_t *size, struct floe_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        return floe_error_set_errno(err, FLOE_E_IO, e, path, "cannot stat checkpoint %s", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = floe_xmalloc(n ? n : 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return floe_error_set_errno(err, FLOE_E_IO, e, path, "cannot read checkpoint %s", path);
        }
        if (r == 0)
            break; /* shrank meanwhile: replay what is there */
        got += (size_t)r;
    }
    *out = buf;
    *size = got;
    return FLOE_OK;
}

static int open_file(const char *path, int flags, int *out, struct floe_error *err)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return floe_error_set_errno(err, e == ENOENT ? FLOE_E_NOT_FOUND : FLOE_E_IO, e, path,
                                    "cannot open checkpoint %s", path);
    }
    *out = fd;
    return FLOE_OK;
}

int floe_checkpoint_load(const char *path, struct floe_ckpt_state **out, struct floe_error *err)
{
    int fd = -1;
    uint8_t *data = NULL;
    uint64_t size = 0;
    int rc = open_file(path, O_RDONLY, &fd, err);
    if (rc)
        goto out;
    rc = read_all(fd, path, &data, &size, err);
    if (rc)
        goto out;
    rc = replay_buffer(path, data, size, out, err);
out:
    free(data);
    if (fd >= 0)
        close(fd);
    return rc;
}

void floe_checkpoint_state_free(struct floe_ckpt_state *state)
{
    if (!state)
        return;
    free(state->parts);
    free(state);
}

const struct floe_ckpt_part *floe_checkpoint_find_part(const struct floe_ckpt_state *s,
                                                       uint64_t index)
{
    size_t lo = 0, hi = s->part_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->parts[mid].index == index)
            return &s->parts[mid];
        if (s->parts[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- source identity ---- */

int floe_checkpoint_source_stat(const char *path, int fd, struct floe_ckpt_source *out,
                                struct floe_error *err)
{
    const char *p = path ? path : "";
    struct floe_ckpt_source s = {0};
    if (strlen(p) >= sizeof(s.path))
        return floe_error_set(err, FLOE_E_INVALID_ARG, "source path is longer than %zu bytes",
                              sizeof(s.path) - 1);
    struct stat st;
    if ((fd >= 0 ? fstat(fd, &st) : stat(p, &st)) != 0) {
        int e = errno;
        return floe_error_set_errno(err, e == ENOENT ? FLOE_E_NOT_FOUND : FLOE_E_IO, e, p,
                                    "cannot stat source %s", p);
    }
    memcpy(s.path, p, strlen(p) + 1);
    s.size_bytes = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : FLOE_CKPT_SIZE_UNKNOWN;
    uint64_t dev_bytes = 0;
    if (S_ISBLK(st.st_mode) && fd >= 0 && ioctl(fd, BLKGETSIZE64, &dev_bytes) == 0)
        s.size_bytes = dev_bytes;
    s.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    s.inode = (uint64_t)st.st_ino;
    s.device = (uint64_t)st.st_dev;
    *out = s;
    return FLOE_OK;
}

static void fmt_ns(int64_t ns, char *out, size_t cap)
{
    time_t sec = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    if (frac < 0) {
        frac += 1000000000L;
        sec--;
    }
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&sec, &tm))
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%09ldZ", when, frac);
}

/* Appends to msg (FLOE_ERROR_MSG_MAX bytes) at *n, clamping at the end. */
__attribute__((format(printf, 3, 4))) static void msg_add(char *msg, size_t *n, const char *fmt,
                                                          ...)
{
    if (*n >= FLOE_ERROR_MSG_MAX - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(msg + *n, FLOE_ERROR_MSG_MAX - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n = *n + (size_t)w < FLOE_ERROR_MSG_MAX - 1 ? *n + (size_t)w : FLOE_ERROR_MSG_MAX - 1;
}

bool floe_checkpoint_source_diff(const struct floe_ckpt_source *was,
                                 const struct floe_ckpt_source *now, char *msg, size_t cap)
{
    char buf[FLOE_ERROR_MSG_MAX] = "";
    size_t n = 0;
    if (now->size_bytes == FLOE_CKPT_SIZE_UNKNOWN)
        msg_add(buf, &n, "; size was %" PRIu64 " bytes, now it is not a regular file",
                was->size_bytes);
    else if (now->size_bytes != was->size_bytes)
        msg_add(buf, &n, "; size was %" PRIu64 " bytes, now %" PRIu64, was->size_bytes,
                now->size_bytes);
    if (now->mtime_ns != was->mtime_ns) {
        char a[48], b[48];
        fmt_ns(was->mtime_ns, a, sizeof(a));
        fmt_ns(now->mtime_ns, b, sizeof(b));
        msg_add(buf, &n, "; mtime was %s, now %s", a, b);
    }
    if (now->inode != was->inode)
        msg_add(buf, &n, "; inode was %" PRIu64 ", now %" PRIu64 " (the file was replaced)",
                was->inode, now->inode);
    if (cap)
        snprintf(msg, cap, "%s", n ? buf + 2 : "");
    return n != 0;
}

int floe_checkpoint_check_source(const struct floe_ckpt_header *hdr, const char *path, int fd,
                                 struct floe_error *err)
{
    const struct floe_ckpt_source *was = &hdr->source;
    if (was->size_bytes == FLOE_CKPT_SIZE_UNKNOWN)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "the checkpoint's source %s was a stream; it cannot be checked or "
                              "resumed",
                              was->path[0] ? was->path : "(stdin)");
    struct floe_ckpt_source now;
    int rc = floe_checkpoint_source_stat(path, fd, &now, err);
    if (rc)
        return rc;
    char msg[FLOE_ERROR_MSG_MAX - 128];
    if (!floe_checkpoint_source_diff(was, &now, msg, sizeof(msg)))
        return FLOE_OK;
    return floe_error_set(err, FLOE_E_SOURCE_CHANGED,
                          "source %s changed since the checkpoint was written: %s", path, msg);
}

/* ---- writing ---- */

static int lock_file(int fd, const char *path, struct floe_error *err)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return FLOE_OK;
    int e = errno;
    if (e == EWOULDBLOCK)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s is in use by another floe process", path);
    return floe_error_set_errno(err, FLOE_E_IO, e, path, "cannot lock checkpoint %s", path);
}

/* Writes rec at j->size_bytes; on failure cuts the file back so it stays valid. */
static int append_raw(struct floe_journal *j, const struct bbuf *rec, bool force_sync,
                      struct floe_error *err)
{
    if (j->broken)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s is unusable after an earlier write failure", j->path);
    size_t done = 0;
    while (done < rec->len) {
        ssize_t w = pwrite(j->fd, rec->p + done, rec->len - done, (off_t)(j->size_bytes + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            if (ftruncate(j->fd, (off_t)j->size_bytes) != 0)
                j->broken = true;
            return floe_error_set_errno(err, FLOE_E_IO, e, j->path,
                                        "cannot append to checkpoint %s", j->path);
        }
        done += (size_t)w;
    }
    j->size_bytes += rec->len;
    j->unsynced++;
    unsigned every = j->sync_every ? j->sync_every : 1;
    if (!j->no_sync && (force_sync || j->unsynced >= every))
        return floe_journal_sync(j, err);
    return FLOE_OK;
}

static int append_record(struct floe_journal *j, unsigned type, const void *body, size_t n,
                         bool force_sync, struct floe_error *err)
{
    struct bbuf rec = {0};
    build_record(&rec, type, body, n);
    int rc = append_raw(j, &rec, force_sync, err);
    free(rec.p);
    return rc;
}

int floe_journal_sync(struct floe_journal *j, struct floe_error *err)
{
    if (j->unsynced == 0)
        return FLOE_OK;
    if (fdatasync(j->fd) != 0) {
        int e = errno;
        j->broken = true; /* after a failed sync the page cache cannot be trusted */
        return floe_error_set_errno(err, FLOE_E_IO, e, j->path, "cannot sync checkpoint %s",
                                    j->path);
    }
    j->unsynced = 0;
    return FLOE_OK;
}

static struct floe_journal *journal_alloc(const char *path, const struct floe_journal_options *o)
{
    struct floe_journal *j = floe_xcalloc(1, sizeof(*j));
    j->fd = -1;
    j->path = floe_xstrdup(path);
    if (o) {
        j->sync_every = o->sync_every;
        j->no_sync = o->no_sync;
    }
    return j;
}

int floe_journal_create(const char *path, const struct floe_ckpt_header *hdr,
                        const struct floe_journal_options *opts, struct floe_journal **out,
                        struct floe_error *err)
{
    struct floe_journal *j = NULL;
    struct bbuf body = {0}, rec = {0};
    char tmp[FLOE_CKPT_PATH_MAX + 32];
    bool tmp_made = false;
    int rc = FLOE_OK;
    if (hdr->kind != FLOE_CKPT_UPLOAD && hdr->kind != FLOE_CKPT_DOWNLOAD) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "checkpoint header: unknown kind %d",
                            (int)hdr->kind);
        goto out;
    }
    rc = check_header_strings(hdr, err);
    if (rc)
        goto out;
    static atomic_uint s_tmp_seq; /* two journals of one process never share a temp name */
    unsigned seq = atomic_fetch_add(&s_tmp_seq, 1);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(), seq) >=
        sizeof(tmp)) {
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "checkpoint path is too long");
        goto out;
    }
    struct floe_ckpt_header h = *hdr;
    if (!h.created_unix_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        h.created_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    }
    encode_header(&h, &body);
    build_record(&rec, CKPT_REC_HEADER, body.p, body.len);

    j = journal_alloc(path, opts);
    j->kind = h.kind;
    j->fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        int e = errno;
        rc = floe_error_set_errno(err, FLOE_E_IO, e, tmp, "cannot create checkpoint %s", tmp);
        goto out;
    }
    tmp_made = true;
    rc = lock_file(j->fd, path, err);
    if (rc)
        goto out;
    rc = append_raw(j, &rec, true, err);
    if (rc)
        goto out;
    if (!j->no_sync && fsync(j->fd) != 0) { /* the new inode's size and blocks */
        int e = errno;
        rc = floe_error_set_errno(err, FLOE_E_IO, e, tmp, "cannot sync checkpoint %s", tmp);
        goto out;
    }
    bool overwrite = opts && opts->overwrite;
    if (!overwrite && link(tmp, path) != 0) {
        int e = errno;
        if (e == EEXIST) {
            rc = floe_error_set(err, FLOE_E_CHECKPOINT,
                                "checkpoint %s already exists: resume from it, or remove it to "
                                "start over",
                                path);
            goto out;
        }
        if (access(path, F_OK) == 0) { /* no hard links here: rename, having checked */
            rc = floe_error_set(err, FLOE_E_CHECKPOINT,
                                "checkpoint %s already exists: resume from it, or remove it to "
                                "start over",
                                path);
            goto out;
        }
        overwrite = true;
    }
    if (overwrite) {
        if (rename(tmp, path) != 0) {
            int e = errno;
            rc = floe_error_set_errno(err, FLOE_E_IO, e, path, "cannot create checkpoint %s", path);
            goto out;
        }
        tmp_made = false;
    }
    if (!j->no_sync) {
        rc = floe_dir_sync_parent(path, err);
        if (rc)
            goto out;
    }
    *out = j;
    j = NULL;
out:
    if (tmp_made)
        unlink(tmp);
    free(body.p);
    free(rec.p);
    floe_journal_destroy(j);
    return rc;
}

int floe_journal_open(const char *path, const struct floe_journal_options *opts,
                      struct floe_journal **out, struct floe_ckpt_state **state,
                      struct floe_error *err)
{
    struct floe_journal *j = journal_alloc(path, opts);
    struct floe_ckpt_state *st = NULL;
    uint8_t *data = NULL;
    uint64_t size = 0;
    int rc = open_file(path, O_RDWR, &j->fd, err);
    if (rc)
        goto out;
    rc = lock_file(j->fd, path, err);
    if (rc)
        goto out;
    rc = read_all(j->fd, path, &data, &size, err);
    if (rc)
        goto out;
    rc = replay_buffer(path, data, size, &st, err);
    if (rc)
        goto out;
    if (st->valid_bytes < size) { /* cut the torn tail so appends follow valid records */
        if (ftruncate(j->fd, (off_t)st->valid_bytes) != 0 || fsync(j->fd) != 0) {
            int e = errno;
            rc = floe_error_set_errno(err, FLOE_E_IO, e, path,
                                      "cannot cut the torn tail off checkpoint %s", path);
            goto out;
        }
    }
    j->kind = st->header.kind;
    j->size_bytes = st->valid_bytes;
    j->complete = st->complete;
    *out = j;
    j = NULL;
    if (state) {
        *state = st;
        st = NULL;
    }
out:
    free(data);
    floe_checkpoint_state_free(st);
    floe_journal_destroy(j);
    return rc;
}

static int set_id(struct floe_journal *j, unsigned type, const char *what, const char *id,
                  struct floe_error *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= FLOE_CKPT_NAME_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "%s must be 1 to %d bytes long (got %zu bytes)", what,
                              FLOE_CKPT_NAME_MAX - 1, n);
    struct bbuf body = {0};
    bb_put_str(&body, id);
    int rc = append_record(j, type, body.p, body.len, false, err);
    free(body.p);
    return rc;
}

int floe_journal_set_upload_id(struct floe_journal *j, const char *upload_id,
                               struct floe_error *err)
{
    return set_id(j, CKPT_REC_UPLOAD_ID, "upload id", upload_id, err);
}

int floe_journal_set_job_id(struct floe_journal *j, const char *job_id, struct floe_error *err)
{
    return set_id(j, CKPT_REC_JOB_ID, "job id", job_id, err);
}

int floe_journal_append_part(struct floe_journal *j, const struct floe_ckpt_part *part,
                             struct floe_error *err)
{
    if (j->complete)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s is complete: no more parts can be recorded", j->path);
    struct ckpt_part_disk d = {.index = htole64(part->index),
                               .offset = htole64(part->offset_bytes),
                               .length = htole64(part->length_bytes)};
    memcpy(d.tree_hash, part->tree_hash, 32);
    memcpy(d.xxh128, part->xxh128, 16);
    unsigned type = j->kind == FLOE_CKPT_UPLOAD ? CKPT_REC_PART_DONE : CKPT_REC_SEGMENT_DONE;
    return append_record(j, type, &d, sizeof(d), false, err);
}

int floe_journal_mark_complete(struct floe_journal *j, const char *archive_id, uint64_t size_bytes,
                               const uint8_t tree_hash[FLOE_CKPT_HASH_BYTES],
                               struct floe_error *err)
{
    size_t n = archive_id ? strlen(archive_id) : 0;
    if (n >= FLOE_CKPT_NAME_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "archive id is longer than %d bytes",
                              FLOE_CKPT_NAME_MAX - 1);
    struct ckpt_complete_disk d = {.size = htole64(size_bytes), .id_len = htole32((uint32_t)n)};
    memcpy(d.tree_hash, tree_hash, 32);
    struct bbuf body = {0};
    bb_put(&body, &d, sizeof(d));
    if (n)
        bb_put(&body, archive_id, n);
    int rc = append_record(j, CKPT_REC_COMPLETE, body.p, body.len, true, err);
    free(body.p);
    if (rc == FLOE_OK)
        j->complete = true;
    return rc;
}

const char *floe_journal_path(const struct floe_journal *j)
{
    return j->path;
}

void floe_journal_destroy(struct floe_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0) {
        if (!j->no_sync && j->unsynced && !j->broken)
            (void)fdatasync(j->fd);
        close(j->fd);
    }
    free(j->path);
    free(j);
}

int floe_journal_remove(const char *path, struct floe_error *err)
{
    if (unlink(path) != 0) {
        int e = errno;
        if (e == ENOENT)
            return FLOE_OK;
        return floe_error_set_errno(err, FLOE_E_IO, e, path, "cannot remove checkpoint %s", path);
    }
    return floe_dir_sync_parent(path, err);
}

int floe_checkpoint_default_path(const char *kind, const char *key, size_t key_len, char *out,
                                 size_t cap, struct floe_error *err)
{
    XXH64_hash_t h = XXH3_64bits(key, key_len);
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    if (xdg && *xdg)
        snprintf(dir, sizeof(dir), "%s/floe", xdg);
    else if (home && *home)
        snprintf(dir, sizeof(dir), "%s/.cache/floe", home);
    else
        snprintf(dir, sizeof(dir), "/tmp/floe-%u", (unsigned)getuid());
    /* mkdir -p for the two levels that may be missing (~/.cache, then floe) */
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        mkdir(parent, 0700);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return floe_error_set_errno(err, FLOE_E_IO, errno, dir,
                                    "cannot create the checkpoint directory %s", dir);
    snprintf(out, cap, "%s/%s-%016llx.ckpt", dir, kind, (unsigned long long)h);
    return FLOE_OK;
}
