/* json.c: JSON encoding of segments and management messages (see
 * json.h).
 *
 * The output is built straight into the buffer: each string is escaped
 * into room reserved for its worst case (six bytes per input byte), so a
 * value needs at most one reallocation. Runs of bytes that need no
 * escaping and are ASCII, nearly all of every string, are found and
 * copied eight bytes at a time; names and punctuation are literals of
 * known length, numbers are formatted by hand. */
#include "sw_common.h"

#include "json.h"

#include <errno.h>

#include "sw_span.h"
#include "utf8.h"
#include "xport.h"

/* Appends a string literal (no escaping). */
#define RAW(b, lit) sw_buf_append((b), (lit), sizeof(lit) - 1)

/* Appends a NUL-terminated string (no escaping). */
static int
raw(struct sw_buf *b, const char *s)
{
  return sw_buf_append(b, s, strlen(s));
}

/* v in decimal, as "%" PRId64 writes it, NUL-terminated, into out[24].
 * Returns the length. */
static size_t
fmt_dec(char *out, int64_t v)
{
  char num[24], *e = num + sizeof(num), *p = e;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  size_t n;

  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  n = (size_t)(e - p);
  memcpy(out, p, n);
  out[n] = '\0';
  return n;
}

static int
i64(struct sw_buf *b, int64_t v)
{
  char num[24];
  size_t n = fmt_dec(num, v);

  return sw_buf_append(b, num, n);
}

#define ONES SW_UTF8_ONES
#define HIGH SW_UTF8_HIGH

/* 1 when none of the eight bytes of w needs more than a copy: no '"',
 * '\\', control character, DEL or byte >= 0x80. (x - ONES) & ~x flags a
 * zero byte of x, (w - 0x20 * ONES) & ~w a byte below 0x20; neither
 * flags anything when no byte is one, and then neither borrows. */
static inline int
plain8(uint64_t w)
{
  uint64_t q = w ^ (ONES * '"'), s = w ^ (ONES * '\\'), d = w ^ (ONES * 0x7F);
  uint64_t t = ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) |
               ((s - ONES) & ~s) | ((d - ONES) & ~d) | w;

  return (t & HIGH) == 0;
}

/* The string literal of the len bytes at str, str[len] being its
 * terminator (sw_utf8_seq_len() reads up to it). */
static int
json_str(struct sw_buf *b, const char *str, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  const uint8_t *p = (const uint8_t *)str;
  const uint8_t *end = p + len;
  uint8_t *o;
  int rc;

  if (len > (SIZE_MAX - 2) / 6)
    return -ENOMEM;
  if ((rc = sw_buf_room(b, len * 6 + 2)) != 0)
    return rc;
  o = b->data + b->len;
  *o++ = '"';
  while (p < end) {
    uint8_t c;
    size_t n;

    if (end - p >= 8) {
      uint64_t w;

      memcpy(&w, p, 8);
      if (plain8(w)) {
        memcpy(o, &w, 8);
        o += 8;
        p += 8;
        continue;
      }
    }
    c = *p;
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = c;
      p++;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      *o++ = '\\';
      switch (c) {
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      default:
        *o++ = 'u';
        *o++ = '0';
        *o++ = '0';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
      }
      p++;
      continue;
    }
    if (c < 0x80) {
      *o++ = c;
      p++;
      continue;
    }
    n = sw_utf8_seq_len(p);
    if (n == 0) {
      /* U+FFFD REPLACEMENT CHARACTER, for this byte alone: the next one
       * may start a valid sequence. */
      *o++ = 0xEF;
      *o++ = 0xBF;
      *o++ = 0xBD;
      p++;
      continue;
    }
    memcpy(o, p, n);
    o += n;
    p += n;
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  return 0;
}

int
sw_json_string(struct sw_buf *b, const char *str)
{
  return json_str(b, str, strlen(str));
}

/* A view's string (struct sw_span_view: read where the record is, cut
 * as sw_span_copy() would cut it). */
