/* test_rep_encode.c: protobuf encoding (reporter/encode.c, props.c,
 * utf8.c).
 *
 * Each message is encoded, unpacked again with the protobuf-c generated
 * code, and compared field by field with what went in. The encoder
 * writes the wire format by hand, so it is also checked byte for byte
 * against protobuf-c packing the same message (the oracle below, built
 * as the encoder was before it wrote bytes itself), on chosen segments
 * and on random ones, and its UTF-8 repair against an independent
 * RFC 3629 decoder. */
#include "sw_common.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "assemble.h"
#include "common/Common.pb-c.h"
#include "encode.h"
#include "language-agent/Tracing.pb-c.h"
#include "management/Management.pb-c.h"
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

TestSuite(encode, .fini = teardown);

static void
fill_root(struct sw_span_rec *r)
{
  memset(r, 0, sizeof(*r));
  strcpy(r->trace_id, "0123456789abcdef0123456789abcdef");
  strcpy(r->segment_id, "fedcba9876543210fedcba9876543210");
  r->span_id = 0;
  r->parent_span_id = -1;
  r->nspans = 2;
  r->kind = SW_SPAN_ENTRY;
  r->layer = SW_LAYER_HTTP;
  r->component = SW_COMPONENT_HTTP;
  r->is_error = 1;
  r->status = 503;
  r->start_ms = 1700000000123LL;
  r->end_ms = 1700000000456LL;
  strcpy(r->method, "GET");
  strcpy(r->op, "/users/list");
  strcpy(r->url, "http://example.test:8080/users/list?page=2");
  strcpy(r->peer, "10.1.2.3:45678");
  strcpy(r->errlog, "upstream timed out");
  r->has_ref = 1;
  strcpy(r->ref.trace_id, "0123456789abcdef0123456789abcdef");
  strcpy(r->ref.parent_segment_id, "aaaabbbbccccddddeeeeffff00001111");
  r->ref.parent_span_id = 4;
  strcpy(r->ref.parent_service, "frontend");
  strcpy(r->ref.parent_instance, "frontend-1");
  strcpy(r->ref.parent_endpoint, "/home");
  strcpy(r->ref.peer, "example.test:8080");
}

static void
fill_child(struct sw_span_rec *r)
{
  memset(r, 0, sizeof(*r));
  strcpy(r->trace_id, "0123456789abcdef0123456789abcdef");
  strcpy(r->segment_id, "fedcba9876543210fedcba9876543210");
  r->span_id = 1;
  r->parent_span_id = 0;
  r->kind = SW_SPAN_EXIT;
  r->layer = SW_LAYER_HTTP;
  r->component = SW_COMPONENT_CURL;
  r->status = 0; /* no response seen: no status tag */
  r->start_ms = 1700000000200LL;
  r->end_ms = 1700000000300LL;
  strcpy(r->method, "POST");
  strcpy(r->op, "/db/query");
  strcpy(r->url, "http://10.9.9.9:5000/db/query");
  strcpy(r->peer, "10.9.9.9:5000");
}

static const char *
tag(const Skywalking__V3__SpanObject *so, const char *key)
{
  for (size_t i = 0; i < so->n_tags; i++)
    if (strcmp(so->tags[i]->key, key) == 0)
      return so->tags[i]->value;
  return NULL;
}

/* Finds the bytes of needle in the encoded buffer. */
static int
contains(const struct sw_buf *b, const uint8_t *needle, size_t n)
{
  for (size_t i = 0; i + n <= b->len; i++)
    if (memcmp(b->data + i, needle, n) == 0)
      return 1;
  return 0;
}

Test(encode, segment_every_field)
{
  struct sw_span_rec spans[2];
  struct sw_seg seg;
  Skywalking__V3__SegmentObject *so;
  Skywalking__V3__SpanObject *root, *child;
  Skywalking__V3__SegmentReference *ref;

  fill_root(&spans[0]);
  fill_child(&spans[1]);
  memset(&seg, 0, sizeof(seg));
  seg.spans = spans;
  seg.n = seg.cap = 2;
  seg.has_root = 1;
  seg.nspans = 2;

  cr_assert_eq(sw_encode_segment(&buf, &seg, "my-service|ns", "inst-7"), 0);
  cr_assert_gt(buf.len, 0);
  so = skywalking__v3__segment_object__unpack(NULL, buf.len, buf.data);
  cr_assert_not_null(so);

  cr_assert_str_eq(so->traceid, "0123456789abcdef0123456789abcdef");
  cr_assert_str_eq(so->tracesegmentid, "fedcba9876543210fedcba9876543210");
  cr_assert_str_eq(so->service, "my-service|ns");
  cr_assert_str_eq(so->serviceinstance, "inst-7");
  cr_assert_eq(so->issizelimited, 0);
  cr_assert_eq(so->n_spans, 2);

  root = so->spans[0];
  cr_assert_eq(root->spanid, 0);
  cr_assert_eq(root->parentspanid, -1);
  cr_assert_eq(root->starttime, 1700000000123LL);
  cr_assert_eq(root->endtime, 1700000000456LL);
  cr_assert_str_eq(root->operationname, "/users/list");
  cr_assert_str_eq(root->peer, "10.1.2.3:45678");
  cr_assert_eq(root->spantype, SKYWALKING__V3__SPAN_TYPE__Entry);
  cr_assert_eq(root->spanlayer, SKYWALKING__V3__SPAN_LAYER__Http);
  cr_assert_eq(root->componentid, 49);
  cr_assert_eq(root->iserror, 1);
  cr_assert_eq(root->skipanalysis, 0);
  cr_assert_eq(root->n_tags, 3);
  cr_assert_str_eq(root->tags[0]->key, "http.method");
  cr_assert_str_eq(root->tags[0]->value, "GET");
  cr_assert_str_eq(root->tags[1]->key, "http.url");
  cr_assert_str_eq(root->tags[1]->value,
                   "http://example.test:8080/users/list?page=2");
  cr_assert_str_eq(root->tags[2]->key, "http.status_code");
  cr_assert_str_eq(root->tags[2]->value, "503");

  cr_assert_eq(root->n_logs, 1);
  cr_assert_eq(root->logs[0]->time, 1700000000456LL);
  cr_assert_eq(root->logs[0]->n_data, 2);
  cr_assert_str_eq(root->logs[0]->data[0]->key, "event");
  cr_assert_str_eq(root->logs[0]->data[0]->value, "error");
  cr_assert_str_eq(root->logs[0]->data[1]->key, "message");
  cr_assert_str_eq(root->logs[0]->data[1]->value, "upstream timed out");

  cr_assert_eq(root->n_refs, 1);
  ref = root->refs[0];
  cr_assert_eq(ref->reftype, SKYWALKING__V3__REF_TYPE__CrossProcess);
  cr_assert_str_eq(ref->traceid, "0123456789abcdef0123456789abcdef");
  cr_assert_str_eq(ref->parenttracesegmentid,
                   "aaaabbbbccccddddeeeeffff00001111");
  cr_assert_eq(ref->parentspanid, 4);
  cr_assert_str_eq(ref->parentservice, "frontend");
  cr_assert_str_eq(ref->parentserviceinstance, "frontend-1");
  cr_assert_str_eq(ref->parentendpoint, "/home");
  cr_assert_str_eq(ref->networkaddressusedatpeer, "example.test:8080");

  child = so->spans[1];
  cr_assert_eq(child->spanid, 1);
  cr_assert_eq(child->parentspanid, 0);
  cr_assert_eq(child->starttime, 1700000000200LL);
  cr_assert_eq(child->endtime, 1700000000300LL);
  cr_assert_str_eq(child->operationname, "/db/query");
  cr_assert_str_eq(child->peer, "10.9.9.9:5000");
  cr_assert_eq(child->spantype, SKYWALKING__V3__SPAN_TYPE__Exit);
  cr_assert_eq(child->spanlayer, SKYWALKING__V3__SPAN_LAYER__Http);
  cr_assert_eq(child->componentid, 8002);
  cr_assert_eq(child->iserror, 0);
  cr_assert_eq(child->n_tags, 2, "no status tag when status is 0");
  cr_assert_str_eq(tag(child, "http.method"), "POST");
  cr_assert_str_eq(tag(child, "http.url"), "http://10.9.9.9:5000/db/query");
  cr_assert_null(tag(child, "http.status_code"));
  cr_assert_eq(child->n_logs, 0);
  cr_assert_eq(child->n_refs, 0);

  skywalking__v3__segment_object__free_unpacked(so, NULL);
}

