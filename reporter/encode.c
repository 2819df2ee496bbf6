/* encode.c: protobuf encoding (see encode.h).
 *
 * The wire format is written directly: the schema is fixed and small, so
 * each message is laid out by hand, fields in field-number order and
 * proto3 defaults (0, false, "", the first enum value) left out, which
 * are the bytes protobuf-c's packer makes for the same message (the unit
 * test compares the two). Nothing is allocated besides the buffer's own
 * geometric growth.
 *
 * Only spans nest. Each span is written in one pass: two bytes are kept
 * for its length and filled in at the end (a span shorter than 128 bytes
 * moves down by one), the same for a reference; a tag or log is small
 * enough that its length follows from its one string's. The room is
 * checked item by item, so that a one-span segment can be written
 * straight into the block that queues it when it fits (the most a span
 * takes, SPAN_MAX, is ten times what a served request's does); given
 * SPAN_MAX the checks always pass. Measuring every string first to size
 * the span exactly costs about 15% more per span, and memcpy plus an
 * ASCII check over each string two passes where one does
 * (sw_copy_high(), utf8.h): the lengths come with the record.
 *
 * proto3 string fields must hold valid UTF-8, and the backend's parser
 * rejects a message (a whole gRPC call) that breaks the rule, while span
 * strings hold whatever bytes the application saw. An ASCII string
 * (nearly all of them) is copied as it is; one with a byte >= 0x80 is
 * checked and, when invalid, written repaired (utf8.h). */
#include "sw_common.h"

#include "encode.h"

#include <errno.h>
#include <stdlib.h>

#include "utf8.h"

/* Field keys: (field number << 3) | wire type, all below 16 here so one
 * byte each. */
#define WT_VARINT 0
#define WT_LEN 2
#define KEY(field, wt) ((uint8_t)((field) << 3 | (wt)))

/* SegmentObject */
#define SEG_TRACE_ID KEY(1, WT_LEN)
#define SEG_SEGMENT_ID KEY(2, WT_LEN)
#define SEG_SPANS KEY(3, WT_LEN)
#define SEG_SERVICE KEY(4, WT_LEN)
#define SEG_INSTANCE KEY(5, WT_LEN)
#define SEG_SIZE_LIMITED KEY(6, WT_VARINT)
/* SpanObject */
#define SPAN_ID KEY(1, WT_VARINT)
#define SPAN_PARENT KEY(2, WT_VARINT)
#define SPAN_START KEY(3, WT_VARINT)
#define SPAN_END KEY(4, WT_VARINT)
#define SPAN_REFS KEY(5, WT_LEN)
#define SPAN_OP KEY(6, WT_LEN)
#define SPAN_PEER KEY(7, WT_LEN)
#define SPAN_TYPE KEY(8, WT_VARINT)
#define SPAN_LAYER KEY(9, WT_VARINT)
#define SPAN_COMPONENT KEY(10, WT_VARINT)
#define SPAN_IS_ERROR KEY(11, WT_VARINT)
#define SPAN_TAGS KEY(12, WT_LEN)
#define SPAN_LOGS KEY(13, WT_LEN)
/* SegmentReference (refType 1 is CrossProcess = 0: never written) */
#define REF_TRACE_ID KEY(2, WT_LEN)
#define REF_SEGMENT_ID KEY(3, WT_LEN)
#define REF_SPAN_ID KEY(4, WT_VARINT)
#define REF_SERVICE KEY(5, WT_LEN)
#define REF_INSTANCE KEY(6, WT_LEN)
#define REF_ENDPOINT KEY(7, WT_LEN)
#define REF_PEER KEY(8, WT_LEN)
/* Log */
#define LOG_TIME KEY(1, WT_VARINT)
#define LOG_DATA KEY(2, WT_LEN)
/* KeyStringValuePair */
#define KV_KEY KEY(1, WT_LEN)
#define KV_VALUE KEY(2, WT_LEN)
/* InstanceProperties and InstancePingPkg (layer is always "") */
#define MGMT_SERVICE KEY(1, WT_LEN)
#define MGMT_INSTANCE KEY(2, WT_LEN)
#define PROPS_PROPERTIES KEY(3, WT_LEN)

