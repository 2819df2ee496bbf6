/* bench_grpc_sink.c: a minimal gRPC (h2c) server that acknowledges every
 * call without decoding it, for benchmarks.
 *
 *   bench_grpc_sink [-p PORT] [-f PORT_FILE]
 *
 * It listens on 127.0.0.1:PORT (0, the default: any free port), writes
 * {"grpc": N} to PORT_FILE once bound (to a temporary name, then renamed,
 * so a reader never sees half of it), and serves each connection on its
 * own thread. Every stream gets the same answer when the client ends it:
 * HEADERS (:status 200, content-type application/grpc), one empty
 * message (an empty Commands, the reply of every SkyWalking service) and
 * the trailer grpc-status 0. Request headers are never decoded (HPACK
 * state only matters to a decoder), request messages are only counted.
 * The Python collector's --discard mode still runs Python per message and
 * tops out near 20k segments/s; this one costs a few hundred nanoseconds
 * per message, so a benchmark measures the client, not the sink.
 *
 * On SIGTERM or SIGINT it waits (at most 2 s) for the connections still
 * open to end, prints "calls=N messages=M bytes=B segs_in=S bytes_in=I"
 * on stdout and exits 0. segs_in and bytes_in are the kernel's count of
 * TCP segments and bytes received (TCP_INFO), summed over the connections
 * that ended: how the client's writes left it. */
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_segs_in */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_DATA 0x0
#define FRAME_HEADERS 0x1
#define FRAME_SETTINGS 0x4
#define FRAME_PING 0x6
#define FRAME_GOAWAY 0x7
#define FRAME_WINDOW_UPDATE 0x8
#define FRAME_CONTINUATION 0x9

#define FLAG_END_STREAM 0x1
#define FLAG_ACK 0x1
#define FLAG_END_HEADERS 0x4
#define FLAG_PADDED 0x8
#define FLAG_PRIORITY 0x20

#define MAX_STREAMS 32
#define MAX_FRAME (1u << 24)
/* Give the connection window back once this much has been received. */
#define WINDOW_CHUNK (1u << 20)

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static _Atomic uint64_t n_calls, n_messages, n_bytes, n_segs_in, n_bytes_in;
static _Atomic int n_live;
static volatile sig_atomic_t stop;

/* A stream's position in its gRPC message framing: 5-byte prefix (flag,
 * big-endian length), then the body. */
struct stream {
  uint32_t id;
  int hdr_have;
  unsigned char hdr[5];
  uint32_t body_left;
  int end_pending; /* END_STREAM seen on a header block not yet ended */
};

struct conn {
  int fd;
  unsigned char *buf;
  size_t cap, len, off;
  uint32_t window_used;
  uint32_t cont_stream; /* a header block awaiting CONTINUATION */
  struct stream st[MAX_STREAMS];
};

