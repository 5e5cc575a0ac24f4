/*
 * upload.c - one archive from a file or stream: single Upload Archive, or a resumable parallel
 * multipart upload through reader -> hash pool -> transfer.
 *
 * DESIGN
 * A request type of the transfer core (orch.h): the core runs the loop, the part table, the
 * failure and cancel paths, the journal record and the progress feed; this file says how a
 * part starts (start_part), what each stage's event means (handle_*), and what a part holds
 * (release). The calling thread is the orchestrator; the stages only ever hold one part each
 * and hand it back through the core's event queue:
 *
 *   PLANNED --acquire buffer, submit read--> READING --reader done--> HASHING (pool task:
 *   leaves + linear in one pass) --> SENDING (signed UploadPart on the transfer
 *   thread, retried there) --204 + matching checksum--> journal record --> DONE, buffer freed
 *
 * A part confirmed by an earlier run (journal record and the service's ListParts agree on its
 * tree hash) goes PLANNED -> VERIFYING (read + leaf hashes only: its tree hash must still be
 * the confirmed one) -> DONE, or stops the upload with
 * FLOE_E_SOURCE_CHANGED if its bytes are no longer the ones uploaded.
 *
 * Ownership: a part (and its buffer) belongs to exactly one stage at a time: the reader from
 * submit until its callback, the pool task, or the transfer thread from submit until done.
 * Each callback only pushes the part onto the event queue (mu + cv); all decisions happen on
 * the orchestrator. Memory is bounded by the buffer pool: min(concurrency + 1,
 * memory_limit / part_size) buffers; a part starts only when a buffer is free.
 *
 * Failure: the first fatal error stops new parts; events are drained until nothing is in
 * flight, then the error is returned with the journal intact (resumable). A checksum the
 * service computed differently from ours is retried (the part is re-sent) up to 3 times.
 * Streams (stdin): the first part is read before anything is sent; a stream shorter than one
 * part becomes a single Upload Archive. Streams cannot be resumed (no journal).
 */
#include "floe/upload.h"

#include "adapt.h"
#include "alloc.h"
#include "bufpool.h"
#include "checkpoint.h"
#include "client_impl.h"
#include "floe/checkpoint.h"
#include "floe/hashpool.h"
#include "floe/range.h"
#include "floe/sigv4.h"
#include "orch.h"
#include "reader.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHECKSUM_RESENDS 3
#define HASH_CHUNK ((size_t)4 << 20) /* streaming mode: largest read of the hash pass */
#define HASH_CHUNK_MIN ((size_t)64 << 10)

enum part_state {
    PART_PLANNED,
    PART_READING,
    PART_HASHING,
    PART_SENDING,
    PART_VERIFYING,
    PART_DONE,
    PART_STATE_COUNT
};
static const char *const s_state_names[PART_STATE_COUNT] = {"PLANNED", "READING",   "HASHING",
                                                            "SENDING", "VERIFYING", "DONE"};
static_assert(PART_STATE_COUNT == 6, "keep s_state_names in sync");
static const bool s_legal[PART_STATE_COUNT][PART_STATE_COUNT] = {
    [PART_PLANNED] = {[PART_READING] = true, [PART_VERIFYING] = true, [PART_HASHING] = true},
    [PART_READING] = {[PART_HASHING] = true, [PART_DONE] = true},
    [PART_HASHING] = {[PART_SENDING] = true},
    [PART_SENDING] = {[PART_SENDING] = true, [PART_DONE] = true},
    [PART_VERIFYING] = {[PART_DONE] = true},
};
static const struct floe_orch_states s_states = {
    .item_name = "part",
    .count = PART_STATE_COUNT,
    .names = s_state_names,
    .legal = &s_legal[0][0],
    .done = PART_DONE,
};

enum ev_kind { EV_READ, EV_HASHED, EV_SENT };

struct upload;

struct part {
    struct floe_orch_item it; /* index, state, attempts (sends) */
    struct upload *up;
    uint64_t offset, len;
    bool verify; /* confirmed earlier: only check the bytes */
    struct floe_buf *buf;
    uint8_t tree[FLOE_HASH_BYTES], linear[FLOE_HASH_BYTES];
    uint8_t want_tree[FLOE_HASH_BYTES]; /* verify: the tree hash the journal and service hold */
    struct floe_xfer *xfer;
    /* streaming send: why the transfer thread could not read the part (read_part_body) */
    bool read_failed;
    int read_errno;            /* 0: the file ended early */
    struct floe_orch_event ev; /* the part's one outstanding stage report */
    size_t ev_bytes;           /* EV_READ: bytes read */
};

struct upload {
    struct floe_client *client;
    const struct floe_upload_options *opts;
    const char *vault;
    int fd;
    bool borrowed_fd; /* FILE "-" or opts->use_source_fd: never journaled, never closed */
    bool stream;
    struct floe_ckpt_source src0; /* the source when it was opened (not for streams) */
    bool streaming; /* parts too large to buffer: hash pass, then sent from the file */
    unsigned concurrency;
    bool adaptive;           /* no --concurrency: the limit follows the link (adapt.h) */
    struct floe_adapt adapt; /* orchestrating thread only */
    uint64_t size;           /* UINT64_MAX for a stream until its end is seen */
    uint64_t part_size;
    uint64_t nparts_known; /* parts of a known size; streams grow it as they go */
    bool stream_ended;
    struct floe_orch orch;       /* the transfer core: part table, loop, journal record */
    struct floe_bufpool *pool;   /* buffered mode: one part per buffer */
    struct floe_bufpool *chunks; /* streaming mode: chunk buffers for the hash pass */
    size_t chunk;                /* their size: HASH_CHUNK, less under a small memory limit */
    struct floe_reader *reader;
    struct floe_hashpool *hashpool;
    struct floe_journal *journal; /* also the core's, for part records */
    char upload_id[1025];
    char ckpt_path[4096];
    unsigned parts_sent, parts_resumed;
};

