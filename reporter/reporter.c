/* reporter.c: the reporter's policy, behind struct sw_reporter_ops.
 *
 * consume() only assembles segments. tick() does the rest: grace timers,
 * the heartbeat (instance properties, then keepAlive), and sending the
 * finished segments in batches, one call per batch. Failures back off
 * (1 s doubling up to 60 s, separately for segments and heartbeat);
 * segments of a failed call are dropped and counted, and while backing
 * off the assembler's bounded queue drops its oldest, so an absent
 * backend never grows memory. Backend errors are logged at most once a
 * minute, with a count. flush() finishes what is open and sends all of
 * it in one go within the caller's deadline.
 *
 * The transport is chosen by SW_AGENT_PROTOCOL (xport.h). An
 * asynchronous one (Kafka) only queues in tick(); its delivery reports
 * are collected by polling it every tick, and flush() waits for its
 * queue within the deadline.
 *
 * A synchronous transport that waits on the network for a while calls
 * drain_in_call(), and the preload object's env.drain calls consume()
 * from inside tick() or flush(): the ring keeps emptying into the
 * assembler's bounded queue while a slow call is in flight, and such a
 * consume() never sends (R.busy).
 *
 * Everything runs on the preload object's reporter thread, so the state
 * below needs no locks. */
#include "sw_common.h"

#include "reporter.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "assemble.h"
#include "props.h"
#include "xport.h"

#define STAT_ADD(name, v)                                               \
  atomic_fetch_add_explicit(&R.env.stats->name, (uint64_t)(v),          \
                            memory_order_relaxed)
#define STAT_GET(name)                                                  \
  atomic_load_explicit(&R.env.stats->name, memory_order_relaxed)

/* consume() runs the tick itself when tick() was not called for this
 * long and the caller lends no drain: such a caller, draining a busy
 * ring, may not get to tick() at all. */
#define TICK_STARVED_MS 100
/* How often the drop breakdown is logged at DEBUG (when it changed). */
#define DROPLOG_MS 60000

/* What a failure or a success is about: each has its own error state, so
 * a heartbeat that gets through does not announce a recovery while
 * segments still fail. */
enum channel { CH_SEGMENTS, CH_HEARTBEAT, CH_COUNT };

struct backoff {
  int64_t retry_ms; /* nothing is tried before this */
  int wait_ms;      /* 0 after a success */
};

static struct {
  int ready;
  struct sw_reporter_env env;
  struct sw_asm as;
  struct sw_xport *xp;
  struct sw_props props;
  struct sw_seg *batch[SW_REP_BATCH_MAX];

  int64_t last_send_ms;
  struct backoff seg_bo;

  int64_t hb_due_ms;
  struct backoff hb_bo;
  unsigned hb_beats;
  int props_sent;

  int64_t err_logged_ms;
  uint64_t err_unlogged;
  int in_error[CH_COUNT];
  int64_t last_tick_ms;
  /* tick() or flush() is running: a call may be in flight, and records
   * consume() gets meanwhile (env.drain) only join the queue. */
  int busy;

  /* Segments dropped here, by reason (the assembler keeps its own). */
  uint64_t dropped_backend; /* in a call that failed */
  uint64_t dropped_exit;    /* still queued when flush() gave up */
  uint64_t droplog_total;   /* segments_dropped when last logged */
  int64_t droplog_ms;
} R;

/* sw_protocol_name() lives in the preload object, which this one does
 * not link against. */
static const char *
protocol_name(enum sw_protocol p)
{
  switch (p) {
  case SW_PROTO_GRPC:
    return "grpc";
  case SW_PROTO_HTTP:
    return "http";
  case SW_PROTO_KAFKA:
    return "kafka";
  case SW_PROTO_FILE:
    return "file";
  }
  return "unknown";
}

/* After a failure: 1 s, then 2, 4, 8, 16, 32 and 60 s from then on. The
 * schedule is logged at DEBUG, one line per failure. */
static void
backoff_fail(struct backoff *b, int64_t now, const char *what)
{
  if (b->wait_ms == 0)
    b->wait_ms = SW_REP_BACKOFF_MIN_MS;
  else if (b->wait_ms < SW_REP_BACKOFF_MAX_MS / 2)
    b->wait_ms *= 2;
  else
    b->wait_ms = SW_REP_BACKOFF_MAX_MS;
  b->retry_ms = now + b->wait_ms;
  R.env.log(SW_LOG_DEBUG, "reporter: %s: next try in %d ms", what,
            b->wait_ms);
}

static void
backoff_ok(struct backoff *b)
{
  b->wait_ms = 0;
  b->retry_ms = 0;
}

/* Counts n failed calls (or failed deliveries) and logs the last one, at
 * most once a minute. */
