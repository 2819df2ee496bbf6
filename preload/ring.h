/* ring.h: bounded multi-producer single-consumer ring of span records.
 *
 * Vyukov-style: every cell carries a sequence number, so producers never
 * wait on each other's commit and a producer interrupted by a signal
 * handler that also pushes cannot deadlock (the handler would see the
 * thread guard anyway). Preallocated with mmap at init; push never
 * allocates, locks or blocks: when the ring is full the record is dropped
 * and counted (spans_dropped_ring).
 *
 * A cell holds a record packed (struct sw_span_packed, sw_span.h): a
 * served request's span uses the first 4 of its cache lines, so a push
 * writes those and the consumer reads those, not the 7 that the
 * strings' fixed offsets in a struct sw_span_rec would touch.
 *
 * The consumer reads the packed records in place: sw_ring_peek() hands
 * out a run of committed cells, which stay untouched until
 * sw_ring_release() gives them back to the producers. sw_ring_pop()
 * (unpacked copies out) is the same thing in one call. */
#ifndef SW_PRELOAD_RING_H
#define SW_PRELOAD_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_span.h"

/* Cache-line aligned so that a producer filling one cell and the consumer
 * reading its neighbour never share a line. */
struct sw_ring_cell {
  /* Vyukov sequence minus the cell's index; see the top of ring.c. */
  _Alignas(64) _Atomic uint64_t seq;
  /* Right after seq: a packed record's head shares seq's line. */
  struct sw_span_packed rec;
};

/* Bytes from one record of a sw_ring_peek() run to the next. */
#define SW_RING_STRIDE sizeof(struct sw_ring_cell)

struct sw_ring {
  /* Producers' claim counter, alone on its cache line. */
  _Alignas(64) _Atomic uint64_t head;
  /* Consumer's position, alone on its cache line. Written by the consumer
   * only; producers may read it for the fill level (sw_ring_used()). */
  _Alignas(64) _Atomic uint64_t tail;
  _Alignas(64) uint32_t mask;
  struct sw_ring_cell *cells;
  size_t map_len;
};

/* cap is rounded up to a power of two (min 2). 0 or -ENOMEM. */
int sw_ring_init(struct sw_ring *r, uint32_t cap);
void sw_ring_destroy(struct sw_ring *r);
/* Drops every record (forked child). Not thread-safe. */
void sw_ring_reset(struct sw_ring *r);

/* Any thread. Packs *rec into a cell (sw_span_pack). 0, or -1 when full
 * (caller counts). rec->ref is packed only when rec->has_ref is set: a
 * consumer must not look at the ref of a record without one. */
int sw_ring_push(struct sw_ring *r, const struct sw_span_rec *rec);

/* Consumer only. Unpacks up to max records into out (sw_span_unpack:
 * out's ref is left alone for a record without one); returns how many. */
size_t sw_ring_pop(struct sw_ring *r, struct sw_span_rec *out, size_t max);

/* Consumer only. The committed records at the tail, packed, read in
 * place: up to max of them, the first at *first and each next one
 * SW_RING_STRIDE bytes further on. A run never wraps past the end of the
 * cells, so a second call may find more. The records stay valid and
 * unchanged until sw_ring_release(); peeking again before that returns
 * the same run. */
size_t sw_ring_peek(struct sw_ring *r, const struct sw_span_packed **first,
                    size_t max);
/* Consumer only. Gives the first n records of the last peek back to the
 * producers (n no more than that peek returned). */
void sw_ring_release(struct sw_ring *r, size_t n);

/* Positions claimed and not yet released: the fill level. Any thread;
 * an estimate while others push or release. head is read after tail and
 * with seq_cst, so that a consumer that announced it is about to sleep
 * (a seq_cst store) and then calls this sees every claim made by a
 * producer that did not see the announcement. */
static inline uint64_t
sw_ring_used(struct sw_ring *r)
{
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint64_t h = atomic_load_explicit(&r->head, memory_order_seq_cst);

  return (int64_t)(h - t) > 0 ? h - t : 0;
}

static inline uint32_t
sw_ring_cap(const struct sw_ring *r)
{
  return r->cells ? r->mask + 1 : 0;
}

#ifdef SW_UNITTESTS
/* sw_ring_push in two halves, so tests can hold a claimed cell open:
 * claim returns the packed record to fill (NULL when full) and its
 * position. */
struct sw_span_packed *sw_ring_claim(struct sw_ring *r, uint64_t *pos);
void sw_ring_commit(struct sw_ring *r, uint64_t pos);
#endif

#endif
