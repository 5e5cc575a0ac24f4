/*
 * s3doc.h - the XML documents of S3's answers and request bodies, one function each: the
 * listing pages (ListObjectsV2, ListParts, ListMultipartUploads) with their continuation, the
 * UploadId of CreateMultipartUpload, the result of CompleteMultipartUpload (which can be an
 * <Error> inside a 200), and the CompleteMultipartUpload request body. Pure functions over
 * bytes (s3xml.c does the reading), so every answer shape is unit-tested without a server.
 */
#ifndef FLOE_ENGINE_S3DOC_H
#define FLOE_ENGINE_S3DOC_H

#include "floe/s3.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a paged listing goes on from. Zero it; free with floe_s3doc_page_free(). */
struct floe_s3doc_page {
    bool truncated; /* IsTruncated: more pages follow */
    bool stopped;   /* the callback stopped the walk */
    char *next;     /* NextContinuationToken / NextPartNumberMarker / NextKeyMarker (malloc'd) */
    char *next2;    /* NextUploadIdMarker (ListMultipartUploads), else NULL */
};
void floe_s3doc_page_free(struct floe_s3doc_page *p);

/*
 * One listing page: calls fn per entry in document order and fills page (only on FLOE_OK; it
 * is freed first). op names the operation in messages.
 * Returns  FLOE_OK; FLOE_E_SERVICE for a document that is not the page asked for (not XML,
 *          another root, a Size or PartNumber that is not a number in range, a truncated page
 *          that names no place to go on from); an <Error> document's own status and code.
 * Threads  any; fn runs on the calling thread.
 */
int floe_s3doc_list_objects(const void *doc, size_t len, const char *op, floe_s3_object_fn *fn,
                            void *user, struct floe_s3doc_page *page, struct floe_error *err);
int floe_s3doc_list_parts(const void *doc, size_t len, const char *op, floe_s3_part_fn *fn,
                          void *user, struct floe_s3doc_page *page, struct floe_error *err);
int floe_s3doc_list_uploads(const void *doc, size_t len, const char *op, floe_s3_upload_fn *fn,
                            void *user, struct floe_s3doc_page *page, struct floe_error *err);

/* CreateMultipartUpload's answer: the UploadId into id (written only on FLOE_OK); an answer
 * without one (or with one of FLOE_S3_UPLOAD_ID_MAX bytes or more) is FLOE_E_SERVICE. */
int floe_s3doc_upload_id(const void *doc, size_t len, const char *op,
                         char id[FLOE_S3_UPLOAD_ID_MAX], struct floe_error *err);

/* CompleteMultipartUpload's answer: ETag and ChecksumSHA256 into out (zeroed first; written
 * only on FLOE_OK). An <Error> document (S3 failed after it answered 200) is that error's
 * status with its code and message; an answer without an ETag is FLOE_E_SERVICE. */
int floe_s3doc_complete(const void *doc, size_t len, const char *op, struct floe_s3_put_result *out,
                        struct floe_error *err);

/* The CompleteMultipartUpload body for n parts (1-10,000, numbered 1-10,000 ascending, each
 * with an ETag; checked here): a new string the caller free()s, or NULL with
 * FLOE_E_INVALID_ARG in err. */
char *floe_s3doc_complete_body(const struct floe_s3_completed_part *parts, size_t n,
                               struct floe_error *err);

/* A decimal uint64 (digits only, at most 18446744073709551615); *out written only when true. */
bool floe_s3doc_u64(const char *s, uint64_t *out);

#endif
