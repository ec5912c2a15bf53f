/* The byte buffer and its shared slices (edo/bytes.h): growth, consuming without moving,
 * splitting without copying, reclaiming the consumed front, freezing, slices shared across
 * threads, and every kind of bad input. Under ASan a leaked block fails the test. */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "harness.h"
#include "util.h"

/* huge_reserve_fails_cleanly asks for more memory than exists: the sanitizers' allocators must
 * answer NULL (as malloc does) instead of stopping the program. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#elif defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

static bool holds(const edo_bytes *b, const char *text)
{
    size_t n = strlen(text);
    return edo_bytes_len(b) == n && (n == 0 || memcmp(edo_bytes_data(b), text, n) == 0);
}

static bool slice_holds(const edo_bytes_slice *s, const char *text)
{
    size_t n = strlen(text);
    return edo_bytes_slice_len(s) == n && (n == 0 || memcmp(edo_bytes_slice_data(s), text, n) == 0);
}

TEST(append_grow_and_advance)
{
    edo_bytes b = EDO_BYTES_INIT;
    CHECK(holds(&b, ""));
    CHECK_EQ(edo_bytes_spare_len(&b), 0);
    /* 100,000 appends of 7 bytes: growth keeps every byte in order. */
    for (unsigned i = 0; i < 100000; i++) {
        char rec[8];
        snprintf(rec, sizeof rec, "%06u,", i % 1000000);
        CHECK_EQ(edo_bytes_append(&b, rec, 7), 0);
    }
    CHECK_EQ(edo_bytes_len(&b), 700000);
    for (unsigned i = 0; i < 100000; i++) {
        char rec[8];
        snprintf(rec, sizeof rec, "%06u,", i);
        CHECK(memcmp(edo_bytes_data(&b), rec, 7) == 0);
        const uint8_t *next = edo_bytes_data(&b) + 7;
        CHECK_EQ(edo_bytes_advance(&b, 7), 0);
        /* consuming moves nothing: the next record is where it was */
        if (i + 1 < 100000)
            CHECK(edo_bytes_data(&b) == next);
    }
    CHECK_EQ(edo_bytes_len(&b), 0);
    edo_bytes_drop(&b);
    CHECK(holds(&b, ""));
    edo_bytes_drop(&b); /* twice: still fine */
}

TEST(spare_and_commit)
{
    edo_bytes b;
    edo_bytes_init(&b);
    size_t n;
    CHECK(edo_bytes_spare(&b, &n) == NULL);
    CHECK_EQ(n, 0);
    CHECK_EQ(edo_bytes_reserve(&b, 10), 0);
    CHECK(edo_bytes_spare_len(&b) >= 10);
    uint8_t *p = edo_bytes_spare(&b, &n);
    CHECK(p != NULL && n >= 10);
    memcpy(p, "hello", 5);
    CHECK_EQ(edo_bytes_commit(&b, 5), 0);
    CHECK(holds(&b, "hello"));
    CHECK_EQ(edo_bytes_commit(&b, edo_bytes_spare_len(&b) + 1), -EINVAL);
    CHECK(holds(&b, "hello"));
    edo_bytes_clear(&b);
    CHECK(holds(&b, ""));
    edo_bytes_drop(&b);
}

/* A window filled at the back and consumed at the front, as a buffered reader uses it, keeps
 * its one allocation: the consumed front is reused. */
TEST(window_reclaims_consumed_front)
{
    edo_bytes b = EDO_BYTES_INIT;
    CHECK_EQ(edo_bytes_reserve(&b, 4096), 0);
    size_t cap = edo_bytes_spare_len(&b);
    char chunk[1000];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 10000; i++) {
        CHECK_EQ(edo_bytes_reserve(&b, sizeof chunk), 0);
        CHECK_EQ(edo_bytes_append(&b, chunk, sizeof chunk), 0);
        /* consume all but a partial record, as lines leave a partial last line */
        CHECK_EQ(edo_bytes_advance(&b, edo_bytes_len(&b) - (size_t)(i % 97)), 0);
        CHECK(edo_bytes_len(&b) + edo_bytes_spare_len(&b) <= cap);
    }
    edo_bytes_drop(&b);
}

