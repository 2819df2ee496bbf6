/* rep_batch.h: random batches of segments for the tests that compare the
 * reporter's two ways of holding a one-span segment, encoded on arrival
 * or as a copy of its record (test_rep_encode.c, test_rep_json.c). The
 * including file defines rnd(), its own random stream; static functions,
 * for tests only. */
#ifndef SW_TESTS_REP_BATCH_H
#define SW_TESTS_REP_BATCH_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "assemble.h"

static uint64_t rnd(void);

/* A number as a record may hold it: 0, small (negative too), an epoch
 * time in milliseconds, or anything. */
static int64_t
rnd_i64(void)
{
  switch (rnd() % 4) {
  case 0:
    return 0;
  case 1:
    return (int64_t)(rnd() % 300) - 10;
  case 2:
    return 1700000000000LL + (int64_t)(rnd() % 1000000);
  default:
    return (int64_t)rnd();
  }
}

/* r packed as the ring holds it (packed whole, the bytes used copied),
 * into an allocation of its own just as long as the ring's (the record
 * and its slack: the sanitizers catch a read beyond it); the slack is
 * garbage, as in reused lines. */
static const struct sw_span_packed *
rep_pack(const struct sw_span_rec *r)
{
  static struct sw_span_packed *p, whole;
  size_t used = sw_span_pack(&whole, r), n = used + SW_SPAN_PACKED_SLACK;

  free(p);
  p = malloc(n);
  cr_assert_not_null(p);
  for (size_t k = 0; k < n; k++)
    ((uint8_t *)p)[k] = (uint8_t)rnd();
  memcpy(p, &whole, used);
  return p;
}

/* An encoder under test (sw_asm_encode_fn) and what it did: wrote in
 * place (direct) or appended to the scratch buffer (out). */
struct rep_enc_count {
  sw_asm_encode_fn fn;
  void *ctx;
  unsigned direct, out;
};

static long
rep_counting_enc(void *ctx, const struct sw_span_view *v, uint8_t *dst,
                 size_t room, struct sw_buf *out)
{
  struct rep_enc_count *c = ctx;
  long n = c->fn(c->ctx, v, dst, room, out);

  cr_assert_leq(n, (long)room);
  if (n > 0)
    c->direct++;
  else if (n == 0)
    c->out++;
  return n;
}

/* How many segments of each kind rep_batch() saw. */
struct rep_batch_kinds {
  unsigned enc;   /* encoded on arrival */
  unsigned heap;  /* of those, longer than a recycled block holds */
  unsigned multi; /* of two spans, kept as records */
};

/* After many rounds: every kind of segment was seen, some encoded ones
 * longer than a block and most not. */
static void
rep_batch_all_kinds_seen(const struct rep_batch_kinds *k)
{
  cr_assert_gt(k->enc, 100);
  cr_assert_gt(k->heap, 0);
  cr_assert_lt(k->heap, k->enc);
  cr_assert_gt(k->multi, 10);
}

/* One round: 1 to 12 arrivals (each made by arrival(); one in four
 * turned into a segment of two spans, its child then its root) into enc,
 * which encodes one-span segments from the records packed as they arrive
 * (sw_asm_add_packed()), and recs, which keeps records; then
 * up to max finished segments popped from each, in step, into x and y.
 * Checks that both queued the same number and that each segment of enc
 * holds what its kind says; counts the kinds into k. Returns how many
 * were popped. */
static size_t
rep_batch(struct sw_asm *enc, struct sw_asm *recs, int round,
          void (*arrival)(struct sw_span_rec *), struct sw_seg **x,
          struct sw_seg **y, size_t max, struct rep_batch_kinds *k)
{
  static struct sw_span_rec r;
  size_t n = 0;

  for (int i = (int)(rnd() % 12); i >= 0; i--) {
    arrival(&r);
    if (rnd() % 4 == 0) {
      snprintf(r.segment_id, sizeof(r.segment_id), "multi-%d-%d", round, i);
      r.span_id = 1;
      r.parent_span_id = 0;
      r.nspans = 0;
      sw_asm_add_packed(enc, rep_pack(&r), 10);
      sw_asm_add(recs, &r, 10);
      arrival(&r);
      snprintf(r.segment_id, sizeof(r.segment_id), "multi-%d-%d", round, i);
      r.nspans = 2;
    }
    sw_asm_add_packed(enc, rep_pack(&r), 10);
    sw_asm_add(recs, &r, 10);
  }
  cr_assert_eq(sw_asm_queued(enc), sw_asm_queued(recs));
  while (n < max && (x[n] = sw_asm_pop(enc)) != NULL) {
    y[n] = sw_asm_pop(recs);
    cr_assert_not_null(y[n]);
    if (x[n]->enc) {
      k->enc++;
      k->heap += x[n]->enc_cap != SW_ASM_ENC_INLINE;
      cr_assert_null(x[n]->spans);
      cr_assert_eq(x[n]->n, 1);
    } else {
      k->multi++;
      cr_assert_gt(x[n]->n, 1);
    }
    n++;
  }
  return n;
}

#endif
