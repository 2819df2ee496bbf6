/* test_sw8.c: base64 and the sw8 propagation header.
 *
 * Known vectors (RFC 4648 section 10, values the Python agent produces),
 * round trips, capacity edges, and every way a header can be malformed:
 * each must be rejected as a whole and leave the reference zeroed. */
#include "sw_common.h"

#include "sw8.h"
#include "sw8_ref.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- base64 */

static const struct {
  const char *plain, *b64;
} b64_vectors[] = {
  {"", ""},
  {"f", "Zg=="},
  {"fo", "Zm8="},
  {"foo", "Zm9v"},
  {"foob", "Zm9vYg=="},
  {"fooba", "Zm9vYmE="},
  {"foobar", "Zm9vYmFy"},
  {"abc", "YWJj"},
  {"host:80", "aG9zdDo4MA=="},
  {"[::1]:8080", "Wzo6MV06ODA4MA=="},
  /* "服务-α|ns" in UTF-8. */
  {"\xe6\x9c\x8d\xe5\x8a\xa1-\xce\xb1|ns", "5pyN5YqhLc6xfG5z"},
  {"\xff\xfe\xfd", "//79"},
  {"\xfb\xef", "++8="},
};

Test(b64, encode_vectors)
{
  char out[64];
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(b64_vectors); i++) {
    int n = sw_b64_encode(out, sizeof(out), b64_vectors[i].plain,
                          strlen(b64_vectors[i].plain));

    cr_assert_eq(n, (int)strlen(b64_vectors[i].b64));
    cr_assert_str_eq(out, b64_vectors[i].b64);
  }
}

Test(b64, decode_vectors)
{
  char out[64];
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(b64_vectors); i++) {
    int n = sw_b64_decode(out, sizeof(out), b64_vectors[i].b64,
                          strlen(b64_vectors[i].b64));

    cr_assert_eq(n, (int)strlen(b64_vectors[i].plain), "%s",
                 b64_vectors[i].b64);
    cr_assert_str_eq(out, b64_vectors[i].plain);
  }
}

Test(b64, binary_round_trip_every_length)
{
  unsigned char in[256];
  char enc[400], dec[300];
  size_t n, i;
  int e, d;

  for (i = 0; i < sizeof(in); i++)
    in[i] = (unsigned char)(i * 37 + 11);
  for (n = 0; n <= sizeof(in); n++) {
    e = sw_b64_encode(enc, sizeof(enc), (const char *)in, n);
    cr_assert_eq(e, (int)((n + 2) / 3 * 4));
    cr_assert_eq(enc[e], '\0');
    d = sw_b64_decode(dec, sizeof(dec), enc, (size_t)e);
    cr_assert_eq(d, (int)n);
    cr_assert_eq(memcmp(dec, in, n), 0);
    cr_assert_eq(dec[d], '\0');
  }
}

Test(b64, encode_cap)
{
  char out[16];

  /* "foo" -> "Zm9v": 4 characters and the NUL. */
  memset(out, 'x', sizeof(out));
  cr_assert_eq(sw_b64_encode(out, 5, "foo", 3), 4);
  cr_assert_str_eq(out, "Zm9v");
  memset(out, 'x', sizeof(out));
  cr_assert_eq(sw_b64_encode(out, 4, "foo", 3), -1);
  cr_assert_eq(out[0], '\0');
  cr_assert_eq(out[4], 'x', "wrote past cap");
  cr_assert_eq(sw_b64_encode(out, 1, "", 0), 0);
  cr_assert_eq(out[0], '\0');
  cr_assert_eq(sw_b64_encode(out, 0, "", 0), -1);
}

