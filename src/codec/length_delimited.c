/* The length-delimited codec: a header with the frame's length, then the frame. The limit is
 * checked on the header alone, before the frame's room is reserved; a refused frame is skipped
 * as its bytes arrive, so the stream stays usable. */
#include <errno.h>
#include <string.h>

#include "codec/codec_internal.h"

static size_t header_len(const edo_length_delimited_config *cfg)
{
    return cfg->length_field_offset + cfg->length_field_length;
}

static uint64_t read_field(const edo_length_delimited_config *cfg, const uint8_t *p)
{
    uint64_t v = 0;
    unsigned n = cfg->length_field_length;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[cfg->little_endian ? i : n - 1 - i] << (8 * i);
    return v;
}

/* The bytes after the header that a field value announces: 0 and *payload, or -EPROTO (below
 * zero) or -EMSGSIZE (above the limit). */
static int payload_of(const edo_length_delimited_config *cfg, uint64_t field, uint64_t *payload)
{
    int64_t adj = cfg->length_adjustment;
    if (adj >= 0) {
        if (field > UINT64_MAX - (uint64_t)adj) {
            *payload = UINT64_MAX;
            return -EMSGSIZE;
        }
        field += (uint64_t)adj;
    } else {
        uint64_t down = (uint64_t)(-(adj + 1)) + 1;
        if (field < down)
            return -EPROTO;
        field -= down;
    }
    *payload = field;
    return field > cfg->max_frame_length ? -EMSGSIZE : 0;
}

static int ld_decode(edo_codec *codec, edo_bytes *src, void *frame)
{
    edo_length_delimited_codec *c = (edo_length_delimited_codec *)codec;
    const edo_length_delimited_config *cfg = &c->config_;
    if (c->broken_)
        return -EPROTO;
    if (c->skipping_ > 0) {
        size_t len = edo_bytes_len(src);
        size_t drop = c->skipping_ < len ? (size_t)c->skipping_ : len;
        edo_bytes_advance(src, drop);
        c->skipping_ -= drop;
        if (c->skipping_ > 0)
            return 0;
    }
    size_t head = header_len(cfg);
    size_t len = edo_bytes_len(src);
    if (len < head)
        return 0;
    const uint8_t *data = edo_bytes_data(src);
    uint64_t payload;
    int rc = payload_of(cfg, read_field(cfg, data + cfg->length_field_offset), &payload);
    if (rc == -EPROTO) {
        c->broken_ = true;
        return rc;
    }
    if (rc == -EMSGSIZE) {
        /* Drop the header now and the payload as it comes: the next frame follows it. */
        edo_bytes_advance(src, head);
        c->skipping_ = payload;
        return rc;
    }
    size_t total = head + (size_t)payload;
    if (len < total) {
        /* Room for the rest at once (within the limit, already checked): one read may fill it. */
        rc = edo_bytes_reserve(src, total - len);
        return rc < 0 ? rc : 0;
    }
    edo_bytes whole;
    rc = edo_bytes_split_to(src, total, &whole);
    if (rc < 0)
        return rc;
    if (!cfg->keep_header)
        edo_bytes_advance(&whole, head);
    edo_bytes_drop(frame);
    *(edo_bytes *)frame = whole;
    return 1;
}

static int ld_decode_eof(edo_codec *codec, edo_bytes *src, void *frame)
{
    edo_length_delimited_codec *c = (edo_length_delimited_codec *)codec;
    int rc = ld_decode(codec, src, frame);
    if (rc != 0)
        return rc;
    if (edo_bytes_len(src) > 0 || c->skipping_ > 0)
        return -EPROTO; /* a frame (or a refused one) cut short by the end */
    return 0;
}

static int ld_encode(edo_codec *codec, const void *frame, edo_bytes *dst)
{
    edo_length_delimited_codec *c = (edo_length_delimited_codec *)codec;
    const edo_length_delimited_config *cfg = &c->config_;
    const edo_codec_buf *buf = frame;
    if (!buf->data && buf->len > 0)
        return -EINVAL;
    if (buf->len > cfg->max_frame_length)
        return -EMSGSIZE;
    /* The field holds the payload length less the adjustment. */
    int64_t adj = cfg->length_adjustment;
    uint64_t field = (uint64_t)buf->len;
    if (adj >= 0) {
        if (field < (uint64_t)adj)
            return -EMSGSIZE;
        field -= (uint64_t)adj;
    } else {
        uint64_t up = (uint64_t)(-(adj + 1)) + 1;
        if (field > UINT64_MAX - up)
            return -EMSGSIZE;
        field += up;
    }
    unsigned n = cfg->length_field_length;
    if (n < 8 && field >> (8 * n) != 0)
        return -EMSGSIZE;
    size_t head = header_len(cfg);
    int rc = edo_bytes_reserve(dst, head + buf->len);
    if (rc < 0)
        return rc;
    size_t room;
    uint8_t *p = edo_bytes_spare(dst, &room);
    memset(p, 0, cfg->length_field_offset);
    for (unsigned i = 0; i < n; i++)
        p[cfg->length_field_offset + (cfg->little_endian ? i : n - 1 - i)] =
            (uint8_t)(field >> (8 * i));
    if (buf->len > 0)
        memcpy(p + head, buf->data, buf->len);
    return edo_bytes_commit(dst, head + buf->len);
}

static const edo_codec_vtable ld_vtable = {ld_decode, ld_decode_eof, ld_encode,
                                           edo__codec_bytes_frame_clear};

int edo_length_delimited_codec_init(edo_length_delimited_codec *c,
                                    const edo_length_delimited_config *config)
{
    edo_length_delimited_config cfg = config ? *config : (edo_length_delimited_config){0};
    if (!c)
        return -EINVAL;
    if (cfg.length_field_length == 0)
        cfg.length_field_length = 4;
    if (cfg.max_frame_length == 0)
        cfg.max_frame_length = EDO_LENGTH_DELIMITED_DEFAULT_MAX;
    unsigned n = cfg.length_field_length;
    bool width_ok = (n >= 1 && n <= 4) || n == 8;
    uint64_t adj_abs = cfg.length_adjustment >= 0
                           ? (uint64_t)cfg.length_adjustment
                           : (uint64_t)(-(cfg.length_adjustment + 1)) + 1;
    if (!width_ok || cfg.length_field_offset > EDO_BYTES_MAX - 8 || adj_abs > EDO_BYTES_MAX ||
        cfg.max_frame_length > EDO_BYTES_MAX)
        return -EINVAL;
    /* A frame and its header must fit one buffer. */
    if (cfg.max_frame_length > EDO_BYTES_MAX - cfg.length_field_offset - n)
        cfg.max_frame_length = EDO_BYTES_MAX - cfg.length_field_offset - n;
    *c = (edo_length_delimited_codec){.base = {&ld_vtable}, .config_ = cfg};
    return 0;
}
