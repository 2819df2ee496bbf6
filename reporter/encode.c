/* encode.c: protobuf-c encoding (see encode.h).
 *
 * protobuf-c packs from a tree of structs that point at strings. The
 * strings stay in the span records; only the small structs around them
 * are built, in one block per segment, and freed right after packing.
 *
 * proto3 string fields must hold valid UTF-8, and the backend's parser
 * rejects a message (a whole gRPC call) that breaks the rule, while span
 * strings hold whatever bytes the application saw. A string that is not
 * valid UTF-8 is therefore packed from a repaired copy (utf8.h), made
 * only for such strings and freed with the rest. */
#include "sw_common.h"

#include "encode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/Common.pb-c.h"
#include "language-agent/Tracing.pb-c.h"
#include "management/Management.pb-c.h"
#include "utf8.h"

#define MAX_TAGS 3

/* Everything protobuf-c needs for one span, besides the strings. */
struct span_parts {
  Skywalking__V3__SpanObject so;
  Skywalking__V3__KeyStringValuePair tag[MAX_TAGS];
  Skywalking__V3__KeyStringValuePair *tagp[MAX_TAGS];
  Skywalking__V3__Log log;
  Skywalking__V3__Log *logp;
  Skywalking__V3__KeyStringValuePair logkv[2];
  Skywalking__V3__KeyStringValuePair *logkvp[2];
  Skywalking__V3__SegmentReference ref;
  Skywalking__V3__SegmentReference *refp;
  char status[16];
};

/* The repaired copies made for one message. */
struct scratch {
  char **copies;
  size_t n, cap;
  int failed; /* out of memory: the message is not packed */
};

/* s as protobuf-c wants it: char *, which it never writes through while
 * packing, and valid UTF-8 (see above). */
static char *
str(struct scratch *sc, const char *s)
{
  char *copy;

  if (sw_utf8_valid(s))
    return (char *)s;
  if (sc->n == sc->cap) {
    size_t cap = sc->cap ? sc->cap * 2 : 8;
    char **p = realloc(sc->copies, cap * sizeof(*p));
    if (!p) {
      sc->failed = 1;
      return (char *)"";
    }
    sc->copies = p;
    sc->cap = cap;
  }
  if (!(copy = sw_utf8_sanitize(s))) {
    sc->failed = 1;
    return (char *)"";
  }
  sc->copies[sc->n++] = copy;
  return copy;
}

static void
scratch_free(struct scratch *sc)
{
  for (size_t i = 0; i < sc->n; i++)
    free(sc->copies[i]);
  free(sc->copies);
  memset(sc, 0, sizeof(*sc));
}

static void
kv_init(struct scratch *sc, Skywalking__V3__KeyStringValuePair *kv,
        const char *k, const char *v)
{
  skywalking__v3__key_string_value_pair__init(kv);
  kv->key = str(sc, k);
  kv->value = str(sc, v);
}

static Skywalking__V3__SpanType
span_type(uint8_t kind)
{
  switch (kind) {
  case SW_SPAN_ENTRY:
    return SKYWALKING__V3__SPAN_TYPE__Entry;
  case SW_SPAN_EXIT:
    return SKYWALKING__V3__SPAN_TYPE__Exit;
  default:
    return SKYWALKING__V3__SPAN_TYPE__Local;
  }
}

