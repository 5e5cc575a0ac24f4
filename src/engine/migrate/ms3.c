/*
 * ms3.c - see ms3.h. Parts go up one at a time from a chunk buffer read from the staged file:
 * memory is one chunk; the chunk's tree hash and SHA-256 come from one pass over it
 * (floe_treehash_part).
 */
#include "ms3.h"

#include "alloc.h"
#include "client_impl.h"
#include "credentials.h"
#include "floe/s3part.h"
#include "floe/treehash.h"

#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void hex(const uint8_t *h, char out[65])
{
    for (int i = 0; i < FLOE_HASH_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
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

/* Reads [off, off+n) of the staged file into buf. */
static int read_at(int fd, const char *path, uint64_t off, uint8_t *buf, size_t n,
                   struct floe_error *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (k <= 0)
            return floe_error_set_errno(err, FLOE_E_IO, k < 0 ? errno : EIO, path,
                                        "cannot read the staged archive %s", path);
        got += (size_t)k;
    }
    return FLOE_OK;
}

struct upload {
    struct floe_ms3 *m;
    const struct floe_mcat_row *r;
    char key[2048];
    struct floe_s3_meta meta[5];
    char desc[1100];
    struct floe_s3_put_opts po;
    int fd;
    const char *path;
    uint8_t *buf;
    uint8_t (*leaves)[FLOE_HASH_BYTES];
};

/* Hashes a chunk in buf: tree and SHA-256. */
static void hash_chunk(struct upload *u, size_t n, uint8_t tree[32], uint8_t sha[32])
{
    floe_treehash_part(u->buf, n, u->leaves, tree, sha);
}

static int put_single(struct upload *u, struct floe_error *err)
{
    size_t n = (size_t)u->r->size;
    uint8_t tree[32], sha[32];
    char th[65], ours[FLOE_S3_CHECKSUM_MAX];
    int rc = read_at(u->fd, u->path, 0, u->buf, n, err);
    if (rc)
        return rc;
    hash_chunk(u, n, tree, sha);
    hex(tree, th);
    if (u->r->tree[0] && strcmp(th, u->r->tree) != 0)
        return floe_error_set(err, FLOE_E_CHECKSUM,
                              "archive %s: the staged bytes hash to %s, the inventory says %s: "
                              "not uploaded",
                              u->r->id, th, u->r->tree);
    struct floe_s3_put_result pr;
    if ((rc = floe_s3_put_object(u->m->s3, u->m->bucket, u->key, u->buf, n, &u->po, &pr, err)))
        return rc;
    b64(sha, ours);
    if (pr.checksum_sha256[0] && strcmp(pr.checksum_sha256, ours) != 0)
        return floe_error_set(err, FLOE_E_CHECKSUM,
                              "archive %s: S3 stored checksum %s, the bytes sent have %s", u->r->id,
                              pr.checksum_sha256, ours);
    return FLOE_OK;
}

static int put_multipart(struct upload *u, struct floe_mcat *cat, uint64_t chunk,
                         struct floe_error *err)
{
    char upload_id[FLOE_S3_UPLOAD_ID_MAX];
    int rc = floe_s3_create_multipart(u->m->s3, u->m->bucket, u->key, &u->po, upload_id, err);
    if (rc)
        return rc;
    if ((rc = floe_mcat_set_upload(cat, u->r->ord, upload_id, err)))
        return rc;
    uint64_t size = u->r->size, nparts = (size + chunk - 1) / chunk;
    struct floe_s3_completed_part *parts = floe_xcalloc(nparts, sizeof(*parts));
    char(*etags)[FLOE_S3_ETAG_MAX] = floe_xcalloc(nparts, FLOE_S3_ETAG_MAX);
    char(*sums)[FLOE_S3_CHECKSUM_MAX] = floe_xcalloc(nparts, FLOE_S3_CHECKSUM_MAX);
    uint8_t(*trees)[FLOE_HASH_BYTES] = floe_xcalloc(nparts, FLOE_HASH_BYTES);
    for (uint64_t i = 0; !rc && i < nparts; i++) {
        uint64_t off = i * chunk;
        size_t n = (size_t)(size - off < chunk ? size - off : chunk);
        uint8_t sha[32];
        if ((rc = read_at(u->fd, u->path, off, u->buf, n, err)))
            break;
        hash_chunk(u, n, trees[i], sha);
        struct floe_s3_part p = {.bucket = u->m->bucket,
                                 .key = u->key,
                                 .upload_id = upload_id,
                                 .part_number = (uint32_t)(i + 1),
                                 .len = n,
                                 .data = u->buf,
                                 .last = i + 1 == nparts};
        memcpy(p.sha256, sha, 32);
        if ((rc = floe_s3_upload_part(u->m->s3, &p, err)))
            break;
        b64(sha, sums[i]);
        if (p.checksum_sha256[0] && strcmp(p.checksum_sha256, sums[i]) != 0)
            rc = floe_error_set(err, FLOE_E_CHECKSUM,
                                "archive %s: S3 stored checksum %s for part %" PRIu64
                                " (bytes %" PRIu64 "-%" PRIu64 "), the bytes sent have %s",
                                u->r->id, p.checksum_sha256, i + 1, off, off + n - 1, sums[i]);
        snprintf(etags[i], FLOE_S3_ETAG_MAX, "%s", p.etag);
        parts[i] = (struct floe_s3_completed_part){(uint32_t)(i + 1), etags[i], sums[i]};
    }
    if (!rc) { /* the archive's tree hash, before the object can exist */
        uint8_t whole[32];
        char th[65];
        floe_treehash_combine((const uint8_t(*)[FLOE_HASH_BYTES])trees, (size_t)nparts, whole);
        hex(whole, th);
        if (u->r->tree[0] && strcmp(th, u->r->tree) != 0)
            rc = floe_error_set(err, FLOE_E_CHECKSUM,
                                "archive %s: the parts combine to tree hash %s, the inventory "
                                "says %s: the upload is aborted",
                                u->r->id, th, u->r->tree);
    }
    struct floe_s3_put_result pr;
    if (!rc)
        rc = floe_s3_complete_multipart(u->m->s3, u->m->bucket, u->key, upload_id, parts,
                                        (size_t)nparts, &pr, err);
    if (rc)
        floe_s3_abort_multipart(u->m->s3, u->m->bucket, u->key, upload_id, NULL);
    floe_mcat_set_upload(cat, u->r->ord, "", rc ? NULL : err);
    free(parts);
    free(etags);
    free(sums);
    free(trees);
    return rc;
}

/* Metadata values are printable US-ASCII; anything else becomes '?'. */
static void printable(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[o] = '\0';
}

int floe_ms3_upload(struct floe_ms3 *m, struct floe_mcat *cat, const struct floe_mcat_row *r,
                    const char *path, const char *description, const char *sha256,
                    struct floe_error *err)
{
    struct upload *u = floe_xcalloc(1, sizeof(*u));
    u->m = m;
    u->r = r;
    u->path = path;
    key_of(m, r->name, u->key, sizeof(u->key));
    printable(description, u->desc, sizeof(u->desc));
    u->meta[0] = (struct floe_s3_meta){"glacier-archive-id", r->id};
    u->meta[1] = (struct floe_s3_meta){"glacier-tree-hash", r->tree};
    u->meta[2] = (struct floe_s3_meta){"sha256", sha256};
    u->meta[3] = (struct floe_s3_meta){"glacier-creation-date", r->created};
    u->meta[4] = (struct floe_s3_meta){"glacier-description", u->desc};
    u->po = (struct floe_s3_put_opts){
        .storage_class = m->storage_class, .meta = u->meta, .nmeta = 5, .checksum_sha256 = true};
    /* power of two chunks from the configured size, doubled until the parts fit */
    uint64_t chunk = m->chunk;
    while ((r->size + chunk - 1) / chunk > FLOE_S3_MAX_PARTS)
        chunk *= 2;
    int rc = floe_s3_key_valid(u->key, err);
    u->fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (!rc && u->fd < 0)
        rc = floe_error_set_errno(err, FLOE_E_IO, errno, path, "cannot open %s", path);
    if (!rc) {
        size_t n = (size_t)(r->size < chunk ? r->size : chunk);
        u->buf = floe_xmalloc(n ? n : 1);
        u->leaves = floe_xcalloc(floe_treehash_leaf_count(n) + 1, FLOE_HASH_BYTES);
        rc = r->size <= chunk ? put_single(u, err) : put_multipart(u, cat, chunk, err);
    }
    if (u->fd >= 0)
        close(u->fd);
    free(u->buf);
    free(u->leaves);
    free(u);
    return rc;
}

void floe_ms3_abort_recorded(struct floe_ms3 *m, struct floe_mcat *cat,
                             const struct floe_mcat_row *r)
{
    char id[FLOE_S3_UPLOAD_ID_MAX], key[2048];
    if (!floe_mcat_get_upload(cat, r->ord, id, sizeof(id)) || !id[0])
        return;
    key_of(m, r->name, key, sizeof(key));
    floe_s3_abort_multipart(m->s3, m->bucket, key, id, NULL);
    floe_mcat_set_upload(cat, r->ord, "", NULL);
}
