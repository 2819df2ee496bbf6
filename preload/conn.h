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

extern _Atomic uint32_t *sw_conn_map;
extern uint32_t sw_conn_map_len;

/* The hot-path check every I/O hook makes first. */
static inline int
sw_conn_tracked(int fd)
{
  return (unsigned)fd < sw_conn_map_len &&
         atomic_load_explicit(&sw_conn_map[fd], memory_order_relaxed) != 0;
}

/* max_fds: size of the fd map (fds beyond it are never tracked); slots:
 * how many connections can be tracked at once. 0 or -ENOMEM. */
int sw_conn_init(const struct sw_config *cfg, uint32_t max_fds,
                 uint32_t slots);
/* Forked child: forget every connection (single-threaded here). */
void sw_conn_atfork_child(void);

/* peer may be NULL (then getpeername() is asked). */
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

/* Provided by the runtime (or a unit test). */
void sw_sink_span(const struct sw_span_rec *rec);
/* The first connection of the process (or forked child) is tracked. */
void sw_sink_first_conn(void);

/* Writes "ip:port" ("[ip6]:port") for an AF_INET/AF_INET6 address. */
int sw_format_addr(char *out, size_t cap, const struct sockaddr *sa,
                   socklen_t len);

#endif
