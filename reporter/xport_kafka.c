/* xport_kafka.c: the Kafka transport, with librdkafka.
 *
 * librdkafka is not linked in: it is dlopen()ed here, when the protocol
 * is kafka, so that processes reporting over gRPC or HTTP never map it
 * (nor the TLS, SASL and compression libraries it pulls in). Only the
 * types come from rdkafka.h; every function is called through the table
 * K, filled with dlsym(). A missing library or symbol is one error line
 * and a failed init.
 *
 * What goes where (PROTOCOL.md section 6), topics prefixed with
 * "<SW_KAFKA_NAMESPACE>-" when that is set:
 *   SegmentObject      -> skywalking-segments, key = the segment id
 *   InstanceProperties -> skywalking-managements, key "register-<instance>"
 *   InstancePingPkg    -> skywalking-managements, key "<instance>"
 * Values are plain protobuf (encode.c), one record per message.
 *
 * The producer is asynchronous: the calls only copy a record into
 * librdkafka's queue (RD_KAFKA_MSG_F_COPY) and never block. A full queue
 * drops the record and counts it. Delivery reports and errors are served
 * by poll(), from the reporter's tick, and are what segments_sent and
 * segments_dropped count; flush() waits for the queue at exit, up to the
 * deadline, and counts what is still undelivered as dropped.
 *
 * librdkafka's own threads must never be traced: an on_new interceptor
 * adds an on_thread_start interceptor, which marks each thread librdkafka
 * starts as the agent's (env->mark_thread) before it does anything.
 * librdkafka's log lines go to the agent's log at DEBUG only; errors reach
 * the reporter's rate-limited warning through poll(). */
#include "sw_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "encode.h"
#include "xport.h"

#define RDKAFKA_SONAME "librdkafka.so.1"
#define CONFIG_PREFIX "SW_KAFKA_REPORTER_CONFIG_"
#define TOPIC_MAX 300

/* msg_opaque of a record: what a delivery report is about. */
#define MSG_SEGMENT ((void *)1)
#define MSG_MANAGEMENT ((void *)2)

extern char **environ;

#define KAFKA_FUNCS(X)                        \
  X(rd_kafka_version_str)                     \
  X(rd_kafka_conf_new)                        \
  X(rd_kafka_conf_set)                        \
  X(rd_kafka_conf_destroy)                    \
  X(rd_kafka_conf_set_opaque)                 \
  X(rd_kafka_conf_set_dr_msg_cb)              \
  X(rd_kafka_conf_set_error_cb)               \
  X(rd_kafka_conf_set_log_cb)                 \
  X(rd_kafka_conf_interceptor_add_on_new)     \
  X(rd_kafka_interceptor_add_on_thread_start) \
  X(rd_kafka_new)                             \
  X(rd_kafka_topic_new)                       \
  X(rd_kafka_produce)                         \
  X(rd_kafka_poll)                            \
  X(rd_kafka_flush)                           \
  X(rd_kafka_outq_len)                        \
  X(rd_kafka_last_error)                      \
  X(rd_kafka_err2str)

/* The librdkafka functions in use, resolved once per process. */
static struct {
#define SW_KAFKA_DECL(f) __typeof__(f) *f;
  KAFKA_FUNCS(SW_KAFKA_DECL)
#undef SW_KAFKA_DECL
} K;
static void *K_handle;

struct kafka {
  struct sw_xport base;
  rd_kafka_t *rk;
  rd_kafka_topic_t *t_seg, *t_mgmt;
  struct sw_buf msg;
  struct sw_enc_ids ids; /* service and instance, encoded once */
  char reg_key[SW_NAME_MAX + 16];
  /* Updated by the delivery and error callbacks, which run inside
   * rd_kafka_poll() and rd_kafka_flush() on the reporter thread. */
  unsigned failures;
  uint64_t seg_inflight; /* segments queued, no delivery report yet */
};

/* The environment the thread-start interceptor marks threads with. One
 * per process, like the reporter. */
static const struct sw_reporter_env *thread_env;

