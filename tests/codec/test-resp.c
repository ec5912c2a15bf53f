/* The RESP2 codec on buffers: every type, frames split at every byte, inline commands, limits
 * refused before buffering, malformed input, encoding. */
#include <errno.h>
#include <string.h>

#include "edo/resp.h"
#include "harness.h"

static void put(edo_bytes *b, const char *s) { CHECK_EQ(edo_bytes_append(b, s, strlen(s)), 0); }

static bool str_is(const edo_resp_value *v, const char *s)
{
    return v->len == strlen(s) && memcmp(v->str, s, v->len) == 0;
}

static edo_resp_codec server_codec(void)
{
    edo_resp_codec c;
    CHECK_EQ(edo_resp_codec_init(&c, &(edo_resp_config){.inline_commands = true}), 0);
    return c;
}

/* Decodes `wire` (one frame) fed one byte at a time: 0 until the last byte, then 1. */
static void decode_bytewise(edo_resp_codec *c, const char *wire, size_t len, edo_resp_frame *f)
{
    edo_bytes in = EDO_BYTES_INIT;
    for (size_t i = 0; i < len; i++) {
        CHECK_EQ(edo_codec_decode(&c->base, &in, f), 0);
        CHECK_EQ(edo_bytes_append(&in, wire + i, 1), 0);
    }
    CHECK_EQ(edo_codec_decode(&c->base, &in, f), 1);
    CHECK_EQ(edo_bytes_len(&in), 0);
    edo_bytes_drop(&in);
}

TEST(bad_input)
{
    edo_resp_codec c;
    CHECK_EQ(edo_resp_codec_init(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_resp_codec_init(&c, &(edo_resp_config){.max_bulk_len = (size_t)1 << 30}),
             -EINVAL);
    CHECK_EQ(edo_resp_codec_init(&c, &(edo_resp_config){.max_elements = (size_t)1 << 32}),
             -EINVAL);
    CHECK_EQ(edo_resp_codec_init(&c, &(edo_resp_config){.max_frame_len = SIZE_MAX}), -EINVAL);
    CHECK_EQ(edo_resp_codec_init(&c, NULL), 0);
    CHECK(edo_resp_codec_error(&c) == NULL);
    CHECK(edo_resp_codec_error(NULL) == NULL);
    edo_resp_frame_init(NULL);
    edo_resp_frame_drop(NULL);
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_resp_encode(NULL, &out), -EINVAL);
    CHECK_EQ(edo_resp_append_simple(NULL, "x", 1), -EINVAL);
    CHECK_EQ(edo_resp_append_simple(&out, "a\r\nb", 4), -EINVAL);
    CHECK_EQ(edo_resp_append_error(&out, "a\nb", 3), -EINVAL);
    CHECK_EQ(edo_resp_append_bulk(&out, NULL, 2), -EINVAL);
    edo_resp_value bad_array = {.type = EDO_RESP_ARRAY, .len = 2, .items = NULL};
    CHECK_EQ(edo_resp_encode(&bad_array, &out), -EINVAL);
    edo_resp_value bad_type = {.type = (edo_resp_type)99};
    CHECK_EQ(edo_resp_encode(&bad_type, &out), -EINVAL);
    CHECK_EQ(edo_bytes_len(&out), 0);
    edo_bytes_drop(&out);
}

