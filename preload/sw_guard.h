/* sw_guard.h: the per-thread "do not trace" flag.
 *
 * Set while our own code runs (init, bookkeeping inside a hook, the whole
 * life of the reporter thread), so that libc calls made by us, or by a
 * signal handler that interrupts our bookkeeping, pass straight through.
 * initial-exec TLS: reading it never calls __tls_get_addr, so it never
 * allocates (the library is meant to be preloaded, not dlopen()ed). */
#ifndef SW_PRELOAD_SW_GUARD_H
#define SW_PRELOAD_SW_GUARD_H

#include <errno.h>

extern __thread int sw_tls_busy __attribute__((tls_model("initial-exec")));

/* Runs stmt with the guard set and errno preserved (libuv SAVE_ERRNO). */
#define SW_GUARDED(stmt)  \
  do {                    \
    int sw_saved_errno_ = errno; \
    sw_tls_busy++;        \
    stmt;                 \
    sw_tls_busy--;        \
    errno = sw_saved_errno_; \
  } while (0)

#endif