Test(b64, decode_cap)
{
  char out[16];

  memset(out, 'x', sizeof(out));
  cr_assert_eq(sw_b64_decode(out, 4, "Zm9v", 4), 3);
  cr_assert_str_eq(out, "foo");
  memset(out, 'x', sizeof(out));
  cr_assert_eq(sw_b64_decode(out, 3, "Zm9v", 4), -1);
  cr_assert_eq(out[0], '\0');
  cr_assert_eq(out[3], 'x', "wrote past cap");
  /* Padding does not count: "Zg==" needs 2 bytes, not 4. */
  cr_assert_eq(sw_b64_decode(out, 2, "Zg==", 4), 1);
  cr_assert_str_eq(out, "f");
  cr_assert_eq(sw_b64_decode(out, 0, "Zg==", 4), -1);
}

Test(b64, decode_rejects)
{
  static const char *bad[] = {
    "Z",        "Zm",       "Zm9",      "Zm9vY",   /* not a multiple of 4 */
    "Zm9*",     "Zm 9",     "Zm9v\n",   "Zm9-",    /* foreign characters */
    "Zm9_",     "Zm.v",     "\xc3\xa9xx",          /* url-safe, non-ASCII */
    "=Zm9",     "Z=m9",     "Zm=v",     "Z===",    /* '=' misplaced */
    "====",     "Zg==Zm9v", "Zm8=Zm9v", "Zg=a",
    "Zh==",     "Zm9=",                            /* non-zero pad bits */
  };
  char out[32];
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(bad); i++) {
    memset(out, 'x', sizeof(out));
    cr_assert_eq(sw_b64_decode(out, sizeof(out), bad[i], strlen(bad[i])), -1,
                 "accepted \"%s\"", bad[i]);
    cr_assert_eq(out[0], '\0');
  }
  /* A NUL inside the text is a foreign character, not an end. */
  cr_assert_eq(sw_b64_decode(out, sizeof(out), "Zm\0v", 4), -1);
}

Test(b64, decoded_nul_is_data)
{
  char out[8];

  /* "YQBi" is "a\0b": base64 carries it; sw8 is what refuses it. */
  cr_assert_eq(sw_b64_decode(out, sizeof(out), "YQBi", 4), 3);
  cr_assert_eq(memcmp(out, "a\0b", 4), 0);
}


/* Random bytes, random base64-ish text (valid and not), every length up
 * to 40 and a few long ones, every capacity around the need: the tables
 * give what the reference gives. */
Test(b64, same_as_table_free_reference)
{
  static const char text[] = "ABCZazAZ09+/=====-\0\xff";
  char in[1200], tmp[1200], a[1700], b[1700];
  unsigned seed = 4242;
  int round, x, y;
  size_t n, i, cap, span;

  for (round = 0; round < 20000; round++) {
    n = round < 2000 ? (size_t)(round % 41)
                     : (size_t)(rand_r(&seed) % (round % 100 ? 41 : 1200));
    for (i = 0; i < n; i++)
      in[i] = round % 2 ? (char)rand_r(&seed)
                        : text[rand_r(&seed) % (sizeof(text) - 1)];
    if (round % 3 == 0 && n >= 4) { /* valid base64 of something */
      memcpy(tmp, in, n);
      ref_b64_encode(in, n + 1, tmp, n / 4 * 3);
    }
    for (cap = 0; cap <= 2 * n + 8 && cap <= sizeof(a); cap += 1 + cap / 8) {
      span = cap + 8 < sizeof(a) ? cap + 8 : sizeof(a);
      memset(a, 'x', span);
      memset(b, 'x', span);
      x = sw_b64_encode(a, cap, in, n);
      y = ref_b64_encode(b, cap, in, n);
      cr_assert_eq(x, y, "encode n %zu cap %zu", n, cap);
      cr_assert(memcmp(a, b, span) == 0, "encode n %zu cap %zu", n, cap);
      memset(a, 'x', span);
      memset(b, 'x', span);
      x = sw_b64_decode(a, cap, in, n);
      y = ref_b64_decode(b, cap, in, n);
      cr_assert_eq(x, y, "decode \"%.*s\" cap %zu", (int)n, in, cap);
      cr_assert(memcmp(a, b, span) == 0, "decode n %zu cap %zu", n, cap);
    }
  }
}

