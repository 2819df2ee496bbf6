/* test_rep_json.c: the JSON encoder of the HTTP and file transports
 * (reporter/json.c).
 *
 * Outputs are compared byte for byte with the expected JSON, so field
 * names, order, escaping and number formats are all pinned down. That
 * the OAP's parser (protobuf JSON mapping, unknown fields rejected)
 * accepts the result is checked end to end by the integration tests
 * against the collector. The string escaper's eight-bytes-at-a-time fast
 * path and the number formatting are also checked against a byte-by-byte
 * reference and snprintf on random inputs. */
#include "sw_common.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "assemble.h"
#include "encode.h"
#include "json.h"
#include "rep_batch.h"
#include "utf8.h"
#include "utf8_ref.h"
#include "xport.h"

static struct sw_buf buf;

static void
teardown(void)
{
  sw_buf_free(&buf);
}

TestSuite(json, .fini = teardown);

/* The buffer as a NUL-terminated string (the encoder writes none). */
static const char *
out(void)
{
  cr_assert_eq(sw_buf_append(&buf, "", 1), 0);
  buf.len--;
  return (const char *)buf.data;
}

static const char *
esc(const char *s)
{
  buf.len = 0;
  cr_assert_eq(sw_json_string(&buf, s), 0);
  return out();
}

Test(json, plain_strings)
{
  cr_assert_str_eq(esc(""), "\"\"");
  cr_assert_str_eq(esc("abc /x?y=1&z"), "\"abc /x?y=1&z\"");
  cr_assert_str_eq(esc("a\"b\\c"), "\"a\\\"b\\\\c\"");
  /* '/' needs no escape. */
  cr_assert_str_eq(esc("</script>"), "\"</script>\"");
}

