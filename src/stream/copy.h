/* One direction of a copy between two streams (edo/stream_copy.h): read from one stream, write
 * to the other, until the reader's end of stream, then flush (or shut down) the writer. Both
 * public copies are made of it: edo_stream_copy is one, edo_stream_copy_bidirectional two,
 * polled by one future so that one task carries both directions.
 *
 * The bytes go through a buffer (copy_buffer.c), or with splice(2) through a pipe when both streams
 * hand out socket or pipe fds (copy_splice.c). The state lives in the caller's future (the public
 * edo_stream_copy_state); nothing is allocated until the first byte is read. */
#ifndef EDO_STREAM_COPY_INTERNAL_H
#define EDO_STREAM_COPY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "edo/stream.h"
#include "edo/stream_copy.h"

typedef enum edo__copy_phase {
    EDO__COPY_START,    /* nothing done: choose splice or buffer at the first poll */
    EDO__COPY_MOVING,   /* reading and writing until the reader's end of stream */
    EDO__COPY_FLUSHING, /* the reader ended: flushing the writer (edo_stream_copy) */
    EDO__COPY_CLOSING,  /* the reader ended: shutting the writer down (bidirectional) */
    EDO__COPY_DONE,     /* `result` holds the outcome */
} edo__copy_phase;

typedef struct edo__copy {
    edo_stream *from, *to;
    edo_stream_waiter reading, writing; /* the one read on `from`, the one write on `to` */
    uint64_t copied;                    /* bytes written to `to` */
    /* buffer path: bytes [pos, end) of buf were read and not yet written */
    char *buf;
    size_t pos, end;
    /* splice path: the pipe's read and write ends (-1: no pipe, the copy waits for its reader
     * or has not started), `in_pipe` bytes in it */
    int pipe_out, pipe_in;
    size_t in_pipe;
    int result;            /* when DONE; before the first poll, an argument error */
    uint8_t phase;         /* edo__copy_phase */
    bool shut_down_writer; /* at the end: shut `to` down (else only flush it) */
    bool splicing;         /* the splice path was chosen (and its bytes not counted yet) */
    bool reader_ended;     /* `from` gave end of stream */
    bool unflushed;        /* bytes were written since the last flush */
} edo__copy;

/* Checks a copy's streams: 0 or -EINVAL (NULL, no vtable, no poll_read or poll_write). */
int edo__copy_check(const edo_stream *from, const edo_stream *to);
/* Prepares `c` to copy `from` to `to`; bad streams make its first poll complete with -EINVAL.
 * `shut_down_writer`: end with edo_stream_shutdown(to) instead of a flush. */
void edo__copy_init(edo__copy *c, edo_stream *from, edo_stream *to, bool shut_down_writer);
/* Advances the copy: EDO_READY with *result 0 (everything copied, the writer flushed or shut
 * down) or the first error; EDO_PENDING with cx's waker registered where the copy waits. Call
 * again after READY: READY again with the same result. Never suspends. */
edo_poll edo__copy_poll(edo__copy *c, edo_context *cx, int *result);
/* Releases what the copy holds (its waiters, buffer, pipe), whether or not it completed. */
void edo__copy_drop(edo__copy *c);
/* The copy's state inside a public edo_stream_copy_state. */
edo__copy *edo__copy_of(edo_stream_copy_state *s);

/* What both paths do when a read (or a splice from the reader) completed with `n`: releases
 * the reading waiter; returns n (> 0), 0 at the end of the stream (reader_ended is set), or the
 * error. */
ssize_t edo__copy_read_done(edo__copy *c, ssize_t n);
/* ... and when a write (or a splice to the writer) completed with `n`: releases the writing
 * waiter and counts the bytes; returns n (> 0) or the error (-EIO for 0: a non-empty write that
 * took nothing, a broken stream). */
ssize_t edo__copy_write_done(edo__copy *c, ssize_t n);

/* The buffer path (copy_buffer.c): moves bytes until the reader's end of stream (READY, *result 0)
 * or an error (READY, *result < 0). */
edo_poll edo__copy_move_buffered(edo__copy *c, edo_context *cx, int *result);
/* Releases the buffer. */
void edo__copy_buffer_release(edo__copy *c);

/* The splice path (copy_splice.c). Whether both streams can splice (socket or pipe fds with
 * poll_raw_io): true (and `splicing` set) when the copy will splice. */
bool edo__copy_splice_start(edo__copy *c);
/* Moves bytes with splice until the reader's end of stream or an error, as the buffer path. */
edo_poll edo__copy_move_spliced(edo__copy *c, edo_context *cx, int *result);
/* Gives the pipe back and counts the spliced bytes. */
void edo__copy_splice_release(edo__copy *c);
/* A pipe for the splice path (pipe_pool.c): fds[0] reads, fds[1] writes, both non-blocking;
 * an empty one from the pool, or a new one. Returns 0, or -1 with errno set (out of fds). */
int edo__pipe_take(int fds[2]);
/* Gives a pipe back: to the pool when `empty` and the pool has room, else closed. */
void edo__pipe_give_back(const int fds[2], bool empty);
/* Bytes moved by splice by every copy in the process so far (for tests and diagnostics). */
uint64_t edo__copy_spliced_bytes(void);

#endif
