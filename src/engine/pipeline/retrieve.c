/*
 * retrieve.c - job output downloads: parallel ranged GETs, every segment verified against the
 * service's tree hash before it is written at its offset and recorded in the checkpoint; and
 * floe_retrieve_archive(), the initiate -> wait -> download sequence, resumable as a whole.
 *
 * DESIGN
 * A request type of the transfer core (orch.h), as upload.c is: the core runs the loop, the
 * segment table, the failure and cancel paths, the journal record and the progress feed; this
 * file says how a segment starts, what each stage's event means and what a segment holds. The
 * calling thread is the orchestrator; the stages hold a segment (or a chunk of one) and hand
 * it back through the core's event queue. Two modes, fixed per download:
 *
 * Streaming (a file output of known size and more than one segment: the normal case). The
 * body of each GET is consumed as it arrives, in CHUNK_BYTES (2 MiB) chunks of a small
 * recycled ring (a FIFO buffer pool of 2 x concurrency + 4 chunks, ~24 MiB; adaptive: sized for
 * the ceiling, but only what the current limit needs is in the ring, see fit_ring()):
 *
 *   transfer thread: body_write copies the bytes into the segment's current chunk
 *     (non-temporal stores); a full chunk (or the segment's last bytes) goes to the hash pool
 *   hash pool: the chunk's 1 MiB leaves (two streams per core) into the segment's leaf array,
 *     then a write request for the chunk at its offset (O_DIRECT when aligned)
 *   writer thread: on completion the chunk buffer goes back to the ring and EV_CHUNK to the
 *     orchestrator
 *
 *   PLANNED --> FETCHING --(answer complete AND every chunk it produced hashed and written)-->
 *   HASHING (combine the leaves, compare with x-amz-sha256-tree-hash) --> VERIFIED -->
 *   journal SEGMENT_DONE --> DONE
 *
 * The bytes are in the part file before they are verified; that is harmless because nothing
 * trusts the part file except through the journal, and a segment is journaled only once its
 * hash matched AND all its writes completed. A curl-level retry restarts the body
 * (body_restart) only after the failed attempt's chunks have all been written, so an old write
 * can never land after a new one at the same offset; a refetch after a hash mismatch happens
 * when every chunk is written by construction.
 *
 * Buffered (standard output; an output of unknown size, which starts with a probe; a single
 * segment; FLOE_RETRIEVE_STREAMING=0): one pool buffer per segment in flight, the body goes
 * straight into it (curl sink):
 *
 *   PLANNED --buffer free--> FETCHING --> HASHING (hash pool task: leaves, combined)
 *   --header matches--> VERIFIED --> WRITING (writer thread, at the offset; stdout in order)
 *   --> journal SEGMENT_DONE --> DONE, buffer released.
 *
 * Both modes: a hash that does not match the header sends the segment back to FETCHING (at
 * most FLOE_RETRIEVE_MAX_FETCHES fetches), then the download fails naming the byte range. A
 * segment without the header (a server that sends none, or an unaligned range) is written and
 * counted as unverified; the final check covers it. File writes use a second descriptor opened
 * O_DIRECT (FLOE_DIRECT_IO=0 disables it) when offset and buffer are 4 KiB-aligned: copying
 * into fresh page-cache pages cost more CPU than hashing on this kind of VM, and the final
 * fsync then has almost nothing to flush. The writer falls back to the buffered descriptor on
 * EINVAL (file systems without direct I/O).
 *
 * Planning: segments are power-of-two MiB and aligned to multiples of their size in ARCHIVE
 * offsets (job range start + output offset). For a tree-hash-aligned job the range start is a
 * multiple of the segment size (or the output is one segment), so every segment is a node of
 * the archive's tree and the segment hashes combine into the job's SHA256TreeHash. An output
 * of unknown size (moto describes archive jobs with size 0) starts with one probing segment
 * whose answer (Content-Range total, or a 200 with the whole body) fixes the plan.
 *
 * Resume and durability: the journal records verified, written segments (offset, length,
 * tree hash; the xxh3-128 field is left zero). A record is appended (and fdatasync'ed by the
 * journal) without syncing the data first: it is a claim that a rerun checks, never trusts. On
 * a rerun each recorded segment is re-read from "<output>.floe-part" and re-hashed on the hash
 * pool; matching the recorded tree hash makes it DONE without a request, anything else (bytes
 * lost in a crash, a truncated or edited file) fetches it again. (Journals that recorded an
 * xxh3-128 are checked with that.) Durability of the output matters only at the end: finish()
 * truncates to size, fsyncs, and only then renames the part file into place, so a file at the
 * output path is always complete.
 * Standard output: no journal; verified segments are written strictly in order (the earliest
 * unwritten segment always holds a buffer, since segments start in order, so it cannot stall)
 * into a spool: an unlinked temporary file in $TMPDIR (else /tmp), checked for room first. A
 * segment hash comes from the same server as the bytes, so only the whole output's tree hash
 * (the job's SHA256TreeHash) vouches for them, and it can only be checked at the end; the
 * spool is copied to standard output after that check, so a reader of standard output never
 * sees a byte that failed it, and a failure says exactly how many bytes went out (none unless
 * the copy itself fails).
 *
 * The linear hash (opts->linear_sha256, streaming, nothing resumed): the output's SHA-256 is
 * taken in the chunk tasks from the same bytes as the leaves, each leaf and the linear context
 * fed together by floe_sha256_update2() (one message schedule, two SHA-NI chains: about 0.4 s
 * of CPU per GiB more than the leaves alone, where reading the file back afterwards cost more
 * and came after the download). It needs the bytes in output order: the chunk at lin_next (the
 * frontier) is hashed with the linear context and written, then any held chunk that now
 * follows; a chunk that arrives ahead of the frontier is held (its buffer kept, not hashed or
 * written yet) up to lin_cap chunks. The ring is LIN_RING (3) times its usual size (an adaptive
 * limit's ring too, sized for the ceiling) and lin_cap is all but the usual share of the ring
 * in use, so the segments in flight always find buffers as without the hash, and the
 * frontier's segment has started (segments start in order), so held chunks always drain. A
 * segment stays in flight until its last chunk is written, so at most (in flight - 1) segments
 * are ahead of the frontier; the limit (fixed or adaptive) counts the segments fetching, not
 * those whose bytes are all in and held (they take no connection, and counting them left
 * connections idle behind a slow frontier segment), and a segment starts only while the
 * segments ahead of the frontier fit in lin_cap. Anything that would make the linear stream differ
 * from the verified output gives it up (lin_bad; the held chunks are hashed and written as
 * usual): a chunk that cannot be held, a failed, short or restarted fetch, a refetch after a
 * hash mismatch. The hash is reported only when every byte went through it once and the whole
 * output matched the job's tree hash.
 * An adaptive limit with the linear hash (floe migrate's default) has a lower ceiling
 * (LIN_ADAPTIVE_MAX) and grows only while the download is latency-bound (adapt.h's latency
 * gate): the shortest wait for a fetch's first body byte (after the first round, whose waits
 * include the connections' setup) is at least FLOE_ADAPT_GATE_SHARE of the average fetch's
 * time. That floor is the link's round trip plus the service's fastest answer, the time a
 * connection idles per fetch whatever the load, which more fetches in flight hide; on loopback
 * it is a millisecond or two against fetches of tens of milliseconds, and the plain controller,
 * which doubles after its first window and keeps a step on a 10% gain, climbed there on noise
 * (segment times vary with the CPU, not the link), and the chunks held and the ring with it, for
 * no gain. The waits themselves are no signal on a busy machine: queued behind the CPU they were
 * half of a fetch on loopback.
 *
 * Failure: the first fatal error stops new segments; events drain until nothing is in flight;
 * the journal stays (resumable) unless the whole-output hash itself failed, in which case the
 * journal and the partial file are removed, because a recorded segment is known to be bad but
 * not which one.
 */
#include "floe/retrieve.h"

#include "adapt.h"
#include "alloc.h"
#include "dirsync.h"
#include "bufpool.h"
#include "checkpoint.h"
#include "client_impl.h"
#include "floe/checkpoint.h"
#include "floe/hashpool.h"
#include "floe/range.h"
#include "floe/sigv4.h"
#include "orch.h"
#include "sha256.h"
#include "treehash_lin.h"
#include "writer.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#define MAX_SEGMENTS 65536u
#define CHUNK_BYTES ((size_t)2 << 20) /* streaming: two leaves, one hash task, one write */
/* opts->linear_sha256: the ring is this many times its usual size; all but the usual share may
 * be held (DESIGN, "The linear hash") */
#define LIN_RING 3u
/* opts->linear_sha256 with an adaptive limit: its ceiling (DESIGN, "The linear hash") */
#define LIN_ADAPTIVE_MAX 16u
#define DIO_ALIGN 4096u /* O_DIRECT alignment of offsets, lengths and buffers (>= any block) */

static const char *const s_verify_names[FLOE_VERIFY_COUNT] = {"none", "segments", "whole"};

const char *floe_verification_name(enum floe_verification v)
{
    return (unsigned)v < FLOE_VERIFY_COUNT ? s_verify_names[v] : "unknown";
}

enum seg_state {
    SEG_PLANNED,
    SEG_FETCHING,
    SEG_HASHING,
    SEG_VERIFIED,
    SEG_WRITING,
    SEG_DONE,
    SEG_STATE_COUNT
};
static const char *const s_state_names[SEG_STATE_COUNT] = {"PLANNED",  "FETCHING", "HASHING",
                                                           "VERIFIED", "WRITING",  "DONE"};
static_assert(SEG_STATE_COUNT == 6, "keep s_state_names in sync");
static const bool s_legal[SEG_STATE_COUNT][SEG_STATE_COUNT] = {
    [SEG_PLANNED] = {[SEG_FETCHING] = true, [SEG_DONE] = true},
    [SEG_FETCHING] = {[SEG_HASHING] = true},
    [SEG_HASHING] = {[SEG_FETCHING] = true, [SEG_VERIFIED] = true},
    [SEG_VERIFIED] = {[SEG_WRITING] = true, [SEG_DONE] = true}, /* DONE: streamed */
    [SEG_WRITING] = {[SEG_DONE] = true},
};
static const struct floe_orch_states s_states = {
    .item_name = "segment",
    .count = SEG_STATE_COUNT,
    .names = s_state_names,
    .legal = &s_legal[0][0],
    .done = SEG_DONE,
};

/* Event kinds: obj is the segment, or the chunk for EV_CHUNK. */
enum ev_kind { EV_FETCHED, EV_HASHED, EV_WRITTEN, EV_CHUNK };

struct dl;
struct seg;

/* Streaming mode: CHUNK_BYTES (or the segment's tail) of one segment, in one pool buffer.
 * Made and filled by the transfer thread, then owned by the hash task, then by the writer;
 * its done callback releases the buffer and hands the struct to the orchestrator. */
