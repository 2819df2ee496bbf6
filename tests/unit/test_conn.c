/* test_conn.c: the connection state machine, driven directly (no hooks,
 * no preload): bytes in and out of fake connections must give exactly the
 * spans a real server or client would. */
#include "sw_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conn.h"
#include "http1.h"
#include "inject.h"
#include "sw8.h"
#include "sw_config.h"
#include "sw_stats.h"
#include "trace.h"

#define MAXSPANS 64
static struct sw_span_rec got[MAXSPANS];
static int ngot;
static struct sw_config cfg;

void
sw_sink_span(const struct sw_span_rec *rec)
{
  cr_assert_lt(ngot, MAXSPANS);
  got[ngot++] = *rec;
  errno = EIO; /* a sink may change errno: conn.c must restore it */
}

void
sw_sink_first_conn(void)
{
}

static const char *env_ignore_path;
static const char *env_ignore_method;
static const char *env_params_threshold;

static const char *
getenv_stub(const char *name, void *ud)
{
  (void)ud;
  if (!strcmp(name, "SW_AGENT_NAME"))
    return "svc";
  if (!strcmp(name, "SW_AGENT_TRACE_IGNORE_PATH"))
    return env_ignore_path;
  if (!strcmp(name, "SW_PLUGIN_HTTP_IGNORE_METHOD"))
    return env_ignore_method;
  if (!strcmp(name, "SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD"))
    return env_params_threshold;
  return NULL;
}

static void
setup(void)
{
  ngot = 0;
  sw_config_parse(&cfg, getenv_stub, NULL, NULL, "exe", 42, "host");
  sw_trace_init(1234);
  cr_assert_eq(sw_conn_init(&cfg, 1024, 16), 0);
}

static void
setup_ignore(void)
{
  env_ignore_path = "/health,/static/**";
  env_ignore_method = "options";
  setup();
}

