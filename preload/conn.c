/* conn.c: connection table and the HTTP/1.x -> span state machine.
 *
 * Server side (accepted fds): bytes read feed a request parser, bytes
 * written feed a response parser. A request head opens an entry span; the
 * end of its response closes it and hands it to the sink.
 * Client side (connected fds): bytes written feed a request parser, bytes
 * read feed a response parser. A request head opens an exit span; the end
 * of its response closes it.
 *
 * Linking: an exit opened on a thread that is serving exactly one request
 * (struct sw_thread_ctx.inflight == 1) joins that request's segment as a
 * child of its entry span. Otherwise (event loops with several requests in
 * flight, or none) the exit gets a segment of its own: we never guess. */
#include "sw_common.h"

#include <arpa/inet.h>
#include <emmintrin.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conn.h"
#include "filter.h"
#include "http1.h"
#include "idstack.h"
#include "inject.h"
#include "sw8.h"
#include "sw_stats.h"
#include "trace.h"

enum { ROLE_SERVER = 1, ROLE_CLIENT = 2 };

struct sw_conn {
  /* 0 free, 1 held. One thread at a time works on a connection. */
  _Atomic uint32_t lock;
  /* Bumped on every new request and on slot reuse: a thread context that
   * names (slot, gen) names exactly one request. */
  _Atomic uint32_t gen;
  int fd;
  uint8_t role;
  uint8_t dead;      /* not HTTP, or contended: ignore until close */
  uint8_t span_open; /* a request is in flight (traced or ignored) */
  uint8_t ignored;   /* the in-flight request is not traced */
  uint32_t untraced; /* pipelined requests seen while one was open */
  int64_t req_start_ms;
  struct sw_thread_ctx *owner; /* server: thread that read the head */
  _Atomic int32_t next_span_id; /* server: ids of the open segment */
  char remote[SW_PEER_MAX];
  uint8_t inj_on;      /* an sw8 line is being inserted into the head */
  uint8_t ident_ready; /* span holds the exit's identity already */
  /* Client: bytes of a request head that req has parsed already, before
   * they were sent (send_prepare); feed_req() takes them without parsing
   * them again, and acts on the head with the last of them. */
  uint32_t req_ahead;
  struct sw_inject inj;
  struct sw_h1 req; /* request direction */
  struct sw_h1 rsp; /* response direction */
  struct sw_span_rec span;
};

_Atomic uint32_t *sw_conn_map;
_Atomic uint32_t sw_conn_map_len;

static const struct sw_config *cfg;
static struct sw_filter filt; /* cfg's ignore lists, prepared */
static struct sw_conn *slots;
static uint32_t nslots;
/* Free slots (idstack.h); slot_link is the stack's link array. */
static _Atomic uint64_t free_head;
static _Atomic uint32_t *slot_link;
static _Atomic int first_conn_seen;
static size_t map_len_bytes, slots_bytes;
/* base64(service) "-" base64(instance) "-", the middle of every sw8 value
 * we send (sw8_encode_svc()): made at init and again in a forked child,
 * whose default instance name has changed. svc_len 0: none (a name is
 * empty), then no sw8 is sent, as sw8_encode() would send none. */
static char svc_b64[SW8_SVC_MAX];
static size_t svc_len;

static void
make_svc(void)
{
  int n = sw8_encode_svc(svc_b64, sizeof(svc_b64), cfg->service,
                         cfg->instance);
  svc_len = n > 0 ? (size_t)n : 0;
}

int
sw_conn_sw8_encode(char *out, size_t cap, const struct sw_span_rec *s,
                   const char *endpoint)
{
  if (svc_len == 0) {
    if (cap > 0)
      out[0] = '\0';
    return -1;
  }
  return sw8_encode_pre(out, cap, s->trace_id, s->segment_id, s->span_id,
                        svc_b64, svc_len, endpoint, s->peer);
}

static inline uint32_t
map_len(void)
{
  return atomic_load_explicit(&sw_conn_map_len, memory_order_acquire);
}