struct chunk {
    struct seg *s;
    struct floe_buf *buf;
    uint64_t off; /* output offset */
    size_t len;
    struct floe_orch_event ev; /* status: FLOE_OK or the write's failure */
};

struct seg {
    struct floe_orch_item it; /* index, state, attempts (fetches) */
    struct dl *d;
    uint64_t off, len; /* output-relative */
    bool probe;        /* size unknown: this request also discovers it */
    bool had_header;   /* the last fetch carried x-amz-sha256-tree-hash */
    bool dropped;      /* stdout, after a failure: verified but never to be written */
    struct floe_buf *buf;
    struct floe_xfer *xfer;
    uint8_t want[FLOE_HASH_BYTES]; /* the header's value */
    uint8_t tree[FLOE_HASH_BYTES];
    struct floe_orch_event ev; /* the segment's own events (at most one queued at a time) */
    /* streaming mode (see DESIGN) */
    uint8_t (*leaves)[FLOE_HASH_BYTES]; /* one per MiB; hash tasks write disjoint entries */
    bool body_done;                     /* orchestrator: EV_FETCHED seen for this fetch */
    unsigned chunks_done;               /* orchestrator: EV_CHUNK events seen (all fetches) */
    unsigned chunks_sent;               /* transfer thread: chunks handed off (all fetches);
                                           read by the orchestrator after EV_FETCHED */
    unsigned chunks_finished;           /* writer thread: chunks whose write completed;
                                           guarded by d->chunk_mu */
    struct chunk *cur;                  /* transfer thread: the chunk being filled */
    int chunk_status;                   /* orchestrator: first failed chunk write */
    struct floe_error chunk_err;
    uint64_t recv; /* transfer thread: body bytes of this attempt */
    bool overflow; /* transfer thread: the answer is longer than asked */
    /* the fetch's submission (orchestrator) and its first body byte (transfer thread; read by
     * the orchestrator after EV_FETCHED), floe_adapt_now_ns() */
    uint64_t sent_ns, first_ns;
};

struct dl {
    struct floe_client *client;
    const struct floe_download_options *opts;
    const char *vault;
    char job_id[FLOE_JOB_ID_MAX];
    struct floe_job_info job;
    char *output_path; /* user's path */
    char *part_path;   /* output + suffix; NULL for stdout */
    int fd;            /* buffered: reads on resume, final truncate/fsync, misaligned writes */
    int dfd;           /* the same file opened O_DIRECT, or -1 (stdout, unsupported, disabled) */
    bool to_stdout;    /* fd is then the spool (see DESIGN) */
    bool streaming;    /* chunks hashed and written as they arrive (else whole-segment buffers) */
    uint64_t total;    /* UINT64_MAX until known */
    uint64_t archive_first;
    uint64_t seg_size;
    uint64_t nseg;           /* segments planned: the core's items 0..nseg-1 */
    unsigned concurrency;    /* the fixed limit, or the adaptive one's ceiling (pool sizing) */
    bool adaptive;           /* no --concurrency: segments in flight follow the link (adapt.h) */
    struct floe_adapt adapt; /* orchestrating thread only */
    bool latency_gate;       /* adaptive linear hash: grow only while latency-bound (DESIGN) */
    struct floe_adapt_gate gate; /* its measurements (adapt.h) */
    unsigned peak;               /* most segments in flight at once */
    uint64_t next_write;         /* stdout: next segment to hand to the writer */
    unsigned fetching;
    unsigned fetched, resumed, refetched;
    bool unverified;           /* some segment had no header */
    struct floe_orch orch;     /* the transfer core: segment table, loop, journal record */
    struct floe_bufpool *pool; /* streaming: the chunk ring (FIFO); else segment buffers */
    struct floe_buf **held;    /* adaptive streaming: chunks kept out of the ring (never touched) */
    unsigned nheld;            /* orchestrating thread only */
    unsigned ring_count;       /* streaming: chunks in the pool, held ones included */
    pthread_mutex_t chunk_mu;  /* streaming: guards every segment's chunks_finished */
    pthread_cond_t chunk_cv;   /* signalled when a chunk write completes */
    struct floe_hashpool *hashpool;
    struct floe_writer *writer;
    struct floe_journal *journal; /* also the core's, for segment records */
    char ckpt_path[4096];
    /* streaming with opts->linear_sha256: the output's SHA-256 in the same pass as the leaves
     * (see "The linear hash" in DESIGN) */
    bool lin;                /* fixed at prepare(); the rest only when set */
    bool lin_ring;           /* make_pool() made the ring LIN_RING times larger for it */
    pthread_mutex_t lin_mu;  /* guards lin_next, lin_bad, lin_held, lin_cap */
    uint64_t lin_next;       /* output bytes in lin_ctx or being added by the frontier chunk */
    bool lin_bad;            /* given up: a chunk could not be held, a fetch failed or repeated */
    struct chunk **lin_held; /* chunks ahead of lin_next, not hashed or written yet */
    unsigned lin_nheld, lin_cap; /* lin_cap: see ring_in_use() */
    struct floe_sha256 lin_ctx;  /* only the task that owns the frontier touches it */
};

/* ---- planning (pure) ---- */

uint64_t floe_retrieve_plan(uint64_t total, uint64_t archive_first, uint64_t segment_size,
                            uint64_t index, struct floe_byte_range *seg)
{
    if (total == 0 || segment_size == 0)
        return 0;
    uint64_t first_len = segment_size - archive_first % segment_size;
    if (first_len > total)
        first_len = total;
    uint64_t rest = total - first_len;
    uint64_t count = 1 + rest / segment_size + (rest % segment_size != 0);
    if (seg && index < count) {
        uint64_t start = index == 0 ? 0 : first_len + (index - 1) * segment_size;
        uint64_t len = index == 0 ? first_len : segment_size;
        if (start + len > total)
            len = total - start;
        seg->first = start;
        seg->last = start + len - 1;
    }
    return count;
}

int floe_retrieve_pick_segment_size(uint64_t total, uint64_t requested, uint64_t *out,
                                    struct floe_error *err)
{
    uint64_t s = requested ? requested : FLOE_RETRIEVE_DEFAULT_SEGMENT_SIZE;
    if (requested) {
        int rc = floe_range_check_segment_size(requested, err);
        if (rc)
            return rc;
    }
    while (total != UINT64_MAX && s < FLOE_PART_SIZE_MAX && total / s >= MAX_SEGMENTS)
        s *= 2;
    *out = s;
    return FLOE_OK;
}

/* ---- small helpers ---- */

static struct seg *seg_at(struct dl *d, uint64_t index)
{
    return floe_orch_item(&d->orch, index);
}

static void set_state(struct seg *s, enum seg_state to)
{
    floe_orch_set_state(&s->d->orch, &s->it, to);
}

static void post(struct seg *s, enum ev_kind kind)
{
    floe_orch_post(&s->d->orch, &s->ev, kind, s);
}

/* "bytes 0-33554431 of the output (archive bytes 1048576-34603007)" */
static void describe_range(const struct dl *d, uint64_t off, uint64_t len, char *buf, size_t cap)
{
    if (d->archive_first)
        snprintf(buf, cap,
                 "bytes %" PRIu64 "-%" PRIu64 " of the output (archive bytes %" PRIu64 "-%" PRIu64
                 ")",
                 off, off + len - 1, d->archive_first + off, d->archive_first + off + len - 1);
    else
        snprintf(buf, cap, "bytes %" PRIu64 "-%" PRIu64, off, off + len - 1);
}

static void progress(void *ctx)
{
    struct dl *d = ctx;
    if (!d->opts->progress)
        return;
    struct floe_download_progress p = {
        .bytes_done = d->orch.bytes_done,
        .bytes_total = d->total,
        .segments_done = (unsigned)d->orch.items_done,
        .segments_total = (unsigned)d->nseg,
        .seconds = floe_orch_elapsed(&d->orch),
    };
    d->opts->progress(&p, d->opts->progress_user);
}

/* The segment leaves flight (done or given up): its buffer and leaf array go. */
static void release(void *ctx, void *item)
{
    struct dl *d = ctx;
    struct seg *s = item;
    if (s->buf) {
        floe_bufpool_release(d->pool, s->buf);
        s->buf = NULL;
    }
    free(s->leaves);
    s->leaves = NULL;
}

static void seg_free(void *ctx, void *item)
{
    struct seg *s = item;
    floe_xfer_destroy(s->xfer);
    release(ctx, s);
}

/* Plans segments from..d->nseg-1 (the core's items). */
static void plan_segments(struct dl *d, uint64_t from)
{
    for (uint64_t i = from; i < d->nseg; i++) {
        struct seg *s = seg_at(d, i);
        struct floe_byte_range r;
        floe_retrieve_plan(d->total, d->archive_first, d->seg_size, i, &r);
        s->d = d;
        s->off = r.first;
        s->len = floe_range_len(r);
    }
}

/* ---- stage callbacks (other threads): only record and push ---- */

static void lin_give_up(struct dl *d);

static void on_fetched(struct floe_xfer *x)
{
    struct seg *s = x->user;
    if (s->d->streaming && (x->status || s->recv != s->len))
        lin_give_up(s->d); /* bytes missing: the frontier may never get past them */
    if (s->cur) {          /* the body stopped short: this chunk was never handed off */
        floe_bufpool_release(s->d->pool, s->cur->buf);
        free(s->cur);
        s->cur = NULL;
    }
    s->ev.status = x->status;
    if (x->status)
        s->ev.err = x->err;
    post(s, EV_FETCHED);
}

static void hash_task(void *arg)
{
    struct seg *s = arg;
    const uint8_t *data = s->buf->data;
    uint64_t n = floe_treehash_leaf_count(s->len);
    uint8_t(*leaves)[FLOE_HASH_BYTES] = floe_xmalloc((size_t)(n ? n : 1) * FLOE_HASH_BYTES);
    floe_treehash_leaves(data, (size_t)s->len, leaves);
    floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])leaves, (size_t)n, s->tree);
    free(leaves);
    s->ev.status = FLOE_OK;
    post(s, EV_HASHED);
}

static void on_written(void *user, int status, const struct floe_error *err)
{
    struct seg *s = user;
    s->ev.status = status;
    if (err)
        s->ev.err = *err;
    post(s, EV_WRITTEN);
}

/* ---- streaming mode: the body is hashed and written in chunks as it arrives ---- */

/* Direct I/O for a write when the offset and buffer are block-aligned: the bytes go from our
 * buffer to the device, never copied into the page cache (on this kind of VM that copy into
 * fresh pages costs more CPU than hashing the bytes). The output's last write is padded with
 * zeros to the block (buf has room: its capacity is a multiple of 1 MiB); finish() truncates
 * the file to its size. Anything else stays buffered. */