static struct part *part_at(struct upload *u, uint64_t index)
{
    struct part *p = floe_orch_item(&u->orch, index);
    if (!p->up) /* new: a part in flight is read by its stage, so write it only once */
        p->up = u;
    return p;
}

static void set_state(struct part *p, enum part_state to)
{
    floe_orch_set_state(&p->up->orch, &p->it, to);
}

static void post(struct part *p, enum ev_kind kind)
{
    floe_orch_post(&p->up->orch, &p->ev, kind, p);
}

/* ---- stage callbacks (other threads): only record and push ---- */

static void on_read(void *user, int status, size_t bytes, const struct floe_error *err)
{
    struct part *p = user;
    p->ev.status = status;
    p->ev_bytes = bytes;
    if (err)
        p->ev.err = *err;
    post(p, EV_READ);
}

static void hash_task(void *arg)
{
    struct part *p = arg;
    const uint8_t *d = p->buf->data;
    if (p->verify) { /* resume check: leaves only */
        struct floe_treehash *th = floe_treehash_new(0);
        floe_treehash_update(th, d, p->len);
        floe_treehash_final(th, p->tree, NULL);
        floe_treehash_destroy(th);
    } else {
        floe_treehash_part(d, p->len, NULL, p->tree, p->linear);
    }
    p->ev.status = FLOE_OK;
    post(p, EV_HASHED);
}

/*
 * Streaming mode: hash a part straight from the file, HASH_CHUNK at a time, double-buffered:
 * the reader fills one chunk while this pool thread hashes the other. The two chunk buffers
 * come from the upload's small chunk pool (2 per pool thread, so acquiring never waits long)
 * and stay hot in cache; no part-sized buffer is ever touched.
 */
static void hash_from_file_task(void *arg)
{
    struct part *p = arg;
    struct upload *u = p->up;
    struct floe_buf *bufs[2] = {NULL, NULL};
    struct floe_read_wait rw[2];
    struct floe_treehash *th = floe_treehash_new(p->verify ? 0 : FLOE_TREEHASH_LINEAR);
    p->ev.status = FLOE_OK;
    for (int i = 0; i < 2; i++) {
        floe_read_wait_init(&rw[i]);
        if (floe_bufpool_acquire(u->chunks, &bufs[i], &p->ev.err) != FLOE_OK)
            p->ev.status = FLOE_E_NOMEM;
    }
    int cur = 0;
    uint64_t off = 0;
    size_t want = p->len < u->chunk ? (size_t)p->len : u->chunk;
    if (p->ev.status == FLOE_OK &&
        floe_reader_submit_wait(u->reader, u->fd, p->offset, bufs[0]->data, want, u->opts->path,
                                &rw[0]) != FLOE_OK) {
        p->ev.status = rw[0].status;
        p->ev.err = rw[0].err;
    }
    while (p->ev.status == FLOE_OK && off < p->len) {
        if (floe_read_wait(&rw[cur]) != FLOE_OK) {
            p->ev.status = rw[cur].status;
            p->ev.err = rw[cur].err;
            break;
        }
        if (rw[cur].bytes != want) {
            p->ev.status = floe_error_set(&p->ev.err, FLOE_E_SOURCE_CHANGED,
                                          "%s shrank while being uploaded", u->opts->path);
            break;
        }
        uint64_t next_off = off + want;
        size_t next_want = 0;
        if (next_off < p->len) {
            next_want = p->len - next_off < u->chunk ? (size_t)(p->len - next_off) : u->chunk;
            if (floe_reader_submit_wait(u->reader, u->fd, p->offset + next_off, bufs[!cur]->data,
                                        next_want, u->opts->path, &rw[!cur]) != FLOE_OK) {
                p->ev.status = rw[!cur].status;
                p->ev.err = rw[!cur].err;
                break;
            }
        }
        floe_treehash_update(th, bufs[cur]->data, want);
        off = next_off;
        want = next_want;
        cur = !cur;
    }
    for (int i = 0; i < 2; i++) {
        floe_read_wait(&rw[i]); /* never release a buffer a read still writes into */
        if (bufs[i])
            floe_bufpool_release(u->chunks, bufs[i]);
        floe_read_wait_destroy(&rw[i]);
    }
    floe_treehash_final(th, p->tree, p->verify ? NULL : p->linear);
    floe_treehash_destroy(th);
    post(p, EV_HASHED);
}

/* Streaming mode: the transfer thread pulls the part's bytes from the file. */
static size_t read_part_body(void *ctx, uint64_t offset, uint8_t *dst, size_t n)
{
    struct part *p = ctx;
    for (;;) {
        ssize_t r = pread(p->up->fd, dst, n, (off_t)(p->offset + offset));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) { /* curl aborts the attempt; on_sent says why */
            p->read_failed = true;
            p->read_errno = r < 0 ? errno : 0;
        }
        return r > 0 ? (size_t)r : 0;
    }
}

static void on_sent(struct floe_xfer *x)
{
    struct part *p = x->user;
    p->ev.status = x->status;
    if (x->status)
        p->ev.err = x->err;
    if (x->status && p->read_failed) { /* not the network's fault: the file */
        const char *path = p->up->opts->path;
        if (p->read_errno)
            p->ev.status = floe_error_set_errno(&p->ev.err, FLOE_E_IO, p->read_errno, path,
                                                "cannot read %s", path);
        else
            p->ev.status = floe_error_set(&p->ev.err, FLOE_E_SOURCE_CHANGED,
                                          "%s shrank while being uploaded", path);
    }
    post(p, EV_SENT);
}

/* ---- orchestrator ---- */

