/*
 * fuzz_inventory.c - the streaming JSON and CSV inventory parsers on arbitrary bytes, fed in
 * pieces whose sizes come from the input, as a network download would deliver them.
 */
#include "fuzz.h"

#include "floe/inventory.h"

#include <string.h>

static int on_archive(const struct floe_inventory_archive *a, void *user)
{
    (void)user;
    return strlen(a->archive_id) > (1u << 20); /* touch the strings */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int fmt = FLOE_INVENTORY_AUTO; fmt <= FLOE_INVENTORY_CSV; fmt++) {
        struct floe_inventory_parser *p =
            floe_inventory_parser_new((enum floe_inventory_format)fmt, on_archive, NULL);
        struct floe_error err;
        size_t off = 0, step = size ? 1 + data[0] % 64 : 1;
        int rc = FLOE_OK;
        while (rc == FLOE_OK && off < size) {
            size_t n = size - off < step ? size - off : step;
            rc = floe_inventory_parser_feed(p, data + off, n, &err);
            off += n;
        }
        struct floe_inventory_summary sum;
        if (rc == FLOE_OK)
            floe_inventory_parser_finish(p, &sum, &err);
        floe_inventory_parser_destroy(p);
    }
    return 0;
}