/* parentSpanId = -1 is on the wire as field 2, varint, sign-extended to
 * ten bytes: 10 ff ff ff ff ff ff ff ff ff 01. */
Test(encode, root_parent_minus_one_on_the_wire)
{
  static const uint8_t minus_one[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0x01};
  struct sw_span_rec r;
  struct sw_seg seg;

  fill_root(&r);
  memset(&seg, 0, sizeof(seg));
  seg.spans = &r;
  seg.n = seg.cap = 1;
  cr_assert_eq(sw_encode_segment(&buf, &seg, "s", "i"), 0);
  cr_assert(contains(&buf, minus_one, sizeof(minus_one)));
}

Test(encode, no_ref_without_trace_id_no_tags_when_empty)
{
  struct sw_span_rec r;
  struct sw_seg seg;
  Skywalking__V3__SegmentObject *so;

  fill_root(&r);
  r.ref.trace_id[0] = '\0';
  r.method[0] = '\0';
  r.url[0] = '\0';
  r.status = 0;
  r.errlog[0] = '\0';
  r.kind = SW_SPAN_LOCAL;
  r.layer = SW_LAYER_UNKNOWN;
  memset(&seg, 0, sizeof(seg));
  seg.spans = &r;
  seg.n = seg.cap = 1;
  seg.size_limited = 1;
  cr_assert_eq(sw_encode_segment(&buf, &seg, "s", "i"), 0);
  so = skywalking__v3__segment_object__unpack(NULL, buf.len, buf.data);
  cr_assert_not_null(so);
  cr_assert_eq(so->issizelimited, 1);
  cr_assert_eq(so->spans[0]->n_refs, 0);
  cr_assert_eq(so->spans[0]->n_tags, 0);
  cr_assert_eq(so->spans[0]->n_logs, 0);
  cr_assert_eq(so->spans[0]->spantype, SKYWALKING__V3__SPAN_TYPE__Local);
  cr_assert_eq(so->spans[0]->spanlayer, SKYWALKING__V3__SPAN_LAYER__Unknown);
  skywalking__v3__segment_object__free_unpacked(so, NULL);
}

/* Messages are appended, so a transport can frame several in a row. */
Test(encode, appends)
{
  struct sw_span_rec r;
  struct sw_seg seg;
  size_t one;

  fill_root(&r);
  memset(&seg, 0, sizeof(seg));
  seg.spans = &r;
  seg.n = seg.cap = 1;
  cr_assert_eq(sw_encode_segment(&buf, &seg, "s", "i"), 0);
  one = buf.len;
  cr_assert_eq(sw_encode_segment(&buf, &seg, "s", "i"), 0);
  cr_assert_eq(buf.len, 2 * one);
  cr_assert_eq(memcmp(buf.data, buf.data + one, one), 0);
}

Test(encode, properties)
{
  struct sw_config cfg;
  struct sw_props p;
  Skywalking__V3__InstanceProperties *ip;
  char pid[16];
  size_t i = 0;
  int nipv4 = 0;

  memset(&cfg, 0, sizeof(cfg));
  strcpy(cfg.namespace_, "prod");
  sw_props_collect(&p, &cfg, 4242, "box-1");
  cr_assert_eq(sw_encode_properties(&buf, "svc|prod", "inst", &p), 0);
  ip = skywalking__v3__instance_properties__unpack(NULL, buf.len, buf.data);
  cr_assert_not_null(ip);
  cr_assert_str_eq(ip->service, "svc|prod");
  cr_assert_str_eq(ip->serviceinstance, "inst");
  cr_assert_str_eq(ip->layer, "");
  cr_assert_eq((int)ip->n_properties, p.n);

  snprintf(pid, sizeof(pid), "%d", 4242);
  cr_assert_str_eq(ip->properties[i]->key, "language");
  cr_assert_str_eq(ip->properties[i++]->value, "C");
  cr_assert_str_eq(ip->properties[i]->key, "OS Name");
  cr_assert_str_eq(ip->properties[i++]->value, "Linux");
  cr_assert_str_eq(ip->properties[i]->key, "Process No.");
  cr_assert_str_eq(ip->properties[i++]->value, pid);
  cr_assert_str_eq(ip->properties[i]->key, "hostname");
  cr_assert_str_eq(ip->properties[i++]->value, "box-1");
  while (i < ip->n_properties && strcmp(ip->properties[i]->key, "ipv4") == 0) {
    cr_assert_neq(ip->properties[i]->value[0], '\0');
    nipv4++;
    i++;
  }
  cr_assert_geq(nipv4, 1, "at least one ipv4 (127.0.0.1 as a fallback)");
  cr_assert_str_eq(ip->properties[i]->key, "agent");
  cr_assert_str_eq(ip->properties[i++]->value, "swpreload");
  cr_assert_str_eq(ip->properties[i]->key, "agent_version");
  cr_assert_neq(ip->properties[i++]->value[0], '\0');
  cr_assert_str_eq(ip->properties[i]->key, "namespace");
  cr_assert_str_eq(ip->properties[i++]->value, "prod");
  cr_assert_eq(i, ip->n_properties);
  skywalking__v3__instance_properties__free_unpacked(ip, NULL);
}

Test(encode, properties_default_hostname_no_namespace)
{
  struct sw_config cfg;
  struct sw_props p;
  char host[256];

  memset(&cfg, 0, sizeof(cfg));
  cr_assert_eq(gethostname(host, sizeof(host)), 0);
  sw_props_collect(&p, &cfg, 1, NULL);
  cr_assert_str_eq(p.kv[3].key, "hostname");
  cr_assert_str_eq(p.kv[3].value, host);
  for (int i = 0; i < p.n; i++)
    cr_assert_str_neq(p.kv[i].key, "namespace");
  /* 127.0.0.1 only stands in when the host has no other address. */
  {
    int nipv4 = 0, loop = 0;
    for (int i = 0; i < p.n; i++) {
      if (strcmp(p.kv[i].key, "ipv4") != 0)
        continue;
      nipv4++;
      loop += strcmp(p.kv[i].value, "127.0.0.1") == 0;
    }
    cr_assert_geq(nipv4, 1);
    cr_assert(loop == 0 || nipv4 == 1);
  }
}

Test(encode, props_bounded)
{
  struct sw_props p;

  p.n = 0;
  for (int i = 0; i < SW_PROPS_MAX + 5; i++)
    sw_props_add(&p, "k", "v");
  cr_assert_eq(p.n, SW_PROPS_MAX);
}

Test(encode, ping)
{
  Skywalking__V3__InstancePingPkg *ping;

  cr_assert_eq(sw_encode_ping(&buf, "svc", "inst"), 0);
  ping = skywalking__v3__instance_ping_pkg__unpack(NULL, buf.len, buf.data);
  cr_assert_not_null(ping);
  cr_assert_str_eq(ping->service, "svc");
  cr_assert_str_eq(ping->serviceinstance, "inst");
  cr_assert_str_eq(ping->layer, "");
  skywalking__v3__instance_ping_pkg__free_unpacked(ping, NULL);
}

Test(encode, buf_reset_keeps_small_frees_large)
{
  static const uint8_t x[100];

  cr_assert_eq(sw_buf_append(&buf, x, sizeof(x)), 0);
  sw_buf_reset(&buf, 1 << 20);
  cr_assert_eq(buf.len, 0);
  cr_assert_not_null(buf.data);
  sw_buf_reset(&buf, 10);
  cr_assert_null(buf.data);
  cr_assert_eq(buf.cap, 0);
}

/* ---------------------------------------------------------------- oracle */

/* s with every byte that does not start a well-formed sequence replaced
 * by U+FFFD: decodes each sequence and rejects overlong forms, surrogates
 * and code points above U+10FFFF, independently of utf8.c. malloc()ed. */
static char *
ref_sanitize(const char *str)
{
  const uint8_t *p = (const uint8_t *)str;
  size_t n = strlen(str), i = 0;
  char *out = malloc(3 * n + 1), *o = out;

  cr_assert_not_null(out);
  while (i < n) {
    uint8_t c = p[i];
    size_t seq;

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
    memcpy(o, "\xef\xbf\xbd", 3);
    o += 3;
    i++;
  }
  *o = '\0';
  return out;
}

/* The repaired copies an oracle message points at. */
static char *copies[4096];
static size_t ncopies;

