/* Connection workloads: memory of idle connections (see conn_workloads.h). The client runs in
 * a process of its own, so the server's RSS counts only the server's side, and the two sides'
 * file descriptors do not share one limit. */
#include "conn_workloads.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what, int rc)
{
    fprintf(stderr, "edo-bench: %s: %s\n", what, edo_strerror(rc));
    exit(1);
}

/* ---- the server ---------------------------------------------------------------------------- */

#define BUF_SIZE 4096

static _Atomic long parked; /* connections whose coroutine started */

/* Waits for bytes holding nothing, and takes a buffer only for the burst that came: an idle
 * connection costs its coroutine's first stack page, its task and its registration. */
static void *serve(void *arg)
{
    edo_stream *s = arg;
    atomic_fetch_add_explicit(&parked, 1, memory_order_release);
    while (edo_stream_ready(s, EDO_READABLE) > 0) {
        char *buf = malloc(BUF_SIZE);
        ssize_t n = buf ? edo_stream_read(s, buf, BUF_SIZE) : -ENOMEM;
        if (n > 0 && edo_stream_write_all(s, buf, (size_t)n) < 0)
            n = -1;
        free(buf);
        if (n <= 0)
            break;
    }
    edo_stream_close(s);
    return NULL;
}

static void *accept_loop(void *arg)
{
    edo_tcp_listener *l = arg;
    edo_tcp *c;
    while (edo_tcp_accept(l, &c, NULL) == 0)
        if (edo_spawn_detached(serve, edo_tcp_stream(c)) < 0)
            edo_tcp_close(c);
    return NULL;
}

static void *listen_on(void *arg)
{
    edo_tcp_listener **l = arg;
    edo_tcp_listen_options o = {.backlog = 4096};
    int rc = edo_tcp_listen("127.0.0.1:0", &o, l);
    return (void *)(intptr_t)rc;
}

/* Starts this program as the client: its stdin and stdout are pipes to us. */
static pid_t start_client(int port, long n, int *to_child, int *from_child)
{
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0)
        die("pipe", -errno);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char port_s[16], n_s[32];
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(n_s, sizeof n_s, "%ld", n);
    char *argv[] = {"edo-bench", "idle_conn_client", port_s, n_s, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        die("posix_spawn", -rc);
    close(in[0]);
    close(out[1]);
    *to_child = in[1];
    *from_child = out[0];
    return pid;
}

long idle_conn_memory(edo_runtime *rt, long n, long (*rss)(void))
{
    edo_tcp_listener *l;
    edo_task *t;
    int rc = edo_spawn_with(rt, NULL, listen_on, &l, &t);
    if (rc < 0)
        die("spawn", rc);
    void *out;
    edo_task_join(t, &out);
    edo_task_free(t);
    if ((intptr_t)out < 0)
        die("listen", (int)(intptr_t)out);
    edo_sockaddr addr;
    edo_tcp_listener_local_addr(l, &addr);
    int port = ntohs(addr.u.in.sin_port);
    if ((rc = edo_spawn_with(rt, NULL, accept_loop, l, NULL)) < 0)
        die("spawn", rc);
    long before = rss();
    int to_child, from_child;
    pid_t pid = start_client(port, n, &to_child, &from_child);
    char ok;
    if (read(from_child, &ok, 1) != 1)
        die("the client", -EPIPE);
    /* The client has had every echo: each coroutine is back in its readiness wait, but for the
     * last few, which are on their way there. */
    while (atomic_load_explicit(&parked, memory_order_acquire) < n)
        usleep(1000);
    long after = rss();
    close(to_child); /* the client closes its connections and exits */
    waitpid(pid, NULL, 0);
    close(from_child);
    return (after - before) / n;
}

/* ---- the client ---------------------------------------------------------------------------- */

int idle_conn_client(const char *port_s, const char *n_s)
{
    long n = strtol(n_s, NULL, 10);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port_s))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int *fds = malloc((size_t)n * sizeof *fds);
    if (!fds)
        return 1;
    for (long i = 0; i < n; i++) { /* each connection echoes once, then idles */
        char c = 'x';
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof sa) < 0 ||
            write(fds[i], &c, 1) != 1 || read(fds[i], &c, 1) != 1) {
            perror("idle_conn_client");
            return 1;
        }
    }
    if (write(STDOUT_FILENO, "1", 1) != 1)
        return 1;
    char c;
    while (read(STDIN_FILENO, &c, 1) > 0) /* until the server is done measuring */
        ;
    return 0;
}
