/*
 * packer.c - see packer.h. Per pack: a socket pair (send with MSG_NOSIGNAL, so a reader that
 * stopped gives the producer EPIPE, not a signal), a producer thread that writes the pack into
 * one end, floe_upload_file() reading the other end as a stream on the calling thread. After
 * the upload returns the calling thread closes its end (unblocking a producer that is still
 * writing), joins the producer, and records the pack only if both sides succeeded. If the
 * upload made an archive but the producer failed (the stream ended early), that archive is
 * deleted again: it is not the pack its description claims.
 */
#include "packer.h"

#include "alloc.h"
#include "client_impl.h"
#include "floe/hashpool.h"
#include "latch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#define MAX_SLOTS 8 /* files read and compressed ahead of the pack, at most */

struct skip {
    char *path;
    char message[FLOE_ERROR_MSG_MAX];
};

/* Paths of a pack's files: blocks kept from pack to pack (reset, not freed), so a run of many
 * packs reuses the same memory instead of freeing and reallocating 100,000 small strings a pack
 * (which left glibc's heap fragmented and the first backup's RSS growing with the file count). */
#define PATH_BLOCK ((size_t)256 << 10)
struct path_block {
    struct path_block *next;
    size_t used, cap;
    char data[];
};

/* One file on its way into a pack: read and prepared (hashed, compressed) by work(), on the
 * producer thread or, with --compress, on the client's hash pool; then added to the pack in
 * plan order by the producer. The producer owns a slot except between submitting it and its
 * latch opening (the latch orders the task's writes before the producer's reads). */
struct slot {
    struct pack_mem *mem;
    uint8_t *buf;               /* the file's bytes (max_file_size) */
    struct floe_plan_item item; /* path in the pack's path blocks */
    uint64_t raw;               /* the most its frame can add to the pack */
    int level;
    struct floe_pack_frame frame;
    int read_rc, rc; /* read_rc: skip the file (read_err); rc: failure (err) */
    struct floe_error read_err, err;
    struct floe_latch done;
};

/* What one run's packs reuse: the slots, the zstd contexts, the file list and the path blocks.
 * Owned by floe_packer_run(); each pack's producer fills it from empty. */
struct pack_mem {
    struct slot *slots;
    size_t nslots;
    struct floe_hashpool *pool; /* NULL: slots are worked on the producer (one slot) */
    /* zstd contexts lent to the pool's tasks, last returned first out: a few contexts (one per
     * busy worker) stay warm in the cores' caches instead of one per slot going cold */
    pthread_mutex_t ctx_mu;
    void *ctxs[MAX_SLOTS]; /* guarded by ctx_mu */
    size_t nctxs;          /* guarded by ctx_mu */
    struct floe_packed_file *files;
    size_t cap;
    struct path_block *blocks, *cur; /* cur: the block being filled */
};

static char *mem_path(struct pack_mem *m, const char *s, size_t n)
{
    while (!m->cur || m->cur->cap - m->cur->used < n + 1) {
        if (m->cur && m->cur->next) { /* a block kept from an earlier pack */
            m->cur = m->cur->next;
            m->cur->used = 0;
            continue;
        }
        size_t cap = n + 1 > PATH_BLOCK ? n + 1 : PATH_BLOCK;
        struct path_block *b = floe_xmalloc(sizeof(*b) + cap);
        b->next = NULL;
        b->used = 0;
        b->cap = cap;
        if (m->cur)
            m->cur->next = b;
        else
            m->blocks = b;
        m->cur = b;
    }
    char *p = m->cur->data + m->cur->used;
    memcpy(p, s, n);
    p[n] = '\0';
    m->cur->used += n + 1;
    return p;
}

/* Empties m for the next pack, keeping its memory. */
static void mem_reset(struct pack_mem *m)
{
    m->cur = m->blocks;
    if (m->cur)
        m->cur->used = 0;
}

