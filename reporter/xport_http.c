/* xport_http.c: the HTTP transport, for the OAP's REST receiver.
 *
 * Every call is a POST with a JSON body (json.c) and
 * Content-Type: application/json, which the OAP parses with the protobuf
 * JSON mapping (PROTOCOL.md section 5):
 *   segments            /v3/segments, one JSON array per batch
 *   instance properties /v3/management/reportProperties
 *   keepAlive           /v3/management/keepAlive
 * A 2xx status is success; any other status (the OAP answers errors with
 * 4xx/5xx; redirects are not followed) and any transport error is a
 * failure, with the status and the start of the response body in the
 * reason. The response itself (an empty Commands, "{}") is read and
 * dropped.
 *
 * HTTP/1.1 over one reused easy handle, driven by a multi handle of its
 * own (xport_curl.c: the reporter keeps draining the span ring while a
 * slow call waits), so call after call goes over one
 * keep-alive connection; https when the address says so or
 * SW_AGENT_FORCE_TLS is set. No authentication header is sent: the OAP
 * checks its token on gRPC only. */
#include "sw_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "buf.h"
#include "json.h"
#include "xport.h"
#include "xport_curl.h"

/* A request body bigger than this is freed after its call. */
#define BODY_KEEP ((size_t)8 << 20)
/* How much of an error response goes into the failure reason. */
#define ERRBODY_MAX 160

#define PATH_SEGMENTS "/v3/segments"
#define PATH_PROPERTIES "/v3/management/reportProperties"
#define PATH_KEEPALIVE "/v3/management/keepAlive"

struct http {
  struct sw_xport base;
  struct sw_curl curl; /* handles and connection */
  struct curl_slist *hdrs;
  struct sw_buf body;
  struct sw_curl_backends be;
  char url[SW_BACKEND_MAX + 64];
  /* The start of the response body, for the failure reason. */
  char resp[ERRBODY_MAX + 1];
  size_t resp_len;
  char curl_err[CURL_ERROR_SIZE];
};

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
  struct http *h = ud;
  size_t len = size * n;

  for (size_t i = 0; i < len && h->resp_len < ERRBODY_MAX; i++) {
    unsigned char c = (unsigned char)p[i];
    /* It goes into a one-line log message. */
    h->resp[h->resp_len++] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
  }
  h->resp[h->resp_len] = '\0';
  return len;
}

/* Replaces h->curl's easy handle with a fresh one, and its multi, whose
 * cache holds the connection of its calls: freeing the old one closes
 * whatever connection it kept. After a transport failure that is of no use, and
 * the application's fds are not ours to hold on to. 0, or -ENOMEM with
 * h->curl's handles NULL. */
static int
new_handle(struct http *h)
{
  CURL *c;

  if (sw_curl_handles_new(&h->curl) != 0) {
    snprintf(h->base.err, sizeof(h->base.err),
             "libcurl handle setup failed");
    return -ENOMEM;
  }
  c = h->curl.easy;
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
  return 0;
}

/* Performs one POST of h->body to path on the current backend. */
static int
call(struct http *h, const char *path, int64_t deadline_ms)
{
  long timeout = sw_curl_timeout_ms(deadline_ms);
  long code = 0;
  CURLcode cc;
  CURL *c;

  if (!h->curl.easy && new_handle(h) != 0)
    return -ENOMEM;
  c = h->curl.easy;
  snprintf(h->url, sizeof(h->url), "%s%s", h->be.base[h->be.cur], path);
  if (timeout <= 0) {
    snprintf(h->base.err, sizeof(h->base.err),
             "%s: no time left before the deadline", h->url);
    return -ETIMEDOUT;
  }
  curl_easy_setopt(c, CURLOPT_URL, h->url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)h->body.data);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)h->body.len);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   timeout < SW_CURL_CONNECT_TIMEOUT_MS
                       ? timeout
                       : (long)SW_CURL_CONNECT_TIMEOUT_MS);
  h->resp_len = 0;
  h->resp[0] = '\0';
  h->curl_err[0] = '\0';

  cc = sw_curl_perform(&h->curl, h->base.drain);
  if (h->base.env->cfg->log_level <= SW_LOG_DEBUG) {
    long nconn = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nconn);
    if (nconn > 0)
      h->base.env->log(SW_LOG_DEBUG, "reporter: new connection to %s",
                       h->be.base[h->be.cur]);
  }
  if (cc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300)
      return 0;
    snprintf(h->base.err, sizeof(h->base.err), "%s: HTTP %ld%s%s", h->url,
             code, h->resp_len ? ": " : "", h->resp);
    return -EPROTO;
  }
  snprintf(h->base.err, sizeof(h->base.err), "%s: %s%s%s", h->url,
           curl_easy_strerror(cc), h->curl_err[0] ? ": " : "",
           h->curl_err);
  new_handle(h);
  /* Unreachable or not answering: the next call goes to the next
   * configured address, if there is one. */
  sw_curl_backends_next(&h->be);
  return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
}

