/*
 * ms3.c - see ms3.h.
 *
 * DESIGN (the stream of one archive)
 * One ranged GetJobOutput per 8 MiB range (SEG_BYTES, a node of the archive's tree hash, so the
 * service's x-amz-sha256-tree-hash checks it alone), several in flight, each written by the
 * Glacier client's transfer thread straight into its place in a chunk buffer (a slot). The
 * calling thread is the pump: it starts ranges in archive order while the limit and the free
 * slots allow; verifies each range as it answers (its 1 MiB leaves into the chunk's leaf array,
 * their root against the header; a mismatch fetches that range again,
 * FLOE_RETRIEVE_MAX_FETCHES fetches in all); takes the frontier chunk's verified ranges through
 * the part's SHA-256 and the archive's running SHA-256 in archive order (one pass, two chains:
 * floe_sha256_update2), and once a chunk's ranges are all in, hands it to the S3 client's
 * transfer thread as UploadPart (several may be in flight). Answered parts are checked and
 * journaled strictly in part order (the journal's SHA-256 state after each part is what a
 * resumed run continues from); a slot is free again once its part is journaled.
 *   range:  IDLE --start--> FETCHING --answer, tree hash matches--> VERIFIED --frontier-->
 *           HASHED (a mismatch goes back to FETCHING)
 *   chunk:  slot claimed --all ranges HASHED--> UploadPart --answered, in order--> journaled,
 *           slot free
 * Memory: MEMORY_BYTES / chunk slots (at least 2; 4 x 64 MiB by default), their buffers kept in
 * struct floe_ms3 for the next archive. Ranges in flight: --concurrency N, else adaptive
 * (adapt.h) from ADAPT_START up to ADAPT_MAX within the slots (all but one), growing only while
 * the fetches are latency-bound (adapt.h's latency gate, the rule `floe retrieve`'s linear pass
 * uses for migrate to a directory): on loopback the CPU, not the link, bounds the copy and more
 * ranges only cost memory; 50-200 ms away one range waits a round trip per 8 MiB and more hide
 * it. A retried answer halves the limit. The next archive starts where a latency-bound one got
 * to. The first failure stops new requests; everything in flight is awaited before returning.
 */
#include "ms3.h"

#include "adapt.h"
#include "alloc.h"
#include "client_impl.h"
#include "credentials.h"
#include "floe/retrieve.h"
#include "floe/s3part.h"
#include "floe/treehash.h"
#include "latch.h"
#include "sha256.h"
#include "treehash_lin.h"

#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define POOL 32           /* MEMORY_BYTES / FLOE_MS3_MIN_CHUNK */
#define OBJ_DESC_MAX 1100 /* an object's glacier-description, made printable */
#define OBJ_META_MAX 5    /* its metadata entries (object_attrs) */
/* PutObjects of a small archive in all when S3 says the body it received is not the one sent
 * (BadDigest, XAmzContentSHA256Mismatch) or answers another stored checksum: corruption on the
 * way, sent again as a range whose tree hash did not match is fetched again. */
#define PUT_TRIES FLOE_RETRIEVE_MAX_FETCHES

struct floe_ms3 {
    struct floe_s3 *s3;
    char bucket[64];
    char prefix[1024];
    const char *storage_class;
    uint64_t chunk;
    unsigned concurrency; /* --concurrency: ranges of an archive fetched at once (0: adaptive) */
    unsigned adapt_next;  /* where the next archive's adaptive limit starts (0: the default) */
    /* chunk buffers kept from one archive to the next (fresh memory costs a page fault and a
     * zeroed page per 4 KiB: ~0.5 s of system time per GiB) */
    uint8_t *pool[POOL];
    size_t pool_cap[POOL];
};

bool floe_ms3_is_s3(const char *dest)
{
    return dest && strncmp(dest, "s3://", 5) == 0;
}

static void b64(const uint8_t h[32], char out[FLOE_S3_CHECKSUM_MAX])
{
    EVP_EncodeBlock((unsigned char *)out, h, 32);
}

static int parse(struct floe_ms3 *m, const char *dest, struct floe_error *err)
{
    const char *b = dest + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen == 0 || blen >= sizeof(m->bucket))
        return floe_error_set(err, FLOE_E_INVALID_ARG,
                              "--to %s: expected s3://BUCKET or s3://BUCKET/PREFIX", dest);
    memcpy(m->bucket, b, blen);
    m->bucket[blen] = '\0';
    const char *p = slash ? slash + 1 : "";
    size_t plen = strlen(p);
    if (plen + 2 > sizeof(m->prefix) - 100)
        return floe_error_set(err, FLOE_E_INVALID_ARG, "--to %s: the prefix is too long", dest);
    snprintf(m->prefix, sizeof(m->prefix), "%s%s", p, plen && p[plen - 1] != '/' ? "/" : "");
    return floe_s3_bucket_name_valid(m->bucket, err);
}

int floe_ms3_open(struct floe_client *c, const struct floe_migrate_options *o,
                  struct floe_ms3 **out, struct floe_error *err)
{
    struct floe_ms3 *m = floe_xcalloc(1, sizeof(*m));
    m->storage_class = o->storage_class ? o->storage_class : "DEEP_ARCHIVE";
    m->chunk = o->chunk_size ? o->chunk_size : FLOE_MS3_DEFAULT_CHUNK;
    m->concurrency = o->concurrency;
    int rc = parse(m, o->destination, err);
    if (!rc)
        rc = floe_s3_storage_class_valid(m->storage_class, err);
    if (!rc && (m->chunk < FLOE_MS3_MIN_CHUNK || (m->chunk & (m->chunk - 1)) ||
                m->chunk > FLOE_S3_PART_MAX_BYTES))
        rc = floe_error_set(err, FLOE_E_INVALID_ARG,
                            "chunk size %" PRIu64 " is not a power of two from 8 MiB to 4 GiB",
                            m->chunk);
    if (!rc) {
        struct floe_creds_snap *k = floe_credentials_acquire(c->creds);
        struct floe_s3_config cfg = {.endpoint_url = o->s3_endpoint_url,
                                     .region = c->region,
                                     .access_key_id = k->access_key_id,
                                     .secret_access_key = k->secret_access_key,
                                     .session_token = k->session_token,
                                     .share_transfer = c};
        rc = floe_s3_new(&cfg, &m->s3, err);
        floe_creds_snap_release(k);
    }
    if (!rc) {
        rc = floe_s3_head_bucket(m->s3, m->bucket, err);
        if (rc == FLOE_E_NOT_FOUND)
            floe_error_set(err, rc, "S3 bucket %s does not exist (nothing was requested)",
                           m->bucket);
        else if (rc == FLOE_E_AUTH || (rc && err->http_status == 403))
            rc = floe_error_set(err, FLOE_E_AUTH,
                                "access to S3 bucket %s is denied (nothing was requested)",
                                m->bucket);
    }
    if (rc) {
        floe_ms3_close(m);
        return rc;
    }
    *out = m;
    return FLOE_OK;
}

