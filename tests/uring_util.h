/* Helpers of the tests that exercise the io_uring backend: whether the kernel gives a ring (else
 * those cases skip), whether it receives by completion, and what a closed socket's peer sees. */
#ifndef EDO_TEST_URING_UTIL_H
#define EDO_TEST_URING_UTIL_H

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"
#include "io/uring/ring.h"

/* Whether this kernel gives a ring at all; says the case is skipped when not. */
static inline bool have_uring(void)
{
    edo__ring r;
    if (edo__ring_init(&r, NULL) < 0) {
        fprintf(stderr, "no io_uring here: skipped\n");
        return false;
    }
    edo__ring_destroy(&r);
    return true;
}

/* Whether the kernel has what receiving by completion needs (multishot receive, buffer rings):
 * then an io_uring runtime's workers must receive so, or a test would pass without exercising
 * it. */
static inline bool uring_receives(void)
{
    edo__ring r;
    if (edo__ring_init(&r, NULL) < 0)
        return false;
    bool yes =
        edo__ring_probe_recv_multishot(&r, 7) == 1 && edo__ring_probe_buf_ring(&r, 7, 0) == 1;
    edo__ring_destroy(&r);
    return yes;
}

/* Whether the kernel consumes provided buffers in parts (EDO__PBUF_RING_INC), asked of a ring
 * of its own: then an io_uring runtime's workers must consume theirs so (unless told not to). */
static inline bool uring_buffers_in_parts(void)
{
    edo__ring r;
    if (edo__ring_init(&r, NULL) < 0)
        return false;
    bool yes = edo__ring_probe_buf_ring(&r, 7, EDO__PBUF_RING_INC) == 1;
    edo__ring_destroy(&r);
    return yes;
}

/* The peer of a socket whose other end was deregistered and closed sees its end of file: only
 * once no poll or receive holds the socket (a bound, not a sleep: poll returns at the end of
 * file). Closes it. */
static inline void expect_peer_eof(int peer)
{
    struct pollfd pfd = {.fd = peer, .events = POLLIN};
    CHECK_EQ(poll(&pfd, 1, 10000), 1);
    char c;
    CHECK_EQ(read(peer, &c, 1), 0);
    close(peer);
}

#endif
