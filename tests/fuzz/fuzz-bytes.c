/* libFuzzer target: edo_bytes and edo_bytes_slice (edo/bytes.h) against a model. Four buffers
 * and four slices, each beside a plain copy of what it should hold; the input is a sequence of
 * operations (append, reserve, write into the spare room and commit, advance, clear, split_to,
 * unsplit, freeze, drop; slice copy, clone, sub, drop) on them. After every operation each
 * buffer and slice must read exactly its model: so a write into one buffer's spare room that
 * lands in bytes another buffer or a slice still shows (they share allocations after split_to
 * and freeze) is caught, and so is any read or write outside an allocation (ASan), a leak
 * (LeakSanitizer) and an argument the calls must refuse (-EINVAL, nothing changed). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edo/bytes.h"
#include "check.h"

#define SLOTS 4
#define MAX_MODEL 65536 /* bytes one model holds at most: inputs stay fast */

/* What a buffer or a slice should hold. */
typedef struct model {
    uint8_t *data;
    size_t len;
} model;

typedef struct state {
    const uint8_t *in;
    size_t size, at;
    edo_bytes buf[SLOTS];
    model buf_model[SLOTS];
    edo_bytes_slice slice[SLOTS];
    model slice_model[SLOTS];
    uint8_t fill; /* the next byte written into spare room: changes with every write */
} state;

static uint8_t byte(state *s)
{
    return s->at < s->size ? s->in[s->at++] : 0;
}

/* A length from two bytes, up to 4 KiB, sometimes past what a buffer holds. */
static size_t length(state *s)
{
    return ((size_t)byte(s) << 8 | byte(s)) % 4097;
}

static void model_set(model *m, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    CHECK(copy);
    if (len)
        memcpy(copy, data, len);
    free(m->data);
    m->data = copy;
    m->len = len;
}

static void model_append(model *m, const uint8_t *data, size_t len)
{
    uint8_t *grown = realloc(m->data, m->len + len + 1);
    CHECK(grown);
    if (len)
        memcpy(grown + m->len, data, len);
    m->data = grown;
    m->len += len;
}

/* Drops the first n bytes of the model. */
static void model_advance(model *m, size_t n)
{
    if (n)
        memmove(m->data, m->data + n, m->len - n);
    m->len -= n;
}

static void check_all(const state *s)
{
    for (int i = 0; i < SLOTS; i++) {
        const edo_bytes *b = &s->buf[i];
        const model *m = &s->buf_model[i];
        CHECK(edo_bytes_len(b) == m->len);
        CHECK(m->len == 0 || memcmp(edo_bytes_data(b), m->data, m->len) == 0);
        const edo_bytes_slice *sl = &s->slice[i];
        const model *sm = &s->slice_model[i];
        CHECK(edo_bytes_slice_len(sl) == sm->len);
        CHECK(sm->len == 0 || memcmp(edo_bytes_slice_data(sl), sm->data, sm->len) == 0);
    }
}

static void buf_drop(state *s, int i)
{
    edo_bytes_drop(&s->buf[i]);
    CHECK(edo_bytes_len(&s->buf[i]) == 0);
    s->buf_model[i].len = 0;
}

static void slice_drop(state *s, int i)
{
    edo_bytes_slice_drop(&s->slice[i]);
    CHECK(edo_bytes_slice_len(&s->slice[i]) == 0);
    s->slice_model[i].len = 0;
}

/* Writes into the spare room (after reserving `want` more) and commits part of it. */
static void write_spare(state *s, edo_bytes *b, model *m, size_t want, size_t commit)
{
    if (m->len + want > MAX_MODEL)
        return;
    CHECK(edo_bytes_reserve(b, want) == 0);
    size_t spare_len;
    uint8_t *spare = edo_bytes_spare(b, &spare_len);
    CHECK(spare_len >= want && spare_len == edo_bytes_spare_len(b));
    if (spare_len) /* all of it: the spare room belongs to this buffer alone */
        memset(spare, s->fill++, spare_len);
    if (commit > spare_len) {
        CHECK(edo_bytes_commit(b, commit) == -EINVAL);
        return;
    }
    CHECK(edo_bytes_commit(b, commit) == 0);
    model_append(m, spare, commit);
}