void floe_ms3_close(struct floe_ms3 *m)
{
    if (!m)
        return;
    floe_s3_destroy(m->s3);
    for (unsigned i = 0; i < POOL; i++)
        free(m->pool[i]);
    free(m);
}

static void key_of(const struct floe_ms3 *m, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", m->prefix, name);
}

void floe_ms3_dest(const struct floe_ms3 *m, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "s3://%s/%s%s", m->bucket, m->prefix, name);
}

/* Metadata values are printable US-ASCII; anything else becomes '?'. */
static void printable(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[o] = '\0';
}

/* The attributes of r's object, one copy for a PutObject (floe_ms3_put_many, and so a streamed
 * one-chunk archive) and a multipart upload: the storage class, x-amz-checksum-sha256, and the
 * metadata: archive id, tree hash, creation date, description (made printable into desc), and
 * for a one-part object its SHA-256 (sha_hex; NULL for a multipart upload, whose SHA-256 is
 * known only at the end). meta and desc must live as long as po. */
static void object_attrs(const struct floe_ms3 *m, const struct floe_mcat_row *r,
                         const char *description, const char *sha_hex, char desc[OBJ_DESC_MAX],
                         struct floe_s3_meta meta[OBJ_META_MAX], struct floe_s3_put_opts *po)
{
    printable(description ? description : "", desc, OBJ_DESC_MAX);
    size_t n = 0;
    meta[n++] = (struct floe_s3_meta){"glacier-archive-id", r->id};
    meta[n++] = (struct floe_s3_meta){"glacier-tree-hash", r->tree};
    meta[n++] = (struct floe_s3_meta){"glacier-creation-date", r->created};
    meta[n++] = (struct floe_s3_meta){"glacier-description", desc};
    if (sha_hex)
        meta[n++] = (struct floe_s3_meta){"sha256", sha_hex};
    *po = (struct floe_s3_put_opts){
        .storage_class = m->storage_class, .meta = meta, .nmeta = n, .checksum_sha256 = true};
}

/* S3's answer to a body sent with x-amz-checksum-sha256 ours (base64): the checksum it stored
 * (theirs; "" when the answer has none) must be ours. what names a part ("" for an object). */
static int echo_check(const struct floe_mcat_row *r, const char *theirs, const char *ours,
                      const char *what, struct floe_error *err)
{
    if (!theirs[0] || strcmp(theirs, ours) == 0)
        return FLOE_OK;
    return floe_error_set(err, FLOE_E_CHECKSUM,
                          "archive %s: S3 stored checksum %s%s, the bytes sent have %s", r->id,
                          theirs, what, ours);
}

static bool unhex_bytes(const char *s, void *p, size_t n);

/* What a HeadObject of r's key (rc, info) means: see floe_ms3_present(). An object whose
 * metadata names r but whose stored checksum is not of the SHA-256 it records, or whose
 * recorded SHA-256 is not one (64 hex digits), is in the way too (corrupted, or not what floe
 * wrote): its metadata would otherwise go into the catalog and manifest as the archive's. */
static int present_check(const struct floe_ms3 *m, const struct floe_mcat_row *r, const char *key,
                         int rc, const struct floe_s3_object_info *info, char sha256[65],
                         struct floe_error *err)
{
    if (rc)
        return rc;
    const char *id = floe_s3_object_meta(info, "glacier-archive-id");
    const char *tree = floe_s3_object_meta(info, "glacier-tree-hash");
    const char *sha = floe_s3_object_meta(info, "sha256");
    if (!id || !tree || strcmp(id, r->id) != 0 || strcmp(tree, r->tree) != 0 ||
        info->size != r->size)
        return floe_error_set(err, FLOE_E_SOURCE_CHANGED,
                              "s3://%s/%s exists and is not this archive (its metadata names "
                              "another archive or tree hash): move it away and run again",
                              m->bucket, key);
    /* a one-part object: the checksum S3 stored is of the SHA-256 its metadata records */
    uint8_t raw[32];
    char want[FLOE_S3_CHECKSUM_MAX];
    if (sha && !unhex_bytes(sha, raw, sizeof(raw)))
        return floe_error_set(err, FLOE_E_SOURCE_CHANGED,
                              "s3://%s/%s exists and is not this archive (its metadata records "
                              "SHA-256 \"%.80s\", not 64 hex digits): move it away and run again",
                              m->bucket, key, sha);
    if (sha && info->checksum_sha256[0]) {
        b64(raw, want);
        if (strcmp(want, info->checksum_sha256) != 0)
            return floe_error_set(err, FLOE_E_SOURCE_CHANGED,
                                  "s3://%s/%s exists and is not this archive (S3 stored "
                                  "checksum %s, its metadata records SHA-256 %s): move it away "
                                  "and run again",
                                  m->bucket, key, info->checksum_sha256, sha);
    }
    snprintf(sha256, 65, "%s", sha ? sha : "");
    return FLOE_OK;
}

int floe_ms3_present(struct floe_ms3 *m, const struct floe_mcat_row *r, char sha256[65],
                     struct floe_error *err)
{
    char key[2048];
    key_of(m, r->name, key, sizeof(key));
    struct floe_s3_object_info info = {0};
    int rc = floe_s3_head_object(m->s3, m->bucket, key, &info, err);
    rc = present_check(m, r, key, rc, &info, sha256, err);
    floe_s3_object_info_cleanup(&info);
    return rc;
}

/* ---- small archives: many HeadObjects / PutObjects in flight at once ---- */

struct many {
    struct floe_s3_head h;
    struct floe_s3_put p;
    char key[2048];
    char desc[OBJ_DESC_MAX];
    struct floe_s3_meta meta[OBJ_META_MAX];
    struct floe_s3_put_opts po;
    /* a PutObject answered 2xx with another checksum: S3 may keep an object under this key
     * that is not the archive, whatever a later try answers */
    bool kept_other;
};

static void many_head_done(struct floe_s3_head *h)
{
    floe_latch_count_down(h->user);
}

static void many_put_done(struct floe_s3_put *p)
{
    floe_latch_count_down(p->user);
}

void floe_ms3_present_many(struct floe_ms3 *m, struct floe_ms3_item *it, size_t n)
{
    struct many *x = floe_xcalloc(n ? n : 1, sizeof(*x));
    struct floe_latch w;
    floe_latch_init(&w, n);
    for (size_t i = 0; i < n; i++) {
        key_of(m, it[i].r->name, x[i].key, sizeof(x[i].key));
        x[i].h = (struct floe_s3_head){
            .bucket = m->bucket, .key = x[i].key, .done = many_head_done, .user = &w};
        memset(&it[i].err, 0, sizeof(it[i].err));
        if ((it[i].status = floe_s3_head_object_submit(m->s3, &x[i].h, &it[i].err)))
            floe_latch_count_down(&w);
    }
    floe_latch_wait(&w);
    for (size_t i = 0; i < n; i++) {
        if (!it[i].status) {
            it[i].err = x[i].h.err;
            it[i].status = present_check(m, it[i].r, x[i].key, x[i].h.status, &x[i].h.info,
                                         it[i].sha256_hex, &it[i].err);
        }
        floe_s3_object_info_cleanup(&x[i].h.info);
    }
    floe_latch_destroy(&w);
    free(x);
}

