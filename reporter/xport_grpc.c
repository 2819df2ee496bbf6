/* xport_grpc.c: the gRPC transport, over HTTP/2 with libcurl.
 *
 * A gRPC call is an HTTP/2 POST to /<package>.<Service>/<method> with
 * content-type application/grpc and te: trailers. Its body is a sequence
 * of messages, each prefixed with a flag byte (0: not compressed) and a
 * 4-byte big-endian length, so a client-streaming call such as collect
 * can carry many segments in one request. The outcome is the grpc-status
 * trailer: it arrives through the header callback after the body, or in
 * the headers themselves (a "Trailers-Only" response) when the server
 * rejects the call outright. Any status but 0, an HTTP error or a
 * transport error is a failure.
 *
 * Plain text uses HTTP/2 with prior knowledge (h2c). One easy handle is
 * reused so that its HTTP/2 connection carries call after call; see
 * call() for the libcurl 7.88 workaround this needs. A multi handle of
 * its own drives its calls, so that the reporter keeps draining the span
 * ring while a slow one waits (xport_curl.c), and holds its connection.
 * The options every libcurl handle of ours gets are in xport_curl.c.
 *
 * The body is never gathered into one buffer: libcurl reads it through
 * read_body() from where it is (struct sw_xport_grpc_body), and a
 * segment encoded on arrival holds its whole message, frame prefix
 * included, so that its bytes are copied once, straight into libcurl's
 * upload buffer. With CURLOPT_POSTFIELDS libcurl would copy a gathered
 * body into that buffer all the same: one copy of every byte fewer. */
#include "sw_common.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "encode.h"
#include "xport.h"
#include "xport_curl.h"

/* A request body bigger than this is freed after its call. */
#define BODY_KEEP ((size_t)8 << 20)

#define PATH_COLLECT "/skywalking.v3.TraceSegmentReportService/collect"
#define PATH_PROPERTIES \
  "/skywalking.v3.ManagementService/reportInstanceProperties"
#define PATH_KEEPALIVE "/skywalking.v3.ManagementService/keepAlive"

struct grpc {
  struct sw_xport base;
  struct sw_curl curl; /* handles and connection */
  struct curl_slist *hdrs;
  struct sw_xport_grpc_body body; /* of the call in flight */
  struct sw_enc_ids ids; /* service and instance, encoded once */
  /* The configured addresses; the next one is tried after a transport
   * failure. */
  struct sw_curl_backends be;
  char url[SW_BACKEND_MAX + 128];
  /* What url was built for (path NULL: nothing yet), and the options set
   * on the current handle, so that a call sets only what changed (libcurl
   * copies a URL string every time it is set). -1: not set. */
  const char *url_path;
  int url_be;
  const char *opt_url; /* url_path at the last CURLOPT_URL */
  long opt_ver, opt_fresh;
  int reuse_bug; /* libcurl < 8.0.0 (curl issue 10634) */
  int connected; /* an HTTP/2 connection to the current backend is up */
  /* The response of the call in flight. */
  long grpc_status; /* -1 until seen */
  char grpc_message[160];
  char curl_err[CURL_ERROR_SIZE];
};

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
  struct grpc *g = ud;
  size_t len = size * n;
  size_t i, v;

  /* A status line starts a response (there may be interim ones): forget
   * what an earlier one said. */
  if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
    g->grpc_status = -1;
    g->grpc_message[0] = '\0';
    return len;
  }
  if (len > 12 && strncasecmp(p, "grpc-status:", 12) == 0) {
    long st = 0;
    for (i = 12; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
      ;
    if (i == len || !isdigit((unsigned char)p[i]))
      return len;
    for (; i < len && isdigit((unsigned char)p[i]) && st < 1000; i++)
      st = st * 10 + (p[i] - '0');
    g->grpc_status = st;
  } else if (len > 13 && strncasecmp(p, "grpc-message:", 13) == 0) {
    for (v = 13; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
      ;
    for (i = len; i > v && (p[i - 1] == '\r' || p[i - 1] == '\n'); i--)
      ;
    sw_strlcpyn(g->grpc_message, sizeof(g->grpc_message), p + v, i - v);
  }
  return len;
}

/* The response body is a Commands message; nothing in it is acted on
 * yet, so it is read and dropped. */
static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
  return size * n;
}

