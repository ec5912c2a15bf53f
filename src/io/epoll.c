/* The epoll backend (see backend.h): one epoll instance, edge-triggered, and an eventfd in its
 * set that interrupts a wait. */
#include "io/backend.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "io/poll_bits.h"
#include "io/wakefd.h"

typedef struct epoll_backend {
    edo__io_backend base;
    edo__io_wakefd wake;
    int epfd;
} epoll_backend;

static int backend_create(edo__io_backend **out)
{
    epoll_backend *b = malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int rc = ep < 0 ? -errno : edo__io_wakefd_init(&b->wake, b);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = EDO__IO_WAKE_TOKEN};
    if (rc == 0 && epoll_ctl(ep, EPOLL_CTL_ADD, b->wake.fd, &ev) < 0) {
        rc = -errno;
        close(b->wake.fd);
    }
    if (rc < 0) {
        if (ep >= 0)
            close(ep);
        free(b);
        return rc;
    }
    b->base = (edo__io_backend){&edo__io_epoll, &b->wake.waker};
    b->epfd = ep;
    *out = &b->base;
    return 0;
}

static void backend_destroy(edo__io_backend *base)
{
    epoll_backend *b = (epoll_backend *)base;
    close(b->epfd);
    edo__io_wakefd_unref(&b->wake); /* parkers that waited through it may still hold it */
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
        out[i] = (edo__io_ready){ev.data.u64, edo__io_poll_bits(ev.events)};
    }
    /* Reset the counter after the loop: a call inside it would cost every event registers. */
    if (woken) {
        uint64_t count;
        ssize_t rc = read(b->wake.fd, &count, sizeof count);
        (void)rc;
    }
    return n < 0 ? 0 : n;
}

const edo__io_backend_ops edo__io_epoll = {
    .name = "epoll",
    .create = backend_create,
    .destroy = backend_destroy,
    .add = backend_add,
    .remove = backend_remove,
    .wait = backend_wait,
};
