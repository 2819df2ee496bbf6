/* proc_signal.c: heavy HTTP traffic on one thread while a SIGALRM handler
 * keeps writing to a pipe and to a socket, for the signal tests (run
 * under the preload).
 *
 *   proc_signal N INTERVAL_US
 *     One thread is both client and server of N requests over loopback,
 *     each on a new connection: connect, write the request, accept, recv
 *     the head, send the response, close, read the response to EOF,
 *     close. Every call is a hooked libc call. Meanwhile ITIMER_REAL
 *     fires every INTERVAL_US microseconds from before the first
 *     connection on; its handler (SA_RESTART)
 *     writes one byte to a pipe and send()s one byte on a side TCP
 *     connection, both hooked calls, so most signals land while the
 *     thread is inside a hook (often holding a connection). The main loop
 *     drains the pipe and the side connection between requests.
 *     Prints on stdout:
 *       requests N
 *       signals S
 *       in_call C      signals that arrived while a socket call ran
 *     Exit status 0 when every response was right. */
#include "proc_common.h"

#include <signal.h>
#include <sys/time.h>

static volatile int pipe_w = -1, side_w = -1;
static volatile sig_atomic_t in_call;
static volatile unsigned long nsignals, nin_call;

static void
on_alarm(int sig)
{
  (void)sig;
  int saved = errno;
  nsignals++;
  if (in_call)
    nin_call++;
  char c = 'x';
  /* Both may fail with EAGAIN once the reader falls behind: fine. */
  if (write(pipe_w, &c, 1) < 0) {
  }
  if (send(side_w, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
  }
  errno = saved;
}

static void
drain(int fd)
{
  char buf[4096];
  while (read(fd, buf, sizeof(buf)) > 0)
    ;
}

int
main(int argc, char **argv)
{
  pc_prog = "proc_signal";
  if (argc != 3) {
    fprintf(stderr, "usage: proc_signal N INTERVAL_US\n");
    return 2;
  }
  int n = atoi(argv[1]);
  long interval = atol(argv[2]);
  int port = 0;
  int lfd = pc_listen(&port);

  int p[2];
  if (pipe2(p, O_NONBLOCK) != 0)
    pc_die("pipe");
  pipe_w = p[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, NULL) != 0)
    pc_die("sigaction");
  struct itimerval it = {{interval / 1000000, interval % 1000000},
                         {interval / 1000000, interval % 1000000}};
  if (setitimer(ITIMER_REAL, &it, NULL) != 0)
    pc_die("setitimer");
  /* The side connection: its client end is written by the handler, its
   * server end drained (non-blocking) by the main loop. It is the first
   * connection of the process, made with the timer already running: the
   * agent starts its reporter (dlopen, thread) while signals arrive. */
  int fd = pc_connect(port);
  int side_r;
  do
    side_r = accept(lfd, NULL, NULL);
  while (side_r < 0 && errno == EINTR);
  if (side_r < 0)
    pc_die("accept");
  fcntl(side_r, F_SETFL, O_NONBLOCK);
  side_w = fd;

  int bad = 0;
  for (int i = 0; i < n; i++) {
    char req[256], head[4096], rsp[4096];
    int len = snprintf(req, sizeof(req),
                       "GET /sig?i=%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Connection: close\r\n\r\n",
                       i, port);
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                 "Connection: close\r\n\r\nok";
    in_call = 1;
    int c = pc_connect(port);
    if (pc_write_all(c, req, (size_t)len) != 0)
      pc_die("write request");
    int s;
    do
      s = accept(lfd, NULL, NULL);
    while (s < 0 && errno == EINTR);
    if (s < 0)
      pc_die("accept");
    if (pc_read_head(s, head, sizeof(head)) < 0)
      pc_die("read request");
    size_t off = 0;
    while (off < sizeof(answer) - 1) {
      ssize_t k = send(s, answer + off, sizeof(answer) - 1 - off, 0);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        pc_die("send response");
      off += (size_t)k;
    }
    close(s);
    if (pc_read_all(c, rsp, sizeof(rsp)) < 0)
      pc_die("read response");
    close(c);
    in_call = 0;
    if (strncmp(rsp, "HTTP/1.1 200 OK", 15) != 0 ||
        strcmp(rsp + strlen(rsp) - 2, "ok") != 0)
      bad++;
    drain(p[0]);
    drain(side_r);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("requests %d\nsignals %lu\nin_call %lu\n", n, nsignals, nin_call);
  return bad ? 1 : 0;
}
