/* libctor_early.c: a shared library whose constructor uses the network
 * before the program (and possibly before the agent) is initialised, for
 * the constructor-order tests.
 *
 * When its constructor runs before the agent's, the agent's hooks are
 * entered before the agent's own constructor ran and must pass the calls
 * straight through; when it runs after, the calls are traced, and the
 * agent starts its reporter from inside a constructor.
 *
 * With SW_TEST_CTOR_PORT set, the constructor connects to
 * 127.0.0.1:PORT, sends one HTTP/1.0 request for /ctor-early (socket,
 * connect, send), reads the whole response (recv until EOF) and closes.
 * It reports on stderr:
 *   ctor_early: ok STATUS
 *   ctor_early: FAILED WHAT: ERROR
 * and never exits the process: the program must go on either way.
 *
 * Which constructor runs first: the loader initialises the objects it
 * loaded in reverse order, so a library named AFTER the agent in
 * LD_PRELOAD, and any library the program links (DT_NEEDED), runs its
 * constructor before the agent's; one named before the agent runs after
 * it. */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
report_failure(const char *what)
{
  fprintf(stderr, "ctor_early: FAILED %s: %s\n", what, strerror(errno));
}

/* One HTTP/1.0 GET for path to 127.0.0.1:SW_TEST_CTOR_PORT with socket,
 * connect, send, recv and close. Returns the status, or -1 (reported on
 * stderr). Also called from main() by the linked-program test. */
int
ctor_early_request(const char *path)
{
  const char *port = getenv("SW_TEST_CTOR_PORT");
  if (!port || !port[0])
    return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    report_failure("socket");
    return -1;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    report_failure("connect");
    close(fd);
    return -1;
  }
  char req[512];
  int len = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.0\r\nHost: ctor-early\r\n\r\n", path);
  size_t off = 0;
  while (off < (size_t)len) {
    ssize_t k = send(fd, req + off, (size_t)len - off, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      report_failure("send");
      close(fd);
      return -1;
    }
    off += (size_t)k;
  }
  char rsp[512];
  size_t got = 0;
  for (;;) {
    ssize_t k = recv(fd, rsp + got, sizeof(rsp) - 1 - got, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0) {
      report_failure("recv");
      close(fd);
      return -1;
    }
    if (k == 0 || (got += (size_t)k) == sizeof(rsp) - 1)
      break;
  }
  rsp[got] = '\0';
  close(fd);
  int status = -1;
  if (sscanf(rsp, "HTTP/1.%*d %d", &status) != 1)
    status = -1;
  return status;
}

__attribute__((constructor)) static void
ctor_early(void)
{
  if (!getenv("SW_TEST_CTOR_PORT"))
    return;
  int status = ctor_early_request("/ctor-early");
  if (status > 0)
    fprintf(stderr, "ctor_early: ok %d\n", status);
}
