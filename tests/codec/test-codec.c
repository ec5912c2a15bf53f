/* The codec interface, the lines codec and the length-delimited codec, on buffers (no stream). */
#include <errno.h>
#include <string.h>

#include "edo/codec.h"
#include "harness.h"

static void put(edo_bytes *b, const char *s) { CHECK_EQ(edo_bytes_append(b, s, strlen(s)), 0); }

/* The frame holds exactly `s`. */
static void check_frame(const edo_bytes *f, const char *s)
{
    CHECK_EQ(edo_bytes_len(f), strlen(s));
    CHECK(strlen(s) == 0 || memcmp(edo_bytes_data(f), s, strlen(s)) == 0);
}

TEST(bad_input)
{
    edo_lines_codec lines;
    edo_bytes b = EDO_BYTES_INIT, f = EDO_BYTES_INIT;
    CHECK_EQ(edo_lines_codec_init(NULL, 0), -EINVAL);
    CHECK_EQ(edo_lines_codec_init(&lines, EDO_BYTES_MAX), -EINVAL);
    CHECK_EQ(edo_lines_codec_init(&lines, 0), 0);
    CHECK_EQ(lines.max_length_, EDO_LINES_DEFAULT_MAX);
    CHECK_EQ(edo_codec_decode(NULL, &b, &f), -EINVAL);
    CHECK_EQ(edo_codec_decode(&lines.base, NULL, &f), -EINVAL);
    CHECK_EQ(edo_codec_decode(&lines.base, &b, NULL), -EINVAL);
    CHECK_EQ(edo_codec_decode_eof(&lines.base, NULL, &f), -EINVAL);
    CHECK_EQ(edo_codec_encode(&lines.base, NULL, &b), -EINVAL);
    edo_codec_buf nothing = {NULL, 3};
    CHECK_EQ(edo_codec_encode(&lines.base, &nothing, &b), -EINVAL);
    edo_codec no_vtable = {NULL};
    CHECK_EQ(edo_codec_decode(&no_vtable, &b, &f), -EINVAL);
    edo_codec_frame_clear(NULL, &f); /* no-ops */
    edo_codec_frame_clear(&lines.base, NULL);

    edo_length_delimited_codec ld;
    CHECK_EQ(edo_length_delimited_codec_init(NULL, NULL), -EINVAL);
    unsigned widths[] = {5, 6, 7, 9, 16};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++)
        CHECK_EQ(edo_length_delimited_codec_init(
                     &ld, &(edo_length_delimited_config){.length_field_length = widths[i]}),
                 -EINVAL);
    CHECK_EQ(edo_length_delimited_codec_init(
                 &ld, &(edo_length_delimited_config){.length_field_offset = EDO_BYTES_MAX}),
             -EINVAL);
    CHECK_EQ(edo_length_delimited_codec_init(
                 &ld, &(edo_length_delimited_config){.length_adjustment = INT64_MIN}),
             -EINVAL);
    CHECK_EQ(edo_length_delimited_codec_init(
                 &ld, &(edo_length_delimited_config){.max_frame_length = SIZE_MAX}),
             -EINVAL);
    CHECK_EQ(edo_length_delimited_codec_init(&ld, NULL), 0);
    CHECK_EQ(ld.config_.length_field_length, 4);
    CHECK_EQ(ld.config_.max_frame_length, EDO_LENGTH_DELIMITED_DEFAULT_MAX);
}

TEST(lines_split_anywhere)
{
    edo_lines_codec c;
    CHECK_EQ(edo_lines_codec_init(&c, 16), 0);
    edo_bytes in = EDO_BYTES_INIT, line = EDO_BYTES_INIT;
    const char *text = "one\ntwo\r\n\nthree\r\nfour";
    const char *want[] = {"one", "two", "", "three"};
    size_t got = 0;
    /* Byte by byte: every split point, the "\r\n" cut in two included. */
    for (size_t i = 0; text[i]; i++) {
        CHECK_EQ(edo_bytes_append(&in, &text[i], 1), 0);
        int rc;
        while ((rc = edo_codec_decode(&c.base, &in, &line)) == 1)
            check_frame(&line, want[got++]);
        CHECK_EQ(rc, 0);
    }
    CHECK_EQ(got, 4);
    /* The last line has no '\n': the end of the stream ends it. */
    CHECK_EQ(edo_codec_decode_eof(&c.base, &in, &line), 1);
    check_frame(&line, "four");
    CHECK_EQ(edo_codec_decode_eof(&c.base, &in, &line), 0);
    edo_bytes_drop(&line);
    edo_bytes_drop(&in);
}

