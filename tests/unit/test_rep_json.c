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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "utf8.h"
#include "utf8_ref.h"

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
