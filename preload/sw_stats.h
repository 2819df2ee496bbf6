/* sw_stats.h: counters of everything the agent drops or fails at.
 *
 * Written with relaxed atomic adds from any thread (hooks included: they
 * are async-signal-safe); read by the reporter for its periodic debug line
 * and at exit. Nothing here is ever reset except in a forked child. */
#ifndef SW_PRELOAD_SW_STATS_H
#define SW_PRELOAD_SW_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#define SW_STATS_FIELDS(X)                                                   \
  X(spans_created)         /* records pushed into the ring */                \
  X(spans_dropped_ring)    /* ring full: newest record dropped */            \
  X(conns_untracked)       /* no free connection slot, or fd too large */    \
  X(conns_contended)       /* two threads on one fd at once: stop tracing */ \
  X(parse_errors)          /* bytes that were not HTTP/1.x */                \
  X(requests_ignored)      /* ignore_path / ignore_method / suffix */        \
  X(sw8_invalid)           /* malformed incoming sw8 header */               \
  X(segments_sent)         /* acknowledged by the backend */                 \
  X(segments_dropped)      /* backend failure, or reporter queue full */     \
  X(segments_partial)      /* emitted by the grace timer, spans missing */   \
  X(backend_errors)        /* failed reports (any protocol) */

struct sw_stats {
#define SW_STATS_DECL(name) _Atomic uint64_t name;
  SW_STATS_FIELDS(SW_STATS_DECL)
#undef SW_STATS_DECL
};

extern struct sw_stats sw_stats;

#define SW_STAT_INC(name) \
  atomic_fetch_add_explicit(&sw_stats.name, 1, memory_order_relaxed)
#define SW_STAT_ADD(name, n) \
  atomic_fetch_add_explicit(&sw_stats.name, (n), memory_order_relaxed)
#define SW_STAT_GET(name) \
  atomic_load_explicit(&sw_stats.name, memory_order_relaxed)

#endif
