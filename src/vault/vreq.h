/*
 * vreq.h - one HTTP request as floe-vault's handlers see it, and the response they build.
 *
 * http.c fills the request (raw target, decoded path segments and query, every header) and
 * owns its lifetime: one struct per request, created when the request line arrives and freed
 * when MHD reports the request finished. Handlers (api_*.c) read the request and fill
 * rq->resp; http.c turns that into an MHD response and adds x-amzn-RequestId.
 *
 * Threads: a request belongs to the connection thread that serves it; nothing here is shared.
 */
#ifndef FLOE_VAULT_VREQ_H
#define FLOE_VAULT_VREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "floe/sigv4.h"
#include "vconfig.h"

struct floe_vserver;
struct MHD_Response;
struct floe_vroute;

#define FLOE_VREQ_MAX_SEGMENTS 8
#define FLOE_VREQ_MAX_RESP_HEADERS 12

struct floe_vparam {
    char *name;  /* decoded */
    char *value; /* decoded; "" when the pair had no '=' */
};

struct floe_vresp {
    unsigned status; /* 0 until a handler answers */
    struct {
        char *name;
        char *value;
    } hdr[FLOE_VREQ_MAX_RESP_HEADERS];
    int nhdr;
    char *body; /* malloc'd, or NULL */
    size_t body_len;
    const char *content_type;    /* static string, or NULL for no body */
    struct MHD_Response *custom; /* a streaming response a handler built, or NULL */
    bool close;                  /* close the connection after responding */
};

struct floe_vreq {
    struct floe_vserver *srv;
    char *raw_uri; /* request target exactly as received */
    char *path;    /* raw path (malloc'd copy, before '?') */
    char *query;   /* raw query without '?', "" if none */
    const char *method;
    char request_id[56];
    int64_t start_ms;

    struct floe_sigv4_header *headers; /* every received header, borrowed from MHD */
    size_t nheaders;
    /* One entry per distinct header name (floe_vreq_index_headers): the value of a name sent
     * once is borrowed; a repeated name's values are joined as SigV4 canonicalises them, into
     * a string owned by fields_own[i] (NULL when borrowed). */
    struct floe_sigv4_header *fields;
    char **fields_own;
    size_t nfields;
    size_t header_bytes; /* total size of names and values (+4 each), set with fields */

    struct floe_vparam *params; /* decoded query parameters */
    size_t nparams;
    char *seg[FLOE_VREQ_MAX_SEGMENTS]; /* decoded path segments */
    size_t nseg;

    bool has_length; /* Content-Length sent */
    uint64_t content_length;

    const struct floe_vroute *route;
    const char *vault; /* seg[2] for vault routes, else NULL; once the account is checked
                          (floe_vauth_account) the vault's key, vault_key (vconfig.h) */
    char vault_key[FLOE_VAULT_KEY_MAX];
    char account[16];                /* the path's account id ("-" resolved), once checked */
    const struct floe_vcred *caller; /* the signing key (NULL: --no-auth with an unknown key) */
    const char *id;                  /* seg[4] for id routes, else NULL */

    /* body of buffered (JSON / empty) operations */
    char *body;
    size_t body_len, body_cap;

    void *op; /* streaming state of upload operations; freed by op_free */
    void (*op_free)(struct floe_vreq *rq);

    struct floe_vresp resp;
};

/*
 * floe_vreq_index_headers() - build rq->fields from rq->headers (call once, after every
 * header is in). A name sent more than once gets one value: each value trimmed of blanks at
 * both ends, inner runs of blanks collapsed to one space, joined with ',' in the order sent:
 * exactly what the SigV4 canonical request signs for it (docs/glacier-api.md 5.5).
 */
void floe_vreq_index_headers(struct floe_vreq *rq);

/* Header value by case-insensitive name, or NULL. After floe_vreq_index_headers() a repeated
 * header's joined value (what was signed); before it, the first value. */
const char *floe_vreq_header(const struct floe_vreq *rq, const char *name);

/* How many times a header (case-insensitive name) was sent. */
size_t floe_vreq_header_count(const struct floe_vreq *rq, const char *name);
/* Decoded query parameter by exact name, or NULL. */
const char *floe_vreq_param(const struct floe_vreq *rq, const char *name);

/* Add a response header (both copied). Silently ignores more than the maximum. */
void floe_vreq_set_header(struct floe_vreq *rq, const char *name, const char *value);

/* Answer with status and no body. */
void floe_vreq_reply_empty(struct floe_vreq *rq, unsigned status);

/* Answer with status and body (taken: must be malloc'd) of content_type. */
void floe_vreq_reply_body(struct floe_vreq *rq, unsigned status, const char *content_type,
                          char *body, size_t len);

/* Release everything the request owns (http.c calls it once). */
void floe_vreq_free(struct floe_vreq *rq);

#endif
