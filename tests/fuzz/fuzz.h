/*
 * The libFuzzer entry points.  A target defines LLVMFuzzerTestOneInput;
 * it is linked either with libFuzzer (clang -fsanitize=fuzzer, see
 * scripts/fuzz.sh) or with replay.c, which feeds it the committed corpus.
 */
#ifndef COFFER_FUZZ_H
#define COFFER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