/* A message frame: the flag byte (0: not compressed) and the message's
 * length, 4 bytes big-endian. */
#define FRAME_HEAD 5

static inline void
frame_head(uint8_t *o, size_t len)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint32_t be = __builtin_bswap32((uint32_t)len);
#else
  uint32_t be = (uint32_t)len;
#endif

  o[0] = 0;
  memcpy(o + 1, &be, 4);
}

/* Starts a message frame at the end of b; returns its offset. */
static int
frame_begin(struct sw_buf *b, size_t *off)
{
  *off = b->len;
  if (sw_buf_room(b, FRAME_HEAD))
    return -ENOMEM;
  b->len += FRAME_HEAD;
  return 0;
}

static void
frame_end(struct sw_buf *b, size_t off)
{
  frame_head(b->data + off, b->len - off - FRAME_HEAD);
}

/* Room for more pieces: 0 or -ENOMEM. */
static __attribute__((noinline)) int
body_grow(struct sw_xport_grpc_body *b)
{
  size_t cap = b->cap ? 2 * b->cap : 64;
  void *v = realloc(b->v, cap * sizeof(*b->v));

  if (!v)
    return -ENOMEM;
  b->v = v;
  b->cap = cap;
  return 0;
}

/* Adds the n bytes at p (NULL: the next n bytes of b->own) to the body.
 * Pieces of own that follow each other are one. */
static inline int
body_add(struct sw_xport_grpc_body *b, const uint8_t *p, size_t n)
{
  b->len += n;
  if (!p && b->n && !b->v[b->n - 1].p) {
    b->v[b->n - 1].len += n;
    return 0;
  }
  if (SW_UNLIKELY(b->n == b->cap) && body_grow(b) != 0)
    return -ENOMEM;
  b->v[b->n].p = p;
  b->v[b->n++].len = n;
  return 0;
}

/* Empties b for a new body, keeping its memory. */
static void
body_reset(struct sw_xport_grpc_body *b)
{
  sw_buf_reset(&b->own, BODY_KEEP);
  b->n = b->len = 0;
  b->at = b->off = 0;
}

/* The pieces in b->own were added as NULL (own may move while it grows):
 * they point into it once it is complete, in their order. */
static void
body_seal(struct sw_xport_grpc_body *b)
{
  const uint8_t *p = b->own.data;

  if (!b->own.len)
    return;
  for (size_t i = 0; i < b->n; i++) {
    if (b->v[i].p == NULL) {
      b->v[i].p = p;
      p += b->v[i].len;
    }
  }
}

int
sw_xport_grpc_body_set(struct sw_xport_grpc_body *b,
                       struct sw_seg *const *segs, size_t n,
                       const struct sw_enc_ids *ids)
{
  size_t off;
  int rc;

  body_reset(b);
  for (size_t i = 0; i < n; i++) {
    const struct sw_seg *s = segs[i];

    if (s->enc) {
      rc = body_add(b, s->enc, s->enc_len);
    } else {
      size_t start = b->own.len;

      if ((rc = frame_begin(&b->own, &off)) != 0 ||
          (rc = sw_encode_segment_ids(&b->own, s, ids)) != 0)
        return rc;
      frame_end(&b->own, off);
      rc = body_add(b, NULL, b->own.len - start);
    }
    if (rc != 0)
      return rc;
  }
  body_seal(b);
  return 0;
}

size_t
sw_xport_grpc_body_read(struct sw_xport_grpc_body *b, uint8_t *dst,
                        size_t room)
{
  size_t done = 0;

  while (done < room && b->at < b->n) {
    const struct sw_xport_grpc_piece *pc = &b->v[b->at];
    size_t k = pc->len - b->off;

    if (k > room - done)
      k = room - done;
    memcpy(dst + done, pc->p + b->off, k);
    done += k;
    b->off += k;
    if (b->off == pc->len) {
      b->at++;
      b->off = 0;
    }
  }
  return done;
}

int
sw_xport_grpc_body_seek(struct sw_xport_grpc_body *b, size_t pos)
{
  if (pos > b->len)
    return -EINVAL;
  for (b->at = 0; b->at < b->n && pos >= b->v[b->at].len; b->at++)
    pos -= b->v[b->at].len;
  b->off = pos;
  return 0;
}