Test(json, control_characters)
{
  cr_assert_str_eq(esc("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  cr_assert_str_eq(esc("a\x01z"), "\"a\\u0001z\"");
  cr_assert_str_eq(esc("\x1f"), "\"\\u001f\"");
  cr_assert_str_eq(esc("\x1b[31m"), "\"\\u001b[31m\"");
  cr_assert_str_eq(esc("\x7f"), "\"\\u007f\"");
  cr_assert_str_eq(esc(" ~"), "\" ~\"");
}

Test(json, valid_utf8_kept)
{
  /* 2, 3 and 4 byte sequences, and the edges of the ranges. */
  cr_assert_str_eq(esc("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  cr_assert_str_eq(esc("\xe2\x82\xac"), "\"\xe2\x82\xac\"");
  cr_assert_str_eq(esc("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
  cr_assert_str_eq(esc("\xc2\x80"), "\"\xc2\x80\"");
  cr_assert_str_eq(esc("\xe0\xa0\x80"), "\"\xe0\xa0\x80\"");
  cr_assert_str_eq(esc("\xed\x9f\xbf"), "\"\xed\x9f\xbf\"");
  cr_assert_str_eq(esc("\xef\xbf\xbf"), "\"\xef\xbf\xbf\"");
  cr_assert_str_eq(esc("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");
}

#define FFFD "\xef\xbf\xbd"

Test(json, invalid_utf8_replaced)
{
  /* A lone continuation byte. */
  cr_assert_str_eq(esc("a\x80z"), "\"a" FFFD "z\"");
  /* A lead byte cut short by the end of the string, or by ASCII. */
  cr_assert_str_eq(esc("x\xc3"), "\"x" FFFD "\"");
  cr_assert_str_eq(esc("\xe2\x82z"), "\"" FFFD FFFD "z\"");
  /* Overlong forms. */
  cr_assert_str_eq(esc("\xc0\xaf"), "\"" FFFD FFFD "\"");
  cr_assert_str_eq(esc("\xc1\xbf"), "\"" FFFD FFFD "\"");
  cr_assert_str_eq(esc("\xe0\x80\xaf"), "\"" FFFD FFFD FFFD "\"");
  cr_assert_str_eq(esc("\xf0\x80\x80\xaf"), "\"" FFFD FFFD FFFD FFFD "\"");
  /* A UTF-16 surrogate, and beyond U+10FFFF. */
  cr_assert_str_eq(esc("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\"");
  cr_assert_str_eq(esc("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"");
  cr_assert_str_eq(esc("\xf5\x80"), "\"" FFFD FFFD "\"");
  cr_assert_str_eq(esc("\xff\xfe"), "\"" FFFD FFFD "\"");
  /* A valid sequence right after an invalid byte survives. */
  cr_assert_str_eq(esc("\xc3\xc3\xa9"), "\"" FFFD "\xc3\xa9\"");
}

Test(json, every_byte_gives_valid_output)
{
  char s[3] = {0, 'q', 0};

  for (int c = 1; c < 256; c++) {
    const char *o;

    s[0] = (char)c;
    o = esc(s);
    cr_assert(strlen(o) >= 4, "byte %d", c);
    cr_assert_eq(o[0], '"');
    cr_assert_eq(o[strlen(o) - 1], '"');
    cr_assert_eq(o[strlen(o) - 2], 'q', "byte %d: %s", c, o);
    for (const char *p = o; *p; p++)
      cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f, "byte %d", c);
  }
}

static void
fill_root(struct sw_span_rec *r)
{
  memset(r, 0, sizeof(*r));
  strcpy(r->trace_id, "t1");
  strcpy(r->segment_id, "s1");
  r->span_id = 0;
  r->parent_span_id = -1;
  r->nspans = 2;
  r->kind = SW_SPAN_ENTRY;
  r->layer = SW_LAYER_HTTP;
  r->component = SW_COMPONENT_HTTP;
  r->status = 200;
  r->start_ms = 1700000000123LL;
  r->end_ms = 1700000000456LL;
  strcpy(r->method, "GET");
  strcpy(r->op, "/a");
  strcpy(r->url, "http://h:1/a?q=\"1\"");
  strcpy(r->peer, "10.0.0.1:5");
}

static struct sw_seg *
make_seg(struct sw_span_rec *recs, uint32_t n)
{
  static struct sw_seg s;

  memset(&s, 0, sizeof(s));
  s.spans = recs;
  s.n = s.cap = n;
  s.has_root = 1;
  return &s;
}

Test(json, segment_root_only)
{
  struct sw_span_rec r;

  fill_root(&r);
  cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 1), "svc", "inst"), 0);
  cr_assert_str_eq(out(),
    "{\"traceId\":\"t1\",\"traceSegmentId\":\"s1\",\"spans\":[{"
    "\"spanId\":0,\"parentSpanId\":-1,"
    "\"startTime\":1700000000123,\"endTime\":1700000000456,"
    "\"operationName\":\"/a\",\"peer\":\"10.0.0.1:5\","
    "\"spanType\":\"Entry\",\"spanLayer\":\"Http\",\"componentId\":49,"
    "\"isError\":false,\"tags\":["
    "{\"key\":\"http.method\",\"value\":\"GET\"},"
    "{\"key\":\"http.url\",\"value\":\"http://h:1/a?q=\\\"1\\\"\"},"
    "{\"key\":\"http.status_code\",\"value\":\"200\"}]}],"
    "\"service\":\"svc\",\"serviceInstance\":\"inst\","
    "\"isSizeLimited\":false}");
}

Test(json, int64_extremes)
{
  struct sw_span_rec r;

  fill_root(&r);
  r.method[0] = r.url[0] = '\0';
  r.status = 0;
  r.start_ms = INT64_MIN;
  r.end_ms = INT64_MAX;
  r.span_id = INT32_MAX;
  r.parent_span_id = INT32_MIN;
  r.component = -7;
  cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 1), "", ""), 0);
  cr_assert(strstr(out(), "\"spanId\":2147483647,"
                          "\"parentSpanId\":-2147483648,"
                          "\"startTime\":-9223372036854775808,"
                          "\"endTime\":9223372036854775807,"));
  cr_assert(strstr(out(), "\"componentId\":-7,"));
}

Test(json, enums)
{
  struct sw_span_rec r;

  fill_root(&r);
  r.kind = SW_SPAN_EXIT;
  r.layer = SW_LAYER_UNKNOWN;
  cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 1), "s", "i"), 0);
  cr_assert(strstr(out(), "\"spanType\":\"Exit\",\"spanLayer\":\"Unknown\""));

  buf.len = 0;
  r.kind = SW_SPAN_LOCAL;
  r.layer = 1;
  cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 1), "s", "i"), 0);
  cr_assert(
      strstr(out(), "\"spanType\":\"Local\",\"spanLayer\":\"Database\""));

  /* A layer without a name in this build goes out as its number. */
  buf.len = 0;
  r.layer = 42;
  cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 1), "s", "i"), 0);
  cr_assert(strstr(out(), "\"spanLayer\":42,"));
}

