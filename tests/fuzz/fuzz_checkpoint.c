/*
 * fuzz_checkpoint.c - the resume journal reader on arbitrary file contents: a torn, truncated
 * or tampered journal must give a status, never a crash or an over-read.
 */
#include "fuzz.h"

#include "floe/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof(path), "/tmp/floe-fuzz-ckpt-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct floe_error err;
    struct floe_ckpt_state *st = NULL;
    if (floe_checkpoint_load(path, &st, &err) == FLOE_OK) {
        for (size_t i = 0; i < st->part_count; i++)
            (void)floe_checkpoint_find_part(st, st->parts[i].index);
        floe_checkpoint_state_free(st);
    }
    unlink(path);
    return 0;
}