static void *
map_zeroed(size_t len)
{
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void
slot_push(uint32_t idx)
{
  sw_idstack_push(&free_head, slot_link, idx);
}

/* Slots never used yet are handed out from a high-water mark, so the
 * pool's memory is touched only as far as connections were ever open at
 * once (init writes nothing; neither does a forked child). */
static _Atomic uint32_t slots_used;

static int64_t
slot_pop(void)
{
  int64_t top = sw_idstack_pop(&free_head, slot_link);
  if (top >= 0)
    return top;
  uint32_t i = atomic_load_explicit(&slots_used, memory_order_relaxed);
  while (i < nslots) {
    if (atomic_compare_exchange_weak_explicit(&slots_used, &i, i + 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      return i;
  }
  return -1;
}

int
sw_conn_init(const struct sw_config *c, uint32_t max_fds, uint32_t n)
{
  cfg = c;
  sw_filter_prepare(&filt, c);
  make_svc();
  map_len_bytes = (size_t)max_fds * sizeof(*sw_conn_map);
  slots_bytes = (size_t)n * sizeof(*slots);
  sw_conn_map = map_zeroed(map_len_bytes);
  slots = map_zeroed(slots_bytes);
  slot_link = map_zeroed((size_t)n * sizeof(*slot_link));
  if (!sw_conn_map || !slots || !slot_link)
    return -12; /* -ENOMEM */
  nslots = n;
  atomic_store_explicit(&free_head, 0, memory_order_relaxed);
  atomic_store_explicit(&slots_used, 0, memory_order_relaxed);
  /* Release: a hook that sees the length sees the map (conn.h). */
  atomic_store_explicit(&sw_conn_map_len, max_fds, memory_order_release);
  return 0;
}

void
sw_conn_atfork_child(void)
{
  if (!slots)
    return;
  make_svc();
  /* Private anonymous memory reads back as zeros after MADV_DONTNEED:
   * the child forgets every connection without copying a page. */
  if (madvise(sw_conn_map, map_len_bytes, MADV_DONTNEED) != 0)
    memset(sw_conn_map, 0, map_len_bytes);
  if (madvise(slots, slots_bytes, MADV_DONTNEED) != 0)
    memset(slots, 0, slots_bytes);
  atomic_store_explicit(&free_head, 0, memory_order_relaxed);
  atomic_store_explicit(&slots_used, 0, memory_order_relaxed);
  atomic_store_explicit(&first_conn_seen, 0, memory_order_relaxed);
}

/* Decimal digits of v (v < 100000) at out; returns their number. */
static size_t
put_port(char *out, unsigned v)
{
  char d[5];
  size_t n = 0, i;
  do {
    d[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (i = 0; i < n; i++)
    out[i] = d[n - 1 - i];
  return n;
}

/* "a.b.c.d" of a network-order IPv4 address; returns its length. */
static size_t
put_ipv4(char *out, const unsigned char *b)
{
  size_t o = 0;
  for (int i = 0; i < 4; i++) {
    unsigned v = b[i];
    if (v >= 100) {
      out[o++] = (char)('0' + v / 100);
      v %= 100;
      out[o++] = (char)('0' + v / 10);
    } else if (v >= 10) {
      out[o++] = (char)('0' + v / 10);
    }
    out[o++] = (char)('0' + v % 10);
    out[o++] = '.';
  }
  return o - 1;
}

/* out = ip + ":" + port, "[ip]:port" when bracket; 0 when it fits cap,
 * else -1 with out empty. */
static int
put_hostport(char *out, size_t cap, const char *ip, size_t iplen, int bracket,
             unsigned port)
{
  char digits[5];
  size_t nd = put_port(digits, port);
  size_t need = iplen + (bracket ? 2 : 0) + 1 + nd + 1;
  if (need > cap)
    return -1;
  size_t o = 0;
  if (bracket)
    out[o++] = '[';
  memcpy(out + o, ip, iplen);
  o += iplen;
  if (bracket)
    out[o++] = ']';
  out[o++] = ':';
  memcpy(out + o, digits, nd);
  out[o + nd] = '\0';
  return 0;
}

int
sw_format_addr(char *out, size_t cap, const struct sockaddr *sa,
               socklen_t len)
{
  char ip[INET6_ADDRSTRLEN];
  if (cap > 0)
    out[0] = '\0';
  if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    size_t n = put_ipv4(ip, (const unsigned char *)&in->sin_addr);
    return put_hostport(out, cap, ip, n, 0, ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    const unsigned char *b = in6->sin6_addr.s6_addr;
    unsigned port = ntohs(in6->sin6_port);
    /* An IPv4-mapped peer reads better as plain IPv4 (what inet_ntop
     * writes as "::ffff:a.b.c.d"). */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
                                             0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(b, mapped, sizeof(mapped))) {
      size_t n = put_ipv4(ip, b + 12);
      return put_hostport(out, cap, ip, n, 0, port);
    }
    if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
      return -1;
    return put_hostport(out, cap, ip, strlen(ip), 1, port);
  }
  return -1;
}

/* ------------------------------------------------------------------ slots */

static inline struct sw_conn *lock_fd_any(int fd);

static inline struct sw_conn *
lock_fd(int fd)
{
  struct sw_conn *c = lock_fd_any(fd);
  if (c && c->dead) {
    atomic_store_explicit(&c->lock, 0, memory_order_release);
    return NULL;
  }
  return c;
}

/* Like lock_fd(), but also hands out a connection that is no longer
 * traced: an sw8 line already partly sent must still be finished. */
static inline __attribute__((always_inline)) struct sw_conn *
lock_fd_any(int fd)
{
  if ((unsigned)fd >= map_len())
    return NULL;
  uint32_t v = atomic_load_explicit(&sw_conn_map[fd], memory_order_acquire);
  if (v == 0)
    return NULL;
  struct sw_conn *c = &slots[(v & ~SW_CONN_CLIENT_BIT) - 1];
  /* Acquire pairs with the release in unlock(): we see everything the
   * previous holder wrote. */
  if (atomic_exchange_explicit(&c->lock, 1, memory_order_acquire) != 0) {
    /* Another thread is on this connection right now (full-duplex use
     * from two threads). Never wait in a hook: stop tracing it. */
    c->dead = 1; /* benign race: only ever set to 1 */
    SW_STAT_INC(conns_contended);
    return NULL;
  }
  if (c->fd != fd) {
    atomic_store_explicit(&c->lock, 0, memory_order_release);
    return NULL;
  }
  return c;
}

static void
unlock(struct sw_conn *c)
{
  atomic_store_explicit(&c->lock, 0, memory_order_release);
}

static void finish_request(struct sw_conn *c);

/* Takes the slot out of the map and frees it. Waits a bounded time for a
 * thread that is inside a hook on it (holders never block, so this is a
 * few hundred nanoseconds at most); past the bound the slot is leaked,
 * not corrupted. */
static void
release_fd(int fd, int finish)
{
  if ((unsigned)fd >= map_len())
    return;
  uint32_t v = atomic_exchange_explicit(&sw_conn_map[fd], 0,
                                        memory_order_acq_rel);
  if (v == 0)
    return;
  v &= ~SW_CONN_CLIENT_BIT;
  struct sw_conn *c = &slots[v - 1];
  for (int spins = 0;; spins++) {
    uint32_t exp = 0;
    if (atomic_compare_exchange_weak_explicit(&c->lock, &exp, 1,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      break;
    if (spins > 100000) {
      SW_STAT_INC(conns_untracked);
      return;
    }
  }
  /* A request still open at close ends here: a close-delimited body, a
   * client that gave up, or a server that never answered. */
  if (finish && c->span_open)
    finish_request(c);
  c->fd = -1;
  unlock(c);
  slot_push(v - 1);
}

static void
track(int fd, int role, const struct sockaddr *peer, socklen_t len)
{
  if ((unsigned)fd >= map_len()) {
    SW_STAT_INC(conns_untracked);
    return;
  }
  /* A stale entry: the fd was closed by a path we do not see. */
  release_fd(fd, 0);
  int64_t idx = slot_pop();
  if (idx < 0) {
    SW_STAT_INC(conns_untracked);
    return;
  }
  struct sw_conn *c = &slots[idx];
  c->fd = fd;
  c->role = (uint8_t)role;
  c->dead = 0;
  c->span_open = 0;
  c->ignored = 0;
  c->untraced = 0;
  c->inj_on = 0;
  c->ident_ready = 0;
  c->req_ahead = 0;
  c->owner = NULL;
  atomic_fetch_add_explicit(&c->gen, 1, memory_order_relaxed);
  c->remote[0] = '\0';
  if (peer)
    sw_format_addr(c->remote, sizeof(c->remote), peer, len);
  if (!c->remote[0]) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    /* Raw syscall: nothing of ours is ever traced or re-entered. */
    if (syscall(SYS_getpeername, fd, (struct sockaddr *)&ss, &sl) == 0)
      sw_format_addr(c->remote, sizeof(c->remote), (struct sockaddr *)&ss, sl);
  }
  /* An entry's peer is the remote address, on every request of the
   * connection: span_common() leaves it in place. */
  if (role == ROLE_SERVER)
    sw_span_str_copy(c->span.peer, c->remote, sizeof(c->span.peer));
  sw_h1_init(&c->req, SW_H1_REQUEST);
  sw_h1_init(&c->rsp, SW_H1_RESPONSE);
  /* Release: the slot's contents are visible to whoever loads the map
   * entry with acquire in lock_fd(). */
  atomic_store_explicit(&sw_conn_map[fd],
                        ((uint32_t)idx + 1) |
                            (role == ROLE_CLIENT ? SW_CONN_CLIENT_BIT : 0),
                        memory_order_release);
  if (!atomic_load_explicit(&first_conn_seen, memory_order_relaxed) &&
      !atomic_exchange_explicit(&first_conn_seen, 1, memory_order_relaxed))
    sw_sink_first_conn();
}


void
sw_conn_on_accept(int fd, const struct sockaddr *peer, socklen_t len)
{
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (!peer || !sw_conn_inet(peer, len)) {
    if (syscall(SYS_getpeername, fd, (struct sockaddr *)&ss, &sl) != 0)
      return;
    peer = (struct sockaddr *)&ss;
    len = sl;
    if (!sw_conn_inet(peer, len))
      return; /* AF_UNIX and friends: not tracked */
  }
  track(fd, ROLE_SERVER, peer, len);
}

void
sw_conn_on_connect(int fd, const struct sockaddr *peer, socklen_t len)
{
  if (!sw_conn_inet(peer, len))
    return;
  int type = 0;
  socklen_t tl = sizeof(type);
  /* Only stream sockets: DNS resolvers connect() UDP sockets too. */
  if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
      type != SOCK_STREAM)
    return;
  track(fd, ROLE_CLIENT, peer, len);
}

void
sw_conn_on_close(int fd)
{
  release_fd(fd, 1);
}

/* ------------------------------------------------------------------ spans */

/* Length of the path part of a request target (up to '?' or '#'). */
static size_t
path_len(const char *t)
{
  size_t n = strcspn(t, "?#");
  return n;
}

/* What the spans and the filter take from a request head, worked out
 * once per request. */
struct head {
  const char *target; /* origin form */
  size_t tlen;        /* strlen(target) */
  size_t plen;        /* path_len(target) */
  char auth[SW_PEER_MAX];
};

/* A bounded strlen for fields another thread might be rewriting. */
static void
copy_field(char *dst, size_t cap, const char *src, size_t srccap)
{
  sw_strlcpyn(dst, cap, src, strnlen(src, srccap));
}

/* The http.url tag: "http://" host, then the target with its query string
 * kept up to the params threshold (negative: unlimited); the field size
 * bounds it anyway. */
static void
fill_url(struct sw_span_rec *s, const char *host, size_t hlen,
         const struct head *h)
{
  size_t n = 0;
  if (hlen) {
    /* host is shorter than SW_PEER_MAX: it always fits. */
    memcpy(s->url, "http://", 7);
    memcpy(s->url + 7, host, hlen);
    n = 7 + hlen;
  }
  size_t tl = h->tlen;
  if (cfg->params_length_threshold >= 0 &&
      tl - h->plen > (size_t)cfg->params_length_threshold + 1)
    tl = h->plen + (size_t)cfg->params_length_threshold + 1;
  sw_strlcpyn(s->url + n, sizeof(s->url) - n, h->target, tl);
}

/* An absolute-form target ("http://[user@]host/path?q", sent to proxies)
 * is split into its authority, without userinfo, and the origin-form
 * rest. Anything else is returned as it is, with auth empty. */
static SW_COLD const char *absolute_form(const char *t, char *auth,
                                         size_t cap);

static inline const char *
origin_form(const char *t, char *auth, size_t cap)
{
  auth[0] = '\0';
  if (SW_LIKELY(t[0] == '/' || t[0] == '*'))
    return t;
  return absolute_form(t, auth, cap);
}

/* origin_form() of anything else: out of line, as only requests to a
 * proxy have it. */
static const char *
absolute_form(const char *t, char *auth, size_t cap)
{
  const char *p = strstr(t, "://");
  if (!p || p - t > 8)
    return t;
  p += 3;
  size_t alen = strcspn(p, "/?#");
  const char *h = p;
  for (const char *q = p; q < p + alen; q++)
    if (*q == '@')
      h = q + 1; /* userinfo ends at the last '@' of the authority */
  sw_strlcpyn(auth, cap, h, (size_t)(p + alen - h));
  return p[alen] ? p + alen : "/";
}

/* Bit i set where the 16 bytes v hold c. */
static inline unsigned
eq16(__m128i v, char c)
{
  return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

/* strlen(t) and path_len(t) in one pass, 16 bytes at a time, for a
 * string held in a buffer of cap bytes (nothing past it is read). 0 when
 * its end is not within the whole 16-byte blocks of the buffer: the
 * caller then asks strlen() and path_len(). */
SW_STATIC int
scan_target(const char *t, size_t cap, size_t *tlen, size_t *plen)
{
  size_t p = SIZE_MAX;
  for (size_t o = 0; o + 16 <= cap; o += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + o));
    unsigned nul = eq16(v, '\0');
    unsigned q = eq16(v, '?') | eq16(v, '#');
    if (nul)
      q &= nul ^ (nul - 1); /* only what comes before the NUL */
    if (q && p == SIZE_MAX)
      p = o + (size_t)__builtin_ctz(q);
    if (nul) {
      *tlen = o + (size_t)__builtin_ctz(nul);
      *plen = p < *tlen ? p : *tlen;
      return 1;
    }
  }
  return 0;
}

/* 1 when valid_hostport(h) holds and h has no '@' and is shorter than
 * SW_PEER_MAX (the Host value span_common() takes as it is), with
 * strlen(h) in *len: the common case, in one pass over the 16-byte
 * blocks of h's buffer (cap bytes; nothing past it is read). 0 when the
 * caller must ask the slow way (brackets, userinfo, anything not valid,
 * a long value, an end past the whole blocks). */
SW_STATIC int
scan_host(const char *h, size_t cap, size_t *len)
{
  if (h[0] == '[')
    return 0;
  for (size_t o = 0; o + 16 <= cap && o < SW_PEER_MAX; o += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(h + o));
    unsigned stop = eq16(v, '\0') | eq16(v, ':') | eq16(v, '@') |
                    eq16(v, ' ') | eq16(v, '\t') | eq16(v, '/') |
                    eq16(v, '?') | eq16(v, '#');
    if (!stop)
      continue;
    size_t i = o + (size_t)__builtin_ctz(stop);
    if (h[i] == ':') {
      /* 1 to 5 digits, then the end: the first byte after ':' that is
       * not a digit must be the NUL, 1 to 5 bytes on. */
      size_t j;
      if (i + 17 <= cap) {
        __m128i p = _mm_loadu_si128((const __m128i *)(const void *)(h + i + 1));
        unsigned digit = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpgt_epi8(p, _mm_set1_epi8('0' - 1)),
                          _mm_cmplt_epi8(p, _mm_set1_epi8('9' + 1))));
        j = i + 1 + (size_t)__builtin_ctz(~digit | 0x10000u);
      } else {
        for (j = i + 1; j < i + 7 && h[j] >= '0' && h[j] <= '9'; j++)
          ;
      }
      if (j == i + 1 || j - i - 1 > 5 || h[j] != '\0')
        return 0;
      i = j;
    } else if (h[i] != '\0') {
      return 0;
    }
    if (i == 0 || i >= SW_PEER_MAX)
      return 0;
    *len = i;
    return 1;
  }
  return 0;
}