Test(json, refs_log_and_error)
{
  struct sw_span_rec r[2];

  fill_root(&r[0]);
  r[0].is_error = 1;
  r[0].status = 503;
  strcpy(r[0].errlog, "upstream\ttimed out");
  r[0].has_ref = 1;
  strcpy(r[0].ref.trace_id, "t1");
  strcpy(r[0].ref.parent_segment_id, "ps");
  r[0].ref.parent_span_id = 3;
  strcpy(r[0].ref.parent_service, "front\"end");
  strcpy(r[0].ref.parent_instance, "fi");
  strcpy(r[0].ref.parent_endpoint, "/home");
  strcpy(r[0].ref.peer, "h:1");

  memset(&r[1], 0, sizeof(r[1]));
  strcpy(r[1].trace_id, "t1");
  strcpy(r[1].segment_id, "s1");
  r[1].span_id = 1;
  r[1].parent_span_id = 0;
  r[1].kind = SW_SPAN_EXIT;
  r[1].layer = SW_LAYER_HTTP;
  r[1].component = SW_COMPONENT_HTTPCLIENT;
  r[1].start_ms = 5;
  r[1].end_ms = 6;
  /* has_ref without a trace id: no refs at all. */
  r[1].has_ref = 1;

  cr_assert_eq(sw_json_segment(&buf, make_seg(r, 2), "svc", "inst"), 0);
  cr_assert_str_eq(out(),
    "{\"traceId\":\"t1\",\"traceSegmentId\":\"s1\",\"spans\":[{"
    "\"spanId\":0,\"parentSpanId\":-1,"
    "\"startTime\":1700000000123,\"endTime\":1700000000456,"
    "\"refs\":[{\"refType\":\"CrossProcess\",\"traceId\":\"t1\","
    "\"parentTraceSegmentId\":\"ps\",\"parentSpanId\":3,"
    "\"parentService\":\"front\\\"end\",\"parentServiceInstance\":\"fi\","
    "\"parentEndpoint\":\"/home\",\"networkAddressUsedAtPeer\":\"h:1\"}],"
    "\"operationName\":\"/a\",\"peer\":\"10.0.0.1:5\","
    "\"spanType\":\"Entry\",\"spanLayer\":\"Http\",\"componentId\":49,"
    "\"isError\":true,\"tags\":["
    "{\"key\":\"http.method\",\"value\":\"GET\"},"
    "{\"key\":\"http.url\",\"value\":\"http://h:1/a?q=\\\"1\\\"\"},"
    "{\"key\":\"http.status_code\",\"value\":\"503\"}],"
    "\"logs\":[{\"time\":1700000000456,\"data\":["
    "{\"key\":\"event\",\"value\":\"error\"},"
    "{\"key\":\"message\",\"value\":\"upstream\\ttimed out\"}]}]},"
    "{\"spanId\":1,\"parentSpanId\":0,\"startTime\":5,\"endTime\":6,"
    "\"operationName\":\"\",\"peer\":\"\",\"spanType\":\"Exit\","
    "\"spanLayer\":\"Http\",\"componentId\":2,\"isError\":false}],"
    "\"service\":\"svc\",\"serviceInstance\":\"inst\","
    "\"isSizeLimited\":false}");
}

Test(json, empty_fields)
{
  struct sw_span_rec r;

  /* Every string empty, no tags (no method, url or status), no log. */
  memset(&r, 0, sizeof(r));
  r.parent_span_id = -1;
  cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 1), "", ""), 0);
  cr_assert_str_eq(out(),
    "{\"traceId\":\"\",\"traceSegmentId\":\"\",\"spans\":[{"
    "\"spanId\":0,\"parentSpanId\":-1,\"startTime\":0,\"endTime\":0,"
    "\"operationName\":\"\",\"peer\":\"\",\"spanType\":\"Entry\","
    "\"spanLayer\":\"Unknown\",\"componentId\":0,\"isError\":false}],"
    "\"service\":\"\",\"serviceInstance\":\"\",\"isSizeLimited\":false}");

  /* A segment without spans: no spans member. */
  buf.len = 0;
  cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 0), "s", "i"), 0);
  cr_assert_str_eq(out(),
    "{\"traceId\":\"\",\"traceSegmentId\":\"\",\"service\":\"s\","
    "\"serviceInstance\":\"i\",\"isSizeLimited\":false}");
}

