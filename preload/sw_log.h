/* sw_log.h: the agent's own log, "sw[pid]: ..." on stderr.
 *
 * Written with the real write() (or the raw syscall), never stdio, never
 * stdout. Only init and the reporter thread log; hooks never do. */
#ifndef SW_PRELOAD_SW_LOG_H
#define SW_PRELOAD_SW_LOG_H

#include "sw_config.h"

void sw_log_set_level(enum sw_log_level level);
/* The calling thread's messages go to the stderr of the process that
 * pidfd refers to, fetched for each (a thread with an fd table of its
 * own: fdtable.h). */
void sw_log_stderr_from(int pidfd);
int sw_log_enabled(enum sw_log_level level);
void sw_log(enum sw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define SW_DEBUG(...) \
  do { if (sw_log_enabled(SW_LOG_DEBUG)) sw_log(SW_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
