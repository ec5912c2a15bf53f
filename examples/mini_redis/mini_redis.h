/* mini_redis: a Redis server on edo (RESP2 over the framed adapter). What the parts share. */
#ifndef MINI_REDIS_H
#define MINI_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "edo.h"
#include "pubsub.h"
#include "store.h"

/* What every connection shares. */
typedef struct server {
    store *store;
    pubsub *pubsub;
} server;

/* One client connection. */
typedef struct conn {
    server *srv;
    edo_framed framed;
    edo_resp_codec codec;
    edo_resp_frame request;
    subscription *subs; /* the channels subscribed to (while any, the connection is in
                           subscribed mode: only (UN)SUBSCRIBE, PING and QUIT are allowed) */
    size_t nsubs, subs_cap;
    bool quit; /* QUIT was answered: close after the reply is written */
} conn;

/* Serves one connection (a coroutine; `arg` is a struct conn_start, freed here). */
typedef struct conn_start {
    server *srv;
    edo_tcp *tcp;
} conn_start;
void *conn_serve(void *arg);

/* Runs the command argv[0..argc) (bulk strings), appending its reply to the connection's write
 * buffer. Never suspends. Returns 0, or -ENOMEM (the connection should close). */
int command_run(conn *c, const edo_resp_value *argv, size_t argc);

#endif
