/* sw_log.c: the agent's own stderr log. */
#include "sw_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sw_log.h"

static enum sw_log_level log_level = SW_LOG_WARNING;

void
sw_log_set_level(enum sw_log_level level)
{
  log_level = level;
}

int
sw_log_enabled(enum sw_log_level level)
{
  return level >= log_level && level != SW_LOG_OFF;
}

void
sw_log(enum sw_log_level level, const char *fmt, ...)
{
  static const char *names[] = {"debug", "info", "warning", "error", ""};
  char buf[1024];
  if (!sw_log_enabled(level))
    return;
  int n = snprintf(buf, sizeof(buf), "sw[%d]: %s: ", (int)getpid(),
                   names[level]);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof(buf))
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof(buf) - 1)
    n = sizeof(buf) - 2;
  buf[n++] = '\n';
  /* Raw syscall: never re-enters our write() hook, never touches stdio. */
  ssize_t off = 0;
  while (off < n) {
    ssize_t w = syscall(SYS_write, 2, buf + off, (size_t)(n - off));
    if (w <= 0)
      break;
    off += w;
  }
}
