/* RESP2 encoding. Each call measures what it will write, reserves it once and then writes into
 * the buffer's spare room, so a failed call leaves the buffer as it was and a successful one
 * costs one capacity check. */
#include <errno.h>
#include <string.h>

#include "edo/resp.h"

static uint64_t magnitude(int64_t n) { return n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n; }

/* Writes `n` in decimal at `out` (room for 20 bytes): returns the length. */
static size_t format_int(int64_t n, char *out)
{
    char tmp[20];
    uint64_t v = magnitude(n);
    size_t len = 0;
    do {
        tmp[len++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t at = 0;
    if (n < 0)
        out[at++] = '-';
    while (len)
        out[at++] = tmp[--len];
    return at;
}

/* The bytes of a decimal number's text (counted: the sizing pass writes nothing). */
static size_t int_len(int64_t n)
{
    size_t len = n < 0;
    uint64_t v = magnitude(n);
    do
        len++;
    while (v /= 10);
    return len;
}

/* A type byte, a line ("text\r\n"). */
static uint8_t *put_line(uint8_t *p, char type, const char *text, size_t len)
{
    *p++ = (uint8_t)type;
    if (len)
        memcpy(p, text, len);
    p += len;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static uint8_t *put_int_line(uint8_t *p, char type, int64_t n)
{
    char text[20];
    return put_line(p, type, text, format_int(n, text));
}

/* Makes room for `len` bytes and returns where they go, or NULL (-ENOMEM in *rc). */
static uint8_t *room_for(edo_bytes *dst, size_t len, int *rc)
{
    *rc = edo_bytes_reserve(dst, len);
    if (*rc < 0)
        return NULL;
    size_t spare;
    return edo_bytes_spare(dst, &spare);
}

static bool is_line(const char *text, size_t len)
{
    return len == 0 || (!memchr(text, '\r', len) && !memchr(text, '\n', len));
}

/* The encoded size of `v`, or 0 when it cannot be encoded. */
static size_t encoded_size(const edo_resp_value *v, unsigned depth)
{
    switch (v->type) {
    case EDO_RESP_SIMPLE:
    case EDO_RESP_ERROR:
        if ((!v->str && v->len) || !is_line(v->str, v->len) || v->len > EDO_BYTES_MAX / 2)
            return 0;
        return v->len + 3;
    case EDO_RESP_INTEGER:
        return int_len(v->integer) + 3;
    case EDO_RESP_BULK:
        if ((!v->str && v->len) || v->len > EDO_BYTES_MAX / 2)
            return 0;
        return 1 + int_len((int64_t)v->len) + 2 + v->len + 2;
    case EDO_RESP_NULL:
    case EDO_RESP_NULL_ARRAY:
        return 5;
    case EDO_RESP_ARRAY: {
        if ((!v->items && v->len) || depth >= EDO_RESP_MAX_DEPTH || v->len > EDO_BYTES_MAX / 4)
            return 0;
        size_t total = 1 + int_len((int64_t)v->len) + 2;
        for (size_t i = 0; i < v->len; i++) {
            size_t item = encoded_size(&v->items[i], depth + 1);
            if (item == 0 || item > EDO_BYTES_MAX - total)
                return 0;
            total += item;
        }
        return total;
    }
    }
    return 0;
}

static uint8_t *put_value(uint8_t *p, const edo_resp_value *v)
{
    switch (v->type) {
    case EDO_RESP_SIMPLE:
        return put_line(p, '+', v->str, v->len);
    case EDO_RESP_ERROR:
        return put_line(p, '-', v->str, v->len);
    case EDO_RESP_INTEGER:
        return put_int_line(p, ':', v->integer);
    case EDO_RESP_BULK:
        p = put_int_line(p, '$', (int64_t)v->len);
        if (v->len)
            memcpy(p, v->str, v->len);
        p += v->len;
        *p++ = '\r';
        *p++ = '\n';
        return p;
    case EDO_RESP_NULL:
        return put_line(p, '$', "-1", 2);
    case EDO_RESP_NULL_ARRAY:
        return put_line(p, '*', "-1", 2);
    case EDO_RESP_ARRAY:
        p = put_int_line(p, '*', (int64_t)v->len);
        for (size_t i = 0; i < v->len; i++)
            p = put_value(p, &v->items[i]);
        return p;
    }
    return p;
}

int edo_resp_encode(const edo_resp_value *v, edo_bytes *dst)
{
    if (!v || !dst)
        return -EINVAL;
    size_t size = encoded_size(v, 0);
    if (size == 0)
        return -EINVAL;
    int rc;
    uint8_t *p = room_for(dst, size, &rc);
    if (!p)
        return rc;
    put_value(p, v);
    return edo_bytes_commit(dst, size);
}

static int append_line(edo_bytes *dst, char type, const char *text, size_t len)
{
    if (!dst || (!text && len) || !is_line(text, len) || len > EDO_BYTES_MAX / 2)
        return -EINVAL;
    int rc;
    uint8_t *p = room_for(dst, len + 3, &rc);
    if (!p)
        return rc;
    put_line(p, type, text, len);
    return edo_bytes_commit(dst, len + 3);
}

int edo_resp_append_simple(edo_bytes *dst, const char *text, size_t len)
{
    return append_line(dst, '+', text, len);
}

int edo_resp_append_error(edo_bytes *dst, const char *text, size_t len)
{
    return append_line(dst, '-', text, len);
}

int edo_resp_append_integer(edo_bytes *dst, int64_t n)
{
    char text[20];
    return append_line(dst, ':', text, format_int(n, text));
}

int edo_resp_append_null(edo_bytes *dst) { return append_line(dst, '$', "-1", 2); }

int edo_resp_append_array(edo_bytes *dst, size_t count)
{
    if (count > EDO_BYTES_MAX)
        return -EINVAL;
    char text[20];
    return append_line(dst, '*', text, format_int((int64_t)count, text));
}

int edo_resp_append_bulk(edo_bytes *dst, const void *data, size_t len)
{
    edo_resp_value v = {.type = EDO_RESP_BULK, .len = len, .str = data};
    return edo_resp_encode(&v, dst);
}
