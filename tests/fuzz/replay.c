/*
 * replay.c - runs a fuzz target without libFuzzer: every file of the corpus directory given as
 * argv[1], then FLOE_FUZZ_ITERATIONS (default 20000) inputs made by a seeded PRNG: random
 * bytes, and corpus entries with random bytes flipped, inserted, deleted or truncated.
 * A crash or sanitizer report fails the test; the seed is printed for replay (FLOE_TEST_SEED).
 */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t s_rng;

static uint64_t next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

struct entry {
    uint8_t *data;
    size_t len;
};

static int load(const char *dir, struct entry **out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open corpus %s\n", dir);
        return -1;
    }
    struct dirent *de;
    size_t cap = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t *buf = malloc(1 << 20);
        size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
        fclose(f);
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = realloc(*out, cap * sizeof(**out));
        }
        (*out)[*n].data = buf;
        (*out)[*n].len = len;
        (*n)++;
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const char *seed_env = getenv("FLOE_TEST_SEED");
    s_rng = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
    if (!s_rng)
        s_rng = 1;
    fprintf(stderr, "# FLOE_TEST_SEED=%llu\n", (unsigned long long)s_rng);
    struct entry *corpus = NULL;
    size_t ncorpus = 0;
    if (load(argv[1], &corpus, &ncorpus))
        return 1;
    for (size_t i = 0; i < ncorpus; i++)
        LLVMFuzzerTestOneInput(corpus[i].data, corpus[i].len);
    const char *it = getenv("FLOE_FUZZ_ITERATIONS");
    long iterations = it ? strtol(it, NULL, 10) : 20000;
    uint8_t *buf = malloc(1 << 16);
    for (long k = 0; k < iterations; k++) {
        size_t len;
        if (ncorpus && next() % 4) { /* mutate a corpus entry */
            const struct entry *e = &corpus[next() % ncorpus];
            len = e->len < (1 << 16) ? e->len : (1 << 16);
            memcpy(buf, e->data, len);
            int edits = 1 + (int)(next() % 8);
            for (int j = 0; j < edits && len; j++) {
                size_t at = next() % len;
                switch (next() % 4) {
                case 0: buf[at] = (uint8_t)next(); break;
                case 1: buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
                case 2: len = at; break; /* truncate */
                default:
                    if (len < (1 << 16) - 1) { /* insert */
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = (uint8_t)next();
                        len++;
                    }
                }
            }
        } else {
            len = next() % 512;
            for (size_t j = 0; j < len; j++)
                buf[j] = (uint8_t)(next() % 4 ? 0x20 + next() % 95 : next());
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("replay: %zu corpus entries and %ld generated inputs, no crash\n", ncorpus, iterations);
    for (size_t i = 0; i < ncorpus; i++)
        free(corpus[i].data);
    free(corpus);
    free(buf);
    return 0;
}