static void prefer_direct(const struct dl *d, struct floe_write_req *rq, struct floe_buf *buf)
{
    size_t len = rq->length_bytes;
    size_t padded = (len + DIO_ALIGN - 1) & ~(size_t)(DIO_ALIGN - 1);
    if (d->dfd < 0 || rq->offset_bytes % DIO_ALIGN || (uintptr_t)rq->src % DIO_ALIGN ||
        (uint8_t *)rq->src != buf->data || padded > buf->cap)
        return;
    if (padded != len) {
        if (rq->offset_bytes + len != d->total)
            return; /* padding would overwrite the next bytes of the output */
        memset(buf->data + len, 0, padded - len);
    }
    rq->fd = d->dfd;
    rq->length_bytes = padded;
    rq->has_fallback = true;
    rq->fallback_fd = d->fd;
}

/* Writer thread: the chunk is in the file (or failed); its buffer goes back to the ring. */
static void on_chunk_written(void *user, int status, const struct floe_error *err)
{
    struct chunk *c = user;
    struct seg *s = c->s;
    struct dl *d = s->d;
    c->ev.status = status;
    if (status && err)
        c->ev.err = *err;
    floe_bufpool_release(d->pool, c->buf);
    c->buf = NULL;
    pthread_mutex_lock(&d->chunk_mu);
    s->chunks_finished++;
    pthread_cond_broadcast(&d->chunk_cv); /* a body restart may be waiting (on_body_restart) */
    pthread_mutex_unlock(&d->chunk_mu);
    floe_orch_post(&d->orch, &c->ev, EV_CHUNK, c);
}

/* The chunk's bytes go to the writer at their offset. */
static void write_chunk(struct chunk *c)
{
    struct seg *s = c->s;
    struct dl *d = s->d;
    struct floe_write_req rq = {
        .fd = d->fd,
        .offset_bytes = c->off,
        .src = c->buf->data,
        .length_bytes = c->len,
        .path = d->part_path,
        .done = on_chunk_written,
        .user = c,
    };
    prefer_direct(d, &rq, c->buf);
    struct floe_error e = {0};
    if (floe_writer_submit(d->writer, &rq, &e) != FLOE_OK)
        on_chunk_written(c, e.status, &e);
}

/* The chunk's leaves (chunks start on leaf boundaries of their segment); lin: the frontier
 * chunk, each leaf and the linear context over the same bytes at once. */
static void leaves(struct chunk *c, struct floe_sha256 *lin)
{
    struct seg *s = c->s;
    floe_treehash_leaves_lin(c->buf->data, c->len,
                             s->leaves + (c->off - s->off) / FLOE_TREEHASH_LEAF_BYTES, lin);
}

static void leaves_and_write(struct chunk *c)
{
    leaves(c, NULL);
    write_chunk(c);
}

/* lin_mu held: the linear hash is given up; the held chunks are returned (*n of them, in a
 * malloc'd array the caller frees) for the caller to hash and write as usual. */
static struct chunk **lin_give_up_locked(struct dl *d, unsigned *n)
{
    struct chunk **held = d->lin_held;
    *n = d->lin_nheld;
    d->lin_bad = true;
    d->lin_held = NULL;
    d->lin_nheld = 0;
    return held;
}

static void chunk_task(void *arg);

/* Any thread but a hash task: the linear hash is given up, held chunks go to the hash pool. */
static void lin_give_up(struct dl *d)
{
    if (!d->lin)
        return;
    unsigned n;
    pthread_mutex_lock(&d->lin_mu);
    struct chunk **held = lin_give_up_locked(d, &n);
    pthread_mutex_unlock(&d->lin_mu);
    for (unsigned i = 0; i < n; i++)
        floe_hashpool_submit(d->hashpool, chunk_task, held[i]);
    free(held);
}

/* The held chunk at offset off, taken out of the held set, or NULL. lin_mu held. */
static struct chunk *lin_take_locked(struct dl *d, uint64_t off)
{
    for (unsigned i = 0; i < d->lin_nheld; i++) {
        struct chunk *c = d->lin_held[i];
        if (c->off == off) {
            d->lin_held[i] = d->lin_held[--d->lin_nheld];
            return c;
        }
    }
    return NULL;
}

/* Hash pool: a chunk of the body. With the linear hash: the frontier chunk is hashed into it
 * and written, then every held chunk that follows; a chunk ahead of the frontier is held. */
static void chunk_task(void *arg)
{
    struct chunk *c = arg;
    struct dl *d = c->s->d;
    if (!d->lin) {
        leaves_and_write(c);
        return;
    }
    pthread_mutex_lock(&d->lin_mu);
    if (!d->lin_bad && c->off != d->lin_next) {
        if (d->lin_nheld < d->lin_cap) {
            d->lin_held[d->lin_nheld++] = c;
            pthread_mutex_unlock(&d->lin_mu);
            return;
        }
        unsigned n;
        struct chunk **held = lin_give_up_locked(d, &n);
        pthread_mutex_unlock(&d->lin_mu);
        for (unsigned i = 0; i < n; i++)
            leaves_and_write(held[i]);
        free(held);
        leaves_and_write(c);
        return;
    }
    bool frontier = !d->lin_bad;
    pthread_mutex_unlock(&d->lin_mu);
    if (!frontier) {
        leaves_and_write(c);
        return;
    }
    while (c) {
        leaves(c, &d->lin_ctx);
        pthread_mutex_lock(&d->lin_mu);
        d->lin_next = c->off + c->len;
        struct chunk *next = d->lin_bad ? NULL : lin_take_locked(d, d->lin_next);
        pthread_mutex_unlock(&d->lin_mu);
        /* the frontier moved before the write: once the last chunk is written the download
         * may finish and free d, so nothing of d is touched after it (next is not written
         * yet, so its download is still running) */
        write_chunk(c);
        c = next;
    }
}

/* curl's receive buffer -> a chunk, with non-temporal stores: the chunk is read next by a
 * hash thread on the other core and then by the device, so there is no point pulling its
 * lines into this core's cache; plain memcpy into recycled chunks measured 1.5-4x slower
 * (docs/internals/retrieve.md). The sfence orders the stores before the hand-off. */
static void copy_to_chunk(uint8_t *dst, const uint8_t *src, size_t n)
{
#if defined(__x86_64__)
    while (n && ((uintptr_t)dst & 15)) {
        *dst++ = *src++;
        n--;
    }
    while (n >= 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)src);
        __m128i b = _mm_loadu_si128((const __m128i *)(src + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(src + 48));
        _mm_stream_si128((__m128i *)dst, a);
        _mm_stream_si128((__m128i *)(dst + 16), b);
        _mm_stream_si128((__m128i *)(dst + 32), c);
        _mm_stream_si128((__m128i *)(dst + 48), e);
        src += 64;
        dst += 64;
        n -= 64;
    }
    _mm_sfence();
#endif
    memcpy(dst, src, n);
}

/* Transfer thread: body bytes of a 2xx answer. Blocks while every chunk buffer is taken (the
 * pool holds more chunks than segments in flight, so one always comes back; it is never
 * cancelled, so the acquire cannot fail). */
static size_t on_body(void *ctx, const uint8_t *src, size_t n)
{
    struct seg *s = ctx;
    struct dl *d = s->d;
    if (!s->first_ns)
        s->first_ns = floe_adapt_now_ns();
    if (n > s->len - s->recv) {
        s->overflow = true;
        return 0; /* aborts the attempt */
    }
    size_t left = n;
    while (left) {
        if (!s->cur) {
            struct floe_buf *b = NULL;
            struct floe_error e = {0};
            (void)floe_bufpool_acquire(d->pool, &b, &e);
            s->cur = floe_xcalloc(1, sizeof(*s->cur));
            s->cur->s = s;
            s->cur->buf = b;
            s->cur->off = s->off + s->recv;
        }
        struct chunk *c = s->cur;
        size_t k = CHUNK_BYTES - c->len;
        if (k > left)
            k = left;
        copy_to_chunk(c->buf->data + c->len, src, k);
        c->len += k;
        s->recv += k;
        src += k;
        left -= k;
        if (c->len == CHUNK_BYTES || s->recv == s->len) {
            s->cur = NULL;
            s->chunks_sent++;
            floe_hashpool_submit(d->hashpool, chunk_task, c);
        }
    }
    return n;
}

/* Transfer thread: an attempt failed and the body starts again. Chunks of the failed attempt
 * may still be hashing or writing; wait for them (rare, and bounded by a few chunk writes) so
 * an old write can never land after a new one at the same offset. */
static void on_body_restart(void *ctx)
{
    struct seg *s = ctx;
    struct dl *d = s->d;
    lin_give_up(d); /* the linear hash has this attempt's first bytes; its held chunks must go */
    if (s->cur) {
        floe_bufpool_release(d->pool, s->cur->buf);
        free(s->cur);
        s->cur = NULL;
    }
    s->recv = 0;
    s->overflow = false;
    pthread_mutex_lock(&d->chunk_mu);
    while (s->chunks_finished != s->chunks_sent)
        pthread_cond_wait(&d->chunk_cv, &d->chunk_mu);
    pthread_mutex_unlock(&d->chunk_mu);
}

/* ---- orchestrator ---- */

static void submit_fetch(struct dl *d, struct seg *s)
{
    /* a probe, or the whole output in one request, may receive more than the description
     * says (moto reports 10000 bytes for every inventory): allow up to the buffer */
    uint64_t want = s->probe || d->nseg == 1 ? s->buf->cap : s->len;
    struct floe_call *k =
        floe_call_job_output(d->client, d->vault, d->job_id, s->probe || d->nseg > 1, s->off, want);
    floe_xfer_destroy(s->xfer);
    s->xfer = floe_call_xfer(k);
    if (d->streaming) {
        s->recv = 0;
        s->overflow = false;
        s->body_done = false;
        s->xfer->body_write = on_body;
        s->xfer->body_restart = on_body_restart;
        s->xfer->body_ctx = s;
    } else {
        s->xfer->sink = s->buf->data;
        s->xfer->sink_cap = (size_t)want;
    }
    s->xfer->done = on_fetched;
    s->xfer->user = s;
    s->sent_ns = floe_adapt_now_ns();
    s->first_ns = 0;
    s->it.attempts++;
    d->fetching++;
    set_state(s, SEG_FETCHING);
    floe_transfer_submit(d->client->transfer, s->xfer);
}

/* Adaptive streaming: the ring in use is what the current limit needs (2 chunks per segment in
 * flight plus 4, as for a fixed --concurrency); the rest of the pool, sized for the ceiling,
 * stays held here and is handed to the ring only when the limit grows. A FIFO ring cycles
 * through every free chunk, so a ring sized for the ceiling touched (faulted in, and evicted
 * from cache) 68 chunks where 12 do. Never shrinks: a cut only leaves spare chunks in the ring. */
static unsigned ring_want(const struct dl *d)
{
    return (2 * floe_adapt_limit(&d->adapt) + 4) * (d->lin_ring ? LIN_RING : 1);
}

