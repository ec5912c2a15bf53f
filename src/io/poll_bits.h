/* poll(2)'s event bits in edo's readiness terms (EDO_READABLE ...), shared by the backends that
 * report them: epoll's events and io_uring's poll completions carry the same bits (EPOLLIN is
 * POLLIN, and so on). */
#ifndef EDO_IO_POLL_BITS_H
#define EDO_IO_POLL_BITS_H

#include <stdint.h>
#include <sys/epoll.h>

#include "edo/io.h"

/* By the five low bits (IN, PRI, OUT, ERR, HUP): a load rather than a chain of tests, as the
 * translation runs for every event. */
extern const uint32_t edo__io_poll_low_bits[32];

static inline uint32_t edo__io_poll_bits(uint32_t events)
{
    uint32_t bits = edo__io_poll_low_bits[events & 0x1f];
    if (events & EPOLLRDHUP) /* the peer shut down its side */
        bits |= EDO_READABLE | EDO_READ_CLOSED;
    return bits;
}

#endif
