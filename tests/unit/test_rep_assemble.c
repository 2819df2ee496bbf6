/* test_rep_assemble.c: segment assembly (reporter/assemble.c).
 *
 * Segments must come out whole whatever order their records arrive in,
 * with spans sorted by id; a root without all its children comes out
 * after the grace period, marked partial; children without a root are
 * dropped; every bound holds. Time is passed in explicitly, so nothing
 * here depends on the clock. */
#include "sw_common.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

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

/* Records with the same span id keep their arrival order (the sort is
 * stable, as glibc's merge sort was). */
Test(assemble, equal_span_ids_keep_arrival_order)
{
  struct sw_span_rec r;
  struct sw_seg *s;

  for (int k = 0; k < 3; k++) {
    r = rec(1, 2, 0, 0);
    r.start_ms = 100 + k;
    sw_asm_add(&as, &r, 10);
  }
  add(1, 1, 0, 0, 10);
  add(1, 0, -1, 5, 11);
  s = sw_asm_pop(&as);
  cr_assert_not_null(s);
  cr_assert_eq(s->n, 5);
  cr_assert_eq(s->spans[0].span_id, 0);
  cr_assert_eq(s->spans[1].span_id, 1);
  for (int k = 0; k < 3; k++) {
    cr_assert_eq(s->spans[2 + k].span_id, 2);
    cr_assert_eq(s->spans[2 + k].start_ms, 100 + k);
  }
  sw_seg_free(s);
}

/* Spans beyond the insertion-sort size go through qsort(): still sorted. */
Test(assemble, many_spans_sorted)
{
  for (int k = 39; k >= 1; k--)
    add(1, k, 0, 0, 10);
  add(1, 0, -1, 40, 11);
  expect_segment(1, 40, 0);
}

/* Segments given back for reuse come out as new ones, whole. */
Test(assemble, recycled_segments_reused)
{
  struct sw_seg *s, *first;

  add(1, 0, -1, 1, 10);
  first = sw_asm_pop(&as);
  cr_assert_not_null(first);
  cr_assert(first->inline_spans);
  sw_asm_recycle(&as, first);
  cr_assert_eq(as.nfree, 1);
  add(2, 0, -1, 1, 11);
  cr_assert_eq(as.nfree, 0);
  s = sw_asm_pop(&as);
  cr_assert_eq(s, first, "the free list is used");
  cr_assert_str_eq(s->spans[0].segment_id, "seg2");
  cr_assert_eq(s->n, 1);
  cr_assert_eq(s->seen, 1);
  cr_assert_not(s->partial);
  sw_asm_recycle(&as, s);
  /* A general-path segment is freed, not kept. */
  add(3, 1, 0, 0, 12);
  add(3, 0, -1, 2, 12);
  s = sw_asm_pop(&as);
  cr_assert_not(s->inline_spans);
  sw_asm_recycle(&as, s);
  cr_assert_eq(as.nfree, 1);
}

/* ------------------------------------------------ fast path vs general */

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng_state >> 33) % n;
}

/* What two segments share whatever holds their spans: counts, flags
 * and timers. */
static void
same_segment_head(const struct sw_seg *x, const struct sw_seg *y, int step)
{
  cr_assert_eq(x->n, y->n, "step %d", step);
  cr_assert_eq(x->seen, y->seen, "step %d", step);
  cr_assert_eq(x->nspans, y->nspans, "step %d", step);
  cr_assert_eq(x->partial, y->partial, "step %d", step);
  cr_assert_eq(x->size_limited, y->size_limited, "step %d", step);
  cr_assert_eq(x->first_ms, y->first_ms, "step %d", step);
  cr_assert_eq(x->deadline_ms, y->deadline_ms, "step %d", step);
}

/* Compares two finished segments field by field (the hash is the table's
 * business, and a record's ref only counts with has_ref). */
