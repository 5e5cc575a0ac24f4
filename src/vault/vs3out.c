/*
 * vs3out.c - select output to S3 or to a directory (see vs3out.h).
 *
 * The S3 side is libfloe's S3 client (include/floe/s3.h): PutObject for an object that fits in
 * one 8 MiB buffer, else CreateMultipartUpload at the first full buffer, one UploadPart per
 * buffer and CompleteMultipartUpload at the end (AbortMultipartUpload when the job fails).
 * The requests retry as every libfloe request does, but an endpoint never reached is given
 * up on in seconds, and a failing one after SELECT_RETRY_MS, so a job fails with the S3
 * error rather than hanging. Glacier's OutputLocation.S3 maps to S3 headers as follows:
 * StorageClass x-amz-storage-class, UserMetadata x-amz-meta-*, Tagging x-amz-tagging,
 * CannedACL x-amz-acl, AccessControlList x-amz-grant-{full-control,read,read-acp,write-acp}
 * (grantee id="..", emailAddress="..", uri=".."), Encryption x-amz-server-side-encryption
 * (+ -aws-kms-key-id, -context).
 */
#include "vs3out.h"

#include "alloc.h"
#include "dirsync.h"
#include "sha256.h"
#include "vconfig.h"

#include "floe/credentials.h"
#include "floe/s3.h"
#include "floe/s3part.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PART ((size_t)8 << 20)
#define SELECT_RETRY_MS 60000
#define MAX_TAGS 10

struct floe_vs3out {
    struct floe_s3 *s3; /* S3, or NULL for the directory sink */
    char *dir;
    char desc[600];
};

enum { G_FULL, G_READ, G_READ_ACP, G_WRITE_ACP, G_COUNT };

struct floe_vs3out_loc {
    json_t *s3; /* a reference: every borrowed string below lives in it */
    const char *bucket;
    struct floe_s3_put_opts opts;
    struct floe_s3_meta meta[64];
    struct floe_s3_tag tags[MAX_TAGS];
    char *grant[G_COUNT];
};

struct floe_vs3out_obj {
    struct floe_vs3out *o;
    const struct floe_vs3out_loc *loc;
    char key[1500];
    /* directory */
    int fd;
    char tmp[4200], path[4096];
    /* S3 */
    char *buf;
    size_t len;
    bool multipart;
    char upload_id[FLOE_S3_UPLOAD_ID_MAX];
    char (*etags)[FLOE_S3_ETAG_MAX];
    uint32_t nparts;
};

/* ---- the S3 error in a message ---- */

static int s3_fail(char *msg, size_t cap, const struct floe_error *err)
{
    if (err->code[0] && !strstr(err->message, err->code))
        snprintf(msg, cap, "S3 error: %s (%s)", err->message, err->code);
    else
        snprintf(msg, cap, "S3 error: %s", err->message);
    return -1;
}

/* ---- setup ---- */

int floe_vs3out_new(const struct floe_vconfig *cfg, struct floe_vs3out **out, char *msg, size_t cap)
{
    *out = NULL;
    if (!cfg->s3_endpoint && !cfg->select_output_dir)
        return 0;
    struct floe_vs3out *o = floe_xcalloc(1, sizeof(*o));
    if (!cfg->s3_endpoint) {
        o->dir = floe_xstrdup(cfg->select_output_dir);
        snprintf(o->desc, sizeof(o->desc), "dir %.500s", o->dir);
        *out = o;
        return 0;
    }
    struct floe_error err = {0};
    struct floe_credentials *creds = NULL;
    struct floe_credentials_options co = {.profile = cfg->s3_profile,
                                          .profile_explicit = cfg->s3_profile != NULL,
                                          .region = cfg->s3_region};
    int rc = floe_credentials_new_chain(&co, &creds, &err);
    if (!rc) {
        struct floe_s3_config sc = {.endpoint_url = cfg->s3_endpoint,
                                    .region = cfg->s3_region,
                                    .credentials = creds,
                                    .max_connections = 16,
                                    .retry_for_ms = SELECT_RETRY_MS};
        rc = floe_s3_new(&sc, &o->s3, &err); /* takes creds over in every case */
    }
    if (rc) {
        snprintf(msg, cap, "--s3-endpoint %s: %s", cfg->s3_endpoint, err.message);
        free(o);
        return -1;
    }
    snprintf(o->desc, sizeof(o->desc), "s3 %.500s", cfg->s3_endpoint);
    *out = o;
    return 0;
}

