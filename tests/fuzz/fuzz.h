/* fuzz.h - what every fuzz target shares: the libFuzzer entry point (driver.c
 * or libFuzzer's own main calls it) and CHECK, which aborts on a broken
 * invariant so that the fuzzer reports the input. */
#ifndef PETRI_FUZZ_H
#define PETRI_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#endif
