/* The io_uring backend's reaping and waiting (see io/uring.c): completions turned into the
 * driver's events, ended polls and receives armed again, a receive's bytes copied into its inbox,
 * and the waits in a worker's lane or the shared ring. */
#include "io/uring/uring_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/poll_bits.h"

/* ---- reaping (the shared ring: cq_lock held; a lane: its owner) ------------------------- */

/* The whole readiness of `fd` now. A poll's completion carries the bits of the wake-up that
 * caused it (data arrived: IN), not the whole state as epoll's events do, and the state it
 * does carry (the first, when the poll is armed on a ready fd) is from when it was posted,
 * maybe before the registration's owner filled the socket's buffer. The driver takes the
 * first event of a registration as the whole state, which replaces the readiness assumed at
 * registration; so for that one the kernel is asked now, as epoll does for every event when it
 * collects it (and when nothing is ready now, there is no event). A live watch's fd is open:
 * its owner removes it before closing, and removal waits for sq_lock, which the caller holds. */
static uint32_t state_of(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLL_EVENTS};
    return poll(&p, 1, 0) > 0 ? (uint32_t)p.revents : 0;
}

/* Whether a test asked for this re-arm to be refused (edo__io_uring_refuse_recv_rearms): takes
 * one of its refusals. */
static bool refuse_for_test(uring_backend *b)
{
    unsigned n = atomic_load_explicit(&b->refuse_rearms, memory_order_relaxed);
    while (n && !atomic_compare_exchange_weak_explicit(&b->refuse_rearms, &n, n - 1,
                                                       memory_order_relaxed, memory_order_relaxed))
        ;
    return n != 0;
}

/* Arms the receive of stream socket `w` again in lane `l` (sq_lock held), its last one having
 * ended without ending the stream. When the kernel takes no SQE now (or a test says so), the
 * inbox stops instead and false is returned: the caller tells the reader to look (or, with no
 * completion to carry that, asks itself: resync), and the receive is asked for (recv_ask),
 * served once the SQ has room. Before, such a socket stayed "receiving" with nothing armed,
 * and its reader waited for good. */
static bool rearm_recv(uring_backend *b, lane *l, int fd, watch *w)
{
    w->rseq = (w->rseq + 1) & RSEQ_MASK;
    if (!refuse_for_test(b) && queue_recv(&l->ring, fd, w) == 0) {
        atomic_fetch_add_explicit(&b->recv_rearms, 1, memory_order_relaxed);
        return true;
    }
    edo__inbox_stop(w->inbox);
    return false;
}

/* A receive's completion in lane `l` (sq_lock held): copies its bytes into the inbox of its
 * watch and gives the buffer back at once (also for a receive since removed, whose bytes go
 * nowhere), arms the receive again where it ended without ending the stream, cancels it at the
 * inbox's cap. A listener's accept likewise, its fd for bytes (closed when its listener was
 * removed). Stores the event for the reader in *out and returns 1, or returns 0. */