static void
same_segment(const struct sw_seg *x, const struct sw_seg *y, int step)
{
  same_segment_head(x, y, step);
  cr_assert_eq(x->cap, y->cap, "step %d", step);
  cr_assert_eq(x->has_root, y->has_root, "step %d", step);
  cr_assert_eq(sw_seg_bytes(x), sw_seg_bytes(y), "step %d", step);
  for (uint32_t i = 0; i < x->n; i++) {
    const struct sw_span_rec *p = &x->spans[i], *q = &y->spans[i];

    cr_assert(sw_span_same(p, q), "step %d span %u", step, i);
  }
}

/* The state of two assemblers fed the same stream, but for the bytes
 * their queues hold (which differ when one encodes segments). */
static void
same_counts(const struct sw_asm *x, const struct sw_stats *sx,
            const struct sw_asm *y, const struct sw_stats *sy, int step)
{
  cr_assert_eq(x->nopen, y->nopen, "step %d", step);
  cr_assert_eq(x->nqueued, y->nqueued, "step %d", step);
  cr_assert_eq(x->next_deadline, y->next_deadline, "step %d", step);
  cr_assert_eq(x->dropped_full, y->dropped_full, "step %d", step);
  cr_assert_eq(x->dropped_noroot, y->dropped_noroot, "step %d", step);
  cr_assert_eq(x->dropped_nomem, y->dropped_nomem, "step %d", step);
  cr_assert_eq(sx->segments_dropped, sy->segments_dropped, "step %d", step);
  cr_assert_eq(sx->segments_partial, sy->segments_partial, "step %d", step);
}

static void
same_state(const struct sw_asm *x, const struct sw_stats *sx,
           const struct sw_asm *y, const struct sw_stats *sy, int step)
{
  same_counts(x, sx, y, sy, step);
  cr_assert_eq(x->qbytes, y->qbytes, "step %d", step);
}

/* A record of the random stream at now: few segment ids, so ids come
 * back; roots announcing one span (the one-span shortcut's case) often,
 * also while records of the same id are open; statuses below
 * status_max. */
static struct sw_span_rec
stream_record(int64_t now, uint32_t status_max)
{
  struct sw_span_rec r = rec((int)rnd(12), 0, -1, 1);
  uint32_t kind = rnd(10);

  if (kind < 5) {
    r.nspans = (int32_t)rnd(2); /* 0 or 1: a whole segment */
  } else if (kind < 7) {
    r.nspans = 2 + (int32_t)rnd(3);
  } else {
    r.span_id = 1 + (int32_t)rnd(4);
    r.parent_span_id = 0;
    r.nspans = 0;
  }
  r.status = (int32_t)rnd(status_max);
  r.start_ms = now;
  snprintf(r.op, sizeof(r.op), "/op/%u", rnd(1000));
  r.has_ref = (uint8_t)(rnd(2));
  if (r.has_ref)
    snprintf(r.ref.trace_id, sizeof(r.ref.trace_id), "ref%u", rnd(1000));
  else
    memset(&r.ref, 0x5a, sizeof(r.ref)); /* must not matter */
  return r;
}

/* Limits drawn from the stream that seed starts: small, so that
 * eviction, queue drops and the span bound all happen. */
static void
random_limits(struct sw_asm_limits *lim, uint64_t seed)
{
  rng_state = seed;
  sw_asm_limits_default(lim);
  lim->max_open = 1 + rnd(5);
  lim->max_queued = 1 + rnd(8);
  lim->max_spans = 1 + rnd(4);
  lim->grace_ms = 5 + (int)rnd(20);
  lim->orphan_ms = lim->grace_ms + 10 + (int)rnd(50);
}

/* Two assemblers fed the same random stream (twin_run()), and what a
 * test holds them to. x takes each record as it is, y through add_y;
 * same_popped compares a segment popped from x with the one popped from
 * y at the same time (counting in n_enc and n_rec those it compared as
 * encoded bytes and as records), same_after the two after every step. */
struct twin {
  struct sw_asm x, y;
  struct sw_stats xs, ys;
  uint32_t status_max; /* the records' statuses are below it */
  void (*add_y)(struct sw_asm *y, const struct sw_span_rec *r, int64_t now);
  void (*same_popped)(struct twin *t, const struct sw_seg *x,
                      const struct sw_seg *y, int step);
  void (*same_after)(const struct twin *t, int step);
  unsigned n_enc, n_rec;
};

