/* xport.h: the transports behind the reporter.
 *
 * A transport delivers finished segments and the instance's management
 * messages to a backend, blocking the reporter thread for at most the
 * time left before deadline_ms (epoch milliseconds) and never more than
 * its own per-call limit. Each returns 0 when the backend acknowledged
 * the whole call, or a negative errno, and leaves a one-line reason in
 * x->err for the reporter's rate-limited warning. The reporter owns the
 * segments; a transport only reads them.
 *
 * One implementation per reporter/xport_<name>.c, selected by
 * cfg->protocol in reporter.c. */
#ifndef SW_REPORTER_XPORT_H
#define SW_REPORTER_XPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "assemble.h"
#include "props.h"
#include "sw_reporter_api.h"

#define SW_XPORT_ERR_MAX 1024

struct sw_xport {
  const char *name;
  int (*send_segments)(struct sw_xport *x, struct sw_seg *const *segs,
                       size_t n, int64_t deadline_ms);
  int (*report_properties)(struct sw_xport *x, const struct sw_props *p,
                           int64_t deadline_ms);
  int (*keepalive)(struct sw_xport *x, int64_t deadline_ms);
  /* Frees the transport. Not for a forked child's inherited copy: its
   * connections belong to the parent too. */
  void (*close)(struct sw_xport *x);
  const struct sw_reporter_env *env;
  char err[SW_XPORT_ERR_MAX];
};

/* gRPC over HTTP/2 with libcurl (xport_grpc.c). NULL, with the reason
 * logged, when libcurl cannot be set up. */
struct sw_xport *sw_xport_grpc_open(const struct sw_reporter_env *env);

/* Epoch milliseconds, the clock of every deadline. */
static inline int64_t
sw_xport_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
