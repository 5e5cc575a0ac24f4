/*
 * invrange.c - an inventory read in parallel byte ranges, each parsed as it arrives, records
 * handed over in file order (floe/invrange.h has the rules).
 *
 * DESIGN
 * Range 0 is read first on the calling thread: it fixes the document's size (the read tells
 * it), its format and, for CSV, the header row every other range is parsed under. Worker
 * threads then start, and range 0 is parsed and handed over on the calling thread while they
 * take ranges 1..n-1 in order, at most `window` ahead of the range being
 * handed over (memory: window x (R + O) bytes plus the parsed records), read each, find the
 * start of its first record (a guess: JSON `{"ArchiveId":`, CSV the byte after a line break)
 * and parse from there with the streaming parser, fed a prefix that makes the bytes a document
 * (JSON `{"ArchiveList":[`, CSV the header row): records that start inside the range are
 * copied into the range's batch; the first record that starts past the range stops the parse
 * and is the range's `next`. The calling thread takes the ranges in order and keeps `expect`,
 * the start of the record after the last one handed over (known exactly, range 0 being parsed
 * from byte 0): a range is accepted when its guess equals expect, skipped when expect lies past
 * it (a record straddles the whole range), and otherwise parsed again from expect. Errors of a
 * range count only once its start is confirmed (a wrong guess may well parse as garbage).
 */
#include "floe/invrange.h"

#include "alloc.h"
#include "client_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NONE UINT64_MAX
static const char s_json_prefix[] = "{\"ArchiveList\":[";

/* One archive of a batch: its strings in the batch's arena. */
struct rec {
    size_t id, desc, date; /* arena offsets */
    uint64_t size, offset, end;
    bool has_tree;
    uint8_t tree[FLOE_HASH_BYTES];
};

struct batch {
    struct rec *v;
    size_t n, cap;
    char *arena;
    size_t alen, acap;
};

/* What parsing one range found. */
struct part {
    uint64_t sync; /* where its first record starts (NONE: no start in its bytes) */
    uint64_t next; /* the first record start past the range (NONE: the document's end) */
    bool doc_end;  /* parsed through the end of the document */
    struct floe_inventory_summary sum;
    struct batch b;
    int status;
    struct floe_error err;
};

/* The fixed inputs of parsing a range. */
struct cut {
    enum floe_inventory_format format;
    const uint8_t *prefix; /* prepended to every range but the first */
    size_t prefix_len;
    uint64_t total, overlap;
};

static size_t arena_put(struct batch *b, const char *s)
{
    size_t n = strlen(s) + 1;
    if (b->alen + n > b->acap) {
        size_t cap = b->acap ? b->acap * 2 : 1 << 16;
        while (cap < b->alen + n)
            cap *= 2;
        b->arena = floe_xrealloc(b->arena, cap);
        b->acap = cap;
    }
    size_t at = b->alen;
    memcpy(b->arena + at, s, n);
    b->alen += n;
    return at;
}

static void batch_free(struct batch *b)
{
    free(b->v);
    free(b->arena);
    *b = (struct batch){0};
}

/* ---- one range ---- */

struct collect {
    struct part *pt;
    uint64_t own_hi;   /* records starting at or past it are not this range's */
    uint64_t base;     /* absolute offset of the parser's byte 0 ... */
    uint64_t skip;     /* ... less this many prefix bytes */
    uint64_t last_end; /* absolute end of the last record taken (0: none) */
};

static int collect_one(const struct floe_inventory_archive *a, void *user)
{
    struct collect *c = user;
    uint64_t start = c->base + a->offset - c->skip;
    if (start >= c->own_hi) {
        c->pt->next = start;
        return 1;
    }
    struct batch *b = &c->pt->b;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->v = floe_xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    struct rec *r = &b->v[b->n++];
    r->id = arena_put(b, a->archive_id);
    r->desc = arena_put(b, a->description);
    r->date = arena_put(b, a->creation_date);
    r->size = a->size;
    r->offset = start;
    r->end = c->base + a->end - c->skip;
    r->has_tree = a->has_tree_hash;
    memcpy(r->tree, a->tree_hash, sizeof(r->tree));
    c->last_end = r->end;
    return 0;
}

