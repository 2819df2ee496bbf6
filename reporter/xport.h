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
 * A transport is synchronous (gRPC, HTTP, file: the return value is the
 * outcome, and the reporter counts segments sent or dropped; one that
 * waits on the network calls x->drain while it waits) or
 * asynchronous (Kafka: the call only hands the data over). An
 * asynchronous one sets async, counts segments_sent and segments_dropped
 * itself as deliveries are confirmed or fail, and has poll() and
 * flush().
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
  /* Optional (NULL: segments keep their records until sent). Makes what
   * send_segments() needs of the one-span segment of the record v views
   * (read where it arrived), as the assembler's encoder does
   * (sw_asm_encode_fn, assemble.h: written to dst when it fits in room,
   * else appended to out); the assembler queues those bytes (s->enc)
   * instead of the record, and send_segments() sends them as they are:
   * the same bytes on the wire as for the record. */
  long (*encode_single)(struct sw_xport *x, const struct sw_span_view *v,
                        uint8_t *dst, size_t room, struct sw_buf *out);
  int (*report_properties)(struct sw_xport *x, const struct sw_props *p,
                           int64_t deadline_ms);
  int (*keepalive)(struct sw_xport *x, int64_t deadline_ms);
  /* Frees the transport. Not for a forked child's inherited copy: its
   * connections belong to the parent too. */
  void (*close)(struct sw_xport *x);
  /* Asynchronous transports only (NULL otherwise). poll() serves
   * delivery reports and errors without blocking and returns how many
   * failures it saw (x->err says what the last one was). flush() waits
   * until everything handed over is delivered or deadline_ms passes; 0,
   * or -ETIMEDOUT when some was left undelivered. */
  int (*poll)(struct sw_xport *x);
  int (*flush)(struct sw_xport *x, int64_t deadline_ms);
  int async;
  /* Set by the reporter (NULL: nothing to call). A synchronous transport
   * that has waited on the network for a while calls it every few
   * milliseconds until its call ends: the reporter takes span records
   * from the ring into its queue meanwhile (sw_reporter_env.drain). The
   * segments of the call are out of that queue, untouched. */
  void (*drain)(void);
  /* Segments an asynchronous transport dropped, by reason (each also in
   * stats->segments_dropped): its own queue was full, or delivery failed
   * or had not happened by the exit deadline. */
  uint64_t dropped_queue_full, dropped_undelivered;
  const struct sw_reporter_env *env;
  char err[SW_XPORT_ERR_MAX];
};

/* gRPC over HTTP/2 with libcurl (xport_grpc.c). NULL, with the reason
 * logged, when libcurl cannot be set up. */
struct sw_xport *sw_xport_grpc_open(const struct sw_reporter_env *env);

/* The OAP's REST receiver, JSON over HTTP/1.1 with libcurl
 * (xport_http.c). NULL, with the reason logged, on failure. */
struct sw_xport *sw_xport_http_open(const struct sw_reporter_env *env);

/* Kafka with librdkafka, loaded with dlopen() (xport_kafka.c). NULL,
 * with the reason logged, when librdkafka is missing or rejects the
 * configuration. */
struct sw_xport *sw_xport_kafka_open(const struct sw_reporter_env *env);

/* JSON lines appended to cfg->file_path (xport_file.c). NULL, with the
 * reason logged, when the file cannot be opened. */
struct sw_xport *sw_xport_file_open(const struct sw_reporter_env *env);

/* How each transport lays out a batch, exposed for the unit tests,
 * which check that a segment encoded on arrival goes out as the same
 * bytes as its record would. */
struct sw_enc_ids;

/* gRPC: the body of a collect call, each segment's SegmentObject in its
 * 5-byte frame, as libcurl reads it: pieces read where they are, the
 * bytes of segments encoded on arrival (which hold their frame) and
 * frames encoded into own for the others. */
struct sw_xport_grpc_piece {
  const uint8_t *p;
  size_t len;
};
struct sw_xport_grpc_body {
  struct sw_buf own;
  struct sw_xport_grpc_piece *v;
  size_t n, cap;
  size_t len;     /* of the whole body */
  size_t at, off; /* where the next read starts: piece, offset in it */
};
/* Makes b the body of the n segments at segs, positioned at its start;
 * the segments must outlive the reads. 0 or -ENOMEM. */
int sw_xport_grpc_body_set(struct sw_xport_grpc_body *b,
                           struct sw_seg *const *segs, size_t n,
                           const struct sw_enc_ids *ids);
/* Copies the next bytes of b to dst, at most room of them; returns how
 * many (0 at the end). */
size_t sw_xport_grpc_body_read(struct sw_xport_grpc_body *b, uint8_t *dst,
                               size_t room);
/* The next read starts at byte pos of the body: 0, or -EINVAL past its
 * end. */
int sw_xport_grpc_body_seek(struct sw_xport_grpc_body *b, size_t pos);
void sw_xport_grpc_body_free(struct sw_xport_grpc_body *b);
/* gRPC's encode_single(): the one-span segment's SegmentObject in its
 * frame; written to dst when it fits in room (its length), else appended
 * to out (0); or -ENOMEM (out is left as it was). */
long sw_xport_grpc_single(const struct sw_span_view *v,
                          const struct sw_enc_ids *ids, uint8_t *dst,
                          size_t room, struct sw_buf *out);

/* Kafka: the record of one segment (key: its segment id, value: its
 * SegmentObject), pointing into s or into msg, which it may reset. 0 or
 * -ENOMEM. */
struct sw_xport_msg {
  const void *key, *value;
  size_t key_len, value_len;
};
int sw_xport_kafka_message(struct sw_buf *msg, const struct sw_seg *s,
                           const struct sw_enc_ids *ids,
                           struct sw_xport_msg *m);
/* Kafka's encode_single(): the key's length in one byte, the key, the
 * value; written to dst when they fit in room (their length), else
 * appended to out (0); or -ENOMEM (out is left as it was). */
long sw_xport_kafka_single(const struct sw_span_view *v,
                           const struct sw_enc_ids *ids, uint8_t *dst,
                           size_t room, struct sw_buf *out);

/* HTTP and file: encode_single(): the segment's JSON object, the bytes
 * sw_json_segment() writes for it (and copies for a segment holding
 * them), always appended to out (0), or -ENOMEM (json.c). */
long sw_xport_json_single(struct sw_xport *x, const struct sw_span_view *v,
                          uint8_t *dst, size_t room, struct sw_buf *out);

/* File: the lines of a batch. 0 or -ENOMEM. */
int sw_xport_file_body(struct sw_buf *b, struct sw_seg *const *segs,
                       size_t n, const char *service, const char *instance);

/* Epoch milliseconds, the clock of every deadline. */
static inline int64_t
sw_xport_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
