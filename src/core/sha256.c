/*
 * sha256.c - the SHA-256 front end: implementation choice, streaming contexts on either
 * implementation, and the two-stream entry points. Block compression for SHANI lives in
 * sha256_ni.c; PORTABLE is OpenSSL's SHA256_* API.
 *
 * DESIGN
 * The implementation is picked once, lazily (pthread_once): SHANI when the CPU has the SHA
 * extensions, unless FLOE_SHA256=portable says otherwise. floe_sha256_set_impl() lets tests and
 * benchmarks force either one. Each context records the implementation it started with, so a
 * change never mixes two implementations inside one message.
 */
#include "sha256.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static_assert(FLOE_SHA256_IMPL_COUNT == 2, "keep s_impl_names in sync");
static const char *const s_impl_names[FLOE_SHA256_IMPL_COUNT] = {"portable", "shani"};

static const uint32_t s_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static atomic_int s_impl = -1;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static bool s_ni_ok;

static void choose_impl(void)
{
    s_ni_ok = floe_sha256_ni_cpu_ok();
    int impl = s_ni_ok ? FLOE_SHA256_SHANI : FLOE_SHA256_PORTABLE;
    const char *env = getenv("FLOE_SHA256");
    if (env && strcmp(env, "portable") == 0)
        impl = FLOE_SHA256_PORTABLE;
    else if (env && strcmp(env, "shani") == 0 && !s_ni_ok)
        fprintf(stderr, "floe: FLOE_SHA256=shani ignored: this CPU lacks the SHA extensions\n");
    int expected = -1;
    atomic_compare_exchange_strong(&s_impl, &expected, impl);
}

enum floe_sha256_impl floe_sha256_impl(void)
{
    pthread_once(&s_once, choose_impl);
    return (enum floe_sha256_impl)atomic_load(&s_impl);
}

const char *floe_sha256_impl_name(enum floe_sha256_impl impl)
{
    return (unsigned)impl < FLOE_SHA256_IMPL_COUNT ? s_impl_names[impl] : "unknown";
}

bool floe_sha256_impl_available(enum floe_sha256_impl impl)
{
    pthread_once(&s_once, choose_impl);
    if (impl == FLOE_SHA256_PORTABLE)
        return true;
    return impl == FLOE_SHA256_SHANI && s_ni_ok;
}

int floe_sha256_set_impl(enum floe_sha256_impl impl)
{
    if (!floe_sha256_impl_available(impl))
        return -1;
    atomic_store(&s_impl, (int)impl);
    return 0;
}

void floe_sha256_init(struct floe_sha256 *c)
{
    c->impl = floe_sha256_impl();
    if (c->impl == FLOE_SHA256_SHANI) {
        memcpy(c->u.ni.h, s_iv, sizeof(s_iv));
        c->u.ni.nbytes = 0;
        c->u.ni.buflen = 0;
    } else {
        SHA256_Init(&c->u.ossl);
    }
}

static void ni_update(struct floe_sha256 *c, const uint8_t *p, size_t n)
{
    c->u.ni.nbytes += n;
    if (c->u.ni.buflen) {
        size_t take = FLOE_SHA256_BLOCK - c->u.ni.buflen;
        if (take > n)
            take = n;
        memcpy(c->u.ni.buf + c->u.ni.buflen, p, take);
        c->u.ni.buflen += (unsigned)take;
        p += take;
        n -= take;
        if (c->u.ni.buflen < FLOE_SHA256_BLOCK)
            return;
        floe_sha256_ni_blocks(c->u.ni.h, c->u.ni.buf, 1);
        c->u.ni.buflen = 0;
    }
    size_t nb = n / FLOE_SHA256_BLOCK;
    if (nb) {
        floe_sha256_ni_blocks(c->u.ni.h, p, nb);
        p += nb * FLOE_SHA256_BLOCK;
        n -= nb * FLOE_SHA256_BLOCK;
    }
    if (n) {
        memcpy(c->u.ni.buf, p, n);
        c->u.ni.buflen = (unsigned)n;
    }
}