static void
head_parse(struct head *h, const struct sw_h1_msg *m)
{
  h->target = origin_form(m->target, h->auth, sizeof(h->auth));
  if (h->target == m->target &&
      scan_target(m->target, sizeof(m->target), &h->tlen, &h->plen))
    return;
  h->tlen = strlen(h->target);
  h->plen = path_len(h->target);
}

/* The operation name goes straight into the span (the filter reads it
 * there); an ignored request's span is never sent. Returns 1 when the
 * request is ignored. */
static int
head_ignored(struct sw_conn *c, const struct sw_h1_msg *m,
             const struct head *h)
{
  size_t oplen = sw_strlcpyn(c->span.op, sizeof(c->span.op), h->target,
                             h->plen);
  if (sw_filter_quick_pass(&filt, c->span.op, oplen))
    return 0;
  return sw_filter_match(&filt, m->method, c->span.op, oplen);
}

/* Removes "user[:password]@" from a host[:port] value. */
static void
strip_userinfo(char *h)
{
  char *at = strrchr(h, '@');
  if (at)
    memmove(h, at + 1, strlen(at + 1) + 1);
}

/* 1 for "host", "host:port", "[v6]" or "[v6]:port" (a port is 1 to 5
 * digits), with none of '@', blank, tab, '/', '?', '#' anywhere. Anything
 * else (a value cut inside long userinfo, whose '@' was lost, looks like
 * "user:passw") is never recorded. */
