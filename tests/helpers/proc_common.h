/* proc_common.h: the little HTTP/1.x client and server the process-model
 * helpers (proc_*.c) share. Header-only: every helper is one executable.
 *
 * Everything goes through the plain libc calls a real program uses
 * (socket, connect, accept, read, write, send, recv, close), so that under
 * the preload every call meets a hook. EINTR is retried everywhere: the
 * helpers run with signal handlers installed. */
#ifndef SW_TESTS_HELPERS_PROC_COMMON_H
#define SW_TESTS_HELPERS_PROC_COMMON_H

#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *pc_prog = "proc";

static inline void
pc_die(const char *what)
{
  fprintf(stderr, "%s[%d]: %s: %s\n", pc_prog, (int)getpid(), what,
          strerror(errno));
  exit(3);
}

static inline long long
pc_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
pc_sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Writes text to path atomically (a temporary file, then rename), so a
 * poller never reads half of it. */
static inline void pc_write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void
pc_write_file(const char *path, const char *fmt, ...)
{
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f)
    pc_die("fopen");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  if (fclose(f) != 0 || rename(tmp, path) != 0)
    pc_die("write file");
}

/* Waits until path exists (the test's "go on" signal); gives up after
 * cap_s seconds so that a helper never outlives a broken test for long. */
static inline int
pc_wait_file(const char *path, int cap_s)
{
  long long end = pc_now_ms() + (long long)cap_s * 1000;
  struct stat st;
  while (stat(path, &st) != 0) {
    if (pc_now_ms() > end)
      return -1;
    pc_sleep_ms(10);
  }
  return 0;
}

static inline int
pc_write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Reads until EOF (or cap-1 bytes); NUL-terminates. Returns the length or
 * -1. */
static inline ssize_t
pc_read_all(int fd, char *buf, size_t cap)
{
  size_t got = 0;
  for (;;) {
    ssize_t k = read(fd, buf + got, cap - 1 - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return -1;
    if (k == 0 || (got += (size_t)k) == cap - 1)
      break;
  }
  buf[got] = '\0';
  return (ssize_t)got;
}

/* Reads a request head (up to the blank line) with recv(); NUL-terminates.
 * Returns its length or -1. */
static inline ssize_t
pc_read_head(int fd, char *buf, size_t cap)
{
  size_t got = 0;
  buf[0] = '\0';
  while (!strstr(buf, "\r\n\r\n")) {
    if (got == cap - 1)
      return -1;
    ssize_t k = recv(fd, buf + got, cap - 1 - got, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    got += (size_t)k;
    buf[got] = '\0';
  }
  return (ssize_t)got;
}

static inline struct sockaddr_in
pc_loopback(int port)
{
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

/* A listening socket on 127.0.0.1 and a free port; *port gets the port. */
static inline int
pc_listen(int *port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    pc_die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = pc_loopback(0);
  socklen_t len = sizeof(sa);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(fd, 128) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
    pc_die("listen");
  *port = ntohs(sa.sin_port);
  return fd;
}

static inline int
pc_connect(int port)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    pc_die("socket");
  struct sockaddr_in sa = pc_loopback(port);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
    pc_die("connect");
  return fd;
}

/* One GET on a new connection ("Connection: close", read to EOF).
 * Returns the response status, or -1. */
static inline int
pc_http_get(int port, const char *path)
{
  char req[1024], rsp[8192];
  int fd = pc_connect(port);
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Connection: close\r\n\r\n",
                   path, port);
  int status = -1;
  if (pc_write_all(fd, req, (size_t)n) == 0 &&
      pc_read_all(fd, rsp, sizeof(rsp)) > 0)
    sscanf(rsp, "HTTP/1.%*d %d", &status);
  close(fd);
  return status;
}

/* Accepts one connection on lfd and answers its one request with 200 and
 * a body naming this process ("pid N\n"); the connection is closed after
 * the response. Returns 0, or -1 when the peer went away early. */
static inline int
pc_serve_one(int lfd)
{
  int fd;
  do
    fd = accept(lfd, NULL, NULL);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return -1;
  char head[8192], rsp[256], body[64];
  int rc = -1;
  if (pc_read_head(fd, head, sizeof(head)) > 0) {
    int bl = snprintf(body, sizeof(body), "pid %d\n", (int)getpid());
    int n = snprintf(rsp, sizeof(rsp),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                     bl, body);
    rc = pc_write_all(fd, rsp, (size_t)n);
  }
  close(fd);
  return rc;
}

#endif