static int
load_library(const struct sw_reporter_env *env)
{
  if (K_handle)
    return 0;
  void *h = dlopen(RDKAFKA_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    env->log(SW_LOG_ERROR, "reporter: cannot load %s (%s); Kafka reporting "
             "is off (install librdkafka1)", RDKAFKA_SONAME, dlerror());
    return -ENOENT;
  }
#define SW_KAFKA_SYM(f)                                                   \
  if (!(K.f = (__typeof__(f) *)dlsym(h, #f))) {                           \
    env->log(SW_LOG_ERROR, "reporter: %s has no %s (too old); Kafka "     \
             "reporting is off", RDKAFKA_SONAME, #f);                     \
    dlclose(h);                                                           \
    memset(&K, 0, sizeof(K));                                             \
    return -ENOSYS;                                                       \
  }
  KAFKA_FUNCS(SW_KAFKA_SYM)
#undef SW_KAFKA_SYM
  K_handle = h;
  return 0;
}

/* On every thread librdkafka starts, before the thread does anything. */
static rd_kafka_resp_err_t
on_thread_start(rd_kafka_t *rk, rd_kafka_thread_type_t type,
                const char *name, void *ic_opaque)
{
  const struct sw_reporter_env *env = ic_opaque;

  if (env && env->mark_thread)
    env->mark_thread();
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Interceptors on the client instance can only be added from on_new. */
static rd_kafka_resp_err_t
on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *ic_opaque,
       char *errstr, size_t errstr_size)
{
  return K.rd_kafka_interceptor_add_on_thread_start(rk, "swpreload",
                                                    on_thread_start,
                                                    ic_opaque);
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
  const struct sw_reporter_env *env = thread_env;

  if (env && env->cfg->log_level <= SW_LOG_DEBUG)
    env->log(SW_LOG_DEBUG, "reporter: librdkafka %s: %s", fac, buf);
}

static void
on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
  struct kafka *k = opaque;

  k->failures++;
  snprintf(k->base.err, sizeof(k->base.err), "kafka %s: %s",
           k->base.env->cfg->kafka_servers, reason);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
  struct kafka *k = opaque;
  struct sw_stats *st = k->base.env->stats;
  int seg = m->_private == MSG_SEGMENT;

  if (seg && k->seg_inflight > 0)
    k->seg_inflight--;
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (seg)
      atomic_fetch_add_explicit(&st->segments_sent, 1, memory_order_relaxed);
    return;
  }
  if (seg) {
    atomic_fetch_add_explicit(&st->segments_dropped, 1,
                              memory_order_relaxed);
    k->base.dropped_undelivered++;
  }
  k->failures++;
  snprintf(k->base.err, sizeof(k->base.err), "kafka delivery to %s: %s",
           seg ? "segments topic" : "management topic",
           K.rd_kafka_err2str(m->err));
}

/* Queues one record. 0, or a negative errno with the reason in err. */
static int
produce(struct kafka *k, rd_kafka_topic_t *t, const void *value,
        size_t value_len, const void *key, size_t key_len, void *what)
{
  rd_kafka_resp_err_t e;

  if (K.rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         (void *)value, value_len, key, key_len,
                         what) == 0) {
    if (what == MSG_SEGMENT)
      k->seg_inflight++;
    return 0;
  }
  e = K.rd_kafka_last_error();
  snprintf(k->base.err, sizeof(k->base.err), "kafka produce: %s",
           K.rd_kafka_err2str(e));
  return e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? -ENOBUFS : -EIO;
}

/* A segment encoded on arrival holds its record's key and value: one
 * byte, the key's length (a segment id is shorter than SW_ID_MAX), the
 * key, then the value. */
_Static_assert(SW_ID_MAX <= 256, "a segment id's length in one byte");

long
sw_xport_kafka_single(const struct sw_span_view *v,
                      const struct sw_enc_ids *ids, uint8_t *dst,
                      size_t room, struct sw_buf *out)
{
  size_t start = out->len, klen = v->segment_id.len;
  uint8_t kl = (uint8_t)klen;

  if (dst && room > 1 + klen) {
    uint8_t *o;

    dst[0] = kl;
    memcpy(dst + 1, v->segment_id.s, klen);
    o = sw_encode_single_put(dst + 1 + klen, dst + room, v, ids);
    if (SW_LIKELY(o != NULL))
      return (long)(o - dst);
  }
  if (sw_buf_append(out, &kl, 1) != 0 ||
      sw_buf_append(out, v->segment_id.s, klen) != 0 ||
      sw_encode_single_ids(out, v, ids) != 0) {
    out->len = start;
    return -ENOMEM;
  }
  return 0;
}

int
sw_xport_kafka_message(struct sw_buf *msg, const struct sw_seg *s,
                       const struct sw_enc_ids *ids, struct sw_xport_msg *m)
{
  if (s->enc) {
    m->key = s->enc + 1;
    m->key_len = s->enc[0];
    m->value = s->enc + 1 + m->key_len;
    m->value_len = s->enc_len - 1 - m->key_len;
    return 0;
  }
  sw_buf_reset(msg, (size_t)1 << 20);
  if (sw_encode_segment_ids(msg, s, ids) != 0)
    return -ENOMEM;
  m->key = s->n > 0 ? s->spans[0].segment_id : "";
  m->key_len = strlen(m->key);
  m->value = msg->data;
  m->value_len = msg->len;
  return 0;
}

static long
kafka_encode_single(struct sw_xport *x, const struct sw_span_view *v,
                    uint8_t *dst, size_t room, struct sw_buf *out)
{
  return sw_xport_kafka_single(v, &((struct kafka *)x)->ids, dst, room, out);
}

