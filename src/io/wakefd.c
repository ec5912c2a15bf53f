/* The eventfd wake of the Linux backends (see wakefd.h). */
#include "io/wakefd.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

static edo__io_wakefd *of_waker(edo__parker_waker *w)
{
    return (edo__io_wakefd *)((char *)w - offsetof(edo__io_wakefd, waker));
}

void edo__io_wakefd_interrupt(edo__io_wakefd *w)
{
    uint64_t one = 1;
    ssize_t rc = write(w->fd, &one, sizeof one); /* EAGAIN: one is pending */
    (void)rc;
}

static void wake_interrupt(edo__parker_waker *self) { edo__io_wakefd_interrupt(of_waker(self)); }

static void wake_ref(edo__parker_waker *self)
{
    atomic_fetch_add_explicit(&of_waker(self)->refs, 1, memory_order_relaxed);
}

void edo__io_wakefd_unref(edo__io_wakefd *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
        close(w->fd);
        free(w->owner);
    }
}

static void wake_unref(edo__parker_waker *self) { edo__io_wakefd_unref(of_waker(self)); }

int edo__io_wakefd_init(edo__io_wakefd *w, void *owner)
{
    w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->fd < 0)
        return -errno;
    w->waker = (edo__parker_waker){wake_interrupt, wake_ref, wake_unref};
    atomic_init(&w->refs, 1); /* the backend's own */
    w->owner = owner;
    return 0;
}
