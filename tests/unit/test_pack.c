/*
 * test_pack.c - pack.c: many files (0 bytes, 1 byte, one whose frame ends exactly on a MiB
 * boundary, 5 MiB random, highly compressible, paths with odd bytes and of 4,095 bytes) round
 * trip through a memory sink at zstd levels 0, 1 and 3; the index parses back to the entries
 * the writer gave; every frame reads back by its entry, and floe_pack_frame_meta gives the
 * index's mtime and mode from the frame alone; every single-byte change anywhere in a
 * pack is detected (or, inside zstd data, changes nothing restored); truncation, a sink
 * failure at every write, bad arguments and the refusals' messages; frames prepared on
 * threads of their own and added in order give the very bytes of floe_pack_add().
 */
#include "t_util.h"

#include "pack.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1024 * 1024)

/* A memory sink that can be told to fail at its n-th call (1-based; 0: never). */
struct sink {
    uint8_t *buf;
    size_t len, cap;
    int calls, fail_at;
};

static int mem_sink(void *user, const void *data, size_t len, struct floe_error *err)
{
    struct sink *s = user;
    if (++s->calls == s->fail_at)
        return floe_error_set(err, FLOE_E_IO, "disk full (test)");
    if (s->len + len > s->cap) {
        s->cap = 2 * (s->len + len);
        s->buf = realloc(s->buf, s->cap);
        assert_non_null(s->buf);
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return FLOE_OK;
}

struct file {
    char *path;
    uint8_t *data;
    size_t size;
    struct floe_pack_entry entry; /* as floe_pack_add gave it (then its path is path) */
};

struct set {
    struct file f[16];
    int n;
};

static void add_file(struct set *s, const char *path, size_t path_len, uint8_t *data, size_t size)
{
    struct file *f = &s->f[s->n++];
    f->path = malloc(path_len + 1);
    memcpy(f->path, path, path_len);
    f->path[path_len] = 0;
    f->data = data;
    f->size = size;
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    t_fill_random(p, n);
    return p;
}

static uint8_t *text_bytes(size_t n)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t) "the quick brown fox jumps over the lazy dog\n"[i % 44];
    return p;
}

/* The files of the round trip; the MiB-boundary one is sized by the writer's position. */
static void make_set(struct set *s)
{
    memset(s, 0, sizeof(*s));
    add_file(s, "empty", strlen("empty"), NULL, 0);
    add_file(s, "one", strlen("one"), random_bytes(1), 1);
    add_file(s, "dir/text with spaces.txt", strlen("dir/text with spaces.txt"), text_bytes(300000),
             300000);
    add_file(s, "odd/\n\xff\xfe\x01 \t\\name", strlen("odd/\n\xff\xfe\x01 \t\\name"),
             random_bytes(777), 777);
    add_file(s, "boundary", strlen("boundary"), NULL, 0); /* data set in write_pack */
    add_file(s, "after-boundary", strlen("after-boundary"), random_bytes(100), 100);
    add_file(s, "random-5MiB", strlen("random-5MiB"), random_bytes(5 * MiB), 5 * MiB);
    char longp[4095];
    memset(longp, 'p', sizeof(longp));
    longp[0] = 'L';
    add_file(s, longp, sizeof(longp), text_bytes(5000), 5000);
    add_file(s, "zeros", strlen("zeros"), calloc(1, 1 << 20), 1 << 20);
}

static void free_set(struct set *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->f[i].path);
        free(s->f[i].data);
    }
}