/* Whether a PutObject's failure says the body arrived other than it was sent (its
 * x-amz-checksum-sha256 or x-amz-content-sha256 did not match): sent again (PUT_TRIES). */
static bool put_corrupted(int status, const struct floe_error *e)
{
    return status == FLOE_E_CHECKSUM ||
           (status && (strcmp(e->code, "BadDigest") == 0 ||
                       strcmp(e->code, "XAmzContentSHA256Mismatch") == 0));
}

/* Item i's PutObject answered (or not sent): its status, the echoed checksum checked. */
static int put_answered(struct floe_ms3_item *it, const struct floe_s3_put *p)
{
    char ours[FLOE_S3_CHECKSUM_MAX];
    it->err = p->err;
    if (p->status) /* a bucket that is gone is not a job output that is gone */
        return p->status == FLOE_E_NOT_FOUND ? (it->err.status = FLOE_E_SERVICE) : p->status;
    b64(it->sha256, ours);
    return echo_check(it->r, p->result.checksum_sha256, ours, "", &it->err);
}

/* An archive whose PutObjects all came back corrupted: its message, and an object S3 kept with
 * another checksum in any of the tries (kept_other) deleted: its metadata names the archive, so
 * a later HeadObject would take it for the archive's copy. */
static void put_given_up(struct floe_ms3 *m, struct floe_ms3_item *it, const char *key,
                         bool kept_other)
{
    char msg[FLOE_ERROR_MSG_MAX], kept[FLOE_ERROR_MSG_MAX + 64] = "";
    snprintf(msg, sizeof(msg), "%s", it->err.message);
    if (kept_other) {
        struct floe_error e = {0};
        if (floe_s3_delete_object(m->s3, m->bucket, key, &e))
            snprintf(kept, sizeof(kept), "; the object S3 kept could not be deleted (%s)",
                     e.message);
        else
            snprintf(kept, sizeof(kept), "; the object S3 kept is deleted");
    }
    if (it->status == FLOE_E_CHECKSUM) {
        floe_error_set(&it->err, FLOE_E_CHECKSUM, "%s (%d PutObjects): not copied%s", msg,
                       PUT_TRIES, kept);
        return;
    }
    it->status = floe_error_set(&it->err, FLOE_E_CHECKSUM,
                                "archive %s: S3 refused the bytes sent as not matching their "
                                "checksum in %d PutObjects (%s): not copied%s",
                                it->r->id, PUT_TRIES, msg, kept);
}

void floe_ms3_put_many(struct floe_ms3 *m, struct floe_ms3_item *it, size_t n)
{
    struct many *x = floe_xcalloc(n ? n : 1, sizeof(*x));
    size_t *todo = floe_xcalloc(n ? n : 1, sizeof(*todo)), ntodo = 0;
    for (size_t i = 0; i < n; i++) {
        struct many *k = &x[i];
        key_of(m, it[i].r->name, k->key, sizeof(k->key));
        floe_treehash_hex(it[i].sha256, it[i].sha256_hex);
        object_attrs(m, it[i].r, it[i].description, it[i].sha256_hex, k->desc, k->meta, &k->po);
        todo[ntodo++] = i;
    }
    for (int round = 1; ntodo; round++) {
        struct floe_latch w;
        floe_latch_init(&w, ntodo);
        for (size_t t = 0; t < ntodo; t++) {
            size_t i = todo[t];
            x[i].p = (struct floe_s3_put){.bucket = m->bucket,
                                          .key = x[i].key,
                                          .data = it[i].data,
                                          .len = (size_t)it[i].r->size,
                                          .opts = &x[i].po,
                                          .sha256 = it[i].sha256,
                                          .done = many_put_done,
                                          .user = &w};
            memset(&it[i].err, 0, sizeof(it[i].err));
            if ((it[i].status = floe_s3_put_object_submit(m->s3, &x[i].p, &it[i].err))) {
                x[i].p.status = -1; /* not sent: the local check's failure stands */
                floe_latch_count_down(&w);
            }
        }
        floe_latch_wait(&w);
        floe_latch_destroy(&w);
        size_t again = 0;
        for (size_t t = 0; t < ntodo; t++) {
            size_t i = todo[t];
            if (x[i].p.status == -1)
                continue;
            it[i].status = put_answered(&it[i], &x[i].p);
            if (!x[i].p.status && it[i].status == FLOE_E_CHECKSUM)
                x[i].kept_other = true; /* answered 2xx, echoing another checksum */
            if (!put_corrupted(it[i].status, &it[i].err))
                continue;
            if (round < PUT_TRIES)
                todo[again++] = i;
            else
                put_given_up(m, &it[i], x[i].key, x[i].kept_other);
        }
        ntodo = again;
    }
    free(todo);
    free(x);
}

/* ---- streaming: job output -> verified ranges -> chunk -> UploadPart ---- */

/* A ranged GetJobOutput: a node of the archive's tree hash (aligned to its size), so the
 * service's x-amz-sha256-tree-hash checks it alone and a mismatch refetches only it. */
#define SEG_BYTES ((uint64_t)8 << 20)
/* The chunk buffers one archive's copy holds: MEMORY_BYTES / chunk of them, at least 2 (one
 * being filled while another is sent: 256 MiB at the default 64 MiB chunk). */
#define MEMORY_BYTES ((uint64_t)256 << 20)
#define MIN_SLOTS 2u
/* Ranges in flight without --concurrency: from ADAPT_START up to ADAPT_MAX (within the slots),
 * growing only while the fetches are latency-bound (adapt.h, the latency gate). */
#define ADAPT_START 4u
#define ADAPT_MAX 16u
#define NO_CHUNK UINT64_MAX

enum { SEG_IDLE, SEG_FETCHING, SEG_VERIFIED, SEG_HASHED };

struct stream;

/* A chunk in memory: its ranges fetched (in any order) and verified, then taken through the
 * part's and the archive's SHA-256 in order, then sent. */
struct slot {
    uint64_t chunk;         /* NO_CHUNK: free */
    uint8_t *buf;           /* the stream's chunk bytes (allocated on first use) */
    uint64_t len;           /* this chunk's bytes */
    unsigned nseg, hashed;  /* its ranges; how many went through the SHA-256s, in order */
    uint8_t *state, *tries; /* per range: SEG_*, fetches so far */
    uint8_t (*leaves)[FLOE_HASH_BYTES];
    struct floe_sha256 part;  /* the part's SHA-256 (x-amz-checksum-sha256) */
    struct floe_sha256 after; /* the archive's running SHA-256 after this part */
    struct floe_s3_part p;
    bool sending; /* UploadPart submitted, not answered (under mu) */
    bool pending; /* submitted and not yet recorded */
    int sends;    /* UploadParts of this chunk so far (a corrupted one is sent again) */
};

