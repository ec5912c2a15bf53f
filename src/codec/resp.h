/* The RESP2 decoder's two halves. The scanner (resp_scan.c) walks the bytes of a frame as they
 * arrive, checking every limit before anything is allocated, and keeps its place between calls
 * so a frame that arrives in many reads is scanned once, not once per read. When it reports a
 * whole frame, the builder (resp_build.c) turns those bytes, now known to be complete and well
 * formed, into values.
 */
#ifndef EDO_CODEC_RESP_H
#define EDO_CODEC_RESP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edo/resp.h"

/* How far the scanner got into the frame at the front of the buffer. */
typedef struct edo__resp_scan {
    size_t offset;   /* bytes of whole items scanned so far */
    size_t searched; /* bytes after them searched for a line end in vain */
    size_t values;   /* values in them (each array counts itself and its items) */
    uint32_t depth;  /* arrays open at `offset` */
    bool is_inline;  /* the frame is an inline command (its length is in `offset` once done) */
    size_t inline_args; /* an inline command's arguments, when done */
    size_t inline_bytes; /* their bytes, unescaped, without terminators */
    int64_t remaining[EDO_RESP_MAX_DEPTH]; /* items still to come in each open array */
} edo__resp_scan;

/* What the scanner reports. */
enum {
    EDO__RESP_MORE = 0,  /* the frame is incomplete: call again with more bytes */
    EDO__RESP_FRAME = 1, /* the frame is `offset` bytes long and holds `values` values */
    EDO__RESP_EMPTY = 2, /* `offset` bytes of empty inline lines to drop; no frame yet */
};

/* Limits, already defaulted and checked (see edo_resp_config). */
typedef struct edo__resp_limits {
    size_t max_bulk_len, max_elements, max_line_len, max_frame_len;
    uint32_t max_depth;
    bool inline_commands;
} edo__resp_limits;

/* Continues scanning `len` bytes at `p` (the whole frame so far, from its first byte; the
 * bytes scanned before are unchanged). Returns EDO__RESP_MORE, _FRAME, _EMPTY, or -EMSGSIZE /
 * -EPROTO with *why set to a message for the peer (static). */
int edo__resp_scan_step(edo__resp_scan *s, const edo__resp_limits *lim, const uint8_t *p,
                        size_t len, const char **why);

/* Builds the values of the RESP frame at the front of `len` bytes at `p` into `values` (room for
 * `room`; values[0] is the root, an array's items in consecutive slots), checking all the
 * scanner checks. Returns true with the frame's length and the slots used, or false when the
 * frame is not all there, breaks a rule or a limit, or needs more room: then the scanner (which
 * keeps its place, and names errors) takes over. Writes only to `values`. */
bool edo__resp_build(const edo__resp_limits *lim, const uint8_t *p, size_t len,
                     edo_resp_value *values, size_t room, size_t *frame_len, size_t *used);
/* Builds an inline command the scanner reported whole (`len` bytes at `p`, its '\n' included):
 * an array of its words, copied unescaped into `text` (room for the scanner's inline_bytes
 * plus one NUL per word). */
void edo__resp_build_inline(const edo__resp_scan *s, const uint8_t *p, size_t len,
                            edo_resp_value *values, char *text);

/* Splits an inline command line as redis does: words separated by blanks; "double quoted"
 * with \n \r \t \b \a and \xHH escapes (a backslash before any other byte stands for that
 * byte), 'single quoted' with \'; a closing quote must end the word. Counts the words and their
 * unescaped bytes (*bytes); when `out` is not NULL, also writes each word to it NUL-terminated
 * and describes it in args[i] (a bulk string). Returns the word count, or -EPROTO (a quote
 * left open or closed inside a word). */
int edo__resp_split_inline(const uint8_t *p, size_t len, size_t *bytes, char *out,
                           edo_resp_value *args);

/* A simple string or error line starting at p[from]: 1 with the offset of its '\r' in *end,
 * EDO__RESP_MORE when it is not all there, or -EMSGSIZE (longer than `max_line`) / -EPROTO (a
 * '\r' not followed by '\n', or a lone '\n' inside) with *why set to a message for the peer.
 * *searched: how many bytes of the line are known to hold no '\r' (0 at first; kept between
 * calls, so a line arriving byte by byte is searched once). */
int edo__resp_text_line(const uint8_t *p, size_t len, size_t from, size_t max_line,
                        size_t *searched, size_t *end, const char **why);

/* Reads a number line from p[from]: an optional '-', 1 to 19 digits, CRLF. Returns 1 with the
 * value in *out and the offset past the CRLF in *next, EDO__RESP_MORE (not all there yet), or
 * -EPROTO. */
static inline int edo__resp_int_line(const uint8_t *p, size_t len, size_t from, int64_t *out,
                                     size_t *next)
{
    const uint8_t *c = p + from, *end = p + len;
    bool negative = c < end && *c == '-';
    c += negative;
    const uint8_t *first = c;
    /* 19 digits cannot overflow a uint64_t; a 20th is refused below (it is not a CR). */
    const uint8_t *stop = end - c > 19 ? c + 19 : end;
    uint64_t v = 0;
    while (c < stop && (unsigned)(*c - '0') < 10)
        v = v * 10 + (uint64_t)(*c++ - '0');
    if (c == end || (c + 1 == end && *c == '\r'))
        return EDO__RESP_MORE;
    if (c == first || c[0] != '\r' || c[1] != '\n' || v > (uint64_t)INT64_MAX + negative)
        return -EPROTO;
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    *next = (size_t)(c - p) + 2;
    return 1;
}

/* Makes `s` ready for the next frame. */
static inline void edo__resp_scan_reset(edo__resp_scan *s)
{
    memset(s, 0, offsetof(edo__resp_scan, remaining)); /* `remaining` is written before read */
}

#endif
