/* test_rep_assemble.c: segment assembly (reporter/assemble.c).
 *
 * Segments must come out whole whatever order their records arrive in,
 * with spans sorted by id; a root without all its children comes out
 * after the grace period, marked partial; children without a root are
 * dropped; every bound holds. Time is passed in explicitly, so nothing
 * here depends on the clock. */
#include "sw_common.h"

#include <criterion/criterion.h>
#include <stdio.h>

#include "assemble.h"

static struct sw_stats st;
static struct sw_asm as;

static struct sw_span_rec
rec(int seg, int span_id, int parent, int nspans)
{
  struct sw_span_rec r;

  memset(&r, 0, sizeof(r));
  snprintf(r.trace_id, sizeof(r.trace_id), "trace%d", seg);
  snprintf(r.segment_id, sizeof(r.segment_id), "seg%d", seg);
  r.span_id = span_id;
  r.parent_span_id = parent;
  r.nspans = span_id == 0 ? nspans : 0;
  r.kind = span_id == 0 ? SW_SPAN_ENTRY : SW_SPAN_EXIT;
  r.start_ms = 1000 + span_id;
  r.end_ms = 2000 - span_id;
  return r;
}

static void
add(int seg, int span_id, int parent, int nspans, int64_t now)
{
  struct sw_span_rec r = rec(seg, span_id, parent, nspans);

  sw_asm_add(&as, &r, now);
}

static void
setup_with(const struct sw_asm_limits *lim)
{
  memset(&st, 0, sizeof(st));
  cr_assert_eq(sw_asm_init(&as, lim, &st), 0);
}

static void
setup(void)
{
  struct sw_asm_limits lim;

  sw_asm_limits_default(&lim);
  setup_with(&lim);
}

static void
teardown(void)
{
  sw_asm_destroy(&as);
}

/* Pops one segment and checks it is seg number `seg` with spans 0..n-1
 * in order. */
static void
expect_segment(int seg, uint32_t n, int partial)
{
  char want[32];
  struct sw_seg *s = sw_asm_pop(&as);

  cr_assert_not_null(s, "segment %d expected", seg);
  snprintf(want, sizeof(want), "seg%d", seg);
  cr_assert_str_eq(s->spans[0].segment_id, want);
  cr_assert_eq(s->n, n, "seg%d has %u spans, want %u", seg, s->n, n);
  cr_assert_eq(s->partial, partial);
  for (uint32_t i = 0; i < s->n; i++) {
    cr_assert_str_eq(s->spans[i].segment_id, want);
    if (i > 0)
      cr_assert_lt(s->spans[i - 1].span_id, s->spans[i].span_id,
                   "spans sorted by id");
  }
  sw_seg_free(s);
}

TestSuite(assemble, .init = setup, .fini = teardown);

Test(assemble, defaults)
{
  struct sw_asm_limits lim;

  sw_asm_limits_default(&lim);
  cr_assert_eq(lim.max_open, 4096);
  cr_assert_eq(lim.max_queued, 10000);
  cr_assert_eq(lim.grace_ms, 2000);
  cr_assert_gt(lim.orphan_ms, lim.grace_ms);
  cr_assert_eq(sw_asm_next_deadline(&as), INT64_MAX);
}

Test(assemble, child_then_root)
{
  add(1, 1, 0, 0, 10);
  cr_assert_eq(sw_asm_queued(&as), 0);
  cr_assert_eq(sw_asm_open(&as), 1);
  add(1, 0, -1, 2, 11);
  cr_assert_eq(sw_asm_queued(&as), 1);
  cr_assert_eq(sw_asm_open(&as), 0);
  expect_segment(1, 2, 0);
  cr_assert_null(sw_asm_pop(&as));
  cr_assert_eq(st.segments_partial, 0);
  cr_assert_eq(st.segments_dropped, 0);
}

Test(assemble, root_then_children)
{
  add(1, 0, -1, 3, 10);
  add(1, 2, 0, 0, 11);
  cr_assert_eq(sw_asm_queued(&as), 0);
  add(1, 1, 0, 0, 12);
  cr_assert_eq(sw_asm_queued(&as), 1);
  expect_segment(1, 3, 0);
}

Test(assemble, single_span_segment)
{
  add(7, 0, -1, 1, 10);
  expect_segment(7, 1, 0);
}

Test(assemble, root_with_zero_nspans_counts_as_one)
{
  add(7, 0, -1, 0, 10);
  expect_segment(7, 1, 0);
}

