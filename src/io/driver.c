/* The I/O driver: the backend, registering and deregistering, and waiting (see driver.h). */
#include "io/driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/uring/completions.h"
#include "io/uring/outbox.h"
#include "platform/thread.h"

/* The backend asked for: `wanted`, or when that is AUTO, the EDO_IO_BACKEND environment
 * variable. -EINVAL for a value that names none. */
static int choose(edo_io_backend wanted, edo_io_backend *out)
{
    if (wanted != EDO_IO_BACKEND_AUTO) {
        *out = wanted;
        return 0;
    }
    const char *env = getenv("EDO_IO_BACKEND");
    if (!env || !*env || strcmp(env, "auto") == 0)
        *out = EDO_IO_BACKEND_AUTO;
    else if (strcmp(env, "epoll") == 0)
        *out = EDO_IO_BACKEND_EPOLL;
    else if (strcmp(env, "uring") == 0 || strcmp(env, "io_uring") == 0)
        *out = EDO_IO_BACKEND_IO_URING;
    else
        return -EINVAL;
    return 0;
}

int edo__io_init(edo__io_driver *d, edo_runtime *owner, void (*on_active)(edo_runtime *owner),
                 edo_io_backend wanted)
{
    d->owner = owner;
    d->on_active = on_active;
    d->backend = NULL;
    pthread_mutex_init(&d->lock, NULL);
    atomic_init(&d->registered, 0);
    edo_io_backend chosen = EDO_IO_BACKEND_AUTO;
    int rc = choose(wanted, &chosen);
    /* Auto is epoll: io_uring's readiness path is no faster than epoll's; it will become the
     * default with the completion-based operations (docs/io-backends.md). */
    d->kind = chosen == EDO_IO_BACKEND_IO_URING ? &edo__io_uring : &edo__io_epoll;
    /* Files and other completion operations go through a ring where the runtime runs
     * io_uring (made on first use: edo__io_cring). */
    d->cring_wanted = d->kind == &edo__io_uring;
    pthread_mutex_init(&d->cring_lock, NULL);
    for (unsigned i = 0; i < EDO__IO_CRINGS; i++)
        atomic_init(&d->crings[i], NULL);
    d->cring_error = 0;
    if (rc == 0)
        rc = edo__io_slab_init(&d->slab);
    /* A backend asked for by name is made now, so that one the kernel cannot give fails the
     * runtime's start, not its first socket (and never falls back to another in silence);
     * the default is made with the first registration, so a runtime without fds has none. */
    if (rc == 0 && chosen != EDO_IO_BACKEND_AUTO)
        rc = d->kind->create(&d->backend);
    return rc;
}

void edo__io_destroy(edo__io_driver *d)
{
    for (unsigned i = 0; i < EDO__IO_CRINGS; i++) {
        edo__cring *c = atomic_load_explicit(&d->crings[i], memory_order_acquire);
        if (c) /* first: it waits for the kernel, and deregisters its eventfd */
            edo__cring_destroy(c);
    }
    pthread_mutex_destroy(&d->cring_lock);
    edo__io_slab_destroy(&d->slab);
    if (d->backend)
        d->backend->ops->destroy(d->backend);
    pthread_mutex_destroy(&d->lock);
}

/* What a registration is, for the backend: a stream socket still CONNECTING is added as a
 * stream whose receive waits until edo__io_stream_connected asks for it. */
typedef enum { PLAIN_FD, STREAM, CONNECTING, LISTENER } fd_kind;

/* Adds `fd` to the backend under `io`'s token: as a stream socket received by completion, or
 * a listener accepting by completion, where `kind` and the backend can (io->recv_mode then
 * set), else watched for readiness. */
static int add_to_backend(edo__io_driver *d, struct edo_io *io, int fd, uint64_t token,
                          fd_kind kind)
{
    edo__io_backend *b = d->backend;
    io->recv_mode = 0;
    int (*add)(edo__io_backend *, int, uint64_t, edo__inbox *) =
        kind == STREAM || kind == CONNECTING ? b->ops->add_stream
        : kind == LISTENER                   ? b->ops->add_listener
                                             : NULL;
    if (!add)
        return b->ops->add(b, fd, token);
    if (!io->inbox && !(io->inbox = edo__inbox_new()))
        return -ENOMEM;
    /* Before the backend may put anything in. */
    if (kind == LISTENER)
        edo__inbox_reset_accepts(io->inbox);
    else if (kind == CONNECTING)
        edo__inbox_reset_stopped(io->inbox);
    else
        edo__inbox_reset(io->inbox);
    int rc = add(b, fd, token, io->inbox);
    if (rc > 0)
        io->recv_mode = kind == LISTENER ? EDO__IO_RECV_ACCEPTS : EDO__IO_RECV_BYTES;
    return rc < 0 ? rc : 0;
}

