/*
 * fuzz_range.c - every text parser of floe/range.h on arbitrary bytes: size strings,
 * RetrievalByteRange, Content-Range and Range (against a total taken from the input). Parsed
 * results must satisfy the parser's own promises (first <= last, inside the total).
 */
#include "fuzz.h"

#include "floe/range.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct floe_error err;
    uint64_t v;
    struct floe_byte_range r;
    floe_range_parse_size(s, &v, &err);
    if (floe_range_parse_retrieval(s, &r, &err) == FLOE_OK && r.first > r.last)
        abort();
    if (floe_range_parse_content_range(s, &r, &err) == FLOE_OK && r.first > r.last)
        abort();
    uint64_t total = size ? (uint64_t)data[0] * 1048576u + size : 0;
    if (floe_range_parse_http_range(s, total, &r, &err) == FLOE_OK &&
        (r.first > r.last || r.last >= total))
        abort();
    floe_range_is_tree_aligned(r, total);
    char buf[160];
    floe_range_describe(r, total, buf, sizeof(buf));
    free(s);
    return 0;
}
