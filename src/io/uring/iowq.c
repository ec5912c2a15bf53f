/* Widening io-wq's bounded workers for a completion ring (see iowq.h). */
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io/uring/iowq.h"

/* The last ring this thread widened (or found set), and its fd: a ring freed and another made
 * at the same address with the same fd would be taken for it, costing only the widening. */
static _Thread_local const edo__cring *seen;
static _Thread_local int seen_fd = -1;

static int iowq_limits(int ring_fd, unsigned limits[2])
{
    return (int)syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_IOWQ_MAX_WORKERS,
                        limits, 2);
}

void edo__iowq_widen(edo__cring *c)
{
    if (seen == c && seen_fd == c->ring.fd)
        return;
    seen = c;
    seen_fd = c->ring.fd;
    unsigned now[2] = {0, 0}; /* zeros ask: this thread's io-wq's limits, 0 when it has none */
    if (iowq_limits(c->ring.fd, now) < 0)
        return;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned by_default = cpus > 0 && (unsigned long)cpus * 4 < c->ring.sq_entries
                              ? (unsigned)cpus * 4
                              : c->ring.sq_entries;
    if (now[0] != 0 && (now[0] < by_default || now[0] >= EDO__IOWQ_BOUNDED))
        return; /* someone chose a lower limit, or it is wide enough */
    unsigned wide[2] = {EDO__IOWQ_BOUNDED, 0}; /* 0: the unbounded limit stays */
    iowq_limits(c->ring.fd, wide);
}
