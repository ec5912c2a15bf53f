/* A registration's inbox (see inbox.h): a circular byte buffer that grows (its size a power of
 * two, so offsets wrap with a mask), its end of stream, and the state of the receive that
 * fills it. */
#include "io/inbox.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "io/uring/outbox.h"

#define FIRST_SIZE ((size_t)4096)

static _Atomic size_t cap_knob = EDO__INBOX_CAP;
static _Atomic unsigned accept_cap_knob = EDO__INBOX_ACCEPT_CAP;

void edo__inbox_set_cap(size_t cap)
{
    atomic_store_explicit(&cap_knob, cap ? cap : EDO__INBOX_CAP, memory_order_relaxed);
}

void edo__inbox_set_accept_cap(unsigned fds)
{
    atomic_store_explicit(&accept_cap_knob, fds ? fds : EDO__INBOX_ACCEPT_CAP,
                          memory_order_relaxed);
}

edo__inbox *edo__inbox_new(void)
{
    edo__inbox *in = calloc(1, sizeof *in);
    if (in)
        edo__spin_init(&in->lock);
    return in;
}

void edo__inbox_free(edo__inbox *in)
{
    if (!in)
        return;
    edo__outbox_unref(atomic_load_explicit(&in->outbox, memory_order_relaxed));
    free(in->data);
    free(in);
}

/* Empties `in` for a new registration, with `cap` and as `accepts` and `stopped` say. */
static void reset(edo__inbox *in, size_t cap, bool accepts, bool stopped)
{
    edo__spin_lock(&in->lock);
    in->state = stopped ? EDO__INBOX_STOPPED : EDO__INBOX_RECEIVING;
    in->accepts = accepts;
    in->cap = cap;
    in->asked = false;
    in->end = 0;
    in->head = in->len = 0;
    edo__spin_unlock(&in->lock);
}

void edo__inbox_reset(edo__inbox *in)
{
    reset(in, atomic_load_explicit(&cap_knob, memory_order_relaxed), false, false);
}

void edo__inbox_reset_stopped(edo__inbox *in)
{
    reset(in, atomic_load_explicit(&cap_knob, memory_order_relaxed), false, true);
}

bool edo__inbox_is(edo__inbox *in, edo__inbox_state state)
{
    edo__spin_lock(&in->lock);
    bool is = in->state == state;
    edo__spin_unlock(&in->lock);
    return is;
}

void edo__inbox_stop(edo__inbox *in)
{
    edo__spin_lock(&in->lock);
    if (in->state == EDO__INBOX_RECEIVING)
        in->state = EDO__INBOX_STOPPED;
    edo__spin_unlock(&in->lock);
}

bool edo__inbox_ask(edo__inbox *in)
{
    edo__spin_lock(&in->lock);
    bool ask = in->state == EDO__INBOX_STOPPED && !in->asked && !in->end;
    if (ask)
        in->asked = true;
    edo__spin_unlock(&in->lock);
    return ask;
}

void edo__inbox_reset_accepts(edo__inbox *in)
{
    unsigned fds = atomic_load_explicit(&accept_cap_knob, memory_order_relaxed);
    reset(in, fds * sizeof(int), true, true);
}

void edo__inbox_clear(edo__inbox *in)
{
    edo__spin_lock(&in->lock);
    free(in->data);
    in->data = NULL;
    in->size = in->head = in->len = 0;
    in->state = EDO__INBOX_DONE;
    in->end = 1;
    edo__spin_unlock(&in->lock);
}

/* Room for `more` bytes (lock held): the buffer doubles, its bytes laid out from 0 again.
 * False when out of memory. */
static bool make_room(edo__inbox *in, size_t more)
{
    if (in->size - in->len >= more)
        return true;
    size_t size = in->size ? in->size : FIRST_SIZE;
    while (size - in->len < more)
        size *= 2;
    char *data = malloc(size);
    if (!data)
        return false;
    size_t first = in->size - in->head < in->len ? in->size - in->head : in->len;
    if (in->len) {
        memcpy(data, in->data + in->head, first);
        memcpy(data + first, in->data, in->len - first);
    }
    free(in->data);
    in->data = data;
    in->size = size;
    in->head = 0;
    return true;
}

edo__inbox_action edo__inbox_put(edo__inbox *in, const void *bytes, size_t n)
{
    edo__inbox_action act = EDO__INBOX_NOTHING;
    edo__spin_lock(&in->lock);
    if (in->state == EDO__INBOX_DONE) {
        /* Out of memory earlier: the stream is broken there, and its reader will hear so. */
    } else if (!make_room(in, n)) {
        in->end = -ENOMEM;
        in->state = EDO__INBOX_DONE;
        act = EDO__INBOX_DROPPED;
    } else {
        size_t tail = (in->head + in->len) & (in->size - 1);
        size_t first = in->size - tail < n ? in->size - tail : n;
        memcpy(in->data + tail, bytes, first);
        memcpy(in->data, (const char *)bytes + first, n - first);
        in->len += n;
        if (in->state == EDO__INBOX_RECEIVING && in->len >= in->cap) {
            in->state = EDO__INBOX_STOPPING;
            act = EDO__INBOX_CANCEL;
        }
    }
    edo__spin_unlock(&in->lock);
    return act;
}