static int
json_vstr(struct sw_buf *b, const struct sw_span_vstr *t)
{
  char tmp[SW_URL_MAX]; /* the largest field */

  return json_str(b, sw_span_vstr_c(t, tmp), t->len);
}

/* ,"name": -- the separator first unless this is the first member.
 * name is a string literal. */
#define KEY_LIT(name) ",\"" name "\":"
#define KEY(b, name, first)                                                  \
  sw_buf_append((b), &KEY_LIT(name)[(first) ? 1 : 0],                        \
                sizeof(KEY_LIT(name)) - 1 - ((first) ? 1 : 0))

#define KV_STR(b, name, v, first) kv_str((b), KEY(b, name, first), (v))
#define KV_VSTR(b, name, v, first) kv_vstr((b), KEY(b, name, first), (v))
#define KV_I64(b, name, v, first) kv_i64((b), KEY(b, name, first), (v))
#define KV_BOOL(b, name, v, first)                                           \
  kv_bool((b), KEY(b, name, first), (v))

/* The value after a key that rc says was written. */
static int
kv_str(struct sw_buf *b, int rc, const char *v)
{
  return rc ? rc : sw_json_string(b, v);
}

static int
kv_vstr(struct sw_buf *b, int rc, const struct sw_span_vstr *v)
{
  return rc ? rc : json_vstr(b, v);
}

static int
kv_i64(struct sw_buf *b, int rc, int64_t v)
{
  return rc ? rc : i64(b, v);
}

static int
kv_bool(struct sw_buf *b, int rc, int v)
{
  if (rc)
    return rc;
  return v ? RAW(b, "true") : RAW(b, "false");
}

/* A C string as a view's string. */
#define CSTR(s) (&(const struct sw_span_vstr){(s), strlen(s)})

/* A KeyStringValuePair object. */
static int
pair(struct sw_buf *b, const char *k, const struct sw_span_vstr *v,
     int first)
{
  int rc;

  if ((!first && (rc = RAW(b, ",")) != 0) || (rc = RAW(b, "{")) != 0 ||
      (rc = KV_STR(b, "key", k, 1)) != 0 ||
      (rc = KV_VSTR(b, "value", v, 0)) != 0)
    return rc;
  return RAW(b, "}");
}

static const char *
span_type(uint8_t kind)
{
  switch (kind) {
  case SW_SPAN_ENTRY:
    return "Entry";
  case SW_SPAN_EXIT:
    return "Exit";
  default:
    return "Local";
  }
}

static int
span_layer(struct sw_buf *b, uint8_t layer)
{
  static const char *const names[] = {"Unknown", "Database", "RPCFramework",
                                      "Http",    "MQ",       "Cache",
                                      "FAAS"};
  int rc = KEY(b, "spanLayer", 0);

  if (rc)
    return rc;
  /* A value this build has no name for still goes out, as a number: the
   * protobuf JSON parser accepts both forms. */
  if (layer < SW_ARRAY_LEN(names)) {
    if ((rc = RAW(b, "\"")) != 0 || (rc = raw(b, names[layer])) != 0)
      return rc;
    return RAW(b, "\"");
  }
  return i64(b, layer);
}

/* The spans' strings are read through a view of their record (struct
 * sw_span_view, assemble.h), where the record is: in a segment, or where
 * it arrived for a segment encoded on arrival. */
static int
tags(struct sw_buf *b, const struct sw_span_view *v)
{
  char status[24];
  int first = 1, rc;

  if (!v->method.len && !v->url.len && v->status == 0)
    return 0;
  if ((rc = KEY(b, "tags", 0)) != 0 || (rc = RAW(b, "[")) != 0)
    return rc;
  if (v->method.len) {
    if ((rc = pair(b, "http.method", &v->method, first)) != 0)
      return rc;
    first = 0;
  }
  if (v->url.len) {
    if ((rc = pair(b, "http.url", &v->url, first)) != 0)
      return rc;
    first = 0;
  }
  if (v->status != 0) {
    fmt_dec(status, v->status);
    if ((rc = pair(b, "http.status_code", CSTR(status), first)) != 0)
      return rc;
  }
  return RAW(b, "]");
}

