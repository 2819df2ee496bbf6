/* reporter_thread.c: the span ring and the one thread that drains it.
 *
 * Producers (hooks) push finished spans into the ring and wake the
 * reporter with a futex (async-signal-safe) only when it needs it: when it
 * sleeps idle, on the first span; when it naps while data flows (letting
 * a batch accumulate), once the ring passes a quarter full. Under load
 * that is one load of the futex word per span and no syscall. The thread is
 * started on the first tracked connection, not in the constructor, so a
 * process that never accepts or connects (sh, ls, sed...) never gets an
 * extra thread (see README, "When the reporter thread starts").
 *
 * On the first data the thread dlopen()s libswreporter.so from the
 * directory of this object: libcurl, protobuf-c and friends are mapped only
 * into processes that have something to send. The thread sets the hook
 * guard for its whole life, so its own I/O is never traced. A call of the
 * reporter's that waits on the network for long calls back into drain()
 * (sw_reporter_env.drain), so that the ring keeps emptying meanwhile. */
#include "sw_common.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "fdtable.h"
#include "ring.h"
#include "sw_futex.h"
#include "sw_guard.h"
#include "sw_log.h"
#include "sw_reporter_api.h"
#include "sw_runtime.h"
#include "sw_stats.h"
#include "trace.h"

#define BATCH 256       /* records handed over between two looks at tick() */
/* While data flows: batch for this long. A producer ends the nap early
 * when the ring passes a quarter full, so the length only decides how
 * often the reporter wakes at rates that do not fill that in it: each
 * wake-up costs the reporter more than draining what accumulated (at 50k
 * spans/s, 0.80 µs per span with 20 ms naps, 0.63 with 100 ms). */
#define BUSY_NAP_MS 100
#define STATS_PERIOD_MS 60000

static struct sw_ring ring;
static const struct sw_config *rcfg;
static char libpath[PATH_MAX];
static char host[256];

static _Atomic int thread_started;
/* The process whose reporter thread thread_started speaks of. A child
 * made without the fork handler (raw clone(), _Fork()) or a vfork child
 * that calls exit() inherits thread_started without the thread: its exit
 * must neither wait for a thread that is not there nor, sharing memory
 * with its parent, ask the parent's to stop. */
static _Atomic pid_t thread_pid;
/* The futex word the reporter sleeps on: what it is doing, and so what
 * a producer has to do after a push. */
enum {
  REP_AWAKE = 0, /* draining or sending: nothing */
  REP_IDLE = 1,  /* asleep with an empty ring: wake it */
  REP_NAP = 2,   /* napping while data flows: wake it at ring_wake */
};
static _Atomic uint32_t sleeping;
/* The fill level that ends a nap, in lines: a quarter of the ring. A
 * served request's record takes 4 lines, so that is about as many
 * records per wake-up as half the configured capacity (the ring has 8
 * lines per record of it: 2,048 by default), and leaves three quarters
 * of the ring for what arrives while the reporter wakes and drains. */
static uint64_t ring_wake;
static _Atomic int flush_req;
static _Atomic int64_t flush_deadline;
static _Atomic uint32_t flush_done;

static const struct sw_reporter_ops *ops;
static int ops_ready; /* init() succeeded in this process */
static int load_failed;
/* Reporter thread only: records are being handed to consume() (a drain
 * lent to the reporter must not deliver the same run again), and the exit
 * flush has started (the lent drain does nothing more). */
static int delivering;
static int lend_off;

/* Wakes the reporter whatever it sleeps for. */
static void
wake_reporter(void)
{
  /* Pairs with the seq_cst stores that announce a sleep (nap() and the
   * idle path of reporter_main()): a producer that sees a sleep announced
   * owns the wake-up (the exchange makes it one syscall however many
   * producers see it); one that sees REP_AWAKE knows the reporter will
   * look at the ring again before it sleeps. */
  if (atomic_load_explicit(&sleeping, memory_order_seq_cst) != REP_AWAKE &&
      atomic_exchange_explicit(&sleeping, REP_AWAKE, memory_order_seq_cst) !=
          REP_AWAKE)
    sw_futex(&sleeping, FUTEX_WAKE, 1, NULL);
}