void
sw_xport_grpc_body_free(struct sw_xport_grpc_body *b)
{
  sw_buf_free(&b->own);
  free(b->v);
  memset(b, 0, sizeof(*b));
}

/* Ends the one message b->own holds, framed at off, and makes it the
 * body. */
static int
body_own(struct sw_xport_grpc_body *b, size_t off)
{
  int rc;

  frame_end(&b->own, off);
  if ((rc = body_add(b, NULL, b->own.len)) != 0)
    return rc;
  body_seal(b);
  return 0;
}

/* CURLOPT_READFUNCTION: the body from where it is. */
static size_t
read_body(char *dst, size_t size, size_t n, void *ud)
{
  struct grpc *g = ud;

  return sw_xport_grpc_body_read(&g->body, (uint8_t *)dst, size * n);
}

/* CURLOPT_SEEKFUNCTION: libcurl rewinds the body when it sends a request
 * again (a reused connection that turned out dead, a redirect). */
static int
seek_body(void *ud, curl_off_t offset, int origin)
{
  struct grpc *g = ud;

  if (origin != SEEK_SET || offset < 0 ||
      sw_xport_grpc_body_seek(&g->body, (size_t)offset) != 0)
    return CURL_SEEKFUNC_CANTSEEK;
  return CURL_SEEKFUNC_OK;
}

/* Replaces g->curl's easy handle with a fresh one, and its multi, whose
 * cache holds the connections of its calls. Freeing the old one closes
 * every connection it had cached: after a transport failure the
 * connection libcurl may keep (an HTTP/2 connection survives a stream
 * that timed out) leads to a backend that does not answer, and must not
 * hold an fd of the application's while the next call opens another.
 * 0, or -ENOMEM with g->curl's handles NULL. */
static int
new_handle(struct grpc *g)
{
  CURL *c;

  g->connected = 0;
  g->opt_url = NULL;
  g->opt_ver = g->opt_fresh = -1;
  if (sw_curl_handles_new(&g->curl) != 0) {
    snprintf(g->base.err, sizeof(g->base.err),
             "libcurl handle setup failed");
    return -ENOMEM;
  }
  c = g->curl.easy;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, g->hdrs);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
  curl_easy_setopt(c, CURLOPT_READDATA, g);
  curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_body);
  curl_easy_setopt(c, CURLOPT_SEEKDATA, g);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, g->curl_err);
  return 0;
}

/* Performs one call with the body g->body.
 *
 * libcurl 7.88.1 (Debian 12) fails to reuse a connection made with
 * CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE: the second request on it ends in
 * CURLE_HTTP2 (curl issue 10634, fixed in 8.0.0). The workaround: open
 * with prior knowledge, and once that connection is up switch the handle
 * to CURL_HTTP_VERSION_2_0, which reuses the live HTTP/2 connection
 * without tripping the bug. If such a reuse fails (the server closed the
 * connection, so libcurl would have to start over and would try an
 * HTTP/1.1 upgrade), go back to prior knowledge on a fresh connection and
 * retry once. Only calls that got no grpc-status are retried, so a call
 * the server answered is never sent twice. A transport failure renews
 * the handle (new_handle()). */