static int
kafka_send_segments(struct sw_xport *x, struct sw_seg *const *segs,
                    size_t n, int64_t deadline_ms)
{
  struct kafka *k = (struct kafka *)x;
  uint64_t dropped = 0;
  int rc = 0;

  for (size_t i = 0; i < n; i++) {
    struct sw_xport_msg m;
    int r;

    if (sw_xport_kafka_message(&k->msg, segs[i], &k->ids, &m) != 0) {
      snprintf(x->err, sizeof(x->err), "out of memory encoding segments");
      r = -ENOMEM;
    } else {
      r = produce(k, k->t_seg, m.value, m.value_len, m.key, m.key_len,
                  MSG_SEGMENT);
    }
    if (r != 0) {
      dropped++;
      if (r == -ENOBUFS)
        x->dropped_queue_full++;
      else
        x->dropped_undelivered++;
      rc = r;
    }
  }
  if (dropped)
    atomic_fetch_add_explicit(&x->env->stats->segments_dropped, dropped,
                              memory_order_relaxed);
  return rc;
}

static int
kafka_report_properties(struct sw_xport *x, const struct sw_props *p,
                        int64_t deadline_ms)
{
  struct kafka *k = (struct kafka *)x;
  const struct sw_config *cfg = x->env->cfg;

  sw_buf_reset(&k->msg, (size_t)1 << 20);
  if (sw_encode_properties(&k->msg, cfg->service, cfg->instance, p) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding properties");
    return -ENOMEM;
  }
  return produce(k, k->t_mgmt, k->msg.data, k->msg.len, k->reg_key,
                 strlen(k->reg_key), MSG_MANAGEMENT);
}

static int
kafka_keepalive(struct sw_xport *x, int64_t deadline_ms)
{
  struct kafka *k = (struct kafka *)x;
  const struct sw_config *cfg = x->env->cfg;

  sw_buf_reset(&k->msg, (size_t)1 << 20);
  if (sw_encode_ping(&k->msg, cfg->service, cfg->instance) != 0) {
    snprintf(x->err, sizeof(x->err), "out of memory encoding keepAlive");
    return -ENOMEM;
  }
  return produce(k, k->t_mgmt, k->msg.data, k->msg.len, cfg->instance,
                 strlen(cfg->instance), MSG_MANAGEMENT);
}

static int
kafka_poll(struct sw_xport *x)
{
  struct kafka *k = (struct kafka *)x;
  int n;

  K.rd_kafka_poll(k->rk, 0);
  n = (int)k->failures;
  k->failures = 0;
  return n;
}

static int
kafka_flush(struct sw_xport *x, int64_t deadline_ms)
{
  struct kafka *k = (struct kafka *)x;
  int64_t left = deadline_ms - sw_xport_now_ms();

  if (left > 0)
    K.rd_kafka_flush(k->rk, left > INT32_MAX ? INT32_MAX : (int)left);
  K.rd_kafka_poll(k->rk, 0);
  if (k->seg_inflight == 0 && K.rd_kafka_outq_len(k->rk) == 0)
    return 0;
  /* The process is exiting: what is still queued is lost. */
  atomic_fetch_add_explicit(&x->env->stats->segments_dropped, k->seg_inflight,
                            memory_order_relaxed);
  x->dropped_undelivered += k->seg_inflight;
  snprintf(x->err, sizeof(x->err), "kafka %s: %d record(s) undelivered at "
           "the exit deadline", x->env->cfg->kafka_servers,
           K.rd_kafka_outq_len(k->rk));
  k->seg_inflight = 0;
  return -ETIMEDOUT;
}

/* Freeing the producer would wait for its threads, and at exit nothing
 * needs it: close() is for a transport that was never used. */
static void
kafka_close(struct sw_xport *x)
{
  struct kafka *k = (struct kafka *)x;

  sw_buf_free(&k->msg);
  sw_enc_ids_free(&k->ids);
  free(k);
}

static int
conf_set(rd_kafka_conf_t *conf, const struct sw_reporter_env *env,
         const char *name, const char *value, const char *origin)
{
  char errstr[256];

  if (K.rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) ==
      RD_KAFKA_CONF_OK)
    return 0;
  env->log(SW_LOG_WARNING, "reporter: ignoring %s%s=%s: %s", origin, name,
           value, errstr);
  return -EINVAL;
}

/* SW_KAFKA_REPORTER_CONFIG_<property>=<value> from the environment, each
 * passed to librdkafka as is; "True" and "False" (the Python agent's
 * spelling) become "true" and "false". A property librdkafka rejects is
 * one warning, and skipped. */
