/* The pipes of the splice path: made large, and kept for reuse.
 *
 * Large: a pipe holds 16 pages by default (64 KiB, a single loopback TCP segment), and each
 * splice moves at most what the pipe holds. 256 KiB pipes took a copy_bidirectional proxy from
 * 692,000 to 376,000 ns of CPU per MiB with 50 connections, and from 364,000 to 265,000 with one
 * (medians of 3, bench/net/copy.sh; 1 MiB pipes gained little more). But pipe memory counts
 * against a per-user soft limit (fs/pipe-user-pages-soft, 16384 pages by default), beyond which
 * every new pipe of that user, in any program, gets one or two pages: so the pipes enlarged here
 * take at most half that limit, and past it copies keep the default size.
 *
 * Reused: making a pipe and closing it costs three system calls and, measured on this machine,
 * 17-24 µs (pipe2 allocates an inode and two files, the close frees them after an RCU grace
 * period), against microseconds for the splices of a short proxied connection, and a copy takes
 * and gives back its pipe each time its reader runs dry (copy_splice.c). So pipes given back
 * empty wait here for the next taker; a pipe that still holds bytes (a copy that failed
 * half-way) is closed instead. The pool keeps up to POOL_PIPES pipes (two fds each) for the
 * process's life: as many as were busy at once, at most; past that, copies make and close their
 * own. */
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "platform/spinlock.h"
#include "stream/copy.h"

#define POOL_PIPES 1024
#define BIG_PIPE (256 * 1024)

static edo__spinlock lock; /* static: zero, unlocked */
static int pool[POOL_PIPES][2];
static int pooled;

/* Pages that enlarged pipes may still take; LONG_MIN until read from the soft limit. */
static _Atomic long big_pages_left = LONG_MIN;

static long big_pipe_pages(void)
{
    return BIG_PIPE / sysconf(_SC_PAGESIZE);
}

static void read_budget(void)
{
    long soft = -1;
    FILE *f = fopen("/proc/sys/fs/pipe-user-pages-soft", "re");
    if (f) {
        if (fscanf(f, "%ld", &soft) != 1)
            soft = -1;
        fclose(f);
    }
    /* unreadable: enlarge nothing; 0: the limit is off */
    long budget = soft < 0 ? 0 : soft == 0 ? LONG_MAX / 2 : soft / 2;
    long unknown = LONG_MIN;
    atomic_compare_exchange_strong(&big_pages_left, &unknown, budget);
}

/* Enlarges a new pipe when the budget allows (else it keeps the default size). */
static void enlarge(int write_fd)
{
    if (atomic_load_explicit(&big_pages_left, memory_order_relaxed) == LONG_MIN)
        read_budget();
    long pages = big_pipe_pages();
    if (atomic_fetch_sub(&big_pages_left, pages) < pages ||
        fcntl(write_fd, F_SETPIPE_SZ, BIG_PIPE) < 0)
        atomic_fetch_add(&big_pages_left, pages); /* over budget, or refused: default size */
}

int edo__pipe_take(int fds[2])
{
    edo__spin_lock(&lock);
    bool found = pooled > 0;
    if (found) {
        pooled--;
        fds[0] = pool[pooled][0];
        fds[1] = pool[pooled][1];
    }
    edo__spin_unlock(&lock);
    if (found)
        return 0;
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    enlarge(fds[1]);
    return 0;
}

void edo__pipe_give_back(const int fds[2], bool empty)
{
    if (empty) {
        edo__spin_lock(&lock);
        bool kept = pooled < POOL_PIPES;
        if (kept) {
            pool[pooled][0] = fds[0];
            pool[pooled][1] = fds[1];
            pooled++;
        }
        edo__spin_unlock(&lock);
        if (kept)
            return;
    }
    if (fcntl(fds[1], F_GETPIPE_SZ) == BIG_PIPE)
        atomic_fetch_add(&big_pages_left, big_pipe_pages());
    close(fds[0]);
    close(fds[1]);
}