/* After a successful push: wakes the reporter if it needs it. One load
 * while it is awake; the fill level too only while it naps. (seq_cst: a
 * plain load on x86, see wake_reporter().) */
static inline void
pushed_one(void)
{
  uint32_t s = atomic_load_explicit(&sleeping, memory_order_seq_cst);

  if (SW_LIKELY(s == REP_AWAKE))
    return;
  if (s == REP_NAP && sw_ring_used(&ring) < ring_wake)
    return;
  if (atomic_exchange_explicit(&sleeping, REP_AWAKE, memory_order_seq_cst) !=
      REP_AWAKE)
    sw_futex(&sleeping, FUTEX_WAKE, 1, NULL);
}

void
sw_sink_span(const struct sw_span_rec *rec)
{
  SW_STAT_INC(spans_created);
  if (SW_UNLIKELY(sw_ring_push(&ring, rec) != 0)) {
    SW_STAT_INC(spans_dropped_ring);
    return;
  }
  pushed_one();
}

static void
log_fn(enum sw_log_level level, const char *fmt, ...)
{
  char buf[900];
  va_list ap;
  if (!sw_log_enabled(level))
    return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  sw_log(level, "%s", buf);
}

static void
mark_thread(void)
{
  sw_tls_busy = 1;
}

static size_t drain(size_t max);

/* What the reporter calls while a transport waits on the network (see
 * sw_reporter_api.h): the ring keeps emptying during a slow call. At most
 * one ring's worth (a record takes 2 lines at least), so that producers
 * faster than the reporter cannot keep it here. */
static size_t
drain_lent(size_t max)
{
  size_t ring_recs = (size_t)(sw_ring_cap(&ring) / 2);

  if (delivering || lend_off)
    return 0;
  return drain(max < ring_recs ? max : ring_recs);
}

static void
load_reporter(void)
{
  static struct sw_reporter_env env;
  if (!ops) {
    void *h = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    sw_reporter_entry_fn entry =
        h ? (sw_reporter_entry_fn)dlsym(h, SW_REPORTER_ENTRY) : NULL;
    ops = entry ? entry() : NULL;
    if (!ops || ops->version != SW_REPORTER_API_VERSION) {
      sw_log(SW_LOG_ERROR, "cannot load %s (%s): tracing data is dropped",
             libpath, h ? "bad entry point" : dlerror());
      ops = NULL;
      load_failed = 1;
      return;
    }
  }
  env.cfg = rcfg;
  env.stats = &sw_stats;
  env.log = log_fn;
  env.pid = (int)getpid();
  env.hostname = host;
  env.mark_thread = mark_thread;
  env.drain = drain_lent;
  int rc = ops->init(&env);
  if (rc != 0) {
    sw_log(SW_LOG_ERROR, "reporter init failed (%d): tracing data is dropped",
           rc);
    load_failed = 1;
    return;
  }
  ops_ready = 1;
}

static void
log_stats(void)
{
  if (!sw_log_enabled(SW_LOG_DEBUG))
    return;
  char buf[700];
  size_t n = 0;
#define SW_STATS_FMT(name)                                              \
  n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, \
                        " " #name "=%llu",                             \
                        (unsigned long long)SW_STAT_GET(name));
  SW_STATS_FIELDS(SW_STATS_FMT)
#undef SW_STATS_FMT
  sw_log(SW_LOG_DEBUG, "stats:%s", buf);
}

/* Hands records to the reporter, packed and read in place in the ring,
 * or counts them dropped without one. */
static void
deliver(const struct sw_span_packed *const *recs, size_t n, int64_t now)
{
  if (ops_ready) {
    delivering = 1;
    ops->consume(recs, n, now);
    delivering = 0;
  } else
    SW_STAT_ADD(spans_dropped_ring, n);
}

/* Delivers up to max committed records (in runs of up to BATCH) and
 * gives their lines back. Returns how many. */
static size_t
drain(size_t max)
{
  const struct sw_span_packed *recs[BATCH];
  size_t n, total = 0;
  int64_t now = 0;

  while (total < max &&
         (n = sw_ring_peek(&ring, recs,
                           max - total < BATCH ? max - total : BATCH)) > 0) {
    if (now == 0)
      now = sw_now_ms();
    deliver(recs, n, now);
    sw_ring_release(&ring, n);
    total += n;
  }
  return total;
}

