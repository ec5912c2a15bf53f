/* What edo's socket types share: the operation loop over a registration (try, and when it would
 * block, clear the readiness and wait), socket creation, options and addresses. */
#ifndef EDO_NET_SOCK_H
#define EDO_NET_SOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "edo/io.h"
#include "edo/net.h"
#include "io/driver.h"

/* One attempt at an operation on `fd`: returns a result >= 0, or -errno (-EAGAIN: would
 * block). Sets *drained when the result shows the kernel's buffer is now empty (a short read)
 * or full (a short write), so no new edge is missed by waiting at once. */
typedef ssize_t (*edo__sock_op_fn)(int fd, void *ctx, bool *drained);

/* Runs `op` in the calling coroutine until it does not return -EAGAIN, waiting for `dir`
 * (EDO_READABLE or EDO_WRITABLE) in between; every completed operation takes a unit of the
 * cooperative budget. Returns op's result, or -EPERM (not in a coroutine), -ECANCELED,
 * -ETIMEDOUT, -EBADF (deregistered meanwhile). */
ssize_t edo__sock_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx);

/* Registers an fd the caller made (closing it on failure). */
int edo__sock_adopt(edo_runtime *rt, edo_io **out, int fd);
/* Deregisters and closes. */
void edo__sock_close(edo_io *io);
/* A new socket of `type` connected to `addr` (waiting for the outcome), registered. */
int edo__sock_connect(edo_io **out, int type, const edo_sockaddr *addr);
int edo__sock_local_addr(const edo_io *io, edo_sockaddr *out);
int edo__sock_peer_addr(const edo_io *io, edo_sockaddr *out);

#endif