/* One ranged GetJobOutput in flight. */
struct fetch {
    struct stream *s;
    struct slot *slot;
    unsigned seg;
    uint64_t off, len; /* archive bytes */
    uint8_t *dst;
    uint64_t got; /* transfer thread */
    uint64_t sent_ns, first_ns, end_ns;
    struct floe_xfer *x;
    struct fetch *next; /* the answered list (under mu) */
};

struct stream {
    struct floe_ms3 *m;
    struct floe_mcat *cat;
    const struct floe_mcat_row *r;
    const struct floe_ms3_source *src;
    struct floe_ms3_stats *st;
    char key[2048];
    const char *description;
    char desc[OBJ_DESC_MAX];
    char sha_hex[65];
    uint8_t sha[32]; /* the SHA-256 of a one-part archive */
    struct floe_s3_meta meta[OBJ_META_MAX];
    struct floe_s3_put_opts po; /* of a multipart upload */
    uint64_t chunk, nparts, seg;
    unsigned segs_per_chunk, nslots;
    struct slot *slots;
    /* the pump (calling thread) */
    uint64_t next_chunk; /* the next range to fetch: next_chunk, range next_seg */
    unsigned next_seg;
    uint64_t hashed;   /* chunks hashed in order (the frontier) */
    uint64_t recorded; /* parts answered and journaled, in order */
    unsigned fetching, fixed;
    struct floe_adapt adapt;
    struct floe_adapt_gate gate;
    /* under mu: what the transfer thread reports */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct fetch *answered;
    unsigned sending;
    uint64_t part_answers;
    bool part_failed;
    char upload_id[FLOE_S3_UPLOAD_ID_MAX];
    char jpath[4200];
    /* per part */
    uint8_t (*trees)[FLOE_HASH_BYTES];
    char (*etags)[FLOE_S3_ETAG_MAX];
    char (*sums)[FLOE_S3_CHECKSUM_MAX];
    struct floe_sha256 lin; /* the archive's SHA-256 over the parts hashed so far, in order */
};

static uint64_t part_len(const struct stream *s, uint64_t i)
{
    uint64_t off = i * s->chunk, left = s->r->size - off;
    return left < s->chunk ? left : s->chunk;
}

static struct slot *slot_of(struct stream *s, uint64_t chunk)
{
    return &s->slots[chunk % s->nslots];
}

static unsigned limit_now(const struct stream *s)
{
    return s->fixed ? s->fixed : floe_adapt_limit(&s->adapt);
}

static size_t fetch_write(void *ctx, const uint8_t *src, size_t n)
{
    struct fetch *f = ctx;
    if (f->got + n > f->len)
        return 0; /* more than asked for: the attempt fails */
    if (!f->first_ns)
        f->first_ns = floe_adapt_now_ns();
    memcpy(f->dst + f->got, src, n);
    f->got += n;
    return n;
}

static void fetch_restart(void *ctx)
{
    ((struct fetch *)ctx)->got = 0;
}

static void fetch_done(struct floe_xfer *x)
{
    struct fetch *f = x->user;
    struct stream *s = f->s;
    uint64_t now = floe_adapt_now_ns();
    pthread_mutex_lock(&s->mu);
    f->end_ns = now;
    f->next = s->answered;
    s->answered = f;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Range j of the chunk in sl: one GetJobOutput into its place in the chunk's buffer. */
static void fetch_submit(struct stream *s, struct slot *sl, unsigned j)
{
    struct fetch *f = floe_xcalloc(1, sizeof(*f));
    f->s = s;
    f->slot = sl;
    f->seg = j;
    f->off = sl->chunk * s->chunk + (uint64_t)j * s->seg;
    f->len = sl->len - (uint64_t)j * s->seg < s->seg ? sl->len - (uint64_t)j * s->seg : s->seg;
    f->dst = sl->buf + (uint64_t)j * s->seg;
    /* the whole output: no Range */
    struct floe_xfer *x = floe_call_xfer(floe_call_job_output(
        s->src->client, s->src->vault, s->src->job_id, f->len != s->r->size, f->off, f->len));
    x->body_write = fetch_write;
    x->body_restart = fetch_restart;
    x->body_ctx = f;
    x->done = fetch_done;
    x->user = f;
    f->x = x;
    sl->state[j] = SEG_FETCHING;
    sl->tries[j]++;
    if (++s->fetching > s->st->peak_in_flight)
        s->st->peak_in_flight = s->fetching;
    f->sent_ns = floe_adapt_now_ns();
    floe_transfer_submit(s->src->client->transfer, x);
}

/* Takes a free slot for chunk c. */
static void slot_claim(struct stream *s, struct slot *sl, uint64_t c)
{
    sl->chunk = c;
    sl->len = part_len(s, c);
    sl->nseg = (unsigned)((sl->len + s->seg - 1) / s->seg);
    if (!sl->nseg)
        sl->nseg = 1;
    sl->hashed = 0;
    memset(sl->state, SEG_IDLE, s->segs_per_chunk);
    memset(sl->tries, 0, s->segs_per_chunk);
    floe_sha256_init(&sl->part);
    if (!sl->buf) { /* the first chunk of this slot: the pool's buffer, grown if need be */
        unsigned i = (unsigned)(sl - s->slots);
        size_t n = (size_t)(s->r->size < s->chunk ? s->r->size : s->chunk);
        if (s->m->pool_cap[i] < n) {
            free(s->m->pool[i]);
            s->m->pool[i] = floe_xmalloc(n ? n : 1);
            s->m->pool_cap[i] = n;
        }
        sl->buf = s->m->pool[i];
    }
}

/* Whether an UploadPart of the stream failed (its error is reported in part order, or by pump
 * when the copy stopped before reaching it): no refetch and no new part is sent after one. */
static bool parts_failed(struct stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool failed = s->part_failed;
    pthread_mutex_unlock(&s->mu);
    return failed;
}

/* A fetch answered: checks it (size; its tree hash against the service's and, for the whole
 * archive, the inventory's) into its chunk's leaves, or fetches it again on a mismatch
 * (FLOE_RETRIEVE_MAX_FETCHES fetches in all). */
static int fetched(struct stream *s, struct fetch *f, struct floe_error *err)
{
    struct floe_xfer *x = f->x;
    struct slot *sl = f->slot;
    int rc = x->status;
    if (rc)
        *err = x->err;
    else if (x->resp_len != f->len || f->got != f->len) /* a short answer is not verified */
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "GetJobOutput of job %s, bytes %" PRIu64 "-%" PRIu64 ": %" PRIu64
                            " bytes received, %" PRIu64 " expected",
                            s->src->job_id, f->off, f->off + f->len - 1,
                            x->resp_len != f->len ? (uint64_t)x->resp_len : f->got, f->len);
    if (!s->fixed) { /* a retried answer (throttling, a reset, a 5xx) halves the limit */
        if (!rc && x->attempts == 1)
            s->adapt.no_growth =
                !floe_adapt_gate_fetch(&s->gate, f->sent_ns, f->first_ns, f->end_ns);
        floe_adapt_done(&s->adapt, rc ? 0 : f->len, x->attempts > 1, f->end_ns);
    }
    if (rc)
        return rc;
    uint8_t(*leaves)[FLOE_HASH_BYTES] =
        sl->leaves + (uint64_t)f->seg * (s->seg / FLOE_TREEHASH_LEAF_BYTES);
    uint8_t root[FLOE_HASH_BYTES];
    char got[65];
    uint64_t nl = floe_treehash_leaf_count(f->len);
    if (nl) {
        floe_treehash_leaves_lin(f->dst, (size_t)f->len, leaves, NULL);
        floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])leaves, (size_t)nl, root);
    } else {
        floe_sha256(f->dst, 0, root);
    }
    floe_treehash_hex(root, got);
    const char *h = floe_xfer_header(x, "x-amz-sha256-tree-hash"), *want = NULL;
    if (h && h[0] && strcasecmp(h, got) != 0)
        want = h;
    else if (f->len == s->r->size && s->r->tree[0] && strcmp(got, s->r->tree) != 0)
        want = s->r->tree;
    if (!want) {
        sl->state[f->seg] = SEG_VERIFIED;
        return FLOE_OK;
    }
    if (sl->tries[f->seg] >= FLOE_RETRIEVE_MAX_FETCHES)
        return floe_error_set(err, FLOE_E_CHECKSUM,
                              "archive %s: bytes %" PRIu64 "-%" PRIu64
                              " did not match their tree hash in %d fetches (expected %s, "
                              "the bytes received hash to %s): not copied",
                              s->r->id, f->off, f->off + (f->len ? f->len - 1 : 0),
                              (int)sl->tries[f->seg], want, got);
    if (parts_failed(s))
        return FLOE_OK; /* the copy stops: nothing more is sent (pump reports the part) */
    s->st->refetches++;
    fetch_submit(s, sl, f->seg);
    return FLOE_OK;
}

