/* test_conn.c: the connection state machine, driven directly (no hooks,
 * no preload): bytes in and out of fake connections must give exactly the
 * spans a real server or client would. */
#include "sw_common.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

#include "conn.h"
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
}

void
sw_sink_first_conn(void)
{
}

static const char *env_ignore_path;
static const char *env_ignore_method;

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
