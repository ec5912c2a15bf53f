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

/* A static, human-readable description of `rc` (a negative errno value, or 0 for success).
 * Never NULL; unknown codes give "unknown error". Thread-safe. */
const char *edo_strerror(int rc);

#ifdef __cplusplus
}
#endif

#endif /* EDO_ERROR_H */
