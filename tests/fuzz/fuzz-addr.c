/* libFuzzer target: socket address text (edo/net.h). The input is used three ways:
 *  - as "ip:port" text for edo_sockaddr_parse, which must accept exactly what a reference
 *    reading of the documented grammar accepts (below), give the same address, and round-trip:
 *    parse(format(a)) == a, and format(parse(format(a))) is the same text;
 *  - as a Unix path for edo_sockaddr_unix, which formats back to the same text;
 *  - as the raw bytes of an edo_sockaddr (any family, any length) for edo_sockaddr_format, into
 *    a buffer of every size up to the text's (allocated to the byte, so a write past it is
 *    caught): the length it returns is the text's, and it never writes past `len`.
 * The text is handed over in an allocation of exactly its length plus the NUL, so reading past
 * it is caught too. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edo/net.h"
#include "check.h"

/* The grammar of edo_sockaddr_parse, read independently: "a.b.c.d:port" or
 * "[ipv6(%zone)?]:port", port 1 to 5 digits up to 65535. Fills *a on success. */
static bool reference_parse(const char *text, edo_sockaddr *a)
{
    const char *colon = strrchr(text, ':');
    if (!colon)
        return false;
    const char *port = colon + 1;
    size_t digits = strlen(port);
    if (digits < 1 || digits > 5 || strspn(port, "0123456789") != digits)
        return false;
    unsigned long value = strtoul(port, NULL, 10);
    if (value > 65535)
        return false;
    size_t host_len = (size_t)(colon - text);
    char host[128];
    memset(a, 0, sizeof *a);
    if (text[0] == '[') {
        if (host_len < 2 || text[host_len - 1] != ']' || host_len - 2 >= sizeof host ||
            memchr(text, ']', host_len - 1))
            return false; /* one ']', right before the port's ':' */
        memcpy(host, text + 1, host_len - 2);
        host[host_len - 2] = '\0';
        char *zone = strchr(host, '%');
        uint32_t scope = 0;
        if (zone) {
            *zone++ = '\0';
            size_t zlen = strlen(zone);
            if (zlen == 0 || zlen >= IF_NAMESIZE)
                return false;
            if (strspn(zone, "0123456789") == zlen) {
                unsigned long long s = strtoull(zone, NULL, 10);
                if (s > UINT32_MAX)
                    return false;
                scope = (uint32_t)s;
            } else if (strpbrk(zone, ":/ \t\n") || (scope = if_nametoindex(zone)) == 0) {
                return false;
            }
        }
        if (inet_pton(AF_INET6, host, &a->u.in6.sin6_addr) != 1)
            return false;
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons((uint16_t)value);
        a->u.in6.sin6_scope_id = scope;
        a->len = sizeof a->u.in6;
        return true;
    }
    if (host_len >= sizeof host)
        return false;
    memcpy(host, text, host_len);
    host[host_len] = '\0';
    if (inet_pton(AF_INET, host, &a->u.in.sin_addr) != 1)
        return false;
    a->u.in.sin_family = AF_INET;
    a->u.in.sin_port = htons((uint16_t)value);
    a->len = sizeof a->u.in;
    return true;
}

/* The same IP address: family, address, port, zone (padding aside). */
static bool same_ip(const edo_sockaddr *a, const edo_sockaddr *b)
{
    if (a->u.sa.sa_family != b->u.sa.sa_family || a->len != b->len)
        return false;
    if (a->u.sa.sa_family == AF_INET)
        return a->u.in.sin_port == b->u.in.sin_port &&
               a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    return a->u.in6.sin6_port == b->u.in6.sin6_port &&
           a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id &&
           memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof a->u.in6.sin6_addr) == 0;
}

/* Formats `a` into buffers of every size up to its text's, each allocated to the byte. Returns
 * the length (the text in `text`), or the error that the full-size call gave. */
