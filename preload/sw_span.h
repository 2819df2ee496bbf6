/* sw_span.h: the span record, the one unit of data that flows from the
 * hooks (producers) through the ring to the reporter (consumer).
 *
 * A record is fixed-size and self-contained: no pointers, so it can be
 * kept by the reporter after the producing connection is long gone.
 * Strings are NUL-terminated and truncated to their field size. In the
 * ring it travels packed (struct sw_span_packed, below): the same
 * numbers, its strings back to back. */
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

/* A span's numbers, in one layout for every form of a span (the record,
 * the packed record, the reporter's view of either), so that they are
 * copied as one block (SW_SPAN_NUM_LEN).
 * - span_id: 0 for the segment's root; parent_span_id: -1 for the root.
 * - nspans: on the root span only, how many spans the segment allocated
 *   (ids 0..nspans-1). The reporter emits the segment once it holds them
 *   all, or when a grace timer runs out. 0 on non-root spans.
 * - kind: enum sw_span_kind; layer: enum sw_span_layer.
 * - status: http.status_code, 0 when none was seen.
 * - start_ms, end_ms: epoch milliseconds. */
#define SW_SPAN_NUMBERS                                                \
  int32_t span_id;                                                     \
  int32_t parent_span_id;                                              \
  int32_t nspans;                                                      \
  uint8_t kind;                                                        \
  uint8_t layer;                                                       \
  uint8_t is_error;                                                    \
  uint8_t has_ref;                                                     \
  int32_t component;                                                   \
  int32_t status;                                                      \
  int64_t start_ms;                                                    \
  int64_t end_ms;

