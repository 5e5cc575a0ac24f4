/*
 * s3xml.c - S3's XML answers read with expat against a table (see s3xml.h), S3 error documents,
 * and XML escaping for request bodies.
 *
 * DESIGN
 * expat calls back per start tag, text run and end tag. The reader keeps the depth and what is
 * open: at depth 1 the root (its name picks the table: the caller's, or the built-in <Error>
 * table when S3 sent an error), at depth 2 a top scalar or a record, at depth 3 a record's
 * scalar. Text is collected only inside an element that is kept; everything else (Owner/ID,
 * unknown elements) is skipped by depth alone. A DOCTYPE stops the parser: S3 never sends one,
 * and refusing it means no entity can ever be declared, let alone expanded.
 */
#include "s3xml.h"

#include "alloc.h"

#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_error_top[] = {"Code", "Message", "RequestId"};
static const struct floe_s3xml_spec s_error_spec = {.root = "Error", .top = s_error_top, .ntop = 3};

struct text {
    char *p;
    size_t len, cap;
};

struct reader {
    XML_Parser xp;
    const struct floe_s3xml_spec *asked; /* the caller's table */
    const struct floe_s3xml_spec *spec;  /* the table in use (asked, or the <Error> one) */
    void *ctx;
    unsigned depth;
    int top_idx;         /* the open top scalar (depth 2), or -1 */
    int rec_idx;         /* the open record (depth 2), or -1 */
    int field_idx;       /* the open record scalar (depth 3), or -1 */
    struct text *top;    /* spec->ntop texts */
    struct text *fields; /* the open record's texts (max nfields of all records) */
    size_t nfields_max;
    char wrong_root[64]; /* the root found, when it is not the one asked for */
    char too_long[64];   /* the element whose text went over the limit */
    bool doctype;
    bool stopped; /* a record callback asked to stop */
};

static void text_reset(struct text *t)
{
    t->len = 0;
    if (t->p)
        t->p[0] = 0;
}

static int index_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

static void stop(struct reader *r)
{
    XML_StopParser(r->xp, XML_FALSE);
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct reader *r = ud;
    r->depth++;
    if (r->depth == 1) {
        if (strcmp(name, r->asked->root) == 0 ||
            (r->asked->alt_root && strcmp(name, r->asked->alt_root) == 0)) {
            r->spec = r->asked;
        } else if (strcmp(name, "Error") == 0) {
            r->spec = &s_error_spec;
        } else {
            snprintf(r->wrong_root, sizeof(r->wrong_root), "%s", name);
            stop(r);
        }
        return;
    }
    const struct floe_s3xml_spec *s = r->spec;
    if (r->depth == 2) {
        r->top_idx = index_of(s->top, s->ntop, name);
        r->rec_idx = -1;
        for (size_t i = 0; r->top_idx < 0 && i < s->nrecords; i++)
            if (strcmp(s->records[i].element, name) == 0)
                r->rec_idx = (int)i;
        if (r->top_idx >= 0)
            text_reset(&r->top[r->top_idx]);
        if (r->rec_idx >= 0)
            for (size_t i = 0; i < r->nfields_max; i++)
                text_reset(&r->fields[i]);
    } else if (r->depth == 3 && r->rec_idx >= 0) {
        const struct floe_s3xml_record *rec = &s->records[r->rec_idx];
        r->field_idx = index_of(rec->fields, rec->nfields, name);
        if (r->field_idx >= 0)
            text_reset(&r->fields[r->field_idx]);
    }
}

static void on_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct reader *r = ud;
    if (r->depth == 2 && r->rec_idx >= 0) {
        const struct floe_s3xml_record *rec = &r->spec->records[r->rec_idx];
        const char *values[32];
        for (size_t i = 0; i < rec->nfields && i < 32; i++)
            values[i] = r->fields[i].p ? r->fields[i].p : "";
        if (rec->fn(r->ctx, values)) {
            r->stopped = true;
            stop(r);
        }
        r->rec_idx = -1;
    }
    if (r->depth == 2)
        r->top_idx = -1;
    if (r->depth == 3)
        r->field_idx = -1;
    r->depth--;
}

