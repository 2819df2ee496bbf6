/* xport_curl.h: what the libcurl transports (gRPC, HTTP) share.
 *
 * The backend list (SW_AGENT_COLLECTOR_BACKEND_SERVICES split on commas,
 * failing over to the next address after a transport error), the
 * process-wide libcurl set-up, the options every easy handle of ours
 * gets, and the transfer loop (curl_easy_perform() on a multi handle, with
 * SIGPIPE kept on this thread, the ring drained while it waits and the
 * connection corked while libcurl writes). */
#ifndef SW_REPORTER_XPORT_CURL_H
#define SW_REPORTER_XPORT_CURL_H

#include <curl/curl.h>

#include "sw_config.h"
#include "sw_reporter_api.h"

#define SW_CURL_MAX_BACKENDS 8
/* Per-call limits, the same for every libcurl transport. A call never
 * takes longer than the caller's deadline either. */
#define SW_CURL_CONNECT_TIMEOUT_MS 2000
#define SW_CURL_CALL_TIMEOUT_MS 10000
/* A call that lasts longer than this lets the reporter drain the ring,
 * and again every this often until it ends. A call to a backend keeping
 * up takes a few milliseconds and never does; the ring holds 4,096
 * records, 41 ms at 100k spans/s. */
#define SW_CURL_DRAIN_MS 10

struct sw_curl_backends {
  /* "http://host:port" or "https://host:port", no trailing slash. */
  char base[SW_CURL_MAX_BACKENDS][SW_BACKEND_MAX + 16];
  int tls[SW_CURL_MAX_BACKENDS];
  int n, cur;
};

/* Splits cfg->backend into base URLs. An item may carry its own http://
 * or https:// scheme; otherwise cfg->force_tls picks. Returns the number
 * of addresses (0: nothing usable). */
int sw_curl_backends_parse(struct sw_curl_backends *b,
                           const struct sw_config *cfg);

/* After a transport failure: the next call goes to the next address. */
static inline void
sw_curl_backends_next(struct sw_curl_backends *b)
{
  if (b->n > 1)
    b->cur = (b->cur + 1) % b->n;
}

/* curl_global_init(), once; 0, or -EIO with the reason logged. */
int sw_curl_global_init(const struct sw_reporter_env *env);

/* The call's timeout in ms: the per-call limit or what is left before
 * deadline_ms, whichever is smaller; 0 or less when none is left. */
long sw_curl_timeout_ms(int64_t deadline_ms);

/* A transport's libcurl state: easy, a handle with the options every
 * one of ours gets (no signals, no proxy, one cached connection, user
 * agent, keep-alive probes), and multi, which drives easy's transfers and
 * holds their cached connection; fd is that connection's socket as
 * libcurl opened it (CURL_SOCKET_BAD: none known), corked whether
 * TCP_CORK is on for it now (sw_curl_perform()). */
struct sw_curl {
  CURL *easy;
  CURLM *multi;
  curl_socket_t fd;
  int corked;
};

/* _new frees the old handles first (which closes their connection): 0,
 * or -ENOMEM with both NULL. _free leaves both NULL. h must stay where
 * it is while it has handles (libcurl's socket callbacks point at it). */
int sw_curl_handles_new(struct sw_curl *h);
void sw_curl_handles_free(struct sw_curl *h);

/* Performs the transfer set up on h->easy, on h->multi, with SIGPIPE
 * blocked on this thread: what curl_easy_perform() does, with the same
 * outcomes, except that
 * - once the call has lasted SW_CURL_DRAIN_MS it calls drain (when not
 *   NULL) every SW_CURL_DRAIN_MS, so that the reporter keeps taking spans
 *   from the ring during a slow call (struct sw_xport's drain);
 * - the connection is corked (TCP_CORK) while libcurl writes and
 *   uncorked before every wait and at the end: libcurl 7.88 writes one
 *   HTTP/2 frame (at most 16 KiB) per system call, and corked they leave
 *   in full-sized segments, each of which costs the sender's kernel (and
 *   a local collector's wake-up) once instead of four times. Bytes are
 *   held only while libcurl goes on writing, never while the call waits
 *   (for the peer's window, its answer or anything else). */
CURLcode sw_curl_perform(struct sw_curl *h, void (*drain)(void));

#endif
