/* inject_client.c: an HTTP/1.1 client with a chosen way of writing its
 * request, for the sw8 propagation tests (run under the preload).
 *
 *   inject_client [options] PORT
 *     -m write|send|sendto|writev|sendmsg   the call that writes (write)
 *     -n          non-blocking socket (connect, writes and reads poll)
 *     -b BYTES    SO_SNDBUF before connect (e.g. 1: the kernel's minimum)
 *     -t MS       SO_SNDTIMEO: a blocking write may return a partial count
 *     -P BYTES    pad the head with X-Pad headers to about this size
 *     -B BYTES    request body of this many bytes (a POST)
 *     -p PATH     request target (/inject)
 *     -r N        N requests one after another on the same connection (1)
 *     -c BYTES    once a call has taken some of a request, write at most
 *                 this many bytes per call (a writer with a fixed chunk)
 *     -q N        writev/sendmsg: the body in N entries, of which the first
 *                 call carries only one (an output queue that grows while
 *                 it is written, as in a streaming upload)
 *     -S          write the head in two calls (the first without the blank
 *                 line): the agent must leave such a head alone
 *     -a VALUE    the application's own "sw8: VALUE" header
 *     -o FILE     write every byte of the requests, as the application
 *                 meant them, to FILE
 *
 * writev and sendmsg cut the head into 3 entries (a third of the way in,
 * and inside the final CRLF CRLF) plus one for the body; after a partial
 * write the entries are advanced, as real programs do. In non-blocking
 * mode EAGAIN waits for POLLOUT and retries. Every count returned is
 * checked to be within what was asked (and not 0). Reads the responses
 * (Content-Length delimited; the last one until close) and prints
 *   status <status line>        for each response
 *   calls=N partial=N eagain=N  write statistics
 * on stdout. Exit status 0, 2 on a usage error, 3 when a call misbehaved
 * or the connection failed. */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum { M_WRITE, M_SEND, M_SENDTO, M_WRITEV, M_SENDMSG };

static int mode = M_WRITE;
static int nonblock;
static size_t chunk;
static int first_limit; /* entries in a request's first call (0: all) */

#define MAX_IOV 1024
static unsigned long ncalls, npartial, neagain;

static void
die(const char *what)
{
  fprintf(stderr, "inject_client: %s: %s\n", what, strerror(errno));
  exit(3);
}

static void
fail(const char *what)
{
  fprintf(stderr, "inject_client: %s\n", what);
  exit(3);
}

static void
wait_fd(int fd, short ev)
{
  struct pollfd p = {.fd = fd, .events = ev};
  for (;;) {
    int r = poll(&p, 1, 60000);
    if (r > 0)
      return;
    if (r == 0)
      fail("poll timed out");
    if (errno != EINTR)
      die("poll");
  }
}

/* One call of the chosen kind over v[0..cnt). Returns its result. */
static ssize_t
send_once(int fd, struct iovec *v, int cnt)
{
  struct msghdr m;
  switch (mode) {
  case M_WRITE:
    return write(fd, v[0].iov_base, v[0].iov_len);
  case M_SEND:
    return send(fd, v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL);
  case M_SENDTO:
    return sendto(fd, v[0].iov_base, v[0].iov_len, MSG_NOSIGNAL, NULL, 0);
  case M_WRITEV:
    return writev(fd, v, cnt);
  default:
    memset(&m, 0, sizeof(m));
    m.msg_iov = v;
    m.msg_iovlen = (size_t)cnt;
    return sendmsg(fd, &m, MSG_NOSIGNAL);
  }
}

/* Writes all of v[0..cnt), advancing the entries after partial writes.
 * The single-buffer calls get one entry at a time. */