SW_STATIC int
valid_hostport(const char *h)
{
  const char *p;
  if (h[0] == '[') {
    p = h + 1 + strcspn(h + 1, "]@ \t/?#");
    if (*p != ']')
      return 0;
    p++;
    if (*p == '\0')
      return 1;
  } else {
    if (h[0] == '\0')
      return 0;
    p = h + strcspn(h, ":@ \t/?#");
    if (*p == '\0')
      return 1;
  }
  if (*p != ':')
    return 0;
  /* Only digits may follow: a second ':' or a bad character is refused
   * with them. */
  const char *port = ++p;
  while (*p >= '0' && *p <= '9')
    p++;
  return *p == '\0' && p > port && p - port <= 5;
}

/* Safe mode: deletes "user:pass@" after every "://" in s, like the Python
 * agent's re.sub(r'://(.*?)@', '://', text) but confined to the
 * authority. */
static void
scrub_text(char *s)
{
  char *p = s;
  while ((p = strstr(p, "://")) != NULL) {
    char *q = p + 3;
    /* Userinfo lives in the authority: an '@' after the next '/', '?',
     * '#' or blank belongs to something else (the Python agent's regex
     * would eat the host of "http://h/p?e=a@b"; we do not). */
    size_t alen = strcspn(q, "/?# \t");
    char *at = memchr(q, '@', alen);
    if (at) {
      char *last = at;
      while ((at = memchr(last + 1, '@', (size_t)(q + alen - last - 1))))
        last = at;
      memmove(q, last + 1, strlen(last + 1) + 1);
    }
    p = q;
  }
}

