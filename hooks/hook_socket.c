/* hook_socket.c: connection life cycle.
 *
 * Hooked: socket, connect, accept, accept4, close, shutdown.
 * All are async-signal-safe after init (atomics on preallocated memory,
 * raw getpeername/getsockopt syscalls) and preserve errno: the real call's
 * result and errno are what the caller sees. An accepted connection or an
 * AF_INET/AF_INET6 connect() is what first needs the tables: they are set
 * up there (sw_runtime_ready()). close() of an fd that is not
 * a tracked connection (every file an application closes) and shutdown()
 * are a tail call to the real function (SW_FD_HOOK, SW_PASS_HOOK). */
#include "sw_common.h"

#include <errno.h>

#include "sw_hook.h"

SW_EXPORT int
socket(int d, int t, int p)
{
  SW_HOOK_ENTER(socket, (d, t, p));
  int r = sw_real_socket(d, t, p);
  /* A number we still map was closed behind our back (close_range, dup2,
   * libc-internal close): forget it before it carries new traffic. */
  if (r >= 0 && SW_UNLIKELY(sw_conn_tracked(r)))
    SW_BUSY(sw_conn_on_close(r));
  return r;
}

SW_EXPORT int
connect(int fd, const struct sockaddr *a, socklen_t l)
{
  SW_HOOK_ENTER(connect, (fd, a, l));
  int r = sw_real_connect(fd, a, l);
  if ((r == 0 || errno == EINPROGRESS) && sw_conn_inet(a, l) &&
      sw_runtime_ready())
    SW_GUARDED(sw_conn_on_connect(fd, a, l));
  return r;
}

static int
on_accepted(int r, struct sockaddr *a, socklen_t *l, socklen_t given)
{
  if (r >= 0 && sw_runtime_ready()) {
    /* The kernel truncates the address to the buffer given but reports
     * the full length: trust only what fits. */
    socklen_t got = (a && l) ? (*l < given ? *l : given) : 0;
    SW_GUARDED(sw_conn_on_accept(r, a && l ? a : NULL, got));
  }
  return r;
}

SW_EXPORT int
accept(int fd, struct sockaddr *a, socklen_t *l)
{
  SW_HOOK_ENTER(accept, (fd, a, l));
  socklen_t given = l ? *l : 0;
  return on_accepted(sw_real_accept(fd, a, l), a, l, given);
}

SW_EXPORT int
accept4(int fd, struct sockaddr *a, socklen_t *l, int f)
{
  SW_HOOK_ENTER(accept4, (fd, a, l, f));
  socklen_t given = l ? *l : 0;
  return on_accepted(sw_real_accept4(fd, a, l, f), a, l, given);
}

SW_FD_HOOK(int, close, (int fd), (fd), fd)
{
  SW_HOOK_PASS(close, (fd));
  /* Forget the fd before the kernel can hand its number to someone else. */
  SW_BUSY(sw_conn_on_close(fd));
  return sw_real_close(fd);
}

/* Nothing to record: the response or request still completes through the
 * parsers, and close() releases the connection. */
SW_PASS_HOOK(int, shutdown, (int fd, int how), (fd, how))
