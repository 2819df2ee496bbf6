/* reporter_driver.c: drives libswreporter.so the way the preload object's
 * reporter thread does, without the preload object.
 *
 *   reporter_driver [-n SEGMENTS] [-c CHUNK] [-p PAUSE_MS] [-w WAIT_MS] [-f]
 *                   LIB.so
 *
 * It dlopen()s LIB.so, builds the environment from a few variables
 * (SW_AGENT_NAME, SW_AGENT_INSTANCE_NAME, SW_AGENT_NAMESPACE,
 * SW_AGENT_COLLECTOR_BACKEND_SERVICES, SW_AGENT_AUTHENTICATION,
 * SW_AGENT_FORCE_TLS, SW_AGENT_FLUSH_TIMEOUT_MS,
 * SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD, SW_AGENT_LOGGING_LEVEL), and feeds
 * SEGMENTS fabricated segments through consume() in chunks of CHUNK
 * records, calling tick() after each chunk (and, with -p, ticking
 * for PAUSE_MS between chunks, to spread the load over time). Each
 * segment is an Entry root (span 0, with a CrossProcess ref on every
 * other segment) plus one Exit child (span 1), pushed child first as
 * the ring would deliver them. It
 * then keeps ticking until every segment is sent or dropped, or WAIT_MS
 * passes, and calls flush() with the flush timeout as deadline. With -f it
 * skips the ticks and goes straight to flush().
 *
 * At the end it prints "name=value" lines on stdout: every stats counter,
 * plus feed_ms (time to feed and send) and flush_ms (time spent in
 * flush). Exit status 0, or 2 on a usage or load error. */
#define _GNU_SOURCE 1

#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../../preload/sw_reporter_api.h"

static enum sw_log_level log_level = SW_LOG_INFO;

static const char *level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

static void
drv_log(enum sw_log_level level, const char *fmt, ...)
{
  va_list ap;
  char line[1024];

  if (level < log_level || level >= SW_LOG_OFF)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(stderr, "sw[%d]: %s: %s\n", (int)getpid(), level_names[level],
          line);
}

static int64_t
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

  nanosleep(&ts, NULL);
}

static const char *
env_or(const char *name, const char *def)
{
  const char *v = getenv(name);

  return v && *v ? v : def;
}

static void
copy(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src);
}

