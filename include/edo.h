/* edo.h — the umbrella header: include this to use edo.
 *
 * edo is an async runtime for C11: a work-stealing scheduler that runs tasks (stackful
 * coroutines and stackless futures), a blocking pool, and the building blocks for network
 * programs. Start with edo/runtime.h (building a runtime), edo/coro.h (coroutines: straight-line
 * code), edo/task.h (spawning and joining) and edo/future.h (writing futures), edo/time.h
 * (sleeps, timeouts, deadlines). docs/ARCHITECTURE.md explains how the pieces fit.
 *
 * Naming: one word for each idea, everywhere.
 *  - Parameters: the object acted on first, then the inputs, then the out-parameters last, for
 *    constructors too: edo_semaphore_new(permits, &s), edo_tcp_connect("host:80", &c),
 *    edo_spawn(fn, arg, &task), edo_task_join(task, &out). An out buffer goes with its length
 *    (edo_resolve(name, addrs, max)).
 *  - Predicates (questions that cannot fail) return bool and read as questions: `_is_`, `_has_`,
 *    `in_`, `will_` (edo_task_is_finished, edo_in_coroutine); a NULL argument answers false.
 *    A question with a third answer returns int 1, 0 or a negative errno, as every call that
 *    can fail (edo_watch_has_changed: -EPIPE once the sender closed).
 *  - Time: a function takes a duration (nanoseconds from now); the twin that takes an instant
 *    (edo_instant) ends in `_at`, whether it waits until then or places something there
 *    (edo_sleep / edo_sleep_at, edo_timeout / edo_timeout_at); see edo/time.h.
 *  - Spawning: every call that starts a task begins with `edo_spawn`, then what it runs
 *    (nothing: a coroutine; `_future`; `_blocking`: the blocking pool), then how: `_on` a given
 *    runtime (as Tokio's Builder::spawn_on; edo_io_register_on), `_with` options (and a runtime,
 *    NULL: the current one), `_local` pinned to the calling worker. A join set's are
 *    edo_join_set_spawn and edo_join_set_spawn_future.
 *  - Futures: the future form of a call is the type `<call>_future`, prepared by
 *    `<call>_future_init` (edo_notify_wait: edo_notify_wait_future, edo_rwlock_read_lock:
 *    edo_rwlock_read_lock_future_init); a future that waits for something else is named for it
 *    (edo_sleep_future, edo_timeout_future, edo_once_cell_future). Released with
 *    edo_future_drop.
 *  - Lifetimes: what edo allocates is made by `_new` and released by `_free` (`_ref` / `_unref`
 *    for a shared handle); a caller-owned struct is prepared by `_init` and released by `_drop`
 *    (futures, wakers, edo_interval, edo_io_waiter); `_close` ends a socket, one side of a
 *    channel, or a semaphore's acquires; `_register` / `_deregister` an fd with the reactor.
 *  - One name for one thing: an object's functions share its prefix (edo_cancel_token_cancel);
 *    a socket's own address is `_local_addr`, its peer's `_peer_addr`, listeners included.
 *  - `_try_` before the verb: never waits, -EAGAIN where it would (edo_chan_try_recv); the one
 *    other use is Tokio's: edo_try_join ends at the first failure. `_blocking` after the verb:
 *    parks the calling plain thread (edo_chan_recv_blocking); edo_spawn_blocking runs fn on the
 *    blocking pool.
 */
#ifndef EDO_H
#define EDO_H

#define EDO_VERSION_MAJOR 0
#define EDO_VERSION_MINOR 1
#define EDO_VERSION_PATCH 0
#define EDO_VERSION_STRING "0.1.0"

#include "edo/error.h"
#include "edo/future.h"
#include "edo/task.h"
#include "edo/coro.h"
#include "edo/runtime.h"
#include "edo/time.h"
#include "edo/io.h"
#include "edo/net.h"
#include "edo/sync.h"
#include "edo/stream.h"
#include "edo/duplex.h"
#include "edo/fd_stream.h"
#include "edo/fs.h"
#include "edo/bytes.h"
#include "edo/stream_util.h"
#include "edo/buffered.h"
#include "edo/process.h"
#include "edo/signal.h"
#include "edo/tls.h"
#include "edo/codec.h"
#include "edo/resp.h"

#endif /* EDO_H */