static void
note_error(enum channel ch, int64_t now, const char *what, unsigned n)
{
  STAT_ADD(backend_errors, n);
  R.err_unlogged += n;
  R.in_error[ch] = 1;
  if (R.err_logged_ms == 0 || now - R.err_logged_ms >= SW_REP_ERRLOG_MS) {
    R.env.log(SW_LOG_WARNING,
              "reporter: %s failed: %s (%" PRIu64 " failed call%s since "
              "the last report)",
              what, R.xp->err[0] ? R.xp->err : "unknown error",
              R.err_unlogged, R.err_unlogged == 1 ? "" : "s");
    R.err_logged_ms = now;
    R.err_unlogged = 0;
  }
}

static void
note_ok(enum channel ch)
{
  if (R.in_error[ch]) {
    R.env.log(SW_LOG_INFO, "reporter: backend reachable again (%s)",
              ch == CH_SEGMENTS ? "segments" : "heartbeat");
    R.in_error[ch] = 0;
  }
}

/* The drop counters by reason, at DEBUG: when asked (at exit), or at
 * most once a minute when something was dropped since the last time. */
static void
log_drops(int64_t now, int force)
{
  uint64_t total = STAT_GET(segments_dropped);

  if (R.env.cfg->log_level > SW_LOG_DEBUG)
    return;
  if (!force && (total == R.droplog_total || now - R.droplog_ms < DROPLOG_MS))
    return;
  R.env.log(SW_LOG_DEBUG,
            "reporter: segments dropped: %" PRIu64 " (backend failure %"
            PRIu64 ", queue full %" PRIu64 ", no root span %" PRIu64
            ", out of memory %" PRIu64 ", unsent at exit %" PRIu64
            ", %s queue full %" PRIu64 ", %s undelivered %" PRIu64 ")",
            total, R.dropped_backend, R.as.dropped_full, R.as.dropped_noroot,
            R.as.dropped_nomem, R.dropped_exit,
            R.xp ? R.xp->name : "transport",
            R.xp ? R.xp->dropped_queue_full : 0,
            R.xp ? R.xp->name : "transport",
            R.xp ? R.xp->dropped_undelivered : 0);
  R.droplog_total = total;
  R.droplog_ms = now;
}

/* Drops every queued segment (nowhere to send them). */
static void
drop_queued(uint64_t *reason)
{
  struct sw_seg *s;
  uint64_t n = 0;

  while ((s = sw_asm_pop(&R.as)) != NULL) {
    sw_asm_recycle(&R.as, s);
    n++;
  }
  if (n) {
    STAT_ADD(segments_dropped, n);
    *reason += n;
  }
}

/* Sends one batch of queued segments in one call. 0 or a negative errno
 * (the batch is dropped and counted then). */
static int
send_batch(int64_t deadline_ms)
{
  size_t n = 0, bytes = 0;
  int rc;

  while (n < SW_REP_BATCH_MAX && R.as.q_head) {
    size_t b = sw_seg_bytes(R.as.q_head);
    if (n > 0 && bytes + b > SW_REP_BATCH_BYTES)
      break;
    R.batch[n++] = sw_asm_pop(&R.as);
    bytes += b;
  }
  if (n == 0)
    return 0;
  rc = R.xp->send_segments(R.xp, R.batch, n, deadline_ms);
  /* An asynchronous transport counts its segments itself, as their
   * deliveries are confirmed or fail. */
  if (!R.xp->async && rc == 0) {
    STAT_ADD(segments_sent, n);
  } else if (!R.xp->async) {
    STAT_ADD(segments_dropped, n);
    R.dropped_backend += n;
  }
  for (size_t i = 0; i < n; i++) {
    sw_asm_recycle(&R.as, R.batch[i]);
    R.batch[i] = NULL;
  }
  return rc;
}

/* Sends what is queued when it is time to, for at most
 * SW_REP_SEND_BUDGET_MS, so that a flood keeps neither the heartbeat nor
 * the ring waiting; rep_tick() then asks for the next tick at once. */
static void
tick_segments(int64_t now)
{
  int64_t start = now;

  if (!R.xp) {
    drop_queued(&R.dropped_backend);
    return;
  }
  /* Keep sending while a backlog remains, bounded by time (not by a
   * count of calls), so that a busy reporter empties its queue instead of
   * letting it overflow, and still gets back to the ring often. */
  while (sw_asm_queued(&R.as) > 0 && now >= R.seg_bo.retry_ms &&
         (now - R.last_send_ms >= SW_REP_SEND_INTERVAL_MS ||
          sw_asm_queued(&R.as) >= SW_REP_SEND_EAGER) &&
         now - start < SW_REP_SEND_BUDGET_MS) {
    int rc = send_batch(now + 10 * 1000);

    now = sw_xport_now_ms();
    R.last_send_ms = now;
    if (rc != 0) {
      backoff_fail(&R.seg_bo, now, "segments");
      note_error(CH_SEGMENTS, now, "sending segments", 1);
      break;
    }
    backoff_ok(&R.seg_bo);
    if (!R.xp->async)
      note_ok(CH_SEGMENTS);
  }
}