static int
call(struct grpc *g, const char *path, int64_t deadline_ms)
{
  CURL *c;
  int attempt;
  int rc = -EIO;

  if (!g->curl.easy && new_handle(g) != 0)
    return -ENOMEM;
  if (g->url_path != path || g->url_be != g->be.cur) {
    snprintf(g->url, sizeof(g->url), "%s%s", g->be.base[g->be.cur], path);
    g->url_path = path;
    g->url_be = g->be.cur;
    g->opt_url = NULL;
  }
  for (attempt = 0; attempt < 2; attempt++) {
    long timeout = sw_curl_timeout_ms(deadline_ms);
    int tls = g->be.tls[g->be.cur];
    int reuse = !tls && g->reuse_bug && g->connected;
    long ver, fresh, code = 0, got_ver = 0;
    CURLcode cc;

    if (timeout <= 0) {
      snprintf(g->base.err, sizeof(g->base.err),
               "%s: no time left before the deadline", g->url);
      return -ETIMEDOUT;
    }
    c = g->curl.easy;
    if (tls)
      ver = CURL_HTTP_VERSION_2TLS;
    else if (reuse)
      ver = CURL_HTTP_VERSION_2_0;
    else
      ver = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    /* A prior-knowledge request must not land on a cached connection. */
    fresh = (!tls && g->reuse_bug && !reuse) ? 1L : 0L;
    /* Only what changed since the last call on this handle (new_handle()
     * forgets it all). */
    if (g->opt_ver != ver) {
      curl_easy_setopt(c, CURLOPT_HTTP_VERSION, ver);
      g->opt_ver = ver;
    }
    if (g->opt_fresh != fresh) {
      curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, fresh);
      g->opt_fresh = fresh;
    }
    if (g->opt_url != g->url_path) {
      curl_easy_setopt(c, CURLOPT_URL, g->url);
      g->opt_url = g->url_path;
    }
    sw_xport_grpc_body_seek(&g->body, 0);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)g->body.len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < SW_CURL_CONNECT_TIMEOUT_MS
                         ? timeout
                         : (long)SW_CURL_CONNECT_TIMEOUT_MS);
    g->grpc_status = -1;
    g->grpc_message[0] = '\0';
    g->curl_err[0] = '\0';

    cc = sw_curl_perform(&g->curl, g->base.drain);
    if (g->base.env->cfg->log_level <= SW_LOG_DEBUG) {
      long nconn = 0;
      curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn);
      if (nconn > 0)
        g->base.env->log(SW_LOG_DEBUG, "reporter: new connection to %s "
                         "(%s)", g->be.base[g->be.cur],
                         reuse ? "reuse failed" : "prior knowledge");
    }
    if (cc != CURLE_OK && g->grpc_status > 0) {
      /* The server refused the call before reading all of it and reset
       * the stream after its answer: the answer is what counts. The
       * connection's state is unknown, so it is not kept. */
      if (new_handle(g) != 0)
        return -ENOMEM;
      cc = CURLE_OK;
      code = 200;
    } else if (cc == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &got_ver);
      g->connected = got_ver == CURL_HTTP_VERSION_2_0;
    }
    if (cc == CURLE_OK) {
      if (g->grpc_status == 0 && code == 200)
        return 0;
      if (g->grpc_status > 0) {
        snprintf(g->base.err, sizeof(g->base.err),
                 "%s: grpc-status %ld%s%s", g->url, g->grpc_status,
                 g->grpc_message[0] ? ": " : "", g->grpc_message);
        return g->grpc_status == 4 ? -ETIMEDOUT : -EPROTO;
      }
      snprintf(g->base.err, sizeof(g->base.err),
               "%s: HTTP %ld without grpc-status", g->url, code);
      rc = -EPROTO;
      if (!reuse)
        return rc;
      g->connected = 0;
      continue;
    }
    snprintf(g->base.err, sizeof(g->base.err), "%s: %s%s%s", g->url,
             curl_easy_strerror(cc), g->curl_err[0] ? ": " : "",
             g->curl_err);
    if (new_handle(g) != 0)
      return -ENOMEM;
    if (cc == CURLE_OPERATION_TIMEDOUT)
      return -ETIMEDOUT;
    rc = -EIO;
    if (!reuse)
      break;
  }
  /* The backend is unreachable or not speaking gRPC: the next call goes
   * to the next configured address, if there is one. */
  if (g->be.n > 1) {
    sw_curl_backends_next(&g->be);
    g->connected = 0;
  }
  return rc;
}

long
sw_xport_grpc_single(const struct sw_span_view *v,
                     const struct sw_enc_ids *ids, uint8_t *dst, size_t room,
                     struct sw_buf *out)
{
  size_t off;

  if (dst && room > FRAME_HEAD) {
    uint8_t *o = sw_encode_single_put(dst + FRAME_HEAD, dst + room, v, ids);

    if (SW_LIKELY(o != NULL)) {
      frame_head(dst, (size_t)(o - dst) - FRAME_HEAD);
      return (long)(o - dst);
    }
  }
  if (frame_begin(out, &off) != 0 || sw_encode_single_ids(out, v, ids) != 0) {
    out->len = off;
    return -ENOMEM;
  }
  frame_end(out, off);
  return 0;
}

static long
grpc_encode_single(struct sw_xport *x, const struct sw_span_view *v,
                   uint8_t *dst, size_t room, struct sw_buf *out)
{
  return sw_xport_grpc_single(v, &((struct grpc *)x)->ids, dst, room, out);
}

