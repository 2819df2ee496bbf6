/* sw_reporter_api.h: the boundary between libswpreload.so and
 * libswreporter.so.
 *
 * libswpreload.so links only libc. Its reporter thread drains the ring
 * and, on the first data, dlopen()s libswreporter.so from its own
 * directory and calls sw_reporter_entry(). Everything that allocates or
 * blocks (segment assembly, encoding, libcurl, librdkafka) lives behind
 * these functions, and they are only ever called from the reporter thread,
 * which has the hook guard set, so nothing they do is traced. */
#ifndef SW_PRELOAD_SW_REPORTER_API_H
#define SW_PRELOAD_SW_REPORTER_API_H

#include <stddef.h>
#include <stdint.h>

#include "sw_config.h"
#include "sw_span.h"
#include "sw_stats.h"

#define SW_REPORTER_API_VERSION 5
#define SW_REPORTER_SONAME "libswreporter.so"
#define SW_REPORTER_ENTRY "sw_reporter_entry"

/* What the preload object lends the reporter. */
struct sw_reporter_env {
  const struct sw_config *cfg;
  struct sw_stats *stats;
  /* printf-like; goes to stderr as "sw[pid]: ..." when level is enabled. */
  void (*log)(enum sw_log_level level, const char *fmt, ...)
      __attribute__((format(printf, 2, 3)));
  int pid;
  const char *hostname;
  /* Marks the calling thread as the agent's own for its whole life: its
   * I/O is never traced. For threads a transport library starts itself
   * (librdkafka's), from their thread-start callback. */
  void (*mark_thread)(void);
  /* Moves up to max of the records committed to the ring into consume(),
   * as the reporter thread's loop does, and returns how many. For a
   * transport that has been waiting on the network for a while in the
   * middle of a call (tick() or flush() is on the stack): the ring keeps
   * emptying while a slow call is in flight, into the reporter's own
   * bounded queue (max: the room left in it). consume() then runs inside
   * tick() and must not start a call of its own. Moves nothing while the
   * preload object flushes at exit. Reporter thread only; may be NULL. */
  size_t (*drain)(size_t max);
};

struct sw_reporter_ops {
  int version; /* SW_REPORTER_API_VERSION */
  /* Once, before anything else. 0 or a negative errno (then the preload
   * object stops tracing and counts every span as dropped). */
  int (*init)(const struct sw_reporter_env *env);
  /* n span records drained from the ring, in ring order, packed and read
   * in place: recs[i] is the i-th (sw_span_unpack() gives a record back).
   * Each may be read up to 15 bytes past its last string's terminator
   * (sw_span.h, "a packed string's window"), no further. They are valid
   * only during the call (the ring reuses their lines after it). A
   * record's ref is meaningful only when its has_ref is set. It never
   * sends when env->drain is lent (the caller ticks after it then): it
   * also runs inside tick() and flush(), from env->drain. */
  void (*consume)(const struct sw_span_packed *const *recs, size_t n,
                  int64_t now_ms);
  /* Called at least every 100 ms while data is pending and at least once
   * per second otherwise: batching, grace timers, heartbeats, retries.
   * Returns the number of milliseconds after which it wants the next tick
   * at the latest; 0 when it has more to send right away (it keeps each
   * tick short, so that the caller gets back to the ring in between). */
  int (*tick)(int64_t now_ms);
  /* At exit: send everything pending; give up at deadline_ms (epoch ms). */
  void (*flush)(int64_t deadline_ms);
};

typedef const struct sw_reporter_ops *(*sw_reporter_entry_fn)(void);

#endif
