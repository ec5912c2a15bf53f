/* What the decoder fuzz targets share: feeding an input to a codec in pieces. The first byte of
 * the input chooses the piece size, so the fuzzer explores how frames are cut across reads. */
#ifndef EDO_FUZZ_H
#define EDO_FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "edo/codec.h"

/* Called with each frame decoded (1) and each error (< 0). Return false to stop. */
typedef int (*fuzz_on_frame)(edo_codec *c, void *frame, int rc);

/* Feeds data[1..size) to `c` in pieces of 1 + data[0] % 64 bytes, decoding all it can after
 * each piece, then decode_eof until the end; stops at the first error the codec does not
 * recover from (`recoverable` says which). Returns the count of frames. */
static inline size_t fuzz_feed(edo_codec *c, const uint8_t *data, size_t size, void *frame,
                               fuzz_on_frame on_frame, int recoverable)
{
    if (size == 0)
        return 0;
    size_t piece = 1 + data[0] % 64, frames = 0;
    edo_bytes in = EDO_BYTES_INIT;
    for (size_t at = 1; at < size;) {
        size_t n = size - at < piece ? size - at : piece;
        if (edo_bytes_append(&in, data + at, n) < 0)
            abort();
        at += n;
        int rc;
        while ((rc = edo_codec_decode(c, &in, frame)) != 0) {
            on_frame(c, frame, rc);
            if (rc == 1)
                frames++;
            else if (rc != recoverable)
                goto done;
        }
    }
    for (int rc; (rc = edo_codec_decode_eof(c, &in, frame)) != 0;) {
        on_frame(c, frame, rc);
        if (rc < 0)
            break;
        frames++;
    }
done:
    edo_bytes_drop(&in);
    return frames;
}

#endif
