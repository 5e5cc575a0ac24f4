/*
 * fuzz.h - the libFuzzer entry point every tests/fuzz/fuzz_<parser>.c defines. Linked with
 * -fsanitize=fuzzer it is a real fuzzer (docs/contributing.md, Fuzzing); in plain CTest builds
 * replay.c drives it with the corpus in tests/fuzz/corpus/<parser>/ plus seeded random and
 * mutated inputs, so CI runs every parser on hostile bytes (under ASan+UBSan in the sanitizer
 * stage).
 */
#ifndef FLOE_FUZZ_H
#define FLOE_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
