/* json.c: JSON encoding of segments and management messages (see
 * json.h).
 *
 * The output is built straight into the buffer: each string is escaped
 * into room reserved for its worst case (six bytes per input byte), so a
 * value needs at most one reallocation. */
#include "sw_common.h"

#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "sw_span.h"
#include "utf8.h"

/* Appends a NUL-terminated literal (no escaping). */
static int
raw(struct sw_buf *b, const char *s)
{
  return sw_buf_append(b, s, strlen(s));
}

static int
i64(struct sw_buf *b, int64_t v)
{
  char num[24];
  int n = snprintf(num, sizeof(num), "%" PRId64, v);

  return sw_buf_append(b, num, (size_t)n);
}

int
sw_json_string(struct sw_buf *b, const char *str)
{
  static const char hex[] = "0123456789abcdef";
  const uint8_t *p = (const uint8_t *)str;
  size_t len = strlen(str);
  uint8_t *o;
  int rc;

  if (len > (SIZE_MAX - 2) / 6)
    return -ENOMEM;
  if ((rc = sw_buf_reserve(b, len * 6 + 2)) != 0)
    return rc;
  o = b->data + b->len;
  *o++ = '"';
  while (*p) {
    uint8_t c = *p;
    size_t n;

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

/* ,"name": -- the separator first unless this is the first member. */
static int
key(struct sw_buf *b, const char *name, int first)
{
  int rc;

  if (!first && (rc = raw(b, ",")) != 0)
    return rc;
  if ((rc = raw(b, "\"")) != 0 || (rc = raw(b, name)) != 0)
    return rc;
  return raw(b, "\":");
}

static int
kv_str(struct sw_buf *b, const char *name, const char *v, int first)
{
  int rc = key(b, name, first);

  return rc ? rc : sw_json_string(b, v);
}

static int
kv_i64(struct sw_buf *b, const char *name, int64_t v, int first)
{
  int rc = key(b, name, first);

  return rc ? rc : i64(b, v);
}

static int
kv_bool(struct sw_buf *b, const char *name, int v, int first)
{
  int rc = key(b, name, first);

  return rc ? rc : raw(b, v ? "true" : "false");
}

/* A KeyStringValuePair object. */
static int
pair(struct sw_buf *b, const char *k, const char *v, int first)
{
  int rc;

  if ((!first && (rc = raw(b, ",")) != 0) || (rc = raw(b, "{")) != 0 ||
      (rc = kv_str(b, "key", k, 1)) != 0 ||
      (rc = kv_str(b, "value", v, 0)) != 0)
    return rc;
  return raw(b, "}");
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
  int rc = key(b, "spanLayer", 0);

  if (rc)
    return rc;
  /* A value this build has no name for still goes out, as a number: the
   * protobuf JSON parser accepts both forms. */
  if (layer < SW_ARRAY_LEN(names)) {
    if ((rc = raw(b, "\"")) != 0 || (rc = raw(b, names[layer])) != 0)
      return rc;
    return raw(b, "\"");
  }
  return i64(b, layer);
}

static int
tags(struct sw_buf *b, const struct sw_span_rec *r)
{
  char status[16];
  int first = 1, rc;

  if (!r->method[0] && !r->url[0] && r->status == 0)
    return 0;
  if ((rc = key(b, "tags", 0)) != 0 || (rc = raw(b, "[")) != 0)
    return rc;
  if (r->method[0]) {
    if ((rc = pair(b, "http.method", r->method, first)) != 0)
      return rc;
    first = 0;
  }
  if (r->url[0]) {
    if ((rc = pair(b, "http.url", r->url, first)) != 0)
      return rc;
    first = 0;
  }
  if (r->status != 0) {
    snprintf(status, sizeof(status), "%d", (int)r->status);
    if ((rc = pair(b, "http.status_code", status, first)) != 0)
      return rc;
  }
  return raw(b, "]");
}

static int
logs(struct sw_buf *b, const struct sw_span_rec *r)
{
  int rc;

  if (!r->errlog[0])
    return 0;
  if ((rc = key(b, "logs", 0)) != 0 || (rc = raw(b, "[{")) != 0 ||
      (rc = kv_i64(b, "time", r->end_ms, 1)) != 0 ||
      (rc = key(b, "data", 0)) != 0 || (rc = raw(b, "[")) != 0 ||
      (rc = pair(b, "event", "error", 1)) != 0 ||
      (rc = pair(b, "message", r->errlog, 0)) != 0)
    return rc;
  return raw(b, "]}]");
}

static int
refs(struct sw_buf *b, const struct sw_span_rec *r)
{
  const struct sw_ref *ref = &r->ref;
  int rc;

  /* As in encode.c: a reference without a trace id links nothing. */
  if (!r->has_ref || !ref->trace_id[0])
    return 0;
  if ((rc = key(b, "refs", 0)) != 0 || (rc = raw(b, "[{")) != 0 ||
      (rc = key(b, "refType", 1)) != 0 ||
      (rc = raw(b, "\"CrossProcess\"")) != 0 ||
      (rc = kv_str(b, "traceId", ref->trace_id, 0)) != 0 ||
      (rc = kv_str(b, "parentTraceSegmentId", ref->parent_segment_id, 0)) ||
      (rc = kv_i64(b, "parentSpanId", ref->parent_span_id, 0)) != 0 ||
      (rc = kv_str(b, "parentService", ref->parent_service, 0)) != 0 ||
      (rc = kv_str(b, "parentServiceInstance", ref->parent_instance, 0)) ||
      (rc = kv_str(b, "parentEndpoint", ref->parent_endpoint, 0)) != 0 ||
      (rc = kv_str(b, "networkAddressUsedAtPeer", ref->peer, 0)) != 0)
    return rc;
  return raw(b, "}]");
}

static int
span(struct sw_buf *b, const struct sw_span_rec *r)
{
  int rc;

  if ((rc = raw(b, "{")) != 0 ||
      (rc = kv_i64(b, "spanId", r->span_id, 1)) != 0 ||
      (rc = kv_i64(b, "parentSpanId", r->parent_span_id, 0)) != 0 ||
      (rc = kv_i64(b, "startTime", r->start_ms, 0)) != 0 ||
      (rc = kv_i64(b, "endTime", r->end_ms, 0)) != 0 ||
      (rc = refs(b, r)) != 0 ||
      (rc = kv_str(b, "operationName", r->op, 0)) != 0 ||
      (rc = kv_str(b, "peer", r->peer, 0)) != 0 ||
      (rc = key(b, "spanType", 0)) != 0 || (rc = raw(b, "\"")) != 0 ||
      (rc = raw(b, span_type(r->kind))) != 0 || (rc = raw(b, "\"")) != 0 ||
      (rc = span_layer(b, r->layer)) != 0 ||
      (rc = kv_i64(b, "componentId", r->component, 0)) != 0 ||
      (rc = kv_bool(b, "isError", r->is_error, 0)) != 0 ||
      (rc = tags(b, r)) != 0 || (rc = logs(b, r)) != 0)
    return rc;
  return raw(b, "}");
}

int
sw_json_segment(struct sw_buf *b, const struct sw_seg *s,
                const char *service, const char *instance)
{
  const char *trace = s->n > 0 ? s->spans[0].trace_id : "";
  const char *seg = s->n > 0 ? s->spans[0].segment_id : "";
  int rc;

  if ((rc = raw(b, "{")) != 0 || (rc = kv_str(b, "traceId", trace, 1)) ||
      (rc = kv_str(b, "traceSegmentId", seg, 0)) != 0)
    return rc;
  if (s->n > 0) {
    if ((rc = key(b, "spans", 0)) != 0 || (rc = raw(b, "[")) != 0)
      return rc;
    for (uint32_t i = 0; i < s->n; i++)
      if ((i > 0 && (rc = raw(b, ",")) != 0) ||
          (rc = span(b, &s->spans[i])) != 0)
        return rc;
    if ((rc = raw(b, "]")) != 0)
      return rc;
  }
  if ((rc = kv_str(b, "service", service, 0)) != 0 ||
      (rc = kv_str(b, "serviceInstance", instance, 0)) != 0 ||
      (rc = kv_bool(b, "isSizeLimited", s->size_limited, 0)) != 0)
    return rc;
  return raw(b, "}");
}

int
sw_json_segments(struct sw_buf *b, struct sw_seg *const *segs, size_t n,
                 const char *service, const char *instance)
{
  int rc;

  if ((rc = raw(b, "[")) != 0)
    return rc;
  for (size_t i = 0; i < n; i++)
    if ((i > 0 && (rc = raw(b, ",")) != 0) ||
        (rc = sw_json_segment(b, segs[i], service, instance)) != 0)
      return rc;
  return raw(b, "]");
}

int
sw_json_properties(struct sw_buf *b, const char *service,
                   const char *instance, const struct sw_props *p)
{
  int n = p->n < SW_PROPS_MAX ? p->n : SW_PROPS_MAX;
  int rc;

  if ((rc = raw(b, "{")) != 0 || (rc = kv_str(b, "service", service, 1)) ||
      (rc = kv_str(b, "serviceInstance", instance, 0)) != 0)
    return rc;
  if (n > 0) {
    if ((rc = key(b, "properties", 0)) != 0 || (rc = raw(b, "[")) != 0)
      return rc;
    for (int i = 0; i < n; i++)
      if ((rc = pair(b, p->kv[i].key, p->kv[i].value, i == 0)) != 0)
        return rc;
    if ((rc = raw(b, "]")) != 0)
      return rc;
  }
  return raw(b, "}");
}

int
sw_json_ping(struct sw_buf *b, const char *service, const char *instance)
{
  int rc;

  if ((rc = raw(b, "{")) != 0 || (rc = kv_str(b, "service", service, 1)) ||
      (rc = kv_str(b, "serviceInstance", instance, 0)) != 0)
    return rc;
  return raw(b, "}");
}