/* ---------------------------------------------------------------- sw8 */

static int
ref_is_zero(const struct sw_ref *ref)
{
  const unsigned char *p = (const unsigned char *)ref;
  size_t i;

  for (i = 0; i < sizeof(*ref); i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

static void
expect_bad_len(const char *v, size_t len)
{
  struct sw_ref ref;

  memset(&ref, 0xa5, sizeof(ref));
  cr_assert_eq(sw8_decode(v, len, &ref), -1, "accepted \"%.*s\"", (int)len,
               v ? v : "");
  cr_assert(ref_is_zero(&ref), "ref not zeroed after \"%.*s\"", (int)len,
            v ? v : "");
}

static void
expect_bad(const char *v)
{
  expect_bad_len(v, strlen(v));
}

/* Builds "flag-b64(f1)-b64(f2)-span-b64(f4)-..." from raw fields. */
static void
build(char *out, size_t cap, const char *flag, const char *trace,
      const char *seg, const char *span, const char *svc, const char *inst,
      const char *ep, const char *peer)
{
  const char *raw[8] = {flag, trace, seg, span, svc, inst, ep, peer};
  size_t o = 0;
  int i, n;

  for (i = 0; i < 8; i++) {
    if (i > 0)
      out[o++] = '-';
    if (i == 0 || i == 3) {
      n = snprintf(out + o, cap - o, "%s", raw[i]);
    } else {
      n = sw_b64_encode(out + o, cap - o, raw[i], strlen(raw[i]));
    }
    cr_assert(n >= 0 && (size_t)n < cap - o);
    o += (size_t)n;
  }
  out[o] = '\0';
}

/* What the Python agent injects (ExitSpan.inject): uuid1 hex ids,
 * base64 of UTF-8 names, the exit span's id in decimal. Spelled out here
 * as the literal bytes on the wire. */
static const char py_sw8[] =
  "1-NWEwZjhhNWU5YzczMTFlZWI2YTgwMjQyYWMxMjAwMDI="
  "-NWEwZjhjNzA5YzczMTFlZWI2YTgwMjQyYWMxMjAwMDI="
  "-3-bXktcHl0aG9uLXNlcnZpY2U="
  "-ZDFiNmU3ZTQ5YzcyMTFlZWI2YTgwMjQyYWMxMjAwMDI="
  "-L3VzZXJzL3tpZH0=-YmFja2VuZC5zdmM6ODA4MA==";

Test(sw8, decode_python_agent_value)
{
  struct sw_ref ref;

  cr_assert_eq(sw8_decode(py_sw8, strlen(py_sw8), &ref), 0);
  cr_assert_str_eq(ref.trace_id, "5a0f8a5e9c7311eeb6a80242ac120002");
  cr_assert_str_eq(ref.parent_segment_id, "5a0f8c709c7311eeb6a80242ac120002");
  cr_assert_eq(ref.parent_span_id, 3);
  /* '-' inside a name is fine once base64'd. */
  cr_assert_str_eq(ref.parent_service, "my-python-service");
  cr_assert_str_eq(ref.parent_instance, "d1b6e7e49c7211eeb6a80242ac120002");
  cr_assert_str_eq(ref.parent_endpoint, "/users/{id}");
  cr_assert_str_eq(ref.peer, "backend.svc:8080");
}

Test(sw8, decode_respects_len)
{
  struct sw_ref ref;
  char buf[sizeof(py_sw8) + 8];

  /* Bytes after len are not part of the value. */
  memcpy(buf, py_sw8, strlen(py_sw8));
  memcpy(buf + strlen(py_sw8), "-garbage", 8);
  cr_assert_eq(sw8_decode(buf, strlen(py_sw8), &ref), 0);
  cr_assert_str_eq(ref.peer, "backend.svc:8080");
  /* Cutting the value short breaks the last field's base64. */
  expect_bad_len(py_sw8, strlen(py_sw8) - 1);
  expect_bad_len(py_sw8, strlen(py_sw8) - 4 - 5);
}

Test(sw8, decode_sample_flag_zero)
{
  char v[512];
  struct sw_ref ref;

  /* "0": context exists but may be ignored; still a valid reference. */
  build(v, sizeof(v), "0", "t1", "s1", "0", "svc", "inst", "/", "h:1");
  cr_assert_eq(sw8_decode(v, strlen(v), &ref), 0);
  cr_assert_str_eq(ref.trace_id, "t1");
  cr_assert_eq(ref.parent_span_id, 0);
}

Test(sw8, encode_known_vector)
{
  char out[128];
  int n;

  n = sw8_encode(out, sizeof(out), "abc", "def", 3, "svc", "inst", "/ep",
                 "host:80");
  cr_assert_str_eq(out, "1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  cr_assert_eq(n, (int)strlen(out));
}

Test(sw8, round_trip)
{
  static const struct {
    const char *trace, *seg;
    int span;
    const char *svc, *inst, *ep, *peer;
  } cases[] = {
    {"abc", "def", 0, "svc", "inst", "/", "h:1"},
    {"5a0f8a5e9c7311eeb6a80242ac120002", "5a0f8c709c7311eeb6a80242ac120002",
     7, "my-python-service", "1234@host", "GET:/api/v1/items",
     "backend.svc:8080"},
    /* UTF-8 names, ':' and brackets in peers. */
    {"t", "s", 12, "\xe6\x9c\x8d\xe5\x8a\xa1-\xce\xb1|ns",
     "inst\xc3\xa9", "/caf\xc3\xa9/\xe2\x82\xac", "[::1]:8080"},
    {"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "x", INT32_MAX, "a", "b", "c",
     "10.0.0.1:443"},
  };
  char out[SW8_MAX_LEN + 1];
  struct sw_ref ref;
  size_t i;
  int n;

  for (i = 0; i < SW_ARRAY_LEN(cases); i++) {
    n = sw8_encode(out, sizeof(out), cases[i].trace, cases[i].seg,
                   cases[i].span, cases[i].svc, cases[i].inst, cases[i].ep,
                   cases[i].peer);
    cr_assert_gt(n, 0);
    cr_assert_eq(out[0], '1');
    cr_assert_eq(sw8_decode(out, (size_t)n, &ref), 0, "%s", out);
    cr_assert_str_eq(ref.trace_id, cases[i].trace);
    cr_assert_str_eq(ref.parent_segment_id, cases[i].seg);
    cr_assert_eq(ref.parent_span_id, cases[i].span);
    cr_assert_str_eq(ref.parent_service, cases[i].svc);
    cr_assert_str_eq(ref.parent_instance, cases[i].inst);
    cr_assert_str_eq(ref.parent_endpoint, cases[i].ep);
    cr_assert_str_eq(ref.peer, cases[i].peer);
  }
}

Test(sw8, round_trip_largest_fields)
{
  char trace[SW_ID_MAX], seg[SW_ID_MAX], svc[SW_NAME_MAX];
  char inst[SW_NAME_MAX], ep[SW_OP_MAX], peer[SW_PEER_MAX];
  char out[SW8_MAX_LEN + 1];
  struct sw_ref ref;
  int n;

  /* Every field exactly as long as struct sw_ref can hold. */
  memset(trace, 't', sizeof(trace) - 1);
  trace[sizeof(trace) - 1] = '\0';
  memset(seg, 's', sizeof(seg) - 1);
  seg[sizeof(seg) - 1] = '\0';
  memset(svc, 'v', sizeof(svc) - 1);
  svc[sizeof(svc) - 1] = '\0';
  memset(inst, 'i', sizeof(inst) - 1);
  inst[sizeof(inst) - 1] = '\0';
  memset(ep, 'e', sizeof(ep) - 1);
  ep[sizeof(ep) - 1] = '\0';
  memset(peer, 'p', sizeof(peer) - 1);
  peer[sizeof(peer) - 1] = '\0';
  n = sw8_encode(out, sizeof(out), trace, seg, INT32_MAX, svc, inst, ep,
                 peer);
  cr_assert_gt(n, 0);
  cr_assert_eq(sw8_decode(out, (size_t)n, &ref), 0);
  cr_assert_str_eq(ref.trace_id, trace);
  cr_assert_str_eq(ref.parent_segment_id, seg);
  cr_assert_str_eq(ref.parent_service, svc);
  cr_assert_str_eq(ref.parent_instance, inst);
  cr_assert_str_eq(ref.parent_endpoint, ep);
  cr_assert_str_eq(ref.peer, peer);
}

Test(sw8, encode_cap_every_size)
{
  char full[128], out[128];
  int n, cap;

  n = sw8_encode(full, sizeof(full), "abc", "def", 42, "svc", "inst", "/ep",
                 "host:80");
  cr_assert_gt(n, 0);
  /* Every cap below n + 1 fails, writes nothing past cap, leaves out "". */
  for (cap = 1; cap <= n; cap++) {
    memset(out, 'x', sizeof(out));
    cr_assert_eq(sw8_encode(out, (size_t)cap, "abc", "def", 42, "svc",
                            "inst", "/ep", "host:80"),
                 -1, "cap %d", cap);
    cr_assert_eq(out[0], '\0', "cap %d", cap);
    cr_assert_eq(out[cap], 'x', "cap %d: wrote past cap", cap);
  }
  cr_assert_eq(sw8_encode(out, (size_t)n + 1, "abc", "def", 42, "svc",
                          "inst", "/ep", "host:80"),
               n);
  cr_assert_str_eq(out, full);
  cr_assert_eq(sw8_encode(NULL, 0, "abc", "def", 42, "svc", "inst", "/ep",
                          "host:80"),
               -1);
}

Test(sw8, encode_refuses_invalid_input)
{
  char out[256];

  cr_assert_eq(sw8_encode(out, sizeof(out), "a", "b", -1, "c", "d", "e",
                          "f"), -1);
  cr_assert_eq(out[0], '\0');
  cr_assert_eq(sw8_encode(out, sizeof(out), "", "b", 1, "c", "d", "e", "f"),
               -1);
  cr_assert_eq(sw8_encode(out, sizeof(out), "a", "b", 1, "c", "d", "e", ""),
               -1);
  cr_assert_eq(sw8_encode(out, sizeof(out), "a", "b", 1, NULL, "d", "e",
                          "f"), -1);
  cr_assert_eq(out[0], '\0');
}

Test(sw8, reject_field_count)
{
  /* 7 fields, 9 fields, no separators at all. */
  expect_bad("1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw");
  expect_bad("1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==-YWJj");
  expect_bad("1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==-");
  expect_bad("-1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  expect_bad("1YWJjZGVm3c3ZjaW5zdA==L2VwaG9zdDo4MA==");
  /* A '-' inside a field: un-base64'd text splits into extra fields. */
  expect_bad("1-YWJj-ZGVm-3-my-svc-aW5zdA==-L2Vw-aG9zdDo4MA==");
  /* A negative span id is a '-' too. */
  expect_bad("1-YWJj-ZGVm--1-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
}

Test(sw8, reject_empty)
{
  static const char *bad[] = {
    "",
    "-------",
    "1-------", /* what an unsampled Python context injects */
    "-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1--ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj--3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm--c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-3--aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-3-c3Zj--L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA==--aG9zdDo4MA==",
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-",
  };
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(bad); i++)
    expect_bad(bad[i]);
  expect_bad_len(NULL, 0);
}

Test(sw8, reject_sample_flag)
{
  expect_bad("2-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  expect_bad("01-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  expect_bad("11-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  expect_bad("x-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  expect_bad(" 1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  expect_bad("MQ==-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
}

Test(sw8, reject_bad_base64)
{
  static const char *bad[] = {
    "1-YW*j-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",   /* bad char */
    "1-YWJj-ZG.m-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-3-c3_j-aW5zdA==-L2Vw-aG9zdDo4MA==",   /* url-safe */
    "1-YWJj-ZGVm-3-c3Zj-aW5z dA=-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA== ",  /* trailing space */
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==\r",
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA-L2Vw-aG9zdDo4MA==",     /* padding missing */
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA=-L2Vw-aG9zdDo4MA==",    /* padding short */
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA===-L2Vw-aG9zdDo4MA==",  /* padding long */
    "1-YW=j-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",   /* '=' inside */
    "1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==aG9z",
    "1-YWJ-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",    /* length 3 */
    "1-YWJjZ-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",  /* length 5 */
    "1-YWJj-ZGVm-3-c3Zj-aW5zdB==-L2Vw-aG9zdDo4MA==",   /* pad bits set */
    "1-abc-def-3-svc-inst-/ep-host:80",                /* not base64 */
  };
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(bad); i++)
    expect_bad(bad[i]);
}

Test(sw8, reject_span_id)
{
  static const char *bad[] = {
    "1-YWJj-ZGVm-3a-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-a-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-+3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm- 3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-3 -c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-0x1-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-1.5-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-Mw==-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==", /* base64'd */
    "1-YWJj-ZGVm-2147483648-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-4294967299-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-21474836470-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
    "1-YWJj-ZGVm-99999999999999999999999-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
  };
  struct sw_ref ref;
  const char *ok;
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(bad); i++)
    expect_bad(bad[i]);
  ok = "1-YWJj-ZGVm-2147483647-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==";
  cr_assert_eq(sw8_decode(ok, strlen(ok), &ref), 0);
  cr_assert_eq(ref.parent_span_id, INT32_MAX);
  ok = "1-YWJj-ZGVm-0000000000012-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==";
  cr_assert_eq(sw8_decode(ok, strlen(ok), &ref), 0);
  cr_assert_eq(ref.parent_span_id, 12);
}

Test(sw8, reject_nul)
{
  char v[256];

  /* "YQBi" decodes to "a\0b": taken as "a" it would be another id. */
  snprintf(v, sizeof(v), "1-YQBi-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  expect_bad(v);
  snprintf(v, sizeof(v), "1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdAA=");
  expect_bad(v); /* "host\0" */
  /* A raw NUL byte inside the value. */
  expect_bad_len("1-YWJj-ZGVm-3-c3Zj-aW5z\0A==-L2Vw-aG9zdDo4MA==", 45);
}

/* Field i (1..7 but 3) of a header built from raw text, one byte longer
 * than struct sw_ref holds: rejected, while one byte shorter passes. */
static void
check_field_limit(int field, size_t limit)
{
  char big[SW8_MAX_LEN], v[SW8_MAX_LEN + 1];
  const char *raw[8] = {"1", "t", "s", "3", "svc", "inst", "/ep", "h:1"};
  struct sw_ref ref;

  cr_assert_lt(limit, sizeof(big));
  memset(big, 'x', limit);
  big[limit] = '\0';
  raw[field] = big;
  build(v, sizeof(v), raw[0], raw[1], raw[2], raw[3], raw[4], raw[5],
        raw[6], raw[7]);
  expect_bad(v);
  big[limit - 1] = '\0';
  build(v, sizeof(v), raw[0], raw[1], raw[2], raw[3], raw[4], raw[5],
        raw[6], raw[7]);
  cr_assert_eq(sw8_decode(v, strlen(v), &ref), 0, "field %d at %zu", field,
               limit - 1);
}

Test(sw8, reject_field_too_long)
{
  check_field_limit(1, SW_ID_MAX);
  check_field_limit(2, SW_ID_MAX);
  check_field_limit(4, SW_NAME_MAX);
  check_field_limit(5, SW_NAME_MAX);
  check_field_limit(6, SW_OP_MAX);
  check_field_limit(7, SW_PEER_MAX);
}

Test(sw8, reject_value_too_long)
{
  static char v[SW8_MAX_LEN + 2];
  struct sw_ref ref;
  size_t n;

  /* A valid value padded with leading zeros in the span id to exactly
   * SW8_MAX_LEN is accepted; one byte more is not. */
  n = (size_t)snprintf(v, sizeof(v), "1-YWJj-ZGVm-");
  memset(v + n, '0', SW8_MAX_LEN - n);
  n = SW8_MAX_LEN - strlen("3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==");
  memcpy(v + n, "3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==",
         strlen("3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4MA==") + 1);
  cr_assert_eq(strlen(v), SW8_MAX_LEN);
  cr_assert_eq(sw8_decode(v, SW8_MAX_LEN, &ref), 0);
  cr_assert_eq(ref.parent_span_id, 3);
  memmove(v + 13, v + 12, SW8_MAX_LEN - 12 + 1);
  cr_assert_eq(strlen(v), SW8_MAX_LEN + 1);
  expect_bad(v);
}

Test(sw8, failure_after_partial_decode_zeroes_ref)
{
  struct sw_ref ref;
  const char *v = "1-YWJj-ZGVm-3-c3Zj-aW5zdA==-L2Vw-aG9zdDo4M===";

  /* Everything but the last field decodes first; none of it may stay. */
  memset(&ref, 0x5a, sizeof(ref));
  cr_assert_eq(sw8_decode(v, strlen(v), &ref), -1);
  cr_assert(ref_is_zero(&ref));
}

/* ------------------------------------------------ fast paths vs reference */

/* sw8_decode() as it was written before fields were split while decoded:
 * split on '-' first, then each field through sw_b64_decode(). */
static int
ref_text_field(char *dst, size_t cap, const char *src, size_t n)
{
  int len;
  if (n == 0)
    return -1;
  len = sw_b64_decode(dst, cap, src, n);
  if (len <= 0 || memchr(dst, '\0', (size_t)len) != NULL)
    return -1;
  return 0;
}

static int
ref_span_id(int32_t *out, const char *s, size_t n)
{
  uint64_t v = 0;
  if (n == 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > INT32_MAX)
      return -1;
  }
  *out = (int32_t)v;
  return 0;
}

static int
ref_sw8_decode(const char *value, size_t len, struct sw_ref *ref)
{
  const char *field[8], *p, *end, *dash;
  size_t flen[8];
  int nf = 0;
  memset(ref, 0, sizeof(*ref));
  if (value == NULL || len == 0 || len > SW8_MAX_LEN)
    return -1;
  p = value;
  end = value + len;
  for (;;) {
    if (nf == 8)
      goto bad;
    dash = memchr(p, '-', (size_t)(end - p));
    field[nf] = p;
    flen[nf] = (size_t)((dash != NULL ? dash : end) - p);
    nf++;
    if (dash == NULL)
      break;
    p = dash + 1;
  }
  if (nf != 8 || flen[0] != 1 || (field[0][0] != '0' && field[0][0] != '1'))
    goto bad;
  if (ref_text_field(ref->trace_id, sizeof(ref->trace_id), field[1],
                     flen[1]) != 0 ||
      ref_text_field(ref->parent_segment_id, sizeof(ref->parent_segment_id),
                     field[2], flen[2]) != 0 ||
      ref_span_id(&ref->parent_span_id, field[3], flen[3]) != 0 ||
      ref_text_field(ref->parent_service, sizeof(ref->parent_service),
                     field[4], flen[4]) != 0 ||
      ref_text_field(ref->parent_instance, sizeof(ref->parent_instance),
                     field[5], flen[5]) != 0 ||
      ref_text_field(ref->parent_endpoint, sizeof(ref->parent_endpoint),
                     field[6], flen[6]) != 0 ||
      ref_text_field(ref->peer, sizeof(ref->peer), field[7], flen[7]) != 0)
    goto bad;
  return 0;
bad:
  memset(ref, 0, sizeof(*ref));
  return -1;
}

Test(sw8, decode_same_as_split_then_decode)
{
  static const char bytes[] =
    "ABCXYZabcxyz0189+/=-=-=-\0\x80\xff 19";
  static const char *const names[] = {
    "a", "ab", "abc", "svc", "/ep", "host:80", "\x01", "x\0y",
    "0123456789abcdef0123456789abcdef", "\xe6\x9c\x8d", ""};
  unsigned seed = 99;
  char v[SW8_MAX_LEN + 64];
  struct sw_ref a, b;
  int ok = 0;
  for (int round = 0; round < 300000; round++) {
    /* A valid value from random names (some empty or with a NUL, which
     * the encoder refuses: then a random prefix of bytes instead). */
    const char *f[6];
    for (int i = 0; i < 6; i++)
      f[i] = names[rand_r(&seed) % SW_ARRAY_LEN(names)];
    int n = sw8_encode(v, sizeof(v), f[0], f[1], rand_r(&seed) % 1000, f[2],
                       f[3], f[4], f[5]);
    if (n <= 0)
      n = 0;
    /* Then up to 3 edits: replace, insert, delete, cut. */
    int edits = rand_r(&seed) % 4;
    while (edits-- > 0 && n > 0) {
      int at = rand_r(&seed) % n;
      char c = bytes[rand_r(&seed) % (sizeof(bytes) - 1)];
      switch (rand_r(&seed) % 4) {
      case 0:
        v[at] = c;
        break;
      case 1:
        memmove(v + at + 1, v + at, (size_t)(n - at));
        v[at] = c;
        n++;
        break;
      case 2:
        memmove(v + at, v + at + 1, (size_t)(n - at - 1));
        n--;
        break;
      default:
        n = at;
        break;
      }
    }
    int ra = sw8_decode(v, (size_t)n, &a);
    int rb = ref_sw8_decode(v, (size_t)n, &b);
    cr_assert_eq(ra, rb, "\"%.*s\"", n, v);
    cr_assert(!memcmp(&a, &b, sizeof(a)), "\"%.*s\"", n, v);
    ok += ra == 0;
  }
  cr_assert_gt(ok, 10000);
}

Test(sw8, encode_pre_same_as_encode)
{
  static const char *const names[] = {
    "a", "ab", "abc", "svc", "/ep", "host:80",
    "0123456789abcdef0123456789abcdef", "\xe6\x9c\x8d", "", NULL};
  unsigned seed = 5;
  char a[SW8_MAX_LEN], b[SW8_MAX_LEN], svc[SW8_SVC_MAX];
  for (int round = 0; round < 100000; round++) {
    const char *f[6];
    for (int i = 0; i < 6; i++)
      f[i] = names[rand_r(&seed) % SW_ARRAY_LEN(names)];
    int span = rand_r(&seed) % 5 == 0 ? -1 : rand_r(&seed);
    size_t cap = rand_r(&seed) % 3 ? sizeof(a) : (size_t)rand_r(&seed) % 200;
    memset(a, 'x', sizeof(a));
    memset(b, 'x', sizeof(b));
    int na = sw8_encode(a, cap, f[0], f[1], span, f[2], f[3], f[4], f[5]);
    int ns = sw8_encode_svc(svc, sizeof(svc), f[2], f[3]);
    int nb = ns > 0 ? sw8_encode_pre(b, cap, f[0], f[1], span, svc,
                                     (size_t)ns, f[4], f[5])
                    : -1;
    if (ns <= 0 && cap > 0)
      b[0] = '\0';
    cr_assert_eq(na, nb);
    if (cap > 0)
      cr_assert_str_eq(a, b);
  }
}