static void
twin_init(struct twin *t, const struct sw_asm_limits *xlim,
          const struct sw_asm_limits *ylim)
{
  memset(&t->xs, 0, sizeof(t->xs));
  memset(&t->ys, 0, sizeof(t->ys));
  cr_assert_eq(sw_asm_init(&t->x, xlim, &t->xs), 0);
  cr_assert_eq(sw_asm_init(&t->y, ylim, &t->ys), 0);
}

/* 3000 steps of records (80%), timer runs (8%), pops of up to three
 * segments from both (11%) and closes (1%), drawn from rng_state as it
 * stands; then both assemblers are freed. */
static void
twin_run(struct twin *t)
{
  int64_t now = 1000;

  for (int step = 0; step < 3000; step++) {
    uint32_t op = rnd(100);

    if (op < 80) {
      struct sw_span_rec r = stream_record(now, t->status_max);

      sw_asm_add(&t->x, &r, now);
      t->add_y(&t->y, &r, now);
    } else if (op < 88) {
      now += rnd(15);
      sw_asm_expire(&t->x, now);
      sw_asm_expire(&t->y, now);
    } else if (op < 99) {
      for (uint32_t k = rnd(4); k > 0; k--) {
        struct sw_seg *x = sw_asm_pop(&t->x), *y = sw_asm_pop(&t->y);

        cr_assert_eq(x == NULL, y == NULL, "step %d", step);
        if (!x)
          break;
        t->same_popped(t, x, y, step);
        sw_asm_recycle(&t->x, x);
        sw_asm_recycle(&t->y, y);
      }
    } else {
      sw_asm_close_all(&t->x);
      sw_asm_close_all(&t->y);
    }
    t->same_after(t, step);
  }
  sw_asm_destroy(&t->x);
  sw_asm_destroy(&t->y);
}

static void
same_popped_records(struct twin *t, const struct sw_seg *x,
                    const struct sw_seg *y, int step)
{
  (void)t;
  same_segment(x, y, step);
}

static void
same_after_state(const struct twin *t, int step)
{
  same_state(&t->x, &t->xs, &t->y, &t->ys, step);
}

/* The same random stream of records, timer runs, pops and closes through
 * an assembler with the one-span shortcut and one without: the state and
 * every segment that comes out must be the same. Now and then a byte
 * budget too, so that it drops segments as well. */
Test(assemble, fast_path_matches_general_path)
{
  for (int round = 0; round < 60; round++) {
    struct sw_asm_limits lim, glim;
    struct twin t = {.status_max = 600,
                     .add_y = sw_asm_add,
                     .same_popped = same_popped_records,
                     .same_after = same_after_state};

    random_limits(&lim, 0x5eed0000u + (uint64_t)round);
    if (rnd(3) == 0)
      lim.max_queued_bytes = (1 + rnd(6)) * (sizeof(struct sw_seg) +
                                             sizeof(struct sw_span_rec));
    glim = lim;
    glim.general_only = 1;
    twin_init(&t, &lim, &glim);
    twin_run(&t);
  }
}

/* ------------------------------------------ segments encoded on arrival */

/* A test encoder: the segment id, '|', the operation, then as many '.'
 * as the record's status says (so that a segment's size is chosen by the
 * test); -ENOMEM when the status is 7 mod 50. An odd status is written in
 * place when it fits (as the protobuf encoders do), an even one always
 * to out (as the JSON ones do). Encoders read the record where it
 * arrived, through a view, and so does this one. */
static long
test_enc(void *ctx, const struct sw_span_view *v, uint8_t *dst, size_t room,
         struct sw_buf *out)
{
  size_t pad = (size_t)(v->status < 0 ? 0 : v->status), start = out->len;
  int rc;

