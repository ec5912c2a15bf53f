/* edo_stream_copy_bidirectional: two copies (a to b, b to a) polled by one future, so one task
 * carries a whole proxied connection and a readiness event on either stream wakes the one task
 * that moves it on. Each direction ends by shutting its writer down, which passes the end of
 * stream on (half-close) while the other direction goes on; the first error ends both. */
#include <errno.h>
#include <string.h>

#include "coro/coro.h"
#include "stream/copy.h"

static int check(const edo_stream *a, const edo_stream *b)
{
    int rc = edo__copy_check(a, b);
    return rc < 0 ? rc : a == b ? -EINVAL : 0; /* a == b: two reads on one stream at once */
}

static edo_poll bidirectional_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_stream_copy_bidirectional_future *f = (edo_stream_copy_bidirectional_future *)self;
    edo__copy *ab = edo__copy_of(&f->state_[0]), *ba = edo__copy_of(&f->state_[1]);
    int ab_rc = 0, ba_rc = 0;
    edo_poll ab_done = edo__copy_poll(ab, cx, &ab_rc);
    /* An error ends both at once; an end keeps polling the other (a finished copy answers
     * READY again at no cost). */
    edo_poll ba_done = ab_rc < 0 ? EDO_READY : edo__copy_poll(ba, cx, &ba_rc);
    f->a_to_b = ab->copied;
    f->b_to_a = ba->copied;
    if (ab_rc < 0 || ba_rc < 0) {
        f->result = ab_rc < 0 ? ab_rc : ba_rc;
        return EDO_READY;
    }
    if (ab_done == EDO_PENDING || ba_done == EDO_PENDING)
        return EDO_PENDING;
    f->result = 0;
    return EDO_READY;
}

static void bidirectional_drop(edo_future *self)
{
    edo_stream_copy_bidirectional_future *f = (edo_stream_copy_bidirectional_future *)self;
    edo__copy_drop(edo__copy_of(&f->state_[0]));
    edo__copy_drop(edo__copy_of(&f->state_[1]));
}

static const edo_future_vtable bidirectional_vtable = {bidirectional_poll, bidirectional_drop};

void edo_stream_copy_bidirectional_future_init(edo_stream_copy_bidirectional_future *f,
                                               edo_stream *a, edo_stream *b)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &bidirectional_vtable;
    bool ok = check(a, b) == 0; /* else both copies complete at once with -EINVAL */
    edo__copy_init(edo__copy_of(&f->state_[0]), ok ? a : NULL, b, true);
    edo__copy_init(edo__copy_of(&f->state_[1]), ok ? b : NULL, a, true);
}

int edo_stream_copy_bidirectional(edo_stream *a, edo_stream *b, uint64_t *a_to_b, uint64_t *b_to_a)
{
    if (a_to_b) *a_to_b = 0;
    if (b_to_a) *b_to_a = 0;
    int rc = check(a, b);
    if (rc < 0)
        return rc;
    edo_stream_copy_bidirectional_future f;
    edo_stream_copy_bidirectional_future_init(&f, a, b);
    rc = edo__coro_run(&f.base, NULL, &f.result);
    if (a_to_b) *a_to_b = f.a_to_b;
    if (b_to_a) *b_to_a = f.b_to_a;
    return rc;
}
