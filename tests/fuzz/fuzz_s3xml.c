/*
 * fuzz_s3xml.c - S3's answer documents (src/engine/s3/s3doc.c over s3xml.c, expat) on arbitrary
 * bytes: every listing page reader, the UploadId and CompleteMultipartUpload readers and the
 * <Error> reader get the same input; a success must leave a page whose markers are strings.
 */
#include "fuzz.h"

#include "s3doc.h"
#include "s3xml.h"

#include <stdlib.h>
#include <string.h>

static int on_object(const struct floe_s3_object_entry *o, void *user)
{
    (void)user;
    return strlen(o->key) + strlen(o->etag) > (1u << 20); /* touch the strings */
}

static int on_part(const struct floe_s3_part_entry *p, void *user)
{
    (void)user;
    return p->part_number == 0 || strlen(p->etag) > (1u << 20);
}

static int on_upload(const struct floe_s3_upload_entry *u, void *user)
{
    (void)user;
    return strlen(u->key) + strlen(u->upload_id) > (1u << 20);
}

static void check_page(int rc, struct floe_s3doc_page *page)
{
    if (rc == FLOE_OK && (!page->next || strlen(page->next) > FLOE_S3XML_TEXT_MAX))
        abort();
    floe_s3doc_page_free(page);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct floe_error err;
    struct floe_s3doc_page page = {0};
    check_page(floe_s3doc_list_objects(data, size, "L", on_object, NULL, &page, &err), &page);
    check_page(floe_s3doc_list_parts(data, size, "P", on_part, NULL, &page, &err), &page);
    check_page(floe_s3doc_list_uploads(data, size, "U", on_upload, NULL, &page, &err), &page);
    char id[FLOE_S3_UPLOAD_ID_MAX];
    if (floe_s3doc_upload_id(data, size, "C", id, &err) == FLOE_OK && !*id)
        abort();
    struct floe_s3_put_result res;
    floe_s3doc_complete(data, size, "M", &res, &err);
    char code[64], msg[512], rid[64];
    floe_s3xml_error(data, size, code, sizeof(code), msg, sizeof(msg), rid, sizeof(rid));
    return 0;
}
