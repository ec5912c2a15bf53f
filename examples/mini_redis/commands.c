/* The command table and the commands. Each appends its reply to the connection's write buffer
 * (sent when the connection next waits for input: one write for every command in a read). The
 * error texts are redis's, so clients and their tests see what they expect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mini_redis.h"

typedef struct args {
    conn *c;
    const edo_resp_value *v;
    size_t n;
    edo_bytes *out;
} args;

typedef int (*command_fn)(const args *a);

static int reply_ok(edo_bytes *out) { return edo_resp_append_simple(out, "OK", 2); }

static int reply_error(edo_bytes *out, const char *fmt, const char *word, size_t len)
{
    char text[160];
    int n = snprintf(text, sizeof text, fmt, (int)(len > 64 ? 64 : len), word);
    /* A word with CR or LF in it cannot go in an error line: cut it there. */
    for (int i = 0; i < n && i < (int)sizeof text; i++)
        if (text[i] == '\r' || text[i] == '\n')
            text[i] = ' ';
    return edo_resp_append_error(out, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static int reply_syntax(edo_bytes *out) { return edo_resp_append_error(out, "ERR syntax error", 16); }

static int reply_not_integer(edo_bytes *out)
{
    static const char text[] = "ERR value is not an integer or out of range";
    return edo_resp_append_error(out, text, sizeof text - 1);
}

/* An argument as an int64, parsed as the values INCRBY adds to. */
static bool arg_int(const edo_resp_value *v, int64_t *out)
{
    return store_parse_int(v->str, v->len, out);
}

static bool arg_is(const edo_resp_value *v, const char *word)
{
    size_t len = strlen(word);
    return v->len == len && strncasecmp(v->str, word, len) == 0;
}

static int cmd_ping(const args *a)
{
    if (a->c->nsubs > 0) {
        /* In subscribed mode redis answers ["pong", message]. */
        int rc = edo_resp_append_array(a->out, 2);
        if (rc == 0)
            rc = edo_resp_append_bulk(a->out, "pong", 4);
        if (rc == 0)
            rc = a->n > 1 ? edo_resp_append_bulk(a->out, a->v[1].str, a->v[1].len)
                          : edo_resp_append_bulk(a->out, "", 0);
        return rc;
    }
    if (a->n > 1)
        return edo_resp_append_bulk(a->out, a->v[1].str, a->v[1].len);
    return edo_resp_append_simple(a->out, "PONG", 4);
}

static int cmd_echo(const args *a) { return edo_resp_append_bulk(a->out, a->v[1].str, a->v[1].len); }

static int cmd_get(const args *a)
{
    return store_get(a->c->srv->store, a->v[1].str, a->v[1].len, a->out);
}

static int cmd_set(const args *a)
{
    int flags = 0;
    int64_t expire_at = 0;
    for (size_t i = 3; i < a->n; i++) {
        const edo_resp_value *opt = &a->v[i];
        if (arg_is(opt, "NX") && !(flags & SET_XX)) {
            flags |= SET_NX;
        } else if (arg_is(opt, "XX") && !(flags & SET_NX)) {
            flags |= SET_XX;
        } else if (arg_is(opt, "KEEPTTL") && expire_at == 0) {
            flags |= SET_KEEPTTL;
        } else if ((arg_is(opt, "EX") || arg_is(opt, "PX")) && i + 1 < a->n && expire_at == 0 &&
                   !(flags & SET_KEEPTTL)) {
            int64_t n;
            if (!arg_int(&a->v[i + 1], &n))
                return reply_not_integer(a->out);
            int64_t unit = arg_is(opt, "EX") ? 1000 : 1;
            if (n <= 0 || n > INT64_MAX / 1000 / unit - store_now_ms())
                return reply_error(a->out, "ERR invalid expire time in '%.*s' command", "set", 3);
            expire_at = store_now_ms() + n * unit;
            i++;
        } else {
            return reply_syntax(a->out);
        }
    }
    int rc = store_set(a->c->srv->store, a->v[1].str, a->v[1].len, a->v[2].str, a->v[2].len,
                       expire_at, flags);
    if (rc < 0)
        return rc;
    return rc ? reply_ok(a->out) : edo_resp_append_null(a->out);
}

/* DEL and EXISTS: how many of the keys did (do) exist. */
static int count_keys(const args *a, int (*op)(store *, const char *, size_t))
{
    int64_t n = 0;
    for (size_t i = 1; i < a->n; i++)
        n += op(a->c->srv->store, a->v[i].str, a->v[i].len);
    return edo_resp_append_integer(a->out, n);
}

static int cmd_del(const args *a) { return count_keys(a, store_del); }
static int cmd_exists(const args *a) { return count_keys(a, store_exists); }

static int incr_by(const args *a, int64_t delta)
{
    int64_t v;
    int rc = store_incr(a->c->srv->store, a->v[1].str, a->v[1].len, delta, &v);
    if (rc == -EINVAL)
        return reply_not_integer(a->out);
    if (rc == -ERANGE) {
        static const char text[] = "ERR increment or decrement would overflow";
        return edo_resp_append_error(a->out, text, sizeof text - 1);
    }
    return rc < 0 ? rc : edo_resp_append_integer(a->out, v);
}

static int cmd_incr(const args *a) { return incr_by(a, 1); }
static int cmd_decr(const args *a) { return incr_by(a, -1); }

static int cmd_incrby(const args *a)
{
    int64_t delta;
    if (!arg_int(&a->v[2], &delta))
        return reply_not_integer(a->out);
    return incr_by(a, delta);
}

static int cmd_decrby(const args *a)
{
    int64_t delta;
    if (!arg_int(&a->v[2], &delta) || delta == INT64_MIN)
        return reply_not_integer(a->out);
    return incr_by(a, -delta);
}

static int expire_in(const args *a, int64_t unit)
{
    int64_t n;
    if (!arg_int(&a->v[2], &n))
        return reply_not_integer(a->out);
    int64_t now = store_now_ms();
    if (n > (INT64_MAX - now) / unit || n < (INT64_MIN + now) / unit)
        return reply_error(a->out, "ERR invalid expire time in '%.*s' command", a->v[0].str,
                           a->v[0].len);
    int rc = store_expire(a->c->srv->store, a->v[1].str, a->v[1].len, now + n * unit);
    return edo_resp_append_integer(a->out, rc);
}

static int cmd_expire(const args *a) { return expire_in(a, 1000); }
static int cmd_pexpire(const args *a) { return expire_in(a, 1); }

static int cmd_ttl(const args *a)
{
    int64_t ms = store_ttl(a->c->srv->store, a->v[1].str, a->v[1].len);
    return edo_resp_append_integer(a->out, ms < 0 ? ms : (ms + 500) / 1000);
}

static int cmd_pttl(const args *a)
{
    return edo_resp_append_integer(a->out, store_ttl(a->c->srv->store, a->v[1].str, a->v[1].len));
}

static int cmd_mget(const args *a)
{
    int rc = edo_resp_append_array(a->out, a->n - 1);
    for (size_t i = 1; i < a->n && rc == 0; i++)
        rc = store_get(a->c->srv->store, a->v[i].str, a->v[i].len, a->out);
    return rc;
}

static int cmd_mset(const args *a)
{
    if (a->n % 2 == 0)
        return reply_error(a->out, "ERR wrong number of arguments for '%.*s' command", "mset", 4);
    for (size_t i = 1; i + 1 < a->n; i += 2) {
        int rc = store_set(a->c->srv->store, a->v[i].str, a->v[i].len, a->v[i + 1].str,
                           a->v[i + 1].len, 0, 0);
        if (rc < 0)
            return rc;
    }
    return reply_ok(a->out);
}

static int cmd_publish(const args *a)
{
    int n = pubsub_publish(a->c->srv->pubsub, a->v[1].str, a->v[1].len, a->v[2].str, a->v[2].len);
    return n < 0 ? n : edo_resp_append_integer(a->out, n);
}

/* ["subscribe" | "unsubscribe", channel (or nil), subscriptions left]. */
static int reply_subscription(edo_bytes *out, const char *kind, const char *name, size_t len,
                              size_t count)
{
    int rc = edo_resp_append_array(out, 3);
    if (rc == 0)
        rc = edo_resp_append_bulk(out, kind, strlen(kind));
    if (rc == 0)
        rc = name ? edo_resp_append_bulk(out, name, len) : edo_resp_append_null(out);
    if (rc == 0)
        rc = edo_resp_append_integer(out, (int64_t)count);
    return rc;
}

static subscription *find_sub(conn *c, const char *name, size_t len)
{
    for (size_t i = 0; i < c->nsubs; i++) {
        size_t n;
        const char *have = pubsub_channel_name(&c->subs[i], &n);
        if (n == len && memcmp(have, name, len) == 0)
            return &c->subs[i];
    }
    return NULL;
}

static int cmd_subscribe(const args *a)
{
    conn *c = a->c;
    for (size_t i = 1; i < a->n; i++) {
        const edo_resp_value *name = &a->v[i];
        if (!find_sub(c, name->str, name->len)) {
            if (c->nsubs == c->subs_cap) {
                size_t cap = c->subs_cap ? c->subs_cap * 2 : 4;
                subscription *subs = realloc(c->subs, cap * sizeof *subs);
                if (!subs)
                    return -ENOMEM;
                c->subs = subs;
                c->subs_cap = cap;
            }
            int rc = pubsub_subscribe(c->srv->pubsub, name->str, name->len, &c->subs[c->nsubs]);
            if (rc < 0)
                return rc;
            c->nsubs++;
        }
        int rc = reply_subscription(a->out, "subscribe", name->str, name->len, c->nsubs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void drop_sub(conn *c, subscription *s)
{
    pubsub_unsubscribe(c->srv->pubsub, s);
    *s = c->subs[--c->nsubs];
}

static int cmd_unsubscribe(const args *a)
{
    conn *c = a->c;
    if (a->n == 1) {
        /* Every channel; with none, one reply with a nil channel. */
        if (c->nsubs == 0)
            return reply_subscription(a->out, "unsubscribe", NULL, 0, 0);
        while (c->nsubs > 0) {
            size_t len;
            const char *name = pubsub_channel_name(&c->subs[0], &len);
            int rc = reply_subscription(a->out, "unsubscribe", name, len, c->nsubs - 1);
            drop_sub(c, &c->subs[0]);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    for (size_t i = 1; i < a->n; i++) {
        subscription *s = find_sub(c, a->v[i].str, a->v[i].len);
        if (s)
            drop_sub(c, s);
        int rc = reply_subscription(a->out, "unsubscribe", a->v[i].str, a->v[i].len, c->nsubs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cmd_quit(const args *a)
{
    a->c->quit = true;
    return reply_ok(a->out);
}

/* CONFIG GET: no parameters are exposed (redis-benchmark asks for two at start). */
static int cmd_config(const args *a)
{
    if (!arg_is(&a->v[1], "GET"))
        return reply_error(a->out, "ERR unknown subcommand '%.*s'", a->v[1].str, a->v[1].len);
    return edo_resp_append_array(a->out, 0);
}

typedef struct command {
    const char *name;
    int arity; /* as redis's: n exactly, or -n at least n (the name counts) */
    bool in_subscribed_mode;
    command_fn fn;
} command;

static const command commands[] = {
    {"get", 2, false, cmd_get},
    {"set", -3, false, cmd_set},
    {"ping", -1, true, cmd_ping},
    {"echo", 2, false, cmd_echo},
    {"del", -2, false, cmd_del},
    {"exists", -2, false, cmd_exists},
    {"incr", 2, false, cmd_incr},
    {"decr", 2, false, cmd_decr},
    {"incrby", 3, false, cmd_incrby},
    {"decrby", 3, false, cmd_decrby},
    {"expire", 3, false, cmd_expire},
    {"pexpire", 3, false, cmd_pexpire},
    {"ttl", 2, false, cmd_ttl},
    {"pttl", 2, false, cmd_pttl},
    {"mget", -2, false, cmd_mget},
    {"mset", -3, false, cmd_mset},
    {"publish", 3, false, cmd_publish},
    {"subscribe", -2, true, cmd_subscribe},
    {"unsubscribe", -1, true, cmd_unsubscribe},
    {"quit", -1, true, cmd_quit},
    {"config", -2, false, cmd_config},
};

int command_run(conn *c, const edo_resp_value *argv, size_t argc)
{
    edo_bytes *out = edo_framed_write_buffer(&c->framed);
    const edo_resp_value *name = &argv[0];
    const command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (arg_is(name, commands[i].name)) {
            cmd = &commands[i];
            break;
        }
    if (!cmd)
        return reply_error(out, "ERR unknown command '%.*s'", name->str, name->len);
    if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
        (cmd->arity < 0 && argc < (size_t)-cmd->arity))
        return reply_error(out, "ERR wrong number of arguments for '%.*s' command", cmd->name,
                           strlen(cmd->name));
    if (c->nsubs > 0 && !cmd->in_subscribed_mode)
        return reply_error(out,
                           "ERR Can't execute '%.*s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                           "PING / QUIT / RESET are allowed in this context",
                           cmd->name, strlen(cmd->name));
    args a = {c, argv, argc, out};
    return cmd->fn(&a);
}
