/* bench_io.c: N read()/write() calls on a non-socket fd, for counting
 * what a hook adds to calls it does not trace.
 *
 *   bench_io file-write|file-read|pipe N
 *
 * file-write: N write()s of 64 bytes to a fresh temporary file.
 * file-read:  the file is written first (not counted), then N read()s of
 *             64 bytes from it.
 * pipe:       N/2 rounds of write() 64 bytes into a pipe and read() them
 *             back: N calls in all.
 * Each measured loop is a function of its own (bench_loop_*), so that
 * valgrind --toggle-collect=bench_loop_* counts the loop and nothing
 * else (extern, so that the compiler never renames it to a clone such as
 * bench_loop_read.isra.0). Prints "calls=N".
 *
 *   bench_io check
 *
 * check: every fd-based hooked call, on files, pipes, an AF_UNIX pair, bad
 * fds and a TCP loopback connection (tracked under the preload; its bytes
 * are not HTTP), successes and failures (EBADF, EAGAIN, ENOTSOCK,
 * MSG_PEEK, end of stream), each entered with errno set to a sentinel.
 * Prints one line per call: its result, errno and the bytes it read. The
 * transcript must be the same with and without the preload: the hooks
 * change neither results nor errno. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* The _FORTIFY_SOURCE entry points, called directly. */
ssize_t __read_chk(int fd, void *b, size_t n, size_t bl);
ssize_t __recv_chk(int fd, void *b, size_t n, size_t bl, int f);
ssize_t __recvfrom_chk(int fd, void *b, size_t n, size_t bl, int f,
                       struct sockaddr *a, socklen_t *l);

static char buf[64];

__attribute__((noinline)) long
bench_loop_write(int fd, long n)
{
  long calls = 0;
  for (long i = 0; i < n; i++)
    calls += write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
  return calls;
}

__attribute__((noinline)) long
bench_loop_read(int fd, long n)
{
  long calls = 0;
  for (long i = 0; i < n; i++)
    calls += read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
  return calls;
}

