/* assemble.c: segment assembly (see assemble.h).
 *
 * Open segments are found by segment_id through a chained hash table and
 * kept in a list in creation order, which is the eviction order when the
 * table is full. The grace timers are checked by walking that list, but
 * only when the earliest deadline (cached) has passed, so an idle tick
 * costs one comparison. */
#include "sw_common.h"

#include "assemble.h"

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

/* The inline record follows the struct: it must be aligned for it. */
static_assert(sizeof(struct sw_seg) % _Alignof(struct sw_span_rec) == 0,
              "inline record alignment");
static_assert(sizeof(struct sw_seg) < SW_ASM_ENC_BLOCK / 2,
              "room for encoded bytes in a block");

#define STAT_ADD(a, name, v)                                           \
  do {                                                                 \
    if ((a)->stats)                                                    \
      atomic_fetch_add_explicit(&(a)->stats->name, (v),                \
                                memory_order_relaxed);                 \
  } while (0)

void
sw_asm_limits_default(struct sw_asm_limits *lim)
{
  lim->max_open = 4096;
  lim->max_queued = 10000;
  lim->max_queued_bytes = (size_t)32 << 20;
  lim->max_spans = 1024;
  lim->grace_ms = 2000;
  /* Long, because a child's record is pushed when the child ends and the
   * root's only when the whole request ends: a slow request with an early
   * outgoing call keeps its child waiting that long. */
  lim->orphan_ms = 60000;
  lim->general_only = 0;
}

int
sw_asm_init(struct sw_asm *a, const struct sw_asm_limits *lim,
            struct sw_stats *stats)
{
  uint32_t nb = 16;

  memset(a, 0, sizeof(*a));
  if (!lim || lim->max_open == 0 || lim->max_queued == 0 ||
      lim->max_spans == 0)
    return -EINVAL;
  a->lim = *lim;
  a->stats = stats;
  /* Twice as many buckets as open segments keeps the chains short. */
  while (nb < lim->max_open * 2u && nb < (1u << 24))
    nb <<= 1;
  a->buckets = calloc(nb, sizeof(*a->buckets));
  if (!a->buckets)
    return -ENOMEM;
  a->mask = nb - 1;
  a->next_deadline = INT64_MAX;
  return 0;
}

void
sw_asm_set_encoder(struct sw_asm *a, sw_asm_encode_fn fn, void *ctx)
{
  a->encode = fn;
  a->encode_ctx = ctx;
}

void
sw_seg_free(struct sw_seg *s)
{
  if (!s)
    return;
  /* An encoded segment's bytes share its block (spans is NULL). */
  if (!s->inline_spans)
    free(s->spans);
  free(s);
}

/* A block from a free list of blocks of one size, or a new one of size
 * bytes (NULL when out of memory). */
static struct sw_seg *
block_take(struct sw_seg **list, uint32_t *n, size_t size)
{
  struct sw_seg *s = *list;

  if (!s)
    return malloc(size);
  *list = s->next;
  (*n)--;
  return s;
}

/* Keeps s on a free list for reuse: 1, or 0 when the list is full. */
static int
block_keep(struct sw_seg **list, uint32_t *n, struct sw_seg *s)
{
  if (*n >= SW_ASM_FREE_MAX)
    return 0;
  s->next = *list;
  *list = s;
  (*n)++;
  return 1;
}

void
sw_asm_recycle(struct sw_asm *a, struct sw_seg *s)
{
  if (!s)
    return;
  if (s->inline_spans && block_keep(&a->free_list, &a->nfree, s))
    return;
  if (s->enc && s->enc_cap == SW_ASM_ENC_INLINE &&
      block_keep(&a->free_enc, &a->nfree_enc, s))
    return;
  sw_seg_free(s);
}

size_t
sw_seg_bytes(const struct sw_seg *s)
{
  return sizeof(*s) + (size_t)s->cap * sizeof(struct sw_span_rec) +
         s->enc_cap;
}

/* Frees every segment of a list linked by next. */
static void
free_chain(struct sw_seg *s)
{
  struct sw_seg *next;

  for (; s; s = next) {
    next = s->next;
    sw_seg_free(s);
  }
}