static bool blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* JSON: the first `{` + blanks + `"ArchiveId"` + blanks + `:` at or after from, or NONE. */
static uint64_t guess_json(const uint8_t *buf, uint64_t base, size_t len, uint64_t from)
{
    static const char key[] = "\"ArchiveId\"";
    for (size_t i = from - base; i < len; i++) {
        const uint8_t *q = memchr(buf + i, '{', len - i);
        if (!q)
            return NONE;
        i = (size_t)(q - buf);
        size_t k = i + 1;
        while (k < len && blank(buf[k]))
            k++;
        if (len - k < sizeof(key) - 1 || memcmp(buf + k, key, sizeof(key) - 1) != 0)
            continue;
        k += sizeof(key) - 1;
        while (k < len && blank(buf[k]))
            k++;
        if (k < len && buf[k] == ':')
            return base + i;
    }
    return NONE;
}

/* CSV: the first byte at or after from that follows a line break and is not one, or NONE. */
static uint64_t guess_csv(const uint8_t *buf, uint64_t base, size_t len, uint64_t from)
{
    for (size_t i = from - base; i < len; i++)
        if (i > 0 && buf[i - 1] == '\n' && buf[i] != '\n' && buf[i] != '\r')
            return base + i;
    return NONE;
}

/* After a record ending at `end`: where the next one starts (JSON: past blanks and one ',';
 * CSV: past line breaks), NONE when the bytes end first; *list_end when JSON's list closes. */
static uint64_t next_start(const struct cut *k, const uint8_t *buf, uint64_t base, size_t len,
                           uint64_t end, bool *list_end)
{
    size_t i = end - base;
    bool comma = false;
    *list_end = false;
    for (; i < len; i++) {
        uint8_t c = buf[i];
        if (k->format == FLOE_INVENTORY_CSV) {
            if (c != '\n' && c != '\r')
                return base + i;
        } else if (c == ',' && !comma) {
            comma = true;
        } else if (c == ']' && !comma) {
            *list_end = true;
            return base + i;
        } else if (!blank(c)) {
            return base + i;
        }
    }
    return NONE;
}

static int overlap_error(struct part *pt, const struct cut *k, uint64_t at, uint64_t lo,
                         uint64_t hi)
{
    pt->status = floe_error_set(&pt->err, FLOE_E_CORRUPT,
                                "inventory record at byte %" PRIu64 " does not end within the "
                                "%" PRIu64 "-byte overlap of range %" PRIu64 "-%" PRIu64
                                " (a record longer than the overlap; set "
                                "FLOE_INVENTORY_RANGE_OVERLAP larger)",
                                at, k->overlap, lo, hi - 1);
    return pt->status;
}

/*
 * Parses the range [lo, hi) whose bytes buf[0..len) start at document offset base (base <= lo;
 * len reaches hi + overlap or the end). sync: where its first record starts, or NONE to guess.
 * lo == 0 is the first range, parsed from byte 0 without a prefix.
 */
static void parse_part(const struct cut *k, const uint8_t *buf, uint64_t base, size_t len,
                       uint64_t lo, uint64_t hi, uint64_t sync, struct part *pt)
{
    struct batch keep = pt->b; /* its memory is reused */
    keep.n = keep.alen = 0;
    *pt = (struct part){.next = NONE, .b = keep};
    if (lo == 0) {
        sync = 0;
    } else if (sync == NONE) {
        sync = k->format == FLOE_INVENTORY_JSON ? guess_json(buf, base, len, lo)
                                                : guess_csv(buf, base, len, lo);
    }
    pt->sync = sync;
    if (sync == NONE || sync >= hi) { /* no record starts here */
        pt->next = sync;
        return;
    }
    struct collect c = {.pt = pt, .own_hi = hi, .base = sync, .skip = lo ? k->prefix_len : 0};
    struct floe_inventory_parser *p = floe_inventory_parser_new(k->format, collect_one, &c);
    int rc = FLOE_OK;
    if (lo)
        rc = floe_inventory_parser_feed(p, k->prefix, k->prefix_len, &pt->err);
    if (!rc)
        rc = floe_inventory_parser_feed(p, buf + (sync - base), len - (sync - base), &pt->err);
    bool at_end = base + len == k->total;
    if (rc == FLOE_E_CANCELLED && pt->next != NONE) { /* the first record past the range */
        floe_inventory_parser_summary(p, &pt->sum);
    } else if (rc) {
        pt->status = rc;
    } else if (at_end) {
        rc = floe_inventory_parser_finish(p, &pt->sum, &pt->err);
        pt->status = rc;
        pt->doc_end = rc == FLOE_OK;
    } else {
        /* the bytes ended inside a record: it must be one past the range */
        floe_inventory_parser_summary(p, &pt->sum);
        bool list_end = false;
        uint64_t from = c.last_end ? c.last_end : sync;
        uint64_t nx = c.last_end ? next_start(k, buf, base, len, c.last_end, &list_end) : sync;
        if (nx == NONE || nx < hi || list_end)
            overlap_error(pt, k, nx == NONE || list_end ? from : nx, lo, hi);
        else
            pt->next = nx;
    }
    floe_inventory_parser_destroy(p);
}

