/* Turning a scanned RESP2 frame into values, and splitting inline commands. The scanner has
 * already checked every byte and limit, so this pass trusts the structure it walks. */
#include <errno.h>
#include <string.h>

#include "codec/resp.h"

static bool is_blank(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One escape after a backslash in a double-quoted word, at p[*i] (the backslash): the byte it
 * stands for; *i moves to its last byte. */
static uint8_t unescape(const uint8_t *p, size_t len, size_t *i)
{
    size_t at = *i + 1;
    if (p[at] == 'x' && at + 2 < len && hex_digit(p[at + 1]) >= 0 && hex_digit(p[at + 2]) >= 0) {
        *i = at + 2;
        return (uint8_t)(hex_digit(p[at + 1]) * 16 + hex_digit(p[at + 2]));
    }
    *i = at;
    switch (p[at]) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return p[at];
    }
}

int edo__resp_split_inline(const uint8_t *p, size_t len, size_t *bytes, char *out,
                           edo_resp_value *args)
{
    size_t words = 0, total = 0, i = 0;
    for (;;) {
        while (i < len && is_blank(p[i]))
            i++;
        if (i == len)
            break;
        uint8_t quote = (p[i] == '"' || p[i] == '\'') ? p[i] : 0;
        size_t word_start = total;
        if (quote)
            i++;
        for (;; i++) {
            if (i == len) {
                if (quote)
                    return -EPROTO; /* the quote never closed */
                break;
            }
            uint8_t c = p[i];
            if (quote && c == quote) {
                /* A closing quote must end the word ("a"b is refused, as redis does). */
                if (i + 1 < len && !is_blank(p[i + 1]))
                    return -EPROTO;
                i++;
                break;
            }
            if (!quote && is_blank(c))
                break;
            if (c == '\\' && i + 1 < len) {
                if (quote == '"')
                    c = unescape(p, len, &i);
                else if (quote == '\'' && p[i + 1] == '\'')
                    c = p[++i];
            }
            if (out)
                out[total] = (char)c;
            total++;
        }
        if (out) {
            out[total] = '\0';
            args[words] = (edo_resp_value){.type = EDO_RESP_BULK,
                                           .len = total - word_start,
                                           .str = out + word_start};
            out += 1; /* the NUL: `total` counts string bytes only */
        }
        words++;
        if (words > INT32_MAX)
            return -EPROTO;
    }
    *bytes = total;
    return (int)words;
}

/* Where the builder writes: the values array and the first free slot in it. */
typedef struct slots {
    edo_resp_value *values;
    size_t used, room;
} slots;

/* Builds the item at p[*at] into *v (an array's items go to the next free slots) and moves *at
 * past it. Checks everything the scanner checks, so it can also run on bytes nobody scanned:
 * returns false when the item is not whole, not well formed, over a limit, or when the slots
 * run out (the scanner then says which, or waits). */
static bool build_item(const uint8_t *p, size_t len, size_t *at, edo_resp_value *v, slots *sl,
                       unsigned depth, const edo__resp_limits *lim)
{
    uint8_t type = p[*at];
    const uint8_t *line = p + *at + 1;
    size_t next = 0, line_len = 0;
    int64_t n = 0;
    if (type == '+' || type == '-') {
        size_t searched = 0, cr;
        const char *why;
        if (edo__resp_text_line(p, len, *at + 1, lim->max_line_len, &searched, &cr, &why) != 1)
            return false;
        line_len = cr - (*at + 1);
        next = cr + 2;
    } else if (type != ':' && type != '$' && type != '*') {
        return false;
    } else if (edo__resp_int_line(p, len, *at + 1, &n, &next) != 1) {
        return false;
    }
    if (next > lim->max_frame_len)
        return false;
    switch (type) {
    case '+':
    case '-':
        *v = (edo_resp_value){.type = type == '+' ? EDO_RESP_SIMPLE : EDO_RESP_ERROR,
                              .len = line_len,
                              .str = (const char *)line};
        break;
    case ':':
        *v = (edo_resp_value){.type = EDO_RESP_INTEGER, .integer = n};
        break;
    case '$':
        if (n < -1 || (n > 0 && (uint64_t)n > lim->max_bulk_len))
            return false;
        if (n == -1) {
            *v = (edo_resp_value){.type = EDO_RESP_NULL};
            break;
        }
        if ((size_t)n + 2 > len - next || (size_t)n + 2 > lim->max_frame_len - next ||
            p[next + (size_t)n] != '\r' || p[next + (size_t)n + 1] != '\n')
            return false;
        *v = (edo_resp_value){.type = EDO_RESP_BULK, .len = (size_t)n,
                              .str = (const char *)p + next};
        next += (size_t)n + 2;
        break;
    default: /* '*' */
        if (n < -1 || (n > 0 && ((uint64_t)n > sl->room - sl->used || depth == lim->max_depth)))
            return false;
        if (n == -1) {
            *v = (edo_resp_value){.type = EDO_RESP_NULL_ARRAY};
            break;
        }
        *v = (edo_resp_value){.type = EDO_RESP_ARRAY, .len = (size_t)n,
                              .items = sl->values + sl->used};
        sl->used += (size_t)n;
        *at = next;
        for (size_t i = 0; i < (size_t)n; i++)
            if (*at >= len || !build_item(p, len, at, &v->items[i], sl, depth + 1, lim))
                return false;
        return true;
    }
    *at = next;
    return true;
}

bool edo__resp_build(const edo__resp_limits *lim, const uint8_t *p, size_t len,
                     edo_resp_value *values, size_t room, size_t *frame_len, size_t *used)
{
    if (len == 0 || room == 0)
        return false;
    slots sl = {values, 1, room < lim->max_elements ? room : lim->max_elements};
    size_t at = 0;
    if (!build_item(p, len, &at, &values[0], &sl, 0, lim))
        return false;
    *frame_len = at;
    *used = sl.used;
    return true;
}

void edo__resp_build_inline(const edo__resp_scan *s, const uint8_t *p, size_t len,
                            edo_resp_value *values, char *text)
{
    size_t bytes;
    values[0] = (edo_resp_value){.type = EDO_RESP_ARRAY, .len = s->inline_args,
                                 .items = values + 1};
    edo__resp_split_inline(p, len - 1 /* without its '\n' */, &bytes, text, values + 1);
}