/* An UploadPart answered (the transfer thread). A body that arrived corrupted (put_corrupted:
 * BadDigest, XAmzContentSHA256Mismatch, another stored checksum, which floe/s3part.h reports
 * as FLOE_E_CHECKSUM) is sent again from here, PUT_TRIES UploadParts in all, unless another
 * part failed (the copy stops); corrupted every time, the part fails the archive
 * (FLOE_E_CHECKSUM: its upload is aborted). */
static void part_done(struct floe_s3_part *p)
{
    struct slot *sl = (struct slot *)((char *)p - offsetof(struct slot, p));
    struct stream *s = p->user;
    if (put_corrupted(p->status, &p->err)) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->part_failed;
        pthread_mutex_unlock(&s->mu);
        struct floe_error e = {0};
        if (!stop && sl->sends < PUT_TRIES) {
            sl->sends++;
            if (floe_s3_upload_part_submit(s->m->s3, p, &e) == FLOE_OK)
                return; /* still sending: done runs again */
            p->status = e.status;
            p->err = e;
        } else if (sl->sends >= PUT_TRIES) {
            char msg[FLOE_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s", p->err.message);
            p->status = floe_error_set(&p->err, FLOE_E_CHECKSUM,
                                       "archive %s: the body of part %u arrived corrupted in %d "
                                       "UploadParts (%s): not copied",
                                       s->r->id, p->part_number, sl->sends, msg);
        }
    }
    pthread_mutex_lock(&s->mu);
    sl->sending = false;
    s->sending--;
    s->part_answers++;
    if (p->status)
        s->part_failed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void hex_bytes(const void *p, size_t n, char *out)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static bool unhex_bytes(const char *s, void *p, size_t n)
{
    uint8_t *b = p;
    if (strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        b[i] = (uint8_t)v;
    }
    return true;
}

/* One journal line of part i (its tree hash, checksum, ETag, the SHA-256 state after it). */
static void journal_line(const struct stream *s, uint64_t i, const struct floe_sha256 *state,
                         char *out, size_t cap)
{
    char th[65], sh[2 * sizeof(struct floe_sha256) + 1];
    floe_treehash_hex(s->trees[i], th);
    hex_bytes(state, sizeof(*state), sh);
    snprintf(out, cap, "%" PRIu64 " %s %s %s %s\n", i + 1, th, s->sums[i],
             s->etags[i][0] ? s->etags[i] : "-", sh);
}

static int journal_write(const struct stream *s, const char *text, bool create,
                         struct floe_error *err)
{
    int fd = open(s->jpath, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : O_APPEND), 0600);
    size_t n = strlen(text);
    bool ok = fd >= 0 && write(fd, text, n) == (ssize_t)n && fdatasync(fd) == 0;
    int e = errno;
    if (fd >= 0)
        close(fd);
    return ok ? FLOE_OK
              : floe_error_set_errno(err, FLOE_E_IO, e, s->jpath,
                                     "cannot write the parts journal %s", s->jpath);
}

/* The parts answered, in order from the first not yet recorded: each checked (S3's stored
 * checksum is the one sent) and journaled with the archive's SHA-256 state after it; its slot
 * is then free. Stops at the first part still in flight. */
static int record_parts(struct stream *s, struct floe_error *err)
{
    while (s->recorded < s->hashed && s->recorded < s->nparts) {
        struct slot *sl = slot_of(s, s->recorded);
        pthread_mutex_lock(&s->mu);
        bool busy = sl->sending;
        pthread_mutex_unlock(&s->mu);
        if (busy || !sl->pending)
            return FLOE_OK;
        sl->pending = false;
        struct floe_s3_part *p = &sl->p;
        uint64_t i = p->part_number - 1, off = i * s->chunk;
        if (p->status) {
            *err = p->err;
            /* an upload that is gone: the run stops; the next one starts a new upload */
            return p->status == FLOE_E_NOT_FOUND ? (err->status = FLOE_E_SERVICE) : p->status;
        }
        char what[100];
        snprintf(what, sizeof(what), " for part %" PRIu64 " (bytes %" PRIu64 "-%" PRIu64 ")", i + 1,
                 off, off + p->len - 1);
        int erc = echo_check(s->r, p->checksum_sha256, s->sums[i], what, err);
        if (erc)
            return erc;
        snprintf(s->etags[i], FLOE_S3_ETAG_MAX, "%s", p->etag);
        s->st->parts_sent++;
        char line[1024];
        journal_line(s, i, &sl->after, line, sizeof(line));
        int rc = journal_write(s, line, false, err);
        if (rc)
            return rc;
        sl->chunk = NO_CHUNK;
        s->recorded++;
    }
    return FLOE_OK;
}

