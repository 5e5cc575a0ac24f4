/*
 * ms3.c - see ms3.h. A chunk is fetched (one ranged GetJobOutput into a buffer), hashed in one
 * pass (floe_treehash_part: its tree hash for the check, its SHA-256 for the part) and handed
 * to the S3 client's transfer thread as UploadPart while the calling thread fetches the next
 * chunk into the other buffer: memory is two chunks, and fetching overlaps sending.
 */
#include "ms3.h"

#include "alloc.h"
#include "client_impl.h"
#include "credentials.h"
#include "floe/retrieve.h"
#include "floe/s3part.h"
#include "floe/treehash.h"
#include "mfetch.h"
#include "sha256.h"

#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct floe_ms3 {
    struct floe_s3 *s3;
    char bucket[64];
    char prefix[1024];
    const char *storage_class;
    uint64_t chunk;
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

int floe_ms3_present(struct floe_ms3 *m, const struct floe_mcat_row *r, char sha256[65],
                     struct floe_error *err)
{
    char key[2048];
    key_of(m, r->name, key, sizeof(key));
    struct floe_s3_object_info info = {0};
    int rc = floe_s3_head_object(m->s3, m->bucket, key, &info, err);
    if (rc)
        return rc;
    const char *id = floe_s3_object_meta(&info, "glacier-archive-id");
    const char *tree = floe_s3_object_meta(&info, "glacier-tree-hash");
    const char *sha = floe_s3_object_meta(&info, "sha256");
    if (id && tree && strcmp(id, r->id) == 0 && strcmp(tree, r->tree) == 0 &&
        info.size == r->size) {
        snprintf(sha256, 65, "%s", sha ? sha : "");
        rc = FLOE_OK;
    } else {
        rc = floe_error_set(err, FLOE_E_SOURCE_CHANGED,
                            "s3://%s/%s exists and is not this archive (its metadata names "
                            "another archive or tree hash): move it away and run again",
                            m->bucket, key);
    }
    floe_s3_object_info_cleanup(&info);
    return rc;
}

/* ---- streaming: job output -> verified chunk -> UploadPart ---- */

#define SLOTS 2 /* chunks in memory: one being fetched while the other is sent */

