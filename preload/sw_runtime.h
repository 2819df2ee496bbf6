/* sw_runtime.h: process-wide state of the preloaded agent. */
#ifndef SW_PRELOAD_SW_RUNTIME_H
#define SW_PRELOAD_SW_RUNTIME_H

#include <stdatomic.h>

#include "sw_config.h"

/* Read-only after the constructor (rewritten only in a forked child). */
extern const struct sw_config *sw_cfg;
/* 0 until the constructor has read the configuration; stays 0 when
 * disabled or excluded, so that every hook passes straight through. */
extern _Atomic int sw_active;

/* The tables (ids, fd map and slots, ring) are set up on first need, not
 * in the constructor: see sw_init.c. */
enum {
  SW_SETUP_NONE = 0,    /* not yet */
  SW_SETUP_RUNNING = 1, /* a thread is at it */
  SW_SETUP_READY = 2,
  SW_SETUP_FAILED = 3, /* not traced after all (sw_active is 0 too) */
};
extern _Atomic int sw_setup_state;

/* Sets the tables up (the first caller; others wait for it, briefly) and
 * returns 1 when they are there, 0 when this connection is not to be
 * tracked. Async-signal-safe: the claim is a CAS on sw_setup_state, the
 * work system calls; a caller that finds the set-up running on another
 * thread waits a bounded time; one running on this thread (a signal
 * handler) is never met, the guard being set. errno is preserved. */
int sw_runtime_setup(void);

/* Call before anything that may start tracing (track a connection, open
 * a libcurl exit): one acquire load once set up. */
static inline int
sw_runtime_ready(void)
{
  return __builtin_expect(atomic_load_explicit(&sw_setup_state,
                                               memory_order_acquire) ==
                              SW_SETUP_READY,
                          1) ||
         sw_runtime_setup();
}

/* reporter_thread.c */
int sw_reporter_setup(const struct sw_config *cfg, const char *libdir,
                      const char *hostname);
void sw_reporter_flush_at_exit(void);
void sw_reporter_atfork_child(void);

#endif
