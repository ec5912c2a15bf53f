/* A tiny test harness: each TEST(name) is its own ctest test (CMake reads the names from the
 * source), run as `test-binary name`; `test-binary` alone runs them all. */
#ifndef EDO_TEST_HARNESS_H
#define EDO_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);

#define TEST(name)                                                                             \
    static void test_##name(void);                                                             \
    __attribute__((constructor)) static void register_##name(void)                            \
    {                                                                                          \
        test_register(#name, test_##name);                                                     \
    }                                                                                          \
    static void test_##name(void)

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                                         \
    do {                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                    \
        if (a_ != b_) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__,     \
                    __LINE__, #a, #b, a_, b_);                                                 \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