static char *
ostr(const char *s)
{
  cr_assert_lt(ncopies, SW_ARRAY_LEN(copies));
  return copies[ncopies++] = ref_sanitize(s);
}

static void
copies_free(void)
{
  while (ncopies)
    free(copies[--ncopies]);
}

struct oracle_span {
  Skywalking__V3__SpanObject so;
  Skywalking__V3__KeyStringValuePair tag[3], *tagp[3];
  Skywalking__V3__Log log, *logp;
  Skywalking__V3__KeyStringValuePair logkv[2], *logkvp[2];
  Skywalking__V3__SegmentReference ref, *refp;
  char status[16];
};

static void
okv(Skywalking__V3__KeyStringValuePair *kv, const char *k, const char *v)
{
  skywalking__v3__key_string_value_pair__init(kv);
  kv->key = ostr(k);
  kv->value = ostr(v);
}

/* The SpanObject of r as encode.h describes it, for protobuf-c. */
static void
oracle_span(struct oracle_span *p, const struct sw_span_rec *r)
{
  Skywalking__V3__SpanObject *so = &p->so;
  size_t nt = 0;

  skywalking__v3__span_object__init(so);
  so->spanid = r->span_id;
  so->parentspanid = r->parent_span_id;
  so->starttime = r->start_ms;
  so->endtime = r->end_ms;
  so->operationname = ostr(r->op);
  so->peer = ostr(r->peer);
  so->spantype = r->kind == SW_SPAN_ENTRY  ? SKYWALKING__V3__SPAN_TYPE__Entry
                 : r->kind == SW_SPAN_EXIT ? SKYWALKING__V3__SPAN_TYPE__Exit
                                           : SKYWALKING__V3__SPAN_TYPE__Local;
  so->spanlayer = (Skywalking__V3__SpanLayer)r->layer;
  so->componentid = r->component;
  so->iserror = r->is_error ? 1 : 0;
  if (r->method[0])
    okv(&p->tag[nt++], "http.method", r->method);
  if (r->url[0])
    okv(&p->tag[nt++], "http.url", r->url);
  if (r->status != 0) {
    snprintf(p->status, sizeof(p->status), "%d", (int)r->status);
    okv(&p->tag[nt++], "http.status_code", p->status);
  }
  for (size_t i = 0; i < nt; i++)
    p->tagp[i] = &p->tag[i];
  so->n_tags = nt;
  so->tags = nt ? p->tagp : NULL;
  if (r->errlog[0]) {
    skywalking__v3__log__init(&p->log);
    p->log.time = r->end_ms;
    okv(&p->logkv[0], "event", "error");
    okv(&p->logkv[1], "message", r->errlog);
    p->logkvp[0] = &p->logkv[0];
    p->logkvp[1] = &p->logkv[1];
    p->log.n_data = 2;
    p->log.data = p->logkvp;
    p->logp = &p->log;
    so->n_logs = 1;
    so->logs = &p->logp;
  }
  if (r->has_ref && r->ref.trace_id[0]) {
    Skywalking__V3__SegmentReference *ref = &p->ref;

    skywalking__v3__segment_reference__init(ref);
    ref->reftype = SKYWALKING__V3__REF_TYPE__CrossProcess;
    ref->traceid = ostr(r->ref.trace_id);
    ref->parenttracesegmentid = ostr(r->ref.parent_segment_id);
    ref->parentspanid = r->ref.parent_span_id;
    ref->parentservice = ostr(r->ref.parent_service);
    ref->parentserviceinstance = ostr(r->ref.parent_instance);
    ref->parentendpoint = ostr(r->ref.parent_endpoint);
    ref->networkaddressusedatpeer = ostr(r->ref.peer);
    p->refp = ref;
    so->n_refs = 1;
    so->refs = &p->refp;
  }
}

#define MAX_SPANS 64

/* protobuf-c's bytes for the SegmentObject of s, appended to out. */
static void
oracle_segment(struct sw_buf *out, const struct sw_seg *s,
               const char *service, const char *instance)
{
  static struct oracle_span parts[MAX_SPANS];
  Skywalking__V3__SpanObject *spans[MAX_SPANS];
  Skywalking__V3__SegmentObject seg;
  size_t n;

  cr_assert_leq(s->n, MAX_SPANS);
  skywalking__v3__segment_object__init(&seg);
  if (s->n > 0) {
    seg.traceid = ostr(s->spans[0].trace_id);
    seg.tracesegmentid = ostr(s->spans[0].segment_id);
  }
  for (uint32_t i = 0; i < s->n; i++) {
    oracle_span(&parts[i], &s->spans[i]);
    spans[i] = &parts[i].so;
  }
  seg.n_spans = s->n;
  seg.spans = s->n ? spans : NULL;
  seg.service = ostr(service);
  seg.serviceinstance = ostr(instance);
  seg.issizelimited = s->size_limited ? 1 : 0;
  n = skywalking__v3__segment_object__get_packed_size(&seg);
  cr_assert_eq(sw_buf_reserve(out, n), 0);
  cr_assert_eq(skywalking__v3__segment_object__pack(&seg, out->data + out->len),
               n);
  out->len += n;
  copies_free();
}

/* The repaired form of s equals t (a string protobuf-c unpacked). */
static void
same_str(const char *t, const char *s)
{
  char *want = ref_sanitize(s);

  cr_assert_str_eq(t, want);
  free(want);
}

/* The message unpacked by protobuf-c holds what went in. */
static void
check_unpacked(const uint8_t *data, size_t len, const struct sw_seg *s,
               const char *service, const char *instance)
{
  Skywalking__V3__SegmentObject *so;

  so = skywalking__v3__segment_object__unpack(NULL, len, data);
  cr_assert_not_null(so);
  same_str(so->traceid, s->n ? s->spans[0].trace_id : "");
  same_str(so->tracesegmentid, s->n ? s->spans[0].segment_id : "");
  same_str(so->service, service);
  same_str(so->serviceinstance, instance);
  cr_assert_eq(so->issizelimited, !!s->size_limited);
  cr_assert_eq(so->n_spans, s->n);
  for (uint32_t i = 0; i < s->n; i++) {
    const struct sw_span_rec *r = &s->spans[i];
    const Skywalking__V3__SpanObject *sp = so->spans[i];
    int has_ref = r->has_ref && r->ref.trace_id[0];
    size_t nt = 0;

    cr_assert_eq(sp->spanid, r->span_id);
    cr_assert_eq(sp->parentspanid, r->parent_span_id);
    cr_assert_eq(sp->starttime, r->start_ms);
    cr_assert_eq(sp->endtime, r->end_ms);
    same_str(sp->operationname, r->op);
    same_str(sp->peer, r->peer);
    cr_assert_eq((int)sp->spantype, r->kind <= SW_SPAN_EXIT ? r->kind : 2);
    cr_assert_eq((int)sp->spanlayer, r->layer);
    cr_assert_eq(sp->componentid, r->component);
    cr_assert_eq(sp->iserror, !!r->is_error);
    if (r->method[0]) {
      cr_assert_str_eq(sp->tags[nt]->key, "http.method");
      same_str(sp->tags[nt++]->value, r->method);
    }
    if (r->url[0]) {
      cr_assert_str_eq(sp->tags[nt]->key, "http.url");
      same_str(sp->tags[nt++]->value, r->url);
    }
    if (r->status) {
      char st[16];

      snprintf(st, sizeof(st), "%d", (int)r->status);
      cr_assert_str_eq(sp->tags[nt]->key, "http.status_code");
      cr_assert_str_eq(sp->tags[nt++]->value, st);
    }
    cr_assert_eq(sp->n_tags, nt);
    cr_assert_eq(sp->n_logs, r->errlog[0] ? 1u : 0u);
    if (r->errlog[0]) {
      cr_assert_eq(sp->logs[0]->time, r->end_ms);
      cr_assert_eq(sp->logs[0]->n_data, 2);
      cr_assert_str_eq(sp->logs[0]->data[0]->key, "event");
      cr_assert_str_eq(sp->logs[0]->data[0]->value, "error");
      cr_assert_str_eq(sp->logs[0]->data[1]->key, "message");
      same_str(sp->logs[0]->data[1]->value, r->errlog);
    }
    cr_assert_eq(sp->n_refs, has_ref ? 1u : 0u);
    if (has_ref) {
      const Skywalking__V3__SegmentReference *ref = sp->refs[0];

      cr_assert_eq(ref->reftype, SKYWALKING__V3__REF_TYPE__CrossProcess);
      same_str(ref->traceid, r->ref.trace_id);
      same_str(ref->parenttracesegmentid, r->ref.parent_segment_id);
      cr_assert_eq(ref->parentspanid, r->ref.parent_span_id);
      same_str(ref->parentservice, r->ref.parent_service);
      same_str(ref->parentserviceinstance, r->ref.parent_instance);
      same_str(ref->parentendpoint, r->ref.parent_endpoint);
      same_str(ref->networkaddressusedatpeer, r->ref.peer);
    }
  }
  skywalking__v3__segment_object__free_unpacked(so, NULL);
}