void
sw_span_scrub(struct sw_span_rec *s)
{
  if (!cfg->log_safe_mode)
    return;
  scrub_text(s->url);
  scrub_text(s->op);
  scrub_text(s->errlog);
}

/* Fields every span of a request has, from the request head (s->op is
 * already set). Userinfo never reaches a span: not from an absolute-form
 * target (origin_form() drops it from auth), not from a Host header. */
static void
span_common(struct sw_conn *c, const struct sw_h1_msg *m,
            const struct head *h, int kind, int component)
{
  struct sw_span_rec *s = &c->span;
  s->kind = (uint8_t)kind;
  s->layer = SW_LAYER_HTTP;
  s->component = component;
  s->is_error = 0;
  s->has_ref = 0;
  s->status = 0;
  s->nspans = 0;
  s->start_ms = c->req_start_ms;
  s->end_ms = 0;
  s->errlog[0] = '\0';
  /* m->method is terminated within its SW_METHOD_MAX bytes (http1.h):
   * the whole buffer is the string and bytes a reader never looks at. */
  _Static_assert(sizeof(m->method) == sizeof(s->method), "method sizes");
  memcpy(s->method, m->method, sizeof(s->method));
  s->method[sizeof(s->method) - 1] = '\0';
  /* The Host header as it would be cut to SW_PEER_MAX and stripped of
   * userinfo; copied only when either changes it. */
  char hdr[SW_PEER_MAX];
  const char *host;
  size_t host_len;
  if (h->auth[0] != '\0' && valid_hostport(h->auth)) {
    host = h->auth;
    host_len = strlen(host);
  } else if (scan_host(m->host, sizeof(m->host), &host_len)) {
    host = m->host; /* the common value, looked at in one pass */
  } else {
    const char *hv = m->host;
    size_t hl = strnlen(m->host, sizeof(m->host));
    if (hl >= sizeof(hdr) || memchr(m->host, '@', hl)) {
      sw_strlcpyn(hdr, sizeof(hdr), m->host, hl);
      strip_userinfo(hdr);
      hv = hdr;
    }
    host = valid_hostport(hv) ? hv : c->remote;
    host_len = strlen(host);
  }
  /* An entry's peer is in place already (track()). */
  if (kind == SW_SPAN_EXIT) {
    if (host != c->remote)
      sw_strlcpyn(s->peer, sizeof(s->peer), host, host_len);
    else
      sw_span_str_copy(s->peer, c->remote, sizeof(s->peer));
  }
  fill_url(s, host, host_len, h);
}