__attribute__((noinline)) long
bench_loop_pipe(int rfd, int wfd, long n)
{
  long calls = 0;
  for (long i = 0; i < n / 2; i++) {
    calls += write(wfd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
    calls += read(rfd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
  }
  return calls;
}

/* Fills the file without calling write() n times from a measured loop. */
static int
fill(int fd, long n)
{
  static char big[1 << 16];
  long left = n * (long)sizeof(buf);
  while (left > 0) {
    size_t k = left < (long)sizeof(big) ? (size_t)left : sizeof(big);
    if (write(fd, big, k) != (ssize_t)k)
      return -1;
    left -= (long)k;
  }
  return lseek(fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- check */

#define SENTINEL 4242

static char rbuf[256];

/* One call: errno set to the sentinel first, then its result, errno and,
 * for a read of r > 0 bytes, those bytes. */
#define CALL(what, expr, rd)                                             \
  do {                                                                   \
    memset(rbuf, 0, sizeof(rbuf));                                       \
    errno = SENTINEL;                                                    \
    long r_ = (long)(expr);                                              \
    int e_ = errno;                                                      \
    printf("%-28s r=%ld errno=%d", what, r_, e_);                        \
    if ((rd) && r_ > 0)                                                  \
      printf(" data=%.*s", (int)(r_ < 200 ? r_ : 200), rbuf);            \
    printf("\n");                                                        \
  } while (0)

static int
nonblock(int fd)
{
  return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The calls that take a buffer, on one readable/writable pair of fds. */
static void
check_pair(const char *kind, int rfd, int wfd, int sock)
{
  char what[64];
  struct iovec wv[2] = {{"io", 2}, {"vec", 3}};
  struct iovec rv[2] = {{rbuf, 2}, {rbuf + 2, 10}};
#define W(name) (snprintf(what, sizeof(what), "%s %s", kind, name), what)
  CALL(W("write"), write(wfd, "hello", 5), 0);
  CALL(W("read"), read(rfd, rbuf, 3), 1);
  CALL(W("__read_chk"), __read_chk(rfd, rbuf, 2, sizeof(rbuf)), 1);
  CALL(W("read empty"), read(rfd, rbuf, sizeof(rbuf)), 1);
  CALL(W("writev"), writev(wfd, wv, 2), 0);
  CALL(W("readv"), readv(rfd, rv, 2), 1);
  if (!sock)
    return;
  struct sockaddr_storage ss;
  socklen_t sl;
  struct msghdr m;
  CALL(W("send"), send(wfd, "abcdef", 6, 0), 0);
  CALL(W("recv peek"), recv(rfd, rbuf, 4, MSG_PEEK), 1);
  CALL(W("__recv_chk peek"), __recv_chk(rfd, rbuf, 2, sizeof(rbuf), MSG_PEEK),
       1);
  CALL(W("recv"), recv(rfd, rbuf, 2, 0), 1);
  CALL(W("__recv_chk"), __recv_chk(rfd, rbuf, 2, sizeof(rbuf), 0), 1);
  sl = sizeof(ss);
  CALL(W("recvfrom peek"),
       recvfrom(rfd, rbuf, 1, MSG_PEEK, (struct sockaddr *)&ss, &sl), 1);
  sl = sizeof(ss);
  CALL(W("__recvfrom_chk"),
       __recvfrom_chk(rfd, rbuf, 2, sizeof(rbuf), 0, (struct sockaddr *)&ss,
                      &sl),
       1);
  CALL(W("recv empty"), recv(rfd, rbuf, sizeof(rbuf), 0), 1);
  CALL(W("sendto"), sendto(wfd, "xyz", 3, 0, NULL, 0), 0);
  sl = sizeof(ss);
  CALL(W("recvfrom"), recvfrom(rfd, rbuf, 3, 0, NULL, NULL), 1);
  memset(&m, 0, sizeof(m));
  m.msg_iov = wv;
  m.msg_iovlen = 2;
  CALL(W("sendmsg"), sendmsg(wfd, &m, 0), 0);
  memset(&m, 0, sizeof(m));
  m.msg_iov = rv;
  m.msg_iovlen = 2;
  CALL(W("recvmsg peek"), recvmsg(rfd, &m, MSG_PEEK), 1);
  CALL(W("recvmsg"), recvmsg(rfd, &m, 0), 1);
  CALL(W("recvmsg empty"), recvmsg(rfd, &m, 0), 1);
  CALL(W("shutdown"), shutdown(wfd, SHUT_WR), 0);
  CALL(W("recv eof"), recv(rfd, rbuf, sizeof(rbuf), 0), 1);
  CALL(W("read eof"), read(rfd, rbuf, sizeof(rbuf)), 1);
  CALL(W("send after shutdown"), send(wfd, "x", 1, MSG_NOSIGNAL), 0);
#undef W
}

static int
check(void)
{
  int p[2], u[2];
  char path[] = "/tmp/bench_io_XXXXXX";
  signal(SIGPIPE, SIG_IGN); /* EPIPE, not death, is what gets compared */
  int fd = mkstemp(path);
  if (fd < 0 || pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, u) != 0)
    return 1;
  unlink(path);
  /* Bad fds: negative, beyond any fd map, and a closed one. */
  int bad[] = {-1, 1 << 30, 1000};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char what[64];
    snprintf(what, sizeof(what), "fd %d read", bad[i]);
    CALL(what, read(bad[i], rbuf, 1), 1);
    snprintf(what, sizeof(what), "fd %d write", bad[i]);
    CALL(what, write(bad[i], "x", 1), 0);
    snprintf(what, sizeof(what), "fd %d send", bad[i]);
    CALL(what, send(bad[i], "x", 1, 0), 0);
    snprintf(what, sizeof(what), "fd %d close", bad[i]);
    CALL(what, close(bad[i]), 0);
    snprintf(what, sizeof(what), "fd %d shutdown", bad[i]);
    CALL(what, shutdown(bad[i], SHUT_RDWR), 0);
  }
  CALL("file write", write(fd, "0123456789", 10), 0);
  CALL("file lseek", lseek(fd, 0, SEEK_SET), 0);
  CALL("file read", read(fd, rbuf, 4), 1);
  CALL("file send (ENOTSOCK)", send(fd, "x", 1, 0), 0);
  CALL("file recv (ENOTSOCK)", recv(fd, rbuf, 1, 0), 0);
  CALL("file shutdown (ENOTSOCK)", shutdown(fd, SHUT_RD), 0);
  nonblock(p[0]);
  check_pair("pipe", p[0], p[1], 0);
  off_t off = 2;
  CALL("sendfile file->pipe", sendfile(p[1], fd, &off, 3), 0);
  CALL("sendfile off", off, 0);
  off64_t off64 = 5;
  CALL("sendfile64 file->pipe", sendfile64(p[1], fd, &off64, 3), 0);
  CALL("pipe read sendfile", read(p[0], rbuf, sizeof(rbuf)), 1);
  nonblock(u[0]);
  check_pair("unix", u[0], u[1], 1);

  /* TCP loopback: tracked by the preload (accept, connect). */
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(ls, 4) != 0 || getsockname(ls, (struct sockaddr *)&a, &al) != 0)
    return 1;
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
    return 1;
  int s = accept(ls, NULL, NULL);
  if (s < 0)
    return 1;
  nonblock(s);
  nonblock(c);
  /* One HTTP exchange first, while both ends are traced (compare with
   * SW_AGENT_INJECT_HEADERS=false: an sw8 line changes what s reads). */
  static const char req[] = "GET /check HTTP/1.1\r\nHost: x\r\n\r\n";
  static const char rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n";
  struct iovec hv[2] = {{(void *)rsp, 20}, {(void *)(rsp + 20), sizeof(rsp) - 21}};
  off64 = 0;
  CALL("http c write request", write(c, req, sizeof(req) - 1), 0);
  CALL("http s recv request", recv(s, rbuf, sizeof(rbuf), 0), 1);
  CALL("http s writev head", writev(s, hv, 2), 0);
  CALL("http s sendfile64 body", sendfile64(s, fd, &off64, 4), 0);
  CALL("http c read response", read(c, rbuf, sizeof(rbuf)), 1);
  check_pair("tcp s->c", c, s, 1);
  check_pair("tcp c->s", s, c, 1);
  CALL("tcp sendfile64 (EPIPE)", sendfile64(s, fd, &off64, 1), 0);
  CALL("tcp sendfile64 (EBADF)", sendfile64(c, -1, &off64, 1), 0);
  CALL("tcp close s", close(s), 0);
  CALL("tcp close c", close(c), 0);
  CALL("tcp close again", close(c), 0);
  CALL("close file", close(fd), 0);
  close(ls);
  return 0;
}

int
main(int argc, char **argv)
{
  if (argc == 2 && strcmp(argv[1], "check") == 0)
    return check();
  if (argc != 3) {
    fprintf(stderr, "usage: bench_io file-write|file-read|pipe N | check\n");
    return 2;
  }
  long n = atol(argv[2]), calls;
  memset(buf, 'x', sizeof(buf));
  if (strcmp(argv[1], "pipe") == 0) {
    int p[2];
    if (pipe(p) != 0)
      return 1;
    calls = bench_loop_pipe(p[0], p[1], n);
  } else {
    char path[] = "/tmp/bench_io_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
      return 1;
    unlink(path);
    if (strcmp(argv[1], "file-write") == 0) {
      calls = bench_loop_write(fd, n);
    } else if (strcmp(argv[1], "file-read") == 0) {
      if (fill(fd, n) != 0)
        return 1;
      calls = bench_loop_read(fd, n);
    } else {
      fprintf(stderr, "bench_io: unknown mode %s\n", argv[1]);
      return 2;
    }
    close(fd);
  }
  printf("calls=%ld\n", calls);
  return calls == n ? 0 : 1;
}