static int
logs(struct sw_buf *b, const struct sw_span_view *v)
{
  int rc;

  if (!v->errlog.len)
    return 0;
  if ((rc = KEY(b, "logs", 0)) != 0 || (rc = RAW(b, "[{")) != 0 ||
      (rc = KV_I64(b, "time", v->end_ms, 1)) != 0 ||
      (rc = KEY(b, "data", 0)) != 0 || (rc = RAW(b, "[")) != 0 ||
      (rc = pair(b, "event", CSTR("error"), 1)) != 0 ||
      (rc = pair(b, "message", &v->errlog, 0)) != 0)
    return rc;
  return RAW(b, "]}]");
}

static int
refs(struct sw_buf *b, const struct sw_span_view *v)
{
  int rc;

  /* As in encode.c: a reference without a trace id links nothing. */
  if (!v->has_ref || !v->ref.trace_id.len)
    return 0;
  if ((rc = KEY(b, "refs", 0)) != 0 || (rc = RAW(b, "[{")) != 0 ||
      (rc = KEY(b, "refType", 1)) != 0 ||
      (rc = RAW(b, "\"CrossProcess\"")) != 0 ||
      (rc = KV_VSTR(b, "traceId", &v->ref.trace_id, 0)) != 0 ||
      (rc = KV_VSTR(b, "parentTraceSegmentId", &v->ref.parent_segment_id,
                    0)) ||
      (rc = KV_I64(b, "parentSpanId", v->ref.parent_span_id, 0)) != 0 ||
      (rc = KV_VSTR(b, "parentService", &v->ref.parent_service, 0)) ||
      (rc = KV_VSTR(b, "parentServiceInstance", &v->ref.parent_instance,
                    0)) ||
      (rc = KV_VSTR(b, "parentEndpoint", &v->ref.parent_endpoint, 0)) ||
      (rc = KV_VSTR(b, "networkAddressUsedAtPeer", &v->ref.peer, 0)))
    return rc;
  return RAW(b, "}]");
}

static int
span(struct sw_buf *b, const struct sw_span_view *v)
{
  int rc;

  if ((rc = RAW(b, "{")) != 0 ||
      (rc = KV_I64(b, "spanId", v->span_id, 1)) != 0 ||
      (rc = KV_I64(b, "parentSpanId", v->parent_span_id, 0)) != 0 ||
      (rc = KV_I64(b, "startTime", v->start_ms, 0)) != 0 ||
      (rc = KV_I64(b, "endTime", v->end_ms, 0)) != 0 ||
      (rc = refs(b, v)) != 0 ||
      (rc = KV_VSTR(b, "operationName", &v->op, 0)) != 0 ||
      (rc = KV_VSTR(b, "peer", &v->peer, 0)) != 0 ||
      (rc = KEY(b, "spanType", 0)) != 0 || (rc = RAW(b, "\"")) != 0 ||
      (rc = raw(b, span_type(v->kind))) != 0 || (rc = RAW(b, "\"")) != 0 ||
      (rc = span_layer(b, v->layer)) != 0 ||
      (rc = KV_I64(b, "componentId", v->component, 0)) != 0 ||
      (rc = KV_BOOL(b, "isError", v->is_error, 0)) != 0 ||
      (rc = tags(b, v)) != 0 || (rc = logs(b, v)) != 0)
    return rc;
  return RAW(b, "}");
}

/* The SegmentObject of n spans: first views the first (NULL when n is
 * 0), and the others are the records spans[1 .. n). */