TEST(every_type_split_at_every_byte)
{
    static const char wire[] = "*7\r\n+OK\r\n-ERR no\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n"
                               "*2\r\n*0\r\n$0\r\n\r\n";
    edo_resp_codec c;
    CHECK_EQ(edo_resp_codec_init(&c, NULL), 0);
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    decode_bytewise(&c, wire, sizeof wire - 1, &f);
    const edo_resp_value *v = &f.value;
    CHECK_EQ(v->type, EDO_RESP_ARRAY);
    CHECK_EQ(v->len, 7);
    CHECK(v->items[0].type == EDO_RESP_SIMPLE && str_is(&v->items[0], "OK"));
    CHECK(v->items[1].type == EDO_RESP_ERROR && str_is(&v->items[1], "ERR no"));
    CHECK(v->items[2].type == EDO_RESP_INTEGER && v->items[2].integer == -42);
    CHECK(v->items[3].type == EDO_RESP_BULK && str_is(&v->items[3], "he\r\no"));
    CHECK_EQ(v->items[4].type, EDO_RESP_NULL);
    CHECK_EQ(v->items[5].type, EDO_RESP_NULL_ARRAY);
    const edo_resp_value *nested = &v->items[6];
    CHECK(nested->type == EDO_RESP_ARRAY && nested->len == 2);
    CHECK(nested->items[0].type == EDO_RESP_ARRAY && nested->items[0].len == 0);
    CHECK(nested->items[1].type == EDO_RESP_BULK && nested->items[1].len == 0);
    /* Every string is NUL-terminated too. */
    CHECK(strcmp(v->items[0].str, "OK") == 0 && strcmp(v->items[1].str, "ERR no") == 0);
    CHECK(v->items[3].str[5] == '\0' && nested->items[1].str[0] == '\0');
    /* Encoding it gives the same bytes back. */
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_codec_encode(&c.base, &f.value, &out), 0);
    CHECK_EQ(edo_bytes_len(&out), sizeof wire - 1);
    CHECK(memcmp(edo_bytes_data(&out), wire, sizeof wire - 1) == 0);
    edo_bytes_drop(&out);
    edo_resp_frame_drop(&f);
}

TEST(pipelined_frames_and_reuse)
{
    edo_resp_codec c = server_codec();
    edo_bytes in = EDO_BYTES_INIT;
    put(&in, "*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n:7");
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), 1);
    CHECK(f.value.len == 1 && str_is(&f.value.items[0], "PING"));
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), 1);
    CHECK(f.value.len == 3 && str_is(&f.value.items[2], "v"));
    /* Not '*' first, in a server: an inline command (":7" is its one word). */
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), 0);
    put(&in, "\r\n");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), 1);
    CHECK(f.value.len == 1 && str_is(&f.value.items[0], ":7"));
    CHECK_EQ(edo_codec_decode_eof(&c.base, &in, &f), 0);
    edo_resp_frame_drop(&f);
    edo_bytes_drop(&in);
}

TEST(inline_commands)
{
    edo_resp_codec c = server_codec();
    edo_bytes in = EDO_BYTES_INIT;
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    /* Blank lines are skipped; quotes, escapes and a bare '\n' ending as redis reads them. */
    put(&in, "\r\n  \n set  \"a b\\x41\\n\" 'it\\'s' \"\" \n");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), 1);
    CHECK_EQ(f.value.type, EDO_RESP_ARRAY);
    CHECK_EQ(f.value.len, 4);
    CHECK(str_is(&f.value.items[0], "set"));
    CHECK(str_is(&f.value.items[1], "a bA\n"));
    CHECK(str_is(&f.value.items[2], "it's"));
    CHECK(str_is(&f.value.items[3], ""));
    CHECK(strcmp(f.value.items[2].str, "it's") == 0);
    CHECK_EQ(edo_bytes_len(&in), 0);
    /* A quote closed inside a word, or never closed: malformed, and for good. */
    put(&in, "get \"a\"b\r\n");
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), -EPROTO);
    CHECK(strstr(edo_resp_codec_error(&c), "unbalanced quotes"));
    edo_resp_codec c2 = server_codec();
    edo_bytes_clear(&in);
    put(&in, "get \"abc\r\n");
    CHECK_EQ(edo_codec_decode(&c2.base, &in, &f), -EPROTO);
    CHECK_EQ(edo_codec_decode(&c2.base, &in, &f), -EPROTO);
    edo_resp_frame_drop(&f);
    edo_bytes_drop(&in);
}

