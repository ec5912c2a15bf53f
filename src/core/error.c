/* Error descriptions. strerror() is not guaranteed thread-safe and knows nothing of edo's own
 * fallback codes, so edo keeps a small table of the codes its API documents. */
#include "edo/error.h"

#include <string.h>

const char *edo_strerror(int rc)
{
    switch (-rc) {
    case 0: return "success";
    case EINVAL: return "invalid argument";
    case ENOMEM: return "out of memory";
    case EAGAIN: return "resource temporarily unavailable";
    case EPERM: return "not inside a runtime";
    case ECANCELED: return "operation canceled";
    case ESHUTDOWN: return "runtime is shutting down";
    case EALREADY: return "result already taken";
    case EDEADLK: return "would deadlock: blocking call inside a runtime";
    case ETIMEDOUT: return "timed out";
    default: return "unknown error";
    }
}