TEST(split_to_shares_then_reclaims)
{
    edo_bytes b = EDO_BYTES_INIT;
    CHECK_EQ(edo_bytes_append(&b, "line one\nline two\nrest", 22), 0);
    const uint8_t *start = edo_bytes_data(&b);
    edo_bytes one, two;
    CHECK_EQ(edo_bytes_split_to(&b, 9, &one), 0);
    CHECK_EQ(edo_bytes_split_to(&b, 9, &two), 0);
    CHECK(holds(&one, "line one\n") && holds(&two, "line two\n") && holds(&b, "rest"));
    CHECK(edo_bytes_data(&one) == start);     /* not copied */
    CHECK(edo_bytes_data(&two) == start + 9); /* not copied */
    /* a piece grows independently: appending to `one` must not overwrite `two` */
    CHECK_EQ(edo_bytes_append(&one, "ONE", 3), 0);
    CHECK(holds(&one, "line one\nONE") && holds(&two, "line two\n") && holds(&b, "rest"));
    /* and `b` appends after "rest" without touching the pieces */
    CHECK_EQ(edo_bytes_append(&b, "!", 1), 0);
    CHECK(holds(&two, "line two\n") && holds(&b, "rest!"));
    edo_bytes_drop(&one);
    edo_bytes_drop(&two);
    /* b is alone again: consuming it and reserving reuses the front (no new allocation) */
    CHECK_EQ(edo_bytes_advance(&b, 5), 0);
    CHECK_EQ(edo_bytes_reserve(&b, 20), 0);
    CHECK(edo_bytes_spare(&b, &(size_t){0}) == start);
    CHECK_EQ(edo_bytes_split_to(&b, 1, &one), -EINVAL);
    CHECK_EQ(edo_bytes_split_to(&b, 0, &one), 0);
    CHECK(holds(&one, ""));
    edo_bytes_drop(&b);
}

TEST(unsplit_joins_adjacent_or_copies)
{
    edo_bytes b = EDO_BYTES_INIT, front;
    CHECK_EQ(edo_bytes_append(&b, "abcdef", 6), 0);
    const uint8_t *start = edo_bytes_data(&b);
    CHECK_EQ(edo_bytes_split_to(&b, 2, &front), 0);
    CHECK_EQ(edo_bytes_unsplit(&front, &b), 0); /* adjacent: O(1) */
    CHECK(holds(&front, "abcdef") && edo_bytes_data(&front) == start);
    CHECK(holds(&b, ""));
    /* not adjacent (another buffer): a copy */
    edo_bytes other = EDO_BYTES_INIT;
    CHECK_EQ(edo_bytes_append(&other, "gh", 2), 0);
    CHECK_EQ(edo_bytes_unsplit(&front, &other), 0);
    CHECK(holds(&front, "abcdefgh") && holds(&other, ""));
    /* into an empty buffer: the view moves over */
    CHECK_EQ(edo_bytes_unsplit(&b, &front), 0);
    CHECK(holds(&b, "abcdefgh") && holds(&front, ""));
    CHECK_EQ(edo_bytes_unsplit(&b, &b), -EINVAL);
    edo_bytes_drop(&b);
}

TEST(freeze_clone_and_sub)
{
    edo_bytes b = EDO_BYTES_INIT, head;
    CHECK_EQ(edo_bytes_append(&b, "hello, world", 12), 0);
    CHECK_EQ(edo_bytes_split_to(&b, 5, &head), 0);
    edo_bytes_slice s, c, sub;
    CHECK_EQ(edo_bytes_freeze(&head, &s), 0);
    CHECK(holds(&head, "") && slice_holds(&s, "hello"));
    CHECK_EQ(edo_bytes_slice_clone(&s, &c), 0);
    CHECK(edo_bytes_slice_data(&c) == edo_bytes_slice_data(&s));
    CHECK_EQ(edo_bytes_slice_sub(&s, 1, 3, &sub), 0);
    CHECK(slice_holds(&sub, "ell"));
    CHECK_EQ(edo_bytes_slice_sub(&sub, 1, 2, &sub), 0); /* narrowing in place */
    CHECK(slice_holds(&sub, "ll"));
    edo_bytes_slice_drop(&c);
    CHECK_EQ(edo_bytes_slice_sub(&s, 5, 0, &c), 0); /* empty, at the end */
    CHECK(slice_holds(&c, ""));
    edo_bytes_slice_drop(&s);
    /* the frozen bytes outlive both the buffer and the first slice */
    CHECK(holds(&b, ", world"));
    CHECK_EQ(edo_bytes_advance(&b, 7), 0);
    CHECK_EQ(edo_bytes_reserve(&b, 64), 0); /* may not reuse the front while `sub` exists */
    CHECK_EQ(edo_bytes_append(&b, "zzzzzzzzzzzz", 12), 0);
    CHECK(slice_holds(&sub, "ll"));
    edo_bytes_slice_drop(&sub);
    edo_bytes_drop(&b);
    /* an empty buffer freezes into an empty slice */
    CHECK_EQ(edo_bytes_reserve(&b, 8), 0);
    CHECK_EQ(edo_bytes_freeze(&b, &s), 0);
    CHECK(slice_holds(&s, ""));
    edo_bytes_slice_drop(&s);
    CHECK_EQ(edo_bytes_slice_copy("copied", 6, &s), 0);
    CHECK(slice_holds(&s, "copied"));
    edo_bytes_slice_drop(&s);
}

