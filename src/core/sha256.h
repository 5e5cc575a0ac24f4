/*
 * sha256.h - floe's SHA-256: a streaming context, one-shot helpers, and a multi-stream kernel
 * that advances two independent messages at once.
 *
 * Two implementations sit behind one interface, chosen at run time:
 *   SHANI     x86 SHA-NI intrinsics (sha256_ni.c). The sha256rnds2 instruction has a long
 *             latency, so one core can advance two independent streams in the time of about
 *             one: floe_sha256_update2() interleaves them in one loop.
 *   PORTABLE  OpenSSL's SHA256_* (itself SHA-NI accelerated where it can be, one stream at a
 *             time). It is the reference every test compares against.
 * The choice is made once (CPU feature detection; the environment variable
 * FLOE_SHA256=portable|shani overrides it) and can be changed by floe_sha256_set_impl() before
 * hashing starts. A context remembers the implementation it was initialised with.
 */
#ifndef FLOE_CORE_SHA256_H
#define FLOE_CORE_SHA256_H

#ifndef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 0x10100000L
#endif
#include <openssl/sha.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_SHA256_BYTES 32
#define FLOE_SHA256_BLOCK 64

enum floe_sha256_impl { FLOE_SHA256_PORTABLE = 0, FLOE_SHA256_SHANI = 1, FLOE_SHA256_IMPL_COUNT };

/* Streaming state. Caller-owned (stack is fine); init before use. Not shared between threads. */
struct floe_sha256 {
    int impl; /* enum floe_sha256_impl, fixed at init */
    union {
        SHA256_CTX ossl;
        struct {
            uint32_t h[8];
            uint64_t nbytes;
            uint8_t buf[FLOE_SHA256_BLOCK];
            unsigned buflen;
        } ni;
    } u;
};

/* The implementation new contexts use. Threads: safe from any thread. */
enum floe_sha256_impl floe_sha256_impl(void);
const char *floe_sha256_impl_name(enum floe_sha256_impl impl);
/* True when this CPU can run impl. */
bool floe_sha256_impl_available(enum floe_sha256_impl impl);
/*
 * floe_sha256_set_impl() - choose the implementation for contexts initialised afterwards.
 * Returns 0, or -1 if the CPU cannot run impl (nothing changes then).
 * Threads: call before hashing starts; contexts already initialised keep theirs.
 */
int floe_sha256_set_impl(enum floe_sha256_impl impl);

void floe_sha256_init(struct floe_sha256 *c);
void floe_sha256_update(struct floe_sha256 *c, const void *p, size_t n);
/* Writes the digest; c must be re-initialised before reuse. */
void floe_sha256_final(struct floe_sha256 *c, uint8_t out[FLOE_SHA256_BYTES]);
/* One-shot digest of p[0..n). */
void floe_sha256(const void *p, size_t n, uint8_t out[FLOE_SHA256_BYTES]);

/*
 * floe_sha256_update2() - feed n bytes to each of two contexts: pa to a, pb to b. pa and pb may
 * be the same buffer (leaf + linear hash of the same bytes, read from memory once). When both
 * contexts use SHANI and sit on a block boundary, the full blocks run interleaved in one loop;
 * otherwise this is two floe_sha256_update() calls. a and b must be different contexts.
 */
void floe_sha256_update2(struct floe_sha256 *a, const void *pa, struct floe_sha256 *b,
                         const void *pb, size_t n);

/* Digests of two whole messages, interleaved where possible. */
void floe_sha256_x2(const void *pa, size_t na, const void *pb, size_t nb,
                    uint8_t outa[FLOE_SHA256_BYTES], uint8_t outb[FLOE_SHA256_BYTES]);

/* Internal kernels (sha256_ni.c): compress nblocks 64-byte blocks into state(s). */
void floe_sha256_ni_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks);
void floe_sha256_ni_blocks2(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8], const uint8_t *pb,
                            size_t nblocks);
/* As blocks2, for two states consuming the same bytes (schedule computed once). */
void floe_sha256_ni_blocks2_same(uint32_t ha[8], uint32_t hb[8], const uint8_t *p, size_t nblocks);
bool floe_sha256_ni_cpu_ok(void);

#ifdef __cplusplus
}
#endif

#endif
