/* assemble.h: turns span records (in ring order) into whole segments.
 *
 * A segment is the set of records sharing a segment_id. Its root record
 * (span_id 0) carries nspans, the number of span ids the segment
 * allocated, and usually arrives last because the entry span ends after
 * its children. A segment is finished when its root is there and nspans
 * records have arrived, or, with spans missing, when a short grace timer
 * started by the root runs out (counted in segments_partial). Records
 * whose root never comes are useless to the backend (it needs span 0) and
 * are dropped after a longer grace (counted in segments_dropped).
 *
 * A record that is a whole segment by itself (the root, announcing one
 * span: what a served request without outgoing calls makes) is finished
 * on arrival without going through the table. When the transport lends
 * an encoder (sw_asm_set_encoder()), the segment is encoded right away
 * and the queue holds its bytes, a few hundred, inline after the struct
 * in a block recycled through a free list: the record is read once,
 * where it arrived (packed, in the ring: sw_asm_add_packed()),
 * and never copied or unpacked, and the encoder writes straight into the
 * block when its bytes fit. Without one (or when the encoder fails) the
 * segment holds a copy of its one record inline, recycled the same way.
 *
 * Finished segments wait in a FIFO queue for the transport. Memory is
 * bounded everywhere: open segments (the oldest is evicted when the table
 * is full), spans per segment, and the queue by count and by bytes (the
 * oldest is dropped when it is full). Not thread-safe: the reporter
 * thread owns it. */
#ifndef SW_REPORTER_ASSEMBLE_H
#define SW_REPORTER_ASSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "sw_span.h"
#include "sw_stats.h"

struct sw_asm_limits {
  uint32_t max_open;       /* segments being assembled */
  uint32_t max_queued;     /* finished segments waiting to be sent */
  size_t max_queued_bytes; /* memory of those, records included */
  uint32_t max_spans;      /* records kept per segment */
  int grace_ms;            /* root arrived, children missing */
  int orphan_ms;           /* children arrived, no root */
  /* Tests only: every record through the table, no one-span shortcut, so
   * that the two paths can be compared. 0 in the defaults. */
  int general_only;
};

/* A record as the encoders read it, wherever it is: in a struct
 * sw_span_rec (sw_span_view_rec()) or packed where it arrived, in the
 * ring (sw_span_view_packed()). The numbers are the record's, in
 * its layout (filled as one block); each string is seen where it is,
 * never copied: its len bytes at s, cut as sw_span_copy() would cut it.
 * s[len] is the string's terminator, or, in a record's field that has
 * none, the field's last byte; and s[0 .. min(cap, len + 16)) may be
 * read, cap being the size of the record's field the string belongs to
 * (SW_VIEW_CAP): in a record's field, or in a packed string's window
 * (sw_span.h), so block copies need no bounds of their own. The ref is
 * filled only when has_ref. */
struct sw_span_vstr {
  const char *s;
  size_t len;
};

#define SW_VIEW_STR(f) struct sw_span_vstr f;
struct sw_span_view {
  SW_SPAN_NUMBERS
  SW_SPAN_STRINGS(SW_VIEW_STR)
  struct {
    int32_t parent_span_id;
    SW_REF_STRINGS(SW_VIEW_STR)
  } ref;
};
#undef SW_VIEW_STR

_Static_assert(offsetof(struct sw_span_view, end_ms) + sizeof(int64_t) ==
                       SW_SPAN_NUM_LEN &&
                   offsetof(struct sw_span_view, end_ms) ==
                       offsetof(struct sw_span_packed, end_ms) &&
                   offsetof(struct sw_span_view, has_ref) ==
                       offsetof(struct sw_span_packed, has_ref),
               "a view starts with the record's numbers");

/* The size of the record's field f (trace_id, ref.peer...): what may be
 * read at a view's string f. */
#define SW_VIEW_CAP(f) sizeof(((struct sw_span_rec *)0)->f)