void floe_vs3out_destroy(struct floe_vs3out *o)
{
    if (!o)
        return;
    floe_s3_destroy(o->s3);
    free(o->dir);
    free(o);
}

const char *floe_vs3out_describe(const struct floe_vs3out *o)
{
    return o ? o->desc : "none";
}

/* ---- OutputLocation.S3 ---- */

static bool one_of(const char *s, const char *const *names)
{
    for (size_t i = 0; s && names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    return false;
}

static bool bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !strchr("abcdefghijklmnopqrstuvwxyz0123456789", b[0]) ||
        !strchr("abcdefghijklmnopqrstuvwxyz0123456789", b[n - 1]))
        return false;
    return strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n && !strstr(b, "..");
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* A string member of obj, or NULL when absent; -1 when present but not a string. */
static int opt_string(json_t *obj, const char *name, const char **out)
{
    json_t *v = json_object_get(obj, name);
    *out = json_string_value(v);
    return v && !json_is_null(v) && !*out ? -1 : 0;
}

static void grant_add(char **g, const char *kind, const char *who)
{
    size_t old = *g ? strlen(*g) : 0, add = strlen(kind) + strlen(who) + 6;
    *g = floe_xrealloc(*g, old + add);
    snprintf(*g + old, add, "%s%s=\"%s\"", old ? ", " : "", kind, who);
}

static int parse_acl(struct floe_vs3out_loc *l, json_t *acl, char *msg, size_t cap)
{
    static const char *const perms[] = {"FULL_CONTROL", "READ", "READ_ACP", "WRITE_ACP", NULL};
    const char *w = "OutputLocation.S3.AccessControlList";
    if (!json_is_array(acl)) {
        snprintf(msg, cap, "%s must be a list of grants", w);
        return -1;
    }
    size_t i;
    json_t *g;
    json_array_foreach(acl, i, g)
    {
        json_t *who = json_object_get(g, "Grantee");
        const char *perm = json_string_value(json_object_get(g, "Permission"));
        const char *type = json_string_value(json_object_get(who, "Type"));
        const char *id = json_string_value(json_object_get(who, "ID"));
        const char *email = json_string_value(json_object_get(who, "EmailAddress"));
        const char *uri = json_string_value(json_object_get(who, "URI"));
        int p = -1;
        for (int k = 0; perm && perms[k]; k++)
            if (strcmp(perm, perms[k]) == 0)
                p = k;
        if (p < 0) {
            snprintf(msg, cap,
                     "%s[%zu].Permission must be FULL_CONTROL, READ, READ_ACP or WRITE_ACP"
                     " (WRITE applies to buckets, not to result objects)",
                     w, i);
            return -1;
        }
        const char *kind = NULL, *val = NULL;
        if (type && strcmp(type, "CanonicalUser") == 0)
            kind = "id", val = id;
        else if (type && strcmp(type, "AmazonCustomerByEmail") == 0)
            kind = "emailAddress", val = email;
        else if (type && strcmp(type, "Group") == 0)
            kind = "uri", val = uri;
        if (!kind || !val || !*val || !printable(val) || strchr(val, '"')) {
            snprintf(msg, cap,
                     "%s[%zu].Grantee needs Type CanonicalUser with ID, AmazonCustomerByEmail"
                     " with EmailAddress, or Group with URI",
                     w, i);
            return -1;
        }
        grant_add(&l->grant[p], kind, val);
    }
    return 0;
}

