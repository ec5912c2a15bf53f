/* A whole-file call (read, read_bytes, write, copy): one block with its arguments and results,
 * done by the pool (whole.c) or through the completion ring (whole_ring.c). */
#ifndef EDO_FS_WHOLE_H
#define EDO_FS_WHOLE_H

#include <sys/stat.h>

#include "fs/call.h"

typedef enum whole_op { OP_READ, OP_READ_BYTES, OP_WRITE, OP_COPY } whole_op;

typedef struct whole_call {
    edo__fs_call call;
    whole_op op;
    char *data;     /* read: the bytes (malloc'd, NUL-terminated) */
    const char *src; /* write: a copy of the bytes, in the call's block */
    size_t len;
    edo_bytes bytes; /* read_bytes: the bytes */
    const char *to;  /* copy: into `paths` after the source */
    /* Through the ring: the step, the fixed-file slot of the chain, the O_PATH descriptor of
     * the type check and its statx, the first read's length, the byte of the read that
     * confirms the end. */
    unsigned stage;
    int slot;
    int path_fd;
    struct statx stx;
    size_t cap;
    char probe;
    char path[];
} whole_call;

/* The call through the completion ring (edo__fs_ops.ring). */
ssize_t edo__fs_whole_ring(edo__fs_call *c, edo__cring *r, const int32_t *res);

#endif
