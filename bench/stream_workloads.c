/* The stream workloads of edo-bench (see stream_workloads.h). */
#include "stream_workloads.h"

#include <string.h>

#include "bench.h"

#define DUPLEX_BUFFER (64 * 1024)
#define CHUNK_LINES 819 /* 65,520 bytes: the most whole lines in 64 KiB */

typedef struct lines_side {
    edo_stream *s;
    long lines;
    long bytes; /* reader: the bytes of the lines, "\n" not counted */
} lines_side;

static void *write_lines(void *arg)
{
    lines_side *w = arg;
    static char chunk[CHUNK_LINES * LINES_LEN];
    for (int i = 0; i < CHUNK_LINES; i++) {
        char *line = chunk + i * LINES_LEN;
        for (int k = 0; k < LINES_LEN - 1; k++)
            line[k] = (char)('a' + (i + k) % 26);
        line[LINES_LEN - 1] = '\n';
    }
    for (long left = w->lines; left > 0; left -= CHUNK_LINES) {
        long count = left < CHUNK_LINES ? left : CHUNK_LINES;
        must(edo_stream_write_all(w->s, chunk, (size_t)count * LINES_LEN), "write_all");
    }
    must(edo_stream_close(w->s), "close");
    return NULL;
}

static void *read_lines(void *arg)
{
    lines_side *r = arg;
    edo_buf_reader *br;
    must(edo_buf_reader_new(r->s, 0, &br), "buf_reader");
    const char *line;
    size_t len;
    int rc;
    while ((rc = edo_buf_reader_next_line(br, 1024, &line, &len)) == 1) {
        r->lines++;
        r->bytes += (long)len;
    }
    must(rc, "next_line");
    must(edo_stream_close(edo_buf_reader_stream(br)), "close");
    return NULL;
}

double lines(edo_runtime *rt, long n)
{
    edo_stream *a, *b;
    must(edo_duplex_new(DUPLEX_BUFFER, &a, &b), "duplex");
    lines_side writer = {b, n, 0}, reader = {a, 0, 0};
    edo_task *tw, *tr;
    double start = clock_ns();
    must(edo_spawn_with(rt, NULL, write_lines, &writer, &tw), "spawn");
    must(edo_spawn_with(rt, NULL, read_lines, &reader, &tr), "spawn");
    must(edo_task_join(tr, NULL), "join");
    double took = clock_ns() - start;
    must(edo_task_join(tw, NULL), "join");
    edo_task_free(tw);
    edo_task_free(tr);
    if (reader.lines != n || reader.bytes != n * (LINES_LEN - 1)) {
        fprintf(stderr, "edo-bench: lines: read %ld lines, %ld bytes\n", reader.lines,
                reader.bytes);
        exit(1);
    }
    return took;
}