  if (ctx)
    (*(int *)ctx)++;
  if (v->status % 50 == 7)
    return -ENOMEM;
  if ((rc = sw_buf_append(out, v->segment_id.s, v->segment_id.len)) ||
      (rc = sw_buf_append(out, "|", 1)) ||
      (rc = sw_buf_append(out, v->op.s, v->op.len)) ||
      (rc = sw_buf_room(out, pad)))
    return rc;
  memset(out->data + out->len, '.', pad);
  out->len += pad;
  if (v->status % 2 && dst && out->len - start <= room) {
    memcpy(dst, out->data + start, out->len - start);
    rc = (int)(out->len - start);
    out->len = start;
    return rc;
  }
  return 0;
}

/* What test_enc() makes of r, as a string. */
static const char *
enc_of(const struct sw_span_rec *r)
{
  static struct sw_buf b;
  struct sw_span_view v;

  b.len = 0;
  sw_span_view_rec(&v, r);
  cr_assert_eq(test_enc(NULL, &v, NULL, 0, &b), 0);
  cr_assert_eq(sw_buf_append(&b, "", 1), 0);
  return (const char *)b.data;
}

static int
seg_is(const struct sw_seg *s, const char *bytes)
{
  return s->enc && s->enc_len == strlen(bytes) &&
         memcmp(s->enc, bytes, s->enc_len) == 0;
}

/* One-span segments come out as the encoder's bytes, in a recycled block
 * of SW_ASM_ENC_BLOCK bytes when they fit. */
Test(assemble, encoded_inline_and_recycled)
{
  struct sw_span_rec r = rec(1, 0, -1, 1);
  struct sw_seg *s, *first;
  int calls = 0;

  sw_asm_set_encoder(&as, test_enc, &calls);
  strcpy(r.op, "/a");
  r.status = 200;
  sw_asm_add(&as, &r, 10);
  cr_assert_eq(calls, 1);
  cr_assert_eq(sw_asm_queued(&as), 1);
  cr_assert_eq(as.qbytes, SW_ASM_ENC_BLOCK);
  first = s = sw_asm_pop(&as);
  cr_assert_eq(as.qbytes, 0);
  cr_assert(seg_is(s, enc_of(&r)));
  cr_assert_eq((const void *)s->enc, (const void *)(s + 1));
  cr_assert_null(s->spans);
  cr_assert_not(s->inline_spans);
  cr_assert_eq(s->n, 1);
  cr_assert_eq(s->cap, 0);
  cr_assert_eq(s->enc_cap, SW_ASM_ENC_INLINE);
  cr_assert_eq(sw_seg_bytes(s), SW_ASM_ENC_BLOCK);
  cr_assert(s->has_root && s->seen == 1 && s->nspans == 1 && !s->partial);
  cr_assert_eq(s->first_ms, 10);
  cr_assert_eq(s->deadline_ms, 10 + as.lim.grace_ms);
  sw_asm_recycle(&as, s);
  cr_assert_eq(as.nfree_enc, 1);
  cr_assert_eq(as.nfree, 0);
  /* The largest that fits reuses the block. */
  r = rec(2, 0, -1, 1);
  r.status = (int32_t)(SW_ASM_ENC_INLINE - strlen("seg2|"));
  cr_assert_neq(r.status % 50, 7);
  sw_asm_add(&as, &r, 11);
  cr_assert_eq(as.nfree_enc, 0);
  s = sw_asm_pop(&as);
  cr_assert_eq(s, first, "the free list is used");
  cr_assert_eq(s->enc_len, SW_ASM_ENC_INLINE);
  cr_assert(seg_is(s, enc_of(&r)));
  cr_assert_eq(s->first_ms, 11);
  sw_asm_recycle(&as, s);
  cr_assert_eq(st.segments_dropped, 0);
}

/* Bytes that do not fit get a block of their own size, which is freed
 * after use, not kept. */