/* Tagging or UserMetadata: a JSON object of strings. */
static int parse_map(json_t *m, const char *w, bool meta, struct floe_vs3out_loc *l, char *msg,
                     size_t cap)
{
    if (!json_is_object(m)) {
        snprintf(msg, cap, "%s must be a map of strings", w);
        return -1;
    }
    const char *k;
    json_t *v;
    size_t max = meta ? sizeof(l->meta) / sizeof(l->meta[0]) : MAX_TAGS, bytes = 0;
    json_object_foreach(m, k, v)
    {
        const char *s = json_string_value(v);
        size_t n = meta ? l->opts.nmeta : l->opts.ntags;
        if (!s || n == max) {
            snprintf(msg, cap, "%s must be a map of at most %zu strings", w, max);
            return -1;
        }
        if (meta) {
            if (!*k || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(k) ||
                !printable(s)) {
                snprintf(msg, cap,
                         "%s: the name '%s' must be lower-case letters, digits, '-' and '_', and"
                         " its value printable US-ASCII",
                         w, k);
                return -1;
            }
            bytes += strlen(k) + strlen(s);
            l->meta[l->opts.nmeta++] = (struct floe_s3_meta){k, s};
        } else {
            if (!*k || strlen(k) > 128 || strlen(s) > 256) {
                snprintf(msg, cap, "%s: a key must be 1-128 bytes and a value at most 256", w);
                return -1;
            }
            l->tags[l->opts.ntags++] = (struct floe_s3_tag){k, s};
        }
    }
    if (bytes > 2048) {
        snprintf(msg, cap, "%s is %zu bytes (names + values); S3 allows 2 KiB", w, bytes);
        return -1;
    }
    return 0;
}

static int parse_encryption(struct floe_vs3out_loc *l, json_t *enc, char *msg, size_t cap)
{
    static const char *const names[] = {"EncryptionType", "KMSKeyId", "KMSContext", NULL};
    const char *w = "OutputLocation.S3.Encryption";
    const char *k;
    json_t *v;
    if (!json_is_object(enc)) {
        snprintf(msg, cap, "%s must be a JSON object", w);
        return -1;
    }
    json_object_foreach(enc, k, v) if (!one_of(k, names))
    {
        snprintf(msg, cap, "%s has an unknown member %s", w, k);
        return -1;
    }
    const char *et = json_string_value(json_object_get(enc, "EncryptionType"));
    if (!et || (strcmp(et, "AES256") != 0 && strcmp(et, "aws:kms") != 0)) {
        snprintf(msg, cap, "%s.EncryptionType must be AES256 or aws:kms", w);
        return -1;
    }
    if (opt_string(enc, "KMSKeyId", &l->opts.sse_kms_key_id) ||
        opt_string(enc, "KMSContext", &l->opts.sse_kms_context) ||
        (l->opts.sse_kms_key_id && !printable(l->opts.sse_kms_key_id)) ||
        (l->opts.sse_kms_context && !printable(l->opts.sse_kms_context))) {
        snprintf(msg, cap, "%s.KMSKeyId and KMSContext must be printable strings", w);
        return -1;
    }
    if (strcmp(et, "AES256") == 0 && (l->opts.sse_kms_key_id || l->opts.sse_kms_context)) {
        snprintf(msg, cap, "%s: KMSKeyId and KMSContext go with EncryptionType aws:kms only", w);
        return -1;
    }
    l->opts.sse = et;
    return 0;
}

