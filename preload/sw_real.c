/* sw_real.c: resolution of the real libc functions (proxychains' load_sym,
 * libfaketime's tolerance of early callers). */
#include "sw_common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "sw_guard.h"
#include "sw_real.h"

#define SW_HOOK(R, N, P, A, F) sw_##N##_fn sw_real_##N;
#include "sw_hooks.def"
#undef SW_HOOK

_Atomic int sw_real_ready;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/* Our own definitions, to detect dlsym() handing us back our wrapper,
 * which would recurse forever (proxychains aborts the same way). */
#define SW_HOOK(R, N, P, A, F) extern R N P;
#include "sw_hooks.def"
#undef SW_HOOK

static void
resolve(void)
{
  /* dlsym may allocate or take loader locks; the guard sends any hook it
   * re-enters straight to the raw system call. */
  sw_tls_busy++;
#define SW_HOOK(R, N, P, A, F)                                     \
  do {                                                             \
    void *p = dlsym(RTLD_NEXT, #N);                                \
    if (p == (void *)&N)                                           \
      abort();                                                     \
    sw_real_##N = (sw_##N##_fn)p;                                  \
  } while (0);
#include "sw_hooks.def"
#undef SW_HOOK
  sw_tls_busy--;
  /* Pairs with the acquire load in sw_real_is_ready(). */
  atomic_store_explicit(&sw_real_ready, 1, memory_order_release);
}

void
sw_real_init(void)
{
  pthread_once(&real_once, resolve);
}
