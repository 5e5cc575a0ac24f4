/*
 * mfetch.c - see mfetch.h. Each xfer's done callback only counts down; the hashing happens on
 * the calling thread once everything has arrived (the transfer thread keeps moving bytes).
 */
#include "mfetch.h"

#include "alloc.h"
#include "client_impl.h"
#include "latch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_done(struct floe_xfer *x)
{
    floe_latch_count_down(x->user);
}

static struct floe_xfer *make(struct floe_client *c, const char *vault, struct floe_mfetch *it,
                              struct floe_latch *w)
{
    struct floe_xfer *x =
        floe_call_xfer(floe_call_job_output(c, vault, it->job_id, !it->whole, it->off, it->len));
    x->sink = it->buf;
    x->sink_cap = it->len ? (size_t)it->len : 1;
    x->done = on_done;
    x->user = w;
    return x;
}

size_t floe_mfetch_run(struct floe_client *c, const char *vault, struct floe_mfetch *items,
                       size_t n)
{
    struct floe_latch w;
    floe_latch_init(&w, n);
    struct floe_xfer **xs = floe_xcalloc(n ? n : 1, sizeof(*xs));
    for (size_t i = 0; i < n; i++)
        xs[i] = make(c, vault, &items[i], &w);
    for (size_t i = 0; i < n; i++)
        floe_transfer_submit(c->transfer, xs[i]);
    floe_latch_wait(&w);
    size_t failed = 0;
    uint8_t(*leaves)[FLOE_HASH_BYTES] = NULL;
    uint64_t nleaves = 0;
    for (size_t i = 0; i < n; i++) {
        struct floe_mfetch *it = &items[i];
        struct floe_xfer *x = xs[i];
        memset(&it->err, 0, sizeof(it->err));
        it->status = x->status;
        if (it->status)
            it->err = x->err;
        else if (x->resp_len != it->len)
            it->status =
                floe_error_set(&it->err, FLOE_E_SERVICE,
                               "GetJobOutput of job %s, bytes %" PRIu64 "-%" PRIu64
                               ": %zu bytes received, %" PRIu64 " expected",
                               it->job_id, it->off, it->off + it->len - 1, x->resp_len, it->len);
        const char *h = it->status ? NULL : floe_xfer_header(x, "x-amz-sha256-tree-hash");
        snprintf(it->service_tree, sizeof(it->service_tree), "%s", h ? h : "");
        floe_xfer_destroy(x);
        if (it->status) {
            failed++;
            continue;
        }
        uint64_t need = floe_treehash_leaf_count(it->len) + 1;
        if (need > nleaves) {
            free(leaves);
            leaves = floe_xcalloc(need, FLOE_HASH_BYTES);
            nleaves = need;
        }
        floe_treehash_part(it->buf, (size_t)it->len, leaves, it->tree, it->sha256);
    }
    free(leaves);
    free(xs);
    floe_latch_destroy(&w);
    return failed;
}