static void
start_entry(struct sw_conn *c)
{
  const struct sw_h1_msg *m = &c->req.msg;
  struct sw_span_rec *s = &c->span;
  uint32_t gen = atomic_fetch_add_explicit(&c->gen, 1,
                                           memory_order_relaxed) + 1;
  struct sw_thread_ctx *t = sw_thread_ctx();
  c->owner = t;
  c->span_open = 1;
  if (t) {
    atomic_fetch_add_explicit(&t->inflight, 1, memory_order_relaxed);
    atomic_store_explicit(&t->entry_slot, (uint32_t)(c - slots),
                          memory_order_relaxed);
    atomic_store_explicit(&t->entry_gen, gen, memory_order_relaxed);
  }
  struct head h;
  head_parse(&h, m);
  c->ignored = (uint8_t)head_ignored(c, m, &h);
  if (c->ignored) {
    SW_STAT_INC(requests_ignored);
    return;
  }
  span_common(c, m, &h, SW_SPAN_ENTRY, SW_COMPONENT_HTTP);
  s->span_id = 0;
  s->parent_span_id = -1;
  atomic_store_explicit(&c->next_span_id, 1, memory_order_relaxed);
  if (m->sw8_present) {
    if (!m->sw8_too_long &&
        sw8_decode(m->sw8, strlen(m->sw8), &s->ref) == 0) {
      s->has_ref = 1;
      sw_strlcpy(s->trace_id, s->ref.trace_id, sizeof(s->trace_id));
    } else {
      SW_STAT_INC(sw8_invalid);
    }
  }
  if (!s->has_ref)
    sw_trace_new_ids(s->trace_id, s->segment_id);
  else
    sw_trace_new_id(s->segment_id);
}

int
sw_conn_ignored(const char *method, const char *op)
{
  return sw_filter_match(&filt, method, op, op ? strlen(op) : 0);
}

/* The entry this thread is serving, if it serves exactly one. */
static struct sw_conn *
thread_entry(void)
{
  struct sw_thread_ctx *t = sw_thread_ctx();
  if (!t || atomic_load_explicit(&t->inflight, memory_order_relaxed) != 1)
    return NULL;
  uint32_t i = atomic_load_explicit(&t->entry_slot, memory_order_relaxed);
  uint32_t g = atomic_load_explicit(&t->entry_gen, memory_order_relaxed);
  if (i >= nslots)
    return NULL;
  struct sw_conn *p = &slots[i];
  if (atomic_load_explicit(&p->gen, memory_order_relaxed) != g ||
      p->role != ROLE_SERVER || !p->span_open)
    return NULL;
  return p;
}

int
sw_conn_exit_identity(struct sw_span_rec *s, char *parent_endpoint,
                      size_t cap)
{
  struct sw_conn *p = thread_entry();
  if (p && p->ignored)
    return 1; /* the request being served is not traced */
  if (p) {
    copy_field(s->trace_id, sizeof(s->trace_id), p->span.trace_id,
               sizeof(p->span.trace_id));
    copy_field(s->segment_id, sizeof(s->segment_id), p->span.segment_id,
               sizeof(p->span.segment_id));
    s->span_id = atomic_fetch_add_explicit(&p->next_span_id, 1,
                                           memory_order_relaxed);
    s->parent_span_id = 0;
    s->nspans = 0;
    if (parent_endpoint)
      copy_field(parent_endpoint, cap, p->span.op, sizeof(p->span.op));
  } else {
    sw_trace_new_ids(s->trace_id, s->segment_id);
    s->span_id = 0;
    s->parent_span_id = -1;
    s->nspans = 1;
    /* No entry: the spec's parent endpoint is the first entry span's
     * name; with none, name the exit itself (as the Python agent does). */
    if (parent_endpoint)
      sw_strlcpy(parent_endpoint, s->op, cap);
  }
  return 0;
}

/* Opens the exit span of the request head m, or marks it ignored. */
static void
open_exit(struct sw_conn *c, const struct sw_h1_msg *m, char *endpoint,
          size_t cap, int count)
{
  struct head h;
  head_parse(&h, m);
  c->ignored = (uint8_t)head_ignored(c, m, &h);
  if (!c->ignored) {
    span_common(c, m, &h, SW_SPAN_EXIT, SW_COMPONENT_HTTPCLIENT);
    c->ignored = (uint8_t)sw_conn_exit_identity(&c->span, endpoint, cap);
  }
  if (c->ignored && count)
    SW_STAT_INC(requests_ignored);
}

static void
start_exit(struct sw_conn *c)
{
  c->span_open = 1;
  c->owner = NULL;
  if (c->ident_ready) {
    /* Opened before the head went out, to carry its sw8 header. */
    c->ident_ready = 0;
    return;
  }
  open_exit(c, &c->req.msg, NULL, 0, 1);
}