int floe_vs3out_loc_parse(json_t *s3, struct floe_vs3out_loc **out, char *msg, size_t cap)
{
    static const char *const s3_names[] = {
        "BucketName", "Prefix",       "Encryption",   "CannedACL", "AccessControlList",
        "Tagging",    "UserMetadata", "StorageClass", NULL};
    static const char *const acls[] = {"private",
                                       "public-read",
                                       "public-read-write",
                                       "aws-exec-read",
                                       "authenticated-read",
                                       "bucket-owner-read",
                                       "bucket-owner-full-control",
                                       NULL};
    static const char *const classes[] = {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", NULL};
    const char *k;
    json_t *v;
    *out = NULL;
    if (!json_is_object(s3)) {
        snprintf(msg, cap, "OutputLocation.S3 must be a JSON object");
        return -1;
    }
    json_object_foreach(s3, k, v) if (!one_of(k, s3_names))
    {
        snprintf(msg, cap, "OutputLocation.S3 has an unknown member %s", k);
        return -1;
    }
    struct floe_vs3out_loc *l = floe_xcalloc(1, sizeof(*l));
    l->s3 = json_incref(s3);
    l->bucket = json_string_value(json_object_get(s3, "BucketName"));
    const char *prefix = json_string_value(json_object_get(s3, "Prefix"));
    int rc = -1;
    json_t *enc = json_object_get(s3, "Encryption"),
           *acl = json_object_get(s3, "AccessControlList");
    json_t *tags = json_object_get(s3, "Tagging"), *meta = json_object_get(s3, "UserMetadata");
    if (!l->bucket || !bucket_name_ok(l->bucket))
        snprintf(msg, cap, "OutputLocation.S3.BucketName %s%s%s is not a valid bucket name",
                 l->bucket ? "'" : "", l->bucket ? l->bucket : "(missing)", l->bucket ? "'" : "");
    else if (!prefix || strlen(prefix) > 512)
        snprintf(msg, cap, "OutputLocation.S3.Prefix must be a string of at most 512 bytes");
    else if (opt_string(s3, "CannedACL", &l->opts.canned_acl) ||
             (l->opts.canned_acl && !one_of(l->opts.canned_acl, acls)))
        snprintf(msg, cap, "OutputLocation.S3.CannedACL %s is not a canned ACL",
                 l->opts.canned_acl ? l->opts.canned_acl : "(not a string)");
    else if (opt_string(s3, "StorageClass", &l->opts.storage_class) ||
             (l->opts.storage_class && !one_of(l->opts.storage_class, classes)))
        snprintf(msg, cap,
                 "OutputLocation.S3.StorageClass must be STANDARD, REDUCED_REDUNDANCY or"
                 " STANDARD_IA");
    else if (l->opts.canned_acl && acl && !json_is_null(acl))
        snprintf(msg, cap,
                 "OutputLocation.S3: CannedACL and AccessControlList cannot both be given");
    else if (enc && !json_is_null(enc) && parse_encryption(l, enc, msg, cap))
        ;
    else if (acl && !json_is_null(acl) && parse_acl(l, acl, msg, cap))
        ;
    else if (tags && !json_is_null(tags) &&
             parse_map(tags, "OutputLocation.S3.Tagging", false, l, msg, cap))
        ;
    else if (meta && !json_is_null(meta) &&
             parse_map(meta, "OutputLocation.S3.UserMetadata", true, l, msg, cap))
        ;
    else
        rc = 0;
    if (rc) {
        floe_vs3out_loc_free(l);
        return -1;
    }
    l->opts.meta = l->meta;
    l->opts.tags = l->tags;
    l->opts.grant_full_control = l->grant[G_FULL];
    l->opts.grant_read = l->grant[G_READ];
    l->opts.grant_read_acp = l->grant[G_READ_ACP];
    l->opts.grant_write_acp = l->grant[G_WRITE_ACP];
    l->opts.content_type = "text/plain";
    *out = l;
    return 0;
}

void floe_vs3out_loc_free(struct floe_vs3out_loc *l)
{
    if (!l)
        return;
    for (int i = 0; i < G_COUNT; i++)
        free(l->grant[i]);
    json_decref(l->s3);
    free(l);
}

const char *floe_vs3out_loc_bucket(const struct floe_vs3out_loc *l)
{
    return l->bucket;
}

/* A prefix that stays inside the bucket directory: no "." or ".." segment, no leading '/'. */
static bool prefix_safe(const char *p)
{
    if (p[0] == '/')
        return false;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n;
        if (*s)
            s++;
    }
    return true;
}

