/* The minimal HTTP/1.1 keep-alive responder that each runtime's hello-world server implements
 * alike (edo_http.c, epoll_echo.c and uring_echo.c --http; bench/tokio/src/http.rs and
 * bench/go/http.go do the same in their languages): a request ends at its blank line (bodies
 * are not expected: wrk sends GETs), every request gets the same fixed response, and pipelined
 * requests get their responses in one write. */
#ifndef BENCH_NET_HTTP_H
#define BENCH_NET_HTTP_H

#include <string.h>

#define HTTP_RESPONSE                                                                              \
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
#define HTTP_RESPONSE_LEN (sizeof HTTP_RESPONSE - 1)
/* The largest request head a server keeps; a longer one closes the connection. */
#define HTTP_MAX_REQUEST 4096
/* Responses one write carries at most. */
#define HTTP_BATCH 16

/* How many complete requests buf[0, len) holds; *used is how many bytes they take. */
static inline size_t http_requests(const char *buf, size_t len, size_t *used)
{
    size_t n = 0, at = 0;
    const char *end;
    while ((end = memmem(buf + at, len - at, "\r\n\r\n", 4)) != NULL) {
        at = (size_t)(end - buf) + 4;
        n++;
    }
    *used = at;
    return n;
}

/* HTTP_BATCH responses back to back; a server writes a prefix of it. */
static inline const char *http_responses(void)
{
    static char batch[HTTP_BATCH * HTTP_RESPONSE_LEN];
    static int ready;
    if (!ready) { /* the same bytes whoever writes them; first called before any thread starts */
        for (int i = 0; i < HTTP_BATCH; i++)
            memcpy(batch + (size_t)i * HTTP_RESPONSE_LEN, HTTP_RESPONSE, HTTP_RESPONSE_LEN);
        ready = 1;
    }
    return batch;
}

#endif