static void progress(void *ctx)
{
    struct upload *u = ctx;
    if (!u->opts->progress)
        return;
    struct floe_upload_progress pr = {
        .bytes_done = u->orch.bytes_done,
        .bytes_total = u->stream && !u->stream_ended ? UINT64_MAX : u->size,
        .parts_done = (unsigned)u->orch.items_done,
        .parts_total = u->stream && !u->stream_ended ? 0 : (unsigned)u->nparts_known,
        .seconds = floe_orch_elapsed(&u->orch),
    };
    u->opts->progress(&pr, u->opts->progress_user);
}

static void release(void *ctx, void *item)
{
    struct upload *u = ctx;
    struct part *p = item;
    if (p->buf) {
        floe_bufpool_release(u->pool, p->buf);
        p->buf = NULL;
    }
}

static void part_free(void *ctx, void *item)
{
    struct part *p = item;
    floe_xfer_destroy(p->xfer);
}

static void submit_send(struct upload *u, struct part *p)
{
    char tree_hex[FLOE_HASH_HEX], range[96];
    floe_treehash_hex(p->tree, tree_hex);
    snprintf(range, sizeof(range), "bytes %" PRIu64 "-%" PRIu64 "/*", p->offset,
             p->offset + p->len - 1);
    char *enc = floe_client_encode(u->upload_id);
    size_t n = strlen(u->vault) + strlen(enc) + 40;
    char *path = floe_xmalloc(n);
    snprintf(path, n, "/vaults/%s/multipart-uploads/%s", u->vault, enc);
    struct floe_call *k = floe_call_new(u->client, "PUT", path, NULL);
    free(path);
    free(enc);
    floe_call_header(k, "content-range", range);
    floe_call_header(k, "x-amz-sha256-tree-hash", tree_hex);
    p->read_failed = false;
    p->read_errno = 0;
    if (u->streaming)
        floe_call_body_stream(k, p->len, p->linear, read_part_body, p);
    else
        floe_call_body(k, p->buf->data, p->len, p->linear, true);
    floe_xfer_destroy(p->xfer);
    p->xfer = floe_call_xfer(k);
    p->xfer->done = on_sent;
    p->xfer->user = p;
    p->it.attempts++;
    floe_transfer_submit(u->client->transfer, p->xfer);
}

/* How messages name a stream: "standard input", or the caller's name for its descriptor. */
static const char *stream_name(const struct upload *u)
{
    return strcmp(u->opts->path, "-") == 0 ? "standard input" : u->opts->path;
}

static bool all_started(const struct upload *u, uint64_t index)
{
    if (u->stream) /* a probe past 10,000 full parts is still read: it must find the end */
        return u->stream_ended || index > FLOE_MAX_PARTS;
    return index >= u->nparts_known;
}

/* The core's start(): part index starts if a buffer (or, streaming, a concurrency slot) is
 * free. */
static enum floe_orch_start start_part(void *ctx, uint64_t index)
{
    struct upload *u = ctx;
    if (all_started(u, index))
        return FLOE_ORCH_END;
    struct part *p = part_at(u, index);
    if (p->it.state != PART_PLANNED) /* a stream's part 0, fed in by try_single */
        return FLOE_ORCH_SKIP;
    if (u->streaming) {
        if (u->orch.in_flight >= (u->adaptive ? floe_adapt_limit(&u->adapt) : u->concurrency))
            return FLOE_ORCH_WAIT;
        p->offset = index * u->part_size;
        p->len = u->size - p->offset < u->part_size ? u->size - p->offset : u->part_size;
        set_state(p, p->verify ? PART_VERIFYING : PART_HASHING);
        floe_orch_enter(&u->orch);
        floe_hashpool_submit(u->hashpool, hash_from_file_task, p);
        return FLOE_ORCH_STARTED;
    }
    struct floe_buf *b = floe_bufpool_try_acquire(u->pool);
    if (!b)
        return FLOE_ORCH_WAIT;
    p->offset = index * u->part_size;
    p->len = u->stream ? u->part_size
                       : (u->size - p->offset < u->part_size ? u->size - p->offset : u->part_size);
    p->buf = b;
    set_state(p, p->verify ? PART_VERIFYING : PART_READING);
    struct floe_read_req rq = {
        .fd = u->fd,
        .offset_bytes = p->offset,
        .length_bytes = (size_t)p->len,
        .dest = b->data,
        .path = u->opts->path,
        .done = on_read,
        .user = p,
    };
    struct floe_error err = {0};
    floe_orch_enter(&u->orch);
    if (floe_reader_submit(u->reader, &rq, &err) != FLOE_OK) {
        floe_orch_fail_item(&u->orch, p, err.status ? err.status : FLOE_E_IO, &err);
        return FLOE_ORCH_WAIT;
    }
    return FLOE_ORCH_STARTED;
}

/* A stream's read: the first short one marks the true end. Returns false when the part is
 * out of flight (nothing left to send, or the stream is too long). */
static bool stream_read_end(struct upload *u, struct part *p)
{
    /* stream reads complete in order, so the first short one marks the true end */
    if (p->ev_bytes < p->len) {
        p->len = p->ev_bytes;
        if (!u->stream_ended) {
            u->stream_ended = true;
            u->size = p->offset + p->len;
            u->nparts_known = p->len ? p->it.index + 1 : p->it.index;
        }
    } else if (!u->stream_ended) {
        u->nparts_known = p->it.index + 1;
    }
    if (p->len == 0) { /* nothing left: this part does not exist */
        floe_orch_leave(&u->orch, p);
        set_state(p, PART_DONE);
        return false;
    }
    if (p->it.index >= FLOE_MAX_PARTS) { /* a probe past 10,000 full parts found more */
        /* found after parts were sent, so not a usage error (FLOE_E_RANGE would say exit 2):
         * the source does not fit the upload that is under way */
        struct floe_error e = {0};
        floe_error_set(&e, FLOE_E_UNSUPPORTED,
                       "%s is longer than 10,000 parts of %" PRIu64
                       " MiB; use a larger --part-size",
                       stream_name(u), u->part_size >> 20);
        floe_orch_fail_item(&u->orch, p, FLOE_E_UNSUPPORTED, &e);
        return false;
    }
    return true;
}

