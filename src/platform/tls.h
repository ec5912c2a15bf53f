/* The thread-locals on the scheduling paths (the current coroutine, task, worker and runtime)
 * use the initial-exec model. The library is position-independent, so otherwise every access
 * is a call to __tls_get_addr (which also makes the calling function save registers around it);
 * initial-exec is one %fs-relative access, through a GOT slot in the shared library. They are a
 * few words in all: glibc keeps static TLS space for such variables of libraries loaded later
 * with dlopen. Larger thread-locals (the allocator's caches) keep the default model. */
#ifndef EDO_PLATFORM_TLS_H
#define EDO_PLATFORM_TLS_H

#define EDO__TLS_HOT __attribute__((tls_model("initial-exec")))

#endif
