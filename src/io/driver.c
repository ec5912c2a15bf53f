/* The I/O driver: epoll, the registration slab, readiness and waiters (see driver.h). */
#include "io/driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/runtime.h"
#include "edo/coro.h"
#include "platform/thread.h"

#define READY_MASK 0xffffull
#define TICK_ONE (1ull << 16)
#define TICK_MASK (0xffffull << 16)
#define GEN_SHIFT 32
#define WAKE_TOKEN UINT64_MAX /* epoll data of the eventfd */
/* A deregistered slot: waits that start on it fail with -EBADF (until the slot is reused). */
#define DEAD 0x8000u
#define WAKE_BATCH 32

static inline uint32_t gen_of(uint64_t s) { return (uint32_t)(s >> GEN_SHIFT); }

/* The bits that answer a wait for `interest`: each direction with its own closed bit, and the
 * error bit for both. A write that would block says nothing about the read side, so a writer
 * must neither see nor clear READ_CLOSED (and a reader WRITE_CLOSED). */
static inline uint32_t bits_for(uint32_t interest)
{
    uint32_t bits = EDO_IO_ERROR;
    if (interest & EDO_READABLE)
        bits |= EDO_READABLE | EDO_READ_CLOSED;
    if (interest & EDO_WRITABLE)
        bits |= EDO_WRITABLE | EDO_WRITE_CLOSED;
    return bits;
}
static inline uint32_t ready_of(uint64_t s) { return (uint32_t)(s & READY_MASK); }

static void wake_interrupt(edo__parker_waker *self)
{
    uint64_t one = 1;
    ssize_t rc = write(((edo__io_wake *)self)->fd, &one, sizeof one); /* EAGAIN: one is pending */
    (void)rc;
}

static void wake_ref(edo__parker_waker *self)
{
    atomic_fetch_add_explicit(&((edo__io_wake *)self)->refs, 1, memory_order_relaxed);
}

static void wake_unref(edo__parker_waker *self)
{
    edo__io_wake *w = (edo__io_wake *)self;
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
        close(w->fd);
        free(w);
    }
}

int edo__io_init(edo__io_driver *d)
{
    d->epfd = -1;
    d->wake = NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->pages = calloc(EDO__IO_MAX_PAGES, sizeof *d->pages);
    d->nslots = 0;
    d->free = NULL;
    atomic_init(&d->registered, 0);
    return d->pages ? 0 : -ENOMEM;
}

void edo__io_destroy(edo__io_driver *d)
{
    if (d->pages) {
        for (uint32_t p = 0; p < EDO__IO_MAX_PAGES; p++)
            free(atomic_load_explicit(&d->pages[p], memory_order_relaxed));
        free((void *)d->pages);
        d->pages = NULL;
    }
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->wake)
        wake_unref(&d->wake->base); /* parkers that waited through it may still hold it */
    pthread_mutex_destroy(&d->lock);
}

/* ---- the slab ------------------------------------------------------------------------------ */

static struct edo_io *slot(edo__io_driver *d, uint32_t index)
{
    struct edo_io *page =
        atomic_load_explicit(&d->pages[index / EDO__IO_PAGE_SLOTS], memory_order_acquire);
    return page ? &page[index % EDO__IO_PAGE_SLOTS] : NULL;
}

/* Creates epoll and the eventfd on first use; under d->lock. */
static int ensure_epoll(edo__io_driver *d)
{
    if (d->epfd >= 0)
        return 0;
    edo__io_wake *wake = malloc(sizeof *wake);
    if (!wake)
        return -ENOMEM;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int fd = ep < 0 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = WAKE_TOKEN};
    if (fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int rc = -errno;
        if (ep >= 0)
            close(ep);
        if (fd >= 0)
            close(fd);
        free(wake);
        return rc;
    }
    wake->base = (edo__parker_waker){wake_interrupt, wake_ref, wake_unref};
    atomic_init(&wake->refs, 1); /* the driver's */
    wake->fd = fd;
    d->wake = wake;
    d->epfd = ep;
    return 0;
}

