/* bench_loopback.c: N HTTP/1.1 request/response exchanges over one
 * keep-alive loopback TCP connection, client and server in one process.
 *
 *   bench_loopback N [BODY_BYTES]
 *
 * The main thread listens on 127.0.0.1 (port 0), starts a server thread
 * that accept()s one connection, then connect()s to it. The client sends
 * "GET /bench?i=K HTTP/1.1" with send() and reads the response with
 * recv(); the server reads the request head with recv() (up to the blank
 * line, whatever its length: under the preload it carries an injected sw8
 * line) and answers with writev() of a head and a BODY_BYTES body
 * (default 1024), as nginx does. Under the preload every exchange is one
 * exit span (client thread) and one entry span (server thread).
 *
 * The measured loops are functions of their own, bench_client_loop and
 * bench_serve_loop, for valgrind --toggle-collect; setup (the first
 * tracked connection loads the reporter) stays outside them. They are
 * extern so that the compiler keeps their names (a static one may
 * become bench_serve_loop.isra.0). Prints
 * "exchanges=N" and exits 0 when every response was complete. */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static long n_exchanges;
static size_t body_len = 1024;
static char *body;
static char head[128];
static size_t head_len;
static int listen_fd;

/* Reads one request head (through the blank line); 0, or -1 at EOF. The
 * client never pipelines, so nothing past the head is in flight. */
static int
read_head(int fd, char *buf, size_t cap)
{
  size_t len = 0;
  for (;;) {
    ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
    if (k <= 0)
      return -1;
    len += (size_t)k;
    buf[len] = '\0';
    if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
      return 0;
    if (len >= cap - 1)
      return -1;
  }
}

__attribute__((noinline)) long
bench_serve_loop(int fd)
{
  char req[4096];
  long served = 0;
  struct iovec v[2] = {{head, head_len}, {body, body_len}};
  while (read_head(fd, req, sizeof(req)) == 0) {
    if (writev(fd, v, 2) != (ssize_t)(head_len + body_len))
      break;
    served++;
  }
  return served;
}

static void *
server_main(void *arg)
{
  (void)arg;
  int fd = accept(listen_fd, NULL, NULL);
  if (fd < 0)
    return NULL;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  bench_serve_loop(fd);
  close(fd);
  return NULL;
}

__attribute__((noinline)) long
bench_client_loop(int fd, long n)
{
  char req[128], rsp[8192];
  size_t want = head_len + body_len;
  long ok = 0;
  for (long i = 0; i < n; i++) {
    int len = snprintf(req, sizeof(req),
                       "GET /bench?i=%ld HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                       i);
    if (send(fd, req, (size_t)len, 0) != len)
      break;
    size_t got = 0;
    while (got < want) {
      size_t room = want - got < sizeof(rsp) ? want - got : sizeof(rsp);
      ssize_t k = recv(fd, rsp, room, 0);
      if (k <= 0)
        return ok;
      got += (size_t)k;
    }
    ok++;
  }
  return ok;
}

int
main(int argc, char **argv)
{
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: bench_loopback N [BODY_BYTES]\n");
    return 2;
  }
  n_exchanges = atol(argv[1]);
  if (argc == 3)
    body_len = (size_t)atol(argv[2]);
  body = malloc(body_len + 1);
  if (!body)
    return 1;
  memset(body, 'x', body_len);
  head_len = (size_t)snprintf(head, sizeof(head),
                              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                              "Content-Length: %zu\r\n\r\n",
                              body_len);

  listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(listen_fd, 4) != 0 ||
      getsockname(listen_fd, (struct sockaddr *)&a, &alen) != 0) {
    perror("bench_loopback: listen");
    return 1;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, server_main, NULL) != 0)
    return 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    perror("bench_loopback: connect");
    return 1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  long ok = bench_client_loop(fd, n_exchanges);
  close(fd);
  pthread_join(t, NULL);
  close(listen_fd);
  free(body);
  printf("exchanges=%ld\n", ok);
  return ok == n_exchanges ? 0 : 1;
}