void
sw_asm_destroy(struct sw_asm *a)
{
  free_chain(a->open_head);
  free_chain(a->q_head);
  free_chain(a->free_list);
  free_chain(a->free_enc);
  sw_buf_free(&a->scratch);
  free(a->buckets);
  memset(a, 0, sizeof(*a));
  a->next_deadline = INT64_MAX;
}

/* Segment ids are short strings (ours: 32 hex characters) terminated
 * within SW_ID_MAX bytes. Hashed eight bytes at a time up to the
 * terminator; the bytes after it are masked off, so equal ids hash alike
 * whatever follows their NUL in the record. */
static uint32_t
hash_id(const char *id)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t h = 0x9e3779b97f4a7c15ull, w, z;
  size_t i;

  for (i = 0; i < SW_ID_MAX; i += 8) {
    memcpy(&w, id + i, sizeof(w));
    /* The lowest flagged byte is the first NUL (little-endian). */
    z = (w - ones) & ~w & highs;
    if (z) {
      unsigned keep = (unsigned)__builtin_ctzll(z) / 8; /* bytes before */
      w = keep ? w & (~0ull >> (64 - 8 * keep)) : 0;
    }
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    if (z)
      break;
  }
  return (uint32_t)(h ^ (h >> 29));
#else
  /* FNV-1a. */
  uint32_t h = 2166136261u;
  size_t i;

  for (i = 0; i < SW_ID_MAX && id[i]; i++) {
    h ^= (uint8_t)id[i];
    h *= 16777619u;
  }
  return h;
#endif
}

static struct sw_seg *
find_open(struct sw_asm *a, const char *id, uint32_t h)
{
  struct sw_seg *s;

  for (s = a->buckets[h & a->mask]; s; s = s->hnext)
    if (s->hash == h && strncmp(s->spans[0].segment_id, id, SW_ID_MAX) == 0)
      return s;
  return NULL;
}

/* Takes s out of the hash table and the open list. */
static void
unlink_open(struct sw_asm *a, struct sw_seg *s)
{
  struct sw_seg **pp = &a->buckets[s->hash & a->mask];

  while (*pp != s)
    pp = &(*pp)->hnext;
  *pp = s->hnext;
  s->hnext = NULL;
  if (s->prev)
    s->prev->next = s->next;
  else
    a->open_head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    a->open_tail = s->prev;
  s->prev = s->next = NULL;
  a->nopen--;
}

static int
cmp_span_id(const void *x, const void *y)
{
  const struct sw_span_rec *p = x, *q = y;

  return (p->span_id > q->span_id) - (p->span_id < q->span_id);
}

/* Sorts the spans by id. A few records (the usual case: an exit child
 * arrived before its root) by insertion, which is stable like glibc's
 * merge sort and needs no temporary allocation; more with qsort(). */
static void
sort_spans(struct sw_seg *s)
{
  struct sw_span_rec tmp;
  uint32_t i, j;

  if (s->n > 16) {
    qsort(s->spans, s->n, sizeof(s->spans[0]), cmp_span_id);
    return;
  }
  for (i = 1; i < s->n; i++) {
    int32_t id = s->spans[i].span_id;

    for (j = i; j > 0 && s->spans[j - 1].span_id > id; j--)
      ;
    if (j == i)
      continue;
    sw_span_copy(&tmp, &s->spans[i]);
    memmove(&s->spans[j + 1], &s->spans[j], (i - j) * sizeof(tmp));
    sw_span_copy(&s->spans[j], &tmp);
  }
}

static void
drop_oldest_queued(struct sw_asm *a)
{
  struct sw_seg *s = sw_asm_pop(a);

  if (s) {
    sw_asm_recycle(a, s);
    a->dropped_full++;
    STAT_ADD(a, segments_dropped, 1);
  }
}

/* 1 when a segment of bytes does not fit in the queue as it is. */
static inline int
queue_full(const struct sw_asm *a, size_t bytes)
{
  return a->nqueued > 0 && (a->nqueued >= a->lim.max_queued ||
                            a->qbytes + bytes > a->lim.max_queued_bytes);
}

/* Newer data is worth more than older: makes room for a segment of bytes
 * by dropping the oldest finished segments. */