static inline void
sw_span_view_rec(struct sw_span_view *v, const struct sw_span_rec *r)
{
  memcpy(v, &r->span_id, SW_SPAN_NUM_LEN);
#define SW_VIEW_REC(f)                                                 \
  v->f.s = r->f;                                                       \
  v->f.len = sw_span_str_len(r->f, sizeof(r->f));
#define SW_VIEW_REC_REF(f) SW_VIEW_REC(ref.f)
  SW_SPAN_STRINGS(SW_VIEW_REC)
  if (r->has_ref) {
    v->ref.parent_span_id = r->ref.parent_span_id;
    SW_REF_STRINGS(SW_VIEW_REC_REF)
  }
#undef SW_VIEW_REC_REF
#undef SW_VIEW_REC
}

/* The strings of a packed record are back to back, each with its
 * terminator: their places follow from the lengths in its head. */
static inline void
sw_span_view_packed(struct sw_span_view *v, const struct sw_span_packed *p)
{
  const char *s = p->str;

  memcpy(v, p, SW_SPAN_NUM_LEN);
#define SW_VIEW_PACKED(f, lens)                                        \
  v->f.s = s;                                                          \
  v->f.len = p->lens;                                                  \
  s += v->f.len + 1;
#define SW_VIEW_PACKED_SPAN(f) SW_VIEW_PACKED(f, len.f)
#define SW_VIEW_PACKED_REF(f) SW_VIEW_PACKED(ref.f, ref_len.f)
  SW_SPAN_STRINGS(SW_VIEW_PACKED_SPAN)
  if (p->has_ref) {
    v->ref.parent_span_id = p->ref_parent_span_id;
    SW_REF_STRINGS(SW_VIEW_PACKED_REF)
  }
#undef SW_VIEW_PACKED_REF
#undef SW_VIEW_PACKED_SPAN
#undef SW_VIEW_PACKED
}

/* t's string as a C string: t->s itself when its terminator follows it,
 * else its len bytes copied to tmp (room for len + 1) and terminated.
 * For the encoders' general ways (a string that is not ASCII), which
 * want one. */
static inline const char *
sw_span_vstr_c(const struct sw_span_vstr *t, char *tmp)
{
  if (__builtin_expect(t->s[t->len] == '\0', 1))
    return t->s;
  memcpy(tmp, t->s, t->len);
  tmp[t->len] = '\0';
  return tmp;
}

/* What a transport lends the assembler to encode one-span segments on
 * arrival: the bytes it sends for the one-span segment of the record v
 * views (read where it is, see struct sw_span_view), written straight to
 * dst when they fit in its room bytes (dst may be NULL, room 0). Returns
 * their length (> 0) when they were written to dst; 0 when they did not
 * fit there, or may not have, and were appended to out instead (what is
 * left at dst is then of no use); or a negative errno (out left as it
 * was): the segment then keeps a copy of its record. */
typedef long (*sw_asm_encode_fn)(void *ctx, const struct sw_span_view *v,
                                 uint8_t *dst, size_t room,
                                 struct sw_buf *out);

/* One segment. While open it lives in the hash table and the open list;
 * once finished, in the queue. The consumer of sw_asm_pop() owns it. */
struct sw_seg {
  struct sw_seg *hnext;        /* hash chain while open */
  struct sw_seg *prev, *next;  /* open list, then the queue (next only) */
  uint32_t hash;
  int64_t first_ms;            /* arrival of the first record */
  int64_t deadline_ms;         /* the grace timer of whichever kind */
  int32_t nspans;              /* announced by the root; 0 before it */
  uint8_t has_root;
  uint8_t partial;             /* finished by the timer, spans missing */
  uint8_t size_limited;        /* records beyond max_spans were dropped */
  uint8_t inline_spans;        /* spans is the one record right after this
                                * struct, in the same allocation */
  uint32_t seen;               /* records that arrived, kept or not */
  uint32_t n, cap;             /* records held, and room for (cap is 0
                                * when encoded) */
  /* Sorted by span_id once finished. A record's ref is meaningful only
   * when its has_ref is set (it is not copied otherwise). NULL when the
   * segment is encoded. */
  struct sw_span_rec *spans;
  /* An encoded one-span segment (n is 1, spans NULL): the enc_len bytes
   * the transport's encoder made (sw_asm_encode_fn), right after this
   * struct in a block with room for enc_cap of them. NULL otherwise.
   * Only the transport that lent the encoder knows what they are. */
  const uint8_t *enc;
  uint32_t enc_len, enc_cap;
};

