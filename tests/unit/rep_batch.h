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

/* How many segments of each kind rep_batch() saw. */
struct rep_batch_kinds {
  unsigned enc;   /* encoded on arrival */
  unsigned heap;  /* of those, longer than a recycled block holds */
  unsigned multi; /* of two spans, kept as records */
};

/* One round: 1 to 12 arrivals (each made by arrival(); one in four
 * turned into a segment of two spans, its child then its root) into enc,
 * which encodes one-span segments, and recs, which keeps records; then
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
      sw_asm_add(enc, &r, 10);
      sw_asm_add(recs, &r, 10);
      arrival(&r);
      snprintf(r.segment_id, sizeof(r.segment_id), "multi-%d-%d", round, i);
      r.nspans = 2;
    }
    sw_asm_add(enc, &r, 10);
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
