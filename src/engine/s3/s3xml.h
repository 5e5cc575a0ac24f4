/*
 * s3xml.h - S3's XML answers read with expat: one small table-driven reader for the flat
 * documents S3 sends (a root element, some scalar children, repeated records of scalar
 * children), the <Error> document, and the escaping of text written into request bodies.
 *
 * Every document S3 answers with is one level of scalars under the root (IsTruncated,
 * NextContinuationToken, UploadId) plus records one level down (Contents, Part, Upload,
 * CommonPrefixes), each a set of scalars; deeper elements (Owner/ID) are skipped. A table
 * (struct floe_s3xml_spec) names what to keep, so each operation's parser is a table and a
 * callback, not a hand-written state machine.
 */
#ifndef FLOE_ENGINE_S3XML_H
#define FLOE_ENGINE_S3XML_H

#include "floe/error.h"

#include <stdbool.h>
#include <stddef.h>

/* The longest text kept for one element; longer is refused as a malformed answer (keys are at
 * most 1,024 bytes, tokens and ids a few hundred). */
#define FLOE_S3XML_TEXT_MAX 65536

/*
 * A repeated record: element (a child of the root) whose scalar children named in fields are
 * collected, then handed to fn(ctx, values) when the record closes: values[i] is the text of
 * fields[i] ("" when absent; borrowed for the call). fn returns 0 to go on, non-zero to stop
 * reading (the parse then succeeds with what was read).
 */
struct floe_s3xml_record {
    const char *element;
    const char *const *fields;
    size_t nfields;
    int (*fn)(void *ctx, const char *const *values);
};

/* A document: its root element (or alt_root, another name a server is known to use; NULL
 * when none), the scalar children of the root to keep (top), and its records. */
struct floe_s3xml_spec {
    const char *root;
    const char *const *top;
    size_t ntop;
    const struct floe_s3xml_record *records;
    size_t nrecords;
    const char *alt_root;
};

/*
 * floe_s3xml_parse() - read doc (len bytes) against spec.
 * top      OUT: spec->ntop strings, each malloc'd ("" when absent), set on FLOE_OK only; free
 *          them with floe_s3xml_free(top, spec->ntop). May be NULL when spec->ntop is 0.
 * what     IN: names the answer in messages ("ListObjectsV2").
 * Returns  FLOE_OK; FLOE_E_SERVICE "<what>: the answer is not valid XML: ... (line L)" or "...
 *          is <X>, not <root>" or "... text of <E> is longer than 65536 bytes"; a DOCTYPE is
 *          refused (no entity may be declared); or, when the root is <Error> (S3 can fail after
 *          answering 200), the status of that error (floe_s3xml_error_status()) with its code,
 *          message and request id in err.
 * Threads  any; nothing is shared. Callbacks run on the calling thread.
 */
int floe_s3xml_parse(const struct floe_s3xml_spec *spec, const void *doc, size_t len, void *ctx,
                     char **top, const char *what, struct floe_error *err);

/* Frees n strings of a top array (and not the array itself, which is the caller's). */
void floe_s3xml_free(char **top, size_t n);

/*
 * floe_s3xml_error() - read an <Error> document: Code, Message and RequestId into the buffers
 * (NUL-terminated, truncated to their caps). Returns false when doc is not an <Error> document
 * (the buffers are then ""). Threads: any.
 */
bool floe_s3xml_error(const void *doc, size_t len, char *code, size_t code_cap, char *message,
                      size_t message_cap, char *request_id, size_t request_id_cap);

/* The floe status of an S3 error code and HTTP status (http 0 when unknown, as inside a 200):
 * 403 or an access / signature / credential code: FLOE_E_AUTH; 404 or NoSuch*: FLOE_E_NOT_FOUND;
 * SlowDown: FLOE_E_THROTTLED; InvalidRange: FLOE_E_RANGE; else FLOE_E_SERVICE. */
int floe_s3xml_error_status(const char *code, int http_status);

/* Appends s with XML's five special characters escaped to the growing buffer *buf (*len bytes
 * used, *cap allocated; floe_xrealloc'd as needed, always NUL-terminated). */
void floe_s3xml_append_escaped(char **buf, size_t *len, size_t *cap, const char *s);
/* Appends s verbatim (same buffer rules). */
void floe_s3xml_append(char **buf, size_t *len, size_t *cap, const char *s);

#endif
