/*
 * ms3.h - an S3 destination of a migration (docs/migrate.md, "To S3"): s3://BUCKET/PREFIX, the
 * S3 client made from the Glacier client's region and credentials (one transfer thread shared
 * with it), the bucket checked before anything is paid for, and one archive's copy: an object
 * already there with the same archive id and tree hash is skipped (HeadObject); else the job
 * output streams into S3 (no local disk) in power-of-two chunks (--chunk-size doubled until the
 * archive fits in 10,000 parts, so each chunk is a node of the archive's tree hash), each chunk
 * verified against the service's tree hash, each part with its x-amz-checksum-sha256 compared
 * with what S3 stored, the chunk tree hashes combined and compared with the inventory's BEFORE
 * CompleteMultipartUpload: a corrupt archive never becomes an object. The object carries the
 * archive id, tree hash, description and creation date (and, for a one-part object, the
 * SHA-256) as metadata (x-amz-meta-glacier-*, x-amz-meta-sha256). Small archives: the
 * HeadObjects, or the PutObjects of their verified bytes, of a whole batch in flight together
 * (floe_ms3_present_many, floe_ms3_put_many).
 *
 * Threads: the calling thread (the migration's); a stream's requests run on the clients'
 * transfer threads.
 */
#ifndef FLOE_ENGINE_MIGRATE_MS3_H
#define FLOE_ENGINE_MIGRATE_MS3_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "floe/client.h"
#include "floe/error.h"
#include "floe/migrate.h"
#include "floe/s3.h"
#include "mcat.h"

#define FLOE_MS3_MIN_CHUNK ((uint64_t)8 << 20)
#define FLOE_MS3_DEFAULT_CHUNK ((uint64_t)64 << 20)

struct floe_ms3;

/* floe_ms3_is_s3() - whether a destination names S3 ("s3://..."). */
bool floe_ms3_is_s3(const char *dest);

/*
 * floe_ms3_open() - parse o->destination, check o->storage_class and o->chunk_size, make the
 * client and check the bucket (HeadBucket). Returns FLOE_OK, FLOE_E_INVALID_ARG (URL, storage
 * class, chunk size), FLOE_E_NOT_FOUND ("bucket B does not exist"), FLOE_E_AUTH (denied), or a
 * network status. Nothing is paid for before it succeeds.
 */
int floe_ms3_open(struct floe_client *c, const struct floe_migrate_options *o,
                  struct floe_ms3 **out, struct floe_error *err);
void floe_ms3_close(struct floe_ms3 *m);

/* floe_ms3_key() - "s3://BUCKET/KEY" of a name into out; the key alone into key (may be NULL). */
void floe_ms3_dest(const struct floe_ms3 *m, const char *name, char *out, size_t cap);

/*
 * floe_ms3_present() - HeadObject of r's key: FLOE_OK when the object exists with r's archive id
 * and tree hash in its metadata (sha256 then holds the recorded SHA-256 hex, "" when missing),
 * FLOE_E_NOT_FOUND when there is no such object, FLOE_E_SOURCE_CHANGED when another object is
 * in the way (message says which; that includes one whose checksum S3 stored is not of the
 * SHA-256 its metadata records), or a service status.
 */
int floe_ms3_present(struct floe_ms3 *m, const struct floe_mcat_row *r, char sha256[65],
                     struct floe_error *err);

/*
 * A small archive of a batch: its HeadObject, or its verified bytes sent as one PutObject,
 * together with the rest of the batch (all in flight at once on the S3 client's transfer thread).
 */
struct floe_ms3_item {
    const struct floe_mcat_row *r; /* borrowed */
    const char *description;       /* put: borrowed */
    const uint8_t *data;           /* put: r->size bytes, already verified against r->tree */
    uint8_t sha256[32];            /* put: their SHA-256 */
    /* result */
    int status; /* as floe_ms3_present(), or the PutObject's (FLOE_E_CHECKSUM: S3 stored
                   another checksum than the bytes sent have, or refused the body as not
                   matching it, in every PutObject) */
    struct floe_error err;
    char sha256_hex[65]; /* present: the recorded SHA-256 ("" when missing); put: of data */
};

/* floe_ms3_present_many() - floe_ms3_present() of n archives, their HeadObjects in flight
 * together; each item's status and sha256_hex as floe_ms3_present() returns them. */
void floe_ms3_present_many(struct floe_ms3 *m, struct floe_ms3_item *it, size_t n);

