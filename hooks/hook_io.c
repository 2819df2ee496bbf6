/* hook_io.c: bytes in and out of tracked connections.
 *
 * Hooked: read, write, readv, writev, recv, send, recvfrom, sendto,
 * recvmsg, sendmsg, sendfile, sendfile64, and the _FORTIFY_SOURCE entry
 * points __read_chk, __recv_chk, __recvfrom_chk.
 * Any fd that is not a tracked connection (files, pipes, eventfds) costs
 * one bounds check and one relaxed load of the fd map, then a tail call
 * to the real function (SW_FD_HOOK). The fd map is looked at once, before
 * the real call: the bookkeeping functions of conn.c look the fd up again
 * under the connection's lock, so an fd closed meanwhile by another
 * thread is ignored there. Bookkeeping is async-signal-safe and runs with
 * the guard set; it leaves errno as it found it (conn.h), so the caller
 * always gets the real result and errno.
 * MSG_PEEK reads are not fed to the parser (the bytes will be read
 * again). */
#include "sw_common.h"

#include <errno.h>
#include <stdint.h>

#include "inject.h"

#include "sw_hook.h"

/* r: what the real receive returned on a tracked fd. */
static inline ssize_t
after_recv(int fd, const void *b, ssize_t r)
{
  if (r > 0)
    SW_BUSY(sw_conn_on_recv(fd, b, (size_t)r));
  else if (r == 0)
    SW_BUSY(sw_conn_on_eof(fd));
  return r;
}

static inline ssize_t
after_recv_iov(int fd, const struct iovec *v, int c, ssize_t r)
{
  if (r > 0)
    SW_BUSY(sw_conn_on_recv_iov(fd, v, c, (size_t)r));
  else if (r == 0)
    SW_BUSY(sw_conn_on_eof(fd));
  return r;
}

/* r: what the real send returned on a tracked fd. */
static inline ssize_t
after_send(int fd, const void *b, ssize_t r)
{
  if (r > 0)
    SW_BUSY(sw_conn_on_send(fd, b, (size_t)r));
  return r;
}

/* Sends iov through the sw8 injector when the connection wants it.
 * Returns -2 when it does not (the caller sends normally); otherwise the
 * count of the application's bytes the kernel took, or -1 with the
 * kernel's errno. When only bytes of our line went out, it tries again:
 * a blocking socket blocks as the application's own call would, a
 * non-blocking one reports EAGAIN with none of the application's bytes
 * taken, which is exactly true. */
static ssize_t
send_injected(int fd, const struct iovec *iov, int cnt, int flags, int msg)
{
  struct iovec out[SW_INJECT_MAX_IOV + 2];
  size_t n = 0;
  for (int i = 0; i < cnt; i++)
    n += iov[i].iov_len;
  for (;;) {
    int nout = 0, want = 0;
    size_t before = 0, rest = 0;
    SW_BUSY(want = sw_conn_send_prepare(fd, iov, cnt, n, out, &nout,
                                           &before, &rest));
    if (!want)
      return -2; /* (again) a plain send: none of the app's bytes went yet */
    ssize_t k;
    if (msg) {
      struct msghdr m = {0};
      m.msg_iov = out;
      m.msg_iovlen = (size_t)nout;
      k = sw_real_sendmsg(fd, &m, flags);
    } else {
      k = sw_real_writev(fd, out, nout);
    }
    if (k < 0)
      return k;
    size_t app = sw_inject_app_bytes(before, rest, (size_t)k);
    SW_BUSY(sw_conn_send_done(fd, iov, cnt, before, (size_t)k));
    if (app > 0 || n == 0)
      return (ssize_t)app;
  }
}

/* One buffer on a client connection: maybe with an sw8 line. */
static ssize_t
send_injected1(int fd, const void *b, size_t n, int flags, int msg)
{
  struct iovec v = {(void *)b, n};
  return send_injected(fd, &v, 1, flags, msg);
}

SW_FD_HOOK(ssize_t, read, (int fd, void *b, size_t n), (fd, b, n), fd)
{
  SW_HOOK_PASS(read, (fd, b, n));
  return after_recv(fd, b, sw_real_read(fd, b, n));
}

SW_FD_HOOK(ssize_t, __read_chk, (int fd, void *b, size_t n, size_t bl),
           (fd, b, n, bl), fd)
{
  SW_HOOK_PASS(__read_chk, (fd, b, n, bl));
  return after_recv(fd, b, sw_real___read_chk(fd, b, n, bl));
}

SW_FD_HOOK(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n), fd)
{
  SW_HOOK_PASS(write, (fd, b, n));
  if (sw_conn_is_client(fd)) {
    ssize_t r = send_injected1(fd, b, n, 0, 0);
    if (r != -2)
      return r;
  }
  return after_send(fd, b, sw_real_write(fd, b, n));
}

SW_FD_HOOK(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f),
           fd)
{
  SW_HOOK_PASS(recv, (fd, b, n, f));
  ssize_t r = sw_real_recv(fd, b, n, f);
  if (f & MSG_PEEK)
    return r;
  return after_recv(fd, b, r);
}

SW_FD_HOOK(ssize_t, __recv_chk, (int fd, void *b, size_t n, size_t bl, int f),
           (fd, b, n, bl, f), fd)
{
  SW_HOOK_PASS(__recv_chk, (fd, b, n, bl, f));
  ssize_t r = sw_real___recv_chk(fd, b, n, bl, f);
  if (f & MSG_PEEK)
    return r;
  return after_recv(fd, b, r);
}