/* Slices of one allocation cloned, read and dropped on four threads at once: the last drop
 * frees it (TSan checks the reference count, ASan the free). */
#define SHARERS 4
#define SHARE_ROUNDS 20000

static void *share_slice(void *arg)
{
    const edo_bytes_slice *s = arg;
    unsigned sum = 0;
    for (int i = 0; i < SHARE_ROUNDS; i++) {
        edo_bytes_slice c;
        CHECK_EQ(edo_bytes_slice_sub(s, (size_t)i % 10, 1, &c), 0);
        sum += edo_bytes_slice_data(&c)[0] - '0';
        edo_bytes_slice_drop(&c);
    }
    return (void *)(uintptr_t)sum;
}

TEST(slices_across_threads)
{
    edo_bytes b = EDO_BYTES_INIT;
    CHECK_EQ(edo_bytes_append(&b, "0123456789", 10), 0);
    edo_bytes_slice s[SHARERS];
    edo_bytes_slice whole;
    CHECK_EQ(edo_bytes_freeze(&b, &whole), 0);
    pthread_t th[SHARERS];
    for (int i = 0; i < SHARERS; i++) {
        CHECK_EQ(edo_bytes_slice_clone(&whole, &s[i]), 0);
        CHECK_EQ(pthread_create(&th[i], NULL, share_slice, &s[i]), 0);
    }
    edo_bytes_slice_drop(&whole);
    for (int i = 0; i < SHARERS; i++) {
        void *sum;
        CHECK_EQ(pthread_join(th[i], &sum), 0);
        CHECK_EQ((uintptr_t)sum, SHARE_ROUNDS / 10 * 45);
        edo_bytes_slice_drop(&s[i]);
    }
}

/* Pieces split off one buffer go to four threads, which each overwrite and grow their own
 * piece while the others do the same (disjoint parts of one allocation: TSan checks), then drop
 * it; once all are dropped the buffer reuses the whole allocation. */
static void *scribble_piece(void *arg)
{
    edo_bytes *piece = arg;
    uint8_t *p = edo_bytes_data_mut(piece); /* the piece's own bytes */
    for (int round = 0; round < 100; round++)
        memset(p, 'a' + round % 26, edo_bytes_len(piece));
    CHECK_EQ(edo_bytes_append(piece, "more", 4), 0); /* cannot grow in place: a copy */
    CHECK(memcmp(edo_bytes_data(piece) + edo_bytes_len(piece) - 4, "more", 4) == 0);
    edo_bytes_drop(piece);
    return NULL;
}

