/* The RESP2 scanner: finds where the frame at the front of a buffer ends, checking every limit as
 * soon as the header that announces a size is read, before a byte of it is buffered or a value
 * allocated (a "$1073741824" header is refused on its own line). It remembers the offset of the
 * last whole item and the items still expected in each open array, so the bytes of a large frame
 * are looked at once however many reads bring them; only an item cut in half is scanned again.
 */
#include <errno.h>
#include <string.h>

#include "codec/resp.h"

/* Finds the "\r\n" that ends the line starting at `from`: returns 1 and its offset in *end,
 * EDO__RESP_MORE when the line is not all there, or an error (a line longer than the limit, a
 * '\r' not followed by '\n'). *searched: how many bytes of the line are known to hold no '\r'
 * (kept between calls, so a long line arriving byte by byte is searched once). */
static int find_crlf(const uint8_t *p, size_t len, size_t from, size_t max_line,
                     size_t *searched, size_t *end, const char **why)
{
    /* The line's bytes, then its '\r'. */
    size_t window = len - from;
    if (window > max_line + 1)
        window = max_line + 1;
    const uint8_t *cr =
        window > *searched ? memchr(p + from + *searched, '\r', window - *searched) : NULL;
    if (!cr) {
        *searched = window;
        if (window == max_line + 1) {
            *why = "Protocol error: too big line";
            return -EMSGSIZE;
        }
        return EDO__RESP_MORE;
    }
    size_t at = (size_t)(cr - p);
    *searched = at - from;
    if (at + 1 == len)
        return EDO__RESP_MORE;
    if (p[at + 1] != '\n') {
        *why = "Protocol error: a line must end in CRLF";
        return -EPROTO;
    }
    *end = at;
    return 1;
}

int edo__resp_text_line(const uint8_t *p, size_t len, size_t from, size_t max_line,
                        size_t *searched, size_t *end, const char **why)
{
    int rc = find_crlf(p, len, from, max_line, searched, end, why);
    if (rc != 1)
        return rc;
    /* A lone '\n' would make the value impossible to send back (or to pass on). */
    if (*end > from && memchr(p + from, '\n', *end - from)) {
        *why = "Protocol error: a line must end in CRLF";
        return -EPROTO;
    }
    return 1;
}

/* Scans one item at s->offset. Returns 1 when it was whole (s is updated: offset past it; an
 * array's count in *opens), EDO__RESP_MORE, or an error. Number lines are read digit by digit
 * (they are short, and a number must be all digits anyway). */
static int scan_item(edo__resp_scan *s, const edo__resp_limits *lim, const uint8_t *p,
                     size_t len, int64_t *opens, const char **why)
{
    size_t start = s->offset;
    if (start >= len)
        return EDO__RESP_MORE;
    uint8_t type = p[start];
    size_t next = 0;
    int64_t n = 0;
    int rc;
    switch (type) {
    case '+':
    case '-':
        rc = edo__resp_text_line(p, len, start + 1, lim->max_line_len, &s->searched, &next, why);
        next += rc == 1 ? 2 : 0; /* from its '\r' to past its CRLF */
        break;
    case ':':
    case '$':
    case '*':
        rc = edo__resp_int_line(p, len, start + 1, &n, &next);
        if (rc == -EPROTO || (rc == 1 && type != ':' && n < -1))
            *why = type == ':'   ? "Protocol error: invalid integer"
                   : type == '$' ? "Protocol error: invalid bulk length"
                                 : "Protocol error: invalid multibulk length";
        if (rc == 1 && type != ':' && n < -1)
            rc = -EPROTO;
        break;
    default:
        *why = "Protocol error: unexpected type byte";
        return -EPROTO;
    }
    if (rc != 1)
        return rc;
    if (next > lim->max_frame_len) {
        *why = "Protocol error: frame too big";
        return -EMSGSIZE;
    }
    if (type == '$' && n >= 0) {
        if ((uint64_t)n > lim->max_bulk_len) {
            *why = "Protocol error: invalid bulk length";
            return -EMSGSIZE;
        }
        /* The string and its CRLF; the frame limit bounds what a peer can make us buffer. */
        if ((uint64_t)n + 2 > lim->max_frame_len - next) {
            *why = "Protocol error: frame too big";
            return -EMSGSIZE;
        }
        size_t data_end = next + (size_t)n;
        if (len < data_end + 2)
            return EDO__RESP_MORE;
        if (p[data_end] != '\r' || p[data_end + 1] != '\n') {
            *why = "Protocol error: bulk string not followed by CRLF";
            return -EPROTO;
        }
        next = data_end + 2;
    } else if (type == '*' && n > 0) {
        /* The array and its items (a nested array's own slot is counted twice: harmless). */
        if (s->values >= lim->max_elements || (uint64_t)n > lim->max_elements - s->values - 1) {
            *why = "Protocol error: invalid multibulk length";
            return -EMSGSIZE;
        }
        if (s->depth == lim->max_depth) {
            *why = "Protocol error: arrays nested too deep";
            return -EPROTO;
        }
        *opens = n;
    }
    s->offset = next;
    s->searched = 0;
    s->values++;
    return 1;
}

static int scan_inline(edo__resp_scan *s, const edo__resp_limits *lim, const uint8_t *p,
                       size_t len, const char **why)
{
    size_t window = len > lim->max_line_len + 2 ? lim->max_line_len + 2 : len;
    const uint8_t *nl =
        window > s->searched ? memchr(p + s->searched, '\n', window - s->searched) : NULL;
    if (!nl) {
        s->searched = window;
        if (window == lim->max_line_len + 2) {
            *why = "Protocol error: too big inline request";
            return -EMSGSIZE;
        }
        return EDO__RESP_MORE;
    }
    size_t line_len = (size_t)(nl - p);
    size_t bytes = 0;
    int words = edo__resp_split_inline(p, line_len, &bytes, NULL, NULL);
    if (words < 0) {
        *why = "Protocol error: unbalanced quotes in request";
        return -EPROTO;
    }
    if ((size_t)words >= lim->max_elements) {
        *why = "Protocol error: too many arguments";
        return -EMSGSIZE;
    }
    s->offset = line_len + 1;
    s->is_inline = true;
    s->inline_args = (size_t)words;
    s->inline_bytes = bytes;
    s->values = (size_t)words + 1;
    return words == 0 ? EDO__RESP_EMPTY : EDO__RESP_FRAME;
}

int edo__resp_scan_step(edo__resp_scan *s, const edo__resp_limits *lim, const uint8_t *p,
                        size_t len, const char **why)
{
    if (s->offset == 0 && len > 0 && lim->inline_commands && p[0] != '*')
        return scan_inline(s, lim, p, len, why);
    for (;;) {
        /* Close the arrays whose items are all there; the frame ends with the root. */
        while (s->depth > 0 && s->remaining[s->depth - 1] == 0)
            s->depth--;
        if (s->values > 0 && s->depth == 0)
            return EDO__RESP_FRAME;
        int64_t opens = 0;
        int rc = scan_item(s, lim, p, len, &opens, why);
        if (rc != 1)
            return rc;
        if (s->depth > 0)
            s->remaining[s->depth - 1]--; /* one more item of the array around it */
        if (opens > 0)
            s->remaining[s->depth++] = opens;
    }
}
