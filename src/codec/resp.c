/* The RESP2 codec: the scanner finds a whole frame (resp_scan.c), the frame's bytes are split
 * off the input without copying, and the builder (resp_build.c) points the values into them.
 * A frame keeps its room for values from one decode to the next, so a connection decoding
 * requests of a steady shape allocates nothing per request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/resp.h"

typedef struct codec_state {
    edo__resp_limits limits;
    edo__resp_scan scan;
    int error;       /* sticky: RESP cannot find the next frame after a bad one */
    const char *why; /* its message for the peer */
} codec_state;

_Static_assert(sizeof(codec_state) <= sizeof(((edo_resp_codec *)0)->private_),
               "edo_resp_codec.private_ is too small");

static codec_state *state_of(edo_resp_codec *c) { return (codec_state *)(void *)c->private_; }

void edo_resp_frame_init(edo_resp_frame *f)
{
    if (f)
        *f = (edo_resp_frame){0};
}

/* Releases the frame's hold on the input, keeping its room for values (frame_clear). */
static void frame_clear(edo_codec *c, void *frame)
{
    (void)c;
    edo_resp_frame *f = frame;
    edo_bytes_drop(&f->bytes_);
    f->value = (edo_resp_value){0};
}

void edo_resp_frame_drop(edo_resp_frame *f)
{
    if (!f)
        return;
    edo_bytes_drop(&f->bytes_);
    free(f->values_);
    free(f->text_);
    *f = (edo_resp_frame){0};
}

/* Makes *buf hold at least `want` items of `size` bytes; a buffer far larger than needed (kept
 * from one huge frame) is given back. Returns 0 or -ENOMEM (the old buffer kept). */
static int fit(void **buf, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap && !(*cap > 1024 && want < *cap / 8))
        return 0;
    void *p = realloc(*buf, (want ? want : 1) * size);
    if (!p)
        return want <= *cap ? 0 : -ENOMEM;
    *buf = p;
    *cap = want;
    return 0;
}

static int fail(codec_state *st, int error, const char *why)
{
    st->error = error;
    st->why = why;
    return error;
}

/* Gives the frame the first `len` bytes of src (its values already point there), and NUL-
 * terminates its strings over their CRs. */
static void take_frame(edo_resp_frame *f, edo_bytes *src, size_t len, size_t used, bool is_inline)
{
    edo_bytes_drop(&f->bytes_);
    edo_bytes_split_to(src, len, &f->bytes_); /* the same memory, now the frame's own */
    f->value = f->values_[0];
    if (is_inline)
        return; /* its words are copies, NUL-terminated already */
    uint8_t *mine = edo_bytes_data_mut(&f->bytes_);
    const char *base = (const char *)mine;
    for (size_t i = 0; i < used; i++) {
        const edo_resp_value *v = &f->values_[i];
        if (v->type == EDO_RESP_SIMPLE || v->type == EDO_RESP_ERROR || v->type == EDO_RESP_BULK)
            mine[(size_t)(v->str - base) + v->len] = '\0';
    }
}

static int resp_decode(edo_codec *codec, edo_bytes *src, void *frame)
{
    codec_state *st = state_of((edo_resp_codec *)codec);
    edo_resp_frame *f = frame;
    if (st->error)
        return st->error;
    const uint8_t *data = edo_bytes_data(src);
    size_t len = edo_bytes_len(src);
    /* One pass when a whole frame is there and the frame has room from earlier decodes (the
     * usual case for a server): build straight away. Only at a frame's start, before the
     * scanner has looked at it, so a frame arriving slowly is still looked at once. */
    if (st->scan.offset == 0 && st->scan.searched == 0 && len > 0 && f->values_cap_ > 0 &&
        (data[0] == '*' || !st->limits.inline_commands)) {
        size_t frame_len, used;
        if (edo__resp_build(&st->limits, data, len, f->values_, f->values_cap_, &frame_len,
                            &used)) {
            take_frame(f, src, frame_len, used, false);
            return 1;
        }
    }
    for (;;) {
        const char *why = NULL;
        int rc = edo__resp_scan_step(&st->scan, &st->limits, edo_bytes_data(src),
                                     edo_bytes_len(src), &why);
        if (rc < 0)
            return fail(st, rc, why);
        if (rc == EDO__RESP_MORE)
            return 0;
        if (rc == EDO__RESP_EMPTY) {
            edo_bytes_advance(src, st->scan.offset); /* blank inline lines: skipped */
            edo__resp_scan_reset(&st->scan);
            continue;
        }
        const edo__resp_scan *s = &st->scan;
        if (fit((void **)&f->values_, &f->values_cap_, s->values, sizeof(edo_resp_value)) < 0)
            return -ENOMEM; /* nothing consumed: the same frame decodes once memory is back */
        if (s->is_inline &&
            fit((void **)&f->text_, &f->text_cap_, s->inline_bytes + s->inline_args, 1) < 0)
            return -ENOMEM;
        /* The scanner has checked the frame: building it cannot fail now. */
        size_t frame_len = s->offset, used = s->values;
        if (s->is_inline)
            edo__resp_build_inline(s, edo_bytes_data(src), frame_len, f->values_, f->text_);
        else
            edo__resp_build(&st->limits, edo_bytes_data(src), frame_len, f->values_, used,
                            &frame_len, &used);
        take_frame(f, src, frame_len, used, s->is_inline);
        edo__resp_scan_reset(&st->scan);
        return 1;
    }
}

static int resp_decode_eof(edo_codec *codec, edo_bytes *src, void *frame)
{
    codec_state *st = state_of((edo_resp_codec *)codec);
    int rc = resp_decode(codec, src, frame);
    if (rc != 0)
        return rc;
    if (edo_bytes_len(src) > 0)
        return fail(st, -EPROTO, "Protocol error: the stream ended inside a frame");
    return 0;
}

static int resp_encode(edo_codec *codec, const void *frame, edo_bytes *dst)
{
    (void)codec;
    return edo_resp_encode(frame, dst);
}

static const edo_codec_vtable resp_vtable = {resp_decode, resp_decode_eof, resp_encode,
                                             frame_clear};

int edo_resp_codec_init(edo_resp_codec *c, const edo_resp_config *config)
{
    edo_resp_config cfg = config ? *config : (edo_resp_config){0};
    if (!c || cfg.max_bulk_len > EDO_RESP_DEFAULT_MAX_BULK ||
        cfg.max_elements > ((size_t)1 << 31) || cfg.max_line_len > EDO_BYTES_MAX ||
        cfg.max_frame_len > EDO_BYTES_MAX)
        return -EINVAL;
    memset(c, 0, sizeof *c);
    c->base.vtable = &resp_vtable;
    codec_state *st = state_of(c);
    st->limits = (edo__resp_limits){
        .max_bulk_len = cfg.max_bulk_len ? cfg.max_bulk_len : EDO_RESP_DEFAULT_MAX_BULK,
        .max_elements = cfg.max_elements ? cfg.max_elements : EDO_RESP_DEFAULT_MAX_ELEMENTS,
        .max_line_len = cfg.max_line_len ? cfg.max_line_len : EDO_RESP_DEFAULT_MAX_LINE,
        .max_frame_len = cfg.max_frame_len ? cfg.max_frame_len : EDO_RESP_DEFAULT_MAX_FRAME,
        .max_depth = EDO_RESP_MAX_DEPTH,
        .inline_commands = cfg.inline_commands,
    };
    return 0;
}

const char *edo_resp_codec_error(const edo_resp_codec *c)
{
    return c ? ((const codec_state *)(const void *)c->private_)->why : NULL;
}