Test(json, size_limited)
{
  struct sw_span_rec r;
  struct sw_seg *s;

  fill_root(&r);
  s = make_seg(&r, 1);
  s->size_limited = 1;
  cr_assert_eq(sw_json_segment(&buf, s, "s", "i"), 0);
  cr_assert(strstr(out(), ",\"isSizeLimited\":true}"));
}

Test(json, segments_array)
{
  struct sw_span_rec r[2];
  struct sw_seg a, b;
  struct sw_seg *list[2] = {&a, &b};

  fill_root(&r[0]);
  fill_root(&r[1]);
  strcpy(r[1].segment_id, "s2");
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.spans = &r[0];
  b.spans = &r[1];
  a.n = b.n = 1;

  cr_assert_eq(sw_json_segments(&buf, list, 0, "s", "i"), 0);
  cr_assert_str_eq(out(), "[]");

  buf.len = 0;
  cr_assert_eq(sw_json_segments(&buf, list, 2, "s", "i"), 0);
  const char *o = out();
  cr_assert_eq(o[0], '[');
  cr_assert_eq(o[strlen(o) - 1], ']');
  cr_assert(strstr(o, "\"traceSegmentId\":\"s1\""));
  cr_assert(strstr(o, "\"isSizeLimited\":false},{\"traceId\":\"t1\","
                      "\"traceSegmentId\":\"s2\""));
}

Test(json, properties_and_ping)
{
  struct sw_props p = {0};

  sw_props_add(&p, "language", "C");
  sw_props_add(&p, "OS Name", "Linux");
  sw_props_add(&p, "hostname", "h\"x");
  cr_assert_eq(sw_json_properties(&buf, "svc|ns", "i-1", &p), 0);
  cr_assert_str_eq(out(),
    "{\"service\":\"svc|ns\",\"serviceInstance\":\"i-1\",\"properties\":["
    "{\"key\":\"language\",\"value\":\"C\"},"
    "{\"key\":\"OS Name\",\"value\":\"Linux\"},"
    "{\"key\":\"hostname\",\"value\":\"h\\\"x\"}]}");

  buf.len = 0;
  p.n = 0;
  cr_assert_eq(sw_json_properties(&buf, "s", "i", &p), 0);
  cr_assert_str_eq(out(), "{\"service\":\"s\",\"serviceInstance\":\"i\"}");

  buf.len = 0;
  cr_assert_eq(sw_json_ping(&buf, "svc", "in\xff"), 0);
  cr_assert_str_eq(out(),
                   "{\"service\":\"svc\",\"serviceInstance\":\"in" FFFD
                   "\"}");
}

Test(json, long_strings_fit)
{
  /* The worst case: every byte becomes a six-byte escape. */
  char s[SW_URL_MAX];

  memset(s, 1, sizeof(s) - 1);
  s[sizeof(s) - 1] = '\0';
  cr_assert_eq(sw_json_string(&buf, s), 0);
  cr_assert_eq(buf.len, (sizeof(s) - 1) * 6 + 2);
}

/* The validator and the repair shared with the protobuf encoder. */
Test(json, utf8_helpers)
{
  char *c;

  cr_assert(sw_utf8_valid(""));
  cr_assert(sw_utf8_valid("plain /path?q=1"));
  cr_assert(sw_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  cr_assert(!sw_utf8_valid("caf\xc3"));
  cr_assert(!sw_utf8_valid("\xed\xa0\x80"));
  cr_assert(!sw_utf8_valid("\xc0\x80"));
  cr_assert_eq(sw_utf8_seq_len((const uint8_t *)"a"), 1);
  cr_assert_eq(sw_utf8_seq_len((const uint8_t *)"\xc3\xa9"), 2);
  cr_assert_eq(sw_utf8_seq_len((const uint8_t *)"\xe2\x82\xac"), 3);
  cr_assert_eq(sw_utf8_seq_len((const uint8_t *)"\xf0\x9f\x98\x80"), 4);
  cr_assert_eq(sw_utf8_seq_len((const uint8_t *)"\x80"), 0);

  c = sw_utf8_sanitize("/caf\xc3\xa9/\xff\x80x\xc3");
  cr_assert_not_null(c);
  cr_assert_str_eq(c, "/caf\xc3\xa9/" FFFD FFFD "x" FFFD);
  cr_assert(sw_utf8_valid(c));
  free(c);
  c = sw_utf8_sanitize("");
  cr_assert_str_eq(c, "");
  free(c);
}

/* The escaping json.h describes, one byte at a time, with its own RFC
 * 3629 decoder: the reference for the fast path. Appends to o, returns
 * the new end. */
static char *
ref_escape(char *o, const char *str)
{
  const uint8_t *p = (const uint8_t *)str;
  size_t n = strlen(str), i = 0;

  *o++ = '"';
  while (i < n) {
    uint8_t c = p[i];
    size_t seq;

    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
      i++;
      continue;
    }
    if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      *o++ = '\\';
      *o++ = c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n'
                                       : c == '\r' ? 'r' : 't';
      i++;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      o += sprintf(o, "\\u%04x", c);
      i++;
      continue;
    }
    if (c < 0x80) {
      *o++ = (char)c;
      i++;
      continue;
    }
    seq = ref_utf8_seq(p, i, n);
    if (seq > 0) {
      memcpy(o, p + i, seq);
      o += seq;
      i += seq;
      continue;
    }
    memcpy(o, FFFD, 3);
    o += 3;
    i++;
  }
  *o++ = '"';
  *o = '\0';
  return o;
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t
rnd(void)
{
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dULL;
}