static void write_pack(struct set *s, int level, struct sink *out)
{
    struct floe_error err = {0};
    struct floe_pack_writer *w = NULL;
    struct floe_pack_writer_options o = {
        .sink = mem_sink, .user = out, .zstd_level = level, .sequence = 42};
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_OK);
    assert_int_equal(floe_pack_bytes(w), floe_pack_header_bytes());
    for (int i = 0; i < s->n; i++) {
        struct file *f = &s->f[i];
        if (strcmp(f->path, "boundary") == 0) {
            /* its frame ends exactly at 1 MiB: the next frame starts MiB-aligned */
            f->size = MiB - floe_pack_bytes(w) - floe_pack_frame_header_bytes(8);
            free(f->data);
            f->data = random_bytes(f->size);
        }
        uint64_t before = floe_pack_bytes(w);
        assert_int_equal(floe_pack_add(w, f->path, 1700000000123456789 + i, 0100644 + i, f->data,
                                       f->size, &f->entry, &err),
                         FLOE_OK);
        assert_int_equal(f->entry.frame_offset, before);
        assert_int_equal(floe_pack_bytes(w), before + f->entry.frame_length);
        assert_string_equal(f->entry.path, f->path);
        if (strcmp(f->path, "boundary") == 0)
            assert_int_equal(floe_pack_bytes(w), MiB);
    }
    assert_int_equal(floe_pack_count(w), (uint64_t)s->n);
    uint64_t total = 0;
    assert_int_equal(floe_pack_finish(w, &total, &err), FLOE_OK);
    assert_int_equal(total, out->len);
    /* entries handed out stay valid until the writer is freed */
    for (int i = 0; i < s->n; i++) {
        assert_string_equal(s->f[i].entry.path, s->f[i].path);
        s->f[i].entry.path = s->f[i].path; /* the writer's copy goes with it */
    }
    assert_int_equal(floe_pack_add(w, "late", 0, 0, "x", 1, NULL, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "pack writer: the pack is finished and takes nothing more");
    floe_pack_writer_free(w);
}

/* Reading a whole pack back: header, trailer, index, every frame. */
struct reader {
    const uint8_t *pack;
    size_t len;
    struct set *expect; /* NULL: only read, compare nothing */
    int seen;
    int frame_rc;
    struct floe_error err;
};

static int on_entry(void *user, const struct floe_pack_entry *e)
{
    struct reader *r = user;
    if (r->expect) {
        assert_true(r->seen < r->expect->n);
        const struct floe_pack_entry *w = &r->expect->f[r->seen].entry;
        assert_string_equal(e->path, w->path);
        assert_int_equal(e->size, w->size);
        assert_int_equal(e->mtime_ns, w->mtime_ns);
        assert_int_equal(e->mode, w->mode);
        assert_int_equal(e->frame_offset, w->frame_offset);
        assert_int_equal(e->frame_length, w->frame_length);
        assert_int_equal(e->stored_length, w->stored_length);
        assert_int_equal(e->compression, w->compression);
        assert_memory_equal(e->xxh128, w->xxh128, FLOE_PACK_XXH_BYTES);
    }
    r->seen++;
    if (e->frame_offset > r->len || e->frame_length > r->len - e->frame_offset)
        return r->frame_rc = floe_error_set(&r->err, FLOE_E_CORRUPT, "frame outside the pack");
    uint8_t *dst = malloc(e->size ? e->size : 1);
    int rc = floe_pack_read_frame(r->pack + e->frame_offset, e->frame_length, e, dst, &r->err);
    /* and the frame header's own metadata agrees with the index */
    int64_t mtime_ns = 0;
    uint32_t mode = 0;
    if (rc == FLOE_OK)
        rc = floe_pack_frame_meta(r->pack + e->frame_offset, e->frame_length, &mtime_ns, &mode,
                                  &r->err);
    if (rc == FLOE_OK && (mtime_ns != e->mtime_ns || mode != e->mode))
        rc = floe_error_set(&r->err, FLOE_E_CORRUPT, "frame meta differs from the index");
    if (rc == FLOE_OK && r->expect) {
        const struct file *f = &r->expect->f[r->seen - 1];
        assert_int_equal(e->size, f->size);
        if (f->size)
            assert_memory_equal(dst, f->data, f->size);
    }
    free(dst);
    return r->frame_rc = rc;
}

