/*
 * s3doc.c - each S3 answer document as a table for s3xml.c plus the callback that turns its
 * records into the public entry structs, and the CompleteMultipartUpload request body
 * (s3doc.h; the element names are in docs/s3-api.md 7).
 */
#include "s3doc.h"

#include "alloc.h"
#include "s3xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

bool floe_s3doc_u64(const char *s, uint64_t *out)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 20 || strspn(s, "0123456789") != n)
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = v;
    return true;
}

void floe_s3doc_page_free(struct floe_s3doc_page *p)
{
    if (!p)
        return;
    free(p->next);
    free(p->next2);
    memset(p, 0, sizeof(*p));
}

/* The state one page's record callbacks share. */
struct walk {
    union {
        floe_s3_object_fn *object;
        floe_s3_part_fn *part;
        floe_s3_upload_fn *upload;
    } fn;
    void *user;
    bool stopped;
    char bad[96]; /* what was wrong with a record, "" when nothing */
};

/*
 * Parses doc with spec, then turns the root's scalars into page: top[0] is IsTruncated, top[1]
 * (and top[2] when ntop is 3) the markers. A truncated page must name where to go on from.
 */
static int parse_page(const struct floe_s3xml_spec *spec, const void *doc, size_t len,
                      const char *op, struct walk *w, struct floe_s3doc_page *page,
                      struct floe_error *err)
{
    char *top[3] = {NULL, NULL, NULL};
    int rc = floe_s3xml_parse(spec, doc, len, w, top, op, err);
    if (rc)
        return rc;
    if (*w->bad)
        rc = floe_error_set(err, FLOE_E_SERVICE, "%s: %s", op, w->bad);
    bool truncated = !rc && strcmp(top[0], "true") == 0;
    if (truncated && !*top[1] && !w->stopped)
        rc = floe_error_set(err, FLOE_E_SERVICE,
                            "%s: the page is truncated but names no place to go on from", op);
    if (!rc) {
        floe_s3doc_page_free(page);
        page->truncated = truncated;
        page->stopped = w->stopped;
        page->next = floe_xstrdup(top[1]);
        page->next2 = spec->ntop > 2 ? floe_xstrdup(top[2]) : NULL;
    }
    floe_s3xml_free(top, spec->ntop);
    return rc;
}

/* ---- ListObjectsV2 ---- */

static int on_contents(void *ctx, const char *const *v)
{
    struct walk *w = ctx;
    struct floe_s3_object_entry e = {
        .key = v[0], .etag = v[2], .last_modified = v[3], .storage_class = v[4]};
    if (!floe_s3doc_u64(v[1], &e.size)) {
        snprintf(w->bad, sizeof(w->bad), "an entry has Size \"%.40s\"", v[1]);
        return 1;
    }
    w->stopped = w->fn.object(&e, w->user) != 0;
    return w->stopped;
}

static int on_prefix(void *ctx, const char *const *v)
{
    struct walk *w = ctx;
    struct floe_s3_object_entry e = {
        .key = v[0], .is_prefix = true, .etag = "", .last_modified = "", .storage_class = ""};
    w->stopped = w->fn.object(&e, w->user) != 0;
    return w->stopped;
}

static const char *const s_contents_fields[] = {"Key", "Size", "ETag", "LastModified",
                                                "StorageClass"};
static const char *const s_prefix_fields[] = {"Prefix"};
static const struct floe_s3xml_record s_list_records[] = {
    {"Contents", s_contents_fields, 5, on_contents},
    {"CommonPrefixes", s_prefix_fields, 1, on_prefix},
};
static const char *const s_list_top[] = {"IsTruncated", "NextContinuationToken"};
static const struct floe_s3xml_spec s_list_spec = {.root = "ListBucketResult",
                                                   .top = s_list_top,
                                                   .ntop = 2,
                                                   .records = s_list_records,
                                                   .nrecords = 2};

int floe_s3doc_list_objects(const void *doc, size_t len, const char *op, floe_s3_object_fn *fn,
                            void *user, struct floe_s3doc_page *page, struct floe_error *err)
{
    struct walk w = {.fn.object = fn, .user = user};
    return parse_page(&s_list_spec, doc, len, op, &w, page, err);
}

/* ---- ListParts ---- */

static int on_part(void *ctx, const char *const *v)
{
    struct walk *w = ctx;
    uint64_t num;
    struct floe_s3_part_entry e = {.etag = v[1], .checksum_sha256 = v[3], .last_modified = v[4]};
    if (!floe_s3doc_u64(v[0], &num) || num < 1 || num > 10000) {
        snprintf(w->bad, sizeof(w->bad), "a part has PartNumber \"%.40s\" (1-10,000)", v[0]);
        return 1;
    }
    if (!floe_s3doc_u64(v[2], &e.size)) {
        snprintf(w->bad, sizeof(w->bad), "part %u has Size \"%.40s\"", (unsigned)num, v[2]);
        return 1;
    }
    e.part_number = (uint32_t)num;
    w->stopped = w->fn.part(&e, w->user) != 0;
    return w->stopped;
}

static const char *const s_part_fields[] = {"PartNumber", "ETag", "Size", "ChecksumSHA256",
                                            "LastModified"};
static const struct floe_s3xml_record s_part_records[] = {{"Part", s_part_fields, 5, on_part}};
static const char *const s_parts_top[] = {"IsTruncated", "NextPartNumberMarker"};
/* moto names the root ListPartsResponse (docs/s3-api.md 9) */
static const struct floe_s3xml_spec s_parts_spec = {.root = "ListPartsResult",
                                                    .top = s_parts_top,
                                                    .ntop = 2,
                                                    .records = s_part_records,
                                                    .nrecords = 1,
                                                    .alt_root = "ListPartsResponse"};

