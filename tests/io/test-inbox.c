/* The inbox alone (io/inbox.h), without a kernel: bytes in order across its wrap and its
 * growth, peeks, reads into several iovecs, the end of the stream after the bytes (an error
 * once, then end of file), and the receive's states: stopped at the cap, armed again only once
 * the reader has drained it to half, asked for once. */
#include <errno.h>
#include <string.h>

#include "harness.h"
#include "io/inbox.h"

static ssize_t take(edo__inbox *in, void *buf, size_t len, bool peek, bool *ask)
{
    struct iovec v = {buf, len};
    bool drained;
    return edo__inbox_take(in, &v, 1, peek, &drained, ask);
}

TEST(bytes_in_order_across_wrap_and_growth)
{
    edo__inbox_set_cap((size_t)1 << 30); /* no stop here: only the bytes are looked at */
    edo__inbox *in = edo__inbox_new();
    CHECK(in);
    edo__inbox_reset(in);
    unsigned char chunk[1500], out[2000];
    size_t put = 0, got = 0;
    bool ask;
    /* Uneven puts and takes: the circular buffer wraps, and grows while wrapped. */
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)(round * 37) % sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (unsigned char)(put + i);
        CHECK_EQ(edo__inbox_put(in, chunk, n), EDO__INBOX_NOTHING);
        put += n;
        if (round % 3 == 2) { /* a take of part of it, every third round */
            ssize_t m = take(in, out, 1 + (size_t)(round * 53) % sizeof out, false, &ask);
            CHECK(m > 0);
            for (ssize_t i = 0; i < m; i++)
                CHECK_EQ(out[i], (unsigned char)(got + (size_t)i));
            got += (size_t)m;
        }
    }
    while (got < put) {
        ssize_t m = take(in, out, sizeof out, false, &ask);
        CHECK(m > 0);
        for (ssize_t i = 0; i < m; i++)
            CHECK_EQ(out[i], (unsigned char)(got + (size_t)i));
        got += (size_t)m;
    }
    CHECK_EQ(take(in, out, sizeof out, false, &ask), -EAGAIN);
    edo__inbox_free(in);
    edo__inbox_set_cap(0);
}

TEST(peek_iovecs_and_the_end_after_the_bytes)
{
    edo__inbox *in = edo__inbox_new();
    CHECK(in);
    edo__inbox_reset(in);
    CHECK_EQ(edo__inbox_put(in, "hello world", 11), EDO__INBOX_NOTHING);
    bool closed, ask, drained;
    CHECK_EQ(edo__inbox_ended(in, -ECONNRESET, &closed), EDO__INBOX_NOTHING);
    CHECK(closed);
    char a[5], b[3], peeked[20];
    CHECK_EQ(take(in, peeked, sizeof peeked, true, &ask), 11);
    CHECK(memcmp(peeked, "hello world", 11) == 0);
    struct iovec v[2] = {{a, sizeof a}, {b, sizeof b}};
    CHECK_EQ(edo__inbox_take(in, v, 2, false, &drained, &ask), 8);
    CHECK(!drained); /* bytes are left */
    CHECK(memcmp(a, "hello", 5) == 0 && memcmp(b, " wo", 3) == 0);
    CHECK_EQ(take(in, peeked, sizeof peeked, false, &ask), 3);
    CHECK(memcmp(peeked, "rld", 3) == 0);
    CHECK_EQ(take(in, peeked, sizeof peeked, false, &ask), -ECONNRESET); /* once */
    CHECK_EQ(take(in, peeked, sizeof peeked, false, &ask), 0);
    CHECK_EQ(take(in, peeked, sizeof peeked, false, &ask), 0);
    /* A registration's end frees the bytes; a late reader sees end of file. */
    edo__inbox_reset(in);
    CHECK_EQ(edo__inbox_put(in, "x", 1), EDO__INBOX_NOTHING);
    edo__inbox_clear(in);
    CHECK_EQ(take(in, peeked, sizeof peeked, false, &ask), 0);
    edo__inbox_free(in);
}

TEST(cap_stops_the_receive_and_the_reader_asks_once)
{
    edo__inbox_set_cap(1000);
    edo__inbox *in = edo__inbox_new();
    CHECK(in);
    edo__inbox_reset(in);
    char buf[600] = {0};
    bool closed, ask;
    CHECK_EQ(edo__inbox_put(in, buf, 600), EDO__INBOX_NOTHING);
    CHECK_EQ(edo__inbox_put(in, buf, 600), EDO__INBOX_CANCEL); /* 1200 >= 1000: stop it */
    CHECK_EQ(edo__inbox_put(in, buf, 100), EDO__INBOX_NOTHING); /* in flight: still kept */
    /* Its cancellation completes: stopped, the inbox above half the cap. */
    CHECK_EQ(edo__inbox_ended(in, -ECANCELED, &closed), EDO__INBOX_NOTHING);
    CHECK(!closed);
    CHECK_EQ(take(in, buf, 600, false, &ask), 600); /* 700 left: above 500 */
    CHECK(!ask);
    CHECK_EQ(take(in, buf, 300, false, &ask), 300); /* 400 left: ask for more */
    CHECK(ask);
    CHECK_EQ(take(in, buf, 100, false, &ask), 100);
    CHECK(!ask); /* asked already */
    CHECK_EQ(edo__inbox_service(in), EDO__INBOX_ARM);
    CHECK_EQ(edo__inbox_service(in), EDO__INBOX_NOTHING); /* receiving again */
    /* Out of buffers while receiving, drained: armed again at once; above half: stopped. */
    CHECK_EQ(edo__inbox_ended(in, -ENOBUFS, &closed), EDO__INBOX_ARM);
    CHECK_EQ(edo__inbox_put(in, buf, 600), EDO__INBOX_NOTHING); /* 900 */
    CHECK_EQ(edo__inbox_ended(in, -ENOBUFS, &closed), EDO__INBOX_NOTHING);
    CHECK(!closed);
    CHECK_EQ(take(in, buf, 500, false, &ask), 500);
    CHECK(ask);
    /* End of file while stopped: recorded after the bytes, nothing more to arm. */
    CHECK_EQ(edo__inbox_ended(in, 0, &closed), EDO__INBOX_NOTHING);
    CHECK(closed);
    CHECK_EQ(edo__inbox_service(in), EDO__INBOX_NOTHING);
    CHECK_EQ(take(in, buf, sizeof buf, false, &ask), 400);
    CHECK_EQ(take(in, buf, sizeof buf, false, &ask), 0);
    edo__inbox_free(in);
    edo__inbox_set_cap(0);
}
