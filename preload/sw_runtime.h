/* sw_runtime.h: process-wide state of the preloaded agent. */
#ifndef SW_PRELOAD_SW_RUNTIME_H
#define SW_PRELOAD_SW_RUNTIME_H

#include <stdatomic.h>

#include "sw_config.h"

/* Read-only after the constructor (rewritten only in a forked child). */
extern const struct sw_config *sw_cfg;
/* 0 until the constructor has set everything up; stays 0 when disabled
 * or excluded, so that every hook passes straight through. */
extern _Atomic int sw_active;

/* reporter_thread.c */
int sw_reporter_setup(const struct sw_config *cfg, const char *libdir,
                      const char *hostname);
void sw_reporter_flush_at_exit(void);
void sw_reporter_atfork_child(void);

#endif
