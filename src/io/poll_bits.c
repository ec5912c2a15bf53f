/* The table behind edo__io_poll_bits (see poll_bits.h). A hang-up closes both directions; an
 * error wakes both, to find it. */
#include "io/poll_bits.h"

#define R EDO_READABLE
#define W EDO_WRITABLE
#define MAP(e)                                                                                    \
    ((((e) & (EPOLLIN | EPOLLPRI)) ? R : 0) | (((e) & EPOLLOUT) ? W : 0) |                        \
     (((e) & EPOLLHUP) ? R | W | EDO_READ_CLOSED | EDO_WRITE_CLOSED : 0) |                        \
     (((e) & EPOLLERR) ? R | W | EDO_IO_ERROR : 0))
#define MAP4(e) MAP(e), MAP((e) + 1), MAP((e) + 2), MAP((e) + 3)
#define MAP16(e) MAP4(e), MAP4((e) + 4), MAP4((e) + 8), MAP4((e) + 12)
_Static_assert((EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP) == 0x1f, "epoll's low bits");
const uint32_t edo__io_poll_low_bits[32] = {MAP16(0), MAP16(16)};
