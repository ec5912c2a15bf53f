/* edo/resp.h — RESP2, the Redis protocol: a codec (edo/codec.h) and encoding helpers.
 *
 * Decodes simple strings (+OK), errors (-ERR ...), integers (:42), bulk strings ($3 foo, and the
 * null bulk $-1), arrays (*2 ..., and the null array *-1), nested to EDO_RESP_MAX_DEPTH; and,
 * for servers, inline commands as redis reads them (`SET k "a b"` on a line). Encodes values.
 *
 *     edo_resp_codec resp;
 *     edo_resp_codec_init(&resp, &(edo_resp_config){.inline_commands = true});
 *     edo_framed fr;
 *     edo_framed_init(&fr, conn, &resp.base, &(edo_framed_config){.flush_before_read = true});
 *     edo_resp_frame req;
 *     edo_resp_frame_init(&req);
 *     while (edo_framed_next(&fr, &req) == 1) {           // an array of bulk strings
 *         edo_bytes *out = edo_framed_write_buffer(&fr);
 *         edo_resp_append_simple(out, "PONG", 4);          // answered at the next read
 *     }
 *     edo_resp_frame_drop(&req);
 *
 * Limits are checked before anything is allocated or buffered for it: a bulk string's length
 * on its "$" line, an array's count on its "*" line, a line's length as it arrives. Errors (the
 * decoder's, all fatal for the stream: no RESP decoder can find the next frame after one):
 *   -EMSGSIZE  a limit was passed (a bulk string, an array count, a line, the frame);
 *   -EPROTO    malformed input (a bad type byte, a bad length or integer, a missing CRLF,
 *              unbalanced quotes in an inline command, nesting deeper than allowed).
 * After an error every decode returns it again, and edo_resp_codec_error() gives a message for
 * the peer in redis's words ("Protocol error: invalid bulk length"): a server sends it as an
 * error reply, then closes. Values that decode but make no sense to the application (a request
 * that is not an array of bulk strings, an unknown command) are the application's to refuse,
 * and the connection goes on.
 */
#ifndef EDO_RESP_H
#define EDO_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edo/bytes.h"
#include "edo/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arrays nested deeper than this are refused (a bound on the decoder's state). */
#define EDO_RESP_MAX_DEPTH 32
/* redis's proto-max-bulk-len: the largest bulk string by default, and the largest allowed. */
#define EDO_RESP_DEFAULT_MAX_BULK ((size_t)512 * 1024 * 1024)
/* Values in one frame (an array counts itself and each item) by default. */
#define EDO_RESP_DEFAULT_MAX_ELEMENTS ((size_t)1024 * 1024)
/* A line (a simple string, an error, a header, an inline command) by default: redis's 64 KiB. */
#define EDO_RESP_DEFAULT_MAX_LINE ((size_t)64 * 1024)
/* Bytes in one frame by default (redis's client-query-buffer-limit). */
#define EDO_RESP_DEFAULT_MAX_FRAME ((size_t)1024 * 1024 * 1024)

typedef enum edo_resp_type {
    EDO_RESP_SIMPLE,     /* +text */
    EDO_RESP_ERROR,      /* -text */
    EDO_RESP_INTEGER,    /* :n */
    EDO_RESP_BULK,       /* $len, then len bytes */
    EDO_RESP_NULL,       /* $-1 */
    EDO_RESP_ARRAY,      /* *count, then count values */
    EDO_RESP_NULL_ARRAY, /* *-1 */
} edo_resp_type;

/* One value. Strings (simple, error, bulk) are `len` bytes at `str`, in the frame (valid until
 * it is cleared or dropped), followed by a NUL (str[len] == '\0', written over the CR of their
 * CRLF): a string without NUL bytes in it is also a C string. An array's `len` items are at
 * `items`. */
typedef struct edo_resp_value {
    edo_resp_type type;
    size_t len;
    union {
        const char *str;
        int64_t integer;
        struct edo_resp_value *items;
    };
} edo_resp_value;

/* A decoded frame: what the RESP codec decodes into. Prepare it once with edo_resp_frame_init
 * (or zero it) and decode into it again and again: it keeps its room for values, and what it
 * held is released at each decode. */
typedef struct edo_resp_frame {
    edo_resp_value value; /* the frame; valid after a decode returned 1 */
    edo_bytes bytes_;     /* the frame's bytes, split off the input: strings point there */
    edo_resp_value *values_;
    size_t values_cap_;
    char *text_; /* an inline command's arguments, unescaped */
    size_t text_cap_;
} edo_resp_frame;

/* Makes `f` empty (NULL: no-op). Never suspends. */
void edo_resp_frame_init(edo_resp_frame *f);
/* Releases everything `f` holds and leaves it empty. NULL: no-op. Never suspends. */
void edo_resp_frame_drop(edo_resp_frame *f);

/* Options; zero fields mean the default. */
typedef struct edo_resp_config {
    size_t max_bulk_len;  /* EDO_RESP_DEFAULT_MAX_BULK (512 MiB, also the most allowed) */
    size_t max_elements;  /* EDO_RESP_DEFAULT_MAX_ELEMENTS */
    size_t max_line_len;  /* EDO_RESP_DEFAULT_MAX_LINE */
    size_t max_frame_len; /* EDO_RESP_DEFAULT_MAX_FRAME */
    /* Servers: a frame that does not start with '*' is an inline command (a line of words,
     * decoded as an array of bulk strings; blank lines are skipped), as redis reads requests.
     * Off (clients reading replies): every RESP2 type is decoded. */
    bool inline_commands;
} edo_resp_config;

/* The codec. Decodes into an edo_resp_frame, encodes an edo_resp_value. */
typedef struct edo_resp_codec {
    edo_codec base;
    uint64_t private_[48];
} edo_resp_codec;

/* Prepares `c` (config NULL: defaults). Returns 0, or -EINVAL (NULL c; max_bulk_len above
 * EDO_RESP_DEFAULT_MAX_BULK; max_elements above 2^31; max_line_len or max_frame_len above
 * EDO_BYTES_MAX). Nothing to release. Never suspends; one stream at a time. */
int edo_resp_codec_init(edo_resp_codec *c, const edo_resp_config *config);
/* The decoding error's message for the peer (a static string, no CRLF), or NULL while there
 * was none (and for NULL c). */
const char *edo_resp_codec_error(const edo_resp_codec *c);

/* ---------------------------------------------------------------------------------------------
 * Encoding. Each call appends one value's encoding to `dst` and returns 0, or -EINVAL (NULL
 * dst, NULL data with len > 0, a simple string or error holding '\r' or '\n') or -ENOMEM, with
 * dst unchanged. Never suspend.
 * ------------------------------------------------------------------------------------------- */

/* A whole value, arrays included (-EINVAL also for a NULL v, an unknown type, NULL items with
 * len > 0, nesting deeper than EDO_RESP_MAX_DEPTH). */
int edo_resp_encode(const edo_resp_value *v, edo_bytes *dst);
int edo_resp_append_simple(edo_bytes *dst, const char *text, size_t len);
int edo_resp_append_error(edo_bytes *dst, const char *text, size_t len);
int edo_resp_append_integer(edo_bytes *dst, int64_t n);
int edo_resp_append_bulk(edo_bytes *dst, const void *data, size_t len);
int edo_resp_append_null(edo_bytes *dst);
/* An array's header: its `count` items are appended after it, one call each (-EINVAL also
 * for a count above EDO_BYTES_MAX). */
int edo_resp_append_array(edo_bytes *dst, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* EDO_RESP_H */
