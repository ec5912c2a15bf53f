/* The connection workloads of edo-bench (conn_workloads.c). */
#ifndef EDO_BENCH_CONN_WORKLOADS_H
#define EDO_BENCH_CONN_WORKLOADS_H

#include "edo.h"

/* idle_conn_memory: RSS growth per idle echo connection, with `n` connections from a client
 * process (this program re-run as `idle_conn_client`), each echoed once, to a server coroutine
 * each, parked in edo_stream_ready: it takes a buffer only when bytes come. Returns bytes per
 * connection. */
long idle_conn_memory(edo_runtime *rt, long n, long (*rss)(void));

/* The client side, in its own process: `n` connections to 127.0.0.1:`port`, each echoing one
 * byte, held open until stdin closes. Says "1" on stdout once all are connected. Returns the
 * exit status. */
int idle_conn_client(const char *port, const char *n);

#endif
