/* edo/bytes.h — a growable byte buffer, and shared read-only slices of it.
 *
 * An edo_bytes is a window on a reference-counted allocation: the readable bytes (data, len)
 * and, after them, spare room to write into. Consuming from the front (advance) moves no byte;
 * splitting the front off (split_to) gives a second buffer over the same allocation without
 * copying; freezing gives an edo_bytes_slice, read-only, cloned and sub-sliced in O(1), which
 * may be handed to other threads. It is the model of the `bytes` crate's BytesMut and Bytes.
 *
 *     edo_bytes b;
 *     edo_bytes_init(&b);
 *     edo_bytes_append(&b, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
 *     edo_bytes line;
 *     edo_bytes_split_to(&b, 16, &line);         // "GET / HTTP/1.1\r\n", no copy
 *     edo_bytes_slice frozen;
 *     edo_bytes_freeze(&line, &frozen);          // shareable, read-only
 *     ...
 *     edo_bytes_slice_drop(&frozen);
 *     edo_bytes_drop(&b);
 *
 * Memory is reclaimed, not only grown: when a buffer is the only user of its allocation (every
 * piece split off and every slice frozen from it has been dropped), the bytes it consumed at the
 * front become spare room again (reserve moves the unread bytes to the start when that is cheap:
 * they are no more than the consumed bytes, or than half the allocation). So a buffer used as a
 * reader's window, filled at the back and consumed at the front, keeps one allocation of a
 * steady size.
 *
 * Sizes: a buffer or slice holds at most EDO_BYTES_MAX bytes; a size past it is -EINVAL, never an
 * overflow. Every call that allocates returns -ENOMEM when the allocation fails, the buffer then
 * unchanged.
 *
 * Thread-safety: an edo_bytes belongs to one task at a time (move it between tasks freely, as a
 * value); the pieces split from one buffer are independent and may be used by different threads
 * at once. An edo_bytes_slice is read-only: clones of it, and the slice itself for reading, may
 * be used from any number of threads (the reference count is atomic). No call here suspends.
 */
#ifndef EDO_BYTES_H
#define EDO_BYTES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The largest buffer or slice, in bytes (ptrdiff_t must hold every offset, and the allocation
 * carries a small header). */
#define EDO_BYTES_MAX ((size_t)PTRDIFF_MAX - 4096u)

/* The shared allocation behind buffers and slices (opaque). */
typedef struct edo__bytes_block edo__bytes_block;

/* A growable buffer. Fields are private: use the calls. A zeroed struct (or EDO_BYTES_INIT) is
 * an empty buffer without an allocation. */
typedef struct edo_bytes {
    uint8_t *ptr_;            /* first readable byte */
    size_t len_;              /* readable bytes */
    size_t cap_;              /* bytes this buffer may use from ptr_ on (len_ <= cap_) */
    edo__bytes_block *block_; /* NULL: no allocation */
} edo_bytes;

#define EDO_BYTES_INIT {NULL, 0, 0, NULL}

/* A read-only, shared run of bytes. Fields are private. A zeroed struct is an empty slice. */
typedef struct edo_bytes_slice {
    const uint8_t *ptr_;
    size_t len_;
    edo__bytes_block *block_; /* NULL: empty */
} edo_bytes_slice;

/* ---- the buffer -------------------------------------------------------------------------- */

/* Makes `b` an empty buffer without allocating. NULL: no-op. */
void edo_bytes_init(edo_bytes *b);
/* Releases `b`'s reference to its allocation (freed when no other buffer or slice uses it) and
 * leaves `b` empty, ready for reuse. NULL: no-op. */
void edo_bytes_drop(edo_bytes *b);

/* The readable bytes: a pointer to the first (possibly NULL when there is none) and their
 * count. The pointer stays valid until the next call that changes `b` (reserve, append, commit,
 * advance, split_to, unsplit, freeze, clear, drop). NULL b: NULL and 0. Inline: a parser asks
 * for every byte. */
static inline const uint8_t *edo_bytes_data(const edo_bytes *b) { return b ? b->ptr_ : NULL; }
static inline size_t edo_bytes_len(const edo_bytes *b) { return b ? b->len_ : 0; }
/* The readable bytes, to change in place (unmasking, decoding): they are this buffer's alone,
 * never shared with another buffer or a slice. Valid as edo_bytes_data's. */
static inline uint8_t *edo_bytes_data_mut(edo_bytes *b) { return b ? b->ptr_ : NULL; }
/* How many bytes may be written after the readable ones without allocating. NULL: 0. */
static inline size_t edo_bytes_spare_len(const edo_bytes *b) { return b ? b->cap_ - b->len_ : 0; }