/* Feeds `wire` to a fresh codec with `cfg`: the decode's result. */
static int decode_once(const edo_resp_config *cfg, const char *wire, edo_resp_codec *c)
{
    CHECK_EQ(edo_resp_codec_init(c, cfg), 0);
    edo_bytes in = EDO_BYTES_INIT;
    put(&in, wire);
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    int rc = edo_codec_decode(&c->base, &in, &f);
    edo_resp_frame_drop(&f);
    edo_bytes_drop(&in);
    return rc;
}

TEST(limits_before_buffering)
{
    edo_resp_codec c;
    edo_resp_config server = {.inline_commands = true};
    /* A 1 GiB bulk header: refused on its own line, before a byte of it came. */
    CHECK_EQ(decode_once(&server, "*2\r\n$3\r\nSET\r\n$1073741824\r\n", &c), -EMSGSIZE);
    CHECK(strcmp(edo_resp_codec_error(&c), "Protocol error: invalid bulk length") == 0);
    /* The configured limit, one over it, and exactly at it (then waits for the bytes). */
    edo_resp_config small = {.max_bulk_len = 4, .max_elements = 3, .max_line_len = 8};
    CHECK_EQ(decode_once(&small, "$5\r\n", &c), -EMSGSIZE);
    CHECK_EQ(decode_once(&small, "$4\r\n", &c), 0);
    CHECK_EQ(decode_once(&small, "*3\r\n", &c), -EMSGSIZE); /* 4 values with the array */
    CHECK_EQ(decode_once(&small, "*2\r\n", &c), 0);
    CHECK_EQ(decode_once(&small, "+123456789", &c), -EMSGSIZE); /* no CRLF within the line */
    CHECK_EQ(decode_once(&small, "+12345678", &c), 0);
    CHECK_EQ(decode_once(&(edo_resp_config){.max_frame_len = 16}, "*2\r\n$9\r\n", &c),
             -EMSGSIZE);
    /* Deeper than EDO_RESP_MAX_DEPTH. */
    char deep[4 * (EDO_RESP_MAX_DEPTH + 1) + 1] = "";
    for (int i = 0; i <= EDO_RESP_MAX_DEPTH; i++)
        strcat(deep, "*1\r\n");
    CHECK_EQ(decode_once(NULL, deep, &c), -EPROTO);
    /* An inline line longer than the limit. */
    CHECK_EQ(decode_once(&(edo_resp_config){.inline_commands = true, .max_line_len = 4},
                         "PING PONG", &c),
             -EMSGSIZE);
}

TEST(malformed)
{
    static const char *bad[] = {
        "?x\r\n",          /* no such type (a client codec) */
        "$-2\r\n",         /* a length below -1 */
        "$abc\r\n",        /* not a number */
        "$\r\n",           /* empty */
        "$3\r\nabcd\r\n",  /* longer than announced */
        "*-5\r\n",         /* a count below -1 */
        ":12a\r\n",        /* not an integer */
        ":99999999999999999999\r\n", /* beyond int64 */
        "+OK\rX",          /* CR without LF */
        "+a\nb\r\n",      /* LF inside a line */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        edo_resp_codec c;
        CHECK_EQ(decode_once(NULL, bad[i], &c), -EPROTO);
        CHECK(strncmp(edo_resp_codec_error(&c), "Protocol error", 14) == 0);
    }
    edo_resp_codec c;
    CHECK_EQ(decode_once(NULL, ":-9223372036854775808\r\n", &c), 1);
    /* A frame cut by the end of the stream is an error. */
    CHECK_EQ(edo_resp_codec_init(&c, NULL), 0);
    edo_bytes in = EDO_BYTES_INIT;
    put(&in, "*2\r\n$1\r\na\r\n");
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    CHECK_EQ(edo_codec_decode_eof(&c.base, &in, &f), -EPROTO);
    edo_resp_frame_drop(&f);
    edo_bytes_drop(&in);
}