int floe_s3doc_list_parts(const void *doc, size_t len, const char *op, floe_s3_part_fn *fn,
                          void *user, struct floe_s3doc_page *page, struct floe_error *err)
{
    struct walk w = {.fn.part = fn, .user = user};
    return parse_page(&s_parts_spec, doc, len, op, &w, page, err);
}

/* ---- ListMultipartUploads ---- */

static int on_upload(void *ctx, const char *const *v)
{
    struct walk *w = ctx;
    struct floe_s3_upload_entry e = {
        .key = v[0], .upload_id = v[1], .initiated = v[2], .storage_class = v[3]};
    w->stopped = w->fn.upload(&e, w->user) != 0;
    return w->stopped;
}

static const char *const s_upload_fields[] = {"Key", "UploadId", "Initiated", "StorageClass"};
static const struct floe_s3xml_record s_upload_records[] = {
    {"Upload", s_upload_fields, 4, on_upload}};
static const char *const s_uploads_top[] = {"IsTruncated", "NextKeyMarker", "NextUploadIdMarker"};
static const struct floe_s3xml_spec s_uploads_spec = {.root = "ListMultipartUploadsResult",
                                                      .top = s_uploads_top,
                                                      .ntop = 3,
                                                      .records = s_upload_records,
                                                      .nrecords = 1};

int floe_s3doc_list_uploads(const void *doc, size_t len, const char *op, floe_s3_upload_fn *fn,
                            void *user, struct floe_s3doc_page *page, struct floe_error *err)
{
    struct walk w = {.fn.upload = fn, .user = user};
    return parse_page(&s_uploads_spec, doc, len, op, &w, page, err);
}

/* ---- multipart results ---- */

static const char *const s_create_top[] = {"UploadId"};
static const struct floe_s3xml_spec s_create_spec = {
    .root = "InitiateMultipartUploadResult", .top = s_create_top, .ntop = 1};

int floe_s3doc_upload_id(const void *doc, size_t len, const char *op,
                         char id[FLOE_S3_UPLOAD_ID_MAX], struct floe_error *err)
{
    char *top[1] = {NULL};
    int rc = floe_s3xml_parse(&s_create_spec, doc, len, NULL, top, op, err);
    if (!rc && (!*top[0] || strlen(top[0]) >= FLOE_S3_UPLOAD_ID_MAX))
        rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the answer has no usable UploadId", op);
    if (!rc)
        snprintf(id, FLOE_S3_UPLOAD_ID_MAX, "%s", top[0]);
    floe_s3xml_free(top, 1);
    return rc;
}

static const char *const s_complete_top[] = {"ETag", "ChecksumSHA256"};
/* moto names the root CompleteMultipartUploadResponse (docs/s3-api.md 9) */
static const struct floe_s3xml_spec s_complete_spec = {.root = "CompleteMultipartUploadResult",
                                                       .top = s_complete_top,
                                                       .ntop = 2,
                                                       .alt_root =
                                                           "CompleteMultipartUploadResponse"};

int floe_s3doc_complete(const void *doc, size_t len, const char *op, struct floe_s3_put_result *out,
                        struct floe_error *err)
{
    char *top[2] = {NULL, NULL};
    int rc = floe_s3xml_parse(&s_complete_spec, doc, len, NULL, top, op, err);
    if (!rc && !*top[0])
        rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the answer has no ETag", op);
    if (!rc && out) {
        memset(out, 0, sizeof(*out));
        snprintf(out->etag, sizeof(out->etag), "%s", top[0]);
        snprintf(out->checksum_sha256, sizeof(out->checksum_sha256), "%s", top[1]);
    }
    floe_s3xml_free(top, 2);
    return rc;
}

char *floe_s3doc_complete_body(const struct floe_s3_completed_part *parts, size_t n,
                               struct floe_error *err)
{
    if (n == 0 || n > 10000) {
        floe_error_set(err, FLOE_E_INVALID_ARG,
                       "CompleteMultipartUpload needs 1 to 10,000 parts, not %zu", n);
        return NULL;
    }
    char *b = NULL, num[16];
    size_t len = 0, cap = 0;
    floe_s3xml_append(&b, &len, &cap, "<CompleteMultipartUpload xmlns=\"" S3_XMLNS "\">");
    for (size_t i = 0; i < n; i++) {
        const struct floe_s3_completed_part *p = &parts[i];
        if (!p->etag || !*p->etag || (i && p->part_number <= parts[i - 1].part_number) ||
            p->part_number < 1 || p->part_number > 10000) {
            free(b);
            floe_error_set(err, FLOE_E_INVALID_ARG,
                           "part #%zu (number %u): parts must be numbered 1-10,000 in ascending "
                           "order, each with its ETag",
                           i + 1, p->part_number);
            return NULL;
        }
        snprintf(num, sizeof(num), "%u", p->part_number);
        floe_s3xml_append(&b, &len, &cap, "<Part><PartNumber>");
        floe_s3xml_append(&b, &len, &cap, num);
        floe_s3xml_append(&b, &len, &cap, "</PartNumber><ETag>");
        floe_s3xml_append_escaped(&b, &len, &cap, p->etag);
        floe_s3xml_append(&b, &len, &cap, "</ETag>");
        if (p->checksum_sha256 && *p->checksum_sha256) {
            floe_s3xml_append(&b, &len, &cap, "<ChecksumSHA256>");
            floe_s3xml_append_escaped(&b, &len, &cap, p->checksum_sha256);
            floe_s3xml_append(&b, &len, &cap, "</ChecksumSHA256>");
        }
        floe_s3xml_append(&b, &len, &cap, "</Part>");
    }
    floe_s3xml_append(&b, &len, &cap, "</CompleteMultipartUpload>");
    return b;
}
