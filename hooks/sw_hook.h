/* sw_hook.h: the shape every hook follows (STYLE: init, guard check, real
 * call, save errno, bounded bookkeeping, restore errno, return the real
 * result unchanged). */
#ifndef SW_HOOKS_SW_HOOK_H
#define SW_HOOKS_SW_HOOK_H

#undef _FORTIFY_SOURCE

#include <stdatomic.h>

#include "conn.h"
#include "sw_guard.h"
#include "sw_real.h"
#include "sw_runtime.h"

/* The common case of every I/O hook: a file, pipe or eventfd (any fd
 * that is not a tracked connection) once init is done. One acquire load,
 * a bounds check and one load, then a tail call to the real function: no
 * frame, no errno saving. Inactive processes have an empty map, so they
 * take this path too. */
#define SW_HOOK_FAST(name, fd, args)                                     \
  do {                                                                   \
    if (SW_LIKELY(sw_real_is_ready() && !sw_conn_tracked(fd)))           \
      return sw_real_##name args;                                        \
  } while (0)

/* Pass straight through unless this call is to be watched: before the
 * real table exists (raw syscall `fallback`), inside our own code (guard),
 * or when the process is not traced. After init: two loads and a test. */
#define SW_HOOK_ENTER(name, args, fallback)                              \
  do {                                                                   \
    if (SW_UNLIKELY(!sw_real_is_ready())) {                              \
      if (sw_tls_busy)                                                   \
        return (fallback);                                               \
      sw_real_init();                                                    \
    }                                                                    \
    if (sw_tls_busy ||                                                   \
        !atomic_load_explicit(&sw_active, memory_order_relaxed))         \
      return sw_real_##name args;                                        \
  } while (0)

#endif
