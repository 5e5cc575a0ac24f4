/*
 * request.h - the engine's request path for the synchronous Glacier operations (client.c,
 * glacier/jobs.c, glacier/admin.c): vault-name check -> path -> call -> run -> free, written
 * once. A request is described by a struct floe_request and sent with floe_request_run(); an
 * answer that is a JSON object is read with floe_request_json(), an id the service returns in
 * a header with floe_request_id(); a paged list (Marker) is walked with floe_request_pages().
 *
 * Bulk transfers (upload and retrieval parts) build their calls themselves (client_impl.h):
 * they run on the transfer thread, not through these blocking helpers.
 */
#ifndef FLOE_ENGINE_REQUEST_H
#define FLOE_ENGINE_REQUEST_H

#include "client_impl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A header sent and signed with a request; one whose value is NULL or "" is not sent. */
struct floe_request_header {
    const char *name;
    const char *value;
};

/*
 * One request. Zero-initialise it (designated initialisers) and set what applies. Every
 * pointer is borrowed for the duration of the call that takes it.
 */
struct floe_request {
    const char *method; /* "GET", "PUT", "POST" or "DELETE" */
    /* Vault resources: vault is checked with floe_sigv4_vault_name_valid() before anything is
     * built, and the path is "/vaults/VAULT" + path (+ "/" + id). account = true: an account
     * resource; vault is not used and path is the whole path ("/provisioned-capacity"). */
    const char *vault;
    bool account;
    const char *path;  /* already percent-encoded; NULL is "" (the vault itself) */
    const char *id;    /* appended percent-encoded as "/ID" (an archive, upload, job or lock id),
                          or NULL for none */
    const char *query; /* raw query ("operation=add"), values already encoded, or NULL */
    /* the body: a JSON text sent as application/json, or raw data sent with its linear SHA-256
     * (required) as x-amz-content-sha256; both NULL: no body */
    const char *json;
    const void *data;
    size_t data_len;
    const uint8_t *data_sha256;
    struct floe_request_header headers[2]; /* extra headers, in the order given */
};

/*
 * floe_request_path() - the path of r after /{accountId}: "/vaults/VAULT" + path (+ "/" + the
 * percent-encoded id), or path alone for an account resource. The vault name is not checked
 * here. Returns a new string (the caller free()s it). Threads: any.
 */
char *floe_request_path(const struct floe_request *r);

/*
 * floe_request_call() - r as a call, not sent: the vault name checked (unless r->account), the
 * path, headers and body set. For requests that go through the transfer thread
 * asynchronously (floe_call_xfer + floe_transfer_submit). Returns the call (the caller turns
 * it into an xfer or runs it), or NULL with err set when the vault name is refused.
 * Threads: any thread.
 */
struct floe_call *floe_request_call(struct floe_client *c, const struct floe_request *r,
                                    struct floe_error *err);

/*
 * floe_request_run() - checks the vault name (unless r->account), builds the path, sends the
 * request synchronously with the client's retry policy and frees what it built.
 * A caller that checks other arguments checks the vault name itself first, so that the name's
 * message comes first as it always has; the check here then repeats it (it is pure and cheap).
 * out: NULL when only the status matters (the answer is dropped here); else *out receives the
 *      answer (the caller destroys it with floe_xfer_destroy(); a borrowed body must outlive
 *      it), or NULL when nothing was sent (the vault name was refused).
 * Returns FLOE_OK, or the vault-name or transfer status with err filled.
 * Threads: any thread; the client is shared (its transfer is thread-safe); err is the caller's.
 */
int floe_request_run(struct floe_client *c, const struct floe_request *r, struct floe_xfer **out,
                     struct floe_error *err);

/*
 * floe_request_json() - floe_request_run(), then the answer as a JSON object in *doc (set only
 * on FLOE_OK; the caller json_decref()s it). op names the operation in the message of an
 * answer that is not a JSON object ("<op>: the answer is not a JSON object", FLOE_E_SERVICE);
 * NULL names it by the request's URL. Threads: as floe_request_run().
 */
int floe_request_json(struct floe_client *c, const struct floe_request *r, const char *op,
                      json_t **doc, struct floe_error *err);

/*
 * floe_request_id() - floe_request_run(), then copies the answer's header `header` (an id the
 * service made: a job, lock, upload or capacity id) into out (cap bytes, NUL-terminated).
 * An answer without that header, with it empty, or with one of cap bytes or more fails with
 * FLOE_E_SERVICE and the message missing (e.g. "InitiateJob answer has no usable x-amz-job-id");
 * out is then left as it was. Threads: as floe_request_run().
 */
int floe_request_id(struct floe_client *c, const struct floe_request *r, const char *header,
                    char *out, size_t cap, const char *missing, struct floe_error *err);

/*
 * A paged list. query(buf, cap, marker, ctx) writes the query of one page (marker: NULL on
 * the first page, else the Marker of the page before, to be percent-encoded); page(doc, ctx,
 * stop, err) takes one page's answer (borrowed) and sets *stop to end the walk early, or
 * returns a failure status (err filled) that ends it.
 */
typedef void floe_request_query_fn(char *buf, size_t cap, const char *marker, void *ctx);
typedef int floe_request_page_fn(json_t *doc, void *ctx, bool *stop, struct floe_error *err);

/*
 * floe_request_pages() - runs r (its query replaced by query()'s, in a 2,400-byte buffer) page
 * after page with floe_request_json(c, r, op, ...) until the answer's Marker is absent, null or
 * "", page() sets *stop, or a request or page() fails.
 * Returns FLOE_OK or the first failure (err filled). Ownership: the markers are the helper's.
 * Threads: the caller's thread; query and page are called on it.
 */
int floe_request_pages(struct floe_client *c, const struct floe_request *r, const char *op,
                       floe_request_query_fn *query, floe_request_page_fn *page, void *ctx,
                       struct floe_error *err);

/*
 * floe_request_page_query() - the common page query "limit=N&marker=M" into buf (cap bytes):
 * limit 0 and a NULL or "" marker are left out. Threads: any.
 */
void floe_request_page_query(char *buf, size_t cap, unsigned limit, const char *marker);

#endif
