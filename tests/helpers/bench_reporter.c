/* bench_reporter.c: the real span ring and the real reporter thread, fed
 * at a fixed rate by a synthetic producer.
 *
 *   bench_reporter [-r SPANS_PER_S] [-d SECONDS] [-w DRAIN_S] LIBDIR
 *
 * The preload object's own sources for the ring, the reporter thread,
 * ids, stats, log and config are compiled into this program (included
 * below), so what runs is exactly the product's producer and consumer
 * path: sw_sink_span() pushes into the ring and wakes the reporter; the
 * reporter thread pops batches, dlopen()s LIBDIR/libswreporter.so and
 * sends over the configured transport (environment: SW_AGENT_* as for the
 * preload object). Only the hooks and the HTTP state machine are left
 * out: each record is a finished entry span that is its own segment, as a
 * server's request is.
 *
 * With -r N the producer offers N spans/s for SECONDS through
 * sw_sink_span(): a full ring drops and counts, as in a traced process.
 * With -r 0 it pushes as fast as the reporter drains: when the ring is
 * full it waits 1 ms and tries again (nothing is dropped at the ring), so
 * the figure is what one reporter thread can send per second.
 * Afterwards it waits up to DRAIN_S (default 10) for every span to be
 * sent or counted dropped, then flushes as at exit.
 *
 * Prints name=value lines: offered, pushed, dropped_ring, segments_sent,
 * segments_dropped, backend_errors, ring_cap, ring_max_used (the highest
 * fill level the producer saw after a push, with -r N), produce_s,
 * drain_s, sent_per_s (spans sent per second of wall time, producing
 * plus draining), reporter_cpu_s and reporter_cpu_us_per_span (CPU of every thread but
 * the producer's, i.e. the reporter thread and anything libcurl starts). */

/* The product's sources: one translation unit, so their file-local
 * helpers (pushed_one) are reachable here. */
#include "../../preload/sw_config.c"
#include "../../preload/sw_log.c"
#include "../../preload/sw_stats.c"
#include "../../preload/trace.c"
#include "../../preload/ring.c"
#include "../../preload/fdtable.c"
#include "../../preload/reporter_thread.c"

#include <getopt.h>
#include <inttypes.h>

__thread int sw_tls_busy __attribute__((tls_model("initial-exec")));

