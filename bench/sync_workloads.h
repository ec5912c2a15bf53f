/* The contended synchronisation workloads of edo-bench (sync_workloads.c): 10 coroutines share
 * `n` lock/increment/unlock rounds on one mutex, or acquire/release rounds on a semaphore of 2
 * permits. Each returns the nanoseconds taken. */
#ifndef EDO_BENCH_SYNC_WORKLOADS_H
#define EDO_BENCH_SYNC_WORKLOADS_H

#include "edo.h"

double mutex_contended(edo_runtime *rt, long n);
double semaphore_contended(edo_runtime *rt, long n);
/* 1000 coroutines each run n/1000 rounds of: two oneshot channels, a responder coroutine
 * spawned to answer the first on the second, send, wait for the answer. */
double ping_pong(edo_runtime *rt, long n);
/* ping_pong_pairs: 1000 long-lived pairs of future tasks; each round trip the pinger sends a new
 * oneshot over the pair's current one and the ponger answers on it with the next (Tokio's
 * `Ball(oneshot::Sender<Ball>)`). n hops, two per round trip: ping_pong_pairs_hops(n) of them
 * (at least one round trip each). coro_ping_pong_pairs: the same with coroutines. */
double ping_pong_pairs(edo_runtime *rt, long n);
double coro_ping_pong_pairs(edo_runtime *rt, long n);
long ping_pong_pairs_hops(long n);
/* 4 coroutines send n/4 messages each into one bounded(1024) channel; one receives them all. */
double mpsc(edo_runtime *rt, long n);

#endif
