/* sw_span.h: the span record, the one unit of data that flows from the
 * hooks (producers) through the ring to the reporter (consumer).
 *
 * A record is fixed-size and self-contained: no pointers, so it can be
 * copied into a ring cell with memcpy and read by the reporter after the
 * producing connection is long gone. Strings are NUL-terminated and
 * truncated to their field size. */
#ifndef SW_PRELOAD_SW_SPAN_H
#define SW_PRELOAD_SW_SPAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SW_ID_MAX 64       /* trace / segment id (ours are 32 hex chars) */
#define SW_NAME_MAX 72     /* service / instance (OAP cuts at 70) */
#define SW_OP_MAX 160      /* operation name (OAP cuts endpoints at 150) */
#define SW_URL_MAX 288     /* http.url tag */
#define SW_PEER_MAX 96     /* host:port */
#define SW_METHOD_MAX 16
#define SW_ERRLOG_MAX 128  /* span log text on failure */

enum sw_span_kind { SW_SPAN_ENTRY = 0, SW_SPAN_EXIT = 1, SW_SPAN_LOCAL = 2 };
enum sw_span_layer { SW_LAYER_UNKNOWN = 0, SW_LAYER_HTTP = 3 };

/* Component ids from the OAP's component-libraries.yml. */
#define SW_COMPONENT_HTTP 49        /* generic HTTP server */
#define SW_COMPONENT_HTTPCLIENT 2   /* generic HTTP client */
#define SW_COMPONENT_CURL 8002      /* libcurl transfers */

/* A CrossProcess reference, from an incoming sw8 header. */
struct sw_ref {
  char trace_id[SW_ID_MAX];
  char parent_segment_id[SW_ID_MAX];
  int32_t parent_span_id;
  char parent_service[SW_NAME_MAX];
  char parent_instance[SW_NAME_MAX];
  char parent_endpoint[SW_OP_MAX];
  char peer[SW_PEER_MAX]; /* networkAddressUsedAtPeer */
};

struct sw_span_rec {
  char trace_id[SW_ID_MAX];
  char segment_id[SW_ID_MAX];
  int32_t span_id;        /* 0 for the segment's root */
  int32_t parent_span_id; /* -1 for the root */
  /* On the root span only: how many spans the segment allocated (ids
   * 0..nspans-1). The reporter emits the segment once it holds them all,
   * or when a grace timer runs out. 0 on non-root spans. */
  int32_t nspans;
  uint8_t kind;     /* enum sw_span_kind */
  uint8_t layer;    /* enum sw_span_layer */
  uint8_t is_error;
  uint8_t has_ref;
  int32_t component;
  int32_t status;   /* http.status_code, 0 when none was seen */
  int64_t start_ms; /* epoch milliseconds */
  int64_t end_ms;
  char method[SW_METHOD_MAX];
  char op[SW_OP_MAX];
  char url[SW_URL_MAX];
  char peer[SW_PEER_MAX];
  char errlog[SW_ERRLOG_MAX]; /* "" when none */
  struct sw_ref ref;          /* valid when has_ref */
};

/* Copies what a reader of a record may look at: the ids and numbers,
 * each string through its terminator, and the ref only when has_ref.
 * What follows a string's terminator in its field is unspecified (it
 * may keep dst's bytes or take src's): readers stop at the terminator
 * (or mask what follows it). A record copied this way touches the cache
 * lines its strings use, not all 22 of them (a served request's strings
 * fill a tenth of their fields).
 *
 * A string is copied 16 bytes at a time until a block holds its
 * terminator, every load and store inside the field (cap >= 16, the
 * size of the smallest field): no strnlen and no memcpy call, a few
 * instructions per block. A string with no terminator in its field is
 * cut at the field's last byte, as strnlen(s, cap - 1) would cut it. */