static double
now_s(clockid_t clk)
{
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
bench_env_get(const char *name, void *ud)
{
  (void)ud;
  return getenv(name);
}

static void
bench_env_warn(const char *name, const char *value, const char *used,
               void *ud)
{
  (void)ud;
  fprintf(stderr, "bench_reporter: %s=%s is not valid; using %s\n", name,
          value, used);
}

/* A served request's entry span, as conn.c would finish it. */
static void
fabricate(struct sw_span_rec *s, uint64_t i)
{
  int64_t now = sw_now_ms();
  memset(s, 0, sizeof(*s));
  sw_trace_new_id(s->trace_id);
  sw_trace_new_id(s->segment_id);
  s->span_id = 0;
  s->parent_span_id = -1;
  s->nspans = 1;
  s->kind = SW_SPAN_ENTRY;
  s->layer = SW_LAYER_HTTP;
  s->component = SW_COMPONENT_HTTP;
  s->status = 200;
  s->start_ms = now - 1;
  s->end_ms = now;
  sw_strlcpy(s->method, "GET", sizeof(s->method));
  snprintf(s->op, sizeof(s->op), "/api/items/%u", (unsigned)(i % 10));
  snprintf(s->url, sizeof(s->url), "http://127.0.0.1:8080/api/items/%u?q=%u",
           (unsigned)(i % 10), (unsigned)(i % 1000));
  sw_strlcpy(s->peer, "127.0.0.1:50000", sizeof(s->peer));
}

/* The ring's fill level in lines as the one producer sees it: head and
 * tail read with no release between them (sw_ring_used() may mix two
 * moments when this thread is preempted between its loads). It never
 * exceeds the capacity: a producer reserves lines only below the tail it
 * read plus the capacity. */
static uint64_t
ring_fill(void)
{
  for (;;) {
    uint64_t t = atomic_load_explicit(&ring.tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&ring.head, memory_order_acquire);
    if (atomic_load_explicit(&ring.tail, memory_order_acquire) == t)
      return h - t;
  }
}

static void
sleep_ns(long ns)
{
  struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
  nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
  double rate = 50000, secs = 5, drain_cap = 10;
  int opt;
  while ((opt = getopt(argc, argv, "r:d:w:")) != -1) {
    if (opt == 'r')
      rate = atof(optarg);
    else if (opt == 'd')
      secs = atof(optarg);
    else if (opt == 'w')
      drain_cap = atof(optarg);
    else
      goto usage;
  }
  if (optind != argc - 1 || rate < 0 || secs <= 0)
    goto usage;

  static struct sw_config cfg;
  char hostname[256];
  if (gethostname(hostname, sizeof(hostname) - 1) != 0)
    sw_strlcpy(hostname, "localhost", sizeof(hostname));
  sw_config_parse(&cfg, bench_env_get, bench_env_warn, NULL, "bench_reporter",
                  (int)getpid(), hostname);
  sw_log_set_level(cfg.log_level);
  sw_trace_init((uint64_t)getpid() << 20 ^ (uint64_t)time(NULL));
  if (sw_reporter_setup(&cfg, argv[optind], hostname) != 0) {
    fprintf(stderr, "bench_reporter: cannot set up the ring\n");
    return 2;
  }
  /* What the first tracked connection does: load the reporter, start
   * the thread. */
  sw_sink_first_conn();
  if (!ops_ready) {
    fprintf(stderr, "bench_reporter: the reporter did not load\n");
    return 2;
  }

  struct sw_span_rec rec;
  uint64_t pushed = 0, offered = 0, max_used = 0;
  double cpu0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
  double me0 = now_s(CLOCK_THREAD_CPUTIME_ID);
  double t0 = now_s(CLOCK_MONOTONIC), t = t0;
  while ((t = now_s(CLOCK_MONOTONIC)) - t0 < secs) {
    if (rate > 0) {
      /* Catch up with the schedule, then sleep about a millisecond. */
      uint64_t due = (uint64_t)((t - t0) * rate);
      while (offered < due) {
        fabricate(&rec, offered);
        uint64_t before = SW_STAT_GET(spans_dropped_ring);
        sw_sink_span(&rec);
        offered++;
        if (SW_STAT_GET(spans_dropped_ring) == before)
          pushed++;
        uint64_t used = ring_fill();
        if (used > max_used)
          max_used = used;
      }
      sleep_ns(1000000L);
    } else {
      fabricate(&rec, offered);
      if (sw_ring_push(&ring, &rec) == 0) {
        SW_STAT_INC(spans_created);
        offered++;
        pushed++;
        pushed_one();
      } else {
        sleep_ns(1000000L);
      }
    }
  }
  double t_prod = now_s(CLOCK_MONOTONIC);
  /* Drain: every pushed span sent or counted dropped by the reporter. */
  for (;;) {
    uint64_t done = SW_STAT_GET(segments_sent) + SW_STAT_GET(segments_dropped);
    if (done >= pushed || now_s(CLOCK_MONOTONIC) - t_prod > drain_cap)
      break;
    sleep_ns(1000000L);
  }
  double t_end = now_s(CLOCK_MONOTONIC);
  double rep_cpu = (now_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0) -
                   (now_s(CLOCK_THREAD_CPUTIME_ID) - me0);
  uint64_t sent = SW_STAT_GET(segments_sent);

  printf("offered_rate=%.0f\n", rate);
  printf("offered=%" PRIu64 "\n", offered);
  printf("pushed=%" PRIu64 "\n", pushed);
  printf("dropped_ring=%" PRIu64 "\n", (uint64_t)SW_STAT_GET(spans_dropped_ring));
  printf("segments_sent=%" PRIu64 "\n", sent);
  printf("segments_dropped=%" PRIu64 "\n",
         (uint64_t)SW_STAT_GET(segments_dropped));
  printf("backend_errors=%" PRIu64 "\n", (uint64_t)SW_STAT_GET(backend_errors));
  printf("ring_cap=%" PRIu64 "\n", (uint64_t)sw_ring_cap(&ring));
  printf("ring_max_used=%" PRIu64 "\n", max_used);
  printf("produce_s=%.3f\n", t_prod - t0);
  printf("drain_s=%.3f\n", t_end - t_prod);
  printf("sent_per_s=%.0f\n", (double)sent / (t_end - t0));
  printf("reporter_cpu_s=%.3f\n", rep_cpu);
  printf("reporter_cpu_us_per_span=%.3f\n",
         sent ? rep_cpu * 1e6 / (double)sent : 0.0);
  fflush(stdout);
  sw_reporter_flush_at_exit();
  return 0;

usage:
  fprintf(stderr,
          "usage: bench_reporter [-r SPANS_PER_S] [-d SECONDS] [-w DRAIN_S] "
          "LIBDIR\n");
  return 2;
}