static void
futex_sleep(uint32_t state, int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

  sw_futex(&sleeping, FUTEX_WAIT, state, &ts);
  atomic_store_explicit(&sleeping, REP_AWAKE, memory_order_seq_cst);
}

/* While data flows: lets a batch accumulate for up to ms, on the futex,
 * so that a producer can end the nap when the ring passes a quarter full
 * (a nanosleep could not be cut short, and on a busy machine a 20 ms one
 * was seen to last 100 to 300 ms, long enough to fill the ring). */
static void
nap(int ms)
{
  atomic_store_explicit(&sleeping, REP_NAP, memory_order_seq_cst);
  /* After the announcement: a producer that missed it has its claim in
   * head already (seq_cst on both sides, see ring.c [P2]). */
  if (sw_ring_used(&ring) >= ring_wake ||
      atomic_load_explicit(&flush_req, memory_order_seq_cst)) {
    atomic_store_explicit(&sleeping, REP_AWAKE, memory_order_seq_cst);
    return;
  }
  futex_sleep(REP_NAP, ms);
}

static void *
reporter_main(void *arg)
{
  sw_tls_busy = 1; /* never cleared: nothing this thread does is traced */
  sw_fdt_reporter(arg); /* first: the application's thread waits for it */
  /* Named, so that top -H, ps -L and /proc tell it from the app's own. */
  pthread_setname_np(pthread_self(), "sw-reporter");
  int64_t next_stats = sw_now_ms() + STATS_PERIOD_MS;
  for (;;) {
    size_t n = drain(BATCH);
    int64_t now = sw_now_ms();
    if (atomic_load_explicit(&flush_req, memory_order_acquire)) {
      while (drain(BATCH) > 0)
        ;
      /* What is pushed from now on stays in the ring, as before the
       * flush: the flush sends what the reporter holds. */
      lend_off = 1;
      if (ops_ready)
        ops->flush(atomic_load_explicit(&flush_deadline,
                                        memory_order_relaxed));
      log_stats();
      /* Pairs with the acquire load in sw_reporter_flush_at_exit(). */
      atomic_store_explicit(&flush_done, 1, memory_order_release);
      sw_futex(&flush_done, FUTEX_WAKE, 1, NULL);
      break;
    }
    /* Tick after every batch, also while full batches keep coming: the
     * ring and the queue of finished segments take turns, so neither
     * overflows while the other is served. A tick with nothing due costs
     * a few comparisons; the reporter batches its calls by itself,
     * however often it is ticked. */
    int want = ops_ready ? ops->tick(now) : 1000;
    int again = want <= 0; /* more to send at once */
    if (want < 1)
      want = 1;
    if (want > 1000)
      want = 1000;
    if (now >= next_stats) {
      log_stats();
      next_stats = now + STATS_PERIOD_MS;
    }
    if (n == BATCH || again)
      continue; /* more is waiting */
    if (n > 0) {
      /* Data is flowing: let it accumulate instead of waking per span. */
      nap(want < BUSY_NAP_MS ? want : BUSY_NAP_MS);
      continue;
    }
    /* Idle. Announce the sleep, then look once more (a producer may have
     * pushed before it could see the announcement). */
    atomic_store_explicit(&sleeping, REP_IDLE, memory_order_seq_cst);
    n = drain(BATCH);
    if (n > 0 || atomic_load_explicit(&flush_req, memory_order_acquire)) {
      atomic_store_explicit(&sleeping, REP_AWAKE, memory_order_seq_cst);
      continue;
    }
    /* A producer between claim and commit when it read the word may have
     * missed the announcement: look again soon rather than in want ms. */
    futex_sleep(REP_IDLE, sw_ring_used(&ring) > 0 ? 1 : want);
  }
  return NULL;
}

/* Runs at the start of exit() processing (see sw_sink_first_conn). */
static void
flush_atexit(void)
{
  sw_tls_busy++;
  sw_reporter_flush_at_exit();
  sw_tls_busy--;
}

