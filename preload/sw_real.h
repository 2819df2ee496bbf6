/* sw_real.h: pointers to the real libc functions behind our hooks.
 *
 * Resolved with dlsym(RTLD_NEXT) by sw_real_init(), which runs at the
 * latest when the process's tables are set up (sw_runtime_ready(), on its
 * first accepted or connected TCP socket), and earlier from the first
 * hook entered while sw_real_is_ready() is 0 (a read of a file during
 * start, or another library's constructor before ours ran). A program
 * that makes no hooked call never pays for it. A hook must therefore
 * check sw_real_is_ready() before using a pointer; after init that check
 * is one acquire load of sw_real_ready. */
#ifndef SW_PRELOAD_SW_REAL_H
#define SW_PRELOAD_SW_REAL_H

#include <stdatomic.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define SW_HOOK(R, N, P, A, F) \
  typedef R(*sw_##N##_fn) P;   \
  extern sw_##N##_fn sw_real_##N;
#include "sw_hooks.def"
#undef SW_HOOK

extern _Atomic int sw_real_ready;

/* Idempotent, thread-safe (pthread_once). */
void sw_real_init(void);

static inline int
sw_real_is_ready(void)
{
  /* Pairs with the release store at the end of resolution: once set, all
   * sw_real_* pointers are visible. */
  return atomic_load_explicit(&sw_real_ready, memory_order_acquire);
}

#endif