static __attribute__((noinline)) void
make_room(struct sw_asm *a, size_t bytes)
{
  while (queue_full(a, bytes))
    drop_oldest_queued(a);
}

/* Links the finished segment s, of sw_seg_bytes() bytes, at the tail of
 * the queue. */
static inline void
queue_tail(struct sw_asm *a, struct sw_seg *s, size_t bytes)
{
  if (SW_UNLIKELY(queue_full(a, bytes)))
    make_room(a, bytes);
  s->next = NULL;
  if (a->q_tail)
    a->q_tail->next = s;
  else
    a->q_head = s;
  a->q_tail = s;
  a->nqueued++;
  a->qbytes += bytes;
}

/* Moves an unlinked segment to the tail of the finished queue. */
static void
enqueue(struct sw_asm *a, struct sw_seg *s)
{
  /* Give back the slack of the doubling growth: the segment may wait in
   * the queue for a while. A failed shrink keeps the larger block. */
  if (s->cap > s->n && s->n > 0) {
    struct sw_span_rec *p = realloc(s->spans, s->n * sizeof(*p));
    if (p) {
      s->spans = p;
      s->cap = s->n;
    }
  }
  if (s->n > 1)
    sort_spans(s);
  queue_tail(a, s, sw_seg_bytes(s));
}

/* Ends an open segment: to the queue when it has a root, else dropped. */
static void
finish(struct sw_asm *a, struct sw_seg *s)
{
  unlink_open(a, s);
  if (!s->has_root) {
    sw_asm_recycle(a, s);
    a->dropped_noroot++;
    STAT_ADD(a, segments_dropped, 1);
    return;
  }
  if ((int64_t)s->seen < (int64_t)s->nspans) {
    s->partial = 1;
    STAT_ADD(a, segments_partial, 1);
  }
  enqueue(a, s);
}

static struct sw_seg *
new_open(struct sw_asm *a, uint32_t h, int64_t now_ms)
{
  struct sw_seg *s;

  if (a->nopen >= a->lim.max_open)
    finish(a, a->open_head);
  s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  /* Two records (an entry and one exit) is the common case. */
  s->cap = a->lim.max_spans < 2 ? a->lim.max_spans : 2;
  s->spans = malloc(s->cap * sizeof(*s->spans));
  if (!s->spans) {
    free(s);
    return NULL;
  }
  s->hash = h;
  s->first_ms = now_ms;
  s->deadline_ms = now_ms + a->lim.orphan_ms;
  s->hnext = a->buckets[h & a->mask];
  a->buckets[h & a->mask] = s;
  s->prev = a->open_tail;
  if (a->open_tail)
    a->open_tail->next = s;
  else
    a->open_head = s;
  a->open_tail = s;
  a->nopen++;
  return s;
}

/* An encoded segment's block of cap bytes for its len bytes, s (NULL
 * when out of memory), its fields as take_encoded() leaves them. */
static struct sw_seg *
enc_block(struct sw_seg *s, size_t len, size_t cap)
{
  if (!s)
    return NULL;
  memset(s, 0, sizeof(*s));
  s->enc = (const uint8_t *)(s + 1);
  s->enc_len = (uint32_t)len;
  s->enc_cap = (uint32_t)cap;
  return s;
}

/* The next recycled block, for writing: out of cache since the send that
 * recycled it (the application ran in between), and asked for while this
 * record is encoded, it is there when the next one is. Its first 384
 * bytes: the struct and a served request's encoded segment. */
static inline void
prefetch_block(const struct sw_seg *s)
{
  if (s)
    for (size_t i = 0; i < 384; i += 64)
      __builtin_prefetch((const char *)s + i, 1);
}

/* The one-span segment of the record v views, encoded. The encoder
 * writes straight into the recycled block on top of the free list when
 * the bytes fit (nearly always; the block is then taken off the list),
 * else into the scratch buffer, whose bytes are then copied into a
 * recycled block when they fit (an encoder that writes only there), or
 * into a block of their own size. The record is read once, where it is.
 * NULL when the encoder or the allocation failed: the caller then keeps
 * the record instead. */