static void
build_span(struct scratch *sc, struct span_parts *p,
           const struct sw_span_rec *r)
{
  Skywalking__V3__SpanObject *so = &p->so;
  size_t nt = 0;

  skywalking__v3__span_object__init(so);
  so->spanid = r->span_id;
  /* Written even though it is negative: -1 is what marks the root. */
  so->parentspanid = r->parent_span_id;
  so->starttime = r->start_ms;
  so->endtime = r->end_ms;
  so->operationname = str(sc, r->op);
  so->peer = str(sc, r->peer);
  so->spantype = span_type(r->kind);
  /* The layer values are the wire values; anything unknown to the proto
   * would still be carried as an open enum. */
  so->spanlayer = (Skywalking__V3__SpanLayer)r->layer;
  so->componentid = r->component;
  so->iserror = r->is_error ? 1 : 0;

  if (r->method[0])
    kv_init(sc, &p->tag[nt++], "http.method", r->method);
  if (r->url[0])
    kv_init(sc, &p->tag[nt++], "http.url", r->url);
  if (r->status != 0) {
    snprintf(p->status, sizeof(p->status), "%d", (int)r->status);
    kv_init(sc, &p->tag[nt++], "http.status_code", p->status);
  }
  for (size_t i = 0; i < nt; i++)
    p->tagp[i] = &p->tag[i];
  so->n_tags = nt;
  so->tags = nt ? p->tagp : NULL;

  if (r->errlog[0]) {
    skywalking__v3__log__init(&p->log);
    p->log.time = r->end_ms;
    kv_init(sc, &p->logkv[0], "event", "error");
    kv_init(sc, &p->logkv[1], "message", r->errlog);
    p->logkvp[0] = &p->logkv[0];
    p->logkvp[1] = &p->logkv[1];
    p->log.n_data = 2;
    p->log.data = p->logkvp;
    p->logp = &p->log;
    so->n_logs = 1;
    so->logs = &p->logp;
  }

  /* A reference without a trace id links nothing; the backend would only
   * draw a broken edge. */
  if (r->has_ref && r->ref.trace_id[0]) {
    Skywalking__V3__SegmentReference *ref = &p->ref;

    skywalking__v3__segment_reference__init(ref);
    ref->reftype = SKYWALKING__V3__REF_TYPE__CrossProcess;
    ref->traceid = str(sc, r->ref.trace_id);
    ref->parenttracesegmentid = str(sc, r->ref.parent_segment_id);
    ref->parentspanid = r->ref.parent_span_id;
    ref->parentservice = str(sc, r->ref.parent_service);
    ref->parentserviceinstance = str(sc, r->ref.parent_instance);
    ref->parentendpoint = str(sc, r->ref.parent_endpoint);
    ref->networkaddressusedatpeer = str(sc, r->ref.peer);
    p->refp = ref;
    so->n_refs = 1;
    so->refs = &p->refp;
  }
}

/* Packs any message at the end of b. */
static int
pack(struct sw_buf *b, const ProtobufCMessage *m)
{
  size_t n = protobuf_c_message_get_packed_size(m);
  int rc = sw_buf_reserve(b, n);

  if (rc)
    return rc;
  b->len += protobuf_c_message_pack(m, b->data + b->len);
  return 0;
}

int
sw_encode_segment(struct sw_buf *b, const struct sw_seg *s,
                  const char *service, const char *instance)
{
  Skywalking__V3__SegmentObject seg;
  struct span_parts *parts = NULL;
  Skywalking__V3__SpanObject **spans = NULL;
  struct scratch sc = {0};
  int rc = 0;

  skywalking__v3__segment_object__init(&seg);
  if (s->n > 0) {
    parts = calloc(s->n, sizeof(*parts));
    spans = calloc(s->n, sizeof(*spans));
    if (!parts || !spans) {
      rc = -ENOMEM;
      goto out;
    }
    seg.traceid = str(&sc, s->spans[0].trace_id);
    seg.tracesegmentid = str(&sc, s->spans[0].segment_id);
  }
  for (uint32_t i = 0; i < s->n; i++) {
    build_span(&sc, &parts[i], &s->spans[i]);
    spans[i] = &parts[i].so;
  }
  seg.n_spans = s->n;
  seg.spans = spans;
  seg.service = str(&sc, service);
  seg.serviceinstance = str(&sc, instance);
  seg.issizelimited = s->size_limited ? 1 : 0;
  rc = sc.failed ? -ENOMEM : pack(b, &seg.base);
out:
  scratch_free(&sc);
  free(parts);
  free(spans);
  return rc;
}

int
sw_encode_properties(struct sw_buf *b, const char *service,
                     const char *instance, const struct sw_props *p)
{
  Skywalking__V3__InstanceProperties ip;
  Skywalking__V3__KeyStringValuePair kv[SW_PROPS_MAX];
  Skywalking__V3__KeyStringValuePair *kvp[SW_PROPS_MAX];
  int n = p->n < SW_PROPS_MAX ? p->n : SW_PROPS_MAX;
  struct scratch sc = {0};
  int rc;

  skywalking__v3__instance_properties__init(&ip);
  ip.service = str(&sc, service);
  ip.serviceinstance = str(&sc, instance);
  for (int i = 0; i < n; i++) {
    kv_init(&sc, &kv[i], p->kv[i].key, p->kv[i].value);
    kvp[i] = &kv[i];
  }
  ip.n_properties = (size_t)n;
  ip.properties = n ? kvp : NULL;
  rc = sc.failed ? -ENOMEM : pack(b, &ip.base);
  scratch_free(&sc);
  return rc;
}

int
sw_encode_ping(struct sw_buf *b, const char *service, const char *instance)
{
  Skywalking__V3__InstancePingPkg ping;
  struct scratch sc = {0};
  int rc;

  skywalking__v3__instance_ping_pkg__init(&ping);
  ping.service = str(&sc, service);
  ping.serviceinstance = str(&sc, instance);
  rc = sc.failed ? -ENOMEM : pack(b, &ping.base);
  scratch_free(&sc);
  return rc;
}