TEST(lines_too_long_is_skipped)
{
    edo_lines_codec c;
    CHECK_EQ(edo_lines_codec_init(&c, 4), 0);
    edo_bytes in = EDO_BYTES_INIT, line = EDO_BYTES_INIT;
    /* At the limit with "\r\n": fine. One over, ending seen: refused, the next line follows. */
    put(&in, "abcd\r\nabcde\nok\n");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), 1);
    check_frame(&line, "abcd");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), -EMSGSIZE);
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), 1);
    check_frame(&line, "ok");
    /* No '\n' within the limit: refused at once, before the line is all there; the buffer
     * keeps none of what was searched, and the rest is dropped as it comes. */
    put(&in, "0123456");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), -EMSGSIZE);
    CHECK(edo_bytes_len(&in) < 7);
    put(&in, "789");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), 0);
    CHECK_EQ(edo_bytes_len(&in), 0);
    put(&in, "9\nnext\n");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), 1);
    check_frame(&line, "next");
    /* A line over the limit with its end and the next line already buffered. */
    put(&in, "0123456789\naft\n");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), -EMSGSIZE);
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), 1);
    check_frame(&line, "aft");
    /* Ended while skipping: a clean end (the line was reported). */
    put(&in, "toolong");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &line), -EMSGSIZE);
    CHECK_EQ(edo_codec_decode_eof(&c.base, &in, &line), 0);
    edo_bytes_drop(&line);
    edo_bytes_drop(&in);
}

TEST(lines_encode)
{
    edo_lines_codec c;
    CHECK_EQ(edo_lines_codec_init(&c, 5), 0);
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_codec_encode(&c.base, &(edo_codec_buf){"hello", 5}, &out), 0);
    CHECK_EQ(edo_codec_encode(&c.base, &(edo_codec_buf){NULL, 0}, &out), 0);
    CHECK_EQ(edo_codec_encode(&c.base, &(edo_codec_buf){"hello!", 6}, &out), -EMSGSIZE);
    CHECK_EQ(edo_codec_encode(&c.base, &(edo_codec_buf){"a\nb", 3}, &out), -EINVAL);
    check_frame(&out, "hello\n\n");
    edo_bytes_drop(&out);
}

/* Encodes `payload` with `cfg`, checks the bytes, decodes them back (one byte at a time). */
static void ld_round_trip(const edo_length_delimited_config *cfg, const char *payload,
                          const char *wire, size_t wire_len)
{
    edo_length_delimited_codec c;
    CHECK_EQ(edo_length_delimited_codec_init(&c, cfg), 0);
    edo_bytes out = EDO_BYTES_INIT, in = EDO_BYTES_INIT, frame = EDO_BYTES_INIT;
    CHECK_EQ(edo_codec_encode(&c.base, &(edo_codec_buf){payload, strlen(payload)}, &out), 0);
    CHECK_EQ(edo_bytes_len(&out), wire_len);
    CHECK(memcmp(edo_bytes_data(&out), wire, wire_len) == 0);
    for (size_t i = 0; i < wire_len; i++) {
        CHECK_EQ(edo_codec_decode(&c.base, &in, &frame), 0);
        CHECK_EQ(edo_bytes_append(&in, wire + i, 1), 0);
    }
    CHECK_EQ(edo_codec_decode(&c.base, &in, &frame), 1);
    if (cfg && cfg->keep_header) {
        CHECK_EQ(edo_bytes_len(&frame), wire_len);
    } else {
        check_frame(&frame, payload);
    }
    CHECK_EQ(edo_codec_decode_eof(&c.base, &in, &frame), 0);
    edo_bytes_drop(&frame);
    edo_bytes_drop(&in);
    edo_bytes_drop(&out);
}