/* ---- the ranges in parallel ---- */

struct slot {
    uint8_t *buf;
    size_t len;
    uint64_t base;
    bool ready;
    int read_status;
    struct floe_error read_err;
    struct part pt;
};

struct run {
    const struct floe_invrange_options *o;
    floe_invrange_read_fn *read;
    void *ctx;
    struct cut k;
    uint64_t R, O;
    unsigned n, window;
    struct slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned next_take; /* next range a worker takes */
    unsigned handed;    /* ranges handed over (the calling thread's progress) */
    bool stop;
    _Atomic uint64_t bytes_read;
    /* buffers and batches of ranges handed over, for the next ones (no fresh pages for each) */
    struct spare {
        uint8_t *buf;
        struct batch b;
    } * spare;
    unsigned nspare;
};

static uint64_t range_lo(const struct run *r, unsigned i)
{
    return (uint64_t)i * r->R;
}

static uint64_t range_hi(const struct run *r, unsigned i)
{
    uint64_t hi = (uint64_t)(i + 1) * r->R;
    return hi < r->k.total ? hi : r->k.total;
}

/* Reads range i into its slot: [lo - 1, min(hi + O, total)). */
static void read_range(struct run *r, unsigned i, struct slot *s)
{
    uint64_t lo = range_lo(r, i), end = range_hi(r, i) + r->O;
    if (end > r->k.total)
        end = r->k.total;
    s->base = lo ? lo - 1 : 0;
    size_t want = (size_t)(end - s->base);
    pthread_mutex_lock(&r->mu);
    if (r->nspare) {
        struct spare *sp = &r->spare[--r->nspare];
        s->buf = sp->buf;
        s->pt.b = sp->b;
    }
    pthread_mutex_unlock(&r->mu);
    if (!s->buf)
        s->buf = floe_xmalloc((size_t)(r->R + r->O + 1)); /* the most a range reads */
    uint64_t total = 0;
    s->read_status = r->read(r->ctx, s->base, s->buf, want, &s->len, &total, &s->read_err);
    if (!s->read_status && (s->len != want || total != r->k.total))
        s->read_status =
            floe_error_set(&s->read_err, FLOE_E_SERVICE,
                           "inventory bytes %" PRIu64 "-%" PRIu64 " came back as %zu "
                           "bytes of a %" PRIu64 "-byte document (%" PRIu64 " expected)",
                           s->base, end - 1, s->len, total, r->k.total);
    atomic_fetch_add(&r->bytes_read, s->len);
}

static void *worker(void *arg)
{
    struct run *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && r->next_take < r->n && r->next_take >= r->handed + r->window)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop || r->next_take >= r->n)
            break;
        unsigned i = r->next_take++;
        pthread_mutex_unlock(&r->mu);
        struct slot *s = &r->slots[i];
        read_range(r, i, s);
        if (!s->read_status)
            parse_part(&r->k, s->buf, s->base, s->len, range_lo(r, i), range_hi(r, i), NONE,
                       &s->pt);
        pthread_mutex_lock(&r->mu);
        s->ready = true;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static bool cancelled(const struct run *r)
{
    return r->o->cancel && atomic_load(r->o->cancel);
}

