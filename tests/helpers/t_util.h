/*
 * t_util.h - helpers for floe's cmocka tests: temp files, a seeded PRNG, running python3
 * (botocore / hashlib reference implementations) and reading its output.
 * Not thread-safe; tests call them from the main thread.
 */
#ifndef FLOE_T_UTIL_H
#define FLOE_T_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <cmocka.h>

/* Seeded xorshift64* PRNG. The seed comes from FLOE_TEST_SEED or the clock, and is printed so a
 * failing run can be replayed. */
uint64_t t_seed(void);
uint64_t t_rand(void);
uint64_t t_rand_below(uint64_t n); /* uniform in [0, n) */
void t_fill_random(void *p, size_t n);

/* Writes n bytes to a fresh file under a per-process temp dir; returns the malloc'd path. */
char *t_write_temp(const char *name, const void *data, size_t n);
/* Per-process temp directory (created on first call, removed by t_cleanup_temp). */
const char *t_temp_dir(void);
void t_cleanup_temp(void);

/* Runs `python3 -c <code> [args...]` (args NULL-terminated) and returns its stdout as a
 * malloc'd NUL-terminated string; fails the test if python exits non-zero. */
char *t_python(const char *code, ...);

/* Hex helpers. */
void t_hex(const uint8_t *p, size_t n, char *out /* 2n+1 */);

#endif