static int
http_send_segments(struct sw_xport *x, struct sw_seg *const *segs, size_t n,
                   int64_t deadline_ms)
{
  struct http *h = (struct http *)x;
  const struct sw_config *cfg = x->env->cfg;

  if (n == 0)
    return 0;
  sw_buf_reset(&h->body, BODY_KEEP);
  if (sw_json_segments(&h->body, segs, n, cfg->service, cfg->instance) !=
      0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding segments");
    return -ENOMEM;
  }
  return call(h, PATH_SEGMENTS, deadline_ms);
}

static int
http_report_properties(struct sw_xport *x, const struct sw_props *p,
                       int64_t deadline_ms)
{
  struct http *h = (struct http *)x;
  const struct sw_config *cfg = x->env->cfg;

  sw_buf_reset(&h->body, BODY_KEEP);
  if (sw_json_properties(&h->body, cfg->service, cfg->instance, p) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding properties");
    return -ENOMEM;
  }
  return call(h, PATH_PROPERTIES, deadline_ms);
}

static int
http_keepalive(struct sw_xport *x, int64_t deadline_ms)
{
  struct http *h = (struct http *)x;
  const struct sw_config *cfg = x->env->cfg;

  sw_buf_reset(&h->body, BODY_KEEP);
  if (sw_json_ping(&h->body, cfg->service, cfg->instance) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding keepAlive");
    return -ENOMEM;
  }
  return call(h, PATH_KEEPALIVE, deadline_ms);
}

static void
http_close(struct sw_xport *x)
{
  struct http *h = (struct http *)x;

  sw_curl_handles_free(&h->curl);
  curl_slist_free_all(h->hdrs);
  sw_buf_free(&h->body);
  free(h);
}

struct sw_xport *
sw_xport_http_open(const struct sw_reporter_env *env)
{
  const struct sw_config *cfg = env->cfg;
  struct http *h;

  if (sw_curl_global_init(env) != 0)
    return NULL;
  h = calloc(1, sizeof(*h));
  if (!h)
    return NULL;
  if (sw_curl_backends_parse(&h->be, cfg) == 0) {
    env->log(SW_LOG_ERROR, "reporter: no backend address configured");
    free(h);
    return NULL;
  }
  h->base.name = "http";
  h->base.send_segments = http_send_segments;
  h->base.encode_single = sw_xport_json_single;
  h->base.report_properties = http_report_properties;
  h->base.keepalive = http_keepalive;
  h->base.close = http_close;
  h->base.env = env;

  h->hdrs = curl_slist_append(h->hdrs, "Content-Type: application/json");
  h->hdrs = h->hdrs ? curl_slist_append(h->hdrs, "Accept: application/json")
                    : NULL;
  /* No "Expect: 100-continue" round trip before a large body. */
  h->hdrs = h->hdrs ? curl_slist_append(h->hdrs, "Expect:") : NULL;
  if (!h->hdrs || new_handle(h) != 0) {
    env->log(SW_LOG_ERROR, "reporter: libcurl handle setup failed");
    http_close(&h->base);
    return NULL;
  }
  return &h->base;
}