static struct sockaddr_in
addr(const char *ip, int port)
{
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

/* A real TCP socket, never connected: connect tracking asks SO_TYPE. */
static int
tcp_fd(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  return fd;
}

static void
server_accept(int fd)
{
  struct sockaddr_in a = addr("10.1.2.3", 5555);
  sw_conn_on_accept(fd, (struct sockaddr *)&a, sizeof(a));
}

static void
client_connect(int fd)
{
  struct sockaddr_in a = addr("127.0.0.1", 8080);
  sw_conn_on_connect(fd, (struct sockaddr *)&a, sizeof(a));
}

static void
in(int fd, const char *s)
{
  sw_conn_on_recv(fd, s, strlen(s));
}

static void
out(int fd, const char *s)
{
  sw_conn_on_send(fd, s, strlen(s));
}

#define REQ "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
#define RSP "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

TestSuite(conn, .init = setup);

Test(conn, entry_span_fields)
{
  int fd = 7;
  server_accept(fd);
  cr_assert(sw_conn_tracked(fd));
  in(fd, REQ);
  cr_assert_eq(ngot, 0);
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
  cr_assert_eq(ngot, 0, "span ends with the response body, not before");
  out(fd, "lo");
  cr_assert_eq(ngot, 1);
  struct sw_span_rec *s = &got[0];
  cr_assert_eq(s->kind, SW_SPAN_ENTRY);
  cr_assert_eq(s->span_id, 0);
  cr_assert_eq(s->parent_span_id, -1);
  cr_assert_eq(s->nspans, 1);
  cr_assert_eq(s->component, SW_COMPONENT_HTTP);
  cr_assert_eq(s->layer, SW_LAYER_HTTP);
  cr_assert_str_eq(s->op, "/a/b");
  cr_assert_str_eq(s->method, "GET");
  cr_assert_str_eq(s->url, "http://example.com/a/b?x=1");
  cr_assert_str_eq(s->peer, "10.1.2.3:5555");
  cr_assert_eq(s->status, 200);
  cr_assert_eq(s->is_error, 0);
  cr_assert_eq(strlen(s->trace_id), 32);
  cr_assert_eq(strlen(s->segment_id), 32);
  cr_assert_str_neq(s->trace_id, s->segment_id);
  cr_assert_geq(s->end_ms, s->start_ms);
  cr_assert_eq(s->has_ref, 0);
  sw_conn_on_close(fd);
  cr_assert_not(sw_conn_tracked(fd));
}

Test(conn, request_split_byte_by_byte_and_keep_alive)
{
  int fd = 9;
  server_accept(fd);
  const char *req = REQ REQ REQ;
  for (size_t i = 0; req[i]; i++)
    sw_conn_on_recv(fd, req + i, 1);
  out(fd, RSP RSP);
  out(fd, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
  /* Pipelined requests behind the first are counted, not traced. */
  cr_assert_eq(ngot, 1);
  cr_assert_eq(got[0].status, 200);
  in(fd, "POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  out(fd, "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\r\n0\r\n\r\n");
  cr_assert_eq(ngot, 2);
  cr_assert_str_eq(got[1].method, "POST");
  cr_assert_str_eq(got[1].op, "/p");
  cr_assert_eq(got[1].status, 500);
  cr_assert_eq(got[1].is_error, 1);
  cr_assert_str_neq(got[0].segment_id, got[1].segment_id);
  sw_conn_on_close(fd);
}

Test(conn, close_delimited_response_ends_at_close)
{
  int fd = 11;
  server_accept(fd);
  in(fd, "GET /old HTTP/1.0\r\n\r\n");
  out(fd, "HTTP/1.0 200 OK\r\n\r\nbody until close");
  cr_assert_eq(ngot, 0);
  sw_conn_on_close(fd);
  cr_assert_eq(ngot, 1);
  cr_assert_eq(got[0].status, 200);
}

Test(conn, sendfile_body)
{
  int fd = 12;
  server_accept(fd);
  in(fd, "GET /f HTTP/1.1\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n");
  sw_conn_on_sendfile(fd, 1000);
  cr_assert_eq(ngot, 0);
  sw_conn_on_sendfile(fd, 24);
  cr_assert_eq(ngot, 1);
  sw_conn_on_close(fd);
}

Test(conn, standalone_exit_span)
{
  int fd = tcp_fd();
  client_connect(fd);
  cr_assert(sw_conn_tracked(fd));
  out(fd, "GET /api/v1?q=2 HTTP/1.1\r\nHost: backend:9000\r\n\r\n");
  in(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  struct sw_span_rec *s = &got[0];
  cr_assert_eq(s->kind, SW_SPAN_EXIT);
  cr_assert_eq(s->component, SW_COMPONENT_HTTPCLIENT);
  cr_assert_eq(s->span_id, 0);
  cr_assert_eq(s->parent_span_id, -1);
  cr_assert_eq(s->nspans, 1);
  cr_assert_str_eq(s->peer, "backend:9000");
  cr_assert_str_eq(s->op, "/api/v1");
  cr_assert_str_eq(s->url, "http://backend:9000/api/v1?q=2");
  cr_assert_eq(s->status, 404);
  cr_assert_eq(s->is_error, 0);
  sw_conn_on_close(fd);
  close(fd);
}

Test(conn, exit_without_host_uses_connected_address_and_no_response_is_error)
{
  int fd = tcp_fd();
  client_connect(fd);
  out(fd, "GET /x HTTP/1.0\r\n\r\n");
  sw_conn_on_close(fd);
  cr_assert_eq(ngot, 1);
  cr_assert_str_eq(got[0].peer, "127.0.0.1:8080");
  cr_assert_eq(got[0].status, 0);
  cr_assert_eq(got[0].is_error, 1);
  cr_assert_str_neq(got[0].errlog, "");
  close(fd);
}

Test(conn, exit_joins_the_entry_served_by_this_thread)
{
  int sfd = 20;
  server_accept(sfd);
  in(sfd, "GET /front HTTP/1.1\r\nHost: a\r\n\r\n");
  int cfd = tcp_fd();
  client_connect(cfd);
  out(cfd, "GET /back HTTP/1.1\r\nHost: b:1\r\n\r\n");
  in(cfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  out(cfd, "GET /back2 HTTP/1.1\r\nHost: b:1\r\n\r\n");
  in(cfd, "HTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n");
  out(sfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 3);
  struct sw_span_rec *e1 = &got[0], *e2 = &got[1], *en = &got[2];
  cr_assert_eq(en->kind, SW_SPAN_ENTRY);
  cr_assert_eq(en->nspans, 3);
  cr_assert_str_eq(e1->segment_id, en->segment_id);
  cr_assert_str_eq(e2->segment_id, en->segment_id);
  cr_assert_str_eq(e1->trace_id, en->trace_id);
  cr_assert_eq(e1->span_id, 1);
  cr_assert_eq(e2->span_id, 2);
  cr_assert_eq(e1->parent_span_id, 0);
  cr_assert_eq(e2->parent_span_id, 0);
  cr_assert_eq(e1->nspans, 0);
  cr_assert_eq(e2->is_error, 1);
  /* After the response the thread serves nothing: a new exit stands alone. */
  out(cfd, "GET /later HTTP/1.1\r\nHost: b:1\r\n\r\n");
  in(cfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 4);
  cr_assert_str_neq(got[3].segment_id, en->segment_id);
  cr_assert_eq(got[3].span_id, 0);
  sw_conn_on_close(cfd);
  sw_conn_on_close(sfd);
  close(cfd);
}

Test(conn, two_requests_in_flight_on_one_thread_do_not_guess)
{
  int s1 = 30, s2 = 31;
  server_accept(s1);
  server_accept(s2);
  in(s1, "GET /one HTTP/1.1\r\n\r\n");
  in(s2, "GET /two HTTP/1.1\r\n\r\n");
  int cfd = tcp_fd();
  client_connect(cfd);
  out(cfd, "GET /call HTTP/1.1\r\nHost: b\r\n\r\n");
  in(cfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  cr_assert_eq(got[0].span_id, 0, "own segment when ambiguous");
  cr_assert_eq(got[0].parent_span_id, -1);
  out(s1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  out(s2, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 3);
  cr_assert_eq(got[1].nspans, 1);
  cr_assert_eq(got[2].nspans, 1);
  sw_conn_on_close(cfd);
  sw_conn_on_close(s1);
  sw_conn_on_close(s2);
  close(cfd);
}

Test(conn, incoming_sw8_becomes_a_reference)
{
  char sw8[512], req[1024];
  cr_assert_gt(sw8_encode(sw8, sizeof(sw8), "trace-1", "seg-1", 3, "up",
                          "up-inst", "/up", "svc:80"),
               0);
  snprintf(req, sizeof(req), "GET /r HTTP/1.1\r\nsw8: %s\r\n\r\n", sw8);
  int fd = 40;
  server_accept(fd);
  in(fd, req);
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  struct sw_span_rec *s = &got[0];
  cr_assert_eq(s->has_ref, 1);
  cr_assert_str_eq(s->trace_id, "trace-1");
  cr_assert_str_eq(s->ref.trace_id, "trace-1");
  cr_assert_str_eq(s->ref.parent_segment_id, "seg-1");
  cr_assert_eq(s->ref.parent_span_id, 3);
  cr_assert_str_eq(s->ref.parent_service, "up");
  cr_assert_str_eq(s->ref.parent_instance, "up-inst");
  cr_assert_str_eq(s->ref.parent_endpoint, "/up");
  cr_assert_str_eq(s->ref.peer, "svc:80");
  sw_conn_on_close(fd);
}

Test(conn, malformed_sw8_starts_a_new_trace_and_is_counted)
{
  uint64_t before = SW_STAT_GET(sw8_invalid);
  int fd = 41;
  server_accept(fd);
  in(fd, "GET /r HTTP/1.1\r\nsw8: 1-bad-value\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  cr_assert_eq(got[0].has_ref, 0);
  cr_assert_eq(strlen(got[0].trace_id), 32);
  cr_assert_eq(SW_STAT_GET(sw8_invalid), before + 1);
  sw_conn_on_close(fd);
}

Test(conn, not_http_is_dropped_and_fd_reuse_starts_clean)
{
  int fd = 50;
  server_accept(fd);
  uint64_t before = SW_STAT_GET(parse_errors);
  in(fd, "\x16\x03\x01\x02\x00 TLS hello");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 0);
  cr_assert_eq(SW_STAT_GET(parse_errors), before + 1);
  /* The number comes back from accept without our seeing close(). */
  server_accept(fd);
  in(fd, "GET /fresh HTTP/1.1\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  cr_assert_str_eq(got[0].op, "/fresh");
  sw_conn_on_close(fd);
}

Test(conn, slots_run_out_and_come_back)
{
  /* 16 slots in this test's table. */
  for (int fd = 100; fd < 116; fd++) {
    server_accept(fd);
    cr_assert(sw_conn_tracked(fd));
  }
  uint64_t before = SW_STAT_GET(conns_untracked);
  server_accept(116);
  cr_assert_not(sw_conn_tracked(116));
  cr_assert_eq(SW_STAT_GET(conns_untracked), before + 1);
  sw_conn_on_close(100);
  server_accept(116);
  cr_assert(sw_conn_tracked(116));
  for (int fd = 101; fd <= 116; fd++)
    sw_conn_on_close(fd);
}

Test(conn, fds_beyond_the_map_are_not_tracked)
{
  server_accept(5000);
  cr_assert_not(sw_conn_tracked(5000));
  cr_assert_not(sw_conn_tracked(-1));
}

/* A client's write hook (hooks/hook_io.c: send_injected(), and the plain
 * send after it when there is no line to insert) over a simulated kernel
 * that takes at most lim bytes a call and, with eagain, refuses every
 * other call. */
struct kern {
  char wire[1024];
  size_t len, lim;
  int eagain, calls;
};

static ssize_t
kern_take(struct kern *k, const struct iovec *v, int cnt)
{
  size_t t = 0;
  if (k->eagain && (k->calls++ & 1))
    return -1;
  for (int i = 0; i < cnt && t < k->lim; i++) {
    size_t n = v[i].iov_len < k->lim - t ? v[i].iov_len : k->lim - t;
    cr_assert_leq(k->len + t + n, sizeof(k->wire));
    memcpy(k->wire + k->len + t, v[i].iov_base, n);
    t += n;
  }
  k->len += t;
  return (ssize_t)t;
}

static ssize_t
client_write(int fd, struct kern *k, const char *b, size_t n)
{
  struct iovec v = {(void *)b, n}, o[SW_INJECT_MAX_IOV + 2];
  for (;;) {
    int nout = 0;
    size_t before = 0, rest = 0;
    if (!sw_conn_send_prepare(fd, &v, 1, n, o, &nout, &before, &rest)) {
      ssize_t r = kern_take(k, &v, 1);
      if (r > 0)
        sw_conn_on_send(fd, b, (size_t)r);
      return r;
    }
    ssize_t r = kern_take(k, o, nout);
    if (r < 0)
      return r;
    size_t app = sw_inject_app_bytes(before, rest, (size_t)r);
    sw_conn_send_done(fd, &v, 1, before, (size_t)r);
    if (app > 0)
      return (ssize_t)app;
  }
}

/* The head of a request a client writes is parsed once, before it goes
 * out (to make its sw8 line), and not again as it goes out: whatever way
 * the kernel takes the bytes, the wire carries the request plus exactly
 * one line where one belongs, and the spans are those of the plain path. */
Test(conn, exit_head_parsed_once_through_partial_writes,
     .init = setup_ignore)
{
  static const struct {
    const char *req, *op, *method;
    int inject, spans, responses;
  } cases[] = {
    {"GET /api?q=1 HTTP/1.1\r\nHost: backend:9000\r\n\r\n", "/api", "GET",
     1, 1, 1},
    {"POST /up HTTP/1.1\r\nHost: backend:9000\r\nContent-Length: 5\r\n\r\n"
     "hello", "/up", "POST", 1, 1, 1},
    /* Ignored: no line, no span, counted once. */
    {"GET /health HTTP/1.1\r\nHost: backend:9000\r\n\r\n", NULL, NULL, 0, 0,
     1},
    /* An sw8 of its own: no line, the span as without injection. */
    {"GET /own HTTP/1.1\r\nHost: backend:9000\r\n"
     "sw8: 1-YQ==-Yg==-0-Yw==-ZA==-ZQ==-Zg==\r\n\r\n", "/own", "GET", 0, 1,
     1},
    /* A second request in the same write: pipelined, not traced. */
    {"GET /p1 HTTP/1.1\r\nHost: backend:9000\r\n\r\n"
     "GET /p2 HTTP/1.1\r\nHost: backend:9000\r\n\r\n", "/p1", "GET", 1, 1,
     2},
  };
  int fd = tcp_fd();
  for (size_t q = 0; q < sizeof(cases) / sizeof(cases[0]); q++) {
    const char *req = cases[q].req;
    size_t n = strlen(req);
    for (size_t lim = 1; lim <= n + 100; lim += lim < n ? 1 : 50) {
      for (int eagain = 0; eagain < 2; eagain++) {
        struct kern k = {.lim = lim, .eagain = eagain};
        uint64_t ignored = SW_STAT_GET(requests_ignored);
        ngot = 0;
        client_connect(fd);
        for (size_t off = 0; off < n;) {
          ssize_t r = client_write(fd, &k, req + off, n - off);
          if (r < 0)
            continue; /* EAGAIN: the application tries again */
          cr_assert_gt(r, 0);
          off += (size_t)r;
        }
        for (int i = 0; i < cases[q].responses; i++)
          in(fd, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        cr_assert_eq(ngot, cases[q].spans, "case %zu lim %zu", q, lim);
        cr_assert_eq(SW_STAT_GET(requests_ignored),
                     ignored + (cases[q].spans == 0));
        if (ngot) {
          cr_assert_eq(got[0].kind, SW_SPAN_EXIT);
          cr_assert_str_eq(got[0].op, cases[q].op);
          cr_assert_str_eq(got[0].method, cases[q].method);
          cr_assert_str_eq(got[0].peer, "backend:9000");
          cr_assert_eq(got[0].status, 201);
        }
        sw_conn_on_close(fd);
        /* The wire: the request, with the line before its blank line. */
        k.wire[k.len] = '\0';
        char *line = strstr(k.wire, "\r\nsw8: 1-");
        if (!cases[q].inject) {
          cr_assert_eq(k.len, n);
          cr_assert_eq(memcmp(k.wire, req, n), 0);
          continue;
        }
        cr_assert_not_null(line, "case %zu lim %zu: %s", q, lim, k.wire);
        line += 2;
        char *eol = strstr(line, "\r\n");
        cr_assert_not_null(eol);
        size_t ll = (size_t)(eol + 2 - line);
        cr_assert_eq(k.len, n + ll);
        cr_assert_eq(memcmp(k.wire, req, (size_t)(line - k.wire)), 0);
        cr_assert_eq(memcmp(line + ll, req + (line - k.wire),
                            n - (size_t)(line - k.wire)), 0);
        cr_assert_eq(strncmp(line + ll, "\r\n", 2), 0, "before the blank line");
        struct sw_ref ref;
        cr_assert_eq(sw8_decode(line + 5, (size_t)(eol - line - 5), &ref), 0);
        cr_assert_str_eq(ref.trace_id, got[0].trace_id);
        cr_assert_str_eq(ref.parent_segment_id, got[0].segment_id);
        cr_assert_eq(ref.parent_span_id, got[0].span_id);
        cr_assert_str_eq(ref.parent_endpoint, cases[q].op);
        cr_assert_str_eq(ref.peer, "backend:9000");
        cr_assert_str_eq(ref.parent_service, "svc");
      }
    }
  }
  close(fd);
}

Test(conn, ignored_requests_make_no_spans, .init = setup_ignore)
{
  int fd = 60;
  server_accept(fd);
  in(fd, "GET /health HTTP/1.1\r\n\r\n");
  /* An exit made while serving an ignored request is not traced either. */
  int cfd = tcp_fd();
  client_connect(cfd);
  out(cfd, "GET /dep HTTP/1.1\r\nHost: b\r\n\r\n");
  in(cfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  in(fd, "OPTIONS /x HTTP/1.1\r\n\r\n");
  out(fd, "HTTP/1.1 204 No Content\r\n\r\n");
  in(fd, "GET /static/a/b.css HTTP/1.1\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 0);
  in(fd, "GET /healthz HTTP/1.1\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  cr_assert_str_eq(got[0].op, "/healthz");
  sw_conn_on_close(cfd);
  sw_conn_on_close(fd);
  close(cfd);
  env_ignore_path = env_ignore_method = NULL;
}

Test(conn, userinfo_never_reaches_a_span)
{
  int fd = tcp_fd();
  client_connect(fd);
  out(fd, "GET http://bob:secret@proxy.example:3128/p/q?x=1 HTTP/1.1\r\n"
          "Host: proxy.example:3128\r\n\r\n");
  in(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  out(fd, "GET /r HTTP/1.1\r\nHost: eve:pw@h:81\r\n\r\n");
  in(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 2);
  cr_assert_str_eq(got[0].op, "/p/q");
  cr_assert_str_eq(got[0].peer, "proxy.example:3128");
  cr_assert_str_eq(got[0].url, "http://proxy.example:3128/p/q?x=1");
  cr_assert_str_eq(got[1].peer, "h:81");
  cr_assert_str_eq(got[1].url, "http://h:81/r");
  for (int i = 0; i < 2; i++) {
    cr_assert_null(strstr(got[i].url, "secret"));
    cr_assert_null(strstr(got[i].url, "pw"));
  }
  sw_conn_on_close(fd);
  close(fd);
}

/* ------------------------------------------------------- fast formatting */

/* What sw_format_addr() wrote when it used inet_ntop() and snprintf(). */
static int
ref_format_addr(char *out, size_t cap, const struct sockaddr *sa,
                socklen_t len)
{
  char ip[INET6_ADDRSTRLEN];
  int port;
  out[0] = '\0';
  if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
    if (!inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip)))
      return -1;
    port = ntohs(in4->sin_port);
    return snprintf(out, cap, "%s:%d", ip, port) < (int)cap ? 0 : -1;
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
      return -1;
    port = ntohs(in6->sin6_port);
    if (!strncmp(ip, "::ffff:", 7) && strchr(ip + 7, '.'))
      return snprintf(out, cap, "%s:%d", ip + 7, port) < (int)cap ? 0 : -1;
    return snprintf(out, cap, "[%s]:%d", ip, port) < (int)cap ? 0 : -1;
  }
  return -1;
}

static void
expect_same_addr(const struct sockaddr *sa, socklen_t len)
{
  char a[SW_PEER_MAX], b[SW_PEER_MAX];
  int x = sw_format_addr(a, sizeof(a), sa, len);
  int y = ref_format_addr(b, sizeof(b), sa, len);
  cr_assert_eq(x, y);
  cr_assert_str_eq(a, b);
  /* Too small a buffer: refused, never a cut address. */
  size_t need = strlen(b) + 1;
  if (y == 0 && need > 1) {
    cr_assert_eq(sw_format_addr(a, need - 1, sa, len), -1);
    cr_assert_str_eq(a, "");
    cr_assert_eq(sw_format_addr(a, need, sa, len), 0);
    cr_assert_str_eq(a, b);
  }
}

Test(conn, format_addr_same_as_inet_ntop_and_snprintf)
{
  unsigned seed = 99;
  static const unsigned char special[][16] = {
    {0},                                            /* :: */
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},  /* ::1 */
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, /* ::1.2.3.4 */
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3, 4},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 1, 2, 3, 4},
    {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff},
  };
  for (int i = 0; i < 20000; i++) {
    struct sockaddr_in a4 = {0};
    a4.sin_family = AF_INET;
    a4.sin_port = (in_port_t)(i < 100 ? i : rand_r(&seed));
    uint32_t ip = (uint32_t)rand_r(&seed) << 1 ^ (uint32_t)rand_r(&seed);
    if (i % 4 == 1)
      ip &= 0x0f0f0f0f; /* small octets */
    if (i % 4 == 2)
      ip |= 0x80808080; /* three-digit octets */
    memcpy(&a4.sin_addr, &ip, 4);
    expect_same_addr((struct sockaddr *)&a4, sizeof(a4));

    struct sockaddr_in6 a6 = {0};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = (in_port_t)rand_r(&seed);
    if (i < (int)SW_ARRAY_LEN(special)) {
      memcpy(&a6.sin6_addr, special[i], 16);
    } else {
      for (int k = 0; k < 16; k++)
        a6.sin6_addr.s6_addr[k] =
            rand_r(&seed) % 3 ? 0 : (unsigned char)rand_r(&seed);
      if (i % 5 == 0) { /* IPv4-mapped */
        memset(a6.sin6_addr.s6_addr, 0, 10);
        a6.sin6_addr.s6_addr[10] = a6.sin6_addr.s6_addr[11] = 0xff;
      }
    }
    expect_same_addr((struct sockaddr *)&a6, sizeof(a6));
  }
  /* Short lengths and other families are refused alike. */
  struct sockaddr_in a4 = addr("1.2.3.4", 80);
  expect_same_addr((struct sockaddr *)&a4, sizeof(a4) - 1);
  struct sockaddr_in6 a6 = {0};
  a6.sin6_family = AF_INET6;
  expect_same_addr((struct sockaddr *)&a6, sizeof(a6) - 1);
  struct sockaddr sx = {0};
  sx.sa_family = AF_UNIX;
  expect_same_addr(&sx, sizeof(sx));
}

/* splitmix64's finaliser, as trace.c has it. */
static uint64_t
ref_mix64(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Test(conn, trace_ids_are_the_hex_of_the_prefix_and_mixed_counter)
{
  for (uint64_t seed = 0; seed < 50; seed++) {
    sw_trace_init(seed * 0x1234567);
    uint64_t prefix = ref_mix64(seed * 0x1234567 ^ 0x9e3779b97f4a7c15ULL);
    for (uint64_t n = 0; n < 200; n++) {
      char id[SW_TRACE_ID_LEN + 8], want[SW_TRACE_ID_LEN + 8];
      memset(id, 'x', sizeof(id));
      sw_trace_new_id(id);
      snprintf(want, sizeof(want), "%016llx%016llx",
               (unsigned long long)prefix,
               (unsigned long long)ref_mix64(n + prefix));
      cr_assert_str_eq(id, want);
    }
  }
}

/* sw_trace_new_ids(a, b): the two ids two sw_trace_new_id() calls in a
 * row would make, and the counter moves on by two. */
Test(conn, trace_id_pairs_are_two_ids_in_a_row)
{
  for (uint64_t seed = 1; seed < 20; seed++) {
    char a[SW_TRACE_ID_LEN + 8], b[SW_TRACE_ID_LEN + 8];
    char wa[SW_TRACE_ID_LEN + 8], wb[SW_TRACE_ID_LEN + 8];
    char next[SW_TRACE_ID_LEN + 8], wnext[SW_TRACE_ID_LEN + 8];
    sw_trace_init(seed);
    for (int k = 0; k < (int)seed; k++)
      sw_trace_new_id(wa);
    sw_trace_new_id(wa);
    sw_trace_new_id(wb);
    sw_trace_new_id(wnext);
    sw_trace_init(seed);
    for (int k = 0; k < (int)seed; k++)
      sw_trace_new_id(a);
    memset(a, 'x', sizeof(a));
    memset(b, 'x', sizeof(b));
    sw_trace_new_ids(a, b);
    sw_trace_new_id(next);
    cr_assert_str_eq(a, wa);
    cr_assert_str_eq(b, wb);
    cr_assert_str_eq(next, wnext);
    cr_assert_str_neq(a, b);
  }
}

/* --------------------------------------------------- span fields, corners */

static void
exit_span(const char *head, struct sw_span_rec *s)
{
  int fd = tcp_fd();
  client_connect(fd);
  out(fd, head);
  in(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1, "%s", head);
  *s = got[0];
  ngot = 0;
  sw_conn_on_close(fd);
  close(fd);
}

Test(conn, host_header_corners)
{
  struct sw_span_rec s;
  char head[1024], host[200];

  /* Userinfo in Host: stripped; the rest is used. */
  exit_span("GET /r HTTP/1.1\r\nHost: a@b@h2:82\r\n\r\n", &s);
  cr_assert_str_eq(s.peer, "h2:82");
  cr_assert_str_eq(s.url, "http://h2:82/r");
  /* Not a host[:port]: the connected address instead. */
  exit_span("GET /r HTTP/1.1\r\nHost: h:1:2\r\n\r\n", &s);
  cr_assert_str_eq(s.peer, "127.0.0.1:8080");
  cr_assert_str_eq(s.url, "http://127.0.0.1:8080/r");
  exit_span("GET /r HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &s);
  cr_assert_str_eq(s.peer, "[::1]:8443");
  exit_span("GET /r HTTP/1.1\r\nHost: h:123456\r\n\r\n", &s);
  cr_assert_str_eq(s.peer, "127.0.0.1:8080");
  /* A Host longer than the peer field is cut to SW_PEER_MAX - 1 first. */
  memset(host, 'h', sizeof(host));
  host[120] = '\0';
  snprintf(head, sizeof(head), "GET /r HTTP/1.1\r\nHost: %s\r\n\r\n", host);
  exit_span(head, &s);
  cr_assert_eq(strlen(s.peer), SW_PEER_MAX - 1);
  cr_assert_eq(strncmp(s.url, "http://hhhh", 11), 0);
  cr_assert_eq(strlen(s.url), 7 + SW_PEER_MAX - 1 + 2);
  /* ... and userinfo is stripped after the cut: an '@' past it is lost,
   * so what is left is not a host. */
  memset(host, 'u', 100);
  memcpy(host + 100, "@realhost", 10);
  snprintf(head, sizeof(head), "GET /r HTTP/1.1\r\nHost: %s\r\n\r\n", host);
  exit_span(head, &s);
  cr_assert_eq(strlen(s.peer), SW_PEER_MAX - 1);
  memcpy(host + 88, "@realhost", 10);
  snprintf(head, sizeof(head), "GET /r HTTP/1.1\r\nHost: %s\r\n\r\n", host);
  exit_span(head, &s);
  cr_assert_str_eq(s.peer, "realho");
  memcpy(host + 80, "@realhost", 10);
  snprintf(head, sizeof(head), "GET /r HTTP/1.1\r\nHost: %s\r\n\r\n", host);
  exit_span(head, &s);
  cr_assert_str_eq(s.peer, "realhost");
  /* An absolute-form target's authority wins over Host. */
  exit_span("GET http://u@auth:7/x?y HTTP/1.1\r\nHost: other:8\r\n\r\n", &s);
  cr_assert_str_eq(s.peer, "auth:7");
  cr_assert_str_eq(s.op, "/x");
  cr_assert_str_eq(s.url, "http://auth:7/x?y");
  exit_span("GET http://auth:7 HTTP/1.1\r\n\r\n", &s);
  cr_assert_str_eq(s.op, "/");
  cr_assert_str_eq(s.url, "http://auth:7/");
}

Test(conn, entry_peer_is_the_remote_and_fields_do_not_leak_between_requests)
{
  char sw8[512], req[1024];
  int fd = 70;
  cr_assert_gt(sw8_encode(sw8, sizeof(sw8), "t-1", "s-1", 1, "up", "ui",
                          "/up", "me:80"),
               0);
  snprintf(req, sizeof(req),
           "POST /first?q=1 HTTP/1.1\r\nHost: vhost:81\r\nsw8: %s\r\n"
           "Content-Length: 0\r\n\r\n",
           sw8);
  server_accept(fd);
  in(fd, req);
  out(fd, "HTTP/1.1 500 E\r\nContent-Length: 0\r\n\r\n");
  in(fd, "GET /2 HTTP/1.0\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 2);
  cr_assert_str_eq(got[0].peer, "10.1.2.3:5555", "an entry's peer is the client");
  cr_assert_str_eq(got[0].url, "http://vhost:81/first?q=1");
  cr_assert_eq(got[0].has_ref, 1);
  cr_assert_eq(got[0].is_error, 1);
  cr_assert_str_eq(got[1].method, "GET");
  cr_assert_str_eq(got[1].op, "/2");
  cr_assert_str_eq(got[1].url, "http://10.1.2.3:5555/2");
  cr_assert_eq(got[1].has_ref, 0);
  cr_assert_eq(got[1].is_error, 0);
  cr_assert_eq(got[1].status, 200);
  cr_assert_str_eq(got[1].errlog, "");
  cr_assert_str_neq(got[1].trace_id, "t-1");
  sw_conn_on_close(fd);
}

static void
setup_threshold(void)
{
  env_params_threshold = "3";
  setup();
}

Test(conn, query_string_cut_at_the_params_threshold, .init = setup_threshold)
{
  int fd = 71;
  server_accept(fd);
  in(fd, "GET /p?abc HTTP/1.1\r\nHost: h\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  in(fd, "GET /p?abcd#f HTTP/1.1\r\nHost: h\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 2);
  cr_assert_str_eq(got[0].url, "http://h/p?abc");
  cr_assert_str_eq(got[1].url, "http://h/p?abc");
  cr_assert_str_eq(got[1].op, "/p");
  sw_conn_on_close(fd);
  env_params_threshold = NULL;
}

Test(conn, ignored_suffix_on_both_sides)
{
  /* The default suffix list: the prepared filter is what conn.c asks. */
  cr_assert_eq(sw_conn_ignored("GET", "/a.css"), 1);
  cr_assert_eq(sw_conn_ignored("GET", "/a.txt"), 0);
  int fd = 72;
  server_accept(fd);
  in(fd, "GET /app.js?v=1 HTTP/1.1\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 0);
  in(fd, "GET /app.json HTTP/1.1\r\n\r\n");
  out(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  cr_assert_str_eq(got[0].op, "/app.json");
  sw_conn_on_close(fd);
  int cfd = tcp_fd();
  client_connect(cfd);
  out(cfd, "GET /logo.png HTTP/1.1\r\nHost: b\r\n\r\n");
  in(cfd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  cr_assert_eq(ngot, 1);
  sw_conn_on_close(cfd);
  close(cfd);
}

/* valid_hostport() as it was written before its one-pass form. */
static int
ref_valid_hostport(const char *h)
{
  if (!h[0] || strpbrk(h, "@ \t/?#"))
    return 0;
  const char *port;
  if (h[0] == '[') {
    const char *e = strchr(h, ']');
    if (!e)
      return 0;
    if (!e[1])
      return 1;
    if (e[1] != ':')
      return 0;
    port = e + 2;
  } else {
    const char *colon = strchr(h, ':');
    if (!colon)
      return 1;
    if (strchr(colon + 1, ':'))
      return 0;
    port = colon + 1;
  }
  if (!*port || strlen(port) > 5)
    return 0;
  for (; *port; port++)
    if (*port < '0' || *port > '9')
      return 0;
  return 1;
}

Test(conn, host_header_choice_same_as_reference)
{
  static const char *const pieces[] = {
    "h", "a.b", ":", "[", "]", "80", "65535", "123456", "@", "/", "?",
    "#", "::1", "x:y", "0", "[::1]", "]:", "u:p@"};
  unsigned seed = 31337;
  char host[128], head[256], want[SW_PEER_MAX];
  int fd = tcp_fd();
  client_connect(fd);
  for (int round = 0; round < 5000; round++) {
    size_t o = 0;
    int m = 1 + rand_r(&seed) % 5;
    host[0] = '\0';
    while (m-- > 0)
      o += (size_t)snprintf(host + o, sizeof(host) - o, "%s",
                            pieces[rand_r(&seed) % SW_ARRAY_LEN(pieces)]);
    /* What the span must show: the value stripped of userinfo, if it is
     * a host[:port], else the connected address. */
    const char *at = strrchr(host, '@');
    snprintf(want, sizeof(want), "%s", at ? at + 1 : host);
    if (!ref_valid_hostport(want))
      snprintf(want, sizeof(want), "127.0.0.1:8080");
    snprintf(head, sizeof(head), "GET /r HTTP/1.1\r\nHost: %s\r\n\r\n", host);
    out(fd, head);
    in(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    cr_assert_eq(ngot, 1, "%s", host);
    cr_assert_str_eq(got[0].peer, want, "Host: %s", host);
    ngot = 0;
  }
  sw_conn_on_close(fd);
  close(fd);
}

/* The one-pass scans of span_common() and head_parse() against the
 * functions they stand for, on random values with random bytes after the
 * NUL (the parser's buffers keep old bytes there). */
int scan_host(const char *h, size_t cap, size_t *len);
int scan_target(const char *t, size_t cap, size_t *tlen, size_t *plen);
int valid_hostport(const char *h);
void hex64(char *out, uint64_t v);
void hex64_table(char *out, uint64_t v);

Test(conn, scan_host_same_as_valid_hostport)
{
  static const char *const pieces[] = {
    "h", "a.b", ":", "[", "]", "80", "65535", "123456", "@", "/", "?", "#",
    " ", "\t", "::1", "x:y", "0", "[::1]", "]:", "u:p@", "localhost",
    "abcdefghijklmnop", "1", "99999", "00000"};
  unsigned seed = 4242;
  char buf[SW_H1_HOST_MAX];
  int hits = 0;
  for (int round = 0; round < 200000; round++) {
    for (size_t i = 0; i < sizeof(buf); i++)
      buf[i] = (char)(rand_r(&seed) % 256);
    size_t o = 0;
    int m = rand_r(&seed) % 12;
    while (m-- > 0) {
      const char *p = pieces[rand_r(&seed) % SW_ARRAY_LEN(pieces)];
      size_t n = strlen(p);
      if (o + n >= sizeof(buf))
        break;
      memcpy(buf + o, p, n);
      o += n;
    }
    buf[o] = '\0';
    size_t len = 12345;
    int fast = scan_host(buf, sizeof(buf), &len);
    size_t n = strlen(buf);
    int common = valid_hostport(buf) && !strchr(buf, '@') &&
                 n < SW_PEER_MAX && buf[0] != '[';
    if (fast) {
      hits++;
      cr_assert(common, "\"%s\"", buf);
      cr_assert_eq(len, n, "\"%s\"", buf);
    } else {
      /* What it leaves to the slow way is never the common value. */
      cr_assert(!common, "\"%s\" not taken", buf);
    }
  }
  cr_assert_gt(hits, 1000);
}

Test(conn, scan_target_same_as_strlen_and_strcspn)
{
  static const char alpha[] = "/ab?#=&%.x";
  unsigned seed = 777;
  char buf[SW_H1_PATH_MAX];
  for (int round = 0; round < 100000; round++) {
    for (size_t i = 0; i < sizeof(buf); i++)
      buf[i] = (char)(rand_r(&seed) % 256);
    size_t n = (size_t)rand_r(&seed) %
               (round % 4 ? 64 : sizeof(buf)); /* mostly short ones */
    for (size_t i = 0; i < n; i++)
      buf[i] = alpha[rand_r(&seed) % (sizeof(alpha) - 1)];
    buf[n] = '\0';
    size_t tl = 99999, pl = 99999;
    if (!scan_target(buf, sizeof(buf), &tl, &pl)) {
      /* Only an end in the last, partial block is left to strlen(). */
      cr_assert_geq(n, sizeof(buf) / 16 * 16, "%zu", n);
      continue;
    }
    cr_assert_eq(tl, n);
    cr_assert_eq(pl, strcspn(buf, "?#"), "\"%s\"", buf);
  }
}

Test(conn, hex64_same_as_table)
{
  uint64_t v = 0x0123456789abcdefULL;
  char a[17], b[17];
  a[16] = b[16] = '\0';
  hex64(a, v);
  cr_assert_str_eq(a, "0123456789abcdef");
  for (int i = 0; i < 100000; i++) {
    v = v * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t x = i < 64 ? (1ULL << i) : i < 128 ? ~(1ULL << (i - 64)) : v;
    hex64(a, x);
    hex64_table(b, x);
    cr_assert_str_eq(a, b);
  }
}

/* The hooks of reads, writes and close save no errno of their own: every
 * call they make must leave it as it was, spans sent (the sink above sets
 * it) or not, sw8 injected or not. */
Test(conn, byte_feeds_keep_errno)
{
  int s = 7, c = tcp_fd();
  char line[64];
  static const char h1[] = "GET /e HTTP/1.1\r\n";
  static const char h2[] = "Host: h:1\r\n\r\n";
  struct iovec v[2] = {{(void *)h1, sizeof(h1) - 1},
                       {(void *)h2, sizeof(h2) - 1}};
  struct iovec outv[SW_INJECT_MAX_IOV + 2];
  int nout = 0;
  size_t before = 0, rest = 0;
  server_accept(s);
  client_connect(c);
  for (int round = 0; round < 3; round++) {
    errno = 4321;
    in(s, REQ);
    cr_assert_eq(errno, 4321);
    /* An exit with an sw8 line made and sent, on the thread serving s. */
    int want = sw_conn_send_prepare(c, v, 2, sizeof(h1) + sizeof(h2) - 2,
                                    outv, &nout, &before, &rest);
    cr_assert_eq(errno, 4321);
    cr_assert_eq(want, 1);
    size_t total = 0;
    for (int i = 0; i < nout; i++)
      total += outv[i].iov_len;
    sw_conn_send_done(c, v, 2, before, total);
    cr_assert_eq(errno, 4321);
    snprintf(line, sizeof(line),
             "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    struct iovec r = {line, strlen(line)};
    sw_conn_on_recv_iov(c, &r, 1, strlen(line));
    cr_assert_eq(errno, 4321);
    out(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    cr_assert_eq(errno, 4321);
    sw_conn_on_sendfile(s, 10);
    cr_assert_eq(errno, 4321);
    cr_assert_eq(ngot, 2 * (round + 1));
  }
  in(s, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  errno = 4321;
  sw_conn_on_eof(c);
  sw_conn_on_close(s); /* finishes the open entry: a span sent */
  cr_assert_eq(errno, 4321);
  cr_assert_eq(ngot, 7);
  sw_conn_on_close(c);
  cr_assert_eq(errno, 4321);
  close(c);
}
