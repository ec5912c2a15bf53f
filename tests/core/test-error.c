/* Error descriptions: the system's text for every errno value, edo's words for its own codes,
 * either sign, 0, unknown and extreme codes, stable strings, many threads at once; and the same
 * for the strerror_r build that libcs without strerrordesc_np get. */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "util.h"

/* src/core/error.c built a second time, on strerror_r and its cache (EDO_STRERROR_PORTABLE),
 * so this glibc machine tests the path other libcs take. */
const char *portable_strerror(int rc);
#define EDO_STRERROR_PORTABLE 1
#define edo_strerror portable_strerror
#include "core/error.c"
#undef edo_strerror

typedef const char *(*strerror_fn)(int rc);

/* The codes whose text is edo's own (error.h), each with a word its text must contain. */
static const struct {
    int code;
    const char *word;
} own[] = {
    {EPERM, "outside a runtime"}, {ECANCELED, "aborted"},     {ESHUTDOWN, "runtime"},
    {EALREADY, "result"},         {EDEADLK, "blocking wait"}, {ETIMEDOUT, "deadline"},
    {EPIPE, "other end"},         {ECHILD, "Nothing to wait"}, {ENOENT, "host name"},
    {EOVERFLOW, "broadcast"},     {EKEYREJECTED, "certificate"}, {ECONNABORTED, "close_notify"},
};
#define NOWN (sizeof own / sizeof *own)

static int is_own(int code)
{
    for (size_t i = 0; i < NOWN; i++)
        if (own[i].code == code)
            return 1;
    return 0;
}

static int is_unknown(const char *text) { return strncmp(text, "Unknown error", 13) == 0; }

/* Every errno value the C library knows gets its text (this test is single-threaded, so
 * strerror() is fine here as the reference); unknown ones read "Unknown error". */
static void system_texts(strerror_fn fn)
{
    int known = 0;
    for (int code = 1; code < 300; code++) {
        if (is_own(code))
            continue;
        const char *want = strerror(code);
        const char *got = fn(-code);
        CHECK(got != NULL);
        if (is_unknown(want)) {
            CHECK(is_unknown(got));
            continue;
        }
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "code %d: got \"%s\", want \"%s\"\n", code, got, want);
            CHECK(0);
        }
        known++;
    }
    CHECK(known > 100); /* Linux has some 130 */
    /* the ones issue 13 found reading "unknown error" */
    CHECK(strcmp(fn(-ECONNREFUSED), "Connection refused") == 0);
    CHECK(strcmp(fn(-ECONNRESET), "Connection reset by peer") == 0);
    CHECK(strcmp(fn(-EPROTO), "Protocol error") == 0);
    CHECK(strcmp(fn(-EINVAL), "Invalid argument") == 0);
}

TEST(system_text_for_every_errno) { system_texts(edo_strerror); }
TEST(system_text_for_every_errno_portable) { system_texts(portable_strerror); }

/* edo's own codes name both meanings: edo's, and the system's where the OS returns it too. */
static void own_texts(strerror_fn fn)
{
    for (size_t i = 0; i < NOWN; i++) {
        const char *text = fn(-own[i].code);
        if (!strstr(text, own[i].word)) {
            fprintf(stderr, "code %d: \"%s\" lacks \"%s\"\n", own[i].code, text, own[i].word);
            CHECK(0);
        }
    }
    CHECK(strstr(fn(-EPERM), "not permitted") != NULL); /* a firewall's EPERM is not a lie */
    CHECK(strstr(fn(-ETIMEDOUT), "connection timed out") != NULL);
    CHECK(strstr(fn(-ENOENT), "No such file") != NULL);
    CHECK(strstr(fn(-EPIPE), "Broken pipe") != NULL);
    CHECK(strcmp(fn(0), "Success") == 0);
}

TEST(own_codes_name_both_meanings) { own_texts(edo_strerror); }
TEST(own_codes_name_both_meanings_portable) { own_texts(portable_strerror); }

/* Either sign, and codes nobody defines: always a string, always the same one. */
static void signs_and_extremes(strerror_fn fn)
{
    CHECK(fn(ECONNREFUSED) == fn(-ECONNREFUSED));
    CHECK(fn(EPERM) == fn(-EPERM));
    CHECK(fn(0) == fn(0));
    static const int unknown[] = {INT_MIN, INT_MIN + 1, -123456, 123456, INT_MAX, 4096, -4096};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        const char *text = fn(unknown[i]);
        CHECK(text != NULL);
        CHECK(is_unknown(text));
        CHECK(fn(unknown[i]) == text);
    }
    /* Stable: a second description does not overwrite the first. */
    const char *reset = fn(-ECONNRESET);
    const char *proto = fn(-EPROTO);
    CHECK(fn(-ECONNRESET) == reset);
    CHECK(strcmp(reset, "Connection reset by peer") == 0);
    CHECK(strcmp(proto, "Protocol error") == 0);
}

TEST(either_sign_zero_and_unknown_codes) { signs_and_extremes(edo_strerror); }
TEST(either_sign_zero_and_unknown_codes_portable) { signs_and_extremes(portable_strerror); }

/* Many threads describing codes at once (the portable build fills its cache then) all see the
 * same strings as one thread does afterwards. */
enum { RACE_THREADS = 8, RACE_LOW = -300, RACE_HIGH = 300 };

typedef struct {
    strerror_fn fn;
    const char *seen[RACE_HIGH - RACE_LOW];
} race_arg;

static void *describe_all(void *arg)
{
    race_arg *r = arg;
    for (int round = 0; round < 3; round++)
        for (int code = RACE_LOW; code < RACE_HIGH; code++) {
            const char *text = r->fn(code);
            CHECK(text != NULL);
            if (round > 0)
                CHECK(r->seen[code - RACE_LOW] == text);
            r->seen[code - RACE_LOW] = text;
        }
    return NULL;
}

static void from_many_threads(strerror_fn fn)
{
    static race_arg args[RACE_THREADS];
    pthread_t threads[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        args[i].fn = fn;
        CHECK_EQ(pthread_create(&threads[i], NULL, describe_all, &args[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
    for (int code = RACE_LOW; code < RACE_HIGH; code++)
        for (int i = 0; i < RACE_THREADS; i++)
            CHECK(args[i].seen[code - RACE_LOW] == fn(code));
}

TEST(same_strings_from_many_threads) { from_many_threads(edo_strerror); }
TEST(same_strings_from_many_threads_portable) { from_many_threads(portable_strerror); }