Test(assemble, encoded_heap_exact_size)
{
  struct sw_span_rec r = rec(1, 0, -1, 1);
  struct sw_seg *s;

  sw_asm_set_encoder(&as, test_enc, NULL);
  /* One byte more than fits ("seg1|" and the padding). */
  r.status = (int32_t)(SW_ASM_ENC_INLINE + 1 - strlen("seg1|"));
  if (r.status % 50 == 7)
    r.status++;
  sw_asm_add(&as, &r, 10);
  cr_assert_eq(as.qbytes,
               sizeof(struct sw_seg) + strlen("seg1|") + (size_t)r.status);
  s = sw_asm_pop(&as);
  cr_assert(seg_is(s, enc_of(&r)));
  cr_assert_eq(s->enc_cap, s->enc_len);
  cr_assert_gt(s->enc_len, SW_ASM_ENC_INLINE);
  cr_assert_eq(sw_seg_bytes(s), sizeof(struct sw_seg) + s->enc_len);
  sw_asm_recycle(&as, s);
  cr_assert_eq(as.nfree_enc, 0, "an odd size is not kept");
  cr_assert_eq(as.nfree, 0);
}

/* A one-span record that test_enc() fails on (its status is 7 mod 50). */
static struct sw_span_rec
failing_rec(void)
{
  struct sw_span_rec r = rec(1, 0, -1, 1);

  r.status = 57;
  strcpy(r.op, "/kept");
  return r;
}

/* An encoder that fails leaves the segment with its record, as without
 * an encoder; that block is recycled with the record ones. */
Test(assemble, encoder_failure_keeps_record)
{
  struct sw_span_rec r = failing_rec();
  struct sw_seg *s;

  sw_asm_set_encoder(&as, test_enc, NULL);
  sw_asm_add(&as, &r, 10);
  cr_assert_eq(as.qbytes,
               sizeof(struct sw_seg) + sizeof(struct sw_span_rec));
  s = sw_asm_pop(&as);
  cr_assert_null(s->enc);
  cr_assert(s->inline_spans);
  cr_assert_eq(s->n, 1);
  cr_assert_eq(s->cap, 1);
  cr_assert(sw_span_same(&s->spans[0], &r));
  cr_assert_eq(as.dropped_nomem, 0);
  cr_assert_eq(st.segments_dropped, 0);
  sw_asm_recycle(&as, s);
  cr_assert_eq(as.nfree, 1);
  cr_assert_eq(as.nfree_enc, 0);
}

/* The block for bytes that do not fit cannot be had: the segment keeps
 * its record (from the free list here, so that nothing else needs
 * memory). The address space is limited for this test's process only
 * (Criterion runs each test in its own). */
Test(assemble, encoded_block_nomem_keeps_record)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  cr_skip_test("the address space limit breaks the sanitizers");
#else
  struct sw_span_rec r = rec(1, 0, -1, 1);
  struct rlimit old, lim;
  struct sw_seg *s;
  long pages = 0;
  FILE *f;

  /* A record segment on the free list. */
  sw_asm_set_encoder(&as, test_enc, NULL);
  r.status = 7;
  sw_asm_add(&as, &r, 10);
  sw_asm_recycle(&as, sw_asm_pop(&as));
  cr_assert_eq(as.nfree, 1);

  /* 64 MB of encoded bytes: the scratch buffer gets them, then the
   * address space is capped so that a second 64 MB cannot be mapped. */
  r = rec(2, 0, -1, 1);
  r.status = 64 << 20;
  cr_assert_eq(sw_buf_reserve(&as.scratch, (size_t)r.status + 4096), 0);
  f = fopen("/proc/self/statm", "r");
  cr_assert_not_null(f);
  cr_assert_eq(fscanf(f, "%ld", &pages), 1);
  fclose(f);
  cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
  lim = old;
  lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (16 << 20);
  cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
  sw_asm_add(&as, &r, 11);
  cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
  cr_assert_eq(as.nfree, 0);
  s = sw_asm_pop(&as);
  cr_assert_not_null(s);
  cr_assert_null(s->enc);
  cr_assert(s->inline_spans);
  cr_assert(sw_span_same(&s->spans[0], &r));
  cr_assert_eq(as.dropped_nomem, 0);
  sw_asm_recycle(&as, s);
#endif
}

/* The queue's byte budget counts encoded segments at their size, so it
 * holds more of them; when it is full the oldest go, as before. */