static void
finish_request(struct sw_conn *c)
{
  struct sw_span_rec *s = &c->span;
  if (!c->span_open)
    return;
  c->span_open = 0;
  if (c->role == ROLE_SERVER && c->owner)
    atomic_fetch_sub_explicit(&c->owner->inflight, 1, memory_order_relaxed);
  c->owner = NULL;
  if (c->ignored) {
    c->ignored = 0;
    return;
  }
  s->end_ms = sw_now_ms();
  s->status = c->rsp.msg.status;
  if (c->role == ROLE_SERVER) {
    s->is_error = s->status >= 500;
    s->nspans = atomic_load_explicit(&c->next_span_id, memory_order_relaxed);
  } else {
    /* No response at all is a failed call. */
    s->is_error = s->status >= 500 || s->status == 0;
    if (s->status == 0)
      sw_strlcpy(s->errlog, "connection closed before a response",
                 sizeof(s->errlog));
  }
  sw_span_scrub(s);
  /* The byte feeds keep errno as they found it (conn.h), and the sink is
   * the one call on their paths that may not (a futex wake). */
  int saved = errno;
  sw_sink_span(s);
  errno = saved;
}

/* ------------------------------------------------------------- byte feeds */

/* Bytes that are not HTTP/1.x: close what is open and stop tracing. */
static void
parse_failed(struct sw_conn *c)
{
  SW_STAT_INC(parse_errors);
  if (c->span_open)
    finish_request(c);
  c->dead = 1;
}

/* A response completed: it answers the oldest outstanding request, which
 * is the open span if there is one (see feed_req on pipelining). */
static void
response_done(struct sw_conn *c)
{
  if (c->span_open)
    finish_request(c);
  else if (c->untraced > 0)
    c->untraced--;
}

/* The head of a request was read (server) or sent (client). */
static void
request_head(struct sw_conn *c)
{
  if (c->span_open || c->untraced) {
    /* Pipelined: a request arrived before the previous response
     * completed. Only the oldest outstanding request is traced, so
     * responses, which come in request order, pair up exactly. */
    c->untraced++;
  } else {
    /* method is a buffer of SW_METHOD_MAX bytes: the 5 compared are
     * in it. */
    if (!memcmp(c->req.msg.method, "HEAD", 5))
      sw_h1_expect_no_body(&c->rsp);
    if (c->role == ROLE_SERVER)
      start_entry(c);
    else
      start_exit(c);
  }
}

/* Request direction: server reads it, client writes it. */
static void
feed_req(struct sw_conn *c, const char *buf, size_t len)
{
  if (SW_UNLIKELY(c->req_ahead != 0)) {
    /* A head parsed before it was sent: its bytes are not parsed again,
     * and the head counts as sent with the last of them. */
    size_t k = len < c->req_ahead ? len : c->req_ahead;
    c->req_ahead -= (uint32_t)k;
    buf += k;
    len -= k;
    if (c->req_ahead == 0 && !c->dead)
      request_head(c);
  }
  /* Every event consumes at least one byte, NEED_MORE consumes all. */
  while (len > 0 && !c->dead) {
    /* (A head parsed before it was sent never starts here: it has its
     * start time already.) */
    if (!sw_h1_in_message(&c->req))
      c->req_start_ms = sw_now_ms();
    size_t used = 0;
    int rc = sw_h1_feed(&c->req, buf, len, &used);
    if (rc == SW_H1_ERROR) {
      parse_failed(c);
      return;
    }
    buf += used;
    len -= used;
    if (rc & SW_H1_HEAD)
      request_head(c);
  }
}

/* Response direction: server writes it, client reads it. */
static void
feed_rsp(struct sw_conn *c, const char *buf, size_t len)
{
  while (len > 0 && !c->dead) {
    size_t used = 0;
    int rc = sw_h1_feed(&c->rsp, buf, len, &used);
    if (rc == SW_H1_ERROR) {
      parse_failed(c);
      return;
    }
    buf += used;
    len -= used;
    if (rc & SW_H1_DONE)
      response_done(c);
  }
}

static void
on_bytes(int fd, const void *buf, size_t n, int incoming)
{
  struct sw_conn *c = lock_fd(fd);
  if (!c)
    return;
  if ((c->role == ROLE_SERVER) == incoming)
    feed_req(c, buf, n);
  else
    feed_rsp(c, buf, n);
  unlock(c);
}

static void
on_iov(int fd, const struct iovec *iov, int cnt, size_t n, int incoming)
{
  struct sw_conn *c = lock_fd(fd);
  if (!c)
    return;
  for (int i = 0; i < cnt && n > 0 && !c->dead; i++) {
    size_t k = iov[i].iov_len < n ? iov[i].iov_len : n;
    if (k == 0)
      continue;
    if ((c->role == ROLE_SERVER) == incoming)
      feed_req(c, iov[i].iov_base, k);
    else
      feed_rsp(c, iov[i].iov_base, k);
    n -= k;
  }
  unlock(c);
}

void
sw_conn_on_recv(int fd, const void *buf, size_t n)
{
  on_bytes(fd, buf, n, 1);
}

void
sw_conn_on_send(int fd, const void *buf, size_t n)
{
  on_bytes(fd, buf, n, 0);
}

