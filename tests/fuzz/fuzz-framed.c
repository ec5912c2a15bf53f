/* libFuzzer target: edo_framed over an in-memory duplex pair, with the RESP codec. The input's
 * first four bytes choose the framed's read size, the pair's buffer size, the codec's options
 * and the cut of the rest, the wire bytes, into writes. One end writes them as the pair takes
 * them (try_write: a full buffer pushes back) and closes; the other reads frames with an
 * edo_framed_next future polled by hand (no runtime: the pair works without one), between the
 * writes. The frames read, and how the stream ends (0 or the codec's error), must be exactly
 * those of the same bytes decoded at once by a fresh codec: no cut of the stream into reads may
 * change, lose or repeat a frame. And the reader ends: a framed still pending once the writer
 * has closed and nothing is left to write is a hang. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "edo/codec.h"
#include "edo/duplex.h"
#include "edo/resp.h"
#include "check.h"

static const edo_resp_config limits = {
    .max_bulk_len = 256, .max_elements = 64, .max_line_len = 128, .max_frame_len = 2048};

/* How a decoding ended: each frame's encoding in `frames`, then the result that ended it. */
typedef struct transcript {
    edo_bytes frames;
    size_t count;
    int end; /* 0: the end of the stream; < 0: the codec's error */
} transcript;

static void add_frame(transcript *t, const edo_resp_frame *f)
{
    CHECK(edo_resp_encode(&f->value, &t->frames) == 0);
    t->count++;
}

/* The oracle: every byte at once, then the end of the stream. */
static void decode_at_once(const uint8_t *wire, size_t len, const edo_resp_config *cfg,
                           transcript *t)
{
    edo_resp_codec c;
    CHECK(edo_resp_codec_init(&c, cfg) == 0);
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    edo_bytes in = EDO_BYTES_INIT;
    CHECK(edo_bytes_append(&in, wire, len) == 0);
    int rc;
    while ((rc = edo_codec_decode(&c.base, &in, &f)) == 1)
        add_frame(t, &f);
    if (rc == 0)
        while ((rc = edo_codec_decode_eof(&c.base, &in, &f)) == 1)
            add_frame(t, &f);
    t->end = rc;
    edo_resp_frame_drop(&f);
    edo_bytes_drop(&in);
}

/* The next write's size: a small generator seeded by the input, so the wire bytes stay free
 * for the codec. */
static size_t next_cut(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return 1 + (*seed >> 16) % 48;
}

static void decode_framed(const uint8_t *wire, size_t len, const edo_resp_config *cfg,
                          const uint8_t header[4], transcript *t)
{
    edo_stream *writer, *reader;
    CHECK(edo_duplex_new(1 + header[1] % 64, &writer, &reader) == 0);
    edo_resp_codec c;
    CHECK(edo_resp_codec_init(&c, cfg) == 0);
    edo_framed framed;
    edo_framed_config fc = {.read_size = 1 + header[0] % 64,
                            .flush_before_read = header[2] & 2};
    CHECK(edo_framed_init(&framed, reader, &c.base, &fc) == 0);
    edo_resp_frame f;
    edo_resp_frame_init(&f);

    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    uint32_t seed = header[3];
    size_t at = 0, idle = 0;
    bool writer_open = true, reading = false;
    edo_framed_future next;
    for (;;) {
        if (at < len) {
            size_t n = next_cut(&seed);
            ssize_t w = edo_stream_try_write(writer, wire + at, n < len - at ? n : len - at);
            CHECK(w > 0 || w == -EAGAIN);
            if (w > 0)
                at += (size_t)w;
        } else if (writer_open) {
            CHECK(edo_stream_close(writer) == 0);
            writer_open = false;
        }
        if (!reading) {
            edo_framed_next_future_init(&next, &framed, &f);
            reading = true;
        }
        if (edo_future_poll(&next.base, &cx, NULL) == EDO_PENDING) {
            /* Pending with nothing more to come: the reader would wait forever. */
            CHECK(writer_open);
            CHECK(++idle < 100000);
            continue;
        }
        int rc = next.result;
        edo_future_drop(&next.base);
        reading = false;
        if (rc != 1) {
            t->end = rc;
            break;
        }
        add_frame(t, &f);
    }
    if (writer_open)
        CHECK(edo_stream_close(writer) == 0);
    edo_resp_frame_drop(&f);
    edo_framed_drop(&framed);
    CHECK(edo_stream_close(reader) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    edo_resp_config cfg = limits;
    cfg.inline_commands = data[2] & 1;
    transcript once = {EDO_BYTES_INIT, 0, 0}, framed = {EDO_BYTES_INIT, 0, 0};
    decode_at_once(data + 4, size - 4, &cfg, &once);
    decode_framed(data + 4, size - 4, &cfg, data, &framed);
    CHECK(framed.count == once.count && framed.end == once.end);
    CHECK(edo_bytes_len(&framed.frames) == edo_bytes_len(&once.frames));
    CHECK(edo_bytes_len(&once.frames) == 0 ||
          memcmp(edo_bytes_data(&framed.frames), edo_bytes_data(&once.frames),
                 edo_bytes_len(&once.frames)) == 0);
    edo_bytes_drop(&once.frames);
    edo_bytes_drop(&framed.frames);
    return 0;
}
