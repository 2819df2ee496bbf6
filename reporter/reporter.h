/* reporter.h: the entry point of libswreporter.so.
 *
 * The preload object finds sw_reporter_entry() with dlsym() and drives
 * the reporter through the returned operations (sw_reporter_api.h), all
 * from its one reporter thread. It is the only symbol the shared object
 * exports. */
#ifndef SW_REPORTER_REPORTER_H
#define SW_REPORTER_REPORTER_H

#include "sw_common.h"
#include "sw_reporter_api.h"

/* Segments are sent when the last send was at least this long ago...
 * Every call and every wake-up of the reporter has a fixed cost (on
 * this project's 2-CPU VM, 20 ms calls cost 1.7 µs per span at 10k
 * spans/s, 200 ms ones 0.86: BENCHMARKS.md), while a trace that shows
 * up a fifth of a second later is no worse for it; so a quiet process
 * sends five times a second, not fifty. */
#define SW_REP_SEND_INTERVAL_MS 200
/* ...or at once when this many are waiting: under load, calls of a full
 * batch (a call has a fixed cost of tens of microseconds, which dominates
 * with small batches). */
#define SW_REP_SEND_EAGER 1000
/* How long one tick may keep sending a backlog. Short, so that the ring
 * is drained in between (tick() then asks to be called again at once). */
#define SW_REP_SEND_BUDGET_MS 5
/* One call carries at most this many segments and this many bytes of
 * span records (the encoded size is a fraction of it). */
#define SW_REP_BATCH_MAX 1000
#define SW_REP_BATCH_BYTES ((size_t)16 << 20)
/* Backoff after a failure: doubles from the first value to the cap. */
#define SW_REP_BACKOFF_MIN_MS 1000
#define SW_REP_BACKOFF_MAX_MS 60000
/* Backend errors are logged at most this often. */
#define SW_REP_ERRLOG_MS 60000

SW_EXPORT const struct sw_reporter_ops *sw_reporter_entry(void);

#endif
