/* Allocation failures in TCP: listen, connect, accept and an echo over loopback, on both
 * runtime flavours. See alloc_test.h for what every case checks; here also: a connection that
 * edo accepted or connected carries its bytes unchanged, and one that a failed allocation cut
 * off ends for its peer (end of stream or a reset), never in a hang. */
#include "alloc_test.h"

#include <stdint.h>
#include <string.h>

#define CLIENTS 3

static void *echo(void *arg)
{
    edo_tcp *c = arg;
    char buf[256];
    ssize_t n;
    while ((n = edo_tcp_read(c, buf, sizeof buf)) > 0)
        if (edo_tcp_write_all(c, buf, (size_t)n) < 0)
            break;
    CHECK(n >= 0 || n == -ECONNRESET || ALLOC_OK(n));
    edo_tcp_close(c);
    return NULL;
}

/* Accepts until the listener is closed, an echo task per connection, then waits for them. */
static void *serve(void *arg)
{
    edo_tcp_listener *l = arg;
    edo_join_set *set;
    if (!ALLOC_OK(edo_join_set_new(NULL, &set)))
        set = NULL;
    int rc;
    edo_tcp *c;
    while ((rc = edo_tcp_accept(l, &c, NULL)) != -EBADF) {
        if (!ALLOC_OK(rc))
            continue;
        if (!set || !ALLOC_OK(edo_join_set_spawn(set, echo, c, NULL)))
            edo_tcp_close(c);
    }
    if (set) {
        edo_join_result r;
        while ((rc = edo_join_set_next(set, &r)) == 0)
            CHECK_EQ(r.result, 0);
        CHECK_EQ(rc, -ECHILD);
        edo_join_set_free(set);
    }
    return NULL;
}

static void *client(void *arg)
{
    const edo_sockaddr *addr = arg;
    edo_tcp *c;
    if (!ALLOC_OK(edo_tcp_connect_addr(addr, &c)))
        return NULL;
    char msg[64], back[64];
    int len = snprintf(msg, sizeof msg, "hello from task %llu",
                       (unsigned long long)edo_task_current_id());
    CHECK_EQ(edo_tcp_write_all(c, msg, (size_t)len), 0);
    CHECK_EQ(edo_tcp_shutdown(c, SHUT_WR), 0);
    size_t got = 0;
    ssize_t n;
    while (got < sizeof back && (n = edo_tcp_read(c, back + got, sizeof back - got)) > 0)
        got += (size_t)n;
    if (got != (size_t)len) {
        /* Cut off: only the server's failed allocation (an accept or a spawn) may do that. */
        CHECK(allocations_failed() > 0);
        CHECK(n == 0 || n == -ECONNRESET);
    } else {
        CHECK(memcmp(msg, back, got) == 0);
    }
    edo_tcp_close(c);
    return NULL;
}

static void *echo_body(void *unused)
{
    (void)unused;
    edo_tcp_listener *l;
    if (!ALLOC_OK(edo_tcp_listen("127.0.0.1:0", NULL, &l)))
        return NULL;
    edo_sockaddr addr;
    CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
    edo_task *server;
    if (!ALLOC_OK(edo_spawn(serve, l, &server))) {
        edo_tcp_listener_close(l);
        return NULL;
    }
    edo_task *t[CLIENTS];
    int n = 0;
    for (int i = 0; i < CLIENTS; i++)
        if (ALLOC_OK(edo_spawn(client, &addr, &t[n])))
            n++;
    for (int i = 0; i < n; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    CHECK_EQ(edo_tcp_listener_close(l), 0);
    CHECK_EQ(edo_task_join(server, NULL), 0);
    edo_task_free(server);
    return NULL;
}

TEST(echo)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++)
        alloc_run(alloc_flavors[i], false, echo_body, NULL);
}
