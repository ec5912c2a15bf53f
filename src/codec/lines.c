/* The lines codec. It remembers how far it has searched for '\n', so a long line arriving in
 * many reads is searched once; a line over the limit is refused as soon as the limit is
 * buffered, and its bytes are then dropped as they come (the codec "discards") until its '\n'. */
#include <errno.h>
#include <string.h>

#include "codec/codec_internal.h"

/* A line's bytes without the "\r" of a "\r\n" ending. */
static size_t without_cr(const uint8_t *line, size_t len)
{
    return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
}

/* Splits `taken` bytes (a line and `ending` bytes after it) off src into *frame. */
static int take_line(edo_bytes *src, size_t taken, size_t ending, edo_bytes *frame)
{
    edo_bytes line;
    int rc = edo_bytes_split_to(src, taken, &line);
    if (rc < 0)
        return rc;
    /* The ending goes: split the line proper off the front, drop the rest. */
    edo_bytes ended;
    edo_bytes_split_to(&line, taken - ending, &ended);
    edo_bytes_drop(&line);
    edo_bytes_drop(frame);
    *frame = ended;
    return 1;
}

static int lines_decode(edo_codec *codec, edo_bytes *src, void *frame)
{
    edo_lines_codec *c = (edo_lines_codec *)codec;
    for (;;) {
        const uint8_t *data = edo_bytes_data(src);
        size_t len = edo_bytes_len(src);
        if (c->discarding_) {
            const uint8_t *nl = len ? memchr(data, '\n', len) : NULL;
            edo_bytes_advance(src, nl ? (size_t)(nl - data) + 1 : len);
            if (!nl)
                return 0;
            c->discarding_ = false;
            c->scanned_ = 0;
            continue;
        }
        /* A line of max_length bytes may still be followed by "\r\n": look that far. */
        size_t limit = c->max_length_ + 2;
        size_t end = len < limit ? len : limit;
        const uint8_t *nl =
            end > c->scanned_ ? memchr(data + c->scanned_, '\n', end - c->scanned_) : NULL;
        if (nl) {
            size_t at = (size_t)(nl - data);
            size_t line_len = without_cr(data, at);
            c->scanned_ = 0;
            if (line_len > c->max_length_) {
                edo_bytes_advance(src, at + 1);
                return -EMSGSIZE;
            }
            return take_line(src, at + 1, at + 1 - line_len, frame);
        }
        if (len >= limit) {
            /* No '\n' within the limit: refuse the line now, drop what was searched, and the
             * rest of the line as it comes (its end may already be buffered). */
            edo_bytes_advance(src, limit);
            c->discarding_ = true;
            c->scanned_ = 0;
            return -EMSGSIZE;
        }
        c->scanned_ = end;
        return 0;
    }
}

static int lines_decode_eof(edo_codec *codec, edo_bytes *src, void *frame)
{
    edo_lines_codec *c = (edo_lines_codec *)codec;
    int rc = lines_decode(codec, src, frame);
    if (rc != 0)
        return rc;
    size_t len = edo_bytes_len(src);
    if (c->discarding_ || len == 0) {
        /* A line refused already was reported when it was refused. */
        edo_bytes_clear(src);
        c->discarding_ = false;
        return 0;
    }
    /* The last line, without '\n' (shorter than the limit, or decode would have refused it). */
    c->scanned_ = 0;
    size_t line_len = without_cr(edo_bytes_data(src), len);
    if (line_len > c->max_length_) {
        edo_bytes_clear(src);
        return -EMSGSIZE;
    }
    return take_line(src, len, len - line_len, frame);
}

static int lines_encode(edo_codec *codec, const void *frame, edo_bytes *dst)
{
    edo_lines_codec *c = (edo_lines_codec *)codec;
    const edo_codec_buf *line = frame;
    if (!line->data && line->len > 0)
        return -EINVAL;
    if (line->len > c->max_length_)
        return -EMSGSIZE;
    if (line->len > 0 && memchr(line->data, '\n', line->len))
        return -EINVAL;
    int rc = edo_bytes_reserve(dst, line->len + 1);
    if (rc < 0)
        return rc;
    edo_bytes_append(dst, line->data, line->len);
    edo_bytes_append(dst, "\n", 1);
    return 0;
}

static const edo_codec_vtable lines_vtable = {lines_decode, lines_decode_eof, lines_encode,
                                              edo__codec_bytes_frame_clear};

int edo_lines_codec_init(edo_lines_codec *c, size_t max_length)
{
    if (!c || max_length > EDO_BYTES_MAX - 2)
        return -EINVAL;
    *c = (edo_lines_codec){.base = {&lines_vtable},
                           .max_length_ = max_length ? max_length : EDO_LINES_DEFAULT_MAX};
    return 0;
}
