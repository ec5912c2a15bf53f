/* Socket addresses: parsing and printing "ip:port", and resolving "host:port". */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/net.h"

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
    char *stop;
    long value = strtol(*port, &stop, 10);
    if (**port == '\0' || *stop != '\0' || value < 0 || value > 65535)
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

int edo_sockaddr_parse(edo_sockaddr *out, const char *text)
{
    if (!out || !text)
        return -EINVAL;
    char host[INET6_ADDRSTRLEN + 8];
    const char *port;
    if (split_host_port(text, host, sizeof host, &port) < 0 || host[0] == '\0')
        return -EINVAL;
    return lookup(host, port, AI_NUMERICHOST, out, 1) == 1 ? 0 : -EINVAL;
}

int edo_sockaddr_format(const edo_sockaddr *a, char *buf, size_t len)
{
    if (!a || !buf)
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
        n = snprintf(buf, len, "[%s]:%u", ip, ntohs(a->u.in6.sin6_port));
        break;
    case AF_UNIX: {
        size_t path_len = a->len > offsetof(struct sockaddr_un, sun_path)
                              ? a->len - offsetof(struct sockaddr_un, sun_path)
                              : 0;
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

int edo_resolve(const char *host_port, edo_sockaddr *out, size_t max)
{
    if (!host_port || !out || max == 0)
        return -EINVAL;
    char host[256];
    const char *port;
    int rc = split_host_port(host_port, host, sizeof host, &port);
    if (rc < 0)
        return rc;
    rc = lookup(host, port, AI_NUMERICHOST | AI_PASSIVE, out, max);
    if (rc != -ENOENT && rc != -EINVAL)
        return rc; /* numeric (or empty: the wildcard address) */
    edo_runtime *rt = edo_runtime_current();
    if (!rt || !edo__coro_running())
        return -EPERM;
    resolve_job *job = malloc(sizeof *job);
    edo_sockaddr *copy = calloc(max, sizeof *copy);
    if (!job || !copy) {
        free(job);
        free(copy);
        return -ENOMEM;
    }
    atomic_init(&job->refs, 2);
    snprintf(job->host, sizeof job->host, "%s", host);
    snprintf(job->port, sizeof job->port, "%s", port);
    job->out = copy;
    job->max = max;
    job->result = -ECANCELED;
    edo_task *call;
    rc = edo__spawn_blocking_owned(rt, resolve_blocking, job, job_unref, &call);
    if (rc < 0) {
        free(copy);
        free(job);
        return rc;
    }
    rc = edo_task_join(call, NULL); /* if we are cancelled, the call finishes on its own */
    edo_task_free(call);
    if (rc == 0 && (rc = job->result) > 0)
        memcpy(out, job->out, (size_t)rc * sizeof *out);
    job_unref(job);
    return rc;
}