/* Every arrival order of a 4-span segment yields it exactly once. */
Test(assemble, every_permutation)
{
  int perm[4] = {0, 1, 2, 3};
  int count = 0;

  /* Heap's algorithm, iterative. */
  int c[4] = {0};
  int i = 0;
  for (;;) {
    for (int k = 0; k < 4; k++) {
      add(count, perm[k], perm[k] == 0 ? -1 : 0, 4, 10 + k);
      cr_assert_eq(sw_asm_queued(&as), k == 3 ? 1u : 0u,
                   "permutation %d after %d records", count, k + 1);
    }
    expect_segment(count, 4, 0);
    count++;
    while (i < 4 && c[i] >= i) {
      c[i] = 0;
      i++;
    }
    if (i >= 4)
      break;
    {
      int j = (i % 2 == 0) ? 0 : c[i];
      int t = perm[j];
      perm[j] = perm[i];
      perm[i] = t;
    }
    c[i]++;
    i = 1;
  }
  cr_assert_eq(count, 24);
  cr_assert_eq(sw_asm_open(&as), 0);
}

Test(assemble, interleaved_segments_come_out_in_completion_order)
{
  add(1, 1, 0, 0, 10);
  add(2, 1, 0, 0, 10);
  add(3, 2, 0, 0, 10);
  add(2, 0, -1, 2, 11);
  add(3, 1, 0, 0, 11);
  add(1, 0, -1, 2, 12);
  add(3, 0, -1, 3, 13);
  cr_assert_eq(sw_asm_queued(&as), 3);
  expect_segment(2, 2, 0);
  expect_segment(1, 2, 0);
  expect_segment(3, 3, 0);
}

Test(assemble, partial_after_grace)
{
  struct sw_asm_limits lim = as.lim;

  add(1, 0, -1, 3, 1000);
  add(1, 2, 0, 0, 1001);
  cr_assert_eq(sw_asm_next_deadline(&as), 1000 + lim.grace_ms);
  sw_asm_expire(&as, 1000 + lim.grace_ms - 1);
  cr_assert_eq(sw_asm_queued(&as), 0);
  sw_asm_expire(&as, 1000 + lim.grace_ms);
  cr_assert_eq(sw_asm_queued(&as), 1);
  cr_assert_eq(st.segments_partial, 1);
  cr_assert_eq(sw_asm_next_deadline(&as), INT64_MAX);
  expect_segment(1, 2, 1);
}

/* The grace timer starts with the root, not with the first child. */
Test(assemble, grace_counts_from_root)
{
  struct sw_asm_limits lim = as.lim;

  add(1, 1, 0, 0, 0);
  add(1, 0, -1, 3, 5000);
  sw_asm_expire(&as, 5000 + lim.grace_ms - 1);
  cr_assert_eq(sw_asm_queued(&as), 0);
  sw_asm_expire(&as, 5000 + lim.grace_ms);
  expect_segment(1, 2, 1);
}

Test(assemble, late_child_after_partial_is_an_orphan)
{
  struct sw_asm_limits lim = as.lim;

  add(1, 0, -1, 2, 0);
  sw_asm_expire(&as, lim.grace_ms);
  expect_segment(1, 1, 1);
  add(1, 1, 0, 0, lim.grace_ms + 1);
  cr_assert_eq(sw_asm_open(&as), 1);
  sw_asm_expire(&as, lim.grace_ms + 1 + lim.orphan_ms);
  cr_assert_eq(sw_asm_open(&as), 0);
  cr_assert_eq(sw_asm_queued(&as), 0);
  cr_assert_eq(st.segments_dropped, 1);
}

Test(assemble, orphans_dropped)
{
  struct sw_asm_limits lim = as.lim;

  add(1, 1, 0, 0, 100);
  add(1, 2, 0, 0, 200);
  add(2, 1, 0, 0, 300);
  cr_assert_eq(sw_asm_next_deadline(&as), 100 + lim.orphan_ms);
  sw_asm_expire(&as, 100 + lim.orphan_ms - 1);
  cr_assert_eq(sw_asm_open(&as), 2);
  sw_asm_expire(&as, 100 + lim.orphan_ms);
  cr_assert_eq(sw_asm_open(&as), 1);
  cr_assert_eq(sw_asm_queued(&as), 0);
  cr_assert_eq(st.segments_dropped, 1);
  cr_assert_eq(sw_asm_next_deadline(&as), 300 + lim.orphan_ms);
  sw_asm_expire(&as, 300 + lim.orphan_ms);
  cr_assert_eq(sw_asm_open(&as), 0);
  cr_assert_eq(st.segments_dropped, 2);
  cr_assert_eq(st.segments_partial, 0);
}

Test(assemble, close_all_emits_rooted_and_drops_orphans)
{
  add(1, 0, -1, 3, 10);  /* rooted, incomplete */
  add(2, 1, 0, 0, 10);   /* orphan */
  add(3, 1, 0, 0, 10);   /* rooted, incomplete */
  add(3, 0, -1, 4, 11);
  sw_asm_close_all(&as);
  cr_assert_eq(sw_asm_open(&as), 0);
  cr_assert_eq(sw_asm_queued(&as), 2);
  cr_assert_eq(st.segments_partial, 2);
  cr_assert_eq(st.segments_dropped, 1);
  expect_segment(1, 1, 1);
  expect_segment(3, 2, 1);
  cr_assert_eq(sw_asm_next_deadline(&as), INT64_MAX);
}