static void handle_read(struct upload *u, struct part *p)
{
    if (p->ev.status != FLOE_OK) {
        floe_orch_fail_item(&u->orch, p, p->ev.status, &p->ev.err);
        return;
    }
    if (u->stream) {
        if (!stream_read_end(u, p))
            return;
    } else if (p->ev_bytes != p->len) {
        struct floe_error e = {0};
        floe_error_set_errno(&e, FLOE_E_SOURCE_CHANGED, 0, u->opts->path,
                             "%s shrank while being uploaded (part %" PRIu64 " read %zu of %" PRIu64
                             " bytes)",
                             u->opts->path, p->it.index, p->ev_bytes, p->len);
        floe_orch_fail_item(&u->orch, p, FLOE_E_SOURCE_CHANGED, &e);
        return;
    }
    if (p->it.state == PART_READING)
        set_state(p, PART_HASHING);
    floe_hashpool_submit(u->hashpool, hash_task, p);
}

static void handle_hashed(struct upload *u, struct part *p)
{
    if (p->ev.status != FLOE_OK) {
        floe_orch_fail_item(&u->orch, p, p->ev.status, &p->ev.err);
        return;
    }
    if (p->it.state == PART_VERIFYING) {
        if (memcmp(p->tree, p->want_tree, FLOE_HASH_BYTES) != 0) {
            struct floe_error e = {0};
            floe_error_set(&e, FLOE_E_SOURCE_CHANGED,
                           "%s changed since part %" PRIu64 " (bytes %" PRIu64 "-%" PRIu64
                           ") was uploaded; refusing to complete a corrupt archive. Delete "
                           "the checkpoint %s to upload it afresh",
                           u->opts->path, p->it.index, p->offset, p->offset + p->len - 1,
                           u->ckpt_path);
            floe_orch_fail_item(&u->orch, p, FLOE_E_SOURCE_CHANGED, &e);
            return;
        }
        u->parts_resumed++;
        floe_orch_item_done(&u->orch, &p->it, p->offset, p->len, NULL); /* recorded already */
        return;
    }
    if (floe_orch_stopping(&u->orch)) { /* stopping: do not send */
        floe_orch_leave(&u->orch, p);
        return;
    }
    set_state(p, PART_SENDING);
    submit_send(u, p);
}

/* The service's answer to a sent part: its checksum must be ours (else re-sent, at most
 * MAX_CHECKSUM_RESENDS times), then the part is recorded and done. */
static void handle_sent(struct upload *u, struct part *p)
{
    if (p->ev.status != FLOE_OK) {
        floe_error_append(&p->ev.err, " (part %" PRIu64 ")", p->it.index);
        floe_orch_fail_item(&u->orch, p, p->ev.status, &p->ev.err);
        return;
    }
    const char *h = floe_xfer_header(p->xfer, "x-amz-sha256-tree-hash");
    uint8_t got[FLOE_HASH_BYTES];
    if (h && (floe_treehash_parse_hex(h, got, NULL) != FLOE_OK ||
              memcmp(got, p->tree, FLOE_HASH_BYTES) != 0)) {
        if (floe_orch_may_retry(&u->orch, &p->it, 1 + MAX_CHECKSUM_RESENDS)) {
            set_state(p, PART_SENDING);
            p->it.attempts++;
            floe_transfer_submit(u->client->transfer, p->xfer);
            return;
        }
        char want[FLOE_HASH_HEX];
        floe_treehash_hex(p->tree, want);
        struct floe_error e = {0};
        floe_error_set(&e, FLOE_E_CHECKSUM,
                       "part %" PRIu64 ": the service computed tree hash %s, the data hashes "
                       "to %s (sent %u times)",
                       p->it.index, h, want, p->it.attempts);
        floe_orch_fail_item(&u->orch, p, FLOE_E_CHECKSUM, &e);
        return;
    }
    if (u->adaptive)
        floe_adapt_done(&u->adapt, p->len, p->xfer->attempts > 1, floe_adapt_now_ns());
    floe_xfer_destroy(p->xfer); /* its curl handle is ~16 KB: memory must not grow per part */
    p->xfer = NULL;
    if (floe_orch_item_done(&u->orch, &p->it, p->offset, p->len, p->tree))
        u->parts_sent++;
}

static void handle(void *ctx, struct floe_orch_event *ev)
{
    struct upload *u = ctx;
    switch ((enum ev_kind)ev->kind) {
    case EV_READ: handle_read(u, ev->obj); break;
    case EV_HASHED: handle_hashed(u, ev->obj); break;
    case EV_SENT: handle_sent(u, ev->obj); break;
    }
}

static const struct floe_orch_ops s_ops = {
    .states = &s_states,
    .item_size = sizeof(struct part),
    .start = start_part,
    .handle = handle,
    .release = release,
    .item_free = part_free,
    .progress = progress,
};

/* ---- planning, checkpoint, finish ---- */