/*
 * floe_ms3_put_many() - n small archives (each at most 5 GiB), each one PutObject (the key,
 * metadata with the SHA-256, storage class, x-amz-checksum-sha256 compared with what S3
 * answers), all in flight together; floe_ms3_stream() sends a one-chunk archive through it
 * too. A body that arrived corrupted (S3 answers BadDigest or XAmzContentSHA256Mismatch, or
 * echoes another checksum than ours) is sent again, FLOE_RETRIEVE_MAX_FETCHES PutObjects in
 * all, as a range whose tree hash did not match is fetched again. Each item's status: FLOE_OK
 * (the object is complete), FLOE_E_CHECKSUM (corrupted every time: the message names the
 * archive; an object S3 kept with another checksum is deleted), FLOE_E_INVALID_ARG (the key,
 * the metadata), or the PutObject's failure (FLOE_E_SERVICE for a bucket that is gone).
 */
void floe_ms3_put_many(struct floe_ms3 *m, struct floe_ms3_item *it, size_t n);

/* Where an archive's bytes come from: a succeeded retrieval job's output (GetJobOutput). */
struct floe_ms3_source {
    struct floe_client *client; /* the Glacier client (borrowed) */
    const char *vault;
    const char *job_id;
    const char *journal_dir; /* where the parts journal of a multipart copy lives */
    atomic_bool *cancel;     /* optional: stop between chunks (the upload is kept to resume) */
};

struct floe_ms3_stats {
    unsigned parts_sent;     /* parts uploaded in this call */
    unsigned parts_resumed;  /* parts a killed run sent, confirmed through ListParts */
    unsigned refetches;      /* ranges fetched again because their tree hash did not match */
    unsigned peak_in_flight; /* the most ranges fetched at once */
};

/*
 * floe_ms3_stream() - copy r's job output into r's object without touching local disk for the
 * bytes: chunks (power of two, tree-hash aligned) fetched as 8 MiB ranged GetJobOutput calls,
 * several at once (--concurrency N, else adaptive: 4 up to 16, growing only on a latency-bound
 * link), each range's tree hash checked against the service's x-amz-sha256-tree-hash as it
 * arrives (a mismatch is fetched again, FLOE_RETRIEVE_MAX_FETCHES times in all), the chunk
 * hashed in order (the part's SHA-256 and the archive's) and sent as UploadPart with its
 * x-amz-checksum-sha256 while the next chunks are fetched (memory: 256 MiB of chunk buffers,
 * at least two chunks, kept in m for the next archive; see ms3.c). The chunk tree hashes are
 * combined and compared with the inventory's before CompleteMultipartUpload. An archive of one
 * chunk is one PutObject (its SHA-256 then also in the metadata).
 * Resume: the upload id is recorded in the catalog and each sent part (its tree hash, checksum,
 * ETag and the running SHA-256) in "<journal_dir>/<ord>.parts"; a later call continues that
 * upload, keeping the parts ListParts confirms with the journal's checksum and size, and sends
 * the rest. Uploads of r's key that no catalog records (a kill between create and record) are
 * aborted before a new one is created.
 * sha256   OUT: the archive's SHA-256 (hex), on FLOE_OK.
 * Returns  FLOE_OK; FLOE_E_CHECKSUM (a chunk failed verification on every fetch, a part
 *          arrived corrupted in each of its FLOE_RETRIEVE_MAX_FETCHES UploadParts, or the
 *          combined tree hash differs: the message names the archive and byte range or part;
 *          the upload is aborted); FLOE_E_NOT_FOUND (the job output is gone: upload aborted);
 *          FLOE_E_INVALID_ARG (the key); otherwise the run's failure (network, S3, the journal
 *          disk), with the upload kept for the next call.
 * Threads: the calling thread (parts are sent on the S3 client's transfer thread).
 */
int floe_ms3_stream(struct floe_ms3 *m, struct floe_mcat *cat, const struct floe_mcat_row *r,
                    const struct floe_ms3_source *src, const char *description, char sha256[65],
                    struct floe_ms3_stats *st, struct floe_error *err);

/* floe_ms3_abort_recorded() - abort the multipart upload a killed run left for r (if any),
 * clear it in the catalog and drop its parts journal in journal_dir; failures to abort are
 * ignored (an upload that is gone is fine). */
void floe_ms3_abort_recorded(struct floe_ms3 *m, struct floe_mcat *cat,
                             const struct floe_mcat_row *r, const char *journal_dir);

#endif
