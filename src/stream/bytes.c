/* The byte buffer and its shared slices (edo/bytes.h).
 *
 * One allocation, a block, holds a reference count, its size and the bytes. Buffers and slices
 * are views on a block, each holding one reference: a buffer's view is [ptr_, ptr_ + cap_), a
 * slice's [ptr_, ptr_ + len_). The views of one block never overlap while more than one exists
 * (split_to cuts a view in two, freeze hands a view over), so writers never race. A buffer that
 * holds the only reference owns the whole block again: it may reuse the bytes before its view
 * (consumed, or split off and since dropped) and after it. */
#include "edo/bytes.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct edo__bytes_block {
    _Atomic size_t refs;
    size_t size; /* bytes in data */
    uint8_t data[];
};

/* A new buffer's first allocation: small reads and lines do not reallocate at once. */
#define MIN_BLOCK 64u

static edo__bytes_block *block_new(size_t size)
{
    edo__bytes_block *blk = malloc(sizeof *blk + size);
    if (blk == NULL)
        return NULL;
    atomic_init(&blk->refs, 1);
    blk->size = size;
    return blk;
}

static void block_ref(edo__bytes_block *blk)
{
    /* A new reference is made from an existing one, so nothing needs ordering here. */
    atomic_fetch_add_explicit(&blk->refs, 1, memory_order_relaxed);
}

static void block_unref(edo__bytes_block *blk)
{
    if (blk == NULL)
        return;
    /* Release: this view's reads and writes happen before the block is freed or reused by the
     * last holder, whose acquire (here, or in is_unique) pairs with it. */
    if (atomic_fetch_sub_explicit(&blk->refs, 1, memory_order_release) == 1) {
        atomic_thread_fence(memory_order_acquire);
        free(blk);
    }
}

static bool is_unique(const edo__bytes_block *blk)
{
    return atomic_load_explicit(&blk->refs, memory_order_acquire) == 1;
}

void edo_bytes_init(edo_bytes *b)
{
    if (b != NULL)
        *b = (edo_bytes)EDO_BYTES_INIT;
}

void edo_bytes_drop(edo_bytes *b)
{
    if (b == NULL)
        return;
    block_unref(b->block_);
    *b = (edo_bytes)EDO_BYTES_INIT;
}

/* Moves the readable bytes to a new block of at least `want` bytes, twice the old view when
 * that is more, and lets go of the old block. */
static int move_to_new_block(edo_bytes *b, size_t want)
{
    size_t size = b->cap_ <= EDO_BYTES_MAX / 2 ? b->cap_ * 2 : EDO_BYTES_MAX;
    if (size < want)
        size = want;
    if (size < MIN_BLOCK)
        size = MIN_BLOCK;
    edo__bytes_block *blk;
    if (b->block_ != NULL && b->ptr_ == b->block_->data && is_unique(b->block_)) {
        /* Ours alone and nothing consumed: realloc may grow it in place (or remap it) instead
         * of copying. */
        blk = realloc(b->block_, sizeof *blk + size);
        if (blk == NULL)
            return -ENOMEM;
    } else {
        blk = block_new(size);
        if (blk == NULL)
            return -ENOMEM;
        if (b->len_ > 0)
            memcpy(blk->data, b->ptr_, b->len_);
        block_unref(b->block_);
    }
    blk->size = size;
    b->block_ = blk;
    b->ptr_ = blk->data;
    b->cap_ = size;
    return 0;
}

int edo_bytes_reserve(edo_bytes *b, size_t additional)
{
    if (b == NULL || additional > EDO_BYTES_MAX - b->len_)
        return -EINVAL;
    if (b->cap_ - b->len_ >= additional)
        return 0;
    edo__bytes_block *blk = b->block_;
    if (blk != NULL && is_unique(blk)) {
        /* The whole block is ours: first the room after the view (a piece split off the back
         * and since dropped), then the consumed front. Moving the readable bytes there is
         * cheaper than a new block whenever it gives enough room; it stays amortised O(1) per
         * byte because it happens only when they are no more than the consumed bytes or half
         * the block, so at least half the block is spare after it. */
        size_t off = (size_t)(b->ptr_ - blk->data);
        b->cap_ = blk->size - off;
        if (b->cap_ - b->len_ >= additional)
            return 0;
        if (blk->size - b->len_ >= additional && (off >= b->len_ || b->len_ <= blk->size / 2)) {
            memmove(blk->data, b->ptr_, b->len_);
            b->ptr_ = blk->data;
            b->cap_ = blk->size;
            return 0;
        }
    }
    return move_to_new_block(b, b->len_ + additional);
}