TEST(encode_helpers)
{
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_resp_append_simple(&out, "OK", 2), 0);
    CHECK_EQ(edo_resp_append_error(&out, "ERR x", 5), 0);
    CHECK_EQ(edo_resp_append_integer(&out, INT64_MIN), 0);
    CHECK_EQ(edo_resp_append_integer(&out, 0), 0);
    CHECK_EQ(edo_resp_append_bulk(&out, "a\0b", 3), 0);
    CHECK_EQ(edo_resp_append_null(&out), 0);
    CHECK_EQ(edo_resp_append_array(&out, 12), 0);
    static const char want[] = "+OK\r\n-ERR x\r\n:-9223372036854775808\r\n:0\r\n$3\r\na\0b\r\n"
                               "$-1\r\n*12\r\n";
    CHECK_EQ(edo_bytes_len(&out), sizeof want - 1);
    CHECK(memcmp(edo_bytes_data(&out), want, sizeof want - 1) == 0);
    edo_bytes_drop(&out);
}

/* A 60,000-byte line arriving a byte at a time: the search for its end resumes where the last
 * call stopped (a CR found as the last byte, then its LF, included). */
TEST(long_line_byte_by_byte)
{
    enum { N = 60000 };
    static char wire[N + 3];
    wire[0] = '+';
    memset(wire + 1, 'x', N);
    memcpy(wire + 1 + N, "\r\n", 2);
    edo_resp_codec c;
    CHECK_EQ(edo_resp_codec_init(&c, NULL), 0);
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    decode_bytewise(&c, wire, sizeof wire, &f);
    CHECK(f.value.type == EDO_RESP_SIMPLE && f.value.len == N);
    /* The same as an inline command. */
    edo_resp_codec s = server_codec();
    wire[0] = 'x';
    wire[N + 1] = '\n';
    decode_bytewise(&s, wire, N + 2, &f);
    CHECK(f.value.type == EDO_RESP_ARRAY && f.value.len == 1 && f.value.items[0].len == N + 1);
    edo_resp_frame_drop(&f);
}

/* A frame decoded into a frame with room already (one pass, no scan) gives what the scanner's
 * path gives; a bad frame there still gets the scanner's error. */
TEST(one_pass_matches_scanner)
{
    static const char one[] = "*4\r\n+OK\r\n:-42\r\n*2\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n";
    edo_resp_codec c;
    CHECK_EQ(edo_resp_codec_init(&c, NULL), 0);
    edo_bytes in = EDO_BYTES_INIT;
    put(&in, one);
    put(&in, one);
    put(&in, "*2\r\n$3\r\nabcd\r\n");
    edo_resp_frame f;
    edo_resp_frame_init(&f);
    edo_bytes first = EDO_BYTES_INIT, second = EDO_BYTES_INIT;
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), 1); /* scanned: the frame gets its room */
    CHECK_EQ(edo_resp_encode(&f.value, &first), 0);
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), 1); /* one pass */
    CHECK_EQ(edo_resp_encode(&f.value, &second), 0);
    CHECK_EQ(edo_bytes_len(&first), sizeof one - 1);
    CHECK_EQ(edo_bytes_len(&second), sizeof one - 1);
    CHECK(memcmp(edo_bytes_data(&first), one, sizeof one - 1) == 0);
    CHECK(memcmp(edo_bytes_data(&second), one, sizeof one - 1) == 0);
    CHECK(strcmp(f.value.items[2].items[0].str, "hi") == 0); /* NUL-terminated on this path too */
    CHECK_EQ(edo_codec_decode(&c.base, &in, &f), -EPROTO);
    CHECK(strcmp(edo_resp_codec_error(&c), "Protocol error: bulk string not followed by CRLF") ==
          0);
    edo_bytes_drop(&first);
    edo_bytes_drop(&second);
    edo_resp_frame_drop(&f);
    edo_bytes_drop(&in);
}