static void on_text(void *ud, const XML_Char *s, int n)
{
    struct reader *r = ud;
    struct text *t = NULL;
    const char *elem = "";
    if (r->depth == 2 && r->top_idx >= 0) {
        t = &r->top[r->top_idx];
        elem = r->spec->top[r->top_idx];
    } else if (r->depth == 3 && r->rec_idx >= 0 && r->field_idx >= 0) {
        t = &r->fields[r->field_idx];
        elem = r->spec->records[r->rec_idx].fields[r->field_idx];
    }
    if (!t || n <= 0)
        return;
    if (t->len + (size_t)n > FLOE_S3XML_TEXT_MAX) {
        snprintf(r->too_long, sizeof(r->too_long), "%s", elem);
        stop(r);
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        t->p = floe_xrealloc(t->p, cap);
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, (size_t)n);
    t->len += (size_t)n;
    t->p[t->len] = 0;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    struct reader *r = ud;
    r->doctype = true;
    stop(r);
}

static void free_texts(struct text *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i].p);
    free(t);
}

int floe_s3xml_error_status(const char *code, int http_status)
{
    if (http_status == 403 || strcmp(code, "AccessDenied") == 0 ||
        strcmp(code, "SignatureDoesNotMatch") == 0 || strcmp(code, "InvalidAccessKeyId") == 0 ||
        strcmp(code, "InvalidToken") == 0 || strcmp(code, "ExpiredToken") == 0 ||
        strcmp(code, "RequestTimeTooSkewed") == 0)
        return FLOE_E_AUTH;
    if (http_status == 404 || strncmp(code, "NoSuch", 6) == 0)
        return FLOE_E_NOT_FOUND;
    if (strcmp(code, "SlowDown") == 0)
        return FLOE_E_THROTTLED;
    if (strcmp(code, "InvalidRange") == 0)
        return FLOE_E_RANGE;
    return FLOE_E_SERVICE;
}

/* Runs expat over doc with r set up; FLOE_OK or a parse failure in err. */
static int run_parser(struct reader *r, const void *doc, size_t len, const char *what,
                      struct floe_error *err)
{
    XML_Parser xp = XML_ParserCreate("UTF-8");
    if (!xp)
        return floe_error_set(err, FLOE_E_NOMEM, "%s: cannot create an XML parser", what);
    r->xp = xp;
    XML_SetUserData(xp, r);
    XML_SetElementHandler(xp, on_start, on_end);
    XML_SetCharacterDataHandler(xp, on_text);
    XML_SetStartDoctypeDeclHandler(xp, on_doctype);
    int rc = FLOE_OK;
    if (len > (size_t)INT32_MAX) {
        rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the answer is larger than 2 GiB", what);
    } else if (XML_Parse(xp, doc ? doc : "", (int)len, XML_TRUE) == XML_STATUS_ERROR) {
        if (r->doctype)
            rc = floe_error_set(err, FLOE_E_SERVICE,
                                "%s: the answer has a DOCTYPE, which S3 never sends", what);
        else if (*r->wrong_root)
            rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the answer is <%s>, not <%s>", what,
                                r->wrong_root, r->asked->root);
        else if (*r->too_long)
            rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the text of <%s> is longer than %d bytes",
                                what, r->too_long, FLOE_S3XML_TEXT_MAX);
        else if (!r->stopped)
            rc = floe_error_set(
                err, FLOE_E_SERVICE, "%s: the answer is not valid XML: %s (line %lu)", what,
                XML_ErrorString(XML_GetErrorCode(xp)), (unsigned long)XML_GetCurrentLineNumber(xp));
    } else if (!r->spec) {
        rc = floe_error_set(err, FLOE_E_SERVICE, "%s: the answer has no root element", what);
    }
    XML_ParserFree(xp);
    return rc;
}

