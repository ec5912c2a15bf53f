/* libFuzzer target: the length-delimited codec, its layout chosen by the input's second byte.
 * Every frame is within the limit; a refused one is skipped; a negative length is fatal. */
#include <errno.h>

#include "fuzz.h"

#define MAX_FRAME 64

static int check_frame(edo_codec *c, void *frame, int rc)
{
    const edo_length_delimited_codec *ld = (const edo_length_delimited_codec *)c;
    size_t head = ld->config_.length_field_offset + ld->config_.length_field_length;
    size_t most = MAX_FRAME + (ld->config_.keep_header ? head : 0);
    if (rc == 1 && edo_bytes_len(frame) > most)
        abort();
    if (rc < 0 && rc != -EMSGSIZE && rc != -EPROTO)
        abort();
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const unsigned widths[] = {1, 2, 3, 4, 8};
    uint8_t layout = data[1];
    edo_length_delimited_config cfg = {
        .max_frame_length = MAX_FRAME,
        .length_field_length = widths[layout % 5],
        .length_field_offset = (layout >> 3) & 3,
        .little_endian = layout & 0x20,
        .length_adjustment = (layout & 0x40) ? -2 : 0,
        .keep_header = layout & 0x80,
    };
    edo_length_delimited_codec c;
    if (edo_length_delimited_codec_init(&c, &cfg) < 0)
        abort();
    edo_bytes frame = EDO_BYTES_INIT;
    /* The layout byte is not fed: the first byte picks the pieces, the rest is the stream. */
    uint8_t *rest = malloc(size - 1);
    if (!rest)
        return 0;
    rest[0] = data[0];
    for (size_t i = 2; i < size; i++)
        rest[i - 1] = data[i];
    fuzz_feed(&c.base, rest, size - 1, &frame, check_frame, -EMSGSIZE);
    free(rest);
    edo_bytes_drop(&frame);
    return 0;
}
