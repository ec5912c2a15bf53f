/* What the files of src/fs share besides the calls (call.h). */
#ifndef EDO_FS_FS_H
#define EDO_FS_FS_H

#include <linux/io_uring.h>
#include <sys/stat.h>

#include "edo/fs.h"

/* The metadata of `path` relative to `dirfd` (AT_FDCWD; "" with AT_EMPTY_PATH: dirfd itself),
 * with `flags` AT_SYMLINK_NOFOLLOW or 0: 0 or -errno. Blocking. */
int edo__fs_stat(int dirfd, const char *path, int flags, edo_metadata *out);
/* The metadata a statx (STATX_BASIC_STATS, maybe STATX_BTIME) found, as edo_metadata. */
void edo__fs_metadata_of_statx(const struct statx *sx, edo_metadata *out);
/* The metadata flags and mask every statx of these calls asks for. */
#define EDO__FS_STATX_FLAGS AT_STATX_SYNC_AS_STAT
#define EDO__FS_STATX_MASK (STATX_BASIC_STATS | STATX_BTIME)
/* The edo_file_type of a st_mode's S_IFMT bits. */
edo_file_type edo__fs_type_of_mode(mode_t mode);

/* An SQE filled in as an openat(2) of `path` (relative to the working directory). */
void edo__fs_sqe_openat(struct io_uring_sqe *sqe, const char *path, int flags, mode_t mode);
/* Through the completion ring, the type check before an open (ring_open.c): an SQE filled in
 * as an openat of `path` with O_PATH (no FIFO's or device's open runs; tried inline by the
 * kernel), the statx of the descriptor it gave (the inode is in memory: never waits; 0 or
 * -errno), and an SQE filled in as the close of a plain descriptor. */
void edo__fs_sqe_open_path(struct io_uring_sqe *sqe, const char *path);
int edo__fs_path_fd_statx(int fd, unsigned mask, struct statx *out);
void edo__fs_sqe_close_fd(struct io_uring_sqe *sqe, int fd);

/* Removes the tree under the directory `fd` (owned: closed), not following links. Blocking. */
int edo__fs_remove_tree(int fd);

#endif
