/*
 * fuzz_pack.c - the pack readers on arbitrary bytes taken as a whole pack: the header, the
 * trailer (floe_pack_index_range), the index (floe_pack_read_index) and every frame it names
 * that lies inside the input (floe_pack_frame_meta, floe_pack_read_frame). A damaged pack must give
 * a status, never a crash or an over-read.
 *
 * Random bytes rarely get past the xxh3 checks, so each input is read twice: as it is, and
 * with the trailer's, the index's and each frame header's check recomputed over what is there
 * (on a copy), so the parsing behind the checks meets hostile values too. The layout used to
 * find the checks is docs/pack-format.md.
 */
#include "fuzz.h"

#include "pack.h"

#include <xxhash.h>

#include <stdlib.h>
#include <string.h>

#define MAX_FILE (1u << 20) /* larger claimed sizes are not allocated */

struct ctx {
    uint8_t *pack;
    size_t len;
    int fix;
};

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int on_entry(void *user, const struct floe_pack_entry *e)
{
    struct ctx *c = user;
    if (e->frame_offset > c->len || e->frame_length > c->len - e->frame_offset)
        return 0;
    if (e->size > MAX_FILE)
        return 0;
    uint8_t *f = c->pack + e->frame_offset;
    size_t plen = strlen(e->path);
    if (c->fix && e->frame_length >= 64 + plen) {
        uint8_t buf[56 + 4095];
        memcpy(buf, f, 56);
        memcpy(buf + 56, f + 64, plen);
        put64(f + 56, XXH3_64bits(buf, 56 + plen));
    }
    struct floe_error err;
    int64_t mtime_ns;
    uint32_t mode;
    (void)floe_pack_frame_meta(f, (size_t)e->frame_length, &mtime_ns, &mode, &err);
    uint8_t *dst = malloc(e->size ? e->size : 1);
    (void)floe_pack_read_frame(f, (size_t)e->frame_length, e, dst, &err);
    free(dst);
    return 0;
}

static void read_all(struct ctx *c)
{
    struct floe_error err;
    size_t tb = floe_pack_trailer_bytes();
    uint64_t seq;
    if (c->len >= floe_pack_header_bytes())
        (void)floe_pack_read_header(c->pack, floe_pack_header_bytes(), &seq, &err);
    if (c->len < tb)
        return;
    uint8_t *t = c->pack + c->len - tb;
    if (c->fix)
        put64(t + 32, XXH3_64bits(t, 32));
    uint64_t off, len;
    if (floe_pack_index_range(t, tb, c->len, &off, &len, &err) != FLOE_OK)
        return;
    uint8_t *index = c->pack + off;
    if (c->fix && len >= 8)
        put64(index + len - 8, XXH3_64bits(index, (size_t)len - 8));
    (void)floe_pack_read_index(index, (size_t)len, on_entry, c, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int fix = 0; fix <= 1; fix++) {
        struct ctx c = {.pack = malloc(size ? size : 1), .len = size, .fix = fix};
        if (size)
            memcpy(c.pack, data, size);
        read_all(&c);
        /* the index parser alone, on the input as if it were an index */
        struct floe_error err;
        (void)floe_pack_read_index(c.pack, size, on_entry, &c, &err);
        int64_t mtime_ns;
        uint32_t mode;
        (void)floe_pack_frame_meta(c.pack, size, &mtime_ns, &mode, &err);
        free(c.pack);
    }
    return 0;
}
