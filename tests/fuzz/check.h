/* The fuzz targets' assertion: a broken invariant aborts, which libFuzzer reports as a crash
 * with the input that caused it (and the replay, tests/fuzz/replay.c, as a failed test). Not
 * assert(): it must stay in builds with NDEBUG. */
#ifndef EDO_FUZZ_CHECK_H
#define EDO_FUZZ_CHECK_H

#include <stdlib.h>

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond))                                                                          \
            abort();                                                                          \
    } while (0)

#endif
