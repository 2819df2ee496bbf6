/* sw_futex.h: a process-private futex call on a 32-bit atomic word, for
 * the reporter thread's sleeps and wake-ups and the fd-table hand-over.
 * A raw system call: async-signal-safe, never enters a hook. */
#ifndef SW_PRELOAD_SW_FUTEX_H
#define SW_PRELOAD_SW_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline long
sw_futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
  return syscall(SYS_futex, (uint32_t *)w, op | FUTEX_PRIVATE_FLAG, val, ts,
                 NULL, 0);
}

#endif