static void
conf_from_environ(rd_kafka_conf_t *conf, const struct sw_reporter_env *env)
{
  size_t plen = strlen(CONFIG_PREFIX);

  for (char **e = environ; e && *e; e++) {
    const char *eq;
    char name[256];
    const char *value;

    if (strncmp(*e, CONFIG_PREFIX, plen) != 0)
      continue;
    eq = strchr(*e + plen, '=');
    if (!eq || eq == *e + plen || (size_t)(eq - *e - plen) >= sizeof(name))
      continue;
    sw_strlcpyn(name, sizeof(name), *e + plen, (size_t)(eq - *e - plen));
    value = eq + 1;
    if (strcmp(value, "True") == 0)
      value = "true";
    else if (strcmp(value, "False") == 0)
      value = "false";
    conf_set(conf, env, name, value, CONFIG_PREFIX);
  }
}

static void
topic_name(char *out, size_t cap, const char *ns, const char *topic)
{
  if (ns[0])
    snprintf(out, cap, "%s-%s", ns, topic);
  else
    snprintf(out, cap, "%s", topic);
}

struct sw_xport *
sw_xport_kafka_open(const struct sw_reporter_env *env)
{
  const struct sw_config *cfg = env->cfg;
  char errstr[512], seg_topic[TOPIC_MAX], mgmt_topic[TOPIC_MAX];
  rd_kafka_conf_t *conf;
  struct kafka *k;

  if (load_library(env) != 0)
    return NULL;
  k = calloc(1, sizeof(*k));
  if (!k)
    return NULL;
  k->base.name = "kafka";
  k->base.send_segments = kafka_send_segments;
  k->base.encode_single = kafka_encode_single;
  k->base.report_properties = kafka_report_properties;
  k->base.keepalive = kafka_keepalive;
  k->base.close = kafka_close;
  k->base.poll = kafka_poll;
  k->base.flush = kafka_flush;
  k->base.async = 1;
  k->base.env = env;
  snprintf(k->reg_key, sizeof(k->reg_key), "register-%s", cfg->instance);
  thread_env = env;
  if (sw_enc_ids_init(&k->ids, cfg->service, cfg->instance) != 0) {
    kafka_close(&k->base);
    return NULL;
  }

  conf = K.rd_kafka_conf_new();
  if (!conf) {
    kafka_close(&k->base);
    return NULL;
  }
  /* The defaults bound librdkafka's queue like the reporter's own (10000
   * records, 32 MB); the environment may override any of them. */
  conf_set(conf, env, "bootstrap.servers", cfg->kafka_servers,
           "SW_KAFKA_BOOTSTRAP_SERVERS: ");
  conf_set(conf, env, "client.id", "swpreload", "");
  conf_set(conf, env, "queue.buffering.max.messages", "10000", "");
  conf_set(conf, env, "queue.buffering.max.kbytes", "32768", "");
  conf_set(conf, env, "log.connection.close", "false", "");
  conf_from_environ(conf, env);
  K.rd_kafka_conf_set_opaque(conf, k);
  K.rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  K.rd_kafka_conf_set_error_cb(conf, on_error);
  K.rd_kafka_conf_set_log_cb(conf, on_log);
  if (K.rd_kafka_conf_interceptor_add_on_new(conf, "swpreload", on_new,
                                             (void *)env) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    env->log(SW_LOG_ERROR, "reporter: cannot add the librdkafka thread "
             "interceptor; Kafka reporting is off");
    K.rd_kafka_conf_destroy(conf);
    kafka_close(&k->base);
    return NULL;
  }
  /* On success rd_kafka_new() owns conf. */
  k->rk = K.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!k->rk) {
    env->log(SW_LOG_ERROR, "reporter: librdkafka producer: %s", errstr);
    K.rd_kafka_conf_destroy(conf);
    kafka_close(&k->base);
    return NULL;
  }
  topic_name(seg_topic, sizeof(seg_topic), cfg->kafka_namespace,
             cfg->kafka_topic_segment);
  topic_name(mgmt_topic, sizeof(mgmt_topic), cfg->kafka_namespace,
             cfg->kafka_topic_management);
  k->t_seg = K.rd_kafka_topic_new(k->rk, seg_topic, NULL);
  k->t_mgmt = K.rd_kafka_topic_new(k->rk, mgmt_topic, NULL);
  if (!k->t_seg || !k->t_mgmt) {
    /* The producer and its threads stay: destroying it could block. */
    env->log(SW_LOG_ERROR, "reporter: librdkafka topics %s, %s: %s",
             seg_topic, mgmt_topic,
             K.rd_kafka_err2str(K.rd_kafka_last_error()));
    kafka_close(&k->base);
    return NULL;
  }
  env->log(SW_LOG_DEBUG, "reporter: librdkafka %s, topics %s and %s",
           K.rd_kafka_version_str(), seg_topic, mgmt_topic);
  return &k->base;
}
