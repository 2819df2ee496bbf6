/* sw_hook.h: the shape every hook follows (STYLE: init, guard check, real
 * call, save errno, bounded bookkeeping, restore errno, return the real
 * result unchanged). */
#ifndef SW_HOOKS_SW_HOOK_H
#define SW_HOOKS_SW_HOOK_H

#undef _FORTIFY_SOURCE

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "conn.h"
#include "sw_common.h"
#include "sw_guard.h"
#include "sw_real.h"
#include "sw_runtime.h"

/* Every variable the hooks' fast paths read is defined in this library
 * (hidden, -fvisibility=hidden). Saying so in the declaration lets the
 * compiler load each one with a single RIP-relative instruction instead
 * of a GOT load and then the load (the linker can only relax the first of
 * the two into a lea). A later declaration adds the attribute to the
 * earlier one, also for the inline functions of the headers above. */
#define SW_HOOK(R, N, P, A, F) extern sw_##N##_fn sw_real_##N SW_HIDDEN;
#include "sw_hooks.def"
#undef SW_HOOK
extern _Atomic int sw_real_ready SW_HIDDEN;
extern _Atomic int sw_active SW_HIDDEN;
extern _Atomic uint32_t *sw_conn_map SW_HIDDEN;
extern _Atomic uint32_t sw_conn_map_len SW_HIDDEN;
extern _Atomic int sw_setup_state SW_HIDDEN;

/* Runs stmt with the guard set, for the calls of conn.c that leave errno
 * as they found it (conn.h): no errno save. The others: SW_GUARDED. */
#define SW_BUSY(stmt) \
  do {                \
    sw_tls_busy++;    \
    stmt;             \
    sw_tls_busy--;    \
  } while (0)

/* sw_fallback_<name>(params): the raw system call of sw_hooks.def, for a
 * hook entered before the real table exists (another library's
 * constructor, or dlsym() re-entering us during our own init). */
#define SW_HOOK(R, N, P, A, F)          \
  static inline R sw_fallback_##N P     \
  {                                     \
    return (R)(F);                      \
  }
#include "sw_hooks.def"
#undef SW_HOOK

/* sw_real_init() from a hook: the first call resolves the table (dlsym
 * may leave errno changed), and the caller's errno is what the real
 * function must see and, when it succeeds, leave. */
#define SW_HOOK_INIT()                                                   \
  do {                                                                   \
    int sw_init_errno_ = errno;                                          \
    sw_real_init();                                                      \
    errno = sw_init_errno_;                                              \
  } while (0)

/* Pass straight through unless this call is to be watched: before the
 * real table exists (the raw system call of sw_hooks.def), inside our own
 * code (guard), or when the process is not traced. After init: two loads
 * and a test. For the hooks that always have bookkeeping to do in a
 * traced process (socket, connect, accept, accept4). */
#define SW_HOOK_ENTER(name, args)                                        \
  do {                                                                   \
    if (SW_UNLIKELY(!sw_real_is_ready())) {                              \
      if (sw_tls_busy)                                                   \
        return sw_fallback_##name args;                                  \
      SW_HOOK_INIT();                                                    \
    }                                                                    \
    if (sw_tls_busy ||                                                   \
        !atomic_load_explicit(&sw_active, memory_order_relaxed))         \
      return sw_real_##name args;                                        \
  } while (0)

/* First line of a _tracked body (below): our own code (guard) and a
 * process that is not traced pass through. Init is done there. */
#define SW_HOOK_PASS(name, args)                                         \
  do {                                                                   \
    if (SW_UNLIKELY(sw_tls_busy ||                                       \
                    !atomic_load_explicit(&sw_active,                    \
                                          memory_order_relaxed)))        \
      return sw_real_##name args;                                        \
  } while (0)

/* An fd-based hook (read, write, send*, recv*, sendfile*, close):
 *
 *   SW_FD_HOOK(ssize_t, write, (int fd, const void *b, size_t n),
 *              (fd, b, n), fd)
 *   {
 *     SW_HOOK_PASS(write, (fd, b, n));
 *     ... the bookkeeping of a tracked connection ...
 *   }
 *
 * defines the exported `write` and makes the block that follows the body
 * of `static write_tracked()`, entered only once the real table is ready
 * and when the fd was found tracked.
 *
 * The common case of every I/O hook is a file, pipe or eventfd (any fd
 * that is not a tracked connection) once init is done: one acquire load,
 * a bounds check and one load of the fd map, then a tail call to the real
 * function. The exported function keeps no frame and saves no register:
 * the tracked work is a noinline function it jumps to, and the
 * not-ready path (init, or the raw system call while init runs) a cold
 * one. Inactive processes have an empty map, so they take the fast path
 * too. The guard is not looked at for an untracked fd: the real function
 * is what either way runs. */
#define SW_FD_HOOK(R, N, P, A, FD)                                       \
  static R N##_tracked P;                                                \
  static SW_COLD R N##_cold P                                            \
  {                                                                      \
    if (!sw_real_is_ready()) {                                           \
      if (sw_tls_busy)                                                   \
        return sw_fallback_##N A;                                        \
      SW_HOOK_INIT();                                                    \
    }                                                                    \
    if (!sw_conn_tracked(FD))                                            \
      return sw_real_##N A;                                              \
    return N##_tracked A;                                                \
  }                                                                      \
  SW_EXPORT R N P                                                        \
  {                                                                      \
    if (SW_LIKELY(sw_real_is_ready())) {                                 \
      if (SW_LIKELY(!sw_conn_tracked(FD)))                               \
        return sw_real_##N A;                                            \
      return N##_tracked A;                                              \
    }                                                                    \
    return N##_cold A;                                                   \
  }                                                                      \
  static SW_NOINLINE R N##_tracked P

/* A hook with no bookkeeping at all (shutdown): a tail call once init is
 * done, whatever the fd, the guard or the process. */
#define SW_PASS_HOOK(R, N, P, A)                                         \
  static SW_COLD R N##_cold P                                            \
  {                                                                      \
    if (!sw_real_is_ready()) {                                           \
      if (sw_tls_busy)                                                   \
        return sw_fallback_##N A;                                        \
      SW_HOOK_INIT();                                                    \
    }                                                                    \
    return sw_real_##N A;                                                \
  }                                                                      \
  SW_EXPORT R N P                                                        \
  {                                                                      \
    if (SW_LIKELY(sw_real_is_ready()))                                   \
      return sw_real_##N A;                                              \
    return N##_cold A;                                                   \
  }

#endif