/* An asynchronous transport's delivery reports and errors. */
static void
tick_poll(int64_t now)
{
  uint64_t sent = STAT_GET(segments_sent);
  int failures;

  if (!R.xp || !R.xp->poll)
    return;
  failures = R.xp->poll(R.xp);
  if (failures > 0)
    note_error(CH_SEGMENTS, now, "delivering", (unsigned)failures);
  else if (STAT_GET(segments_sent) > sent)
    note_ok(CH_SEGMENTS);
}

/* The heartbeat: properties on the first beat and every
 * properties_factor-th after it, then keepAlive. */
static void
tick_heartbeat(int64_t now)
{
  const struct sw_config *cfg = R.env.cfg;
  int period_s = cfg->heartbeat_period_s > 0 ? cfg->heartbeat_period_s : 30;
  int factor = cfg->properties_factor > 0 ? cfg->properties_factor : 10;
  int rc = 0;
  const char *what = "reportInstanceProperties";

  if (!R.xp || now < R.hb_due_ms)
    return;
  if (!R.props_sent || R.hb_beats % (unsigned)factor == 0) {
    rc = R.xp->report_properties(R.xp, &R.props, now + 10 * 1000);
    if (rc == 0)
      R.props_sent = 1;
  }
  if (rc == 0) {
    what = "keepAlive";
    rc = R.xp->keepalive(R.xp, now + 10 * 1000);
  }
  now = sw_xport_now_ms();
  if (rc == 0) {
    R.hb_beats++;
    backoff_ok(&R.hb_bo);
    R.hb_due_ms = now + (int64_t)period_s * 1000;
    note_ok(CH_HEARTBEAT);
  } else {
    /* The backend may have lost the instance: describe it again on the
     * first beat that gets through. */
    R.props_sent = 0;
    backoff_fail(&R.hb_bo, now, "heartbeat");
    R.hb_due_ms = R.hb_bo.retry_ms;
    note_error(CH_HEARTBEAT, now, what, 1);
  }
}

/* x->drain: while a call waits on the network, the preload object moves
 * records from its ring into consume(), as many as the queue has room
 * for (a span finishes at most one segment), less one call's worth left
 * for the thread's own loop: a stall of the backend is taken by the
 * queue, and a reporter that cannot keep up leaves the rest in the ring
 * rather than assembling segments only to drop them. */
static void
drain_in_call(void)
{
  const struct sw_asm *a = &R.as;
  size_t room = 0, broom = 0;

  if (a->nqueued + SW_REP_BATCH_MAX < a->lim.max_queued)
    room = a->lim.max_queued - SW_REP_BATCH_MAX - a->nqueued;
  if (a->qbytes < a->lim.max_queued_bytes)
    broom = (a->lim.max_queued_bytes - a->qbytes) /
            sizeof(struct sw_span_rec);
  if (broom < room)
    room = broom;
  if (room > 0)
    R.env.drain(room);
}

/* The assembler's encoder (sw_asm_encode_fn): the transport's. */
static long
encode_single(void *ctx, const struct sw_span_view *v, uint8_t *dst,
              size_t room, struct sw_buf *out)
{
  struct sw_xport *x = ctx;

  return x->encode_single(x, v, dst, room, out);
}

static int
rep_init(const struct sw_reporter_env *env)
{
  struct sw_asm_limits lim;
  const struct sw_config *cfg;
  const char *where;
  int rc;

  if (!env || !env->cfg || !env->stats || !env->log)
    return -EINVAL;
  /* A second init happens in a forked child: the inherited transport
   * shares its connection with the parent, so it is abandoned, never
   * closed (closing would say goodbye on the parent's connection). The
   * inherited assembler is dropped without being freed too: the parent's
   * reporter thread may have been halfway through changing its lists when
   * the fork happened, and freeing would also copy its pages. */
  memset(&R, 0, sizeof(R));
  R.env = *env;
  cfg = env->cfg;

  sw_asm_limits_default(&lim);
  if ((rc = sw_asm_init(&R.as, &lim, env->stats)) != 0)
    return rc;
  switch (cfg->protocol) {
  case SW_PROTO_GRPC:
    R.xp = sw_xport_grpc_open(&R.env);
    where = cfg->backend;
    break;
  case SW_PROTO_HTTP:
    R.xp = sw_xport_http_open(&R.env);
    where = cfg->backend;
    break;
  case SW_PROTO_KAFKA:
    R.xp = sw_xport_kafka_open(&R.env);
    where = cfg->kafka_servers;
    break;
  case SW_PROTO_FILE:
    R.xp = sw_xport_file_open(&R.env);
    where = cfg->file_path;
    break;
  default:
    env->log(SW_LOG_ERROR,
             "reporter: protocol \"%s\" is not supported by this build; "
             "nothing will be reported",
             protocol_name(cfg->protocol));
    sw_asm_destroy(&R.as);
    return -EPROTONOSUPPORT;
  }
  if (!R.xp) {
    sw_asm_destroy(&R.as);
    return -EIO;
  }
  if (env->drain && !R.xp->async)
    R.xp->drain = drain_in_call;
  /* One-span segments (most of them) are queued as the bytes the
   * transport will send: the record is read once, where it arrived. */
  if (R.xp->encode_single)
    sw_asm_set_encoder(&R.as, encode_single, R.xp);
  sw_props_collect(&R.props, cfg, env->pid, env->hostname);
  R.ready = 1;
  env->log(SW_LOG_INFO,
           "reporter: %s to %s as service \"%s\", instance \"%s\"",
           R.xp->name, where, cfg->service, cfg->instance);
  return 0;
}