static void
send_all(int fd, struct iovec *v, int cnt)
{
  int started = 0;
  while (cnt > 0) {
    if (v[0].iov_len == 0) {
      v++;
      cnt--;
      continue;
    }
    int use = mode == M_WRITEV || mode == M_SENDMSG ? cnt : 1;
    if (!started && first_limit && use > first_limit)
      use = first_limit;
    /* What this call passes: v[0..use), cut to the chunk size. */
    struct iovec w[MAX_IOV];
    size_t asked = 0;
    int nw = 0;
    for (int i = 0; i < use && nw < MAX_IOV; i++) {
      size_t len = v[i].iov_len;
      if (started && chunk) {
        if (asked == chunk)
          break;
        if (len > chunk - asked)
          len = chunk - asked;
      }
      w[nw++] = (struct iovec){v[i].iov_base, len};
      asked += len;
    }
    ssize_t r = send_once(fd, w, nw);
    ncalls++;
    if (r < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* Non-blocking, or a blocking socket whose send timeout ran
         * out with nothing sent. */
        neagain++;
        if (nonblock)
          wait_fd(fd, POLLOUT);
        continue;
      }
      die("send");
    }
    if (r == 0) {
      fprintf(stderr, "inject_client: a write of %zu bytes returned 0\n",
              asked);
      exit(3);
    }
    if ((size_t)r > asked) {
      fprintf(stderr, "inject_client: a write of %zu bytes returned %zd\n",
              asked, r);
      exit(3);
    }
    if ((size_t)r < asked)
      npartial++;
    started = 1;
    size_t k = (size_t)r;
    while (k > 0) {
      size_t t = k < v[0].iov_len ? k : v[0].iov_len;
      v[0].iov_base = (char *)v[0].iov_base + t;
      v[0].iov_len -= t;
      k -= t;
      if (v[0].iov_len == 0) {
        v++;
        cnt--;
      }
    }
  }
}

/* Reads one response: its status line is printed. Returns 0 when the
 * peer closed before a complete response. */
static int
read_response(int fd, int until_close)
{
  static char buf[1 << 16];
  size_t len = 0;
  long need = -1;
  for (;;) {
    if (need < 0) {
      char *e = memmem(buf, len, "\r\n\r\n", 4);
      if (e) {
        size_t head = (size_t)(e - buf) + 4;
        long cl = 0;
        for (char *p = buf; p < e;) {
          if (!strncasecmp(p, "content-length:", 15))
            cl = strtol(p + 15, NULL, 10);
          char *nl = memchr(p, '\n', (size_t)(e - p));
          if (!nl)
            break;
          p = nl + 1;
        }
        need = (long)head + cl;
        char *eol = memchr(buf, '\r', len);
        printf("status %.*s\n", (int)(eol - buf), buf);
        fflush(stdout);
      }
    }
    if (need >= 0 && (long)len >= need && !until_close)
      return 1;
    if (len == sizeof(buf))
      len = 0; /* only the head matters; keep reading */
    ssize_t r = read(fd, buf + len, sizeof(buf) - len);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_fd(fd, POLLIN);
        continue;
      }
      die("read");
    }
    if (r == 0)
      return need >= 0;
    len += (size_t)r;
  }
}

static int
connect_to(int port, int sndbuf, int timeo_ms)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket");
  if (sndbuf > 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) != 0)
    die("SO_SNDBUF");
  if (timeo_ms > 0) {
    struct timeval tv = {timeo_ms / 1000, (timeo_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
      die("SO_SNDTIMEO");
  }
  if (nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
    die("O_NONBLOCK");
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    if (errno != EINPROGRESS)
      die("connect");
    wait_fd(fd, POLLOUT);
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0) {
      errno = err;
      die("connect");
    }
  }
  return fd;
}

static void
usage(void)
{
  fprintf(stderr, "usage: inject_client [-m write|send|sendto|writev|"
                  "sendmsg] [-n] [-b SNDBUF] [-t MS] [-P PAD] [-B BODY] "
                  "[-p PATH] [-r N] [-c CHUNK] [-q N] [-S] [-a SW8] "
                  "[-o FILE] PORT\n");
  exit(2);
}