/* Hands a part's records to fn in order. */
static int hand_over(const struct part *pt, floe_inventory_fn *fn, void *user,
                     struct floe_inventory_summary *sum, struct floe_error *err)
{
    const struct batch *b = &pt->b;
    for (size_t i = 0; i < b->n; i++) {
        const struct rec *v = &b->v[i];
        struct floe_inventory_archive a = {
            .archive_id = b->arena + v->id,
            .description = b->arena + v->desc,
            .creation_date = b->arena + v->date,
            .size = v->size,
            .has_tree_hash = v->has_tree,
            .offset = v->offset,
            .end = v->end,
        };
        memcpy(a.tree_hash, v->tree, sizeof(a.tree_hash));
        sum->archives++;
        sum->total_size_bytes += v->size;
        if (fn(&a, user))
            return floe_error_set(err, FLOE_E_CANCELLED, "inventory parsing stopped by the caller");
    }
    if (!sum->vault_arn[0])
        snprintf(sum->vault_arn, sizeof(sum->vault_arn), "%s", pt->sum.vault_arn);
    if (!sum->inventory_date[0])
        snprintf(sum->inventory_date, sizeof(sum->inventory_date), "%s", pt->sum.inventory_date);
    return FLOE_OK;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    return *end || x == 0 ? dflt : (uint64_t)x; /* the CLI refuses such values (env.c) */
}

/* Format, and the CSV header as the prefix, from the first range's bytes. */
static int first_bytes(struct run *r, const uint8_t *buf, size_t len, struct floe_error *err)
{
    struct cut *k = &r->k;
    if (k->format == FLOE_INVENTORY_AUTO) {
        size_t i = 0;
        while (i < len && (blank(buf[i]) || buf[i] == 0xef || buf[i] == 0xbb || buf[i] == 0xbf))
            i++;
        if (i == len)
            return floe_error_set(err, FLOE_E_CORRUPT, "the inventory is empty");
        k->format = buf[i] == '{' ? FLOE_INVENTORY_JSON : FLOE_INVENTORY_CSV;
    }
    if (k->format == FLOE_INVENTORY_JSON) {
        k->prefix = (const uint8_t *)s_json_prefix;
        k->prefix_len = sizeof(s_json_prefix) - 1;
        return FLOE_OK;
    }
    const uint8_t *nl = memchr(buf, '\n', len);
    if (!nl && len < k->total)
        return floe_error_set(err, FLOE_E_CORRUPT,
                              "the inventory's CSV header row is longer than the first range");
    k->prefix = buf;
    k->prefix_len = nl ? (size_t)(nl - buf) + 1 : len;
    return FLOE_OK;
}

/* The calling thread's side: ranges 1..n-1 in order. */
static int hand_over_rest(struct run *r, uint64_t expect, floe_inventory_fn *fn, void *user,
                          struct floe_inventory_summary *sum, unsigned *reparsed,
                          struct floe_error *err)
{
    int rc = FLOE_OK;
    for (unsigned i = 1; i < r->n && !rc; i++) {
        struct slot *s = &r->slots[i];
        pthread_mutex_lock(&r->mu);
        while (!s->ready && !cancelled(r)) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_nsec += 200 * 1000 * 1000;
            if (t.tv_nsec >= 1000000000) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&r->cv, &r->mu, &t);
        }
        pthread_mutex_unlock(&r->mu);
        if (cancelled(r))
            return floe_error_set(err, FLOE_E_CANCELLED, "interrupted while reading the inventory");
        uint64_t lo = range_lo(r, i), hi = range_hi(r, i);
        if (s->read_status) {
            *err = s->read_err;
            rc = s->read_status;
        } else if (expect != NONE && expect < hi) {
            if (s->pt.sync != expect) {
                ++*reparsed;
                parse_part(&r->k, s->buf, s->base, s->len, lo, hi, expect, &s->pt);
            }
            if (s->pt.status) {
                *err = s->pt.err;
                rc = s->pt.status;
            } else {
                rc = hand_over(&s->pt, fn, user, sum, err);
                expect = s->pt.doc_end ? NONE : s->pt.next;
            }
        } /* else: a record straddles the whole range, or the document ended: nothing here */
        pthread_mutex_lock(&r->mu);
        r->spare[r->nspare++] = (struct spare){s->buf, s->pt.b};
        s->buf = NULL;
        s->pt.b = (struct batch){0};
        r->handed = i + 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    if (!rc && expect != NONE)
        rc = floe_error_set(err, FLOE_E_CORRUPT,
                            "inventory is malformed at byte %" PRIu64 ": the document does not end",
                            expect);
    return rc;
}