/* A free registration slot, its generation advanced; under d->lock. */
static struct edo_io *take_slot(edo__io_driver *d)
{
    struct edo_io *io = d->free;
    if (io) {
        d->free = io->next_free;
        return io;
    }
    if (d->nslots == EDO__IO_PAGE_SLOTS * EDO__IO_MAX_PAGES)
        return NULL;
    uint32_t page = d->nslots / EDO__IO_PAGE_SLOTS;
    if (d->nslots % EDO__IO_PAGE_SLOTS == 0) {
        struct edo_io *fresh = aligned_alloc(64, EDO__IO_PAGE_SLOTS * sizeof *fresh);
        if (!fresh)
            return NULL;
        for (uint32_t i = 0; i < EDO__IO_PAGE_SLOTS; i++) {
            atomic_init(&fresh[i].state, 0);
            fresh[i].index = page * EDO__IO_PAGE_SLOTS + i;
            fresh[i].fd = -1;
            edo__spin_init(&fresh[i].lock);
            fresh[i].waiters = NULL;
        }
        atomic_store_explicit(&d->pages[page], fresh, memory_order_release);
    }
    return slot(d, d->nslots++);
}

int edo_io_register_on(edo_runtime *rt, edo_io **out, int fd)
{
    if (!rt || !out || fd < 0)
        return -EINVAL;
    edo__io_driver *d = &rt->io;
    pthread_mutex_lock(&d->lock);
    int rc = ensure_epoll(d);
    struct edo_io *io = rc == 0 ? take_slot(d) : NULL;
    if (rc == 0 && !io)
        rc = -ENOMEM;
    if (rc < 0) {
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    /* A new generation; optimistic readiness: the first operation is simply tried. */
    uint32_t gen = gen_of(atomic_load_explicit(&io->state, memory_order_relaxed)) + 1;
    if (gen == 0)
        gen = 1;
    atomic_store_explicit(&io->state,
                          ((uint64_t)gen << GEN_SHIFT) | EDO_READABLE | EDO_WRITABLE,
                          memory_order_release);
    io->fd = fd;
    io->rt = rt;
    edo__spin_lock(&io->lock); /* a late set_ready of the previous generation may walk it */
    io->waiters = NULL;
    edo__spin_unlock(&io->lock);
    pthread_mutex_unlock(&d->lock);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                             .data.u64 = ((uint64_t)gen << GEN_SHIFT) | io->index};
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        rc = -errno;
        pthread_mutex_lock(&d->lock);
        io->next_free = d->free;
        d->free = io;
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    /* The first registration: a watcher asleep on its futex must move to epoll_wait. */
    if (atomic_fetch_add_explicit(&d->registered, 1, memory_order_seq_cst) == 0) {
        int watcher = atomic_load_explicit(&rt->timers.watcher, memory_order_seq_cst);
        if (watcher >= 0)
            edo__parker_unpark(rt->workers[watcher].parker);
    }
    *out = io;
    return 0;
}

int edo_io_register(edo_io **out, int fd)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return out && fd >= 0 ? -EPERM : -EINVAL;
    return edo_io_register_on(rt, out, fd);
}

int edo_io_fd(const edo_io *io) { return io ? io->fd : -EINVAL; }

/* ---- waiters ------------------------------------------------------------------------------- */

static void unlink_waiter(edo_io *io, edo_io_waiter *w)
{
    if (w->prev_)
        w->prev_->next_ = w->next_;
    else
        io->waiters = w->next_;
    if (w->next_)
        w->next_->prev_ = w->prev_;
    w->next_ = w->prev_ = NULL;
    __atomic_store_n(&w->linked_, 0, __ATOMIC_RELEASE);
}

/* Wakes the waiters `match` selects (all when `all`), outside the lock, in batches. */
static void wake_waiters(edo_io *io, uint32_t ready, bool all)
{
    edo_waker batch[WAKE_BATCH];
    for (;;) {
        unsigned n = 0;
        edo__spin_lock(&io->lock);
        edo_io_waiter *w = io->waiters;
        while (w && n < WAKE_BATCH) {
            edo_io_waiter *next = w->next_;
            if (all || (bits_for(w->interest_) & ready)) {
                batch[n++] = w->waker_;
                w->waker_ = EDO_WAKER_EMPTY;
                unlink_waiter(io, w);
            }
            w = next;
        }
        bool more = w != NULL;
        edo__spin_unlock(&io->lock);
        for (unsigned i = 0; i < n; i++)
            edo_waker_wake(&batch[i]);
        if (!more || n < WAKE_BATCH)
            return;
    }
}

void edo_io_waiter_init(edo_io_waiter *w)
{
    memset(w, 0, sizeof *w);
}