/* Makes room for at least `additional` more bytes after the readable ones: reclaims the
 * consumed front when `b` is the only user of its allocation and that is enough (moving the
 * readable bytes to the start when they are no more than the consumed ones or than half the
 * allocation), otherwise moves
 * them to a new allocation (at least twice the old size). Returns 0, -EINVAL (NULL b, len +
 * additional above EDO_BYTES_MAX) or -ENOMEM (nothing changed). */
int edo_bytes_reserve(edo_bytes *b, size_t additional);
/* Appends `len` bytes from `data` (reserving as needed). Returns 0, -EINVAL (NULL b, NULL data
 * with len > 0, the total above EDO_BYTES_MAX) or -ENOMEM (nothing appended). */
int edo_bytes_append(edo_bytes *b, const void *data, size_t len);

/* The spare room after the readable bytes, to write into directly (a read(2), a stream read):
 * returns its start and stores its length in *len (0 and possibly NULL when there is none: call
 * edo_bytes_reserve first). Then edo_bytes_commit makes what was written readable. NULL b or
 * len: NULL (and *len 0 when len is not NULL). */
uint8_t *edo_bytes_spare(edo_bytes *b, size_t *len);
/* Makes the next `n` bytes of the spare room readable (written since edo_bytes_spare). Returns
 * 0, or -EINVAL (NULL b, n above the spare length). */
int edo_bytes_commit(edo_bytes *b, size_t n);

/* Consumes `n` bytes from the front without moving the rest. Returns 0, or -EINVAL (NULL b, n
 * above the readable length; nothing consumed). */
int edo_bytes_advance(edo_bytes *b, size_t n);
/* Consumes every readable byte (keeps the allocation). NULL: no-op. */
void edo_bytes_clear(edo_bytes *b);

/* Splits the first `n` readable bytes off into `front`, a new buffer over the same allocation
 * (nothing is copied; both may then grow, independently). `front` is overwritten: pass an empty
 * or uninitialised buffer (what it held is not released). Returns 0, or -EINVAL (NULL b or
 * front, front == b, n above the readable length; nothing changed). n == 0 gives an empty
 * `front`. */
int edo_bytes_split_to(edo_bytes *b, size_t n, edo_bytes *front);
/* Appends `back`'s readable bytes to `b`, and leaves `back` empty (dropped): in O(1) when
 * `back` was split from `b` and nothing was written between them since, by a copy otherwise.
 * Returns 0, -EINVAL (NULL b or back, back == b, the total above EDO_BYTES_MAX) or -ENOMEM
 * (both unchanged). */
int edo_bytes_unsplit(edo_bytes *b, edo_bytes *back);

/* Turns `b`'s readable bytes into a read-only slice without copying, and leaves `b` empty
 * (without an allocation). `out` is overwritten (what it held is not released). Returns 0, or
 * -EINVAL (NULL b or out). */
int edo_bytes_freeze(edo_bytes *b, edo_bytes_slice *out);

/* ---- shared slices ----------------------------------------------------------------------- */

/* Makes `s` an empty slice. NULL: no-op. */
void edo_bytes_slice_init(edo_bytes_slice *s);
/* Releases `s`'s reference (the allocation is freed with its last user) and leaves it empty.
 * NULL: no-op. Thread-safe for distinct slices of one allocation. */
void edo_bytes_slice_drop(edo_bytes_slice *s);
/* Makes a slice holding a copy of `len` bytes from `data` (one allocation). `out` is
 * overwritten. Returns 0, -EINVAL (NULL out, NULL data with len > 0, len above EDO_BYTES_MAX)
 * or -ENOMEM. */
int edo_bytes_slice_copy(const void *data, size_t len, edo_bytes_slice *out);
/* The slice's bytes (NULL when empty) and their count; valid until the slice is dropped. NULL
 * s: NULL and 0. */
static inline const uint8_t *edo_bytes_slice_data(const edo_bytes_slice *s)
{
    return s ? s->ptr_ : NULL;
}
static inline size_t edo_bytes_slice_len(const edo_bytes_slice *s) { return s ? s->len_ : 0; }
/* Another reference to the same bytes, in O(1): `out` is overwritten; both are dropped
 * separately. Returns 0, or -EINVAL (NULL s or out). */
int edo_bytes_slice_clone(const edo_bytes_slice *s, edo_bytes_slice *out);
/* A reference to `len` bytes of `s` from offset `off`, in O(1) (out may be s itself, which it
 * then narrows). Returns 0, or -EINVAL (NULL s or out, off + len past the end of s; out
 * unchanged). */
int edo_bytes_slice_sub(const edo_bytes_slice *s, size_t off, size_t len, edo_bytes_slice *out);

#ifdef __cplusplus
}
#endif

#endif /* EDO_BYTES_H */