/* The linear hash may hold all but the usual share of the ring in use (DESIGN). */
static void ring_in_use(struct dl *d)
{
    if (!d->lin_ring)
        return;
    pthread_mutex_lock(&d->lin_mu);
    d->lin_cap = (d->ring_count - d->nheld) / LIN_RING * (LIN_RING - 1);
    pthread_mutex_unlock(&d->lin_mu);
}

static void fit_ring(struct dl *d)
{
    while (d->nheld && d->ring_count - d->nheld < ring_want(d))
        floe_bufpool_release(d->pool, d->held[--d->nheld]);
    ring_in_use(d);
}

static void hold_ring(struct dl *d, unsigned count)
{
    d->ring_count = count;
    if (d->adaptive && count > ring_want(d)) {
        d->held = floe_xcalloc(count - ring_want(d), sizeof(*d->held));
        while (d->nheld < count - ring_want(d) &&
               (d->held[d->nheld] = floe_bufpool_try_acquire(d->pool)))
            d->nheld++;
    }
    ring_in_use(d);
}

static void release_held(struct dl *d)
{
    while (d->nheld)
        floe_bufpool_release(d->pool, d->held[--d->nheld]);
    free(d->held);
    d->held = NULL;
}

/* The core's start(). Streaming: a segment stays in flight until its last chunk is written,
 * and each one in flight may hold one partly filled chunk, so in_flight bounds the chunks held;
 * buffered: a segment needs a free buffer, and at most `concurrency` fetch at once. */
static enum floe_orch_start start_segment(void *ctx, uint64_t index)
{
    struct dl *d = ctx;
    if (index >= d->nseg) /* while a probe runs, nothing else is planned */
        return FLOE_ORCH_END;
    unsigned busy = d->streaming ? d->orch.in_flight : d->fetching;
    unsigned limit = d->adaptive ? floe_adapt_limit(&d->adapt) : d->concurrency;
    if (d->lin) {
        /* a segment whose bytes are all in, held for the frontier, takes no connection: the
         * limit counts fetches, and the segments in flight are bounded by what may be held
         * (once this one starts, in_flight of them ahead of the frontier, and chunks of the
         * frontier's own segment that a hash thread took while the one before was hashed) */
        uint64_t per_seg = (d->seg_size + CHUNK_BYTES - 1) / CHUNK_BYTES;
        if (d->fetching >= limit || ((uint64_t)d->orch.in_flight + 1) * per_seg > d->lin_cap)
            return FLOE_ORCH_WAIT;
        busy = d->fetching;
    } else if (busy >= limit) {
        return FLOE_ORCH_WAIT;
    }
    struct seg *s = seg_at(d, index);
    if (s->it.state == SEG_DONE) /* resumed */
        return FLOE_ORCH_SKIP;
    if (d->streaming) {
        if (!s->leaves)
            s->leaves = floe_xmalloc((size_t)floe_treehash_leaf_count(s->len) * FLOE_HASH_BYTES);
    } else if (!(s->buf = floe_bufpool_try_acquire(d->pool))) {
        return FLOE_ORCH_WAIT;
    }
    floe_orch_enter(&d->orch);
    submit_fetch(d, s);
    if (busy + 1 > d->peak)
        d->peak = busy + 1;
    return FLOE_ORCH_STARTED;
}

static void fail_seg(struct dl *d, struct seg *s, int status, const char *fmt, const char *detail)
{
    char where[160];
    struct floe_error e = {0};
    describe_range(d, s->off, s->len, where, sizeof(where));
    floe_error_set(&e, status, fmt, where, detail);
    floe_orch_fail_item(&d->orch, s, status, &e);
}

/* The size discovered by a probing fetch; plans the remaining segments. */
static int finish_probe(struct dl *d, struct seg *s, struct floe_error *err)
{
    struct floe_xfer *x = s->xfer;
    uint64_t total = x->resp_len;
    const char *cr = floe_xfer_header(x, "content-range");
    if (x->http_status == 206 && cr) {
        const char *slash = strrchr(cr, '/');
        char *end = NULL;
        unsigned long long t = slash ? strtoull(slash + 1, &end, 10) : 0;
        if (!slash || !end || *end || t == 0)
            return floe_error_set(err, FLOE_E_SERVICE,
                                  "GetJobOutput answered Content-Range \"%s\" without a total", cr);
        total = t;
    }
    if (total == 0)
        return floe_error_set(err, FLOE_E_SERVICE, "the job output is empty");
    d->total = total;
    s->probe = false;
    d->nseg = floe_retrieve_plan(total, d->archive_first, d->seg_size, 0, NULL);
    struct floe_byte_range r;
    floe_retrieve_plan(total, d->archive_first, d->seg_size, 0, &r);
    s->len = floe_range_len(r);
    plan_segments(d, 1);
    return FLOE_OK;
}

static void after_fetch(struct dl *d, struct seg *s);
static void handle_hashed(struct dl *d, struct seg *s);
static void settle(struct dl *d, struct seg *s);

static void handle_fetched(struct dl *d, struct seg *s)
{
    d->fetching--;
    uint64_t now = floe_adapt_now_ns();
    if (d->latency_gate && !s->ev.status && s->first_ns > s->sent_ns && now > s->first_ns)
        d->adapt.no_growth = !floe_adapt_gate_fetch(&d->gate, s->sent_ns, s->first_ns, now);
    if (d->adaptive) { /* a retried answer (throttling, a reset, a 5xx) halves the limit */
        floe_adapt_done(&d->adapt, s->ev.status ? 0 : s->len, s->xfer->attempts > 1, now);
        fit_ring(d);
    }
    if (!d->streaming) {
        after_fetch(d, s);
        return;
    }
    s->body_done = true;
    settle(d, s);
}

/* Streaming: once the answer is complete and every chunk it produced is hashed and written,
 * the segment is checked like a buffered one. */
static void settle(struct dl *d, struct seg *s)
{
    if (!s->body_done || s->chunks_done != s->chunks_sent)
        return;
    s->body_done = false;
    if (s->chunk_status && !s->ev.status) {
        int status = s->chunk_status;
        s->chunk_status = 0;
        floe_orch_fail_item(&d->orch, s, status, &s->chunk_err);
        return;
    }
    s->chunk_status = 0;
    after_fetch(d, s);
}

static void handle_chunk(struct dl *d, struct chunk *c)
{
    struct seg *s = c->s;
    s->chunks_done++;
    if (c->ev.status && !s->chunk_status) {
        s->chunk_status = c->ev.status;
        s->chunk_err = c->ev.err;
    }
    free(c);
    settle(d, s);
}

/* The answer of a fetch is complete (and, streaming, hashed and written): check it. */
static void after_fetch(struct dl *d, struct seg *s)
{
    struct floe_xfer *x = s->xfer;
    if (s->ev.status) {
        struct floe_error *e = &s->ev.err;
        char where[160];
        describe_range(d, s->off, s->len, where, sizeof(where));
        if (s->overflow) {
            e->status = s->ev.status = FLOE_E_SERVICE;
            snprintf(e->message, sizeof(e->message),
                     "the answer is longer than the %" PRIu64 " bytes asked for", s->len);
        }
        if (x->http_status == 200 && (s->probe || d->nseg > 1))
            floe_error_append(e,
                              " (fetching %s; the endpoint seems to ignore Range: use a "
                              "--segment-size larger than the output)",
                              where);
        else
            floe_error_append(e, " (fetching %s)", where);
        floe_orch_fail_item(&d->orch, s, s->ev.status, e);
        return;
    }
    if (s->probe) {
        struct floe_error e = {0};
        if (finish_probe(d, s, &e) != FLOE_OK) {
            floe_orch_fail_item(&d->orch, s, e.status, &e);
            return;
        }
    } else if (x->http_status == 206) {
        const char *cr = floe_xfer_header(x, "content-range");
        struct floe_byte_range got;
        if (!cr || floe_range_parse_content_range(cr, &got, NULL) != FLOE_OK ||
            got.first != s->off || got.last != s->off + s->len - 1) {
            fail_seg(d, s, FLOE_E_SERVICE, "asked for %s, the answer has Content-Range %s", cr);
            return;
        }
    }
    if (!s->probe && d->nseg == 1 && x->http_status == 200 && x->resp_len != s->len &&
        x->resp_len > 0) {
        /* the whole output without Range: its length is the truth, whatever the job said */
        d->total = x->resp_len;
        s->len = x->resp_len;
    }
    if (x->resp_len != s->len) {
        char detail[64];
        snprintf(detail, sizeof(detail), "%zu", x->resp_len);
        fail_seg(d, s, FLOE_E_SERVICE, "asked for %s, received %s bytes", detail);
        return;
    }
    if (!floe_orch_stopping(&d->orch)) /* the stop is drained below otherwise */
        d->fetched++;
    const char *h = floe_xfer_header(x, "x-amz-sha256-tree-hash");
    s->had_header = h != NULL;
    if (h && floe_treehash_parse_hex(h, s->want, NULL) != FLOE_OK) {
        fail_seg(d, s, FLOE_E_SERVICE, "%s: malformed x-amz-sha256-tree-hash \"%s\"", h);
        return;
    }
    set_state(s, SEG_HASHING);
    if (d->streaming) { /* the leaves are known: combine them */
        floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])s->leaves,
                              (size_t)floe_treehash_leaf_count(s->len), s->tree);
        s->ev.status = FLOE_OK;
        handle_hashed(d, s);
        return;
    }
    floe_hashpool_submit(d->hashpool, hash_task, s);
}

static void submit_write(struct dl *d, struct seg *s)
{
    set_state(s, SEG_WRITING);
    struct floe_write_req rq = {
        .fd = d->fd,
        .offset_bytes = s->off,
        .src = s->buf->data,
        .length_bytes = (size_t)s->len,
        .path = d->to_stdout ? "standard output" : d->part_path,
        .sequential = d->to_stdout, /* in order at stdout's position, even into a file */
        .done = on_written,
        .user = s,
    };
    if (!d->to_stdout)
        prefer_direct(d, &rq, s->buf);
    struct floe_error e = {0};
    if (floe_writer_submit(d->writer, &rq, &e) != FLOE_OK)
        floe_orch_fail_item(&d->orch, s, e.status, &e);
}

/* stdout, once the download has failed (or was cancelled): the verified segments waiting for
 * their turn will never be written; take them out of flight so the loop can end. */
static void drop_unwritten(struct dl *d)
{
    for (uint64_t i = d->next_write; i < d->nseg; i++) {
        struct seg *s = seg_at(d, i);
        if (s->it.state == SEG_VERIFIED && !s->dropped) {
            s->dropped = true;
            floe_orch_leave(&d->orch, s);
        }
    }
}