static struct sw_seg *
take_encoded(struct sw_asm *a, const struct sw_span_view *v)
{
  struct sw_buf *b = &a->scratch;
  struct sw_seg *top = a->free_enc;
  long n;

  b->len = 0;
  n = a->encode(a->encode_ctx, v, top ? (uint8_t *)(top + 1) : NULL,
                top ? SW_ASM_ENC_INLINE : 0, b);
  if (SW_LIKELY(n > 0 && (size_t)n <= SW_ASM_ENC_INLINE && top)) {
    a->free_enc = top->next;
    a->nfree_enc--;
    prefetch_block(a->free_enc);
    return enc_block(top, (size_t)n, SW_ASM_ENC_INLINE);
  }
  if (n != 0 || b->len == 0 || b->len > UINT32_MAX / 2)
    return NULL;
  if (b->len <= SW_ASM_ENC_INLINE)
    top = enc_block(block_take(&a->free_enc, &a->nfree_enc, SW_ASM_ENC_BLOCK),
                    b->len, SW_ASM_ENC_INLINE);
  else
    top = enc_block(malloc(sizeof(*top) + b->len), b->len, b->len);
  if (top)
    memcpy(top + 1, b->data, b->len);
  return top;
}

/* The one-span segment holding a copy of the record r, or of the packed
 * record p when r is NULL. NULL when out of memory. */
static struct sw_seg *
take_record(struct sw_asm *a, const struct sw_span_rec *r,
            const struct sw_span_packed *p)
{
  struct sw_seg *s = block_take(&a->free_list, &a->nfree,
                                sizeof(*s) + sizeof(struct sw_span_rec));

  if (!s)
    return NULL;
  memset(s, 0, sizeof(*s));
  s->spans = (struct sw_span_rec *)(s + 1);
  s->inline_spans = 1;
  s->cap = 1;
  if (r)
    sw_span_copy(&s->spans[0], r);
  else
    sw_span_unpack(&s->spans[0], p);
  return s;
}

/* A root announcing one span, with no open segment of its id: the
 * general path would open a segment (evicting the oldest open one when the
 * table is full), keep the record, see it complete and finish it. The
 * same, without the table, and encoded when the transport lends an
 * encoder. The record is r, or, when r is NULL, the packed p. */
static void
add_single(struct sw_asm *a, const struct sw_span_rec *r,
           const struct sw_span_packed *p, uint32_t h, int64_t now_ms)
{
  struct sw_seg *s = NULL;

  if (a->nopen >= a->lim.max_open)
    finish(a, a->open_head);
  if (a->encode) {
    struct sw_span_view v;

    if (r)
      sw_span_view_rec(&v, r);
    else
      sw_span_view_packed(&v, p);
    s = take_encoded(a, &v);
  }
  if (!s)
    s = take_record(a, r, p);
  if (!s) {
    a->dropped_nomem++;
    STAT_ADD(a, segments_dropped, 1);
    return;
  }
  s->hash = h;
  s->first_ms = now_ms;
  s->deadline_ms = now_ms + a->lim.grace_ms;
  s->nspans = 1;
  s->has_root = 1;
  s->seen = 1;
  s->n = 1;
  /* Sorted and without slack: it has one record or none. */
  queue_tail(a, s, sw_seg_bytes(s));
}

/* r into the table: into s, the open segment of its id (hash h), or a new
 * one when s is NULL. */
static void
add_open(struct sw_asm *a, const struct sw_span_rec *r, uint32_t h,
         struct sw_seg *s, int64_t now_ms)
{
  if (!s) {
    s = new_open(a, h, now_ms);
    if (!s) {
      a->dropped_nomem++;
      STAT_ADD(a, segments_dropped, 1);
      return;
    }
  }
  s->seen++;
  if (s->n == s->cap && s->cap < a->lim.max_spans) {
    uint32_t cap = s->cap * 2 > a->lim.max_spans ? a->lim.max_spans
                                                 : s->cap * 2;
    struct sw_span_rec *p = realloc(s->spans, cap * sizeof(*p));
    if (p) {
      s->spans = p;
      s->cap = cap;
    }
  }
  if (s->n < s->cap) {
    sw_span_copy(&s->spans[s->n++], r);
  } else {
    s->size_limited = 1;
    /* Without the root the segment is worthless: it takes the place of
     * the last record kept. */
    if (r->span_id == 0)
      sw_span_copy(&s->spans[s->n - 1], r);
  }
  if (r->span_id == 0 && !s->has_root) {
    s->has_root = 1;
    s->nspans = r->nspans > 0 ? r->nspans : 1;
    s->deadline_ms = now_ms + a->lim.grace_ms;
  }
  if (s->has_root && (int64_t)s->seen >= (int64_t)s->nspans) {
    finish(a, s);
    return;
  }
  if (s->deadline_ms < a->next_deadline)
    a->next_deadline = s->deadline_ms;
}

