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
 * call() for the libcurl 7.88 workaround this needs. libcurl runs with
 * CURLOPT_NOSIGNAL because we live in someone else's process and must
 * not touch its signal handlers, and with proxies turned off because the
 * application's http_proxy is not meant for our h2c traffic. */
#include "sw_common.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "encode.h"
#include "xport.h"

#ifndef SW_VERSION
#define SW_VERSION "0.0.0"
#endif

#define CONNECT_TIMEOUT_MS 2000
#define CALL_TIMEOUT_MS 10000
#define MAX_BACKENDS 8
/* A request body bigger than this is freed after its call. */
#define BODY_KEEP ((size_t)8 << 20)

#define PATH_COLLECT "/skywalking.v3.TraceSegmentReportService/collect"
#define PATH_PROPERTIES \
  "/skywalking.v3.ManagementService/reportInstanceProperties"
#define PATH_KEEPALIVE "/skywalking.v3.ManagementService/keepAlive"

struct grpc {
  struct sw_xport base;
  CURL *curl;
  struct curl_slist *hdrs;
  struct sw_buf body;
  /* "http://host:port" per configured backend; cur is the one in use,
   * and the next one is tried after a transport failure. */
  char backend[MAX_BACKENDS][SW_BACKEND_MAX + 16];
  int tls[MAX_BACKENDS];
  int nbackends, cur;
  char url[SW_BACKEND_MAX + 128];
  int reuse_bug; /* libcurl < 8.0.0 (curl issue 10634) */
  int connected; /* an HTTP/2 connection to backend[cur] is up */
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

/* Starts a message frame at the end of b; returns its offset. */
static int
frame_begin(struct sw_buf *b, size_t *off)
{
  static const uint8_t zero[5];

  *off = b->len;
  return sw_buf_append(b, zero, sizeof(zero));
}

static void
frame_end(struct sw_buf *b, size_t off)
{
  uint32_t n = (uint32_t)(b->len - off - 5);

  b->data[off + 1] = (uint8_t)(n >> 24);
  b->data[off + 2] = (uint8_t)(n >> 16);
  b->data[off + 3] = (uint8_t)(n >> 8);
  b->data[off + 4] = (uint8_t)n;
}

/* curl_easy_perform() with SIGPIPE blocked on this thread.
 *
 * With CURLOPT_NOSIGNAL libcurl leaves SIGPIPE alone and relies on
 * MSG_NOSIGNAL, but a TLS library may write() to a socket the peer has
 * closed, and the default action of SIGPIPE would kill the application
 * we live in. SIGPIPE from a write is sent to the writing thread, so
 * blocking it here keeps it here; a pending one is swallowed before the
 * old mask comes back. */
static CURLcode
perform(CURL *c)
{
  sigset_t pipe_set, old;
  CURLcode cc;

  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
    return curl_easy_perform(c);
  cc = curl_easy_perform(c);
  if (!sigismember(&old, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
      ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  return cc;
}

/* Performs one call with the body in g->body.
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
 * the server answered is never sent twice. */
static int
call(struct grpc *g, const char *path, int64_t deadline_ms)
{
  CURL *c = g->curl;
  int attempt;
  int rc = -EIO;

  snprintf(g->url, sizeof(g->url), "%s%s", g->backend[g->cur], path);
  for (attempt = 0; attempt < 2; attempt++) {
    int64_t left = deadline_ms - sw_xport_now_ms();
    long timeout = left < CALL_TIMEOUT_MS ? (long)left : CALL_TIMEOUT_MS;
    int tls = g->tls[g->cur];
    int reuse = !tls && g->reuse_bug && g->connected;
    long ver, code = 0, got_ver = 0;
    CURLcode cc;

    if (timeout <= 0) {
      snprintf(g->base.err, sizeof(g->base.err),
               "%s: no time left before the deadline", g->url);
      return -ETIMEDOUT;
    }
    if (tls)
      ver = CURL_HTTP_VERSION_2TLS;
    else if (reuse)
      ver = CURL_HTTP_VERSION_2_0;
    else
      ver = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, ver);
    /* A prior-knowledge request must not land on a cached connection. */
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT,
                     (!tls && g->reuse_bug && !reuse) ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_URL, g->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)g->body.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)g->body.len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < CONNECT_TIMEOUT_MS ? timeout
                                                  : (long)CONNECT_TIMEOUT_MS);
    g->grpc_status = -1;
    g->grpc_message[0] = '\0';
    g->curl_err[0] = '\0';

    cc = perform(c);
    if (g->base.env->cfg->log_level <= SW_LOG_DEBUG) {
      long nconn = 0;
      curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn);
      if (nconn > 0)
        g->base.env->log(SW_LOG_DEBUG, "reporter: new connection to %s "
                         "(%s)", g->backend[g->cur],
                         reuse ? "reuse failed" : "prior knowledge");
    }
    if (cc == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &got_ver);
      g->connected = got_ver == CURL_HTTP_VERSION_2_0;
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
    g->connected = 0;
    snprintf(g->base.err, sizeof(g->base.err), "%s: %s%s%s", g->url,
             curl_easy_strerror(cc), g->curl_err[0] ? ": " : "",
             g->curl_err);
    if (cc == CURLE_OPERATION_TIMEDOUT)
      return -ETIMEDOUT;
    rc = -EIO;
    if (!reuse)
      break;
  }
  /* The backend is unreachable or not speaking gRPC: the next call goes
   * to the next configured address, if there is one. */
  if (g->nbackends > 1) {
    g->cur = (g->cur + 1) % g->nbackends;
    g->connected = 0;
  }
  return rc;
}

