/* trace.h: ids, clocks and the per-thread trace context.
 *
 * All of it is async-signal-safe and allocation-free after sw_trace_init. */
#ifndef SW_PRELOAD_TRACE_H
#define SW_PRELOAD_TRACE_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define SW_TRACE_ID_LEN 32 /* hex characters, like the Python agent's ids */

/* What a thread is serving. inflight counts requests whose head was read
 * on this thread and whose response is not complete yet; an exit made on
 * a thread with exactly one such request joins that request's segment. */
struct sw_thread_ctx {
  _Atomic int32_t inflight;
  /* The last entry started on this thread: connection slot + generation. */
  _Atomic uint32_t entry_slot;
  _Atomic uint32_t entry_gen;
};

/* seed: mixed into the id prefix (pid, time, random bytes). */
void sw_trace_init(uint64_t seed);

/* Writes SW_TRACE_ID_LEN hex characters and a NUL into out. Unique within
 * the process; the prefix is random per process (and per forked child). */
void sw_trace_new_id(char *out);
/* Two of them (a trace id and a segment id) for one atomic increment:
 * the same ids as sw_trace_new_id(a) then sw_trace_new_id(b) made with no
 * other id in between. */
void sw_trace_new_ids(char *a, char *b);

/* Epoch milliseconds (CLOCK_REALTIME, vDSO). Inline: a hook's path calls
 * the vDSO directly. */
static inline int64_t
sw_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pool of contexts and this thread's index in it + 1 (0: none yet),
 * for the inline fast path below. initial-exec: no allocation. */
extern struct sw_thread_ctx sw_thread_ctx_pool[]
    __attribute__((visibility("hidden")));
extern __thread uint32_t sw_tls_ctx
    __attribute__((tls_model("initial-exec"), visibility("hidden")));
struct sw_thread_ctx *sw_thread_ctx_slow(void);

/* This thread's context, or NULL when the preallocated pool is exhausted
 * (then exits made on this thread get their own segments). */
static inline struct sw_thread_ctx *
sw_thread_ctx(void)
{
  uint32_t i = sw_tls_ctx;
  if (__builtin_expect(i != 0, 1))
    return &sw_thread_ctx_pool[i - 1];
  return sw_thread_ctx_slow();
}

/* Forked child: all other threads are gone; forget their contexts. */
void sw_trace_atfork_child(uint64_t seed);

#endif