static inline void
sw_span_str_copy(char *d, const char *s, size_t cap)
{
#if defined(__SSE2__)
  if (cap >= 16) { /* a constant: every field is a fixed array */
    const __m128i zero = _mm_setzero_si128();
    size_t o;
    __m128i v;
    for (o = 0; o + 16 <= cap; o += 16) {
      v = _mm_loadu_si128((const __m128i *)(const void *)(s + o));
      _mm_storeu_si128((__m128i *)(void *)(d + o), v);
      if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)) != 0)
        return;
    }
    if (o < cap) {
      /* The last, partial block, taken as the field's last 16 bytes: the
       * ones it shares with the block before hold no terminator. */
      v = _mm_loadu_si128((const __m128i *)(const void *)(s + cap - 16));
      _mm_storeu_si128((__m128i *)(void *)(d + cap - 16), v);
      if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)) != 0)
        return;
    }
    d[cap - 1] = '\0';
    return;
  }
#endif
  size_t n = strnlen(s, cap - 1);
  memcpy(d, s, n);
  d[n] = '\0';
}

#define SW_SPAN_STRINGS(X)                                             \
  X(trace_id) X(segment_id) X(method) X(op) X(url) X(peer) X(errlog)
#define SW_REF_STRINGS(X)                                              \
  X(trace_id) X(parent_segment_id) X(parent_service) X(parent_instance) \
  X(parent_endpoint) X(peer)

/* The record's head, from trace_id to the end of method: the short
 * fields, copied whole (a dozen 16-byte moves, no test), then each of
 * its strings cut at its field's last byte as sw_span_str_copy() would
 * cut it. The long ones follow, each through its terminator. */
#define SW_SPAN_HEAD_LEN offsetof(struct sw_span_rec, op)
_Static_assert(offsetof(struct sw_span_rec, trace_id) == 0 &&
                   offsetof(struct sw_span_rec, method) + SW_METHOD_MAX ==
                       SW_SPAN_HEAD_LEN,
               "the record's head is trace_id .. method");

static inline void
sw_span_copy(struct sw_span_rec *dst, const struct sw_span_rec *src)
{
  memcpy(dst, src, SW_SPAN_HEAD_LEN);
  dst->trace_id[sizeof(dst->trace_id) - 1] = '\0';
  dst->segment_id[sizeof(dst->segment_id) - 1] = '\0';
  dst->method[sizeof(dst->method) - 1] = '\0';
  sw_span_str_copy(dst->op, src->op, sizeof(dst->op));
  sw_span_str_copy(dst->url, src->url, sizeof(dst->url));
  sw_span_str_copy(dst->peer, src->peer, sizeof(dst->peer));
  sw_span_str_copy(dst->errlog, src->errlog, sizeof(dst->errlog));
  if (src->has_ref) {
    dst->ref.parent_span_id = src->ref.parent_span_id;
#define SW_COPY_REF(f)                                                 \
  sw_span_str_copy(dst->ref.f, src->ref.f, sizeof(dst->ref.f));
    SW_REF_STRINGS(SW_COPY_REF)
#undef SW_COPY_REF
  }
}

/* 1 when a reader sees the same record in a and b (see sw_span_copy). */
static inline int
sw_span_same(const struct sw_span_rec *a, const struct sw_span_rec *b)
{
  if (memcmp(&a->span_id, &b->span_id,
             offsetof(struct sw_span_rec, method) -
                 offsetof(struct sw_span_rec, span_id)) != 0)
    return 0;
#define SW_SAME_STR(f)                                                 \
  if (strncmp(a->f, b->f, sizeof(a->f)) != 0)                          \
    return 0;
  SW_SPAN_STRINGS(SW_SAME_STR)
  if (a->has_ref) {
    if (a->ref.parent_span_id != b->ref.parent_span_id)
      return 0;
#define SW_SAME_REF(f) SW_SAME_STR(ref.f)
    SW_REF_STRINGS(SW_SAME_REF)
#undef SW_SAME_REF
  }
#undef SW_SAME_STR
  return 1;
}

#endif