int
main(int argc, char **argv)
{
  int sndbuf = 0, timeo = 0, nreq = 1, split = 0, nbody = 1, opt;
  size_t pad = 0, body_len = 0;
  const char *path = "/inject", *app_sw8 = NULL, *out_path = NULL;
  while ((opt = getopt(argc, argv, "m:nb:t:P:B:p:r:c:q:Sa:o:")) != -1) {
    switch (opt) {
    case 'm':
      if (!strcmp(optarg, "write"))
        mode = M_WRITE;
      else if (!strcmp(optarg, "send"))
        mode = M_SEND;
      else if (!strcmp(optarg, "sendto"))
        mode = M_SENDTO;
      else if (!strcmp(optarg, "writev"))
        mode = M_WRITEV;
      else if (!strcmp(optarg, "sendmsg"))
        mode = M_SENDMSG;
      else
        usage();
      break;
    case 'n':
      nonblock = 1;
      break;
    case 'b':
      sndbuf = atoi(optarg);
      break;
    case 't':
      timeo = atoi(optarg);
      break;
    case 'P':
      pad = strtoul(optarg, NULL, 10);
      break;
    case 'B':
      body_len = strtoul(optarg, NULL, 10);
      break;
    case 'p':
      path = optarg;
      break;
    case 'r':
      nreq = atoi(optarg);
      break;
    case 'c':
      chunk = strtoul(optarg, NULL, 10);
      break;
    case 'q':
      nbody = atoi(optarg);
      first_limit = 4;
      break;
    case 'S':
      split = 1;
      break;
    case 'a':
      app_sw8 = optarg;
      break;
    case 'o':
      out_path = optarg;
      break;
    default:
      usage();
    }
  }
  if (optind + 1 != argc || nreq < 1 || nbody < 1 || nbody > MAX_IOV - 3)
    usage();
  int port = atoi(argv[optind]);

  size_t head_cap = pad + 4096 + (app_sw8 ? strlen(app_sw8) : 0);
  char *head = malloc(head_cap);
  char *body = malloc(body_len + 1);
  if (!head || !body)
    fail("out of memory");
  for (size_t i = 0; i < body_len; i++)
    body[i] = (char)('a' + i % 26);
  FILE *out = out_path ? fopen(out_path, "wb") : NULL;
  if (out_path && !out)
    die(out_path);

  int fd = connect_to(port, sndbuf, timeo);
  for (int q = 0; q < nreq; q++) {
    int last = q == nreq - 1;
    size_t n = (size_t)snprintf(head, head_cap,
                                "%s %s HTTP/1.1\r\n"
                                "Host: 127.0.0.1:%d\r\n"
                                "User-Agent: inject_client\r\n",
                                body_len ? "POST" : "GET", path, port);
    /* Headers of up to 1000 bytes each, to reach about pad bytes. */
    for (int h = 0; n + 40 < pad; h++) {
      size_t want = pad - n - 40 < 1000 ? pad - n - 40 : 1000;
      n += (size_t)snprintf(head + n, head_cap - n, "X-Pad-%04d: ", h);
      memset(head + n, 'p', want);
      n += want;
      memcpy(head + n, "\r\n", 2);
      n += 2;
    }
    if (app_sw8)
      n += (size_t)snprintf(head + n, head_cap - n, "sw8: %s\r\n", app_sw8);
    if (body_len)
      n += (size_t)snprintf(head + n, head_cap - n,
                            "Content-Length: %zu\r\n", body_len);
    n += (size_t)snprintf(head + n, head_cap - n, "Connection: %s\r\n\r\n",
                          last ? "close" : "keep-alive");
    if (out) {
      fwrite(head, 1, n, out);
      fwrite(body, 1, body_len, out);
    }

    if (split) {
      /* The head in two calls: all but the blank line, then the rest. */
      struct iovec a[1] = {{head, n - 2}};
      struct iovec b[2] = {{head + n - 2, 2}, {body, body_len}};
      send_all(fd, a, 1);
      send_all(fd, b, 2);
    } else {
      size_t c1 = n / 3, c2 = n - 3; /* c2 cuts the final CRLF CRLF */
      static struct iovec v[MAX_IOV];
      v[0] = (struct iovec){head, c1};
      v[1] = (struct iovec){head + c1, c2 - c1};
      v[2] = (struct iovec){head + c2, n - c2};
      /* The body in nbody entries of about the same size. */
      for (int i = 0; i < nbody; i++) {
        size_t from = body_len * (size_t)i / (size_t)nbody;
        size_t to = body_len * (size_t)(i + 1) / (size_t)nbody;
        v[3 + i] = (struct iovec){body + from, to - from};
      }
      if (mode == M_WRITEV || mode == M_SENDMSG) {
        send_all(fd, v, 3 + nbody);
      } else {
        /* The single-buffer calls get the whole request as one buffer,
         * so that the head and the start of the body go in one call. */
        char *all = malloc(n + body_len);
        if (!all)
          fail("out of memory");
        memcpy(all, head, n);
        memcpy(all + n, body, body_len);
        struct iovec w = {all, n + body_len};
        send_all(fd, &w, 1);
        free(all);
      }
    }
    if (!read_response(fd, last))
      fail("connection closed before a complete response");
  }
  if (out)
    fclose(out);
  close(fd);
  printf("calls=%lu partial=%lu eagain=%lu\n", ncalls, npartial, neagain);
  free(head);
  free(body);
  return 0;
}