int floe_invrange_parse(const struct floe_invrange_options *o, floe_invrange_read_fn *read,
                        void *ctx, floe_inventory_fn *fn, void *user,
                        struct floe_inventory_summary *sum, struct floe_invrange_stats *stats,
                        struct floe_error *err)
{
    struct run r = {.o = o, .read = read, .ctx = ctx};
    r.k.format = o->format;
    r.R = o->range_size ? o->range_size
                        : env_u64("FLOE_INVENTORY_RANGE_SIZE", FLOE_INVRANGE_DEFAULT_RANGE);
    r.O = o->overlap ? o->overlap
                     : env_u64("FLOE_INVENTORY_RANGE_OVERLAP", FLOE_INVRANGE_DEFAULT_OVERLAP);
    unsigned conc = o->concurrency ? o->concurrency
                                   : (unsigned)env_u64("FLOE_INVENTORY_RANGE_CONCURRENCY",
                                                       FLOE_INVRANGE_DEFAULT_CONCURRENCY);
    if (conc > 64)
        conc = 64;
    if (r.R < FLOE_INVRANGE_MIN_RANGE || r.R > ((uint64_t)1 << 30) || r.O > ((uint64_t)1 << 30))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "inventory range size %" PRIu64 " / overlap %" PRIu64
                              " out of bounds (range 256 bytes .. 1 GiB, overlap <= 1 GiB)",
                              r.R, r.O);
    r.k.overlap = r.O;
    /* range 0, here: it also tells the document's size */
    struct slot first = {0};
    size_t cap = (size_t)(r.R + r.O);
    first.buf = floe_xmalloc(cap);
    uint64_t total = 0;
    int rc = read(ctx, 0, first.buf, cap, &first.len, &total, err);
    if (!rc && total == 0)
        rc = floe_error_set(err, FLOE_E_CORRUPT, "the inventory is empty");
    r.k.total = total;
    if (!rc && first.len != (total < cap ? total : cap))
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "the first inventory range came back as %zu bytes of %" PRIu64,
                            first.len, total);
    if (!rc)
        rc = first_bytes(&r, first.buf, first.len, err);
    r.n = (unsigned)((total + r.R - 1) / r.R);
    uint64_t expect = NONE;
    unsigned reparsed = 0;
    struct floe_inventory_summary acc = {.format = r.k.format};
    atomic_store(&r.bytes_read, first.len);
    pthread_t th[64];
    unsigned nth = 0;
    if (!rc && r.n > 1) {
        r.window = conc + 2;
        r.slots = floe_xcalloc(r.n, sizeof(*r.slots));
        r.spare = floe_xcalloc(r.n, sizeof(*r.spare));
        r.next_take = 1;
        r.handed = 1;
        pthread_mutex_init(&r.mu, NULL);
        pthread_cond_init(&r.cv, NULL);
        for (; nth < conc && nth < r.n - 1; nth++)
            if (pthread_create(&th[nth], NULL, worker, &r) != 0)
                break;
        if (nth == 0) {
            r.window = r.n; /* no thread: everything is read here first */
            worker(&r);
        }
    }
    /* range 0 is parsed and handed over here while the workers read and parse the next ones */
    if (!rc) {
        parse_part(&r.k, first.buf, 0, first.len, 0, range_hi(&r, 0), NONE, &first.pt);
        if (first.pt.status) {
            *err = first.pt.err;
            rc = first.pt.status;
        } else {
            expect = first.pt.doc_end ? NONE : first.pt.next;
        }
    }
    if (!rc)
        rc = hand_over(&first.pt, fn, user, &acc, err);
    if (!rc && r.n > 1)
        rc = hand_over_rest(&r, expect, fn, user, &acc, &reparsed, err);
    else if (!rc && expect != NONE)
        rc = floe_error_set(err, FLOE_E_CORRUPT, "the inventory does not end");
    if (r.slots) {
        pthread_mutex_lock(&r.mu);
        r.stop = true;
        pthread_cond_broadcast(&r.cv);
        pthread_mutex_unlock(&r.mu);
        for (unsigned i = 0; i < nth; i++)
            pthread_join(th[i], NULL);
        for (unsigned i = 0; i < r.n; i++) {
            free(r.slots[i].buf);
            batch_free(&r.slots[i].pt.b);
        }
        for (unsigned i = 0; i < r.nspare; i++) {
            free(r.spare[i].buf);
            batch_free(&r.spare[i].b);
        }
        free(r.spare);
        free(r.slots);
        pthread_mutex_destroy(&r.mu);
        pthread_cond_destroy(&r.cv);
    }
    free(first.buf);
    batch_free(&first.pt.b);
    if (stats)
        *stats = (struct floe_invrange_stats){.size = total,
                                              .bytes_read = atomic_load(&r.bytes_read),
                                              .ranges = r.n,
                                              .reparsed = reparsed,
                                              .concurrency = nth ? nth : 1,
                                              .range_size = r.R,
                                              .overlap = r.O};
    if (!rc) {
        acc.format = r.k.format;
        *sum = acc;
    }
    return rc;
}