static int format_checked(const edo_sockaddr *a, char text[EDO_SOCKADDR_TEXT])
{
    int n = edo_sockaddr_format(a, text, EDO_SOCKADDR_TEXT);
    if (n < 0) {
        CHECK(n == -EINVAL);
        return n;
    }
    CHECK((size_t)n < EDO_SOCKADDR_TEXT && strlen(text) == (size_t)n);
    CHECK(edo_sockaddr_format(a, text, 0) == -ENOSPC);
    for (size_t len = 1; len <= (size_t)n + 1; len++) {
        char *small = malloc(len);
        CHECK(small);
        int rc = edo_sockaddr_format(a, small, len);
        CHECK(len <= (size_t)n ? rc == -ENOSPC : rc == n && memcmp(small, text, len) == 0);
        free(small);
    }
    return n;
}

static void check_text(const char *text)
{
    edo_sockaddr a, ref;
    int rc = edo_sockaddr_parse(text, &a);
    bool ok = reference_parse(text, &ref);
    CHECK(ok ? rc == 0 && same_ip(&a, &ref) : rc == -EINVAL);
    if (rc < 0)
        return;
    char printed[EDO_SOCKADDR_TEXT], again[EDO_SOCKADDR_TEXT];
    CHECK(format_checked(&a, printed) > 0);
    edo_sockaddr back;
    CHECK(edo_sockaddr_parse(printed, &back) == 0 && same_ip(&a, &back));
    CHECK(format_checked(&back, again) > 0 && strcmp(printed, again) == 0);
}

static void check_unix_path(const char *path)
{
    edo_sockaddr a;
    int rc = edo_sockaddr_unix(path, &a);
    size_t len = strlen(path);
    if (len == 0) {
        CHECK(rc == -EINVAL);
        return;
    }
    if (len >= sizeof a.u.un.sun_path) {
        CHECK(rc == -ENAMETOOLONG);
        return;
    }
    CHECK(rc == 0 && a.u.un.sun_family == AF_UNIX);
    char printed[EDO_SOCKADDR_TEXT];
    CHECK(format_checked(&a, printed) == (int)len && strcmp(printed, path) == 0);
    edo_sockaddr back;
    CHECK(edo_sockaddr_unix(printed, &back) == 0 && back.len == a.len &&
          memcmp(&back.u, &a.u, a.len) == 0);
}

/* Raw bytes as an address: the family from the first two bytes folded onto the interesting
 * ones, the length from the next two (any value, too long ones included). */
static void check_raw(const uint8_t *data, size_t size)
{
    edo_sockaddr a;
    memset(&a, 0, sizeof a);
    if (size < 4)
        return;
    static const sa_family_t families[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, AF_PACKET};
    uint16_t family_pick = (uint16_t)(data[0] | data[1] << 8);
    a.len = (socklen_t)(data[2] | data[3] << 8) % (sizeof a.u + 8);
    size_t body = size - 4 < sizeof a.u ? size - 4 : sizeof a.u;
    memcpy(&a.u, data + 4, body);
    a.u.sa.sa_family = families[family_pick % (sizeof families / sizeof families[0])];
    char printed[EDO_SOCKADDR_TEXT];
    int n = format_checked(&a, printed);
    bool known = a.u.sa.sa_family == AF_INET || a.u.sa.sa_family == AF_INET6 ||
                 a.u.sa.sa_family == AF_UNIX;
    CHECK(n >= 0 ? known && a.len <= sizeof a.u : n == -EINVAL && (!known || a.len > sizeof a.u));
    if (n < 0 || a.u.sa.sa_family == AF_UNIX)
        return;
    /* An IP address printed parses back to itself (the union's padding aside). */
    edo_sockaddr back;
    CHECK(edo_sockaddr_parse(printed, &back) == 0);
    a.len = back.len;
    CHECK(same_ip(&a, &back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL ends the text early: that is fine */
    check_text(text);
    check_unix_path(text);
    free(text);
    check_raw(data, size);
    return 0;
}