Test(assemble, encoded_queue_bytes_drop_oldest)
{
  struct sw_asm_limits lim;

  teardown();
  sw_asm_limits_default(&lim);
  lim.max_queued_bytes = 3 * SW_ASM_ENC_BLOCK;
  setup_with(&lim);
  sw_asm_set_encoder(&as, test_enc, NULL);
  for (int k = 1; k <= 5; k++)
    add(k, 0, -1, 1, 10);
  cr_assert_eq(sw_asm_queued(&as), 3);
  cr_assert_eq(as.qbytes, 3 * SW_ASM_ENC_BLOCK);
  cr_assert_eq(as.dropped_full, 2);
  cr_assert_eq(st.segments_dropped, 2);
  for (int k = 3; k <= 5; k++) {
    struct sw_span_rec r = rec(k, 0, -1, 1);
    struct sw_seg *s = sw_asm_pop(&as);

    cr_assert(seg_is(s, enc_of(&r)), "seg%d", k);
    sw_asm_recycle(&as, s);
  }
  cr_assert_eq(as.qbytes, 0);
  /* The dropped ones were recycled too: the fifth took the block of the
   * first, so four blocks in all. */
  cr_assert_eq(as.nfree_enc, 4);
  /* Without the encoder the same budget holds no record segment but the
   * newest (a segment always gets in). */
  sw_asm_set_encoder(&as, NULL, NULL);
  for (int k = 6; k <= 7; k++)
    add(k, 0, -1, 1, 10);
  cr_assert_eq(sw_asm_queued(&as), 1);
  cr_assert_eq(as.dropped_full, 3);
}

/* general_only (tests) keeps every record through the table, and an
 * encoder does not change that. */
Test(assemble, general_only_ignores_encoder)
{
  struct sw_asm_limits lim;
  struct sw_seg *s;
  int calls = 0;

  teardown();
  sw_asm_limits_default(&lim);
  lim.general_only = 1;
  setup_with(&lim);
  sw_asm_set_encoder(&as, test_enc, &calls);
  add(1, 0, -1, 1, 10);
  cr_assert_eq(calls, 0);
  s = sw_asm_pop(&as);
  cr_assert_null(s->enc);
  cr_assert_str_eq(s->spans[0].segment_id, "seg1");
  sw_seg_free(s);
}

/* A queue holding encoded segments is freed whole (the sanitizer
 * builds check for leaks), open segments and both free lists too. */
Test(assemble, destroy_with_encoded_segments)
{
  sw_asm_set_encoder(&as, test_enc, NULL);
  add(1, 0, -1, 1, 10);
  add(2, 1, 0, 0, 10);
  add(3, 0, -1, 1, 10);
  sw_asm_recycle(&as, sw_asm_pop(&as));
  cr_assert_eq(as.nfree_enc, 1);
  cr_assert_eq(sw_asm_queued(&as), 1);
  cr_assert_eq(sw_asm_open(&as), 1);
}

/* An encoded segment from x holds what the encoder makes of y's one
 * record; any other holds the same records. */
static void
same_popped_encoded(struct twin *t, const struct sw_seg *x,
                    const struct sw_seg *y, int step)
{
  same_segment_head(x, y, step);
  if (x->enc) {
    t->n_enc++;
    cr_assert_eq(y->n, 1);
    cr_assert(seg_is(x, enc_of(&y->spans[0])), "step %d", step);
  } else {
    for (uint32_t i = 0; i < x->n; i++)
      cr_assert(sw_span_same(&x->spans[i], &y->spans[i]), "step %d span %u",
                step, i);
  }
}

/* The same counts but for the bytes queued, which differ; x's are the
 * sum over its queue. */
static void
same_after_encoded(const struct twin *t, int step)
{
  size_t qb = 0;

  same_counts(&t->x, &t->xs, &t->y, &t->ys, step);
  for (const struct sw_seg *s = t->x.q_head; s; s = s->next)
    qb += sw_seg_bytes(s);
  cr_assert_eq(t->x.qbytes, qb, "step %d", step);
}

