/* encode.h: protobuf encoding of segments and management messages.
 *
 * Every function appends one serialized message (no framing) to a
 * buffer, so a transport can put its own framing around it (gRPC's
 * 5-byte prefix) or send it as is (a Kafka record value). The bytes are
 * those protobuf-c packs for the same message; they are written directly,
 * allocating nothing but the buffer's growth, and on -ENOMEM the buffer
 * is left as it was. Strings that are not valid UTF-8 are packed with
 * U+FFFD for each invalid byte (utf8.h): the backend would reject the
 * message otherwise. */
#ifndef SW_REPORTER_ENCODE_H
#define SW_REPORTER_ENCODE_H

#include "assemble.h"
#include "buf.h"
#include "props.h"

/* Appends the SegmentObject of s. Spans are written in s's order (by
 * span id once finished), with the tags http.method, http.url and
 * http.status_code (when status is not 0), a log {event: error,
 * message: <errlog>} at end_ms when errlog is set, and a CrossProcess
 * ref when has_ref is set and the ref carries a trace id. isSizeLimited
 * is s->size_limited. 0 or -ENOMEM. Encodes service and instance for
 * this call: a transport encodes them once (sw_enc_ids_init) and calls
 * sw_encode_segment_ids(), which this is written with. */
int sw_encode_segment(struct sw_buf *b, const struct sw_seg *s,
                      const char *service, const char *instance);

/* The fields that end every segment of a process (service,
 * serviceInstance), encoded once by sw_enc_ids_init() so that each
 * segment only copies them. */
struct sw_enc_ids {
  uint8_t *bytes; /* the two fields, then isSizeLimited = true */
  size_t len;     /* of the two fields */
};

/* 0 or -ENOMEM. Free with sw_enc_ids_free() (also after a failure). */
int sw_enc_ids_init(struct sw_enc_ids *ids, const char *service,
                    const char *instance);
void sw_enc_ids_free(struct sw_enc_ids *ids);

/* sw_encode_segment(b, s, service, instance), the same bytes, with ids
 * made from service and instance. An encoded segment (s->enc) is taken
 * to hold what sw_encode_single_ids() made for it, and its bytes are
 * copied as they are. */
int sw_encode_segment_ids(struct sw_buf *b, const struct sw_seg *s,
                          const struct sw_enc_ids *ids);

/* The SegmentObject of the one-span segment of the record v views (a
 * record read where it is: struct sw_span_view): the bytes
 * sw_encode_segment_ids() appends for a segment holding a copy of that
 * record alone, not size-limited. 0 or -ENOMEM. */
int sw_encode_single_ids(struct sw_buf *b, const struct sw_span_view *v,
                         const struct sw_enc_ids *ids);

/* The same bytes written into [o, end): their end, or NULL when they
 * might not fit (what was written is then of no use). */
uint8_t *sw_encode_single_put(uint8_t *o, uint8_t *end,
                              const struct sw_span_view *v,
                              const struct sw_enc_ids *ids);

/* The same bytes as an encoder of the assembler makes them
 * (sw_asm_encode_fn): written to dst when they fit in room (their
 * length), else appended to out (0); or -ENOMEM. */
long sw_encode_single(const struct sw_span_view *v,
                      const struct sw_enc_ids *ids, uint8_t *dst,
                      size_t room, struct sw_buf *out);

/* Appends an InstanceProperties message. 0 or -ENOMEM. */
int sw_encode_properties(struct sw_buf *b, const char *service,
                         const char *instance, const struct sw_props *p);

/* Appends an InstancePingPkg message. 0 or -ENOMEM. */
int sw_encode_ping(struct sw_buf *b, const char *service,
                   const char *instance);

#endif