/* ListParts of the recorded upload into per-part sizes and checksums. */
struct listed {
    uint64_t n;
    uint64_t *size;
    char (*sum)[FLOE_S3_CHECKSUM_MAX];
    char (*etag)[FLOE_S3_ETAG_MAX];
};

static int listed_part(const struct floe_s3_part_entry *p, void *user)
{
    struct listed *l = user;
    if (p->part_number >= 1 && p->part_number <= l->n) {
        l->size[p->part_number - 1] = p->size;
        snprintf(l->sum[p->part_number - 1], FLOE_S3_CHECKSUM_MAX, "%s", p->checksum_sha256);
        snprintf(l->etag[p->part_number - 1], FLOE_S3_ETAG_MAX, "%s", p->etag);
    }
    return 0;
}

/* Journal lines confirmed by ListParts, in order from part 1: returns how many; the lines
 * themselves are appended to *kept (the journal is rewritten with them). A part is confirmed
 * when its size is the chunk's and its stored checksum is the journal's (or, where ListParts
 * shows none, as moto's does, its ETag is the one UploadPart answered after the service had
 * checked the body against that checksum). */
static uint64_t adopt_parts(struct stream *s, FILE *f, const struct listed *l, char **kept)
{
    char line[1024];
    uint64_t k = 0;
    size_t used = strlen(*kept);
    while (k < s->nparts && fgets(line, sizeof(line), f)) {
        char th[80], sum[FLOE_S3_CHECKSUM_MAX], etag[FLOE_S3_ETAG_MAX], state[600];
        uint64_t no;
        struct floe_sha256 st;
        if (sscanf(line, "%" SCNu64 " %79s %63s %127s %599s", &no, th, sum, etag, state) != 5 ||
            no != k + 1 || strlen(th) != 64 || !unhex_bytes(th, s->trees[k], 32) ||
            !unhex_bytes(state, &st, sizeof(st)) || !floe_sha256_impl_available(st.impl) ||
            l->size[k] != part_len(s, k) ||
            (l->sum[k][0] ? strcmp(l->sum[k], sum) != 0
                          : !l->etag[k][0] || strcmp(l->etag[k], etag) != 0))
            break;
        snprintf(s->sums[k], FLOE_S3_CHECKSUM_MAX, "%s", sum);
        snprintf(s->etags[k], FLOE_S3_ETAG_MAX, "%s", strcmp(etag, "-") ? etag : "");
        s->lin = st;
        size_t n = strlen(line);
        *kept = floe_xrealloc(*kept, used + n + 1);
        memcpy(*kept + used, line, n + 1);
        used += n;
        k++;
    }
    return k;
}

static void drop_upload(struct stream *s, const char *id)
{
    floe_s3_abort_multipart(s->m->s3, s->m->bucket, s->key, id, NULL);
    floe_mcat_set_upload(s->cat, s->r->ord, "", NULL);
    unlink(s->jpath);
    s->upload_id[0] = '\0';
}

/* The upload a killed run recorded: kept with the parts ListParts confirms (*first = how
 * many), or aborted when its journal does not match. */
static int resume(struct stream *s, uint64_t *first, struct floe_error *err)
{
    char id[FLOE_S3_UPLOAD_ID_MAX], head[FLOE_S3_UPLOAD_ID_MAX + 64], want[sizeof(head)];
    *first = 0;
    if (!floe_mcat_get_upload(s->cat, s->r->ord, id, sizeof(id)) || !id[0]) {
        unlink(s->jpath);
        return FLOE_OK;
    }
    FILE *f = fopen(s->jpath, "r");
    snprintf(want, sizeof(want), "floe-ms3-parts 1 %" PRIu64 " %s\n", s->chunk, id);
    if (!f || !fgets(head, sizeof(head), f) || strcmp(head, want) != 0) {
        if (f)
            fclose(f);
        drop_upload(s, id);
        return FLOE_OK;
    }
    struct listed l = {s->nparts, floe_xcalloc(s->nparts, sizeof(uint64_t)),
                       floe_xcalloc(s->nparts, FLOE_S3_CHECKSUM_MAX),
                       floe_xcalloc(s->nparts, FLOE_S3_ETAG_MAX)};
    struct floe_error lerr = {0};
    char *kept = floe_xstrdup("");
    floe_sha256_init(&s->lin);
    int rc = floe_s3_list_parts(s->m->s3, s->m->bucket, s->key, id, 0, listed_part, &l, &lerr);
    if (rc == FLOE_E_NOT_FOUND) { /* the upload is gone */
        drop_upload(s, id);
        rc = FLOE_OK;
    } else if (rc) {
        *err = lerr;
    } else {
        snprintf(s->upload_id, sizeof(s->upload_id), "%s", id);
        *first = adopt_parts(s, f, &l, &kept);
        s->st->parts_resumed = (unsigned)*first;
    }
    fclose(f);
    free(l.size);
    free(l.sum);
    free(l.etag);
    /* the journal again, with only the confirmed parts */
    if (!rc && s->upload_id[0] && !(rc = journal_write(s, want, true, err)))
        rc = journal_write(s, kept, false, err);
    free(kept);
    return rc;
}

/* Uploads of this key that no catalog recorded (a kill between create and record). */
struct strays {
    const char *key;
    char **ids;
    size_t n;
};

static int stray_upload(const struct floe_s3_upload_entry *u, void *user)
{
    struct strays *x = user;
    if (strcmp(u->key, x->key) == 0 && x->n < 64) {
        x->ids = floe_xrealloc(x->ids, (x->n + 1) * sizeof(*x->ids));
        x->ids[x->n++] = floe_xstrdup(u->upload_id);
    }
    return 0;
}

static int abort_strays(struct stream *s, struct floe_error *err)
{
    struct strays x = {.key = s->key};
    int rc =
        floe_s3_list_multipart_uploads(s->m->s3, s->m->bucket, s->key, 0, stray_upload, &x, err);
    for (size_t i = 0; i < x.n; i++) {
        if (!rc)
            floe_s3_abort_multipart(s->m->s3, s->m->bucket, s->key, x.ids[i], NULL);
        free(x.ids[i]);
    }
    free(x.ids);
    return rc;
}

static int start_upload(struct stream *s, struct floe_error *err)
{
    int rc = abort_strays(s, err);
    if (!rc)
        rc = floe_s3_create_multipart(s->m->s3, s->m->bucket, s->key, &s->po, s->upload_id, err);
    if (!rc)
        rc = floe_mcat_set_upload(s->cat, s->r->ord, s->upload_id, err);
    char head[FLOE_S3_UPLOAD_ID_MAX + 64];
    snprintf(head, sizeof(head), "floe-ms3-parts 1 %" PRIu64 " %s\n", s->chunk, s->upload_id);
    if (!rc)
        rc = journal_write(s, head, true, err);
    floe_sha256_init(&s->lin);
    return rc;
}

