/* Collecting a child's output: its stdout and stderr pipes read to their end at the same time
 * as its exit is waited for, all in one future, so a child that fills one pipe while the other
 * is being read never blocks (nor does the parent). edo_command_output is a spawn with both
 * pipes and this future. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "process/process.h"

enum {
    DONE_OUT = 1u << 0,  /* stdout read to its end (or there is none) */
    DONE_ERR = 1u << 1,
    WAITED = 1u << 2,
    READING_OUT = 1u << 3, /* read_[0] holds a pending read */
    READING_ERR = 1u << 4,
    HANDED_OVER = 1u << 5, /* the output is the caller's */
};

#define FIRST_CHUNK 4096

void edo_output_drop(edo_output *o)
{
    if (!o)
        return;
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof *o);
}

/* The buffer and length of stream i (0: stdout, 1: stderr) in the output. */
static char **buf_of(edo_output *o, int i) { return i == 0 ? &o->out : &o->err; }
static size_t *len_of(edo_output *o, int i) { return i == 0 ? &o->out_len : &o->err_len; }

/* Room for at least one more byte after the data and the final NUL. */
static int make_room(edo_child_output_future *f, int i)
{
    char **buf = buf_of(&f->output, i);
    size_t len = *len_of(&f->output, i);
    if (*buf && len + 1 < f->cap_[i])
        return 0;
    size_t cap = f->cap_[i] ? f->cap_[i] * 2 : FIRST_CHUNK;
    if (cap < f->cap_[i])
        return -ENOMEM;
    char *grown = realloc(*buf, cap);
    if (!grown)
        return -ENOMEM;
    *buf = grown;
    f->cap_[i] = cap;
    return 0;
}

/* Reads stream i until it would wait, ends, or fails: EDO_READY with 0 at its end, or with an
 * error in *rc; EDO_PENDING while the child may write more. */
static edo_poll drain(edo_child_output_future *f, int i, edo_context *cx, int *rc)
{
    edo_stream *s = f->wait_.child_->stdio[1 + i];
    uint32_t reading = i == 0 ? READING_OUT : READING_ERR;
    edo_stream_future *r = &f->read_[i];
    for (;;) {
        if (!(f->state_ & reading)) {
            if ((*rc = make_room(f, i)) < 0)
                return EDO_READY;
            size_t len = *len_of(&f->output, i);
            edo_stream_read_future_init(r, s, *buf_of(&f->output, i) + len, f->cap_[i] - len - 1);
            f->state_ |= reading;
        }
        if (edo_future_poll(&r->base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        edo_future_drop(&r->base);
        f->state_ &= ~reading;
        if (r->result <= 0) {
            *rc = (int)r->result;
            return EDO_READY;
        }
        *len_of(&f->output, i) += (size_t)r->result;
    }
}

static edo_poll output_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_child_output_future *f = (edo_child_output_future *)self;
    edo_child *c = f->wait_.child_;
    if (!c) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    for (int i = 0; i < 2; i++) {
        uint32_t done = i == 0 ? DONE_OUT : DONE_ERR;
        if (f->state_ & done)
            continue;
        int rc = 0;
        if (c->stdio[1 + i] && drain(f, i, cx, &rc) == EDO_PENDING)
            continue;
        if (rc < 0) {
            f->result = rc;
            return EDO_READY;
        }
        f->state_ |= done;
    }
    if (!(f->state_ & WAITED)) {
        if (edo_future_poll(&f->wait_.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        f->state_ |= WAITED;
        if (f->wait_.result < 0) {
            f->result = f->wait_.result;
            return EDO_READY;
        }
    }
    if ((f->state_ & (DONE_OUT | DONE_ERR)) != (DONE_OUT | DONE_ERR))
        return EDO_PENDING; /* the child ended; its pipes end too once every writer has gone */
    for (int i = 0; i < 2; i++)
        if (*buf_of(&f->output, i))
            (*buf_of(&f->output, i))[*len_of(&f->output, i)] = '\0';
    f->output.status = f->wait_.status;
    f->result = 0;
    f->state_ |= HANDED_OVER;
    return EDO_READY;
}

static void output_drop(edo_future *self)
{
    edo_child_output_future *f = (edo_child_output_future *)self;
    for (int i = 0; i < 2; i++)
        if (f->state_ & (i == 0 ? READING_OUT : READING_ERR))
            edo_future_drop(&f->read_[i].base);
    edo_future_drop(&f->wait_.base);
    if (!(f->state_ & HANDED_OVER))
        edo_output_drop(&f->output);
}

static const edo_future_vtable output_vtable = {output_poll, output_drop};

void edo_child_output_future_init(edo_child_output_future *f, edo_child *c)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &output_vtable;
    edo_child_wait_future_init(&f->wait_, c);
}

int edo_child_output(edo_child *c, edo_output *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!c || !out)
        return -EINVAL;
    edo_child_output_future f;
    edo_child_output_future_init(&f, c);
    int rc = edo__coro_run(&f.base, NULL, &f.result);
    if (rc == 0)
        *out = f.output;
    return rc;
}

int edo_command_output(edo_command *c, edo_output *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!c || !out)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM; /* before a child is started for nothing */
    /* The command's own settings, with pipes (and no stdin) where it left the defaults. */
    edo_command piped = *c;
    static const edo_stdio defaults[3] = {EDO_STDIO_NULL, EDO_STDIO_PIPE, EDO_STDIO_PIPE};
    for (int i = 0; i < 3; i++)
        if (!c->stdio_set[i])
            piped.stdio[i] = defaults[i];
    edo_child *child;
    int rc = edo_command_spawn(&piped, &child);
    if (rc < 0)
        return rc;
    rc = edo_child_output(child, out);
    if (rc == -ENOMEM)
        child->kill_on_drop = true;
    edo_child_free(child);
    return rc;
}