/* stdout: hands verified segments to the writer strictly in index order. */
static void flush_ordered(struct dl *d)
{
    while (d->next_write < d->nseg && seg_at(d, d->next_write)->it.state == SEG_VERIFIED)
        submit_write(d, seg_at(d, d->next_write++));
}

static void record_done(struct dl *d, struct seg *s);

static void handle_hashed(struct dl *d, struct seg *s)
{
    if (s->had_header && memcmp(s->tree, s->want, FLOE_HASH_BYTES) != 0) {
        if (floe_orch_may_retry(&d->orch, &s->it, FLOE_RETRIEVE_MAX_FETCHES)) {
            d->refetched++;
            lin_give_up(d);     /* the linear hash has the bytes that failed */
            submit_fetch(d, s); /* HASHING -> FETCHING, same buffer */
            return;
        }
        char want[FLOE_HASH_HEX], got[FLOE_HASH_HEX], detail[300];
        floe_treehash_hex(s->want, want);
        floe_treehash_hex(s->tree, got);
        snprintf(detail, sizeof(detail),
                 "Glacier's x-amz-sha256-tree-hash is %s but the received bytes hash to %s "
                 "(fetched %u times)",
                 want, got, s->it.attempts);
        fail_seg(d, s, FLOE_E_CHECKSUM, "%s failed verification: %s", detail);
        return;
    }
    if (floe_orch_stopping(&d->orch)) {
        floe_orch_leave(&d->orch, s);
        return;
    }
    if (!s->had_header)
        d->unverified = true;
    set_state(s, SEG_VERIFIED);
    if (d->streaming)
        record_done(d, s); /* its bytes are already written */
    else if (d->to_stdout)
        flush_ordered(d);
    else
        submit_write(d, s);
}

static void handle_written(struct dl *d, struct seg *s)
{
    if (s->ev.status) {
        floe_orch_fail_item(&d->orch, s, s->ev.status, &s->ev.err);
        return;
    }
    record_done(d, s);
}

/* Verified and written: the journal record, then DONE. The record does not wait for the data
 * to be durable: a resume re-hashes every recorded segment (see adopt_journal). */
static void record_done(struct dl *d, struct seg *s)
{
    floe_orch_item_done(&d->orch, &s->it, s->off, s->len, s->tree);
}

static void handle(void *ctx, struct floe_orch_event *ev)
{
    struct dl *d = ctx;
    switch ((enum ev_kind)ev->kind) {
    case EV_FETCHED: handle_fetched(d, ev->obj); break;
    case EV_HASHED: handle_hashed(d, ev->obj); break;
    case EV_WRITTEN: handle_written(d, ev->obj); break;
    case EV_CHUNK: handle_chunk(d, ev->obj); break;
    }
}

/* The core's tick. Standard output: verified segments go to the writer in order; once the
 * download has failed, those still waiting for their turn are dropped. */
static void tick(void *ctx)
{
    struct dl *d = ctx;
    if (!d->to_stdout)
        return;
    while (d->next_write < d->nseg && seg_at(d, d->next_write)->it.state == SEG_DONE)
        d->next_write++;
    if (floe_orch_stopping(&d->orch))
        drop_unwritten(d);
    else
        flush_ordered(d);
}

static const struct floe_orch_ops s_ops = {
    .states = &s_states,
    .item_size = sizeof(struct seg),
    .start = start_segment,
    .handle = handle,
    .release = release,
    .item_free = seg_free,
    .progress = progress,
    .tick = tick,
};

/* The size of the segments a journal recorded, from their offsets (segment i starts at
 * i * size), or a lone first segment's length; 0 when the records do not tell. The header's
 * size is not enough: `floe retrieve` writes it before the job runs, and a later run may have
 * downloaded with another --segment-size. */
static uint64_t recorded_segment_size(const struct floe_ckpt_state *st)
{
    for (size_t i = 0; i < st->part_count; i++)
        if (st->parts[i].index > 0 && st->parts[i].offset_bytes % st->parts[i].index == 0)
            return st->parts[i].offset_bytes / st->parts[i].index;
    for (size_t i = 0; i < st->part_count; i++)
        if (st->parts[i].index == 0)
            return st->parts[i].length_bytes;
    return 0;
}

/* ---- checkpoint path, output files ---- */

static char *absolute_path(const char *path)
{
    char *dup1 = floe_xstrdup(path), *dup2 = floe_xstrdup(path);
    char dir[PATH_MAX];
    char *out = NULL;
    if (realpath(dirname(dup1), dir)) {
        const char *base = basename(dup2);
        size_t n = strlen(dir) + strlen(base) + 2;
        out = floe_xmalloc(n);
        snprintf(out, n, "%s/%s", dir, base);
    } else {
        out = floe_xstrdup(path);
    }
    free(dup1);
    free(dup2);
    return out;
}

int floe_retrieve_checkpoint_path(struct floe_client *client, const char *vault, const char *key,
                                  const char *output_path, char *out, size_t cap,
                                  struct floe_error *err)
{
    char *abs = absolute_path(output_path);
    size_t kn = strlen(client->endpoint) + strlen(client->account_id) + strlen(vault) +
                strlen(key) + strlen(abs) + 8;
    char *k = floe_xmalloc(kn);
    int n = snprintf(k, kn, "%s\n%s\n%s\n%s\n%s", client->endpoint, client->account_id, vault, key,
                     abs);
    int rc = floe_checkpoint_default_path("download", k, (size_t)n, out, cap, err);
    free(k);
    free(abs);
    return rc;
}

/* Whether the partial file still holds the bytes the record p confirmed: they must hash to
 * the recorded tree hash (journals of builds that recorded an xxh3-128 of the bytes are
 * checked against that instead). Reads the segment in steps of b's capacity (1 MiB multiple). */
static bool segment_still_there(struct dl *d, const struct seg *s, const struct floe_ckpt_part *p,
                                struct floe_buf *b)
{
    static const uint8_t zero[FLOE_CKPT_XXH128_BYTES];
    bool by_xxh = memcmp(p->xxh128, zero, sizeof(zero)) != 0;
    uint64_t nleaves = floe_treehash_leaf_count(s->len);
    uint8_t(*leaves)[FLOE_HASH_BYTES] = floe_xmalloc((size_t)nleaves * FLOE_HASH_BYTES);
    XXH3_state_t *xs = XXH3_createState();
    XXH3_128bits_reset(xs);
    bool ok = true;
    for (uint64_t at = 0; ok && at < s->len; at += b->cap) {
        size_t n = (size_t)(s->len - at < b->cap ? s->len - at : b->cap);
        ok = pread(d->fd, b->data, n, (off_t)(s->off + at)) == (ssize_t)n;
        if (ok && by_xxh)
            XXH3_128bits_update(xs, b->data, n);
        else if (ok)
            floe_hashpool_leaves(d->hashpool, b->data, n, leaves + at / FLOE_TREEHASH_LEAF_BYTES);
    }
    if (ok && by_xxh) {
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(xs));
        ok = memcmp(c.digest, p->xxh128, sizeof(c.digest)) == 0;
    } else if (ok) {
        uint8_t tree[FLOE_HASH_BYTES];
        floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])leaves, (size_t)nleaves, tree);
        ok = memcmp(tree, p->tree_hash, FLOE_HASH_BYTES) == 0;
    }
    XXH3_freeState(xs);
    free(leaves);
    return ok;
}

/* Checks recorded segments against the partial file; marks the good ones DONE. */
static int adopt_journal(struct dl *d, const struct floe_ckpt_state *st, struct floe_error *err)
{
    if (!st || !st->part_count || d->total == UINT64_MAX || d->to_stdout)
        return FLOE_OK;
    struct floe_buf *b = NULL;
    int rc = floe_bufpool_acquire(d->pool, &b, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < st->part_count; i++) {
        const struct floe_ckpt_part *p = &st->parts[i];
        if (p->index >= d->nseg)
            continue;
        struct seg *s = seg_at(d, p->index);
        if (s->it.state == SEG_DONE || p->offset_bytes != s->off || p->length_bytes != s->len)
            continue;
        if (!segment_still_there(d, s, p, b))
            continue; /* the file lost or changed those bytes: fetch again */
        memcpy(s->tree, p->tree_hash, FLOE_HASH_BYTES);
        floe_orch_count_done(&d->orch, &s->it, s->len);
        d->resumed++;
    }
    floe_bufpool_release(d->pool, b);
    return FLOE_OK;
}

/* Checks that a journal describes this download. */
static int check_journal(struct dl *d, const struct floe_ckpt_state *st, struct floe_error *err)
{
    const struct floe_ckpt_header *h = &st->header;
    if (h->kind != FLOE_CKPT_DOWNLOAD)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "%s is an %s checkpoint, not a download's",
                              d->ckpt_path, floe_checkpoint_kind_name(h->kind));
    if (strcmp(h->vault, d->vault) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "checkpoint %s belongs to vault %s, not %s",
                              d->ckpt_path, h->vault, d->vault);
    if (strcmp(h->endpoint, d->client->endpoint) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "checkpoint %s was made against %s, not %s",
                              d->ckpt_path, h->endpoint, d->client->endpoint);
    if (h->job_id[0] && strcmp(h->job_id, d->job_id) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s is for job %s, not %s; delete it to start afresh",
                              d->ckpt_path, h->job_id, d->job_id);
    if (strcmp(h->output_path, d->output_path) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT, "checkpoint %s writes %s, not %s",
                              d->ckpt_path, h->output_path, d->output_path);
    if (h->total_size_bytes != FLOE_CKPT_SIZE_UNKNOWN && d->total != UINT64_MAX &&
        h->total_size_bytes != d->total)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s is for an output of %" PRIu64
                              " bytes; the job's output has %" PRIu64,
                              d->ckpt_path, h->total_size_bytes, d->total);
    return FLOE_OK;
}

static int make_journal(struct dl *d, struct floe_error *err)
{
    struct floe_ckpt_header h = {.kind = FLOE_CKPT_DOWNLOAD,
                                 .part_size_bytes = d->seg_size,
                                 .total_size_bytes =
                                     d->total == UINT64_MAX ? FLOE_CKPT_SIZE_UNKNOWN : d->total};
    snprintf(h.endpoint, sizeof(h.endpoint), "%s", d->client->endpoint);
    snprintf(h.vault, sizeof(h.vault), "%s", d->vault);
    snprintf(h.account_id, sizeof(h.account_id), "%s", d->client->account_id);
    if (strlen(d->job_id) >= sizeof(h.job_id) || strlen(d->job.archive_id) >= sizeof(h.archive_id))
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "the job or archive id is too long for a checkpoint; use "
                              "--no-checkpoint");
    memcpy(h.job_id, d->job_id, strlen(d->job_id) + 1); /* lengths checked just above */
    memcpy(h.archive_id, d->job.archive_id, strlen(d->job.archive_id) + 1);
    if (strlen(d->output_path) >= sizeof(h.output_path))
        return floe_error_set(err, FLOE_E_CHECKPOINT, "output path too long for a checkpoint");
    snprintf(h.output_path, sizeof(h.output_path), "%s", d->output_path);
    h.has_tree_hash = d->job.has_tree_hash;
    memcpy(h.tree_hash, d->job.tree_hash, FLOE_HASH_BYTES);
    struct floe_journal_options jo = {.overwrite = true};
    return floe_journal_create(d->ckpt_path, &h, &jo, &d->journal, err);
}