/* The same random stream through an assembler that encodes one-span
 * segments (failing now and then, and sometimes too long for a block)
 * and one that keeps records: the same segments come out in the same
 * order, with the same fields and timers, and the same drops (the byte
 * budget is left large, as the two count different sizes); an encoded
 * one holds exactly what the encoder makes of the other's record, and
 * the byte count is the sum over the queue. */
Test(assemble, encoded_matches_record_path)
{
  for (int round = 0; round < 40; round++) {
    struct sw_asm_limits lim;
    struct twin t = {.status_max = 700,
                     .add_y = sw_asm_add,
                     .same_popped = same_popped_encoded,
                     .same_after = same_after_encoded};

    random_limits(&lim, 0xe1c0000u + (uint64_t)round);
    twin_init(&t, &lim, &lim);
    sw_asm_set_encoder(&t.x, test_enc, NULL);
    twin_run(&t);
    cr_assert_gt(t.n_enc, 0);
  }
}

/* ------------------------------------------ records packed as they arrive */

/* r packed as the ring holds it, in an allocation of its own just as
 * long as the ring's (the record and its slack: the sanitizers see a
 * read beyond it), with garbage in the slack, as in reused lines. */
static const struct sw_span_packed *
packed(const struct sw_span_rec *r)
{
  static struct sw_span_packed *p, whole;
  size_t used = sw_span_pack(&whole, r), n = used + SW_SPAN_PACKED_SLACK;

  free(p);
  p = malloc(n);
  cr_assert_not_null(p);
  memset(p, 0xa5 ^ (int)rnd(256), n);
  memcpy(p, &whole, used);
  return p;
}

static void
add_packed(struct sw_asm *a, const struct sw_span_rec *r, int64_t now)
{
  sw_asm_add_packed(a, packed(r), now);
}

/* Encoded alike (in place, or copied into a block or one of its own
 * size), or holding the same records. */
static void
same_popped_packed(struct twin *t, const struct sw_seg *x,
                   const struct sw_seg *y, int step)
{
  same_segment_head(x, y, step);
  cr_assert_eq(x->enc == NULL, y->enc == NULL, "step %d", step);
  cr_assert_eq(sw_seg_bytes(x), sw_seg_bytes(y), "step %d", step);
  if (x->enc) {
    t->n_enc++;
    cr_assert_eq(x->enc_len, y->enc_len, "step %d", step);
    cr_assert_eq(x->enc_cap, y->enc_cap, "step %d", step);
    cr_assert(memcmp(x->enc, y->enc, x->enc_len) == 0, "step %d", step);
  } else {
    t->n_rec++;
    same_segment(x, y, step);
  }
}

/* The same state, and the same free lists. */
static void
same_after_packed(const struct twin *t, int step)
{
  same_state(&t->x, &t->xs, &t->y, &t->ys, step);
  cr_assert_eq(t->x.nfree, t->y.nfree, "step %d", step);
  cr_assert_eq(t->x.nfree_enc, t->y.nfree_enc, "step %d", step);
}

/* The same random stream through an assembler fed the records
 * (sw_asm_add()) and one fed them packed (sw_asm_add_packed(), what the
 * reporter does): the same state, the same segments in the same order,
 * each encoded alike (in place, or copied into a block or one of its own
 * size) or holding the same records; with an encoder (failing now and
 * then) and without, with the one-span shortcut and without. */
Test(assemble, packed_matches_records)
{
  for (int round = 0; round < 60; round++) {
    struct sw_asm_limits lim;
    struct twin t = {.status_max = 700,
                     .add_y = add_packed,
                     .same_popped = same_popped_packed,
                     .same_after = same_after_packed};

    random_limits(&lim, 0xbac0000u + (uint64_t)round);
    lim.general_only = round % 5 == 4;
    twin_init(&t, &lim, &lim);
    if (round % 3 != 2) {
      sw_asm_set_encoder(&t.x, test_enc, NULL);
      sw_asm_set_encoder(&t.y, test_enc, NULL);
    }
    twin_run(&t);
    cr_assert_gt(t.n_rec, 0);
    if (round % 3 != 2 && !lim.general_only)
      cr_assert_gt(t.n_enc, 0);
  }
}