static struct sw_buf want;

/* Encodes s after some bytes already in the buffer, as a transport does,
 * and compares with the oracle and with what protobuf-c unpacks. */
static void
differential(const struct sw_seg *s, const char *service,
             const char *instance)
{
  static const char prefix[] = "\0\0\0\0\0";
  size_t at;

  buf.len = want.len = 0;
  cr_assert_eq(sw_buf_append(&buf, prefix, 5), 0);
  at = buf.len;
  cr_assert_eq(sw_encode_segment(&buf, s, service, instance), 0);
  oracle_segment(&want, s, service, instance);
  cr_assert_eq(buf.len - at, want.len, "%zu bytes, protobuf-c %zu",
               buf.len - at, want.len);
  cr_assert(memcmp(buf.data + at, want.data, want.len) == 0,
            "bytes differ from protobuf-c's");
  check_unpacked(buf.data + at, buf.len - at, s, service, instance);
  /* The same bytes with service and instance encoded beforehand. */
  {
    struct sw_enc_ids ids;

    cr_assert_eq(sw_enc_ids_init(&ids, service, instance), 0);
    buf.len = at;
    cr_assert_eq(sw_encode_segment_ids(&buf, s, &ids), 0);
    cr_assert_eq(buf.len - at, want.len, "ids: %zu bytes, protobuf-c %zu",
                 buf.len - at, want.len);
    cr_assert(memcmp(buf.data + at, want.data, want.len) == 0,
              "ids: bytes differ from protobuf-c's");
    sw_enc_ids_free(&ids);
  }
}

static void
seg_of(struct sw_seg *seg, struct sw_span_rec *spans, uint32_t n)
{
  memset(seg, 0, sizeof(*seg));
  seg->spans = spans;
  seg->n = seg->cap = n;
  seg->has_root = 1;
  seg->nspans = (int32_t)n;
}

/* Fills a record array with c up to its last byte, which stays NUL. */
#define FILL(a, c)                                                           \
  do {                                                                       \
    memset((a), (c), sizeof(a) - 1);                                         \
    (a)[sizeof(a) - 1] = '\0';                                               \
  } while (0)

Test(encode, diff_one_span)
{
  struct sw_span_rec r;
  struct sw_seg seg;

  fill_root(&r);
  seg_of(&seg, &r, 1);
  differential(&seg, "my-service|ns", "inst-7");
  r.has_ref = 0;
  r.errlog[0] = '\0';
  differential(&seg, "nginx", "nginx-1@host");
  fill_child(&r);
  differential(&seg, "s", "i");
}

Test(encode, diff_many_spans)
{
  static struct sw_span_rec spans[MAX_SPANS];
  struct sw_seg seg;

  for (int i = 0; i < MAX_SPANS; i++) {
    if (i % 3 == 0)
      fill_root(&spans[i]);
    else
      fill_child(&spans[i]);
    spans[i].span_id = i;
    spans[i].parent_span_id = i - 1;
    spans[i].status = i % 4 ? 200 + i : 0;
    if (i % 5 == 0)
      spans[i].errlog[0] = '\0';
  }
  seg_of(&seg, spans, MAX_SPANS);
  differential(&seg, "svc", "inst");
  seg.size_limited = 1;
  differential(&seg, "svc", "inst");
}

Test(encode, diff_empty_segment_and_strings)
{
  struct sw_span_rec r;
  struct sw_seg seg;

  seg_of(&seg, &r, 0);
  differential(&seg, "svc", "inst");
  differential(&seg, "", "");
  memset(&r, 0, sizeof(r));
  seg_of(&seg, &r, 1);
  /* Every field at its default: an empty span (key and zero length). */
  differential(&seg, "", "");
  r.has_ref = 1; /* without a trace id: no reference */
  r.ref.parent_span_id = 3;
  strcpy(r.ref.parent_service, "x");
  differential(&seg, "svc", "");
  /* A reference with only its trace id. */
  strcpy(r.ref.trace_id, "t");
  r.ref.parent_span_id = 0;
  r.ref.parent_service[0] = '\0';
  differential(&seg, "", "inst");
}

Test(encode, diff_numbers)
{
  static const int64_t ms[] = {0, 1, 127, 128, 16383, 16384, -1, -128,
                               1700000000123LL, INT64_MAX, INT64_MIN,
                               /* the six-byte fast path's edges */
                               (1LL << 35) - 1, 1LL << 35, (1LL << 42) - 1,
                               1LL << 42, 0x2aaaaaaaaaaLL, 0x15555555555LL};
  static const int32_t i32s[] = {0, 1, -1, 127, 128, 999, 1000, 99, 100,
                                 -100, INT32_MAX, INT32_MIN, 16384};
  struct sw_span_rec r;
  struct sw_seg seg;

  fill_root(&r);
  seg_of(&seg, &r, 1);
  for (size_t i = 0; i < SW_ARRAY_LEN(ms); i++) {
    r.start_ms = ms[i];
    r.end_ms = ms[SW_ARRAY_LEN(ms) - 1 - i];
    differential(&seg, "s", "i");
  }
  for (size_t i = 0; i < SW_ARRAY_LEN(i32s); i++) {
    int32_t v = i32s[i], w = i32s[SW_ARRAY_LEN(i32s) - 1 - i];

    r.span_id = v;
    r.parent_span_id = w;
    r.component = v;
    r.status = w;
    r.ref.parent_span_id = v;
    differential(&seg, "s", "i");
  }
  for (int k = 0; k < 256; k += 1) {
    r.kind = (uint8_t)k;
    r.layer = (uint8_t)(255 - k);
    r.is_error = (uint8_t)k;
    differential(&seg, "s", "i");
  }
}

/* Every string at its longest: lengths of two varint bytes everywhere,
 * and a span, reference, tag and log of more than 127 bytes. */
Test(encode, diff_long_strings)
{
  struct sw_span_rec r;
  struct sw_seg seg;
  char svc[400];

  fill_root(&r);
  FILL(r.trace_id, 't');
  FILL(r.segment_id, 's');
  FILL(r.method, 'M');
  FILL(r.op, 'o');
  FILL(r.url, 'u');
  FILL(r.peer, 'p');
  FILL(r.errlog, 'e');
  FILL(r.ref.trace_id, 'T');
  FILL(r.ref.parent_segment_id, 'S');
  FILL(r.ref.parent_service, 'v');
  FILL(r.ref.parent_instance, 'i');
  FILL(r.ref.parent_endpoint, 'E');
  FILL(r.ref.peer, 'P');
  FILL(svc, 'x');
  seg_of(&seg, &r, 1);
  differential(&seg, svc, svc);
  /* Every byte invalid: each grows into three. */
  FILL(r.op, 0xff);
  FILL(r.url, 0x80);
  FILL(r.errlog, 0xc3);
  FILL(r.ref.parent_endpoint, 0xfe);
  FILL(r.method, 0xf5);
  FILL(svc, 0xed);
  differential(&seg, svc, svc);
  /* Lengths around 127 and 128: the URL tag's value and body. */
  fill_root(&r);
  for (int n = 100; n < 135; n++) {
    memset(r.url, 'a', (size_t)n);
    r.url[n] = '\0';
    memset(r.op, 'b', (size_t)n);
    r.op[n] = '\0';
    differential(&seg, "s", "i");
  }
}