static int register_fd(edo__io_driver *d, edo_io **out, int fd, fd_kind kind)
{
    pthread_mutex_lock(&d->lock);
    /* The backend is made on first use: a runtime that never watches an fd costs no fds. */
    int rc = d->backend ? 0 : d->kind->create(&d->backend);
    struct edo_io *io = rc == 0 ? edo__io_slab_take(&d->slab) : NULL;
    if (rc == 0 && !io)
        rc = -ENOMEM;
    if (rc < 0) {
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    io->fd = fd;
    io->driver = d;
    uint32_t gen = edo__io_readiness_open(io);
    pthread_mutex_unlock(&d->lock);
    if ((rc = add_to_backend(d, io, fd, edo__io_token(gen, io->index), kind)) < 0) {
        pthread_mutex_lock(&d->lock);
        edo__io_slab_put(&d->slab, io);
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    /* The first registration: whoever sleeps elsewhere because there was nothing to watch
     * must come and wait here. The count is published first (sequentially consistent), so
     * either the owner's sleeper sees it before sleeping or on_active finds it asleep. */
    if (atomic_fetch_add_explicit(&d->registered, 1, memory_order_seq_cst) == 0 && d->on_active)
        d->on_active(d->owner);
    *out = io;
    return 0;
}

int edo__io_register(edo__io_driver *d, edo_io **out, int fd)
{
    return register_fd(d, out, fd, PLAIN_FD);
}

int edo__io_register_stream(edo__io_driver *d, edo_io **out, int fd)
{
    return register_fd(d, out, fd, STREAM);
}

int edo__io_register_listener(edo__io_driver *d, edo_io **out, int fd)
{
    return register_fd(d, out, fd, LISTENER);
}

int edo__io_register_connecting(edo__io_driver *d, edo_io **out, int fd)
{
    return register_fd(d, out, fd, CONNECTING);
}

void edo__io_stream_connected(edo_io *io)
{
    if (io->recv_mode != EDO__IO_RECV_BYTES || !edo__inbox_ask(io->inbox))
        return; /* on readiness, or asked already (a read came first) */
    edo__io_backend *b = io->driver->backend;
    b->ops->recv_ask(b, io->fd, edo__io_token(edo__io_generation(io), io->index));
}

ssize_t edo__io_inbox_read(edo_io *io, const struct iovec *iov, int iovcnt, bool peek,
                           bool *drained)
{
    bool ask;
    ssize_t n = edo__inbox_take(io->inbox, iov, iovcnt, peek, drained, &ask);
    if (ask) { /* the receive stopped at the cap, and the inbox is low now: arm it again */
        edo__io_backend *b = io->driver->backend;
        b->ops->recv_ask(b, io->fd, edo__io_token(edo__io_generation(io), io->index));
    }
    return n;
}

int edo__io_accept_take(edo_io *io, int *fd, bool *drained)
{
    struct iovec one = {fd, sizeof *fd};
    ssize_t n = edo__io_inbox_read(io, &one, 1, false, drained);
    if (n == (ssize_t)sizeof *fd)
        return 0;
    return n < 0 ? (int)n : -EAGAIN; /* 0 only once cleared: a close raced with it */
}

/* Closes the connections accepted for a listener that goes (its backend puts no more in). */
static void close_accepted(edo__inbox *in)
{
    int fd;
    struct iovec one = {&fd, sizeof fd};
    bool drained, ask;
    ssize_t n;
    while ((n = edo__inbox_take(in, &one, 1, false, &drained, &ask)) != -EAGAIN && n != 0) {
        if (n == (ssize_t)sizeof fd)
            close(fd);
    }
}

struct edo__outbox *edo__io_outbox_made(edo_io *io)
{
    return io->recv_mode ? atomic_load_explicit(&io->inbox->outbox, memory_order_acquire) : NULL;
}

struct edo__outbox *edo__io_outbox(edo_io *io)
{
    _Atomic(edo__outbox *) *at = &io->inbox->outbox;
    edo__outbox *b = atomic_load_explicit(at, memory_order_acquire);
    if (b)
        return b;
    if (!(b = edo__outbox_new()))
        return NULL;
    edo__outbox *seen = NULL;
    if (atomic_compare_exchange_strong_explicit(at, &seen, b, memory_order_acq_rel,
                                                memory_order_acquire))
        return b;
    edo__outbox_unref(b); /* another writer made it first (two at once: their mistake) */
    return seen;
}

static int register_for_cring(void *ctx, int fd, edo_io **io)
{
    return edo__io_register(ctx, io, fd);
}

edo__cring *edo__io_cring(edo__io_driver *d, unsigned slot)
{
    _Atomic(edo__cring *) *at = &d->crings[slot % EDO__IO_CRINGS];
    edo__cring *c = atomic_load_explicit(at, memory_order_acquire);
    if (c || !d->cring_wanted)
        return c;
    pthread_mutex_lock(&d->cring_lock);
    c = atomic_load_explicit(at, memory_order_acquire);
    if (!c && d->cring_error == 0) {
        int rc = edo__cring_create(&c, register_for_cring, d);
        if (rc < 0)
            d->cring_error = rc, c = NULL;
        else
            atomic_store_explicit(at, c, memory_order_release);
    }
    pthread_mutex_unlock(&d->cring_lock);
    return c;
}

bool edo__io_completions_pending(edo__io_driver *d)
{
    for (unsigned i = 0; i < EDO__IO_CRINGS; i++) {
        edo__cring *c = atomic_load_explicit(&d->crings[i], memory_order_acquire);
        if (c && atomic_load_explicit(&c->inflight, memory_order_relaxed) > 0)
            return true;
    }
    return false;
}

int edo_io_fd(const edo_io *io) { return io ? io->fd : -EINVAL; }

/* Deregisters `io`; its fd is closed when `close_fd`, now or by its outbox (see edo__io_close). */
static void deregister(edo_io *io, bool close_fd)
{
    edo__io_driver *d = io->driver;
    int fd = io->fd;
    d->backend->ops->remove(d->backend, io->fd, edo__io_token(edo__io_generation(io), io->index));
    edo__io_readiness_close(io);
    if (io->recv_mode) { /* the backend no longer fills it: its bytes go with the registration */
        if (io->recv_mode == EDO__IO_RECV_ACCEPTS)
            close_accepted(io->inbox);
        edo__inbox_clear(io->inbox);
        io->recv_mode = 0;
        /* A send in flight goes on (written behind: its writer was told the bytes went), and
         * the fd stays open for it; those waiting for the outbox hear the registration went. */
        edo__outbox *b = atomic_exchange_explicit(&io->inbox->outbox, NULL, memory_order_acq_rel);
        if (b && edo__outbox_close(b, close_fd ? fd : -1))
            close_fd = false; /* the outbox closes it */
    }
    atomic_fetch_sub_explicit(&d->registered, 1, memory_order_seq_cst);
    pthread_mutex_lock(&d->lock);
    edo__io_slab_put(&d->slab, io);
    pthread_mutex_unlock(&d->lock);
    if (close_fd)
        close(fd);
}

void edo_io_deregister(edo_io *io)
{
    if (io)
        deregister(io, false);
}

void edo__io_close(edo_io *io) { deregister(io, true); }

int edo__io_wait(edo__io_driver *d, edo__io_ready *events, int max, uint64_t deadline,
                 edo__parker *parker)
{
    uint64_t timeout = EDO__IO_NO_WAIT;
    if (deadline == UINT64_MAX) {
        timeout = EDO__IO_FOREVER;
    } else if (deadline) {
        uint64_t now = edo__clock_ns();
        timeout = deadline > now ? deadline - now : EDO__IO_NO_WAIT;
    }
    /* While it blocks, an unpark of the caller's parker must reach it: through the waker. */
    edo__io_backend *b = d->backend;
    edo__parker_waker *waker = b->ops->waker ? b->ops->waker(b) : b->waker;
    if (timeout != EDO__IO_NO_WAIT && !edo__parker_enter(parker, waker))
        timeout = EDO__IO_NO_WAIT; /* already unparked: just collect what is there */
    int n = d->backend->ops->wait(d->backend, events, max, timeout);
    if (timeout != EDO__IO_NO_WAIT)
        edo__parker_leave(parker);
    return n;
}

/* The backend, where it has lanes: asked of `kind` first, which init fixed, because only a
 * backend made at init has them (a named one; the default is made by the first registration,
 * on another thread, so its pointer may not be read here). */
static edo__io_backend *with_lanes(edo__io_driver *d)
{
    return d->kind->attach ? d->backend : NULL;
}

bool edo__io_receives(edo__io_driver *d)
{
    edo__io_backend *b = with_lanes(d);
    return b && b->ops->can_receive && b->ops->can_receive(b);
}

int edo__io_attach(edo__io_driver *d)
{
    edo__io_backend *b = with_lanes(d);
    return b ? b->ops->attach(b) : 0;
}

void edo__io_detach(edo__io_driver *d)
{
    edo__io_backend *b = with_lanes(d);
    if (b)
        b->ops->detach(b);
}

bool edo__io_has_lane(edo__io_driver *d)
{
    edo__io_backend *b = with_lanes(d);
    return b && b->ops->has_lane(b);
}

bool edo__io_lanes_pending(edo__io_driver *d)
{
    edo__io_backend *b = with_lanes(d);
    return b && b->ops->pending(b);
}

bool edo__io_lane_news(edo__io_driver *d)
{
    edo__io_backend *b = with_lanes(d);
    return b && b->ops->news(b);
}

void edo__io_dispatch(edo__io_driver *d, const edo__io_ready *events, int n)
{
    edo__io_readiness_deliver(&d->slab, events, n);
    for (unsigned i = 0; i < EDO__IO_CRINGS; i++) {
        edo__cring *c = atomic_load_explicit(&d->crings[i], memory_order_acquire);
        if (c) /* completions nobody reaped: their eventfd may be what woke us */
            edo__cring_on_dispatch(c);
    }
}