int floe_vs3out_check(struct floe_vs3out *o, const struct floe_vs3out_loc *loc, const char *prefix,
                      char *msg, size_t cap)
{
    if (o->s3) {
        struct floe_error err = {0};
        int rc = floe_s3_head_bucket(o->s3, loc->bucket, &err);
        if (rc == FLOE_E_NOT_FOUND) {
            snprintf(msg, cap, "OutputLocation.S3.BucketName: the bucket %s does not exist",
                     loc->bucket);
            return -1;
        }
        if (rc == FLOE_E_AUTH) {
            snprintf(msg, cap,
                     "OutputLocation.S3.BucketName: floe-vault's S3 credentials may not use the"
                     " bucket %s (%s)",
                     loc->bucket, err.message);
            return -1;
        }
        return 0; /* anything else: the job fails with it when it runs */
    }
    if (!prefix_safe(prefix)) {
        snprintf(msg, cap,
                 "OutputLocation.S3.Prefix '%s' has a '.' or '..' segment or a leading"
                 " '/' (refused with --select-output-dir)",
                 prefix);
        return -1;
    }
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", o->dir, loc->bucket);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, cap, "OutputLocation.S3.BucketName: the bucket %s does not exist",
                 loc->bucket);
        return -1;
    }
    return 0;
}

/* ---- objects ---- */

/* mkdir -p of the directory part of path. */
/* mkdir -p of path's directories; each one created is made durable in its parent. */
static int make_parents(const char *path)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) == 0) {
            if (floe_dir_sync_parent(p, NULL) != FLOE_OK)
                return -1;
        } else if (errno != EEXIST) {
            return -1;
        }
        *s = '/';
    }
    return 0;
}

static int file_fail(struct floe_vs3out_obj *obj, char *msg, size_t cap)
{
    snprintf(msg, cap, "cannot write s3://%.63s/%.1200s: %s", obj->loc->bucket, obj->key,
             strerror(errno));
    return -1;
}

struct floe_vs3out_obj *floe_vs3out_open(struct floe_vs3out *o, const struct floe_vs3out_loc *loc,
                                         const char *key)
{
    struct floe_vs3out_obj *obj = floe_xcalloc(1, sizeof(*obj));
    obj->o = o;
    obj->loc = loc;
    obj->fd = -1;
    snprintf(obj->key, sizeof(obj->key), "%s", key);
    return obj;
}

/* Send the buffer as the next part (a multipart upload begun if need be). */
static int send_part(struct floe_vs3out_obj *obj, bool last, char *msg, size_t cap)
{
    struct floe_error err = {0};
    struct floe_s3 *s3 = obj->o->s3;
    if (!obj->multipart) {
        if (floe_s3_create_multipart(s3, obj->loc->bucket, obj->key, &obj->loc->opts,
                                     obj->upload_id, &err))
            return s3_fail(msg, cap, &err);
        obj->multipart = true;
    }
    struct floe_s3_part p = {.bucket = obj->loc->bucket,
                             .key = obj->key,
                             .upload_id = obj->upload_id,
                             .part_number = obj->nparts + 1,
                             .len = obj->len,
                             .data = obj->buf,
                             .last = last};
    floe_sha256(obj->buf, obj->len, p.sha256);
    if (floe_s3_upload_part(s3, &p, &err))
        return s3_fail(msg, cap, &err);
    obj->etags = floe_xrealloc(obj->etags, (obj->nparts + 1) * sizeof(*obj->etags));
    memcpy(obj->etags[obj->nparts++], p.etag, FLOE_S3_ETAG_MAX);
    obj->len = 0;
    return 0;
}