/* A record that is a whole segment by itself (a root announcing one
 * span, the usual served request) takes the shortcut, unless tests ask
 * for the table. */
#define IS_SINGLE(a, r)                                                \
  ((r)->span_id == 0 && (r)->nspans <= 1 && !(a)->lim.general_only)

void
sw_asm_add(struct sw_asm *a, const struct sw_span_rec *r, int64_t now_ms)
{
  uint32_t h = 0;
  struct sw_seg *s = NULL;

  if (IS_SINGLE(a, r)) {
    /* Nothing open: nothing to look up. */
    if (a->nopen == 0) {
      add_single(a, r, NULL, 0, now_ms);
      return;
    }
    h = hash_id(r->segment_id);
    s = find_open(a, r->segment_id, h);
    if (!s) {
      add_single(a, r, NULL, h, now_ms);
      return;
    }
  } else {
    h = hash_id(r->segment_id);
    s = find_open(a, r->segment_id, h);
  }
  add_open(a, r, h, s, now_ms);
}

/* The packed record's segment id is its second string, terminated:
 * hash_id(), which reads it in 8-byte words up to the one that holds the
 * terminator, and find_open() read it as they read a record's field
 * (the five strings after it and the record's slack, sw_span.h, are more
 * than the 7 bytes a word may read past the terminator). */
static __attribute__((noinline)) void
add_packed_table(struct sw_asm *a, const struct sw_span_packed *p,
                 int64_t now_ms)
{
  const char *id = p->str + p->len.trace_id + 1;
  uint32_t h = 0;
  struct sw_seg *s = NULL;

  if (IS_SINGLE(a, p)) {
    h = hash_id(id);
    s = find_open(a, id, h);
    if (!s) {
      add_single(a, NULL, p, h, now_ms);
      return;
    }
    sw_span_unpack(&a->unpacked, p);
    add_open(a, &a->unpacked, h, s, now_ms);
    return;
  }
  sw_span_unpack(&a->unpacked, p);
  sw_asm_add(a, &a->unpacked, now_ms);
}

/* The usual record, a one-span segment with nothing open, goes straight
 * to add_single(); the rest may need the table. */
void
sw_asm_add_packed(struct sw_asm *a, const struct sw_span_packed *p,
                  int64_t now_ms)
{
  if (IS_SINGLE(a, p) && a->nopen == 0)
    add_single(a, NULL, p, 0, now_ms);
  else
    add_packed_table(a, p, now_ms);
}

void
sw_asm_expire(struct sw_asm *a, int64_t now_ms)
{
  struct sw_seg *s, *next;
  int64_t earliest = INT64_MAX;

  if (now_ms < a->next_deadline)
    return;
  for (s = a->open_head; s; s = next) {
    next = s->next;
    if (s->deadline_ms <= now_ms)
      finish(a, s);
    else if (s->deadline_ms < earliest)
      earliest = s->deadline_ms;
  }
  a->next_deadline = earliest;
}

void
sw_asm_close_all(struct sw_asm *a)
{
  while (a->open_head)
    finish(a, a->open_head);
  a->next_deadline = INT64_MAX;
}

struct sw_seg *
sw_asm_pop(struct sw_asm *a)
{
  struct sw_seg *s = a->q_head;

  if (!s)
    return NULL;
  a->q_head = s->next;
  if (!a->q_head)
    a->q_tail = NULL;
  s->next = NULL;
  a->nqueued--;
  a->qbytes -= sw_seg_bytes(s);
  return s;
}