/* The chunks at the frontier whose ranges are all verified: through the part's SHA-256 and the
 * archive's (in archive order, the bytes read once for both), their tree hash from the leaves,
 * then (several parts) sent as UploadPart on the S3 client's transfer thread. */
static int hash_ready(struct stream *s, struct floe_error *err)
{
    while (s->hashed < s->nparts) {
        struct slot *sl = slot_of(s, s->hashed);
        if (sl->chunk != s->hashed)
            return FLOE_OK;
        while (sl->hashed < sl->nseg && sl->state[sl->hashed] == SEG_VERIFIED) {
            uint64_t o = (uint64_t)sl->hashed * s->seg,
                     n = sl->len - o < s->seg ? sl->len - o : s->seg;
            if (s->nparts == 1) /* the part is the archive */
                floe_sha256_update(&sl->part, sl->buf + o, (size_t)n);
            else
                floe_sha256_update2(&sl->part, sl->buf + o, &s->lin, sl->buf + o, (size_t)n);
            sl->state[sl->hashed++] = SEG_HASHED;
        }
        if (sl->hashed < sl->nseg)
            return FLOE_OK;
        uint64_t i = s->hashed, nl = floe_treehash_leaf_count(sl->len);
        uint8_t sha[32];
        if (nl)
            floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])sl->leaves, (size_t)nl,
                                  s->trees[i]);
        else
            floe_sha256(sl->buf, 0, s->trees[i]);
        floe_sha256_final(&sl->part, sha);
        b64(sha, s->sums[i]);
        s->hashed++;
        if (s->nparts == 1) {
            memcpy(s->sha, sha, sizeof(s->sha));
            floe_treehash_hex(sha, s->sha_hex);
            return FLOE_OK;
        }
        if (parts_failed(s))
            return FLOE_OK; /* hashed, not sent: the copy stops */
        sl->after = s->lin;
        sl->p = (struct floe_s3_part){.bucket = s->m->bucket,
                                      .key = s->key,
                                      .upload_id = s->upload_id,
                                      .part_number = (uint32_t)(i + 1),
                                      .len = (size_t)sl->len,
                                      .data = sl->buf,
                                      .last = i + 1 == s->nparts,
                                      .done = part_done,
                                      .user = s};
        memcpy(sl->p.sha256, sha, 32);
        sl->sends = 1;
        pthread_mutex_lock(&s->mu);
        sl->sending = sl->pending = true;
        s->sending++;
        pthread_mutex_unlock(&s->mu);
        int rc = floe_s3_upload_part_submit(s->m->s3, &sl->p, err);
        if (rc) {
            pthread_mutex_lock(&s->mu);
            sl->sending = sl->pending = false;
            s->sending--;
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
    }
    return FLOE_OK;
}

/* Fetches, verifies, hashes and (several parts) sends chunks first.. of the archive: ranges
 * are fetched in order, as many at once as the limit says and the free slots hold; whatever
 * answers is verified at once; the frontier chunk is hashed and sent as soon as its ranges are
 * all in. The first failure stops new requests; what is in flight is awaited. */
static int pump(struct stream *s, uint64_t first, struct floe_error *err)
{
    int rc = FLOE_OK;
    s->next_chunk = s->hashed = s->recorded = first;
    s->next_seg = 0;
    for (;;) {
        if (!rc && s->src->cancel && atomic_load(s->src->cancel))
            rc = floe_error_set(err, FLOE_E_CANCELLED, "interrupted");
        pthread_mutex_lock(&s->mu);
        bool stop = rc || s->part_failed;
        pthread_mutex_unlock(&s->mu);
        while (!stop && s->next_chunk < s->nparts && s->fetching < limit_now(s)) {
            struct slot *sl = slot_of(s, s->next_chunk);
            if (sl->chunk != s->next_chunk) {
                if (sl->chunk != NO_CHUNK)
                    break; /* its slot still holds an earlier chunk */
                slot_claim(s, sl, s->next_chunk);
            }
            fetch_submit(s, sl, s->next_seg);
            if (++s->next_seg == sl->nseg) {
                s->next_chunk++;
                s->next_seg = 0;
            }
        }
        pthread_mutex_lock(&s->mu);
        while (!s->answered && !s->part_answers && (s->fetching || s->sending))
            pthread_cond_wait(&s->cv, &s->mu);
        struct fetch *list = s->answered;
        bool news = list || s->part_answers;
        bool quiet = !s->fetching && !s->sending;
        s->answered = NULL;
        s->part_answers = 0;
        pthread_mutex_unlock(&s->mu);
        if (quiet && !news) { /* nothing in flight, nothing new: done, failed, or stuck */
            bool finished = s->nparts == 1 ? s->hashed == 1 : s->recorded == s->nparts;
            for (unsigned i = 0; !rc && !finished && i < s->nslots; i++) {
                struct slot *sl = &s->slots[i]; /* a failed part record_parts did not reach */
                if (sl->pending && sl->p.status) {
                    *err = sl->p.err;
                    rc = sl->p.status == FLOE_E_NOT_FOUND ? (err->status = FLOE_E_SERVICE)
                                                          : sl->p.status;
                }
            }
            if (!rc && !finished)
                rc = floe_error_set(err, FLOE_E_SERVICE, "archive %s: the S3 copy stalled",
                                    s->r->id);
            break;
        }
        while (list) {
            struct fetch *f = list;
            list = f->next;
            s->fetching--;
            struct floe_error e = {0};
            int frc = rc ? FLOE_OK : fetched(s, f, &e);
            if (frc && !rc) {
                rc = frc;
                *err = e;
            }
            floe_xfer_destroy(f->x);
            free(f);
        }
        if (!rc)
            rc = hash_ready(s, err);
        struct floe_error e = {0};
        int prc = record_parts(s, &e);
        if (prc && !rc) {
            rc = prc;
            *err = e;
        }
    }
    return rc;
}

