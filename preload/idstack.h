/* idstack.h: a lock-free LIFO of small indices (Treiber stack), for the
 * free lists of preallocated pools (connection slots, thread contexts).
 *
 * The head packs index + 1 (low 32 bits, 0 = empty) with a tag bumped on
 * every pop (high 32 bits), so a stale head never passes the CAS (ABA).
 * link[i] holds the index + 1 below i. Async-signal-safe: atomics only. */
#ifndef SW_PRELOAD_IDSTACK_H
#define SW_PRELOAD_IDSTACK_H

#include <stdatomic.h>
#include <stdint.h>

static inline void
sw_idstack_push(_Atomic uint64_t *head, _Atomic uint32_t *link, uint32_t i)
{
  uint64_t old = atomic_load_explicit(head, memory_order_relaxed);
  for (;;) {
    atomic_store_explicit(&link[i], (uint32_t)old, memory_order_relaxed);
    uint64_t nw = (old & 0xffffffff00000000ULL) | (i + 1);
    /* Release: what the pusher wrote to the item (and link[i]) is visible
     * to the next popper, whose acquire CAS pairs with this one. */
    if (atomic_compare_exchange_weak_explicit(head, &old, nw,
                                              memory_order_release,
                                              memory_order_relaxed))
      return;
  }
}

/* The index popped, or -1 when the stack is empty. */
static inline int64_t
sw_idstack_pop(_Atomic uint64_t *head, _Atomic uint32_t *link)
{
  uint64_t old = atomic_load_explicit(head, memory_order_acquire);
  for (;;) {
    uint32_t top = (uint32_t)old;
    if (top == 0)
      return -1;
    uint32_t next = atomic_load_explicit(&link[top - 1],
                                         memory_order_relaxed);
    uint64_t nw = ((old >> 32) + 1) << 32 | next;
    if (atomic_compare_exchange_weak_explicit(head, &old, nw,
                                              memory_order_acquire,
                                              memory_order_acquire))
      return top - 1;
  }
}

#endif