/* Standard output's spool: an unlinked file in $TMPDIR (else /tmp) with room for the output. */
static int open_spool(struct dl *d, struct floe_error *err)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    d->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (d->fd < 0) {
        size_t n = strlen(dir) + 32;
        char *tmpl = floe_xmalloc(n);
        snprintf(tmpl, n, "%s/floe-spool-XXXXXX", dir);
        d->fd = mkostemp(tmpl, O_CLOEXEC);
        if (d->fd >= 0)
            unlink(tmpl);
        free(tmpl);
    }
    if (d->fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, dir,
                                    "cannot create the spool for standard output in %s (set "
                                    "TMPDIR, or write to a file with -o FILE)",
                                    dir);
    struct statvfs vs;
    if (d->total != UINT64_MAX && fstatvfs(d->fd, &vs) == 0 &&
        (uint64_t)vs.f_bavail * vs.f_frsize < d->total)
        return floe_error_set(err, FLOE_E_IO,
                              "standard output is spooled in %s until the whole output is "
                              "verified: it needs %llu bytes but %llu are free (set TMPDIR, or "
                              "write to a file with -o FILE)",
                              dir, (unsigned long long)d->total,
                              (unsigned long long)vs.f_bavail * vs.f_frsize);
    return FLOE_OK;
}

/* After the whole-output check: the spool to standard output. On failure err says how many
 * bytes went out. */
static int release_spool(struct dl *d, struct floe_error *err)
{
    enum { STEP = 1 << 20 };
    char *buf = floe_xmalloc(STEP);
    uint64_t sent = 0;
    int rc = FLOE_OK;
    while (sent < d->total) {
        size_t want = d->total - sent < STEP ? (size_t)(d->total - sent) : STEP;
        ssize_t got = pread(d->fd, buf, want, (off_t)sent);
        if (got <= 0) {
            rc = floe_error_set_errno(err, FLOE_E_IO, got < 0 ? errno : EIO, NULL,
                                      "cannot read the spool of standard output after %llu of "
                                      "%llu verified bytes were written to it",
                                      (unsigned long long)sent, (unsigned long long)d->total);
            break;
        }
        for (ssize_t off = 0; off < got;) {
            ssize_t k = write(STDOUT_FILENO, buf + off, (size_t)(got - off));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                rc = floe_error_set_errno(err, FLOE_E_IO, k < 0 ? errno : EIO, "standard output",
                                          "cannot write standard output: %llu of %llu verified "
                                          "bytes were written",
                                          (unsigned long long)(sent + (uint64_t)off),
                                          (unsigned long long)d->total);
                break;
            }
            off += k;
        }
        if (rc)
            break;
        sent += (uint64_t)got;
    }
    free(buf);
    return rc;
}

static int open_output(struct dl *d, bool keep, struct floe_error *err)
{
    if (d->to_stdout)
        return open_spool(d, err);
    int flags = O_RDWR | O_CREAT | O_CLOEXEC | (keep ? 0 : O_TRUNC);
    d->fd = open(d->part_path, flags, 0644);
    if (d->fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, d->part_path, "cannot create %s",
                                    d->part_path);
    const char *env = getenv("FLOE_DIRECT_IO");
    if (!env || strcmp(env, "0") != 0)
        d->dfd = open(d->part_path, O_WRONLY | O_CLOEXEC | O_DIRECT); /* -1: buffered only */
    return FLOE_OK;
}

static int make_pool(struct dl *d, struct floe_error *err)
{
    uint64_t limit =
        d->opts->memory_limit ? d->opts->memory_limit : FLOE_RETRIEVE_DEFAULT_MEMORY_LIMIT;
    if (!d->opts->concurrency && d->total != UINT64_MAX && d->nseg > 1) {
        /* adaptive: from the default up to what the link rewards, within the memory limit
         * (streaming: 2 chunks per segment in flight plus 4; buffered: a segment buffer each) */
        uint64_t max = d->streaming ? (limit / CHUNK_BYTES - 4) / 2 : limit / d->seg_size;
        if (limit / CHUNK_BYTES < 6)
            max = 1;
        if (max > FLOE_RETRIEVE_ADAPTIVE_MAX)
            max = FLOE_RETRIEVE_ADAPTIVE_MAX;
        if (d->streaming && d->opts->linear_sha256) {
            /* the chunks held for the linear hash grow with the limit: a lower ceiling, and
             * growth only while fetches wait for their first byte (DESIGN, "The linear hash") */
            if (max > LIN_ADAPTIVE_MAX)
                max = LIN_ADAPTIVE_MAX;
            d->latency_gate = true;
            floe_adapt_gate_init(&d->gate);
        }
        if (max > d->nseg)
            max = d->nseg;
        if (max < d->concurrency) /* the default still gets its memory check below */
            max = d->concurrency;
        d->adaptive = true;
        floe_adapt_init(&d->adapt,
                        d->opts->adaptive_start ? d->opts->adaptive_start : d->concurrency,
                        (unsigned)max, floe_adapt_now_ns());
        d->adapt.no_growth = d->latency_gate; /* until a fetch has been measured */
        d->concurrency = (unsigned)max;
    }
    if (d->streaming) {
        /* each segment in flight may hold one partly filled chunk; the rest keep both hash
         * threads and the writer busy. Small and reused: fresh memory is expensive to touch */
        uint64_t need = (uint64_t)(d->concurrency + 2) * CHUNK_BYTES;
        if (need > limit)
            return floe_error_set(err, FLOE_E_RANGE,
                                  "--memory-limit %" PRIu64 " MiB is below the %" PRIu64
                                  " MiB that --concurrency %u needs (2 MiB per segment in "
                                  "flight, plus 4 MiB)",
                                  limit >> 20, need >> 20, d->concurrency);
        uint64_t count = 2 * (uint64_t)d->concurrency + 4;
        if (d->opts->linear_sha256 && LIN_RING * count <= limit / CHUNK_BYTES) {
            d->lin_ring = true; /* room for the chunks the linear hash holds (DESIGN) */
            count *= LIN_RING;
        }
        if (count > limit / CHUNK_BYTES)
            count = limit / CHUNK_BYTES;
        /* reused oldest first: the LIFO default hands back the buffer released last, which is
         * slow here (docs/internals/retrieve.md) */
        struct floe_bufpool_options bo = {
            .buf_size_bytes = CHUNK_BYTES,
            .count = (unsigned)count,
            .memory_limit_bytes = limit,
            .fifo = true,
        };
        int rc = floe_bufpool_new(&bo, &d->pool, err);
        if (rc == FLOE_OK)
            hold_ring(d, (unsigned)count);
        return rc;
    }
    uint64_t bufsize = d->seg_size; /* mapped lazily: a small output touches few pages */
    if (bufsize > limit)
        return floe_error_set(err, FLOE_E_RANGE,
                              "segment size %" PRIu64 " MiB does not fit in --memory-limit %" PRIu64
                              " MiB; raise the limit or lower --segment-size",
                              bufsize >> 20, limit >> 20);
    uint64_t count = limit / bufsize;
    if (count > d->concurrency + 2)
        count = d->concurrency + 2;
    if (d->total != UINT64_MAX && count > d->nseg)
        count = d->nseg;
    if (count == 0)
        count = 1;
    struct floe_bufpool_options bo = {
        .buf_size_bytes = (size_t)bufsize,
        .count = (unsigned)count,
        .memory_limit_bytes = limit,
    };
    return floe_bufpool_new(&bo, &d->pool, err);
}

/* The hash the whole output must have, if the job states one. */
static bool expected_tree(const struct dl *d, uint8_t out[FLOE_HASH_BYTES])
{
    if (d->job.has_tree_hash) {
        memcpy(out, d->job.tree_hash, FLOE_HASH_BYTES);
        return true;
    }
    if (d->job.has_archive_tree_hash && d->archive_first == 0 && d->job.archive_size_bytes > 0 &&
        d->total == (uint64_t)d->job.archive_size_bytes) {
        memcpy(out, d->job.archive_tree_hash, FLOE_HASH_BYTES);
        return true;
    }
    return false;
}

static void drop_outputs(struct dl *d)
{
    struct floe_error ignore = {0};
    if (d->journal) {
        floe_journal_destroy(d->journal);
        d->journal = NULL;
        floe_journal_remove(d->ckpt_path, &ignore);
    }
    if (d->part_path)
        unlink(d->part_path);
}

/* After every segment is DONE: the whole-output check, then the file goes into place. */
static int finish(struct dl *d, struct floe_download_result *out, struct floe_error *err)
{
    memset(out, 0, sizeof(*out));
    bool composable = d->nseg == 1 || d->archive_first % d->seg_size == 0;
    uint8_t want[FLOE_HASH_BYTES];
    bool has_want = expected_tree(d, want);
    /* a resumed segment's journal record does not say whether the service sent it a tree hash;
     * without the job's SHA256TreeHash to check the whole, claim nothing for it */
    if (!has_want && d->resumed)
        d->unverified = true;
    enum floe_verification v = d->unverified ? FLOE_VERIFY_NONE : FLOE_VERIFY_SEGMENTS;
    if (composable) {
        uint8_t(*trees)[FLOE_HASH_BYTES] = floe_xmalloc((size_t)d->nseg * FLOE_HASH_BYTES);
        for (uint64_t i = 0; i < d->nseg; i++)
            memcpy(trees[i], seg_at(d, i)->tree, FLOE_HASH_BYTES);
        floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])trees, (size_t)d->nseg, out->tree);
        free(trees);
        out->has_tree = true;
        if (has_want) {
            if (memcmp(out->tree, want, FLOE_HASH_BYTES) != 0) {
                char w[FLOE_HASH_HEX], g[FLOE_HASH_HEX], where[160];
                floe_treehash_hex(want, w);
                floe_treehash_hex(out->tree, g);
                describe_range(d, 0, d->total, where, sizeof(where));
                drop_outputs(d);
                return floe_error_set(err, FLOE_E_CHECKSUM,
                                      "the downloaded output (%s) hashes to %s but the job's "
                                      "SHA256TreeHash is %s; %s: run again to download "
                                      "afresh",
                                      where, g, w,
                                      d->to_stdout ? "nothing was written to standard output"
                                                   : "nothing was kept");
            }
            v = FLOE_VERIFY_WHOLE;
        }
    }
    if (d->to_stdout) {
        int rc = release_spool(d, err);
        if (rc)
            return rc;
    } else {
        if (ftruncate(d->fd, (off_t)d->total) != 0 || fsync(d->fd) != 0)
            return floe_error_set_errno(err, FLOE_E_IO, errno, d->part_path, "cannot finish %s",
                                        d->part_path);
        if (rename(d->part_path, d->output_path) != 0)
            return floe_error_set_errno(err, FLOE_E_IO, errno, d->output_path,
                                        "cannot rename %s to %s", d->part_path, d->output_path);
        /* the rename itself survives a crash; the output is complete either way */
        (void)floe_dir_sync_parent(d->output_path, NULL);
    }
    if (d->journal) {
        struct floe_error e = {0};
        floe_journal_mark_complete(d->journal, NULL, d->total, out->tree, &e);
        floe_journal_destroy(d->journal);
        d->journal = NULL;
        snprintf(out->checkpoint_path, sizeof(out->checkpoint_path), "%s", d->ckpt_path);
        if (!d->opts->keep_checkpoint)
            floe_journal_remove(d->ckpt_path, &e);
    }
    if (d->lin) {
        pthread_mutex_lock(&d->lin_mu);
        bool whole = !d->lin_bad && d->lin_next == d->total;
        pthread_mutex_unlock(&d->lin_mu);
        if (whole && v == FLOE_VERIFY_WHOLE) {
            floe_sha256_final(&d->lin_ctx, out->sha256);
            out->has_sha256 = true;
        }
    }
    out->size = d->total;
    out->verification = v;
    out->segment_size = d->seg_size;
    out->segments = (unsigned)d->nseg;
    out->segments_fetched = d->fetched;
    out->segments_resumed = d->resumed;
    out->segments_refetched = d->refetched;
    out->peak_in_flight = d->peak;
    out->adaptive_cuts = d->adaptive ? d->adapt.cuts : 0;
    /* still latency-bound at the end: the next download over the link may start here */
    out->adaptive_next = d->latency_gate && !d->adapt.no_growth ? floe_adapt_limit(&d->adapt) : 0;
    return FLOE_OK;
}

