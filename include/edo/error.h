/* edo/error.h — error codes.
 *
 * Every edo function that can fail returns a negative errno value (-EINVAL, -ECANCELED, ...);
 * zero or a positive value means success. edo never reports errors through `errno`, which is a
 * thread-local and so unreliable in code that may move between threads.
 */
#ifndef EDO_ERROR_H
#define EDO_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Platforms whose <errno.h> lacks these get edo's own values (outside the range of real ones). */
#ifndef ESHUTDOWN
#define ESHUTDOWN 10058
#endif
#ifndef ECANCELED
#define ECANCELED 10059
#endif

/* A human-readable description of the error code `rc`: a negative errno value as edo returns
 * it (-ECONNREFUSED), or a positive one as found in `errno` (ECONNREFUSED) — the sign is
 * ignored. 0 gives "Success".
 *
 * Every errno value gets the C library's text ("Connection refused"), except the codes to which
 * edo gives a meaning of its own; their texts name both meanings, since the same code may also
 * come from the operating system:
 *   -EPERM      called outside a runtime, or outside a coroutine, where the function needs one
 *               (a programming error: Tokio panics here); the OS returns it too, e.g. for a
 *               connect or send refused by a firewall rule. To tell them apart, check
 *               edo_runtime_current() / edo_in_coroutine() where you called;
 *   -ECANCELED  the task was aborted;
 *   -ESHUTDOWN  the runtime is shutting down, or the semaphore was closed;
 *   -EALREADY   the task's result was already taken;
 *   -EDEADLK    a blocking wait (edo_block_on, edo_task_join, *_blocking) on a runtime thread;
 *   -ETIMEDOUT  a deadline or timeout passed (also: a connection timed out);
 *   -EPIPE      the other end (of a channel or socket) is closed;
 *   -ECHILD     nothing to wait for (an empty join set);
 *   -ENOENT     no such host name (also: no such file or directory);
 *   -EOVERFLOW  a broadcast receiver fell behind and missed messages;
 *   -EKEYREJECTED  a TLS peer's certificate failed verification (edo/tls.h);
 *   -ECONNABORTED  a TLS peer closed the connection without close_notify (also: the local
 *               system aborted a connection).
 * A code the C library does not know (and INT_MIN) gives "Unknown error".
 *
 * The string is static: never NULL, never to be freed, and the same for the same code on every
 * call and thread (so two may be printed side by side). Never suspends; thread-safe (unlike
 * strerror()). */
const char *edo_strerror(int rc);

#ifdef __cplusplus
}
#endif

#endif /* EDO_ERROR_H */
