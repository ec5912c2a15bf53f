/* Gathering iovecs into one buffer, and comparing them with one: for writes whose bytes must be copied before they go (a
 * file write on the blocking pool, a socket's send through the completion ring), because the
 * caller may take its buffers back before the system call runs. */
#ifndef EDO_PLATFORM_IOV_H
#define EDO_PLATFORM_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>

/* The bytes the iovecs hold, counted up to `max` at most. */
static inline size_t edo__iov_len_capped(const struct iovec *iov, int iovcnt, size_t max)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt && total < max; i++)
        total += iov[i].iov_len;
    return total < max ? total : max;
}

/* Copies the first `len` bytes of the iovecs (they hold at least that many) to `dst`. */
static inline void edo__iov_gather(char *dst, const struct iovec *iov, int iovcnt, size_t len)
{
    size_t at = 0;
    for (int i = 0; i < iovcnt && at < len; i++) {
        size_t n = iov[i].iov_len < len - at ? iov[i].iov_len : len - at;
        if (n)
            memcpy(dst + at, iov[i].iov_base, n);
        at += n;
    }
}

/* Whether the first `len` bytes of the iovecs (they hold at least that many) are those at
 * `bytes`. */
static inline bool edo__iov_equal(const char *bytes, const struct iovec *iov, int iovcnt,
                                  size_t len)
{
    size_t at = 0;
    for (int i = 0; i < iovcnt && at < len; i++) {
        size_t n = iov[i].iov_len < len - at ? iov[i].iov_len : len - at;
        if (n && memcmp(bytes + at, iov[i].iov_base, n) != 0)
            return false;
        at += n;
    }
    return true;
}

#endif
