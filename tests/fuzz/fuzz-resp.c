/* libFuzzer target: the RESP2 codec (inline commands on or off, by the first byte). Every
 * frame decoded encodes again, and that encoding decodes to the same value (a round trip);
 * every error is -EPROTO or -EMSGSIZE with a message; limits are small so they are reached. */
#include <errno.h>
#include <string.h>

#include "edo/resp.h"
#include "fuzz.h"

static bool same(const edo_resp_value *a, const edo_resp_value *b)
{
    if (a->type != b->type || a->len != b->len)
        return false;
    switch (a->type) {
    case EDO_RESP_SIMPLE:
    case EDO_RESP_ERROR:
    case EDO_RESP_BULK:
        return a->len == 0 || memcmp(a->str, b->str, a->len) == 0;
    case EDO_RESP_INTEGER:
        return a->integer == b->integer;
    case EDO_RESP_ARRAY:
        for (size_t i = 0; i < a->len; i++)
            if (!same(&a->items[i], &b->items[i]))
                return false;
        return true;
    default:
        return true;
    }
}

static const edo_resp_config limits = {
    .max_bulk_len = 256, .max_elements = 64, .max_line_len = 128, .max_frame_len = 4096};

static int check_frame(edo_codec *c, void *frame, int rc)
{
    if (rc < 0) {
        if ((rc != -EPROTO && rc != -EMSGSIZE) || !edo_resp_codec_error((edo_resp_codec *)c))
            abort();
        return 1;
    }
    const edo_resp_frame *f = frame;
    edo_bytes wire = EDO_BYTES_INIT;
    if (edo_resp_encode(&f->value, &wire) < 0)
        abort(); /* anything decoded can be encoded (inline words are bulk strings) */
    edo_resp_codec again;
    edo_resp_codec_init(&again, &limits);
    edo_resp_frame back;
    edo_resp_frame_init(&back);
    /* Within the limits again? Not always (an inline command grows when encoded): then the
     * codec must refuse it cleanly. */
    int rc2 = edo_codec_decode(&again.base, &wire, &back);
    if (rc2 == 1 && (!same(&f->value, &back.value) || edo_bytes_len(&wire) != 0))
        abort();
    if (rc2 != 1 && rc2 != -EMSGSIZE)
        abort();
    edo_resp_frame_drop(&back);
    edo_bytes_drop(&wire);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    edo_resp_config cfg = limits;
    cfg.inline_commands = size > 0 && (data[0] & 0x80);
    edo_resp_codec c;
    edo_resp_codec_init(&c, &cfg);
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    fuzz_feed(&c.base, data, size, &f, check_frame, 1 /* no RESP error is recoverable */);
    edo_resp_frame_drop(&f);
    return 0;
}