/* ---- sources ---- */

struct file_src {
    int fd;
    uint64_t size;
    const char *path;
};

static int read_file(void *ctx, uint64_t off, uint8_t *buf, size_t cap, size_t *got,
                     uint64_t *total, struct floe_error *err)
{
    struct file_src *f = ctx;
    size_t n = 0;
    while (n < cap && off + n < f->size) {
        ssize_t k = pread(f->fd, buf + n, cap - n, (off_t)(off + n));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return floe_error_set_errno(err, FLOE_E_IO, errno, f->path, "cannot read %s", f->path);
        if (k == 0)
            break;
        n += (size_t)k;
    }
    *got = n;
    *total = f->size;
    return FLOE_OK;
}

int floe_invrange_parse_file(const char *path, const struct floe_invrange_options *opts,
                             floe_inventory_fn *fn, void *user, struct floe_inventory_summary *sum,
                             struct floe_invrange_stats *stats, struct floe_error *err)
{
    struct file_src f = {.fd = open(path, O_RDONLY | O_CLOEXEC), .path = path};
    struct stat st;
    if (f.fd < 0)
        return floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open %s", path);
    if (fstat(f.fd, &st) != 0) {
        int e = errno;
        close(f.fd);
        return floe_error_set_errno(err, FLOE_E_IO, e, path, "cannot read %s", path);
    }
    f.size = (uint64_t)st.st_size;
    int rc = floe_invrange_parse(opts, read_file, &f, fn, user, sum, stats, err);
    close(f.fd);
    return rc;
}

bool floe_invrange_usable(const struct floe_job_info *job)
{
    return strcmp(job->action, "InventoryRetrieval") == 0 &&
           strcmp(job->status_code, "Succeeded") == 0 && !job->has_tree_hash;
}

struct http_src {
    struct floe_client *client;
    const char *vault, *job_id; /* GetJobOutput of this job (borrowed) */
    /* an endpoint that ignores Range (moto): the whole output, read once */
    pthread_mutex_t mu;
    uint8_t *whole;
    size_t whole_len, whole_cap;
    bool have_whole;
};

/* The total of a 206 answer's Content-Range "bytes A-B/TOTAL", or 0. */
static uint64_t content_range_total(const struct floe_xfer *x)
{
    const char *cr = floe_xfer_header(x, "content-range");
    const char *slash = cr ? strrchr(cr, '/') : NULL;
    char *end = NULL;
    unsigned long long t = slash ? strtoull(slash + 1, &end, 10) : 0;
    return slash && end && !*end ? (uint64_t)t : 0;
}

static size_t whole_write(void *ctx, const uint8_t *src, size_t n)
{
    struct http_src *h = ctx;
    if (h->whole_len + n > h->whole_cap) {
        size_t cap = h->whole_cap ? h->whole_cap * 2 : (size_t)1 << 20;
        while (cap < h->whole_len + n)
            cap *= 2;
        h->whole = floe_xrealloc(h->whole, cap);
        h->whole_cap = cap;
    }
    memcpy(h->whole + h->whole_len, src, n);
    h->whole_len += n;
    return n;
}

