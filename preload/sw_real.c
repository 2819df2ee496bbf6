/* sw_real.c: resolution of the real libc functions (proxychains' load_sym,
 * libfaketime's tolerance of early callers). */
#include "sw_common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "sw_guard.h"
#include "sw_real.h"

/* Written once, by the constructor of a traced process or by the first
 * hook: kept in .data, whose page the loader has already written
 * (relocations), rather than in a .bss page of their own that this write
 * would fault in. */
#define SW_LOADER_DIRTY __attribute__((section(".data")))

#define SW_HOOK(R, N, P, A, F) sw_##N##_fn sw_real_##N SW_LOADER_DIRTY;
#include "sw_hooks.def"
#undef SW_HOOK

_Atomic int sw_real_ready SW_LOADER_DIRTY;
static pthread_once_t real_once SW_LOADER_DIRTY = PTHREAD_ONCE_INIT;

/* Our own definitions, to detect dlsym() handing us back our wrapper,
 * which would recurse forever (proxychains aborts the same way). */
#define SW_HOOK(R, N, P, A, F) extern R N P;
#include "sw_hooks.def"
#undef SW_HOOK

static void
resolve(void)
{
#define SW_HOOK(R, N, P, A, F)                                     \
  do {                                                             \
    void *p = dlsym(RTLD_NEXT, #N);                                \
    if (p == (void *)&N)                                           \
      abort();                                                     \
    sw_real_##N = (sw_##N##_fn)p;                                  \
  } while (0);
#include "sw_hooks.def"
#undef SW_HOOK
  /* Pairs with the acquire load in sw_real_is_ready(). */
  atomic_store_explicit(&sw_real_ready, 1, memory_order_release);
}

void
sw_real_init(void)
{
  /* dlsym may allocate or take loader locks; the guard sends any hook it
   * re-enters straight to the raw system call. Set before pthread_once:
   * a signal handler that interrupts this thread before resolve() runs
   * must not wait in pthread_once for the thread it interrupted. */
  sw_tls_busy++;
  pthread_once(&real_once, resolve);
  sw_tls_busy--;
}
