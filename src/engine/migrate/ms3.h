/*
 * ms3.h - an S3 destination of a migration (docs/migrate.md, "To S3"): s3://BUCKET/PREFIX, the
 * S3 client made from the Glacier client's region and credentials (one transfer thread shared
 * with it), the bucket checked before anything is paid for, and one archive's copy: an object
 * already there with the same archive id and tree hash is skipped (HeadObject); else the staged,
 * verified archive goes up in power-of-two chunks (FLOE_MS3_MIN_CHUNK doubled until the archive
 * fits in 10,000 parts, so each chunk is a node of the archive's tree hash), each part with its
 * x-amz-checksum-sha256 compared with what S3 stored, the chunk tree hashes combined and compared
 * with the inventory's BEFORE CompleteMultipartUpload: a corrupt archive never becomes an object.
 * The object carries the archive id, tree hash, SHA-256, description and creation date as
 * metadata (x-amz-meta-glacier-*).
 *
 * Threads: the calling thread (the migration's).
 */
#ifndef FLOE_ENGINE_MIGRATE_MS3_H
#define FLOE_ENGINE_MIGRATE_MS3_H

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
 * in the way (message says which), or a service status.
 */
int floe_ms3_present(struct floe_ms3 *m, const struct floe_mcat_row *r, char sha256[65],
                     struct floe_error *err);

/*
 * floe_ms3_upload() - the archive staged (verified) at path up as r's object; description and
 * sha256 (hex) go into the metadata. The multipart upload id is recorded in the catalog while it
 * runs (so a re-run aborts one a crash left, floe_ms3_abort_recorded) and cleared after.
 * Returns FLOE_OK, FLOE_E_CHECKSUM (a part's stored checksum, or the combined tree hash, differs:
 * the upload is aborted), FLOE_E_IO (reading the staged file), or an S3 status.
 */
int floe_ms3_upload(struct floe_ms3 *m, struct floe_mcat *cat, const struct floe_mcat_row *r,
                    const char *path, const char *description, const char *sha256,
                    struct floe_error *err);

/* floe_ms3_abort_recorded() - abort the multipart upload a killed run left for r (if any) and
 * clear it in the catalog; failures to abort are ignored (an upload that is gone is fine). */
void floe_ms3_abort_recorded(struct floe_ms3 *m, struct floe_mcat *cat,
                             const struct floe_mcat_row *r);

#endif