int floe_upload_checkpoint_path(struct floe_client *client, const char *vault, const char *path,
                                char *out, size_t cap, struct floe_error *err)
{
    char abs[PATH_MAX];
    struct stat st;
    if (!realpath(path, abs) || stat(abs, &st) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open %s", path);
    char key[PATH_MAX + 2048];
    /* not size or mtime: the same command on a changed file must find the journal and refuse */
    int n = snprintf(key, sizeof(key), "%s\n%s\n%s\n%s", client->endpoint, client->account_id,
                     vault, abs);
    return floe_checkpoint_default_path("upload", key, (size_t)n, out, cap, err);
}

static int open_source(struct upload *u, struct floe_error *err)
{
    const char *path = u->opts->path;
    u->borrowed_fd = u->opts->use_source_fd || strcmp(path, "-") == 0;
    if (u->borrowed_fd) {
        u->fd = u->opts->use_source_fd ? u->opts->source_fd : 0;
    } else {
        u->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (u->fd < 0)
            return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open %s", path);
    }
    struct stat st;
    if (fstat(u->fd, &st) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot stat %s", path);
    if (S_ISDIR(st.st_mode))
        return floe_error_set_errno(err, FLOE_E_IO, EISDIR, path, "cannot upload %s", path);
    u->stream = !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
    u->size = UINT64_MAX;
    if (u->stream)
        return FLOE_OK;
    /* the source's identity, kept to notice a change, and its size (a block device's comes from
     * the device: its st_size is 0) */
    int rc = floe_checkpoint_source_stat(path, u->fd, &u->src0, err);
    if (rc)
        return rc;
    if (u->src0.size_bytes == FLOE_CKPT_SIZE_UNKNOWN)
        return floe_error_set(err, FLOE_E_IO, "cannot get the size of %s", path);
    u->size = u->src0.size_bytes;
    if (u->size == 0)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "%s is empty: Glacier does not accept empty archives", path);
    return FLOE_OK;
}

/* FLOE_OK when the source still has the size, mtime and inode it had when opened; else
 * FLOE_E_SOURCE_CHANGED naming what changed ("while being read/uploaded" = doing). */
static int check_unchanged(struct upload *u, const char *doing, struct floe_error *err)
{
    struct floe_ckpt_source now;
    struct floe_error ignore = {0};
    char diff[FLOE_ERROR_MSG_MAX - 256];
    if (u->stream || floe_checkpoint_source_stat(u->opts->path, u->fd, &now, &ignore) != FLOE_OK)
        return FLOE_OK;
    if (!floe_checkpoint_source_diff(&u->src0, &now, diff, sizeof(diff)))
        return FLOE_OK;
    return floe_error_set(err, FLOE_E_SOURCE_CHANGED, "%s changed while being %s: %s",
                          u->opts->path, doing, diff);
}

/* Reads a whole small source into one buffer and sends it as a single Upload Archive. */
static int single_upload(struct upload *u, struct floe_buf *b, size_t len,
                         struct floe_upload_result *out, struct floe_error *err)
{
    struct floe_archive_result ar;
    int rc = floe_client_upload_archive(u->client, u->vault, b->data, len, u->opts->description,
                                        &ar, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    snprintf(out->archive_id, sizeof(out->archive_id), "%s", ar.archive_id);
    memcpy(out->tree, ar.tree, FLOE_HASH_BYTES);
    out->size = len;
    out->part_size = u->part_size;
    out->parts_sent = 1;
    out->linear_checksum = ar.linear_checksum;
    return FLOE_OK;
}

struct reconcile {
    struct upload *u;
    const struct floe_ckpt_state *st;
};

static int on_server_part(const struct floe_part_info *sp, void *user)
{
    struct reconcile *rc = user;
    struct upload *u = rc->u;
    if (sp->first % u->part_size != 0)
        return 0;
    uint64_t index = sp->first / u->part_size;
    const struct floe_ckpt_part *jp = floe_checkpoint_find_part(rc->st, index);
    if (!jp || jp->offset_bytes != sp->first || jp->length_bytes != sp->last - sp->first + 1 ||
        memcmp(jp->tree_hash, sp->tree, FLOE_HASH_BYTES) != 0)
        return 0; /* not confirmed by both: send it again */
    struct part *p = part_at(u, index);
    p->verify = true;
    memcpy(p->want_tree, jp->tree_hash, FLOE_HASH_BYTES);
    return 0;
}

/* Loads and checks an existing journal; sets upload id, part size and verified parts. */
static int resume_from(struct upload *u, struct floe_ckpt_state *st, struct floe_error *err)
{
    const struct floe_ckpt_header *h = &st->header;
    if (h->kind != FLOE_CKPT_UPLOAD)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "%s is a %s checkpoint, not an upload's",
                              u->ckpt_path, floe_checkpoint_kind_name(h->kind));
    if (strcmp(h->vault, u->vault) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "checkpoint %s belongs to vault %s, not %s",
                              u->ckpt_path, h->vault, u->vault);
    if (strcmp(h->endpoint, u->client->endpoint) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "checkpoint %s was made against %s, not %s",
                              u->ckpt_path, h->endpoint, u->client->endpoint);
    if (!h->upload_id[0])
        return floe_error_set(err, FLOE_E_CHECKPOINT, "checkpoint %s has no upload id",
                              u->ckpt_path);
    int rc = floe_checkpoint_check_source(h, u->opts->path, u->fd, err);
    if (rc == FLOE_E_SOURCE_CHANGED)
        floe_error_append(err,
                          " - its parts no longer match the file. To upload the file as it is "
                          "now, delete the checkpoint %s (the unfinished upload can be aborted "
                          "with `floe multipart abort %s %s`)",
                          u->ckpt_path, u->vault, h->upload_id);
    if (rc)
        return rc;
    u->part_size = h->part_size_bytes;
    snprintf(u->upload_id, sizeof(u->upload_id), "%s", h->upload_id);
    struct reconcile r = {u, st};
    rc = floe_client_list_parts(u->client, u->vault, u->upload_id, on_server_part, &r, NULL, err);
    if (rc == FLOE_E_NOT_FOUND)
        floe_error_append(err,
                          " - the multipart upload in checkpoint %s no longer exists (completed, "
                          "aborted or expired); delete the checkpoint to upload afresh",
                          u->ckpt_path);
    return rc;
}

static int finish_multipart(struct upload *u, struct floe_upload_result *out,
                            struct floe_error *err)
{
    uint64_t n = u->nparts_known;
    uint8_t(*trees)[FLOE_HASH_BYTES] = floe_xcalloc(n ? n : 1, FLOE_HASH_BYTES);
    for (uint64_t i = 0; i < n; i++)
        memcpy(trees[i], part_at(u, i)->tree, FLOE_HASH_BYTES);
    uint8_t tree[FLOE_HASH_BYTES];
    floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])trees, n, tree);
    free(trees);
    struct floe_archive_result ar;
    int rc =
        floe_client_complete_multipart(u->client, u->vault, u->upload_id, u->size, tree, &ar, err);
    if (rc)
        return rc;
    if (u->journal) {
        struct floe_error e = {0};
        floe_journal_mark_complete(u->journal, ar.archive_id, u->size, tree, &e);
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->archive_id, sizeof(out->archive_id), "%s", ar.archive_id);
    memcpy(out->tree, tree, FLOE_HASH_BYTES);
    out->size = u->size;
    out->multipart = true;
    out->part_size = u->part_size;
    out->parts_sent = u->parts_sent;
    out->parts_resumed = u->parts_resumed;
    return FLOE_OK;
}