void edo_io_waiter_drop(edo_io *io, edo_io_waiter *w)
{
    if (!io || !w || !__atomic_load_n(&w->linked_, __ATOMIC_ACQUIRE))
        return;
    edo__spin_lock(&io->lock);
    bool linked = w->linked_;
    if (linked)
        unlink_waiter(io, w);
    edo__spin_unlock(&io->lock);
    edo_waker_drop(&w->waker_);
}

/* ---- readiness ----------------------------------------------------------------------------- */

/* Ready bits of `s` that answer `interest`. */
static inline uint32_t answer(uint64_t s, uint32_t interest)
{
    return ready_of(s) & bits_for(interest);
}

edo_poll edo_io_poll_ready(edo_io *io, uint32_t interest, edo_io_waiter *w, edo_context *cx,
                           edo_io_event *ev, int *rc)
{
    uint64_t s = atomic_load_explicit(&io->state, memory_order_acquire);
    if (!w->generation_)
        w->generation_ = gen_of(s); /* first poll: this wait belongs to this registration */
    if (s & DEAD)
        w->generation_ = 0; /* deregistered before the wait began: no generation matches */
    *rc = 0;
    uint32_t r = answer(s, interest);
    if (!r && gen_of(s) == w->generation_) {
        edo__spin_lock(&io->lock);
        s = atomic_load_explicit(&io->state, memory_order_acquire);
        r = answer(s, interest);
        if (!r && gen_of(s) == w->generation_) {
            w->interest_ = interest;
            if (!w->linked_) {
                w->waker_ = edo_waker_clone(cx->waker);
                w->prev_ = NULL;
                w->next_ = io->waiters;
                if (io->waiters)
                    io->waiters->prev_ = w;
                io->waiters = w;
                __atomic_store_n(&w->linked_, 1, __ATOMIC_RELAXED);
            } else if (!edo_waker_will_wake(&w->waker_, cx->waker)) {
                edo_waker_drop(&w->waker_);
                w->waker_ = edo_waker_clone(cx->waker);
            }
            edo__spin_unlock(&io->lock);
            return EDO_PENDING;
        }
        edo__spin_unlock(&io->lock);
    }
    if (edo__io_waiter_linked(w))
        edo_io_waiter_drop(io, w);
    if (gen_of(s) != w->generation_) {
        *rc = -EBADF; /* deregistered while we waited */
        r = 0;
    }
    ev->ready = r;
    ev->state_ = s;
    return EDO_READY;
}

int edo_io_try_ready(edo_io *io, uint32_t interest, edo_io_event *ev)
{
    if (!io || !ev || !(interest & (EDO_READABLE | EDO_WRITABLE)))
        return -EINVAL;
    uint64_t s = atomic_load_explicit(&io->state, memory_order_acquire);
    if (s & DEAD)
        return -EBADF;
    ev->ready = answer(s, interest);
    ev->state_ = s;
    return (int)ev->ready;
}

void edo_io_clear_ready(edo_io *io, edo_io_event ev)
{
    uint64_t clear = ev.ready;
    uint64_t cur = atomic_load_explicit(&io->state, memory_order_acquire);
    /* Only if no event came since `ev` was seen (same generation and tick). */
    while ((cur & ~READY_MASK) == (ev.state_ & ~READY_MASK) && (cur & clear)) {
        if (atomic_compare_exchange_weak_explicit(&io->state, &cur, cur & ~clear,
                                                  memory_order_acq_rel, memory_order_acquire))
            return;
    }
}

/* An event for generation `gen` of `io`: adds `bits`, bumps the tick, wakes who waits. */
static void set_ready(edo_io *io, uint32_t gen, uint32_t bits)
{
    uint64_t cur = atomic_load_explicit(&io->state, memory_order_acquire), next;
    do {
        if (gen_of(cur) != gen)
            return; /* a late event for a registration that is gone */
        next = ((cur | bits) & ~TICK_MASK) | ((cur + TICK_ONE) & TICK_MASK);
    } while (!atomic_compare_exchange_weak_explicit(&io->state, &cur, next, memory_order_acq_rel,
                                                    memory_order_acquire));
    wake_waiters(io, bits, false);
}

void edo_io_deregister(edo_io *io)
{
    if (!io)
        return;
    edo__io_driver *d = &io->rt->io;
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    /* A new generation: late events are dropped, and waiters see the change. */
    uint64_t cur = atomic_load_explicit(&io->state, memory_order_acquire);
    uint64_t next = ((uint64_t)(gen_of(cur) + 1) << GEN_SHIFT) | DEAD;
    while (!atomic_compare_exchange_weak_explicit(&io->state, &cur, next, memory_order_acq_rel,
                                                  memory_order_acquire))
        next = ((uint64_t)(gen_of(cur) + 1) << GEN_SHIFT) | DEAD;
    wake_waiters(io, 0, true);
    atomic_fetch_sub_explicit(&d->registered, 1, memory_order_seq_cst);
    pthread_mutex_lock(&d->lock);
    io->fd = -1;
    io->next_free = d->free;
    d->free = io;
    pthread_mutex_unlock(&d->lock);
}

