/* How to wake a thread asleep in its own ring (SINGLE_ISSUER | DEFER_TASKRUN, as a worker's is):
 * two threads play ping-pong, each waiting in io_uring_enter for the other's wake, by
 *   eventfd   a write(2) to an eventfd the sleeper's ring polls (multishot), then the waker's
 *             own wait: two system calls per turn, and the way any thread can wake a worker;
 *   msg_ring  an IORING_OP_MSG_RING from the waker's ring to the sleeper's, submitted in the
 *             same io_uring_enter as the waker's own wait: one system call per turn, but only
 *             a thread with a ring of its own can send it.
 * Prints the wall-clock and the CPU time (user + system, both threads) per wake, and the
 * context switches per wake.
 *
 *   ring_wake [eventfd|msg_ring] [rounds]      (default: both, 200000 rounds)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "io/uring/ring.h"

#define TAG_WAKE 1

typedef struct player {
    edo__ring ring;
    int efd;
    struct player *peer;
    pthread_barrier_t *ready;
    bool msg_ring;
    bool serves; /* wakes first, then waits; the other waits first */
    long rounds;
} player;

static void fail(const char *what, int rc)
{
    fprintf(stderr, "ring_wake: %s: %s\n", what, strerror(-rc));
    exit(1);
}

/* Waits in the ring until the peer's wake arrives, submitting what is queued on the way. */
static void wait_for_wake(player *p)
{
    for (;;) {
        unsigned head, seen = 0, wakes = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(&p->ring, head, cqe) {
            seen++;
            wakes += cqe->user_data == TAG_WAKE;
        }
        edo__ring_cq_advance(&p->ring, seen);
        if (wakes)
            return;
        int rc = edo__ring_submit_and_wait(&p->ring, 1, EDO__RING_FOREVER);
        if (rc < 0 && rc != -EINTR)
            fail("io_uring_enter", rc);
    }
}

static void wake_peer(player *p)
{
    if (!p->msg_ring) {
        uint64_t one = 1;
        if (write(p->peer->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            fail("write", -errno);
        return;
    }
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(&p->ring, &sqe);
    if (rc < 0)
        fail("get_sqe", rc);
    sqe->opcode = IORING_OP_MSG_RING;
    sqe->fd = p->peer->ring.fd;
    sqe->off = TAG_WAKE; /* the user_data of the CQE posted in the peer's ring */
    sqe->flags = IOSQE_CQE_SKIP_SUCCESS; /* none in ours */
    /* Submitted by the wait that follows: one system call for both. */
}

static void *play(void *arg)
{
    player *p = arg;
    edo__ring_params params = {.sq_entries = 64, .cq_entries = 256,
                               .flags = IORING_SETUP_SINGLE_ISSUER |
                                        IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG};
    int rc = edo__ring_init(&p->ring, &params);
    if (rc < 0)
        fail("io_uring_setup", rc);
    if (!p->msg_ring) {
        struct io_uring_sqe *sqe;
        edo__ring_get_sqe(&p->ring, &sqe);
        sqe->opcode = IORING_OP_POLL_ADD;
        sqe->fd = p->efd;
        sqe->len = IORING_POLL_ADD_MULTI;
        sqe->poll32_events = 1; /* POLLIN */
        sqe->user_data = TAG_WAKE;
        edo__ring_submit(&p->ring);
        /* The eventfd starts at 0: the poll posts nothing until the first write. */
    }
    pthread_barrier_wait(p->ready); /* both rings exist before any wake is sent */
    for (long i = 0; i < p->rounds; i++) {
        if (p->serves) {
            wake_peer(p);
            wait_for_wake(p);
        } else {
            wait_for_wake(p);
            wake_peer(p); /* a message goes in with the next wait */
        }
    }
    edo__ring_submit(&p->ring); /* the last message */
    pthread_barrier_wait(p->ready); /* the peer no longer sends to our ring */
    edo__ring_destroy(&p->ring);
    return NULL;
}

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static void run(bool msg_ring, long rounds)
{
    pthread_barrier_t ready;
    pthread_barrier_init(&ready, NULL, 2);
    player a = {.ready = &ready, .msg_ring = msg_ring, .serves = true, .rounds = rounds};
    player b = {.ready = &ready, .msg_ring = msg_ring, .rounds = rounds};
    a.peer = &b;
    b.peer = &a;
    a.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    b.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct rusage r0, r1;
    struct timespec t0, t1;
    getrusage(RUSAGE_SELF, &r0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t ta, tb;
    pthread_create(&ta, NULL, play, &a);
    pthread_create(&tb, NULL, play, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &r1);
    double wakes = 2.0 * (double)rounds;
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = seconds(r1.ru_utime) - seconds(r0.ru_utime) + seconds(r1.ru_stime) -
                 seconds(r0.ru_stime);
    long switches = (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw);
    printf("%-8s wakes=%.0f wall_ns_per_wake=%.0f cpu_ns_per_wake=%.0f switches_per_wake=%.2f\n",
           msg_ring ? "msg_ring" : "eventfd", wakes, wall * 1e9 / wakes, cpu * 1e9 / wakes,
           (double)switches / wakes);
    close(a.efd);
    close(b.efd);
    pthread_barrier_destroy(&ready);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "both";
    long rounds = argc > 2 ? atol(argv[2]) : 200000;
    if (rounds < 1 || (strcmp(which, "both") && strcmp(which, "eventfd") &&
                       strcmp(which, "msg_ring"))) {
        fprintf(stderr, "usage: ring_wake [eventfd|msg_ring|both] [rounds]\n");
        return 2;
    }
    if (strcmp(which, "msg_ring"))
        run(false, rounds);
    if (strcmp(which, "eventfd"))
        run(true, rounds);
    return 0;
}