/* Options that are wrong whatever the job is. */
static int check_download_options(const struct floe_download_options *opts, struct floe_error *err)
{
    int rc = floe_sigv4_vault_name_valid(opts->vault, err);
    if (rc)
        return rc;
    if (!opts->job_id || !*opts->job_id)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "a job id is required");
    if (strlen(opts->job_id) >= FLOE_JOB_ID_MAX)
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "job id of %zu characters is too long to be a Glacier job id (at "
                              "most %d)",
                              strlen(opts->job_id), FLOE_JOB_ID_MAX - 1);
    if (!opts->output_path || !*opts->output_path)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "an output path is required (- for stdout)");
    if (opts->segment_size)
        return floe_range_check_segment_size(opts->segment_size, err);
    return FLOE_OK;
}

/* The job (described unless the caller has it): it must have succeeded; its output's size. */
static int load_job(struct dl *d, struct floe_error *err)
{
    int rc;
    if (d->opts->job)
        d->job = *d->opts->job;
    else if ((rc = floe_job_describe(d->client, d->vault, d->job_id, &d->job, err)))
        return rc;
    if (!d->job.completed || strcmp(d->job.status_code, "Succeeded") != 0)
        return floe_error_set(
            err, FLOE_E_SERVICE, "job %s is %s, not ready for download%s%s (floe job wait %s %s)",
            d->job_id, d->job.status_code[0] ? d->job.status_code : "not done",
            d->job.status_message[0] ? ": " : "", d->job.status_message, d->vault, d->job_id);
    d->total = floe_job_output_size(&d->job);
    if (d->total == 0)
        return floe_error_set(err, FLOE_E_SERVICE, "job %s has an empty output", d->job_id);
    d->archive_first = d->job.has_range ? d->job.range.first : 0;
    return FLOE_OK;
}

/* The journal: the caller's (floe_retrieve_archive), or an existing one for this output
 * (resume; *own_st is its replayed state), checked against this download. A journal of a
 * finished download (--keep-checkpoint) is set aside: the output is downloaded afresh. */
static int open_journal(struct dl *d, bool use_journal, struct floe_ckpt_state **st,
                        struct floe_ckpt_state **own_st, struct floe_error *err)
{
    int rc;
    if (use_journal && !d->journal) {
        if (d->opts->checkpoint_path)
            snprintf(d->ckpt_path, sizeof(d->ckpt_path), "%s", d->opts->checkpoint_path);
        else if ((rc = floe_retrieve_checkpoint_path(d->client, d->vault, d->job_id, d->output_path,
                                                     d->ckpt_path, sizeof(d->ckpt_path), err)))
            return rc;
        if (access(d->ckpt_path, F_OK) == 0) {
            if ((rc = floe_journal_open(d->ckpt_path, NULL, &d->journal, own_st, err)))
                return rc;
            *st = *own_st;
        }
    } else if (d->journal) {
        snprintf(d->ckpt_path, sizeof(d->ckpt_path), "%s", floe_journal_path(d->journal));
    }
    if (*st && (rc = check_journal(d, *st, err)))
        return rc;
    if (*st && (*st)->complete) {
        floe_journal_destroy(d->journal);
        d->journal = NULL;
        *st = NULL;
    }
    return FLOE_OK;
}

/* Segment size (a resume keeps the recorded one), the segment plan, and the mode. */
static int plan_download(struct dl *d, const struct floe_ckpt_state *st, struct floe_error *err)
{
    uint64_t requested = d->opts->segment_size;
    if (st && st->part_count) { /* resume at the recorded segments' size */
        uint64_t rec = recorded_segment_size(st);
        if (rec && floe_range_check_segment_size(rec, NULL) == FLOE_OK)
            requested = rec;
        else if (st->header.part_size_bytes &&
                 floe_range_check_segment_size(st->header.part_size_bytes, NULL) == FLOE_OK)
            requested = st->header.part_size_bytes;
    }
    int rc = floe_retrieve_pick_segment_size(d->total, requested, &d->seg_size, err);
    if (rc)
        return rc;
    if (d->total == UINT64_MAX) {
        d->nseg = 1;
        plan_segments(d, 0);
        seg_at(d, 0)->probe = true;
        seg_at(d, 0)->len = d->seg_size;
    } else {
        d->nseg = floe_retrieve_plan(d->total, d->archive_first, d->seg_size, 0, NULL);
        plan_segments(d, 0);
    }
    const char *env = getenv("FLOE_RETRIEVE_STREAMING");
    d->streaming =
        !d->to_stdout && d->total != UINT64_MAX && d->nseg > 1 && !(env && strcmp(env, "0") == 0);
    return FLOE_OK;
}

/* Free space in the output's directory (statvfs) for what is still to be written, before
 * anything is: a download that cannot fit fails at once, not hours later with ENOSPC. */
static int check_space(struct dl *d, bool resuming, struct floe_error *err)
{
    if (!d->part_path || d->total == UINT64_MAX)
        return FLOE_OK;
    char *copy = floe_xstrdup(d->part_path);
    const char *dir = dirname(copy);
    struct statvfs vs;
    int rc = FLOE_OK;
    if (statvfs(dir, &vs) == 0) {
        uint64_t have = (uint64_t)vs.f_bavail * vs.f_frsize, need = d->total;
        struct stat st;
        if (resuming && stat(d->part_path, &st) == 0) {
            uint64_t held = (uint64_t)st.st_blocks * 512;
            need = held < need ? need - held : 0;
        }
        if (need > have)
            rc = floe_error_set(err, FLOE_E_IO,
                                "not enough free space for %s: %" PRIu64 " MiB to write, %" PRIu64
                                " MiB free in %s",
                                d->output_path, (need + FLOE_MIB - 1) >> 20, have >> 20, dir);
    }
    free(copy);
    return rc;
}

/* Buffers, the output file, the journal, the stages; recorded segments that still check out
 * are adopted. The pool comes first: a refused --memory-limit leaves no file behind. */
static int prepare(struct dl *d, bool use_journal, const struct floe_ckpt_state *st,
                   struct floe_error *err)
{
    bool resuming = st && st->part_count && d->part_path && access(d->part_path, F_OK) == 0;
    int rc = check_space(d, resuming, err);
    if (!rc)
        rc = make_pool(d, err);
    if (!rc)
        rc = open_output(d, resuming, err);
    if (!rc && use_journal && !d->journal)
        rc = make_journal(d, err);
    if (!rc)
        rc = floe_client_hashpool(d->client, &d->hashpool, err);
    if (!rc && resuming)
        rc = adopt_journal(d, st, err);
    if (!rc)
        rc = floe_writer_new(FLOE_WRITER_AUTO, 0, &d->writer, err);
    /* the linear hash from the first byte on, or not at all (a resumed prefix is not in memory) */
    if (!rc && d->lin_ring && d->streaming && !d->resumed) {
        d->lin = true;
        d->lin_held = floe_xcalloc(d->ring_count, sizeof(*d->lin_held));
        floe_sha256_init(&d->lin_ctx);
    }
    return rc;
}

/* Runs the segments through the core; a failure says how much a rerun keeps. */
static int run(struct dl *d, struct floe_error *err)
{
    d->orch.journal = d->journal;
    progress(d);
    int rc = floe_orch_run(&d->orch, err);
    floe_writer_destroy(d->writer); /* every write has completed (the run drained) */
    d->writer = NULL;
    if (rc && d->journal && d->orch.items_done && rc != FLOE_E_CHECKSUM)
        floe_error_append(err,
                          "\n%" PRIu64 " of %" PRIu64 " segments are confirmed in checkpoint %s: "
                          "run the same command again to continue",
                          d->orch.items_done, d->nseg, d->ckpt_path);
    return rc;
}

static void dl_free(struct dl *d)
{
    floe_writer_destroy(d->writer);
    floe_orch_cleanup(&d->orch); /* segments give their buffers back to the pool first */
    if (d->pool)
        release_held(d);
    floe_bufpool_destroy(d->pool);
    floe_journal_destroy(d->journal);
    if (d->fd >= 0)
        close(d->fd); /* the part file, or standard output's spool */
    if (d->dfd >= 0)
        close(d->dfd);
    free(d->output_path);
    free(d->part_path);
    pthread_cond_destroy(&d->chunk_cv);
    pthread_mutex_destroy(&d->chunk_mu);
    pthread_mutex_destroy(&d->lin_mu);
    free(d->lin_held);
    free(d);
}

/*
 * The download itself. journal/st: an already open journal of floe_retrieve_archive() and its
 * replayed state (both may be NULL); ownership of the journal passes to d.
 */
