/*
 * vs3out.h - where floe-vault's select jobs put their objects (docs/floe-vault.md "Select
 * jobs"): an S3-compatible endpoint through libfloe's S3 client (--s3-endpoint URL, the same
 * SigV4 client `floe migrate` uses; credentials from the SDKs' chain), or, as the fallback
 * without S3, files under a directory (--select-output-dir DIR: object KEY of bucket B is the
 * file DIR/B/KEY, written aside, fsynced, renamed into place; the bucket is the directory DIR/B).
 *
 * A job's OutputLocation.S3 is parsed once into a struct floe_vs3out_loc: the bucket and the
 * headers every object of the job carries (StorageClass, UserMetadata, Tagging, CannedACL,
 * AccessControlList as x-amz-grant-* headers, Encryption as x-amz-server-side-encryption*).
 *
 * Threads: a struct floe_vs3out may be used from several threads at once (the S3 client is
 * thread-safe; the directory sink touches only its own files). A loc is read-only after
 * parsing. An object (struct floe_vs3out_obj) belongs to the thread that opened it.
 */
#ifndef FLOE_VAULT_VS3OUT_H
#define FLOE_VAULT_VS3OUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct floe_vconfig;
struct floe_vs3out;
struct floe_vs3out_loc;
struct floe_vs3out_obj;

/*
 * floe_vs3out_new() - the output configured in cfg: S3 when cfg->s3_endpoint is set (the
 * credentials are looked up now: environment, profile cfg->s3_profile or AWS_PROFILE, ...),
 * else the directory cfg->select_output_dir, else none (*out = NULL, select jobs refused).
 * Returns 0, or -1 with msg (no credentials, a bad endpoint URL): the server must not start.
 */
int floe_vs3out_new(const struct floe_vconfig *cfg, struct floe_vs3out **out, char *msg,
                    size_t cap);
void floe_vs3out_destroy(struct floe_vs3out *o); /* NULL is fine */

/* "s3 http://host:port" or "dir /path": for the start-up log line. Borrowed from o. */
const char *floe_vs3out_describe(const struct floe_vs3out *o);

/*
 * floe_vs3out_loc_parse() - OutputLocation.S3 checked (members, bucket name, Prefix <= 512
 * bytes, CannedACL, StorageClass, Encryption, AccessControlList grants, Tagging and
 * UserMetadata maps) and kept. s3 borrowed. Returns 0 with *out (free with
 * floe_vs3out_loc_free), or -1 with msg (InvalidParameterValueException's message).
 */
int floe_vs3out_loc_parse(json_t *s3, struct floe_vs3out_loc **out, char *msg, size_t cap);
void floe_vs3out_loc_free(struct floe_vs3out_loc *loc);
const char *floe_vs3out_loc_bucket(const struct floe_vs3out_loc *loc);

/*
 * floe_vs3out_check() - at InitiateJob: the bucket exists (directory sink: DIR/<bucket> is a
 * directory, and the prefix has no "." / ".." segment; S3: HeadBucket, a missing bucket
 * refused as the service would, and so is a bucket the credentials may not use (HTTP 403);
 * any other S3 failure is let through, the job will fail with it). Returns 0, or -1 with msg.
 * Blocks for one request at most.
 */
int floe_vs3out_check(struct floe_vs3out *o, const struct floe_vs3out_loc *loc, const char *prefix,
                      char *msg, size_t cap);

/* floe_vs3out_put() - one small object in one request (job.txt, manifests, errors). Returns 0,
 * or -1 with msg naming the object and the S3 (or file system) error. */
int floe_vs3out_put(struct floe_vs3out *o, const struct floe_vs3out_loc *loc, const char *key,
                    const char *data, size_t len, char *msg, size_t cap);

/*
 * A streamed object: floe_vs3out_open() sends nothing yet; floe_vs3out_write() buffers and
 * sends 8 MiB parts as they fill (a multipart upload, begun at the first full part, so memory
 * stays bounded whatever the size); floe_vs3out_close() with keep sends the rest (PutObject
 * when it all fit in one buffer) or, without keep, drops what was begun (AbortMultipartUpload,
 * the temporary file removed) and always frees obj. Each returns 0, or -1 with msg.
 */
struct floe_vs3out_obj *floe_vs3out_open(struct floe_vs3out *o, const struct floe_vs3out_loc *loc,
                                         const char *key);
int floe_vs3out_write(struct floe_vs3out_obj *obj, const char *data, size_t len, char *msg,
                      size_t cap);
int floe_vs3out_close(struct floe_vs3out_obj *obj, bool keep, char *msg, size_t cap);

#endif