TEST(pieces_on_other_threads)
{
    edo_bytes b = EDO_BYTES_INIT;
    uint8_t block[4096];
    memset(block, 'x', sizeof block);
    CHECK_EQ(edo_bytes_append(&b, block, sizeof block), 0);
    const uint8_t *start = edo_bytes_data(&b);
    edo_bytes pieces[SHARERS];
    pthread_t th[SHARERS];
    for (int i = 0; i < SHARERS; i++) {
        CHECK_EQ(edo_bytes_split_to(&b, 1000, &pieces[i]), 0);
        CHECK_EQ(pthread_create(&th[i], NULL, scribble_piece, &pieces[i]), 0);
    }
    CHECK_EQ(edo_bytes_len(&b), 96);
    CHECK(edo_bytes_data(&b)[0] == 'x' && edo_bytes_data(&b)[95] == 'x');
    for (int i = 0; i < SHARERS; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    edo_bytes_clear(&b);
    CHECK_EQ(edo_bytes_reserve(&b, 4000), 0);
    size_t room;
    CHECK(edo_bytes_spare(&b, &room) == start); /* the whole allocation is back */
    CHECK(room >= 4096);
    edo_bytes_drop(&b);
}

TEST(bad_input)
{
    edo_bytes b = EDO_BYTES_INIT;
    edo_bytes_slice s = {0};
    size_t n = 1;
    edo_bytes_init(NULL);
    edo_bytes_drop(NULL);
    edo_bytes_clear(NULL);
    CHECK(edo_bytes_data(NULL) == NULL);
    CHECK(edo_bytes_data_mut(NULL) == NULL);
    CHECK_EQ(edo_bytes_len(NULL), 0);
    CHECK_EQ(edo_bytes_spare_len(NULL), 0);
    CHECK_EQ(edo_bytes_reserve(NULL, 1), -EINVAL);
    CHECK_EQ(edo_bytes_reserve(&b, SIZE_MAX), -EINVAL);
    CHECK_EQ(edo_bytes_reserve(&b, EDO_BYTES_MAX + 1), -EINVAL);
    CHECK_EQ(edo_bytes_append(NULL, "x", 1), -EINVAL);
    CHECK_EQ(edo_bytes_append(&b, NULL, 1), -EINVAL);
    CHECK_EQ(edo_bytes_append(&b, NULL, 0), 0);
    CHECK_EQ(edo_bytes_append(&b, "abc", 3), 0);
    CHECK_EQ(edo_bytes_reserve(&b, EDO_BYTES_MAX - 2), -EINVAL); /* 3 + that overflows the max */
    CHECK_EQ(edo_bytes_append(&b, "x", SIZE_MAX), -EINVAL);
    CHECK(holds(&b, "abc"));
    CHECK(edo_bytes_spare(NULL, &n) == NULL);
    CHECK_EQ(n, 0);
    CHECK(edo_bytes_spare(&b, NULL) == NULL);
    CHECK_EQ(edo_bytes_commit(NULL, 0), -EINVAL);
    CHECK_EQ(edo_bytes_commit(&b, SIZE_MAX), -EINVAL);
    CHECK_EQ(edo_bytes_advance(NULL, 0), -EINVAL);
    CHECK_EQ(edo_bytes_advance(&b, 4), -EINVAL);
    CHECK_EQ(edo_bytes_advance(&b, SIZE_MAX), -EINVAL);
    CHECK(holds(&b, "abc"));
    edo_bytes front;
    CHECK_EQ(edo_bytes_split_to(NULL, 0, &front), -EINVAL);
    CHECK_EQ(edo_bytes_split_to(&b, 0, NULL), -EINVAL);
    CHECK_EQ(edo_bytes_split_to(&b, 0, &b), -EINVAL);
    CHECK_EQ(edo_bytes_split_to(&b, 4, &front), -EINVAL);
    CHECK_EQ(edo_bytes_unsplit(NULL, &b), -EINVAL);
    CHECK_EQ(edo_bytes_unsplit(&b, NULL), -EINVAL);
    CHECK_EQ(edo_bytes_freeze(NULL, &s), -EINVAL);
    CHECK_EQ(edo_bytes_freeze(&b, NULL), -EINVAL);
    CHECK(holds(&b, "abc"));
    edo_bytes_slice_init(NULL);
    edo_bytes_slice_drop(NULL);
    CHECK(edo_bytes_slice_data(NULL) == NULL);
    CHECK_EQ(edo_bytes_slice_len(NULL), 0);
    CHECK_EQ(edo_bytes_slice_copy(NULL, 1, &s), -EINVAL);
    CHECK_EQ(edo_bytes_slice_copy("x", 1, NULL), -EINVAL);
    CHECK_EQ(edo_bytes_slice_copy("x", SIZE_MAX, &s), -EINVAL);
    CHECK_EQ(edo_bytes_slice_copy(NULL, 0, &s), 0);
    CHECK(slice_holds(&s, ""));
    CHECK_EQ(edo_bytes_freeze(&b, &s), 0);
    edo_bytes_slice c;
    CHECK_EQ(edo_bytes_slice_clone(NULL, &c), -EINVAL);
    CHECK_EQ(edo_bytes_slice_clone(&s, NULL), -EINVAL);
    CHECK_EQ(edo_bytes_slice_sub(&s, 4, 0, &c), -EINVAL);
    CHECK_EQ(edo_bytes_slice_sub(&s, 1, 3, &c), -EINVAL);
    CHECK_EQ(edo_bytes_slice_sub(&s, 1, SIZE_MAX, &c), -EINVAL);
    CHECK_EQ(edo_bytes_slice_sub(&s, SIZE_MAX, 1, &c), -EINVAL);
    CHECK(slice_holds(&s, "abc"));
    edo_bytes_slice_drop(&s);
}

/* An allocation the system refuses (-ENOMEM) leaves the buffer as it was. */
TEST(huge_reserve_fails_cleanly)
{
    edo_bytes b = EDO_BYTES_INIT;
    CHECK_EQ(edo_bytes_append(&b, "keep", 4), 0);
    int rc = edo_bytes_reserve(&b, EDO_BYTES_MAX - 4);
    CHECK(rc == -ENOMEM);
    CHECK(holds(&b, "keep"));
    edo_bytes_drop(&b);
}