static void whole_restart(void *ctx)
{
    ((struct http_src *)ctx)->whole_len = 0;
}

/* The endpoint answered a Range request with the whole output: read it whole, once, into
 * memory (every later range is served from there). Called with h->mu held. */
static int fetch_whole(struct http_src *h, struct floe_error *err)
{
    if (h->have_whole)
        return FLOE_OK;
    struct floe_xfer *x =
        floe_call_xfer(floe_call_job_output(h->client, h->vault, h->job_id, false, 0, 0));
    x->body_write = whole_write;
    x->body_restart = whole_restart;
    x->body_ctx = h;
    int rc = floe_transfer_run(h->client->transfer, x);
    if (rc && err)
        *err = x->err;
    floe_xfer_destroy(x);
    h->have_whole = rc == FLOE_OK;
    return rc;
}

/* A tree-hash header on a ranged answer is checked against the bytes it came with. */
static int check_range_hash(const struct floe_xfer *x, const uint8_t *buf, const char *range,
                            struct floe_error *err)
{
    const char *th = floe_xfer_header(x, "x-amz-sha256-tree-hash");
    if (!th)
        return FLOE_OK;
    uint8_t want[FLOE_HASH_BYTES], have[FLOE_HASH_BYTES];
    struct floe_treehash *t = floe_treehash_new(0);
    floe_treehash_update(t, buf, x->resp_len);
    floe_treehash_final(t, have, NULL);
    floe_treehash_destroy(t);
    if (floe_treehash_parse_hex(th, want, NULL) != FLOE_OK || memcmp(want, have, sizeof(want)))
        return floe_error_set(err, FLOE_E_CHECKSUM,
                              "inventory bytes %s do not match their x-amz-sha256-tree-hash",
                              range);
    return FLOE_OK;
}

static int read_http(void *ctx, uint64_t off, uint8_t *buf, size_t cap, size_t *got,
                     uint64_t *total, struct floe_error *err)
{
    struct http_src *h = ctx;
    int rc = FLOE_OK;
    pthread_mutex_lock(&h->mu);
    bool whole = h->have_whole;
    pthread_mutex_unlock(&h->mu);
    if (!whole) {
        struct floe_xfer *x =
            floe_call_xfer(floe_call_job_output(h->client, h->vault, h->job_id, true, off, cap));
        x->sink = buf;
        x->sink_cap = cap;
        rc = floe_transfer_run(h->client->transfer, x);
        if (rc && err)
            *err = x->err;
        /* a whole output larger than the buffer, or a 200 to a range past byte 0: the endpoint
         * ignores Range */
        whole = (rc && x->overflow) || (!rc && x->http_status == 200 && off > 0);
        if (!rc && !whole) {
            *got = x->resp_len;
            *total = x->http_status == 206 ? content_range_total(x) : x->resp_len;
            if (!*total)
                rc = floe_error_set(err, FLOE_E_SERVICE,
                                    "GetJobOutput's Content-Range has no total");
            char range[80];
            snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, off, off + cap - 1);
            if (!rc)
                rc = check_range_hash(x, buf, range, err);
        }
        floe_xfer_destroy(x);
        if (!whole)
            return rc;
    }
    pthread_mutex_lock(&h->mu);
    rc = fetch_whole(h, err);
    if (!rc) {
        size_t n = off < h->whole_len ? h->whole_len - (size_t)off : 0;
        *got = n < cap ? n : cap;
        memcpy(buf, h->whole + off, *got);
        *total = h->whole_len;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

int floe_invrange_download(struct floe_client *client, const char *vault, const char *job_id,
                           const struct floe_invrange_options *opts, floe_inventory_fn *fn,
                           void *user, struct floe_inventory_summary *sum,
                           struct floe_invrange_stats *stats, struct floe_error *err)
{
    struct http_src h = {.client = client, .vault = vault, .job_id = job_id};
    pthread_mutex_init(&h.mu, NULL);
    int rc = floe_invrange_parse(opts, read_http, &h, fn, user, sum, stats, err);
    pthread_mutex_destroy(&h.mu);
    free(h.whole);
    return rc;
}
