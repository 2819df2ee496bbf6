/* conn.h: the per-connection state machine that turns HTTP/1.x bytes into
 * spans.
 *
 * A connection is tracked from accept()/accept4() (server side: entry
 * spans) or connect() (client side: exit spans) to close(). The fd -> slot
 * map is a flat array of atomics indexed by fd, so a hook on any other fd
 * (files, pipes, eventfds) costs one bounds check and one load. Slots come
 * from a preallocated pool through a lock-free free list; a slot is used
 * by one thread at a time (trylock: a second thread on the same fd at the
 * same moment stops tracing of that connection, never blocks).
 *
 * Everything here is async-signal-safe and allocation-free after
 * sw_conn_init(). Finished spans leave through sw_sink_span(), defined by
 * the runtime (ring push) or by a unit test. */
#ifndef SW_PRELOAD_CONN_H
#define SW_PRELOAD_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sw_config.h"
#include "sw_span.h"

/* The fd map: 0 for an fd that is not tracked, else its slot + 1 and the
 * bits below. Empty (length 0) until the tables are set up, at the first
 * connection (sw_runtime.h); the length is published after the map, with
 * release, and never changes after that. */
extern _Atomic uint32_t *sw_conn_map;
extern _Atomic uint32_t sw_conn_map_len;

/* The hot-path check every I/O hook makes first. Acquire (a plain load on
 * x86): the compiler may not read the map pointer before the length. */
static inline int
sw_conn_tracked(int fd)
{
  return (unsigned)fd <
             atomic_load_explicit(&sw_conn_map_len, memory_order_acquire) &&
         atomic_load_explicit(&sw_conn_map[fd], memory_order_relaxed) != 0;
}

/* An address connect() may start tracking: AF_INET or AF_INET6. */
static inline int
sw_conn_inet(const struct sockaddr *sa, socklen_t len)
{
  return sa && len >= sizeof(sa->sa_family) &&
         (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

/* Client connections carry this bit in their map entry, so the write
 * hooks know without a lock whether a header may need injecting. */
#define SW_CONN_CLIENT_BIT 0x80000000u

static inline int
sw_conn_is_client(int fd)
{
  return (atomic_load_explicit(&sw_conn_map[fd], memory_order_relaxed) &
          SW_CONN_CLIENT_BIT) != 0;
}

/* max_fds: size of the fd map (fds beyond it are never tracked); slots:
 * how many connections can be tracked at once. 0 or -ENOMEM. */
int sw_conn_init(const struct sw_config *cfg, uint32_t max_fds,
                 uint32_t slots);
/* Forked child: forget every connection (single-threaded here), and
 * take the configuration's instance name again (it may follow the pid). */
void sw_conn_atfork_child(void);

/* The calls below but sw_conn_on_accept() and sw_conn_on_connect() (whose
 * first connection starts the reporter) leave errno as they found it: a
 * hook needs no save of its own around them. Async-signal-safe.
 *
 * peer may be NULL (then getpeername() is asked). */
void sw_conn_on_accept(int fd, const struct sockaddr *peer, socklen_t len);
void sw_conn_on_connect(int fd, const struct sockaddr *peer, socklen_t len);
/* Bytes the application received / sent (n > 0). */
void sw_conn_on_recv(int fd, const void *buf, size_t n);
void sw_conn_on_recv_iov(int fd, const struct iovec *iov, int cnt, size_t n);
void sw_conn_on_send(int fd, const void *buf, size_t n);
void sw_conn_on_send_iov(int fd, const struct iovec *iov, int cnt, size_t n);
/* Body bytes sent by sendfile(). */
void sw_conn_on_sendfile(int fd, size_t n);
/* The application read end-of-stream. */
void sw_conn_on_eof(int fd);
/* Called before the real close(): the fd is forgotten first, so a new
 * connection that reuses the number never meets the old state. */
void sw_conn_on_close(int fd);

/* For exits traced outside the socket state machine (libcurl) and for
 * sw8 injection: fills s's trace_id, segment_id, span_id, parent_span_id
 * and nspans, joining the entry this thread serves when it serves exactly
 * one (else a segment of its own). s->op must be set first. When
 * parent_endpoint is not NULL it receives the name for sw8's parent
 * endpoint field. Returns 0, or 1 when the request being served is
 * ignored (then the exit must not be traced either). */
int sw_conn_exit_identity(struct sw_span_rec *s, char *parent_endpoint,
                          size_t cap);

/* sw8_encode() of the exit span s (trace_id, segment_id, span_id,
 * peer) with parent endpoint endpoint, and the service and instance names
 * of the configuration, whose base64 is made once (again in a forked
 * child, see sw_conn_atfork_child()). */
int sw_conn_sw8_encode(char *out, size_t cap, const struct sw_span_rec *s,
                       const char *endpoint);

/* sw_filter_ignored() for the configuration given to sw_conn_init(),
 * with its lists prepared once (filter.h: sw_filter_match). */
int sw_conn_ignored(const char *method, const char *op);

/* sw8 injection on client connections (see inject.h). Before a write:
 * returns 1 when the caller must send out[0..*nout) instead of the
 * application's iov (a request head that gets an sw8 line, or the rest of
 * one), with *app_before / *line_rest for sw_inject_app_bytes(). After the
 * kernel took k bytes of it: sw_conn_send_done() advances the state and
 * feeds the application's bytes to the parser. out needs room for
 * SW_INJECT_MAX_IOV + 2 entries. */
int sw_conn_send_prepare(int fd, const struct iovec *iov, int cnt, size_t n,
                         struct iovec *out, int *nout, size_t *app_before,
                         size_t *line_rest);
void sw_conn_send_done(int fd, const struct iovec *iov, int cnt,
                       size_t app_before, size_t k);

/* SW_AGENT_LOG_REPORTER_SAFE_MODE: scrubs "://user:pass@" from every
 * text field of s. Call on every span before sw_sink_span(). */
void sw_span_scrub(struct sw_span_rec *s);

/* Provided by the runtime (or a unit test). */
void sw_sink_span(const struct sw_span_rec *rec);
/* The first connection of the process (or forked child) is tracked. */
void sw_sink_first_conn(void);

/* Writes "ip:port" ("[ip6]:port") for an AF_INET/AF_INET6 address. */
int sw_format_addr(char *out, size_t cap, const struct sockaddr *sa,
                   socklen_t len);

#endif