static void step(state *s)
{
    uint8_t op = byte(s), which = byte(s);
    int i = which % SLOTS, j = which / SLOTS % SLOTS;
    edo_bytes *b = &s->buf[i];
    model *m = &s->buf_model[i];
    size_t n;
    switch (op % 13) {
    case 0: /* append bytes of the input */
        n = length(s);
        n = n < s->size - s->at ? n : s->size - s->at;
        if (m->len + n > MAX_MODEL)
            break;
        CHECK(edo_bytes_append(b, s->in + s->at, n) == 0);
        model_append(m, s->in + s->at, n);
        s->at += n;
        break;
    case 1:
        n = length(s);
        write_spare(s, b, m, n, length(s));
        break;
    case 2:
        n = length(s);
        if (n > m->len) {
            CHECK(edo_bytes_advance(b, n) == -EINVAL);
            break;
        }
        CHECK(edo_bytes_advance(b, n) == 0);
        model_advance(m, n);
        break;
    case 3:
        edo_bytes_clear(b);
        m->len = 0;
        break;
    case 4: /* split the front of i into j */
        n = length(s);
        if (i == j) {
            CHECK(edo_bytes_split_to(b, n, b) == -EINVAL);
            break;
        }
        buf_drop(s, j);
        if (n > m->len) {
            CHECK(edo_bytes_split_to(b, n, &s->buf[j]) == -EINVAL);
            break;
        }
        CHECK(edo_bytes_split_to(b, n, &s->buf[j]) == 0);
        model_set(&s->buf_model[j], m->data, n);
        model_advance(m, n);
        break;
    case 5: /* j joins the end of i */
        if (i == j) {
            CHECK(edo_bytes_unsplit(b, b) == -EINVAL);
            break;
        }
        if (m->len + s->buf_model[j].len > MAX_MODEL)
            break;
        CHECK(edo_bytes_unsplit(b, &s->buf[j]) == 0);
        model_append(m, s->buf_model[j].data, s->buf_model[j].len);
        s->buf_model[j].len = 0;
        CHECK(edo_bytes_len(&s->buf[j]) == 0);
        break;
    case 6: /* freeze i into slice j */
        slice_drop(s, j);
        CHECK(edo_bytes_freeze(b, &s->slice[j]) == 0);
        model_set(&s->slice_model[j], m->data, m->len);
        m->len = 0;
        break;
    case 7:
        buf_drop(s, i);
        break;
    case 8: { /* a slice copied from the input */
        n = length(s);
        n = n < s->size - s->at ? n : s->size - s->at;
        slice_drop(s, i);
        CHECK(edo_bytes_slice_copy(s->in + s->at, n, &s->slice[i]) == 0);
        model_set(&s->slice_model[i], s->in + s->at, n);
        s->at += n;
        break;
    }
    case 9: /* clone slice i into j */
        if (i == j)
            break;
        slice_drop(s, j);
        CHECK(edo_bytes_slice_clone(&s->slice[i], &s->slice[j]) == 0);
        model_set(&s->slice_model[j], s->slice_model[i].data, s->slice_model[i].len);
        break;
    case 10: { /* sub-slice of i into j (j may be i: it narrows) */
        size_t off = length(s), len = length(s);
        model *from = &s->slice_model[i];
        if (off + len > from->len) {
            CHECK(edo_bytes_slice_sub(&s->slice[i], off, len, &s->slice[j]) == -EINVAL);
            break;
        }
        if (i != j)
            slice_drop(s, j);
        CHECK(edo_bytes_slice_sub(&s->slice[i], off, len, &s->slice[j]) == 0);
        uint8_t *copy = malloc(len ? len : 1); /* from->data may be s->slice_model[j]'s */
        CHECK(copy);
        if (len)
            memcpy(copy, from->data + off, len);
        model_set(&s->slice_model[j], copy, len);
        free(copy);
        break;
    }
    case 11:
        slice_drop(s, i);
        break;
    default: /* reserve alone: the readable bytes must not change */
        n = length(s);
        if (m->len + n <= MAX_MODEL)
            CHECK(edo_bytes_reserve(b, n) == 0 && edo_bytes_spare_len(b) >= n);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    state s;
    memset(&s, 0, sizeof s);
    s.in = data;
    s.size = size;
    for (int op = 0; op < 256 && s.at < s.size; op++) {
        step(&s);
        check_all(&s);
    }
    for (int i = 0; i < SLOTS; i++) {
        edo_bytes_drop(&s.buf[i]);
        edo_bytes_slice_drop(&s.slice[i]);
        free(s.buf_model[i].data);
        free(s.slice_model[i].data);
    }
    return 0;
}
