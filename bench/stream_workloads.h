/* The stream workloads of edo-bench (stream_workloads.c). */
#ifndef EDO_BENCH_STREAM_WORKLOADS_H
#define EDO_BENCH_STREAM_WORKLOADS_H

#include "edo.h"

/* lines: a coroutine writes n lines of LINES_LEN bytes ("\n" included) into a duplex pair of
 * 64 KiB, in writes of 819 lines (65,520 bytes); another reads them through a buffered reader
 * of the default capacity (8 KiB, as Tokio's BufReader) with next_line. The nanoseconds from
 * the spawns to the last line. Tokio's side: io::duplex, BufReader::lines, the same shape. */
#define LINES_LEN 80
double lines(edo_runtime *rt, long n);
/* --ops unless given: 1 GiB of lines. */
#define LINES_DEFAULT_OPS ((1L << 30) / LINES_LEN)

#endif