static int
write_all(int fd, const void *p, size_t n)
{
  const unsigned char *b = p;
  while (n > 0) {
    ssize_t k = write(fd, b, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    b += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Makes sure n bytes are buffered; 0, or -1 at end of stream. */
static int
need(struct conn *c, size_t n)
{
  if (c->len - c->off >= n)
    return 0;
  if (c->off > 0) {
    memmove(c->buf, c->buf + c->off, c->len - c->off);
    c->len -= c->off;
    c->off = 0;
  }
  if (n > c->cap) {
    unsigned char *nb = realloc(c->buf, n);
    if (!nb)
      return -1;
    c->buf = nb;
    c->cap = n;
  }
  while (c->len < n) {
    ssize_t k = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    c->len += (size_t)k;
  }
  return 0;
}

static void
put_frame_header(unsigned char *h, uint32_t len, int type, int flags,
                 uint32_t stream)
{
  h[0] = (unsigned char)(len >> 16);
  h[1] = (unsigned char)(len >> 8);
  h[2] = (unsigned char)len;
  h[3] = (unsigned char)type;
  h[4] = (unsigned char)flags;
  h[5] = (unsigned char)(stream >> 24 & 0x7f);
  h[6] = (unsigned char)(stream >> 16);
  h[7] = (unsigned char)(stream >> 8);
  h[8] = (unsigned char)stream;
}

static int
send_frame(int fd, int type, int flags, uint32_t stream, const void *p,
           uint32_t len)
{
  unsigned char f[9 + 64];
  put_frame_header(f, len, type, flags, stream);
  if (len > 0)
    memcpy(f + 9, p, len);
  return write_all(fd, f, 9 + len);
}

static int
window_update(int fd, uint32_t stream, uint32_t inc)
{
  unsigned char p[4] = {(unsigned char)(inc >> 24 & 0x7f),
                        (unsigned char)(inc >> 16), (unsigned char)(inc >> 8),
                        (unsigned char)inc};
  return send_frame(fd, FRAME_WINDOW_UPDATE, 0, stream, p, 4);
}

/* HEADERS, an empty message, trailers: one write. */
static int
respond(int fd, uint32_t stream)
{
  /* HPACK: indexed :status 200 (static 8); literal without indexing,
   * name index 31 (content-type); literal without indexing, new name. */
  static const unsigned char hdrs[] = {
      0x88, 0x0f, 0x10, 16, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i',
      'o', 'n', '/', 'g', 'r', 'p', 'c'};
  static const unsigned char msg[] = {0, 0, 0, 0, 0};
  static const unsigned char trl[] = {0x00, 11,  'g', 'r', 'p', 'c', '-',
                                      's',  't', 'a', 't', 'u', 's', 1, '0'};
  unsigned char out[3 * 9 + sizeof(hdrs) + sizeof(msg) + sizeof(trl)];
  size_t n = 0;
  put_frame_header(out + n, sizeof(hdrs), FRAME_HEADERS, FLAG_END_HEADERS,
                   stream);
  memcpy(out + n + 9, hdrs, sizeof(hdrs));
  n += 9 + sizeof(hdrs);
  put_frame_header(out + n, sizeof(msg), FRAME_DATA, 0, stream);
  memcpy(out + n + 9, msg, sizeof(msg));
  n += 9 + sizeof(msg);
  put_frame_header(out + n, sizeof(trl), FRAME_HEADERS,
                   FLAG_END_HEADERS | FLAG_END_STREAM, stream);
  memcpy(out + n + 9, trl, sizeof(trl));
  n += 9 + sizeof(trl);
  atomic_fetch_add_explicit(&n_calls, 1, memory_order_relaxed);
  return write_all(fd, out, n);
}

static struct stream *
stream_of(struct conn *c, uint32_t id)
{
  struct stream *free_st = NULL;
  for (int i = 0; i < MAX_STREAMS; i++) {
    if (c->st[i].id == id)
      return &c->st[i];
    if (!free_st && c->st[i].id == 0)
      free_st = &c->st[i];
  }
  if (!free_st)
    free_st = &c->st[id % MAX_STREAMS]; /* more than we expect: reuse */
  memset(free_st, 0, sizeof(*free_st));
  free_st->id = id;
  return free_st;
}

static void
stream_end(struct stream *s)
{
  memset(s, 0, sizeof(*s));
}

/* Counts the gRPC messages in a DATA payload. */
static void
count_messages(struct stream *s, const unsigned char *p, size_t n)
{
  atomic_fetch_add_explicit(&n_bytes, n, memory_order_relaxed);
  while (n > 0) {
    if (s->body_left > 0) {
      size_t k = n < s->body_left ? n : s->body_left;
      s->body_left -= (uint32_t)k;
      p += k;
      n -= k;
      continue;
    }
    s->hdr[s->hdr_have++] = *p++;
    n--;
    if (s->hdr_have == 5) {
      s->body_left = (uint32_t)s->hdr[1] << 24 | (uint32_t)s->hdr[2] << 16 |
                     (uint32_t)s->hdr[3] << 8 | s->hdr[4];
      s->hdr_have = 0;
      atomic_fetch_add_explicit(&n_messages, 1, memory_order_relaxed);
    }
  }
}

static void
serve(struct conn *c)
{
  /* Large stream windows, and the connection window opened wide. */
  static const unsigned char settings[] = {0, 4, 0x7f, 0xff, 0xff, 0xff};
  if (need(c, sizeof(preface) - 1) ||
      memcmp(c->buf, preface, sizeof(preface) - 1) != 0)
    return;
  c->off += sizeof(preface) - 1;
  if (send_frame(c->fd, FRAME_SETTINGS, 0, 0, settings, sizeof(settings)) ||
      window_update(c->fd, 0, 0x7fffffffu - 65535u))
    return;
  for (;;) {
    if (need(c, 9))
      return;
    const unsigned char *h = c->buf + c->off;
    uint32_t len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
    int type = h[3], flags = h[4];
    uint32_t sid = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 |
                    (uint32_t)h[7] << 8 | h[8]) & 0x7fffffffu;
    if (len > MAX_FRAME || need(c, 9 + (size_t)len))
      return;
    const unsigned char *p = c->buf + c->off + 9;
    c->off += 9 + (size_t)len;
    switch (type) {
    case FRAME_DATA: {
      size_t pad = 0, skip = 0;
      if ((flags & FLAG_PADDED) && len > 0) {
        pad = p[0];
        skip = 1;
      }
      struct stream *s = stream_of(c, sid);
      if (len >= skip + pad)
        count_messages(s, p + skip, len - skip - pad);
      c->window_used += len;
      if (c->window_used >= WINDOW_CHUNK) {
        if (window_update(c->fd, 0, c->window_used))
          return;
        c->window_used = 0;
      }
      if (flags & FLAG_END_STREAM) {
        stream_end(s);
        if (respond(c->fd, sid))
          return;
      }
      break;
    }
    case FRAME_HEADERS: {
      struct stream *s = stream_of(c, sid);
      if (!(flags & FLAG_END_HEADERS)) {
        c->cont_stream = sid;
        s->end_pending = flags & FLAG_END_STREAM;
      } else if (flags & FLAG_END_STREAM) {
        stream_end(s);
        if (respond(c->fd, sid))
          return;
      }
      break;
    }
    case FRAME_CONTINUATION:
      if ((flags & FLAG_END_HEADERS) && sid == c->cont_stream) {
        struct stream *s = stream_of(c, sid);
        c->cont_stream = 0;
        if (s->end_pending) {
          stream_end(s);
          if (respond(c->fd, sid))
            return;
        }
      }
      break;
    case FRAME_SETTINGS:
      if (!(flags & FLAG_ACK) &&
          send_frame(c->fd, FRAME_SETTINGS, FLAG_ACK, 0, NULL, 0))
        return;
      break;
    case FRAME_PING:
      if (!(flags & FLAG_ACK) && len == 8 &&
          send_frame(c->fd, FRAME_PING, FLAG_ACK, 0, p, 8))
        return;
      break;
    case FRAME_GOAWAY:
      return;
    default:
      break; /* PRIORITY, RST_STREAM, WINDOW_UPDATE: nothing to do */
    }
  }
}

static void *
conn_main(void *arg)
{
  struct conn *c = arg;
  struct tcp_info ti;
  socklen_t tlen = sizeof(ti);

  serve(c);
  memset(&ti, 0, sizeof(ti));
  if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) == 0) {
    atomic_fetch_add(&n_segs_in, ti.tcpi_segs_in);
    atomic_fetch_add(&n_bytes_in, ti.tcpi_bytes_received);
  }
  atomic_fetch_sub(&n_live, 1);
  close(c->fd);
  free(c->buf);
  free(c);
  return NULL;
}