/* Random strings: plain runs with, now and then, a byte that needs work
 * (quote, backslash, control, DEL, UTF-8 valid or not) at every offset
 * and length, so the fast path stops and resumes everywhere. */
Test(json, string_matches_reference)
{
  static const char special[] = "\"\\\b\f\n\r\t\x01\x1f\x7f\x80\xc3\xa9\xe2"
                                "\x82\xac\xf0\x9f\x98\x80\xff\xed\xa0 ~/";
  char s[80], want[80 * 6 + 3];

  for (int iter = 0; iter < 100000; iter++) {
    size_t n = rnd() % (sizeof(s) - 1);
    unsigned odds = 1 + (unsigned)(rnd() % 40);

    for (size_t k = 0; k < n; k++) {
      uint64_t x = rnd();

      if (x % odds)
        s[k] = (char)(' ' + (x >> 8) % 95);
      else if (x & 0x100)
        s[k] = special[(x >> 9) % (sizeof(special) - 1)];
      else
        s[k] = (char)((x >> 9) % 255 + 1);
    }
    s[n] = '\0';
    ref_escape(want, s);
    cr_assert_str_eq(esc(s), want, "input of %zu bytes", n);
  }
}

/* Numbers as snprintf writes them. */
Test(json, numbers_match_printf)
{
  struct sw_span_rec r;
  char want[128];

  fill_root(&r);
  for (int iter = 0; iter < 20000; iter++) {
    uint64_t x = rnd();
    int64_t v = (int64_t)(x >> (x % 64));

    if (iter & 1)
      v = -v;
    if (iter < 4)
      v = iter == 0 ? INT64_MIN : iter == 1 ? INT64_MAX : iter == 2 ? 0 : -1;
    r.start_ms = v;
    r.status = (int32_t)v;
    buf.len = 0;
    cr_assert_eq(sw_json_segment(&buf, make_seg(&r, 1), "s", "i"), 0);
    snprintf(want, sizeof(want), "\"startTime\":%" PRId64 ",", v);
    cr_assert(strstr(out(), want), "%s", want);
    if (r.status) {
      snprintf(want, sizeof(want),
               "{\"key\":\"http.status_code\",\"value\":\"%d\"}",
               (int)r.status);
      cr_assert(strstr(out(), want), "%s", want);
    }
  }
}

/* ------------------------------------------ segments encoded on arrival
 *
 * The HTTP and file transports encode a one-span segment as its record
 * arrives (sw_json_single(), reading the ring's cell) instead of copying
 * the record and encoding it when sent: whatever the record holds, the
 * bytes sent must be the same either way. */

/* A random string in the array a of cap bytes: any length, plain or with
 * bytes that need escaping or repair, the bytes after the terminator
 * random; or, now and then, no terminator at all (sw_span_copy() cuts
 * such a string at the array's last byte). */