/* FLOE_UPLOAD_BUFFERED=1 reads file parts into whole-part buffers, as for stdin (tests). */
static bool buffered_forced(void)
{
    const char *env = getenv("FLOE_UPLOAD_BUFFERED");
    return env && strcmp(env, "0") != 0;
}

static int make_pool(struct upload *u, struct floe_error *err)
{
    uint64_t limit =
        u->opts->memory_limit ? u->opts->memory_limit : FLOE_UPLOAD_DEFAULT_MEMORY_LIMIT;
    unsigned conc = u->opts->concurrency ? u->opts->concurrency : FLOE_UPLOAD_DEFAULT_CONCURRENCY;
    u->concurrency = conc;
    if (!u->stream && u->nparts_known > 1 && !buffered_forced()) {
        /* A file can be read twice: hash each part from it through small cache-hot chunks,
         * then let curl stream the part from the file. On this machine that costs less CPU
         * than reading whole parts into buffers (fresh part-sized memory is expensive to touch
         * and curl copies a buffer anyway) and keeps memory tiny (docs/architecture.md). */
        u->streaming = true;
        if (!u->opts->concurrency) {
            /* adaptive: from the default up to what the link rewards, within the memory
             * limit (curl holds a 2 MiB send buffer per request in flight) */
            uint64_t max = limit / (4u << 20);
            if (max > FLOE_UPLOAD_ADAPTIVE_MAX)
                max = FLOE_UPLOAD_ADAPTIVE_MAX;
            if (max > u->nparts_known)
                max = u->nparts_known;
            u->adaptive = true;
            floe_adapt_init(&u->adapt, conc, (unsigned)(max ? max : 1), floe_adapt_now_ns());
        }
        unsigned nt = floe_hashpool_threads(u->hashpool);
        uint64_t per = limit / (2 * (uint64_t)nt);
        u->chunk = per >= HASH_CHUNK ? HASH_CHUNK : (size_t)per & ~(HASH_CHUNK_MIN - 1);
        if (u->chunk < HASH_CHUNK_MIN)
            return floe_error_set(err, FLOE_E_RANGE,
                                  "--memory-limit %" PRIu64 " KiB is below the %zu KiB the hash "
                                  "pass needs (two 64 KiB reads per hashing thread)",
                                  limit >> 10, (HASH_CHUNK_MIN >> 10) * 2 * nt);
        struct floe_bufpool_options co = {.buf_size_bytes = u->chunk, .count = 2 * nt};
        return floe_bufpool_new(&co, &u->chunks, err);
    }
    /* a single-request upload needs one buffer of the file's size only */
    uint64_t bufsize = !u->stream && u->nparts_known == 1 ? u->size : u->part_size;
    if (bufsize > limit)
        return floe_error_set(err, FLOE_E_RANGE,
                              "part size %" PRIu64
                              " MiB does not fit in the memory limit of %" PRIu64
                              " MiB (--memory-limit, shared by the files uploaded at once); "
                              "raise the limit or lower --part-size",
                              u->part_size >> 20, limit >> 20);
    uint64_t count = limit / bufsize;
    if (count > conc + 1)
        count = conc + 1;
    if (!u->stream && u->nparts_known && count > u->nparts_known)
        count = u->nparts_known;
    struct floe_bufpool_options bo = {
        .buf_size_bytes = (size_t)bufsize,
        .count = (unsigned)count,
        .memory_limit_bytes = limit,
    };
    return floe_bufpool_new(&bo, &u->pool, err);
}

/* Options that are wrong whatever the source is. */
static int check_options(const struct floe_upload_options *opts, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(opts->vault, err);
    if (!rc)
        rc = floe_client_check_description(opts->description, err);
    if (!rc && opts->part_size)
        rc = floe_range_check_part_size(opts->part_size, err);
    if (!rc && opts->resume_only && opts->no_checkpoint)
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "resuming needs the checkpoint: --resume and --no-checkpoint "
                            "cannot be used together");
    return rc;
}

/*
 * The journal records a finished upload. The file unchanged: that archive is reported again
 * (*reported). The file changed: the journal is spent (its archive exists) and removed, so the
 * file as it is now uploads afresh - unless --resume asked to continue it, which is refused.
 */
