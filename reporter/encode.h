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

/* The SegmentObject of the one-span segment made of r: the bytes
 * sw_encode_segment_ids() appends for a segment holding
 * sw_span_copy(r) alone, not size-limited. r is read as that copy would
 * read it (a string with no terminator in its field ends at the field's
 * last byte), so it may be a record read where it arrived. 0 or
 * -ENOMEM. */
int sw_encode_single_ids(struct sw_buf *b, const struct sw_span_rec *r,
                         const struct sw_enc_ids *ids);

/* Appends an InstanceProperties message. 0 or -ENOMEM. */
int sw_encode_properties(struct sw_buf *b, const char *service,
                         const char *instance, const struct sw_props *p);

/* Appends an InstancePingPkg message. 0 or -ENOMEM. */
int sw_encode_ping(struct sw_buf *b, const char *service,
                   const char *instance);

#endif