static void
rnd_arr(char *a, size_t cap)
{
  static const char special[] = "\"\\\b\f\n\r\t\x01\x1f\x7f\x80\xc3\xa9\xe2"
                                "\x82\xac\xf0\x9f\x98\x80\xff\xed\xa0";
  uint64_t kind = rnd() % 8;
  size_t n = kind == 0 ? 0 : kind < 5 ? rnd() % 24 : rnd() % cap;

  for (size_t k = 0; k < cap; k++)
    a[k] = (char)(rnd() % 255 + 1);
  for (size_t k = 0; k < n; k++)
    a[k] = rnd() % 8 == 0 ? special[rnd() % (sizeof(special) - 1)]
                          : (char)(' ' + rnd() % 95);
  if (kind == 7 && rnd() % 2 == 0)
    return; /* no terminator */
  a[n < cap ? n : cap - 1] = '\0';
}

#define RND_ARR(a) rnd_arr((a), sizeof(a))

/* A root announcing one span, as it may arrive. */
static void
rnd_arrival(struct sw_span_rec *r)
{
  RND_ARR(r->trace_id);
  RND_ARR(r->segment_id);
  r->span_id = 0;
  r->parent_span_id = -1;
  r->nspans = 1;
  r->kind = (uint8_t)(rnd() % 4);
  r->layer = (uint8_t)(rnd() % 8 == 0 ? rnd() : rnd() % 4);
  r->is_error = (uint8_t)(rnd() % 3);
  r->has_ref = (uint8_t)(rnd() % 2);
  r->component = (int32_t)rnd_i64();
  r->status = rnd() % 2 ? 0
              : rnd() % 3 ? (int32_t)(100 + rnd() % 500)
                          : (int32_t)rnd_i64();
  r->start_ms = rnd_i64();
  r->end_ms = rnd_i64();
  RND_ARR(r->method);
  RND_ARR(r->op);
  RND_ARR(r->url);
  RND_ARR(r->peer);
  RND_ARR(r->errlog);
  if (rnd() % 3 == 0)
    r->errlog[0] = '\0';
  RND_ARR(r->ref.trace_id);
  RND_ARR(r->ref.parent_segment_id);
  r->ref.parent_span_id = (int32_t)rnd_i64();
  RND_ARR(r->ref.parent_service);
  RND_ARR(r->ref.parent_instance);
  RND_ARR(r->ref.parent_endpoint);
  RND_ARR(r->ref.peer);
}

/* From a view of the record where it arrived, or of the record packed as
 * the ring's cell holds it: the bytes of the record path, whatever the
 * record holds. */
Test(json, single_matches_record_path, .timeout = 120)
{
  static struct sw_span_rec raw, copy;
  struct sw_buf a = {0}, b = {0};
  struct sw_span_view v;

  for (int iter = 0; iter < 4000; iter++) {
    rnd_arrival(&raw);
    memset(&copy, 0x77, sizeof(copy));
    sw_span_copy(&copy, &raw);
    b.len = 0;
    cr_assert_eq(sw_buf_append(&b, "[", 1), 0);
    cr_assert_eq(sw_json_segment(&b, make_seg(&copy, 1), "svc\\\"\xff",
                                 "inst\n"),
                 0);
    for (int view = 0; view < 2; view++) {
      if (view)
        sw_span_view_packed(&v, rep_pack(&raw));
      else
        sw_span_view_rec(&v, &raw);
      a.len = 0;
      cr_assert_eq(sw_buf_append(&a, "[", 1), 0);
      cr_assert_eq(sw_json_single(&a, &v, "svc\\\"\xff", "inst\n"), 0);
      cr_assert_eq(a.len, b.len, "iter %d view %d: %zu bytes, record path %zu",
                   iter, view, a.len, b.len);
      cr_assert(memcmp(a.data, b.data, a.len) == 0, "iter %d view %d", iter,
                view);
    }
  }
  sw_buf_free(&a);
  sw_buf_free(&b);
}

/* Out of memory: -ENOMEM, and the buffer as it was. A buffer at the end
 * of the address space cannot grow (without a call to the allocator). */
static struct sw_span_rec raw_nomem;

Test(json, single_nomem)
{
  struct sw_buf full = {NULL, SIZE_MAX, SIZE_MAX};
  struct sw_span_view v;

  rnd_arrival(&raw_nomem);
  sw_span_view_packed(&v, rep_pack(&raw_nomem));
  cr_assert_eq(sw_json_single(&full, &v, "s", "i"), -ENOMEM);
  cr_assert(full.len == SIZE_MAX && full.data == NULL);
}

#define SVC "a-service|ns"
#define INST "inst@host"