static void
build_config(struct sw_config *cfg)
{
  const char *lvl = env_or("SW_AGENT_LOGGING_LEVEL", "INFO");
  const char *ns = env_or("SW_AGENT_NAMESPACE", "");
  char host[128];

  memset(cfg, 0, sizeof(*cfg));
  gethostname(host, sizeof(host));
  host[sizeof(host) - 1] = '\0';
  if (*ns)
    snprintf(cfg->service, sizeof(cfg->service), "%s|%s",
             env_or("SW_AGENT_NAME", "reporter-driver"), ns);
  else
    copy(cfg->service, sizeof(cfg->service),
         env_or("SW_AGENT_NAME", "reporter-driver"));
  if (getenv("SW_AGENT_INSTANCE_NAME") && *getenv("SW_AGENT_INSTANCE_NAME")) {
    copy(cfg->instance, sizeof(cfg->instance),
         getenv("SW_AGENT_INSTANCE_NAME"));
  } else {
    snprintf(cfg->instance, sizeof(cfg->instance), "%d@%.40s",
             (int)getpid(), host);
    cfg->instance_is_default = 1;
  }
  copy(cfg->namespace_, sizeof(cfg->namespace_), ns);
  copy(cfg->backend, sizeof(cfg->backend),
       env_or("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "127.0.0.1:11800"));
  cfg->protocol = SW_PROTO_GRPC;
  cfg->force_tls = strcmp(env_or("SW_AGENT_FORCE_TLS", "false"), "true") == 0;
  copy(cfg->authentication, sizeof(cfg->authentication),
       env_or("SW_AGENT_AUTHENTICATION", ""));
  cfg->heartbeat_period_s =
      atoi(env_or("SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "30"));
  cfg->properties_factor = 10;
  cfg->flush_timeout_ms = atoi(env_or("SW_AGENT_FLUSH_TIMEOUT_MS", "5000"));
  cfg->queue_timeout_ms = 1000;
  if (strcasecmp(lvl, "DEBUG") == 0)
    cfg->log_level = SW_LOG_DEBUG;
  else if (strcasecmp(lvl, "WARNING") == 0 || strcasecmp(lvl, "WARN") == 0)
    cfg->log_level = SW_LOG_WARNING;
  else if (strcasecmp(lvl, "ERROR") == 0)
    cfg->log_level = SW_LOG_ERROR;
  else
    cfg->log_level = SW_LOG_INFO;
  log_level = cfg->log_level;
}

/* Segment i: an entry root and an exit child. Ids are derived from i so a
 * test can predict them. */
static void
fabricate(struct sw_span_rec *child, struct sw_span_rec *root, int i,
          int64_t t0)
{
  char trace[SW_ID_MAX], seg[SW_ID_MAX];

  snprintf(trace, sizeof(trace), "drvtrace%024d", i);
  snprintf(seg, sizeof(seg), "drvseg%026d", i);

  memset(root, 0, sizeof(*root));
  copy(root->trace_id, sizeof(root->trace_id), trace);
  copy(root->segment_id, sizeof(root->segment_id), seg);
  root->span_id = 0;
  root->parent_span_id = -1;
  root->nspans = 2;
  root->kind = SW_SPAN_ENTRY;
  root->layer = SW_LAYER_HTTP;
  root->component = SW_COMPONENT_HTTP;
  root->status = (i % 5 == 4) ? 500 : 200;
  root->is_error = root->status >= 500;
  root->start_ms = t0;
  root->end_ms = t0 + 7;
  copy(root->method, sizeof(root->method), "GET");
  snprintf(root->op, sizeof(root->op), "/api/items/%d", i % 10);
  snprintf(root->url, sizeof(root->url),
           "http://127.0.0.1:8080/api/items/%d?q=%d", i % 10, i);
  copy(root->peer, sizeof(root->peer), "127.0.0.1:50000");
  if (root->is_error)
    copy(root->errlog, sizeof(root->errlog), "upstream failed");
  if (i % 2 == 1) {
    root->has_ref = 1;
    snprintf(root->ref.trace_id, sizeof(root->ref.trace_id), "%s", trace);
    snprintf(root->ref.parent_segment_id,
             sizeof(root->ref.parent_segment_id), "drvparent%023d", i);
    root->ref.parent_span_id = 3;
    copy(root->ref.parent_service, sizeof(root->ref.parent_service),
         "upstream-svc");
    copy(root->ref.parent_instance, sizeof(root->ref.parent_instance),
         "upstream-1");
    copy(root->ref.parent_endpoint, sizeof(root->ref.parent_endpoint),
         "/front");
    copy(root->ref.peer, sizeof(root->ref.peer), "127.0.0.1:8080");
  }

  memset(child, 0, sizeof(*child));
  copy(child->trace_id, sizeof(child->trace_id), trace);
  copy(child->segment_id, sizeof(child->segment_id), seg);
  child->span_id = 1;
  child->parent_span_id = 0;
  child->kind = SW_SPAN_EXIT;
  child->layer = SW_LAYER_HTTP;
  child->component = SW_COMPONENT_HTTPCLIENT;
  child->status = root->status;
  child->is_error = root->is_error;
  child->start_ms = t0 + 2;
  child->end_ms = t0 + 5;
  copy(child->method, sizeof(child->method), "POST");
  copy(child->op, sizeof(child->op), "/backend");
  copy(child->url, sizeof(child->url), "http://10.0.0.2:9000/backend");
  copy(child->peer, sizeof(child->peer), "10.0.0.2:9000");
}

/* Ticks as the preload's reporter thread would, for ms milliseconds
 * (at least once). */
static void
tick_for(const struct sw_reporter_ops *ops, int ms)
{
  int64_t until = now_ms() + ms;

  for (;;) {
    int w = ops->tick(now_ms());
    int64_t left = until - now_ms();
    if (left <= 0)
      return;
    if (w > left)
      w = (int)left;
    sleep_ms(w < 1 ? 1 : w > 50 ? 50 : w);
  }
}

static void
usage(void)
{
  fprintf(stderr, "usage: reporter_driver [-n SEGMENTS] [-c CHUNK] "
                  "[-p PAUSE_MS] [-w WAIT_MS] [-f] LIB.so\n");
}

int
main(int argc, char **argv)
{
  int nseg = 10, chunk = 64, wait_ms = 30000, flush_only = 0, pause = 0;
  struct sw_config cfg;
  static struct sw_stats stats;
  struct sw_reporter_env env = {0};
  const struct sw_reporter_ops *ops;
  sw_reporter_entry_fn entry;
  struct sw_span_rec *recs;
  struct sw_span_packed *packed;
  const struct sw_span_packed **ptrs;
  char host[128];
  void *lib;
  int64_t t0, t_fed, t_flush, t_end;
  int opt, n = 0, i;

  while ((opt = getopt(argc, argv, "n:c:p:w:f")) != -1) {
    switch (opt) {
    case 'n':
      nseg = atoi(optarg);
      break;
    case 'c':
      chunk = atoi(optarg);
      break;
    case 'p':
      pause = atoi(optarg);
      break;
    case 'w':
      wait_ms = atoi(optarg);
      break;
    case 'f':
      flush_only = 1;
      break;
    default:
      usage();
      return 2;
    }
  }
  if (optind != argc - 1 || nseg < 0 || chunk <= 0) {
    usage();
    return 2;
  }
  lib = dlopen(argv[optind], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "reporter_driver: %s\n", dlerror());
    return 2;
  }
  entry = (sw_reporter_entry_fn)dlsym(lib, SW_REPORTER_ENTRY);
  if (!entry) {
    fprintf(stderr, "reporter_driver: %s\n", dlerror());
    return 2;
  }
  ops = entry();
  if (!ops || ops->version != SW_REPORTER_API_VERSION) {
    fprintf(stderr, "reporter_driver: API version mismatch\n");
    return 2;
  }

  build_config(&cfg);
  gethostname(host, sizeof(host));
  host[sizeof(host) - 1] = '\0';
  env.cfg = &cfg;
  env.stats = &stats;
  env.log = drv_log;
  env.pid = (int)getpid();
  env.hostname = host;
  if (ops->init(&env) != 0) {
    fprintf(stderr, "reporter_driver: init failed\n");
    return 2;
  }

  recs = calloc((size_t)chunk + 1, sizeof(*recs));
  packed = calloc((size_t)chunk + 1, sizeof(*packed));
  ptrs = calloc((size_t)chunk + 1, sizeof(*ptrs));
  if (!recs || !packed || !ptrs)
    return 2;
  t0 = now_ms();
  for (i = 0; i < nseg; i++) {
    fabricate(&recs[n], &recs[n + 1], i, t0 + i);
    n += 2;
    if (n + 1 >= chunk || i == nseg - 1) {
      /* Packed, as the ring hands them over. */
      for (int k = 0; k < n; k++) {
        sw_span_pack(&packed[k], &recs[k]);
        ptrs[k] = &packed[k];
      }
      ops->consume(ptrs, (size_t)n, now_ms());
      n = 0;
      if (!flush_only)
        tick_for(ops, pause);
    }
  }
  if (!flush_only) {
    int64_t until = now_ms() + wait_ms;
    for (;;) {
      uint64_t done = atomic_load(&stats.segments_sent) +
                      atomic_load(&stats.segments_dropped);
      int w;
      if (done >= (uint64_t)nseg || now_ms() >= until)
        break;
      w = ops->tick(now_ms());
      sleep_ms(w < 1 ? 1 : w > 50 ? 50 : w);
    }
  }
  t_fed = now_ms();
  t_flush = now_ms();
  ops->flush(t_flush + cfg.flush_timeout_ms);
  t_end = now_ms();

#define PRINT_STAT(name) \
  printf(#name "=%" PRIu64 "\n", (uint64_t)atomic_load(&stats.name));
  SW_STATS_FIELDS(PRINT_STAT)
#undef PRINT_STAT
  printf("segments=%d\n", nseg);
  printf("feed_ms=%" PRId64 "\n", t_fed - t0);
  printf("flush_ms=%" PRId64 "\n", t_end - t_flush);
  free(recs);
  free(packed);
  free(ptrs);
  return 0;
}