static void
on_signal(int sig)
{
  (void)sig;
  stop = 1;
}

static int
write_port_file(const char *path, int port)
{
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return -1;
  fprintf(f, "{\"grpc\": %d}\n", port);
  if (fclose(f) != 0)
    return -1;
  return rename(tmp, path);
}

int
main(int argc, char **argv)
{
  int port = 0, opt;
  const char *port_file = NULL;
  while ((opt = getopt(argc, argv, "p:f:")) != -1) {
    if (opt == 'p')
      port = atoi(optarg);
    else if (opt == 'f')
      port_file = optarg;
    else {
      fprintf(stderr, "usage: bench_grpc_sink [-p PORT] [-f PORT_FILE]\n");
      return 2;
    }
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  socklen_t alen = sizeof(a);
  if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 64) != 0 ||
      getsockname(ls, (struct sockaddr *)&a, &alen) != 0) {
    perror("bench_grpc_sink: bind");
    return 1;
  }
  port = ntohs(a.sin_port);
  if (port_file && write_port_file(port_file, port) != 0) {
    perror("bench_grpc_sink: port file");
    return 1;
  }
  while (!stop) {
    struct pollfd pfd = {ls, POLLIN, 0};
    if (poll(&pfd, 1, 200) <= 0)
      continue;
    int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = calloc(1, sizeof(*c));
    pthread_t t;
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    atomic_fetch_add(&n_live, 1);
    if (pthread_create(&t, NULL, conn_main, c) != 0) {
      atomic_fetch_sub(&n_live, 1);
      close(fd);
      free(c);
      continue;
    }
    pthread_detach(t);
  }
  for (int i = 0; i < 200 && atomic_load(&n_live) > 0; i++)
    poll(NULL, 0, 10);
  printf("calls=%llu messages=%llu bytes=%llu segs_in=%llu bytes_in=%llu\n",
         (unsigned long long)atomic_load(&n_calls),
         (unsigned long long)atomic_load(&n_messages),
         (unsigned long long)atomic_load(&n_bytes),
         (unsigned long long)atomic_load(&n_segs_in),
         (unsigned long long)atomic_load(&n_bytes_in));
  fflush(stdout);
  return 0;
}