struct sw_span_rec {
  char trace_id[SW_ID_MAX];
  char segment_id[SW_ID_MAX];
  SW_SPAN_NUMBERS
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
 * cut at the field's last byte, as strnlen(s, cap - 1) would cut it.
 * Returns the length of the string copied (the terminator's offset),
 * read off the block that holds the terminator: no second pass. Every
 * store lands in d[0 .. cap): a destination with cap bytes of room
 * after d is enough, whatever the length. */
static inline size_t
sw_span_str_copy_len(char *d, const char *s, size_t cap)
{
#if defined(__SSE2__)
  if (cap >= 16) { /* a constant: every field is a fixed array */
    const __m128i zero = _mm_setzero_si128();
    size_t o;
    __m128i v;
    unsigned m;
    /* The first block on its own, laid out as the usual case (a method,
     * a path, a peer, an empty errlog end in it): a record's strings then
     * run as one straight line of code, a few cache lines of it. */
    v = _mm_loadu_si128((const __m128i *)(const void *)s);
    _mm_storeu_si128((__m128i *)(void *)d, v);
    m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
    if (__builtin_expect(m != 0, 1))
      return (size_t)__builtin_ctz(m);
    /* The rest unrolled (the trip count is a constant): a block is then
     * a load, a store, a compare and a branch, with no loop counter. */
#pragma GCC unroll 4
    for (o = 16; o + 16 <= cap; o += 16) {
      v = _mm_loadu_si128((const __m128i *)(const void *)(s + o));
      _mm_storeu_si128((__m128i *)(void *)(d + o), v);
      m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
      if (m != 0)
        return o + (size_t)__builtin_ctz(m);
    }
    if (o < cap) {
      /* The last, partial block, taken as the field's last 16 bytes: the
       * ones it shares with the block before hold no terminator. */
      v = _mm_loadu_si128((const __m128i *)(const void *)(s + cap - 16));
      _mm_storeu_si128((__m128i *)(void *)(d + cap - 16), v);
      m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
      if (m != 0)
        return cap - 16 + (size_t)__builtin_ctz(m);
    }
    d[cap - 1] = '\0';
    return cap - 1;
  }
#endif
  size_t n = strnlen(s, cap - 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return n;
}

/* The same, for callers that do not need the length (inlined, the
 * compiler drops its computation). */
static inline void
sw_span_str_copy(char *d, const char *s, size_t cap)
{
  (void)sw_span_str_copy_len(d, s, cap);
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

/* The length of a string of a record read where it is, as sw_span_copy()
 * would cut it: strnlen(s, cap - 1). The usual string, one that ends in
 * its first 16 bytes, is measured with one block compare. For readers
 * that skip the copy (the reporter's encoders, through a view of the
 * record's strings), so that both ways see the same bytes. */
static inline size_t
sw_span_str_len(const char *s, size_t cap)
{
#if defined(__SSE2__)
  if (cap >= 16) { /* a constant: every field is a fixed array */
    unsigned m = (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)s),
                       _mm_setzero_si128()));

    if (__builtin_expect(m != 0, 1))
      return (size_t)__builtin_ctz(m);
  }
#endif
  return strnlen(s, cap - 1);
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

/* ------------------------------------------------------------------
 * The packed form: what the ring holds.
 *
 * A served request's strings fill a tenth of their fields, but at the
 * fields' fixed offsets they touch 7 cache lines of a record; the
 * producer writes those lines on the application's thread and the
 * reporter reads them again. Packed, the numbers and the strings'
 * lengths come first (a 70-byte head), then the strings back to back,
 * each with its terminator, in a fixed order: the span's, the most
 * used first, then the ref's, only when has_ref. A served request's
 * record, the ring's header word included, fits in 4 cache lines.
 *
 * A packed string's window: the string of length len at s, packed from a
 * field of cap bytes, may be read and written in s[0 .. min(cap, len +
 * 16)), never more than 15 bytes past its terminator. The block copies
 * work in those bounds: sw_span_str_copy_len() (packing) and
 * sw_span_blk_copy() (unpacking) stop with the block that holds the
 * terminator (or at the field's end), and so do the reporter's readers
 * (sw_copy_high(), utf8.h). So a
 * record whose last terminator is followed by SW_SPAN_PACKED_SLACK
 * bytes of its own (the ring keeps them, ring.c) holds every load of
 * its strings, whatever their lengths. A struct sw_span_packed holds
 * every load and store: its arena has room for every string at its
 * longest, and a string at offset o, o at most the sum of the caps
 * before it, ends its window inside it (so the ring packs a record into
 * one, on the stack, and copies the bytes used). The bytes a block writes past a terminator
 * are overwritten by the next string, or past the last one are
 * unspecified, like the bytes after a terminator in a record's field. */

#define SW_SPAN_STR_CAPS                                               \
  (2 * SW_ID_MAX + SW_METHOD_MAX + SW_OP_MAX + SW_URL_MAX + SW_PEER_MAX + \
   SW_ERRLOG_MAX)
#define SW_REF_STR_CAPS                                                \
  (2 * SW_ID_MAX + 2 * SW_NAME_MAX + SW_OP_MAX + SW_PEER_MAX)
#define SW_SPAN_PACKED_SLACK 16

#define SW_SPAN_PACKED_LEN(f) uint16_t f;

struct sw_span_packed {
  /* sw_span_rec's numbers: packed and unpacked as one block. */
  SW_SPAN_NUMBERS
  /* Valid when has_ref, as the ref's strings are. */
  int32_t ref_parent_span_id;
  /* Each string's length, its terminator not counted. */
  struct {
    SW_SPAN_STRINGS(SW_SPAN_PACKED_LEN)
  } len;
  struct {
    SW_REF_STRINGS(SW_SPAN_PACKED_LEN)
  } ref_len;
  /* The strings: SW_SPAN_STRINGS' order, then SW_REF_STRINGS'. */
  char str[SW_SPAN_STR_CAPS + SW_REF_STR_CAPS];
};

/* The numbers both forms share, copied as one block. */
#define SW_SPAN_NUM_LEN                                                \
  (offsetof(struct sw_span_rec, method) -                              \
   offsetof(struct sw_span_rec, span_id))
_Static_assert(offsetof(struct sw_span_packed, end_ms) + sizeof(int64_t) ==
                       SW_SPAN_NUM_LEN &&
                   offsetof(struct sw_span_packed, end_ms) ==
                       offsetof(struct sw_span_rec, end_ms) -
                           offsetof(struct sw_span_rec, span_id) &&
                   offsetof(struct sw_span_packed, has_ref) ==
                       offsetof(struct sw_span_rec, has_ref) -
                           offsetof(struct sw_span_rec, span_id),
               "the packed head starts with the record's numbers");
_Static_assert(offsetof(struct sw_span_packed, str) == 70,
               "the packed head is 70 bytes");

/* Packs src into dst; returns the bytes of dst used (the head and the
 * strings through the last terminator). Each string is cut as
 * sw_span_copy() cuts it, at its field's last byte. Runs on the
 * application's thread for every span: block copies to the terminator,
 * the length read off the block that holds it, every store in the
 * string's window (see above). */
static inline size_t
sw_span_pack(struct sw_span_packed *dst, const struct sw_span_rec *src)
{
  const int has_ref = src->has_ref;
  char *p = dst->str;
  size_t n;

  memcpy(dst, &src->span_id, SW_SPAN_NUM_LEN);
#define SW_PACK_STR(f)                                                 \
  n = sw_span_str_copy_len(p, src->f, sizeof(src->f));                 \
  dst->len.f = (uint16_t)n;                                            \
  p += n + 1;
  SW_SPAN_STRINGS(SW_PACK_STR)
#undef SW_PACK_STR
  if (has_ref) {
    dst->ref_parent_span_id = src->ref.parent_span_id;
#define SW_PACK_REF(f)                                                 \
  n = sw_span_str_copy_len(p, src->ref.f, sizeof(src->ref.f));         \
  dst->ref_len.f = (uint16_t)n;                                        \
  p += n + 1;
    SW_REF_STRINGS(SW_PACK_REF)
#undef SW_PACK_REF
  }
  return (size_t)(p - (char *)dst);
}

/* Copies n bytes (1 <= n <= cap, cap >= 16) from s into the field d of
 * cap bytes, in 16-byte blocks: the last block is moved back so that it
 * ends at the field's end if it would cross it. Reads s[0 .. min(cap,
 * n + 15)) at most and writes d[0 .. min(cap, n + 15)) at most: for a
 * string and its terminator (n = len + 1), its window (see above). */
static inline void
sw_span_blk_copy(char *d, const char *s, size_t n, size_t cap)
{
#if defined(__SSE2__)
  if (cap >= 16) { /* a constant: every field is a fixed array */
    /* n >= 1: the first block always (most strings fit in it). */
    _mm_storeu_si128((__m128i *)(void *)d,
                     _mm_loadu_si128((const __m128i *)(const void *)s));
    for (size_t o = 16; o < n; o += 16) {
      size_t b = o + 16 <= cap ? o : cap - 16;
      _mm_storeu_si128(
          (__m128i *)(void *)(d + b),
          _mm_loadu_si128((const __m128i *)(const void *)(s + b)));
    }
    return;
  }
#endif
  memcpy(d, s, n);
}

/* The record src was packed from, as a reader sees it (sw_span_same()
 * holds): the numbers, each string with its terminator, and the ref
 * only when has_ref (otherwise dst's ref is left as it was). */
static inline void
sw_span_unpack(struct sw_span_rec *dst, const struct sw_span_packed *src)
{
  const char *p = src->str;
  size_t n;

  memcpy(&dst->span_id, src, SW_SPAN_NUM_LEN);
#define SW_UNPACK_STR(f)                                               \
  n = (size_t)src->len.f + 1;                                          \
  sw_span_blk_copy(dst->f, p, n, sizeof(dst->f));                      \
  p += n;
  SW_SPAN_STRINGS(SW_UNPACK_STR)
#undef SW_UNPACK_STR
  if (src->has_ref) {
    dst->ref.parent_span_id = src->ref_parent_span_id;
#define SW_UNPACK_REF(f)                                               \
  n = (size_t)src->ref_len.f + 1;                                      \
  sw_span_blk_copy(dst->ref.f, p, n, sizeof(dst->ref.f));              \
  p += n;
    SW_REF_STRINGS(SW_UNPACK_REF)
#undef SW_UNPACK_REF
  }
}

#endif
