/* The epoll backend (see backend.h): one epoll instance, edge-triggered, and an eventfd in its
 * set that interrupts a wait. */
#include "io/backend.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "edo/io.h"

typedef struct epoll_backend {
    edo__io_backend base;
    edo__parker_waker waker;
    _Atomic unsigned refs; /* the driver's, and one per parker that waited through us */
    int epfd;
    int wakefd;
} epoll_backend;

static epoll_backend *of_waker(edo__parker_waker *w)
{
    return (epoll_backend *)((char *)w - offsetof(epoll_backend, waker));
}

static void wake_interrupt(edo__parker_waker *self)
{
    uint64_t one = 1;
    ssize_t rc = write(of_waker(self)->wakefd, &one, sizeof one); /* EAGAIN: one is pending */
    (void)rc;
}

static void wake_ref(edo__parker_waker *self)
{
    atomic_fetch_add_explicit(&of_waker(self)->refs, 1, memory_order_relaxed);
}

static void wake_unref(edo__parker_waker *self)
{
    epoll_backend *b = of_waker(self);
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        close(b->wakefd);
        free(b);
    }
}

static int backend_create(edo__io_backend **out)
{
    epoll_backend *b = malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int fd = ep < 0 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = EDO__IO_WAKE_TOKEN};
    if (fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int rc = -errno;
        if (ep >= 0)
            close(ep);
        if (fd >= 0)
            close(fd);
        free(b);
        return rc;
    }
    b->base = (edo__io_backend){&edo__io_epoll, &b->waker};
    b->waker = (edo__parker_waker){wake_interrupt, wake_ref, wake_unref};
    atomic_init(&b->refs, 1); /* the driver's */
    b->epfd = ep;
    b->wakefd = fd;
    *out = &b->base;
    return 0;
}

static void backend_destroy(edo__io_backend *base)
{
    epoll_backend *b = (epoll_backend *)base;
    close(b->epfd);
    wake_unref(&b->waker); /* parkers that waited through it may still hold it */
}

static int backend_add(edo__io_backend *base, int fd, uint64_t token)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                             .data.u64 = token};
    return epoll_ctl(((epoll_backend *)base)->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void backend_remove(edo__io_backend *base, int fd, uint64_t token)
{
    (void)token;
    epoll_ctl(((epoll_backend *)base)->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* epoll's bits in edo's terms, by a table over the five low bits (IN, PRI, OUT, ERR, HUP):
 * the translation runs for every event, so it is a load rather than a chain of tests. A hang-up
 * closes both directions; an error wakes both, to find it. */
#define R EDO_READABLE
#define W EDO_WRITABLE
#define MAP(e)                                                                                    \
    ((((e) & (EPOLLIN | EPOLLPRI)) ? R : 0) | (((e) & EPOLLOUT) ? W : 0) |                        \
     (((e) & EPOLLHUP) ? R | W | EDO_READ_CLOSED | EDO_WRITE_CLOSED : 0) |                        \
     (((e) & EPOLLERR) ? R | W | EDO_IO_ERROR : 0))
#define MAP4(e) MAP(e), MAP((e) + 1), MAP((e) + 2), MAP((e) + 3)
#define MAP16(e) MAP4(e), MAP4((e) + 4), MAP4((e) + 8), MAP4((e) + 12)
_Static_assert((EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP) == 0x1f, "epoll's low bits");
static const uint32_t low_bits[32] = {MAP16(0), MAP16(16)};

static inline uint32_t bits_of(uint32_t events)
{
    uint32_t bits = low_bits[events & 0x1f];
    if (events & EPOLLRDHUP) /* the peer shut down its side */
        bits |= R | EDO_READ_CLOSED;
    return bits;
}

/* epoll's events are smaller than the driver's pairs (or, where epoll_event is not packed, as
 * large), so they are collected into the caller's buffer itself and turned into pairs in place,
 * from the last to the first: pair i covers only events i and later, already read. */
_Static_assert(sizeof(struct epoll_event) <= sizeof(edo__io_ready), "in-place translation");

static int backend_wait(edo__io_backend *base, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    epoll_backend *b = (epoll_backend *)base;
    int timeout_ms = -1;
    if (timeout_ns == EDO__IO_NO_WAIT) { /* a busy worker's look between polls: the common case */
        timeout_ms = 0;
    } else if (timeout_ns != EDO__IO_FOREVER) {
        /* Round up: waking before the deadline would only mean waiting again. */
        uint64_t ms = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
        timeout_ms = ms > 3600000 ? 3600000 : (int)ms;
    }
    unsigned char *raw = (unsigned char *)out;
    int n = epoll_wait(b->epfd, (struct epoll_event *)(void *)raw, max, timeout_ms);
    bool woken = false;
    for (int i = n - 1; i >= 0; i--) {
        struct epoll_event ev;
        memcpy(&ev, raw + (size_t)i * sizeof ev, sizeof ev); /* bytes: it aliases `out` */
        if (__builtin_expect(ev.data.u64 == EDO__IO_WAKE_TOKEN, 0))
            woken = true;
        out[i] = (edo__io_ready){ev.data.u64, bits_of(ev.events)};
    }
    /* Reset the counter after the loop: a call inside it would cost every event registers. */
    if (woken) {
        uint64_t count;
        ssize_t rc = read(b->wakefd, &count, sizeof count);
        (void)rc;
    }
    return n < 0 ? 0 : n;
}

const edo__io_backend_ops edo__io_epoll = {
    "epoll", backend_create, backend_destroy, backend_add, backend_remove, backend_wait,
};
