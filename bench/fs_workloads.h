/* The file-system workloads of edo-bench (fs_workloads.c). Each works in a directory under
 * $TMPDIR (or /tmp) named edo-bench-fs/, which it fills on first use and keeps, so every run
 * and both peers (bench/tokio's fs.rs makes the same files) read from a warm page cache. */
#ifndef EDO_BENCH_FS_WORKLOADS_H
#define EDO_BENCH_FS_WORKLOADS_H

#include "edo.h"

#define FS_CONCURRENCY 64    /* calls in flight at once */
#define FS_SMALL_SIZE 4096   /* bytes of each small file */
#define FS_SMALL_DEFAULT_OPS 10000
#define FS_FSYNC_DEFAULT_OPS 2000
#define FS_DIR_DEFAULT_OPS 100000

/* fs_read_small: reads n files of 4 KiB (small-<n>/<i>) with edo_fs_read, 64 coroutines each
 * taking the next file until all are read. Nanoseconds for all. */
double fs_read_small(edo_runtime *rt, long n);
/* fs_read_small_sync: the same files read by one plain thread with open/fstat/read/close, no
 * runtime: the limit. */
double fs_read_small_sync(edo_runtime *rt, long n);
/* fs_metadata: the metadata of fs_read_small's n files (edo_fs_metadata), 64 coroutines each
 * taking the next file. fs_metadata_sync: the same by one plain thread with statx(2). */
double fs_metadata(edo_runtime *rt, long n);
double fs_metadata_sync(edo_runtime *rt, long n);
/* fs_write_fsync: 64 coroutines write n files of 4 KiB (fsync/<i>, created or truncated:
 * edo_file_create, write_all, sync_all, close). */
double fs_write_fsync(edo_runtime *rt, long n);
/* read_dir: lists a directory of n empty files (dir-<n>/) with edo_read_dir. */
double read_dir(edo_runtime *rt, long n);

#endif