Test(encode, diff_utf8)
{
  static const char *const strs[] = {
      "caf\xc3\xa9",        "\xe2\x82\xac",       "\xf0\x9f\x98\x80",
      "/caf\xc3\xa9/\xff\x80x\xc3", "\xc0\x80",   "\xed\xa0\x80",
      "\xf4\x90\x80\x80",   "\xe0\x9f\xbf",       "abcdefgh\x80",
      "abcdefg\xc3\xa9",    ("\x80" "abcdefghijklmnop"), "x\xf0\x9f\x98",
  };
  struct sw_span_rec r;
  struct sw_seg seg;

  fill_root(&r);
  seg_of(&seg, &r, 1);
  for (size_t i = 0; i < SW_ARRAY_LEN(strs); i++) {
    const char *v = strs[i];

    strcpy(r.op, v);
    strcpy(r.peer, v);
    /* The longest string does not fit: cut, as a record's would be. */
    snprintf(r.method, sizeof(r.method), "%s", v);
    strcpy(r.url, v);
    strcpy(r.errlog, v);
    strcpy(r.trace_id, v);
    strcpy(r.segment_id, v);
    strcpy(r.ref.trace_id, v);
    strcpy(r.ref.parent_segment_id, v);
    strcpy(r.ref.parent_service, v);
    strcpy(r.ref.parent_instance, v);
    strcpy(r.ref.parent_endpoint, v);
    strcpy(r.ref.peer, v);
    differential(&seg, v, v);
  }
}

/* xorshift64*: the same random cases on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dULL;
}

/* A random string in the array a of cap bytes: empty, short or up to
 * full, ASCII mostly, sometimes valid or invalid UTF-8; the bytes after
 * the terminator are garbage (high bytes too), as in a reused record. */
static void
rnd_str(char *a, size_t cap)
{
  static const char *const bits[] = {"\xc3\xa9", "\xe2\x82\xac",
                                     "\xf0\x9f\x98\x80", "\xff", "\x80",
                                     "\xed\xa0\x80", "\xc3", "\xe2\x82"};
  uint64_t kind = rnd() % 8;
  size_t n, i = 0;

  for (size_t k = 0; k < cap; k++)
    a[k] = (char)(rnd() % 255 + 1);
  n = kind == 0 ? 0 : kind < 4 ? rnd() % 24 : rnd() % cap;
  while (i < n && i < cap - 1) {
    if (rnd() % 16 == 0) {
      const char *b = bits[rnd() % SW_ARRAY_LEN(bits)];
      size_t bl = strlen(b);

      if (i + bl > cap - 1)
        break;
      memcpy(a + i, b, bl);
      i += bl;
    } else {
      a[i++] = (char)(' ' + rnd() % 95);
    }
  }
  a[i] = '\0';
}

#define RND_STR(a) rnd_str((a), sizeof(a))

static void
rnd_span(struct sw_span_rec *r)
{
  RND_STR(r->trace_id);
  RND_STR(r->segment_id);
  r->span_id = (int32_t)rnd_i64();
  r->parent_span_id = (int32_t)rnd_i64();
  r->nspans = (int32_t)(rnd() % 10);
  r->kind = (uint8_t)(rnd() % 4);
  r->layer = (uint8_t)(rnd() % 8 == 0 ? rnd() : rnd() % 4);
  r->is_error = (uint8_t)(rnd() % 3);
  r->has_ref = (uint8_t)(rnd() % 2);
  r->component = (int32_t)rnd_i64();
  r->status = (int32_t)(rnd() % 2 ? 0 : rnd_i64());
  r->start_ms = rnd_i64();
  r->end_ms = rnd_i64();
  RND_STR(r->method);
  RND_STR(r->op);
  RND_STR(r->url);
  RND_STR(r->peer);
  RND_STR(r->errlog);
  RND_STR(r->ref.trace_id);
  RND_STR(r->ref.parent_segment_id);
  r->ref.parent_span_id = (int32_t)rnd_i64();
  RND_STR(r->ref.parent_service);
  RND_STR(r->ref.parent_instance);
  RND_STR(r->ref.parent_endpoint);
  RND_STR(r->ref.peer);
}

Test(encode, diff_random_segments, .timeout = 120)
{
  static struct sw_span_rec spans[8];
  struct sw_seg seg;
  char svc[80], inst[80];

  for (int iter = 0; iter < 3000; iter++) {
    uint32_t n = (uint32_t)(rnd() % 9);

    for (uint32_t i = 0; i < n; i++)
      rnd_span(&spans[i]);
    seg_of(&seg, spans, n);
    seg.size_limited = (uint8_t)(rnd() % 2);
    RND_STR(svc);
    RND_STR(inst);
    differential(&seg, svc, inst);
  }
}

/* Properties and ping against protobuf-c too. */
Test(encode, diff_properties_and_ping)
{
  static struct sw_props p;
  Skywalking__V3__KeyStringValuePair kv[SW_PROPS_MAX], *kvp[SW_PROPS_MAX];
  char svc[80], inst[80];

  for (int iter = 0; iter < 500; iter++) {
    Skywalking__V3__InstanceProperties ip;
    Skywalking__V3__InstancePingPkg ping;
    size_t n;

    p.n = (int)(rnd() % (SW_PROPS_MAX + 1));
    for (int i = 0; i < p.n; i++) {
      RND_STR(p.kv[i].key);
      RND_STR(p.kv[i].value);
    }
    RND_STR(svc);
    RND_STR(inst);

    skywalking__v3__instance_properties__init(&ip);
    ip.service = ostr(svc);
    ip.serviceinstance = ostr(inst);
    for (int i = 0; i < p.n; i++) {
      okv(&kv[i], p.kv[i].key, p.kv[i].value);
      kvp[i] = &kv[i];
    }
    ip.n_properties = (size_t)p.n;
    ip.properties = p.n ? kvp : NULL;
    want.len = buf.len = 0;
    n = skywalking__v3__instance_properties__get_packed_size(&ip);
    cr_assert_eq(sw_buf_reserve(&want, n), 0);
    want.len = skywalking__v3__instance_properties__pack(&ip, want.data);
    cr_assert_eq(sw_encode_properties(&buf, svc, inst, &p), 0);
    cr_assert_eq(buf.len, want.len);
    cr_assert(memcmp(buf.data, want.data, want.len) == 0);
    copies_free();

    skywalking__v3__instance_ping_pkg__init(&ping);
    ping.service = ostr(svc);
    ping.serviceinstance = ostr(inst);
    want.len = buf.len = 0;
    n = skywalking__v3__instance_ping_pkg__get_packed_size(&ping);
    cr_assert_eq(sw_buf_reserve(&want, n), 0);
    want.len = skywalking__v3__instance_ping_pkg__pack(&ping, want.data);
    cr_assert_eq(sw_encode_ping(&buf, svc, inst), 0);
    cr_assert_eq(buf.len, want.len);
    cr_assert(memcmp(buf.data, want.data, want.len) == 0);
    copies_free();
  }
  sw_buf_free(&want);
}

/* ------------------------------------------------------------------ utf8 */

static int
naive_ascii(const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] >= 0x80)
      return 0;
  return 1;
}

/* The eight-bytes-at-a-time check against a byte loop, for every length
 * up to 40 with a high byte at every position, at every alignment. */
Test(encode, utf8_ascii_fast_path)
{
  uint8_t s[64];

  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; n <= 40; n++) {
      memset(s, 'a', sizeof(s));
      cr_assert(sw_utf8_is_ascii(s + off, n));
      for (size_t k = 0; k < n; k++) {
        s[off + k] = 0x80 | (uint8_t)k;
        cr_assert_eq(sw_utf8_is_ascii(s + off, n), 0, "n %zu k %zu", n, k);
        s[off + k] = 'a';
      }
      /* A high byte just outside is not looked at. */
      s[off + n] = 0xff;
      if (off)
        s[off - 1] = 0xff;
      cr_assert(sw_utf8_is_ascii(s + off, n));
    }
  for (int iter = 0; iter < 20000; iter++) {
    size_t n = rnd() % 48;

    for (size_t k = 0; k < n; k++)
      s[k] = (uint8_t)(rnd() % 16 ? rnd() % 128 : rnd() % 256);
    cr_assert_eq(sw_utf8_is_ascii(s, n), naive_ascii(s, n));
  }
}

/* Validation and repair against the independent decoder, on random byte
 * strings (every byte value) and random mixes of sequences. */
Test(encode, utf8_repair_matches_reference)
{
  char s[48], *ref, *c;
  uint8_t out[3 * sizeof(s)];

  for (int iter = 0; iter < 50000; iter++) {
    size_t n, len;

    if (iter % 2) {
      RND_STR(s);
    } else {
      n = rnd() % (sizeof(s) - 1);
      for (size_t k = 0; k < n; k++)
        s[k] = (char)(rnd() % 255 + 1);
      s[n] = '\0';
    }
    n = strlen(s);
    ref = ref_sanitize(s);
    len = strlen(ref);
    cr_assert_eq(sw_utf8_valid(s), strcmp(ref, s) == 0);
    cr_assert_eq(sw_utf8_repaired_len(s, n), len);
    cr_assert_eq(sw_utf8_repair(out, s), len);
    cr_assert(memcmp(out, ref, len) == 0);
    c = sw_utf8_sanitize(s);
    cr_assert_str_eq(c, ref);
    free(c);
    free(ref);
  }
}

