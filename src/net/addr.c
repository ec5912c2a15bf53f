/* Socket addresses: parsing and printing "ip:port", and resolving "host:port". */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/net.h"

/* The most addresses one resolution stores (a resolver returns a handful). */
#define EDO__RESOLVE_MAX 64

/* Splits "host:port" / "[v6]:port" into host (without brackets) and port text. */
static int split_host_port(const char *text, char *host, size_t host_len, const char **port)
{
    const char *colon;
    const char *start = text, *end;
    if (text[0] == '[') {
        end = strchr(text, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        start = text + 1;
        colon = end + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || memchr(text, ':', (size_t)(colon - text)))
            return -EINVAL; /* no port, or an unbracketed IPv6 address */
        end = colon;
    }
    size_t n = (size_t)(end - start);
    if (n >= host_len)
        return -EINVAL;
    memcpy(host, start, n);
    host[n] = '\0';
    *port = colon + 1;
    /* Digits only (strtol would take a sign or leading blanks), 1 to 5 of them. */
    long value = 0;
    size_t digits = 0;
    for (const char *p = *port; *p; p++, digits++) {
        if (*p < '0' || *p > '9' || digits == 5)
            return -EINVAL;
        value = value * 10 + (*p - '0');
    }
    if (digits == 0 || value > 65535)
        return -EINVAL;
    return 0;
}

static int resolver_error(int rc)
{
    switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
    case EAI_ADDRFAMILY:
        return -ENOENT;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return errno ? -errno : -EIO;
    default:
        return -EINVAL;
    }
}

/* getaddrinfo into `out`; returns the count or -errno. */
static int lookup(const char *host, const char *port, int flags, edo_sockaddr *out, size_t max)
{
    struct addrinfo hints = {.ai_flags = flags | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return resolver_error(rc);
    size_t n = 0;
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof out[n].u)
            continue;
        memcpy(&out[n].u, ai->ai_addr, ai->ai_addrlen);
        out[n].len = ai->ai_addrlen;
        n++;
    }
    freeaddrinfo(res);
    return n ? (int)n : -ENOENT;
}

/* The zone after '%' in "fe80::1%eth0": an interface name, or its index in decimal (what
 * edo_sockaddr_format prints). */
static int parse_scope(const char *text, uint32_t *scope)
{
    size_t len = strlen(text);
    if (len == 0 || len >= IF_NAMESIZE)
        return -EINVAL;
    if (strspn(text, "0123456789") == len) {
        unsigned long long value = 0;
        for (const char *p = text; *p; p++) {
            value = value * 10 + (unsigned)(*p - '0');
            if (value > UINT32_MAX)
                return -EINVAL;
        }
        *scope = (uint32_t)value;
        return 0;
    }
    /* No interface name holds ':', '/' or a blank; and the kernel reads "lo:junk" as "lo" (an
     * alias), so such a zone would name an interface it does not spell. */
    if (strpbrk(text, ":/ \t\n"))
        return -EINVAL;
    unsigned index = if_nametoindex(text);
    if (index == 0)
        return -EINVAL;
    *scope = index;
    return 0;
}

/* Strict on purpose (inet_pton, not getaddrinfo's inet_aton): "127.1", "0x7f.0.0.1" and
 * "010.0.0.1" (octal: 8.0.0.1) are refused rather than read in a way the writer may not mean,
 * IPv4 is never bracketed and IPv6 always is, so every text names one address. */