static int reuse_finished(struct upload *u, struct floe_ckpt_state **st,
                          struct floe_upload_result *out, bool *reported, struct floe_error *err)
{
    int rc = floe_checkpoint_check_source(&(*st)->header, u->opts->path, u->fd, err);
    if (rc == FLOE_E_SOURCE_CHANGED && !u->opts->resume_only) {
        floe_journal_destroy(u->journal);
        u->journal = NULL;
        floe_checkpoint_state_free(*st);
        *st = NULL;
        memset(err, 0, sizeof(*err));
        return floe_journal_remove(u->ckpt_path, err);
    }
    if (rc == FLOE_E_SOURCE_CHANGED)
        floe_error_append(err,
                          " - checkpoint %s records a finished upload of the earlier file "
                          "(archive %s); there is nothing to resume",
                          u->ckpt_path, (*st)->header.archive_id);
    if (rc)
        return rc;
    const struct floe_ckpt_state *s = *st;
    memset(out, 0, sizeof(*out));
    snprintf(out->archive_id, sizeof(out->archive_id), "%s", s->header.archive_id);
    memcpy(out->tree, s->header.tree_hash, FLOE_HASH_BYTES);
    out->size = s->complete_size_bytes;
    out->multipart = true;
    out->part_size = s->header.part_size_bytes;
    out->parts_resumed = (unsigned)s->part_count;
    snprintf(out->checkpoint_path, sizeof(out->checkpoint_path), "%s", u->ckpt_path);
    *reported = true;
    return FLOE_OK;
}

/* An existing journal for this source means resume (or a finished upload to report). */
static int open_checkpoint(struct upload *u, struct floe_ckpt_state **st,
                           struct floe_upload_result *out, bool *reported, struct floe_error *err)
{
    const struct floe_upload_options *opts = u->opts;
    int rc;
    if (opts->checkpoint_path)
        snprintf(u->ckpt_path, sizeof(u->ckpt_path), "%s", opts->checkpoint_path);
    else if ((rc = floe_upload_checkpoint_path(u->client, u->vault, opts->path, u->ckpt_path,
                                               sizeof(u->ckpt_path), err)))
        return rc;
    if (access(u->ckpt_path, F_OK) != 0) {
        if (opts->resume_only)
            return floe_error_set_errno(err, FLOE_E_CHECKPOINT, ENOENT, u->ckpt_path,
                                        "cannot resume: no checkpoint %s", u->ckpt_path);
        return FLOE_OK;
    }
    if ((rc = floe_journal_open(u->ckpt_path, NULL, &u->journal, st, err)))
        return rc;
    if ((*st)->complete)
        return reuse_finished(u, st, out, reported, err);
    return resume_from(u, *st, err);
}

/* Part size (unless a journal fixed it), part count, buffers. */
static int plan(struct upload *u, struct floe_error *err)
{
    if (!u->part_size) {
        uint64_t planned_for = u->stream ? 0 : u->size;
        int rc = floe_range_plan_part_size(planned_for, u->opts->part_size,
                                           FLOE_UPLOAD_DEFAULT_PART_SIZE, &u->part_size, err);
        if (rc)
            return rc;
    }
    u->nparts_known = u->stream ? 0 : floe_range_part_count(u->size, u->part_size);
    return make_pool(u, err);
}

/*
 * A source that fits one request goes as a single Upload Archive (*handled). A stream's first
 * part is read here to find out; if the stream is longer, that part stays in *first for the
 * multipart upload.
 */
static int try_single(struct upload *u, struct floe_buf **first, struct floe_upload_result *out,
                      bool *handled, struct floe_error *err)
{
    const char *path = u->opts->path;
    if (!u->stream && (u->nparts_known != 1 || u->journal))
        return FLOE_OK;
    int rc = floe_bufpool_acquire(u->pool, first, err);
    if (rc)
        return rc;
    size_t got = 0, want = (size_t)(u->stream ? u->part_size : u->size);
    if ((rc = floe_reader_read(u->reader, u->fd, 0, (*first)->data, want, path, &got, err)))
        return rc;
    if (u->stream) {
        if (got == 0)
            return floe_error_set(err, FLOE_E_INVALID_ARG,
                                  "%s is empty: Glacier does not accept empty archives",
                                  stream_name(u));
        if (got == u->part_size)
            return FLOE_OK; /* longer than a part: multipart, part 0 in hand */
    } else {
        if (got != u->size)
            return floe_error_set(err, FLOE_E_SOURCE_CHANGED, "%s shrank while being read", path);
        if ((rc = check_unchanged(u, "read", err)))
            return rc;
    }
    *handled = true;
    return single_upload(u, *first, got, out, err);
}

/* Initiate Multipart Upload, then the journal that lets a rerun resume it (a journal that
 * cannot be made aborts the upload again: nothing would know its id). */
static int begin_multipart(struct upload *u, bool use_journal, struct floe_error *err)
{
    int rc = floe_client_initiate_multipart(u->client, u->vault, u->part_size, u->opts->description,
                                            u->upload_id, err);
    if (!rc && u->opts->initiated)
        u->opts->initiated(u->upload_id, u->opts->initiated_user);
    if (rc || !use_journal)
        return rc;
    struct floe_ckpt_header h = {
        .kind = FLOE_CKPT_UPLOAD, .part_size_bytes = u->part_size, .total_size_bytes = u->size};
    snprintf(h.endpoint, sizeof(h.endpoint), "%s", u->client->endpoint);
    snprintf(h.vault, sizeof(h.vault), "%s", u->vault);
    snprintf(h.account_id, sizeof(h.account_id), "%s", u->client->account_id);
    if (strlen(u->upload_id) >= sizeof(h.upload_id))
        rc = floe_error_set(err, FLOE_E_CHECKPOINT,
                            "upload id of %zu bytes is too long for the checkpoint; use "
                            "--no-checkpoint",
                            strlen(u->upload_id));
    else
        memcpy(h.upload_id, u->upload_id, strlen(u->upload_id) + 1);
    if (!rc)
        rc = floe_checkpoint_source_stat(u->opts->path, u->fd, &h.source, err);
    char abs[PATH_MAX]; /* so `floe upload --resume` works from any directory */
    if (!rc && realpath(u->opts->path, abs) && strlen(abs) < sizeof(h.source.path))
        memcpy(h.source.path, abs, strlen(abs) + 1);
    if (!rc) {
        struct floe_journal_options jo = {.overwrite = true};
        rc = floe_journal_create(u->ckpt_path, &h, &jo, &u->journal, err);
    }
    if (rc) {
        struct floe_error ignore = {0};
        floe_client_abort_multipart(u->client, u->vault, u->upload_id, &ignore);
    }
    return rc;
}

