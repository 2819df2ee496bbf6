/* sw_log.c: the agent's own stderr log. */
#include "sw_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sw_log.h"

static enum sw_log_level log_level = SW_LOG_WARNING;
/* A thread whose fd table is its own (fdtable.h) writes to the process's
 * stderr, fetched for each message through this pidfd. */
static __thread int stderr_via
    __attribute__((tls_model("initial-exec"))) = -1;

void
sw_log_stderr_from(int pidfd)
{
  stderr_via = pidfd;
}

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
  int fd = 2, fetched = 0;
#ifdef SYS_pidfd_getfd
  if (stderr_via >= 0) {
    if ((fd = (int)syscall(SYS_pidfd_getfd, stderr_via, 2, 0)) < 0)
      return;
    fetched = 1;
  }
#endif
  /* Raw syscalls: never re-enter our write() hook, never touch stdio. */
  ssize_t off = 0;
  while (off < n) {
    ssize_t w = syscall(SYS_write, fd, buf + off, (size_t)(n - off));
    if (w <= 0)
      break;
    off += w;
  }
  if (fetched)
    syscall(SYS_close, fd);
}