/* sw_copy_high(), the SSE2 version where there is one and the portable
 * one, against memcmp() and a byte loop: every array size a record uses
 * (and 16), every length up to the array's, a high byte inside the
 * string or just after it, garbage after it. The array is read from its
 * own allocation (the sanitizers see a read beyond it); nothing may be
 * written beyond min(cap, n + 15), or 16 bytes when n is 0. */
static void
check_copy_high(const char *f, size_t n, size_t cap)
{
  uint8_t d[SW_URL_MAX + 32];
  char *a = malloc(cap);
  int high = !naive_ascii((const uint8_t *)f, n);

  cr_assert_not_null(a);
  memcpy(a, f, cap);
  for (int v = 0; v < 2; v++) {
    size_t m = n ? n : 1;
    size_t lim = v == 0 && m + 15 < cap ? m + 15 : v == 0 ? cap : n;
    int got;

    memset(d, 0xee, sizeof(d));
    got = v == 0 ? sw_copy_high(d, a, n, cap) : sw_copy_high_any(d, a, n);
    cr_assert_eq(got != 0, high, "variant %d cap %zu n %zu", v, cap, n);
    cr_assert(memcmp(d, a, n) == 0, "variant %d", v);
    for (size_t k = lim; k < sizeof(d); k++)
      cr_assert_eq(d[k], 0xee, "variant %d cap %zu n %zu wrote at %zu", v,
                   cap, n, k);
  }
  free(a);
}

Test(encode, copy_high)
{
  static const size_t caps[] = {SW_METHOD_MAX, SW_ID_MAX, SW_NAME_MAX,
                                SW_PEER_MAX, SW_ERRLOG_MAX, SW_OP_MAX,
                                SW_URL_MAX, 16, 24, 40};
  char f[SW_URL_MAX];

  for (size_t c = 0; c < SW_ARRAY_LEN(caps); c++) {
    size_t cap = caps[c];

    for (size_t n = 0; n <= cap; n++) {
      for (size_t k = 0; k < cap; k++)
        f[k] = (char)('a' + k % 26);
      check_copy_high(f, n, cap);
      /* A high byte after the string does not count. */
      if (n < cap) {
        f[n] = (char)0xc3;
        check_copy_high(f, n, cap);
      }
      /* One in it does, first or last. */
      if (n > 0) {
        f[n - 1] = (char)0x80;
        check_copy_high(f, n, cap);
        f[n - 1] = 'a';
        f[0] = (char)0xff;
        check_copy_high(f, n, cap);
      }
    }
  }
  for (int iter = 0; iter < 20000; iter++) {
    size_t cap = caps[rnd() % SW_ARRAY_LEN(caps)];

    for (size_t k = 0; k < cap; k++)
      f[k] = (char)rnd();
    check_copy_high(f, rnd() % (cap + 1), cap);
  }
}

/* An encoded service and instance is freed and can be made again. */
Test(encode, enc_ids)
{
  struct sw_enc_ids ids;
  struct sw_span_rec r;
  struct sw_seg seg;

  fill_root(&r);
  seg_of(&seg, &r, 1);
  cr_assert_eq(sw_enc_ids_init(&ids, "", ""), 0);
  cr_assert_eq(ids.len, 0);
  sw_enc_ids_free(&ids);
  cr_assert_null(ids.bytes);
  sw_enc_ids_free(&ids);
  differential(&seg, "", "");
  differential(&seg, "svc\xff", "inst\xc3");
  FILL(r.url, 'u');
  differential(&seg, "a-service-name-of-some-length|a-namespace|a-cluster",
               "an-instance-name-of-some-length@a-host-name-of-some-length"
               "-and-more-and-more-and-more-and-more-and-more");
}

/* ------------------------------------------ segments encoded on arrival
 *
 * A one-span segment may be encoded as its record arrives, straight from
 * the ring's cell (sw_encode_single_ids(), or Kafka's
 * sw_xport_kafka_single()), instead of being copied and encoded when
 * sent. Whatever the record holds, a transport must send the same bytes
 * either way. */

/* The string arrays of a record, to pick from. */
#define REC_ARR(f) {offsetof(struct sw_span_rec, f), sizeof(((struct sw_span_rec *)0)->f)},
static const struct {
  size_t off, cap;
} rec_arrays[] = {
    REC_ARR(trace_id) REC_ARR(segment_id) REC_ARR(method) REC_ARR(op)
    REC_ARR(url) REC_ARR(peer) REC_ARR(errlog) REC_ARR(ref.trace_id)
    REC_ARR(ref.parent_segment_id) REC_ARR(ref.parent_service)
    REC_ARR(ref.parent_instance) REC_ARR(ref.parent_endpoint)
    REC_ARR(ref.peer)
};

/* A root announcing one span as it may arrive: random fields, strings of
 * every length, ASCII or not, valid UTF-8 or not, and now and then one
 * that fills its array without a terminator (sw_span_copy() cuts it at
 * the last byte). The stray bytes after terminators vary too. */
static void
rnd_arrival(struct sw_span_rec *r)
{
  rnd_span(r);
  r->span_id = 0;
  r->parent_span_id = -1;
  r->nspans = 1;
  if (rnd() % 3 == 0)
    r->errlog[0] = '\0';
  if (rnd() % 3 == 0)
    r->status = (int32_t)(100 + rnd() % 500);
  for (int k = (int)(rnd() % 3); k > 0; k--) {
    size_t i = rnd() % SW_ARRAY_LEN(rec_arrays);
    char *f = (char *)r + rec_arrays[i].off;

    for (size_t j = 0; j < rec_arrays[i].cap; j++)
      f[j] = (char)(rnd() % 8 == 0 ? 0x80 + rnd() % 128 : 'a' + rnd() % 26);
  }
}

/* The one-span segment holding a copy of r, as the record path makes it
 * (seg_of()'s spans point at copy). */
static void
record_seg(struct sw_seg *seg, struct sw_span_rec *copy,
           const struct sw_span_rec *r)
{
  memset(copy, 0x77, sizeof(*copy)); /* what the copy leaves must not count */
  sw_span_copy(copy, r);
  seg_of(seg, copy, 1);
}

/* The encoders of one-span segments, by what they make: the
 * SegmentObject (sw_encode_single()), Kafka's record
 * (sw_xport_kafka_single()), gRPC's frame (sw_xport_grpc_single()). */
enum single_kind { SINGLE_PLAIN, SINGLE_KAFKA, SINGLE_GRPC, SINGLE_KINDS };

/* What the encoder of that kind makes of the view v: written to dst, room
 * bytes of their own allocation (NULL when room is 0), or appended to
 * out. */
static long
single_to(enum single_kind kind, const struct sw_span_view *v,
          const struct sw_enc_ids *ids, uint8_t **dst, size_t room,
          struct sw_buf *out)
{
  free(*dst);
  *dst = room ? malloc(room) : NULL;
  if (room) {
    cr_assert_not_null(*dst);
    memset(*dst, 0xee, room);
  }
  switch (kind) {
  case SINGLE_KAFKA:
    return sw_xport_kafka_single(v, ids, *dst, room, out);
  case SINGLE_GRPC:
    return sw_xport_grpc_single(v, ids, *dst, room, out);
  default:
    return sw_encode_single(v, ids, *dst, room, out);
  }
}

/* Appends the gRPC frame of the len bytes at p. */
static void
append_frame(struct sw_buf *b, const uint8_t *p, size_t len)
{
  uint8_t head[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                     (uint8_t)(len >> 8), (uint8_t)len};

  cr_assert_eq(sw_buf_append(b, head, sizeof(head)), 0);
  cr_assert_eq(sw_buf_append(b, p, len), 0);
}

/* The bytes want (wlen) came out of single_to(): at dst (n of them) or
 * appended to out after its 5 bytes. */