/* Recycled segments kept for reuse, at most, of each kind: with an
 * inline record, or with room for SW_ASM_ENC_INLINE encoded bytes (an
 * encoded segment longer than that gets a block of its own size, freed
 * after use). The room fits a served request's segment in protobuf
 * (250 to 400 bytes) in a block of 512. */
#define SW_ASM_FREE_MAX 1024
#define SW_ASM_ENC_BLOCK 512
#define SW_ASM_ENC_INLINE (SW_ASM_ENC_BLOCK - sizeof(struct sw_seg))

struct sw_asm {
  struct sw_asm_limits lim;
  struct sw_stats *stats;      /* may be NULL (nothing is counted) */
  struct sw_seg **buckets;
  uint32_t mask;
  struct sw_seg *open_head, *open_tail;
  uint32_t nopen;
  struct sw_seg *q_head, *q_tail;
  uint32_t nqueued;
  size_t qbytes;
  int64_t next_deadline;       /* earliest open deadline, INT64_MAX if none */
  struct sw_seg *free_list;    /* inline-record segments for reuse */
  uint32_t nfree;
  struct sw_seg *free_enc;     /* SW_ASM_ENC_BLOCK blocks for reuse */
  uint32_t nfree_enc;
  sw_asm_encode_fn encode;     /* NULL: one-span segments keep records */
  void *encode_ctx;
  struct sw_buf scratch;       /* what encode() appends to */
  /* A packed record that does not make a one-span segment, unpacked
   * (sw_asm_add_packed()): one for them all, so its lines stay in L1. */
  struct sw_span_rec unpacked;
  /* Why segments were dropped here (each also counts in
   * stats->segments_dropped): the queue was full (the oldest goes), the
   * root never came, or memory ran out. */
  uint64_t dropped_full, dropped_noroot, dropped_nomem;
};

/* The defaults: 4096 open, 10000 queued within 32 MB, 1024 spans per
 * segment, 2 s partial grace, 60 s orphan grace. */
void sw_asm_limits_default(struct sw_asm_limits *lim);

/* 0, or -ENOMEM / -EINVAL. */
int sw_asm_init(struct sw_asm *a, const struct sw_asm_limits *lim,
                struct sw_stats *stats);
void sw_asm_destroy(struct sw_asm *a);

/* From now on, one-span segments are encoded by fn(ctx, ...) on
 * arrival (fn NULL: they keep their record). Segments made before stay
 * as they are. Not with general_only, which keeps every record through
 * the table. */
void sw_asm_set_encoder(struct sw_asm *a, sw_asm_encode_fn fn, void *ctx);

/* Adds one record that arrived at now_ms. */
void sw_asm_add(struct sw_asm *a, const struct sw_span_rec *r, int64_t now_ms);
/* The same for a record packed where it arrived (in the ring): a
 * one-span segment is encoded from it in place, any other record is
 * unpacked and added as sw_asm_add() adds it. The same segments, and the
 * same bytes, either way. */
void sw_asm_add_packed(struct sw_asm *a, const struct sw_span_packed *p,
                       int64_t now_ms);
/* Runs the grace timers: cheap when nothing is due. */
void sw_asm_expire(struct sw_asm *a, int64_t now_ms);
/* At exit: finishes every open segment that has a root (as partial when
 * spans are missing) and drops the others. */
void sw_asm_close_all(struct sw_asm *a);

/* The oldest finished segment, or NULL. Give it back with
 * sw_asm_recycle(), or free it with sw_seg_free(). */
struct sw_seg *sw_asm_pop(struct sw_asm *a);
/* Frees a segment that came from a's sw_asm_pop(), keeping its memory
 * for a later segment when it can. */
void sw_asm_recycle(struct sw_asm *a, struct sw_seg *s);
/* Bytes a finished segment accounts for in the queue budget. */
size_t sw_seg_bytes(const struct sw_seg *s);
void sw_seg_free(struct sw_seg *s);

static inline uint32_t
sw_asm_queued(const struct sw_asm *a)
{
  return a->nqueued;
}

static inline uint32_t
sw_asm_open(const struct sw_asm *a)
{
  return a->nopen;
}

/* When sw_asm_expire() next has work to do (INT64_MAX: never). */
static inline int64_t
sw_asm_next_deadline(const struct sw_asm *a)
{
  return a->next_deadline;
}

#endif