static long
json_enc(void *ctx, const struct sw_span_view *v, uint8_t *dst, size_t room,
         struct sw_buf *out)
{
  (void)ctx;
  (void)dst;
  (void)room;
  return sw_json_single(out, v, SVC, INST);
}

/* The same random stream, one-span roots and segments of two spans
 * mixed, into an assembler that encodes one-span segments on arrival and
 * one that keeps their records; each batch that comes out must make the
 * same HTTP body and the same file lines. */
Test(json, bodies_same_for_encoded_segments, .timeout = 120)
{
  struct sw_asm enc, recs;
  struct sw_asm_limits lim;
  struct sw_buf a = {0}, b = {0};
  struct rep_batch_kinds k = {0};

  sw_asm_limits_default(&lim);
  cr_assert_eq(sw_asm_init(&enc, &lim, NULL), 0);
  cr_assert_eq(sw_asm_init(&recs, &lim, NULL), 0);
  struct rep_enc_count cnt = {json_enc, NULL, 0, 0};

  sw_asm_set_encoder(&enc, rep_counting_enc, &cnt);
  for (int round = 0; round < 200; round++) {
    struct sw_seg *x[16], *y[16];
    size_t n = rep_batch(&enc, &recs, round, rnd_arrival, x, y,
                         SW_ARRAY_LEN(x), &k);

    a.len = b.len = 0;
    cr_assert_eq(sw_json_segments(&a, x, n, SVC, INST), 0);
    cr_assert_eq(sw_json_segments(&b, y, n, SVC, INST), 0);
    cr_assert_eq(a.len, b.len, "round %d", round);
    cr_assert(memcmp(a.data, b.data, a.len) == 0, "round %d", round);
    a.len = b.len = 0;
    cr_assert_eq(sw_xport_file_body(&a, x, n, SVC, INST), 0);
    cr_assert_eq(sw_xport_file_body(&b, y, n, SVC, INST), 0);
    cr_assert_eq(a.len, b.len, "round %d", round);
    cr_assert(memcmp(a.data, b.data, a.len) == 0, "round %d", round);
    for (size_t i = 0; i < n; i++) {
      sw_asm_recycle(&enc, x[i]);
      sw_asm_recycle(&recs, y[i]);
    }
  }
  rep_batch_all_kinds_seen(&k);
  /* JSON is never written in place (see xport_http.c). */
  cr_assert_eq(cnt.direct, 0);
  cr_assert_eq(cnt.out, k.enc);
  sw_buf_free(&a);
  sw_buf_free(&b);
  sw_asm_destroy(&enc);
  sw_asm_destroy(&recs);
}

/* ------------------------------------------ the transports' encoders */

static void
quiet_log(enum sw_log_level level, const char *fmt, ...)
{
  (void)level;
  (void)fmt;
}

static struct sw_config cfg;
static struct sw_stats stats;
static struct sw_reporter_env env;

static void
env_for(enum sw_protocol p)
{
  memset(&cfg, 0, sizeof(cfg));
  strcpy(cfg.service, SVC);
  strcpy(cfg.instance, INST);
  strcpy(cfg.backend, "127.0.0.1:9");
  cfg.protocol = p;
  cfg.log_level = SW_LOG_ERROR;
  memset(&env, 0, sizeof(env));
  env.cfg = &cfg;
  env.stats = &stats;
  env.log = quiet_log;
  env.pid = 1;
  env.hostname = "host";
}

static long
grpc_enc(void *ctx, const struct sw_span_view *v, uint8_t *dst, size_t room,
         struct sw_buf *out)
{
  return sw_xport_grpc_single(v, ctx, dst, room, out);
}

/* x->encode_single() makes, for 50 random arrivals packed as they
 * arrive, with room in place or without, what want() makes; then x is
 * closed. */
static void
encode_single_is(struct sw_xport *x, sw_asm_encode_fn want, void *ctx)
{
  static struct sw_span_rec r;
  static uint8_t d1[SW_ASM_ENC_INLINE], d2[SW_ASM_ENC_INLINE];
  struct sw_buf a = {0}, b = {0};
  struct sw_span_view v;

  cr_assert_not_null(x);
  cr_assert_not_null(x->encode_single);
  for (int i = 0; i < 100; i++) {
    size_t room = i % 2 ? sizeof(d1) : 0;
    long n1, n2;

    rnd_arrival(&r);
    sw_span_view_packed(&v, rep_pack(&r));
    a.len = b.len = 0;
    n1 = x->encode_single(x, &v, room ? d1 : NULL, room, &a);
    n2 = want(ctx, &v, room ? d2 : NULL, room, &b);
    cr_assert_eq(n1, n2);
    cr_assert_geq(n1, 0);
    cr_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    cr_assert(memcmp(d1, d2, (size_t)n1) == 0);
  }
  x->close(x);
  sw_buf_free(&a);
  sw_buf_free(&b);
}