static int read_pack(struct reader *r)
{
    struct floe_error *err = &r->err;
    uint64_t seq = 0, off, len;
    size_t tb = floe_pack_trailer_bytes();
    if (r->len < floe_pack_header_bytes() + tb)
        return floe_error_set(err, FLOE_E_CORRUPT, "short");
    int rc = floe_pack_read_header(r->pack, floe_pack_header_bytes(), &seq, err);
    if (rc)
        return rc;
    if (seq != 42)
        return floe_error_set(err, FLOE_E_CORRUPT, "sequence");
    rc = floe_pack_index_range(r->pack + r->len - tb, tb, r->len, &off, &len, err);
    if (rc)
        return rc;
    return floe_pack_read_index(r->pack + off, len, on_entry, r, err);
}

static void test_pack_round_trip(void **state)
{
    (void)state;
    for (int level = 0; level <= 3; level += (level == 0 ? 1 : 2)) {
        struct set s;
        make_set(&s);
        struct sink out = {0};
        write_pack(&s, level, &out);
        struct reader r = {.pack = out.buf, .len = out.len, .expect = &s};
        int rc = read_pack(&r);
        if (rc)
            fprintf(stderr, "level %d: %s\n", level, r.err.message);
        assert_int_equal(rc, FLOE_OK);
        assert_int_equal(r.seen, s.n);
        for (int i = 0; i < s.n; i++) {
            const struct file *f = &s.f[i];
            bool squeezable = strcmp(f->path, "dir/text with spaces.txt") == 0 ||
                              strcmp(f->path, "zeros") == 0 || f->path[0] == 'L';
            enum floe_pack_compression want =
                level > 0 && squeezable ? FLOE_PACK_ZSTD : FLOE_PACK_STORED;
            assert_int_equal(f->entry.compression, want);
            if (want == FLOE_PACK_ZSTD)
                assert_true(f->entry.stored_length < f->size / 10);
            else
                assert_int_equal(f->entry.stored_length, f->size);
        }
        fprintf(stderr, "# level %d: %zu bytes for %d files\n", level, out.len, s.n);
        free(out.buf);
        free_set(&s);
    }
}

static void test_pack_empty(void **state)
{
    (void)state;
    struct sink out = {0};
    struct floe_error err = {0};
    struct floe_pack_writer *w = NULL;
    struct floe_pack_writer_options o = {.sink = mem_sink, .user = &out, .sequence = 42};
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_OK);
    uint64_t total = 0;
    assert_int_equal(floe_pack_finish(w, &total, &err), FLOE_OK);
    assert_int_equal(total, 120);
    floe_pack_writer_free(w);
    struct reader r = {.pack = out.buf, .len = out.len};
    assert_int_equal(read_pack(&r), FLOE_OK);
    assert_int_equal(r.seen, 0);
    free(out.buf);
}

