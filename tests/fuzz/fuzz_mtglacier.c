/*
 * fuzz_mtglacier.c - mt-aws-glacier's journal parser (every line, malformed ones skipped, so
 * the whole input is parsed) and the mt1/mt2 description decoder on arbitrary bytes; a decoded
 * name and time must encode again.
 */
#include "fuzz.h"

#include "mtglacier.h"

#include <stdlib.h>
#include <string.h>

static int on_record(const struct floe_mtglacier_record *r, void *user)
{
    (void)user;
    size_t n = strlen(r->archive_id); /* touch the strings */
    if (r->filename)
        n += strlen(r->filename);
    if (r->job_id)
        n += strlen(r->job_id);
    return n > (1u << 21);
}

static int on_malformed(uint64_t line, const char *reason, void *user)
{
    (void)line;
    (void)user;
    return strlen(reason) == 0; /* go on */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct floe_error err;
    struct floe_mtglacier_parse p = {.on_record = on_record, .on_malformed = on_malformed};
    (void)floe_mtglacier_parse_buffer(data, size, "fuzz", &p, &err);
    p.on_malformed = NULL; /* strict: stops at the first malformed line */
    (void)floe_mtglacier_parse_buffer(data, size, "fuzz", &p, &err);

    size_t n = size < 4096 ? size : 4096;
    char *desc = malloc(n + 1);
    if (!desc)
        return 0;
    memcpy(desc, data, n);
    desc[n] = 0;
    char name[FLOE_MTGLACIER_DESC_MAX];
    int64_t mtime;
    if (floe_mtglacier_mt2_decode(desc, name, &mtime, &err) == FLOE_OK) {
        char again[FLOE_MTGLACIER_DESC_MAX + 1];
        int st = floe_mtglacier_mt2_encode(name, mtime, again, sizeof(again), &err);
        if (st != FLOE_OK && st != FLOE_E_RANGE)
            abort(); /* a name the decoder accepts is one the encoder takes */
    }
    free(desc);
    return 0;
}