static int
segment(struct sw_buf *b, const struct sw_span_view *first,
        const struct sw_span_rec *spans, uint32_t n, int size_limited,
        const char *service, const char *instance)
{
  static const struct sw_span_vstr none = {"", 0};
  struct sw_span_view v;
  int rc;

  if ((rc = RAW(b, "{")) != 0 ||
      (rc = KV_VSTR(b, "traceId", first ? &first->trace_id : &none, 1)) ||
      (rc = KV_VSTR(b, "traceSegmentId", first ? &first->segment_id : &none,
                    0)) != 0)
    return rc;
  if (n > 0) {
    if ((rc = KEY(b, "spans", 0)) != 0 || (rc = RAW(b, "[")) != 0 ||
        (rc = span(b, first)) != 0)
      return rc;
    for (uint32_t i = 1; i < n; i++) {
      sw_span_view_rec(&v, &spans[i]);
      if ((rc = RAW(b, ",")) != 0 || (rc = span(b, &v)) != 0)
        return rc;
    }
    if ((rc = RAW(b, "]")) != 0)
      return rc;
  }
  if ((rc = KV_STR(b, "service", service, 0)) != 0 ||
      (rc = KV_STR(b, "serviceInstance", instance, 0)) != 0 ||
      (rc = KV_BOOL(b, "isSizeLimited", size_limited, 0)) != 0)
    return rc;
  return RAW(b, "}");
}

int
sw_json_segment(struct sw_buf *b, const struct sw_seg *s,
                const char *service, const char *instance)
{
  struct sw_span_view first;

  if (s->enc)
    return sw_buf_append(b, s->enc, s->enc_len);
  if (s->n > 0)
    sw_span_view_rec(&first, &s->spans[0]);
  return segment(b, s->n > 0 ? &first : NULL, s->spans, s->n,
                 s->size_limited, service, instance);
}

int
sw_json_single(struct sw_buf *b, const struct sw_span_view *v,
               const char *service, const char *instance)
{
  size_t start = b->len;
  int rc = segment(b, v, NULL, 1, 0, service, instance);

  if (rc != 0)
    b->len = start;
  return rc;
}

long
sw_xport_json_single(struct sw_xport *x, const struct sw_span_view *v,
                     uint8_t *dst, size_t room, struct sw_buf *out)
{
  const struct sw_config *cfg = x->env->cfg;

  /* Written to out only: a served request's object is longer than a
   * recycled block holds (the assembler copies it into a block of its
   * own size), and escaping makes a bound from the lengths six times
   * too large to write it in place. */
  (void)dst;
  (void)room;
  return sw_json_single(out, v, cfg->service, cfg->instance);
}

int
sw_json_segments(struct sw_buf *b, struct sw_seg *const *segs, size_t n,
                 const char *service, const char *instance)
{
  int rc;

  if ((rc = RAW(b, "[")) != 0)
    return rc;
  for (size_t i = 0; i < n; i++)
    if ((i > 0 && (rc = RAW(b, ",")) != 0) ||
        (rc = sw_json_segment(b, segs[i], service, instance)) != 0)
      return rc;
  return RAW(b, "]");
}

int
sw_json_properties(struct sw_buf *b, const char *service,
                   const char *instance, const struct sw_props *p)
{
  int n = p->n < SW_PROPS_MAX ? p->n : SW_PROPS_MAX;
  int rc;

  if ((rc = RAW(b, "{")) != 0 || (rc = KV_STR(b, "service", service, 1)) ||
      (rc = KV_STR(b, "serviceInstance", instance, 0)) != 0)
    return rc;
  if (n > 0) {
    if ((rc = KEY(b, "properties", 0)) != 0 || (rc = RAW(b, "[")) != 0)
      return rc;
    for (int i = 0; i < n; i++)
      if ((rc = pair(b, p->kv[i].key, CSTR(p->kv[i].value), i == 0)) != 0)
        return rc;
    if ((rc = RAW(b, "]")) != 0)
      return rc;
  }
  return RAW(b, "}");
}

int
sw_json_ping(struct sw_buf *b, const char *service, const char *instance)
{
  int rc;

  if ((rc = RAW(b, "{")) != 0 || (rc = KV_STR(b, "service", service, 1)) ||
      (rc = KV_STR(b, "serviceInstance", instance, 0)) != 0)
    return rc;
  return RAW(b, "}");
}
