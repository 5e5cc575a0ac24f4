/*
 * vutil.h - floe-vault's small pure helpers: random ids, ISO-8601 times, percent-decoding,
 * base64url, description and decimal parsing. No state, no I/O except getrandom().
 *
 * Threads: every function is safe to call from any thread at once.
 */
#ifndef FLOE_VAULT_VUTIL_H
#define FLOE_VAULT_VUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Id lengths (docs/glacier-api.md 1.4): URL-safe alphabets, never need percent-encoding. */
#define FLOE_VID_ARCHIVE_LEN 138
#define FLOE_VID_JOB_LEN 92
#define FLOE_VID_UPLOAD_LEN 92
#define FLOE_VID_LOCK_LEN 24
#define FLOE_VID_CAPACITY_LEN 24
#define FLOE_VID_MAX 160 /* largest id buffer, NUL included */

/* ISO-8601 "2012-03-20T17:03:43.221Z" is 24 chars; buffers hold 32. */
#define FLOE_VTIME_ISO_MAX 32

#define FLOE_VDESC_MAX 1024 /* archive / job description limit in characters */

/*
 * floe_vutil_id() - len random characters of [A-Za-z0-9_-] (alnum_only: [A-Za-z0-9]) and a
 * NUL into out (cap >= len + 1). Uses getrandom(); aborts if the kernel cannot supply bytes.
 */
void floe_vutil_id(char *out, size_t len, bool alnum_only);

/*
 * floe_vutil_inexact_option() - the first "--name" of argv[1..argc) that names none of opts
 * exactly (getopt_long would take an unambiguous prefix: "--port 0" for "--port-file 0"), or
 * NULL. The arguments of opts' required_argument options and everything after "--" are skipped.
 */
struct option;
const char *floe_vutil_inexact_option(int argc, char *const *argv, const struct option *opts);

/* Wall clock in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t floe_vutil_now_ms(void);

/* "2012-03-20T17:03:43.221Z" (with_ms) or "2012-03-20T17:03:43Z" into out[FLOE_VTIME_ISO_MAX]. */
void floe_vutil_iso(int64_t ms, bool with_ms, char out[FLOE_VTIME_ISO_MAX]);

/*
 * floe_vutil_parse_iso() - parse "YYYY-MM-DDTHH:MM:SS[.fff]Z" (also "+00:00" as the zone).
 * out      OUT: milliseconds since the epoch; written only on success.
 * Returns  0, or -1 when the text is not such a date (including impossible days like 02-30).
 */
int floe_vutil_parse_iso(const char *s, int64_t *out);

/*
 * floe_vutil_pct_decode() - percent-decode n bytes of in into out (cap >= n + 1, NUL-ended).
 * Returns  the decoded length, or -1 for a bad escape, an encoded NUL or an encoded '/'
 *          (when reject_slash).
 */
long floe_vutil_pct_decode(const char *in, size_t n, char *out, size_t cap, bool reject_slash);

/* floe_vutil_parse_u64() - strict decimal (digits only, no sign, no spaces, no overflow).
 * Returns 0 and sets *out, or -1. */
int floe_vutil_parse_u64(const char *s, uint64_t *out);

/*
 * floe_vutil_desc_valid() - archive/job description rule: at most 1,024 characters, each
 * printable 7-bit ASCII (0x20..0x7E). Returns true when valid.
 */
bool floe_vutil_desc_valid(const char *s);

/* base64url without padding. Encode: out needs 4*ceil(n/3)+1 bytes; returns length written.
 * Decode: returns decoded length or -1 for a bad character; out needs n*3/4+1 bytes. */
size_t floe_vutil_b64url_encode(const void *in, size_t n, char *out);
long floe_vutil_b64url_decode(const char *in, size_t n, void *out);

#endif