static int
grpc_send_segments(struct sw_xport *x, struct sw_seg *const *segs, size_t n,
                   int64_t deadline_ms)
{
  struct grpc *g = (struct grpc *)x;
  const struct sw_config *cfg = x->env->cfg;
  size_t i, off;
  int rc;

  sw_buf_reset(&g->body, BODY_KEEP);
  for (i = 0; i < n; i++) {
    if ((rc = frame_begin(&g->body, &off)) != 0 ||
        (rc = sw_encode_segment(&g->body, segs[i], cfg->service,
                                cfg->instance)) != 0) {
      snprintf(x->err, sizeof(x->err), "out of memory encoding segments");
      return rc;
    }
    frame_end(&g->body, off);
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

  sw_buf_reset(&g->body, BODY_KEEP);
  if ((rc = frame_begin(&g->body, &off)) != 0 ||
      (rc = sw_encode_properties(&g->body, cfg->service, cfg->instance,
                                 p)) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding properties");
    return rc;
  }
  frame_end(&g->body, off);
  return call(g, PATH_PROPERTIES, deadline_ms);
}

static int
grpc_keepalive(struct sw_xport *x, int64_t deadline_ms)
{
  struct grpc *g = (struct grpc *)x;
  const struct sw_config *cfg = x->env->cfg;
  size_t off;
  int rc;

  sw_buf_reset(&g->body, BODY_KEEP);
  if ((rc = frame_begin(&g->body, &off)) != 0 ||
      (rc = sw_encode_ping(&g->body, cfg->service, cfg->instance)) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding keepAlive");
    return rc;
  }
  frame_end(&g->body, off);
  return call(g, PATH_KEEPALIVE, deadline_ms);
}

static void
grpc_close(struct sw_xport *x)
{
  struct grpc *g = (struct grpc *)x;

  if (g->curl)
    curl_easy_cleanup(g->curl);
  curl_slist_free_all(g->hdrs);
  sw_buf_free(&g->body);
  free(g);
}

/* Splits the comma-separated backend list into base URLs. An item may
 * carry its own http:// or https:// scheme; otherwise force_tls picks. */
static void
parse_backends(struct grpc *g, const struct sw_config *cfg)
{
  const char *p = cfg->backend;

  while (*p && g->nbackends < MAX_BACKENDS) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *s = p;
    int tls = cfg->force_tls;
    int i = g->nbackends;

    while (n && isspace((unsigned char)*s)) {
      s++;
      n--;
    }
    while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '/'))
      n--;
    if (n > 8 && strncasecmp(s, "https://", 8) == 0) {
      tls = 1;
      s += 8;
      n -= 8;
    } else if (n > 7 && strncasecmp(s, "http://", 7) == 0) {
      tls = 0;
      s += 7;
      n -= 7;
    }
    if (n > 0 && n < SW_BACKEND_MAX) {
      snprintf(g->backend[i], sizeof(g->backend[i]), "%s://%.*s",
               tls ? "https" : "http", (int)n, s);
      g->tls[i] = tls;
      g->nbackends++;
    }
    if (!end)
      break;
    p = end + 1;
  }
}

struct sw_xport *
sw_xport_grpc_open(const struct sw_reporter_env *env)
{
  const struct sw_config *cfg = env->cfg;
  const curl_version_info_data *vi;
  struct grpc *g;
  char auth[SW_AUTH_MAX + 32];
  CURL *c;

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    env->log(SW_LOG_ERROR, "reporter: libcurl initialisation failed");
    return NULL;
  }
  vi = curl_version_info(CURLVERSION_NOW);
  if (!vi || !(vi->features & CURL_VERSION_HTTP2)) {
    env->log(SW_LOG_ERROR, "reporter: this libcurl has no HTTP/2 support, "
                           "gRPC reporting is off");
    return NULL;
  }
  g = calloc(1, sizeof(*g));
  if (!g)
    return NULL;
  parse_backends(g, cfg);
  if (g->nbackends == 0) {
    env->log(SW_LOG_ERROR, "reporter: no backend address configured");
    free(g);
    return NULL;
  }
  g->reuse_bug = vi->version_num < 0x080000;
  g->base.name = "grpc";
  g->base.send_segments = grpc_send_segments;
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
  c = g->curl = g->hdrs ? curl_easy_init() : NULL;
  if (!c) {
    env->log(SW_LOG_ERROR, "reporter: libcurl handle setup failed");
    grpc_close(&g->base);
    return NULL;
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, g->hdrs);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "swpreload/" SW_VERSION);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, g->curl_err);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  /* Every fd we hold counts against the application's limit: keep just
   * the connection in use, so a replaced one is closed at once. */
  curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
  return &g->base;
}