static int
grpc_send_segments(struct sw_xport *x, struct sw_seg *const *segs, size_t n,
                   int64_t deadline_ms)
{
  struct grpc *g = (struct grpc *)x;
  int rc;

  if ((rc = sw_xport_grpc_body_set(&g->body, segs, n, &g->ids)) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding segments");
    return rc;
  }
  if (g->body.len == 0)
    return 0;
  return call(g, PATH_COLLECT, deadline_ms);
}

static int
grpc_report_properties(struct sw_xport *x, const struct sw_props *p,
                       int64_t deadline_ms)
{
  struct grpc *g = (struct grpc *)x;
  const struct sw_config *cfg = x->env->cfg;
  size_t off;
  int rc;

  body_reset(&g->body);
  if ((rc = frame_begin(&g->body.own, &off)) != 0 ||
      (rc = sw_encode_properties(&g->body.own, cfg->service, cfg->instance,
                                 p)) != 0 ||
      (rc = body_own(&g->body, off)) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding properties");
    return rc;
  }
  return call(g, PATH_PROPERTIES, deadline_ms);
}

static int
grpc_keepalive(struct sw_xport *x, int64_t deadline_ms)
{
  struct grpc *g = (struct grpc *)x;
  const struct sw_config *cfg = x->env->cfg;
  size_t off;
  int rc;

  body_reset(&g->body);
  if ((rc = frame_begin(&g->body.own, &off)) != 0 ||
      (rc = sw_encode_ping(&g->body.own, cfg->service, cfg->instance)) != 0 ||
      (rc = body_own(&g->body, off)) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding keepAlive");
    return rc;
  }
  return call(g, PATH_KEEPALIVE, deadline_ms);
}

static void
grpc_close(struct sw_xport *x)
{
  struct grpc *g = (struct grpc *)x;

  sw_curl_handles_free(&g->curl);
  curl_slist_free_all(g->hdrs);
  sw_xport_grpc_body_free(&g->body);
  sw_enc_ids_free(&g->ids);
  free(g);
}

struct sw_xport *
sw_xport_grpc_open(const struct sw_reporter_env *env)
{
  const struct sw_config *cfg = env->cfg;
  const curl_version_info_data *vi;
  struct grpc *g;
  char auth[SW_AUTH_MAX + 32];

  if (sw_curl_global_init(env) != 0)
    return NULL;
  vi = curl_version_info(CURLVERSION_NOW);
  if (!vi || !(vi->features & CURL_VERSION_HTTP2)) {
    env->log(SW_LOG_ERROR, "reporter: this libcurl has no HTTP/2 support, "
                           "gRPC reporting is off");
    return NULL;
  }
  g = calloc(1, sizeof(*g));
  if (!g)
    return NULL;
  if (sw_curl_backends_parse(&g->be, cfg) == 0) {
    env->log(SW_LOG_ERROR, "reporter: no backend address configured");
    free(g);
    return NULL;
  }
  g->reuse_bug = vi->version_num < 0x080000;
  g->base.name = "grpc";
  g->base.send_segments = grpc_send_segments;
  g->base.encode_single = grpc_encode_single;
  g->base.report_properties = grpc_report_properties;
  g->base.keepalive = grpc_keepalive;
  g->base.close = grpc_close;
  g->base.env = env;

  g->hdrs = curl_slist_append(g->hdrs, "content-type: application/grpc");
  g->hdrs = g->hdrs ? curl_slist_append(g->hdrs, "te: trailers") : NULL;
  g->hdrs = g->hdrs ? curl_slist_append(g->hdrs, "Expect:") : NULL;
  g->hdrs = g->hdrs ? curl_slist_append(g->hdrs, "Accept:") : NULL;
  if (g->hdrs && cfg->authentication[0]) {
    snprintf(auth, sizeof(auth), "authentication: %s", cfg->authentication);
    g->hdrs = curl_slist_append(g->hdrs, auth);
  }
  if (!g->hdrs || sw_enc_ids_init(&g->ids, cfg->service, cfg->instance) ||
      new_handle(g) != 0) {
    env->log(SW_LOG_ERROR, "reporter: libcurl handle setup failed");
    grpc_close(&g->base);
    return NULL;
  }
  return &g->base;
}