int edo_sockaddr_parse(const char *text, edo_sockaddr *out)
{
    if (!out || !text)
        return -EINVAL;
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
    const char *port;
    if (split_host_port(text, host, sizeof host, &port) < 0)
        return -EINVAL;
    edo_sockaddr a;
    memset(&a, 0, sizeof a);
    uint16_t port_be = htons((uint16_t)strtoul(port, NULL, 10)); /* checked: 1 to 5 digits */
    if (text[0] == '[') {
        char *zone = strchr(host, '%');
        uint32_t scope = 0;
        if (zone) {
            *zone++ = '\0';
            if (parse_scope(zone, &scope) < 0)
                return -EINVAL;
        }
        if (inet_pton(AF_INET6, host, &a.u.in6.sin6_addr) != 1)
            return -EINVAL;
        a.u.in6.sin6_family = AF_INET6;
        a.u.in6.sin6_port = port_be;
        a.u.in6.sin6_scope_id = scope;
        a.len = sizeof a.u.in6;
    } else {
        if (inet_pton(AF_INET, host, &a.u.in.sin_addr) != 1)
            return -EINVAL;
        a.u.in.sin_family = AF_INET;
        a.u.in.sin_port = port_be;
        a.len = sizeof a.u.in;
    }
    *out = a;
    return 0;
}

int edo_sockaddr_format(const edo_sockaddr *a, char *buf, size_t len)
{
    if (!a || !buf || a->len > sizeof a->u)
        return -EINVAL;
    char ip[INET6_ADDRSTRLEN];
    int n;
    switch (a->u.sa.sa_family) {
    case AF_INET:
        inet_ntop(AF_INET, &a->u.in.sin_addr, ip, sizeof ip);
        n = snprintf(buf, len, "%s:%u", ip, ntohs(a->u.in.sin_port));
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
        if (a->u.in6.sin6_scope_id) /* the zone by index: names change, and parse takes both */
            n = snprintf(buf, len, "[%s%%%u]:%u", ip, (unsigned)a->u.in6.sin6_scope_id,
                         ntohs(a->u.in6.sin6_port));
        else
            n = snprintf(buf, len, "[%s]:%u", ip, ntohs(a->u.in6.sin6_port));
        break;
    case AF_UNIX: {
        size_t path_len = a->len > offsetof(struct sockaddr_un, sun_path)
                              ? a->len - offsetof(struct sockaddr_un, sun_path)
                              : 0;
        if (path_len > sizeof a->u.un.sun_path)
            path_len = sizeof a->u.un.sun_path; /* the union's padding is no path */
        const char *path = a->u.un.sun_path;
        if (path_len > 0 && path[0] == '\0') /* abstract: shown as @name */
            n = snprintf(buf, len, "@%.*s", (int)(path_len - 1), path + 1);
        else
            n = snprintf(buf, len, "%.*s", (int)strnlen(path, path_len), path);
        break;
    }
    default:
        return -EINVAL;
    }
    if (n < 0)
        return -EINVAL;
    return (size_t)n < len ? n : -ENOSPC;
}

/* ---- names, on the blocking pool ---- */

typedef struct resolve_job {
    _Atomic int refs; /* the waiting coroutine and the blocking call */
    char host[256];
    char port[32];
    edo_sockaddr *out; /* the job's own copy: the coroutine may be gone when it finishes */
    size_t max;
    int result;
} resolve_job;

static void job_unref(void *arg)
{
    resolve_job *job = arg;
    if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) == 1) {
        free(job->out);
        free(job);
    }
}

static void *resolve_blocking(void *arg)
{
    resolve_job *job = arg;
    job->result = lookup(job->host, job->port, AI_ADDRCONFIG, job->out, job->max);
    return NULL;
}

/* The first step of a resolution: a numeric address answers at once (returns how many
 * addresses, or -errno); a name starts a lookup on the blocking pool (returns 0, with the job and
 * the call's task in *job and *call), which needs a runtime, and a coroutine to wait in when
 * `coroutine` (-EPERM otherwise). */