void
sw_conn_on_recv_iov(int fd, const struct iovec *iov, int cnt, size_t n)
{
  on_iov(fd, iov, cnt, n, 1);
}

void
sw_conn_on_send_iov(int fd, const struct iovec *iov, int cnt, size_t n)
{
  on_iov(fd, iov, cnt, n, 0);
}

void
sw_conn_on_sendfile(int fd, size_t n)
{
  struct sw_conn *c = lock_fd(fd);
  if (!c)
    return;
  /* Only a server's response body goes out through sendfile here. */
  int rc = c->role == ROLE_SERVER ? sw_h1_skip(&c->rsp, n) : SW_H1_ERROR;
  if (rc == SW_H1_ERROR)
    parse_failed(c);
  else if (rc & SW_H1_DONE)
    response_done(c);
  unlock(c);
}

void
sw_conn_on_eof(int fd)
{
  struct sw_conn *c = lock_fd(fd);
  if (!c)
    return;
  if (c->role == ROLE_CLIENT && sw_h1_eof(&c->rsp) == SW_H1_DONE)
    finish_request(c);
  unlock(c);
}

/* ---------------------------------------------------------- sw8 injection */

int
sw_conn_send_prepare(int fd, const struct iovec *iov, int cnt, size_t n,
                     struct iovec *out, int *nout, size_t *app_before,
                     size_t *line_rest)
{
  struct sw_conn *c = lock_fd_any(fd);
  if (!c)
    return 0;
  int want = 0;
  if (c->role != ROLE_CLIENT)
    goto out;
  if (c->inj_on && cnt > SW_INJECT_MAX_IOV) {
    /* A line is due: send the first entries only (a shorter write is
     * legal), never the application's bytes without the line. */
    cnt = SW_INJECT_MAX_IOV;
    n = 0;
    for (int i = 0; i < cnt; i++)
      n += iov[i].iov_len;
  }
  if (!c->inj_on) {
    if (c->dead || cnt > SW_INJECT_MAX_IOV)
      goto out;
    /* Only a complete head at the very start of a request, written in one
     * call, with no sw8 of its own (an SDK in the app) is touched. */
    if (!cfg->inject_headers || c->span_open || c->untraced ||
        c->req_ahead || sw_h1_in_message(&c->req))
      goto out;
    size_t head_len = sw_inject_head_len(iov, cnt, n);
    if (head_len == 0)
      goto out;
    /* Parsed into the connection's own parser, which is between
     * messages: when the bytes go out, feed_req() takes them as parsed
     * (req_ahead), whether the line goes in or not. */
    size_t off = 0;
    int rc = SW_H1_NEED_MORE;
    for (int i = 0; i < cnt && off < head_len && rc == SW_H1_NEED_MORE; i++) {
      size_t len = iov[i].iov_len;
      if (len > head_len - off)
        len = head_len - off;
      size_t used = 0;
      rc = sw_h1_feed(&c->req, iov[i].iov_base, len, &used);
      off += used;
    }
    if (rc < 0 || !(rc & SW_H1_HEAD) || off != head_len) {
      /* Not a plain head: back between messages (nothing of a request
       * parser outlives its message), to parse the bytes as they are
       * sent, as without injection. */
      sw_h1_init(&c->req, SW_H1_REQUEST);
      goto out;
    }
    c->req_ahead = (uint32_t)head_len;
    c->req_start_ms = sw_now_ms();
    if (c->req.msg.sw8_present)
      goto out; /* the application's own: sent as it is */
    char endpoint[SW_OP_MAX];
    /* Not counted here: start_exit() sees the same head and counts. */
    open_exit(c, &c->req.msg, endpoint, sizeof(endpoint), 0);
    if (c->ignored) {
      c->ignored = 0;
      goto out; /* start_exit will find it ignored again */
    }
    c->ident_ready = 1;
    /* Built in place: sw_inject_start() then copies nothing. */
    char *line = c->inj.line;
    memcpy(line, "sw8: ", 5);
    const struct sw_span_rec *s = &c->span;
    int vlen = sw_conn_sw8_encode(line + 5, sizeof(c->inj.line) - 7, s,
                                  endpoint);
    if (vlen <= 0)
      goto out;
    memcpy(line + 5 + vlen, "\r\n", 2);
    if (sw_inject_start(&c->inj, head_len, line, (size_t)vlen + 7) != 0)
      goto out;
    c->inj_on = 1;
  }
  *nout = sw_inject_compose(&c->inj, iov, cnt, n, out, app_before);
  *line_rest = (size_t)(c->inj.len - c->inj.sent);
  want = 1;
out:
  unlock(c);
  return want;
}

void
sw_conn_send_done(int fd, const struct iovec *iov, int cnt,
                  size_t app_before, size_t k)
{
  struct sw_conn *c = lock_fd_any(fd);
  if (!c)
    return;
  if (c->inj_on) {
    size_t app = sw_inject_account(&c->inj, app_before, k);
    if (!sw_inject_pending(&c->inj))
      c->inj_on = 0;
    for (int i = 0; i < cnt && app > 0 && !c->dead; i++) {
      size_t len = iov[i].iov_len < app ? iov[i].iov_len : app;
      if (len)
        feed_req(c, iov[i].iov_base, len);
      app -= len;
    }
  }
  unlock(c);
}