int edo_bytes_append(edo_bytes *b, const void *data, size_t len)
{
    if (b == NULL || (data == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    int rc = edo_bytes_reserve(b, len);
    if (rc < 0)
        return rc;
    memcpy(b->ptr_ + b->len_, data, len);
    b->len_ += len;
    return 0;
}

uint8_t *edo_bytes_spare(edo_bytes *b, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (b == NULL || len == NULL || b->block_ == NULL)
        return NULL;
    *len = b->cap_ - b->len_;
    return b->ptr_ + b->len_;
}

int edo_bytes_commit(edo_bytes *b, size_t n)
{
    if (b == NULL || n > b->cap_ - b->len_)
        return -EINVAL;
    b->len_ += n;
    return 0;
}

int edo_bytes_advance(edo_bytes *b, size_t n)
{
    if (b == NULL || n > b->len_)
        return -EINVAL;
    if (n == 0)
        return 0;
    b->len_ -= n;
    if (b->len_ == 0 && is_unique(b->block_)) {
        /* Everything read, and nobody else uses the block: start over at its front, so a
         * reader's window that is drained between fills never moves a byte. */
        b->ptr_ = b->block_->data;
        b->cap_ = b->block_->size;
        return 0;
    }
    b->ptr_ += n;
    b->cap_ -= n;
    return 0;
}

void edo_bytes_clear(edo_bytes *b)
{
    if (b != NULL)
        edo_bytes_advance(b, b->len_);
}

int edo_bytes_split_to(edo_bytes *b, size_t n, edo_bytes *front)
{
    if (b == NULL || front == NULL || front == b || n > b->len_)
        return -EINVAL;
    if (n == 0) {
        edo_bytes_init(front);
        return 0;
    }
    block_ref(b->block_);
    *front = (edo_bytes){b->ptr_, n, n, b->block_};
    b->ptr_ += n;
    b->len_ -= n;
    b->cap_ -= n;
    return 0;
}

int edo_bytes_unsplit(edo_bytes *b, edo_bytes *back)
{
    if (b == NULL || back == NULL || back == b || back->len_ > EDO_BYTES_MAX - b->len_)
        return -EINVAL;
    if (back->len_ == 0) {
        edo_bytes_drop(back);
        return 0;
    }
    if (b->block_ == NULL) {
        *b = *back; /* the reference moves with the view */
        edo_bytes_init(back);
        return 0;
    }
    if (back->block_ == b->block_ && b->len_ == b->cap_ && b->ptr_ + b->len_ == back->ptr_) {
        /* Adjacent views of one block: join them; back's reference is no longer needed (ours
         * keeps the block alive). */
        b->len_ += back->len_;
        b->cap_ += back->cap_;
        block_unref(back->block_);
        edo_bytes_init(back);
        return 0;
    }
    int rc = edo_bytes_append(b, back->ptr_, back->len_);
    if (rc < 0)
        return rc;
    edo_bytes_drop(back);
    return 0;
}

int edo_bytes_freeze(edo_bytes *b, edo_bytes_slice *out)
{
    if (b == NULL || out == NULL)
        return -EINVAL;
    if (b->len_ == 0) {
        block_unref(b->block_);
        edo_bytes_slice_init(out);
    } else {
        *out = (edo_bytes_slice){b->ptr_, b->len_, b->block_};
    }
    edo_bytes_init(b);
    return 0;
}

void edo_bytes_slice_init(edo_bytes_slice *s)
{
    if (s != NULL)
        *s = (edo_bytes_slice){NULL, 0, NULL};
}

void edo_bytes_slice_drop(edo_bytes_slice *s)
{
    if (s == NULL)
        return;
    block_unref(s->block_);
    edo_bytes_slice_init(s);
}

int edo_bytes_slice_copy(const void *data, size_t len, edo_bytes_slice *out)
{
    if (out == NULL || (data == NULL && len > 0) || len > EDO_BYTES_MAX)
        return -EINVAL;
    if (len == 0) {
        edo_bytes_slice_init(out);
        return 0;
    }
    edo__bytes_block *blk = block_new(len);
    if (blk == NULL)
        return -ENOMEM;
    memcpy(blk->data, data, len);
    *out = (edo_bytes_slice){blk->data, len, blk};
    return 0;
}

int edo_bytes_slice_clone(const edo_bytes_slice *s, edo_bytes_slice *out)
{
    return edo_bytes_slice_sub(s, 0, s != NULL ? s->len_ : 0, out);
}

int edo_bytes_slice_sub(const edo_bytes_slice *s, size_t off, size_t len, edo_bytes_slice *out)
{
    if (s == NULL || out == NULL || off > s->len_ || len > s->len_ - off)
        return -EINVAL;
    edo_bytes_slice sub = {NULL, 0, NULL};
    if (len > 0) {
        block_ref(s->block_);
        sub = (edo_bytes_slice){s->ptr_ + off, len, s->block_};
    }
    if (out == s)
        edo_bytes_slice_drop(out); /* the reference taken above keeps the block */
    *out = sub;
    return 0;
}