/* encode_single() of the gRPC and HTTP transports makes what their send
 * paths copy (sw_xport_grpc_single(), sw_json_single()). They are only
 * opened: nothing is sent. */
Test(json, grpc_and_http_encode_single)
{
  struct sw_enc_ids ids;

  cr_assert_eq(sw_enc_ids_init(&ids, SVC, INST), 0);
  env_for(SW_PROTO_GRPC);
  encode_single_is(sw_xport_grpc_open(&env), grpc_enc, &ids);
  env_for(SW_PROTO_HTTP);
  encode_single_is(sw_xport_http_open(&env), json_enc, NULL);
  sw_enc_ids_free(&ids);
}

static size_t
read_file(const char *path, struct sw_buf *b)
{
  char chunk[4096];
  ssize_t n;
  int fd = open(path, O_RDONLY);

  cr_assert_geq(fd, 0);
  b->len = 0;
  while ((n = read(fd, chunk, sizeof(chunk))) > 0)
    cr_assert_eq(sw_buf_append(b, chunk, (size_t)n), 0);
  close(fd);
  return b->len;
}

/* The assembler's encoder, as reporter.c wires it. */
static long
xport_enc(void *ctx, const struct sw_span_view *v, uint8_t *dst, size_t room,
          struct sw_buf *out)
{
  struct sw_xport *x = ctx;

  return x->encode_single(x, v, dst, room, out);
}

/* The file transport end to end: a batch of segments encoded on arrival
 * through its own encode_single() and send_segments(), and the same
 * records kept, write the same file. */
Test(json, file_transport_same_lines)
{
  static struct sw_span_rec r;
  char dir[] = "/tmp/sw-test-XXXXXX", p1[64], p2[64];
  struct sw_xport *x1, *x2;
  struct sw_asm enc, recs;
  struct sw_asm_limits lim;
  struct sw_seg *x[64], *y[64];
  struct sw_buf a = {0}, b = {0};
  size_t n = 0;

  cr_assert_not_null(mkdtemp(dir));
  snprintf(p1, sizeof(p1), "%s/enc", dir);
  snprintf(p2, sizeof(p2), "%s/rec", dir);
  env_for(SW_PROTO_FILE);
  strcpy(cfg.file_path, p1);
  x1 = sw_xport_file_open(&env);
  strcpy(cfg.file_path, p2);
  x2 = sw_xport_file_open(&env);
  cr_assert(x1 && x2 && x1->encode_single);
  sw_asm_limits_default(&lim);
  cr_assert_eq(sw_asm_init(&enc, &lim, NULL), 0);
  cr_assert_eq(sw_asm_init(&recs, &lim, NULL), 0);
  sw_asm_set_encoder(&enc, xport_enc, x1);
  for (int i = 0; i < 40; i++) {
    rnd_arrival(&r);
    sw_asm_add_packed(&enc, rep_pack(&r), 1);
    sw_asm_add(&recs, &r, 1);
  }
  while ((x[n] = sw_asm_pop(&enc)) != NULL) {
    y[n] = sw_asm_pop(&recs);
    cr_assert_not_null(x[n]->enc);
    cr_assert_null(y[n]->enc);
    n++;
  }
  cr_assert_eq(n, 40);
  cr_assert_eq(x1->send_segments(x1, x, n, INT64_MAX), 0);
  cr_assert_eq(x2->send_segments(x2, y, n, INT64_MAX), 0);
  cr_assert_gt(read_file(p1, &a), 0);
  read_file(p2, &b);
  cr_assert(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
  for (size_t i = 0; i < n; i++) {
    sw_asm_recycle(&enc, x[i]);
    sw_asm_recycle(&recs, y[i]);
  }
  x1->close(x1);
  x2->close(x2);
  unlink(p1);
  unlink(p2);
  rmdir(dir);
  sw_asm_destroy(&enc);
  sw_asm_destroy(&recs);
  sw_buf_free(&a);
  sw_buf_free(&b);
}