static void mem_free(struct pack_mem *m)
{
    while (m->blocks) {
        struct path_block *b = m->blocks;
        m->blocks = b->next;
        free(b);
    }
    free(m->files);
    for (size_t i = 0; i < m->nslots; i++) {
        free(m->slots[i].buf);
        floe_pack_frame_free(&m->slots[i].frame);
        floe_latch_destroy(&m->slots[i].done);
    }
    free(m->slots);
    for (size_t i = 0; i < m->nctxs; i++)
        ZSTD_freeCCtx(m->ctxs[i]);
    pthread_mutex_destroy(&m->ctx_mu);
}

/* One pack's producer. Written by the producer thread until joined, then read by the caller. */
struct producer {
    const struct floe_packer_options *o;
    struct floe_plan *plan;
    int fd;
    uint64_t seq;
    bool have_first;      /* plan->cur holds the pack's first file already */
    struct pack_mem *mem; /* the buffer, the file list (mem->files[0..n)) and their paths */
    size_t n;
    struct skip *skips;
    size_t nskips, skips_cap;
    bool plan_ended;
    uint64_t total;
    int status;
    struct floe_error err;
};

static int sink(void *user, const void *data, size_t len, struct floe_error *err)
{
    struct producer *p = user;
    const uint8_t *d = data;
    while (len) {
        ssize_t n = send(p->fd, d, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return floe_error_set_errno(err, FLOE_E_IO, errno, NULL,
                                        "pack %" PRIu64 ": the upload stopped reading it", p->seq);
        d += n;
        len -= (size_t)n;
    }
    return FLOE_OK;
}

static void add_skip(struct producer *p, const char *path, const struct floe_error *e)
{
    if (p->nskips == p->skips_cap) {
        p->skips_cap = p->skips_cap ? 2 * p->skips_cap : 16;
        p->skips = floe_xrealloc(p->skips, p->skips_cap * sizeof(*p->skips));
    }
    struct skip *s = &p->skips[p->nskips++];
    s->path = floe_xstrdup(path);
    snprintf(s->message, sizeof(s->message), "%s", e->message);
}

/* The pack's next file from the plan: 1 one in plan->cur, 0 the plan ended, -1 failure. */
static int next_file(struct producer *p)
{
    if (p->have_first) {
        p->have_first = false;
        return 1;
    }
    int n = floe_plan_next(p->plan, FLOE_PLAN_SMALL, &p->err);
    if (n == 0)
        p->plan_ended = true;
    if (n < 0)
        p->status = p->err.status;
    return n;
}

/* Reads a slot's file and prepares its frame. Runs on the producer or as a pool task. */
static void work(struct slot *s)
{
    s->read_err = (struct floe_error){0};
    s->rc = FLOE_OK;
    s->read_rc = floe_plan_read_item(&s->item, s->buf, &s->read_err);
    if (!s->read_rc)
        s->rc = floe_pack_frame_prepare(&s->frame, s->level, s->buf, s->item.size, &s->err);
}

/* work() on the pool, with a zstd context borrowed from the run's (or a new one, kept after). */
static void work_task(void *arg)
{
    struct slot *s = arg;
    struct pack_mem *m = s->mem;
    pthread_mutex_lock(&m->ctx_mu);
    s->frame.cctx = m->nctxs ? m->ctxs[--m->nctxs] : NULL;
    pthread_mutex_unlock(&m->ctx_mu);
    work(s);
    if (s->frame.cctx) {
        pthread_mutex_lock(&m->ctx_mu);
        m->ctxs[m->nctxs++] = s->frame.cctx; /* at most one per slot exists */
        pthread_mutex_unlock(&m->ctx_mu);
        s->frame.cctx = NULL;
    }
    floe_latch_count_down(&s->done);
}

/* Hands plan->cur to slot s: on the pool when there is one, else worked at once. */
static void submit(struct producer *p, struct slot *s)
{
    const struct floe_plan_item *it = &p->plan->cur;
    s->item = *it;
    s->item.path = mem_path(p->mem, it->path, it->path_len);
    s->raw = floe_pack_frame_header_bytes(it->path_len) + it->size;
    s->level = p->o->zstd_level;
    if (!p->mem->pool) {
        work(s);
        return;
    }
    floe_latch_arm(&s->done, 1);
    floe_hashpool_submit(p->mem->pool, work_task, s);
}

/* Adds a worked slot's frame to the pack; a file that could not be read, or changed since the
 * plan, is skipped. */
static int add_slot(struct producer *p, struct floe_pack_writer *w, struct slot *s)
{
    if (s->read_rc) {
        add_skip(p, s->item.path, &s->read_err);
        return FLOE_OK;
    }
    if (s->rc) {
        p->err = s->err;
        return s->rc;
    }
    struct pack_mem *m = p->mem;
    if (p->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->files = floe_xrealloc(m->files, m->cap * sizeof(*m->files));
    }
    struct floe_packed_file *pf = &m->files[p->n];
    int rc = floe_pack_add_prepared(w, s->item.path, s->item.mtime_ns, s->item.mode, &s->frame,
                                    &pf->entry, &p->err);
    if (rc)
        return rc;
    pf->item = s->item;
    pf->entry.path = pf->item.path; /* the writer's copy lives only as long as the writer */
    p->n++;
    return FLOE_OK;
}

/*
 * The pack's files go through a ring of slots: up to nslots files are read and prepared ahead
 * (in parallel on the pool) while the oldest is added. A file is taken from the plan only while
 * the pack's bytes plus the most the files in flight can add (their raw frames) stay below
 * pack_size and the files fit max_files; otherwise the oldest is added first. With nothing in
 * flight that rule is the sequential one (close once the pack reaches pack_size), so a pack
 * holds exactly the files, in the order, it would hold without the ring.
 */
static void *produce(void *arg)
{
    struct producer *p = arg;
    struct pack_mem *m = p->mem;
    struct floe_pack_writer *w = NULL;
    struct floe_pack_writer_options wo = {
        .sink = sink, .user = p, .zstd_level = p->o->zstd_level, .sequence = p->seq};
    p->status = floe_pack_writer_new(&wo, &w, &p->err);
    size_t head = 0, inflight = 0;
    uint64_t raw = 0;
    bool more = true;
    while (!p->status) {
        if (more && inflight < m->nslots && floe_pack_bytes(w) + raw < p->o->pack_size &&
            p->n + inflight < p->o->max_files) {
            int n = next_file(p);
            if (n < 0)
                break;
            if (n == 0) {
                more = false;
                continue;
            }
            struct slot *s = &m->slots[(head + inflight) % m->nslots];
            submit(p, s);
            raw += s->raw;
            inflight++;
            continue;
        }
        if (!inflight)
            break;
        struct slot *s = &m->slots[head];
        if (m->pool)
            floe_latch_wait(&s->done);
        head = (head + 1) % m->nslots;
        inflight--;
        raw -= s->raw;
        p->status = add_slot(p, w, s);
    }
    for (; inflight; inflight--, head = (head + 1) % m->nslots) /* after a failure */
        if (m->pool)
            floe_latch_wait(&m->slots[head].done);
    if (!p->status)
        p->status = floe_pack_finish(w, &p->total, &p->err);
    floe_pack_writer_free(w);
    shutdown(p->fd, SHUT_WR); /* end of stream: the upload sees EOF */
    return NULL;
}

static void producer_free(struct producer *p)
{
    mem_reset(p->mem);
    for (size_t i = 0; i < p->nskips; i++)
        free(p->skips[i].path);
    free(p->skips);
    p->skips = NULL;
    p->n = p->nskips = p->skips_cap = 0;
}

static void on_initiated(const char *upload_id, void *user)
{
    const struct floe_packer_options *o = user;
    if (o->initiated)
        o->initiated(o->user, upload_id);
}

/* Uploads one pack whose first file is in plan->cur. */
static int one_pack(struct floe_plan *plan, const struct floe_packer_options *o, uint64_t seq,
                    struct pack_mem *mem, struct floe_packer_stats *st, bool *plan_ended,
                    struct floe_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, NULL, "cannot make a socket pair");
    struct producer p = {
        .o = o, .plan = plan, .fd = sv[1], .seq = seq, .have_first = true, .mem = mem};
    char desc[1025], name[64];
    o->describe(o->user, seq, desc);
    snprintf(name, sizeof(name), "pack %" PRIu64, seq);
    pthread_t th;
    if (pthread_create(&th, NULL, produce, &p) != 0) {
        close(sv[0]);
        close(sv[1]);
        return floe_error_set(err, FLOE_E_NOMEM, "cannot start the pack producer thread");
    }
    struct floe_upload_options uo = {
        .vault = o->vault,
        .path = name,
        .description = desc,
        .part_size = o->part_size,
        .concurrency = o->concurrency,
        .memory_limit = o->memory_limit,
        .no_checkpoint = true,
        .cancel = o->cancel,
        .use_source_fd = true,
        .source_fd = sv[0],
        .initiated = on_initiated,
        .initiated_user = (void *)o,
    };
    struct floe_upload_result ur;
    int rc = floe_upload_file(o->client, &uo, &ur, err);
    close(sv[0]);
    pthread_join(th, NULL);
    close(sv[1]);
    *plan_ended = p.plan_ended;
    for (size_t i = 0; i < p.nskips; i++) {
        st->skipped++;
        if (o->warn)
            o->warn(o->user, p.skips[i].path, p.skips[i].message);
    }
    if (!rc && p.status) { /* the archive is not the pack it claims to be */
        struct floe_error ignore = {0};
        floe_client_delete_archive(o->client, o->vault, ur.archive_id, &ignore);
        *err = p.err;
        rc = p.status;
    } else if (rc && p.status && p.status != FLOE_E_IO) {
        *err = p.err; /* the producer's failure explains the upload's */
        rc = p.status;
    }
    if (!rc)
        rc = o->record(o->user, &ur, desc, mem->files, p.n, err);
    if (!rc) {
        st->packs++;
        st->files += p.n;
        for (size_t i = 0; i < p.n; i++)
            st->bytes += mem->files[i].item.size;
        st->stored_bytes += ur.size;
        if (o->progress)
            o->progress(o->user, st->files, st->bytes, name);
    }
    producer_free(&p);
    return rc;
}