/* A small pack with a stored and a zstd frame: every byte changed, one at a time. */
static void test_pack_every_byte_covered(void **state)
{
    (void)state;
    struct sink out = {0};
    struct floe_error err = {0};
    struct floe_pack_writer *w = NULL;
    struct floe_pack_writer_options o = {
        .sink = mem_sink, .user = &out, .zstd_level = 3, .sequence = 42};
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_OK);
    struct set s = {0};
    add_file(&s, "a/stored", strlen("a/stored"), random_bytes(40), 40);
    add_file(&s, "b/squeezed", strlen("b/squeezed"), text_bytes(400), 400);
    add_file(&s, "c", strlen("c"), NULL, 0);
    for (int i = 0; i < s.n; i++)
        assert_int_equal(
            floe_pack_add(w, s.f[i].path, i, 0644, s.f[i].data, s.f[i].size, &s.f[i].entry, &err),
            FLOE_OK);
    assert_int_equal(s.f[1].entry.compression, FLOE_PACK_ZSTD);
    assert_int_equal(floe_pack_finish(w, NULL, &err), FLOE_OK);
    uint64_t zstart = s.f[1].entry.frame_offset + floe_pack_frame_header_bytes(10);
    uint64_t zend = s.f[1].entry.frame_offset + s.f[1].entry.frame_length;
    uint8_t *copy = malloc(out.len);
    int corrupt = 0, checksum = 0, harmless = 0;
    for (size_t pos = 0; pos < out.len; pos++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, out.buf, out.len);
            copy[pos] ^= (uint8_t)(1u << bit);
            struct reader r = {.pack = copy, .len = out.len, .expect = NULL};
            int rc = read_pack(&r);
            bool in_zstd = pos >= zstart && pos < zend;
            if (rc == FLOE_OK) {
                /* only a zstd frame may absorb a change (e.g. its window size): then every
                 * file still restores exactly, which the xxh3-128 checks proved */
                if (!in_zstd) {
                    fprintf(stderr, "byte %zu bit %d: change not detected\n", pos, bit);
                    fail();
                }
                harmless++;
            } else {
                assert_true(rc == FLOE_E_CORRUPT || rc == FLOE_E_CHECKSUM);
                corrupt += rc == FLOE_E_CORRUPT;
                checksum += rc == FLOE_E_CHECKSUM;
            }
        }
    }
    fprintf(stderr, "# %zu bytes x 3 bits: %d corrupt, %d checksum, %d harmless (zstd)\n", out.len,
            corrupt, checksum, harmless);
    assert_true(checksum > 0);
    free(copy);
    free(out.buf);
    free_set(&s);
    floe_pack_writer_free(w);
}

