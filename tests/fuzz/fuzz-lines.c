/* libFuzzer target: the lines codec. Every line decoded is at most the limit and holds no
 * '\n'; a refused line (-EMSGSIZE) is skipped and decoding goes on. */
#include <string.h>

#include "fuzz.h"

#define MAX_LINE 32

static int check_line(edo_codec *c, void *frame, int rc)
{
    (void)c;
    const edo_bytes *line = frame;
    if (rc == 1 && (edo_bytes_len(line) > MAX_LINE ||
                    (edo_bytes_len(line) && memchr(edo_bytes_data(line), '\n', edo_bytes_len(line)))))
        abort();
    if (rc < 0 && rc != -EMSGSIZE)
        abort(); /* the only error lines have */
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    edo_lines_codec c;
    edo_lines_codec_init(&c, MAX_LINE);
    edo_bytes line = EDO_BYTES_INIT;
    fuzz_feed(&c.base, data, size, &line, check_line, -EMSGSIZE);
    edo_bytes_drop(&line);
    return 0;
}
