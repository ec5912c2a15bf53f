/* The io_uring backend's watches (see io/uring.c): adding an fd (its multishot poll, and the
 * multishot receive of a stream socket), removing it, and the mail of each lane: what other
 * threads ask of a ring only its owner may submit to. */
#include "io/uring/uring_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether `fd` can be watched at all, as epoll_ctl would say: 0, -EBADF, or -EPERM for what
 * has no poll method (files, directories, block devices, and the character devices without
 * one, such as /dev/null, which only epoll itself can tell from the others). */
static int pollable(uring_backend *b, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
        return -EPERM;
    if (!S_ISCHR(st.st_mode))
        return 0; /* sockets, pipes, and the anonymous kinds (eventfd, pidfd, ...) */
    if (b->scratch_epfd < 0 && (b->scratch_epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(b->scratch_epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    epoll_ctl(b->scratch_epfd, EPOLL_CTL_DEL, fd, NULL);
    return 0;
}

static int grow(uring_backend *b, int fd)
{
    if ((unsigned)fd < b->nwatches)
        return 0;
    unsigned n = b->nwatches ? b->nwatches : 64;
    while (n <= (unsigned)fd)
        n *= 2;
    watch *w = realloc(b->watches, n * sizeof *w);
    if (!w)
        return -ENOMEM;
    memset(w + b->nwatches, 0, (n - b->nwatches) * sizeof *w);
    b->watches = w;
    b->nwatches = n;
    return 0;
}

/* The mail slots a watch keeps in its lane's mailbox: the cancellation of its poll, and where
 * it is received by completion (into `inbox`), that of its receive and one request of its
 * reader's. Reserved by add for the inbox it is asked for, counted for the one it got. */
static unsigned mail_slots(const edo__inbox *inbox) { return inbox ? 3 : 1; }

/* Makes room in lane `l`'s mailbox for the mail of one more watch, `slots` entries (sq_lock
 * held): a removal from another thread then always has room for its mail, which it could not
 * report failing (the poll would hold its file until the worker stops), and so has a reader's
 * request. Every live watch and every entry not yet taken has its slot. */
static int reserve_mail(lane *l, unsigned slots)
{
    unsigned need = l->nlive + l->ncancels + slots;
    if (need <= l->cancels_cap)
        return 0;
    unsigned cap = l->cancels_cap ? 2 * l->cancels_cap : 16;
    while (cap < need)
        cap *= 2;
    uint64_t *c = realloc(l->cancels, cap * sizeof *c);
    if (!c)
        return -ENOMEM;
    l->cancels = c;
    l->cancels_cap = cap;
    return 0;
}

/* Sends the cancellation of a live poll in lane `l` to its owner (sq_lock held); its slot was
 * reserved when the poll was added (reserve_mail). */
static void mail_cancel(lane *l, uint64_t user_data)
{
    l->cancels[l->ncancels++] = user_data;
    atomic_store_explicit(&l->mail, true, memory_order_release);
}

void edo__uring_mail_ask(lane *l, int fd, const watch *w)
{
    mail_cancel(l, ASK | poll_data(fd, w->seq));
}

/* The lane a stream socket received by completion goes to: the one with the fewest live
 * watches among the open lanes that receive (sq_lock held), the caller's own on a tie (no mail
 * then). Why spread them: the lane that registers a socket reaps all its completions, so an
 * accept loop would otherwise put every connection on its own worker; and a socket's reader
 * is woken by the worker that reaped it, onto that worker's queue, so the tasks follow. NULL
 * when none receives (then the caller's, on readiness). */
static lane *pick_lane(uring_backend *b, lane *self)
{
    lane *best = self && self->recv ? self : NULL;
    for (unsigned i = 0; i < b->nlanes; i++) {
        lane *l = b->lanes[i];
        if (l->open && l->recv && (!best || l->nlive < best->nlive))
            best = l;
    }
    return best;
}

/* Watches `fd` under `token`; with `inbox` (the caller's lane receives, or accepts, by
 * completion) also receives its bytes into it, in the lane pick_lane chooses: the caller's own
 * at once, another by mail to its owner (only the owner may submit to its ring), who arms it
 * when it next looks at its lane (serve_arm). A listener (`accepts`) stays in the caller's
 * lane, and its accept is armed when its first accept asks (recv_ask). 1 when it receives or
 * accepts so, 0 when it watches readiness only, or -errno. Sets *to_wake to a lane whose owner
 * must be woken to read its mail. */
static int add_watch(uring_backend *b, lane *self, int fd, uint64_t token, edo__inbox *inbox,
                     bool accepts, lane **to_wake)
{
    if (fd < 0)
        return -EBADF;
    pthread_mutex_lock(&b->sq_lock);
    int rc = pollable(b, fd);
    if (rc == 0)
        rc = grow(b, fd);
    watch *w = rc == 0 ? &b->watches[fd] : NULL;
    if (w && w->live)
        rc = -EEXIST;
    lane *l = inbox && !accepts ? pick_lane(b, self) : self;
    bool by_mail = l != self;
    /* Mailed, the arming takes a slot of its own until the owner has read it. */
    if (rc == 0 && l)
        rc = reserve_mail(l, mail_slots(inbox) + by_mail);
    /* A socket still connecting: its receive waits for the ask once it is connected. */
    bool later = inbox && !accepts && edo__inbox_is(inbox, EDO__INBOX_STOPPED);
    if (rc == 0) {
        edo__ring *ring = l ? &l->ring : &b->ring;
        watch fresh = {.token = token,
                       .seq = (w->seq + 1) & SEQ_MASK,
                       .lane = l ? l->index : 0,
                       .live = true,
                       .arming = by_mail,
                       .accepts = accepts,
                       .recv_on_ask = later,
                       .rseq = (uint16_t)((w->rseq + 1) & RSEQ_MASK),
                       .inbox = inbox};
        if (by_mail) {
            mail_cancel(l, ARM | poll_data(fd, fresh.seq));
            atomic_fetch_add_explicit(&b->arms_mailed, 1, memory_order_relaxed);
            *to_wake = l;
        } else {
            /* The receive first: when it cannot be queued (the SQ is full and the kernel
             * takes nothing), the fd is watched for readiness only. When then the poll cannot
             * be, the receive queued is cancelled by mail to ourselves (its slot is free). */
            if (inbox && !accepts && !later && queue_recv(ring, fd, &fresh) < 0)
                fresh.inbox = NULL;
            if ((rc = queue_watch_poll(ring, fd, &fresh)) < 0 && fresh.inbox && !accepts &&
                !later)
                mail_cancel(l, recv_data(fd, fresh.rseq));
        }
        if (rc == 0) {
            *w = fresh;
            atomic_fetch_add_explicit(&b->polls_added, 1, memory_order_relaxed);
            if (l)
                l->nlive += mail_slots(w->inbox);
            else
                submit(b, NULL);
        }
    }
    bool receiving = rc == 0 && w->inbox;
    pthread_mutex_unlock(&b->sq_lock);
    if (rc == 0 && l && !by_mail) /* the lane is ours alone: no lock needed to submit to it */
        submit(b, l);
    return rc < 0 ? rc : receiving;
}

int edo__uring_add(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    lane *to_wake = NULL;
    int rc = add_watch(b, own_lane(b), fd, token, NULL, false, &to_wake);
    return rc < 0 ? rc : 0;
}

int edo__uring_add_stream(edo__io_backend *base, int fd, uint64_t token, edo__inbox *inbox)
{
    uring_backend *b = (uring_backend *)base;
    lane *l = own_lane(b), *to_wake = NULL;
    bool recv = l && l->recv; /* the shared ring has no buffers: readiness there */
    int rc = add_watch(b, l, fd, token, recv ? inbox : NULL, false, &to_wake);
    if (to_wake)
        edo__io_wakefd_interrupt(&to_wake->wake);
    return rc;
}

int edo__uring_add_listener(edo__io_backend *base, int fd, uint64_t token, edo__inbox *inbox)
{
    uring_backend *b = (uring_backend *)base;
    lane *l = own_lane(b), *to_wake = NULL;
    bool accept = l && l->accept; /* the shared ring: accept(2) on readiness */
    return add_watch(b, l, fd, token, accept ? inbox : NULL, accept, &to_wake);
}

/* The live watch in lane `l` whose poll has user_data `data` (sq_lock held), or NULL. */
static watch *watch_of_poll(uring_backend *b, lane *l, uint64_t data)
{
    int fd = (int)(uint32_t)data;
    watch *w = fd >= 0 && (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    return w && w->live && w->lane == l->index && w->seq == (uint32_t)(data >> 32) ? w : NULL;
}

/* A reader's request (recv_ask) in lane `l` (sq_lock held): arms the receive of the poll
 * `data`'s fd again if its inbox still wants it. False when no SQE can be had now (the kernel
 * takes nothing): the request must be served later. */
static bool serve_ask(uring_backend *b, lane *l, uint64_t data)
{
    watch *w = watch_of_poll(b, l, data);
    if (!w || !w->inbox)
        return true; /* removed since */
    if (w->arming)
        return false; /* its poll first (a request kept for later may come after this) */
    struct io_uring_sqe *sqe;
    if (edo__ring_get_sqe(&l->ring, &sqe) < 0)
        return false;
    if (edo__inbox_service(w->inbox) == EDO__INBOX_ARM) {
        w->recv_on_ask = false;
        w->rseq = (w->rseq + 1) & RSEQ_MASK;
        fill_recv(sqe, (int)(uint32_t)data, w);
    } else { /* armed again meanwhile (the reaper saw it drained): the SQE does nothing */
        sqe->opcode = IORING_OP_NOP;
        sqe->user_data = TAG_IGNORE;
    }
    return true;
}

/* The SQEs `ring` can still hand out (the kernel moves the head once it has read one). */
static unsigned sq_free(const edo__ring *ring)
{
    return ring->sq_entries - (ring->sqe_tail - __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE));
}

/* Room for `n` more SQEs in `ring`, what is queued submitted to make it: false when the
 * kernel takes nothing now. */
static bool sq_room(edo__ring *ring, unsigned n)
{
    if (sq_free(ring) >= n)
        return true;
    edo__ring_submit(ring);
    return sq_free(ring) >= n;
}

/* Another thread's add_stream (ARM) in lane `l` (sq_lock held): arms the receive and the poll
 * of the poll `data`'s fd, unless it was removed since (then nothing was ever armed: a close
 * before the arming leaves nothing behind, and the fd, maybe closed, is not touched). False
 * when no SQEs can be had now: the request must be served later. */
static bool serve_arm(uring_backend *b, lane *l, uint64_t data)
{
    watch *w = watch_of_poll(b, l, data);
    if (!w || !w->arming)
        return true;
    bool recv = w->inbox && !w->recv_on_ask;
    if (!sq_room(&l->ring, recv ? 2 : 1))
        return false;
    int fd = (int)(uint32_t)data;
    if (recv)
        queue_recv(&l->ring, fd, w);
    queue_watch_poll(&l->ring, fd, w);
    w->arming = false;
    return true;
}

/* Takes the caller's own lane's mail: arms the sockets other threads added to it, cancels the
 * polls and receives they removed (and runs the task work that lets their files go), and
 * serves its readers' requests. A watch removed before its arming was served is not armed
 * (its removal sent no cancellation: nothing was armed). */
void edo__uring_take_mail(uring_backend *b, lane *l)
{
    if (!atomic_load_explicit(&l->mail, memory_order_acquire))
        return;
    pthread_mutex_lock(&b->sq_lock);
    atomic_store_explicit(&l->mail, false, memory_order_relaxed);
    unsigned later = 0; /* requests kept for the next look */
    for (unsigned i = 0; i < l->ncancels; i++) {
        uint64_t data = l->cancels[i];
        if ((data & ARM) == ARM) {
            if (!serve_arm(b, l, data & ~ARM))
                l->cancels[later++] = data;
        } else if (data & ASK) {
            if (!serve_ask(b, l, data & ~ASK))
                l->cancels[later++] = data;
        } else if (queue_cancel(&l->ring, data) < 0) {
            edo__ring_cancel_sync(&l->ring, data);
        }
    }
    l->ncancels = later;
    if (later)
        atomic_store_explicit(&l->mail, true, memory_order_relaxed);
    pthread_mutex_unlock(&b->sq_lock);
    edo__ring_submit_run(&l->ring);
}

void edo__uring_remove(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    lane *self = own_lane(b), *to_wake = NULL;
    bool run = false;
    pthread_mutex_lock(&b->sq_lock);
    watch *w = fd >= 0 && (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    if (w && w->live && w->token == token) {
        w->live = false;
        /* Its poll, and its receive where it has one (which may have ended already: the
         * cancellation then finds nothing). */
        uint64_t data[2] = {poll_data(fd, w->seq), watch_recv_data(fd, w)};
        /* Not armed yet (its arming is still in the owner's mail, which will find it gone):
         * nothing in the kernel to cancel. */
        unsigned n = w->arming ? 0 : w->inbox ? 2 : 1;
        lane *owner = w->lane ? b->lanes[w->lane - 1] : NULL;
        edo__ring *ring = owner ? &owner->ring : &b->ring;
        if (owner)
            owner->nlive -= mail_slots(w->inbox); /* its mail slots pass to the cancellations */
        w->inbox = NULL; /* its reader's inbox: not touched from now on */
        for (unsigned i = 0; i < n; i++) {
            if (owner && owner != self) {
                /* Only its owner may submit to a lane (or cancel in it: the kernel refuses a
                 * synchronous cancellation from another thread too): mail it, and wake it to
                 * cancel now. A stopped worker's lane has no polls left to cancel. */
                if (owner->open) {
                    mail_cancel(owner, data[i]);
                    to_wake = owner;
                }
            } else if (queue_cancel(ring, data[i]) == 0) {
                if (owner)
                    run = true; /* our own lane: submitted below, its task work run too */
                else
                    submit(b, NULL);
            } else {
                /* The SQ is full and the kernel takes nothing: cancel without an SQE. */
                edo__ring_cancel_sync(ring, data[i]);
            }
        }
    }
    pthread_mutex_unlock(&b->sq_lock);
    if (run)
        edo__ring_submit_run(&self->ring); /* the poll's file is let go before we return */
    if (to_wake)
        edo__io_wakefd_interrupt(&to_wake->wake);
}

void edo__uring_recv_ask(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    lane *self = own_lane(b), *to_wake = NULL;
    pthread_mutex_lock(&b->sq_lock);
    watch *w = fd >= 0 && (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    if (w && w->live && w->token == token && w->inbox) {
        lane *owner = b->lanes[w->lane - 1];
        if (owner->open) {
            /* Its slot: the inbox asks once until served (edo__inbox_take's *ask). */
            edo__uring_mail_ask(owner, fd, w);
            if (owner != self) /* the owner itself takes its mail at its next look */
                to_wake = owner;
        }
    }
    pthread_mutex_unlock(&b->sq_lock);
    if (to_wake)
        edo__io_wakefd_interrupt(&to_wake->wake);
}