/* The field parentSpanId = -1: sign-extended, ten varint bytes. */
#define ROOT_PARENT "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"

/* SpanType values */
#define TYPE_EXIT 1
#define TYPE_LOCAL 2

/* The key field of a KeyStringValuePair with a constant ASCII key, bytes
 * and all: KV_KEY, the length, the key. */
#define CONST_KEY(k) "\x0a" k
#define CONST_KEY_LEN(k) (sizeof(CONST_KEY(k)) - 1)
#define K_METHOD "\x0b" "http.method"
#define K_URL "\x08" "http.url"
#define K_STATUS "\x10" "http.status_code"
#define K_MESSAGE "\x07" "message"
/* The whole LOG_DATA field {key: "event", value: "error"}. */
#define LOG_EVENT_ERROR "\x12\x0e\x0a\x05" "event" "\x12\x05" "error"

/* Bytes of v as a varint. */
static inline size_t
varint_len(uint64_t v)
{
  /* (highest set bit) / 7 + 1, without the division. */
  return (size_t)(640 - 9 * __builtin_clzll(v | 1)) >> 6;
}

static inline uint8_t *
put_varint(uint8_t *o, uint64_t v)
{
  while (v >= 0x80) {
    *o++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *o++ = (uint8_t)v;
  return o;
}

/* int32 and enum values go out sign-extended to 64 bits: a negative one
 * takes ten bytes, as the protobuf spec (and protobuf-c) has it. */
static inline uint64_t
i32(int32_t v)
{
  return (uint64_t)(int64_t)v;
}

/* A varint field, left out when 0. */
static inline size_t
varint_field_len(uint64_t v)
{
  return v ? 1 + varint_len(v) : 0;
}

static inline uint8_t *
put_varint_field(uint8_t *o, uint8_t key, uint64_t v)
{
  if (!v)
    return o;
  *o++ = key;
  return put_varint(o, v);
}

/* A varint field of epoch milliseconds. Every date from 1971 to 2109
 * (2^35 to 2^42 ms) takes six bytes, spread seven bits a byte without a
 * loop into one word that is stored whole: the two bytes after the six
 * are overwritten by what comes next (a field has room for eleven). */
static inline uint8_t *
put_ms_field(uint8_t *o, uint8_t key, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (SW_LIKELY(v - (1ULL << 35) < (1ULL << 42) - (1ULL << 35))) {
    uint64_t w = (v & 0x7f) | (v << 1 & 0x7f00) | (v << 2 & 0x7f0000) |
                 (v << 3 & 0x7f000000) | (v << 4 & 0x7f00000000ULL) |
                 (v << 5 & 0x7f0000000000ULL) |
                 0x8080808080ULL; /* more follows, after all but the sixth */

    *o = key;
    memcpy(o + 1, &w, 8);
    return o + 7;
  }
#endif
  return put_varint_field(o, key, v);
}

/* A length-delimited field around len bytes. */
static inline size_t
len_field_len(size_t len)
{
  return 1 + varint_len(len) + len;
}

static inline uint8_t *
put_len(uint8_t *o, uint8_t key, size_t len)
{
  *o++ = key;
  return put_varint(o, len);
}

/* One string as it goes on the wire. */
struct str {
  const char *s;
  size_t len; /* strlen(s) */
  size_t out; /* bytes on the wire: len, or more when s is repaired */
};

static inline void
str_scan(struct str *t, const char *s)
{
  t->s = s;
  t->len = strlen(s);
  t->out = SW_LIKELY(sw_utf8_is_ascii(s, t->len))
               ? t->len
               : sw_utf8_repaired_len(s, t->len);
}

/* A string field: left out when empty (a repaired string never is). */
static inline size_t
str_field_len(const struct str *t)
{
  return t->out ? len_field_len(t->out) : 0;
}

/* The bytes of t, without key or length. */
static inline uint8_t *
put_str_bytes(uint8_t *o, const struct str *t)
{
  if (SW_LIKELY(t->out == t->len)) {
    memcpy(o, t->s, t->len);
    return o + t->len;
  }
  return o + sw_utf8_repair(o, t->s);
}

static inline uint8_t *
put_str_field(uint8_t *o, uint8_t key, const struct str *t)
{
  if (!t->out)
    return o;
  return put_str_bytes(put_len(o, key, t->out), t);
}

/* Decimal, as "%d" writes it, without a terminator; out has room for 11
 * bytes. */
static inline size_t
fmt_i32(char *out, int32_t v)
{
  char tmp[10];
  uint32_t u = v < 0 ? 0U - (uint32_t)v : (uint32_t)v;
  size_t n = 0, k = 0;

  if (SW_LIKELY(v >= 100 && v <= 999)) { /* an HTTP status */
    /* x * 205 >> 11 is x / 10 for x below 1029, x * 41 >> 12 is x / 100
     * for x below 1100: multiplications where divisions would be. */
    uint32_t h = u * 41 >> 12, t = u * 205 >> 11;

    out[0] = (char)('0' + h);
    out[1] = (char)('0' + t - 10 * h);
    out[2] = (char)('0' + u - 10 * t);
    return 3;
  }
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    out[k++] = '-';
  while (n)
    out[k++] = tmp[--n];
  return k;
}

/* The most a span takes on the wire: every string at its longest, each
 * byte repaired into three, every varint ten bytes, with room to spare
 * for keys and lengths. Each span gets this much room before it is
 * written, so nothing inside it needs a check. */
#define STR_MAX(field) (3 + 3 * (sizeof(field) - 1))
#define REC_STR_MAX(m) STR_MAX(((struct sw_span_rec *)0)->m)
#define REF_STR_MAX(m) STR_MAX(((struct sw_ref *)0)->m)
#define SPAN_MAX                                                             \
  (3 + 10 * 11 + REC_STR_MAX(op) + REC_STR_MAX(peer) +                       \
   3 * 24 + REC_STR_MAX(method) + REC_STR_MAX(url) + 11 +                    \
   3 + 11 + 20 + 24 + REC_STR_MAX(errlog) +                                  \
   3 + REF_STR_MAX(trace_id) + REF_STR_MAX(parent_segment_id) + 11 +         \
   REF_STR_MAX(parent_service) + REF_STR_MAX(parent_instance) +              \
   REF_STR_MAX(parent_endpoint) + REF_STR_MAX(peer) + 16)
/* A nested message's length takes one or two bytes: see end_nested(). */
_Static_assert(SPAN_MAX < 16384, "span length beyond two varint bytes");

/* A nested message whose length is not known before it is written: the
 * key, then two bytes kept for the length (which is below 16384), then
 * the body. */
static inline uint8_t *
begin_nested(uint8_t *o, uint8_t key)
{
  *o = key;
  return o + 3;
}

/* Fills in the length kept by begin_nested() at body - 2 for the body
 * that ends at end, and returns the new end: a body shorter than 128
 * bytes has a one-byte length, and moves down by one. */
static inline uint8_t *
end_nested(uint8_t *body, uint8_t *end)
{
  size_t n = (size_t)(end - body);

  if (SW_LIKELY(n >= 0x80)) {
    body[-2] = (uint8_t)(n | 0x80);
    body[-1] = (uint8_t)(n >> 7);
    return end;
  }
  body[-2] = (uint8_t)n;
  memmove(body - 1, body, n);
  return end - 1;
}

/* The writers below write into [o, end) and return the new end, or
 * NULL when what they would write might not fit: a one-span segment is
 * written straight into the block it is queued in when it fits
 * (sw_encode_single()). Given room for SPAN_MAX bytes a span always fits:
 * every check below asks for no more than the part of SPAN_MAX its item
 * takes. */
#define NO_ROOM(o, end, n) SW_UNLIKELY((size_t)((end) - (o)) < (size_t)(n))

/* The strings come from a view of the record (struct sw_span_view,
 * assemble.h), with their lengths: each is copied in whole blocks,
 * checked for bytes >= 0x80 on the way (sw_copy_high(), utf8.h), where
 * it goes when it is ASCII (nearly always). One that is not is written
 * again the general way, over what was copied. */

/* A view's string as struct str, for the general ways: tmp has room for
 * its field (see sw_span_vstr_c()). */
static inline void
vstr_scan(struct str *u, const struct sw_span_vstr *t, char *tmp)
{
  u->s = sw_span_vstr_c(t, tmp);
  u->len = t->len;
  u->out = SW_LIKELY(sw_utf8_is_ascii(u->s, u->len))
               ? u->len
               : sw_utf8_repaired_len(u->s, u->len);
}

/* The general way of put_vstr(), out of line: the string is not ASCII. */
static __attribute__((noinline)) uint8_t *
put_vstr_slow(uint8_t *o, uint8_t *end, uint8_t key,
              const struct sw_span_vstr *t)
{
  char tmp[SW_URL_MAX];
  struct str u;

  vstr_scan(&u, t, tmp);
  if (NO_ROOM(o, end, str_field_len(&u)))
    return NULL;
  return put_str_field(o, key, &u);
}

/* A string field of the view's string t, from a field of cap bytes: the
 * key, one or two bytes of length (cap is below 16384), the bytes. */
static inline __attribute__((always_inline)) uint8_t *
put_vstr(uint8_t *o, uint8_t *end, uint8_t key, const struct sw_span_vstr *t,
         size_t cap)
{
  size_t n = t->len;

  if (n == 0)
    return o;
  /* The copy's last block may end 15 bytes past the string. */
  if (NO_ROOM(o, end, 2 + n + 15))
    return NULL;
  if (SW_UNLIKELY(sw_copy_high(o + 2, t->s, n, cap)))
    return put_vstr_slow(o, end, key, t);
  *o = key;
  if (SW_LIKELY(n < 0x80)) {
    o[1] = (uint8_t)n;
    return o + 2 + n;
  }
  memmove(o + 3, o + 2, n);
  put_varint(o + 1, (uint64_t)n); /* two bytes */
  return o + 3 + n;
}

/* The field f of the view v, in a function with o and end that returns
 * NULL when it does not fit. */
#define PUT_VSTR(key, v, f)                                                  \
  do {                                                                       \
    if (!(o = put_vstr(o, end, (key), &(v)->f, SW_VIEW_CAP(f))))             \
      return NULL;                                                           \
  } while (0)

/* The general way of put_vtag(), out of line: the value is not ASCII. */
static __attribute__((noinline)) uint8_t *
put_vtag_slow(uint8_t *o, uint8_t *end, const char *kfield, size_t klen,
              const struct sw_span_vstr *t)
{
  char tmp[SW_URL_MAX];
  struct str u;
  size_t body;

  vstr_scan(&u, t, tmp);
  body = klen + len_field_len(u.out);
  if (NO_ROOM(o, end, len_field_len(body)))
    return NULL;
  o = put_len(o, SPAN_TAGS, body);
  memcpy(o, kfield, klen);
  return put_str_field(o + klen, KV_VALUE, &u);
}

/* A tag {key: the constant kfield, value: the view's string t}, t not
 * empty. The value is copied where it goes when both lengths take one
 * byte (a tag shorter than 128 bytes), and moved up when not. */
static inline __attribute__((always_inline)) uint8_t *
put_vtag(uint8_t *o, uint8_t *end, const char *kfield, size_t klen,
         const struct sw_span_vstr *t, size_t cap)
{
  size_t head = 2 + klen + 2, body, n = t->len;

  /* The copy may end 15 bytes past the value, which may move up by 2. */
  if (NO_ROOM(o, end, head + n + 15))
    return NULL;
  if (SW_UNLIKELY(sw_copy_high(o + head, t->s, n, cap)))
    return put_vtag_slow(o, end, kfield, klen, t);
  if (SW_LIKELY(n < 0x80 - 2 - klen)) { /* both lengths in one byte */
    o[0] = SPAN_TAGS;
    o[1] = (uint8_t)(klen + 2 + n);
    memcpy(o + 2, kfield, klen);
    o[head - 2] = KV_VALUE;
    o[head - 1] = (uint8_t)n;
    return o + head + n;
  }
  /* The tag's length takes two bytes or more, the value's maybe too. */
  body = klen + len_field_len(n);
  memmove(o + head + varint_len(body) - 1 + varint_len(n) - 1, o + head, n);
  o = put_len(o, SPAN_TAGS, body);
  memcpy(o, kfield, klen);
  o = put_len(o + klen, KV_VALUE, n);
  return o + n;
}

#define PUT_VTAG(k, v, f)                                                    \
  do {                                                                       \
    if (!(o = put_vtag(o, end, CONST_KEY(k), CONST_KEY_LEN(k), &(v)->f,      \
                       SW_VIEW_CAP(f))))                                     \
      return NULL;                                                           \
  } while (0)

static inline uint8_t
span_type(uint8_t kind)
{
  switch (kind) {
  case SW_SPAN_ENTRY:
    return 0;
  case SW_SPAN_EXIT:
    return TYPE_EXIT;
  default:
    return TYPE_LOCAL;
  }
}

/* The log {event: error, message: v's errlog} at end_ms, v's errlog not
 * empty. */
static __attribute__((noinline)) uint8_t *
put_error_log(uint8_t *o, uint8_t *end, const struct sw_span_view *v)
{
  char tmp[SW_ERRLOG_MAX];
  struct str msg;
  size_t kv, body;

  vstr_scan(&msg, &v->errlog, tmp);
  kv = CONST_KEY_LEN(K_MESSAGE) + len_field_len(msg.out);
  body = varint_field_len((uint64_t)v->end_ms) + (sizeof(LOG_EVENT_ERROR) - 1) +
         len_field_len(kv);
  if (NO_ROOM(o, end, len_field_len(body)))
    return NULL;
  o = put_len(o, SPAN_LOGS, body);
  o = put_varint_field(o, LOG_TIME, (uint64_t)v->end_ms);
  memcpy(o, LOG_EVENT_ERROR, sizeof(LOG_EVENT_ERROR) - 1);
  o += sizeof(LOG_EVENT_ERROR) - 1;
  o = put_len(o, LOG_DATA, kv);
  memcpy(o, CONST_KEY(K_MESSAGE), CONST_KEY_LEN(K_MESSAGE));
  return put_str_field(o + CONST_KEY_LEN(K_MESSAGE), KV_VALUE, &msg);
}

/* Writes the SpanObject of the record v views, key and length included:
 * the tags http.method, http.url, http.status_code (when status is not
 * 0), a log {event: error, message: errlog} at end_ms when errlog is set,
 * and a reference when has_ref is set and the reference carries a trace
 * id: one without links nothing, the backend would only draw a broken
 * edge. */
static uint8_t *
put_span(uint8_t *o, uint8_t *end, const struct sw_span_view *v)
{
  uint8_t *span;

  /* The key, two bytes of length, four numbers of eleven bytes at most. */
  if (NO_ROOM(o, end, 3 + 4 * 11))
    return NULL;
  span = o = begin_nested(o, SEG_SPANS);
  o = put_varint_field(o, SPAN_ID, i32(v->span_id));
  /* Written even though it is negative: -1 is what marks the root, and
   * every segment has one, so its ten bytes are a constant. */
  if (v->parent_span_id == -1) {
    memcpy(o, ROOT_PARENT, sizeof(ROOT_PARENT) - 1);
    o += sizeof(ROOT_PARENT) - 1;
  } else {
    o = put_varint_field(o, SPAN_PARENT, i32(v->parent_span_id));
  }
  o = put_ms_field(o, SPAN_START, (uint64_t)v->start_ms);
  o = put_ms_field(o, SPAN_END, (uint64_t)v->end_ms);
  if (v->has_ref && v->ref.trace_id.len) {
    uint8_t *body;

    if (NO_ROOM(o, end, 3))
      return NULL;
    body = o = begin_nested(o, SPAN_REFS);
    PUT_VSTR(REF_TRACE_ID, v, ref.trace_id);
    PUT_VSTR(REF_SEGMENT_ID, v, ref.parent_segment_id);
    if (NO_ROOM(o, end, 11))
      return NULL;
    o = put_varint_field(o, REF_SPAN_ID, i32(v->ref.parent_span_id));
    PUT_VSTR(REF_SERVICE, v, ref.parent_service);
    PUT_VSTR(REF_INSTANCE, v, ref.parent_instance);
    PUT_VSTR(REF_ENDPOINT, v, ref.parent_endpoint);
    PUT_VSTR(REF_PEER, v, ref.peer);
    o = end_nested(body, o);
  }
  PUT_VSTR(SPAN_OP, v, op);
  PUT_VSTR(SPAN_PEER, v, peer);
  /* Four numbers: 2 + 3 + 11 + 2 bytes at most. */
  if (NO_ROOM(o, end, 18))
    return NULL;
  o = put_varint_field(o, SPAN_TYPE, span_type(v->kind));
  /* The layer values are the wire values; anything unknown to the proto
   * would still be carried as an open enum. */
  o = put_varint_field(o, SPAN_LAYER, v->layer);
  o = put_varint_field(o, SPAN_COMPONENT, i32(v->component));
  o = put_varint_field(o, SPAN_IS_ERROR, v->is_error ? 1 : 0);
  if (v->method.len)
    PUT_VTAG(K_METHOD, v, method);
  if (v->url.len)
    PUT_VTAG(K_URL, v, url);
  if (v->status != 0) {
    /* At most 11 ASCII characters: every length here takes one byte, so
     * the digits are written straight where they go. */
    size_t head = 2 + CONST_KEY_LEN(K_STATUS) + 2, n;

    if (NO_ROOM(o, end, head + 11))
      return NULL;
    n = fmt_i32((char *)o + head, v->status);
    o[0] = SPAN_TAGS;
    o[1] = (uint8_t)(CONST_KEY_LEN(K_STATUS) + 2 + n);
    memcpy(o + 2, CONST_KEY(K_STATUS), CONST_KEY_LEN(K_STATUS));
    o[head - 2] = KV_VALUE;
    o[head - 1] = (uint8_t)n;
    o += head + n;
  }
  if (v->errlog.len && !(o = put_error_log(o, end, v)))
    return NULL;
  return end_nested(span, o);
}

/* traceId, segmentId and the span of the one-span segment v views:
 * everything of its SegmentObject before service. */
static inline __attribute__((always_inline)) uint8_t *
put_single_head(uint8_t *o, uint8_t *end, const struct sw_span_view *v)
{
  PUT_VSTR(SEG_TRACE_ID, v, trace_id);
  PUT_VSTR(SEG_SEGMENT_ID, v, segment_id);
  return put_span(o, end, v);
}

/* The most put_single_head() writes. */
#define SINGLE_HEAD_MAX (REC_STR_MAX(trace_id) + REC_STR_MAX(segment_id) + SPAN_MAX)

/* traceId, segmentId and the n spans at spans: everything of a
 * SegmentObject before service. */
static int
put_segment_head(struct sw_buf *b, const struct sw_span_rec *spans,
                 uint32_t n)
{
  struct sw_span_view v;

  for (uint32_t i = 0; i < n; i++) {
    uint8_t *o;

    sw_span_view_rec(&v, &spans[i]);
    if (sw_buf_room(b, SINGLE_HEAD_MAX))
      return -ENOMEM;
    o = b->data + b->len;
    o = i == 0 ? put_single_head(o, b->data + b->cap, &v)
               : put_span(o, b->data + b->cap, &v);
    /* Never NULL: the room holds the most each takes. */
    if (SW_UNLIKELY(!o))
      return -ENOMEM;
    b->len = (size_t)(o - b->data);
  }
  return 0;
}

int
sw_enc_ids_init(struct sw_enc_ids *ids, const char *service,
                const char *instance)
{
  struct str svc, inst;
  uint8_t *o;

  memset(ids, 0, sizeof(*ids));
  str_scan(&svc, service);
  str_scan(&inst, instance);
  /* One byte for isSizeLimited's key and one for its value, which
   * sw_encode_segment_ids() writes there. */
  ids->len = str_field_len(&svc) + str_field_len(&inst);
  ids->bytes = malloc(ids->len + 2);
  if (!ids->bytes)
    return -ENOMEM;
  o = put_str_field(ids->bytes, SEG_SERVICE, &svc);
  put_str_field(o, SEG_INSTANCE, &inst);
  ids->bytes[ids->len] = SEG_SIZE_LIMITED;
  ids->bytes[ids->len + 1] = 1;
  return 0;
}

void
sw_enc_ids_free(struct sw_enc_ids *ids)
{
  free(ids->bytes);
  memset(ids, 0, sizeof(*ids));
}

int
sw_encode_segment_ids(struct sw_buf *b, const struct sw_seg *s,
                      const struct sw_enc_ids *ids)
{
  size_t start = b->len, n = ids->len + (s->size_limited ? 2 : 0);

  if (s->enc)
    return sw_buf_append(b, s->enc, s->enc_len);
  if (put_segment_head(b, s->spans, s->n) || sw_buf_room(b, n)) {
    b->len = start;
    return -ENOMEM;
  }
  memcpy(b->data + b->len, ids->bytes, n);
  b->len += n;
  return 0;
}

uint8_t *
sw_encode_single_put(uint8_t *o, uint8_t *end, const struct sw_span_view *v,
                     const struct sw_enc_ids *ids)
{
  o = put_single_head(o, end, v);
  if (!o || NO_ROOM(o, end, ids->len))
    return NULL;
  memcpy(o, ids->bytes, ids->len);
  return o + ids->len;
}

int
sw_encode_single_ids(struct sw_buf *b, const struct sw_span_view *v,
                     const struct sw_enc_ids *ids)
{
  uint8_t *o;

  if (sw_buf_room(b, SINGLE_HEAD_MAX + ids->len))
    return -ENOMEM;
  o = sw_encode_single_put(b->data + b->len, b->data + b->cap, v, ids);
  /* Never NULL: the room holds the most it takes. */
  if (SW_UNLIKELY(!o))
    return -ENOMEM;
  b->len = (size_t)(o - b->data);
  return 0;
}

long
sw_encode_single(const struct sw_span_view *v, const struct sw_enc_ids *ids,
                 uint8_t *dst, size_t room, struct sw_buf *out)
{
  if (dst) {
    uint8_t *o = sw_encode_single_put(dst, dst + room, v, ids);

    if (SW_LIKELY(o != NULL))
      return (long)(o - dst);
  }
  return sw_encode_single_ids(out, v, ids);
}

/* One encoder for the segment's tail: service and instance encoded for
 * this one segment. */
int
sw_encode_segment(struct sw_buf *b, const struct sw_seg *s,
                  const char *service, const char *instance)
{
  struct sw_enc_ids ids;
  int rc = sw_enc_ids_init(&ids, service, instance);

  if (rc == 0)
    rc = sw_encode_segment_ids(b, s, &ids);
  sw_enc_ids_free(&ids);
  return rc;
}

/* service and serviceInstance, the start of both management messages. */
static int
put_mgmt_head(struct sw_buf *b, const char *service, const char *instance)
{
  struct str svc, inst;
  uint8_t *o;

  str_scan(&svc, service);
  str_scan(&inst, instance);
  if (sw_buf_room(b, str_field_len(&svc) + str_field_len(&inst)))
    return -ENOMEM;
  o = b->data + b->len;
  o = put_str_field(o, MGMT_SERVICE, &svc);
  o = put_str_field(o, MGMT_INSTANCE, &inst);
  b->len = (size_t)(o - b->data);
  return 0;
}

int
sw_encode_properties(struct sw_buf *b, const char *service,
                     const char *instance, const struct sw_props *p)
{
  int n = p->n < SW_PROPS_MAX ? p->n : SW_PROPS_MAX;
  size_t start = b->len;

  if (put_mgmt_head(b, service, instance))
    goto nomem;
  for (int i = 0; i < n; i++) {
    struct str k, v;
    size_t body;
    uint8_t *o;

    str_scan(&k, p->kv[i].key);
    str_scan(&v, p->kv[i].value);
    body = str_field_len(&k) + str_field_len(&v);
    if (sw_buf_room(b, len_field_len(body)))
      goto nomem;
    o = put_len(b->data + b->len, PROPS_PROPERTIES, body);
    o = put_str_field(o, KV_KEY, &k);
    o = put_str_field(o, KV_VALUE, &v);
    b->len = (size_t)(o - b->data);
  }
  return 0;
nomem:
  b->len = start;
  return -ENOMEM;
}

int
sw_encode_ping(struct sw_buf *b, const char *service, const char *instance)
{
  return put_mgmt_head(b, service, instance);
}