static int multipart(struct stream *s, struct floe_error *err)
{
    uint64_t first = 0;
    int rc = resume(s, &first, err);
    if (!rc && !s->upload_id[0])
        rc = start_upload(s, err);
    if (!rc)
        rc = pump(s, first, err);
    if (!rc) { /* the archive's tree hash, before the object can exist */
        uint8_t whole[32];
        char th[65];
        floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])s->trees, (size_t)s->nparts,
                              whole);
        floe_treehash_hex(whole, th);
        if (s->r->tree[0] && strcmp(th, s->r->tree) != 0)
            rc = floe_error_set(err, FLOE_E_CHECKSUM,
                                "archive %s: the parts combine to tree hash %s, the inventory "
                                "says %s: the upload is aborted",
                                s->r->id, th, s->r->tree);
    }
    if (!rc) {
        struct floe_s3_completed_part *parts = floe_xcalloc(s->nparts, sizeof(*parts));
        for (uint64_t i = 0; i < s->nparts; i++)
            parts[i] = (struct floe_s3_completed_part){(uint32_t)(i + 1), s->etags[i], s->sums[i]};
        rc = floe_s3_complete_multipart(s->m->s3, s->m->bucket, s->key, s->upload_id, parts,
                                        (size_t)s->nparts, NULL, err);
        free(parts);
    }
    if (!rc) {
        uint8_t sha[32];
        floe_sha256_final(&s->lin, sha);
        floe_treehash_hex(sha, s->sha_hex);
        floe_mcat_set_upload(s->cat, s->r->ord, "", NULL);
        unlink(s->jpath);
    } else if (s->upload_id[0] && (rc == FLOE_E_CHECKSUM || rc == FLOE_E_RANGE ||
                                   (rc == FLOE_E_NOT_FOUND && err->http_status == 404))) {
        drop_upload(s, s->upload_id); /* the archive fails or gets a new job */
    }
    return rc;
}

/* One chunk: the archive's verified bytes go up as one PutObject, exactly as a batch's small
 * archive does (floe_ms3_put_many: the same metadata, checksum check and resends). */
static int single(struct stream *s, struct floe_error *err)
{
    int rc = pump(s, 0, err);
    if (rc)
        return rc;
    if (s->r->tree[0]) { /* the whole archive's tree hash (its ranges were checked alone) */
        char th[65];
        floe_treehash_hex(s->trees[0], th);
        if (strcmp(th, s->r->tree) != 0)
            return floe_error_set(err, FLOE_E_CHECKSUM,
                                  "archive %s: its bytes hash to tree hash %s, the inventory "
                                  "says %s: not copied",
                                  s->r->id, th, s->r->tree);
    }
    struct floe_ms3_item it = {.r = s->r, .description = s->description, .data = s->slots[0].buf};
    memcpy(it.sha256, s->sha, sizeof(it.sha256));
    floe_ms3_put_many(s->m, &it, 1);
    if (it.status) {
        *err = it.err;
        return it.status;
    }
    s->st->parts_sent++;
    return FLOE_OK;
}

int floe_ms3_stream(struct floe_ms3 *m, struct floe_mcat *cat, const struct floe_mcat_row *r,
                    const struct floe_ms3_source *src, const char *description, char sha256[65],
                    struct floe_ms3_stats *st, struct floe_error *err)
{
    struct stream *s = floe_xcalloc(1, sizeof(*s));
    s->m = m;
    s->cat = cat;
    s->r = r;
    s->src = src;
    s->st = st;
    memset(st, 0, sizeof(*st));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    key_of(m, r->name, s->key, sizeof(s->key));
    snprintf(s->jpath, sizeof(s->jpath), "%s/%" PRId64 ".parts", src->journal_dir, r->ord);
    s->description = description;
    object_attrs(m, r, description, NULL, s->desc, s->meta, &s->po);
    /* power of two chunks from the configured size, doubled until the parts fit */
    s->chunk = m->chunk;
    while ((r->size + s->chunk - 1) / s->chunk > FLOE_S3_MAX_PARTS)
        s->chunk *= 2;
    s->nparts = r->size <= s->chunk ? 1 : (r->size + s->chunk - 1) / s->chunk;
    s->seg = s->chunk < SEG_BYTES ? s->chunk : SEG_BYTES;
    s->segs_per_chunk = (unsigned)(s->chunk / s->seg);
    uint64_t nslots = MEMORY_BYTES / s->chunk, nsegs = (r->size + s->seg - 1) / s->seg;
    if (nslots < MIN_SLOTS)
        nslots = MIN_SLOTS;
    if (nslots > s->nparts)
        nslots = s->nparts;
    s->nslots = (unsigned)nslots;
    /* --concurrency N: N ranges at once; else adaptive within what the slots hold (all but
     * the one being sent), from where the last archive of a latency-bound link got to */
    uint64_t max = (nslots > 1 ? nslots - 1 : 1) * s->segs_per_chunk;
    if (max > ADAPT_MAX)
        max = ADAPT_MAX;
    if (max > nsegs)
        max = nsegs ? nsegs : 1;
    s->fixed = m->concurrency;
    floe_adapt_init(&s->adapt, m->adapt_next ? m->adapt_next : ADAPT_START, (unsigned)max,
                    floe_adapt_now_ns());
    floe_adapt_gate_init(&s->gate);
    s->adapt.no_growth = true; /* until the fetches are measured as latency-bound */
    int rc = floe_s3_key_valid(s->key, err);
    if (!rc) {
        s->slots = floe_xcalloc(s->nslots, sizeof(*s->slots));
        uint64_t nl = floe_treehash_leaf_count(s->chunk);
        for (unsigned i = 0; i < s->nslots; i++) {
            struct slot *sl = &s->slots[i];
            sl->chunk = NO_CHUNK;
            sl->state = floe_xcalloc(s->segs_per_chunk, 1);
            sl->tries = floe_xcalloc(s->segs_per_chunk, 1);
            sl->leaves = floe_xcalloc(nl ? nl : 1, FLOE_HASH_BYTES);
        }
        s->trees = floe_xcalloc(s->nparts, FLOE_HASH_BYTES);
        s->etags = floe_xcalloc(s->nparts, FLOE_S3_ETAG_MAX);
        s->sums = floe_xcalloc(s->nparts, FLOE_S3_CHECKSUM_MAX);
        rc = s->nparts == 1 ? single(s, err) : multipart(s, err);
        if (!s->fixed && nsegs > 1) /* the next archive starts where a far link got to */
            m->adapt_next = floe_adapt_gate_bound(&s->gate) ? floe_adapt_limit(&s->adapt) : 0;
    }
    if (!rc)
        snprintf(sha256, 65, "%s", s->sha_hex);
    for (unsigned i = 0; s->slots && i < s->nslots; i++) { /* the buffers stay in the pool */
        free(s->slots[i].state);
        free(s->slots[i].tries);
        free(s->slots[i].leaves);
    }
    free(s->slots);
    free(s->trees);
    free(s->etags);
    free(s->sums);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return rc;
}

void floe_ms3_abort_recorded(struct floe_ms3 *m, struct floe_mcat *cat,
                             const struct floe_mcat_row *r, const char *journal_dir)
{
    char id[FLOE_S3_UPLOAD_ID_MAX], key[2048], jpath[4200];
    snprintf(jpath, sizeof(jpath), "%s/%" PRId64 ".parts", journal_dir, r->ord);
    unlink(jpath);
    if (!floe_mcat_get_upload(cat, r->ord, id, sizeof(id)) || !id[0])
        return;
    key_of(m, r->name, key, sizeof(key));
    floe_s3_abort_multipart(m->s3, m->bucket, key, id, NULL);
    floe_mcat_set_upload(cat, r->ord, "", NULL);
}
