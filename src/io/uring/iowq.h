/* The kernel's worker threads behind a completion ring (io-wq): how many may run at once.
 *
 * What io_uring cannot do without blocking it hands to io-wq, whose "bounded" workers (those
 * for regular files and block devices: buffered writes on file systems without non-blocking
 * buffered writes, ext4's among them; fsync; opens that create) are by default at most
 * min(SQ entries, 4 x CPUs): 8 on a 2-CPU machine. A stream write queued behind 8 fsyncs of
 * other files then waits for one of them to end, where the blocking pool would have run it at
 * once (fs_write_fsync on the ring: 8% slower than on the pool with 8, 6% faster with 64). */
#ifndef EDO_IO_URING_IOWQ_H
#define EDO_IO_URING_IOWQ_H

#include "io/uring/completions.h"

/* The bounded io-wq workers a completion ring gets: about as many file operations at once as
 * the blocking pool would run for the same tasks. */
#define EDO__IOWQ_BOUNDED 64u

/* Raises `c`'s bounded io-wq limit to EDO__IOWQ_BOUNDED (IORING_REGISTER_IOWQ_MAX_WORKERS, which
 * sets it for every thread submitting to the ring, now and later), unless this thread's io-wq
 * already has a limit below the kernel's default (a test holding operations in flight sets 1;
 * one set from another thread only is not seen). Asks the kernel only the first time this
 * thread sees the ring. A kernel without the limit keeps its own. Never
 * blocks; thread-safe. (Here rather than in completions.c, which sets a ring up, as that file
 * is being reworked; the ring's creation is the place for it once that settles.) */
void edo__iowq_widen(edo__cring *c);

#endif
