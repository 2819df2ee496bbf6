/* kafka_consume.c: a Kafka backend for tests, with librdkafka's mock
 * cluster.
 *
 *   kafka_consume [-n SEGMENTS] [-p PROPERTIES] [-k PINGS] [-t SECONDS]
 *                 [-N NAMESPACE] [-S SEGMENT_TOPIC] [-M MANAGEMENT_TOPIC]
 *
 * Starts a one-broker mock cluster on loopback, creates the segment and
 * management topics (one partition each; "<NAMESPACE>-" prefixed when -N
 * is given), prints
 *   bootstrap <host:port,...>
 * on stdout, then consumes both topics from the beginning with assign()
 * (no consumer group: a group join takes seconds) and prints one line
 * per record:
 *   {"topic": T, "key": K, "type": "segment"|"properties"|"keepalive",
 *    "data": {...}}
 * data is the message decoded with the protobuf-c generated code, every
 * field written (defaults too), enums as names, int64 as numbers; a
 * record that does not decode is type "undecodable". The management
 * type follows the key, as the OAP does: "register-..." is
 * InstanceProperties, anything else InstancePingPkg.
 *
 * It exits (status 0) once it has printed SEGMENTS segments, PROPERTIES
 * properties and PINGS keepalives (all 0 by default: run until told),
 * on SIGTERM or SIGINT, or after SECONDS (default 120, status 1). */
#define _GNU_SOURCE 1

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/Common.pb-c.h"
#include "language-agent/Tracing.pb-c.h"
#include "management/Management.pb-c.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
  (void)sig;
  stop = 1;
}

static void
die(const char *what, const char *why)
{
  fprintf(stderr, "kafka_consume: %s: %s\n", what, why);
  exit(2);
}

/* A JSON string literal. Bytes >= 0x80 are copied as they are. */
static void
jstr(const char *s, size_t n)
{
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void
js(const char *s)
{
  jstr(s ? s : "", s ? strlen(s) : 0);
}

static void
kv_list(const char *name, Skywalking__V3__KeyStringValuePair **kv, size_t n)
{
  printf(",\"%s\":[", name);
  for (size_t i = 0; i < n; i++) {
    printf("%s{\"key\":", i ? "," : "");
    js(kv[i]->key);
    printf(",\"value\":");
    js(kv[i]->value);
    putchar('}');
  }
  putchar(']');
}

static const char *
enum_name(const ProtobufCEnumDescriptor *d, int v)
{
  const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
  return ev ? ev->name : "?";
}

static void
print_span(const Skywalking__V3__SpanObject *so)
{
  printf("{\"spanId\":%d,\"parentSpanId\":%d,\"startTime\":%lld,"
         "\"endTime\":%lld,\"operationName\":",
         so->spanid, so->parentspanid, (long long)so->starttime,
         (long long)so->endtime);
  js(so->operationname);
  printf(",\"peer\":");
  js(so->peer);
  printf(",\"spanType\":\"%s\",\"spanLayer\":\"%s\",\"componentId\":%d,"
         "\"isError\":%s,\"skipAnalysis\":%s",
         enum_name(&skywalking__v3__span_type__descriptor, so->spantype),
         enum_name(&skywalking__v3__span_layer__descriptor, so->spanlayer),
         so->componentid, so->iserror ? "true" : "false",
         so->skipanalysis ? "true" : "false");
  kv_list("tags", so->tags, so->n_tags);
  printf(",\"logs\":[");
  for (size_t i = 0; i < so->n_logs; i++) {
    printf("%s{\"time\":%lld", i ? "," : "", (long long)so->logs[i]->time);
    kv_list("data", so->logs[i]->data, so->logs[i]->n_data);
    putchar('}');
  }
  printf("],\"refs\":[");
  for (size_t i = 0; i < so->n_refs; i++) {
    const Skywalking__V3__SegmentReference *r = so->refs[i];
    printf("%s{\"refType\":\"%s\",\"traceId\":", i ? "," : "",
           enum_name(&skywalking__v3__ref_type__descriptor, r->reftype));
    js(r->traceid);
    printf(",\"parentTraceSegmentId\":");
    js(r->parenttracesegmentid);
    printf(",\"parentSpanId\":%d,\"parentService\":", r->parentspanid);
    js(r->parentservice);
    printf(",\"parentServiceInstance\":");
    js(r->parentserviceinstance);
    printf(",\"parentEndpoint\":");
    js(r->parentendpoint);
    printf(",\"networkAddressUsedAtPeer\":");
    js(r->networkaddressusedatpeer);
    putchar('}');
  }
  printf("]}");
}

/* Prints the "type" and "data" members; returns the type. */
static const char *
print_value(const rd_kafka_message_t *m, int is_segment, const char *key)
{
  const uint8_t *v = m->payload;
  size_t n = m->len;

  if (is_segment) {
    Skywalking__V3__SegmentObject *so =
        skywalking__v3__segment_object__unpack(NULL, n, v);
    if (!so)
      return NULL;
    printf(",\"type\":\"segment\",\"data\":{\"traceId\":");
    js(so->traceid);
    printf(",\"traceSegmentId\":");
    js(so->tracesegmentid);
    printf(",\"service\":");
    js(so->service);
    printf(",\"serviceInstance\":");
    js(so->serviceinstance);
    printf(",\"isSizeLimited\":%s,\"spans\":[",
           so->issizelimited ? "true" : "false");
    for (size_t i = 0; i < so->n_spans; i++) {
      if (i)
        putchar(',');
      print_span(so->spans[i]);
    }
    printf("]}");
    skywalking__v3__segment_object__free_unpacked(so, NULL);
    return "segment";
  }
  if (strncmp(key, "register-", 9) == 0) {
    Skywalking__V3__InstanceProperties *ip =
        skywalking__v3__instance_properties__unpack(NULL, n, v);
    if (!ip)
      return NULL;
    printf(",\"type\":\"properties\",\"data\":{\"service\":");
    js(ip->service);
    printf(",\"serviceInstance\":");
    js(ip->serviceinstance);
    printf(",\"layer\":");
    js(ip->layer);
    kv_list("properties", ip->properties, ip->n_properties);
    putchar('}');
    skywalking__v3__instance_properties__free_unpacked(ip, NULL);
    return "properties";
  }
  Skywalking__V3__InstancePingPkg *pp =
      skywalking__v3__instance_ping_pkg__unpack(NULL, n, v);
  if (!pp)
    return NULL;
  printf(",\"type\":\"keepalive\",\"data\":{\"service\":");
  js(pp->service);
  printf(",\"serviceInstance\":");
  js(pp->serviceinstance);
  printf(",\"layer\":");
  js(pp->layer);
  putchar('}');
  skywalking__v3__instance_ping_pkg__free_unpacked(pp, NULL);
  return "keepalive";
}

static void
set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
  char err[256];

  if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
    die(k, err);
}