/* One damaged byte per region, with the status and message each gives. */
static void test_pack_corrupt_regions(void **state)
{
    (void)state;
    struct set s;
    make_set(&s);
    struct sink out = {0};
    write_pack(&s, 3, &out);
    const struct floe_pack_entry *stored = &s.f[1].entry, *zstd = &s.f[2].entry;
    assert_int_equal(zstd->compression, FLOE_PACK_ZSTD);
    size_t tr = out.len - floe_pack_trailer_bytes();
    uint64_t ioff = 0, ilen = 0;
    struct floe_error err = {0};
    assert_int_equal(floe_pack_index_range(out.buf + tr, 48, out.len, &ioff, &ilen, &err), FLOE_OK);
    struct {
        const char *region;
        size_t pos;
        int status;
        const char *message;
    } cases[] = {
        {"header", 20, FLOE_E_CORRUPT, "pack header: checksum mismatch"},
        {"header magic", 0, FLOE_E_CORRUPT, "pack header: bad magic (not a floe pack)"},
        {"frame header", stored->frame_offset + 8, FLOE_E_CORRUPT,
         "pack frame of one: header checksum mismatch"},
        {"frame path", zstd->frame_offset + 64, FLOE_E_CORRUPT,
         "pack frame of dir/text with spaces.txt: header checksum mismatch"},
        {"stored data", stored->frame_offset + 64 + 3, FLOE_E_CHECKSUM,
         "pack frame of one: the content does not match its xxh3-128"},
        {"zstd data", zstd->frame_offset + 64 + 24 + zstd->stored_length / 2, 0, "pack frame of "},
        {"index", ioff + 40, FLOE_E_CORRUPT, "pack index: checksum mismatch"},
        {"trailer", tr + 3, FLOE_E_CORRUPT, "pack trailer: checksum mismatch"},
        {"trailer magic", out.len - 1, FLOE_E_CORRUPT, "pack trailer: bad magic (not a floe pack)"},
    };
    uint8_t *copy = malloc(out.len);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(copy, out.buf, out.len);
        copy[cases[i].pos] ^= 0x20;
        struct reader r = {.pack = copy, .len = out.len};
        int rc = read_pack(&r);
        if (cases[i].status)
            assert_int_equal(rc, cases[i].status);
        else
            assert_true(rc == FLOE_E_CORRUPT || rc == FLOE_E_CHECKSUM);
        if (strncmp(r.err.message, cases[i].message, strlen(cases[i].message)) != 0) {
            fprintf(stderr, "%s: \"%s\", want \"%s\"\n", cases[i].region, r.err.message,
                    cases[i].message);
            fail();
        }
    }
    /* truncated, or read with the wrong size */
    assert_int_equal(floe_pack_index_range(out.buf + tr - 1, 48, out.len - 1, &ioff, &ilen, &err),
                     FLOE_E_CORRUPT);
    assert_int_equal(floe_pack_index_range(out.buf + tr, 48, out.len + 1, &ioff, &ilen, &err),
                     FLOE_E_CORRUPT);
    assert_non_null(strstr(err.message, "does not end where the trailer starts"));
    assert_int_equal(floe_pack_index_range(out.buf + tr, 47, out.len, &ioff, &ilen, &err),
                     FLOE_E_CORRUPT);
    assert_string_equal(err.message, "pack trailer is 47 bytes, not 48");
    assert_int_equal(floe_pack_read_index(out.buf + ioff, (size_t)ilen - 1, on_entry,
                                          &(struct reader){.pack = out.buf, .len = out.len}, &err),
                     FLOE_E_CORRUPT);
    /* a frame read with another file's entry, or cut short */
    uint8_t *dst = malloc(s.f[2].size);
    assert_int_equal(
        floe_pack_read_frame(out.buf + stored->frame_offset, stored->frame_length, zstd, dst, &err),
        FLOE_E_CORRUPT);
    assert_int_equal(
        floe_pack_read_frame(out.buf + zstd->frame_offset, zstd->frame_length - 1, zstd, dst, &err),
        FLOE_E_CORRUPT);
    /* floe_pack_frame_meta on a damaged or short header */
    int64_t mt;
    uint32_t md;
    assert_int_equal(floe_pack_frame_meta(out.buf + zstd->frame_offset, 63, &mt, &md, &err),
                     FLOE_E_CORRUPT);
    assert_string_equal(err.message, "pack frame: no frame header");
    memcpy(copy, out.buf, out.len);
    copy[zstd->frame_offset + 24] ^= 1; /* the mode */
    assert_int_equal(
        floe_pack_frame_meta(copy + zstd->frame_offset, zstd->frame_length, &mt, &md, &err),
        FLOE_E_CORRUPT);
    assert_string_equal(err.message, "pack frame: header checksum mismatch");
    struct floe_pack_entry other = *zstd;
    other.mtime_ns++;
    assert_int_equal(
        floe_pack_read_frame(out.buf + zstd->frame_offset, zstd->frame_length, &other, dst, &err),
        FLOE_E_CORRUPT);
    assert_string_equal(err.message, "pack frame of dir/text with spaces.txt: its header does not "
                                     "match the index (mtime)");
    assert_int_equal(
        floe_pack_read_frame(out.buf + zstd->frame_offset, zstd->frame_length, zstd, dst, &err),
        FLOE_OK);
    free(dst);
    free(copy);
    free(out.buf);
    free_set(&s);
}

/* A sink failure at each of its calls: the writer returns it, then refuses to go on. */
static void test_pack_sink_failure(void **state)
{
    (void)state;
    uint8_t *data = text_bytes(1000);
    for (int fail_at = 1;; fail_at++) {
        struct sink out = {.fail_at = fail_at};
        struct floe_error err = {0};
        struct floe_pack_writer *w = NULL;
        struct floe_pack_writer_options o = {.sink = mem_sink, .user = &out, .zstd_level = 1};
        int rc = floe_pack_writer_new(&o, &w, &err);
        for (int i = 0; rc == FLOE_OK && i < 3; i++)
            rc = floe_pack_add(w, i == 1 ? "b" : "a", 0, 0, data, 1000, NULL, &err);
        if (rc == FLOE_OK)
            rc = floe_pack_finish(w, NULL, &err);
        if (out.calls < fail_at) {
            assert_int_equal(rc, FLOE_OK);
            assert_true(fail_at > 8); /* header, 3 x (frame header, data), index, trailer */
            floe_pack_writer_free(w);
            free(out.buf);
            break;
        }
        assert_int_equal(rc, FLOE_E_IO);
        assert_string_equal(err.message, "disk full (test)");
        if (fail_at == 1) {
            assert_null(w);
        } else {
            assert_int_equal(floe_pack_add(w, "c", 0, 0, "x", 1, NULL, &err), FLOE_E_INVALID_ARG);
            assert_string_equal(err.message,
                                "pack writer: an earlier write failed, the pack is incomplete");
            assert_int_equal(floe_pack_finish(w, NULL, &err), FLOE_E_INVALID_ARG);
        }
        floe_pack_writer_free(w);
        free(out.buf);
    }
    free(data);
}