struct stream {
    struct floe_ms3 *m;
    struct floe_mcat *cat;
    const struct floe_mcat_row *r;
    const struct floe_ms3_source *src;
    struct floe_ms3_stats *st;
    char key[2048];
    char desc[1100];
    char sha_hex[65];
    struct floe_s3_meta meta[5];
    struct floe_s3_put_opts po;
    uint64_t chunk, nparts;
    uint8_t *buf[SLOTS];
    struct floe_s3_part part[SLOTS];
    struct floe_sha256 after[SLOTS]; /* the running SHA-256 after each slot's part */
    bool busy[SLOTS], pending[SLOTS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char upload_id[FLOE_S3_UPLOAD_ID_MAX];
    char jpath[4200];
    /* per part */
    uint8_t (*trees)[FLOE_HASH_BYTES];
    char (*etags)[FLOE_S3_ETAG_MAX];
    char (*sums)[FLOE_S3_CHECKSUM_MAX];
    struct floe_sha256 lin; /* the archive's SHA-256 over the parts sent so far, in order */
};

static uint64_t part_len(const struct stream *s, uint64_t i)
{
    uint64_t off = i * s->chunk, left = s->r->size - off;
    return left < s->chunk ? left : s->chunk;
}

/* Chunk i into buf, its tree hash matching the service's (and, for the whole archive, the
 * inventory's): fetched again on a mismatch, FLOE_RETRIEVE_MAX_FETCHES times in all. */
static int fetch_verified(struct stream *s, uint64_t i, uint8_t *buf, uint8_t tree[32],
                          uint8_t sha[32], struct floe_error *err)
{
    struct floe_mfetch f = {.job_id = s->src->job_id,
                            .off = i * s->chunk,
                            .len = part_len(s, i),
                            .whole = s->nparts == 1,
                            .buf = buf};
    for (int a = 1;; a++) {
        char got[65];
        if (floe_mfetch_run(s->src->client, s->src->vault, &f, 1)) {
            *err = f.err;
            return f.status;
        }
        floe_treehash_hex(f.tree, got);
        const char *want = NULL;
        if (f.service_tree[0] && strcasecmp(f.service_tree, got) != 0)
            want = f.service_tree;
        else if (f.len == s->r->size && s->r->tree[0] && strcmp(got, s->r->tree) != 0)
            want = s->r->tree;
        if (!want) {
            memcpy(tree, f.tree, 32);
            memcpy(sha, f.sha256, 32);
            return FLOE_OK;
        }
        if (a >= FLOE_RETRIEVE_MAX_FETCHES)
            return floe_error_set(err, FLOE_E_CHECKSUM,
                                  "archive %s: bytes %" PRIu64 "-%" PRIu64
                                  " did not match their tree hash in %d fetches (expected %s, "
                                  "the bytes received hash to %s): not copied",
                                  s->r->id, f.off, f.off + (f.len ? f.len - 1 : 0), a, want, got);
        s->st->refetches++;
    }
}

static void part_done(struct floe_s3_part *p)
{
    struct stream *s = p->user;
    pthread_mutex_lock(&s->mu);
    s->busy[p == &s->part[1]] = false;
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

/* Waits for the part in slot b (if any) and records it. */
static int wait_part(struct stream *s, int b, struct floe_error *err)
{
    pthread_mutex_lock(&s->mu);
    while (s->busy[b])
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (!s->pending[b])
        return FLOE_OK;
    s->pending[b] = false;
    struct floe_s3_part *p = &s->part[b];
    uint64_t i = p->part_number - 1, off = i * s->chunk;
    if (p->status) {
        *err = p->err;
        /* an upload that is gone: the run stops; the next one starts a new upload */
        return p->status == FLOE_E_NOT_FOUND ? (err->status = FLOE_E_SERVICE) : p->status;
    }
    if (p->checksum_sha256[0] && strcmp(p->checksum_sha256, s->sums[i]) != 0)
        return floe_error_set(err, FLOE_E_CHECKSUM,
                              "archive %s: S3 stored checksum %s for part %" PRIu64
                              " (bytes %" PRIu64 "-%" PRIu64 "), the bytes sent have %s",
                              s->r->id, p->checksum_sha256, i + 1, off, off + p->len - 1,
                              s->sums[i]);
    snprintf(s->etags[i], FLOE_S3_ETAG_MAX, "%s", p->etag);
    s->st->parts_sent++;
    char line[1024];
    journal_line(s, i, &s->after[b], line, sizeof(line));
    return journal_write(s, line, false, err);
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

/* Waits for every part in flight, oldest first; keeps the first failure in rc. */
static int drain(struct stream *s, int rc, struct floe_error *err)
{
    int order[SLOTS] = {0, 1};
    if (s->pending[0] && s->pending[1] && s->part[1].part_number < s->part[0].part_number)
        order[0] = 1, order[1] = 0;
    for (int j = 0; j < SLOTS; j++) {
        struct floe_error e = {0};
        int w = wait_part(s, order[j], &e);
        if (w && !rc) {
            rc = w;
            *err = e;
        }
    }
    return rc;
}

static int send_parts(struct stream *s, uint64_t first, struct floe_error *err)
{
    int rc = FLOE_OK;
    for (uint64_t i = first; !rc && i < s->nparts; i++) {
        int b = (int)(i & 1);
        if ((rc = wait_part(s, b, err)))
            break;
        if (s->src->cancel && atomic_load(s->src->cancel)) {
            rc = floe_error_set(err, FLOE_E_CANCELLED, "interrupted");
            break;
        }
        uint8_t sha[32];
        if ((rc = fetch_verified(s, i, s->buf[b], s->trees[i], sha, err)))
            break;
        size_t n = (size_t)part_len(s, i);
        floe_sha256_update(&s->lin, s->buf[b], n);
        s->after[b] = s->lin;
        b64(sha, s->sums[i]);
        s->part[b] = (struct floe_s3_part){.bucket = s->m->bucket,
                                           .key = s->key,
                                           .upload_id = s->upload_id,
                                           .part_number = (uint32_t)(i + 1),
                                           .len = n,
                                           .data = s->buf[b],
                                           .last = i + 1 == s->nparts,
                                           .done = part_done,
                                           .user = s};
        memcpy(s->part[b].sha256, sha, 32);
        s->busy[b] = s->pending[b] = true;
        if ((rc = floe_s3_upload_part_submit(s->m->s3, &s->part[b], err)))
            s->busy[b] = s->pending[b] = false;
    }
    return drain(s, rc, err);
}

static int multipart(struct stream *s, struct floe_error *err)
{
    uint64_t first = 0;
    int rc = resume(s, &first, err);
    if (!rc && !s->upload_id[0])
        rc = start_upload(s, err);
    if (!rc)
        rc = send_parts(s, first, err);
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

static int single(struct stream *s, struct floe_error *err)
{
    uint8_t tree[32], sha[32];
    char ours[FLOE_S3_CHECKSUM_MAX];
    int rc = fetch_verified(s, 0, s->buf[0], tree, sha, err);
    if (rc)
        return rc;
    floe_treehash_hex(sha, s->sha_hex);
    s->meta[s->po.nmeta++] = (struct floe_s3_meta){"sha256", s->sha_hex};
    struct floe_s3_put_result pr;
    if ((rc = floe_s3_put_object(s->m->s3, s->m->bucket, s->key, s->buf[0], (size_t)s->r->size,
                                 &s->po, &pr, err)))
        return rc == FLOE_E_NOT_FOUND ? (err->status = FLOE_E_SERVICE) : rc;
    b64(sha, ours);
    if (pr.checksum_sha256[0] && strcmp(pr.checksum_sha256, ours) != 0)
        return floe_error_set(err, FLOE_E_CHECKSUM,
                              "archive %s: S3 stored checksum %s, the bytes sent have %s", s->r->id,
                              pr.checksum_sha256, ours);
    s->st->parts_sent++;
    return FLOE_OK;
}

/* Metadata values are printable US-ASCII; anything else becomes '?'. */
static void printable(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[o] = '\0';
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
    printable(description, s->desc, sizeof(s->desc));
    s->meta[0] = (struct floe_s3_meta){"glacier-archive-id", r->id};
    s->meta[1] = (struct floe_s3_meta){"glacier-tree-hash", r->tree};
    s->meta[2] = (struct floe_s3_meta){"glacier-creation-date", r->created};
    s->meta[3] = (struct floe_s3_meta){"glacier-description", s->desc};
    s->po = (struct floe_s3_put_opts){
        .storage_class = m->storage_class, .meta = s->meta, .nmeta = 4, .checksum_sha256 = true};
    /* power of two chunks from the configured size, doubled until the parts fit */
    s->chunk = m->chunk;
    while ((r->size + s->chunk - 1) / s->chunk > FLOE_S3_MAX_PARTS)
        s->chunk *= 2;
    s->nparts = r->size <= s->chunk ? 1 : (r->size + s->chunk - 1) / s->chunk;
    int rc = floe_s3_key_valid(s->key, err);
    if (!rc) {
        size_t n = (size_t)(r->size < s->chunk ? r->size : s->chunk);
        for (int b = 0; b < (s->nparts > 1 ? SLOTS : 1); b++)
            s->buf[b] = floe_xmalloc(n ? n : 1);
        s->trees = floe_xcalloc(s->nparts, FLOE_HASH_BYTES);
        s->etags = floe_xcalloc(s->nparts, FLOE_S3_ETAG_MAX);
        s->sums = floe_xcalloc(s->nparts, FLOE_S3_CHECKSUM_MAX);
        rc = s->nparts == 1 ? single(s, err) : multipart(s, err);
    }
    if (!rc)
        snprintf(sha256, 65, "%s", s->sha_hex);
    for (int b = 0; b < SLOTS; b++)
        free(s->buf[b]);
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