/* Whether a receive that ended with `res` ended the stream: end of file, or an error the
 * socket reports (not the want of a buffer, a cancellation, or an interruption). */
static bool ends_stream(int32_t res)
{
    return res == 0 || (res < 0 && res != -ENOBUFS && res != -ECANCELED && res != -EAGAIN &&
                        res != -EINTR);
}

/* Whether an accept that ended with `res` failed with an error its caller must hear of (not a
 * cancellation, nor a connection that died in the queue: accept(2) takes the next then). */
static bool accept_error(int32_t res)
{
    return res < 0 && res != -ECANCELED && res != -ECONNABORTED && res != -EAGAIN &&
           res != -EINTR;
}

edo__inbox_action edo__inbox_ended(edo__inbox *in, int32_t res, bool *closed)
{
    edo__inbox_action act = EDO__INBOX_NOTHING;
    *closed = false;
    edo__spin_lock(&in->lock);
    if (in->state == EDO__INBOX_DONE) {
        /* The end is recorded already (out of memory): nothing more to arm. */
    } else if (in->accepts && accept_error(res)) {
        /* After the fds before it; armed again when an accept has taken it and asks. */
        in->end = res;
        in->state = EDO__INBOX_STOPPED;
        *closed = true; /* an accept must hear of it */
    } else if (!in->accepts && ends_stream(res)) {
        in->end = res == 0 ? 1 : res;
        in->state = EDO__INBOX_DONE;
        *closed = true;
    } else if (in->len <= in->cap / 2) {
        /* Out of buffers, or cancelled at the cap and drained since: go on receiving. */
        in->state = EDO__INBOX_RECEIVING;
        act = EDO__INBOX_ARM;
    } else {
        in->state = EDO__INBOX_STOPPED; /* the reader asks for more once it has drained it */
    }
    edo__spin_unlock(&in->lock);
    return act;
}

edo__inbox_action edo__inbox_service(edo__inbox *in)
{
    edo__inbox_action act = EDO__INBOX_NOTHING;
    edo__spin_lock(&in->lock);
    in->asked = false;
    if (in->state == EDO__INBOX_STOPPED && in->len <= in->cap / 2 && !in->end) {
        in->state = EDO__INBOX_RECEIVING;
        act = EDO__INBOX_ARM;
    }
    edo__spin_unlock(&in->lock);
    return act;
}

/* Copies up to `want` of the inbox's bytes, from its head on, into the iovecs. */
static size_t copy_out(const edo__inbox *in, const struct iovec *iov, int iovcnt, size_t want)
{
    size_t done = 0, at = in->head;
    for (int i = 0; i < iovcnt && done < want; i++) {
        size_t put = 0, room = iov[i].iov_len < want - done ? iov[i].iov_len : want - done;
        while (put < room) {
            size_t run = in->size - at < room - put ? in->size - at : room - put;
            memcpy((char *)iov[i].iov_base + put, in->data + at, run);
            put += run;
            at = (at + run) & (in->size - 1);
        }
        done += put;
    }
    return done;
}

ssize_t edo__inbox_take(edo__inbox *in, const struct iovec *iov, int iovcnt, bool peek,
                        bool *drained, bool *ask)
{
    ssize_t n;
    *drained = *ask = false;
    edo__spin_lock(&in->lock);
    if (in->len) {
        size_t want = 0;
        for (int i = 0; i < iovcnt; i++)
            want += iov[i].iov_len;
        want = want < in->len ? want : in->len;
        n = (ssize_t)copy_out(in, iov, iovcnt, want);
        if (!peek) {
            in->len -= (size_t)n;
            /* Emptied: the next bytes go to the start again, so a connection that trades
             * small messages writes the same lines each time, never split at the wrap. */
            in->head = in->len ? (in->head + (size_t)n) & (in->size - 1) : 0;
        }
    } else if (in->end) {
        n = in->end == 1 ? 0 : in->end;
        if (!peek) /* an error is reported once, as recv(2) does; then end of file (an accept
                      queue: then it goes on) */
            in->end = in->accepts ? 0 : 1;
    } else {
        n = -EAGAIN;
    }
    *drained = in->len == 0 && in->end == 0;
    if (in->state == EDO__INBOX_STOPPED && !in->asked && in->len <= in->cap / 2 && !in->end)
        *ask = in->asked = true;
    edo__spin_unlock(&in->lock);
    return n;
}