/* A stream's part 0, read by try_single, enters the pipeline as if the reader had read it. */
static void feed_first(struct upload *u, struct floe_buf *first)
{
    struct part *p = part_at(u, 0);
    p->offset = 0;
    p->len = u->part_size;
    p->buf = first;
    set_state(p, PART_READING);
    p->ev.status = FLOE_OK;
    p->ev_bytes = (size_t)u->part_size;
    floe_orch_enter(&u->orch);
    handle_read(u, p);
}

/* The parts failed (err holds why): say how to resume, or abort what nothing can resume. */
static void after_failed_run(struct upload *u, struct floe_error *err)
{
    if (u->journal && (u->parts_sent || u->parts_resumed)) {
        floe_error_append(err,
                          "\n%u parts are confirmed in checkpoint %s: run the same command again "
                          "(or floe upload --resume %s) to continue",
                          u->parts_sent + u->parts_resumed, u->ckpt_path, u->ckpt_path);
    } else if (!u->journal && u->upload_id[0]) {
        /* no journal (stdin, --no-checkpoint): nothing can resume it, so do not leave the
         * service holding its parts */
        struct floe_error ignore = {0};
        if (floe_client_abort_multipart(u->client, u->vault, u->upload_id, &ignore) == FLOE_OK)
            floe_error_append(err, " (the unfinished multipart upload was aborted)");
    }
}

/* Every part is done: complete the archive, unless the file changed meanwhile. */
static int complete(struct upload *u, struct floe_upload_result *out, struct floe_error *err)
{
    int rc;
    if (!u->stream && (rc = check_unchanged(u, "uploaded", err)) != FLOE_OK) {
        /* its parts may mix two versions of the file: never complete such an archive */
        struct floe_error ignore = {0};
        floe_client_abort_multipart(u->client, u->vault, u->upload_id, &ignore);
        if (u->journal) {
            floe_journal_destroy(u->journal);
            u->journal = NULL;
            floe_journal_remove(u->ckpt_path, &ignore);
        }
        floe_error_append(err, " - the archive was not completed (its multipart upload was "
                               "aborted); run the command again to upload the file as it is now");
        return rc;
    }
    if ((rc = finish_multipart(u, out, err)))
        return rc;
    if (u->journal) {
        snprintf(out->checkpoint_path, sizeof(out->checkpoint_path), "%s", u->ckpt_path);
        floe_journal_destroy(u->journal);
        u->journal = NULL;
        if (!u->opts->keep_checkpoint) {
            struct floe_error e = {0};
            floe_journal_remove(u->ckpt_path, &e);
        }
    }
    return FLOE_OK;
}

/* The upload after its source is open: checkpoint, plan, then a single request or the
 * multipart pipeline. */
static int upload(struct upload *u, struct floe_upload_result *out, struct floe_error *err)
{
    const struct floe_upload_options *opts = u->opts;
    struct floe_ckpt_state *st = NULL;
    struct floe_buf *first = NULL;
    bool use_journal = !opts->no_checkpoint && !u->stream && !u->borrowed_fd;
    bool done = false;
    int rc = FLOE_OK;
    if ((u->stream || u->borrowed_fd) && opts->resume_only)
        rc = floe_error_set(err, FLOE_E_CHECKPOINT, "%s cannot be resumed", stream_name(u));
    if (!rc && use_journal)
        rc = open_checkpoint(u, &st, out, &done, err);
    if (!rc && !done)
        rc = plan(u, err);
    if (!rc && !done)
        rc = try_single(u, &first, out, &done, err);
    if (!rc && !done && !u->upload_id[0])
        rc = begin_multipart(u, use_journal, err);
    if (!rc && !done) {
        u->orch.journal = u->journal;
        if (first) {
            feed_first(u, first);
            first = NULL;
        }
        rc = floe_orch_run(&u->orch, err);
        if (rc)
            after_failed_run(u, err);
        else
            rc = complete(u, out, err);
    }
    if (first)
        floe_bufpool_release(u->pool, first);
    floe_checkpoint_state_free(st);
    return rc;
}

int floe_upload_file(struct floe_client *client, const struct floe_upload_options *opts,
                     struct floe_upload_result *out, struct floe_error *err)
{
    struct upload *u = floe_xcalloc(1, sizeof(*u));
    u->client = client;
    u->opts = opts;
    u->vault = opts->vault;
    u->fd = -1;
    floe_orch_init(&u->orch, &s_ops, u, opts->cancel);
    int rc = check_options(opts, err);
    if (!rc)
        rc = open_source(u, err);
    if (!rc)
        rc = floe_client_reader(client, &u->reader, err);
    if (!rc)
        rc = floe_client_hashpool(client, &u->hashpool, err);
    if (!rc)
        rc = upload(u, out, err);
    if (rc == FLOE_OK)
        out->seconds = floe_orch_elapsed(&u->orch);
    floe_orch_cleanup(&u->orch); /* the parts and their transfer handles */
    floe_bufpool_destroy(u->pool);
    floe_bufpool_destroy(u->chunks);
    floe_journal_destroy(u->journal);
    if (u->fd >= 0 && !u->borrowed_fd)
        close(u->fd);
    free(u);
    return rc;
}