static double
now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
  long want_seg = 0, want_props = 0, want_pings = 0, timeout_s = 120;
  const char *ns = "", *seg_plain = "skywalking-segments",
             *mgmt_plain = "skywalking-managements";
  char seg_topic[256], mgmt_topic[256], err[512];
  long got_seg = 0, got_props = 0, got_pings = 0;
  rd_kafka_mock_cluster_t *mc;
  rd_kafka_topic_partition_list_t *parts;
  rd_kafka_t *prod, *cons;
  rd_kafka_conf_t *conf;
  struct sigaction sa;
  const char *boot;
  double deadline;
  int c, rc = 1;

  while ((c = getopt(argc, argv, "n:p:k:t:N:S:M:")) != -1) {
    switch (c) {
    case 'n': want_seg = atol(optarg); break;
    case 'p': want_props = atol(optarg); break;
    case 'k': want_pings = atol(optarg); break;
    case 't': timeout_s = atol(optarg); break;
    case 'N': ns = optarg; break;
    case 'S': seg_plain = optarg; break;
    case 'M': mgmt_plain = optarg; break;
    default:
      fprintf(stderr, "usage: kafka_consume [-n SEGMENTS] [-p PROPERTIES] "
                      "[-k PINGS] [-t SECONDS] [-N NAMESPACE] "
                      "[-S SEGMENT_TOPIC] [-M MANAGEMENT_TOPIC]\n");
      return 2;
    }
  }
  snprintf(seg_topic, sizeof(seg_topic), "%s%s%s", ns, *ns ? "-" : "",
           seg_plain);
  snprintf(mgmt_topic, sizeof(mgmt_topic), "%s%s%s", ns, *ns ? "-" : "",
           mgmt_plain);

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  /* The mock cluster lives inside a client instance. */
  conf = rd_kafka_conf_new();
  set(conf, "log_level", "3");
  prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!prod)
    die("producer", err);
  mc = rd_kafka_mock_cluster_new(prod, 1);
  if (!mc)
    die("mock cluster", "cannot start");
  boot = rd_kafka_mock_cluster_bootstraps(mc);
  if (rd_kafka_mock_topic_create(mc, seg_topic, 1, 1) ||
      rd_kafka_mock_topic_create(mc, mgmt_topic, 1, 1))
    die("topics", "cannot create");

  conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", boot);
  set(conf, "group.id", "swtest");
  set(conf, "enable.auto.commit", "false");
  set(conf, "log_level", "3");
  cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (!cons)
    die("consumer", err);
  parts = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(parts, seg_topic, 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_topic_partition_list_add(parts, mgmt_topic, 0)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  if (rd_kafka_assign(cons, parts))
    die("assign", "failed");
  rd_kafka_topic_partition_list_destroy(parts);

  printf("bootstrap %s\n", boot);
  fflush(stdout);

  deadline = now_s() + (double)timeout_s;
  while (!stop) {
    rd_kafka_message_t *m;

    if ((want_seg || want_props || want_pings) && got_seg >= want_seg &&
        got_props >= want_props && got_pings >= want_pings) {
      rc = 0;
      break;
    }
    if (now_s() > deadline) {
      fprintf(stderr, "kafka_consume: timed out\n");
      break;
    }
    m = rd_kafka_consumer_poll(cons, 100);
    if (!m)
      continue;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        fprintf(stderr, "kafka_consume: %s\n", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    {
      const char *topic = rd_kafka_topic_name(m->rkt);
      int is_seg = strcmp(topic, seg_topic) == 0;
      char key[512];
      const char *type;
      size_t kl = m->key_len < sizeof(key) - 1 ? m->key_len : sizeof(key) - 1;

      memcpy(key, m->key ? m->key : "", m->key ? kl : 0);
      key[m->key ? kl : 0] = '\0';
      printf("{\"topic\":");
      js(topic);
      printf(",\"key\":");
      jstr(key, strlen(key));
      type = print_value(m, is_seg, key);
      if (!type)
        printf(",\"type\":\"undecodable\",\"data\":{\"bytes\":%zu}", m->len);
      printf("}\n");
      fflush(stdout);
      if (type && strcmp(type, "segment") == 0)
        got_seg++;
      else if (type && strcmp(type, "properties") == 0)
        got_props++;
      else if (type)
        got_pings++;
    }
    rd_kafka_message_destroy(m);
  }
  if (stop)
    rc = 0;
  rd_kafka_consumer_close(cons);
  rd_kafka_destroy(cons);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(prod);
  return rc;
}