/* A packed one-span record whose encoder fails keeps its record,
 * unpacked: the record it was packed from, as a reader sees it. */
Test(assemble, packed_encoder_failure_keeps_record)
{
  struct sw_span_rec r = failing_rec();
  struct sw_seg *s;

  sw_asm_set_encoder(&as, test_enc, NULL);
  r.has_ref = 1;
  strcpy(r.ref.trace_id, "t");
  strcpy(r.ref.peer, "p:1");
  sw_asm_add_packed(&as, packed(&r), 10);
  s = sw_asm_pop(&as);
  cr_assert_null(s->enc);
  cr_assert(s->inline_spans);
  cr_assert(sw_span_same(&s->spans[0], &r));
  cr_assert_eq(s->first_ms, 10);
  sw_asm_recycle(&as, s);
  cr_assert_eq(as.dropped_nomem, 0);
}

/* In place when a recycled block is free and the bytes fit: the block is
 * taken off the free list and holds them; when they do not fit, the
 * encoder's bytes go to a block of their own size and the free block
 * stays where it was. */
Test(assemble, packed_encoded_in_place)
{
  struct sw_span_rec r = rec(1, 0, -1, 1);
  struct sw_seg *s, *first;

  sw_asm_set_encoder(&as, test_enc, NULL);
  strcpy(r.op, "/a");
  r.status = 201; /* odd: in place when it fits */
  /* No free block yet: through the scratch buffer. */
  sw_asm_add_packed(&as, packed(&r), 10);
  first = s = sw_asm_pop(&as);
  cr_assert(seg_is(s, enc_of(&r)));
  cr_assert_eq(s->enc_cap, SW_ASM_ENC_INLINE);
  sw_asm_recycle(&as, s);
  cr_assert_eq(as.nfree_enc, 1);
  /* Now in place, into that block. */
  r = rec(2, 0, -1, 1);
  r.status = 301;
  sw_asm_add_packed(&as, packed(&r), 11);
  cr_assert_eq(as.nfree_enc, 0);
  s = sw_asm_pop(&as);
  cr_assert_eq(s, first);
  cr_assert(seg_is(s, enc_of(&r)));
  cr_assert_eq(s->enc_cap, SW_ASM_ENC_INLINE);
  cr_assert_eq(s->first_ms, 11);
  cr_assert(s->has_root && s->seen == 1 && s->nspans == 1 && s->n == 1);
  sw_asm_recycle(&as, s);
  /* Too long for the block: a block of its own, the free one kept. */
  r = rec(3, 0, -1, 1);
  r.status = (int32_t)(SW_ASM_ENC_INLINE + 1) | 1;
  sw_asm_add_packed(&as, packed(&r), 12);
  cr_assert_eq(as.nfree_enc, 1);
  s = sw_asm_pop(&as);
  cr_assert(seg_is(s, enc_of(&r)));
  cr_assert_eq(s->enc_cap, s->enc_len);
  sw_asm_recycle(&as, s);
  cr_assert_eq(as.nfree_enc, 1);
  cr_assert_eq(st.segments_dropped, 0);
}

/* A packed root announcing one span whose id is open (its children came
 * first) joins that segment, as a record does. */
Test(assemble, packed_root_joins_open_segment)
{
  struct sw_span_rec r = rec(1, 1, 0, 0);
  struct sw_seg *s;

  sw_asm_set_encoder(&as, test_enc, NULL);
  sw_asm_add_packed(&as, packed(&r), 10);
  cr_assert_eq(sw_asm_open(&as), 1);
  r = rec(1, 0, -1, 1);
  sw_asm_add_packed(&as, packed(&r), 11);
  cr_assert_eq(sw_asm_open(&as), 0);
  s = sw_asm_pop(&as);
  cr_assert_null(s->enc);
  cr_assert_eq(s->n, 2);
  cr_assert_eq(s->spans[0].span_id, 0);
  cr_assert(sw_span_same(&s->spans[0], &r));
  sw_seg_free(s);
}