static void
single_is(long n, const uint8_t *dst, const struct sw_buf *out,
          const uint8_t *w, size_t wlen, int iter)
{
  if (n > 0) {
    cr_assert_eq((size_t)n, wlen, "iter %d: %ld bytes, want %zu", iter, n,
                 wlen);
    cr_assert(memcmp(dst, w, wlen) == 0, "iter %d", iter);
    cr_assert_eq(out->len, 5, "iter %d: out untouched", iter);
  } else {
    cr_assert_eq(n, 0, "iter %d", iter);
    cr_assert_eq(out->len, 5 + wlen, "iter %d", iter);
    cr_assert(memcmp(out->data + 5, w, wlen) == 0, "iter %d", iter);
  }
}

/* Every way of encoding a one-span segment makes the bytes of the record
 * path (a segment holding a copy of the record, sw_encode_segment_ids()),
 * whatever the record holds: from a view of the record where it arrived
 * or of it packed as the ring's cell holds it, appended to a buffer or
 * written in place into room of any size (too small by one, exactly
 * enough, a recycled block's, plenty); for Kafka, with its key in front,
 * for gRPC in its frame.
 * Room too small always falls back to the buffer, and room to spare is
 * always used. */
Test(encode, single_matches_record_path, .timeout = 120)
{
  static struct sw_span_rec raw, copy;
  struct sw_buf a = {0}, b = {0}, c = {0}, k = {0}, g = {0};
  struct sw_span_view vr, vp;
  struct sw_seg seg;
  char svc[80], inst[80];
  uint8_t *dst = NULL;
  unsigned direct = 0, fallback = 0;

  for (int iter = 0; iter < 4000; iter++) {
    struct sw_enc_ids ids;
    size_t rlen, klen, rooms[6];

    rnd_arrival(&raw);
    raw.has_ref = (uint8_t)(iter & 1);
    record_seg(&seg, &copy, &raw);
    RND_STR(svc);
    RND_STR(inst);
    cr_assert_eq(sw_enc_ids_init(&ids, svc, inst), 0);
    /* The record path, after bytes already there, as in a batch. */
    b.len = 0;
    cr_assert_eq(sw_buf_append(&b, "12345", 5), 0);
    cr_assert_eq(sw_encode_segment_ids(&b, &seg, &ids), 0);
    rlen = b.len - 5;
    /* Kafka's record: the key's length, the key, the value. */
    klen = strlen(copy.segment_id);
    k.len = 0;
    cr_assert_eq(sw_buf_append(&k, &(uint8_t){(uint8_t)klen}, 1), 0);
    cr_assert_eq(sw_buf_append(&k, copy.segment_id, klen), 0);
    cr_assert_eq(sw_buf_append(&k, b.data + 5, rlen), 0);
    g.len = 0;
    append_frame(&g, b.data + 5, rlen);

    sw_span_view_rec(&vr, &raw);
    sw_span_view_packed(&vp, rep_pack(&raw));
    for (int view = 0; view < 2; view++) {
      const struct sw_span_view *v = view ? &vp : &vr;

      a.len = 0;
      cr_assert_eq(sw_buf_append(&a, "12345", 5), 0);
      cr_assert_eq(sw_encode_single_ids(&a, v, &ids), 0);
      cr_assert_eq(a.len, b.len, "iter %d view %d: %zu bytes, record path %zu",
                   iter, view, a.len, b.len);
      cr_assert(memcmp(a.data, b.data, a.len) == 0, "iter %d view %d", iter,
                view);
      for (int kind = 0; kind < SINGLE_KINDS; kind++) {
        const uint8_t *w = kind == SINGLE_KAFKA  ? k.data
                           : kind == SINGLE_GRPC ? g.data
                                                 : b.data + 5;
        size_t wl = kind == SINGLE_KAFKA  ? k.len
                    : kind == SINGLE_GRPC ? g.len
                                          : rlen;

        rooms[0] = 0;
        rooms[1] = wl - 1;
        rooms[2] = wl;
        rooms[3] = SW_ASM_ENC_INLINE;
        rooms[4] = wl + 64 + rnd() % 64;
        rooms[5] = rnd() % (wl + 80);
        for (size_t r = 0; r < SW_ARRAY_LEN(rooms); r++) {
          long n;

          c.len = 0;
          cr_assert_eq(sw_buf_append(&c, "12345", 5), 0);
          n = single_to((enum single_kind)kind, v, &ids, &dst, rooms[r],
                        &c);
          single_is(n, dst, &c, w, wl, iter);
          if (rooms[r] < wl)
            cr_assert_eq(n, 0, "iter %d: no room, no bytes in place", iter);
          if (rooms[r] >= wl + 64)
            cr_assert_gt(n, 0, "iter %d: room to spare is used", iter);
          direct += n > 0;
          fallback += n == 0 && rooms[r] >= wl;
        }
      }
    }
    /* And the record path's bytes are what protobuf-c makes. */
    if (iter % 16 == 0)
      differential(&seg, svc, inst);
    sw_enc_ids_free(&ids);
  }
  /* Both ways were taken, also with just enough room (the checks ask
   * for a little more than a string takes). */
  cr_assert_gt(direct, 4000);
  cr_assert_gt(fallback, 0);
  free(dst);
  sw_buf_free(&a);
  sw_buf_free(&b);
  sw_buf_free(&c);
  sw_buf_free(&k);
  sw_buf_free(&g);
}

/* The most a span takes: every string at its longest and none of it
 * valid UTF-8 (each byte repaired into three), every number at its
 * longest, the ref, the error log. The record path has room for it, and
 * a one-span segment goes in place only with room for it. */
Test(encode, largest_span)
{
  static struct sw_span_rec r[3];
  struct sw_span_view v;
  struct sw_enc_ids ids;
  struct sw_seg seg;
  struct sw_buf c = {0};
  uint8_t *dst = NULL;
  long n;

  for (int i = 0; i < 3; i++) {
    memset(&r[i], 0xff, sizeof(r[i]));
#define TERM(f) r[i].f[sizeof(r[i].f) - 1] = '\0';
#define TERM_REF(f) TERM(ref.f)
    SW_SPAN_STRINGS(TERM)
    SW_REF_STRINGS(TERM_REF)
#undef TERM_REF
#undef TERM
    r[i].span_id = i;
    r[i].parent_span_id = INT32_MIN;
    r[i].nspans = 3;
    r[i].has_ref = 1;
    r[i].component = INT32_MIN;
    r[i].status = INT32_MIN;
    r[i].start_ms = INT64_MIN;
    r[i].end_ms = -1;
    r[i].ref.parent_span_id = INT32_MIN;
  }
  seg_of(&seg, r, 3);
  differential(&seg, "svc", "inst");
  cr_assert_eq(sw_enc_ids_init(&ids, "svc", "inst"), 0);
  buf.len = 0;
  cr_assert_eq(sw_encode_segment_ids(&buf, &seg, &ids), 0);
  /* One span alone. */
  r[0].nspans = 1;
  seg_of(&seg, r, 1);
  buf.len = 0;
  cr_assert_eq(sw_encode_segment_ids(&buf, &seg, &ids), 0);
  sw_span_view_packed(&v, rep_pack(&r[0]));
  cr_assert_eq(sw_buf_append(&c, "12345", 5), 0);
  n = single_to(0, &v, &ids, &dst, buf.len - 1, &c);
  single_is(n, dst, &c, buf.data, buf.len, 0);
  cr_assert_eq(n, 0);
  c.len = 5;
  n = single_to(0, &v, &ids, &dst, buf.len + 64, &c);
  single_is(n, dst, &c, buf.data, buf.len, 0);
  cr_assert_gt(n, 0);
  free(dst);
  sw_buf_free(&c);
  sw_enc_ids_free(&ids);
}

/* Out of memory with no room in place: -ENOMEM, and the buffer as it
 * was. A buffer at the end of the address space cannot grow (without a
 * call to the allocator). */
Test(encode, single_nomem)
{
  struct sw_span_rec r;
  struct sw_span_view v;
  struct sw_enc_ids ids;
  struct sw_buf full = {NULL, SIZE_MAX, SIZE_MAX};
  uint8_t small[8];

  fill_root(&r);
  sw_span_view_packed(&v, rep_pack(&r));
  cr_assert_eq(sw_enc_ids_init(&ids, "s", "i"), 0);
  cr_assert_eq(sw_encode_single(&v, &ids, NULL, 0, &full), -ENOMEM);
  cr_assert_eq(sw_encode_single(&v, &ids, small, sizeof(small), &full),
               -ENOMEM);
  cr_assert_eq(sw_encode_single_ids(&full, &v, &ids), -ENOMEM);
  cr_assert_eq(sw_xport_kafka_single(&v, &ids, NULL, 0, &full), -ENOMEM);
  cr_assert_eq(sw_xport_kafka_single(&v, &ids, small, sizeof(small), &full),
               -ENOMEM);
  cr_assert_eq(sw_xport_grpc_single(&v, &ids, NULL, 0, &full), -ENOMEM);
  cr_assert_eq(sw_xport_grpc_single(&v, &ids, small, sizeof(small), &full),
               -ENOMEM);
  cr_assert(full.len == SIZE_MAX && full.data == NULL);
  sw_enc_ids_free(&ids);
}

