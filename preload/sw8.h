/* sw8.h: the SkyWalking v3 cross-process propagation header.
 *
 * Pure, non-allocating, async-signal-safe. Format (PROTOCOL.md section 4):
 *   sample-traceId-parentSegmentId-parentSpanId-service-instance-endpoint-peer
 * where every field but sample and parentSpanId is standard base64 of the
 * UTF-8 text. */
#ifndef SW_PRELOAD_SW8_H
#define SW_PRELOAD_SW8_H

#include <stddef.h>

#include "sw_span.h"

#define SW8_MAX_LEN 2048 /* longer values are rejected (spec default cap) */

/* Decodes value[0..len) into ref. 0 on success; -1 when malformed: not 8
 * fields, bad base64, empty field, non-numeric or negative span id, a
 * decoded field that does not fit, or len > SW8_MAX_LEN. On failure *ref
 * is left zeroed. */
int sw8_decode(const char *value, size_t len, struct sw_ref *ref);

/* Encodes the header value into out (NUL-terminated). Returns its length,
 * or -1 (out left empty) when cap is too small, span_id is negative or a
 * string is empty or NULL: a value with an empty field would be rejected
 * downstream. */
int sw8_encode(char *out, size_t cap, const char *trace_id,
               const char *segment_id, int span_id, const char *service,
               const char *instance, const char *endpoint, const char *peer);

/* The same value in two steps, for a process that sends many: the middle
 * part, base64(service) "-" base64(instance) "-", which changes only with
 * the instance name (after fork), made once by sw8_encode_svc() (its
 * length, or -1 when cap is too small or a name is empty or NULL), then
 * every value from it by sw8_encode_pre(), which returns what sw8_encode()
 * returns for the same arguments. SW8_SVC_MAX holds the middle of any
 * service and instance names of a struct sw_config. */
#define SW8_SVC_MAX (2 * ((SW_NAME_MAX + 2) / 3 * 4 + 1) + 1)
int sw8_encode_svc(char *out, size_t cap, const char *service,
                   const char *instance);
int sw8_encode_pre(char *out, size_t cap, const char *trace_id,
                   const char *segment_id, int span_id, const char *svc,
                   size_t svc_len, const char *endpoint, const char *peer);

/* Standard base64 (alphabet +/, '=' padding). Return the output length or
 * -1 (cap too small / invalid input). Decoding rejects bad characters and
 * bad padding; out is NUL-terminated in both. */
int sw_b64_encode(char *out, size_t cap, const char *in, size_t n);
int sw_b64_decode(char *out, size_t cap, const char *in, size_t n);

#endif
