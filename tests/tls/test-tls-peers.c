/* TLS against real peers over TCP: edo's client against `openssl s_server`, and `openssl
 * s_client` and `curl` as clients of an edo TLS server (a tiny HTTPS responder). The external
 * programs run as child processes driven from the test's main thread with plain blocking I/O,
 * each under `timeout` so that nothing can hang the test; edo's side runs in a runtime with a
 * deadline on every wait. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tls/tls_test.h"
#include "util.h"

/* ---- child processes ---- */

typedef struct child {
    pid_t pid;
    int in;  /* its stdin, or -1 */
    int out; /* its stdout and stderr */
} child;

static child start(char *const argv[])
{
    int in[2], out[2];
    CHECK_EQ(pipe(in), 0);
    CHECK_EQ(pipe(out), 0);
    child c = {fork(), in[1], out[0]};
    CHECK(c.pid >= 0);
    if (c.pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    return c;
}

/* Reads the child's output into buf until a line holding `needle` is complete, or the output
 * ends. */
static bool read_line_with(child *c, const char *needle, char *buf, size_t cap)
{
    size_t have = 0;
    buf[0] = '\0';
    const char *at;
    while (have + 1 < cap && !((at = strstr(buf, needle)) && strchr(at, '\n'))) {
        ssize_t n = read(c->out, buf + have, cap - 1 - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
        buf[have] = '\0';
    }
    return (at = strstr(buf, needle)) && strchr(at, '\n');
}

/* Closes its stdin, reads the rest of its output into buf, and returns its exit status. */
static int finish(child *c, char *buf, size_t cap)
{
    if (c->in >= 0)
        close(c->in);
    read_line_with(c, "\x01never", buf, cap);
    close(c->out);
    int status;
    CHECK_EQ(waitpid(c->pid, &status, 0), c->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- edo's client against openssl s_server ---- */

typedef struct fetch {
    int port;
    edo_tls_options client; /* ca_file filled in */
    int rc;                 /* the handshake's */
    char alpn[32];
    char reply[4096];
} fetch;

static void *fetch_body(void *arg)
{
    fetch *f = arg;
    edo_instant saved;
    edo_deadline_push(edo_after(EDO_SEC(20)), &saved);
    f->client.ca_file = cert("ca.pem");
    edo_tls_config *cfg = make_config(&f->client);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", f->port);
    edo_tcp *tcp;
    CHECK_EQ(edo_tcp_connect(addr, &tcp), 0);
    edo_stream *raw = edo_tcp_stream(tcp), *tls;
    f->rc = edo_tls_connect(raw, cfg, "localhost", &tls);
    if (f->rc < 0) {
        CHECK_EQ(edo_stream_close(raw), 0);
    } else {
        CHECK(edo_tls_alpn_selected(tls, f->alpn, sizeof f->alpn) >= 0);
        const char *get = "GET / HTTP/1.0\r\n\r\n";
        CHECK_EQ(edo_stream_write_all(tls, get, strlen(get)), 0);
        CHECK_EQ(edo_stream_flush(tls), 0);
        ssize_t n = read_full(tls, f->reply, sizeof f->reply - 1);
        CHECK(n > 0);
        f->reply[n] = '\0';
        CHECK_EQ(edo_stream_close(tls), 0);
    }
    edo_tls_config_free(cfg);
    edo_deadline_pop(saved);
    return NULL;
}

/* Runs s_server with `extra` arguments (its certificate among them) for one connection, and
 * edo's client against it. */
static void against_s_server(fetch *f, const char *extra[], size_t nextra)
{
    char *argv[24] = {"timeout", "30", "openssl", "s_server", "-4", "-accept", "0",
                      "-www", "-naccept", "1"};
    size_t argc = 10;
    for (size_t i = 0; i < nextra; i++)
        argv[argc++] = (char *)extra[i];
    argv[argc] = NULL;
    child c = start(argv);
    char out[4096];
    CHECK(read_line_with(&c, "ACCEPT", out, sizeof out));
    CHECK(sscanf(strstr(out, "ACCEPT"), "ACCEPT 0.0.0.0:%d", &f->port) == 1);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, fetch_body, f);
    if (f->rc < 0)
        kill(c.pid, SIGTERM); /* it still waits for a good connection */
    finish(&c, out, sizeof out);
}

TEST(client_against_openssl_s_server)
{
    const char *http[] = {"http/1.1"};
    fetch f = {.client = {.alpn = http, .alpn_count = 1}};
    const char *args[] = {"-cert", cert("server.pem"), "-key", cert("server.key"), "-alpn",
                          "http/1.1"};
    against_s_server(&f, args, 6);
    CHECK_EQ(f.rc, 0);
    CHECK(strcmp(f.alpn, "http/1.1") == 0);
    CHECK(strncmp(f.reply, "HTTP/1.0 200 ok", 15) == 0); /* -www's status page */
}

TEST(client_rejects_openssl_s_server)
{
    /* A certificate from a CA the client does not trust. */
    fetch f = {0};
    const char *rogue[] = {"-cert", cert("rogue.pem"), "-key", cert("rogue.key")};
    against_s_server(&f, rogue, 4);
    CHECK_EQ(f.rc, -EKEYREJECTED);
    /* A server that stops at TLS 1.2, a client that starts at 1.3. */
    fetch g = {.client = {.min_version = EDO_TLS_1_3}};
    const char *old[] = {"-cert", cert("server.pem"), "-key", cert("server.key"), "-tls1_2"};
    against_s_server(&g, old, 5);
    CHECK_EQ(g.rc, -EPROTO);
    /* ... and a client that accepts 1.2 gets through. */
    fetch h = {0};
    against_s_server(&h, old, 5);
    CHECK_EQ(h.rc, 0);
}

/* ---- edo's server against openssl s_client and curl ---- */

typedef struct serve {
    edo_tls_config *config;
    int port_pipe; /* the listening port goes there */
    bool http;     /* answer an HTTP request, else a line with "PONG <line>" */
    int accept_rc;
    char alpn[32], sni[64], request[1024];
    ssize_t end; /* what the read after our close_notify gave */
} serve;

static void *serve_one(void *arg)
{
    serve *s = arg;
    edo_instant saved;
    edo_deadline_push(edo_after(EDO_SEC(20)), &saved);
    edo_tcp_listener *l;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    edo_sockaddr addr;
    CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
    char text[64];
    CHECK(edo_sockaddr_format(&addr, text, sizeof text) > 0);
    int port = atoi(strrchr(text, ':') + 1);
    CHECK_EQ(write(s->port_pipe, &port, sizeof port), (ssize_t)sizeof port);
    edo_tcp *tcp;
    CHECK_EQ(edo_tcp_accept(l, &tcp, NULL), 0);
    edo_tcp_listener_close(l);
    edo_stream *raw = edo_tcp_stream(tcp), *tls;
    s->accept_rc = edo_tls_accept(raw, s->config, &tls);
    if (s->accept_rc < 0) {
        CHECK_EQ(edo_stream_close(raw), 0);
        edo_deadline_pop(saved);
        return NULL;
    }
    edo_tls_alpn_selected(tls, s->alpn, sizeof s->alpn);
    edo_tls_server_name(tls, s->sni, sizeof s->sni);
    size_t have = 0;
    const char *end = s->http ? "\r\n\r\n" : "\n";
    while (!strstr(s->request, end) && have + 1 < sizeof s->request) {
        ssize_t n = edo_stream_read(tls, s->request + have, sizeof s->request - 1 - have);
        CHECK(n > 0);
        have += (size_t)n;
        s->request[have] = '\0';
    }
    char reply[1200];
    if (s->http)
        snprintf(reply, sizeof reply,
                 "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, curl\n");
    else
        snprintf(reply, sizeof reply, "PONG %s", s->request);
    CHECK_EQ(edo_stream_write_all(tls, reply, strlen(reply)), 0);
    /* close_notify. The client may already have gone (curl closes once it has the whole
     * response): then the inner stream's shutdown says so. */
    int rc = edo_stream_shutdown(tls);
    CHECK(rc == 0 || rc == -ENOTCONN || rc == -EPIPE || rc == -ECONNRESET);
    s->end = edo_stream_read(tls, text, sizeof text);
    CHECK_EQ(edo_stream_close(tls), 0);
    edo_deadline_pop(saved);
    return NULL;
}

/* Serves one connection from `argv` (with "PORT" in it replaced by the port): the client's exit
 * status, its output in out. */
static int serve_client(serve *s, char *argv[], const char *input, char *out, size_t cap)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    s->port_pipe = p[1];
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_task *task;
    CHECK_EQ(edo_spawn_with(rt, NULL, serve_one, s, &task), 0);
    int port;
    CHECK_EQ(read(p[0], &port, sizeof port), (ssize_t)sizeof port);
    char args[4][128];
    for (int i = 0, used = 0; argv[i]; i++) {
        char *at = strstr(argv[i], "PORT");
        if (!at)
            continue;
        CHECK(used < 4);
        snprintf(args[used], sizeof args[used], "%.*s%d%s", (int)(at - argv[i]), argv[i], port,
                 at + 4);
        argv[i] = args[used++];
    }
    child c = start(argv);
    if (input)
        CHECK_EQ(write(c.in, input, strlen(input)), (ssize_t)strlen(input));
    int status = finish(&c, out, cap);
    CHECK_EQ(edo_task_join(task, NULL), 0);
    edo_task_free(task);
    edo_runtime_free(rt);
    close(p[0]);
    close(p[1]);
    return status;
}

TEST(server_for_openssl_s_client)
{
    serve s = {.config = server_config("server", "http/1.1")};
    char *argv[] = {"timeout", "30", "openssl", "s_client", "-connect", "127.0.0.1:PORT",
                    "-servername", "localhost", "-verify_hostname", "localhost",
                    "-verify_return_error", "-CAfile", (char *)cert("ca.pem"), "-alpn",
                    "http/1.1", "-quiet", NULL};
    char out[8192];
    int status = serve_client(&s, argv, "ping\n", out, sizeof out);
    if (!strstr(out, "PONG ping"))
        fprintf(stderr, "s_client said:\n%s\n", out);
    CHECK(strstr(out, "PONG ping") != NULL);
    CHECK_EQ(status, 0);
    CHECK_EQ(s.accept_rc, 0);
    CHECK(strcmp(s.alpn, "http/1.1") == 0);
    CHECK(strcmp(s.sni, "localhost") == 0);
    /* s_client answers close_notify, or just closes (maybe resetting the connection) */
    CHECK(s.end == 0 || s.end == -ECONNABORTED || s.end == -ECONNRESET);
    edo_tls_config_free(s.config);
}

/* curl fetching https://localhost:PORT/hello from edo's HTTPS responder, trusting `ca`: its
 * exit status, its output in out. */
static int curl(serve *s, const char *ca, char *out, size_t cap)
{
    s->config = server_config("server", "http/1.1");
    s->http = true;
    char *argv[] = {"timeout", "30", "curl", "--silent", "--show-error", "--cacert",
                    (char *)cert(ca), "--resolve", "localhost:PORT:127.0.0.1",
                    "https://localhost:PORT/hello", NULL};
    int status = serve_client(s, argv, NULL, out, cap);
    edo_tls_config_free(s->config);
    return status;
}

TEST(server_for_curl)
{
    serve s = {0};
    char out[4096];
    int status = curl(&s, "ca.pem", out, sizeof out);
    if (status != 0)
        fprintf(stderr, "curl said:\n%s\n", out);
    CHECK_EQ(status, 0);
    CHECK(strcmp(out, "hello, curl\n") == 0);
    CHECK_EQ(s.accept_rc, 0);
    CHECK(strncmp(s.request, "GET /hello HTTP/1.1\r\n", 21) == 0);
    CHECK(strcmp(s.alpn, "http/1.1") == 0); /* curl offered h2 too */
    CHECK(strcmp(s.sni, "localhost") == 0);
}

TEST(server_refused_by_curl)
{
    /* Without the test CA, curl cannot trust edo's certificate: it refuses (exit 60), and the
     * server's handshake fails on curl's alert. */
    serve s = {0};
    char out[4096];
    CHECK_EQ(curl(&s, "rogue-ca.pem", out, sizeof out), 60);
    CHECK_EQ(s.accept_rc, -EPROTO);
}