int floe_vs3out_write(struct floe_vs3out_obj *obj, const char *data, size_t len, char *msg,
                      size_t cap)
{
    if (!obj->o->s3) {
        if (obj->fd < 0) {
            snprintf(obj->path, sizeof(obj->path), "%s/%s/%s", obj->o->dir, obj->loc->bucket,
                     obj->key);
            snprintf(obj->tmp, sizeof(obj->tmp), "%.4090s.part", obj->path);
            if (make_parents(obj->path) != 0 ||
                (obj->fd = open(obj->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
                return file_fail(obj, msg, cap);
        }
        while (len) {
            ssize_t k = write(obj->fd, data, len);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                return file_fail(obj, msg, cap);
            data += k;
            len -= (size_t)k;
        }
        return 0;
    }
    if (!obj->buf)
        obj->buf = floe_xmalloc(PART);
    while (len) {
        size_t n = PART - obj->len < len ? PART - obj->len : len;
        memcpy(obj->buf + obj->len, data, n);
        obj->len += n;
        data += n;
        len -= n;
        if (obj->len == PART && send_part(obj, false, msg, cap))
            return -1;
    }
    return 0;
}

static int close_s3(struct floe_vs3out_obj *obj, bool keep, char *msg, size_t cap)
{
    struct floe_error err = {0};
    struct floe_s3 *s3 = obj->o->s3;
    const char *b = obj->loc->bucket;
    if (!keep) {
        if (obj->multipart)
            floe_s3_abort_multipart(s3, b, obj->key, obj->upload_id, &err);
        return 0;
    }
    if (!obj->multipart) {
        if (floe_s3_put_object(s3, b, obj->key, obj->buf, obj->len, &obj->loc->opts, NULL, &err))
            return s3_fail(msg, cap, &err);
        return 0;
    }
    if (obj->len && send_part(obj, true, msg, cap)) {
        floe_s3_abort_multipart(s3, b, obj->key, obj->upload_id, &err);
        return -1;
    }
    struct floe_s3_completed_part *parts = floe_xcalloc(obj->nparts, sizeof(*parts));
    for (uint32_t i = 0; i < obj->nparts; i++)
        parts[i] = (struct floe_s3_completed_part){i + 1, obj->etags[i], NULL};
    int rc =
        floe_s3_complete_multipart(s3, b, obj->key, obj->upload_id, parts, obj->nparts, NULL, &err);
    free(parts);
    if (rc) {
        s3_fail(msg, cap, &err);
        floe_s3_abort_multipart(s3, b, obj->key, obj->upload_id, &err);
        return -1;
    }
    return 0;
}

int floe_vs3out_close(struct floe_vs3out_obj *obj, bool keep, char *msg, size_t cap)
{
    int rc = 0;
    if (obj->o->s3) {
        rc = close_s3(obj, keep, msg, cap);
    } else {
        if (keep && obj->fd < 0 && floe_vs3out_write(obj, "", 0, msg, cap))
            rc = -1;               /* an empty object is still a file */
        if (!rc && obj->fd >= 0) { /* durable before it is visible, and its name after */
            int crc = keep ? fdatasync(obj->fd) : 0;
            crc = close(obj->fd) != 0 ? -1 : crc;
            obj->fd = -1;
            if (keep && (crc != 0 || rename(obj->tmp, obj->path) != 0 ||
                         floe_dir_sync_parent(obj->path, NULL) != FLOE_OK))
                rc = file_fail(obj, msg, cap);
            if (rc || !keep)
                unlink(obj->tmp);
        }
    }
    if (obj->fd >= 0) {
        close(obj->fd);
        unlink(obj->tmp);
    }
    free(obj->buf);
    free(obj->etags);
    free(obj);
    return rc;
}

int floe_vs3out_put(struct floe_vs3out *o, const struct floe_vs3out_loc *loc, const char *key,
                    const char *data, size_t len, char *msg, size_t cap)
{
    struct floe_vs3out_obj *obj = floe_vs3out_open(o, loc, key);
    if (floe_vs3out_write(obj, data, len, msg, cap)) {
        floe_vs3out_close(obj, false, msg, 0);
        return -1;
    }
    return floe_vs3out_close(obj, true, msg, cap);
}