/* ---- coroutine form -------------------------------------------------------------------------- */

typedef struct ready_future {
    edo_future base;
    edo_io *io;
    uint32_t interest;
    edo_io_waiter waiter;
    edo_io_event *ev;
    int rc;
} ready_future;

static edo_poll ready_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    ready_future *f = (ready_future *)self;
    return edo_io_poll_ready(f->io, f->interest, &f->waiter, cx, f->ev, &f->rc);
}

static void ready_drop(edo_future *self)
{
    ready_future *f = (ready_future *)self;
    edo_io_waiter_drop(f->io, &f->waiter);
}

static const edo_future_vtable ready_vtable = {ready_poll, ready_drop};

int edo_io_ready(edo_io *io, uint32_t interest, edo_io_event *ev)
{
    if (!io || !ev || !(interest & (EDO_READABLE | EDO_WRITABLE)))
        return -EINVAL;
    if (!edo_in_coroutine())
        return -EPERM;
    ready_future f = {{&ready_vtable}, io, interest, {0}, ev, 0};
    int rc = edo_await(&f.base, NULL);
    ready_drop(&f.base);
    return rc < 0 ? rc : f.rc;
}

/* ---- polling ------------------------------------------------------------------------------- */

int edo__io_wait(edo_runtime *rt, edo__worker *w, uint64_t deadline)
{
    edo__io_driver *d = &rt->io;
    int timeout_ms = 0;
    if (deadline == UINT64_MAX) {
        timeout_ms = -1;
    } else if (deadline) {
        uint64_t now = edo__clock_ns();
        /* Round up: waking before the deadline would only mean waiting again. */
        uint64_t ms = deadline > now ? (deadline - now + 999999) / 1000000 : 0;
        timeout_ms = ms > 3600000 ? 3600000 : (int)ms;
    }
    if (timeout_ms != 0 && !edo__parker_enter(w->parker, &d->wake->base))
        timeout_ms = 0; /* already unparked: just collect what is there */
    /* Take no more events than the run queue has room for: the tasks they wake then queue
     * fairly behind the ones already there, and the rest stay in epoll's ready list (in the
     * order they became ready) for the next turn. Taking them all would spill the excess into
     * the global queue, where they would wait behind every later wake-up: a p99 of tens of
     * milliseconds once a few hundred connections are ready at once. */
    int room = (int)edo__local_free(&w->queue) - 1;
    int max = room < 1 ? 1 : room > EDO__IO_EVENTS ? EDO__IO_EVENTS : room;
    int n = epoll_wait(d->epfd, w->io_events, max, timeout_ms);
    if (timeout_ms != 0)
        edo__parker_leave(w->parker);
    return n < 0 ? 0 : n;
}

void edo__io_dispatch(edo_runtime *rt, edo__worker *w, int n)
{
    edo__io_driver *d = &rt->io;
    struct epoll_event *events = w->io_events;
    for (int i = 0; i < n; i++) {
        uint64_t data = events[i].data.u64;
        if (data == WAKE_TOKEN) {
            uint64_t count;
            ssize_t rc = read(d->wake->fd, &count, sizeof count); /* reset the counter */
            (void)rc;
            continue;
        }
        edo_io *io = slot(d, (uint32_t)data);
        if (!io)
            continue;
        uint32_t ev = events[i].events, bits = 0;
        if (ev & (EPOLLIN | EPOLLPRI))
            bits |= EDO_READABLE;
        if (ev & EPOLLOUT)
            bits |= EDO_WRITABLE;
        if (ev & EPOLLRDHUP)
            bits |= EDO_READABLE | EDO_READ_CLOSED;
        if (ev & EPOLLHUP)
            bits |= EDO_READABLE | EDO_WRITABLE | EDO_READ_CLOSED | EDO_WRITE_CLOSED;
        if (ev & EPOLLERR)
            bits |= EDO_READABLE | EDO_WRITABLE | EDO_IO_ERROR;
        set_ready(io, (uint32_t)(data >> GEN_SHIFT), bits);
    }
}
