/*
 * test_s3xml.c - S3's XML answers (src/engine/s3/s3xml.c, s3doc.c): error documents,
 * ListObjectsV2 pages (entities, unicode, common prefixes, nested elements skipped,
 * continuation), ListParts, ListMultipartUploads, CreateMultipartUpload, CompleteMultipartUpload
 * results including an <Error> inside a 200, the request body, and hostile input (not XML,
 * wrong root, DOCTYPE / entity expansion, oversized text, bad numbers).
 */
#include "s3doc.h"
#include "s3xml.h"

#include "t_util.h"

#include <stdlib.h>
#include <string.h>

#define DOC(s) (s), strlen(s)

struct seen {
    char keys[16][128];
    uint64_t sizes[16];
    bool prefix[16];
    size_t n;
    size_t stop_after; /* 0 = never */
};

static int on_obj(const struct floe_s3_object_entry *o, void *user)
{
    struct seen *s = user;
    snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", o->key);
    s->sizes[s->n] = o->size;
    s->prefix[s->n] = o->is_prefix;
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static void test_s3xml_error_document(void **state)
{
    (void)state;
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                      "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                      "</Message><Key>a &amp; b</Key><RequestId>4442587FB7D0A2F9</RequestId>"
                      "<HostId>x</HostId></Error>";
    char code[64], msg[256], rid[64];
    assert_true(floe_s3xml_error(DOC(doc), code, sizeof(code), msg, sizeof(msg), rid, sizeof(rid)));
    assert_string_equal(code, "NoSuchKey");
    assert_string_equal(msg, "The specified key does not exist.");
    assert_string_equal(rid, "4442587FB7D0A2F9");
    /* not an error document: a listing, JSON, HTML, nothing */
    const char *others[] = {"<ListBucketResult></ListBucketResult>", "{\"code\":\"x\"}",
                            "<html><body>502 Bad Gateway</body></html>", ""};
    for (size_t i = 0; i < 4; i++) {
        assert_false(floe_s3xml_error(DOC(others[i]), code, sizeof(code), msg, sizeof(msg), rid,
                                      sizeof(rid)));
        assert_string_equal(code, "");
    }
    /* truncated into small buffers, still terminated */
    char small[5];
    assert_true(floe_s3xml_error(DOC(doc), small, sizeof(small), msg, sizeof(msg), rid, 4));
    assert_string_equal(small, "NoSu");
    assert_string_equal(rid, "444");
}

static void test_s3xml_error_status(void **state)
{
    (void)state;
    assert_int_equal(floe_s3xml_error_status("NoSuchBucket", 404), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_s3xml_error_status("NoSuchUpload", 0), FLOE_E_NOT_FOUND);
    assert_int_equal(floe_s3xml_error_status("SignatureDoesNotMatch", 403), FLOE_E_AUTH);
    assert_int_equal(floe_s3xml_error_status("InvalidAccessKeyId", 0), FLOE_E_AUTH);
    assert_int_equal(floe_s3xml_error_status("AccessDenied", 403), FLOE_E_AUTH);
    assert_int_equal(floe_s3xml_error_status("SlowDown", 503), FLOE_E_THROTTLED);
    assert_int_equal(floe_s3xml_error_status("InvalidRange", 416), FLOE_E_RANGE);
    assert_int_equal(floe_s3xml_error_status("InternalError", 500), FLOE_E_SERVICE);
    assert_int_equal(floe_s3xml_error_status("", 404), FLOE_E_NOT_FOUND);
}

static const char *s_page1 =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>b</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>a &amp; b &lt;c&gt;</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>5</Size>"
    "<Owner><ID>owner</ID><DisplayName>Key</DisplayName></Owner>"
    "<StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/x+y~z</"
    "Key><Size>18446744073709551615"
    "</Size><ETag>\"e\"</ETag><StorageClass>DEEP_ARCHIVE</StorageClass></Contents>"
    "<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "</ListBucketResult>";

static void test_s3xml_list_objects_page(void **state)
{
    (void)state;
    struct seen s = {0};
    struct floe_s3doc_page page = {0};
    struct floe_error err = {0};
    assert_int_equal(
        floe_s3doc_list_objects(DOC(s_page1), "ListObjectsV2", on_obj, &s, &page, &err), FLOE_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "a & b <c>");
    assert_int_equal(s.sizes[0], 5);
    assert_string_equal(s.keys[1], "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/x+y~z");
    assert_true(s.sizes[1] == UINT64_MAX);
    assert_string_equal(s.keys[2], "dir/");
    assert_true(s.prefix[2]);
    assert_true(page.truncated);
    assert_false(page.stopped);
    assert_string_equal(page.next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    floe_s3doc_page_free(&page);

    /* the last page: not truncated, no token */
    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount>"
                       "</ListBucketResult>";
    memset(&s, 0, sizeof(s));
    assert_int_equal(floe_s3doc_list_objects(DOC(last), "L", on_obj, &s, &page, &err), FLOE_OK);
    assert_int_equal(s.n, 0);
    assert_false(page.truncated);
    assert_string_equal(page.next, "");
    floe_s3doc_page_free(&page);

    /* the callback stops the walk: success, marked stopped */
    memset(&s, 0, sizeof(s));
    s.stop_after = 1;
    assert_int_equal(floe_s3doc_list_objects(DOC(s_page1), "L", on_obj, &s, &page, &err), FLOE_OK);
    assert_int_equal(s.n, 1);
    assert_true(page.stopped);
    floe_s3doc_page_free(&page);
    floe_s3doc_page_free(&page); /* twice is fine */
}

static void test_s3xml_list_objects_bad(void **state)
{
    (void)state;
    struct {
        const char *doc;
        int status;
        const char *msg;
    } cases[] = {
        {"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", FLOE_E_SERVICE,
         "L: the page is truncated but names no place to go on from"},
        {"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
         FLOE_E_SERVICE, "L: an entry has Size \"-1\""},
        {"<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551616</Size></Contents>"
         "</ListBucketResult>",
         FLOE_E_SERVICE, "L: an entry has Size \"18446744073709551616\""},
        {"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>", FLOE_E_SERVICE,
         "L: an entry has Size \"\""},
        {"<ListPartsResult></ListPartsResult>", FLOE_E_SERVICE,
         "L: the answer is <ListPartsResult>, not <ListBucketResult>"},
        {"<ListBucketResult><Contents>", FLOE_E_SERVICE,
         "L: the answer is not valid XML: no element found (line 1)"},
        {"", FLOE_E_SERVICE, "L: the answer is not valid XML: no element found (line 1)"},
        {"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
         "<RequestId>R1</RequestId></Error>",
         FLOE_E_NOT_FOUND, "L: NoSuchBucket: The specified bucket does not exist"},
        {"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
         "\"&lol;&lol;&lol;&lol;\">]><ListBucketResult><Name>&lol2;</Name></ListBucketResult>",
         FLOE_E_SERVICE, "L: the answer has a DOCTYPE, which S3 never sends"},
        {"<ListBucketResult><Name>&undefined;</Name></ListBucketResult>", FLOE_E_SERVICE,
         "L: the answer is not valid XML: undefined entity (line 1)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct seen s = {0};
        struct floe_s3doc_page page = {0};
        struct floe_error err = {0};
        assert_int_equal(floe_s3doc_list_objects(DOC(cases[i].doc), "L", on_obj, &s, &page, &err),
                         cases[i].status);
        assert_string_equal(err.message, cases[i].msg);
        assert_null(page.next); /* untouched on failure */
    }
    struct floe_error err = {0};
    struct floe_s3doc_page page = {0};
    const char *e = "<Error><Code>NoSuchBucket</Code><Message>m</Message>"
                    "<RequestId>R1</RequestId></Error>";
    floe_s3doc_list_objects(DOC(e), "L", on_obj, NULL, &page, &err);
    assert_string_equal(err.code, "NoSuchBucket");
    assert_string_equal(err.request_id, "R1");

    /* text over the limit is refused, not kept */
    size_t n = FLOE_S3XML_TEXT_MAX + 10;
    char *big = malloc(n + 100);
    snprintf(big, n + 100, "%s", "<ListBucketResult><Contents><Key>");
    size_t at = strlen(big);
    memset(big + at, 'k', n);
    memcpy(big + at + n, "</Key></Contents></ListBucketResult>", 37);
    assert_int_equal(floe_s3doc_list_objects(DOC(big), "L", on_obj, NULL, &page, &err),
                     FLOE_E_SERVICE);
    assert_string_equal(err.message, "L: the text of <Key> is longer than 65536 bytes");
    free(big);
}

struct parts_seen {
    uint32_t num[8];
    uint64_t size[8];
    char etag[8][64];
    char sum[8][64];
    size_t n;
};

static int on_part(const struct floe_s3_part_entry *p, void *user)
{
    struct parts_seen *s = user;
    s->num[s->n] = p->part_number;
    s->size[s->n] = p->size;
    snprintf(s->etag[s->n], 64, "%s", p->etag);
    snprintf(s->sum[s->n], 64, "%s", p->checksum_sha256);
    s->n++;
    return 0;
}

static void test_s3xml_list_parts(void **state)
{
    (void)state;
    const char *doc =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket>"
        "<Key>k</Key><UploadId>u</UploadId><Initiator><ID>i</ID></Initiator>"
        "<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>"
        "<MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>"
        "<Part><PartNumber>1</PartNumber><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        "<ETag>\"aa\"</ETag><Size>5242880</Size><ChecksumSHA256>q83vEjRWeJA=</ChecksumSHA256>"
        "</Part><Part><PartNumber>2</PartNumber><ETag>&quot;bb&quot;</ETag><Size>7</Size></Part>"
        "</ListPartsResult>";
    struct parts_seen s = {0};
    struct floe_s3doc_page page = {0};
    struct floe_error err = {0};
    assert_int_equal(floe_s3doc_list_parts(DOC(doc), "ListParts", on_part, &s, &page, &err),
                     FLOE_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.num[0], 1);
    assert_int_equal(s.size[0], 5242880);
    assert_string_equal(s.etag[0], "\"aa\"");
    assert_string_equal(s.sum[0], "q83vEjRWeJA=");
    assert_int_equal(s.num[1], 2);
    assert_string_equal(s.etag[1], "\"bb\"");
    assert_string_equal(s.sum[1], "");
    assert_true(page.truncated);
    assert_string_equal(page.next, "2");
    floe_s3doc_page_free(&page);

    /* moto's root name */
    const char *moto = "<ListPartsResponse><IsTruncated>false</IsTruncated><Part><PartNumber>3"
                       "</PartNumber><Size>1</Size><ETag>e</ETag></Part></ListPartsResponse>";
    memset(&s, 0, sizeof(s));
    assert_int_equal(floe_s3doc_list_parts(DOC(moto), "P", on_part, &s, &page, &err), FLOE_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.num[0], 3);
    floe_s3doc_page_free(&page);

    const char *bad[] = {
        "<ListPartsResult><Part><PartNumber>0</PartNumber><Size>1</Size></Part></ListPartsResult>",
        "<ListPartsResult><Part><PartNumber>10001</PartNumber><Size>1</Size></Part>"
        "</ListPartsResult>",
        "<ListPartsResult><Part><PartNumber>1</PartNumber><Size>x</Size></Part></ListPartsResult>",
    };
    const char *msgs[] = {"P: a part has PartNumber \"0\" (1-10,000)",
                          "P: a part has PartNumber \"10001\" (1-10,000)",
                          "P: part 1 has Size \"x\""};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(floe_s3doc_list_parts(DOC(bad[i]), "P", on_part, &s, &page, &err),
                         FLOE_E_SERVICE);
        assert_string_equal(err.message, msgs[i]);
    }
}

static int on_upload(const struct floe_s3_upload_entry *u, void *user)
{
    char *out = user;
    strncat(out, u->key, 100);
    strncat(out, "=", 2);
    strncat(out, u->upload_id, 100);
    strncat(out, ";", 2);
    return 0;
}

static void test_s3xml_list_uploads(void **state)
{
    (void)state;
    const char *doc = "<ListMultipartUploadsResult><Bucket>b</Bucket>"
                      "<NextKeyMarker>k2</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>"
                      "<IsTruncated>true</IsTruncated>"
                      "<Upload><Key>k1</Key><UploadId>u1</UploadId><Initiated>t</Initiated>"
                      "<StorageClass>GLACIER</StorageClass></Upload>"
                      "<Upload><Key>k2</Key><UploadId>u2</UploadId></Upload>"
                      "</ListMultipartUploadsResult>";
    char out[256] = "";
    struct floe_s3doc_page page = {0};
    struct floe_error err = {0};
    assert_int_equal(floe_s3doc_list_uploads(DOC(doc), "U", on_upload, out, &page, &err), FLOE_OK);
    assert_string_equal(out, "k1=u1;k2=u2;");
    assert_true(page.truncated);
    assert_string_equal(page.next, "k2");
    assert_string_equal(page.next2, "u2");
    floe_s3doc_page_free(&page);
}

static void test_s3xml_create_and_complete(void **state)
{
    (void)state;
    char id[FLOE_S3_UPLOAD_ID_MAX] = "untouched";
    struct floe_error err = {0};
    const char *create = "<InitiateMultipartUploadResult xmlns=\"x\"><Bucket>b</Bucket><Key>k</Key>"
                         "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>";
    assert_int_equal(floe_s3doc_upload_id(DOC(create), "C", id, &err), FLOE_OK);
    assert_string_equal(id, "VXBsb2FkIElE");
    const char *no_id = "<InitiateMultipartUploadResult></InitiateMultipartUploadResult>";
    snprintf(id, sizeof(id), "%s", "untouched");
    assert_int_equal(floe_s3doc_upload_id(DOC(no_id), "C", id, &err), FLOE_E_SERVICE);
    assert_string_equal(err.message, "C: the answer has no usable UploadId");
    assert_string_equal(id, "untouched");

    struct floe_s3_put_result res;
    const char *ok = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n"
                     "<CompleteMultipartUploadResult><Location>http://b/k</Location>"
                     "<Bucket>b</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-3\""
                     "</ETag><ChecksumSHA256>abc=-3</ChecksumSHA256>"
                     "</CompleteMultipartUploadResult>";
    assert_int_equal(floe_s3doc_complete(DOC(ok), "CMU", &res, &err), FLOE_OK);
    assert_string_equal(res.etag, "\"3858f62230ac3c915f300c664312c11f-3\"");
    assert_string_equal(res.checksum_sha256, "abc=-3");

    const char *moto = "<CompleteMultipartUploadResponse><ETag>\"e-2\"</ETag>"
                       "</CompleteMultipartUploadResponse>";
    assert_int_equal(floe_s3doc_complete(DOC(moto), "CMU", &res, &err), FLOE_OK);
    assert_string_equal(res.etag, "\"e-2\"");
    assert_string_equal(res.checksum_sha256, "");

    /* S3 answered 200, then failed while combining the parts: the body is an <Error> */
    const char *in200 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n"
                        "<Error><Code>InternalError</Code><Message>We encountered an internal "
                        "error. Please try again.</Message><RequestId>656c76696e6727732072657175"
                        "</RequestId><HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaO"
                        "FgS+ZMxgxHp</HostId></Error>";
    memset(&err, 0, sizeof(err));
    assert_int_equal(floe_s3doc_complete(DOC(in200), "CMU", &res, &err), FLOE_E_SERVICE);
    assert_string_equal(err.code, "InternalError");
    assert_string_equal(err.request_id, "656c76696e6727732072657175");
    assert_string_equal(err.message,
                        "CMU: InternalError: We encountered an internal error. Please try again.");
    const char *bad_part = "<Error><Code>InvalidPart</Code><Message>One or more of the specified "
                           "parts could not be found.</Message></Error>";
    assert_int_equal(floe_s3doc_complete(DOC(bad_part), "CMU", &res, &err), FLOE_E_SERVICE);
    assert_string_equal(err.code, "InvalidPart");
    const char *no_etag = "<CompleteMultipartUploadResult></CompleteMultipartUploadResult>";
    assert_int_equal(floe_s3doc_complete(DOC(no_etag), "CMU", &res, &err), FLOE_E_SERVICE);
    assert_string_equal(err.message, "CMU: the answer has no ETag");
}

static void test_s3xml_complete_body(void **state)
{
    (void)state;
    struct floe_s3_completed_part parts[] = {
        {1, "\"a&b\"", "c2hh"},
        {3, "\"e3\"", NULL},
    };
    struct floe_error err = {0};
    char *b = floe_s3doc_complete_body(parts, 2, &err);
    assert_non_null(b);
    assert_string_equal(b, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
                           "2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b"
                           "&quot;</ETag><ChecksumSHA256>c2hh</ChecksumSHA256></Part><Part>"
                           "<PartNumber>3</PartNumber><ETag>&quot;e3&quot;</ETag></Part>"
                           "</CompleteMultipartUpload>");
    free(b);
    struct floe_s3_completed_part wrong[] = {{2, "\"x\"", NULL}, {2, "\"y\"", NULL}};
    assert_null(floe_s3doc_complete_body(wrong, 2, &err));
    assert_int_equal(err.status, FLOE_E_INVALID_ARG);
    assert_string_equal(err.message, "part #2 (number 2): parts must be numbered 1-10,000 in "
                                     "ascending order, each with its ETag");
    assert_null(floe_s3doc_complete_body(parts, 0, &err));
    assert_string_equal(err.message, "CompleteMultipartUpload needs 1 to 10,000 parts, not 0");
    struct floe_s3_completed_part noetag[] = {{1, "", NULL}};
    assert_null(floe_s3doc_complete_body(noetag, 1, &err));
}

static void test_s3xml_escape(void **state)
{
    (void)state;
    char *b = NULL;
    size_t len = 0, cap = 0;
    floe_s3xml_append_escaped(&b, &len, &cap, "<a href='x'>&\"</a> \xc3\xa9");
    assert_string_equal(b, "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt; \xc3\xa9");
    assert_int_equal(len, strlen(b));
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3xml_error_document),
        cmocka_unit_test(test_s3xml_error_status),
        cmocka_unit_test(test_s3xml_list_objects_page),
        cmocka_unit_test(test_s3xml_list_objects_bad),
        cmocka_unit_test(test_s3xml_list_parts),
        cmocka_unit_test(test_s3xml_list_uploads),
        cmocka_unit_test(test_s3xml_create_and_complete),
        cmocka_unit_test(test_s3xml_complete_body),
        cmocka_unit_test(test_s3xml_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
