/*
 * mname.h - the name an archive gets in a migration (docs/migrate.md, "Names"): from its
 * description, sanitised into a relative path that is safe as a file path under a directory
 * and as an S3 key below a prefix.
 *
 *   floe1 file T PATH     PATH without its leading '/'
 *   floe1 pack S-R-Q      floe-packs/S-R-Q.pack          (floe backup's containers)
 *   floe1 catalog S-R T   floe-catalogs/S-R.catalog
 *   mt2 / mt1 ...         the file name mt-aws-glacier recorded
 *   anything else         the description itself, read as a path
 *
 * Sanitising: components are split on '/'; empty, "." and ".." components are dropped; control
 * bytes (below 0x20, 0x7f) and bytes that are not part of valid UTF-8 become "%XX"; a component
 * is cut to 255 bytes and the name to FLOE_MNAME_MAX bytes, never inside a UTF-8 sequence; a
 * first component ".floe-migrate" (the directory floe keeps its state in) becomes
 * "_.floe-migrate". A name left empty is the archive id.
 *
 * Threads: pure functions, any thread.
 */
#ifndef FLOE_ENGINE_MIGRATE_MNAME_H
#define FLOE_ENGINE_MIGRATE_MNAME_H

#include <stdbool.h>
#include <stddef.h>

#define FLOE_MNAME_MAX 900 /* bytes of a name: leaves room for a prefix within S3's 1,024 */
#define FLOE_MNAME_CAP (FLOE_MNAME_MAX + 64) /* with a duplicate's suffix and the NUL */
#define FLOE_MNAME_STATE_DIR ".floe-migrate"

/* floe_mname_from_description() - the name of an archive (see above). by_id: set when the
 * description gave nothing usable and the archive id was used. */
void floe_mname_from_description(const char *description, const char *archive_id,
                                 char out[FLOE_MNAME_CAP], bool *by_id);

/* floe_mname_sanitise() - name (a path, any bytes) sanitised as above into out; "" when
 * nothing is left. */
void floe_mname_sanitise(const char *name, char out[FLOE_MNAME_CAP]);

/* floe_mname_with_suffix() - name with "." + suffix inserted before the extension of its last
 * component ("a/b.txt", "20261204T080000Z" -> "a/b.20261204T080000Z.txt"; no extension, or a
 * dot file: appended). */
void floe_mname_with_suffix(const char *name, const char *suffix, char out[FLOE_MNAME_CAP]);

/* floe_mname_date_suffix() - an ISO 8601 creation date as "YYYYMMDDTHHMMSSZ" (its digits
 * only; "" when it has none). */
void floe_mname_date_suffix(const char *iso, char out[32]);

#endif