TEST(length_delimited_layouts)
{
    ld_round_trip(NULL, "abc", "\0\0\0\3abc", 7);
    ld_round_trip(&(edo_length_delimited_config){.length_field_length = 2, .little_endian = true},
                  "abc", "\3\0abc", 5);
    ld_round_trip(&(edo_length_delimited_config){.length_field_length = 3}, "xy", "\0\0\2xy", 5);
    ld_round_trip(&(edo_length_delimited_config){.length_field_length = 8}, "q",
                  "\0\0\0\0\0\0\0\1q", 9);
    /* A field counting its own two bytes too, after a one-byte tag; the header kept. */
    ld_round_trip(&(edo_length_delimited_config){.length_field_offset = 1,
                                                 .length_field_length = 2,
                                                 .length_adjustment = -2,
                                                 .keep_header = true},
                  "hi", "\0\0\4hi", 5);
    ld_round_trip(&(edo_length_delimited_config){.length_field_length = 1}, "", "\0", 1);
}

TEST(length_delimited_limits)
{
    edo_length_delimited_codec c;
    CHECK_EQ(edo_length_delimited_codec_init(
                 &c, &(edo_length_delimited_config){.max_frame_length = 4}),
             0);
    edo_bytes in = EDO_BYTES_INIT, frame = EDO_BYTES_INIT;
    /* A 4 GiB frame announced: refused on the header, nothing reserved for it. */
    CHECK_EQ(edo_bytes_append(&in, "\xff\xff\xff\xff", 4), 0);
    size_t cap_before = edo_bytes_len(&in) + edo_bytes_spare_len(&in);
    CHECK_EQ(edo_codec_decode(&c.base, &in, &frame), -EMSGSIZE);
    CHECK(edo_bytes_len(&in) + edo_bytes_spare_len(&in) <= cap_before);
    edo_length_delimited_codec small;
    CHECK_EQ(edo_length_delimited_codec_init(
                 &small, &(edo_length_delimited_config){.max_frame_length = 4}),
             0);
    /* A refused 5-byte frame is skipped as it comes; the frame after it decodes. */
    edo_bytes_clear(&in);
    CHECK_EQ(edo_bytes_append(&in, "\0\0\0\5ab", 6), 0);
    CHECK_EQ(edo_codec_decode(&small.base, &in, &frame), -EMSGSIZE);
    CHECK_EQ(edo_codec_decode(&small.base, &in, &frame), 0);
    CHECK_EQ(edo_bytes_append(&in, "cde\0\0\0\2ok", 9), 0);
    CHECK_EQ(edo_codec_decode(&small.base, &in, &frame), 1);
    check_frame(&frame, "ok");
    CHECK_EQ(edo_codec_encode(&small.base, &(edo_codec_buf){"12345", 5}, &in), -EMSGSIZE);
    /* A partial frame at the end of the stream is an error, not dropped. */
    CHECK_EQ(edo_bytes_append(&in, "\0\0\0\3a", 5), 0);
    CHECK_EQ(edo_codec_decode_eof(&small.base, &in, &frame), -EPROTO);
    edo_bytes_clear(&in);
    /* A length below zero after the adjustment: framing is lost for good. */
    edo_length_delimited_codec adj;
    CHECK_EQ(edo_length_delimited_codec_init(
                 &adj, &(edo_length_delimited_config){.length_field_length = 1,
                                                      .length_adjustment = -2}),
             0);
    CHECK_EQ(edo_bytes_append(&in, "\1\3x", 3), 0);
    CHECK_EQ(edo_codec_decode(&adj.base, &in, &frame), -EPROTO);
    CHECK_EQ(edo_codec_decode(&adj.base, &in, &frame), -EPROTO);
    /* A payload too short for the adjustment, or too long for the field, cannot be encoded. */
    CHECK_EQ(edo_codec_encode(&adj.base, &(edo_codec_buf){NULL, 0}, &in), 0);
    edo_length_delimited_codec one;
    CHECK_EQ(edo_length_delimited_codec_init(
                 &one, &(edo_length_delimited_config){.length_field_length = 1,
                                                      .length_adjustment = 2}),
             0);
    CHECK_EQ(edo_codec_encode(&one.base, &(edo_codec_buf){"x", 1}, &in), -EMSGSIZE);
    char big[300] = {0};
    CHECK_EQ(edo_codec_encode(&one.base, &(edo_codec_buf){big, 258}, &in), -EMSGSIZE);
    CHECK_EQ(edo_codec_encode(&one.base, &(edo_codec_buf){big, 257}, &in), 0);
    edo_bytes_drop(&frame);
    edo_bytes_drop(&in);
}