int floe_packer_run(struct floe_plan *plan, const struct floe_packer_options *opts,
                    uint64_t first_seq, struct floe_packer_stats *stats, struct floe_error *err)
{
    struct pack_mem mem = {.nslots = 1};
    if (opts->zstd_level > 0) { /* compression is worth the hand-off to the pool */
        int prc = floe_client_hashpool(opts->client, &mem.pool, err);
        if (prc)
            return prc;
        mem.nslots = 2 * (size_t)floe_hashpool_threads(mem.pool);
        if (mem.nslots > MAX_SLOTS)
            mem.nslots = MAX_SLOTS;
    }
    mem.slots = floe_xcalloc(mem.nslots, sizeof(*mem.slots));
    pthread_mutex_init(&mem.ctx_mu, NULL);
    for (size_t i = 0; i < mem.nslots; i++) {
        mem.slots[i].mem = &mem;
        mem.slots[i].buf = floe_xmalloc(opts->max_file_size ? (size_t)opts->max_file_size : 1);
        floe_latch_init(&mem.slots[i].done, 0);
    }
    int rc = FLOE_OK;
    for (uint64_t seq = first_seq;; seq++) {
        int n = floe_plan_next(plan, FLOE_PLAN_SMALL, err);
        if (n < 0)
            rc = err->status;
        if (n <= 0)
            break;
        bool ended = false;
        if ((rc = one_pack(plan, opts, seq, &mem, stats, &ended, err)) || ended)
            break;
    }
    mem_free(&mem);
    return rc;
}
