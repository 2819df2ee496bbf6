/* test_rep_encode.c: protobuf encoding (reporter/encode.c, props.c).
 *
 * Each message is encoded, unpacked again with the protobuf-c generated
 * code, and compared field by field with what went in. */
#include "sw_common.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "common/Common.pb-c.h"
#include "encode.h"
#include "language-agent/Tracing.pb-c.h"
#include "management/Management.pb-c.h"

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