SW_FD_HOOK(ssize_t, send, (int fd, const void *b, size_t n, int f),
           (fd, b, n, f), fd)
{
  SW_HOOK_PASS(send, (fd, b, n, f));
  if (sw_conn_is_client(fd)) {
    ssize_t r = send_injected1(fd, b, n, f, 1);
    if (r != -2)
      return r;
  }
  return after_send(fd, b, sw_real_send(fd, b, n, f));
}

SW_FD_HOOK(ssize_t, recvfrom,
           (int fd, void *b, size_t n, int f, struct sockaddr *a,
            socklen_t *l),
           (fd, b, n, f, a, l), fd)
{
  SW_HOOK_PASS(recvfrom, (fd, b, n, f, a, l));
  ssize_t r = sw_real_recvfrom(fd, b, n, f, a, l);
  if (f & MSG_PEEK)
    return r;
  return after_recv(fd, b, r);
}

SW_FD_HOOK(ssize_t, __recvfrom_chk,
           (int fd, void *b, size_t n, size_t bl, int f, struct sockaddr *a,
            socklen_t *l),
           (fd, b, n, bl, f, a, l), fd)
{
  SW_HOOK_PASS(__recvfrom_chk, (fd, b, n, bl, f, a, l));
  ssize_t r = sw_real___recvfrom_chk(fd, b, n, bl, f, a, l);
  if (f & MSG_PEEK)
    return r;
  return after_recv(fd, b, r);
}

SW_FD_HOOK(ssize_t, sendto,
           (int fd, const void *b, size_t n, int f, const struct sockaddr *a,
            socklen_t l),
           (fd, b, n, f, a, l), fd)
{
  SW_HOOK_PASS(sendto, (fd, b, n, f, a, l));
  /* A connected stream socket ignores the address: same as send(). */
  if (sw_conn_is_client(fd)) {
    ssize_t r = send_injected1(fd, b, n, f, 1);
    if (r != -2)
      return r;
  }
  return after_send(fd, b, sw_real_sendto(fd, b, n, f, a, l));
}

SW_FD_HOOK(ssize_t, readv, (int fd, const struct iovec *v, int c), (fd, v, c),
           fd)
{
  SW_HOOK_PASS(readv, (fd, v, c));
  return after_recv_iov(fd, v, c, sw_real_readv(fd, v, c));
}

SW_FD_HOOK(ssize_t, writev, (int fd, const struct iovec *v, int c),
           (fd, v, c), fd)
{
  SW_HOOK_PASS(writev, (fd, v, c));
  if (sw_conn_is_client(fd) && c >= 0) {
    ssize_t r = send_injected(fd, v, c, 0, 0);
    if (r != -2)
      return r;
  }
  ssize_t r = sw_real_writev(fd, v, c);
  if (r > 0)
    SW_BUSY(sw_conn_on_send_iov(fd, v, c, (size_t)r));
  return r;
}

SW_FD_HOOK(ssize_t, recvmsg, (int fd, struct msghdr *m, int f), (fd, m, f),
           fd)
{
  SW_HOOK_PASS(recvmsg, (fd, m, f));
  ssize_t r = sw_real_recvmsg(fd, m, f);
  if (f & MSG_PEEK)
    return r;
  if (r > 0)
    SW_BUSY(sw_conn_on_recv_iov(fd, m->msg_iov, (int)m->msg_iovlen,
                                   (size_t)r));
  else if (r == 0)
    SW_BUSY(sw_conn_on_eof(fd));
  return r;
}

SW_FD_HOOK(ssize_t, sendmsg, (int fd, const struct msghdr *m, int f),
           (fd, m, f), fd)
{
  SW_HOOK_PASS(sendmsg, (fd, m, f));
  /* Only plain stream writes: no address, no ancillary data. */
  if (sw_conn_is_client(fd) && m && !m->msg_name && !m->msg_controllen &&
      m->msg_iovlen <= INT32_MAX) {
    ssize_t r = send_injected(fd, m->msg_iov, (int)m->msg_iovlen, f, 1);
    if (r != -2)
      return r;
  }
  ssize_t r = sw_real_sendmsg(fd, m, f);
  if (r > 0)
    SW_BUSY(sw_conn_on_send_iov(fd, m->msg_iov, (int)m->msg_iovlen,
                                   (size_t)r));
  return r;
}

SW_FD_HOOK(ssize_t, sendfile, (int o, int i, off_t *off, size_t n),
           (o, i, off, n), o)
{
  SW_HOOK_PASS(sendfile, (o, i, off, n));
  ssize_t r = sw_real_sendfile(o, i, off, n);
  if (r > 0)
    SW_BUSY(sw_conn_on_sendfile(o, (size_t)r));
  return r;
}

SW_FD_HOOK(ssize_t, sendfile64, (int o, int i, off64_t *off, size_t n),
           (o, i, off, n), o)
{
  SW_HOOK_PASS(sendfile64, (o, i, off, n));
  ssize_t r = sw_real_sendfile64(o, i, off, n);
  if (r > 0)
    SW_BUSY(sw_conn_on_sendfile(o, (size_t)r));
  return r;
}
