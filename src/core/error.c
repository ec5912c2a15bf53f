/* Error descriptions: edo's own words for the codes edo gives a meaning of its own, the C
 * library's text for every other errno value.
 *
 * strerror() may return a buffer that the next call overwrites (POSIX does not make it
 * thread-safe), so the system's text comes from strerrordesc_np() where glibc has it (2.32 and
 * later: static, thread-safe, untranslated) and otherwise from strerror_r(), copied once per code
 * into a process-wide cache so that every call returns the same string for the same code. */
#include "edo/error.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32)) &&      \
    !defined(EDO_STRERROR_PORTABLE)
#define HAVE_STRERRORDESC_NP 1
#endif

/* Codes that edo returns with a meaning of its own (see error.h). Each text covers the system's
 * meaning too: the same code may come from the operating system. */
static const char *edo_text(int code)
{
    switch (code) {
    case 0: return "Success";
    case EPERM: return "Operation not permitted, or called outside a runtime or coroutine";
    case ECANCELED: return "Operation canceled (the task was aborted)";
    case ESHUTDOWN: return "Shut down (the runtime is shutting down, or the semaphore is closed)";
    case EALREADY: return "Already done (the task's result was taken), or already in progress";
    case EDEADLK: return "Resource deadlock avoided (a blocking wait on a runtime thread)";
    case ETIMEDOUT: return "Timed out (a deadline passed, or the connection timed out)";
    case EPIPE: return "Broken pipe (the other end is closed)";
    case ECHILD: return "Nothing to wait for (no tasks, or no child processes)";
    case ENOENT: return "No such file, directory or host name";
    case EOVERFLOW: return "Value too large, or a broadcast receiver missed messages";
    case EKEYREJECTED: return "Key rejected (a TLS peer's certificate failed verification)";
    case ECONNABORTED:
        return "Connection aborted (a TLS peer closed without close_notify: maybe truncated)";
    default: return NULL;
    }
}

#ifdef HAVE_STRERRORDESC_NP

/* The C library's description of `code` (> 0), or NULL for a code it does not know. */
static const char *system_text(int code) { return strerrordesc_np(code); }

#else

/* strerror_r comes in two shapes: the XSI one returns 0 and fills the buffer, the GNU one (glibc
 * with _GNU_SOURCE) returns the text, which may or may not be in the buffer. */
static const char *xsi_result(int rc, const char *buf) { return rc == 0 ? buf : NULL; }
static const char *gnu_result(const char *text, const char *buf)
{
    (void)buf;
    return text;
}
#define STRERROR_R_TEXT(rc, buf)                                                               \
    _Generic((rc), int: xsi_result, char *: gnu_result, const char *: gnu_result)(rc, buf)

/* Codes at or above this bound have no system text (no libc edo knows defines one). */
#define CACHED_CODES 512
static _Atomic(char *) cache[CACHED_CODES];

static const char *system_text(int code)
{
    if (code >= CACHED_CODES)
        return NULL;
    char *text = atomic_load_explicit(&cache[code], memory_order_acquire);
    if (text)
        return text;
    char buf[256];
    buf[0] = '\0';
    const char *got = STRERROR_R_TEXT(strerror_r(code, buf, sizeof buf), buf);
    if (!got || !got[0])
        return NULL;
    char *copy = strdup(got);
    if (!copy)
        return NULL;
    char *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&cache[code], &expected, copy,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        free(copy); /* another thread filled it first: every caller gets that one */
        return expected;
    }
    return copy;
}

#endif

const char *edo_strerror(int rc)
{
    if (rc == INT_MIN)
        return "Unknown error";
    int code = rc < 0 ? -rc : rc;
    const char *text = edo_text(code);
    if (!text)
        text = system_text(code);
    return text ? text : "Unknown error";
}