static void test_pack_bad_arguments(void **state)
{
    (void)state;
    struct sink out = {0};
    struct floe_error err = {0};
    struct floe_pack_writer *w = NULL;
    struct floe_pack_writer_options o = {.user = &out};
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "pack writer: a sink is required");
    o.sink = mem_sink;
    o.zstd_level = 20;
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "pack writer: zstd level 20 is outside 0..19");
    o.zstd_level = -1;
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_E_INVALID_ARG);
    o.zstd_level = 19;
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_OK);
    assert_int_equal(floe_pack_add(w, "", 0, 0, NULL, 0, NULL, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "pack path is empty");
    assert_int_equal(floe_pack_add(w, NULL, 0, 0, NULL, 0, NULL, &err), FLOE_E_INVALID_ARG);
    char *longp = malloc(4097);
    memset(longp, 'x', 4096);
    longp[4096] = 0;
    assert_int_equal(floe_pack_add(w, longp, 0, 0, NULL, 0, NULL, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "pack path of 4096 bytes is longer than 4095");
    free(longp);
    assert_int_equal(floe_pack_add(w, "x", 0, 0, NULL, 5, NULL, &err), FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "pack file x: no data for 5 bytes");
    assert_int_equal(floe_pack_count(w), 0);
    /* the header alone is no pack */
    uint64_t seq = 1;
    assert_int_equal(floe_pack_read_header(out.buf, 31, &seq, &err), FLOE_E_CORRUPT);
    assert_string_equal(err.message, "pack header is 31 bytes, not 32");
    assert_int_equal(floe_pack_read_header(out.buf, 32, &seq, &err), FLOE_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(floe_pack_read_index(out.buf, 32, on_entry, NULL, &err), FLOE_E_CORRUPT);
    assert_string_equal(err.message, "pack index of 32 bytes is shorter than 40");
    floe_pack_writer_free(w);
    floe_pack_writer_free(NULL);
    free(out.buf);
}

/* The writer's probe: a frame of 32 KiB or more whose middle 8 KiB do not compress is stored
 * untried; below 32 KiB the whole frame decides. */
static void test_pack_probe(void **state)
{
    (void)state;
    struct sink out = {0};
    struct floe_error err = {0};
    struct floe_pack_writer *w = NULL;
    struct floe_pack_writer_options o = {.sink = mem_sink, .user = &out, .zstd_level = 3};
    assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_OK);
    uint8_t *big = text_bytes(64 * 1024), *noise = random_bytes(8192);
    memcpy(big + 28 * 1024, noise, 8192);
    struct floe_pack_entry e;
    assert_int_equal(floe_pack_add(w, "mid-noise-64k", 0, 0, big, 64 * 1024, &e, &err), FLOE_OK);
    assert_int_equal(e.compression, FLOE_PACK_STORED);
    memcpy(big + 28 * 1024, big, 8192); /* the same text all through */
    assert_int_equal(floe_pack_add(w, "text-64k", 0, 0, big, 64 * 1024, &e, &err), FLOE_OK);
    assert_int_equal(e.compression, FLOE_PACK_ZSTD);
    uint8_t *small = text_bytes(32 * 1024 - 1);
    memcpy(small + 12 * 1024, noise, 8192);
    assert_int_equal(floe_pack_add(w, "mid-noise-32k-1", 0, 0, small, 32 * 1024 - 1, &e, &err),
                     FLOE_OK);
    assert_int_equal(e.compression, FLOE_PACK_ZSTD);
    free(big);
    free(small);
    free(noise);
    free(out.buf);
    floe_pack_writer_free(w);
}

/* One file's frame prepared on a thread of its own (as the packer does on the hash pool). */
struct prep {
    pthread_t th;
    const struct file *f;
    int level, rc;
    struct floe_pack_frame frame;
};

static void *prepare_thread(void *arg)
{
    struct prep *p = arg;
    struct floe_error err = {0};
    p->rc = floe_pack_frame_prepare(&p->frame, p->level, p->f->data, p->f->size, &err);
    return NULL;
}

/* Frames prepared in parallel, on one thread each, then added in order: the same pack, byte for
 * byte and entry for entry, as floe_pack_add() writes at every level. */
static void test_pack_prepared_frames_same_bytes(void **state)
{
    (void)state;
    static const int levels[] = {0, 1, 3};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        struct set s;
        make_set(&s);
        struct sink one = {0}, many = {0};
        write_pack(&s, levels[l], &one);
        struct prep preps[16];
        for (int i = 0; i < s.n; i++) {
            preps[i] = (struct prep){.f = &s.f[i], .level = levels[l]};
            assert_int_equal(pthread_create(&preps[i].th, NULL, prepare_thread, &preps[i]), 0);
        }
        struct floe_error err = {0};
        struct floe_pack_writer *w = NULL;
        struct floe_pack_writer_options o = {
            .sink = mem_sink, .user = &many, .zstd_level = levels[l], .sequence = 42};
        assert_int_equal(floe_pack_writer_new(&o, &w, &err), FLOE_OK);
        int compressed = 0;
        for (int i = 0; i < s.n; i++) {
            assert_int_equal(pthread_join(preps[i].th, NULL), 0);
            assert_int_equal(preps[i].rc, FLOE_OK);
            struct floe_pack_entry e;
            assert_int_equal(floe_pack_add_prepared(w, s.f[i].path, 1700000000123456789 + i,
                                                    0100644 + i, &preps[i].frame, &e, &err),
                             FLOE_OK);
            assert_int_equal(e.frame_offset, s.f[i].entry.frame_offset);
            assert_int_equal(e.stored_length, s.f[i].entry.stored_length);
            assert_int_equal(e.compression, s.f[i].entry.compression);
            assert_memory_equal(e.xxh128, s.f[i].entry.xxh128, FLOE_PACK_XXH_BYTES);
            compressed += e.compression == FLOE_PACK_ZSTD;
            floe_pack_frame_free(&preps[i].frame);
        }
        assert_int_equal(floe_pack_finish(w, NULL, &err), FLOE_OK);
        floe_pack_writer_free(w);
        assert_true(levels[l] == 0 ? compressed == 0 : compressed >= 3);
        assert_int_equal(many.len, one.len);
        assert_memory_equal(many.buf, one.buf, one.len);
        free(one.buf);
        free(many.buf);
        free_set(&s);
    }
    struct floe_pack_frame f = {0};
    struct floe_error err = {0};
    assert_int_equal(floe_pack_frame_prepare(&f, 20, "x", 1, &err), FLOE_E_INVALID_ARG);
    assert_int_equal(floe_pack_frame_prepare(&f, 1, NULL, 5, &err), FLOE_E_INVALID_ARG);
    floe_pack_frame_free(&f);
    floe_pack_frame_free(NULL);
}

int main(void)
{
    t_seed();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_round_trip),
        cmocka_unit_test(test_pack_empty),
        cmocka_unit_test(test_pack_every_byte_covered),
        cmocka_unit_test(test_pack_corrupt_regions),
        cmocka_unit_test(test_pack_sink_failure),
        cmocka_unit_test(test_pack_bad_arguments),
        cmocka_unit_test(test_pack_probe),
        cmocka_unit_test(test_pack_prepared_frames_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
