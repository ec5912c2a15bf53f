/* Registering fds on a runtime (edo/io.h): the runtime's driver does the work (io/driver.c);
 * this is where the public handle leads to it, since the driver knows no runtime. */
#include <errno.h>

#include "core/runtime.h"

int edo_io_register_on(edo_runtime *rt, int fd, edo_io **out)
{
    if (!rt || !out || fd < 0)
        return -EINVAL;
    return edo__io_register(&rt->io, out, fd);
}

int edo_io_register(int fd, edo_io **out)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return out && fd >= 0 ? -EPERM : -EINVAL;
    return edo_io_register_on(rt, fd, out);
}

struct edo__cring *edo__runtime_cring(edo_runtime *rt)
{
    if (!rt)
        return NULL;
    edo__worker *w = edo__worker_current(); /* a ring per worker: see edo__io_cring */
    unsigned slot = w && w->rt == rt ? 1 + w->index % (EDO__IO_CRINGS - 1) : 0;
    return edo__io_cring(&rt->io, slot);
}