static int download(struct floe_client *client, const struct floe_download_options *opts,
                    struct floe_journal *journal, struct floe_ckpt_state *st,
                    struct floe_download_result *out, struct floe_error *err)
{
    struct dl *d = floe_xcalloc(1, sizeof(*d));
    struct floe_ckpt_state *own_st = NULL;
    d->client = client;
    d->opts = opts;
    d->vault = opts->vault;
    d->fd = -1;
    d->dfd = -1;
    d->journal = journal;
    d->total = UINT64_MAX;
    floe_orch_init(&d->orch, &s_ops, d, opts->cancel);
    pthread_mutex_init(&d->chunk_mu, NULL);
    pthread_cond_init(&d->chunk_cv, NULL);
    pthread_mutex_init(&d->lin_mu, NULL);

    int rc = check_download_options(opts, err);
    if (rc)
        goto out;
    snprintf(d->job_id, sizeof(d->job_id), "%s", opts->job_id);
    d->to_stdout = strcmp(opts->output_path, "-") == 0;
    d->output_path = floe_xstrdup(opts->output_path);
    if (!d->to_stdout) {
        size_t n = strlen(opts->output_path) + sizeof(FLOE_RETRIEVE_PART_SUFFIX);
        d->part_path = floe_xmalloc(n);
        snprintf(d->part_path, n, "%s%s", opts->output_path, FLOE_RETRIEVE_PART_SUFFIX);
    }
    d->concurrency = opts->concurrency ? opts->concurrency : FLOE_RETRIEVE_DEFAULT_CONCURRENCY;
    bool use_journal = !d->to_stdout && !opts->no_checkpoint;
    if (!(rc = load_job(d, err)) && !(rc = open_journal(d, use_journal, &st, &own_st, err)) &&
        !(rc = plan_download(d, st, err)) && !(rc = prepare(d, use_journal, st, err)) &&
        !(rc = run(d, err)))
        rc = finish(d, out, err);
out:
    if (rc == FLOE_OK)
        out->seconds = floe_orch_elapsed(&d->orch);
    floe_checkpoint_state_free(own_st);
    dl_free(d);
    return rc;
}

int floe_job_output_download(struct floe_client *client, const struct floe_download_options *opts,
                             struct floe_download_result *out, struct floe_error *err)
{
    return download(client, opts, NULL, NULL, out, err);
}

/* ---- initiate, wait, download ---- */

/* floe_retrieve_archive()'s state: the journal (which holds the job id from the moment the
 * job exists) and the job. */
struct retrieval {
    struct floe_client *client;
    const struct floe_retrieve_options *opts;
    struct floe_journal *j;     /* NULL: no checkpoint (stdout, --no-checkpoint) */
    struct floe_ckpt_state *st; /* the journal's replayed state when it existed */
    char id[FLOE_JOB_ID_MAX];   /* the job; "" until known */
    char ckpt[4096];
};

/* An existing journal for this archive, range and output holds the job id to resume. */
static int find_retrieval(struct retrieval *r, struct floe_error *err)
{
    const struct floe_retrieve_options *opts = r->opts;
    const struct floe_download_options *dopt = &opts->download;
    char key[FLOE_JOB_ID_MAX + 64];
    if (opts->has_range)
        snprintf(key, sizeof(key), "archive:%s:%" PRIu64 "-%" PRIu64, opts->archive_id,
                 opts->range.first, opts->range.last);
    else
        snprintf(key, sizeof(key), "archive:%s:all", opts->archive_id);
    int rc;
    if (dopt->checkpoint_path)
        snprintf(r->ckpt, sizeof(r->ckpt), "%s", dopt->checkpoint_path);
    else if ((rc = floe_retrieve_checkpoint_path(r->client, dopt->vault, key, dopt->output_path,
                                                 r->ckpt, sizeof(r->ckpt), err)))
        return rc;
    if (access(r->ckpt, F_OK) != 0)
        return FLOE_OK;
    if ((rc = floe_journal_open(r->ckpt, NULL, &r->j, &r->st, err)))
        return rc;
    if (r->st->header.kind != FLOE_CKPT_DOWNLOAD ||
        strcmp(r->st->header.archive_id, opts->archive_id) != 0)
        return floe_error_set(err, FLOE_E_CHECKPOINT,
                              "checkpoint %s is not a retrieval of archive %s", r->ckpt,
                              opts->archive_id);
    snprintf(r->id, sizeof(r->id), "%s", r->st->header.job_id);
    return FLOE_OK;
}

/* Initiate Job. The journal is written first, so a crash right after the initiation still
 * knows the job id; a refused initiation (bad range, tier) removes it again. */
static int initiate(struct retrieval *r, bool use_journal, struct floe_error *err)
{
    const struct floe_retrieve_options *opts = r->opts;
    const struct floe_download_options *dopt = &opts->download;
    int rc;
    if (!r->j && use_journal) {
        struct floe_ckpt_header h = {.kind = FLOE_CKPT_DOWNLOAD,
                                     .part_size_bytes = dopt->segment_size
                                                            ? dopt->segment_size
                                                            : FLOE_RETRIEVE_DEFAULT_SEGMENT_SIZE,
                                     .total_size_bytes = FLOE_CKPT_SIZE_UNKNOWN};
        snprintf(h.endpoint, sizeof(h.endpoint), "%s", r->client->endpoint);
        snprintf(h.vault, sizeof(h.vault), "%s", dopt->vault);
        snprintf(h.account_id, sizeof(h.account_id), "%s", r->client->account_id);
        if (strlen(opts->archive_id) >= sizeof(h.archive_id) ||
            strlen(dopt->output_path) >= sizeof(h.output_path))
            return floe_error_set(err, FLOE_E_CHECKPOINT,
                                  "archive id or output path too long for a checkpoint; use "
                                  "--no-checkpoint");
        snprintf(h.archive_id, sizeof(h.archive_id), "%s", opts->archive_id);
        snprintf(h.output_path, sizeof(h.output_path), "%s", dopt->output_path);
        struct floe_journal_options jo = {.overwrite = true};
        if ((rc = floe_journal_create(r->ckpt, &h, &jo, &r->j, err)))
            return rc;
    }
    if (opts->reuse_job_id && *opts->reuse_job_id) { /* the caller found a finished job */
        snprintf(r->id, sizeof(r->id), "%s", opts->reuse_job_id);
        return FLOE_OK;
    }
    struct floe_job_retrieval_params rp = {
        .archive_id = opts->archive_id,
        .has_range = opts->has_range,
        .range = opts->range,
        .tier = opts->tier,
        .sns_topic = opts->sns_topic,
        .description = opts->description,
    };
    rc = floe_job_initiate_retrieval(r->client, dopt->vault, &rp, r->id, err);
    if (rc) {
        if (r->j) { /* nothing happened: leave no checkpoint behind */
            struct floe_error ignore = {0};
            floe_journal_destroy(r->j);
            r->j = NULL;
            floe_journal_remove(r->ckpt, &ignore);
        }
    }
    return rc;
}

/* Waits for the job; a failure says what became of the checkpoint and how to go on. */
static int wait_for_job(struct retrieval *r, struct floe_job_info *job, struct floe_error *err)
{
    const struct floe_download_options *dopt = &r->opts->download;
    struct floe_job_wait_options wo = r->opts->wait;
    if (!wo.cancel)
        wo.cancel = dopt->cancel;
    int rc = floe_job_wait(r->client, dopt->vault, r->id, &wo, job, err);
    if (rc == FLOE_E_NOT_FOUND && r->j)
        floe_error_append(err,
                          " - job %s from checkpoint %s no longer exists (its output expires "
                          "about 24 h after completion); delete the checkpoint to start a new "
                          "retrieval",
                          r->id, r->ckpt);
    if (rc == FLOE_E_SERVICE && r->j && strcmp(err->code, "JobFailed") == 0) {
        /* a failed job has no output to resume: do not keep pointing at it */
        struct floe_error ignore = {0};
        floe_journal_destroy(r->j);
        r->j = NULL;
        if (floe_journal_remove(r->ckpt, &ignore) == FLOE_OK)
            floe_error_append(err, " - its checkpoint was removed: run the command again to "
                                   "start a new retrieval job");
    }
    if (rc == FLOE_E_TIMEOUT && r->j)
        floe_error_append(err,
                          "\nthe job id is kept in checkpoint %s: run the same command again to "
                          "keep waiting",
                          r->ckpt);
    return rc;
}

/* The job is ready: download its output (the journal passes to the download). */
static int download_job(struct retrieval *r, const struct floe_job_info *job,
                        struct floe_download_result *out, struct floe_error *err)
{
    struct floe_download_options d = r->opts->download;
    d.job_id = r->id;
    d.job = job;
    if (r->j)
        d.checkpoint_path = r->ckpt;
    if (r->st) { /* the header was written before the job existed: fill in the job id */
        size_t n = strlen(r->id);
        if (n >= sizeof(r->st->header.job_id))
            return floe_error_set(err, FLOE_E_CHECKPOINT,
                                  "job id of %zu bytes is too long for a checkpoint; use "
                                  "--no-checkpoint",
                                  n);
        memcpy(r->st->header.job_id, r->id, n + 1);
    }
    struct floe_journal *j = r->j;
    r->j = NULL; /* download owns it now */
    return download(r->client, &d, j, r->st, out, err);
}

int floe_retrieve_archive(struct floe_client *client, const struct floe_retrieve_options *opts,
                          struct floe_download_result *out, char job_id[FLOE_JOB_ID_MAX],
                          struct floe_error *err)
{
    const struct floe_download_options *dopt = &opts->download;
    struct retrieval r = {.client = client, .opts = opts};
    struct floe_job_info *job = floe_xcalloc(1, sizeof(*job));
    bool use_journal = !dopt->no_checkpoint && dopt->output_path && strcmp(dopt->output_path, "-");
    int rc = floe_sigv4_vault_name_valid(dopt->vault, err);
    if (!rc && (!opts->archive_id || !*opts->archive_id))
        rc = floe_error_set(err, FLOE_E_INVALID_ARG, "an archive id is required");
    if (!rc && use_journal)
        rc = find_retrieval(&r, err);
    bool resumed = r.id[0] != 0;
    if (!rc && !resumed)
        rc = initiate(&r, use_journal, err);
    if (!rc && job_id)
        snprintf(job_id, FLOE_JOB_ID_MAX, "%s", r.id);
    if (!rc && !resumed && r.j)
        rc = floe_journal_set_job_id(r.j, r.id, err);
    if (!rc) {
        bool reused = !resumed && opts->reuse_job_id && *opts->reuse_job_id;
        if (opts->phase)
            opts->phase(resumed  ? FLOE_RETRIEVE_RESUMED
                        : reused ? FLOE_RETRIEVE_REUSED
                                 : FLOE_RETRIEVE_INITIATED,
                        r.id, opts->phase_user);
        rc = wait_for_job(&r, job, err);
    }
    if (!rc) {
        if (opts->phase)
            opts->phase(FLOE_RETRIEVE_READY, r.id, opts->phase_user);
        rc = download_job(&r, job, out, err);
    }
    floe_journal_destroy(r.j);
    floe_checkpoint_state_free(r.st);
    free(job);
    return rc;
}
