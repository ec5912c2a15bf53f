/* The codec interface: checked calls through a codec's vtable, and the default decode_eof. */
#include <errno.h>

#include "codec/codec_internal.h"

int edo_codec_decode(edo_codec *c, edo_bytes *src, void *frame)
{
    if (!c || !c->vtable || !c->vtable->decode || !src || !frame)
        return -EINVAL;
    return c->vtable->decode(c, src, frame);
}

int edo_codec_decode_eof(edo_codec *c, edo_bytes *src, void *frame)
{
    if (!c || !c->vtable || !c->vtable->decode || !src || !frame)
        return -EINVAL;
    if (c->vtable->decode_eof)
        return c->vtable->decode_eof(c, src, frame);
    int rc = c->vtable->decode(c, src, frame);
    /* Bytes left that make no frame are a frame cut short: an error, never dropped quietly. */
    if (rc == 0 && edo_bytes_len(src) > 0)
        return -EPROTO;
    return rc;
}

int edo_codec_encode(edo_codec *c, const void *frame, edo_bytes *dst)
{
    if (!c || !c->vtable || !c->vtable->encode || !frame || !dst)
        return -EINVAL;
    return c->vtable->encode(c, frame, dst);
}

void edo_codec_frame_clear(edo_codec *c, void *frame)
{
    if (c && c->vtable && c->vtable->frame_clear && frame)
        c->vtable->frame_clear(c, frame);
}

void edo__codec_bytes_frame_clear(edo_codec *c, void *frame)
{
    (void)c;
    edo_bytes_drop(frame);
}