Test(assemble, open_table_full_evicts_oldest)
{
  struct sw_asm_limits lim;

  sw_asm_destroy(&as);
  sw_asm_limits_default(&lim);
  lim.max_open = 4;
  setup_with(&lim);
  add(1, 0, -1, 2, 10);  /* oldest: rooted, so it comes out partial */
  add(2, 1, 0, 0, 11);   /* next: an orphan, so it is dropped */
  add(3, 1, 0, 0, 12);
  add(4, 1, 0, 0, 13);
  cr_assert_eq(sw_asm_open(&as), 4);
  add(5, 1, 0, 0, 14);
  cr_assert_eq(sw_asm_open(&as), 4);
  cr_assert_eq(sw_asm_queued(&as), 1);
  cr_assert_eq(st.segments_partial, 1);
  add(6, 1, 0, 0, 15);
  cr_assert_eq(sw_asm_open(&as), 4);
  cr_assert_eq(st.segments_dropped, 1);
  expect_segment(1, 1, 1);
  /* The survivors still complete normally. */
  add(5, 0, -1, 2, 16);
  expect_segment(5, 2, 0);
}

Test(assemble, queue_full_drops_oldest)
{
  struct sw_asm_limits lim;

  sw_asm_destroy(&as);
  sw_asm_limits_default(&lim);
  lim.max_queued = 3;
  setup_with(&lim);
  for (int i = 0; i < 5; i++)
    add(i, 0, -1, 1, 10 + i);
  cr_assert_eq(sw_asm_queued(&as), 3);
  cr_assert_eq(st.segments_dropped, 2);
  expect_segment(2, 1, 0);
  expect_segment(3, 1, 0);
  expect_segment(4, 1, 0);
  cr_assert_eq(as.qbytes, 0);
}

Test(assemble, queue_byte_budget)
{
  struct sw_asm_limits lim;
  size_t one;

  sw_asm_destroy(&as);
  sw_asm_limits_default(&lim);
  one = sizeof(struct sw_seg) + sizeof(struct sw_span_rec);
  lim.max_queued_bytes = 2 * one + one / 2;
  setup_with(&lim);
  for (int i = 0; i < 4; i++)
    add(i, 0, -1, 1, 10 + i);
  cr_assert_eq(sw_asm_queued(&as), 2);
  cr_assert_leq(as.qbytes, lim.max_queued_bytes);
  cr_assert_eq(st.segments_dropped, 2);
  expect_segment(2, 1, 0);
  expect_segment(3, 1, 0);
}

Test(assemble, spans_per_segment_bounded_root_kept)
{
  struct sw_asm_limits lim;
  struct sw_seg *s;

  sw_asm_destroy(&as);
  sw_asm_limits_default(&lim);
  lim.max_spans = 3;
  setup_with(&lim);
  for (int k = 5; k >= 1; k--)
    add(1, k, 0, 0, 10);
  cr_assert_eq(sw_asm_queued(&as), 0);
  add(1, 0, -1, 6, 11);
  cr_assert_eq(sw_asm_queued(&as), 1, "complete: all 6 records arrived");
  s = sw_asm_pop(&as);
  cr_assert_eq(s->n, 3);
  cr_assert(s->size_limited);
  cr_assert_not(s->partial);
  cr_assert_eq(s->spans[0].span_id, 0, "the root is always kept");
  cr_assert_eq(s->spans[0].parent_span_id, -1);
  sw_seg_free(s);
}

Test(assemble, many_segments_no_leak_of_state)
{
  for (int i = 0; i < 20000; i++) {
    add(i, 1, 0, 0, i);
    add(i, 0, -1, 2, i);
    if (i % 3 == 0) {
      struct sw_seg *s;
      while ((s = sw_asm_pop(&as)) != NULL)
        sw_seg_free(s);
    }
  }
  cr_assert_eq(sw_asm_open(&as), 0);
  cr_assert_leq(sw_asm_queued(&as), 3);
  cr_assert_eq(st.segments_dropped, 0);
}

Test(assemble, invalid_limits)
{
  struct sw_asm_limits lim;
  struct sw_asm other;

  sw_asm_limits_default(&lim);
  lim.max_open = 0;
  cr_assert_lt(sw_asm_init(&other, &lim, NULL), 0);
}

/* With no stats block nothing is counted, and nothing crashes. */
Test(assemble, null_stats)
{
  struct sw_asm_limits lim;
  struct sw_asm other;
  struct sw_span_rec r = rec(1, 1, 0, 0);

  sw_asm_limits_default(&lim);
  cr_assert_eq(sw_asm_init(&other, &lim, NULL), 0);
  sw_asm_add(&other, &r, 0);
  sw_asm_close_all(&other);
  cr_assert_eq(sw_asm_queued(&other), 0);
  sw_asm_destroy(&other);
}
