/* trace.h: ids, clocks and the per-thread trace context.
 *
 * All of it is async-signal-safe and allocation-free after sw_trace_init. */
#ifndef SW_PRELOAD_TRACE_H
#define SW_PRELOAD_TRACE_H

#include <stdatomic.h>
#include <stdint.h>

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

/* Epoch milliseconds (CLOCK_REALTIME, vDSO). */
int64_t sw_now_ms(void);

/* This thread's context, or NULL when the preallocated pool is exhausted
 * (then exits made on this thread get their own segments). */
struct sw_thread_ctx *sw_thread_ctx(void);

/* Forked child: all other threads are gone; forget their contexts. */
void sw_trace_atfork_child(uint64_t seed);

#endif