static int take_recv(uring_backend *b, lane *l, uint64_t data, bool ended, int32_t res,
                     edo__io_ready *out, bool *queued)
{
    int fd = (int)(uint32_t)data;
    watch *w = (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    if (w && (!w->live || !w->inbox || w->lane != l->index ||
              w->rseq != (uint16_t)((data >> RSEQ_SHIFT) & RSEQ_MASK)))
        w = NULL; /* a receive since removed, or one before the current */
    uint32_t bits = 0;
    if (data & HAS_BUF) { /* given back when the kernel is done with it, whatever the result */
        unsigned bid = (unsigned)(data >> 32) & 0xffff;
        if (w && res > 0) {
            bits = EDO_READABLE;
            if (edo__inbox_put(w->inbox, edo__buf_ring_data(&l->bufs, bid), (size_t)res) !=
                EDO__INBOX_NOTHING)
                *queued |= queue_cancel(&l->ring, watch_recv_data(fd, w)) == 0;
        }
        edo__buf_ring_done(&l->bufs, bid, res, data & BUF_MORE);
    } else if ((data & ACCEPTS) && res >= 0) { /* a connection accepted: its fd */
        edo__inbox_action act =
            w ? edo__inbox_put(w->inbox, &res, sizeof res) : EDO__INBOX_DROPPED;
        if (act != EDO__INBOX_DROPPED)
            bits = EDO_READABLE;
        else /* for a listener since removed (or out of memory): nobody will take it */
            close(res);
        if (w && act != EDO__INBOX_NOTHING) /* the queue is full: the backlog takes the rest */
            *queued |= queue_cancel(&l->ring, watch_recv_data(fd, w)) == 0;
    }
    if (w && ended) {
        bool closed;
        if (edo__inbox_ended(w->inbox, res, &closed) == EDO__INBOX_ARM) {
            if (rearm_recv(b, l, fd, w))
                *queued = true;
            else
                bits |= EDO_READABLE; /* the reader's next read asks for it */
        }
        /* End of file, or the socket's error: read after the bytes before it. A listener's
         * error is no end: it is readable until an accept has taken it. */
        if (closed)
            bits |= w->accepts ? EDO_READABLE : EDO_READABLE | EDO_READ_CLOSED;
    }
    if (!bits)
        return 0;
    *out = (edo__io_ready){w->token, bits};
    return 1;
}

/* The poll of stream socket `w` (received by completion) saw the peer's end (RDHUP, HUP or an
 * error) in `events`. Normally its multishot receive posts that end too, in this reap or the
 * next; but the kernel has been seen to keep a receive armed on a socket whose end was pending
 * and never post it (AF_UNIX under load: its reader then waited forever; liburing issue 1549
 * reports the same). So, once per registration, the receive is cancelled: its ending posts
 * -ECANCELED after whatever it had posted, take_recv arms a fresh one as after any ending
 * (the inbox still receiving), and a fresh receive reads what is left and then the end. No
 * byte is lost: a cancelled receive's bytes stay in the socket. Not while the inbox is
 * stopped, stopping or done: the receive is not armed, or its end is under way already. */
static bool probe_end(uring_backend *b, lane *l, int fd, watch *w, uint32_t events)
{
    if (w->end_probed || w->accepts || w->recv_on_ask ||
        !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
        !edo__inbox_is(w->inbox, EDO__INBOX_RECEIVING))
        return false;
    if (queue_cancel(&l->ring, watch_recv_data(fd, w)) < 0)
        return false; /* no SQE now: the poll's next event tries again */
    w->end_probed = true;
    atomic_fetch_add_explicit(&b->end_probes, 1, memory_order_relaxed);
    return true;
}

/* Turns the raw pairs reaped from the shared ring (l NULL) or lane `l` into the driver's, in
 * place, dropping those of polls that are gone and the removals', and arms again the live polls
 * that ended. Returns how many are left. */
static int translate(uring_backend *b, lane *l, edo__io_ready *out, int n)
{
    edo__ring *ring = l ? &l->ring : &b->ring;
    uint32_t here = l ? l->index : 0;
    int kept = 0;
    bool queued = false;
    pthread_mutex_lock(&b->sq_lock);
    for (int i = 0; i < n; i++) {
        uint64_t data = out[i].token & ~ENDED;
        if (data == TAG_IGNORE)
            continue;
        bool ended = out[i].token & ENDED;
        int32_t res = (int32_t)out[i].bits;
        if (l && is_recv(data)) {
            kept += take_recv(b, l, data, ended, res, &out[kept], &queued);
            continue;
        }
        if (data == TAG_WAKE || data == TAG_SHARED) {
            if (ended) /* the wake's own poll, or the shared ring's eventfd in a lane */
                queued |= queue_poll(ring, data == TAG_WAKE ? (l ? l->wake.fd : b->wake.fd)
                                                            : b->shared_efd,
                                     data) == 0;
            if (data == TAG_WAKE)
                out[kept++] = (edo__io_ready){EDO__IO_WAKE_TOKEN, 0};
            continue;
        }
        int fd = (int)(uint32_t)data;
        watch *w = (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
        if (!w || !w->live || w->lane != here || w->seq != (uint32_t)(data >> 32))
            continue; /* a poll since removed */
        if (res < 0 && res != -ECANCELED) {
            /* The poll failed (the fd was closed while registered, say): report an error
             * rather than arm a poll that would fail again. */
            out[kept++] = (edo__io_ready){w->token, EDO_READABLE | EDO_WRITABLE | EDO_IO_ERROR};
            continue;
        }
        if (ended) /* a full CQ or its thread's exit ended it: the new one reports the state */
            queued |= queue_watch_poll(ring, fd, w) == 0;
        if (res <= 0)
            continue;
        uint32_t events = (uint32_t)res;
        if (!w->reported && (events = state_of(fd)) == 0)
            continue;
        w->reported = true;
        if (l && w->inbox)
            queued |= probe_end(b, l, fd, w, events);
        uint32_t bits = edo__io_poll_bits(events);
        /* Received by completion: its read side is its inbox's news alone (take_recv), never
         * the poll's, which may see the peer's end before the receive has put it there (the
         * two are task work of their own, and may be run in two reaps). */
        if (w->inbox && !(bits &= ~(EDO_READABLE | EDO_READ_CLOSED)))
            continue;
        out[kept++] = (edo__io_ready){w->token, bits};
    }
    if (l && l->recv)
        edo__buf_ring_publish(&l->bufs); /* the buffers take_recv gave back */
    if (queued)
        submit(b, l);
    pthread_mutex_unlock(&b->sq_lock);
    return kept;
}

/* After the kernel dropped completions (-EBADR: it ran out of memory while the CQ overflowed),
 * an ended poll may never have said so: every live fd of the ring gets a fresh poll, the old
 * one removed, and the fresh one reports the fd's state (but one whose arming is still in the
 * mail: it has none yet). A receive armed afresh likewise; one that cannot be (no SQE now)
 * leaves its inbox stopped, and with no completion here to tell its reader, the owner asks for
 * it itself, by mail to its own lane, served at its next look (which the wake brings at once:
 * it may be about to sleep in its ring). */
static void resync(uring_backend *b, lane *l)
{
    edo__ring *ring = l ? &l->ring : &b->ring;
    uint32_t here = l ? l->index : 0;
    bool asked = false;
    pthread_mutex_lock(&b->sq_lock);
    for (unsigned fd = 0; fd < b->nwatches; fd++) {
        watch *w = &b->watches[fd];
        if (!w->live || w->arming || w->lane != here ||
            queue_cancel(ring, poll_data((int)fd, w->seq)) < 0)
            continue;
        w->seq = (w->seq + 1) & SEQ_MASK;
        queue_watch_poll(ring, (int)fd, w);
        /* Its receive too: the completions dropped may have been its end. Their bytes are
         * lost with them (the kernel had no memory to keep them). */
        if (l && w->inbox && !w->recv_on_ask &&
            queue_cancel(ring, watch_recv_data((int)fd, w)) == 0 &&
            edo__inbox_ended(w->inbox, -ECANCELED, &(bool){false}) == EDO__INBOX_ARM &&
            !rearm_recv(b, l, (int)fd, w) && edo__inbox_ask(w->inbox)) {
            edo__uring_mail_ask(l, (int)fd, w);
            asked = true;
        }
    }
    queue_poll(ring, l ? l->wake.fd : b->wake.fd, TAG_WAKE);
    if (l)
        queue_poll(ring, b->shared_efd, TAG_SHARED);
    submit(b, l);
    pthread_mutex_unlock(&b->sq_lock);
    if (asked)
        edo__io_wakefd_interrupt(&l->wake);
}

/* Takes at most `max` completions of the shared ring (l NULL) or lane `l` into `out` as raw
 * pairs (user_data with ENDED, res in bits), then translates them. What the kernel kept back
 * on overflow is brought in as room allows. */
static int reap(uring_backend *b, lane *l, edo__io_ready *out, int max)
{
    edo__ring *ring = l ? &l->ring : &b->ring;
    int n = 0;
    for (;;) {
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(ring, head, cqe) {
            if (n == max)
                break;
            seen++;
            uint64_t ended = cqe->flags & IORING_CQE_F_MORE ? 0 : ENDED;
            uint64_t data = cqe->user_data;
            if (is_recv(data) && (cqe->flags & IORING_CQE_F_BUFFER)) /* the buffer it filled */
                data |= HAS_BUF | (uint64_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) << 32 |
                        (cqe->flags & EDO__CQE_F_BUF_MORE ? BUF_MORE : 0);
            out[n++] = (edo__io_ready){data | ended, (uint32_t)cqe->res};
        }
        edo__ring_cq_advance(ring, seen);
        if (n == max || !edo__ring_cq_overflowed(ring))
            break;
        if (l)
            atomic_fetch_add_explicit(&b->lane_overflows, 1, memory_order_relaxed);
        if (edo__ring_flush_overflow(ring) == -EBADR)
            resync(b, l);
    }
    return n ? translate(b, l, out, n) : 0;
}

/* A look at (or, with a timeout, a wait in) the shared ring. */
static int shared_wait(uring_backend *b, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    if (timeout_ns == EDO__IO_NO_WAIT) {
        if (pthread_mutex_trylock(&b->cq_lock) != 0)
            return 0; /* another thread reaps: it takes these events */
    } else {
        pthread_mutex_lock(&b->cq_lock);
    }
    int n = reap(b, NULL, out, max);
    if (n == 0 && timeout_ns != EDO__IO_NO_WAIT) {
        pthread_mutex_lock(&b->sq_lock);
        unsigned pending = edo__ring_publish(&b->ring); /* what a failed submit left */
        pthread_mutex_unlock(&b->sq_lock);
        int rc = edo__ring_enter(&b->ring, pending, 1,
                                 timeout_ns == EDO__IO_FOREVER ? EDO__RING_FOREVER : timeout_ns);
        if (rc == -EBADR)
            resync(b, NULL);
        n = reap(b, NULL, out, max);
    }
    pthread_mutex_unlock(&b->cq_lock);
    return n;
}

/* What lane `l` holds, and then what the shared ring does: its signal (TAG_SHARED) may have
 * been among the lane's completions, so it is looked at after every reap of the lane. */
static int lane_reap(uring_backend *b, lane *l, edo__io_ready *out, int max)
{
    if (atomic_load_explicit(&b->force_resync, memory_order_relaxed) &&
        atomic_exchange_explicit(&b->force_resync, false, memory_order_relaxed))
        resync(b, l); /* a test's: as after completions the kernel dropped */
    edo__uring_take_mail(b, l);
    int n = reap(b, l, out, max);
    if (n < max && ring_busy(&b->ring))
        n += shared_wait(b, out + n, max - n, EDO__IO_NO_WAIT);
    return n;
}

/* A worker's look at, or wait in, its own lane. A look runs the lane's task work only when the
 * kernel says there is some (no system call otherwise). */
static int lane_wait(uring_backend *b, lane *l, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    if (edo__ring_work_pending(&l->ring) || edo__ring_publish(&l->ring) > 0)
        edo__ring_submit_run(&l->ring);
    int n = lane_reap(b, l, out, max);
    if (n == 0 && timeout_ns != EDO__IO_NO_WAIT) {
        int rc = edo__ring_enter(&l->ring, edo__ring_publish(&l->ring), 1,
                                 timeout_ns == EDO__IO_FOREVER ? EDO__RING_FOREVER : timeout_ns);
        if (rc == -EBADR)
            resync(b, l);
        n = lane_reap(b, l, out, max);
    }
    return n;
}

int edo__uring_wait(edo__io_backend *base, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    uring_backend *b = (uring_backend *)base;
    lane *l = own_lane(b);
    return l ? lane_wait(b, l, out, max, timeout_ns) : shared_wait(b, out, max, timeout_ns);
}
