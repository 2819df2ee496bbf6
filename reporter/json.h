/* json.h: the protobuf JSON mapping of the messages the agent sends, for
 * the OAP's REST receiver (and the file transport).
 *
 * Written by hand from the assembled segments, with the conventions of
 * PROTOCOL.md section 5: field names are the proto names (traceSegmentId,
 * parentSpanId...), enums are their names as strings ("Entry", "Http",
 * "CrossProcess"), int64 values are JSON numbers. Scalar fields are
 * always written, default or not; repeated fields only when they have
 * items. The span contents match encode.c's protobuf exactly: the same
 * tags, log and reference.
 *
 * Strings are escaped for JSON: '"', '\\' and every control character
 * (below 0x20, and DEL), and bytes that are not valid UTF-8 become
 * U+FFFD, one per invalid byte, so the output is always valid UTF-8 JSON
 * whatever the application put on the wire. Every function appends to
 * the buffer and returns 0 or -ENOMEM (the buffer may then hold part of
 * the value). */
#ifndef SW_REPORTER_JSON_H
#define SW_REPORTER_JSON_H

#include "assemble.h"
#include "buf.h"
#include "props.h"

/* A JSON string literal, quotes included. */
int sw_json_string(struct sw_buf *b, const char *s);

/* One SegmentObject as a JSON object. An encoded segment (s->enc) is
 * taken to hold what sw_json_single() made for it, and its bytes are
 * copied as they are. */
int sw_json_segment(struct sw_buf *b, const struct sw_seg *s,
                    const char *service, const char *instance);

/* The SegmentObject of the one-span segment of the record v views (a
 * record read where it is: struct sw_span_view): the bytes
 * sw_json_segment() appends for a segment holding a copy of that record
 * alone, not size-limited. On -ENOMEM the buffer is left as it was. */
int sw_json_single(struct sw_buf *b, const struct sw_span_view *v,
                   const char *service, const char *instance);

/* A JSON array of n SegmentObjects: the body of /v3/segments. */
int sw_json_segments(struct sw_buf *b, struct sw_seg *const *segs, size_t n,
                     const char *service, const char *instance);

/* InstanceProperties: the body of /v3/management/reportProperties. */
int sw_json_properties(struct sw_buf *b, const char *service,
                       const char *instance, const struct sw_props *p);

/* InstancePingPkg: the body of /v3/management/keepAlive. */
int sw_json_ping(struct sw_buf *b, const char *service, const char *instance);

#endif