/* Encoders for the assembler (sw_asm_encode_fn), as the transports lend
 * them. */
static long
grpc_enc(void *ctx, const struct sw_span_view *v, uint8_t *dst, size_t room,
         struct sw_buf *out)
{
  return sw_xport_grpc_single(v, ctx, dst, room, out);
}

/* The body of a gRPC call of the n segments at segs, as libcurl reads it:
 * in reads of random sizes (1 byte to more than the body), after a read
 * of part of it and a rewind, as libcurl does to send it again; and read
 * again from a random place, the rest of the same bytes. */
static void
grpc_body_read(struct sw_buf *out, struct sw_xport_grpc_body *src,
               struct sw_seg *const *segs, size_t n,
               const struct sw_enc_ids *ids)
{
  uint8_t chunk[700];
  size_t got, pos;

  cr_assert_eq(sw_xport_grpc_body_set(src, segs, n, ids), 0);
  sw_xport_grpc_body_read(src, chunk, rnd() % sizeof(chunk));
  cr_assert_eq(sw_xport_grpc_body_seek(src, src->len + 1), -EINVAL);
  cr_assert_eq(sw_xport_grpc_body_seek(src, 0), 0);
  out->len = 0;
  do {
    got = sw_xport_grpc_body_read(src, chunk, 1 + rnd() % sizeof(chunk));
    cr_assert_eq(sw_buf_append(out, chunk, got), 0);
  } while (got > 0);
  cr_assert_eq(out->len, src->len);
  pos = rnd() % (src->len + 1);
  cr_assert_eq(sw_xport_grpc_body_seek(src, pos), 0);
  for (size_t at = pos; at < src->len; at += got) {
    got = sw_xport_grpc_body_read(src, chunk, 1 + rnd() % sizeof(chunk));
    cr_assert(got > 0 && memcmp(chunk, out->data + at, got) == 0);
  }
  cr_assert_eq(sw_xport_grpc_body_read(src, chunk, sizeof(chunk)), 0);
}

/* The body of the record path, built here: each segment's SegmentObject
 * (sw_encode_segment_ids()) in its frame. */
static void
grpc_body_want(struct sw_buf *out, struct sw_seg *const *segs, size_t n,
               const struct sw_enc_ids *ids)
{
  struct sw_buf one = {0};

  out->len = 0;
  for (size_t i = 0; i < n; i++) {
    one.len = 0;
    cr_assert_eq(sw_encode_segment_ids(&one, segs[i], ids), 0);
    append_frame(out, one.data, one.len);
  }
  sw_buf_free(&one);
}

static long
kafka_enc(void *ctx, const struct sw_span_view *v, uint8_t *dst,
          size_t room, struct sw_buf *out)
{
  return sw_xport_kafka_single(v, ctx, dst, room, out);
}

/* The same random stream of records, one-span roots and segments of
 * several spans mixed, into an assembler that encodes one-span segments
 * on arrival (enc) and one that keeps their records (recs); what comes
 * out in batches is handed to the transport's batch layout, and the bytes
 * must be the same. */
static void
arrivals_vs_records(sw_asm_encode_fn fn, int kafka)
{
  struct sw_asm enc, recs;
  struct sw_asm_limits lim;
  struct sw_stats es = {0}, rs = {0};
  struct sw_enc_ids ids;
  struct sw_buf a = {0}, b = {0}, w = {0}, ma = {0}, mb = {0};
  struct sw_xport_grpc_body src = {0};
  struct rep_batch_kinds k = {0};

  sw_asm_limits_default(&lim);
  cr_assert_eq(sw_asm_init(&enc, &lim, &es), 0);
  cr_assert_eq(sw_asm_init(&recs, &lim, &rs), 0);
  cr_assert_eq(sw_enc_ids_init(&ids, "a-service|ns", "inst@host"), 0);
  struct rep_enc_count cnt = {fn, &ids, 0, 0};

  sw_asm_set_encoder(&enc, rep_counting_enc, &cnt);
  for (int round = 0; round < 200; round++) {
    struct sw_seg *x[16], *y[16];
    size_t n = rep_batch(&enc, &recs, round, rnd_arrival, x, y,
                         SW_ARRAY_LEN(x), &k);

    if (!kafka) {
      grpc_body_read(&a, &src, x, n, &ids);
      grpc_body_read(&b, &src, y, n, &ids);
      grpc_body_want(&w, y, n, &ids);
      cr_assert_eq(a.len, w.len, "round %d: %zu bytes, record path %zu",
                   round, a.len, w.len);
      cr_assert(memcmp(a.data, w.data, a.len) == 0, "round %d", round);
      cr_assert(b.len == w.len && memcmp(b.data, w.data, b.len) == 0,
                "round %d", round);
    }
    for (size_t i = 0; i < n; i++) {
      if (kafka) {
        struct sw_xport_msg p, q;

        cr_assert_eq(sw_xport_kafka_message(&ma, x[i], &ids, &p), 0);
        cr_assert_eq(sw_xport_kafka_message(&mb, y[i], &ids, &q), 0);
        cr_assert_eq(p.key_len, q.key_len, "round %d", round);
        cr_assert(memcmp(p.key, q.key, p.key_len) == 0, "round %d", round);
        cr_assert_eq(p.value_len, q.value_len, "round %d", round);
        cr_assert(memcmp(p.value, q.value, p.value_len) == 0, "round %d",
                  round);
      }
      sw_asm_recycle(&enc, x[i]);
      sw_asm_recycle(&recs, y[i]);
    }
  }
  rep_batch_all_kinds_seen(&k);
  /* Most of those that fit a block were written in place. */
  cr_assert_gt(cnt.direct, (k.enc - k.heap) / 2, "%u in place of %u",
               cnt.direct, k.enc - k.heap);
  cr_assert_gt(cnt.out, 0);
  cr_assert_eq(es.segments_dropped, 0);
  sw_enc_ids_free(&ids);
  sw_buf_free(&a);
  sw_buf_free(&b);
  sw_buf_free(&w);
  sw_xport_grpc_body_free(&src);
  sw_buf_free(&ma);
  sw_buf_free(&mb);
  sw_asm_destroy(&enc);
  sw_asm_destroy(&recs);
}

Test(encode, grpc_body_same_for_encoded_segments, .timeout = 120)
{
  arrivals_vs_records(grpc_enc, 0);
}

Test(encode, kafka_records_same_for_encoded_segments, .timeout = 120)
{
  arrivals_vs_records(kafka_enc, 1);
}

/* Kafka's key is the segment id, cut as sw_span_copy() cuts it. */
Test(encode, kafka_single_layout)
{
  struct sw_span_rec r;
  struct sw_span_view v;
  struct sw_enc_ids ids;
  struct sw_buf a = {0};

  fill_root(&r);
  cr_assert_eq(sw_enc_ids_init(&ids, "s", "i"), 0);
  cr_assert_eq(sw_buf_append(&a, "x", 1), 0);
  sw_span_view_rec(&v, &r);
  cr_assert_eq(sw_xport_kafka_single(&v, &ids, NULL, 0, &a), 0);
  cr_assert_eq(a.data[1], strlen(r.segment_id));
  cr_assert(memcmp(a.data + 2, r.segment_id, strlen(r.segment_id)) == 0);
  memset(r.segment_id, 'k', sizeof(r.segment_id));
  a.len = 0;
  sw_span_view_rec(&v, &r);
  cr_assert_eq(sw_xport_kafka_single(&v, &ids, NULL, 0, &a), 0);
  cr_assert_eq(a.data[0], SW_ID_MAX - 1);
  sw_span_view_packed(&v, rep_pack(&r));
  a.len = 0;
  cr_assert_eq(sw_xport_kafka_single(&v, &ids, NULL, 0, &a), 0);
  cr_assert_eq(a.data[0], SW_ID_MAX - 1);
  cr_assert(memcmp(a.data + 1, r.segment_id, SW_ID_MAX - 1) == 0);
  sw_enc_ids_free(&ids);
  sw_buf_free(&a);
}