void floe_sha256_update(struct floe_sha256 *c, const void *p, size_t n)
{
    if (c->impl == FLOE_SHA256_SHANI)
        ni_update(c, p, n);
    else
        SHA256_Update(&c->u.ossl, p, n);
}

static void ni_final(struct floe_sha256 *c, uint8_t out[FLOE_SHA256_BYTES])
{
    uint64_t bits = c->u.ni.nbytes * 8;
    uint8_t pad[2 * FLOE_SHA256_BLOCK] = {0x80};
    size_t padlen = (c->u.ni.buflen < 56) ? 56 - c->u.ni.buflen : 120 - c->u.ni.buflen;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    ni_update(c, pad, padlen + 8);
    for (int i = 0; i < 8; i++) {
        uint32_t w = c->u.ni.h[i];
        out[4 * i] = (uint8_t)(w >> 24);
        out[4 * i + 1] = (uint8_t)(w >> 16);
        out[4 * i + 2] = (uint8_t)(w >> 8);
        out[4 * i + 3] = (uint8_t)w;
    }
}

void floe_sha256_final(struct floe_sha256 *c, uint8_t out[FLOE_SHA256_BYTES])
{
    if (c->impl == FLOE_SHA256_SHANI)
        ni_final(c, out);
    else
        SHA256_Final(out, &c->u.ossl);
}

void floe_sha256(const void *p, size_t n, uint8_t out[FLOE_SHA256_BYTES])
{
    struct floe_sha256 c;
    floe_sha256_init(&c);
    floe_sha256_update(&c, p, n);
    floe_sha256_final(&c, out);
}

void floe_sha256_update2(struct floe_sha256 *a, const void *pa, struct floe_sha256 *b,
                         const void *pb, size_t n)
{
    if (a->impl == FLOE_SHA256_SHANI && b->impl == FLOE_SHA256_SHANI &&
        a->u.ni.buflen == b->u.ni.buflen) {
        if (a->u.ni.buflen) { /* same partial block in both: complete it, then interleave */
            size_t take = FLOE_SHA256_BLOCK - a->u.ni.buflen;
            if (take > n)
                take = n;
            ni_update(a, pa, take);
            ni_update(b, pb, take);
            pa = (const uint8_t *)pa + take;
            pb = (const uint8_t *)pb + take;
            n -= take;
        }
        size_t nb = n / FLOE_SHA256_BLOCK;
        if (nb) {
            if (pa == pb) /* leaf + linear over the same bytes: share the schedule */
                floe_sha256_ni_blocks2_same(a->u.ni.h, b->u.ni.h, pa, nb);
            else
                floe_sha256_ni_blocks2(a->u.ni.h, pa, b->u.ni.h, pb, nb);
            size_t done = nb * FLOE_SHA256_BLOCK;
            a->u.ni.nbytes += done;
            b->u.ni.nbytes += done;
            pa = (const uint8_t *)pa + done;
            pb = (const uint8_t *)pb + done;
            n -= done;
        }
    }
    floe_sha256_update(a, pa, n);
    floe_sha256_update(b, pb, n);
}

void floe_sha256_x2(const void *pa, size_t na, const void *pb, size_t nb,
                    uint8_t outa[FLOE_SHA256_BYTES], uint8_t outb[FLOE_SHA256_BYTES])
{
    struct floe_sha256 a, b;
    floe_sha256_init(&a);
    floe_sha256_init(&b);
    size_t common = na < nb ? na : nb;
    floe_sha256_update2(&a, pa, &b, pb, common);
    floe_sha256_update(&a, (const uint8_t *)pa + common, na - common);
    floe_sha256_update(&b, (const uint8_t *)pb + common, nb - common);
    floe_sha256_final(&a, outa);
    floe_sha256_final(&b, outb);
}