int floe_s3xml_parse(const struct floe_s3xml_spec *spec, const void *doc, size_t len, void *ctx,
                     char **top, const char *what, struct floe_error *err)
{
    struct reader r = {.asked = spec, .ctx = ctx, .top_idx = -1, .rec_idx = -1, .field_idx = -1};
    size_t ntop = spec->ntop > 3 ? spec->ntop : 3; /* room for the <Error> table too */
    r.top = floe_xcalloc(ntop, sizeof(*r.top));
    for (size_t i = 0; i < spec->nrecords; i++) {
        if (spec->records[i].nfields > 32)
            abort(); /* a programming error: tables are small */
        if (spec->records[i].nfields > r.nfields_max)
            r.nfields_max = spec->records[i].nfields;
    }
    r.fields = floe_xcalloc(r.nfields_max ? r.nfields_max : 1, sizeof(*r.fields));
    int rc = run_parser(&r, doc, len, what, err);
    if (rc == FLOE_OK && r.spec == &s_error_spec && spec != &s_error_spec) {
        const char *code = r.top[0].p ? r.top[0].p : "";
        const char *msg = r.top[1].p ? r.top[1].p : "";
        rc = floe_error_set(err, floe_s3xml_error_status(code, 0), "%s: %s: %s", what,
                            *code ? code : "Error", *msg ? msg : "(no message)");
        if (err) {
            snprintf(err->code, sizeof(err->code), "%s", code);
            snprintf(err->request_id, sizeof(err->request_id), "%s", r.top[2].p ? r.top[2].p : "");
        }
    }
    if (rc == FLOE_OK && top) {
        for (size_t i = 0; i < spec->ntop; i++) {
            top[i] = r.top[i].p ? r.top[i].p : floe_xstrdup("");
            r.top[i].p = NULL;
        }
    }
    free_texts(r.top, ntop);
    free_texts(r.fields, r.nfields_max ? r.nfields_max : 1);
    return rc;
}

void floe_s3xml_free(char **top, size_t n)
{
    for (size_t i = 0; top && i < n; i++) {
        free(top[i]);
        top[i] = NULL;
    }
}

bool floe_s3xml_error(const void *doc, size_t len, char *code, size_t code_cap, char *message,
                      size_t message_cap, char *request_id, size_t request_id_cap)
{
    snprintf(code, code_cap, "%s", "");
    snprintf(message, message_cap, "%s", "");
    snprintf(request_id, request_id_cap, "%s", "");
    char *top[3] = {NULL, NULL, NULL};
    if (!doc || !len || floe_s3xml_parse(&s_error_spec, doc, len, NULL, top, "error", NULL))
        return false;
    snprintf(code, code_cap, "%s", top[0]);
    snprintf(message, message_cap, "%s", top[1]);
    snprintf(request_id, request_id_cap, "%s", top[2]);
    floe_s3xml_free(top, 3);
    return true;
}

void floe_s3xml_append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        *buf = floe_xrealloc(*buf, c);
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

void floe_s3xml_append_escaped(char **buf, size_t *len, size_t *cap, const char *s)
{
    char one[2] = {0, 0};
    for (; *s; s++) {
        switch (*s) {
        case '&': floe_s3xml_append(buf, len, cap, "&amp;"); break;
        case '<': floe_s3xml_append(buf, len, cap, "&lt;"); break;
        case '>': floe_s3xml_append(buf, len, cap, "&gt;"); break;
        case '"': floe_s3xml_append(buf, len, cap, "&quot;"); break;
        case '\'': floe_s3xml_append(buf, len, cap, "&apos;"); break;
        default: one[0] = *s; floe_s3xml_append(buf, len, cap, one);
        }
    }
}