static int rep_tick(int64_t now_ms);

static void
rep_consume(const struct sw_span_packed *const *recs, size_t n,
            int64_t now_ms)
{
  /* Each record is read where it is, in the ring, only as far as it
   * goes: a one-span segment (nearly all) is encoded from it straight
   * into the block that queues it; any other record is unpacked and
   * copied into its segment (sw_asm_add_packed()). */
  if (!R.ready)
    return;
  for (size_t i = 0; i < n; i++)
    sw_asm_add_packed(&R.as, recs[i], now_ms);
  /* A caller that lends a drain ticks after every consume() (the
   * preload object's loop); records drained during a call must not start
   * another one. */
  if (R.busy || R.env.drain)
    return;
  if (R.last_tick_ms == 0)
    R.last_tick_ms = now_ms;
  else if (now_ms - R.last_tick_ms >= TICK_STARVED_MS)
    rep_tick(now_ms);
}

static int
rep_tick(int64_t now_ms)
{
  int64_t now, wait = 1000, due;

  if (!R.ready || R.busy)
    return 1000;
  R.busy = 1;
  R.last_tick_ms = now_ms;
  sw_asm_expire(&R.as, now_ms);
  tick_poll(now_ms);
  tick_heartbeat(now_ms);
  tick_segments(now_ms);
  now = sw_xport_now_ms();
  sw_asm_expire(&R.as, now);
  log_drops(now, 0);
  R.busy = 0;

  /* How soon something has to happen. */
  if (sw_asm_queued(&R.as) > 0) {
    if (now < R.seg_bo.retry_ms)
      due = R.seg_bo.retry_ms;
    else if (sw_asm_queued(&R.as) >= SW_REP_SEND_EAGER)
      due = now;
    else
      due = R.last_send_ms + SW_REP_SEND_INTERVAL_MS;
    if (due - now < wait)
      wait = due - now;
  }
  due = sw_asm_next_deadline(&R.as);
  if (due != INT64_MAX && due - now < wait)
    wait = due - now;
  if (R.xp && R.hb_due_ms - now < wait)
    wait = R.hb_due_ms - now;
  return wait < 0 ? 0 : (int)wait;
}

static void
rep_flush(int64_t deadline_ms)
{
  int64_t now = sw_xport_now_ms();

  if (!R.ready || R.busy)
    return;
  R.busy = 1;
  sw_asm_close_all(&R.as);
  /* A backend that failed moments ago would most likely eat the whole
   * deadline again: the process is exiting, so respect the backoff. */
  while (R.xp && sw_asm_queued(&R.as) > 0 && now < deadline_ms &&
         now >= R.seg_bo.retry_ms) {
    int rc = send_batch(deadline_ms);

    now = sw_xport_now_ms();
    if (rc != 0) {
      backoff_fail(&R.seg_bo, now, "segments");
      note_error(CH_SEGMENTS, now, "sending segments at exit", 1);
      break;
    }
  }
  if (R.xp && R.xp->flush) {
    int failures;

    if (R.xp->flush(R.xp, deadline_ms) != 0)
      note_error(CH_SEGMENTS, sw_xport_now_ms(), "delivering at exit", 1);
    failures = R.xp->poll(R.xp);
    if (failures > 0)
      note_error(CH_SEGMENTS, sw_xport_now_ms(), "delivering",
                 (unsigned)failures);
  }
  drop_queued(&R.dropped_exit);
  log_drops(sw_xport_now_ms(), 1);
  R.busy = 0;
}

static const struct sw_reporter_ops ops = {
  .version = SW_REPORTER_API_VERSION,
  .init = rep_init,
  .consume = rep_consume,
  .tick = rep_tick,
  .flush = rep_flush,
};

SW_EXPORT const struct sw_reporter_ops *
sw_reporter_entry(void)
{
  return &ops;
}
