/* The wake both Linux backends use: an eventfd watched in the event queue, which a write makes
 * ready, so that a wait in progress returns. It is the backend's parker waker (backend.h), and
 * refcounted: the backend that embeds it is freed with its last reference, which a parker that
 * waited through it may hold after the backend was destroyed. */
#ifndef EDO_IO_WAKEFD_H
#define EDO_IO_WAKEFD_H

#include <stdatomic.h>

#include "platform/parker.h"

typedef struct edo__io_wakefd {
    edo__parker_waker waker;
    _Atomic unsigned refs;
    int fd;
    void *owner; /* freed (free()) with the last reference */
} edo__io_wakefd;

/* Opens the eventfd (non-blocking, close-on-exec) and takes the first reference, for `owner`,
 * the malloc'ed backend that embeds `w`: 0 or -errno (then nothing is open or owned). */
int edo__io_wakefd_init(edo__io_wakefd *w, void *owner);
/* Makes the eventfd ready (a write; one already pending is enough). Thread-safe. */
void edo__io_wakefd_interrupt(edo__io_wakefd *w);
/* Drops a reference: the last closes the eventfd and frees the owner. */
void edo__io_wakefd_unref(edo__io_wakefd *w);

#endif