void
sw_sink_first_conn(void)
{
  if (atomic_exchange_explicit(&thread_started, 1, memory_order_acq_rel))
    return;
  atomic_store_explicit(&thread_pid, getpid(), memory_order_relaxed);
  /* The reporter is loaded and initialised here, on the application
   * thread that makes the first tracked connection, and not on the
   * reporter thread: libcurl shares OpenSSL with the application, and a
   * reporter thread initialising it while the application exits races
   * with OpenSSL's own atexit() cleanup (seen with the curl tool). On
   * this thread the two can never overlap. The atexit() handler
   * registered right after libcurl's initialisation runs before the
   * cleanup handlers registered earlier (atexit is LIFO), so the exit
   * flush still has a working libcurl. The cost, once per process that
   * uses the network, is loading libcurl (a few milliseconds). */
  /* The reporter thread takes an fd table of its own when it can
   * (fdtable.h): the fds init() makes here are noted to move there. */
  static struct sw_fdt fdt;
  int own_table = sw_fdt_before(&fdt) == 0;
  if (!ops_ready && !load_failed) {
    load_reporter();
    static int atexit_done;
    if (ops_ready && !atexit_done) {
      atexit_done = 1;
      atexit(flush_atexit);
    }
  }
  if (own_table)
    own_table = sw_fdt_after(&fdt) == 0;
  /* The thread takes no signals meant for the application. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int started = pthread_create(&t, &attr, reporter_main, &fdt) == 0;
  if (!started) {
    atomic_store_explicit(&thread_started, 0, memory_order_release);
    sw_log(SW_LOG_ERROR, "cannot start the reporter thread");
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (own_table && started)
    sw_fdt_finish(&fdt);
  else if (own_table)
    sw_fdt_abandon(&fdt);
}

int
sw_reporter_setup(const struct sw_config *cfg, const char *libdir,
                  const char *hostname)
{
  rcfg = cfg;
  sw_strlcpy(host, hostname, sizeof(host));
  if ((size_t)snprintf(libpath, sizeof(libpath), "%s/%s", libdir,
                       SW_REPORTER_SONAME) >= sizeof(libpath))
    return -36; /* -ENAMETOOLONG */
  /* ring_size counts records (SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE):
   * SW_RING_LINES_PER_REC lines each, at most 8 Mi lines. */
  int rc = sw_ring_init(&ring, cfg->ring_size * SW_RING_LINES_PER_REC);
  ring_wake = sw_ring_cap(&ring) / 4;
  return rc;
}

void
sw_reporter_flush_at_exit(void)
{
  if (!atomic_load_explicit(&thread_started, memory_order_acquire) ||
      atomic_load_explicit(&flush_done, memory_order_acquire) ||
      atomic_load_explicit(&thread_pid, memory_order_relaxed) != getpid())
    return;
  int64_t deadline = sw_now_ms() + rcfg->flush_timeout_ms;
  atomic_store_explicit(&flush_deadline, deadline, memory_order_relaxed);
  atomic_store_explicit(&flush_req, 1, memory_order_seq_cst);
  atomic_store_explicit(&sleeping, REP_IDLE, memory_order_seq_cst);
  wake_reporter();
  /* Never blocks exit beyond the deadline (plus a small margin for the
   * reporter to notice it): the thread is simply abandoned then. */
  for (;;) {
    if (atomic_load_explicit(&flush_done, memory_order_acquire))
      return;
    int64_t left = deadline + 50 - sw_now_ms();
    if (left <= 0) {
      sw_log(SW_LOG_WARNING, "exit flush deadline (%d ms) reached",
             rcfg->flush_timeout_ms);
      return;
    }
    struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
    sw_futex(&flush_done, FUTEX_WAIT, 0, &ts);
  }
}

void
sw_reporter_atfork_child(void)
{
  /* Only the forking thread exists in the child: no reporter. The next
   * tracked connection starts a fresh one, which calls init() again so the
   * reporter forgets the parent's state (and never touches its sockets). */
  sw_ring_reset(&ring);
  atomic_store_explicit(&thread_started, 0, memory_order_relaxed);
  atomic_store_explicit(&sleeping, REP_AWAKE, memory_order_relaxed);
  atomic_store_explicit(&flush_req, 0, memory_order_relaxed);
  atomic_store_explicit(&flush_done, 0, memory_order_relaxed);
  ops_ready = 0;
  load_failed = 0;
  delivering = 0;
  lend_off = 0;
}