static int resolve_start(const char *host_port, edo_sockaddr *out, size_t max, bool coroutine,
                         resolve_job **job, edo_task **call)
{
    if (!host_port || !out || max == 0 || max > INT_MAX)
        return -EINVAL; /* the count is returned as an int */
    if (max > EDO__RESOLVE_MAX)
        max = EDO__RESOLVE_MAX; /* the job's copy stays small whatever room the caller has */
    char host[256];
    const char *port;
    int rc = split_host_port(host_port, host, sizeof host, &port);
    if (rc < 0)
        return rc;
    rc = lookup(host, port, AI_NUMERICHOST | AI_PASSIVE, out, max);
    if (rc != -ENOENT && rc != -EINVAL)
        return rc; /* numeric (or empty: the wildcard address) */
    edo_runtime *rt = edo_runtime_current();
    if (!rt || (coroutine && !edo__coro_running()))
        return -EPERM;
    resolve_job *j = malloc(sizeof *j);
    edo_sockaddr *copy = calloc(max, sizeof *copy);
    if (!j || !copy) {
        free(j);
        free(copy);
        return -ENOMEM;
    }
    atomic_init(&j->refs, 2);
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->port, sizeof j->port, "%s", port);
    j->out = copy;
    j->max = max;
    j->result = -ECANCELED;
    edo_blocking_options owned = {job_unref, NULL};
    rc = edo_spawn_blocking_with(rt, &owned, resolve_blocking, j, call);
    if (rc < 0) {
        free(copy);
        free(j);
        return rc;
    }
    *job = j;
    return 0;
}

/* The last step, once the lookup's task was joined with `join_rc`: the addresses into out. */
static int resolve_finish(resolve_job *job, edo_task *call, int join_rc, edo_sockaddr *out)
{
    edo_task_free(call);
    int rc = join_rc == 0 ? job->result : join_rc;
    if (rc > 0)
        memcpy(out, job->out, (size_t)rc * sizeof *out);
    job_unref(job);
    return rc;
}

int edo_resolve(const char *host_port, edo_sockaddr *out, size_t max)
{
    resolve_job *job;
    edo_task *call;
    int rc = resolve_start(host_port, out, max, true, &job, &call);
    if (rc != 0)
        return rc;
    /* If we are cancelled, the call finishes on its own and frees the job. */
    return resolve_finish(job, call, edo_task_join(call, NULL), out);
}

/* ---- the future form ------------------------------------------------------------------------ */

typedef struct resolve_state {
    char host_port[272]; /* a name of up to 255 bytes, brackets and a port */
    edo_sockaddr *out;
    size_t max;
    resolve_job *job; /* while the lookup runs */
    edo_task *call;
    bool started;
} resolve_state;

_Static_assert(sizeof(resolve_state) <= sizeof(((edo_resolve_future *)0)->private_),
               "edo_resolve_future.private_ is too small");

static resolve_state *resolve_state_of(edo_resolve_future *f)
{
    return (resolve_state *)(void *)f->private_;
}

static edo_poll resolve_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_resolve_future *f = (edo_resolve_future *)self;
    resolve_state *st = resolve_state_of(f);
    if (!st->started) {
        st->started = true;
        int rc = st->max ? resolve_start(st->host_port, st->out, st->max, false, &st->job,
                                         &st->call)
                         : -EINVAL;
        if (rc != 0) {
            f->result = rc;
            return EDO_READY;
        }
    }
    int join_rc;
    if (edo_task_poll_join(st->call, cx, &join_rc, NULL) == EDO_PENDING)
        return EDO_PENDING;
    f->result = resolve_finish(st->job, st->call, join_rc, st->out);
    st->job = NULL;
    st->call = NULL;
    return EDO_READY;
}

static void resolve_drop(edo_future *self)
{
    resolve_state *st = resolve_state_of((edo_resolve_future *)self);
    if (!st->job)
        return;
    edo_task_free(st->call); /* the lookup finishes on its own and frees its half of the job */
    job_unref(st->job);
    st->job = NULL;
}

static const edo_future_vtable resolve_vtable = {resolve_poll, resolve_drop};

void edo_resolve_future_init(edo_resolve_future *f, const char *host_port, edo_sockaddr *out,
                             size_t max)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &resolve_vtable;
    resolve_state *st = resolve_state_of(f);
    if (!host_port || !out || strlen(host_port) >= sizeof st->host_port)
        return; /* max 0: the first poll answers -EINVAL */
    snprintf(st->host_port, sizeof st->host_port, "%s", host_port);
    st->out = out;
    st->max = max;
}
